/* PNG output read back with libpng's own decoder (png_image API): raw gray
 * and RGB images, tiled filters with both colour maps checked pixel by pixel
 * at chosen points, line plots (valid PNG, stated size, series colours), and
 * their text (title, axis labels, legend, font), found by scanning the image. */
#include "io_test_util.h"

#include <png.h>

static char dir[64];

static int setup(void **state) {
  (void)state;
  io_mkdtemp(dir);
  return 0;
}
static int teardown(void **state) {
  (void)state;
  io_rm_rf(dir);
  return 0;
}

static void path_in(char *buf, const char *name) { snprintf(buf, 256, "%s/%s", dir, name); }

typedef struct decoded {
  int w, h;
  bool color;   /* stored as a colour PNG (else grayscale) */
  uint8_t *rgb; /* w*h*3, converted by libpng */
} decoded;

static decoded decode(const char *p) {
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&im, p)) fail_msg("libpng cannot read %s: %s", p, im.message);
  decoded d = {(int)im.width, (int)im.height, (im.format & PNG_FORMAT_FLAG_COLOR) != 0, NULL};
  im.format = PNG_FORMAT_RGB;
  d.rgb = malloc(PNG_IMAGE_SIZE(im));
  if (!png_image_finish_read(&im, NULL, d.rgb, 0, NULL)) fail_msg("libpng cannot decode %s: %s", p, im.message);
  png_image_free(&im);
  return d;
}

static const uint8_t *px(const decoded *d, int x, int y) {
  assert_true(x >= 0 && y >= 0 && x < d->w && y < d->h);
  return d->rgb + 3 * ((size_t)y * (size_t)d->w + (size_t)x);
}

static void expect_px(const decoded *d, int x, int y, int r, int g, int b) {
  const uint8_t *q = px(d, x, y);
  if (abs(q[0] - r) > 1 || abs(q[1] - g) > 1 || abs(q[2] - b) > 1)
    fail_msg("pixel (%d, %d) is (%d, %d, %d), expected (%d, %d, %d) +-1", x, y, q[0], q[1], q[2], r, g, b);
}

static void test_raw_images(void **state) {
  (void)state;
  char p[256];
  path_in(p, "g.png");
  uint8_t g[7 * 5], c[4 * 3 * 3];
  for (int i = 0; i < 35; i++) g[i] = (uint8_t)(i * 7);
  for (int i = 0; i < 36; i++) c[i] = (uint8_t)(255 - i * 5);
  nd_assert_ok(nd_png_write_gray(p, 7, 5, g));
  decoded d = decode(p);
  assert_int_equal(d.w, 7);
  assert_int_equal(d.h, 5);
  assert_false(d.color);
  for (int i = 0; i < 35; i++) assert_int_equal(d.rgb[3 * i], g[i]);
  free(d.rgb);
  path_in(p, "c.png");
  nd_assert_ok(nd_png_write_rgb(p, 4, 3, c));
  d = decode(p);
  assert_true(d.color);
  assert_int_equal(d.w, 4);
  assert_memory_equal(d.rgb, c, sizeof c);
  free(d.rgb);
  path_in(p, "bad.png");
  io_assert_error(nd_png_write_gray(p, 0, 5, g), ND_ERR_INVALID_ARG, p, "0x5");
  assert_false(io_exists(p));
}

/* 5 filters of 2x3 in a grid of 3 columns (2 rows), zoom 2: each tile is
 * 3*2+1 = 7 pixels wide and 2*2+1 = 5 high, plus the outer border:
 * image 3*7+1 = 22 x 2*5+1 = 11.  Pixel (i, j) of filter k has its top-left
 * corner at x = 1 + (k%3)*7 + 2j, y = 1 + (k/3)*5 + 2i. */
static void tile_xy(int k, int i, int j, int *x, int *y) {
  *x = 1 + (k % 3) * 7 + 2 * j;
  *y = 1 + (k / 3) * 5 + 2 * i;
}

