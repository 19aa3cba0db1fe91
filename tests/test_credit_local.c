/* The local-target methods of the MLP (include/neurodyn/mlp.h,
 * docs/credit.md) against properties checked by construction and against
 * formulas evaluated here in double precision:
 *   DTP: with exact inverses (linear layers, V = W^-1) the difference-
 *        corrected targets are consistent, f_l(hhat_l) = hhat_{l+1}; with the
 *        top target equal to the activity every target equals its activity
 *        whatever the inverses; the top target is h - eta dl/dh; with one
 *        hidden layer the update is 2 eta times BP's; exact noiseless inverses
 *        get no gradient.
 *   AM:  codes left at their forward values give no hidden-layer gradient and
 *        BP's top-layer gradient; one Nesterov step moves the top codes by
 *        -1.9 (lr / mu) dl/dc (BP's gradient at the pre-activation).
 *   SUBTASK: no gradient crosses a block boundary (a later block's weights
 *        changed, the earlier blocks' gradients stay bit for bit); block 0's
 *        gradient against central differences of its local loss. */
#include <math.h>
#include <string.h>

#include "models/mlp/internal.h"
#include "nd_test.h"

#define B 5

static void random_data(int64_t rows, int64_t d, int classes, uint64_t seed, float *x, int32_t *y) {
  nd_rng r;
  nd_rng_init(&r, seed);
  nd_rng_uniform(&r, x, rows * d, -1.0f, 1.0f);
  for (int64_t i = 0; i < rows; i++) y[i] = (int32_t)(nd_rng_u32(&r) % (uint32_t)classes);
}

static nd_mlp *make_cfg(nd_mlp_config c) {
  nd_mlp *m;
  nd_assert_ok(nd_mlp_create(&c, &m));
  return m;
}

static nd_mlp_config cfg(nd_credit_method method, int n, const int64_t *sizes, nd_activation act) {
  nd_mlp_config c = nd_mlp_defaults(n, sizes);
  c.method = method, c.activation = act, c.seed = 11;
  return c;
}

/* out [rows, fout] = in W^T + b, in double. */
static void affine(const float *in, int64_t rows, int64_t fin, const nd_tensor *W, const nd_tensor *b, double *out) {
  int64_t fout = W->shape[0];
  for (int64_t r = 0; r < rows; r++)
    for (int64_t o = 0; o < fout; o++) {
      double s = b ? b->data[o] : 0;
      for (int64_t i = 0; i < fin; i++) s += (double)in[r * fin + i] * W->data[o * fin + i];
      out[r * fout + o] = s;
    }
}

/* inv = A^-1 for a k x k matrix, Gauss-Jordan with partial pivoting in double. */
static void invert(const float *a, int k, float *inv) {
  double m[8][16];
  for (int i = 0; i < k; i++)
    for (int j = 0; j < 2 * k; j++) m[i][j] = j < k ? a[i * k + j] : (j - k == i);
  for (int c = 0; c < k; c++) {
    int p = c;
    for (int i = c + 1; i < k; i++) p = fabs(m[i][c]) > fabs(m[p][c]) ? i : p;
    for (int j = 0; j < 2 * k; j++) {
      double t = m[c][j];
      m[c][j] = m[p][j], m[p][j] = t;
    }
    assert_true(fabs(m[c][c]) > 1e-6);
    for (int i = 0; i < k; i++) {
      if (i == c) continue;
      double f = m[i][c] / m[c][c];
      for (int j = 0; j < 2 * k; j++) m[i][j] -= f * m[c][j];
    }
  }
  for (int i = 0; i < k; i++)
    for (int j = 0; j < k; j++) inv[i * k + j] = (float)(m[i][k + j] / m[i][i]);
}

/* g_l(u) = u V^T + c with V = W_l^-1, c = -W_l^-1 b_l: the inverse of the
 * linear layer l (k x k). */
