/* Recurrent networks trained without storing activations: the model, the
 * loss over a sequence and its gradient, Adam, the training loop
 * (include/neurodyn/rnn.h, docs/rnn.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "rnn_internal.h"

#define RNN_MAX_UNITS 65536
#define RNN_MAX_T 100000000

static const char *const cell_names[] = {"tanh", "reversible", "unitary", "gru", "approx"};

nd_rnn_config nd_rnn_defaults(void) {
  nd_rnn_config c = {.cell = ND_RNN_UNITARY, .inputs = 10, .hidden = 128, .outputs = 9, .layers = 8, .frac_bits = 32,
                     .init_scale = 1.0, .inverse_weight = 1.0, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .clip = 1.0,
                     .task = ND_RNN_TASK_COPY, .length = 100, .batch = 32, .steps = 50, .seed = 1};
  return c;
}

nd_status nd_rnn_config_check(const nd_rnn_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "rnn: config is NULL");
  if ((unsigned)c->cell > ND_RNN_APPROX) return nd__error(ND_ERR_INVALID_ARG, "rnn: cell = %d unknown", (int)c->cell);
  if (c->hidden < 2 || c->hidden > RNN_MAX_UNITS)
    return nd__error(ND_ERR_INVALID_ARG, "rnn: hidden = %lld, expected 2..%d", (long long)c->hidden, RNN_MAX_UNITS);
  if ((c->cell == ND_RNN_REVERSIBLE || c->cell == ND_RNN_UNITARY) && c->hidden % 2)
    return nd__error(ND_ERR_INVALID_ARG, "rnn: hidden = %lld, must be even for the %s cell", (long long)c->hidden,
                     cell_names[c->cell]);
  if (c->inputs < 1 || c->inputs > RNN_MAX_UNITS || c->outputs < 1 || c->outputs > RNN_MAX_UNITS)
    return nd__error(ND_ERR_INVALID_ARG, "rnn: inputs = %lld, outputs = %lld, expected 1..%d", (long long)c->inputs,
                     (long long)c->outputs, RNN_MAX_UNITS);
  if (c->cell == ND_RNN_UNITARY && (c->layers < 1 || c->layers > c->hidden))
    return nd__error(ND_ERR_INVALID_ARG, "rnn: layers = %lld, expected 1..hidden (%lld)", (long long)c->layers, (long long)c->hidden);
  if (c->frac_bits < 8 || c->frac_bits > 40)
    return nd__error(ND_ERR_INVALID_ARG, "rnn: frac_bits = %d, expected 8..40", c->frac_bits);
  if (!(c->init_scale >= 0 && c->init_scale <= 100))
    return nd__error(ND_ERR_INVALID_ARG, "rnn: init_scale = %g, expected 0..100", c->init_scale);
  if (!(c->inverse_weight >= 0 && c->inverse_weight <= 1e6))
    return nd__error(ND_ERR_INVALID_ARG, "rnn: inverse_weight = %g, expected 0..1e6", c->inverse_weight);
  if (!(c->lr > 0 && c->lr < 10)) return nd__error(ND_ERR_INVALID_ARG, "rnn: lr = %g, expected (0, 10)", c->lr);
  if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
    return nd__error(ND_ERR_INVALID_ARG, "rnn: beta1 = %g, beta2 = %g, expected [0, 1)", c->beta1, c->beta2);
  if (!(c->eps > 0 && c->eps < 1)) return nd__error(ND_ERR_INVALID_ARG, "rnn: eps = %g, expected (0, 1)", c->eps);
  if (!(c->clip >= 0 && c->clip < 1e12)) return nd__error(ND_ERR_INVALID_ARG, "rnn: clip = %g, expected >= 0", c->clip);
  if ((unsigned)c->task > ND_RNN_TASK_ADDING) return nd__error(ND_ERR_INVALID_ARG, "rnn: task = %d unknown", (int)c->task);
  if (c->length < (c->task == ND_RNN_TASK_ADDING ? 2 : 1) || c->length > RNN_MAX_T)
    return nd__error(ND_ERR_INVALID_ARG, "rnn: length = %lld, expected %d..%d", (long long)c->length,
                     c->task == ND_RNN_TASK_ADDING ? 2 : 1, RNN_MAX_T);
  if (c->batch < 1 || c->batch > 100000) return nd__error(ND_ERR_INVALID_ARG, "rnn: batch = %lld, expected 1..100000", (long long)c->batch);
  if (c->steps < 1 || c->steps > 1000000000) return nd__error(ND_ERR_INVALID_ARG, "rnn: steps = %lld, expected >= 1", (long long)c->steps);
  return ND_OK;
}

void nd_rnn_free(nd_rnn *m) {
  if (!m) return;
  free(m->p), free(m->g), free(m->adam_m), free(m->adam_v);
  free(m->h), free(m->gh), free(m->a), free(m->f), free(m->xd), free(m->z), free(m->q), free(m->cs), free(m->gg), free(m->gref);
  free(m->lab), free(m->gs_mine), free(m->gs_recv), free(m->gs_out);
  nd__rnn_stream_free(&m->task);
  nd_arena_free(m->arena);
  free(m);
}

static void *counted(nd_rnn *m, size_t n, size_t size) {
  m->fixed_bytes += n * size;
  return calloc(n ? n : 1, size);
}

/* The per-batch buffers for B rows. */
static nd_status grow(nd_rnn *m, int64_t B) {
  if (B <= m->cap_b) return ND_OK;
  int64_t n = m->c.hidden, w = n > m->c.outputs ? n : m->c.outputs;
  free(m->h), free(m->gh), free(m->a), free(m->f), free(m->xd), free(m->z), free(m->q), free(m->lab), free(m->gg);
  m->gg = m->c.cell == ND_RNN_GRU ? counted(m, (size_t)(4 * B * n), sizeof(double)) : NULL;
  m->lab = counted(m, (size_t)B, sizeof(int32_t));
  m->h = counted(m, (size_t)(B * n), sizeof(double)), m->gh = counted(m, (size_t)(B * n), sizeof(double));
  m->a = counted(m, (size_t)(B * w), sizeof(double)), m->f = counted(m, (size_t)(B * n), sizeof(double));
  m->xd = counted(m, (size_t)(B * m->c.inputs), sizeof(double)), m->z = counted(m, (size_t)(B * m->c.outputs), sizeof(double));
  m->q = counted(m, (size_t)(B * n), sizeof(int64_t));
  if (!m->h || !m->gh || !m->a || !m->f || !m->xd || !m->z || !m->q || !m->lab || (m->c.cell == ND_RNN_GRU && !m->gg)) return nd__error(ND_ERR_NOMEM, "rnn: out of memory");
  m->cap_b = B;
  return ND_OK;
}

