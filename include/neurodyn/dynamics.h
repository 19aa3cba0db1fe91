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
 * final residual max |f(t, y)| as every iterative method in neurodyn does.
 *
 * Further down: observers (a chain, a trajectory recorder), nd_steady_solve
 * (integrate to a steady state with absolute/relative tolerances per row),
 * and nd_ad_unroll (the integrators recorded on the autodiff tape, for
 * backpropagation through time).  docs/dynamics.md is the user guide. */
#ifndef NEURODYN_DYNAMICS_H
#define NEURODYN_DYNAMICS_H

#include "neurodyn/core.h"
#include "neurodyn/autodiff.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Why an iterative solve stopped.  Every solver in neurodyn (steady-state
 * integration, fixed-point and Anderson iteration, accelerated state updates,
 * sparse-coding inference) reports this beside its iteration count and final
 * residual, so that a caller or the CLI's JSON line can say why it ended. */
typedef enum nd_stop_reason {
  ND_STOP_TOLERANCE = 0, /* the relative-change / residual test passed */
  ND_STOP_ENERGY = 1,    /* the energy stopped decreasing by more than the tolerance */
  ND_STOP_MAX_ITER = 2,  /* the iteration (or step, or time) budget ran out */
  ND_STOP_OBSERVER = 3,  /* an observer or progress callback asked to stop */
  ND_STOP_DIVERGED = 4,  /* the state or residual became non-finite */
  ND_STOP_COUNT_
} nd_stop_reason;

/* "tolerance", "energy", "max-iter", "observer", "diverged" (NULL for an
 * unknown value). */
ND_API const char *nd_stop_reason_name(nd_stop_reason r);

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
/* The kind and capacity (ND_INTEGRATOR_COUNT_ and 0 for NULL). */
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


/* ------------------------------------------------------------ observers */
/* Observers compose: nd_observer_chain calls every item in order (all of
 * them, even after one asks to stop) and asks to stop if any did.  Pass it
 * with `user` = an nd_observer_list (which must outlive the run). */
typedef struct nd_observer {
  nd_observer_fn fn;
  void *user;
} nd_observer;

typedef struct nd_observer_list {
  const nd_observer *items;
  int n;
} nd_observer_list;

ND_API int nd_observer_chain(int64_t step, double t, const float *y, void *user);

/* Trajectory recorder: an observer that copies every `every`-th state
 * (steps 0, every, 2 every, ...; step 0 is the initial state) into a caller
 * buffer of `capacity` frames of `dim` floats, frame k at states + k*dim.
 * Frames beyond the capacity are counted in `dropped` and not written; with
 * stop_when_full set the recorder asks the integration to stop once the
 * buffer is full.  Optional times[capacity] / steps[capacity] receive each
 * frame's t and step.  Allocates nothing.
 *
 *   float buf[11 * 2]; double ts[11];
 *   nd_trajectory tr;
 *   nd_trajectory_init(&tr, buf, ts, 2, 11, 10);      // every 10th of 100 steps
 *   nd_integrate_opts o = {nd_trajectory_observe, &tr, 0, 0};
 *   nd_integrate(it, &sys, 0, 1, 0.01, y, &o, NULL);  // tr.count == 11 */
typedef struct nd_trajectory {
  float *states;     /* [capacity, dim] caller buffer */
  double *times;     /* [capacity] or NULL */
  int64_t *steps;    /* [capacity] or NULL (set after init) */
  int64_t dim;       /* floats per frame (may be less than the system's dim: a prefix is recorded) */
  int64_t capacity;  /* frames the buffers hold */
  int64_t every;     /* record steps that are multiples of this (>= 1) */
  int64_t count;     /* frames recorded so far */
  int64_t dropped;   /* frames that did not fit */
  bool stop_when_full;
  const int64_t *indices; /* [dim] or NULL (set after init): record y[indices[j]], the chosen states, instead
                             of the prefix y[0..dim); each must be in 0..the system's dim - 1 (the recorder
                             cannot check: it never sees the system) */
} nd_trajectory;

/* Sets up a recorder (count = dropped = 0, steps = NULL, stop_when_full =
 * false).  ND_ERR_INVALID_ARG for NULL buffers, dim < 1, capacity < 0 or
 * every < 1. */
ND_API nd_status nd_trajectory_init(nd_trajectory *tr, float *states, double *times, int64_t dim, int64_t capacity,
                                    int64_t every);
