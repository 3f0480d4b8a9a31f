/* test_pipeline.c — the pipeline for embedding (grin_run) and its runner: frames arrive in
 * order with stable track ids, output is the same for any number of workers, a callback can
 * stop the run, events are JSON lines, bad input fails cleanly; the runner alone with a
 * synthetic source checks ordering and the realtime policy. */
#include "test_util.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/pipeline.h"
#include "pipeline/stages.h"
#include "video/video.h"

typedef struct {
    long long next;
    int frames, faces, stop_at;
    int first_id;
    bool ids_stable, in_order;
    char log[1 << 16];
    size_t loglen;
} seen;

static int on_frame(void *user, const grin_frame_info *f)
{
    seen *s = user;
    if (f->frame != s->next)
        s->in_order = false;
    s->next = f->frame + 1;
    s->frames++;
    s->faces += (int)f->nfaces;
    if (f->nfaces == 1) {
        if (!s->first_id)
            s->first_id = f->faces[0].id;
        else if (f->faces[0].id != s->first_id)
            s->ids_stable = false;
        assert_true(isnan(f->faces[0].smile) || (f->faces[0].smile >= 0 && f->faces[0].smile <= 1));
        assert_true(f->faces[0].quality >= 0 && f->faces[0].quality <= 1);
    }
    assert_non_null(f->image);
    assert_int_equal(f->image->width, 360);
    int n = snprintf(s->log + s->loglen, sizeof s->log - s->loglen, "%lld:%zu:%.4f;%s", f->frame, f->nfaces,
                     f->nfaces ? f->faces[0].smile : -1.0f, f->events);
    if (n > 0 && (size_t)n < sizeof s->log - s->loglen)
        s->loglen += (size_t)n;
    return s->stop_at && s->frames >= s->stop_at;
}

static void run_clip(int detect_workers, int classify_workers, int stop_at, seen *s, grin_run_stats *st)
{
    memset(s, 0, sizeof *s);
    s->ids_stable = s->in_order = true;
    s->stop_at = stop_at;
    grin_run_params p;
    grin_run_params_default(&p);
    p.model = SRC("models/smile.grinnet");
    p.detect_workers = detect_workers;
    p.classify_workers = classify_workers;
    grin_error err;
    /* a 60-frame pattern of the sample clip */
    grin_status r = grin_run(SRC("data/video/franck.webm"), &p, on_frame, s, st, &err);
    assert_int_equal(r, GRIN_OK);
}

static void test_grin_run(void **state)
{
    (void)state;
    if (access("/usr/share/dlib/shape_predictor_68_face_landmarks.dat", R_OK) != 0)
        skip();
    seen a, b;
    grin_run_stats st;
    run_clip(2, 1, 150, &a, &st);
    assert_int_equal(a.frames, 150);
    assert_true(a.in_order);
    assert_true(a.ids_stable);
    assert_true(a.faces >= 140); /* one face throughout, found by frame 4 at the latest */
    assert_true(strstr(a.log, "smile_start") != NULL); /* he smiles in the first seconds */
    run_clip(1, 2, 150, &b, &st);
    assert_int_equal(b.frames, 150);
    assert_string_equal(a.log, b.log); /* the same whatever the workers */
    assert_true(st.frames >= 150 && st.processed >= 150 && st.dropped == 0);
    grin_error err;
    grin_run_params p;
    grin_run_params_default(&p);
    p.model = SRC("models/smile.grinnet");
    assert_int_equal(grin_run("/no/such.webm", &p, on_frame, &a, NULL, &err), GRIN_ERR_IO);
    assert_non_null(strstr(err.msg, "/no/such.webm"));
    p.detect_every = 0;
    assert_int_equal(grin_run(SRC("data/video/franck.webm"), &p, on_frame, &a, NULL, &err), GRIN_ERR_INVALID_ARGUMENT);
    /* 8 bits: the same run, the same face (the shipped model carries a calibration) */
    grin_run_params_default(&p);
    p.model = SRC("models/smile.grinnet");
    p.int8 = 1;
    memset(&b, 0, sizeof b);
    b.ids_stable = b.in_order = true;
    b.stop_at = 60;
    assert_int_equal(grin_run(SRC("data/video/franck.webm"), &p, on_frame, &b, NULL, &err), GRIN_OK);
    assert_int_equal(b.frames, 60);
    assert_true(b.in_order && b.ids_stable && b.faces >= 50);
}

/* ---- grin_pipeline: frames pushed by the caller give what grin_run gives on the same frames */

