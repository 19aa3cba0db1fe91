/* neurodyn._core: module set-up, errors, arrays, config tables, handles and
 * the progress callback shared by every family's bindings (nd_py.h). */
#define ND_PY_MODULE_C
#include "nd_py.h"

#include <string.h>

PyObject *nd_py_input_error;
static PyObject *library_error, *not_found_error;

/* ---------------------------------------------------------------- errors */

PyObject *nd_py_raise(nd_status s) {
  if (PyErr_Occurred()) return NULL; /* a callback's exception (KeyboardInterrupt, ...) wins */
  const char *msg = nd_last_error();
  if (!msg || !*msg) msg = nd_status_str(s);
  PyObject *type = library_error;
  switch (s) {
  case ND_ERR_INVALID_ARG:
  case ND_ERR_SHAPE:
  case ND_ERR_FORMAT: type = nd_py_input_error; break;
  case ND_ERR_NOT_FOUND: type = not_found_error; break;
  case ND_ERR_NOMEM: type = PyExc_MemoryError; break;
  default: break;
  }
  PyObject *args = Py_BuildValue("(s)", msg);
  if (!args) return NULL;
  PyObject *e = PyObject_Call(type, args, NULL);
  Py_DECREF(args);
  if (!e) return NULL;
  PyObject *name = PyUnicode_FromString(nd_status_str(s));
  if (name) PyObject_SetAttrString(e, "status", name);
  Py_XDECREF(name);
  PyErr_SetObject(type, e);
  Py_DECREF(e);
  return NULL;
}

/* ---------------------------------------------------------------- handles */

static void handle_dealloc(PyObject *o) {
  nd_py_handle *h = (nd_py_handle *)o;
  if (h->ptr && h->free_fn) h->free_fn(h->ptr);
  h->ptr = NULL;
  Py_CLEAR(h->extra);
  Py_TYPE(o)->tp_free(o);
}

static PyObject *handle_repr(PyObject *o) {
  nd_py_handle *h = (nd_py_handle *)o;
  return PyUnicode_FromFormat("<neurodyn handle %s at %p>", h->kind, h->ptr);
}

PyTypeObject nd_py_handle_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "neurodyn._core.Handle",
    .tp_basicsize = sizeof(nd_py_handle),
    .tp_dealloc = handle_dealloc,
    .tp_repr = handle_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A library object (model, optimizer); freed when the last reference goes.",
};

PyObject *nd_py_handle_new(void *ptr, void (*free_fn)(void *), const char *kind) {
  nd_py_handle *h = PyObject_New(nd_py_handle, &nd_py_handle_type);
  if (!h) {
    free_fn(ptr);
    return NULL;
  }
  h->ptr = ptr, h->free_fn = free_fn, h->kind = kind, h->busy = 0, h->extra = NULL;
  return (PyObject *)h;
}

void *nd_py_handle_get(PyObject *o, const char *kind) {
  if (!PyObject_TypeCheck(o, &nd_py_handle_type) || strcmp(((nd_py_handle *)o)->kind, kind)) {
    PyErr_Format(PyExc_TypeError, "expected a %s handle, got %R", kind, o);
    return NULL;
  }
  return ((nd_py_handle *)o)->ptr;
}

int nd_py_handle_enter(PyObject *o) {
  nd_py_handle *h = (nd_py_handle *)o;
  if (h->busy) {
    PyErr_Format(library_error, "this %s model is in use by another call (one model, one thread at a time)", h->kind);
    return -1;
  }
  h->busy = 1; /* set and tested with the GIL held */
  return 0;
}

void nd_py_handle_leave(PyObject *o) { ((nd_py_handle *)o)->busy = 0; }

/* ---------------------------------------------------------------- progress */

int nd_py_progress_fn(const nd_progress_info *info, void *user) {
  nd_py_progress *p = user;
  PyGILState_STATE g = PyGILState_Ensure();
  int stop = 0;
  if (PyErr_CheckSignals() < 0) {
    stop = 1;
  } else if (p->cb && p->cb != Py_None) {
    PyObject *r = PyObject_CallFunction(p->cb, "LLL", (long long)info->epoch, (long long)info->done,
                                        (long long)info->total);
    if (!r) stop = 1;
    else if (PyObject_IsTrue(r) == 1) stop = 2; /* asked to stop: no exception */
    Py_XDECREF(r);
  }
  if (PyErr_Occurred()) p->raised = 1;
  PyGILState_Release(g);
  return stop;
}

PyObject *nd_py_run_epoch(PyObject *handle, const char *kind, int64_t visible, nd_py_epoch_fn fn, PyObject *data,
                          PyObject *cb) {
  void *m = nd_py_handle_get(handle, kind);
  if (!m) return NULL;
  PyArrayObject *x = nd_py_f32(data, "X", 2, (int64_t[]){-1, visible});
  if (!x) return NULL;
  if (nd_py_handle_enter(handle) < 0) {
    Py_DECREF(x);
    return NULL;
  }
  nd_py_progress p = {.cb = cb, .raised = 0};
  nd_status s;
  int64_t n = PyArray_DIM(x, 0);
  const float *d = PyArray_DATA(x);
  nd_clear_error();
  Py_BEGIN_ALLOW_THREADS s = fn(m, d, n, nd_py_progress_fn, &p);
  Py_END_ALLOW_THREADS nd_py_handle_leave(handle);
  Py_DECREF(x);
  if (s != ND_OK || p.raised) return nd_py_raise(s);
  Py_RETURN_NONE;
}

