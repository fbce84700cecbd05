/* Keys with the raw span of every token (logad._core.compile_rules, keys_spans, tokens_spans,
 * params): the compiled form of SkeletonParser.spans / DrainParser.spans (align.py) and of cutting
 * parameters out of the lines, with the same results (tested).
 *
 * A rule set is the masker's rules in order (drain3.ini scanners or compiled regexes, see rxvm.py)
 * followed by removal rules (empty replacement) and, for Drain, extra delimiters (replaced by a
 * space). Every character of the masked text keeps the raw span it stands for; a token stands for
 * the raw text from its first character's origin to its last one's end.
 * Lines the core leaves (not ASCII, holding '\n', longer than the cap, a regex over its step
 * budget) come back as None: the caller computes them with the Python reference.
 */
#include "core.h"

enum { S_DRAIN3, S_RX, S_LITERAL };

typedef struct {
    int kind, rule;
    rprog_t *prog;
    char *repl, *lit;
    Py_ssize_t rn, litn;
} step_t;

typedef struct {
    int n;
    step_t *steps;
} ruleset_t;

static void ruleset_free(PyObject *cap) {
    ruleset_t *rs = PyCapsule_GetPointer(cap, "logad.ruleset");
    if (!rs) return;
    for (int i = 0; i < rs->n; i++) {
        rx_free(rs->steps[i].prog);
        PyMem_Free(rs->steps[i].repl);
        PyMem_Free(rs->steps[i].lit);
    }
    PyMem_Free(rs->steps);
    PyMem_Free(rs);
}

static char *dup_ascii(PyObject *s, Py_ssize_t *n) {
    if (!PyUnicode_Check(s) || !PyUnicode_IS_ASCII(s)) {
        PyErr_SetString(PyExc_ValueError, "replacement texts must be ASCII");
        return NULL;
    }
    *n = PyUnicode_GET_LENGTH(s);
    char *p = PyMem_Malloc((size_t)*n + 1);
    if (!p) { PyErr_NoMemory(); return NULL; }
    memcpy(p, PyUnicode_DATA(s), (size_t)*n);
    p[*n] = 0;
    return p;
}

/* compile_rules([(kind, payload, replacement), ...]) -> capsule.
   kind "drain3": payload is the rule number 0-6; "rx": payload is rxvm.compile_rule's spec;
   "literal": payload is a text replaced wherever it occurs (Drain's extra delimiters) */
PyObject *py_compile_rules(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *list;
    if (!PyArg_ParseTuple(args, "O!", &PyList_Type, &list)) return NULL;
    ruleset_t *rs = PyMem_Calloc(1, sizeof(ruleset_t));
    if (!rs) return PyErr_NoMemory();
    rs->n = (int)PyList_GET_SIZE(list);
    rs->steps = PyMem_Calloc((size_t)rs->n + 1, sizeof(step_t));
    PyObject *cap = PyCapsule_New(rs, "logad.ruleset", ruleset_free);
    if (!rs->steps || !cap) {
        if (!cap) { PyMem_Free(rs->steps); PyMem_Free(rs); }
        Py_XDECREF(cap);
        return PyErr_NoMemory();
    }
    for (int i = 0; i < rs->n; i++) {
        const char *kind;
        PyObject *payload, *repl;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(list, i), "sOU", &kind, &payload, &repl)) goto fail;
        step_t *st = &rs->steps[i];
        if (!(st->repl = dup_ascii(repl, &st->rn))) goto fail;
        if (strcmp(kind, "drain3") == 0) {
            st->kind = S_DRAIN3;
            st->rule = (int)PyLong_AsLong(payload);
        } else if (strcmp(kind, "rx") == 0) {
            st->kind = S_RX;
            if (!(st->prog = rx_compile(payload))) goto fail;
        } else {
            st->kind = S_LITERAL;
            if (!(st->lit = dup_ascii(payload, &st->litn)) || st->litn == 0) goto fail;
        }
        if (PyErr_Occurred()) goto fail;
    }
    return cap;
