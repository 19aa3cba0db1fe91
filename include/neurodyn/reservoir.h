/* Reservoir computing: echo-state networks with a ridge-regression readout,
 * and the benchmark series they are tested on.
 *
 * Echo-state network (Jaeger 2001, GMD Report 148; leaky integrator units of
 * Jaeger, Lukosevicius, Popovici & Siewert 2007, Neural Networks 20:335,
 * Eq. 2), state x [N], input u [K], output y [L]:
 *
 *   x(t) = (1 - a) x(t-1) + a tanh(W x(t-1) + W_in [b; u(t)])
 *   y(t) = W_out [1; u(t); x(t)]
 *
 * W is sparse: each entry is non-zero with probability `connectivity`,
 * uniform in [-1, 1], then scaled so that its spectral radius (largest
 * |eigenvalue|, computed by LAPACK dgeev, or estimated by power iteration)
 * is `spectral_radius`.  W_in is
 * dense uniform in [-input_scaling, input_scaling] (the bias column in
 * [-bias_scaling, bias_scaling]).  The readout is ridge regression on the
 * states after `washout` steps (Lukosevicius 2012, "A Practical Guide to
 * Applying Echo State Networks", Eq. 9):
 *
 *   W_out = Y Phi^T (Phi Phi^T + ridge I)^-1,   Phi = [1; u; x] columns
 *
 * solved by Cholesky (LAPACK dposv) in double precision.  In generative mode
 * (inputs == outputs) the prediction is fed back as the next input: the
 * free-running prediction of Jaeger & Haas 2004 (Science 304:78).
 *
 * Everything is float64: a free-running forecast amplifies readout errors. */
#ifndef NEURODYN_RESERVOIR_H
#define NEURODYN_RESERVOIR_H

#include "neurodyn/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nd_ridge_solver {
  ND_RIDGE_CHOLESKY = 0, /* normal equations by dposv: fast (one GEMM); fails for ridge -> 0 on collinear states */
  ND_RIDGE_QR = 1        /* least squares on [Phi; sqrt(ridge) I] by dgels: conditioning of Phi, not its square */
} nd_ridge_solver;

typedef enum nd_esn_rho_method {
  ND_ESN_RHO_EIG = 0,  /* max |eigenvalue| of a dense copy by LAPACK dgeev: exact, O(N^3) */
  ND_ESN_RHO_POWER = 1 /* power iteration on the sparse W: growth of |W^k x| averaged over k = K+1..2K */
} nd_esn_rho_method;

typedef struct nd_esn_config {
  int64_t units;          /* N, 1..5000 (dgeev is O(N^3)); 1000 */
  int64_t inputs;         /* K >= 1; 1 */
  int64_t outputs;        /* L >= 1; 1 */
  double connectivity;    /* fraction of non-zero W entries, (0, 1]; 0.01 (Jaeger & Haas 2004) */
  double spectral_radius; /* > 0; 0.8 (Jaeger & Haas 2004) */
  double leak;            /* a in (0, 1]; 1 (no leak) */
  double input_scaling;   /* >= 0; 1 */
  double bias_scaling;    /* >= 0; 0.2 */
  double ridge;           /* >= 0; 1e-8 */
  int64_t washout;        /* states discarded before the fit; 100 */
  nd_ridge_solver solver; /* ND_RIDGE_CHOLESKY */
  nd_esn_rho_method rho_method; /* ND_ESN_RHO_EIG */
  int64_t power_iterations;     /* 2K for ND_ESN_RHO_POWER; 1000 */
  uint64_t seed;          /* W and W_in; 1 */
  /* Deep ESN (Gallicchio, Micheli & Pedrelli 2017, Neurocomputing 268:87,
   * Eqs. 1-2): `layers` reservoirs of `units` each, layer l > 1 driven by
   * the state of layer l - 1 at the same step through a dense W_in,l
   * uniform in [-inter_scaling, inter_scaling] (bias column as above); the
   * readout sees [1; u; x_1; ...; x_layers]. */
  int64_t layers;         /* 1..ND_ESN_MAX_LAYERS; 1 (a plain ESN) */
  double inter_scaling;   /* >= 0; 1 */
  /* State noise in training (Jaeger & Haas 2004 trained with noise): each
   * unit gets uniform [-noise, noise] added after its update, in
   * nd_esn_fit and nd_esn_fit_rls only; never in run/generate/batches. */
  double noise;           /* [0, 1); 0 */
} nd_esn_config;

