/* neurodyn run snn: a random recurrent network of LIF/ALIF neurons built from
 * flags (Brunel 2000, J. Comput. Neurosci. 8:183: a fraction of excitatory
 * neurons with weight J, the others inhibitory with -g J, each pair connected
 * with probability P), driven by a constant current and membrane noise,
 * simulated for T ms; writes the spike raster (events), the rates, a few
 * membrane traces and their figures into --out DIR.  docs/spiking.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "neurodyn/io.h"
#include "neurodyn/snn.h"
#include "neurodyn/tensor.h"
#include "options.h"
#include "out_command.h"
#include "record_cli.h"

#define CMD "run snn"
#define ND_TRY_CLI(e)                \
  do {                               \
    nd_status s_ = (e);              \
    if (s_ != ND_OK) return s_;      \
  } while (0)

typedef struct snn_opts {
  int64_t neurons;
  double p, duration, dt, drive, noise, weight, g, frac_exc;
  double tau_m, tau_syn, tau_a, t_ref, v_th, v_reset, beta;
  int model, reset, synapse, rec;
  int64_t raster_neurons, trace, max_spikes;
  nd_cli_record record;
  nd_cli_common common;
} snn_opts;

/* the recording of one run */
typedef struct record {
  double *ev; /* [n, 2] (time ms, neuron) */
  int64_t n, cap, events;
  float *count; /* [N] spikes per neuron */
  float *trace; /* [steps, K] */
} record;

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static nd_status push_spikes(record *rec, const nd_snn *net, double t_ms, int64_t max_spikes) {
  int64_t m;
  const int32_t *l = nd_snn_spike_list(net, 0, &m);
  if (rec->n + m > max_spikes)
    return nd_set_error(ND_ERR_INVALID_ARG, "more than --max-spikes %lld spikes (raise it, or shorten the run)",
                        (long long)max_spikes);
  if (rec->n + m > rec->cap) {
    int64_t cap = rec->cap ? rec->cap : 1 << 16;
    while (cap < rec->n + m) cap *= 2;
    double *e = realloc(rec->ev, (size_t)cap * 2 * sizeof *e);
    if (!e) return nd_set_error(ND_ERR_NOMEM, "out of memory for %lld spikes", (long long)cap);
    rec->ev = e, rec->cap = cap;
  }
  for (int64_t s = 0; s < m; s++) {
    rec->ev[2 * (rec->n + s)] = t_ms;
    rec->ev[2 * (rec->n + s) + 1] = l[s];
    rec->count[l[s]] += 1;
    rec->events += nd_snn_out_degree(net, l[s]);
  }
  rec->n += m;
  return ND_OK;
}

/* Raster: one row per neuron (the first rows of the network), one column
 * per time bin of at most 1000 columns; black where the neuron spiked. */
static nd_status write_raster(const char *path, const record *rec, int64_t n_rows, double duration) {
  int w = 1000, h = (int)n_rows;
  uint8_t *px = malloc((size_t)w * (size_t)h);
  if (!px) return nd_set_error(ND_ERR_NOMEM, "out of memory for the raster");
  memset(px, 255, (size_t)w * (size_t)h);
  for (int64_t s = 0; s < rec->n; s++) {
    int64_t i = (int64_t)rec->ev[2 * s + 1];
    if (i >= n_rows) continue;
    int x = (int)(rec->ev[2 * s] / duration * w);
    if (x >= w) x = w - 1;
    px[(size_t)i * (size_t)w + (size_t)x] = 0;
  }
  nd_status st = nd_png_write_gray(path, w, h, px);
  free(px);
  return st;
}