fail:
    Py_DECREF(cap);
    return NULL;
}

typedef struct {
    buf_t t[2];
    ibuf_t os[2], oe[2];
    ibuf_t m;
    ibuf_t sp;
    buf_t key;
    ibuf_t starts; /* drain3 start positions of the current text */
} kwork_t;

static void kwork_free(kwork_t *w) {
    for (int i = 0; i < 2; i++) {
        PyMem_Free(w->t[i].p);
        PyMem_Free(w->os[i].p);
        PyMem_Free(w->oe[i].p);
    }
    PyMem_Free(w->m.p);
    PyMem_Free(w->sp.p);
    PyMem_Free(w->key.p);
    PyMem_Free(w->starts.p);
}

static int literal_matches(const char *s, Py_ssize_t n, const char *lit, Py_ssize_t ln, ibuf_t *out) {
    Py_ssize_t p = 0;
    while (p + ln <= n) {
        const char *q = memchr(s + p, lit[0], (size_t)(n - p - ln + 1));
        if (!q) break;
        Py_ssize_t at = q - s;
        if (memcmp(q, lit, (size_t)ln) == 0) {
            if (ibuf_push(out, (int32_t)at) < 0 || ibuf_push(out, (int32_t)(at + ln)) < 0) return -1;
            p = at + ln;
        } else {
            p = at + 1;
        }
    }
    return 0;
}

/* Mask s[0:n] through the rule set; *cur = which of w->t holds the result (-1: the input itself,
   identity origins). 0 ok, 1 give the line to Python, -1 error. */
/* text[from:to) unchanged into the masked text, with the original span of each character
   (its own position when `ios` is NULL: the line itself); room is reserved by the caller */
static inline void copy_run(buf_t *out, ibuf_t *os, ibuf_t *oe, const char *cs, const int32_t *ios,
                            const int32_t *ioe, Py_ssize_t from, Py_ssize_t to) {
    Py_ssize_t len = to - from;
    if (len <= 0) return;
    memcpy(out->p + out->n, cs + from, (size_t)len);
    if (ios) {
        memcpy(os->p + os->n, ios + from, (size_t)len * sizeof(int32_t));
        memcpy(oe->p + oe->n, ioe + from, (size_t)len * sizeof(int32_t));
    } else {
        int32_t *a = os->p + os->n, *b = oe->p + oe->n;
        for (Py_ssize_t q = 0; q < len; q++) {
            a[q] = (int32_t)(from + q);
            b[q] = (int32_t)(from + q + 1);
        }
    }
    out->n += len;
    os->n += len;
    oe->n += len;
}

