/* Bindings of the Locally Competitive Algorithm (include/neurodyn/lca.h;
 * Rozell et al., Neural Computation 20(10):2526, 2008) and its state updates
 * (accel.h). */
#include "nd_py.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const thresholds[] = {"soft", "hard", "nonneg", NULL};
static const char *const variants[] = {"textbook", "upstream", NULL};
static const char *const forms[] = {"auto", "gram", "two-gemm", NULL};
static const char *const kinds[] = {"euler", "momentum", "nesterov", "rmsprop", "adam", "upstream-adam",
                                    "upstream-rmsprop", NULL};
static const char *const schedules[] = {"constant", "fista", NULL};

static const nd_py_field lca_fields[] = {
    NDPY_CHOICE_FIELD(nd_lca_config, threshold, thresholds), {"lam", NDPY_F32, offsetof(nd_lca_config, lambda), NULL},
    NDPY_FIELD(nd_lca_config, tol, NDPY_F64),                NDPY_FIELD(nd_lca_config, max_iter, NDPY_I64),
    NDPY_CHOICE_FIELD(nd_lca_config, variant, variants),     NDPY_CHOICE_FIELD(nd_lca_config, form, forms),
    NDPY_FIELD(nd_lca_config, normalize, NDPY_BOOL),         NDPY_FIELD(nd_lca_config, auto_eta, NDPY_BOOL)};
#define N_LCA ((int)(sizeof lca_fields / sizeof *lca_fields))

/* The update's fields, flattened into the same dict ("update" is its kind). */
static const nd_py_field accel_fields[] = {
    {"update", NDPY_CHOICE, offsetof(nd_accel_config, kind), kinds},
    NDPY_FIELD(nd_accel_config, eta, NDPY_F64),   NDPY_FIELD(nd_accel_config, mu, NDPY_F64),
    NDPY_CHOICE_FIELD(nd_accel_config, schedule, schedules), NDPY_FIELD(nd_accel_config, restart, NDPY_BOOL),
    NDPY_FIELD(nd_accel_config, beta1, NDPY_F64), NDPY_FIELD(nd_accel_config, beta2, NDPY_F64),
    NDPY_FIELD(nd_accel_config, eps, NDPY_F64)};
#define N_ACCEL ((int)(sizeof accel_fields / sizeof *accel_fields))

static PyObject *config_dict(const nd_lca_config *c) {
  PyObject *d = nd_py_config_dict(lca_fields, N_LCA, c), *u = d ? nd_py_config_dict(accel_fields, N_ACCEL, &c->update) : NULL;
  if (u && PyDict_Update(d, u) < 0) Py_CLEAR(d);
  Py_XDECREF(u);
  return d;
}

/* As `neurodyn run lca` reads its options: a new update kind starts from
 * that kind's defaults (nd_accel_defaults), the other update fields are set
 * over them, and an explicit eta turns auto_eta off unless auto_eta is given. */
static int config_from(PyObject *kw, nd_lca_config *c) {
  *c = nd_lca_defaults();
  if (!kw || kw == Py_None) return 0;
  if (!PyDict_Check(kw)) return PyErr_SetString(PyExc_TypeError, "config must be a dict"), -1;
  PyObject *mine = PyDict_New(), *upd = PyDict_New(), *k, *v;
  Py_ssize_t pos = 0;
  int rc = mine && upd ? 0 : -1;
  while (!rc && PyDict_Next(kw, &pos, &k, &v)) {
    const char *name = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : "";
    int is_upd = 0;
    for (int i = 0; i < N_ACCEL; i++) is_upd |= !strcmp(name, accel_fields[i].name);
    if (v != Py_None) rc = PyDict_SetItem(is_upd ? upd : mine, k, v);
  }
  PyObject *kind = upd ? PyDict_GetItemString(upd, "update") : NULL;
  if (!rc && kind) {
    nd_accel_config tmp = c->update;
    PyObject *only = Py_BuildValue("{sO}", "update", kind);
    rc = only ? nd_py_config_set(accel_fields, N_ACCEL, &tmp, only, "lca") : -1;
    Py_XDECREF(only);
    if (!rc && tmp.kind != c->update.kind) c->update = nd_accel_defaults(tmp.kind);
  }
  if (!rc) rc = nd_py_config_set(accel_fields, N_ACCEL, &c->update, upd, "lca");
  if (!rc && PyDict_GetItemString(upd, "eta")) c->auto_eta = false;
  if (!rc) rc = nd_py_config_set(lca_fields, N_LCA, c, mine, "lca");
  Py_XDECREF(mine);
  Py_XDECREF(upd);
  return rc;
}

static void lca_free(void *p) { nd_lca_free(p); }

static PyObject *lca_defaults(PyObject *self, PyObject *unused) {
  (void)self, (void)unused;
  nd_lca_config c = nd_lca_defaults();
  return config_dict(&c);
}

