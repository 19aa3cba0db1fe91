/* SGD (momentum, Nesterov), Adam, AdamW, RMSProp and gradient clipping.
 * The update formulas, with their sources, are listed in optim.h. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/dispatch.h"
#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "neurodyn/optim.h"
#include "neurodyn/checkpoint.h"

/* Element loops go parallel above this size; each element is independent, so
 * the result does not depend on the thread count. */
#define PAR_MIN 65536

struct nd_optim {
  nd_optim_config c;
  int n;
  nd_tensor **params;
  nd_tensor **grads;
  float **s1, **s2, **s3; /* per-parameter state buffers (NULL if unused) */
  int64_t t;              /* steps taken */
  bool has_schedule;
  nd_schedule schedule;
};

nd_optim_config nd_optim_defaults(nd_optim_kind kind) {
  nd_optim_config c;
  memset(&c, 0, sizeof c);
  c.kind = kind;
  c.beta1 = 0.9f;
  c.beta2 = 0.999f;
  c.eps = 1e-8f;
  c.alpha = 0.99f;
  switch (kind) {
    case ND_OPTIM_SGD: c.lr = 1e-2f; break;
    case ND_OPTIM_ADAM: c.lr = 1e-3f; break;
    case ND_OPTIM_ADAMW: c.lr = 1e-3f; c.weight_decay = 1e-2f; break;
    case ND_OPTIM_RMSPROP: c.lr = 1e-2f; break;
    case ND_OPTIM_MAXNORM: c.lr = 0.04f; c.momentum = 0.6f; c.clip = 1.0f; break;
    default: break;
  }
  return c;
}

static const char *kind_name(nd_optim_kind k) {
  switch (k) {
    case ND_OPTIM_SGD: return "sgd";
    case ND_OPTIM_ADAM: return "adam";
    case ND_OPTIM_ADAMW: return "adamw";
    case ND_OPTIM_RMSPROP: return "rmsprop";
    case ND_OPTIM_MAXNORM: return "maxnorm";
    default: return "optim";
  }
}

nd_status nd_optim_config_check(const nd_optim_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "optim: config is NULL");
  if ((int)c->kind < 0 || c->kind >= ND_OPTIM_KIND_COUNT_)
    return nd__error(ND_ERR_INVALID_ARG, "optim: unknown kind %d", (int)c->kind);
  const char *k = kind_name(c->kind);
#define CHECK(cond, field)                                                                                       \
  if (!(cond)) return nd__error(ND_ERR_INVALID_ARG, "optim %s: %s = %g is out of range (need %s)", k, #field, \
                                (double)c->field, #cond)
  CHECK(c->lr >= 0.0f && isfinite(c->lr), lr);
  CHECK(c->weight_decay >= 0.0f && isfinite(c->weight_decay), weight_decay);
  if (c->kind == ND_OPTIM_SGD || c->kind == ND_OPTIM_RMSPROP || c->kind == ND_OPTIM_MAXNORM)
    CHECK(c->momentum >= 0.0f && c->momentum < 1.0f, momentum);
  if (c->kind == ND_OPTIM_MAXNORM) {
    CHECK(c->clip >= 0.0f && isfinite(c->clip), clip);
    CHECK(c->weight_decay == 0.0f, weight_decay); /* the notebook has none */
  }
  if (c->kind == ND_OPTIM_SGD) {
    CHECK(c->dampening >= 0.0f && c->dampening <= 1.0f, dampening);
    if (c->nesterov && (c->momentum <= 0.0f || c->dampening != 0.0f))
      return nd__error(ND_ERR_INVALID_ARG, "optim sgd: nesterov needs momentum > 0 and dampening = 0");
  }
  if (c->kind == ND_OPTIM_ADAM || c->kind == ND_OPTIM_ADAMW) {
    CHECK(c->beta1 >= 0.0f && c->beta1 < 1.0f, beta1);
    CHECK(c->beta2 >= 0.0f && c->beta2 < 1.0f, beta2);
  }
  if (c->kind != ND_OPTIM_SGD && c->kind != ND_OPTIM_MAXNORM) CHECK(c->eps >= 0.0f && isfinite(c->eps), eps);
  if (c->kind == ND_OPTIM_RMSPROP) CHECK(c->alpha >= 0.0f && c->alpha < 1.0f, alpha);
#undef CHECK
  return ND_OK;
}

