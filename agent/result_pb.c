/* result_pb — mxs_result to mxs.ProbeResult (see result_pb.h). */
#include "result_pb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "mxs_limits.h"
#include "mxsentry.pb-c.h"
#include "wire.h"

/* protobuf-c's message structs hold non-const pointers, but packing only
 * reads them: the tree borrows r's strings and arrays through this cast. */
#define BORROW(type, p) ((type)(uintptr_t)(p))

/*
 * The message tree is built on the stack and in one scratch list of heap
 * blocks (pb_alloc), all freed together once packed: nothing in it
 * outlives mxs_result_pack.
 */
struct pb_arena {
	void **blocks;
	size_t n, cap;
	int failed;
};

static void *
pb_alloc(struct pb_arena *a, size_t size)
{
	void *p;

	if (a->failed)
		return NULL;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		void **b = realloc(a->blocks, cap * sizeof(*b));
		if (b == NULL) {
			a->failed = 1;
			return NULL;
		}
		a->blocks = b;
		a->cap = cap;
	}
	if ((p = calloc(1, size ? size : 1)) == NULL) {
		a->failed = 1;
		return NULL;
	}
	a->blocks[a->n++] = p;
	return p;
}

static void
pb_arena_free(struct pb_arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->blocks[i]);
	free(a->blocks);
}

static Mxs__Status
pb_status(enum mxs_status st)
{
	switch (st) {
	case MXS_ST_OK:
		return MXS__STATUS__STATUS_OK;
	case MXS_ST_FAIL:
		return MXS__STATUS__STATUS_FAIL;
	case MXS_ST_TEMPORARY:
		return MXS__STATUS__STATUS_TEMPORARY;
	case MXS_ST_NOT_TESTED:
		break;
	}
	return MXS__STATUS__STATUS_NOT_TESTED;
}

/* Strings point into r (borrowed until packed); "" for no result type. */
static Mxs__Verdict *
pb_verdict(struct pb_arena *a, const struct mxs_verdict *v)
{
	Mxs__Verdict *pv = pb_alloc(a, sizeof(*pv));
	const char *rt = mxs_rtype_name(v->rtype);

	if (pv == NULL)
		return NULL;
	mxs__verdict__init(pv);
	pv->has_status = 1;
	pv->status = pb_status(v->status);
	pv->reason = BORROW(char *, v->reason);
	pv->result_type = BORROW(char *, (rt != NULL ? rt : ""));
	return pv;
}

/* A made-up verdict (coverage per host), text copied into the arena. */
static Mxs__Verdict *
pb_verdict_new(struct pb_arena *a, enum mxs_status st, enum mxs_rtype rt, const char *reason)
{
	struct mxs_verdict *v = pb_alloc(a, sizeof(*v));

	if (v == NULL)
		return NULL;
	v->status = st;
	v->rtype = rt;
	snprintf(v->reason, sizeof(v->reason), "%s", reason);
	return pb_verdict(a, v);
}

static Mxs__DnssecState
pb_dnssec(enum mxs_dnssec s)
{
	switch (s) {
	case MXS_SEC_SECURE:
		return MXS__DNSSEC_STATE__DNSSEC_SECURE;
	case MXS_SEC_INSECURE:
		return MXS__DNSSEC_STATE__DNSSEC_INSECURE;
	case MXS_SEC_BOGUS:
		return MXS__DNSSEC_STATE__DNSSEC_BOGUS;
	case MXS_SEC_UNKNOWN:
		break;
	}
	return MXS__DNSSEC_STATE__DNSSEC_UNSPECIFIED;
}

/*
 * This host against the MTA-STS policy, for the per-address row on-call
 * reads: not-tested without a policy in force; the policy's own failure
 * when it could not be had; covered or not.
 */