static int mask_line(const ruleset_t *rs, const char *s, Py_ssize_t n, kwork_t *w, int *cur) {
    *cur = -1;
    int fresh = 0; /* w->starts describe the current text */
    for (int i = 0; i < rs->n; i++) {
        const step_t *st = &rs->steps[i];
        const char *cs = *cur < 0 ? s : w->t[*cur].p;
        Py_ssize_t cn = *cur < 0 ? n : w->t[*cur].n;
        w->m.n = 0;
        int r;
        /* a character every match of the drain3.ini rule contains (ID ':', IP '.', HEX 'x', CMD
           '"'): without it the rule cannot match (as mask_buf skips it) */
        static const char need[7] = {':', '.', 0, 0, 'x', 0, '"'};
        if (st->kind == S_DRAIN3 && need[st->rule] && !memchr(cs, need[st->rule], (size_t)cn)) continue;
        if (st->kind == S_DRAIN3 && st->rule < 6) {
            if (!fresh) {
                if (drain3_starts(cs, cn, &w->starts) < 0) return -1;
                fresh = 1;
            }
            r = drain3_matches_at(st->rule, cs, cn, &w->starts, &w->m);
        } else if (st->kind == S_DRAIN3) r = drain3_matches(st->rule, cs, cn, &w->m);
        else if (st->kind == S_RX) r = rx_scan(st->prog, cs, cn, &w->m);
        else r = literal_matches(cs, cn, st->lit, st->litn, &w->m);
        if (r == -2) return 1;
        if (r < 0) return -1;
        if (!w->m.n) continue;
        int nx = *cur < 0 ? 0 : 1 - *cur;
        buf_t *out = &w->t[nx];
        ibuf_t *os = &w->os[nx], *oe = &w->oe[nx];
        const int32_t *ios = *cur < 0 ? NULL : w->os[*cur].p, *ioe = *cur < 0 ? NULL : w->oe[*cur].p;
        out->n = os->n = oe->n = 0;
        Py_ssize_t extra = cn + (w->m.n / 2) * st->rn + 1;
        if (buf_reserve(out, extra) < 0 || ibuf_reserve(os, extra) < 0 || ibuf_reserve(oe, extra) < 0) return -1;
        Py_ssize_t last = 0;
        for (Py_ssize_t k = 0; k + 1 < w->m.n; k += 2) {
            Py_ssize_t a = w->m.p[k], b = w->m.p[k + 1];
            copy_run(out, os, oe, cs, ios, ioe, last, a);
            int32_t ra, rb;
            if (b > a) {
                ra = ios ? ios[a] : (int32_t)a;
                rb = ioe ? ioe[b - 1] : (int32_t)b;
            } else {
                ra = rb = a < cn ? (ios ? ios[a] : (int32_t)a) : (cn ? (ioe ? ioe[cn - 1] : (int32_t)cn) : 0);
            }
            for (Py_ssize_t q = 0; q < st->rn; q++) {
                out->p[out->n++] = st->repl[q];
                os->p[os->n++] = ra;
                oe->p[oe->n++] = rb;
            }
            last = b;
        }
        copy_run(out, os, oe, cs, ios, ioe, last, cn);
        *cur = nx;
        fresh = 0;
    }
    return 0;
}

static int holds_placeholder(const char *t, Py_ssize_t n, PyObject *phs) {
    for (Py_ssize_t q = 0; q < PyTuple_GET_SIZE(phs); q++) {
        PyObject *o = PyTuple_GET_ITEM(phs, q);
        Py_ssize_t pl = PyUnicode_GET_LENGTH(o);
        const char *pp = (const char *)PyUnicode_DATA(o);
        for (Py_ssize_t j = 0; j + pl <= n; j++)
            if (t[j] == pp[0] && memcmp(t + j, pp, (size_t)pl) == 0) return 1;
    }
    return 0;
}

/* keys_spans(lines, ruleset or None, split_after, wildcard, placeholders, max_chars, want_spans)
   -> (keys, spans): keys[i] the line's key or None; spans[i] int32 (start, end) per token as bytes
   (None without want_spans) */
