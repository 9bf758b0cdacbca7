/*
 * test_wire — unit tests for common/wire.c: a round trip of every body,
 * then hostile bytes (random, every truncation, a 2 GiB length prefix,
 * decode-time memory amplification), the size limit, unknown fields from a
 * newer schema, version and body rules, and the Error reply builder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static char errbuf[256];

/* Pack env, unpack it again; the caller frees the result. */
static Mxs__Envelope *
round_trip(const Mxs__Envelope *env)
{
	Mxs__Envelope *back = NULL;
	Mxs__ErrorCode why;
	uint8_t *buf;
	size_t n;

	assert_int_equal(mxs_wire_pack(env, MXS_WIRE_MSG_MAX, &buf, &n, errbuf, sizeof(errbuf)),
	                 MXS_OK);
	assert_int_equal(
	        mxs_wire_unpack(buf, n, MXS_WIRE_MSG_MAX, &back, &why, errbuf, sizeof(errbuf)),
	        MXS_OK);
	assert_int_equal(why, MXS__ERROR_CODE__ERROR_UNSPECIFIED);
	free(buf);
	assert_non_null(back);
	assert_int_equal(back->version, MXS_WIRE_VERSION);
	assert_int_equal(back->seq, env->seq);
	assert_int_equal(back->body_case, env->body_case);
	return back;
}

static void
env_init(Mxs__Envelope *env, uint64_t seq)
{
	mxs__envelope__init(env);
	env->has_version = 1;
	env->version = MXS_WIRE_VERSION;
	env->has_seq = 1;
	env->seq = seq;
}

/* Unpack bytes that must be refused; returns the error, checks why. */
static int
refuse(const void *b, size_t n, size_t max, Mxs__ErrorCode want_why)
{
	Mxs__Envelope *env = (Mxs__Envelope *)1;
	Mxs__ErrorCode why;
	int rc;

	errbuf[0] = '\0';
	rc = mxs_wire_unpack(b, n, max, &env, &why, errbuf, sizeof(errbuf));
	assert_int_not_equal(rc, MXS_OK);
	assert_null(env);
	assert_int_equal(why, want_why);
	assert_true(errbuf[0] != '\0');
	return rc;
}

/* ---- round trips ---- */

static void
test_hello(void **state)
{
	Mxs__Envelope env, *back;
	Mxs__Hello h = MXS__HELLO__INIT;
	char *caps[] = {"dane", "mta-sts"};

	(void)state;
	env_init(&env, 1);
	h.agent_name = "ams-1";
	h.region = "eu";
	h.version = "0.1.0";
	h.n_capabilities = NELEM(caps);
	h.capabilities = caps;
	env.body_case = MXS__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	back = round_trip(&env);
	assert_string_equal(back->hello->agent_name, "ams-1");
	assert_string_equal(back->hello->region, "eu");
	assert_string_equal(back->hello->version, "0.1.0");
	assert_int_equal(back->hello->n_capabilities, 2);
	assert_string_equal(back->hello->capabilities[1], "mta-sts");
	mxs_wire_free(&back);
	assert_null(back);
	mxs_wire_free(&back); /* twice is harmless */
}

static void
test_hello_reply(void **state)
{
	Mxs__Envelope env, *back;
	Mxs__HelloReply r = MXS__HELLO_REPLY__INIT;

	(void)state;
	env_init(&env, 2);
	r.has_accepted = 1;
	r.accepted = 0;
	r.reason = "not enrolled";
	env.body_case = MXS__ENVELOPE__BODY_HELLO_REPLY;
	env.hello_reply = &r;
	back = round_trip(&env);
	assert_true(back->hello_reply->has_accepted);
	assert_false(back->hello_reply->accepted);
	assert_string_equal(back->hello_reply->reason, "not enrolled");
	mxs_wire_free(&back);
}

