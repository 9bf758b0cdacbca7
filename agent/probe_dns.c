/*
 * probe_dns — asynchronous lookups through libunbound's event API (see
 * probe_dns.h).
 *
 * libunbound hands over the answer packet only for the duration of its
 * callback, and may call that callback before ub_resolve_event returns
 * (local data), so the callback copies the packet and defers delivery to a
 * zero-delay timer: the caller's callback always runs from the loop.
 * Its rcode argument is 0 whenever an answer packet exists (even NXDOMAIN)
 * and SERVFAIL otherwise, so the RCODE is read from the packet header.
 */
#include "probe_dns.h"

#include <stdlib.h>
#include <string.h>

#include <unbound-event.h>
#include <unbound.h>

struct dns_query {
	struct mxs_engine *e;
	struct mxs_dns *d;
	mxs_dns_fn fn;
	void *arg;
	struct event *timer; /* deadline first, then zero-delay delivery */
	int async_id;
	int answered; /* libunbound called back */
	uint64_t started;
	unsigned char *pkt; /* copy of the answer, owned */
	size_t pktlen;
};

static void
dns_query_free(struct dns_query *q)
{
	if (q->timer != NULL)
		event_free(q->timer);
	free(q->pkt);
	free(q);
}

static void
dns_deliver(struct dns_query *q)
{
	struct mxs_dns_msg msg;
	char err[128];
	int have = 0;

	q->d->ms = (uint32_t)(mxs_now_ms() - q->started);
	if (q->pkt != NULL) {
		if (mxs_dns_parse(q->pkt, q->pktlen, &msg, err, sizeof(err)) == 0)
			have = 1;
		else if (q->d->why_bogus[0] == '\0')
			snprintf(q->d->why_bogus, sizeof(q->d->why_bogus), "unparsable answer: %s",
			         err);
	}
	q->fn(q->arg, q->d, have ? &msg : NULL);
	if (have)
		mxs_dns_msg_free(&msg);
	dns_query_free(q);
}

/* Deadline passed (still waiting for libunbound) or delivery is due. */
static void
dns_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;

	if (!q->answered) {
		ub_cancel(q->e->ub, q->async_id);
		q->d->done = 0;
		q->d->rcode = -1;
		snprintf(q->d->why_bogus, sizeof(q->d->why_bogus), "no answer within %lld ms",
		         q->e->cfg->dns_timeout_ms);
	}
	dns_deliver(q);
}

static uint32_t
dns_min_ttl(const unsigned char *pkt, size_t len)
{
	struct mxs_dns_msg m;
	char err[64];
	uint32_t ttl = 0;

	if (mxs_dns_parse(pkt, len, &m, err, sizeof(err)) != 0)
		return 0;
	for (size_t i = 0; i < m.nans; i++)
		if (i == 0 || m.ans[i].ttl < ttl)
			ttl = m.ans[i].ttl;
	mxs_dns_msg_free(&m);
	return ttl;
}

static void
dns_ub_cb(void *arg, int rcode, void *packet, int packet_len, int sec, char *why_bogus,
          int was_ratelimited)
{
	struct dns_query *q = arg;
	struct timeval now = {0, 0};

	q->answered = 1;
	q->d->done = 1;
	q->d->rcode = rcode;
	q->d->sec = sec == 2 ? MXS_SEC_SECURE : sec == 1 ? MXS_SEC_BOGUS : MXS_SEC_INSECURE;
	if (why_bogus != NULL)
		snprintf(q->d->why_bogus, sizeof(q->d->why_bogus), "%s", why_bogus);
	else if (was_ratelimited)
		snprintf(q->d->why_bogus, sizeof(q->d->why_bogus), "%s", "query was ratelimited");
	if (packet != NULL && packet_len >= 12 && packet_len <= MXS_DNS_PACKET_MAX &&
	    (q->pkt = malloc((size_t)packet_len)) != NULL) {
		memcpy(q->pkt, packet, (size_t)packet_len);
		q->pktlen = (size_t)packet_len;
		q->d->ttl = dns_min_ttl(q->pkt, q->pktlen);
		/* The callback's rcode is 0 for any answer (NXDOMAIN included);
		 * the DNS RCODE is in the header, low 4 bits of byte 3. */
		if (rcode == 0)
			q->d->rcode = q->pkt[3] & 0x0f;
	}
	/* Re-arm the deadline timer as an immediate delivery. */
	evtimer_del(q->timer);
	evtimer_add(q->timer, &now);
}

int
mxs_dns_lookup(struct mxs_engine *e, const char *name, uint16_t type, struct mxs_dns *d,
               mxs_dns_fn fn, void *arg)
{
	struct dns_query *q;
	struct timeval tv;
	int rc;

	memset(d, 0, sizeof(*d));
	d->rcode = -1;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return MXS_ENOMEM;
	q->e = e;
	q->d = d;
	q->fn = fn;
	q->arg = arg;
	q->started = mxs_now_ms();
	if ((q->timer = evtimer_new(e->base, dns_timer_cb, q)) == NULL) {
		dns_query_free(q);
		return MXS_ENOMEM;
	}
	tv.tv_sec = e->cfg->dns_timeout_ms / 1000;
	tv.tv_usec = (e->cfg->dns_timeout_ms % 1000) * 1000;
	evtimer_add(q->timer, &tv);
	rc = ub_resolve_event(e->ub, name, type, 1, q, dns_ub_cb, &q->async_id);
	if (rc != 0) {
		/* Not started: report it as an unanswered lookup, from the loop. */
		q->answered = 1;
		d->done = 0;
		snprintf(d->why_bogus, sizeof(d->why_bogus), "resolver: %s", ub_strerror(rc));
		evtimer_del(q->timer);
		tv.tv_sec = 0;
		tv.tv_usec = 0;
		evtimer_add(q->timer, &tv);
	}
	return 0;
}
