/* CordsNet training: hand-written backpropagation through time of the
 * Jacobi Euler step, with gradient checkpointing over time (Chen et al.
 * 2016, "Training deep nets with sublinear memory cost": keep the state every
 * K steps, recompute each segment in the backward pass), and upstream's loss
 * (training/class_rnn_5_final.py; docs/cordsnet.md "Training"):
 *   L = 1/K_ce sum_k w_k CE(readout(r_{S-K_ce+1+k}))         w = logspace(-3, 0, K_ce)
 *     + penalty * sum_{t in last Q post steps} sum_j mean((r_j(t) - spont_j)^2) / (D Q)
 * The spontaneous phase runs without gradient, as upstream's torch.no_grad(). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/cordsnet/cordsnet_internal.h"

nd_cordsnet_train nd_cordsnet_train_defaults(void) {
  nd_cordsnet_train t;
  memset(&t, 0, sizeof t);
  t.run = nd_cordsnet_run_defaults();
  t.ce_steps = 30;
  t.post_steps = 100;
  t.penalty_steps = 10;
  t.penalty = 1e-3f;
  t.truncate = 0;
  t.checkpoint_every = 0;
  return t;
}

size_t nd_cordsnet_bptt_bytes(const nd_cordsnet *m) { return m ? m->bptt_peak_bytes : 0; }

/* per-image sizes of a record: states S, pre-activations S, inputs U (areas >= 1) */
static int64_t sum_n(const nd_cordsnet *m) { return cd_state_floats(m); }
static int64_t sum_u(const nd_cordsnet *m) {
  int64_t u = 0;
  for (int j = 1; j < m->depth; j++) u += m->a[j].nin;
  return u;
}

static nd_status reserve_train(nd_cordsnet *m, int64_t B) {
  ND_TRY(cd_reserve(m, B));
  if (B <= m->tcap) return ND_OK;
  bool ok = true;
#define CD_REALLOC(p, n)                                                                       \
  do {                                                                                         \
    nd_aligned_free(p);                                                                        \
    ok = ok && ((p) = nd_aligned_alloc(sizeof(float) * (size_t)((n) > 0 ? (n) : 1))) != NULL; \
  } while (0)
  int64_t maxn = 0;
  for (int j = 0; j < m->depth; j++) {
    CD_REALLOC(m->dr[j], B * m->a[j].n);
    CD_REALLOC(m->dr2[j], B * m->a[j].n);
    CD_REALLOC(m->dpre[j], B * m->a[j].n);
    CD_REALLOC(m->du[j], B * m->a[j].nin);
    maxn = ND__MAX(maxn, m->a[j].n);
  }
  CD_REALLOC(m->dtmp, B * maxn);
  CD_REALLOC(m->dinp, B * m->c0 * m->hs * m->wsp);
  CD_REALLOC(m->dskipinp, B * m->c0 * m->hs * m->wsp);
  CD_REALLOC(m->ddrive0, B * m->a[0].n);
  CD_REALLOC(m->dstem_c, B * m->c0 * m->hc * m->wc);
  CD_REALLOC(m->dfeat, B * m->wn[m->fc].fan);
  CD_REALLOC(m->logits, B * m->cfg.classes);
  CD_REALLOC(m->dlogits, B * m->cfg.classes);
  CD_REALLOC(m->dbias, m->a[0].n);
  for (int i = 0; i < m->n_wn; i++)
    if (!m->wn[i].dw) ok = ok && (m->wn[i].dw = nd_aligned_alloc(sizeof(float) * (size_t)(m->wn[i].out * m->wn[i].fan))) != NULL;
#undef CD_REALLOC
  if (!ok) return nd__error(ND_ERR_NOMEM, "cordsnet: cannot allocate training buffers for batch %lld", (long long)B);
  m->tcap = B;
  return ND_OK;
}

typedef struct rec_view {
  float *s[ND_CORDSNET_MAX_DEPTH], *pre[ND_CORDSNET_MAX_DEPTH], *u[ND_CORDSNET_MAX_DEPTH];
} rec_view;

/* A record at base: [s (B*S) | pre (B*S) | u (B*U)], or a state-only block. */
static rec_view view(const nd_cordsnet *m, float *base, int64_t B, bool full) {
  rec_view v;
  memset(&v, 0, sizeof v);
  int64_t S = sum_n(m), off = 0, uoff = 2 * B * S;
  for (int j = 0; j < m->depth; j++) {
    v.s[j] = base + off;
    if (full) v.pre[j] = base + B * S + off;
    off += B * m->a[j].n;
    if (full && j >= 1) v.u[j] = base + uoff, uoff += B * m->a[j].nin;
  }
  return v;
}

