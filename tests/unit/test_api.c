/*
 * test_api — collector/http_api.c, metrics.c and the `mxsentry` CLI.
 *
 * One API is started on 127.0.0.1, port 0, over a temporary SQLite store
 * filled through store.h (three regions, one of which sees no STARTTLS;
 * a change history; agents up, stale and never heard), then queried with
 * libcurl: every endpoint, the token check, input validation and limits,
 * exact JSON values and exact /metrics lines.  When $MXS_CLI names the CLI
 * binary, it is run against the same API.  Tests run in order: the domain
 * tests change the job list, and the metrics test reads counters last.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http_api.h"
#include "testhttp.h"
#include "metrics.h"
#include "store.h"

#define TOKEN  "s3cret-token"
#define DOMAIN "strip.mxs.test"
#define ADDR   "192.0.2.36"
#define LEAF_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SPKI_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static struct {
	char dir[64], db[128], tokfile[128];
	struct mxs_metrics m;
	struct mxs_api *api;
	char base[64];
	int64_t now;
} g;

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- fixture ------------------------------------------------------- */

static void
obs(struct mxs_store_obs *o, unsigned id, int64_t t, const char *region, int starttls)
{
	int c;

	memset(o, 0, sizeof(*o));
	memset(o->result_id, (int)id, sizeof(o->result_id));
	o->t_ms = t;
	snprintf(o->domain, sizeof(o->domain), DOMAIN);
	snprintf(o->mx_host, sizeof(o->mx_host), "mx." DOMAIN);
	snprintf(o->address, sizeof(o->address), ADDR);
	snprintf(o->region, sizeof(o->region), "%s", region);
	for (c = 0; c < MXS_STORE_NCHECKS; c++)
		snprintf(o->v[c].status, sizeof(o->v[c].status), "ok");
	snprintf(o->v[MXS_STORE_DANE].status, sizeof(o->v[0].status), "not-tested");
	o->starttls_advertised = starttls;
	snprintf(o->tls_version, sizeof(o->tls_version), "TLSv1.3");
	snprintf(o->leaf_sha256, sizeof(o->leaf_sha256), LEAF_A);
	snprintf(o->spki_sha256, sizeof(o->spki_sha256), SPKI_A);
	o->days_to_expiry = 87;
	snprintf(o->mx_set, sizeof(o->mx_set), "10 mx." DOMAIN);
	snprintf(o->dnssec, sizeof(o->dnssec), "secure");
	snprintf(o->sts_id, sizeof(o->sts_id), "20261123");
	snprintf(o->sts_mode, sizeof(o->sts_mode), "enforce");
	snprintf(o->tlsa, sizeof(o->tlsa), "3 1 1 %s\n2 0 1 x\\y", SPKI_A);
	if (starttls == 0) {
		/* eu: no STARTTLS on its path; a hostile reason (invalid UTF-8). */
		snprintf(o->v[MXS_STORE_TLS].status, sizeof(o->v[0].status), "fail");
		snprintf(o->v[MXS_STORE_TLS].result_type, sizeof(o->v[0].result_type),
		         "starttls-not-supported");
		snprintf(o->v[MXS_STORE_TLS].reason, sizeof(o->v[0].reason), "bad \xff byte");
		for (c = MXS_STORE_PKIX; c <= MXS_STORE_DANE; c++)
			snprintf(o->v[c].status, sizeof(o->v[0].status), "not-tested");
		o->tls_version[0] = o->leaf_sha256[0] = o->spki_sha256[0] = '\0';
		o->days_to_expiry = MXS_STORE_NO_DAYS;
	}
}

