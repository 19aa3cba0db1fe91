/* Krotov-Hopfield unsupervised layer: the full model with hidden-unit
 * dynamics (Krotov & Hopfield, "Unsupervised learning by competing hidden
 * units", PNAS 116(16):7723, 2019, Eq. 2, 3, 8, 9; the "BioNeurons" class of
 * the seed notebook).  The official fast approximation (Eq. 10) is in
 * neurodyn/krotov.h.
 *
 * Weights W [hidden, visible], inputs v (a row of V [batch, visible]):
 *
 *   Eq. 2   <X, Y>_mu = sum_i |W_mu,i|^(p-2) X_i Y_i   (Lebesgue-p metric of unit mu)
 *   Eq. 8   I_mu = <W_mu, v>_mu = sum_i sign(W_mu,i) |W_mu,i|^(p-1) v_i
 *           tau dh_mu/dt = I_mu - w_inh sum_{nu != mu} r(h_nu) - h_mu,  r = ReLU,  h(0) = 0
 *   Eq. 9   g(h) = 1 if h >= h*,  -delta if 0 < h < h*,  0 if h <= 0
 *   Eq. 3   tau_L dW_mu/dt = g(Q_mu) (R^p v - <W_mu, v>_mu W_mu)
 *
 * where the post-synaptic activity Q_mu is the steady state of Eq. 8 (the
 * hidden dynamics is fast, tau << tau_L).  For a batch, I = V Wp^T with
 * Wp = sign(W)|W|^(p-1) is one GEMM; the inhibition sum_{nu != mu} r(h_nu)
 * is (sum_nu r(h_nu)) - r(h_mu), O(hidden) per sample.  Eq. 8 is integrated
 * from h = 0 over [0, t_max] with steps dt by explicit Euler or RK4
 * (neurodyn/dynamics.h), stopping early once max |dh/dt| <= tol.  Then one
 * explicit Euler step of Eq. 3 in learning time, averaged over the batch:
 *
 *   W_mu += (lr / tau_L) (1/n) sum_b g(h_b,mu) (R^p v_b - I_b,mu W_mu)
 *
 * Along Eq. 3, d/dt sum_i |W_mu,i|^p = (p g I_mu / tau_L)(R^p - sum_i |W_mu,i|^p):
 * units driven with g I > 0 (every unit with g = 1) settle on the p-sphere
 * of radius R.
 *
 * Stability of the hidden dynamics: while m units are active the fastest
 * rate is (1 + (m-1) w_inh) / tau, so explicit steps need
 * dt < 2 tau / (1 + (m-1) w_inh) (Euler; about 2.8 tau / ... for RK4).  A
 * step that is too large makes the state blow up, which is reported as
 * ND_ERR_NUMERIC.
 *
 * All buffers are allocated by nd_krotov_ode_create; a minibatch allocates
 * nothing.  Randomness follows neurodyn/krotov.h: W ~ N(init_mean,
 * init_std^2) from Philox stream nd_rng_split(seed, 1), the per-epoch
 * permutations from stream nd_rng_split(seed, 2), whose position is part of
 * nd_krotov_ode_state. */
#ifndef NEURODYN_KROTOV_ODE_H
#define NEURODYN_KROTOV_ODE_H

#include "neurodyn/core.h"
#include "neurodyn/dynamics.h"
#include "neurodyn/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nd_krotov_ode_config {
  int64_t hidden;   /* H, hidden units */
  int64_t visible;  /* D, input dimension (784 for MNIST) */
  int64_t batch;    /* largest minibatch (the epoch's minibatch size) */
  double p;         /* Lebesgue exponent p >= 1 (Eq. 2; notebook lebesgue_p) */
  double w_inh;     /* global inhibition strength w_inh >= 0 (Eq. 8) */
  double delta;     /* anti-Hebbian strength Delta (Eq. 9) */
  double h_star;    /* activity threshold h* >= 0 (Eq. 9) */
  double tau;       /* hidden time constant tau > 0 (Eq. 8) */
  double tau_L;     /* learning time constant tau_L > 0 (Eq. 3) */
  double R;         /* radius of the p-sphere the rows settle on, R > 0 (Eq. 3) */
  nd_integrator_kind integrator; /* ND_INTEGRATOR_EULER or ND_INTEGRATOR_RK4 for Eq. 8 */
  double dt;        /* integration step of Eq. 8 (same units as tau) */
  double t_max;     /* Eq. 8 is integrated over [0, t_max] from h = 0 */
  double tol;       /* stop Eq. 8 early when max |dh/dt| <= tol; <= 0: always run to t_max */
  double init_mean; /* W ~ N(init_mean, init_std^2) */
  double init_std;
  uint64_t seed;
} nd_krotov_ode_config;

