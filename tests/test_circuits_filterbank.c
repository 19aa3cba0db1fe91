/* The superresolution filterbank (circuits.h) and audio reading (io.h):
 *  - a steady tone's frame power equals A^2/4 |H_k(f)|^2 with |H_k|^2 written
 *    here from the one-pole-cascade formula (Holdsworth et al. 1988);
 *  - the dictionary's columns are those responses at the centres, unit norm;
 *  - powers of two tones add (what the LCA dictionary assumes);
 *  - peak picking on hand-made spectra;
 *  - a 16-bit stereo WAV written byte by byte here reads back as the mean of
 *    its channels / 32768 (or ND_ERR_UNSUPPORTED without libsndfile);
 *  - bad configs and files are refused naming the field or file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nd_test.h"
#include "neurodyn/circuits.h"
#include "neurodyn/io.h"

static double ref_gain(const nd_filterbank_config *c, double fk, double f) {
  const double p = exp(-2 * M_PI * fk / c->q / c->rate), w = 2 * M_PI * (f - fk) / c->rate;
  /* |1 - p e^{-iw}|^2 = 1 - 2 p cos w + p^2 */
  const double den = 1 - 2 * p * cos(w) + p * p;
  return pow((1 - p) * (1 - p) / den, c->order);
}

static void tone(float *x, int64_t n, double rate, double f, double amp, double phase) {
  for (int64_t i = 0; i < n; i++) x[i] += (float)(amp * cos(2 * M_PI * f * (double)i / rate + phase));
}

/* Mean frame power of channel k over frames [t0, T). */
static double mean_power(const float *pw, int64_t T, int64_t K, int64_t k, int64_t t0) {
  double s = 0;
  for (int64_t t = t0; t < T; t++) s += pw[t * K + k];
  return s / (double)(T - t0);
}

static void test_tone_response(void **st) {
  (void)st;
  nd_filterbank_config c = nd_filterbank_defaults();
  const int64_t n = 16000, K = c.channels;
  float *x = calloc(n, sizeof(float)), *pw = malloc((size_t)(n / c.hop * K) * sizeof(float));
  double fc[96];
  nd_assert_ok(nd_filterbank_centres(&c, fc));
  nd_assert_close(fc[0], 100, 1e-9, 0);
  nd_assert_close(fc[K - 1], 4000, 1e-9, 0);
  const double f = 1234.5, amp = 0.7;
  tone(x, n, c.rate, f, amp, 0.3);
  int64_t T = 0;
  nd_assert_ok(nd_filterbank_apply(&c, x, n, pw, &T));
  assert_int_equal(T, n / c.hop);
  int checked = 0;
  for (int64_t k = 20; k < K; k++) {
    const double want = amp * amp / 4 * ref_gain(&c, fc[k], f);
    if (want < 1e-4 * amp * amp) continue;
    nd_assert_close(mean_power(pw, T, K, k, 10), want, 1e-6, 0.03);
    nd_assert_close(nd_filterbank_gain(&c, k, f), ref_gain(&c, fc[k], f), 0, 1e-9);
    checked++;
  }
  assert_true(checked >= 5);
  free(x), free(pw);
}

static void test_dictionary_and_additivity(void **st) {
  (void)st;
  nd_filterbank_config c = nd_filterbank_defaults();
  const int64_t K = c.channels, n = 16000;
  float *phi = malloc((size_t)(K * K) * sizeof(float));
  double fc[96], norms[96];
  nd_assert_ok(nd_filterbank_centres(&c, fc));
  nd_assert_ok(nd_filterbank_dictionary(&c, phi, norms));
  for (int64_t j = 0; j < K; j += 7) {
    double s = 0;
    for (int64_t k = 0; k < K; k++) {
      s += (double)phi[k * K + j] * phi[k * K + j];
      nd_assert_close(phi[k * K + j] * norms[j], ref_gain(&c, fc[k], fc[j]), 1e-7, 1e-5);
    }
    nd_assert_close(s, 1, 1e-5, 0);
  }
  /* two tones at centres j1, j2: frame power = phi (powers * norms) */
  const int64_t j1 = 50, j2 = 56;
  float *x = calloc(n, sizeof(float)), *pw = malloc((size_t)(n / c.hop * K) * sizeof(float));
  tone(x, n, c.rate, fc[j1], 1.0, 0.1);
  tone(x, n, c.rate, fc[j2], 0.5, 1.7);
  int64_t T;
  nd_assert_ok(nd_filterbank_apply(&c, x, n, pw, &T));
  for (int64_t k = 30; k < 80; k++) {
    const double want = 0.25 * phi[k * K + j1] * norms[j1] + 0.0625 * phi[k * K + j2] * norms[j2];
    if (want < 1e-4) continue;
    nd_assert_close(mean_power(pw, T, K, k, 10), want, 1e-5, 0.03);
  }
  free(phi), free(x), free(pw);
}

