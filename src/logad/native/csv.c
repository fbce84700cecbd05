/* CSV output of parsed records (logad._core.csv_block): the rows csv.writer would write
 * (excel dialect: ',' '"' doubled quotes, QUOTE_MINIMAL, "\r\n"), with `parameters` as the JSON
 * array json.dumps(list, ensure_ascii=False) writes and `timestamp` as repr(float) (empty: NaN).
 * Same bytes as the Python writer (tested).
 */
#include "core.h"

static int csv_field(buf_t *o, const char *s, Py_ssize_t n) {
    int q = 0;
    for (Py_ssize_t i = 0; i < n && !q; i++) {
        char c = s[i];
        q = c == ',' || c == '"' || c == '\r' || c == '\n';
    }
    if (!q) return buf_add(o, s, n);
    if (buf_add(o, "\"", 1) < 0) return -1;
    Py_ssize_t last = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] == '"') {
            if (buf_add(o, s + last, i - last + 1) < 0 || buf_add(o, "\"", 1) < 0) return -1;
            last = i + 1;
        }
    }
    if (buf_add(o, s + last, n - last) < 0) return -1;
    return buf_add(o, "\"", 1);
}

/* a JSON string (json's py_encode_basestring: only '"', '\\' and controls escaped) */
static int json_str(buf_t *o, const char *s, Py_ssize_t n) {
    if (buf_add(o, "\"", 1) < 0) return -1;
    Py_ssize_t last = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *e = NULL;
        char tmp[8];
        if (c == '"') e = "\\\"";
        else if (c == '\\') e = "\\\\";
        else if (c == '\n') e = "\\n";
        else if (c == '\r') e = "\\r";
        else if (c == '\t') e = "\\t";
        else if (c == '\b') e = "\\b";
        else if (c == '\f') e = "\\f";
        else if (c < 0x20) {
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            e = tmp;
        }
        if (e) {
            if (buf_add(o, s + last, i - last) < 0 || buf_add(o, e, (Py_ssize_t)strlen(e)) < 0) return -1;
            last = i + 1;
        }
    }
    if (buf_add(o, s + last, n - last) < 0) return -1;
    return buf_add(o, "\"", 1);
}

static const char *utf8_of(PyObject *s, Py_ssize_t *n) {
    if (PyUnicode_IS_ASCII(s)) {
        *n = PyUnicode_GET_LENGTH(s);
        return (const char *)PyUnicode_DATA(s);
    }
    return PyUnicode_AsUTF8AndSize(s, n);
}

static int add_int(buf_t *o, long long v) {
    char tmp[32];
    int k = snprintf(tmp, sizeof tmp, "%lld", v);
    return buf_add(o, tmp, k);
}

#define TPL_CACHE 256
typedef struct {
    long long id;
    Py_ssize_t at, len; /* its quoted text: tq.p[at : at + len] */
} tpl_cached_t;

/* csv_block(path, line_nos, timestamps, ids, texts, params, param_offsets, columns) -> bytes
   line_nos, ids: lists of int; timestamps: list of float; texts: dict id -> template text;
   params: list of str or None, param_offsets: buffer of int32 (n + 1); columns: list of
   (values, offsets) UTF-8 buffers or lists of str */
