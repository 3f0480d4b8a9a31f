/* cmd_run.c — `grin run`: the real-time pipeline on a video file, image sequence, folder of
 * photos, camera or stream: tracked faces with smoothed smile probabilities as JSON lines and
 * events, an annotated video, a live window, and run statistics. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "display.h"

#include "pipeline/stages.h"

static volatile sig_atomic_t stop_flag;

/* the progress line (stderr on a terminal): frames so far and the time reached in the source */
static void run_progress(void *ctx, long long frame, double t)
{
    double declared = *(const double *)ctx;
    char note[64];
    if (declared > 0)
        snprintf(note, sizeof note, "%.1f of %.1f s", t, declared);
    else
        snprintf(note, sizeof note, "%.1f s", t);
    cli_progress("run: frame", frame + 1, -1, note);
}
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void help(FILE *f)
{
    fprintf(f,
            "usage: grin run INPUT [--out VIDEO] [--events FILE|-] [--stats] [--display] [--realtime]\n"
            "                [--workers detect=N,classify=N] [--detect-every K] [--model FILE]\n"
            "                [--landmarks FILE] [--fps F] [--repeat N] [--int8] [--no-branch]\n"
            "                [detect options]\n"
            "INPUT: a video file, an image-sequence pattern (frames/%%05d.png), a folder of photos,\n"
            "a camera (/dev/video0), a stream URL (rtsp://, http://), or - for standard input\n"
            "(a format read in order: WebM/Matroska, MPEG-TS, Y4M...; not an MP4 whose index is\n"
            "at its end).\n"
            "  --out VIDEO         annotated video (.mp4 .mkv .avi .webm), same size and rate\n"
            "  --events FILE|-     JSON lines: {\"schema\",\"source\",\"fps\",\"duration\"} first,\n"
            "                      then faces per frame, smile_start/smile_end/track_end,\n"
            "                      then a summary per track and for the run\n"
            "  --stats             end with {\"schema\",\"frames\",\"processed\",\"dropped\",\"fps\",\n"
            "                      \"latency_ms_p50\",\"latency_ms_p99\",\"faces\"}\n"
            "  --display           live window with FPS and latency; q, Esc or closing it stops\n"
            "  --realtime          bounded latency: when two frames already wait, the older is\n"
            "                      dropped (the default for cameras and streams); files\n"
            "                      otherwise process every frame\n"
            "  --workers LIST      threads per stage, e.g. detect=2,classify=1\n"
            "  --detect-every K    run the detector on every K-th frame (default 4); landmarks\n"
            "                      follow the faces in between\n"
            "  --fps F             frame rate of a folder of photos (default 25)\n"
            "  --repeat N          process the input N times (memory checks); stats per pass\n"
            "  --frames N          stop after N frames\n"
            "  --detect-width W    detect on frames scaled down to W pixels wide when wider\n"
            "                      (default 640; 0 = full size); landmarks use full size\n"
            "  --detect-edge F     detection sees past the frame's edge: a replicated border\n"
            "                      of F x the larger side, so that faces entering or leaving\n"
            "                      are found while most of them is in view (default 0.05;\n"
            "                      0 = none, slightly faster)\n"
            "  --pace              read a file at its own frame rate, as a camera would deliver it\n"
            "  --int8              8-bit smile classifier (the model must carry a calibration:\n"
            "                      grin quantize; the shipped one does)\n"
            "  --stall S           a stream or camera that sends nothing for S seconds (also\n"
            "                      while connecting) ends the run with an error (default 10)\n"
            "  --face-check FILE   the face check (a classifier of aligned crops: are the\n"
            "                      landmarks on a face?) that decides which faces get a smile\n"
            "                      and may start a track (default: the installed one)\n"
            "  --no-face-check     decide by the landmarks' own quality score instead\n"
            "  --smile-on P        a face starts smiling when its smoothed smile has stood at\n"
            "                      or above P for the dwell time (default 0.5, as for photos)\n"
            "  --smile-off P       ... and stops below P (default 0.5; at most --smile-on)\n"
            "  --smile-dwell S     the dwell time in seconds (default 0.2; 0: at once)\n"
            CLI_NO_BRANCH_USAGE
            "%s",
            detect_opts_usage());
}

