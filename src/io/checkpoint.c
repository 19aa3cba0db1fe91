/* Checkpoints (include/neurodyn/checkpoint.h): safetensors files whose
 * metadata is written from and read into config structs through tables of
 * {key, type, offset, range}, with every value checked on the way in. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/checkpoint.h"

struct nd_checkpoint {
  char *name;             /* file name for messages ("" when built in memory) */
  int n_meta, cap_meta;
  char **meta;            /* key0, value0, key1, value1, ... (owned) */
  int n_arr, cap_arr;
  char **arr_names;       /* owned */
  nd_array *arrays;       /* owned copies */
  nd_safetensors *st;     /* the file read, or NULL */
};

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

nd_status nd_checkpoint_create(nd_checkpoint **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "nd_checkpoint_create: out is NULL");
  *out = calloc(1, sizeof **out);
  if (!*out || !((*out)->name = dup_str(""))) {
    free(*out);
    *out = NULL;
    return nd__error(ND_ERR_NOMEM, "checkpoint: out of memory");
  }
  return ND_OK;
}

void nd_checkpoint_free(nd_checkpoint *ck) {
  if (!ck) return;
  for (int i = 0; i < 2 * ck->n_meta; i++) free(ck->meta[i]);
  free(ck->meta);
  for (int i = 0; i < ck->n_arr; i++) {
    free(ck->arr_names[i]);
    nd_array_release(&ck->arrays[i]);
  }
  free(ck->arr_names);
  free(ck->arrays);
  nd_safetensors_free(ck->st);
  free(ck->name);
  free(ck);
}

static nd_status append_meta(nd_checkpoint *ck, const char *key, const char *value);

static nd_status adopt(nd_safetensors *st, const char *name, nd_checkpoint **out) {
  nd_checkpoint *ck = NULL;
  nd_status s = nd_checkpoint_create(&ck);
  if (s != ND_OK) {
    nd_safetensors_free(st);
    return s;
  }
  ck->st = st;
  free(ck->name);
  ck->name = dup_str(name);
  if (!ck->name) s = nd__error(ND_ERR_NOMEM, "checkpoint: out of memory");
  for (int i = 0; s == ND_OK && i < nd_safetensors_metadata_count(st); i++) {
    const char *k = nd_safetensors_metadata_key(st, i);
    s = k ? append_meta(ck, k, nd_safetensors_metadata(st, k)) : ND_ERR_INTERNAL;
  }
  if (s != ND_OK) {
    nd_checkpoint_free(ck);
    return s;
  }
  *out = ck;
  return ND_OK;
}

nd_status nd_checkpoint_read(const char *path, nd_checkpoint **out) {
  if (!path || !out) return nd__error(ND_ERR_INVALID_ARG, "nd_checkpoint_read: NULL argument");
  *out = NULL;
  nd_safetensors *st = NULL;
  ND_TRY(nd_safetensors_read(path, &st));
  return adopt(st, path, out);
}

nd_status nd_checkpoint_parse(const void *buf, size_t len, const char *name, nd_checkpoint **out) {
  if (!buf || !out) return nd__error(ND_ERR_INVALID_ARG, "nd_checkpoint_parse: NULL argument");
  *out = NULL;
  if (!name) name = "checkpoint";
  nd_safetensors *st = NULL;
  ND_TRY(nd_safetensors_parse(buf, len, name, &st));
  return adopt(st, name, out);
}

const char *nd_checkpoint_name(const nd_checkpoint *ck) { return ck ? ck->name : ""; }

const char *nd_checkpoint_meta(const nd_checkpoint *ck, const char *key) {
  if (!ck || !key) return NULL;
  for (int i = 0; i < ck->n_meta; i++)
    if (strcmp(ck->meta[2 * i], key) == 0) return ck->meta[2 * i + 1];
  return NULL;
}

const char *nd_checkpoint_model(const nd_checkpoint *ck) { return nd_checkpoint_meta(ck, "model"); }