static float *state_alloc(int64_t n) {
  float *p = nd_aligned_alloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  if (p) memset(p, 0, (size_t)(n > 0 ? n : 1) * sizeof(float));
  return p;
}

void nd_optim_free(nd_optim *o) {
  if (!o) return;
  for (int i = 0; i < o->n; i++) {
    if (o->s1) nd_aligned_free(o->s1[i]);
    if (o->s2) nd_aligned_free(o->s2[i]);
    if (o->s3) nd_aligned_free(o->s3[i]);
  }
  free(o->s1);
  free(o->s2);
  free(o->s3);
  free(o->params);
  free(o->grads);
  free(o);
}

nd_status nd_optim_create(const nd_optim_config *c, int n, nd_tensor *const *params, nd_tensor *const *grads,
                          nd_optim **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "optim: out is NULL");
  *out = NULL;
  ND_TRY(nd_optim_config_check(c));
  if (n < 0 || (n > 0 && (!params || !grads))) return nd__error(ND_ERR_INVALID_ARG, "optim: bad parameter list");
  for (int i = 0; i < n; i++) {
    if (!params[i] || !grads[i]) return nd__error(ND_ERR_INVALID_ARG, "optim: parameter %d or its grad is NULL", i);
    if (!nd_tensor_same_shape(params[i], grads[i])) {
      char a[64], b[64];
      return nd__error(ND_ERR_SHAPE, "optim: parameter %d is %s but its grad is %s", i,
                       nd_tensor_shape_str(params[i], a, 64), nd_tensor_shape_str(grads[i], b, 64));
    }
    if (!nd_tensor_is_contiguous(params[i]) || !nd_tensor_is_contiguous(grads[i]))
      return nd__error(ND_ERR_INVALID_ARG, "optim: parameter %d or its grad is not contiguous", i);
    if (nd_tensor_numel(params[i]) > 0 && (!params[i]->data || !grads[i]->data))
      return nd__error(ND_ERR_INVALID_ARG, "optim: parameter %d or its grad has no data", i);
  }
  nd_optim *o = calloc(1, sizeof *o);
  if (!o) return nd__error(ND_ERR_NOMEM, "optim: out of memory");
  o->c = *c;
  o->n = n;
  size_t np = (size_t)(n > 0 ? n : 1);
  o->params = calloc(np, sizeof *o->params);
  o->grads = calloc(np, sizeof *o->grads);
  bool need1 = c->kind != ND_OPTIM_SGD || c->momentum > 0.0f;
  bool need2 = c->kind == ND_OPTIM_ADAM || c->kind == ND_OPTIM_ADAMW ||
               (c->kind == ND_OPTIM_RMSPROP && c->momentum > 0.0f);
  bool need3 = c->kind == ND_OPTIM_RMSPROP && c->centered;
  if (need1) o->s1 = calloc(np, sizeof *o->s1);
  if (need2) o->s2 = calloc(np, sizeof *o->s2);
  if (need3) o->s3 = calloc(np, sizeof *o->s3);
  bool ok = o->params && o->grads && (!need1 || o->s1) && (!need2 || o->s2) && (!need3 || o->s3);
  for (int i = 0; ok && i < n; i++) {
    o->params[i] = params[i];
    o->grads[i] = grads[i];
    int64_t m = nd_tensor_numel(params[i]);
    if (need1 && !(o->s1[i] = state_alloc(m))) ok = false;
    if (need2 && !(o->s2[i] = state_alloc(m))) ok = false;
    if (need3 && !(o->s3[i] = state_alloc(m))) ok = false;
  }
  if (!ok) {
    nd_optim_free(o);
    return nd__error(ND_ERR_NOMEM, "optim: out of memory for the state of %d parameters", n);
  }
  *out = o;
  return ND_OK;
}

