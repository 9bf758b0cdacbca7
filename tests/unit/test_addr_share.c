/*
 * test_addr_share — the share table's decisions with an injected clock:
 * one session per (MX host, address) per window fanned out to waiters and
 * later requesters, temporary outcomes not kept, the per-address caps and
 * their queue, expiry, the entry limit, and the deep copy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "addr_share.h"

#define JOBS_MAX 64

/* The fake world: a clock, the jobs started, the last wake-up asked for. */
static struct {
	uint64_t now;
	struct mxs_share_job *jobs[JOBS_MAX]; /* started and not yet finished, in order */
	size_t njobs, nstarts;
	int start_rc;       /* what the start hook returns */
	int finish_at_once; /* the start hook finishes the session before returning */
	int64_t armed;      /* delay of the last arm call, -1 if none since reset */
	size_t narms;
} w;

static uint64_t
fake_now(void *ctx)
{
	(void)ctx;
	return w.now;
}

static int
fake_start(void *ctx, struct mxs_share_job *job)
{
	(void)ctx;
	if (w.start_rc != 0)
		return w.start_rc;
	w.nstarts++;
	mxs_verdict_set(&job->a->connect, MXS_ST_OK, MXS_RT_NONE, "connected");
	if (w.finish_at_once) {
		mxs_share_finished(job);
		return 0;
	}
	assert_true(w.njobs < JOBS_MAX);
	w.jobs[w.njobs++] = job;
	return 0;
}

static void
fake_arm(void *ctx, uint64_t delay_ms)
{
	(void)ctx;
	w.armed = (int64_t)delay_ms;
	w.narms++;
}

/* One requester: its address and how often its callback ran. */
struct req {
	struct mxs_addr *a;
	int done;
};

static void
req_done(void *arg)
{
	((struct req *)arg)->done++;
}

static struct mxs_share *
table(long long sessions, long long interval_ms, long long window_s)
{
	const struct mxs_share_limits lim = {sessions, interval_ms, window_s};
	const struct mxs_share_ops ops = {fake_now, fake_start, fake_arm, NULL};
	struct mxs_share *t;

	memset(&w, 0, sizeof(w));
	w.now = 1000000;
	w.armed = -1;
	assert_int_equal(mxs_share_new(&lim, &ops, &t), 0);
	return t;
}

static struct mxs_addr *
addr_new(const char *address)
{
	struct mxs_addr *a = calloc(1, sizeof(*a));

	assert_non_null(a);
	snprintf(a->address, sizeof(a->address), "%s", address);
	a->family = strchr(address, ':') != NULL ? AF_INET6 : AF_INET;
	a->dane_depth = -1;
	return a;
}

static void
addr_free(struct mxs_addr **ap)
{
	struct mxs_addr *a = *ap;

	for (size_t i = 0; i < a->ncaps; i++)
		free(a->caps[i]);
	free(a->caps);
	for (size_t i = 0; i < a->nleaf_dns_names; i++)
		free(a->leaf_dns_names[i]);
	free(a->leaf_dns_names);
	free(a);
	*ap = NULL;
}

static void
ask(struct mxs_share *t, struct req *r, const char *host, const char *address, const void *dane)
{
	r->a = addr_new(address);
	r->done = 0;
	assert_int_equal(mxs_share_request(t, r->a, host, dane, req_done, r), 0);
}

/* Finish the i-th running job (in start order) with a full TLS session. */
static void
finish_ok(size_t i, const char *cn)
{
	struct mxs_share_job *job = w.jobs[i];
	struct mxs_addr *a = job->a;

	mxs_verdict_set(&a->smtp, MXS_ST_OK, MXS_RT_NONE, "greeting 220, EHLO 250");
	mxs_verdict_set(&a->tls, MXS_ST_OK, MXS_RT_NONE, "TLSv1.3 handshake completed");
	assert_int_equal(mxs_strv_add(&a->caps, &a->ncaps, 8, "PIPELINING"), 0);
	assert_int_equal(mxs_strv_add(&a->caps, &a->ncaps, 8, "STARTTLS"), 0);
	assert_int_equal(mxs_strv_add(&a->leaf_dns_names, &a->nleaf_dns_names, 8, cn), 0);
	a->nchain = 1;
	memset(a->chain[0].sha256, 0xab, sizeof(a->chain[0].sha256));
	snprintf(a->tls_version, sizeof(a->tls_version), "TLSv1.3");
	snprintf(a->dane_state, sizeof(a->dane_state), "valid");
	a->elapsed_ms = 42;
	memmove(&w.jobs[i], &w.jobs[i + 1], (w.njobs - i - 1) * sizeof(w.jobs[0]));
	w.njobs--;
	mxs_share_finished(job);
}

