/* test_image_io.c — reading and writing JPEG, PNG and PGM/PPM, EXIF orientation, and every kind
 * of bad file: missing, empty, truncated, corrupt, not an image, absurd sizes. */
#include "test_util.h"

#include <jpeglib.h>
#include <zlib.h>

static char path_buf[4096];
static const char *tmp(const char *name)
{
    snprintf(path_buf, sizeof path_buf, "%s/grin_test_%d_%s", tmpdir(), (int)getpid(), name);
    return path_buf;
}

static grin_image pattern(int w, int h, grin_pixfmt f)
{
    grin_image img;
    assert_int_equal(grin_image_alloc(w, h, f, &img), GRIN_OK);
    int ch = grin_pixfmt_channels(f);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w * ch; x++)
            img.data[y * img.stride + x] = (uint8_t)(x * 7 + y * 13);
    return img;
}

static void assert_same_pixels(const grin_image *a, const grin_image *b)
{
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->height, b->height);
    assert_int_equal(a->format, b->format);
    int ch = grin_pixfmt_channels(a->format);
    for (int y = 0; y < a->height; y++)
        assert_memory_equal(a->data + y * a->stride, b->data + y * b->stride, (size_t)(a->width * ch));
}

static void test_png_roundtrip(void **state)
{
    (void)state;
    grin_pixfmt fmts[] = {GRIN_PIX_GRAY8, GRIN_PIX_RGB24, GRIN_PIX_BGR24};
    for (int i = 0; i < 3; i++) {
        grin_image a = pattern(37, 23, fmts[i]), b;
        grin_error err;
        assert_int_equal(grin_image_write(tmp("rt.png"), &a, 0, &err), GRIN_OK);
        assert_int_equal(grin_image_read(tmp("rt.png"), fmts[i], &b, &err), GRIN_OK);
        assert_same_pixels(&a, &b);
        grin_image_free(&a);
        grin_image_free(&b);
    }
}

static void test_jpeg_roundtrip(void **state)
{
    (void)state;
    grin_image a, b;
    assert_int_equal(grin_image_alloc(64, 48, GRIN_PIX_RGB24, &a), GRIN_OK);
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 64; x++) {
            uint8_t *p = a.data + y * a.stride + 3 * x;
            p[0] = 200, p[1] = 40, p[2] = (uint8_t)(x < 32 ? 10 : 240);
        }
    grin_error err;
    assert_int_equal(grin_image_write(tmp("rt.jpg"), &a, 95, &err), GRIN_OK);
    assert_int_equal(grin_image_read(tmp("rt.jpg"), GRIN_PIX_RGB24, &b, &err), GRIN_OK);
    assert_int_equal(b.width, 64);
    assert_int_equal(b.height, 48);
    for (int y = 0; y < 48; y += 7)
        for (int x = 0; x < 64; x += 9)
            for (int c = 0; c < 3; c++) {
                int d = a.data[y * a.stride + 3 * x + c] - b.data[y * b.stride + 3 * x + c];
                assert_true(d > -24 && d < 24);
            }
    grin_image_free(&a);
    grin_image_free(&b);
}

