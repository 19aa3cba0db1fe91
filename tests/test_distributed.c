/* Data-parallel training without MPI (include/neurodyn/distributed.h): P
 * threads stand in for P processes, each with its own model, joined by an
 * allgather over a shared buffer and a barrier.  The Krotov fast rule
 * trained on 2, 3, 4, 7 and 20 "ranks" must give the single model's bytes
 * (every rank's), in both precisions and both update forms, including
 * one-row shards (batch 20 on 20 ranks) and an epoch stopped part-way and
 * finished on another number of ranks; krotov-top's and rnn's block
 * gradients (float32 and float64 sums) give one process's bytes. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nd_test.h"
#include "neurodyn/distributed.h"
#include "neurodyn/krotov.h"
#include "neurodyn/rnn.h"

#define MAX_RANKS 20
#define N_ROWS 240

typedef struct shared {
  pthread_barrier_t bar;
  unsigned char buf[1 << 16];
} shared;

/* What every thread-rank has first: the shared buffer and its comm (whose
 * user pointer is the rank's own context). */
typedef struct peer {
  shared *sh;
  nd_comm comm;
} peer;

static nd_status gather(const void *send, void *recv, int64_t bytes, void *user) {
  peer *c = user;
  memcpy(c->sh->buf + (size_t)c->comm.rank * (size_t)bytes, send, (size_t)bytes);
  pthread_barrier_wait(&c->sh->bar);
  memcpy(recv, c->sh->buf, (size_t)bytes * (size_t)c->comm.size);
  pthread_barrier_wait(&c->sh->bar);
  return ND_OK;
}

typedef struct rank_ctx {
  peer p;
  nd_krotov_config cfg;
  const float *data;
  int epochs;
  int64_t stop_at;          /* > 0: the first epoch stops after this many minibatches */
  const nd_train_state *st; /* non-NULL: start from this state and weights */
  const double *w0;
  double *w;                /* out: [hidden, visible] */
  nd_train_state out_state;
  nd_status s;
} rank_ctx;

static int stop_early(const nd_progress_info *info, void *user) {
  const rank_ctx *c = user;
  return c->stop_at > 0 && info->done >= c->stop_at;
}

static void *train(void *arg) {
  rank_ctx *c = arg;
  nd_krotov *k = NULL;
  c->s = nd_krotov_create(&c->cfg, &k);
  if (c->s == ND_OK && c->p.comm.size > 1) c->s = nd_krotov_set_comm(k, &c->p.comm);
  if (c->s == ND_OK && c->st) c->s = nd_krotov_set_state(k, c->st);
  if (c->s == ND_OK && c->w0) c->s = nd_krotov_set_weights_f64(k, c->w0);
  for (int e = 0; c->s == ND_OK && e < c->epochs; e++) {
    c->s = nd_krotov_epoch(k, c->data, N_ROWS, stop_early, c);
    c->stop_at = 0;
  }
  if (c->s == ND_OK) {
    nd_krotov_weights_f64(k, c->w);
    nd_krotov_get_state(k, &c->out_state);
  }
  nd_krotov_free(k);
  return NULL;
}

/* Trains on P ranks; every rank's W into w[r]; returns rank 0's state. */
static nd_train_state run_ranks(int P, const nd_krotov_config *cfg, const float *data, int epochs, int64_t stop_at,
                                const nd_train_state *st, const double *w0, double **w) {
  shared *sh = calloc(1, sizeof *sh);
  assert_non_null(sh);
  pthread_barrier_init(&sh->bar, NULL, (unsigned)P);
  rank_ctx ctx[MAX_RANKS];
  pthread_t th[MAX_RANKS];
  for (int r = 0; r < P; r++) {
    ctx[r] = (rank_ctx){.p.sh = sh, .cfg = *cfg, .data = data, .epochs = epochs, .stop_at = stop_at, .st = st, .w0 = w0,
                        .w = w[r]};
    ctx[r].p.comm = (nd_comm){.rank = r, .size = P, .allgather = gather, .user = &ctx[r].p};
    assert_int_equal(pthread_create(&th[r], NULL, train, &ctx[r]), 0);
  }
  for (int r = 0; r < P; r++) pthread_join(th[r], NULL);
  for (int r = 0; r < P; r++) nd_assert_ok(ctx[r].s);
  if (P > 1) assert_true(ctx[0].p.comm.calls > 0 && ctx[0].p.comm.seconds >= 0);
  pthread_barrier_destroy(&sh->bar);
  free(sh);
  return ctx[0].out_state;
}