static void exact_inverse(nd_mlp *m, int l, int k) {
  nd_tensor *W = &m->params[m->w_index[l]], *b = &m->params[m->b_index[l]];
  nd_tensor *V = &m->params[m->inv_w_index[l]], *cv = &m->params[m->inv_b_index[l]];
  invert(W->data, k, V->data);
  for (int i = 0; i < k; i++) {
    double s = 0;
    for (int j = 0; j < k; j++) s += (double)V->data[i * k + j] * b->data[j];
    cv->data[i] = (float)-s;
  }
}

/* Lee et al. 2015: linear f(h) = h W^T + b with g(u) = u V^T + c, V = W^-1,
 * c = -W^-1 b, an exact inverse => f_l(hhat_l) = hhat_{l+1}. */
static void test_dtp_exact_inverse_targets_consistent(void **st) {
  (void)st;
  const int64_t sizes[5] = {4, 5, 5, 5, 3};
  float x[B * 4];
  int32_t y[B];
  random_data(B, 4, 3, 1, x, y);
  nd_mlp_config c = cfg(ND_CREDIT_DTP, 5, sizes, ND_ACT_IDENTITY);
  c.dtp_target_lr = 0.5f;
  nd_mlp *m = make_cfg(c);
  assert_string_equal(nd_mlp_param_name(m, 8), "inv.1.weight");
  for (int l = 1; l <= 2; l++) exact_inverse(m, l, 5);
  float hat1[B * 5], hat2[B * 5], hat3[B * 5];
  float *targets[4] = {NULL, hat1, hat2, hat3};
  nd_assert_ok(nd__mlp_dtp_targets(m, x, y, B, targets));
  /* the activities and the top target, in double */
  double h[4][B * 5], z[B * 3];
  float hf[B * 5];
  affine(x, B, 4, &m->params[m->w_index[0]], &m->params[m->b_index[0]], h[1]);
  for (int l = 1; l <= 2; l++) {
    for (int i = 0; i < B * 5; i++) hf[i] = (float)h[l][i];
    affine(hf, B, 5, &m->params[m->w_index[l]], &m->params[m->b_index[l]], h[l + 1]);
  }
  for (int i = 0; i < B * 5; i++) hf[i] = (float)h[3][i];
  affine(hf, B, 5, &m->params[m->w_index[3]], &m->params[m->b_index[3]], z);
  const nd_tensor *W3 = &m->params[m->w_index[3]];
  for (int r = 0; r < B; r++) {
    double mx = fmax(z[r * 3], fmax(z[r * 3 + 1], z[r * 3 + 2])), p[3], sum = 0;
    for (int k = 0; k < 3; k++) sum += p[k] = exp(z[r * 3 + k] - mx);
    for (int j = 0; j < 5; j++) {
      double g = 0;
      for (int k = 0; k < 3; k++) g += (p[k] / sum - (k == y[r])) * W3->data[k * 5 + j];
      nd_assert_close(hat3[r * 5 + j], h[3][r * 5 + j] - 0.5 * g, 1e-5, 1e-5);
    }
  }
  /* consistency: f_l(hhat_l) = hhat_{l+1} */
  double fh[B * 5];
  float *hats[4] = {NULL, hat1, hat2, hat3};
  for (int l = 1; l <= 2; l++) {
    affine(hats[l], B, 5, &m->params[m->w_index[l]], &m->params[m->b_index[l]], fh);
    for (int i = 0; i < B * 5; i++) nd_assert_close(fh[i], hats[l + 1][i], 1e-4, 1e-4);
  }
  /* the check can fail: with its random inverse, layer 1's target is not consistent */
  nd_mlp *rnd = make_cfg(c);
  nd_assert_ok(nd__mlp_dtp_targets(rnd, x, y, B, targets));
  affine(hat1, B, 5, &rnd->params[rnd->w_index[1]], &rnd->params[rnd->b_index[1]], fh);
  double worst = 0;
  for (int i = 0; i < B * 5; i++) worst = fmax(worst, fabs(fh[i] - hat2[i]));
  assert_true(worst > 1e-2);
  nd_mlp_free(rnd);
  nd_mlp_free(m);
}

/* The difference correction: hhat = h at the top gives hhat = h below,
 * whatever the (random, tanh) inverses. */