static void test_tiles_bwr(void **state) {
  (void)state;
  char p[256];
  path_in(p, "bwr.png");
  float f[5 * 6];
  for (int k = 0; k < 5; k++)
    for (int i = 0; i < 6; i++) f[k * 6 + i] = (float)(k + 1) * (float)(i - 2); /* -2..3 times (k+1) */
  f[6 * 4 + 5] = NAN;                                                         /* filter 4, pixel (1,2) */
  nd_png_tiles_opts o = {.cols = 3, .cmap = ND_CMAP_BWR, .zoom = 2, .no_colorbar = true};
  nd_assert_ok(nd_png_write_tiles(p, f, 5, 2, 3, &o));
  decoded d = decode(p);
  assert_int_equal(d.w, 22);
  assert_int_equal(d.h, 11);
  assert_true(d.color);
  /* Per-tile range m = max |x| = 3(k+1) (filter 4: 2*5 = 10 since its 15 is NaN). */
  for (int k = 0; k < 5; k++) {
    double m = k == 4 ? 10.0 : 3.0 * (k + 1);
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++) {
        int x, y;
        tile_xy(k, i, j, &x, &y);
        double v = f[k * 6 + i * 3 + j];
        int r, g, b;
        if (isnan(v)) { /* NaN: middle of the map = white */
          r = g = b = 255;
        } else if (v < 0) { /* blue (0,0,1) at -m to white at 0 */
          double t = 1 + v / m;
          r = g = (int)lround(255 * t);
          b = 255;
        } else { /* white at 0 to red (1,0,0) at +m */
          double t = 1 - v / m;
          r = 255;
          g = b = (int)lround(255 * t);
        }
        for (int a = 0; a < 2; a++)
          for (int c = 0; c < 2; c++) expect_px(&d, x + c, y + a, r, g, b);
      }
  }
  /* Spot checks of the map itself: -m is pure blue, 0 white, +m pure red. */
  int x, y;
  tile_xy(1, 0, 0, &x, &y); /* filter 1, value -4, m = 6 */
  expect_px(&d, x, y, 85, 85, 255);
  tile_xy(0, 0, 2, &x, &y); /* value 0 */
  expect_px(&d, x, y, 255, 255, 255);
  tile_xy(2, 1, 2, &x, &y); /* value 9 = +m */
  expect_px(&d, x, y, 255, 0, 0);
  /* Separators are light gray (210), the empty sixth cell too; no black
   * pixel anywhere (black is no colour of the bwr map). */
  expect_px(&d, 0, 0, 210, 210, 210);
  expect_px(&d, 7, 3, 210, 210, 210);
  tile_xy(5, 0, 0, &x, &y);
  expect_px(&d, x, y, 210, 210, 210);
  for (int i = 0; i < d.w * d.h; i++)
    if (d.rgb[3 * i] + d.rgb[3 * i + 1] + d.rgb[3 * i + 2] < 3 * 64) fail_msg("dark pixel %d in a bwr grid", i);
  free(d.rgb);

  /* One range for all tiles: m = 15 everywhere, so filter 0's -2 is pale. */
  o.global_range = true;
  f[6 * 4 + 5] = 15;
  nd_assert_ok(nd_png_write_tiles(p, f, 5, 2, 3, &o));
  d = decode(p);
  tile_xy(0, 0, 0, &x, &y);
  int pale = (int)lround(255 * (1 - 2.0 / 15));
  expect_px(&d, x, y, pale, pale, 255);
  tile_xy(4, 1, 2, &x, &y);
  expect_px(&d, x, y, 255, 0, 0);
  free(d.rgb);
}

static void test_tiles_gray(void **state) {
  (void)state;
  char p[256];
  path_in(p, "gray.png");
  float f[4 * 4] = {0, 1, 2, 3, /* filter 0: 2x2, min 0 max 3 */
                    -1, -1, -1, -1, /* constant filter: mid gray */
                    10, 20, 30, 50, 7, 7, 7, 8};
  /* defaults but the colour bar: 2 columns, zoom 1 */
  nd_assert_ok(nd_png_write_tiles(p, f, 4, 2, 2, &(nd_png_tiles_opts){.no_colorbar = true}));
  decoded d = decode(p);
  assert_false(d.color);
  assert_int_equal(d.w, 2 * 3 + 1);
  assert_int_equal(d.h, 2 * 3 + 1);
  expect_px(&d, 0, 0, 128, 128, 128); /* border */
  expect_px(&d, 1, 1, 0, 0, 0);       /* filter 0 min */
  expect_px(&d, 2, 2, 255, 255, 255); /* filter 0 max */
  expect_px(&d, 2, 1, 85, 85, 85);    /* 1/3 */
  expect_px(&d, 4, 1, 128, 128, 128); /* constant filter */
  expect_px(&d, 2, 4, 64, 64, 64);    /* filter 2 value 20: (20-10)/40 */
  expect_px(&d, 1, 5, 128, 128, 128); /* value 30: (30-10)/40 */
  expect_px(&d, 1, 4, 0, 0, 0);
  expect_px(&d, 5, 5, 255, 255, 255); /* filter 3 value 8 = max */
  expect_px(&d, 4, 5, 0, 0, 0);
  /* NULL options: the same grid at the top left, a colour bar under it. */
  char q[256];
  path_in(q, "gray-bar.png");
  nd_assert_ok(nd_png_write_tiles(q, f, 4, 2, 2, NULL));
  decoded e = decode(q);
  assert_false(e.color);
  assert_true(e.w >= 160);
  assert_int_equal(e.h, 7 + 42);
  for (int y = 0; y < 7; y++) assert_memory_equal(px(&e, 0, y), px(&d, 0, y), 7 * 3);
  free(e.rgb);
  free(d.rgb);
  io_assert_error(nd_png_write_tiles(p, f, 0, 2, 2, NULL), ND_ERR_INVALID_ARG, p, "n=0");
  io_assert_error(nd_png_write_tiles(p, f, 1, 2, 2, &(nd_png_tiles_opts){.cmap = (nd_colormap)7}),
                  ND_ERR_INVALID_ARG, p, "colour map 7");
  io_assert_error(nd_png_write_tiles(p, f, 1, 2, 2, &(nd_png_tiles_opts){.zoom = 1 << 30}), ND_ERR_INVALID_ARG, p,
                  "too large");
}

static long count_colour(const decoded *d, const uint8_t c[3]) {
  long n = 0;
  for (int i = 0; i < d->w * d->h; i++)
    if (!memcmp(d->rgb + 3 * i, c, 3)) n++;
  return n;
}

