/* Recurrent cells trained without storing activations (include/neurodyn/rnn.h)
 * against independent references:
 *   - a straightforward stored-activation BPTT written here from the cells'
 *     equations (dense loops, every state kept; the reversible cell without
 *     rounding, the orthogonal cell through its dense matrix R and the
 *     analytic dR/dtheta): the library's reconstructing backward must give
 *     the same gradient to 1e-4;
 *   - central finite differences of the library's own loss (gradcheck);
 *   - exactness of the reconstruction (reversible: h_0 back bit for bit
 *     after 1000 steps), orthogonality of R;
 *   - memory: the bytes a training step allocates beyond create stay 0 for
 *     the reversible and unitary cells as T grows 10x, and grow 10x for the
 *     BPTT baseline; the peak RSS (VmHWM, reset through clear_refs) agrees;
 *   - the copy task's layout and baseline; bad arguments; save/load. */
#include "nd_test.h"

#include <string.h>

#include "neurodyn/rnn.h"

enum { IN = 3, OUT = 4, N = 6, BB = 3, TT = 7, L = 4 };

/* ------------------------------------------------ the reference BPTT */

typedef struct ref {
  nd_rnn_cell cell;
  const double *p;
  int64_t oW, oU, ob, oW2, oU2, ob2, oth, oV, oc;
} ref;

/* The layout of docs/rnn.md, written out again here. */
static ref ref_of(nd_rnn_cell cell, const double *p) {
  ref r = {.cell = cell, .p = p};
  int64_t o = 0, m = N / 2;
  if (cell == ND_RNN_TANH) r.oW = o, o += N * N, r.oU = o, o += N * IN, r.ob = o, o += N;
  if (cell == ND_RNN_REVERSIBLE) {
    r.oW = o, o += m * m, r.oU = o, o += m * IN, r.ob = o, o += m;
    r.oW2 = o, o += m * m, r.oU2 = o, o += m * IN, r.ob2 = o, o += m;
  }
  if (cell == ND_RNN_UNITARY) r.oth = o, o += L * m, r.oU = o, o += N * IN;
  r.oV = o, o += OUT * N, r.oc = o;
  return r;
}

/* Dense R = G_{L-1} ... G_0; with (dl, dk) >= 0 the factor G_dl replaced by its
 * derivative in theta[dl, dk]. */
static void dense_r(const ref *r, int dl, int dk, double R[N][N]) {
  memset(R, 0, sizeof(double) * N * N);
  for (int i = 0; i < N; i++) R[i][i] = 1;
  for (int l = 0; l < L; l++) {
    double G[N][N] = {{0}}, P[N][N] = {{0}};
    for (int i = 0; i < N; i++) G[i][i] = l == dl ? 0 : 1;
    int off = l % 2, np = off ? (N - 1) / 2 : N / 2;
    for (int k = 0; k < np; k++) {
      int i = 2 * k + off, j = i + 1;
      double th = r->p[r->oth + l * (N / 2) + k], c = cos(th), s = sin(th);
      if (l == dl && k != dk) c = 0, s = 0; /* d/dtheta_k of the other blocks is 0 */
      if (l == dl && k == dk) {
        G[i][i] = -s, G[i][j] = -c, G[j][i] = c, G[j][j] = -s;
      } else if (l != dl) {
        G[i][i] = c, G[i][j] = -s, G[j][i] = s, G[j][j] = c;
      }
    }
    for (int a = 0; a < N; a++)
      for (int b = 0; b < N; b++)
        for (int k = 0; k < N; k++) P[a][b] += G[a][k] * R[k][b];
    memcpy(R, P, sizeof P);
  }
}

/* y[rows] = W[rows, cols] v + U[rows, IN] x + b (b may be < 0: none) */
static void lin(const double *p, int64_t oW, int64_t oU, int64_t ob, int rows, int cols, const double *v, const double *x,
                double *y) {
  for (int i = 0; i < rows; i++) {
    double s = ob >= 0 ? p[ob + i] : 0;
    for (int j = 0; j < cols; j++) s += p[oW + i * cols + j] * v[j];
    for (int j = 0; j < IN; j++) s += p[oU + i * IN + j] * x[j];
    y[i] = s;
  }
}

