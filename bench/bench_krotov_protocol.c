/* The Krotov-Hopfield MNIST protocol with a validation split (docs/RESULTS.md,
 * "Krotov headline on a validation split"); bench/krotov_protocol.sh drives it.
 *
 * The 60000 MNIST training images are split into the first 50000 ("fit") and
 * the last 10000 ("val").  Everything is trained on the fit part only; the
 * top-layer setting is chosen on the val error; the test set is read only by
 * `--stage test`, once per seed, for the chosen setting.
 *
 *   --stage hebb --seed S --out DIR [--epochs 200]
 *       Hebbian layer of the paper setting (Krotov & Hopfield 2019, PNAS
 *       116(16):7723: 2000 hidden, p 3, k 7, delta 0.4; eps0 0.02, batch 100,
 *       linear anneal over --epochs, the DimaKrotov/Biological_Learning
 *       notebook's rule) on the fit part.  Writes DIR/W_seedS.safetensors
 *       (tensor "W", as `train krotov` writes W.safetensors) and, every 10
 *       epochs, DIR/ckpt_seedS.safetensors (W + epoch and shuffle-stream state
 *       in the metadata) from which a rerun of the same command resumes.
 *   --stage val  --w FILE --seed S --top-epochs E [--lr 0.01]
 *   --stage test --w FILE --seed S --top-epochs E [--lr 0.01]
 *       Top layer (Eq. 11-12) on the frozen W, trained on the fit part with
 *       the recipe of `neurodyn train krotov-top`: n 4.5, m 6, beta =
 *       nd_krotov_top_auto_beta(fit features), S ~ N(0, 0.01^2) from seed S,
 *       Adam (library defaults) with a cosine anneal from --lr to 1e-4 over
 *       all steps, batch 100, minibatch order from nd_rng_split(seed S, 1).
 *       "val" reports the val error; "test" also loads the test set and
 *       reports its error.  --save-s FILE writes the trained S (tensor "S",
 *       beta in the metadata).
 *   --stage score --w FILE --s FILE
 *       Loads W and a saved S and scores fit, val and test: the test score
 *       of a setting whose top layer was trained (and saved) by a val run.
 *
 * Output: one JSON object per line on stdout.  Run with no --stage (as
 * bench/run.sh does) it prints a note on stderr and exits 0: a protocol run
 * takes hours on two cores and is not part of `make bench`. */
#include "neurodyn/neurodyn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_common.h"

#define FIT_N 50000
#define VAL_N 10000
#define D 784

static int fail(const char *what, nd_status s) {
  fprintf(stderr, "bench_krotov_protocol: %s: %s: %s\n", what, nd_status_str(s), nd_last_error());
  return 1;
}

static const char *arg(int argc, char **argv, const char *name, const char *def) {
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}

static nd_status save_w(const char *path, const nd_tensor *w, const char *const *meta) {
  const char *names[1] = {"W"};
  const nd_tensor *ts[1] = {w};
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  nd_status s = nd_safetensors_write(tmp, 1, names, ts, meta);
  if (s == ND_OK && rename(tmp, path) != 0) s = ND_ERR_IO;
  return s;
}

