/* neurodyn run lca --conv: sparse code maps of images under a bank of
 * convolutional filters (include/neurodyn/lca.h, "convolutional LCA").
 * Called by cli/lca_run.c once the options and the LCA settings are
 * checked.  Filters [F, C, kh, kw] (2-D) or [F, C, k] (1-D); images
 * [C, H, W] or [B, C, H, W] (2-D), [C, L] or [B, C, L] (1-D); codes
 * [(B,) F, P, Q] or [(B,) F, P]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "options.h"
#include "record_cli.h"

/* "A" or "AxB" (A, B >= lo) into *h, *w; 1-D filters take "A" only. */
static int pair_opt(const char *prog, const char *flag, const char *text, int64_t lo, bool one_d, int64_t *h, int64_t *w) {
  char *end;
  long long a = strtoll(text, &end, 10), b = a;
  if (end != text && *end == 'x') {
    const char *t = end + 1;
    b = strtoll(t, &end, 10);
    if (end == t) end = (char *)t - 1; /* "3x": bad */
  }
  if (end == text || *end || a < lo || b < lo || a > (1 << 24) || b > (1 << 24))
    return nd_cli_fail(2, prog, "--%s '%s': need N or NxM with integers >= %lld", flag, text, (long long)lo);
  if (one_d && a != b) return nd_cli_fail(2, prog, "--%s '%s': 1-D filters take one number", flag, text);
  *h = a;
  *w = b;
  return 0;
}

/* The filters and images, their shapes checked against each other and the
 * options; sh filled in. */
static int read_inputs(const nd_cli_lca_conv_opts *o, nd_tensor *Wt, nd_tensor *S, nd_lca_conv_shape *sh, int64_t *B) {
  const char *prog = o->prog;
  char sw[96], ss[96];
  if (nd_tensor_file_read_f32(o->dict, NULL, Wt) != ND_OK) return nd_cli_fail(2, prog, "--dict: %s", nd_last_error());
  nd_tensor_shape_str(Wt, sw, sizeof sw);
  if (Wt->ndim != 3 && Wt->ndim != 4)
    return nd_cli_fail(2, prog, "%s: filters have shape %s; --conv needs [F, C, kh, kw] (2-D) or [F, C, k] (1-D)", o->dict, sw);
  if (nd_tensor_numel(Wt) < 1) return nd_cli_fail(2, prog, "%s: filters %s are empty", o->dict, sw);
  if (nd_cli_check_finite(prog, o->dict, "filters", Wt)) return 2;
  const bool one_d = Wt->ndim == 3;
  const int64_t F = Wt->shape[0], C = Wt->shape[1], kh = one_d ? 1 : Wt->shape[2], kw = Wt->shape[Wt->ndim - 1];
  int64_t gh, gw, sth, stw, ph, pw;
  if (o->kernel) {
    if (pair_opt(prog, "kernel", o->kernel, 1, one_d, &gh, &gw)) return 2;
    if ((!one_d && gh != kh) || gw != kw)
      return nd_cli_fail(2, prog, "--kernel %s, but the filters in %s are %s", o->kernel, o->dict, sw);
  }
  if (pair_opt(prog, "stride", o->stride, 1, one_d, &sth, &stw) || pair_opt(prog, "pad", o->pad, 0, one_d, &ph, &pw)) return 2;
  if (one_d) sth = 1, ph = 0;
  if (nd_tensor_file_read_f32(o->input, NULL, S) != ND_OK) return nd_cli_fail(2, prog, "--input: %s", nd_last_error());
  nd_tensor_shape_str(S, ss, sizeof ss);
  const int img = one_d ? 2 : 3; /* dims of one image */
  const bool batched = S->ndim == img + 1;
  if ((S->ndim != img && !batched) || S->shape[batched] != C || nd_tensor_numel(S) < 1)
    return nd_cli_fail(2, prog, "%s: input has shape %s; the filters %s are %s, so the input must be [%s%lld, %s] or [B, %lld, %s]",
                       o->input, ss, o->dict, sw, "", (long long)C, one_d ? "L" : "H, W", (long long)C, one_d ? "L" : "H, W");
  if (nd_cli_check_finite(prog, o->input, "input", S)) return 2;
  *B = batched ? S->shape[0] : 1;
  const int64_t H = one_d ? 1 : S->shape[S->ndim - 2], Wd = S->shape[S->ndim - 1];
  *sh = (nd_lca_conv_shape){C, H, Wd, F, kh, kw, sth, stw, ph, pw};
  if (nd_lca_conv_shape_check(sh, NULL, NULL) != ND_OK)
    return nd_cli_fail(2, prog, "%s %s with filters %s %s: %s", o->input, ss, o->dict, sw, nd_last_error());
  return 0;
}

