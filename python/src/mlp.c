/* Bindings of the dense MLP baseline (include/neurodyn/mlp.h), trained by
 * Adam through the autodiff tape. */
#include "nd_py.h"

#include <stdlib.h>
#include <string.h>

static const char *const activations[] = {"relu", "tanh", "sigmoid", "leaky_relu", "relu_pow", "identity", NULL};
static const char *const losses[] = {"cross_entropy", "abs_power", NULL};
static const char *const methods[] = {"bp", "fa", "dfa", "dni", "ff", "dtp", "am", "subtask", NULL}; /* nd_credit_method_names() */

static const nd_py_field mlp_fields[] = {
    NDPY_CHOICE_FIELD(nd_mlp_config, activation, activations), NDPY_FIELD(nd_mlp_config, act_param, NDPY_F32),
    NDPY_CHOICE_FIELD(nd_mlp_config, loss, losses),            NDPY_FIELD(nd_mlp_config, loss_power, NDPY_F32),
    NDPY_FIELD(nd_mlp_config, out_scale, NDPY_F32),            NDPY_FIELD(nd_mlp_config, bias, NDPY_BOOL),
    NDPY_FIELD(nd_mlp_config, seed, NDPY_U64),                 NDPY_CHOICE_FIELD(nd_mlp_config, method, methods),
    NDPY_FIELD(nd_mlp_config, ff_theta, NDPY_F32),             NDPY_FIELD(nd_mlp_config, dni_conditioned, NDPY_BOOL),
    NDPY_FIELD(nd_mlp_config, dtp_target_lr, NDPY_F32),        NDPY_FIELD(nd_mlp_config, dtp_noise, NDPY_F32),
    NDPY_FIELD(nd_mlp_config, am_mu, NDPY_F32),                NDPY_FIELD(nd_mlp_config, am_code_lr, NDPY_F32),
    NDPY_FIELD(nd_mlp_config, am_code_steps, NDPY_INT),        NDPY_FIELD(nd_mlp_config, subtask_layers, NDPY_INT)};
#define N_MLP ((int)(sizeof mlp_fields / sizeof *mlp_fields))

typedef struct mlp_py {
  nd_py_sup sup; /* first (nd_py.h "supervised") */
  nd_mlp *m;
} mlp_py;

static void mlp_py_free(void *p) {
  mlp_py *x = p;
  if (!x) return;
  nd_py_sup_release(&x->sup);
  nd_mlp_free(x->m);
  free(x);
}

static PyObject *wrap(nd_mlp *m) {
  mlp_py *x = calloc(1, sizeof *x);
  if (!x) return nd_mlp_free(m), PyErr_NoMemory();
  x->m = m;
  return nd_py_handle_new(x, mlp_py_free, "mlp");
}

static mlp_py *get(PyObject *h) { return nd_py_handle_get(h, "mlp"); }

/* mlp_create([sizes], config) */
static PyObject *mlp_create(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *sizes, *kw = Py_None;
  if (!PyArg_ParseTuple(args, "O|O", &sizes, &kw)) return NULL;
  PyObject *seq = PySequence_Fast(sizes, "sizes must be a sequence of layer sizes");
  if (!seq) return NULL;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  int64_t sz[ND_MLP_MAX_LAYERS + 1] = {0};
  if (n < 2 || n > ND_MLP_MAX_LAYERS + 1) {
    Py_DECREF(seq);
    return PyErr_Format(nd_py_input_error, "sizes: %zd entries, expected 2 to %d (input, hidden..., output)", n,
                        ND_MLP_MAX_LAYERS + 1), NULL;
  }
  for (Py_ssize_t i = 0; i < n; i++) sz[i] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
  Py_DECREF(seq);
  if (PyErr_Occurred()) return NULL;
  nd_mlp_config c = nd_mlp_defaults((int)n, sz);
  if (nd_py_config_set(mlp_fields, N_MLP, &c, kw, "mlp") < 0) return NULL;
  nd_mlp *m = NULL;
  nd_status s = nd_mlp_create(&c, &m);
  return s == ND_OK ? wrap(m) : nd_py_raise(s);
}