/* Parameter layout (docs/rnn.md): tanh W [n, n], U [n, in], b [n];
 * reversible W1 [m, m], U1 [m, in], b1 [m], W2, U2, b2 (m = n/2); unitary
 * theta [L, n/2], U [n, in]; then the readout V [out, n], c [out]. */
static void layout(nd_rnn *m) {
  const nd_rnn_config *c = &m->c;
  int64_t n = c->hidden, in = c->inputs, o = 0, hm = n / 2;
  if (c->cell == ND_RNN_TANH || c->cell == ND_RNN_APPROX) {
    m->oW = o, o += n * n, m->oU = o, o += n * in, m->ob = o, o += n;
    if (c->cell == ND_RNN_APPROX) m->oW2 = o, o += n * n, m->oU2 = o, o += n * in, m->ob2 = o, o += n; /* g: A, C, e */
  } else if (c->cell == ND_RNN_REVERSIBLE) {
    m->oW = o, o += hm * hm, m->oU = o, o += hm * in, m->ob = o, o += hm;
    m->oW2 = o, o += hm * hm, m->oU2 = o, o += hm * in, m->ob2 = o, o += hm;
  } else if (c->cell == ND_RNN_GRU) {
    m->oW = o, o += n * n, m->oU = o, o += n * in, m->ob = o, o += n;    /* update gate z */
    m->oW2 = o, o += n * n, m->oU2 = o, o += n * in, m->ob2 = o, o += n; /* reset gate r */
    m->oW3 = o, o += n * n, m->oU3 = o, o += n * in, m->ob3 = o, o += n; /* candidate */
  } else m->oth = o, o += c->layers * hm, m->oU = o, o += n * in;
  m->oV = o, o += c->outputs * n, m->oc = o, o += c->outputs;
  m->np = o;
}

