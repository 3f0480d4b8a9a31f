/* image_io.c — reading JPEG, PNG and PGM/PPM into grin images, writing PNG and JPEG.
 * Files are recognised by content; every size is checked before pixel memory is allocated. */
#include "../core/internal.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#define MAX_FILE_BYTES ((size_t)512 << 20)

/* ------------------------------------------------------------------ whole-file read */

grin_status grin__read_file(const char *path, uint8_t **data, size_t *size, size_t limit,
                            grin_error *err)
{
    *data = NULL;
    *size = 0;
    /* opened without blocking (a FIFO would wait for a writer forever) and checked to be a
     * regular file before anything is read */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return grin__fail(err, GRIN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat stt;
    if (fstat(fd, &stt) != 0 || !S_ISREG(stt.st_mode)) {
        close(fd);
        return grin__fail(err, GRIN_ERR_IO, "%s: not a regular file", path);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return grin__fail(err, GRIN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    if ((uint64_t)stt.st_size > limit) {
        fclose(f);
        return grin__fail(err, GRIN_ERR_TOO_LARGE, "%s: file of %lld bytes is over the %zu-byte limit",
                          path, (long long)stt.st_size, limit);
    }
    size_t n = (size_t)stt.st_size;
    uint8_t *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = n ? fread(buf, 1, n, f) : 0;
    int rerr = ferror(f);
    fclose(f);
    if (got != n || rerr) {
        free(buf);
        return grin__fail(err, GRIN_ERR_IO, "%s: read error", path);
    }
    buf[n] = 0;
    *data = buf;
    *size = n;
    return GRIN_OK;
}

static grin_status check_dims(const char *name, long long w, long long h, grin_error *err)
{
    if (w <= 0 || h <= 0)
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: image header gives an empty size %lldx%lld",
                          name, w, h);
    if (w > GRIN_MAX_IMAGE_SIDE || h > GRIN_MAX_IMAGE_SIDE ||
        (unsigned long long)w * (unsigned long long)h > GRIN_MAX_IMAGE_PIXELS)
        return grin__fail(err, GRIN_ERR_TOO_LARGE,
                          "%s: image header claims %lldx%lld pixels, over grin's limit of %d per "
                          "side and %u in all",
                          name, w, h, GRIN_MAX_IMAGE_SIDE, GRIN_MAX_IMAGE_PIXELS);
    return GRIN_OK;
}

/* ------------------------------------------------------------------ EXIF orientation */

static unsigned rd16(const uint8_t *p, bool le) { return le ? p[0] | p[1] << 8 : p[0] << 8 | p[1]; }
static uint32_t rd32(const uint8_t *p, bool le)
{
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Orientation (1-8) from an APP1 Exif payload; 1 when absent or unreadable. */
int grin__exif_orientation(const uint8_t *p, size_t n)
{
    if (n < 14 || memcmp(p, "Exif\0\0", 6) != 0)
        return 1;
    p += 6;
    n -= 6;
    bool le;
    if (p[0] == 'I' && p[1] == 'I')
        le = true;
    else if (p[0] == 'M' && p[1] == 'M')
        le = false;
    else
        return 1;
    if (rd16(p + 2, le) != 42)
        return 1;
    uint32_t ifd = rd32(p + 4, le);
    if (ifd > n || n - ifd < 2)
        return 1;
    unsigned count = rd16(p + ifd, le);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e + 12 > n)
            return 1;
        if (rd16(p + e, le) == 0x0112) {
            unsigned type = rd16(p + e + 2, le);
            unsigned v = type == 3 ? rd16(p + e + 8, le) : 1;
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
    return 1;
}

/* Applies an EXIF orientation to a tightly allocated image, replacing it. */
static grin_status apply_orientation(grin_image *img, int orient)
{
    if (orient <= 1)
        return GRIN_OK;
    int w = img->width, h = img->height, ch = grin_pixfmt_channels(img->format);
    bool swap = orient >= 5;
    grin_image out;
    grin_status st = grin_image_alloc(swap ? h : w, swap ? w : h, img->format, &out);
    if (st)
        return st;
    for (int y = 0; y < h; y++) {
        const uint8_t *s = img->data + (size_t)y * (size_t)img->stride;
        for (int x = 0; x < w; x++) {
            int dx, dy;
            switch (orient) {
            case 2: dx = w - 1 - x; dy = y; break;
            case 3: dx = w - 1 - x; dy = h - 1 - y; break;
            case 4: dx = x; dy = h - 1 - y; break;
            case 5: dx = y; dy = x; break;
            case 6: dx = h - 1 - y; dy = x; break;
            case 7: dx = h - 1 - y; dy = w - 1 - x; break;
            default: dx = y; dy = w - 1 - x; break; /* 8 */
            }
            memcpy(out.data + (size_t)dy * (size_t)out.stride + (size_t)dx * (size_t)ch,
                   s + (size_t)x * (size_t)ch, (size_t)ch);
        }
    }
    grin_image_free(img);
    *img = out;
    return GRIN_OK;
}

/* ------------------------------------------------------------------ JPEG */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
    bool truncated;
} jpeg_err;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    e->pub.format_message(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    if (level < 0 && e->pub.msg_code == JWRN_JPEG_EOF)
        e->truncated = true;
}

static grin_status read_jpeg(const uint8_t *data, size_t size, const char *name, grin_image *out,
                             grin_error *err)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_err je;
    memset(&je, 0, sizeof je);
    cinfo.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jpeg_on_error;
    je.pub.emit_message = jpeg_on_message;
    grin_image img = {0};
    /* volatile: modified between setjmp and a possible longjmp */
    grin_image *volatile pimg = &img;
    uint8_t *volatile line = NULL; /* a CMYK row */
    if (setjmp(je.jump)) {
        jpeg_destroy_decompress(&cinfo);
        grin_image_free(pimg);
        free(line);
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: corrupt JPEG: %s", name, je.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(&cinfo, TRUE);
    grin_status st = check_dims(name, cinfo.image_width, cinfo.image_height, err);
    if (st) {
        jpeg_destroy_decompress(&cinfo);
        return st;
    }
    /* Every 8x8 block costs at least one bit of entropy-coded data (its DC difference, even in a
     * progressive file whose AC scans end many blocks with one symbol): a file with fewer than
     * pixels / 512 bytes cannot hold the image it declares. Eight times that margin, and such a
     * file is refused before decoding what would be a picture of corrupt data (a 200-byte file
     * declaring 98 megapixels took seconds and said nothing). */
    if ((double)size * 4096.0 < (double)cinfo.image_width * (double)cinfo.image_height) {
        jpeg_destroy_decompress(&cinfo);
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: corrupt or truncated JPEG: %zu bytes cannot hold the %ux%u image "
                          "it declares", name, size, cinfo.image_width, cinfo.image_height);
    }
    int orient = 1;
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1) {
            orient = grin__exif_orientation(m->data, m->data_length);
            break;
        }
    bool gray = cinfo.jpeg_color_space == JCS_GRAYSCALE;
    /* print-industry JPEGs (CMYK, or YCCK that libjpeg turns into CMYK) are read as CMYK and
     * converted to RGB here; Adobe's store the inks inverted */
    bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = gray ? JCS_GRAYSCALE : cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    st = grin_image_alloc((int)cinfo.output_width, (int)cinfo.output_height,
                          gray ? GRIN_PIX_GRAY8 : GRIN_PIX_RGB24, &img);
    if (st) {
        jpeg_destroy_decompress(&cinfo);
        return grin__fail(err, st, "%s: cannot allocate %ux%u image", name, cinfo.output_width,
                          cinfo.output_height);
    }
    if ((int)cinfo.output_components != (cmyk ? 4 : grin_pixfmt_channels(img.format))) {
        jpeg_destroy_decompress(&cinfo);
        grin_image_free(&img);
        return grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: unsupported JPEG colour layout", name);
    }
    line = cmyk ? malloc((size_t)cinfo.output_width * 4) : NULL;
    if (cmyk && !line) {
        jpeg_destroy_decompress(&cinfo);
        grin_image_free(&img);
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "%s: out of memory", name);
    }
    bool inverted = cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *dst = img.data + (size_t)cinfo.output_scanline * (size_t)img.stride;
        JSAMPROW row = cmyk ? line : dst;
        jpeg_read_scanlines(&cinfo, &row, 1);
        if (je.truncated)
            break;
        for (JDIMENSION x = 0; line && x < cinfo.output_width; x++) {
            unsigned c = line[4 * x], m = line[4 * x + 1], y = line[4 * x + 2], k = line[4 * x + 3];
            if (!inverted)
                c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
            dst[3 * x] = (uint8_t)((c * k + 127) / 255);
            dst[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
            dst[3 * x + 2] = (uint8_t)((y * k + 127) / 255);
        }
    }
    free(line);
    line = NULL;
    if (je.truncated) {
        jpeg_destroy_decompress(&cinfo);
        grin_image_free(&img);
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: truncated JPEG (data ends before the last row)",
                          name);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    st = apply_orientation(&img, orient);
    if (st) {
        grin_image_free(&img);
        return grin__fail(err, st, "%s: cannot rotate image by its EXIF orientation", name);
    }
    *out = img;
    return GRIN_OK;
}

