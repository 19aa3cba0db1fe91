/* neurodyn file formats: IDX, safetensors, NPY, JSON Lines, PNG.
 *
 * Readers check everything a file claims against what the file holds and
 * fail with ND_ERR_NOT_FOUND (no such file), ND_ERR_IO (cannot open or read)
 * or ND_ERR_FORMAT (malformed content); nd_last_error() then names the file
 * and what is wrong, e.g.
 *   "data/train-images-idx3-ubyte: truncated: header says 60000x28x28 =
 *    47040000 bytes of data, file has 1000".
 * Each reader has an in-memory twin (nd_*_parse) that the file reader calls;
 * `name` there is only used in messages.
 *
 * Writers (except the JSON Lines log) write to "<path>.tmp.<pid>" in the same
 * directory, fsync it and rename it over <path> once complete; on any failure
 * the temporary is removed, so a half-written file never appears at <path>. */
#ifndef NEURODYN_IO_H
#define NEURODYN_IO_H

#include "neurodyn/core.h"
#include "neurodyn/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ typed arrays */

typedef enum nd_dtype {
  ND_DTYPE_U8 = 0,
  ND_DTYPE_I8,
  ND_DTYPE_I16,
  ND_DTYPE_I32,
  ND_DTYPE_I64,
  ND_DTYPE_F16,
  ND_DTYPE_BF16,
  ND_DTYPE_F32,
  ND_DTYPE_F64,
  ND_DTYPE_BOOL,
  ND_DTYPE_COUNT_
} nd_dtype;

/* Bytes per element (0 for an invalid dtype) and a short name ("f32"). */
ND_API size_t nd_dtype_size(nd_dtype t);
ND_API const char *nd_dtype_name(nd_dtype t);

#define ND_ARRAY_MAX_DIMS 8

/* A typed, contiguous, row-major array in native byte order whose data
 * (malloc'ed, numel * nd_dtype_size(dtype) bytes) belongs to the struct. */
typedef struct nd_array {
  nd_dtype dtype;
  int ndim;                          /* 0..ND_ARRAY_MAX_DIMS */
  int64_t shape[ND_ARRAY_MAX_DIMS];  /* entries >= ndim are 1 */
  int64_t numel;
  void *data;
} nd_array;

/* Frees the data the struct holds and zeroes it; the struct itself is the
 * caller's (the _release rule: contents of a caller-owned struct, where _free
 * frees a heap object from _create).  NULL or a zeroed struct is a no-op. */
ND_API void nd_array_release(nd_array *a);

/* Copy of any array as float32 into a freshly allocated tensor (at most
 * ND_MAX_DIMS dimensions, else ND_ERR_UNSUPPORTED). */
ND_API nd_status nd_array_to_tensor(const nd_array *a, nd_tensor *out);

/* ------------------------------------------------------------ IDX (MNIST)
 * Magic 00 00 <type> <ndim>, ndim big-endian uint32 sizes, then the data
 * big-endian.  Types: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32,
 * 0x0E f64.  Gzip files (first bytes 1f 8b) are inflated through zlib. */
ND_API nd_status nd_idx_parse(const void *buf, size_t len, const char *name, nd_array *out);
ND_API nd_status nd_idx_read(const char *path, nd_array *out);
/* Writes an uncompressed IDX file (dtype u8, i8, i16, i32, f32 or f64). */
ND_API nd_status nd_idx_write(const char *path, const nd_array *a);

/* ------------------------------------------------------------ safetensors
 * 8-byte little-endian header length N, N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...,
 *    "__metadata__": {"key": "value", ...}}
 * then the byte buffer; offsets are relative to its start.  The reader
 * validates the header length, the JSON, each dtype, shape and offset pair,
 * and that the tensors tile the buffer exactly (no gap, no overlap), as the
 * reference implementation does.  Dtypes read: F64 F32 F16 BF16 I64 I32 I16
 * I8 U8 BOOL. */
