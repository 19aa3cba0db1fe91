/* Gradient exchange overlapped with the backward pass (docs/distributed.md):
 *   - nd_tape_on_grad_ready fires as soon as a leaf's gradient is final: at
 *     the output layer's hook the first layer's gradient is still zero, at
 *     every hook the leaf's gradient already equals the one after the whole
 *     sweep (a separate backward without hooks), and a leaf no op reads gets
 *     its hook after the sweep;
 *   - nd_grad_sum with buckets gives the bytes of one bucket, starts bucket q
 *     as soon as 0..q are ready (never the last before reduce), and never
 *     changes a bucket in flight: the test's non-blocking allgather sends a
 *     snapshot taken at the start, so a late write would change the result;
 *   - the MLP trained on 1..4 thread-ranks with 4 fixed blocks and that
 *     non-blocking comm gives the bytes of one process with 4 blocks and of
 *     the blocking comm, and during each minibatch's backward the buckets
 *     of the upper layers were started before reduce. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nd_test.h"
#include "neurodyn/autodiff.h"
#include "neurodyn/distributed.h"
#include "neurodyn/mlp.h"
#include "neurodyn/optim.h"

#define MAX_RANKS 4

typedef struct shared {
  pthread_barrier_t bar;
  unsigned char buf[1 << 20];
} shared;

typedef struct peer {
  shared *sh;
  nd_comm comm;
  int starts, waits;          /* non-blocking collectives started, waited for */
  const nd_tensor *w0_grad;   /* MLP: the first layer's gradient */
  int early, late;            /* starts while w0_grad was all zero (its layer not differentiated yet), or not */
} peer;

static nd_status gather(const void *send, void *recv, int64_t bytes, void *user) {
  peer *c = user;
  if ((size_t)bytes * (size_t)c->comm.size > sizeof c->sh->buf) return ND_ERR_INVALID_ARG;
  memcpy(c->sh->buf + (size_t)c->comm.rank * (size_t)bytes, send, (size_t)bytes);
  pthread_barrier_wait(&c->sh->bar);
  memcpy(recv, c->sh->buf, (size_t)bytes * (size_t)c->comm.size);
  pthread_barrier_wait(&c->sh->bar);
  return ND_OK;
}

/* Non-blocking: the start keeps a copy of send (what a real transfer would
 * have read by then at the latest); the wait does the gather with it. */
typedef struct fake_req {
  void *copy, *recv;
  int64_t bytes;
} fake_req;

static nd_status igather(const void *send, void *recv, int64_t bytes, nd_comm_request *r, void *user) {
  peer *c = user;
  fake_req f = {malloc((size_t)bytes), recv, bytes};
  if (!f.copy) return ND_ERR_NOMEM;
  memcpy(f.copy, send, (size_t)bytes);
  memcpy(r->opaque.bytes, &f, sizeof f);
  c->starts++;
  if (c->w0_grad) {
    bool zero = true;
    for (int64_t j = 0; j < nd_tensor_numel(c->w0_grad); j++) zero = zero && c->w0_grad->data[j] == 0.0f;
    zero ? c->early++ : c->late++;
  }
  return ND_OK;
}

static nd_status iwait(nd_comm_request *r, bool block, bool *done, void *user) {
  peer *c = user;
  if (!block) { /* a test: not yet (the gather needs every rank) */
    *done = false;
    return ND_OK;
  }
  fake_req f;
  memcpy(&f, r->opaque.bytes, sizeof f);
  nd_status s = gather(f.copy, f.recv, f.bytes, c);
  free(f.copy);
  c->waits++;
  *done = true;
  return s;
}

/* ------------------------------------------------------------ tape hooks */
typedef struct hook_log {
  const nd_tensor *w0_grad, *w1_grad;  /* grads of the first and the output layer */
  const float *want[4];                /* the leaves' gradients after a sweep without hooks */
  const nd_tensor *grad[4];
  int order[8], n;
  bool w0_zero_at_w1;
} hook_log;