nd_status nd_checkpoint_expect_model(const nd_checkpoint *ck, const char *model) {
  if (!ck || !model) return nd__error(ND_ERR_INVALID_ARG, "nd_checkpoint_expect_model: NULL argument");
  const char *m = nd_checkpoint_model(ck);
  if (!m) return nd__error(ND_ERR_FORMAT, "%s: no 'model' entry in the metadata (not a neurodyn model file)", ck->name);
  if (strcmp(m, model) != 0)
    return nd__error(ND_ERR_FORMAT, "%s: holds a '%.64s' model, expected '%s'", ck->name, m, model);
  return ND_OK;
}

/* Appends key = value without looking for an existing key (the caller knows
 * it is new: the safetensors reader refuses duplicate keys), so reading a
 * file of n entries is O(n), not O(n^2). */
static nd_status append_meta(nd_checkpoint *ck, const char *key, const char *value) {
  if (ck->n_meta == ck->cap_meta) {
    int cap = ck->cap_meta ? 2 * ck->cap_meta : 16;
    char **m = realloc(ck->meta, sizeof(char *) * 2 * (size_t)cap + sizeof(char *));
    if (!m) return nd__error(ND_ERR_NOMEM, "checkpoint: out of memory");
    ck->meta = m;
    ck->cap_meta = cap;
  }
  char *k = dup_str(key), *v = dup_str(value);
  if (!k || !v) {
    free(k), free(v);
    return nd__error(ND_ERR_NOMEM, "checkpoint: out of memory");
  }
  ck->meta[2 * ck->n_meta] = k;
  ck->meta[2 * ck->n_meta + 1] = v;
  ck->n_meta++;
  return ND_OK;
}

nd_status nd_checkpoint_put_meta(nd_checkpoint *ck, const char *key, const char *value) {
  if (!ck || !key || !value || !key[0]) return nd__error(ND_ERR_INVALID_ARG, "nd_checkpoint_put_meta: NULL or empty argument");
  for (int i = 0; i < ck->n_meta; i++)
    if (strcmp(ck->meta[2 * i], key) == 0) {
      char *v = dup_str(value);
      if (!v) return nd__error(ND_ERR_NOMEM, "checkpoint: out of memory");
      free(ck->meta[2 * i + 1]);
      ck->meta[2 * i + 1] = v;
      return ND_OK;
    }
  return append_meta(ck, key, value);
}

/* ------------------------------------------------------------ fields */

static const char *choice_name(const nd_meta_field *f, int v) {
  for (int i = 0; f->choices && f->choices[i]; i++)
    if (i == v) return f->choices[i];
  return NULL;
}

static nd_status format_field(const nd_meta_field *f, const void *base, char *buf, size_t len) {
  const char *p = (const char *)base + f->offset;
  switch (f->type) {
    case ND_META_I64: snprintf(buf, len, "%" PRId64, *(const int64_t *)p); return ND_OK;
    case ND_META_INT: snprintf(buf, len, "%d", *(const int *)p); return ND_OK;
    case ND_META_U64: snprintf(buf, len, "%" PRIu64, *(const uint64_t *)p); return ND_OK;
    case ND_META_F64: snprintf(buf, len, "%.17g", *(const double *)p); return ND_OK;
    case ND_META_F32: snprintf(buf, len, "%.9g", (double)*(const float *)p); return ND_OK;
    case ND_META_BOOL: snprintf(buf, len, "%s", *(const bool *)p ? "true" : "false"); return ND_OK;
    case ND_META_CHOICE: {
      const char *name = choice_name(f, *(const int *)p);
      if (!name) return nd__error(ND_ERR_INVALID_ARG, "checkpoint: field '%s' = %d is not one of its choices", f->key, *(const int *)p);
      snprintf(buf, len, "%s", name);
      return ND_OK;
    }
  }
  return nd__error(ND_ERR_INTERNAL, "checkpoint: field '%s' has an unknown type", f->key);
}

