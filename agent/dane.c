/*
 * dane — judge a presented chain against a loaded TLSA RRset (see dane.h;
 * the records and the RRset are tlsa.c's).
 *
 * The chain came from the SMTP server: nothing is asserted about its
 * content, and every copy into a fixed field is bounded.  OpenSSL errors
 * raised while judging are popped before mxs_dane_check returns
 * (ERR_set_mark / ERR_pop_to_mark).
 *
 * Matching hashes each considered certificate once per selector (DER
 * certificate, DER SubjectPublicKeyInfo) with SHA2-256 and SHA2-512 and
 * compares octets; a DANE-TA chain is verified once per candidate anchor,
 * with X509_verify_cert, a store holding only that anchor, partial chains
 * allowed, purpose sslserver, at the caller's time.  The leaf's names are
 * read by x509_names.c and compared by certname.c.
 */
#include "dane.h"
#include "certname.h"
#include "mxs_log.h"
#include "x509_names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#define WHY_MAX 160 /* a verification failure, inside a reason */

/* ---- matching and verifying ---------------------------------------------- */

/* The association data a certificate offers, per selector. */
struct cert_md {
	unsigned char *der[2]; /* DER certificate, DER SPKI; OpenSSL-allocated */
	size_t derlen[2];
	unsigned char sha256[2][MXS_TLSA_SHA256_LEN];
	unsigned char sha512[2][MXS_TLSA_SHA512_LEN];
};

/* One verification of the chain up to one candidate trust anchor. */
struct ta_try {
	int err;      /* X509_V_OK or the X509_V_ERR_* that stopped it */
	int anchored; /* the chain built from the leaf reached the anchor, above the leaf */
	int depth;    /* the anchor's depth in that chain, or -1 */
	char why[WHY_MAX];
};

struct judge {
	const struct mxs_dane_rrset *set;
	struct mxs_dane_result *r;
	STACK_OF(X509) *chain;
	int n, total; /* certificates considered, presented */
	struct cert_md md[MXS_DANE_CHAIN_MAX];
	STACK_OF(X509) *untrusted; /* chain[1..n), borrowed */
	time_t now;
	const char *refs[2]; /* reference identifiers: host, expanded */
	size_t nrefs;
	int ta_done[MXS_DANE_CHAIN_MAX]; /* presented anchors verified, by depth */
	struct ta_try ta[MXS_DANE_CHAIN_MAX];
	unsigned char from_dns[MXS_TLSA_RR_MAX];
	int fail_rec; /* the first DANE-TA record whose chain failed, or -1 */
	struct ta_try fail;
	char names[WHY_MAX]; /* the leaf's names, or why they do not match */
};

static int
md_fill(X509 *x, struct cert_md *m)
{
	unsigned int mdlen;
	int len;

	for (int s = 0; s < 2; s++) {
		len = s == 0 ? i2d_X509(x, &m->der[s])
		             : i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &m->der[s]);
		if (len <= 0)
			return MXS_ENOMEM;
		m->derlen[s] = (size_t)len;
		if (!EVP_Digest(m->der[s], m->derlen[s], m->sha256[s], &mdlen, EVP_sha256(),
		                NULL) ||
		    mdlen != MXS_TLSA_SHA256_LEN ||
		    !EVP_Digest(m->der[s], m->derlen[s], m->sha512[s], &mdlen, EVP_sha512(),
		                NULL) ||
		    mdlen != MXS_TLSA_SHA512_LEN)
			return MXS_ETLS;
	}
	return 0;
}

/* Whether usable record t matches the certificate digested in m. */
static int
md_match(const struct mxs_tlsa *t, const struct cert_md *m)
{
	const unsigned char *want = m->sha256[t->selector];
	size_t wlen = MXS_TLSA_SHA256_LEN;

	if (t->mtype == MXS_TLSA_FULL) {
		want = m->der[t->selector];
		wlen = m->derlen[t->selector];
	} else if (t->mtype == MXS_TLSA_SHA512) {
		want = m->sha512[t->selector];
		wlen = MXS_TLSA_SHA512_LEN;
	}
	return t->len == wlen && memcmp(t->data, want, wlen) == 0;
}

