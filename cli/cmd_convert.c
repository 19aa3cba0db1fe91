/* neurodyn convert IN OUT: tensors between NPY and safetensors (IDX input
 * too, and PyTorch .pth state_dicts: docs/pth.md). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "options.h"
#include "neurodyn/tensorfile.h"

/* Where OUT would go is the user's choice, so a path that cannot take a file
 * (a directory there, a parent that is missing or not a directory, a parent
 * we may not write into) is bad input, exit 2, found before anything is read;
 * only a write that then fails (disk full, I/O error) is exit 1. */
int nd_cli_check_output(const char *prog, const char *out) {
  struct stat st;
  if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) return nd_cli_fail(2, prog, "%s: is a directory", out);
  char parent[PATH_MAX];
  if (snprintf(parent, sizeof parent, "%s", out) >= (int)sizeof parent)
    return nd_cli_fail(2, prog, "%s: path too long", out);
  char *slash = strrchr(parent, '/');
  if (!slash)
    snprintf(parent, sizeof parent, ".");
  else if (slash == parent)
    parent[1] = '\0';
  else
    *slash = '\0';
  if (stat(parent, &st) != 0)
    return nd_cli_fail(2, prog, "%s: directory %s does not exist", out, parent);
  if (!S_ISDIR(st.st_mode)) return nd_cli_fail(2, prog, "%s: %s is not a directory", out, parent);
  if (access(parent, W_OK | X_OK) != 0)
    return nd_cli_fail(2, prog, "%s: cannot write into %s: %s", out, parent, strerror(errno));
  return 0;
}

static bool has(const nd_tensor_file *t, const char *name) {
  for (int i = 0; i < t->n; i++)
    if (!strcmp(t->names[i], name)) return true;
  return false;
}

/* A weight-normed (prefix.parametrizations.weight.original0|1) or plain
 * (prefix.weight) weight. */
static bool has_weight(const nd_tensor_file *t, const char *prefix) {
  char a[200], b[200];
  snprintf(a, sizeof a, "%s.parametrizations.weight.original0", prefix);
  snprintf(b, sizeof b, "%s.parametrizations.weight.original1", prefix);
  if (has(t, a) && has(t, b)) return true;
  snprintf(a, sizeof a, "%s.weight", prefix);
  return has(t, a);
}

/* Upstream CordsNet's state_dict layout (wmws2/cordsnet cordsnet.py):
 * depth D = the number of conv_bias.{j}; inp_conv, inp_skip, area_conv.{j},
 * area_area.{j}, conv_bias.{j} for j < D, skip_area.{k} for k < D/2 - 1,
 * out_fc weight and bias.  Returns D, or 0 with the first missing key in
 * missing. */
static int cordsnet_depth(const nd_tensor_file *t, char *missing, size_t cap) {
  int depth = 0;
  char k[40];
  for (;; depth++) {
    snprintf(k, sizeof k, "conv_bias.%d", depth);
    if (!has(t, k)) break;
  }
  if (depth < 2 || depth % 2) {
    snprintf(missing, cap, "conv_bias.0 .. conv_bias.{D-1} for an even depth D >= 2 (found %d)", depth);
    return 0;
  }
  const char *fixed[] = {"inp_conv", "inp_skip", "out_fc"};
  for (int i = 0; i < 3; i++)
    if (!has_weight(t, fixed[i])) {
      snprintf(missing, cap, "%s.weight (or its parametrizations.weight.original0/1)", fixed[i]);
      return 0;
    }
  if (!has(t, "out_fc.bias")) {
    snprintf(missing, cap, "out_fc.bias");
    return 0;
  }
  for (int j = 0; j < depth; j++)
    for (int w = 0; w < 2; w++) {
      snprintf(k, sizeof k, "%s.%d", w ? "area_area" : "area_conv", j);
      if (!has_weight(t, k)) {
        snprintf(missing, cap, "%s.weight (or its parametrizations.weight.original0/1)", k);
        return 0;
      }
    }
  for (int j = 0; j < depth / 2 - 1; j++) {
    snprintf(k, sizeof k, "skip_area.%d", j);
    if (!has_weight(t, k)) {
      snprintf(missing, cap, "%s.weight (or its parametrizations.weight.original0/1)", k);
      return 0;
    }
  }
  return depth;
}

