/* test_nn.c — the neural-network engine: OpenBLAS GEMM and the fast convolutions held to the
 * reference loops, every backward pass checked against finite differences, MobileNet's size. */
#include "test_util.h"

#include <math.h>
#include <pthread.h>

#include "nn/infer.h"
#include "nn/import_tfjs.h"
#include "nn/model_io.h"
#include "nn/nn.h"
#include "nn/train.h"

static uint32_t rs = 12345;
static float frand(void)
{
    rs = rs * 1664525u + 1013904223u;
    return (float)((rs >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void test_gemm(void **state)
{
    (void)state;
    int shapes[][3] = {{7, 5, 3}, {64, 33, 17}, {1, 9, 40}, {13, 1, 8}};
    for (size_t s = 0; s < 4; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
                float *C1 = malloc(sizeof(float) * M * N), *C2 = malloc(sizeof(float) * M * N);
                for (int i = 0; i < M * K; i++)
                    A[i] = frand();
                for (int i = 0; i < K * N; i++)
                    B[i] = frand();
                for (int i = 0; i < M * N; i++)
                    C1[i] = C2[i] = frand();
                int lda = ta ? M : K, ldb = tb ? K : N;
                grin__nn_force_reference = true;
                grin__gemm(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 1.0f, C1, N);
                grin__nn_force_reference = false;
                grin__gemm(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 1.0f, C2, N);
                for (int i = 0; i < M * N; i++)
                    assert_true(fabsf(C1[i] - C2[i]) < 1e-4f);
                free(A), free(B), free(C1), free(C2);
            }
}

/* A small DAG with every layer kind; the last layer is a sigmoid head on one logit. */
static void build_test_net(grin__nn_net *net)
{
    grin__nn_init(net, 9, 8, 3);
    int a = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_CONV, .in = {-1, -1}, .k = 3, .stride = 2, .pad = 1, .groups = 1, .out_c = 4, .bias = true});
    int b = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_BN, .in = {a, -1}});
    int c = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_RELU6, .in = {b, -1}});
    int d = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_CONV, .in = {c, -1}, .k = 3, .stride = 1, .pad = 1, .groups = 4, .out_c = 4});
    int e = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_ADD, .in = {d, c}});
    int f = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_CONV, .in = {e, -1}, .k = 1, .stride = 1, .pad = 0, .groups = 1, .out_c = 6});
    int g = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_CONV, .in = {e, -1}, .k = 3, .stride = 1, .pad = 1, .groups = 2, .out_c = 2, .bias = true});
    int h = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_CONCAT, .in = {f, g}});
    int i = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_RELU, .in = {h, -1}});
    int j = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_MAXPOOL, .in = {i, -1}, .k = 2, .stride = 2});
    int k = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_AVGPOOL, .in = {i, -1}, .k = 3, .stride = 2, .pad = 1});
    int l = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_GAP, .in = {k, -1}});
    int m = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_DENSE, .in = {j, -1}, .out_c = 8});
    int n = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_CONCAT, .in = {m, l}});
    int o = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_DENSE, .in = {n, -1}, .out_c = 1});
    grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_SIGMOID, .in = {o, -1}});
    grin_error err;
    assert_int_equal(grin__nn_finish(net, 42, &err), GRIN_OK);
}

/* binary cross-entropy on logits, summed over the batch, in double */
static double loss_of(grin__nn_net *net, grin__nn_ws *ws, const float *x, const float *y, int B,
                      float *dlogit)
{
    const float *out;
    assert_int_equal(grin__nn_forward(net, ws, x, B, true, &out), GRIN_OK);
    const float *z = ws->act[net->n - 2];
    double L = 0;
    for (int b = 0; b < B; b++) {
        double zz = z[b];
        L += (zz > 0 ? zz : 0) - zz * y[b] + log1p(exp(-fabs(zz)));
        if (dlogit)
            dlogit[b] = (float)(1.0 / (1.0 + exp(-zz)) - y[b]);
    }
    return L;
}

/* Finite differences on every parameter of a small net built around one layer kind. Each
 * kind gets its own net: chained kinks (ReLU, max) make a deep net's finite differences
 * unreliable, while the whole DAG is covered by the fast-vs-reference test below. */
static int gradient_mismatches(grin__nn_net *net)
{
    grin_error err;
    assert_int_equal(grin__nn_finish(net, 42, &err), GRIN_OK);
    grin__nn_ws ws = {0};
    int B = 3;
    size_t n_in = (size_t)B * net->in_h * net->in_w * net->in_c;
    float *x = malloc(n_in * sizeof *x);
    for (size_t i = 0; i < n_in; i++)
        x[i] = 2.0f * frand();
    float y[3] = {1, 0, 1}, dlog[3];
    loss_of(net, &ws, x, y, B, dlog);
    memset(net->grads, 0, net->nparams * sizeof(float));
    assert_int_equal(grin__nn_backward(net, &ws, x, dlog), GRIN_OK);
    int bad = 0;
    for (size_t p = 0; p < net->nparams; p++) {
        float keep = net->params[p];
        float h = 1e-3f * fmaxf(1.0f, fabsf(keep));
        net->params[p] = keep + h;
        double lp = loss_of(net, &ws, x, y, B, NULL);
        net->params[p] = keep - h;
        double lm = loss_of(net, &ws, x, y, B, NULL);
        net->params[p] = keep;
        double num = (lp - lm) / (2.0 * h), ana = net->grads[p];
        if (fabs(num - ana) > 2e-2 * fmax(1e-2, fmax(fabs(num), fabs(ana)))) {
            if (bad++ < 3)
                print_message("param %zu: analytic %.6g numeric %.6g\n", p, ana, num);
        }
    }
    grin__nn_ws_free(&ws);
    grin__nn_free(net);
    free(x);
    return bad;
}

#define LAYER(...) grin__nn_add(&n, (grin__nn_layer){__VA_ARGS__})
static void head(grin__nn_net *net, int a)
{
    int d = grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_DENSE, .in = {a, -1}, .out_c = 1});
    grin__nn_add(net, (grin__nn_layer){.op = GRIN__NN_SIGMOID, .in = {d, -1}});
}
#define HEAD(a) head(&n, (a))
#define PW(src, oc) LAYER(.op = GRIN__NN_CONV, .in = {(src), -1}, .k = 1, .stride = 1, .pad = 0, .groups = 1, .out_c = (oc))

static void check_gradients(bool reference)
{
    grin__nn_force_reference = reference;
    grin__nn_net n;
    int a, b;
    struct {
        const char *name;
        int bad;
    } r[13];
    int k = 0;
#define CASE(name_, build)                                                                         \
    do {                                                                                           \
        grin__nn_init(&n, 5, 4, 2);                                                                \
        build;                                                                                     \
        r[k].name = name_;                                                                         \
        r[k].bad = gradient_mismatches(&n);                                                        \
        k++;                                                                                       \
    } while (0)
    CASE("dense", { HEAD(-1); });
    CASE("conv 3x3 stride 2 bias", { a = LAYER(.op = GRIN__NN_CONV, .in = {-1, -1}, .k = 3, .stride = 2, .pad = 1, .groups = 1, .out_c = 3, .bias = true); HEAD(a); });
    CASE("depthwise", { a = LAYER(.op = GRIN__NN_CONV, .in = {-1, -1}, .k = 3, .stride = 1, .pad = 1, .groups = 2, .out_c = 2); HEAD(a); });
    CASE("grouped", { a = PW(-1, 4); a = LAYER(.op = GRIN__NN_CONV, .in = {a, -1}, .k = 3, .stride = 2, .pad = 1, .groups = 2, .out_c = 6); HEAD(a); });
    CASE("batch norm", { a = PW(-1, 3); a = LAYER(.op = GRIN__NN_BN, .in = {a, -1}); HEAD(a); });
    CASE("relu", { a = PW(-1, 3); a = LAYER(.op = GRIN__NN_RELU, .in = {a, -1}); HEAD(a); });
    CASE("relu6", { a = PW(-1, 3); a = LAYER(.op = GRIN__NN_BN, .in = {a, -1}); a = LAYER(.op = GRIN__NN_RELU6, .in = {a, -1}); HEAD(a); });
    CASE("max pool", { a = PW(-1, 3); a = LAYER(.op = GRIN__NN_MAXPOOL, .in = {a, -1}, .k = 2, .stride = 2); HEAD(a); });
    CASE("avg pool", { a = PW(-1, 3); a = LAYER(.op = GRIN__NN_AVGPOOL, .in = {a, -1}, .k = 3, .stride = 2, .pad = 1); HEAD(a); });
    CASE("global avg pool", { a = PW(-1, 3); a = LAYER(.op = GRIN__NN_GAP, .in = {a, -1}); HEAD(a); });
    CASE("residual add", { a = PW(-1, 3); b = PW(-1, 3); a = LAYER(.op = GRIN__NN_ADD, .in = {a, b}); HEAD(a); });
    CASE("concat", { a = PW(-1, 3); b = PW(a, 2); a = LAYER(.op = GRIN__NN_CONCAT, .in = {a, b}); HEAD(a); });
    CASE("uneven padding", { a = LAYER(.op = GRIN__NN_CONV, .in = {-1, -1}, .k = 3, .stride = 2, .pad = 0, .pad_extra = 1, .groups = 2, .out_c = 2, .bias = true); HEAD(a); });
    int total = 0;
    for (int i = 0; i < k; i++) {
        if (r[i].bad)
            print_message("%s: %d gradients disagree with finite differences\n", r[i].name, r[i].bad);
        total += r[i].bad;
    }
    assert_int_equal(total, 0);
    grin__nn_force_reference = false;
}

static void test_gradients_fast(void **state) { (void)state; check_gradients(false); }
static void test_gradients_reference(void **state) { (void)state; check_gradients(true); }

/* fast paths (GEMM, depthwise) equal the reference loops, forward and backward */
static void test_fast_equals_reference(void **state)
{
    (void)state;
    grin__nn_net net;
    build_test_net(&net);
    grin__nn_ws w1 = {0}, w2 = {0};
    int B = 2;
    size_t n_in = (size_t)B * 9 * 8 * 3;
    float *x = malloc(n_in * sizeof *x);
    for (size_t i = 0; i < n_in; i++)
        x[i] = frand();
    float *g1 = malloc(net.nparams * sizeof(float)), dl[2] = {0.3f, -0.7f};
    const float *o1, *o2;
    grin__nn_force_reference = true;
    assert_int_equal(grin__nn_forward(&net, &w1, x, B, true, &o1), GRIN_OK);
    memset(net.grads, 0, net.nparams * sizeof(float));
    grin__nn_backward(&net, &w1, x, dl);
    memcpy(g1, net.grads, net.nparams * sizeof(float));
    grin__nn_force_reference = false;
    assert_int_equal(grin__nn_forward(&net, &w2, x, B, true, &o2), GRIN_OK);
    memset(net.grads, 0, net.nparams * sizeof(float));
    grin__nn_backward(&net, &w2, x, dl);
    for (int b = 0; b < B; b++)
        assert_true(fabsf(o1[b] - o2[b]) < 1e-5f);
    for (size_t p = 0; p < net.nparams; p++)
        assert_true(fabsf(g1[p] - net.grads[p]) < 1e-4f * fmaxf(1.0f, fabsf(g1[p])));
    free(g1);
    free(x);
    grin__nn_ws_free(&w1);
    grin__nn_ws_free(&w2);
    grin__nn_free(&net);
}

/* random BN statistics and affine parameters, so folding them into the convolutions matters */
static void randomise_bn(grin__nn_net *net)
{
    for (int i = 0; i < net->n; i++) {
        const grin__nn_layer *l = &net->L[i];
        if (l->op != GRIN__NN_BN)
            continue;
        for (int c = 0; c < l->c; c++) {
            net->params[l->woff + c] = 1.0f + 0.5f * frand();
            net->params[l->boff + c] = 0.3f * frand();
            net->state[l->soff + c] = 0.2f * frand();
            net->state[l->soff + l->c + c] = 0.6f + 0.5f * frand();
        }
    }
}

/* the plan against the training engine's reference forward pass (eval mode), with the scalar
 * and the AVX2 kernels */
