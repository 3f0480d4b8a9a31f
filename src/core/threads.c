/* threads.c — a persistent worker pool. Workers spin for a few tens of microseconds after a
 * job (back-to-back jobs, like the layers of one network, then start without a wake-up) and
 * then sleep on a condition variable; tasks are handed out through one shared counter. */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

struct grin__pool {
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;  /* workers wait here for a new job generation */
    pthread_cond_t done;  /* the caller waits here for the job to finish */
    grin__task_fn fn;
    void *ctx;
    int ntasks;
    int next;         /* next task index to hand out */
    atomic_int unfinished;        /* tasks handed out or pending that have not completed */
    atomic_uint generation;       /* written under the lock, also read by spinners */
    int busy_workers; /* workers still inside the current generation */
    bool quit;
    int nthreads; /* including the caller */
    pthread_t *threads;
};

typedef struct {
    grin__pool *pool;
    int index;
} worker_arg;

static void drain(grin__pool *p, int thread)
{
    /* called with the lock held; returns with it held */
    while (p->next < p->ntasks) {
        int t = p->next++;
        pthread_mutex_unlock(&p->lock);
        p->fn(p->ctx, t, thread);
        pthread_mutex_lock(&p->lock);
        if (--p->unfinished == 0)
            pthread_cond_broadcast(&p->done);
    }
}

#define SPIN_NS 40000 /* how long a thread polls before it sleeps */

static long long mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* polls (without the lock) until *v differs from `from`, for up to SPIN_NS */
static void spin_while_uint(atomic_uint *v, unsigned from)
{
    long long end = mono_ns() + SPIN_NS;
    for (int i = 0; atomic_load_explicit(v, memory_order_acquire) == from; i++) {
        cpu_relax();
        if ((i & 255) == 255 && mono_ns() > end)
            return;
    }
}

static void spin_while_busy(atomic_int *v)
{
    long long end = mono_ns() + SPIN_NS;
    for (int i = 0; atomic_load_explicit(v, memory_order_acquire) > 0; i++) {
        cpu_relax();
        if ((i & 255) == 255 && mono_ns() > end)
            return;
    }
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    grin__pool *p = wa->pool;
    int index = wa->index;
    free(wa);
    unsigned seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (!p->quit && p->generation == seen) {
            pthread_mutex_unlock(&p->lock);
            spin_while_uint(&p->generation, seen);
            pthread_mutex_lock(&p->lock);
        }
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->quit)
            break;
        seen = p->generation;
        drain(p, index);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int grin__online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > 256 ? 256 : (int)n);
}

grin__pool *grin__pool_create(int threads)
{
    if (threads <= 0)
        threads = grin__online_cpus();
    grin__pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->nthreads = 1;
    if (threads > 1) {
        p->threads = calloc((size_t)threads - 1, sizeof *p->threads);
        if (!p->threads) {
            grin__pool_free(p);
            return NULL;
        }
        for (int i = 1; i < threads; i++) {
            worker_arg *wa = malloc(sizeof *wa);
            if (!wa)
                break;
            wa->pool = p;
            wa->index = i;
            if (pthread_create(&p->threads[i - 1], NULL, worker_main, wa) != 0) {
                free(wa);
                break;
            }
            p->nthreads++;
        }
    }
    return p;
}

void grin__pool_free(grin__pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->quit = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads - 1; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p);
}

int grin__pool_threads(const grin__pool *p) { return p ? p->nthreads : 1; }

void grin__pool_run(grin__pool *p, grin__task_fn fn, void *ctx, int ntasks)
{
    if (ntasks <= 0)
        return;
    if (!p || p->nthreads == 1 || ntasks == 1) {
        for (int t = 0; t < ntasks; t++)
            fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = ntasks;
    p->next = 0;
    p->unfinished = ntasks;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    drain(p, 0);
    if (p->unfinished > 0) {
        pthread_mutex_unlock(&p->lock);
        spin_while_busy(&p->unfinished);
        pthread_mutex_lock(&p->lock);
    }
    while (p->unfinished > 0)
        pthread_cond_wait(&p->done, &p->lock);
    /* leave no stale job behind for a late-waking worker */
    p->ntasks = 0;
    p->next = 0;
    pthread_mutex_unlock(&p->lock);
}