/* ------------------------------------------------------------------ PNG */

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    char msg[256];
} png_src;

static void png_on_read(png_structp png, png_bytep dst, png_size_t n)
{
    png_src *s = png_get_io_ptr(png);
    if (s->size - s->pos < n)
        png_error(png, "truncated PNG (data ends early)");
    memcpy(dst, s->data + s->pos, n);
    s->pos += n;
}

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static grin_status read_png(const uint8_t *data, size_t size, const char *name, grin_image *out,
                            grin_error *err)
{
    /* refuse absurd sizes from the IHDR before libpng reads any further */
    if (size >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        uint32_t w = rd32(data + 16, false), h = rd32(data + 20, false);
        grin_status st = check_dims(name, w, h, err);
        if (st)
            return st;
    }
    png_src src = {data, size, 0, {0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error,
                                             png_on_warning);
    if (!png)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "%s: out of memory", name);
    png_infop info = png_create_info_struct(png);
    grin_image img = {0};
    grin_image *volatile pimg = &img;
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        grin_image_free(pimg);
        free(rows);
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: corrupt PNG: %s", name,
                          src.msg[0] ? src.msg : "unreadable");
    }
    png_set_read_fn(png, &src, png_on_read);
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, ctype, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    grin_status st = check_dims(name, w, h, err);
    if (st) {
        png_destroy_read_struct(&png, &info, NULL);
        return st;
    }
    if (depth == 16)
        png_set_strip_16(png);
    if (ctype & PNG_COLOR_MASK_ALPHA)
        png_set_strip_alpha(png);
    if (ctype == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (!(ctype & PNG_COLOR_MASK_COLOR) && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    bool gray = !(ctype & PNG_COLOR_MASK_COLOR) && ctype != PNG_COLOR_TYPE_PALETTE;
    if (png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    if (channels != (gray ? 1 : 3)) {
        png_destroy_read_struct(&png, &info, NULL);
        return grin__fail(err, GRIN_ERR_UNSUPPORTED, "%s: unsupported PNG layout", name);
    }
    st = grin_image_alloc((int)w, (int)h, gray ? GRIN_PIX_GRAY8 : GRIN_PIX_RGB24, &img);
    if (st) {
        png_destroy_read_struct(&png, &info, NULL);
        return grin__fail(err, st, "%s: cannot allocate %ux%u image", name, w, h);
    }
    rows = malloc(sizeof(png_bytep) * h);
    if (!rows) {
        png_destroy_read_struct(&png, &info, NULL);
        grin_image_free(&img);
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "%s: out of memory", name);
    }
    for (png_uint_32 y = 0; y < h; y++)
        rows[y] = img.data + (size_t)y * (size_t)img.stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    *out = img;
    return GRIN_OK;
}

/* ------------------------------------------------------------------ PGM / PPM */

typedef struct {
    const uint8_t *p, *end;
} cursor;

static void skip_space(cursor *c)
{
    while (c->p < c->end) {
        if (*c->p == '#') {
            while (c->p < c->end && *c->p != '\n')
                c->p++;
        } else if (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r' ||
                   *c->p == '\v' || *c->p == '\f') {
            c->p++;
        } else {
            break;
        }
    }
}

static bool read_uint(cursor *c, long long *v)
{
    skip_space(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
        return false;
    long long n = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        n = n * 10 + (*c->p - '0');
        if (n > 1000000000LL)
            return false;
        c->p++;
    }
    *v = n;
    return true;
}

static grin_status read_pnm(const uint8_t *data, size_t size, const char *name, grin_image *out,
                            grin_error *err)
{
    char kind = (char)data[1];
    bool color = kind == '3' || kind == '6';
    bool binary = kind == '5' || kind == '6';
    cursor c = {data + 2, data + size};
    long long w, h, maxval;
    if (!read_uint(&c, &w) || !read_uint(&c, &h) || !read_uint(&c, &maxval))
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: malformed P%c header", name, kind);
    grin_status st = check_dims(name, w, h, err);
    if (st)
        return st;
    if (maxval < 1 || maxval > 65535)
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: P%c maximum value %lld out of range 1..65535",
                          name, kind, maxval);
    int ch = color ? 3 : 1;
    size_t samples = (size_t)w * (size_t)h * (size_t)ch;
    int bps = maxval > 255 ? 2 : 1;
    if (binary) {
        if (c.p >= c.end)
            return grin__fail(err, GRIN_ERR_FORMAT, "%s: truncated P%c (no pixel data)", name, kind);
        c.p++; /* exactly one whitespace byte ends the header */
        if ((size_t)(c.end - c.p) < samples * (size_t)bps)
            return grin__fail(err, GRIN_ERR_FORMAT,
                              "%s: truncated P%c: %zu bytes of pixels, %zu expected", name, kind,
                              (size_t)(c.end - c.p), samples * (size_t)bps);
    }
    grin_image img;
    st = grin_image_alloc((int)w, (int)h, color ? GRIN_PIX_RGB24 : GRIN_PIX_GRAY8, &img);
    if (st)
        return grin__fail(err, st, "%s: cannot allocate %lldx%lld image", name, w, h);
    for (long long y = 0; y < h; y++) {
        uint8_t *row = img.data + (size_t)y * (size_t)img.stride;
        for (long long i = 0; i < w * ch; i++) {
            long long v;
            if (binary) {
                v = bps == 2 ? (c.p[0] << 8 | c.p[1]) : c.p[0];
                c.p += bps;
            } else if (!read_uint(&c, &v)) {
                grin_image_free(&img);
                return grin__fail(err, GRIN_ERR_FORMAT, "%s: truncated or malformed P%c pixel data",
                                  name, kind);
            }
            if (v > maxval) {
                grin_image_free(&img);
                return grin__fail(err, GRIN_ERR_FORMAT, "%s: pixel value %lld above maximum %lld",
                                  name, v, maxval);
            }
            row[i] = (uint8_t)(maxval == 255 ? v : (v * 255 + maxval / 2) / maxval);
        }
    }
    *out = img;
    return GRIN_OK;
}