static void save_state(const nd_cordsnet *m, int64_t B, rec_view *v, bool full) {
  for (int j = 0; j < m->depth; j++) {
    memcpy(v->s[j], m->r[j], sizeof(float) * (size_t)(B * m->a[j].n));
    if (full) {
      memcpy(v->pre[j], m->pre[j], sizeof(float) * (size_t)(B * m->a[j].n));
      if (j >= 1) memcpy(v->u[j], m->u[j], sizeof(float) * (size_t)(B * m->a[j].nin));
    }
  }
}

static void load_state(nd_cordsnet *m, int64_t B, const rec_view *v) {
  for (int j = 0; j < m->depth; j++) memcpy(m->r[j], v->s[j], sizeof(float) * (size_t)(B * m->a[j].n));
}

static double ramp_weight(int k, int K) { return K <= 1 ? 1.0 : pow(10.0, -3.0 + 3.0 * k / (K - 1)); }

/* CE (mean over the batch) of logits; with dlogits: its gradient scaled by w. */
static double ce(const float *logits, const int32_t *labels, int64_t B, int64_t C, double w, float *dlogits) {
  double L = 0;
  for (int64_t b = 0; b < B; b++) {
    const float *z = logits + b * C;
    float mx = z[0];
    for (int64_t c = 1; c < C; c++) mx = z[c] > mx ? z[c] : mx;
    double s = 0;
    for (int64_t c = 0; c < C; c++) s += exp((double)z[c] - mx);
    L += log(s) + mx - z[labels[b]];
    if (dlogits)
      for (int64_t c = 0; c < C; c++)
        dlogits[b * C + c] = (float)(w / B * (exp((double)z[c] - mx) / s - (c == labels[b] ? 1.0 : 0.0)));
  }
  return L / B;
}

/* dL/dr of the readout out_fc(mean_hw(relu(r_{D-1}) + relu(r_{D-2}))) at state v, added to A. */
static void readout_backward(nd_cordsnet *m, int64_t B, const rec_view *v, float *const *A) {
  cd_wn *fc = &m->wn[m->fc];
  int D = m->depth;
  /* m->feat holds the features of this state (cd_readout_from ran just before) */
  nd_sgemm(true, false, fc->out, fc->fan, B, 1.0f, m->dlogits, fc->out, m->feat, fc->fan, 1.0f, fc->dw, fc->fan);
  float *gb = m->grad + m->fc_bias_off;
  for (int64_t b = 0; b < B; b++)
    for (int64_t c = 0; c < fc->out; c++) gb[c] += m->dlogits[b * fc->out + c];
  nd_sgemm(false, false, B, fc->fan, fc->out, 1.0f, m->dlogits, fc->out, fc->w, fc->fan, 0.0f, m->dfeat, fc->fan);
  const cd_area *a = &m->a[D - 1];
  int64_t hw = a->h * a->w;
  float inv = 1.0f / (float)hw;
  for (int k = 1; k <= 2; k++) {
    const float *s = v->s[D - k];
    float *g = A[D - k];
#pragma omp parallel for schedule(static) if (B * a->c > 64)
    for (int64_t bc = 0; bc < B * a->c; bc++) {
      float d = m->dfeat[bc] * inv;
      for (int64_t i = 0; i < hw; i++) g[bc * hw + i] += s[bc * hw + i] > 0.0f ? d : 0.0f;
    }
  }
}

/* Backward through step t: A holds dL/ds_t; writes dL/ds_{t-1} into Ap.
 * rec: pre and u of the step; prev: s_{t-1}. */
