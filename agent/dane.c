/*
 * dane — TLSA records and DANE verdicts for SMTP (see dane.h).
 *
 * Everything judged here came from outside: the TLSA rdata from DNS (only
 * DNSSEC-validated, but published by anyone) and the chain from the SMTP
 * server.  Every length is checked before a read, Full(0) data is parsed
 * as DER only within its own length, and every copy into a fixed field is
 * bounded.  OpenSSL errors raised while judging are popped before each
 * public function returns (ERR_set_mark / ERR_pop_to_mark).
 *
 * Matching hashes each considered certificate once per selector (DER
 * certificate, DER SubjectPublicKeyInfo) with SHA2-256 and SHA2-512 and
 * compares octets; a DANE-TA chain is verified once per candidate anchor,
 * with X509_verify_cert, a store holding only that anchor, partial chains
 * allowed, purpose sslserver, at the caller's time.
 */
#include "dane.h"
#include "certname.h"
#include "mxs_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#define SHA256_LEN 32
#define SHA512_LEN 64
#define WHY_MAX    160 /* a verification failure, inside a reason */

/* ---- vocabulary ---------------------------------------------------------- */

const char *
mxs_dane_state_name(enum mxs_dane_state s)
{
	static const char *const names[] = {"not-applicable",    "temporary", "dnssec-invalid",
	                                    "no-usable-records", "pending",   "valid",
	                                    "tlsa-invalid"};

	return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const char *
mxs_tlsa_use_name(enum mxs_tlsa_use u)
{
	static const char *const names[] = {
	        "usable",           "weaker-matching-type",  "pkix-usage", "unknown-usage",
	        "unknown-selector", "unknown-matching-type", "malformed"};

	return (size_t)u < sizeof(names) / sizeof(names[0]) ? names[u] : "unknown";
}

const char *
mxs_tlsa_match_name(enum mxs_tlsa_match m)
{
	static const char *const names[] = {"not-used",   "match",     "no-match",
	                                    "chain-fail", "name-fail", "weaker-matches"};

	return (size_t)m < sizeof(names) / sizeof(names[0]) ? names[m] : "unknown";
}

/* Append to buf (size len) at *off, like snprintf: *off counts what did not fit. */
static void append(char *buf, size_t len, size_t *off, const char *fmt, ...) MXS_PRINTF(4, 5);

static void
append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*off < len ? buf + *off : NULL, *off < len ? len - *off : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n;
}

/* ---- one record ---------------------------------------------------------- */

/* Full(0) data must be the DER object its selector names, and nothing more. */
static int
full_data_parses(const struct mxs_tlsa *t)
{
	const unsigned char *p = t->data;
	int ok = 0;

	if (t->selector == MXS_TLSA_CERT) {
		X509 *x = d2i_X509(NULL, &p, (long)t->len);

		ok = x != NULL && p == t->data + t->len;
		X509_free(x);
	} else {
		X509_PUBKEY *k = d2i_X509_PUBKEY(NULL, &p, (long)t->len);

		ok = k != NULL && p == t->data + t->len;
		X509_PUBKEY_free(k);
	}
	return ok;
}

static enum mxs_tlsa_use
classify(const struct mxs_tlsa *t)
{
	if (t->rdlen < 3)
		return MXS_TLSA_MALFORMED;
	if (t->usage == MXS_TLSA_PKIX_TA || t->usage == MXS_TLSA_PKIX_EE)
		return MXS_TLSA_PKIX_USAGE;
	if (t->usage > MXS_TLSA_DANE_EE)
		return MXS_TLSA_UNKNOWN_USAGE;
	if (t->selector > MXS_TLSA_SPKI)
		return MXS_TLSA_UNKNOWN_SELECTOR;
	if (t->mtype > MXS_TLSA_SHA512)
		return MXS_TLSA_UNKNOWN_MTYPE;
	if (t->data == NULL || (t->mtype == MXS_TLSA_SHA256 && t->len != SHA256_LEN) ||
	    (t->mtype == MXS_TLSA_SHA512 && t->len != SHA512_LEN))
		return MXS_TLSA_MALFORMED;
	if (t->mtype == MXS_TLSA_FULL && !full_data_parses(t))
		return MXS_TLSA_MALFORMED;
	return MXS_TLSA_USABLE;
}