static int stage_hebb(const nd_dataset *tr, uint64_t seed, int64_t epochs, const char *out) {
  nd_krotov_config c = nd_krotov_defaults();
  c.hidden = 2000;
  c.visible = D;
  c.p = 3;
  c.k = 7;
  c.delta = 0.4;
  c.eps0 = 0.02;
  c.epochs = epochs;
  c.batch = 100;
  c.seed = seed;
  nd_krotov *k = NULL;
  nd_status s = nd_krotov_create(&c, &k);
  if (s != ND_OK) return fail("nd_krotov_create", s);
  mkdir(out, 0777);
  char ckpt[4096], wpath[4096];
  snprintf(ckpt, sizeof ckpt, "%s/ckpt_seed%" PRIu64 ".safetensors", out, seed);
  snprintf(wpath, sizeof wpath, "%s/W_seed%" PRIu64 ".safetensors", out, seed);
  /* resume from the checkpoint if there is one */
  nd_safetensors *st = NULL;
  if (nd_safetensors_read(ckpt, &st) == ND_OK) {
    nd_tensor w = {0};
    const char *e = nd_safetensors_metadata(st, "epoch"), *key = nd_safetensors_metadata(st, "rng_key"),
               *ctr = nd_safetensors_metadata(st, "rng_counter");
    s = e && key && ctr ? nd_safetensors_get(st, "W", &w) : ND_ERR_FORMAT;
    if (s == ND_OK) s = nd_krotov_set_weights(k, &w);
    if (s == ND_OK) {
      nd_train_state ks = {0};
      ks.epoch = strtoll(e, NULL, 10);
      ks.rng_key = strtoull(key, NULL, 10);
      ks.rng_counter = strtoull(ctr, NULL, 10);
      s = nd_krotov_set_state(k, &ks);
      printf("{\"stage\": \"hebb\", \"seed\": %" PRIu64 ", \"resumed_at_epoch\": %lld}\n", seed, (long long)ks.epoch);
    }
    nd_tensor_release(&w);
    nd_safetensors_free(st);
    if (s != ND_OK) {
      nd_krotov_free(k);
      return fail(ckpt, s);
    }
  }
  double t_run = bench_now();
  nd_train_state ks0 = {0};
  s = nd_krotov_get_state(k, &ks0);
  for (int64_t e = ks0.epoch; s == ND_OK && e < epochs; e++) {
    double t0 = bench_now();
    s = nd_krotov_epoch(k, tr->images.data, FIT_N, NULL, NULL);
    if (s != ND_OK) {
      nd_krotov_free(k);
      return fail("nd_krotov_epoch", s);
    }
    printf("{\"stage\": \"hebb\", \"seed\": %" PRIu64 ", \"epoch\": %lld, \"seconds\": %.3f, \"winners\": %lld, \"elapsed\": %.1f}\n",
           seed, (long long)(e + 1), bench_now() - t0, (long long)nd_krotov_winners(k), bench_now() - t_run);
    fflush(stdout);
    if ((e + 1) % 10 == 0 && e + 1 < epochs) {
      nd_train_state ks = {0};
      nd_krotov_get_state(k, &ks);
      char ev[32], kv[32], cv[32];
      snprintf(ev, sizeof ev, "%lld", (long long)ks.epoch);
      snprintf(kv, sizeof kv, "%" PRIu64, ks.rng_key);
      snprintf(cv, sizeof cv, "%" PRIu64, ks.rng_counter);
      const char *meta[] = {"epoch", ev, "rng_key", kv, "rng_counter", cv, NULL};
      s = save_w(ckpt, nd_krotov_weights(k), meta);
      if (s != ND_OK) {
        nd_krotov_free(k);
        return fail(ckpt, s);
      }
    }
  }
  char sv[32], ev[32];
  snprintf(sv, sizeof sv, "%" PRIu64, seed);
  snprintf(ev, sizeof ev, "%lld", (long long)epochs);
  const char *meta[] = {"model", "krotov", "dataset", "mnist", "split", "train[0:50000]", "p", "3", "hidden", "2000",
                        "k", "7", "delta", "0.4", "eps0", "0.02", "epochs", ev, "seed", sv, NULL};
  s = save_w(wpath, nd_krotov_weights(k), meta);
  nd_krotov_free(k);
  if (s != ND_OK) return fail(wpath, s);
  remove(ckpt);
  printf("{\"stage\": \"hebb\", \"seed\": %" PRIu64 ", \"done\": true, \"W\": \"%s\", \"seconds\": %.1f}\n", seed, wpath,
         bench_now() - t_run);
  return 0;
}

static nd_status read_tensor(const char *path, const char *name, nd_tensor *out, float *beta) {
  nd_safetensors *st = NULL;
  nd_status s = nd_safetensors_read(path, &st);
  if (s == ND_OK) s = nd_safetensors_get(st, name, out);
  if (s == ND_OK && beta) {
    const char *b = nd_safetensors_metadata(st, "beta");
    if (!b) s = ND_ERR_FORMAT;
    else *beta = strtof(b, NULL);
  }
  nd_safetensors_free(st);
  return s;
}

