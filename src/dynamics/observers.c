/* Observer helpers: a chain of observers and a trajectory recorder (see
 * include/neurodyn/dynamics.h, "Observers").  Nothing here allocates. */
#include <string.h>

#include "dynamics/dynamics_internal.h"

int nd_observer_chain(int64_t step, double t, const float *y, void *user) {
  const nd_observer_list *l = user;
  int stop = 0;
  if (!l) return 0;
  for (int k = 0; k < l->n; k++)
    if (l->items[k].fn && l->items[k].fn(step, t, y, l->items[k].user) != 0) stop = 1;
  return stop;
}

nd_status nd_trajectory_init(nd_trajectory *tr, float *states, double *times, int64_t dim, int64_t capacity,
                             int64_t every) {
  if (!tr) return nd__error(ND_ERR_INVALID_ARG, "trajectory: recorder is NULL");
  memset(tr, 0, sizeof *tr);
  if (!states && capacity > 0) return nd__error(ND_ERR_INVALID_ARG, "trajectory: state buffer is NULL");
  if (dim < 1) return nd__error(ND_ERR_INVALID_ARG, "trajectory: dim = %lld, must be >= 1", (long long)dim);
  if (capacity < 0)
    return nd__error(ND_ERR_INVALID_ARG, "trajectory: capacity = %lld frames, must be >= 0", (long long)capacity);
  if (every < 1) return nd__error(ND_ERR_INVALID_ARG, "trajectory: every = %lld, must be >= 1", (long long)every);
  tr->states = states;
  tr->times = times;
  tr->steps = NULL;
  tr->dim = dim;
  tr->capacity = capacity;
  tr->every = every;
  return ND_OK;
}

int nd_trajectory_observe(int64_t step, double t, const float *y, void *user) {
  nd_trajectory *tr = user;
  if (!tr || step % tr->every != 0) return 0;
  if (tr->count >= tr->capacity) {
    tr->dropped++;
    return tr->stop_when_full ? 1 : 0;
  }
  memcpy(tr->states + tr->count * tr->dim, y, (size_t)tr->dim * sizeof(float));
  if (tr->times) tr->times[tr->count] = t;
  if (tr->steps) tr->steps[tr->count] = step;
  tr->count++;
  return tr->stop_when_full && tr->count >= tr->capacity ? 1 : 0;
}