static void
test_jobs(void **state)
{
	Mxs__Envelope env, *back;
	Mxs__JobRequest q = MXS__JOB_REQUEST__INIT;
	Mxs__JobList l = MXS__JOB_LIST__INIT;
	Mxs__Job j1 = MXS__JOB__INIT, j2 = MXS__JOB__INIT;
	Mxs__Job *jobs[] = {&j1, &j2};

	(void)state;
	env_init(&env, 3);
	q.has_have_list_version = 1;
	q.have_list_version = 41;
	env.body_case = MXS__ENVELOPE__BODY_JOB_REQUEST;
	env.job_request = &q;
	back = round_trip(&env);
	assert_int_equal(back->job_request->have_list_version, 41);
	mxs_wire_free(&back);

	env_init(&env, 3);
	j1.domain = "example.org";
	j1.has_interval_s = 1;
	j1.interval_s = 900;
	j2.domain = "example.net";
	j2.has_interval_s = 1;
	j2.interval_s = 300;
	l.has_list_version = 1;
	l.list_version = 42;
	l.n_jobs = NELEM(jobs);
	l.jobs = jobs;
	env.body_case = MXS__ENVELOPE__BODY_JOB_LIST;
	env.job_list = &l;
	back = round_trip(&env);
	assert_int_equal(back->job_list->list_version, 42);
	assert_int_equal(back->job_list->n_jobs, 2);
	assert_string_equal(back->job_list->jobs[1]->domain, "example.net");
	assert_int_equal(back->job_list->jobs[0]->interval_s, 900);
	mxs_wire_free(&back);
}

static void
test_result_batch_ack(void **state)
{
	Mxs__Envelope env, *back;
	Mxs__ResultBatch rb = MXS__RESULT_BATCH__INIT;
	Mxs__ProbeResult r1 = MXS__PROBE_RESULT__INIT, r2 = MXS__PROBE_RESULT__INIT;
	Mxs__ProbeResult *rs[] = {&r1, &r2};
	Mxs__AddressResult a = MXS__ADDRESS_RESULT__INIT, *as[] = {&a};
	Mxs__Verdict v = MXS__VERDICT__INIT;
	Mxs__Ack ack = MXS__ACK__INIT;
	uint8_t id1[16], id2[16];

	(void)state;
	memset(id1, 0xa5, sizeof(id1));
	memset(id2, 0x5a, sizeof(id2));
	v.has_status = 1;
	v.status = MXS__STATUS__STATUS_FAIL;
	v.reason = "STARTTLS not advertised";
	v.result_type = "starttls-not-supported";
	a.mx_host = "mx1.example.org";
	a.address = "192.0.2.25";
	a.tls = &v;
	r1.has_id = 1;
	r1.id.len = 16;
	r1.id.data = id1;
	r1.domain = "example.org";
	r1.n_addresses = 1;
	r1.addresses = as;
	r2.has_id = 1;
	r2.id.len = 16;
	r2.id.data = id2;
	r2.domain = "example.net";
	env_init(&env, 4);
	rb.has_batch_seq = 1;
	rb.batch_seq = 77;
	rb.n_results = NELEM(rs);
	rb.results = rs;
	env.body_case = MXS__ENVELOPE__BODY_RESULT_BATCH;
	env.result_batch = &rb;
	back = round_trip(&env);
	assert_int_equal(back->result_batch->batch_seq, 77);
	assert_int_equal(back->result_batch->n_results, 2);
	assert_memory_equal(back->result_batch->results[0]->id.data, id1, 16);
	assert_memory_equal(back->result_batch->results[1]->id.data, id2, 16);
	assert_string_equal(back->result_batch->results[0]->addresses[0]->tls->result_type,
	                    "starttls-not-supported");
	mxs_wire_free(&back);

	env_init(&env, 4);
	ack.has_batch_seq = 1;
	ack.batch_seq = 77;
	ack.has_stored = 1;
	ack.stored = 1;
	ack.has_duplicates = 1;
	ack.duplicates = 1;
	env.body_case = MXS__ENVELOPE__BODY_ACK;
	env.ack = &ack;
	back = round_trip(&env);
	assert_int_equal(back->ack->batch_seq, 77);
	assert_int_equal(back->ack->stored, 1);
	assert_int_equal(back->ack->duplicates, 1);
	mxs_wire_free(&back);
}

