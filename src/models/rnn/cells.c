/* The three cells' steps, forward and backward (include/neurodyn/rnn.h).
 * Rows are sequences of the batch (B), columns units; matrices are stored
 * [out, in] row-major, so a layer is A = H W^T (nd_dgemm). */
#include <math.h>
#include <string.h>

#include "neurodyn/kernels.h"
#include "rnn_internal.h"

/* A[B, rows] = Hin[B, k] (leading dimension ldh) W^T + X U^T + b */
static void affine(const nd_rnn *m, int64_t B, int64_t rows, const double *hin, int64_t ldh, int64_t k, int64_t oW,
                   int64_t oU, int64_t ob, double *A) {
  int64_t in = m->c.inputs;
  for (int64_t i = 0; i < B; i++) memcpy(A + i * rows, m->p + ob, (size_t)rows * sizeof *A);
  nd_dgemm(false, true, B, rows, k, 1, hin, ldh, m->p + oW, k, 1, A, rows);
  nd_dgemm(false, true, B, rows, in, 1, m->xd, in, m->p + oU, in, 1, A, rows);
}

/* Gradient of A = Hin W^T + X U^T + b for dA = delta [B, rows]: dW, dU, db
 * accumulated; dHin += delta W (ld ldg) when gin is not NULL. */
static void affine_backward(nd_rnn *m, int64_t B, int64_t rows, const double *delta, const double *hin, int64_t ldh,
                            int64_t k, int64_t oW, int64_t oU, int64_t ob, double *gin, int64_t ldg) {
  int64_t in = m->c.inputs;
  nd_dgemm(true, false, rows, k, B, 1, delta, rows, hin, ldh, 1, m->g + oW, k);
  nd_dgemm(true, false, rows, in, B, 1, delta, rows, m->xd, in, 1, m->g + oU, in);
  for (int64_t i = 0; i < B; i++)
    for (int64_t j = 0; j < rows; j++) m->g[ob + j] += delta[i * rows + j];
  if (gin) nd_dgemm(false, false, B, k, rows, 1, delta, rows, m->p + oW, k, 1, gin, ldg);
}

/* ---------------------------------------------------------------- tanh */

void nd__rnn_tanh_forward(nd_rnn *m, int64_t B, const double *h_prev, double *h_next) {
  int64_t n = m->c.hidden;
  affine(m, B, n, h_prev, n, n, m->oW, m->oU, m->ob, h_next);
  for (int64_t i = 0; i < B * n; i++) h_next[i] = tanh(h_next[i]);
}

void nd__rnn_tanh_backward(nd_rnn *m, int64_t B, const double *h_prev, const double *h_next) {
  int64_t n = m->c.hidden;
  double *delta = m->a;
  for (int64_t i = 0; i < B * n; i++) delta[i] = m->gh[i] * (1 - h_next[i] * h_next[i]); /* tanh' = 1 - h^2 */
  memset(m->gh, 0, (size_t)(B * n) * sizeof *m->gh);
  affine_backward(m, B, n, delta, h_prev, n, n, m->oW, m->oU, m->ob, m->gh, n);
}

/* ---------------------------------------------------------- reversible */
/* State (h1, h2) = columns [0, m) and [m, n) of q (int64, scale 2^-k).
 * Gomez et al. 2017, Eq. 1 (additive coupling) with F, G one tanh layer
 * each that also reads x_t:
 *   h1' = h1 + q(F(h2, x)),  h2' = h2 + q(G(h1', x)),   q(v) = round(v 2^k) 2^-k
 * Inverse (Eq. 2): h2 = h2' - q(G(h1', x)), h1 = h1' - q(F(h2, x)): the same
 * rounded numbers are subtracted as were added, so it is exact in integers. */

static double scale_of(const nd_rnn *m) { return ldexp(1.0, m->c.frac_bits); }

void nd__rnn_rev_to_double(nd_rnn *m, int64_t B) {
  double s = 1 / scale_of(m);
  for (int64_t i = 0; i < B * m->c.hidden; i++) m->h[i] = (double)m->q[i] * s;
}

/* half = 0: F (h1 += F(h2)), 1: G (h2 += G(h1)); sign +1 forward, -1 inverse.
 * Leaves the coupling's tanh output in m->f. */
static void coupling(nd_rnn *m, int64_t B, int half, int sign) {
  int64_t n = m->c.hidden, hm = n / 2, src = half ? 0 : hm, dst = half ? hm : 0;
  double s = scale_of(m), inv = 1 / s;
  for (int64_t i = 0; i < B; i++)
    for (int64_t j = 0; j < hm; j++) m->h[i * n + src + j] = (double)m->q[i * n + src + j] * inv;
  affine(m, B, hm, m->h + src, n, hm, half ? m->oW2 : m->oW, half ? m->oU2 : m->oU, half ? m->ob2 : m->ob, m->f);
  for (int64_t i = 0; i < B; i++)
    for (int64_t j = 0; j < hm; j++) {
      double f = tanh(m->f[i * hm + j]);
      m->f[i * hm + j] = f;
      m->q[i * n + dst + j] += sign * (int64_t)llrint(f * s);
    }
}

