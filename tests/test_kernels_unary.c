/* Every nd_unary_op: forward against its formula evaluated in double, backward
 * against a central difference of that double formula (inputs kept away from
 * kinks and thresholds), with y given and y == NULL, beta = 0 over NaN and
 * beta != 0; in-place forward; values at the kinks; PReLU forward/backward;
 * binary elementwise ops, channel bias and channel sums. */
#include <string.h>

#include "nd_test.h"
#include "kernels_test_util.h"
#include "neurodyn/kernels.h"

static double sgn(double x) { return (double)((x > 0) - (x < 0)); }

/* The definitions of kernels.h, in double. */
static double ref_f(nd_unary_op op, double p, double x) {
  switch (op) {
  case ND_RELU: return x > 0 ? x : 0;
  case ND_LEAKY_RELU: return x >= 0 ? x : p * x;
  case ND_TANH: return tanh(x);
  case ND_SIGMOID: return 1 / (1 + exp(-x));
  case ND_SOFTPLUS: return log1p(exp(x));
  case ND_ABS: return fabs(x);
  case ND_SIGN: return sgn(x);
  case ND_POW: return sgn(x) * pow(fabs(x), p);
  case ND_RELU_POW: return x > 0 ? pow(x, p) : 0;
  case ND_SOFT_THRESHOLD: return sgn(x) * fmax(fabs(x) - p, 0);
  case ND_HARD_THRESHOLD: return fabs(x) > p ? x : 0;
  case ND_NONNEG_THRESHOLD: return fmax(x - p, 0);
  case ND_EXP: return exp(x);
  case ND_LOG: return log(x);
  case ND_SQUARE: return x * x;
  default: return NAN;
  }
}

typedef struct {
  nd_unary_op op;
  const char *name;
  float param;
  float lo, hi;      /* input range */
  double kink_gap;   /* inputs within this of a kink (0, +-param) are moved away */
} op_case;

static const op_case cases[] = {
    {ND_RELU, "relu", 0, -3, 3, 1e-2},
    {ND_LEAKY_RELU, "leaky_relu", 0.1f, -3, 3, 1e-2},
    {ND_TANH, "tanh", 0, -4, 4, 0},
    {ND_SIGMOID, "sigmoid", 0, -8, 8, 0},
    {ND_SOFTPLUS, "softplus", 0, -8, 8, 0},
    {ND_ABS, "abs", 0, -3, 3, 1e-2},
    {ND_SIGN, "sign", 0, -3, 3, 1e-2},
    {ND_POW, "pow3", 3, -2, 2, 0},
    {ND_POW, "pow1.5", 1.5f, -2, 2, 1e-2},
    {ND_RELU_POW, "relu_pow3", 3, -2, 2, 1e-2},
    {ND_RELU_POW, "relu_pow4.5", 4.5f, -2, 2, 1e-2}, /* half-integer fast path */
    {ND_RELU_POW, "relu_pow2.7", 2.7f, -2, 2, 1e-2}, /* powf path */
    {ND_SOFT_THRESHOLD, "soft_threshold", 0.5f, -2, 2, 1e-2},
    {ND_HARD_THRESHOLD, "hard_threshold", 0.5f, -2, 2, 1e-2},
    {ND_NONNEG_THRESHOLD, "nonneg_threshold", 0.5f, -2, 2, 1e-2},
    {ND_EXP, "exp", 0, -5, 5, 0},
    {ND_LOG, "log", 0, 0.05f, 5, 0},
    {ND_SQUARE, "square", 0, -3, 3, 0},
};
#define NCASES (sizeof cases / sizeof cases[0])

static float away_from_kinks(float x, float p, double gap) {
  const float kinks[] = {0, p, -p};
  for (int i = 0; i < 3; i++)
    if (fabs((double)x - kinks[i]) < gap) x = kinks[i] + (x >= kinks[i] ? 1 : -1) * (float)(2 * gap);
  return x;
}

