/* Bindings of the echo-state network (include/neurodyn/reservoir.h; Jaeger
 * 2001, leaky units of Jaeger et al. 2007, ridge readout of Lukosevicius
 * 2012).  Everything is float64, as in the library. */
#include "nd_py.h"

#include <stdlib.h>
#include <string.h>

static const char *const solvers[] = {"cholesky", "qr", NULL};
static const char *const rho_methods[] = {"eig", "power", NULL};

static const nd_py_field esn_fields[] = {
    NDPY_FIELD(nd_esn_config, units, NDPY_I64),           NDPY_FIELD(nd_esn_config, inputs, NDPY_I64),
    NDPY_FIELD(nd_esn_config, outputs, NDPY_I64),         NDPY_FIELD(nd_esn_config, connectivity, NDPY_F64),
    NDPY_FIELD(nd_esn_config, spectral_radius, NDPY_F64), NDPY_FIELD(nd_esn_config, leak, NDPY_F64),
    NDPY_FIELD(nd_esn_config, input_scaling, NDPY_F64),   NDPY_FIELD(nd_esn_config, bias_scaling, NDPY_F64),
    NDPY_FIELD(nd_esn_config, ridge, NDPY_F64),           NDPY_FIELD(nd_esn_config, washout, NDPY_I64),
    NDPY_CHOICE_FIELD(nd_esn_config, solver, solvers),    NDPY_CHOICE_FIELD(nd_esn_config, rho_method, rho_methods),
    NDPY_FIELD(nd_esn_config, power_iterations, NDPY_I64), NDPY_FIELD(nd_esn_config, seed, NDPY_U64)};
#define N_ESN ((int)(sizeof esn_fields / sizeof *esn_fields))

/* The config is kept beside the model: the library has no config_of. */
typedef struct esn_py {
  nd_esn *e;
  nd_esn_config c;
} esn_py;

static void esn_py_free(void *p) {
  esn_py *x = p;
  if (x) nd_esn_free(x->e);
  free(x);
}

static esn_py *get(PyObject *h) { return nd_py_handle_get(h, "esn"); }

static PyObject *esn_defaults(PyObject *self, PyObject *unused) {
  (void)self, (void)unused;
  nd_esn_config c = nd_esn_defaults();
  return nd_py_config_dict(esn_fields, N_ESN, &c);
}

static PyObject *esn_create(PyObject *self, PyObject *cfg) {
  (void)self;
  esn_py *x = calloc(1, sizeof *x);
  if (!x) return PyErr_NoMemory();
  x->c = nd_esn_defaults();
  if (nd_py_config_set(esn_fields, N_ESN, &x->c, cfg, "esn") < 0) return free(x), NULL;
  nd_status s;
  Py_BEGIN_ALLOW_THREADS s = nd_esn_create(&x->c, &x->e);
  Py_END_ALLOW_THREADS if (s != ND_OK) return free(x), nd_py_raise(s);
  return nd_py_handle_new(x, esn_py_free, "esn");
}

static PyObject *esn_config(PyObject *self, PyObject *h) {
  (void)self;
  esn_py *x = get(h);
  return x ? nd_py_config_dict(esn_fields, N_ESN, &x->c) : NULL;
}

/* (spectral radius, non-zeros, W [N, N] as a fresh float64 array) */
static PyObject *esn_reservoir(PyObject *self, PyObject *h) {
  (void)self;
  esn_py *x = get(h);
  if (!x) return NULL;
  PyObject *w = nd_py_empty(NPY_FLOAT64, 2, (int64_t[]){x->c.units, x->c.units});
  nd_status s = w ? nd_esn_reservoir(x->e, PyArray_DATA((PyArrayObject *)w)) : ND_OK;
  if (!w || s != ND_OK) return Py_XDECREF(w), w ? nd_py_raise(s) : NULL;
  return Py_BuildValue("dLN", nd_esn_spectral_radius(x->e), (long long)nd_esn_nnz(x->e), w);
}

/* esn_fit(h, u [T, K], y [T, L]) */
static PyObject *esn_fit(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *h, *uo, *yo;
  if (!PyArg_ParseTuple(args, "OOO", &h, &uo, &yo)) return NULL;
  esn_py *x = get(h);
  PyArrayObject *U = x ? nd_py_f64(uo, "u", 2, (int64_t[]){-1, x->c.inputs}) : NULL;
  PyArrayObject *Y = U ? nd_py_f64(yo, "y", 2, (int64_t[]){PyArray_DIM(U, 0), x->c.outputs}) : NULL;
  if (!Y || nd_py_handle_enter(h) < 0) return Py_XDECREF(U), Py_XDECREF(Y), NULL;
  nd_status s;
  const double *ud = PyArray_DATA(U), *yd = PyArray_DATA(Y);
  int64_t T = PyArray_DIM(U, 0);
  Py_BEGIN_ALLOW_THREADS s = nd_esn_fit(x->e, ud, yd, T);
  Py_END_ALLOW_THREADS nd_py_handle_leave(h);
  Py_DECREF(U);
  Py_DECREF(Y);
  if (s != ND_OK) return nd_py_raise(s);
  Py_RETURN_NONE;
}

