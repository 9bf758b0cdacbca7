/*
 * metrics — the collector's counters, shared by the listener thread (which
 * counts) and the HTTP thread (which renders them for Prometheus).
 *
 * Every counter is a C11 atomic, updated with relaxed ordering: a scrape
 * may see one counter a little ahead of another, never a torn value.
 * The struct is zero-initialised by its owner (collector main) and lives
 * as long as both threads.
 */
#ifndef MXS_METRICS_H
#define MXS_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"

/* Verdict statuses counted per check (store.h's "ok", "fail", ...). */
enum mxs_mstatus { MXS_MS_OK = 0, MXS_MS_FAIL, MXS_MS_TEMPORARY, MXS_MS_NOT_TESTED, MXS_MS_N };

/* Batch latency histogram bounds (ms, receive to Ack sent); one more bucket: +Inf. */
#define MXS_METRICS_LAT_BUCKETS 8
extern const double mxs_metrics_lat_bounds_ms[MXS_METRICS_LAT_BUCKETS];

struct mxs_metrics {
	_Atomic uint64_t msgs;          /* messages received on the agent port */
	_Atomic uint64_t msgs_garbage;  /* refused: not an Envelope, bad version, no body */
	_Atomic uint64_t msgs_oversize; /* dropped by nng's receive limit, as far as counted */
	_Atomic uint64_t hello_ok, hello_refused;
	_Atomic uint64_t not_registered; /* requests before an accepted Hello */
	_Atomic uint64_t batches, results_stored, results_duplicate, results_refused;
	_Atomic uint64_t rows_stored;
	_Atomic uint64_t heartbeats, job_requests;
	_Atomic uint64_t store_errors;
	_Atomic uint64_t api_requests, api_unauthorized;
	_Atomic uint64_t obs[MXS_STORE_NCHECKS][MXS_MS_N]; /* observations stored, by verdict */
	_Atomic uint64_t lat_bucket[MXS_METRICS_LAT_BUCKETS + 1];
	_Atomic uint64_t lat_sum_us, lat_count;
	_Atomic int64_t started_ms;
	/* Connection-level counts copied from nng's listener statistics once a
	 * second (levels, not increments): TLS handshakes that failed (garbage,
	 * unknown or revoked certificates) are "auth"/"other" errors; a message
	 * over recv_max_bytes closes its connection as a protocol error. */
	_Atomic uint64_t conn_accepted, conn_auth_errors, conn_proto_errors, conn_other_errors;
};

/* Count one batch's latency. */
void mxs_metrics_batch_latency(struct mxs_metrics *m, double ms);

/* Count one stored observation's verdict (status as in store.h; unknown ignored). */
void mxs_metrics_obs(struct mxs_metrics *m, enum mxs_store_check c, const char *status);

/* Render every counter in Prometheus text format 0.0.4 into out. */
void mxs_metrics_render(const struct mxs_metrics *m, FILE *out);

#endif