nd_status nd_checkpoint_put_fields(nd_checkpoint *ck, int n, const nd_meta_field *fields, const void *base) {
  if (!ck || (n > 0 && (!fields || !base))) return nd__error(ND_ERR_INVALID_ARG, "nd_checkpoint_put_fields: NULL argument");
  for (int i = 0; i < n; i++) {
    char buf[64];
    ND_TRY(format_field(&fields[i], base, buf, sizeof buf));
    ND_TRY(nd_checkpoint_put_meta(ck, fields[i].key, buf));
  }
  return ND_OK;
}

static nd_status bad_value(const nd_checkpoint *ck, const nd_meta_field *f, const char *v, const char *why) {
  return nd__error(ND_ERR_FORMAT, "%s: metadata '%s' = '%.40s%s': %s", ck->name, f->key, v, strlen(v) > 40 ? "..." : "",
                   why);
}

/* Whole-string integer in [min, max]. */
static nd_status parse_int(const nd_checkpoint *ck, const nd_meta_field *f, const char *v, bool is_unsigned,
                           int64_t *si, uint64_t *ui) {
  const char *s = v;
  while (*s == ' ') s++;
  if (!*s || (is_unsigned && *s == '-')) return bad_value(ck, f, v, is_unsigned ? "not a non-negative integer" : "not an integer");
  char *end = NULL;
  errno = 0;
  if (is_unsigned) *ui = strtoull(s, &end, 10);
  else *si = strtoll(s, &end, 10);
  if (end == s || *end != '\0') return bad_value(ck, f, v, "not an integer");
  if (errno == ERANGE) return bad_value(ck, f, v, "out of the 64-bit range");
  double x = is_unsigned ? (double)*ui : (double)*si;
  if (x < f->min || x > f->max) {
    char why[96];
    snprintf(why, sizeof why, "must lie in [%.17g, %.17g]", f->min, f->max);
    return bad_value(ck, f, v, why);
  }
  return ND_OK;
}

static nd_status parse_field(const nd_checkpoint *ck, const nd_meta_field *f, const char *v, void *base) {
  char *p = (char *)base + f->offset;
  switch (f->type) {
    case ND_META_I64:
    case ND_META_INT: {
      int64_t x = 0;
      ND_TRY(parse_int(ck, f, v, false, &x, NULL));
      if (f->type == ND_META_INT) {
        if (x < INT32_MIN || x > INT32_MAX) return bad_value(ck, f, v, "out of the int range");
        *(int *)p = (int)x;
      } else {
        *(int64_t *)p = x;
      }
      return ND_OK;
    }
    case ND_META_U64: return parse_int(ck, f, v, true, NULL, (uint64_t *)p);
    case ND_META_F64:
    case ND_META_F32: {
      char *end = NULL;
      double x = strtod(v, &end);
      if (end == v || *end != '\0') return bad_value(ck, f, v, "not a number");
      if (!isfinite(x)) return bad_value(ck, f, v, "not finite");
      if (x < f->min || x > f->max) {
        char why[96];
        snprintf(why, sizeof why, "must lie in [%.9g, %.9g]", f->min, f->max);
        return bad_value(ck, f, v, why);
      }
      if (f->type == ND_META_F32) {
        if (fabs(x) > 3.4e38) return bad_value(ck, f, v, "out of the float range");
        *(float *)p = (float)x;
      } else {
        *(double *)p = x;
      }
      return ND_OK;
    }
    case ND_META_BOOL:
      if (strcmp(v, "true") == 0) *(bool *)p = true;
      else if (strcmp(v, "false") == 0) *(bool *)p = false;
      else return bad_value(ck, f, v, "must be true or false");
      return ND_OK;
    case ND_META_CHOICE:
      for (int i = 0; f->choices && f->choices[i]; i++)
        if (strcmp(v, f->choices[i]) == 0) {
          *(int *)p = i;
          return ND_OK;
        }
      {
        char why[160] = "must be one of:";
        for (int i = 0; f->choices && f->choices[i]; i++) {
          size_t l = strlen(why);
          snprintf(why + l, sizeof why - l, " %s", f->choices[i]);
        }
        return bad_value(ck, f, v, why);
      }
  }
  return nd__error(ND_ERR_INTERNAL, "checkpoint: field '%s' has an unknown type", f->key);
}