/* esn_run(h, u [T, K]) -> y [T, L] (teacher forced); esn_generate(h, steps) -> y [steps, L] */
static PyObject *run_or_generate(PyObject *h, PyObject *uo, long long steps) {
  esn_py *x = get(h);
  PyArrayObject *U = x && uo ? nd_py_f64(uo, "u", 2, (int64_t[]){-1, x->c.inputs}) : NULL;
  if (!x || (uo && !U)) return NULL;
  int64_t T = U ? PyArray_DIM(U, 0) : steps;
  PyObject *out = nd_py_empty(NPY_FLOAT64, 2, (int64_t[]){T, x->c.outputs});
  if (!out || nd_py_handle_enter(h) < 0) return Py_XDECREF(U), Py_XDECREF(out), NULL;
  double *yd = PyArray_DATA((PyArrayObject *)out);
  const double *ud = U ? PyArray_DATA(U) : NULL;
  nd_status s;
  Py_BEGIN_ALLOW_THREADS s = ud ? nd_esn_run(x->e, ud, T, yd) : nd_esn_generate(x->e, T, yd);
  Py_END_ALLOW_THREADS nd_py_handle_leave(h);
  Py_XDECREF(U);
  if (s != ND_OK) return Py_DECREF(out), nd_py_raise(s);
  return out;
}

static PyObject *esn_run(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *h, *u;
  return PyArg_ParseTuple(args, "OO", &h, &u) ? run_or_generate(h, u, 0) : NULL;
}

static PyObject *esn_generate(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *h;
  long long steps;
  if (!PyArg_ParseTuple(args, "OL", &h, &steps)) return NULL;
  if (steps < 0) return PyErr_Format(nd_py_input_error, "steps = %lld: must be >= 0", steps), NULL;
  return run_or_generate(h, NULL, steps);
}

/* esn_step(h, u [K]) -> None; esn_state(h) -> x [N] (a copy); esn_reset(h) */
static PyObject *esn_step(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *h, *uo;
  if (!PyArg_ParseTuple(args, "OO", &h, &uo)) return NULL;
  esn_py *x = get(h);
  PyArrayObject *U = x ? nd_py_f64(uo, "u", 1, (int64_t[]){x->c.inputs}) : NULL;
  if (!U) return NULL;
  nd_status s = nd_esn_step(x->e, PyArray_DATA(U));
  Py_DECREF(U);
  if (s != ND_OK) return nd_py_raise(s);
  Py_RETURN_NONE;
}

static PyObject *esn_state(PyObject *self, PyObject *h) {
  (void)self;
  esn_py *x = get(h);
  if (!x) return NULL;
  PyObject *o = nd_py_empty(NPY_FLOAT64, 1, &x->c.units);
  if (o) memcpy(PyArray_DATA((PyArrayObject *)o), nd_esn_state(x->e), sizeof(double) * (size_t)x->c.units);
  return o;
}

static PyObject *esn_reset(PyObject *self, PyObject *h) {
  (void)self;
  esn_py *x = get(h);
  nd_status s = x ? nd_esn_reset(x->e) : ND_OK;
  if (!x) return NULL;
  if (s != ND_OK) return nd_py_raise(s);
  Py_RETURN_NONE;
}

/* W_out [L, 1 + K + N]: a read-only view (None before a fit). */
static PyObject *esn_readout(PyObject *self, PyObject *h) {
  (void)self;
  esn_py *x = get(h);
  if (!x) return NULL;
  const double *w = nd_esn_readout_weights(x->e);
  if (!w) Py_RETURN_NONE;
  return nd_py_view((void *)w, NPY_FLOAT64, 2, (int64_t[]){x->c.outputs, 1 + x->c.inputs + x->c.units}, h, 0);
}

PyMethodDef nd_py_esn_methods[] = {
    {"esn_defaults", esn_defaults, METH_NOARGS, NULL}, {"esn_create", esn_create, METH_O, NULL},
    {"esn_config", esn_config, METH_O, NULL},          {"esn_reservoir", esn_reservoir, METH_O, NULL},
    {"esn_fit", esn_fit, METH_VARARGS, NULL},          {"esn_run", esn_run, METH_VARARGS, NULL},
    {"esn_generate", esn_generate, METH_VARARGS, NULL}, {"esn_step", esn_step, METH_VARARGS, NULL},
    {"esn_state", esn_state, METH_O, NULL},            {"esn_reset", esn_reset, METH_O, NULL},
    {"esn_readout", esn_readout, METH_O, NULL},        {NULL, NULL, 0, NULL}};