/* The observer (user = the nd_trajectory). */
ND_API int nd_trajectory_observe(int64_t step, double t, const float *y, void *user);
/* Writes the recorded frames as a float32 NPY array of shape [count, dim]
 * to path and, when times_path is not NULL, their times as float64 [count]
 * (tr->times must then be set) and, when steps_path is not NULL, their step
 * numbers as float64 [count] (tr->steps must be set).  Each file is written
 * atomically (a temporary file renamed into place: on failure nothing is
 * left half-written); the arguments are all checked before any is written. */
ND_API nd_status nd_trajectory_write_npy(const nd_trajectory *tr, const char *path, const char *times_path,
                                         const char *steps_path);

/* --------------------------------------------------------- steady state */
/* Integrates dy/dt = f(t, y) from (t0, y0) until the state is stationary or a
 * maximum is reached, and reports the iterations used and the final residual.
 *
 * Residual (metric), measured per row of the state viewed as [rows, dim/rows]
 * (rows = 0 or 1: the whole state is one row; a batched model passes its
 * batch so that each sample is tested against its own scale):
 *   ND_STEADY_RATE    m_b = max_i |f_i(t, y)| over row b, evaluated before each
 *                     step (free: it is the step's first stage k1).  A state
 *                     that passes is returned without stepping.
 *   ND_STEADY_CHANGE  m_b = max_i |y_i(after) - y_i(before)| of the step just
 *                     taken (not divided by dt; for Euler it is dt times the
 *                     rate at the previous state).
 * Converged when every row has m_b <= tol + rtol * max_i |y_b,i|; a tol or
 * rtol <= 0 drops that term, and with both <= 0 there is no tolerance stop
 * (the run goes to the maximum and converged stays false).  The reported
 * residual is max_b m_b of the state returned (ND_STEADY_RATE: one extra
 * f-call when the run ends without passing the test; ND_STEADY_CHANGE: the
 * last step's change, 0 if no step was taken).
 *
 * Stops on the first of: tolerance passed; t reaches t0 + t_max (steps of dt,
 * the last one shortened to land on it exactly, as nd_integrate); max_steps
 * steps; the observer asks to stop.  Not converging is reported
 * (converged = false), not an error.  A non-finite residual stops the run at
 * once with ND_ERR_NUMERIC (result filled in); so does a non-finite final
 * state.  A failing rhs aborts with its status.
 *
 * Same as nd_integrate: with ND_STEADY_RATE, rtol 0, t0 0 the states, step
 * counts, times and residuals are bit-identical to
 * nd_integrate(it, sys, 0, t_max, dt, y, &(nd_integrate_opts){.tol = tol,
 * .max_steps = max_steps}, &r) on an integrator of the same kind (they differ
 * only when the residual turns non-finite: nd_integrate marches on to t_max
 * before it reports ND_ERR_NUMERIC).
 *
 *   nd_steady *ss;  nd_steady_create(ND_INTEGRATOR_RK4, batch * units, &ss);   // once
 *   nd_steady_opts o = nd_steady_defaults();
 *   o.dt = 0.05; o.t_max = 20; o.tol = 1e-4; o.rows = batch;
 *   nd_steady_result r;
 *   nd_status s = nd_steady_solve(ss, &sys, h, &o, &r);   // r.steps, r.residual, r.converged
 *   nd_steady_free(ss); */
typedef enum nd_steady_metric {
  ND_STEADY_RATE = 0,   /* max |f(t, y)| before the step (default) */
  ND_STEADY_CHANGE = 1, /* max |y_{n+1} - y_n| of the step */
} nd_steady_metric;

typedef struct nd_steady_opts {
  double t0;            /* start time (0) */
  double dt;            /* step, finite and > 0 (0.01) */
  double t_max;         /* longest time span, > 0; INFINITY: max_steps alone bounds the run (100) */
  int64_t max_steps;    /* > 0: at most this many steps; <= 0: no cap besides t_max (0) */
  double tol;           /* absolute tolerance on the metric; <= 0: none (1e-4) */
  double rtol;          /* relative tolerance, times max |y| of the row; <= 0: none (0) */
  nd_steady_metric metric; /* (ND_STEADY_RATE) */
  int64_t rows;         /* state viewed as [rows, dim/rows] for the test; 0 or 1: one row (0) */
  double *row_residual; /* NULL or [rows]: receives each row's final metric (NULL) */
  nd_observer_fn observer; /* called at step 0 and after every step (NULL) */
  void *observer_user;
} nd_steady_opts;

