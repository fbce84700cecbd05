/* Header splitting and timestamps of whole blocks (logad._core.split_block, strptime_block,
 * floats_block, strings): the compiled form of logad/formats/header.py, times.py and the line loop
 * of reader.py, with the same results (tested).
 *
 * A chunk of whole lines (UTF-8 bytes) is split line by line: \r stripped, over-long lines cut at a
 * character boundary, invalid UTF-8 decoded with replacement characters (as Python does), blank
 * lines counted, then the format's program runs: the one-pass rule, else the exact dynamic
 * programme (see header.py). Whitespace is Python's (str.isspace), Unicode included.
 */
#include "core.h"

enum { H_MARK, H_LAZY, H_GREEDY, H_WS, H_LIT, H_SPLIT, H_MATCH };

typedef struct {
    int op, arg, next, alt;
    const char *lit;
    Py_ssize_t litn;
    int nanch;        /* LAZY: anchors reachable through MARK and SPLIT */
    int anch_off;     /* into prog.anch */
    int split_first;  /* SPLIT: the first anchor of `next` */
} hstate_t;

typedef struct {
    int state;
    int nmarks, marks_off; /* MARK states passed on the way, into prog.marks */
} hanchor_t;

typedef struct {
    hstate_t *st;
    int k;
    hanchor_t *anch;
    int nanch;
    int *marks;
    int nmarks;
    int nslots;
} hprog_t;

/* byte length of the whitespace character at s[p] (Python's str.isspace), 0 when none */
static inline int ws_len(const unsigned char *s, Py_ssize_t n, Py_ssize_t p) {
    unsigned char c = s[p];
    if (c < 0x80) return is_space((char)c);
    if (c == 0xC2 && p + 1 < n) return (s[p + 1] == 0x85 || s[p + 1] == 0xA0) ? 2 : 0;
    if (p + 2 >= n) return 0;
    unsigned char c1 = s[p + 1], c2 = s[p + 2];
    if (c == 0xE1) return (c1 == 0x9A && c2 == 0x80) ? 3 : 0;
    if (c == 0xE2) {
        if (c1 == 0x80) return ((c2 >= 0x80 && c2 <= 0x8A) || c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAF) ? 3 : 0;
        if (c1 == 0x81) return c2 == 0x9F ? 3 : 0;
        return 0;
    }
    if (c == 0xE3) return (c1 == 0x80 && c2 == 0x80) ? 3 : 0;
    return 0;
}

static inline int is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

static Py_ssize_t find_lit(const char *s, Py_ssize_t n, Py_ssize_t pos, const char *lit, Py_ssize_t ln) {
    if (ln == 0) return pos;
    while (pos + ln <= n) {
        const char *q = memchr(s + pos, lit[0], (size_t)(n - pos - ln + 1));
        if (!q) return -1;
        Py_ssize_t at = q - s;
        if (memcmp(q, lit, (size_t)ln) == 0) return at;
        pos = at + 1;
    }
    return -1;
}

static Py_ssize_t find_ws(const unsigned char *s, Py_ssize_t n, Py_ssize_t pos) {
    for (; pos < n; pos++)
        if (ws_len(s, n, pos)) return pos;
    return -1;
}

static Py_ssize_t ws_run_end(const unsigned char *s, Py_ssize_t n, Py_ssize_t p) {
    int w;
    while (p < n && (w = ws_len(s, n, p))) p += w;
    return p;
}

/* the compound anchor search of header._find_anchor */
static Py_ssize_t find_anchor(const hprog_t *P, int sti, const unsigned char *s, Py_ssize_t n, Py_ssize_t pos) {
    const hstate_t *a = &P->st[sti];
    if (a->op == H_MATCH) return n;
    if (a->op != H_LIT && a->op != H_WS) return pos;
    const hstate_t *nx = &P->st[a->next];
    for (;;) {
        Py_ssize_t q, after;
        if (a->op == H_LIT) {
            q = find_lit((const char *)s, n, pos, a->lit, a->litn);
            if (q < 0) return -1;
            after = q + a->litn;
        } else {
            q = find_ws(s, n, pos);
            if (q < 0) return -1;
            after = ws_run_end(s, n, q);
        }
        if (nx->op == H_LIT && a->op == H_WS && nx->litn > 0 && !ws_len((const unsigned char *)nx->lit, nx->litn, 0) &&
            !(after + nx->litn <= n && memcmp(s + after, nx->lit, (size_t)nx->litn) == 0)) {
            pos = after;
            continue;
        }
        if (nx->op == H_WS && a->op == H_LIT && !(after < n && ws_len(s, n, after))) {
            pos = q + 1;
            continue;
        }
        return q;
    }
}