/* Finish the i-th running job with a temporary outcome (a 421 greeting). */
static void
finish_temporary(size_t i)
{
	struct mxs_share_job *job = w.jobs[i];

	mxs_verdict_set(&job->a->smtp, MXS_ST_TEMPORARY, MXS_RT_NONE, "greeting 421");
	mxs_verdict_set(&job->a->tls, MXS_ST_TEMPORARY, MXS_RT_NONE, "not determined");
	memmove(&w.jobs[i], &w.jobs[i + 1], (w.njobs - i - 1) * sizeof(w.jobs[0]));
	w.njobs--;
	mxs_share_finished(job);
}

static size_t
entries(const struct mxs_share *t)
{
	struct mxs_share_stats st;

	mxs_share_stats(t, &st);
	return st.entries;
}

/* ---- sharing ------------------------------------------------------------ */

static void
test_waiter_and_window(void **state)
{
	struct mxs_share *t = table(2, 200, 60);
	struct req a, b, c, d;
	struct mxs_share_stats st;

	(void)state;
	ask(t, &a, "mx.example.com", "192.0.2.1", NULL);
	assert_int_equal(w.nstarts, 1);
	/* Same host (any case) and address while in flight: waits, no session. */
	ask(t, &b, "MX.Example.COM", "192.0.2.1", NULL);
	assert_int_equal(w.nstarts, 1);
	assert_int_equal(b.done, 0);
	assert_int_equal(entries(t), 1);

	w.now += 500;
	finish_ok(0, "mx.example.com");
	assert_int_equal(a.done, 1);
	assert_int_equal(b.done, 1);
	assert_int_equal(a.a->shared, 0);
	assert_int_equal(b.a->shared, 1);
	assert_string_equal(b.a->address, "192.0.2.1");
	assert_int_equal(b.a->family, AF_INET);
	assert_int_equal(b.a->tls.status, MXS_ST_OK);
	assert_string_equal(b.a->tls_version, "TLSv1.3");
	assert_string_equal(b.a->dane_state, "valid");
	assert_int_equal(b.a->elapsed_ms, 42);
	assert_int_equal(b.a->nchain, 1);
	assert_memory_equal(b.a->chain[0].sha256, a.a->chain[0].sha256, 32);
	/* Deep copies: same strings, own arrays. */
	assert_int_equal(b.a->ncaps, 2);
	assert_ptr_not_equal(b.a->caps, a.a->caps);
	assert_ptr_not_equal(b.a->caps[1], a.a->caps[1]);
	assert_string_equal(b.a->caps[1], "STARTTLS");
	assert_int_equal(b.a->nleaf_dns_names, 1);
	assert_ptr_not_equal(b.a->leaf_dns_names[0], a.a->leaf_dns_names[0]);
	assert_string_equal(b.a->leaf_dns_names[0], "mx.example.com");

	/* 59.999 s after the session ended: a copy, at once. */
	w.now += 59999;
	ask(t, &c, "mx.example.com", "192.0.2.1", NULL);
	assert_int_equal(c.done, 1);
	assert_int_equal(c.a->shared, 1);
	assert_int_equal(w.nstarts, 1);
	/* 60 s after: expired, purged, a session of its own. */
	w.now += 1;
	ask(t, &d, "mx.example.com", "192.0.2.1", NULL);
	assert_int_equal(d.done, 0);
	assert_int_equal(w.nstarts, 2);
	mxs_share_stats(t, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.shared, 2);
	assert_int_equal(st.started, 2);
	finish_ok(0, "mx.example.com");
	assert_int_equal(d.done, 1);
	assert_int_equal(d.a->shared, 0);

	addr_free(&a.a);
	addr_free(&b.a);
	addr_free(&c.a);
	addr_free(&d.a);
	mxs_share_free(&t);
	assert_null(t);
}