nd_status nd_optim_reset_state(nd_optim *o) {
  if (!o) return nd__error(ND_ERR_INVALID_ARG, "optim reset_state: optimizer is NULL");
  for (int i = 0; i < o->n; i++) {
    size_t bytes = (size_t)nd_tensor_numel(o->params[i]) * sizeof(float);
    if (o->s1) memset(o->s1[i], 0, bytes);
    if (o->s2) memset(o->s2[i], 0, bytes);
    if (o->s3) memset(o->s3[i], 0, bytes);
  }
  o->t = 0;
  return ND_OK;
}

nd_status nd_optim_set_lr(nd_optim *o, float lr) {
  if (!o) return nd__error(ND_ERR_INVALID_ARG, "optim set_lr: optimizer is NULL");
  if (!(lr >= 0.0f) || !isfinite(lr))
    return nd__error(ND_ERR_INVALID_ARG, "optim set_lr: lr = %g, need a finite value >= 0", (double)lr);
  o->c.lr = lr;
  o->has_schedule = false;
  return ND_OK;
}

nd_status nd_optim_set_schedule(nd_optim *o, const nd_schedule *s) {
  if (!o) return nd__error(ND_ERR_INVALID_ARG, "optim set_schedule: optimizer is NULL");
  ND_TRY(nd_schedule_check(s));
  o->schedule = *s;
  o->has_schedule = true;
  return ND_OK;
}

float nd_optim_lr(const nd_optim *o) {
  if (!o) {
    nd__error(ND_ERR_INVALID_ARG, "optim lr: optimizer is NULL");
    return NAN;
  }
  return o->has_schedule ? nd_schedule_lr(&o->schedule, o->t) : o->c.lr;
}
int64_t nd_optim_steps(const nd_optim *o) {
  if (!o) {
    nd__error(ND_ERR_INVALID_ARG, "optim steps: optimizer is NULL");
    return -1;
  }
  return o->t;
}

nd_status nd_optim_zero_grad(nd_optim *o) {
  if (!o) return nd__error(ND_ERR_INVALID_ARG, "optim zero_grad: optimizer is NULL");
  for (int i = 0; i < o->n; i++) ND_TRY(nd_tensor_fill(o->grads[i], 0.0f));
  return ND_OK;
}

/* ------------------------------------------------------------- updates */
static void sgd_update(const nd_optim_config *c, bool first, float lr, float *restrict p, const float *restrict g,
                       float *restrict buf, int64_t n) {
  const float wd = c->weight_decay, mu = c->momentum, damp1 = (float)(1.0 - (double)c->dampening);
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
  for (int64_t j = 0; j < n; j++) {
    float d = g[j];
    if (wd != 0.0f) d = d + wd * p[j];
    if (mu != 0.0f) {
      float b = first ? d : buf[j] * mu + damp1 * d;
      buf[j] = b;
      d = c->nesterov ? d + mu * b : b;
    }
    p[j] = p[j] - lr * d;
  }
}

/* The constants of one Adam step (nd__adam_update). */
typedef struct {
  float b1, b2, omb1, omb2, eps, step_size, bc2_sqrt, wd, decay;
  bool decoupled;
} adam_step;

/* Elements [j0, j1) of one Adam step: one pass over p, g, m and v.  A
 * serial function, so that it gets the AVX2 / AVX-512 clones
 * (backend/cpu/dispatch.h); sqrtf vectorises because optim.c is compiled
 * with -fno-math-errno (CMakeLists.txt; the gradients were checked finite
 * before the step, and v >= 0). */
