/*
 * test_result_json — the two presentations of a probe result (output.h):
 * JSON schema 1 read back with jansson field by field, and the table as a
 * person sees it.  Trees are built by hand through result.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>

#include "output.h"
#include "result.h"

/* ---- helpers ------------------------------------------------------------ */

static char *
dump(const struct mxs_result *r)
{
	char *s = NULL;

	assert_int_equal(mxs_result_to_json(r, &s), 0);
	assert_non_null(s);
	return s;
}

/* Serialise r and parse it back: the output must always be valid JSON. */
static json_t *
roundtrip(const struct mxs_result *r)
{
	json_error_t e;
	char *s = dump(r);
	json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &e);

	if (j == NULL)
		fail_msg("output is not JSON: %s (line %d)\n%s", e.text, e.line, s);
	free(s);
	return j;
}

/* Walk "hosts/0/addresses/1/tls/version"; NULL when any step is missing. */
static json_t *
jget(json_t *j, const char *path)
{
	char seg[64];
	const char *p = path;

	while (j != NULL && *p != '\0') {
		size_t n = strcspn(p, "/");

		assert_true(n < sizeof(seg));
		memcpy(seg, p, n);
		seg[n] = '\0';
		p += n + (p[n] == '/');
		if (json_is_array(j)) {
			size_t idx = 0;
			for (const char *d = seg; *d != '\0'; d++) {
				assert_true(*d >= '0' && *d <= '9');
				idx = idx * 10 + (size_t)(*d - '0');
			}
			j = json_array_get(j, idx);
		} else {
			j = json_object_get(j, seg);
		}
	}
	return j;
}

static void
expect_str(json_t *root, const char *path, const char *want)
{
	json_t *v = jget(root, path);

	if (v == NULL)
		fail_msg("%s: missing", path);
	if (want == NULL) {
		if (!json_is_null(v))
			fail_msg("%s: want null", path);
		return;
	}
	if (!json_is_string(v))
		fail_msg("%s: want string \"%s\"", path, want);
	assert_string_equal(json_string_value(v), want);
}

static void
expect_int(json_t *root, const char *path, long long want)
{
	json_t *v = jget(root, path);

	if (v == NULL || !json_is_integer(v))
		fail_msg("%s: want integer %lld", path, want);
	assert_int_equal(json_integer_value(v), want);
}

static void
expect_null(json_t *root, const char *path)
{
	json_t *v = jget(root, path);

	if (v == NULL || !json_is_null(v))
		fail_msg("%s: want null", path);
}

static void
expect_bool(json_t *root, const char *path, int want)
{
	json_t *v = jget(root, path);

	if (v == NULL || !json_is_boolean(v))
		fail_msg("%s: want boolean", path);
	assert_int_equal(json_is_true(v), want != 0);
}

static void
expect_size(json_t *root, const char *path, size_t want)
{
	json_t *v = jget(root, path);

	if (v == NULL || !json_is_array(v))
		fail_msg("%s: want array", path);
	assert_int_equal(json_array_size(v), want);
}

/* The keys of the object at path, in order, must be exactly want (NULL-terminated). */
static void
expect_keys(json_t *root, const char *path, const char *const *want)
{
	json_t *o = path[0] == '\0' ? root : jget(root, path);
	void *it;
	size_t i = 0;

	assert_non_null(o);
	for (it = json_object_iter(o); it != NULL; it = json_object_iter_next(o, it), i++) {
		if (want[i] == NULL)
			fail_msg("%s: extra key %s", path, json_object_iter_key(it));
		assert_string_equal(json_object_iter_key(it), want[i]);
	}
	if (want[i] != NULL)
		fail_msg("%s: missing key %s", path, want[i]);
}

static void
fill_cert(struct mxs_cert *c, const char *subject, const char *issuer, unsigned char seed)
{
	snprintf(c->subject, sizeof(c->subject), "%s", subject);
	snprintf(c->issuer, sizeof(c->issuer), "%s", issuer);
	snprintf(c->not_before, sizeof(c->not_before), "2024-01-01T00:00:00Z");
	snprintf(c->not_after, sizeof(c->not_after), "2024-04-01T00:00:00Z");
	for (size_t i = 0; i < sizeof(c->sha256); i++) {
		c->sha256[i] = (unsigned char)(seed + i);
		c->spki_sha256[i] = (unsigned char)(0xf0 + i);
	}
}

