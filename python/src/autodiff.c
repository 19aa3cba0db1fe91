/* Bindings of the autodiff tape's gradcheck and gradients (autodiff.h).
 *
 * A Python function builds the graph: f(ops, *leaves) -> output, where ops
 * (neurodyn.autodiff.Ops) calls the functions below with a Var for every
 * node.  A Var is valid only while the library evaluates f (the tape is
 * reset after); using one later is a RuntimeError, never a dangling pointer. */
#include "nd_py.h"

#include <string.h>

typedef struct var_obj {
  PyObject_HEAD
  nd_var *v;
  uint64_t gen; /* the evaluation it belongs to */
} var_obj;

static PyTypeObject var_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "neurodyn._core.Var",
    .tp_basicsize = sizeof(var_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A node of the tape, valid while the library evaluates the function.",
};

/* The evaluation under way (the GIL is held throughout a gradcheck). */
static struct {
  nd_tape *tp;
  uint64_t gen;
  PyObject *keep; /* arrays that constants view: alive until the check ends */
} cur;

static PyObject *new_var(nd_var *v) {
  if (!v) return nd_py_raise(nd_tape_status(cur.tp) != ND_OK ? nd_tape_status(cur.tp) : ND_ERR_INTERNAL);
  var_obj *o = PyObject_New(var_obj, &var_type);
  if (o) o->v = v, o->gen = cur.gen;
  return (PyObject *)o;
}

static nd_var *var_of(PyObject *o) {
  if (o == Py_None) return NULL;
  if (!PyObject_TypeCheck(o, &var_type)) return PyErr_Format(PyExc_TypeError, "expected a Var, got %R", o), NULL;
  var_obj *v = (var_obj *)o;
  if (!cur.tp || v->gen != cur.gen)
    return PyErr_SetString(PyExc_RuntimeError, "this Var belongs to an evaluation that is over"), NULL;
  return v->v;
}

static const char *const unary_names[] = {"relu", "leaky_relu", "tanh", "sigmoid", "softplus", "abs",
                                          "sign", "pow", "relu_pow", "soft_threshold", "hard_threshold",
                                          "nonneg_threshold", "exp", "log", "square", NULL};

/* ad_unary(name, x, param) */
static PyObject *ad_unary(PyObject *self, PyObject *args) {
  (void)self;
  const char *name;
  PyObject *x;
  double param = 0;
  if (!PyArg_ParseTuple(args, "sO|d", &name, &x, &param)) return NULL;
  nd_var *v = var_of(x);
  if (!v) return NULL;
  for (int i = 0; unary_names[i]; i++)
    if (!strcmp(name, unary_names[i])) return new_var(nd_ad_unary(cur.tp, (nd_unary_op)i, (float)param, v));
  return PyErr_Format(PyExc_ValueError, "unknown unary op '%s'", name), NULL;
}

/* ad_binary(name, a, b): add, sub, mul (b broadcast as autodiff.h says), mse */
static PyObject *ad_binary(PyObject *self, PyObject *args) {
  (void)self;
  const char *name;
  PyObject *a, *b;
  if (!PyArg_ParseTuple(args, "sOO", &name, &a, &b)) return NULL;
  nd_var *x = var_of(a), *y = x ? var_of(b) : NULL;
  if (!y) return NULL;
  if (!strcmp(name, "add")) return new_var(nd_ad_add(cur.tp, x, y));
  if (!strcmp(name, "sub")) return new_var(nd_ad_sub(cur.tp, x, y));
  if (!strcmp(name, "mul")) return new_var(nd_ad_mul(cur.tp, x, y));
  if (!strcmp(name, "mse")) return new_var(nd_ad_mse(cur.tp, x, y));
  return PyErr_Format(PyExc_ValueError, "unknown binary op '%s'", name), NULL;
}

/* ad_reduce(name, x): sum, mean, softmax, log_softmax */
static PyObject *ad_reduce(PyObject *self, PyObject *args) {
  (void)self;
  const char *name;
  PyObject *a;
  if (!PyArg_ParseTuple(args, "sO", &name, &a)) return NULL;
  nd_var *x = var_of(a);
  if (!x) return NULL;
  if (!strcmp(name, "sum")) return new_var(nd_ad_sum(cur.tp, x));
  if (!strcmp(name, "mean")) return new_var(nd_ad_mean(cur.tp, x));
  if (!strcmp(name, "softmax")) return new_var(nd_ad_softmax(cur.tp, x));
  if (!strcmp(name, "log_softmax")) return new_var(nd_ad_log_softmax(cur.tp, x));
  return PyErr_Format(PyExc_ValueError, "unknown reduction '%s'", name), NULL;
}

