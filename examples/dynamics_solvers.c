/* dynamics_solvers: the adaptive Dormand-Prince integrator, Anderson-accelerated
 * fixed-point iteration and a trajectory written to NPY (docs/dynamics.md).
 *
 *   cc examples/dynamics_solvers.c $(pkg-config --cflags --libs neurodyn) -lm -o dynamics_solvers
 *   ./dynamics_solvers [OUT_DIR]      # writes OUT_DIR/traj.npy and times.npy (default: a new /tmp dir)
 *
 * Exits 1 if a call fails or a result is off. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "neurodyn/neurodyn.h"

/* x'' = -4 x as x' = v, v' = -4 x: x = cos 2t from (1, 0) */
static nd_status osc(double t, const float *y, float *dy, void *user) {
  (void)t, (void)user;
  dy[0] = y[1];
  dy[1] = -4.0f * y[0];
  return ND_OK;
}

/* four independent problems x = cos x, one per row */
static nd_status g_cos(const float *x, float *gx, void *user) {
  (void)user;
  for (int i = 0; i < 4; i++) gx[i] = cosf(x[i]);
  return ND_OK;
}

static int fail(const char *what) {
  fprintf(stderr, "dynamics_solvers: %s: %s\n", what, nd_last_error());
  return 1;
}

int main(int argc, char **argv) {
  char tmp[] = "/tmp/nd-dynamics-XXXXXX", path[512], tpath[512];
  const char *dir = argc > 1 ? argv[1] : mkdtemp(tmp);
  if (!dir) return fail("mkdtemp");
  snprintf(path, sizeof path, "%s/traj.npy", dir);
  snprintf(tpath, sizeof tpath, "%s/times.npy", dir);

  /* 1. DOPRI5 to t = 10 with rtol = atol = 1e-6, recording every 4th accepted step */
  nd_dopri *dp;
  if (nd_dopri_create(2, false, &dp) != ND_OK) return fail("nd_dopri_create");
  float frames[64 * 2];
  double times[64];
  nd_trajectory tr;
  if (nd_trajectory_init(&tr, frames, times, 2, 64, 4) != ND_OK) return fail("nd_trajectory_init");
  nd_system sys = {2, osc, NULL};
  float y[2] = {1, 0};
  nd_dopri_opts o = nd_dopri_defaults();
  o.rtol = o.atol = 1e-6;
  o.observer = nd_trajectory_observe;
  o.observer_user = &tr;
  nd_dopri_result r;
  if (nd_dopri_integrate(dp, &sys, 0.0, 10.0, y, &o, &r) != ND_OK) return fail("nd_dopri_integrate");
  nd_dopri_free(dp);
  double err = fabs(y[0] - cos(20.0));
  printf("dopri5: %lld steps, %lld rejected, %lld f-calls, stopped: %s, |x(10) - cos 20| = %.2e\n",
         (long long)r.steps, (long long)r.rejected, (long long)r.rhs_calls, nd_stop_reason_name(r.stop), err);
  if (err > 1e-4 || r.t != 10.0) return fail("dopri5 result");
  if (nd_trajectory_write_npy(&tr, path, tpath, NULL) != ND_OK) return fail("nd_trajectory_write_npy");
  printf("trajectory: %lld frames in %s, times in %s\n", (long long)tr.count, path, tpath);

  /* 2. Anderson (m = 2), batched: each row its own fixed point */
  nd_fixed_point *fp;
  if (nd_fixed_point_create(4, 5, 4, &fp) != ND_OK) return fail("nd_fixed_point_create");
  nd_fixed_point_opts fo = nd_fixed_point_defaults();
  fo.m = 2;
  fo.rows = 4;
  nd_map map = {4, g_cos, NULL};
  float x[4] = {0, 1, 2, -1};
  nd_fixed_point_result fr;
  if (nd_fixed_point_solve(fp, &map, x, &fo, &fr) != ND_OK) return fail("nd_fixed_point_solve");
  fo.m = 0; /* plain iteration for comparison */
  float xp[4] = {0, 1, 2, -1};
  nd_fixed_point_result pr;
  if (nd_fixed_point_solve(fp, &map, xp, &fo, &pr) != ND_OK) return fail("nd_fixed_point_solve (plain)");
  nd_fixed_point_free(fp);
  printf("anderson m = 2: %lld iterations (plain: %lld), residual %.2e, stopped: %s, x = %.7f %.7f %.7f %.7f\n",
         (long long)fr.iterations, (long long)pr.iterations, fr.residual, nd_stop_reason_name(fr.stop), x[0], x[1],
         x[2], x[3]);
  for (int i = 0; i < 4; i++)
    if (fabs(x[i] - 0.7390851332) > 1e-5) return fail("anderson result");
  return 0;
}