nd_status nd_checkpoint_get_fields(const nd_checkpoint *ck, int n, const nd_meta_field *fields, void *base) {
  if (!ck || (n > 0 && (!fields || !base))) return nd__error(ND_ERR_INVALID_ARG, "nd_checkpoint_get_fields: NULL argument");
  for (int i = 0; i < n; i++) {
    const char *v = nd_checkpoint_meta(ck, fields[i].key);
    if (!v) return nd__error(ND_ERR_FORMAT, "%s: metadata has no '%s'", ck->name, fields[i].key);
    ND_TRY(parse_field(ck, &fields[i], v, base));
  }
  return ND_OK;
}

/* ------------------------------------------------------------ tensors */

nd_status nd_checkpoint_put_array(nd_checkpoint *ck, const char *name, const nd_array *a) {
  if (!ck || !name || !a || !name[0]) return nd__error(ND_ERR_INVALID_ARG, "nd_checkpoint_put_array: NULL or empty argument");
  for (int i = 0; i < ck->n_arr; i++)
    if (strcmp(ck->arr_names[i], name) == 0)
      return nd__error(ND_ERR_INVALID_ARG, "checkpoint: tensor '%s' added twice", name);
  size_t es = nd_dtype_size(a->dtype);
  if (!es || a->numel < 0 || (a->numel > 0 && !a->data))
    return nd__error(ND_ERR_INVALID_ARG, "checkpoint: tensor '%s' has no valid dtype or data", name);
  if (ck->n_arr == ck->cap_arr) {
    int cap = ck->cap_arr ? 2 * ck->cap_arr : 8;
    char **nm = realloc(ck->arr_names, sizeof(char *) * (size_t)cap);
    if (nm) ck->arr_names = nm;
    nd_array *ar = realloc(ck->arrays, sizeof(nd_array) * (size_t)cap);
    if (ar) ck->arrays = ar;
    if (!nm || !ar) return nd__error(ND_ERR_NOMEM, "checkpoint: out of memory");
    ck->cap_arr = cap;
  }
  nd_array copy = *a;
  size_t bytes = (size_t)a->numel * es;
  copy.data = malloc(bytes > 0 ? bytes : 1);
  char *nm = dup_str(name);
  if (!copy.data || !nm) {
    free(copy.data), free(nm);
    return nd__error(ND_ERR_NOMEM, "checkpoint: out of memory for tensor '%s' (%zu bytes)", name, bytes);
  }
  if (bytes) memcpy(copy.data, a->data, bytes);
  ck->arr_names[ck->n_arr] = nm;
  ck->arrays[ck->n_arr] = copy;
  ck->n_arr++;
  return ND_OK;
}

nd_status nd_checkpoint_put_tensor(nd_checkpoint *ck, const char *name, const nd_tensor *t) {
  if (!t) return nd__error(ND_ERR_INVALID_ARG, "nd_checkpoint_put_tensor: tensor is NULL");
  if (!nd_tensor_is_contiguous(t))
    return nd__error(ND_ERR_INVALID_ARG, "checkpoint: tensor '%s' is not contiguous", name ? name : "?");
  nd_array a = {.dtype = ND_DTYPE_F32, .ndim = t->ndim, .numel = nd_tensor_numel(t), .data = t->data};
  for (int i = 0; i < ND_ARRAY_MAX_DIMS; i++) a.shape[i] = i < t->ndim ? t->shape[i] : 1;
  return nd_checkpoint_put_array(ck, name, &a);
}

