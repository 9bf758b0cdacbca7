/*
 * test_agent_metrics — unit tests for agent/agent_metrics.c: the exact
 * lines rendered for set counters (labels, the cumulative histogram with
 * +Inf, _sum and _count, one-hot egress), verdict counting from a decoded
 * ProbeResult, every line well formed; and the server on 127.0.0.1:0 over
 * libcurl: GET /metrics (fill called per scrape), 404 for other paths,
 * 405 for other methods, malformed listen strings refused, a port in use
 * refused, start/stop repeated (ASan checks the clean-up).
 */
#define _GNU_SOURCE /* strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdatomic.h>

#include <curl/curl.h>

#include "agent_metrics.h"
#include "testhttp.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static char *
render(const struct mxs_agent_metrics *m)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	mxs_agent_metrics_render(m, f);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* line (without its newline) is one whole line of text. */
static void
assert_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
		p++;
	}
	fail_msg("missing line: %s", line);
}

/* Every line is a comment or "name[{labels}] value", every name carries
 * the prefix, and each family has exactly one HELP and one TYPE. */
static void
assert_well_formed(const char *text)
{
	const char *p = text, *nl, *sp;
	size_t helps = 0, types = 0;

	assert_true(text[0] != '\0' && text[strlen(text) - 1] == '\n');
	for (; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		if (strncmp(p, "# HELP mxsentry_agent_", 22) == 0) {
			helps++;
			continue;
		}
		if (strncmp(p, "# TYPE mxsentry_agent_", 22) == 0) {
			types++;
			continue;
		}
		assert_int_equal(strncmp(p, "mxsentry_agent_", 15), 0);
		sp = memchr(p, ' ', (size_t)(nl - p));
		assert_non_null(sp);
		assert_true(sp + 1 < nl);
		for (const char *v = sp + 1; v < nl; v++)
			assert_non_null(strchr("0123456789.", *v));
	}
	assert_int_equal(helps, types);
	assert_true(helps >= 20);
}

static void
test_render_zero(void **state)
{
	struct mxs_agent_metrics m = {0};
	char *t = render(&m);

	assert_well_formed(t);
	assert_line(t, "# HELP mxsentry_agent_results_read_total Results read from the prober.");
	assert_line(t, "# TYPE mxsentry_agent_results_read_total counter");
	assert_line(t, "mxsentry_agent_results_read_total 0");
	assert_line(t, "# TYPE mxsentry_agent_spool_results gauge");
	assert_line(t, "mxsentry_agent_collector_up 0");
	assert_line(t, "mxsentry_agent_egress{state=\"unknown\"} 1");
	assert_line(t, "mxsentry_agent_egress{state=\"ok\"} 0");
	assert_line(t, "mxsentry_agent_last_cycle_duration_seconds 0.000");
	assert_line(t, "# TYPE mxsentry_agent_batch_latency_seconds histogram");
	assert_line(t, "mxsentry_agent_batch_latency_seconds_bucket{le=\"+Inf\"} 0");
	assert_line(t, "mxsentry_agent_batch_latency_seconds_sum 0.000000");
	assert_line(t, "mxsentry_agent_batch_latency_seconds_count 0");
	assert_null(strstr(t, "start_time_seconds")); /* 0: not rendered */
	free(t);
}