/* An address where every step worked. */
static void
fill_good_addr(struct mxs_addr *a, const char *host)
{
	a->elapsed_ms = 312;
	mxs_verdict_set(&a->connect, MXS_ST_OK, MXS_RT_NONE, "connected");
	a->connect_ms = 12;
	mxs_verdict_set(&a->smtp, MXS_ST_OK, MXS_RT_NONE, "STARTTLS accepted");
	a->greeting_code = 220;
	snprintf(a->greeting, sizeof(a->greeting), "%s ESMTP Postfix", host);
	a->ehlo_code = 250;
	assert_int_equal(mxs_strv_add(&a->caps, &a->ncaps, MXS_EHLO_CAPS_MAX, "PIPELINING"), 0);
	assert_int_equal(mxs_strv_add(&a->caps, &a->ncaps, MXS_EHLO_CAPS_MAX, "SIZE 10240000"), 0);
	assert_int_equal(mxs_strv_add(&a->caps, &a->ncaps, MXS_EHLO_CAPS_MAX, "STARTTLS"), 0);
	a->starttls_advertised = 1;
	a->starttls_code = 220;
	mxs_verdict_set(&a->tls, MXS_ST_OK, MXS_RT_NONE, "handshake complete");
	snprintf(a->tls_version, sizeof(a->tls_version), "TLSv1.3");
	snprintf(a->tls_cipher, sizeof(a->tls_cipher), "TLS_AES_256_GCM_SHA384");
	snprintf(a->sni, sizeof(a->sni), "%s", host);
	a->tls_ms = 40;
	fill_cert(&a->chain[0], "CN=mx1.example.com", "CN=Test CA 1,O=Test", 0xa0);
	fill_cert(&a->chain[1], "CN=Test CA 1,O=Test", "CN=Test Root,O=Test", 0x00);
	a->nchain = 2;
	assert_int_equal(mxs_strv_add(&a->leaf_dns_names, &a->nleaf_dns_names, MXS_NAMES_MAX,
	                              "mx1.example.com"),
	                 0);
	assert_int_equal(mxs_strv_add(&a->leaf_dns_names, &a->nleaf_dns_names, MXS_NAMES_MAX,
	                              "*.example.com"),
	                 0);
	a->days_to_expiry = 89;
	mxs_verdict_set(&a->pkix, MXS_ST_OK, MXS_RT_NONE, "chain valid");
	mxs_verdict_set(&a->name, MXS_ST_OK, MXS_RT_NONE, "matched");
	snprintf(a->name_reference, sizeof(a->name_reference), "%s", host);
	snprintf(a->name_matched, sizeof(a->name_matched), "%s", host);
}

static void
fill_dns(struct mxs_dns *d, enum mxs_dnssec sec, uint32_t ttl)
{
	d->done = 1;
	d->rcode = 0;
	d->sec = sec;
	d->ttl = ttl;
	d->ms = 3;
}

/* example.com: one MX host with an IPv4 and an IPv6 address, all good. */
static struct mxs_result *
good_tree(void)
{
	struct mxs_result *r = mxs_result_new("Example.COM.");
	struct mxs_host *h;
	struct mxs_addr *a;

	assert_non_null(r);
	r->started_ms = 1700000000123LL;
	r->elapsed_ms = 420;
	r->mx.kind = MXS_MX_RECORDS;
	fill_dns(&r->mx.dns, MXS_SEC_SECURE, 3600);
	mxs_verdict_set(&r->mx.verdict, MXS_ST_OK, MXS_RT_NONE, "1 MX record");

	assert_int_equal(mxs_result_add_host(r, "MX1.example.com", 10, &h), 0);
	fill_dns(&h->a, MXS_SEC_SECURE, 300);
	fill_dns(&h->aaaa, MXS_SEC_INSECURE, 300);
	mxs_verdict_set(&h->dns, MXS_ST_OK, MXS_RT_NONE, "2 addresses");
	assert_int_equal(mxs_host_add_addr(h, "192.0.2.25", AF_INET, &a), 0);
	fill_good_addr(a, h->name);
	assert_int_equal(mxs_host_add_addr(h, "2001:db8::25", AF_INET6, &a), 0);
	fill_good_addr(a, h->name);
	return r;
}

/* ---- JSON --------------------------------------------------------------- */

static void
test_json_top_and_key_order(void **state)
{
	static const char *const top[] = {"schema", "domain", "started", "elapsed_ms",
	                                  "mx",     "hosts",  NULL};
	static const char *const mx[] = {"kind", "status", "reason", "result_type", "dns", NULL};
	static const char *const dns[] = {"answered", "rcode", "dnssec", "why_bogus",
	                                  "error",    "ttl",   "ms",     NULL};
	static const char *const host2[] = {"name", "preference", "dns", "a",
	                                    "aaaa", "addresses",  NULL};
	static const char *const addr[] = {"address", "family", "elapsed_ms",  "connect",
	                                   "smtp",    "tls",    "certificate", "pkix",
	                                   "name",    NULL};
	static const char *const smtp[] = {
	        "status",    "reason",       "result_type",         "greeting_code", "greeting",
	        "ehlo_code", "capabilities", "starttls_advertised", "starttls_code", NULL};
	static const char *const tls[] = {"status", "reason", "result_type", "version",
	                                  "cipher", "sni",    "ms",          NULL};
	static const char *const cert[] = {"chain", "leaf_dns_names", "days_to_expiry", NULL};
	static const char *const chain[] = {"subject", "issuer",      "not_before",  "not_after",
	                                    "sha256",  "spki_sha256", "self_signed", NULL};
	static const char *const pkix[] = {
	        "status", "reason", "result_type", "x509_error", "missing_intermediate", NULL};
	static const char *const name[] = {"status",    "reason",  "result_type",
	                                   "reference", "matched", NULL};
	static const char *const conn[] = {"status", "reason", "result_type", "ms", NULL};
	static const char *const verdict[] = {"status", "reason", "result_type", NULL};
	struct mxs_result *r = good_tree();
	json_t *j = roundtrip(r);

	(void)state;
	expect_keys(j, "", top);
	expect_keys(j, "mx", mx);
	expect_keys(j, "mx/dns", dns);
	expect_keys(j, "hosts/0", host2);
	expect_keys(j, "hosts/0/dns", verdict);
	expect_keys(j, "hosts/0/a", dns);
	expect_keys(j, "hosts/0/aaaa", dns);
	expect_keys(j, "hosts/0/addresses/0", addr);
	expect_keys(j, "hosts/0/addresses/0/connect", conn);
	expect_keys(j, "hosts/0/addresses/0/smtp", smtp);
	expect_keys(j, "hosts/0/addresses/0/tls", tls);
	expect_keys(j, "hosts/0/addresses/0/certificate", cert);
	expect_keys(j, "hosts/0/addresses/0/certificate/chain/1", chain);
	expect_keys(j, "hosts/0/addresses/0/pkix", pkix);
	expect_keys(j, "hosts/0/addresses/0/name", name);

	expect_int(j, "schema", 1);
	expect_str(j, "domain", "example.com");
	expect_str(j, "started", "2023-11-14T22:13:20.123Z");
	expect_int(j, "elapsed_ms", 420);
	json_decref(j);
	mxs_result_free(&r);
}

