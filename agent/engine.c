/* engine — loop, resolver and TLS context shared by all probes (see engine.h). */
#include "engine.h"
#include "addr_share.h"
#include "fetch.h"
#include "probe_dns.h"
#include "probe_smtp.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/resource.h>

#include <unbound-event.h>
#include <unbound.h>

#define UB_QUERIES_PER_PROBE 8
#define UB_QUERIES_MIN       1024
#define UB_QUERIES_MAX       65536

static int
engine_resolver_size(struct mxs_engine *e, const struct mxs_agent_config *c, char *errstr,
                     size_t errlen)
{
	struct rlimit rl;
	long long q = c->max_in_flight * UB_QUERIES_PER_PROBE, socks;
	char v[32];
	int rc;

	q = q < UB_QUERIES_MIN ? UB_QUERIES_MIN : q > UB_QUERIES_MAX ? UB_QUERIES_MAX : q;
	socks = q;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (long long)rl.rlim_cur / 2 < socks)
		socks = (long long)rl.rlim_cur / 2;
	snprintf(v, sizeof(v), "%lld", q);
	if ((rc = ub_ctx_set_option(e->ub, "num-queries-per-thread:", v)) != 0)
		return mxs_seterr(errstr, errlen, MXS_EDNS, "num-queries-per-thread %s: %s", v,
		                  ub_strerror(rc));
	snprintf(v, sizeof(v), "%lld", socks < 64 ? 64 : socks);
	if ((rc = ub_ctx_set_option(e->ub, "outgoing-range:", v)) != 0)
		return mxs_seterr(errstr, errlen, MXS_EDNS, "outgoing-range %s: %s", v,
		                  ub_strerror(rc));
	return 0;
}

/* Apply the [resolver] section to a fresh libunbound context. */
static int
engine_resolver(struct mxs_engine *e, const struct mxs_agent_config *c, char *errstr, size_t errlen)
{
	int rc;

	/* Size libunbound for the domains in flight, before a config file that
	 * may say otherwise: each probe has up to ~8 queries outstanding at
	 * once, and libunbound's defaults (1024 queries, 4096 sockets in
	 * Debian's libevent build) make a 1000-domain round time out
	 * (tests/bench/cycle.sh).  Sockets stay within half the fd limit: the
	 * SMTP and HTTPS sessions need the rest. */
	if ((rc = engine_resolver_size(e, c, errstr, errlen)) != 0)
		return rc;
	if (c->unbound_config != NULL && (rc = ub_ctx_config(e->ub, c->unbound_config)) != 0)
		return mxs_seterr(errstr, errlen, MXS_EDNS, "resolver config %s: %s",
		                  c->unbound_config, ub_strerror(rc));
	if (c->trust_anchor_file != NULL && *c->trust_anchor_file != '\0' &&
	    (rc = ub_ctx_add_ta_file(e->ub, c->trust_anchor_file)) != 0)
		return mxs_seterr(errstr, errlen, MXS_EDNS, "trust anchor %s: %s",
		                  c->trust_anchor_file, ub_strerror(rc));
	if (c->use_resolv_conf && (rc = ub_ctx_resolvconf(e->ub, NULL)) != 0)
		return mxs_seterr(errstr, errlen, MXS_EDNS, "/etc/resolv.conf: %s",
		                  ub_strerror(rc));
	for (size_t i = 0; i < c->nforward; i++)
		if ((rc = ub_ctx_set_fwd(e->ub, c->forward[i])) != 0)
			return mxs_seterr(errstr, errlen, MXS_EDNS, "forward %s: %s", c->forward[i],
			                  ub_strerror(rc));
	if (c->nstub_addr > 0 && c->stub_zone == NULL)
		return mxs_seterr(errstr, errlen, MXS_ECONFIG, "stub_addr given without stub_zone");
	for (size_t i = 0; i < c->nstub_addr; i++)
		if ((rc = ub_ctx_set_stub(e->ub, c->stub_zone, c->stub_addr[i], 0)) != 0)
			return mxs_seterr(errstr, errlen, MXS_EDNS, "stub %s %s: %s", c->stub_zone,
			                  c->stub_addr[i], ub_strerror(rc));
	return 0;
}

/*
 * The client context: no verification during the handshake (we want the
 * chain whatever it is, as an opportunistic MTA would get it, and judge it
 * afterwards in cert_check), TLS 1.0 and up so an old server is reported as
 * such rather than as a handshake failure.
 */
