/* The rnn family's training verbs: an epoch of task minibatches drawn from
 * the model's stream, validation, the train state (docs/architecture.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "rnn_internal.h"

/* The task's next minibatch from *rng into m->task (streamed: O(B) memory). */
static nd_status draw(nd_rnn *m, nd_rng *rng) {
  int64_t T, in, out;
  ND_TRY(nd_rnn_task_shape(&m->c, &T, &in, &out));
  if (in != m->c.inputs || out != m->c.outputs)
    return nd__error(ND_ERR_SHAPE, "rnn: the task has %lld inputs and %lld outputs, the model %lld and %lld", (long long)in,
                     (long long)out, (long long)m->c.inputs, (long long)m->c.outputs);
  return nd__rnn_stream_draw(&m->task, rng, m->c.task, m->c.length, m->c.batch);
}

nd_status nd_rnn_set_comm(nd_rnn *m, nd_comm *c, int64_t blocks) {
  if (!m) return nd__error(ND_ERR_INVALID_ARG, "rnn: model is NULL");
  int size = c ? c->size : 1;
  if (blocks < size || blocks > m->c.batch * 1024)
    return nd__error(ND_ERR_INVALID_ARG, "rnn: %lld blocks for %d processes and minibatches of %lld (need processes .. 1024 x batch)",
                     (long long)blocks, size, (long long)m->c.batch);
  free(m->gs_mine), free(m->gs_recv), free(m->gs_out);
  m->gs_mine = m->gs_recv = m->gs_out = NULL;
  m->comm = c, m->gs_blocks = 0;
  if (size <= 1 && blocks <= 1) return ND_OK;
  int64_t W = m->np + 2, per = nd_grad_sum_f64_per(c, blocks);
  m->gs_mine = malloc(sizeof(double) * (size_t)(per * W));
  m->gs_recv = malloc(sizeof(double) * (size_t)(size * per * W));
  m->gs_out = malloc(sizeof(double) * (size_t)W);
  if (!m->gs_mine || !m->gs_recv || !m->gs_out) return nd__error(ND_ERR_NOMEM, "rnn: out of memory for the block gradients");
  m->gs_blocks = blocks;
  return ND_OK;
}

/* The minibatch in m->task, data-parallel: this rank's blocks of its rows,
 * each gradient weighted by the block's share of the rows (the losses are
 * means over rows with the same number of scored entries each), with the
 * weighted loss and accuracy, summed over every block in block order
 * (float64, nd_grad_sum_f64) into m->g, *loss, *acc. */
static nd_status block_grads(nd_rnn *m, double *loss, double *acc) {
  const nd__rnn_stream all = m->task;
  const int64_t np = m->np, W = np + 2;
  int64_t lo, hi;
  nd_comm_shard(m->comm, m->gs_blocks, &lo, &hi);
  nd_status s = ND_OK;
  for (int64_t b = lo; s == ND_OK && b < hi; b++) {
    double *slot = m->gs_mine + (b - lo) * W;
    int64_t r0, r1;
    nd_comm_shard_of((int)b, (int)m->gs_blocks, all.B, &r0, &r1);
    memset(slot, 0, sizeof(double) * (size_t)W);
    if (r1 == r0) continue;
    double l, a, w = (double)(r1 - r0) / (double)all.B;
    m->task = nd__rnn_stream_rows(&all, r0, r1);
    s = nd__rnn_task_run(m, true, &l, &a);
    for (int64_t i = 0; i < np; i++) slot[i] = w * m->g[i];
    slot[np] = w * l, slot[np + 1] = isnan(a) ? 0 : w * a;
  }
  m->task = all;
  ND_TRY(s);
  ND_TRY(nd_grad_sum_f64(m->comm, m->gs_blocks, W, m->gs_mine, m->gs_recv, m->gs_out));
  memcpy(m->g, m->gs_out, sizeof(double) * (size_t)np);
  *loss = m->gs_out[np];
  *acc = m->c.task == ND_RNN_TASK_COPY ? m->gs_out[np + 1] : NAN;
  return ND_OK;
}

