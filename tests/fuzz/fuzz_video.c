/* fuzz_video.c — libFuzzer target for grin's video layer: the bytes as a file, opened and decoded
 * through grin__video_open / grin__video_read (FFmpeg's demuxers and decoders behind grin's
 * checks: frame-size limits, corrupt packets skipped, no protocol but local files). */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fdopen */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "video/video.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/grin-fuzz-video-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(path);
        return 0;
    }
    fwrite(data, 1, size, f);
    fclose(f);
    grin__video_in_opts o = {.fps = 25, .stall_seconds = 2};
    grin__video_in *v = NULL;
    grin_error err;
    if (grin__video_open(path, &o, &v, &err) == GRIN_OK) {
        grin_image img = {0};
        double t;
        for (int k = 0; k < 30 && grin__video_read(v, &img, &t, &err) == 1; k++)
            ;
        grin_image_free(&img);
        grin__video_close(v);
    }
    unlink(path);
    return 0;
}
