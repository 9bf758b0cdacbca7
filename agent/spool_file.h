/*
 * spool_file — one batch file of the agent's spool: its names, its header
 * (magic, version, count, payload length, seq, crc32), building its image,
 * checking an image read back and splitting it into a batch.  Private to
 * spool.c; the layout is documented in spool.h.
 *
 * No I/O and no spool state: the directory, the bounds, the locking and
 * every open, write, fsync and rename stay in spool.c.  A file read back
 * may have been damaged by a crash, the disk or another process, so
 * nothing may trust an image before mxs_spool_file_check has passed it.
 *
 * Threading: no shared state.
 */
#ifndef MXS_SPOOL_FILE_H
#define MXS_SPOOL_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxs_err.h"
#include "spool.h"

#define MXS_SPOOL_FILE_NAME_LEN 32 /* buffer for "tmp." + 16 hex + ".sp" + NUL, and more */

/* The name of batch seq ("%016x.sp") and of its temporary file
 * ("tmp.%016x.sp") into buf. */
void mxs_spool_file_name(char buf[MXS_SPOOL_FILE_NAME_LEN], uint64_t seq);
void mxs_spool_file_tmp_name(char buf[MXS_SPOOL_FILE_NAME_LEN], uint64_t seq);

/* Whether name is a batch name (true, *seq set) or one the spool does not
 * own (false, *seq untouched). */
bool mxs_spool_file_parse_name(const char *name, uint64_t *seq);

/*
 * Check a whole file image (buf, len: borrowed) against every rule of the
 * format, including that its header names batch seq; *n receives its
 * result count.  Returns 0, MXS_ETRUNC or MXS_ESYNTAX with a reason.
 */
int mxs_spool_file_check(const uint8_t *buf, size_t len, uint64_t seq, uint32_t *n, char *errstr,
                         size_t errlen) MXS_WUR;

/*
 * Build the file image of batch seq from n results (results[i] is lens[i]
 * bytes, borrowed and copied); plen is their payload size, already within
 * the per-batch limits (4 + lens[i] each).  On success *imgp is a new
 * buffer of MXS_SPOOL_HDR_SIZE + plen bytes the caller frees with free();
 * on failure (MXS_ENOMEM) *imgp is not set.
 */
int mxs_spool_file_build(uint64_t seq, const uint8_t *const *results, const size_t *lens, size_t n,
                         size_t plen, uint8_t **imgp) MXS_WUR;

/*
 * Split an image that mxs_spool_file_check passed with count n into a
 * batch.  On success *out is a new batch that owns buf (released with
 * mxs_spool_batch_free); on failure (MXS_ENOMEM) buf stays the caller's
 * and *out is not set.
 */
int mxs_spool_file_batch(uint64_t seq, uint8_t *buf, uint32_t n,
                         struct mxs_spool_batch **out) MXS_WUR;

#endif