/* one pass (header.forward); 1 = done, 0 = not decided */
static int h_forward(const hprog_t *P, const unsigned char *s, Py_ssize_t n, Py_ssize_t *marks) {
    Py_ssize_t pos = 0;
    int sti = 0;
    for (int i = 0; i < P->nslots; i++) marks[i] = -1;
    for (;;) {
        const hstate_t *t = &P->st[sti];
        switch (t->op) {
        case H_MARK:
            marks[t->arg] = pos;
            sti = t->next;
            break;
        case H_LIT:
            if (pos + t->litn > n || memcmp(s + pos, t->lit, (size_t)t->litn) != 0) return 0;
            pos += t->litn;
            sti = t->next;
            break;
        case H_WS: {
            Py_ssize_t r = ws_run_end(s, n, pos);
            if (r == pos) return 0;
            pos = r;
            sti = t->next;
            break;
        }
        case H_MATCH:
            return pos == n;
        case H_SPLIT: {
            const hstate_t *a = t->split_first >= 0 ? &P->st[t->split_first] : NULL;
            int ok = a && ((a->op == H_LIT && pos + a->litn <= n && memcmp(s + pos, a->lit, (size_t)a->litn) == 0) ||
                           (a->op == H_WS && pos < n && ws_len(s, n, pos)));
            sti = ok ? t->next : t->alt;
            break;
        }
        case H_GREEDY: {
            const hanchor_t *an = &P->anch[t->anch_off];
            if (t->nanch < 1 || P->st[an[0].state].op != H_MATCH) return 0;
            pos = n;
            sti = t->next;
            break;
        }
        default: { /* LAZY */
            Py_ssize_t best = -1;
            int bi = -1;
            for (int i = 0; i < t->nanch; i++) {
                const hanchor_t *an = &P->anch[t->anch_off + i];
                Py_ssize_t q = find_anchor(P, an->state, s, n, pos);
                if (q >= 0 && (best < 0 || q < best)) {
                    best = q;
                    bi = i;
                }
            }
            if (bi < 0) return 0;
            const hanchor_t *an = &P->anch[t->anch_off + bi];
            pos = best;
            for (int i = 0; i < an->nmarks; i++) marks[P->st[P->marks[an->marks_off + i]].arg] = pos;
            sti = an->state;
        }
        }
    }
}

typedef struct {
    unsigned char *ok; /* k x (n + 1) */
    int32_t *cnt;      /* (n + 2) prefix counts, one row per state that needs them, lazily */
    Py_ssize_t *run;   /* whitespace run end per position */
    Py_ssize_t cap, kcap;
} hwork_t;