typedef struct nd_steady_result {
  int64_t steps;      /* steps taken */
  double t;           /* time reached */
  double residual;    /* max over rows of the metric at the state returned */
  int64_t rhs_calls;  /* right-hand-side evaluations */
  bool converged;     /* the tolerance test passed */
  bool stopped;       /* the observer asked to stop */
} nd_steady_result;

typedef struct nd_steady nd_steady;

/* The defaults in parentheses above. */
ND_API nd_steady_opts nd_steady_defaults(void);
/* "rate", "change" (NULL for an unknown metric). */
ND_API const char *nd_steady_metric_name(nd_steady_metric m);
/* Workspace for states of up to dim floats with the given integrator: its
 * stage buffers and one state copy, allocated once. */
ND_API nd_status nd_steady_create(nd_integrator_kind kind, int64_t dim, nd_steady **out);
ND_API void nd_steady_free(nd_steady *s); /* NULL is fine */
/* The workspace's integrator (for single steps with nd_integrator_step). */
ND_API nd_integrator *nd_steady_integrator(nd_steady *s);
ND_API int64_t nd_steady_dim(const nd_steady *s);
/* Integrates y in place (see above); result may be NULL.  Allocates nothing. */
ND_API nd_status nd_steady_solve(nd_steady *s, const nd_system *sys, float *y, const nd_steady_opts *opts,
                                 nd_steady_result *result);


/* ------------------------------------------------ adaptive Dormand-Prince */
/* Dormand & Prince, "A family of embedded Runge-Kutta formulae", J. Comput.
 * Appl. Math. 6(1):19-26, 1980 (the tableau RK5(4)7M, Table 2): seven stages,
 * a 5th-order solution y1 and an embedded 4th-order one for the error
 * estimate, first-same-as-last (the 7th stage is f at the new state, which is
 * the next step's 1st stage: 6 f-calls per accepted step).  The step size is
 * chosen as in Hairer, Norsett & Wanner, Solving ODEs I, 2nd ed., 1993,
 * Sec. II.4, Eqs. (4.10)-(4.13):
 *
 *   sc_i = atol + rtol max(|y0_i|, |y1_i|),  err = sqrt(1/n sum_i ((y1_i - y1^_i)/sc_i)^2)
 *   accept when err <= 1;  h_new = h min(fac_max, max(fac_min, safety err^(-1/5)))
 *
 * with fac_max = 1 for the step after a rejection, and the starting step of
 * II.4 ("Starting Step Size", p. 169) when h0 <= 0.  Dense output (Hairer's
 * DOPRI5 continuous extension of order 4, after Shampine 1986) is available
 * for the last accepted step when the workspace was created with dense = true.
 * Integrating allocates nothing.
 *
 *   nd_dopri *dp;  nd_dopri_create(dim, false, &dp);             // once
 *   nd_dopri_opts o = nd_dopri_defaults();  o.rtol = 1e-5; o.atol = 1e-8;
 *   nd_dopri_result r;
 *   nd_dopri_integrate(dp, &sys, 0.0, 10.0, y, &o, &r);          // r.steps, r.rejected, r.stop
 *   nd_dopri_free(dp); */
typedef struct nd_dopri nd_dopri;

typedef struct nd_dopri_opts {
  double rtol;       /* relative tolerance, >= 0 (1e-3) */
  double atol;       /* absolute tolerance, >= 0; rtol and atol not both 0 (1e-6) */
  double h0;         /* first step size; <= 0: chosen automatically (0) */
  double h_max;      /* largest |h|; <= 0: |t1 - t0| (0) */
  double h_min;      /* smallest |h| before giving up with ND_ERR_NUMERIC; <= 0: only float64 underflow of t (0) */
  double safety;     /* in (0, 1) (0.9) */
  double fac_min;    /* smallest step-size ratio, in (0, 1] (0.2) */
  double fac_max;    /* largest step-size ratio, >= 1 (10) */
  int64_t max_steps; /* attempted steps (accepted + rejected); <= 0: no cap (100000) */
  double tol;        /* > 0: stop once max|f(t, y)| <= tol (a steady state, tested for free on the FSAL stage); <= 0: never (0) */
  nd_observer_fn observer; /* called at step 0 and after every accepted step (NULL) */
  void *observer_user;
} nd_dopri_opts;