int
mxs_tlsa_parse(const unsigned char *rdata, size_t rdlen, struct mxs_tlsa *t)
{
	memset(t, 0, sizeof(*t));
	t->rdlen = rdlen;
	if (rdata == NULL)
		t->rdlen = 0;
	if (t->rdlen >= 3) {
		t->usage = rdata[0];
		t->selector = rdata[1];
		t->mtype = rdata[2];
		t->len = rdlen - 3;
		if (t->len > 0 && t->len <= MXS_TLSA_DATA_MAX) {
			if ((t->data = malloc(t->len)) == NULL) {
				memset(t, 0, sizeof(*t));
				return MXS_ENOMEM;
			}
			memcpy(t->data, rdata + 3, t->len);
		}
	}
	ERR_set_mark();
	t->use = classify(t);
	ERR_pop_to_mark();
	return 0;
}

void
mxs_tlsa_clear(struct mxs_tlsa *t)
{
	if (t == NULL)
		return;
	free(t->data);
	memset(t, 0, sizeof(*t));
}

/* "3 1 1 " + hex of the first max octets (all when max is 0). */
static size_t
tlsa_format(const struct mxs_tlsa *t, size_t max, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t off = 0, n;

	if (len > 0)
		buf[0] = '\0';
	if (t->rdlen < 3) {
		append(buf, len, &off, "(rdata of %zu octets)", t->rdlen);
		return off;
	}
	append(buf, len, &off, "%u %u %u ", t->usage, t->selector, t->mtype);
	if (t->data == NULL) {
		if (t->len == 0)
			append(buf, len, &off, "-");
		else
			append(buf, len, &off, "(%zu octets)", t->len);
		return off;
	}
	n = max != 0 && t->len > max ? max : t->len;
	for (size_t i = 0; i < 2 * n; i++, off++)
		if (off + 1 < len) {
			buf[off] = hex[i % 2 ? t->data[i / 2] & 0x0f : t->data[i / 2] >> 4];
			buf[off + 1] = '\0';
		}
	if (n < t->len)
		append(buf, len, &off, "...");
	return off;
}

size_t
mxs_tlsa_text(const struct mxs_tlsa *t, char *buf, size_t len)
{
	return tlsa_format(t, 0, buf, len);
}

void
mxs_tlsa_short(const struct mxs_tlsa *t, char *buf, size_t len)
{
	(void)tlsa_format(t, MXS_TLSA_SHORT_OCTETS, buf, len);
}

/* Why t is not usable, for a reason: "3 1 1 ABCD...: data of 31 octets, SHA2-256 is 32". */
static void
unusable_why(const struct mxs_tlsa *t, char *buf, size_t len)
{
	char s[MXS_TLSA_SHORT_LEN];
	size_t off = 0;

	mxs_tlsa_short(t, s, sizeof(s));
	append(buf, len, &off, "%s: ", s);
	switch (t->use) {
	case MXS_TLSA_PKIX_USAGE:
		append(buf, len, &off, "%s is unusable for SMTP",
		       t->usage == MXS_TLSA_PKIX_TA ? "PKIX-TA(0)" : "PKIX-EE(1)");
		break;
	case MXS_TLSA_UNKNOWN_USAGE:
		append(buf, len, &off, "unknown usage %u", t->usage);
		break;
	case MXS_TLSA_UNKNOWN_SELECTOR:
		append(buf, len, &off, "unknown selector %u", t->selector);
		break;
	case MXS_TLSA_UNKNOWN_MTYPE:
		append(buf, len, &off, "unknown matching type %u", t->mtype);
		break;
	case MXS_TLSA_MALFORMED:
		if (t->rdlen < 3)
			append(buf, len, &off, "malformed, rdata under 3 octets");
		else if (t->len == 0)
			append(buf, len, &off, "malformed, no data");
		else if (t->mtype != MXS_TLSA_FULL)
			append(buf, len, &off, "malformed, data of %zu octets, SHA2-%d is %d",
			       t->len, t->mtype == MXS_TLSA_SHA256 ? 256 : 512,
			       t->mtype == MXS_TLSA_SHA256 ? SHA256_LEN : SHA512_LEN);
		else if (t->len > MXS_TLSA_DATA_MAX)
			append(buf, len, &off, "malformed, data of %zu octets over the limit %d",
			       t->len, MXS_TLSA_DATA_MAX);
		else
			append(buf, len, &off, "malformed, data is not a DER %s",
			       t->selector == MXS_TLSA_CERT ? "certificate"
			                                    : "SubjectPublicKeyInfo");
		break;
	default:
		append(buf, len, &off, "%s", mxs_tlsa_use_name(t->use));
		break;
	}
}

