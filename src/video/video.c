/* video.c — FFmpeg's demuxers, decoders and encoders behind grin__video_*: frames in as RGB24
 * (through swscale), annotated frames out as YUV in the container the name asks for. A folder of
 * photos is read with grin's own image decoders. Errors name the source and what failed. */
#include "video.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavutil/display.h>
#ifdef GRIN_HAVE_AVDEVICE
#include <libavdevice/avdevice.h>
#endif
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

static const char *averr(int e, char *buf, size_t n)
{
    if (av_strerror(e, buf, n) < 0)
        snprintf(buf, n, "error %d", e);
    return buf;
}

struct grin_video_reader {
    const char *url;
    /* FFmpeg */
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    struct SwsContext *sws;
    int stream, sws_w, sws_h, sws_fmt;
    bool draining, eof, live;
    double fps, tb;
    int64_t first_pts;
    /* blocking calls into FFmpeg give up when this time passes or *stop is set */
    double deadline, stall;
    int rotate;        /* clockwise degrees the frames are turned by (display matrix) */
    grin_image upright; /* the frame as decoded, before turning */
    volatile sig_atomic_t *stop;
    /* folder of photos */
    char **files;
    int nfiles, next;
    int skipped;
    int stdin_flags; /* standard input's file status flags before grin made it non-blocking, or -1 */
    /* errors FFmpeg's demuxer or decoder reported on this source while it was read (damage they
     * detected and resynchronised past: frames may be missing there); guarded by the registry's lock */
    int av_errors;
    char av_first[160];
};

/* ---- FFmpeg's own error messages, counted per source: FFmpeg reports what it detects (a broken
 * container element it skips, a frame it can't decode) only through av_log. A source being read is
 * registered with the contexts that log for it; messages of other contexts (a program embedding
 * grin that uses FFmpeg itself) go to FFmpeg's default logger, at the level grin set. */
enum { MAX_SOURCES = 64 };
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const void *ctx[3];
    grin__video_in *v;
} reg[MAX_SOURCES];
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void log_cb(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level <= AV_LOG_ERROR && avcl) {
        pthread_mutex_lock(&reg_lock);
        for (int i = 0; i < MAX_SOURCES; i++) {
            grin__video_in *v = reg[i].v;
            if (v && (reg[i].ctx[0] == avcl || reg[i].ctx[1] == avcl || reg[i].ctx[2] == avcl)) {
                if (v->av_errors++ == 0) {
                    va_list c;
                    va_copy(c, vl);
                    vsnprintf(v->av_first, sizeof v->av_first, fmt, c);
                    va_end(c);
                    size_t n = strlen(v->av_first);
                    while (n && (v->av_first[n - 1] == '\n' || v->av_first[n - 1] == '.' || v->av_first[n - 1] == ' '))
                        v->av_first[--n] = '\0';
                }
                pthread_mutex_unlock(&reg_lock);
                return;
            }
        }
        pthread_mutex_unlock(&reg_lock);
    }
    av_log_default_callback(avcl, level, fmt, vl);
}

static void install_log(void) { av_log_set_callback(log_cb); }

static void reg_add(grin__video_in *v)
{
    pthread_once(&log_once, install_log);
    pthread_mutex_lock(&reg_lock);
    for (int i = 0; i < MAX_SOURCES; i++)
        if (!reg[i].v) { /* (beyond 64 sources read at once, the others are not counted) */
            reg[i].v = v;
            reg[i].ctx[0] = v->fmt;
            reg[i].ctx[1] = v->fmt ? v->fmt->pb : NULL;
            reg[i].ctx[2] = v->dec;
            break;
        }
    pthread_mutex_unlock(&reg_lock);
}

static void reg_remove(grin__video_in *v)
{
    pthread_mutex_lock(&reg_lock);
    for (int i = 0; i < MAX_SOURCES; i++)
        if (reg[i].v == v)
            memset(&reg[i], 0, sizeof reg[i]);
    pthread_mutex_unlock(&reg_lock);
}

