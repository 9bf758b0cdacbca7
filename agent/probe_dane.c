/* probe_dane — DANE steps of the probe (see probe_dane.h). */
#include "probe_dane.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
mxs_probe_dane_load(struct mxs_host *h, const struct mxs_dns *d, const struct mxs_dns_msg *msg,
                    struct mxs_dane_rrset *set)
{
	const struct mxs_rr *rrs[MXS_TLSA_RR_MAX];
	struct mxs_dane_dns dd = {.addr_sec = MXS_SEC_SECURE};
	char qname[300], final[MXS_DNS_TEXT_MAX], err[160], text[200];
	size_t n = 0;

	memset(set, 0, sizeof(*set));
	snprintf(qname, sizeof(qname), "_25._tcp.%s", h->name);
	dd.tlsa_done = d->done && (msg != NULL || d->rcode != 0);
	dd.tlsa_rcode = d->rcode;
	dd.tlsa_sec = d->sec;
	if (msg != NULL && d->rcode == 0 &&
	    mxs_dns_select(msg, qname, MXS_DNS_T_TLSA, rrs, MXS_TLSA_RR_MAX, &n, final,
	                   sizeof(final)) != 0)
		dd.tlsa_done = 0; /* a CNAME loop or chain too long: unusable answer */
	if (mxs_dane_load(set, &dd, rrs, n, err, sizeof(err)) != 0) {
		snprintf(h->dane_state, sizeof(h->dane_state), "%s", "temporary");
		snprintf(h->dane_reason, sizeof(h->dane_reason), "TLSA RRset not loaded: %s", err);
		return;
	}
	snprintf(h->dane_state, sizeof(h->dane_state), "%s", mxs_dane_state_name(set->state));
	snprintf(h->dane_reason, sizeof(h->dane_reason), "%s", set->reason);
	h->starttls_required = set->starttls_required;
	for (size_t i = 0; i < set->nrecs; i++) {
		char line[260];
		mxs_tlsa_short(&set->recs[i], text, sizeof(text));
		snprintf(line, sizeof(line), "%s (%s)", text, mxs_tlsa_use_name(set->recs[i].use));
		if (mxs_strv_add(&h->tlsa_records, &h->ntlsa_records, MXS_TLSA_RR_MAX, line) != 0)
			break;
	}
}

void
mxs_probe_dane_judge(const struct mxs_dane_rrset *set, STACK_OF(X509) *chain, const char *host,
                     struct mxs_addr *a)
{
	struct mxs_dane_result *r;

	if (set == NULL) {
		snprintf(a->dane_state, sizeof(a->dane_state), "%s", "not-applicable");
		mxs_verdict_set(&a->dane, MXS_ST_NOT_TESTED, MXS_RT_NONE,
		                "DANE does not apply: address records not DNSSEC-secure");
		return;
	}
	if (chain == NULL && a->tls.status != MXS_ST_FAIL) {
		/* Temporary trouble or no connection: nothing to judge yet. */
		snprintf(a->dane_state, sizeof(a->dane_state), "%s", set->starttls_required
		                                                          ? "pending"
		                                                          : mxs_dane_state_name(set->state));
		mxs_verdict_set(&a->dane, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no TLS session: %s",
		                a->tls.reason);
		return;
	}
	if (chain == NULL && set->starttls_required) {
		/* A downgrade signal: the TLSA RRset makes STARTTLS mandatory. */
		snprintf(a->dane_state, sizeof(a->dane_state), "%s", "tlsa-invalid");
		if (!a->starttls_advertised)
			mxs_verdict_set(&a->dane, MXS_ST_FAIL, MXS_RT_STARTTLS_NOT_SUPPORTED,
			                "secure TLSA RRset published but STARTTLS not offered: "
			                "STARTTLS is mandatory for this MX (RFC 7672 §2.2.3)");
		else
			mxs_verdict_set(&a->dane, MXS_ST_FAIL, MXS_RT_VALIDATION_FAILURE,
			                "secure TLSA RRset published but the TLS handshake failed: %s",
			                a->tls.reason);
		return;
	}
	/* About 2.5 KiB: on the heap, not the loop's stack. */
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    mxs_dane_check(set, chain, host, NULL, time(NULL), r) != 0) {
		snprintf(a->dane_state, sizeof(a->dane_state), "%s", "temporary");
		mxs_verdict_set(&a->dane, MXS_ST_NOT_TESTED, MXS_RT_NONE,
		                "DANE check could not run (out of memory)");
		free(r);
		return;
	}
	a->dane = r->verdict;
	snprintf(a->dane_state, sizeof(a->dane_state), "%s", mxs_dane_state_name(r->state));
	if (r->record >= 0 && (size_t)r->record < set->nrecs)
		mxs_tlsa_short(&set->recs[r->record], a->dane_record, sizeof(a->dane_record));
	a->dane_depth = r->depth;
	a->dane_rollover_ready = r->rollover_ready;
	a->dane_matched = (uint32_t)r->nmatched;
	a->dane_unmatched = (uint32_t)r->nunmatched;
	free(r);
}