/* CE over every labelled step and sequence, mean; gradient into g. */
static double ref_loss_grad(const ref *r, const float *xf, const int32_t *lab, double *g, int64_t np) {
  static double h[TT + 1][BB][N], gh[BB][N];
  double R[N][N];
  if (r->cell == ND_RNN_UNITARY) dense_r(r, -1, -1, R);
  memset(h, 0, sizeof h);
  memset(g, 0, sizeof(double) * (size_t)np);
  int m = N / 2, scored = 0;
  for (int i = 0; i < TT * BB; i++) scored += lab[i] >= 0;
  const double *p = r->p;
  for (int t = 0; t < TT; t++)
    for (int b = 0; b < BB; b++) {
      double x[IN], a[N];
      for (int k = 0; k < IN; k++) x[k] = xf[(t * BB + b) * IN + k];
      double *hp = h[t][b], *hn = h[t + 1][b];
      if (r->cell == ND_RNN_TANH) {
        lin(p, r->oW, r->oU, r->ob, N, N, hp, x, a);
        for (int i = 0; i < N; i++) hn[i] = tanh(a[i]);
      } else if (r->cell == ND_RNN_REVERSIBLE) {
        lin(p, r->oW, r->oU, r->ob, m, m, hp + m, x, a);
        for (int i = 0; i < m; i++) hn[i] = hp[i] + tanh(a[i]);
        lin(p, r->oW2, r->oU2, r->ob2, m, m, hn, x, a);
        for (int i = 0; i < m; i++) hn[m + i] = hp[m + i] + tanh(a[i]);
      } else {
        for (int i = 0; i < N; i++) {
          double s = 0;
          for (int j = 0; j < N; j++) s += R[i][j] * hp[j];
          for (int j = 0; j < IN; j++) s += p[r->oU + i * IN + j] * x[j];
          hn[i] = s;
        }
      }
    }
  double loss = 0, dR[N][N] = {{0}};
  memset(gh, 0, sizeof gh);
  for (int t = TT - 1; t >= 0; t--)
    for (int b = 0; b < BB; b++) {
      double x[IN], *hn = h[t + 1][b], *hp = h[t][b], *gb = gh[b];
      for (int k = 0; k < IN; k++) x[k] = xf[(t * BB + b) * IN + k];
      int y = lab[t * BB + b];
      if (y >= 0) { /* readout z = V h + c, softmax cross-entropy */
        double z[OUT], mx = -1e300, se = 0;
        for (int k = 0; k < OUT; k++) {
          z[k] = p[r->oc + k];
          for (int j = 0; j < N; j++) z[k] += p[r->oV + k * N + j] * hn[j];
          if (z[k] > mx) mx = z[k];
        }
        for (int k = 0; k < OUT; k++) se += exp(z[k] - mx);
        loss += (log(se) + mx - z[y]) / scored;
        for (int k = 0; k < OUT; k++) {
          double dz = (exp(z[k] - mx) / se - (k == y)) / scored;
          g[r->oc + k] += dz;
          for (int j = 0; j < N; j++) g[r->oV + k * N + j] += dz * hn[j], gb[j] += dz * p[r->oV + k * N + j];
        }
      }
      double gp[N] = {0}, a[N];
      if (r->cell == ND_RNN_TANH) {
        for (int i = 0; i < N; i++) {
          double d = gb[i] * (1 - hn[i] * hn[i]);
          g[r->ob + i] += d;
          for (int j = 0; j < N; j++) g[r->oW + i * N + j] += d * hp[j], gp[j] += d * p[r->oW + i * N + j];
          for (int j = 0; j < IN; j++) g[r->oU + i * IN + j] += d * x[j];
        }
      } else if (r->cell == ND_RNN_REVERSIBLE) {
        double g1[N / 2], g2[N / 2];
        for (int i = 0; i < m; i++) g1[i] = gb[i], g2[i] = gb[m + i];
        lin(p, r->oW2, r->oU2, r->ob2, m, m, hn, x, a); /* h2' = h2 + tanh(a2(h1')) */
        for (int i = 0; i < m; i++) {
          double d = g2[i] * (1 - tanh(a[i]) * tanh(a[i]));
          g[r->ob2 + i] += d;
          for (int j = 0; j < m; j++) g[r->oW2 + i * m + j] += d * hn[j], g1[j] += d * p[r->oW2 + i * m + j];
          for (int j = 0; j < IN; j++) g[r->oU2 + i * IN + j] += d * x[j];
        }
        lin(p, r->oW, r->oU, r->ob, m, m, hp + m, x, a); /* h1' = h1 + tanh(a1(h2)) */
        double g2p[N / 2];
        memcpy(g2p, g2, sizeof g2p);
        for (int i = 0; i < m; i++) {
          double d = g1[i] * (1 - tanh(a[i]) * tanh(a[i]));
          g[r->ob + i] += d;
          for (int j = 0; j < m; j++) g[r->oW + i * m + j] += d * hp[m + j], g2p[j] += d * p[r->oW + i * m + j];
          for (int j = 0; j < IN; j++) g[r->oU + i * IN + j] += d * x[j];
        }
        for (int i = 0; i < m; i++) gp[i] = g1[i], gp[m + i] = g2p[i];
      } else {
        for (int i = 0; i < N; i++) {
          for (int j = 0; j < N; j++) dR[i][j] += gb[i] * hp[j], gp[j] += R[i][j] * gb[i];
          for (int j = 0; j < IN; j++) g[r->oU + i * IN + j] += gb[i] * x[j];
        }
      }
      memcpy(gb, gp, sizeof gp);
    }
  if (r->cell == ND_RNN_UNITARY) /* dL/dtheta = <dL/dR, dR/dtheta> */
    for (int l = 0; l < L; l++)
      for (int k = 0; k < N / 2; k++) {
        double D[N][N], s = 0;
        dense_r(r, l, k, D);
        for (int i = 0; i < N; i++)
          for (int j = 0; j < N; j++) s += dR[i][j] * D[i][j];
        g[r->oth + l * (N / 2) + k] = s;
      }
  return loss;
}