static nd_status write_outputs(const snn_opts *o, const nd_opts *spec, const record *rec, int64_t steps,
                               const nd_snn *net, double wall, double cpu) {
  const char *dir = o->common.out;
  char path[4096];
  ND_TRY_CLI(nd_cli_mkdirs(dir));
  snprintf(path, sizeof path, "%s/spikes.npy", dir);
  ND_TRY_CLI(nd_npy_write_f64(path, 2, (int64_t[]){rec->n, 2}, rec->ev ? rec->ev : (double[2]){0}));
  float *rate = malloc((size_t)o->neurons * sizeof *rate);
  if (!rate) return nd_set_error(ND_ERR_NOMEM, "out of memory");
  double mean = 0;
  for (int64_t i = 0; i < o->neurons; i++) rate[i] = (float)(rec->count[i] / (o->duration * 1e-3)), mean += rate[i];
  mean /= (double)o->neurons;
  nd_tensor tr = nd_tensor_wrap(rate, 1, ND_SHAPE(o->neurons));
  snprintf(path, sizeof path, "%s/rates.npy", dir);
  nd_status st = nd_npy_write(path, &tr);
  free(rate);
  ND_TRY_CLI(st);
  snprintf(path, sizeof path, "%s/raster.png", dir);
  ND_TRY_CLI(write_raster(path, rec, o->raster_neurons < o->neurons ? o->raster_neurons : o->neurons, o->duration));
  if (o->trace > 0) {
    nd_tensor tv = nd_tensor_wrap(rec->trace, 2, ND_SHAPE(steps, o->trace));
    snprintf(path, sizeof path, "%s/voltage.npy", dir);
    ND_TRY_CLI(nd_npy_write(path, &tv));
    double *t = malloc((size_t)steps * sizeof *t), *y = malloc((size_t)(steps * o->trace) * sizeof *y);
    nd_plot_series ser[10];
    int ns = o->trace < 10 ? (int)o->trace : 10;
    char labels[10][16];
    if (!t || !y) {
      free(t), free(y);
      return nd_set_error(ND_ERR_NOMEM, "out of memory");
    }
    for (int64_t k = 0; k < steps; k++) t[k] = (double)(k + 1) * o->dt;
    for (int q = 0; q < ns; q++) {
      for (int64_t k = 0; k < steps; k++) y[q * steps + k] = rec->trace[k * o->trace + q];
      snprintf(labels[q], sizeof labels[q], "neuron %d", q);
      ser[q] = (nd_plot_series){t, y + q * steps, (int)(steps < 2000000000 ? steps : 2000000000), labels[q]};
    }
    snprintf(path, sizeof path, "%s/voltage.png", dir);
    st = nd_png_plot_lines(path, ns, ser,
                           &(nd_plot_opts){.title = "membrane potential", .x_label = "time (ms)", .y_label = "V (mV)"});
    free(t), free(y);
    ND_TRY_CLI(st);
  }
  cJSON *root = nd_opts_to_json(spec);
  if (!root) return nd_set_error(ND_ERR_NOMEM, "out of memory");
  cJSON *res = cJSON_AddObjectToObject(root, "results");
  if (res) {
    cJSON_AddNumberToObject(res, "steps", (double)steps);
    cJSON_AddNumberToObject(res, "synapses", (double)nd_snn_synapse_count(net));
    cJSON_AddNumberToObject(res, "spikes", (double)rec->n);
    cJSON_AddNumberToObject(res, "mean_rate_hz", mean);
    cJSON_AddNumberToObject(res, "synaptic_events", (double)rec->events);
    cJSON_AddNumberToObject(res, "wall_s", wall);
    cJSON_AddNumberToObject(res, "synaptic_events_per_s", wall > 0 ? (double)rec->events / wall : 0);
    cJSON_AddNumberToObject(res, "cpu_s", cpu);
    cJSON_AddNumberToObject(res, "synaptic_events_per_cpu_s", cpu > 0 ? (double)rec->events / cpu : 0);
    cJSON_AddNumberToObject(res, "threads", nd_get_num_threads());
  }
  snprintf(path, sizeof path, "%s/summary.json", dir);
  ND_TRY_CLI(nd_cli_write_json(root, path));
  if (!o->common.quiet)
    printf("%lld neurons, %lld synapses, %lld steps: %lld spikes (%.2f Hz mean), %.3g synaptic events in %.3f s "
           "wall, %.3f s CPU (%.3g events per CPU second, %d threads); wrote %s\n",
           (long long)o->neurons, (long long)nd_snn_synapse_count(net), (long long)steps, (long long)rec->n, mean,
           (double)rec->events, wall, cpu, cpu > 0 ? (double)rec->events / cpu : 0.0, nd_get_num_threads(), dir);
  return ND_OK;
}

/* --record: the spike raster (any spike in each window of --record-every
 * steps) and the membrane potentials at the window's end. */
typedef struct streams {
  nd_record_stream *raster, *membrane;
  float *window; /* [N]: 1 where the neuron spiked in the current window */
  int64_t n;
} streams;

static nd_status open_streams(nd_cli_record *rc, const snn_opts *o, streams *str) {
  if (!rc->on) return ND_OK;
  ND_TRY_CLI(nd_cli_mkdirs(o->common.out));
  ND_TRY_CLI(nd_cli_record_open(rc, o->common.out, false));
  char labels[128];
  snprintf(labels, sizeof labels, "{\"model\": \"snn\", \"window_ms\": %g}", o->dt * (double)rc->every);
  ND_TRY_CLI(nd_cli_record_stream(rc, "spikes", ND_RECORD_RASTER, 1, &o->neurons, "ms", o->dt, labels, &str->raster));
  ND_TRY_CLI(nd_cli_record_stream(rc, "membrane", ND_RECORD_VECTOR, 1, &o->neurons, "ms", o->dt, labels,
                                  &str->membrane));
  str->n = o->neurons;
  str->window = calloc((size_t)o->neurons, sizeof *str->window);
  return str->window ? ND_OK : nd_set_error(ND_ERR_NOMEM, "out of memory");
}

