/* Compiled core of logad (module logad._core): the drain3.ini masking rules, the default parser's
 * tokeniser and the module table. split.c splits headers, rx.c matches masking regexes, keys.c
 * computes keys with the raw span of every token.
 *
 * Same output as the pure-Python reference in _scan.py (tested on real and random lines). Works on
 * ASCII text only: for any other text both functions return None and the caller uses the Python
 * reference, so results never depend on whether this module was built.
 * Linear time: each rule is a scanner that finds the match Python's backtracking engine would pick
 * (see _scan.py for the reasoning per rule), so no line can make it backtrack exponentially.
 */
#include "core.h"

static inline int is_alnum(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline int is_dig(char c) { return c >= '0' && c <= '9'; }
static inline int is_lhex(char c) { return is_dig(c) || (c >= 'a' && c <= 'f'); }
static inline int is_uhex(char c) { return is_dig(c) || (c >= 'A' && c <= 'F'); }
static inline int is_hex(char c) { return is_lhex(c) || (c >= 'A' && c <= 'F'); }

/* right boundary: end of text or a non-alphanumeric character */
static inline int la(const char *s, Py_ssize_t n, Py_ssize_t e) { return e >= n || !is_alnum(s[e]); }
/* left boundary */
static inline int lb(const char *s, Py_ssize_t p) { return p == 0 || !is_alnum(s[p - 1]); }

static Py_ssize_t run(const char *s, Py_ssize_t n, Py_ssize_t pos, int (*f)(char)) {
    Py_ssize_t i = pos;
    while (i < n && f(s[i])) i++;
    return i - pos;
}
static int f_lhex(char c) { return is_lhex(c); }
static int f_uhex(char c) { return is_uhex(c); }
static int f_hex(char c) { return is_hex(c); }
static int f_dig(char c) { return is_dig(c); }

/* each matcher returns the end of the match starting at p, or -1 */
static Py_ssize_t m_id(const char *s, Py_ssize_t n, Py_ssize_t p) {
    if (!lb(s, p) || !is_lhex(s[p])) return -1;
    Py_ssize_t pos = p, c = 0, k;
    for (;;) {
        k = run(s, n, pos, f_lhex);
        if (k >= 2 && pos + k < n && s[pos + k] == ':') { c++; pos += k + 1; }
        else break;
    }
    k = run(s, n, pos, f_lhex);
    if (c >= 3 && k >= 2 && la(s, n, pos + k)) return pos + k;
    if (c >= 4) return pos - 1;
    return -1;
}

static Py_ssize_t m_ip(const char *s, Py_ssize_t n, Py_ssize_t p) {
    if (!lb(s, p) || !is_dig(s[p])) return -1;
    Py_ssize_t pos = p, k;
    for (int g = 0; g < 3; g++) {
        k = run(s, n, pos, f_dig);
        if (k < 1 || k > 3 || pos + k >= n || s[pos + k] != '.') return -1;
        pos += k + 1;
    }
    k = run(s, n, pos, f_dig);
    if (k >= 1 && k <= 3 && la(s, n, pos + k)) return pos + k;
    return -1; /* ASCII: a shorter take is followed by a digit */
}

static Py_ssize_t m_seq(const char *s, Py_ssize_t n, Py_ssize_t p, int (*f)(char), Py_ssize_t size, int exact,
                        Py_ssize_t need) {
    if (!lb(s, p)) return -1;
    /* walk the runs separated by single spaces; `inner` = the deepest run end with enough chunks
       that is followed by another run (a space follows it: always a boundary) */
    Py_ssize_t pos = p, chunks = 0, end = -1, inner = -1, pending = -1, k;
    for (;;) {
        k = run(s, n, pos, f);
        if (k < size || (exact && k % size)) break;
        if (pending >= 0) inner = pending;
        chunks += k / size;
        pos += k;
        end = pos;
        pending = -1;
        if (pos < n && s[pos] == ' ') {
            if (chunks >= need) pending = pos;
            pos += 1;
        } else {
            break;
        }
    }
    if (end < 0) return -1;
    if (chunks >= need) { /* the last run: after its trailing space, or at its end */
        if (end < n && s[end] == ' ' && la(s, n, end + 1)) return end + 1;
        if (la(s, n, end)) return end;
    }
    return inner;
}

static Py_ssize_t m_seq1(const char *s, Py_ssize_t n, Py_ssize_t p) {
    return is_lhex(s[p]) ? m_seq(s, n, p, f_lhex, 6, 0, 3) : -1;
}
static Py_ssize_t m_seq2(const char *s, Py_ssize_t n, Py_ssize_t p) {
    return is_uhex(s[p]) ? m_seq(s, n, p, f_uhex, 4, 1, 4) : -1;
}

static Py_ssize_t m_hex(const char *s, Py_ssize_t n, Py_ssize_t p) {
    if (s[p] != '0' || p + 1 >= n || s[p + 1] != 'x' || !lb(s, p)) return -1;
    Py_ssize_t k = run(s, n, p + 2, f_hex);
    return (k && la(s, n, p + 2 + k)) ? p + 2 + k : -1;
}

static Py_ssize_t m_num(const char *s, Py_ssize_t n, Py_ssize_t p) {
    if (!lb(s, p)) return -1;
    Py_ssize_t q = p;
    if (s[p] == '-' || s[p] == '+') q = p + 1;
    Py_ssize_t k = run(s, n, q, f_dig);
    return (k && la(s, n, q + k)) ? q + k : -1;
}

static Py_ssize_t m_cmd(const char *s, Py_ssize_t n, Py_ssize_t p) {
    static const char lit[] = "executed cmd ";
    if (s[p] != '"' || p < 13 || memcmp(s + p - 13, lit, 13) != 0) return -1;
    for (Py_ssize_t q = p + 1; q < n; q++) {
        if (s[q] == '\n') return -1;
        if (s[q] == '"' && q >= p + 2) return q + 1;
    }
    return -1;
}

typedef Py_ssize_t (*matcher_t)(const char *, Py_ssize_t, Py_ssize_t);
static const matcher_t MATCHERS[7] = {m_id, m_ip, m_seq1, m_seq2, m_hex, m_num, m_cmd};
/* a cheap test of the first character, to skip positions quickly */
static inline int may_start(int rule, char c) {
    switch (rule) {
    case 0: case 2: return is_lhex(c);
    case 1: return is_dig(c);
    case 3: return is_uhex(c);
    case 4: return c == '0';
    case 5: return is_dig(c) || c == '-' || c == '+';
    default: return c == '"';
    }
}

/* per character: bit r set when rule r may start there; bit 7 = alphanumeric (filled at import) */
static unsigned char START[256];
#define ALNUM_BIT 0x80

static void init_tables(void) {
    for (int c = 0; c < 256; c++) {
        unsigned char v = is_alnum((char)c) ? ALNUM_BIT : 0;
        for (int r = 0; r < 7; r++)
            if (c < 128 && may_start(r, (char)c)) v |= (unsigned char)(1 << r);
        START[c] = v;
    }
}

/* one rule over the text; `rule` is a constant in each expansion below, so the matcher call is
   direct and the loop is a table lookup per character */
static ALWAYS_INLINE int apply_impl(const int rule, const char *s, Py_ssize_t n,
                                                            const char *repl, Py_ssize_t rn, buf_t *out) {
    const matcher_t m = MATCHERS[rule];
    const unsigned char bit = (unsigned char)(1 << rule);
    /* every rule but CMD needs a left boundary where its match starts: inside a run of
       alphanumerics only the run's first character can start one, so the rest is skipped */
    const int bounded = rule != 6;
    Py_ssize_t last = 0, p = 0;
    out->n = 0;
    while (p < n) {
        unsigned char c = (unsigned char)s[p];
        if (START[c] & bit) {
            Py_ssize_t e = m(s, n, p);
            if (e > p) {
                if (buf_add(out, s + last, p - last) < 0 || buf_add(out, repl, rn) < 0) return -1;
                last = p = e;
                continue;
            }
        }
        p++;
        if (bounded && (START[c] & ALNUM_BIT))
            while (p < n && (START[(unsigned char)s[p]] & ALNUM_BIT)) p++;
    }
    return buf_add(out, s + last, n - last);
}

static int apply_rule(int rule, const char *s, Py_ssize_t n, const char *repl, Py_ssize_t rn, buf_t *out) {
    switch (rule) {
    case 0: return apply_impl(0, s, n, repl, rn, out);
    case 1: return apply_impl(1, s, n, repl, rn, out);
    case 2: return apply_impl(2, s, n, repl, rn, out);
    case 3: return apply_impl(3, s, n, repl, rn, out);
    case 4: return apply_impl(4, s, n, repl, rn, out);
    case 5: return apply_impl(5, s, n, repl, rn, out);
    default: return apply_impl(6, s, n, repl, rn, out);
    }
}

/* the matches of one drain3.ini rule (0-6) over s[0:n], as (start, end) pairs appended to `out`:
   the spans `apply_rule` replaces */
int drain3_matches(int rule, const char *s, Py_ssize_t n, ibuf_t *out) {
    const matcher_t m = MATCHERS[rule];
    const unsigned char bit = (unsigned char)(1 << rule);
    const int bounded = rule != 6;
    Py_ssize_t p = 0;
    while (p < n) {
        unsigned char c = (unsigned char)s[p];
        if (START[c] & bit) {
            Py_ssize_t e = m(s, n, p);
            if (e > p) {
                if (ibuf_push(out, (int32_t)p) < 0 || ibuf_push(out, (int32_t)e) < 0) return -1;
                p = e;
                continue;
            }
        }
        p++;
        if (bounded && (START[c] & ALNUM_BIT))
            while (p < n && (START[(unsigned char)s[p]] & ALNUM_BIT)) p++;
    }
    return 0;
}

/* drain3_starts: the positions where a bounded rule (0-5) may start (a left boundary holding a
   possible first character), as find_starts; drain3_matches_at: rule 0-5's matches visiting only
   those (the same as drain3_matches) */
int drain3_starts(const char *s, Py_ssize_t n, ibuf_t *starts) {
    starts->n = 0;
    int prev_alnum = 0;
    for (Py_ssize_t p = 0; p < n; p++) {
        unsigned char v = START[(unsigned char)s[p]];
        if (!prev_alnum && (v & 0x3F) && ibuf_push(starts, (int32_t)p) < 0) return -1;
        prev_alnum = v & ALNUM_BIT;
    }
    return 0;
}

int drain3_matches_at(int rule, const char *s, Py_ssize_t n, const ibuf_t *starts, ibuf_t *out) {
    const matcher_t m = MATCHERS[rule];
    const unsigned char bit = (unsigned char)(1 << rule);
    Py_ssize_t next = 0;
    for (Py_ssize_t k = 0; k < starts->n; k++) {
        Py_ssize_t q = starts->p[k];
        if (q < next || !(START[(unsigned char)s[q]] & bit)) continue;
        Py_ssize_t e = m(s, n, q);
        if (e > q) {
            if (ibuf_push(out, (int32_t)q) < 0 || ibuf_push(out, (int32_t)e) < 0) return -1;
            next = e;
        }
    }
    return 0;
}

/* positions where a rule but CMD may start: a left boundary holding a possible first character */
typedef struct {
    Py_ssize_t *p;
    Py_ssize_t n, cap;
} sbuf_t;

static int find_starts(const char *s, Py_ssize_t n, sbuf_t *c) {
    if (n > c->cap) {
        Py_ssize_t cap = c->cap ? c->cap : 256;
        while (cap < n) cap *= 2;
        Py_ssize_t *q = PyMem_Realloc(c->p, (size_t)cap * sizeof(Py_ssize_t));
        if (!q) { PyErr_NoMemory(); return -1; }
        c->p = q;
        c->cap = cap;
    }
    c->n = 0;
    int prev_alnum = 0;
    for (Py_ssize_t p = 0; p < n; p++) {
        unsigned char v = START[(unsigned char)s[p]];
        if (!prev_alnum && (v & 0x3F)) c->p[c->n++] = p;
        prev_alnum = v & ALNUM_BIT;
    }
    return 0;
}

/* one bounded rule (0-5) visiting only the start positions; the same matches as apply_rule (each
   matcher fails where there is no left boundary). Writes `out` and returns 1 when it replaced
   something, else 0 (the text is unchanged); -1 on error. */
static ALWAYS_INLINE int apply_starts_impl(const int rule, const char *s, Py_ssize_t n,
                                                                   const char *repl, Py_ssize_t rn, buf_t *out,
                                                                   const sbuf_t *starts) {
    const matcher_t m = MATCHERS[rule];
    const unsigned char bit = (unsigned char)(1 << rule);
    Py_ssize_t last = 0, next = 0;
    int found = 0;
    out->n = 0;
    for (Py_ssize_t k = 0; k < starts->n; k++) {
        Py_ssize_t q = starts->p[k];
        if (q < next || !(START[(unsigned char)s[q]] & bit)) continue;
        Py_ssize_t e = m(s, n, q);
        if (e > q) {
            if (buf_add(out, s + last, q - last) < 0 || buf_add(out, repl, rn) < 0) return -1;
            last = next = e;
            found = 1;
        }
    }
    if (!found) return 0;
    return buf_add(out, s + last, n - last) < 0 ? -1 : 1;
}

static int apply_starts(int rule, const char *s, Py_ssize_t n, const char *repl, Py_ssize_t rn, buf_t *out,
                        const sbuf_t *starts) {
    switch (rule) {
    case 0: return apply_starts_impl(0, s, n, repl, rn, out, starts);
    case 1: return apply_starts_impl(1, s, n, repl, rn, out, starts);
    case 2: return apply_starts_impl(2, s, n, repl, rn, out, starts);
    case 3: return apply_starts_impl(3, s, n, repl, rn, out, starts);
    case 4: return apply_starts_impl(4, s, n, repl, rn, out, starts);
    default: return apply_starts_impl(5, s, n, repl, rn, out, starts);
    }
}

/* the 7 rules in order on s[0:n]; the result is in *res (a or b). The start positions are found
   once and again only after a rule replaced something. */
static int mask_buf(const char *s, Py_ssize_t n, const char **r, const Py_ssize_t *rn, buf_t *a, buf_t *b,
                    sbuf_t *starts, buf_t **res) {
    buf_t *in = NULL, *out = a;
    /* a character every match of the rule contains (ID ':', IP '.', HEX 'x', CMD '"'): when the
       text lacks it the rule cannot match and its pass is skipped */
    static const char need[7] = {':', '.', 0, 0, 'x', 0, '"'};
    int fresh = 0; /* starts describe the current text */
    for (int i = 0; i < 7; i++) {
        const char *cs = in ? in->p : s;
        Py_ssize_t cn = in ? in->n : n;
        if (need[i] && !memchr(cs, need[i], (size_t)cn)) continue;
        int changed;
        if (i < 6) {
            if (!fresh) {
                if (find_starts(cs, cn, starts) < 0) return -1;
                fresh = 1;
            }
            changed = apply_starts(i, cs, cn, r[i], rn[i], out, starts);
        } else {
            if (apply_rule(i, cs, cn, r[i], rn[i], out) < 0) return -1;
            changed = 1;
        }
        if (changed < 0) return -1;
        if (changed) {
            in = out;
            out = (out == a) ? b : a;
            fresh = 0;
        }
    }
    if (!in) { /* nothing replaced: the result must still live in a or b */
        out->n = 0;
        if (buf_add(out, s, n) < 0) return -1;
        in = out;
    }
    *res = in;
    return 0;
}

/* replacement texts from a tuple of 7 ASCII strings; 0 = not usable (caller returns None) */
int get_repls(PyObject *repls, const char **r, Py_ssize_t *rn) {
    if (PyTuple_GET_SIZE(repls) != 7) return 0;
    for (int i = 0; i < 7; i++) {
        PyObject *o = PyTuple_GET_ITEM(repls, i);
        if (!PyUnicode_Check(o) || !PyUnicode_IS_ASCII(o)) return 0;
        r[i] = (const char *)PyUnicode_DATA(o);
        rn[i] = PyUnicode_GET_LENGTH(o);
    }
    return 1;
}

/* mask_drain3(text, replacements) -> str | None */
static PyObject *py_mask_drain3(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *text, *repls;
    if (!PyArg_ParseTuple(args, "UO!", &text, &PyTuple_Type, &repls)) return NULL;
    const char *r[7];
    Py_ssize_t rn[7];
    if (!PyUnicode_IS_ASCII(text) || !get_repls(repls, r, rn)) Py_RETURN_NONE;
    buf_t a = {0}, b = {0}, *res = NULL;
    sbuf_t starts = {0};
    PyObject *out = NULL;
    if (mask_buf((const char *)PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text), r, rn, &a, &b, &starts, &res) == 0)
        out = PyUnicode_FromStringAndSize(res->p ? res->p : "", res->n);
    PyMem_Free(a.p);
    PyMem_Free(b.p);
    PyMem_Free(starts.p);
    return out;
}