static void
test_render_counters(void **state)
{
	struct mxs_agent_metrics m = {0};
	char *t;

	m.results_read = 101;
	m.results_spooled = 100;
	m.results_dropped = 1;
	m.spool_results = 7;
	m.spool_bytes = 4096;
	m.spool_files = 2;
	m.spool_corrupt_files = 3;
	m.requests = 50;
	m.requests_failed[MXS_AM_NO_REPLY] = 4;
	m.requests_failed[MXS_AM_REFUSED] = 5;
	m.requests_failed[MXS_AM_MALFORMED] = 6;
	m.hello_ok = 2;
	m.hello_refused = 1;
	m.collector_up = 1;
	m.batches_sent = 9;
	m.results_acked_stored = 90;
	m.results_acked_duplicate = 3;
	m.verdicts[MXS_AM_TLS][MXS_AM_FAIL] = 11;
	m.verdicts[MXS_AM_DANE][MXS_AM_NOT_TESTED] = 12;
	m.verdicts[MXS_AM_STS][MXS_AM_TEMPORARY] = 13;
	m.probes_run = 1000;
	m.probes_failed = 8;
	m.cycles = 10;
	m.last_cycle_ms = 1234;
	m.egress = MXS__EGRESS_STATE__EGRESS_DEGRADED;
	m.started_unix_ms = 1700000000123;
	t = render(&m);
	assert_well_formed(t);
	{
		static const char *const want[] = {
		        "mxsentry_agent_results_read_total 101",
		        "mxsentry_agent_results_spooled_total 100",
		        "mxsentry_agent_results_dropped_total 1",
		        "mxsentry_agent_spool_results 7",
		        "mxsentry_agent_spool_bytes 4096",
		        "mxsentry_agent_spool_files 2",
		        "mxsentry_agent_spool_corrupt_files_total 3",
		        "mxsentry_agent_requests_total 50",
		        "# TYPE mxsentry_agent_requests_failed_total counter",
		        "mxsentry_agent_requests_failed_total{reason=\"no_reply\"} 4",
		        "mxsentry_agent_requests_failed_total{reason=\"refused\"} 5",
		        "mxsentry_agent_requests_failed_total{reason=\"malformed\"} 6",
		        "mxsentry_agent_hellos_total{result=\"ok\"} 2",
		        "mxsentry_agent_hellos_total{result=\"refused\"} 1",
		        "# TYPE mxsentry_agent_collector_up gauge",
		        "mxsentry_agent_collector_up 1",
		        "mxsentry_agent_batches_sent_total 9",
		        "mxsentry_agent_results_acked_total{outcome=\"stored\"} 90",
		        "mxsentry_agent_results_acked_total{outcome=\"duplicate\"} 3",
		        "mxsentry_agent_verdicts_total{check=\"tls\",status=\"fail\"} 11",
		        "mxsentry_agent_verdicts_total{check=\"tls\",status=\"ok\"} 0",
		        "mxsentry_agent_verdicts_total{check=\"dane\",status=\"not-tested\"} 12",
		        "mxsentry_agent_verdicts_total{check=\"sts\",status=\"temporary\"} 13",
		        "mxsentry_agent_verdicts_total{check=\"connect\",status=\"ok\"} 0",
		        "mxsentry_agent_probes_total 1000",
		        "mxsentry_agent_probes_failed_total 8",
		        "mxsentry_agent_cycles_total 10",
		        "mxsentry_agent_last_cycle_duration_seconds 1.234",
		        "mxsentry_agent_egress{state=\"ok\"} 0",
		        "mxsentry_agent_egress{state=\"blocked\"} 0",
		        "mxsentry_agent_egress{state=\"degraded\"} 1",
		        "mxsentry_agent_egress{state=\"unknown\"} 0",
		        "# TYPE mxsentry_agent_start_time_seconds gauge",
		        "mxsentry_agent_start_time_seconds 1700000000.123",
		};
		for (size_t i = 0; i < NELEM(want); i++)
			assert_line(t, want[i]);
	}
	free(t);
}

/* One observation per bucket edge and beyond: the buckets are cumulative,
 * +Inf equals _count, and _sum is in seconds. */
static void
test_histogram(void **state)
{
	static const double obs[] = {0.5, 1, 1.5, 3, 250, 250.5, 1000, 5000, -7, NAN};
	static const char *const want[] = {
	        "mxsentry_agent_batch_latency_seconds_bucket{le=\"0.001\"} 4", /* 0.5 1 -7 NaN */
	        "mxsentry_agent_batch_latency_seconds_bucket{le=\"0.002\"} 5",
	        "mxsentry_agent_batch_latency_seconds_bucket{le=\"0.005\"} 6",
	        "mxsentry_agent_batch_latency_seconds_bucket{le=\"0.01\"} 6",
	        "mxsentry_agent_batch_latency_seconds_bucket{le=\"0.025\"} 6",
	        "mxsentry_agent_batch_latency_seconds_bucket{le=\"0.05\"} 6",
	        "mxsentry_agent_batch_latency_seconds_bucket{le=\"0.1\"} 6",
	        "mxsentry_agent_batch_latency_seconds_bucket{le=\"0.25\"} 7",
	        "mxsentry_agent_batch_latency_seconds_bucket{le=\"1\"} 9",
	        "mxsentry_agent_batch_latency_seconds_bucket{le=\"+Inf\"} 10",
	        "mxsentry_agent_batch_latency_seconds_sum 6.506500",
	        "mxsentry_agent_batch_latency_seconds_count 10",
	};
	struct mxs_agent_metrics m = {0};
	char *t;

	for (size_t i = 0; i < NELEM(obs); i++)
		mxs_agent_metrics_batch_latency(&m, obs[i]);
	t = render(&m);
	for (size_t i = 0; i < NELEM(want); i++)
		assert_line(t, want[i]);
	/* the bucket lines come in order, right after the TYPE line */
	assert_non_null(strstr(t, "# TYPE mxsentry_agent_batch_latency_seconds histogram\n"
	                          "mxsentry_agent_batch_latency_seconds_bucket{le=\"0.001\"} 4\n"
	                          "mxsentry_agent_batch_latency_seconds_bucket{le=\"0.002\"} 5\n"));
	free(t);
}