PyObject *py_keys_spans(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *lines, *rules, *split, *wild, *phs;
    Py_ssize_t maxc;
    int want;
    if (!PyArg_ParseTuple(args, "O!OUUO!np", &PyList_Type, &lines, &rules, &split, &wild, &PyTuple_Type, &phs, &maxc, &want))
        return NULL;
    const ruleset_t *rs = NULL;
    if (rules != Py_None && !(rs = PyCapsule_GetPointer(rules, "logad.ruleset"))) return NULL;
    keycfg_t k;
    Py_ssize_t n = PyList_GET_SIZE(lines);
    PyObject *keys = PyList_New(n), *spans = PyList_New(n), *res = NULL;
    kwork_t w = {0};
    if (!keys || !spans) goto done;
    int usable = !keycfg(split, wild, phs, &k);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *line = PyList_GET_ITEM(lines, i);
        PyObject *key = Py_None, *sp = Py_None;
        if (!usable || !PyUnicode_Check(line) || !PyUnicode_IS_ASCII(line) || PyUnicode_GET_LENGTH(line) > maxc ||
            memchr(PyUnicode_DATA(line), '\n', (size_t)PyUnicode_GET_LENGTH(line))) {
            Py_INCREF(Py_None);
            Py_INCREF(Py_None);
            PyList_SET_ITEM(keys, i, Py_None);
            PyList_SET_ITEM(spans, i, Py_None);
            continue;
        }
        const char *s = (const char *)PyUnicode_DATA(line);
        Py_ssize_t sn = PyUnicode_GET_LENGTH(line);
        int cur = -1, r = rs ? mask_line(rs, s, sn, &w, &cur) : 0;
        if (r < 0) goto done;
        if (r == 1) {
            Py_INCREF(Py_None);
            Py_INCREF(Py_None);
            PyList_SET_ITEM(keys, i, Py_None);
            PyList_SET_ITEM(spans, i, Py_None);
            continue;
        }
        const char *t = cur < 0 ? s : w.t[cur].p;
        Py_ssize_t tn = cur < 0 ? sn : w.t[cur].n;
        const int32_t *os = cur < 0 ? NULL : w.os[cur].p, *oe = cur < 0 ? NULL : w.oe[cur].p;
        w.key.n = 0;
        w.sp.n = 0;
        if (buf_reserve(&w.key, tn + 1) < 0) goto done;
        Py_ssize_t p = 0;
        int first = 1;
        while (p < tn) {
            while (p < tn && is_space(t[p])) p++;
            if (p >= tn) break;
            Py_ssize_t st = p;
            int var = 0, ph = 0;
            while (p < tn && !is_space(t[p])) {
                unsigned char ch = (unsigned char)t[p];
                var |= ch >= '0' && ch <= '9';
                ph |= k.ph_first[ch & 127];
                p++;
                if (k.splits[ch & 127]) break;
            }
            if (!var && ph) var = holds_placeholder(t + st, p - st, k.phs);
            if (!first && buf_add(&w.key, " ", 1) < 0) goto done;
            first = 0;
            if (var ? buf_add(&w.key, k.w, k.nw) : buf_add(&w.key, t + st, p - st)) goto done;
            if (want && (ibuf_push(&w.sp, os ? os[st] : (int32_t)st) < 0 ||
                         ibuf_push(&w.sp, oe ? oe[p - 1] : (int32_t)p) < 0))
                goto done;
        }
        key = PyUnicode_FromStringAndSize(w.key.p ? w.key.p : "", w.key.n);
        if (!key) goto done;
        PyList_SET_ITEM(keys, i, key);
        if (want) {
            sp = PyBytes_FromStringAndSize((const char *)w.sp.p, w.sp.n * (Py_ssize_t)sizeof(int32_t));
            if (!sp) goto done;
        } else {
            Py_INCREF(Py_None);
        }
        PyList_SET_ITEM(spans, i, sp);
    }
    res = PyTuple_Pack(2, keys, spans);
done:
    kwork_free(&w);
    Py_XDECREF(keys);
    Py_XDECREF(spans);
    return res;
}

/* tokens_spans(lines, ruleset or None, placeholders, max_chars) -> (masked, spans): per line the
   masked text (delimiters already spaces) and, per token, int32 (raw start, raw end, k, then k
   (start, end) pairs of the placeholders inside it); None where Python must do it */