/* declared in core.h; shared with keys.c */
int keycfg(PyObject *split, PyObject *wild, PyObject *phs, keycfg_t *k) {
    if (!PyUnicode_IS_ASCII(split) || !PyUnicode_IS_ASCII(wild)) return 1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(phs); i++) {
        PyObject *o = PyTuple_GET_ITEM(phs, i);
        if (!PyUnicode_Check(o) || !PyUnicode_IS_ASCII(o) || PyUnicode_GET_LENGTH(o) == 0) return 1;
    }
    memset(k->splits, 0, sizeof(k->splits));
    memset(k->ph_first, 0, sizeof(k->ph_first));
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(phs); i++)
        k->ph_first[(unsigned char)((const char *)PyUnicode_DATA(PyTuple_GET_ITEM(phs, i)))[0]] = 1;
    const char *sp = (const char *)PyUnicode_DATA(split);
    for (Py_ssize_t i = 0; i < PyUnicode_GET_LENGTH(split); i++) k->splits[(unsigned char)sp[i]] = 1;
    k->w = (const char *)PyUnicode_DATA(wild);
    k->nw = PyUnicode_GET_LENGTH(wild);
    k->phs = phs;
    return 0;
}

/* tokens of s[0:n] (a space after each split character), variables as the wildcard */
static PyObject *key_of(const char *s, Py_ssize_t n, const keycfg_t *k, buf_t *out) {
    Py_ssize_t nph = PyTuple_GET_SIZE(k->phs);
    out->n = 0;
    if (buf_reserve(out, n + 1) < 0) return NULL;
    Py_ssize_t i = 0;
    int first = 1;
    while (i < n) {
        while (i < n && is_space(s[i])) i++;
        if (i >= n) break;
        /* a token ends at a space, or right after a split character */
        Py_ssize_t st = i;
        int dig = 0, ph = 0;
        while (i < n && !is_space(s[i])) {
            unsigned char ch = (unsigned char)s[i];
            dig |= is_dig(ch);
            ph |= k->ph_first[ch];
            i++;
            if (k->splits[ch]) break;
        }
        int var = dig;
        for (Py_ssize_t q = 0; !var && ph && q < nph; q++) {
            PyObject *o = PyTuple_GET_ITEM(k->phs, q);
            Py_ssize_t pl = PyUnicode_GET_LENGTH(o);
            const char *pp = (const char *)PyUnicode_DATA(o);
            for (Py_ssize_t j = st; j + pl <= i; j++)
                if (s[j] == pp[0] && memcmp(s + j, pp, (size_t)pl) == 0) { var = 1; break; }
        }
        if (!first && buf_add(out, " ", 1) < 0) return NULL;
        first = 0;
        if (var ? buf_add(out, k->w, k->nw) : buf_add(out, s + st, i - st)) return NULL;
    }
    return PyUnicode_FromStringAndSize(out->p ? out->p : "", out->n);
}