/* hidden 100, visible 784, batch 100, p 2, w_inh 0.7, delta 0.4, h_star 0.5,
 * tau 1, tau_L 100, R 1, RK4, dt 0.05, t_max 20, tol 1e-4, init N(0, 1),
 * seed 0.  delta, tau and tau_L are the notebook's BioNeurons defaults; p
 * and the N(0, 1) init are those of the notebook's MNIST runs (the init
 * matters: rows far outside the p-sphere receive large currents, so units
 * that have not learned yet win the competition until they shrink to R);
 * w_inh, h_star, dt, t_max and tol are chosen for MNIST pixels in [0, 1]
 * (see docs/krotov.md).  tol must exceed the float32 floor of the residual,
 * about ulp(max |h|) / (2 dt). */
ND_API nd_krotov_ode_config nd_krotov_ode_defaults(void);

/* Everything besides W that an exact resume of nd_krotov_ode_epoch needs. */
typedef struct nd_krotov_ode_state {
  int64_t epoch;        /* epochs done */
  uint64_t rng_key;     /* shuffle stream key */
  uint64_t rng_counter; /* shuffle stream counter */
} nd_krotov_ode_state;

/* What the last minibatch (or nd_krotov_ode_hidden call) did. */
typedef struct nd_krotov_ode_stats {
  int64_t steps;       /* integrator steps of Eq. 8 */
  double t;            /* time reached */
  double residual;     /* max |dh/dt| at the state used */
  bool converged;      /* residual <= tol */
  double frac_active;  /* fraction of (sample, unit) pairs with h > 0 */
  double frac_hebb;    /* ... with g = 1 (h >= h*) */
  double frac_anti;    /* ... with g = -delta (0 < h < h*) */
} nd_krotov_ode_stats;

typedef struct nd_krotov_ode nd_krotov_ode;

/* Validates c (ND_ERR_INVALID_ARG naming the field), allocates every buffer
 * and draws W. */
ND_API nd_status nd_krotov_ode_create(const nd_krotov_ode_config *c, nd_krotov_ode **out);
ND_API void nd_krotov_ode_free(nd_krotov_ode *m); /* NULL is fine */
ND_API const nd_krotov_ode_config *nd_krotov_ode_config_of(const nd_krotov_ode *m);

/* W [hidden, visible] (the model's own weights, valid until the next update;
 * do not write through it). */
ND_API const nd_tensor *nd_krotov_ode_weights(const nd_krotov_ode *m);
/* Replaces W; w must be [hidden, visible] (ND_ERR_SHAPE otherwise). */
ND_API nd_status nd_krotov_ode_set_weights(nd_krotov_ode *m, const nd_tensor *w);

ND_API nd_krotov_ode_state nd_krotov_ode_get_state(const nd_krotov_ode *m);
ND_API nd_status nd_krotov_ode_set_state(nd_krotov_ode *m, const nd_krotov_ode_state *s); /* epoch >= 0 */

/* Eq. 9. */
ND_API float nd_krotov_ode_g(float h, float h_star, float delta);

/* Currents I [n, hidden] = <W_mu, v_b>_mu (Eq. 8) for v [n, visible],
 * 1 <= n <= batch. */
ND_API nd_status nd_krotov_ode_currents(nd_krotov_ode *m, const float *v, int64_t n, float *currents);

/* Steady-state hidden activity h [n, hidden] of Eq. 8 for v [n, visible]
 * (1 <= n <= batch), integrated as a minibatch does.  stats may be NULL. */
ND_API nd_status nd_krotov_ode_hidden(nd_krotov_ode *m, const float *v, int64_t n, float *h, nd_krotov_ode_stats *stats);

/* One learning step from v [n, visible] (1 <= n <= batch): steady state of
 * Eq. 8, then W += (lr / tau_L) * batch mean of the Eq. 3 right-hand side.
 * lr is the step in learning time (same units as tau_L).  ND_ERR_NUMERIC (W
 * unchanged) if the hidden dynamics or the update is not finite. */
ND_API nd_status nd_krotov_ode_minibatch(nd_krotov_ode *m, const float *v, int64_t n, double lr);

/* Called after every minibatch of an epoch. */
typedef void (*nd_krotov_ode_progress_fn)(int64_t batches_done, int64_t batches_total, void *user);

/* One epoch: the n rows of data [n, visible] are permuted with the shuffle
 * stream, the floor(n / batch) full minibatches are applied in order with
 * step lr (a remainder is skipped, as in neurodyn/krotov.h), and the epoch
 * counter grows by one.  The permutation buffer is allocated on the first
 * call (and when n grows).  progress may be NULL. */
ND_API nd_status nd_krotov_ode_epoch(nd_krotov_ode *m, const float *data, int64_t n, double lr,
                              nd_krotov_ode_progress_fn progress, void *user);

/* Statistics of the last minibatch or nd_krotov_ode_hidden call. */
ND_API nd_krotov_ode_stats nd_krotov_ode_last_stats(const nd_krotov_ode *m);

/* p-norms (sum_i |W_mu,i|^p)^(1/p) of the rows of W, norms [hidden]
 * (accumulated in double). */
ND_API void nd_krotov_ode_norms(const nd_krotov_ode *m, double *norms);

#ifdef __cplusplus
}
#endif
#endif
