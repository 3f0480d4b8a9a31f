/* display_none.c — grin run without a live window (a build without SDL2). */
#include "display.h"

#include <stdio.h>

live_window *display_open(char *why, size_t whylen)
{
    snprintf(why, whylen, "this grin was built without SDL2, so it has no live window (use --out FILE)");
    return NULL;
}

bool display_window(live_window *d, char *why, size_t whylen)
{
    (void)d;
    snprintf(why, whylen, "no live window in this build");
    return false;
}

bool display_poll_quit(live_window *d)
{
    (void)d;
    return true;
}

void display_show(live_window *d, const grin_image *img)
{
    (void)d, (void)img;
}

void display_close(live_window *d)
{
    (void)d;
}
