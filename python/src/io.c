/* Bindings of the tensor formats and data sets (io.h, tensorfile.h, data.h).
 * Arrays read from files come back as NumPy arrays that own the library's
 * buffer (no copy); arrays written are read in place. */
#include "nd_py.h"

#include <string.h>

static int path_arg(PyObject *o, PyObject **bytes) { return PyUnicode_FSConverter(o, bytes); }

/* NumPy dtype -> nd_dtype (-1 if none). */
static int nd_dtype_of(PyArrayObject *a) {
  switch (PyArray_TYPE(a)) {
  case NPY_UINT8: return ND_DTYPE_U8;
  case NPY_INT8: return ND_DTYPE_I8;
  case NPY_INT16: return ND_DTYPE_I16;
  case NPY_INT32: return ND_DTYPE_I32;
  case NPY_INT64: return ND_DTYPE_I64;
  case NPY_FLOAT16: return ND_DTYPE_F16;
  case NPY_FLOAT32: return ND_DTYPE_F32;
  case NPY_FLOAT64: return ND_DTYPE_F64;
  case NPY_BOOL: return ND_DTYPE_BOOL;
  default: return -1;
  }
}

/* A borrowed nd_array header over a C-contiguous native array (no copy):
 * *keep holds the (possibly converted) array until the write is done. */
static int borrow_array(PyObject *o, const char *what, nd_array *out, PyArrayObject **keep) {
  PyArrayObject *a = (PyArrayObject *)PyArray_FROM_OF(o, NPY_ARRAY_CARRAY_RO | NPY_ARRAY_NOTSWAPPED);
  if (!a) return -1;
  int dt = nd_dtype_of(a);
  if (dt < 0 || PyArray_NDIM(a) > ND_ARRAY_MAX_DIMS) {
    PyErr_Format(PyExc_TypeError, "%s: dtype %R with %d dimensions cannot be written (u8, i8, i16, i32, i64, f16, f32, "
                 "f64, bool; at most %d dimensions)", what, (PyObject *)PyArray_DESCR(a), PyArray_NDIM(a), ND_ARRAY_MAX_DIMS);
    Py_DECREF(a);
    return -1;
  }
  memset(out, 0, sizeof *out);
  out->dtype = (nd_dtype)dt, out->ndim = PyArray_NDIM(a), out->numel = PyArray_SIZE(a), out->data = PyArray_DATA(a);
  for (int i = 0; i < out->ndim; i++) out->shape[i] = PyArray_DIM(a, i);
  *keep = a;
  return 0;
}

static PyObject *read_tensor(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *p, *b;
  const char *name = NULL;
  if (!PyArg_ParseTuple(args, "O|z", &p, &name) || !path_arg(p, &b)) return NULL;
  nd_array a = {0};
  nd_status s;
  Py_BEGIN_ALLOW_THREADS s = nd_tensor_file_read(PyBytes_AS_STRING(b), name, &a);
  Py_END_ALLOW_THREADS Py_DECREF(b);
  return s == ND_OK ? nd_py_from_array(&a) : nd_py_raise(s);
}

static PyObject *read_idx(PyObject *self, PyObject *p) {
  (void)self;
  PyObject *b;
  if (!path_arg(p, &b)) return NULL;
  nd_array a = {0};
  nd_status s;
  Py_BEGIN_ALLOW_THREADS s = nd_idx_read(PyBytes_AS_STRING(b), &a);
  Py_END_ALLOW_THREADS Py_DECREF(b);
  return s == ND_OK ? nd_py_from_array(&a) : nd_py_raise(s);
}

static PyObject *write_idx(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *p, *o, *b;
  PyArrayObject *keep;
  nd_array a;
  if (!PyArg_ParseTuple(args, "OO", &p, &o) || borrow_array(o, "array", &a, &keep) < 0) return NULL;
  if (!path_arg(p, &b)) return Py_DECREF(keep), NULL;
  nd_status s;
  Py_BEGIN_ALLOW_THREADS s = nd_idx_write(PyBytes_AS_STRING(b), &a);
  Py_END_ALLOW_THREADS Py_DECREF(b);
  Py_DECREF(keep);
  if (s != ND_OK) return nd_py_raise(s);
  Py_RETURN_NONE;
}

