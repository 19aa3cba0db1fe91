/* Competitive circuits: winner-take-all (WTA) networks of rectified-linear
 * units.
 *
 * U. Rutishauser, R. J. Douglas, J.-J. Slotine, "Collective stability of
 * networks of winner-take-all circuits", Neural Computation 23(3):735-773,
 * 2011, Sec. 2 (Eq. 2.1-2.2).  N excitatory units x_i with inputs I_i and one
 * inhibitory unit y:
 *
 *   tau dx_i/dt + G x_i = f(I_i + alpha x_i - beta1 y - Te)
 *   tau dy/dt   + G y   = f(beta2 sum_j x_j - Ti),          f(v) = max(v, 0)
 *
 * With one winner k active (G = 1) the steady state is
 *   x_k = (I_k - Te + beta1 Ti) / (1 - alpha + beta1 beta2),  y = beta2 x_k - Ti,
 * positive and finite only for alpha < 1 + beta1 beta2; alpha > 1 forbids two
 * co-active winners (their difference mode grows at (alpha - 1)/tau); the
 * paper's contracting high-gain regime is 1 < alpha < 2 sqrt(beta1 beta2).
 * docs/circuits.md has the derivations.
 *
 * Integration: forward Euler with eta = dt/tau (0 < eta <= 1).  Order JACOBI
 * (default) updates x and y from the same old state (Euler on the ODE above);
 * order UPSTREAM is NeurodynamicalSystems.jl's (commit 8333fac, `WTA`):
 * y first, then x from the new y (a Gauss-Seidel map, not the same map).
 *
 * Three circuits share the config:
 *   nd_wta_solve     one inhibitory unit per row (the equations above);
 *   nd_lcwta_solve   LocallyConnectedWta: one inhibitory unit y_i per neuron,
 *                    reading the band |j - i| <= w of x, and each x_i inhibited by
 *                    the band of y (upstream `LocallyConnectedWTA`, with beta1,
 *                    beta2 in place of its sqrt(beta) on both):
 *                      tau dy_i/dt + G y_i = f(beta2 sum_{|j-i|<=w} x_j - Ti)
 *                      tau dx_i/dt + G x_i = f(I_i + alpha x_i - beta1 sum_{|j-i|<=w} y_j - Te)
 *                    Band sums by running sums: O(n) per step whatever w, no n x n matrix;
 *   nd_convwta_solve ConvWta on NCHW maps: the same with the band replaced by a
 *                    kh x kw box around each pixel, within each channel ("1 x k
 *                    along a feature map") or summed over all channels as well
 *                    (across = true; 1 x 1 gives a WTA across features at each pixel).
 *                    A [B, 1, 1, n] input with a 1 x (2w+1) kernel is LocallyConnectedWta.
 *
 * Every solve starts from x = y = 0, runs the rows of a batch independently
 * (OpenMP over rows) and stops a row when its residual
 *   r_b = max over its units of |tau dx/dt| / max(max_i |I_bi|, 1e-30)
 * is <= tol (the row is then frozen), ND_STOP_TOLERANCE when every row has
 * stopped, ND_STOP_MAX_ITER after max_iter steps, ND_STOP_DIVERGED (status
 * ND_ERR_NUMERIC, result and state filled in) when a state is not finite or
 * exceeds max_state: the runaway of an unstable circuit.
 *
 *   nd_wta_config c = nd_wta_defaults();
 *   nd_wta_result r;
 *   nd_wta_solve(&c, I, B, n, x, y, &r);   // x [B, n], y [B] (may be NULL)
 */
#ifndef NEURODYN_CIRCUITS_H
#define NEURODYN_CIRCUITS_H

#include "neurodyn/core.h"
#include "neurodyn/dynamics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nd_wta_order {
  ND_WTA_JACOBI = 0,   /* simultaneous update (Euler on the ODE; default) */
  ND_WTA_UPSTREAM = 1, /* inhibitory first, excitatory from the new inhibition */
  ND_WTA_ORDER_COUNT_
} nd_wta_order;