static void test_dtp_zero_step_targets_are_activities(void **st) {
  (void)st;
  const int64_t sizes[5] = {6, 7, 5, 4, 3};
  float x[B * 6];
  int32_t y[B];
  random_data(B, 6, 3, 2, x, y);
  nd_mlp_config c = cfg(ND_CREDIT_DTP, 5, sizes, ND_ACT_TANH);
  c.dtp_target_lr = 1e-30f;
  nd_mlp *m = make_cfg(c);
  float hat[4][B * 7];
  float *targets[4] = {NULL, hat[1], hat[2], hat[3]};
  nd_assert_ok(nd__mlp_dtp_targets(m, x, y, B, targets));
  double h[B * 7];
  float hf[B * 7];
  memcpy(hf, x, sizeof x);
  for (int l = 0; l < 3; l++) {
    affine(hf, B, sizes[l], &m->params[m->w_index[l]], &m->params[m->b_index[l]], h);
    for (int i = 0; i < B * sizes[l + 1]; i++) {
      hf[i] = (float)tanh(h[i]);
      nd_assert_close(hat[l + 1][i], tanh(h[i]), 1e-5, 1e-5);
    }
  }
  nd_mlp_free(m);
}

/* One hidden layer: L_0 = (1/B) ||h - (h - eta dl/dh)||^2 gives 2 eta times
 * BP's gradient; the output layer gets BP's. */
static void test_dtp_one_hidden_is_scaled_bp(void **st) {
  (void)st;
  const int64_t sizes[3] = {8, 6, 4};
  float x[B * 8];
  int32_t y[B];
  random_data(B, 8, 4, 3, x, y);
  nd_mlp_config c = cfg(ND_CREDIT_DTP, 3, sizes, ND_ACT_TANH);
  c.dtp_target_lr = 0.25f;
  nd_mlp *dtp = make_cfg(c);
  c.method = ND_CREDIT_BP;
  nd_mlp *bp = make_cfg(c);
  assert_int_equal(nd_mlp_num_params(dtp), 4); /* no inverse below the top hidden layer */
  nd_assert_ok(nd_mlp_batch_grads(bp, x, y, B, NULL));
  nd_assert_ok(nd_mlp_batch_grads(dtp, x, y, B, NULL));
  for (int i = 0; i < 4; i++) {
    const nd_tensor *gd = nd_mlp_grad(dtp, i), *gb = nd_mlp_grad(bp, i);
    float want[64];
    for (int64_t j = 0; j < nd_tensor_numel(gb); j++) want[j] = (i < 2 ? 2 * 0.25f : 1.0f) * gb->data[j];
    nd_assert_arrays_close(gd->data, want, nd_tensor_numel(gb), 1e-6, 1e-3, "dtp vs bp");
    assert_true(nd_max_abs(gd->data, nd_tensor_numel(gd)) > 0);
  }
  nd_mlp_free(dtp), nd_mlp_free(bp);
}

/* Exact inverses without noise: zero reconstruction error, zero inverse
 * gradient; random inverses get one. */
static void test_dtp_inverse_loss(void **st) {
  (void)st;
  const int64_t sizes[4] = {4, 5, 5, 3};
  float x[B * 4];
  int32_t y[B];
  random_data(B, 4, 3, 4, x, y);
  nd_mlp_config c = cfg(ND_CREDIT_DTP, 4, sizes, ND_ACT_IDENTITY);
  c.dtp_noise = 0;
  nd_mlp *m = make_cfg(c);
  nd_assert_ok(nd_mlp_batch_grads(m, x, y, B, NULL));
  const nd_tensor *gv = &m->grads[m->inv_w_index[1]];
  assert_true(nd_max_abs(gv->data, 25) > 1e-3);
  exact_inverse(m, 1, 5);
  nd_assert_ok(nd_mlp_batch_grads(m, x, y, B, NULL));
  assert_true(nd_max_abs(gv->data, 25) < 1e-4);
  assert_true(nd_max_abs(m->grads[m->inv_b_index[1]].data, 5) < 1e-4);
  nd_mlp_free(m);
}