static void check_plan(grin__nn_net *net, int outs)
{
    grin__nn_plan plan;
    grin_error err;
    assert_int_equal(grin__nn_plan_build(net, net->state, &plan, &err), GRIN_OK);
    assert_int_equal(plan.out_c, outs);
    size_t n_in = (size_t)net->in_h * net->in_w * net->in_c;
    float *x = malloc(2 * n_in * sizeof *x);
    for (size_t i = 0; i < 2 * n_in; i++)
        x[i] = frand();
    grin__nn_ws ws = {0};
    const float *ref;
    grin__nn_force_reference = true;
    assert_int_equal(grin__nn_forward(net, &ws, x, 2, false, &ref), GRIN_OK);
    grin__nn_force_reference = false;
    grin__nn_scratch s = {0};
    float got[16];
    grin__pool *pool = grin__pool_create(3);
    assert_non_null(pool);
    /* every kernel set this machine has (scalar; AVX2 and AVX-512, or NEON), then each with layers
     * split over threads */
    int isas[4], nisa = 0;
    isas[nisa++] = GRIN__ISA_SCALAR;
    if (grin__kernels_avx2_usable())
        isas[nisa++] = GRIN__ISA_AVX2;
    if (grin__kernels_avx512_usable())
        isas[nisa++] = GRIN__ISA_AVX512;
    if (grin__kernels_neon_usable())
        isas[nisa++] = GRIN__ISA_NEON;
    for (int kind = 0; kind < 2 * nisa; kind++) {
        int isa = isas[kind % nisa];
        plan.isa = isa;
        for (int b = 0; b < 2; b++) {
            assert_int_equal(grin__nn_plan_run(&plan, &s, x + b * n_in, got, kind >= nisa ? pool : NULL), GRIN_OK);
            for (int o = 0; o < outs; o++) {
                float r = ref[b * outs + o];
                if (fabsf(got[o] - r) > 2e-5f * fmaxf(1.0f, fabsf(r)))
                    fail_msg("kernels %d image %d output %d: plan %.7g, reference %.7g", kind, b, o, got[o], r);
            }
        }
    }
    grin__pool_free(pool);
    grin__nn_force_reference = false;
    grin__nn_scratch_free(&s);
    grin__nn_ws_free(&ws);
    grin__nn_plan_free(&plan);
    free(x);
}

static void test_plan_matches_forward(void **state)
{
    (void)state;
    grin_error err;
    /* 0.35 gives 11, 22, 44... channels: partial panels and the scalar depthwise fallback */
    /* 1.0 at 96 has layers large enough to be split over threads */
    const struct { int size, ch; float alpha; } cfg[] = {{64, 1, 0.25f}, {48, 3, 0.5f}, {40, 3, 0.35f}, {96, 3, 1.0f}};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        grin__nn_net net;
        assert_int_equal(grin__nn_mobilenet(&net, cfg[i].size, cfg[i].ch, cfg[i].alpha, 7 + i, &err), GRIN_OK);
        randomise_bn(&net);
        check_plan(&net, 1);
        grin__nn_free(&net);
    }
    /* a batch norm with no convolution before it, a bare activation, a biased convolution
     * without batch norm, a multi-output dense layer */
    grin__nn_net net;
    grin__nn_init(&net, 7, 9, 2);
    int a = grin__nn_add(&net, (grin__nn_layer){.op = GRIN__NN_BN, .in = {-1, -1}});
    a = grin__nn_add(&net, (grin__nn_layer){.op = GRIN__NN_RELU, .in = {a, -1}});
    a = grin__nn_add(&net, (grin__nn_layer){.op = GRIN__NN_CONV, .in = {a, -1}, .k = 3, .stride = 1, .pad = 1, .groups = 1, .out_c = 19, .bias = true});
    a = grin__nn_add(&net, (grin__nn_layer){.op = GRIN__NN_RELU6, .in = {a, -1}});
    a = grin__nn_add(&net, (grin__nn_layer){.op = GRIN__NN_RELU, .in = {a, -1}});
    a = grin__nn_add(&net, (grin__nn_layer){.op = GRIN__NN_CONV, .in = {a, -1}, .k = 5, .stride = 2, .pad = 2, .groups = 1, .out_c = 8});
    a = grin__nn_add(&net, (grin__nn_layer){.op = GRIN__NN_BN, .in = {a, -1}});
    a = grin__nn_add(&net, (grin__nn_layer){.op = GRIN__NN_CONV, .in = {a, -1}, .k = 3, .stride = 2, .pad = 0, .groups = 8, .out_c = 8});
    a = grin__nn_add(&net, (grin__nn_layer){.op = GRIN__NN_GAP, .in = {a, -1}});
    grin__nn_add(&net, (grin__nn_layer){.op = GRIN__NN_DENSE, .in = {a, -1}, .out_c = 3});
    assert_int_equal(grin__nn_finish(&net, 3, &err), GRIN_OK);
    randomise_bn(&net);
    for (size_t p = 0; p < net.nparams; p++) /* biases too */
        if (net.params[p] == 0.0f)
            net.params[p] = 0.1f * frand();
    check_plan(&net, 3);
    grin__nn_free(&net);
    /* graphs with branches are left to the training engine */
    build_test_net(&net);
    grin__nn_plan plan;
    assert_int_equal(grin__nn_plan_build(&net, net.state, &plan, &err), GRIN_ERR_UNSUPPORTED);
    grin__nn_free(&net);
    /* ... but face-api.js's running sums run in the plan (odd sizes: even padding; channels of
     * 8 and 24 with alpha 0.25 and 0.75, the first grey and colour) */
    const struct { int size, ch; float alpha; } d4[] = {{33, 1, 0.25f}, {49, 3, 0.75f}};
    for (size_t i = 0; i < sizeof d4 / sizeof d4[0]; i++) {
        assert_int_equal(grin__nn_dense4(&net, d4[i].size, d4[i].ch, d4[i].alpha, 2, 5 + i, NULL, &err), GRIN_OK);
        for (size_t p = 0; p < net.nparams; p++) /* biases too; small enough to keep the sums moderate */
            net.params[p] = net.params[p] ? 0.5f * net.params[p] : 0.1f * frand();
        check_plan(&net, 2);
        grin__nn_free(&net);
    }
    /* an even size pads unevenly (TensorFlow's "same"): the training engine runs it */
    assert_int_equal(grin__nn_dense4(&net, 64, 1, 0.25f, 1, 1, NULL, &err), GRIN_OK);
    assert_int_equal(grin__nn_plan_build(&net, net.state, &plan, &err), GRIN_ERR_UNSUPPORTED);
    assert_int_equal(net.L[net.n - 1].op, GRIN__NN_SIGMOID);
    grin__nn_free(&net);
    /* an addition whose other input is not the running sum is refused */
    grin__nn_init(&net, 6, 6, 2);
    int x0 = grin__nn_add(&net, (grin__nn_layer){.op = GRIN__NN_CONV, .in = {-1, -1}, .k = 1, .stride = 1, .groups = 1, .out_c = 2});
    int x1 = grin__nn_add(&net, (grin__nn_layer){.op = GRIN__NN_RELU, .in = {x0, -1}});
    int x2 = grin__nn_add(&net, (grin__nn_layer){.op = GRIN__NN_CONV, .in = {x1, -1}, .k = 1, .stride = 1, .groups = 1, .out_c = 2});
    int x3 = grin__nn_add(&net, (grin__nn_layer){.op = GRIN__NN_CONV, .in = {x2, -1}, .k = 1, .stride = 1, .groups = 1, .out_c = 2});
    int x4 = grin__nn_add(&net, (grin__nn_layer){.op = GRIN__NN_ADD, .in = {x1, x3}});
    int x5 = grin__nn_add(&net, (grin__nn_layer){.op = GRIN__NN_CONV, .in = {x4, -1}, .k = 1, .stride = 1, .groups = 1, .out_c = 2});
    grin__nn_add(&net, (grin__nn_layer){.op = GRIN__NN_ADD, .in = {x2, x5}}); /* x2: not the sum */
    assert_int_equal(grin__nn_finish(&net, 1, &err), GRIN_OK);
    assert_int_equal(grin__nn_plan_build(&net, net.state, &plan, &err), GRIN_ERR_UNSUPPORTED);
    grin__nn_free(&net);
}

/* runs net on a raw 8-bit RGB fixture (dir/name, n bytes) in grin's input scaling; the
 * activations stay in ws */
static void run_raw_fixture(const grin__nn_net *net, const char *dir, const char *name, uint8_t *px, size_t n,
                            float *x, grin__nn_ws *ws)
{
    char path[1024];
    snprintf(path, sizeof path, "%s%s", dir, name);
    FILE *g = fopen(path, "rb");
    assert_non_null(g);
    assert_int_equal(fread(px, 1, n, g), n);
    fclose(g);
    for (size_t i = 0; i < n; i++)
        x[i] = px[i] / 127.5f - 1.0f;
    const float *out;
    assert_int_equal(grin__nn_forward(net, ws, x, 1, false, &out), GRIN_OK);
}

/* face-api.js's expression network imported: its seven logits on six 112 x 112 face crops agree
 * with face-api.js's own (TensorFlow.js, bench/faceapi_oracle.cjs wrote expected.txt). They can't
 * agree exactly: face-api.js pads its normalised input with zeros, which are mean-coloured pixels
 * to it and mid-grey ones to grin, so the bottom row and right column differ a little. */