/* the dynamic programme (header.exact); 1 = match (marks set), 0 = no match, -1 memory */
static int h_exact(const hprog_t *P, const unsigned char *s, Py_ssize_t n, Py_ssize_t *marks, hwork_t *w) {
    Py_ssize_t W = n + 1;
    int k = P->k;
    if (W * k > w->kcap) {
        unsigned char *q = PyMem_Realloc(w->ok, (size_t)(W * k));
        if (!q) { PyErr_NoMemory(); return -1; }
        w->ok = q;
        w->kcap = W * k;
    }
    if (W + 1 > w->cap) {
        int32_t *c = PyMem_Realloc(w->cnt, (size_t)(W + 1) * sizeof(int32_t));
        Py_ssize_t *r = PyMem_Realloc(w->run, (size_t)(W + 1) * sizeof(Py_ssize_t));
        if (c) w->cnt = c;
        if (r) w->run = r;
        if (!c || !r) { PyErr_NoMemory(); return -1; }
        w->cap = W + 1;
    }
    Py_ssize_t *run = w->run;
    run[n] = n;
    for (Py_ssize_t p = n - 1; p >= 0; p--) {
        int l = ws_len(s, n, p);
        run[p] = l ? (p + l <= n ? run[p + l] : n) : p;
    }
    unsigned char *ok = w->ok;
    for (int i = k - 1; i >= 0; i--) {
        const hstate_t *t = &P->st[i];
        unsigned char *row = ok + (size_t)i * W;
        const unsigned char *nx = t->next >= 0 ? ok + (size_t)t->next * W : NULL;
        switch (t->op) {
        case H_MATCH:
            memset(row, 0, (size_t)W);
            row[n] = 1;
            break;
        case H_MARK:
            memcpy(row, nx, (size_t)W);
            break;
        case H_SPLIT: {
            const unsigned char *al = ok + (size_t)t->alt * W;
            for (Py_ssize_t p = 0; p < W; p++) row[p] = nx[p] | al[p];
            break;
        }
        case H_LIT:
            for (Py_ssize_t p = 0; p < W; p++)
                row[p] = p + t->litn <= n && nx[p + t->litn] && memcmp(s + p, t->lit, (size_t)t->litn) == 0;
            break;
        case H_WS: {
            int32_t *c = w->cnt;
            c[0] = 0;
            for (Py_ssize_t p = 0; p < W; p++) c[p + 1] = c[p] + nx[p];
            for (Py_ssize_t p = 0; p < W; p++) {
                int l = p < n ? ws_len(s, n, p) : 0;
                row[p] = l && (c[run[p] + 1] - c[p + 1] > 0);
            }
            break;
        }
        default: { /* LAZY, GREEDY: any later position */
            unsigned char acc = 0;
            for (Py_ssize_t p = n; p >= 0; p--) {
                acc |= nx[p];
                row[p] = acc;
            }
        }
        }
        for (Py_ssize_t p = 1; p < n; p++) /* never inside a character */
            if (is_cont(s[p])) row[p] = 0;
    }
    if (!ok[0]) return 0;
    for (int i = 0; i < P->nslots; i++) marks[i] = -1;
    Py_ssize_t pos = 0;
    int sti = 0;
    for (;;) {
        const hstate_t *t = &P->st[sti];
        const unsigned char *nx = t->next >= 0 ? ok + (size_t)t->next * W : NULL;
        switch (t->op) {
        case H_MATCH:
            return 1;
        case H_MARK:
            marks[t->arg] = pos;
            sti = t->next;
            break;
        case H_SPLIT:
            sti = nx[pos] ? t->next : t->alt;
            break;
        case H_LIT:
            pos += t->litn;
            sti = t->next;
            break;
        case H_WS: {
            Py_ssize_t r = run[pos];
            while (!nx[r]) r--;
            pos = r;
            sti = t->next;
            break;
        }
        case H_LAZY:
            while (!nx[pos]) pos++;
            sti = t->next;
            break;
        default: { /* GREEDY */
            Py_ssize_t q = n;
            while (!nx[q]) q--;
            pos = q;
            sti = t->next;
        }
        }
    }
}

/* prog = (states, anchors, split_first, nslots): states[i] = (op, arg, next, alt) with arg the
   literal (str) or the slot (int); anchors[i] = ((anchor state, (mark states...)), ...) */