static Mxs__Verdict *
pb_sts_coverage(struct pb_arena *a, const struct mxs_result *r, const struct mxs_host *h)
{
	const struct mxs_sts *s = &r->sts;
	char why[MXS_REASON_MAX];

	if (s->txt.status == MXS_ST_NOT_TESTED)
		return pb_verdict_new(a, MXS_ST_NOT_TESTED, MXS_RT_NONE, "MTA-STS not used");
	if (s->txt.status != MXS_ST_OK)
		return pb_verdict(a, &s->txt);
	if (s->fetch.status != MXS_ST_OK)
		return pb_verdict(a, &s->fetch);
	if (s->policy.status != MXS_ST_OK)
		return pb_verdict(a, &s->policy);
	if (strcmp(s->mode, "none") == 0)
		return pb_verdict_new(a, MXS_ST_NOT_TESTED, MXS_RT_NONE, "policy mode none");
	if (h->sts_covered == 1) {
		snprintf(why, sizeof(why), "matches policy mx %.200s (mode %s)", h->sts_pattern,
		         s->mode);
		return pb_verdict_new(a, MXS_ST_OK, MXS_RT_NONE, why);
	}
	snprintf(why, sizeof(why), "not matched by any mx pattern of the %s policy", s->mode);
	return pb_verdict_new(a, MXS_ST_FAIL, MXS_RT_VALIDATION_FAILURE, why);
}

static int
pb_addr(struct pb_arena *a, const struct mxs_result *r, const struct mxs_host *h,
        const struct mxs_addr *ad, Mxs__AddressResult *pa)
{
	mxs__address_result__init(pa);
	pa->mx_host = BORROW(char *, h->name);
	pa->has_preference = h->preference >= 0;
	pa->preference = h->preference >= 0 ? (uint32_t)h->preference : 0;
	pa->tlsa_records = BORROW(char **, h->tlsa_records);
	pa->n_tlsa_records = h->ntlsa_records;
	pa->sts_coverage = pb_sts_coverage(a, r, h);
	if (ad == NULL) { /* a host with no address to probe: its DNS verdict */
		pa->address = BORROW(char *, "");
		pa->connect = pb_verdict(a, &h->dns);
		return a->failed ? MXS_ENOMEM : 0;
	}
	pa->address = BORROW(char *, ad->address);
	pa->connect = pb_verdict(a, &ad->connect);
	pa->smtp = pb_verdict(a, &ad->smtp);
	pa->tls = pb_verdict(a, &ad->tls);
	pa->pkix = pb_verdict(a, &ad->pkix);
	pa->name = pb_verdict(a, &ad->name);
	pa->dane = pb_verdict(a, &ad->dane);
	pa->dane_state = BORROW(char *, ad->dane_state);
	/* Advertised is evidence only once an EHLO reply was read. */
	pa->has_starttls_advertised = ad->ehlo_code != 0;
	pa->starttls_advertised = ad->starttls_advertised != 0;
	pa->ehlo_capabilities = ad->caps;
	pa->n_ehlo_capabilities = ad->ncaps;
	pa->tls_version = BORROW(char *, ad->tls_version);
	pa->tls_cipher = BORROW(char *, ad->tls_cipher);
	if (ad->nchain > 0) {
		pa->has_leaf_sha256 = pa->has_spki_sha256 = 1;
		pa->leaf_sha256.data = BORROW(uint8_t *, ad->chain[0].sha256);
		pa->leaf_sha256.len = sizeof(ad->chain[0].sha256);
		pa->spki_sha256.data = BORROW(uint8_t *, ad->chain[0].spki_sha256);
		pa->spki_sha256.len = sizeof(ad->chain[0].spki_sha256);
		pa->has_days_to_expiry = 1;
		pa->days_to_expiry = ad->days_to_expiry;
	}
	pa->has_elapsed_ms = 1;
	pa->elapsed_ms = ad->elapsed_ms;
	pa->has_shared = 1;
	pa->shared = ad->shared != 0;
	return a->failed ? MXS_ENOMEM : 0;
}

static int
pb_sts(struct pb_arena *a, const struct mxs_sts *s, Mxs__StsResult *ps)
{
	mxs__sts_result__init(ps);
	ps->txt = pb_verdict(a, &s->txt);
	ps->txt_state = BORROW(char *, s->txt_state);
	ps->id = BORROW(char *, s->id);
	ps->fetch = pb_verdict(a, &s->fetch);
	ps->has_http_status = s->http_status > 0;
	ps->http_status = s->http_status > 0 ? (uint32_t)s->http_status : 0;
	if (s->have_body) {
		ps->has_body_sha256 = 1;
		ps->body_sha256.data = BORROW(uint8_t *, s->body_sha256);
		ps->body_sha256.len = sizeof(s->body_sha256);
	}
	ps->policy = pb_verdict(a, &s->policy);
	ps->mode = BORROW(char *, s->mode);
	ps->has_max_age = s->policy.status == MXS_ST_OK;
	ps->max_age = s->max_age;
	ps->mx = s->mx;
	ps->n_mx = s->nmx;
	ps->coverage = pb_verdict(a, &s->coverage);
	ps->has_https_days_to_expiry = s->https_have_cert != 0;
	ps->https_days_to_expiry = s->https_days_to_expiry;
	return a->failed ? MXS_ENOMEM : 0;
}