static void init_params(nd_rnn *m) {
  const nd_rnn_config *c = &m->c;
  nd_rng root, r;
  nd_rng_init(&root, c->seed);
  r = nd_rng_split(&root, 1);
  int64_t n = c->hidden, in = c->inputs, hm = n / 2;
  double *p = m->p;
  if (c->cell == ND_RNN_TANH || c->cell == ND_RNN_APPROX) nd_rng_normal_f64(&r, p + m->oW, n * n, 0, c->init_scale / sqrt((double)n));
  if (c->cell == ND_RNN_APPROX) {
    nd_rng_normal_f64(&r, p + m->oW2, n * n, 0, 1 / sqrt((double)n));
    nd_rng_normal_f64(&r, p + m->oU2, n * in, 0, 1 / sqrt((double)in));
  }
  if (c->cell == ND_RNN_REVERSIBLE) {
    nd_rng_normal_f64(&r, p + m->oW, hm * hm, 0, c->init_scale / sqrt((double)hm));
    nd_rng_normal_f64(&r, p + m->oW2, hm * hm, 0, c->init_scale / sqrt((double)hm));
    nd_rng_normal_f64(&r, p + m->oU2, hm * in, 0, 1 / sqrt((double)in));
  }
  if (c->cell == ND_RNN_UNITARY) nd_rng_uniform_f64(&r, p + m->oth, c->layers * hm, -M_PI, M_PI);
  if (c->cell == ND_RNN_GRU) {
    nd_rng_normal_f64(&r, p + m->oW, n * n, 0, c->init_scale / sqrt((double)n));
    nd_rng_normal_f64(&r, p + m->oW2, n * n, 0, c->init_scale / sqrt((double)n));
    nd_rng_normal_f64(&r, p + m->oW3, n * n, 0, c->init_scale / sqrt((double)n));
    nd_rng_normal_f64(&r, p + m->oU2, n * in, 0, 1 / sqrt((double)in));
    nd_rng_normal_f64(&r, p + m->oU3, n * in, 0, 1 / sqrt((double)in));
  }
  int64_t urows = c->cell == ND_RNN_REVERSIBLE ? hm : n;
  nd_rng_normal_f64(&r, p + m->oU, urows * in, 0, 1 / sqrt((double)in));
  nd_rng_normal_f64(&r, p + m->oV, c->outputs * n, 0, 1 / sqrt((double)n));
}

nd_status nd_rnn_create(const nd_rnn_config *c, nd_rnn **out) {
  if (out) *out = NULL;
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "rnn: out is NULL");
  ND_TRY(nd_rnn_config_check(c));
  nd_rnn *m = calloc(1, sizeof *m);
  if (!m) return nd__error(ND_ERR_NOMEM, "rnn: out of memory");
  m->c = *c;
  layout(m);
  int64_t T, tin, tout;
  nd_status s = nd_rnn_task_shape(c, &T, &tin, &tout);
  m->p = counted(m, (size_t)m->np, sizeof(double)), m->g = counted(m, (size_t)m->np, sizeof(double));
  m->adam_m = counted(m, (size_t)m->np, sizeof(double)), m->adam_v = counted(m, (size_t)m->np, sizeof(double));
  if (c->cell == ND_RNN_UNITARY) m->cs = counted(m, (size_t)(c->layers * c->hidden), sizeof(double));
  if (c->cell == ND_RNN_APPROX) m->gref = counted(m, (size_t)m->np, sizeof(double));
  if (s == ND_OK && (!m->p || !m->g || !m->adam_m || !m->adam_v || (c->cell == ND_RNN_UNITARY && !m->cs) || (c->cell == ND_RNN_APPROX && !m->gref)))
    s = nd__error(ND_ERR_NOMEM, "rnn: out of memory");
  if (s == ND_OK) s = nd_arena_create(0, &m->arena);
  if (s == ND_OK) s = grow(m, c->batch);
  if (s == ND_OK) s = nd__rnn_stream_alloc(&m->task, c->batch, &m->fixed_bytes);
  if (s == ND_OK) {
    init_params(m);
    nd_rng root;
    nd_rng_init(&root, c->seed);
    m->rng = nd_rng_split(&root, 2);
  }
  if (s != ND_OK) {
    nd_rnn_free(m);
    return s;
  }
  *out = m;
  return ND_OK;
}