static void test_line_plot(void **state) {
  (void)state;
  char p[256];
  path_in(p, "plot.png");
  double y1[50], y2[50], x[50];
  for (int i = 0; i < 50; i++) {
    x[i] = i * 0.1;
    y1[i] = sin(x[i]);
    y2[i] = 0.5 * cos(x[i]);
  }
  y2[20] = NAN; /* breaks the second line */
  nd_plot_series s[2] = {{.x = x, .y = y1, .n = 50}, {.x = x, .y = y2, .n = 50}};
  nd_assert_ok(nd_png_plot_lines(p, 2, s, &(nd_plot_opts){.width = 300, .height = 200}));
  decoded d = decode(p);
  assert_int_equal(d.w, 300);
  assert_int_equal(d.h, 200);
  assert_true(d.color);
  const uint8_t white[3] = {255, 255, 255}, blue[3] = {31, 119, 180}, orange[3] = {255, 127, 14},
                black[3] = {0, 0, 0};
  long nw = count_colour(&d, white), nb = count_colour(&d, blue), no = count_colour(&d, orange),
       nk = count_colour(&d, black);
  /* White background dominates; each line is a visible curve (2 px wide,
   * spanning most of the 226-pixel-wide plot area); there are axes and text. */
  assert_true(nw > 300 * 200 / 2);
  if (nb < 226 || no < 200) fail_msg("series pixels: blue %ld, orange %ld", nb, no);
  assert_true(nk > 2 * 226);
  /* Top-left corner is outside the plot area: white. */
  expect_px(&d, 0, 0, 255, 255, 255);
  free(d.rgb);
  /* Logarithmic y axis and default size. */
  double ly[30];
  for (int i = 0; i < 30; i++) ly[i] = pow(10, -i / 6.0);
  ly[3] = -1; /* skipped on a log axis */
  nd_assert_ok(nd_png_plot_lines(p, 1, (nd_plot_series[]){{.y = ly, .n = 30}}, &(nd_plot_opts){.log_y = true}));
  d = decode(p);
  assert_int_equal(d.w, 640);
  assert_int_equal(d.h, 400);
  assert_true(count_colour(&d, blue) > 400);
  free(d.rgb);
  /* A tiny range far from 0: tick steps below half an ulp of the values used
   * to stall the tick loop ("v += step" never advanced). */
  double bx[3] = {1e15, 1e15 + 0.125, 1e15 + 0.25}, by[3] = {1, 2, 3};
  nd_assert_ok(nd_png_plot_lines(p, 1, (nd_plot_series[]){{.x = bx, .y = by, .n = 3}}, NULL));
  d = decode(p);
  assert_true(count_colour(&d, blue) > 100);
  free(d.rgb);
  /* Errors name the file and leave none behind. */
  path_in(p, "bad-plot.png");
  double wide[2] = {-1.5e308, 1.5e308};
  io_assert_error(nd_png_plot_lines(p, 1, (nd_plot_series[]){{.y = wide, .n = 2}}, NULL), ND_ERR_INVALID_ARG, p,
                  "span more than");
  io_assert_error(nd_png_plot_lines(p, 0, s, NULL), ND_ERR_INVALID_ARG, p, "1..10 series");
  io_assert_error(nd_png_plot_lines(p, 1, s, &(nd_plot_opts){.width = 50, .height = 50}), ND_ERR_INVALID_ARG, p,
                  "50x50");
  double nan[2] = {NAN, NAN};
  io_assert_error(nd_png_plot_lines(p, 1, (nd_plot_series[]){{.y = nan, .n = 2}}, NULL), ND_ERR_INVALID_ARG, p,
                  "no finite");
  assert_false(io_exists(p));
}

/* ------------------------------------------------------------ plot text */

static bool is_black(const uint8_t *q) { return q[0] == 0 && q[1] == 0 && q[2] == 0; }

/* The black frame of the plot area, found from the image alone: its top and
 * bottom are the rows, its sides the columns, that are more than half black. */
static void find_frame(const decoded *d, int *L, int *T, int *R, int *B) {
  *L = *T = *R = *B = -1;
  for (int y = 0; y < d->h; y++) {
    int n = 0;
    for (int x = 0; x < d->w; x++) n += is_black(px(d, x, y));
    if (2 * n > d->w) {
      if (*T < 0) *T = y;
      *B = y;
    }
  }
  for (int x = 0; x < d->w; x++) {
    int n = 0;
    for (int y = 0; y < d->h; y++) n += is_black(px(d, x, y));
    if (2 * n > d->h) {
      if (*L < 0) *L = x;
      *R = x;
    }
  }
  if (*T < 0 || *L < 0) fail_msg("no plot frame found");
}

/* Pixels of colour c in the rectangle [x0, x1] x [y0, y1], and the bounding
 * box of those pixels (bb = {xmin, ymin, xmax, ymax}; xmin > xmax if none). */
static long count_in(const decoded *d, const uint8_t c[3], int x0, int y0, int x1, int y1, int bb[4]) {
  long n = 0;
  int tmp[4];
  if (!bb) bb = tmp;
  bb[0] = bb[1] = INT32_MAX;
  bb[2] = bb[3] = -1;
  for (int y = y0; y <= y1; y++)
    for (int x = x0; x <= x1; x++)
      if (!memcmp(px(d, x, y), c, 3)) {
        n++;
        if (x < bb[0]) bb[0] = x;
        if (y < bb[1]) bb[1] = y;
        if (x > bb[2]) bb[2] = x;
        if (y > bb[3]) bb[3] = y;
      }
  return n;
}