static void
fill_store(void)
{
	struct mxs_store *st = NULL;
	struct mxs_store_obs *rows = calloc(3, sizeof(*rows));
	struct mxs_store_domain d = {.interval_s = 600, .added_ms = 1795428000000};
	struct mxs_store_agent a;
	char err[512];
	size_t nnew;

	assert_non_null(rows);
	if (mxs_store_sqlite_open(g.db, NULL, &st, err, sizeof(err)) != MXS_OK)
		fail_msg("open: %s", err);
	/* us, first: PKIX failed (expired), another TLSA set. */
	obs(&rows[0], 1, g.now - 120000, "us", 1);
	snprintf(rows[0].v[MXS_STORE_PKIX].status, sizeof(rows[0].v[0].status), "fail");
	snprintf(rows[0].v[MXS_STORE_PKIX].result_type, sizeof(rows[0].v[0].result_type),
	         "certificate-expired");
	snprintf(rows[0].tlsa, sizeof(rows[0].tlsa), "3 1 1 old\nline");
	if (mxs_store_put_batch(st, rows, 1, &nnew, err, sizeof(err)) != MXS_OK)
		fail_msg("put: %s", err);
	obs(&rows[0], 2, g.now - 60000, "us", 1);
	obs(&rows[1], 3, g.now - 60000, "eu", 0);
	obs(&rows[2], 4, g.now - 60000, "ap", 1);
	if (mxs_store_put_batch(st, rows, 3, &nnew, err, sizeof(err)) != MXS_OK)
		fail_msg("put: %s", err);
	free(rows);

	snprintf(d.domain, sizeof(d.domain), DOMAIN);
	if (mxs_store_domain_put(st, &d, NULL, err, sizeof(err)) != MXS_OK)
		fail_msg("domain_put: %s", err);
	snprintf(d.domain, sizeof(d.domain), "quiet.example");
	d.interval_s = 300;
	if (mxs_store_domain_put(st, &d, NULL, err, sizeof(err)) != MXS_OK)
		fail_msg("domain_put: %s", err);

	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "agent-us");
	snprintf(a.region, sizeof(a.region), "us");
	snprintf(a.version, sizeof(a.version), "0.1.0");
	snprintf(a.address, sizeof(a.address), "198.51.100.7:40000");
	snprintf(a.egress, sizeof(a.egress), "ok");
	a.spool_depth = 5;
	a.spool_bytes = 2048;
	a.probes_run = 120;
	a.probes_failed = 3;
	a.cycles = 4;
	a.last_cycle_ms = 1500;
	a.uptime_s = 3600;
	if (mxs_store_agent_hello(st, &a, g.now - 5000, err, sizeof(err)) != MXS_OK ||
	    mxs_store_agent_heartbeat(st, &a, g.now - 10000, err, sizeof(err)) != MXS_OK)
		fail_msg("agent: %s", err);
	snprintf(a.name, sizeof(a.name), "agent-eu");
	snprintf(a.region, sizeof(a.region), "eu");
	snprintf(a.egress, sizeof(a.egress), "blocked");
	/* A hostile detail: a terminal escape the CLI must not print. */
	snprintf(a.egress_detail, sizeof(a.egress_detail), "port 25 \"filtered\"\x1b[2J");
	a.spool_depth = 7;
	if (mxs_store_agent_hello(st, &a, g.now - 2000000, err, sizeof(err)) != MXS_OK ||
	    mxs_store_agent_heartbeat(st, &a, g.now - 1000000, err, sizeof(err)) != MXS_OK)
		fail_msg("agent: %s", err);
	snprintf(a.name, sizeof(a.name), "agent-ap");
	snprintf(a.region, sizeof(a.region), "ap");
	if (mxs_store_agent_hello(st, &a, g.now - 1000, err, sizeof(err)) != MXS_OK)
		fail_msg("agent: %s", err);
	mxs_store_close(&st);
}

static int
setup(void **state)
{
	struct mxs_api_config cfg = {.listen = "127.0.0.1:0", .token = TOKEN};
	char err[512];
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	g.now = wall_ms();
	snprintf(g.dir, sizeof(g.dir), "/tmp/test_api.XXXXXX");
	if (mkdtemp(g.dir) == NULL)
		return -1;
	snprintf(g.db, sizeof(g.db), "%s/store.db", g.dir);
	snprintf(g.tokfile, sizeof(g.tokfile), "%s/api.token", g.dir);
	if ((f = fopen(g.tokfile, "w")) == NULL)
		return -1;
	fputs(TOKEN "\n", f);
	fclose(f);
	fill_store();
	cfg.db_path = g.db;
	if (mxs_api_start(&cfg, &g.m, &g.api, err, sizeof(err)) != MXS_OK) {
		fprintf(stderr, "mxs_api_start: %s\n", err);
		return -1;
	}
	snprintf(g.base, sizeof(g.base), "http://127.0.0.1:%d", mxs_api_port(g.api));
	return 0;
}

static int
teardown(void **state)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	char p[192];
	size_t i;

	mxs_api_stop(&g.api);
	assert_null(g.api);
	mxs_api_stop(&g.api); /* NULL-safe */
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", g.db, sfx[i]);
		unlink(p);
	}
	unlink(g.tokfile);
	rmdir(g.dir);
	curl_global_cleanup();
	return 0;
}