/* '<f8' for float64 input, else '<f4' (other dtypes converted once). */
static PyObject *write_npy(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *p, *o, *b;
  if (!PyArg_ParseTuple(args, "OO", &p, &o)) return NULL;
  PyArrayObject *a = (PyArrayObject *)PyArray_FROM_O(o);
  if (!a) return NULL;
  int f64 = PyArray_TYPE(a) == NPY_FLOAT64;
  Py_SETREF(a, f64 ? (PyArrayObject *)PyArray_FROM_OTF((PyObject *)a, NPY_FLOAT64, NPY_ARRAY_CARRAY_RO)
                   : nd_py_f32((PyObject *)a, "array", -1, NULL));
  if (!a) return NULL;
  int64_t shape[ND_ARRAY_MAX_DIMS];
  int nd = PyArray_NDIM(a);
  if (nd > (f64 ? ND_ARRAY_MAX_DIMS : ND_MAX_DIMS)) {
    Py_DECREF(a);
    return PyErr_Format(PyExc_TypeError, "array: %d dimensions: NPY writing takes at most %d", nd,
                        f64 ? ND_ARRAY_MAX_DIMS : ND_MAX_DIMS), NULL;
  }
  for (int i = 0; i < nd; i++) shape[i] = PyArray_DIM(a, i);
  if (!path_arg(p, &b)) return Py_DECREF(a), NULL;
  nd_status s;
  nd_tensor t = f64 ? (nd_tensor){0} : nd_py_tensor(a);
  Py_BEGIN_ALLOW_THREADS s = f64 ? nd_npy_write_f64(PyBytes_AS_STRING(b), nd, shape, PyArray_DATA(a))
                                 : nd_npy_write(PyBytes_AS_STRING(b), &t);
  Py_END_ALLOW_THREADS Py_DECREF(b);
  Py_DECREF(a);
  if (s != ND_OK) return nd_py_raise(s);
  Py_RETURN_NONE;
}

/* Every tensor of an IDX, NPY or safetensors file: (format, {name: array},
 * {metadata}). */
static PyObject *load_tensors(PyObject *self, PyObject *p) {
  (void)self;
  PyObject *b;
  if (!path_arg(p, &b)) return NULL;
  nd_tensor_file tf;
  memset(&tf, 0, sizeof tf);
  nd_status s;
  Py_BEGIN_ALLOW_THREADS s = nd_tensor_file_load(PyBytes_AS_STRING(b), &tf);
  Py_END_ALLOW_THREADS Py_DECREF(b);
  if (s != ND_OK) return nd_py_raise(s);
  PyObject *tensors = PyDict_New(), *meta = PyDict_New(), *r = NULL;
  for (int i = 0; tensors && i < tf.n; i++) {
    PyObject *a = nd_py_from_array(&tf.arrays[i]);
    if (!a || PyDict_SetItemString(tensors, tf.names[i], a) < 0) Py_CLEAR(tensors);
    Py_XDECREF(a);
  }
  for (int i = 0; meta && i < tf.n_meta; i++) {
    PyObject *v = PyUnicode_FromString(tf.meta[2 * i + 1]);
    if (!v || PyDict_SetItemString(meta, tf.meta[2 * i], v) < 0) Py_CLEAR(meta);
    Py_XDECREF(v);
  }
  if (tensors && meta) r = Py_BuildValue("sOO", nd_file_format_name(tf.format), tensors, meta);
  Py_XDECREF(tensors);
  Py_XDECREF(meta);
  nd_tensor_file_release(&tf);
  return r;
}

/* write_safetensors(path, {name: array}, {key: value} or None): arrays of any
 * supported dtype, read in place. */
static PyObject *write_safetensors(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *p, *d, *m = Py_None, *b = NULL, *r = NULL;
  if (!PyArg_ParseTuple(args, "OO!|O", &p, &PyDict_Type, &d, &m)) return NULL;
  Py_ssize_t n = PyDict_Size(d), nm = m == Py_None ? 0 : PyDict_Size(m);
  if (nm < 0) return NULL;
  const char **names = calloc((size_t)n + 1, sizeof *names), **meta = calloc(2 * (size_t)nm + 1, sizeof *meta);
  nd_array *arrays = calloc((size_t)n + 1, sizeof *arrays);
  const nd_array **ap = calloc((size_t)n + 1, sizeof *ap);
  PyArrayObject **keep = calloc((size_t)n + 1, sizeof *keep);
  Py_ssize_t pos = 0, i = 0;
  PyObject *k, *v;
  if (!names || !meta || !arrays || !ap || !keep) {
    PyErr_NoMemory();
    goto done;
  }
  while (PyDict_Next(d, &pos, &k, &v)) {
    if (!(names[i] = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL)) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "tensor names must be strings");
      goto done;
    }
    if (borrow_array(v, names[i], &arrays[i], &keep[i]) < 0) goto done;
    ap[i] = &arrays[i], i++;
  }
  for (pos = 0, i = 0; nm && PyDict_Next(m, &pos, &k, &v); i += 2) {
    meta[i] = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
    meta[i + 1] = PyUnicode_Check(v) ? PyUnicode_AsUTF8(v) : NULL;
    if (!meta[i] || !meta[i + 1]) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "metadata keys and values must be strings");
      goto done;
    }
  }
  if (!path_arg(p, &b)) goto done;
  nd_status s;
  Py_BEGIN_ALLOW_THREADS s = nd_safetensors_write_arrays(PyBytes_AS_STRING(b), (int)n, names, ap, nm ? meta : NULL);
  Py_END_ALLOW_THREADS if (s != ND_OK) nd_py_raise(s);
  else r = (Py_INCREF(Py_None), Py_None);
