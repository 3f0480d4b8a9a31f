/* test_core.c — status strings, images and conversions, drawing, the worker pool. */
#include "test_util.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/json.h"

static void test_status_strings(void **state)
{
    (void)state;
    assert_string_equal(grin_status_str(GRIN_OK), "ok");
    for (int s = GRIN_OK; s <= GRIN_ERR_INTERNAL; s++) {
        const char *m = grin_status_str((grin_status)s);
        assert_non_null(m);
        assert_true(strlen(m) > 1);
    }
    assert_string_equal(grin_status_str((grin_status)999), "unknown status");
    assert_non_null(strstr(grin_version(), "."));
    assert_true(strlen(grin_cpu_features()) > 0);
}

static void test_image_alloc_limits(void **state)
{
    (void)state;
    grin_image img;
    assert_int_equal(grin_image_alloc(0, 10, GRIN_PIX_GRAY8, &img), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_image_alloc(10, 10, (grin_pixfmt)42, &img), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_image_alloc(100000, 100000, GRIN_PIX_RGB24, &img), GRIN_ERR_TOO_LARGE);
    assert_int_equal(grin_image_alloc(16384, 16384, GRIN_PIX_GRAY8, &img), GRIN_ERR_TOO_LARGE);
    assert_int_equal(grin_image_alloc(13, 7, GRIN_PIX_RGB24, &img), GRIN_OK);
    assert_true(img.stride >= 39);
    assert_int_equal(img.stride % 32, 0);
    grin_image_free(&img);
    assert_null(img.data);
    grin_image_free(NULL);
}