/* ---- HTTP ---------------------------------------------------------- */

/* method path with token (NULL: none) and body (NULL: none); see th_request. */
static long
http(const char *method, const char *path, const char *token, const char *body, char **text)
{
	char url[512];

	snprintf(url, sizeof(url), "%s%s", g.base, path);
	return th_request(method, url, token, body, text, NULL);
}

/* As http(), with the reply parsed as JSON (caller decrefs). */
static json_t *
jhttp(const char *method, const char *path, const char *token, const char *body, long want)
{
	char *text = NULL;
	long st = http(method, path, token, body, &text);
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (st != want)
		fail_msg("%s %s: status %ld, want %ld: %s", method, path, st, want, text);
	if (j == NULL)
		fail_msg("%s %s: not JSON (%s): %s", method, path, e.text, text);
	free(text);
	return j;
}

#define JGET(o, k) json_object_get((o), (k))

static void
assert_error_reply(const char *method, const char *path, const char *token, const char *body,
                   long want)
{
	json_t *j = jhttp(method, path, token, body, want);

	assert_true(json_is_string(JGET(j, "error")));
	assert_int_equal(json_object_size(j), 1);
	json_decref(j);
}

/* ---- tests --------------------------------------------------------- */

static void
test_unauthorized(void **state)
{
	uint64_t before = g.m.api_unauthorized;

	assert_error_reply("GET", "/api/v1/domains", NULL, NULL, 401);
	assert_error_reply("GET", "/api/v1/domains", "wrong", NULL, 401);
	assert_error_reply("GET", "/api/v1/regions", TOKEN "x", NULL, 401);
	assert_error_reply("GET", "/api/v1/regions", "s3cret-toke", NULL, 401);
	assert_error_reply("DELETE", "/api/v1/domains/" DOMAIN, "", NULL, 401);
	assert_int_equal(g.m.api_unauthorized - before, 5);
}

static void
test_not_found_and_method(void **state)
{
	assert_error_reply("GET", "/api/v1/nothing", TOKEN, NULL, 404);
	assert_error_reply("GET", "/elsewhere", NULL, NULL, 404);
	assert_error_reply("PUT", "/api/v1/domains", TOKEN, "{}", 405);
	assert_error_reply("POST", "/api/v1/regions", TOKEN, "{}", 405);
	assert_error_reply("GET", "/api/v1/domains/" DOMAIN, TOKEN, NULL, 405);
	assert_error_reply("GET", "/api/v1/status/nope.example", TOKEN, NULL, 404);
	assert_error_reply("GET", "/api/v1/history/nope.example", TOKEN, NULL, 404);
	assert_error_reply("GET", "/api/v1/status/bad..name", TOKEN, NULL, 400);
	assert_error_reply("GET", "/api/v1/status/a%00b", TOKEN, NULL, 400);
}

static void
test_domains_list(void **state)
{
	json_t *j = jhttp("GET", "/api/v1/domains", TOKEN, NULL, 200), *d;

	assert_true(json_integer_value(JGET(j, "list_version")) >= 2);
	assert_int_equal(json_array_size(JGET(j, "domains")), 2);
	d = json_array_get(JGET(j, "domains"), 0);
	assert_string_equal(json_string_value(JGET(d, "domain")), "quiet.example");
	assert_int_equal(json_integer_value(JGET(d, "interval_s")), 300);
	d = json_array_get(JGET(j, "domains"), 1);
	assert_string_equal(json_string_value(JGET(d, "domain")), DOMAIN);
	assert_int_equal(json_integer_value(JGET(d, "interval_s")), 600);
	assert_string_equal(json_string_value(JGET(d, "added")), "2026-11-23T10:00:00Z");
	json_decref(j);
}

