/* Spiking neural networks: recurrent networks of leaky integrate-and-fire
 * (LIF) and adaptive LIF (ALIF) neurons, simulated on a fixed time grid with
 * exact exponential integration, batched over independent trials.
 *
 * Units: time in ms, voltages in mV, and currents as R*I (mV), so the
 * membrane resistance is 1.  For neuron j of batch row b, per step of dt:
 *
 *   alpha = exp(-dt/tau_m), kappa = exp(-dt/tau_syn), rho = exp(-dt/tau_a)
 *
 *   LIF membrane, tau_m dV/dt = -(V - v_rest) + I_ext + I_syn
 *   (Gerstner et al., "Neuronal Dynamics", 2014, Eq. 1.5), integrated exactly
 *   over one step with I_ext held constant and I_syn decaying exponentially
 *   (Rotter & Diesmann 1999, Biol. Cybern. 81:381, the exact propagator):
 *
 *     V' = v_rest + alpha (V - v_rest) + (1 - alpha) I_ext + P21 I_syn + r_delta + noise
 *     P21 = tau_syn / (tau_syn - tau_m) (kappa - alpha)      (tau_syn != tau_m)
 *         = (dt / tau_m) alpha                               (tau_syn == tau_m)
 *     I_syn' = kappa I_syn + r_exp
 *
 *   r = x_t W_in + z_{t-1} W_rec is the synaptic input of the step (the
 *   spikes of the previous step, so every connection has a delay of one
 *   step).  With synapse = ND_SNN_SYN_DELTA it is a jump of V by r mV
 *   (r_delta = r, as NEST's iaf_psc_delta); with ND_SNN_SYN_EXP it is a jump
 *   of I_syn (r_exp = r; NEST's iaf_psc_exp).
 *
 *   noise: the membrane is an Ornstein-Uhlenbeck process whose free
 *   stationary standard deviation is noise_std: noise = noise_std
 *   sqrt(1 - alpha^2) xi, xi ~ N(0, 1) (exact OU update; Gillespie 1996,
 *   Phys. Rev. E 54:2084, Eq. 1.3).
 *
 *   Threshold: A = v_th (LIF) or A = v_th + beta a (ALIF, Bellec et al. 2018,
 *   "Long short-term memory and learning-to-learn in networks of spiking
 *   neurons", NeurIPS, Eq. 1-2: B_j(t) = b0 + beta b_j(t)), with a updated
 *   after the spike decision: a' = rho a + z (the form of Bellec et al. 2020,
 *   Nat. Commun. 11:3625, Methods: a counts recent spikes whatever dt is;
 *   the 2018 paper's b' = rho b + (1 - rho) z is the same model with
 *   b = (1 - rho) a, i.e. beta_2018 = beta / (1 - rho)).
 *
 *   Spike: z = 1 if V' >= A and the neuron is not refractory.  Reset:
 *   ND_SNN_RESET_ZERO sets V' = v_reset (Brunel 2000); ND_SNN_RESET_SUBTRACT
 *   subtracts the threshold, V' -= A (Bellec et al. 2018).  A spike makes the
 *   neuron refractory for n_ref = round(t_ref / dt) steps: during them V is
 *   held (not integrated, no spike) while I_syn and a evolve.
 *
 * Recurrent weights W_rec [N_pre, N_post] (row j: the targets of neuron j)
 * are held dense, sparse (rows of (target, weight) pairs, CSR), or both.  The
 * recurrent input of a step is either one GEMM over the batch, Z [B, N] W_rec
 * (dense), or event-driven: for each neuron that spiked, its row added into
 * its batch row's input (the sparse rows if present, else the dense row).
 * ND_SNN_REC_AUTO takes the GEMM when dense weights are present and more
 * than gemm_fraction of B*N neurons spiked (the crossover measured in
 * bench/bench_snn.c; docs/spiking.md). */
#ifndef NEURODYN_SNN_H
#define NEURODYN_SNN_H

