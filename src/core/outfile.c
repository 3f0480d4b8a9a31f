/* outfile.c — how grin writes a file: into a temporary file beside it, renamed into place only when
 * everything was written, so a failed or interrupted write leaves what was there before; a path
 * that is not a regular file (a device, a FIFO) is written as it is and never removed. */
#define _GNU_SOURCE /* mkstemps */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

grin_status grin__out_open(grin__out *o, const char *path, int keep_suffix, grin_error *err)
{
    memset(o, 0, sizeof *o);
    if (!path || !*path)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "no output path");
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode))
            return grin__fail(err, GRIN_ERR_IO, "%s: is a folder", path);
        o->f = fopen(path, "wb"); /* a device or FIFO: written as it is, never unlinked */
        if (!o->f)
            return grin__fail(err, GRIN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        snprintf(o->path, sizeof o->path, "%s", path);
        snprintf(o->tmp, sizeof o->tmp, "%s", path);
        return GRIN_OK;
    }
    const char *sl = strrchr(path, '/');
    const char *base = sl ? sl + 1 : path;
    const char *dot = keep_suffix ? strrchr(base, '.') : NULL;
    int suffix = dot ? (int)strlen(dot) : 0;
    int n = snprintf(o->tmp, sizeof o->tmp, "%.*s.%.*s.XXXXXX%s", (int)(base - path), path,
                     (int)(strlen(base) - (size_t)suffix), base, dot ? dot : "");
    if (n < 0 || (size_t)n >= sizeof o->tmp || strlen(path) >= sizeof o->path)
        return grin__fail(err, GRIN_ERR_INVALID_ARGUMENT, "%s: path too long", path);
    int fd = mkstemps(o->tmp, suffix);
    if (fd < 0)
        return grin__fail(err, GRIN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    fchmod(fd, 0644 & ~0022); /* as fopen would (mkstemp makes 0600) */
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        close(fd);
        unlink(o->tmp);
        return grin__fail(err, GRIN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    snprintf(o->path, sizeof o->path, "%s", path);
    o->temporary = true;
    return GRIN_OK;
}

grin_status grin__out_close(grin__out *o, bool ok, grin_error *err)
{
    if (!o->f && !o->temporary)
        return ok ? GRIN_OK : GRIN_ERR_IO;
    int e = 0;
    if (o->f) {
        if (fflush(o->f) != 0 || ferror(o->f))
            ok = false, e = errno;
        if (fclose(o->f) != 0 && ok)
            ok = false, e = errno;
        o->f = NULL;
    }
    grin_status st = GRIN_OK;
    if (o->temporary) {
        if (ok && rename(o->tmp, o->path) != 0) {
            e = errno;
            ok = false;
        }
        if (!ok)
            unlink(o->tmp); /* ours: the path itself is as it was */
        o->temporary = false;
    }
    if (!ok)
        st = grin__fail(err, GRIN_ERR_IO, "%s: write failed%s%s", o->path, e ? ": " : "", e ? strerror(e) : "");
    return st;
}
