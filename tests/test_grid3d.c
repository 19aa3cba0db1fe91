/* Grid models (grid3d.h): forward against a naive double-precision
 * reference that finds the neighbours from the positions itself; BP
 * gradients against central differences (through steps, lateral and
 * recurrent messages); growth and freeing leave the outputs of a model whose
 * inactive nodes output zero unchanged; DFA with D = W_out on one group is
 * BP; the cost counters follow the active nodes; checkpoints continue
 * training bit for bit; FF and DFA learn a toy problem. */
#include <string.h>

#include "nd_test.h"

#define H 4
#define W 6

/* A tiny grid: 3 x 2 x nz over a 4 x 6 image (2 x 2 pixel patches). */
static nd_grid3d_config tiny(int64_t nz, int64_t dim, bool lateral, bool recurrent, int steps) {
  nd_grid3d_config c = nd_grid3d_defaults();
  c.nx = 3, c.ny = 2, c.nz = nz, c.dim = dim, c.radius = 1.5f;
  c.lateral = lateral, c.recurrent = recurrent, c.steps = steps;
  c.in_h = H, c.in_w = W, c.classes = 3;
  c.growth = false;
  c.threshold = -1.0f;
  c.seed = 7;
  return c;
}

static void images(int64_t n, uint64_t seed, float *x) {
  nd_rng r;
  nd_rng_init(&r, seed);
  nd_rng_uniform(&r, x, n * H * W, -0.2f, 1.0f);
  for (int64_t i = 0; i < n * H * W; i++) x[i] = x[i] < 0 ? 0 : x[i]; /* some zero pixels */
}

/* ------------------------------------------------------ naive reference */
typedef struct ref_node {
  int x, y, z;
} ref_node;

/* Node i of the model's numbering: z, then y, then x fastest. */
static ref_node ref_pos(const nd_grid3d_config *c, int64_t i) {
  ref_node p = {(int)(i % c->nx), (int)((i / c->nx) % c->ny), (int)(i / (c->nx * c->ny))};
  return p;
}

static bool near(ref_node a, ref_node b, double r) {
  double dx = a.x - b.x, dy = a.y - b.y, dz = a.z - b.z;
  return dx * dx + dy * dy + dz * dz <= r * r;
}

/* z [rows, classes] and the final states [rows, n, dim] in double. */
static void ref_forward(nd_grid3d *m, const float *x, int64_t rows, double *z, double *states) {
  const nd_grid3d_config *c = nd_grid3d_config_of(m);
  const int64_t n = nd_grid3d_num_nodes(m), d = c->dim, per = c->nx * c->ny;
  double *h = calloc((size_t)(n * d), sizeof(double)), *hn = calloc((size_t)(n * d), sizeof(double));
  double *msg = malloc((size_t)(n * d + H * W) * sizeof(double));
  for (int64_t r = 0; r < rows; r++) {
    memset(h, 0, (size_t)(n * d) * sizeof(double));
    for (int t = 0; t < c->steps; t++) {
      memcpy(hn, h, (size_t)(n * d) * sizeof(double));
      for (int64_t i = 0; i < n; i++) {
        ref_node p = ref_pos(c, i);
        int64_t k = 0;
        if (p.z == 0) { /* the pixels of its 2 x 2 patch, in pixel order */
          for (int u = 0; u < H; u++)
            for (int v = 0; v < W; v++)
              if (v / 2 == p.x && u / 2 == p.y) msg[k++] = x[r * H * W + u * W + v];
        } else {
          for (int64_t j = 0; j < n; j++)
            if (ref_pos(c, j).z == p.z - 1 && near(p, ref_pos(c, j), c->radius))
              for (int64_t e = 0; e < d; e++) msg[k++] = hn[j * d + e]; /* this step's lower group */
        }
        for (int64_t j = 0; j < n; j++) {
          ref_node q = ref_pos(c, j);
          if (q.z != p.z) continue;
          if ((j == i && c->recurrent) || (j != i && c->lateral && near(p, q, c->radius)))
            for (int64_t e = 0; e < d; e++) msg[k++] = h[j * d + e]; /* the previous step */
        }
        float *w, *b;
        int64_t fan;
        nd_assert_ok(nd_grid3d_node_info(m, i, NULL, NULL, &fan));
        assert_int_equal(fan, k);
        nd_assert_ok(nd_grid3d_node_params(m, i, &w, &b));
        double ss = 0;
        for (int64_t f = 0; f < k; f++) ss += msg[f] * msg[f];
        bool on = w && k > 0 && (c->threshold < 0 || sqrt(ss / (double)k) > c->threshold);
        for (int64_t e = 0; e < d; e++) {
          double a = 0;
          for (int64_t f = 0; on && f < k; f++) a += (double)w[e * k + f] * msg[f];
          a = on ? a + b[e] : 0;
          hn[i * d + e] = a > 0 ? a : 0;
        }
        (void)per;
      }
      memcpy(h, hn, (size_t)(n * d) * sizeof(double));
    }
    if (states) memcpy(states + r * n * d, h, (size_t)(n * d) * sizeof(double));
    nd_tensor *const *ro = nd_grid3d_readout_params(m);
    int64_t top0 = n - per;
    for (int64_t k = 0; k < c->classes; k++) {
      double a = ro[1]->data[k];
      for (int64_t f = 0; f < per * d; f++) a += (double)ro[0]->data[k * per * d + f] * h[top0 * d + f];
      z[r * c->classes + k] = a;
    }
  }
  free(h), free(hn), free(msg);
}

