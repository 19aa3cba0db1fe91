/* Optimizer-accelerated state updates: the step rules of first-order
 * optimizers applied to the state of a dynamical system instead of to
 * parameters.  Any model that exposes a state x and its update direction
 * d = dx/dt (for a gradient flow, d = -grad E) can march with them in place
 * of explicit Euler; sparse-coding inference (lca.h) is the first user.
 *
 * The state is viewed as [rows, cols] (a batch of `rows` independent
 * samples): per-row step counters keep rows independent, so a batch
 * advances exactly as its rows would one at a time (needed for adaptive
 * restart and for rows that stop early).  With eta the step, t the row's step
 * count from 1, every update is element-wise:
 *
 *   EULER      x += eta d                                        (explicit Euler)
 *   MOMENTUM   v = mu v + d;  x += eta v                         (heavy ball, Polyak 1964)
 *   NESTEROV   v = mu v + d;  x += eta (d + mu v)                (Nesterov 1983 in the form of
 *                                                                 Sutskever et al. 2013, Eq. 3-4,
 *                                                                 with d taken at the stored x)
 *   RMSPROP    r = rho r + (1-rho) d^2;  x += eta d / (sqrt(r) + eps)
 *                                                                (Tieleman & Hinton 2012, Lecture 6e)
 *   ADAM       m = b1 m + (1-b1) d;  r = b2 r + (1-b2) d^2;
 *              x += eta (m / (1-b1^t)) / (sqrt(r / (1-b2^t)) + eps)
 *                                                                (Kingma & Ba 2015, Algorithm 1)
 *   UPSTREAM_ADAM     m = b1 m + (1-b1) d;  r = b2 r + (1-b2) d^2;
 *                     x += (eta / b1) m / (sqrt(r / b2) + 2.220446049250313e-16)
 *   UPSTREAM_RMSPROP  r = b1 r + (1-b1) d^2;  x += eta / (r + eps) d
 *       (NeurodynamicalSystems.jl, commit 8333fac, src/NeurodynamicalSystems.jl,
 *       `Adam` and `Rmsprop`: the "bias correction" divides by the constants b1,
 *       b2 instead of 1-b^t, Adam's eps argument is unused (Julia's eps() is
 *       added), RMSProp divides by r, not sqrt(r), and decays with b1.
 *       Upstream defaults: eta 0.01, b1 0.65, b2 0.75, eps = eps() = 2.2e-16.)
 *
 * Momentum schedule (MOMENTUM and NESTEROV): ND_ACCEL_MU_CONSTANT uses mu;
 * ND_ACCEL_MU_FISTA uses mu_t = (s_t - 1) / s_{t+1} with s_1 = 1,
 * s_{t+1} = (1 + sqrt(1 + 4 s_t^2)) / 2 (Beck & Teboulle 2009, FISTA Eq. 4.2-4.3),
 * which rises from 0 towards 1.  Adaptive restart (O'Donoghue & Candes 2015,
 * "gradient" scheme, Sec. 3.2): when a row's sum_j d_j v_j < 0 before its
 * step (the velocity points against the new direction) its velocity is
 * zeroed and its schedule restarts at t = 1.
 *
 * The object owns the moment buffers (sized once, for up to rows*cols
 * numbers); stepping allocates nothing.
 *
 *   nd_accel_config c = nd_accel_defaults(ND_ACCEL_NESTEROV);
 *   nd_accel *acc;  nd_accel_create(&c, batch, units, &acc);
 *   loop { direction(x, d); nd_accel_step(acc, x, d, batch, units, NULL); }
 *   nd_accel_free(acc); */
#ifndef NEURODYN_ACCEL_H
#define NEURODYN_ACCEL_H

#include "neurodyn/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nd_accel_kind {
  ND_ACCEL_EULER = 0,
  ND_ACCEL_MOMENTUM = 1,
  ND_ACCEL_NESTEROV = 2,
  ND_ACCEL_RMSPROP = 3,
  ND_ACCEL_ADAM = 4,
  ND_ACCEL_UPSTREAM_ADAM = 5,
  ND_ACCEL_UPSTREAM_RMSPROP = 6,
  ND_ACCEL_KIND_COUNT_
} nd_accel_kind;