static void step_backward(nd_cordsnet *m, int64_t B, float alpha, bool zero_input, const rec_view *rec,
                          const rec_view *prev, float *const *A, float *const *Ap) {
  int D = m->depth;
  cd_set_batch(m, B);
  for (int j = 0; j < D; j++) {
    const cd_area *a = &m->a[j];
    int64_t n = B * a->n;
    const float *pre = rec->pre[j], *g = A[j];
    float *dp = m->dpre[j], *gp = Ap[j];
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
      dp[i] = pre[i] > 0.0f ? alpha * g[i] : 0.0f;
      gp[i] = (1.0f - alpha) * g[i];
    }
  }
  for (int j = D - 1; j >= 0; j--) {
    cd_area *a = &m->a[j];
    const float *dp = m->dpre[j];
    /* recurrent conv */
    nd_conv2d_backward_data(&a->drec, dp, m->wn[a->rec].w, 1.0f, Ap[j], m->ws);
    nd_conv2d_backward_filter(&a->drec, prev->s[j], dp, 1.0f, m->wn[a->rec].dw, NULL, m->ws);
    /* per-unit bias: sum over the batch */
    float *gb = m->grad + a->bias_off;
    for (int64_t b = 0; b < B; b++) nd_axpy(1.0f, dp + b * a->n, gb, a->n);
    if (j == 0) {
      if (!zero_input) nd_axpy(1.0f, dp, m->ddrive0, B * a->n); /* drive0 = area_area_0(stem), constant */
      continue;
    }
    nd_conv2d_backward_filter(&a->dinp, rec->u[j], dp, 1.0f, m->wn[a->inp].dw, NULL, m->ws);
    float *du = m->du[j];
    nd_conv2d_backward_data(&a->dinp, dp, m->wn[a->inp].w, 0.0f, du, m->ws);
    /* u_j = relu(r_{j-1}) + term: relu'(r) = [r > 0] */
    int64_t nin = B * a->nin;
    const float *s1 = prev->s[j - 1];
    float *g1 = Ap[j - 1];
#pragma omp parallel for simd schedule(static) if (nin > 32768)
    for (int64_t i = 0; i < nin; i++) g1[i] += s1[i] > 0.0f ? du[i] : 0.0f;
    if (a->term == CD_TERM_INP_SKIP) {
      if (!zero_input) nd_axpy(1.0f, du, m->dskipinp, nin);
    } else if (a->term == CD_TERM_IDENTITY) {
      const float *s2 = prev->s[j - 2];
      float *g2 = Ap[j - 2];
#pragma omp parallel for simd schedule(static) if (nin > 32768)
      for (int64_t i = 0; i < nin; i++) g2[i] += s2[i] > 0.0f ? du[i] : 0.0f;
    } else if (a->term == CD_TERM_SKIP_CONV) {
      const float *s2 = prev->s[j - 2];
      float *g2 = Ap[j - 2], *tmp = m->dtmp;
      int64_t n2 = B * m->a[j - 2].n;
      nd_conv2d_backward_filter(&a->dskip, s2, du, 1.0f, m->wn[a->skip].dw, NULL, m->ws);
      nd_conv2d_backward_data(&a->dskip, du, m->wn[a->skip].w, 0.0f, tmp, m->ws);
#pragma omp parallel for simd schedule(static) if (n2 > 32768)
      for (int64_t i = 0; i < n2; i++) g2[i] += s2[i] > 0.0f ? tmp[i] : 0.0f;
    }
  }
}

/* dW of every weight-normed tensor into (dg, dv) of m->grad:
 * dg = dW.v/||v||, dv = g/||v|| (dW - (dW.v)/||v||^2 v). */
static void wn_backward(nd_cordsnet *m) {
  for (int i = 0; i < m->n_wn; i++) {
    cd_wn *w = &m->wn[i];
    const float *g = m->params + w->g_off, *v = m->params + w->v_off;
    float *dg = m->grad + w->g_off, *dv = m->grad + w->v_off;
#pragma omp parallel for schedule(static) if (w->out * w->fan > 65536)
    for (int64_t o = 0; o < w->out; o++) {
      const float *vo = v + o * w->fan, *dwo = w->dw + o * w->fan;
      double dot = 0;
      for (int64_t k = 0; k < w->fan; k++) dot += (double)dwo[k] * vo[k];
      double inv = w->inv_norm[o];
      dg[o] += (float)(dot * inv);
      double c = g[o] * inv, c2 = dot * inv * inv;
      for (int64_t k = 0; k < w->fan; k++) dv[o * w->fan + k] += (float)(c * (dwo[k] - c2 * vo[k]));
    }
  }
}

static nd_status check_train(const nd_cordsnet *m, const nd_cordsnet_train *t) {
  if (!t) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_loss_grad: train settings are NULL");
  if (t->ce_steps < 1 || t->ce_steps > t->run.steps)
    return nd__error(ND_ERR_INVALID_ARG, "cordsnet: ce_steps = %d, need 1..steps (%d)", t->ce_steps, t->run.steps);
  if (t->post_steps < 0 || t->post_steps > 1000000)
    return nd__error(ND_ERR_INVALID_ARG, "cordsnet: post_steps = %d, need >= 0", t->post_steps);
  if (t->post_steps > 0 && (t->penalty_steps < 1 || t->penalty_steps > t->post_steps))
    return nd__error(ND_ERR_INVALID_ARG, "cordsnet: penalty_steps = %d, need 1..post_steps (%d)", t->penalty_steps,
                     t->post_steps);
  if (!(t->penalty >= 0.0f) || !isfinite(t->penalty))
    return nd__error(ND_ERR_INVALID_ARG, "cordsnet: penalty = %g, need >= 0", (double)t->penalty);
  if (t->truncate < 0) return nd__error(ND_ERR_INVALID_ARG, "cordsnet: truncate = %d, need >= 0", t->truncate);
  if (t->checkpoint_every < 0)
    return nd__error(ND_ERR_INVALID_ARG, "cordsnet: checkpoint_every = %d, need >= 0", t->checkpoint_every);
  (void)m;
  return ND_OK;
}

