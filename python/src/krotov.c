/* Bindings of the Krotov-Hopfield fast rule (Eq. 10) and ODE model (Eq. 2-3,
 * 8-9) of include/neurodyn/krotov.h; the top layer is in krotov_top.c. */
#include "nd_py.h"

/* ---------------------------------------------------------------- configs */

static const char *const precisions[] = {"f32", "f64", NULL};
static const char *const updates[] = {"sparse", "gemm", NULL};
static const char *const integrators[] = {"euler", "rk4", NULL};

static const nd_py_field fast_fields[] = {
    NDPY_FIELD(nd_krotov_config, hidden, NDPY_I64),    NDPY_FIELD(nd_krotov_config, visible, NDPY_I64),
    NDPY_FIELD(nd_krotov_config, p, NDPY_F64),         NDPY_FIELD(nd_krotov_config, k, NDPY_I64),
    NDPY_FIELD(nd_krotov_config, delta, NDPY_F64),     NDPY_FIELD(nd_krotov_config, eps0, NDPY_F64),
    NDPY_FIELD(nd_krotov_config, epochs, NDPY_I64),    NDPY_FIELD(nd_krotov_config, batch, NDPY_I64),
    NDPY_FIELD(nd_krotov_config, init_mean, NDPY_F64), NDPY_FIELD(nd_krotov_config, init_std, NDPY_F64),
    NDPY_FIELD(nd_krotov_config, prec, NDPY_F64),      NDPY_CHOICE_FIELD(nd_krotov_config, precision, precisions),
    NDPY_CHOICE_FIELD(nd_krotov_config, update, updates), NDPY_FIELD(nd_krotov_config, seed, NDPY_U64)};
#define N_FAST ((int)(sizeof fast_fields / sizeof *fast_fields))

static const nd_py_field ode_fields[] = {
    NDPY_FIELD(nd_krotov_ode_config, hidden, NDPY_I64),    NDPY_FIELD(nd_krotov_ode_config, visible, NDPY_I64),
    NDPY_FIELD(nd_krotov_ode_config, batch, NDPY_I64),     NDPY_FIELD(nd_krotov_ode_config, p, NDPY_F64),
    NDPY_FIELD(nd_krotov_ode_config, w_inh, NDPY_F64),     NDPY_FIELD(nd_krotov_ode_config, delta, NDPY_F64),
    NDPY_FIELD(nd_krotov_ode_config, h_star, NDPY_F64),    NDPY_FIELD(nd_krotov_ode_config, tau, NDPY_F64),
    NDPY_FIELD(nd_krotov_ode_config, tau_L, NDPY_F64),     NDPY_FIELD(nd_krotov_ode_config, R, NDPY_F64),
    NDPY_CHOICE_FIELD(nd_krotov_ode_config, integrator, integrators),
    NDPY_FIELD(nd_krotov_ode_config, dt, NDPY_F64),        NDPY_FIELD(nd_krotov_ode_config, t_max, NDPY_F64),
    NDPY_FIELD(nd_krotov_ode_config, tol, NDPY_F64),       NDPY_FIELD(nd_krotov_ode_config, init_mean, NDPY_F64),
    NDPY_FIELD(nd_krotov_ode_config, init_std, NDPY_F64),  NDPY_FIELD(nd_krotov_ode_config, seed, NDPY_U64),
    NDPY_FIELD(nd_krotov_ode_config, lr, NDPY_F64),        NDPY_FIELD(nd_krotov_ode_config, lr_end, NDPY_F64),
    NDPY_FIELD(nd_krotov_ode_config, epochs, NDPY_I64)};
#define N_ODE ((int)(sizeof ode_fields / sizeof *ode_fields))

/* ---------------------------------------------------------------- the fast rule */

static void fast_free(void *p) { nd_krotov_free(p); }
static void ode_free(void *p) { nd_krotov_ode_free(p); }

static PyObject *krotov_defaults(PyObject *self, PyObject *unused) {
  (void)self, (void)unused;
  nd_krotov_config c = nd_krotov_defaults();
  return nd_py_config_dict(fast_fields, N_FAST, &c);
}

static PyObject *krotov_create(PyObject *self, PyObject *cfg) {
  (void)self;
  nd_krotov_config c = nd_krotov_defaults();
  if (nd_py_config_set(fast_fields, N_FAST, &c, cfg, "krotov") < 0) return NULL;
  nd_krotov *k = NULL;
  nd_status s;
  Py_BEGIN_ALLOW_THREADS s = nd_krotov_create(&c, &k);
  Py_END_ALLOW_THREADS if (s != ND_OK) return nd_py_raise(s);
  return nd_py_handle_new(k, fast_free, "krotov");
}

