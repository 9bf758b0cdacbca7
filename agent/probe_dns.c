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
 *
 * At most MXS_DNS_INFLIGHT_MAX lookups are with libunbound at once; more
 * wait, in order, on the engine's queue.  libunbound takes a 16 KiB region
 * for every query it works on, so a thousand domains started together (three
 * lookups each) would otherwise hold ~50 MB of heap for the first round
 * trip, a high-water mark the SMTP sessions do not reuse.  A queued
 * lookup's deadline and its timing (mxs_dns.ms) start when it is handed to
 * libunbound.
 */
#include "probe_dns.h"

#include <stdlib.h>
#include <string.h>

#include <unbound-event.h>
#include <unbound.h>

struct dns_query {
	struct mxs_engine *e;
	struct dns_query *next; /* on e->dns_waitq while queued */
	char *name;             /* owned, while queued */
	uint16_t type;
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
	free(q->name);
	free(q);
}

static void dns_issue(struct dns_query *q, const char *name, uint16_t type);

/* Hand queued lookups to libunbound while there is room. */
static void
dns_pump(struct mxs_engine *e)
{
	struct dns_query *q;

	while (e->dns_inflight < MXS_DNS_INFLIGHT_MAX && (q = e->dns_waitq) != NULL) {
		if ((e->dns_waitq = q->next) == NULL)
			e->dns_waitq_tail = NULL;
		q->next = NULL;
		dns_issue(q, q->name, q->type);
		free(q->name);
		q->name = NULL;
	}
}

/* Smallest TTL of the answer section; 0 when it is empty. */
static uint32_t
dns_min_ttl(const struct mxs_dns_msg *m)
{
	uint32_t ttl = 0;

	for (size_t i = 0; i < m->nans; i++)
		if (i == 0 || m->ans[i].ttl < ttl)
			ttl = m->ans[i].ttl;
	return ttl;
}

static void
dns_deliver(struct dns_query *q)
{
	struct mxs_engine *e;
	struct mxs_dns_msg msg;
	char err[128];
	int have = 0;

	q->d->ms = (uint32_t)(mxs_now_ms() - q->started);
	if (q->pkt != NULL) {
		if (mxs_dns_parse(q->pkt, q->pktlen, &msg, err, sizeof(err)) == 0) {
			have = 1;
			q->d->ttl = dns_min_ttl(&msg);
		} else if (q->d->why_bogus[0] == '\0')
			snprintf(q->d->why_bogus, sizeof(q->d->why_bogus), "unparsable answer: %s",
			         err);
	}
	q->fn(q->arg, q->d, have ? &msg : NULL);
	if (have)
		mxs_dns_msg_free(&msg);
	e = q->e;
	dns_query_free(q);
	/* From the loop, never inside a libunbound callback: an answer from
	 * its cache comes back inside ub_resolve_event. */
	dns_pump(e);
}

/* Deadline passed (still waiting for libunbound) or delivery is due. */
static void
dns_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;

	if (!q->answered) {
		ub_cancel(q->e->ub, q->async_id);
		q->e->dns_inflight--;
		q->d->done = 0;
		q->d->rcode = -1;
		snprintf(q->d->why_bogus, sizeof(q->d->why_bogus), "no answer within %lld ms",
		         q->e->cfg->dns_timeout_ms);
	}
	dns_deliver(q);
}

static void
dns_ub_cb(void *arg, int rcode, void *packet, int packet_len, int sec, char *why_bogus,
          int was_ratelimited)
{
	struct dns_query *q = arg;
	struct timeval now = {0, 0};

	q->answered = 1;
	q->e->dns_inflight--;
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
		/* ttl is set in dns_deliver, from the one parse of the packet. */
		/* The callback's rcode is 0 for any answer (NXDOMAIN included);
		 * the DNS RCODE is in the header, low 4 bits of byte 3. */
		if (rcode == 0)
			q->d->rcode = q->pkt[3] & 0x0f;
	}
	/* Re-arm the deadline timer as an immediate delivery. */
	evtimer_del(q->timer);
	evtimer_add(q->timer, &now);
}

/* Start the deadline and the lookup; a failure to start is delivered from the loop. */
static void
dns_issue(struct dns_query *q, const char *name, uint16_t type)
{
	struct mxs_engine *e = q->e;
	struct timeval tv;
	int rc;

	q->started = mxs_now_ms();
	tv.tv_sec = e->cfg->dns_timeout_ms / 1000;
	tv.tv_usec = (e->cfg->dns_timeout_ms % 1000) * 1000;
	evtimer_add(q->timer, &tv);
	/* Counted first: libunbound may answer (dns_ub_cb) before returning. */
	e->dns_inflight++;
	rc = ub_resolve_event(e->ub, name, type, 1, q, dns_ub_cb, &q->async_id);
	if (rc != 0) {
		/* Not started: report it as an unanswered lookup, from the loop. */
		e->dns_inflight--;
		q->answered = 1;
		q->d->done = 0;
		snprintf(q->d->why_bogus, sizeof(q->d->why_bogus), "resolver: %s", ub_strerror(rc));
		evtimer_del(q->timer);
		tv.tv_sec = 0;
		tv.tv_usec = 0;
		evtimer_add(q->timer, &tv);
	}
}

int
mxs_dns_lookup(struct mxs_engine *e, const char *name, uint16_t type, struct mxs_dns *d,
               mxs_dns_fn fn, void *arg)
{
	struct dns_query *q;

	memset(d, 0, sizeof(*d));
	d->rcode = -1;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return MXS_ENOMEM;
	q->e = e;
	q->d = d;
	q->fn = fn;
	q->arg = arg;
	if ((q->timer = evtimer_new(e->base, dns_timer_cb, q)) == NULL) {
		dns_query_free(q);
		return MXS_ENOMEM;
	}
	if (e->dns_inflight < MXS_DNS_INFLIGHT_MAX && e->dns_waitq == NULL) {
		dns_issue(q, name, type);
		return 0;
	}
	if ((q->name = strdup(name)) == NULL) {
		dns_query_free(q);
		return MXS_ENOMEM;
	}
	q->type = type;
	if (e->dns_waitq_tail != NULL)
		e->dns_waitq_tail->next = q;
	else
		e->dns_waitq = q;
	e->dns_waitq_tail = q;
	return 0;
}

void
mxs_dns_drop_queued(struct mxs_engine *e)
{
	struct dns_query *q;

	while ((q = e->dns_waitq) != NULL) {
		e->dns_waitq = q->next;
		dns_query_free(q);
	}
	e->dns_waitq_tail = NULL;
}