typedef struct hook_arg {
  hook_log *log;
  int id;
} hook_arg;

static nd_status on_ready(nd_var *leaf, void *user) {
  hook_arg *a = user;
  hook_log *L = a->log;
  L->order[L->n++] = a->id;
  if (a->id < 4) {
    const nd_tensor *g = L->grad[a->id];
    assert_int_equal(nd_tensor_numel(nd_var_value(leaf)), nd_tensor_numel(g));
    for (int64_t j = 0; j < nd_tensor_numel(g); j++)
      if (g->data[j] != L->want[a->id][j]) fail_msg("hook %d: gradient not final at element %lld", a->id, (long long)j);
  }
  if (a->id == 2) { /* W1, the output layer: W0's gradient must not have been touched yet */
    bool zero = true;
    for (int64_t j = 0; j < nd_tensor_numel(L->w0_grad); j++) zero = zero && L->w0_grad->data[j] == 0.0f;
    L->w0_zero_at_w1 = zero;
  }
  return ND_OK;
}

static void test_tape_hooks(void **state) {
  (void)state;
  nd_rng r;
  nd_rng_init(&r, 3);
  float xv[6 * 5], w0v[4 * 5], b0v[4], w1v[3 * 4], b1v[3], unused[2];
  nd_rng_uniform(&r, xv, 30, -1, 1), nd_rng_uniform(&r, w0v, 20, -1, 1), nd_rng_uniform(&r, b0v, 4, -1, 1);
  nd_rng_uniform(&r, w1v, 12, -1, 1), nd_rng_uniform(&r, b1v, 3, -1, 1);
  int32_t y[6] = {0, 1, 2, 0, 1, 2};
  nd_tensor x = nd_tensor_wrap(xv, 2, ND_SHAPE(6, 5)), p[5] = {nd_tensor_wrap(w0v, 2, ND_SHAPE(4, 5)),
      nd_tensor_wrap(b0v, 1, ND_SHAPE(4)), nd_tensor_wrap(w1v, 2, ND_SHAPE(3, 4)), nd_tensor_wrap(b1v, 1, ND_SHAPE(3)),
      nd_tensor_wrap(unused, 1, ND_SHAPE(2))};
  float gbuf[2][20 + 4 + 12 + 3 + 2];
  nd_tape *tp = nd_test_tape(0);
  for (int pass = 0; pass < 2; pass++) { /* 0: reference without hooks, 1: with */
    memset(gbuf[pass], 0, sizeof gbuf[pass]);
    nd_tensor g[5];
    for (int i = 0, at = 0; i < 5; at += (int)nd_tensor_numel(&p[i]), i++)
      g[i] = nd_tensor_wrap(gbuf[pass] + at, p[i].ndim, p[i].shape);
    nd_tape_reset(tp);
    nd_var *v[5];
    for (int i = 0; i < 5; i++) v[i] = nd_tape_param(tp, &p[i], &g[i]);
    hook_log log = {.w0_grad = &g[0], .w1_grad = &g[2]};
    hook_arg args[5];
    int at = 0;
    for (int i = 0; i < 5; i++) {
      if (i < 4) log.grad[i] = &g[i], log.want[i] = gbuf[0] + at;
      at += (int)nd_tensor_numel(&p[i]);
      args[i] = (hook_arg){&log, i};
      if (pass) nd_assert_ok(nd_tape_on_grad_ready(tp, v[i], on_ready, &args[i]));
    }
    nd_var *h = nd_ad_relu(tp, nd_ad_linear(tp, nd_tape_constant(tp, &x), v[0], v[1]));
    nd_var *loss = nd_ad_cross_entropy(tp, nd_ad_linear(tp, h, v[2], v[3]), y);
    nd_assert_ok(nd_tape_backward(tp, loss));
    if (pass) {
      assert_int_equal(log.n, 5);
      /* the output layer's W1 and b1 first (either order), then W0 and b0, the unread leaf last */
      assert_true((log.order[0] == 2 && log.order[1] == 3) || (log.order[0] == 3 && log.order[1] == 2));
      assert_true((log.order[2] == 0 && log.order[3] == 1) || (log.order[2] == 1 && log.order[3] == 0));
      assert_int_equal(log.order[4], 4);
      assert_true(log.w0_zero_at_w1);
      assert_memory_equal(gbuf[0], gbuf[1], sizeof gbuf[0]); /* the hooks change nothing */
    }
  }
  /* not a leaf: refused */
  nd_tape_reset(tp);
  nd_var *a = nd_ad_scale(tp, nd_tape_param(tp, &p[4], &p[4]), 2.0f);
  assert_int_equal(nd_tape_on_grad_ready(tp, a, on_ready, NULL), ND_ERR_INVALID_ARG);
  nd_tape_free(tp);
}