static const nd_py_field state_fields[] = {
    NDPY_FIELD(nd_train_state, epoch, NDPY_I64), NDPY_FIELD(nd_train_state, batch, NDPY_I64),
    NDPY_FIELD(nd_train_state, rng_key, NDPY_U64), NDPY_FIELD(nd_train_state, rng_counter, NDPY_U64)};

PyObject *nd_py_state_dict(const nd_train_state *st) { return nd_py_config_dict(state_fields, 4, st); }

int nd_py_state_from(PyObject *d, nd_train_state *st) {
  memset(st, 0, sizeof *st);
  return nd_py_config_set(state_fields, 4, st, d, "state");
}

/* ---------------------------------------------------------------- checkpoints */

nd_checkpoint *nd_py_checkpoint_read(PyObject *path) {
  PyObject *b = NULL;
  if (!PyUnicode_FSConverter(path, &b)) return NULL;
  nd_checkpoint *ck = NULL;
  nd_status s;
  Py_BEGIN_ALLOW_THREADS s = nd_checkpoint_read(PyBytes_AS_STRING(b), &ck);
  Py_END_ALLOW_THREADS Py_DECREF(b);
  if (s != ND_OK) return nd_py_raise(s), NULL;
  return ck;
}

PyObject *nd_py_checkpoint_write(nd_checkpoint *ck, PyObject *path) {
  PyObject *b = NULL;
  if (!PyUnicode_FSConverter(path, &b)) {
    nd_checkpoint_free(ck);
    return NULL;
  }
  nd_status s;
  Py_BEGIN_ALLOW_THREADS s = nd_checkpoint_write(ck, PyBytes_AS_STRING(b));
  Py_END_ALLOW_THREADS Py_DECREF(b);
  nd_checkpoint_free(ck);
  if (s != ND_OK) return nd_py_raise(s);
  Py_RETURN_NONE;
}

PyObject *nd_py_save(PyObject *args, const char *kind, nd_py_save_fn fn) {
  PyObject *h, *path;
  if (!PyArg_ParseTuple(args, "OO", &h, &path)) return NULL;
  void *model = nd_py_handle_get(h, kind);
  nd_checkpoint *ck = NULL;
  if (!model) return NULL;
  nd_status s = nd_checkpoint_create(&ck);
  if (s == ND_OK) s = fn(model, ck);
  if (s != ND_OK) return nd_checkpoint_free(ck), nd_py_raise(s);
  return nd_py_checkpoint_write(ck, path);
}

PyObject *nd_py_load(PyObject *path, nd_py_load_fn fn) {
  nd_checkpoint *ck = nd_py_checkpoint_read(path);
  if (!ck) return NULL;
  PyObject *h = fn(ck);
  nd_checkpoint_free(ck);
  return h;
}

PyObject *nd_py_get_state(PyObject *h, const char *kind, nd_py_get_state_fn fn) {
  void *model = nd_py_handle_get(h, kind);
  nd_train_state st;
  if (!model) return NULL;
  nd_status s = fn(model, &st);
  return s == ND_OK ? nd_py_state_dict(&st) : nd_py_raise(s);
}

PyObject *nd_py_set_state(PyObject *args, const char *kind, nd_py_set_state_fn fn) {
  PyObject *h, *d;
  nd_train_state st;
  if (!PyArg_ParseTuple(args, "OO!", &h, &PyDict_Type, &d)) return NULL;
  void *model = nd_py_handle_get(h, kind);
  if (!model || nd_py_state_from(d, &st) < 0) return NULL;
  nd_status s = fn(model, &st);
  if (s != ND_OK) return nd_py_raise(s);
  Py_RETURN_NONE;
}

static PyObject *py_checkpoint_model(PyObject *self, PyObject *path) {
  (void)self;
  nd_checkpoint *ck = nd_py_checkpoint_read(path);
  if (!ck) return NULL;
  const char *m = nd_checkpoint_model(ck);
  PyObject *r = m ? PyUnicode_FromString(m) : (Py_INCREF(Py_None), Py_None);
  nd_checkpoint_free(ck);
  return r;
}

static PyObject *py_version(PyObject *self, PyObject *unused) {
  (void)self, (void)unused;
  return PyUnicode_FromString(nd_version());
}

static PyObject *py_set_num_threads(PyObject *self, PyObject *arg) {
  (void)self;
  int n = (int)PyLong_AsLong(arg);
  if (n == -1 && PyErr_Occurred()) return NULL;
  nd_status s = nd_set_num_threads(n);
  if (s != ND_OK) return nd_py_raise(s);
  Py_RETURN_NONE;
}

