/* PyTorch checkpoints: the zip archive torch.save writes (PyTorch >= 1.6,
 * torch/serialization.py _save), holding
 *   <prefix>/data.pkl      the pickled object (here: a state_dict)
 *   <prefix>/data/<key>    one raw storage per key named in data.pkl
 *   <prefix>/byteorder     "little" or "big" (absent in older files: little)
 *   <prefix>/version, ...
 * The archive is read through libzip (never parsed here), data.pkl through
 * the safe reader of src/io/pickle.c, and each tensor is gathered from its
 * storage (offset and strides, shared storages read once) into a contiguous
 * array of the storage's dtype. */
#include <stdlib.h>
#include <string.h>

#include <zip.h>

#include "io/io_internal.h"
#include "io/pickle.h"
#include "neurodyn/tensorfile.h"

/* data.pkl may not exceed this (a state_dict's pickle is a few kB per tensor). */
#define PTH_MAX_PICKLE (256u << 20)

typedef struct pth {
  zip_t *za;
  const char *name;
  char prefix[256];
} pth;

/* Reads entry idx whole, or its first `want` bytes; fails when it holds fewer.
 * The buffer grows as data arrives, so a size declared by a hostile
 * archive costs no memory until the bytes are really there. */
static nd_status read_entry(pth *p, zip_int64_t idx, const char *what, uint64_t want, unsigned char **out,
                            uint64_t *got_out) {
  *out = NULL;
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(p->za, (zip_uint64_t)idx, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
    return nd__error(ND_ERR_FORMAT, "%s: %s: cannot stat the zip entry (%s)", p->name, what, zip_strerror(p->za));
  if (st.size < want)
    return nd__error(ND_ERR_FORMAT, "%s: %s holds %llu bytes, %llu are needed (a storage shorter than its tensors)",
                     p->name, what, (unsigned long long)st.size, (unsigned long long)want);
  zip_file_t *f = zip_fopen_index(p->za, (zip_uint64_t)idx, 0);
  if (!f) return nd__error(ND_ERR_FORMAT, "%s: %s: cannot open the zip entry (%s)", p->name, what, zip_strerror(p->za));
  size_t cap = 0, got = 0;
  unsigned char *b = NULL;
  nd_status s = ND_OK;
  while (got < want) {
    if (got == cap) {
      size_t c = cap ? cap * 2 : 65536;
      if (c > want) c = (size_t)want;
      unsigned char *q = realloc(b, c);
      if (!q) {
        s = nd__error(ND_ERR_NOMEM, "%s: %s: out of memory", p->name, what);
        break;
      }
      b = q;
      cap = c;
    }
    zip_int64_t r = zip_fread(f, b + got, cap - got);
    if (r < 0) {
      s = nd__error(ND_ERR_FORMAT, "%s: %s: %s", p->name, what, zip_file_strerror(f));
      break;
    }
    if (r == 0) {
      s = nd__error(ND_ERR_FORMAT, "%s: %s ends after %zu bytes, %llu are needed", p->name, what, got,
                    (unsigned long long)want);
      break;
    }
    got += (size_t)r;
  }
  zip_fclose(f);
  if (s != ND_OK) {
    free(b);
    return s;
  }
  if (!b) b = malloc(1);
  if (!b) return nd__error(ND_ERR_NOMEM, "%s: %s: out of memory", p->name, what);
  *out = b;
  if (got_out) *got_out = got;
  return ND_OK;
}

/* The entry "<prefix>/data.pkl": exactly one, at depth one. */
static nd_status find_pickle(pth *p, zip_int64_t *idx) {
  zip_int64_t n = zip_get_num_entries(p->za, 0);
  *idx = -1;
  for (zip_int64_t i = 0; i < n; i++) {
    const char *nm = zip_get_name(p->za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
    if (!nm) continue;
    const char *slash = strchr(nm, '/');
    if (!slash || slash == nm || strcmp(slash, "/data.pkl") != 0) continue;
    if (*idx >= 0)
      return nd__error(ND_ERR_FORMAT, "%s: the archive holds more than one data.pkl (not a single torch.save)", p->name);
    size_t k = (size_t)(slash - nm);
    if (k >= sizeof p->prefix) return nd__error(ND_ERR_FORMAT, "%s: archive folder name too long", p->name);
    memcpy(p->prefix, nm, k);
    p->prefix[k] = '\0';
    *idx = i;
  }
  if (*idx < 0)
    return nd__error(ND_ERR_FORMAT, "%s: a zip archive without <folder>/data.pkl: not a PyTorch torch.save checkpoint",
                     p->name);
  return ND_OK;
}

static nd_status byte_order(pth *p, bool *big) {
  char nm[300];
  snprintf(nm, sizeof nm, "%s/byteorder", p->prefix);
  *big = false;
  zip_int64_t idx = zip_name_locate(p->za, nm, ZIP_FL_ENC_RAW);
  if (idx < 0) return ND_OK;
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(p->za, (zip_uint64_t)idx, 0, &st) != 0 || st.size > 16)
    return nd__error(ND_ERR_FORMAT, "%s: byteorder entry is not 'little' or 'big'", p->name);
  unsigned char *b;
  ND_TRY(read_entry(p, idx, "byteorder", st.size, &b, NULL));
  bool little = st.size == 6 && !memcmp(b, "little", 6), bigo = st.size == 3 && !memcmp(b, "big", 3);
  free(b);
  if (!little && !bigo) return nd__error(ND_ERR_FORMAT, "%s: byteorder entry is not 'little' or 'big'", p->name);
  *big = bigo;
  return ND_OK;
}

/* Copies the view t of storage data (elements of esize bytes) into dst,
 * row-major. */
static void gather(const nd__pkl_tensor *t, const unsigned char *data, size_t esize, unsigned char *dst, int64_t numel) {
  if (numel == 0) return;
  /* contiguous row-major view: one copy */
  int64_t expect = 1;
  bool contiguous = true;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->size[d] != 1 && t->stride[d] != expect) contiguous = false;
    expect *= t->size[d];
  }
  if (contiguous) {
    memcpy(dst, data + (size_t)t->offset * esize, (size_t)numel * esize);
    return;
  }
  int64_t idx[ND_ARRAY_MAX_DIMS] = {0};
  int64_t src = t->offset;
  for (int64_t i = 0; i < numel; i++) {
    memcpy(dst + (size_t)i * esize, data + (size_t)src * esize, esize);
    for (int d = t->ndim - 1; d >= 0; d--) {
      if (++idx[d] < t->size[d]) {
        src += t->stride[d];
        break;
      }
      src -= (idx[d] - 1) * t->stride[d];
      idx[d] = 0;
    }
  }
}

