/*
 * test_store — unit tests for collector/store_sqlite.c through store.h.
 *
 * Each test works on a fresh file in a private temporary directory, and
 * looks behind the interface with a second, plain SQLite connection where
 * it must (schema_version, row counts, a corrupt header, a failing
 * trigger).  Times are fixed instants, never the wall clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <unistd.h>

#include "store.h"

#define T0     ((int64_t)1717200000000) /* 2024-06-01T00:00:00Z, ms */
#define MINUTE ((int64_t)60000)
#define DAY    ((int64_t)86400000)

#define LEAF_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LEAF_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SPKI_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct fx {
	char dir[64];
	char path[128];
	struct mxs_store *st;
	char err[512];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[160];
	static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
	size_t i;

	mxs_store_close(&f->st);
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
open_ok(struct fx *f)
{
	int err = mxs_store_sqlite_open(f->path, NULL, &f->st, f->err, sizeof(f->err));

	if (err != MXS_OK)
		fail_msg("open: %s", f->err);
}

/* A healthy observation of domain at address from region, probe id idb. */
static void
mk(struct mxs_store_obs *o, unsigned idb, int64_t t, const char *domain, const char *addr,
   const char *region)
{
	int c;

	memset(o, 0, sizeof(*o));
	memset(o->result_id, (int)idb, sizeof(o->result_id));
	o->result_id[0] = (unsigned char)(idb >> 8);
	o->t_ms = t;
	snprintf(o->domain, sizeof(o->domain), "%s", domain);
	snprintf(o->mx_host, sizeof(o->mx_host), "mx.%s", domain);
	snprintf(o->address, sizeof(o->address), "%s", addr);
	snprintf(o->region, sizeof(o->region), "%s", region);
	for (c = 0; c < MXS_STORE_NCHECKS; c++) {
		snprintf(o->v[c].status, sizeof(o->v[c].status), "ok");
		snprintf(o->v[c].reason, sizeof(o->v[c].reason), "fine");
	}
	o->starttls_advertised = 1;
	snprintf(o->tls_version, sizeof(o->tls_version), "TLSv1.3");
	snprintf(o->leaf_sha256, sizeof(o->leaf_sha256), LEAF_A);
	snprintf(o->spki_sha256, sizeof(o->spki_sha256), SPKI_A);
	o->days_to_expiry = 60;
	snprintf(o->mx_set, sizeof(o->mx_set), "10 mx.%s", domain);
	snprintf(o->dnssec, sizeof(o->dnssec), "insecure");
	snprintf(o->sts_id, sizeof(o->sts_id), "20240601");
	snprintf(o->sts_mode, sizeof(o->sts_mode), "enforce");
	snprintf(o->tlsa, sizeof(o->tlsa), "3 1 1 %s\n2 0 1 %s", SPKI_A, LEAF_A);
}

static size_t
put(struct fx *f, const struct mxs_store_obs *rows, size_t n)
{
	size_t nnew = 99;
	int err = mxs_store_put_batch(f->st, rows, n, &nnew, f->err, sizeof(f->err));

	if (err != MXS_OK)
		fail_msg("put_batch: %s", f->err);
	return nnew;
}

/* One integer from SQL run on a separate connection. */
static long long
sql_int(struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;

	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
sql_exec(struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static size_t
nchanges(struct fx *f, const char *domain)
{
	static struct mxs_store_change ch[64];
	size_t n = 0;

	assert_int_equal(mxs_store_history(f->st, domain, ch, 64, &n, f->err, sizeof(f->err)),
	                 MXS_OK);
	return n;
}

/* ---- open and migrations ------------------------------------------- */

static void
test_open_migrates_empty(void **state)
{
	struct fx *f = *state;

	open_ok(f);
	assert_int_equal(sql_int(f, "SELECT version FROM schema_version"),
	                 mxs_store_sqlite_schema_version());
	assert_int_equal(sql_int(f, "SELECT count(*) FROM schema_version"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM sqlite_master WHERE name IN"
	                            " ('results', 'latest', 'changes')"),
	                 3);
	/* No index on results is led by domain. */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM pragma_index_list('results') l,"
	                            " pragma_index_info(l.name) i WHERE i.seqno = 0"
	                            " AND i.name = 'domain'"),
	                 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM pragma_journal_mode"
	                            " WHERE journal_mode = 'wal'"),
	                 1);
	assert_int_equal(mxs_store_sqlite_schema_version(), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM sqlite_master WHERE name IN"
	                            " ('domains', 'list_version', 'agents')"),
	                 3);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM pragma_table_info('results')"
	                            " WHERE name IN ('sts_status', 'sts_type', 'sts_reason')"),
	                 3);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM pragma_table_info('state')"
	                            " WHERE name IN ('sts_status', 'sts_type')"),
	                 2);
}

static void
test_reopen_keeps_data(void **state)
{
	struct fx *f = *state;
	struct mxs_store_obs o, got[4];
	size_t n;

	open_ok(f);
	mk(&o, 1, T0, "example.org", "192.0.2.1", "eu");
	assert_int_equal(put(f, &o, 1), 1);
	mxs_store_close(&f->st);
	assert_null(f->st);
	open_ok(f);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM schema_version"), 1);
	assert_int_equal(mxs_store_latest(f->st, "example.org", got, 4, &n, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].leaf_sha256, LEAF_A);
	assert_int_equal(got[0].days_to_expiry, 60);
	assert_memory_equal(got[0].result_id, o.result_id, MXS_STORE_ID_LEN);
}

static void
test_newer_version_refused(void **state)
{
	struct fx *f = *state;

	open_ok(f);
	mxs_store_close(&f->st);
	sql_exec(f, "UPDATE schema_version SET version = 99");
	assert_int_equal(mxs_store_sqlite_open(f->path, NULL, &f->st, f->err, sizeof(f->err)),
	                 MXS_ECONFIG);
	assert_null(f->st);
	assert_non_null(strstr(f->err, "schema version 99 is newer"));
	assert_int_equal(sql_int(f, "SELECT version FROM schema_version"), 99);
}

static void
test_not_sqlite_refused(void **state)
{
	struct fx *f = *state;
	FILE *fp = fopen(f->path, "w");
	size_t i;

	assert_non_null(fp);
	for (i = 0; i < 200; i++)
		fputs("this is a mail log, not a database\n", fp);
	fclose(fp);
	assert_int_equal(mxs_store_sqlite_open(f->path, NULL, &f->st, f->err, sizeof(f->err)),
	                 MXS_ESYNTAX);
	assert_null(f->st);
	assert_non_null(strstr(f->err, "not an SQLite database"));
	assert_non_null(strstr(f->err, f->path));
}