static void
test_error_heartbeat(void **state)
{
	Mxs__Envelope env, *back;
	Mxs__Error e = MXS__ERROR__INIT;
	Mxs__Heartbeat hb = MXS__HEARTBEAT__INIT;

	(void)state;
	env_init(&env, 5);
	e.has_code = 1;
	e.code = MXS__ERROR_CODE__ERROR_NOT_REGISTERED;
	e.text = "hello first";
	env.body_case = MXS__ENVELOPE__BODY_ERROR;
	env.error = &e;
	back = round_trip(&env);
	assert_int_equal(back->error->code, MXS__ERROR_CODE__ERROR_NOT_REGISTERED);
	assert_string_equal(back->error->text, "hello first");
	mxs_wire_free(&back);

	env_init(&env, 6);
	hb.has_spool_depth = 1;
	hb.spool_depth = 1234;
	hb.has_egress = 1;
	hb.egress = MXS__EGRESS_STATE__EGRESS_BLOCKED;
	hb.has_probes_run = 1;
	hb.probes_run = UINT64_C(1) << 40;
	hb.has_spool_dropped = 1;
	hb.spool_dropped = 3;
	env.body_case = MXS__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	back = round_trip(&env);
	assert_int_equal(back->heartbeat->spool_depth, 1234);
	assert_int_equal(back->heartbeat->egress, MXS__EGRESS_STATE__EGRESS_BLOCKED);
	assert_true(back->heartbeat->probes_run == UINT64_C(1) << 40);
	assert_int_equal(back->heartbeat->spool_dropped, 3);
	assert_false(back->heartbeat->has_probes_failed);
	mxs_wire_free(&back);
}

/* ---- hostile bytes ---- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint8_t
rnd8(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint8_t)(rng >> 32);
}

static void
test_random_bytes(void **state)
{
	uint8_t b[512];
	Mxs__Envelope *env;
	size_t i, n;
	int round, ok = 0;

	(void)state;
	for (round = 0; round < 20000; round++) {
		n = rnd8() % sizeof(b);
		for (i = 0; i < n; i++)
			b[i] = rnd8();
		/* Half the time, start like a real envelope to get deeper. */
		if (round % 2 == 0 && n >= 3) {
			b[0] = 0x08;
			b[1] = 0x01;
			b[2] = (uint8_t)(0x52 + 8 * (rnd8() % 8));
		}
		if (mxs_wire_unpack(b, n, MXS_WIRE_MSG_MAX, &env, NULL, NULL, 0) == MXS_OK) {
			ok++;
			assert_non_null(env);
			mxs_wire_free(&env);
		} else {
			assert_null(env);
		}
	}
	/* Nothing to assert on ok: random bytes may happen to be valid. */
	(void)ok;
}

static void
test_truncated(void **state)
{
	Mxs__Envelope env, *back;
	Mxs__ResultBatch rb = MXS__RESULT_BATCH__INIT;
	Mxs__ProbeResult r = MXS__PROBE_RESULT__INIT, *rs[] = {&r};
	Mxs__AddressResult a = MXS__ADDRESS_RESULT__INIT, *as[] = {&a};
	uint8_t id[16] = {1, 2, 3}, *buf, *copy;
	size_t n, cut;

	(void)state;
	a.mx_host = "mx.example.org";
	a.has_days_to_expiry = 1;
	a.days_to_expiry = -3;
	r.has_id = 1;
	r.id.len = 16;
	r.id.data = id;
	r.domain = "example.org";
	r.n_addresses = 1;
	r.addresses = as;
	rb.n_results = 1;
	rb.results = rs;
	env_init(&env, 9);
	env.body_case = MXS__ENVELOPE__BODY_RESULT_BATCH;
	env.result_batch = &rb;
	assert_int_equal(mxs_wire_pack(&env, MXS_WIRE_MSG_MAX, &buf, &n, NULL, 0), MXS_OK);
	/* The body is packed last, so every proper prefix is refused: either it
	 * cuts the body (malformed) or ends before it (no body). */
	for (cut = 0; cut < n; cut++) {
		copy = malloc(cut + 1); /* exact size, so ASan sees any over-read */
		assert_non_null(copy);
		memcpy(copy, buf, cut);
		assert_int_not_equal(
		        mxs_wire_unpack(copy, cut, MXS_WIRE_MSG_MAX, &back, NULL, NULL, 0), MXS_OK);
		assert_null(back);
		free(copy);
	}
	assert_int_equal(mxs_wire_unpack(buf, n, MXS_WIRE_MSG_MAX, &back, NULL, NULL, 0), MXS_OK);
	mxs_wire_free(&back);
	free(buf);
}

