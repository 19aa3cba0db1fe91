/* Constant-Q all-pole gammatone filterbank and the spectrum tools of the
 * superresolution demo (circuits.h): Holdsworth, Nimmo-Smith, Patterson &
 * Rice 1988 (frequency shift, cascaded one-pole low-pass, complex envelope). */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/circuits.h"

nd_filterbank_config nd_filterbank_defaults(void) {
  nd_filterbank_config c;
  memset(&c, 0, sizeof c);
  c.channels = 96;
  c.f_lo = 100;
  c.f_hi = 4000;
  c.q = 4;
  c.order = 4;
  c.rate = 16000;
  c.hop = 160;
  return c;
}

nd_status nd_filterbank_check(const nd_filterbank_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "filterbank: config is NULL");
  if (c->channels < 2 || c->channels > (1 << 16))
    return nd__error(ND_ERR_INVALID_ARG, "filterbank: channels %lld must be in 2..65536", (long long)c->channels);
  if (!(c->rate > 0) || !isfinite(c->rate)) return nd__error(ND_ERR_INVALID_ARG, "filterbank: rate %g must be > 0", c->rate);
  if (!(c->f_lo > 0 && c->f_lo < c->f_hi && c->f_hi < c->rate / 2))
    return nd__error(ND_ERR_INVALID_ARG, "filterbank: f_lo %g, f_hi %g: need 0 < f_lo < f_hi < rate / 2 = %g", c->f_lo,
                     c->f_hi, c->rate / 2);
  if (!(c->q > 0) || !isfinite(c->q)) return nd__error(ND_ERR_INVALID_ARG, "filterbank: q %g must be > 0", c->q);
  if (c->order < 1 || c->order > 8) return nd__error(ND_ERR_INVALID_ARG, "filterbank: order %d must be in 1..8", c->order);
  if (c->hop < 1) return nd__error(ND_ERR_INVALID_ARG, "filterbank: hop %lld must be >= 1", (long long)c->hop);
  return ND_OK;
}

static double centre(const nd_filterbank_config *c, int64_t k) {
  return c->f_lo * pow(c->f_hi / c->f_lo, (double)k / (double)(c->channels - 1));
}

nd_status nd_filterbank_centres(const nd_filterbank_config *c, double *fc) {
  ND_TRY(nd_filterbank_check(c));
  if (!fc) return nd__error(ND_ERR_INVALID_ARG, "filterbank: fc is NULL");
  for (int64_t k = 0; k < c->channels; k++) fc[k] = centre(c, k);
  return ND_OK;
}

static double pole(const nd_filterbank_config *c, double fk) { return exp(-2.0 * M_PI * (fk / c->q) / c->rate); }

static double gain(const nd_filterbank_config *c, double fk, double f) {
  const double p = pole(c, fk), w = 2.0 * M_PI * (f - fk) / c->rate;
  const double complex h = (1.0 - p) / (1.0 - p * cexp(-I * w));
  const double m2 = creal(h) * creal(h) + cimag(h) * cimag(h);
  return pow(m2, c->order);
}

double nd_filterbank_gain(const nd_filterbank_config *c, int64_t k, double f) {
  if (nd_filterbank_check(c) != ND_OK || k < 0 || k >= c->channels || !isfinite(f)) return NAN;
  return gain(c, centre(c, k), f);
}

nd_status nd_filterbank_dictionary(const nd_filterbank_config *c, float *phi, double *norms) {
  ND_TRY(nd_filterbank_check(c));
  if (!phi) return nd__error(ND_ERR_INVALID_ARG, "filterbank: phi is NULL");
  const int64_t K = c->channels;
  for (int64_t j = 0; j < K; j++) {
    const double fj = centre(c, j);
    double s = 0;
    for (int64_t k = 0; k < K; k++) {
      const double g = gain(c, centre(c, k), fj);
      s += g * g;
    }
    const double nrm = sqrt(s);
    for (int64_t k = 0; k < K; k++) phi[k * K + j] = (float)(gain(c, centre(c, k), fj) / nrm);
    if (norms) norms[j] = nrm;
  }
  return ND_OK;
}

nd_status nd_filterbank_apply(const nd_filterbank_config *c, const float *x, int64_t n, float *power, int64_t *frames) {
  ND_TRY(nd_filterbank_check(c));
  if (!x || !power) return nd__error(ND_ERR_INVALID_ARG, "filterbank: %s is NULL", x ? "power" : "x");
  if (n < c->hop) return nd__error(ND_ERR_INVALID_ARG, "filterbank: %lld samples, fewer than one hop (%lld)", (long long)n,
                                   (long long)c->hop);
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return nd__error(ND_ERR_INVALID_ARG, "filterbank: sample %lld is not finite", (long long)i);
  const int64_t K = c->channels, T = n / c->hop, hop = c->hop;
  const int order = c->order;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t k = 0; k < K; k++) {
    const double fk = centre(c, k), p = pole(c, fk), g = 1.0 - p, w = 2.0 * M_PI * fk / c->rate;
    double complex z[8] = {0};
    for (int64_t t = 0; t < T; t++) {
      double acc = 0;
      for (int64_t i = t * hop; i < (t + 1) * hop; i++) {
        /* the phasor from the sample index (no drift from a running rotation) */
        double complex v = (double)x[i] * cexp(-I * w * (double)i);
        for (int o = 0; o < order; o++) v = z[o] = p * z[o] + g * v;
        acc += creal(v) * creal(v) + cimag(v) * cimag(v);
      }
      power[t * K + k] = (float)(acc / (double)hop);
    }
  }
  if (frames) *frames = T;
  return ND_OK;
}

nd_status nd_spectrum_peaks(const float *a, const double *fc, int64_t n, double rel, int max, double *freqs, double *heights,
                            int *count) {
  if (!a || !fc || !freqs || !heights || !count) return nd__error(ND_ERR_INVALID_ARG, "spectrum_peaks: NULL argument");
  if (n < 1 || max < 1) return nd__error(ND_ERR_INVALID_ARG, "spectrum_peaks: n %lld and max %d must be >= 1", (long long)n, max);
  *count = 0;
  float top = 0;
  for (int64_t i = 0; i < n; i++) top = fmaxf(top, a[i]);
  if (!(top > 0)) return ND_OK;
  for (int64_t i = 0; i < n; i++) {
    const float v = a[i];
    if (!(v > 0) || v < rel * top) continue;
    if ((i > 0 && !(v > a[i - 1])) || (i + 1 < n && !(v >= a[i + 1]))) continue;
    double sw = 0, sl = 0;
    for (int64_t j = i - 1; j <= i + 1; j++)
      if (j >= 0 && j < n && a[j] > 0) sw += a[j], sl += a[j] * log(fc[j]);
    const double f = exp(sl / sw);
    int pos = *count; /* insertion by height, strongest first; the weakest falls off when full */
    while (pos > 0 && heights[pos - 1] < v) pos--;
    if (pos >= max) continue;
    const int last = *count < max ? *count : max - 1;
    for (int q = last; q > pos; q--) freqs[q] = freqs[q - 1], heights[q] = heights[q - 1];
    freqs[pos] = f;
    heights[pos] = v;
    if (*count < max) (*count)++;
  }
  return ND_OK;
}
