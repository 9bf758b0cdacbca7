/*
 * probe_mtasts — MTA-STS and TLS-RPT steps of a probe (see probe_mtasts.h).
 *
 * Sequence for MTA-STS: TXT at _mta-sts.D (CNAMEs followed by the
 * resolver, the RRset judged by mtasts_txt); only with exactly one valid
 * record, A and AAAA of mta-sts.D, then the HTTPS fetch (fetch.c: HTTPS
 * only, no redirects, 64 KiB streamed limit, our own PKIX and name check
 * before any byte is accepted), then the media type and the policy body
 * (mtasts_policy).  RFC 8460 result-types: an invalid certificate is
 * sts-webpki-invalid, any other fetch failure sts-policy-fetch-error, a bad
 * media type or body sts-policy-invalid.  A TXT problem carries none:
 * senders then see "no policy", which is not a reportable failure.
 */
#include "probe_mtasts.h"
#include "fetch.h"
#include "mtasts_policy.h"
#include "mtasts_txt.h"
#include "probe_dns.h"
#include "tlsrpt_record.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct sts_step {
	struct mxs_engine *e;
	struct mxs_result *r;
	mxs_step_fn fn;
	void *arg;
	int waiting;                   /* address lookups outstanding */
	char addrs[2 * MXS_ADDR_MAX][46];
	size_t naddrs;
};

static void
step_done(struct sts_step *st)
{
	mxs_step_fn fn = st->fn;
	void *arg = st->arg;

	free(st);
	fn(arg);
}

/* Turn a TXT lookup into the judge's input; *txt is owned by the caller. */
static void
txt_answer(const struct mxs_dns *d, const struct mxs_dns_msg *msg, const char *qname,
           struct mxs_txt_answer *a, struct mxs_txt_str **txt)
{
	char err[128];
	size_t n = 0;

	memset(a, 0, sizeof(*a));
	*txt = NULL;
	a->answered = d->done && (msg != NULL || d->rcode != 0);
	a->rcode = d->rcode;
	a->bogus = d->sec == MXS_SEC_BOGUS;
	if (msg != NULL && d->rcode == 0 && !a->bogus) {
		if (mxs_txt_rrset_join(msg, qname, txt, &n, err, sizeof(err)) != 0)
			a->answered = 0;
		a->txt = *txt;
		a->ntxt = n;
	}
}

/* No record at all is not a failure: the domain simply does not use it. */
static enum mxs_status
txt_status(enum mxs_txt_verdict v)
{
	switch (v) {
	case MXS_TXT_VALID:
		return MXS_ST_OK;
	case MXS_TXT_NONE:
		return MXS_ST_NOT_TESTED;
	case MXS_TXT_TEMPORARY:
		return MXS_ST_TEMPORARY;
	default:
		return MXS_ST_FAIL;
	}
}

static void
sts_policy(struct mxs_sts *s, const struct mxs_fetch_res *res)
{
	struct mxs_sts_policy *p = NULL;
	char err[MXS_REASON_MAX];

	if (mxs_sts_media_type_check(res->content_type[0] ? res->content_type : NULL, err,
	                             sizeof(err)) != 0) {
		mxs_verdict_set(&s->policy, MXS_ST_FAIL, MXS_RT_STS_POLICY_INVALID,
		                "media type: %s", err);
		return;
	}
	if (mxs_sts_policy_parse((const char *)res->body, res->body_len, &p, err, sizeof(err)) !=
	    0) {
		mxs_verdict_set(&s->policy, MXS_ST_FAIL, MXS_RT_STS_POLICY_INVALID, "%s", err);
		return;
	}
	snprintf(s->mode, sizeof(s->mode), "%s", mxs_sts_mode_name(p->mode));
	s->max_age = p->max_age;
	for (size_t i = 0; i < p->nmx; i++)
		if (mxs_strv_add(&s->mx, &s->nmx, MXS_STS_MX_MAX, p->mx[i]) != 0)
			break;
	mxs_verdict_set(&s->policy, MXS_ST_OK, MXS_RT_NONE,
	                "mode %s, max_age %u, %zu mx pattern%s%s", s->mode, p->max_age, p->nmx,
	                p->nmx == 1 ? "" : "s",
	                p->dup_ignored ? " (duplicate fields ignored, first wins)" : "");
	mxs_sts_policy_free(&p);
}