done:
  for (Py_ssize_t j = 0; keep && j < n; j++) Py_XDECREF(keep[j]);
  Py_XDECREF(b);
  free(names), free(meta), free(arrays), free(ap), free(keep);
  return r;
}

/* load_dataset(name, split, limit=0, root=None) -> (images [n, rows*cols]
 * float32 in [0, 1], labels int32 [n], (rows, cols)). */
static PyObject *load_dataset(PyObject *self, PyObject *args) {
  (void)self;
  const char *name, *split, *root = NULL;
  long long limit = 0;
  if (!PyArg_ParseTuple(args, "ss|Lz", &name, &split, &limit, &root)) return NULL;
  nd_dataset d;
  memset(&d, 0, sizeof d);
  nd_status s;
  Py_BEGIN_ALLOW_THREADS s = nd_dataset_load(root, name, split, limit, &d);
  Py_END_ALLOW_THREADS if (s != ND_OK) return nd_py_raise(s);
  int32_t *labels = d.labels;
  int64_t n = d.n;
  int rows = d.rows, cols = d.cols;
  d.labels = NULL;
  PyObject *x = nd_py_from_tensor(&d.images);
  PyObject *y = x ? nd_py_adopt(labels, NPY_INT32, 1, &n, free) : (free(labels), NULL);
  PyObject *r = x && y ? Py_BuildValue("OO(ii)", x, y, rows, cols) : NULL;
  Py_XDECREF(x);
  Py_XDECREF(y);
  return r;
}

static PyObject *data_find(PyObject *self, PyObject *args) {
  (void)self;
  const char *name, *root = NULL;
  if (!PyArg_ParseTuple(args, "s|z", &name, &root)) return NULL;
  char buf[4096];
  nd_status s = nd_data_find(root, name, buf, sizeof buf);
  return s == ND_OK ? PyUnicode_DecodeFSDefault(buf) : nd_py_raise(s);
}

static PyObject *file_kind(PyObject *self, PyObject *p) {
  (void)self;
  PyObject *b;
  if (!path_arg(p, &b)) return NULL;
  nd_file_format f = nd_file_sniff(PyBytes_AS_STRING(b));
  Py_DECREF(b);
  return Py_BuildValue("ss", nd_file_format_name(f), nd_file_format_phrase(f));
}

/* write_png_tiles(path, filters [n, h, w], cols, cmap, zoom, global_range) */
static PyObject *write_png_tiles(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *p, *o, *b;
  int cols = 0, zoom = 2, global = 0;
  const char *cmap = "bwr";
  if (!PyArg_ParseTuple(args, "OO|isip", &p, &o, &cols, &cmap, &zoom, &global)) return NULL;
  if (strcmp(cmap, "bwr") && strcmp(cmap, "gray"))
    return PyErr_Format(PyExc_ValueError, "cmap = '%s': expected 'bwr' or 'gray'", cmap), NULL;
  PyArrayObject *a = nd_py_f32(o, "filters", 3, NULL);
  if (!a) return NULL;
  if (!path_arg(p, &b)) return Py_DECREF(a), NULL;
  nd_png_tiles_opts opts = {.cols = cols, .cmap = strcmp(cmap, "bwr") ? ND_CMAP_GRAY : ND_CMAP_BWR, .zoom = zoom,
                            .global_range = global};
  nd_status s;
  int n = (int)PyArray_DIM(a, 0), h = (int)PyArray_DIM(a, 1), w = (int)PyArray_DIM(a, 2);
  Py_BEGIN_ALLOW_THREADS s = nd_png_write_tiles(PyBytes_AS_STRING(b), PyArray_DATA(a), n, h, w, &opts);
  Py_END_ALLOW_THREADS Py_DECREF(b);
  Py_DECREF(a);
  if (s != ND_OK) return nd_py_raise(s);
  Py_RETURN_NONE;
}

PyMethodDef nd_py_io_methods[] = {
    {"write_png_tiles", write_png_tiles, METH_VARARGS, NULL},
    {"read_tensor", read_tensor, METH_VARARGS, NULL},
    {"read_idx", read_idx, METH_O, NULL},
    {"write_idx", write_idx, METH_VARARGS, NULL},
    {"write_npy", write_npy, METH_VARARGS, NULL},
    {"load_tensors", load_tensors, METH_O, NULL},
    {"write_safetensors", write_safetensors, METH_VARARGS, NULL},
    {"load_dataset", load_dataset, METH_VARARGS, NULL},
    {"data_find", data_find, METH_VARARGS, NULL},
    {"file_kind", file_kind, METH_O, NULL},
    {NULL, NULL, 0, NULL}};