static void test_unary_forward_backward(void **state) {
  (void)state;
  kt_seed(31);
  const int64_t n = 4099; /* odd: exercises the vector tails */
  float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *dy = kt_rand(n, -1, 1), *dx = malloc(n * sizeof *dx);
  float *dx0 = kt_rand(n, -1, 1), *yin = malloc(n * sizeof *yin);
  assert_int_equal(NCASES >= ND_UNARY_COUNT_, 1);
  for (size_t ci = 0; ci < NCASES; ci++) {
    const op_case *c = &cases[ci];
    for (int64_t i = 0; i < n; i++) x[i] = away_from_kinks(kt_uniform(c->lo, c->hi), c->param, c->kink_gap);
    /* forward */
    for (int64_t i = 0; i < n; i++) y[i] = NAN;
    nd_unary(c->op, c->param, x, y, n);
    for (int64_t i = 0; i < n; i++) {
      double want = ref_f(c->op, c->param, x[i]);
      if (!(fabs(y[i] - want) <= 1e-6 * (1 + fabs(want))))
        fail_msg("%s forward: x=%.9g got %.9g want %.17g", c->name, x[i], y[i], want);
    }
    /* in place */
    memcpy(yin, x, n * sizeof *x);
    nd_unary(c->op, c->param, yin, yin, n);
    nd_assert_arrays_close(yin, y, n, 0, 0, c->name);
    /* backward vs central difference in double; y given, y NULL, beta = 0 and 0.5 */
    for (int variant = 0; variant < 3; variant++) {
      const float beta = variant == 2 ? 0.5f : 0.0f;
      for (int64_t i = 0; i < n; i++) dx[i] = beta == 0 ? NAN : dx0[i];
      nd_unary_backward(c->op, c->param, x, variant == 1 ? NULL : y, dy, beta, dx, n);
      for (int64_t i = 0; i < n; i++) {
        const double h = 1e-6 * fmax(1, fabs(x[i]));
        const double fd = (ref_f(c->op, c->param, x[i] + h) - ref_f(c->op, c->param, x[i] - h)) / (2 * h);
        double want = dy[i] * fd + (beta == 0 ? 0 : beta * dx0[i]);
        if (!(fabs(dx[i] - want) <= 2e-5 * (1 + fabs(want))))
          fail_msg("%s backward (%s, beta %g): x=%.9g got %.9g want %.17g", c->name, variant == 1 ? "y=NULL" : "y given",
                   beta, x[i], dx[i], want);
      }
    }
  }
  free(x), free(y), free(dy), free(dx), free(dx0), free(yin);
}

/* Values at and around the kinks, and the conventions kernels.h documents. */
static void test_unary_kinks(void **state) {
  (void)state;
  const float x[5] = {-0.5f, -0.0f, 0.0f, 0.5f, 1e-30f};
  float y[5], dx[5];
  const float ones[5] = {1, 1, 1, 1, 1};
  nd_unary(ND_SOFT_THRESHOLD, 0.5f, x, y, 5); /* |x| == param gives 0 */
  for (int i = 0; i < 5; i++) nd_assert_close(y[i], 0, 0, 0);
  nd_unary(ND_HARD_THRESHOLD, 0.5f, x, y, 5); /* strict: |x| == param is cut */
  for (int i = 0; i < 5; i++) nd_assert_close(y[i], 0, 0, 0);
  nd_unary(ND_SIGN, 0, x, y, 5);
  nd_assert_close(y[0], -1, 0, 0);
  nd_assert_close(y[1], 0, 0, 0);
  nd_assert_close(y[2], 0, 0, 0);
  nd_assert_close(y[3], 1, 0, 0);
  nd_unary_backward(ND_SIGN, 0, x, NULL, ones, 0, dx, 5);
  for (int i = 0; i < 5; i++) nd_assert_close(dx[i], 0, 0, 0);
  /* signed power at 0: subgradient 0 for p > 1, 1 for p == 1; never inf/NaN */
  const float z[1] = {0};
  float dz[1];
  nd_unary_backward(ND_POW, 0.5f, z, NULL, ones, 0, dz, 1);
  nd_assert_close(dz[0], 0, 0, 0);
  nd_unary_backward(ND_POW, 1.0f, z, NULL, ones, 0, dz, 1);
  nd_assert_close(dz[0], 1, 0, 0);
  nd_unary_backward(ND_RELU_POW, 3.0f, z, NULL, ones, 0, dz, 1);
  nd_assert_close(dz[0], 0, 0, 0);
  /* stable softplus and sigmoid at large |x| */
  const float big[4] = {-100, 100, -1000, 1000};
  float s[4];
  nd_unary(ND_SOFTPLUS, 0, big, s, 4);
  nd_assert_close(s[0], exp(-100.0), 1e-44, 1e-5);
  nd_assert_close(s[1], 100, 0, 1e-7);
  nd_assert_close(s[3], 1000, 0, 1e-7);
  nd_unary(ND_SIGMOID, 0, big, s, 4);
  nd_assert_close(s[2], 0, 0, 0);
  nd_assert_close(s[3], 1, 0, 0);
  nd_unary_backward(ND_SOFTPLUS, 0, big, NULL, ones, 0, s, 4);
  for (int i = 0; i < 4; i++) assert_true(isfinite(s[i]));
}

