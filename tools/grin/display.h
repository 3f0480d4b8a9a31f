/* display.h — grin run's live window (SDL2 when the build has it; otherwise opening fails with
 * a message saying so). */
#ifndef GRIN_CLI_DISPLAY_H
#define GRIN_CLI_DISPLAY_H

#include <stdbool.h>

#include "grin.h"

typedef struct live_window live_window;

/* a window system to draw on; NULL with the reason in why */
live_window *display_open(char *why, size_t whylen);
/* the window itself, made on the first call (the thread that runs the event loop calls it) */
bool display_window(live_window *d, char *why, size_t whylen);
/* waits a few ms, then handles pending events; true when the user asked to stop (closed the
 * window, q, Escape) */
bool display_poll_quit(live_window *d);
/* copies img (RGB) into the window when given, then presents it */
void display_show(live_window *d, const grin_image *img);
void display_close(live_window *d);

#endif
