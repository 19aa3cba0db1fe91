/* Audio files through libsndfile (include/neurodyn/io.h, "audio"): mono
 * float samples, channels averaged.  Optional at build (ND_HAVE_SNDFILE). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "neurodyn/io.h"

#ifdef ND_HAVE_SNDFILE
#include <sndfile.h>

bool nd_audio_available(void) { return true; }

nd_status nd_audio_read(const char *path, float **samples, int64_t *frames, double *rate) {
  if (!path || !samples || !frames || !rate) return nd__error(ND_ERR_INVALID_ARG, "audio_read: NULL argument");
  *samples = NULL;
  *frames = 0;
  *rate = 0;
  struct stat st;
  if (stat(path, &st) != 0) return nd__error(ND_ERR_NOT_FOUND, "%s: no such file", path);
  if (!S_ISREG(st.st_mode)) return nd__error(ND_ERR_INVALID_ARG, "%s: not a regular file", path);
  SF_INFO info;
  memset(&info, 0, sizeof info);
  SNDFILE *f = sf_open(path, SFM_READ, &info);
  if (!f) return nd__error(ND_ERR_FORMAT, "%s: not an audio file libsndfile reads (%s)", path, sf_strerror(NULL));
  nd_status s = ND_OK;
  const int ch = info.channels;
  if (ch < 1 || info.frames < 1 || info.samplerate < 1 || (double)info.frames * ch > (double)(1LL << 31)) {
    s = nd__error(ND_ERR_FORMAT, "%s: %lld frames of %d channels at %d Hz: need at least one frame, at most 2^31 samples",
                  path, (long long)info.frames, ch, info.samplerate);
    sf_close(f);
    return s;
  }
  float *all = malloc((size_t)info.frames * (size_t)ch * sizeof(float));
  float *mono = malloc((size_t)info.frames * sizeof(float));
  if (!all || !mono) {
    s = nd__error(ND_ERR_NOMEM, "%s: out of memory for %lld frames", path, (long long)info.frames);
  } else {
    sf_count_t got = sf_readf_float(f, all, info.frames);
    if (got < 1) s = nd__error(ND_ERR_FORMAT, "%s: no samples could be read (%s)", path, sf_strerror(f));
    for (sf_count_t i = 0; s == ND_OK && i < got; i++) {
      double m = 0;
      for (int c = 0; c < ch; c++) m += all[i * ch + c];
      mono[i] = (float)(m / ch);
    }
    if (s == ND_OK) {
      *frames = (int64_t)got;
      *rate = (double)info.samplerate;
    }
  }
  sf_close(f);
  free(all);
  if (s != ND_OK) {
    free(mono);
    return s;
  }
  *samples = mono;
  return ND_OK;
}

#else

bool nd_audio_available(void) { return false; }

nd_status nd_audio_read(const char *path, float **samples, int64_t *frames, double *rate) {
  if (samples) *samples = NULL;
  if (frames) *frames = 0;
  if (rate) *rate = 0;
  return nd__error(ND_ERR_UNSUPPORTED, "%s: this build reads no audio files (libsndfile was not found at build time)",
                   path ? path : "(null)");
}

#endif