static void
test_json_ok_tree_fields(void **state)
{
	struct mxs_result *r = good_tree();
	json_t *j = roundtrip(r);

	(void)state;
	expect_str(j, "mx/kind", "records");
	expect_str(j, "mx/status", "ok");
	expect_str(j, "mx/reason", "1 MX record");
	expect_null(j, "mx/result_type");
	expect_bool(j, "mx/dns/answered", 1);
	expect_str(j, "mx/dns/rcode", "NOERROR");
	expect_str(j, "mx/dns/dnssec", "secure");
	expect_null(j, "mx/dns/why_bogus");
	expect_int(j, "mx/dns/ttl", 3600);
	expect_int(j, "mx/dns/ms", 3);

	expect_size(j, "hosts", 1);
	expect_str(j, "hosts/0/name", "mx1.example.com");
	expect_int(j, "hosts/0/preference", 10);
	expect_str(j, "hosts/0/dns/status", "ok");
	expect_null(j, "hosts/0/dns/result_type");
	expect_str(j, "hosts/0/a/dnssec", "secure");
	expect_str(j, "hosts/0/aaaa/dnssec", "insecure");
	expect_size(j, "hosts/0/addresses", 2);

	expect_str(j, "hosts/0/addresses/0/address", "192.0.2.25");
	expect_str(j, "hosts/0/addresses/0/family", "ipv4");
	expect_str(j, "hosts/0/addresses/1/address", "2001:db8::25");
	expect_str(j, "hosts/0/addresses/1/family", "ipv6");
	expect_int(j, "hosts/0/addresses/0/elapsed_ms", 312);
	expect_str(j, "hosts/0/addresses/0/connect/status", "ok");
	expect_null(j, "hosts/0/addresses/0/connect/result_type");
	expect_int(j, "hosts/0/addresses/0/connect/ms", 12);

	expect_int(j, "hosts/0/addresses/0/smtp/greeting_code", 220);
	expect_str(j, "hosts/0/addresses/0/smtp/greeting", "mx1.example.com ESMTP Postfix");
	expect_int(j, "hosts/0/addresses/0/smtp/ehlo_code", 250);
	expect_size(j, "hosts/0/addresses/0/smtp/capabilities", 3);
	expect_str(j, "hosts/0/addresses/0/smtp/capabilities/1", "SIZE 10240000");
	expect_bool(j, "hosts/0/addresses/0/smtp/starttls_advertised", 1);
	expect_int(j, "hosts/0/addresses/0/smtp/starttls_code", 220);

	expect_str(j, "hosts/0/addresses/0/tls/status", "ok");
	expect_null(j, "hosts/0/addresses/0/tls/result_type");
	expect_str(j, "hosts/0/addresses/0/tls/version", "TLSv1.3");
	expect_str(j, "hosts/0/addresses/0/tls/cipher", "TLS_AES_256_GCM_SHA384");
	expect_str(j, "hosts/0/addresses/0/tls/sni", "mx1.example.com");
	expect_int(j, "hosts/0/addresses/0/tls/ms", 40);

	expect_size(j, "hosts/0/addresses/0/certificate/chain", 2);
	expect_str(j, "hosts/0/addresses/0/certificate/chain/0/subject", "CN=mx1.example.com");
	expect_str(j, "hosts/0/addresses/0/certificate/chain/0/issuer", "CN=Test CA 1,O=Test");
	expect_str(j, "hosts/0/addresses/0/certificate/chain/0/not_after", "2024-04-01T00:00:00Z");
	expect_str(j, "hosts/0/addresses/0/certificate/chain/0/sha256",
	           "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
	expect_str(j, "hosts/0/addresses/0/certificate/chain/1/sha256",
	           "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	expect_str(j, "hosts/0/addresses/0/certificate/chain/1/spki_sha256",
	           "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f");
	expect_bool(j, "hosts/0/addresses/0/certificate/chain/0/self_signed", 0);
	expect_size(j, "hosts/0/addresses/0/certificate/leaf_dns_names", 2);
	expect_str(j, "hosts/0/addresses/0/certificate/leaf_dns_names/1", "*.example.com");
	expect_int(j, "hosts/0/addresses/0/certificate/days_to_expiry", 89);

	expect_str(j, "hosts/0/addresses/0/pkix/status", "ok");
	expect_null(j, "hosts/0/addresses/0/pkix/result_type");
	expect_null(j, "hosts/0/addresses/0/pkix/x509_error");
	expect_null(j, "hosts/0/addresses/0/pkix/missing_intermediate");
	expect_str(j, "hosts/0/addresses/0/name/reference", "mx1.example.com");
	expect_str(j, "hosts/0/addresses/0/name/matched", "mx1.example.com");
	json_decref(j);
	mxs_result_free(&r);
}

/* A fresh result and a fresh address: everything optional is null, nothing is "" or 0. */
static void
test_json_empty_is_null(void **state)
{
	struct mxs_result *r = mxs_result_new("example.net");
	struct mxs_host *h;
	struct mxs_addr *a;
	json_t *j;

	(void)state;
	assert_non_null(r);
	assert_int_equal(mxs_result_add_host(r, "mx.example.net", 0, &h), 0);
	assert_int_equal(mxs_host_add_addr(h, "198.51.100.7", AF_INET, &a), 0);
	j = roundtrip(r);

	expect_str(j, "started", "1970-01-01T00:00:00.000Z");
	expect_str(j, "mx/status", "not-tested");
	expect_null(j, "mx/reason");
	expect_null(j, "mx/result_type");
	expect_bool(j, "mx/dns/answered", 0);
	expect_str(j, "mx/dns/dnssec", "unknown");
	expect_null(j, "mx/dns/why_bogus");
	expect_int(j, "hosts/0/preference", 0); /* 0 is a real preference */

	expect_str(j, "hosts/0/addresses/0/connect/status", "not-tested");
	expect_null(j, "hosts/0/addresses/0/connect/reason");
	expect_null(j, "hosts/0/addresses/0/smtp/greeting_code");
	expect_null(j, "hosts/0/addresses/0/smtp/greeting");
	expect_null(j, "hosts/0/addresses/0/smtp/ehlo_code");
	expect_size(j, "hosts/0/addresses/0/smtp/capabilities", 0);
	expect_bool(j, "hosts/0/addresses/0/smtp/starttls_advertised", 0);
	expect_null(j, "hosts/0/addresses/0/smtp/starttls_code");
	expect_null(j, "hosts/0/addresses/0/tls/version");
	expect_null(j, "hosts/0/addresses/0/tls/cipher");
	expect_null(j, "hosts/0/addresses/0/tls/sni");
	expect_int(j, "hosts/0/addresses/0/tls/ms", 0);
	expect_null(j, "hosts/0/addresses/0/certificate");
	expect_null(j, "hosts/0/addresses/0/pkix/x509_error");
	expect_null(j, "hosts/0/addresses/0/pkix/missing_intermediate");
	expect_null(j, "hosts/0/addresses/0/name/reference");
	expect_null(j, "hosts/0/addresses/0/name/matched");
	json_decref(j);
	mxs_result_free(&r);
}

static void
test_json_failures(void **state)
{
	struct mxs_result *r = good_tree();
	struct mxs_addr *a = r->hosts[0]->addrs[0], *b = r->hosts[0]->addrs[1];
	json_t *j;

	(void)state;
	mxs_verdict_set(&a->tls, MXS_ST_FAIL, MXS_RT_VALIDATION_FAILURE, "handshake failure");
	mxs_verdict_set(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_NOT_TRUSTED,
	                "unable to get local issuer certificate");
	a->x509_error = 20;
	snprintf(a->missing_intermediate, sizeof(a->missing_intermediate), "CN=Test CA 1,O=Test");
	mxs_verdict_set(&a->name, MXS_ST_FAIL, MXS_RT_CERT_HOST_MISMATCH, "no DNS-ID matches");
	a->name_matched[0] = '\0';
	a->chain[0].self_signed = 1;
	/* temporary never carries a result-type, even if the caller passed one */
	mxs_verdict_set(&b->smtp, MXS_ST_TEMPORARY, MXS_RT_STARTTLS_NOT_SUPPORTED, "421 busy");
	/* a hand-built ok verdict with a stray rtype: still null */
	b->connect.rtype = MXS_RT_DNSSEC_INVALID;
	b->nchain = 0;
	mxs_verdict_set(&r->mx.verdict, MXS_ST_FAIL, MXS_RT_DNSSEC_INVALID, "MX RRset bogus");
	r->mx.kind = MXS_MX_UNKNOWN;
	r->mx.dns.sec = MXS_SEC_BOGUS;
	snprintf(r->mx.dns.why_bogus, sizeof(r->mx.dns.why_bogus), "signature expired");
	j = roundtrip(r);

	expect_str(j, "mx/kind", "unknown");
	expect_str(j, "mx/status", "fail");
	expect_str(j, "mx/result_type", "dnssec-invalid");
	expect_str(j, "mx/dns/dnssec", "bogus");
	expect_str(j, "mx/dns/why_bogus", "signature expired");
	expect_str(j, "hosts/0/addresses/0/tls/status", "fail");
	expect_str(j, "hosts/0/addresses/0/tls/result_type", "validation-failure");
	expect_str(j, "hosts/0/addresses/0/tls/reason", "handshake failure");
	expect_str(j, "hosts/0/addresses/0/pkix/result_type", "certificate-not-trusted");
	expect_int(j, "hosts/0/addresses/0/pkix/x509_error", 20);
	expect_str(j, "hosts/0/addresses/0/pkix/missing_intermediate", "CN=Test CA 1,O=Test");
	expect_str(j, "hosts/0/addresses/0/name/result_type", "certificate-host-mismatch");
	expect_null(j, "hosts/0/addresses/0/name/matched");
	expect_bool(j, "hosts/0/addresses/0/certificate/chain/0/self_signed", 1);
	expect_str(j, "hosts/0/addresses/1/smtp/status", "temporary");
	expect_null(j, "hosts/0/addresses/1/smtp/result_type");
	expect_str(j, "hosts/0/addresses/1/connect/status", "ok");
	expect_null(j, "hosts/0/addresses/1/connect/result_type");
	expect_null(j, "hosts/0/addresses/1/certificate");
	json_decref(j);
	mxs_result_free(&r);
}

static void
test_json_implicit_mx(void **state)
{
	struct mxs_result *r = mxs_result_new("example.org");
	struct mxs_host *h;
	struct mxs_addr *a;
	json_t *j;

	(void)state;
	r->mx.kind = MXS_MX_IMPLICIT;
	fill_dns(&r->mx.dns, MXS_SEC_INSECURE, 0);
	mxs_verdict_set(&r->mx.verdict, MXS_ST_OK, MXS_RT_NONE, "no MX, using address records");
	assert_int_equal(mxs_result_add_host(r, "example.org", -1, &h), 0);
	assert_int_equal(mxs_host_add_addr(h, "2001:db8::1", AF_INET6, &a), 0);
	j = roundtrip(r);
	expect_str(j, "mx/kind", "implicit");
	expect_null(j, "hosts/0/preference");
	expect_str(j, "hosts/0/name", "example.org");
	expect_str(j, "hosts/0/addresses/0/family", "ipv6");
	json_decref(j);
	mxs_result_free(&r);
}

/* DNS answers, table-driven: rcode names and when why_bogus shows. */
static void
test_json_dns_table(void **state)
{
	static const struct {
		int done, rcode;
		enum mxs_dnssec sec;
		const char *why;
		const char *rcode_name, *sec_name, *why_out, *err_out;
	} cases[] = {
	        {1, 0, MXS_SEC_SECURE, "", "NOERROR", "secure", NULL, NULL},
	        {1, 1, MXS_SEC_INSECURE, "", "FORMERR", "insecure", NULL, NULL},
	        {1, 2, MXS_SEC_UNKNOWN, "", "SERVFAIL", "unknown", NULL, NULL},
	        {1, 3, MXS_SEC_SECURE, "", "NXDOMAIN", "secure", NULL, NULL},
	        {1, 4, MXS_SEC_INSECURE, "", "NOTIMP", "insecure", NULL, NULL},
	        {1, 5, MXS_SEC_INSECURE, "", "REFUSED", "insecure", NULL, NULL},
	        {1, 9, MXS_SEC_INSECURE, "", "RCODE9", "insecure", NULL, NULL},
	        {1, 23, MXS_SEC_INSECURE, "", "RCODE23", "insecure", NULL, NULL},
	        {1, 2, MXS_SEC_BOGUS, "DS mismatch", "SERVFAIL", "bogus", "DS mismatch", NULL},
	        {1, 0, MXS_SEC_BOGUS, "", "NOERROR", "bogus", NULL, NULL},
	        /* only bogus answers carry a why_bogus */
	        {1, 0, MXS_SEC_SECURE, "stale text", "NOERROR", "secure", NULL, NULL},
	        /* no answer: rcode is null and error says why */
	        {0, -1, MXS_SEC_UNKNOWN, "no answer within 5000 ms", NULL, "unknown", NULL,
	         "no answer within 5000 ms"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mxs_result *r = mxs_result_new("example.com");
		struct mxs_host *h;
		json_t *j;

		assert_int_equal(mxs_result_add_host(r, "mx.example.com", 5, &h), 0);
		h->aaaa.done = cases[i].done;
		h->aaaa.rcode = cases[i].rcode;
		h->aaaa.sec = cases[i].sec;
		h->aaaa.ttl = 4000000000u;
		snprintf(h->aaaa.why_bogus, sizeof(h->aaaa.why_bogus), "%s", cases[i].why);
		j = roundtrip(r);
		expect_bool(j, "hosts/0/aaaa/answered", cases[i].done);
		expect_str(j, "hosts/0/aaaa/rcode", cases[i].rcode_name);
		expect_str(j, "hosts/0/aaaa/dnssec", cases[i].sec_name);
		expect_str(j, "hosts/0/aaaa/why_bogus", cases[i].why_out);
		expect_str(j, "hosts/0/aaaa/error", cases[i].err_out);
		expect_int(j, "hosts/0/aaaa/ttl", 4000000000LL);
		expect_size(j, "hosts/0/addresses", 0);
		json_decref(j);
		mxs_result_free(&r);
	}
}

static void
test_json_started_format(void **state)
{
	static const struct {
		int64_t ms;
		const char *want;
	} cases[] = {
	        {0, "1970-01-01T00:00:00.000Z"},
	        {1, "1970-01-01T00:00:00.001Z"},
	        {-1, "1969-12-31T23:59:59.999Z"},
	        {951782400000LL, "2000-02-29T00:00:00.000Z"},
	        {1700000000123LL, "2023-11-14T22:13:20.123Z"},
	        {253402300799999LL, "9999-12-31T23:59:59.999Z"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mxs_result *r = mxs_result_new("example.com");
		json_t *j;

		r->started_ms = cases[i].ms;
		j = roundtrip(r);
		expect_str(j, "started", cases[i].want);
		json_decref(j);
		mxs_result_free(&r);
	}
}

/*
 * Bytes from a hostile server: invalid UTF-8, control characters, an
 * escape sequence.  The output must parse; valid UTF-8 passes unchanged.
 */
static void
test_json_hostile_bytes(void **state)
{
	struct mxs_result *r = good_tree();
	struct mxs_addr *a = r->hosts[0]->addrs[0];
	json_t *j;

	(void)state;
	snprintf(a->greeting, sizeof(a->greeting), "hi \xff\xfe\x01\x1b[31m \"q\" \\ end");
	assert_int_equal(mxs_strv_add(&a->caps, &a->ncaps, MXS_EHLO_CAPS_MAX, "X\xc3\x28Y"), 0);
	mxs_verdict_set(&a->smtp, MXS_ST_FAIL, MXS_RT_STARTTLS_NOT_SUPPORTED,
	                "STARTTLS refused: 454 \x80\x7f\t\n");
	snprintf(a->chain[0].subject, sizeof(a->chain[0].subject), "CN=m\xc3\xa9l.example");
	snprintf(a->chain[0].issuer, sizeof(a->chain[0].issuer), "CN=\xed\xa0\x80surrogate");
	/* a full array with no terminator must not be read past */
	memset(a->tls_cipher, 'C', sizeof(a->tls_cipher));
	j = roundtrip(r);

	expect_str(j, "hosts/0/addresses/0/smtp/greeting", "hi ??\x01\x1b[31m \"q\" \\ end");
	expect_str(j, "hosts/0/addresses/0/smtp/capabilities/3", "X?(Y");
	expect_str(j, "hosts/0/addresses/0/smtp/reason", "STARTTLS refused: 454 ?\x7f\t\n");
	expect_str(j, "hosts/0/addresses/0/smtp/result_type", "starttls-not-supported");
	expect_str(j, "hosts/0/addresses/0/certificate/chain/0/subject", "CN=m\xc3\xa9l.example");
	expect_str(j, "hosts/0/addresses/0/certificate/chain/0/issuer", "CN=???surrogate");
	assert_int_equal(strlen(json_string_value(jget(j, "hosts/0/addresses/0/tls/cipher"))),
	                 sizeof(a->tls_cipher));
	json_decref(j);
	mxs_result_free(&r);
}

static void
test_json_stable(void **state)
{
	struct mxs_result *r1 = good_tree(), *r2 = good_tree();
	char *s1 = dump(r1), *s2 = dump(r1), *s3 = dump(r2);

	(void)state;
	assert_string_equal(s1, s2);
	assert_string_equal(s1, s3);
	/* pretty-printed with a two-space indent */
	assert_non_null(strstr(s1, "{\n  \"schema\": 1,\n  \"domain\": \"example.com\",\n"));
	free(s1);
	free(s2);
	free(s3);
	mxs_result_free(&r1);
	mxs_result_free(&r2);
}

/* The largest tree result.h allows: 32 hosts x 32 addresses, full chains and caps. */
static void
test_json_limits(void **state)
{
	struct mxs_result *r = mxs_result_new("example.com");
	struct mxs_host *h;
	struct mxs_addr *a;
	char name[64];
	json_t *j;

	(void)state;
	for (int i = 0; i < MXS_MX_MAX; i++) {
		snprintf(name, sizeof(name), "mx%d.example.com", i);
		assert_int_equal(mxs_result_add_host(r, name, i, &h), 0);
		for (int k = 0; k < 2 * MXS_ADDR_MAX; k++) {
			snprintf(name, sizeof(name), "2001:db8::%x:%x", i, k);
			assert_int_equal(mxs_host_add_addr(h, name, AF_INET6, &a), 0);
			fill_good_addr(a, h->name);
			for (size_t c = 2; c < MXS_CHAIN_MAX; c++)
				fill_cert(&a->chain[c], "CN=x", "CN=y", (unsigned char)c);
			a->nchain = MXS_CHAIN_MAX;
			while (a->ncaps < MXS_EHLO_CAPS_MAX)
				assert_int_equal(mxs_strv_add(&a->caps, &a->ncaps,
				                              MXS_EHLO_CAPS_MAX, "X-CAP"),
				                 0);
		}
		assert_int_equal(mxs_host_add_addr(h, "192.0.2.1", AF_INET, &a), MXS_ELIMIT);
		assert_null(a);
	}
	assert_int_equal(mxs_result_add_host(r, "one-too-many.example", 1, &h), MXS_ELIMIT);

	j = roundtrip(r);
	expect_size(j, "hosts", MXS_MX_MAX);
	expect_size(j, "hosts/31/addresses", 2 * MXS_ADDR_MAX);
	expect_str(j, "hosts/31/addresses/31/address", "2001:db8::1f:1f");
	expect_size(j, "hosts/31/addresses/31/certificate/chain", MXS_CHAIN_MAX);
	expect_size(j, "hosts/31/addresses/31/smtp/capabilities", MXS_EHLO_CAPS_MAX);
	json_decref(j);
	mxs_result_free(&r);
}

/* A tree that breaks result.h's invariants is refused, not half-written. */
static void
test_json_rejects_broken_tree(void **state)
{
	struct mxs_result *r;
	char *s;

	(void)state;
	r = good_tree();
	r->hosts[0]->addrs[1]->family = AF_UNIX;
	s = (char *)1;
	assert_int_equal(mxs_result_to_json(r, &s), MXS_EINVAL);
	assert_null(s);
	mxs_result_free(&r);

	r = good_tree();
	r->hosts[0]->addrs[0]->nchain = MXS_CHAIN_MAX + 1;
	assert_int_equal(mxs_result_to_json(r, &s), MXS_EINVAL);
	assert_null(s);
	mxs_result_free(&r);

	r = good_tree();
	r->started_ms = 253402300800000LL; /* year 10000 */
	assert_int_equal(mxs_result_to_json(r, &s), MXS_EINVAL);
	assert_null(s);
	mxs_result_free(&r);
}

/* An allocator for jansson that fails once its budget is spent. */
static long alloc_budget;

static void *
budget_malloc(size_t n)
{
	return alloc_budget-- > 0 ? malloc(n) : NULL;
}

/*
 * Fail jansson's Nth allocation for every N until serialisation succeeds:
 * each failure must be MXS_ENOMEM with *out NULL, and (under ASan) leak
 * nothing.
 */
static void
test_json_enomem_everywhere(void **state)
{
	struct mxs_result *r = good_tree();
	char *want, *s;
	long n;
	int err;

	(void)state;
	/* take the invalid-UTF-8 retry path too */
	snprintf(r->hosts[0]->addrs[0]->greeting, sizeof(r->hosts[0]->addrs[0]->greeting),
	         "bad \xff byte");
	want = dump(r);
	for (n = 0;; n++) {
		alloc_budget = n;
		json_set_alloc_funcs(budget_malloc, free);
		s = (char *)1;
		err = mxs_result_to_json(r, &s);
		json_set_alloc_funcs(malloc, free);
		if (err == 0)
			break;
		assert_int_equal(err, MXS_ENOMEM);
		assert_null(s);
	}
	assert_true(n > 100);
	assert_string_equal(s, want);
	free(s);
	free(want);
	mxs_result_free(&r);
}

/* ---- table -------------------------------------------------------------- */

static char *
table(const struct mxs_result *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	mxs_result_print_table(r, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(buf);
	return buf;
}

/* The line of text that contains needle (copied into line), or fail. */
static void
line_with(const char *text, const char *needle, char *line, size_t len)
{
	const char *p = strstr(text, needle), *b, *e;

	if (p == NULL)
		fail_msg("no line with \"%s\" in:\n%s", needle, text);
	for (b = p; b > text && b[-1] != '\n'; b--)
		;
	e = strchr(p, '\n');
	assert_non_null(e);
	assert_true((size_t)(e - b) < len);
	memcpy(line, b, (size_t)(e - b));
	line[e - b] = '\0';
}

/* Column where needle starts in the line containing key. */
static long
col_of(const char *text, const char *key, const char *needle)
{
	char line[1024];
	const char *p;

	line_with(text, key, line, sizeof(line));
	p = strstr(line, needle);
	if (p == NULL)
		fail_msg("\"%s\" not in line \"%s\"", needle, line);
	return p - line;
}

/* A tree for the table: a good host, a long-named broken host, an unresolvable one. */
static struct mxs_result *
table_tree(const char *long_name)
{
	struct mxs_result *r = good_tree();
	struct mxs_host *h;
	struct mxs_addr *a;

	assert_int_equal(mxs_result_add_host(r, long_name, 20, &h), 0);
	fill_dns(&h->a, MXS_SEC_BOGUS, 60);
	mxs_verdict_set(&h->dns, MXS_ST_TEMPORARY, MXS_RT_NONE, "AAAA lookup timed out");
	assert_int_equal(mxs_host_add_addr(h, "203.0.113.9", AF_INET, &a), 0);
	fill_good_addr(a, h->name);
	a->days_to_expiry = -3;
	snprintf(a->tls_version, sizeof(a->tls_version), "TLSv1.2");
	mxs_verdict_set(&a->tls, MXS_ST_FAIL, MXS_RT_CERT_EXPIRED,
	                "certificate expired %d days ago", 3);
	mxs_verdict_set(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_EXPIRED, "certificate has expired");
	mxs_verdict_set(&a->name, MXS_ST_TEMPORARY, MXS_RT_NONE, "%s", "");

	assert_int_equal(mxs_result_add_host(r, "mx3.example.com", 30, &h), 0);
	mxs_verdict_set(&h->dns, MXS_ST_FAIL, MXS_RT_DNSSEC_INVALID, "A RRset bogus");
	return r;
}

static void
test_table_rows(void **state)
{
	struct mxs_result *r = table_tree("mx2.example.com");
	char *t = table(r);
	char line[1024];

	(void)state;
	assert_non_null(strstr(t, "domain  example.com\n"));
	assert_non_null(strstr(t, "mx      records, ok: 1 MX record\n"));
	assert_non_null(strstr(t, "dnssec  secure\n"));
	line_with(t, "PREF", line, sizeof(line));
	assert_string_equal(line, "PREF  MX HOST          ADDRESS       DNSSEC    STARTTLS  "
	                          "TLS           PKIX  NAME  EXPIRY");
	line_with(t, "192.0.2.25", line, sizeof(line));
	assert_string_equal(line, "10    mx1.example.com  192.0.2.25    secure    yes       "
	                          "ok TLSv1.3    ok    ok    89d");
	line_with(t, "2001:db8::25", line, sizeof(line));
	assert_string_equal(line, "10    mx1.example.com  2001:db8::25  insecure  yes       "
	                          "ok TLSv1.3    ok    ok    89d");
	line_with(t, "203.0.113.9", line, sizeof(line));
	assert_string_equal(line, "20    mx2.example.com  203.0.113.9   bogus     yes       "
	                          "fail TLSv1.2  fail  temp  -3d");
	assert_non_null(strstr(t,
	                       "-3d\n"
	                       "  tls: fail (certificate-expired): certificate expired 3 days ago\n"
	                       "  pkix: fail (certificate-expired): certificate has expired\n"
	                       "  name: temporary\n"
	                       "  dns: temporary: AAAA lookup timed out\n"));
	line_with(t, "mx3.example.com", line, sizeof(line));
	assert_string_equal(line, "30    mx3.example.com  no address - dns: fail "
	                          "(dnssec-invalid): A RRset bogus");
	/* no detail lines under good rows, no trailing blanks anywhere */
	assert_null(strstr(t, "89d\n  "));
	assert_null(strstr(t, " \n"));
	free(t);
	mxs_result_free(&r);
}

/* A long host name widens its column; every row stays aligned. */
static void
test_table_long_host_alignment(void **state)
{
	char long_name[200];
	struct mxs_result *r;
	char *t;
	long addr_col, dnssec_col, expiry_col;

	(void)state;
	memset(long_name, 'a', sizeof(long_name));
	memcpy(long_name + sizeof(long_name) - 13, ".example.com", 13);
	r = table_tree(long_name);
	t = table(r);

	addr_col = col_of(t, "PREF", "ADDRESS");
	assert_int_equal(addr_col, 6 + (long)strlen(long_name) + 2);
	assert_int_equal(col_of(t, "192.0.2.25", "192.0.2.25"), addr_col);
	assert_int_equal(col_of(t, "2001:db8::25", "2001:db8::25"), addr_col);
	assert_int_equal(col_of(t, "203.0.113.9", "203.0.113.9"), addr_col);
	assert_int_equal(col_of(t, "mx3.example.com", "no address"), addr_col);
	assert_int_equal(col_of(t, "203.0.113.9", long_name), 6);

	dnssec_col = col_of(t, "PREF", "DNSSEC");
	assert_int_equal(col_of(t, "192.0.2.25", "secure"), dnssec_col);
	assert_int_equal(col_of(t, "203.0.113.9", "bogus"), dnssec_col);
	expiry_col = col_of(t, "PREF", "EXPIRY");
	assert_int_equal(col_of(t, "192.0.2.25", "89d"), expiry_col);
	assert_int_equal(col_of(t, "203.0.113.9", "-3d"), expiry_col);
	free(t);
	mxs_result_free(&r);
}

/* Hostile bytes never reach the terminal; an empty result prints only its header. */
static void
test_table_hostile_and_empty(void **state)
{
	struct mxs_result *r = good_tree();
	struct mxs_addr *a = r->hosts[0]->addrs[0];
	char line[1024];
	char *t;

	(void)state;
	mxs_verdict_set(&a->smtp, MXS_ST_FAIL, MXS_RT_STARTTLS_NOT_SUPPORTED,
	                "refused \x1b[2J\x1b]0;pwned\x07 \xff\nfake: line");
	a->starttls_advertised = 0;
	a->ehlo_code = 250;
	mxs_verdict_set(&a->tls, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no STARTTLS");
	a->tls_version[0] = '\0';
	a->nchain = 0;
	snprintf(r->hosts[0]->name, sizeof(r->hosts[0]->name), "mx\x1b[1m.example.com");
	t = table(r);
	assert_null(strchr(t, '\x1b'));
	assert_null(strchr(t, '\x07'));
	assert_null(strchr(t, '\xff'));
	assert_non_null(strstr(t, "  smtp: fail (starttls-not-supported): "
	                          "refused ?[2J?]0;pwned? ??fake: line\n"));
	assert_non_null(strstr(t, "mx?[1m.example.com  192.0.2.25"));
	line_with(t, "192.0.2.25", line, sizeof(line));
	assert_string_equal(line, "10    mx?[1m.example.com  192.0.2.25    secure    no        "
	                          "-           ok    ok    -");
	free(t);
	mxs_result_free(&r);

	r = mxs_result_new("example.invalid");
	r->mx.kind = MXS_MX_NONE;
	mxs_verdict_set(&r->mx.verdict, MXS_ST_FAIL, MXS_RT_NONE, "NXDOMAIN");
	r->mx.dns.done = 1;
	r->mx.dns.rcode = 3;
	t = table(r);
	assert_string_equal(t, "domain  example.invalid\n"
	                       "mx      none, fail: NXDOMAIN\n"
	                       "dnssec  unknown\n");
	free(t);
	mxs_result_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_json_top_and_key_order),
	        cmocka_unit_test(test_json_ok_tree_fields),
	        cmocka_unit_test(test_json_empty_is_null),
	        cmocka_unit_test(test_json_failures),
	        cmocka_unit_test(test_json_implicit_mx),
	        cmocka_unit_test(test_json_dns_table),
	        cmocka_unit_test(test_json_started_format),
	        cmocka_unit_test(test_json_hostile_bytes),
	        cmocka_unit_test(test_json_stable),
	        cmocka_unit_test(test_json_limits),
	        cmocka_unit_test(test_json_rejects_broken_tree),
	        cmocka_unit_test(test_json_enomem_everywhere),
	        cmocka_unit_test(test_table_rows),
	        cmocka_unit_test(test_table_long_host_alignment),
	        cmocka_unit_test(test_table_hostile_and_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