static void test_pipeline_push(void **state)
{
    (void)state;
    if (access("/usr/share/dlib/shape_predictor_68_face_landmarks.dat", R_OK) != 0)
        skip();
    seen a, b;
    grin_run_stats st, pst;
    run_clip(2, 1, 150, &a, &st);
    memset(&b, 0, sizeof b);
    b.ids_stable = b.in_order = true;
    grin_run_params p;
    grin_run_params_default(&p);
    p.model = SRC("models/smile.grinnet");
    p.detect_workers = 2;
    p.classify_workers = 1;
    grin_error err;
    grin_pipeline *pl;
    assert_int_equal(grin_pipeline_create(&p, on_frame, &b, &pl, &err), GRIN_OK);
    grin__video_in *in;
    assert_int_equal(grin__video_open(SRC("data/video/franck.webm"), NULL, &in, &err), GRIN_OK);
    grin_image rgb = {0}, bgr = {0};
    double t = 0, last = 0;
    for (int i = 0; i < 150; i++) {
        assert_int_equal(grin__video_read(in, &rgb, &t, &err), 1);
        grin_image_free(&bgr); /* pushed as BGR: the pipeline converts what it is given */
        assert_int_equal(grin_image_convert(&rgb, GRIN_PIX_BGR24, &bgr), GRIN_OK);
        assert_int_equal(grin_pipeline_push(pl, &bgr, t, &err), GRIN_OK);
        last = t;
    }
    /* times must increase */
    assert_int_equal(grin_pipeline_push(pl, &bgr, last, &err), GRIN_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.msg, "increase"));
    assert_int_equal(grin_pipeline_finish(pl, &pst, &err), GRIN_OK);
    assert_int_equal(grin_pipeline_push(pl, &bgr, last + 1, &err), GRIN_ERR_INVALID_ARGUMENT);
    /* the run's tracks: franck's one face, seen from the first frame to the last, smiling for a
     * while; a smile open at the end is closed there, in the end events */
    grin_track_summary ts[4];
    assert_int_equal(grin_pipeline_tracks(pl, NULL, 0), (size_t)pst.tracks);
    assert_int_equal(grin_pipeline_tracks(pl, ts, 4), 1);
    assert_true(ts[0].id == 1 && ts[0].first_seen == 0.0 && fabs(ts[0].last_seen - last) < 1e-9);
    assert_true(ts[0].smiles >= 1 && ts[0].seconds_smiling > 0.5 && ts[0].seconds_smiling <= last);
    const char *end = grin_pipeline_end_events(pl);
    assert_true(!end[0] || (strstr(end, "\"at_end\":true") && strstr(end, "\"id\":1,")));
    grin_pipeline_free(pl);
    assert_int_equal(b.frames, 150);
    assert_true(pst.frames == 150 && pst.processed == 150 && pst.dropped == 0 && pst.tracks == st.tracks);
    assert_string_equal(a.log, b.log); /* every frame's faces, smiles and events as grin_run's */
    /* on_frame stops it: later pushes fail, finishing still works */
    memset(&b, 0, sizeof b);
    b.ids_stable = b.in_order = true;
    b.stop_at = 5;
    assert_int_equal(grin_pipeline_create(&p, on_frame, &b, &pl, &err), GRIN_OK);
    grin_status ps = GRIN_OK;
    for (int i = 0; i < 200 && !ps; i++)
        ps = grin_pipeline_push(pl, &rgb, 1.0 + i * 0.04, &err);
    assert_int_equal(ps, GRIN_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.msg, "stopped"));
    assert_int_equal(grin_pipeline_finish(pl, &pst, &err), GRIN_OK);
    assert_int_equal(b.frames, 5);
    grin_pipeline_free(pl);
    /* live frames (realtime): pushes don't wait for the pipeline; what is processed is in order */
    memset(&b, 0, sizeof b);
    b.ids_stable = b.in_order = true;
    p.realtime = 1;
    assert_int_equal(grin_pipeline_create(&p, on_frame, &b, &pl, &err), GRIN_OK);
    for (int i = 0; i < 100; i++)
        assert_int_equal(grin_pipeline_push(pl, &rgb, 10.0 + i * 0.001, &err), GRIN_OK);
    assert_int_equal(grin_pipeline_finish(pl, &pst, &err), GRIN_OK);
    grin_pipeline_free(pl);
    assert_true(pst.frames == 100 && pst.processed + pst.dropped == 100 && pst.processed == b.frames);
    /* bad arguments, and free without finish */
    assert_int_equal(grin_pipeline_create(&p, NULL, NULL, &pl, &err), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_pipeline_create(&p, on_frame, &b, &pl, &err), GRIN_OK);
    grin_image empty = {0};
    assert_int_equal(grin_pipeline_push(pl, &empty, 0, &err), GRIN_ERR_INVALID_ARGUMENT);
    grin_pipeline_free(pl);
    grin_image_free(&rgb);
    grin_image_free(&bgr);
    grin__video_close(in);
}