/* ------------------------------------------------------------ helpers */

static nd_rnn *small_model(nd_rnn_cell cell, int frac_bits) {
  nd_rnn_config c = nd_rnn_defaults();
  c.cell = cell, c.inputs = IN, c.hidden = N, c.outputs = OUT, c.layers = L, c.batch = BB, c.seed = 11;
  c.frac_bits = frac_bits, c.init_scale = 0.9;
  nd_rnn *m = NULL;
  nd_assert_ok(nd_rnn_create(&c, &m));
  /* non-zero biases and readout bias, so every term is exercised */
  nd_rng r;
  nd_rng_init(&r, 5);
  double *p = nd_rnn_params(m);
  for (int64_t i = 0; i < nd_rnn_num_params(m); i++) p[i] += 0.1 * (nd_rng_uniform1(&r) - 0.5);
  return m;
}

static void small_batch(float *x, int32_t *lab) {
  nd_rng r;
  nd_rng_init(&r, 9);
  for (int i = 0; i < TT * BB * IN; i++) x[i] = (float)(2 * nd_rng_uniform1(&r) - 1);
  for (int i = 0; i < TT * BB; i++) lab[i] = (int32_t)(nd_rng_u32(&r) % (OUT + 1)) - 1; /* -1: unscored */
}

static void check_against_reference(nd_rnn_cell cell) {
  nd_rnn *m = small_model(cell, 40);
  float x[TT * BB * IN];
  int32_t lab[TT * BB];
  small_batch(x, lab);
  nd_rnn_batch b = {.T = TT, .B = BB, .x = x, .labels = lab, .loss = ND_RNN_LOSS_CE};
  double loss, acc;
  nd_assert_ok(nd_rnn_loss_grad(m, &b, &loss, &acc));
  int64_t np = nd_rnn_num_params(m);
  double *g = calloc((size_t)np, sizeof *g);
  ref r = ref_of(cell, nd_rnn_params(m));
  double want = ref_loss_grad(&r, x, lab, g, np);
  nd_assert_close(loss, want, 1e-9, 1e-9);
  const double *got = nd_rnn_grad(m);
  double gmax = 0;
  for (int64_t i = 0; i < np; i++) gmax = fmax(gmax, fabs(g[i]));
  assert_true(gmax > 1e-3);
  for (int64_t i = 0; i < np; i++)
    if (!(fabs(got[i] - g[i]) <= 1e-4 * gmax)) fail_msg("cell %d param %lld: grad %.9g, stored BPTT %.9g", cell, (long long)i, got[i], g[i]);
  free(g);
  nd_rnn_free(m);
}

static void test_tanh_vs_reference(void **s) { (void)s; check_against_reference(ND_RNN_TANH); }
static void test_reversible_vs_reference(void **s) { (void)s; check_against_reference(ND_RNN_REVERSIBLE); }
static void test_unitary_vs_reference(void **s) { (void)s; check_against_reference(ND_RNN_UNITARY); }

/* Central differences of the library's loss, every parameter. */
static void gradcheck(nd_rnn_cell cell, nd_rnn_loss_kind kind) {
  nd_rnn *m = small_model(cell, 40);
  float x[TT * BB * IN], tgt[BB * OUT];
  int32_t lab[TT * BB];
  small_batch(x, lab);
  for (int i = 0; i < BB * OUT; i++) tgt[i] = (float)(0.3 * i - 1);
  nd_rnn_batch b = {.T = TT, .B = BB, .x = x, .labels = lab, .target = tgt, .loss = kind};
  double loss, acc, lp, lm;
  nd_assert_ok(nd_rnn_loss_grad(m, &b, &loss, &acc));
  int64_t np = nd_rnn_num_params(m);
  double *g = malloc((size_t)np * sizeof *g), *p = nd_rnn_params(m), h = 1e-5;
  memcpy(g, nd_rnn_grad(m), (size_t)np * sizeof *g);
  for (int64_t i = 0; i < np; i++) {
    double v = p[i];
    p[i] = v + h;
    nd_assert_ok(nd_rnn_loss(m, &b, &lp, &acc));
    p[i] = v - h;
    nd_assert_ok(nd_rnn_loss(m, &b, &lm, &acc));
    p[i] = v;
    double fd = (lp - lm) / (2 * h);
    if (!(fabs(fd - g[i]) <= 1e-6 + 1e-4 * fabs(fd)))
      fail_msg("cell %d loss %d param %lld: grad %.9g, finite difference %.9g", cell, kind, (long long)i, g[i], fd);
  }
  free(g);
  nd_rnn_free(m);
}

