/*
 * store_sqlite — the collector's default store: one SQLite file in WAL mode
 * (see store.h for the contract).
 *
 * Tables (migration 1):
 *   schema_version(version)  one row; the last migration step applied
 *   results(id, ...)         raw observations in arrival order (id); one
 *                            index, (t_ms, result_id): appended to in time
 *                            order, it serves both retention and the
 *                            duplicate check (a re-sent result carries the
 *                            same probe time and id)
 *   latest(key, t_ms, rid)   per (domain, address, region): time of and
 *                            results.id of the newest observation; small,
 *                            because it is rewritten for every row stored
 *   state(key, ...)          the compared fields of the newest observation;
 *                            rewritten only when they change
 *   changes(id, ...)         index (domain, t_ms) for history
 * Why latest is split from state: a row update dirties a whole page, and
 * every dirty page is written to the WAL at commit.  With the full
 * observation in latest (~700 bytes) a batch of 100 rows dirtied ~100
 * pages; with ~70-byte latest rows, a batch over neighbouring domains
 * dirties a handful.  On-call's latest view reads the full row from
 * results by id (a rowid lookup); once that row has expired, from state.
 *
 * results uses one column list (OBS_COLS), bound and read by obs_bind and
 * obs_read, so writer and reader cannot drift apart.
 *
 * Every statement is prepared once at open and reset after each use.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#define DEFAULT_BUSY_MS      5000
#define DEFAULT_EXPIRE_CHUNK 10000
#define MS_PER_DAY           86400000LL

/* synchronous=NORMAL: in WAL mode a commit is durable against a process
 * crash and the file never corrupts; a power cut may lose the last
 * commits, which agents re-send (they delete a result only once it is
 * acknowledged).  A 16 MiB page cache and a 40 MB WAL between automatic
 * checkpoints measured best in store_bench (a larger cache was slower). */
#define PRAGMAS                                                                                    \
	"PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16384;"                                     \
	" PRAGMA wal_autocheckpoint=10000; PRAGMA temp_store=MEMORY"

/* The observation columns, in bind order (parameters ?1..?NCOLS). */
#define OBS_COLS                                                                                   \
	"result_id,t_ms,domain,mx_host,address,region,"                                            \
	"connect_status,connect_type,connect_reason,smtp_status,smtp_type,smtp_reason,"            \
	"tls_status,tls_type,tls_reason,pkix_status,pkix_type,pkix_reason,"                        \
	"name_status,name_type,name_reason,dane_status,dane_type,dane_reason,"                     \
	"starttls,tls_version,leaf_sha256,spki_sha256,days_to_expiry,"                             \
	"mx_set,dnssec,sts_id,sts_body_sha256,sts_mode,tlsa"
#define OBS_NCOLS 35
#define OBS_PARAMS                                                                                 \
	"?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,"                  \
	"?21,?22,?23,?24,?25,?26,?27,?28,?29,?30,?31,?32,?33,?34,?35"
#define OBS_COLDEFS                                                                                \
	"result_id BLOB NOT NULL, t_ms INTEGER NOT NULL, domain TEXT NOT NULL,"                    \
	" mx_host TEXT NOT NULL, address TEXT NOT NULL, region TEXT NOT NULL,"                     \
	" connect_status TEXT, connect_type TEXT, connect_reason TEXT,"                            \
	" smtp_status TEXT, smtp_type TEXT, smtp_reason TEXT,"                                     \
	" tls_status TEXT, tls_type TEXT, tls_reason TEXT,"                                        \
	" pkix_status TEXT, pkix_type TEXT, pkix_reason TEXT,"                                     \
	" name_status TEXT, name_type TEXT, name_reason TEXT,"                                     \
	" dane_status TEXT, dane_type TEXT, dane_reason TEXT,"                                     \
	" starttls INTEGER, tls_version TEXT, leaf_sha256 BLOB, spki_sha256 BLOB,"                 \
	" days_to_expiry INTEGER, mx_set TEXT, dnssec TEXT, sts_id TEXT,"                          \
	" sts_body_sha256 BLOB, sts_mode TEXT, tlsa TEXT"

/* The compared fields, kept in state (same order as cmp_fields). */
#define STATE_COLS                                                                                 \
	"connect_status,connect_type,smtp_status,smtp_type,tls_status,tls_type,"                   \
	"pkix_status,pkix_type,name_status,name_type,dane_status,dane_type,"                       \
	"leaf_sha256,spki_sha256,sts_id,sts_body_sha256,sts_mode,tlsa"
#define STATE_NCOLS 18
#define STATE_COLDEFS                                                                              \
	"connect_status TEXT, connect_type TEXT, smtp_status TEXT, smtp_type TEXT,"                \
	" tls_status TEXT, tls_type TEXT, pkix_status TEXT, pkix_type TEXT,"                       \
	" name_status TEXT, name_type TEXT, dane_status TEXT, dane_type TEXT,"                     \
	" leaf_sha256 TEXT, spki_sha256 TEXT, sts_id TEXT, sts_body_sha256 TEXT,"                  \
	" sts_mode TEXT, tlsa TEXT"