/* ---- the runner with a synthetic source: order, every frame, realtime drops */

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

typedef struct {
    int n, limit;
    int sleep_us;
} synth;

static int synth_next(void *ctx, grin__frame *f, grin_error *err)
{
    (void)err;
    synth *s = ctx;
    if (s->n >= s->limit)
        return 0;
    if (s->sleep_us)
        sleep_us(s->sleep_us);
    if (!f->rgb.data && grin_image_alloc(8, 8, GRIN_PIX_RGB24, &f->rgb) != GRIN_OK)
        return -1;
    f->rgb.data[0] = (uint8_t)s->n;
    f->t = s->n++ * 0.04;
    return 1;
}

typedef struct {
    int delay_us;
} slow_cfg;

static void *slow_init(const void *cfg, grin_error *err)
{
    (void)err;
    return (void *)cfg;
}

static grin_status slow_process(void *state, grin__frame *f, grin_error *err)
{
    (void)err;
    const slow_cfg *c = state;
    sleep_us(c->delay_us + (f->index % 3) * 500); /* uneven: workers finish out of order */
    grin__frame_event(f, "%lld,", (long long)f->index);
    return GRIN_OK;
}

typedef struct {
    long long last;
    int count;
    bool ordered;
} order_cfg;

static void *order_init(const void *cfg, grin_error *err)
{
    (void)err;
    return (void *)cfg;
}

static grin_status order_process(void *state, grin__frame *f, grin_error *err)
{
    (void)err;
    order_cfg *c = state;
    if (f->index <= c->last)
        c->ordered = false;
    c->last = f->index;
    c->count++;
    return GRIN_OK;
}

static void test_runner(void **state)
{
    (void)state;
    slow_cfg sc = {1000};
    order_cfg oc = {-1, 0, true};
    grin__module stages[2] = {{"slow", 3, false, &sc, slow_init, slow_process, NULL},
                              {"order", 1, true, &oc, order_init, order_process, NULL}};
    synth src = {0, 200, 0};
    grin__pipeline_opts o = {.detect_every = 1};
    grin__pipeline_stats st;
    grin_error err;
    assert_int_equal(grin__pipeline_run(stages, 2, synth_next, &src, &o, &st, &err), GRIN_OK);
    assert_int_equal(st.frames, 200);
    assert_int_equal(st.processed, 200);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(oc.count, 200);
    assert_true(oc.ordered);
    /* realtime: a source faster than the stages loses frames, the rest stay in order */
    oc = (order_cfg){-1, 0, true};
    sc.delay_us = 4000;
    stages[0].workers = 1;
    src = (synth){0, 100, 200};
    o.realtime = true;
    assert_int_equal(grin__pipeline_run(stages, 2, synth_next, &src, &o, &st, &err), GRIN_OK);
    assert_int_equal(st.frames, 100);
    assert_true(st.dropped > 20);
    assert_int_equal(st.processed + st.dropped, 100);
    assert_true(oc.ordered);
}

/* what the landmarks stage left in a frame: its faces' crops, the faces, the grey image */
static void free_frame(grin__frame *f)
{
    for (size_t i = 0; i < f->capfaces; i++)
        grin_image_free(&f->faces[i].crop);
    free(f->faces);
    grin_image_free(&f->gray);
}

/* the landmarks stage on a photo of three people, as video frames: a second, shifted and larger
 * box on a tracked face starts no track (and alone still confirms it); a face that no detection
 * confirms twice ends, and when it comes back within the hold time it gets its id again */