nd_status nd_rnn_epoch(nd_rnn *m, nd_progress_fn progress, void *user) {
  if (!m) return nd__error(ND_ERR_INVALID_ARG, "rnn: model is NULL");
  if (m->batch_done == 0) m->ep_loss = m->ep_acc = 0;
  while (m->batch_done < m->c.steps) {
    double loss, acc;
    ND_TRY(draw(m, &m->rng));
    ND_TRY(m->gs_blocks ? block_grads(m, &loss, &acc) : nd__rnn_task_run(m, true, &loss, &acc));
    ND_TRY(nd_rnn_adam_step(m));
    m->ep_loss += loss, m->ep_acc += isnan(acc) ? 0 : acc;
    m->batch_done++;
    nd_progress_info info = {.epoch = m->epoch, .done = m->batch_done, .total = m->c.steps};
    bool last = m->batch_done == m->c.steps;
    if (last) m->epoch++, m->batch_done = 0;
    if (progress && progress(&info, user) && !last) return ND_OK;
    if (last) break;
  }
  return ND_OK;
}

nd_status nd_rnn_epoch_loss(const nd_rnn *m, double *loss, double *accuracy) {
  if (!m || !loss || !accuracy) return nd__error(ND_ERR_INVALID_ARG, "rnn: NULL argument");
  /* after an epoch ends batch_done is 0 and the sums are the whole epoch's */
  int64_t k = m->batch_done ? m->batch_done : m->c.steps;
  *loss = m->ep_loss / (double)k;
  *accuracy = m->c.task == ND_RNN_TASK_COPY ? m->ep_acc / (double)k : NAN;
  return ND_OK;
}

nd_status nd_rnn_evaluate(nd_rnn *m, nd_rnn_split split, int64_t batches, double *loss, double *accuracy) {
  if (!m || !loss || !accuracy) return nd__error(ND_ERR_INVALID_ARG, "rnn: NULL argument");
  if ((unsigned)split > ND_RNN_TEST) return nd__error(ND_ERR_INVALID_ARG, "rnn: split = %d unknown", (int)split);
  if (batches < 1 || batches > 1000000) return nd__error(ND_ERR_INVALID_ARG, "rnn: evaluate batches = %lld, expected >= 1", (long long)batches);
  nd_rng root;
  nd_rng_init(&root, m->c.seed);
  nd_rng r = nd_rng_split(&root, 3 + (uint64_t)split); /* validation 3, test 4; training is 2 */
  double sl = 0, sa = 0;
  for (int64_t i = 0; i < batches; i++) {
    double l, a;
    ND_TRY(draw(m, &r));
    ND_TRY(nd__rnn_task_run(m, false, &l, &a));
    sl += l, sa += isnan(a) ? 0 : a;
  }
  *loss = sl / (double)batches;
  *accuracy = m->c.task == ND_RNN_TASK_COPY ? sa / (double)batches : NAN;
  return ND_OK;
}

nd_status nd_rnn_get_state(const nd_rnn *m, nd_train_state *st) {
  if (!m || !st) return nd__error(ND_ERR_INVALID_ARG, "rnn: NULL argument");
  /* mid-epoch: the stream as it is now (the minibatches already drawn are past it) */
  *st = (nd_train_state){.epoch = m->epoch, .batch = m->batch_done, .rng_key = m->rng.key, .rng_counter = m->rng.counter};
  return ND_OK;
}

nd_status nd_rnn_set_state(nd_rnn *m, const nd_train_state *st) {
  if (!m || !st) return nd__error(ND_ERR_INVALID_ARG, "rnn: NULL argument");
  if (st->epoch < 0 || st->batch < 0 || st->batch >= m->c.steps)
    return nd__error(ND_ERR_INVALID_ARG, "rnn: state epoch %lld, batch %lld, expected batch in 0..%lld", (long long)st->epoch,
                     (long long)st->batch, (long long)m->c.steps - 1);
  m->epoch = st->epoch, m->batch_done = st->batch;
  m->rng = (nd_rng){st->rng_key, st->rng_counter};
  return ND_OK;
}

nd_status nd_rnn_inverse_check(nd_rnn *m, nd_rnn_split split, double *grad_err, double *step_rmse, double *drift) {
  if (!m || !grad_err || !step_rmse || !drift) return nd__error(ND_ERR_INVALID_ARG, "rnn: NULL argument");
  if ((unsigned)split > ND_RNN_TEST) return nd__error(ND_ERR_INVALID_ARG, "rnn: split = %d unknown", (int)split);
  nd_rng root;
  nd_rng_init(&root, m->c.seed);
  nd_rng r = nd_rng_split(&root, 3 + (uint64_t)split); /* the split's first minibatch */
  ND_TRY(draw(m, &r));
  return nd__rnn_inverse_check(m, grad_err, step_rmse, drift);
}
