/* ingest — ProbeResult to store rows (see ingest.h). */
#include "ingest.h"

#include <stdio.h>
#include <string.h>

#include "wire.h"

static const char *
status_name(const Mxs__Verdict *v)
{
	if (v == NULL || !v->has_status)
		return "not-tested";
	switch (v->status) {
	case MXS__STATUS__STATUS_OK:
		return "ok";
	case MXS__STATUS__STATUS_FAIL:
		return "fail";
	case MXS__STATUS__STATUS_TEMPORARY:
		return "temporary";
	default:
		return "not-tested";
	}
}

/* Copy untrusted text, cut to the field; control bytes become '?'. */
static void
text(char *dst, size_t len, const char *src)
{
	size_t i;

	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < len; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
	dst[i] = '\0';
}

/* A result type is a lower-case word of letters and '-' (RFC 8460 names). */
static void
word(char *dst, size_t len, const char *src)
{
	size_t i;

	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < len; i++)
		if (!((src[i] >= 'a' && src[i] <= 'z') || src[i] == '-' ||
		      (src[i] >= '0' && src[i] <= '9'))) {
			i = 0;
			break;
		}
	dst[i] = '\0';
	if (i > 0)
		memcpy(dst, src, i);
}

static void
verdict(struct mxs_store_verdict *sv, const Mxs__Verdict *v)
{
	snprintf(sv->status, sizeof(sv->status), "%s", status_name(v));
	word(sv->result_type, sizeof(sv->result_type), v != NULL ? v->result_type : NULL);
	text(sv->reason, sizeof(sv->reason), v != NULL ? v->reason : NULL);
}

static void
hex(char out[MXS_STORE_HEX256_MAX], int has, const ProtobufCBinaryData *b)
{
	static const char hx[] = "0123456789abcdef";

	out[0] = '\0';
	if (!has || b->len != 32)
		return;
	for (size_t k = 0; k < 32; k++) {
		out[2 * k] = hx[b->data[k] >> 4];
		out[2 * k + 1] = hx[b->data[k] & 0xf];
	}
	out[64] = '\0';
}

/*
 * A host name as the store keys it: LDH labels and dots, lower-cased, at
 * most 253 characters, no trailing dot.  "" is allowed when empty_ok.
 */