static void
test_corrupt_header_refused(void **state)
{
	struct fx *f = *state;
	struct mxs_store_obs o;
	FILE *fp;

	open_ok(f);
	mk(&o, 1, T0, "example.org", "192.0.2.1", "eu");
	assert_int_equal(put(f, &o, 1), 1);
	mxs_store_close(&f->st);
	sql_exec(f, "PRAGMA wal_checkpoint(TRUNCATE)");
	fp = fopen(f->path, "r+");
	assert_non_null(fp);
	fputs("garbage garbage!", fp); /* over "SQLite format 3\0" */
	fclose(fp);
	assert_int_equal(mxs_store_sqlite_open(f->path, NULL, &f->st, f->err, sizeof(f->err)),
	                 MXS_ESYNTAX);
	assert_non_null(strstr(f->err, "not an SQLite database, or corrupt"));
}

static void
test_foreign_database_refused(void **state)
{
	struct fx *f = *state;

	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE mail(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(mxs_store_sqlite_open(f->path, NULL, &f->st, f->err, sizeof(f->err)),
	                 MXS_ESYNTAX);
	assert_non_null(strstr(f->err, "not an mxsentry store"));
	assert_int_equal(sql_int(f, "SELECT count(*) FROM sqlite_master"), 1);
}

/* ---- put_batch ----------------------------------------------------- */

/* Two results (regions eu, us), each with two addresses. */
static void
mk_batch(struct mxs_store_obs b[4], unsigned id, int64_t t)
{
	mk(&b[0], id, t, "example.org", "192.0.2.1", "eu");
	mk(&b[1], id, t, "example.org", "2001:db8::1", "eu");
	mk(&b[2], id + 1, t + 1000, "example.org", "192.0.2.1", "us");
	mk(&b[3], id + 1, t + 1000, "example.org", "2001:db8::1", "us");
}

static void
test_batch_stored_once(void **state)
{
	struct fx *f = *state;
	struct mxs_store_obs b[4];

	open_ok(f);
	mk_batch(b, 10, T0);
	assert_int_equal(put(f, b, 4), 4);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM results"), 4);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM latest"), 4);
	assert_int_equal(nchanges(f, "example.org"), 4); /* each key's first */

	/* The same delivery again: nothing new anywhere. */
	assert_int_equal(put(f, b, 4), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM results"), 4);
	assert_int_equal(nchanges(f, "example.org"), 4);

	/* One old result re-sent beside one new one: only the new is stored. */
	mk(&b[0], 12, T0 + MINUTE, "example.org", "192.0.2.1", "eu");
	mk(&b[1], 12, T0 + MINUTE, "example.org", "2001:db8::1", "eu");
	assert_int_equal(put(f, b, 4), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM results"), 6);
	assert_int_equal(put(f, NULL, 0), 0);
}

static void
test_latest_updated(void **state)
{
	struct fx *f = *state;
	struct mxs_store_obs b[4], got[8];
	size_t n, i;

	open_ok(f);
	mk_batch(b, 10, T0);
	assert_int_equal(put(f, b, 4), 4);
	mk_batch(b, 20, T0 + 15 * MINUTE);
	for (i = 0; i < 4; i++) {
		snprintf(b[i].v[MXS_STORE_TLS].reason, MXS_STORE_REASON_MAX, "handshake %zu", i);
		b[i].days_to_expiry = 59;
	}
	assert_int_equal(put(f, b, 4), 4);
	assert_int_equal(mxs_store_latest(f->st, "example.org", got, 8, &n, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(n, 4);
	for (i = 0; i < n; i++) {
		assert_true(got[i].t_ms >= T0 + 15 * MINUTE);
		assert_int_equal(got[i].days_to_expiry, 59);
		assert_non_null(strstr(got[i].v[MXS_STORE_TLS].reason, "handshake"));
		assert_string_equal(got[i].domain, "example.org");
	}
	/* Ordered by MX host, address, region. */
	assert_string_equal(got[0].address, "192.0.2.1");
	assert_string_equal(got[0].region, "eu");
	assert_string_equal(got[1].region, "us");
	assert_string_equal(got[3].address, "2001:db8::1");
	/* A reason is not a change. */
	assert_int_equal(nchanges(f, "example.org"), 4);
	/* Fewer slots than rows: the count says how many there are. */
	assert_int_equal(mxs_store_latest(f->st, "example.org", got, 1, &n, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(n, 4);
	assert_int_equal(
	        mxs_store_latest(f->st, "absent.example", got, 8, &n, f->err, sizeof(f->err)),
	        MXS_OK);
	assert_int_equal(n, 0);
}

static void
test_changes_only_on_change(void **state)
{
	struct fx *f = *state;
	struct mxs_store_obs o;
	static struct mxs_store_change ch[8];
	size_t n;

	open_ok(f);
	mk(&o, 1, T0, "example.org", "192.0.2.1", "eu");
	assert_int_equal(put(f, &o, 1), 1);
	mk(&o, 2, T0 + MINUTE, "example.org", "192.0.2.1", "eu");
	assert_int_equal(put(f, &o, 1), 1);
	assert_int_equal(nchanges(f, "example.org"), 1); /* same verdict twice */

	mk(&o, 3, T0 + 2 * MINUTE, "example.org", "192.0.2.1", "eu");
	snprintf(o.v[MXS_STORE_TLS].status, MXS_STORE_WORD_MAX, "fail");
	snprintf(o.v[MXS_STORE_TLS].result_type, MXS_STORE_WORD_MAX, "starttls-not-supported");
	assert_int_equal(put(f, &o, 1), 1);
	assert_int_equal(nchanges(f, "example.org"), 2); /* status flip */

	assert_int_equal(mxs_store_history(f->st, "example.org", ch, 8, &n, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_string_equal(ch[0].what, "tls.status,tls.result_type");
	assert_string_equal(ch[0].old_values, "tls.status=ok\ntls.result_type=\n");
	assert_string_equal(ch[0].new_values,
	                    "tls.status=fail\ntls.result_type=starttls-not-supported\n");
	assert_int_equal(ch[0].t_ms, T0 + 2 * MINUTE);
	assert_memory_equal(ch[0].result_id, o.result_id, MXS_STORE_ID_LEN);
	assert_string_equal(ch[1].what, "first");
	assert_string_equal(ch[1].old_values, "");
	assert_non_null(strstr(ch[1].new_values, "leaf_sha256=" LEAF_A "\n"));
	assert_non_null(strstr(ch[1].new_values, "tlsa=3 1 1 " SPKI_A "\\n2 0 1"));

	/* Same failure again: no change. */
	o.result_id[1] = 0x33;
	o.t_ms += MINUTE;
	assert_int_equal(put(f, &o, 1), 1);
	assert_int_equal(nchanges(f, "example.org"), 2);

	/* Certificate renewed: a change naming both fingerprints. */
	mk(&o, 5, T0 + 5 * MINUTE, "example.org", "192.0.2.1", "eu");
	snprintf(o.leaf_sha256, sizeof(o.leaf_sha256), LEAF_B);
	assert_int_equal(put(f, &o, 1), 1);
	assert_int_equal(mxs_store_history(f->st, "example.org", ch, 8, &n, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(n, 3);
	assert_string_equal(ch[0].what, "tls.status,tls.result_type,leaf_sha256");
	assert_non_null(strstr(ch[0].old_values, "leaf_sha256=" LEAF_A));
	assert_non_null(strstr(ch[0].new_values, "leaf_sha256=" LEAF_B));

	/* MTA-STS id, mode and TLSA records are changes too. */
	mk(&o, 6, T0 + 6 * MINUTE, "example.org", "192.0.2.1", "eu");
	snprintf(o.leaf_sha256, sizeof(o.leaf_sha256), LEAF_B);
	snprintf(o.sts_id, sizeof(o.sts_id), "20240602");
	assert_int_equal(put(f, &o, 1), 1);
	snprintf(o.sts_mode, sizeof(o.sts_mode), "testing");
	o.result_id[1] = 0x66;
	o.t_ms += MINUTE;
	assert_int_equal(put(f, &o, 1), 1);
	snprintf(o.tlsa, sizeof(o.tlsa), "3 1 1 %s", SPKI_A);
	o.result_id[1] = 0x67;
	o.t_ms += MINUTE;
	assert_int_equal(put(f, &o, 1), 1);
	assert_int_equal(mxs_store_history(f->st, "example.org", ch, 8, &n, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(n, 6);
	assert_string_equal(ch[0].what, "tlsa");
	assert_string_equal(ch[1].what, "sts_mode");
	assert_string_equal(ch[2].what, "sts_id");
}

static void
test_history_order_and_limit(void **state)
{
	struct fx *f = *state;
	struct mxs_store_obs o;
	static struct mxs_store_change ch[3];
	size_t n;
	unsigned i;

	open_ok(f);
	for (i = 0; i < 6; i++) {
		mk(&o, 100 + i, T0 + (int64_t)i * MINUTE, "example.org", "192.0.2.1", "eu");
		snprintf(o.v[MXS_STORE_SMTP].status, MXS_STORE_WORD_MAX, "%s",
		         i % 2 ? "temporary" : "ok");
		assert_int_equal(put(f, &o, 1), 1);
	}
	mk(&o, 200, T0, "other.example", "192.0.2.9", "eu");
	assert_int_equal(put(f, &o, 1), 1);
	assert_int_equal(mxs_store_history(f->st, "example.org", ch, 3, &n, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(n, 3);
	assert_int_equal(ch[0].t_ms, T0 + 5 * MINUTE);
	assert_int_equal(ch[1].t_ms, T0 + 4 * MINUTE);
	assert_int_equal(ch[2].t_ms, T0 + 3 * MINUTE);
	assert_int_equal(nchanges(f, "example.org"), 6);
	assert_int_equal(nchanges(f, "other.example"), 1);
}

static void
test_late_row_does_not_rewind(void **state)
{
	struct fx *f = *state;
	struct mxs_store_obs b[2], got[2];
	size_t n;

	open_ok(f);
	/* Out of order inside one batch: applied in time order. */
	mk(&b[0], 2, T0 + MINUTE, "example.org", "192.0.2.1", "eu");
	mk(&b[1], 1, T0, "example.org", "192.0.2.1", "eu");
	snprintf(b[1].v[MXS_STORE_PKIX].status, MXS_STORE_WORD_MAX, "fail");
	assert_int_equal(put(f, b, 2), 2);
	assert_int_equal(nchanges(f, "example.org"), 2); /* first (fail), then ok */
	/* A spooled result from before arrives late: raw only. */
	mk(&b[0], 3, T0 - DAY, "example.org", "192.0.2.1", "eu");
	snprintf(b[0].v[MXS_STORE_PKIX].status, MXS_STORE_WORD_MAX, "fail");
	assert_int_equal(put(f, b, 1), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM results"), 3);
	assert_int_equal(nchanges(f, "example.org"), 2);
	assert_int_equal(mxs_store_latest(f->st, "example.org", got, 2, &n, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].t_ms, T0 + MINUTE);
	assert_string_equal(got[0].v[MXS_STORE_PKIX].status, "ok");
}

static void
test_invalid_row_rejects_batch(void **state)
{
	struct fx *f = *state;
	struct mxs_store_obs b[3];
	size_t nnew = 7;

	open_ok(f);
	mk(&b[0], 1, T0, "example.org", "192.0.2.1", "eu");
	mk(&b[1], 2, T0, "", "192.0.2.2", "eu");
	mk(&b[2], 3, T0, "example.net", "192.0.2.3", "eu");
	assert_int_equal(mxs_store_put_batch(f->st, b, 3, &nnew, f->err, sizeof(f->err)),
	                 MXS_EINVAL);
	assert_int_equal(nnew, 0);
	assert_non_null(strstr(f->err, "row 1: empty domain"));

	/* Other invalid rows, each alone. */
	mk(&b[1], 2, T0, "example.com", "192.0.2.2", "eu");
	b[1].v[MXS_STORE_DANE].status[0] = '\0';
	assert_int_equal(mxs_store_put_batch(f->st, b, 3, &nnew, f->err, sizeof(f->err)),
	                 MXS_EINVAL);
	mk(&b[1], 2, T0, "example.com", "192.0.2.2", "eu");
	snprintf(b[1].spki_sha256, sizeof(b[1].spki_sha256), "ABCD");
	assert_int_equal(mxs_store_put_batch(f->st, b, 3, &nnew, f->err, sizeof(f->err)),
	                 MXS_EINVAL);
	mk(&b[1], 2, T0, "example.com", "192.0.2.2", "eu");
	memset(b[1].region, 'r', sizeof(b[1].region)); /* no NUL */
	assert_int_equal(mxs_store_put_batch(f->st, b, 3, &nnew, f->err, sizeof(f->err)),
	                 MXS_EINVAL);
	mk(&b[1], 2, 0, "example.com", "192.0.2.2", "eu");
	assert_int_equal(mxs_store_put_batch(f->st, b, 3, &nnew, f->err, sizeof(f->err)),
	                 MXS_EINVAL);

	assert_int_equal(sql_int(f, "SELECT count(*) FROM results"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM latest"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM changes"), 0);
}

static void
test_database_failure_rolls_back(void **state)
{
	struct fx *f = *state;
	struct mxs_store_obs b[3];
	size_t nnew = 7;

	open_ok(f);
	/* The third row's write fails inside the database, after two went in. */
	sql_exec(f, "CREATE TRIGGER boom BEFORE INSERT ON results"
	            " WHEN NEW.domain = 'boom.example'"
	            " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
	mk(&b[0], 1, T0, "example.org", "192.0.2.1", "eu");
	mk(&b[1], 2, T0, "example.net", "192.0.2.2", "eu");
	mk(&b[2], 3, T0 + 1, "boom.example", "192.0.2.3", "eu");
	assert_int_equal(mxs_store_put_batch(f->st, b, 3, &nnew, f->err, sizeof(f->err)), MXS_ESYS);
	assert_int_equal(nnew, 0);
	assert_non_null(strstr(f->err, "disk on fire"));
	assert_int_equal(sql_int(f, "SELECT count(*) FROM results"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM latest"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM changes"), 0);
	/* The handle is still usable. */
	assert_int_equal(put(f, b, 2), 2);
}

static void
test_retention(void **state)
{
	struct fx *f = *state;
	struct mxs_store_sqlite_opts opts = {.expire_chunk = 2};
	struct mxs_store_obs o;
	size_t ndel = 99, n;
	int64_t now = T0 + 100 * DAY;
	unsigned i;

	assert_int_equal(mxs_store_sqlite_open(f->path, &opts, &f->st, f->err, sizeof(f->err)),
	                 MXS_OK);
	/* 5 rows older than 35 days, 3 inside: a chunk of 2 needs three rounds. */
	for (i = 0; i < 8; i++) {
		int64_t age = i < 5 ? (int64_t)(36 + i) * DAY : (int64_t)(34 - i) * DAY;

		mk(&o, 10 + i, now - age, "example.org", "192.0.2.1", "eu");
		assert_int_equal(put(f, &o, 1), 1);
	}
	mk(&o, 50, now - 35 * DAY, "example.org", "192.0.2.2", "eu"); /* exactly 35: kept */
	assert_int_equal(put(f, &o, 1), 1);
	assert_int_equal(mxs_store_expire(f->st, now, MXS_STORE_RETENTION_DAYS, &ndel, f->err,
	                                  sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(ndel, 5);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM results"), 4);
	assert_int_equal(sql_int(f, "SELECT min(t_ms) FROM results"), now - 35 * DAY);
	/* latest and changes are not raw results. */
	assert_int_equal(
	        mxs_store_latest(f->st, "example.org", NULL, 0, &n, f->err, sizeof(f->err)),
	        MXS_OK);
	assert_int_equal(n, 2);
	assert_int_equal(nchanges(f, "example.org"), 2);
	/* Nothing left to delete. */
	assert_int_equal(mxs_store_expire(f->st, now, MXS_STORE_RETENTION_DAYS, &ndel, f->err,
	                                  sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(ndel, 0);
}

static void
test_two_handles_share_file(void **state)
{
	struct fx *f = *state;
	struct mxs_store *other = NULL;
	struct mxs_store_obs o, got[2];
	size_t n;

	open_ok(f);
	assert_int_equal(mxs_store_sqlite_open(f->path, NULL, &other, f->err, sizeof(f->err)),
	                 MXS_OK);
	mk(&o, 1, T0, "example.org", "192.0.2.1", "eu");
	assert_int_equal(put(f, &o, 1), 1);
	assert_int_equal(mxs_store_latest(other, "example.org", got, 2, &n, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(n, 1);
	/* The other handle sees the id as stored. */
	assert_int_equal(mxs_store_put_batch(other, &o, 1, &n, f->err, sizeof(f->err)), MXS_OK);
	assert_int_equal(n, 0);
	mxs_store_close(&other);
	assert_null(other);
}

/* ---- migration 2 ---------------------------------------------------- */

/* Schema 1 as released (migration 1 of store_sqlite.c), and one result
 * stored by it: raw, latest and state rows. */
static const char v1_schema[] =
        "CREATE TABLE schema_version(version INTEGER NOT NULL);"
        "INSERT INTO schema_version(version) VALUES(1);"
        "CREATE TABLE results(id INTEGER PRIMARY KEY, result_id BLOB NOT NULL,"
        " t_ms INTEGER NOT NULL, domain TEXT NOT NULL, mx_host TEXT NOT NULL,"
        " address TEXT NOT NULL, region TEXT NOT NULL,"
        " connect_status TEXT, connect_type TEXT, connect_reason TEXT,"
        " smtp_status TEXT, smtp_type TEXT, smtp_reason TEXT,"
        " tls_status TEXT, tls_type TEXT, tls_reason TEXT,"
        " pkix_status TEXT, pkix_type TEXT, pkix_reason TEXT,"
        " name_status TEXT, name_type TEXT, name_reason TEXT,"
        " dane_status TEXT, dane_type TEXT, dane_reason TEXT,"
        " starttls INTEGER, tls_version TEXT, leaf_sha256 BLOB, spki_sha256 BLOB,"
        " days_to_expiry INTEGER, mx_set TEXT, dnssec TEXT, sts_id TEXT,"
        " sts_body_sha256 BLOB, sts_mode TEXT, tlsa TEXT);"
        "CREATE INDEX results_t_id ON results(t_ms, result_id);"
        "CREATE TABLE latest(domain TEXT NOT NULL, address TEXT NOT NULL,"
        " region TEXT NOT NULL, t_ms INTEGER NOT NULL, rid INTEGER NOT NULL,"
        " PRIMARY KEY(domain, address, region)) WITHOUT ROWID;"
        "CREATE TABLE state(domain TEXT NOT NULL, address TEXT NOT NULL,"
        " region TEXT NOT NULL, t_ms INTEGER NOT NULL, result_id BLOB NOT NULL,"
        " mx_host TEXT NOT NULL, connect_status TEXT, connect_type TEXT, smtp_status TEXT,"
        " smtp_type TEXT, tls_status TEXT, tls_type TEXT, pkix_status TEXT, pkix_type TEXT,"
        " name_status TEXT, name_type TEXT, dane_status TEXT, dane_type TEXT,"
        " leaf_sha256 TEXT, spki_sha256 TEXT, sts_id TEXT, sts_body_sha256 TEXT,"
        " sts_mode TEXT, tlsa TEXT, UNIQUE(domain, address, region));"
        "CREATE TABLE changes(id INTEGER PRIMARY KEY, t_ms INTEGER NOT NULL,"
        " result_id BLOB NOT NULL, domain TEXT NOT NULL, mx_host TEXT NOT NULL,"
        " address TEXT NOT NULL, region TEXT NOT NULL, what TEXT NOT NULL,"
        " old_values TEXT NOT NULL, new_values TEXT NOT NULL);"
        "CREATE INDEX changes_domain ON changes(domain, t_ms);"
        "INSERT INTO results VALUES(1, zeroblob(16), 1717200000000, 'example.org',"
        " 'mx.example.org', '192.0.2.1', 'eu', 'ok', '', 'fine', 'ok', '', 'fine',"
        " 'ok', '', 'fine', 'ok', '', 'fine', 'ok', '', 'fine', 'ok', '', 'fine',"
        " 1, 'TLSv1.3', NULL, NULL, 60, '10 mx.example.org', 'insecure', '20240601', NULL,"
        " 'enforce', '');"
        "INSERT INTO latest VALUES('example.org', '192.0.2.1', 'eu', 1717200000000, 1);"
        "INSERT INTO state VALUES('example.org', '192.0.2.1', 'eu', 1717200000000,"
        " zeroblob(16), 'mx.example.org', 'ok', '', 'ok', '', 'ok', '', 'ok', '', 'ok', '',"
        " 'ok', '', '', '', '20240601', '', 'enforce', '');"
        "INSERT INTO changes VALUES(1, 1717200000000, zeroblob(16), 'example.org',"
        " 'mx.example.org', '192.0.2.1', 'eu', 'first', '', 'connect.status=ok\n');";

/* mk() without certificate, STS body or TLSA, as the v1 row above. */
static void
mk_v1like(struct mxs_store_obs *o, unsigned idb, int64_t t)
{
	mk(o, idb, t, "example.org", "192.0.2.1", "eu");
	o->leaf_sha256[0] = o->spki_sha256[0] = o->tlsa[0] = '\0';
}

static void
test_migrate_from_v1(void **state)
{
	struct fx *f = *state;
	struct mxs_store_obs o, got[2];
	static struct mxs_store_change ch[4];
	uint64_t version = 0;
	size_t n;

	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v1_schema, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	open_ok(f);
	assert_int_equal(sql_int(f, "SELECT version FROM schema_version"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM schema_version"), 1);

	/* The old row reads back, with no coverage verdict. */
	assert_int_equal(mxs_store_latest(f->st, "example.org", got, 2, &n, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].t_ms, T0);
	assert_string_equal(got[0].v[MXS_STORE_DANE].status, "ok");
	assert_string_equal(got[0].v[MXS_STORE_DANE].reason, "fine");
	assert_string_equal(got[0].v[MXS_STORE_STS].status, "");
	assert_string_equal(got[0].v[MXS_STORE_STS].result_type, "");
	assert_string_equal(got[0].v[MXS_STORE_STS].reason, "");
	assert_string_equal(got[0].sts_mode, "enforce");
	assert_int_equal(got[0].days_to_expiry, 60);

	/* The first coverage verdict of an old key fills state, silently. */
	mk_v1like(&o, 2, T0 + MINUTE);
	assert_int_equal(put(f, &o, 1), 1);
	assert_int_equal(nchanges(f, "example.org"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM state WHERE sts_status = 'ok'"
	                            " AND sts_type = ''"),
	                 1);
	assert_int_equal(mxs_store_latest(f->st, "example.org", got, 2, &n, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_string_equal(got[0].v[MXS_STORE_STS].status, "ok");
	assert_string_equal(got[0].v[MXS_STORE_STS].reason, "fine");

	/* From then on, coverage is compared. */
	mk_v1like(&o, 3, T0 + 2 * MINUTE);
	snprintf(o.v[MXS_STORE_STS].status, MXS_STORE_WORD_MAX, "fail");
	assert_int_equal(put(f, &o, 1), 1);
	assert_int_equal(mxs_store_history(f->st, "example.org", ch, 4, &n, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(n, 2);
	assert_string_equal(ch[0].what, "sts.status");
	assert_string_equal(ch[0].old_values, "sts.status=ok\n");
	assert_string_equal(ch[0].new_values, "sts.status=fail\n");
	assert_string_equal(ch[1].what, "first");

	/* The job list of a migrated store starts at version 1, empty. */
	assert_int_equal(
	        mxs_store_domain_list(f->st, NULL, 0, &n, &version, f->err, sizeof(f->err)),
	        MXS_OK);
	assert_int_equal(n, 0);
	assert_int_equal(version, 1);
}

static void
test_coverage_change_logged(void **state)
{
	struct fx *f = *state;
	struct mxs_store_obs o;
	static struct mxs_store_change ch[4];
	size_t n;

	open_ok(f);
	mk(&o, 1, T0, "example.org", "192.0.2.1", "eu");
	assert_int_equal(put(f, &o, 1), 1);
	assert_int_equal(mxs_store_history(f->st, "example.org", ch, 4, &n, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(n, 1);
	assert_non_null(strstr(ch[0].new_values, "sts.status=ok\n"));

	/* The host's certificate no longer names it: coverage fails. */
	mk(&o, 2, T0 + MINUTE, "example.org", "192.0.2.1", "eu");
	snprintf(o.v[MXS_STORE_STS].status, MXS_STORE_WORD_MAX, "fail");
	snprintf(o.v[MXS_STORE_STS].result_type, MXS_STORE_WORD_MAX, "certificate-host-mismatch");
	snprintf(o.v[MXS_STORE_STS].reason, MXS_STORE_REASON_MAX, "not named");
	assert_int_equal(put(f, &o, 1), 1);
	/* The reason alone is not a change. */
	mk(&o, 3, T0 + 2 * MINUTE, "example.org", "192.0.2.1", "eu");
	snprintf(o.v[MXS_STORE_STS].status, MXS_STORE_WORD_MAX, "fail");
	snprintf(o.v[MXS_STORE_STS].result_type, MXS_STORE_WORD_MAX, "certificate-host-mismatch");
	snprintf(o.v[MXS_STORE_STS].reason, MXS_STORE_REASON_MAX, "still not named");
	assert_int_equal(put(f, &o, 1), 1);
	assert_int_equal(mxs_store_history(f->st, "example.org", ch, 4, &n, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(n, 2);
	assert_string_equal(ch[0].what, "sts.status,sts.result_type");
	assert_string_equal(ch[0].old_values, "sts.status=ok\nsts.result_type=\n");
	assert_string_equal(ch[0].new_values,
	                    "sts.status=fail\nsts.result_type=certificate-host-mismatch\n");
	assert_int_equal(ch[0].t_ms, T0 + MINUTE);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM results WHERE sts_reason = 'not named'"),
	                 1);
}

/* ---- key cache ------------------------------------------------------ */

/* Another handle's write must not be hidden by this handle's memory. */
static void
test_change_by_other_handle_seen(void **state)
{
	struct fx *f = *state;
	struct mxs_store *other = NULL;
	struct mxs_store_obs o;
	static struct mxs_store_change ch[4];
	size_t n;

	open_ok(f);
	assert_int_equal(mxs_store_sqlite_open(f->path, NULL, &other, f->err, sizeof(f->err)),
	                 MXS_OK);
	mk(&o, 1, T0, "example.org", "192.0.2.1", "eu");
	assert_int_equal(put(f, &o, 1), 1); /* f: state is ok */
	mk(&o, 2, T0 + MINUTE, "example.org", "192.0.2.1", "eu");
	snprintf(o.v[MXS_STORE_PKIX].status, MXS_STORE_WORD_MAX, "fail");
	assert_int_equal(mxs_store_put_batch(other, &o, 1, &n, f->err, sizeof(f->err)), MXS_OK);
	assert_int_equal(n, 1);
	mxs_store_close(&other);
	mk(&o, 3, T0 + 2 * MINUTE, "example.org", "192.0.2.1", "eu"); /* ok again */
	assert_int_equal(put(f, &o, 1), 1);
	assert_int_equal(mxs_store_history(f->st, "example.org", ch, 4, &n, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(n, 3);
	assert_string_equal(ch[0].what, "pkix.status");
	assert_string_equal(ch[0].new_values, "pkix.status=ok\n");
	assert_string_equal(ch[1].what, "pkix.status");
	assert_string_equal(ch[1].new_values, "pkix.status=fail\n");
}

/* A rolled-back batch must not leave its fields in memory. */
static void
test_rolled_back_batch_forgotten(void **state)
{
	struct fx *f = *state;
	struct mxs_store_obs b[2];
	size_t nnew;

	open_ok(f);
	sql_exec(f, "CREATE TRIGGER boom BEFORE INSERT ON results"
	            " WHEN NEW.domain = 'boom.example'"
	            " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
	mk(&b[0], 1, T0, "example.org", "192.0.2.1", "eu");
	assert_int_equal(put(f, b, 1), 1);
	mk(&b[0], 2, T0 + MINUTE, "example.org", "192.0.2.1", "eu");
	snprintf(b[0].v[MXS_STORE_TLS].status, MXS_STORE_WORD_MAX, "fail");
	mk(&b[1], 3, T0 + MINUTE + 1, "boom.example", "192.0.2.3", "eu");
	assert_int_equal(mxs_store_put_batch(f->st, b, 2, &nnew, f->err, sizeof(f->err)), MXS_ESYS);
	assert_int_equal(nchanges(f, "example.org"), 1);
	/* The same failure again, alone: now it is stored, and a change. */
	assert_int_equal(put(f, b, 1), 1);
	assert_int_equal(nchanges(f, "example.org"), 2);
}

/* ---- job list ------------------------------------------------------- */

static uint64_t
list_version(struct fx *f)
{
	uint64_t v = 0;
	size_t n;

	assert_int_equal(mxs_store_domain_list(f->st, NULL, 0, &n, &v, f->err, sizeof(f->err)),
	                 MXS_OK);
	return v;
}

static int
dput(struct fx *f, const char *name, unsigned interval, int64_t added)
{
	struct mxs_store_domain d;
	int created = 7, err;

	memset(&d, 0, sizeof(d));
	snprintf(d.domain, sizeof(d.domain), "%s", name);
	d.interval_s = interval;
	d.added_ms = added;
	err = mxs_store_domain_put(f->st, &d, &created, f->err, sizeof(f->err));
	if (err != MXS_OK)
		fail_msg("domain_put %s: %s", name, f->err);
	return created;
}

static int
dremove(struct fx *f, const char *name)
{
	int removed = 7;

	if (mxs_store_domain_remove(f->st, name, &removed, f->err, sizeof(f->err)) != MXS_OK)
		fail_msg("domain_remove %s: %s", name, f->err);
	return removed;
}

static void
test_domain_list_version(void **state)
{
	struct fx *f = *state;
	struct mxs_store_domain d[4];
	uint64_t v = 0;
	size_t n = 99;

	open_ok(f);
	assert_int_equal(mxs_store_domain_list(f->st, d, 4, &n, &v, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(n, 0);
	assert_int_equal(v, 1);

	assert_int_equal(dput(f, "example.org", 300, T0), 1);
	assert_int_equal(list_version(f), 2);
	/* The same again: no change, the version stays. */
	assert_int_equal(dput(f, "example.org", 300, T0 + DAY), 0);
	assert_int_equal(list_version(f), 2);
	/* A new interval is a change; added_ms stays the first one. */
	assert_int_equal(dput(f, "example.org", 600, T0 + DAY), 0);
	assert_int_equal(list_version(f), 3);
	/* NULL created is allowed. */
	memset(&d[0], 0, sizeof(d[0]));
	snprintf(d[0].domain, sizeof(d[0].domain), "b.example");
	d[0].interval_s = 60;
	d[0].added_ms = T0 + 2;
	assert_int_equal(mxs_store_domain_put(f->st, &d[0], NULL, f->err, sizeof(f->err)), MXS_OK);
	assert_int_equal(dput(f, "a.example", 900, T0 + 1), 1);
	assert_int_equal(list_version(f), 5);

	/* Ordered by name; the count is the total even past max. */
	memset(d, 0x55, sizeof(d));
	assert_int_equal(mxs_store_domain_list(f->st, d, 4, &n, &v, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(n, 3);
	assert_int_equal(v, 5);
	assert_string_equal(d[0].domain, "a.example");
	assert_int_equal(d[0].interval_s, 900);
	assert_int_equal(d[0].added_ms, T0 + 1);
	assert_string_equal(d[1].domain, "b.example");
	assert_int_equal(d[1].interval_s, 60);
	assert_string_equal(d[2].domain, "example.org");
	assert_int_equal(d[2].interval_s, 600);
	assert_int_equal(d[2].added_ms, T0);
	memset(d, 0x55, sizeof(d));
	assert_int_equal(mxs_store_domain_list(f->st, d, 1, &n, &v, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(n, 3);
	assert_string_equal(d[0].domain, "a.example");
	assert_int_equal(d[1].domain[0], 0x55); /* not written past max */

	/* Removing what is not listed changes nothing. */
	assert_int_equal(dremove(f, "absent.example"), 0);
	assert_int_equal(list_version(f), 5);
	assert_int_equal(
	        mxs_store_domain_remove(f->st, "absent.example", NULL, f->err, sizeof(f->err)),
	        MXS_OK);
	assert_int_equal(dremove(f, "b.example"), 1);
	assert_int_equal(list_version(f), 6);
	assert_int_equal(dremove(f, "b.example"), 0);
	assert_int_equal(list_version(f), 6);
	/* Back again: a new version, never an old one. */
	assert_int_equal(dput(f, "b.example", 60, T0 + 3), 1);
	assert_int_equal(list_version(f), 7);

	/* Results and history of a removed domain stay. */
	{
		struct mxs_store_obs o;

		mk(&o, 1, T0, "a.example", "192.0.2.1", "eu");
		assert_int_equal(put(f, &o, 1), 1);
		assert_int_equal(dremove(f, "a.example"), 1);
		assert_int_equal(nchanges(f, "a.example"), 1);
	}

	/* The version is in the file. */
	mxs_store_close(&f->st);
	open_ok(f);
	assert_int_equal(mxs_store_domain_list(f->st, NULL, 0, &n, &v, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(n, 2);
	assert_int_equal(v, 8);
	assert_int_equal(mxs_store_domain_list(f->st, NULL, 1, &n, &v, f->err, sizeof(f->err)),
	                 MXS_EINVAL);
}

static void
test_domain_name_rules(void **state)
{
	static const struct {
		const char *name, *why;
	} bad[] = {
	        {"", "empty"},
	        {"Example.org", "not lower case"},
	        {"example.org.", "ends in a dot"},
	        {".example.org", "empty label"},
	        {"example..org", "empty label"},
	        {"exa mple.org", "other than a-z"},
	        {"exa_mple.org", "other than a-z"},
	        {"caf\xc3\xa9.example", "other than a-z"},
	        {"-mx.example.org", "starting with '-'"},
	        {"mx-.example.org", "ending in '-'"},
	        {"example.org-", "ending in '-'"},
	        {"localhost", "single label"},
	        {"192.0.2.1", "all-numeric"},
	        {"a.123", "all-numeric"},
	};
	struct fx *f = *state;
	struct mxs_store_domain d;
	char name[300];
	size_t i;
	int created = 7;

	open_ok(f);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&d, 0, sizeof(d));
		snprintf(d.domain, sizeof(d.domain), "%s", bad[i].name);
		d.interval_s = 300;
		f->err[0] = '\0';
		assert_int_equal(mxs_store_domain_put(f->st, &d, &created, f->err, sizeof(f->err)),
		                 MXS_EINVAL);
		assert_int_equal(created, 0);
		if (strstr(f->err, bad[i].why) == NULL)
			fail_msg("%s: got \"%s\", want \"%s\"", bad[i].name, f->err, bad[i].why);
		/* Never listed, so never removed: not an error. */
		assert_int_equal(dremove(f, bad[i].name), 0);
	}
	/* A label of 64, a name of 254: too long.  63 and 253: fine. */
	memset(name, 0, sizeof(name));
	memset(name, 'a', 64);
	snprintf(name + 64, sizeof(name) - 64, ".example");
	memset(&d, 0, sizeof(d));
	memcpy(d.domain, name, strlen(name) + 1);
	assert_int_equal(mxs_store_domain_put(f->st, &d, NULL, f->err, sizeof(f->err)), MXS_EINVAL);
	assert_non_null(strstr(f->err, "longer than 63"));
	assert_int_equal(dput(f, name + 1, 300, T0), 1);
	/* Three labels of 63 and one of 62: 254 characters; then 253. */
	for (i = 0; i < 3; i++) {
		memset(name + i * 64, 'b', 63);
		name[i * 64 + 63] = '.';
	}
	memset(name + 192, 'c', 62);
	name[254] = '\0';
	memset(&d, 0, sizeof(d));
	memcpy(d.domain, name, 255);
	assert_int_equal(strlen(d.domain), 254);
	assert_int_equal(mxs_store_domain_put(f->st, &d, NULL, f->err, sizeof(f->err)), MXS_EINVAL);
	assert_non_null(strstr(f->err, "longer than 253"));
	d.domain[253] = '\0';
	assert_int_equal(dput(f, d.domain, 300, T0), 1);
	/* Not terminated inside the field. */
	memset(&d, 'a', sizeof(d.domain));
	assert_int_equal(mxs_store_domain_put(f->st, &d, NULL, f->err, sizeof(f->err)), MXS_EINVAL);
	assert_non_null(strstr(f->err, "not NUL-terminated"));
	assert_int_equal(mxs_store_domain_remove(f->st, d.domain, NULL, f->err, sizeof(f->err)),
	                 MXS_EINVAL);
	assert_int_equal(mxs_store_domain_remove(f->st, NULL, NULL, f->err, sizeof(f->err)),
	                 MXS_EINVAL);

	assert_int_equal(dput(f, "xn--bcher-kva.example", 300, T0), 1);
	assert_int_equal(dput(f, "1mx.example.org", 300, T0), 1);
	assert_int_equal(dput(f, "mx-1.example.org", 300, T0), 1);
	assert_int_equal(list_version(f), 6); /* 5 accepted, no reject counted */
}

/* ---- agents --------------------------------------------------------- */

static void
mk_agent(struct mxs_store_agent *a, const char *name, const char *region)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->region, sizeof(a->region), "%s", region);
	snprintf(a->version, sizeof(a->version), "0.1.0");
	snprintf(a->address, sizeof(a->address), "198.51.100.7:40000");
}

static void
test_agents(void **state)
{
	struct fx *f = *state;
	struct mxs_store_agent a, got[4];
	size_t n = 99;

	open_ok(f);
	assert_int_equal(mxs_store_agent_list(f->st, got, 4, &n, f->err, sizeof(f->err)), MXS_OK);
	assert_int_equal(n, 0);

	/* A heartbeat before Hello is refused. */
	mk_agent(&a, "agent-fra", "eu");
	snprintf(a.egress, sizeof(a.egress), "ok");
	assert_int_equal(mxs_store_agent_heartbeat(f->st, &a, T0, f->err, sizeof(f->err)),
	                 MXS_EINVAL);
	assert_non_null(strstr(f->err, "agent-fra"));
	assert_non_null(strstr(f->err, "never said Hello"));
	assert_int_equal(sql_int(f, "SELECT count(*) FROM agents"), 0);

	assert_int_equal(mxs_store_agent_hello(f->st, &a, T0, f->err, sizeof(f->err)), MXS_OK);
	assert_int_equal(mxs_store_agent_list(f->st, got, 4, &n, f->err, sizeof(f->err)), MXS_OK);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].name, "agent-fra");
	assert_string_equal(got[0].region, "eu");
	assert_string_equal(got[0].version, "0.1.0");
	assert_string_equal(got[0].address, "198.51.100.7:40000");
	assert_int_equal(got[0].first_seen_ms, T0);
	assert_int_equal(got[0].last_hello_ms, T0);
	assert_int_equal(got[0].last_heartbeat_ms, 0);
	assert_string_equal(got[0].egress, ""); /* Hello ignores heartbeat fields */

	mk_agent(&a, "agent-fra", "eu");
	snprintf(a.egress, sizeof(a.egress), "blocked");
	snprintf(a.egress_detail, sizeof(a.egress_detail), "port 25 filtered");
	a.spool_depth = 3;
	a.spool_bytes = UINT64_MAX; /* all 64 bits survive */
	a.spool_dropped = 1;
	a.probes_run = 1000;
	a.probes_failed = 7;
	a.cycles = 12;
	a.uptime_s = 86400;
	a.last_cycle_ms = UINT32_MAX;
	assert_int_equal(mxs_store_agent_heartbeat(f->st, &a, T0 + MINUTE, f->err, sizeof(f->err)),
	                 MXS_OK);

	/* Hello again from another region: it moves, keeps first_seen. */
	mk_agent(&a, "agent-fra", "us");
	snprintf(a.version, sizeof(a.version), "0.2.0");
	a.address[0] = '\0';
	assert_int_equal(mxs_store_agent_hello(f->st, &a, T0 + DAY, f->err, sizeof(f->err)),
	                 MXS_OK);
	assert_int_equal(mxs_store_agent_list(f->st, got, 4, &n, f->err, sizeof(f->err)), MXS_OK);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].region, "us");
	assert_string_equal(got[0].version, "0.2.0");
	assert_string_equal(got[0].address, "");
	assert_int_equal(got[0].first_seen_ms, T0);
	assert_int_equal(got[0].last_hello_ms, T0 + DAY);
	assert_int_equal(got[0].last_heartbeat_ms, T0 + MINUTE);
	assert_string_equal(got[0].egress, "blocked");
	assert_string_equal(got[0].egress_detail, "port 25 filtered");
	assert_true(got[0].spool_depth == 3);
	assert_true(got[0].spool_bytes == UINT64_MAX);
	assert_true(got[0].spool_dropped == 1);
	assert_true(got[0].probes_run == 1000);
	assert_true(got[0].probes_failed == 7);
	assert_true(got[0].cycles == 12);
	assert_true(got[0].uptime_s == 86400);
	assert_true(got[0].last_cycle_ms == UINT32_MAX);

	/* Ordered by region, then name; the count is the total. */
	mk_agent(&a, "agent-sin", "ap");
	assert_int_equal(mxs_store_agent_hello(f->st, &a, T0, f->err, sizeof(f->err)), MXS_OK);
	mk_agent(&a, "agent-ams", "us");
	assert_int_equal(mxs_store_agent_hello(f->st, &a, T0, f->err, sizeof(f->err)), MXS_OK);
	assert_int_equal(mxs_store_agent_list(f->st, got, 4, &n, f->err, sizeof(f->err)), MXS_OK);
	assert_int_equal(n, 3);
	assert_string_equal(got[0].name, "agent-sin");
	assert_string_equal(got[1].name, "agent-ams");
	assert_string_equal(got[2].name, "agent-fra");
	assert_int_equal(mxs_store_agent_list(f->st, got, 1, &n, f->err, sizeof(f->err)), MXS_OK);
	assert_int_equal(n, 3);
	assert_string_equal(got[0].name, "agent-sin");
	assert_int_equal(mxs_store_agent_list(f->st, NULL, 0, &n, f->err, sizeof(f->err)), MXS_OK);
	assert_int_equal(n, 3);
}

static void
test_agent_rules(void **state)
{
	struct fx *f = *state;
	struct mxs_store_agent a;
	size_t n;

	open_ok(f);
	mk_agent(&a, "", "eu");
	assert_int_equal(mxs_store_agent_hello(f->st, &a, T0, f->err, sizeof(f->err)), MXS_EINVAL);
	assert_non_null(strstr(f->err, "name is empty"));
	mk_agent(&a, "agent\n-fra", "eu");
	assert_int_equal(mxs_store_agent_hello(f->st, &a, T0, f->err, sizeof(f->err)), MXS_EINVAL);
	assert_non_null(strstr(f->err, "not printable"));
	mk_agent(&a, "agent-fra", "");
	assert_int_equal(mxs_store_agent_hello(f->st, &a, T0, f->err, sizeof(f->err)), MXS_EINVAL);
	assert_non_null(strstr(f->err, "region is empty"));
	mk_agent(&a, "agent-fra", "e\x7fu");
	assert_int_equal(mxs_store_agent_hello(f->st, &a, T0, f->err, sizeof(f->err)), MXS_EINVAL);
	mk_agent(&a, "agent-fra", "eu");
	memset(a.version, 'v', sizeof(a.version));
	assert_int_equal(mxs_store_agent_hello(f->st, &a, T0, f->err, sizeof(f->err)), MXS_EINVAL);
	assert_non_null(strstr(f->err, "not NUL-terminated"));
	mk_agent(&a, "agent-fra", "eu");
	assert_int_equal(mxs_store_agent_hello(f->st, &a, 0, f->err, sizeof(f->err)), MXS_EINVAL);
	/* A heartbeat with an empty region is invalid, even for a known agent. */
	assert_int_equal(mxs_store_agent_hello(f->st, &a, T0, f->err, sizeof(f->err)), MXS_OK);
	a.region[0] = '\0';
	assert_int_equal(mxs_store_agent_heartbeat(f->st, &a, T0, f->err, sizeof(f->err)),
	                 MXS_EINVAL);
	assert_int_equal(mxs_store_agent_list(f->st, NULL, 0, &n, f->err, sizeof(f->err)), MXS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(sql_int(f, "SELECT last_heartbeat_ms FROM agents"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_open_migrates_empty, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_newer_version_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_not_sqlite_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_corrupt_header_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_foreign_database_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_batch_stored_once, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_latest_updated, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_changes_only_on_change, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_history_order_and_limit, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_late_row_does_not_rewind, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_invalid_row_rejects_batch, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_database_failure_rolls_back, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_two_handles_share_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_coverage_change_logged, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_change_by_other_handle_seen, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_rolled_back_batch_forgotten, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_domain_list_version, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_domain_name_rules, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_agents, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_agent_rules, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
