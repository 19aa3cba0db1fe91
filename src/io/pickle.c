/* The minimal, safe state_dict pickle reader of src/io/pickle.h.
 *
 * Opcodes (Python's Lib/pickletools.py names them and gives their layout):
 * PROTO FRAME STOP MARK POP POP_MARK NONE NEWTRUE NEWFALSE BININT BININT1
 * BININT2 LONG1 BINFLOAT BINUNICODE SHORT_BINUNICODE BINUNICODE8
 * EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3 EMPTY_LIST APPEND APPENDS
 * EMPTY_DICT SETITEM SETITEMS GLOBAL STACK_GLOBAL REDUCE BUILD BINPERSID
 * BINPUT LONG_BINPUT MEMOIZE BINGET LONG_BINGET.  Everything else (INST,
 * OBJ, NEWOBJ, EXT*, PERSID as text, byte strings, ...) is refused. */
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"
#include "io/pickle.h"

enum vkind { V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_TUPLE, V_LIST, V_DICT, V_GLOBAL, V_STORAGE, V_TENSOR };

enum gkind { G_ODICT, G_REBUILD_V2, G_PARAM, G_STORAGE };

typedef struct val {
  enum vkind kind;
  int64_t i;        /* V_INT, V_BOOL; V_GLOBAL: enum gkind; V_STORAGE, V_TENSOR: index */
  nd_dtype dtype;   /* V_GLOBAL G_STORAGE */
  char *s;          /* V_STR (NUL-terminated copy) */
  size_t slen;
  int n, cap;       /* V_TUPLE, V_LIST: n items; V_DICT: n pairs (2n items) */
  struct val **items;
} val;

/* Open-addressing index of storage keys (a pickle may name many storages;
 * a linear search per persistent id would be quadratic). */
typedef struct keyindex {
  int *slot; /* storage index + 1, 0 = empty */
  size_t cap;
} keyindex;

typedef struct reader {
  const unsigned char *b;
  size_t len, pos, op_at;
  const char *name;
  val **pool; /* every value made, freed at the end */
  size_t n_pool, cap_pool;
  val **stack;
  size_t n_stack, cap_stack;
  size_t *marks;
  size_t n_marks, cap_marks;
  val **memo;
  size_t n_memo_slots, n_memo_set;
  nd__pkl_state_dict *sd;
  int cap_t, cap_s;
  keyindex keys;
} reader;

#define MEMO_MAX (1u << 20)

static nd_status perr(reader *r, nd_status s, const char *what) {
  return nd__error(s, "%s: pickle (data.pkl) byte %zu: %s", r->name, r->op_at, what);
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return true;
  size_t c = *cap ? *cap : 16;
  while (c < need) c *= 2;
  void *q = realloc(*p, c * elem);
  if (!q) return false;
  *p = q;
  *cap = c;
  return true;
}

static val *new_val(reader *r, enum vkind k) {
  if (!grow((void **)&r->pool, &r->cap_pool, r->n_pool + 1, sizeof *r->pool)) return NULL;
  val *v = calloc(1, sizeof *v);
  if (!v) return NULL;
  v->kind = k;
  r->pool[r->n_pool++] = v;
  return v;
}

static nd_status push(reader *r, val *v) {
  if (!v) return perr(r, ND_ERR_NOMEM, "out of memory");
  if (!grow((void **)&r->stack, &r->cap_stack, r->n_stack + 1, sizeof *r->stack))
    return perr(r, ND_ERR_NOMEM, "out of memory");
  r->stack[r->n_stack++] = v;
  return ND_OK;
}

/* The stack's floor: values below the innermost mark belong to it. */
static size_t floor_of(const reader *r) { return r->n_marks ? r->marks[r->n_marks - 1] : 0; }

static nd_status pop(reader *r, val **v) {
  *v = NULL;
  if (r->n_stack <= floor_of(r)) return perr(r, ND_ERR_FORMAT, "stack underflow");
  *v = r->stack[--r->n_stack];
  return ND_OK;
}

static nd_status top(reader *r, val **v) {
  *v = NULL;
  if (r->n_stack <= floor_of(r)) return perr(r, ND_ERR_FORMAT, "stack underflow");
  *v = r->stack[r->n_stack - 1];
  return ND_OK;
}

