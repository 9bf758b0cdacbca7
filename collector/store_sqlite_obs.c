/*
 * store_sqlite_obs — the observation operations of the SQLite store:
 * put_batch, latest, history and expire (store.h).
 *
 * Per new row, put_batch inserts into results and upserts latest.  state
 * is read only when the key cache (store_sqlite_kc.c) cannot tell that
 * the row's compared fields equal it, and is written, with a changes row,
 * only on a change.  The duplicate check is one index lookup per result.
 */
#include "store_sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS_PER_DAY 86400000LL

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

/* Append the NUL-terminated strings v[0..n) to s->hbuf; return the length.
 * NUL separates them, so different lists never give the same bytes. */
static size_t
hash_input(struct store_sqlite *s, const char *const *v, size_t n)
{
	size_t i, len = 0, l;

	for (i = 0; i < n; i++) {
		l = strlen(v[i]) + 1;
		if (len + l > sizeof(s->hbuf))
			break; /* cannot happen: the fields of one obs fit */
		memcpy(s->hbuf + len, v[i], l);
		len += l;
	}
	return len;
}

static uint64_t
key_hash(struct store_sqlite *s, const struct mxs_store_obs *o)
{
	const char *v[3] = {o->domain, o->address, o->region};
	uint64_t h = kc_siphash24(s->kc.k0, s->kc.k1, (const unsigned char *)s->hbuf,
	                          hash_input(s, v, 3));

	return h != 0 ? h : 1; /* 0 marks an empty slot */
}

static uint64_t
fields_hash(struct store_sqlite *s, const struct mxs_store_obs *o)
{
	const char *v[NCMP];

	sqlite_cmp_vals(o, v);
	return kc_siphash24(s->kc.k0, s->kc.k1, (const unsigned char *)s->hbuf,
	                    hash_input(s, v, NCMP));
}

/* Read the state of o's key into s->prev; *found 0 when there is none. */
static int
state_get(struct store_sqlite *s, const struct mxs_store_obs *o, int *found, char *errstr,
          size_t errlen)
{
	sqlite3_stmt *st = s->stmt[S_GET_STATE];
	int rc;

	bind_text(st, 1, o->domain);
	bind_text(st, 2, o->address);
	bind_text(st, 3, o->region);
	rc = sqlite3_step(st);
	/* No memset: sqlite_state_read sets every compared field, and only those
	 * are read from prev (a 10 KiB clear per row cost 15%). */
	if (rc == SQLITE_ROW)
		sqlite_state_read(st, &s->prev);
	sqlite3_reset(st);
	*found = rc == SQLITE_ROW;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sqlite_db_err(s, rc, "reading state", errstr, errlen);
	return MXS_OK;
}

/*
 * For one new row stored as results.id rid: move latest forward and, when
 * a compared field differs from state (or there is none), rewrite state
 * and log the change.  A row older than latest (a late delivery) is raw
 * only.  The key cache answers "same as state?" without reading state.
 */
static int
apply_latest(struct store_sqlite *s, const struct mxs_store_obs *o, sqlite3_int64 rid, char *errstr,
             size_t errlen)
{
	sqlite3_stmt *st = s->stmt[S_PUT_LATEST];
	struct mxs_store_verdict *pv = &s->prev.v[MXS_STORE_STS];
	uint64_t kh = 0, fh = 0;
	int err, found, backfill = 0;

	bind_text(st, 1, o->domain);
	bind_text(st, 2, o->address);
	bind_text(st, 3, o->region);
	sqlite3_bind_int64(st, 4, o->t_ms);
	sqlite3_bind_int64(st, 5, rid);
	if ((err = sqlite_run_step(s, S_PUT_LATEST, "writing latest", errstr, errlen)) != MXS_OK)
		return err;
	if (sqlite3_changes(s->db) == 0)
		return MXS_OK; /* older than latest: the upsert's WHERE skipped it */

	if (s->kc.on) {
		kh = key_hash(s, o);
		fh = fields_hash(s, o);
		if (kc_get(&s->kc, kh) == fh && fh != 0)
			return MXS_OK; /* state already holds these fields */
	}
	if ((err = state_get(s, o, &found, errstr, errlen)) != MXS_OK)
		return err;
	if (found && pv->status[0] == '\0') {
		/* A state row from schema 1 has no coverage verdict: take
		 * this one as its value rather than as a change. */
		memcpy(pv->status, o->v[MXS_STORE_STS].status, sizeof(pv->status));
		memcpy(pv->result_type, o->v[MXS_STORE_STS].result_type, sizeof(pv->result_type));
		backfill = 1;
	}
	if (!sqlite_obs_diff(found ? &s->prev : NULL, o, s->what, sizeof(s->what), s->oldv, s->newv,
	                     sizeof(s->oldv))) {
		if (backfill && (err = sqlite_state_write(s, o, errstr, errlen)) != MXS_OK)
			return err;
		kc_put(&s->kc, kh, fh);
		return MXS_OK;
	}

	if ((err = sqlite_state_write(s, o, errstr, errlen)) != MXS_OK)
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
	if ((err = sqlite_run_step(s, S_INSERT_CHANGE, "writing change", errstr, errlen)) != MXS_OK)
		return err;
	kc_put(&s->kc, kh, fh);
	return MXS_OK;
}