static float *make_data(int64_t d) {
  float *x = malloc(sizeof(float) * (size_t)(N_ROWS * d));
  nd_rng r;
  nd_rng_init(&r, 11);
  nd_rng_uniform(&r, x, N_ROWS * d, 0.0f, 1.0f);
  return x;
}

static void check_config(nd_krotov_config cfg) {
  const int64_t n = cfg.hidden * cfg.visible;
  float *data = make_data(cfg.visible);
  double *ref = malloc(sizeof(double) * (size_t)n);
  double *w[MAX_RANKS];
  for (int r = 0; r < MAX_RANKS; r++) w[r] = malloc(sizeof(double) * (size_t)n);
  run_ranks(1, &cfg, data, 2, 0, NULL, NULL, &ref);
  const int counts[] = {2, 3, 4, 7, 20};
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
    int P = counts[i];
    run_ranks(P, &cfg, data, 2, 0, NULL, NULL, w);
    for (int r = 0; r < P; r++)
      if (memcmp(w[r], ref, sizeof(double) * (size_t)n) != 0)
        fail_msg("%d ranks (precision %d, update %d): rank %d's W differs from one process's", P, (int)cfg.precision,
                 (int)cfg.update, r);
  }
  /* the first epoch stopped after 5 minibatches on 4 ranks, finished on 3 */
  nd_train_state st = run_ranks(4, &cfg, data, 1, 5, NULL, NULL, w);
  assert_int_equal(st.epoch, 0);
  assert_int_equal(st.batch, 5);
  double *mid = malloc(sizeof(double) * (size_t)n);
  memcpy(mid, w[0], sizeof(double) * (size_t)n);
  run_ranks(3, &cfg, data, 2, 0, &st, mid, w);
  if (memcmp(w[0], ref, sizeof(double) * (size_t)n) != 0) fail_msg("resumed on 3 ranks: W differs");
  free(mid);
  for (int r = 0; r < MAX_RANKS; r++) free(w[r]);
  free(ref);
  free(data);
}

static nd_krotov_config small(void) {
  nd_krotov_config c = nd_krotov_defaults();
  c.hidden = 60, c.visible = 50, c.batch = 20, c.k = 3, c.p = 3.0, c.epochs = 4, c.seed = 5;
  return c;
}

static void test_krotov_f32_sparse(void **state) {
  (void)state;
  check_config(small());
}

static void test_krotov_f64_sparse(void **state) {
  (void)state;
  nd_krotov_config c = small();
  c.precision = ND_KROTOV_F64;
  check_config(c);
}

static void test_krotov_f32_gemm_p2(void **state) {
  (void)state;
  nd_krotov_config c = small();
  c.update = ND_KROTOV_UPDATE_GEMM, c.p = 2.0, c.k = 2;
  check_config(c);
}

/* ------------------------------------------------------------ top layer */
#define TOP_N 130 /* 4 full minibatches of 30 and a partial one of 10 */
#define TOP_H 24
#define TOP_C 5

typedef struct top_ctx {
  peer p;
  int64_t blocks;
  float dropout;
  const float *f;
  const int32_t *y;
  float s[TOP_C * TOP_H];
  double loss;
  nd_status st;
} top_ctx;

static void *top_train(void *arg) {
  top_ctx *c = arg;
  nd_krotov_top_config cfg = nd_krotov_top_defaults(TOP_H, TOP_C);
  cfg.beta = 0.5f, cfg.dropout = c->dropout, cfg.seed = 3;
  nd_krotov_top *t = NULL;
  nd_optim *opt = NULL;
  c->st = nd_krotov_top_create(&cfg, &t);
  nd_tensor *p = t ? nd_krotov_top_weights(t) : NULL, *g = t ? nd_krotov_top_grad(t) : NULL;
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  if (c->st == ND_OK) c->st = nd_optim_create(&oc, 1, &p, &g, &opt);
  if (c->st == ND_OK) c->st = nd_krotov_top_set_comm(t, c->p.comm.size > 1 ? &c->p.comm : NULL, c->blocks);
  nd_tensor f = nd_tensor_wrap((float *)c->f, 2, ND_SHAPE(TOP_N, TOP_H));
  nd_rng rng;
  nd_rng_init(&rng, 17);
  for (int e = 0; c->st == ND_OK && e < 3; e++) c->st = nd_krotov_top_train_epoch(t, opt, &f, c->y, 30, &rng, &c->loss);
  if (c->st == ND_OK) memcpy(c->s, p->data, sizeof c->s);
  nd_optim_free(opt);
  nd_krotov_top_free(t);
  return NULL;
}

