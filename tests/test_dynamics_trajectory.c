/* Trajectory recording to NPY (nd_trajectory + nd_trajectory_write_npy):
 * chosen states every k steps of an integration, written and read back with
 * the library's NPY reader, compared with the frames and with the exact
 * solution; empty recordings; bad arguments write nothing.  (The same files
 * read with NumPy: tests/python/test_dynamics_numpy.py.) */
#include "io_test_util.h"

#include "neurodyn/dynamics.h"

/* x' = v, v' = -x, plus a third decaying component z' = -z */
static nd_status osc_rhs(double t, const float *y, float *dy, void *user) {
  (void)t, (void)user;
  dy[0] = y[1];
  dy[1] = -y[0];
  dy[2] = -y[2];
  return ND_OK;
}

static void test_record_and_read_back(void **state) {
  (void)state;
  char dir[64], path[128], tpath[128], spath[128];
  io_mkdtemp(dir);
  snprintf(path, sizeof path, "%s/traj.npy", dir);
  snprintf(tpath, sizeof tpath, "%s/times.npy", dir);
  snprintf(spath, sizeof spath, "%s/steps.npy", dir);
  nd_integrator *it;
  nd_assert_ok(nd_integrator_create(ND_INTEGRATOR_RK4, 3, &it));
  nd_system sys = {3, osc_rhs, NULL};
  float y[3] = {1, 0, 2};
  float frames[21 * 2];
  double times[21];
  int64_t steps[21];
  const int64_t chosen[2] = {2, 0}; /* z, then x */
  nd_trajectory tr;
  nd_assert_ok(nd_trajectory_init(&tr, frames, times, 2, 21, 5));
  tr.steps = steps;
  tr.indices = chosen;
  nd_integrate_opts o = {nd_trajectory_observe, &tr, 0, 0};
  nd_assert_ok(nd_integrate(it, &sys, 0.0, 1.0, 0.01, y, &o, NULL)); /* 100 steps: frames at 0, 5, ..., 100 */
  assert_int_equal(tr.count, 21);
  assert_int_equal(tr.dropped, 0);
  nd_assert_ok(nd_trajectory_write_npy(&tr, path, tpath, spath));
  nd_tensor a;
  nd_assert_ok(nd_npy_read(path, &a));
  assert_int_equal(a.ndim, 2);
  assert_int_equal(a.shape[0], 21);
  assert_int_equal(a.shape[1], 2);
  nd_assert_arrays_close(a.data, frames, 42, 0, 0, "frames read back");
  nd_array ta, sa;
  nd_assert_ok(nd_npy_read_f64(tpath, &ta));
  nd_assert_ok(nd_npy_read_f64(spath, &sa));
  assert_int_equal(ta.ndim, 1);
  assert_int_equal(ta.numel, 21);
  assert_int_equal(sa.numel, 21);
  for (int k = 0; k < 21; k++) {
    double t = ((double *)ta.data)[k];
    assert_true(((double *)sa.data)[k] == 5.0 * k);
    nd_assert_close(t, 0.05 * k, 1e-12, 0);
    nd_assert_close(a.data[2 * k], 2 * exp(-t), 2e-6, 0); /* z = 2 e^{-t} */
    nd_assert_close(a.data[2 * k + 1], cos(t), 2e-6, 0);  /* x = cos t */
  }
  nd_tensor_release(&a);
  nd_array_release(&ta);
  nd_array_release(&sa);
  int n_tmp;
  assert_int_equal(io_count_entries(dir, &n_tmp), 3);
  assert_int_equal(n_tmp, 0);
  nd_integrator_free(it);
  io_rm_rf(dir);
}

/* The recorder behind the adaptive solver: every accepted step (every = 1),
 * capacity smaller than the run, stop_when_full off: the rest is dropped. */
static void test_dopri_dropped_and_empty(void **state) {
  (void)state;
  char dir[64], path[128];
  io_mkdtemp(dir);
  snprintf(path, sizeof path, "%s/d.npy", dir);
  nd_dopri *dp;
  nd_assert_ok(nd_dopri_create(3, false, &dp));
  nd_system sys = {3, osc_rhs, NULL};
  float y[3] = {1, 0, 2}, frames[4 * 3];
  nd_trajectory tr;
  nd_assert_ok(nd_trajectory_init(&tr, frames, NULL, 3, 4, 1));
  nd_dopri_opts o = nd_dopri_defaults();
  o.observer = nd_trajectory_observe;
  o.observer_user = &tr;
  nd_dopri_result r;
  nd_assert_ok(nd_dopri_integrate(dp, &sys, 0.0, 10.0, y, &o, &r));
  assert_int_equal(tr.count, 4);
  assert_int_equal(tr.dropped, r.steps + 1 - 4);
  nd_assert_ok(nd_trajectory_write_npy(&tr, path, NULL, NULL));
  nd_tensor a;
  nd_assert_ok(nd_npy_read(path, &a));
  assert_int_equal(a.shape[0], 4);
  nd_assert_arrays_close(a.data, frames, 12, 0, 0, "dopri frames");
  nd_assert_close(a.data[0], 1, 0, 0); /* frame 0 is the initial state */
  nd_tensor_release(&a);
  /* an empty recording is a [0, dim] array */
  nd_trajectory empty;
  nd_assert_ok(nd_trajectory_init(&empty, NULL, NULL, 3, 0, 1));
  nd_assert_ok(nd_trajectory_write_npy(&empty, path, NULL, NULL));
  nd_assert_ok(nd_npy_read(path, &a));
  assert_int_equal(a.ndim, 2);
  assert_int_equal(a.shape[0], 0);
  assert_int_equal(a.shape[1], 3);
  nd_tensor_release(&a);
  nd_dopri_free(dp);
  io_rm_rf(dir);
}

static void test_bad_arguments_write_nothing(void **state) {
  (void)state;
  char dir[64], path[128], tpath[128], bad[160];
  io_mkdtemp(dir);
  snprintf(path, sizeof path, "%s/a.npy", dir);
  snprintf(tpath, sizeof tpath, "%s/t.npy", dir);
  snprintf(bad, sizeof bad, "%s/no/such/dir/a.npy", dir);
  float frames[2] = {1, 2};
  nd_trajectory tr;
  nd_assert_ok(nd_trajectory_init(&tr, frames, NULL, 2, 1, 1));
  nd_trajectory_observe(0, 0.0, frames, &tr);
  assert_int_equal(nd_trajectory_write_npy(&tr, path, tpath, NULL), ND_ERR_INVALID_ARG); /* no times buffer */
  assert_int_equal(nd_trajectory_write_npy(&tr, path, NULL, tpath), ND_ERR_INVALID_ARG); /* no steps buffer */
  assert_int_equal(nd_trajectory_write_npy(NULL, path, NULL, NULL), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_trajectory_write_npy(&tr, NULL, NULL, NULL), ND_ERR_INVALID_ARG);
  assert_true(nd_trajectory_write_npy(&tr, bad, NULL, NULL) != ND_OK);
  assert_int_equal(io_count_entries(dir, NULL), 0);
  io_rm_rf(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_record_and_read_back),
      cmocka_unit_test(test_dopri_dropped_and_empty),
      cmocka_unit_test(test_bad_arguments_write_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