static void
test_huge_length_prefix(void **state)
{
	/* version 1, then field 14 (result_batch) claiming 2^31 bytes. */
	static const uint8_t b1[] = {0x08, 0x01, 0x72, 0x80, 0x80, 0x80, 0x80, 0x08, 0x0a, 0x00};
	/* A ProbeResult id claiming 2 GiB inside a well-formed batch length. */
	static const uint8_t b2[] = {0x08, 0x01, 0x72, 0x08, 0x12, 0x06,
	                             0x0a, 0x80, 0x80, 0x80, 0x80, 0x08};
	/* A varint that never ends. */
	static const uint8_t b3[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	                             0xff, 0xff, 0xff, 0xff, 0xff, 0x01};

	(void)state;
	assert_int_equal(refuse(b1, sizeof(b1), MXS_WIRE_MSG_MAX, MXS__ERROR_CODE__ERROR_MALFORMED),
	                 MXS_ESYNTAX);
	assert_int_equal(refuse(b2, sizeof(b2), MXS_WIRE_MSG_MAX, MXS__ERROR_CODE__ERROR_MALFORMED),
	                 MXS_ESYNTAX);
	assert_int_equal(refuse(b3, sizeof(b3), MXS_WIRE_MSG_MAX, MXS__ERROR_CODE__ERROR_MALFORMED),
	                 MXS_ESYNTAX);
}

static void
test_size_limit(void **state)
{
	Mxs__Envelope env, *back;
	Mxs__Hello h = MXS__HELLO__INIT;
	char *big;
	uint8_t *buf;
	size_t n;

	(void)state;
	big = malloc(MXS_WIRE_MSG_MAX + 1);
	assert_non_null(big);
	memset(big, 'x', MXS_WIRE_MSG_MAX);
	big[MXS_WIRE_MSG_MAX] = '\0';
	env_init(&env, 1);
	h.agent_name = big;
	env.body_case = MXS__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	/* The writer refuses to produce it... */
	assert_int_equal(mxs_wire_pack(&env, MXS_WIRE_MSG_MAX, &buf, &n, errbuf, sizeof(errbuf)),
	                 MXS_ELIMIT);
	assert_null(buf);
	assert_int_equal(n, 0);
	/* ...and a reader refuses it before decoding a byte. */
	assert_int_equal(mxs_wire_pack(&env, SIZE_MAX, &buf, &n, NULL, 0), MXS_OK);
	assert_true(n > MXS_WIRE_MSG_MAX);
	assert_int_equal(refuse(buf, n, MXS_WIRE_MSG_MAX, MXS__ERROR_CODE__ERROR_TOO_LARGE),
	                 MXS_ELIMIT);
	/* The limit is the caller's: exactly n passes, n - 1 does not. */
	assert_int_equal(mxs_wire_unpack(buf, n, n, &back, NULL, NULL, 0), MXS_OK);
	mxs_wire_free(&back);
	assert_int_equal(refuse(buf, n, n - 1, MXS__ERROR_CODE__ERROR_TOO_LARGE), MXS_ELIMIT);
	free(buf);
	free(big);
}

static void
test_amplification(void **state)
{
	/* ~4 MiB of empty ProbeResults (2 bytes each) would decode to hundreds
	 * of MiB; the unpack budget refuses it. */
	size_t nres = (MXS_WIRE_MSG_MAX - 64) / 2, body = nres * 2, n = 0, i;
	uint8_t *b = malloc(body + 16);

	(void)state;
	assert_non_null(b);
	b[n++] = 0x08;
	b[n++] = 0x01;
	b[n++] = 0x72; /* result_batch, length varint follows */
	for (i = body; i >= 0x80; i >>= 7)
		b[n++] = (uint8_t)(i | 0x80);
	b[n++] = (uint8_t)i;
	for (i = 0; i < nres; i++) {
		b[n++] = 0x12;
		b[n++] = 0x00;
	}
	assert_true(n <= MXS_WIRE_MSG_MAX);
	assert_int_equal(refuse(b, n, MXS_WIRE_MSG_MAX, MXS__ERROR_CODE__ERROR_TOO_LARGE),
	                 MXS_ELIMIT);
	free(b);
}

