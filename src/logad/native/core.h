/* Shared declarations of logad's compiled core (module logad._core). */
#ifndef LOGAD_CORE_H
#define LOGAD_CORE_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

typedef struct {
    char *p;
    Py_ssize_t n, cap;
} buf_t;

typedef struct {
    int32_t *p;
    Py_ssize_t n, cap;
} ibuf_t;

static inline int buf_reserve(buf_t *b, Py_ssize_t extra) {
    if (b->n + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra) cap *= 2;
    char *q = PyMem_Realloc(b->p, (size_t)cap);
    if (!q) { PyErr_NoMemory(); return -1; }
    b->p = q;
    b->cap = cap;
    return 0;
}

static inline int buf_add(buf_t *b, const char *s, Py_ssize_t n) {
    if (n <= 0) return 0;
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->p + b->n, s, (size_t)n);
    b->n += n;
    return 0;
}

static inline int ibuf_reserve(ibuf_t *b, Py_ssize_t extra) {
    if (b->n + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra) cap *= 2;
    int32_t *q = PyMem_Realloc(b->p, (size_t)cap * sizeof(int32_t));
    if (!q) { PyErr_NoMemory(); return -1; }
    b->p = q;
    b->cap = cap;
    return 0;
}

static inline int ibuf_push(ibuf_t *b, int32_t v) {
    if (b->n >= b->cap && ibuf_reserve(b, 1) < 0) return -1;
    b->p[b->n++] = v;
    return 0;
}

/* Python's str.isspace() for ASCII */
static inline int is_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

/* ---- rx.c: the masking-regex matcher */
typedef struct rprog rprog_t;
rprog_t *rx_compile(PyObject *spec);           /* spec from logad.parsing.rxvm.compile_rule; NULL + error */
void rx_free(rprog_t *p);
/* all non-overlapping matches, leftmost first, as (start, end) pairs appended to `out`;
   0 ok, -2 over budget (caller falls back to `re`), -1 memory error */
int rx_scan(const rprog_t *p, const char *s, Py_ssize_t n, ibuf_t *out);

/* ---- split.c: header splitting and timestamps */
PyObject *py_split_block(PyObject *self, PyObject *args);
PyObject *py_strptime_block(PyObject *self, PyObject *args);
PyObject *py_floats_block(PyObject *self, PyObject *args);
PyObject *py_strings(PyObject *self, PyObject *args);

/* ---- keys.c: keys with the raw span of each token, parameters */
PyObject *py_compile_rules(PyObject *self, PyObject *args);
PyObject *py_keys_spans(PyObject *self, PyObject *args);
PyObject *py_params(PyObject *self, PyObject *args);
PyObject *py_tokens_spans(PyObject *self, PyObject *args);
PyObject *py_rx_findall(PyObject *self, PyObject *args);
PyObject *py_find_keys(PyObject *self, PyObject *args);
PyObject *py_csv_block(PyObject *self, PyObject *args);
PyObject *py_gather_strings(PyObject *self, PyObject *args);
PyObject *py_drain_params(PyObject *self, PyObject *args);

/* ---- core.c: the drain3.ini scanner, used by keys.c */
int drain3_matches(int rule, const char *s, Py_ssize_t n, ibuf_t *out);
int drain3_starts(const char *s, Py_ssize_t n, ibuf_t *starts);
int drain3_matches_at(int rule, const char *s, Py_ssize_t n, const ibuf_t *starts, ibuf_t *out);
int get_repls(PyObject *repls, const char **r, Py_ssize_t *rn);

/* how keys are cut: split characters, the wildcard, the placeholders (and their first characters) */
typedef struct {
    int splits[128];
    int ph_first[128]; /* first characters of the placeholders: a token without one holds none */
    const char *w;
    Py_ssize_t nw;
    PyObject *phs;
} keycfg_t;
/* 0 = usable; 1 = not ASCII (the caller falls back to Python) */
int keycfg(PyObject *split, PyObject *wild, PyObject *phs, keycfg_t *k);

#endif