static PyObject *ad_matmul(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *a, *b;
  int ta = 0, tb = 0;
  if (!PyArg_ParseTuple(args, "OO|pp", &a, &b, &ta, &tb)) return NULL;
  nd_var *x = var_of(a), *y = x ? var_of(b) : NULL;
  return y ? new_var(nd_ad_matmul(cur.tp, x, y, ta, tb)) : NULL;
}

static PyObject *ad_linear(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *a, *w, *b = Py_None;
  if (!PyArg_ParseTuple(args, "OO|O", &a, &w, &b)) return NULL;
  nd_var *x = var_of(a), *wv = x ? var_of(w) : NULL, *bv = NULL;
  if (!wv || (b != Py_None && !(bv = var_of(b)))) return NULL;
  return new_var(nd_ad_linear(cur.tp, x, wv, bv));
}

static PyObject *ad_scale(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *a;
  double alpha;
  if (!PyArg_ParseTuple(args, "Od", &a, &alpha)) return NULL;
  nd_var *x = var_of(a);
  return x ? new_var(nd_ad_scale(cur.tp, x, (float)alpha)) : NULL;
}

static PyObject *ad_abs_power_loss(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *a, *b;
  double m;
  if (!PyArg_ParseTuple(args, "OOd", &a, &b, &m)) return NULL;
  nd_var *x = var_of(a), *y = x ? var_of(b) : NULL;
  return y ? new_var(nd_ad_abs_power_loss(cur.tp, x, y, (float)m)) : NULL;
}

/* Labels are read during the call only (autodiff.h). */
static PyObject *ad_cross_entropy(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *a, *lo;
  if (!PyArg_ParseTuple(args, "OO", &a, &lo)) return NULL;
  nd_var *x = var_of(a);
  if (!x) return NULL;
  PyArrayObject *l = nd_py_i32(lo, "labels", 1, (int64_t[]){nd_var_value(x)->shape[0]});
  if (!l) return NULL;
  PyObject *r = new_var(nd_ad_cross_entropy(cur.tp, x, PyArray_DATA(l)));
  Py_DECREF(l);
  return r;
}

/* A constant leaf over a float32 array (kept alive until the check ends). */
static PyObject *ad_constant(PyObject *self, PyObject *o) {
  (void)self;
  if (!cur.tp) return PyErr_SetString(PyExc_RuntimeError, "constant: no evaluation under way"), NULL;
  PyArrayObject *a = nd_py_f32(o, "constant", -1, NULL);
  if (!a) return NULL;
  if (PyArray_NDIM(a) > ND_MAX_DIMS || PyList_Append(cur.keep, (PyObject *)a) < 0) {
    if (!PyErr_Occurred()) PyErr_Format(nd_py_input_error, "constant: at most %d dimensions", ND_MAX_DIMS);
    Py_DECREF(a);
    return NULL;
  }
  nd_tensor t = nd_py_tensor(a);
  Py_DECREF(a);
  return new_var(nd_tape_constant(cur.tp, &t));
}

typedef struct call_ctx {
  PyObject *fn, *ops;
  int n;
} call_ctx;

/* nd_gradcheck_fn: calls fn(ops, *leaves) with the GIL held. */
static nd_status call_python(nd_tape *tp, nd_var *const *leaves, void *user, nd_var **out) {
  call_ctx *c = user;
  cur.tp = tp, cur.gen++;
  PyObject *args = PyTuple_New(c->n + 1);
  if (!args) return nd_set_error(ND_ERR_NOMEM, "gradcheck: out of memory");
  Py_INCREF(c->ops);
  PyTuple_SET_ITEM(args, 0, c->ops);
  for (int i = 0; i < c->n; i++) {
    PyObject *v = new_var(leaves[i]);
    if (!v) return Py_DECREF(args), nd_set_error(ND_ERR_INTERNAL, "gradcheck: a Python error");
    PyTuple_SET_ITEM(args, i + 1, v);
  }
  PyObject *r = PyObject_Call(c->fn, args, NULL);
  Py_DECREF(args);
  nd_var *v = r ? var_of(r) : NULL;
  Py_XDECREF(r);
  if (!v) return PyErr_Occurred() ? nd_set_error(ND_ERR_INVALID_ARG, "gradcheck: the function raised") : ND_ERR_INVALID_ARG;
  *out = v;
  return ND_OK;
}

