/* Private structures of the autodiff tape, shared by the files in src/autodiff. */
#ifndef ND_AD_INTERNAL_H
#define ND_AD_INTERNAL_H

#include "core/internal.h"
#include "neurodyn/autodiff.h"

#define ND__AD_MAX_INPUTS ND_CUSTOM_MAX_INPUTS

typedef nd_status (*nd__backward_fn)(nd_tape *tp, nd_var *v);

struct nd_var {
  nd_tensor value;        /* contiguous forward result */
  nd_tensor grad;         /* value's shape; data NULL until a gradient reaches v */
  bool requires_grad;     /* recorded, and some input needs a gradient */
  bool grad_ready;        /* grad.data holds a gradient (else it is unset) */
  bool leaf;              /* constant, param or variable: no backward */
  bool grad_external;     /* param: grad owned by the caller, always accumulated */
  int32_t hook;           /* leaf: 1 + its index in tp->hooks (nd_tape_on_grad_ready), 0: none */
  int n_in;
  nd_var *in[ND__AD_MAX_INPUTS];
  nd__backward_fn backward;
  const char *op;         /* op name for messages */
  float f[4];             /* op parameters */
  int64_t i[8];
  void *saved;            /* op-specific data in the arena */
};

typedef struct nd__grad_hook {
  nd_var *leaf;
  nd_grad_ready_fn fn;
  void *user;
  int64_t at;             /* backward: the first node (tape order) that reads the leaf; INT64_MAX: none */
} nd__grad_hook;

struct nd_tape {
  nd_arena *arena;
  nd__grad_hook *hooks;   /* leaves' gradient-ready hooks since the last reset (kept allocated) */
  int n_hooks, cap_hooks;
  nd_var **nodes;         /* recorded nodes in creation (topological) order */
  int64_t n_nodes, cap_nodes;
  bool recording;
  nd_status status;       /* first failure since reset */
};

/* Records s as the tape's sticky status (first one wins) and returns NULL, so
 * ops can write `return nd__fail(tp, nd__error(ND_ERR_SHAPE, ...));`. */
nd_var *nd__fail(nd_tape *tp, nd_status s);

/* True if the op may proceed: tp non-NULL, no sticky failure, every input
 * non-NULL (a NULL input without a sticky failure is reported as an error). */
bool nd__inputs_ok(nd_tape *tp, const char *op, int n, nd_var *const *in);

/* New node with an uninitialised value of the given shape.  If recording and
 * some input requires a gradient, the node is recorded with `backward`.
 * NULL (sticky error) on failure. */
nd_var *nd__new_node(nd_tape *tp, const char *op, int ndim, const int64_t *shape, int n_in, nd_var *const *in,
                     nd__backward_fn backward);
/* Same, with the value stored at `data` (a view; NULL allocates). */
nd_var *nd__new_node_data(nd_tape *tp, const char *op, int ndim, const int64_t *shape, int n_in, nd_var *const *in,
                          nd__backward_fn backward, float *data);

/* Gradient buffer of v to write into.  *g = NULL if v needs no gradient.
 * *beta = 0 if the buffer is fresh (uninitialised), 1 if it holds gradient
 * that must be accumulated into. */
nd_status nd__grad(nd_tape *tp, nd_var *v, float **g, float *beta);
/* Same, but a fresh buffer is zero-filled, so the caller always adds (+=). */
nd_status nd__grad_acc(nd_tape *tp, nd_var *v, float **g);
/* For kernels that can only overwrite: returns a buffer to overwrite (the
 * gradient itself if fresh, else arena scratch); nd__grad_commit adds the
 * scratch into the gradient. */
nd_status nd__grad_overwrite(nd_tape *tp, nd_var *v, float **g);
void nd__grad_commit(nd_var *v, float *g);

/* g = alpha*src + beta*g with beta 0 (overwrite, g may hold garbage) or 1. */
void nd__gadd(float *g, float beta, float alpha, const float *src, int64_t n);

/* Arena floats (uninitialised); NULL with sticky error on failure. */
float *nd__scratch(nd_tape *tp, int64_t n);

/* "3x4" of a node's value, for messages (buf of 64 chars). */
const char *nd__shape(const nd_var *v, char *buf);

#endif