static nd_status record_step(nd_cli_record *rc, streams *str, const nd_snn *net, int64_t done) {
  int64_t m;
  const int32_t *l = nd_snn_spike_list(net, 0, &m);
  for (int64_t s = 0; s < m; s++) str->window[l[s]] = 1;
  if (!nd_cli_record_due(rc, done)) return ND_OK;
  ND_TRY_CLI(nd_recorder_push(str->raster, str->window));
  ND_TRY_CLI(nd_recorder_push(str->membrane, nd_snn_voltage(net)));
  memset(str->window, 0, sizeof(float) * (size_t)str->n);
  return ND_OK;
}

static nd_status simulate(const snn_opts *o, const nd_opts *spec) {
  nd_snn_config c = nd_snn_defaults();
  c.neurons = o->neurons, c.dt_ms = o->dt, c.tau_m_ms = o->tau_m, c.tau_syn_ms = o->tau_syn, c.tau_a_ms = o->tau_a;
  c.t_ref_ms = o->t_ref, c.v_th = o->v_th, c.v_reset = o->v_reset, c.beta = o->beta, c.i_ext = o->drive;
  c.noise_std = o->noise, c.model = (nd_snn_model)o->model, c.reset = (nd_snn_reset)o->reset;
  c.synapse = (nd_snn_synapse)o->synapse, c.rec_mode = (nd_snn_rec_mode)o->rec, c.seed = (uint64_t)o->common.seed;
  ND_TRY_CLI(nd_snn_config_check(&c));
  if (!(o->p >= 0 && o->p <= 1)) return nd_set_error(ND_ERR_INVALID_ARG, "--connectivity %g: expected 0..1", o->p);
  if (!(o->frac_exc >= 0 && o->frac_exc <= 1))
    return nd_set_error(ND_ERR_INVALID_ARG, "--exc-fraction %g: expected 0..1", o->frac_exc);
  if (!(o->duration > 0) || !(o->duration / o->dt <= 1e9))
    return nd_set_error(ND_ERR_INVALID_ARG, "--duration-ms %g: expected > 0 and at most 1e9 steps", o->duration);
  if (!isfinite(o->weight) || !isfinite(o->g))
    return nd_set_error(ND_ERR_INVALID_ARG, "--weight and --g must be finite");
  int64_t steps = llround(o->duration / o->dt);
  if (steps < 1) steps = 1;
  if (o->trace < 0 || o->trace > o->neurons || o->trace > 10)
    return nd_set_error(ND_ERR_INVALID_ARG, "--trace %lld: expected 0..min(10, neurons)", (long long)o->trace);
  ND_TRY_CLI(nd_cli_record_check(&o->record));
  if (o->raster_neurons < 1) return nd_set_error(ND_ERR_INVALID_ARG, "--raster-neurons must be >= 1");
  if (o->raster_neurons > 4096) return nd_set_error(ND_ERR_INVALID_ARG, "--raster-neurons at most 4096");
  if ((double)steps * (double)o->trace > 1e9) return nd_set_error(ND_ERR_INVALID_ARG, "--trace: too many samples");
  nd_snn *net = NULL;
  record rec = {0};
  nd_status st = nd_snn_create(&c, &net);
  if (st == ND_OK)
    st = nd_snn_set_recurrent_random(net, o->p, o->frac_exc, (float)o->weight, (float)(-o->g * o->weight),
                                     (uint64_t)o->common.seed);
  if (st == ND_OK) {
    rec.count = calloc((size_t)o->neurons, sizeof *rec.count);
    rec.trace = o->trace ? malloc((size_t)(steps * o->trace) * sizeof *rec.trace) : NULL;
    if (!rec.count || (o->trace && !rec.trace)) st = nd_set_error(ND_ERR_NOMEM, "out of memory");
  }
  nd_cli_record rc = o->record;
  streams str = {0};
  if (st == ND_OK) st = open_streams(&rc, o, &str);
  double wall = 0, cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
  for (int64_t k = 0; k < steps && st == ND_OK; k++) {
    double t0 = clock_s(CLOCK_MONOTONIC);
    st = nd_snn_step(net, NULL, NULL);
    wall += clock_s(CLOCK_MONOTONIC) - t0;
    if (st == ND_OK) st = push_spikes(&rec, net, (double)(k + 1) * o->dt, o->max_spikes);
    for (int64_t q = 0; q < o->trace && st == ND_OK; q++) rec.trace[k * o->trace + q] = nd_snn_voltage(net)[q];
    if (st == ND_OK && str.window) st = record_step(&rc, &str, net, k + 1);
  }
  double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0; /* steps and recording */
  nd_status sc = nd_cli_record_close(&rc);
  if (st == ND_OK) st = sc;
  free(str.window);
  if (st == ND_OK) st = write_outputs(o, spec, &rec, steps, net, wall, cpu);
  free(rec.ev), free(rec.count), free(rec.trace);
  nd_snn_free(net);
  return st;
}