static void
test_result_verdicts(void **state)
{
	Mxs__Verdict ok = MXS__VERDICT__INIT, fail = MXS__VERDICT__INIT, tmp = MXS__VERDICT__INIT,
	             nt = MXS__VERDICT__INIT, unspec = MXS__VERDICT__INIT,
	             future = MXS__VERDICT__INIT;
	Mxs__AddressResult a1 = MXS__ADDRESS_RESULT__INIT, a2 = MXS__ADDRESS_RESULT__INIT;
	Mxs__AddressResult *addrs[] = {&a1, NULL, &a2};
	Mxs__ProbeResult pr = MXS__PROBE_RESULT__INIT;
	struct mxs_agent_metrics m = {0};

	ok.has_status = fail.has_status = tmp.has_status = nt.has_status = 1;
	future.has_status = 1;
	ok.status = MXS__STATUS__STATUS_OK;
	fail.status = MXS__STATUS__STATUS_FAIL;
	tmp.status = MXS__STATUS__STATUS_TEMPORARY;
	nt.status = MXS__STATUS__STATUS_NOT_TESTED;
	future.status = (Mxs__Status)42;
	a1.connect = a1.smtp = &ok;
	a1.tls = &fail;
	a1.pkix = a1.name = a1.dane = &nt;
	a1.sts_coverage = &unspec; /* no status: not counted */
	a2.connect = &ok;
	a2.smtp = &tmp;
	a2.tls = &future; /* unknown status: not counted */
	/* a2.pkix ... absent: not counted */
	pr.addresses = addrs;
	pr.n_addresses = NELEM(addrs);
	mxs_agent_metrics_result(&m, &pr);
	mxs_agent_metrics_result(&m, NULL);
	assert_int_equal(m.verdicts[MXS_AM_CONNECT][MXS_AM_OK], 2);
	assert_int_equal(m.verdicts[MXS_AM_SMTP][MXS_AM_OK], 1);
	assert_int_equal(m.verdicts[MXS_AM_SMTP][MXS_AM_TEMPORARY], 1);
	assert_int_equal(m.verdicts[MXS_AM_TLS][MXS_AM_FAIL], 1);
	assert_int_equal(m.verdicts[MXS_AM_PKIX][MXS_AM_NOT_TESTED], 1);
	assert_int_equal(m.verdicts[MXS_AM_NAME][MXS_AM_NOT_TESTED], 1);
	assert_int_equal(m.verdicts[MXS_AM_DANE][MXS_AM_NOT_TESTED], 1);
	{
		uint64_t total = 0;

		for (int c = 0; c < MXS_AM_NCHECKS; c++)
			for (int s = 0; s < MXS_AM_NSTATUS; s++)
				total += m.verdicts[c][s];
		assert_int_equal(total, 8);
	}
}

static void
test_egress_one_hot(void **state)
{
	static const struct {
		int egress;
		const char *on;
	} cases[] = {
	        {MXS__EGRESS_STATE__EGRESS_UNSPECIFIED, "unknown"},
	        {MXS__EGRESS_STATE__EGRESS_OK, "ok"},
	        {MXS__EGRESS_STATE__EGRESS_BLOCKED, "blocked"},
	        {MXS__EGRESS_STATE__EGRESS_DEGRADED, "degraded"},
	        {99, "unknown"},
	        {-1, "unknown"},
	};
	static const char *const states[] = {"ok", "blocked", "degraded", "unknown"};
	struct mxs_agent_metrics m = {0};
	char line[128], *t;

	for (size_t i = 0; i < NELEM(cases); i++) {
		m.egress = cases[i].egress;
		t = render(&m);
		for (size_t j = 0; j < NELEM(states); j++) {
			snprintf(line, sizeof(line), "mxsentry_agent_egress{state=\"%s\"} %d",
			         states[j], strcmp(states[j], cases[i].on) == 0);
			assert_line(t, line);
		}
		free(t);
	}
}