typedef struct nd_dopri_result {
  int64_t steps;      /* accepted steps */
  int64_t rejected;   /* rejected steps (err > 1, or a non-finite stage) */
  int64_t rhs_calls;  /* right-hand-side evaluations */
  double t;           /* time reached (t1 unless stopped early) */
  double h;           /* the step size the controller proposes next */
  double err;         /* scaled error norm of the last accepted step */
  double residual;    /* max |f(t, y)| at the state returned */
  nd_stop_reason stop; /* ND_STOP_MAX_ITER: t1 reached (t == t1) or max_steps spent (t != t1);
                          ND_STOP_TOLERANCE: max|f| <= tol; ND_STOP_OBSERVER; ND_STOP_DIVERGED (with ND_ERR_NUMERIC) */
} nd_dopri_result;

/* The defaults in parentheses above (those of MATLAB's ode45 and SciPy's RK45 for rtol, atol). */
ND_API nd_dopri_opts nd_dopri_defaults(void);
/* Workspace for states of up to dim floats (dim >= 1): 9 stage/state buffers,
 * and 5 more for the dense output when dense is true. */
ND_API nd_status nd_dopri_create(int64_t dim, bool dense, nd_dopri **out);
ND_API void nd_dopri_free(nd_dopri *dp); /* NULL is fine */
ND_API int64_t nd_dopri_dim(const nd_dopri *dp);
/* One step of size h (finite, non-zero) from (t, y), in place: y <- y1 (the
 * 5th-order solution), no step-size control.  err (may be NULL) receives the
 * scaled error norm above with the given rtol, atol (>= 0, not both 0).
 * 7 f-calls.  Allocates nothing. */
ND_API nd_status nd_dopri_step(nd_dopri *dp, const nd_system *sys, double t, double h, float *y, double rtol,
                               double atol, double *err);
/* Integrates y in place from t0 to t1 (t1 < t0 integrates backwards) with
 * adaptive steps; opts (NULL: defaults) and result may be NULL.  ND_ERR_NUMERIC
 * when the step size falls below h_min (or t + h == t), or the state returned
 * is not finite; result is filled in either way.  Allocates nothing. */
ND_API nd_status nd_dopri_integrate(nd_dopri *dp, const nd_system *sys, double t0, double t1, float *y,
                                    const nd_dopri_opts *opts, nd_dopri_result *result);
/* Dense output: y(t) for t within the last accepted step of
 * nd_dopri_integrate (call it from the observer), from Hairer's continuous
 * extension of order 4.  out has the system's dim floats.  ND_ERR_INVALID_ARG
 * without dense buffers, before any step, or for t outside the step. */
ND_API nd_status nd_dopri_dense(const nd_dopri *dp, double t, float *out);

/* ---------------------------------------- fixed point and Anderson mixing */
/* Solves x = g(x) on a flat float32 state of `dim` numbers by fixed-point
 * iteration, plain or Anderson-accelerated (D. G. Anderson, "Iterative
 * procedures for nonlinear integral equations", J. ACM 12(4):547-560, 1965;
 * in the form of H. F. Walker & P. Ni, "Anderson acceleration for
 * fixed-point iterations", SIAM J. Numer. Anal. 49(4):1715-1735, 2011).
 * With f_k = g(x_k) - x_k, history depth m_k = min(m, k) and the differences
 * dx_i = x_{i+1} - x_i, df_i = f_{i+1} - f_i of the last m_k iterates:
 *
 *   gamma_k = argmin_gamma ||f_k - dF_k gamma||^2 + lambda ||gamma||^2
 *           = (dF_k^T dF_k + lambda I)^{-1} dF_k^T f_k                (LAPACK dpotrf/dpotrs)
 *   x_{k+1} = x_k + beta f_k - (dX_k + beta dF_k) gamma_k
 *
 * (m = 0, or an empty history: the damped iteration x_{k+1} = x_k + beta f_k;
 * beta = 1 is x_{k+1} = g(x_k)).  lambda = reg * trace(dF^T dF) / m_k
 * (Tikhonov).  Safeguards: the history is cleared (a restart) when the
 * regularised normal matrix is not positive definite or its condition number
 * exceeds cond_max (LAPACK dpocon), or when ||f_k|| exceeds restart_growth
 * times the smallest ||f|| since the last restart.
 *
 * Batched: the state is viewed as [rows, dim/rows] and each row is its own
 * problem (its own gamma, restarts and tolerance test), for models that
 * solve a batch of independent fixed points with one g call.  Stops when
 * every row has ||x_{k+1} - x_k||_2 <= tol ||x_k||_2 + atol, or after
 * max_iter evaluations of g, or when the observer asks to.
 *
 *   nd_fixed_point *fp;  nd_fixed_point_create(dim, 5, 1, &fp);      // once: dim, m_max, rows_max
 *   nd_fixed_point_opts o = nd_fixed_point_defaults();                 // m = 5, beta = 1, tol = 1e-6
 *   nd_map map = {dim, my_g, model};
 *   nd_fixed_point_result r;
 *   nd_fixed_point_solve(fp, &map, x, &o, &r);   // r.iterations, r.residual, r.stop
 *   nd_fixed_point_free(fp); */

