/* The node update of one group as a custom op on the tape (grid3d.h):
 *   h_i = [rms(m_i) > threshold] relu(W_i m_i + b_i)
 * Forward: per active node, the message m_i [B, fan] is gathered from the
 * precomputed neighbour list and one GEMM gives W_i m_i for the whole batch;
 * inactive and unallocated nodes write zeros and cost only the gather of
 * their gate.  Backward: per active node delta = dh . [h > 0], dW_i +=
 * delta^T m_i, db_i += sum delta, and (when the input needs it) dm_i^T =
 * W_i^T delta^T into the group's buffer; then each input column sums the
 * rows that read it (the reverse lists), so that no two threads write the
 * same gradient.  Nodes in parallel (OpenMP); scratch from the tape's arena. */
#include <math.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "internal.h"

typedef struct g3_op {
  nd_grid3d *m;
  int g;
  uint8_t *active; /* [n_g]: computed in this call */
} g3_op;

static int n_threads(void) {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

static int thread_id(void) {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

/* m_i [B, fan] from the two inputs. */
static void gather(const g3_node *nd, const int64_t *idx, const float *xff, int64_t cff, const float *xlat, int64_t clat,
                   int64_t rows, float *out) {
  const int64_t fan = nd->fan_ff + nd->fan_lat;
  const int64_t *ixf = idx + nd->idx_off, *ixl = ixf + nd->fan_ff;
  for (int64_t b = 0; b < rows; b++) {
    float *o = out + b * fan;
    const float *xf = xff + b * cff;
    for (int64_t f = 0; f < nd->fan_ff; f++) o[f] = xf[ixf[f]];
    if (nd->fan_lat) {
      const float *xl = xlat + b * clat;
      for (int64_t f = 0; f < nd->fan_lat; f++) o[nd->fan_ff + f] = xl[ixl[f]];
    }
  }
}

/* Whether some feed-forward source of nd (group g > 0) computed in the
 * group's last call: if none did, its message is 0 and, for a threshold >=
 * 0, it is inactive without a look at its inputs. */
static bool fed(const nd_grid3d *m, const g3_node *nd) {
  const int64_t d = m->c.dim, base = m->gstart[nd->group - 1];
  const int64_t *ix = m->idx + nd->idx_off;
  for (int64_t f = 0; f < nd->fan_ff; f += d)
    if (m->nodes[base + ix[f] / d].live) return true;
  return false;
}

/* The sizes and inputs of one call, as both passes see them. */
typedef struct g3_io {
  g3_op *op;
  nd_grid3d *m;
  int g;
  bool lat;
  int64_t d, ng, rows, cff, cout, clat;
  const float *xff, *xlat;
} g3_io;

static g3_io io_of(const nd_custom_args *a) {
  g3_io v = {.op = a->user};
  v.m = v.op->m, v.g = v.op->g, v.lat = g3_has_lateral(v.m);
  v.d = v.m->c.dim, v.ng = g3_group_size(v.m, v.g), v.rows = a->inputs[0]->shape[0];
  v.cff = a->inputs[0]->shape[1], v.cout = v.ng * v.d, v.clat = v.lat ? a->inputs[1]->shape[1] : 0;
  v.xff = a->inputs[0]->data, v.xlat = v.lat ? a->inputs[1]->data : NULL;
  return v;
}

static nd_status layer_forward(const nd_custom_args *a) {
  const g3_io v = io_of(a);
  g3_op *op = v.op;
  nd_grid3d *m = v.m;
  const int g = v.g;
  const int64_t d = v.d, ng = v.ng, rows = v.rows, cff = v.cff, cout = v.cout, clat = v.clat;
  const float *xff = v.xff, *xlat = v.xlat;
  float *out = a->output->data;
  const int nt = n_threads();
  float *work = nd_tape_alloc(a->tape, (size_t)(nt * rows * (m->fan_max + 1)) * sizeof(float));
  if (!work) return nd_tape_status(a->tape);
  const float thr = m->c.threshold;
  const bool training = m->training;
  int64_t evals = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : evals)
  for (int64_t l = 0; l < ng; l++) {
    g3_node *nd = &m->nodes[m->gstart[g] + l];
    const int64_t fan = nd->fan_ff + nd->fan_lat;
    op->active[l] = 0;
    bool want = fan > 0 && (nd->block || training) && (thr < 0 || g == 0 || nd->fan_lat > 0 || fed(m, nd));
    float *gbuf = work + (int64_t)thread_id() * rows * (m->fan_max + 1), *gate = gbuf + rows * m->fan_max;
    bool any = false;
    if (want) {
      gather(nd, m->idx, xff, cff, xlat, clat, rows, gbuf);
      for (int64_t b = 0; b < rows; b++) { /* s_i = rms(m_i) */
        const float *row = gbuf + b * fan;
        double ss = 0;
        for (int64_t f = 0; f < fan; f++) ss += (double)row[f] * row[f];
        bool on = thr < 0 || sqrt(ss / (double)fan) > (double)thr;
        gate[b] = on ? 1.0f : 0.0f;
        any |= on;
      }
      if (any && training) nd->requested = 1;
    }
    nd->live = 0;
    if (!want || !any || !nd->block) {
      for (int64_t b = 0; b < rows; b++) memset(out + b * cout + l * d, 0, (size_t)d * sizeof(float));
      continue;
    }
    const float *w = nd->block, *bias = w + d * fan;
    float *o = out + l * d;
    nd_sgemm(false, true, rows, d, fan, 1.0f, gbuf, fan, w, fan, 0.0f, o, cout); /* m_i W_i^T */
    for (int64_t b = 0; b < rows; b++) {
      float *ob = o + b * cout;
      for (int64_t k = 0; k < d; k++) {
        float v = ob[k] + bias[k];
        ob[k] = gate[b] != 0.0f && v > 0.0f ? v : 0.0f;
      }
    }
    op->active[l] = 1;
    nd->live = 1;
    if (training) nd->computed = 1;
    evals++;
  }
  m->stats.node_evals += evals;
  m->stats.node_slots += ng;
  return ND_OK;
}

/* dX[:, c] += sum of the rows of dmt that read column c (reverse list). */
static void scatter(const int64_t *start, const int64_t *list, const uint8_t *active, const float *dmt, int64_t cols,
                    int64_t rows, float *dx) {
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < cols; c++)
    for (int64_t e = start[c]; e < start[c + 1]; e++) {
      if (!active[list[2 * e + 1]]) continue;
      const float *src = dmt + list[2 * e] * rows;
      for (int64_t b = 0; b < rows; b++) dx[b * cols + c] += src[b];
    }
}