/* P thread-ranks running fn on ctx[0 .. P-1] (each ctx_size bytes, a peer
 * first, filled in by the caller but for the peer), joined. */
static void run_threads(int P, void *ctx, size_t ctx_size, void *(*fn)(void *)) {
  shared *sh = calloc(1, sizeof *sh);
  assert_non_null(sh);
  pthread_barrier_init(&sh->bar, NULL, (unsigned)P);
  pthread_t th[MAX_RANKS];
  for (int r = 0; r < P; r++) {
    peer *p = (peer *)((char *)ctx + (size_t)r * ctx_size);
    p->sh = sh;
    p->comm = (nd_comm){.rank = r, .size = P, .allgather = gather, .user = p};
    assert_int_equal(pthread_create(&th[r], NULL, fn, p), 0);
  }
  for (int r = 0; r < P; r++) pthread_join(th[r], NULL);
  pthread_barrier_destroy(&sh->bar);
  free(sh);
}

static void top_ranks(int P, int64_t blocks, float dropout, const float *f, const int32_t *y, top_ctx *out) {
  top_ctx *ctx = calloc((size_t)P, sizeof *ctx);
  for (int r = 0; r < P; r++) ctx[r] = (top_ctx){.blocks = blocks, .dropout = dropout, .f = f, .y = y};
  run_threads(P, ctx, sizeof *ctx, top_train);
  for (int r = 0; r < P; r++) {
    nd_assert_ok(ctx[r].st);
    if (memcmp(ctx[r].s, ctx[0].s, sizeof ctx[0].s) != 0) fail_msg("%d ranks: rank %d's S differs from rank 0's", P, r);
  }
  *out = ctx[0];
  free(ctx);
}

/* krotov-top: 4 blocks on 1, 2, 3 and 4 ranks give the same S (with and
 * without dropout); the block sum differs from the whole-batch gradient
 * only by rounding (an independent check that the blocks cover the batch). */
static void test_top_blocks(void **state) {
  (void)state;
  float *f = malloc(sizeof(float) * TOP_N * TOP_H);
  int32_t y[TOP_N];
  nd_rng r;
  nd_rng_init(&r, 5);
  nd_rng_uniform(&r, f, TOP_N * TOP_H, 0.0f, 1.0f);
  for (int i = 0; i < TOP_N; i++) y[i] = (int32_t)(nd_rng_uniform1(&r) * TOP_C);
  for (int d = 0; d < 2; d++) {
    float dropout = d ? 0.25f : 0.0f;
    top_ctx whole, ref, got;
    top_ranks(1, 1, dropout, f, y, &whole);
    top_ranks(1, 4, dropout, f, y, &ref);
    for (int P = 2; P <= 4; P++) {
      top_ranks(P, 4, dropout, f, y, &got);
      if (memcmp(got.s, ref.s, sizeof ref.s) != 0) fail_msg("dropout %g: 4 blocks on %d ranks differ from one process", dropout, P);
      assert_true(got.loss == ref.loss);
    }
    nd_assert_arrays_close(ref.s, whole.s, TOP_C * TOP_H, 1e-5, 1e-4, "4 blocks vs the whole batch");
    nd_assert_close(ref.loss, whole.loss, 1e-9, 1e-5);
  }
  free(f);
}

/* train rnn (float64 gradients, nd_grad_sum_f64): 3 blocks on 1, 2 and 3
 * ranks give the same parameters, for a cell with BPTT through stored
 * states (gru) and one that reconstructs them (reversible), on both tasks;
 * the block sum differs from whole minibatches only by rounding (the
 * blocks' weights make the batch mean). */
#define RNN_NP_MAX 4096
typedef struct rnn_ctx {
  peer p;
  nd_rnn_config cfg;
  int64_t blocks;
  double par[RNN_NP_MAX];
  int64_t np;
  double loss, acc;
  nd_status st;
} rnn_ctx;