static nd_status load(pth *p, nd_tensor_file *out) {
  zip_int64_t pkl_idx;
  ND_TRY(find_pickle(p, &pkl_idx));
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(p->za, (zip_uint64_t)pkl_idx, 0, &st) != 0)
    return nd__error(ND_ERR_FORMAT, "%s: data.pkl: %s", p->name, zip_strerror(p->za));
  if (st.size > PTH_MAX_PICKLE)
    return nd__error(ND_ERR_FORMAT, "%s: data.pkl is %llu bytes, more than a state_dict's pickle can be", p->name,
                     (unsigned long long)st.size);
  bool big;
  ND_TRY(byte_order(p, &big));
  unsigned char *pkl;
  uint64_t pkl_len;
  ND_TRY(read_entry(p, pkl_idx, "data.pkl", st.size, &pkl, &pkl_len));
  nd__pkl_state_dict sd;
  nd_status s = nd__pickle_state_dict(pkl, (size_t)pkl_len, p->name, &sd);
  free(pkl);
  if (s != ND_OK) return s;

  out->format = ND_FILE_ZIP;
  out->names = calloc((size_t)(sd.n > 0 ? sd.n : 1), sizeof *out->names);
  out->arrays = calloc((size_t)(sd.n > 0 ? sd.n : 1), sizeof *out->arrays);
  /* the tensors of each storage, as linked lists (first[k], then next[i]) */
  int *first = malloc((size_t)(sd.n_storages > 0 ? sd.n_storages : 1) * sizeof *first);
  int *next = malloc((size_t)(sd.n > 0 ? sd.n : 1) * sizeof *next);
  if (!out->names || !out->arrays || !first || !next) s = nd__error(ND_ERR_NOMEM, "%s: out of memory", p->name);
  if (s == ND_OK) {
    for (int k = 0; k < sd.n_storages; k++) first[k] = -1;
    for (int i = sd.n - 1; i >= 0; i--) {
      next[i] = first[sd.t[i].storage];
      first[sd.t[i].storage] = i;
    }
  }
  /* storage by storage: each read once, every tensor on it gathered */
  for (int k = 0; k < sd.n_storages && s == ND_OK; k++) {
    const nd__pkl_storage *ps = &sd.s[k];
    size_t esize = nd_dtype_size(ps->dtype);
    if (first[k] < 0) continue;
    char nm[300], what[320];
    snprintf(nm, sizeof nm, "%s/data/%s", p->prefix, ps->key);
    snprintf(what, sizeof what, "storage data/%s", ps->key);
    zip_int64_t idx = zip_name_locate(p->za, nm, ZIP_FL_ENC_RAW);
    if (idx < 0) {
      s = nd__error(ND_ERR_FORMAT, "%s: data.pkl names storage '%s' but the archive has no %s", p->name, ps->key, nm);
      break;
    }
    unsigned char *data;
    s = read_entry(p, idx, what, (uint64_t)ps->numel * esize, &data, NULL);
    for (int i = first[k]; i >= 0 && s == ND_OK; i = next[i]) {
      const nd__pkl_tensor *t = &sd.t[i];
      nd_array *a = &out->arrays[i];
      a->dtype = ps->dtype;
      a->ndim = t->ndim;
      a->numel = 1;
      for (int d = 0; d < ND_ARRAY_MAX_DIMS; d++) a->shape[d] = d < t->ndim ? t->size[d] : 1;
      for (int d = 0; d < t->ndim; d++) a->numel *= t->size[d];
      a->data = malloc(a->numel > 0 ? (size_t)a->numel * esize : 1);
      if (!a->data) {
        s = nd__error(ND_ERR_NOMEM, "%s: out of memory", p->name);
        break;
      }
      gather(t, data, esize, a->data, a->numel);
      if (big != !nd__little_endian() && esize > 1) nd__byteswap(a->data, a->numel, esize);
    }
    free(data);
  }
  free(first);
  free(next);
  for (int i = 0; i < sd.n && s == ND_OK; i++) {
    out->names[i] = sd.t[i].name;
    sd.t[i].name = NULL;
  }
  out->n = sd.n;
  nd__pickle_state_dict_release(&sd);
  return s;
}

