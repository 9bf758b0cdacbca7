/*
 * tlsa — TLSA records and the TLSA RRset of an MX host (see tlsa.h).
 *
 * The rdata was published by anyone (DNSSEC says only that it is what the
 * zone holds): every length is checked before a read, Full(0) data is
 * parsed as DER only within its own length and only up to
 * MXS_TLSA_DATA_MAX, and every copy into a fixed field is bounded.  OpenSSL
 * errors raised while parsing are popped before returning
 * (ERR_set_mark / ERR_pop_to_mark).
 */
#include "tlsa.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

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
	if (t->data == NULL || (t->mtype == MXS_TLSA_SHA256 && t->len != MXS_TLSA_SHA256_LEN) ||
	    (t->mtype == MXS_TLSA_SHA512 && t->len != MXS_TLSA_SHA512_LEN))
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
			       t->mtype == MXS_TLSA_SHA256 ? MXS_TLSA_SHA256_LEN
			                                   : MXS_TLSA_SHA512_LEN);
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