/* Migration steps: step i takes the schema from version i to i + 1. */
static const char *const migrations[] = {
        "CREATE TABLE results(id INTEGER PRIMARY KEY, " OBS_COLDEFS ");"
        "CREATE INDEX results_t_id ON results(t_ms, result_id);"
        "CREATE TABLE latest(domain TEXT NOT NULL, address TEXT NOT NULL,"
        " region TEXT NOT NULL, t_ms INTEGER NOT NULL, rid INTEGER NOT NULL,"
        " PRIMARY KEY(domain, address, region)) WITHOUT ROWID;"
        "CREATE TABLE state(domain TEXT NOT NULL, address TEXT NOT NULL,"
        " region TEXT NOT NULL, t_ms INTEGER NOT NULL, result_id BLOB NOT NULL,"
        " mx_host TEXT NOT NULL, " STATE_COLDEFS ", UNIQUE(domain, address, region));"
        "CREATE TABLE changes(id INTEGER PRIMARY KEY, t_ms INTEGER NOT NULL,"
        " result_id BLOB NOT NULL, domain TEXT NOT NULL, mx_host TEXT NOT NULL,"
        " address TEXT NOT NULL, region TEXT NOT NULL, what TEXT NOT NULL,"
        " old_values TEXT NOT NULL, new_values TEXT NOT NULL);"
        "CREATE INDEX changes_domain ON changes(domain, t_ms);",
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_SEEN_ID,
	S_INSERT_RESULT,
	S_PUT_LATEST,
	S_GET_STATE,
	S_PUT_STATE,
	S_INSERT_CHANGE,
	S_LATEST_DOMAIN,
	S_GET_RESULT,
	S_HISTORY,
	S_EXPIRE,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
        [S_BEGIN] = "BEGIN IMMEDIATE",
        [S_COMMIT] = "COMMIT",
        [S_ROLLBACK] = "ROLLBACK",
        [S_SEEN_ID] = "SELECT 1 FROM results WHERE t_ms = ?2 AND result_id = ?1 LIMIT 1",
        [S_INSERT_RESULT] = "INSERT INTO results(" OBS_COLS ") VALUES(" OBS_PARAMS ")",
        [S_PUT_LATEST] = "INSERT INTO latest(domain, address, region, t_ms, rid)"
                         " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(domain, address, region)"
                         " DO UPDATE SET t_ms = excluded.t_ms, rid = excluded.rid"
                         " WHERE excluded.t_ms >= latest.t_ms",
        [S_GET_STATE] = "SELECT " STATE_COLS ", t_ms, result_id, mx_host FROM state"
                        " WHERE domain = ?1 AND address = ?2 AND region = ?3",
        [S_PUT_STATE] = "INSERT OR REPLACE INTO state(domain, address, region, t_ms,"
                        " result_id, mx_host, " STATE_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6,"
                        " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,"
                        " ?21, ?22, ?23, ?24)",
        [S_INSERT_CHANGE] = "INSERT INTO changes(t_ms, result_id, domain, mx_host, address,"
                            " region, what, old_values, new_values)"
                            " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        [S_LATEST_DOMAIN] = "SELECT address, region, t_ms, rid FROM latest WHERE domain = ?1"
                            " ORDER BY address, region",
        [S_GET_RESULT] = "SELECT " OBS_COLS " FROM results WHERE id = ?1",
        [S_HISTORY] = "SELECT t_ms, result_id, domain, mx_host, address, region, what,"
                      " old_values, new_values FROM changes WHERE domain = ?1"
                      " ORDER BY t_ms DESC, id DESC LIMIT ?2",
        [S_EXPIRE] = "DELETE FROM results WHERE rowid IN (SELECT rowid FROM results"
                     " WHERE t_ms < ?1 ORDER BY t_ms LIMIT ?2)",
};

struct store_sqlite {
	struct mxs_store base; /* first: a struct mxs_store * points here */
	sqlite3 *db;
	char *path;
	size_t expire_chunk;
	sqlite3_stmt *stmt[S_COUNT];
	struct mxs_store_obs prev;     /* scratch: the state row being replaced */
	char what[MXS_STORE_WHAT_MAX]; /* scratch: the change being written */
	char oldv[MXS_STORE_CHANGE_MAX], newv[MXS_STORE_CHANGE_MAX];
};

static const struct mxs_store_ops sqlite_ops;

/* ---- errors -------------------------------------------------------- */

