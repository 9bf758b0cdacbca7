/*
 * listener — the collector's agent port: nng REP over tls+tcp with mutual
 * TLS, one thread, requests served in arrival order.
 *
 * Serving one request at a time is deliberate: every request ends in the
 * one SQLite writer anyway, and a batch of 100 results is one transaction
 * (~1-2 ms), so a serial loop keeps up with thousands of agents' batches
 * per second while staying free of locks around the store.
 *
 * Identity: nng verifies the certificate chain and CRL during the
 * handshake; the Hello then proves which certificate (ident.h).  Until a
 * connection (nng pipe) has been accepted, it gets only Hello answered.
 */
#ifndef MXS_LISTENER_H
#define MXS_LISTENER_H

#include <signal.h>

#include "cconfig.h"
#include "metrics.h"
#include "store.h"

struct mxs_listener;

/*
 * Open the listening socket per cfg (borrowed for the listener's life);
 * st is the listener's own store handle (borrowed); m the shared counters.
 * Binding errors are returned here, so a daemon fails before it detaches.
 */
int mxs_listener_open(const struct mxs_collector_config *cfg, struct mxs_store *st,
                      struct mxs_metrics *m, struct mxs_listener **out, char *errstr,
                      size_t errlen) MXS_WUR;

/* The URL actually bound (port 0 resolved), for logs and tests. */
const char *mxs_listener_url(const struct mxs_listener *l);

/* Serve until *stop becomes non-zero (checked at least once a second). */
int mxs_listener_run(struct mxs_listener *l, volatile sig_atomic_t *stop);

void mxs_listener_close(struct mxs_listener **lp);

#endif
