/* Private to the LCA family: the dictionary learner's struct, shared by
 * dict.c (the learning) and dict_checkpoint.c (save and load). */
#ifndef ND_MODELS_LCA_DICT_H
#define ND_MODELS_LCA_DICT_H

#include "neurodyn/checkpoint.h"
#include "neurodyn/io.h"
#include "neurodyn/lca.h"
#include "neurodyn/tensor.h"
#include "neurodyn/train.h"

#define ND_LCA_DICT_MAX_EPOCHS 1000000

/* The running sums of the epoch under way (saved in a checkpoint so that a
 * run resumed mid-epoch reports the same epoch figures). */
enum { ND__DS_R2, ND__DS_S2, ND__DS_ZEROS, ND__DS_COEFS, ND__DS_ITERS, ND__DS_BATCHES, ND__DS_SIGNALS, ND__DS_OBJ, ND__DS_COUNT };

struct nd_lca_dict {
  nd_lca_dict_config c;
  int64_t m, n;            /* signal length, coefficients per signal */
  nd_tensor w;             /* dense [m, n] or conv [F, C, kh, kw] */
  nd_lca *dense;
  nd_lca_conv *conv;
  float *s, *a, *r, *g;    /* minibatch [B, m], codes [B, n], residual [B, m], gradient like w */
  float *ws;               /* conv filter-gradient workspace */
  nd_sampler sampler;
  int64_t epoch;           /* epochs completed */
  double sums[ND__DS_COUNT];
  nd_lca_dict_stats last;  /* the last completed epoch */
};

/* Replaces the atoms (finite), renormalising them or not (a checkpoint's
 * atoms are restored bit for bit). */
nd_status nd__lca_dict_put_atoms(nd_lca_dict *d, const float *w, bool renormalise);

#endif