/*
 * Empty the key cache if another connection committed since we last
 * looked: it may have rewritten state.  Called inside the write
 * transaction, so nobody else can commit until we are done.
 */
static int
kc_check(struct store_sqlite *s, char *errstr, size_t errlen)
{
	sqlite3_stmt *st = s->stmt[S_DATA_VERSION];
	int64_t v;
	int rc;

	if (!s->kc.on)
		return MXS_OK;
	rc = sqlite3_step(st);
	v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return sqlite_db_err(s, rc, "reading data_version", errstr, errlen);
	if (v != s->kc.data_version)
		kc_clear(&s->kc);
	s->kc.data_version = v;
	return MXS_OK;
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
	/* Rows come in time order, so only the tail can hold o's time. */
	for (k = *nseen; k > 0 && seen[k - 1].t_ms == o->t_ms; k--) {
		if (memcmp(seen[k - 1].id, o->result_id, MXS_STORE_ID_LEN) == 0) {
			*is_new = seen[k - 1].is_new;
			return MXS_OK;
		}
	}
	sqlite3_bind_blob(st, 1, o->result_id, MXS_STORE_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, o->t_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sqlite_db_err(s, rc, "looking up result id", errstr, errlen);
	*is_new = rc == SQLITE_DONE;
	seen[*nseen].id = o->result_id;
	seen[*nseen].t_ms = o->t_ms;
	seen[*nseen].is_new = *is_new;
	(*nseen)++;
	return MXS_OK;
}

int
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
		if ((why = sqlite_obs_invalid(&rows[i])) != NULL)
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

	if ((err = sqlite_run_step(s, S_BEGIN, "begin", errstr, errlen)) != MXS_OK ||
	    (err = kc_check(s, errstr, errlen)) != MXS_OK)
		goto out;
	for (i = 0; i < n; i++) {
		const struct mxs_store_obs *o = &rows[order[i].i];

		if ((err = id_is_new(s, o, seen, &nseen, &is_new, errstr, errlen)) != MXS_OK)
			goto out;
		if (!is_new)
			continue;
		if ((rc = sqlite_obs_bind(s->stmt[S_INSERT_RESULT], o, s->hashbin)) != SQLITE_OK) {
			err = sqlite_db_err(s, rc, "binding result", errstr, errlen);
			goto out;
		}
		if ((err = sqlite_run_step(s, S_INSERT_RESULT, "writing result", errstr, errlen)) !=
		    MXS_OK)
			goto out;
		if ((err = apply_latest(s, o, sqlite3_last_insert_rowid(s->db), errstr, errlen)) !=
		    MXS_OK)
			goto out;
		stored++;
	}
	if ((err = sqlite_run_step(s, S_COMMIT, "commit", errstr, errlen)) != MXS_OK)
		goto out;
	*nnew = stored;
out:
	if (err != MXS_OK) {
		sqlite_rollback(s);
		kc_clear(&s->kc); /* it may hold what was just rolled back */
	}
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
		sqlite_obs_read(st, o);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return MXS_OK;
	if (rc != SQLITE_DONE)
		return sqlite_db_err(s, rc, "reading result", errstr, errlen);

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
		sqlite_state_read(st, o);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sqlite_db_err(s, rc, "reading state", errstr, errlen);
	o->t_ms = sqlite3_column_int64(lt, 2);
	return MXS_OK;
}

int
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
		return sqlite_db_err(s, rc, "reading latest", errstr, errlen);
	*nout = n;
	return MXS_OK;
}

int
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
		return sqlite_db_err(s, rc, "reading changes", errstr, errlen);
	*nout = n;
	return MXS_OK;
}

int
sqlite_expire(struct mxs_store *base, int64_t now_ms, unsigned days, size_t *ndeleted, char *errstr,
              size_t errlen)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	sqlite3_stmt *st = s->stmt[S_EXPIRE];
	int64_t cutoff = now_ms - (int64_t)days * MS_PER_DAY;
	int err, got;

	*ndeleted = 0;
	do {
		if ((err = sqlite_run_step(s, S_BEGIN, "begin", errstr, errlen)) != MXS_OK)
			return err;
		sqlite3_bind_int64(st, 1, cutoff);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)s->expire_chunk);
		if ((err = sqlite_run_step(s, S_EXPIRE, "expiring results", errstr, errlen)) !=
		    MXS_OK) {
			sqlite_rollback(s);
			return err;
		}
		got = sqlite3_changes(s->db);
		if ((err = sqlite_run_step(s, S_COMMIT, "commit", errstr, errlen)) != MXS_OK) {
			sqlite_rollback(s);
			return err;
		}
		*ndeleted += (size_t)got;
	} while ((size_t)got == s->expire_chunk);
	return MXS_OK;
}