/* "10 mx1.example.org 20 mx2.example.org": preference order, as probed. */
static char *
pb_mx_set(struct pb_arena *a, const struct mxs_result *r)
{
	char *s = pb_alloc(a, r->nhosts * 268 + 1);
	size_t used = 0;

	for (size_t i = 0; s != NULL && i < r->nhosts; i++)
		used += (size_t)snprintf(s + used, 268, "%s%d %.253s", i ? " " : "",
		                         r->hosts[i]->preference, r->hosts[i]->name);
	return s;
}

int
mxs_result_pack(const struct mxs_result *r, uint8_t **out, size_t *outlen)
{
	Mxs__ProbeResult pr = MXS__PROBE_RESULT__INIT;
	Mxs__StsResult sts;
	Mxs__TlsrptResult rpt = MXS__TLSRPT_RESULT__INIT;
	struct pb_arena a = {0};
	uint8_t id[MXS_WIRE_RESULT_ID];
	size_t naddr = 0, k = 0, len;
	int rc = MXS_ENOMEM;

	*out = NULL;
	*outlen = 0;
	if (RAND_bytes(id, sizeof(id)) != 1)
		return MXS_ETLS;
	pr.has_id = 1;
	pr.id.data = id;
	pr.id.len = sizeof(id);
	pr.domain = BORROW(char *, r->domain);
	pr.has_started_unix_ms = 1;
	pr.started_unix_ms = r->started_ms;
	pr.has_mx_dnssec = 1;
	pr.mx_dnssec = pb_dnssec(r->mx.dns.sec);
	pr.mx = pb_verdict(&a, &r->mx.verdict);
	pr.mx_kind = BORROW(char *, mxs_mx_kind_name(r->mx.kind));
	pr.mx_set = pb_mx_set(&a, r);
	pr.has_elapsed_ms = 1;
	pr.elapsed_ms = r->elapsed_ms;
	for (size_t i = 0; i < r->nhosts; i++)
		naddr += r->hosts[i]->naddrs ? r->hosts[i]->naddrs : 1;
	pr.addresses = pb_alloc(&a, naddr * sizeof(*pr.addresses));
	for (size_t i = 0; pr.addresses != NULL && i < r->nhosts; i++) {
		const struct mxs_host *h = r->hosts[i];
		for (size_t j = 0; j < (h->naddrs ? h->naddrs : 1); j++) {
			Mxs__AddressResult *pa = pb_alloc(&a, sizeof(*pa));
			if (pa == NULL ||
			    pb_addr(&a, r, h, h->naddrs ? h->addrs[j] : NULL, pa) != 0)
				goto out;
			pr.addresses[k++] = pa;
		}
	}
	pr.n_addresses = k;
	if (pb_sts(&a, &r->sts, &sts) != 0)
		goto out;
	pr.sts = &sts;
	rpt.verdict = pb_verdict(&a, &r->tlsrpt.verdict);
	rpt.state = BORROW(char *, r->tlsrpt.state);
	rpt.rua = r->tlsrpt.rua;
	rpt.n_rua = r->tlsrpt.nrua;
	pr.tlsrpt = &rpt;
	if (a.failed || pr.mx_set == NULL)
		goto out;
	if ((len = mxs__probe_result__get_packed_size(&pr)) > MXS_WIRE_MSG_MAX) {
		rc = MXS_ELIMIT;
		goto out;
	}
	if ((*out = malloc(len ? len : 1)) == NULL)
		goto out;
	*outlen = mxs__probe_result__pack(&pr, *out);
	rc = MXS_OK;
out:
	pb_arena_free(&a);
	return rc;
}
