/* PNG output through libpng: plain 8-bit images, tiled filter grids with a
 * grayscale or blue-white-red colour map, and simple line plots. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "io/io_internal.h"

/* Tile separators (see nd_png_write_tiles). */
#define ND__TILE_SEP_GRAY 128
#define ND__TILE_SEP_BWR 210

/* ---------------------------------------------------------------- writer */

typedef struct png_ctx {
  nd__afile f;
  jmp_buf jmp;
  char msg[200];
} png_ctx;

static void png_err(png_structp png, png_const_charp msg) {
  png_ctx *c = png_get_error_ptr(png);
  snprintf(c->msg, sizeof c->msg, "%s", msg ? msg : "libpng error");
  longjmp(c->jmp, 1);
}
static void png_warn(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg; /* the library does not print */
}
static void png_write_cb(png_structp png, png_bytep data, size_t n) {
  png_ctx *c = png_get_io_ptr(png);
  if (nd__afile_write(&c->f, data, n) != ND_OK) png_error(png, "write failed");
}
static void png_flush_cb(png_structp png) { (void)png; }

static nd_status write_png(const char *path, int width, int height, int channels, const uint8_t *pixels) {
  if (!path) return nd__error(ND_ERR_INVALID_ARG, "png: path is NULL");
  if (width <= 0 || height <= 0 || width > 100000 || height > 100000 || !pixels)
    return nd__error(ND_ERR_INVALID_ARG, "%s: bad image %dx%d or NULL pixels", path, width, height);
  /* Everything that changes after setjmp lives on the heap, so its value is
   * well defined after a longjmp from libpng's error handler. */
  png_ctx *c = calloc(1, sizeof *c);
  if (!c) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate", path);
  nd_status s = nd__afile_open(&c->f, path);
  if (s != ND_OK) {
    free(c);
    return s;
  }
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, c, png_err, png_warn);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info) {
    png_destroy_write_struct(&png, &info);
    nd__afile_abort(&c->f);
    free(c);
    return nd__error(ND_ERR_NOMEM, "%s: cannot create the libpng writer", path);
  }
  if (setjmp(c->jmp)) {
    png_destroy_write_struct(&png, &info);
    s = c->f.status != ND_OK ? c->f.status : nd__error(ND_ERR_IO, "%s: libpng: %s", path, c->msg);
    nd__afile_abort(&c->f);
    free(c);
    return s;
  }
  png_set_write_fn(png, c, png_write_cb, png_flush_cb);
  png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
               channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < height; y++)
    png_write_row(png, (png_const_bytep)(pixels + (size_t)y * (size_t)width * (size_t)channels));
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  s = nd__afile_commit(&c->f);
  free(c);
  return s;
}

nd_status nd_png_write_gray(const char *path, int width, int height, const uint8_t *pixels) {
  return write_png(path, width, height, 1, pixels);
}

nd_status nd_png_write_rgb(const char *path, int width, int height, const uint8_t *pixels) {
  return write_png(path, width, height, 3, pixels);
}

/* ---------------------------------------------------------------- colour maps */

static uint8_t to_byte(double x) {
  if (!(x > 0)) return 0;
  if (x >= 1) return 255;
  return (uint8_t)lround(x * 255.0);
}

/* Colour of value v under cmap with range [lo, hi] (gray) or [-m, m] (bwr). */
static void colour(nd_colormap cmap, float v, double lo, double hi, uint8_t rgb[3]) {
  if (cmap == ND_CMAP_BWR) {
    double m = hi, t = 0;
    if (isfinite(v) && m > 0) t = v / m;
    if (t < -1) t = -1;
    if (t > 1) t = 1;
    /* matplotlib 'bwr': blue (0,0,1) at -m, white at 0, red (1,0,0) at +m. */
    if (t < 0) {
      rgb[0] = rgb[1] = to_byte(1 + t);
      rgb[2] = 255;
    } else {
      rgb[0] = 255;
      rgb[1] = rgb[2] = to_byte(1 - t);
    }
    return;
  }
  double g = 0.5;
  if (isfinite(v) && hi > lo) g = (v - lo) / (hi - lo);
  rgb[0] = rgb[1] = rgb[2] = to_byte(g);
}

static void tile_range(nd_colormap cmap, const float *p, int64_t n, double *lo, double *hi) {
  double a = DBL_MAX, b = -DBL_MAX, m = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(p[i])) continue;
    if (p[i] < a) a = p[i];
    if (p[i] > b) b = p[i];
    if (fabs(p[i]) > m) m = fabs(p[i]);
  }
  if (a > b) a = b = 0;
  if (cmap == ND_CMAP_BWR) {
    *lo = -m;
    *hi = m;
  } else {
    *lo = a;
    *hi = b;
  }
}

/* ---------------------------------------------------------------- plots */

/* 5x7 glyphs, one byte per row, bit 4 = leftmost column: digits and what
 * tick labels need, then letters and punctuation for titles, axis labels and
 * legends (hand-drawn after the classic 5x7 character-LCD shapes; lower case
 * has its own glyphs, descenders sit inside the 7 rows).  Characters not
 * listed draw as nothing. */
