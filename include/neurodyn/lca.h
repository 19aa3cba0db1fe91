/* Sparse coding by the Locally Competitive Algorithm (LCA).
 *
 * C. J. Rozell, D. H. Johnson, R. G. Baraniuk, B. A. Olshausen, "Sparse
 * coding via thresholding and local competition in neural circuits", Neural
 * Computation 20(10):2526-2563, 2008.  With a dictionary Phi [m, n] whose n
 * columns are the atoms, an input s [m] and b = Phi^T s, the membrane
 * potentials u [n] follow (Eq. 3.1 with the inhibition of Eq. 3.2)
 *
 *   tau du/dt = b - u - (Phi^T Phi - I) a,      a = T_lambda(u)
 *
 * and a is the sparse code.  Thresholds T_lambda (Sec. 3.2, Eq. 3.4-3.5):
 *   SOFT    sign(u) max(|u| - lambda, 0)     (l1 cost; the fixed point is the Lasso minimiser)
 *   HARD    u 1[|u| > lambda]                 (l0 cost lambda^2/2 per non-zero)
 *   NONNEG  max(u - lambda, 0)               (l1 with a >= 0)
 * Energy (Eq. 2.1), reported per signal:
 *   E(a) = 1/2 ||s - Phi a||^2 + sum_j C(a_j),  C = lambda |a| (SOFT, NONNEG),
 *          lambda^2/2 1[a != 0] (HARD).
 * The fixed point holds for any column norms (u - a = Phi^T (s - Phi a)
 * there), so the dictionary is used as given; `normalize` L2-normalises the
 * columns at create as upstream does.
 *
 * Batched: S [B, m] (rows are signals), U, A [B, n]; one step is
 *   D = S Phi - U - A (Phi^T Phi - I),  U <- update(U, D)   (accel.h; EULER: U += eta D)
 * with b = S Phi formed once per solve and the inhibition as one GEMM with
 * the precomputed Gram matrix G = Phi^T Phi - I [n, n] (GRAM form, B n^2
 * multiply-adds) or two GEMMs A Phi^T Phi - A (TWO_GEMM form, 2 B m n);
 * AUTO picks by the rule measured in docs/lca.md.
 *
 * Stopping, per signal: the residual of row b is
 *   r_b = max_j |D_bj| / max(max_j |b_bj|, 1e-30)
 * (the rate du/dt relative to the drive Phi^T s; 0 exactly at a fixed point).
 * A row stops (its state is frozen) once r_b <= tol; the solve ends when all
 * rows have stopped (ND_STOP_TOLERANCE), after max_iter steps
 * (ND_STOP_MAX_ITER), when the observer asks (ND_STOP_OBSERVER), or on a
 * non-finite state (ND_STOP_DIVERGED, status ND_ERR_NUMERIC).  Rows are
 * independent: a batch gives each row's per-signal result.
 *
 * Variant UPSTREAM (NeurodynamicalSystems.jl, commit 8333fac, `Lca`):
 *   du = Phi^T s - (Phi^T Phi - I) max(lambda, u) - u - lambda,  a = max(lambda, u)
 * i.e. the output floors at lambda (never zero) and an extra -lambda shrinks
 * every unit; the threshold must be SOFT (it is not used).  Upstream also
 * normalises the columns (set `normalize`) and defaults to its Adam
 * (ND_ACCEL_UPSTREAM_ADAM, eta 0.01, b1 0.65, b2 0.75).
 *
 *   nd_lca_config c = nd_lca_defaults();  c.lambda = 0.1f;
 *   nd_lca *l;  nd_lca_create(&c, phi, m, n, batch, &l);
 *   nd_lca_result r;  nd_lca_solve(l, s, batch, a, &r);   // r.iterations, r.residual, r.objective, r.stop
 *   nd_lca_free(l); */
#ifndef NEURODYN_LCA_H
#define NEURODYN_LCA_H

#include "neurodyn/core.h"
#include "neurodyn/accel.h"
#include "neurodyn/dynamics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nd_lca_threshold {
  ND_LCA_SOFT = 0,
  ND_LCA_HARD = 1,
  ND_LCA_NONNEG = 2,
  ND_LCA_THRESHOLD_COUNT_
} nd_lca_threshold;

typedef enum nd_lca_variant {
  ND_LCA_TEXTBOOK = 0, /* Rozell et al. 2008 (default) */
  ND_LCA_UPSTREAM = 1, /* NeurodynamicalSystems.jl: a = max(lambda, u), extra -lambda */
  ND_LCA_VARIANT_COUNT_
} nd_lca_variant;

typedef enum nd_lca_form {
  ND_LCA_FORM_AUTO = 0,     /* choose by the measured rule (docs/lca.md) */
  ND_LCA_FORM_GRAM = 1,     /* one GEMM with G = Phi^T Phi - I per step */
  ND_LCA_FORM_TWO_GEMM = 2, /* (A Phi^T) Phi - A per step */
  ND_LCA_FORM_COUNT_
} nd_lca_form;

typedef struct nd_lca_config {
  nd_lca_threshold threshold; /* SOFT */
  float lambda;               /* >= 0, finite (0.1) */
  nd_accel_config update;     /* the state update (see nd_lca_defaults) */
  double tol;                 /* > 0: residual at which a row stops (1e-4) */
  int64_t max_iter;           /* >= 1 (1000) */
  nd_lca_variant variant;     /* TEXTBOOK */
  nd_lca_form form;           /* AUTO */
  bool normalize;             /* L2-normalise the dictionary's columns at create (false) */
  bool auto_eta;              /* EULER, MOMENTUM, NESTEROV: step eta = 1/L, L = ||Phi||_2^2 (power
                                 iteration at create), in place of update.eta; other kinds use
                                 update.eta (true) */
} nd_lca_config;