static void check_against_reference(nd_grid3d_config c, const char *what) {
  nd_grid3d *m = NULL;
  nd_assert_ok(nd_grid3d_create(&c, &m));
  const int64_t rows = 5, n = nd_grid3d_num_nodes(m), d = c.dim;
  float x[5 * H * W], z[5 * 3];
  images(rows, 3, x);
  double zr[5 * 3];
  float *st = malloc((size_t)(rows * n * d) * sizeof(float));
  double *sr = malloc((size_t)(rows * n * d) * sizeof(double));
  float *srf = malloc((size_t)(rows * n * d) * sizeof(float));
  nd_assert_ok(nd_grid3d_states(m, x, rows, st, z));
  ref_forward(m, x, rows, zr, sr);
  float zrf[5 * 3];
  for (int i = 0; i < 15; i++) zrf[i] = (float)zr[i];
  for (int64_t i = 0; i < rows * n * d; i++) srf[i] = (float)sr[i];
  nd_assert_arrays_close(z, zrf, rows * 3, 1e-5, 1e-4, what);
  nd_assert_arrays_close(st, srf, rows * n * d, 1e-5, 1e-4, what);
  free(st), free(sr), free(srf);
  nd_grid3d_free(m);
}

static void test_forward_reference(void **state) {
  (void)state;
  check_against_reference(tiny(3, 3, false, false, 1), "feed-forward");
  check_against_reference(tiny(3, 2, true, true, 3), "lateral + recurrent, 3 steps");
  nd_grid3d_config c = tiny(2, 4, true, false, 2);
  c.threshold = 0.3f; /* gated: some nodes inactive on some rows */
  check_against_reference(c, "gated");
  c.radius = 1.0f;
  check_against_reference(c, "radius 1");
}

/* ------------------------------------------------------------ gradients */
static double ce_loss(nd_grid3d *m, const float *x, const int32_t *y, int64_t rows) {
  float z[8 * 3];
  nd_assert_ok(nd_grid3d_states(m, x, rows, NULL, z));
  double l = 0;
  for (int64_t r = 0; r < rows; r++) {
    double mx = -1e30, s = 0;
    for (int k = 0; k < 3; k++) mx = fmax(mx, z[r * 3 + k]);
    for (int k = 0; k < 3; k++) s += exp(z[r * 3 + k] - mx);
    l += log(s) + mx - z[r * 3 + y[r]];
  }
  return l / (double)rows;
}

static void check_fd(nd_grid3d *m, float *p, const float *g, int64_t count, const float *x, const int32_t *y,
                     int64_t rows, const char *what) {
  for (int64_t j = 0; j < count; j++) {
    float keep = p[j];
    const float h = 1e-3f;
    p[j] = keep + h;
    double lp = ce_loss(m, x, y, rows);
    p[j] = keep - h;
    double lm = ce_loss(m, x, y, rows);
    p[j] = keep;
    double num = (lp - lm) / (2.0 * h);
    if (!(fabs(g[j] - num) <= 2e-3 + 3e-2 * fabs(num)))
      fail_msg("%s: element %lld: analytic %.6g, central difference %.6g", what, (long long)j, (double)g[j], num);
  }
}