/* skeleton_key(text, split_after, wildcard, placeholders) -> str | None */
static PyObject *py_skeleton_key(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *text, *split, *wild, *phs;
    if (!PyArg_ParseTuple(args, "UUUO!", &text, &split, &wild, &PyTuple_Type, &phs)) return NULL;
    keycfg_t k;
    if (!PyUnicode_IS_ASCII(text) || keycfg(split, wild, phs, &k)) Py_RETURN_NONE;
    buf_t out = {0};
    PyObject *res = key_of((const char *)PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text), &k, &out);
    PyMem_Free(out.p);
    return res;
}

/* keys(lines, replacements or None, split_after, wildcard, placeholders, max_chars) -> list
   Per line: the drain3.ini masking (when replacements are given) then the key; None for a line
   that is not ASCII or longer than max_chars (the caller handles those in Python). */
static PyObject *py_keys(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *lines, *repls, *split, *wild, *phs;
    Py_ssize_t maxc;
    if (!PyArg_ParseTuple(args, "O!OUUO!n", &PyList_Type, &lines, &repls, &split, &wild, &PyTuple_Type, &phs, &maxc))
        return NULL;
    const char *r[7];
    Py_ssize_t rn[7];
    int masked = repls != Py_None;
    keycfg_t k;
    Py_ssize_t n = PyList_GET_SIZE(lines);
    PyObject *res = PyList_New(n);
    if (!res) return NULL;
    int usable = !keycfg(split, wild, phs, &k) && (!masked || (PyTuple_Check(repls) && get_repls(repls, r, rn)));
    buf_t a = {0}, b = {0}, out = {0};
    sbuf_t starts = {0};
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *line = PyList_GET_ITEM(lines, i), *key;
        if (!usable || !PyUnicode_Check(line) || !PyUnicode_IS_ASCII(line) || PyUnicode_GET_LENGTH(line) > maxc) {
            Py_INCREF(Py_None);
            PyList_SET_ITEM(res, i, Py_None);
            continue;
        }
        const char *s = (const char *)PyUnicode_DATA(line);
        Py_ssize_t sn = PyUnicode_GET_LENGTH(line);
        if (masked) {
            buf_t *m;
            if (mask_buf(s, sn, r, rn, &a, &b, &starts, &m) < 0) goto fail;
            key = key_of(m->p ? m->p : "", m->n, &k, &out);
        } else {
            key = key_of(s, sn, &k, &out);
        }
        if (!key) goto fail;
        PyList_SET_ITEM(res, i, key);
    }
    PyMem_Free(a.p);
    PyMem_Free(b.p);
    PyMem_Free(out.p);
    PyMem_Free(starts.p);
    return res;