static void test_gradcheck(void **s) {
  (void)s;
  for (int c = 0; c <= ND_RNN_GRU; c++) {
    gradcheck((nd_rnn_cell)c, ND_RNN_LOSS_CE);
    gradcheck((nd_rnn_cell)c, ND_RNN_LOSS_MSE_LAST);
  }
}

/* A long copy-task batch for model m: x, labels allocated. */
static nd_rnn_batch copy_batch(int64_t T, int64_t B, float **x, int32_t **lab) {
  int64_t L = T + 20;
  *x = malloc((size_t)(L * B * 10) * sizeof **x);
  *lab = malloc((size_t)(L * B) * sizeof **lab);
  nd_rng r;
  nd_rng_init(&r, 3);
  nd_assert_ok(nd_rnn_copy_task(&r, T, B, *x, *lab));
  return (nd_rnn_batch){.T = L, .B = B, .x = *x, .labels = *lab, .loss = ND_RNN_LOSS_CE};
}

static nd_rnn *copy_model(nd_rnn_cell cell, int64_t hidden, int64_t B) {
  nd_rnn_config c = nd_rnn_defaults();
  c.cell = cell, c.hidden = hidden, c.batch = B, c.layers = 8;
  nd_rnn *m = NULL;
  nd_assert_ok(nd_rnn_create(&c, &m));
  return m;
}

/* N steps forward, N back: h_0 = 0 again, exactly (MacKay et al. 2018's own
 * check); the orthogonal cell's drift is rounding that does not grow. */
static void test_reconstruction(void **s) {
  (void)s;
  float *x;
  int32_t *lab;
  nd_rnn_batch b = copy_batch(1000, 4, &x, &lab);
  double loss, acc;
  nd_rnn *m = copy_model(ND_RNN_REVERSIBLE, 32, 4);
  nd_assert_ok(nd_rnn_loss_grad(m, &b, &loss, &acc));
  assert_true(nd_rnn_reconstruction_error(m) == 0);
  nd_rnn_free(m);
  m = copy_model(ND_RNN_UNITARY, 32, 4);
  nd_assert_ok(nd_rnn_loss_grad(m, &b, &loss, &acc));
  double e = nd_rnn_reconstruction_error(m);
  assert_true(e < 1e-9);
  nd_rnn_free(m);
  free(x), free(lab);
}

/* R is orthogonal: ||h|| is kept by the recurrence when U x = 0 (blank-free
 * input: x = 0 after the first step). */
static void test_orthogonal(void **s) {
  (void)s;
  nd_rnn *m = small_model(ND_RNN_UNITARY, 32);
  double R[N][N];
  ref r = ref_of(ND_RNN_UNITARY, nd_rnn_params(m));
  dense_r(&r, -1, -1, R);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double d = 0;
      for (int k = 0; k < N; k++) d += R[k][i] * R[k][j];
      nd_assert_close(d, i == j, 1e-12, 0);
    }
  nd_rnn_free(m);
}

/* Peak resident set since the last reset, in bytes; -1 when the kernel does not let us reset it. */
static long vm_hwm_reset(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f) return -1;
  int ok = fputs("5", f) >= 0;
  if (fclose(f) != 0 || !ok) return -1;
  return 0;
}
static long vm_kib(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t k = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, key, k)) v = atol(line + k + 1);
  if (f) fclose(f);
  return v;
}

/* Bytes a training step allocates beyond what create allocated: flat in T
 * for the reconstructing cells, proportional to T for BPTT. */
static void test_memory_flat(void **s) {
  (void)s;
  enum { H = 64, B = 4 };
  for (int c = 0; c <= ND_RNN_UNITARY; c++) {
    size_t step[2], fixed[2];
    long rss[2] = {-1, -1};
    for (int k = 0; k < 2; k++) {
      int64_t T = k ? 2000 : 200;
      float *x;
      int32_t *lab;
      nd_rnn_batch b = copy_batch(T, B, &x, &lab);
      nd_rnn *m = copy_model((nd_rnn_cell)c, H, B);
      double loss, acc;
      long before = vm_kib("VmRSS:");
      bool can = vm_hwm_reset() == 0;
      nd_assert_ok(nd_rnn_loss_grad(m, &b, &loss, &acc));
      if (can) rss[k] = vm_kib("VmHWM:") - before;
      step[k] = nd_rnn_scratch_peak(m), fixed[k] = nd_rnn_fixed_bytes(m);
      nd_rnn_free(m);
      free(x), free(lab);
    }
    assert_true(fixed[0] == fixed[1]);
    if (c == ND_RNN_TANH) {
      /* the BPTT baseline stores (T+1) B H doubles: the test can tell */
      assert_true(step[0] >= (size_t)(201 + 20) * B * H * 8 && step[1] >= 9 * step[0]);
      if (rss[1] >= 0) assert_true(rss[1] * 1024 >= (long)(step[1] / 2));
    } else {
      assert_true(step[0] == 0 && step[1] == 0);
      /* peak RSS during the step: no more than a few pages over the resident set before it,
       * where BPTT at T = 2000 would need 4 MiB */
      if (rss[1] >= 0) assert_true(rss[1] < 1024);
    }
    print_message("cell %d: step bytes %zu -> %zu, create bytes %zu, peak RSS growth %ld -> %ld KiB\n", c, step[0],
                  step[1], fixed[0], rss[0], rss[1]);
  }
}