/* ---- the RRset ----------------------------------------------------------- */

static const char *
rcode_name(int rcode)
{
	static const char *const names[] = {"NOERROR",  "FORMERR", "SERVFAIL",
	                                    "NXDOMAIN", "NOTIMP",  "REFUSED"};

	return rcode >= 0 && (size_t)rcode < sizeof(names) / sizeof(names[0]) ? names[rcode]
	                                                                      : "other";
}

static void set_state(struct mxs_dane_rrset *set, enum mxs_dane_state st, const char *fmt, ...)
        MXS_PRINTF(3, 4);

static void
set_state(struct mxs_dane_rrset *set, enum mxs_dane_state st, const char *fmt, ...)
{
	va_list ap;

	set->state = st;
	va_start(ap, fmt);
	vsnprintf(set->reason, sizeof(set->reason), fmt, ap);
	va_end(ap);
}

/*
 * Decide what the DNS outcome alone says (RFC 7672 §2.2).  Returns 1 when
 * the n records of a secure RRset must be judged.  The order matters:
 * libunbound reports a SERVFAIL as "insecure", so failures come first.
 */
static int
dns_state(struct mxs_dane_rrset *set, const struct mxs_dane_dns *d, size_t n)
{
	if (d->addr_sec != MXS_SEC_SECURE) {
		set_state(set, MXS_DANE_NOT_APPLICABLE,
		          "address records not DNSSEC-secure (%s): DANE does not apply",
		          mxs_dnssec_name(d->addr_sec));
	} else if (d->tlsa_sec == MXS_SEC_BOGUS) {
		set_state(set, MXS_DANE_DNSSEC_INVALID,
		          "TLSA answer is DNSSEC-bogus: the MX is not usable");
	} else if (!d->tlsa_done) {
		set_state(set, MXS_DANE_TEMPORARY,
		          "TLSA lookup got no answer (timeout): not \"no TLSA\", the MX is not "
		          "usable until it resolves");
	} else if (d->tlsa_rcode != 0 && d->tlsa_rcode != 3) {
		set_state(set, MXS_DANE_TEMPORARY,
		          "TLSA lookup failed with %s (rcode %d): not \"no TLSA\", the MX is "
		          "not usable until it resolves",
		          rcode_name(d->tlsa_rcode), d->tlsa_rcode);
	} else if (d->tlsa_sec == MXS_SEC_INSECURE) {
		set_state(set, MXS_DANE_NOT_APPLICABLE,
		          "TLSA answer (%s%s) is insecure: DANE does not apply",
		          rcode_name(d->tlsa_rcode),
		          n == 0 && d->tlsa_rcode == 0 ? ", NODATA" : "");
	} else if (d->tlsa_sec != MXS_SEC_SECURE) {
		set_state(set, MXS_DANE_TEMPORARY, "TLSA answer has no DNSSEC state");
	} else if (n == 0) {
		set_state(set, MXS_DANE_NOT_APPLICABLE,
		          "no TLSA records (secure %s): DANE does not apply",
		          d->tlsa_rcode == 3 ? "NXDOMAIN" : "NODATA");
	} else {
		set->starttls_required = 1;
		return 1;
	}
	return 0;
}

/* RFC 7671 §9: per (usage, selector) use only the strongest matching type. */
static void
digest_agility(struct mxs_dane_rrset *set)
{
	int best[2][2] = {{-1, -1}, {-1, -1}}; /* [usage - DANE_TA][selector] */
	struct mxs_tlsa *t;

	for (size_t i = 0; i < set->nrecs; i++) {
		t = &set->recs[i];
		if (t->use == MXS_TLSA_USABLE && t->mtype > best[t->usage - 2][t->selector])
			best[t->usage - 2][t->selector] = t->mtype;
	}
	set->nusable = 0;
	for (size_t i = 0; i < set->nrecs; i++) {
		t = &set->recs[i];
		if (t->use != MXS_TLSA_USABLE)
			continue;
		if (t->mtype < best[t->usage - 2][t->selector])
			t->use = MXS_TLSA_WEAKER;
		else
			set->nusable++;
	}
}