static void gradcheck_config(nd_grid3d_config c, const char *what) {
  nd_grid3d *m = NULL;
  nd_assert_ok(nd_grid3d_create(&c, &m));
  const int64_t rows = 6;
  float x[6 * H * W];
  int32_t y[6] = {0, 1, 2, 1, 0, 2};
  images(rows, 11, x);
  nd_assert_ok(nd_grid3d_batch_grads(m, x, y, rows, NULL, NULL));
  for (int64_t i = 0; i < nd_grid3d_num_nodes(m); i++) {
    float *w, *b, *gw, *gb;
    int64_t fan;
    nd_assert_ok(nd_grid3d_node_info(m, i, NULL, NULL, &fan));
    nd_assert_ok(nd_grid3d_node_params(m, i, &w, &b));
    nd_assert_ok(nd_grid3d_node_grads(m, i, &gw, &gb));
    char name[96];
    snprintf(name, sizeof name, "%s: node %lld weight", what, (long long)i);
    check_fd(m, w, gw, fan * c.dim < 12 ? fan * c.dim : 12, x, y, rows, name); /* the first 12 of each node */
    snprintf(name, sizeof name, "%s: node %lld bias", what, (long long)i);
    check_fd(m, b, gb, c.dim, x, y, rows, name);
  }
  nd_tensor *const *ro = nd_grid3d_readout_params(m);
  nd_tensor *const *rg = nd_grid3d_readout_grads(m);
  check_fd(m, ro[0]->data, rg[0]->data, nd_tensor_numel(ro[0]), x, y, rows, "read-out weight");
  check_fd(m, ro[1]->data, rg[1]->data, 3, x, y, rows, "read-out bias");
  nd_grid3d_free(m);
}

static void test_bp_gradients(void **state) {
  (void)state;
  gradcheck_config(tiny(3, 3, false, false, 1), "feed-forward");
  gradcheck_config(tiny(2, 2, true, true, 3), "lateral + recurrent, 3 steps (BPTT)");
}

/* ---------------------------------------------------------------- growth */
static void copy_weights(nd_grid3d *dst, nd_grid3d *src) {
  for (int64_t i = 0; i < nd_grid3d_num_nodes(dst); i++) {
    float *w, *b, *ws, *bs;
    int64_t fan;
    nd_assert_ok(nd_grid3d_node_params(dst, i, &w, &b));
    nd_assert_ok(nd_grid3d_node_params(src, i, &ws, &bs));
    nd_assert_ok(nd_grid3d_node_info(dst, i, NULL, NULL, &fan));
    if (!w) continue;
    memcpy(w, ws, (size_t)(fan * nd_grid3d_config_of(dst)->dim) * sizeof(float));
    memcpy(b, bs, (size_t)nd_grid3d_config_of(dst)->dim * sizeof(float));
  }
  nd_tensor *const *a = nd_grid3d_readout_params(dst), *const *s = nd_grid3d_readout_params(src);
  nd_assert_ok(nd_tensor_copy(a[0], s[0]));
  nd_assert_ok(nd_tensor_copy(a[1], s[1]));
}