/* Choromanska et al.: codes equal to the forward values give exactly zero
 * hidden regression loss, and the top layer then gets BP's gradient. */
static void test_am_codes_at_forward_values(void **st) {
  (void)st;
  const int64_t sizes[4] = {9, 7, 5, 3};
  float x[B * 9];
  int32_t y[B];
  random_data(B, 9, 3, 5, x, y);
  nd_mlp_config c = cfg(ND_CREDIT_AM, 4, sizes, ND_ACT_RELU);
  c.am_code_steps = 0;
  nd_mlp *am = make_cfg(c);
  c.method = ND_CREDIT_BP;
  nd_mlp *bp = make_cfg(c);
  nd_assert_ok(nd_mlp_batch_grads(am, x, y, B, NULL));
  nd_assert_ok(nd_mlp_batch_grads(bp, x, y, B, NULL));
  for (int i = 0; i < 4; i++) assert_true(nd_max_abs(nd_mlp_grad(am, i)->data, nd_tensor_numel(nd_mlp_grad(am, i))) == 0);
  for (int i = 4; i < 6; i++)
    nd_assert_arrays_close(nd_mlp_grad(am, i)->data, nd_mlp_grad(bp, i)->data, nd_tensor_numel(nd_mlp_grad(bp, i)),
                           1e-7, 1e-6, "am top layer");
  nd_mlp_free(am), nd_mlp_free(bp);
}

/* One Nesterov step (v = g, x -= lr (g + 0.9 g)) on the top codes from their
 * forward values, where mse(c, c0) has no gradient: c - c0 = -1.9 (lr/mu)
 * dl/dc, dl/dc = ((softmax(z) - onehot) / B) W_1 . relu'(c0) in double. */
static void test_am_first_code_step(void **st) {
  (void)st;
  const int64_t sizes[3] = {8, 6, 4};
  float x[B * 8];
  int32_t y[B];
  random_data(B, 8, 4, 6, x, y);
  nd_mlp_config c = cfg(ND_CREDIT_AM, 3, sizes, ND_ACT_RELU);
  c.am_code_steps = 1, c.am_mu = 0.5f, c.am_code_lr = 0.2f;
  nd_mlp *m = make_cfg(c);
  nd_assert_ok(nd_mlp_batch_grads(m, x, y, B, NULL));
  double a[B * 6], z[B * 4];
  float h[B * 6];
  affine(x, B, 8, &m->params[0], &m->params[1], a);
  for (int i = 0; i < B * 6; i++) h[i] = a[i] > 0 ? (float)a[i] : 0.0f;
  affine(h, B, 6, &m->params[2], &m->params[3], z);
  const float *W1 = m->params[2].data, *code = m->aux;
  for (int r = 0; r < B; r++) {
    double mx = z[r * 4], p[4], sum = 0;
    for (int k = 1; k < 4; k++) mx = fmax(mx, z[r * 4 + k]);
    for (int k = 0; k < 4; k++) sum += p[k] = exp(z[r * 4 + k] - mx);
    for (int j = 0; j < 6; j++) {
      double g = 0;
      for (int k = 0; k < 4; k++) g += (p[k] / sum - (k == y[r])) / B * W1[k * 6 + j];
      if (a[r * 6 + j] <= 0) g = 0;
      nd_assert_close(code[r * 6 + j], a[r * 6 + j] - 1.9 * 0.2 / 0.5 * g, 1e-5, 1e-4);
    }
  }
  nd_mlp_free(m);
}

