/* onnx_export.c — writes a compiled inference plan as an ONNX model (opset 10), so ONNX Runtime
 * and OpenCV DNN can run exactly the weights grin runs: convolutions with batch norm already
 * folded in, Relu/Clip, GlobalAveragePool, Flatten, Gemm, Sigmoid. Input "input" is NCHW
 * float, already normalised as the model's metadata says; output "prob". The protobuf wire
 * format is written directly: varints and length-delimited fields, nested messages built
 * inside-out. */
#include "onnx_export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} pb;

static void pb_bytes(pb *b, const void *d, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void pb_varint(pb *b, uint64_t v)
{
    uint8_t t[10];
    int n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            t[n] |= 0x80;
        n++;
    } while (v);
    pb_bytes(b, t, (size_t)n);
}

static void pb_key(pb *b, int field, int wire) { pb_varint(b, ((uint64_t)field << 3) | (unsigned)wire); }
static void pb_int(pb *b, int field, int64_t v)
{
    pb_key(b, field, 0);
    pb_varint(b, (uint64_t)v);
}
static void pb_len(pb *b, int field, const void *d, size_t n)
{
    pb_key(b, field, 2);
    pb_varint(b, n);
    pb_bytes(b, d, n);
}
static void pb_str(pb *b, int field, const char *s) { pb_len(b, field, s, strlen(s)); }
/* appends sub as a length-delimited field and frees it */
static void pb_msg(pb *b, int field, pb *sub)
{
    if (sub->oom)
        b->oom = true;
    pb_len(b, field, sub->p, sub->n);
    free(sub->p);
    memset(sub, 0, sizeof *sub);
}

/* TensorProto: dims=1, data_type=2 (FLOAT=1), name=8, raw_data=9 (little-endian) */
static void add_tensor(pb *graph, const char *name, const int64_t *dims, int nd, const float *data)
{
    pb t = {0};
    size_t count = 1;
    for (int i = 0; i < nd; i++) {
        pb_int(&t, 1, dims[i]);
        count *= (size_t)dims[i];
    }
    pb_int(&t, 2, 1);
    pb_str(&t, 8, name);
    pb_len(&t, 9, data, count * sizeof(float));
    pb_msg(graph, 5, &t); /* GraphProto.initializer */
}

/* AttributeProto: name=1, i=3, ints=8, type=20 (INT=2, INTS=7) */
static void attr_int(pb *node, const char *name, int64_t v)
{
    pb a = {0};
    pb_str(&a, 1, name);
    pb_int(&a, 3, v);
    pb_int(&a, 20, 2);
    pb_msg(node, 5, &a);
}
/* AttributeProto: f=2 (fixed32), type FLOAT=1 */
static void attr_float(pb *node, const char *name, float v)
{
    pb a = {0};
    pb_str(&a, 1, name);
    pb_key(&a, 2, 5);
    uint8_t le[4];
    uint32_t u;
    memcpy(&u, &v, 4);
    for (int i = 0; i < 4; i++)
        le[i] = (uint8_t)(u >> (8 * i));
    pb_bytes(&a, le, 4);
    pb_int(&a, 20, 1);
    pb_msg(node, 5, &a);
}

static void attr_ints(pb *node, const char *name, const int64_t *v, int n)
{
    pb a = {0};
    pb_str(&a, 1, name);
    for (int i = 0; i < n; i++)
        pb_int(&a, 8, v[i]);
    pb_int(&a, 20, 7);
    pb_msg(node, 5, &a);
}

/* NodeProto: input=1, output=2, name=3, op_type=4, attribute=5 */
static void node_begin(pb *node, const char *op, const char *name, const char *const *in, int nin,
                       const char *out)
{
    for (int i = 0; i < nin; i++)
        pb_str(node, 1, in[i]);
    pb_str(node, 2, out);
    pb_str(node, 3, name);
    pb_str(node, 4, op);
}