static void test_tracking(void **state)
{
    (void)state;
    if (access(GRIN_DEFAULT_LANDMARK_MODEL, R_OK) != 0)
        skip();
    grin_error err = {{0}};
    grin_landmarker *lm;
    grin_aligner *al;
    grin_align_params ap;
    grin_align_params_default(&ap);
    assert_int_equal(grin_landmarker_load(GRIN_DEFAULT_LANDMARK_MODEL, &lm, &err), GRIN_OK);
    assert_int_equal(grin_aligner_create(lm, &ap, &al, &err), GRIN_OK);
    grin__landmarks_cfg cfg = {lm, al, false, 2, 1.0, NULL, NULL, false}; /* detections alone confirm */
    void *st = grin__stage_landmarks.init(&cfg, &err);
    assert_non_null(st);
    grin__frame f;
    memset(&f, 0, sizeof f);
    assert_int_equal(grin_image_read(SRC("data/samples/2008_001322.jpg"), GRIN_PIX_GRAY8, &f.gray, &err), GRIN_OK);
    const grin_rect faces[3] = {{348, 146, 100, 100}, {97, 148, 91, 91}, {224, 205, 77, 77}}; /* grin detect */
    grin_rect dets[6];
    /* what each frame's detector returns: 1 the three faces, 2 the faces and a ghost box on each
     * (up by 40%, 1.4x as large), 3 the ghosts alone, 0 nothing (a frame between detections);
     * frames 6 and 8 miss face 0, frame 12 has it back */
    const int plan[14] = {1, 2, 0, 3, 0, 1, -1, 0, -1, 0, 1, 0, 1, 0};
    int ids_at[14][3];
    for (int k = 0; k < 14; k++) {
        f.index = k;
        f.t = 0.04 * k;
        f.nfaces = 0;
        f.detect = plan[k] != 0;
        f.ndets = 0;
        for (int i = 0; i < 3; i++) {
            grin_rect b = faces[i], g = {b.x - b.w / 5, b.y - 2 * b.h / 5, 7 * b.w / 5, 7 * b.h / 5};
            if (plan[k] == -1 && i == 0)
                continue;
            if (plan[k] == 1 || plan[k] == 2 || plan[k] == -1)
                dets[f.ndets++] = b;
            if (plan[k] == 2 || plan[k] == 3)
                dets[f.ndets++] = g;
        }
        f.dets = dets;
        assert_int_equal(grin__stage_landmarks.process(st, &f, &err), GRIN_OK);
        for (int i = 0; i < 3; i++)
            ids_at[k][i] = 0;
        for (size_t i = 0; i < f.nfaces; i++) {
            assert_true(f.faces[i].quality >= 0 && f.faces[i].quality <= 1);
            assert_true(f.faces[i].decided == (f.faces[i].quality >= GRIN_QUALITY_MIN));
            int cx = f.faces[i].box.x + f.faces[i].box.w / 2, cy = f.faces[i].box.y + f.faces[i].box.h / 2;
            for (int j = 0; j < 3; j++)
                if (cx > faces[j].x && cx < faces[j].x + faces[j].w && cy > faces[j].y && cy < faces[j].y + faces[j].h)
                    ids_at[k][j] = f.faces[i].id;
        }
        if (k < 8) /* face 0 goes after its second missed detection (frame 8) */
            assert_int_equal((int)f.nfaces, 3);
        if (k >= 8 && k < 10)
            assert_int_equal((int)f.nfaces, 2);
    }
    for (int k = 0; k < 14; k++)
        for (int j = 0; j < 3; j++)
            if (!(j == 0 && k >= 8 && k < 10))
                assert_int_equal(ids_at[k][j], ids_at[0][j]); /* the same ids throughout */
    assert_int_equal((int)f.nfaces, 3);
    grin__stage_landmarks.destroy(st);
    free_frame(&f);
    grin_aligner_free(al);
    grin_landmarker_free(lm);
}

/* with the face check: the three faces pass it and get decisions; a box on the background and a
 * box beside a face (moved down by half: landmarks that can't sit right) start no track */
