/* video_api.c — the public face of grin's video reader and writer (include/grin.h): the handles
 * are video.c's own structures, the calls check their arguments and pass through. */
#include "video.h"

#include <string.h>

void grin_video_reader_options_default(grin_video_reader_options *o)
{
    memset(o, 0, sizeof *o);
    o->folder_fps = 25;
    o->stall_seconds = 10;
}

grin_status grin_video_open(const char *source, const grin_video_reader_options *o, grin_video_reader **out,
                            grin_error *err)
{
    if (!out)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_video_open: no place for the reader");
    *out = NULL;
    grin_video_reader_options d;
    if (!o) {
        grin_video_reader_options_default(&d);
        o = &d;
    }
    if (!source || !*source)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_video_open: no source");
    if (!(o->folder_fps > 0 && o->folder_fps <= 1000) || !(o->stall_seconds > 0 && o->stall_seconds <= 86400))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT,
                          "grin_video_open: folder_fps must be in (0, 1000] and stall_seconds in (0, 86400]");
    grin__video_in_opts vo = {.fps = o->folder_fps, .realtime = o->live != 0, .stall_seconds = o->stall_seconds,
                              .stop = o->stop};
    return grin__video_open(source, &vo, out, err);
}

int grin_video_read(grin_video_reader *r, grin_image *frame, double *t, grin_error *err)
{
    if (!r || !frame) {
        grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_video_read: no reader or no frame");
        return -1;
    }
    double tt = 0;
    int got = grin__video_read(r, frame, &tt, err);
    if (t)
        *t = tt;
    return got;
}

void grin_video_get_info(grin_video_reader *r, grin_video_info *info, char *first_error, size_t n)
{
    if (!info)
        return;
    memset(info, 0, sizeof *info);
    if (first_error && n)
        first_error[0] = '\0';
    if (!r)
        return;
    info->fps = grin__video_fps(r);
    info->duration = grin__video_declared_seconds(r);
    info->live = grin__video_is_live(r);
    info->folder = grin__video_is_folder(r);
    info->rotation = grin__video_rotation(r);
    info->skipped = grin__video_skipped(r);
    char first[256];
    info->errors = grin__video_errors(r, first, sizeof first);
    if (first_error && n && info->errors > 0) {
        strncpy(first_error, first, n - 1);
        first_error[n - 1] = '\0';
    }
}

void grin_video_close(grin_video_reader *r) { grin__video_close(r); }

grin_status grin_video_writer_open(const char *path, int width, int height, double fps, int rotation,
                                   grin_video_writer **out, grin_error *err)
{
    if (!out)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_video_writer_open: no place for the writer");
    *out = NULL;
    if (!path || !*path)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_video_writer_open: no path");
    if (width < 2 || height < 2 || width > 16384 || height > 16384 || !(fps > 0 && fps <= 1000))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "%s: a %dx%d video at %g fps is not one grin writes", path,
                          width, height, fps);
    if (rotation != 0 && rotation != 90 && rotation != 180 && rotation != 270)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "%s: rotation %d is not 0, 90, 180 or 270", path,
                          rotation);
    return grin__video_out_open_rotated(path, width, height, fps, rotation, out, err);
}

grin_status grin_video_write(grin_video_writer *w, const grin_image *rgb, grin_error *err)
{
    if (!w || !rgb || !rgb->data)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "grin_video_write: no writer or no frame");
    return grin__video_out_write(w, rgb, err);
}

grin_status grin_video_writer_close(grin_video_writer *w, grin_error *err)
{
    if (!w)
        return GRIN_OK;
    return grin__video_out_close(w, err);
}