int grin__video_errors(grin__video_in *v, char *first, size_t n)
{
    pthread_mutex_lock(&reg_lock);
    int e = v->av_errors;
    if (first && n)
        snprintf(first, n, "%s", v->av_first);
    pthread_mutex_unlock(&reg_lock);
    return e;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* FFmpeg asks this while it waits on a source: non-zero abandons the wait */
static int interrupted(void *ctx)
{
    const grin__video_in *v = ctx;
    return (v->stop && *v->stop) || (v->deadline > 0 && mono_s() > v->deadline);
}

static void arm(grin__video_in *v) { v->deadline = mono_s() + v->stall; }

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool is_image_name(const char *n)
{
    const char *e = strrchr(n, '.');
    if (!e)
        return false;
    static const char *const ext[] = {".jpg", ".jpeg", ".png", ".pgm", ".ppm", ".pnm", ".JPG", ".JPEG", ".PNG"};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (!strcmp(e, ext[i]))
            return true;
    return false;
}

static grin_status open_folder(grin__video_in *v, const char *dir, grin_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return grin__fail(err, GRIN_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    struct dirent *e;
    int cap = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !is_image_name(e->d_name))
            continue;
        if (v->nfiles == cap) {
            cap = cap ? 2 * cap : 64;
            char **f = realloc(v->files, (size_t)cap * sizeof *f);
            if (!f) {
                closedir(d);
                return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
            }
            v->files = f;
        }
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        v->files[v->nfiles] = malloc(n);
        if (!v->files[v->nfiles]) {
            closedir(d);
            return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
        }
        snprintf(v->files[v->nfiles++], n, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (!v->nfiles)
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: no photos (.jpg, .png, .pnm) in the folder", dir);
    qsort(v->files, (size_t)v->nfiles, sizeof *v->files, cmp_str);
    return GRIN_OK;
}

grin_status grin__video_open(const char *url, const grin__video_in_opts *o, grin__video_in **out,
                             grin_error *err)
{
    *out = NULL;
    grin__video_in *v = calloc(1, sizeof *v);
    if (!v)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    v->url = url;
    v->fps = o && o->fps > 0 ? o->fps : 25.0;
    v->first_pts = AV_NOPTS_VALUE;
    v->stdin_flags = -1;
    struct stat st;
    grin_status s = GRIN_OK;
    char eb[128];
    const char *open_url = url;
    if (stat(url, &st) == 0 && S_ISDIR(st.st_mode)) {
        s = open_folder(v, url, err);
        if (s) {
            grin__video_close(v);
            return s;
        }
        *out = v;
        return GRIN_OK;
    }
    av_log_set_level(AV_LOG_QUIET);
#ifdef GRIN_HAVE_AVDEVICE
    avdevice_register_all();
#endif
    const AVInputFormat *ifmt = NULL;
    AVDictionary *opts = NULL;
    if (!strncmp(url, "/dev/video", 10)) {
        ifmt = av_find_input_format("video4linux2");
        if (!ifmt) {
            grin__video_close(v);
            return grin__fail(err, GRIN_ERR_UNSUPPORTED,
                              "%s: this grin was built without cameras (FFmpeg's libavdevice)", url);
        }
        v->live = true;
    } else if (!strcmp(url, "-")) {
        /* standard input (a pipe from another program): a stream format that needs no seeking
         * (WebM/Matroska, MPEG-TS, Y4M, ...), read in order like a file */
        open_url = "pipe:0";
        av_dict_set(&opts, "protocol_whitelist", "pipe", 0);
        /* non-blocking, so that FFmpeg's reads come back and ask the interrupt callback: a writer
         * that stalls ends the run after the stall time, and signals are heard (restored on close) */
        int fl = fcntl(0, F_GETFL);
        if (fl >= 0 && !(fl & O_NONBLOCK) && fcntl(0, F_SETFL, fl | O_NONBLOCK) == 0)
            v->stdin_flags = fl;
    } else if (strstr(url, "://")) {
        v->live = !strncmp(url, "rtsp://", 7) || !strncmp(url, "rtmp://", 7) || !strncmp(url, "udp://", 6);
        av_dict_set(&opts, "rw_timeout", "5000000", 0); /* 5 s without data: the stream is gone */
        av_dict_set(&opts, "stimeout", "5000000", 0);
    } else if (stat(url, &st) != 0 && !strchr(url, '%')) {
        grin__video_close(v);
        return grin__fail(err, GRIN_ERR_IO, "%s: %s", url, strerror(errno));
    } else {
        /* a local file reads local files only: a playlist or concat list inside it cannot make
         * grin open network addresses */
        av_dict_set(&opts, "protocol_whitelist", "file,crypto,data", 0);
    }
    if (o && o->realtime)
        v->live = true;
    /* a source that stalls (a server that accepts and never answers, a camera that stops) is
     * abandoned after stall seconds, or at once when the caller's stop flag is set */
    v->stall = o && o->stall_seconds > 0 ? o->stall_seconds : 10.0;
    v->stop = o ? o->stop : NULL;
    char us[32];
    snprintf(us, sizeof us, "%lld", (long long)(v->stall * 1e6));
    if (strstr(url, "://"))
        av_dict_set(&opts, "timeout", us, 0); /* RTSP's socket timeout (FFmpeg 5) */
    v->fmt = avformat_alloc_context();
    if (!v->fmt) {
        av_dict_free(&opts);
        grin__video_close(v);
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    }
    v->fmt->interrupt_callback = (AVIOInterruptCB){interrupted, v};
    arm(v);
    int e = avformat_open_input(&v->fmt, open_url, ifmt, &opts);
    av_dict_free(&opts);
    if (e < 0) {
        bool stalled = interrupted(v);
        grin__video_close(v);
        if (stalled)
            return grin__fail(err, GRIN_ERR_IO, "%s: %s", url,
                              o && o->stop && *o->stop ? "interrupted" : "no answer (the source stalled)");
        return grin__fail(err, e == AVERROR_INVALIDDATA ? GRIN_ERR_FORMAT : GRIN_ERR_IO, "%s: cannot open: %s",
                          url, averr(e, eb, sizeof eb));
    }
    arm(v);
    if ((e = avformat_find_stream_info(v->fmt, NULL)) < 0) {
        grin__video_close(v);
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: cannot read the streams: %s", url, averr(e, eb, sizeof eb));
    }
    const AVCodec *codec = NULL;
    v->stream = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (v->stream < 0) {
        bool nodec = v->stream == AVERROR_DECODER_NOT_FOUND;
        grin__video_close(v);
        return grin__fail(err, nodec ? GRIN_ERR_UNSUPPORTED : GRIN_ERR_FORMAT, "%s: %s", url,
                          nodec ? "no decoder for its video codec" : "no video stream");
    }
    AVStream *vs = v->fmt->streams[v->stream];
    const uint8_t *dm = av_stream_get_side_data(vs, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (dm) { /* a phone's clip: shown turned (as ffmpeg's tools turn it) */
        double a = -av_display_rotation_get((const int32_t *)dm);
        if (isfinite(a)) {
            int r = (int)lround(a / 90.0) * 90 % 360;
            v->rotate = r < 0 ? r + 360 : r;
        }
    }
    v->dec = avcodec_alloc_context3(codec);
    v->pkt = av_packet_alloc();
    v->frame = av_frame_alloc();
    if (!v->dec || !v->pkt || !v->frame || avcodec_parameters_to_context(v->dec, vs->codecpar) < 0) {
        grin__video_close(v);
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    }
    v->dec->thread_count = 1; /* grin's pipeline has its own threads */
    if ((e = avcodec_open2(v->dec, codec, NULL)) < 0) {
        grin__video_close(v);
        return grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: cannot open the %s decoder: %s", url, codec->name,
                          averr(e, eb, sizeof eb));
    }
    if (v->dec->width <= 0 || v->dec->height <= 0 || v->dec->width > GRIN_MAX_IMAGE_SIDE ||
        v->dec->height > GRIN_MAX_IMAGE_SIDE) {
        int w = v->dec->width, h = v->dec->height;
        grin__video_close(v);
        return grin__fail(err, GRIN_ERR_TOO_LARGE, "%s: frames of %dx%d are outside grin's limits", url, w, h);
    }
    AVRational fr = av_guess_frame_rate(v->fmt, vs, NULL);
    if (fr.num > 0 && fr.den > 0 && av_q2d(fr) < 1000)
        v->fps = av_q2d(fr);
    v->tb = av_q2d(vs->time_base);
    reg_add(v); /* from here on, what FFmpeg reports about this source is counted */
    *out = v;
    return GRIN_OK;
}

static int read_photo(grin__video_in *v, grin_image *img, double *t, grin_error *err)
{
    if (err)
        err->msg[0] = '\0';
    while (v->next < v->nfiles) {
        const char *f = v->files[v->next++];
        grin_image tmp;
        grin_error e2;
        if (grin_image_read(f, GRIN_PIX_RGB24, &tmp, &e2) != GRIN_OK) {
            v->skipped++;
            /* every bad photo in a row is named, not only the last (the caller warns with this) */
            if (err) {
                size_t used = strlen(err->msg);
                if (used + 3 < sizeof err->msg) {
                    int room = (int)(sizeof err->msg - used - 3);
                    snprintf(err->msg + used, sizeof err->msg - used, "%s%.*s", used ? "; " : "", room, e2.msg);
                }
            }
            continue;
        }
        grin_image_free(img);
        *img = tmp;
        *t = (double)(v->next - 1) / v->fps;
        return 1;
    }
    return 0;
}

static int to_rgb_upright(grin__video_in *v, grin_image *img, grin_error *err);

/* turns src into dst by rot clockwise degrees (90, 180, 270) */
static void turn(const grin_image *src, grin_image *dst, int rot)
{
    const int W = src->width, H = src->height;
    for (int y = 0; y < dst->height; y++) {
        uint8_t *d = dst->data + (size_t)y * dst->stride;
        for (int x = 0; x < dst->width; x++) {
            int sx = rot == 90 ? y : rot == 180 ? W - 1 - x : W - 1 - y;
            int sy = rot == 90 ? H - 1 - x : rot == 180 ? H - 1 - y : x;
            const uint8_t *s = src->data + (size_t)sy * src->stride + 3 * (size_t)sx;
            d[3 * x] = s[0], d[3 * x + 1] = s[1], d[3 * x + 2] = s[2];
        }
    }
}

static int to_rgb(grin__video_in *v, grin_image *img, grin_error *err)
{
    if (!v->rotate)
        return to_rgb_upright(v, img, err);
    int r = to_rgb_upright(v, &v->upright, err);
    if (r != 1)
        return r;
    int w = v->rotate == 180 ? v->upright.width : v->upright.height;
    int h = v->rotate == 180 ? v->upright.height : v->upright.width;
    if (!img->data || img->width != w || img->height != h || img->format != GRIN_PIX_RGB24) {
        grin_image_free(img);
        if (grin_image_alloc(w, h, GRIN_PIX_RGB24, img) != GRIN_OK) {
            grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
            return -1;
        }
    }
    turn(&v->upright, img, v->rotate);
    return 1;
}

static int to_rgb_upright(grin__video_in *v, grin_image *img, grin_error *err)
{
    AVFrame *f = v->frame;
    if (f->width <= 0 || f->height <= 0 || f->width > GRIN_MAX_IMAGE_SIDE || f->height > GRIN_MAX_IMAGE_SIDE) {
        grin__fail(err, GRIN_ERR_TOO_LARGE, "%s: a frame of %dx%d", v->url, f->width, f->height);
        return -1;
    }
    if (!img->data || img->width != f->width || img->height != f->height || img->format != GRIN_PIX_RGB24) {
        grin_image_free(img);
        /* swscale's converters store whole SIMD blocks of pixels: room past each row's end and
         * below the last row, so they never write outside the buffer */
        if (grin_image_alloc(f->width + 64, f->height + 2, GRIN_PIX_RGB24, img) != GRIN_OK) {
            grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
            return -1;
        }
        img->width = f->width;
        img->height = f->height;
    }
    if (f->format == AV_PIX_FMT_YUV420P || f->format == AV_PIX_FMT_YUVJ420P) {
        /* the usual decoder output, converted by grin's own integer code: the same pixels on
         * every CPU (swscale's SIMD converters round differently on x86 and ARM) */
        int full = f->format == AV_PIX_FMT_YUVJ420P || f->color_range == AVCOL_RANGE_JPEG;
        int bt709 = f->colorspace == AVCOL_SPC_BT709;
        grin__yuv420_to_rgb24(f->data[0], f->linesize[0], f->data[1], f->linesize[1], f->data[2],
                              f->linesize[2], f->width, f->height, full, bt709, img->data, img->stride);
        return 1;
    }
    if (!v->sws || v->sws_w != f->width || v->sws_h != f->height || v->sws_fmt != f->format) {
        sws_freeContext(v->sws);
        v->sws = sws_getContext(f->width, f->height, f->format, f->width, f->height, AV_PIX_FMT_RGB24,
                                SWS_BILINEAR, NULL, NULL, NULL);
        v->sws_w = f->width, v->sws_h = f->height, v->sws_fmt = f->format;
        if (!v->sws) {
            grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: cannot convert its pixel format to RGB", v->url);
            return -1;
        }
    }
    uint8_t *dst[4] = {img->data};
    int ls[4] = {img->stride};
    sws_scale(v->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, ls);
    return 1;
}

int grin__video_read(grin__video_in *v, grin_image *img, double *t, grin_error *err)
{
    if (v->files)
        return read_photo(v, img, t, err);
    char eb[128];
    for (;;) {
        int e = avcodec_receive_frame(v->dec, v->frame);
        if (e == 0) {
            int64_t pts = v->frame->best_effort_timestamp;
            if (pts != AV_NOPTS_VALUE && v->first_pts == AV_NOPTS_VALUE)
                v->first_pts = pts;
            *t = pts != AV_NOPTS_VALUE ? (double)(pts - v->first_pts) * v->tb : 0.0;
            int r = to_rgb(v, img, err);
            av_frame_unref(v->frame);
            return r;
        }
        if (e == AVERROR_EOF)
            return 0;
        if (e != AVERROR(EAGAIN)) { /* a frame that can't be decoded: skip it */
            v->skipped++;
            continue;
        }
        if (v->draining)
            return 0;
        arm(v);
        e = av_read_frame(v->fmt, v->pkt);
        if (e == AVERROR_EOF) {
            v->draining = true;
            avcodec_send_packet(v->dec, NULL);
            continue;
        }
        if (e < 0) {
            /* a camera unplugged, a stream cut, a read error, a stall: what was decoded stays good */
            if (v->stop && *v->stop)
                grin__fail(err, GRIN_ERR_IO, "%s: interrupted", v->url);
            else if (interrupted(v))
                grin__fail(err, GRIN_ERR_IO, "%s: no data for %g s (the source stalled)", v->url, v->stall);
            else
                grin__fail(err, GRIN_ERR_IO, "%s: %s: %s", v->url, v->live ? "the source stopped" : "read failed",
                           averr(e, eb, sizeof eb));
            return -1;
        }
        if (v->pkt->stream_index == v->stream) {
            e = avcodec_send_packet(v->dec, v->pkt);
            if (e < 0 && e != AVERROR(EAGAIN))
                v->skipped++; /* a corrupt packet */
        }
        av_packet_unref(v->pkt);
    }
}

double grin__video_fps(const grin__video_in *v) { return v->fps; }
int grin__video_rotation(const grin__video_in *v) { return v->rotate; }
bool grin__video_is_live(const grin__video_in *v) { return v->live; }
bool grin__video_is_folder(const grin__video_in *v) { return v->files != NULL; }

double grin__video_declared_seconds(const grin__video_in *v)
{
    if (!v->fmt || v->fmt->duration == AV_NOPTS_VALUE || v->fmt->duration <= 0)
        return 0.0;
    return (double)v->fmt->duration / AV_TIME_BASE;
}
int grin__video_skipped(const grin__video_in *v) { return v->skipped; }

void grin__video_close(grin__video_in *v)
{
    if (!v)
        return;
    reg_remove(v);
    if (v->stdin_flags >= 0)
        fcntl(0, F_SETFL, v->stdin_flags);
    sws_freeContext(v->sws);
    grin_image_free(&v->upright);
    av_frame_free(&v->frame);
    av_packet_free(&v->pkt);
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fmt);
    for (int i = 0; i < v->nfiles; i++)
        free(v->files[i]);
    free(v->files);
    free(v);
}

/* ---- output */

struct grin_video_writer {
    char *path; /* (a copy: the caller's string may go) */
    grin__out file; /* the temporary file the video is written to, renamed onto path at the end */
    AVFormatContext *fmt;
    AVCodecContext *enc;
    AVStream *st;
    AVFrame *frame;
    AVPacket *pkt;
    struct SwsContext *sws, *sws_any; /* frames of the video's size; of any other size */
    int64_t next_pts;
    bool header;
};

static const AVCodec *pick_encoder(const AVOutputFormat *of)
{
    static const char *const webm[] = {"libvpx-vp9", "libvpx", NULL};
    static const char *const other[] = {"libx264", "libopenh264", "mpeg4", NULL};
    const char *const *names = of && !strcmp(of->name, "webm") ? webm : other;
    for (int i = 0; names[i]; i++) {
        const AVCodec *c = avcodec_find_encoder_by_name(names[i]);
        if (c && avformat_query_codec(of, c->id, FF_COMPLIANCE_NORMAL) == 1)
            return c;
    }
    return of && of->video_codec != AV_CODEC_ID_NONE ? avcodec_find_encoder(of->video_codec) : NULL;
}

grin_status grin__video_out_open(const char *path, int width, int height, double fps, grin__video_out **out,
                                 grin_error *err)
{
    return grin__video_out_open_rotated(path, width, height, fps, 0, out, err);
}

grin_status grin__video_out_open_rotated(const char *path, int width, int height, double fps, int rotation,
                                         grin__video_out **out, grin_error *err)
{
    *out = NULL;
    char eb[128];
    grin__video_out *o = calloc(1, sizeof *o);
    if (!o)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    o->path = strdup(path);
    if (!o->path) {
        free(o);
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    }
    av_log_set_level(AV_LOG_QUIET);
    int e = avformat_alloc_output_context2(&o->fmt, NULL, NULL, path);
    if (e < 0 || !o->fmt) {
        free(o->path);
        free(o);
        return grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: no video container for this file name (try .mp4, .mkv, "
                                                     ".avi or .webm)", path);
    }
    const AVCodec *codec = pick_encoder(o->fmt->oformat);
    grin_status st = GRIN_OK;
    if (!codec) {
        st = grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: no video encoder for this container", path);
        goto fail;
    }
    o->st = avformat_new_stream(o->fmt, NULL);
    if (o->st && rotation % 360) { /* the display matrix a player turns the frames by */
        int32_t *m = (int32_t *)av_stream_new_side_data(o->st, AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(int32_t));
        if (m)
            av_display_rotation_set(m, (double)rotation); /* (its get() returns the negation, as ffmpeg reads it) */
    }
    o->enc = avcodec_alloc_context3(codec);
    o->frame = av_frame_alloc();
    o->pkt = av_packet_alloc();
    if (!o->st || !o->enc || !o->frame || !o->pkt) {
        st = grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
        goto fail;
    }
    AVRational rate = av_d2q(fps > 0 ? fps : 25.0, 100000);
    o->enc->width = width & ~1;
    o->enc->height = height & ~1;
    o->enc->time_base = av_inv_q(rate);
    o->enc->framerate = rate;
    o->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    o->enc->gop_size = 50;
    o->enc->thread_count = 1;
    if (codec->id == AV_CODEC_ID_MPEG4)
        o->enc->bit_rate = (int64_t)width * height * 4; /* ~4 bits/pixel/s: clean enough to read the text */
    if (!strcmp(codec->name, "libx264")) {
        av_opt_set(o->enc->priv_data, "preset", "veryfast", 0);
        av_opt_set(o->enc->priv_data, "crf", "23", 0);
    }
    if (!strncmp(codec->name, "libvpx", 6)) {
        av_opt_set(o->enc->priv_data, "deadline", "realtime", 0);
        av_opt_set_int(o->enc->priv_data, "cpu-used", 8, 0);
        o->enc->bit_rate = (int64_t)width * height * 4;
    }
    if (o->fmt->oformat->flags & AVFMT_GLOBALHEADER)
        o->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((e = avcodec_open2(o->enc, codec, NULL)) < 0) {
        st = grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: cannot open the %s encoder: %s", path, codec->name,
                        averr(e, eb, sizeof eb));
        goto fail;
    }
    avcodec_parameters_from_context(o->st->codecpar, o->enc);
    o->st->time_base = o->enc->time_base;
    o->st->avg_frame_rate = rate;
    if (!(o->fmt->oformat->flags & AVFMT_NOFILE)) {
        /* into a temporary file beside path (keeping its extension), renamed into place when the
         * video is complete; a device is written as it is */
        if ((st = grin__out_open(&o->file, path, 1, err)))
            goto fail;
        fclose(o->file.f);
        o->file.f = NULL;
        if ((e = avio_open(&o->fmt->pb, o->file.tmp, AVIO_FLAG_WRITE)) < 0) {
            st = grin__fail(err, GRIN_ERR_IO, "%s: cannot create: %s", path, averr(e, eb, sizeof eb));
            goto fail;
        }
    }
    if ((e = avformat_write_header(o->fmt, NULL)) < 0) {
        st = grin__fail(err, GRIN_ERR_IO, "%s: cannot write: %s", path, averr(e, eb, sizeof eb));
        goto fail;
    }
    o->header = true;
    o->frame->format = o->enc->pix_fmt;
    o->frame->width = o->enc->width;
    o->frame->height = o->enc->height;
    if (av_frame_get_buffer(o->frame, 0) < 0) {
        st = grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
        goto fail;
    }
    o->sws = sws_getContext(o->enc->width, o->enc->height, AV_PIX_FMT_RGB24, o->enc->width, o->enc->height,
                            o->enc->pix_fmt, SWS_BILINEAR, NULL, NULL, NULL);
    if (!o->sws) {
        st = grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: cannot convert to the encoder's pixels", path);
        goto fail;
    }
    *out = o;
    return GRIN_OK;
fail:
    if (o->fmt && o->fmt->pb && !(o->fmt->oformat->flags & AVFMT_NOFILE))
        avio_closep(&o->fmt->pb);
    grin__out_close(&o->file, false, NULL); /* removes only the temporary file */
    sws_freeContext(o->sws);
    sws_freeContext(o->sws_any);
    av_frame_free(&o->frame);
    av_packet_free(&o->pkt);
    avcodec_free_context(&o->enc);
    avformat_free_context(o->fmt);
    free(o->path);
    free(o);
    return st;
}