static void test_face_check(void **state)
{
    (void)state;
    if (access(GRIN_DEFAULT_LANDMARK_MODEL, R_OK) != 0)
        skip();
    grin_error err = {{0}};
    grin_landmarker *lm;
    grin_aligner *al, *cal;
    grin_classifier *check;
    grin_align_params ap;
    grin_align_params_default(&ap);
    assert_int_equal(grin_landmarker_load(GRIN_DEFAULT_LANDMARK_MODEL, &lm, &err), GRIN_OK);
    assert_int_equal(grin_aligner_create(lm, &ap, &al, &err), GRIN_OK);
    assert_int_equal(grin_classifier_load(SRC("models/face_check.grinnet"), &check, &err), GRIN_OK);
    grin_classifier_info ki;
    grin_classifier_get_info(check, &ki);
    assert_int_equal(grin_aligner_create(lm, &ki.align, &cal, &err), GRIN_OK);
    grin__landmarks_cfg cfg = {lm, al, false, 2, 1.0, check, cal, false};
    void *st = grin__stage_landmarks.init(&cfg, &err);
    grin__frame f;
    memset(&f, 0, sizeof f);
    assert_int_equal(grin_image_read(SRC("data/samples/2008_001322.jpg"), GRIN_PIX_GRAY8, &f.gray, &err), GRIN_OK);
    grin_rect dets[5] = {{348, 146, 100, 100}, {97, 148, 91, 91}, {224, 205, 77, 77}, {10, 10, 80, 80},
                         {348, 196, 100, 100}};
    f.detect = true;
    f.dets = dets;
    f.ndets = 3;
    assert_int_equal(grin__stage_landmarks.process(st, &f, &err), GRIN_OK);
    assert_int_equal((int)f.nfaces, 3);
    for (size_t i = 0; i < f.nfaces; i++)
        assert_true(f.faces[i].decided && f.faces[i].quality >= GRIN_FACE_CHECK_MIN);
    grin__stage_landmarks.destroy(st);
    st = grin__stage_landmarks.init(&cfg, &err);
    f.dets = dets + 3; /* the background, and a box half a face below one */
    f.ndets = 2;
    f.nfaces = 0;
    assert_int_equal(grin__stage_landmarks.process(st, &f, &err), GRIN_OK);
    assert_int_equal((int)f.nfaces, 0);
    grin__stage_landmarks.destroy(st);
    free_frame(&f);
    grin_classifier_free(check);
    grin_aligner_free(cal);
    grin_aligner_free(al);
    grin_landmarker_free(lm);
}

/* a clip whose display matrix says "turn 90 degrees clockwise" (a phone filmed upright) is read
 * turned: a 64x32 frame with its left half white comes out 32x64 with its top half white; 180
 * turns it upside down */
static void test_video_rotation(void **state)
{
    (void)state;
    for (int rot = 90; rot <= 180; rot += 90) {
        char path[256];
        snprintf(path, sizeof path, "/tmp/grin-rot-%d-%d.mp4", (int)getpid(), rot);
        grin_error err = {{0}};
        grin__video_out *o;
        assert_int_equal(grin__video_out_open_rotated(path, 64, 32, 25, rot, &o, &err), GRIN_OK);
        grin_image img;
        assert_int_equal(grin_image_alloc(64, 32, GRIN_PIX_RGB24, &img), GRIN_OK);
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 64; x++)
                memset(img.data + (size_t)y * img.stride + 3 * x, x < 32 ? 255 : 0, 3);
        for (int k = 0; k < 5; k++)
            assert_int_equal(grin__video_out_write(o, &img, &err), GRIN_OK);
        assert_int_equal(grin__video_out_close(o, &err), GRIN_OK);
        grin_image_free(&img);
        grin__video_in *in;
        assert_int_equal(grin__video_open(path, NULL, &in, &err), GRIN_OK);
        assert_int_equal(grin__video_rotation(in), rot);
        grin_image f = {0};
        double t;
        assert_int_equal(grin__video_read(in, &f, &t, &err), 1);
        const uint8_t *a, *b; /* where white must be, and where black */
        if (rot == 90) {
            assert_int_equal(f.width, 32);
            assert_int_equal(f.height, 64);
            a = f.data + 10 * (size_t)f.stride + 3 * 16;
            b = f.data + 54 * (size_t)f.stride + 3 * 16;
        } else {
            assert_int_equal(f.width, 64);
            assert_int_equal(f.height, 32);
            a = f.data + 16 * (size_t)f.stride + 3 * 54; /* upside down: white on the right */
            b = f.data + 16 * (size_t)f.stride + 3 * 10;
        }
        assert_true(a[0] > 200 && b[0] < 50);
        grin_image_free(&f);
        grin__video_close(in);
        unlink(path);
    }
}

/* frame k at time t for the smile stage: no faces, no events yet */
static void next_frame(grin__frame *f, int k, double t)
{
    f->index = k;
    f->t = t;
    f->nfaces = 0;
    f->nev = 0;
    if (f->events)
        f->events[0] = '\0';
}

/* a face lost for less than the hold time keeps its track open; a face without a decision (its
 * landmarks not trusted) neither starts nor ends a smile, and shows no smile */
