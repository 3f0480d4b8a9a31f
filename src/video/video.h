/* video.h — video in and out through FFmpeg's libraries (internal): files, image sequences,
 * folders of photos, V4L2 cameras and network streams in, as RGB24 frames; annotated video out
 * in the container the file name asks for. */
#ifndef GRIN_VIDEO_H
#define GRIN_VIDEO_H

#include "../core/internal.h"

#include <signal.h>

typedef struct grin_video_reader grin__video_in; /* the public grin_video_reader */

typedef struct {
    double fps;      /* frames per second for a folder of photos (default 25) */
    bool realtime;   /* a live source: don't ask FFmpeg to buffer for analysis */
    /* a network or device source that sends nothing for this long ends with an error (default 10) */
    double stall_seconds;
    /* set (by a signal handler) to abandon a blocked open or read at once; may be NULL */
    volatile sig_atomic_t *stop;
} grin__video_in_opts;

/* url: a file, an image-sequence pattern (frames/%05d.png), a folder of photos, /dev/videoN, or
 * anything FFmpeg opens (rtsp://, http://). */
grin_status grin__video_open(const char *url, const grin__video_in_opts *o, grin__video_in **out,
                             grin_error *err);
/* The next frame as RGB24 (img is reused: allocated on the first call, reallocated when the
 * size changes). Returns 1 with a frame, 0 at the end, -1 on an error (err says what; for a
 * corrupt packet mid-stream the reader skips it, counts it, and goes on). */
int grin__video_read(grin__video_in *v, grin_image *img, double *t_seconds, grin_error *err);
double grin__video_fps(const grin__video_in *v);
/* the clockwise turn (0, 90, 180, 270) the source's display matrix asks for; frames are delivered
 * turned already */
int grin__video_rotation(const grin__video_in *v);
bool grin__video_is_live(const grin__video_in *v);
bool grin__video_is_folder(const grin__video_in *v);
/* The duration the container declares, in seconds (0 when it declares none). */
double grin__video_declared_seconds(const grin__video_in *v);
int grin__video_skipped(const grin__video_in *v); /* corrupt packets / undecodable photos skipped */
/* errors FFmpeg's demuxer or decoder reported while the source was read (damage they detected and
 * went past: frames may be missing or glitched there); the first message into first */
int grin__video_errors(grin__video_in *v, char *first, size_t n);
void grin__video_close(grin__video_in *v);

typedef struct grin_video_writer grin__video_out; /* the public grin_video_writer */
/* The container from the file's extension (.mp4 .mkv .avi .webm .mov); H.264 where the
 * container takes it and libx264 is there, else MPEG-4 part 2 (VP8/VP9 for .webm). */
grin_status grin__video_out_open(const char *path, int width, int height, double fps, grin__video_out **out,
                                 grin_error *err);
/* the same, marking the video to be shown turned clockwise by rotation degrees (0, 90, 180, 270),
 * as a phone does for a clip filmed upright */
grin_status grin__video_out_open_rotated(const char *path, int width, int height, double fps, int rotation,
                                         grin__video_out **out, grin_error *err);
grin_status grin__video_out_write(grin__video_out *o, const grin_image *rgb, grin_error *err);
/* Flushes the encoder and writes the trailer: the file is playable after this. */
grin_status grin__video_out_close(grin__video_out *o, grin_error *err);

#endif