static int stage_top(const nd_dataset *tr, const nd_dataset *te, const char *wfile, const char *sfile,
                     const char *save_s, uint64_t seed, int64_t epochs, double lr, const char *stage) {
  const double lr_final = 1e-4;
  const int64_t batch = 100;
  nd_tensor w = {0}, f = {0}, fv = {0}, ft = {0}, sw = {0};
  float beta_saved = 0;
  nd_status s = read_tensor(wfile, "W", &w, NULL);
  if (s != ND_OK) return fail(wfile, s);
  if (sfile && (s = read_tensor(sfile, "S", &sw, &beta_saved)) != ND_OK) {
    nd_tensor_release(&w);
    return fail(sfile, s);
  }
  if (w.ndim != 2 || w.shape[1] != D) {
    fprintf(stderr, "bench_krotov_protocol: %s: W must be [hidden, 784]\n", wfile);
    nd_tensor_release(&w);
    return 1;
  }
  double t_start = bench_now();
  const float n = 4.5f;
  s = nd_krotov_features(&w, tr->images.data, FIT_N, D, n, 0, &f);
  if (s == ND_OK) s = nd_krotov_features(&w, tr->images.data + (size_t)FIT_N * D, VAL_N, D, n, 0, &fv);
  if (s == ND_OK && te) s = nd_krotov_features(&w, te->images.data, te->n, D, n, 0, &ft);
  nd_krotov_top *top = NULL;
  nd_optim *opt = NULL;
  nd_krotov_top_config c = nd_krotov_top_defaults(w.shape[0], 10);
  if (s == ND_OK) {
    c.n = n;
    c.m = 6;
    c.beta = sfile ? beta_saved : nd_krotov_top_auto_beta(&f);
    c.init_std = 0.01f;
    c.seed = seed;
    s = nd_krotov_top_create(&c, &top);
    if (s == ND_OK && sfile) s = nd_krotov_top_set_weights(top, &sw);
  }
  if (s == ND_OK && !sfile) {
    nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
    oc.lr = (float)lr;
    oc.weight_decay = 0;
    nd_tensor *pp[1] = {nd_krotov_top_weights(top)}, *gg[1] = {nd_krotov_top_grad(top)};
    s = nd_optim_create(&oc, 1, pp, gg, &opt);
  }
  if (s == ND_OK && !sfile) {
    int64_t steps = epochs * ((FIT_N + batch - 1) / batch);
    nd_schedule sch = {.kind = ND_SCHED_COSINE, .base_lr = (float)lr, .final_lr = (float)lr_final, .total_steps = steps};
    s = nd_optim_set_schedule(opt, &sch);
  }
  nd_rng rng;
  nd_rng_init(&rng, seed);
  rng = nd_rng_split(&rng, 1);
  double loss = 0, err_fit = 1, err_val = 1, err_test = -1;
  for (int64_t e = 0; s == ND_OK && !sfile && e < epochs; e++) {
    s = nd_krotov_top_train_epoch(top, opt, &f, tr->labels, batch, &rng, &loss);
    if (s == ND_OK && ((e + 1) % 50 == 0 || e + 1 == epochs)) {
      s = nd_krotov_top_error(top, &fv, tr->labels + FIT_N, &err_val);
      printf("{\"stage\": \"%s_progress\", \"seed\": %" PRIu64 ", \"top_epochs\": %lld, \"lr\": %g, \"epoch\": %lld, "
             "\"loss\": %.6g, \"val_error\": %.4f, \"elapsed\": %.1f}\n",
             stage, seed, (long long)epochs, lr, (long long)(e + 1), loss, err_val, bench_now() - t_start);
      fflush(stdout);
    }
  }
  if (s == ND_OK) s = nd_krotov_top_error(top, &f, tr->labels, &err_fit);
  if (s == ND_OK) s = nd_krotov_top_error(top, &fv, tr->labels + FIT_N, &err_val);
  if (s == ND_OK && te) s = nd_krotov_top_error(top, &ft, te->labels, &err_test);
  if (s == ND_OK && save_s) {
    char bv[32];
    snprintf(bv, sizeof bv, "%.9g", (double)c.beta);
    const char *meta[] = {"model", "krotov-top-S", "W", wfile, "beta", bv, "n", "4.5", "m", "6", NULL};
    const char *names[1] = {"S"};
    const nd_tensor *ts[1] = {nd_krotov_top_weights(top)};
    s = nd_safetensors_write(save_s, 1, names, ts, meta);
  }
  int rc = 0;
  if (s != ND_OK) rc = fail("top layer", s);
  else {
    printf("{\"stage\": \"%s\", \"W\": \"%s\", \"seed\": %" PRIu64 ", \"top_epochs\": %lld, \"lr\": %g, \"lr_final\": %g, "
           "\"beta\": %.6g, \"fit_error\": %.4f, \"val_error\": %.4f",
           stage, wfile, seed, (long long)epochs, lr, lr_final, (double)c.beta, err_fit, err_val);
    if (te) printf(", \"test_error\": %.4f", err_test);
    if (sfile) printf(", \"S\": \"%s\"", sfile);
    printf(", \"seconds\": %.1f}\n", bench_now() - t_start);
  }
  nd_optim_free(opt);
  nd_krotov_top_free(top);
  nd_tensor_release(&f);
  nd_tensor_release(&fv);
  nd_tensor_release(&ft);
  nd_tensor_release(&w);
  nd_tensor_release(&sw);
  return rc;
}