typedef enum nd_accel_schedule {
  ND_ACCEL_MU_CONSTANT = 0, /* mu every step */
  ND_ACCEL_MU_FISTA = 1,    /* mu_t = (s_t - 1) / s_{t+1} (Beck & Teboulle 2009) */
  ND_ACCEL_SCHEDULE_COUNT_
} nd_accel_schedule;

typedef struct nd_accel_config {
  nd_accel_kind kind;
  double eta;        /* step (dt/tau for a time constant tau), finite and > 0 */
  double mu;         /* momentum coefficient in [0, 1) (MOMENTUM, NESTEROV with MU_CONSTANT) */
  nd_accel_schedule schedule; /* MOMENTUM, NESTEROV */
  bool restart;      /* adaptive restart (MOMENTUM, NESTEROV) */
  double beta1;      /* [0, 1): ADAM, UPSTREAM_ADAM, UPSTREAM_RMSPROP (its decay) */
  double beta2;      /* [0, 1): ADAM, UPSTREAM_ADAM; RMSPROP's decay rho */
  double eps;        /* >= 0 (> 0 for UPSTREAM_RMSPROP): RMSPROP, ADAM, UPSTREAM_RMSPROP */
} nd_accel_config;

/* Defaults per kind (eta is the only field every kind uses):
 *   EULER       eta 0.01
 *   MOMENTUM    eta 0.01, mu 0.9, constant, no restart
 *   NESTEROV    eta 0.01, mu 0.9, constant, no restart
 *   RMSPROP     eta 0.01, beta2 (rho) 0.99, eps 1e-8      (PyTorch's rho and eps)
 *   ADAM        eta 0.01, beta1 0.9, beta2 0.999, eps 1e-8 (Kingma & Ba's)
 *   UPSTREAM_ADAM     eta 0.01, beta1 0.65, beta2 0.75    (NeurodynamicalSystems.jl Lca defaults)
 *   UPSTREAM_RMSPROP  eta 0.01, beta1 0.65, eps 2.220446049250313e-16
 * An unknown kind gives EULER's. */
ND_API nd_accel_config nd_accel_defaults(nd_accel_kind kind);
/* "euler", "momentum", "nesterov", "rmsprop", "adam", "upstream-adam",
 * "upstream-rmsprop" (NULL for an unknown kind). */
ND_API const char *nd_accel_name(nd_accel_kind kind);
/* The kind named (the names above); ND_ERR_INVALID_ARG naming the choices otherwise. */
ND_API nd_status nd_accel_parse(const char *name, nd_accel_kind *out);
/* "constant", "fista" (NULL for an unknown value) and its parser. */
ND_API const char *nd_accel_schedule_name(nd_accel_schedule s);
ND_API nd_status nd_accel_schedule_parse(const char *name, nd_accel_schedule *out);
/* ND_ERR_INVALID_ARG naming the field for a value out of the ranges above. */
ND_API nd_status nd_accel_config_check(const nd_accel_config *c);

typedef struct nd_accel nd_accel;

/* Moment buffers for states of up to max_rows x cols (both >= 1), zeroed. */
ND_API nd_status nd_accel_create(const nd_accel_config *c, int64_t max_rows, int64_t cols, nd_accel **out);
ND_API void nd_accel_free(nd_accel *acc); /* NULL is fine */
/* Zeroes the moments and the step counters of every row (a new solve). */
ND_API nd_status nd_accel_reset(nd_accel *acc);
/* The configuration it was created with (NULL for NULL). */
ND_API const nd_accel_config *nd_accel_config_of(const nd_accel *acc);

/* One step of every row r with active == NULL or active[r] != 0: x[r] is
 * moved along d[r] by the rule above (x, d: [rows, cols], cols equal to the
 * created cols, rows in 1..max_rows; x and d must not overlap).  Rows not
 * active are left as they are (state, moments and counters).  Allocates
 * nothing; OpenMP over rows. */
ND_API nd_status nd_accel_step(nd_accel *acc, float *x, const float *d, int64_t rows, int64_t cols,
                               const unsigned char *active);

#ifdef __cplusplus
}
#endif
#endif
