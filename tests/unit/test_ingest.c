/*
 * test_ingest — a probe result across the wire: the agent packs it
 * (agent/result_pb.c), the collector decodes it and flattens it into store
 * rows (collector/ingest.c).  Checks every field on the way, and that a
 * hostile ProbeResult (from a compromised agent) is refused or cleaned,
 * never stored as given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ingest.h"
#include "result.h"
#include "result_pb.h"

#define ROWS 8

static struct mxs_store_obs rows[ROWS];

/* example.org: MX 10 mx1 (one address: STARTTLS, TLS, PKIX ok, name fail,
 * DANE valid), MX 20 mx2 (no address), an enforce policy covering mx1. */
static struct mxs_result *
sample(void)
{
	struct mxs_result *r = mxs_result_new("Example.ORG");
	struct mxs_host *h1, *h2;
	struct mxs_addr *a;

	assert_non_null(r);
	r->started_ms = 1795000000000LL;
	r->mx.dns.sec = MXS_SEC_SECURE;
	r->mx.kind = MXS_MX_RECORDS;
	mxs_verdict_set(&r->mx.verdict, MXS_ST_OK, MXS_RT_NONE, "2 MX hosts");
	assert_int_equal(mxs_result_add_host(r, "mx1.example.org", 10, &h1), 0);
	assert_int_equal(mxs_result_add_host(r, "mx2.example.org", 20, &h2), 0);
	mxs_verdict_set(&h2->dns, MXS_ST_FAIL, MXS_RT_NONE, "MX host has no A or AAAA records");
	assert_int_equal(mxs_host_add_addr(h1, "192.0.2.10", AF_INET, &a), 0);
	assert_int_equal(
	        mxs_strv_add(&h1->tlsa_records, &h1->ntlsa_records, 8, "3 1 1 AB (usable)"), 0);
	h1->sts_covered = 1;
	snprintf(h1->sts_pattern, sizeof(h1->sts_pattern), "%s", "mx1.example.org");
	mxs_verdict_set(&a->connect, MXS_ST_OK, MXS_RT_NONE, "connected");
	mxs_verdict_set(&a->smtp, MXS_ST_OK, MXS_RT_NONE, "220");
	mxs_verdict_set(&a->tls, MXS_ST_OK, MXS_RT_NONE, "TLSv1.3");
	mxs_verdict_set(&a->pkix, MXS_ST_OK, MXS_RT_NONE, "chain valid");
	mxs_verdict_set(&a->name, MXS_ST_FAIL, MXS_RT_CERT_HOST_MISMATCH, "does not name mx1");
	mxs_verdict_set(&a->dane, MXS_ST_OK, MXS_RT_NONE, "3 1 1 matched");
	a->ehlo_code = 250;
	a->starttls_advertised = 1;
	snprintf(a->tls_version, sizeof(a->tls_version), "%s", "TLSv1.3");
	a->nchain = 1;
	memset(a->chain[0].sha256, 0xab, 32);
	memset(a->chain[0].spki_sha256, 0x01, 32);
	a->days_to_expiry = 42;
	r->sts.txt.status = MXS_ST_OK;
	r->sts.fetch.status = MXS_ST_OK;
	r->sts.policy.status = MXS_ST_OK;
	snprintf(r->sts.mode, sizeof(r->sts.mode), "%s", "enforce");
	snprintf(r->sts.id, sizeof(r->sts.id), "%s", "20261123");
	r->sts.have_body = 1;
	memset(r->sts.body_sha256, 0xcd, 32);
	return r;
}

/* Pack r, decode it as the collector does, and ingest it for eu. */
static size_t
roundtrip(const struct mxs_result *r)
{
	uint8_t *buf;
	size_t len, n = 0;
	Mxs__ProbeResult *pr;
	char err[256];

	assert_int_equal(mxs_result_pack(r, &buf, &len), 0);
	assert_non_null(pr = mxs__probe_result__unpack(NULL, len, buf));
	free(buf);
	assert_int_equal(mxs_ingest_result(pr, "eu", rows, ROWS, &n, err, sizeof(err)), 0);
	mxs__probe_result__free_unpacked(pr, NULL);
	return n;
}