/* ValueInfoProto { name=1, type=2 { tensor_type=1 { elem_type=1, shape=2 { dim=1 { value=1 | param=2 }}}}} */
static void value_info(pb *graph, int field, const char *name, const int64_t *dims, int nd)
{
    pb shape = {0};
    for (int i = 0; i < nd; i++) {
        pb d = {0};
        if (dims[i] < 0)
            pb_str(&d, 2, "N");
        else
            pb_int(&d, 1, dims[i]);
        pb_msg(&shape, 1, &d);
    }
    pb tt = {0};
    pb_int(&tt, 1, 1);
    pb_msg(&tt, 2, &shape);
    pb type = {0};
    pb_msg(&type, 1, &tt);
    pb vi = {0};
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &type);
    pb_msg(graph, field, &vi);
}

static const char *act_node(pb *graph, int act, const char *in, char *out, size_t outsz, int idx)
{
    if (act == GRIN__ACT_NONE)
        return in;
    snprintf(out, outsz, "act%d", idx);
    pb node = {0};
    char nm[32];
    snprintf(nm, sizeof nm, "act%d", idx);
    if (act == GRIN__ACT_RELU) {
        node_begin(&node, "Relu", nm, &in, 1, out);
    } else {
        /* opset 10's Clip, with min and max as attributes: the form both ONNX Runtime and
         * OpenCV 4.6's importer accept */
        node_begin(&node, "Clip", nm, &in, 1, out);
        attr_float(&node, "min", 0.0f);
        attr_float(&node, "max", 6.0f);
    }
    pb_msg(graph, 1, &node);
    return out;
}