/* The key is (host, address): another host on the same address, or the
 * same host on another address, is another session. */
static void
test_key_is_host_and_address(void **state)
{
	struct mxs_share *t = table(4, 0, 60);
	struct req a, b, c;

	(void)state;
	ask(t, &a, "mx1.example.com", "192.0.2.1", NULL);
	ask(t, &b, "mx2.example.com", "192.0.2.1", NULL);
	ask(t, &c, "mx1.example.com", "2001:db8::1", NULL);
	assert_int_equal(w.nstarts, 3);
	assert_int_equal(entries(t), 3);
	for (int i = 0; i < 3; i++)
		finish_ok(0, "x");
	assert_int_equal(a.a->shared + b.a->shared + c.a->shared, 0);
	addr_free(&a.a);
	addr_free(&b.a);
	addr_free(&c.a);
	mxs_share_free(&t);
}

/* A temporary outcome reaches its waiters but is not kept for later ones. */
static void
test_temporary_not_kept(void **state)
{
	struct mxs_share *t = table(2, 0, 60);
	struct req a, b, c;

	(void)state;
	ask(t, &a, "mx.example.com", "192.0.2.1", NULL);
	ask(t, &b, "mx.example.com", "192.0.2.1", NULL);
	finish_temporary(0);
	assert_int_equal(a.done, 1);
	assert_int_equal(b.done, 1);
	assert_int_equal(b.a->shared, 1);
	assert_int_equal(b.a->smtp.status, MXS_ST_TEMPORARY);
	assert_int_equal(entries(t), 0);
	ask(t, &c, "mx.example.com", "192.0.2.1", NULL);
	assert_int_equal(c.done, 0);
	assert_int_equal(w.nstarts, 2);
	finish_ok(0, "mx.example.com");
	assert_int_equal(c.a->shared, 0);
	assert_int_equal(c.a->smtp.status, MXS_ST_OK);
	addr_free(&a.a);
	addr_free(&b.a);
	addr_free(&c.a);
	mxs_share_free(&t);
}

/* share_window_s = 0: no entries, every request its own session. */
static void
test_window_zero(void **state)
{
	struct mxs_share *t = table(2, 0, 0);
	struct req a, b;

	(void)state;
	ask(t, &a, "mx.example.com", "192.0.2.1", NULL);
	ask(t, &b, "mx.example.com", "192.0.2.1", NULL);
	assert_int_equal(w.nstarts, 2);
	assert_int_equal(entries(t), 0);
	finish_ok(0, "x");
	finish_ok(0, "x");
	assert_int_equal(a.a->shared + b.a->shared, 0);
	addr_free(&a.a);
	addr_free(&b.a);
	mxs_share_free(&t);
}

/* Requesters that disagree on whether DANE applies do not share. */
static void
test_dane_mismatch(void **state)
{
	static const int rrset = 1; /* stands for a loaded TLSA RRset */
	struct mxs_share *t = table(2, 0, 60);
	struct req a, b, c;

	(void)state;
	ask(t, &a, "mx.example.com", "192.0.2.1", &rrset);
	ask(t, &b, "mx.example.com", "192.0.2.1", NULL);
	assert_int_equal(w.nstarts, 2);
	ask(t, &c, "mx.example.com", "192.0.2.1", &rrset);
	assert_int_equal(w.nstarts, 2);
	finish_ok(0, "x");
	assert_int_equal(c.done, 1);
	assert_int_equal(c.a->shared, 1);
	finish_ok(0, "x");
	assert_int_equal(b.a->shared, 0);
	addr_free(&a.a);
	addr_free(&b.a);
	addr_free(&c.a);
	mxs_share_free(&t);
}