static int
hostname(char *dst, size_t len, const char *src, int empty_ok)
{
	size_t i, n = src != NULL ? strlen(src) : 0;

	if (n == 0)
		return empty_ok ? (dst[0] = '\0', 0) : MXS_EINVAL;
	if (n > 253 || n >= len || src[0] == '.' || src[n - 1] == '.')
		return MXS_EINVAL;
	for (i = 0; i < n; i++) {
		char c = src[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_'))
			return MXS_EINVAL;
		dst[i] = c;
	}
	dst[n] = '\0';
	return 0;
}

/* An address in text form: hex digits, '.', ':' only. */
static int
address(char *dst, size_t len, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (n >= len || strspn(src != NULL ? src : "", "0123456789abcdefABCDEF.:") != n)
		return MXS_EINVAL;
	memcpy(dst, src != NULL ? src : "", n + 1);
	return 0;
}

static const char *
dnssec_name(const Mxs__ProbeResult *pr)
{
	if (!pr->has_mx_dnssec)
		return "unknown";
	switch (pr->mx_dnssec) {
	case MXS__DNSSEC_STATE__DNSSEC_SECURE:
		return "secure";
	case MXS__DNSSEC_STATE__DNSSEC_INSECURE:
		return "insecure";
	case MXS__DNSSEC_STATE__DNSSEC_BOGUS:
		return "bogus";
	default:
		return "unknown";
	}
}

/* The domain-level fields every row of the result repeats. */
static void
domain_facts(struct mxs_store_obs *o, const Mxs__ProbeResult *pr, const char *region)
{
	const Mxs__StsResult *s = pr->sts;

	memcpy(o->result_id, pr->id.data, MXS_STORE_ID_LEN);
	o->t_ms = pr->started_unix_ms;
	snprintf(o->region, sizeof(o->region), "%s", region);
	text(o->mx_set, sizeof(o->mx_set), pr->mx_set);
	snprintf(o->dnssec, sizeof(o->dnssec), "%s", dnssec_name(pr));
	o->starttls_advertised = -1;
	o->days_to_expiry = MXS_STORE_NO_DAYS;
	for (int c = 0; c < MXS_STORE_NCHECKS; c++)
		snprintf(o->v[c].status, sizeof(o->v[c].status), "%s", "not-tested");
	if (s == NULL)
		return;
	text(o->sts_id, sizeof(o->sts_id), s->id);
	hex(o->sts_body_sha256, s->has_body_sha256, &s->body_sha256);
	word(o->sts_mode, sizeof(o->sts_mode), s->mode);
}

static void
address_facts(struct mxs_store_obs *o, const Mxs__AddressResult *a)
{
	size_t used = 0;

	verdict(&o->v[MXS_STORE_CONNECT], a->connect);
	verdict(&o->v[MXS_STORE_SMTP], a->smtp);
	verdict(&o->v[MXS_STORE_TLS], a->tls);
	verdict(&o->v[MXS_STORE_PKIX], a->pkix);
	verdict(&o->v[MXS_STORE_NAME], a->name);
	verdict(&o->v[MXS_STORE_DANE], a->dane);
	verdict(&o->v[MXS_STORE_STS], a->sts_coverage);
	o->starttls_advertised = a->has_starttls_advertised ? (a->starttls_advertised ? 1 : 0) : -1;
	text(o->tls_version, sizeof(o->tls_version), a->tls_version);
	hex(o->leaf_sha256, a->has_leaf_sha256, &a->leaf_sha256);
	hex(o->spki_sha256, a->has_spki_sha256, &a->spki_sha256);
	if (a->has_days_to_expiry && a->days_to_expiry > -100000 && a->days_to_expiry < 100000)
		o->days_to_expiry = a->days_to_expiry;
	for (size_t i = 0; i < a->n_tlsa_records && used + 1 < sizeof(o->tlsa); i++) {
		char line[MXS_STORE_TLSA_MAX];
		text(line, sizeof(line), a->tlsa_records[i]);
		used += (size_t)snprintf(o->tlsa + used, sizeof(o->tlsa) - used, "%s%s",
		                         i ? "\n" : "", line);
	}
	if (used >= sizeof(o->tlsa))
		o->tlsa[sizeof(o->tlsa) - 1] = '\0';
}

int
mxs_ingest_result(const Mxs__ProbeResult *pr, const char *region, struct mxs_store_obs *out,
                  size_t max, size_t *n, char *errstr, size_t errlen)
{
	char domain[MXS_STORE_NAME_MAX];
	size_t rows = pr->n_addresses ? pr->n_addresses : 1, i;

	if (!pr->has_id || pr->id.len != MXS_STORE_ID_LEN)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "result without a 16-byte id");
	if (!pr->has_started_unix_ms || pr->started_unix_ms <= 0)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "result without a probe time");
	if (hostname(domain, sizeof(domain), pr->domain, 0) != 0)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "result for an invalid domain name");
	if (rows > MXS_MX_ROWS_PER_RESULT)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "result with %zu addresses", rows);
	if (max - *n < rows)
		return MXS_ELIMIT;
	for (i = 0; i < rows; i++) {
		struct mxs_store_obs *o = &out[*n + i];
		memset(o, 0, sizeof(*o));
		domain_facts(o, pr, region);
		memcpy(o->domain, domain, sizeof(domain));
		if (pr->n_addresses == 0) {
			verdict(&o->v[MXS_STORE_CONNECT], pr->mx);
			continue;
		}
		const Mxs__AddressResult *a = pr->addresses[i];
		if (hostname(o->mx_host, sizeof(o->mx_host), a->mx_host, 1) != 0 ||
		    address(o->address, sizeof(o->address), a->address) != 0)
			return mxs_seterr(errstr, errlen, MXS_EINVAL,
			                  "result with an invalid MX host or address");
		address_facts(o, a);
	}
	*n += rows;
	return MXS_OK;
}
