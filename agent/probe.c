/*
 * probe — orchestration of one domain's probe (see probe.h).
 *
 * Trust rules: an answer that validates as bogus is never used (its
 * addresses are not contacted; dnssec-invalid); SERVFAIL or a timeout is
 * "temporary", never "no MX" or "no address".  Every asynchronous step
 * holds one count in p->pending; the probe completes when it drops to 0.
 * SMTP sessions go through the engine's share table (addr_share.h), so an
 * address's session may wait for its caps, or be another domain's, copied.
 */
#include "probe.h"
#include "addr_share.h"
#include "dns_wire.h"
#include "probe_dane.h"
#include "probe_dns.h"
#include "probe_mtasts.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct probe {
	struct mxs_engine *e;
	struct mxs_result *r;
	mxs_probe_fn fn;
	void *arg;
	int pending;
	uint64_t t0;
	struct event *done_ev; /* deferred completion, so fn always runs from the loop */
};

/*
 * Per-host context: its A and AAAA lookups, then its TLSA lookup, then one
 * session per address.  It owns the loaded TLSA RRset, which the sessions
 * borrow, and lives until the last session is done.
 */
struct host_ctx {
	struct probe *p;
	struct mxs_host *h;
	int waiting;  /* address lookups outstanding */
	int sessions; /* sessions outstanding */
	int dane_loaded;
	struct mxs_dane_rrset dane;
};

static void
probe_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct mxs_result *r = p->r;

	mxs_mtasts_coverage(r);
	r->elapsed_ms = (uint32_t)(mxs_now_ms() - p->t0);
	event_free(p->done_ev);
	p->fn(r, p->arg);
	free(p);
}

static void
probe_release(struct probe *p)
{
	struct timeval now = {0, 0};

	if (--p->pending == 0)
		evtimer_add(p->done_ev, &now);
}

static const char *
rcode_name(int rcode)
{
	switch (rcode) {
	case 0:
		return "NOERROR";
	case 2:
		return "SERVFAIL";
	case 3:
		return "NXDOMAIN";
	case 5:
		return "REFUSED";
	case -1:
		return "no answer";
	}
	return "error";
}

static void
step_done(void *arg)
{
	probe_release(arg);
}

static void
host_ctx_release(struct host_ctx *hc)
{
	if (--hc->sessions > 0)
		return;
	mxs_dane_rrset_free(&hc->dane);
	free(hc);
}

static void
session_done(void *arg)
{
	struct host_ctx *hc = arg;
	struct probe *p = hc->p;

	host_ctx_release(hc);
	probe_release(p);
}

/* DANE applies to an address only when its own A or AAAA RRset is secure. */
static const struct mxs_dane_rrset *
dane_for(const struct host_ctx *hc, const struct mxs_addr *a)
{
	const struct mxs_dns *d = a->family == AF_INET ? &hc->h->a : &hc->h->aaaa;

	return hc->dane_loaded && d->sec == MXS_SEC_SECURE ? &hc->dane : NULL;
}

static void
start_sessions(struct host_ctx *hc)
{
	struct probe *p = hc->p;
	struct mxs_host *h = hc->h;

	hc->sessions = 1; /* held until every session has started */
	for (size_t i = 0; i < h->naddrs; i++) {
		struct mxs_addr *a = h->addrs[i];
		hc->sessions++;
		p->pending++;
		/* One session per (host, address) per window, under the
		 * address's caps: a may be filled from another domain's. */
		if (mxs_share_request(p->e->share, a, h->name, dane_for(hc, a), session_done, hc) !=
		    0) {
			mxs_verdict_set(&a->connect, MXS_ST_NOT_TESTED, MXS_RT_NONE,
			                "could not start the session");
			hc->sessions--;
			p->pending--;
		}
	}
	host_ctx_release(hc);
}

static void
tlsa_cb(void *arg, struct mxs_dns *d, const struct mxs_dns_msg *msg)
{
	struct host_ctx *hc = arg;
	struct probe *p = hc->p;

	mxs_probe_dane_load(hc->h, d, msg, &hc->dane);
	hc->dane_loaded = 1;
	start_sessions(hc);
	probe_release(p);
}

