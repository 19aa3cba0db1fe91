/* neurodyn inspect FILE...: what an IDX, NPY or safetensors file holds. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "neurodyn/data.h"
#include "neurodyn/tensorfile.h"
#include "options.h"

/* IEEE half and bfloat16 to float. */
static float f16_to_f32(uint16_t h) {
  int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(m | 0x400), e - 25);
  return (h & 0x8000) ? -v : v;
}
static float bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* "3x4x5", "scalar" for no dimensions. */
static const char *shape_str(const nd_array *a, char *buf, size_t len) {
  size_t at = 0;
  buf[0] = '\0';
  if (a->ndim == 0) snprintf(buf, len, "scalar");
  for (int i = 0; i < a->ndim && at + 1 < len; i++) {
    int k = snprintf(buf + at, len - at, "%s%" PRId64, i ? "x" : "", a->shape[i]);
    if (k < 0) break;
    at += (size_t)k < len - at ? (size_t)k : len - at - 1;
  }
  return buf;
}

static double element(const nd_array *a, int64_t i) {
  switch (a->dtype) {
    case ND_DTYPE_U8: return ((const uint8_t *)a->data)[i];
    case ND_DTYPE_BOOL: return ((const uint8_t *)a->data)[i] != 0;
    case ND_DTYPE_I8: return ((const int8_t *)a->data)[i];
    case ND_DTYPE_I16: return ((const int16_t *)a->data)[i];
    case ND_DTYPE_I32: return ((const int32_t *)a->data)[i];
    case ND_DTYPE_I64: return (double)((const int64_t *)a->data)[i];
    case ND_DTYPE_F16: return f16_to_f32(((const uint16_t *)a->data)[i]);
    case ND_DTYPE_BF16: return bf16_to_f32(((const uint16_t *)a->data)[i]);
    case ND_DTYPE_F32: return ((const float *)a->data)[i];
    case ND_DTYPE_F64: return ((const double *)a->data)[i];
    default: return NAN;
  }
}

static void print_tensor(const char *name, const nd_array *a, bool stats) {
  char shape[160];
  shape_str(a, shape, sizeof shape);
  printf("  %-24s %-5s %-20s %" PRId64 " elements, %" PRIu64 " bytes", name, nd_dtype_name(a->dtype), shape,
         a->numel, (uint64_t)a->numel * nd_dtype_size(a->dtype));
  if (stats && a->numel > 0) {
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    int64_t nonfinite = 0;
    for (int64_t i = 0; i < a->numel; i++) {
      double v = element(a, i);
      if (!isfinite(v)) {
        nonfinite++;
        continue;
      }
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
      sum += v;
    }
    if (nonfinite < a->numel)
      printf(", min %.6g max %.6g mean %.6g", lo, hi, sum / (double)(a->numel - nonfinite));
    if (nonfinite) printf(", %" PRId64 " non-finite", nonfinite);
  }
  printf("\n");
}

/* Prints one file; returns 0 or 2 (reported). */
static int inspect_file(const char *prog, const char *path, bool stats) {
  nd_tensor_file t;
  nd_status s = nd_tensor_file_load(path, &t);
  if (s != ND_OK) {
    /* Bad input, including unreadable files (exit 2); the library's
     * message names the file; make sure of it. */
    const char *msg = nd_last_error();
    if (strstr(msg, path))
      nd_cli_fail(2, prog, "%s", msg);
    else
      nd_cli_fail(2, prog, "%s: %s", path, msg[0] ? msg : nd_status_str(s));
    return 2;
  }
  printf("%s: %s, %d tensor%s\n", path, nd_file_format_name(t.format), t.n, t.n == 1 ? "" : "s");
  for (int i = 0; i < t.n; i++) print_tensor(t.names[i], &t.arrays[i], stats);
  for (int i = 0; i < t.n_meta; i++) printf("  metadata %s = %s\n", t.meta[2 * i], t.meta[2 * i + 1]);
  nd_tensor_file_release(&t);
  return 0;
}

int nd_cli_inspect(int argc, char **argv) {
  const char *prog = "neurodyn inspect";
  bool stats;
  int which;
  const char *data_arg;
  static const char *const sets[] = {"none", "mnist", "fashion-mnist", NULL};
  const nd_option table[] = {
      {"stats", ND_OPT_BOOL, &stats, "true", "print min, max and mean of every tensor", NULL},
      {"dataset", ND_OPT_CHOICE, &which, "none", "also inspect the four files of this data set", sets},
      {"data", ND_OPT_STRING, &data_arg, NULL,
       "data directory for --dataset (default: $ND_DATA_DIR, else ./data)", NULL},
      ND_OPT_END,
  };
  const nd_opts spec = {prog, "[options] FILE... | --dataset NAME [--data DIR]",
                        "Prints the format, tensor names, dtypes and shapes (and safetensors metadata) of\n"
                        "IDX (MNIST, raw or gzip), NPY and safetensors files.  The format comes from the\n"
                        "first bytes, else from the extension (.idx, *-ubyte[.gz], .npy, .safetensors);\n"
                        "a file of another kind (PNG, JSON, text, ...) is named as such.  --dataset NAME\n"
                        "inspects the training and test files of a data set, found in --data DIR, else\n"
                        "$ND_DATA_DIR, else ./data.  A missing, malformed or foreign file is reported on\n"
                        "one line and the exit code is 2.",
                        table, 0, -1};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  rc = 0;
  if (args.npos == 0 && which == 0) {
    nd_args_release(&args);
    return nd_cli_fail(2, prog, "missing argument: nothing to inspect (give FILE... or --dataset NAME; see neurodyn inspect --help)");
  }
  if (data_arg && which == 0) {
    nd_args_release(&args);
    return nd_cli_fail(2, prog, "--data names the data directory of --dataset, which is not given");
  }
  for (int f = 0; f < args.npos; f++)
    if (inspect_file(prog, args.pos[f], stats)) rc = 2;
  if (which != 0) {
    static const char *const splits[2] = {"train", "test"};
    for (int sp = 0; sp < 2; sp++) {
      char im[4300], lb[4300];
      if (nd_dataset_files(data_arg && *data_arg ? data_arg : NULL, sets[which], splits[sp], im, lb, sizeof im) !=
          ND_OK) {
        nd_cli_fail(2, prog, "%s", nd_last_error());
        rc = 2;
        break; /* one message (the data directory is usually what is wrong) */
      }
      if (inspect_file(prog, im, stats)) rc = 2;
      if (inspect_file(prog, lb, stats)) rc = 2;
    }
  }
  fflush(stdout);
  nd_args_release(&args);
  return rc;
}
