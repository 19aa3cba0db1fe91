/* Hierarchical LCA with top-down feedback.
 *
 * A stack of L LCA layers (Rozell et al., Neural Comput. 20(10), 2008,
 * Eq. 3.1) in which layer l sparse-codes the activity a_{l-1} of the layer
 * below (a_0 = s, the input) with its dictionary Phi_l [n_{l-1}, n_l]
 * (columns = atoms) and sends its prediction Phi_l a_l back down with a gain
 * gamma: the top-down feedback of sparse deep predictive coding (Boutin,
 * Franciosini, Chavane, Ruffier, Perrinet, "Sparse deep predictive coding
 * captures contour integration capabilities of the early visual system",
 * PLoS Comput. Biol. 17(1):e1008629, 2021, their feedback strength k_FB) and
 * in the spirit of the deconvolutional competitive algorithm of Paiton et
 * al. (BICT 2015).  With residuals r_l = a_{l-1} - Phi_l a_l the energy is
 *
 *   E_gamma = sum_l gamma^(l-1) [ 1/2 ||r_l||^2 + sum_j C_l(a_lj) ],
 *
 * (C_l the threshold's cost at lambda_l, as in lca.h) and each layer runs the
 * LCA on it with time constant gamma^(l-1) tau (divided through):
 *
 *   tau du_l/dt = Phi_l^T r_l + a_l - u_l  -  gamma r_{l+1}       (l < L)
 *   tau du_L/dt = Phi_L^T r_L + a_L - u_L,       a_l = T_lambda_l(u_l)
 *
 * Phi_l^T r_l + a_l - u_l is the LCA of layer l on its input a_{l-1}
 * (= Phi_l^T a_{l-1} - u_l - (Phi_l^T Phi_l - I) a_l); -gamma r_{l+1} =
 * gamma (Phi_{l+1} a_{l+1} - a_l) pulls a_l towards the prediction of the
 * layer above.  gamma = 0 is the feedforward stack: each layer an independent
 * LCA on the (moving) code of the layer below, whose fixed point is the LCA
 * code of the lower layer's fixed point.  For gamma > 0, E_gamma is a
 * Lyapunov function: dE/dt = -sum_l gamma^(l-1) tau T'(u_l) (du_l/dt)^2 <= 0
 * (Rozell et al.'s argument, Sec. 3.3, layer by layer; T' >= 0 for the soft
 * and non-negative thresholds).  docs/hlca.md derives it.
 *
 * Integration: every layer's u_l moves along its direction tau du_l/dt
 * (all layers from the same old state) by the state update `update`
 * (accel.h; EULER: u_l += eta tau du_l/dt), the LCA's default (lca.h,
 * nd_lca_defaults) unless set; with auto_eta and EULER, MOMENTUM or NESTEROV
 * the step is eta = 1 / max_l (||Phi_l||_2^2 + gamma [l < L]) (power
 * iteration at create).  The energy argument is the Euler one (small eta).  Residual of row b:
 * max over layers and units of |tau du/dt| / max(max_j |(Phi_1^T s_b)_j|,
 * 1e-30); a row stops (is frozen) at or below tol, the solve ends when every
 * row has stopped or after max_iter steps.
 *
 *   nd_hlca_config c = nd_hlca_defaults();  c.gain = 0.5;
 *   int64_t sizes[3] = {784, 256, 64};  const float *phi[2] = {phi1, phi2};
 *   nd_hlca *h;  nd_hlca_create(&c, 2, sizes, phi, batch, &h);
 *   float *codes[2] = {a1, a2};  nd_hlca_result r;
 *   nd_hlca_solve(h, s, batch, codes, &r);
 *   nd_hlca_free(h);
 *
 * Dictionaries are learned layer by layer with the LCA dictionary learner
 * (nd_lca_dict, lca.h): layer 1 on the inputs, layer l on the gamma = 0
 * codes of layer l - 1 (`neurodyn train hlca`, docs/hlca.md). */
#ifndef NEURODYN_HLCA_H
#define NEURODYN_HLCA_H

#include "neurodyn/core.h"
#include "neurodyn/dynamics.h"
#include "neurodyn/lca.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ND_HLCA_MAX_LAYERS 8