PyObject *py_tokens_spans(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *lines, *rules, *phs;
    Py_ssize_t maxc;
    if (!PyArg_ParseTuple(args, "O!OO!n", &PyList_Type, &lines, &rules, &PyTuple_Type, &phs, &maxc)) return NULL;
    const ruleset_t *rs = NULL;
    if (rules != Py_None && !(rs = PyCapsule_GetPointer(rules, "logad.ruleset"))) return NULL;
    for (Py_ssize_t q = 0; q < PyTuple_GET_SIZE(phs); q++) {
        PyObject *o = PyTuple_GET_ITEM(phs, q);
        if (!PyUnicode_Check(o) || !PyUnicode_IS_ASCII(o) || !PyUnicode_GET_LENGTH(o)) {
            PyErr_SetString(PyExc_ValueError, "placeholders must be non-empty ASCII");
            return NULL;
        }
    }
    Py_ssize_t n = PyList_GET_SIZE(lines);
    PyObject *masked = PyList_New(n), *spans = PyList_New(n), *res = NULL;
    kwork_t w = {0};
    if (!masked || !spans) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *line = PyList_GET_ITEM(lines, i);
        if (!PyUnicode_Check(line) || !PyUnicode_IS_ASCII(line) || PyUnicode_GET_LENGTH(line) > maxc ||
            memchr(PyUnicode_DATA(line), '\n', (size_t)PyUnicode_GET_LENGTH(line))) {
            goto none;
        }
        const char *s = (const char *)PyUnicode_DATA(line);
        Py_ssize_t sn = PyUnicode_GET_LENGTH(line);
        int cur = -1, r = rs ? mask_line(rs, s, sn, &w, &cur) : 0;
        if (r < 0) goto done;
        if (r == 1) goto none;
        const char *t = cur < 0 ? s : w.t[cur].p;
        Py_ssize_t tn = cur < 0 ? sn : w.t[cur].n;
        const int32_t *os = cur < 0 ? NULL : w.os[cur].p, *oe = cur < 0 ? NULL : w.oe[cur].p;
        /* layout: [token count, then per token (raw start, raw end, first placeholder, placeholders),
           then (start, end) per placeholder] */
        w.sp.n = 0;
        w.m.n = 0;
        if (ibuf_push(&w.sp, 0) < 0) goto done;
        Py_ssize_t p = 0;
        while (p < tn) {
            while (p < tn && is_space(t[p])) p++;
            if (p >= tn) break;
            Py_ssize_t st = p;
            while (p < tn && !is_space(t[p])) p++;
            if (ibuf_push(&w.sp, os ? os[st] : (int32_t)st) < 0 || ibuf_push(&w.sp, oe ? oe[p - 1] : (int32_t)p) < 0 ||
                ibuf_push(&w.sp, (int32_t)(w.m.n / 2)) < 0 || ibuf_push(&w.sp, 0) < 0)
                goto done;
            Py_ssize_t kpos = w.sp.n - 1;
            w.sp.p[0]++;
            for (Py_ssize_t j = st; j < p;) { /* placeholders, leftmost, in the order given */
                int hit = 0;
                if (t[j] == '<') {
                    for (Py_ssize_t q = 0; q < PyTuple_GET_SIZE(phs); q++) {
                        PyObject *o = PyTuple_GET_ITEM(phs, q);
                        Py_ssize_t pl = PyUnicode_GET_LENGTH(o);
                        if (j + pl <= p && memcmp(t + j, PyUnicode_DATA(o), (size_t)pl) == 0) {
                            if (ibuf_push(&w.m, os ? os[j] : (int32_t)j) < 0 ||
                                ibuf_push(&w.m, oe ? oe[j + pl - 1] : (int32_t)(j + pl)) < 0)
                                goto done;
                            w.sp.p[kpos]++;
                            j += pl;
                            hit = 1;
                            break;
                        }
                    }
                }
                if (!hit) j++;
            }
        }
        for (Py_ssize_t q = 0; q < w.m.n; q++)
            if (ibuf_push(&w.sp, w.m.p[q]) < 0) goto done;
        PyObject *m = PyUnicode_FromStringAndSize(t, tn);
        PyObject *b = PyBytes_FromStringAndSize((const char *)w.sp.p, w.sp.n * (Py_ssize_t)sizeof(int32_t));
        if (!m || !b) { Py_XDECREF(m); Py_XDECREF(b); goto done; }
        PyList_SET_ITEM(masked, i, m);
        PyList_SET_ITEM(spans, i, b);
        continue;
    none:
        Py_INCREF(Py_None);
        Py_INCREF(Py_None);
        PyList_SET_ITEM(masked, i, Py_None);
        PyList_SET_ITEM(spans, i, Py_None);
    }
    res = PyTuple_Pack(2, masked, spans);
