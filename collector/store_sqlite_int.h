/*
 * store_sqlite_int — what the store_sqlite*.c files share and nobody else
 * includes: the handle, its prepared statements, the column lists and the
 * helpers.  The SQLite store is one backend (store.h); it is split by role:
 *
 *   store_sqlite.c       open, schema and migrations, close, the ops table,
 *                        errors and statement helpers
 *   store_sqlite_kc.c    the key cache, which spares put_batch most state reads
 *   store_sqlite_row.c   an observation as a results row and as a state row:
 *                        bind, read, validation, the compared fields, the diff
 *   store_sqlite_obs.c   put_batch, latest, history, expire
 *   store_sqlite_jobs.c  the job list (domain_*) and the agents (agent_*)
 *
 * Functions shared between the files carry the sqlite_ prefix (the key
 * cache, a module of its own, kc_).  Errors as in store.h: 0 or a negative
 * MXS_E* code, detail in errstr.  Threading: a handle is used by one thread
 * at a time, so the scratch fields below need no lock.
 */
#ifndef MXS_STORE_SQLITE_INT_H
#define MXS_STORE_SQLITE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"

/*
 * results uses one column list (OBS_COLS), bound and read by
 * sqlite_obs_bind and sqlite_obs_read, so writer and reader cannot drift
 * apart.  These are the current columns; a migration's DDL is frozen once
 * released (store_sqlite.c keeps its own copy).
 */
/* The observation columns, in bind order (parameters ?1..?NCOLS). */
#define OBS_COLS                                                                                   \
	"result_id,t_ms,domain,mx_host,address,region,"                                            \
	"connect_status,connect_type,connect_reason,smtp_status,smtp_type,smtp_reason,"            \
	"tls_status,tls_type,tls_reason,pkix_status,pkix_type,pkix_reason,"                        \
	"name_status,name_type,name_reason,dane_status,dane_type,dane_reason,"                     \
	"sts_status,sts_type,sts_reason,"                                                          \
	"starttls,tls_version,leaf_sha256,spki_sha256,days_to_expiry,"                             \
	"mx_set,dnssec,sts_id,sts_body_sha256,sts_mode,tlsa"
#define OBS_NCOLS 38
#define OBS_PARAMS                                                                                 \
	"?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,"                  \
	"?21,?22,?23,?24,?25,?26,?27,?28,?29,?30,?31,?32,?33,?34,?35,?36,?37,?38"

/* The compared fields, kept in state (same order as cmp_names). */
#define STATE_COLS                                                                                 \
	"connect_status,connect_type,smtp_status,smtp_type,tls_status,tls_type,"                   \
	"pkix_status,pkix_type,name_status,name_type,dane_status,dane_type,"                       \
	"sts_status,sts_type,"                                                                     \
	"leaf_sha256,spki_sha256,sts_id,sts_body_sha256,sts_mode,tlsa"
#define STATE_NCOLS 20
#define NCMP        STATE_NCOLS

#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

/* The prepared statements (SQL in store_sqlite.c).  Every statement is
 * prepared once at open and reset after each use. */
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
	S_DATA_VERSION,
	S_BEGIN_READ,
	S_DOMAIN_GET,
	S_DOMAIN_INSERT,
	S_DOMAIN_SET_INTERVAL,
	S_DOMAIN_DELETE,
	S_LIST_BUMP,
	S_LIST_VERSION,
	S_DOMAIN_LIST,
	S_AGENT_HELLO,
	S_AGENT_HEARTBEAT,
	S_AGENT_LIST,
	S_COUNT
};

/* ---- key cache (store_sqlite_kc.c) --------------------------------- */

struct kc_entry;

/* The compared fields of each key's state row, as keyed hashes: see
 * store_sqlite_kc.c.  Owned by its handle. */
struct key_cache {
	struct kc_entry *tab;
	size_t slots, used; /* slots a power of two; used <= 3/4 slots */
	uint64_t k0, k1;    /* SipHash key */
	int on;             /* 0: no random key could be had, no caching */
	int64_t data_version;
};

/* An empty cache with a fresh random key; allocates nothing (kc_put
 * allocates the table, kc_free releases it). */
void kc_init(struct key_cache *kc);
/* Forget every entry; the table is kept. */
void kc_clear(struct key_cache *kc);
/* Free the table; kc is left empty and may be used again. */
void kc_free(struct key_cache *kc);
/* The cached field hash of key, or 0 when not cached. */
uint64_t kc_get(struct key_cache *kc, uint64_t key);
/* Remember val for key (key not 0); never fails: a key it cannot hold is
 * simply not cached. */
void kc_put(struct key_cache *kc, uint64_t key, uint64_t val);
/* SipHash-2-4 of p[0..len) under the key (k0, k1). */
uint64_t kc_siphash24(uint64_t k0, uint64_t k1, const unsigned char *p, size_t len);

/* ---- the handle ---------------------------------------------------- */