static void test_growth_keeps_outputs(void **state) {
  (void)state;
  nd_grid3d_config c = tiny(3, 3, false, false, 1);
  c.threshold = 0.05f;
  nd_grid3d *dense = NULL, *grown = NULL;
  nd_assert_ok(nd_grid3d_create(&c, &dense)); /* every node allocated, inactive ones output 0 */
  c.growth = true, c.patience = 2;
  nd_assert_ok(nd_grid3d_create(&c, &grown));
  assert_int_equal(nd_grid3d_num_allocated(grown), 0);
  const int64_t rows = 4, n = nd_grid3d_num_nodes(dense);
  float x1[4 * H * W], x2[4 * H * W];
  int32_t y[4] = {0, 1, 2, 0};
  images(rows, 5, x1);
  memcpy(x2, x1, sizeof x1);
  for (int64_t r = 0; r < rows; r++)
    for (int u = 0; u < H; u++)
      for (int v = 2; v < W; v++) x2[r * H * W + u * W + v] = 0; /* only the left patches light up */
  /* growth on x1: one group further per minibatch */
  for (int k = 0; k < 3; k++) {
    nd_assert_ok(nd_grid3d_batch_grads(grown, x1, y, rows, NULL, NULL));
    nd_assert_ok(nd_grid3d_grow(grown));
    copy_weights(grown, dense);
  }
  int64_t on_x1 = nd_grid3d_num_allocated(grown);
  assert_true(on_x1 > 0 && on_x1 <= n);
  float za[4 * 3], zb[4 * 3];
  nd_assert_ok(nd_grid3d_states(dense, x1, rows, NULL, za));
  nd_assert_ok(nd_grid3d_states(grown, x1, rows, NULL, zb));
  nd_assert_arrays_close(zb, za, rows * 3, 0, 0, "grown model on x1");
  /* x2 for patience minibatches: the right-hand nodes idle and are freed */
  for (int k = 0; k < 4; k++) {
    nd_assert_ok(nd_grid3d_batch_grads(grown, x2, y, rows, NULL, NULL));
    nd_assert_ok(nd_grid3d_grow(grown));
    copy_weights(grown, dense);
  }
  nd_grid3d_stats st = nd_grid3d_get_stats(grown);
  assert_true(st.deaths > 0);
  assert_true(nd_grid3d_num_allocated(grown) < on_x1);
  assert_true(nd_grid3d_param_count(grown) < nd_grid3d_param_count_dense(grown));
  nd_assert_ok(nd_grid3d_states(dense, x2, rows, NULL, za));
  nd_assert_ok(nd_grid3d_states(grown, x2, rows, NULL, zb));
  nd_assert_arrays_close(zb, za, rows * 3, 0, 0, "after freeing, on x2");
  /* the counters: fewer GEMMs than node slots on x2 */
  nd_grid3d_reset_stats(grown);
  nd_assert_ok(nd_grid3d_states(grown, x2, rows, NULL, zb));
  st = nd_grid3d_get_stats(grown);
  assert_int_equal(st.node_slots, n);
  assert_true(st.node_evals > 0 && st.node_evals < n);
  assert_int_equal(st.node_evals, nd_grid3d_num_allocated(grown));
  nd_grid3d_free(dense);
  nd_grid3d_free(grown);
}

/* ------------------------------------------------------------------- DFA */
static void test_dfa_one_group_is_bp(void **state) {
  (void)state;
  nd_grid3d_config c = tiny(1, 3, false, false, 1);
  nd_grid3d *bp = NULL, *dfa = NULL;
  nd_assert_ok(nd_grid3d_create(&c, &bp));
  c.method = ND_CREDIT_DFA;
  nd_assert_ok(nd_grid3d_create(&c, &dfa));
  nd_tensor *D = nd_grid3d_feedback(dfa, 0);
  assert_non_null(D);
  nd_assert_ok(nd_tensor_copy(D, nd_grid3d_readout_params(dfa)[0])); /* Nokland: D = W_out gives BP */
  const int64_t rows = 6;
  float x[6 * H * W];
  int32_t y[6] = {0, 1, 2, 1, 0, 2};
  images(rows, 13, x);
  nd_assert_ok(nd_grid3d_batch_grads(bp, x, y, rows, NULL, NULL));
  nd_assert_ok(nd_grid3d_batch_grads(dfa, x, y, rows, NULL, NULL));
  for (int64_t i = 0; i < nd_grid3d_num_nodes(bp); i++) {
    float *ga, *gba, *gb, *gbb;
    int64_t fan;
    nd_assert_ok(nd_grid3d_node_info(bp, i, NULL, NULL, &fan));
    nd_assert_ok(nd_grid3d_node_grads(bp, i, &ga, &gba));
    nd_assert_ok(nd_grid3d_node_grads(dfa, i, &gb, &gbb));
    nd_assert_arrays_close(gb, ga, fan * 3, 1e-6, 1e-5, "dfa vs bp node weight gradient");
    nd_assert_arrays_close(gbb, gba, 3, 1e-6, 1e-5, "dfa vs bp node bias gradient");
  }
  /* with a random D the gradient differs */
  nd_grid3d_config c2 = c;
  nd_grid3d *dfa2 = NULL;
  nd_assert_ok(nd_grid3d_create(&c2, &dfa2));
  nd_assert_ok(nd_grid3d_batch_grads(dfa2, x, y, rows, NULL, NULL));
  double diff = 0;
  for (int64_t i = 0; i < nd_grid3d_num_nodes(bp); i++) {
    float *g1, *b1, *g2, *b2;
    nd_assert_ok(nd_grid3d_node_grads(bp, i, &g1, &b1));
    nd_assert_ok(nd_grid3d_node_grads(dfa2, i, &g2, &b2));
    for (int k = 0; k < 3; k++) diff += fabs(b1[k] - b2[k]);
  }
  assert_true(diff > 1e-5);
  nd_grid3d_free(bp), nd_grid3d_free(dfa), nd_grid3d_free(dfa2);
}