/* Seed 004: no gradient crosses a block boundary. */
static void test_subtask_blocks_are_local(void **st) {
  (void)st;
  const int64_t sizes[4] = {9, 7, 5, 3};
  float x[B * 9];
  int32_t y[B];
  random_data(B, 9, 3, 7, x, y);
  for (int per = 1; per <= 2; per++) {
    nd_mlp_config c = cfg(ND_CREDIT_SUBTASK, 4, sizes, ND_ACT_RELU);
    c.subtask_layers = per;
    nd_mlp *m = make_cfg(c);
    int nb = nd__mlp_subtask_blocks(m), n = nd_mlp_num_params(m);
    assert_int_equal(nb, per == 1 ? 3 : 2);
    assert_int_equal(n, 6 + nb - 1);
    assert_string_equal(nd_mlp_param_name(m, 6), "rep.0.weight");
    assert_int_equal(nd_mlp_param(m, 6)->shape[1], per == 1 ? 7 : 5);
    nd_assert_ok(nd_mlp_batch_grads(m, x, y, B, NULL));
    float before[16][64];
    for (int i = 0; i < n; i++) {
      memcpy(before[i], nd_mlp_grad(m, i)->data, (size_t)nd_tensor_numel(nd_mlp_grad(m, i)) * sizeof(float));
      assert_true(nd_max_abs(before[i], nd_tensor_numel(nd_mlp_grad(m, i))) > 0);
    }
    /* change the last block (layer 2): its loss changes; nothing before the last representative may notice */
    nd_tensor *w2 = nd_mlp_param(m, 4);
    for (int64_t j = 0; j < nd_tensor_numel(w2); j++) w2->data[j] += 0.3f * (float)((j % 7) - 3);
    nd_assert_ok(nd_mlp_batch_grads(m, x, y, B, NULL));
    int last_rep = 6 + nb - 2;
    for (int i = 0; i < n; i++) {
      bool same = !memcmp(before[i], nd_mlp_grad(m, i)->data, (size_t)nd_tensor_numel(nd_mlp_grad(m, i)) * sizeof(float));
      bool later = i == 4 || i == 5 || i == last_rep; /* the last block, and the representative it reads */
      assert_true(same == !later);
    }
    /* block 0's gradient: central differences of L_0 = mse(block_0(x), E_0[y]) in double */
    if (per == 1) {
      const nd_tensor *W0 = nd_mlp_param(m, 0), *E0 = nd_mlp_param(m, 6);
      for (int j = 0; j < 63; j += 5) {
        double lp[2];
        float keep = W0->data[j];
        for (int s = 0; s < 2; s++) {
          W0->data[j] = keep + (s ? -1e-2f : 1e-2f);
          double a[B * 7], L = 0;
          affine(x, B, 9, W0, nd_mlp_param(m, 1), a);
          for (int r = 0; r < B; r++)
            for (int k = 0; k < 7; k++) {
              double d = (a[r * 7 + k] > 0 ? a[r * 7 + k] : 0) - E0->data[y[r] * 7 + k];
              L += d * d / (B * 7);
            }
          lp[s] = L;
        }
        W0->data[j] = keep;
        double step = (double)(keep + 1e-2f) - (double)(keep - 1e-2f);
        double fd = (lp[0] - lp[1]) / step;
        nd_assert_close(nd_mlp_grad(m, 0)->data[j], fd, 1e-4, 1e-2);
      }
    }
    nd_mlp_free(m);
  }
  /* a single block is refused */
  nd_mlp_config c = cfg(ND_CREDIT_SUBTASK, 4, sizes, ND_ACT_RELU);
  c.subtask_layers = 3;
  nd_mlp *bad = (nd_mlp *)1;
  assert_int_equal(nd_mlp_create(&c, &bad), ND_ERR_INVALID_ARG);
  assert_null(bad);
}

/* Data-parallel blocks: subtask's, ff's and dtp's losses are batch means
 * (ff's wrong labels and dtp's noise drawn for the whole minibatch, in one
 * process's order: train.c, draw_batch), so the block sum is the batch
 * gradient, up to rounding; am and dni refuse. */