nd_status nd_checkpoint_write(const nd_checkpoint *ck, const char *path) {
  if (!ck || !path) return nd__error(ND_ERR_INVALID_ARG, "nd_checkpoint_write: NULL argument");
  const nd_array **arrs = malloc(sizeof *arrs * (size_t)(ck->n_arr + 1));
  if (!arrs) return nd__error(ND_ERR_NOMEM, "checkpoint: out of memory");
  for (int i = 0; i < ck->n_arr; i++) arrs[i] = &ck->arrays[i];
  char **meta = ck->meta;
  if (meta) meta[2 * ck->n_meta] = NULL; /* the list ends with NULL (room was reserved) */
  nd_status s = nd_safetensors_write_arrays(path, ck->n_arr, (const char *const *)ck->arr_names, arrs,
                                            (const char *const *)meta);
  free(arrs);
  return s;
}

bool nd_checkpoint_has(const nd_checkpoint *ck, const char *name) {
  if (!ck || !name) return false;
  for (int i = 0; i < ck->n_arr; i++)
    if (strcmp(ck->arr_names[i], name) == 0) return true;
  return ck->st && nd_safetensors_info(ck->st, name, NULL, NULL, NULL) == ND_OK;
}

/* The array behind name: an added one, or one of the file (loaded into out). */
static nd_status fetch(const nd_checkpoint *ck, const char *name, nd_array *out) {
  for (int i = 0; i < ck->n_arr; i++)
    if (strcmp(ck->arr_names[i], name) == 0) {
      const nd_array *a = &ck->arrays[i];
      *out = *a;
      size_t bytes = (size_t)a->numel * nd_dtype_size(a->dtype);
      out->data = malloc(bytes > 0 ? bytes : 1);
      if (!out->data) return nd__error(ND_ERR_NOMEM, "checkpoint: out of memory");
      if (bytes) memcpy(out->data, a->data, bytes);
      return ND_OK;
    }
  if (!ck->st) return nd__error(ND_ERR_NOT_FOUND, "%s: no tensor '%s'", ck->name, name);
  if (nd_safetensors_info(ck->st, name, NULL, NULL, NULL) != ND_OK)
    return nd__error(ND_ERR_FORMAT, "%s: no tensor '%s' (not a complete checkpoint of this model)", ck->name, name);
  return nd_safetensors_get_array(ck->st, name, out);
}

static nd_status check_finite(const nd_checkpoint *ck, const char *name, const nd_array *a) {
  int64_t bad = -1;
  if (a->dtype == ND_DTYPE_F32) {
    const float *x = a->data;
    for (int64_t i = 0; i < a->numel && bad < 0; i++)
      if (!isfinite(x[i])) bad = i;
  } else if (a->dtype == ND_DTYPE_F64) {
    const double *x = a->data;
    for (int64_t i = 0; i < a->numel && bad < 0; i++)
      if (!isfinite(x[i])) bad = i;
  }
  if (bad >= 0)
    return nd__error(ND_ERR_FORMAT, "%s: tensor '%s' holds a NaN or infinite value (element %" PRId64 ")", ck->name,
                     name, bad);
  return ND_OK;
}

static void shape_str(int ndim, const int64_t *shape, char *buf, size_t len) {
  buf[0] = 0;
  for (int i = 0; i < ndim; i++) {
    size_t l = strlen(buf);
    if (shape[i] < 0) snprintf(buf + l, len - l, "%s*", i ? "x" : "");
    else snprintf(buf + l, len - l, "%s%" PRId64, i ? "x" : "", shape[i]);
  }
  if (ndim == 0) snprintf(buf, len, "scalar");
}