/* The map: writes gx[0..dim) = g(x).  gx never aliases x.  A failing status
 * aborts the solve and is passed back. */
typedef nd_status (*nd_map_fn)(const float *x, float *gx, void *user);

typedef struct nd_map {
  int64_t dim;  /* length of the flat state */
  nd_map_fn g;  /* x -> g(x) */
  void *user;   /* passed to g untouched */
} nd_map;

typedef struct nd_fixed_point_opts {
  int m;                 /* Anderson memory, 0..the workspace's m_max; 0: plain iteration (5) */
  double beta;           /* damping (mixing), in (0, 1] (1) */
  double tol;            /* relative change tolerance, >= 0 (1e-6) */
  double atol;           /* absolute change tolerance, >= 0; tol and atol not both 0 (0) */
  int64_t max_iter;      /* evaluations of g, >= 1 (1000) */
  double reg;            /* Tikhonov factor, >= 0 (1e-10) */
  double cond_max;       /* restart above this condition number (1-norm estimate), > 1; INFINITY: never (1e8) */
  double restart_growth; /* restart when ||f_k|| > this x the smallest since the last restart, > 1; INFINITY: never (1e4) */
  int64_t rows;          /* state viewed as [rows, dim/rows], 1..rows_max; 0: 1 (0) */
  nd_observer_fn observer; /* called after every iteration with (k, k, x_k) (NULL) */
  void *observer_user;
} nd_fixed_point_opts;

typedef struct nd_fixed_point_result {
  int64_t iterations; /* evaluations of g */
  double residual;    /* max over rows of ||g(x) - x||_2 at the last iterate g was evaluated at */
  double change;      /* max over rows of ||x_{k+1} - x_k||_2 / ||x_k||_2 of the last update */
  int64_t restarts;   /* history restarts, summed over rows */
  nd_stop_reason stop; /* ND_STOP_TOLERANCE, ND_STOP_MAX_ITER, ND_STOP_OBSERVER or ND_STOP_DIVERGED */
} nd_fixed_point_result;

typedef struct nd_fixed_point nd_fixed_point;

/* The defaults in parentheses above. */
ND_API nd_fixed_point_opts nd_fixed_point_defaults(void);
/* Workspace for states of up to dim floats, memory up to m_max (0..64) and
 * up to rows_max (>= 1) rows: 3 + 2 m_max buffers of dim floats and an
 * m_max x m_max Gram matrix per row. */
ND_API nd_status nd_fixed_point_create(int64_t dim, int m_max, int64_t rows_max, nd_fixed_point **out);
ND_API void nd_fixed_point_free(nd_fixed_point *fp); /* NULL is fine */
/* Solves in place from x (the initial guess); result may be NULL.
 * map->dim must be in 1..dim and a multiple of rows.  ND_ERR_NUMERIC (stop
 * ND_STOP_DIVERGED, result filled in) when g(x) or the iterate is not finite,
 * or when the least-squares system is singular with the safeguards turned
 * off (reg = 0, cond_max = INFINITY).  Allocates nothing. */
ND_API nd_status nd_fixed_point_solve(nd_fixed_point *fp, const nd_map *map, float *x, const nd_fixed_point_opts *opts,
                                      nd_fixed_point_result *result);