static int h_load(PyObject *prog, hprog_t *P) {
    PyObject *states, *anchors, *firsts;
    int nslots;
    memset(P, 0, sizeof(*P));
    if (!PyArg_ParseTuple(prog, "O!O!O!i", &PyTuple_Type, &states, &PyTuple_Type, &anchors, &PyTuple_Type, &firsts,
                          &nslots))
        return -1;
    P->k = (int)PyTuple_GET_SIZE(states);
    P->nslots = nslots;
    int nanch = 0, nmarks = 0;
    for (int i = 0; i < P->k; i++) {
        PyObject *a = PyTuple_GET_ITEM(anchors, i);
        nanch += (int)PyTuple_GET_SIZE(a);
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(a); j++)
            nmarks += (int)PyTuple_GET_SIZE(PyTuple_GET_ITEM(PyTuple_GET_ITEM(a, j), 1));
    }
    P->st = PyMem_Calloc((size_t)P->k + 1, sizeof(hstate_t));
    P->anch = PyMem_Calloc((size_t)nanch + 1, sizeof(hanchor_t));
    P->marks = PyMem_Calloc((size_t)nmarks + 1, sizeof(int));
    if (!P->st || !P->anch || !P->marks) { PyErr_NoMemory(); return -1; }
    int ai = 0, mi = 0;
    for (int i = 0; i < P->k; i++) {
        PyObject *t = PyTuple_GET_ITEM(states, i);
        hstate_t *h = &P->st[i];
        h->op = (int)PyLong_AsLong(PyTuple_GET_ITEM(t, 0));
        PyObject *arg = PyTuple_GET_ITEM(t, 1);
        h->next = (int)PyLong_AsLong(PyTuple_GET_ITEM(t, 2));
        h->alt = (int)PyLong_AsLong(PyTuple_GET_ITEM(t, 3));
        if (h->op == H_LIT) {
            h->lit = PyUnicode_AsUTF8AndSize(arg, &h->litn);
            if (!h->lit) return -1;
        } else if (h->op == H_MARK) {
            h->arg = (int)PyLong_AsLong(arg);
        }
        h->split_first = (int)PyLong_AsLong(PyTuple_GET_ITEM(firsts, i));
        PyObject *a = PyTuple_GET_ITEM(anchors, i);
        h->anch_off = ai;
        h->nanch = (int)PyTuple_GET_SIZE(a);
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(a); j++) {
            PyObject *pair = PyTuple_GET_ITEM(a, j), *ms = PyTuple_GET_ITEM(pair, 1);
            P->anch[ai].state = (int)PyLong_AsLong(PyTuple_GET_ITEM(pair, 0));
            P->anch[ai].marks_off = mi;
            P->anch[ai].nmarks = (int)PyTuple_GET_SIZE(ms);
            for (Py_ssize_t q = 0; q < PyTuple_GET_SIZE(ms); q++) P->marks[mi++] = (int)PyLong_AsLong(PyTuple_GET_ITEM(ms, q));
            ai++;
        }
    }
    if (PyErr_Occurred()) return -1;
    return 0;
}

static void h_free(hprog_t *P) {
    PyMem_Free(P->st);
    PyMem_Free(P->anch);
    PyMem_Free(P->marks);
}

static PyObject *utf8_str(const char *s, Py_ssize_t n, int ascii) {
    if (ascii) {
        PyObject *o = PyUnicode_New(n, 127);
        if (o && n) memcpy(PyUnicode_DATA(o), s, (size_t)n);
        return o;
    }
    return PyUnicode_DecodeUTF8(s, n, "replace");
}

static int all_ascii(const unsigned char *s, Py_ssize_t n) {
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        if (v & 0x8080808080808080ULL) return 0;
    }
    for (; i < n; i++)
        if (s[i] & 0x80) return 0;
    return 1;
}

/* split_block(chunk, first_line_no, prog, content_slot_field, nfields, max_line_bytes)
   -> (line_nos: list[int], contents: list[str], columns: [(values, offsets)] for every field but
       the content, in field order, (empty, invalid_utf8, oversized, unmatched), unmatched line nos) */