const nd_rnn_config *nd_rnn_config_of(const nd_rnn *m) { return m ? &m->c : NULL; }
int64_t nd_rnn_num_params(const nd_rnn *m) { return m ? m->np : -1; }
double *nd_rnn_params(nd_rnn *m) { return m ? m->p : NULL; }
const double *nd_rnn_grad(const nd_rnn *m) { return m ? m->g : NULL; }
size_t nd_rnn_scratch_peak(const nd_rnn *m) { return m ? m->scratch_peak : 0; }
size_t nd_rnn_fixed_bytes(const nd_rnn *m) { return m ? m->fixed_bytes : 0; }
double nd_rnn_reconstruction_error(const nd_rnn *m) { return m ? m->recon_err : NAN; }
double nd_rnn_inverse_loss(const nd_rnn *m) {
  return m && m->c.cell == ND_RNN_APPROX && m->inv_n > 0 ? m->inv_sq / m->inv_n : NAN;
}

/* ------------------------------------------------------------ the loss */

/* A minibatch as the loop sees it: the caller's arrays (nd_rnn_batch), or
 * the model's streamed task minibatch (st), whose steps are made on demand. */
typedef struct seq {
  int64_t T, B;
  nd_rnn_loss_kind loss;
  const float *x;
  const int32_t *labels;
  const float *target;
  const nd__rnn_stream *st;
} seq;

typedef struct loss_acc {
  double sum, norm;      /* loss sum, and what it is divided by */
  int64_t correct, scored;
} loss_acc;

static nd_status check_batch(const nd_rnn *m, const nd_rnn_batch *b) {
  if (!m || !b) return nd__error(ND_ERR_INVALID_ARG, "rnn: model or batch is NULL");
  if (b->T < 1 || b->T > RNN_MAX_T || b->B < 1 || b->B > 100000)
    return nd__error(ND_ERR_SHAPE, "rnn: batch T = %lld, B = %lld, expected T in 1..%d, B in 1..100000", (long long)b->T,
                     (long long)b->B, RNN_MAX_T);
  if (!b->x) return nd__error(ND_ERR_INVALID_ARG, "rnn: batch x is NULL");
  if (b->loss == ND_RNN_LOSS_CE && !b->labels) return nd__error(ND_ERR_INVALID_ARG, "rnn: CE loss needs labels");
  if (b->loss == ND_RNN_LOSS_MSE_LAST && !b->target) return nd__error(ND_ERR_INVALID_ARG, "rnn: MSE loss needs target");
  if ((unsigned)b->loss > ND_RNN_LOSS_MSE_LAST) return nd__error(ND_ERR_INVALID_ARG, "rnn: loss = %d unknown", (int)b->loss);
  if (b->loss == ND_RNN_LOSS_CE)
    for (int64_t i = 0; i < b->T * b->B; i++)
      if (b->labels[i] < -1 || b->labels[i] >= m->c.outputs)
        return nd__error(ND_ERR_INVALID_ARG, "rnn: label %d at entry %lld, expected -1..%lld", b->labels[i], (long long)i,
                         (long long)m->c.outputs - 1);
  return ND_OK;
}

/* The readout at step t (0-based) on m->h: y = V h + c, its loss added to
 * acc and, when grad, dL/dy pushed into dV, dc and m->gh. */
