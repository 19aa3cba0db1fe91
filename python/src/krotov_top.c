/* Bindings of the Krotov-Hopfield supervised top layer (include/neurodyn/
 * krotov.h part 3; Krotov & Hopfield, PNAS 2019, Eq. 11-12) and of the
 * frozen-layer features f = max(h, 0)^n. */
#include "nd_py.h"

#include <stdlib.h>
#include <string.h>

static const nd_py_field top_fields[] = {
    NDPY_FIELD(nd_krotov_top_config, hidden, NDPY_I64),   NDPY_FIELD(nd_krotov_top_config, classes, NDPY_I64),
    NDPY_FIELD(nd_krotov_top_config, n, NDPY_F32),        NDPY_FIELD(nd_krotov_top_config, m, NDPY_F32),
    NDPY_FIELD(nd_krotov_top_config, beta, NDPY_F32),     NDPY_FIELD(nd_krotov_top_config, init_std, NDPY_F32),
    NDPY_FIELD(nd_krotov_top_config, seed, NDPY_U64),     NDPY_FIELD(nd_krotov_top_config, dropout, NDPY_F32),
    NDPY_FIELD(nd_krotov_top_config, lebesgue_p, NDPY_F32)};
#define N_TOP ((int)(sizeof top_fields / sizeof *top_fields))

typedef struct top_py {
  nd_py_sup sup; /* first (nd_py.h "supervised") */
  nd_krotov_top *t;
  nd_tensor w;   /* the frozen hidden weights W [hidden, visible] (owned copy) */
  nd_tensor *s, *g;
} top_py;

static void top_py_free(void *p) {
  top_py *x = p;
  if (!x) return;
  nd_py_sup_release(&x->sup);
  nd_krotov_top_free(x->t);
  nd_tensor_release(&x->w);
  free(x);
}

static top_py *get(PyObject *h) { return nd_py_handle_get(h, "krotov-top"); }

/* Takes t and w (owned). */
static PyObject *wrap(nd_krotov_top *t, nd_tensor *w) {
  top_py *x = calloc(1, sizeof *x);
  if (!x) return nd_krotov_top_free(t), nd_tensor_release(w), PyErr_NoMemory();
  x->t = t, x->w = *w, x->s = nd_krotov_top_weights(t), x->g = nd_krotov_top_grad(t);
  return nd_py_handle_new(x, top_py_free, "krotov-top");
}

/* krotov_features(W [H, D], X [N, D], n, lebesgue_p) -> f [N, H] (owned by the array) */
static PyObject *features(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *wo, *xo;
  double n, p = 0;
  if (!PyArg_ParseTuple(args, "OOd|d", &wo, &xo, &n, &p)) return NULL;
  PyArrayObject *W = nd_py_f32(wo, "W", 2, NULL);
  PyArrayObject *X = W ? nd_py_f32(xo, "X", 2, (int64_t[]){-1, PyArray_DIM(W, 1)}) : NULL;
  if (!X) return Py_XDECREF(W), NULL;
  nd_tensor w = nd_py_tensor(W), f = {0};
  nd_status s;
  const float *xd = PyArray_DATA(X);
  int64_t rows = PyArray_DIM(X, 0), d = PyArray_DIM(X, 1);
  Py_BEGIN_ALLOW_THREADS s = nd_krotov_features(&w, xd, rows, d, (float)n, (float)p, &f);
  Py_END_ALLOW_THREADS Py_DECREF(W);
  Py_DECREF(X);
  return s == ND_OK ? nd_py_from_tensor(&f) : nd_py_raise(s);
}

static PyObject *auto_beta(PyObject *self, PyObject *fo) {
  (void)self;
  PyArrayObject *F = nd_py_f32(fo, "features", 2, NULL);
  if (!F) return NULL;
  nd_tensor f = nd_py_tensor(F);
  float b = nd_krotov_top_auto_beta(&f);
  Py_DECREF(F);
  return PyFloat_FromDouble(b);
}