static double mean_row(const decoded *d, const uint8_t c[3], int x0, int y0, int x1, int y1) {
  double sum = 0;
  long n = 0;
  for (int y = y0; y <= y1; y++)
    for (int x = x0; x <= x1; x++)
      if (!memcmp(px(d, x, y), c, 3)) {
        sum += y;
        n++;
      }
  return n ? sum / (double)n : -1;
}

static decoded render(const char *name, int n_series, const nd_plot_series *s, const nd_plot_opts *o) {
  char p[256];
  path_in(p, name);
  nd_assert_ok(nd_png_plot_lines(p, n_series, s, o));
  return decode(p);
}

static void assert_same_image(const decoded *a, const decoded *b, const char *what) {
  assert_int_equal(a->w, b->w);
  assert_int_equal(a->h, b->h);
  if (memcmp(a->rgb, b->rgb, (size_t)a->w * (size_t)a->h * 3)) fail_msg("%s: images differ", what);
}

/* Title, legend and axis labels.  The data stay in the lower left (decaying
 * from 1 at x = 0 to ~0), so the top-right corner of the plot area holds no
 * series pixels unless the legend puts them there. */
static void test_plot_text(void **state) {
  (void)state;
  enum { W = 400, H = 300, N = 50 };
  double x[N], y0[N], y1[N], y2[N];
  for (int i = 0; i < N; i++) {
    x[i] = 10.0 * i / (N - 1);
    y0[i] = exp(-x[i]);
    y1[i] = 0.5 * exp(-x[i]);
    y2[i] = 0.2 * exp(-2 * x[i]);
  }
  const uint8_t blue[3] = {31, 119, 180}, orange[3] = {255, 127, 14}, green[3] = {44, 160, 44},
                black[3] = {0, 0, 0};
  nd_plot_series plain_s[3] = {{.x = x, .y = y0, .n = N}, {.x = x, .y = y1, .n = N}, {.x = x, .y = y2, .n = N}};

  /* (c) No text: the plot area of the layout without text options, and the
   * same pixels whether the text fields are left out, NULL or "". */
  decoded plain = render("plain.png", 3, plain_s, &(nd_plot_opts){.width = W, .height = H});
  int L, T, R, B;
  find_frame(&plain, &L, &T, &R, &B);
  if (L != 62 || T != 10 || R != W - 12 || B != H - 24)
    fail_msg("plain frame %d..%d x %d..%d, expected 62..%d x 10..%d", L, R, T, B, W - 12, H - 24);
  nd_plot_series null_s[3] = {{x, y0, N, NULL}, {x, y1, N, NULL}, {x, y2, N, NULL}};
  decoded d = render("null.png", 3, null_s, &(nd_plot_opts){W, H, false, NULL, NULL, NULL});
  assert_same_image(&plain, &d, "explicit NULL text");
  free(d.rgb);
  nd_plot_series empty_s[3] = {{x, y0, N, ""}, {x, y1, N, ""}, {x, y2, N, ""}};
  d = render("empty.png", 3, empty_s, &(nd_plot_opts){W, H, false, "", "", ""});
  assert_same_image(&plain, &d, "empty text");
  free(d.rgb);
  /* The legend's corner is free of series pixels without labels. */
  int lx0 = (L + R) / 2, ly1 = T + 40;
  assert_int_equal(count_in(&plain, blue, lx0, T + 1, R - 1, ly1, NULL), 0);
  assert_int_equal(count_in(&plain, orange, lx0, T + 1, R - 1, ly1, NULL), 0);
  assert_int_equal(count_in(&plain, black, lx0, T + 1, R - 1, ly1, NULL), 0);
  assert_int_equal(count_in(&plain, black, 0, 0, W - 1, 6, NULL), 0); /* nothing in the title band */

  /* Title and a legend of two of the three series. */
  nd_plot_series lab_s[3] = {{.x = x, .y = y0, .n = N, .label = "Hidden A"},
                             {.x = x, .y = y1, .n = N, .label = "mean p-norm (|W| <= 1%)"},
                             {.x = x, .y = y2, .n = N}};
  const char *title = "HELLO PLOT TITLE"; /* H and E fill both edge columns of their cells */
  d = render("title.png", 3, lab_s, &(nd_plot_opts){.width = W, .height = H, .title = title});
  int tL, tT, tR, tB, bb[4];
  find_frame(&d, &tL, &tT, &tR, &tB);
  assert_true(tT > T); /* the top margin grew ... */
  assert_int_equal(tL, L);
  assert_int_equal(tR, R);
  assert_int_equal(tB, B); /* ... and nothing else moved */
  /* (b) The title: black text in the band above the frame, one 7-pixel row
   * of 16 cells of 6 pixels less the last gap, centred over the plot area. */
  long nt = count_in(&d, black, 0, 0, W - 1, tT - 2, bb);
  if (nt < 40) fail_msg("title band has %ld black pixels", nt);
  assert_int_equal(bb[2] - bb[0] + 1, 6 * (int)strlen(title) - 1);
  assert_int_equal(bb[3] - bb[1] + 1, 7);
  assert_true(abs((bb[0] + bb[2]) - (L + R)) <= 2);
  /* (a) The legend: in the top-right corner, a line in each labelled
   * series' colour (2 px x at least 10 px), the first above the second, the
   * label text in black, and nothing of the unlabelled third series. */
  long lb = count_in(&d, blue, lx0, tT + 1, R - 1, tT + 40, NULL);
  long lo = count_in(&d, orange, lx0, tT + 1, R - 1, tT + 40, NULL);
  if (lb < 20 || lo < 20) fail_msg("legend: %ld blue and %ld orange pixels", lb, lo);
  assert_int_equal(count_in(&d, green, lx0, tT + 1, R - 1, tT + 40, NULL), 0);
  assert_true(mean_row(&d, blue, lx0, tT + 1, R - 1, tT + 40) < mean_row(&d, orange, lx0, tT + 1, R - 1, tT + 40));
  /* The longest label is drawn in full: from the first column of 'm' to
   * the fourth of ')', 23 cells. */
  assert_true(count_in(&d, black, lx0, tT + 1, R - 1, tT + 40, bb) > 40);
  assert_int_equal(bb[2] - bb[0] + 1, 6 * 22 + 4);
  free(d.rgb);

  /* Axis labels: x_label centred below the x tick labels, y_label above the
   * y axis left of the plot area; each grows its own margin. */
  d = render("axes.png", 3, plain_s, &(nd_plot_opts){.width = W, .height = H, .x_label = "XLABEL", .y_label = "YY"});
  find_frame(&d, &tL, &tT, &tR, &tB);
  assert_true(tT > T);
  assert_true(tB < B);
  assert_true(count_in(&d, black, 0, tB + 15, W - 1, H - 1, bb) > 20);
  assert_int_equal(bb[2] - bb[0] + 1, 6 * 6 - 1); /* X and L fill the edge columns of their cells */
  assert_int_equal(bb[3] - bb[1] + 1, 7);
  assert_true(abs((bb[0] + bb[2]) - (L + R)) <= 2);
  assert_true(count_in(&d, black, 0, 0, L - 1, tT - 4, bb) > 0);
  assert_true(bb[3] < tT - 4 && bb[2] < L);
  free(d.rgb);

  /* A label longer than the plot is wide is cut inside the box: nothing
   * right of the frame, the y axis still drawn. */
  char longl[200];
  memset(longl, 'W', sizeof longl - 1);
  longl[sizeof longl - 1] = 0;
  lab_s[0].label = longl;
  d = render("long.png", 3, lab_s, &(nd_plot_opts){.width = W, .height = H});
  assert_int_equal(count_in(&d, black, R + 1, T, W - 1, B, NULL), 0);
  for (int yy = T; yy <= T + 40; yy++) assert_true(is_black(px(&d, L, yy))); /* the box left the y axis alone */
  assert_true(count_in(&d, black, lx0, T + 1, R - 1, T + 40, NULL) > 100);
  free(d.rgb);
  free(plain.rgb);
}