static PyObject *krotov_config(PyObject *self, PyObject *h) {
  (void)self;
  nd_krotov *k = nd_py_handle_get(h, "krotov");
  return k ? nd_py_config_dict(fast_fields, N_FAST, nd_krotov_config_of(k)) : NULL;
}

static nd_status fast_epoch(void *m, const float *d, int64_t n, nd_progress_fn p, void *u) {
  return nd_krotov_epoch(m, d, n, p, u);
}

static PyObject *krotov_epoch(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *h, *x, *cb = Py_None;
  if (!PyArg_ParseTuple(args, "OO|O", &h, &x, &cb)) return NULL;
  nd_krotov *k = nd_py_handle_get(h, "krotov");
  return k ? nd_py_run_epoch(h, "krotov", nd_krotov_config_of(k)->visible, fast_epoch, x, cb) : NULL;
}

/* W: in float32 mode a read-only view of the model's own weights (it follows
 * training and keeps the model alive); in float64 mode a float64 copy. */
static PyObject *krotov_weights(PyObject *self, PyObject *h) {
  (void)self;
  nd_krotov *k = nd_py_handle_get(h, "krotov");
  if (!k) return NULL;
  const nd_krotov_config *c = nd_krotov_config_of(k);
  int64_t shape[2] = {c->hidden, c->visible};
  if (c->precision == ND_KROTOV_F32) return nd_py_view(nd_krotov_weights(k)->data, NPY_FLOAT32, 2, shape, h, 0);
  PyObject *a = nd_py_empty(NPY_FLOAT64, 2, shape);
  if (a) nd_krotov_weights_f64(k, PyArray_DATA((PyArrayObject *)a));
  return a;
}

static PyObject *krotov_set_weights(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *h, *w;
  if (!PyArg_ParseTuple(args, "OO", &h, &w)) return NULL;
  nd_krotov *k = nd_py_handle_get(h, "krotov");
  if (!k) return NULL;
  const nd_krotov_config *c = nd_krotov_config_of(k);
  int64_t shape[2] = {c->hidden, c->visible};
  nd_status s;
  if (c->precision == ND_KROTOV_F64) {
    PyArrayObject *a = (PyArrayObject *)PyArray_FROM_OTF(w, NPY_FLOAT64, NPY_ARRAY_CARRAY | NPY_ARRAY_FORCECAST);
    if (!a) return NULL;
    if (PyArray_NDIM(a) != 2 || PyArray_DIM(a, 0) != shape[0] || PyArray_DIM(a, 1) != shape[1]) {
      Py_DECREF(a);
      return nd_set_error(ND_ERR_SHAPE, "W: expected shape (%lld, %lld)", (long long)shape[0], (long long)shape[1]),
             nd_py_raise(ND_ERR_SHAPE);
    }
    s = nd_krotov_set_weights_f64(k, PyArray_DATA(a));
    Py_DECREF(a);
  } else {
    PyArrayObject *a = nd_py_f32(w, "W", 2, shape);
    if (!a) return NULL;
    nd_tensor t = nd_py_tensor(a);
    s = nd_krotov_set_weights(k, &t);
    Py_DECREF(a);
  }
  if (s != ND_OK) return nd_py_raise(s);
  Py_RETURN_NONE;
}

static nd_status fast_get_state(const void *m, nd_train_state *st) { return nd_krotov_get_state(m, st); }
static nd_status fast_set_state(void *m, const nd_train_state *st) { return nd_krotov_set_state(m, st); }
static PyObject *krotov_state(PyObject *self, PyObject *h) { return (void)self, nd_py_get_state(h, "krotov", fast_get_state); }
static PyObject *krotov_set_state(PyObject *self, PyObject *a) { return (void)self, nd_py_set_state(a, "krotov", fast_set_state); }

static PyObject *krotov_winners(PyObject *self, PyObject *h) {
  (void)self;
  nd_krotov *k = nd_py_handle_get(h, "krotov");
  return k ? PyLong_FromLongLong(nd_krotov_winners(k)) : NULL;
}