static void readout(nd_rnn *m, const seq *b, int64_t t, bool grad, loss_acc *acc) {
  int64_t B = b->B, n = m->c.hidden, o = m->c.outputs;
  bool ce = b->loss == ND_RNN_LOSS_CE;
  if (!ce && t != b->T - 1) return;
  const int32_t *labels = NULL;
  if (ce && b->st) {
    nd__rnn_stream_labels(b->st, t, m->lab);
    labels = m->lab;
  }
  else if (ce) labels = b->labels + t * B;
  double *z = m->z;
  for (int64_t i = 0; i < B; i++) memcpy(z + i * o, m->p + m->oc, (size_t)o * sizeof *z);
  nd_dgemm(false, true, B, o, n, 1, m->h, n, m->p + m->oV, n, 1, z, o);
  for (int64_t i = 0; i < B; i++) {
    double *zi = z + i * o;
    if (ce) {
      int32_t y = labels[i];
      if (y < 0) {
        memset(zi, 0, (size_t)o * sizeof *zi);
        continue;
      }
      double mx = zi[0];
      int64_t am = 0;
      for (int64_t k = 1; k < o; k++)
        if (zi[k] > mx) mx = zi[k], am = k;
      double se = 0;
      for (int64_t k = 0; k < o; k++) se += exp(zi[k] - mx);
      acc->sum += -(zi[y] - mx - log(se));
      acc->correct += am == y, acc->scored++;
      for (int64_t k = 0; k < o; k++) zi[k] = (exp(zi[k] - mx) / se - (k == y)) / acc->norm; /* softmax - onehot */
    } else {
      for (int64_t k = 0; k < o; k++) {
        double d = zi[k] - b->target[i * o + k];
        acc->sum += d * d;
        zi[k] = 2 * d / acc->norm;
      }
    }
  }
  if (!grad) return;
  nd_dgemm(true, false, o, n, B, 1, z, o, m->h, n, 1, m->g + m->oV, n);
  for (int64_t i = 0; i < B; i++)
    for (int64_t k = 0; k < o; k++) m->g[m->oc + k] += z[i * o + k];
  nd_dgemm(false, false, B, n, o, 1, z, o, m->p + m->oV, n, 1, m->gh, n);
}

static void load_x(nd_rnn *m, const seq *b, int64_t t) {
  if (b->st) {
    nd__rnn_stream_x(b->st, t, m->xd);
    return;
  }
  int64_t k = b->B * m->c.inputs;
  const float *x = b->x + t * k;
  for (int64_t i = 0; i < k; i++) m->xd[i] = x[i];
}

static double loss_norm(const nd_rnn *m, const seq *b) {
  if (b->loss == ND_RNN_LOSS_MSE_LAST) return (double)(b->B * m->c.outputs);
  if (b->st) return (double)(b->T * b->B); /* the copy task scores every step */
  int64_t k = 0;
  for (int64_t i = 0; i < b->T * b->B; i++) k += b->labels[i] >= 0;
  return k ? (double)k : 1;
}

/* The cells trained by ordinary BPTT (they store every state). */
static bool stores_states(const nd_rnn *m) {
  return m->c.cell == ND_RNN_TANH || m->c.cell == ND_RNN_GRU || (m->c.cell == ND_RNN_APPROX && m->exact);
}
static bool tanh_step(const nd_rnn *m) { return m->c.cell == ND_RNN_TANH || m->c.cell == ND_RNN_APPROX; }

/* Forward over the sequence from h_0 = 0.  The BPTT cells with hs keep
 * every state in hs [(T+1), B, n]; the others keep only the last. */
static void forward(nd_rnn *m, const seq *b, double *hs, bool grad, loss_acc *acc) {
  int64_t B = b->B, n = m->c.hidden, bn = B * n;
  /* approx: the inverse's loss is a mean over T B n entries, weighted */
  double inv_scale = grad ? m->c.inverse_weight / (double)(b->T * bn) : 0;
  m->inv_sq = 0, m->inv_n = (double)(b->T * bn);
  memset(m->h, 0, (size_t)bn * sizeof *m->h);
  memset(m->q, 0, (size_t)bn * sizeof *m->q);
  if (m->c.cell == ND_RNN_UNITARY) nd__rnn_uni_prepare(m);
  if (hs) memset(hs, 0, (size_t)bn * sizeof *hs);
  for (int64_t t = 0; t < b->T; t++) {
    load_x(m, b, t);
    if (stores_states(m) || m->c.cell == ND_RNN_APPROX) {
      double *next = hs ? hs + (t + 1) * bn : m->gh; /* gh is free scratch until the backward pass */
      const double *prev = hs ? hs + t * bn : m->h;
      if (tanh_step(m)) nd__rnn_tanh_forward(m, B, prev, next);
      else nd__rnn_gru_forward(m, B, prev, next);
      if (m->c.cell == ND_RNN_APPROX) m->inv_sq += nd__rnn_inv_fit(m, B, prev, next, inv_scale);
      memcpy(m->h, next, (size_t)bn * sizeof *m->h);
    } else if (m->c.cell == ND_RNN_REVERSIBLE) {
      nd__rnn_rev_forward(m, B);
      nd__rnn_rev_to_double(m, B);
    } else nd__rnn_uni_forward(m, B);
    readout(m, b, t, false, acc);
  }
}