fail:
    PyMem_Free(a.p);
    PyMem_Free(b.p);
    PyMem_Free(out.p);
    PyMem_Free(starts.p);
    Py_DECREF(res);
    return NULL;
}

/* compact(keys) -> (distinct keys in order of first occurrence, uint32 position of each key as bytes);
   the same as skeleton.compact_keys */
static PyObject *py_compact(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *keys;
    if (!PyArg_ParseTuple(args, "O!", &PyList_Type, &keys)) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(keys);
    PyObject *index = PyDict_New(), *uniques = PyList_New(0);
    PyObject *pos = PyBytes_FromStringAndSize(NULL, n * 4), *res = NULL;
    if (!index || !uniques || !pos) goto done;
    uint32_t *out = (uint32_t *)PyBytes_AS_STRING(pos);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PyList_GET_ITEM(keys, i);
        PyObject *u = PyDict_GetItemWithError(index, k); /* borrowed */
        if (u) {
            out[i] = (uint32_t)PyLong_AsUnsignedLong(u);
            continue;
        }
        if (PyErr_Occurred()) goto done;
        Py_ssize_t m = PyList_GET_SIZE(uniques);
        if (m > (Py_ssize_t)UINT32_MAX) { PyErr_SetString(PyExc_OverflowError, "too many distinct keys"); goto done; }
        PyObject *num = PyLong_FromSsize_t(m);
        if (!num) goto done;
        int bad = PyDict_SetItem(index, k, num) < 0 || PyList_Append(uniques, k) < 0;
        Py_DECREF(num);
        if (bad) goto done;
        out[i] = (uint32_t)m;
    }
    res = PyTuple_Pack(2, uniques, pos);