static nd_status fast_save(void *m, nd_checkpoint *ck) { return nd_krotov_save(m, ck); }
static PyObject *fast_from(const nd_checkpoint *ck) {
  nd_krotov *k = NULL;
  nd_status s = nd_krotov_load(ck, &k);
  return s == ND_OK ? nd_py_handle_new(k, fast_free, "krotov") : nd_py_raise(s);
}
static PyObject *krotov_save(PyObject *self, PyObject *a) { return (void)self, nd_py_save(a, "krotov", fast_save); }
static PyObject *krotov_load(PyObject *self, PyObject *path) { return (void)self, nd_py_load(path, fast_from); }

static PyObject *krotov_row_pnorms(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *w;
  double p;
  if (!PyArg_ParseTuple(args, "Od", &w, &p)) return NULL;
  PyArrayObject *a = nd_py_f32(w, "W", 2, NULL);
  if (!a) return NULL;
  nd_tensor t = nd_py_tensor(a);
  PyObject *out = nd_py_empty(NPY_FLOAT64, 1, (int64_t[]){PyArray_DIM(a, 0)});
  nd_status s = out ? nd_krotov_row_pnorms(&t, p, PyArray_DATA((PyArrayObject *)out)) : ND_OK;
  Py_DECREF(a);
  if (s != ND_OK) return Py_XDECREF(out), nd_py_raise(s);
  return out;
}

/* ---------------------------------------------------------------- the ODE model */

static PyObject *ode_defaults(PyObject *self, PyObject *unused) {
  (void)self, (void)unused;
  nd_krotov_ode_config c = nd_krotov_ode_defaults();
  return nd_py_config_dict(ode_fields, N_ODE, &c);
}

static PyObject *ode_create(PyObject *self, PyObject *cfg) {
  (void)self;
  nd_krotov_ode_config c = nd_krotov_ode_defaults();
  if (nd_py_config_set(ode_fields, N_ODE, &c, cfg, "krotov_ode") < 0) return NULL;
  nd_krotov_ode *m = NULL;
  nd_status s;
  Py_BEGIN_ALLOW_THREADS s = nd_krotov_ode_create(&c, &m);
  Py_END_ALLOW_THREADS if (s != ND_OK) return nd_py_raise(s);
  return nd_py_handle_new(m, ode_free, "krotov-ode");
}

static PyObject *ode_config(PyObject *self, PyObject *h) {
  (void)self;
  nd_krotov_ode *m = nd_py_handle_get(h, "krotov-ode");
  return m ? nd_py_config_dict(ode_fields, N_ODE, nd_krotov_ode_config_of(m)) : NULL;
}

static nd_status ode_epoch_fn(void *m, const float *d, int64_t n, nd_progress_fn p, void *u) {
  return nd_krotov_ode_epoch(m, d, n, p, u);
}

static PyObject *ode_epoch(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *h, *x, *cb = Py_None;
  if (!PyArg_ParseTuple(args, "OO|O", &h, &x, &cb)) return NULL;
  nd_krotov_ode *m = nd_py_handle_get(h, "krotov-ode");
  return m ? nd_py_run_epoch(h, "krotov-ode", nd_krotov_ode_config_of(m)->visible, ode_epoch_fn, x, cb) : NULL;
}

static PyObject *ode_weights(PyObject *self, PyObject *h) {
  (void)self;
  nd_krotov_ode *m = nd_py_handle_get(h, "krotov-ode");
  if (!m) return NULL;
  const nd_tensor *w = nd_krotov_ode_weights(m);
  return nd_py_view(w->data, NPY_FLOAT32, 2, w->shape, h, 0);
}

static PyObject *ode_set_weights(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *h, *w;
  if (!PyArg_ParseTuple(args, "OO", &h, &w)) return NULL;
  nd_krotov_ode *m = nd_py_handle_get(h, "krotov-ode");
  if (!m) return NULL;
  const nd_krotov_ode_config *c = nd_krotov_ode_config_of(m);
  PyArrayObject *a = nd_py_f32(w, "W", 2, (int64_t[]){c->hidden, c->visible});
  if (!a) return NULL;
  nd_tensor t = nd_py_tensor(a);
  nd_status s = nd_krotov_ode_set_weights(m, &t);
  Py_DECREF(a);
  if (s != ND_OK) return nd_py_raise(s);
  Py_RETURN_NONE;
}

static nd_status ode_get_state(const void *m, nd_train_state *st) { return nd_krotov_ode_get_state(m, st); }
static nd_status ode_put_state(void *m, const nd_train_state *st) { return nd_krotov_ode_set_state(m, st); }
static PyObject *ode_state(PyObject *self, PyObject *h) { return (void)self, nd_py_get_state(h, "krotov-ode", ode_get_state); }
static PyObject *ode_set_state(PyObject *self, PyObject *a) { return (void)self, nd_py_set_state(a, "krotov-ode", ode_put_state); }