void nd__rnn_rev_forward(nd_rnn *m, int64_t B) {
  coupling(m, B, 0, +1);
  coupling(m, B, 1, +1);
}

/* Backward of one step (Gomez et al. 2017, Alg. 1), reconstructing as it goes;
 * q is treated as the identity in the derivative (its error is < 2^-k). */
static void coupling_backward(nd_rnn *m, int64_t B, int half) {
  int64_t n = m->c.hidden, hm = n / 2, src = half ? 0 : hm, dst = half ? hm : 0;
  double *delta = m->a;
  for (int64_t i = 0; i < B; i++)
    for (int64_t j = 0; j < hm; j++) {
      double f = m->f[i * hm + j];
      delta[i * hm + j] = m->gh[i * n + dst + j] * (1 - f * f);
    }
  /* h (the source half) was refreshed from q by coupling() */
  affine_backward(m, B, hm, delta, m->h + src, n, hm, half ? m->oW2 : m->oW, half ? m->oU2 : m->oU,
                  half ? m->ob2 : m->ob, m->gh + src, n);
}

void nd__rnn_rev_backward(nd_rnn *m, int64_t B) {
  coupling(m, B, 1, -1); /* h2 back, G's output in f */
  coupling_backward(m, B, 1);
  coupling(m, B, 0, -1); /* h1 back */
  coupling_backward(m, B, 0);
}

/* ------------------------------------------------------------- unitary */
/* R = G_{L-1} ... G_1 G_0; layer l rotates pairs (2k, 2k+1) when l is even and
 * (2k+1, 2k+2) when odd (Jing et al. 2017, Sec. 4.1, the tunable-space
 * arrangement, real form), by angle theta[l, k]:
 *   y_i = c h_i - s h_j,  y_j = s h_i + c h_j.
 * dy_i/dtheta = -y_j, dy_j/dtheta = y_i, so dL/dtheta = sum_b (g_j y_i - g_i y_j),
 * from the layer's output alone; the layer's inverse is its transpose. */

void nd__rnn_uni_prepare(nd_rnn *m) {
  int64_t half = m->c.hidden / 2;
  for (int64_t i = 0; i < m->c.layers * half; i++) {
    m->cs[2 * i] = cos(m->p[m->oth + i]);
    m->cs[2 * i + 1] = sin(m->p[m->oth + i]);
  }
}

static int64_t pairs_of(int64_t n, int64_t l) { return l % 2 ? (n - 1) / 2 : n / 2; }

/* sign +1: y = G h; -1: h = G^T y, on rows of v [B, n] */
static void rotate(const nd_rnn *m, int64_t B, int64_t l, double *v, int sign) {
  int64_t n = m->c.hidden, half = n / 2, np = pairs_of(n, l), off = l % 2;
  const double *cs = m->cs + 2 * l * half;
  for (int64_t b = 0; b < B; b++) {
    double *r = v + b * n;
    for (int64_t k = 0; k < np; k++) {
      int64_t i = 2 * k + off, j = i + 1;
      double c = cs[2 * k], s = sign * cs[2 * k + 1], hi = r[i], hj = r[j];
      r[i] = c * hi - s * hj;
      r[j] = s * hi + c * hj;
    }
  }
}

void nd__rnn_uni_forward(nd_rnn *m, int64_t B) {
  int64_t n = m->c.hidden, in = m->c.inputs;
  for (int64_t l = 0; l < m->c.layers; l++) rotate(m, B, l, m->h, +1);
  nd_dgemm(false, true, B, n, in, 1, m->xd, in, m->p + m->oU, in, 1, m->h, n); /* + U x_t */
}

void nd__rnn_uni_backward(nd_rnn *m, int64_t B) {
  int64_t n = m->c.hidden, in = m->c.inputs, half = n / 2;
  nd_dgemm(true, false, n, in, B, 1, m->gh, n, m->xd, in, 1, m->g + m->oU, in);  /* dU += g^T x */
  nd_dgemm(false, true, B, n, in, -1, m->xd, in, m->p + m->oU, in, 1, m->h, n);  /* h = R h_{t-1} */
  for (int64_t l = m->c.layers - 1; l >= 0; l--) {
    int64_t np = pairs_of(n, l), off = l % 2;
    double *gth = m->g + m->oth + l * half;
    for (int64_t b = 0; b < B; b++) {
      const double *y = m->h + b * n, *g = m->gh + b * n;
      for (int64_t k = 0; k < np; k++) {
        int64_t i = 2 * k + off, j = i + 1;
        gth[k] += g[j] * y[i] - g[i] * y[j];
      }
    }
    rotate(m, B, l, m->h, -1);
    rotate(m, B, l, m->gh, -1);
  }
}