/*
 * Addresses are in: look up TLSA first when any address family's records
 * are secure (RFC 7672 §2.2.2: A/AAAA before TLSA, and only when secure),
 * then start the sessions.
 */
static void
host_addresses_done(struct host_ctx *hc)
{
	struct probe *p = hc->p;
	struct mxs_host *h = hc->h;
	int secure = 0;
	char qname[300];

	for (size_t i = 0; i < h->naddrs; i++)
		if ((h->addrs[i]->family == AF_INET ? h->a.sec : h->aaaa.sec) == MXS_SEC_SECURE)
			secure = 1;
	if (!secure) {
		snprintf(h->dane_state, sizeof(h->dane_state), "%s", "not-applicable");
		snprintf(h->dane_reason, sizeof(h->dane_reason), "%s",
		         "address records not DNSSEC-secure: no TLSA lookup, DANE does not apply");
		start_sessions(hc);
		return;
	}
	snprintf(qname, sizeof(qname), "_25._tcp.%s", h->name);
	h->tlsa_asked = 1;
	p->pending++;
	if (mxs_dns_lookup(p->e, qname, MXS_DNS_T_TLSA, &h->tlsa, tlsa_cb, hc) != 0) {
		p->pending--;
		h->tlsa_asked = 0;
		snprintf(h->dane_state, sizeof(h->dane_state), "%s", "temporary");
		snprintf(h->dane_reason, sizeof(h->dane_reason), "%s", "TLSA lookup not started");
		start_sessions(hc);
	}
}

/* Record the addresses of one answer on the host (probed later). */
static void
collect_addresses(struct mxs_host *h, const struct mxs_dns *d, const struct mxs_dns_msg *msg,
                  uint16_t type)
{
	const struct mxs_rr *rrs[MXS_ADDR_MAX];
	char final[MXS_DNS_TEXT_MAX], text[64];
	struct mxs_addr *a;
	size_t n = 0;
	int af = type == MXS_DNS_T_A ? AF_INET : AF_INET6;

	if (msg == NULL || d->sec == MXS_SEC_BOGUS || d->rcode != 0)
		return;
	if (mxs_dns_select(msg, h->name, type, rrs, MXS_ADDR_MAX, &n, final, sizeof(final)) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (inet_ntop(af, rrs[i]->addr, text, sizeof(text)) == NULL)
			continue;
		if (mxs_host_add_addr(h, text, af, &a) != 0)
			break;
	}
}

/* Both address lookups of a host are in: judge them, then probe. */
static void
host_judge(struct probe *p, struct mxs_host *h)
{
	const struct mxs_dns *fam[2] = {&h->a, &h->aaaa};
	const int asked[2] = {p->e->cfg->ipv4, p->e->cfg->ipv6};
	int bogus = 0, temp = 0;

	for (int i = 0; i < 2; i++) {
		if (!asked[i])
			continue;
		if (fam[i]->sec == MXS_SEC_BOGUS)
			bogus = 1;
		else if (!fam[i]->done || fam[i]->rcode == 2)
			temp = 1;
	}
	if (bogus)
		mxs_verdict_set(&h->dns, MXS_ST_FAIL, MXS_RT_DNSSEC_INVALID,
		                "address records are bogus: %s",
		                h->a.sec == MXS_SEC_BOGUS ? h->a.why_bogus : h->aaaa.why_bogus);
	else if (h->naddrs == 0 && temp)
		mxs_verdict_set(&h->dns, MXS_ST_TEMPORARY, MXS_RT_NONE,
		                "address lookup failed (A %s, AAAA %s)", rcode_name(h->a.rcode),
		                rcode_name(h->aaaa.rcode));
	else if (h->naddrs == 0) {
		mxs_verdict_set(&h->dns, MXS_ST_FAIL, MXS_RT_NONE,
		                "MX host has no A or AAAA records (A %s, AAAA %s)",
		                rcode_name(h->a.rcode), rcode_name(h->aaaa.rcode));
		if (h->preference == -1) { /* implicit MX without an address */
			p->r->mx.kind = MXS_MX_NONE;
			mxs_verdict_set(&p->r->mx.verdict, MXS_ST_FAIL, MXS_RT_NONE,
			                "no MX records and no A/AAAA: the domain accepts no mail");
		}
	} else
		mxs_verdict_set(&h->dns, MXS_ST_OK, MXS_RT_NONE, "%zu address%s", h->naddrs,
		                h->naddrs == 1 ? "" : "es");
}

