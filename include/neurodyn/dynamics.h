/* Dynamics: explicit time integrators shared by every continuous-time model.
 *
 * A system is an autonomous or time-dependent ODE  dy/dt = f(t, y)  on a flat
 * float32 state of `dim` numbers.  Batched models lay the batch out in that
 * one buffer (e.g. [batch, units] row-major), so one right-hand-side call
 * advances every sample: f is where the model does its GEMMs.  Time is
 * float64 so that long runs do not lose resolution.
 *
 * An integrator object owns the stage buffers its method needs, sized once by
 * nd_integrator_create; stepping and integrating never allocate.
 *
 *   ND_INTEGRATOR_EULER  y <- y + dt f(t, y)                              order 1, 1 f-call/step
 *   ND_INTEGRATOR_RK4    classic Runge-Kutta (Kutta 1901):                order 4, 4 f-calls/step
 *                        k1 = f(t, y), k2 = f(t+dt/2, y+dt/2 k1),
 *                        k3 = f(t+dt/2, y+dt/2 k2), k4 = f(t+dt, y+dt k3),
 *                        y <- y + dt/6 (k1 + 2 k2 + 2 k3 + k4)
 *
 * nd_integrate marches from t0 to t1 with step dt (the last step is shortened
 * to land on t1 exactly), optionally stopping early when the state is
 * stationary (max |f(t, y)| <= tol), and reports the steps taken and the
 * final residual max |f(t, y)| as every iterative method in neurodyn does. */
#ifndef NEURODYN_DYNAMICS_H
#define NEURODYN_DYNAMICS_H

#include "neurodyn/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Right-hand side: writes dy[0..dim) = f(t, y).  dy never aliases y.  Return
 * ND_OK, or a failing status (with nd__error-style message) to abort the
 * integration; that status is passed back to the caller. */
typedef nd_status (*nd_rhs_fn)(double t, const float *y, float *dy, void *user);

typedef struct nd_system {
  int64_t dim;     /* length of the flat state (batch * units for batched models) */
  nd_rhs_fn rhs;   /* f(t, y) */
  void *user;      /* passed to rhs untouched */
} nd_system;

typedef enum nd_integrator_kind {
  ND_INTEGRATOR_EULER = 0, /* explicit (forward) Euler, order 1 */
  ND_INTEGRATOR_RK4 = 1,   /* classic fourth-order Runge-Kutta */
  ND_INTEGRATOR_COUNT_
} nd_integrator_kind;

/* "euler", "rk4" (NULL for an unknown kind). */
ND_API const char *nd_integrator_name(nd_integrator_kind kind);
/* ND_OK and *out set for "euler" / "rk4"; ND_ERR_INVALID_ARG otherwise. */
ND_API nd_status nd_integrator_parse(const char *name, nd_integrator_kind *out);
/* Order of accuracy (1 or 4; 0 for an unknown kind). */
ND_API int nd_integrator_order(nd_integrator_kind kind);
/* Right-hand-side evaluations per step (1 or 4; 0 for an unknown kind). */
ND_API int nd_integrator_stages(nd_integrator_kind kind);

typedef struct nd_integrator nd_integrator;

/* Allocates the stage buffers for states of up to `dim` floats (dim >= 1):
 * a system of any dim in 1..dim can be stepped (a batched model sizes the
 * integrator for its largest batch and runs a short last batch as is). */
ND_API nd_status nd_integrator_create(nd_integrator_kind kind, int64_t dim, nd_integrator **out);
ND_API void nd_integrator_free(nd_integrator *it); /* NULL is fine */
ND_API nd_integrator_kind nd_integrator_kind_of(const nd_integrator *it);
ND_API int64_t nd_integrator_dim(const nd_integrator *it);

/* One step from (t, y) to (t + dt, y), in place.  sys->dim must be in
 * 1..the integrator's dim (ND_ERR_SHAPE otherwise); dt may be negative (backward in
 * time) but must be finite and non-zero.  Allocates nothing. */
ND_API nd_status nd_integrator_step(nd_integrator *it, const nd_system *sys, double t, double dt, float *y);

/* Observer: called with step = 0 at (t0, y0) before the first step and after
 * every step with the step count, the new time and state.  Return 0 to go
 * on, anything else to stop the integration there (not an error). */
typedef int (*nd_observer_fn)(int64_t step, double t, const float *y, void *user);

typedef struct nd_integrate_opts {
  nd_observer_fn observer; /* NULL: none */
  void *observer_user;
  double tol;              /* > 0: stop as soon as max|f(t, y)| <= tol (steady state); <= 0: never */
  int64_t max_steps;       /* > 0: stop after this many steps; <= 0: no cap besides t1 */
} nd_integrate_opts;

typedef struct nd_integrate_result {
  int64_t steps;    /* steps taken */
  double t;         /* time reached */
  double residual;  /* max |f(t, y)| at the state returned (float64) */
  bool converged;   /* tol > 0 and residual <= tol */
  bool stopped;     /* the observer asked to stop */
} nd_integrate_result;

/* Integrates y in place from t0 to t1 with steps of |dt| (signed towards t1;
 * the last step is shortened to end on t1).  opts and result may be NULL.
 * The residual costs at most one extra f-call (none when the tolerance test
 * stops the run: k1 of the next step is the residual).  ND_ERR_NUMERIC if
 * the final state or residual is not finite.  Allocates nothing. */
ND_API nd_status nd_integrate(nd_integrator *it, const nd_system *sys, double t0, double t1, double dt, float *y,
                       const nd_integrate_opts *opts, nd_integrate_result *result);

#ifdef __cplusplus
}
#endif
#endif