/* Map a SQLite failure to our codes, with the path and what we were doing. */
static int
db_err(struct store_sqlite *s, int rc, const char *what, char *errstr, size_t errlen)
{
	int primary = rc & 0xff;

	if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
		                  "%s: not an SQLite database, or corrupt (%s: %s)", s->path, what,
		                  sqlite3_errstr(rc));
	if (primary == SQLITE_NOMEM)
		return mxs_seterr(errstr, errlen, MXS_ENOMEM, "%s: %s: out of memory", s->path,
		                  what);
	return mxs_seterr(errstr, errlen, MXS_ESYS, "%s: %s: %s", s->path, what,
	                  s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

/* ---- small helpers ------------------------------------------------- */

static int
run_step(struct store_sqlite *s, enum stmt_id id, const char *what, char *errstr, size_t errlen)
{
	sqlite3_stmt *st = s->stmt[id];
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_err(s, rc, what, errstr, errlen);
	return MXS_OK;
}

static void
rollback(struct store_sqlite *s)
{
	if (!sqlite3_get_autocommit(s->db)) {
		sqlite3_step(s->stmt[S_ROLLBACK]);
		sqlite3_reset(s->stmt[S_ROLLBACK]);
	}
}

/* Copy a column's text into a fixed field, truncating at size - 1. */
static void
col_text(sqlite3_stmt *st, int col, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t len = t != NULL ? (size_t)sqlite3_column_bytes(st, col) : 0;

	if (len >= size)
		len = size - 1;
	if (len > 0)
		memcpy(dst, t, len);
	dst[len] = '\0';
}

static void
col_id(sqlite3_stmt *st, int col, unsigned char id[MXS_STORE_ID_LEN])
{
	const void *b = sqlite3_column_blob(st, col);
	int len = sqlite3_column_bytes(st, col);

	memset(id, 0, MXS_STORE_ID_LEN);
	if (b != NULL && len == MXS_STORE_ID_LEN)
		memcpy(id, b, MXS_STORE_ID_LEN);
}

static int
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static inline unsigned
nibble(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

/*
 * Raw rows keep SHA-256 values as 32-byte blobs (NULL when absent): the
 * three of them are a fifth of a row as hex.  hex is valid (obs_invalid).
 */
static int
bind_hash(sqlite3_stmt *st, int i, const char *hex, unsigned char bin[32])
{
	size_t k;

	if (hex[0] == '\0')
		return sqlite3_bind_null(st, i);
	for (k = 0; k < 32; k++)
		bin[k] = (unsigned char)(nibble(hex[2 * k]) << 4 | nibble(hex[2 * k + 1]));
	return sqlite3_bind_blob(st, i, bin, 32, SQLITE_TRANSIENT);
}

static void
col_hash(sqlite3_stmt *st, int col, char out[MXS_STORE_HEX256_MAX])
{
	static const char hx[] = "0123456789abcdef";
	const unsigned char *b = sqlite3_column_blob(st, col);
	int k;

	out[0] = '\0';
	if (b == NULL || sqlite3_column_bytes(st, col) != 32)
		return;
	for (k = 0; k < 32; k++) {
		out[2 * k] = hx[b[k] >> 4];
		out[2 * k + 1] = hx[b[k] & 0xf];
	}
	out[64] = '\0';
}

/* Bind an observation to ?1..?OBS_NCOLS in OBS_COLS order. */
static int
obs_bind(sqlite3_stmt *st, const struct mxs_store_obs *o)
{
	unsigned char bufs[3][32];
	int rc = 0, i = 1, c;

	rc |= sqlite3_bind_blob(st, i++, o->result_id, MXS_STORE_ID_LEN, SQLITE_STATIC);
	rc |= sqlite3_bind_int64(st, i++, o->t_ms);
	rc |= bind_text(st, i++, o->domain);
	rc |= bind_text(st, i++, o->mx_host);
	rc |= bind_text(st, i++, o->address);
	rc |= bind_text(st, i++, o->region);
	for (c = 0; c < MXS_STORE_NCHECKS; c++) {
		rc |= bind_text(st, i++, o->v[c].status);
		rc |= bind_text(st, i++, o->v[c].result_type);
		rc |= bind_text(st, i++, o->v[c].reason);
	}
	rc |= sqlite3_bind_int(st, i++, o->starttls_advertised);
	rc |= bind_text(st, i++, o->tls_version);
	rc |= bind_hash(st, i++, o->leaf_sha256, bufs[0]);
	rc |= bind_hash(st, i++, o->spki_sha256, bufs[1]);
	if (o->days_to_expiry == MXS_STORE_NO_DAYS)
		rc |= sqlite3_bind_null(st, i++);
	else
		rc |= sqlite3_bind_int(st, i++, o->days_to_expiry);
	rc |= bind_text(st, i++, o->mx_set);
	rc |= bind_text(st, i++, o->dnssec);
	rc |= bind_text(st, i++, o->sts_id);
	rc |= bind_hash(st, i++, o->sts_body_sha256, bufs[2]);
	rc |= bind_text(st, i++, o->sts_mode);
	rc |= bind_text(st, i++, o->tlsa);
	if (i != OBS_NCOLS + 1)
		return SQLITE_MISUSE;
	return rc == 0 ? SQLITE_OK : SQLITE_ERROR;
}

/* Read an observation from columns 0..OBS_NCOLS-1 of the current row. */
static void
obs_read(sqlite3_stmt *st, struct mxs_store_obs *o)
{
	int i = 0, c;

	memset(o, 0, sizeof(*o));
	col_id(st, i++, o->result_id);
	o->t_ms = sqlite3_column_int64(st, i++);
	col_text(st, i++, o->domain, sizeof(o->domain));
	col_text(st, i++, o->mx_host, sizeof(o->mx_host));
	col_text(st, i++, o->address, sizeof(o->address));
	col_text(st, i++, o->region, sizeof(o->region));
	for (c = 0; c < MXS_STORE_NCHECKS; c++) {
		col_text(st, i++, o->v[c].status, sizeof(o->v[c].status));
		col_text(st, i++, o->v[c].result_type, sizeof(o->v[c].result_type));
		col_text(st, i++, o->v[c].reason, sizeof(o->v[c].reason));
	}
	o->starttls_advertised = sqlite3_column_int(st, i++);
	col_text(st, i++, o->tls_version, sizeof(o->tls_version));
	col_hash(st, i++, o->leaf_sha256);
	col_hash(st, i++, o->spki_sha256);
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		o->days_to_expiry = MXS_STORE_NO_DAYS;
	else
		o->days_to_expiry = sqlite3_column_int(st, i);
	i++;
	col_text(st, i++, o->mx_set, sizeof(o->mx_set));
	col_text(st, i++, o->dnssec, sizeof(o->dnssec));
	col_text(st, i++, o->sts_id, sizeof(o->sts_id));
	col_hash(st, i++, o->sts_body_sha256);
	col_text(st, i++, o->sts_mode, sizeof(o->sts_mode));
	col_text(st, i++, o->tlsa, sizeof(o->tlsa));
}

/* ---- validation ---------------------------------------------------- */

#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

static int
valid_hex256(const char *h)
{
	size_t i;

	if (h[0] == '\0')
		return 1;
	for (i = 0; i < 64; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return 0;
	return h[64] == '\0';
}

static int
valid_status(const char *s)
{
	return strcmp(s, "ok") == 0 || strcmp(s, "fail") == 0 || strcmp(s, "temporary") == 0 ||
	       strcmp(s, "not-tested") == 0;
}

/* NULL if o may be stored, else what is wrong with it. */
static const char *
obs_invalid(const struct mxs_store_obs *o)
{
	int c;

	if (!TERMINATED(o->domain) || !TERMINATED(o->mx_host) || !TERMINATED(o->address) ||
	    !TERMINATED(o->region) || !TERMINATED(o->tls_version) || !TERMINATED(o->leaf_sha256) ||
	    !TERMINATED(o->spki_sha256) || !TERMINATED(o->mx_set) || !TERMINATED(o->dnssec) ||
	    !TERMINATED(o->sts_id) || !TERMINATED(o->sts_body_sha256) || !TERMINATED(o->sts_mode) ||
	    !TERMINATED(o->tlsa))
		return "a text field is not NUL-terminated";
	for (c = 0; c < MXS_STORE_NCHECKS; c++) {
		if (!TERMINATED(o->v[c].status) || !TERMINATED(o->v[c].result_type) ||
		    !TERMINATED(o->v[c].reason))
			return "a verdict field is not NUL-terminated";
		if (!valid_status(o->v[c].status))
			return "a verdict status is not ok/fail/temporary/not-tested";
	}
	if (o->domain[0] == '\0')
		return "empty domain";
	if (o->region[0] == '\0')
		return "empty region";
	if (o->t_ms <= 0)
		return "time is not positive";
	if (o->starttls_advertised < -1 || o->starttls_advertised > 1)
		return "starttls_advertised is not -1, 0 or 1";
	if (!valid_hex256(o->leaf_sha256) || !valid_hex256(o->spki_sha256) ||
	    !valid_hex256(o->sts_body_sha256))
		return "a SHA-256 is not 64 lower-case hex digits";
	return NULL;
}

/* ---- change detection ---------------------------------------------- */

/* A bounded text buffer that marks truncation with "...". */
struct tbuf {
	char *p;
	size_t size, len;
	int full;
};

static void
tb_putc(struct tbuf *b, char ch)
{
	if (b->full)
		return;
	if (b->len + 4 >= b->size) { /* keep room for "..." and NUL */
		memcpy(b->p + b->len, "...", 3);
		b->len += 3;
		b->p[b->len] = '\0';
		b->full = 1;
		return;
	}
	b->p[b->len++] = ch;
	b->p[b->len] = '\0';
}

static void
tb_puts(struct tbuf *b, const char *s, int escape)
{
	for (; *s != '\0'; s++) {
		if (escape && *s == '\\') {
			tb_putc(b, '\\');
			tb_putc(b, '\\');
		} else if (escape && *s == '\n') {
			tb_putc(b, '\\');
			tb_putc(b, 'n');
		} else {
			tb_putc(b, *s);
		}
	}
}

/* The compared fields, in STATE_COLS order: names, and values of an
 * observation (cmp_vals), or writable fields (state_fields). */
#define NCMP STATE_NCOLS
static const char *const cmp_names[NCMP] = {
        "connect.status", "connect.result_type",
        "smtp.status",    "smtp.result_type",
        "tls.status",     "tls.result_type",
        "pkix.status",    "pkix.result_type",
        "name.status",    "name.result_type",
        "dane.status",    "dane.result_type",
        "leaf_sha256",    "spki_sha256",
        "sts_id",         "sts_body_sha256",
        "sts_mode",       "tlsa",
};

static void
cmp_vals(const struct mxs_store_obs *o, const char **v)
{
	size_t n = 0;
	int c;

	for (c = 0; c < MXS_STORE_NCHECKS; c++) {
		v[n++] = o->v[c].status;
		v[n++] = o->v[c].result_type;
	}
	v[n++] = o->leaf_sha256;
	v[n++] = o->spki_sha256;
	v[n++] = o->sts_id;
	v[n++] = o->sts_body_sha256;
	v[n++] = o->sts_mode;
	v[n++] = o->tlsa;
}

/*
 * Compare o with the previous latest row (NULL: first observation) and,
 * if they differ, fill what/old/new.  Returns 1 when it is a change.
 */
static int
obs_diff(const struct mxs_store_obs *prev, const struct mxs_store_obs *o, char *what,
         size_t whatlen, char *oldv, char *newv, size_t vlen)
{
	const char *pv[NCMP], *nv[NCMP];
	struct tbuf w = {what, whatlen, 0, 0}, ob = {oldv, vlen, 0, 0}, nb = {newv, vlen, 0, 0};
	size_t i;
	int changed = 0;

	what[0] = oldv[0] = newv[0] = '\0';
	cmp_vals(o, nv);
	if (prev != NULL)
		cmp_vals(prev, pv);
	else
		tb_puts(&w, "first", 0);
	for (i = 0; i < NCMP; i++) {
		if (prev != NULL && strcmp(pv[i], nv[i]) == 0)
			continue;
		if (prev == NULL && nv[i][0] == '\0')
			continue; /* a first observation lists what it has */
		if (prev != NULL) {
			if (changed)
				tb_putc(&w, ',');
			tb_puts(&w, cmp_names[i], 0);
			tb_puts(&ob, cmp_names[i], 0);
			tb_putc(&ob, '=');
			tb_puts(&ob, pv[i], 1);
			tb_putc(&ob, '\n');
		}
		tb_puts(&nb, cmp_names[i], 0);
		tb_putc(&nb, '=');
		tb_puts(&nb, nv[i], 1);
		tb_putc(&nb, '\n');
		changed = 1;
	}
	return prev == NULL || changed;
}

/* ---- put_batch ----------------------------------------------------- */

struct sort_key {
	int64_t t_ms;
	size_t i;
};

static int
sort_key_cmp(const void *a, const void *b)
{
	const struct sort_key *x = a, *y = b;

	if (x->t_ms != y->t_ms)
		return x->t_ms < y->t_ms ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Result ids already decided in this batch (new or seen before). */
struct id_seen {
	const unsigned char *id;
	int64_t t_ms;
	int is_new;
};

/* The compared fields of o, writable, in STATE_COLS order (see cmp_vals). */
static size_t
state_fields(struct mxs_store_obs *o, char **p, size_t *sz)
{
	size_t n = 0;
	int c;

	for (c = 0; c < MXS_STORE_NCHECKS; c++) {
		p[n] = o->v[c].status;
		sz[n++] = sizeof(o->v[c].status);
		p[n] = o->v[c].result_type;
		sz[n++] = sizeof(o->v[c].result_type);
	}
#define F(field) (p[n] = o->field, sz[n++] = sizeof(o->field))
	F(leaf_sha256);
	F(spki_sha256);
	F(sts_id);
	F(sts_body_sha256);
	F(sts_mode);
	F(tlsa);
#undef F
	return n;
}

/* Fill the key, time and compared fields of o from a state row. */
static void
state_read(sqlite3_stmt *st, struct mxs_store_obs *o)
{
	char *p[NCMP];
	size_t sz[NCMP], i, n = state_fields(o, p, sz);

	for (i = 0; i < n; i++)
		col_text(st, (int)i, p[i], sz[i]);
	o->t_ms = sqlite3_column_int64(st, STATE_NCOLS);
	col_id(st, STATE_NCOLS + 1, o->result_id);
	col_text(st, STATE_NCOLS + 2, o->mx_host, sizeof(o->mx_host));
}

static int
state_write(struct store_sqlite *s, const struct mxs_store_obs *o, char *errstr, size_t errlen)
{
	sqlite3_stmt *st = s->stmt[S_PUT_STATE];
	const char *v[NCMP];
	size_t i;
	int rc = 0;

	cmp_vals(o, v);
	rc |= bind_text(st, 1, o->domain);
	rc |= bind_text(st, 2, o->address);
	rc |= bind_text(st, 3, o->region);
	rc |= sqlite3_bind_int64(st, 4, o->t_ms);
	rc |= sqlite3_bind_blob(st, 5, o->result_id, MXS_STORE_ID_LEN, SQLITE_STATIC);
	rc |= bind_text(st, 6, o->mx_host);
	for (i = 0; i < NCMP; i++)
		rc |= bind_text(st, 7 + (int)i, v[i]);
	if (rc != 0)
		return db_err(s, SQLITE_ERROR, "binding state", errstr, errlen);
	return run_step(s, S_PUT_STATE, "writing state", errstr, errlen);
}

/*
 * For one new row stored as results.id rid: move latest forward and, when
 * a compared field differs from state (or there is none), rewrite state
 * and log the change.  A row older than latest (a late delivery) is raw
 * only.
 */
static int
apply_latest(struct store_sqlite *s, const struct mxs_store_obs *o, sqlite3_int64 rid, char *errstr,
             size_t errlen)
{
	sqlite3_stmt *st = s->stmt[S_PUT_LATEST];
	const struct mxs_store_obs *prev = NULL;
	int rc, err;

	bind_text(st, 1, o->domain);
	bind_text(st, 2, o->address);
	bind_text(st, 3, o->region);
	sqlite3_bind_int64(st, 4, o->t_ms);
	sqlite3_bind_int64(st, 5, rid);
	if ((err = run_step(s, S_PUT_LATEST, "writing latest", errstr, errlen)) != MXS_OK)
		return err;
	if (sqlite3_changes(s->db) == 0)
		return MXS_OK; /* older than latest: the upsert's WHERE skipped it */

	st = s->stmt[S_GET_STATE];
	bind_text(st, 1, o->domain);
	bind_text(st, 2, o->address);
	bind_text(st, 3, o->region);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		/* No memset: state_read sets every compared field, and only
		 * those are read from prev (a 10 KiB clear per row cost 15%). */
		state_read(st, &s->prev);
		prev = &s->prev;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(s, rc, "reading state", errstr, errlen);
	if (!obs_diff(prev, o, s->what, sizeof(s->what), s->oldv, s->newv, sizeof(s->oldv)))
		return MXS_OK;

	if ((err = state_write(s, o, errstr, errlen)) != MXS_OK)
		return err;
	st = s->stmt[S_INSERT_CHANGE];
	sqlite3_bind_int64(st, 1, o->t_ms);
	sqlite3_bind_blob(st, 2, o->result_id, MXS_STORE_ID_LEN, SQLITE_STATIC);
	bind_text(st, 3, o->domain);
	bind_text(st, 4, o->mx_host);
	bind_text(st, 5, o->address);
	bind_text(st, 6, o->region);
	bind_text(st, 7, s->what);
	bind_text(st, 8, s->oldv);
	bind_text(st, 9, s->newv);
	return run_step(s, S_INSERT_CHANGE, "writing change", errstr, errlen);
}

/* Is the result id of o new?  Decided once per id per batch. */
static int
id_is_new(struct store_sqlite *s, const struct mxs_store_obs *o, struct id_seen *seen,
          size_t *nseen, int *is_new, char *errstr, size_t errlen)
{
	sqlite3_stmt *st = s->stmt[S_SEEN_ID];
	size_t k;
	int rc;

	*is_new = 0;
	for (k = *nseen; k > 0; k--) {
		if (seen[k - 1].t_ms == o->t_ms &&
		    memcmp(seen[k - 1].id, o->result_id, MXS_STORE_ID_LEN) == 0) {
			*is_new = seen[k - 1].is_new;
			return MXS_OK;
		}
	}
	sqlite3_bind_blob(st, 1, o->result_id, MXS_STORE_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, o->t_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(s, rc, "looking up result id", errstr, errlen);
	*is_new = rc == SQLITE_DONE;
	seen[*nseen].id = o->result_id;
	seen[*nseen].t_ms = o->t_ms;
	seen[*nseen].is_new = *is_new;
	(*nseen)++;
	return MXS_OK;
}

static int
sqlite_put_batch(struct mxs_store *base, const struct mxs_store_obs *rows, size_t n, size_t *nnew,
                 char *errstr, size_t errlen)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	struct sort_key *order = NULL;
	struct id_seen *seen = NULL;
	size_t i, nseen = 0, stored = 0;
	const char *why;
	int err, rc, is_new = 0;

	*nnew = 0;
	if (n == 0)
		return MXS_OK;
	if (rows == NULL)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "store: NULL rows");
	if (n > MXS_STORE_BATCH_MAX)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "store: batch of %zu rows exceeds %d",
		                  n, MXS_STORE_BATCH_MAX);
	for (i = 0; i < n; i++)
		if ((why = obs_invalid(&rows[i])) != NULL)
			return mxs_seterr(errstr, errlen, MXS_EINVAL,
			                  "store: batch rejected: row %zu: %s", i, why);

	order = malloc(n * sizeof(*order));
	seen = malloc(n * sizeof(*seen));
	if (order == NULL || seen == NULL) {
		err = mxs_seterr(errstr, errlen, MXS_ENOMEM, "store: out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		order[i].t_ms = rows[i].t_ms;
		order[i].i = i;
	}
	qsort(order, n, sizeof(*order), sort_key_cmp);

	if ((err = run_step(s, S_BEGIN, "begin", errstr, errlen)) != MXS_OK)
		goto out;
	for (i = 0; i < n; i++) {
		const struct mxs_store_obs *o = &rows[order[i].i];

		if ((err = id_is_new(s, o, seen, &nseen, &is_new, errstr, errlen)) != MXS_OK)
			goto out;
		if (!is_new)
			continue;
		if ((rc = obs_bind(s->stmt[S_INSERT_RESULT], o)) != SQLITE_OK) {
			err = db_err(s, rc, "binding result", errstr, errlen);
			goto out;
		}
		if ((err = run_step(s, S_INSERT_RESULT, "writing result", errstr, errlen)) !=
		    MXS_OK)
			goto out;
		if ((err = apply_latest(s, o, sqlite3_last_insert_rowid(s->db), errstr, errlen)) !=
		    MXS_OK)
			goto out;
		stored++;
	}
	if ((err = run_step(s, S_COMMIT, "commit", errstr, errlen)) != MXS_OK)
		goto out;
	*nnew = stored;
out:
	if (err != MXS_OK)
		rollback(s);
	/* The statements hold pointers into rows: drop them. */
	sqlite3_clear_bindings(s->stmt[S_INSERT_RESULT]);
	sqlite3_clear_bindings(s->stmt[S_PUT_LATEST]);
	sqlite3_clear_bindings(s->stmt[S_GET_STATE]);
	sqlite3_clear_bindings(s->stmt[S_PUT_STATE]);
	sqlite3_clear_bindings(s->stmt[S_INSERT_CHANGE]);
	sqlite3_clear_bindings(s->stmt[S_SEEN_ID]);
	free(order);
	free(seen);
	return err;
}

/* ---- queries ------------------------------------------------------- */

/* The full observation behind one latest row: from results, or, once that
 * row has expired, the key, time and compared fields kept in state. */
static int
latest_row(struct store_sqlite *s, const char *domain, sqlite3_stmt *lt, struct mxs_store_obs *o,
           char *errstr, size_t errlen)
{
	sqlite3_stmt *st = s->stmt[S_GET_RESULT];
	int rc;

	sqlite3_bind_int64(st, 1, sqlite3_column_int64(lt, 3));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		obs_read(st, o);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return MXS_OK;
	if (rc != SQLITE_DONE)
		return db_err(s, rc, "reading result", errstr, errlen);

	memset(o, 0, sizeof(*o));
	snprintf(o->domain, sizeof(o->domain), "%s", domain);
	col_text(lt, 0, o->address, sizeof(o->address));
	col_text(lt, 1, o->region, sizeof(o->region));
	o->days_to_expiry = MXS_STORE_NO_DAYS;
	o->starttls_advertised = -1;
	st = s->stmt[S_GET_STATE];
	bind_text(st, 1, o->domain);
	bind_text(st, 2, o->address);
	bind_text(st, 3, o->region);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		state_read(st, o);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(s, rc, "reading state", errstr, errlen);
	o->t_ms = sqlite3_column_int64(lt, 2);
	return MXS_OK;
}

static int
sqlite_latest(struct mxs_store *base, const char *domain, struct mxs_store_obs *out, size_t max,
              size_t *nout, char *errstr, size_t errlen)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	sqlite3_stmt *st = s->stmt[S_LATEST_DOMAIN];
	size_t n = 0;
	int rc, err = MXS_OK;

	*nout = 0;
	if (domain == NULL || (out == NULL && max > 0))
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "store: latest: NULL argument");
	bind_text(st, 1, domain);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n < max && (err = latest_row(s, domain, st, &out[n], errstr, errlen)) != MXS_OK)
			break;
		n++;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (err != MXS_OK)
		return err;
	if (rc != SQLITE_DONE)
		return db_err(s, rc, "reading latest", errstr, errlen);
	*nout = n;
	return MXS_OK;
}