#define ND_ESN_MAX_LAYERS 16

typedef struct nd_esn nd_esn;

ND_API nd_esn_config nd_esn_defaults(void);
ND_API nd_status nd_esn_config_check(const nd_esn_config *c);
/* Draws and scales the reservoir; state zero, no readout yet. */
ND_API nd_status nd_esn_create(const nd_esn_config *c, nd_esn **out);
ND_API void nd_esn_free(nd_esn *esn);
/* The spectral radius of W after scaling, as the rho_method measured it (NaN for NULL). */
ND_API double nd_esn_spectral_radius(const nd_esn *esn);
/* Non-zeros of W (-1 for NULL). */
ND_API int64_t nd_esn_nnz(const nd_esn *esn);
/* W as a dense row-major [N, N] copy into w (x(t) uses row i for unit i). */
ND_API nd_status nd_esn_reservoir(const nd_esn *esn, double *w);

/* x = 0. */
ND_API nd_status nd_esn_reset(nd_esn *esn);
/* One state update with input u [K]. */
ND_API nd_status nd_esn_step(nd_esn *esn, const double *u);
/* The state x [N] (valid until the next step; NULL for NULL). */
ND_API const double *nd_esn_state(const nd_esn *esn);

/* Teacher-forced fit: resets, runs u [T, K], discards `washout` steps and
 * fits W_out to y [T, L] (y[t] the target at the state after u[t]); the
 * state is left after the last step, ready to predict.  T > washout. */
ND_API nd_status nd_esn_fit(nd_esn *esn, const double *u, const double *y, int64_t T);
/* Readout of the current state with the last input: y [L]. */
ND_API nd_status nd_esn_readout(const nd_esn *esn, double *y);
/* Teacher-forced outputs: steps through u [T, K], y [T, L] after each step. */
ND_API nd_status nd_esn_run(nd_esn *esn, const double *u, int64_t T, double *y);
/* Free run (inputs == outputs): `steps` times: feed the current readout as
 * the next input, step, read out into y [steps, L]. */
ND_API nd_status nd_esn_generate(nd_esn *esn, int64_t steps, double *y);
/* W_out [L, F], F = 1 + K + layers N (NULL for NULL or before a fit). */
ND_API const double *nd_esn_readout_weights(const nd_esn *esn);
/* F, the readout's features (-1 for NULL). */
ND_API int64_t nd_esn_features(const nd_esn *esn);
ND_API nd_esn_config nd_esn_get_config(const nd_esn *esn);
/* Layer l's spectral radius and a dense copy of its W [N, N]. */
ND_API double nd_esn_layer_spectral_radius(const nd_esn *esn, int64_t l);
ND_API nd_status nd_esn_layer_reservoir(const nd_esn *esn, int64_t l, double *w);

/* ----------------------------------------------- independent sequences
 * Many sequences at once, in parallel (OpenMP over the sequences), each
 * from the zero state; the ESN itself is not changed (const).  Identical,
 * bit for bit, to running each sequence alone. */
/* Features phi [B, T, F] ([1; u; x_1..x_layers] after each step) of u [B, T, K]. */
ND_API nd_status nd_esn_states_batch(const nd_esn *esn, const double *u, int64_t B, int64_t T, double *phi);
/* Per sequence: `warm` teacher-forced steps on u [B, warm, K] with their
 * readouts, then `horizon` free-running steps (inputs == outputs), the
 * readout fed back: y [B, warm + horizon, L].  A sequence whose free run
 * diverges (non-finite) gets NaN from there on; the others are unaffected. */
ND_API nd_status nd_esn_forecast_batch(const nd_esn *esn, const double *u, int64_t B, int64_t warm, int64_t horizon,
                                       double *y);

/* ------------------------------------------------ online readout: RLS / FORCE
 * Recursive least squares (Sussillo & Abbott 2009, Neuron 63:544, Eqs. 4-5;
 * Haykin, Adaptive Filter Theory, with forgetting factor lambda): after the
 * washout, at every step, with phi the features and e = W_out phi - y the
 * a-priori error,
 *   k = P phi,  c = 1 / (lambda + phi^T k),
 *   W_out <- W_out - c e k^T,   P <- (P - c k k^T) / lambda,
 * from P(0) = I / alpha and W_out = 0.  With lambda = 1, one pass equals the
 * ridge solution with ridge alpha (tested).  FORCE (Sussillo & Abbott
 * 2009): the network's own output z = W_out phi is fed back as the next
 * input during learning (inputs == outputs) instead of the teacher's; the
 * teacher y only enters through e.  Successive calls continue the same P
 * and W_out (passes, "epochs"); nd_esn_rls_reset starts over. */