/* krotov_top_create(W [hidden, visible], classes, config) */
static PyObject *top_create(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *wo, *kw = Py_None;
  long long classes;
  if (!PyArg_ParseTuple(args, "OL|O", &wo, &classes, &kw)) return NULL;
  PyArrayObject *W = nd_py_f32(wo, "W", 2, NULL);
  if (!W) return NULL;
  nd_krotov_top_config c = nd_krotov_top_defaults(PyArray_DIM(W, 0), classes);
  nd_tensor w = {0}, view = nd_py_tensor(W);
  nd_krotov_top *t = NULL;
  nd_status s = ND_OK;
  if (nd_py_config_set(top_fields, N_TOP, &c, kw, "krotov_top") < 0) return Py_DECREF(W), NULL;
  s = nd_tensor_alloc(&w, 2, view.shape);
  if (s == ND_OK) s = nd_tensor_copy(&w, &view);
  if (s == ND_OK) s = nd_krotov_top_create(&c, &t);
  Py_DECREF(W);
  if (s != ND_OK) return nd_tensor_release(&w), nd_py_raise(s);
  return wrap(t, &w);
}

static PyObject *top_config(PyObject *self, PyObject *h) {
  (void)self;
  top_py *x = get(h);
  return x ? nd_py_config_dict(top_fields, N_TOP, nd_krotov_top_config_of(x->t)) : NULL;
}

/* (S [classes, hidden] writable view, W [hidden, visible] read-only view) */
static PyObject *top_weights(PyObject *self, PyObject *h) {
  (void)self;
  top_py *x = get(h);
  if (!x) return NULL;
  nd_tensor *s = nd_krotov_top_weights(x->t);
  return Py_BuildValue("NN", nd_py_view(s->data, NPY_FLOAT32, 2, s->shape, h, 1),
                       nd_py_view(x->w.data, NPY_FLOAT32, 2, x->w.shape, h, 0));
}

/* The supervised verbs on features F [n, hidden] (the Python class computes them). */
static int params(void *p, nd_tensor *const **ps, nd_tensor *const **gs) {
  top_py *x = p;
  *ps = &x->s, *gs = &x->g;
  return 1;
}
static int64_t width(void *p) { return nd_krotov_top_config_of(((top_py *)p)->t)->hidden; }
static nd_status epoch(void *p, const float *f, int64_t n, const int32_t *y, int64_t batch, double *loss) {
  top_py *x = p;
  nd_tensor F = nd_tensor_wrap((float *)f, 2, ND_SHAPE(n, width(p)));
  return nd_krotov_top_train_epoch(x->t, x->sup.opt, &F, y, batch, &x->sup.rng, loss);
}
static nd_status predict(void *p, const float *f, int64_t n, int32_t *pred) {
  nd_tensor F = nd_tensor_wrap((float *)f, 2, ND_SHAPE(n, width(p)));
  return nd_krotov_top_predict(((top_py *)p)->t, &F, pred);
}
static const nd_py_sup_family family = {"krotov-top", params, width, epoch, predict};

static PyObject *top_setup(PyObject *self, PyObject *a) { return (void)self, nd_py_sup_setup(a, &family); }
static PyObject *top_epoch(PyObject *self, PyObject *a) { return (void)self, nd_py_sup_epoch(a, &family); }
static PyObject *top_predict(PyObject *self, PyObject *a) { return (void)self, nd_py_sup_predict(a, &family); }

static nd_status save_fn(void *p, nd_checkpoint *ck) {
  top_py *x = p;
  return nd_krotov_top_save(x->t, &x->w, ck);
}
static PyObject *from_ck(const nd_checkpoint *ck) {
  nd_krotov_top *t = NULL;
  nd_tensor w = {0};
  nd_status s = nd_krotov_top_load(ck, &t, &w);
  return s == ND_OK ? wrap(t, &w) : nd_py_raise(s);
}
static PyObject *top_save(PyObject *self, PyObject *a) { return (void)self, nd_py_save(a, "krotov-top", save_fn); }
static PyObject *top_load(PyObject *self, PyObject *path) { return (void)self, nd_py_load(path, from_ck); }

PyMethodDef nd_py_krotov_top_methods[] = {
    {"krotov_features", features, METH_VARARGS, NULL},   {"krotov_top_auto_beta", auto_beta, METH_O, NULL},
    {"krotov_top_create", top_create, METH_VARARGS, NULL}, {"krotov_top_config", top_config, METH_O, NULL},
    {"krotov_top_weights", top_weights, METH_O, NULL},   {"krotov_top_setup", top_setup, METH_VARARGS, NULL},
    {"krotov_top_epoch", top_epoch, METH_VARARGS, NULL}, {"krotov_top_predict", top_predict, METH_VARARGS, NULL},
    {"krotov_top_save", top_save, METH_VARARGS, NULL},   {"krotov_top_load", top_load, METH_O, NULL},
    {NULL, NULL, 0, NULL}};