grin_status grin__onnx_export(const grin__nn_plan *plan, const char *producer_version, const char *path,
                              grin_error *err)
{
    pb graph = {0};
    char prev[32] = "input", cur[32], actname[32], sum[32] = "", sname[32];
    const char *x = prev;
    float *tmp = NULL;
    size_t tmpcap = 0;
    grin_status st = GRIN_OK;
    bool flat = false; /* after Flatten, tensors are [N, C] */
    for (int i = 0; i < plan->n && !st; i++) {
        const grin__op *op = &plan->ops[i];
        snprintf(cur, sizeof cur, "t%d", i);
        pb node = {0};
        char nm[32], wn[32], bn[32];
        snprintf(nm, sizeof nm, "op%d", i);
        snprintf(wn, sizeof wn, "w%d", i);
        snprintf(bn, sizeof bn, "b%d", i);
        switch (op->kind) {
        case GRIN__OP_GEMM:
        case GRIN__OP_DW: {
            bool dw = op->kind == GRIN__OP_DW;
            bool dense = !dw && flat;
            int k = op->k, ic = op->ic, oc = op->c;
            size_t n = (size_t)oc * (dw ? 1 : (size_t)ic) * k * k;
            if (n > tmpcap) {
                float *q = realloc(tmp, n * sizeof *q);
                if (!q) {
                    st = grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
                    break;
                }
                tmp = q;
                tmpcap = n;
            }
            if (dw) { /* grin [ky][kx][c] -> ONNX [c][1][ky][kx] */
                for (int c = 0; c < oc; c++)
                    for (int t = 0; t < k * k; t++)
                        tmp[(size_t)c * k * k + t] = op->wt[(size_t)t * oc + c];
            } else { /* packed [panel][K][16], K = (ky*k+kx)*ic + c -> ONNX [o][c][ky][kx] */
                int K = k * k * ic;
                for (int o = 0; o < oc; o++)
                    for (int c = 0; c < ic; c++)
                        for (int t = 0; t < k * k; t++)
                            tmp[(((size_t)o * ic + c) * k * k) + t] =
                                op->wt[((size_t)(o / GRIN__NR) * K + (size_t)t * ic + c) * GRIN__NR + o % GRIN__NR];
            }
            const char *ins[3] = {x, wn, bn};
            int64_t bd[1] = {oc};
            if (dense) { /* Gemm with B as [out][in] and transB = 1, the common form */
                int64_t wd[2] = {oc, ic};
                add_tensor(&graph, wn, wd, 2, tmp);
                node_begin(&node, "Gemm", nm, ins, 3, cur);
                attr_int(&node, "transB", 1);
            } else {
                int64_t wd[4] = {oc, dw ? 1 : ic, k, k};
                add_tensor(&graph, wn, wd, 4, tmp);
                node_begin(&node, "Conv", nm, ins, 3, cur);
                int64_t ks[2] = {k, k}, strides[2] = {op->stride, op->stride};
                /* grin pads pad before and whatever the output size needs after */
                int64_t pe_h = (int64_t)(op->h - 1) * op->stride + k - op->ih - op->pad;
                int64_t pe_w = (int64_t)(op->w - 1) * op->stride + k - op->iw - op->pad;
                int64_t pads[4] = {op->pad, op->pad, pe_h > 0 ? pe_h : 0, pe_w > 0 ? pe_w : 0};
                attr_ints(&node, "kernel_shape", ks, 2);
                attr_ints(&node, "strides", strides, 2);
                attr_ints(&node, "pads", pads, 4);
                attr_int(&node, "group", dw ? oc : 1);
            }
            add_tensor(&graph, bn, bd, 1, op->bias);
            pb_msg(&graph, 1, &node);
            const char *y = cur;
            if (op->res == GRIN__RES_ADD) { /* the running sum: Add, then the activation */
                if (!sum[0]) {
                    st = grin__fail(err, GRIN_ERR_UNSUPPORTED, "ONNX export: op %d adds to no running sum", i);
                    break;
                }
                pb an = {0};
                const char *ai[2] = {sum, cur};
                char anm[32];
                snprintf(anm, sizeof anm, "add%d", i);
                snprintf(sname, sizeof sname, "s%d", i);
                node_begin(&an, "Add", anm, ai, 2, sname);
                pb_msg(&graph, 1, &an);
                y = sname;
                snprintf(sum, sizeof sum, "%s", sname);
            }
            x = act_node(&graph, op->act, y, actname, sizeof actname, i);
            if (op->res == GRIN__RES_STORE)
                snprintf(sum, sizeof sum, "%s", x);
            break;
        }
        case GRIN__OP_GAP: {
            node_begin(&node, "GlobalAveragePool", nm, &x, 1, cur);
            pb_msg(&graph, 1, &node);
            char fl[32];
            snprintf(fl, sizeof fl, "flat%d", i);
            pb n2 = {0};
            const char *in = cur;
            node_begin(&n2, "Flatten", fl, &in, 1, fl);
            attr_int(&n2, "axis", 1);
            pb_msg(&graph, 1, &n2);
            snprintf(cur, sizeof cur, "%s", fl);
            x = cur;
            flat = true;
            break;
        }
        case GRIN__OP_SIGMOID:
            node_begin(&node, "Sigmoid", nm, &x, 1, "prob");
            pb_msg(&graph, 1, &node);
            x = "prob";
            break;
        case GRIN__OP_ACT:
            x = act_node(&graph, op->act, x, actname, sizeof actname, i);
            break;
        default:
            st = grin__fail(err, GRIN_ERR_UNSUPPORTED, "ONNX export: op %d has no ONNX form here", i);
            break;
        }
        if (strcmp(x, "prob") != 0 && x != prev) { /* cur and actname are reused */
            snprintf(prev, sizeof prev, "%s", x);
            x = prev;
        }
    }
    free(tmp);
    if (!st && strcmp(x, "prob") != 0)
        st = grin__fail(err, GRIN_ERR_UNSUPPORTED, "ONNX export: the network does not end in a sigmoid");
    if (st) {
        free(graph.p);
        return st;
    }
    pb_str(&graph, 2, "grin");
    int64_t ind[4] = {-1, plan->in_c, plan->in_h, plan->in_w}, outd[2] = {-1, plan->out_c};
    value_info(&graph, 11, "input", ind, 4);
    value_info(&graph, 12, "prob", outd, 2);
    pb model = {0};
    pb_int(&model, 1, 5); /* ir_version 5 goes with opset 10 */
    pb_str(&model, 2, "grin");
    pb_str(&model, 3, producer_version);
    pb opset = {0};
    pb_str(&opset, 1, "");
    pb_int(&opset, 2, 10);
    pb_msg(&model, 8, &opset);
    pb_msg(&model, 7, &graph);
    if (model.oom) {
        free(model.p);
        return grin__fail(err, GRIN_ERR_NO_MEMORY, "out of memory");
    }
    grin__out out;
    grin_status ost = grin__out_open(&out, path, 0, err);
    if (ost) {
        free(model.p);
        return ost;
    }
    bool ok = fwrite(model.p, 1, model.n, out.f) == model.n;
    free(model.p);
    return grin__out_close(&out, ok, err);
}