/* Every character of the font draws a glyph of its own (no blank or
 * duplicated entry), space and unknown characters draw nothing. */
static void test_plot_font(void **state) {
  (void)state;
  const char *chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789()[]<>,:/%_=|'.-+";
  enum { W = 200, H = 120 }; /* small, but the frame is still over half the width and height */
  int n = (int)strlen(chars);
  uint8_t(*band)[W * 7] = calloc((size_t)n, sizeof *band);
  double y[2] = {0, 1};
  nd_plot_series one[1] = {{.y = y, .n = 2}};
  const uint8_t black[3] = {0, 0, 0};
  for (int i = 0; i < n; i++) {
    char t[2] = {chars[i], 0};
    decoded d = render("font.png", 1, one, &(nd_plot_opts){W, H, false, t, NULL, NULL});
    int L, T, R, B;
    find_frame(&d, &L, &T, &R, &B);
    long k = count_in(&d, black, 0, 0, W - 1, T - 2, NULL);
    if (k < 2) fail_msg("'%c' draws %ld pixels", chars[i], k);
    for (int r = 0; r < 7; r++)
      for (int x = 0; x < W; x++) band[i][r * W + x] = is_black(px(&d, x, 7 + r));
    free(d.rgb);
    for (int j = 0; j < i; j++)
      if (!memcmp(band[i], band[j], sizeof band[i])) fail_msg("'%c' and '%c' look the same", chars[i], chars[j]);
  }
  free(band);
  decoded a = render("space.png", 1, one, &(nd_plot_opts){W, H, false, "   ", NULL, NULL});
  decoded b = render("tilde.png", 1, one, &(nd_plot_opts){W, H, false, "~\t@", NULL, NULL});
  assert_same_image(&a, &b, "space vs unknown characters");
  int L, T, R, B;
  find_frame(&a, &L, &T, &R, &B);
  assert_int_equal(count_in(&a, black, 0, 0, W - 1, T - 2, NULL), 0);
  free(a.rgb);
  free(b.rgb);
}

/* ------------------------------------------------------------ colour bar */

static bool same_rgb(const uint8_t *q, int r, int g, int b) { return q[0] == r && q[1] == g && q[2] == b; }