/* ------------------------------------------------------------------ dispatch */

grin_status grin_image_read_memory(const void *vdata, size_t size, const char *name,
                                   grin_pixfmt format, grin_image *out, grin_error *err)
{
    if (!out || (!vdata && size))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "invalid argument");
    memset(out, 0, sizeof *out);
    if (!name)
        name = "<memory>";
    if (grin_pixfmt_channels(format) == 0)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "%s: unknown pixel format %d", name,
                          (int)format);
    const uint8_t *d = vdata;
    if (size == 0)
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: empty file", name);
    grin_image img;
    grin_status st;
    if (size >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
        st = read_jpeg(d, size, name, &img, err);
    else if (size >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
        st = read_png(d, size, name, &img, err);
    else if (size >= 2 && d[0] == 'P' && (d[1] == '2' || d[1] == '3' || d[1] == '5' || d[1] == '6'))
        st = read_pnm(d, size, name, &img, err);
    else {
        const char *what = grin__sniff(d, size);
        return grin__fail(err, GRIN_ERR_FORMAT, "%s: not a JPEG, PNG or PGM/PPM image%s%s", name,
                          what ? ": looks like " : "", what ? what : "");
    }
    if (st)
        return st;
    if (img.format == format) {
        *out = img;
        return GRIN_OK;
    }
    st = grin_image_convert(&img, format, out);
    grin_image_free(&img);
    if (st)
        return grin__fail(err, st, "%s: cannot convert pixel format", name);
    return GRIN_OK;
}

grin_status grin_image_read(const char *path, grin_pixfmt format, grin_image *out, grin_error *err)
{
    if (!path || !out)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "invalid argument");
    memset(out, 0, sizeof *out);
    uint8_t *data;
    size_t size;
    grin_status st = grin__read_file(path, &data, &size, MAX_FILE_BYTES, err);
    if (st)
        return st;
    st = grin_image_read_memory(data, size, path, format, out, err);
    free(data);
    return st;
}