/* ---- live view: the pipeline hands over frames, the main thread shows them */
typedef struct {
    pthread_mutex_t m;
    grin_image img;
    bool dirty, failed;
} view;

static void view_show(void *ctx, const grin_image *img)
{
    view *v = ctx;
    pthread_mutex_lock(&v->m);
    if (!v->img.data || v->img.width != img->width || v->img.height != img->height) {
        grin_image_free(&v->img);
        if (grin_image_alloc(img->width, img->height, GRIN_PIX_RGB24, &v->img) != GRIN_OK) {
            v->failed = true;
            pthread_mutex_unlock(&v->m);
            return;
        }
    }
    for (int y = 0; y < img->height; y++)
        memcpy(v->img.data + (size_t)y * v->img.stride, img->data + (size_t)y * img->stride, (size_t)img->width * 3);
    v->dirty = true;
    pthread_mutex_unlock(&v->m);
}

/* ---- the source: the video reader, with errors and skipped packets reported */
typedef struct {
    grin_video_reader *in;
    int warned;
    int64_t limit, count; /* --frames */
    double pace_fps;      /* --pace: deliver frames no faster than this (a stand-in camera) */
    double t0_ms;
    double last_t;        /* time of the last frame read */
    bool ended;           /* the source reached its end */
} source_ctx;

static int source_next(void *ctx, grin__frame *f, grin_error *err)
{
    source_ctx *s = ctx;
    if (s->limit > 0 && s->count >= s->limit)
        return 0;
    if (s->pace_fps > 0) {
        if (s->count == 0)
            s->t0_ms = grin__now_ms();
        double due = s->t0_ms + (double)s->count * 1000.0 / s->pace_fps, now = grin__now_ms();
        if (due > now) {
            struct timespec ts = {(time_t)((due - now) / 1000.0), (long)(fmod(due - now, 1000.0) * 1e6)};
            nanosleep(&ts, NULL);
        }
    }
    s->count++;
    grin_video_info before, after;
    grin_video_get_info(s->in, &before, NULL, 0);
    int r = grin_video_read(s->in, &f->rgb, &f->t, err);
    grin_video_get_info(s->in, &after, NULL, 0);
    if (after.skipped > before.skipped && s->warned < 5) {
        s->warned++;
        cli_error("skipped an undecodable frame or packet%s%s", err->msg[0] ? ": " : "", err->msg);
        err->msg[0] = '\0';
    }
    if (r == 1)
        s->last_t = f->t;
    if (r == 0)
        s->ended = true;
    return r;
}

typedef struct {
    const grin__module *stages;
    int nstages;
    source_ctx *src;
    grin__pipeline_opts opts;
    grin__pipeline_stats stats;
    grin_status st;
    grin_error err;
    volatile sig_atomic_t done;
} run_job;

static void *run_thread(void *arg)
{
    run_job *j = arg;
    j->st = grin__pipeline_run(j->stages, j->nstages, source_next, j->src, &j->opts, &j->stats, &j->err);
    j->done = 1;
    return NULL;
}

/* open file descriptors (a leak shows as a count that grows pass after pass) */
static long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    long n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* (the directory's own descriptor) */
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static bool parse_workers(const char *v, int *det, int *cls)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        if (!eq)
            return false;
        *eq = '\0';
        char *end;
        long n = strtol(eq + 1, &end, 10);
        if (*end || n < 1 || n > 64)
            return false;
        if (!strcmp(tok, "detect"))
            *det = (int)n;
        else if (!strcmp(tok, "classify"))
            *cls = (int)n;
        else
            return false;
    }
    return true;
}