static void
test_domains_post_delete(void **state)
{
	json_t *j;
	char *big;
	long long v0;
	size_t i;
	static const char *const bad[] = {
	        "{\"domain\":\"bad..name\"}",
	        "{\"domain\":\"-x.org\"}",
	        "{\"domain\":\"x-.org\"}",
	        "{\"domain\":\"\"}",
	        "{\"domain\":\".\"}",
	        "{\"domain\":\"sp ace.org\"}",
	        "{\"domain\":\"a\\u0000b.org\"}",
	        "{\"domain\":42}",
	        "{\"interval_s\":300}",
	        "{\"domain\":\"ok.org\",\"interval_s\":9}",
	        "{\"domain\":\"ok.org\",\"interval_s\":86401}",
	        "{\"domain\":\"ok.org\",\"interval_s\":\"300\"}",
	        "{\"domain\":\"ok.org\",\"interval_s\":300.5}",
	        "{\"domain\":\"ok.org\",\"extra\":1}",
	        "{\"domain\":\"ok.org\",\"domain\":\"ok.org\"}",
	        "[\"ok.org\"]",
	        "not json",
	        "",
	};

	j = jhttp("GET", "/api/v1/domains", TOKEN, NULL, 200);
	v0 = json_integer_value(JGET(j, "list_version"));
	json_decref(j);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_error_reply("POST", "/api/v1/domains", TOKEN, bad[i], 400);

	j = jhttp("POST", "/api/v1/domains", TOKEN, "{\"domain\":\"Example.ORG.\"}", 201);
	assert_string_equal(json_string_value(JGET(j, "domain")), "example.org");
	assert_true(json_is_true(JGET(j, "created")));
	assert_int_equal(json_integer_value(JGET(j, "interval_s")), 300);
	json_decref(j);
	j = jhttp("POST", "/api/v1/domains", TOKEN,
	          "{\"domain\":\"example.org\",\"interval_s\":86400}", 200);
	assert_true(json_is_false(JGET(j, "created")));
	json_decref(j);
	/* Added again without an interval: it keeps its own (no list change). */
	j = jhttp("POST", "/api/v1/domains", TOKEN, "{\"domain\":\"example.org\"}", 200);
	assert_true(json_is_false(JGET(j, "created")));
	assert_int_equal(json_integer_value(JGET(j, "interval_s")), 86400);
	json_decref(j);

	j = jhttp("GET", "/api/v1/domains", TOKEN, NULL, 200);
	assert_int_equal(json_array_size(JGET(j, "domains")), 3);
	assert_string_equal(
	        json_string_value(JGET(json_array_get(JGET(j, "domains"), 0), "domain")),
	        "example.org");
	assert_int_equal(
	        json_integer_value(JGET(json_array_get(JGET(j, "domains"), 0), "interval_s")),
	        86400);
	assert_int_equal(json_integer_value(JGET(j, "list_version")), v0 + 2);
	json_decref(j);

	/* Over 64 KiB: refused by evhttp before the handler (HTML body). */
	big = malloc(70 * 1024 + 64);
	assert_non_null(big);
	memcpy(big, "{\"domain\":\"", 11);
	memset(big + 11, 'a', 70 * 1024);
	memcpy(big + 11 + 70 * 1024, ".org\"}", 7);
	assert_int_equal(http("POST", "/api/v1/domains", TOKEN, big, NULL), 413);
	free(big);

	assert_error_reply("DELETE", "/api/v1/domains/nope.example", TOKEN, NULL, 404);
	j = jhttp("DELETE", "/api/v1/domains/EXAMPLE.org", TOKEN, NULL, 200);
	assert_string_equal(json_string_value(JGET(j, "domain")), "example.org");
	assert_true(json_is_true(JGET(j, "removed")));
	json_decref(j);
	assert_error_reply("DELETE", "/api/v1/domains/example.org", TOKEN, NULL, 404);
}

static const json_t *
row_of(const json_t *rows, const char *region)
{
	const json_t *r;
	size_t i;

	json_array_foreach(rows, i, r)
	{
		if (strcmp(json_string_value(JGET(r, "region")), region) == 0)
			return r;
	}
	fail_msg("no row for %s", region);
	return NULL;
}

