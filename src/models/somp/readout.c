/* The linear readout of a SOMP cell at every step (include/neurodyn/somp.h):
 * one GEMM over all T B rows of the cell's time-major outputs, the loss, the
 * gradient into dL/dY for BPTT, and SGD / Adam on V, c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "somp_internal.h"

struct nd_somp_readout {
  int64_t units, outputs;
  float *v, *c, *gv, *gc, *mv, *vv, *mc, *vc;
  float *o, *go; /* [rows, outputs] scratch */
  float *gy;     /* [rows, units] time-major dL/dY */
  int64_t cap;
  int64_t t;
};

static float *za(int64_t n) {
  float *p = nd_aligned_alloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  if (p) memset(p, 0, (size_t)(n > 0 ? n : 1) * sizeof(float));
  return p;
}

void nd_somp_readout_free(nd_somp_readout *r) {
  if (!r) return;
  float *p[] = {r->v, r->c, r->gv, r->gc, r->mv, r->vv, r->mc, r->vc, r->o, r->go, r->gy};
  for (size_t k = 0; k < sizeof p / sizeof p[0]; k++) nd_aligned_free(p[k]);
  free(r);
}

nd_status nd_somp_readout_create(int64_t units, int64_t outputs, nd_somp_readout **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "somp readout: out is NULL");
  *out = NULL;
  if (units < 1 || outputs < 1 || units > 65536 || outputs > 65536)
    return nd__error(ND_ERR_INVALID_ARG, "somp readout: units %lld, outputs %lld: need 1..65536", (long long)units,
                     (long long)outputs);
  nd_somp_readout *r = calloc(1, sizeof *r);
  if (!r) return nd__error(ND_ERR_NOMEM, "somp readout: out of memory");
  r->units = units, r->outputs = outputs;
  const int64_t n = units * outputs;
  r->v = za(n), r->gv = za(n), r->mv = za(n), r->vv = za(n);
  r->c = za(outputs), r->gc = za(outputs), r->mc = za(outputs), r->vc = za(outputs);
  if (!r->v || !r->gv || !r->mv || !r->vv || !r->c || !r->gc || !r->mc || !r->vc) {
    nd_somp_readout_free(r);
    return nd__error(ND_ERR_NOMEM, "somp readout: out of memory");
  }
  *out = r;
  return ND_OK;
}

nd_status nd_somp_readout_params(nd_somp_readout *r, nd_tensor *v, nd_tensor *c) {
  if (!r) return nd__error(ND_ERR_INVALID_ARG, "somp readout: NULL");
  if (v) *v = nd_tensor_wrap(r->v, 2, ND_SHAPE(r->outputs, r->units));
  if (c) *c = nd_tensor_wrap(r->c, 1, ND_SHAPE(r->outputs));
  return ND_OK;
}