static void test_write_errors(void **state)
{
    (void)state;
    grin_image a = pattern(8, 8, GRIN_PIX_GRAY8);
    grin_error err;
    assert_int_equal(grin_image_write("/nonexistent-dir/x.png", &a, 0, &err), GRIN_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.png"));
    assert_int_equal(grin_image_write(tmp("x.gif"), &a, 0, &err), GRIN_ERR_UNSUPPORTED);
    /* a negative or short stride is refused before any pixel is read */
    grin_image bad = a;
    bad.stride = -8;
    assert_int_equal(grin_image_write(tmp("neg.png"), &bad, 0, &err), GRIN_ERR_INVALID_ARGUMENT);
    bad.stride = 4;
    assert_int_equal(grin_image_write(tmp("short.png"), &bad, 0, &err), GRIN_ERR_INVALID_ARGUMENT);
    /* writing over an existing file replaces it whole; a failed write (a folder in the way) leaves
     * what was there; nothing else is left beside it */
    assert_int_equal(grin_image_write(tmp("keep.png"), &a, 0, &err), GRIN_OK);
    grin_image big = pattern(64, 64, GRIN_PIX_RGB24), back;
    assert_int_equal(grin_image_write(tmp("keep.png"), &big, 0, &err), GRIN_OK);
    assert_int_equal(grin_image_read(tmp("keep.png"), GRIN_PIX_RGB24, &back, &err), GRIN_OK);
    assert_int_equal(back.width, 64);
    grin_image_free(&back);
    grin_image_free(&big);
    grin_image_free(&a);
}

/* a CMYK JPEG (as Photoshop writes them: an Adobe marker, the inks inverted) reads as RGB */
static void test_cmyk_jpeg(void **state)
{
    (void)state;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    unsigned char *buf = NULL;
    unsigned long size = 0;
    jpeg_mem_dest(&c, &buf, &size);
    c.image_width = 16;
    c.image_height = 8;
    c.input_components = 4;
    c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    unsigned char row[16 * 4];
    for (int x = 0; x < 16; x++) { /* left half red, right half dark grey */
        unsigned char *p = row + 4 * x;
        if (x < 8)
            p[0] = 255, p[1] = 0, p[2] = 0, p[3] = 255;
        else
            p[0] = 255, p[1] = 255, p[2] = 255, p[3] = 64;
    }
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    grin_image img;
    grin_error err;
    assert_int_equal(grin_image_read_memory(buf, size, "cmyk.jpg", GRIN_PIX_RGB24, &img, &err), GRIN_OK);
    assert_int_equal(img.width, 16);
    const uint8_t *red = img.data + 4 * img.stride + 2 * 3, *grey = img.data + 4 * img.stride + 13 * 3;
    assert_true(red[0] > 235 && red[1] < 20 && red[2] < 20);
    assert_true(abs(grey[0] - 64) < 12 && abs(grey[1] - 64) < 12 && abs(grey[2] - 64) < 12);
    grin_image_free(&img);
    free(buf);
}

static void test_pnm_variants(void **state)
{
    (void)state;
    grin_error err;
    grin_image img;
    const char p2[] = "P2\n# a comment\n3 2\n# another\n255\n0 1 2\n253 254 255\n";
    assert_int_equal(grin_image_read_memory(p2, sizeof p2 - 1, "p2", GRIN_PIX_GRAY8, &img, &err), GRIN_OK);
    assert_int_equal(img.width, 3);
    assert_int_equal(img.data[img.stride + 2], 255);
    grin_image_free(&img);
    const char p5[] = "P5 2 2 255\n\x01\x02\x03\x04";
    assert_int_equal(grin_image_read_memory(p5, sizeof p5 - 1, "p5", GRIN_PIX_GRAY8, &img, &err), GRIN_OK);
    assert_int_equal(img.data[img.stride + 1], 4);
    grin_image_free(&img);
    const char p6[] = "P6 1 1 255\n\x0a\x14\x1e";
    assert_int_equal(grin_image_read_memory(p6, sizeof p6 - 1, "p6", GRIN_PIX_BGR24, &img, &err), GRIN_OK);
    assert_int_equal(img.data[0], 0x1e);
    assert_int_equal(img.data[2], 0x0a);
    grin_image_free(&img);
    const char p3[] = "P3 1 1 15 15 0 5";
    assert_int_equal(grin_image_read_memory(p3, sizeof p3 - 1, "p3", GRIN_PIX_RGB24, &img, &err), GRIN_OK);
    assert_int_equal(img.data[0], 255);
    assert_int_equal(img.data[2], 85);
    grin_image_free(&img);
    const char p5w[] = "P5 1 1 65535\n\xff\xff";
    assert_int_equal(grin_image_read_memory(p5w, sizeof p5w - 1, "p5w", GRIN_PIX_GRAY8, &img, &err), GRIN_OK);
    assert_int_equal(img.data[0], 255);
    grin_image_free(&img);
}

static void expect_fail(const void *data, size_t n, grin_status want, const char *needle)
{
    grin_image img = {0};
    grin_error err = {{0}};
    grin_status st = grin_image_read_memory(data, n, "bad-input", GRIN_PIX_RGB24, &img, &err);
    if (st != want)
        fail_msg("status %d (%s), wanted %d; message: %s", st, grin_status_str(st), want, err.msg);
    assert_null(img.data);
    assert_non_null(strstr(err.msg, "bad-input"));
    if (needle && !strstr(err.msg, needle))
        fail_msg("message '%s' lacks '%s'", err.msg, needle);
    assert_null(strchr(err.msg, '\n'));
}

static void test_bad_inputs(void **state)
{
    (void)state;
    expect_fail("", 0, GRIN_ERR_FORMAT, "empty");
    expect_fail("hello world, not an image", 25, GRIN_ERR_FORMAT, "not a JPEG");
    expect_fail("BZh91AY&SY", 10, GRIN_ERR_FORMAT, "bzip2");
    expect_fail("\x1f\x8b\x08\x00", 4, GRIN_ERR_FORMAT, "gzip");
    expect_fail("P5 100000 100000 255\n", 21, GRIN_ERR_TOO_LARGE, "100000x100000");
    expect_fail("P5 0 10 255\n", 12, GRIN_ERR_FORMAT, "empty size");
    expect_fail("P5 4 4 255\n\x01\x02", 13, GRIN_ERR_FORMAT, "truncated");
    expect_fail("P2 2 1 255 7", 12, GRIN_ERR_FORMAT, "truncated");
    expect_fail("P2 1 1 10 99", 12, GRIN_ERR_FORMAT, "above maximum");
    expect_fail("P5 2 2 0\n", 9, GRIN_ERR_FORMAT, "maximum value");
    expect_fail("P5 99999999999 2 255\n", 21, GRIN_ERR_FORMAT, "header");

    /* a real JPEG, truncated at several points, and with a patched huge size */
    size_t n = 0;
    char *jpg = slurp(SRC("data/samples/2008_001009.jpg"), &n);
    assert_non_null(jpg);
    expect_fail(jpg, n / 2, GRIN_ERR_FORMAT, "truncated");
    expect_fail(jpg, 300, GRIN_ERR_FORMAT, NULL);
    expect_fail(jpg, 3, GRIN_ERR_FORMAT, NULL);
    for (size_t i = 0; i + 9 < n; i++) {
        unsigned char *p = (unsigned char *)jpg + i;
        if (p[0] == 0xff && (p[1] == 0xc0 || p[1] == 0xc2)) { /* SOF: height, width at +5, +7 */
            p[5] = 0xff, p[6] = 0xd0, p[7] = 0xff, p[8] = 0xd0;
            break;
        }
    }
    expect_fail(jpg, n, GRIN_ERR_TOO_LARGE, "65488x65488");
    /* corrupt entropy data */
    char *jpg2 = slurp(SRC("data/samples/2008_001009.jpg"), &n);
    for (size_t i = n / 3; i < n / 3 + 2000; i++)
        jpg2[i] = (char)(i * 31);
    grin_image img = {0};
    grin_error err;
    grin_status st = grin_image_read_memory(jpg2, n, "bad-input", GRIN_PIX_RGB24, &img, &err);
    /* libjpeg may recover from corrupt scan data; it must never crash or leak */
    if (st == GRIN_OK)
        grin_image_free(&img);
    free(jpg);
    free(jpg2);

    /* a PNG whose header claims 100000x100000 (valid CRC) */
    unsigned char png[8 + 25];
    memcpy(png, "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16);
    unsigned char *ihdr = png + 16;
    uint32_t w = 100000, h = 100000;
    ihdr[0] = (uint8_t)(w >> 24), ihdr[1] = (uint8_t)(w >> 16), ihdr[2] = (uint8_t)(w >> 8), ihdr[3] = (uint8_t)w;
    ihdr[4] = (uint8_t)(h >> 24), ihdr[5] = (uint8_t)(h >> 16), ihdr[6] = (uint8_t)(h >> 8), ihdr[7] = (uint8_t)h;
    ihdr[8] = 8, ihdr[9] = 2, ihdr[10] = 0, ihdr[11] = 0, ihdr[12] = 0;
    uint32_t crc = (uint32_t)crc32(0, png + 12, 17);
    ihdr[13] = (uint8_t)(crc >> 24), ihdr[14] = (uint8_t)(crc >> 16), ihdr[15] = (uint8_t)(crc >> 8), ihdr[16] = (uint8_t)crc;
    expect_fail(png, sizeof png, GRIN_ERR_TOO_LARGE, "100000x100000");
    /* a PNG cut short */
    grin_image a = pattern(40, 30, GRIN_PIX_RGB24);
    assert_int_equal(grin_image_write(tmp("cut.png"), &a, 0, &err), GRIN_OK);
    grin_image_free(&a);
    char *pn = slurp(tmp("cut.png"), &n);
    expect_fail(pn, n - 20, GRIN_ERR_FORMAT, "PNG");
    expect_fail(pn, 40, GRIN_ERR_FORMAT, "PNG");
    pn[60] ^= 0x55; /* CRC error in the data */
    expect_fail(pn, n, GRIN_ERR_FORMAT, "PNG");
    free(pn);
}

static void test_missing_and_dir(void **state)
{
    (void)state;
    grin_image img;
    grin_error err;
    assert_int_equal(grin_image_read("/no/such/file.jpg", GRIN_PIX_RGB24, &img, &err), GRIN_ERR_IO);
    assert_non_null(strstr(err.msg, "/no/such/file.jpg"));
    assert_int_equal(grin_image_read("/tmp", GRIN_PIX_RGB24, &img, &err), GRIN_ERR_IO);
    assert_non_null(strstr(err.msg, "not a regular file"));
}

/* A JPEG carrying EXIF orientation 6 (rotate 90 degrees clockwise to display). */
static void test_exif_orientation(void **state)
{
    (void)state;
    const int W = 64, H = 32;
    FILE *f = fopen(tmp("exif.jpg"), "wb");
    assert_non_null(f);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = W, c.image_height = H, c.input_components = 1, c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    static const unsigned char exif[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,
                                         1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0,
                                         0, 0, 0, 0};
    jpeg_write_marker(&c, JPEG_APP0 + 1, exif, sizeof exif);
    unsigned char row[64];
    for (int x = 0; x < W; x++)
        row[x] = x < W / 2 ? 0 : 255;
    for (int y = 0; y < H; y++) {
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    grin_image img;
    grin_error err;
    assert_int_equal(grin_image_read(tmp("exif.jpg"), GRIN_PIX_GRAY8, &img, &err), GRIN_OK);
    assert_int_equal(img.width, H);
    assert_int_equal(img.height, W);
    assert_true(img.data[5 * img.stride + 5] < 40);          /* left half became the top */
    assert_true(img.data[(W - 5) * img.stride + 5] > 215);   /* right half the bottom */
    grin_image_free(&img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_roundtrip),    cmocka_unit_test(test_jpeg_roundtrip),
        cmocka_unit_test(test_write_errors),     cmocka_unit_test(test_pnm_variants), cmocka_unit_test(test_cmyk_jpeg),
        cmocka_unit_test(test_bad_inputs),       cmocka_unit_test(test_missing_and_dir),
        cmocka_unit_test(test_exif_orientation),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    const char *names[] = {"rt.png", "rt.jpg", "cut.png", "exif.jpg"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        remove(tmp(names[i]));
    return rc;
}