typedef struct nd_safetensors nd_safetensors;

ND_API nd_status nd_safetensors_parse(const void *buf, size_t len, const char *name, nd_safetensors **out);
ND_API nd_status nd_safetensors_read(const char *path, nd_safetensors **out);
ND_API void nd_safetensors_free(nd_safetensors *st);

/* Tensors in file order (by data offset). */
ND_API int nd_safetensors_count(const nd_safetensors *st);
ND_API const char *nd_safetensors_name(const nd_safetensors *st, int i);
/* Dtype and shape of a named tensor (shape needs ND_ARRAY_MAX_DIMS slots;
 * any output may be NULL).  ND_ERR_NOT_FOUND names the file and tensor. */
ND_API nd_status nd_safetensors_info(const nd_safetensors *st, const char *name, nd_dtype *dtype, int *ndim,
                              int64_t *shape);
/* Named tensor converted to float32 in a freshly allocated tensor. */
ND_API nd_status nd_safetensors_get(const nd_safetensors *st, const char *name, nd_tensor *out);
/* Named tensor in its own dtype, native byte order. */
ND_API nd_status nd_safetensors_get_array(const nd_safetensors *st, const char *name, nd_array *out);
/* Metadata value for key, or NULL.  Keys in the order of the file. */
ND_API const char *nd_safetensors_metadata(const nd_safetensors *st, const char *key);
ND_API int nd_safetensors_metadata_count(const nd_safetensors *st);
ND_API const char *nd_safetensors_metadata_key(const nd_safetensors *st, int i);

/* Writes n float32 tensors (any strides; written contiguous) under the given
 * names (unique, non-empty, not "__metadata__").  metadata is NULL or a
 * NULL-terminated list of key, value strings: {"step", "100", NULL}.  Tensors
 * are stored sorted by name; the header is padded with spaces to a multiple
 * of 8 bytes, as the reference implementation does. */
ND_API nd_status nd_safetensors_write(const char *path, int n, const char *const *names, const nd_tensor *const *tensors,
                               const char *const *metadata);
/* Same for typed arrays of any dtype (sorted by element size, then name). */
ND_API nd_status nd_safetensors_write_arrays(const char *path, int n, const char *const *names,
                                      const nd_array *const *arrays, const char *const *metadata);

/* ------------------------------------------------------------ NPY
 * Versions 1.0, 2.0 and 3.0; C order only (fortran_order True is refused).
 * The float32 reader accepts '<f4', '>f4', '<f8', '>f8' (float64 is
 * rounded); the float64 reader accepts the same and widens float32. */
ND_API nd_status nd_npy_parse(const void *buf, size_t len, const char *name, nd_tensor *out);
ND_API nd_status nd_npy_read(const char *path, nd_tensor *out);
ND_API nd_status nd_npy_parse_f64(const void *buf, size_t len, const char *name, nd_array *out);
ND_API nd_status nd_npy_read_f64(const char *path, nd_array *out);
/* '<f4' file of t (any strides; written contiguous). */
ND_API nd_status nd_npy_write(const char *path, const nd_tensor *t);
/* '<f8' file of a row-major double array (ndim <= ND_ARRAY_MAX_DIMS). */
ND_API nd_status nd_npy_write_f64(const char *path, int ndim, const int64_t *shape, const double *data);

/* ------------------------------------------------------------ JSON Lines
 * An append-only metrics log: one JSON object per line, flushed after each
 * line.  Non-finite numbers are written as null. */
typedef struct nd_jsonl nd_jsonl;

