/*
 * spool — the agent's on-disk queue of probe results waiting for the
 * collector's Ack.
 *
 * The relay writes every batch of results here before sending it and
 * removes it only when the collector acknowledges it, so a collector
 * outage or an agent restart loses nothing: whatever is left is delivered
 * again, oldest first (the collector deduplicates by result id).  The
 * spool is bounded (max_bytes, MXS_SPOOL_FILES_MAX): when full, NEW
 * batches are refused and counted; the oldest data is kept.  Results are
 * opaque bytes here (packed mxs.ProbeResult); nothing is parsed.
 *
 * On disk, one directory (mode 0700) holds one file per batch, named by
 * its sequence number as 16 lower-case hex digits + ".sp", so the lexical
 * order of names is the order of age.  A file is:
 *
 *	"MXSSPOOL"    8 bytes magic
 *	version       u32, MXS_SPOOL_VERSION
 *	count         u32, results in the file (1..MXS_SPOOL_BATCH_RESULTS_MAX)
 *	payload_len   u32, bytes after the header (<= MXS_SPOOL_BATCH_MAX)
 *	seq           u64, must equal the name (a renamed file is corrupt)
 *	crc           u32, zlib crc32 of the 28 header bytes before it, then
 *	              the payload
 *	payload       count x (u32 length, bytes)
 *
 * all integers big-endian.  A batch is written to "tmp.<seq>.sp", fsynced,
 * renamed to its name and the directory fsynced, so after a crash a batch
 * is either whole or absent; stray "tmp." files are removed by the next
 * open.  A file that fails any check (open verifies every file, reads
 * verify again) is moved to corrupt/ and counted, never deleted and never
 * fatal; corrupt/ keeps the newest MXS_SPOOL_CORRUPT_MAX files.  Sequence
 * numbers start at 1 and continue after the highest name in the directory
 * or corrupt/ (so a spool found empty starts again at 1: the number only
 * pairs an Ack with its batch, results are deduplicated by id).
 * Names the spool does not own are left alone.  One process at a time:
 * open takes a flock on the directory.
 *
 * Threading: every function takes the spool's mutex, so an intake thread
 * (put) and an uplink thread (wait, oldest, ack) may share one spool.  put
 * writes and fsyncs its file outside the mutex, so a slow disk does not
 * stall the uplink; oldest and ack do their (small) I/O under it.  Puts
 * from two threads at once may become visible out of seq order (each when
 * its write completes); with one intake thread, order is put order.
 * mxs_spool_close must not race any other call.
 */
#ifndef MXS_SPOOL_H
#define MXS_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "mxs_err.h"
#include "mxs_limits.h"

#define MXS_SPOOL_VERSION  1  /* format version this code writes and reads */
#define MXS_SPOOL_HDR_SIZE 32 /* bytes of the file header above */

/*
 * Payload bytes in one batch file (each result costs 4 + its length).  The
 * 64 KiB below MXS_WIRE_MSG_MAX leave room for the Envelope and ResultBatch
 * framing when the batch is sent as one message: protobuf spends at most
 * one byte per result more than this format, and MXS_SPOOL_BATCH_RESULTS_MAX
 * bounds those bytes.  A single result larger than this is refused.
 */
#define MXS_SPOOL_BATCH_MAX         (MXS_WIRE_MSG_MAX - 64 * 1024)
#define MXS_SPOOL_BATCH_RESULTS_MAX 10000  /* results in one batch */
#define MXS_SPOOL_FILES_MAX         100000 /* batch files in the spool */
#define MXS_SPOOL_CORRUPT_MAX       16     /* files kept in corrupt/, oldest deleted */

struct mxs_spool;

/* Counters; the first three describe the spool now, the rest count since open. */
struct mxs_spool_stats {
	uint64_t files;           /* batch files waiting for an Ack */
	uint64_t results;         /* results in them (Heartbeat.spool_depth) */
	uint64_t bytes;           /* their size on disk, headers included */
	uint64_t dropped_results; /* results of refused puts (Heartbeat.spool_dropped) */
	uint64_t dropped_batches; /* refused puts: bound, size limit or I/O error */
	uint64_t corrupt_files;   /* files moved to corrupt/ (or found missing) */
	uint64_t acked_results;   /* results removed by mxs_spool_ack */
};