#include "neurodyn/checkpoint.h"
#include "neurodyn/core.h"
#include "neurodyn/distributed.h"
#include "neurodyn/rng.h"
#include "neurodyn/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nd_snn_model { ND_SNN_LIF = 0, ND_SNN_ALIF = 1 } nd_snn_model;
typedef enum nd_snn_reset { ND_SNN_RESET_ZERO = 0, ND_SNN_RESET_SUBTRACT = 1 } nd_snn_reset;
typedef enum nd_snn_synapse {
  ND_SNN_SYN_DELTA = 0, /* a spike moves V by its weight (mV) */
  ND_SNN_SYN_EXP = 1    /* a spike adds its weight to an exponentially decaying current */
} nd_snn_synapse;
typedef enum nd_snn_rec_mode {
  ND_SNN_REC_AUTO = 0,  /* GEMM above gemm_fraction spiking (dense weights needed), else events */
  ND_SNN_REC_GEMM = 1,  /* always Z W_rec (dense weights needed) */
  ND_SNN_REC_EVENT = 2  /* always the rows of the neurons that spiked */
} nd_snn_rec_mode;

typedef struct nd_snn_config {
  int64_t neurons; /* N >= 1 */
  int64_t inputs;  /* N_in >= 0 (0: no input layer) */
  int64_t batch;   /* B >= 1 independent trials sharing the weights */
  double dt_ms;      /* 0.1 */
  double tau_m_ms;   /* 20 (Brunel 2000) */
  double tau_syn_ms; /* 5, used by ND_SNN_SYN_EXP */
  double tau_a_ms;   /* 200, ALIF adaptation time constant (Bellec et al. 2018 use 200-1200 ms) */
  double t_ref_ms;   /* 2 (Brunel 2000); rounded to whole steps */
  double v_rest;     /* 0 mV */
  double v_th;       /* 20 mV (Brunel 2000) */
  double v_reset;    /* 10 mV (Brunel 2000), used by ND_SNN_RESET_ZERO */
  double beta;       /* 1 mV: ALIF threshold increase per recent spike (a += 1 per spike) */
  double i_ext;      /* constant external drive R*I (mV) added to every neuron; 0 */
  double noise_std;  /* stationary membrane noise (mV); 0 */
  nd_snn_model model;
  nd_snn_reset reset;
  nd_snn_synapse synapse;
  nd_snn_rec_mode rec_mode;
  double gemm_fraction; /* ND_SNN_REC_AUTO crossover, fraction of B*N spiking; 0.02 */
  uint64_t seed;        /* noise stream */
} nd_snn_config;

typedef struct nd_snn nd_snn;

ND_API nd_snn_config nd_snn_defaults(void);
ND_API nd_status nd_snn_config_check(const nd_snn_config *c);
/* Allocates every buffer; weights start at zero, state at rest. */
ND_API nd_status nd_snn_create(const nd_snn_config *c, nd_snn **out);
ND_API void nd_snn_free(nd_snn *net);
ND_API const nd_snn_config *nd_snn_get_config(const nd_snn *net); /* NULL for NULL */

/* Dense recurrent weights w [N, N] (w[j*N + i]: from j to i), copied; the
 * sparse rows are rebuilt from its non-zeros. */
ND_API nd_status nd_snn_set_recurrent(nd_snn *net, const float *w);
/* A random network without dense weights (for large N): every ordered pair
 * j != i is connected with probability p (independently); neurons
 * 0 .. round(frac_exc N) - 1 are excitatory with weight w_exc, the others
 * inhibitory with weight w_inh (Brunel 2000, J and -g J).  Drawn from
 * nd_rng_split(seed, 7); any dense weights are dropped. */
ND_API nd_status nd_snn_set_recurrent_random(nd_snn *net, double p, double frac_exc, float w_exc, float w_inh,
                                             uint64_t seed);
/* Number of recurrent synapses held (non-zeros), -1 for NULL. */
ND_API int64_t nd_snn_synapse_count(const nd_snn *net);
/* Targets of neuron j (its synapses; a spike of j is that many synaptic
 * events); -1 and the error set for NULL or j out of range. */
ND_API int64_t nd_snn_out_degree(const nd_snn *net, int64_t j);
/* Input weights w_in [N_in, N] (w_in[k*N + i]: from input k to neuron i), copied. */
ND_API nd_status nd_snn_set_input(nd_snn *net, const float *w_in);

/* State to rest: V = v_rest, I_syn = a = 0, no spikes, not refractory; the
 * noise stream restarts from the seed. */
ND_API nd_status nd_snn_reset_state(nd_snn *net);

/* One step.  x [B, N_in] is the input of the step (NULL: none); i_ext
 * [B, N] an extra external current for every neuron (NULL: none), added to
 * config.i_ext.  Afterwards nd_snn_spikes holds z of this step. */
ND_API nd_status nd_snn_step(nd_snn *net, const float *x, const float *i_ext);