static nd_status layer_backward(const nd_custom_args *a) {
  const g3_io v = io_of(a);
  g3_op *op = v.op;
  nd_grid3d *m = v.m;
  const int g = v.g;
  const bool lat = v.lat;
  const int64_t d = v.d, ng = v.ng, rows = v.rows, cff = v.cff, cout = v.cout, clat = v.clat;
  const float *xff = v.xff, *xlat = v.xlat;
  const float *out = a->output->data, *dout = a->doutput->data;
  const bool need_ff = a->dinputs[0] != NULL, need_lat = lat && a->dinputs[1] != NULL;
  const int nt = n_threads();
  const int64_t per = rows * (m->fan_max + d);
  float *work = nd_tape_alloc(a->tape, (size_t)(nt * per) * sizeof(float));
  float *dmt = need_ff || need_lat ? nd_tape_alloc(a->tape, (size_t)(m->gfan[g] * rows + 1) * sizeof(float)) : NULL;
  if (!work || ((need_ff || need_lat) && !dmt)) return nd_tape_status(a->tape);
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t l = 0; l < ng; l++) {
    if (!op->active[l]) continue;
    g3_node *nd = &m->nodes[m->gstart[g] + l];
    const int64_t fan = nd->fan_ff + nd->fan_lat, np = g3_np(m, nd);
    float *gbuf = work + (int64_t)thread_id() * per, *delta = gbuf + rows * m->fan_max;
    const float *w = nd->block;
    float *gw = nd->block + np, *gb = gw + d * fan;
    for (int64_t b = 0; b < rows; b++) /* delta = dh . relu'(a) . gate: h > 0 exactly where both are 1 */
      for (int64_t k = 0; k < d; k++) {
        int64_t j = b * cout + l * d + k;
        delta[b * d + k] = out[j] > 0.0f ? dout[j] : 0.0f;
      }
    gather(nd, m->idx, xff, cff, xlat, clat, rows, gbuf);
    nd_sgemm(true, false, d, fan, rows, 1.0f, delta, d, gbuf, fan, 1.0f, gw, fan); /* dW += delta^T m */
    for (int64_t b = 0; b < rows; b++)
      for (int64_t k = 0; k < d; k++) gb[k] += delta[b * d + k];
    if (dmt) nd_sgemm(true, true, fan, rows, d, 1.0f, w, fan, delta, d, 0.0f, dmt + nd->row_off * rows, rows); /* W^T delta^T */
  }
  if (need_ff) scatter(m->rff_start[g], m->rff[g], op->active, dmt, cff, rows, a->dinputs[0]->data);
  if (need_lat) scatter(m->rlat_start[g], m->rlat[g], op->active, dmt, clat, rows, a->dinputs[1]->data);
  return ND_OK;
}

nd_var *nd__g3_layer(nd_grid3d *m, nd_tape *tp, int g, nd_var *xff, nd_var *xlat) {
  if (!xff || (g3_has_lateral(m) && !xlat)) {
    if (nd_tape_status(tp) == ND_OK) nd_tape_set_error(tp, ND_ERR_INVALID_ARG);
    return NULL;
  }
  const nd_tensor *xv = nd_var_value(xff);
  int64_t cin = g == 0 ? m->in_cols : g3_group_size(m, g - 1) * m->c.dim, ng = g3_group_size(m, g);
  if (xv->ndim != 2 || xv->shape[1] != cin ||
      (xlat && (nd_var_value(xlat)->ndim != 2 || nd_var_value(xlat)->shape[0] != xv->shape[0] ||
                nd_var_value(xlat)->shape[1] != ng * m->c.dim))) {
    char s[64];
    nd__error(ND_ERR_SHAPE, "grid3d: group %d input is %s, expected [batch, %lld]", g, nd_tensor_shape_str(xv, s, 64),
              (long long)cin);
    nd_tape_set_error(tp, ND_ERR_SHAPE);
    return NULL;
  }
  g3_op *op = nd_tape_alloc(tp, sizeof *op);
  uint8_t *active = nd_tape_alloc(tp, (size_t)ng + 1);
  if (!op || !active) return NULL;
  *op = (g3_op){.m = m, .g = g, .active = active};
  /* the anchor, a parameter leaf, makes the tape run this op's backward
   * even when both inputs are constants (the node weights live outside it) */
  nd_var *anchor = nd_tape_param(tp, &m->anchor, &m->anchor_grad);
  nd_var *in[3] = {xff, xlat ? xlat : anchor, anchor};
  return nd_ad_custom(tp, xlat ? 3 : 2, in, 2, ND_SHAPE(xv->shape[0], ng * m->c.dim), layer_forward, layer_backward, op);
}
