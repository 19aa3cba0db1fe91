/* CordsNet internals shared by model.c, io.c and train.c (not installed). */
#ifndef ND_CORDSNET_INTERNAL_H
#define ND_CORDSNET_INTERNAL_H

#include "core/internal.h"
#include "neurodyn/cordsnet.h"
#include "neurodyn/kernels.h"

/* A weight-normed conv or linear weight W = g v / ||v|| (norm per output row,
 * torch.nn.utils.parametrizations.weight_norm with dim 0). */
typedef struct cd_wn {
  char name[32];          /* "area_conv.3" */
  int ndim;               /* 4 (conv) or 2 (linear) */
  int64_t shape[4];
  int64_t out, fan;       /* shape[0], prod(shape[1:]) */
  int64_t g_off, v_off;   /* offsets in the flat params */
  float *w;               /* folded [out * fan] */
  float *inv_norm;        /* [out] 1/||v_o|| */
  float *dw;              /* training: gradient of the folded W */
} cd_wn;

enum { CD_TERM_NONE = 0, CD_TERM_INP_SKIP, CD_TERM_IDENTITY, CD_TERM_SKIP_CONV };

typedef struct cd_area {
  int64_t c, h, w, n;          /* map and n = c*h*w */
  int64_t cin, hin, win, nin;  /* input sum u_j */
  int rec, inp;                /* cd_wn index of area_conv_j, area_area_j */
  int skip;                    /* cd_wn index of the skip conv (term 2), -1 */
  int term;                    /* CD_TERM_* */
  int64_t bias_off;            /* conv_bias_j [c,h,w] in params */
  nd_conv2d_desc drec, dinp, dskip; /* batch set before use */
} cd_area;

#define CD_MAX_WN (2 + 2 * ND_CORDSNET_MAX_DEPTH + 3 + 1)

struct nd_cordsnet {
  nd_cordsnet_config cfg;
  int depth;
  int64_t stem_stride;
  cd_area a[ND_CORDSNET_MAX_DEPTH];
  cd_wn wn[CD_MAX_WN];
  int n_wn;
  int stem, inp_skip, fc;      /* cd_wn indices */
  int64_t fc_bias_off;
  int64_t c0, hs, wsp;         /* stem output (= area 0's input) */
  int64_t hc, wc;              /* stem conv output before pooling */
  nd_conv2d_desc dstem;
  nd_pool2d_desc dpool;
  int64_t n_params;
  float *params, *grad;
  /* spontaneous cache */
  bool spont_valid;
  int spont_steps;
  float spont_alpha;
  float *spont[ND_CORDSNET_MAX_DEPTH];
  /* batch buffers (grown by cd_reserve, outside the step loops) */
  int64_t cap;                 /* batch capacity */
  float *r[ND_CORDSNET_MAX_DEPTH], *pre[ND_CORDSNET_MAX_DEPTH], *u[ND_CORDSNET_MAX_DEPTH];
  float *stem_c, *inp, *skipinp, *drive0;
  float *feat;
  float *ws;                   /* conv workspace */
  size_t ws_floats;
  /* training buffers */
  int64_t tcap;
  float *dr[ND_CORDSNET_MAX_DEPTH], *dr2[ND_CORDSNET_MAX_DEPTH], *dpre[ND_CORDSNET_MAX_DEPTH],
      *du[ND_CORDSNET_MAX_DEPTH], *dtmp, *dbias;
  float *dinp, *dskipinp, *ddrive0, *dstem_c, *dfeat, *logits, *dlogits;
  float *bptt;                 /* checkpoint storage */
  size_t bptt_floats, bptt_peak_bytes;
};

int64_t cd_state_floats(const nd_cordsnet *m); /* sum_j n_j (one image) */
nd_status cd_build(nd_cordsnet *m, const nd_cordsnet_config *c, int64_t stem_stride);
void cd_fold(nd_cordsnet *m);
nd_status cd_reserve(nd_cordsnet *m, int64_t batch);
void cd_set_batch(nd_cordsnet *m, int64_t batch);
/* stem, area_area_0(stem) and inp_skip(stem) for x[batch] (x NULL: zeros) */
void cd_stem(nd_cordsnet *m, const float *x, int64_t batch);
/* one Jacobi Euler step in place on m->r (keeps m->pre when keep_pre) */
void cd_step(nd_cordsnet *m, int64_t batch, float alpha, bool zero_input);
/* features and logits[batch, classes] of the current state */
void cd_readout(nd_cordsnet *m, int64_t batch, float *logits);
void cd_readout_from(nd_cordsnet *m, int64_t batch, const float *r_last, const float *r_prev, float *logits);
nd_status cd_spont(nd_cordsnet *m, const nd_cordsnet_run *r);
void cd_broadcast_spont(nd_cordsnet *m, int64_t batch);

#endif
