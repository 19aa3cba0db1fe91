/* Private state of the somp family (include/neurodyn/somp.h). */
#ifndef ND_SOMP_INTERNAL_H
#define ND_SOMP_INTERNAL_H

#include "neurodyn/plasticity.h"
#include "neurodyn/rng.h"
#include "neurodyn/somp.h"

#define SOMP_MAX_CELLS 64
#define SOMP_MAX_IN 32
#define SOMP_MAX_RULES 32

/* A parameter [rows, cols]: value, gradient, Adam moments, immediate-mode scratch. */
typedef struct sparam {
  float *w, *g, *m, *v, *tmp;
  int64_t rows, cols;
} sparam;

/* A rule instance on one parameter, with the sum of its updates of the last forward. */
typedef struct sinst {
  nd_plasticity_rule *rule;
  float *R;
} sinst;

typedef struct sinput {
  char name[ND_SOMP_NAME_MAX];
  int src;        /* cell index, or -1: external */
  int64_t n;
  sparam P;
  int ext;        /* this call: index into the net's ext buffers, or -1 (not given) */
  sinst inst[SOMP_MAX_RULES];
} sinput;

typedef struct scell {
  nd_somp_cell_config c;
  nd_somp_hparams hp; /* resolved for the current call */
  float alpha;        /* output scale for the hats */
  bool mu_override;
  int n_in;
  sinput *in[SOMP_MAX_IN];
  sparam b, mu;       /* [units, 1] */
  sinst vinst_mu[SOMP_MAX_RULES], vinst_b[SOMP_MAX_RULES];
  float scale;        /* pooling factor of the current call */
  bool needs_gain;
  /* workspace, time-major: slot t of Y is Y_{t-1} (slot 0 = 0) */
  float *Z, *Bk, *Y, *Yh, *dY, *dZ, *G, *Gk, *carry;
  const float *Yhat;  /* Yh, or Y when alpha = 1 */
  double rate, sparsity;
} scell;

typedef struct sext {
  int cell, input;
  int64_t n;
  double alpha;
  float *x, *xh; /* time-major [T, B, n] */
  const float *xhat;
  int64_t cap;
} sext;

struct nd_somp_net {
  int n;
  scell cells[SOMP_MAX_CELLS];
  uint64_t seed;
  int64_t seq, adam_t;
  int64_t B, T, capBT, capB;
  int n_ext;
  sext ext[ND_SOMP_MAX_INPUTS];
  float *ones; /* [capB] */
  int n_rules;
  nd_somp_rule_config rc[SOMP_MAX_RULES];
  char label[SOMP_MAX_RULES][96];
  double norm[SOMP_MAX_RULES];
  nd_somp_learn learn;
  bool have_forward;
};

#endif