static void
host_lookups_done(struct host_ctx *hc)
{
	host_judge(hc->p, hc->h);
	if (hc->h->naddrs == 0) {
		free(hc);
		return;
	}
	host_addresses_done(hc);
}

static void
addr_cb(void *arg, struct mxs_dns *d, const struct mxs_dns_msg *msg)
{
	struct host_ctx *hc = arg;
	struct probe *p = hc->p;

	collect_addresses(hc->h, d, msg, d == &hc->h->a ? MXS_DNS_T_A : MXS_DNS_T_AAAA);
	if (--hc->waiting == 0)
		host_lookups_done(hc);
	probe_release(p);
}

static void
host_start(struct probe *p, struct mxs_host *h)
{
	struct host_ctx *hc = calloc(1, sizeof(*hc));
	const struct mxs_agent_config *c = p->e->cfg;

	if (hc == NULL) {
		mxs_verdict_set(&h->dns, MXS_ST_NOT_TESTED, MXS_RT_NONE, "out of memory");
		return;
	}
	hc->p = p;
	hc->h = h;
	/* Count both before starting either: a callback may not free hc early. */
	hc->waiting = (c->ipv4 ? 1 : 0) + (c->ipv6 ? 1 : 0) + 1;
	if (c->ipv4) {
		p->pending++;
		if (mxs_dns_lookup(p->e, h->name, MXS_DNS_T_A, &h->a, addr_cb, hc) != 0) {
			p->pending--;
			hc->waiting--;
		}
	}
	if (c->ipv6) {
		p->pending++;
		if (mxs_dns_lookup(p->e, h->name, MXS_DNS_T_AAAA, &h->aaaa, addr_cb, hc) != 0) {
			p->pending--;
			hc->waiting--;
		}
	}
	if (--hc->waiting == 0)
		host_lookups_done(hc);
}

static int
mx_cmp(const void *x, const void *y)
{
	const struct mxs_rr *a = *(const struct mxs_rr *const *)x;
	const struct mxs_rr *b = *(const struct mxs_rr *const *)y;

	if (a->mx_pref != b->mx_pref)
		return a->mx_pref < b->mx_pref ? -1 : 1;
	return strcmp(a->target, b->target);
}

/* NOERROR with MX records: sort by preference, handle null MX, add hosts. */
static void
mx_records(struct probe *p, const struct mxs_rr **rrs, size_t n)
{
	struct mxs_result *r = p->r;
	struct mxs_host *h;
	size_t nulls = 0, hosts = 0;

	qsort(rrs, n, sizeof(*rrs), mx_cmp);
	for (size_t i = 0; i < n; i++)
		if (rrs[i]->target[0] == '\0')
			nulls++;
	if (nulls > 0 && nulls == n) {
		r->mx.kind = MXS_MX_NULL;
		mxs_verdict_set(&r->mx.verdict, MXS_ST_OK, MXS_RT_NONE,
		                "null MX (RFC 7505): the domain accepts no mail");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (rrs[i]->target[0] == '\0')
			continue;
		if (i > 0 && strcmp(rrs[i]->target, rrs[i - 1]->target) == 0)
			continue;
		if (mxs_result_add_host(r, rrs[i]->target, rrs[i]->mx_pref, &h) != 0)
			break;
		hosts++;
	}
	r->mx.kind = MXS_MX_RECORDS;
	mxs_verdict_set(&r->mx.verdict, MXS_ST_OK, MXS_RT_NONE, "%zu MX host%s%s", hosts,
	                hosts == 1 ? "" : "s",
	                nulls ? "; a null MX mixed with other MX records is ignored (RFC 7505 §3)"
	                      : "");
	for (size_t i = 0; i < r->nhosts; i++)
		host_start(p, r->hosts[i]);
}