typedef enum nd_jsonl_kind { ND_JSONL_NUM = 0, ND_JSONL_INT, ND_JSONL_STR, ND_JSONL_BOOL, ND_JSONL_NUMS } nd_jsonl_kind;
typedef struct nd_jsonl_field {
  const char *name;
  nd_jsonl_kind kind;
  double num;      /* ND_JSONL_NUM */
  int64_t i;       /* ND_JSONL_INT, ND_JSONL_BOOL (0 / 1) */
  const char *str; /* ND_JSONL_STR (NULL is written as null) */
  const double *nums; /* ND_JSONL_NUMS: an array of i numbers */
} nd_jsonl_field;

#define ND_JNUM(n, v) ((nd_jsonl_field){.name = (n), .kind = ND_JSONL_NUM, .num = (double)(v)})
#define ND_JINT(n, v) ((nd_jsonl_field){.name = (n), .kind = ND_JSONL_INT, .i = (int64_t)(v)})
#define ND_JSTR(n, v) ((nd_jsonl_field){.name = (n), .kind = ND_JSONL_STR, .str = (v)})
#define ND_JNUMS(n, p, c) ((nd_jsonl_field){.name = (n), .kind = ND_JSONL_NUMS, .nums = (p), .i = (int64_t)(c)})
#define ND_JBOOL(n, v) ((nd_jsonl_field){.name = (n), .kind = ND_JSONL_BOOL, .i = (v) ? 1 : 0})

/* Creates (truncates) path. */
ND_API nd_status nd_jsonl_open(const char *path, nd_jsonl **out);
/* Opens path for appending (creates it if missing), e.g. on resume. */
ND_API nd_status nd_jsonl_open_append(const char *path, nd_jsonl **out);
/* Writes {"name": value, ...} and a newline, then flushes. */
ND_API nd_status nd_jsonl_write(nd_jsonl *w, int n, const nd_jsonl_field *fields);
/* Closes and frees w (NULL is fine); reports a failed final flush. */
ND_API nd_status nd_jsonl_close(nd_jsonl *w);

/* ------------------------------------------------------------ PNG */

/* 8-bit images, rows top to bottom: gray has w*h bytes, RGB 3*w*h. */
ND_API nd_status nd_png_write_gray(const char *path, int width, int height, const uint8_t *pixels);
ND_API nd_status nd_png_write_rgb(const char *path, int width, int height, const uint8_t *pixels);

typedef enum nd_colormap {
  ND_CMAP_GRAY = 0, /* min -> black, max -> white */
  ND_CMAP_BWR       /* -m -> blue, 0 -> white, +m -> red, m = max |x| (matplotlib 'bwr') */
} nd_colormap;

typedef struct nd_png_tiles_opts {
  int cols;          /* tiles per row; <= 0: ceil(sqrt(n)) */
  nd_colormap cmap;
  int zoom;          /* each value becomes zoom x zoom pixels; <= 0: 1 */
  bool global_range; /* one range for all tiles instead of one per tile */
  bool no_colorbar;  /* leave out the colour bar under the grid */
} nd_png_tiles_opts;

/* n filters of h x w floats (filter k at filters + k*h*w), laid out in a grid
 * at the top left of the image: cols tiles per row, each value zoom x zoom
 * pixels, a 1-pixel separator around every tile (mid gray for ND_CMAP_GRAY,
 * light gray (210) for ND_CMAP_BWR; never black) and empty grid cells in the
 * separator colour, so tile k's value (i, j) has its top-left pixel at
 * x = 1 + (k % cols)(w zoom + 1) + j zoom, y = 1 + (k / cols)(h zoom + 1) + i zoom.
 * Each tile is normalised on its own unless opts->global_range.  NaN maps to
 * the middle of the colour map.
 * Under the grid (unless opts->no_colorbar) a colour bar: the map from its low
 * end at the left to its high end at the right (at most 256 pixels wide,
 * centred, gray frame), labelled at its ends with the range (the numbers with
 * global_range; "-max", "0", "+max" (bwr) or "min", "max" (gray) when each
 * tile has its own range) and a caption saying which; the image is widened
 * with white to at least 160 pixels (or the caption) and grows by 42 rows.
 * White around the grid and bar.  opts may be NULL (defaults: all zero). */