static void
describe(X509_STORE_CTX *ctx, int err, char *buf, size_t len)
{
	X509 *cur = X509_STORE_CTX_get_current_cert(ctx);
	char subj[96];

	/* Without the subject (out of memory), the sentence is only shorter. */
	(void)mxs_x509_name_text(cur != NULL ? X509_get_subject_name(cur) : NULL, subj,
	                         sizeof(subj));
	snprintf(buf, len, "%s at depth %d%s%s", X509_verify_cert_error_string(err),
	         X509_STORE_CTX_get_error_depth(ctx), subj[0] != '\0' ? ", " : "", subj);
}

/* Verify the leaf up to ta (the only trust anchor) at j->now. */
static int
ta_verify(struct judge *j, X509 *ta, struct ta_try *t)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *built;
	int rc = MXS_ENOMEM, ok;

	memset(t, 0, sizeof(*t));
	t->err = X509_V_ERR_UNSPECIFIED;
	t->depth = -1;
	if ((store = X509_STORE_new()) == NULL || !X509_STORE_add_cert(store, ta) ||
	    (ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, store, sk_X509_value(j->chain, 0), j->untrusted))
		goto out;
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), j->now);
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), X509_V_FLAG_PARTIAL_CHAIN);
	if (!X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER))
		goto out;
	ok = X509_verify_cert(ctx);
	if ((t->err = X509_STORE_CTX_get_error(ctx)) == X509_V_ERR_OUT_OF_MEM)
		goto out;
	if (ok <= 0 && t->err == X509_V_OK)
		t->err = X509_V_ERR_UNSPECIFIED;
	built = X509_STORE_CTX_get0_chain(ctx);
	for (int i = 1; built != NULL && i < sk_X509_num(built); i++)
		if (X509_cmp(sk_X509_value(built, i), ta) == 0)
			t->depth = i;
	t->anchored = t->depth >= 1;
	if (t->err != X509_V_OK)
		describe(ctx, t->err, t->why, sizeof(t->why));
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

static void
note_fail(struct judge *j, size_t i, const struct ta_try *t)
{
	if (j->fail_rec < 0) {
		j->fail_rec = (int)i;
		j->fail = *t;
	}
}

/* A "2 0 0" whose certificate the server did not send: anchor on it. */
static int
ta_from_dns(struct judge *j, size_t i)
{
	const struct mxs_tlsa *t = &j->set->recs[i];
	struct mxs_tlsa_outcome *o = &j->r->recs[i];
	const unsigned char *p = t->data;
	struct ta_try v;
	X509 *x;
	int rc;

	if ((x = d2i_X509(NULL, &p, (long)t->len)) == NULL)
		return 0; /* checked at load; cannot happen */
	rc = ta_verify(j, x, &v);
	X509_free(x);
	if (rc != 0 || !v.anchored)
		return rc;
	j->from_dns[i] = 1;
	o->depth = v.depth;
	o->match = v.err == X509_V_OK ? MXS_TLSA_MATCH : MXS_TLSA_CHAIN_FAIL;
	if (v.err != X509_V_OK)
		note_fail(j, i, &v);
	return 0;
}

/* DANE-TA(2): a CA of the chain at depth >= 1, then the chain up to it. */
static int
ta_record(struct judge *j, size_t i)
{
	const struct mxs_tlsa *t = &j->set->recs[i];
	struct mxs_tlsa_outcome *o = &j->r->recs[i];
	int rc;

	for (int d = 1; d < j->n && o->match != MXS_TLSA_MATCH; d++) {
		if (!md_match(t, &j->md[d]))
			continue;
		if (!j->ta_done[d]) {
			if ((rc = ta_verify(j, sk_X509_value(j->chain, d), &j->ta[d])) != 0)
				return rc;
			j->ta_done[d] = 1;
		}
		if (!j->ta[d].anchored && j->ta[d].err == X509_V_OK)
			continue; /* the leaf sent again: not a CA above it */
		o->depth = d;
		o->match = j->ta[d].err == X509_V_OK ? MXS_TLSA_MATCH : MXS_TLSA_CHAIN_FAIL;
		if (o->match == MXS_TLSA_CHAIN_FAIL)
			note_fail(j, i, &j->ta[d]);
	}
	if (o->match == MXS_TLSA_NO_MATCH && t->selector == MXS_TLSA_CERT &&
	    t->mtype == MXS_TLSA_FULL)
		return ta_from_dns(j, i);
	return 0;
}

/* ---- the leaf's names (DANE-TA) ------------------------------------------ */

/*
 * Whether presented identifier id matches one of the reference names; a
 * callback of the x509_names scans (1 stops the scan).  Records the match
 * in j->names and the result, else the first identifier seen in j->names.
 */
