/*
 * http_api — the collector's HTTP JSON API for on-call (the `mxsentry` CLI,
 * scripts) and its Prometheus /metrics page.
 *
 * The API runs on a thread of its own, with its own libevent base and its
 * own store handle (opened on cfg->db_path): it never shares a handle with
 * the listener thread, and SQLite WAL lets both work on the file at once.
 * The only state it shares is struct mxs_metrics (atomics).
 *
 * Every /api/ request needs "Authorization: Bearer TOKEN"; /metrics needs
 * none (operators restrict it by listen address).  Request bodies are
 * capped at MXS_API_BODY_MAX.  Endpoints, all JSON, errors as
 * {"error":"..."} with 400/401/404/405/413/500:
 *   GET    /api/v1/domains          the job list and its version
 *   POST   /api/v1/domains          {"domain":D,"interval_s":N} add or update
 *   DELETE /api/v1/domains/NAME     remove from the job list
 *   GET    /api/v1/status/NAME      latest observation per (address, region)
 *   GET    /api/v1/history/NAME     the change log, newest first (?limit=N)
 *   GET    /api/v1/regions          agents and their last heartbeat
 *   GET    /metrics                 Prometheus text format 0.0.4
 *
 * The process must ignore SIGPIPE (a client that goes away mid-reply).
 */
#ifndef MXS_HTTP_API_H
#define MXS_HTTP_API_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "mxs_err.h"

#define MXS_API_BODY_MAX     (64 * 1024) /* request body bytes; larger is 413 */
#define MXS_API_STATUS_ROWS  1024        /* rows of one status reply ("truncated") */
#define MXS_API_HISTORY_MAX  1000        /* ?limit= upper bound */
#define MXS_API_HISTORY_DFLT 50
#define MXS_API_AGENTS_MAX   4096    /* agents listed by /regions and /metrics */
#define MXS_API_DOMAINS_MAX  1000000 /* domains listed by GET /api/v1/domains */
#define MXS_API_TOKEN_MAX    1024    /* bytes of the bearer token */
/* Probe intervals accepted: down to 10 s for incident follow-up and test
 * worlds (agents still open at most one session per MX address per
 * share_window_s, so a short interval does not hammer the MX). */
#define MXS_API_INTERVAL_MIN  10
#define MXS_API_INTERVAL_MAX  86400
#define MXS_API_INTERVAL_DFLT 300
#define MXS_API_STALE_DFLT    180 /* seconds without a heartbeat before "stale" */
#define MXS_API_TIMEOUT_S     30  /* evhttp read/write timeout per connection */

struct mxs_api_config {
	const char *listen;    /* "ADDR:PORT": "127.0.0.1:8025", "[::1]:8025"; port 0: any */
	const char *db_path;   /* the SQLite store; opened again by the API thread */
	const char *token;     /* bearer token, required, non-empty, never logged */
	int64_t stale_after_s; /* heartbeat older than this is "stale"; 0 means 180 */
};

struct mxs_api;

/*
 * Open the store, bind the listen address, then serve on a new thread.
 * Errors (bad listen address, empty token, store open, bind) are returned
 * before any thread starts, with detail in errstr.  cfg is copied; m is
 * borrowed and must outlive the API.  On success *out is the caller's,
 * released with mxs_api_stop; on failure *out is NULL.
 */
int mxs_api_start(const struct mxs_api_config *cfg, struct mxs_metrics *m, struct mxs_api **out,
                  char *errstr, size_t errlen) MXS_WUR;

/* The port actually bound (useful with port 0). */
int mxs_api_port(const struct mxs_api *api);

/* Stop the loop (replies in progress are dropped), join the thread, close
 * the store, free *ap and set it to NULL.  NULL-safe.  Call from any
 * thread but the API's own. */
void mxs_api_stop(struct mxs_api **ap);

#endif