static int
sqlite_history(struct mxs_store *base, const char *domain, struct mxs_store_change *out, size_t max,
               size_t *nout, char *errstr, size_t errlen)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	sqlite3_stmt *st = s->stmt[S_HISTORY];
	size_t n = 0;
	int rc;

	*nout = 0;
	if (domain == NULL || (out == NULL && max > 0))
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "store: history: NULL argument");
	if (max == 0)
		return MXS_OK;
	bind_text(st, 1, domain);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(max > 1000000 ? 1000000 : max));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
		struct mxs_store_change *c = &out[n++];

		c->t_ms = sqlite3_column_int64(st, 0);
		col_id(st, 1, c->result_id);
		col_text(st, 2, c->domain, sizeof(c->domain));
		col_text(st, 3, c->mx_host, sizeof(c->mx_host));
		col_text(st, 4, c->address, sizeof(c->address));
		col_text(st, 5, c->region, sizeof(c->region));
		col_text(st, 6, c->what, sizeof(c->what));
		col_text(st, 7, c->old_values, sizeof(c->old_values));
		col_text(st, 8, c->new_values, sizeof(c->new_values));
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_err(s, rc, "reading changes", errstr, errlen);
	*nout = n;
	return MXS_OK;
}

static int
sqlite_expire(struct mxs_store *base, int64_t now_ms, unsigned days, size_t *ndeleted, char *errstr,
              size_t errlen)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	sqlite3_stmt *st = s->stmt[S_EXPIRE];
	int64_t cutoff = now_ms - (int64_t)days * MS_PER_DAY;
	int err, got;

	*ndeleted = 0;
	do {
		if ((err = run_step(s, S_BEGIN, "begin", errstr, errlen)) != MXS_OK)
			return err;
		sqlite3_bind_int64(st, 1, cutoff);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)s->expire_chunk);
		if ((err = run_step(s, S_EXPIRE, "expiring results", errstr, errlen)) != MXS_OK) {
			rollback(s);
			return err;
		}
		got = sqlite3_changes(s->db);
		if ((err = run_step(s, S_COMMIT, "commit", errstr, errlen)) != MXS_OK) {
			rollback(s);
			return err;
		}
		*ndeleted += (size_t)got;
	} while ((size_t)got == s->expire_chunk);
	return MXS_OK;
}