static grin_status drain(grin__video_out *o, grin_error *err)
{
    char eb[128];
    for (;;) {
        int e = avcodec_receive_packet(o->enc, o->pkt);
        if (e == AVERROR(EAGAIN) || e == AVERROR_EOF)
            return GRIN_OK;
        if (e < 0)
            return grin__fail(err, GRIN_ERR_INTERNAL, "%s: encoder failed: %s", o->path, averr(e, eb, sizeof eb));
        av_packet_rescale_ts(o->pkt, o->enc->time_base, o->st->time_base);
        o->pkt->stream_index = o->st->index;
        e = av_interleaved_write_frame(o->fmt, o->pkt);
        av_packet_unref(o->pkt);
        if (e < 0)
            return grin__fail(err, GRIN_ERR_IO, "%s: write failed: %s", o->path, averr(e, eb, sizeof eb));
    }
}

grin_status grin__video_out_write(grin__video_out *o, const grin_image *rgb, grin_error *err)
{
    if (rgb->format != GRIN_PIX_RGB24 || rgb->width <= 0 || rgb->height <= 0)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "%s: not an RGB frame", o->path);
    if (av_frame_make_writable(o->frame) < 0)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    struct SwsContext *ctx = o->sws;
    if (rgb->width != o->enc->width || rgb->height != o->enc->height) {
        /* a frame of another size (a folder of photos, a stream that changed resolution): scaled
         * to the video's size, not cropped or dropped */
        o->sws_any = sws_getCachedContext(o->sws_any, rgb->width, rgb->height, AV_PIX_FMT_RGB24, o->enc->width,
                                          o->enc->height, o->enc->pix_fmt, SWS_BILINEAR, NULL, NULL, NULL);
        if (!o->sws_any)
            return grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: cannot scale a %dx%d frame", o->path, rgb->width,
                              rgb->height);
        ctx = o->sws_any;
    }
    const uint8_t *src[4] = {rgb->data};
    int ls[4] = {rgb->stride};
    sws_scale(ctx, src, ls, 0, rgb->height, o->frame->data, o->frame->linesize);
    o->frame->pts = o->next_pts++;
    int e = avcodec_send_frame(o->enc, o->frame);
    char eb[128];
    if (e < 0)
        return grin__fail(err, GRIN_ERR_INTERNAL, "%s: encoder failed: %s", o->path, averr(e, eb, sizeof eb));
    return drain(o, err);
}

grin_status grin__video_out_close(grin__video_out *o, grin_error *err)
{
    if (!o)
        return GRIN_OK;
    grin_status st = GRIN_OK;
    if (o->header) {
        avcodec_send_frame(o->enc, NULL);
        st = drain(o, err);
        int e = av_write_trailer(o->fmt);
        if (e < 0 && !st)
            st = grin__fail(err, GRIN_ERR_IO, "%s: cannot finish the file", o->path);
    }
    if (!(o->fmt->oformat->flags & AVFMT_NOFILE) && avio_closep(&o->fmt->pb) < 0 && !st)
        st = grin__fail(err, GRIN_ERR_IO, "%s: write failed", o->path);
    /* what was written goes into place even after an error (a playable part of the video); only a
     * video that never got its header is dropped */
    grin_status fst = grin__out_close(&o->file, o->header, st ? NULL : err);
    if (!st && o->header)
        st = fst;
    sws_freeContext(o->sws);
    sws_freeContext(o->sws_any);
    av_frame_free(&o->frame);
    av_packet_free(&o->pkt);
    avcodec_free_context(&o->enc);
    avformat_free_context(o->fmt);
    free(o->path);
    free(o);
    return st;
}
