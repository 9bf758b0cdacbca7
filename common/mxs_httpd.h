/*
 * mxs_httpd — a small HTTP server on a thread of its own, for the
 * collector's API and the agent's /metrics.
 *
 * Start binds before returning (so a daemon binds while still root, and a
 * bind error reaches the caller), then runs its own event_base and evhttp
 * on a new thread that blocks every signal.  Stop wakes the loop through
 * a pipe (libevent needs no thread support) and joins.  The handler runs
 * on the server's thread only; every method reaches it, so it answers 405
 * itself.
 */
#ifndef MXS_HTTPD_H
#define MXS_HTTPD_H

#include <stddef.h>

#include <event2/http.h>

#include "mxs_err.h"

struct mxs_httpd_limits {
	size_t headers_max; /* request line and headers */
	size_t body_max;    /* larger bodies get 413 (read to the end first) */
	int timeout_s;      /* idle connection */
};

struct mxs_httpd;

/*
 * Serve listen ("ADDR:PORT" or "[V6]:PORT"; port 0 picks one) with fn(req,
 * arg).  name prefixes errors and the log line.  On success *out is the
 * server, stopped with mxs_httpd_stop; errors: MXS_ECONFIG (listen
 * malformed), MXS_ESYS (libevent, bind, thread), MXS_ENOMEM.
 */
int mxs_httpd_start(const char *name, const char *listen, const struct mxs_httpd_limits *lim,
                    void (*fn)(struct evhttp_request *, void *), void *arg, struct mxs_httpd **out,
                    char *errstr, size_t errlen) MXS_WUR;

/* The bound port (useful after port 0), or -1. */
int mxs_httpd_port(const struct mxs_httpd *h);

/* Stop (fn is not called after this returns), free, clear *hp; NULL-safe.
 * Call from the thread that started it. */
void mxs_httpd_stop(struct mxs_httpd **hp);

#endif