static nd_status pop_mark(reader *r, size_t *at) {
  *at = 0;
  if (!r->n_marks) return perr(r, ND_ERR_FORMAT, "no MARK on the stack");
  *at = r->marks[--r->n_marks];
  return ND_OK;
}

static nd_status need(reader *r, size_t n) {
  if (n > r->len - r->pos) return perr(r, ND_ERR_FORMAT, "truncated (the pickle ends inside an opcode)");
  return ND_OK;
}

static uint64_t le(const unsigned char *p, int n) {
  uint64_t x = 0;
  for (int i = n - 1; i >= 0; i--) x = (x << 8) | p[i];
  return x;
}

static nd_status add_items(reader *r, val *c, val **items, size_t n) {
  if (n == 0) return ND_OK;
  size_t cap = (size_t)c->cap;
  size_t have = (size_t)(c->kind == V_DICT ? 2 * c->n : c->n);
  if (have + n > (size_t)INT32_MAX) return perr(r, ND_ERR_FORMAT, "container too large");
  if (!grow((void **)&c->items, &cap, have + n, sizeof *c->items)) return perr(r, ND_ERR_NOMEM, "out of memory");
  c->cap = (int)cap;
  memcpy(c->items + have, items, n * sizeof *items);
  c->n += (int)(c->kind == V_DICT ? n / 2 : n);
  return ND_OK;
}

static nd_status make_tuple(reader *r, size_t from) {
  val *t = new_val(r, V_TUPLE);
  if (!t) return perr(r, ND_ERR_NOMEM, "out of memory");
  size_t n = r->n_stack - from;
  if (n) ND_TRY(add_items(r, t, r->stack + from, n));
  r->n_stack = from;
  return push(r, t);
}