static void
test_status(void **state)
{
	json_t *j = jhttp("GET", "/api/v1/status/Strip.MXS.test.", TOKEN, NULL, 200);
	const json_t *rows = JGET(j, "rows"), *us, *eu, *tls;
	char seen[32];
	time_t t = (time_t)((g.now - 60000) / 1000);
	struct tm tm;

	assert_string_equal(json_string_value(JGET(j, "domain")), DOMAIN);
	assert_true(json_is_true(JGET(j, "watched")));
	assert_null(JGET(j, "truncated"));
	assert_int_equal(json_array_size(rows), 3);
	us = row_of(rows, "us");
	eu = row_of(rows, "eu");
	assert_string_equal(json_string_value(JGET(us, "mx_host")), "mx." DOMAIN);
	assert_string_equal(json_string_value(JGET(us, "address")), ADDR);
	gmtime_r(&t, &tm);
	strftime(seen, sizeof(seen), "%Y-%m-%dT%H:%M:%SZ", &tm);
	assert_string_equal(json_string_value(JGET(us, "seen")), seen);
	assert_in_range(json_integer_value(JGET(us, "age_s")), 59, 120);
	assert_true(json_is_true(JGET(us, "starttls")));
	assert_true(json_is_false(JGET(eu, "starttls")));
	assert_int_equal(json_integer_value(JGET(us, "days_to_expiry")), 87);
	assert_true(json_is_null(JGET(eu, "days_to_expiry")));
	assert_string_equal(json_string_value(JGET(us, "tls_version")), "TLSv1.3");
	assert_true(json_is_null(JGET(eu, "tls_version")));
	assert_string_equal(json_string_value(JGET(us, "leaf_sha256")), LEAF_A);
	assert_string_equal(json_string_value(JGET(us, "spki_sha256")), SPKI_A);
	assert_true(json_is_null(JGET(eu, "leaf_sha256")));
	assert_string_equal(json_string_value(JGET(us, "dnssec")), "secure");
	assert_string_equal(json_string_value(JGET(us, "mx_set")), "10 mx." DOMAIN);
	assert_string_equal(json_string_value(JGET(us, "sts_mode")), "enforce");
	assert_string_equal(json_string_value(JGET(us, "sts_id")), "20261123");
	assert_true(json_is_null(JGET(us, "sts_body_sha256")));
	assert_int_equal(json_array_size(JGET(us, "tlsa")), 2);
	assert_string_equal(json_string_value(json_array_get(JGET(us, "tlsa"), 0)),
	                    "3 1 1 " SPKI_A);
	assert_string_equal(json_string_value(json_array_get(JGET(us, "tlsa"), 1)), "2 0 1 x\\y");
	assert_int_equal(json_object_size(JGET(us, "checks")), 7);
	assert_string_equal(json_string_value(JGET(JGET(JGET(us, "checks"), "sts"), "status")),
	                    "ok");
	assert_string_equal(json_string_value(JGET(JGET(JGET(us, "checks"), "dane"), "status")),
	                    "not-tested");
	tls = JGET(JGET(eu, "checks"), "tls");
	assert_string_equal(json_string_value(JGET(tls, "status")), "fail");
	assert_string_equal(json_string_value(JGET(tls, "result_type")), "starttls-not-supported");
	/* The invalid byte became U+FFFD. */
	assert_string_equal(json_string_value(JGET(tls, "reason")), "bad \xEF\xBF\xBD byte");
	json_decref(j);

	/* Watched, nothing seen yet: 200 and no rows. */
	j = jhttp("GET", "/api/v1/status/quiet.example", TOKEN, NULL, 200);
	assert_int_equal(json_array_size(JGET(j, "rows")), 0);
	assert_true(json_is_true(JGET(j, "watched")));
	json_decref(j);
}