ND_API nd_status nd_png_write_tiles(const char *path, const float *filters, int n, int h, int w,
                             const nd_png_tiles_opts *opts);

typedef struct nd_plot_series {
  const double *x; /* NULL: 0, 1, ..., n-1 */
  const double *y;
  int n;
  const char *label; /* legend text; NULL or "": not in the legend */
} nd_plot_series;

/* New fields go at the end so positional initialisers ({640, 400, false})
 * keep compiling. */
typedef struct nd_plot_opts {
  int width, height; /* pixels; <= 0: 640 x 400 */
  bool log_y;        /* logarithmic y axis; points with y <= 0 are skipped */
  const char *title, *x_label, *y_label; /* NULL or "": none */
} nd_plot_opts;

/* Line plot of up to 10 series (colours of matplotlib's tab10 cycle) on white
 * with axes, tick marks and numeric tick labels, in a built-in 5x7 font that
 * has digits, A-Z, a-z, space and ( ) [ ] < > , : / % _ = | ' . - + (other
 * characters draw as nothing).  Optional text: the title centred above the
 * plot area, x_label centred below the x tick labels, y_label horizontal above
 * the y axis, and a legend box in the top-right corner of the plot area with
 * one row per series that has a label.  The margins grow only for the text
 * given; without any, the plot area spans x = 62 .. width-12 and
 * y = 10 .. height-24 (the layout of plots that have no text options).
 * Points whose x or y is not finite break the line.  opts may be NULL. */
ND_API nd_status nd_png_plot_lines(const char *path, int n_series, const nd_plot_series *series, const nd_plot_opts *opts);

/* One panel of a multi-panel plot: its own series, y axis and y label. */
typedef struct nd_plot_panel {
  const nd_plot_series *series;
  int n_series;        /* 1..10 */
  const char *y_label; /* horizontal, above the panel's y axis; NULL or "": none */
  bool log_y;          /* logarithmic y axis; points with y <= 0 are skipped */
  double y_min, y_max; /* y_min < y_max: the axis spans [y_min, y_max] (plus the
                          5% margin every axis gets) instead of the data range */
} nd_plot_panel;

/* Up to 10 panels stacked top to bottom, one per quantity, sharing one x
 * axis: every panel has its own y range, tick labels and y label (so a 0..25
 * curve and a 0..1 curve each fill their panel); x tick labels and x_label
 * are drawn under the bottom panel only, and opts->title above the top one.
 * Series colours continue through the tab10 cycle from panel to panel (the
 * first series of the second panel takes the colour after the last of the
 * first), and each panel has its own legend for its labelled series.  The
 * panels share the height equally; opts->log_y and opts->y_label are not used
 * (they are per panel here).  Default size 640 x 400 for one or two panels,
 * 640 x (60 + 170 n) for more; each panel's plot area needs at least 30
 * pixels of height, else ND_ERR_INVALID_ARG.  Example (the Krotov
 * convergence figure):
 *   nd_plot_series a = {.x = epoch, .y = mean_pnorm, .n = n};
 *   nd_plot_series b = {.x = epoch, .y = frac_converged, .n = n};
 *   nd_plot_panel p[2] = {{.series = &a, .n_series = 1, .y_label = "mean p-norm"},
 *                         {.series = &b, .n_series = 1, .y_label = "fraction converged",
 *                          .y_min = 0, .y_max = 1}};
 *   nd_png_plot_panels("convergence.png", 2, p,
 *                      &(nd_plot_opts){.title = "convergence", .x_label = "epoch"});
 * nd_png_plot_lines is the one-panel case of this function. */
ND_API nd_status nd_png_plot_panels(const char *path, int n_panels, const nd_plot_panel *panels,
                                    const nd_plot_opts *opts);

