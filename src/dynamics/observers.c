/* Observer helpers: a chain of observers and a trajectory recorder (see
 * include/neurodyn/dynamics.h, "Observers").  Nothing here allocates while
 * recording; writing the frames out (NPY, through src/io) does once. */
#include <stdlib.h>
#include <string.h>

#include "dynamics/dynamics_internal.h"
#include "neurodyn/io.h"

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
  float *frame = tr->states + tr->count * tr->dim;
  if (tr->indices) {
    for (int64_t j = 0; j < tr->dim; j++) frame[j] = y[tr->indices[j]];
  } else {
    memcpy(frame, y, (size_t)tr->dim * sizeof(float));
  }
  if (tr->times) tr->times[tr->count] = t;
  if (tr->steps) tr->steps[tr->count] = step;
  tr->count++;
  return tr->stop_when_full && tr->count >= tr->capacity ? 1 : 0;
}

nd_status nd_trajectory_write_npy(const nd_trajectory *tr, const char *path, const char *times_path,
                                  const char *steps_path) {
  if (!tr || !path) return nd__error(ND_ERR_INVALID_ARG, "trajectory write: recorder or path is NULL");
  if (tr->dim < 1 || tr->count < 0 || tr->count > tr->capacity || (tr->count > 0 && !tr->states))
    return nd__error(ND_ERR_INVALID_ARG, "trajectory write %s: recorder not set up (dim %lld, %lld of %lld frames)",
                     path, (long long)tr->dim, (long long)tr->count, (long long)tr->capacity);
  if (times_path && !tr->times)
    return nd__error(ND_ERR_INVALID_ARG, "trajectory write %s: the recorder has no times buffer", times_path);
  if (steps_path && !tr->steps)
    return nd__error(ND_ERR_INVALID_ARG, "trajectory write %s: the recorder has no steps buffer", steps_path);
  static float none;
  const int64_t shape[2] = {tr->count, tr->dim}, n = tr->count;
  nd_tensor t = nd_tensor_wrap(tr->states ? tr->states : &none, 2, shape);
  if (!t.data) return nd__error(ND_ERR_INVALID_ARG, "trajectory write %s: %lld frames of %lld floats is too large",
                                path, (long long)n, (long long)tr->dim);
  double *steps = NULL;
  if (steps_path && n > 0) {
    steps = malloc((size_t)n * sizeof(double));
    if (!steps) return nd__error(ND_ERR_NOMEM, "trajectory write %s: out of memory", steps_path);
    for (int64_t k = 0; k < n; k++) steps[k] = (double)tr->steps[k];
  }
  static const double dnone = 0;
  nd_status s = nd_npy_write(path, &t);
  if (s == ND_OK && times_path) s = nd_npy_write_f64(times_path, 1, &n, n ? tr->times : &dnone);
  if (s == ND_OK && steps_path) s = nd_npy_write_f64(steps_path, 1, &n, steps ? steps : &dnone);
  free(steps);
  return s;
}