nd_status nd_somp_readout_loss(nd_somp_readout *r, const nd_somp_net *net, int cell, nd_somp_loss loss,
                               const float *target, const int32_t *labels, int64_t t_from, nd_tensor *dy, float *pred,
                               double *loss_out, double *acc) {
  if (!r || !net || !loss_out) return nd__error(ND_ERR_INVALID_ARG, "somp readout loss: NULL argument");
  if (cell < 0 || cell >= net->n) return nd__error(ND_ERR_INVALID_ARG, "somp readout loss: cell %d of %d", cell, net->n);
  if (!net->have_forward) return nd__error(ND_ERR_INVALID_ARG, "somp readout loss: no forward pass");
  const scell *c = &net->cells[cell];
  if (c->c.units != r->units)
    return nd__error(ND_ERR_SHAPE, "somp readout: made for %lld units, cell '%s' has %lld", (long long)r->units, c->c.name,
                     (long long)c->c.units);
  if ((loss == ND_SOMP_LOSS_MSE && !target) || (loss == ND_SOMP_LOSS_CE && !labels) || (unsigned)loss > ND_SOMP_LOSS_CE)
    return nd__error(ND_ERR_INVALID_ARG, "somp readout loss: MSE needs targets, CE labels");
  const int64_t B = net->B, T = net->T, u = r->units, no = r->outputs, rows = B * T;
  if (t_from < 0 || t_from >= T)
    return nd__error(ND_ERR_INVALID_ARG, "somp readout loss: t_from = %lld, T = %lld", (long long)t_from, (long long)T);
  if (dy && (dy->ndim != 3 || dy->shape[0] != B || dy->shape[1] != T || dy->shape[2] != u))
    return nd__error(ND_ERR_SHAPE, "somp readout loss: dy must be [%lld, %lld, %lld]", (long long)B, (long long)T, (long long)u);
  if (rows > r->cap) {
    nd_aligned_free(r->o), nd_aligned_free(r->go), nd_aligned_free(r->gy);
    r->o = za(rows * no), r->go = za(rows * no), r->gy = za(rows * u);
    if (!r->o || !r->go || !r->gy) {
      r->cap = 0;
      return nd__error(ND_ERR_NOMEM, "somp readout: out of memory");
    }
    r->cap = rows;
  }
  const float *Y = c->Y + B * u; /* slots 1..T: Y_0..Y_{T-1}, row t B + b */
  for (int64_t k = 0; k < rows; k++) memcpy(r->o + k * no, r->c, (size_t)no * sizeof(float));
  nd_sgemm(false, true, rows, no, u, 1.0f, Y, u, r->v, u, 1.0f, r->o, no);
  double L = 0, hit = 0, cnt = 0;
  memset(r->go, 0, (size_t)(rows * no) * sizeof(float));
  if (loss == ND_SOMP_LOSS_MSE) {
    for (int64_t t = t_from; t < T; t++)
      for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < no; j++) {
          const double d = r->o[(t * B + b) * no + j] - target[(b * T + t) * no + j];
          L += d * d;
          r->go[(t * B + b) * no + j] = (float)(2 * d);
          cnt++;
        }
  } else {
    for (int64_t t = t_from; t < T; t++)
      for (int64_t b = 0; b < B; b++) {
        const int32_t y = labels[b * T + t];
        if (y < 0) continue;
        if (y >= no) return nd__error(ND_ERR_INVALID_ARG, "somp readout loss: label %d >= %lld outputs", y, (long long)no);
        const float *o = r->o + (t * B + b) * no;
        float *g = r->go + (t * B + b) * no;
        double mx = -INFINITY, z = 0;
        int64_t am = 0;
        for (int64_t j = 0; j < no; j++) {
          if (o[j] > mx) mx = o[j], am = j;
        }
        for (int64_t j = 0; j < no; j++) z += exp(o[j] - mx);
        L += log(z) + mx - o[y];
        for (int64_t j = 0; j < no; j++) g[j] = (float)(exp(o[j] - mx) / z);
        g[y] -= 1.0f;
        hit += am == y;
        cnt++;
      }
  }
  if (cnt == 0) return nd__error(ND_ERR_INVALID_ARG, "somp readout loss: nothing scored");
  *loss_out = L / cnt;
  if (acc) *acc = loss == ND_SOMP_LOSS_CE ? hit / cnt : NAN;
  if (pred)
    for (int64_t b = 0; b < B; b++)
      for (int64_t t = 0; t < T; t++) memcpy(pred + (b * T + t) * no, r->o + (t * B + b) * no, (size_t)no * sizeof(float));
  if (dy) {
    nd_scale((float)(1.0 / cnt), r->go, rows * no);
    nd_sgemm(true, false, no, u, rows, 1.0f, r->go, no, Y, u, 1.0f, r->gv, u);
    nd_channel_sum(r->go, rows, no, 1, 1.0f, r->gc);
    nd_sgemm(false, false, rows, u, no, 1.0f, r->go, no, r->v, u, 0.0f, r->gy, u);
    for (int64_t b = 0; b < B; b++)
      for (int64_t t = 0; t < T; t++) memcpy(dy->data + (b * T + t) * u, r->gy + (t * B + b) * u, (size_t)u * sizeof(float));
  }
  return ND_OK;
}