/* A session that could not start is a not-tested verdict, not kept. */
static void
test_start_failure(void **state)
{
	struct mxs_share *t = table(2, 0, 60);
	struct req a;

	(void)state;
	w.start_rc = MXS_ENOMEM;
	ask(t, &a, "mx.example.com", "192.0.2.1", NULL);
	assert_int_equal(a.done, 1);
	assert_int_equal(a.a->connect.status, MXS_ST_NOT_TESTED);
	assert_string_equal(a.a->connect.reason, "could not start the session");
	assert_int_equal(entries(t), 0);
	addr_free(&a.a);
	mxs_share_free(&t);
}

/* ---- caps --------------------------------------------------------------- */

/* per_address_sessions = 2, per_address_interval_ms = 200; the slot is
 * the address, whatever the host. */
static void
test_caps_queue(void **state)
{
	struct mxs_share *t = table(2, 200, 60);
	struct req a, b, c, d;
	struct mxs_share_stats st;

	(void)state;
	ask(t, &a, "mx1.example.com", "192.0.2.1", NULL);
	assert_int_equal(w.nstarts, 1);
	ask(t, &b, "mx2.example.com", "192.0.2.1", NULL);
	ask(t, &c, "mx3.example.com", "192.0.2.1", NULL);
	assert_int_equal(w.nstarts, 1);
	assert_int_equal(w.armed, 200);
	mxs_share_stats(t, &st);
	assert_int_equal(st.queued, 2);
	/* Another address is not held up. */
	ask(t, &d, "mx1.example.com", "192.0.2.2", NULL);
	assert_int_equal(w.nstarts, 2);

	/* A wake-up before its time starts nothing and re-arms. */
	w.now += 150;
	mxs_share_wake(t);
	assert_int_equal(w.nstarts, 2);
	assert_int_equal(w.armed, 50);
	w.now += 50;
	mxs_share_wake(t);
	assert_int_equal(w.nstarts, 3); /* b */
	assert_ptr_equal(w.jobs[2]->a, b.a);
	/* Two sessions run on 192.0.2.1: c waits for one to end, no timer. */
	w.now += 300;
	w.narms = 0;
	mxs_share_wake(t);
	assert_int_equal(w.nstarts, 3);
	assert_int_equal(w.narms, 0);
	/* a ends at +500: the interval since b's start (+200) is over. */
	finish_ok(0, "x");
	assert_int_equal(w.armed, 0);
	assert_int_equal(w.nstarts, 3); /* finishing never starts directly */
	mxs_share_wake(t);
	assert_int_equal(w.nstarts, 4);
	assert_ptr_equal(w.jobs[2]->a, c.a);
	mxs_share_stats(t, &st);
	assert_int_equal(st.queued, 0);
	while (w.njobs > 0)
		finish_ok(0, "x");
	assert_int_equal(a.done + b.done + c.done + d.done, 4);
	addr_free(&a.a);
	addr_free(&b.a);
	addr_free(&c.a);
	addr_free(&d.a);
	mxs_share_free(&t);
}

/* A session ends before the interval is over: the next waits the rest. */
static void
test_caps_interval_after_finish(void **state)
{
	struct mxs_share *t = table(1, 500, 0);
	struct req a, b, c;

	(void)state;
	ask(t, &a, "mx.example.com", "192.0.2.1", NULL);
	ask(t, &b, "mx.example.com", "192.0.2.1", NULL);
	ask(t, &c, "mx.example.com", "192.0.2.1", NULL);
	assert_int_equal(w.nstarts, 1);
	w.now += 100;
	finish_ok(0, "x");
	assert_int_equal(w.armed, 400);
	w.now += 400;
	mxs_share_wake(t);
	assert_int_equal(w.nstarts, 2);
	w.now += 10;
	finish_ok(0, "x");
	assert_int_equal(w.armed, 490);
	w.now += 490;
	mxs_share_wake(t);
	assert_int_equal(w.nstarts, 3);
	finish_ok(0, "x");
	assert_int_equal(a.done + b.done + c.done, 3);
	addr_free(&a.a);
	addr_free(&b.a);
	addr_free(&c.a);
	mxs_share_free(&t);
}

