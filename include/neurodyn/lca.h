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
#include "neurodyn/checkpoint.h"
#include "neurodyn/tensor.h"
#include "neurodyn/train.h"

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

/* ============================================== convolutional LCA (conv.c) */
/* The dictionary is a bank of F filters w [F, C, kh, kw] applied at every
 * position of a C x H x W image (Zeiler et al. 2010, "Deconvolutional
 * networks", CVPR, the convolutional sparse-coding cost; the LCA form of Schultz et al. 2014,
 * "Replicating kernels with a short stride allows sparse reconstructions
 * with fewer independent kernels", arXiv:1406.4205): the code is a map
 * a [F, P, Q], P = (H + 2 pad_h - kh) / stride_h + 1 (Q likewise), and
 *
 *   Phi a   = conv_transpose(a, w)    [C, H, W]   (the reconstruction)
 *   Phi^T s = conv(s, w)              [F, P, Q]   (the drive: correlation)
 *
 * so Phi is the m x n matrix (m = C H W, n = F P Q) whose column (f, p, q)
 * is filter f placed at (p stride_h - pad_h, q stride_w - pad_w), cropped to
 * the image: the dense LCA of the top of this header with that (Toeplitz)
 * dictionary, computed without forming it.  1-D signals are H = kh = 1.
 * One step is, for the batch S [B, C, H, W] (NCHW), U, A [B, F, P, Q]:
 *
 *   A = T(U);  R = S - Phi A;  D = Phi^T R - U + A;  U <- update(U, D)
 *
 * (D = Phi^T S - U - (Phi^T Phi - I) A rearranged; one transposed and one
 * direct convolution per step).  Threshold, variant, update, tol, max_iter
 * and auto_eta mean what they mean for the dense LCA (L = ||Phi||_2^2 by
 * power iteration on conv(conv_transpose(.))); `normalize` L2-normalises
 * each filter over [C, kh, kw]; `form` is unused. */
typedef struct nd_lca_conv_shape {
  int64_t channels, height, width;    /* C, H, W of one input (H = 1 for 1-D) */
  int64_t filters, kernel_h, kernel_w; /* F, kh, kw (kh = 1 for 1-D) */
  int64_t stride_h, stride_w;          /* >= 1 */
  int64_t pad_h, pad_w;                /* zero padding on each side, >= 0 */
} nd_lca_conv_shape;

/* ND_ERR_INVALID_ARG / ND_ERR_SHAPE naming the field; on success *m = C H W
 * and *n = F P Q (either may be NULL). */
ND_API nd_status nd_lca_conv_shape_check(const nd_lca_conv_shape *sh, int64_t *m, int64_t *n);

typedef struct nd_lca_conv nd_lca_conv;

/* Validates c and sh, copies the filters [F, C, kh, kw] (finite; no
 * all-zero filter when normalize is set) and allocates every buffer for up
 * to max_batch images. */
ND_API nd_status nd_lca_conv_create(const nd_lca_config *c, const nd_lca_conv_shape *sh, const float *filters,
                                    int64_t max_batch, nd_lca_conv **out);
ND_API void nd_lca_conv_free(nd_lca_conv *l); /* NULL is fine */
/* Replaces the filters (finite; renormalised when the config says so) and
 * recomputes L and eta. */
ND_API nd_status nd_lca_conv_set_filters(nd_lca_conv *l, const float *filters);
/* The filters in use [F, C, kh, kw]; NULL for NULL. */
ND_API const float *nd_lca_conv_filters(const nd_lca_conv *l);
ND_API const nd_lca_conv_shape *nd_lca_conv_shape_of(const nd_lca_conv *l);
/* L = ||Phi||_2^2 (power iteration, computed on first request when the
 * step does not need it; uses the solve's buffers); NaN for NULL. */
ND_API double nd_lca_conv_lipschitz(nd_lca_conv *l);
ND_API double nd_lca_conv_eta(const nd_lca_conv *l);       /* NaN for NULL */
ND_API nd_status nd_lca_conv_set_observer(nd_lca_conv *l, nd_lca_observer_fn fn, void *user);
/* Codes a [batch, F, P, Q] of the images s [batch, C, H, W] (finite), from
 * u = 0, as nd_lca_solve.  Allocates nothing. */
ND_API nd_status nd_lca_conv_solve(nd_lca_conv *l, const float *s, int64_t batch, float *a, nd_lca_result *result);
/* out [batch, C, H, W] = Phi a. */
ND_API nd_status nd_lca_conv_reconstruct(nd_lca_conv *l, const float *a, int64_t batch, float *out);
/* Energy E(a_b) per image (per_row or NULL) and summed (total or NULL). */
ND_API nd_status nd_lca_conv_energy(nd_lca_conv *l, const float *s, const float *a, int64_t batch, double *per_row,
                                    double *total);