/* Views of the state (valid until the next step or free; NULL for NULL):
 * [B, N] float arrays, spikes as 0/1. */
ND_API const float *nd_snn_voltage(const nd_snn *net);
ND_API const float *nd_snn_current(const nd_snn *net);    /* I_syn (zeros for delta synapses) */
ND_API const float *nd_snn_adaptation(const nd_snn *net); /* a (zeros for LIF) */
ND_API const float *nd_snn_spikes(const nd_snn *net);
/* The neurons of batch row b that spiked in the last step, ascending;
 * *count set (0 with NULL returned for a bad argument, error set). */
ND_API const int32_t *nd_snn_spike_list(const nd_snn *net, int64_t b, int64_t *count);
/* Steps taken since the last reset, and how many used the GEMM (-1 for NULL). */
ND_API int64_t nd_snn_steps(const nd_snn *net);
ND_API int64_t nd_snn_gemm_steps(const nd_snn *net);


/* ------------------------------------------------------------------ training
 * Recurrent networks trained by surrogate-gradient BPTT (Neftci, Mostafa &
 * Zenke 2019, IEEE Signal Process. Mag. 36(6):51) or by e-prop (Bellec et
 * al. 2020, Nat. Commun. 11:3625), in the discrete-time form of Bellec et
 * al. 2020 (Methods, Eq. 6-7 and 21-25; docs/spiking.md).  Per step t = 1..T,
 * batch row b, neuron j (dimensionless units, dt = dt_ms):
 *
 *   v_t = alpha v_{t-1} + x_t W_in + z_{t-1} W_rec - v_th sg(z_{t-1})
 *   a_t = rho a_{t-1} + z_{t-1}                    (ALIF; LIF: a = 0)
 *   z_t = H((v_t - A_t) / v_th),  A_t = v_th + beta a_t
 *   y_t = kappa y_{t-1} + z_t W_out + b_out        (leaky readout; kappa = 0 if tau_out_ms = 0)
 *
 * alpha = e^{-dt/tau_m}, rho = e^{-dt/tau_a}, kappa = e^{-dt/tau_out}.  The
 * reset is not differentiated (sg: stop-gradient), in BPTT as in e-prop
 * (Bellec et al. 2020 do the same; Zenke & Vogels 2021, Neural Comput.
 * 33:899 find it helps).  H's derivative is replaced by the pseudo-derivative
 * psi_t = (gamma / v_th) f((v_t - A_t)/v_th) with f one of
 *   triangle      max(0, 1 - |x|)          (Bellec et al. 2018, 2020)
 *   fast sigmoid  1 / (1 + slope |x|)^2    (Zenke & Ganguli 2018, SuperSpike)
 *   arctan        1 / (1 + (pi slope x)^2) (Fang et al. 2021, SpikingJelly's ATan)
 * With smooth = true the forward pass itself uses z = gamma F(x), F' = f
 * (the smoothed model, whose exact gradient BPTT then computes; the
 * gradcheck of tests/test_snn_train.c).
 *
 * ND_SNN_UNIT_RATE is the plain (non-spiking) leaky RNN of the same form:
 * z_t = tanh(v_t), no reset, no threshold; psi = 1 - z^2 exactly.
 *
 * Loss: softmax cross-entropy of y_t at the steps with a label >= 0, the
 * mean over those (b, t).  e-prop (Bellec et al. 2020, Eq. 4, 13-14, 24-25):
 * eligibility vectors eps_v (the presynaptic trace alpha eps_v + pre) and,
 * for ALIF, eps_a (rho eps_a + e_{t-1}); eligibility traces
 * e_t = psi_t (eps_v - beta eps_a); learning signal
 * L_t = (pi_t - pi*_t) B^T with B = W_out^T (symmetric) or a fixed random
 * matrix; dW = sum_t L_t * (e_t filtered by kappa).  Memory O(B N (N_in+N)),
 * independent of T; BPTT stores z, psi and the readout error of every step. */

typedef enum nd_snn_unit { ND_SNN_UNIT_LIF = 0, ND_SNN_UNIT_ALIF = 1, ND_SNN_UNIT_RATE = 2 } nd_snn_unit;
typedef enum nd_snn_surrogate {
  ND_SNN_SURR_FAST_SIGMOID = 0,
  ND_SNN_SURR_TRIANGLE = 1,
  ND_SNN_SURR_ARCTAN = 2
} nd_snn_surrogate;
typedef enum nd_snn_method { ND_SNN_BPTT = 0, ND_SNN_EPROP = 1 } nd_snn_method;
typedef enum nd_snn_feedback { ND_SNN_FEEDBACK_SYMMETRIC = 0, ND_SNN_FEEDBACK_RANDOM = 1 } nd_snn_feedback;