/* The slot remembers the last start for the interval, then is freed. */
static void
test_idle_slot_expiry(void **state)
{
	struct mxs_share *t = table(2, 200, 0);
	struct mxs_share_stats st;
	struct req a, b, c;

	(void)state;
	ask(t, &a, "mx.example.com", "192.0.2.1", NULL);
	finish_ok(0, "x");
	mxs_share_stats(t, &st);
	assert_int_equal(st.slots, 1);
	w.now += 199;
	ask(t, &b, "mx.example.com", "192.0.2.1", NULL); /* 199 ms after a's start */
	assert_int_equal(w.nstarts, 1);
	assert_int_equal(w.armed, 1);
	w.now += 1;
	mxs_share_wake(t);
	assert_int_equal(w.nstarts, 2);
	finish_ok(0, "x");
	w.now += 200;
	ask(t, &c, "mx.example.com", "192.0.2.2", NULL);
	mxs_share_stats(t, &st);
	assert_int_equal(st.slots, 1); /* 192.0.2.1's was purged */
	finish_ok(0, "x");
	addr_free(&a.a);
	addr_free(&b.a);
	addr_free(&c.a);
	mxs_share_free(&t);
}

/* Sessions that end inside the start hook, with no interval: the wake-up
 * drains the queue in one walk, without recursion or lost requests. */
static void
test_finish_inside_start(void **state)
{
	struct mxs_share *t = table(1, 0, 0);
	struct req r[20];

	(void)state;
	w.finish_at_once = 1;
	for (int i = 0; i < 20; i++)
		ask(t, &r[i], "mx.example.com", "192.0.2.1", NULL);
	assert_int_equal(w.nstarts, 20);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(r[i].done, 1);
		addr_free(&r[i].a);
	}
	/* Now with one running, so the others queue and drain on wake-ups. */
	w.finish_at_once = 0;
	ask(t, &r[0], "mx.example.com", "192.0.2.1", NULL);
	w.finish_at_once = 1;
	for (int i = 1; i < 20; i++)
		ask(t, &r[i], "mx.example.com", "192.0.2.1", NULL);
	assert_int_equal(w.nstarts, 21);
	finish_ok(0, "x");
	assert_int_equal(w.armed, 0);
	mxs_share_wake(t);
	assert_int_equal(w.nstarts, 40);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(r[i].done, 1);
		addr_free(&r[i].a);
	}
	mxs_share_free(&t);
}

/* ---- limits ------------------------------------------------------------- */

/* At MXS_SHARE_ENTRIES_MAX the oldest finished entry makes room. */
static void
test_entry_limit(void **state)
{
	struct mxs_share *t = table(64, 0, 60);
	char host[64];
	struct req r;

	(void)state;
	w.finish_at_once = 1;
	for (int i = 0; i < MXS_SHARE_ENTRIES_MAX; i++) {
		snprintf(host, sizeof(host), "mx%d.example.com", i);
		w.now++;
		ask(t, &r, host, "192.0.2.1", NULL);
		addr_free(&r.a);
	}
	assert_int_equal(entries(t), MXS_SHARE_ENTRIES_MAX);
	ask(t, &r, "mx-new.example.com", "192.0.2.1", NULL);
	addr_free(&r.a);
	assert_int_equal(entries(t), MXS_SHARE_ENTRIES_MAX);
	assert_int_equal(w.nstarts, MXS_SHARE_ENTRIES_MAX + 1);
	/* mx0 was evicted: a new session; mx1 is still shared. */
	ask(t, &r, "mx1.example.com", "192.0.2.1", NULL);
	assert_int_equal(r.a->shared, 1);
	addr_free(&r.a);
	assert_int_equal(w.nstarts, MXS_SHARE_ENTRIES_MAX + 1);
	ask(t, &r, "mx0.example.com", "192.0.2.1", NULL);
	assert_int_equal(r.a->shared, 0);
	addr_free(&r.a);
	assert_int_equal(w.nstarts, MXS_SHARE_ENTRIES_MAX + 2);
	/* Everything expires a window after it ended. */
	w.now += 60 * 1000;
	ask(t, &r, "mx-last.example.com", "192.0.2.9", NULL);
	addr_free(&r.a);
	assert_int_equal(entries(t), 1);
	mxs_share_free(&t);
}