/* Why and where a solve ended. */
typedef struct nd_lca_result {
  int64_t iterations;    /* steps taken (the most any row took) */
  double residual;       /* max over rows of r_b at the state returned */
  double objective;      /* sum over rows of E(a_b) (the Lasso objective for SOFT) */
  nd_stop_reason stop;   /* tolerance, max-iter, observer or diverged */
} nd_lca_result;

/* The defaults in parentheses above; the update is the measured default of
 * docs/lca.md. */
ND_API nd_lca_config nd_lca_defaults(void);
/* ND_ERR_INVALID_ARG naming the field (and the update's fields). */
ND_API nd_status nd_lca_config_check(const nd_lca_config *c);

/* Names and parsers: "soft", "hard", "nonneg"; "textbook", "upstream";
 * "auto", "gram", "two-gemm" (NULL for unknown values; ND_ERR_INVALID_ARG
 * naming the choices for unknown names). */
ND_API const char *nd_lca_threshold_name(nd_lca_threshold t);
ND_API nd_status nd_lca_threshold_parse(const char *name, nd_lca_threshold *out);
ND_API const char *nd_lca_variant_name(nd_lca_variant v);
ND_API nd_status nd_lca_variant_parse(const char *name, nd_lca_variant *out);
ND_API const char *nd_lca_form_name(nd_lca_form f);
ND_API nd_status nd_lca_form_parse(const char *name, nd_lca_form *out);

/* a[i] = T_lambda(u[i]) for i < count (the variant's activation: UPSTREAM
 * gives max(lambda, u)); a may equal u.  ND_ERR_INVALID_ARG for NULL, a
 * negative count, lambda < 0 or non-finite, or an unknown kind. */
ND_API nd_status nd_lca_threshold_apply(nd_lca_threshold t, nd_lca_variant v, float lambda, const float *u, float *a,
                                        int64_t count);
/* The cost sum_j C(a_j) of the code a[count] (see E above; UPSTREAM counts as
 * SOFT) into *out. */
ND_API nd_status nd_lca_penalty(nd_lca_threshold t, float lambda, const float *a, int64_t count, double *out);

typedef struct nd_lca nd_lca;

/* Observer: called after every step with the step count (1, 2, ...), the
 * codes A and potentials U [batch, n] of the solve.  Return 0 to go on,
 * anything else to stop (ND_STOP_OBSERVER). */
typedef int (*nd_lca_observer_fn)(int64_t iter, const float *a, const float *u, int64_t batch, void *user);

/* Validates c, copies the dictionary phi [m, n] (row-major, columns = atoms;
 * finite, m, n >= 1, no all-zero column when normalize is set) and allocates
 * every buffer for batches of up to max_batch signals (>= 1); the GRAM form
 * precomputes G here. */
ND_API nd_status nd_lca_create(const nd_lca_config *c, const float *phi, int64_t m, int64_t n, int64_t max_batch,
                               nd_lca **out);
ND_API void nd_lca_free(nd_lca *l); /* NULL is fine */

/* Replaces the dictionary (same m, n; finite), renormalising when the config
 * says so and recomputing G: the dictionary-learning step. */
ND_API nd_status nd_lca_set_dictionary(nd_lca *l, const float *phi);
/* The dictionary in use [m, n] (after normalisation); NULL for NULL. */
ND_API const float *nd_lca_dictionary(const nd_lca *l);
ND_API const nd_lca_config *nd_lca_config_of(const nd_lca *l);
/* m, n, max_batch (-1 for NULL). */
ND_API int64_t nd_lca_m(const nd_lca *l);
ND_API int64_t nd_lca_n(const nd_lca *l);
ND_API int64_t nd_lca_max_batch(const nd_lca *l);
/* L = ||Phi||_2^2 (largest eigenvalue of Phi^T Phi, power iteration) and
 * the step eta the solve uses (NaN for NULL). */
ND_API double nd_lca_lipschitz(const nd_lca *l);
ND_API double nd_lca_eta(const nd_lca *l);
/* The form the solve uses (AUTO resolved); ND_LCA_FORM_AUTO for NULL. */
ND_API nd_lca_form nd_lca_form_of(const nd_lca *l);
ND_API nd_status nd_lca_set_observer(nd_lca *l, nd_lca_observer_fn fn, void *user);

/* Sparse codes a [batch, n] of the signals s [batch, m] (finite), from u = 0.
 * result may be NULL.  Not converging within max_iter is reported
 * (stop = ND_STOP_MAX_ITER), not an error; a non-finite state returns
 * ND_ERR_NUMERIC with the result filled in.  Allocates nothing. */
ND_API nd_status nd_lca_solve(nd_lca *l, const float *s, int64_t batch, float *a, nd_lca_result *result);
/* The potentials u [batch, n] of the last solve (valid until the next solve);
 * NULL for NULL. */
ND_API const float *nd_lca_potentials(const nd_lca *l);
/* Energy E(a_b) of each row (per_row [batch] or NULL) and their sum (*total
 * or NULL) for codes a [batch, n] of signals s [batch, m] under the model's
 * dictionary and threshold (float64 sums).  Uses the model's buffers. */
ND_API nd_status nd_lca_energy(nd_lca *l, const float *s, const float *a, int64_t batch, double *per_row, double *total);

#ifdef __cplusplus
}
#endif
#endif