/* -------------------------------------------------------- bucketed sums */
typedef struct gs_ctx {
  peer p;
  bool nonblocking;
  int64_t blocks;
  float out[3][40];  /* [0] one bucket, [1] three buckets */
  double loss[2];
  int starts_after_ready1; /* collectives started once buckets 0 and 1 were ready */
  nd_status st;
} gs_ctx;

static float value(int64_t block, int64_t i) { return (float)(0.1 * (double)(block + 1) + 0.37 * (double)i) * 1.0001f; }

static void *gs_rank(void *arg) {
  gs_ctx *c = arg;
  nd_comm *comm = c->p.comm.size > 1 ? &c->p.comm : NULL;
  const int64_t n[3] = {7, 20, 13};
  for (int form = 0; form < 2 && c->st == ND_OK; form++) {
    nd_grad_sum *g = NULL;
    int64_t total = 40;
    c->st = form ? nd_grad_sum_create_buckets(comm, c->blocks, 3, n, &g) : nd_grad_sum_create(comm, c->blocks, total, &g);
    if (c->st != ND_OK) return NULL;
    int64_t b0, b1;
    nd_grad_sum_mine(g, &b0, &b1);
    for (int round = 0; round < 2 && c->st == ND_OK; round++) {
      for (int64_t b = b0; b < b1; b++) {
        double *loss;
        if (!form) {
          float *s = nd_grad_sum_slot(g, b, &loss);
          for (int64_t i = 0; i < total; i++) s[i] = value(b, i) + (float)round;
        } else {
          for (int q = 0, at = 0; q < 3; at += (int)n[q], q++) {
            float *s = nd_grad_sum_bucket(g, b, q, q == 2 ? &loss : NULL);
            for (int64_t i = 0; i < n[q]; i++) s[i] = value(b, at + i) + (float)round;
          }
          assert_null(nd_grad_sum_slot(g, b, NULL)); /* several buckets: no single slot */
        }
        *loss = 0.5 * (double)b + round;
      }
      if (form) {
        int before = c->p.starts;
        c->st = nd_grad_sum_ready(g, 1); /* 1 before 0: nothing may start */
        if (c->st == ND_OK && c->p.starts != before) fail_msg("bucket 1 started before bucket 0 was ready");
        if (c->st == ND_OK) c->st = nd_grad_sum_ready(g, 0);
        c->starts_after_ready1 = c->p.starts - before;
        if (c->st == ND_OK) c->st = nd_grad_sum_ready(g, 2); /* the last waits for reduce */
        if (c->st == ND_OK && c->p.starts - before != c->starts_after_ready1) fail_msg("the last bucket started early");
        /* writes after a bucket started must not reach the sum: the test's
         * start took a copy, so spoil the send buffers of buckets 0, 1 */
        if (c->nonblocking && comm)
          for (int64_t b = b0; b < b1; b++)
            for (int q = 0; q < 2; q++) nd_grad_sum_bucket(g, b, q, NULL)[0] = 1e9f;
      }
      if (c->st == ND_OK) c->st = nd_grad_sum_reduce(g, c->out[form], &c->loss[form]);
    }
    nd_grad_sum_free(g);
  }
  return NULL;
}