static void
fetch_cb(void *arg, struct mxs_fetch_res *res)
{
	struct sts_step *st = arg;
	struct mxs_sts *s = &st->r->sts;

	s->http_status = (int)res->status;
	snprintf(s->content_type, sizeof(s->content_type), "%s", res->content_type);
	snprintf(s->location, sizeof(s->location), "%s", res->location);
	snprintf(s->https_tls_version, sizeof(s->https_tls_version), "%s", res->tls_version);
	s->body_len = res->body_len;
	if (res->body_complete) {
		memcpy(s->body_sha256, res->body_sha256, sizeof(s->body_sha256));
		s->have_body = 1;
	}
	if (res->cert.judged) {
		s->https_have_cert = 1;
		s->https_pkix = res->cert.pkix;
		s->https_name = res->cert.name;
		s->https_days_to_expiry = res->cert.days_to_expiry;
		if (res->cert.nchain > 0)
			memcpy(s->https_leaf_sha256, res->cert.chain[0].sha256, 32);
	}
	switch (res->fail) {
	case MXS_FETCH_OK:
		mxs_verdict_set(&s->fetch, MXS_ST_OK, MXS_RT_NONE, "HTTP 200, %zu bytes",
		                res->body_len);
		sts_policy(s, res);
		break;
	case MXS_FETCH_CERT:
		mxs_verdict_set(&s->fetch, MXS_ST_FAIL, MXS_RT_STS_WEBPKI_INVALID, "%s",
		                res->reason);
		break;
	default:
		mxs_verdict_set(&s->fetch, MXS_ST_FAIL, MXS_RT_STS_POLICY_FETCH_ERROR, "%s",
		                res->reason);
		break;
	}
	if (s->policy.reason[0] == '\0')
		mxs_verdict_set(&s->policy, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no policy fetched");
	step_done(st);
}

static void
sts_fetch(struct sts_step *st)
{
	struct mxs_sts *s = &st->r->sts;
	const char *addrs[2 * MXS_ADDR_MAX];
	struct mxs_fetch_req req = {0};
	char url[400];
	int rc;

	if (st->naddrs == 0) {
		int temp = (!s->host_a.done || s->host_a.rcode == 2 ||
		            s->host_a.sec == MXS_SEC_BOGUS) &&
		           (!s->host_aaaa.done || s->host_aaaa.rcode == 2 ||
		            s->host_aaaa.sec == MXS_SEC_BOGUS);
		mxs_verdict_set(&s->fetch, temp ? MXS_ST_TEMPORARY : MXS_ST_FAIL,
		                MXS_RT_STS_POLICY_FETCH_ERROR,
		                "policy host mta-sts.%s has no usable address%s", st->r->domain,
		                temp ? " (lookup failed)" : "");
		mxs_verdict_set(&s->policy, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no policy fetched");
		step_done(st);
		return;
	}
	for (size_t i = 0; i < st->naddrs; i++)
		addrs[i] = st->addrs[i];
	snprintf(url, sizeof(url), "https://mta-sts.%s/.well-known/mta-sts.txt", st->r->domain);
	req.url = url;
	req.addrs = addrs;
	req.naddrs = st->naddrs;
	req.connect_timeout_ms = st->e->cfg->connect_timeout_ms;
	req.timeout_ms = st->e->cfg->policy_timeout_ms;
	if (req.connect_timeout_ms > req.timeout_ms)
		req.connect_timeout_ms = req.timeout_ms;
	if ((rc = mxs_fetch_start(st->e->fetch, &req, fetch_cb, st)) != 0) {
		mxs_verdict_set(&s->fetch, MXS_ST_FAIL, MXS_RT_STS_POLICY_FETCH_ERROR,
		                "fetch not started: %s", mxs_strerror(rc));
		mxs_verdict_set(&s->policy, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no policy fetched");
		step_done(st);
	}
}

static void
host_addr_cb(void *arg, struct mxs_dns *d, const struct mxs_dns_msg *msg)
{
	struct sts_step *st = arg;
	const struct mxs_rr *rrs[MXS_ADDR_MAX];
	char host[300], final[MXS_DNS_TEXT_MAX];
	int v6 = d == &st->r->sts.host_aaaa;
	size_t n = 0;

	snprintf(host, sizeof(host), "mta-sts.%s", st->r->domain);
	if (msg != NULL && d->rcode == 0 && d->sec != MXS_SEC_BOGUS &&
	    mxs_dns_select(msg, host, v6 ? MXS_DNS_T_AAAA : MXS_DNS_T_A, rrs, MXS_ADDR_MAX, &n,
	                   final, sizeof(final)) == 0) {
		for (size_t i = 0; i < n && st->naddrs < 2 * MXS_ADDR_MAX; i++)
			if (inet_ntop(v6 ? AF_INET6 : AF_INET, rrs[i]->addr,
			              st->addrs[st->naddrs], sizeof(st->addrs[0])) != NULL)
				st->naddrs++;
	}
	if (--st->waiting == 0)
		sts_fetch(st);
}

static void
sts_txt_cb(void *arg, struct mxs_dns *d, const struct mxs_dns_msg *msg)
{
	struct sts_step *st = arg;
	struct mxs_sts *s = &st->r->sts;
	struct mxs_mtasts_txt_result *res;
	struct mxs_txt_answer a;
	struct mxs_txt_str *txt;
	char qname[300], host[300];

	snprintf(qname, sizeof(qname), "_mta-sts.%s", st->r->domain);
	txt_answer(d, msg, qname, &a, &txt);
	if ((res = calloc(1, sizeof(*res))) == NULL) {
		mxs_txt_rrset_free(&txt);
		mxs_verdict_set(&s->txt, MXS_ST_NOT_TESTED, MXS_RT_NONE, "out of memory");
		step_done(st);
		return;
	}
	mxs_mtasts_txt_judge(&a, res);
	mxs_txt_rrset_free(&txt);
	snprintf(s->txt_state, sizeof(s->txt_state), "%s", mxs_txt_verdict_name(res->verdict));
	mxs_verdict_set(&s->txt, txt_status(res->verdict), MXS_RT_NONE, "%s", res->reason);
	if (res->verdict != MXS_TXT_VALID) {
		free(res);
		mxs_verdict_set(&s->fetch, MXS_ST_NOT_TESTED, MXS_RT_NONE,
		                "no valid _mta-sts record: no policy is fetched");
		mxs_verdict_set(&s->policy, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no policy fetched");
		step_done(st);
		return;
	}
	snprintf(s->id, sizeof(s->id), "%s", res->rec.id);
	free(res);
	snprintf(host, sizeof(host), "mta-sts.%s", st->r->domain);
	st->waiting = 2;
	if (mxs_dns_lookup(st->e, host, MXS_DNS_T_A, &s->host_a, host_addr_cb, st) != 0)
		st->waiting--;
	if (mxs_dns_lookup(st->e, host, MXS_DNS_T_AAAA, &s->host_aaaa, host_addr_cb, st) != 0)
		st->waiting--;
	if (st->waiting == 0)
		sts_fetch(st);
}

/* Start a step: one TXT lookup of prefix.DOMAIN into d, answered by cb. */
static int
step_start(struct mxs_engine *e, struct mxs_result *r, const char *prefix, struct mxs_dns *d,
           mxs_dns_fn cb, mxs_step_fn fn, void *arg)
{
	struct sts_step *st;
	char qname[300];
	int rc;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return MXS_ENOMEM;
	st->e = e;
	st->r = r;
	st->fn = fn;
	st->arg = arg;
	snprintf(qname, sizeof(qname), "%s.%s", prefix, r->domain);
	if ((rc = mxs_dns_lookup(e, qname, MXS_DNS_T_TXT, d, cb, st)) != 0)
		free(st);
	return rc;
}

int
mxs_mtasts_probe(struct mxs_engine *e, struct mxs_result *r, mxs_step_fn fn, void *arg)
{
	mxs_verdict_set(&r->sts.coverage, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no policy");
	return step_start(e, r, "_mta-sts", &r->sts.txt_dns, sts_txt_cb, fn, arg);
}

static void
tlsrpt_cb(void *arg, struct mxs_dns *d, const struct mxs_dns_msg *msg)
{
	struct sts_step *st = arg;
	struct mxs_tlsrpt *t = &st->r->tlsrpt;
	struct mxs_tlsrpt_result *res;
	struct mxs_txt_answer a;
	struct mxs_txt_str *txt;
	char qname[300];

	snprintf(qname, sizeof(qname), "_smtp._tls.%s", st->r->domain);
	txt_answer(d, msg, qname, &a, &txt);
	if ((res = calloc(1, sizeof(*res))) != NULL) {
		mxs_tlsrpt_record_judge(&a, res);
		snprintf(t->state, sizeof(t->state), "%s", mxs_txt_verdict_name(res->verdict));
		mxs_verdict_set(&t->verdict, txt_status(res->verdict), MXS_RT_NONE, "%s",
		                res->reason);
		if (res->verdict == MXS_TXT_VALID) {
			for (size_t i = 0; i < res->rec.nrua; i++)
				if (mxs_strv_add(&t->rua, &t->nrua, MXS_TLSRPT_RUA_MAX,
				                 res->rec.rua[i].uri) != 0)
					break;
			t->rua_repeated = res->rec.rua_repeated > 0;
		}
		free(res);
	} else
		mxs_verdict_set(&t->verdict, MXS_ST_NOT_TESTED, MXS_RT_NONE, "out of memory");
	mxs_txt_rrset_free(&txt);
	step_done(st);
}

int
mxs_tlsrpt_probe(struct mxs_engine *e, struct mxs_result *r, mxs_step_fn fn, void *arg)
{
	return step_start(e, r, "_smtp._tls", &r->tlsrpt.dns, tlsrpt_cb, fn, arg);
}

/* Append "name" to a comma list in buf, marking truncation with "...". */
static void
list_add(char *buf, size_t len, const char *name)
{
	size_t used = strlen(buf);

	if (used + strlen(name) + 3 >= len) {
		if (used + 4 < len && (used < 3 || strcmp(buf + used - 3, "...") != 0))
			snprintf(buf + used, len - used, "%s", "...");
		return;
	}
	snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
}

void
mxs_mtasts_coverage(struct mxs_result *r)
{
	struct mxs_sts *s = &r->sts;
	struct mxs_sts_policy p = {0};
	struct mxs_sts_coverage *cov;
	const char *hosts[MXS_MX_MAX];
	char uncovered[160] = "", badcert[160] = "";
	size_t n = 0;

	if (s->policy.status != MXS_ST_OK)
		return;
	if (strcmp(s->mode, "none") == 0) {
		mxs_verdict_set(&s->coverage, MXS_ST_NOT_TESTED, MXS_RT_NONE,
		                "mode none: the domain has no active policy");
		return;
	}
	for (size_t i = 0; i < r->nhosts && n < MXS_MX_MAX; i++)
		hosts[n++] = r->hosts[i]->name;
	p.mx = s->mx;
	p.nmx = s->nmx;
	if ((cov = calloc(1, sizeof(*cov))) == NULL || mxs_sts_coverage(&p, hosts, n, cov) != 0) {
		mxs_verdict_set(&s->coverage, MXS_ST_NOT_TESTED, MXS_RT_NONE,
		                "coverage not computed");
		free(cov);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct mxs_host *h = r->hosts[i];
		int pat = cov->host_pattern[i];

		h->sts_covered = pat >= 0;
		if (pat < 0) {
			list_add(uncovered, sizeof(uncovered), h->name);
			continue;
		}
		snprintf(h->sts_pattern, sizeof(h->sts_pattern), "%s", s->mx[pat]);
		for (size_t j = 0; j < h->naddrs; j++)
			if (h->addrs[j]->name.status == MXS_ST_FAIL) {
				list_add(badcert, sizeof(badcert), h->name);
				break;
			}
	}
	free(cov);
	if (n == 0)
		mxs_verdict_set(&s->coverage, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no live MX host");
	else if (uncovered[0] != '\0')
		mxs_verdict_set(&s->coverage, MXS_ST_FAIL, MXS_RT_NONE,
		                "live MX not matched by any policy mx pattern: %s%s%s", uncovered,
		                badcert[0] ? "; certificate does not name covered MX: " : "",
		                badcert);
	else if (badcert[0] != '\0')
		mxs_verdict_set(&s->coverage, MXS_ST_FAIL, MXS_RT_CERT_HOST_MISMATCH,
		                "every MX matches a pattern, but the certificate does not name: %s",
		                badcert);
	else
		mxs_verdict_set(&s->coverage, MXS_ST_OK, MXS_RT_NONE,
		                "every live MX matches a policy mx pattern");
}
