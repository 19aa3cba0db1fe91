/* Where a run's inputs and program came from, for a run's config.json: the
 * SHA-256 of a file, the host name, and the source commit the library was
 * built from.  (The files a data set load reads: nd_dataset_files in
 * neurodyn/data.h.) */
#ifndef NEURODYN_PROVENANCE_H
#define NEURODYN_PROVENANCE_H

#include <stddef.h>

#include "neurodyn/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* SHA-256 of the whole file (FIPS 180-4, computed by GNU Nettle), as 64
 * lower-case hex digits and a NUL in hex.  The same digest as `sha256sum`
 * and as the checksums in docs/data.md.  Errors name the file:
 * ND_ERR_NOT_FOUND, ND_ERR_INVALID_ARG (not a regular file; checked before
 * reading, so a FIFO does not block; NULL arguments), ND_ERR_IO.  hex is ""
 * on failure. */
ND_API nd_status nd_file_sha256(const char *path, char hex[65]);

/* This machine's host name (gethostname) into buf; ND_ERR_INVALID_ARG for a
 * NULL or too small buffer, ND_ERR_IO if the system cannot say. */
ND_API nd_status nd_host_name(char *buf, size_t len);

/* `git describe --always --dirty` of the source tree when the build was
 * configured (e.g. "a1b2c3d" or "v0.1-4-ga1b2c3d-dirty"; "dirty" means
 * uncommitted changes at configure time), or "unknown" when the tree was
 * not a git checkout.  A static string. */
ND_API const char *nd_build_commit(void);

#ifdef __cplusplus
}
#endif
#endif
