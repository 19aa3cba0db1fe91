/* neurodyn demo mlp: a 784-256-10 ReLU MLP trained with cross-entropy and Adam
 * on MNIST through the autodiff tape (include/neurodyn/mlp.h), with a
 * progress bar per epoch; prints the test accuracy after each epoch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neurodyn/neurodyn.h"
#include "options.h"
#include "progress.h"

int nd_demo_mlp(int argc, char **argv);

int nd_demo_mlp(int argc, char **argv) {
  const char *prog = "neurodyn demo mlp";
  int epochs, hidden, batch;
  double lr;
  int64_t limit;
  const char *data_dir;
  nd_cli_common common;
  const nd_option table[] = {
      {"epochs", ND_OPT_INT, &epochs, "3", "passes over the training set", NULL},
      {"hidden", ND_OPT_INT, &hidden, "256", "hidden units", NULL},
      {"batch", ND_OPT_INT, &batch, "64", "minibatch size", NULL},
      {"lr", ND_OPT_DOUBLE, &lr, "0.001", "Adam learning rate", NULL},
      {"limit", ND_OPT_INT64, &limit, "0", "use only the first N training examples (0: all)", NULL},
      {"data", ND_OPT_STRING, &data_dir, NULL, "MNIST directory (default: found by nd_data_dir)", NULL},
      ND_OPT_COMMON(&common),
      ND_OPT_END,
  };
  const nd_opts spec = {prog, "[options]",
                        "Trains a 784-hidden-10 ReLU MLP with cross-entropy and Adam on MNIST and prints the\n"
                        "test accuracy.  With --out DIR, writes config.json, metrics.jsonl (one line per\n"
                        "epoch) and model.safetensors there.",
                        table, 0, 0};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&common);
  if (epochs < 1 || hidden < 1 || batch < 1 || lr <= 0 || limit < 0) {
    nd_args_release(&args);
    return nd_cli_fail(2, prog, "--epochs, --hidden, --batch and --lr must be positive and --limit >= 0");
  }

  char dir[4096];
  if (!data_dir) {
    if (nd_data_dir("mnist", dir, sizeof dir) != ND_OK) {
      nd_args_release(&args);
      return nd_cli_fail(2, prog, "MNIST not found: %s (or run `make data` or `neurodyn data fetch`)",
                         nd_last_error());
    }
    data_dir = dir;
  }

  nd_dataset train = {0}, test = {0};
  nd_mlp *m = NULL;
  nd_optim *opt = NULL;
  nd_tape *tp = NULL;
  nd_jsonl *log = NULL;
  float *xb = NULL;
  int32_t *yb = NULL;
  int64_t *perm = NULL;
  nd_status s;
  rc = 0;

  s = nd_mnist_load(data_dir, "train", limit, &train);
  if (s == ND_OK) s = nd_mnist_load(data_dir, "test", 0, &test);
  if (s != ND_OK) {
    rc = nd_cli_fail(2, prog, "%s (or run `make data` or `neurodyn data fetch`)", nd_last_error());
    goto done;
  }
  if (common.out) {
    char path[4200];
    s = nd_cli_mkdirs(common.out);
    if (s == ND_OK) {
      snprintf(path, sizeof path, "%s/config.json", common.out);
      s = nd_opts_write_config(&spec, path);
    }
    if (s == ND_OK) {
      snprintf(path, sizeof path, "%s/metrics.jsonl", common.out);
      s = nd_jsonl_open(path, &log);
    }
    if (s != ND_OK) {
      rc = nd_cli_fail(1, prog, "%s", nd_last_error());
      goto done;
    }
  }

  const int64_t d = (int64_t)train.rows * train.cols;
  const int64_t sizes[3] = {d, hidden, 10};
  nd_mlp_config mc = nd_mlp_defaults(3, sizes);
  mc.seed = (uint64_t)common.seed;
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  oc.lr = (float)lr;
  s = nd_mlp_create(&mc, &m);
  if (s == ND_OK) s = nd_optim_create(&oc, nd_mlp_num_params(m), nd_mlp_params(m), nd_mlp_grads(m), &opt);
  if (s != ND_OK) {
    rc = nd_cli_fail(nd_cli_status_code(s), prog, "%s", nd_last_error());
    goto done;
  }
  if (nd_tape_create(0, &tp) != ND_OK) tp = NULL;
  xb = malloc((size_t)batch * (size_t)d * sizeof *xb);
  yb = malloc((size_t)batch * sizeof *yb);
  perm = malloc((size_t)train.n * sizeof *perm);
  if (!tp || !xb || !yb || !perm) {
    rc = nd_cli_fail(1, prog, "out of memory");
    goto done;
  }

  printf("demo mlp: %lld-%d-10 MLP, Adam lr %g, batch %d, %d epochs, %lld training / %lld test images, %d threads\n",
         (long long)d, hidden, lr, batch, epochs, (long long)train.n, (long long)test.n, nd_get_num_threads());
  fflush(stdout);
  nd_rng rng;
  nd_rng_init(&rng, (uint64_t)common.seed + 1);
  const int64_t n_batches = (train.n + batch - 1) / batch;
  const double t0 = nd_cli_now();
  double acc = 0;
  for (int ep = 0; ep < epochs; ep++) {
    char label[64];
    snprintf(label, sizeof label, "epoch %d/%d", ep + 1, epochs);
    nd_progress p;
    nd_progress_begin(&p, label, n_batches);
    nd_rng_permutation(&rng, perm, train.n);
    double loss_sum = 0;
    for (int64_t bi = 0; bi < n_batches; bi++) {
      const int64_t start = bi * batch;
      const int64_t bs = train.n - start < batch ? train.n - start : batch;
      for (int64_t r = 0; r < bs; r++) {
        memcpy(xb + r * d, train.images.data + perm[start + r] * d, (size_t)d * sizeof *xb);
        yb[r] = train.labels[perm[start + r]];
      }
      nd_tensor xt = nd_tensor_wrap(xb, 2, ND_SHAPE(bs, d));
      nd_tape_reset(tp);
      nd_optim_zero_grad(opt);
      nd_var *z = nd_mlp_forward(m, tp, nd_tape_constant(tp, &xt));
      nd_var *loss = nd_mlp_loss(m, tp, z, yb);
      s = nd_tape_backward(tp, loss);
      if (s == ND_OK) s = nd_optim_step(opt);
      if (s != ND_OK) {
        nd_progress_end(&p);
        rc = nd_cli_fail(nd_cli_status_code(s), prog, "%s", nd_last_error());
        goto done;
      }
      loss_sum += (double)nd_var_item(loss) * (double)bs;
      nd_progress_update(&p, bi + 1, "loss=%.4f", loss_sum / (double)(start + bs));
    }
    nd_progress_end(&p);
    const double train_loss = loss_sum / (double)train.n;
    s = nd_mlp_accuracy(m, test.images.data, test.labels, test.n, 1000, &acc);
    if (s != ND_OK) {
      rc = nd_cli_fail(nd_cli_status_code(s), prog, "%s", nd_last_error());
      goto done;
    }
    printf("epoch %d: train loss %.4f, test accuracy %.2f%% (%.1f s)\n", ep + 1, train_loss, 100.0 * acc,
           nd_cli_now() - t0);
    fflush(stdout);
    if (log) {
      const nd_jsonl_field f[] = {ND_JINT("epoch", ep + 1), ND_JNUM("train_loss", train_loss),
                                  ND_JNUM("test_accuracy", acc), ND_JNUM("seconds", nd_cli_now() - t0)};
      s = nd_jsonl_write(log, 4, f);
      if (s != ND_OK) {
        rc = nd_cli_fail(1, prog, "%s", nd_last_error());
        goto done;
      }
    }
  }
  printf("test accuracy: %.2f%% (%lld images)\n", 100.0 * acc, (long long)test.n);
  if (common.out) {
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", common.out);
    const int np = nd_mlp_num_params(m);
    const char *names[2 * ND_MLP_MAX_LAYERS];
    const nd_tensor *ts[2 * ND_MLP_MAX_LAYERS];
    for (int i = 0; i < np; i++) {
      names[i] = nd_mlp_param_name(m, i);
      ts[i] = nd_mlp_param(m, i);
    }
    s = nd_safetensors_write(path, np, names, ts, NULL);
    if (s != ND_OK) {
      rc = nd_cli_fail(1, prog, "%s", nd_last_error());
      goto done;
    }
    printf("wrote %s/{config.json,metrics.jsonl,model.safetensors}\n", common.out);
  }

done:
  if (log && nd_jsonl_close(log) != ND_OK && rc == 0) rc = nd_cli_fail(1, prog, "%s", nd_last_error());
  free(perm);
  free(yb);
  free(xb);
  nd_tape_free(tp);
  nd_optim_free(opt);
  nd_mlp_free(m);
  nd_dataset_release(&test);
  nd_dataset_release(&train);
  nd_args_release(&args);
  return rc;
}