typedef struct nd_esn_rls {
  bool force;    /* feed the output back (FORCE) instead of the teacher (RLS); false */
  double alpha;  /* P(0) = I / alpha, > 0; 1e-6 */
  double lambda; /* forgetting factor in (0, 1]; 1 */
} nd_esn_rls;

ND_API nd_esn_rls nd_esn_rls_defaults(void);
/* One pass over u [T, K], y [T, L] from the zero state (noise as in
 * nd_esn_fit); mse (may be NULL): mean squared a-priori error over the
 * steps after the washout. */
ND_API nd_status nd_esn_fit_rls(nd_esn *esn, const double *u, const double *y, int64_t T, const nd_esn_rls *r, double *mse);
ND_API nd_status nd_esn_rls_reset(nd_esn *esn);

/* ------------------------------------------------ local rules on the reservoir
 * Unsupervised passes before the readout is fitted, each from the zero
 * state over u [T, K], rules applied at every step after the washout:
 *
 * ND_ESN_IP, intrinsic plasticity (Schrauwen, Wardermann, Verstraeten, Steil
 * & Stroobandt 2008, Neurocomputing 71:1159; the rule for tanh units with a
 * Gaussian target N(mu, sigma^2), derived from the KL divergence as in
 * Triesch 2005): unit i's output y = tanh(g s + b) of its net input s
 * adapts its gain g and bias b,
 *   db = -eta (-mu / sigma^2 + (y / sigma^2) (2 sigma^2 + 1 - y^2 + mu y))
 *   dg = eta / g + db s
 *
 * ND_ESN_DECORRELATE, anti-Hebbian decorrelation (Foldiak 1990, Biol.
 * Cybern. 64:165): on the existing connections (i != j) of each layer,
 *   dW_ij = -eta x_i(t) x_j(t-1)
 * then, after the pass, W is rescaled to the configured spectral radius (so
 * that the comparison with the untrained reservoir is at equal radius). */
typedef enum nd_esn_rule { ND_ESN_RULE_NONE = 0, ND_ESN_IP = 1, ND_ESN_DECORRELATE = 2 } nd_esn_rule;
typedef struct nd_esn_plasticity {
  nd_esn_rule rule;
  double eta;   /* learning rate > 0; 5e-4 */
  double mu;    /* IP target mean; 0 */
  double sigma; /* IP target standard deviation > 0; 0.2 */
} nd_esn_plasticity;
typedef struct nd_esn_adapt_stats {
  double mean, std;    /* of the units' tanh outputs over the pass (after the washout) */
  double mean_abs_corr; /* mean |correlation| of 64 fixed unit pairs of layer 1 over the pass */
} nd_esn_adapt_stats;

ND_API nd_esn_plasticity nd_esn_plasticity_defaults(void);
ND_API nd_status nd_esn_adapt(nd_esn *esn, const double *u, int64_t T, const nd_esn_plasticity *p, nd_esn_adapt_stats *st);
/* The intrinsic gains and biases [layers N] (1 and 0 unless adapted). */
ND_API const double *nd_esn_gain(const nd_esn *esn);
ND_API const double *nd_esn_ip_bias(const nd_esn *esn);

/* ------------------------------------------------ checkpoints
 * Everything a trained or half-trained ESN is: config, each layer's W values
 * (changed by decorrelation) and radius, gains and biases, W_out, the RLS
 * P, the noise stream.  W's structure and W_in are redrawn from the seed on
 * load.  Metadata "model" = "esn"; tensor names "esn.*". */
struct nd_checkpoint;
ND_API nd_status nd_esn_save(const nd_esn *esn, struct nd_checkpoint *ck);
ND_API nd_status nd_esn_load(const struct nd_checkpoint *ck, nd_esn **out);

