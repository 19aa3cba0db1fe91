/* Arrays and config tables of the neurodyn extension (nd_py.h): the one
 * conversion rule for inputs, arrays over library memory, and config structs
 * to and from dicts by field name. */
#include "nd_py.h"

#include <string.h>

/* ---------------------------------------------------------------- arrays */

static int shape_ok(PyArrayObject *a, const char *what, int ndim, const int64_t *shape) {
  if (ndim < 0) return 1;
  char want[160] = "", got[160] = "";
  int bad = PyArray_NDIM(a) != ndim;
  for (int i = 0; !bad && i < ndim; i++) bad = shape && shape[i] >= 0 && PyArray_DIM(a, i) != shape[i];
  if (!bad) return 1;
  for (int i = 0; i < ndim; i++) {
    size_t l = strlen(want);
    if (shape && shape[i] >= 0) snprintf(want + l, sizeof want - l, "%s%lld", i ? ", " : "", (long long)shape[i]);
    else snprintf(want + l, sizeof want - l, "%s*", i ? ", " : "");
  }
  for (int i = 0; i < PyArray_NDIM(a); i++) {
    size_t l = strlen(got);
    snprintf(got + l, sizeof got - l, "%s%lld", i ? ", " : "", (long long)PyArray_DIM(a, i));
  }
  /* Python's tuple spelling: (3,) for one dimension */
  PyErr_Format(nd_py_input_error, "%s: shape (%s%s), expected (%s%s)", what, got, PyArray_NDIM(a) == 1 ? "," : "", want,
               ndim == 1 ? "," : "");
  return 0;
}

/* The one conversion rule: an array of an accepted kind becomes a C-contiguous
 * aligned array of `typenum` -- the input itself when it already is one,
 * else a single copy. */
static PyArrayObject *as_array(PyObject *o, const char *what, int typenum, const char *kinds, int ndim,
                               const int64_t *shape) {
  PyArrayObject *a = (PyArrayObject *)PyArray_FROM_O(o);
  if (!a) return NULL;
  char kind = PyArray_DESCR(a)->kind;
  if (!strchr(kinds, kind)) {
    PyErr_Format(PyExc_TypeError, "%s: dtype %S cannot be used here (accepted kinds: %s)", what,
                 (PyObject *)PyArray_DESCR(a), kinds[1] == 'i' && strlen(kinds) == 3 ? "bool, integer" : "bool, integer, float");
    Py_DECREF(a);
    return NULL;
  }
  if (!shape_ok(a, what, ndim, shape)) {
    Py_DECREF(a);
    return NULL;
  }
  if (PyArray_TYPE(a) == typenum && PyArray_ISCARRAY_RO(a) && PyArray_ISNOTSWAPPED(a)) return a;
  PyArrayObject *c = (PyArrayObject *)PyArray_FROM_OTF((PyObject *)a, typenum, NPY_ARRAY_CARRAY | NPY_ARRAY_FORCECAST);
  Py_DECREF(a);
  return c;
}

PyArrayObject *nd_py_f32(PyObject *o, const char *what, int ndim, const int64_t *shape) {
  return as_array(o, what, NPY_FLOAT32, "biuf", ndim, shape);
}

PyArrayObject *nd_py_f64(PyObject *o, const char *what, int ndim, const int64_t *shape) {
  return as_array(o, what, NPY_FLOAT64, "biuf", ndim, shape);
}

PyArrayObject *nd_py_i32(PyObject *o, const char *what, int ndim, const int64_t *shape) {
  return as_array(o, what, NPY_INT32, "biu", ndim, shape);
}

PyObject *nd_py_view(void *data, int typenum, int ndim, const int64_t *shape, PyObject *owner, int writable) {
  npy_intp dims[ND_ARRAY_MAX_DIMS];
  for (int i = 0; i < ndim; i++) dims[i] = (npy_intp)shape[i];
  PyObject *a = PyArray_New(&PyArray_Type, ndim, dims, typenum, NULL, data, 0, writable ? NPY_ARRAY_CARRAY : NPY_ARRAY_CARRAY_RO, NULL);
  if (!a) return NULL;
  Py_INCREF(owner);
  if (PyArray_SetBaseObject((PyArrayObject *)a, owner) < 0) {
    Py_DECREF(a);
    return NULL;
  }
  return a;
}