/*
 * One batch read back by mxs_spool_oldest.  results[i] points at lens[i]
 * bytes; all of it is owned by the batch and freed with mxs_spool_batch_free
 * (never free a member).  The batch stays valid after an ack or close.
 */
struct mxs_spool_batch {
	uint64_t seq;
	size_t n;                /* >= 1 */
	const uint8_t **results; /* n pointers into the batch's own buffer */
	size_t *lens;
	uint8_t *buf_; /* private: the file contents */
};

/*
 * Open the spool in dir, creating dir (mode 0700, not its parents) if
 * absent.  Scans and verifies every existing file (reads all the spool
 * once): stray temp files are removed, corrupt ones moved to corrupt/ and
 * counted.  max_bytes (> 0) bounds the bytes of batch files the spool
 * holds; files already there are all kept even if they exceed it, and new
 * puts are refused until acks make room.  On success *out is a new spool
 * the caller closes with mxs_spool_close; on failure *out is NULL.
 * Errors: MXS_EINVAL (bad argument), MXS_ESYS (dir unusable, or in use by
 * another process), MXS_ENOMEM.
 */
int mxs_spool_open(const char *dir, uint64_t max_bytes, struct mxs_spool **out, char *errstr,
                   size_t errlen) MXS_WUR;

/*
 * Write n results as one batch and make it durable before returning.
 * results[i] is lens[i] bytes; nothing is retained (copied to disk).  On
 * success *seq_out (may be NULL) is the batch's sequence number, and waiters
 * in mxs_spool_wait wake.  On failure *seq_out is 0 and nothing is on disk.
 * Errors: MXS_EINVAL (caller bug: NULL, n == 0), MXS_ELIMIT (n above
 * MXS_SPOOL_BATCH_RESULTS_MAX, payload above MXS_SPOOL_BATCH_MAX, or the
 * spool is full by max_bytes or MXS_SPOOL_FILES_MAX), MXS_ESYS (I/O, e.g.
 * disk full), MXS_ENOMEM.  Every failure except MXS_EINVAL counts the batch
 * in dropped_batches and its n results in dropped_results: a refused
 * result is never lost silently.
 */
int mxs_spool_put(struct mxs_spool *sp, const uint8_t *const *results, const size_t *lens, size_t n,
                  uint64_t *seq_out, char *errstr, size_t errlen) MXS_WUR;

/*
 * Read the oldest batch.  On success *out is a new batch the caller frees
 * with mxs_spool_batch_free; it stays in the spool until mxs_spool_ack.
 * Calling again before the ack returns the same batch.  A file that fails
 * its checks is moved to corrupt/, counted, and the next one tried.  On
 * failure *out is NULL.  Errors: MXS_ENOTFOUND (the spool is empty: not a
 * failure, wait and retry), MXS_ESYS (I/O error; the batch is kept, retry
 * later), MXS_ENOMEM.
 */
int mxs_spool_oldest(struct mxs_spool *sp, struct mxs_spool_batch **out, char *errstr,
                     size_t errlen) MXS_WUR;

/* Free a batch from mxs_spool_oldest and clear *bp; NULL is fine. */
void mxs_spool_batch_free(struct mxs_spool_batch **bp);

/*
 * The collector acknowledged batch seq: delete its file.  The directory is
 * not fsynced: after a crash an acked batch may come back, and the
 * collector drops it as duplicates.  Errors: MXS_ENOTFOUND (no such batch
 * in the spool, e.g. a repeated Ack from the peer: log and carry on),
 * MXS_ESYS (unlink failed; the batch stays and will be sent again).
 */
int mxs_spool_ack(struct mxs_spool *sp, uint64_t seq, char *errstr, size_t errlen) MXS_WUR;

/*
 * Block until the spool holds a batch, timeout_ms passes (< 0: no timeout)
 * or mxs_spool_wakeup is called.  Returns 0 if the spool is non-empty,
 * MXS_ENOTFOUND if it is still empty (timeout or wakeup).
 */
int mxs_spool_wait(struct mxs_spool *sp, int timeout_ms) MXS_WUR;

/* Wake every thread now in mxs_spool_wait (e.g. to let it see a stop flag). */
void mxs_spool_wakeup(struct mxs_spool *sp);

/* A consistent snapshot of the counters. */
void mxs_spool_stats(struct mxs_spool *sp, struct mxs_spool_stats *st);

/* Close the spool (files stay for the next open) and clear *spp; NULL is fine. */
void mxs_spool_close(struct mxs_spool **spp);

#endif