static void test_peaks(void **st) {
  (void)st;
  double fc[10], f[4], h[4];
  for (int i = 0; i < 10; i++) fc[i] = 100 * pow(2, i / 4.0);
  const float a[10] = {0, 1, 3, 1, 0, 0.2f, 0.05f, 2, 2.5f, 0};
  int n = 0;
  nd_assert_ok(nd_spectrum_peaks(a, fc, 10, 0.05, 4, f, h, &n));
  assert_int_equal(n, 3); /* 3 at i=2, 2.5 at i=8, 0.2 at i=5 (>= 0.05 * 3) */
  nd_assert_close(h[0], 3, 0, 0);
  nd_assert_close(f[0], fc[2], 1e-9, 1e-12); /* symmetric neighbours: the centre itself */
  nd_assert_close(h[1], 2.5, 0, 0);
  assert_true(f[1] > fc[7] && f[1] < fc[8]); /* pulled towards the heavier neighbour */
  nd_assert_close(h[2], 0.2, 1e-7, 0);
  nd_assert_ok(nd_spectrum_peaks(a, fc, 10, 0.5, 4, f, h, &n));
  assert_int_equal(n, 2);
  nd_assert_ok(nd_spectrum_peaks(a, fc, 10, 0.0, 1, f, h, &n));
  assert_int_equal(n, 1);
  nd_assert_close(h[0], 3, 0, 0);
}

static void put16(unsigned char *p, unsigned v) { p[0] = v & 255, p[1] = (v >> 8) & 255; }
static void put32(unsigned char *p, unsigned v) { put16(p, v & 0xffff), put16(p + 2, v >> 16); }

static void test_wav(void **st) {
  (void)st;
  enum { N = 100 };
  unsigned char buf[44 + 4 * N];
  memcpy(buf, "RIFF", 4), put32(buf + 4, 36 + 4 * N), memcpy(buf + 8, "WAVEfmt ", 8);
  put32(buf + 16, 16), put16(buf + 20, 1), put16(buf + 22, 2), put32(buf + 24, 8000), put32(buf + 28, 8000 * 4);
  put16(buf + 32, 4), put16(buf + 34, 16), memcpy(buf + 36, "data", 4), put32(buf + 40, 4 * N);
  short left[N], right[N];
  for (int i = 0; i < N; i++) {
    left[i] = (short)(i * 300 - 15000);
    right[i] = (short)(-i * 100);
    put16(buf + 44 + 4 * i, (unsigned short)left[i]);
    put16(buf + 46 + 4 * i, (unsigned short)right[i]);
  }
  char path[] = "/tmp/nd-test-audio-wav-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
  close(fd);
  float *s = NULL;
  int64_t frames = 0;
  double rate = 0;
  nd_status rc = nd_audio_read(path, &s, &frames, &rate);
  if (!nd_audio_available()) {
    assert_int_equal(rc, ND_ERR_UNSUPPORTED);
  } else {
    nd_assert_ok(rc);
    assert_int_equal(frames, N);
    nd_assert_close(rate, 8000, 0, 0);
    for (int i = 0; i < N; i++) nd_assert_close(s[i], (left[i] / 32768.0 + right[i] / 32768.0) / 2, 1e-6, 0);
    free(s);
    FILE *f = fopen(path, "wb"); /* not audio */
    fputs("this is not a sound file", f);
    fclose(f);
    assert_int_equal(nd_audio_read(path, &s, &frames, &rate), ND_ERR_FORMAT);
    assert_non_null(strstr(nd_last_error(), path));
  }
  unlink(path);
  assert_int_not_equal(nd_audio_read("/nonexistent/nd-audio.wav", &s, &frames, &rate), ND_OK);
  assert_null(s);
}

static void test_bad(void **st) {
  (void)st;
  nd_filterbank_config c = nd_filterbank_defaults();
  c.f_hi = 9000;
  assert_int_equal(nd_filterbank_check(&c), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "f_hi"));
  c = nd_filterbank_defaults();
  c.q = 0;
  assert_int_equal(nd_filterbank_check(&c), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "q"));
  c = nd_filterbank_defaults();
  c.order = 9;
  assert_int_equal(nd_filterbank_check(&c), ND_ERR_INVALID_ARG);
  c = nd_filterbank_defaults();
  float x[100] = {0}, pw[96];
  assert_int_equal(nd_filterbank_apply(&c, x, 100, pw, NULL), ND_ERR_INVALID_ARG); /* fewer than one hop */
  assert_true(isnan(nd_filterbank_gain(&c, 96, 100)));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tone_response), cmocka_unit_test(test_dictionary_and_additivity), cmocka_unit_test(test_peaks),
      cmocka_unit_test(test_wav),           cmocka_unit_test(test_bad),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