/* ========================================= dictionary learning (dict.c) */
/* Learns the dictionary from data by alternating inference and a gradient
 * step on the reconstruction error (Olshausen & Field 1997, "Sparse coding
 * with an overcomplete basis set", Vision Research 37(23): their learning
 * rule dphi_i = eta <a_i (I - sum_j a_j phi_j)>, with the LCA of Rozell et
 * al. 2008 as the inference): per minibatch S of B
 * signals,
 *
 *   A = LCA(S; Phi)                           (nd_lca_solve / nd_lca_conv_solve, from u = 0)
 *   R = S - Phi A                             (the residual)
 *   Phi <- Phi + lr / B * R A^T               (-lr x gradient of 1/2 ||S - Phi A||^2 / B)
 *   each atom <- atom / ||atom||              (renormalised)
 *
 * dense: Phi [m, n], m = rows * cols (the signal seen as a rows x cols
 * image for the PNG grid), columns = atoms.  conv: filters w [F, C, kh, kw]
 * and R A^T is the filter gradient sum_b R_b (*) A_b
 * (nd_conv2d_backward_filter).  Initial atoms N(0, 1), normalised, from
 * Philox stream nd_rng_split(seed, 1); minibatch order from stream 2.
 *
 * Per epoch (nd_lca_dict_stats, from the codes before each update):
 * relative error sum ||R||^2 / sum ||S||^2, mean squared error per element,
 * sparsity = fraction of zero coefficients, mean non-zeros per signal, mean
 * LCA iterations.  Its inference always normalises the atoms itself
 * (lca.normalize is ignored). */
typedef struct nd_lca_dict_config {
  nd_lca_config lca;        /* inference; defaults nd_lca_defaults() with lambda 0.1 */
  bool conv;                /* false: dense (rows, cols, atoms); true: filters (shape) */
  int64_t rows, cols;       /* dense signal as an image (16 x 16) */
  int64_t atoms;            /* dense: n (256) */
  nd_lca_conv_shape shape;  /* conv: image C x H x W and filters F x C x kh x kw (1x32x32, 32 x 8x8, stride 1, pad 0) */
  double lr;                /* dictionary step (0.1) */
  int64_t epochs;           /* (10) */
  int64_t batch;            /* minibatch (100) */
  uint64_t seed;            /* (0) */
} nd_lca_dict_config;

typedef struct nd_lca_dict_stats {
  int64_t signals;      /* signals seen in the epoch */
  double rel_error;     /* sum ||S - Phi A||^2 / sum ||S||^2 */
  double mse;           /* sum ||S - Phi A||^2 / (signals * m) */
  double sparsity;      /* fraction of coefficients that are exactly 0 */
  double l0;            /* mean non-zero coefficients per signal */
  double iterations;    /* mean LCA steps per minibatch */
  double objective;     /* mean LCA energy per signal */
} nd_lca_dict_stats;

typedef struct nd_lca_dict nd_lca_dict;

ND_API nd_lca_dict_config nd_lca_dict_defaults(void);
ND_API nd_status nd_lca_dict_config_check(const nd_lca_dict_config *c);
ND_API nd_status nd_lca_dict_create(const nd_lca_dict_config *c, nd_lca_dict **out);
ND_API void nd_lca_dict_free(nd_lca_dict *d); /* NULL is fine */
ND_API const nd_lca_dict_config *nd_lca_dict_config_of(const nd_lca_dict *d);
/* Signal length m (C H W for conv) the model takes; -1 for NULL. */
ND_API int64_t nd_lca_dict_signal_size(const nd_lca_dict *d);
/* The atoms: dense [m, n] (columns), conv [F, C, kh, kw].  Valid until the
 * next update. */
ND_API const nd_tensor *nd_lca_dict_atoms(const nd_lca_dict *d);
/* Replaces them (same shape, finite; renormalised). */
ND_API nd_status nd_lca_dict_set_atoms(nd_lca_dict *d, const nd_tensor *w);
/* One epoch over x [n, m] (n >= batch); progress may stop it part-way. */
ND_API nd_status nd_lca_dict_epoch(nd_lca_dict *d, const float *x, int64_t n, nd_progress_fn progress, void *user);
/* The figures of codes of x [n, m] (n >= 1, in minibatches of the
 * config's batch) under the current atoms, without learning: a held-out
 * set's reconstruction error and sparsity. */
ND_API nd_status nd_lca_dict_evaluate(nd_lca_dict *d, const float *x, int64_t n, nd_lca_dict_stats *out);
/* The figures of the last completed epoch (zeroed before the first). */
ND_API nd_status nd_lca_dict_stats_of(const nd_lca_dict *d, nd_lca_dict_stats *out);
ND_API nd_status nd_lca_dict_get_state(const nd_lca_dict *d, nd_train_state *out);
ND_API nd_status nd_lca_dict_set_state(nd_lca_dict *d, const nd_train_state *s);
/* model "lca-dict": every config field, the state, the atoms and the
 * partial epoch's sums; load creates the model back. */
ND_API nd_status nd_lca_dict_save(const nd_lca_dict *d, nd_checkpoint *ck);
ND_API nd_status nd_lca_dict_load(const nd_checkpoint *ck, nd_lca_dict **out);
/* The atoms as a PNG grid (at most max_tiles, <= 0: all), each on its own
 * blue-white-red scale: dense atoms as rows x cols tiles, filters as
 * kh x kw tiles (channel 0 only when C > 1). */
ND_API nd_status nd_lca_dict_write_png(const nd_lca_dict *d, const char *path, int max_tiles);

#ifdef __cplusplus
}
#endif
#endif
