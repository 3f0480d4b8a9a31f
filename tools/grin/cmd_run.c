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

/* ---- what each processed frame is turned into (on the pipeline's thread, in order): its JSON
 * line and events, the annotations, the video frame, the live view, the progress line */
typedef struct {
    FILE *events;
    grin_video_writer *video;
    bool draw, overlay;
    view *show;
    double *declared; /* the progress line (NULL: none) */
    long long faces_seen;
    double last_ms, fps_ema;
    bool failed; /* writing the video failed: the run stops */
    char error[256];
} frame_out;

static int on_frame(void *user, const grin_frame_info *f)
{
    frame_out *o = user;
    if (o->events) {
        fprintf(o->events, "{\"frame\":%lld,\"t\":%.3f,\"faces\":[", f->frame, f->t);
        for (size_t i = 0; i < f->nfaces; i++) {
            const grin_track_face *face = &f->faces[i];
            char sm[16] = "null", raw[16] = "null"; /* no decision where the landmarks can't be trusted */
            if (isfinite(face->smile) && isfinite(face->smile_raw)) {
                snprintf(sm, sizeof sm, "%.4f", face->smile);
                snprintf(raw, sizeof raw, "%.4f", face->smile_raw);
            }
            fprintf(o->events,
                    "%s{\"id\":%d,\"box\":[%d,%d,%d,%d],\"smile\":%s,\"raw\":%s,\"smiling\":%s,\"aligned\":%s,"
                    "\"quality\":%.3f}",
                    i ? "," : "", face->id, face->box.x, face->box.y, face->box.w, face->box.h, sm, raw,
                    face->smiling ? "true" : "false", face->aligned ? "true" : "false", face->quality);
        }
        fputs("]}\n", o->events);
        fputs(f->events, o->events);
    }
    o->faces_seen += (long long)f->nfaces;
    grin_image *img = (grin_image *)f->image; /* (the frame is ours to draw on during the call) */
    if (o->draw) {
        grin_draw_track_faces(img, f->faces, f->nfaces);
        if (o->overlay) { /* the live view's corner: frame rate and latency */
            double now = now_ms();
            if (o->last_ms > 0) {
                double inst = 1000.0 / fmax(now - o->last_ms, 1e-3);
                o->fps_ema = o->fps_ema > 0 ? 0.9 * o->fps_ema + 0.1 * inst : inst;
            }
            o->last_ms = now;
            char line[96];
            snprintf(line, sizeof line, "%.1f fps  latency %.1f ms", o->fps_ema, f->latency_ms);
            grin_rgb bg = {0, 0, 0};
            grin_draw_text(img, 4, 4, line, grin_draw_scale(img), (grin_rgb){255, 255, 255}, &bg);
        }
    }
    if (o->video && !o->failed) {
        grin_error e = {{0}};
        if (grin_video_write(o->video, img, &e) != GRIN_OK) {
            o->failed = true;
            snprintf(o->error, sizeof o->error, "%.250s", e.msg);
            return 1;
        }
    }
    if (o->show)
        view_show(o->show, img);
    if (o->declared)
        run_progress(o->declared, f->frame, f->t);
    return 0;
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
    grin_run_params p; /* the library's defaults for what the options below leave */
    grin_run_params_default(&p);
    int det_workers = 0, cls_workers = 1, every = p.detect_every, repeat = 1, frames = 0,
        detect_width = p.detect_max_width;
    double detect_edge = p.detect_edge, smile_on = p.smile_on, smile_off = p.smile_off, smile_dwell = p.smile_dwell;
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
    p.model = model, p.landmarks = lmk, p.cascade = o.cascade, p.profile_cascade = o.profile_path;
    p.detect = o.params, p.detect_every = every, p.detect_max_width = detect_width, p.detect_edge = detect_edge;
    p.detect_workers = det_workers, p.classify_workers = cls_workers;
    p.int8 = int8, p.no_landmark_branch = no_branch, p.face_check = check_path, p.no_face_check = no_check;
    p.smile_on = (float)smile_on, p.smile_off = (float)smile_off, p.smile_dwell = smile_dwell;
    grin_error err = {{0}};
    FILE *events = NULL;
    int rc = 0;
    view v = {.dirty = false};
    pthread_mutex_init(&v.m, NULL);
    live_window *disp = NULL;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* a closed terminal: finish the video and the events as for Ctrl-C */
    stop_flag = 0;
    long *rss = calloc((size_t)repeat, sizeof *rss), *fds = calloc((size_t)repeat, sizeof *fds);
    long long tot_frames = 0, tot_processed = 0, tot_dropped = 0, faces_seen = 0;
    double tot_seconds = 0, p50 = 0, p99 = 0, smiling = 0;
    int tracks = 0, smiles = 0;
    grin_image img = {0};
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
        /* a folder of photos: each photo on its own (detected, tracks only where boxes overlap) */
        p.photos = info.folder;
        p.realtime = (realtime_set ? realtime : info.live) ? 1 : 0;
        double declared = info.duration;
        frame_out out = {.show = display ? &v : NULL, .overlay = display};
        if (!display && !(events_path && !strcmp(events_path, "-") && isatty(1)))
            out.declared = &declared; /* (not between event lines on a terminal) */
        grin_pipeline *pl = NULL;
        if (grin_pipeline_create(&p, on_frame, &out, &pl, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            grin_video_close(in);
            rc = 1;
            break;
        }
        if (pass == 0 && events_path) {
            events = strcmp(events_path, "-") ? fopen(events_path, "w") : stdout;
            if (!events)
                cli_error("--events %s: cannot create: %s", events_path, strerror(errno));
        }
        if (pass == 0 && display) {
            char why[256];
            disp = display_open(why, sizeof why);
            if (!disp)
                cli_error("--display: %s", why);
        }
        bool ready = !(events_path && !events) && !(display && !disp);
        char dwhy[256];
        if (ready && display && !display_window(disp, dwhy, sizeof dwhy)) {
            cli_error("--display: %s", dwhy);
            ready = false;
        }
        if (!ready) {
            grin_pipeline_free(pl);
            grin_video_close(in);
            rc = 1;
            break;
        }
        out.events = events;
        /* the first frame: the annotated video's size */
        double t = 0, last_t = 0;
        int got = grin_video_read(in, &img, &t, &err);
        if (out_path && pass == 0) {
            if (got <= 0) {
                cli_error("%s: %s", input, got < 0 ? err.msg : "no frames");
                grin_pipeline_free(pl);
                grin_video_close(in);
                rc = 1;
                break;
            }
            if (grin_video_writer_open(out_path, img.width, img.height, info.fps > 0 ? info.fps : 25, 0, &out.video,
                                       &err) != GRIN_OK) {
                cli_error("%s", err.msg);
                grin_pipeline_free(pl);
                grin_video_close(in);
                rc = 1;
                break;
            }
        }
        out.draw = out.video || display;
        if (events && pass == 0) { /* the stream's first line: what it is and where it came from */
            fprintf(events, "{" JSON_SCHEMA_FIELD ",\"source\":");
            json_string(events, input);
            fprintf(events, ",\"fps\":");
            fprintf(events, info.fps > 0 ? "%.3f" : "null", info.fps);
            fprintf(events, ",\"duration\":");
            fprintf(events, info.duration > 0 ? "%.3f" : "null", info.duration);
            fprintf(events, "}\n");
        }
        /* read, pace, push: the pipeline works on its own threads meanwhile */
        long long count = 0;
        int warned = 0, skipped = 0;
        bool ended = false, source_failed = false;
        double t0 = now_ms(), pace_fps = pace ? info.fps : 0;
        for (;;) {
            grin_video_get_info(in, &info, NULL, 0);
            if (info.skipped > skipped && warned < 5) { /* each bad photo or packet named as it goes */
                warned++;
                cli_error("skipped an undecodable frame or packet%s%s", got >= 0 && err.msg[0] ? ": " : "",
                          got >= 0 ? err.msg : "");
            }
            skipped = info.skipped;
            if (got == 0) {
                ended = true;
                break;
            }
            if (got < 0) {
                source_failed = true;
                cli_error("%s (the output up to frame %lld is complete)", err.msg, count);
                rc = 1;
                break;
            }
            if (pace_fps > 0) { /* --pace: no faster than the file's own rate, as a camera */
                double due = t0 + (double)count * 1000.0 / pace_fps, now = now_ms();
                if (due > now) {
                    struct timespec ts = {(time_t)((due - now) / 1000.0), (long)(fmod(due - now, 1000.0) * 1e6)};
                    nanosleep(&ts, NULL);
                }
            }
            if (grin_pipeline_push(pl, &img, t, &err) != GRIN_OK) {
                if (!out.failed) {
                    cli_error("%s", err.msg);
                    rc = 1;
                }
                break;
            }
            count++;
            last_t = t;
            if (display) {
                if (display_poll_quit(disp))
                    stop_flag = 1;
                pthread_mutex_lock(&v.m);
                if (v.dirty && v.img.data) /* copied into the window's texture while the lock is held */
                    display_show(disp, &v.img);
                v.dirty = false;
                pthread_mutex_unlock(&v.m);
            }
            if (stop_flag || out.failed || (frames > 0 && count >= frames))
                break;
            err.msg[0] = '\0';
            got = grin_video_read(in, &img, &t, &err);
        }
        grin_run_stats st;
        if (grin_pipeline_finish(pl, &st, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            rc = 1;
        }
        cli_progress_end();
        if (out.failed) {
            cli_error("%s", out.error);
            rc = 1;
        }
        /* damaged input: the output is complete for what could be read, but say so and fail */
        char first[160];
        grin_video_get_info(in, &info, first, sizeof first);
        if (ended && !stop_flag && !source_failed && info.duration > 0 && info.fps > 0 &&
            last_t + 3.0 / info.fps < info.duration * 0.99) {
            cli_error("%s: ends at %.2f s but declares %.2f s: truncated (the output covers what was there)", input,
                      last_t, info.duration);
            rc = 1;
        }
        if (info.skipped > 0) {
            cli_error("%s: %d undecodable packets or frames were skipped", input, info.skipped);
            rc = 1;
        }
        if (info.errors > 0) { /* damage the demuxer or decoder detected and went past */
            cli_error("%s: damaged: FFmpeg reported %d error%s reading it (the first: %s); frames there may be "
                      "missing or glitched", input, info.errors, info.errors > 1 ? "s" : "", first);
            if (!info.live) /* (a live stream joined mid-way has some as a rule) */
                rc = 1;
        }
        grin_video_close(in);
        if (out.video && grin_video_writer_close(out.video, &err) != GRIN_OK) {
            cli_error("%s", err.msg);
            rc = 1;
        }
        if (stop_flag)
            cli_error("stopped after %lld frames; the output is complete up to there", st.frames);
        /* the smiles the end closed, and each track */
        size_t nt = grin_pipeline_tracks(pl, NULL, 0);
        grin_track_summary *ts = nt ? calloc(nt, sizeof *ts) : NULL;
        if (ts)
            grin_pipeline_tracks(pl, ts, nt);
        if (events) {
            fputs(grin_pipeline_end_events(pl), events);
            for (size_t k = 0; ts && k < nt; k++)
                fprintf(events, "{\"summary\":\"track\",\"id\":%d,\"first_seen\":%.3f,\"last_seen\":%.3f,"
                                "\"seconds_smiling\":%.3f,\"smiles\":%d}\n",
                        ts[k].id, ts[k].first_seen, ts[k].last_seen, ts[k].seconds_smiling, ts[k].smiles);
        }
        for (size_t k = 0; ts && k < nt; k++)
            smiles += ts[k].smiles, smiling += ts[k].seconds_smiling;
        free(ts);
        tracks += (int)nt;
        faces_seen += out.faces_seen;
        grin_pipeline_free(pl);
        tot_frames += st.frames;
        tot_processed += st.processed;
        tot_dropped += st.dropped;
        tot_seconds += st.seconds;
        if (st.processed > 0) {
            p50 = st.latency_ms_p50;
            p99 = st.latency_ms_p99;
        }
        if (rss)
            rss[pass] = rss_kb();
        if (fds)
            fds[pass] = open_fds();
    }
    grin_image_free(&img);
    if (events) {
        fprintf(events, "{\"summary\":\"run\",\"frames\":%lld,\"processed\":%lld,\"tracks\":%d,\"smiles\":%d,"
                        "\"seconds_smiling\":%.3f,\"face_observations\":%lld}\n",
                tot_frames, tot_processed, tracks, smiles, smiling, faces_seen);
        if (events != stdout && fclose(events) != 0) {
            cli_error("--events %s: write failed", events_path);
            rc = 1;
        } else if (events == stdout) {
            fflush(stdout);
        }
    }
    if (stats) {
        printf("{" JSON_SCHEMA_FIELD ",\"frames\":%lld,\"processed\":%lld,\"dropped\":%lld,\"fps\":%.1f,\"latency_ms_p50\":%.2f,"
               "\"latency_ms_p99\":%.2f,\"faces\":%d",
               tot_frames, tot_processed, tot_dropped, tot_seconds > 0 ? (double)tot_processed / tot_seconds : 0.0, p50,
               p99, tracks);
        if (repeat > 1) {
            printf(",\"rss_kb\":[");
            for (int k = 0; k < repeat; k++)
                printf("%s%ld", k ? "," : "", rss ? rss[k] : -1L);
            printf("],\"open_fds\":[");
            for (int k = 0; k < repeat; k++)
                printf("%s%ld", k ? "," : "", fds ? fds[k] : -1L);
            printf("]");
        }
        printf("}\n");
        fflush(stdout);
    }
    free(rss);
    free(fds);
    display_close(disp);
    grin_image_free(&v.img);
    pthread_mutex_destroy(&v.m);
    return rc;
}