static void
test_roundtrip_fields(void **state)
{
	struct mxs_result *r = sample();
	const struct mxs_store_obs *o;

	(void)state;
	assert_int_equal(roundtrip(r), 2); /* one address row, one address-less host row */
	o = &rows[0];
	assert_string_equal(o->domain, "example.org");
	assert_string_equal(o->region, "eu");
	assert_int_equal(o->t_ms, 1795000000000LL);
	assert_string_equal(o->mx_host, "mx1.example.org");
	assert_string_equal(o->address, "192.0.2.10");
	assert_string_equal(o->v[MXS_STORE_TLS].status, "ok");
	assert_string_equal(o->v[MXS_STORE_NAME].status, "fail");
	assert_string_equal(o->v[MXS_STORE_NAME].result_type, "certificate-host-mismatch");
	assert_string_equal(o->v[MXS_STORE_NAME].reason, "does not name mx1");
	assert_string_equal(o->v[MXS_STORE_DANE].status, "ok");
	assert_string_equal(o->v[MXS_STORE_STS].status, "ok");
	assert_string_equal(o->v[MXS_STORE_STS].reason,
	                    "matches policy mx mx1.example.org (mode enforce)");
	assert_int_equal(o->starttls_advertised, 1);
	assert_string_equal(o->tls_version, "TLSv1.3");
	assert_string_equal(o->leaf_sha256,
	                    "abababababababababababababababababababababababababababababababab");
	assert_string_equal(o->spki_sha256,
	                    "0101010101010101010101010101010101010101010101010101010101010101");
	assert_int_equal(o->days_to_expiry, 42);
	assert_string_equal(o->mx_set, "10 mx1.example.org 20 mx2.example.org");
	assert_string_equal(o->dnssec, "secure");
	assert_string_equal(o->sts_id, "20261123");
	assert_string_equal(o->sts_mode, "enforce");
	assert_string_equal(o->sts_body_sha256,
	                    "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd");
	assert_string_equal(o->tlsa, "3 1 1 AB (usable)");
	/* The host without an address: its DNS verdict, no session facts. */
	o = &rows[1];
	assert_string_equal(o->mx_host, "mx2.example.org");
	assert_string_equal(o->address, "");
	assert_string_equal(o->v[MXS_STORE_CONNECT].status, "fail");
	assert_string_equal(o->v[MXS_STORE_TLS].status, "not-tested");
	assert_int_equal(o->starttls_advertised, -1);
	assert_int_equal(o->days_to_expiry, MXS_STORE_NO_DAYS);
	assert_memory_equal(rows[0].result_id, rows[1].result_id, MXS_STORE_ID_LEN);
	mxs_result_free(&r);
}

static void
test_no_mx_is_one_row(void **state)
{
	struct mxs_result *r = mxs_result_new("nxdomain.example");

	(void)state;
	r->started_ms = 1;
	r->mx.kind = MXS_MX_NONE;
	mxs_verdict_set(&r->mx.verdict, MXS_ST_FAIL, MXS_RT_NONE, "domain does not exist");
	assert_int_equal(roundtrip(r), 1);
	assert_string_equal(rows[0].mx_host, "");
	assert_string_equal(rows[0].v[MXS_STORE_CONNECT].reason, "domain does not exist");
	assert_string_equal(rows[0].v[MXS_STORE_STS].status, "not-tested");
	mxs_result_free(&r);
}

/* A hand-made ProbeResult, as a hostile agent could send it. */
static int
ingest_raw(Mxs__ProbeResult *pr, size_t max, size_t *n, char *err, size_t errlen)
{
	*n = 0;
	return mxs_ingest_result(pr, "eu", rows, max, n, err, errlen);
}

static void
test_hostile_results(void **state)
{
	static uint8_t id[16] = {1};
	static uint8_t short_hash[5] = {1, 2, 3, 4, 5};
	Mxs__ProbeResult pr = MXS__PROBE_RESULT__INIT;
	Mxs__AddressResult a = MXS__ADDRESS_RESULT__INIT, *ap = &a;
	Mxs__Verdict v = MXS__VERDICT__INIT;
	char err[256];
	size_t n;

	(void)state;
	pr.has_id = 1;
	pr.id.data = id;
	pr.id.len = sizeof(id);
	pr.has_started_unix_ms = 1;
	pr.started_unix_ms = 5;
	pr.domain = "example.org";
	pr.addresses = &ap;
	pr.n_addresses = 1;
	a.mx_host = "mx.example.org";
	a.address = "192.0.2.1";
	a.tls = &v;
	v.has_status = 1;
	v.status = MXS__STATUS__STATUS_FAIL;
	v.result_type = "<script>";
	v.reason = "bad\ncert\x1b[31m";
	a.has_leaf_sha256 = 1;
	a.leaf_sha256.data = short_hash;
	a.leaf_sha256.len = sizeof(short_hash);
	assert_int_equal(ingest_raw(&pr, ROWS, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].v[MXS_STORE_TLS].result_type, ""); /* not an RFC word */
	assert_string_equal(rows[0].v[MXS_STORE_TLS].reason, "bad?cert?[31m");
	assert_string_equal(rows[0].leaf_sha256, ""); /* wrong length: dropped */

	pr.domain = "exa mple.org";
	assert_int_equal(ingest_raw(&pr, ROWS, &n, err, sizeof(err)), MXS_EINVAL);
	assert_string_equal(err, "result for an invalid domain name");
	assert_int_equal(n, 0);
	pr.domain = "example.org";
	a.address = "192.0.2.1; DROP TABLE";
	assert_int_equal(ingest_raw(&pr, ROWS, &n, err, sizeof(err)), MXS_EINVAL);
	a.address = "192.0.2.1";
	pr.id.len = 15;
	assert_int_equal(ingest_raw(&pr, ROWS, &n, err, sizeof(err)), MXS_EINVAL);
	pr.id.len = 16;
	pr.started_unix_ms = 0;
	assert_int_equal(ingest_raw(&pr, ROWS, &n, err, sizeof(err)), MXS_EINVAL);
	pr.started_unix_ms = 5;
	/* No room: nothing appended. */
	assert_int_equal(ingest_raw(&pr, 0, &n, err, sizeof(err)), MXS_ELIMIT);
	assert_int_equal(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip_fields),
	        cmocka_unit_test(test_no_mx_is_one_row),
	        cmocka_unit_test(test_hostile_results),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