/* ----------------------------------------------------------------- GRU */
/* Cho et al. 2014 ("Learning phrase representations using RNN
 * encoder-decoder", Eq. 5-8), the BPTT baseline of the gated kind:
 *   z = sigma(Wz h + Uz x + bz),  r = sigma(Wr h + Ur x + br)
 *   c = tanh(Wh (r . h) + Uh x + bh),  h' = z . h + (1 - z) . c
 * Backward recomputes the gates from the stored h_{t-1} (BPTT stores every
 * state, like the tanh cell). gg holds [z, r, c, s = r . h] of B rows. */

static double sigmoid(double v) { return 1 / (1 + exp(-v)); }

static void gru_gates(nd_rnn *m, int64_t B, const double *h) {
  int64_t n = m->c.hidden, bn = B * n;
  double *Z = m->gg, *R = Z + bn, *C = R + bn, *S = C + bn;
  affine(m, B, n, h, n, n, m->oW, m->oU, m->ob, Z);
  affine(m, B, n, h, n, n, m->oW2, m->oU2, m->ob2, R);
  for (int64_t i = 0; i < bn; i++) Z[i] = sigmoid(Z[i]), R[i] = sigmoid(R[i]), S[i] = R[i] * h[i];
  affine(m, B, n, S, n, n, m->oW3, m->oU3, m->ob3, C);
  for (int64_t i = 0; i < bn; i++) C[i] = tanh(C[i]);
}

void nd__rnn_gru_forward(nd_rnn *m, int64_t B, const double *h_prev, double *h_next) {
  int64_t bn = B * m->c.hidden;
  gru_gates(m, B, h_prev);
  const double *Z = m->gg, *C = m->gg + 2 * bn;
  for (int64_t i = 0; i < bn; i++) h_next[i] = Z[i] * h_prev[i] + (1 - Z[i]) * C[i];
}

void nd__rnn_gru_backward(nd_rnn *m, int64_t B, const double *h_prev) {
  int64_t n = m->c.hidden, bn = B * n;
  gru_gates(m, B, h_prev);
  double *Z = m->gg, *R = Z + bn, *C = R + bn, *S = C + bn, *dc = m->a, *gp = m->f, *gh = m->gh;
  for (int64_t i = 0; i < bn; i++) {
    double z = Z[i], c = C[i];
    dc[i] = gh[i] * (1 - z) * (1 - c * c);            /* dL/d(candidate pre-activation) */
    C[i] = gh[i] * (h_prev[i] - c) * z * (1 - z);     /* dL/d(z pre-activation) */
    gp[i] = gh[i] * z;                                /* dL/dh_{t-1} through z . h */
  }
  memset(Z, 0, (size_t)bn * sizeof *Z); /* Z now receives dL/ds */
  affine_backward(m, B, n, dc, S, n, n, m->oW3, m->oU3, m->ob3, Z, n);
  for (int64_t i = 0; i < bn; i++) {
    double r = R[i], ds = Z[i];
    gp[i] += ds * r;
    Z[i] = ds * h_prev[i] * r * (1 - r);              /* dL/d(r pre-activation) */
  }
  affine_backward(m, B, n, C, h_prev, n, n, m->oW, m->oU, m->ob, gp, n);
  affine_backward(m, B, n, Z, h_prev, n, n, m->oW2, m->oU2, m->ob2, gp, n);
  memcpy(gh, gp, (size_t)bn * sizeof *gh);
}

/* ---------------------------------------------------- approximate inverse */
/* The tanh cell f with a learned inverse g (the seed's approximate
 * inverses): g(h_t, x_t) = tanh(A h_t + C x_t + e) ~ h_{t-1}, trained by the
 * per-step loss lambda ||g(f(h_{t-1}, x_t), x_t) - h_{t-1}||^2 while the
 * forward runs; the backward pass walks back through g instead of stored
 * states.  A, C, e sit at oW2, oU2, ob2. */

double nd__rnn_inv_fit(nd_rnn *m, int64_t B, const double *h_prev, const double *h_next, double scale) {
  int64_t n = m->c.hidden, bn = B * n;
  double *g = m->f, *delta = m->a, sq = 0;
  affine(m, B, n, h_next, n, n, m->oW2, m->oU2, m->ob2, g);
  for (int64_t i = 0; i < bn; i++) {
    g[i] = tanh(g[i]);
    double r = g[i] - h_prev[i];
    sq += r * r;
    delta[i] = scale * 2 * r * (1 - g[i] * g[i]);
  }
  if (scale > 0) affine_backward(m, B, n, delta, h_next, n, n, m->oW2, m->oU2, m->ob2, NULL, 0);
  return sq;
}

void nd__rnn_inv_step(nd_rnn *m, int64_t B, const double *h_next, double *h_prev) {
  int64_t bn = B * m->c.hidden;
  affine(m, B, m->c.hidden, h_next, m->c.hidden, m->c.hidden, m->oW2, m->oU2, m->ob2, h_prev);
  for (int64_t i = 0; i < bn; i++) h_prev[i] = tanh(h_prev[i]);
}