static void test_smile_hold(void **state)
{
    (void)state;
    grin__smile_cfg cfg = {.on = 0.6f, .off = 0.4f, .tau = 0.01, .hold = 0.25};
    grin_error err = {{0}};
    void *st = grin__stage_smile.init(&cfg, &err);
    grin__frame f;
    memset(&f, 0, sizeof f);
    /* face 7 on frames 0, 1 (smiling), 4 and 5 (no decision, raw says 0), gone from 6 on */
    const bool here[10] = {1, 1, 0, 0, 1, 1, 0, 0, 0, 0};
    char log[4096] = "";
    for (int k = 0; k < 10; k++) {
        next_frame(&f, k, 0.1 * k);
        grin__face *face = NULL;
        if (here[k]) {
            face = grin__frame_add_face(&f);
            assert_non_null(face);
            face->id = 7;
            face->decided = k < 2;
            face->smile_raw = k < 2 ? 0.95f : 0.0f;
        }
        assert_int_equal(grin__stage_smile.process(st, &f, &err), GRIN_OK);
        if (face && k >= 4) {
            assert_true(isnan(face->smile));
            assert_true(face->smiling); /* the smile holds through frames without a decision */
        }
        if (f.events)
            strncat(log, f.events, sizeof log - strlen(log) - 1);
    }
    assert_non_null(strstr(log, "{\"event\":\"smile_start\",\"id\":7,\"frame\":0"));
    assert_null(strstr(log, "\"frame\":2,")); /* nothing ends while the face is held */
    assert_null(strstr(log, "\"frame\":3,"));
    /* last seen at 0.5 s: ends on the first frame more than 0.25 s later (0.8 s) */
    assert_non_null(strstr(log, "{\"event\":\"track_end\",\"id\":7,\"frame\":8,\"t\":0.800,\"last_seen\":0.500}"));
    assert_non_null(strstr(log, "{\"event\":\"smile_end\",\"id\":7,\"frame\":8,\"t\":0.500"));
    assert_int_equal(cfg.ntracks, 1);
    grin__smile_free(&cfg);
    free(f.faces);
    free(f.events);
}

/* the dwell rule (grin run's default: 0.5 both ways, 0.2 s): a face's first decision takes effect
 * at once; a dip shorter than the dwell changes nothing; a state changes once the smoothed smile
 * has stood past the threshold for the dwell time, frames without a decision neither breaking nor
 * making that time */
static void test_smile_dwell(void **state)
{
    (void)state;
    grin__smile_cfg cfg = {.on = 0.5f, .off = 0.5f, .dwell = 0.2, .tau = 0.001};
    grin_error err = {{0}};
    void *st = grin__stage_smile.init(&cfg, &err);
    grin__frame f;
    memset(&f, 0, sizeof f);
    /* raw per frame (25 fps); -1: no decision */
    const float raw[20] = {0.55f, 0.45f, 0.45f, 0.45f, 0.55f, 0.3f, 0.3f, 0.3f, 0.3f, 0.3f,
                           0.3f,  0.3f,  0.9f,  0.9f,  -1,    -1,   -1,   0.9f, 0.9f, 0.9f};
    const bool smiling[20] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1};
    char log[4096] = "";
    for (int k = 0; k < 20; k++) {
        next_frame(&f, k, 0.04 * k);
        grin__face *face = grin__frame_add_face(&f);
        assert_non_null(face);
        face->id = 3;
        face->decided = raw[k] >= 0;
        face->smile_raw = raw[k] >= 0 ? raw[k] : NAN;
        assert_int_equal(grin__stage_smile.process(st, &f, &err), GRIN_OK);
        if ((bool)face->smiling != smiling[k])
            fail_msg("frame %d: smiling %d, expected %d", k, face->smiling, smiling[k]);
        if (f.events)
            strncat(log, f.events, sizeof log - strlen(log) - 1);
    }
    assert_non_null(strstr(log, "{\"event\":\"smile_start\",\"id\":3,\"frame\":0,"));
    assert_non_null(strstr(log, "{\"event\":\"smile_end\",\"id\":3,\"frame\":10,")); /* 0.3 from 0.20 s */
    assert_non_null(strstr(log, "{\"event\":\"smile_start\",\"id\":3,\"frame\":17,")); /* 0.9 from 0.48 s */
    assert_int_equal(cfg.tracks[0].smiles, 2);
    grin__smile_free(&cfg);
    free(f.faces);
    free(f.events);
}

/* the smile stage alone, on frames with made-up faces: hysteresis, smile and track events, and
 * a long run of short tracks keeps only the open ones in its per-frame work */
