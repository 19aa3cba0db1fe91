/* The optimizer set-up, epoch and prediction bindings of the gradient-trained
 * families (MLP, Krotov top layer): nd_py.h "supervised". */
#include "nd_py.h"

#include <string.h>

void nd_py_sup_release(nd_py_sup *s) {
  nd_optim_free(s->opt);
  memset(s, 0, sizeof *s);
}

PyObject *nd_py_sup_setup(PyObject *args, const nd_py_sup_family *f) {
  PyObject *h;
  double lr, lr_final, wd;
  long long steps;
  unsigned long long seed;
  if (!PyArg_ParseTuple(args, "OddLdK", &h, &lr, &lr_final, &steps, &wd, &seed)) return NULL;
  void *model = nd_py_handle_get(h, f->kind);
  if (!model) return NULL;
  nd_py_sup *s = model; /* the first member */
  nd_py_sup_release(s);
  nd_tensor *const *p, *const *g;
  int n = f->params(model, &p, &g);
  nd_optim_config oc = nd_optim_defaults(wd > 0 ? ND_OPTIM_ADAMW : ND_OPTIM_ADAM);
  oc.lr = (float)lr, oc.weight_decay = (float)wd;
  nd_status st = nd_optim_create(&oc, n, p, g, &s->opt);
  nd_schedule sch = {.kind = ND_SCHED_COSINE, .base_lr = (float)lr, .final_lr = (float)lr_final,
                     .total_steps = steps > 0 ? steps : 1};
  if (st == ND_OK) st = nd_optim_set_schedule(s->opt, &sch);
  if (st == ND_OK) st = nd_rng_init(&s->rng, seed);
  if (st == ND_OK) s->rng = nd_rng_split(&s->rng, 1);
  if (st != ND_OK) return nd_py_sup_release(s), nd_py_raise(st);
  Py_RETURN_NONE;
}

PyObject *nd_py_sup_epoch(PyObject *args, const nd_py_sup_family *f) {
  PyObject *h, *xo, *yo;
  long long batch;
  if (!PyArg_ParseTuple(args, "OOOL", &h, &xo, &yo, &batch)) return NULL;
  void *model = nd_py_handle_get(h, f->kind);
  if (!model) return NULL;
  nd_py_sup *sup = model;
  if (!sup->opt) return PyErr_Format(PyExc_RuntimeError, "%s: no optimizer: call fit()", f->kind), NULL;
  PyArrayObject *X = nd_py_f32(xo, "X", 2, (int64_t[]){-1, f->width(model)});
  PyArrayObject *Y = X ? nd_py_i32(yo, "y", 1, (int64_t[]){PyArray_DIM(X, 0)}) : NULL;
  if (!Y || nd_py_handle_enter(h) < 0) return Py_XDECREF(X), Py_XDECREF(Y), NULL;
  double loss = 0;
  nd_status s;
  const float *xd = PyArray_DATA(X);
  const int32_t *yd = PyArray_DATA(Y);
  int64_t n = PyArray_DIM(X, 0);
  Py_BEGIN_ALLOW_THREADS s = f->epoch(model, xd, n, yd, batch, &loss);
  Py_END_ALLOW_THREADS nd_py_handle_leave(h);
  Py_DECREF(X);
  Py_DECREF(Y);
  if (s != ND_OK) return nd_py_raise(s);
  sup->epoch++;
  return PyFloat_FromDouble(loss);
}

PyObject *nd_py_sup_predict(PyObject *args, const nd_py_sup_family *f) {
  PyObject *h, *xo;
  if (!PyArg_ParseTuple(args, "OO", &h, &xo)) return NULL;
  void *model = nd_py_handle_get(h, f->kind);
  if (!model) return NULL;
  PyArrayObject *X = nd_py_f32(xo, "X", 2, (int64_t[]){-1, f->width(model)});
  if (!X) return NULL;
  int64_t n = PyArray_DIM(X, 0);
  PyObject *out = nd_py_empty(NPY_INT32, 1, &n);
  if (!out || nd_py_handle_enter(h) < 0) return Py_DECREF(X), Py_XDECREF(out), NULL;
  nd_status s;
  const float *xd = PyArray_DATA(X);
  int32_t *pd = PyArray_DATA((PyArrayObject *)out);
  Py_BEGIN_ALLOW_THREADS s = f->predict(model, xd, n, pd);
  Py_END_ALLOW_THREADS nd_py_handle_leave(h);
  Py_DECREF(X);
  if (s != ND_OK) return Py_DECREF(out), nd_py_raise(s);
  return out;
}