/* ---- schema evolution and envelope rules ---- */

static void
test_unknown_fields_ignored(void **state)
{
	/* Hand-encoded: version 1, seq 7, hello{name "abc", field 99 "xyz"
	 * (a field a newer agent added)}, then envelope field 200 varint 5. */
	static const uint8_t b[] = {0x08, 0x01, 0x10, 0x07, 0x52, 0x0b, 0x0a, 0x03, 'a',  'b',
	                            'c',  0x9a, 0x06, 0x03, 'x',  'y',  'z',  0xc0, 0x0c, 0x05};
	Mxs__Envelope *env;

	(void)state;
	assert_int_equal(
	        mxs_wire_unpack(b, sizeof(b), MXS_WIRE_MSG_MAX, &env, NULL, errbuf, sizeof(errbuf)),
	        MXS_OK);
	assert_int_equal(env->seq, 7);
	assert_int_equal(env->body_case, MXS__ENVELOPE__BODY_HELLO);
	assert_string_equal(env->hello->agent_name, "abc");
	assert_null(env->hello->region);
	/* Kept aside, not interpreted (and re-emitted if the message is packed). */
	assert_int_equal(env->hello->base.n_unknown_fields, 1);
	assert_int_equal(env->hello->base.unknown_fields[0].tag, 99);
	assert_int_equal(env->base.n_unknown_fields, 1);
	mxs_wire_free(&env);
}

static void
test_legacy_results_ignored(void **state)
{
	/* version 1, the draft's field 3 (one empty ProbeResult), hello{}. */
	static const uint8_t b[] = {0x08, 0x01, 0x1a, 0x00, 0x52, 0x00};
	Mxs__Envelope *env;

	(void)state;
	assert_int_equal(mxs_wire_unpack(b, sizeof(b), MXS_WIRE_MSG_MAX, &env, NULL, NULL, 0),
	                 MXS_OK);
	assert_int_equal(env->body_case, MXS__ENVELOPE__BODY_HELLO);
	mxs_wire_free(&env);
}

static void
test_version_and_body(void **state)
{
	static const uint8_t v2[] = {0x08, 0x02, 0x52, 0x00};           /* version 2, hello{} */
	static const uint8_t v0[] = {0x52, 0x00};                       /* no version */
	static const uint8_t nobody[] = {0x08, 0x01, 0x10, 0x05};       /* version 1, seq 5 */
	static const uint8_t future[] = {0x08, 0x01, 0x92, 0x01, 0x00}; /* field 18: newer body */
	static const uint8_t empty[1] = {0};
	Mxs__Envelope env;
	uint8_t *buf;
	size_t n;

	(void)state;
	assert_int_equal(refuse(v2, sizeof(v2), MXS_WIRE_MSG_MAX, MXS__ERROR_CODE__ERROR_VERSION),
	                 MXS_EINVAL);
	assert_non_null(strstr(errbuf, "version 2"));
	assert_int_equal(refuse(v0, sizeof(v0), MXS_WIRE_MSG_MAX, MXS__ERROR_CODE__ERROR_VERSION),
	                 MXS_EINVAL);
	assert_int_equal(refuse(empty, 0, MXS_WIRE_MSG_MAX, MXS__ERROR_CODE__ERROR_VERSION),
	                 MXS_EINVAL);
	assert_int_equal(refuse(NULL, 0, MXS_WIRE_MSG_MAX, MXS__ERROR_CODE__ERROR_VERSION),
	                 MXS_EINVAL);
	assert_int_equal(refuse(nobody, sizeof(nobody), MXS_WIRE_MSG_MAX,
	                        MXS__ERROR_CODE__ERROR_BAD_REQUEST),
	                 MXS_EINVAL);
	assert_non_null(strstr(errbuf, "no body"));
	assert_int_equal(refuse(future, sizeof(future), MXS_WIRE_MSG_MAX,
	                        MXS__ERROR_CODE__ERROR_BAD_REQUEST),
	                 MXS_EINVAL);
	assert_non_null(strstr(errbuf, "unknown (field 18)"));

	/* The writer refuses what the reader would. */
	env_init(&env, 1);
	assert_int_equal(mxs_wire_pack(&env, MXS_WIRE_MSG_MAX, &buf, &n, NULL, 0), MXS_EINVAL);
	env.version = 2;
	env.body_case = MXS__ENVELOPE__BODY_HELLO;
	env.hello = NULL;
	assert_int_equal(mxs_wire_pack(&env, MXS_WIRE_MSG_MAX, &buf, &n, NULL, 0), MXS_EINVAL);
	assert_int_equal(mxs_wire_pack(NULL, MXS_WIRE_MSG_MAX, &buf, &n, NULL, 0), MXS_EINVAL);
}