/* ------------------------------------------------------ Broyden's method */
/* Root of r(x) = g(x) - x by Broyden's "good" method with a limited-memory
 * inverse Jacobian (C. G. Broyden 1965; the form of Bai et al.'s DEQ code):
 *   H_0 = -I,  dx = -H r,  x <- x + dx,  dr = r(x_new) - r(x)
 *   H <- H + (dx - H dr) (dx^T H) / (dx^T H dr)      (Sherman-Morrison)
 * H is kept as -I + sum_i u_i v_i^T, at most m pairs (full: restart from -I,
 * counted in restarts).  Batched like nd_fixed_point_solve: [rows, dim/rows],
 * each row its own H and tolerance test (||dx|| <= tol ||x|| + atol).  The
 * opts and result are nd_fixed_point's (m the memory, 1..64; beta, reg,
 * cond_max, restart_growth unused). */
typedef struct nd_broyden nd_broyden;
/* Workspace: 4 + 2 m_max buffers of dim floats. */
ND_API nd_status nd_broyden_create(int64_t dim, int m_max, int64_t rows_max, nd_broyden **out);
ND_API void nd_broyden_free(nd_broyden *b); /* NULL is fine */
ND_API nd_status nd_broyden_solve(nd_broyden *b, const nd_map *map, float *x, const nd_fixed_point_opts *opts,
                                  nd_fixed_point_result *result);

/* ------------------------------------------------- differentiable unroll */
/* Backpropagation through time through the fixed-step integrators: the
 * right-hand side is written with tape ops (nd_ad_*), and nd_ad_unroll
 * records `steps` steps of explicit Euler or classic RK4 (the formulas at the
 * top of this header, in the same float32 order as nd_integrator_step) on
 * the tape.  nd_tape_backward from any function of the returned state (or of
 * the recorded states) then gives gradients with respect to the initial state
 * and every parameter f used (discretise-then-differentiate: the exact
 * gradient of the discrete scheme, not of the ODE).
 *
 * Memory grows linearly with steps: each Euler step records f's nodes and one
 * node, each RK4 step f's nodes four times and four nodes.  Time t is passed
 * to f for time-dependent systems (t_n = t0 + n dt; RK4 stages at t + dt/2 and
 * t + dt).
 *
 *   typedef struct { nd_var *W, *b; } rnn;             // dy/dt = -y + tanh(y W^T + b)
 *   static nd_var *rnn_rhs(nd_tape *tp, double t, nd_var *y, void *user) {
 *     rnn *p = user;
 *     return nd_ad_sub(tp, nd_ad_tanh(tp, nd_ad_linear(tp, y, p->W, p->b)), y);
 *   }
 *   rnn p = {nd_tape_param(tp, &W, &dW), nd_tape_param(tp, &b, &db)};
 *   nd_var *yT = nd_ad_unroll(tp, ND_INTEGRATOR_RK4, rnn_rhs, &p, nd_tape_constant(tp, &y0), 0.0, 0.1, 50, NULL);
 *   nd_tape_backward(tp, nd_ad_mse(tp, yT, target));  // dW, db += dL/dW, dL/db
 */

/* f(t, y) as a var of y's shape built from tape ops on tp (parameters come in
 * through user).  Return NULL on failure (an op's sticky error, or one set
 * with nd_tape_set_error). */
typedef nd_var *(*nd_ad_rhs_fn)(nd_tape *tp, double t, nd_var *y, void *user);

/* y_T after `steps` (>= 0) steps of dt (finite, non-zero) from (t0, y0).
 * states: NULL, or an array of steps + 1 receiving y_0 = y0, y_1, ..., y_T
 * (e.g. for a loss over the trajectory).  NULL on failure with the tape's
 * sticky error set: a bad kind, dt or steps, f returning NULL, or f returning
 * a shape other than y's (ND_ERR_SHAPE). */
ND_API nd_var *nd_ad_unroll(nd_tape *tp, nd_integrator_kind kind, nd_ad_rhs_fn f, void *user, nd_var *y0, double t0,
                            double dt, int64_t steps, nd_var **states);
/* One step from (t, y): the building block of nd_ad_unroll for loops that do
 * more between steps (inputs that change, truncated BPTT, losses per step). */
ND_API nd_var *nd_ad_unroll_step(nd_tape *tp, nd_integrator_kind kind, nd_ad_rhs_fn f, void *user, nd_var *y,
                                 double t, double dt);

#ifdef __cplusplus
}
#endif
#endif