ND__HOT static void adam_range(const adam_step *k, float *restrict p, const float *restrict g, float *restrict m,
                               float *restrict v, int64_t j0, int64_t j1) {
  const float b1 = k->b1, b2 = k->b2, omb1 = k->omb1, omb2 = k->omb2, eps = k->eps, step = k->step_size;
  const float bc2s = k->bc2_sqrt, wd = k->wd, decay = k->decay;
  if (k->decoupled || wd != 0.0f) {
    for (int64_t j = j0; j < j1; j++) {
      float gj = g[j], pj = p[j];
      if (k->decoupled) pj = pj * decay;       /* Loshchilov & Hutter 2019, Alg. 2 line 12 */
      else gj = gj + wd * pj;                  /* L2 penalty in the gradient */
      float mj = m[j] * b1 + omb1 * gj;
      float vj = v[j] * b2 + omb2 * (gj * gj);
      m[j] = mj, v[j] = vj;
      p[j] = pj - step * (mj / (sqrtf(vj) / bc2s + eps));
    }
    return;
  }
  for (int64_t j = j0; j < j1; j++) {
    float gj = g[j];
    float mj = m[j] * b1 + omb1 * gj;          /* Alg. 1: m_t = b1 m + (1-b1) g */
    float vj = v[j] * b2 + omb2 * (gj * gj);   /*         v_t = b2 v + (1-b2) g^2 */
    m[j] = mj, v[j] = vj;
    p[j] = p[j] - step * (mj / (sqrtf(vj) / bc2s + eps)); /* p -= lr m_hat / (sqrt(v_hat) + eps) */
  }
}

/* Kingma & Ba 2015, Algorithm 1, in PyTorch's arrangement:
 * p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps). */
void nd__adam_update(const nd_optim_config *c, int64_t t, float lr, float *restrict p, const float *restrict g,
                     float *restrict m, float *restrict v, int64_t n) {
  const double bc1 = 1.0 - pow((double)c->beta1, (double)t), bc2 = 1.0 - pow((double)c->beta2, (double)t);
  adam_step k = {.b1 = c->beta1, .b2 = c->beta2, .omb1 = (float)(1.0 - (double)c->beta1),
                 .omb2 = (float)(1.0 - (double)c->beta2), .eps = c->eps, .step_size = (float)((double)lr / bc1),
                 .bc2_sqrt = (float)sqrt(bc2), .wd = c->weight_decay,
                 .decay = (float)(1.0 - (double)lr * (double)c->weight_decay), .decoupled = c->kind == ND_OPTIM_ADAMW};
  if (n <= PAR_MIN) {
    adam_range(&k, p, g, m, v, 0, n);
    return;
  }
#pragma omp parallel
  {
    int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
    int64_t per = (n + nt - 1) / nt / 16 * 16 + 16; /* 64-byte pieces */
    int64_t j0 = id * per < n ? id * per : n, j1 = j0 + per < n ? j0 + per : n;
    adam_range(&k, p, g, m, v, j0, j1);
  }
}

/* DAM notebook step (optim.h): b = mu b + g / gmax; p -= lr b; clip. */
static void maxnorm_update(const nd_optim_config *c, float lr, float inv_gmax, float *restrict p,
                           const float *restrict g, float *restrict b, int64_t n) {
  const float mu = c->momentum, clip = c->clip;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
  for (int64_t j = 0; j < n; j++) {
    float bj = mu * b[j] + g[j] * inv_gmax;
    b[j] = bj;
    float pj = p[j] - lr * bj;
    if (clip > 0.0f) pj = pj < -clip ? -clip : pj > clip ? clip : pj;
    p[j] = pj;
  }
}

/* Largest |g| over every gradient, floored at 1e-30 as the notebook does. */
static float max_abs_grad(const nd_optim *o) {
  float m = 0.0f;
  for (int i = 0; i < o->n; i++) {
    const float *g = o->grads[i]->data;
    int64_t n = nd_tensor_numel(o->grads[i]);
    for (int64_t j = 0; j < n; j++) m = fmaxf(m, fabsf(g[j]));
  }
  return m > 1e-30f ? m : 1e-30f;
}