/* ---- open, migrate, close ------------------------------------------ */

static int
exec_sql(struct store_sqlite *s, const char *sql, const char *what, char *errstr, size_t errlen)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? MXS_OK : db_err(s, rc, what, errstr, errlen);
}

/* One integer from a query, or dflt when it returns no row. */
static int
query_int(struct store_sqlite *s, const char *sql, int dflt, int *val, const char *what,
          char *errstr, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return db_err(s, rc, what, errstr, errlen);
	rc = sqlite3_step(st);
	*val = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : dflt;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(s, rc, what, errstr, errlen);
	return MXS_OK;
}

/* Create schema_version in an empty file; refuse a foreign database. */
static int
bootstrap(struct store_sqlite *s, char *errstr, size_t errlen)
{
	int err, have, ntables;

	if ((err = exec_sql(s, "BEGIN IMMEDIATE", "begin", errstr, errlen)) != MXS_OK)
		return err;
	err = query_int(s,
	                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
	                " AND name = 'schema_version'",
	                0, &have, "reading schema", errstr, errlen);
	if (err == MXS_OK && !have) {
		err = query_int(s, "SELECT count(*) FROM sqlite_master", 0, &ntables,
		                "reading schema", errstr, errlen);
		if (err == MXS_OK && ntables > 0)
			err = mxs_seterr(errstr, errlen, MXS_ESYNTAX,
			                 "%s: an SQLite database, but not an mxsentry store"
			                 " (no schema_version table)",
			                 s->path);
		if (err == MXS_OK)
			err = exec_sql(s,
			               "CREATE TABLE schema_version(version INTEGER NOT NULL);"
			               "INSERT INTO schema_version(version) VALUES(0)",
			               "creating schema_version", errstr, errlen);
	}
	if (err == MXS_OK)
		err = exec_sql(s, "COMMIT", "commit", errstr, errlen);
	if (err != MXS_OK)
		rollback(s);
	return err;
}