static void *rnn_train(void *arg) {
  rnn_ctx *c = arg;
  nd_rnn *m = NULL;
  c->st = nd_rnn_create(&c->cfg, &m);
  if (c->st == ND_OK) c->st = nd_rnn_set_comm(m, c->p.comm.size > 1 ? &c->p.comm : NULL, c->blocks);
  for (int e = 0; c->st == ND_OK && e < 2; e++) c->st = nd_rnn_epoch(m, NULL, NULL);
  if (c->st == ND_OK) c->st = nd_rnn_epoch_loss(m, &c->loss, &c->acc);
  c->np = nd_rnn_num_params(m);
  if (c->st == ND_OK && c->np <= RNN_NP_MAX) memcpy(c->par, nd_rnn_params(m), sizeof(double) * (size_t)c->np);
  nd_rnn_free(m);
  return NULL;
}

static void rnn_ranks(int P, int64_t blocks, const nd_rnn_config *cfg, rnn_ctx *out) {
  rnn_ctx *ctx = calloc((size_t)P, sizeof *ctx);
  for (int r = 0; r < P; r++) ctx[r] = (rnn_ctx){.cfg = *cfg, .blocks = blocks};
  run_threads(P, ctx, sizeof *ctx, rnn_train);
  for (int r = 0; r < P; r++) {
    nd_assert_ok(ctx[r].st);
    assert_true(ctx[r].np <= RNN_NP_MAX);
    if (memcmp(ctx[r].par, ctx[0].par, sizeof(double) * (size_t)ctx[0].np) != 0)
      fail_msg("rnn, %d ranks: rank %d's parameters differ from rank 0's", P, r);
  }
  *out = ctx[0];
  free(ctx);
}

static void test_rnn_blocks(void **state) {
  (void)state;
  static rnn_ctx whole, ref, got;
  const nd_rnn_cell cells[2] = {ND_RNN_GRU, ND_RNN_REVERSIBLE};
  for (int k = 0; k < 4; k++) {
    nd_rnn_config c = nd_rnn_defaults();
    c.cell = cells[k / 2], c.task = k % 2 ? ND_RNN_TASK_ADDING : ND_RNN_TASK_COPY;
    c.length = 6, c.hidden = 8, c.batch = 7, c.steps = 3, c.seed = 11;
    assert_int_equal(nd_rnn_task_shape(&c, &(int64_t){0}, &c.inputs, &c.outputs), ND_OK);
    rnn_ranks(1, 1, &c, &whole);
    rnn_ranks(1, 3, &c, &ref);
    for (int P = 2; P <= 3; P++) {
      rnn_ranks(P, 3, &c, &got);
      if (memcmp(got.par, ref.par, sizeof(double) * (size_t)ref.np) != 0)
        fail_msg("rnn case %d: 3 blocks on %d ranks differ from one process", k, P);
      assert_true(got.loss == ref.loss);
    }
    for (int64_t i = 0; i < ref.np; i++) nd_assert_close(ref.par[i], whole.par[i], 1e-12, 1e-9);
    nd_assert_close(ref.loss, whole.loss, 1e-12, 1e-9);
  }
}

static void test_shard(void **state) {
  (void)state;
  for (int size = 1; size <= 9; size++)
    for (int64_t n = 0; n <= 30; n++) {
      int64_t prev = 0;
      for (int r = 0; r < size; r++) {
        int64_t lo, hi;
        nd_comm_shard_of(r, size, n, &lo, &hi);
        assert_int_equal(lo, prev);
        assert_true(hi - lo == n / size || hi - lo == n / size + 1);
        assert_int_equal(lo, n * r / size); /* the documented formula */
        prev = hi;
      }
      assert_int_equal(prev, n);
    }
}

int main(void) {
  setenv("ND_BLAS_GEMM", "blis", 1); /* rows of a product independent of the row count (docs/distributed.md) */
  nd_set_num_threads(1); /* a GEMM's rounding may depend on its thread count: one per "rank", as in the reference */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shard),
      cmocka_unit_test(test_krotov_f32_sparse),
      cmocka_unit_test(test_krotov_f64_sparse),
      cmocka_unit_test(test_krotov_f32_gemm_p2),
      cmocka_unit_test(test_top_blocks),
      cmocka_unit_test(test_rnn_blocks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