static int
ref_match(void *arg, enum mxs_x509_id_kind kind, const char *id)
{
	struct judge *j = arg;

	for (size_t k = 0; k < j->nrefs; k++)
		if (mxs_name_match(id, j->refs[k])) {
			snprintf(j->r->name_matched, sizeof(j->r->name_matched), "%s", id);
			snprintf(j->names, sizeof(j->names), "%s %s matches %s",
			         mxs_x509_id_kind_name(kind), id, j->refs[k]);
			return 1;
		}
	if (j->names[0] == '\0')
		snprintf(j->names, sizeof(j->names), "%s", id);
	return 0;
}

/*
 * RFC 7672 §3.2.3: the DNS-IDs when the leaf has any, else the subject
 * CNs.  Returns 1 on a match; j->names then says which, else holds the
 * first name seen.  As in cert_check (RFC 6125 §6.4.4), a subjectAltName
 * without any dNSName (IP addresses only, say) still lets the CN stand in.
 */
static int
leaf_names_match(struct judge *j)
{
	X509 *leaf = sk_X509_value(j->chain, 0);
	struct mxs_x509_dns_scan s;
	int hit;

	j->names[0] = '\0';
	hit = mxs_x509_dns_ids(leaf, ref_match, j, &s);
	if (hit != 0 || s.has_dns)
		return hit > 0;
	return mxs_x509_cn_ids(leaf, ref_match, j) > 0;
}

/* ---- one judgement ------------------------------------------------------- */

/* Records skipped for a stronger type: would they have matched? */
static void
weaker_records(struct judge *j)
{
	for (size_t i = 0; i < j->set->nrecs; i++) {
		const struct mxs_tlsa *t = &j->set->recs[i];
		struct mxs_tlsa_outcome *o = &j->r->recs[i];

		if (t->use != MXS_TLSA_WEAKER)
			continue;
		for (int d = t->usage == MXS_TLSA_DANE_EE ? 0 : 1; d < j->n; d++) {
			if (md_match(t, &j->md[d])) {
				o->match = MXS_TLSA_WEAKER_MATCHES;
				o->depth = d;
				break;
			}
			if (t->usage == MXS_TLSA_DANE_EE)
				break;
		}
	}
}

/* floor((notAfter - now) / 1 day) of the leaf, and whether it has expired. */
static int
leaf_expiry(struct judge *j)
{
	ASN1_TIME *t;
	int d, s;

	if ((t = ASN1_TIME_set(NULL, j->now)) == NULL)
		return MXS_ENOMEM;
	if (ASN1_TIME_diff(&d, &s, t, X509_get0_notAfter(sk_X509_value(j->chain, 0)))) {
		j->r->leaf_days_to_expiry = s < 0 ? d - 1 : d; /* d and s share a sign */
		j->r->leaf_expired = d < 0 || s < 0;
	}
	ASN1_TIME_free(t);
	return 0;
}

/* Digest the chain and set up the untrusted stack. */
static int
judge_init(struct judge *j)
{
	int rc;

	j->total = j->chain != NULL ? sk_X509_num(j->chain) : 0;
	j->n = j->total < MXS_DANE_CHAIN_MAX ? j->total : MXS_DANE_CHAIN_MAX;
	if (j->n <= 0)
		return 0;
	if ((j->untrusted = sk_X509_new_null()) == NULL)
		return MXS_ENOMEM;
	for (int d = 0; d < j->n; d++) {
		if ((rc = md_fill(sk_X509_value(j->chain, d), &j->md[d])) != 0)
			return rc;
		if (d > 0 && !sk_X509_push(j->untrusted, sk_X509_value(j->chain, d)))
			return MXS_ENOMEM;
	}
	return leaf_expiry(j);
}

static void
judge_free(struct judge *j)
{
	for (int d = 0; d < MXS_DANE_CHAIN_MAX; d++) {
		OPENSSL_free(j->md[d].der[0]);
		OPENSSL_free(j->md[d].der[1]);
	}
	sk_X509_free(j->untrusted);
}