/* ------------------------------------------ checkpoints and training runs */
/* Two classes: bright left half or bright right half, noisy. */
static void toy(int64_t n, uint64_t seed, float *x, int32_t *y) {
  nd_rng r;
  nd_rng_init(&r, seed);
  nd_rng_uniform(&r, x, n * H * W, 0.0f, 0.3f);
  for (int64_t i = 0; i < n; i++) {
    y[i] = (int32_t)(i % 3);
    for (int u = 0; u < H; u++)
      for (int v = 0; v < W; v++)
        if (v / 2 == y[i]) x[i * H * W + u * W + v] += 0.8f;
  }
}

static void train_toy(nd_credit_method meth, double floor) {
  nd_grid3d_config c = tiny(3, 4, false, false, 1);
  c.method = meth;
  c.growth = true, c.threshold = 0.0f;
  nd_grid3d *m = NULL;
  nd_assert_ok(nd_grid3d_create(&c, &m));
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  oc.lr = 0.01f;
  nd_optim *opt = NULL;
  nd_assert_ok(nd_optim_create(&oc, 2, nd_grid3d_readout_params(m), nd_grid3d_readout_grads(m), &opt));
  enum { N = 300 };
  float *x = malloc(N * H * W * sizeof(float));
  int32_t y[N];
  toy(N, 21, x, y);
  nd_rng rng;
  nd_rng_init(&rng, 3);
  for (int e = 0; e < 15; e++) nd_assert_ok(nd_grid3d_train_epoch(m, opt, x, y, N, 20, &rng, NULL));
  double acc = 0;
  nd_assert_ok(nd_grid3d_accuracy(m, x, y, N, 64, &acc));
  if (acc < floor) fail_msg("%s: training accuracy %.3f below %.2f", nd_credit_method_name(meth), acc, floor);
  nd_optim_free(opt);
  nd_grid3d_free(m);
  free(x);
}

static void test_methods_learn(void **state) {
  (void)state;
  train_toy(ND_CREDIT_BP, 0.9);
  train_toy(ND_CREDIT_DFA, 0.9);
  train_toy(ND_CREDIT_FF, 0.8);
}

