/* display_sdl.c — grin run's live window on SDL2. */
#include "display.h"

#include <SDL2/SDL.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct live_window {
    SDL_Window *win;
    SDL_Renderer *ren;
    SDL_Texture *tex;
};

live_window *display_open(char *why, size_t whylen)
{
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        snprintf(why, whylen, "cannot open a window: %s", SDL_GetError());
        return NULL;
    }
    const char *drv = SDL_GetCurrentVideoDriver();
    if (drv && (!strcmp(drv, "offscreen") || !strcmp(drv, "dummy"))) {
        /* SDL falls back to drawing nowhere when there is no display: say so, don't pretend */
        snprintf(why, whylen, "no display to show a window on (DISPLAY and WAYLAND_DISPLAY are not set)");
        SDL_Quit();
        return NULL;
    }
    live_window *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(why, whylen, "out of memory");
        SDL_Quit();
    }
    return d;
}

bool display_window(live_window *d, char *why, size_t whylen)
{
    if (d->win)
        return true;
    d->win = SDL_CreateWindow("grin", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, 640, 480,
                              SDL_WINDOW_RESIZABLE);
    d->ren = d->win ? SDL_CreateRenderer(d->win, -1, 0) : NULL;
    if (!d->win || !d->ren) {
        snprintf(why, whylen, "cannot open a window: %s", SDL_GetError());
        return false;
    }
    return true;
}

bool display_poll_quit(live_window *d)
{
    (void)d;
    SDL_Delay(5);
    bool quit = false;
    SDL_Event e;
    while (SDL_PollEvent(&e))
        if (e.type == SDL_QUIT ||
            (e.type == SDL_KEYDOWN && (e.key.keysym.sym == SDLK_q || e.key.keysym.sym == SDLK_ESCAPE)))
            quit = true;
    return quit;
}

void display_show(live_window *d, const grin_image *img)
{
    if (img && img->data) {
        if (!d->tex) {
            d->tex = SDL_CreateTexture(d->ren, SDL_PIXELFORMAT_RGB24, SDL_TEXTUREACCESS_STREAMING, img->width,
                                       img->height);
            SDL_SetWindowSize(d->win, img->width, img->height);
        }
        if (d->tex)
            SDL_UpdateTexture(d->tex, NULL, img->data, img->stride);
    }
    if (d->tex) {
        SDL_RenderClear(d->ren);
        SDL_RenderCopy(d->ren, d->tex, NULL, NULL);
        SDL_RenderPresent(d->ren);
    }
}

void display_close(live_window *d)
{
    if (!d)
        return;
    if (d->tex)
        SDL_DestroyTexture(d->tex);
    if (d->ren)
        SDL_DestroyRenderer(d->ren);
    if (d->win)
        SDL_DestroyWindow(d->win);
    SDL_Quit();
    free(d);
}