PyObject *py_csv_block(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *path, *line_nos, *times, *ids, *texts, *params, *poffs_o, *columns;
    if (!PyArg_ParseTuple(args, "UO!O!O!O!OOO!", &path, &PyList_Type, &line_nos, &PyList_Type, &times, &PyList_Type,
                          &ids, &PyDict_Type, &texts, &params, &poffs_o, &PyList_Type, &columns))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(ids);
    Py_ssize_t ncol = PyList_GET_SIZE(columns);
    Py_buffer pview = {0};
    Py_buffer *cv = PyMem_Calloc((size_t)ncol + 1, sizeof(Py_buffer)), *co = PyMem_Calloc((size_t)ncol + 1, sizeof(Py_buffer));
    PyObject **clist = PyMem_Calloc((size_t)ncol + 1, sizeof(PyObject *));
    buf_t o = {0}, pj = {0}, pathq = {0}, tq = {0}; /* tq: the cached templates' quoted texts */
    tpl_cached_t tc[TPL_CACHE];
    PyObject *res = NULL;
    int have_params = params != Py_None, got = 0;
    if (!cv || !co || !clist) { PyErr_NoMemory(); goto done; }
    if (have_params && PyObject_GetBuffer(poffs_o, &pview, PyBUF_SIMPLE) < 0) goto done;
    for (Py_ssize_t c = 0; c < ncol; c++, got++) {
        PyObject *col = PyList_GET_ITEM(columns, c);
        if (PyList_Check(col)) {
            clist[c] = col;
        } else if (PyObject_GetBuffer(PyTuple_GET_ITEM(col, 0), &cv[c], PyBUF_SIMPLE) < 0 ||
                   PyObject_GetBuffer(PyTuple_GET_ITEM(col, 1), &co[c], PyBUF_SIMPLE) < 0) {
            goto done;
        }
    }
    Py_ssize_t pn;
    const char *ps = utf8_of(path, &pn);
    if (!ps || csv_field(&pathq, ps, pn) < 0) goto done;
    const int32_t *poffs = have_params ? pview.buf : NULL;
    /* lines in a row often share their second (the timestamp's text is kept) and a template
       (its id and quoted text are kept in a small direct-mapped cache by id) */
    double last_t = 0.0;
    char last_ts[40];
    Py_ssize_t last_tn = -1;
    for (int k = 0; k < TPL_CACHE; k++) tc[k].id = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (buf_add(&o, pathq.p, pathq.n) < 0 || buf_add(&o, ",", 1) < 0) goto done;
        if (add_int(&o, PyLong_AsLongLong(PyList_GET_ITEM(line_nos, i))) < 0 || buf_add(&o, ",", 1) < 0) goto done;
        double t = PyFloat_AsDouble(PyList_GET_ITEM(times, i));
        if (t == t) {
            if (last_tn < 0 || t != last_t) {
                char *r = PyOS_double_to_string(t, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
                if (!r) goto done;
                size_t rn = strlen(r);
                if (rn < sizeof last_ts) {
                    memcpy(last_ts, r, rn);
                    last_tn = (Py_ssize_t)rn;
                    last_t = t;
                } else {
                    last_tn = -1;
                }
                int bad = buf_add(&o, r, (Py_ssize_t)rn) < 0;
                PyMem_Free(r);
                if (bad) goto done;
            } else if (buf_add(&o, last_ts, last_tn) < 0) {
                goto done;
            }
        }
        PyObject *tid = PyList_GET_ITEM(ids, i);
        long long id = PyLong_AsLongLong(tid);
        if (buf_add(&o, ",", 1) < 0 || add_int(&o, id) < 0 || buf_add(&o, ",", 1) < 0) goto done;
        tpl_cached_t *slot = &tc[(unsigned long long)id % TPL_CACHE];
        if (slot->id != id) {
            if (tq.n > (1 << 20)) { /* ids colliding in turn: start the cache afresh, not grow it */
                for (int k = 0; k < TPL_CACHE; k++) tc[k].id = -1;
                tq.n = 0;
            }
            PyObject *text = PyDict_GetItemWithError(texts, tid);
            if (!text && PyErr_Occurred()) goto done;
            slot->id = id;
            slot->at = tq.n;
            if (text) {
                Py_ssize_t tn;
                const char *ts = utf8_of(text, &tn);
                if (!ts || csv_field(&tq, ts, tn) < 0) goto done;
            }
            slot->len = tq.n - slot->at;
        }
        if (buf_add(&o, tq.p + slot->at, slot->len) < 0) goto done;
        if (buf_add(&o, ",", 1) < 0) goto done;
        if (have_params) {
            pj.n = 0;
            if (buf_add(&pj, "[", 1) < 0) goto done;
            for (int32_t k = poffs[i]; k < poffs[i + 1]; k++) {
                Py_ssize_t vn;
                const char *vs = utf8_of(PyList_GET_ITEM(params, k), &vn);
                if (!vs || (k > poffs[i] && buf_add(&pj, ", ", 2) < 0) || json_str(&pj, vs, vn) < 0) goto done;
            }
            if (buf_add(&pj, "]", 1) < 0 || csv_field(&o, pj.p, pj.n) < 0) goto done;
        }
        for (Py_ssize_t c = 0; c < ncol; c++) {
            if (buf_add(&o, ",", 1) < 0) goto done;
            if (clist[c]) {
                Py_ssize_t vn;
                const char *vs = utf8_of(PyList_GET_ITEM(clist[c], i), &vn);
                if (!vs || csv_field(&o, vs, vn) < 0) goto done;
            } else {
                const int32_t *off = co[c].buf;
                if (csv_field(&o, (const char *)cv[c].buf + off[i], off[i + 1] - off[i]) < 0) goto done;
            }
        }
        if (buf_add(&o, "\r\n", 2) < 0) goto done;
        if (PyErr_Occurred()) goto done;
    }
    res = PyBytes_FromStringAndSize(o.p ? o.p : "", o.n);
done:
    if (have_params && pview.obj) PyBuffer_Release(&pview);
    for (Py_ssize_t c = 0; c < got; c++) {
        if (!clist[c]) {
            if (cv[c].obj) PyBuffer_Release(&cv[c]);
            if (co[c].obj) PyBuffer_Release(&co[c]);
        }
    }
    PyMem_Free(cv);
    PyMem_Free(co);
    PyMem_Free(clist);
    PyMem_Free(o.p);
    PyMem_Free(pj.p);
    PyMem_Free(pathq.p);
    PyMem_Free(tq.p);
    return res;
}

