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

static void
fill_digest(unsigned char *d, size_t n, unsigned char seed)
{
	for (size_t i = 0; i < n; i++)
		d[i] = (unsigned char)(seed + i);
}

static void
add_str(char ***v, size_t *n, const char *s)
{
	assert_int_equal(mxs_strv_add(v, n, 256, s), 0);
}

/*
 * good_tree plus everything issue 3 added: a DANE host (TLSA asked, two
 * usable records) whose IPv4 address is DANE-valid and IPv6 address
 * tlsa-invalid, an MTA-STS policy that was fetched and covers the MX, and
 * a TLS-RPT record with two URIs.
 */
static struct mxs_result *
full_tree(void)
{
	struct mxs_result *r = good_tree();
	struct mxs_host *h = r->hosts[0];
	struct mxs_addr *a = h->addrs[0], *b = h->addrs[1];
	struct mxs_sts *s = &r->sts;
	struct mxs_tlsrpt *t = &r->tlsrpt;

	h->tlsa_asked = 1;
	fill_dns(&h->tlsa, MXS_SEC_SECURE, 1800);
	snprintf(h->dane_state, sizeof(h->dane_state), "pending");
	snprintf(h->dane_reason, sizeof(h->dane_reason), "2 usable TLSA records");
	h->starttls_required = 1;
	add_str(&h->tlsa_records, &h->ntlsa_records, "3 1 1 3111668338043DE2... (usable)");
	add_str(&h->tlsa_records, &h->ntlsa_records, "3 1 1 0A1B2C3D4E5F6071... (usable)");
	h->sts_covered = 1;
	snprintf(h->sts_pattern, sizeof(h->sts_pattern), "*.example.com");

	mxs_verdict_set(&a->dane, MXS_ST_OK, MXS_RT_NONE,
	                "3 1 1 3111668338043DE2... matches the leaf");
	snprintf(a->dane_state, sizeof(a->dane_state), "valid");
	snprintf(a->dane_record, sizeof(a->dane_record), "3 1 1 3111668338043DE2...");
	a->dane_depth = 0;
	a->dane_rollover_ready = 1;
	a->dane_matched = 1;
	a->dane_unmatched = 1;
	mxs_verdict_set(&b->dane, MXS_ST_FAIL, MXS_RT_TLSA_INVALID,
	                "none of 2 usable TLSA records matches the chain");
	snprintf(b->dane_state, sizeof(b->dane_state), "tlsa-invalid");
	b->dane_unmatched = 2;

	fill_dns(&s->txt_dns, MXS_SEC_SECURE, 900);
	mxs_verdict_set(&s->txt, MXS_ST_OK, MXS_RT_NONE, "one valid record");
	snprintf(s->txt_state, sizeof(s->txt_state), "valid");
	snprintf(s->id, sizeof(s->id), "20240501T000000");
	fill_dns(&s->host_a, MXS_SEC_INSECURE, 60);
	fill_dns(&s->host_aaaa, MXS_SEC_INSECURE, 61);
	mxs_verdict_set(&s->fetch, MXS_ST_OK, MXS_RT_NONE, "HTTP 200, 83 bytes");
	s->http_status = 200;
	snprintf(s->content_type, sizeof(s->content_type), "text/plain; charset=utf-8");
	s->body_len = 83;
	fill_digest(s->body_sha256, sizeof(s->body_sha256), 0x10);
	s->have_body = 1;
	snprintf(s->https_tls_version, sizeof(s->https_tls_version), "TLSv1.3");
	mxs_verdict_set(&s->https_pkix, MXS_ST_OK, MXS_RT_NONE, "chain valid");
	mxs_verdict_set(&s->https_name, MXS_ST_OK, MXS_RT_NONE, "matched mta-sts.example.com");
	s->https_days_to_expiry = 60;
	s->https_have_cert = 1;
	fill_digest(s->https_leaf_sha256, sizeof(s->https_leaf_sha256), 0xc0);
	mxs_verdict_set(&s->policy, MXS_ST_OK, MXS_RT_NONE, "mode enforce, max_age 604800");
	snprintf(s->mode, sizeof(s->mode), "enforce");
	s->max_age = 604800;
	add_str(&s->mx, &s->nmx, "*.example.com");
	add_str(&s->mx, &s->nmx, "backup.example.net");
	mxs_verdict_set(&s->coverage, MXS_ST_OK, MXS_RT_NONE,
	                "every live MX matches a policy mx pattern");

	fill_dns(&t->dns, MXS_SEC_SECURE, 3600);
	mxs_verdict_set(&t->verdict, MXS_ST_OK, MXS_RT_NONE, "one valid record");
	snprintf(t->state, sizeof(t->state), "valid");
	add_str(&t->rua, &t->nrua, "mailto:tlsrpt@example.com");
	add_str(&t->rua, &t->nrua, "https://rpt.example.com/v1");
	return r;
}

/* ---- JSON --------------------------------------------------------------- */