/* The colour bar under a bwr grid: found from the image alone as the widest
 * run of non-white, non-frame pixels in a row below the grid.  It runs from
 * pure blue through white to pure red, monotonically; its end labels and
 * caption are black text below it; the labels differ between one range for
 * all tiles (numbers) and one per tile (names); the grid above is the one
 * drawn without a bar; no black padding anywhere in the grid. */
static void test_tiles_colorbar(void **state) {
  (void)state;
  enum { N = 6, TH = 4, TW = 5, Z = 3 };
  float f[N * TH * TW];
  for (int i = 0; i < N * TH * TW; i++) f[i] = (float)((i * 37) % 23 - 11) * 0.25f;
  char p[256], q[256];
  path_in(p, "bar.png");
  path_in(q, "nobar.png");
  nd_png_tiles_opts o = {.cols = 3, .cmap = ND_CMAP_BWR, .zoom = Z};
  nd_assert_ok(nd_png_write_tiles(p, f, N, TH, TW, &o));
  o.no_colorbar = true;
  nd_assert_ok(nd_png_write_tiles(q, f, N, TH, TW, &o));
  decoded d = decode(p), g = decode(q);
  int GW = 3 * (TW * Z + 1) + 1, GH = 2 * (TH * Z + 1) + 1;
  assert_int_equal(g.w, GW);
  assert_int_equal(g.h, GH);
  assert_true(d.w >= 160);
  assert_int_equal(d.h, GH + 42);
  for (int y = 0; y < GH; y++) assert_memory_equal(px(&d, 0, y), px(&g, 0, y), (size_t)GW * 3);
  for (int y = 0; y < GH; y++)
    for (int x = 0; x < d.w; x++)
      if (same_rgb(px(&d, x, y), 0, 0, 0)) fail_msg("black pixel (%d, %d) in the grid area", x, y);
  /* White right of the grid, where the image was widened. */
  for (int y = 0; y < GH; y++) expect_px(&d, d.w - 1, y, 255, 255, 255);
  /* The bar, in a row 5 below the grid, between the two pixels of its gray
   * (128) frame (no bwr colour is gray). */
  int y = GH + 6 + 4, fl = -1, fr = -1;
  for (int x = 0; x < d.w; x++)
    if (same_rgb(px(&d, x, y), 128, 128, 128)) {
      if (fl < 0)
        fl = x;
      else if (fr < 0)
        fr = x;
    }
  int best0 = fl + 1, best1 = fr - 1;
  if (fl < 0 || fr < 0) fail_msg("no colour bar frame in row %d", y);
  if (best1 - best0 + 1 < 100) fail_msg("colour bar is %d pixels wide", best1 - best0 + 1);
  expect_px(&d, best0, y, 0, 0, 255);   /* -m: blue */
  expect_px(&d, best1, y, 255, 0, 0);   /* +m: red */
  int mid = (best0 + best1) / 2;
  const uint8_t *m = px(&d, mid, y);
  if (m[0] < 245 || m[1] < 245 || m[2] < 245) fail_msg("bar middle is (%d, %d, %d), not white", m[0], m[1], m[2]);
  for (int x = best0 + 1; x <= best1; x++) { /* red rises, blue falls */
    assert_true(px(&d, x, y)[0] >= px(&d, x - 1, y)[0]);
    assert_true(px(&d, x, y)[2] <= px(&d, x - 1, y)[2]);
  }
  /* Labels under the left end, the middle and the right end; a caption
   * below; nothing black elsewhere in the strip. */
  const uint8_t black[3] = {0, 0, 0};
  int bb[4];
  int ly0 = GH + 19, ly1 = GH + 25;
  assert_true(count_in(&d, black, best0, ly0, best0 + 12, ly1, NULL) > 5);
  assert_true(count_in(&d, black, best1 - 12, ly0, best1, ly1, NULL) > 5);
  assert_true(count_in(&d, black, mid - 3, ly0, mid + 3, ly1, NULL) > 5);
  assert_true(count_in(&d, black, 0, GH + 31, d.w - 1, GH + 37, bb) > 30);
  assert_true(abs((bb[0] + bb[2]) - (d.w - 1)) <= 6); /* centred */
  assert_int_equal(count_in(&d, black, 0, GH, d.w - 1, GH + 18, NULL), 0);
  /* One range for all tiles: number labels, so the label band changes. */
  o.no_colorbar = false;
  o.global_range = true;
  nd_assert_ok(nd_png_write_tiles(q, f, N, TH, TW, &o));
  decoded e = decode(q);
  bool differ = e.w != d.w;
  for (int yy = ly0; !differ && yy <= GH + 37; yy++) differ = memcmp(px(&e, 0, yy), px(&d, 0, yy), (size_t)d.w * 3) != 0;
  assert_true(differ);
  free(e.rgb);
  free(g.rgb);
  free(d.rgb);
  /* Gray map: black (min) on the left of the bar to white (max) on the right. */
  o.cmap = ND_CMAP_GRAY;
  o.global_range = false;
  nd_assert_ok(nd_png_write_tiles(p, f, N, TH, TW, &o));
  d = decode(p);
  assert_false(d.color);
  assert_int_equal(d.h, GH + 42);
  /* Centred, at most 256 pixels wide, framed in mid gray. */
  int bw = d.w - 8 > 256 ? 256 : d.w - 8, x0 = (d.w - bw) / 2, x1 = x0 + bw - 1;
  expect_px(&d, x0 - 1, y, 128, 128, 128);
  expect_px(&d, x0, y, 0, 0, 0);
  expect_px(&d, x1, y, 255, 255, 255);
  expect_px(&d, x1 + 1, y, 128, 128, 128);
  for (int x = x0 + 1; x <= x1; x++) assert_true(px(&d, x, y)[0] >= px(&d, x - 1, y)[0]);
  for (int x = 0; x < GW; x++) /* separators: mid gray */
    expect_px(&d, x, 0, 128, 128, 128);
  free(d.rgb);
}