/* gather_strings(data, offsets, take) -> (bytes, int32 offsets as bytes): the strings `take`
   names (int64 indices into the int64 `offsets` over the UTF-8 `data`), one after another: the
   values buffer and offsets of an Arrow string array. The Parquet writer's refresh of held rows. */
PyObject *py_gather_strings(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *data_o, *offs_o, *take_o, *res = NULL;
    Py_buffer data = {0}, offs = {0}, take = {0};
    if (!PyArg_ParseTuple(args, "OOO", &data_o, &offs_o, &take_o)) return NULL;
    if (PyObject_GetBuffer(data_o, &data, PyBUF_SIMPLE) < 0) return NULL;
    if (PyObject_GetBuffer(offs_o, &offs, PyBUF_SIMPLE) < 0) goto done;
    if (PyObject_GetBuffer(take_o, &take, PyBUF_SIMPLE) < 0) goto done;
    {
        const int64_t *o = offs.buf, *t = take.buf;
        const char *d = data.buf;
        Py_ssize_t n_str = offs.len / 8 - 1, n = take.len / 8, total = 0;
        if (offs.len % 8 || take.len % 8 || n_str < 0) {
            PyErr_SetString(PyExc_ValueError, "gather_strings: offsets and take must be int64 buffers");
            goto done;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            if (t[i] < 0 || t[i] >= n_str || o[t[i]] > o[t[i] + 1] || o[t[i] + 1] > data.len) {
                PyErr_SetString(PyExc_IndexError, "gather_strings: index or offset out of range");
                goto done;
            }
            total += o[t[i] + 1] - o[t[i]];
        }
        if (total > INT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "gather_strings: more than 2 GB of strings");
            goto done;
        }
        PyObject *out = PyBytes_FromStringAndSize(NULL, total);
        PyObject *out_offs = PyBytes_FromStringAndSize(NULL, (n + 1) * 4);
        if (!out || !out_offs) {
            Py_XDECREF(out);
            Py_XDECREF(out_offs);
            goto done;
        }
        char *w = PyBytes_AS_STRING(out);
        int32_t *wo = (int32_t *)PyBytes_AS_STRING(out_offs);
        int32_t at = 0;
        wo[0] = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            int64_t a = o[t[i]], len = o[t[i] + 1] - a;
            memcpy(w + at, d + a, (size_t)len);
            at += (int32_t)len;
            wo[i + 1] = at;
        }
        res = Py_BuildValue("(NN)", out, out_offs);
    }
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&offs);
    PyBuffer_Release(&take);
    return res;
}