static void rmsprop_update(const nd_optim_config *c, float lr, float *restrict p, const float *restrict g,
                           float *restrict sq, float *restrict buf, float *restrict gavg, int64_t n) {
  const float a = c->alpha, oma = (float)(1.0 - (double)c->alpha), eps = c->eps, mu = c->momentum,
              wd = c->weight_decay;
  const bool centered = c->centered;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
  for (int64_t j = 0; j < n; j++) {
    float gj = g[j];
    if (wd != 0.0f) gj = gj + wd * p[j];
    float s = sq[j] * a + oma * (gj * gj);
    sq[j] = s;
    float avg;
    if (centered) {
      float ga = gavg[j] * a + oma * gj;
      gavg[j] = ga;
      /* v - ga^2 >= 0 in exact arithmetic (Cauchy-Schwarz, the EMA weights
       * sum to <= 1) but can round below 0 once it is tiny: clamp, where
       * torch.optim would return NaN. */
      avg = sqrtf(fmaxf(s - ga * ga, 0.0f)) + eps;
    } else {
      avg = sqrtf(s) + eps;
    }
    if (mu > 0.0f) {
      float b = buf[j] * mu + gj / avg;
      buf[j] = b;
      p[j] = p[j] - lr * b;
    } else {
      p[j] = p[j] - lr * (gj / avg);
    }
  }
}

/* True if no element is NaN or Inf (exponent bits all ones); an integer OR
 * reduction, so it vectorises. */