/* Floating-point tensors of a .pth file become float32 (the neurodyn weight
 * files' dtype); integer and bool tensors keep theirs. */
static nd_status floats_to_f32(nd_tensor_file *t) {
  for (int i = 0; i < t->n; i++) {
    nd_array *a = &t->arrays[i];
    if (a->dtype != ND_DTYPE_F16 && a->dtype != ND_DTYPE_BF16 && a->dtype != ND_DTYPE_F64) continue;
    float *f = malloc((size_t)(a->numel > 0 ? a->numel : 1) * sizeof *f);
    if (!f) return ND_ERR_NOMEM;
    /* as one flat array through the IO layer's conversion (any rank) */
    nd_array flat = {.dtype = a->dtype, .ndim = 1, .numel = a->numel, .data = a->data};
    for (int d = 0; d < ND_ARRAY_MAX_DIMS; d++) flat.shape[d] = d ? 1 : a->numel;
    nd_tensor ft;
    nd_status s = nd_array_to_tensor(&flat, &ft);
    if (s != ND_OK) {
      free(f);
      return s;
    }
    if (a->numel) memcpy(f, ft.data, (size_t)a->numel * sizeof *f);
    nd_tensor_release(&ft);
    free(a->data);
    a->data = f;
    a->dtype = ND_DTYPE_F32;
  }
  return ND_OK;
}