/* ------------------------------------------------------------ panels */

/* Frames of stacked panels: the rows more than half black, in pairs (top,
 * bottom) from the top; the columns more than half black give L and R. */
static int find_panels(const decoded *d, int *L, int *R, int *T, int *B, int max) {
  int rows[64], nr = 0;
  for (int y = 0; y < d->h; y++) {
    int n = 0;
    for (int x = 0; x < d->w; x++) n += is_black(px(d, x, y));
    if (2 * n > d->w && nr < 64) rows[nr++] = y;
  }
  int k = 0;
  for (int i = 0; i + 1 < nr && k < max; i += 2, k++) {
    T[k] = rows[i];
    B[k] = rows[i + 1];
  }
  *L = *R = -1;
  for (int x = 0; x < d->w; x++) {
    int n = 0;
    for (int y = 0; y < d->h; y++) n += is_black(px(d, x, y));
    if (2 * n > d->h) {
      if (*L < 0) *L = x;
      *R = x;
    }
  }
  if (nr % 2) fail_msg("odd number (%d) of frame rows", nr);
  return k;
}

static void test_plot_panels(void **state) {
  (void)state;
  enum { N = 40, W = 500, H = 420 };
  double x[N], pn[N], fr[N];
  for (int i = 0; i < N; i++) {
    x[i] = i + 1;
    pn[i] = 1 + 24 * exp(-i / 8.0); /* 25 .. ~1 */
    fr[i] = i < 5 ? 0 : 1 - exp(-(i - 5) / 6.0); /* 0 .. ~1 */
  }
  const uint8_t blue[3] = {31, 119, 180}, orange[3] = {255, 127, 14}, black[3] = {0, 0, 0};
  nd_plot_series a = {.x = x, .y = pn, .n = N}, b = {.x = x, .y = fr, .n = N};
  nd_plot_panel pp[2] = {{.series = &a, .n_series = 1, .y_label = "mean p-norm"},
                         {.series = &b, .n_series = 1, .y_label = "fraction converged"}};
  char p[256];
  path_in(p, "panels.png");
  nd_assert_ok(nd_png_plot_panels(p, 2, pp, &(nd_plot_opts){.width = W, .height = H, .x_label = "epoch"}));
  decoded d = decode(p);
  assert_int_equal(d.w, W);
  assert_int_equal(d.h, H);
  int L, R, T[4], B[4];
  if (find_panels(&d, &L, &R, T, B, 4) != 2) fail_msg("expected 2 panel frames");
  assert_int_equal(L, 62);
  assert_int_equal(R, W - 12);
  assert_true(B[0] < T[1]);
  /* Similar heights (the panels share the height). */
  assert_true(abs((B[0] - T[0]) - (B[1] - T[1])) <= 2);
  /* Each quantity in its own panel, each filling its panel's height: the
   * 0..1 curve is not flattened by the 0..25 one. */
  int bb[4];
  long nb = count_in(&d, blue, L + 1, T[0] + 1, R - 1, B[0] - 1, bb);
  assert_true(nb > 100);
  assert_true(bb[3] - bb[1] > 0.8 * (B[0] - T[0]));
  assert_int_equal(count_in(&d, blue, L + 1, T[1] + 1, R - 1, B[1] - 1, NULL), 0);
  long no = count_in(&d, orange, L + 1, T[1] + 1, R - 1, B[1] - 1, bb);
  assert_true(no > 100);
  assert_true(bb[3] - bb[1] > 0.8 * (B[1] - T[1]));
  assert_int_equal(count_in(&d, orange, L + 1, T[0] + 1, R - 1, B[0] - 1, NULL), 0);
  /* y labels: black text in the band above each frame, left-aligned. */
  for (int k = 0; k < 2; k++) {
    long n = count_in(&d, black, 0, T[k] - 13, W - 1, T[k] - 7, bb);
    if (n < 30) fail_msg("panel %d: y label band has %ld black pixels", k, n);
    assert_true(bb[0] < 10);
    assert_true(bb[3] - bb[1] + 1 >= 5 && bb[3] - bb[1] + 1 <= 7); /* one row of 5x7 text */
    /* y tick labels left of each frame */
    assert_true(count_in(&d, black, 0, T[k] - 3, L - 6, B[k] + 3, NULL) > 20);
  }
  /* The two labels are different text ("mean p-norm" is 11 characters,
   * "fraction converged" 18). */
  count_in(&d, black, 0, T[0] - 13, W - 1, T[0] - 7, bb);
  int w0 = bb[2] - bb[0];
  count_in(&d, black, 0, T[1] - 13, W - 1, T[1] - 7, bb);
  assert_true(bb[2] - bb[0] > w0 + 30);
  /* x tick labels under the bottom panel only, and the x label below them. */
  assert_int_equal(count_in(&d, black, L + 8, B[0] + 6, R, B[0] + 12, NULL), 0);
  assert_true(count_in(&d, black, L + 8, B[1] + 6, R, B[1] + 13, NULL) > 20);
  assert_true(count_in(&d, black, 0, B[1] + 19, W - 1, B[1] + 25, NULL) > 20);
  free(d.rgb);

  /* A fixed range: 0..0.5 on a [0, 1] axis fills about half the panel. */
  double half[N];
  for (int i = 0; i < N; i++) half[i] = 0.5 * fr[i] / fr[N - 1];
  nd_plot_series h = {.x = x, .y = half, .n = N};
  pp[1] = (nd_plot_panel){.series = &h, .n_series = 1, .y_label = "fraction", .y_min = 0, .y_max = 1};
  nd_assert_ok(nd_png_plot_panels(p, 2, pp, &(nd_plot_opts){.width = W, .height = H}));
  d = decode(p);
  find_panels(&d, &L, &R, T, B, 4);
  count_in(&d, orange, L + 1, T[1] + 1, R - 1, B[1] - 1, bb);
  double span = (double)(bb[3] - bb[1]) / (B[1] - T[1]);
  if (span < 0.4 || span > 0.5) fail_msg("0..0.5 on a fixed 0..1 axis spans %.2f of the panel", span);
  free(d.rgb);

  /* Three panels, two series in the middle one: colours go on through tab10. */
  const uint8_t green[3] = {44, 160, 44}, red[3] = {214, 39, 40};
  nd_plot_series two[2] = {{.x = x, .y = fr, .n = N, .label = "a"}, {.x = x, .y = half, .n = N, .label = "b"}};
  nd_plot_panel p3[3] = {{.series = &a, .n_series = 1},
                         {.series = two, .n_series = 2},
                         {.series = &a, .n_series = 1, .log_y = true}};
  nd_assert_ok(nd_png_plot_panels(p, 3, p3, NULL));
  d = decode(p);
  assert_int_equal(d.w, 640);
  assert_int_equal(d.h, 60 + 3 * 170);
  if (find_panels(&d, &L, &R, T, B, 4) != 3) fail_msg("expected 3 panel frames");
  assert_true(count_in(&d, orange, L + 1, T[1] + 1, R - 1, B[1] - 1, NULL) > 100);
  assert_true(count_in(&d, green, L + 1, T[1] + 1, R - 1, B[1] - 1, NULL) > 100);
  assert_true(count_in(&d, red, L + 1, T[2] + 1, R - 1, B[2] - 1, NULL) > 100);
  free(d.rgb);

  /* One panel is nd_png_plot_lines. */
  char q[256];
  path_in(q, "lines.png");
  nd_plot_opts lo = {.width = 300, .height = 200, .title = "T", .x_label = "x", .y_label = "p-norm"};
  nd_assert_ok(nd_png_plot_lines(q, 2, two, &lo));
  nd_assert_ok(nd_png_plot_panels(p, 1, (nd_plot_panel[]){{.series = two, .n_series = 2, .y_label = "p-norm"}}, &lo));
  decoded l1 = decode(q), l2 = decode(p);
  assert_same_image(&l1, &l2, "plot_lines vs one panel");
  free(l1.rgb);
  free(l2.rgb);

  /* Errors name the file (and the panel) and leave nothing behind. */
  path_in(p, "bad-panels.png");
  io_assert_error(nd_png_plot_panels(p, 0, pp, NULL), ND_ERR_INVALID_ARG, p, "1..10 panels");
  io_assert_error(nd_png_plot_panels(p, 11, pp, NULL), ND_ERR_INVALID_ARG, p, "1..10 panels");
  io_assert_error(nd_png_plot_panels(p, 2, (nd_plot_panel[]){pp[0], {.series = &a, .n_series = 0}}, NULL),
                  ND_ERR_INVALID_ARG, p, "panel 1: need 1..10 series");
  double nan2[2] = {NAN, NAN};
  io_assert_error(nd_png_plot_panels(p, 2, (nd_plot_panel[]){pp[0], {.series = &(nd_plot_series){.y = nan2, .n = 2}, .n_series = 1}}, NULL),
                  ND_ERR_INVALID_ARG, p, "panel 1: no finite");
  io_assert_error(nd_png_plot_panels(p, 5, (nd_plot_panel[]){p3[0], p3[0], p3[0], p3[0], p3[0]},
                                     &(nd_plot_opts){.width = 300, .height = 150}),
                  ND_ERR_INVALID_ARG, p, "do not fit");
  io_assert_error(nd_png_plot_panels(NULL, 1, pp, NULL), ND_ERR_INVALID_ARG, "path is NULL", NULL);
  assert_false(io_exists(p));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_raw_images),
      cmocka_unit_test(test_tiles_bwr),
      cmocka_unit_test(test_tiles_gray),
      cmocka_unit_test(test_tiles_colorbar),
      cmocka_unit_test(test_plot_panels),
      cmocka_unit_test(test_line_plot),
      cmocka_unit_test(test_plot_text),
      cmocka_unit_test(test_plot_font),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
