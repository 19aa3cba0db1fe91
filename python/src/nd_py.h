/* Shared pieces of the neurodyn CPython extension (python/src/).
 *
 * Every family file (krotov.c, mlp.c, ...) uses these helpers and adds its
 * functions to the module through an nd_py_<family>_methods table that
 * module.c lists (docs/python.md, "Binding a new family"). */
#ifndef ND_PY_H
#define ND_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL nd_py_ARRAY_API
#ifndef ND_PY_MODULE_C
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include "neurodyn/neurodyn.h"

/* ---------------------------------------------------------------- errors */
/* Raises the exception for a library status with nd_last_error()'s message:
 * neurodyn.InputError (a ValueError) for bad input (invalid argument, shape,
 * format, not found), MemoryError for ND_ERR_NOMEM, neurodyn.LibraryError
 * (a RuntimeError) otherwise.  Returns NULL.  If a Python exception is
 * already set (a callback raised), that one is kept. */
PyObject *nd_py_raise(nd_status s);
/* neurodyn.InputError, for the bindings' own checks of their arguments. */
extern PyObject *nd_py_input_error;

/* ---------------------------------------------------------------- arrays */
/* A float32 C-contiguous aligned view of o: o itself (new reference, no copy)
 * when it already is one, else ONE converted copy (bool, integer and float
 * dtypes only; other kinds are a TypeError naming `what`).  ndim >= 0 checks
 * the number of dimensions; shape entries >= 0 must match (-1: any).
 * Errors name `what` and the shapes.  NULL on error. */
PyArrayObject *nd_py_f32(PyObject *o, const char *what, int ndim, const int64_t *shape);
/* The same for float64 (the reservoir family computes in double). */
PyArrayObject *nd_py_f64(PyObject *o, const char *what, int ndim, const int64_t *shape);
/* The same for int32 labels (bool and integer dtypes only). */
PyArrayObject *nd_py_i32(PyObject *o, const char *what, int ndim, const int64_t *shape);
/* A new NumPy array over memory that `owner` keeps alive (a view: the array
 * holds a reference to owner).  writable = 0 makes it read-only. */
PyObject *nd_py_view(void *data, int typenum, int ndim, const int64_t *shape, PyObject *owner, int writable);
/* A new NumPy array that takes ownership of `data`, freed by free_fn when the
 * array (and every view of it) is gone. */
PyObject *nd_py_adopt(void *data, int typenum, int ndim, const int64_t *shape, void (*free_fn)(void *));
/* A new uninitialised C-contiguous array. */
PyObject *nd_py_empty(int typenum, int ndim, const int64_t *shape);
/* nd_tensor -> NumPy, taking its owned data (the tensor is left empty). */
PyObject *nd_py_from_tensor(nd_tensor *t);
/* nd_array -> NumPy, taking its data (the struct is left zeroed). */
PyObject *nd_py_from_array(nd_array *a);
/* A contiguous nd_tensor header over a float32 array (no copy). */
nd_tensor nd_py_tensor(PyArrayObject *a);

/* ---------------------------------------------------------------- configs */
/* A config struct as a table of named fields, read from and written to a
 * Python dict by name (unknown keys are a TypeError naming them). */
typedef enum nd_py_ftype { NDPY_I64, NDPY_INT, NDPY_U64, NDPY_F64, NDPY_F32, NDPY_BOOL, NDPY_CHOICE } nd_py_ftype;
typedef struct nd_py_field {
  const char *name;
  nd_py_ftype type;
  size_t offset;
  const char *const *choices; /* NDPY_CHOICE: NULL-terminated names, stored as int */
} nd_py_field;
#define NDPY_FIELD(T, f, type) {#f, (type), offsetof(T, f), NULL}
#define NDPY_CHOICE_FIELD(T, f, names) {#f, NDPY_CHOICE, offsetof(T, f), (names)}

int nd_py_config_set(const nd_py_field *fields, int n, void *base, PyObject *kwargs, const char *family);
PyObject *nd_py_config_dict(const nd_py_field *fields, int n, const void *base);

/* ---------------------------------------------------------------- handles */
/* A library object owned by a Python object (a capsule-like handle type):
 * `ptr` is freed by `free_fn` when the handle is collected, never earlier,
 * so arrays viewing its memory (which reference the handle) stay valid.
 * `busy` refuses a second thread while a call runs with the GIL released. */
typedef struct nd_py_handle {
  PyObject_HEAD
  void *ptr;
  void (*free_fn)(void *);
  const char *kind; /* "krotov", "krotov-ode", "krotov-top", "mlp", ... */
  int busy;
  PyObject *extra;  /* a family's companion object (e.g. the optimizer handle) */
} nd_py_handle;

extern PyTypeObject nd_py_handle_type;
PyObject *nd_py_handle_new(void *ptr, void (*free_fn)(void *), const char *kind);
/* The pointer of a handle of this kind, or NULL with TypeError. */
void *nd_py_handle_get(PyObject *o, const char *kind);
/* Marks a handle busy for a call that releases the GIL; RuntimeError if it
 * already is (two threads on one model). */
int nd_py_handle_enter(PyObject *o);
void nd_py_handle_leave(PyObject *o);