static int
engine_tls(struct mxs_engine *e, char *errstr, size_t errlen)
{
	if ((e->ssl = SSL_CTX_new(TLS_client_method())) == NULL)
		return mxs_seterr(errstr, errlen, MXS_ETLS, "SSL_CTX_new failed");
	SSL_CTX_set_verify(e->ssl, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_min_proto_version(e->ssl, TLS1_VERSION);
	SSL_CTX_set_security_level(e->ssl, 1);
	SSL_CTX_set_session_cache_mode(e->ssl, SSL_SESS_CACHE_OFF);
	/* Each session would otherwise hold ~33 KB of record buffers from the
	 * first handshake flight to SSL_free, most of it idle while waiting for
	 * the server: with thousands of sessions in flight that is most of the
	 * agent's heap.  Released buffers are allocated again per record. */
	SSL_CTX_set_mode(e->ssl, SSL_MODE_RELEASE_BUFFERS);
	/* We send a ClientHello, a Finished and QUIT: a 4 KiB record limit
	 * shrinks the write buffer of every session from ~17 KB to ~4.5 KB.
	 * Local only (no max_fragment_length extension is sent): what the
	 * server may send, and so the read buffer, is unchanged. */
	SSL_CTX_set_max_send_fragment(e->ssl, 4096);
	return 0;
}

/* ---- the share table's hooks: clock, session start, wake-up timer ---- */

static uint64_t
share_now(void *ctx)
{
	(void)ctx;
	return mxs_now_ms();
}

static void
share_session_done(void *arg)
{
	mxs_share_finished(arg);
}

static int
share_start(void *ctx, struct mxs_share_job *job)
{
	return mxs_smtp_probe(ctx, job->a, job->host, job->dane, share_session_done, job);
}

static void
share_arm(void *ctx, uint64_t delay_ms)
{
	struct mxs_engine *e = ctx;
	struct timeval tv = {.tv_sec = (time_t)(delay_ms / 1000),
	                     .tv_usec = (suseconds_t)(delay_ms % 1000) * 1000};

	evtimer_add(e->share_ev, &tv);
}

static void
share_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mxs_engine *e = arg;

	(void)fd;
	(void)what;
	mxs_share_wake(e->share);
}

static int
engine_share(struct mxs_engine *e, const struct mxs_agent_config *c, char *errstr, size_t errlen)
{
	const struct mxs_share_limits lim = {.sessions = c->per_address_sessions,
	                                     .interval_ms = c->per_address_interval_ms,
	                                     .window_s = c->share_window_s};
	const struct mxs_share_ops ops = {
	        .now = share_now, .start = share_start, .arm = share_arm, .ctx = e};
	int rc;

	if ((e->share_ev = evtimer_new(e->base, share_wake_cb, e)) == NULL)
		return mxs_seterr(errstr, errlen, MXS_ENOMEM, "evtimer_new failed");
	if ((rc = mxs_share_new(&lim, &ops, &e->share)) != 0)
		return mxs_seterr(errstr, errlen, rc, "session share table: %s", mxs_strerror(rc));
	return 0;
}

int
mxs_engine_init(struct mxs_engine *e, const struct mxs_agent_config *cfg, char *errstr,
                size_t errlen)
{
	int rc;

	memset(e, 0, sizeof(*e));
	e->cfg = cfg;
	if (cfg->helo_name != NULL)
		snprintf(e->helo, sizeof(e->helo), "%s", cfg->helo_name);
	else if (gethostname(e->helo, sizeof(e->helo) - 1) != 0 || e->helo[0] == '\0')
		snprintf(e->helo, sizeof(e->helo), "%s", "mxsentry.invalid");
	if ((e->base = event_base_new()) == NULL) {
		rc = mxs_seterr(errstr, errlen, MXS_ENOMEM, "event_base_new failed");
		goto out;
	}
	if ((e->ub = ub_ctx_create_event(e->base)) == NULL) {
		rc = mxs_seterr(errstr, errlen, MXS_EDNS, "ub_ctx_create_event failed");
		goto out;
	}
	if ((rc = engine_resolver(e, cfg, errstr, errlen)) != 0)
		goto out;
	if ((rc = engine_tls(e, errstr, errlen)) != 0)
		goto out;
	if ((rc = mxs_trust_load(&e->trust, cfg->ca_file, cfg->ca_path, cfg->intermediates_file,
	                         errstr, errlen)) != 0)
		goto out;
	if ((rc = mxs_fetcher_new(e->base, &e->trust, &e->fetch, errstr, errlen)) != 0)
		goto out;
	if ((rc = engine_share(e, cfg, errstr, errlen)) != 0)
		goto out;
	return 0;
out:
	mxs_engine_free(e);
	return rc;
}

void
mxs_engine_free(struct mxs_engine *e)
{
	mxs_dns_drop_queued(e);
	mxs_share_free(&e->share);
	if (e->share_ev != NULL)
		event_free(e->share_ev);
	if (e->fetch != NULL)
		mxs_fetcher_free(&e->fetch);
	mxs_trust_free(&e->trust);
	if (e->ssl != NULL)
		SSL_CTX_free(e->ssl);
	if (e->ub != NULL)
		ub_ctx_delete(e->ub);
	if (e->base != NULL)
		event_base_free(e->base);
	memset(e, 0, sizeof(*e));
}