typedef struct nd_snn_learn_config {
  nd_snn_unit unit;        /* ND_SNN_UNIT_ALIF */
  int64_t inputs, neurons, outputs; /* N_in >= 1, N >= 1, K >= 2 */
  int64_t batch;           /* B rows per minibatch (a call may use fewer); 32 */
  double dt_ms;            /* 1 */
  double tau_m_ms;         /* 20 */
  double tau_a_ms;         /* 200 (ALIF) */
  double tau_out_ms;       /* 20; 0: no readout leak (kappa = 0) */
  double v_th;             /* 0.6 (Bellec et al. 2020) */
  double beta;             /* 1.8 (Bellec et al. 2018, LSNN) */
  double gamma;            /* 0.3, the pseudo-derivative's dampening (Bellec et al. 2018) */
  double slope;            /* 1: fast sigmoid and arctan width */
  nd_snn_surrogate surrogate; /* ND_SNN_SURR_TRIANGLE */
  nd_snn_method method;    /* ND_SNN_BPTT */
  nd_snn_feedback feedback;/* ND_SNN_FEEDBACK_SYMMETRIC (e-prop) */
  bool smooth;             /* forward through gamma F(x) instead of H (tests) */
  bool reset_grad;         /* BPTT also differentiates the reset (false: stop-gradient, as e-prop) */
  double w_in_scale, w_rec_scale; /* init N(0, s^2 / fan_in); 1, 1 */
  double lr;               /* Adam learning rate, 1e-3 */
  double clip;             /* global gradient-norm clip, 0: off */
  uint64_t seed;           /* initial weights, random feedback */
} nd_snn_learn_config;

typedef struct nd_snn_learner nd_snn_learner;

/* A minibatch: x [T, B, N_in] time-major, labels [T, B] (-1: not scored). */
typedef struct nd_snn_seq {
  int64_t T, B;
  const float *x;
  const int32_t *labels;
} nd_snn_seq;

ND_API nd_snn_learn_config nd_snn_learn_defaults(void);
ND_API nd_status nd_snn_learn_config_check(const nd_snn_learn_config *c);
ND_API nd_status nd_snn_learner_create(const nd_snn_learn_config *c, nd_snn_learner **out);
ND_API void nd_snn_learner_free(nd_snn_learner *l);
ND_API const nd_snn_learn_config *nd_snn_learner_config(const nd_snn_learner *l);

/* The parameters and their gradients: W_in [N_in, N], W_rec [N, N] (from row
 * to column; diagonal 0 at init), W_out [N, K], b_out [K]; the random
 * feedback matrix [N, K] (NULL unless feedback = random). */
typedef struct nd_snn_params {
  float *w_in, *w_rec, *w_out, *b_out;
} nd_snn_params;
ND_API nd_status nd_snn_learner_params(nd_snn_learner *l, nd_snn_params *p, nd_snn_params *grad);
ND_API float *nd_snn_learner_feedback(nd_snn_learner *l);
ND_API nd_status nd_snn_learner_set_method(nd_snn_learner *l, nd_snn_method m);

/* The gradient of the mean loss over the minibatch by the configured method,
 * into the gradient buffers (overwritten); *loss, *accuracy (fraction of
 * scored steps whose argmax is the label; may be NULL), *rate (mean spikes
 * per neuron and step; may be NULL). */
ND_API nd_status nd_snn_learner_grad(nd_snn_learner *l, const nd_snn_seq *s, double *loss, double *accuracy,
                                     double *rate);
/* Forward only (allocates nothing that grows with T). */
ND_API nd_status nd_snn_learner_eval(nd_snn_learner *l, const nd_snn_seq *s, double *loss, double *accuracy,
                                     double *rate);
/* Clip (config.clip) and one Adam step along the gradient. */
ND_API nd_status nd_snn_learner_update(nd_snn_learner *l);
/* Bytes held by the trainer's buffers (state, traces, the stored sequence
 * of BPTT), after the largest call so far; -1 for NULL. */
ND_API int64_t nd_snn_learner_buffer_bytes(const nd_snn_learner *l);