static nd_status simulate_cb(const nd_opts *spec, void *user) { return simulate((const snn_opts *)user, spec); }

int nd_cli_run_snn(int argc, char **argv) {
  snn_opts o = {0};
  static const char *const models[] = {"lif", "alif", NULL};
  static const char *const resets[] = {"zero", "subtract", NULL};
  static const char *const syns[] = {"delta", "exp", NULL};
  static const char *const recs[] = {"auto", "gemm", "event", NULL};
  const nd_option table[] = {
      {"neurons", ND_OPT_INT64, &o.neurons, "1000", "number of neurons N", NULL},
      {"connectivity", ND_OPT_DOUBLE, &o.p, "0.1", "connection probability P of every ordered pair", NULL},
      {"duration-ms", ND_OPT_DOUBLE, &o.duration, "1000", "simulated time T (ms)", NULL},
      {"dt-ms", ND_OPT_DOUBLE, &o.dt, "0.1", "time step (ms)", NULL},
      {"drive", ND_OPT_DOUBLE, &o.drive, "24", "constant external drive R*I (mV)", NULL},
      {"noise", ND_OPT_DOUBLE, &o.noise, "3", "stationary std of the free membrane's noise (mV)", NULL},
      {"weight", ND_OPT_DOUBLE, &o.weight, "0.1", "excitatory weight J (mV jump, or current jump with --synapse exp)", NULL},
      {"g", ND_OPT_DOUBLE, &o.g, "5", "inhibitory weight is -g J (Brunel 2000)", NULL},
      {"exc-fraction", ND_OPT_DOUBLE, &o.frac_exc, "0.8", "fraction of excitatory neurons", NULL},
      {"model", ND_OPT_CHOICE, &o.model, "lif", "neuron model", models},
      {"reset", ND_OPT_CHOICE, &o.reset, "zero", "reset to --v-reset, or subtract the threshold", resets},
      {"synapse", ND_OPT_CHOICE, &o.synapse, "delta", "delta (V jumps) or exp (exponential current)", syns},
      {"recurrent", ND_OPT_CHOICE, &o.rec, "auto", "recurrent input: auto, gemm (needs dense weights) or event", recs},
      {"tau-m", ND_OPT_DOUBLE, &o.tau_m, "20", "membrane time constant (ms)", NULL},
      {"tau-syn", ND_OPT_DOUBLE, &o.tau_syn, "5", "synaptic time constant (ms, --synapse exp)", NULL},
      {"tau-a", ND_OPT_DOUBLE, &o.tau_a, "200", "adaptation time constant (ms, --model alif)", NULL},
      {"t-ref", ND_OPT_DOUBLE, &o.t_ref, "2", "refractory period (ms)", NULL},
      {"v-th", ND_OPT_DOUBLE, &o.v_th, "20", "threshold (mV)", NULL},
      {"v-reset", ND_OPT_DOUBLE, &o.v_reset, "10", "reset potential (mV, --reset zero)", NULL},
      {"beta", ND_OPT_DOUBLE, &o.beta, "1", "ALIF threshold increase per recent spike (mV)", NULL},
      {"raster-neurons", ND_OPT_INT64, &o.raster_neurons, "500", "neurons (rows) in raster.png", NULL},
      {"trace", ND_OPT_INT64, &o.trace, "3", "membrane traces of neurons 0..K-1 to voltage.npy/png", NULL},
      {"max-spikes", ND_OPT_INT64, &o.max_spikes, "100000000", "refuse a run that records more spikes", NULL},
      ND_OPT_RECORD(&o.record, "the spike raster and membrane potentials", "steps (a raster frame: any spike in them)", "10"),
      ND_OPT_COMMON(&o.common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn " CMD, "[options] --out DIR",
                        "Simulates a random recurrent LIF/ALIF network (Brunel 2000 connectivity) and writes "
                        "spikes.npy ([n, 2]: time ms, neuron), rates.npy (Hz per neuron), raster.png, voltage.npy/png "
                        "and summary.json (options, spikes, synaptic events, wall time) into DIR.",
                        table, 0, 0};
  return nd_cli_out_command(CMD, &spec, &o.common, argc, argv, simulate_cb, &o);
}