nd_status nd_checkpoint_get_tensor(const nd_checkpoint *ck, const char *name, int ndim, const int64_t *shape,
                                   nd_tensor *out) {
  if (!ck || !name || !out || ndim < 0 || ndim > ND_MAX_DIMS || (ndim > 0 && !shape))
    return nd__error(ND_ERR_INVALID_ARG, "nd_checkpoint_get_tensor: bad argument");
  memset(out, 0, sizeof *out);
  nd_array a = {0};
  ND_TRY(fetch(ck, name, &a));
  bool ok = a.ndim == ndim;
  for (int i = 0; ok && i < ndim; i++) ok = shape[i] < 0 || shape[i] == a.shape[i];
  nd_status s = ND_OK;
  if (!ok) {
    char want[96], got[96];
    shape_str(ndim, shape, want, sizeof want);
    shape_str(a.ndim, a.shape, got, sizeof got);
    s = nd__error(ND_ERR_SHAPE, "%s: tensor '%s' is %s, expected %s", ck->name, name, got, want);
  }
  if (s == ND_OK && a.dtype != ND_DTYPE_F32 && a.dtype != ND_DTYPE_F64 && a.dtype != ND_DTYPE_F16 &&
      a.dtype != ND_DTYPE_BF16)
    s = nd__error(ND_ERR_FORMAT, "%s: tensor '%s' is %s, expected floating point", ck->name, name, nd_dtype_name(a.dtype));
  if (s == ND_OK) s = nd_array_to_tensor(&a, out);
  if (s == ND_OK) {
    nd_array f = {.dtype = ND_DTYPE_F32, .numel = nd_tensor_numel(out), .data = out->data};
    s = check_finite(ck, name, &f);
    if (s != ND_OK) nd_tensor_release(out);
  }
  nd_array_release(&a);
  return s;
}

nd_status nd_checkpoint_get_array(const nd_checkpoint *ck, const char *name, nd_dtype dtype, int64_t numel,
                                  nd_array *out) {
  if (!ck || !name || !out) return nd__error(ND_ERR_INVALID_ARG, "nd_checkpoint_get_array: NULL argument");
  memset(out, 0, sizeof *out);
  ND_TRY(fetch(ck, name, out));
  nd_status s = ND_OK;
  if (out->dtype != dtype)
    s = nd__error(ND_ERR_FORMAT, "%s: tensor '%s' is %s, expected %s", ck->name, name, nd_dtype_name(out->dtype),
                  nd_dtype_name(dtype));
  else if (numel >= 0 && out->numel != numel)
    s = nd__error(ND_ERR_SHAPE, "%s: tensor '%s' has %" PRId64 " elements, expected %" PRId64, ck->name, name,
                  out->numel, numel);
  else
    s = check_finite(ck, name, out);
  if (s != ND_OK) nd_array_release(out);
  return s;
}

/* ------------------------------------------------------------ train state */

static const nd_meta_field state_fields[] = {
    ND_META_FIELD(nd_train_state, epoch, "state.epoch", ND_META_I64, 0, 1e15),
    ND_META_FIELD(nd_train_state, batch, "state.batch", ND_META_I64, 0, 1e15),
    ND_META_FIELD(nd_train_state, rng_key, "state.rng_key", ND_META_U64, 0, 1.8446744073709552e19),
    ND_META_FIELD(nd_train_state, rng_counter, "state.rng_counter", ND_META_U64, 0, 1.8446744073709552e19),
};

nd_status nd_checkpoint_put_state(nd_checkpoint *ck, const nd_train_state *st) {
  return nd_checkpoint_put_fields(ck, 4, state_fields, st);
}

nd_status nd_checkpoint_get_state(const nd_checkpoint *ck, nd_train_state *st) {
  if (!st) return nd__error(ND_ERR_INVALID_ARG, "nd_checkpoint_get_state: state is NULL");
  nd_train_state tmp = {0};
  ND_TRY(nd_checkpoint_get_fields(ck, 4, state_fields, &tmp));
  *st = tmp;
  return ND_OK;
}