done:
    kwork_free(&w);
    Py_XDECREF(masked);
    Py_XDECREF(spans);
    return res;
}

/* One parameter value, content[start:end): appended to `values` as str and to `data` as UTF-8
   with its end offset in `voff` (Arrow's layout); shared by params and params_regex. -1 on error. */
static int add_value(PyObject *values, buf_t *data, ibuf_t *voff, PyObject *content, int ascii,
                     Py_ssize_t start, Py_ssize_t end) {
    PyObject *v = PyUnicode_Substring(content, start, end);
    if (!v || PyList_Append(values, v) < 0) { Py_XDECREF(v); return -1; }
    Py_ssize_t bn;
    const char *b = ascii ? (const char *)PyUnicode_DATA(v) : PyUnicode_AsUTF8AndSize(v, &bn);
    if (ascii) bn = PyUnicode_GET_LENGTH(v);
    Py_DECREF(v);  /* the list keeps it alive, and with it `b` */
    if (!b || buf_add(data, b, bn) < 0 || ibuf_push(voff, (int32_t)data->n) < 0) return -1;
    return 0;
}

/* params(contents, spans, ids, wild) -> (values, offsets, (utf8, value offsets)): for line i with
   template ids[i], wild[ids[i]] = (token count, positions...) of its <*>; the raw text under each
   position (spans[i]: int32 (start, end) per token). A line whose token count differs gets none.
   The values come back as str and as one UTF-8 buffer with int32 offsets (Arrow's layout). */
PyObject *py_params(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *contents, *spans, *ids, *wild;
    if (!PyArg_ParseTuple(args, "O!O!O!O!", &PyList_Type, &contents, &PyList_Type, &spans, &PyList_Type, &ids,
                          &PyDict_Type, &wild))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(contents);
    if (PyList_GET_SIZE(spans) != n || PyList_GET_SIZE(ids) != n) {
        PyErr_SetString(PyExc_ValueError, "contents, spans and ids differ in length");
        return NULL;
    }
    PyObject *values = PyList_New(0), *res = NULL;
    int32_t *off = PyMem_Malloc((size_t)(n + 1) * sizeof(int32_t));
    buf_t data = {0};
    ibuf_t voff = {0};
    if (!values || !off || ibuf_push(&voff, 0) < 0) { PyErr_NoMemory(); goto done; }
    off[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *w = PyDict_GetItemWithError(wild, PyList_GET_ITEM(ids, i)); /* borrowed */
        PyObject *sp = PyList_GET_ITEM(spans, i);
        if (!w && PyErr_Occurred()) goto done;
        if (w && PyBytes_Check(sp) && PyTuple_Check(w) && PyTuple_GET_SIZE(w) > 1) {
            const int32_t *t = (const int32_t *)PyBytes_AS_STRING(sp);
            Py_ssize_t ntok = PyBytes_GET_SIZE(sp) / (Py_ssize_t)(2 * sizeof(int32_t));
            if (ntok == PyLong_AsSsize_t(PyTuple_GET_ITEM(w, 0))) {
                PyObject *c = PyList_GET_ITEM(contents, i);
                int ascii = PyUnicode_IS_ASCII(c);
                for (Py_ssize_t q = 1; q < PyTuple_GET_SIZE(w); q++) {
                    Py_ssize_t j = PyLong_AsSsize_t(PyTuple_GET_ITEM(w, q));
                    if (add_value(values, &data, &voff, c, ascii, t[2 * j], t[2 * j + 1]) < 0) goto done;
                }
            }
        }
        off[i + 1] = (int32_t)PyList_GET_SIZE(values);
    }
    res = Py_BuildValue("(Oy#(y#y#))", values, (const char *)off, (n + 1) * (Py_ssize_t)sizeof(int32_t),
                        data.p ? data.p : "", data.n, (const char *)voff.p, voff.n * (Py_ssize_t)sizeof(int32_t));
done:
    PyMem_Free(off);
    PyMem_Free(data.p);
    PyMem_Free(voff.p);
    Py_XDECREF(values);
    return res;
}