/* Steady-state hidden activity h [n, hidden] of Eq. 8 for v [n, visible], in
 * chunks of the model's batch; returns (h, steps of the last chunk,
 * residual of the last chunk). */
static PyObject *ode_hidden(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *h, *x;
  if (!PyArg_ParseTuple(args, "OO", &h, &x)) return NULL;
  nd_krotov_ode *m = nd_py_handle_get(h, "krotov-ode");
  if (!m) return NULL;
  const nd_krotov_ode_config *c = nd_krotov_ode_config_of(m);
  PyArrayObject *v = nd_py_f32(x, "X", 2, (int64_t[]){-1, c->visible});
  if (!v) return NULL;
  int64_t n = PyArray_DIM(v, 0);
  PyObject *out = nd_py_empty(NPY_FLOAT32, 2, (int64_t[]){n, c->hidden});
  if (!out || nd_py_handle_enter(h) < 0) return Py_DECREF(v), Py_XDECREF(out), NULL;
  nd_status s = ND_OK;
  const float *vd = PyArray_DATA(v);
  float *hd = PyArray_DATA((PyArrayObject *)out);
  Py_BEGIN_ALLOW_THREADS for (int64_t i = 0; s == ND_OK && i < n; i += c->batch) {
    int64_t b = n - i < c->batch ? n - i : c->batch;
    s = nd_krotov_ode_hidden(m, vd + i * c->visible, b, hd + i * c->hidden, NULL);
  }
  Py_END_ALLOW_THREADS nd_py_handle_leave(h);
  Py_DECREF(v);
  if (s != ND_OK) return Py_DECREF(out), nd_py_raise(s);
  return out;
}

static nd_status ode_save_fn(void *m, nd_checkpoint *ck) { return nd_krotov_ode_save(m, ck); }
static PyObject *ode_from(const nd_checkpoint *ck) {
  nd_krotov_ode *m = NULL;
  nd_status s = nd_krotov_ode_load(ck, &m);
  return s == ND_OK ? nd_py_handle_new(m, ode_free, "krotov-ode") : nd_py_raise(s);
}
static PyObject *ode_save(PyObject *self, PyObject *a) { return (void)self, nd_py_save(a, "krotov-ode", ode_save_fn); }
static PyObject *ode_load(PyObject *self, PyObject *path) { return (void)self, nd_py_load(path, ode_from); }

PyMethodDef nd_py_krotov_methods[] = {
    {"krotov_defaults", krotov_defaults, METH_NOARGS, NULL},
    {"krotov_create", krotov_create, METH_O, NULL},
    {"krotov_config", krotov_config, METH_O, NULL},
    {"krotov_epoch", krotov_epoch, METH_VARARGS, NULL},
    {"krotov_weights", krotov_weights, METH_O, NULL},
    {"krotov_set_weights", krotov_set_weights, METH_VARARGS, NULL},
    {"krotov_state", krotov_state, METH_O, NULL},
    {"krotov_set_state", krotov_set_state, METH_VARARGS, NULL},
    {"krotov_winners", krotov_winners, METH_O, NULL},
    {"krotov_save", krotov_save, METH_VARARGS, NULL},
    {"krotov_load", krotov_load, METH_O, NULL},
    {"krotov_row_pnorms", krotov_row_pnorms, METH_VARARGS, NULL},
    {"krotov_ode_defaults", ode_defaults, METH_NOARGS, NULL},
    {"krotov_ode_create", ode_create, METH_O, NULL},
    {"krotov_ode_config", ode_config, METH_O, NULL},
    {"krotov_ode_epoch", ode_epoch, METH_VARARGS, NULL},
    {"krotov_ode_weights", ode_weights, METH_O, NULL},
    {"krotov_ode_set_weights", ode_set_weights, METH_VARARGS, NULL},
    {"krotov_ode_state", ode_state, METH_O, NULL},
    {"krotov_ode_set_state", ode_set_state, METH_VARARGS, NULL},
    {"krotov_ode_hidden", ode_hidden, METH_VARARGS, NULL},
    {"krotov_ode_save", ode_save, METH_VARARGS, NULL},
    {"krotov_ode_load", ode_load, METH_O, NULL},
    {NULL, NULL, 0, NULL}};