static void test_prelu(void **state) {
  (void)state;
  kt_seed(32);
  const int64_t outer = 3, ch = 5, inner = 37, n = outer * ch * inner;
  float *x = kt_rand(n, -2, 2), *slope = kt_rand(ch, -0.5f, 0.5f), *y = kt_fill(n, NAN), *dy = kt_rand(n, -1, 1);
  float *dx = kt_fill(n, NAN), *dslope = kt_rand(ch, -1, 1), *ds0 = malloc(ch * sizeof *ds0);
  memcpy(ds0, dslope, ch * sizeof *ds0);
  nd_prelu_forward(x, slope, outer, ch, inner, y);
  nd_prelu_backward(x, slope, dy, outer, ch, inner, dx, dslope);
  double want_ds[5] = {0};
  for (int64_t i = 0; i < n; i++) {
    int64_t c = (i / inner) % ch;
    double a = slope[c], xv = x[i];
    double want = xv >= 0 ? xv : a * xv;
    nd_assert_close(y[i], want, 1e-7, 1e-6);
    /* d/dx and d/da by central differences of the double formula */
    const double h = 1e-6;
    double f_xp = xv + h >= 0 ? xv + h : a * (xv + h), f_xm = xv - h >= 0 ? xv - h : a * (xv - h);
    double f_ap = xv >= 0 ? xv : (a + h) * xv, f_am = xv >= 0 ? xv : (a - h) * xv;
    nd_assert_close(dx[i], dy[i] * (f_xp - f_xm) / (2 * h), 1e-5, 1e-5);
    want_ds[c] += dy[i] * (f_ap - f_am) / (2 * h);
  }
  for (int64_t c = 0; c < ch; c++) nd_assert_close(dslope[c], ds0[c] + want_ds[c], 1e-4, 1e-5);
  free(x), free(slope), free(y), free(dy), free(dx), free(dslope), free(ds0);
}

static void test_binary_and_bias(void **state) {
  (void)state;
  kt_seed(33);
  const int64_t n = 40001; /* above the OpenMP threshold, odd */
  float *a = kt_rand(n, -2, 2), *b = kt_rand(n, 0.5f, 2), *o = malloc(n * sizeof *o), *c = malloc(n * sizeof *c);
  nd_add(a, b, o, n);
  for (int64_t i = 0; i < n; i++) nd_assert_close(o[i], (double)a[i] + b[i], 1e-6, 1e-6);
  nd_sub(a, b, o, n);
  for (int64_t i = 0; i < n; i++) nd_assert_close(o[i], (double)a[i] - b[i], 1e-6, 1e-6);
  nd_mul(a, b, o, n);
  for (int64_t i = 0; i < n; i++) nd_assert_close(o[i], (double)a[i] * b[i], 1e-6, 1e-6);
  nd_div(a, b, o, n);
  for (int64_t i = 0; i < n; i++) nd_assert_close(o[i], (double)a[i] / b[i], 1e-6, 1e-6);
  memcpy(c, a, n * sizeof *c);
  nd_mul(c, c, c, n); /* aliasing */
  for (int64_t i = 0; i < n; i++) nd_assert_close(c[i], (double)a[i] * a[i], 1e-6, 1e-6);
  memcpy(c, a, n * sizeof *c);
  nd_axpy(-0.25f, b, c, n);
  for (int64_t i = 0; i < n; i++) nd_assert_close(c[i], a[i] - 0.25 * b[i], 1e-6, 1e-6);
  nd_scale(3.0f, c, n);
  for (int64_t i = 0; i < n; i++) nd_assert_close(c[i], 3 * (a[i] - 0.25 * b[i]), 1e-5, 1e-6);
  /* channel bias and channel sums, inner > 1 and inner == 1 (one block of
   * channels, and several with a partial last one, as a linear layer's bias) */
  const int64_t shapes[][3] = {{3, 7, 13}, {5, 11, 1}, {2, 4, 5000}, {100, 600, 1}};
  for (int s = 0; s < 4; s++) {
    const int64_t outer = shapes[s][0], ch = shapes[s][1], inner = shapes[s][2], m = outer * ch * inner;
    float *x = kt_rand(m, -1, 1), *x0 = malloc(m * sizeof *x0), *bias = kt_rand(ch, -1, 1), *db = kt_rand(ch, -1, 1);
    float *db0 = malloc(ch * sizeof *db0);
    memcpy(x0, x, m * sizeof *x0);
    memcpy(db0, db, ch * sizeof *db0);
    nd_add_channel_bias(x, bias, outer, ch, inner);
    for (int64_t i = 0; i < m; i++) nd_assert_close(x[i], (double)x0[i] + bias[(i / inner) % ch], 1e-6, 0);
    double *sums = calloc(ch, sizeof *sums);
    for (int64_t i = 0; i < m; i++) sums[(i / inner) % ch] += x0[i];
    nd_channel_sum(x0, outer, ch, inner, 0.5f, db);
    for (int64_t k = 0; k < ch; k++) nd_assert_close(db[k], sums[k] + 0.5 * db0[k], 1e-4, 1e-5);
    for (int64_t k = 0; k < ch; k++) db[k] = NAN;
    nd_channel_sum(x0, outer, ch, inner, 0.0f, db);
    for (int64_t k = 0; k < ch; k++) nd_assert_close(db[k], sums[k], 1e-4, 1e-5);
    free(x), free(x0), free(bias), free(db), free(db0), free(sums);
  }
  free(a), free(b), free(o), free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unary_forward_backward),
      cmocka_unit_test(test_unary_kinks),
      cmocka_unit_test(test_prelu),
      cmocka_unit_test(test_binary_and_bias),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