/* lca_create(D [m, n], max_batch, config) -> handle */
static PyObject *lca_create(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *d, *kw = Py_None;
  long long max_batch;
  if (!PyArg_ParseTuple(args, "OL|O", &d, &max_batch, &kw)) return NULL;
  nd_lca_config c;
  if (config_from(kw, &c) < 0) return NULL;
  PyArrayObject *D = nd_py_f32(d, "D", 2, NULL);
  if (!D) return NULL;
  nd_lca *l = NULL;
  nd_status s;
  Py_BEGIN_ALLOW_THREADS s = nd_lca_create(&c, PyArray_DATA(D), PyArray_DIM(D, 0), PyArray_DIM(D, 1), max_batch, &l);
  Py_END_ALLOW_THREADS Py_DECREF(D);
  if (s != ND_OK) return nd_py_raise(s);
  return nd_py_handle_new(l, lca_free, "lca");
}

static PyObject *lca_config(PyObject *self, PyObject *h) {
  (void)self;
  nd_lca *l = nd_py_handle_get(h, "lca");
  return l ? config_dict(nd_lca_config_of(l)) : NULL;
}

/* Ctrl-C during a long solve: every 256 steps the observer takes the GIL
 * and runs the signal handlers; an exception stops the solve. */
typedef struct solve_ctx {
  int raised;
} solve_ctx;

static int lca_observer(int64_t iter, const float *a, const float *u, int64_t batch, void *user) {
  (void)a, (void)u, (void)batch;
  solve_ctx *x = user;
  if (iter % 256) return 0;
  PyGILState_STATE g = PyGILState_Ensure();
  if (PyErr_CheckSignals() < 0) x->raised = 1;
  PyGILState_Release(g);
  return x->raised;
}

static const char *stop_name(nd_stop_reason r) { return nd_stop_reason_name(r); }

/* lca_solve(handle, S [B, m] or [m]) -> (A [B, n] or [n], iterations,
 * residual, objective, stopped) */
static PyObject *lca_solve(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *h, *so;
  if (!PyArg_ParseTuple(args, "OO", &h, &so)) return NULL;
  nd_lca *l = nd_py_handle_get(h, "lca");
  if (!l) return NULL;
  const int64_t m = nd_lca_m(l), n = nd_lca_n(l);
  PyArrayObject *S = nd_py_f32(so, "S", -1, NULL);
  if (!S) return NULL;
  int nd = PyArray_NDIM(S);
  if ((nd != 1 && nd != 2) || PyArray_DIM(S, nd - 1) != m) {
    Py_DECREF(S);
    PyErr_Format(nd_py_input_error, "S: %d-D array of last size %lld: expected [%lld] or [B, %lld] (D has m = %lld rows)",
                 nd, nd ? (long long)PyArray_DIM(S, nd - 1) : 0LL, (long long)m, (long long)m, (long long)m);
    return NULL;
  }
  int64_t B = nd == 2 ? PyArray_DIM(S, 0) : 1;
  PyObject *A = nd == 2 ? nd_py_empty(NPY_FLOAT32, 2, (int64_t[]){B, n}) : nd_py_empty(NPY_FLOAT32, 1, &n);
  if (!A || nd_py_handle_enter(h) < 0) return Py_DECREF(S), Py_XDECREF(A), NULL;
  solve_ctx ctx = {0};
  nd_lca_result r = {0};
  nd_status s;
  const float *sd = PyArray_DATA(S);
  float *ad = PyArray_DATA((PyArrayObject *)A);
  nd_lca_set_observer(l, lca_observer, &ctx);
  Py_BEGIN_ALLOW_THREADS s = nd_lca_solve(l, sd, B, ad, &r);
  Py_END_ALLOW_THREADS nd_lca_set_observer(l, NULL, NULL);
  nd_py_handle_leave(h);
  Py_DECREF(S);
  if (ctx.raised || s != ND_OK) return Py_DECREF(A), nd_py_raise(s);
  PyObject *out = Py_BuildValue("NLdds", A, (long long)r.iterations, r.residual, r.objective, stop_name(r.stop));
  return out;
}

static PyObject *lca_dictionary(PyObject *self, PyObject *h) {
  (void)self;
  nd_lca *l = nd_py_handle_get(h, "lca");
  if (!l) return NULL;
  return nd_py_view((void *)nd_lca_dictionary(l), NPY_FLOAT32, 2, (int64_t[]){nd_lca_m(l), nd_lca_n(l)}, h, 0);
}

static PyObject *lca_set_dictionary(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *h, *d;
  if (!PyArg_ParseTuple(args, "OO", &h, &d)) return NULL;
  nd_lca *l = nd_py_handle_get(h, "lca");
  if (!l) return NULL;
  PyArrayObject *D = nd_py_f32(d, "D", 2, (int64_t[]){nd_lca_m(l), nd_lca_n(l)});
  if (!D) return NULL;
  if (nd_py_handle_enter(h) < 0) return Py_DECREF(D), NULL;
  nd_status s;
  const float *dd = PyArray_DATA(D);
  Py_BEGIN_ALLOW_THREADS s = nd_lca_set_dictionary(l, dd);
  Py_END_ALLOW_THREADS nd_py_handle_leave(h);
  Py_DECREF(D);
  if (s != ND_OK) return nd_py_raise(s);
  Py_RETURN_NONE;
}