static void
mx_cb(void *arg, struct mxs_dns *d, const struct mxs_dns_msg *msg)
{
	struct probe *p = arg;
	struct mxs_result *r = p->r;
	const struct mxs_rr *rrs[MXS_MX_MAX];
	char final[MXS_DNS_TEXT_MAX];
	struct mxs_host *h;
	size_t n = 0;

	if (d->sec == MXS_SEC_BOGUS) {
		r->mx.kind = MXS_MX_UNKNOWN;
		mxs_verdict_set(&r->mx.verdict, MXS_ST_FAIL, MXS_RT_DNSSEC_INVALID,
		                "MX answer is bogus, not used: %s", d->why_bogus);
	} else if (!d->done || d->rcode == 2 || (d->rcode == 0 && msg == NULL)) {
		r->mx.kind = MXS_MX_UNKNOWN;
		mxs_verdict_set(&r->mx.verdict, MXS_ST_TEMPORARY, MXS_RT_NONE,
		                "MX lookup failed: %s%s%s", rcode_name(d->rcode),
		                d->why_bogus[0] ? ": " : "", d->why_bogus);
	} else if (d->rcode == 3) {
		r->mx.kind = MXS_MX_NONE;
		mxs_verdict_set(&r->mx.verdict, MXS_ST_FAIL, MXS_RT_NONE,
		                "domain does not exist (NXDOMAIN, DNSSEC %s)",
		                mxs_dnssec_name(d->sec));
	} else if (d->rcode != 0) {
		r->mx.kind = MXS_MX_UNKNOWN;
		mxs_verdict_set(&r->mx.verdict, MXS_ST_TEMPORARY, MXS_RT_NONE,
		                "MX lookup answered %s", rcode_name(d->rcode));
	} else if (mxs_dns_select(msg, r->domain, MXS_DNS_T_MX, rrs, MXS_MX_MAX, &n, final,
	                          sizeof(final)) == 0 &&
	           n > 0) {
		mx_records(p, rrs, n);
	} else if (mxs_result_add_host(r, r->domain, -1, &h) == 0) {
		/* NODATA: RFC 5321 §5.1 implicit MX, the domain's own addresses. */
		r->mx.kind = MXS_MX_IMPLICIT;
		mxs_verdict_set(&r->mx.verdict, MXS_ST_OK, MXS_RT_NONE,
		                "no MX records: the domain itself is the implicit MX");
		host_start(p, h);
	}
	probe_release(p);
}

int
mxs_probe_start(struct mxs_engine *e, const char *domain, mxs_probe_fn fn, void *arg)
{
	struct probe *p;
	int rc;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return MXS_ENOMEM;
	if ((p->r = mxs_result_new(domain)) == NULL ||
	    (p->done_ev = evtimer_new(e->base, probe_done_cb, p)) == NULL) {
		rc = MXS_ENOMEM;
		goto fail;
	}
	p->e = e;
	p->fn = fn;
	p->arg = arg;
	p->t0 = mxs_now_ms();
	p->r->started_ms = mxs_wall_ms();
	p->pending = 1;
	if ((rc = mxs_dns_lookup(e, p->r->domain, MXS_DNS_T_MX, &p->r->mx.dns, mx_cb, p)) != 0)
		goto fail;
	/* From here on p completes through the loop, even if a step fails to start. */
	p->pending++;
	if (mxs_mtasts_probe(e, p->r, step_done, p) != 0) {
		p->pending--;
		mxs_verdict_set(&p->r->sts.txt, MXS_ST_NOT_TESTED, MXS_RT_NONE, "not started");
	}
	p->pending++;
	if (mxs_tlsrpt_probe(e, p->r, step_done, p) != 0) {
		p->pending--;
		mxs_verdict_set(&p->r->tlsrpt.verdict, MXS_ST_NOT_TESTED, MXS_RT_NONE,
		                "not started");
	}
	return 0;
fail:
	if (p->done_ev != NULL)
		event_free(p->done_ev);
	mxs_result_free(&p->r);
	free(p);
	return rc;
}