static void test_blocks(void **st) {
  (void)st;
  const int64_t sizes[4] = {9, 7, 5, 3};
  enum { N = 40 };
  float x[N * 9];
  int32_t y[N];
  random_data(N, 9, 3, 8, x, y);
  const nd_credit_method methods[] = {ND_CREDIT_SUBTASK, ND_CREDIT_FF, ND_CREDIT_DTP};
  for (int q = 0; q < 3; q++) {
    nd_mlp *m[2];
    for (int k = 0; k < 2; k++) {
      nd_mlp_config c = cfg(methods[q], 4, sizes, ND_ACT_RELU);
      c.subtask_layers = 1;
      m[k] = make_cfg(c);
      nd_assert_ok(nd_mlp_set_comm(m[k], NULL, k ? 4 : 1));
      nd_optim_config oc = nd_optim_defaults(ND_OPTIM_SGD);
      oc.lr = 0.1f;
      nd_optim *opt;
      nd_assert_ok(nd_optim_create(&oc, nd_mlp_num_params(m[k]), nd_mlp_params(m[k]), nd_mlp_grads(m[k]), &opt));
      nd_rng r;
      nd_rng_init(&r, 3);
      nd_assert_ok(nd_mlp_train_epoch(m[k], opt, x, y, N, 20, &r, NULL));
      nd_optim_free(opt);
    }
    for (int i = 0; i < nd_mlp_num_params(m[0]); i++)
      nd_assert_arrays_close(nd_mlp_param(m[1], i)->data, nd_mlp_param(m[0], i)->data,
                             nd_tensor_numel(nd_mlp_param(m[0], i)), 1e-6, 1e-5, nd_credit_method_name(methods[q]));
    nd_mlp_free(m[0]), nd_mlp_free(m[1]);
  }
  const nd_credit_method refused[] = {ND_CREDIT_AM, ND_CREDIT_DNI};
  for (int q = 0; q < 2; q++) {
    nd_mlp *d = make_cfg(cfg(refused[q], 4, sizes, ND_ACT_RELU));
    assert_int_equal(nd_mlp_set_comm(d, NULL, 2), ND_ERR_INVALID_ARG);
    nd_mlp_free(d);
  }
}

static void test_ops(void **st) {
  (void)st;
  float h[3] = {1, 2, 3}, g[3] = {0.5f, -1, 2}, o[3];
  nd_assert_ok(nd_credit_dtp_top_target(h, g, 3, 0.5f, o));
  assert_true(o[0] == 0.75f && o[1] == 2.5f && o[2] == 2.0f);
  nd_assert_ok(nd_credit_dtp_target(h, g, g, 3, o));
  assert_memory_equal(o, h, sizeof h);
  float x[2] = {1, 1}, v[2] = {0, 0}, gr[2] = {1, -2};
  nd_assert_ok(nd_credit_nesterov_step(x, v, gr, 2, 0.1f, 0.9f)); /* v = g, x -= 0.1 * 1.9 g */
  nd_assert_close(x[0], 1 - 0.19, 1e-6, 0);
  nd_assert_close(x[1], 1 + 0.38, 1e-6, 0);
  assert_int_equal(nd_credit_dtp_target(NULL, g, g, 3, o), ND_ERR_INVALID_ARG);
  nd_mlp_config c = cfg(ND_CREDIT_DTP, 3, (const int64_t[]){4, 3, 2}, ND_ACT_RELU);
  c.loss = ND_MLP_LOSS_ABS_POWER;
  assert_int_equal(nd_mlp_config_check(&c), ND_ERR_INVALID_ARG);
  c = cfg(ND_CREDIT_AM, 3, (const int64_t[]){4, 3, 2}, ND_ACT_RELU);
  c.am_mu = 0;
  assert_int_equal(nd_mlp_config_check(&c), ND_ERR_INVALID_ARG);
  assert_string_equal(nd_credit_method_name(ND_CREDIT_SUBTASK), "subtask");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dtp_exact_inverse_targets_consistent),
      cmocka_unit_test(test_dtp_zero_step_targets_are_activities),
      cmocka_unit_test(test_dtp_one_hidden_is_scaled_bp),
      cmocka_unit_test(test_dtp_inverse_loss),
      cmocka_unit_test(test_am_codes_at_forward_values),
      cmocka_unit_test(test_am_first_code_step),
      cmocka_unit_test(test_subtask_blocks_are_local),
      cmocka_unit_test(test_blocks),
      cmocka_unit_test(test_ops),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