/* Backward from the last state, t = T-1 .. 0, reconstructing h_{t} on the way
 * (reversible, unitary) or reading it from hs (tanh). */
static void backward(nd_rnn *m, const seq *b, double *hs, loss_acc *acc) {
  int64_t B = b->B, n = m->c.hidden, bn = B * n;
  memset(m->gh, 0, (size_t)bn * sizeof *m->gh);
  for (int64_t t = b->T - 1; t >= 0; t--) {
    if (stores_states(m)) memcpy(m->h, hs + (t + 1) * bn, (size_t)bn * sizeof *m->h);
    else if (m->c.cell == ND_RNN_REVERSIBLE) nd__rnn_rev_to_double(m, B);
    readout(m, b, t, true, acc);
    load_x(m, b, t);
    if (hs && tanh_step(m)) nd__rnn_tanh_backward(m, B, hs + t * bn, hs + (t + 1) * bn);
    else if (m->c.cell == ND_RNN_APPROX) { /* h_{t-1} ~ g(h_t), then the step's backward at the reconstruction */
      nd__rnn_inv_step(m, B, m->h, m->f);
      nd__rnn_tanh_backward(m, B, m->f, m->h);
      memcpy(m->h, m->f, (size_t)bn * sizeof *m->h);
    }
    else if (m->c.cell == ND_RNN_GRU) nd__rnn_gru_backward(m, B, hs + t * bn);
    else if (m->c.cell == ND_RNN_REVERSIBLE) nd__rnn_rev_backward(m, B);
    else nd__rnn_uni_backward(m, B);
  }
  /* what is left is the reconstructed h_0, which was 0 */
  double e = 0;
  for (int64_t i = 0; i < bn; i++) {
    double v = m->c.cell == ND_RNN_REVERSIBLE ? (double)m->q[i]
               : m->c.cell == ND_RNN_UNITARY || (m->c.cell == ND_RNN_APPROX && !hs) ? m->h[i] : 0;
    if (fabs(v) > e) e = fabs(v);
  }
  m->recon_err = m->c.cell == ND_RNN_REVERSIBLE ? e / ldexp(1.0, m->c.frac_bits) : e;
}

static nd_status run(nd_rnn *m, const seq *b, bool grad, double *loss, double *accuracy) {
  ND_TRY(grow(m, b->B));
  loss_acc acc = {.norm = loss_norm(m, b)};
  double *hs = NULL;
  nd_arena_reset(m->arena);
  if (grad && stores_states(m)) {
    size_t bytes = (size_t)((b->T + 1) * b->B * m->c.hidden) * sizeof *hs;
    hs = nd_arena_alloc(m->arena, bytes);
    if (!hs) return nd__error(ND_ERR_NOMEM, "rnn: out of memory for %zu bytes of BPTT states", bytes);
  }
  if (grad) m->scratch_peak = nd_arena_used(m->arena); /* the training step's figure, not an evaluation's */
  if (grad) memset(m->g, 0, (size_t)m->np * sizeof *m->g); /* the inverse's gradient comes during the forward */
  forward(m, b, hs, grad, &acc);
  if (grad) {
    loss_acc again = acc; /* the backward pass re-scores: keep the forward's figures */
    backward(m, b, hs, &again);
  }
  *loss = acc.sum / acc.norm;
  if (accuracy) *accuracy = acc.scored ? (double)acc.correct / (double)acc.scored : NAN;
  return isfinite(*loss) ? ND_OK : nd__error(ND_ERR_NUMERIC, "rnn: loss is %g (diverged)", *loss);
}