int main(int argc, char **argv) {
  const char *stage = arg(argc, argv, "--stage", NULL);
  if (!stage) {
    fprintf(stderr, "bench_krotov_protocol: needs --stage hebb|val|test|score (a protocol run takes hours; "
                    "see bench/krotov_protocol.sh); skipped\n");
    return 0;
  }
  int threads = atoi(arg(argc, argv, "--threads", "0"));
  if (threads > 0) nd_set_num_threads(threads);
  uint64_t seed = strtoull(arg(argc, argv, "--seed", "0"), NULL, 10);
  const char *data = arg(argc, argv, "--data", NULL);
  bool hebb = strcmp(stage, "hebb") == 0, val = strcmp(stage, "val") == 0, test = strcmp(stage, "test") == 0,
       score = strcmp(stage, "score") == 0;
  if (!hebb && !val && !test && !score) {
    fprintf(stderr, "bench_krotov_protocol: --stage %s: need hebb, val, test or score\n", stage);
    return 2;
  }
  nd_dataset tr, te;
  memset(&tr, 0, sizeof tr);
  memset(&te, 0, sizeof te);
  nd_status s = nd_mnist_load(data, "train", 0, &tr);
  if (s != ND_OK) return fail("MNIST train", s);
  if (tr.n != FIT_N + VAL_N || tr.images.shape[1] != D) {
    fprintf(stderr, "bench_krotov_protocol: MNIST train has %lld images, need 60000 x 784\n", (long long)tr.n);
    nd_dataset_release(&tr);
    return 1;
  }
  int rc;
  if (hebb) {
    rc = stage_hebb(&tr, seed, strtoll(arg(argc, argv, "--epochs", "200"), NULL, 10),
                    arg(argc, argv, "--out", "runs/krotov_protocol"));
  } else {
    const char *w = arg(argc, argv, "--w", NULL);
    int64_t epochs = strtoll(arg(argc, argv, "--top-epochs", "300"), NULL, 10);
    double lr = strtod(arg(argc, argv, "--lr", "0.01"), NULL);
    const char *sfile = score ? arg(argc, argv, "--s", NULL) : NULL;
    if (!w || epochs < 1 || !(lr > 0) || (score && !sfile)) {
      fprintf(stderr, "bench_krotov_protocol: --stage %s needs --w FILE, --top-epochs >= 1, --lr > 0 (score: --s FILE)\n", stage);
      nd_dataset_release(&tr);
      return 2;
    }
    if (test || score) {
      s = nd_mnist_load(data, "test", 0, &te);
      if (s != ND_OK) {
        nd_dataset_release(&tr);
        return fail("MNIST test", s);
      }
    }
    rc = stage_top(&tr, test || score ? &te : NULL, w, sfile, arg(argc, argv, "--save-s", NULL), seed, epochs, lr,
                   stage);
  }
  nd_dataset_release(&tr);
  nd_dataset_release(&te);
  return rc;
}