static void
no_usable_reason(struct mxs_dane_rrset *set)
{
	char why[MXS_REASON_MAX] = "";

	for (size_t i = 0; i < set->nrecs; i++)
		if (set->recs[i].use != MXS_TLSA_USABLE) {
			unusable_why(&set->recs[i], why, sizeof(why));
			break;
		}
	set_state(set, MXS_DANE_NO_USABLE,
	          "no usable TLSA record of %zu (%s%s): unauthenticated TLS, STARTTLS "
	          "mandatory",
	          set->nrecs, why, set->nrecs > 1 ? ", ..." : "");
}

int
mxs_dane_load(struct mxs_dane_rrset *set, const struct mxs_dane_dns *dns,
              const struct mxs_rr *const *rrs, size_t n, char *errstr, size_t errlen)
{
	int rc;

	memset(set, 0, sizeof(*set));
	if (dns == NULL || (n > 0 && rrs == NULL))
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "dane: no DNS outcome or records");
	if (n > MXS_TLSA_RR_MAX)
		return mxs_seterr(errstr, errlen, MXS_ELIMIT,
		                  "TLSA RRset of %zu records, over the limit %d", n,
		                  MXS_TLSA_RR_MAX);
	for (size_t i = 0; i < n; i++)
		if (rrs[i] == NULL || rrs[i]->type != MXS_DNS_T_TLSA)
			return mxs_seterr(errstr, errlen, MXS_EINVAL,
			                  "dane: record %zu is not a TLSA record", i);
	if (!dns_state(set, dns, n))
		return 0;
	if ((set->recs = calloc(n, sizeof(*set->recs))) == NULL)
		goto nomem;
	for (; set->nrecs < n; set->nrecs++)
		if ((rc = mxs_tlsa_parse(rrs[set->nrecs]->rdata, rrs[set->nrecs]->rdlen,
		                         &set->recs[set->nrecs])) != 0)
			goto nomem;
	digest_agility(set);
	if (set->nusable == 0)
		no_usable_reason(set);
	else
		set_state(set, MXS_DANE_PENDING, "%zu usable TLSA record%s of %zu", set->nusable,
		          set->nusable == 1 ? "" : "s", set->nrecs);
	return 0;
nomem:
	mxs_dane_rrset_free(set);
	return mxs_seterr(errstr, errlen, MXS_ENOMEM, "TLSA RRset: out of memory");
}

void
mxs_dane_rrset_free(struct mxs_dane_rrset *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->nrecs; i++)
		mxs_tlsa_clear(&set->recs[i]);
	free(set->recs);
	memset(set, 0, sizeof(*set));
}

/* ---- judging a chain ----------------------------------------------------- */

/* The association data a certificate offers, per selector. */
struct cert_md {
	unsigned char *der[2]; /* DER certificate, DER SPKI; OpenSSL-allocated */
	size_t derlen[2];
	unsigned char sha256[2][SHA256_LEN];
	unsigned char sha512[2][SHA512_LEN];
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
		    mdlen != SHA256_LEN ||
		    !EVP_Digest(m->der[s], m->derlen[s], m->sha512[s], &mdlen, EVP_sha512(),
		                NULL) ||
		    mdlen != SHA512_LEN)
			return MXS_ETLS;
	}
	return 0;
}

/* Whether usable record t matches the certificate digested in m. */
static int
md_match(const struct mxs_tlsa *t, const struct cert_md *m)
{
	const unsigned char *want = m->sha256[t->selector];
	size_t wlen = SHA256_LEN;

	if (t->mtype == MXS_TLSA_FULL) {
		want = m->der[t->selector];
		wlen = m->derlen[t->selector];
	} else if (t->mtype == MXS_TLSA_SHA512) {
		want = m->sha512[t->selector];
		wlen = SHA512_LEN;
	}
	return t->len == wlen && memcmp(t->data, want, wlen) == 0;
}