/* Ridge regression: w [L, F] minimising |Y - Phi w^T|^2 + ridge |w|^2 for
 * phi [T, F] (rows = samples) and y [T, L]: (Phi^T Phi + ridge I) w^T =
 * Phi^T Y by Cholesky (dposv), or the least-squares problem
 * [Phi; sqrt(ridge) I] w^T = [Y; 0] by QR (dgels; needs T + F >= F rows of
 * full rank).  ND_ERR_NUMERIC if the system is singular. */
ND_API nd_status nd_ridge_fit(const double *phi, const double *y, int64_t T, int64_t F, int64_t L, double ridge,
                              nd_ridge_solver solver, double *w);

/* Largest |eigenvalue| of a dense n x n matrix (row-major) by dgeev. */
ND_API nd_status nd_spectral_radius(const double *a, int64_t n, double *rho);

/* Mackey-Glass series (Mackey & Glass 1977, Science 197:287):
 *   dx/dt = beta x(t - tau) / (1 + x(t - tau)^power) - gamma x(t)
 * by RK4 with step h on a history buffer of floor(tau / h) values, the delayed
 * term held for the step (as reservoirpy's mackey_glass), starting from a
 * constant history x0; out[k] = x(k h), k = 0..n-1.  Classic: tau 17, beta
 * 0.2, gamma 0.1, power 10, x0 1.2, h 1. */
ND_API nd_status nd_mackey_glass(int64_t n, double tau, double beta, double gamma, double power, double x0, double h,
                                 double *out);

/* NRMSE = sqrt(mean (pred - target)^2 / var(target)) over n values (var of
 * `target` itself, or `var` if var > 0). */
ND_API double nd_nrmse(const double *pred, const double *target, int64_t n, double var);

/* ------------------------------------------------------------ NG-RC */
/* Next-generation reservoir computing (Gauthier, Bollt, Griffith & Barbosa
 * 2021, "Next generation reservoir computing", Nat. Commun. 12:5564): no
 * random reservoir; the feature vector of time t is
 *
 *   O_lin(t)  = [u(t); u(t - s); ...; u(t - (k-1) s)]         (d k values)
 *   O_nonlin  = the unique quadratic monomials of O_lin         (dk (dk+1)/2)
 *   O_total   = [1; O_lin; O_nonlin]
 *
 * and the readout predicts the increment, u(t+1) = u(t) + W_out O_total(t)
 * (their Eq. 2 and the forecasting form of their Methods), W_out by ridge
 * regression (nd_ridge_fit).  Their Lorenz setting: k = 2, s = 1, ridge
 * 2.5e-6, dt = 0.025, 400 training points. */
typedef struct nd_ngrc_config {
  int64_t inputs;  /* d >= 1; 3 */
  int64_t delays;  /* k >= 1; 2 */
  int64_t spacing; /* s >= 1; 1 */
  double ridge;    /* >= 0; 2.5e-6 */
} nd_ngrc_config;

typedef struct nd_ngrc nd_ngrc;

ND_API nd_ngrc_config nd_ngrc_defaults(void);
ND_API nd_status nd_ngrc_create(const nd_ngrc_config *c, nd_ngrc **out);
ND_API void nd_ngrc_free(nd_ngrc *m);
/* Length of O_total (-1 for NULL). */
ND_API int64_t nd_ngrc_features(const nd_ngrc *m);
/* Fits W_out on u [T, d]: targets u(t+1) - u(t) for t = (k-1)s .. T-2. */
ND_API nd_status nd_ngrc_fit(nd_ngrc *m, const double *u, int64_t T);
/* Forecast: from the last (k-1)s + 1 points of history u [H, d] (H >= (k-1)s + 1),
 * `steps` predictions into y [steps, d], each fed back. */
ND_API nd_status nd_ngrc_forecast(const nd_ngrc *m, const double *u, int64_t H, int64_t steps, double *y);

/* The Lorenz system dx = sigma (y - x), dy = x (rho - z) - y, dz = x y - beta z
 * (Lorenz 1963; 10, 28, 8/3) sampled every dt from x0 [3] for n points
 * (out [n, 3], out[0] = x0), by the adaptive Dormand-Prince solver of
 * dynamics.h (rtol 1e-6, atol 1e-6; its state is float32). */
ND_API nd_status nd_lorenz(int64_t n, double dt, const double *x0, double sigma, double rho, double beta, double *out);

#ifdef __cplusplus
}
#endif

#endif
