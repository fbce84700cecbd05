/* The masking-regex matcher of logad's compiled core: a backtracking matcher with the priorities of
 * Python's `re` (greedy, lazy and possessive repeats, alternatives in order, leftmost match first,
 * fixed-width lookarounds, \b), for the patterns logad.parsing.rxvm compiles, on ASCII text.
 * Same matches as `re` (tested on the presets' patterns and random text). A step budget and a
 * depth limit make a pathological line return -2: the caller then uses `re` for that line.
 */
#include "core.h"

enum { R_CLASS, R_BRANCH, R_JUMP, R_REP, R_REPEND, R_AT, R_ASSERT, R_SUCCEED, R_MATCH };
enum { M_GREEDY, M_LAZY, M_POSSESSIVE };

typedef struct {
    int op, a, b, c, d, next, e;
} rnode_t;

struct rprog {
    rnode_t *nodes;
    int nnodes;
    unsigned char *sets; /* nsets x 128 */
    int nsets;
    int *alts;
    int nalts;
    int start;
    unsigned char first[128];
    int skip;
    int only_first; /* the one character every match starts with, or -1: then memchr finds candidates */
};

typedef struct rframe {
    int rep, count;
    const struct rframe *up;
} rframe_t;

typedef struct {
    const unsigned char *s;
    Py_ssize_t n;
    long steps, budget;
    int depth;
} rctx_t;

#define RX_MAXDEPTH 4000