/* ---- the server ---------------------------------------------------- */

/* method on the server at port; see th_request. */
static long
http(const char *method, int port, const char *path, char **text, char **hdrs)
{
	char url[256];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	return th_request(method, url, NULL, strcmp(method, "POST") == 0 ? "x=1" : NULL, text,
	                  hdrs);
}

/* A fill callback standing in for the relay's: counts its calls and sets
 * a level. */
static void
fill(struct mxs_agent_metrics *m, void *arg)
{
	atomic_int *calls = arg;

	atomic_fetch_add(calls, 1);
	atomic_store(&m->spool_results, 42);
}

static void
test_serve(void **state)
{
	struct mxs_agent_metrics m = {0};
	struct mxs_agent_metrics_server *s = NULL;
	atomic_int calls = 0;
	char err[256], *t, *h;
	int port;

	m.results_read = 5;
	assert_int_equal(
	        mxs_agent_metrics_start("127.0.0.1:0", &m, fill, &calls, &s, err, sizeof(err)),
	        MXS_OK);
	assert_non_null(s);
	port = mxs_agent_metrics_port(s);
	assert_true(port > 0 && port < 65536);

	assert_int_equal(http("GET", port, "/metrics", &t, &h), 200);
	assert_non_null(strcasestr(h, "Content-Type: text/plain; version=0.0.4"));
	assert_line(t, "mxsentry_agent_results_read_total 5");
	assert_line(t, "mxsentry_agent_spool_results 42");
	assert_well_formed(t);
	assert_int_equal(atomic_load(&calls), 1);
	free(t);
	free(h);

	m.results_read = 6; /* each scrape sees the counters now */
	assert_int_equal(http("GET", port, "/metrics?name[]=x", &t, NULL), 200);
	assert_line(t, "mxsentry_agent_results_read_total 6");
	assert_int_equal(atomic_load(&calls), 2);
	free(t);

	{
		static const struct {
			const char *method, *path;
			long status;
		} cases[] = {
		        {"GET", "/other", 404},    {"GET", "/", 404},
		        {"GET", "/metrics/", 404}, {"GET", "/metricsx", 404},
		        {"POST", "/other", 404},   {"POST", "/metrics", 405},
		        {"PUT", "/metrics", 405},  {"DELETE", "/metrics", 405},
		        {"HEAD", "/metrics", 405}, {"OPTIONS", "/metrics", 405},
		};
		for (size_t i = 0; i < NELEM(cases); i++) {
			long got = http(cases[i].method, port, cases[i].path, &t, &h);

			if (got != cases[i].status)
				fail_msg("%s %s: %ld, want %ld", cases[i].method, cases[i].path,
				         got, cases[i].status);
			if (got == 405)
				assert_non_null(strcasestr(h, "\nAllow: GET\r\n"));
			assert_null(strstr(t, "mxsentry_agent_")); /* no metrics leak */
			free(t);
			free(h);
		}
	}
	assert_int_equal(atomic_load(&calls), 2); /* only GET /metrics fills */

	mxs_agent_metrics_stop(&s);
	assert_null(s);
	mxs_agent_metrics_stop(&s); /* NULL-safe */
	mxs_agent_metrics_stop(NULL);
}

static void
test_listen_off(void **state)
{
	struct mxs_agent_metrics m = {0};
	struct mxs_agent_metrics_server *s = (void *)&m;
	char err[256];

	assert_int_equal(mxs_agent_metrics_start(NULL, &m, NULL, NULL, &s, err, sizeof(err)),
	                 MXS_OK);
	assert_null(s);
	s = (void *)&m;
	assert_int_equal(mxs_agent_metrics_start("", &m, NULL, NULL, &s, err, sizeof(err)), MXS_OK);
	assert_null(s);
	assert_int_equal(mxs_agent_metrics_port(NULL), -1);
}