/* Match every usable record; then the name check if a DANE-TA chain verified. */
static int
match_records(struct judge *j)
{
	int rc, ta_ok = 0;

	for (size_t i = 0; i < j->set->nrecs; i++) {
		const struct mxs_tlsa *t = &j->set->recs[i];
		struct mxs_tlsa_outcome *o = &j->r->recs[i];

		if (t->use != MXS_TLSA_USABLE)
			continue;
		o->match = MXS_TLSA_NO_MATCH;
		if (j->n == 0)
			continue;
		if (t->usage == MXS_TLSA_DANE_EE) {
			if (md_match(t, &j->md[0])) {
				o->match = MXS_TLSA_MATCH;
				o->depth = 0;
			}
		} else {
			if ((rc = ta_record(j, i)) != 0)
				return rc;
			ta_ok |= o->match == MXS_TLSA_MATCH;
		}
	}
	if (ta_ok && !leaf_names_match(j))
		for (size_t i = 0; i < j->set->nrecs; i++)
			if (j->set->recs[i].usage == MXS_TLSA_DANE_TA &&
			    j->r->recs[i].match == MXS_TLSA_MATCH)
				j->r->recs[i].match = MXS_TLSA_NAME_FAIL;
	weaker_records(j);
	return 0;
}

static void
verdict_valid(struct judge *j, size_t best)
{
	struct mxs_dane_result *r = j->r;
	char s[MXS_TLSA_SHORT_LEN], roll[48] = "";

	mxs_tlsa_short(&j->set->recs[best], s, sizeof(s));
	if (r->rollover_ready)
		snprintf(roll, sizeof(roll), "; %zu more usable record%s (rollover ready)",
		         r->nunmatched, r->nunmatched == 1 ? "" : "s");
	if (j->set->recs[best].usage == MXS_TLSA_DANE_EE)
		mxs_verdict_set(&r->verdict, MXS_ST_OK, MXS_RT_NONE,
		                "%s matches the leaf (DANE-EE: names and expiry not checked%s)%s",
		                s, r->leaf_expired ? "; leaf expired, ignored" : "", roll);
	else
		mxs_verdict_set(&r->verdict, MXS_ST_OK, MXS_RT_NONE,
		                "%s matches %s at depth %d (DANE-TA), chain verifies, %s%s", s,
		                r->ta_from_dns ? "the anchor from DNS" : "the CA", r->depth,
		                j->names, roll);
}

/* No usable record matched any certificate: say so, with what may explain it. */
static void
verdict_no_match(struct judge *j)
{
	struct mxs_dane_result *r = j->r;
	const struct mxs_tlsa *t;
	char s[MXS_TLSA_SHORT_LEN], weaker[MXS_REASON_MAX] = "", only[64] = "";

	for (size_t i = 0; i < j->set->nrecs; i++) {
		t = &j->set->recs[i];
		if (r->recs[i].match == MXS_TLSA_WEAKER_MATCHES) {
			mxs_tlsa_short(t, s, sizeof(s));
			snprintf(weaker, sizeof(weaker),
			         "; %s would match but a stronger %u %u x is published", s,
			         t->usage, t->selector);
			break;
		}
	}
	if (j->total > j->n)
		snprintf(only, sizeof(only), "; only %d of %d certificates examined", j->n,
		         j->total);
	mxs_verdict_set(&r->verdict, MXS_ST_FAIL, MXS_RT_TLSA_INVALID,
	                "none of %zu usable TLSA records matches the chain%s%s", j->set->nusable,
	                weaker, only);
}

static void
verdict_invalid(struct judge *j)
{
	struct mxs_dane_result *r = j->r;
	char s[MXS_TLSA_SHORT_LEN];
	size_t i;

	for (i = 0; i < j->set->nrecs; i++)
		if (r->recs[i].match == MXS_TLSA_NAME_FAIL)
			break;
	if (j->n == 0) {
		mxs_verdict_set(&r->verdict, MXS_ST_FAIL, MXS_RT_TLSA_INVALID,
		                "no certificate presented (%zu usable TLSA record%s)",
		                j->set->nusable, j->set->nusable == 1 ? "" : "s");
	} else if (i < j->set->nrecs) {
		mxs_tlsa_short(&j->set->recs[i], s, sizeof(s));
		mxs_verdict_set(&r->verdict, MXS_ST_FAIL, MXS_RT_CERT_HOST_MISMATCH,
		                "%s verifies the chain (DANE-TA) but the leaf names %s; MX is %s",
		                s, j->names[0] != '\0' ? j->names : "nothing usable",
		                j->nrefs > 0 ? j->refs[0] : "(none)");
	} else if (j->fail_rec >= 0) {
		mxs_tlsa_short(&j->set->recs[j->fail_rec], s, sizeof(s));
		r->x509_error = j->fail.err;
		mxs_verdict_set(&r->verdict, MXS_ST_FAIL,
		                j->fail.err == X509_V_ERR_CERT_HAS_EXPIRED ? MXS_RT_CERT_EXPIRED
		                                                           : MXS_RT_TLSA_INVALID,
		                "%s matches depth %d (DANE-TA) but the chain does not verify: %s",
		                s, r->recs[j->fail_rec].depth, j->fail.why);
	} else {
		verdict_no_match(j);
	}
}