static void
test_bad_limits(void **state)
{
	const struct mxs_share_ops ops = {fake_now, fake_start, fake_arm, NULL};
	const struct mxs_share_limits bad[] = {{0, 200, 60}, {2, -1, 60}, {2, 200, -1}};
	struct mxs_share *t = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = (struct mxs_share *)&t; /* must be cleared */
		assert_int_equal(mxs_share_new(&bad[i], &ops, &t), MXS_EINVAL);
		assert_null(t);
	}
	mxs_share_free(&t); /* NULL-safe */
}

/* Queued jobs and waiters are released with the table. */
static void
test_free_with_queue(void **state)
{
	struct mxs_share *t = table(1, 1000, 60);
	struct req a, b, c;

	(void)state;
	ask(t, &a, "mx.example.com", "192.0.2.1", NULL);
	ask(t, &b, "mx.example.com", "192.0.2.1", NULL);  /* waiter */
	ask(t, &c, "mx2.example.com", "192.0.2.1", NULL); /* queued */
	finish_ok(0, "x");
	mxs_share_free(&t);
	assert_int_equal(c.done, 0);
	addr_free(&a.a);
	addr_free(&b.a);
	addr_free(&c.a);
}

/* ---- copy --------------------------------------------------------------- */

static void
test_copy_addr(void **state)
{
	struct mxs_addr *src = addr_new("192.0.2.1"), *dst = addr_new("192.0.2.1");

	(void)state;
	mxs_verdict_set(&src->name, MXS_ST_FAIL, MXS_RT_CERT_HOST_MISMATCH, "no match");
	snprintf(src->name_reference, sizeof(src->name_reference), "mx.example.com");
	src->dane_depth = 0;
	src->dane_matched = 2;
	src->days_to_expiry = -3;
	assert_int_equal(mxs_strv_add(&src->caps, &src->ncaps, 8, "SIZE 1000"), 0);
	/* dst's own arrays are released (the sanitizer checks for leaks). */
	assert_int_equal(mxs_strv_add(&dst->caps, &dst->ncaps, 8, "OLD"), 0);
	assert_int_equal(mxs_strv_add(&dst->leaf_dns_names, &dst->nleaf_dns_names, 8, "old"), 0);
	assert_int_equal(mxs_share_copy_addr(dst, src), 0);
	assert_int_equal(dst->shared, 1);
	assert_int_equal(src->shared, 0);
	assert_int_equal(dst->name.status, MXS_ST_FAIL);
	assert_int_equal(dst->name.rtype, MXS_RT_CERT_HOST_MISMATCH);
	assert_string_equal(dst->name_reference, "mx.example.com");
	assert_int_equal(dst->dane_depth, 0);
	assert_int_equal(dst->dane_matched, 2);
	assert_int_equal(dst->days_to_expiry, -3);
	assert_int_equal(dst->ncaps, 1);
	assert_string_equal(dst->caps[0], "SIZE 1000");
	assert_int_equal(dst->nleaf_dns_names, 0);
	assert_null(dst->leaf_dns_names);
	addr_free(&src);
	addr_free(&dst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_waiter_and_window),
	        cmocka_unit_test(test_key_is_host_and_address),
	        cmocka_unit_test(test_temporary_not_kept),
	        cmocka_unit_test(test_window_zero),
	        cmocka_unit_test(test_dane_mismatch),
	        cmocka_unit_test(test_start_failure),
	        cmocka_unit_test(test_caps_queue),
	        cmocka_unit_test(test_caps_interval_after_finish),
	        cmocka_unit_test(test_idle_slot_expiry),
	        cmocka_unit_test(test_finish_inside_start),
	        cmocka_unit_test(test_entry_limit),
	        cmocka_unit_test(test_bad_limits),
	        cmocka_unit_test(test_free_with_queue),
	        cmocka_unit_test(test_copy_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