typedef struct nd_wta_config {
  double alpha;     /* self-excitation, finite (1.2) */
  double beta1;     /* inhibitory -> excitatory weight, >= 0 (3) */
  double beta2;     /* excitatory -> inhibitory weight, >= 0 (0.25) */
  double te, ti;    /* excitatory and inhibitory thresholds, finite (0, 0) */
  double g;         /* leak G, > 0 (1) */
  double tau;       /* time constant, > 0 (1) */
  double dt;        /* Euler step, 0 < dt <= tau (0.1) */
  nd_wta_order order; /* JACOBI */
  double tol;       /* > 0 (1e-6) */
  int64_t max_iter; /* >= 1 (10000) */
  double max_state; /* > 0: a larger |state| is a runaway (1e6) */
  /* Called after every step that changed the state (the step count 1, 2,
   * ...), with x [batch, n] and y [batch, inhibitory units] of all rows (a
   * converged row keeps its state); non-zero stops the solve
   * (ND_STOP_OBSERVER).  NULL (default): none.  wta, lcwta, convwta; lcawta
   * ignores it.  (What `neurodyn run wta --record-dir` records.) */
  int (*observer)(int64_t iter, const float *x, const float *y, int64_t batch, void *user);
  void *observer_user;
} nd_wta_config;

typedef struct nd_wta_result {
  int64_t iterations;  /* steps taken (the most any row took) */
  double residual;     /* max over rows of r_b at the state returned */
  nd_stop_reason stop; /* TOLERANCE, MAX_ITER, OBSERVER or DIVERGED */
} nd_wta_result;

ND_API nd_wta_config nd_wta_defaults(void);
/* ND_ERR_INVALID_ARG naming the field. */
ND_API nd_status nd_wta_config_check(const nd_wta_config *c);
/* "jacobi", "upstream" (NULL for an unknown value; ND_ERR_INVALID_ARG naming
 * the choices for an unknown name). */
ND_API const char *nd_wta_order_name(nd_wta_order o);
ND_API nd_status nd_wta_order_parse(const char *name, nd_wta_order *out);

/* Global WTA: input [batch, n] (finite), x out [batch, n], y out [batch] or
 * NULL; batch, n >= 1. */
ND_API nd_status nd_wta_solve(const nd_wta_config *c, const float *input, int64_t batch, int64_t n, float *x, float *y,
                              nd_wta_result *r);

/* LocallyConnectedWta: input, x, y [batch, n]; 0 <= halfwidth < n (y may be
 * NULL). */
ND_API nd_status nd_lcwta_solve(const nd_wta_config *c, int64_t halfwidth, const float *input, int64_t batch, int64_t n,
                                float *x, float *y, nd_wta_result *r);

typedef struct nd_convwta_shape {
  int64_t batch, channels, height, width; /* NCHW, each >= 1 */
  int64_t kh, kw;                         /* odd box, kh <= height, kw <= width (1 x 3) */
  bool across;                            /* sum over all channels too (false) */
} nd_convwta_shape;

/* ConvWta: input, x, y [batch, channels, height, width] (y may be NULL). */
ND_API nd_status nd_convwta_solve(const nd_wta_config *c, const nd_convwta_shape *s, const float *input, float *x, float *y,
                                  nd_wta_result *r);

/* LcaWta: an LCA layer (Rozell et al., Neural Comput. 20(10), 2008, Eq. 3.1,
 * non-negative threshold) and a LocallyConnectedWta over its k neurons
 * exciting each other through the 2 x 2 flow matrix F (upstream
 * NeurodynamicalSystems.jl `LcaWTA`, 8333fac), coupled in neuron space so
 * any dictionary phi [m, k] works (upstream adds neuron-space terms to the
 * input signal, which only type-checks for square dictionaries):
 *   tau_l du/dt = phi^T s + F11 a + F12 x - u - (phi^T phi - I) a,  a = max(u - lambda, 0)
 *   the LocallyConnectedWta (x, y) with input I = F21 a + F22 x.
 * Both advance together by Euler (eta_l = lca_eta, the WTA's dt / tau); the
 * residual of a row is the larger of max|du/dt| and the WTA's, both relative
 * to max|phi^T s|; the solve stops when every row is at or below wta.tol. */
typedef struct nd_lcawta_config {
  nd_wta_config wta;  /* the circuit; its tol, max_iter, max_state govern the solve */
  int64_t halfwidth;  /* 0 <= w < k (3) */
  double lambda;      /* LCA threshold >= 0 (0.1) */
  double lca_eta;     /* LCA Euler step dt / tau_l, in (0, 1] (0.1) */
  double flow[2][2];  /* finite ({{-0.1, 0.1}, {0.1, -0.1}}, upstream's default) */
} nd_lcawta_config;