/* The task generators as arrays, written here from the paper's description
 * (the library streams them step by step): the copy task's symbols drawn row
 * by row, the adding problem's two positions then T numbers per row. */
static void ref_copy(nd_rng *r, int64_t T, int64_t B, float *x, int32_t *lab) {
  int64_t L = T + 20;
  memset(x, 0, sizeof(float) * (size_t)(L * B * 10));
  for (int64_t b = 0; b < B; b++) {
    int sym[10];
    for (int k = 0; k < 10; k++) sym[k] = (int)(nd_rng_u32(r) % 8);
    for (int64_t t = 0; t < L; t++) {
      int v = t < 10 ? sym[t] : t == T + 9 ? 9 : 8;
      x[(t * B + b) * 10 + v] = 1;
      lab[t * B + b] = t >= T + 10 ? sym[t - T - 10] : 8;
    }
  }
}
static void ref_adding(nd_rng *r, int64_t T, int64_t B, float *x, float *target) {
  for (int64_t b = 0; b < B; b++) {
    int64_t h = T / 2, i = (int64_t)(nd_rng_uniform1(r) * (double)h), j = h + (int64_t)(nd_rng_uniform1(r) * (double)(T - h));
    double sum = 0;
    for (int64_t t = 0; t < T; t++) {
      float v = (float)nd_rng_uniform1(r);
      x[(t * B + b) * 2] = v, x[(t * B + b) * 2 + 1] = (t == i || t == j);
      if (t == i || t == j) sum += v;
    }
    target[b] = (float)sum;
  }
}

/* nd_rnn_epoch trains on streamed minibatches: the same parameters, bit for
 * bit, as nd_rnn_loss_grad + nd_rnn_adam_step on the arrays of the task
 * drawn from the training stream (Philox stream 2 of the seed). */
static void test_stream_equals_arrays(void **s) {
  (void)s;
  enum { B = 3, STEPS = 2 };
  for (int task = 0; task <= ND_RNN_TASK_ADDING; task++)
    for (int c = 0; c <= ND_RNN_UNITARY; c++) {
      nd_rnn_config cf = nd_rnn_defaults();
      cf.cell = (nd_rnn_cell)c, cf.task = (nd_rnn_task)task, cf.length = 15, cf.hidden = 8, cf.layers = 4;
      cf.batch = B, cf.steps = STEPS, cf.seed = 21;
      int64_t T, in, out;
      nd_assert_ok(nd_rnn_task_shape(&cf, &T, &in, &out));
      cf.inputs = in, cf.outputs = out;
      nd_rnn *a = NULL, *b = NULL;
      nd_assert_ok(nd_rnn_create(&cf, &a));
      nd_assert_ok(nd_rnn_create(&cf, &b));
      nd_assert_ok(nd_rnn_epoch(a, NULL, NULL));
      nd_rng root, r;
      nd_rng_init(&root, cf.seed);
      r = nd_rng_split(&root, 2);
      float *x = malloc(sizeof(float) * (size_t)(T * B * in)), tgt[B];
      int32_t *lab = malloc(sizeof(int32_t) * (size_t)(T * B));
      for (int k = 0; k < STEPS; k++) {
        nd_rnn_batch bt = {.T = T, .B = B, .x = x, .labels = lab, .target = tgt};
        if (task == ND_RNN_TASK_COPY) ref_copy(&r, cf.length, B, x, lab), bt.loss = ND_RNN_LOSS_CE;
        else ref_adding(&r, T, B, x, tgt), bt.loss = ND_RNN_LOSS_MSE_LAST;
        double loss;
        nd_assert_ok(nd_rnn_loss_grad(b, &bt, &loss, NULL));
        nd_assert_ok(nd_rnn_adam_step(b));
      }
      assert_memory_equal(nd_rnn_params(a), nd_rnn_params(b), sizeof(double) * (size_t)nd_rnn_num_params(a));
      /* and the public generators write the same arrays */
      nd_rng r1 = nd_rng_split(&root, 5), r2 = r1;
      float *x2 = malloc(sizeof(float) * (size_t)(T * B * in)), tgt2[B];
      int32_t *lab2 = malloc(sizeof(int32_t) * (size_t)(T * B));
      if (task == ND_RNN_TASK_COPY) {
        ref_copy(&r1, cf.length, B, x, lab);
        nd_assert_ok(nd_rnn_copy_task(&r2, cf.length, B, x2, lab2));
        assert_memory_equal(lab, lab2, sizeof(int32_t) * (size_t)(T * B));
      } else {
        ref_adding(&r1, T, B, x, tgt);
        nd_assert_ok(nd_rnn_adding_task(&r2, T, B, x2, tgt2));
        assert_memory_equal(tgt, tgt2, sizeof tgt);
      }
      assert_memory_equal(x, x2, sizeof(float) * (size_t)(T * B * in));
      assert_true(r1.counter == r2.counter);
      free(x), free(lab), free(x2), free(lab2);
      nd_rnn_free(a), nd_rnn_free(b);
    }
}