done:
    Py_XDECREF(index);
    Py_XDECREF(uniques);
    Py_XDECREF(pos);
    return res;
}

static PyMethodDef METHODS[] = {
    {"compact", py_compact, METH_VARARGS, "Distinct keys in order of first occurrence and the uint32 position of each key (bytes)."},
    {"mask_drain3", py_mask_drain3, METH_VARARGS, "Apply the 7 drain3.ini masking rules in order (ASCII text; None otherwise)."},
    {"skeleton_key", py_skeleton_key, METH_VARARGS, "Tokenise a masked line for the default parser (ASCII text; None otherwise)."},
    {"keys", py_keys, METH_VARARGS, "Keys of many lines: drain3.ini masking (optional) and tokenising; None where Python must do it."},
    {"split_block", py_split_block, METH_VARARGS, "Split the whole lines of a chunk by a header program."},
    {"strptime_block", py_strptime_block, METH_VARARGS, "Timestamps of a block from two string columns and a strptime pattern."},
    {"floats_block", py_floats_block, METH_VARARGS, "Floats of a string column (plain decimals; NaN where Python must decide)."},
    {"strings", py_strings, METH_VARARGS, "A string column (values, offsets) as a list of str."},
    {"compile_rules", py_compile_rules, METH_VARARGS, "Compile masking rules for keys_spans."},
    {"keys_spans", py_keys_spans, METH_VARARGS, "Keys of many lines with the raw span of every token."},
    {"tokens_spans", py_tokens_spans, METH_VARARGS, "Masked lines with the raw span of every token (Drain mode)."},
    {"params", py_params, METH_VARARGS, "Parameters of many lines from their token spans and templates."},
    {"rx_findall", py_rx_findall, METH_VARARGS, "The matches of one compiled masking regex (tests)."},
    {"find_keys", py_find_keys, METH_VARARGS, "Per line the distinct texts a regex matches (session ids)."},
    {"csv_block", py_csv_block, METH_VARARGS, "CSV rows of parsed records (as csv.writer and json.dumps write them)."},
    {"gather_strings", py_gather_strings, METH_VARARGS, "Arrow string buffers of the strings an index array names."},
    {"drain_params", py_drain_params, METH_VARARGS, "Drain mode parameters of many lines from their token spans."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_core", "Compiled core of logad.", -1, METHODS, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__core(void) {
    init_tables();
    return PyModule_Create(&MODULE);
}