static PyObject *py_get_num_threads(PyObject *self, PyObject *unused) {
  (void)self, (void)unused;
  return PyLong_FromLong(nd_get_num_threads());
}

/* For the tests: the address of an array's first element. */
static PyObject *py_data_address(PyObject *self, PyObject *o) {
  (void)self;
  if (!PyArray_Check(o)) return PyErr_Format(PyExc_TypeError, "expected an ndarray"), NULL;
  return PyLong_FromVoidPtr(PyArray_DATA((PyArrayObject *)o));
}

/* The no-op call of the overhead measurement: argument parsing and one
 * float32 array check, nothing else. */
static PyObject *py_noop(PyObject *self, PyObject *o) {
  (void)self;
  PyArrayObject *a = nd_py_f32(o, "x", -1, NULL);
  if (!a) return NULL;
  Py_DECREF(a);
  Py_RETURN_NONE;
}

static PyObject *py_as_float32(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *o;
  const char *name = "array";
  if (!PyArg_ParseTuple(args, "O|s", &o, &name)) return NULL;
  return (PyObject *)nd_py_f32(o, name, -1, NULL);
}

static PyObject *py_as_int32(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *o;
  const char *name = "array";
  if (!PyArg_ParseTuple(args, "O|s", &o, &name)) return NULL;
  return (PyObject *)nd_py_i32(o, name, -1, NULL);
}

static PyMethodDef core_methods[] = {
    {"as_int32", py_as_int32, METH_VARARGS, "Labels as the library takes them: int32 C-contiguous (bool/integer input)."},
    {"as_float32", py_as_float32, METH_VARARGS,
     "The array as the library takes it: itself if float32, C-contiguous and aligned, else one converted copy."},
    {"version", py_version, METH_NOARGS, "The linked library's version string."},
    {"set_num_threads", py_set_num_threads, METH_O, "Threads for OpenMP regions and BLAS (0: the default)."},
    {"get_num_threads", py_get_num_threads, METH_NOARGS, "Threads in use."},
    {"checkpoint_model", py_checkpoint_model, METH_O, "The 'model' entry of a checkpoint file (None if absent)."},
    {"data_address", py_data_address, METH_O, "Address of an array's data (for tests)."},
    {"noop", py_noop, METH_O, "Checks a float32 array and returns (for the overhead measurement)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef core_module = {PyModuleDef_HEAD_INIT, "neurodyn._core", "neurodyn's C library, bound.", -1,
                                         NULL, NULL, NULL, NULL, NULL};

static int add_methods(PyObject *m, PyMethodDef *defs) {
  for (PyMethodDef *d = defs; d->ml_name; d++) {
    PyObject *f = PyCFunction_NewEx(d, NULL, PyModule_GetNameObject(m));
    if (!f || PyModule_AddObject(m, d->ml_name, f) < 0) {
      Py_XDECREF(f);
      return -1;
    }
  }
  return 0;
}

PyMODINIT_FUNC PyInit__core(void) {
  import_array();
  if (PyType_Ready(&nd_py_handle_type) < 0) return NULL;
  PyObject *m = PyModule_Create(&core_module);
  if (!m) return NULL;
  nd_py_input_error = PyErr_NewExceptionWithDoc("neurodyn.InputError", "Bad input to the library (a ValueError).",
                                          PyExc_ValueError, NULL);
  library_error = PyErr_NewExceptionWithDoc("neurodyn.LibraryError", "A failure inside the library (a RuntimeError).",
                                            PyExc_RuntimeError, NULL);
  PyObject *bases = nd_py_input_error ? PyTuple_Pack(2, nd_py_input_error, PyExc_FileNotFoundError) : NULL;
  not_found_error = bases ? PyErr_NewExceptionWithDoc("neurodyn.NotFoundError",
                                                      "A file, tensor or data set that is not there "
                                                      "(an InputError and a FileNotFoundError).",
                                                      bases, NULL)
                          : NULL;
  Py_XDECREF(bases);
  if (!nd_py_input_error || !library_error || !not_found_error) goto fail;
  Py_INCREF(nd_py_input_error), Py_INCREF(library_error), Py_INCREF(not_found_error);
  if (PyModule_AddObject(m, "InputError", nd_py_input_error) < 0 || PyModule_AddObject(m, "LibraryError", library_error) < 0 ||
      PyModule_AddObject(m, "NotFoundError", not_found_error) < 0)
    goto fail;
  Py_INCREF(&nd_py_handle_type);
  if (PyModule_AddObject(m, "Handle", (PyObject *)&nd_py_handle_type) < 0 || nd_py_autodiff_ready(m) < 0) goto fail;
  PyMethodDef *tables[] = {core_methods, nd_py_krotov_methods, nd_py_mlp_methods, nd_py_io_methods,
                           nd_py_autodiff_methods, nd_py_lca_methods, nd_py_krotov_top_methods, nd_py_esn_methods};
  for (size_t i = 0; i < sizeof tables / sizeof *tables; i++)
    if (add_methods(m, tables[i]) < 0) goto fail;
  return m;
fail:
  Py_DECREF(m);
  return NULL;
}