typedef struct nd_hlca_config {
  nd_lca_threshold threshold;        /* SOFT or NONNEG (SOFT) */
  float lambda[ND_HLCA_MAX_LAYERS];  /* per layer, >= 0 and finite (0.1 each) */
  double gain;                       /* top-down gain gamma >= 0 (0: feedforward) */
  nd_accel_config update;            /* state update (the LCA's default, lca.h) */
  bool auto_eta;                     /* EULER/MOMENTUM/NESTEROV: eta = 1/max_l(...) in place of update.eta (true) */
  double tol;                        /* > 0 (1e-4) */
  int64_t max_iter;                  /* >= 1 (1000) */
} nd_hlca_config;

typedef struct nd_hlca_result {
  int64_t iterations;  /* steps taken (the most any row took) */
  double residual;     /* max over rows at the state returned */
  double energy;       /* sum over rows of E_gamma at the state returned */
  nd_stop_reason stop; /* TOLERANCE, MAX_ITER or DIVERGED */
} nd_hlca_result;

ND_API nd_hlca_config nd_hlca_defaults(void);
/* ND_ERR_INVALID_ARG naming the field (lambda[l] checked for l < layers). */
ND_API nd_status nd_hlca_config_check(const nd_hlca_config *c, int64_t layers);

typedef struct nd_hlca nd_hlca;

/* layers L in 1..ND_HLCA_MAX_LAYERS, sizes [L + 1] (sizes[0] = input
 * length, sizes[l] = n_l, each >= 1), phi[l - 1] the dictionary of layer l,
 * [sizes[l-1], sizes[l]] row-major, finite (copied; used as given, not
 * normalised); buffers for up to max_batch signals. */
ND_API nd_status nd_hlca_create(const nd_hlca_config *c, int64_t layers, const int64_t *sizes, const float *const *phi,
                                int64_t max_batch, nd_hlca **out);
ND_API void nd_hlca_free(nd_hlca *h); /* NULL is fine */
ND_API int64_t nd_hlca_layers(const nd_hlca *h);           /* -1 for NULL */
ND_API int64_t nd_hlca_size(const nd_hlca *h, int64_t l);  /* sizes[l]; -1 out of range */
ND_API double nd_hlca_eta(const nd_hlca *h);               /* the step in use; NaN for NULL */
/* Changes the gain (>= 0, finite) and, with auto_eta, the step. */
ND_API nd_status nd_hlca_set_gain(nd_hlca *h, double gain);

/* Codes of the signals s [batch, sizes[0]] (finite) from u = 0: codes[l - 1]
 * [batch, n_l] for each layer (an entry, or codes itself, may be NULL: not
 * returned; nd_hlca_code has them).  result may be NULL.  Not converging is
 * reported (ND_STOP_MAX_ITER), not an error; a non-finite state returns
 * ND_ERR_NUMERIC.  Allocates nothing. */
ND_API nd_status nd_hlca_solve(nd_hlca *h, const float *s, int64_t batch, float *const *codes, nd_hlca_result *result);
/* Codes a_l [batch, n_l] of the last solve (layer l in 1..L); NULL otherwise. */
ND_API const float *nd_hlca_code(const nd_hlca *h, int64_t l);
/* out [batch, sizes[l - 1]] = Phi_l a for codes a [batch, n_l]. */
ND_API nd_status nd_hlca_predict(const nd_hlca *h, int64_t l, const float *a, int64_t batch, float *out);
/* E_gamma of codes[l - 1] [batch, n_l] for the signals s [batch, sizes[0]]:
 * per row (per_row [batch] or NULL) and summed (total or NULL); layer_terms
 * [L] (or NULL) gets each layer's unweighted sum over rows of
 * 1/2 ||r_l||^2 + sum C_l.  float64 sums; uses the model's buffers (call it
 * between solves). */
ND_API nd_status nd_hlca_energy(nd_hlca *h, const float *s, const float *const *codes, int64_t batch, double *per_row,
                                double *total, double *layer_terms);

#ifdef __cplusplus
}
#endif
#endif