static void gs_ranks(int P, int64_t blocks, bool nonblocking, gs_ctx *out) {
  shared *sh = calloc(1, sizeof *sh);
  assert_non_null(sh);
  pthread_barrier_init(&sh->bar, NULL, (unsigned)P);
  gs_ctx *ctx = calloc((size_t)P, sizeof *ctx);
  pthread_t th[MAX_RANKS];
  for (int r = 0; r < P; r++) {
    ctx[r].p.sh = sh, ctx[r].blocks = blocks, ctx[r].nonblocking = nonblocking;
    ctx[r].p.comm = (nd_comm){.rank = r, .size = P, .allgather = gather, .user = &ctx[r].p};
    if (nonblocking) ctx[r].p.comm.iallgather = igather, ctx[r].p.comm.wait = iwait;
    assert_int_equal(pthread_create(&th[r], NULL, gs_rank, &ctx[r]), 0);
  }
  for (int r = 0; r < P; r++) pthread_join(th[r], NULL);
  for (int r = 0; r < P; r++) {
    nd_assert_ok(ctx[r].st);
    assert_memory_equal(ctx[r].out, ctx[0].out, sizeof ctx[0].out);
  }
  *out = ctx[0];
  pthread_barrier_destroy(&sh->bar);
  free(ctx);
  free(sh);
}

static void test_buckets(void **state) {
  (void)state;
  /* the independent reference: the block sum in block order, in float32 */
  float want[40];
  for (int64_t i = 0; i < 40; i++) {
    want[i] = value(0, i) + 1.0f;
    for (int64_t b = 1; b < 4; b++) want[i] += value(b, i) + 1.0f;
  }
  for (int P = 1; P <= MAX_RANKS; P++)
    for (int nb = 0; nb < 2; nb++) {
      gs_ctx c;
      gs_ranks(P, 4, nb, &c);
      assert_memory_equal(c.out[0], want, sizeof want);
      assert_memory_equal(c.out[1], want, sizeof want);
      assert_true(c.loss[0] == 0.5 * (0 + 1 + 2 + 3) + 4 && c.loss[1] == c.loss[0]);
      if (P > 1 && nb) {
        assert_int_equal(c.starts_after_ready1, 2); /* buckets 0 and 1 on their way before reduce */
        assert_int_equal(c.p.starts, 2 * (1 + 3));  /* per round: one bucket, then three */
        assert_int_equal(c.p.waits, c.p.starts);
      }
    }
}

/* -------------------------------------------------------------- the MLP */
#define MLP_N 64
#define MLP_D 12

typedef struct mlp_ctx {
  peer p;
  bool nonblocking;
  int64_t blocks;
  const float *x;
  const int32_t *y;
  float w[MLP_D * 16 + 16 + 16 * 8 + 8 + 8 * 3 + 3];
  double loss;
  int starts_per_epoch;
  nd_status st;
} mlp_ctx;

static void *mlp_rank(void *arg) {
  mlp_ctx *c = arg;
  nd_mlp_config cfg = nd_mlp_defaults(4, ND_SHAPE(MLP_D, 16, 8, 3));
  cfg.seed = 4;
  nd_mlp *m = NULL;
  nd_optim *opt = NULL;
  c->st = nd_mlp_create(&cfg, &m);
  if (c->st == ND_OK && c->nonblocking) c->p.w0_grad = nd_mlp_grad(m, 0); /* layers.0.weight */
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  if (c->st == ND_OK) c->st = nd_optim_create(&oc, nd_mlp_num_params(m), nd_mlp_params(m), nd_mlp_grads(m), &opt);
  if (c->st == ND_OK) c->st = nd_mlp_set_comm(m, c->p.comm.size > 1 ? &c->p.comm : NULL, c->blocks);
  nd_rng rng;
  nd_rng_init(&rng, 11);
  for (int e = 0; c->st == ND_OK && e < 2; e++) c->st = nd_mlp_train_epoch(m, opt, c->x, c->y, MLP_N, 16, &rng, &c->loss);
  c->starts_per_epoch = c->p.starts / 2;
  for (int i = 0, at = 0; c->st == ND_OK && i < nd_mlp_num_params(m); i++) {
    const nd_tensor *t = nd_mlp_param(m, i);
    memcpy(c->w + at, t->data, sizeof(float) * (size_t)nd_tensor_numel(t));
    at += (int)nd_tensor_numel(t);
  }
  nd_optim_free(opt);
  nd_mlp_free(m);
  return NULL;
}