static nd_status run_arrays(nd_rnn *m, const nd_rnn_batch *b, bool grad, double *loss, double *accuracy) {
  if (loss) *loss = NAN;
  if (accuracy) *accuracy = NAN;
  ND_TRY(check_batch(m, b));
  if (!loss) return nd__error(ND_ERR_INVALID_ARG, "rnn: loss is NULL");
  seq q = {.T = b->T, .B = b->B, .loss = b->loss, .x = b->x, .labels = b->labels, .target = b->target};
  return run(m, &q, grad, loss, accuracy);
}

nd_status nd_rnn_loss_grad(nd_rnn *m, const nd_rnn_batch *b, double *loss, double *accuracy) {
  return run_arrays(m, b, true, loss, accuracy);
}
nd_status nd_rnn_loss(nd_rnn *m, const nd_rnn_batch *b, double *loss, double *accuracy) {
  return run_arrays(m, b, false, loss, accuracy);
}

nd_status nd__rnn_task_run(nd_rnn *m, bool grad, double *loss, double *accuracy) {
  const nd__rnn_stream *st = &m->task;
  seq q = {.T = st->T, .B = st->B, .st = st, .target = st->target,
           .loss = st->task == ND_RNN_TASK_COPY ? ND_RNN_LOSS_CE : ND_RNN_LOSS_MSE_LAST};
  *loss = *accuracy = NAN;
  return run(m, &q, grad, loss, accuracy);
}

/* Adam (Kingma & Ba 2015, Alg. 1) after clipping the gradient's norm. */
nd_status nd_rnn_adam_step(nd_rnn *m) {
  if (!m) return nd__error(ND_ERR_INVALID_ARG, "rnn: model is NULL");
  const nd_rnn_config *c = &m->c;
  if (c->cell == ND_RNN_APPROX && c->inverse_only) /* only g's block [oW2, oV) moves */
    for (int64_t i = 0; i < m->np; i++)
      if (i < m->oW2 || i >= m->oV) m->g[i] = 0;
  double norm = 0;
  for (int64_t i = 0; i < m->np; i++) norm += m->g[i] * m->g[i];
  norm = sqrt(norm);
  if (!isfinite(norm)) return nd__error(ND_ERR_NUMERIC, "rnn: gradient norm is %g", norm);
  double k = c->clip > 0 && norm > c->clip ? c->clip / norm : 1;
  m->adam_t++;
  double b1 = 1 - pow(c->beta1, (double)m->adam_t), b2 = 1 - pow(c->beta2, (double)m->adam_t);
  for (int64_t i = 0; i < m->np; i++) {
    double g = k * m->g[i];
    m->adam_m[i] = c->beta1 * m->adam_m[i] + (1 - c->beta1) * g;
    m->adam_v[i] = c->beta2 * m->adam_v[i] + (1 - c->beta2) * g * g;
    m->p[i] -= c->lr * (m->adam_m[i] / b1) / (sqrt(m->adam_v[i] / b2) + c->eps);
  }
  return ND_OK;
}

nd_status nd__rnn_inverse_check(nd_rnn *m, double *grad_err, double *step_rmse, double *drift) {
  if (m->c.cell != ND_RNN_APPROX) return nd__error(ND_ERR_INVALID_ARG, "rnn: inverse check needs the approx cell, not %s", cell_names[m->c.cell]);
  double loss, acc;
  m->exact = true;
  nd_status s = nd__rnn_task_run(m, true, &loss, &acc);
  m->exact = false;
  ND_TRY(s);
  memcpy(m->gref, m->g, (size_t)m->np * sizeof *m->g);
  ND_TRY(nd__rnn_task_run(m, true, &loss, &acc));
  double d = 0, r = 0;
  for (int64_t i = 0; i < m->np; i++) {
    if (i >= m->oW2 && i < m->oV) continue; /* the inverse's own parameters: not part of f's gradient */
    d += (m->g[i] - m->gref[i]) * (m->g[i] - m->gref[i]), r += m->gref[i] * m->gref[i];
  }
  *grad_err = r > 0 ? sqrt(d / r) : NAN;
  *step_rmse = sqrt(m->inv_sq / m->inv_n);
  *drift = m->recon_err;
  return ND_OK;
}