/* rx_findall(spec, text) -> [(start, end)...] or None (over budget): one compiled regex's matches
   over an ASCII text, as re.finditer gives them (for the tests) */
PyObject *py_rx_findall(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *spec, *text;
    if (!PyArg_ParseTuple(args, "OU", &spec, &text)) return NULL;
    if (!PyUnicode_IS_ASCII(text)) {
        PyErr_SetString(PyExc_ValueError, "text must be ASCII");
        return NULL;
    }
    rprog_t *p = rx_compile(spec);
    if (!p) return NULL;
    ibuf_t m = {0};
    int r = rx_scan(p, (const char *)PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text), &m);
    PyObject *out = NULL;
    if (r == -2) {
        out = Py_None;
        Py_INCREF(out);
    } else if (r == 0) {
        out = PyList_New(m.n / 2);
        for (Py_ssize_t i = 0; out && i < m.n / 2; i++) {
            PyObject *t = Py_BuildValue("(ii)", m.p[2 * i], m.p[2 * i + 1]);
            if (!t) { Py_CLEAR(out); break; }
            PyList_SET_ITEM(out, i, t);
        }
    }
    PyMem_Free(m.p);
    rx_free(p);
    return out;
}

/* find_keys(lines, ruleset) -> per line a tuple of the distinct texts the rule set's first
   (regex) rule matches, in order of first match (what identifier extraction needs), or None where
   Python must do it (not ASCII, holding '\n', over the step budget) */
PyObject *py_find_keys(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *lines, *rules;
    if (!PyArg_ParseTuple(args, "O!O", &PyList_Type, &lines, &rules)) return NULL;
    const ruleset_t *rs = PyCapsule_GetPointer(rules, "logad.ruleset");
    if (!rs) return NULL;
    if (rs->n < 1 || rs->steps[0].kind != S_RX) {
        PyErr_SetString(PyExc_ValueError, "find_keys needs one regex rule");
        return NULL;
    }
    const rprog_t *prog = rs->steps[0].prog;
    Py_ssize_t n = PyList_GET_SIZE(lines);
    PyObject *out = PyList_New(n);
    ibuf_t m = {0};
    if (!out) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *line = PyList_GET_ITEM(lines, i), *t = NULL;
        if (!PyUnicode_Check(line) || !PyUnicode_IS_ASCII(line) ||
            memchr(PyUnicode_DATA(line), '\n', (size_t)PyUnicode_GET_LENGTH(line))) {
            Py_INCREF(Py_None);
            PyList_SET_ITEM(out, i, Py_None);
            continue;
        }
        const char *s = (const char *)PyUnicode_DATA(line);
        m.n = 0;
        int r = rx_scan(prog, s, PyUnicode_GET_LENGTH(line), &m);
        if (r == -1) goto fail;
        if (r == -2) {
            Py_INCREF(Py_None);
            PyList_SET_ITEM(out, i, Py_None);
            continue;
        }
        Py_ssize_t k = m.n / 2, u = 0;
        t = PyTuple_New(k);
        if (!t) goto fail;
        for (Py_ssize_t j = 0; j < k; j++) {
            Py_ssize_t a = m.p[2 * j], b = m.p[2 * j + 1], q;
            for (q = 0; q < j; q++) /* a repeat of an earlier match: skip */
                if (m.p[2 * q + 1] - m.p[2 * q] == b - a && memcmp(s + m.p[2 * q], s + a, (size_t)(b - a)) == 0) break;
            if (q < j) continue;
            PyObject *v = PyUnicode_FromStringAndSize(s + a, b - a);
            if (!v) { Py_DECREF(t); goto fail; }
            PyTuple_SET_ITEM(t, u++, v);
        }
        if (u < k && _PyTuple_Resize(&t, u) < 0) goto fail;
        PyList_SET_ITEM(out, i, t);
    }
    PyMem_Free(m.p);
    return out;