static int write_codes(const char *prog, const char *path, const float *a, int ndim, const int64_t *shape) {
  nd_tensor t = nd_tensor_wrap((float *)a, ndim, shape);
  return nd_cli_write_tensor(prog, path, "A", &t);
}

int nd_cli_lca_conv(const nd_cli_lca_conv_opts *o, const nd_lca_config *c) {
  nd_tensor Wt, S;
  memset(&Wt, 0, sizeof Wt);
  memset(&S, 0, sizeof S);
  nd_lca_conv_shape sh = {0};
  int64_t B = 1, m, n;
  int rc = read_inputs(o, &Wt, &S, &sh, &B);
  nd_lca_conv *l = NULL;
  float *a = NULL;
  if (!rc && nd_lca_conv_shape_check(&sh, &m, &n) == ND_OK) {
    nd_status s = nd_lca_conv_create(c, &sh, Wt.data, B, &l);
    if (s != ND_OK) rc = nd_cli_fail(nd_cli_status_code(s), o->prog, "%s: %s", o->dict, nd_last_error());
    if (!rc && !(a = nd_aligned_alloc((size_t)(B * n) * sizeof(float))))
      rc = nd_cli_fail(1, o->prog, "out of memory for codes of %lld numbers", (long long)(B * n));
  }
  /* output map size; sh is not valid (zero strides) when reading the inputs failed */
  const int64_t P = rc ? 0 : (sh.height + 2 * sh.pad_h - sh.kernel_h) / sh.stride_h + 1;
  const int64_t Q = rc ? 0 : (sh.width + 2 * sh.pad_w - sh.kernel_w) / sh.stride_w + 1;
  /* --record-dir: the first image's code maps [F, P, Q] */
  nd_cli_lca_rec lr = {0};
  nd_status s = rc ? ND_OK
                   : nd_cli_lca_rec_begin(&lr, o->record, ND_RECORD_MAP2D, 3, ND_SHAPE(sh.filters, P, Q),
                                          "{\"model\": \"lca-conv\", \"image\": 0}");
  if (!rc && s == ND_OK && lr.codes) s = nd_lca_conv_set_observer(l, nd_cli_lca_rec_observer, &lr);
  nd_lca_result r;
  if (!rc && s == ND_OK) s = nd_lca_conv_solve(l, S.data, B, a, &r);
  if (!rc) {
    nd_status se = nd_cli_lca_rec_end(&lr);
    if (s == ND_OK) s = se;
    if (s != ND_OK) rc = nd_cli_fail(nd_cli_status_code(s) == 2 ? 2 : 1, o->prog, "%s", nd_last_error());
  }
  if (!rc) {
    const bool one_d = Wt.ndim == 3, batched = S.ndim == (one_d ? 3 : 4);
    int64_t shape[4];
    int k = 0;
    if (batched) shape[k++] = B;
    shape[k++] = sh.filters;
    if (!one_d) shape[k++] = P;
    shape[k++] = Q;
    rc = write_codes(o->prog, o->out, a, k, shape);
    if (!rc)
      printf("{\"iterations\": %lld, \"residual\": %.9g, \"objective\": %.9g, \"stopped\": \"%s\", \"batch\": %lld, "
             "\"filters\": %lld, \"code\": [%lld, %lld], \"update\": \"%s\", \"eta\": %.9g}\n",
             (long long)r.iterations, r.residual, r.objective, nd_stop_reason_name(r.stop), (long long)B,
             (long long)sh.filters, (long long)P, (long long)Q, nd_accel_name(c->update.kind), nd_lca_conv_eta(l));
  }
  nd_aligned_free(a);
  nd_lca_conv_free(l);
  nd_tensor_release(&Wt);
  nd_tensor_release(&S);
  return rc;
}