static void
test_history(void **state)
{
	json_t *j = jhttp("GET", "/api/v1/history/" DOMAIN, TOKEN, NULL, 200), *c, *first = NULL;
	const json_t *ch = JGET(j, "changes");
	size_t i, nus = 0;

	assert_string_equal(json_string_value(JGET(j, "domain")), DOMAIN);
	assert_int_equal(json_array_size(ch), 4); /* us first, us change, eu first, ap first */
	/* Newest first: the us change leads the us entries. */
	json_array_foreach(ch, i, c)
	{
		if (strcmp(json_string_value(JGET(c, "region")), "us") != 0)
			continue;
		if (nus++ == 0) {
			const json_t *what = JGET(c, "what");

			assert_string_equal(json_string_value(json_array_get(what, 0)),
			                    "pkix.status");
			assert_string_equal(json_string_value(json_array_get(what, 1)),
			                    "pkix.result_type");
			assert_string_equal(json_string_value(json_array_get(what, 2)), "tlsa");
			assert_int_equal(json_array_size(what), 3);
			assert_string_equal(json_string_value(JGET(JGET(c, "old"), "pkix.status")),
			                    "fail");
			assert_string_equal(
			        json_string_value(JGET(JGET(c, "old"), "pkix.result_type")),
			        "certificate-expired");
			assert_string_equal(json_string_value(JGET(JGET(c, "new"), "pkix.status")),
			                    "ok");
			assert_string_equal(
			        json_string_value(JGET(JGET(c, "new"), "pkix.result_type")), "");
			/* Escapes undone: a real newline, a single backslash. */
			assert_string_equal(json_string_value(JGET(JGET(c, "old"), "tlsa")),
			                    "3 1 1 old\nline");
			assert_string_equal(json_string_value(JGET(JGET(c, "new"), "tlsa")),
			                    "3 1 1 " SPKI_A "\n2 0 1 x\\y");
			assert_string_equal(json_string_value(JGET(c, "mx_host")), "mx." DOMAIN);
			assert_string_equal(json_string_value(JGET(c, "address")), ADDR);
		} else {
			first = c;
		}
	}
	assert_int_equal(nus, 2);
	assert_non_null(first);
	assert_string_equal(json_string_value(json_array_get(JGET(first, "what"), 0)), "first");
	assert_int_equal(json_object_size(JGET(first, "old")), 0);
	assert_string_equal(json_string_value(JGET(JGET(first, "new"), "pkix.status")), "fail");
	json_decref(j);

	j = jhttp("GET", "/api/v1/history/" DOMAIN "?limit=1", TOKEN, NULL, 200);
	assert_int_equal(json_array_size(JGET(j, "changes")), 1);
	json_decref(j);
	assert_error_reply("GET", "/api/v1/history/" DOMAIN "?limit=0", TOKEN, NULL, 400);
	assert_error_reply("GET", "/api/v1/history/" DOMAIN "?limit=1001", TOKEN, NULL, 400);
	assert_error_reply("GET", "/api/v1/history/" DOMAIN "?limit=1x", TOKEN, NULL, 400);
	j = jhttp("GET", "/api/v1/history/quiet.example?limit=1000", TOKEN, NULL, 200);
	assert_int_equal(json_array_size(JGET(j, "changes")), 0);
	json_decref(j);
}

static void
test_regions(void **state)
{
	json_t *j = jhttp("GET", "/api/v1/regions", TOKEN, NULL, 200);
	const json_t *a = JGET(j, "agents"), *ap, *eu, *us;

	assert_int_equal(json_array_size(a), 3);
	/* Ordered by region, then name. */
	ap = json_array_get(a, 0);
	eu = json_array_get(a, 1);
	us = json_array_get(a, 2);
	assert_string_equal(json_string_value(JGET(ap, "name")), "agent-ap");
	assert_string_equal(json_string_value(JGET(ap, "state")), "never");
	assert_true(json_is_null(JGET(ap, "last_heartbeat")));
	assert_true(json_is_null(JGET(ap, "heartbeat_age_s")));
	assert_string_equal(json_string_value(JGET(eu, "state")), "stale");
	assert_in_range(json_integer_value(JGET(eu, "heartbeat_age_s")), 1000, 1100);
	assert_string_equal(json_string_value(JGET(eu, "egress")), "blocked");
	assert_string_equal(json_string_value(JGET(eu, "egress_detail")),
	                    "port 25 \"filtered\"\x1b[2J");
	assert_string_equal(json_string_value(JGET(us, "state")), "up");
	assert_string_equal(json_string_value(JGET(us, "region")), "us");
	assert_string_equal(json_string_value(JGET(us, "version")), "0.1.0");
	assert_string_equal(json_string_value(JGET(us, "address")), "198.51.100.7:40000");
	assert_int_equal(json_integer_value(JGET(us, "spool_depth")), 5);
	assert_int_equal(json_integer_value(JGET(us, "spool_bytes")), 2048);
	assert_int_equal(json_integer_value(JGET(us, "probes_run")), 120);
	assert_int_equal(json_integer_value(JGET(us, "probes_failed")), 3);
	assert_int_equal(json_integer_value(JGET(us, "cycles")), 4);
	assert_int_equal(json_integer_value(JGET(us, "last_cycle_ms")), 1500);
	assert_int_equal(json_integer_value(JGET(us, "uptime_s")), 3600);
	assert_true(json_is_string(JGET(us, "first_seen")));
	assert_true(json_is_string(JGET(us, "last_hello")));
	assert_true(json_is_string(JGET(us, "last_heartbeat")));
	json_decref(j);
}