/* OpenCV 4's cvtColor(BGR2GRAY) values, computed with cv2 for these pixels. */
static void test_gray_matches_opencv(void **state)
{
    (void)state;
    static const uint8_t px[][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {12, 200, 77},
                                    {255, 255, 255}, {1, 2, 3}, {174, 180, 171}};
    static const uint8_t want[] = {76, 150, 29, 130, 255, 2, 177};
    size_t n = sizeof want;
    grin_image rgb, gray, bgr, gray2;
    assert_int_equal(grin_image_alloc((int)n, 1, GRIN_PIX_RGB24, &rgb), GRIN_OK);
    for (size_t i = 0; i < n; i++)
        memcpy(rgb.data + 3 * i, px[i], 3);
    assert_int_equal(grin_image_convert(&rgb, GRIN_PIX_GRAY8, &gray), GRIN_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(gray.data[i], want[i]);
    assert_int_equal(grin_image_convert(&rgb, GRIN_PIX_BGR24, &bgr), GRIN_OK);
    assert_int_equal(bgr.data[0], 0);
    assert_int_equal(bgr.data[2], 255);
    assert_int_equal(grin_image_convert(&bgr, GRIN_PIX_GRAY8, &gray2), GRIN_OK);
    assert_memory_equal(gray.data, gray2.data, n);
    grin_image_free(&rgb);
    grin_image_free(&gray);
    grin_image_free(&bgr);
    grin_image_free(&gray2);
}

static void test_draw_clips(void **state)
{
    (void)state;
    grin_image img;
    assert_int_equal(grin_image_alloc(40, 30, GRIN_PIX_RGB24, &img), GRIN_OK);
    memset(img.data, 0, (size_t)img.stride * 30);
    grin_rgb red = {255, 0, 0};
    grin_draw_rect(&img, 5, 5, 10, 10, 1, red);
    assert_int_equal(img.data[5 * img.stride + 3 * 5], 255);      /* top-left corner */
    assert_int_equal(img.data[14 * img.stride + 3 * 14], 255);    /* bottom-right corner */
    assert_int_equal(img.data[10 * img.stride + 3 * 10], 0);      /* inside stays */
    /* boxes far outside, huge or negative must not crash */
    grin_draw_rect(&img, -100, -100, 1000, 1000, 3, red);
    grin_draw_rect(&img, 2147483600, 2147483600, 100, 100, 2, red);
    grin_draw_rect(&img, 10, 10, -5, 3, 1, red);
    int w = grin_draw_text(&img, 1, 1, "ab 0.93", 1, red, NULL);
    assert_int_equal(w, 7 * 6);
    w = grin_draw_text(&img, 35, 25, "\x01\xff overflow text", 2, red, &red);
    assert_true(w > 0);
    grin_draw_text(NULL, 0, 0, "x", 1, red, NULL);
    grin_image_free(&img);
}

typedef struct {
    atomic_int sum;
    atomic_int count;
    atomic_int max_thread;
} pool_ctx;

static void pool_task(void *ctx, int task, int thread)
{
    pool_ctx *p = ctx;
    atomic_fetch_add(&p->sum, task);
    atomic_fetch_add(&p->count, 1);
    int m = atomic_load(&p->max_thread);
    while (thread > m && !atomic_compare_exchange_weak(&p->max_thread, &m, thread))
        ;
}

static void test_pool(void **state)
{
    (void)state;
    for (int threads = 1; threads <= 4; threads++) {
        grin__pool *pool = grin__pool_create(threads);
        assert_non_null(pool);
        assert_int_equal(grin__pool_threads(pool), threads);
        for (int round = 0; round < 50; round++) {
            pool_ctx c;
            atomic_init(&c.sum, 0);
            atomic_init(&c.count, 0);
            atomic_init(&c.max_thread, 0);
            int n = 1 + round * 7;
            grin__pool_run(pool, pool_task, &c, n);
            assert_int_equal(atomic_load(&c.count), n);
            assert_int_equal(atomic_load(&c.sum), n * (n - 1) / 2);
            assert_true(atomic_load(&c.max_thread) < threads);
        }
        grin__pool_run(pool, pool_task, NULL, 0); /* no tasks: nothing runs */
        grin__pool_free(pool);
    }
}

/* the model folder: GRIN_MODEL_DIR wins; else a real, readable file (in a build tree: the source
 * tree's models/); names with a folder and small buffers are refused */
static void test_model_path(void **state)
{
    (void)state;
    char out[4096], tiny[8];
    setenv("GRIN_MODEL_DIR", "/opt/models", 1);
    assert_int_equal(grin_default_model_path(GRIN_SMILE_MODEL, out, sizeof out), GRIN_OK);
    assert_string_equal(out, "/opt/models/smile.grinnet");
    assert_int_equal(grin_default_model_path(GRIN_SMILE_MODEL, tiny, sizeof tiny), GRIN_ERR_BUFFER_TOO_SMALL);
    unsetenv("GRIN_MODEL_DIR");
    assert_int_equal(grin_default_model_path(GRIN_SMILE_MODEL, out, sizeof out), GRIN_OK);
    assert_int_equal(access(out, R_OK), 0);
    assert_int_equal(grin_default_model_path("../x", out, sizeof out), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_default_model_path("", out, sizeof out), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_default_model_path(GRIN_SMILE_MODEL, NULL, 10), GRIN_ERR_INVALID_ARGUMENT);
}

/* the JSON reader: values of every kind, escapes and surrogate pairs decoded, and malformed or
 * hostile text refused with a message that says what and where */
static void test_json(void **state)
{
    (void)state;
    char why[160];
    const char *ok = " {\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\\\"\"], \"b\": {}, \"c\": []} ";
    grin__json *v = grin__json_parse(ok, strlen(ok), why, sizeof why);
    assert_non_null(v);
    assert_int_equal(v->kind, GRIN__JSON_OBJECT);
    assert_int_equal(v->n, 3);
    const grin__json *a = grin__json_get(v, "a");
    assert_non_null(a);
    assert_int_equal(a->kind, GRIN__JSON_ARRAY);
    assert_int_equal(a->n, 6);
    assert_true(a->items[0].number == 1.0 && a->items[1].number == -2500.0);
    assert_true(a->items[2].boolean && !a->items[3].boolean && a->items[4].kind == GRIN__JSON_NULL);
    assert_string_equal(grin__json_string(&a->items[5]), "x\xc3\xa9\xf0\x9f\x98\x80\n\"");
    assert_int_equal(grin__json_get(v, "b")->kind, GRIN__JSON_OBJECT);
    assert_null(grin__json_get(v, "d"));
    assert_null(grin__json_string(a));
    grin__json_free(v);
    const struct { const char *text, *why; } bad[] = {
        {"", "unexpected end"},          {"[1,]", "unexpected character"}, {"{\"a\" 1}", "expected ':'"},
        {"01", "leading zero"},          {"1.", "bad number"},             {"-", "bad number"},
        {"[1 2]", "expected ','"},       {"\"abc", "unterminated string"},  {"\"\\ud800\"", "unpaired surrogate"},
        {"\"\\q\"", "bad escape"},       {"\"a\tb\"", "control character"},  {"1e999", "out of range"},
        {"[1] x", "text after"},         {"{1:2}", "expected a key"},      {"tru", "unexpected character"},
        {"\"\\u12\"", "\\u escape"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = grin__json_parse(bad[i].text, strlen(bad[i].text), why, sizeof why);
        if (v || !strstr(why, bad[i].why))
            fail_msg("'%s': %s (wanted '%s')", bad[i].text, v ? "accepted" : why, bad[i].why);
        assert_non_null(strstr(why, " at byte "));
    }
    /* nesting is bounded: 64 levels read, 65 refused (no deep recursion on hostile input) */
    char deep[200];
    for (int depth = 64; depth <= 65; depth++) {
        memset(deep, '[', (size_t)depth);
        memset(deep + depth, ']', (size_t)depth);
        v = grin__json_parse(deep, 2 * (size_t)depth, why, sizeof why);
        if (depth == 64) {
            assert_non_null(v);
            grin__json_free(v);
        } else {
            assert_null(v);
            assert_non_null(strstr(why, "nested too deeply"));
        }
    }
    /* a NUL inside the text is just a bad character, not the end */
    v = grin__json_parse("[1]\0", 4, why, sizeof why);
    assert_null(v);
}

/* the CSV line reader (grin.h's, over the one every command uses): any length up to the limit,
 * \n and \r\n, a last line without an end, an over-long line skipped whole (counted, its tail
 * not a row), empty lines kept empty; a missing file named in the error */
static void test_csv_lines(void **state)
{
    (void)state;
    char path[] = "/tmp/grin_test_csv_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    fputs("a,b\r\n", f);
    for (int i = 0; i < 100000; i++) /* 100 kB: grows the buffer */
        fputc('x', f);
    fputs(",1\n\n", f);
    for (unsigned i = 0; i < GRIN_CSV_MAX_LINE + 5; i++)
        fputc(i % 50 ? 'y' : ',', f);
    fputs("\nlast,row", f);
    fclose(f);
    grin_csv *rd;
    grin_error err = {{0}};
    assert_int_equal(grin_csv_open(path, &rd, &err), GRIN_OK);
    char *line, *fld[4];
    size_t len;
    assert_int_equal(grin_csv_next(rd, &line, &len), 1);
    assert_string_equal(line, "a,b");
    assert_int_equal(grin_csv_split(line, fld, 4), 2);
    assert_int_equal(grin_csv_column(fld, 2, "b"), 1);
    assert_int_equal(grin_csv_column(fld, 2, "c"), -1);
    assert_int_equal(grin_csv_next(rd, &line, &len), 1);
    assert_int_equal(len, 100002);
    assert_int_equal(grin_csv_split(line, fld, 4), 2);
    assert_string_equal(fld[1], "1");
    assert_int_equal(grin_csv_next(rd, &line, &len), 1);
    assert_int_equal(len, 0);
    assert_int_equal(grin_csv_next(rd, &line, &len), -1);
    assert_int_equal(grin_csv_line_number(rd), 4);
    assert_int_equal(grin_csv_next(rd, &line, &len), 1);
    assert_string_equal(line, "last,row");
    assert_int_equal(grin_csv_line_number(rd), 5);
    assert_int_equal(grin_csv_next(rd, &line, &len), 0);
    assert_int_equal(grin_csv_error(rd), 0);
    grin_csv_close(rd);
    unlink(path);
    assert_int_equal(grin_csv_open(path, &rd, &err), GRIN_ERR_IO);
    assert_null(rd);
    assert_non_null(strstr(err.msg, path));
    grin_csv_close(NULL);
}

/* grin's YUV 4:2:0 converter (video frames): exact on the range ends, within 1 of the standards'
 * real-valued formulas everywhere, each chroma sample on its 2x2 pixels (odd sizes included) */
static void test_yuv420(void **state)
{
    (void)state;
    enum { W = 5, H = 3, CW = 3, CH = 2 };
    uint8_t rgb[H][W * 3 + 7];
    for (int full = 0; full < 2; full++)
        for (int bt709 = 0; bt709 < 2; bt709++) {
            double kr = bt709 ? 0.2126 : 0.299, kb = bt709 ? 0.0722 : 0.114, kg = 1 - kr - kb;
            double ys = full ? 1.0 : 255.0 / 219.0, cs = full ? 1.0 : 255.0 / 224.0;
            int worst = 0;
            for (int yv = 0; yv < 256; yv += 3)
                for (int uv = 0; uv < 256; uv += 5)
                    for (int vv = 0; vv < 256; vv += 7) {
                        uint8_t yp[H][W], up[CH][CW], vp[CH][CW];
                        memset(yp, yv, sizeof yp);
                        memset(up, 128, sizeof up);
                        memset(vp, 128, sizeof vp);
                        up[1][2] = (uint8_t)uv; /* the chroma of the last row's last pixel only */
                        vp[1][2] = (uint8_t)vv;
                        grin__yuv420_to_rgb24(&yp[0][0], W, &up[0][0], CW, &vp[0][0], CW, W, H, full,
                                              bt709, &rgb[0][0], (int)sizeof rgb[0]);
                        double l = (yv - (full ? 0 : 16)) * ys, cu = (uv - 128) * cs, cv = (vv - 128) * cs;
                        double want[3] = {l + 2 * (1 - kr) * cv, l - 2 * (1 - kb) * kb / kg * cu - 2 * (1 - kr) * kr / kg * cv,
                                          l + 2 * (1 - kb) * cu};
                        for (int c = 0; c < 3; c++) {
                            double w = want[c] < 0 ? 0 : want[c] > 255 ? 255 : want[c];
                            int d = abs(rgb[2][4 * 3 + c] - (int)lround(w));
                            worst = d > worst ? d : worst;
                        }
                        /* pixels whose chroma is neutral are grey: R = G = B */
                        assert_int_equal(rgb[0][0], rgb[0][1]);
                        assert_int_equal(rgb[1][5], rgb[1][3]);
                        assert_int_equal(rgb[2][2 * 3], rgb[2][2 * 3 + 2]);
                    }
            assert_true(worst <= 1);
        }
    /* the ends of limited range are black and white; full range keeps grey levels as they are */
    uint8_t y1[2] = {16, 235}, c1[1] = {128};
    grin__yuv420_to_rgb24(y1, 2, c1, 1, c1, 1, 2, 1, 0, 0, &rgb[0][0], (int)sizeof rgb[0]);
    assert_int_equal(rgb[0][0], 0);
    assert_int_equal(rgb[0][3], 255);
    uint8_t y2[2] = {7, 200};
    grin__yuv420_to_rgb24(y2, 2, c1, 1, c1, 1, 2, 1, 1, 1, &rgb[0][0], (int)sizeof rgb[0]);
    assert_int_equal(rgb[0][1], 7);
    assert_int_equal(rgb[0][4], 200);
}

/* the files' checksum: the same value on every machine (pinned), the same whether fed at once or
 * in pieces, and different for any single flipped bit, any cut and any appended zero byte */
static void test_checksum(void **state)
{
    (void)state;
    uint8_t buf[203];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 37 + 11);
    uint64_t whole = grin__checksum(buf, sizeof buf);
    assert_true(whole == 0x408c47c749619421ull); /* (an independent Python model of checksum.c agrees) */
    assert_true(grin__checksum("", 0) != grin__checksum("\0", 1));
    for (size_t cut = 0; cut < sizeof buf; cut += 13) { /* pieces of every size, at every offset */
        grin__hasher s;
        grin__hash_init(&s);
        grin__hash_update(&s, buf, cut);
        for (size_t at = cut, step = 1; at < sizeof buf; at += step, step = step % 11 + 1)
            grin__hash_update(&s, buf + at, at + step <= sizeof buf ? step : sizeof buf - at);
        assert_true(grin__hash_final(&s) == whole);
        assert_true(grin__checksum(buf, cut) != whole);
    }
    for (size_t i = 0; i < sizeof buf * 8; i++) {
        buf[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_true(grin__checksum(buf, sizeof buf) != whole);
        buf[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    uint8_t file[64] = {0};
    memcpy(file, buf, 56);
    grin__checksum_put(file + 56, grin__checksum(file, 56));
    assert_true(grin__checksum_ok(file, 64));
    assert_false(grin__checksum_ok(file, 63));
    assert_false(grin__checksum_ok(file, 7));
    uint32_t v = file[8] | file[9] << 8 | file[10] << 16 | (uint32_t)file[11] << 24;
    file[8] ^= 1; /* a damaged version field: checks again once the version is given back */
    assert_false(grin__checksum_ok(file, 64));
    assert_true(grin__checksum_ok_as(file, 64, v));
    assert_false(grin__checksum_ok_as(file, 64, v ^ 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_strings), cmocka_unit_test(test_image_alloc_limits),
        cmocka_unit_test(test_gray_matches_opencv), cmocka_unit_test(test_draw_clips),
        cmocka_unit_test(test_pool),              cmocka_unit_test(test_model_path),
        cmocka_unit_test(test_json), cmocka_unit_test(test_csv_lines), cmocka_unit_test(test_yuv420), cmocka_unit_test(test_checksum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
