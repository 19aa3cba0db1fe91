/* What the credit-assignment methods share (include/neurodyn/credit.h):
 * method names, the detach leaf, the angle between an update and the true
 * gradient, and the least-squares gradient of a linear predictor (DNI's
 * synthetic-gradient modules). */
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "credit_internal.h"
#include "neurodyn/kernels.h"

static const char *const method_names[] = {"bp", "fa", "dfa", "dni", "ff", "dtp", "am", "subtask", NULL};

const char *const *nd_credit_method_names(void) { return method_names; }

const char *nd_credit_method_name(nd_credit_method m) {
  return (int)m >= 0 && m < ND_CREDIT_COUNT_ ? method_names[m] : NULL;
}

nd_var *nd_credit_detach(nd_tape *tp, nd_var *x) {
  if (!nd__credit_inputs_ok(tp, "detach", 1, &x)) return NULL;
  return nd_tape_constant(tp, nd_var_value(x));
}

double nd_credit_angle(const float *a, const float *b, int64_t n) {
  if (!a || !b || n < 1) return NAN;
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < n; i++) {
    ab += (double)a[i] * b[i];
    aa += (double)a[i] * a[i];
    bb += (double)b[i] * b[i];
  }
  if (aa == 0 || bb == 0) return NAN;
  double c = ab / sqrt(aa * bb);
  c = c > 1 ? 1 : c < -1 ? -1 : c;
  return acos(c) * 180.0 / M_PI;
}

static bool is_matrix(const nd_tensor *t) { return t && t->data && t->ndim == 2 && nd_tensor_is_contiguous(t); }

nd_status nd_credit_regression_grads(const nd_tensor *input, const nd_tensor *pred, const nd_tensor *target,
                                     float *work, nd_tensor *dw, nd_tensor *db, double *loss) {
  if (!is_matrix(input) || !is_matrix(pred) || !is_matrix(target) || !is_matrix(dw))
    return nd__error(ND_ERR_INVALID_ARG, "credit regression: input, pred, target and dw must be contiguous matrices");
  int64_t B = input->shape[0], k = input->shape[1], n = pred->shape[1];
  char s1[64], s2[64], s3[64];
  if (B < 1 || pred->shape[0] != B || !nd_tensor_same_shape(pred, target) || dw->shape[0] != n || dw->shape[1] != k ||
      (db && (db->ndim != 1 || db->shape[0] != n || !db->data)))
    return nd__error(ND_ERR_SHAPE, "credit regression: input %s, pred %s, dw %s do not fit [B,k], [B,n], [n,k]",
                     nd_tensor_shape_str(input, s1, 64), nd_tensor_shape_str(pred, s2, 64), nd_tensor_shape_str(dw, s3, 64));
  float *r = work ? work : malloc((size_t)(B * n) * sizeof(float));
  if (!r) return nd__error(ND_ERR_NOMEM, "credit regression: out of memory");
  double l = 0;
  for (int64_t i = 0; i < B * n; i++) {
    r[i] = pred->data[i] - target->data[i];
    l += (double)r[i] * r[i];
  }
  const float g = 2.0f / (float)B; /* d/dpred of (1/B) sum r^2 */
  nd_sgemm(true, false, n, k, B, g, r, n, input->data, k, 0.0f, dw->data, k); /* dW = (2/B) r^T input */
  if (db) {
    nd_channel_sum(r, B, n, 1, 0.0f, db->data);
    nd_scale(g, db->data, n);
  }
  if (r != work) free(r);
  if (loss) *loss = l / (double)B;
  return ND_OK;
}

bool nd__credit_inputs_ok(nd_tape *tp, const char *op, int n, nd_var *const *in) {
  if (!tp) {
    nd__error(ND_ERR_INVALID_ARG, "%s: tape is NULL", op);
    return false;
  }
  if (nd_tape_status(tp) != ND_OK) return false;
  for (int k = 0; k < n; k++)
    if (!in[k]) {
      nd__error(ND_ERR_INVALID_ARG, "%s: input %d is NULL", op, k);
      nd_tape_set_error(tp, ND_ERR_INVALID_ARG);
      return false;
    }
  return true;
}
