/* Standard normal draws for the membrane noise by the ziggurat method
 * (Marsaglia & Tsang 2000, "The Ziggurat Method for Generating Random
 * Variables", J. Stat. Softw. 5(8), 128 boxes, RNOR/nfix of the paper) on
 * the 32-bit outputs of the library's Philox stream.  About 99% of draws take
 * one 32-bit word, a table lookup and a multiply, several times faster than
 * Box-Muller (nd_rng_normal), which the noise of a large network per step
 * would otherwise spend most of its time in.  The box index comes from the
 * low 7 bits of the word, which the float conversion of the value drops
 * (float keeps 24 of its 31 bits), so index and value do not share bits. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "models/snn/snn_internal.h"
#include "neurodyn/rng.h"

static uint32_t kn[128];
static float wn[128], fn[128];

/* zigset() of the paper */
static void zig_tables(void) {
  const double m1 = 2147483648.0, vn = 9.91256303526217e-3;
  double dn = 3.442619855899, tn = dn, q = vn / exp(-0.5 * dn * dn);
  kn[0] = (uint32_t)((dn / q) * m1);
  kn[1] = 0;
  wn[0] = (float)(q / m1);
  wn[127] = (float)(dn / m1);
  fn[0] = 1.0f;
  fn[127] = (float)exp(-0.5 * dn * dn);
  for (int i = 126; i >= 1; i--) {
    dn = sqrt(-2.0 * log(vn / dn + exp(-0.5 * dn * dn)));
    kn[i + 1] = (uint32_t)((dn / tn) * m1);
    tn = dn;
    fn[i] = (float)exp(-0.5 * dn * dn);
    wn[i] = (float)(dn / m1);
  }
}

typedef struct words {
  nd_rng *r;
  uint32_t b[4];
  int left;
} words;

static inline uint32_t next_word(words *w) {
  if (w->left == 0) {
    nd_philox4x32(w->r->key, w->r->counter++, w->b);
    w->left = 4;
  }
  return w->b[--w->left];
}

static inline float uni(words *w) { return ((float)(next_word(w) >> 8) + 0.5f) * (1.0f / 16777216.0f); }

/* nfix() of the paper: the wedges and the tail */
static float nfix(words *w, int32_t hz, uint32_t iz) {
  const float r = 3.442620f;
  for (;;) {
    float x = (float)hz * wn[iz];
    if (iz == 0) {
      float y;
      do {
        x = -logf(uni(w)) * (1.0f / r);
        y = -logf(uni(w));
      } while (y + y < x * x);
      return hz > 0 ? r + x : -r - x;
    }
    if (fn[iz] + uni(w) * (fn[iz - 1] - fn[iz]) < expf(-0.5f * x * x)) return x;
    hz = (int32_t)next_word(w);
    iz = (uint32_t)hz & 127u;
    if ((uint32_t)abs(hz == INT32_MIN ? INT32_MAX : hz) < kn[iz]) return (float)hz * wn[iz];
  }
}

void nd__snn_normal_fill(nd_rng *r, float *out, int64_t n) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, zig_tables);
  words w = {r, {0}, 0};
  for (int64_t k = 0; k < n; k++) {
    int32_t hz = (int32_t)next_word(&w);
    uint32_t iz = (uint32_t)hz & 127u;
    uint32_t mag = (uint32_t)abs(hz == INT32_MIN ? INT32_MAX : hz);
    out[k] = mag < kn[iz] ? (float)hz * wn[iz] : nfix(&w, hz, iz);
  }
}