/* ------------------------------------------------------------------ writing */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    if (n < m)
        return false;
    for (size_t i = 0; i < m; i++) {
        char a = s[n - m + i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != suffix[i])
            return false;
    }
    return true;
}

/* Rows in RGB (or grey) order for the encoders; BGR is swapped into a scratch row. */
static const uint8_t *encoder_row(const grin_image *img, int y, uint8_t *scratch)
{
    const uint8_t *s = img->data + (size_t)y * (size_t)img->stride;
    if (img->format != GRIN_PIX_BGR24)
        return s;
    for (int x = 0; x < img->width; x++) {
        scratch[3 * x] = s[3 * x + 2];
        scratch[3 * x + 1] = s[3 * x + 1];
        scratch[3 * x + 2] = s[3 * x];
    }
    return scratch;
}

static grin_status write_png(FILE *f, const char *path, const grin_image *img, uint8_t *scratch,
                             grin_error *err)
{
    png_src es = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &es, png_on_error,
                                              png_on_warning);
    if (!png)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "%s: out of memory", path);
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        return grin__fail(err, GRIN_ERR_IO, "%s: PNG write failed: %s", path, es.msg);
    }
    png_init_io(png, f);
    png_set_compression_level(png, 3);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
                 img->format == GRIN_PIX_GRAY8 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < img->height; y++)
        png_write_row(png, (png_const_bytep)encoder_row(img, y, scratch));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return GRIN_OK;
}

