/* PNG output read back with libpng's own decoder (png_image API): raw gray
 * and RGB images, tiled filters with both colour maps checked pixel by pixel
 * at chosen points, and line plots (valid PNG, stated size, series colours). */
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
  nd_png_tiles_opts o = {.cols = 3, .cmap = ND_CMAP_BWR, .zoom = 2};
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
  /* Borders are black; the empty sixth cell too. */
  expect_px(&d, 0, 0, 0, 0, 0);
  expect_px(&d, 7, 3, 0, 0, 0);
  tile_xy(5, 0, 0, &x, &y);
  expect_px(&d, x, y, 0, 0, 0);
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
  nd_assert_ok(nd_png_write_tiles(p, f, 4, 2, 2, NULL)); /* defaults: 2 columns, zoom 1 */
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
  nd_plot_series s[2] = {{x, y1, 50}, {x, y2, 50}};
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
  nd_assert_ok(nd_png_plot_lines(p, 1, (nd_plot_series[]){{NULL, ly, 30}}, &(nd_plot_opts){.log_y = true}));
  d = decode(p);
  assert_int_equal(d.w, 640);
  assert_int_equal(d.h, 400);
  assert_true(count_colour(&d, blue) > 400);
  free(d.rgb);
  /* A tiny range far from 0: tick steps below half an ulp of the values used
   * to stall the tick loop ("v += step" never advanced). */
  double bx[3] = {1e15, 1e15 + 0.125, 1e15 + 0.25}, by[3] = {1, 2, 3};
  nd_assert_ok(nd_png_plot_lines(p, 1, (nd_plot_series[]){{bx, by, 3}}, NULL));
  d = decode(p);
  assert_true(count_colour(&d, blue) > 100);
  free(d.rgb);
  /* Errors name the file and leave none behind. */
  path_in(p, "bad-plot.png");
  double wide[2] = {-1.5e308, 1.5e308};
  io_assert_error(nd_png_plot_lines(p, 1, (nd_plot_series[]){{NULL, wide, 2}}, NULL), ND_ERR_INVALID_ARG, p,
                  "span more than");
  io_assert_error(nd_png_plot_lines(p, 0, s, NULL), ND_ERR_INVALID_ARG, p, "1..10 series");
  io_assert_error(nd_png_plot_lines(p, 1, s, &(nd_plot_opts){.width = 50, .height = 50}), ND_ERR_INVALID_ARG, p,
                  "50x50");
  double nan[2] = {NAN, NAN};
  io_assert_error(nd_png_plot_lines(p, 1, (nd_plot_series[]){{NULL, nan, 2}}, NULL), ND_ERR_INVALID_ARG, p,
                  "no finite");
  assert_false(io_exists(p));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_raw_images),
      cmocka_unit_test(test_tiles_bwr),
      cmocka_unit_test(test_tiles_gray),
      cmocka_unit_test(test_line_plot),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
