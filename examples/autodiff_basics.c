/* autodiff_basics: fit a line y = a x + b to noisy samples with the autodiff
 * tape, Adam and a cosine learning-rate schedule, then evaluate without
 * recording.  Uses only the public headers.
 *
 *   cc examples/autodiff_basics.c $(pkg-config --cflags --libs neurodyn) -o autodiff_basics
 *   ./autodiff_basics
 *
 * Prints the fitted slope and intercept; exits 1 if they are far from the
 * true values (2, -1) or if any call fails. */
#include <math.h>
#include <stdio.h>

#include "neurodyn/neurodyn.h"

#define N 256

#define CHECK(expr)                                                                   \
  do {                                                                                \
    nd_status s_ = (expr);                                                            \
    if (s_ != ND_OK) {                                                                \
      fprintf(stderr, "%s failed: %s: %s\n", #expr, nd_status_str(s_), nd_last_error()); \
      return 1;                                                                       \
    }                                                                                 \
  } while (0)

int main(void) {
  /* Data: x ~ U(-1, 1), y = 2x - 1 + 0.1 * noise, as [N, 1] matrices. */
  static float xs[N], ys[N], noise[N];
  nd_rng rng;
  nd_rng_init(&rng, 7);
  nd_rng_uniform(&rng, xs, N, -1.0f, 1.0f);
  nd_rng_normal(&rng, noise, N, 0.0f, 0.1f);
  for (int i = 0; i < N; i++) ys[i] = 2.0f * xs[i] - 1.0f + noise[i];
  nd_tensor x = nd_tensor_wrap(xs, 2, ND_SHAPE(N, 1));
  nd_tensor y = nd_tensor_wrap(ys, 2, ND_SHAPE(N, 1));

  /* Parameters and their gradient buffers belong to us: W [out=1, in=1], b [1]. */
  nd_tensor *w, *b, *gw, *gb;
  CHECK(nd_tensor_create(2, ND_SHAPE(1, 1), &w));
  CHECK(nd_tensor_create(1, ND_SHAPE(1), &b));
  CHECK(nd_tensor_create(2, ND_SHAPE(1, 1), &gw));
  CHECK(nd_tensor_create(1, ND_SHAPE(1), &gb));

  /* Adam with a cosine decay from 0.1 to 0.001 over 300 steps, 10 of warm-up. */
  nd_tensor *params[2] = {w, b}, *grads[2] = {gw, gb};
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  nd_optim *opt;
  CHECK(nd_optim_create(&oc, 2, params, grads, &opt));
  nd_schedule sched = {.kind = ND_SCHED_COSINE, .base_lr = 0.1f, .final_lr = 1e-3f, .total_steps = 300,
                       .warmup_steps = 10};
  CHECK(nd_optim_set_schedule(opt, &sched));

  nd_tape *tp;
  CHECK(nd_tape_create(0, &tp));
  float loss = NAN;
  for (int step = 0; step < 300; step++) {
    nd_tape_reset(tp);        /* forget last step's graph, keep the memory */
    nd_optim_zero_grad(opt);  /* leaf gradients accumulate: clear them */
    nd_var *xv = nd_tape_constant(tp, &x);
    nd_var *pred = nd_ad_linear(tp, xv, nd_tape_param(tp, w, gw), nd_tape_param(tp, b, gb));
    nd_var *l = nd_ad_mse(tp, pred, nd_tape_constant(tp, &y));
    CHECK(nd_tape_backward(tp, l)); /* also reports any error made while building */
    CHECK(nd_optim_step(opt));
    loss = nd_var_item(l);
    if (step % 100 == 0) printf("step %3d  lr %.4f  mse %.5f\n", step, nd_optim_lr(opt), loss);
  }

  /* Evaluation without recording: values only, no nodes on the tape. */
  nd_tape_reset(tp);
  nd_tape_set_recording(tp, false);
  nd_var *pred = nd_ad_linear(tp, nd_tape_constant(tp, &x), nd_tape_param(tp, w, gw), nd_tape_param(tp, b, gb));
  nd_var *l = nd_ad_mse(tp, pred, nd_tape_constant(tp, &y));
  CHECK(nd_tape_status(tp));
  printf("fit: y = %.4f x %+.4f  (true: y = 2 x - 1)  final mse %.5f, nodes recorded in eval: %lld\n", w->data[0],
         b->data[0], nd_var_item(l), (long long)nd_tape_num_nodes(tp));
  int ok = fabsf(w->data[0] - 2.0f) < 0.05f && fabsf(b->data[0] + 1.0f) < 0.05f;

  nd_tape_free(tp);
  nd_optim_free(opt);
  nd_tensor_free(w);
  nd_tensor_free(b);
  nd_tensor_free(gw);
  nd_tensor_free(gb);
  return ok ? 0 : 1;
}