static void
test_result_id_length(void **state)
{
	/* result_batch{results{id: 15 bytes}} */
	uint8_t b[] = {0x08, 0x01, 0x72, 0x13, 0x12, 0x11, 0x0a, 0x0f, 1,  2,  3, 4,
	               5,    6,    7,    8,    9,    10,   11,   12,   13, 14, 15};
	/* result_batch{results{}}: no id at all */
	static const uint8_t noid[] = {0x08, 0x01, 0x72, 0x02, 0x12, 0x00};

	(void)state;
	assert_int_equal(refuse(b, sizeof(b), MXS_WIRE_MSG_MAX, MXS__ERROR_CODE__ERROR_BAD_REQUEST),
	                 MXS_EINVAL);
	assert_int_equal(
	        refuse(noid, sizeof(noid), MXS_WIRE_MSG_MAX, MXS__ERROR_CODE__ERROR_BAD_REQUEST),
	        MXS_EINVAL);
}

static void
test_error_reply(void **state)
{
	char text[MXS_WIRE_ERRTEXT_MAX * 2];
	Mxs__Envelope *env;
	uint8_t *buf;
	size_t n;

	(void)state;
	memset(text, 'e', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	text[0] = '\xff';
	text[1] = '\n';
	assert_int_equal(mxs_wire_error_reply(42, MXS__ERROR_CODE__ERROR_MALFORMED, text, &buf, &n),
	                 MXS_OK);
	assert_int_equal(mxs_wire_unpack(buf, n, MXS_WIRE_MSG_MAX, &env, NULL, NULL, 0), MXS_OK);
	assert_int_equal(env->seq, 42);
	assert_int_equal(env->body_case, MXS__ENVELOPE__BODY_ERROR);
	assert_int_equal(env->error->code, MXS__ERROR_CODE__ERROR_MALFORMED);
	assert_int_equal(strlen(env->error->text), MXS_WIRE_ERRTEXT_MAX);
	assert_memory_equal(env->error->text, "??eee", 5);
	mxs_wire_free(&env);
	free(buf);

	assert_int_equal(mxs_wire_error_reply(0, MXS__ERROR_CODE__ERROR_INTERNAL, NULL, &buf, &n),
	                 MXS_OK);
	assert_int_equal(mxs_wire_unpack(buf, n, MXS_WIRE_MSG_MAX, &env, NULL, NULL, 0), MXS_OK);
	assert_string_equal(env->error->text, "");
	mxs_wire_free(&env);
	free(buf);
	assert_string_equal(mxs_wire_body_name(MXS__ENVELOPE__BODY_ACK), "ack");
	assert_string_equal(mxs_wire_body_name((Mxs__Envelope__BodyCase)99), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hello),
	        cmocka_unit_test(test_hello_reply),
	        cmocka_unit_test(test_jobs),
	        cmocka_unit_test(test_result_batch_ack),
	        cmocka_unit_test(test_error_heartbeat),
	        cmocka_unit_test(test_random_bytes),
	        cmocka_unit_test(test_truncated),
	        cmocka_unit_test(test_huge_length_prefix),
	        cmocka_unit_test(test_size_limit),
	        cmocka_unit_test(test_amplification),
	        cmocka_unit_test(test_unknown_fields_ignored),
	        cmocka_unit_test(test_legacy_results_ignored),
	        cmocka_unit_test(test_version_and_body),
	        cmocka_unit_test(test_result_id_length),
	        cmocka_unit_test(test_error_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