int cmd_run(int argc, char **argv)
{
    detect_opts o;
    detect_opts_default(&o);
    const char *input = NULL, *out_path = NULL, *events_path = NULL, *model = default_classifier();
    const char *lmk = GRIN_DEFAULT_LANDMARK_MODEL;
    bool stats = false, display = false, realtime = false, realtime_set = false;
    int det_workers = 0, cls_workers = 1, every = 4, repeat = 1, frames = 0, detect_width = 640;
    double detect_edge = 0.05;
    grin_run_params defaults; /* the library's defaults for what the options below leave */
    grin_run_params_default(&defaults);
    double smile_on = defaults.smile_on, smile_off = defaults.smile_off, smile_dwell = defaults.smile_dwell;
    bool pace = false, int8 = false, no_branch = false, no_check = false;
    double stall = 10;
    const char *check_path = NULL;
    double fps = 25;
    for (int i = 1; i < argc; i++) {
        int r = detect_opts_parse(&o, argc, argv, &i);
        if (r < 0)
            return 2;
        if (r)
            continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            help(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--out") && v) {
            out_path = v, i++;
        } else if (!strcmp(argv[i], "--events") && v) {
            events_path = v, i++;
        } else if (!strcmp(argv[i], "--model") && v) {
            model = v, i++;
        } else if (!strcmp(argv[i], "--landmarks") && v) {
            lmk = v, i++;
        } else if (!strcmp(argv[i], "--int8")) {
            int8 = true;
        } else if (!strcmp(argv[i], "--no-branch")) {
            no_branch = true;
        } else if (!strcmp(argv[i], "--stall")) {
            if (!cli_double("--stall", v, 0.1, 3600, &stall))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--no-face-check")) {
            no_check = true;
        } else if (!strcmp(argv[i], "--face-check") && i + 1 < argc) {
            check_path = argv[++i];
        } else if (!strcmp(argv[i], "--stats")) {
            stats = true;
        } else if (!strcmp(argv[i], "--display")) {
            display = true;
        } else if (!strcmp(argv[i], "--realtime")) {
            realtime = realtime_set = true;
        } else if (!strcmp(argv[i], "--workers") && v) {
            if (!parse_workers(v, &det_workers, &cls_workers)) {
                cli_error("--workers: '%s' is not a list like detect=2,classify=1 (1..64 each)", v);
                return 2;
            }
            i++;
        } else if (!strcmp(argv[i], "--detect-every")) {
            if (!cli_int("--detect-every", v, 1, 1000, &every))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--repeat")) {
            if (!cli_int("--repeat", v, 1, 1000, &repeat))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--frames")) {
            if (!cli_int("--frames", v, 1, 2000000000, &frames))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--detect-edge")) {
            if (!cli_double("--detect-edge", v, 0.0, 0.5, &detect_edge))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--smile-on")) {
            if (!cli_double("--smile-on", v, 0.0, 1.0, &smile_on))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--smile-off")) {
            if (!cli_double("--smile-off", v, 0.0, 1.0, &smile_off))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--smile-dwell")) {
            if (!cli_double("--smile-dwell", v, 0.0, 10.0, &smile_dwell))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--detect-width")) {
            if (!cli_int("--detect-width", v, 0, 16384, &detect_width))
                return 2;
            i++;
        } else if (!strcmp(argv[i], "--pace")) {
            pace = true;
        } else if (!strcmp(argv[i], "--fps")) {
            if (!cli_double("--fps", v, 0.1, 1000, &fps))
                return 2;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("run: unknown or incomplete option '%s' (see grin run --help)", argv[i]);
            return 2;
        } else if (!input) {
            input = argv[i];
        } else {
            cli_error("run: one INPUT only (got '%s' and '%s')", input, argv[i]);
            return 2;
        }
    }
    if (!input) {
        cli_error("run: no INPUT (see grin run --help)");
        return 2;
    }
    if (smile_off > smile_on) {
        cli_error("run: --smile-off %g is above --smile-on %g", smile_off, smile_on);
        return 2;
    }
    if (output_is_input(out_path, input, "input") || output_is_input(events_path, input, "input") ||
        output_is_input(out_path, model, "model") || output_is_input(events_path, model, "model") ||
        (out_path && events_path && strcmp(events_path, "-") && output_is_input(out_path, events_path, "--events file")))
        return 2;
    if (!out_path && !events_path && !stats && !display) /* not silently: the run still goes */
        cli_error("run: no --out, --events, --stats or --display: nothing will be written");
    if (out_path && events_path && !strcmp(out_path, events_path)) {
        cli_error("run: --out and --events name the same file %s", out_path);
        return 2;
    }
    if (det_workers <= 0)
        det_workers = o.threads > 0 ? o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (det_workers < 1)
        det_workers = 1;
    grin_error err = {{0}};
    grin_cascade *cascade = NULL;
    grin_landmarker *lm = NULL;
    grin_aligner *al = NULL;
    grin_classifier *cls = NULL;
    grin_classifier_info ci;
    if (grin_classifier_load(model, &cls, &err) != GRIN_OK || grin_landmarker_load(lmk, &lm, &err) != GRIN_OK ||
        grin_cascade_load(o.cascade, &cascade, &err) != GRIN_OK) {
        cli_error("%s", err.msg);
        grin_classifier_free(cls);
        grin_landmarker_free(lm);
        return 1;
    }
    if (!cli_set_int8(cls, model, int8)) {
        grin_classifier_free(cls);
        grin_landmarker_free(lm);
        grin_cascade_free(cascade);
        return 1;
    }
    if (no_branch)
        grin_classifier_set_landmark_branch(cls, 0);
    grin_classifier_get_info(cls, &ci);
    /* the face check: --face-check FILE, else the installed one when it is there */
    char installed_check[4096];
    if (!check_path && !no_check &&
        grin_default_model_path(GRIN_FACE_CHECK_MODEL, installed_check, sizeof installed_check) == GRIN_OK &&
        access(installed_check, R_OK) == 0)
        check_path = installed_check;
    grin_classifier *check = NULL;
    grin_aligner *check_al = NULL;
    grin_classifier_info ki;
    if (grin_aligner_create(lm, &ci.align, &al, &err) != GRIN_OK ||
        (check_path && !no_check &&
         (grin_classifier_load(check_path, &check, &err) != GRIN_OK ||
          (grin_classifier_get_info(check, &ki), grin_aligner_create(lm, &ki.align, &check_al, &err)) != GRIN_OK))) {
        cli_error("%s", err.msg);
        grin_classifier_free(cls);
        grin_classifier_free(check);
        grin_aligner_free(al);
        grin_landmarker_free(lm);
        grin_cascade_free(cascade);
        return 1;
    }
    FILE *events = NULL;
    int rc = 0;
    if (events_path) {
        events = strcmp(events_path, "-") ? fopen(events_path, "w") : stdout;
        if (!events) {
            cli_error("--events %s: cannot create: %s", events_path, strerror(errno));
            rc = 1;
        }
    }
    view v = {.dirty = false};
    pthread_mutex_init(&v.m, NULL);
    live_window *disp = NULL;
    if (!rc && display) {
        char why[256];
        disp = display_open(why, sizeof why);
        if (!disp) {
            cli_error("--display: %s", why);
            display = false;
            rc = 1;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* a closed terminal: finish the video and the events as for Ctrl-C */
    stop_flag = 0;
    grin__smile_cfg smile = {.on = (float)smile_on, .off = (float)smile_off, .dwell = smile_dwell, .tau = GRIN__SMILE_TAU};
    grin__output_cfg outc = {.events = events};
    long *rss = calloc((size_t)repeat, sizeof *rss), *fds = calloc((size_t)repeat, sizeof *fds);
    int64_t tot_frames = 0, tot_processed = 0, tot_dropped = 0;
    double tot_seconds = 0, p50 = 0, p99 = 0;
    for (int pass = 0; pass < repeat && !rc && !stop_flag; pass++) {
        grin_video_reader_options vo;
        grin_video_reader_options_default(&vo);
        vo.folder_fps = fps, vo.live = realtime, vo.stall_seconds = stall, vo.stop = &stop_flag;
        grin_video_reader *in = NULL;
        if (grin_video_open(input, &vo, &in, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            rc = stop_flag ? 0 : 1; /* (a signal while waiting for the source: a stop, not a fault) */
            break;
        }
        grin_video_info info;
        grin_video_get_info(in, &info, NULL, 0);
        bool rt = realtime_set ? realtime : info.live;
        grin_video_writer *vout = NULL;
        if (out_path && pass == 0) {
            /* the first frame gives the size */
            grin_image first = {0};
            double t;
            int got = grin_video_read(in, &first, &t, &err);
            grin_video_close(in);
            in = NULL;
            if (got <= 0) {
                cli_error("%s: %s", input, got < 0 ? err.msg : "no frames");
                grin_image_free(&first);
                rc = 1;
                break;
            }
            double ofps = 25;
            if (grin_video_open(input, &vo, &in, &err) == GRIN_OK) {
                grin_video_get_info(in, &info, NULL, 0);
                ofps = info.fps > 0 ? info.fps : 25;
            }
            if (!in || grin_video_writer_open(out_path, first.width, first.height, ofps, 0, &vout, &err) != GRIN_OK) {
                cli_error("%s", err.msg);
                grin_image_free(&first);
                grin_video_close(in);
                rc = 1;
                break;
            }
            grin_image_free(&first);
        }
        if (events && pass == 0) { /* the stream's first line: what it is and where it came from */
            double fr = info.fps, dur = info.duration;
            fprintf(events, "{" JSON_SCHEMA_FIELD ",\"source\":");
            json_string(events, input);
            fprintf(events, ",\"fps\":");
            fprintf(events, fr > 0 ? "%.3f" : "null", fr);
            fprintf(events, ",\"duration\":");
            fprintf(events, dur > 0 ? "%.3f" : "null", dur);
            fprintf(events, "}\n");
        }
        char dwhy[256];
        if (display && !display_window(disp, dwhy, sizeof dwhy)) {
            cli_error("--display: %s", dwhy);
            grin_video_close(in);
            grin_video_writer_close(vout, &err);
            rc = 1;
            break;
        }
        outc.video = vout;
        outc.draw = vout || display;
        outc.overlay = display;
        outc.show = display ? view_show : NULL;
        outc.show_ctx = &v;
        /* a folder of photos: each photo on its own (detected, tracks only where boxes overlap) */
        bool photos = info.folder;
        double declared_s = info.duration;
        if (!display && !(events == stdout && isatty(1))) { /* (not between event lines on a terminal) */
            outc.progress = run_progress;
            outc.progress_ctx = &declared_s;
        }
        grin__chain chain = {.cascade = cascade, .profile = o.profile, .check = check, .check_al = check_al, .detect = o.params, .detect_width = detect_width, .detect_edge = detect_edge, .lm = lm,
                             .al = al, .cls = cls, .photos = photos, .detect_workers = det_workers,
                             .classify_workers = cls_workers, .smile = &smile, .last = grin__stage_output,
                             .last_cfg = &outc};
        grin__chain_wire(&chain);
        source_ctx sc = {in, 0, frames, 0, pace ? info.fps : 0, 0, 0, false};
        run_job job = {.stages = chain.stages, .nstages = 5, .src = &sc};
        job.opts = (grin__pipeline_opts){.realtime = rt, .detect_every = photos ? 1 : every, .stop = &stop_flag};
        if (!display) {
            run_thread(&job);
        } else {
            pthread_t th;
            if (pthread_create(&th, NULL, run_thread, &job) != 0) {
                cli_error("cannot start the pipeline thread");
                rc = 1;
            } else {
                while (!job.done) {
                    if (display_poll_quit(disp))
                        stop_flag = 1;
                    pthread_mutex_lock(&v.m);
                    bool fresh = v.dirty && v.img.data;
                    if (fresh) /* copied into the window's texture while the lock is held */
                        display_show(disp, &v.img);
                    v.dirty = false;
                    pthread_mutex_unlock(&v.m);
                    if (!fresh)
                        display_show(disp, NULL);
                }
                pthread_join(th, NULL);
            }
        }
        cli_progress_end();
        /* damaged input: the output is complete for what could be read, but say so and fail */
        char first[160];
        grin_video_get_info(in, &info, first, sizeof first);
        double declared = info.duration, fr = info.fps;
        if (sc.ended && !stop_flag && !job.stats.source_status && declared > 0 && fr > 0 &&
            sc.last_t + 3.0 / fr < declared * 0.99) {
            cli_error("%s: ends at %.2f s but declares %.2f s: truncated (the output covers what was there)", input,
                      sc.last_t, declared);
            rc = 1;
        }
        if (info.skipped > 0) {
            cli_error("%s: %d undecodable packets or frames were skipped", input, info.skipped);
            rc = 1;
        }
        int av_errors = info.errors;
        if (av_errors > 0) { /* damage the demuxer or decoder detected and went past */
            cli_error("%s: damaged: FFmpeg reported %d error%s reading it (the first: %s); frames there may be "
                      "missing or glitched", input, av_errors, av_errors > 1 ? "s" : "", first);
            if (!info.live) /* (a live stream joined mid-way has some as a rule) */
                rc = 1;
        }
        grin_video_close(in);
        if (vout && grin_video_writer_close(vout, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            rc = 1;
        }
        if (job.st) {
            cli_error("%s", job.err.msg);
            rc = 1;
        }
        if (job.stats.source_status) {
            cli_error("%s (the output up to frame %lld is complete)", job.stats.source_error,
                      (long long)job.stats.frames);
            rc = 1;
        }
        if (stop_flag)
            cli_error("stopped after %lld frames; the output is complete up to there", (long long)job.stats.frames);
        tot_frames += job.stats.frames;
        tot_processed += job.stats.processed;
        tot_dropped += job.stats.dropped;
        tot_seconds += job.stats.seconds;
        if (job.stats.processed > 0) {
            p50 = job.stats.latency_ms_p50;
            p99 = job.stats.latency_ms_p99;
        }
        if (rss)
            rss[pass] = rss_kb();
        if (fds)
            fds[pass] = open_fds();
    }
    grin__smile_finish(&smile, events);
    if (events) {
        int smiles = 0;
        double smiling = 0;
        for (size_t k = 0; k < smile.ntracks; k++) {
            const grin__track_summary *t = &smile.tracks[k];
            fprintf(events, "{\"summary\":\"track\",\"id\":%d,\"first_seen\":%.3f,\"last_seen\":%.3f,"
                            "\"seconds_smiling\":%.3f,\"smiles\":%d}\n",
                    t->id, t->first_seen, t->last_seen, t->seconds_smiling, t->smiles);
            smiles += t->smiles;
            smiling += t->seconds_smiling;
        }
        fprintf(events, "{\"summary\":\"run\",\"frames\":%lld,\"processed\":%lld,\"tracks\":%zu,\"smiles\":%d,"
                        "\"seconds_smiling\":%.3f,\"face_observations\":%lld}\n",
                (long long)tot_frames, (long long)tot_processed, smile.ntracks, smiles, smiling,
                (long long)outc.faces_seen);
        if (events != stdout && fclose(events) != 0) {
            cli_error("--events %s: write failed", events_path);
            rc = 1;
        } else if (events == stdout) {
            fflush(stdout);
        }
    }
    if (stats) {
        printf("{" JSON_SCHEMA_FIELD ",\"frames\":%lld,\"processed\":%lld,\"dropped\":%lld,\"fps\":%.1f,\"latency_ms_p50\":%.2f,"
               "\"latency_ms_p99\":%.2f,\"faces\":%zu",
               (long long)tot_frames, (long long)tot_processed, (long long)tot_dropped,
               tot_seconds > 0 ? (double)tot_processed / tot_seconds : 0.0, p50, p99, smile.ntracks);
        if (repeat > 1) {
            printf(",\"rss_kb\":[");
            for (int p = 0; p < repeat; p++)
                printf("%s%ld", p ? "," : "", rss ? rss[p] : -1L);
            printf("],\"open_fds\":[");
            for (int p = 0; p < repeat; p++)
                printf("%s%ld", p ? "," : "", fds ? fds[p] : -1L);
            printf("]");
        }
        printf("}\n");
        fflush(stdout);
    }
    free(rss);
    free(fds);
    grin__smile_free(&smile);
    display_close(disp);
    grin_image_free(&v.img);
    pthread_mutex_destroy(&v.m);
    grin_aligner_free(al);
    grin_aligner_free(check_al);
    grin_classifier_free(check);
    grin_classifier_free(cls);
    grin_landmarker_free(lm);
    grin_cascade_free(cascade);
    return rc;
}