PyObject *py_split_block(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    Py_ssize_t first, maxb;
    PyObject *prog;
    int cfield, nfields;
    if (!PyArg_ParseTuple(args, "y*nOiin", &view, &first, &prog, &cfield, &nfields, &maxb)) return NULL;
    hprog_t P;
    hwork_t w = {0};
    PyObject *line_nos = NULL, *contents = NULL, *cols = NULL, *bad = NULL, *res = NULL;
    buf_t *vals = NULL;
    ibuf_t *offs = NULL;
    Py_ssize_t *marks = NULL;
    long empty = 0, invalid = 0, over = 0, unmatched = 0;
    if (h_load(prog, &P) < 0) goto done;
    vals = PyMem_Calloc((size_t)nfields + 1, sizeof(buf_t));
    offs = PyMem_Calloc((size_t)nfields + 1, sizeof(ibuf_t));
    marks = PyMem_Calloc((size_t)P.nslots + 2, sizeof(Py_ssize_t));
    line_nos = PyList_New(0);
    contents = PyList_New(0);
    bad = PyList_New(0);
    if (!vals || !offs || !marks || !line_nos || !contents || !bad) { PyErr_NoMemory(); goto done; }
    for (int f = 0; f < nfields; f++)
        if (ibuf_push(&offs[f], 0) < 0) goto done;
    const char *data = view.buf;
    Py_ssize_t len = view.len, at = 0, ln = first;
    while (at < len) {
        const char *nl = memchr(data + at, '\n', (size_t)(len - at));
        Py_ssize_t end = nl ? nl - data : len;
        const unsigned char *s = (const unsigned char *)data + at;
        Py_ssize_t n = end - at;
        Py_ssize_t this_line = ln++;
        at = end + 1;
        if (n && s[n - 1] == '\r') n--;
        if (n > maxb) {
            Py_ssize_t k = maxb;
            while (k > 0 && k > maxb - 4 && is_cont(s[k])) k--;
            n = k;
            over++;
        }
        PyObject *fixed = NULL;
        int ascii = all_ascii(s, n);
        if (!ascii) {
            PyObject *u = PyUnicode_DecodeUTF8((const char *)s, n, "strict");
            if (!u) {
                PyErr_Clear();
                invalid++;
                u = PyUnicode_DecodeUTF8((const char *)s, n, "replace");
                if (!u) goto done;
                fixed = PyUnicode_AsUTF8String(u);
                Py_DECREF(u);
                if (!fixed) goto done;
                s = (const unsigned char *)PyBytes_AS_STRING(fixed);
                n = PyBytes_GET_SIZE(fixed);
            } else {
                Py_DECREF(u);
            }
        }
        Py_ssize_t p = 0;
        int l;
        while (p < n && (l = ws_len(s, n, p))) p += l;
        if (p >= n) {
            empty++;
            Py_XDECREF(fixed);
            continue;
        }
        int got = h_forward(&P, s, n, marks);
        if (!got) got = h_exact(&P, s, n, marks, &w);
        if (got < 0) { Py_XDECREF(fixed); goto done; }
        if (!got) {
            unmatched++;
            if (PyList_GET_SIZE(bad) < 20) {
                PyObject *o = PyLong_FromSsize_t(this_line);
                if (!o || PyList_Append(bad, o) < 0) { Py_XDECREF(o); Py_XDECREF(fixed); goto done; }
                Py_DECREF(o);
            }
            Py_XDECREF(fixed);
            continue;
        }
        PyObject *o = PyLong_FromSsize_t(this_line);
        if (!o || PyList_Append(line_nos, o) < 0) { Py_XDECREF(o); Py_XDECREF(fixed); goto done; }
        Py_DECREF(o);
        Py_ssize_t a = marks[2 * cfield], b = marks[2 * cfield + 1];
        PyObject *c = a >= 0 ? utf8_str((const char *)s + a, b - a, ascii) : PyUnicode_New(0, 127);
        if (!c || PyList_Append(contents, c) < 0) { Py_XDECREF(c); Py_XDECREF(fixed); goto done; }
        Py_DECREF(c);
        for (int f = 0, col = 0; f < nfields; f++) {
            if (f == cfield) continue;
            Py_ssize_t fa = marks[2 * f], fb = marks[2 * f + 1];
            if (fa >= 0 && buf_add(&vals[col], (const char *)s + fa, fb - fa) < 0) { Py_XDECREF(fixed); goto done; }
            if (ibuf_push(&offs[col], (int32_t)vals[col].n) < 0) { Py_XDECREF(fixed); goto done; }
            col++;
        }
        Py_XDECREF(fixed);
    }
    cols = PyList_New(0);
    if (!cols) goto done;
    for (int f = 0; f < nfields - 1; f++) {
        PyObject *t = Py_BuildValue("(y#y#)", vals[f].p ? vals[f].p : "", vals[f].n, (const char *)offs[f].p,
                                    offs[f].n * (Py_ssize_t)sizeof(int32_t));
        if (!t || PyList_Append(cols, t) < 0) { Py_XDECREF(t); goto done; }
        Py_DECREF(t);
    }
    res = Py_BuildValue("(OOO(llll)O)", line_nos, contents, cols, empty, invalid, over, unmatched, bad);
done:
    PyBuffer_Release(&view);
    if (vals)
        for (int f = 0; f < nfields; f++) PyMem_Free(vals[f].p);
    if (offs)
        for (int f = 0; f < nfields; f++) PyMem_Free(offs[f].p);
    PyMem_Free(vals);
    PyMem_Free(offs);
    PyMem_Free(marks);
    PyMem_Free(w.ok);
    PyMem_Free(w.cnt);
    PyMem_Free(w.run);
    h_free(&P);
    Py_XDECREF(line_nos);
    Py_XDECREF(contents);
    Py_XDECREF(cols);
    Py_XDECREF(bad);
    return res;
}

