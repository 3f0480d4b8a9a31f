/* cpu.c — run-time CPU feature detection, so SIMD kernels are chosen on the machine that runs
 * them, never at compile time (no "Illegal instruction" on older CPUs). */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__aarch64__)
#include <sys/auxv.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

static unsigned g_flags;
static unsigned g_enabled;
static bool g_prefer512;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static char g_names[128];

static void detect(void)
{
    unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        bool osxsave = c & (1u << 27);
        bool avx = c & (1u << 28);
        bool fma = c & (1u << 12);
        bool f16c = c & (1u << 29);
        uint64_t xcr0 = osxsave ? xgetbv0() : 0;
        bool ymm = (xcr0 & 6) == 6;
        bool zmm = (xcr0 & 0xe6) == 0xe6;
        if (avx && ymm && __get_cpuid_count(7, 0, &a, &b, &c, &d)) {
            if (b & (1u << 5))
                f |= GRIN__CPU_AVX2;
            if (fma)
                f |= GRIN__CPU_FMA;
            if (f16c)
                f |= GRIN__CPU_F16C;
            if (zmm) {
                if (b & (1u << 16))
                    f |= GRIN__CPU_AVX512F;
                if (b & (1u << 17))
                    f |= GRIN__CPU_AVX512DQ;
                if (b & (1u << 30))
                    f |= GRIN__CPU_AVX512BW;
                if (b & (1u << 31))
                    f |= GRIN__CPU_AVX512VL;
                if (c & (1u << 11))
                    f |= GRIN__CPU_AVX512VNNI;
            }
        }
    }
#endif
#if defined(__aarch64__)
    unsigned long hw = getauxval(AT_HWCAP);
    if (hw & (1ul << 1)) /* HWCAP_ASIMD */
        f |= GRIN__CPU_NEON;
    if (hw & (1ul << 20)) /* HWCAP_ASIMDDP */
        f |= GRIN__CPU_DOTPROD;
#endif
    g_flags = f;
    unsigned en = f;
    const char *cap = getenv("GRIN_CPU");
    if (cap) {
        if (!strcmp(cap, "scalar"))
            en = 0;
        else if (!strcmp(cap, "avx2"))
            en &= GRIN__CPU_AVX2 | GRIN__CPU_FMA | GRIN__CPU_F16C;
        else if (!strcmp(cap, "neon")) /* NEON without the dot-product extension */
            en &= GRIN__CPU_NEON;
        else if (!strcmp(cap, "avx512"))
            g_prefer512 = true;
    }
    g_enabled = en;
    g_names[0] = 0;
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{GRIN__CPU_AVX2, "avx2"},         {GRIN__CPU_FMA, "fma"}, {GRIN__CPU_F16C, "f16c"},
                 {GRIN__CPU_AVX512F, "avx512f"},   {GRIN__CPU_AVX512BW, "avx512bw"},
                 {GRIN__CPU_AVX512DQ, "avx512dq"}, {GRIN__CPU_AVX512VL, "avx512vl"},
                 {GRIN__CPU_AVX512VNNI, "avx512vnni"}, {GRIN__CPU_NEON, "neon"},
                 {GRIN__CPU_DOTPROD, "dotprod"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (en & names[i].bit) {
            if (g_names[0])
                strcat(g_names, " ");
            strcat(g_names, names[i].name);
        }
    }
    if (!g_names[0])
        strcpy(g_names, "scalar");
}

unsigned grin__cpu_flags(void)
{
    pthread_once(&g_once, detect);
    return g_flags;
}

unsigned grin__cpu_enabled(void)
{
    pthread_once(&g_once, detect);
    return g_enabled;
}

const char *grin_cpu_features(void)
{
    pthread_once(&g_once, detect);
    return g_names;
}

bool grin__cpu_prefer_avx512(void)
{
    pthread_once(&g_once, detect);
    return g_prefer512;
}

void grin__cpu_override(unsigned enabled, bool prefer_avx512)
{
    pthread_once(&g_once, detect);
    g_enabled = enabled & g_flags;
    g_prefer512 = prefer_avx512;
}