PyObject *nd_py_empty(int typenum, int ndim, const int64_t *shape) {
  npy_intp dims[ND_ARRAY_MAX_DIMS];
  for (int i = 0; i < ndim; i++) dims[i] = (npy_intp)shape[i];
  return PyArray_SimpleNew(ndim, dims, typenum);
}

typedef void (*free_fn_t)(void *);
static void capsule_free(PyObject *cap) {
  free_fn_t fn = (free_fn_t)PyCapsule_GetContext(cap);
  void *p = PyCapsule_GetPointer(cap, "neurodyn.buffer");
  if (fn && p) fn(p);
}

static char empty_buffer[64];

PyObject *nd_py_adopt(void *data, int typenum, int ndim, const int64_t *shape, void (*free_fn)(void *)) {
  if (!data) { /* an empty array: NumPy wants a pointer, the capsule a non-NULL one */
    return nd_py_view(empty_buffer, typenum, ndim, shape, Py_None, 0);
  }
  PyObject *cap = PyCapsule_New(data, "neurodyn.buffer", capsule_free);
  if (!cap) {
    free_fn(data);
    return NULL;
  }
  if (PyCapsule_SetContext(cap, (void *)free_fn) < 0) {
    Py_DECREF(cap);
    return NULL;
  }
  PyObject *a = nd_py_view(data, typenum, ndim, shape, cap, 1);
  Py_DECREF(cap); /* the array holds it now */
  return a;
}

PyObject *nd_py_from_tensor(nd_tensor *t) {
  if (!t->owns_data && t->data) {
    PyErr_SetString(PyExc_RuntimeError, "internal: a tensor that does not own its data cannot be adopted");
    return NULL;
  }
  float *d = t->data;
  int64_t shape[ND_MAX_DIMS];
  for (int i = 0; i < t->ndim; i++) shape[i] = t->shape[i];
  int ndim = t->ndim;
  memset(t, 0, sizeof *t); /* the array owns the data now */
  return nd_py_adopt(d, NPY_FLOAT32, ndim, shape, nd_aligned_free);
}

static int typenum_of(nd_dtype d) {
  switch (d) {
  case ND_DTYPE_U8: return NPY_UINT8;
  case ND_DTYPE_I8: return NPY_INT8;
  case ND_DTYPE_I16: return NPY_INT16;
  case ND_DTYPE_I32: return NPY_INT32;
  case ND_DTYPE_I64: return NPY_INT64;
  case ND_DTYPE_F16: return NPY_FLOAT16;
  case ND_DTYPE_BF16: return NPY_UINT16; /* NumPy has no bfloat16: the raw bits */
  case ND_DTYPE_F32: return NPY_FLOAT32;
  case ND_DTYPE_F64: return NPY_FLOAT64;
  case ND_DTYPE_BOOL: return NPY_BOOL;
  default: return -1;
  }
}

PyObject *nd_py_from_array(nd_array *a) {
  int tn = typenum_of(a->dtype);
  if (tn < 0) {
    nd_array_release(a);
    PyErr_SetString(PyExc_RuntimeError, "internal: unknown dtype");
    return NULL;
  }
  void *d = a->data;
  int ndim = a->ndim;
  int64_t shape[ND_ARRAY_MAX_DIMS];
  memcpy(shape, a->shape, sizeof shape);
  memset(a, 0, sizeof *a);
  return nd_py_adopt(d, tn, ndim, shape, free);
}

nd_tensor nd_py_tensor(PyArrayObject *a) {
  int64_t shape[ND_MAX_DIMS] = {1, 1, 1, 1, 1};
  int ndim = PyArray_NDIM(a);
  if (ndim > ND_MAX_DIMS) return (nd_tensor){0};
  for (int i = 0; i < ndim; i++) shape[i] = PyArray_DIM(a, i);
  return nd_tensor_wrap((float *)PyArray_DATA(a), ndim, shape);
}

/* ---------------------------------------------------------------- configs */

static const nd_py_field *find_field(const nd_py_field *f, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(f[i].name, name)) return &f[i];
  return NULL;
}