/* Apply the missing migration steps, each in its own transaction. */
static int
migrate(struct store_sqlite *s, char *errstr, size_t errlen)
{
	char sql[64];
	int err, v;

	for (;;) {
		if ((err = exec_sql(s, "BEGIN IMMEDIATE", "begin", errstr, errlen)) != MXS_OK)
			return err;
		/* Read inside the transaction: another process may have migrated. */
		err = query_int(s, "SELECT max(version) FROM schema_version", 0, &v,
		                "reading schema_version", errstr, errlen);
		if (err == MXS_OK && v > NMIGRATIONS)
			err = mxs_seterr(errstr, errlen, MXS_ECONFIG,
			                 "%s: schema version %d is newer than this build"
			                 " supports (%d): upgrade mxsentry-collector",
			                 s->path, v, NMIGRATIONS);
		if (err == MXS_OK && v < 0)
			err = mxs_seterr(errstr, errlen, MXS_ESYNTAX,
			                 "%s: schema version %d is invalid", s->path, v);
		if (err != MXS_OK || v == NMIGRATIONS) {
			if (err == MXS_OK)
				err = exec_sql(s, "COMMIT", "commit", errstr, errlen);
			if (err != MXS_OK)
				rollback(s);
			return err;
		}
		snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %d", v + 1);
		err = exec_sql(s, migrations[v], "migrating schema", errstr, errlen);
		if (err == MXS_OK)
			err = exec_sql(s, sql, "migrating schema", errstr, errlen);
		if (err == MXS_OK)
			err = exec_sql(s, "COMMIT", "commit", errstr, errlen);
		if (err != MXS_OK) {
			rollback(s);
			return err;
		}
	}
}