static inline int is_word(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static Py_ssize_t rx_m(const rprog_t *P, int pc, Py_ssize_t pos, const rframe_t *fr, rctx_t *cx);

static Py_ssize_t rx_rep(const rprog_t *P, const rframe_t *f, Py_ssize_t pos, rctx_t *cx) {
    const rnode_t *nd = &P->nodes[f->rep];
    Py_ssize_t r;
    int more = nd->c < 0 || f->count < nd->c;
    if (nd->d == M_GREEDY) {
        if (more) {
            r = rx_m(P, nd->a, pos, f, cx);
            if (r != -1) return r;
        }
        if (f->count >= nd->b) return rx_m(P, nd->next, pos, f->up, cx);
        return -1;
    }
    if (f->count >= nd->b) {
        r = rx_m(P, nd->next, pos, f->up, cx);
        if (r != -1) return r;
    }
    if (more) return rx_m(P, nd->a, pos, f, cx);
    return -1;
}

static Py_ssize_t rx_m(const rprog_t *P, int pc, Py_ssize_t pos, const rframe_t *fr, rctx_t *cx) {
    Py_ssize_t r = -1;
    const unsigned char *s = cx->s;
    Py_ssize_t n = cx->n;
    if (++cx->depth > RX_MAXDEPTH) {
        cx->depth--;
        return -2;
    }
    for (;;) {
        if (++cx->steps > cx->budget) { r = -2; goto out; }
        const rnode_t *nd = &P->nodes[pc];
        switch (nd->op) {
        case R_MATCH:
        case R_SUCCEED:
            r = pos;
            goto out;
        case R_JUMP:
            pc = nd->next;
            continue;
        case R_AT: {
            int ok;
            if (nd->a == 0) ok = pos == 0;
            else if (nd->a == 1) ok = pos == n;
            else {
                int left = pos > 0 && is_word(s[pos - 1]);
                int right = pos < n && is_word(s[pos]);
                ok = (left != right) == (nd->a == 2);
            }
            if (!ok) { r = -1; goto out; }
            pc = nd->next;
            continue;
        }
        case R_CLASS: {
            const unsigned char *set = P->sets + (size_t)nd->a * 128;
            Py_ssize_t lo = nd->b, room = n - pos;
            Py_ssize_t hi = (nd->c < 0 || nd->c > room) ? room : nd->c;
            Py_ssize_t k = 0;
            while (k < hi && set[s[pos + k]]) k++;
            cx->steps += k;
            if (k < lo) { r = -1; goto out; }
            if (lo == nd->c || nd->d == M_POSSESSIVE || nd->e) { /* no choice to make */
                pos += (nd->d == M_POSSESSIVE || nd->e) ? k : lo;
                pc = nd->next;
                continue;
            }
            if (P->nodes[nd->next].op == R_MATCH && fr == NULL) {
                r = pos + (nd->d == M_LAZY ? lo : k);
                goto out;
            }
            if (nd->d == M_GREEDY) {
                for (Py_ssize_t j = k; j >= lo; j--) {
                    r = rx_m(P, nd->next, pos + j, fr, cx);
                    if (r != -1) goto out;
                }
            } else {
                for (Py_ssize_t j = lo; j <= k; j++) {
                    r = rx_m(P, nd->next, pos + j, fr, cx);
                    if (r != -1) goto out;
                }
            }
            r = -1;
            goto out;
        }
        case R_BRANCH:
            for (int i = 0; i < nd->b; i++) {
                r = rx_m(P, P->alts[nd->a + i], pos, fr, cx);
                if (r != -1) goto out;
            }
            r = -1;
            goto out;
        case R_REP: {
            rframe_t f = {pc, 0, fr};
            r = rx_rep(P, &f, pos, cx);
            goto out;
        }
        case R_REPEND: {
            rframe_t f = {fr->rep, fr->count + 1, fr->up};
            r = rx_rep(P, &f, pos, cx);
            goto out;
        }
        case R_ASSERT: {
            Py_ssize_t sub;
            int kind = nd->b, ok;
            if (kind <= 1) {
                sub = rx_m(P, nd->a, pos, NULL, cx);
            } else {
                sub = pos - nd->c < 0 ? -1 : rx_m(P, nd->a, pos - nd->c, NULL, cx);
            }
            if (sub == -2) { r = -2; goto out; }
            ok = sub >= 0;
            if (kind == 1 || kind == 3) ok = !ok;
            if (!ok) { r = -1; goto out; }
            pc = nd->next;
            continue;
        }
        default:
            r = -1;
            goto out;
        }
    }
out:
    cx->depth--;
    return r;
}

int rx_scan(const rprog_t *P, const char *text, Py_ssize_t n, ibuf_t *out) {
    rctx_t cx = {(const unsigned char *)text, n, 0, 200000 + 400 * (long)n, 0};
    const unsigned char *s = cx.s;
    const unsigned char *skip = P->skip >= 0 ? P->sets + (size_t)P->skip * 128 : NULL;
    Py_ssize_t pos = 0;
    while (pos < n) {
        if (P->only_first >= 0) {
            const unsigned char *c = memchr(s + pos, P->only_first, (size_t)(n - pos));
            if (!c) break;
            pos = c - s;
        } else if (!P->first[s[pos]]) {
            pos++;
            continue;
        }
        cx.depth = 0;
        Py_ssize_t e = rx_m(P, P->start, pos, NULL, &cx);
        if (e == -2) return -2;
        if (e > pos) {
            if (ibuf_push(out, (int32_t)pos) < 0 || ibuf_push(out, (int32_t)e) < 0) return -1;
            pos = e;
            continue;
        }
        if (skip && skip[s[pos]]) {
            while (pos < n && skip[s[pos]]) pos++;
        } else {
            pos++;
        }
    }
    return 0;
}

void rx_free(rprog_t *p) {
    if (!p) return;
    PyMem_Free(p->nodes);
    PyMem_Free(p->sets);
    PyMem_Free(p->alts);
    PyMem_Free(p);
}

/* spec = (nodes, sets, alts, start, first table, skip) as rxvm.compile_rule returns it */
rprog_t *rx_compile(PyObject *spec) {
    PyObject *nodes, *sets, *alts, *first;
    int start, skip;
    if (!PyArg_ParseTuple(spec, "O!O!O!iSi", &PyTuple_Type, &nodes, &PyTuple_Type, &sets, &PyTuple_Type, &alts,
                          &start, &first, &skip))
        return NULL;
    rprog_t *p = PyMem_Calloc(1, sizeof(rprog_t));
    if (!p) { PyErr_NoMemory(); return NULL; }
    p->nnodes = (int)PyTuple_GET_SIZE(nodes);
    p->nsets = (int)PyTuple_GET_SIZE(sets);
    p->nalts = (int)PyTuple_GET_SIZE(alts);
    p->nodes = PyMem_Calloc((size_t)p->nnodes + 1, sizeof(rnode_t));
    p->sets = PyMem_Calloc((size_t)p->nsets + 1, 128);
    p->alts = PyMem_Calloc((size_t)p->nalts + 1, sizeof(int));
    if (!p->nodes || !p->sets || !p->alts) { PyErr_NoMemory(); goto fail; }
    for (int i = 0; i < p->nnodes; i++) {
        rnode_t *nd = &p->nodes[i];
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(nodes, i), "iiiiiii", &nd->op, &nd->a, &nd->b, &nd->c, &nd->d, &nd->next,
                              &nd->e))
            goto fail;
    }
    for (int i = 0; i < p->nsets; i++) {
        PyObject *b = PyTuple_GET_ITEM(sets, i);
        if (!PyBytes_Check(b) || PyBytes_GET_SIZE(b) != 128) { PyErr_SetString(PyExc_ValueError, "bad set"); goto fail; }
        memcpy(p->sets + (size_t)i * 128, PyBytes_AS_STRING(b), 128);
    }
    for (int i = 0; i < p->nalts; i++) p->alts[i] = (int)PyLong_AsLong(PyTuple_GET_ITEM(alts, i));
    if (PyErr_Occurred()) goto fail;
    if (PyBytes_GET_SIZE(first) != 128) { PyErr_SetString(PyExc_ValueError, "bad first table"); goto fail; }
    memcpy(p->first, PyBytes_AS_STRING(first), 128);
    p->only_first = -1;
    for (int c = 0, seen = 0; c < 128; c++)
        if (p->first[c]) p->only_first = seen++ ? -2 : c;
    if (p->only_first == -2) p->only_first = -1;
    p->start = start;
    p->skip = skip;
    return p;
fail:
    rx_free(p);
    return NULL;
}