/* ---------------------------------------------------------------- progress */
/* The nd_progress_fn a binding passes to an epoch function while the GIL is
 * released: it takes the GIL, runs the signal handlers (Ctrl-C raises
 * KeyboardInterrupt) and the Python callback `cb(epoch, done, total)` (may be
 * None; a true result also stops), and asks the epoch to stop when either
 * raised.  After the call, `stopped` says whether it did and an exception is
 * set if one was raised. */
typedef struct nd_py_progress {
  PyObject *cb;
  int raised;
} nd_py_progress;
int nd_py_progress_fn(const nd_progress_info *info, void *user);

/* One epoch of a family's epoch function over data [n, visible] with the
 * GIL released and the handle marked busy; progress through
 * nd_py_progress_fn.  Returns None (the model's state says whether the
 * epoch finished or a callback stopped it part-way) or NULL (an exception: the library's, or the callback's,
 * e.g. KeyboardInterrupt; the model keeps the minibatches applied). */
typedef nd_status (*nd_py_epoch_fn)(void *model, const float *data, int64_t n, nd_progress_fn progress, void *user);
PyObject *nd_py_run_epoch(PyObject *handle, const char *kind, int64_t visible, nd_py_epoch_fn fn, PyObject *data,
                          PyObject *cb);
/* nd_train_state <-> dict {"epoch", "batch", "rng_key", "rng_counter"}. */
PyObject *nd_py_state_dict(const nd_train_state *st);
int nd_py_state_from(PyObject *d, nd_train_state *st);

/* ---------------------------------------------------------------- supervised */
/* What the gradient-trained families share (as cli/supervised.c does for
 * the program): Adam (AdamW with a weight decay) over the model's
 * parameters, a cosine anneal from lr to lr_final over total_steps, and the
 * minibatch stream nd_rng_split(nd_rng_init(seed), 1).  A family's handle
 * points at a struct whose FIRST member is an nd_py_sup, and describes
 * itself with an nd_py_sup_family; supervised.c does the rest. */
typedef struct nd_py_sup {
  nd_optim *opt;
  nd_rng rng;
  int64_t epoch;
} nd_py_sup;
typedef struct nd_py_sup_family {
  const char *kind;
  int (*params)(void *model, nd_tensor *const **params, nd_tensor *const **grads); /* returns the count */
  int64_t (*width)(void *model); /* columns of the training input */
  nd_status (*epoch)(void *model, const float *x, int64_t n, const int32_t *y, int64_t batch, double *loss);
  nd_status (*predict)(void *model, const float *x, int64_t n, int32_t *pred);
} nd_py_sup_family;
void nd_py_sup_release(nd_py_sup *s);
/* (handle, lr, lr_final, total_steps, weight_decay, seed): a fresh optimizer and stream. */
PyObject *nd_py_sup_setup(PyObject *args, const nd_py_sup_family *f);
/* (handle, X [n, width], y [n], batch) -> the epoch's mean loss, GIL released. */
PyObject *nd_py_sup_epoch(PyObject *args, const nd_py_sup_family *f);
/* (handle, X [n, width]) -> int32 predictions, GIL released. */
PyObject *nd_py_sup_predict(PyObject *args, const nd_py_sup_family *f);

/* ---------------------------------------------------------------- checkpoints */
/* Reads a checkpoint; NULL with an exception set on error. */
nd_checkpoint *nd_py_checkpoint_read(PyObject *path);
/* Writes ck to path (atomic) and frees it; NULL on error, else None. */
PyObject *nd_py_checkpoint_write(nd_checkpoint *ck, PyObject *path);

/* The save / load / state bindings every family has, from its C verbs:
 *   nd_py_save(args (handle, path), kind, fn)   fn fills a checkpoint; written atomically
 *   nd_py_load(path, fn)                        fn turns a checkpoint into a handle (or NULL, error set)
 *   nd_py_get_state(handle, kind, fn), nd_py_set_state(args (handle, dict), kind, fn) */
typedef nd_status (*nd_py_save_fn)(void *model, nd_checkpoint *ck);
typedef PyObject *(*nd_py_load_fn)(const nd_checkpoint *ck);
typedef nd_status (*nd_py_get_state_fn)(const void *model, nd_train_state *st);
typedef nd_status (*nd_py_set_state_fn)(void *model, const nd_train_state *st);
PyObject *nd_py_save(PyObject *args, const char *kind, nd_py_save_fn fn);
PyObject *nd_py_load(PyObject *path, nd_py_load_fn fn);
PyObject *nd_py_get_state(PyObject *handle, const char *kind, nd_py_get_state_fn fn);
PyObject *nd_py_set_state(PyObject *args, const char *kind, nd_py_set_state_fn fn);

/* ---------------------------------------------------------------- families */
extern PyMethodDef nd_py_krotov_methods[];
extern PyMethodDef nd_py_mlp_methods[];
extern PyMethodDef nd_py_io_methods[];
extern PyMethodDef nd_py_autodiff_methods[];
int nd_py_autodiff_ready(PyObject *module); /* the Var type */
extern PyMethodDef nd_py_lca_methods[];
extern PyMethodDef nd_py_krotov_top_methods[];
extern PyMethodDef nd_py_esn_methods[];

#endif