static const char font_chars[] = "0123456789.-+e"
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdfghijklmnopqrstuvwxyz ()[]<>,:/%_=|'";
static const uint8_t font[][7] = {
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}, {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}, {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}, {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}, {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}, {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}, {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00},
    {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}, {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E},
    {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11}, /* A */
    {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}, /* B */
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}, /* C */
    {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}, /* D */
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}, /* E */
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}, /* F */
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}, /* G */
    {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}, /* H */
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}, /* I */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}, /* J */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, /* K */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}, /* L */
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}, /* M */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}, /* N */
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, /* O */
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}, /* P */
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}, /* Q */
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}, /* R */
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}, /* S */
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* T */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, /* U */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}, /* V */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}, /* W */
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}, /* X */
    {0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04}, /* Y */
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}, /* Z */
    {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F}, /* a */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E}, /* b */
    {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E}, /* c */
    {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F}, /* d */
    {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08}, /* f */
    {0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E}, /* g */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}, /* h */
    {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E}, /* i */
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0C}, /* j */
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12}, /* k */
    {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}, /* l */
    {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11}, /* m */
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11}, /* n */
    {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E}, /* o */
    {0x00, 0x00, 0x1E, 0x11, 0x1E, 0x10, 0x10}, /* p */
    {0x00, 0x00, 0x0D, 0x13, 0x0F, 0x01, 0x01}, /* q */
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10}, /* r */
    {0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E}, /* s */
    {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06}, /* t */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D}, /* u */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04}, /* v */
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A}, /* w */
    {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11}, /* x */
    {0x00, 0x00, 0x11, 0x11, 0x0F, 0x01, 0x0E}, /* y */
    {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F}, /* z */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /*   */
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}, /* ( */
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}, /* ) */
    {0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E}, /* [ */
    {0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E}, /* ] */
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02}, /* < */
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}, /* > */
    {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}, /* , */
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}, /* : */
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}, /* / */
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}, /* % */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}, /* _ */
    {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}, /* = */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* | */
    {0x0C, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00}, /* ' */
};
_Static_assert(sizeof font / sizeof font[0] == sizeof font_chars - 1, "one glyph per character of font_chars");

typedef struct canvas {
  uint8_t *px;
  int w, h;
} canvas;

static void set_px(canvas *c, int x, int y, const uint8_t rgb[3]) {
  if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
  uint8_t *q = c->px + 3 * ((size_t)y * (size_t)c->w + (size_t)x);
  q[0] = rgb[0];
  q[1] = rgb[1];
  q[2] = rgb[2];
}

/* The first n characters of s (fewer if s is shorter), top-left corner at
 * (x, y); each character takes 6 columns. */
static void draw_textn(canvas *c, int x, int y, const char *s, int n, const uint8_t rgb[3]) {
  for (; *s && n > 0; s++, n--, x += 6) {
    const char *k = strchr(font_chars, *s);
    if (!k) continue;
    const uint8_t *g = font[k - font_chars];
    for (int r = 0; r < 7; r++)
      for (int b = 0; b < 5; b++)
        if (g[r] & (0x10 >> b)) set_px(c, x + b, y + r, rgb);
  }
}

/* Width in pixels of text drawn by draw_text: 6*len-1. */
static int text_width(const char *s) { return 6 * (int)strlen(s) - 1; }

static void draw_text(canvas *c, int x, int y, const char *s, const uint8_t rgb[3]) {
  draw_textn(c, x, y, s, (int)strlen(s), rgb);
}

/* NULL and "" both mean "no text", so neither changes the layout. */
static bool has_text(const char *s) { return s && *s; }

static void fill_rect(canvas *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3]) {
  for (int y = y0; y <= y1; y++)
    for (int x = x0; x <= x1; x++) set_px(c, x, y, rgb);
}