/* Tasks.  Store-and-recall (Bellec et al. 2018, NeurIPS, Sec. 3): 4 input
 * channels of `channel` Poisson neurons each (value 0, value 1, store,
 * recall) firing with probability `rate` per step when on; `periods` periods
 * of `period_steps` steps, a random value bit shown in every period, a store
 * cue in a random period s < periods - 1 and a recall cue in a random later
 * one; labelled at the recall period's steps with the bit shown at s.
 * Sequential MNIST: the 784 pixels (in [0, 1]) `pixels` per step (28: row by
 * row, T = 28; 1: pixel by pixel, T = 784) as input currents, the digit
 * labelled at the last `score_steps` steps. */
typedef enum nd_snn_task_kind { ND_SNN_TASK_RECALL = 0, ND_SNN_TASK_SMNIST = 1 } nd_snn_task_kind;
typedef struct nd_snn_task {
  nd_snn_task_kind kind;
  int64_t periods, period_steps, channel; /* recall: 4, 10, 10 */
  double rate;                            /* recall: 0.2 */
  int64_t pixels, score_steps;            /* smnist: 28, 1 */
  int64_t steps;      /* recall: minibatches per epoch (smnist: one pass over the rows) */
  /* smnist: the training rows (images [n, 784] in [0, 1], labels [n]) */
  int64_t n;
  const float *images;
  const int32_t *labels;
} nd_snn_task;
ND_API nd_snn_task nd_snn_task_defaults(nd_snn_task_kind kind);
ND_API nd_status nd_snn_task_check(const nd_snn_task *t);
/* T, inputs and outputs of the task's sequences. */
ND_API nd_status nd_snn_task_shape(const nd_snn_task *t, int64_t *T, int64_t *inputs, int64_t *outputs);
/* B recall sequences from *rng into x [T, B, 4 channel], labels [T, B]. */
ND_API nd_status nd_snn_recall_batch(const nd_snn_task *t, nd_rng *rng, int64_t B, float *x, int32_t *labels);
/* Rows of images [*, 784] / labels as sMNIST sequences into x, labels. */
ND_API nd_status nd_snn_smnist_batch(const nd_snn_task *t, const float *images, const int32_t *labels,
                                     const int64_t *rows, int64_t B, float *x, int32_t *lab);

/* Training on a task: one epoch (recall: task.steps minibatches from the
 * learner's data stream; smnist: a shuffled pass), progress per minibatch
 * (may stop it); the epoch's mean loss/accuracy so far; evaluation on a
 * split (recall: `batches` minibatches from a fixed stream of its own,
 * validation 0 or test 1; smnist: the given rows); the resumable state. */
ND_API nd_status nd_snn_learner_epoch(nd_snn_learner *l, const nd_snn_task *t, nd_progress_fn progress, void *user);
/* Data-parallel nd_snn_learner_epoch (docs/distributed.md), BPTT and e-prop
 * alike (e-prop's update is a sum over the minibatch's rows too): every rank
 * draws the same minibatch, computes the gradients of its share of `blocks`
 * fixed blocks of the rows, and every rank sums them in block order
 * (nd_grad_sum) before the same optimizer step: the same blocks give the
 * same network on 1 .. blocks processes.  c may be NULL (alone; 1 block:
 * whole minibatches).  c must outlive l's use of it. */
ND_API nd_status nd_snn_learner_set_comm(nd_snn_learner *l, nd_comm *c, int64_t blocks);
ND_API nd_status nd_snn_learner_epoch_stats(const nd_snn_learner *l, double *loss, double *accuracy, double *rate);
ND_API nd_status nd_snn_learner_evaluate(nd_snn_learner *l, const nd_snn_task *t, int split, int64_t batches,
                                         int64_t n, const float *images, const int32_t *labels, double *loss,
                                         double *accuracy);
ND_API nd_status nd_snn_learner_get_state(const nd_snn_learner *l, nd_train_state *st);
ND_API nd_status nd_snn_learner_set_state(nd_snn_learner *l, const nd_train_state *st);
/* Checkpoint: "model": "snn", the config, parameters, Adam state, train state. */
ND_API nd_status nd_snn_learner_save(const nd_snn_learner *l, nd_checkpoint *ck);
ND_API nd_status nd_snn_learner_load(const nd_checkpoint *ck, nd_snn_learner **out);

#ifdef __cplusplus
}
#endif

#endif
