/*
 * engine — the probe engine's shared state: one libevent loop, one
 * libunbound context plugged into that loop (ub_ctx_create_event), one
 * OpenSSL client context and the trust store.  One engine per process
 * (OpenSSL 3.0 contexts lose to lock contention when threads share them);
 * nothing here is thread-safe.
 */
#ifndef MXS_ENGINE_H
#define MXS_ENGINE_H

#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "cert_check.h"
#include "config.h"
#include "mxs_clock.h"
#include "mxs_err.h"

struct ub_ctx;
struct mxs_fetcher;
struct mxs_share;
struct dns_query;

struct mxs_engine {
	struct event_base *base;
	struct ub_ctx *ub;
	SSL_CTX *ssl;
	struct mxs_trust trust;
	struct mxs_fetcher *fetch; /* HTTPS fetches (libcurl multi) on base */
	/* SMTP sessions go through share (addr_share.h): one per (MX host,
	 * address) per share window, under the per-address caps; share_ev is
	 * its wake-up timer.  Every domain probed on this engine shares. */
	struct mxs_share *share;
	struct event *share_ev;
	/* probe_dns: lookups with libunbound, and those queued behind
	 * MXS_DNS_INFLIGHT_MAX (FIFO; used by probe_dns.c only). */
	size_t dns_inflight;
	struct dns_query *dns_waitq, *dns_waitq_tail;
	const struct mxs_agent_config *cfg; /* borrowed; outlives the engine */
	char helo[256];
};

/*
 * Set up the loop, resolver, TLS context and session share table from cfg (borrowed, must
 * outlive e).  Environment problems (unreadable trust anchor, bad CA file,
 * bad resolver address) are errors with the reason in errstr.  On failure
 * e holds nothing; on success release with mxs_engine_free.
 */
int mxs_engine_init(struct mxs_engine *e, const struct mxs_agent_config *cfg, char *errstr,
                    size_t errlen) MXS_WUR;
/* Release everything; no probe may still be running. */
void mxs_engine_free(struct mxs_engine *e);

#endif