/* Bresenham line clipped to the rectangle [x0c, x1c] x [y0c, y1c]; 2 px wide. */
static void draw_line(canvas *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3], int xa, int xb, int ya, int yb) {
  int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
  for (int guard = 0; guard < 100000; guard++) {
    if (x0 >= xa && x0 <= xb && y0 >= ya && y0 <= yb) {
      set_px(c, x0, y0, rgb);
      if (y0 + 1 <= yb) set_px(c, x0, y0 + 1, rgb);
    }
    if (x0 == x1 && y0 == y1) break;
    int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

/* Pixel offset, clamped far outside any canvas (and NaN to the far left) so
 * the int arithmetic of the line drawing cannot overflow. */
static int to_px(double v) {
  if (!(v > -1e6)) return -1000000;
  if (v > 1e6) return 1000000;
  return (int)lround(v);
}

/* 1, 2 or 5 times a power of ten, at least x. */
static double nice_step(double x) {
  double p = pow(10, floor(log10(x))), f = x / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

static void fmt_tick(char *buf, size_t len, double v, double step) {
  if (fabs(v) < step * 1e-9) v = 0;
  double a = fabs(v);
  if (v != 0 && (a >= 1e6 || a < 1e-4)) {
    snprintf(buf, len, "%.0e", v);
    /* "1e-05" -> "1e-5": drop exponent zeros */
    char *e = strchr(buf, 'e');
    if (e) {
      char *d = e + 2;
      while (*d == '0' && d[1]) memmove(d, d + 1, strlen(d));
      if (e[1] == '+') memmove(e + 1, e + 2, strlen(e + 1));
    }
    return;
  }
  int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
  if (dec > 6) dec = 6;
  snprintf(buf, len, "%.*f", dec, v);
}

static const uint8_t tab10[10][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                                     {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                                     {188, 189, 34},  {23, 190, 207}};

/* Legend in the top-right corner of a plot area (L..R, from T down): one row
 * per labelled series, a short 2-px line in the series colour (tab10[(c0 + s)
 * % 10]) and the label, on a white box with a thin grey border so it stays
 * readable over the lines it covers.  Labels too long for the plot area are
 * cut at its edge. */
static void draw_legend(canvas *c, int n_series, const nd_plot_series *series, int c0, int L, int R, int T) {
  enum { pad = 5, seg = 16, row_h = 11 };
  const uint8_t white[3] = {255, 255, 255}, edge[3] = {170, 170, 170}, black[3] = {0, 0, 0};
  int rows = 0, tw = 0;
  for (int s = 0; s < n_series; s++) {
    if (!has_text(series[s].label)) continue;
    rows++;
    if (text_width(series[s].label) > tw) tw = text_width(series[s].label);
  }
  if (!rows) return;
  int x1 = R - 6, y0 = T + 6;
  int x0 = x1 - (pad + seg + pad + tw + pad) + 1, y1 = y0 + rows * row_h + pad;
  if (x0 < L + 6) x0 = L + 6;
  fill_rect(c, x0, y0, x1, y1, white);
  for (int x = x0; x <= x1; x++) {
    set_px(c, x, y0, edge);
    set_px(c, x, y1, edge);
  }
  for (int y = y0; y <= y1; y++) {
    set_px(c, x0, y, edge);
    set_px(c, x1, y, edge);
  }
  /* Text from column tx to x1 - pad: w columns hold (w + 1) / 6 characters
   * (n characters take 6n - 1). */
  int tx = x0 + pad + seg + pad, fit = (x1 - pad - tx + 2) / 6, ty = y0 + pad;
  for (int s = 0; s < n_series; s++) {
    if (!has_text(series[s].label)) continue;
    /* 2 px thick like the plotted lines, level with the middle of the text */
    fill_rect(c, x0 + pad, ty + 3, x0 + pad + seg - 1, ty + 4, tab10[(c0 + s) % 10]);
    draw_textn(c, tx, ty, series[s].label, fit, black);
    ty += row_h;
  }
}

/* One panel of a plot: its series, y axis and frame (L..R x T..B). */
typedef struct panel_layout {
  const nd_plot_series *series;
  int n_series;
  int c0;       /* colour of the first series: tab10[c0 % 10] */
  bool log_y;
  const char *y_label;
  double ylo, yhi;
  int L, R, T, B;
} panel_layout;

static double plot_y(double y, bool log_y) { return log_y ? (y > 0 ? log10(y) : NAN) : y; }

/* Checks a panel's series and widens [*xlo, *xhi] by its usable points;
 * the panel's own y range goes to p->ylo, p->yhi (with the 5% margin, or
 * [y_min, y_max] plus that margin when y_min < y_max). */
static nd_status panel_ranges(const char *path, int panel, int n_panels, const nd_plot_panel *in, panel_layout *p,
                              double *xlo, double *xhi) {
  char where[32] = "";
  if (n_panels > 1) snprintf(where, sizeof where, "panel %d: ", panel);
  if (in->n_series < 1 || in->n_series > 10 || !in->series)
    return nd__error(ND_ERR_INVALID_ARG, "%s: %sneed 1..10 series, got %d", path, where, in->n_series);
  double ylo = DBL_MAX, yhi = -DBL_MAX;
  for (int s = 0; s < in->n_series; s++) {
    const nd_plot_series *se = &in->series[s];
    if (se->n < 0 || (se->n > 0 && !se->y))
      return nd__error(ND_ERR_INVALID_ARG, "%s: %sseries %d has no y values", path, where, s);
    for (int i = 0; i < se->n; i++) {
      double x = se->x ? se->x[i] : i, y = plot_y(se->y[i], in->log_y);
      if (!isfinite(x) || !isfinite(y)) continue;
      *xlo = fmin(*xlo, x);
      *xhi = fmax(*xhi, x);
      ylo = fmin(ylo, y);
      yhi = fmax(yhi, y);
    }
  }
  if (ylo > yhi)
    return nd__error(ND_ERR_INVALID_ARG, "%s: %sno finite%s points to plot", path, where,
                     in->log_y ? " positive" : "");
  double fy0 = plot_y(in->y_min, in->log_y), fy1 = plot_y(in->y_max, in->log_y);
  if (in->y_min < in->y_max && isfinite(fy0) && isfinite(fy1)) {
    ylo = fy0;
    yhi = fy1;
  }
  if (yhi - ylo <= 0) {
    double d = fabs(ylo) > 0 ? fabs(ylo) * 0.1 : 1;
    ylo -= d;
    yhi += d;
  }
  double my = (yhi - ylo) * 0.05;
  ylo -= my;
  yhi += my;
  if (!isfinite(yhi - ylo))
    return nd__error(ND_ERR_INVALID_ARG, "%s: %sthe y values span more than the range of a double", path, where);
  p->series = in->series;
  p->n_series = in->n_series;
  p->log_y = in->log_y;
  p->y_label = in->y_label;
  p->ylo = ylo;
  p->yhi = yhi;
  return ND_OK;
}

/* Grid, ticks (with labels on the y axis, and on the x axis when x_labels)
 * and the frame of one panel. */
static void draw_axes(canvas *c, const panel_layout *p, double xlo, double xhi, bool x_labels) {
  const uint8_t black[3] = {0, 0, 0}, grid[3] = {225, 225, 225};
  int L = p->L, R = p->R, T = p->T, B = p->B;
  double ylo = p->ylo, yhi = p->yhi;
  char lab[32];
  double xs = nice_step((xhi - xlo) / 6);
  /* Ticks by an integer counter: "v += step" stalls when the step is below
   * half an ulp of v (x = 1e15 .. 1e15 + 0.25), and at most 100 ticks. */
  double x0 = ceil(xlo / xs) * xs;
  for (int k = 0; k < 100 && isfinite(x0); k++) {
    double v = x0 + k * xs;
    if (!(v <= xhi + xs * 1e-9)) break;
    int px = L + to_px((v - xlo) / (xhi - xlo) * (R - L));
    for (int y = T; y <= B; y++) set_px(c, px, y, grid);
    for (int y = B; y <= B + 4; y++) set_px(c, px, y, black);
    if (!x_labels) continue;
    fmt_tick(lab, sizeof lab, v, xs);
    draw_text(c, px - (6 * (int)strlen(lab) - 1) / 2, B + 7, lab, black);
  }
  double ys = p->log_y ? fmax(1, nice_step((yhi - ylo) / 5)) : nice_step((yhi - ylo) / 5);
  bool log_decades = p->log_y && ceil(ylo) <= floor(yhi);
  if (p->log_y && !log_decades) ys = nice_step((yhi - ylo) / 5);
  /* Fewer ticks on a short panel: about one per 25 pixels. */
  while ((yhi - ylo) / ys > 1 + (B - T) / 25.0 && ys < 1e300) ys = nice_step(ys * 1.5);
  double y0 = ceil(ylo / ys) * ys;
  for (int k = 0; k < 100 && isfinite(y0); k++) {
    double v = y0 + k * ys;
    if (!(v <= yhi + ys * 1e-9)) break;
    int py = B - to_px((v - ylo) / (yhi - ylo) * (B - T));
    for (int x = L; x <= R; x++) set_px(c, x, py, grid);
    for (int x = L - 4; x <= L; x++) set_px(c, x, py, black);
    if (p->log_y) {
      double val = pow(10, v);
      if (log_decades)
        snprintf(lab, sizeof lab, "1e%d", (int)lround(v));
      else
        fmt_tick(lab, sizeof lab, val, val * 1e-3);
    } else {
      fmt_tick(lab, sizeof lab, v, ys);
    }
    draw_text(c, L - 7 - (6 * (int)strlen(lab) - 1), py - 3, lab, black);
  }
  for (int x = L; x <= R; x++) {
    set_px(c, x, T, black);
    set_px(c, x, B, black);
  }
  for (int y = T; y <= B; y++) {
    set_px(c, L, y, black);
    set_px(c, R, y, black);
  }
}

/* The series of one panel, drawn inside its frame. */
static void draw_series(canvas *c, const panel_layout *p, double xlo, double xhi) {
  int L = p->L, R = p->R, T = p->T, B = p->B;
  for (int s = 0; s < p->n_series; s++) {
    const nd_plot_series *se = &p->series[s];
    const uint8_t *col = tab10[(p->c0 + s) % 10];
    bool have = false;
    int px0 = 0, py0 = 0;
    for (int i = 0; i < se->n; i++) {
      double x = se->x ? se->x[i] : i, y = plot_y(se->y[i], p->log_y);
      if (!isfinite(x) || !isfinite(y)) {
        have = false;
        continue;
      }
      int px = L + to_px((x - xlo) / (xhi - xlo) * (R - L));
      int py = B - to_px((y - p->ylo) / (p->yhi - p->ylo) * (B - T));
      if (have)
        draw_line(c, px0, py0, px, py, col, L + 1, R - 1, T + 1, B - 1);
      else
        draw_line(c, px, py, px, py, col, L + 1, R - 1, T + 1, B - 1);
      px0 = px;
      py0 = py;
      have = true;
    }
  }
}

enum { PANEL_GAP = 12, LABEL_BAND = 14, MIN_PANEL_H = 30 };

/* Layout.  The margins grow only for the text that is there, so a plot
 * without title and axis labels keeps the layout it always had: plot area
 * x = 62 .. W-12, y = 10 .. H-24.  Each panel has a band of LABEL_BAND
 * pixels above its frame when it has a y label; panels are PANEL_GAP pixels
 * apart and share the height left equally. */
static nd_status layout_panels(const char *path, int n_panels, panel_layout *lay, int W, int H, const nd_plot_opts *o) {
  bool title = has_text(o->title), x_label = has_text(o->x_label);
  int top = 10 + (title ? 14 : 0), bottom = H - 24 - (x_label ? 12 : 0);
  int bands = 0;
  for (int i = 0; i < n_panels; i++) bands += has_text(lay[i].y_label) ? LABEL_BAND : 0;
  int ph = (bottom - top - bands - PANEL_GAP * (n_panels - 1)) / n_panels;
  if (ph < MIN_PANEL_H)
    return nd__error(ND_ERR_INVALID_ARG, "%s: %d panels do not fit a height of %d pixels (each needs %d)", path,
                     n_panels, H, MIN_PANEL_H + (bands ? LABEL_BAND : 0) + PANEL_GAP);
  int y = top;
  for (int i = 0; i < n_panels; i++) {
    lay[i].L = 62;
    lay[i].R = W - 12;
    lay[i].T = y + (has_text(lay[i].y_label) ? LABEL_BAND : 0);
    lay[i].B = i == n_panels - 1 ? bottom : lay[i].T + ph;
    y = lay[i].B + PANEL_GAP;
  }
  return ND_OK;
}

/* Text: title centred over the plot area, x label centred below the last
 * panel's tick labels, each y label horizontal above its panel's y axis (no
 * rotated text). */
static void draw_panel_text(canvas *c, int n_panels, const panel_layout *lay, const nd_plot_opts *o) {
  const uint8_t black[3] = {0, 0, 0};
  int L = lay[0].L, R = lay[0].R, B = lay[n_panels - 1].B;
  if (has_text(o->title)) draw_text(c, (int)fmax(2, (L + R) / 2 - text_width(o->title) / 2), 7, o->title, black);
  if (has_text(o->x_label)) draw_text(c, (int)fmax(2, (L + R) / 2 - text_width(o->x_label) / 2), B + 19, o->x_label, black);
  for (int i = 0; i < n_panels; i++)
    if (has_text(lay[i].y_label)) draw_text(c, 4, lay[i].T - 13, lay[i].y_label, black);
}

/* Panels stacked top to bottom over one x range; see io.h. */
static nd_status plot_panels(const char *path, int n_panels, const nd_plot_panel *panels, const nd_plot_opts *opts,
                             int default_h) {
  nd_plot_opts o = {0};
  if (opts) o = *opts;
  if (!path) return nd__error(ND_ERR_INVALID_ARG, "png_plot: path is NULL");
  if (n_panels < 1 || n_panels > 10 || !panels)
    return nd__error(ND_ERR_INVALID_ARG, "%s: need 1..10 panels, got %d", path, n_panels);
  int W = o.width > 0 ? o.width : 640, H = o.height > 0 ? o.height : default_h;
  if (W < 120 || H < 80 || W > 10000 || H > 10000)
    return nd__error(ND_ERR_INVALID_ARG, "%s: plot size %dx%d outside 120x80 .. 10000x10000", path, W, H);
  panel_layout lay[10];
  memset(lay, 0, sizeof lay);
  double xlo = DBL_MAX, xhi = -DBL_MAX;
  int c0 = 0;
  for (int i = 0; i < n_panels; i++) {
    ND_TRY(panel_ranges(path, i, n_panels, &panels[i], &lay[i], &xlo, &xhi));
    lay[i].c0 = c0;
    c0 += panels[i].n_series;
  }
  if (xhi - xlo <= 0) {
    xlo -= 1;
    xhi += 1;
  }
  if (!isfinite(xhi - xlo))
    return nd__error(ND_ERR_INVALID_ARG, "%s: the x values span more than the range of a double", path);
  /* Layout.  The margins grow only for the text that is there, so a plot
   * without title and axis labels keeps the layout it always had: plot area
   * x = 62 .. W-12, y = 10 .. H-24.  Each panel has a band of LABEL_BAND
   * pixels above its frame when it has a y label; panels are PANEL_GAP
   * pixels apart and share the height left equally. */
  ND_TRY(layout_panels(path, n_panels, lay, W, H, &o));
  canvas c = {malloc((size_t)W * (size_t)H * 3), W, H};
  if (!c.px) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate the image", path);
  memset(c.px, 255, (size_t)W * (size_t)H * 3);
  for (int i = 0; i < n_panels; i++) draw_axes(&c, &lay[i], xlo, xhi, i == n_panels - 1);
  for (int i = 0; i < n_panels; i++) draw_series(&c, &lay[i], xlo, xhi);
  draw_panel_text(&c, n_panels, lay, &o);
  for (int i = 0; i < n_panels; i++)
    draw_legend(&c, lay[i].n_series, lay[i].series, lay[i].c0, lay[i].L, lay[i].R, lay[i].T);
  nd_status st = write_png(path, W, H, 3, c.px);
  free(c.px);
  return st;
}

nd_status nd_png_plot_lines(const char *path, int n_series, const nd_plot_series *series, const nd_plot_opts *opts) {
  if (!path) return nd__error(ND_ERR_INVALID_ARG, "png_plot_lines: path is NULL");
  nd_plot_panel p = {.series = series, .n_series = n_series};
  if (opts) {
    p.log_y = opts->log_y;
    p.y_label = opts->y_label;
  }
  return plot_panels(path, 1, &p, opts, 400);
}

nd_status nd_png_plot_panels(const char *path, int n_panels, const nd_plot_panel *panels, const nd_plot_opts *opts) {
  if (!path) return nd__error(ND_ERR_INVALID_ARG, "png_plot_panels: path is NULL");
  int n = n_panels > 0 && n_panels <= 10 ? n_panels : 1;
  return plot_panels(path, n_panels, panels, opts, n <= 2 ? 400 : 60 + 170 * n);
}

/* ---------------------------------------------------------------- heat maps */

nd_status nd_png_plot_heatmaps(const char *path, int n_panels, const nd_plot_heatmap *maps, const nd_plot_opts *opts) {
  if (!path) return nd__error(ND_ERR_INVALID_ARG, "png_plot_heatmaps: path is NULL");
  if (n_panels < 1 || n_panels > 10 || !maps)
    return nd__error(ND_ERR_INVALID_ARG, "%s: need 1..10 heat maps, got %d", path, n_panels);
  nd_plot_opts o = {0};
  if (opts) o = *opts;
  const int W = o.width > 0 ? o.width : 640, H = o.height > 0 ? o.height : (n_panels <= 2 ? 400 : 60 + 170 * n_panels);
  if (W < 120 || H < 80 || W > 10000 || H > 10000)
    return nd__error(ND_ERR_INVALID_ARG, "%s: plot size %dx%d outside 120x80 .. 10000x10000", path, W, H);
  panel_layout lay[10];
  memset(lay, 0, sizeof lay);
  double xlo = 0, xhi = 0;
  for (int i = 0; i < n_panels; i++) {
    const nd_plot_heatmap *m = &maps[i];
    if (!m->z || m->rows < 1 || m->cols < 1 || (double)m->rows * m->cols > 1e9)
      return nd__error(ND_ERR_INVALID_ARG, "%s: heat map %d: need z and rows, cols >= 1 (got %d x %d)", path, i, m->rows,
                       m->cols);
    if (!isfinite(m->x0) || !isfinite(m->x1) || !isfinite(m->y0) || !isfinite(m->y1) ||
        (m->log_y && !(m->y0 > 0 && m->y1 > 0)))
      return nd__error(ND_ERR_INVALID_ARG, "%s: heat map %d: x0, x1, y0, y1 must be finite (y0, y1 > 0 with log_y)", path, i);
    /* the axes span the cells' edges: half a cell beyond the first and last centres */
    const double hx = m->cols > 1 ? 0.5 * (m->x1 - m->x0) / (m->cols - 1) : 0.5;
    const double ya = m->log_y ? log10(m->y0) : m->y0, yb = m->log_y ? log10(m->y1) : m->y1;
    const double hy = m->rows > 1 ? 0.5 * (yb - ya) / (m->rows - 1) : 0.5;
    if (i == 0) xlo = m->x0 - hx, xhi = m->x1 + hx;
    lay[i].log_y = m->log_y;
    lay[i].y_label = m->y_label;
    lay[i].ylo = ya - hy;
    lay[i].yhi = yb + hy;
    if (!(xhi > xlo) || !(lay[i].yhi > lay[i].ylo))
      return nd__error(ND_ERR_INVALID_ARG, "%s: heat map %d: empty x or y range (x0 < x1 and y0 < y1 needed)", path, i);
  }
  ND_TRY(layout_panels(path, n_panels, lay, W, H, &o));
  canvas c = {malloc((size_t)W * (size_t)H * 3), W, H};
  if (!c.px) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate the image", path);
  memset(c.px, 255, (size_t)W * (size_t)H * 3);
  for (int i = 0; i < n_panels; i++) {
    const nd_plot_heatmap *m = &maps[i];
    const panel_layout *p = &lay[i];
    draw_axes(&c, p, xlo, xhi, i == n_panels - 1);
    double lo = m->z_min, hi = m->z_max;
    if (!(lo < hi)) tile_range(ND_CMAP_GRAY, m->z, (int64_t)m->rows * m->cols, &lo, &hi);
    if (m->cmap == ND_CMAP_BWR) hi = fmax(fabs(lo), fabs(hi)), lo = -hi;
    for (int py = p->T + 1; py < p->B; py++) {
      const double fy = (p->B - py) / (double)(p->B - p->T); /* 0 at the bottom edge */
      const int row = (int)fmin(m->rows - 1, fmax(0, floor(fy * m->rows)));
      for (int px = p->L + 1; px < p->R; px++) {
        const double fx = (px - p->L) / (double)(p->R - p->L);
        const int col = (int)fmin(m->cols - 1, fmax(0, floor(fx * m->cols)));
        float v = m->z[(size_t)row * (size_t)m->cols + (size_t)col];
        if (m->cmap == ND_CMAP_GRAY && isfinite(v)) v = fminf(fmaxf(v, (float)lo), (float)hi);
        uint8_t rgb[3];
        colour(m->cmap, v, lo, hi, rgb);
        if (m->invert) rgb[0] = 255 - rgb[0], rgb[1] = 255 - rgb[1], rgb[2] = 255 - rgb[2];
        set_px(&c, px, py, rgb);
      }
    }
  }
  draw_panel_text(&c, n_panels, lay, &o);
  nd_status st = write_png(path, W, H, 3, c.px);
  free(c.px);
  return st;
}

/* ---------------------------------------------------------------- complex plane */

/* Points in the complex plane (io.h): equal scales on both axes, the real and
 * imaginary axes as dark lines through 0, circles as 1-px polylines. */
nd_status nd_png_plot_complex(const char *path, int n_sets, const nd_plot_points *sets,
                              const nd_plot_complex_opts *opts) {
  nd_plot_complex_opts o = {0};
  if (opts) o = *opts;
  if (!path) return nd__error(ND_ERR_INVALID_ARG, "png_plot_complex: path is NULL");
  if (n_sets < 1 || n_sets > 10 || !sets)
    return nd__error(ND_ERR_INVALID_ARG, "%s: need 1..10 point sets, got %d", path, n_sets);
  if (o.n_circles < 0 || o.n_circles > 10 || (o.n_circles && !o.circles))
    return nd__error(ND_ERR_INVALID_ARG, "%s: need 0..10 circles, got %d", path, o.n_circles);
  int W = o.size > 0 ? o.size : 560, H = W;
  if (W < 160 || W > 10000) return nd__error(ND_ERR_INVALID_ARG, "%s: plot size %d outside 160 .. 10000", path, W);
  double xlo = DBL_MAX, xhi = -DBL_MAX, ylo = DBL_MAX, yhi = -DBL_MAX;
  int finite = 0;
  for (int s = 0; s < n_sets; s++) {
    if (sets[s].n < 0 || (sets[s].n > 0 && (!sets[s].re || !sets[s].im)))
      return nd__error(ND_ERR_INVALID_ARG, "%s: point set %d has no values", path, s);
    for (int i = 0; i < sets[s].n; i++) {
      double x = sets[s].re[i], y = sets[s].im[i];
      if (!isfinite(x) || !isfinite(y)) continue;
      finite++;
      xlo = fmin(xlo, x), xhi = fmax(xhi, x), ylo = fmin(ylo, y), yhi = fmax(yhi, y);
    }
  }
  for (int k = 0; k < o.n_circles; k++) {
    const nd_plot_circle *ci = &o.circles[k];
    if (!isfinite(ci->cx) || !isfinite(ci->cy) || !(ci->r >= 0) || !isfinite(ci->r))
      return nd__error(ND_ERR_INVALID_ARG, "%s: circle %d is not finite with radius >= 0", path, k);
    xlo = fmin(xlo, ci->cx - ci->r), xhi = fmax(xhi, ci->cx + ci->r);
    ylo = fmin(ylo, ci->cy - ci->r), yhi = fmax(yhi, ci->cy + ci->r);
  }
  if (!finite && !o.n_circles) return nd__error(ND_ERR_INVALID_ARG, "%s: no finite points to plot", path);
  /* the axes through 0 are always in view */
  xlo = fmin(xlo, 0), xhi = fmax(xhi, 0), ylo = fmin(ylo, 0), yhi = fmax(yhi, 0);
  bool title = has_text(o.title), x_label = has_text(o.x_label), y_label = has_text(o.y_label);
  panel_layout p = {0};
  p.L = 62;
  p.R = W - 12;
  p.T = 10 + (title ? 14 : 0) + (y_label ? LABEL_BAND : 0);
  p.B = H - 24 - (x_label ? 12 : 0);
  /* equal scale: widen the shorter side around its centre, then a 5% margin */
  double span = fmax(fmax(xhi - xlo, yhi - ylo), 1e-12) * 1.1;
  if (!isfinite(span)) return nd__error(ND_ERR_INVALID_ARG, "%s: the values span more than the range of a double", path);
  double ppu = fmin((p.R - p.L) / span, (p.B - p.T) / span); /* pixels per unit */
  double cx = (xlo + xhi) / 2, cy = (ylo + yhi) / 2;
  double hx = (p.R - p.L) / ppu / 2, hy = (p.B - p.T) / ppu / 2;
  xlo = cx - hx, xhi = cx + hx;
  p.ylo = cy - hy, p.yhi = cy + hy;
  canvas c = {malloc((size_t)W * (size_t)H * 3), W, H};
  if (!c.px) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate the image", path);
  memset(c.px, 255, (size_t)W * (size_t)H * 3);
  const uint8_t black[3] = {0, 0, 0}, axis[3] = {90, 90, 90}, ring[3] = {60, 60, 60};
  draw_axes(&c, &p, xlo, xhi, true);
  int px0 = p.L + to_px((0 - xlo) * ppu), py0 = p.B - to_px((0 - p.ylo) * ppu);
  for (int y = p.T + 1; y < p.B; y++) set_px(&c, px0, y, axis);
  for (int x = p.L + 1; x < p.R; x++) set_px(&c, x, py0, axis);
  for (int k = 0; k < o.n_circles; k++) {
    const nd_plot_circle *ci = &o.circles[k];
    int segs = 720, qx = 0, qy = 0;
    for (int i = 0; i <= segs; i++) {
      double t = 2 * M_PI * i / segs;
      int x = p.L + to_px((ci->cx + ci->r * cos(t) - xlo) * ppu);
      int y = p.B - to_px((ci->cy + ci->r * sin(t) - p.ylo) * ppu);
      if (i) {
        /* a 1-px line: draw_line's second row only where the slope is steep */
        int dx = abs(x - qx), dy = abs(y - qy), sx = qx < x ? 1 : -1, sy = qy < y ? 1 : -1, err = dx - dy;
        for (int g = 0; g < 100000; g++) {
          if (qx > p.L && qx < p.R && qy > p.T && qy < p.B) set_px(&c, qx, qy, ring);
          if (qx == x && qy == y) break;
          int e2 = 2 * err;
          if (e2 > -dy) err -= dy, qx += sx;
          if (e2 < dx) err += dx, qy += sy;
        }
      }
      qx = x, qy = y;
    }
  }
  for (int s = 0; s < n_sets; s++) {
    const uint8_t *col = tab10[s % 10];
    for (int i = 0; i < sets[s].n; i++) {
      double x = sets[s].re[i], y = sets[s].im[i];
      if (!isfinite(x) || !isfinite(y)) continue;
      int px = p.L + to_px((x - xlo) * ppu), py = p.B - to_px((y - p.ylo) * ppu);
      for (int dy = -2; dy <= 2; dy++)
        for (int dx = -2; dx <= 2; dx++)
          if (abs(dx) + abs(dy) <= 3 && px + dx > p.L && px + dx < p.R && py + dy > p.T && py + dy < p.B)
            set_px(&c, px + dx, py + dy, col);
    }
  }
  if (title) draw_text(&c, (int)fmax(2, (p.L + p.R) / 2 - text_width(o.title) / 2), 7, o.title, black);
  if (x_label) draw_text(&c, (int)fmax(2, (p.L + p.R) / 2 - text_width(o.x_label) / 2), p.B + 19, o.x_label, black);
  if (y_label) draw_text(&c, 4, p.T - 13, o.y_label, black);
  nd_plot_series leg[10];
  for (int s = 0; s < n_sets; s++) leg[s] = (nd_plot_series){.label = sets[s].label};
  draw_legend(&c, n_sets, leg, 0, p.L, p.R, p.T);
  nd_status st = write_png(path, W, H, 3, c.px);
  free(c.px);
  return st;
}

/* ---------------------------------------------------------------- tiles */

/* "%.3g" without a "+" or leading zeros in the exponent: 1.5e-05 -> 1.5e-5. */
static void fmt_value(char *buf, size_t len, double v) {
  if (fabs(v) < 1e-300) v = 0;
  snprintf(buf, len, "%.3g", v);
  char *e = strchr(buf, 'e');
  if (e) {
    if (e[1] == '+') memmove(e + 1, e + 2, strlen(e + 1));
    char *d = e + (e[1] == '-' ? 2 : 1);
    while (*d == '0' && d[1]) memmove(d, d + 1, strlen(d));
  }
}

/* Colour bar strip under the grid: gap, bar, labels, caption, margin. */
enum { CB_GAP = 6, CB_BAR = 10, CB_STRIP = CB_GAP + CB_BAR + 3 + 7 + 5 + 7 + 4, CB_MIN_W = 160 };

nd_status nd_png_write_tiles(const char *path, const float *filters, int n, int h, int w,
                             const nd_png_tiles_opts *opts) {
  nd_png_tiles_opts o = {0};
  if (opts) o = *opts;
  if (!path) return nd__error(ND_ERR_INVALID_ARG, "png_write_tiles: path is NULL");
  if (n <= 0 || h <= 0 || w <= 0 || !filters)
    return nd__error(ND_ERR_INVALID_ARG, "%s: need n, h, w > 0 and filters (got n=%d h=%d w=%d)", path, n, h, w);
  if (o.cmap != ND_CMAP_GRAY && o.cmap != ND_CMAP_BWR)
    return nd__error(ND_ERR_INVALID_ARG, "%s: unknown colour map %d", path, (int)o.cmap);
  int zoom = o.zoom > 0 ? o.zoom : 1;
  if ((int64_t)w * zoom > 100000 || (int64_t)h * zoom > 100000)
    return nd__error(ND_ERR_INVALID_ARG, "%s: tiles of %dx%d values at zoom %d are too large", path, h, w, zoom);
  int cols = o.cols > 0 ? o.cols : (int)ceil(sqrt((double)n));
  if (cols > n) cols = n;
  int rows = (n + cols - 1) / cols;
  int64_t tw = (int64_t)w * zoom + 1, th = (int64_t)h * zoom + 1;
  int64_t GW = cols * tw + 1, GH = rows * th + 1; /* the grid, at the top left */
  int64_t per = (int64_t)h * w;
  double glo = 0, ghi = 0;
  if (o.global_range) tile_range(o.cmap, filters, per * n, &glo, &ghi);
  /* Colour bar labels: values with one range for all tiles, else names. */
  bool bar = !o.no_colorbar;
  char lo_s[32], hi_s[32];
  const char *caption;
  if (o.global_range) {
    fmt_value(lo_s, sizeof lo_s, glo);
    fmt_value(hi_s, sizeof hi_s, ghi);
    caption = "one scale for all tiles";
  } else if (o.cmap == ND_CMAP_BWR) {
    snprintf(lo_s, sizeof lo_s, "-max");
    snprintf(hi_s, sizeof hi_s, "+max");
    caption = "each tile scaled to its max |x|";
  } else {
    snprintf(lo_s, sizeof lo_s, "min");
    snprintf(hi_s, sizeof hi_s, "max");
    caption = "each tile scaled to its min..max";
  }
  int64_t W = GW, H = GH;
  if (bar) {
    int need = text_width(caption) + 8;
    if (need < CB_MIN_W) need = CB_MIN_W;
    if (W < need) W = need;
    H += CB_STRIP;
  }
  if (W > 100000 || H > 100000)
    return nd__error(ND_ERR_INVALID_ARG, "%s: image of %lldx%lld pixels is too large", path, (long long)W, (long long)H);
  canvas c = {malloc((size_t)(W * H * 3)), (int)W, (int)H};
  if (!c.px) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate the image", path);
  /* White around the grid; the grid's 1-pixel separators are mid gray under
   * the gray map and light gray under bwr (never black: black is no value
   * of that map, and a black mesh drowns small tiles). */
  memset(c.px, 255, (size_t)(W * H * 3));
  const uint8_t sep[3] = {ND__TILE_SEP_GRAY, ND__TILE_SEP_GRAY, ND__TILE_SEP_GRAY},
                sep_bwr[3] = {ND__TILE_SEP_BWR, ND__TILE_SEP_BWR, ND__TILE_SEP_BWR};
  fill_rect(&c, 0, 0, (int)GW - 1, (int)GH - 1, o.cmap == ND_CMAP_GRAY ? sep : sep_bwr);
  for (int k = 0; k < n; k++) {
    const float *p = filters + per * k;
    double lo = glo, hi = ghi;
    if (!o.global_range) tile_range(o.cmap, p, per, &lo, &hi);
    int64_t x0 = 1 + (k % cols) * tw, y0 = 1 + (k / cols) * th;
    for (int i = 0; i < h; i++)
      for (int j = 0; j < w; j++) {
        uint8_t rgb[3];
        colour(o.cmap, p[i * w + j], lo, hi, rgb);
        for (int a = 0; a < zoom; a++)
          for (int b = 0; b < zoom; b++) {
            uint8_t *q = c.px + 3 * ((y0 + (int64_t)i * zoom + a) * W + x0 + (int64_t)j * zoom + b);
            q[0] = rgb[0];
            q[1] = rgb[1];
            q[2] = rgb[2];
          }
      }
  }
  if (bar) {
    /* The map from its low end (left) to its high end (right), framed in
     * gray, with the end labels under its ends ("0" under the middle for
     * bwr) and the caption below. */
    const uint8_t black[3] = {0, 0, 0}, frame[3] = {128, 128, 128};
    int bw = (int)W - 8 > 256 ? 256 : (int)W - 8;
    int bx0 = ((int)W - bw) / 2, by0 = (int)GH + CB_GAP, bx1 = bx0 + bw - 1, by1 = by0 + CB_BAR - 1;
    double lo = o.cmap == ND_CMAP_BWR ? -1 : 0, hi = 1;
    for (int x = bx0; x <= bx1; x++) {
      double t = lo + (hi - lo) * (x - bx0) / (double)(bw - 1);
      uint8_t rgb[3];
      colour(o.cmap, (float)t, lo, hi, rgb);
      for (int y = by0; y <= by1; y++) set_px(&c, x, y, rgb);
    }
    for (int x = bx0 - 1; x <= bx1 + 1; x++) {
      set_px(&c, x, by0 - 1, frame);
      set_px(&c, x, by1 + 1, frame);
    }
    for (int y = by0 - 1; y <= by1 + 1; y++) {
      set_px(&c, bx0 - 1, y, frame);
      set_px(&c, bx1 + 1, y, frame);
    }
    int ty = by1 + 4;
    draw_text(&c, bx0, ty, lo_s, black);
    draw_text(&c, bx1 + 1 - text_width(hi_s), ty, hi_s, black);
    if (o.cmap == ND_CMAP_BWR) draw_text(&c, (bx0 + bx1) / 2 - 2, ty, "0", black);
    draw_text(&c, (int)W / 2 - text_width(caption) / 2, ty + 7 + 5, caption, black);
  }
  nd_status s;
  if (o.cmap == ND_CMAP_GRAY) {
    for (int64_t i = 0; i < W * H; i++) c.px[i] = c.px[3 * i]; /* in place: i <= 3i */
    s = write_png(path, (int)W, (int)H, 1, c.px);
  } else {
    s = write_png(path, (int)W, (int)H, 3, c.px);
  }
  free(c.px);
  return s;
}