/* A whole training epoch (nd_rnn_epoch: task minibatch and step) at T = 1000
 * and 10,000: create allocates the same bytes, and the epoch's peak RSS grows
 * by no more than a few pages for the reconstructing cells, where the input
 * sequence as an array alone would be (T + 20) B 10 floats = 6.4 MB at 10,000
 * and BPTT's states (T + 21) B n doubles = 41 MB (the tanh cell: the test can
 * tell). */
static void test_memory_epoch(void **s) {
  (void)s;
  enum { H = 32, B = 16 };
  for (int c = 0; c <= ND_RNN_GRU; c++) {
    size_t fixed[2], step[2];
    long rss[2] = {-1, -1};
    for (int k = 0; k < 2; k++) {
      nd_rnn_config cf = nd_rnn_defaults();
      cf.cell = (nd_rnn_cell)c, cf.hidden = H, cf.batch = B, cf.layers = 8, cf.steps = 1, cf.length = k ? 10000 : 1000;
      nd_rnn *m = NULL;
      nd_assert_ok(nd_rnn_create(&cf, &m));
      long before = vm_kib("VmRSS:");
      bool can = vm_hwm_reset() == 0;
      nd_assert_ok(nd_rnn_epoch(m, NULL, NULL));
      if (can) rss[k] = vm_kib("VmHWM:") - before;
      fixed[k] = nd_rnn_fixed_bytes(m), step[k] = nd_rnn_scratch_peak(m);
      nd_rnn_free(m);
    }
    assert_true(fixed[0] == fixed[1]);
    if (c == ND_RNN_TANH || c == ND_RNN_GRU) { /* BPTT */
      assert_true(step[1] >= (size_t)10021 * B * H * 8);
      if (rss[1] >= 0) assert_true(rss[1] * 1024 >= (long)(step[1] / 2));
    } else {
      assert_true(step[0] == 0 && step[1] == 0);
      if (rss[1] >= 0) assert_true(rss[1] < 256 && rss[1] - rss[0] < 128);
    }
    print_message("epoch, cell %d: create bytes %zu -> %zu, peak RSS growth %ld -> %ld KiB (T = 1000 -> 10000)\n", c,
                  fixed[0], fixed[1], rss[0], rss[1]);
  }
}

/* The approximate-inverse cell: its inverse's gradient (A, C, e) equals
 * central differences of inverse_weight times the reconstruction loss (the
 * task loss does not depend on g); nd_rnn_inverse_check's gradient error is
 * the distance between its gradient through g and the tanh cell's BPTT
 * gradient of the same f and readout on the same minibatch (computed here
 * through the public API); the step stores no states. */
