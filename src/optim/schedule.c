/* Learning-rate schedules (see optim.h). */
#include <math.h>

#include "core/internal.h"
#include "neurodyn/optim.h"

nd_schedule nd_schedule_constant(float lr) {
  nd_schedule s = {.kind = ND_SCHED_CONSTANT, .base_lr = lr, .final_lr = lr, .total_steps = 1, .step_size = 1,
                   .gamma = 1.0f, .warmup_steps = 0};
  return s;
}

nd_status nd_schedule_check(const nd_schedule *s) {
  if (!s) return nd__error(ND_ERR_INVALID_ARG, "schedule: NULL");
  if ((int)s->kind < 0 || s->kind >= ND_SCHED_KIND_COUNT_)
    return nd__error(ND_ERR_INVALID_ARG, "schedule: unknown kind %d", (int)s->kind);
  if (!(s->base_lr >= 0.0f) || !isfinite(s->base_lr))
    return nd__error(ND_ERR_INVALID_ARG, "schedule: base_lr = %g, need a finite value >= 0", (double)s->base_lr);
  if (s->warmup_steps < 0)
    return nd__error(ND_ERR_INVALID_ARG, "schedule: warmup_steps = %lld < 0", (long long)s->warmup_steps);
  if (s->kind == ND_SCHED_LINEAR || s->kind == ND_SCHED_COSINE) {
    if (!(s->final_lr >= 0.0f) || !isfinite(s->final_lr))
      return nd__error(ND_ERR_INVALID_ARG, "schedule: final_lr = %g, need a finite value >= 0", (double)s->final_lr);
    if (s->total_steps <= s->warmup_steps)
      return nd__error(ND_ERR_INVALID_ARG, "schedule: total_steps = %lld must exceed warmup_steps = %lld",
                       (long long)s->total_steps, (long long)s->warmup_steps);
  }
  if (s->kind == ND_SCHED_STEP) {
    if (s->step_size < 1)
      return nd__error(ND_ERR_INVALID_ARG, "schedule: step_size = %lld, need >= 1", (long long)s->step_size);
    if (!(s->gamma > 0.0f) || !isfinite(s->gamma))
      return nd__error(ND_ERR_INVALID_ARG, "schedule: gamma = %g, need a finite value > 0", (double)s->gamma);
  }
  return ND_OK;
}

float nd_schedule_lr(const nd_schedule *s, int64_t t) {
  if (!s) {
    nd__error(ND_ERR_INVALID_ARG, "schedule lr: schedule is NULL");
    return NAN;
  }
  if (t < 0) t = 0;
  double base = s->base_lr;
  if (t < s->warmup_steps) return (float)(base * (double)(t + 1) / (double)s->warmup_steps);
  int64_t k = t - s->warmup_steps;
  switch (s->kind) {
    case ND_SCHED_LINEAR:
    case ND_SCHED_COSINE: {
      double T = (double)(s->total_steps - s->warmup_steps);
      double frac = T > 0 ? (double)k / T : 1.0;
      if (frac > 1.0) frac = 1.0;
      double fin = s->final_lr;
      if (s->kind == ND_SCHED_LINEAR) return (float)(base + (fin - base) * frac);
      /* SGDR, Loshchilov & Hutter 2017, Eq. 5 (single cycle, no restart) */
      return (float)(fin + 0.5 * (base - fin) * (1.0 + cos(M_PI * frac)));
    }
    case ND_SCHED_STEP:
      return (float)(base * pow((double)s->gamma, (double)(k / s->step_size)));
    case ND_SCHED_CONSTANT:
    default:
      return (float)base;
  }
}