struct store_sqlite {
	struct mxs_store base; /* first: a struct mxs_store * points here */
	sqlite3 *db;
	char *path;
	size_t expire_chunk;
	sqlite3_stmt *stmt[S_COUNT];
	struct mxs_store_obs prev;     /* scratch: the state row being replaced */
	char what[MXS_STORE_WHAT_MAX]; /* scratch: the change being written */
	char oldv[MXS_STORE_CHANGE_MAX], newv[MXS_STORE_CHANGE_MAX];
	unsigned char hashbin[3][32]; /* scratch: hashes bound to S_INSERT_RESULT */
	struct key_cache kc;
	char hbuf[sizeof(struct mxs_store_obs)]; /* scratch: bytes hashed for kc */
};

/* ---- errors and statements (store_sqlite.c) ------------------------ */

/* Map a SQLite failure to our codes, with the path and what we were doing;
 * returns the code. */
int sqlite_db_err(struct store_sqlite *s, int rc, const char *what, char *errstr, size_t errlen);
/* Step statement id once and reset it (its bindings stay). */
int sqlite_run_step(struct store_sqlite *s, enum stmt_id id, const char *what, char *errstr,
                    size_t errlen);
/* Roll back the open transaction, if there is one. */
void sqlite_rollback(struct store_sqlite *s);

/* Per-column helpers, inline as they were before the split: they run for
 * every column of every row. */

/* Copy a column's text into a fixed field, truncating at size - 1. */
static inline void
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

static inline void
col_id(sqlite3_stmt *st, int col, unsigned char id[MXS_STORE_ID_LEN])
{
	const void *b = sqlite3_column_blob(st, col);
	int len = sqlite3_column_bytes(st, col);

	memset(id, 0, MXS_STORE_ID_LEN);
	if (b != NULL && len == MXS_STORE_ID_LEN)
		memcpy(id, b, MXS_STORE_ID_LEN);
}

/* Bound without a copy (SQLITE_STATIC): v must outlive the statement's
 * next step, and the caller clears the bindings when v goes away. */
static inline int
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* ---- rows (store_sqlite_row.c) ------------------------------------- */

/* Bind o to ?1..?OBS_NCOLS of st in OBS_COLS order, without a copy: o and
 * bufs (the binary hashes) must outlive the statement's next step.
 * Returns an SQLite code. */
int sqlite_obs_bind(sqlite3_stmt *st, const struct mxs_store_obs *o, unsigned char bufs[3][32]);
/* Read an observation from columns 0..OBS_NCOLS-1 of st's current row. */
void sqlite_obs_read(sqlite3_stmt *st, struct mxs_store_obs *o);
/* NULL if o may be stored, else what is wrong with it (static text). */
const char *sqlite_obs_invalid(const struct mxs_store_obs *o);
/* Point v[0..NCMP) at o's compared fields, in STATE_COLS order. */
void sqlite_cmp_vals(const struct mxs_store_obs *o, const char **v);
/* Compare o with its key's state (prev NULL: none) into what/oldv/newv;
 * 1 when it is a change. */
int sqlite_obs_diff(const struct mxs_store_obs *prev, const struct mxs_store_obs *o, char *what,
                    size_t whatlen, char *oldv, char *newv, size_t vlen);
/* Fill the compared fields, time, result id and MX host of o from an
 * S_GET_STATE row; nothing else of o is touched. */
void sqlite_state_read(sqlite3_stmt *st, struct mxs_store_obs *o);
/* Write o's key, time and compared fields to state.  Binds o without a
 * copy: the caller clears S_PUT_STATE's bindings before o goes away. */
int sqlite_state_write(struct store_sqlite *s, const struct mxs_store_obs *o, char *errstr,
                       size_t errlen);

/* ---- the ops (store.h), by file ------------------------------------ */

/* store_sqlite_obs.c */
int sqlite_put_batch(struct mxs_store *base, const struct mxs_store_obs *rows, size_t n,
                     size_t *nnew, char *errstr, size_t errlen);
int sqlite_latest(struct mxs_store *base, const char *domain, struct mxs_store_obs *out, size_t max,
                  size_t *nout, char *errstr, size_t errlen);
int sqlite_history(struct mxs_store *base, const char *domain, struct mxs_store_change *out,
                   size_t max, size_t *nout, char *errstr, size_t errlen);
int sqlite_expire(struct mxs_store *base, int64_t now_ms, unsigned days, size_t *ndeleted,
                  char *errstr, size_t errlen);

/* store_sqlite_jobs.c */
int sqlite_domain_put(struct mxs_store *base, const struct mxs_store_domain *d, int *created,
                      char *errstr, size_t errlen);
int sqlite_domain_remove(struct mxs_store *base, const char *domain, int *removed, char *errstr,
                         size_t errlen);
int sqlite_domain_list(struct mxs_store *base, struct mxs_store_domain *out, size_t max,
                       size_t *nout, uint64_t *list_version, char *errstr, size_t errlen);
int sqlite_agent_hello(struct mxs_store *base, const struct mxs_store_agent *a, int64_t now_ms,
                       char *errstr, size_t errlen);
int sqlite_agent_heartbeat(struct mxs_store *base, const struct mxs_store_agent *a, int64_t now_ms,
                           char *errstr, size_t errlen);
int sqlite_agent_list(struct mxs_store *base, struct mxs_store_agent *out, size_t max, size_t *nout,
                      char *errstr, size_t errlen);

#endif
