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
 * bench/bench_snn.c; docs/snn.md). */
#ifndef NEURODYN_SNN_H
#define NEURODYN_SNN_H

#include "neurodyn/core.h"

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

#ifdef __cplusplus
}
#endif

#endif
