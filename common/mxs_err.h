/*
 * mxs_err — the one error convention of mxsentry.
 *
 * Functions that can fail return int: 0 on success, a negative MXS_E* code
 * on failure.  Human detail travels separately in an errstr buffer and is
 * logged once, by whoever handles the error.  A probe that finds a broken
 * server is NOT an error: it returns 0 with the verdict in its result.
 */
#ifndef MXS_ERR_H
#define MXS_ERR_H

#include <stddef.h>

#define MXS_WUR          __attribute__((warn_unused_result))
#define MXS_PRINTF(f, a) __attribute__((format(printf, f, a)))

enum {
	MXS_OK = 0,
	MXS_ENOMEM = -1,  /* allocation failed */
	MXS_EINVAL = -2,  /* invalid argument or input */
	MXS_ELIMIT = -3,  /* input exceeded a named limit (mxs_limits.h) */
	MXS_ESYS = -4,    /* system call failed, see errno text */
	MXS_ECONFIG = -5, /* configuration rejected */
	MXS_ETLS = -6,    /* OpenSSL setup failed */
	MXS_EDNS = -7,    /* resolver setup failed */
	MXS_ESYNTAX = -8, /* malformed input */
	MXS_ETRUNC = -9,  /* input ended early */
	MXS_ENOTFOUND = -10,
};

/* Static text for an MXS_E* code; never NULL. */
const char *mxs_strerror(int err);

/*
 * Write a formatted message into errstr (size errlen).  errstr may be NULL.
 * Always returns err, so a failure path reads: return mxs_seterr(...).
 */
int mxs_seterr(char *errstr, size_t errlen, int err, const char *fmt, ...) MXS_PRINTF(4, 5);

#endif