int nd_cli_convert(int argc, char **argv) {
  const char *prog = "neurodyn convert";
  const char *name;
  int layout;
  bool keep_dtype;
  static const char *const layouts[] = {"any", "cordsnet", NULL};
  const nd_option table[] = {
      {"layout", ND_OPT_CHOICE, &layout, "any",
       "for a .pth input: 'cordsnet' refuses a state_dict that is not upstream CordsNet's (wmws2/cordsnet key names)",
       layouts},
      {"keep-dtype", ND_OPT_BOOL, &keep_dtype, "false",
       "for a .pth input: keep f16/bf16/f64 tensors in their dtype (default: converted to f32)", NULL},
      {"name", ND_OPT_STRING, &name, NULL,
       "tensor name: the name given to an NPY/IDX tensor in a safetensors output (default: the input's stem, "
       "\"data\" for IDX), or the tensor taken from a safetensors input",
       NULL},
      ND_OPT_END,
  };
  const nd_opts spec = {prog, "[options] IN OUT",
                        "Converts between .npy and .safetensors by the files' extensions; IN may also be\n"
                        "an IDX file or a PyTorch checkpoint (torch.save of a state_dict, .pth/.pt, read\n"
                        "without running any of its pickle: docs/pth.md), whose keys become the tensor\n"
                        "names and whose floating-point tensors are written as f32.\n"
                        "Values and dtypes are kept (NPY holds f32 or f64; other dtypes\n"
                        "are written to NPY as f32, with a note).  OUT appears complete or not at all: it is\n"
                        "written to a temporary file and renamed into place; an existing OUT is replaced.\n"
                        "Exit 2 for bad input (IN missing, malformed or of another kind; OUT a directory\n"
                        "or in a directory that does not exist), 1 when the write itself fails.",
                        table, 2, 2};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  rc = 0;
  const char *in = args.pos[0], *out = args.pos[1];
  nd_file_format out_fmt = nd_file_format_of_name(out);
  if (out_fmt != ND_FILE_NPY && out_fmt != ND_FILE_SAFETENSORS) {
    nd_args_release(&args);
    return nd_cli_fail(2, prog, "%s: output must end in .npy or .safetensors", out);
  }
  if ((rc = nd_cli_check_output(prog, out)) != 0) {
    nd_args_release(&args);
    return rc;
  }

  nd_tensor_file t;
  nd_status s = nd_tensor_file_load(in, &t);
  if (s != ND_OK) {
    rc = nd_cli_fail(2, prog, "%s", nd_last_error());
    nd_args_release(&args);
    return rc;
  }
  char summary[PATH_MAX + 200] = "";
  if (t.format == ND_FILE_ZIP) {
    int64_t values = 0;
    for (int i = 0; i < t.n; i++) values += t.arrays[i].numel;
    char missing[300];
    int depth = cordsnet_depth(&t, missing, sizeof missing);
    if (layout == 1 && !depth) {
      rc = nd_cli_fail(2, prog, "%s: not upstream CordsNet's state_dict layout: no %s", in, missing);
      goto done;
    }
    if (!keep_dtype && (s = floats_to_f32(&t)) != ND_OK) {
      rc = nd_cli_fail(1, prog, "out of memory");
      goto done;
    }
    if (depth)
      snprintf(summary, sizeof summary, "%s: PyTorch state_dict, %d tensors, %lld values; upstream CordsNet key layout, depth %d (CordsNet-R%d)\n",
             in, t.n, (long long)values, depth, depth);
    else
      snprintf(summary, sizeof summary, "%s: PyTorch state_dict, %d tensors, %lld values\n", in, t.n, (long long)values);
  } else if (layout == 1) {
    rc = nd_cli_fail(2, prog, "%s: --layout checks a PyTorch .pth state_dict; this is %s", in,
                     nd_file_format_phrase(t.format));
    goto done;
  }
  /* Which tensors go out. */
  int first = 0, count = t.n;
  if (name && t.format == ND_FILE_SAFETENSORS) {
    first = -1;
    for (int i = 0; i < t.n; i++)
      if (!strcmp(t.names[i], name)) first = i;
    if (first < 0) {
      rc = nd_cli_fail(2, prog, "%s: no tensor named '%s' (neurodyn inspect %s lists them)", in, name, in);
      goto done;
    }
    count = 1;
  }
  if (count == 0) {
    rc = nd_cli_fail(2, prog, "%s: holds no tensors", in);
    goto done;
  }

  if (out_fmt == ND_FILE_NPY) {
    if (count != 1) {
      rc = nd_cli_fail(2, prog, "%s holds %d tensors and an NPY file holds one: choose it with --name", in, count);
      goto done;
    }
    const nd_array *a = &t.arrays[first];
    if (a->dtype == ND_DTYPE_F64) {
      s = nd_npy_write_f64(out, a->ndim, a->shape, a->data);
    } else {
      if (a->ndim > ND_MAX_DIMS) {
        rc = nd_cli_fail(2, prog, "%s: tensor '%s' has %d dimensions; NPY output of %s supports at most %d", in,
                         t.names[first], a->ndim, nd_dtype_name(a->dtype), ND_MAX_DIMS);
        goto done;
      }
      nd_tensor ft;
      if (a->dtype == ND_DTYPE_F32) {
        ft = nd_tensor_wrap(a->data, a->ndim, a->shape);
        s = nd_npy_write(out, &ft);
      } else {
        fprintf(stderr, "%s: note: tensor '%s' is %s; %s stores it as f32\n", prog, t.names[first],
                nd_dtype_name(a->dtype), out);
        s = nd_array_to_tensor(a, &ft);
        if (s == ND_OK) s = nd_npy_write(out, &ft);
        nd_tensor_release(&ft);
      }
    }
  } else {
    const char *names[1];
    const nd_array *arrays[1];
    const char *const *nm = (const char *const *)t.names + first;
    const nd_array *const *ap = NULL;
    const nd_array **list = NULL;
    if (count == 1) {
      names[0] = name ? name : t.names[first];
      arrays[0] = &t.arrays[first];
      nm = names;
      ap = arrays;
    } else {
      list = malloc((size_t)count * sizeof *list);
      if (!list) {
        rc = nd_cli_fail(1, prog, "out of memory");
        goto done;
      }
      for (int i = 0; i < count; i++) list[i] = &t.arrays[first + i];
      ap = list;
    }
    s = nd_safetensors_write_arrays(out, count, nm, ap, t.n_meta ? (const char *const *)t.meta : NULL);
    free(list);
  }
  if (s != ND_OK) {
    rc = nd_cli_fail(nd_cli_status_code(s), prog, "%s", nd_last_error());
    goto done;
  }
  fputs(summary, stdout);
done:
  nd_tensor_file_release(&t);
  nd_args_release(&args);
  return rc;
}