static void
test_start_errors(void **state)
{
	struct mxs_api_config cfg = {.listen = "127.0.0.1:0", .db_path = g.db, .token = ""};
	struct mxs_metrics m;
	struct mxs_api *api = (struct mxs_api *)&m;
	char err[256], listen[64];
	size_t i;
	static const char *const bad_listen[] = {
	        "", "127.0.0.1", "::1:80", "[::1]80", "127.0.0.1:65536", "127.0.0.1:x", ":80"};

	memset(&m, 0, sizeof(m));
	assert_int_equal(mxs_api_start(&cfg, &m, &api, err, sizeof(err)), MXS_ECONFIG);
	assert_null(api);
	cfg.token = TOKEN;
	for (i = 0; i < sizeof(bad_listen) / sizeof(bad_listen[0]); i++) {
		cfg.listen = bad_listen[i];
		assert_int_equal(mxs_api_start(&cfg, &m, &api, err, sizeof(err)), MXS_ECONFIG);
	}
	/* The port in use: a bind error comes back from start. */
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", mxs_api_port(g.api));
	cfg.listen = listen;
	assert_int_equal(mxs_api_start(&cfg, &m, &api, err, sizeof(err)), MXS_ESYS);
	assert_non_null(strstr(err, "cannot listen"));
	assert_null(api);
	/* IPv6 loopback, when the host has it. */
	cfg.listen = "[::1]:0";
	if (mxs_api_start(&cfg, &m, &api, err, sizeof(err)) == MXS_OK) {
		assert_true(mxs_api_port(api) > 0);
		mxs_api_stop(&api);
	}
}

static void
expect_line(const char *text, const char *line)
{
	const char *p = text;
	size_t n = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
		p += n;
	}
	fail_msg("no line \"%s\" in:\n%s", line, text);
}

static void
test_metrics(void **state)
{
	char *text = NULL, line[128];

	g.m.msgs = 7;
	g.m.hello_refused = 2;
	mxs_metrics_obs(&g.m, MXS_STORE_TLS, "fail");
	mxs_metrics_obs(&g.m, MXS_STORE_TLS, "fail");
	mxs_metrics_obs(&g.m, MXS_STORE_STS, "not-tested");
	mxs_metrics_obs(&g.m, MXS_STORE_TLS, "bogus"); /* ignored */
	mxs_metrics_batch_latency(&g.m, 0.5);
	mxs_metrics_batch_latency(&g.m, 3.0);
	mxs_metrics_batch_latency(&g.m, 1000.0);
	assert_int_equal(http("GET", "/metrics", NULL, NULL, &text), 200);
	if (getenv("MXS_TEST_VERBOSE") != NULL)
		fputs(text, stderr);
	expect_line(text, "# TYPE mxsentry_messages_total counter");
	expect_line(text, "mxsentry_messages_total 7");
	expect_line(text, "mxsentry_hellos_total{result=\"refused\"} 2");
	expect_line(text, "mxsentry_observations_total{check=\"tls\",status=\"fail\"} 2");
	expect_line(text, "mxsentry_observations_total{check=\"sts\",status=\"not-tested\"} 1");
	expect_line(text, "mxsentry_observations_total{check=\"tls\",status=\"ok\"} 0");
	expect_line(text, "# TYPE mxsentry_batch_latency_seconds histogram");
	expect_line(text, "mxsentry_batch_latency_seconds_bucket{le=\"0.001\"} 1");
	expect_line(text, "mxsentry_batch_latency_seconds_bucket{le=\"0.002\"} 1");
	expect_line(text, "mxsentry_batch_latency_seconds_bucket{le=\"0.005\"} 2");
	expect_line(text, "mxsentry_batch_latency_seconds_bucket{le=\"0.25\"} 2");
	expect_line(text, "mxsentry_batch_latency_seconds_bucket{le=\"+Inf\"} 3");
	expect_line(text, "mxsentry_batch_latency_seconds_sum 1.003500");
	expect_line(text, "mxsentry_batch_latency_seconds_count 3");
	snprintf(line, sizeof(line), "mxsentry_api_unauthorized_total %llu",
	         (unsigned long long)g.m.api_unauthorized);
	expect_line(text, line);
	snprintf(line, sizeof(line), "mxsentry_api_requests_total %llu",
	         (unsigned long long)g.m.api_requests);
	expect_line(text, line);
	expect_line(text, "mxsentry_domains_watched 2");
	expect_line(text, "mxsentry_agents{state=\"up\"} 1");
	expect_line(text, "mxsentry_agents{state=\"stale\"} 1");
	expect_line(text, "mxsentry_agents{state=\"never\"} 1");
	expect_line(text, "mxsentry_agent_spool_depth{agent=\"agent-us\",region=\"us\"} 5");
	expect_line(text, "mxsentry_agent_spool_depth{agent=\"agent-eu\",region=\"eu\"} 7");
	free(text);
	assert_int_equal(http("POST", "/metrics", NULL, "", NULL), 405);
}