fail:
    PyMem_Free(m.p);
    Py_DECREF(out);
    return NULL;
}

/* drain_params(contents, spans, specs) -> (values, offsets, (utf8, value offsets)): Drain mode's
   parameters of many lines. spans[i]: tokens_spans output of line i; specs[i]: per parameter
   position 2 * token + 1 when the template keeps the token's placeholders (one value each), or
   2 * token for a generalised position (the whole raw token); None: no parameters. */
PyObject *py_drain_params(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *contents, *spans, *specs;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyList_Type, &contents, &PyList_Type, &spans, &PyList_Type, &specs))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(contents);
    if (PyList_GET_SIZE(spans) != n || PyList_GET_SIZE(specs) != n) {
        PyErr_SetString(PyExc_ValueError, "contents, spans and specs differ in length");
        return NULL;
    }
    PyObject *values = PyList_New(0), *res = NULL;
    int32_t *off = PyMem_Malloc((size_t)(n + 1) * sizeof(int32_t));
    buf_t data = {0};
    ibuf_t voff = {0};
    if (!values || !off || ibuf_push(&voff, 0) < 0) { PyErr_NoMemory(); goto done; }
    off[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *sp = PyList_GET_ITEM(spans, i), *spec = PyList_GET_ITEM(specs, i);
        if (PyBytes_Check(sp) && PyTuple_Check(spec)) {
            const int32_t *f = (const int32_t *)PyBytes_AS_STRING(sp);
            int32_t ntok = f[0];
            PyObject *c = PyList_GET_ITEM(contents, i);
            int ascii = PyUnicode_IS_ASCII(c);
            for (Py_ssize_t q = 0; q < PyTuple_GET_SIZE(spec); q++) {
                long code = PyLong_AsLong(PyTuple_GET_ITEM(spec, q));
                long tok = code >> 1;
                if (tok >= ntok) continue;
                const int32_t *r = f + 1 + 4 * tok;
                int32_t pairs[2 * 64];
                int32_t np = 0;
                if (code & 1) { /* one value per placeholder of the token */
                    const int32_t *inner = f + 1 + 4 * ntok + 2 * r[2];
                    for (int32_t j = 0; j < r[3] && j < 64; j++) {
                        pairs[2 * np] = inner[2 * j];
                        pairs[2 * np + 1] = inner[2 * j + 1];
                        np++;
                    }
                } else {
                    pairs[0] = r[0];
                    pairs[1] = r[1];
                    np = 1;
                }
                for (int32_t j = 0; j < np; j++)
                    if (add_value(values, &data, &voff, c, ascii, pairs[2 * j], pairs[2 * j + 1]) < 0) goto done;
            }
        }
        off[i + 1] = (int32_t)PyList_GET_SIZE(values);
    }
    res = Py_BuildValue("(Oy#(y#y#))", values, (const char *)off, (n + 1) * (Py_ssize_t)sizeof(int32_t),
                        data.p ? data.p : "", data.n, (const char *)voff.p, voff.n * (Py_ssize_t)sizeof(int32_t));
done:
    PyMem_Free(off);
    PyMem_Free(data.p);
    PyMem_Free(voff.p);
    Py_XDECREF(values);
    return res;
}