static void test_faceapi_import(void **state)
{
    (void)state;
    grin__model m;
    grin_error err = {{0}};
    const char *dir = GRIN_SOURCE_DIR "/tests/fixtures/faceapi/";
    grin_status st = grin__import_faceapi(GRIN_SOURCE_DIR "/third_party/face-api/face_expression_model-weights_manifest.json",
                                          112, 3, true, &m, &err);
    if (st)
        fail_msg("%s", err.msg);
    assert_int_equal(m.arch, GRIN__ARCH_DENSE4);
    char path[1024], line[512];
    snprintf(path, sizeof path, "%sexpected.txt", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int faces = 0;
    double sum_diff = 0;
    static uint8_t px[112 * 112 * 3];
    static float x[112 * 112 * 3];
    while (fgets(line, sizeof line, f)) {
        char name[128];
        double want[7];
        if (sscanf(line, "%127s %lf %lf %lf %lf %lf %lf %lf", name, &want[0], &want[1], &want[2], &want[3], &want[4],
                   &want[5], &want[6]) != 8)
            continue;
        grin__nn_ws ws = {0};
        run_raw_fixture(&m.net, dir, name, px, sizeof px, x, &ws);
        const float *logit = ws.act[m.net.n - 2];
        int best = 0, want_best = 0;
        for (int k = 0; k < 7; k++) {
            double d = fabs(logit[k] - want[k]);
            if (d > 1.0)
                fail_msg("%s expression %d: logit %.3f, face-api.js %.3f", name, k, logit[k], want[k]);
            sum_diff += d;
            best = logit[k] > logit[best] ? k : best;
            want_best = want[k] > want[want_best] ? k : want_best;
        }
        assert_int_equal(best, want_best);
        grin__nn_ws_free(&ws);
        faces++;
    }
    fclose(f);
    assert_int_equal(faces, 6);
    /* on average much closer than the bound above (a wrong layout or normalisation is off by
     * several units) */
    assert_true(sum_diff / (faces * 7) < 0.3);
    grin__model_free(&m);
    /* the smile start: one output, happy minus neutral, grey and at another size */
    st = grin__import_faceapi(GRIN_SOURCE_DIR "/third_party/face-api/face_expression_model-weights_manifest.json", 65,
                              1, false, &m, &err);
    assert_int_equal(st, GRIN_OK);
    assert_int_equal(m.net.L[m.net.n - 2].out_c, 1);
    assert_int_equal(m.net.in_c, 1);
    grin__model_free(&m);
}

/* face-api.js's face recognition network (dlib's ResNet) imported: its 128-wide descriptor of
 * three 150 x 150 face crops equals face-api.js's own (TensorFlow.js, bench/facerec_oracle.cjs
 * wrote expected.txt) to float rounding: its first convolution reads no padding, so nothing
 * differs by design. Grey import and the zero padding's place in the graph are checked too. */
static void test_facerec_import(void **state)
{
    (void)state;
    grin__model m;
    grin_error err = {{0}};
    const char *dir = GRIN_SOURCE_DIR "/tests/fixtures/facerec/";
    const char *manifest = GRIN_SOURCE_DIR "/third_party/face-api/face_recognition_model-weights_manifest.json";
    grin_status st = grin__import_facerec(manifest, 150, 3, &m, &err);
    if (st)
        fail_msg("%s", err.msg);
    assert_int_equal(m.arch, GRIN__ARCH_FACEREC);
    /* 150: 72 after the first convolution, 35 after pooling, then 17, 8, 4 (3 padded) and 2 (1 padded) */
    int pads = 0;
    for (int i = 0; i < m.net.n; i++)
        if (m.net.L[i].op == GRIN__NN_PAD) {
            assert_int_equal(m.net.L[i].pad_extra, 1);
            pads++;
        }
    assert_int_equal(pads, 2);
    const grin__nn_layer *fc = &m.net.L[m.net.n - 3];
    assert_int_equal(fc->op, GRIN__NN_DENSE);
    assert_int_equal(fc->out_c, 128);
    char path[1024];
    static char line[8192];
    snprintf(path, sizeof path, "%sexpected.txt", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int faces = 0;
    static uint8_t px[150 * 150 * 3];
    static float x[150 * 150 * 3];
    double worst = 0;
    while (fgets(line, sizeof line, f)) {
        char name[128];
        int at = 0;
        if (sscanf(line, "%127s%n", name, &at) != 1)
            continue;
        double want[128];
        for (int k = 0; k < 128; k++) {
            int used = 0;
            assert_int_equal(sscanf(line + at, "%lf%n", &want[k], &used), 1);
            at += used;
        }
        grin__nn_ws ws = {0};
        run_raw_fixture(&m.net, dir, name, px, sizeof px, x, &ws);
        const float *d = ws.act[m.net.n - 3];
        double norm = 0;
        for (int k = 0; k < 128; k++) {
            double e = fabs(d[k] - want[k]);
            worst = e > worst ? e : worst;
            norm += want[k] * want[k];
        }
        assert_true(norm > 0.1); /* a real descriptor, not zeros */
        grin__nn_ws_free(&ws);
        faces++;
    }
    fclose(f);
    assert_int_equal(faces, 3);
    if (worst > 2e-4) /* the file holds 6 decimals; a wrong fold or layout is off by 0.01 or more */
        fail_msg("descriptor differs from face-api.js's by %g", worst);
    /* the fast engine can't run the residual graph: a classifier falls back to the training engine */
    grin__nn_plan plan;
    assert_int_equal(grin__nn_plan_build(&m.net, m.net.state, &plan, NULL), GRIN_ERR_UNSUPPORTED);
    grin__model_free(&m);
    /* grey, another size: one output, fewer input channels, the padding where the sizes need it */
    st = grin__import_facerec(manifest, GRIN__FACEREC_MIN_SIZE, 1, &m, &err);
    assert_int_equal(st, GRIN_OK);
    assert_int_equal(m.net.in_c, 1);
    assert_int_equal(m.net.L[m.net.n - 2].out_c, 1);
    grin__model_free(&m);
    assert_int_equal(grin__import_facerec(manifest, GRIN__FACEREC_MIN_SIZE - 1, 1, &m, &err), GRIN_ERR_INVALID_ARGUMENT);
    /* not a face recognition manifest */
    st = grin__import_facerec(GRIN_SOURCE_DIR "/third_party/face-api/face_expression_model-weights_manifest.json", 150, 3,
                              &m, &err);
    assert_int_equal(st, GRIN_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "face recognition"));
}

/* 8 bits: the VNNI GEMM equals the scalar integer kernel exactly; a calibrated, quantized
 * MobileNet stays close to its float plan with either kernel set; the calibration round-trips
 * through its metadata line and malformed lines are refused */
/* an integer GEMM (13 x 37 x 20: tails everywhere) against the formula, bit for bit; weights in
 * [-wmax, wmax], a third of them at its ends, most activations 255 */
static void check_gemm_u8(void (*gemm)(int, int, int, const uint8_t *, const int8_t *, const float *, const float *,
                                       int, float *, int),
                          int wmax)
{
    const int M = 13, N = 37, K4 = 20, panels = (N + 15) / 16;
    uint8_t *A = malloc((size_t)M * K4);
    int8_t *W = malloc((size_t)panels * K4 * 16);
    float dq[48], bias[64], c1[13 * 37], c2[13 * 37];
    for (int i = 0; i < M * K4; i++)
        A[i] = i % 3 ? 255 : (uint8_t)(frand() * 127.5f + 127.5f);
    for (int i = 0; i < panels * K4 * 16; i++)
        W[i] = (int8_t)(i % 5 == 0 ? wmax : i % 5 == 1 ? -wmax : lrintf(frand() * (float)wmax));
    for (int i = 0; i < 48; i++)
        dq[i] = 0.001f * (1.0f + frand());
    for (int i = 0; i < 64; i++)
        bias[i] = frand();
    gemm(M, N, K4, A, W, dq, bias, GRIN__ACT_RELU6, c1, N);
    for (int i = 0; i < M; i++)
        for (int nn = 0; nn < N; nn++) {
            const int8_t *w = W + (size_t)(nn / 16) * K4 * 16 + (nn % 16) * 4;
            int32_t sum = 0;
            for (int k = 0; k < K4; k++)
                sum += (int32_t)A[i * K4 + k] * w[(k / 4) * 64 + k % 4];
            float v = (float)sum * dq[nn] + bias[nn];
            c2[i * N + nn] = v < 0 ? 0 : v > 6 ? 6 : v;
        }
    assert_memory_equal(c1, c2, sizeof c1);
    free(A);
    free(W);
}

static void test_int8(void **state)
{
    (void)state;
    grin_error err;
    grin__nn_net net;
    assert_int_equal(grin__nn_mobilenet(&net, 64, 1, 0.25f, 11, &err), GRIN_OK);
    const int n = 24;
    size_t per = 64 * 64;
    float *x = malloc((size_t)n * per * sizeof *x);
    for (int i = 0; i < n; i++) /* smooth images, as faces are */
        for (size_t k = 0; k < per; k++)
            x[(size_t)i * per + k] = sinf((float)(k % 64) * 0.1f * (float)(i % 5 + 1)) * cosf((float)(k / 64) * 0.07f * (float)(i % 3 + 1));
    /* batch-norm statistics of these images, as training leaves them (a random net with random
     * statistics amplifies any rounding without bound) */
    net.bn_momentum = 1.0f;
    grin__nn_ws ws = {0};
    const float *tout;
    assert_int_equal(grin__nn_forward(&net, &ws, x, n, true, &tout), GRIN_OK);
    grin__nn_ws_free(&ws);
    grin__nn_plan plan;
    assert_int_equal(grin__nn_plan_build(&net, net.state, &plan, &err), GRIN_OK);
    assert_int_equal(grin__nn_plan_quantize(&plan, &err), GRIN_ERR_UNSUPPORTED); /* not calibrated */
    assert_int_equal(grin__nn_plan_calibrate(&plan, x, n), GRIN_OK);
    char line[4096];
    assert_true(grin__nn_plan_format_calibration(&plan, line, sizeof line));
    float fl[24], q[24];
    grin__nn_scratch s = {0};
    for (int i = 0; i < n; i++)
        assert_int_equal(grin__nn_plan_run(&plan, &s, x + (size_t)i * per, &fl[i], NULL), GRIN_OK);
    /* a second plan quantized from the metadata line alone */
    grin__nn_plan p2;
    assert_int_equal(grin__nn_plan_build(&net, net.state, &p2, &err), GRIN_OK);
    char meta[4200];
    snprintf(meta, sizeof meta, "note=x\n%s", line);
    assert_int_equal(grin__nn_plan_apply_calibration(&p2, meta, &err), GRIN_OK);
    assert_true(p2.int8);
    bool vnni = p2.int8_isa == GRIN__INT8_VNNI;
    /* the same calibration packed for the AVX2 integer kernels (weights in [-63, 63]) */
    grin__nn_plan p5;
    assert_int_equal(grin__nn_plan_build(&net, net.state, &p5, &err), GRIN_OK);
    assert_int_equal(grin__nn_plan_calibrate(&p5, x, n), GRIN_OK);
    assert_int_equal(grin__nn_plan_quantize_for(&p5, GRIN__INT8_AVX2, &err), GRIN_OK);
    const grin__nn_plan *qplans[] = {&p2, &p5};
    const char *qname[] = {"8-bit", "8-bit AVX2"};
    for (int k = 0; k < 2; k++) {
        const grin__nn_plan *qp = qplans[k];
        float q0[24];
        double mean = 0;
        grin__nn_force_reference = true; /* the scalar integer kernels */
        for (int i = 0; i < n; i++) {
            assert_int_equal(grin__nn_plan_run(qp, &s, x + (size_t)i * per, &q0[i], NULL), GRIN_OK);
            mean += fabs(q0[i] - fl[i]) / n;
        }
        grin__nn_force_reference = false;
        /* a random net magnifies rounding (a trained one moves far less: see the training test) */
        if (!(mean < 0.1))
            fail_msg("%s scalar: probabilities moved by %.4f on average", qname[k], mean);
        if (qp->int8_isa == GRIN__INT8_SCALAR || (qp->int8_isa == GRIN__INT8_AVX2 && !grin__kernels_avx2_usable()))
            continue;
        /* VNNI or AVX2: the same integer sums; only the depthwise float rounding can differ */
        for (int i = 0; i < n; i++) {
            assert_int_equal(grin__nn_plan_run(qp, &s, x + (size_t)i * per, &q[i], NULL), GRIN_OK);
            if (fabsf(q[i] - q0[i]) > 0.02f)
                fail_msg("%s image %d: fast %.5f, scalar %.5f", qname[k], i, q[i], q0[i]);
        }
    }
    grin__nn_plan_free(&p5);
    /* the first convolution reads the pixels (in 8 bits, unless an AVX-512, AVX2 or NEON kernel
     * takes a grey one in floats): u8 in gives what the floats they stand for give, in 8 bits and
     * (converted) in float. A scalar plan of the same net has the 8-bit first convolution. */
    assert_true(p2.in_u8 == !((p2.isa == GRIN__ISA_AVX2 || p2.isa == GRIN__ISA_AVX512 || p2.isa == GRIN__ISA_NEON) &&
                              grin__conv3s2_grey_shape(&p2.ops[0])));
    grin__nn_plan p4;
    assert_int_equal(grin__nn_plan_build(&net, net.state, &p4, &err), GRIN_OK);
    p4.isa = GRIN__ISA_SCALAR;
    assert_int_equal(grin__nn_plan_apply_calibration(&p4, meta, &err), GRIN_OK);
    assert_true(p4.in_u8);
    uint8_t *px = malloc(per);
    float *gx = malloc(per * sizeof *gx);
    double first_moved = 0;
    for (int i = 0; i < 4; i++) {
        for (size_t k = 0; k < per; k++) {
            px[k] = (uint8_t)lrintf((x[(size_t)i * per + k] + 1) * 127.5f);
            gx[k] = (float)px[k] * (1.0f / 127.5f) - 1.0f; /* as the classifier prepares crops */
        }
        float a, b;
        const grin__nn_plan *plans[] = {&p2, &p4, &plan};
        for (int k = 0; k < 3; k++) {
            assert_int_equal(grin__nn_plan_run_u8(plans[k], &s, px, &a, NULL), GRIN_OK);
            assert_int_equal(grin__nn_plan_run(plans[k], &s, gx, &b, NULL), GRIN_OK);
            assert_float_equal(a, b, 0);
        }
        /* the 8-bit first convolution: within the bound the other 8-bit layers keep above */
        assert_int_equal(grin__nn_plan_run_u8(&p4, &s, px, &a, NULL), GRIN_OK);
        assert_int_equal(grin__nn_plan_run_u8(&p2, &s, px, &b, NULL), GRIN_OK);
        first_moved += fabsf(a - b) / 4;
    }
    if (!(first_moved < 0.1))
        fail_msg("8-bit first convolution: probabilities moved by %.4f on average", first_moved);
    grin__nn_plan_free(&p4);
    free(px);
    free(gx);
    /* every malformed calibration is refused */
    const char *bad[] = {"int8_act_max=1,2\n", "int8_act_max=\n", "x=1\n", "int8_act_max=-1,"};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        grin__nn_plan p3;
        assert_int_equal(grin__nn_plan_build(&net, net.state, &p3, &err), GRIN_OK);
        assert_int_not_equal(grin__nn_plan_apply_calibration(&p3, bad[b], &err), GRIN_OK);
        grin__nn_plan_free(&p3);
    }
    /* the VNNI GEMM, and the AVX2 one with weights at the ends of [-63, 63] (where vpmaddubsw's
     * 16-bit pairs would saturate with wider weights) and large activations, against the
     * formula, exactly, on data with tails; and the AVX2 in-place u8 store */
    if (vnni)
        check_gemm_u8(grin__gemm_u8_vnni, 127);
    if (grin__int8_neon_usable()) /* ARM: widening multiply-accumulates, and SDOT */
        check_gemm_u8(grin__gemm_u8_neon, 127);
    if (grin__int8_neon_dot_usable())
        check_gemm_u8(grin__gemm_u8_neon_dot, 127);
    if (grin__kernels_avx2_usable()) {
        check_gemm_u8(grin__gemm_u8_avx2, 63);
        float f[21];
        uint8_t want[21];
        for (int i = 0; i < 21; i++) {
            f[i] = i == 3 ? -2.0f : i == 4 ? 400.0f : i == 5 ? 2.5f : i == 6 ? 3.5f : 100.0f * (frand() + 1.0f);
            long v = lrintf(f[i] * 1.0f);
            want[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        grin__quantize_u8_avx2(f, 21, 1.0f, 0);
        assert_memory_equal(f, want, 21);
    }
    grin__nn_scratch_free(&s);
    grin__nn_plan_free(&p2);
    grin__nn_plan_free(&plan);
    grin__nn_free(&net);
    free(x);
}

/* an 8-bit plan split over threads gives what it gives on one: MobileNet 1.0 at 96, whose
 * layers are large enough to be split, packed for VNNI (where the machine has it) and for AVX2 */
/* 8 bits on signed activations (face-api.js's separable convolutions have no activation between
 * the depthwise and pointwise layers): zero point 128; the integer kernels agree with the scalar
 * ones, the result stays near float, and the running sums still add up */
static void test_int8_signed(void **state)
{
    (void)state;
    grin_error err;
    grin__nn_net net;
    assert_int_equal(grin__nn_dense4(&net, 49, 1, 0.5f, 1, 3, NULL, &err), GRIN_OK);
    for (size_t p = 0; p < net.nparams; p++) /* weights small enough that the sums stay moderate */
        net.params[p] = net.params[p] ? 0.5f * net.params[p] : 0.05f * frand();
    const int n = 12;
    size_t per = 49 * 49;
    float *x = malloc((size_t)n * per * sizeof *x);
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < per; k++)
            x[(size_t)i * per + k] = sinf((float)(k % 49) * 0.13f * (float)(i % 4 + 1)) * cosf((float)(k / 49) * 0.05f * (float)(i % 3 + 1));
    grin__nn_plan plan, q;
    assert_int_equal(grin__nn_plan_build(&net, net.state, &plan, &err), GRIN_OK);
    assert_int_equal(grin__nn_plan_calibrate(&plan, x, n), GRIN_OK);
    char line[8192];
    assert_true(grin__nn_plan_format_calibration(&plan, line, sizeof line));
    assert_int_equal(grin__nn_plan_build(&net, net.state, &q, &err), GRIN_OK);
    assert_int_equal(grin__nn_plan_apply_calibration(&q, line, &err), GRIN_OK);
    int signed_layers = 0;
    for (int i = 0; i < q.n; i++)
        signed_layers += q.ops[i].out_u8 && q.ops[i].zp == 128;
    assert_int_equal(signed_layers, 15); /* every depthwise layer but none of the first */
    grin__nn_scratch s = {0};
    double moved = 0;
    for (int i = 0; i < n; i++) {
        float f, a, b;
        assert_int_equal(grin__nn_plan_run(&plan, &s, x + (size_t)i * per, &f, NULL), GRIN_OK);
        grin__nn_force_reference = true;
        assert_int_equal(grin__nn_plan_run(&q, &s, x + (size_t)i * per, &a, NULL), GRIN_OK);
        grin__nn_force_reference = false;
        assert_int_equal(grin__nn_plan_run(&q, &s, x + (size_t)i * per, &b, NULL), GRIN_OK);
        if (fabsf(a - b) > 0.02f)
            fail_msg("image %d: fast 8-bit %.5f, scalar 8-bit %.5f", i, b, a);
        moved += fabs(a - f) / n;
    }
    if (!(moved < 0.05))
        fail_msg("8-bit probabilities moved by %.4f on average", moved);
    /* the AVX2 store with a zero point: rounding, then saturation at both ends */
    if (grin__kernels_avx2_usable()) {
        float f[11] = {-200.0f, -128.4f, -127.6f, -1.5f, -0.5f, 0.0f, 0.5f, 1.5f, 126.6f, 127.4f, 300.0f};
        uint8_t want[11];
        for (int i = 0; i < 11; i++) {
            long v = lrintf(f[i]) + 128;
            want[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        grin__quantize_u8_avx2(f, 11, 1.0f, 128);
        assert_memory_equal(f, want, 11);
    }
    grin__nn_scratch_free(&s);
    grin__nn_plan_free(&q);
    grin__nn_plan_free(&plan);
    grin__nn_free(&net);
    free(x);
}

static void test_int8_threads(void **state)
{
    (void)state;
    grin_error err;
    grin__nn_net net;
    assert_int_equal(grin__nn_mobilenet(&net, 96, 3, 1.0f, 5, &err), GRIN_OK);
    randomise_bn(&net);
    const int n = 3;
    size_t per = 96 * 96 * 3;
    float *x = malloc(n * per * sizeof *x);
    for (size_t k = 0; k < n * per; k++)
        x[k] = sinf((float)(k % 288) * 0.05f) * cosf((float)(k / 288) * 0.03f);
    grin__pool *pool = grin__pool_create(2);
    assert_non_null(pool);
    grin__nn_scratch s = {0};
    const int isa[] = {GRIN__INT8_VNNI, GRIN__INT8_AVX2};
    for (int k = 0; k < 2; k++) {
        grin__nn_plan plan;
        assert_int_equal(grin__nn_plan_build(&net, net.state, &plan, &err), GRIN_OK);
        assert_int_equal(grin__nn_plan_calibrate(&plan, x, n), GRIN_OK);
        assert_int_equal(grin__nn_plan_quantize_for(&plan, isa[k], &err), GRIN_OK);
        for (int i = 0; i < n; i++) {
            float one, two;
            assert_int_equal(grin__nn_plan_run(&plan, &s, x + i * per, &one, NULL), GRIN_OK);
            assert_int_equal(grin__nn_plan_run(&plan, &s, x + i * per, &two, pool), GRIN_OK);
            if (memcmp(&one, &two, sizeof one))
                fail_msg("kernels %d image %d: %.9g on one thread, %.9g on two", plan.int8_isa, i, one, two);
        }
        grin__nn_plan_free(&plan);
    }
    grin__nn_scratch_free(&s);
    grin__pool_free(pool);
    grin__nn_free(&net);
    free(x);
}

/* the fast 3x3 depthwise kernels against the scalar one, on shapes that reach every edge of
 * their tiling (narrow and wide rows, odd widths for the 8-channel pixel pairs, 8-channel tails,
 * row bands split between threads), in float and stored as 8 bits */
static void test_depthwise_kernels(void **state)
{
    (void)state;
    const struct { int ih, iw, c, stride, pad; } shape[] = {
        {4, 4, 128, 1, 1}, {2, 2, 256, 1, 1}, {1, 1, 16, 1, 1}, {5, 7, 8, 1, 1}, {32, 33, 8, 1, 1},
        {9, 3, 8, 2, 1}, {37, 41, 24, 1, 1}, {20, 35, 40, 2, 1}, {17, 18, 16, 2, 0}, {6, 19, 64, 1, 0},
        {8, 8, 64, 2, 1}, {3, 50, 8, 2, 1}, {30, 6, 16, 1, 1}, {41, 9, 8, 2, 1}, {23, 8, 8, 1, 1},
        /* MobileNet 1.0's last layers; one-row and one-column inputs; a 2x2 layer of 48 channels
         * (blocks that no strip shape divides evenly) */
        {7, 7, 1024, 1, 1}, {14, 14, 512, 2, 1}, {1, 9, 64, 2, 1}, {9, 1, 32, 1, 1}, {2, 2, 48, 1, 1}};
    for (size_t si = 0; si < sizeof shape / sizeof shape[0]; si++) {
        grin__op op = {.kind = GRIN__OP_DW, .k = 3, .ih = shape[si].ih, .iw = shape[si].iw, .ic = shape[si].c,
                       .c = shape[si].c, .stride = shape[si].stride, .pad = shape[si].pad, .act = GRIN__ACT_RELU6};
        op.h = (op.ih + 2 * op.pad - 3) / op.stride + 1;
        op.w = (op.iw + 2 * op.pad - 3) / op.stride + 1;
        size_t n_in = (size_t)op.ih * op.iw * op.c, n_out = (size_t)op.h * op.w * op.c;
        float *wt = malloc(9 * op.c * sizeof *wt), *bias = malloc(op.c * sizeof *bias);
        float *in = malloc(n_in * sizeof *in), *ref = malloc(n_out * sizeof *ref), *got = malloc(n_out * sizeof *got);
        uint8_t *q = malloc(n_out);
        for (int i = 0; i < 9 * op.c; i++)
            wt[i] = frand();
        for (int i = 0; i < op.c; i++)
            bias[i] = 0.5f * frand() + 0.5f;
        for (size_t i = 0; i < n_in; i++)
            in[i] = 2 * frand();
        op.wt = wt;
        op.bias = bias;
        op.out_scale = 6.0f / 255;
        grin__kernels_scalar.dw(&op, in, ref, 0, op.h);
        const grin__kernels *fast[] = {&grin__kernels_avx2, &grin__kernels_avx512, &grin__kernels_neon};
        bool usable[] = {grin__kernels_avx2_usable(), grin__kernels_avx512_usable(), grin__kernels_neon_usable()};
        for (int k = 0; k < 3; k++) {
            if (!usable[k])
                continue;
            for (int split = 0; split < 2; split++) {
                memset(got, 0xff, n_out * sizeof *got); /* NaN: every output must be written */
                if (split) /* as a pool splits a layer: row ranges, last first (a range must
                            * write nothing outside itself) */
                    for (int y = (op.h - 1) / 3 * 3; y >= 0; y -= 3)
                        fast[k]->dw(&op, in, got, y, y + 3 < op.h ? y + 3 : op.h);
                else
                    fast[k]->dw(&op, in, got, 0, op.h);
                for (size_t i = 0; i < n_out; i++)
                    if (!(fabsf(got[i] - ref[i]) <= 1e-5f * fmaxf(1.0f, fabsf(ref[i]))))
                        fail_msg("shape %zu kernels %d split %d output %zu: %.7g, scalar %.7g", si, k, split, i,
                                 got[i], ref[i]);
            }
            if (k == 1) { /* the 8-bit store: round(y / scale) of the float kernel's own y */
                memset(q, 0xaa, n_out);
                grin__dw_u8_avx512(&op, in, q, 0, op.h);
                fast[k]->dw(&op, in, got, 0, op.h);
                float inv = 1.0f / op.out_scale;
                for (size_t i = 0; i < n_out; i++) {
                    long want = lrintf(got[i] * inv);
                    want = want < 0 ? 0 : want > 255 ? 255 : want;
                    if (q[i] != want)
                        fail_msg("shape %zu output %zu: u8 %d, want %ld", si, i, q[i], want);
                }
            }
        }
        free(wt), free(bias), free(in), free(ref), free(got), free(q);
    }
}

/* the fast kernels of a grey first layer (3x3, one input channel) against the formula, on
 * the shapes MobileNets give and awkward ones: widths that are not a multiple of 16 output
 * pixels, odd input sizes (the last column's right neighbour is padding), channel counts that
 * are not a multiple of 16, and row ranges run last-first */
static void test_first_conv_kernels(void **state)
{
    (void)state;
    const struct { int ih, iw, c, stride; } shape[] = {{64, 64, 8, 2}, {64, 64, 16, 2}, {17, 23, 8, 2}, {5, 40, 24, 2},
                                                      {33, 3, 32, 2}, {1, 1, 8, 2}, {96, 96, 64, 2}, {31, 64, 40, 2},
                                                      {12, 13, 8, 1}};
    for (size_t si = 0; si < sizeof shape / sizeof shape[0]; si++) {
        grin__op op = {.kind = GRIN__OP_GEMM, .k = 3, .ih = shape[si].ih, .iw = shape[si].iw, .ic = 1,
                       .c = shape[si].c, .stride = shape[si].stride, .pad = 1, .act = GRIN__ACT_RELU6};
        op.h = (op.ih + 2 - 3) / op.stride + 1;
        op.w = (op.iw + 2 - 3) / op.stride + 1;
        int panels = (op.c + 15) / 16;
        size_t n_in = (size_t)op.ih * op.iw, n_out = (size_t)op.h * op.w * op.c;
        /* weights and bias padded to whole 16-column panels, as a plan lays them out */
        float *wt = calloc((size_t)panels * 9 * 16, sizeof *wt), *bias = calloc((size_t)panels * 16, sizeof *bias);
        float *in = malloc(n_in * sizeof *in), *ref = malloc(n_out * sizeof *ref), *got = malloc(n_out * sizeof *got);
        for (int n = 0; n < op.c; n++) {
            bias[n] = 0.5f * frand();
            for (int t = 0; t < 9; t++)
                wt[(size_t)(n / 16) * 9 * 16 + t * 16 + n % 16] = frand();
        }
        for (size_t i = 0; i < n_in; i++)
            in[i] = 2 * frand();
        op.wt = wt;
        op.bias = bias;
        for (int oy = 0; oy < op.h; oy++)
            for (int ox = 0; ox < op.w; ox++)
                for (int n = 0; n < op.c; n++) {
                    float v = bias[n];
                    for (int t = 0; t < 9; t++) {
                        int iy = oy * op.stride - 1 + t / 3, ix = ox * op.stride - 1 + t % 3;
                        if (iy >= 0 && iy < op.ih && ix >= 0 && ix < op.iw)
                            v += in[(size_t)iy * op.iw + ix] * wt[(size_t)(n / 16) * 9 * 16 + t * 16 + n % 16];
                    }
                    ref[((size_t)oy * op.w + ox) * op.c + n] = v < 0 ? 0 : v > 6 ? 6 : v;
                }
        const grin__kernels *fast[] = {&grin__kernels_avx2, &grin__kernels_avx512, &grin__kernels_neon};
        bool usable[] = {grin__kernels_avx2_usable(), grin__kernels_avx512_usable(), grin__kernels_neon_usable()};
        for (int k = 0; k < 3; k++) {
            if (!usable[k] || !fast[k]->conv)
                continue;
            memset(got, 0xff, n_out * sizeof *got); /* NaN: every output must be written */
            for (int y = (op.h - 1) / 2 * 2; y >= 0; y -= 2)
                fast[k]->conv(&op, in, got, y, y + 2 < op.h ? y + 2 : op.h);
            for (size_t i = 0; i < n_out; i++)
                if (!(fabsf(got[i] - ref[i]) <= 1e-5f * fmaxf(1.0f, fabsf(ref[i]))))
                    fail_msg("shape %zu kernels %d output %zu: %.7g, formula %.7g", si, k, i, got[i], ref[i]);
        }
        free(wt), free(bias), free(in), free(ref), free(got);
    }
}

static void test_mobilenet_size(void **state)
{
    (void)state;
    grin__nn_net net;
    grin_error err;
    /* MobileNet v1 1.0/224 (Howard et al. 2017): 569 M multiply-adds and 4.2 M parameters with
     * a 1000-way classifier; with one output the classifier shrinks by 1.024 M of each */
    assert_int_equal(grin__nn_mobilenet(&net, 224, 3, 1.0f, 1, &err), GRIN_OK);
    uint64_t macs = grin__nn_macs(&net);
    assert_true(macs > 560000000ull && macs < 570000000ull);
    size_t weights = 0;
    for (int i = 0; i < net.n; i++)
        if (net.L[i].op == GRIN__NN_CONV || net.L[i].op == GRIN__NN_DENSE)
            weights += net.L[i].wn + net.L[i].bn;
    assert_true(weights > 3150000 && weights < 3250000);
    assert_int_equal(net.L[net.n - 1].op, GRIN__NN_SIGMOID);
    grin__nn_free(&net);
    assert_int_equal(grin__nn_mobilenet(&net, 64, 1, 0.25f, 1, &err), GRIN_OK);
    grin__nn_ws ws = {0};
    float *x = calloc(2 * 64 * 64, sizeof(float));
    const float *out;
    assert_int_equal(grin__nn_forward(&net, &ws, x, 2, false, &out), GRIN_OK);
    assert_true(out[0] > 0 && out[0] < 1);
    free(x);
    grin__nn_ws_free(&ws);
    grin__nn_free(&net);
    assert_int_equal(grin__nn_mobilenet(&net, 16, 3, 1.0f, 1, &err), GRIN_ERR_INVALID_ARGUMENT);
}

static void test_metrics(void **state)
{
    (void)state;
    grin__metrics m;
    float p[6] = {0.9f, 0.8f, 0.7f, 0.3f, 0.2f, 0.1f};
    uint8_t y[6] = {1, 1, 1, 0, 0, 0}, r[6] = {0, 0, 0, 1, 1, 1}, mix[6] = {1, 0, 1, 0, 1, 0};
    grin__metrics_from(p, y, 6, &m);
    assert_true(m.acc == 1.0 && m.auc == 1.0 && m.tp == 3 && m.tn == 3);
    grin__metrics_from(p, r, 6, &m);
    assert_true(m.acc == 0.0 && m.auc == 0.0 && m.fp == 3 && m.fn == 3);
    float same[6] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    grin__metrics_from(same, mix, 6, &m);
    assert_true(fabs(m.auc - 0.5) < 1e-12);
    grin__metrics_from(p, mix, 6, &m); /* positives rank 6, 4 and 2 of 6: AUC (12 - 6) / 9 */
    assert_true(fabs(m.auc - 2.0 / 3.0) < 1e-12);
    /* the intervals against a direct computation (numpy: DeLong's V10/V01 with ddof 1, Wilson's
     * score interval), with tied scores across the classes */
    float q[10] = {0.1f, 0.4f, 0.35f, 0.8f, 0.7f, 0.2f, 0.9f, 0.6f, 0.6f, 0.3f};
    uint8_t t[10] = {0, 0, 1, 1, 0, 0, 1, 1, 0, 1};
    grin__metrics_from(q, t, 10, &m);
    assert_true(fabs(m.auc - 0.7) < 1e-12);
    assert_true(fabs(m.auc_lo - 0.338600495346128) < 1e-9);
    assert_true(m.auc_hi == 1.0); /* 1.0614, clipped */
    assert_true(fabs(m.acc - 0.6) < 1e-12);
    assert_true(fabs(m.acc_lo - 0.31267376792119533) < 1e-9);
    assert_true(fabs(m.acc_hi - 0.831819671473593) < 1e-9);
    /* a perfect ranking has no spread left: the interval closes on 1 */
    grin__metrics_from(p, y, 6, &m);
    assert_true(m.auc_lo == 1.0 && m.auc_hi == 1.0 && m.acc_hi == 1.0 && m.acc_lo < 1.0);
}

/* Augmentation: nothing asked, nothing changed; rotation, shift and blur keep a flat image flat,
 * the blur spreads a bright pixel without losing its mass, and the rotation turns a bar */
static void test_augment(void **state)
{
    (void)state;
    enum { S = 16 };
    uint8_t px[S * S];
    uint8_t y = 1;
    grin__dataset d = {.n = 1, .size = S, .channels = 1, .px = px, .y = &y};
    grin__train_cfg c;
    grin__train_cfg_default(&c);
    c.zoom = c.shear = c.brightness = c.contrast = 0;
    c.flip = false;
    float out[S * S];
    uint64_t rng = 7;
    for (int i = 0; i < S * S; i++)
        px[i] = (uint8_t)(i * 37 % 251);
    grin__augment(&d, 0, out, &c, &rng);
    for (int i = 0; i < S * S; i++)
        assert_true(out[i] == (float)(px[i] / 127.5 - 1.0));
    memset(px, 100, sizeof px);
    c.rotate = 20, c.shift = 0.1f, c.blur = 1;
    for (int k = 0; k < 8; k++) {
        grin__augment(&d, 0, out, &c, &rng);
        for (int i = 0; i < S * S; i++)
            assert_true(fabsf(out[i] - (float)(100 / 127.5 - 1.0)) < 1e-6f);
    }
    c.rotate = 0, c.shift = 0;
    px[8 * S + 8] = 200; /* a bright pixel mid-image: one or two [1 2 1] passes */
    grin__augment(&d, 0, out, &c, &rng);
    double base = 100 / 127.5 - 1.0, mass = 0;
    for (int i = 0; i < S * S; i++)
        mass += out[i] - base;
    assert_true(fabs(mass - 100 / 127.5) < 1e-4);
    assert_true(out[8 * S + 8] - base < 0.5 * 100 / 127.5 && out[8 * S + 9] > base && out[7 * S + 8] > base);
    memset(px, 0, sizeof px);
    for (int x = 0; x < S; x++)
        px[8 * S + x] = 255; /* a horizontal bar: rotated, it leaves its row at the ends */
    c.blur = 0, c.rotate = 30;
    int tilted = 0;
    for (int k = 0; k < 8; k++) {
        grin__augment(&d, 0, out, &c, &rng);
        tilted += out[8 * S + 1] < 0.5f || out[8 * S + S - 2] < 0.5f;
    }
    assert_true(tilted >= 6); /* rotations under ~4 degrees keep both ends lit */
}

/* 48 tiny images whose class is a bright band in the lower or upper half */
static void toy_dataset(grin__dataset *d, int n)
{
    memset(d, 0, sizeof *d);
    rs = 1; /* the same images whichever tests ran before */
    d->n = n, d->size = 32, d->channels = 1;
    d->px = malloc((size_t)n * 32 * 32);
    d->y = malloc((size_t)n);
    for (int i = 0; i < n; i++) {
        d->y[i] = (uint8_t)(i & 1);
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                bool band = d->y[i] ? (y > 18 && y < 26) : (y > 6 && y < 14);
                d->px[((size_t)i * 32 + y) * 32 + x] =
                    (uint8_t)lrintf(((band ? 0.6f : -0.4f) + 0.3f * frand() + 1) * 127.5f);
            }
    }
}

static void test_training_learns_and_is_deterministic(void **state)
{
    (void)state;
    grin__dataset d;
    toy_dataset(&d, 48);
    grin__train_cfg cfg;
    grin__train_cfg_default(&cfg);
    cfg.epochs = 24; /* 12 learnt only some draws of the images */
    cfg.batch = 16;
    cfg.lr = 3e-3f;
    float *params[2];
    for (int run = 0; run < 2; run++) {
        grin__model m;
        memset(&m, 0, sizeof m);
        m.arch = GRIN__ARCH_MOBILENET_V1, m.input = 32, m.channels = 1, m.alpha = 0.25f, m.seed = 3;
        grin_align_params_default(&m.align);
        grin_error err;
        assert_int_equal(grin__model_build(&m, &err), GRIN_OK);
        cfg.threads = run + 1; /* the two shards of each batch on one thread, then on two */
        assert_int_equal(grin__train(&m.net, &d, NULL, &cfg, NULL, NULL, &err), GRIN_OK);
        float *p = malloc(sizeof(float) * (size_t)d.n);
        assert_int_equal(grin__predict(&m.net, &d, p), GRIN_OK);
        grin__metrics mt;
        grin__metrics_from(p, d.y, d.n, &mt);
        if (mt.auc < 0.95)
            fail_msg("the toy problem was not learnt: accuracy %.3f AUC %.3f", mt.acc, mt.auc);
        params[run] = malloc(m.net.nparams * sizeof(float));
        memcpy(params[run], m.net.params, m.net.nparams * sizeof(float));
        if (run == 1) {
            /* same seed, same net, whatever the number of threads */
            assert_memory_equal(params[0], params[1], m.net.nparams * sizeof(float));
            /* save, load, same predictions; every truncation refused */
            char path[4096];
            snprintf(path, sizeof path, "%s/grin_nn_%d.grinnet", tmpdir(), (int)getpid());
            snprintf(m.meta, sizeof m.meta, "note=test\n");
            assert_int_equal(grin__model_save(&m, path, &err), GRIN_OK);
            grin__model back;
            assert_int_equal(grin__model_load(path, &back, &err), GRIN_OK);
            float *q = malloc(sizeof(float) * (size_t)d.n);
            assert_int_equal(grin__predict(&back.net, &d, q), GRIN_OK);
            assert_memory_equal(p, q, sizeof(float) * (size_t)d.n);
            assert_string_equal(back.meta, "note=test\n");
            /* 8 bits on a trained net: calibrated on its data, same decisions, small moves */
            grin__nn_plan fp, qp;
            assert_int_equal(grin__nn_plan_build(&m.net, m.net.state, &fp, &err), GRIN_OK);
            assert_int_equal(grin__nn_plan_build(&m.net, m.net.state, &qp, &err), GRIN_OK);
            size_t per = (size_t)d.size * d.size * d.channels;
            float *all = malloc((size_t)d.n * per * sizeof *all);
            grin__dataset_floats(&d, 0, d.n, all);
            assert_int_equal(grin__nn_plan_calibrate(&qp, all, d.n), GRIN_OK);
            free(all);
            assert_int_equal(grin__nn_plan_quantize(&qp, &err), GRIN_OK);
            grin__nn_scratch sc = {0};
            int agree = 0;
            double moved = 0;
            for (int i = 0; i < d.n; i++) {
                float a, b;
                const uint8_t *px = d.px + (size_t)i * per; /* the pixels, as the product passes them */
                assert_int_equal(grin__nn_plan_run_u8(&fp, &sc, px, &a, NULL), GRIN_OK);
                assert_int_equal(grin__nn_plan_run_u8(&qp, &sc, px, &b, NULL), GRIN_OK);
                agree += (a >= 0.5f) == (b >= 0.5f);
                moved += fabs(a - b) / d.n;
            }
            if (agree < d.n * 9 / 10 || moved > 0.08) /* a broken kernel scatters them: ~50%, ~0.3 */
                fail_msg("8-bit: %d of %d decisions kept, probabilities moved %.4f on average", agree, d.n, moved);
            grin__nn_scratch_free(&sc);
            grin__nn_plan_free(&fp);
            grin__nn_plan_free(&qp);
            size_t n = 0;
            char *bytes = slurp(path, &n);
            for (size_t cut = 0; cut < n; cut += n / 37 + 1) {
                grin__model t;
                assert_int_not_equal(grin__model_load_memory((uint8_t *)bytes, cut, "cut", &t, &err), GRIN_OK);
            }
            bytes[12] = 7; /* header size */
            grin__model t;
            assert_int_not_equal(grin__model_load_memory((uint8_t *)bytes, n, "bad", &t, &err), GRIN_OK);
            free(bytes);
            free(q);
            grin__nn_free(&back.net);
            remove(path);
        }
        free(p);
        grin__nn_free(&m.net);
    }
    free(params[0]);
    free(params[1]);
    grin__dataset_free(&d);
}

/* distillation: with the teacher's share at 1 the net learns the teacher, whatever the labels say;
 * a checkpoint of one blend is not resumed under another */
static void test_training_distills(void **state)
{
    (void)state;
    grin__dataset d;
    toy_dataset(&d, 48);
    d.soft = malloc(sizeof(float) * (size_t)d.n);
    for (int i = 0; i < d.n; i++)
        d.soft[i] = d.y[i] ? 0.0f : 1.0f; /* a teacher that says the opposite of every label */
    grin__train_cfg cfg;
    grin__train_cfg_default(&cfg);
    cfg.epochs = 24;
    cfg.batch = 16;
    cfg.lr = 3e-3f;
    char ck[4096];
    snprintf(ck, sizeof ck, "%s/grin_nn_kd_%d.ckpt", tmpdir(), (int)getpid());
    for (int run = 0; run < 2; run++) {
        grin__model m;
        memset(&m, 0, sizeof m);
        m.arch = GRIN__ARCH_MOBILENET_V1, m.input = 32, m.channels = 1, m.alpha = 0.25f, m.seed = 3;
        grin_align_params_default(&m.align);
        grin_error err;
        assert_int_equal(grin__model_build(&m, &err), GRIN_OK);
        cfg.distill = run ? 0.5f : 1.0f;
        assert_int_equal(grin__train(&m.net, &d, NULL, &cfg, NULL, NULL, &err), GRIN_OK);
        float *p = malloc(sizeof(float) * (size_t)d.n);
        assert_int_equal(grin__predict(&m.net, &d, p), GRIN_OK);
        grin__metrics mt;
        grin__metrics_from(p, d.y, d.n, &mt);
        double off_half = 0;
        for (int i = 0; i < d.n; i++)
            off_half += fabs(p[i] - 0.5) / d.n;
        if (run == 0 && mt.auc > 0.05) /* the teacher's inverted ranking, learnt */
            fail_msg("distill 1: AUC against the labels %.3f (the teacher's ranking is the opposite)", mt.auc);
        if (run == 1 && off_half > 0.2) /* every target is 0.5 (the labels alone: ~0.4) */
            fail_msg("distill 0.5 against an opposite teacher: probabilities %.3f from 0.5 on average", off_half);
        if (run == 1) { /* a checkpoint made with one blend is another run for any other */
            grin__train_cfg c = cfg;
            c.epochs = 2;
            c.checkpoint = ck;
            c.resume = true;
            assert_int_equal(grin__train(&m.net, &d, NULL, &c, NULL, NULL, &err), GRIN_OK);
            c.distill = 0.25f;
            assert_int_equal(grin__train(&m.net, &d, NULL, &c, NULL, NULL, &err), GRIN_ERR_INVALID_ARGUMENT);
            float *keep = d.soft;
            d.soft = NULL; /* ... and so is training on the labels alone */
            assert_int_equal(grin__train(&m.net, &d, NULL, &c, NULL, NULL, &err), GRIN_ERR_INVALID_ARGUMENT);
            d.soft = keep;
            remove(ck);
        }
        free(p);
        grin__nn_free(&m.net);
    }
    grin__dataset_free(&d);
}

static void count_epochs(void *ctx, int epoch, double tl, double ta, const grin__metrics *vm, double sec)
{
    (void)tl, (void)ta, (void)vm, (void)sec;
    int *seen = ctx;
    seen[seen[0] + 1] = epoch;
    seen[0]++;
}

/* stopping after 2 epochs and resuming from the checkpoint ends with the same weights as an
 * unbroken 4-epoch run; a checkpoint of another run is refused */
static void test_checkpoint_resume(void **state)
{
    (void)state;
    grin__dataset d;
    toy_dataset(&d, 32);
    grin__train_cfg cfg;
    grin__train_cfg_default(&cfg);
    cfg.epochs = 4;
    cfg.batch = 8;
    char path[4096];
    snprintf(path, sizeof path, "%s/grin_ckpt_%d.bin", tmpdir(), (int)getpid());
    float *w[2];
    for (int run = 0; run < 2; run++) {
        grin__model m;
        memset(&m, 0, sizeof m);
        m.arch = GRIN__ARCH_MOBILENET_V1, m.input = 32, m.channels = 1, m.alpha = 0.25f, m.seed = 5;
        grin_error err;
        assert_int_equal(grin__model_build(&m, &err), GRIN_OK);
        remove(path);
        cfg.checkpoint = run ? path : NULL;
        cfg.resume = run == 1;
        cfg.stop_after = run ? 2 : 0;
        assert_int_equal(grin__train(&m.net, &d, NULL, &cfg, NULL, NULL, &err), GRIN_OK);
        if (run == 1) { /* a fresh process: new net from the seed, resumed from disk */
            grin__nn_free(&m.net);
            assert_int_equal(grin__model_build(&m, &err), GRIN_OK);
            cfg.stop_after = 0;
            int seen[8] = {0};
            assert_int_equal(grin__train(&m.net, &d, NULL, &cfg, count_epochs, seen, &err), GRIN_OK);
            assert_int_equal(seen[0], 2); /* only epochs 3 and 4 ran */
            assert_int_equal(seen[1], 3);
            assert_int_equal(seen[2], 4);
        }
        w[run] = malloc(m.net.nparams * sizeof(float));
        memcpy(w[run], m.net.params, m.net.nparams * sizeof(float));
        if (run == 1) {
            assert_memory_equal(w[0], w[1], m.net.nparams * sizeof(float));
            grin__train_cfg other = cfg;
            other.batch = 16;
            assert_int_equal(grin__train(&m.net, &d, NULL, &other, NULL, NULL, &err), GRIN_ERR_INVALID_ARGUMENT);
            other = cfg;
            other.shards = 1;
            assert_int_equal(grin__train(&m.net, &d, NULL, &other, NULL, NULL, &err), GRIN_ERR_INVALID_ARGUMENT);
            /* one flipped bit in the optimiser's moments (nothing else checks them), or the last
             * byte of the checksum cut off: refused as damaged */
            size_t n = 0;
            char *bytes = slurp(path, &n);
            for (int k = 0; k < 2; k++) {
                char *cp = malloc(n);
                memcpy(cp, bytes, n);
                if (k == 0)
                    cp[n - 8 - 4 * (32 + 3 * m.net.nparams) / 2] ^= 0x10;
                FILE *g = fopen(path, "wb");
                assert_non_null(g);
                assert_int_equal(fwrite(cp, 1, n - (size_t)k, g), n - (size_t)k);
                fclose(g);
                assert_int_equal(grin__train(&m.net, &d, NULL, &cfg, NULL, NULL, &err), GRIN_ERR_FORMAT);
                assert_non_null(strstr(err.msg, "checksum"));
                free(cp);
            }
            free(bytes);
            FILE *f = fopen(path, "r+b"); /* truncated */
            assert_non_null(f);
            assert_int_equal(ftruncate(fileno(f), 200), 0);
            fclose(f);
            assert_int_equal(grin__train(&m.net, &d, NULL, &cfg, NULL, NULL, &err), GRIN_ERR_FORMAT);
        }
        grin__nn_free(&m.net);
    }
    remove(path);
    free(w[0]);
    free(w[1]);
    grin__dataset_free(&d);
}

/* test-time mirroring and Platt calibration: parsed from the metadata, applied by every
 * classifier path exactly as written */
static void test_post_processing(void **state)
{
    (void)state;
    grin__post pp;
    char why[128];
    assert_true(grin__post_parse("note=x\ntest_flip=1\nplatt=2,-0.5\n", &pp, why, sizeof why));
    assert_true(pp.flip && pp.platt && pp.a == 2.0f && pp.b == -0.5f);
    assert_true(grin__post_parse("platt=1.5,0.25", &pp, why, sizeof why)); /* no final newline */
    assert_true(!pp.flip && pp.platt && pp.a == 1.5f);
    const char *bad[] = {"test_flip=2\n", "test_flip=1x\n", "platt=abc\n", "platt=0,1\n", "platt=-1,0\n",
                         "platt=1,2x\n", "platt=1\n", "platt=1e9,0\n", "platt=nan,0\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (grin__post_parse(bad[i], &pp, why, sizeof why))
            fail_msg("accepted a bad line: %s", bad[i]);
    grin__post none = {0}, flip = {.flip = true}, platt = {.platt = true, .a = 2, .b = -0.5f};
    assert_float_equal(grin__post_apply(&none, 0.3f, 0.9f), 0.3f, 0);
    assert_float_equal(grin__post_apply(&flip, 0.3f, 0.9f), 0.6f, 1e-7);
    assert_float_equal(grin__post_apply(&platt, 0.5f, 0), 1 / (1 + exp(0.5)), 1e-6);
    assert_float_equal(grin__post_apply(&platt, 0.8f, 0), 1 / (1 + exp(-(2 * log(4.0) - 0.5))), 1e-6);
    float x[3 * 3 * 2], y[3 * 3 * 2];
    for (int i = 0; i < 18; i++)
        x[i] = (float)i;
    grin__mirror_input(x, y, 3, 2);
    assert_float_equal(y[0], x[4], 0);  /* row 0: pixel 0 <- pixel 2 */
    assert_float_equal(y[1], x[5], 0);
    assert_float_equal(y[2], x[2], 0);  /* the middle stays */
    assert_float_equal(y[10], x[6], 0); /* row 1: pixel 2 <- pixel 0 */

    /* a model file with both lines, through grin_classify_crops (plan and reference paths) */
    grin__model m;
    memset(&m, 0, sizeof m);
    m.arch = GRIN__ARCH_MOBILENET_V1, m.input = 32, m.channels = 1, m.alpha = 0.25f, m.seed = 5;
    grin_align_params_default(&m.align);
    grin_error err;
    assert_int_equal(grin__model_build(&m, &err), GRIN_OK);
    for (size_t i = 0; i < m.net.nparams; i++) /* a less flat output than the initial weights give */
        m.net.params[i] *= 1.5f;
    char path[4096];
    snprintf(path, sizeof path, "%s/grin_post_%d.grinnet", tmpdir(), (int)getpid());
    snprintf(m.meta, sizeof m.meta, "test_flip=1\nplatt=1.5,0.25\n");
    assert_int_equal(grin__model_save(&m, path, &err), GRIN_OK);
    grin_classifier *c;
    assert_int_equal(grin_classifier_load(path, &c, &err), GRIN_OK);
    grin_image crop;
    assert_int_equal(grin_image_alloc(32, 32, GRIN_PIX_GRAY8, &crop), GRIN_OK);
    for (int yy = 0; yy < 32; yy++)
        for (int xx = 0; xx < 32; xx++) /* lopsided, so its mirror differs */
            crop.data[yy * crop.stride + xx] = (uint8_t)(xx < 12 ? 30 + 5 * yy : (xx * xx + 3 * yy) % 256);
    float in[32 * 32], mir[32 * 32], raw, rawm, got, ref;
    for (int i = 0; i < 32 * 32; i++)
        in[i] = crop.data[(i / 32) * crop.stride + i % 32] * (1.0f / 127.5f) - 1.0f;
    grin__mirror_input(in, mir, 32, 1);
    grin__nn_plan plan;
    assert_int_equal(grin__nn_plan_build(&m.net, m.net.state, &plan, &err), GRIN_OK);
    grin__nn_scratch sc = {0};
    assert_int_equal(grin__nn_plan_run(&plan, &sc, in, &raw, NULL), GRIN_OK);
    assert_int_equal(grin__nn_plan_run(&plan, &sc, mir, &rawm, NULL), GRIN_OK);
    if (fabsf(raw - rawm) < 1e-4f)
        fail_msg("the crop and its mirror give the same output (%g): the test can't tell", raw);
    grin__post want = {.flip = true, .platt = true, .a = 1.5f, .b = 0.25f};
    assert_int_equal(grin_classify_crops(c, &crop, 1, &got, &err), GRIN_OK);
    assert_float_equal(got, grin__post_apply(&want, raw, rawm), 1e-6);
    grin__nn_force_reference = true;
    assert_int_equal(grin_classify_crops(c, &crop, 1, &ref, &err), GRIN_OK);
    grin__nn_force_reference = false;
    assert_float_equal(ref, got, 1e-4);
    grin__nn_scratch_free(&sc);
    grin__nn_plan_free(&plan);
    grin_classifier_free(c);
    /* a malformed line is refused with its name */
    snprintf(m.meta, sizeof m.meta, "platt=0,1\n");
    assert_int_equal(grin__model_save(&m, path, &err), GRIN_OK);
    assert_int_not_equal(grin_classifier_load(path, &c, &err), GRIN_OK);
    assert_non_null(strstr(err.msg, "platt"));
    remove(path);
    grin_image_free(&crop);
    grin__nn_free(&m.net);
}

/* ---- options fixed at load, one context per thread: the same probabilities as the shared path,
 * from any number of threads at once */

typedef struct {
    const grin_classifier *c;
    const grin_image *crops;
    size_t n;
    const float *want;
    int bad;
} ctx_job;

static void *ctx_thread(void *arg)
{
    ctx_job *j = arg;
    grin_classifier_context *x;
    if (grin_classifier_context_create(j->c, 1, &x) != GRIN_OK) {
        j->bad = 1;
        return NULL;
    }
    float p[8];
    grin_error err;
    for (int round = 0; round < 20; round++) {
        if (grin_classify(x, j->crops, NULL, j->n, p, &err) != GRIN_OK || memcmp(p, j->want, j->n * sizeof *p))
            j->bad++;
    }
    grin_classifier_context_free(x);
    return NULL;
}

static void test_classifier_contexts(void **state)
{
    (void)state;
    const char *model = SRC("models/smile.grinnet");
    grin_classifier *shared, *fixed;
    grin_error err;
    assert_int_equal(grin_classifier_load(model, &shared, &err), GRIN_OK);
    grin_classifier_info info;
    grin_classifier_get_info(shared, &info);
    enum { N = 6 };
    grin_image crops[N];
    for (int k = 0; k < N; k++) { /* patterns the model scores differently */
        assert_int_equal(grin_image_alloc(info.input, info.input, GRIN_PIX_GRAY8, &crops[k]), GRIN_OK);
        for (int y = 0; y < info.input; y++)
            for (int x = 0; x < info.input; x++)
                crops[k].data[y * crops[k].stride + x] = (uint8_t)((x * (k + 1) + y * (7 - k) + (x * y) % (k + 3)) * 3);
    }
    float want[N], raw_want[N], got[N];
    for (int raw = 0; raw < 2; raw++) {
        assert_int_equal(grin_classifier_set_int8(shared, 1), GRIN_OK);
        assert_int_equal(grin_classifier_set_raw(shared, raw), GRIN_OK);
        assert_int_equal(grin_classify_crops(shared, crops, N, raw ? raw_want : want, &err), GRIN_OK);
    }
    assert_true(want[0] != want[1] && want[0] != raw_want[0]); /* (else the test could not tell) */
    grin_classifier_options o;
    grin_classifier_options_default(&o);
    o.int8 = 1;
    assert_int_equal(grin_classifier_load_with(model, &o, &fixed, &err), GRIN_OK);
    /* its options are fixed */
    assert_int_equal(grin_classifier_set_int8(fixed, 0), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_classifier_set_raw(fixed, 1), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_classifier_set_threads(fixed, 2), GRIN_ERR_INVALID_ARGUMENT);
    assert_int_equal(grin_classifier_set_landmark_branch(fixed, 0), GRIN_ERR_INVALID_ARGUMENT);
    for (int threads = 1; threads <= 2; threads++) { /* a context's own workers: the same numbers */
        grin_classifier_context *x;
        assert_int_equal(grin_classifier_context_create(fixed, threads, &x), GRIN_OK);
        assert_int_equal(grin_classify(x, crops, NULL, N, got, &err), GRIN_OK);
        assert_memory_equal(got, want, sizeof want);
        assert_int_equal(grin_classify(x, crops, NULL, 1, got, &err), GRIN_OK); /* one crop: layers split */
        assert_memory_equal(got, want, sizeof *got);
        grin_classifier_context_free(x);
    }
    assert_int_equal(grin_classify_crops(fixed, crops, N, got, &err), GRIN_OK); /* the shared path still works */
    assert_memory_equal(got, want, sizeof want);
    /* four threads, each with its context, on the one model */
    pthread_t th[4];
    ctx_job jobs[4];
    for (int t = 0; t < 4; t++) {
        jobs[t] = (ctx_job){fixed, crops, N, want, 0};
        assert_int_equal(pthread_create(&th[t], NULL, ctx_thread, &jobs[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(jobs[t].bad, 0);
    }
    grin_classifier_free(fixed);
    o.raw = 1;
    assert_int_equal(grin_classifier_load_with(model, &o, &fixed, &err), GRIN_OK);
    grin_classifier_context *x;
    assert_int_equal(grin_classifier_context_create(fixed, 1, &x), GRIN_OK);
    assert_int_equal(grin_classify(x, crops, NULL, N, got, &err), GRIN_OK);
    assert_memory_equal(got, raw_want, sizeof raw_want);
    grin_image wrong;
    assert_int_equal(grin_image_alloc(info.input + 1, info.input, GRIN_PIX_GRAY8, &wrong), GRIN_OK);
    assert_int_equal(grin_classify(x, &wrong, NULL, 1, got, &err), GRIN_ERR_INVALID_ARGUMENT);
    grin_image_free(&wrong);
    grin_classifier_context_free(x);
    grin_classifier_free(fixed);
    /* 8 bits asked of a model without a calibration */
    o.int8 = 1, o.raw = 0;
    assert_int_equal(grin_classifier_load_with(SRC("tests/fuzz/corpus/fuzz_model/tiny.grinnet"), &o, &fixed, &err),
                     GRIN_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "calibration"));
    assert_int_equal(grin_classifier_context_create(NULL, 1, &x), GRIN_ERR_INVALID_ARGUMENT);
    for (int k = 0; k < N; k++)
        grin_image_free(&crops[k]);
    grin_classifier_free(shared);
}

/* ---- the landmark branch */

/* a horizontally symmetric 68-point face in an S x S crop (pairs under the iBUG mirror map at
 * mirrored x, the midline points at the centre), jittered by `noise` */
static void synthetic_face(int S, float noise, bool smile, grin_point2f *p)
{
    static grin_point2f base[68];
    static bool made;
    if (!made) {
        uint32_t keep = rs;
        rs = 777;
        float c = 0.5f * (S - 1);
        for (int i = 0; i < 68; i++) {
            int j = grin__ibug68_flip[i];
            if (j < i)
                continue;
            float dx = j == i ? 0 : 2 + 5 * (frand() + 1), y = 0.5f * S + 0.35f * S * frand();
            base[i] = (grin_point2f){c - dx, y};
            base[j] = (grin_point2f){c + dx, y};
        }
        rs = keep;
        made = true;
    }
    for (int i = 0; i < 68; i++)
        p[i] = (grin_point2f){base[i].x + noise * frand(), base[i].y + noise * frand()};
    if (smile) /* the mouth's corners go out and up: points 48 / 54 (outer) and 60 / 64 (inner) */
        for (int k = 0; k < 4; k++) {
            int i = (int[]){48, 54, 60, 64}[k];
            p[i].x += (i == 48 || i == 60) ? -0.8f : 0.8f;
            p[i].y -= 0.8f;
        }
}

static void last_val_auc(void *ctx, int epoch, double tl, double ta, const grin__metrics *vm, double sec)
{
    (void)epoch, (void)tl, (void)ta, (void)sec;
    *(double *)ctx = vm ? vm->auc : -1;
}

static void test_landmark_branch(void **state)
{
    (void)state;
    const int S = 32;
    grin__lm_branch b = {.first = 17, .count = 51, .hidden = 8};
    grin__model m;
    memset(&m, 0, sizeof m);
    m.lm = b;
    grin_error err;
    assert_int_equal(grin__model_build_lm(&m, 9, &err), GRIN_OK);
    /* the mirrored features are those of the mirrored face */
    grin_point2f P[68], M[68];
    synthetic_face(S, 2.0f, false, P);
    for (int i = 0; i < 68; i++)
        M[i] = (grin_point2f){S - 1 - P[grin__ibug68_flip[i]].x, P[grin__ibug68_flip[i]].y};
    float f1[102], f2[102];
    grin__lm_features(&m.lm, S, P, true, f1);
    grin__lm_features(&m.lm, S, M, false, f2);
    for (int k = 0; k < 102; k++)
        assert_float_equal(f1[k], f2[k], 1e-5);
    grin__lm_features(&m.lm, S, P, false, f1);
    assert_float_equal(f1[0], (P[17].x - 0.5f * (S - 1)) / S, 1e-6);
    assert_float_equal(f1[101], (P[67].y - 0.5f * (S - 1)) / S, 1e-6);
    /* grin__lm_run is the engine's forward pass */
    grin__nn_ws ws = {0};
    const float *out;
    assert_int_equal(grin__nn_forward(&m.lm.net, &ws, f1, 1, false, &out), GRIN_OK);
    assert_float_equal(grin__lm_run(&m.lm, f1), out[0], 1e-5);
    grin__nn_ws_free(&ws);
    /* one mislabelled face in ten: the branch learns what the mouth's corners say; the
     * standardisation it trained with is folded into the stored weights exactly */
    grin__dataset crops[2];
    for (int part = 0; part < 2; part++) {
        grin__dataset *d = &crops[part];
        memset(d, 0, sizeof *d);
        d->n = part ? 200 : 600;
        d->y = malloc((size_t)d->n);
        d->lm = malloc((size_t)d->n * sizeof(grin_point2f[68]));
        d->has_lm = malloc((size_t)d->n);
        for (int i = 0; i < d->n; i++) {
            bool smile = (i % 2) == 0;
            synthetic_face(S, 0.35f, smile, d->lm + (size_t)i * 68);
            d->y[i] = (uint8_t)(smile != (i % 10 == 3));
            d->has_lm[i] = i % 7 != 3; /* some crops without landmarks: left out */
        }
    }
    grin__dataset tv, vv;
    assert_int_equal(grin__dataset_lm_vectors(&crops[0], &m.lm, S, &tv), GRIN_OK);
    assert_int_equal(grin__dataset_lm_vectors(&crops[1], &m.lm, S, &vv), GRIN_OK);
    assert_int_equal(tv.n, 600 - 86);
    assert_int_equal(tv.channels, 102);
    grin__train_cfg cfg;
    grin__train_cfg_default(&cfg);
    cfg.epochs = 30;
    cfg.batch = 32;
    cfg.lr = 3e-3f;
    double auc_std = -1;
    assert_int_equal(grin__train_lm_branch(&m.lm, &tv, &vv, &cfg, last_val_auc, &auc_std, &err), GRIN_OK);
    float *p = malloc(sizeof(float) * 200);
    uint8_t *y = malloc(200);
    int n = 0;
    for (int i = 0; i < 200; i++) {
        if (!crops[1].has_lm[i])
            continue;
        grin__lm_features(&m.lm, S, crops[1].lm + (size_t)i * 68, false, f1);
        p[n] = grin__lm_run(&m.lm, f1);
        y[n++] = crops[1].y[i];
    }
    grin__metrics mt;
    grin__metrics_from(p, y, n, &mt);
    if (mt.auc < 0.8 || fabs(mt.auc - auc_std) > 1e-6) /* labels 90% right: the best AUC is ~0.9 */
        fail_msg("landmark branch: AUC %.4f on the plain features, %.4f standardised while training", mt.auc, auc_std);
    /* against the true labels the ranking is near perfect */
    for (int i = 0, k = 0; i < 200; i++)
        if (crops[1].has_lm[i])
            y[k++] = (uint8_t)((i % 2) == 0);
    grin__metrics_from(p, y, n, &mt);
    if (mt.auc < 0.97)
        fail_msg("landmark branch: AUC %.4f against the faces' true expressions", mt.auc);

    /* the model file: version 2 with the branch, every truncation and bad branch header refused */
    m.arch = GRIN__ARCH_MOBILENET_V1, m.input = S, m.channels = 1, m.alpha = 0.25f, m.seed = 5;
    grin_align_params_default(&m.align);
    m.align.size = S;
    assert_int_equal(grin__model_build(&m, &err), GRIN_OK);
    for (size_t i = 0; i < m.net.nparams; i++) /* a less flat output than the initial weights give */
        m.net.params[i] *= 1.5f;
    snprintf(m.meta, sizeof m.meta, "test_flip=1\nplatt=1.5,0.25\nfuse=0.5,0.75,-0.2\n");
    char path[4096];
    snprintf(path, sizeof path, "%s/grin_lm_%d.grinnet", tmpdir(), (int)getpid());
    assert_int_equal(grin__model_save(&m, path, &err), GRIN_OK);
    grin__model back;
    assert_int_equal(grin__model_load(path, &back, &err), GRIN_OK);
    assert_int_equal(back.lm.count, 51);
    assert_int_equal(back.lm.hidden, 8);
    assert_memory_equal(back.lm.net.params, m.lm.net.params, m.lm.net.nparams * sizeof(float));
    assert_true(back.post.fuse && back.post.fa == 0.5f && back.post.fb == 0.75f && back.post.fc == -0.2f);
    assert_true(back.checksummed);
    grin__model_free(&back);
    size_t nb = 0;
    char *bytes = slurp(path, &nb);
    for (size_t cut = 0; cut < nb; cut += nb / 41 + 1) {
        grin__model t;
        assert_int_not_equal(grin__model_load_memory((uint8_t *)bytes, cut, "cut", &t, &err), GRIN_OK);
    }
    assert_int_not_equal(grin__model_load_memory((uint8_t *)bytes, nb - 4, "cut", &back, &err), GRIN_OK);
    /* the checksum: any flipped bit refuses the file, before anything in it is used; a version 2
     * file (the same without it) still loads */
    for (size_t k = 0; k < 32 + 98; k++) { /* every bit of the version field (which could read as 1
                                               * or 2), then bytes all along the file */
        size_t at = k < 32 ? 8 + k / 8 : (k - 32) * (nb / 97), bit = k % 8;
        if (at >= nb)
            break;
        char *cp = malloc(nb);
        memcpy(cp, bytes, nb);
        cp[at] ^= (char)(1 << bit);
        grin__model t;
        if (grin__model_load_memory((uint8_t *)cp, nb, "flip", &t, &err) == GRIN_OK)
            fail_msg("loaded a model with bit %zu of byte %zu flipped", bit % 8, at);
        if (at >= 12) /* (past the magic and the version, which are read first) */
            assert_non_null(strstr(err.msg, "checksum"));
        free(cp);
    }
    {
        char *v2 = malloc(nb);
        memcpy(v2, bytes, nb);
        uint32_t two = 2;
        memcpy(v2 + 8, &two, 4);
        grin__model t;
        assert_int_equal(grin__model_load_memory((uint8_t *)v2, nb - 8, "v2", &t, &err), GRIN_OK);
        assert_false(t.checksummed);
        assert_int_equal(t.lm.count, 51);
        grin__model_free(&t);
        free(v2);
    }
    const size_t lm_first_at = 96; /* offsetof(net_header, lm_first): the version 1 header's size */
    uint32_t bad_lm[][2] = {{0, 10}, {17, 52}, {68, 1}, {17, 0}};
    for (size_t k = 0; k < sizeof bad_lm / sizeof *bad_lm; k++) {
        char *cp = malloc(nb);
        memcpy(cp, bytes, nb);
        memcpy(cp + lm_first_at, bad_lm[k], 8);
        grin__checksum_put((uint8_t *)cp + nb - 8, grin__checksum(cp, nb - 8)); /* the header's checks refuse it */
        grin__model t;
        if (grin__model_load_memory((uint8_t *)cp, nb, "bad", &t, &err) == GRIN_OK)
            fail_msg("loaded a branch of points %u + %u", bad_lm[k][0], bad_lm[k][1]);
        assert_null(strstr(err.msg, "checksum"));
        free(cp);
    }
    /* a version 1 file (no branch) still loads; with a fuse line it is refused */
    grin__model v1m = m;
    memset(&v1m.lm, 0, sizeof v1m.lm);
    for (int fuse = 0; fuse < 2; fuse++) {
        snprintf(v1m.meta, sizeof v1m.meta, fuse ? "fuse=1,1,0\n" : "note=v1\n");
        assert_int_equal(grin__model_save(&v1m, path, &err), GRIN_OK);
        size_t n2 = 0;
        char *v2 = slurp(path, &n2);
        uint32_t meta_bytes, hb = (uint32_t)lm_first_at, one = 1;
        memcpy(&meta_bytes, v2 + 72, 4);
        char *v1 = calloc(1, n2);
        memcpy(v1, v2, lm_first_at);
        memcpy(v1 + 8, &one, 4);
        memcpy(v1 + 12, &hb, 4);
        memcpy(v1 + lm_first_at, v2 + 128, meta_bytes); /* the meta right after the shorter header */
        uint64_t params_offset;
        memcpy(&params_offset, v2 + 80, 8);
        memcpy(v1 + params_offset, v2 + params_offset, n2 - params_offset);
        grin__model t;
        grin_status st = grin__model_load_memory((uint8_t *)v1, n2, "v1", &t, &err);
        if (fuse) {
            assert_int_not_equal(st, GRIN_OK);
            assert_non_null(strstr(err.msg, "fuse"));
        } else {
            assert_int_equal(st, GRIN_OK);
            assert_string_equal(t.meta, "note=v1\n");
            assert_int_equal(t.lm.count, 0);
            grin__model_free(&t);
        }
        free(v1);
        free(v2);
    }
    free(bytes);

    /* through grin_classify_faces: landmarks fused as the fuse line says, none = the crop alone */
    assert_int_equal(grin__model_save(&m, path, &err), GRIN_OK);
    grin_classifier *c;
    assert_int_equal(grin_classifier_load(path, &c, &err), GRIN_OK);
    grin_classifier_info info;
    grin_classifier_get_info(c, &info);
    assert_int_equal(info.landmark_points, 51);
    assert_true(info.fused);
    grin_image crop;
    assert_int_equal(grin_image_alloc(S, S, GRIN_PIX_GRAY8, &crop), GRIN_OK);
    for (int yy = 0; yy < S; yy++)
        for (int xx = 0; xx < S; xx++)
            crop.data[yy * crop.stride + xx] = (uint8_t)(xx < 12 ? 30 + 5 * yy : (xx * xx + 3 * yy) % 256);
    grin_image crops2[2] = {crop, crop};
    synthetic_face(S, 0.35f, true, P);
    const grin_point2f *lms[2] = {P, NULL};
    float got[2], alone, raw[2];
    assert_int_equal(grin_classify_faces(c, crops2, lms, 2, got, &err), GRIN_OK);
    assert_int_equal(grin_classify_crops(c, &crop, 1, &alone, &err), GRIN_OK);
    assert_float_equal(got[1], alone, 1e-6);
    { /* landmarks with a NaN in them count as none: the crop alone */
        grin_point2f bad[68];
        memcpy(bad, P, sizeof bad);
        bad[40].y = NAN;
        const grin_point2f *lb[1] = {bad};
        float pb;
        assert_int_equal(grin_classify_faces(c, &crop, lb, 1, &pb, &err), GRIN_OK);
        assert_float_equal(pb, alone, 1e-6);
    }
    float nob[2]; /* the branch switched off: the crop alone, landmarks or not */
    assert_int_equal(grin_classifier_set_landmark_branch(c, 0), GRIN_OK);
    assert_int_equal(grin_classify_faces(c, crops2, lms, 2, nob, &err), GRIN_OK);
    assert_float_equal(nob[0], alone, 1e-6);
    assert_float_equal(nob[1], alone, 1e-6);
    grin_classifier_get_info(c, &info);
    assert_false(info.fused);
    assert_int_equal(grin_classifier_set_landmark_branch(c, 1), GRIN_OK);
    assert_int_equal(grin_classifier_set_raw(c, 1), GRIN_OK); /* the network's own outputs */
    float in[32 * 32], mir[32 * 32];
    for (int i = 0; i < S * S; i++)
        in[i] = crop.data[(i / S) * crop.stride + i % S] * (1.0f / 127.5f) - 1.0f;
    grin__mirror_input(in, mir, S, 1);
    grin__nn_plan plan;
    grin__nn_scratch sc = {0};
    assert_int_equal(grin__nn_plan_build(&m.net, m.net.state, &plan, &err), GRIN_OK);
    assert_int_equal(grin__nn_plan_run(&plan, &sc, in, &raw[0], NULL), GRIN_OK);
    assert_int_equal(grin__nn_plan_run(&plan, &sc, mir, &raw[1], NULL), GRIN_OK);
    grin__lm_features(&m.lm, S, P, false, f1);
    grin__lm_features(&m.lm, S, P, true, f2);
    float r = grin__lm_run(&m.lm, f1), rm = grin__lm_run(&m.lm, f2);
    double q = 0.5 * (raw[0] + raw[1]), u = 0.5 * (r + rm);
    double want = 1 / (1 + exp(-(0.5 * log(q / (1 - q)) + 0.75 * log(u / (1 - u)) - 0.2)));
    assert_float_equal(got[0], want, 1e-5);
    if (fabs(got[0] - alone) < 1e-3)
        fail_msg("the landmarks changed nothing (%g): the test can't tell", alone);
    float raw_faces;
    assert_int_equal(grin_classify_faces(c, &crop, lms, 1, &raw_faces, &err), GRIN_OK);
    assert_float_equal(raw_faces, raw[0], 1e-5); /* raw: no mirror, no mapping, no branch */
    grin__nn_force_reference = true; /* the training engine's path agrees (to the logit-mapped rounding) */
    assert_int_equal(grin_classifier_set_raw(c, 0), GRIN_OK);
    grin_classifier_get_info(c, &info);
    assert_true(info.fused); /* raw off again: the model's post-processing, branch included */
    float ref[2];
    assert_int_equal(grin_classify_faces(c, crops2, lms, 2, ref, &err), GRIN_OK);
    grin__nn_force_reference = false;
    assert_float_equal(ref[0], got[0], 5e-4);
    assert_float_equal(ref[1], got[1], 5e-4);
    grin__nn_scratch_free(&sc);
    grin__nn_plan_free(&plan);
    grin_classifier_free(c);
    grin_image_free(&crop);
    remove(path);

    /* fuse lines */
    grin__post pp;
    char why[128];
    assert_true(grin__post_parse("fuse=0.25,0.5,-1\n", &pp, why, sizeof why));
    assert_true(pp.fuse && pp.fa == 0.25f && pp.fb == 0.5f && pp.fc == -1.0f);
    const char *bad[] = {"fuse=1,1\n", "fuse=-1,1,0\n", "fuse=1,-1,0\n", "fuse=1,1,1000\n", "fuse=1,1,0x\n",
                         "fuse=nan,1,0\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (grin__post_parse(bad[i], &pp, why, sizeof why))
            fail_msg("accepted a bad line: %s", bad[i]);
    grin__post nofuse = {.flip = true};
    assert_float_equal(grin__post_apply_lm(&nofuse, 0.3f, 0.9f, 0.01f, 0.01f), 0.6f, 1e-7);

    free(p);
    free(y);
    for (int part = 0; part < 2; part++)
        grin__dataset_free(&crops[part]);
    grin__dataset_free(&tv);
    grin__dataset_free(&vv);
    grin__model_free(&m);
}

/* a labels CSV with a landmarks column: scaled with the crop, an empty field = none, a malformed one
 * a bad row */
static void test_dataset_landmarks(void **state)
{
    (void)state;
    char dir[4096], png[4200], csv[4200];
    snprintf(dir, sizeof dir, "%s", tmpdir());
    snprintf(png, sizeof png, "%s/grin_lmcrop_%d.png", dir, (int)getpid());
    snprintf(csv, sizeof csv, "%s/grin_lm_%d.csv", dir, (int)getpid());
    grin_image im;
    assert_int_equal(grin_image_alloc(64, 64, GRIN_PIX_GRAY8, &im), GRIN_OK);
    memset(im.data, 90, (size_t)im.stride * 64);
    grin_error err;
    assert_int_equal(grin_image_write(png, &im, 0, &err), GRIN_OK);
    grin_image_free(&im);
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fprintf(f, "file,smile,aligned,source,landmarks\r\n");
    const char *name = strrchr(png, '/') + 1;
    fprintf(f, "%s,1,1,x,", name);
    for (int k = 0; k < 68; k++)
        fprintf(f, "%s%d.5 %d", k ? " " : "", k % 60, 60 - k % 60);
    fprintf(f, "\r\n%s,0,0,x,\r\n", name);            /* not aligned: no landmarks */
    fprintf(f, "%s,0,1,x,1 2 3\n", name);            /* too few numbers */
    fprintf(f, "%s,1,1,x,", name);                   /* a number that isn't */
    for (int k = 0; k < 68; k++)
        fprintf(f, "%s%s", k ? " " : "", k == 30 ? "nan 1" : "1 1");
    fprintf(f, "\n");
    fclose(f);
    grin__dataset d;
    assert_int_equal(grin__dataset_load(csv, 32, 1, &d, &err), GRIN_OK);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.bad, 2);
    assert_non_null(d.lm);
    assert_true(d.has_lm[0] == 1 && d.has_lm[1] == 0);
    assert_float_equal(d.lm[5].x, (5.5 + 0.5) * 0.5 - 0.5, 1e-5); /* 64 -> 32 */
    assert_float_equal(d.lm[5].y, (55 + 0.5) * 0.5 - 0.5, 1e-5);
    /* appended to a set without the column: those rows have none */
    grin__dataset none = {0}, all = {0};
    none.size = 32, none.channels = 1, none.n = 1;
    none.px = calloc(32 * 32, 1);
    none.y = calloc(1, 1);
    assert_int_equal(grin__dataset_append(&all, &none), GRIN_OK);
    assert_int_equal(grin__dataset_append(&all, &d), GRIN_OK);
    assert_int_equal(all.n, 3);
    assert_true(all.has_lm[0] == 0 && all.has_lm[1] == 1 && all.has_lm[2] == 0);
    assert_float_equal(all.lm[68 + 5].x, d.lm[5].x, 0);
    grin__dataset_free(&all);
    grin__dataset_free(&none);
    grin__dataset_free(&d);
    remove(csv);
    remove(png);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm), cmocka_unit_test(test_fast_equals_reference),
        cmocka_unit_test(test_gradients_fast), cmocka_unit_test(test_gradients_reference),
        cmocka_unit_test(test_mobilenet_size), cmocka_unit_test(test_plan_matches_forward), cmocka_unit_test(test_int8), cmocka_unit_test(test_int8_signed), cmocka_unit_test(test_int8_threads), cmocka_unit_test(test_depthwise_kernels),
        cmocka_unit_test(test_first_conv_kernels),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_augment),
        cmocka_unit_test(test_training_learns_and_is_deterministic),
        cmocka_unit_test(test_training_distills), cmocka_unit_test(test_classifier_contexts), cmocka_unit_test(test_checkpoint_resume),
        cmocka_unit_test(test_post_processing),
        cmocka_unit_test(test_landmark_branch), cmocka_unit_test(test_dataset_landmarks),
        cmocka_unit_test(test_faceapi_import),
        cmocka_unit_test(test_facerec_import),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