static bool all_finite(const float *x, int64_t n) {
  uint32_t bad = 0;
  for (int64_t j = 0; j < n; j++) {
    uint32_t u;
    memcpy(&u, &x[j], sizeof u);
    bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

nd_status nd_optim_step(nd_optim *o) {
  if (!o) return nd__error(ND_ERR_INVALID_ARG, "optim step: optimizer is NULL");
  for (int i = 0; i < o->n; i++)
    if (!all_finite(o->grads[i]->data, nd_tensor_numel(o->grads[i])))
      return nd__error(ND_ERR_NUMERIC, "optim %s: gradient of parameter %d holds NaN or Inf at step %lld",
                       kind_name(o->c.kind), i, (long long)o->t + 1);
  float lr = nd_optim_lr(o);
  bool first = o->t == 0;
  o->t++;
  const float inv_gmax = o->c.kind == ND_OPTIM_MAXNORM ? 1.0f / max_abs_grad(o) : 0.0f;
  for (int i = 0; i < o->n; i++) {
    float *p = o->params[i]->data;
    const float *g = o->grads[i]->data;
    int64_t n = nd_tensor_numel(o->params[i]);
    switch (o->c.kind) {
      case ND_OPTIM_SGD: sgd_update(&o->c, first, lr, p, g, o->s1 ? o->s1[i] : NULL, n); break;
      case ND_OPTIM_ADAM:
      case ND_OPTIM_ADAMW: nd__adam_update(&o->c, o->t, lr, p, g, o->s1[i], o->s2[i], n); break;
      case ND_OPTIM_RMSPROP:
        rmsprop_update(&o->c, lr, p, g, o->s1[i], o->s2 ? o->s2[i] : NULL, o->s3 ? o->s3[i] : NULL, n);
        break;
      case ND_OPTIM_MAXNORM: maxnorm_update(&o->c, lr, inv_gmax, p, g, o->s1[i], n); break;
      default: return nd__error(ND_ERR_INTERNAL, "optim: unknown kind %d", (int)o->c.kind);
    }
  }
  return ND_OK;
}

/* ------------------------------------------------------------- clipping */
nd_status nd_clip_grad_norm(nd_tensor *const *grads, int n, double max_norm, double *norm_out) {
  if (norm_out) *norm_out = NAN;
  if (n < 0 || (n > 0 && !grads))
    return nd__error(ND_ERR_INVALID_ARG, "clip_grad_norm: %d gradients%s", n, n > 0 ? " but the list is NULL" : "");
  if (!(max_norm >= 0.0) || isnan(max_norm))
    return nd__error(ND_ERR_INVALID_ARG, "clip_grad_norm: max_norm = %g, need >= 0", max_norm);
  for (int i = 0; i < n; i++) {
    if (!grads[i]) return nd__error(ND_ERR_INVALID_ARG, "clip_grad_norm: gradient %d is NULL", i);
    if (!nd_tensor_is_contiguous(grads[i]))
      return nd__error(ND_ERR_INVALID_ARG, "clip_grad_norm: gradient %d is not contiguous", i);
    if (nd_tensor_numel(grads[i]) > 0 && !grads[i]->data)
      return nd__error(ND_ERR_INVALID_ARG, "clip_grad_norm: gradient %d has no data", i);
  }
  double sq = 0.0;
  for (int i = 0; i < n; i++) sq += nd_dot(grads[i]->data, grads[i]->data, nd_tensor_numel(grads[i]));
  double norm = sqrt(sq);
  double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0)
    for (int i = 0; i < n; i++) nd_scale((float)coef, grads[i]->data, nd_tensor_numel(grads[i]));
  if (norm_out) *norm_out = norm;
  return ND_OK;
}

nd_status nd_optim_clip_grad_norm(nd_optim *o, double max_norm, double *norm_out) {
  if (norm_out) *norm_out = NAN;
  if (!o) return nd__error(ND_ERR_INVALID_ARG, "optim clip_grad_norm: optimizer is NULL");
  return nd_clip_grad_norm(o->grads, o->n, max_norm, norm_out);
}

/* ------------------------------------------------------------ checkpoints */

static const char *const optim_kinds[] = {"sgd", "adam", "adamw", "rmsprop", "maxnorm", NULL};

static nd_status optim_buffers(const nd_optim *o, int i, float **b) {
  b[0] = o->s1 ? o->s1[i] : NULL;
  b[1] = o->s2 ? o->s2[i] : NULL;
  b[2] = o->s3 ? o->s3[i] : NULL;
  return ND_OK;
}

nd_status nd_optim_save(const nd_optim *o, nd_checkpoint *ck) {
  if (!o || !ck) return nd__error(ND_ERR_INVALID_ARG, "nd_optim_save: NULL argument");
  char v[32], name[48];
  snprintf(v, sizeof v, "%lld", (long long)o->t);
  ND_TRY(nd_checkpoint_put_meta(ck, "optim.steps", v));
  int k = (int)o->c.kind;
  ND_TRY(nd_checkpoint_put_meta(ck, "optim.kind", k >= 0 && k < 5 ? optim_kinds[k] : "?"));
  for (int i = 0; i < o->n; i++) {
    float *b[3];
    optim_buffers(o, i, b);
    for (int j = 0; j < 3; j++) {
      if (!b[j]) continue;
      nd_tensor t = nd_tensor_wrap(b[j], 1, ND_SHAPE(nd_tensor_numel(o->params[i])));
      snprintf(name, sizeof name, "optim.%d.s%d", i, j + 1);
      ND_TRY(nd_checkpoint_put_tensor(ck, name, &t));
    }
  }
  return ND_OK;
}

nd_status nd_optim_load(nd_optim *o, const nd_checkpoint *ck) {
  if (!o || !ck) return nd__error(ND_ERR_INVALID_ARG, "nd_optim_load: NULL argument");
  const nd_meta_field steps = ND_META_FIELD(nd_optim, t, "optim.steps", ND_META_I64, 0, 1e15);
  int k = (int)o->c.kind;
  const char *kind = nd_checkpoint_meta(ck, "optim.kind");
  if (!kind || k < 0 || k >= 5 || strcmp(kind, optim_kinds[k]) != 0)
    return nd__error(ND_ERR_FORMAT, "%s: metadata 'optim.kind' is %s, the optimizer is %s", nd_checkpoint_name(ck),
                     kind ? kind : "missing", k >= 0 && k < 5 ? optim_kinds[k] : "?");
  nd_optim tmp = *o;
  ND_TRY(nd_checkpoint_get_fields(ck, 1, &steps, &tmp));
  /* every buffer is checked before any is changed */
  char name[48];
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < o->n; i++) {
      float *b[3];
      optim_buffers(o, i, b);
      const int64_t n = nd_tensor_numel(o->params[i]);
      for (int j = 0; j < 3; j++) {
        if (!b[j]) continue;
        snprintf(name, sizeof name, "optim.%d.s%d", i, j + 1);
        nd_tensor t = {0};
        ND_TRY(nd_checkpoint_get_tensor(ck, name, 1, ND_SHAPE(n), &t));
        if (pass == 1) memcpy(b[j], t.data, sizeof(float) * (size_t)n);
        nd_tensor_release(&t);
      }
    }
  o->t = tmp.t;
  return ND_OK;
}