static void test_approx_inverse(void **s) {
  (void)s;
  nd_rnn_config c = nd_rnn_defaults();
  c.cell = ND_RNN_APPROX, c.hidden = 6, c.length = 8, c.batch = 3, c.inverse_weight = 2.5, c.seed = 4;
  int64_t T, in, out;
  nd_assert_ok(nd_rnn_task_shape(&c, &T, &in, &out));
  c.inputs = in, c.outputs = out;
  nd_rnn *m = NULL;
  nd_assert_ok(nd_rnn_create(&c, &m));
  nd_rng root, r;
  nd_rng_init(&root, c.seed);
  r = nd_rng_split(&root, 3); /* the validation stream: inverse_check's minibatch */
  float *x = malloc(sizeof(float) * (size_t)(T * c.batch * in));
  int32_t *lab = malloc(sizeof(int32_t) * (size_t)(T * c.batch));
  nd_assert_ok(nd_rnn_copy_task(&r, c.length, c.batch, x, lab));
  nd_rnn_batch b = {.T = T, .B = c.batch, .x = x, .labels = lab, .loss = ND_RNN_LOSS_CE};
  double loss, lp, lm;
  nd_assert_ok(nd_rnn_loss_grad(m, &b, &loss, NULL));
  assert_true(nd_rnn_scratch_peak(m) == 0);
  int64_t n = c.hidden, oA = n * n + n * in + n, nA = n * n + n * in + n, np = nd_rnn_num_params(m);
  double *g = malloc(sizeof(double) * (size_t)np), *p = nd_rnn_params(m), h = 1e-6;
  memcpy(g, nd_rnn_grad(m), sizeof(double) * (size_t)np);
  for (int64_t i = oA; i < oA + nA; i++) {
    double v = p[i];
    p[i] = v + h;
    nd_assert_ok(nd_rnn_loss(m, &b, &loss, NULL));
    lp = c.inverse_weight * nd_rnn_inverse_loss(m);
    p[i] = v - h;
    nd_assert_ok(nd_rnn_loss(m, &b, &loss, NULL));
    lm = c.inverse_weight * nd_rnn_inverse_loss(m);
    p[i] = v;
    double fd = (lp - lm) / (2 * h);
    if (!(fabs(fd - g[i]) <= 1e-7 + 1e-5 * fabs(fd))) fail_msg("inverse param %lld: grad %.9g, fd %.9g", (long long)i, g[i], fd);
  }
  /* the tanh cell with the same f and readout: exact BPTT */
  nd_rnn_config ct = c;
  ct.cell = ND_RNN_TANH;
  nd_rnn *t = NULL;
  nd_assert_ok(nd_rnn_create(&ct, &t));
  double *pt = nd_rnn_params(t);
  int64_t nf = n * n + n * in + n, nr = nd_rnn_num_params(t) - nf;
  memcpy(pt, p, sizeof(double) * (size_t)nf);
  memcpy(pt + nf, p + nf + nA, sizeof(double) * (size_t)nr);
  nd_assert_ok(nd_rnn_loss_grad(t, &b, &loss, NULL));
  double ge, rmse, drift;
  nd_assert_ok(nd_rnn_inverse_check(m, ND_RNN_VALIDATION, &ge, &rmse, &drift));
  const double *ga = nd_rnn_grad(m), *gt = nd_rnn_grad(t);
  double d = 0, q = 0;
  for (int64_t i = 0; i < nf + nr; i++) {
    double a = ga[i < nf ? i : i + nA], e = gt[i];
    d += (a - e) * (a - e), q += e * e;
  }
  nd_assert_close(ge, sqrt(d / q), 1e-9, 0);
  assert_true(ge > 0 && rmse > 0 && drift > 0); /* an untrained inverse: the gradient is off */
  print_message("approx, untrained inverse: gradient error %.3g, step RMSE %.3g, h_0 drift %.3g\n", ge, rmse, drift);
  assert_int_equal(nd_rnn_inverse_check(t, ND_RNN_VALIDATION, &ge, &rmse, &drift), ND_ERR_INVALID_ARG);
  /* inverse_only: an epoch moves g's block alone */
  c.inverse_only = true, c.steps = 2;
  nd_rnn *f0 = NULL, *f1 = NULL;
  nd_assert_ok(nd_rnn_create(&c, &f0));
  nd_assert_ok(nd_rnn_create(&c, &f1));
  nd_assert_ok(nd_rnn_epoch(f1, NULL, NULL));
  const double *q0 = nd_rnn_params(f0), *q1 = nd_rnn_params(f1);
  assert_memory_equal(q0, q1, sizeof(double) * (size_t)nf);
  assert_memory_equal(q0 + nf + nA, q1 + nf + nA, sizeof(double) * (size_t)nr);
  assert_memory_not_equal(q0 + nf, q1 + nf, sizeof(double) * (size_t)nA);
  nd_rnn_free(f0), nd_rnn_free(f1);
  free(g), free(x), free(lab);
  nd_rnn_free(m), nd_rnn_free(t);
}

static void test_copy_task(void **s) {
  (void)s;
  float *x;
  int32_t *lab;
  nd_rnn_batch b = copy_batch(5, 2, &x, &lab); /* length 25 */
  for (int64_t bi = 0; bi < 2; bi++) {
    for (int t = 0; t < 25; t++) {
      int on = -1, count = 0;
      for (int k = 0; k < 10; k++)
        if (x[(t * 2 + bi) * 10 + k] == 1) on = k, count++;
      assert_int_equal(count, 1);
      if (t < 10) assert_true(on < 8), assert_int_equal(lab[(t + 15) * 2 + bi], on);
      else if (t == 14) assert_int_equal(on, 9); /* the marker after T - 1 = 4 blanks */
      else assert_int_equal(on, 8);
      if (t < 15) assert_int_equal(lab[t * 2 + bi], 8);
    }
  }
  nd_rnn_config c = nd_rnn_defaults();
  c.length = 100;
  nd_assert_close(nd_rnn_task_baseline(&c), 10 * log(8.0) / 120, 1e-15, 0);
  (void)b;
  free(x), free(lab);
}