/* gradcheck(fn, ops, [arrays], step, atol, rtol, max_per_leaf, seed) -> dict */
static PyObject *gradcheck(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *fn, *ops, *list;
  nd_gradcheck_opts o = nd_gradcheck_default_opts();
  long long maxp = o.max_per_leaf;
  unsigned long long seed = o.seed;
  if (!PyArg_ParseTuple(args, "OOO!|dddLK", &fn, &ops, &PyList_Type, &list, &o.step, &o.atol, &o.rtol, &maxp, &seed))
    return NULL;
  o.max_per_leaf = maxp, o.seed = seed;
  int n = (int)PyList_GET_SIZE(list);
  if (n < 1 || n > 64) return PyErr_Format(nd_py_input_error, "gradcheck: %d arrays, expected 1 to 64", n), NULL;
  if (cur.tp) return PyErr_SetString(PyExc_RuntimeError, "gradcheck: one at a time"), NULL;
  PyArrayObject *arr[64] = {0};
  nd_tensor t[64], *tv[64];
  PyObject *r = NULL;
  for (int i = 0; i < n; i++) {
    char what[32];
    snprintf(what, sizeof what, "arrays[%d]", i);
    /* perturbed in place and restored: our own float32 copy, never the caller's array */
    PyArrayObject *a = nd_py_f32(PyList_GET_ITEM(list, i), what, -1, NULL);
    arr[i] = a ? (PyArrayObject *)PyArray_NewCopy(a, NPY_CORDER) : NULL;
    Py_XDECREF(a);
    if (!arr[i]) goto done;
    if (PyArray_NDIM(arr[i]) > ND_MAX_DIMS) {
      PyErr_Format(nd_py_input_error, "%s: at most %d dimensions", what, ND_MAX_DIMS);
      goto done;
    }
    t[i] = nd_py_tensor(arr[i]), tv[i] = &t[i];
  }
  cur.keep = PyList_New(0);
  if (!cur.keep) goto done;
  call_ctx c = {fn, ops, n};
  nd_gradcheck_result res;
  nd_status s = nd_gradcheck(call_python, &c, n, tv, &o, &res);
  cur.tp = NULL, cur.gen++;
  Py_CLEAR(cur.keep);
  if (s != ND_OK) {
    nd_py_raise(s);
    goto done;
  }
  r = Py_BuildValue("{s:O,s:d,s:d,s:i,s:L,s:d,s:d,s:L}", "passed", res.passed ? Py_True : Py_False, "max_abs_err",
                    res.max_abs_err, "max_rel_err", res.max_rel_err, "worst_leaf", res.worst_leaf, "worst_index",
                    (long long)res.worst_index, "worst_analytic", res.worst_analytic, "worst_numeric",
                    res.worst_numeric, "checked", (long long)res.checked);
done:
  cur.tp = NULL;
  Py_CLEAR(cur.keep);
  for (int i = 0; i < n; i++) Py_XDECREF(arr[i]);
  return r;
}

PyMethodDef nd_py_autodiff_methods[] = {
    {"ad_unary", ad_unary, METH_VARARGS, NULL},     {"ad_binary", ad_binary, METH_VARARGS, NULL},
    {"ad_reduce", ad_reduce, METH_VARARGS, NULL},   {"ad_matmul", ad_matmul, METH_VARARGS, NULL},
    {"ad_linear", ad_linear, METH_VARARGS, NULL},   {"ad_scale", ad_scale, METH_VARARGS, NULL},
    {"ad_abs_power_loss", ad_abs_power_loss, METH_VARARGS, NULL},
    {"ad_cross_entropy", ad_cross_entropy, METH_VARARGS, NULL},
    {"ad_constant", ad_constant, METH_O, NULL},     {"gradcheck", gradcheck, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

int nd_py_autodiff_ready(PyObject *m) {
  if (PyType_Ready(&var_type) < 0) return -1;
  Py_INCREF(&var_type);
  return PyModule_AddObject(m, "Var", (PyObject *)&var_type);
}