static void
test_bad_listen(void **state)
{
	static const char *const bad[] = {
	        "127.0.0.1",
	        "127.0.0.1:",
	        ":9125",
	        "127.0.0.1:65536",
	        "127.0.0.1:-1",
	        "127.0.0.1:9x",
	        "127.0.0.1:+80",
	        "127.0.0.1:999999",
	        "::1:9125",
	        "[::1]9125",
	        "[::1]",
	        "[::1:9125",
	        "[]:9125",
	        "127.0.0.1:9125 ",
	        "", /* "": a name too long, below */
	};
	struct mxs_agent_metrics m = {0};
	struct mxs_agent_metrics_server *s;
	char err[512], longname[MXS_AGENT_METRICS_ADDR_MAX + 8];
	const char *l;

	memset(longname, 'a', sizeof(longname));
	memcpy(longname + MXS_AGENT_METRICS_ADDR_MAX, ":9125", 6);
	for (size_t i = 0; i < NELEM(bad); i++) {
		l = bad[i][0] != '\0' ? bad[i] : longname;
		s = (void *)&m;
		err[0] = '\0';
		if (mxs_agent_metrics_start(l, &m, NULL, NULL, &s, err, sizeof(err)) != MXS_ECONFIG)
			fail_msg("listen \"%s\" accepted", l);
		assert_null(s);
		assert_non_null(strstr(err, "metrics_listen"));
	}
}

/* A port already bound, and an address this host does not have. */
static void
test_bind_refused(void **state)
{
	struct mxs_agent_metrics m = {0};
	struct mxs_agent_metrics_server *s = NULL, *s2 = (void *)&m;
	char err[256], listen[64];

	assert_int_equal(
	        mxs_agent_metrics_start("127.0.0.1:0", &m, NULL, NULL, &s, err, sizeof(err)),
	        MXS_OK);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", mxs_agent_metrics_port(s));
	assert_int_equal(mxs_agent_metrics_start(listen, &m, NULL, NULL, &s2, err, sizeof(err)),
	                 MXS_ESYS);
	assert_null(s2);
	assert_non_null(strstr(err, "cannot listen on 127.0.0.1:"));
	mxs_agent_metrics_stop(&s);

	s2 = (void *)&m;
	assert_int_equal(
	        mxs_agent_metrics_start("192.0.2.1:9125", &m, NULL, NULL, &s2, err, sizeof(err)),
	        MXS_ESYS);
	assert_null(s2);
	assert_non_null(strstr(err, "192.0.2.1:9125"));
}

/* IPv6 loopback, where the host has it. */
static void
test_ipv6(void **state)
{
	struct mxs_agent_metrics m = {0};
	struct mxs_agent_metrics_server *s = NULL;
	char err[256];

	if (mxs_agent_metrics_start("[::1]:0", &m, NULL, NULL, &s, err, sizeof(err)) != MXS_OK) {
		print_message("no IPv6 loopback here: %s\n", err);
		skip();
	}
	assert_true(mxs_agent_metrics_port(s) > 0);
	mxs_agent_metrics_stop(&s);
}

/* Start and stop again and again, some with a scrape in between. */
static void
test_start_stop(void **state)
{
	struct mxs_agent_metrics m = {0};
	struct mxs_agent_metrics_server *s = NULL;
	char err[256];

	for (int i = 0; i < 20; i++) {
		assert_int_equal(mxs_agent_metrics_start("127.0.0.1:0", &m, NULL, NULL, &s, err,
		                                         sizeof(err)),
		                 MXS_OK);
		if (i % 4 == 0)
			assert_int_equal(
			        http("GET", mxs_agent_metrics_port(s), "/metrics", NULL, NULL),
			        200);
		mxs_agent_metrics_stop(&s);
		assert_null(s);
	}
}

static int
setup(void **state)
{
	signal(SIGPIPE, SIG_IGN);
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	curl_global_cleanup();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_render_zero),    cmocka_unit_test(test_render_counters),
	        cmocka_unit_test(test_histogram),      cmocka_unit_test(test_result_verdicts),
	        cmocka_unit_test(test_egress_one_hot), cmocka_unit_test(test_serve),
	        cmocka_unit_test(test_listen_off),     cmocka_unit_test(test_bad_listen),
	        cmocka_unit_test(test_bind_refused),   cmocka_unit_test(test_ipv6),
	        cmocka_unit_test(test_start_stop),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