/* One panel of a heat-map plot: the image z [rows, cols] (row-major, row 0
 * at the BOTTOM, i.e. at y0), its columns' and rows' centres spanning
 * [x0, x1] and [y0, y1] in data units (rows evenly spaced in log10 y when
 * log_y, y0, y1 > 0: a geometric frequency axis), its colour scale
 * [z_min, z_max] (z_min >= z_max: the finite data range), ND_CMAP_GRAY
 * (invert: white for low, black for high) or ND_CMAP_BWR. */
typedef struct nd_plot_heatmap {
  const float *z;
  int rows, cols;
  double x0, x1, y0, y1;
  bool log_y;
  double z_min, z_max;
  nd_colormap cmap;
  bool invert;
  const char *y_label; /* above the panel's y axis; NULL or "": none */
} nd_plot_heatmap;

/* Up to 10 heat maps stacked top to bottom sharing the x axis, each with
 * its own y axis, tick labels and y label, in the layout of
 * nd_png_plot_panels (title above, x_label under the bottom panel; default
 * size 640 x 400 for one or two panels, 640 x (60 + 170 n) for more).  Each
 * cell is painted as the rectangle around its centre, nearest-neighbour
 * scaled to the plot area; NaN paints as the middle of the map.  A
 * spectrogram: z [channels, frames], x time, y channel frequency. */
ND_API nd_status nd_png_plot_heatmaps(const char *path, int n_panels, const nd_plot_heatmap *maps, const nd_plot_opts *opts);

/* ------------------------------------------------------------ audio */

/* True when this build reads audio files (libsndfile found at build time). */
ND_API bool nd_audio_available(void);
/* The audio file at path (WAV, FLAC, ... as libsndfile reads them) as mono
 * float samples in [-1, 1] (channels averaged): *samples malloc'ed [*frames]
 * (free() it), *rate in Hz.  ND_ERR_NOT_FOUND / ND_ERR_FORMAT naming the
 * file; ND_ERR_UNSUPPORTED when built without libsndfile. */
ND_API nd_status nd_audio_read(const char *path, float **samples, int64_t *frames, double *rate);

/* Points in the complex plane, e.g. eigenvalue spectra: up to 10 sets of
 * points (re[i], im[i]) drawn as small diamonds in the tab10 colours, with
 * equal scales on both axes (a circle looks round), the grid, ticks and tick
 * labels of the line plots, the real and imaginary axes as grey lines
 * through 0, up to 10 circles (e.g. the unit circle) as thin dark lines, and
 * a legend of the labelled sets.  The view holds every finite point, every
 * circle and the origin.  Square image of o->size pixels (<= 0: 560). */
typedef struct nd_plot_points {
  const double *re, *im;
  int n;
  const char *label; /* legend text; NULL or "": not in the legend */
} nd_plot_points;
typedef struct nd_plot_circle {
  double cx, cy, r;
} nd_plot_circle;
typedef struct nd_plot_complex_opts {
  int size;
  const char *title, *x_label, *y_label;
  const nd_plot_circle *circles;
  int n_circles;
} nd_plot_complex_opts;
ND_API nd_status nd_png_plot_complex(const char *path, int n_sets, const nd_plot_points *sets,
                                     const nd_plot_complex_opts *opts);

/* ------------------------------------------------------------ whole files */

/* The whole of a regular file into *buf (malloc'ed, one extra NUL byte
 * after the *len bytes; free() it).  A FIFO, directory or device is refused
 * before reading (ND_ERR_INVALID_ARG, so nothing blocks); a missing file is
 * ND_ERR_NOT_FOUND.  Every message names the file. */
ND_API nd_status nd_file_read_all(const char *path, void **buf, size_t *len);
/* Writes len bytes to path atomically: "<path>.tmp.<pid>", fsync, rename;
 * on failure the temporary is removed and path is unchanged. */
ND_API nd_status nd_file_write_atomic(const char *path, const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