nd_status nd_cordsnet_loss_grad(nd_cordsnet *m, const nd_cordsnet_train *t, const float *x, const int32_t *labels,
                                int64_t B, double *loss, int64_t *correct) {
  if (!m || !x || !labels || !loss) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_loss_grad: NULL argument");
  ND_TRY(check_train(m, t));
  if (B < 1 || B > 1000000) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_loss_grad: batch %lld, need >= 1", (long long)B);
  for (int64_t b = 0; b < B; b++)
    if (labels[b] < 0 || labels[b] >= m->cfg.classes)
      return nd__error(ND_ERR_INVALID_ARG, "cordsnet_loss_grad: labels[%lld] = %d, need 0..%lld", (long long)b,
                       (int)labels[b], (long long)m->cfg.classes - 1);
  const int S = t->run.steps, P = t->post_steps, T = S + P, D = m->depth;
  const float alpha = t->run.alpha;
  int K = t->checkpoint_every > 0 ? t->checkpoint_every : (int)ceil(sqrt((double)T));
  if (K > T) K = T;
  const bool full = K == 1; /* no checkpointing: every step's record kept from the forward pass */
  ND_TRY(cd_spont(m, &t->run));
  ND_TRY(reserve_train(m, B));
  const int64_t Sn = sum_n(m), U = sum_u(m);
  const int64_t rec_f = B * (2 * Sn + U), st_f = B * Sn;
  int ncp = T / K + 1;
  size_t need = full ? (size_t)(st_f + (int64_t)T * rec_f) : (size_t)((int64_t)ncp * st_f + (int64_t)K * rec_f);
  if (need > m->bptt_floats) {
    nd_aligned_free(m->bptt);
    m->bptt = nd_aligned_alloc(sizeof(float) * need);
    if (!m->bptt) {
      m->bptt_floats = 0;
      return nd__error(ND_ERR_NOMEM, "cordsnet: %zu bytes of BPTT storage for %d steps", need * sizeof(float), T);
    }
    m->bptt_floats = need;
  }
  m->bptt_peak_bytes = need * sizeof(float);
  float *cp = m->bptt;                               /* checkpoints (state only) */
  float *seg = full ? m->bptt + st_f : m->bptt + (int64_t)ncp * st_f; /* records */
  const int C = (int)m->cfg.classes;
  const int ce0 = S - t->ce_steps + 1; /* readouts at t = ce0..S */
  const int pen0 = T - t->penalty_steps + 1;
  const double pen_scale = P > 0 ? t->penalty / ((double)D * t->penalty_steps) : 0;
  /* ------------------------------------------------------------ forward */
  cd_broadcast_spont(m, B);
  cd_stem(m, x, B);
  rec_view v0 = view(m, cp, B, false);
  save_state(m, B, &v0, false);
  double L = 0;
  int64_t ncorrect = 0;
  for (int s = 1; s <= T; s++) {
    cd_step(m, B, alpha, s > S);
    if (full) {
      rec_view rv = view(m, seg + (int64_t)(s - 1) * rec_f, B, true);
      save_state(m, B, &rv, true);
    } else if (s % K == 0) {
      rec_view cv = view(m, cp + (int64_t)(s / K) * st_f, B, false);
      save_state(m, B, &cv, false);
    }
    if (s >= ce0 && s <= S) {
      cd_readout(m, B, m->logits);
      L += ramp_weight(s - ce0, t->ce_steps) / t->ce_steps * ce(m->logits, labels, B, C, 0, NULL);
      if (s == S) {
        int64_t idx;
        for (int64_t b = 0; b < B; b++) {
          nd_row_argmax(m->logits + b * C, 1, C, &idx);
          ncorrect += idx == labels[b];
        }
      }
    }
    if (P > 0 && s >= pen0) {
      double ps = 0;
      for (int j = 0; j < D; j++) {
        double q = 0;
        for (int64_t b = 0; b < B; b++)
          for (int64_t i = 0; i < m->a[j].n; i++) {
            double d = (double)m->r[j][b * m->a[j].n + i] - m->spont[j][i];
            q += d * d;
          }
        ps += q / ((double)B * m->a[j].n);
      }
      L += pen_scale * ps;
    }
  }
  *loss = L;
  if (correct) *correct = ncorrect;
  /* ----------------------------------------------------------- backward */
  memset(m->grad, 0, sizeof(float) * (size_t)m->n_params);
  for (int i = 0; i < m->n_wn; i++) memset(m->wn[i].dw, 0, sizeof(float) * (size_t)(m->wn[i].out * m->wn[i].fan));
  memset(m->ddrive0, 0, sizeof(float) * (size_t)(B * m->a[0].n));
  memset(m->dskipinp, 0, sizeof(float) * (size_t)(B * m->c0 * m->hs * m->wsp));
  float *A[ND_CORDSNET_MAX_DEPTH], *Ap[ND_CORDSNET_MAX_DEPTH];
  for (int j = 0; j < D; j++) {
    A[j] = m->dr[j], Ap[j] = m->dr2[j];
    memset(A[j], 0, sizeof(float) * (size_t)(B * m->a[j].n));
  }
  const int t_stop = t->truncate > 0 && t->truncate < T ? T - t->truncate : 0;
  for (int t0 = ((T - 1) / K) * K; t0 >= 0 && t0 + K > t_stop; t0 -= K) {
    int t1 = t0 + K < T ? t0 + K : T;
    if (!full) { /* recompute the segment's records from its checkpoint */
      rec_view cv = view(m, cp + (int64_t)(t0 / K) * st_f, B, false);
      load_state(m, B, &cv);
      for (int s = t0 + 1; s <= t1; s++) {
        cd_step(m, B, alpha, s > S);
        rec_view rv = view(m, seg + (int64_t)(s - t0 - 1) * rec_f, B, true);
        save_state(m, B, &rv, true);
      }
    }
    for (int s = t1; s > t0 && s > t_stop; s--) {
      rec_view rv = view(m, seg + (int64_t)(full ? s - 1 : s - t0 - 1) * rec_f, B, true);
      rec_view pv = s - 1 == 0 ? v0
                    : full     ? view(m, seg + (int64_t)(s - 2) * rec_f, B, true)
                    : s - 1 == t0 ? view(m, cp + (int64_t)(t0 / K) * st_f, B, false)
                                  : view(m, seg + (int64_t)(s - t0 - 2) * rec_f, B, true);
      /* direct terms of the loss at s_t */
      if (s >= ce0 && s <= S) {
        cd_readout_from(m, B, rv.s[D - 1], rv.s[D - 2], m->logits);
        ce(m->logits, labels, B, C, ramp_weight(s - ce0, t->ce_steps) / t->ce_steps, m->dlogits);
        readout_backward(m, B, &rv, A);
      }
      if (P > 0 && s >= pen0) {
        for (int j = 0; j < D; j++) {
          int64_t n = m->a[j].n;
          float c2 = (float)(2.0 * pen_scale / ((double)B * n));
          for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < n; i++) A[j][b * n + i] += c2 * (rv.s[j][b * n + i] - m->spont[j][i]);
        }
      }
      step_backward(m, B, alpha, s > S, &rv, &pv, A, Ap);
      for (int j = 0; j < D; j++) {
        float *tmp = A[j];
        A[j] = Ap[j], Ap[j] = tmp;
      }
    }
  }
  /* the stem: drive0 = area_area_0(inp), skipinp = inp_skip(inp), inp = pool(conv(x)) */
  cd_set_batch(m, B);
  cd_area *a0 = &m->a[0];
  nd_conv2d_backward_filter(&a0->dinp, m->inp, m->ddrive0, 1.0f, m->wn[a0->inp].dw, NULL, m->ws);
  nd_conv2d_backward_data(&a0->dinp, m->ddrive0, m->wn[a0->inp].w, 0.0f, m->dinp, m->ws);
  cd_area *a1 = &m->a[1];
  nd_conv2d_backward_filter(&a1->dskip, m->inp, m->dskipinp, 1.0f, m->wn[m->inp_skip].dw, NULL, m->ws);
  nd_conv2d_backward_data(&a1->dskip, m->dskipinp, m->wn[m->inp_skip].w, 1.0f, m->dinp, m->ws);
  nd_avgpool2d_backward(&m->dpool, m->dinp, m->dstem_c);
  nd_conv2d_backward_filter(&m->dstem, x, m->dstem_c, 1.0f, m->wn[m->stem].dw, NULL, m->ws);
  wn_backward(m);
  return ND_OK;
}