static void upd(const nd_somp_learn *l, int64_t t, float *w, float *g, float *m, float *v, int64_t n) {
  const float lr = (float)l->lr;
  if (l->optimizer == ND_SOMP_SGD) {
    nd_axpy(-lr, g, w, n);
  } else {
    const float c1 = (float)(1.0 / (1.0 - pow(l->beta1, (double)t))), c2 = (float)(1.0 / (1.0 - pow(l->beta2, (double)t)));
    for (int64_t k = 0; k < n; k++) {
      m[k] = (float)l->beta1 * m[k] + (float)(1 - l->beta1) * g[k];
      v[k] = (float)l->beta2 * v[k] + (float)(1 - l->beta2) * g[k] * g[k];
      w[k] -= lr * (m[k] * c1) / (sqrtf(v[k] * c2) + (float)l->eps);
    }
  }
  memset(g, 0, (size_t)n * sizeof(float));
}

nd_status nd_somp_readout_step(nd_somp_readout *r, const nd_somp_learn *l) {
  if (!r || !l) return nd__error(ND_ERR_INVALID_ARG, "somp readout step: NULL argument");
  r->t++;
  upd(l, r->t, r->v, r->gv, r->mv, r->vv, r->units * r->outputs);
  upd(l, r->t, r->c, r->gc, r->mc, r->vc, r->outputs);
  return ND_OK;
}

nd_status nd_somp_readout_save(const nd_somp_readout *r, const char *prefix, nd_checkpoint *ck) {
  if (!r || !prefix || !ck) return nd__error(ND_ERR_INVALID_ARG, "somp readout save: NULL argument");
  char k[128];
  const float *src[6] = {r->v, r->mv, r->vv, r->c, r->mc, r->vc};
  static const char *const suf[6] = {"V", "V.adam_m", "V.adam_v", "c", "c.adam_m", "c.adam_v"};
  for (int i = 0; i < 6; i++) {
    snprintf(k, sizeof k, "%s.%s", prefix, suf[i]);
    nd_tensor t = i < 3 ? nd_tensor_wrap((float *)src[i], 2, ND_SHAPE(r->outputs, r->units))
                        : nd_tensor_wrap((float *)src[i], 1, ND_SHAPE(r->outputs));
    ND_TRY(nd_checkpoint_put_tensor(ck, k, &t));
  }
  snprintf(k, sizeof k, "%s.adam_t", prefix);
  char v[32];
  snprintf(v, sizeof v, "%lld", (long long)r->t);
  return nd_checkpoint_put_meta(ck, k, v);
}

nd_status nd_somp_readout_load(nd_somp_readout *r, const char *prefix, const nd_checkpoint *ck) {
  if (!r || !prefix || !ck) return nd__error(ND_ERR_INVALID_ARG, "somp readout load: NULL argument");
  char k[128];
  float *dst[6] = {r->v, r->mv, r->vv, r->c, r->mc, r->vc};
  static const char *const suf[6] = {"V", "V.adam_m", "V.adam_v", "c", "c.adam_m", "c.adam_v"};
  for (int i = 0; i < 6; i++) {
    snprintf(k, sizeof k, "%s.%s", prefix, suf[i]);
    nd_tensor t;
    if (i < 3)
      ND_TRY(nd_checkpoint_get_tensor(ck, k, 2, ND_SHAPE(r->outputs, r->units), &t));
    else
      ND_TRY(nd_checkpoint_get_tensor(ck, k, 1, ND_SHAPE(r->outputs), &t));
    memcpy(dst[i], t.data, (size_t)nd_tensor_numel(&t) * sizeof(float));
    nd_tensor_release(&t);
  }
  snprintf(k, sizeof k, "%s.adam_t", prefix);
  const char *s = nd_checkpoint_meta(ck, k);
  char *end;
  long long t = s ? strtoll(s, &end, 10) : -1;
  if (!s || *end || t < 0) return nd__error(ND_ERR_FORMAT, "%s: entry '%s' missing or bad", nd_checkpoint_name(ck), k);
  r->t = t;
  return ND_OK;
}