static void
sqlite_close(struct mxs_store *base)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	int i;

	for (i = 0; i < S_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

int
mxs_store_sqlite_schema_version(void)
{
	return NMIGRATIONS;
}

int
mxs_store_sqlite_open(const char *path, const struct mxs_store_sqlite_opts *opts,
                      struct mxs_store **out, char *errstr, size_t errlen)
{
	struct store_sqlite *s = NULL;
	int busy = DEFAULT_BUSY_MS, err, rc, i;
	char mode[16];

	*out = NULL;
	if (path == NULL || path[0] == '\0')
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "store: empty path");
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		return mxs_seterr(errstr, errlen, MXS_ENOMEM, "store: out of memory");
	}
	s->base.ops = &sqlite_ops;
	s->expire_chunk = DEFAULT_EXPIRE_CHUNK;
	if (opts != NULL && opts->busy_timeout_ms > 0)
		busy = opts->busy_timeout_ms;
	if (opts != NULL && opts->expire_chunk > 0)
		s->expire_chunk = opts->expire_chunk;

	rc = sqlite3_open_v2(path, &s->db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		err = db_err(s, rc, "open", errstr, errlen);
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, busy);
	/* Before WAL mode, and ignored by an existing file: 8 KiB pages
	 * measured ~15% faster than 4 KiB in store_bench. */
	if ((err = exec_sql(s, "PRAGMA page_size=8192", "setting page size", errstr, errlen)) !=
	    MXS_OK)
		goto out;
	/* The first read of the file: a non-SQLite file fails here. */
	if ((err = exec_sql(s, "SELECT count(*) FROM sqlite_master", "reading header", errstr,
	                    errlen)) != MXS_OK)
		goto out;
	{
		sqlite3_stmt *st = NULL;

		rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
		if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			snprintf(mode, sizeof(mode), "%s",
			         (const char *)sqlite3_column_text(st, 0));
			rc = SQLITE_OK;
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_OK) {
			err = db_err(s, rc, "setting WAL mode", errstr, errlen);
			goto out;
		}
		if (strcmp(mode, "wal") != 0) {
			err = mxs_seterr(errstr, errlen, MXS_ESYS,
			                 "%s: WAL journal mode refused (got %s)", path, mode);
			goto out;
		}
	}
	if ((err = exec_sql(s, PRAGMAS, "setting pragmas", errstr, errlen)) != MXS_OK)
		goto out;
	if ((err = bootstrap(s, errstr, errlen)) != MXS_OK ||
	    (err = migrate(s, errstr, errlen)) != MXS_OK)
		goto out;
	for (i = 0; i < S_COUNT; i++) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                        &s->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			err = db_err(s, rc, "preparing statements", errstr, errlen);
			goto out;
		}
	}
	*out = &s->base;
	return MXS_OK;
out:
	sqlite_close(&s->base);
	return err;
}

static const struct mxs_store_ops sqlite_ops = {
        .name = "sqlite",
        .close = sqlite_close,
        .put_batch = sqlite_put_batch,
        .latest = sqlite_latest,
        .history = sqlite_history,
        .expire = sqlite_expire,
};