static void test_smile_stage(void **state)
{
    (void)state;
    grin__smile_cfg cfg = {.on = 0.6f, .off = 0.4f, .tau = 0.01};
    grin_error err = {{0}};
    void *st = grin__stage_smile.init(&cfg, &err);
    grin__frame f;
    memset(&f, 0, sizeof f);
    /* ids present on each frame (0 ends a list), and each face's raw probability */
    const int ids[][3] = {{1, 2, 0}, {1, 2, 0}, {2, 0, 0}, {2, 3, 0}, {0, 0, 0}};
    const float raw[][3] = {{0.9f, 0.1f}, {0.9f, 0.1f}, {0.1f}, {0.1f, 0.2f}, {0}};
    char log[4096] = "";
    for (int k = 0; k < 5; k++) {
        next_frame(&f, k, 0.1 * k);
        for (int i = 0; i < 3 && ids[k][i]; i++) {
            grin__face *face = grin__frame_add_face(&f);
            assert_non_null(face);
            face->id = ids[k][i];
            face->smile_raw = raw[k][i];
            face->decided = true;
        }
        assert_int_equal(grin__stage_smile.process(st, &f, &err), GRIN_OK);
        if (f.events)
            strncat(log, f.events, sizeof log - strlen(log) - 1);
    }
    assert_non_null(strstr(log, "{\"event\":\"smile_start\",\"id\":1,\"frame\":0"));
    assert_non_null(strstr(log, "{\"event\":\"smile_end\",\"id\":1,\"frame\":2"));
    assert_non_null(strstr(log, "{\"event\":\"track_end\",\"id\":1,\"frame\":2"));
    /* 2 and 3 end together on the last frame, in the order they began */
    const char *e2 = strstr(log, "{\"event\":\"track_end\",\"id\":2,\"frame\":4");
    const char *e3 = strstr(log, "{\"event\":\"track_end\",\"id\":3,\"frame\":4");
    assert_true(e2 && e3 && e2 < e3);
    assert_null(strstr(log, "\"smile_start\",\"id\":2")); /* 2 never smiled */
    assert_int_equal(cfg.ntracks, 3);
    assert_int_equal(cfg.nopen, 0);
    assert_int_equal(cfg.tracks[0].smiles, 1);
    /* a kiosk's day: 20,000 passers-by one after another, one frame each, while one person stays */
    for (int k = 0; k < 20000; k++) {
        f.index = 5 + k;
        f.t = 0.5 + 0.04 * k;
        f.nfaces = 0;
        f.nev = 0;
        grin__face *stay = grin__frame_add_face(&f), *pass = grin__frame_add_face(&f);
        stay->id = 100;
        stay->smile_raw = 0.2f;
        pass->id = 1000 + k;
        pass->smile_raw = 0.2f;
        stay->decided = pass->decided = true;
        assert_int_equal(grin__stage_smile.process(st, &f, &err), GRIN_OK);
        assert_true(cfg.nopen <= 2);
    }
    assert_int_equal(cfg.ntracks, 3 + 1 + 20000);
    grin__smile_finish(&cfg, NULL);
    assert_int_equal(cfg.nopen, 0);
    grin__smile_free(&cfg);
    free(f.faces);
    free(f.events);
}

/* the public video reader and writer: franck's first 30 frames read, written with a frame of
 * another size among them (scaled), read back; bad arguments and missing files refused in words */