static void mlp_ranks(int P, int64_t blocks, bool nonblocking, const float *x, const int32_t *y, mlp_ctx *out) {
  shared *sh = calloc(1, sizeof *sh);
  assert_non_null(sh);
  pthread_barrier_init(&sh->bar, NULL, (unsigned)P);
  mlp_ctx *ctx = calloc((size_t)P, sizeof *ctx);
  pthread_t th[MAX_RANKS];
  for (int r = 0; r < P; r++) {
    ctx[r].p.sh = sh, ctx[r].blocks = blocks, ctx[r].nonblocking = nonblocking, ctx[r].x = x, ctx[r].y = y;
    ctx[r].p.comm = (nd_comm){.rank = r, .size = P, .allgather = gather, .user = &ctx[r].p};
    if (nonblocking) ctx[r].p.comm.iallgather = igather, ctx[r].p.comm.wait = iwait;
    assert_int_equal(pthread_create(&th[r], NULL, mlp_rank, &ctx[r]), 0);
  }
  for (int r = 0; r < P; r++) pthread_join(th[r], NULL);
  for (int r = 0; r < P; r++) {
    nd_assert_ok(ctx[r].st);
    if (memcmp(ctx[r].w, ctx[0].w, sizeof ctx[0].w) != 0) fail_msg("%d ranks: rank %d's weights differ from rank 0's", P, r);
  }
  *out = ctx[0];
  pthread_barrier_destroy(&sh->bar);
  free(ctx);
  free(sh);
}

static void test_mlp_overlap(void **state) {
  (void)state;
  float *x = malloc(sizeof(float) * MLP_N * MLP_D);
  int32_t y[MLP_N];
  nd_rng r;
  nd_rng_init(&r, 8);
  nd_rng_uniform(&r, x, MLP_N * MLP_D, -1.0f, 1.0f);
  for (int i = 0; i < MLP_N; i++) y[i] = (int32_t)(nd_rng_uniform1(&r) * 3);
  mlp_ctx ref, whole, got;
  mlp_ranks(1, 4, false, x, y, &ref);
  mlp_ranks(1, 1, false, x, y, &whole);
  for (int P = 2; P <= MAX_RANKS; P++)
    for (int nb = 0; nb < 2; nb++) {
      mlp_ranks(P, 4, nb, x, y, &got);
      if (memcmp(got.w, ref.w, sizeof ref.w) != 0)
        fail_msg("%d ranks (%s): weights differ from one process with 4 blocks", P, nb ? "non-blocking" : "blocking");
      assert_true(got.loss == ref.loss);
      /* 4 minibatches of 16 rows, 3 layers: buckets of layers 2 and 1 started by the backward's hooks, layer 0 by reduce */
      if (nb) {
        assert_int_equal(got.starts_per_epoch, 4 * 3);
        assert_int_equal(got.p.early, 2 * 4 * 2); /* during the backward, before layer 0's gradient */
        assert_int_equal(got.p.late, 4 * 2);
      }
    }
  /* the blocks only change float32 rounding against the whole batch (an independent check that they cover it) */
  nd_assert_arrays_close(ref.w, whole.w, (int64_t)(sizeof ref.w / sizeof ref.w[0]), 1e-5, 1e-4, "4 blocks vs the whole batch");
  free(x);
}

int main(void) {
  setenv("ND_BLAS_GEMM", "blis", 1); /* rows of a product independent of the row count (docs/distributed.md) */
  nd_set_num_threads(1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tape_hooks),
      cmocka_unit_test(test_buckets),
      cmocka_unit_test(test_mlp_overlap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
