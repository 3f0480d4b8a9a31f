/* paths.c — where grin's own models are found: $GRIN_MODEL_DIR; else share/grin beside the
 * installed library (or the program it is linked into), so a prefix can move; else, in a build
 * tree, the source tree's models/; else the prefix the build was configured for. */
#define _GNU_SOURCE /* dladdr */
#include "internal.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef GRIN_INSTALLED_MODEL_DIR
#define GRIN_INSTALLED_MODEL_DIR "/usr/local/share/grin"
#endif

static bool readable(const char *p) { return access(p, R_OK) == 0; }

static grin_status put(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? GRIN_ERR_BUFFER_TOO_SMALL : GRIN_OK;
}

grin_status grin_default_model_path(const char *name, char *out, size_t cap)
{
    if (!name || !*name || strchr(name, '/') || !out || cap == 0)
        return GRIN_ERR_INVALID_ARGUMENT;
    out[0] = '\0';
    const char *env = getenv("GRIN_MODEL_DIR");
    if (env && *env) /* the user's choice, whether or not the file is there: errors name it */
        return put(out, cap, env, name);
    /* share/grin next to the lib/ or bin/ folder this code was loaded from */
    Dl_info info;
    if (dladdr((void *)grin_default_model_path, &info) && info.dli_fname && info.dli_fname[0] == '/') {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", info.dli_fname);
        for (int up = 0; up < 2; up++) { /* the file's folder, then its parent */
            char *sl = strrchr(dir, '/');
            if (!sl)
                break;
            *sl = '\0';
        }
        char cand[4200];
        /* lib/<multiarch>/libgrin.so sits one level deeper than bin/grin */
        const char *rel[2] = {"share/grin", "../share/grin"};
        for (int k = 0; k < 2 && dir[0]; k++) {
            snprintf(cand, sizeof cand, "%s/%s/%s", dir, rel[k], name);
            if (readable(cand)) {
                int n = snprintf(out, cap, "%s", cand);
                return n < 0 || (size_t)n >= cap ? GRIN_ERR_BUFFER_TOO_SMALL : GRIN_OK;
            }
        }
    }
#ifdef GRIN_SOURCE_MODEL_DIR
    {
        char cand[4200];
        snprintf(cand, sizeof cand, "%s/%s", GRIN_SOURCE_MODEL_DIR, name);
        if (readable(cand))
            return put(out, cap, GRIN_SOURCE_MODEL_DIR, name);
    }
#endif
    return put(out, cap, GRIN_INSTALLED_MODEL_DIR, name);
}