static int set_field(const nd_py_field *f, void *base, PyObject *v, const char *family) {
  char *p = (char *)base + f->offset;
  if (f->type == NDPY_CHOICE) {
    const char *s = PyUnicode_Check(v) ? PyUnicode_AsUTF8(v) : NULL;
    for (int i = 0; s && f->choices[i]; i++)
      if (!strcmp(s, f->choices[i])) return *(int *)p = i, 0;
    PyObject *names = PyUnicode_FromString("");
    for (int i = 0; names && f->choices[i]; i++) {
      PyObject *t = PyUnicode_FromFormat("%U%s'%s'", names, i ? ", " : "", f->choices[i]);
      Py_SETREF(names, t);
    }
    if (names) PyErr_Format(nd_py_input_error, "%s: %s = %R: expected one of %U", family, f->name, v, names);
    Py_XDECREF(names);
    return -1;
  }
  if (f->type == NDPY_BOOL) {
    int t = PyObject_IsTrue(v);
    if (t < 0) return -1;
    *(bool *)p = t;
    return 0;
  }
  if (f->type == NDPY_F64 || f->type == NDPY_F32) {
    double d = PyFloat_AsDouble(v);
    if (d == -1.0 && PyErr_Occurred()) return -1;
    if (f->type == NDPY_F64) *(double *)p = d;
    else *(float *)p = (float)d;
    return 0;
  }
  if (!PyLong_Check(v) && !PyIndex_Check(v)) {
    PyErr_Format(PyExc_TypeError, "%s: %s must be an integer, not %.100s", family, f->name, Py_TYPE(v)->tp_name);
    return -1;
  }
  if (f->type == NDPY_U64) {
    PyObject *i = PyNumber_Index(v);
    unsigned long long u = i ? PyLong_AsUnsignedLongLong(i) : 0;
    Py_XDECREF(i);
    if (PyErr_Occurred()) return -1;
    *(uint64_t *)p = u;
    return 0;
  }
  long long l = PyLong_AsLongLong(v);
  if (l == -1 && PyErr_Occurred()) return -1;
  if (f->type == NDPY_INT) {
    if (l < INT32_MIN || l > INT32_MAX) {
      PyErr_Format(nd_py_input_error, "%s: %s = %lld is out of range", family, f->name, l);
      return -1;
    }
    *(int *)p = (int)l;
  } else {
    *(int64_t *)p = l;
  }
  return 0;
}

int nd_py_config_set(const nd_py_field *fields, int n, void *base, PyObject *kwargs, const char *family) {
  if (!kwargs || kwargs == Py_None) return 0;
  if (!PyDict_Check(kwargs)) {
    PyErr_SetString(PyExc_TypeError, "config must be a dict");
    return -1;
  }
  PyObject *key, *value;
  Py_ssize_t pos = 0;
  while (PyDict_Next(kwargs, &pos, &key, &value)) {
    const char *name = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
    const nd_py_field *f = name ? find_field(fields, n, name) : NULL;
    if (!f) {
      PyErr_Format(PyExc_TypeError, "%s: unknown setting %R", family, key);
      return -1;
    }
    if (value != Py_None && set_field(f, base, value, family) < 0) return -1;
  }
  return 0;
}

PyObject *nd_py_config_dict(const nd_py_field *fields, int n, const void *base) {
  PyObject *d = PyDict_New();
  for (int i = 0; d && i < n; i++) {
    const char *p = (const char *)base + fields[i].offset;
    PyObject *v = NULL;
    switch (fields[i].type) {
    case NDPY_I64: v = PyLong_FromLongLong(*(const int64_t *)p); break;
    case NDPY_INT: v = PyLong_FromLong(*(const int *)p); break;
    case NDPY_U64: v = PyLong_FromUnsignedLongLong(*(const uint64_t *)p); break;
    case NDPY_F64: v = PyFloat_FromDouble(*(const double *)p); break;
    case NDPY_F32: v = PyFloat_FromDouble(*(const float *)p); break;
    case NDPY_BOOL: v = PyBool_FromLong(*(const bool *)p); break;
    case NDPY_CHOICE: v = PyUnicode_FromString(fields[i].choices[*(const int *)p]); break;
    }
    if (!v || PyDict_SetItemString(d, fields[i].name, v) < 0) Py_CLEAR(d);
    Py_XDECREF(v);
  }
  return d;
}