/* strings(values, offsets) -> list[str] (UTF-8) */
PyObject *py_strings(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer v, o;
    if (!PyArg_ParseTuple(args, "y*y*", &v, &o)) return NULL;
    const int32_t *off = o.buf;
    Py_ssize_t n = o.len / (Py_ssize_t)sizeof(int32_t) - 1;
    PyObject *out = PyList_New(n > 0 ? n : 0);
    int ascii = out && all_ascii(v.buf, v.len);
    for (Py_ssize_t i = 0; out && i < n; i++) {
        PyObject *s = utf8_str((const char *)v.buf + off[i], off[i + 1] - off[i], ascii);
        if (!s) { Py_CLEAR(out); break; }
        PyList_SET_ITEM(out, i, s);
    }
    PyBuffer_Release(&v);
    PyBuffer_Release(&o);
    return out;
}

/* ---------------------------------------------------------------- timestamps */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static inline int dig(unsigned char c) { return c >= '0' && c <= '9'; }

/* one value by the first alternatives of _strptime's regexes; 1 = read, 0 = Python decides */
static int read_time(const unsigned char *t, Py_ssize_t n, const char *pat, Py_ssize_t pn, double *out) {
    long Y = 1900, m = 1, d = 1, H = 0, M = 0, S = 0, us = 0;
    Py_ssize_t p = 0;
    for (Py_ssize_t i = 0; i < pn; i++) {
        char c = pat[i];
        if (c == '%' && i + 1 < pn) {
            char k = pat[++i];
            if (k == 'Y') {
                if (p + 4 > n || !dig(t[p]) || !dig(t[p + 1]) || !dig(t[p + 2]) || !dig(t[p + 3])) return 0;
                Y = (t[p] - '0') * 1000 + (t[p + 1] - '0') * 100 + (t[p + 2] - '0') * 10 + (t[p + 3] - '0');
                p += 4;
            } else if (k == 'y') {
                if (p + 2 > n || !dig(t[p]) || !dig(t[p + 1])) return 0;
                long v = (t[p] - '0') * 10 + (t[p + 1] - '0');
                Y = v <= 68 ? 2000 + v : 1900 + v;
                p += 2;
            } else if (k == 'f') {
                int nd = 0;
                long v = 0;
                while (nd < 6 && p < n && dig(t[p])) v = v * 10 + (t[p++] - '0'), nd++;
                if (!nd) return 0;
                while (nd++ < 6) v *= 10;
                us = v;
            } else if (k == 'm' || k == 'd' || k == 'H' || k == 'M' || k == 'S') {
                /* two digits when they form a valid first alternative, else one */
                long hi = k == 'm' ? 12 : k == 'd' ? 31 : k == 'H' ? 23 : k == 'M' ? 59 : 61;
                long lo2 = (k == 'm' || k == 'd') ? 1 : 0;
                if (p >= n || !dig(t[p])) return 0;
                long v = t[p] - '0';
                if (p + 1 < n && dig(t[p + 1]) && v * 10 + (t[p + 1] - '0') <= hi && v * 10 + (t[p + 1] - '0') >= lo2) {
                    v = v * 10 + (t[p + 1] - '0');
                    p += 2;
                } else {
                    if ((k == 'm' || k == 'd') && v == 0) return 0;
                    p += 1;
                }
                if (k == 'm') m = v;
                else if (k == 'd') d = v;
                else if (k == 'H') H = v;
                else if (k == 'M') M = v;
                else S = v;
            } else if (k == '%') {
                if (p >= n || t[p] != '%') return 0;
                p++;
            } else {
                return 0; /* another directive: Python */
            }
        } else if (is_space(c)) { /* whitespace in the pattern: one or more in the text */
            while (i + 1 < pn && is_space(pat[i + 1])) i++;
            if (p >= n || !is_space((char)t[p])) return 0;
            while (p < n && is_space((char)t[p])) p++;
        } else {
            if (p >= n || t[p] != (unsigned char)c) return 0;
            p++;
        }
    }
    if (p != n || S > 59) return 0; /* trailing text, leap seconds: Python decides */
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap)) {
        *out = Py_NAN; /* datetime() refuses it: no time */
        return 1;
    }
    int64_t total_us = ((days_from_civil(Y, (unsigned)m, (unsigned)d) * 86400 + H * 3600 + M * 60 + S) * 1000000) + us;
    *out = (double)total_us / 1e6;
    return 1;
}

/* strptime_block(values_a, offsets_a, values_b or None, offsets_b or None, pattern)
   -> (float64 bytes, [indices Python must read]) ; the text is a + " " + b */