static void test_video_api(void **state)
{
    (void)state;
    grin_error err = {{0}};
    grin_video_reader *r = NULL;
    grin_video_reader_options o;
    grin_video_reader_options_default(&o);
    assert_int_equal(grin_video_open(SRC("data/video/franck.webm"), &o, &r, &err), GRIN_OK);
    grin_video_info info;
    grin_video_get_info(r, &info, NULL, 0);
    assert_true(info.fps > 24.9 && info.fps < 25.1 && info.duration > 19 && !info.live && !info.folder);
    char path[] = "/tmp/grin-video-api-XXXXXX";
    assert_non_null(mkdtemp(path));
    char out[64];
    snprintf(out, sizeof out, "%s/v.mkv", path);
    grin_video_writer *w = NULL;
    grin_image f = {0}, small = {0};
    double t = -1, last = -1;
    for (int k = 0; k < 30; k++) {
        assert_int_equal(grin_video_read(r, &f, &t, &err), 1);
        assert_true(t > last);
        last = t;
        if (!w)
            assert_int_equal(grin_video_writer_open(out, f.width, f.height, info.fps, 0, &w, &err), GRIN_OK);
        assert_int_equal(grin_video_write(w, &f, &err), GRIN_OK);
    }
    assert_int_equal(grin_image_alloc(f.width / 2, f.height / 3, GRIN_PIX_RGB24, &small), GRIN_OK);
    memset(small.data, 200, (size_t)small.stride * (size_t)small.height);
    assert_int_equal(grin_video_write(w, &small, &err), GRIN_OK); /* scaled to the video's size */
    assert_int_equal(grin_video_writer_close(w, &err), GRIN_OK);
    grin_video_close(r);
    int w0 = f.width, h0 = f.height, n = 0;
    assert_int_equal(grin_video_open(out, NULL, &r, &err), GRIN_OK);
    while (grin_video_read(r, &f, &t, &err) == 1) {
        assert_int_equal(f.width, w0);
        assert_int_equal(f.height, h0);
        n++;
    }
    assert_int_equal(n, 31);
    assert_true(f.data[(size_t)(h0 / 2) * f.stride + 3 * (size_t)(w0 / 2)] > 180); /* the grey frame, whole */
    grin_video_get_info(r, &info, NULL, 0);
    assert_int_equal(info.skipped + info.errors, 0);
    grin_video_close(r);
    unlink(out);
    /* what is refused, and how */
    assert_int_not_equal(grin_video_open("/nonexistent/x.webm", NULL, &r, &err), GRIN_OK);
    assert_null(r);
    assert_non_null(strstr(err.msg, "/nonexistent/x.webm"));
    o.stall_seconds = 0;
    assert_int_equal(grin_video_open(SRC("data/video/franck.webm"), &o, &r, &err), GRIN_ERR_INVALID_ARGUMENT);
    snprintf(out, sizeof out, "%s/v.notavideo", path);
    assert_int_not_equal(grin_video_writer_open(out, 64, 64, 25, 0, &w, &err), GRIN_OK);
    assert_null(w);
    assert_non_null(strstr(err.msg, "v.notavideo"));
    snprintf(out, sizeof out, "%s/v.mp4", path);
    assert_int_equal(grin_video_writer_open(out, 0, 64, 25, 0, &w, &err), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_video_writer_open(out, 64, 64, 25, 45, &w, &err), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_video_writer_open(out, 64, 64, 0, 0, &w, &err), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_video_read(NULL, &f, &t, &err), -1);
    assert_int_equal(access(out, F_OK), -1); /* nothing left behind by the refusals */
    grin_image_free(&f);
    grin_image_free(&small);
    rmdir(path);
}

/* the annotations: a smiling face's box in green, a face without a decision in grey; lines grow
 * with the frame */
static void test_draw_faces(void **state)
{
    (void)state;
    grin_image img;
    assert_int_equal(grin_image_alloc(320, 240, GRIN_PIX_RGB24, &img), GRIN_OK);
    memset(img.data, 0, (size_t)img.stride * 240);
    grin_track_face f[2] = {{.id = 1, .box = {40, 60, 80, 80}, .smile = 0.9f, .smile_raw = 0.9f, .smiling = 1},
                            {.id = 2, .box = {180, 60, 80, 80}, .smile = NAN, .smile_raw = NAN}};
    grin_draw_track_faces(&img, f, 2);
    const uint8_t *g = img.data + 100 * (size_t)img.stride + 3 * 40, *q = img.data + 100 * (size_t)img.stride + 3 * 180;
    assert_true(g[0] == 40 && g[1] == 220 && g[2] == 60);   /* smiling: green */
    assert_true(q[0] == 160 && q[1] == 160 && q[2] == 160); /* no decision: grey */
    assert_int_equal(img.data[100 * (size_t)img.stride + 3 * 80], 0); /* inside the box: untouched */
    grin_draw_track_faces(&img, NULL, 0);                              /* nothing to draw: nothing */
    grin_image big = {.width = 1920, .height = 1080};
    assert_int_equal(grin_draw_scale(&img), 1);
    assert_int_equal(grin_draw_scale(&big), 3);
    grin_image_free(&img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_runner), cmocka_unit_test(test_grin_run), cmocka_unit_test(test_pipeline_push),
                                       cmocka_unit_test(test_smile_stage),
        cmocka_unit_test(test_smile_dwell), cmocka_unit_test(test_smile_hold),
                                       cmocka_unit_test(test_tracking), cmocka_unit_test(test_face_check),
                                       cmocka_unit_test(test_video_rotation), cmocka_unit_test(test_video_api), cmocka_unit_test(test_draw_faces)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