/* RFC 2253 one-line form of nm ("" when it cannot be had). */
static void
name_text(const X509_NAME *nm, char *buf, size_t len)
{
	BIO *bio;
	int n = 0;

	buf[0] = '\0';
	if (nm == NULL || len < 2 || (bio = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(bio, nm, 0, XN_FLAG_RFC2253) >= 0)
		n = BIO_read(bio, buf, (int)(len - 1));
	buf[n > 0 ? n : 0] = '\0';
	BIO_free(bio);
}

static void
describe(X509_STORE_CTX *ctx, int err, char *buf, size_t len)
{
	X509 *cur = X509_STORE_CTX_get_current_cert(ctx);
	char subj[96];

	name_text(cur != NULL ? X509_get_subject_name(cur) : NULL, subj, sizeof(subj));
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

/* Copy a DNS-ID or CN if it is 1..len-1 printable ASCII octets without space. */
static int
ident_copy(const unsigned char *p, int n, char *buf, size_t len)
{
	if (p == NULL || n <= 0 || (size_t)n >= len)
		return 0;
	for (int i = 0; i < n; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return 0;
	memcpy(buf, p, (size_t)n);
	buf[n] = '\0';
	return 1;
}

/* Whether name matches one of the reference identifiers; records it. */
static int
ref_match(struct judge *j, const char *name, const char *kind)
{
	size_t off = 0;

	for (size_t k = 0; k < j->nrefs; k++)
		if (mxs_name_match(name, j->refs[k])) {
			snprintf(j->r->name_matched, sizeof(j->r->name_matched), "%s", name);
			append(j->names, sizeof(j->names), &off, "%s %s matches %s", kind, name,
			       j->refs[k]);
			return 1;
		}
	if (j->names[0] == '\0')
		append(j->names, sizeof(j->names), &off, "%s", name);
	return 0;
}

/*
 * RFC 7672 §3.2.3: the DNS-IDs when the leaf has any, else the subject
 * CNs.  Returns 1 on a match; j->names then says which, else holds the
 * first name seen.
 */
static int
leaf_names_match(struct judge *j)
{
	X509 *leaf = sk_X509_value(j->chain, 0);
	const X509_NAME *nm = X509_get_subject_name(leaf);
	GENERAL_NAMES *gens;
	char name[MXS_DNS_NAME_MAX + 1];
	unsigned char *u;
	int crit = -1, has_dns = 0, hit = 0, i = -1, n;

	j->names[0] = '\0';
	if ((gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL)) != NULL) {
		for (int k = 0; k < sk_GENERAL_NAME_num(gens) && !hit; k++) {
			const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, k);

			if (g->type != GEN_DNS)
				continue;
			has_dns = 1;
			if (ident_copy(ASN1_STRING_get0_data(g->d.dNSName),
			               ASN1_STRING_length(g->d.dNSName), name, sizeof(name)))
				hit = ref_match(j, name, "DNS-ID");
		}
		GENERAL_NAMES_free(gens);
	}
	if (has_dns || crit != -1) /* DNS-IDs, or a subjectAltName we cannot read */
		return hit;
	while (!hit && (i = X509_NAME_get_index_by_NID(nm, NID_commonName, i)) >= 0) {
		u = NULL;
		n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, i)));
		if (ident_copy(u, n, name, sizeof(name)))
			hit = ref_match(j, name, "subject CN");
		OPENSSL_free(u);
	}
	return hit;
}

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

static void
verdict_invalid(struct judge *j)
{
	struct mxs_dane_result *r = j->r;
	const struct mxs_tlsa *t;
	char s[MXS_TLSA_SHORT_LEN], more[MXS_REASON_MAX] = "";
	size_t off = 0, i;

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
		for (i = 0; i < j->set->nrecs; i++) {
			t = &j->set->recs[i];
			if (r->recs[i].match == MXS_TLSA_WEAKER_MATCHES) {
				mxs_tlsa_short(t, s, sizeof(s));
				append(more, sizeof(more), &off,
				       "; %s would match but a stronger %u %u x is published", s,
				       t->usage, t->selector);
				break;
			}
		}
		if (j->total > j->n)
			append(more, sizeof(more), &off, "; only %d of %d certificates examined",
			       j->n, j->total);
		mxs_verdict_set(&r->verdict, MXS_ST_FAIL, MXS_RT_TLSA_INVALID,
		                "none of %zu usable TLSA records matches the chain%s",
		                j->set->nusable, more);
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