/* Count, pick the authenticating record (DANE-EE first), and say why. */
static void
summarize(struct judge *j)
{
	struct mxs_dane_result *r = j->r;
	int best = -1;

	for (size_t i = 0; i < j->set->nrecs; i++) {
		switch (r->recs[i].match) {
		case MXS_TLSA_MATCH:
			if (best < 0 || (j->set->recs[i].usage == MXS_TLSA_DANE_EE &&
			                 j->set->recs[best].usage != MXS_TLSA_DANE_EE))
				best = (int)i;
			/* FALLTHROUGH */
		case MXS_TLSA_CHAIN_FAIL:
		case MXS_TLSA_NAME_FAIL:
			r->nmatched++;
			break;
		case MXS_TLSA_NO_MATCH:
			r->nunmatched++;
			break;
		default:
			break;
		}
	}
	if (best < 0) {
		r->state = MXS_DANE_TLSA_INVALID;
		verdict_invalid(j);
		return;
	}
	r->state = MXS_DANE_VALID;
	r->record = best;
	r->depth = r->recs[best].depth;
	r->ta_from_dns = j->from_dns[best];
	r->rollover_ready = r->nunmatched > 0;
	verdict_valid(j, (size_t)best);
}

/* r as mxs_dane_check leaves it when the DNS alone decided (or on error). */
static void
result_reset(struct mxs_dane_result *r, const struct mxs_dane_rrset *set)
{
	memset(r, 0, sizeof(*r));
	r->state = set->state;
	r->starttls_required = set->starttls_required;
	r->record = -1;
	r->depth = -1;
	r->nrecs = set->nrecs;
	for (size_t i = 0; i < set->nrecs; i++)
		r->recs[i].depth = -1;
}

static void
verdict_from_set(struct mxs_dane_result *r, const struct mxs_dane_rrset *set)
{
	enum mxs_status st = MXS_ST_NOT_TESTED;
	enum mxs_rtype rt = MXS_RT_NONE;

	if (set->state == MXS_DANE_TEMPORARY) {
		st = MXS_ST_TEMPORARY;
	} else if (set->state == MXS_DANE_DNSSEC_INVALID) {
		st = MXS_ST_FAIL;
		rt = MXS_RT_DNSSEC_INVALID;
	} else if (set->state == MXS_DANE_NO_USABLE) {
		st = MXS_ST_OK;
	}
	mxs_verdict_set(&r->verdict, st, rt, "%s", set->reason);
}

int
mxs_dane_check(const struct mxs_dane_rrset *set, STACK_OF(X509) *chain, const char *host,
               const char *expanded, time_t now, struct mxs_dane_result *r)
{
	struct judge j;
	int rc;

	if (set == NULL || r == NULL || set->nrecs > MXS_TLSA_RR_MAX)
		mxs_panic("mxs_dane_check: no rrset or no result");
	result_reset(r, set);
	if (set->state != MXS_DANE_PENDING) {
		verdict_from_set(r, set);
		return 0;
	}
	memset(&j, 0, sizeof(j));
	j.set = set;
	j.r = r;
	j.chain = chain;
	j.now = now;
	j.fail_rec = -1;
	if (host != NULL && host[0] != '\0')
		j.refs[j.nrefs++] = host;
	if (expanded != NULL && expanded[0] != '\0')
		j.refs[j.nrefs++] = expanded;
	ERR_set_mark();
	if ((rc = judge_init(&j)) == 0 && (rc = match_records(&j)) == 0)
		summarize(&j);
	judge_free(&j);
	ERR_pop_to_mark();
	if (rc != 0)
		result_reset(r, set);
	return rc;
}

/* ---- vocabulary ---------------------------------------------------------- */

const char *
mxs_tlsa_match_name(enum mxs_tlsa_match m)
{
	static const char *const names[] = {"not-used",   "match",     "no-match",
	                                    "chain-fail", "name-fail", "weaker-matches"};

	return (size_t)m < sizeof(names) / sizeof(names[0]) ? names[m] : "unknown";
}