static PyObject *mlp_config(PyObject *self, PyObject *h) {
  (void)self;
  mlp_py *x = get(h);
  if (!x) return NULL;
  const nd_mlp_config *c = nd_mlp_config_of(x->m);
  PyObject *d = nd_py_config_dict(mlp_fields, N_MLP, c), *l = d ? PyList_New(c->n_sizes) : NULL;
  for (int i = 0; l && i < c->n_sizes; i++) PyList_SET_ITEM(l, i, PyLong_FromLongLong(c->sizes[i]));
  if (!l || PyDict_SetItemString(d, "sizes", l) < 0) Py_CLEAR(d);
  Py_XDECREF(l);
  return d;
}

/* [(name, writable view of the parameter)], in the order W_0, b_0, W_1, ... */
static PyObject *mlp_params(PyObject *self, PyObject *h) {
  (void)self;
  mlp_py *x = get(h);
  if (!x) return NULL;
  int n = nd_mlp_num_params(x->m);
  PyObject *l = PyList_New(n);
  for (int i = 0; l && i < n; i++) {
    nd_tensor *t = nd_mlp_param(x->m, i);
    PyObject *v = nd_py_view(t->data, NPY_FLOAT32, t->ndim, t->shape, h, 1);
    PyObject *item = v ? Py_BuildValue("sN", nd_mlp_param_name(x->m, i), v) : NULL;
    if (!item) Py_CLEAR(l);
    else PyList_SET_ITEM(l, i, item);
  }
  return l;
}

static int params(void *p, nd_tensor *const **ps, nd_tensor *const **gs) {
  mlp_py *x = p;
  *ps = nd_mlp_params(x->m), *gs = nd_mlp_grads(x->m);
  return nd_mlp_num_params(x->m);
}
static int64_t width(void *p) { return nd_mlp_config_of(((mlp_py *)p)->m)->sizes[0]; }
static nd_status epoch(void *p, const float *x, int64_t n, const int32_t *y, int64_t batch, double *loss) {
  mlp_py *m = p;
  return nd_mlp_train_epoch(m->m, m->sup.opt, x, y, n, batch, &m->sup.rng, loss);
}
static nd_status predict(void *p, const float *x, int64_t n, int32_t *pred) {
  return nd_mlp_predict(((mlp_py *)p)->m, x, n, 1000, pred);
}
static const nd_py_sup_family family = {"mlp", params, width, epoch, predict};

static PyObject *mlp_setup(PyObject *self, PyObject *a) { return (void)self, nd_py_sup_setup(a, &family); }
static PyObject *mlp_epoch(PyObject *self, PyObject *a) { return (void)self, nd_py_sup_epoch(a, &family); }
static PyObject *mlp_predict(PyObject *self, PyObject *a) { return (void)self, nd_py_sup_predict(a, &family); }

static nd_status save_fn(void *x, nd_checkpoint *ck) { return nd_mlp_save(((mlp_py *)x)->m, ck); }
static PyObject *from_ck(const nd_checkpoint *ck) {
  nd_mlp *m = NULL;
  nd_status s = nd_mlp_load(ck, &m);
  return s == ND_OK ? wrap(m) : nd_py_raise(s);
}
static PyObject *mlp_save(PyObject *self, PyObject *a) { return (void)self, nd_py_save(a, "mlp", save_fn); }
static PyObject *mlp_load(PyObject *self, PyObject *path) { return (void)self, nd_py_load(path, from_ck); }

PyMethodDef nd_py_mlp_methods[] = {
    {"mlp_create", mlp_create, METH_VARARGS, NULL},   {"mlp_config", mlp_config, METH_O, NULL},
    {"mlp_params", mlp_params, METH_O, NULL},         {"mlp_setup", mlp_setup, METH_VARARGS, NULL},
    {"mlp_epoch", mlp_epoch, METH_VARARGS, NULL},     {"mlp_predict", mlp_predict, METH_VARARGS, NULL},
    {"mlp_save", mlp_save, METH_VARARGS, NULL},       {"mlp_load", mlp_load, METH_O, NULL},
    {NULL, NULL, 0, NULL}};