/* ---- the CLI against the same API ---------------------------------- */

/* Run the CLI with args; its stdout into out (caller frees); exit status. */
static int
cli(char **out, const char *args)
{
	const char *bin = getenv("MXS_CLI");
	char cmd[1024];
	size_t n, len = 0, cap = 4096;
	char *b = malloc(cap);
	FILE *p;
	int st;

	assert_non_null(b);
	snprintf(cmd, sizeof(cmd), "MXSENTRY_URL= '%s' -s %s -t %s %s 2>&1", bin, g.base, g.tokfile,
	         args);
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((n = fread(b + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len - 1 == 0)
			assert_non_null(b = realloc(b, cap *= 2));
	}
	b[len] = '\0';
	st = pclose(p);
	if (getenv("MXS_TEST_VERBOSE") != NULL) /* to look at the tables */
		fprintf(stderr, "$ mxsentry %s\n%s", args, b);
	*out = b;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_cli(void **state)
{
	char *out;
	json_t *j;

	if (getenv("MXS_CLI") == NULL)
		skip();
	assert_int_equal(cli(&out, "status " DOMAIN), 0);
	if (strstr(out,
	           "! eu: STARTTLS missing on mx." DOMAIN " " ADDR
	           " while ap, us see it (possible STARTTLS stripping on eu's path)\n") == NULL)
		fail_msg("no stripping line in:\n%s", out);
	if (strstr(out, "MISSING") == NULL || strstr(out, "fail:starttls-not-supported") == NULL ||
	    strstr(out, "87d") == NULL || strstr(out, "ok enforce") == NULL ||
	    (strstr(out, "1m ago") == NULL && strstr(out, "s ago") == NULL))
		fail_msg("status table:\n%s", out);
	free(out);

	assert_int_equal(cli(&out, "--json status " DOMAIN), 0);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_array_size(JGET(j, "rows")), 3);
	json_decref(j);
	free(out);

	assert_int_equal(cli(&out, "regions"), 0);
	if (strstr(out, "stale") == NULL || strstr(out, "never") == NULL ||
	    strstr(out, "! eu/agent-eu: egress blocked: port 25 \"filtered\"?[2J (") == NULL ||
	    strchr(out, '\x1b') != NULL)
		fail_msg("regions:\n%s", out);
	free(out);

	assert_int_equal(cli(&out, "history " DOMAIN " --limit 4"), 0);
	if (strstr(out, "pkix.status: fail -> ok") == NULL)
		fail_msg("history:\n%s", out);
	free(out);

	assert_int_equal(cli(&out, "domains add cli.example --interval 120"), 0);
	assert_non_null(strstr(out, "added cli.example (every 120s)"));
	free(out);
	assert_int_equal(cli(&out, "domains list"), 0);
	assert_non_null(strstr(out, "cli.example"));
	free(out);
	assert_int_equal(cli(&out, "domains remove cli.example"), 0);
	free(out);
	assert_int_equal(cli(&out, "domains remove cli.example"), 1);
	if (strstr(out, "HTTP 404") == NULL || strstr(out, g.base) == NULL)
		fail_msg("404 message:\n%s", out);
	free(out);
	assert_int_equal(cli(&out, "status"), 2);
	free(out);
	assert_int_equal(cli(&out, "regions --interval 60"), 2);
	free(out);
	assert_int_equal(cli(&out, "-t /nonexistent regions"), 1);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_unauthorized),
	        cmocka_unit_test(test_not_found_and_method),
	        cmocka_unit_test(test_domains_list),
	        cmocka_unit_test(test_status),
	        cmocka_unit_test(test_history),
	        cmocka_unit_test(test_regions),
	        cmocka_unit_test(test_domains_post_delete),
	        cmocka_unit_test(test_start_errors),
	        cmocka_unit_test(test_cli),
	        cmocka_unit_test(test_metrics),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