static grin_status write_jpeg(FILE *f, const char *path, const grin_image *img, int quality,
                              uint8_t *scratch, grin_error *err)
{
    struct jpeg_compress_struct cinfo;
    jpeg_err je;
    memset(&je, 0, sizeof je);
    cinfo.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jpeg_on_error;
    if (setjmp(je.jump)) {
        jpeg_destroy_compress(&cinfo);
        return grin__fail(err, GRIN_ERR_IO, "%s: JPEG write failed: %s", path, je.msg);
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)img->width;
    cinfo.image_height = (JDIMENSION)img->height;
    cinfo.input_components = img->format == GRIN_PIX_GRAY8 ? 1 : 3;
    cinfo.in_color_space = img->format == GRIN_PIX_GRAY8 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality < 1 ? 90 : (quality > 100 ? 100 : quality), TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    for (int y = 0; y < img->height; y++) {
        JSAMPROW row = (JSAMPROW)encoder_row(img, y, scratch);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return GRIN_OK;
}

grin_status grin_image_write(const char *path, const grin_image *img, int jpeg_quality,
                             grin_error *err)
{
    if (!path || !img || !img->data || img->width <= 0 || img->height <= 0 ||
        grin_pixfmt_channels(img->format) == 0 || img->width > GRIN_MAX_IMAGE_SIDE ||
        img->height > GRIN_MAX_IMAGE_SIDE || img->stride < img->width * grin_pixfmt_channels(img->format))
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "invalid image (size or stride) or path");
    bool png = ends_with(path, ".png");
    bool jpg = ends_with(path, ".jpg") || ends_with(path, ".jpeg");
    if (!png && !jpg)
        return grin__fail(err, GRIN_ERR_UNSUPPORTED,
                          "%s: unknown output format (use .png, .jpg or .jpeg)", path);
    uint8_t *scratch = malloc((size_t)img->width * 3);
    if (!scratch)
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "%s: out of memory", path);
    grin__out out;
    grin_status st = grin__out_open(&out, path, 1, err);
    if (st) {
        free(scratch);
        return st;
    }
    st = png ? write_png(out.f, path, img, scratch, err) : write_jpeg(out.f, path, img, jpeg_quality, scratch, err);
    free(scratch);
    grin_status cst = grin__out_close(&out, st == GRIN_OK, st ? NULL : err); /* the first error's words stay */
    return st ? st : cst;
}