static void test_bad_args(void **s) {
  (void)s;
  nd_rnn_config c = nd_rnn_defaults();
  nd_rnn *m = (nd_rnn *)1;
  c.length = 0;
  assert_int_equal(nd_rnn_create(&c, &m), ND_ERR_INVALID_ARG);
  assert_null(m);
  assert_non_null(strstr(nd_last_error(), "length"));
  c = nd_rnn_defaults(), c.cell = (nd_rnn_cell)7;
  assert_int_equal(nd_rnn_config_check(&c), ND_ERR_INVALID_ARG);
  c = nd_rnn_defaults(), c.hidden = 7;
  assert_int_equal(nd_rnn_config_check(&c), ND_ERR_INVALID_ARG);
  c = nd_rnn_defaults(), c.layers = 0;
  assert_int_equal(nd_rnn_config_check(&c), ND_ERR_INVALID_ARG);
  m = small_model(ND_RNN_TANH, 32);
  float x[TT * BB * IN];
  int32_t lab[TT * BB];
  small_batch(x, lab);
  lab[3] = OUT;
  double loss, acc;
  nd_rnn_batch b = {.T = TT, .B = BB, .x = x, .labels = lab, .loss = ND_RNN_LOSS_CE};
  assert_int_equal(nd_rnn_loss_grad(m, &b, &loss, &acc), ND_ERR_INVALID_ARG);
  b.T = 0;
  assert_int_equal(nd_rnn_loss_grad(m, &b, &loss, &acc), ND_ERR_SHAPE);
  nd_rnn_free(m);
  nd_rnn_free(NULL);
}

/* Two epochs in one go equal one epoch, stopped after 3 minibatches, saved,
 * loaded and finished, then the second: the same parameters bit for bit. */
static int stop_at_3(const nd_progress_info *info, void *user) {
  (void)user;
  return info->epoch == 0 && info->done == 3;
}

static void test_resume_exact(void **s) {
  (void)s;
  for (int cell = 0; cell <= ND_RNN_GRU; cell++) {
    nd_rnn_config c = nd_rnn_defaults();
    c.cell = (nd_rnn_cell)cell, c.hidden = 16, c.length = 10, c.batch = 4, c.steps = 5;
    nd_rnn *a = NULL, *b = NULL, *r = NULL;
    nd_assert_ok(nd_rnn_create(&c, &a));
    nd_assert_ok(nd_rnn_epoch(a, NULL, NULL));
    nd_assert_ok(nd_rnn_epoch(a, NULL, NULL));
    nd_assert_ok(nd_rnn_create(&c, &b));
    nd_assert_ok(nd_rnn_epoch(b, stop_at_3, NULL));
    nd_checkpoint *ck = NULL;
    nd_assert_ok(nd_checkpoint_create(&ck));
    nd_assert_ok(nd_rnn_save(b, ck));
    nd_assert_ok(nd_checkpoint_write(ck, "test_rnn_ck.safetensors"));
    nd_checkpoint_free(ck);
    nd_assert_ok(nd_checkpoint_read("test_rnn_ck.safetensors", &ck));
    nd_assert_ok(nd_rnn_load(ck, &r));
    nd_checkpoint_free(ck);
    remove("test_rnn_ck.safetensors");
    nd_assert_ok(nd_rnn_epoch(r, NULL, NULL));
    double la, lr, aa, ar;
    nd_assert_ok(nd_rnn_epoch_loss(r, &lr, &ar));
    nd_assert_ok(nd_rnn_epoch(r, NULL, NULL));
    assert_memory_equal(nd_rnn_params(a), nd_rnn_params(r), (size_t)nd_rnn_num_params(a) * sizeof(double));
    nd_train_state sa, sr;
    nd_assert_ok(nd_rnn_get_state(a, &sa));
    nd_assert_ok(nd_rnn_get_state(r, &sr));
    assert_memory_equal(&sa, &sr, sizeof sa);
    nd_assert_ok(nd_rnn_epoch_loss(a, &la, &aa));
    assert_true(isfinite(la) && isfinite(lr));
    nd_rnn_free(a), nd_rnn_free(b), nd_rnn_free(r);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tanh_vs_reference),  cmocka_unit_test(test_reversible_vs_reference),
      cmocka_unit_test(test_unitary_vs_reference), cmocka_unit_test(test_gradcheck),
      cmocka_unit_test(test_reconstruction),     cmocka_unit_test(test_orthogonal),
      cmocka_unit_test(test_memory_flat),        cmocka_unit_test(test_memory_epoch),
      cmocka_unit_test(test_stream_equals_arrays), cmocka_unit_test(test_approx_inverse),        cmocka_unit_test(test_copy_task),
      cmocka_unit_test(test_bad_args),           cmocka_unit_test(test_resume_exact),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