ND_API nd_lcawta_config nd_lcawta_defaults(void);
/* phi [m, k] (finite), s [batch, m]; a, x out [batch, k]. */
ND_API nd_status nd_lcawta_solve(const nd_lcawta_config *c, const float *phi, int64_t m, int64_t k, const float *s,
                                 int64_t batch, float *a, float *x, nd_wta_result *r);

/* ================================== filterbank for spectral superresolution */
/* Constant-Q all-pole gammatone filterbank (the implementation of
 * J. Holdsworth, I. Nimmo-Smith, R. Patterson, P. Rice, "Implementing a
 * gammatone filter bank", MRC APU SVOS report, Annex C, 1988: shift the
 * signal down by the centre frequency, low-pass it by `order` cascaded
 * one-pole filters, read the complex envelope).  Channel k has centre f_k
 * (geometric from f_lo to f_hi) and bandwidth parameter b_k = f_k / q; its
 * one-pole stages have pole p_k = exp(-2 pi b_k / rate) and gain 1 - p_k, so
 * its power response to a tone at f is
 *
 *   |H_k(f)|^2 = | (1 - p_k) / (1 - p_k e^{-i 2 pi (f - f_k) / rate}) |^(2 order)
 *
 * (1 at f = f_k; the full 3-dB bandwidth is about 0.87 f_k / q for order 4).
 * The output is the power per frame: the mean of |envelope|^2 over each hop
 * of samples, frames [n / hop, channels] (rows = frames).  A tone
 * A cos(2 pi f t) gives A^2 / 4 |H_k(f)|^2 in channel k once the filter has
 * settled (the image at -f is attenuated by |H_k(-f)|^2, neglected).
 *
 * The superresolution dictionary (the seed's spectral example): column j is
 * the bank's response to a tone at f_j, phi[k, j] = |H_k(f_j)|^2, so the
 * frame power of a mixture of tones at the centre frequencies is phi times
 * their powers (powers add for tones of different frequencies, averaged over
 * the frame); an LCA on phi deconvolves the smeared spectrum. */
typedef struct nd_filterbank_config {
  int64_t channels; /* >= 2 (96) */
  double f_lo, f_hi; /* 0 < f_lo < f_hi < rate / 2 (100, 4000 Hz) */
  double q;         /* b_k = f_k / q, > 0 (4) */
  int order;        /* one-pole stages, 1..8 (4: the gammatone order) */
  double rate;      /* sample rate, Hz (16000) */
  int64_t hop;      /* samples per frame, >= 1 (160: 10 ms at 16 kHz) */
} nd_filterbank_config;

ND_API nd_filterbank_config nd_filterbank_defaults(void);
/* ND_ERR_INVALID_ARG naming the field. */
ND_API nd_status nd_filterbank_check(const nd_filterbank_config *c);
/* fc [channels]: the centre frequencies f_k. */
ND_API nd_status nd_filterbank_centres(const nd_filterbank_config *c, double *fc);
/* |H_k(f)|^2 (NaN for a bad config or k). */
ND_API double nd_filterbank_gain(const nd_filterbank_config *c, int64_t k, double f);
/* phi [channels, channels] row-major, phi[k, j] = |H_k(f_j)|^2 / norm_j with
 * norm_j the column's L2 norm (norms [channels] or NULL): unit-norm atoms. */
ND_API nd_status nd_filterbank_dictionary(const nd_filterbank_config *c, float *phi, double *norms);
/* Frame powers of x [n] (finite): power [n / hop, channels], *frames = n / hop
 * (a last partial hop is dropped; n >= hop). */
ND_API nd_status nd_filterbank_apply(const nd_filterbank_config *c, const float *x, int64_t n, float *power,
                                     int64_t *frames);
/* Peaks of a spectrum a [n] over centres fc [n] (increasing): local maxima
 * (a_i > a_{i-1}, a_i >= a_{i+1}) at or above rel times the largest value
 * (and > 0), strongest first, at most max of them; each frequency refined
 * as the a-weighted mean of log f over the peak and its two neighbours.
 * freqs [max], heights [max]; *count peaks found. */
ND_API nd_status nd_spectrum_peaks(const float *a, const double *fc, int64_t n, double rel, int max, double *freqs,
                                   double *heights, int *count);

#ifdef __cplusplus
}
#endif

#endif