static void
test_json_top_and_key_order(void **state)
{
	static const char *const top[] = {"schema", "domain",  "started", "elapsed_ms", "mx",
	                                  "hosts",  "mta_sts", "tls_rpt", NULL};
	static const char *const mx[] = {"kind", "status", "reason", "result_type", "dns", NULL};
	static const char *const dns[] = {"answered", "rcode", "dnssec", "why_bogus",
	                                  "error",    "ttl",   "ms",     NULL};
	static const char *const host2[] = {"name",      "preference", "dns",     "a", "aaaa",
	                                    "addresses", "dane",       "mta_sts", NULL};
	static const char *const addr[] = {"address", "family", "elapsed_ms",  "connect",
	                                   "smtp",    "tls",    "certificate", "pkix",
	                                   "name",    "dane",   "shared",      NULL};
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
	static const char *const addr_dane[] = {"status",    "reason", "result_type",    "state",
	                                        "record",    "depth",  "rollover_ready", "matched",
	                                        "unmatched", NULL};
	static const char *const host_dane[] = {"tlsa_asked",        "tlsa",    "state", "reason",
	                                        "starttls_required", "records", NULL};
	static const char *const host_sts[] = {"covered", "pattern", NULL};
	static const char *const sts[] = {"txt",    "policy_host", "fetch",
	                                  "policy", "coverage",    NULL};
	static const char *const sts_txt[] = {"status", "reason", "result_type", "state",
	                                      "id",     "dns",    NULL};
	static const char *const policy_host[] = {"a", "aaaa", NULL};
	static const char *const fetch[] = {
	        "status",       "reason",      "result_type", "http_status",
	        "content_type", "location",    "body_bytes",  "body_sha256",
	        "tls_version",  "certificate", NULL};
	static const char *const fetch_cert[] = {"pkix", "name", "days_to_expiry", "leaf_sha256",
	                                         NULL};
	static const char *const policy[] = {"status",  "reason", "result_type", "mode",
	                                     "max_age", "mx",     NULL};
	static const char *const tlsrpt[] = {"status", "reason",       "result_type", "state",
	                                     "rua",    "rua_repeated", "dns",         NULL};
	struct mxs_result *r = full_tree();
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
	expect_keys(j, "hosts/0/addresses/0/dane", addr_dane);
	expect_keys(j, "hosts/0/addresses/1/dane", addr_dane);
	expect_keys(j, "hosts/0/dane", host_dane);
	expect_keys(j, "hosts/0/dane/tlsa", dns);
	expect_keys(j, "hosts/0/mta_sts", host_sts);
	expect_keys(j, "mta_sts", sts);
	expect_keys(j, "mta_sts/txt", sts_txt);
	expect_keys(j, "mta_sts/txt/dns", dns);
	expect_keys(j, "mta_sts/policy_host", policy_host);
	expect_keys(j, "mta_sts/policy_host/a", dns);
	expect_keys(j, "mta_sts/policy_host/aaaa", dns);
	expect_keys(j, "mta_sts/fetch", fetch);
	expect_keys(j, "mta_sts/fetch/certificate", fetch_cert);
	expect_keys(j, "mta_sts/fetch/certificate/pkix", verdict);
	expect_keys(j, "mta_sts/fetch/certificate/name", verdict);
	expect_keys(j, "mta_sts/policy", policy);
	expect_keys(j, "mta_sts/coverage", verdict);
	expect_keys(j, "tls_rpt", tlsrpt);
	expect_keys(j, "tls_rpt/dns", dns);

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

	/* issue 3 fields of a fresh tree */
	expect_str(j, "hosts/0/addresses/0/dane/status", "not-tested");
	expect_null(j, "hosts/0/addresses/0/dane/reason");
	expect_null(j, "hosts/0/addresses/0/dane/result_type");
	expect_null(j, "hosts/0/addresses/0/dane/state");
	expect_null(j, "hosts/0/addresses/0/dane/record");
	expect_null(j, "hosts/0/addresses/0/dane/depth"); /* -1 from mxs_host_add_addr */
	expect_bool(j, "hosts/0/addresses/0/dane/rollover_ready", 0);
	expect_int(j, "hosts/0/addresses/0/dane/matched", 0);
	expect_int(j, "hosts/0/addresses/0/dane/unmatched", 0);
	expect_bool(j, "hosts/0/dane/tlsa_asked", 0);
	expect_null(j, "hosts/0/dane/tlsa");
	expect_null(j, "hosts/0/dane/state");
	expect_null(j, "hosts/0/dane/reason");
	expect_bool(j, "hosts/0/dane/starttls_required", 0);
	expect_size(j, "hosts/0/dane/records", 0);
	expect_null(j, "hosts/0/mta_sts/covered"); /* -1 from mxs_result_add_host */
	expect_null(j, "hosts/0/mta_sts/pattern");

	expect_str(j, "mta_sts/txt/status", "not-tested");
	expect_null(j, "mta_sts/txt/reason");
	expect_null(j, "mta_sts/txt/state");
	expect_null(j, "mta_sts/txt/id");
	expect_bool(j, "mta_sts/txt/dns/answered", 0);
	expect_bool(j, "mta_sts/policy_host/a/answered", 0);
	expect_null(j, "mta_sts/policy_host/aaaa/rcode");
	expect_str(j, "mta_sts/fetch/status", "not-tested");
	expect_null(j, "mta_sts/fetch/http_status");
	expect_null(j, "mta_sts/fetch/content_type");
	expect_null(j, "mta_sts/fetch/location");
	expect_int(j, "mta_sts/fetch/body_bytes", 0);
	expect_null(j, "mta_sts/fetch/body_sha256");
	expect_null(j, "mta_sts/fetch/tls_version");
	expect_null(j, "mta_sts/fetch/certificate");
	expect_str(j, "mta_sts/policy/status", "not-tested");
	expect_null(j, "mta_sts/policy/mode");
	expect_null(j, "mta_sts/policy/max_age");
	expect_size(j, "mta_sts/policy/mx", 0);
	expect_str(j, "mta_sts/coverage/status", "not-tested");
	expect_null(j, "mta_sts/coverage/result_type");
	expect_str(j, "tls_rpt/status", "not-tested");
	expect_null(j, "tls_rpt/state");
	expect_size(j, "tls_rpt/rua", 0);
	expect_bool(j, "tls_rpt/rua_repeated", 0);
	expect_bool(j, "tls_rpt/dns/answered", 0);
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

/* DANE per address and per host, MTA-STS coverage per host: exact values. */
static void
test_json_dane_fields(void **state)
{
	struct mxs_result *r = full_tree();
	json_t *j = roundtrip(r);

	(void)state;
	expect_str(j, "hosts/0/addresses/0/dane/status", "ok");
	expect_str(j, "hosts/0/addresses/0/dane/reason",
	           "3 1 1 3111668338043DE2... matches the leaf");
	expect_null(j, "hosts/0/addresses/0/dane/result_type");
	expect_str(j, "hosts/0/addresses/0/dane/state", "valid");
	expect_str(j, "hosts/0/addresses/0/dane/record", "3 1 1 3111668338043DE2...");
	expect_int(j, "hosts/0/addresses/0/dane/depth", 0); /* 0 is the leaf, not "none" */
	expect_bool(j, "hosts/0/addresses/0/dane/rollover_ready", 1);
	expect_int(j, "hosts/0/addresses/0/dane/matched", 1);
	expect_int(j, "hosts/0/addresses/0/dane/unmatched", 1);

	expect_str(j, "hosts/0/addresses/1/dane/status", "fail");
	expect_str(j, "hosts/0/addresses/1/dane/result_type", "tlsa-invalid");
	expect_str(j, "hosts/0/addresses/1/dane/reason",
	           "none of 2 usable TLSA records matches the chain");
	expect_str(j, "hosts/0/addresses/1/dane/state", "tlsa-invalid");
	expect_null(j, "hosts/0/addresses/1/dane/record");
	expect_null(j, "hosts/0/addresses/1/dane/depth");
	expect_bool(j, "hosts/0/addresses/1/dane/rollover_ready", 0);
	expect_int(j, "hosts/0/addresses/1/dane/matched", 0);
	expect_int(j, "hosts/0/addresses/1/dane/unmatched", 2);

	expect_bool(j, "hosts/0/dane/tlsa_asked", 1);
	expect_bool(j, "hosts/0/dane/tlsa/answered", 1);
	expect_str(j, "hosts/0/dane/tlsa/rcode", "NOERROR");
	expect_str(j, "hosts/0/dane/tlsa/dnssec", "secure");
	expect_int(j, "hosts/0/dane/tlsa/ttl", 1800);
	expect_str(j, "hosts/0/dane/state", "pending");
	expect_str(j, "hosts/0/dane/reason", "2 usable TLSA records");
	expect_bool(j, "hosts/0/dane/starttls_required", 1);
	expect_size(j, "hosts/0/dane/records", 2);
	expect_str(j, "hosts/0/dane/records/0", "3 1 1 3111668338043DE2... (usable)");
	expect_str(j, "hosts/0/dane/records/1", "3 1 1 0A1B2C3D4E5F6071... (usable)");
	expect_bool(j, "hosts/0/mta_sts/covered", 1);
	expect_str(j, "hosts/0/mta_sts/pattern", "*.example.com");
	json_decref(j);
	mxs_result_free(&r);
}

/*
 * The "none" sentinels, table-driven: a depth of -1 and a coverage of -1
 * are null, any real value is kept; a TLSA lookup never asked is null even
 * when stale data sits in the struct.
 */
static void
test_json_dane_sentinels(void **state)
{
	static const struct {
		int depth, covered, tlsa_asked;
		const char *pattern;
	} cases[] = {
	        {-1, -1, 0, ""},
	        {0, 0, 1, ""},
	        {2, 1, 1, "mx1.example.com"},
	        {-1, 1, 0, "*.example.com"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mxs_result *r = good_tree();
		struct mxs_host *h = r->hosts[0];
		json_t *j;

		h->addrs[0]->dane_depth = cases[i].depth;
		h->sts_covered = cases[i].covered;
		snprintf(h->sts_pattern, sizeof(h->sts_pattern), "%s", cases[i].pattern);
		h->tlsa_asked = cases[i].tlsa_asked;
		fill_dns(&h->tlsa, MXS_SEC_INSECURE, 5); /* stale unless asked */
		if (!cases[i].tlsa_asked) {
			snprintf(h->dane_state, sizeof(h->dane_state), "not-applicable");
			snprintf(h->dane_reason, sizeof(h->dane_reason),
			         "address records not DNSSEC-secure");
		}
		j = roundtrip(r);
		if (cases[i].depth < 0)
			expect_null(j, "hosts/0/addresses/0/dane/depth");
		else
			expect_int(j, "hosts/0/addresses/0/dane/depth", cases[i].depth);
		if (cases[i].covered < 0)
			expect_null(j, "hosts/0/mta_sts/covered");
		else
			expect_bool(j, "hosts/0/mta_sts/covered", cases[i].covered);
		expect_str(j, "hosts/0/mta_sts/pattern",
		           cases[i].pattern[0] != '\0' ? cases[i].pattern : NULL);
		expect_bool(j, "hosts/0/dane/tlsa_asked", cases[i].tlsa_asked);
		if (cases[i].tlsa_asked) {
			expect_str(j, "hosts/0/dane/tlsa/dnssec", "insecure");
			expect_int(j, "hosts/0/dane/tlsa/ttl", 5);
		} else {
			expect_null(j, "hosts/0/dane/tlsa");
			expect_str(j, "hosts/0/dane/state", "not-applicable");
			expect_str(j, "hosts/0/dane/reason", "address records not DNSSEC-secure");
		}
		json_decref(j);
		mxs_result_free(&r);
	}
}

static void
test_json_sts_fields(void **state)
{
	struct mxs_result *r = full_tree();
	json_t *j = roundtrip(r);

	(void)state;
	expect_str(j, "mta_sts/txt/status", "ok");
	expect_str(j, "mta_sts/txt/reason", "one valid record");
	expect_null(j, "mta_sts/txt/result_type");
	expect_str(j, "mta_sts/txt/state", "valid");
	expect_str(j, "mta_sts/txt/id", "20240501T000000");
	expect_str(j, "mta_sts/txt/dns/dnssec", "secure");
	expect_int(j, "mta_sts/txt/dns/ttl", 900);
	expect_str(j, "mta_sts/policy_host/a/dnssec", "insecure");
	expect_int(j, "mta_sts/policy_host/a/ttl", 60);
	expect_int(j, "mta_sts/policy_host/aaaa/ttl", 61);

	expect_str(j, "mta_sts/fetch/status", "ok");
	expect_str(j, "mta_sts/fetch/reason", "HTTP 200, 83 bytes");
	expect_null(j, "mta_sts/fetch/result_type");
	expect_int(j, "mta_sts/fetch/http_status", 200);
	expect_str(j, "mta_sts/fetch/content_type", "text/plain; charset=utf-8");
	expect_null(j, "mta_sts/fetch/location");
	expect_int(j, "mta_sts/fetch/body_bytes", 83);
	expect_str(j, "mta_sts/fetch/body_sha256",
	           "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f");
	expect_str(j, "mta_sts/fetch/tls_version", "TLSv1.3");
	expect_str(j, "mta_sts/fetch/certificate/pkix/status", "ok");
	expect_str(j, "mta_sts/fetch/certificate/pkix/reason", "chain valid");
	expect_null(j, "mta_sts/fetch/certificate/pkix/result_type");
	expect_str(j, "mta_sts/fetch/certificate/name/status", "ok");
	expect_str(j, "mta_sts/fetch/certificate/name/reason", "matched mta-sts.example.com");
	expect_int(j, "mta_sts/fetch/certificate/days_to_expiry", 60);
	expect_str(j, "mta_sts/fetch/certificate/leaf_sha256",
	           "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf");

	expect_str(j, "mta_sts/policy/status", "ok");
	expect_str(j, "mta_sts/policy/mode", "enforce");
	expect_int(j, "mta_sts/policy/max_age", 604800);
	expect_size(j, "mta_sts/policy/mx", 2);
	expect_str(j, "mta_sts/policy/mx/0", "*.example.com");
	expect_str(j, "mta_sts/policy/mx/1", "backup.example.net");
	expect_str(j, "mta_sts/coverage/status", "ok");
	expect_str(j, "mta_sts/coverage/reason", "every live MX matches a policy mx pattern");
	expect_null(j, "mta_sts/coverage/result_type");

	expect_str(j, "tls_rpt/status", "ok");
	expect_str(j, "tls_rpt/reason", "one valid record");
	expect_null(j, "tls_rpt/result_type");
	expect_str(j, "tls_rpt/state", "valid");
	expect_size(j, "tls_rpt/rua", 2);
	expect_str(j, "tls_rpt/rua/0", "mailto:tlsrpt@example.com");
	expect_str(j, "tls_rpt/rua/1", "https://rpt.example.com/v1");
	expect_bool(j, "tls_rpt/rua_repeated", 0);
	expect_str(j, "tls_rpt/dns/dnssec", "secure");
	expect_int(j, "tls_rpt/dns/ttl", 3600);
	json_decref(j);
	mxs_result_free(&r);
}

/* A redirect not followed: no body, no policy; the stale max_age never shows. */
static void
test_json_sts_redirect(void **state)
{
	struct mxs_result *r = full_tree();
	struct mxs_sts *s = &r->sts;
	json_t *j;

	(void)state;
	mxs_verdict_set(&s->fetch, MXS_ST_FAIL, MXS_RT_STS_POLICY_FETCH_ERROR,
	                "HTTP 301 redirect to https://www.example.com/, not followed");
	s->http_status = 301;
	snprintf(s->location, sizeof(s->location), "https://www.example.com/");
	s->content_type[0] = '\0';
	s->body_len = 0;
	s->have_body = 0;
	mxs_verdict_set(&s->policy, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no policy fetched");
	s->mode[0] = '\0';
	mxs_verdict_set(&s->coverage, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no policy");
	r->hosts[0]->sts_covered = -1;
	r->hosts[0]->sts_pattern[0] = '\0';
	j = roundtrip(r);

	expect_str(j, "mta_sts/fetch/status", "fail");
	expect_str(j, "mta_sts/fetch/result_type", "sts-policy-fetch-error");
	expect_int(j, "mta_sts/fetch/http_status", 301);
	expect_str(j, "mta_sts/fetch/location", "https://www.example.com/");
	expect_null(j, "mta_sts/fetch/content_type");
	expect_int(j, "mta_sts/fetch/body_bytes", 0);
	expect_null(j, "mta_sts/fetch/body_sha256");
	expect_str(j, "mta_sts/fetch/certificate/pkix/status", "ok");
	expect_str(j, "mta_sts/policy/status", "not-tested");
	expect_null(j, "mta_sts/policy/mode");
	expect_null(j, "mta_sts/policy/max_age"); /* 604800 is still in the struct */
	expect_str(j, "mta_sts/coverage/status", "not-tested");
	expect_null(j, "hosts/0/mta_sts/covered");
	expect_null(j, "hosts/0/mta_sts/pattern");
	json_decref(j);
	mxs_result_free(&r);
}

/* No connection: http_status 0 is null, and no certificate object without a judgement. */
static void
test_json_sts_no_response(void **state)
{
	struct mxs_result *r = full_tree();
	struct mxs_sts *s = &r->sts;
	json_t *j;

	(void)state;
	mxs_verdict_set(&s->fetch, MXS_ST_FAIL, MXS_RT_STS_POLICY_FETCH_ERROR,
	                "connection refused");
	s->http_status = 0;
	s->content_type[0] = '\0';
	s->https_tls_version[0] = '\0';
	s->body_len = 0;
	s->have_body = 0;
	s->https_have_cert = 0; /* the old verdicts and digest stay in the struct */
	mxs_verdict_set(&s->policy, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no policy fetched");
	j = roundtrip(r);

	expect_str(j, "mta_sts/fetch/reason", "connection refused");
	expect_null(j, "mta_sts/fetch/http_status");
	expect_null(j, "mta_sts/fetch/content_type");
	expect_null(j, "mta_sts/fetch/location");
	expect_null(j, "mta_sts/fetch/body_sha256");
	expect_null(j, "mta_sts/fetch/tls_version");
	expect_null(j, "mta_sts/fetch/certificate");
	expect_null(j, "mta_sts/policy/max_age");
	json_decref(j);
	mxs_result_free(&r);
}

/* Result types of the MTA-STS verdicts, as the probe sets them (docs/probe-json.md). */
static void
test_json_sts_result_types(void **state)
{
	struct mxs_result *r = full_tree();
	struct mxs_sts *s = &r->sts;
	json_t *j;

	(void)state;
	/* an expired certificate on the policy host */
	mxs_verdict_set(&s->https_pkix, MXS_ST_FAIL, MXS_RT_CERT_EXPIRED,
	                "certificate has expired");
	s->https_days_to_expiry = -2;
	mxs_verdict_set(&s->fetch, MXS_ST_FAIL, MXS_RT_STS_WEBPKI_INVALID,
	                "certificate not valid for mta-sts.example.com: certificate has expired");
	s->http_status = 0;
	s->have_body = 0;
	mxs_verdict_set(&s->policy, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no policy fetched");
	j = roundtrip(r);
	expect_str(j, "mta_sts/fetch/result_type", "sts-webpki-invalid");
	expect_str(j, "mta_sts/fetch/certificate/pkix/status", "fail");
	expect_str(j, "mta_sts/fetch/certificate/pkix/result_type", "certificate-expired");
	expect_int(j, "mta_sts/fetch/certificate/days_to_expiry", -2);
	expect_str(j, "mta_sts/fetch/certificate/leaf_sha256",
	           "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf");
	json_decref(j);
	mxs_result_free(&r);

	/* a body that does not parse; a TXT record that is invalid carries no type */
	r = full_tree();
	s = &r->sts;
	mxs_verdict_set(&s->policy, MXS_ST_FAIL, MXS_RT_STS_POLICY_INVALID,
	                "line 1: version is not STSv1");
	s->mode[0] = '\0';
	mxs_verdict_set(&s->coverage, MXS_ST_FAIL, MXS_RT_NONE,
	                "live MX not matched by any policy mx pattern: mx1.example.com");
	j = roundtrip(r);
	expect_str(j, "mta_sts/policy/status", "fail");
	expect_str(j, "mta_sts/policy/result_type", "sts-policy-invalid");
	expect_null(j, "mta_sts/policy/mode");
	expect_null(j, "mta_sts/policy/max_age");
	expect_str(j, "mta_sts/coverage/status", "fail");
	expect_null(j, "mta_sts/coverage/result_type");
	json_decref(j);
	mxs_result_free(&r);

	r = full_tree();
	mxs_verdict_set(&r->sts.coverage, MXS_ST_FAIL, MXS_RT_CERT_HOST_MISMATCH,
	                "every MX matches a pattern, but the certificate does not name: "
	                "mx1.example.com");
	mxs_verdict_set(&r->sts.txt, MXS_ST_FAIL, MXS_RT_NONE, "2 v=STSv1 records");
	snprintf(r->sts.txt_state, sizeof(r->sts.txt_state), "multiple");
	j = roundtrip(r);
	expect_str(j, "mta_sts/coverage/result_type", "certificate-host-mismatch");
	expect_str(j, "mta_sts/txt/status", "fail");
	expect_str(j, "mta_sts/txt/state", "multiple");
	expect_null(j, "mta_sts/txt/result_type");
	json_decref(j);
	mxs_result_free(&r);
}

static void
test_json_tlsrpt_states(void **state)
{
	struct mxs_result *r = full_tree();
	json_t *j;

	(void)state;
	r->tlsrpt.rua_repeated = 1;
	j = roundtrip(r);
	expect_bool(j, "tls_rpt/rua_repeated", 1);
	json_decref(j);
	mxs_result_free(&r);

	r = mxs_result_new("example.com");
	fill_dns(&r->tlsrpt.dns, MXS_SEC_INSECURE, 0);
	r->tlsrpt.dns.rcode = 3;
	mxs_verdict_set(&r->tlsrpt.verdict, MXS_ST_FAIL, MXS_RT_NONE, "no _smtp._tls record");
	snprintf(r->tlsrpt.state, sizeof(r->tlsrpt.state), "none");
	j = roundtrip(r);
	expect_str(j, "tls_rpt/status", "fail");
	expect_null(j, "tls_rpt/result_type");
	expect_str(j, "tls_rpt/reason", "no _smtp._tls record");
	expect_str(j, "tls_rpt/state", "none");
	expect_size(j, "tls_rpt/rua", 0);
	expect_str(j, "tls_rpt/dns/rcode", "NXDOMAIN");
	json_decref(j);
	mxs_result_free(&r);
}

/* Hostile bytes in the new text fields: the output still parses. */
static void
test_json_new_fields_hostile(void **state)
{
	struct mxs_result *r = full_tree();
	json_t *j;

	(void)state;
	snprintf(r->sts.id, sizeof(r->sts.id), "id\xff\x01");
	snprintf(r->sts.content_type, sizeof(r->sts.content_type), "text/plain\xc3\x28");
	snprintf(r->sts.location, sizeof(r->sts.location), "https://x/\x1b[2J");
	add_str(&r->tlsrpt.rua, &r->tlsrpt.nrua, "mailto:\xe9@example.com");
	add_str(&r->sts.mx, &r->sts.nmx, "mx.\x80.example");
	add_str(&r->hosts[0]->tlsa_records, &r->hosts[0]->ntlsa_records, "3 1 1 \xff (usable)");
	/* full arrays with no terminator are not read past */
	memset(r->sts.mode, 'm', sizeof(r->sts.mode));
	memset(r->hosts[0]->addrs[0]->dane_state, 's', sizeof(r->hosts[0]->addrs[0]->dane_state));
	j = roundtrip(r);
	expect_str(j, "mta_sts/txt/id", "id?\x01");
	expect_str(j, "mta_sts/fetch/content_type", "text/plain?(");
	expect_str(j, "mta_sts/fetch/location", "https://x/\x1b[2J");
	expect_str(j, "tls_rpt/rua/2", "mailto:?@example.com");
	expect_str(j, "mta_sts/policy/mx/2", "mx.?.example");
	expect_str(j, "hosts/0/dane/records/2", "3 1 1 ? (usable)");
	assert_int_equal(strlen(json_string_value(jget(j, "mta_sts/policy/mode"))),
	                 sizeof(r->sts.mode));
	assert_int_equal(strlen(json_string_value(jget(j, "hosts/0/addresses/0/dane/state"))),
	                 sizeof(r->hosts[0]->addrs[0]->dane_state));
	json_decref(j);
	mxs_result_free(&r);
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
	/* the producers' caps: MXS_TLSA_RR_MAX (dane.h) and MXS_STS_MX_MAX
	 * (mtasts_policy.h) are 256, MXS_TLSRPT_RUA_MAX (tlsrpt_record.h) 16 */
	h = r->hosts[MXS_MX_MAX - 1];
	for (int k = 0; k < 256; k++) {
		add_str(&h->tlsa_records, &h->ntlsa_records, "2 1 2 0011223344556677... (usable)");
		add_str(&r->sts.mx, &r->sts.nmx, "*.example.com");
	}
	for (int k = 0; k < 16; k++)
		add_str(&r->tlsrpt.rua, &r->tlsrpt.nrua, "mailto:tlsrpt@example.com");

	j = roundtrip(r);
	expect_size(j, "hosts", MXS_MX_MAX);
	expect_size(j, "hosts/31/addresses", 2 * MXS_ADDR_MAX);
	expect_str(j, "hosts/31/addresses/31/address", "2001:db8::1f:1f");
	expect_size(j, "hosts/31/addresses/31/certificate/chain", MXS_CHAIN_MAX);
	expect_size(j, "hosts/31/addresses/31/smtp/capabilities", MXS_EHLO_CAPS_MAX);
	expect_size(j, "hosts/31/dane/records", 256);
	expect_size(j, "mta_sts/policy/mx", 256);
	expect_size(j, "tls_rpt/rua", 16);
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
	struct mxs_result *r = full_tree();
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

static char *table(const struct mxs_result *r);

/* "shared" is false for an address probed by its own session, true for a
 * copy of another domain's (addr_share), and the table says so. */
static void
test_json_shared(void **state)
{
	struct mxs_result *r = good_tree();
	json_t *j;
	char *t;

	(void)state;
	r->hosts[0]->addrs[1]->shared = 1;
	j = roundtrip(r);
	expect_bool(j, "hosts/0/addresses/0/shared", 0);
	expect_bool(j, "hosts/0/addresses/1/shared", 1);
	json_decref(j);
	t = table(r);
	assert_non_null(strstr(t, "\n  shared: the session of another domain with this MX host "
	                          "and address\n"));
	r->hosts[0]->addrs[1]->shared = 0;
	free(t);
	t = table(r);
	assert_null(strstr(t, "shared"));
	free(t);
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
	                          "TLS           PKIX  NAME  DANE  EXPIRY");
	line_with(t, "192.0.2.25", line, sizeof(line));
	assert_string_equal(line, "10    mx1.example.com  192.0.2.25    secure    yes       "
	                          "ok TLSv1.3    ok    ok    -     89d");
	line_with(t, "2001:db8::25", line, sizeof(line));
	assert_string_equal(line, "10    mx1.example.com  2001:db8::25  insecure  yes       "
	                          "ok TLSv1.3    ok    ok    -     89d");
	line_with(t, "203.0.113.9", line, sizeof(line));
	assert_string_equal(line, "20    mx2.example.com  203.0.113.9   bogus     yes       "
	                          "fail TLSv1.2  fail  temp  -     -3d");
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
	                          "-           ok    ok    -     -");
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

/* The whole table of a DANE host with an MTA-STS policy and a TLS-RPT record. */
static void
test_table_dane_sts(void **state)
{
	struct mxs_result *r = full_tree();
	char *t = table(r);

	(void)state;
	assert_string_equal(
	        t,
	        "domain  example.com\n"
	        "mx      records, ok: 1 MX record\n"
	        "dnssec  secure\n"
	        "mta-sts  valid id=20240501T000000  fetch ok (HTTP 200)  policy enforce max_age "
	        "604800  coverage ok\n"
	        "tls-rpt  valid  rua mailto:tlsrpt@example.com, https://rpt.example.com/v1\n"
	        "\n"
	        "PREF  MX HOST          ADDRESS       DNSSEC    STARTTLS  TLS         PKIX  NAME  "
	        "DANE     EXPIRY\n"
	        "10    mx1.example.com  192.0.2.25    secure    yes       ok TLSv1.3  ok    ok    "
	        "valid    89d\n"
	        "  tlsa: pending (2 records)\n"
	        "10    mx1.example.com  2001:db8::25  insecure  yes       ok TLSv1.3  ok    ok    "
	        "invalid  89d\n"
	        "  dane: fail (tlsa-invalid): none of 2 usable TLSA records matches the chain\n");
	assert_int_equal(col_of(t, "PREF", "DANE"), col_of(t, "192.0.2.25", "valid"));
	assert_int_equal(col_of(t, "PREF", "DANE"), col_of(t, "2001:db8::25", "invalid"));
	free(t);
	mxs_result_free(&r);
}

/* The DANE cell for each outcome the probe records, and when a detail line follows. */
static void
test_table_dane_cells(void **state)
{
	static const struct {
		enum mxs_status st;
		enum mxs_rtype rt;
		const char *dane_state, *cell, *detail;
	} cases[] = {
	        {MXS_ST_OK, MXS_RT_NONE, "valid", "valid", NULL},
	        {MXS_ST_OK, MXS_RT_NONE, "no-usable-records", "no-usable", NULL},
	        {MXS_ST_FAIL, MXS_RT_TLSA_INVALID, "tlsa-invalid", "invalid",
	         "  dane: fail (tlsa-invalid): why\n"},
	        {MXS_ST_FAIL, MXS_RT_STARTTLS_NOT_SUPPORTED, "tlsa-invalid", "invalid",
	         "  dane: fail (starttls-not-supported): why\n"},
	        {MXS_ST_FAIL, MXS_RT_DNSSEC_INVALID, "dnssec-invalid", "bogus",
	         "  dane: fail (dnssec-invalid): why\n"},
	        {MXS_ST_TEMPORARY, MXS_RT_NONE, "temporary", "temp", "  dane: temporary: why\n"},
	        {MXS_ST_NOT_TESTED, MXS_RT_NONE, "not-applicable", "-", NULL},
	        {MXS_ST_NOT_TESTED, MXS_RT_NONE, "pending", "-", NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mxs_result *r = good_tree();
		struct mxs_addr *a = r->hosts[0]->addrs[1];
		char want[128], line[1024];
		char *t;

		mxs_verdict_set(&a->dane, cases[i].st, cases[i].rt, "why");
		snprintf(a->dane_state, sizeof(a->dane_state), "%s", cases[i].dane_state);
		t = table(r);
		line_with(t, "2001:db8::25", line, sizeof(line));
		/* the column is as wide as its title or its widest cell */
		snprintf(want, sizeof(want), "  ok    ok    %-*s  89d",
		         strlen(cases[i].cell) > 4 ? (int)strlen(cases[i].cell) : 4, cases[i].cell);
		if (strstr(line, want) == NULL)
			fail_msg("case %zu: \"%s\" not in \"%s\"", i, want, line);
		if (cases[i].detail != NULL)
			assert_non_null(strstr(t, cases[i].detail));
		else
			assert_null(strstr(t, "  dane: "));
		free(t);
		mxs_result_free(&r);
	}
}

/* The domain-level lines when MTA-STS or TLS-RPT did not work out. */
static void
test_table_sts_problems(void **state)
{
	struct mxs_result *r;
	struct mxs_sts *s;
	char *t;

	(void)state;
	/* no record at all: the state says it, no detail line; a temporary one is explained */
	r = mxs_result_new("example.org");
	mxs_verdict_set(&r->sts.txt, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no record: NXDOMAIN");
	snprintf(r->sts.txt_state, sizeof(r->sts.txt_state), "none");
	mxs_verdict_set(&r->sts.fetch, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no valid _mta-sts record");
	mxs_verdict_set(&r->sts.policy, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no policy fetched");
	mxs_verdict_set(&r->sts.coverage, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no policy");
	mxs_verdict_set(&r->tlsrpt.verdict, MXS_ST_TEMPORARY, MXS_RT_NONE, "SERVFAIL");
	snprintf(r->tlsrpt.state, sizeof(r->tlsrpt.state), "temporary");
	t = table(r);
	assert_string_equal(t, "domain  example.org\n"
	                       "mx      records, not-tested\n"
	                       "dnssec  unknown\n"
	                       "mta-sts  none\n"
	                       "tls-rpt  temporary\n"
	                       "  txt: temporary: SERVFAIL\n");
	free(t);
	mxs_result_free(&r);

	/* the policy host's certificate has expired; TLS-RPT could not start */
	r = full_tree();
	s = &r->sts;
	mxs_verdict_set(&s->https_pkix, MXS_ST_FAIL, MXS_RT_CERT_EXPIRED,
	                "certificate has expired");
	mxs_verdict_set(&s->fetch, MXS_ST_FAIL, MXS_RT_STS_WEBPKI_INVALID,
	                "certificate not valid for mta-sts.example.com");
	s->http_status = 0;
	mxs_verdict_set(&s->policy, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no policy fetched");
	memset(&r->tlsrpt.verdict, 0, sizeof(r->tlsrpt.verdict));
	mxs_verdict_set(&r->tlsrpt.verdict, MXS_ST_NOT_TESTED, MXS_RT_NONE, "not started");
	r->tlsrpt.state[0] = '\0';
	r->tlsrpt.nrua = 0;
	t = table(r);
	assert_non_null(strstr(t,
	                       "dnssec  secure\n"
	                       "mta-sts  valid id=20240501T000000  fetch fail\n"
	                       "  fetch: fail (sts-webpki-invalid): certificate not valid for "
	                       "mta-sts.example.com\n"
	                       "  https pkix: fail (certificate-expired): certificate has expired\n"
	                       "tls-rpt  not-tested\n"
	                       "  txt: not-tested: not started\n"
	                       "\n"));
	r->tlsrpt.nrua = 2; /* let mxs_result_free release them */
	free(t);
	mxs_result_free(&r);

	/* a 404, a policy that does not parse, an uncovered MX, a repeated rua= */
	r = full_tree();
	s = &r->sts;
	mxs_verdict_set(&s->fetch, MXS_ST_FAIL, MXS_RT_STS_POLICY_FETCH_ERROR, "HTTP 404");
	s->http_status = 404;
	mxs_verdict_set(&s->policy, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no policy fetched");
	r->tlsrpt.rua_repeated = 1;
	t = table(r);
	assert_non_null(strstr(t, "mta-sts  valid id=20240501T000000  fetch fail (HTTP 404)\n"
	                          "  fetch: fail (sts-policy-fetch-error): HTTP 404\n"
	                          "tls-rpt  valid  rua mailto:tlsrpt@example.com, "
	                          "https://rpt.example.com/v1  (a second rua= ignored)\n"));
	free(t);
	mxs_verdict_set(&s->fetch, MXS_ST_OK, MXS_RT_NONE, "HTTP 200, 83 bytes");
	s->http_status = 200;
	mxs_verdict_set(&s->policy, MXS_ST_FAIL, MXS_RT_STS_POLICY_INVALID,
	                "media type: text/html");
	t = table(r);
	assert_non_null(strstr(t, "fetch ok (HTTP 200)  policy fail\n"
	                          "  policy: fail (sts-policy-invalid): media type: text/html\n"));
	free(t);
	mxs_verdict_set(&s->policy, MXS_ST_OK, MXS_RT_NONE, "mode testing");
	snprintf(s->mode, sizeof(s->mode), "testing");
	s->max_age = 86400;
	mxs_verdict_set(&s->coverage, MXS_ST_FAIL, MXS_RT_NONE,
	                "live MX not matched by any policy mx pattern: mx1.example.com");
	t = table(r);
	assert_non_null(strstr(t, "  policy testing max_age 86400  coverage fail\n"
	                          "  coverage: fail: live MX not matched by any policy mx pattern: "
	                          "mx1.example.com\n"
	                          "tls-rpt  "));
	free(t);
	mxs_result_free(&r);
}

/* Hostile text in the new fields never reaches the terminal. */
static void
test_table_new_fields_hostile(void **state)
{
	struct mxs_result *r = full_tree();
	char *t;

	(void)state;
	snprintf(r->sts.id, sizeof(r->sts.id), "i\x1b[2Jd");
	memset(r->sts.mode, '\x07', sizeof(r->sts.mode)); /* and no terminator */
	snprintf(r->tlsrpt.rua[1], strlen(r->tlsrpt.rua[1]) + 1, "%s", "x\x1b]0;t\x07\ny");
	snprintf(r->hosts[0]->dane_state, sizeof(r->hosts[0]->dane_state), "\x1b[1mp");
	snprintf(r->tlsrpt.state, sizeof(r->tlsrpt.state), "v\xff");
	t = table(r);
	assert_null(strchr(t, '\x1b'));
	assert_null(strchr(t, '\x07'));
	assert_null(strchr(t, '\xff'));
	assert_non_null(strstr(t, "mta-sts  valid id=i?[2Jd  fetch ok (HTTP 200)  policy "
	                          "???????????? max_age 604800  coverage ok\n"));
	assert_non_null(strstr(t, "tls-rpt  v?  rua mailto:tlsrpt@example.com, x?]0;t??y\n"));
	assert_non_null(strstr(t, "  tlsa: ?[1mp (2 records)\n"));
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
	        cmocka_unit_test(test_json_dane_fields),
	        cmocka_unit_test(test_json_dane_sentinels),
	        cmocka_unit_test(test_json_sts_fields),
	        cmocka_unit_test(test_json_sts_redirect),
	        cmocka_unit_test(test_json_sts_no_response),
	        cmocka_unit_test(test_json_sts_result_types),
	        cmocka_unit_test(test_json_tlsrpt_states),
	        cmocka_unit_test(test_json_new_fields_hostile),
	        cmocka_unit_test(test_json_started_format),
	        cmocka_unit_test(test_json_hostile_bytes),
	        cmocka_unit_test(test_json_stable),
	        cmocka_unit_test(test_json_limits),
	        cmocka_unit_test(test_json_rejects_broken_tree),
	        cmocka_unit_test(test_json_enomem_everywhere),
	        cmocka_unit_test(test_json_shared),
	        cmocka_unit_test(test_table_rows),
	        cmocka_unit_test(test_table_long_host_alignment),
	        cmocka_unit_test(test_table_hostile_and_empty),
	        cmocka_unit_test(test_table_dane_sts),
	        cmocka_unit_test(test_table_dane_cells),
	        cmocka_unit_test(test_table_sts_problems),
	        cmocka_unit_test(test_table_new_fields_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