/* "module.name" for a message: printable ASCII, at most 60 bytes of each. */
static void show(char *out, size_t cap, const char *a, size_t na, const char *b, size_t nb) {
  size_t k = 0;
  for (int part = 0; part < 2; part++) {
    const char *s = part ? b : a;
    size_t n = part ? nb : na;
    if (part && k + 1 < cap) out[k++] = '.';
    for (size_t i = 0; i < n && i < 60 && k + 4 < cap; i++) out[k++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    if (n > 60 && k + 4 < cap) k += (size_t)snprintf(out + k, cap - k, "...");
  }
  out[k < cap ? k : cap - 1] = '\0';
}

static bool is(const char *s, size_t n, const char *lit) { return strlen(lit) == n && memcmp(s, lit, n) == 0; }

static const struct {
  const char *name;
  nd_dtype dtype;
} storages[] = {
    {"FloatStorage", ND_DTYPE_F32}, {"DoubleStorage", ND_DTYPE_F64}, {"HalfStorage", ND_DTYPE_F16},
    {"BFloat16Storage", ND_DTYPE_BF16}, {"LongStorage", ND_DTYPE_I64}, {"IntStorage", ND_DTYPE_I32},
    {"ShortStorage", ND_DTYPE_I16}, {"CharStorage", ND_DTYPE_I8}, {"ByteStorage", ND_DTYPE_U8},
    {"BoolStorage", ND_DTYPE_BOOL},
};

static nd_status global(reader *r, const char *mod, size_t nm, const char *name, size_t nn) {
  val *g = new_val(r, V_GLOBAL);
  if (!g) return perr(r, ND_ERR_NOMEM, "out of memory");
  if (is(mod, nm, "collections") && is(name, nn, "OrderedDict")) {
    g->i = G_ODICT;
  } else if (is(mod, nm, "torch._utils") && is(name, nn, "_rebuild_tensor_v2")) {
    g->i = G_REBUILD_V2;
  } else if (is(mod, nm, "torch._utils") && is(name, nn, "_rebuild_parameter")) {
    g->i = G_PARAM;
  } else {
    bool found = false;
    if (is(mod, nm, "torch"))
      for (size_t k = 0; k < sizeof storages / sizeof storages[0] && !found; k++)
        if (is(name, nn, storages[k].name)) {
          g->i = G_STORAGE;
          g->dtype = storages[k].dtype;
          found = true;
        }
    if (!found) {
      char shown[160], msg[400];
      show(shown, sizeof shown, mod, nm, name, nn);
      snprintf(msg, sizeof msg,
               "global '%s' is not allowed (a state_dict needs only collections.OrderedDict, "
               "torch._utils._rebuild_tensor_v2 / _rebuild_parameter and torch storage types); nothing was run",
               shown);
      return perr(r, ND_ERR_UNSUPPORTED, msg);
    }
  }
  return push(r, g);
}

/* ---------------------------------------------------------------- storages */

/* 32-bit FNV-1a, computed without wrap-around (h < 2^32, so the product
 * stays below 2^57). */
static uint64_t hash_key(const char *s) {
  uint64_t h = 2166136261u;
  for (; *s; s++) h = ((h ^ (unsigned char)*s) * 16777619u) & 0xffffffffu;
  return h;
}

static int find_storage(reader *r, const char *key) {
  if (!r->keys.cap) return -1;
  for (size_t i = hash_key(key) & (r->keys.cap - 1);; i = (i + 1) & (r->keys.cap - 1)) {
    int s = r->keys.slot[i];
    if (!s) return -1;
    if (!strcmp(r->sd->s[s - 1].key, key)) return s - 1;
  }
}

static bool index_storage(reader *r, int idx) {
  if ((size_t)(idx + 1) * 2 > r->keys.cap) { /* keep the load under one half */
    size_t cap = r->keys.cap ? r->keys.cap * 2 : 64;
    int *slot = calloc(cap, sizeof *slot);
    if (!slot) return false;
    free(r->keys.slot);
    r->keys.slot = slot;
    r->keys.cap = cap;
    for (int k = 0; k < idx; k++) {
      size_t i = hash_key(r->sd->s[k].key) & (cap - 1);
      while (slot[i]) i = (i + 1) & (cap - 1);
      slot[i] = k + 1;
    }
  }
  size_t i = hash_key(r->sd->s[idx].key) & (r->keys.cap - 1);
  while (r->keys.slot[i]) i = (i + 1) & (r->keys.cap - 1);
  r->keys.slot[i] = idx + 1;
  return true;
}

/* BINPERSID: ('storage', torch.XStorage, key, location, numel). */
static nd_status persistent(reader *r) {
  val *pid;
  ND_TRY(pop(r, &pid));
  if (pid->kind != V_TUPLE || pid->n != 5 || pid->items[0]->kind != V_STR || !is(pid->items[0]->s, pid->items[0]->slen, "storage"))
    return perr(r, ND_ERR_FORMAT, "persistent id is not ('storage', type, key, location, numel)");
  val *type = pid->items[1], *key = pid->items[2], *loc = pid->items[3], *numel = pid->items[4];
  if (type->kind != V_GLOBAL || type->i != G_STORAGE)
    return perr(r, ND_ERR_FORMAT, "persistent id: the storage type is not a torch storage type");
  if (key->kind != V_STR || loc->kind != V_STR || numel->kind != V_INT)
    return perr(r, ND_ERR_FORMAT, "persistent id: key and location must be strings and numel an integer");
  if (key->slen == 0 || key->slen > 200 || strlen(key->s) != key->slen || strchr(key->s, '/') || !strcmp(key->s, "..") ||
      !strcmp(key->s, "."))
    return perr(r, ND_ERR_FORMAT, "persistent id: a storage key must be a plain name (no '/', no NUL, 1-200 bytes)");
  if (numel->i < 0 || numel->i > INT64_MAX / 16) return perr(r, ND_ERR_FORMAT, "persistent id: storage numel out of range");
  int idx = find_storage(r, key->s);
  if (idx >= 0) {
    if (r->sd->s[idx].dtype != type->dtype || r->sd->s[idx].numel != numel->i)
      return perr(r, ND_ERR_FORMAT, "storage key appears twice with different types or sizes");
  } else {
    if (r->sd->n_storages == INT32_MAX - 1) return perr(r, ND_ERR_FORMAT, "too many storages");
    size_t cap = (size_t)r->cap_s;
    if (!grow((void **)&r->sd->s, &cap, (size_t)r->sd->n_storages + 1, sizeof *r->sd->s))
      return perr(r, ND_ERR_NOMEM, "out of memory");
    r->cap_s = (int)cap;
    idx = r->sd->n_storages;
    nd__pkl_storage *s = &r->sd->s[idx];
    s->key = strdup(key->s);
    if (!s->key) return perr(r, ND_ERR_NOMEM, "out of memory");
    s->dtype = type->dtype;
    s->numel = numel->i;
    r->sd->n_storages++;
    if (!index_storage(r, idx)) return perr(r, ND_ERR_NOMEM, "out of memory");
  }
  val *v = new_val(r, V_STORAGE);
  if (!v) return perr(r, ND_ERR_NOMEM, "out of memory");
  v->i = idx;
  return push(r, v);
}

int64_t nd__pkl_tensor_extent(const nd__pkl_tensor *t) {
  int64_t last = t->offset;
  for (int d = 0; d < t->ndim; d++) {
    if (t->size[d] == 0) return 0;
    last += (t->size[d] - 1) * t->stride[d];
  }
  return last + 1;
}

static nd_status int_tuple(reader *r, const val *v, int64_t *out, int *n, const char *what) {
  char msg[128];
  if (v->kind != V_TUPLE) {
    snprintf(msg, sizeof msg, "_rebuild_tensor_v2: %s is not a tuple", what);
    return perr(r, ND_ERR_FORMAT, msg);
  }
  if (v->n > ND_ARRAY_MAX_DIMS) {
    snprintf(msg, sizeof msg, "_rebuild_tensor_v2: %d dimensions, at most %d are read", v->n, ND_ARRAY_MAX_DIMS);
    return perr(r, ND_ERR_UNSUPPORTED, msg);
  }
  for (int i = 0; i < v->n; i++) {
    if (v->items[i]->kind != V_INT || v->items[i]->i < 0 || v->items[i]->i > INT64_MAX / 16) {
      snprintf(msg, sizeof msg, "_rebuild_tensor_v2: %s[%d] is not an integer in [0, 2^59]", what, i);
      return perr(r, ND_ERR_FORMAT, msg);
    }
    out[i] = v->items[i]->i;
  }
  *n = v->n;
  return ND_OK;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
 * backward_hooks[, metadata]) (torch/_utils.py). */
static nd_status rebuild_tensor(reader *r, const val *args) {
  if (args->n != 6 && args->n != 7)
    return perr(r, ND_ERR_FORMAT, "_rebuild_tensor_v2 takes 6 or 7 arguments");
  const val *st = args->items[0], *off = args->items[1];
  if (st->kind != V_STORAGE) return perr(r, ND_ERR_FORMAT, "_rebuild_tensor_v2: first argument is not a storage");
  if (off->kind != V_INT || off->i < 0 || off->i > INT64_MAX / 16)
    return perr(r, ND_ERR_FORMAT, "_rebuild_tensor_v2: storage offset is not an integer >= 0");
  nd__pkl_tensor t = {0};
  t.storage = (int)st->i;
  t.offset = off->i;
  int ns;
  ND_TRY(int_tuple(r, args->items[2], t.size, &t.ndim, "size"));
  ND_TRY(int_tuple(r, args->items[3], t.stride, &ns, "stride"));
  if (ns != t.ndim) return perr(r, ND_ERR_FORMAT, "_rebuild_tensor_v2: size and stride differ in length");
  /* numel and the last element reached, without overflow */
  int64_t numel = 1, last = t.offset;
  bool empty = false;
  for (int d = 0; d < t.ndim; d++) {
    if (t.size[d] == 0) empty = true;
    if (t.size[d] && numel > (INT64_MAX / 16) / t.size[d]) return perr(r, ND_ERR_FORMAT, "_rebuild_tensor_v2: too many elements");
    numel *= t.size[d] ? t.size[d] : 1;
    int64_t step;
    if (t.size[d] && (__builtin_mul_overflow(t.size[d] - 1, t.stride[d], &step) || __builtin_add_overflow(last, step, &last) ||
                      last > INT64_MAX / 16))
      return perr(r, ND_ERR_FORMAT, "_rebuild_tensor_v2: the view reaches past any storage");
  }
  int64_t have = r->sd->s[t.storage].numel;
  if (!empty && last >= have) {
    char msg[200];
    snprintf(msg, sizeof msg,
             "a tensor view reaches element %lld of storage '%s', which holds %lld elements",
             (long long)last, r->sd->s[t.storage].key, (long long)have);
    return perr(r, ND_ERR_FORMAT, msg);
  }
  if (r->sd->n == INT32_MAX - 1) return perr(r, ND_ERR_FORMAT, "too many tensors");
  size_t cap = (size_t)r->cap_t;
  if (!grow((void **)&r->sd->t, &cap, (size_t)r->sd->n + 1, sizeof *r->sd->t)) return perr(r, ND_ERR_NOMEM, "out of memory");
  r->cap_t = (int)cap;
  r->sd->t[r->sd->n] = t;
  val *v = new_val(r, V_TENSOR);
  if (!v) return perr(r, ND_ERR_NOMEM, "out of memory");
  v->i = r->sd->n++;
  return push(r, v);
}

static nd_status reduce(reader *r) {
  val *args, *fn;
  ND_TRY(pop(r, &args));
  ND_TRY(pop(r, &fn));
  if (fn->kind != V_GLOBAL) return perr(r, ND_ERR_UNSUPPORTED, "REDUCE of something that is not an allowed global");
  if (args->kind != V_TUPLE) return perr(r, ND_ERR_FORMAT, "REDUCE arguments are not a tuple");
  switch ((enum gkind)fn->i) {
    case G_ODICT:
      if (args->n != 0) return perr(r, ND_ERR_UNSUPPORTED, "OrderedDict(...) with arguments is not read");
      return push(r, new_val(r, V_DICT));
    case G_REBUILD_V2: return rebuild_tensor(r, args);
    case G_PARAM:
      if (args->n != 3 || args->items[0]->kind != V_TENSOR)
        return perr(r, ND_ERR_FORMAT, "_rebuild_parameter takes (tensor, requires_grad, hooks)");
      return push(r, args->items[0]);
    case G_STORAGE:
    default: return perr(r, ND_ERR_UNSUPPORTED, "REDUCE of a storage type is not read");
  }
}

static nd_status memo_put(reader *r, uint64_t idx) {
  val *v;
  ND_TRY(top(r, &v));
  if (idx >= MEMO_MAX) return perr(r, ND_ERR_UNSUPPORTED, "memo index too large");
  if (idx >= r->n_memo_slots) {
    size_t cap = r->n_memo_slots;
    val **m = r->memo;
    size_t want = (size_t)idx + 1;
    size_t c = cap ? cap : 64;
    while (c < want) c *= 2;
    if (c > MEMO_MAX) c = MEMO_MAX;
    m = realloc(m, c * sizeof *m);
    if (!m) return perr(r, ND_ERR_NOMEM, "out of memory");
    memset(m + cap, 0, (c - cap) * sizeof *m);
    r->memo = m;
    r->n_memo_slots = c;
  }
  if (!r->memo[idx]) r->n_memo_set++;
  r->memo[idx] = v;
  return ND_OK;
}

static nd_status memo_get(reader *r, uint64_t idx) {
  if (idx >= r->n_memo_slots || !r->memo[idx]) return perr(r, ND_ERR_FORMAT, "memo entry read before it was written");
  return push(r, r->memo[idx]);
}

static nd_status string(reader *r, size_t lenbytes) {
  ND_TRY(need(r, lenbytes));
  uint64_t n = le(r->b + r->pos, (int)lenbytes);
  r->pos += lenbytes;
  ND_TRY(need(r, n));
  val *v = new_val(r, V_STR);
  if (!v) return perr(r, ND_ERR_NOMEM, "out of memory");
  v->s = malloc((size_t)n + 1);
  if (!v->s) return perr(r, ND_ERR_NOMEM, "out of memory");
  memcpy(v->s, r->b + r->pos, (size_t)n);
  v->s[n] = '\0';
  v->slen = (size_t)n;
  r->pos += (size_t)n;
  return push(r, v);
}

static nd_status integer(reader *r, int64_t x) {
  val *v = new_val(r, V_INT);
  if (!v) return perr(r, ND_ERR_NOMEM, "out of memory");
  v->i = x;
  return push(r, v);
}

static nd_status run(reader *r, val **result) {
  for (;;) {
    r->op_at = r->pos;
    if (r->pos >= r->len) return perr(r, ND_ERR_FORMAT, "ends without STOP");
    unsigned char op = r->b[r->pos++];
    switch (op) {
      case 0x80: /* PROTO */
        ND_TRY(need(r, 1));
        if (r->b[r->pos] < 2 || r->b[r->pos] > 5) return perr(r, ND_ERR_UNSUPPORTED, "pickle protocol outside 2..5");
        r->pos++;
        break;
      case 0x95: /* FRAME: a length we need not use */
        ND_TRY(need(r, 8));
        r->pos += 8;
        break;
      case '.': /* STOP */
        return pop(r, result);
      case '(': /* MARK */
        if (!grow((void **)&r->marks, &r->cap_marks, r->n_marks + 1, sizeof *r->marks))
          return perr(r, ND_ERR_NOMEM, "out of memory");
        r->marks[r->n_marks++] = r->n_stack;
        break;
      case '0': { /* POP */
        val *v;
        ND_TRY(pop(r, &v));
        break;
      }
      case '1': { /* POP_MARK */
        size_t at;
        ND_TRY(pop_mark(r, &at));
        r->n_stack = at;
        break;
      }
      case 'N': ND_TRY(push(r, new_val(r, V_NONE))); break;
      case 0x88:
      case 0x89: { /* NEWTRUE, NEWFALSE */
        val *v = new_val(r, V_BOOL);
        if (v) v->i = op == 0x88;
        ND_TRY(push(r, v));
        break;
      }
      case 'J': /* BININT */
        ND_TRY(need(r, 4));
        ND_TRY(integer(r, (int32_t)(uint32_t)le(r->b + r->pos, 4)));
        r->pos += 4;
        break;
      case 'K': /* BININT1 */
        ND_TRY(need(r, 1));
        ND_TRY(integer(r, r->b[r->pos]));
        r->pos += 1;
        break;
      case 'M': /* BININT2 */
        ND_TRY(need(r, 2));
        ND_TRY(integer(r, (int64_t)le(r->b + r->pos, 2)));
        r->pos += 2;
        break;
      case 0x8a: { /* LONG1: n bytes, little-endian two's complement */
        ND_TRY(need(r, 1));
        unsigned n = r->b[r->pos++];
        if (n > 8) return perr(r, ND_ERR_UNSUPPORTED, "integer wider than 64 bits");
        ND_TRY(need(r, n));
        uint64_t u = n ? le(r->b + r->pos, (int)n) : 0;
        int64_t v = (int64_t)u; /* n == 8: two's complement as is */
        if (n && n < 8 && (r->b[r->pos + n - 1] & 0x80)) v -= (int64_t)1 << (8 * n);
        r->pos += n;
        ND_TRY(integer(r, v));
        break;
      }
      case 'G': { /* BINFLOAT, big-endian */
        ND_TRY(need(r, 8));
        uint64_t u = 0;
        for (int i = 0; i < 8; i++) u = (u << 8) | r->b[r->pos + i];
        r->pos += 8;
        val *v = new_val(r, V_FLOAT);
        if (v) memcpy(&v->i, &u, sizeof u);
        ND_TRY(push(r, v));
        break;
      }
      case 'X': ND_TRY(string(r, 4)); break;    /* BINUNICODE */
      case 0x8c: ND_TRY(string(r, 1)); break;   /* SHORT_BINUNICODE */
      case 0x8d: ND_TRY(string(r, 8)); break;   /* BINUNICODE8 */
      case ')': ND_TRY(push(r, new_val(r, V_TUPLE))); break; /* EMPTY_TUPLE */
      case 't': { /* TUPLE */
        size_t at;
        ND_TRY(pop_mark(r, &at));
        ND_TRY(make_tuple(r, at));
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: { /* TUPLE1..3 */
        size_t n = (size_t)(op - 0x84);
        if (r->n_stack < floor_of(r) + n) return perr(r, ND_ERR_FORMAT, "stack underflow");
        ND_TRY(make_tuple(r, r->n_stack - n));
        break;
      }
      case ']': ND_TRY(push(r, new_val(r, V_LIST))); break; /* EMPTY_LIST */
      case '}': ND_TRY(push(r, new_val(r, V_DICT))); break; /* EMPTY_DICT */
      case 'a': { /* APPEND */
        val *x, *l;
        ND_TRY(pop(r, &x));
        ND_TRY(top(r, &l));
        if (l->kind != V_LIST) return perr(r, ND_ERR_FORMAT, "APPEND to something that is not a list");
        ND_TRY(add_items(r, l, &x, 1));
        break;
      }
      case 'e': { /* APPENDS */
        size_t at;
        ND_TRY(pop_mark(r, &at));
        if (at == 0 || at <= floor_of(r) || r->stack[at - 1]->kind != V_LIST)
          return perr(r, ND_ERR_FORMAT, "APPENDS to something that is not a list");
        ND_TRY(add_items(r, r->stack[at - 1], r->stack + at, r->n_stack - at));
        r->n_stack = at;
        break;
      }
      case 's': { /* SETITEM */
        val *kv[2], *d;
        ND_TRY(pop(r, &kv[1]));
        ND_TRY(pop(r, &kv[0]));
        ND_TRY(top(r, &d));
        if (d->kind != V_DICT) return perr(r, ND_ERR_FORMAT, "SETITEM on something that is not a dict");
        ND_TRY(add_items(r, d, kv, 2));
        break;
      }
      case 'u': { /* SETITEMS */
        size_t at;
        ND_TRY(pop_mark(r, &at));
        if (at == 0 || at <= floor_of(r) || r->stack[at - 1]->kind != V_DICT)
          return perr(r, ND_ERR_FORMAT, "SETITEMS on something that is not a dict");
        if ((r->n_stack - at) % 2) return perr(r, ND_ERR_FORMAT, "SETITEMS with an odd number of items");
        ND_TRY(add_items(r, r->stack[at - 1], r->stack + at, r->n_stack - at));
        r->n_stack = at;
        break;
      }
      case 'c': { /* GLOBAL "module\nname\n" */
        const char *m = (const char *)r->b + r->pos, *end = (const char *)r->b + r->len;
        const char *nl1 = memchr(m, '\n', (size_t)(end - m));
        if (!nl1) return perr(r, ND_ERR_FORMAT, "GLOBAL: truncated");
        const char *nm = nl1 + 1;
        const char *nl2 = memchr(nm, '\n', (size_t)(end - nm));
        if (!nl2) return perr(r, ND_ERR_FORMAT, "GLOBAL: truncated");
        r->pos = (size_t)(nl2 + 1 - (const char *)r->b);
        ND_TRY(global(r, m, (size_t)(nl1 - m), nm, (size_t)(nl2 - nm)));
        break;
      }
      case 0x93: { /* STACK_GLOBAL */
        val *nm, *m;
        ND_TRY(pop(r, &nm));
        ND_TRY(pop(r, &m));
        if (nm->kind != V_STR || m->kind != V_STR) return perr(r, ND_ERR_FORMAT, "STACK_GLOBAL of non-strings");
        ND_TRY(global(r, m->s, m->slen, nm->s, nm->slen));
        break;
      }
      case 'R': ND_TRY(reduce(r)); break; /* REDUCE */
      case 'b': { /* BUILD: the state (OrderedDict's _metadata) is not needed */
        val *state, *obj;
        ND_TRY(pop(r, &state));
        ND_TRY(top(r, &obj));
        if (obj->kind != V_DICT) return perr(r, ND_ERR_UNSUPPORTED, "BUILD of something other than a dict");
        break;
      }
      case 'Q': ND_TRY(persistent(r)); break; /* BINPERSID */
      case 'q': /* BINPUT */
        ND_TRY(need(r, 1));
        ND_TRY(memo_put(r, r->b[r->pos]));
        r->pos += 1;
        break;
      case 'r': /* LONG_BINPUT */
        ND_TRY(need(r, 4));
        ND_TRY(memo_put(r, le(r->b + r->pos, 4)));
        r->pos += 4;
        break;
      case 0x94: /* MEMOIZE */
        ND_TRY(memo_put(r, r->n_memo_set));
        break;
      case 'h': /* BINGET */
        ND_TRY(need(r, 1));
        ND_TRY(memo_get(r, r->b[r->pos]));
        r->pos += 1;
        break;
      case 'j': /* LONG_BINGET */
        ND_TRY(need(r, 4));
        ND_TRY(memo_get(r, le(r->b + r->pos, 4)));
        r->pos += 4;
        break;
      default: {
        char msg[96];
        snprintf(msg, sizeof msg, "opcode 0x%02x is not one a state_dict uses; refused", op);
        return perr(r, ND_ERR_UNSUPPORTED, msg);
      }
    }
  }
}

void nd__pickle_state_dict_release(nd__pkl_state_dict *sd) {
  if (!sd) return;
  for (int i = 0; i < sd->n; i++) free(sd->t[i].name);
  for (int i = 0; i < sd->n_storages; i++) free(sd->s[i].key);
  free(sd->t);
  free(sd->s);
  memset(sd, 0, sizeof *sd);
}

static int cmp_name(const void *a, const void *b) {
  return strcmp((*(const nd__pkl_tensor *const *)a)->name, (*(const nd__pkl_tensor *const *)b)->name);
}

static const char *kind_phrase(enum vkind k) {
  switch (k) {
    case V_NONE: return "None";
    case V_BOOL: return "a bool";
    case V_INT: return "an integer";
    case V_FLOAT: return "a float";
    case V_STR: return "a string";
    case V_TUPLE: return "a tuple";
    case V_LIST: return "a list";
    case V_DICT: return "a dict";
    case V_STORAGE: return "a storage";
    default: return "a global";
  }
}

/* The state_dict: the pickled dict's entries as tensors, named. */
static nd_status collect(reader *r, const val *d) {
  nd__pkl_state_dict *sd = r->sd;
  if (d->kind != V_DICT) {
    char msg[128];
    snprintf(msg, sizeof msg, "the pickled object is %s, not a dict of tensors (a state_dict)", kind_phrase(d->kind));
    return nd__error(ND_ERR_FORMAT, "%s: %s", r->name, msg);
  }
  /* the output tensors are the dict's values, in dict order; one record per
   * entry (the same tensor may be the value of two keys) */
  nd__pkl_tensor *views = sd->t;
  nd__pkl_tensor *out = calloc((size_t)(d->n > 0 ? d->n : 1), sizeof *out);
  if (!out) return nd__error(ND_ERR_NOMEM, "%s: out of memory", r->name);
  sd->t = out;
  sd->n = 0;
  nd_status s = ND_OK;
  for (int i = 0; i < d->n && s == ND_OK; i++) {
    const val *k = d->items[2 * i], *v = d->items[2 * i + 1];
    if (k->kind != V_STR || strlen(k->s) != k->slen || k->slen == 0) {
      s = nd__error(ND_ERR_FORMAT, "%s: state_dict entry %d: the key is not a non-empty string without NUL", r->name, i);
      break;
    }
    if (v->kind != V_TENSOR) {
      s = nd__error(ND_ERR_FORMAT,
                    "%s: state_dict key '%.100s' holds %s, not a tensor (a checkpoint that wraps the state_dict, "
                    "e.g. {'model': ...}, is not read: save model.state_dict() itself)",
                    r->name, k->s, kind_phrase(v->kind));
      break;
    }
    out[i] = views[v->i];
    out[i].name = strdup(k->s);
    if (!out[i].name) s = nd__error(ND_ERR_NOMEM, "%s: out of memory", r->name);
    sd->n = i + 1;
  }
  free(views);
  if (s != ND_OK) return s;
  const nd__pkl_tensor **sorted = malloc((size_t)(sd->n > 0 ? sd->n : 1) * sizeof *sorted);
  if (!sorted) return nd__error(ND_ERR_NOMEM, "%s: out of memory", r->name);
  for (int i = 0; i < sd->n; i++) sorted[i] = &sd->t[i];
  qsort(sorted, (size_t)sd->n, sizeof *sorted, cmp_name);
  for (int i = 1; i < sd->n && s == ND_OK; i++)
    if (!strcmp(sorted[i - 1]->name, sorted[i]->name))
      s = nd__error(ND_ERR_FORMAT, "%s: state_dict key '%.100s' appears twice", r->name, sorted[i]->name);
  free(sorted);
  return s;
}

nd_status nd__pickle_state_dict(const unsigned char *buf, size_t len, const char *name, nd__pkl_state_dict *out) {
  memset(out, 0, sizeof *out);
  reader r = {.b = buf, .len = len, .name = name, .sd = out};
  val *result = NULL;
  nd_status s = run(&r, &result);
  if (s == ND_OK) s = collect(&r, result);
  for (size_t i = 0; i < r.n_pool; i++) {
    free(r.pool[i]->s);
    free(r.pool[i]->items);
    free(r.pool[i]);
  }
  free(r.pool);
  free(r.stack);
  free(r.marks);
  free(r.memo);
  free(r.keys.slot);
  if (s != ND_OK) nd__pickle_state_dict_release(out);
  return s;
}
