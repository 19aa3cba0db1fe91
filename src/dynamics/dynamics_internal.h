/* Private helpers shared by the files in src/dynamics. */
#ifndef ND_DYNAMICS_INTERNAL_H
#define ND_DYNAMICS_INTERNAL_H

#include "core/internal.h"
#include "neurodyn/dynamics.h"

/* The integrator's k1 buffer ([dim] capacity): the caller writes f(t, y)
 * there before nd__integrator_finish_step. */
float *nd__integrator_k1(nd_integrator *it);
/* Completes one step of size h from (t, y) whose k1 = f(t, y) is already in
 * nd__integrator_k1(it) (Euler: y += h k1; RK4: three more f-calls).  The k1
 * buffer is overwritten (RK4 keeps its running stage sum there). */
nd_status nd__integrator_finish_step(nd_integrator *it, const nd_system *sys, double t, double h, float *y);
/* The checks every solver makes of (workspace, system, state): none NULL, a
 * right-hand side, 1 <= sys->dim <= capacity (ND_ERR_SHAPE); messages start
 * with `who`. */
nd_status nd__check_system(const char *who, const void *workspace, int64_t capacity, const nd_system *sys,
                           const float *y);
/* max_i |x_i| in double; NaN as soon as one element is NaN. */
double nd__max_abs(const float *x, int64_t n);

#endif