static void test_checkpoint_resume(void **state) {
  (void)state;
  nd_grid3d_config c = tiny(3, 3, true, false, 2);
  c.growth = true, c.threshold = 0.1f, c.patience = 3;
  enum { N = 60 };
  float x[N * H * W];
  int32_t y[N];
  toy(N, 5, x, y);
  nd_grid3d *a = NULL, *b = NULL;
  nd_assert_ok(nd_grid3d_create(&c, &a));
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  nd_optim *oa = NULL, *ob = NULL;
  nd_assert_ok(nd_optim_create(&oc, 2, nd_grid3d_readout_params(a), nd_grid3d_readout_grads(a), &oa));
  nd_rng ra, rb;
  nd_rng_init(&ra, 9);
  for (int e = 0; e < 2; e++) nd_assert_ok(nd_grid3d_train_epoch(a, oa, x, y, N, 10, &ra, NULL));
  nd_checkpoint *ck = NULL;
  nd_assert_ok(nd_checkpoint_create(&ck));
  nd_assert_ok(nd_grid3d_save(a, ck));
  nd_assert_ok(nd_optim_save(oa, ck));
  nd_assert_ok(nd_grid3d_load(ck, &b));
  nd_assert_ok(nd_optim_create(&oc, 2, nd_grid3d_readout_params(b), nd_grid3d_readout_grads(b), &ob));
  nd_assert_ok(nd_optim_load(ob, ck));
  nd_checkpoint_free(ck);
  assert_int_equal(nd_grid3d_num_allocated(b), nd_grid3d_num_allocated(a));
  rb = ra;
  nd_assert_ok(nd_grid3d_train_epoch(a, oa, x, y, N, 10, &ra, NULL));
  nd_assert_ok(nd_grid3d_train_epoch(b, ob, x, y, N, 10, &rb, NULL));
  for (int64_t i = 0; i < nd_grid3d_num_nodes(a); i++) {
    float *wa, *ba, *wb, *bb;
    int64_t fan;
    nd_assert_ok(nd_grid3d_node_info(a, i, NULL, NULL, &fan));
    nd_assert_ok(nd_grid3d_node_params(a, i, &wa, &ba));
    nd_assert_ok(nd_grid3d_node_params(b, i, &wb, &bb));
    assert_int_equal(wa != NULL, wb != NULL);
    if (wa) assert_memory_equal(wa, wb, (size_t)(fan * 3 + 3) * sizeof(float));
  }
  assert_memory_equal(nd_grid3d_readout_params(a)[0]->data, nd_grid3d_readout_params(b)[0]->data,
                      (size_t)nd_tensor_numel(nd_grid3d_readout_params(a)[0]) * sizeof(float));
  nd_optim_free(oa), nd_optim_free(ob);
  nd_grid3d_free(a), nd_grid3d_free(b);
}

static void test_positions_and_bad_config(void **state) {
  (void)state;
  /* arbitrary points: two groups, z = 0 and z = 2.5 */
  const float pts[] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0.5f, 0.5f, 2.5f, 3, 3, 2.5f};
  nd_grid3d_config c = tiny(1, 2, false, false, 1);
  c.positions = pts, c.n_nodes = 5, c.radius = 2.8f;
  nd_grid3d *m = NULL;
  nd_assert_ok(nd_grid3d_create(&c, &m));
  assert_int_equal(nd_grid3d_num_groups(m), 2);
  int64_t fan;
  int g;
  nd_assert_ok(nd_grid3d_node_info(m, 3, NULL, &g, &fan));
  assert_int_equal(g, 1);
  assert_int_equal(fan, 3 * 2); /* all three within 2.8 of (0.5, 0.5, 2.5) */
  nd_assert_ok(nd_grid3d_node_info(m, 4, NULL, &g, &fan));
  assert_int_equal(fan, 0); /* (3, 3, 2.5): none within reach, never active */
  int64_t total = 0;
  for (int64_t i = 0; i < 3; i++) {
    nd_assert_ok(nd_grid3d_node_info(m, i, NULL, NULL, &fan));
    total += fan;
  }
  assert_int_equal(total, H * W); /* every pixel belongs to one input node */
  nd_grid3d_free(m);
  c = tiny(2, 2, false, false, 1);
  c.dim = 0;
  assert_int_equal(nd_grid3d_create(&c, &m), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "dim"));
  c = tiny(2, 2, false, false, 1);
  c.method = ND_CREDIT_DNI;
  assert_int_equal(nd_grid3d_create(&c, &m), ND_ERR_INVALID_ARG);
  c = tiny(8, 2, false, false, 1);
  c.method = ND_CREDIT_DFA;
  assert_int_equal(nd_grid3d_create(&c, &m), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "groups"));
  c = tiny(2, 2, false, false, 1);
  c.patience = 0;
  assert_int_equal(nd_grid3d_create(&c, &m), ND_ERR_INVALID_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_reference),
      cmocka_unit_test(test_bp_gradients),
      cmocka_unit_test(test_growth_keeps_outputs),
      cmocka_unit_test(test_dfa_one_group_is_bp),
      cmocka_unit_test(test_checkpoint_resume),
      cmocka_unit_test(test_methods_learn),
      cmocka_unit_test(test_positions_and_bad_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
