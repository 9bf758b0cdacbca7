/*
 * agent_metrics — the agent's counters and its Prometheus /metrics
 * endpoint (text format 0.0.4), served by the relay process.
 *
 * The relay owns one zero-initialised struct mxs_agent_metrics and counts
 * into it from its intake and uplink threads; the metrics server renders
 * it on its own thread.  Every field is a C11 atomic used with relaxed
 * ordering: a scrape may see one counter a little ahead of another, never
 * a torn value.  Fields marked "level" are copied in (by the fill
 * callback at scrape time, or by the owner), not incremented.
 *
 * The server: one thread with its own event_base and evhttp, bound at
 * start (so the relay binds while still root, before the privilege drop),
 * answering GET /metrics only (404 for other paths, 405 for other
 * methods).  mxs_agent_metrics_stop wakes its loop through a pipe, so
 * libevent needs no thread support.  No token: these numbers are not
 * secrets; operators restrict the endpoint by the listen address.
 *
 * Names are prefixed mxsentry_agent_; they do not reuse the collector's
 * mxsentry_agent_spool_depth / _connections_total / _connection_errors_total
 * (collector-side series about agents), so a sum over both jobs does not
 * count anything twice.
 */
#ifndef MXS_AGENT_METRICS_H
#define MXS_AGENT_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mxs_err.h"
#include "mxsentry.pb-c.h"

/* Limits on what a scraper may send (requests are tiny GETs). */
#define MXS_AGENT_METRICS_HEADERS_MAX (8 * 1024) /* request line and headers */
#define MXS_AGENT_METRICS_BODY_MAX    1024       /* request body */
#define MXS_AGENT_METRICS_TIMEOUT_S   10         /* idle connection */
#define MXS_AGENT_METRICS_ADDR_MAX    128        /* the ADDR of ADDR:PORT */

/* Per-address checks counted in mxsentry_agent_verdicts_total, named as
 * the collector names them (mxsentry_observations_total). */
enum mxs_am_check {
	MXS_AM_CONNECT = 0,
	MXS_AM_SMTP,
	MXS_AM_TLS,
	MXS_AM_PKIX,
	MXS_AM_NAME,
	MXS_AM_DANE,
	MXS_AM_STS,
	MXS_AM_NCHECKS
};

/* Verdict statuses: "ok", "fail", "temporary", "not-tested". */
enum mxs_am_status {
	MXS_AM_OK = 0,
	MXS_AM_FAIL,
	MXS_AM_TEMPORARY,
	MXS_AM_NOT_TESTED,
	MXS_AM_NSTATUS
};

/* Why a request to the collector failed (mxsentry_agent_requests_failed_total). */
enum mxs_am_reqfail {
	MXS_AM_NO_REPLY = 0, /* send failed or no reply in time */
	MXS_AM_REFUSED,      /* an Error reply */
	MXS_AM_MALFORMED,    /* undecodable or unexpected reply, Ack for another batch */
	MXS_AM_NREQFAIL
};

/* Batch round-trip histogram bounds (ms, request sent to Ack received);
 * one more bucket: +Inf. */
#define MXS_AM_LAT_BUCKETS 9
extern const double mxs_agent_metrics_lat_bounds_ms[MXS_AM_LAT_BUCKETS];

struct mxs_agent_metrics {
	/* intake */
	_Atomic uint64_t results_read;    /* result frames from the prober */
	_Atomic uint64_t results_spooled; /* results written to the spool */
	/* uplink */
	_Atomic uint64_t requests;                         /* requests sent to the collector */
	_Atomic uint64_t requests_failed[MXS_AM_NREQFAIL]; /* by reason */
	_Atomic uint64_t hello_ok, hello_refused; /* Hello outcomes (refused: by the peer) */
	_Atomic uint64_t collector_up;            /* level: 1 while registered */
	_Atomic uint64_t batches_sent;            /* batches acknowledged */
	_Atomic uint64_t results_acked_stored, results_acked_duplicate;
	_Atomic uint64_t verdicts[MXS_AM_NCHECKS][MXS_AM_NSTATUS]; /* of acknowledged results */
	_Atomic uint64_t lat_bucket[MXS_AM_LAT_BUCKETS + 1];       /* per bucket, not cumulative */
	_Atomic uint64_t lat_sum_us, lat_count;
	/* spool (levels, from struct mxs_spool_stats) */
	_Atomic uint64_t spool_results, spool_bytes, spool_files;
	_Atomic uint64_t results_dropped, spool_corrupt_files;
	/* prober (levels, from its latest Heartbeat counters) */
	_Atomic uint64_t probes_run, probes_failed, cycles, last_cycle_ms;
	_Atomic int egress;              /* Mxs__EgressState; unknown values render as "unknown" */
	_Atomic int64_t started_unix_ms; /* 0: not rendered */
};

/* Count one batch's round trip (negative or NaN counts as 0). */
void mxs_agent_metrics_batch_latency(struct mxs_agent_metrics *m, double ms);

/* Count the per-address verdicts of one result (absent or unspecified
 * verdicts are not counted).  pr is only read. */
void mxs_agent_metrics_result(struct mxs_agent_metrics *m, const Mxs__ProbeResult *pr);

/* Render every series in Prometheus text format 0.0.4 into out. */
void mxs_agent_metrics_render(const struct mxs_agent_metrics *m, FILE *out);

/*
 * Called on the server thread before each render, to copy levels (spool,
 * prober) into m.  It must be safe to call from that thread while the
 * owner's threads run.
 */
typedef void (*mxs_agent_metrics_fill_fn)(struct mxs_agent_metrics *m, void *arg);

struct mxs_agent_metrics_server;

/*
 * Bind listen ("ADDR:PORT" or "[V6]:PORT"; port 0 picks a free one) and
 * serve m on a new thread (which blocks every signal).  listen NULL or ""
 * means off: returns 0 with *out NULL.  m and arg must outlive the server;
 * fill may be NULL.  On success *out is the server, stopped and freed by
 * mxs_agent_metrics_stop; on failure *out is NULL and errstr says why.
 * Errors: MXS_ECONFIG (listen malformed), MXS_ESYS (bind, thread),
 * MXS_ENOMEM.
 */
int mxs_agent_metrics_start(const char *listen, struct mxs_agent_metrics *m,
                            mxs_agent_metrics_fill_fn fill, void *arg,
                            struct mxs_agent_metrics_server **out, char *errstr,
                            size_t errlen) MXS_WUR;

/* The bound port (useful after port 0). */
int mxs_agent_metrics_port(const struct mxs_agent_metrics_server *s);

/* Stop the thread (joined: fill is not called after this returns), free
 * the server and clear *sp; NULL or *sp NULL is fine.  Call from the
 * thread that started it, never from fill. */
void mxs_agent_metrics_stop(struct mxs_agent_metrics_server **sp);

#endif