/* (per_row [B], total) energies E(a_b) of codes A for signals S. */
static PyObject *lca_energy(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *h, *so, *ao;
  if (!PyArg_ParseTuple(args, "OOO", &h, &so, &ao)) return NULL;
  nd_lca *l = nd_py_handle_get(h, "lca");
  if (!l) return NULL;
  PyArrayObject *S = nd_py_f32(so, "S", 2, (int64_t[]){-1, nd_lca_m(l)});
  PyArrayObject *A = S ? nd_py_f32(ao, "A", 2, (int64_t[]){PyArray_DIM(S, 0), nd_lca_n(l)}) : NULL;
  int64_t B = S ? PyArray_DIM(S, 0) : 0;
  PyObject *per = A ? nd_py_empty(NPY_FLOAT64, 1, &B) : NULL;
  double total = 0;
  nd_status s = ND_OK;
  if (per && nd_py_handle_enter(h) == 0) {
    s = nd_lca_energy(l, PyArray_DATA(S), PyArray_DATA(A), B, PyArray_DATA((PyArrayObject *)per), &total);
    nd_py_handle_leave(h);
  } else {
    Py_CLEAR(per);
  }
  Py_XDECREF(S);
  Py_XDECREF(A);
  if (!per) return NULL;
  if (s != ND_OK) return Py_DECREF(per), nd_py_raise(s);
  return Py_BuildValue("Nd", per, total);
}

/* (lipschitz, eta, form, update) of a created solver. */
static PyObject *lca_info(PyObject *self, PyObject *h) {
  (void)self;
  nd_lca *l = nd_py_handle_get(h, "lca");
  if (!l) return NULL;
  return Py_BuildValue("ddss", nd_lca_lipschitz(l), nd_lca_eta(l), nd_lca_form_name(nd_lca_form_of(l)),
                       kinds[nd_lca_config_of(l)->update.kind]);
}

/* The C side of the overhead measurement (bench/python_overhead.py), in the
 * same process: `calls` solves of S [1, m] from a C loop, seconds per call.
 * With D given, each call is create (with the handle's config) + solve +
 * free, what neurodyn.lca.solve does. */
static PyObject *lca_time_solves(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *h, *so, *dobj = Py_None;
  long long calls;
  if (!PyArg_ParseTuple(args, "OOL|O", &h, &so, &calls, &dobj)) return NULL;
  nd_lca *l = nd_py_handle_get(h, "lca");
  PyArrayObject *S = l ? nd_py_f32(so, "S", 2, (int64_t[]){1, nd_lca_m(l)}) : NULL;
  PyArrayObject *D = S && dobj != Py_None ? nd_py_f32(dobj, "D", 2, (int64_t[]){nd_lca_m(l), nd_lca_n(l)}) : NULL;
  if (!S || (dobj != Py_None && !D)) return Py_XDECREF(S), NULL;
  const nd_lca_config c = *nd_lca_config_of(l);
  float *a = malloc(sizeof(float) * (size_t)nd_lca_n(l));
  struct timespec t0, t1;
  nd_status s = ND_OK;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long long i = 0; a && s == ND_OK && i < calls; i++) {
    if (!D) {
      s = nd_lca_solve(l, PyArray_DATA(S), 1, a, NULL);
      continue;
    }
    nd_lca *k = NULL;
    s = nd_lca_create(&c, PyArray_DATA(D), nd_lca_m(l), nd_lca_n(l), 1, &k);
    if (s == ND_OK) s = nd_lca_solve(k, PyArray_DATA(S), 1, a, NULL);
    nd_lca_free(k);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  free(a);
  Py_DECREF(S);
  Py_XDECREF(D);
  if (s != ND_OK) return nd_py_raise(s);
  return PyFloat_FromDouble(((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec)) / (double)calls);
}

PyMethodDef nd_py_lca_methods[] = {
    {"lca_time_solves", lca_time_solves, METH_VARARGS, NULL},
    {"lca_defaults", lca_defaults, METH_NOARGS, NULL},
    {"lca_create", lca_create, METH_VARARGS, NULL},
    {"lca_config", lca_config, METH_O, NULL},
    {"lca_solve", lca_solve, METH_VARARGS, NULL},
    {"lca_dictionary", lca_dictionary, METH_O, NULL},
    {"lca_set_dictionary", lca_set_dictionary, METH_VARARGS, NULL},
    {"lca_energy", lca_energy, METH_VARARGS, NULL},
    {"lca_info", lca_info, METH_O, NULL},
    {NULL, NULL, 0, NULL}};