nd_status nd_pth_parse(const void *buf, size_t len, const char *name, nd_tensor_file *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!out || (!buf && len) || !name)
    return nd__error(ND_ERR_INVALID_ARG, "pth_parse: NULL %s", !out ? "out" : !name ? "name" : "buffer");
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(len ? buf : "", len, 0, &ze);
  if (!src) {
    nd_status s = nd__error(ND_ERR_NOMEM, "%s: %s", name, zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return s;
  }
  zip_t *za = zip_open_from_source(src, ZIP_RDONLY, &ze);
  if (!za) {
    nd_status s = nd__error(ND_ERR_FORMAT, "%s: not a readable zip archive (%s)", name, zip_error_strerror(&ze));
    zip_source_free(src);
    zip_error_fini(&ze);
    return s;
  }
  zip_error_fini(&ze);
  pth p = {.za = za, .name = name};
  nd_status s = load(&p, out);
  zip_discard(za);
  if (s != ND_OK) nd_tensor_file_release(out);
  return s;
}

nd_status nd_pth_read(const char *path, nd_tensor_file *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!path || !out) return nd__error(ND_ERR_INVALID_ARG, "pth_read: NULL %s", path ? "out" : "path");
  unsigned char *buf = NULL;
  size_t len = 0;
  ND_TRY(nd__read_file(path, &buf, &len));
  nd_status s = nd_pth_parse(buf, len, path, out);
  free(buf);
  return s;
}