PyObject *py_strptime_block(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer va, oa, vb = {0}, ob = {0};
    PyObject *vbo, *obo, *pat;
    if (!PyArg_ParseTuple(args, "y*y*OOU", &va, &oa, &vbo, &obo, &pat)) return NULL;
    int two = vbo != Py_None;
    if (two && (PyObject_GetBuffer(vbo, &vb, PyBUF_SIMPLE) < 0 || PyObject_GetBuffer(obo, &ob, PyBUF_SIMPLE) < 0)) {
        PyBuffer_Release(&va);
        PyBuffer_Release(&oa);
        return NULL;
    }
    Py_ssize_t pn;
    const char *pp = PyUnicode_AsUTF8AndSize(pat, &pn);
    Py_ssize_t n = oa.len / (Py_ssize_t)sizeof(int32_t) - 1;
    PyObject *out = NULL, *todo = PyList_New(0);
    double *vals = PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    buf_t tmp = {0};
    if (!pp || !todo || !vals) goto done;
    const int32_t *a = oa.buf, *b = two ? ob.buf : NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        tmp.n = 0;
        if (buf_add(&tmp, (const char *)va.buf + a[i], a[i + 1] - a[i]) < 0) goto done;
        if (two && (buf_add(&tmp, " ", 1) < 0 || buf_add(&tmp, (const char *)vb.buf + b[i], b[i + 1] - b[i]) < 0)) goto done;
        if (!read_time((const unsigned char *)(tmp.p ? tmp.p : ""), tmp.n, pp, pn, &vals[i])) {
            vals[i] = Py_NAN;
            PyObject *o = PyLong_FromSsize_t(i);
            if (!o || PyList_Append(todo, o) < 0) { Py_XDECREF(o); goto done; }
            Py_DECREF(o);
        }
    }
    out = Py_BuildValue("(y#O)", (const char *)vals, n * (Py_ssize_t)sizeof(double), todo);
done:
    PyMem_Free(vals);
    PyMem_Free(tmp.p);
    Py_XDECREF(todo);
    PyBuffer_Release(&va);
    PyBuffer_Release(&oa);
    if (two) {
        PyBuffer_Release(&vb);
        PyBuffer_Release(&ob);
    }
    return out;
}

/* floats_block(values, offsets) -> (float64 bytes, [indices Python must read]): plain decimals
   ([+-]digits[.digits]) by strtod (correctly rounded, as float()), anything else to Python */
PyObject *py_floats_block(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer v, o;
    if (!PyArg_ParseTuple(args, "y*y*", &v, &o)) return NULL;
    const int32_t *off = o.buf;
    Py_ssize_t n = o.len / (Py_ssize_t)sizeof(int32_t) - 1;
    PyObject *out = NULL, *todo = PyList_New(0);
    double *vals = PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    char tmp[64];
    if (!todo || !vals) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        const unsigned char *s = (const unsigned char *)v.buf + off[i];
        Py_ssize_t L = off[i + 1] - off[i], p = 0;
        int ok = L > 0 && L < 60;
        if (ok && (s[0] == '+' || s[0] == '-')) p = 1;
        Py_ssize_t d0 = p;
        while (ok && p < L && dig(s[p])) p++;
        Py_ssize_t nd = p - d0;
        if (ok && p < L && s[p] == '.') {
            p++;
            Py_ssize_t f0 = p;
            while (p < L && dig(s[p])) p++;
            nd += p - f0;
        }
        ok = ok && p == L && nd > 0;
        if (ok) {
            memcpy(tmp, s, (size_t)L);
            tmp[L] = 0;
            vals[i] = PyOS_string_to_double(tmp, NULL, NULL);
            if (vals[i] == -1.0 && PyErr_Occurred()) { PyErr_Clear(); ok = 0; }
        }
        if (!ok) {
            vals[i] = Py_NAN;
            PyObject *x = PyLong_FromSsize_t(i);
            if (!x || PyList_Append(todo, x) < 0) { Py_XDECREF(x); goto done; }
            Py_DECREF(x);
        }
    }
    out = Py_BuildValue("(y#O)", (const char *)vals, n * (Py_ssize_t)sizeof(double), todo);
done:
    PyMem_Free(vals);
    Py_XDECREF(todo);
    PyBuffer_Release(&v);
    PyBuffer_Release(&o);
    return out;
}
