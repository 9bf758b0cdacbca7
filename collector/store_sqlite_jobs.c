/*
 * store_sqlite_jobs — the job list and the agents in the SQLite store:
 * domain_put, domain_remove, domain_list (the domains table, versioned by
 * list_version) and agent_hello, agent_heartbeat, agent_list (the agents
 * table).  Both tables came with migration 2 (store_sqlite.c).
 */
#include "store_sqlite_int.h"

#include <string.h>

/* ---- job list ------------------------------------------------------ */

/*
 * NULL if name is a host name we accept as a watched domain, else why not:
 * lower-case LDH labels of 1..63 characters joined by dots, no label
 * starting or ending with '-', at least two labels, a last label that is
 * not all digits (an IPv4 address is not a domain), at most 253
 * characters, no trailing dot.
 */
static const char *
domain_invalid(const char *name, size_t size)
{
	size_t len, i, label = 0, nlabels = 1;
	int digits_only = 1;

	if (name == NULL)
		return "missing";
	if ((len = strnlen(name, size)) == size)
		return "not NUL-terminated";
	if (len == 0)
		return "empty";
	if (len > 253)
		return "longer than 253 characters";
	if (name[len - 1] == '.')
		return "ends in a dot (write it without the trailing dot)";
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (c == '.') {
			if (label == 0)
				return "has an empty label";
			if (name[i - 1] == '-')
				return "has a label ending in '-'";
			label = 0;
			nlabels++;
			digits_only = 1;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			return "is not lower case";
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return "has a character other than a-z, 0-9, '-' and '.'";
		if (c == '-' && label == 0)
			return "has a label starting with '-'";
		if (++label > 63)
			return "has a label longer than 63 characters";
		if (c < '0' || c > '9')
			digits_only = 0;
	}
	if (name[len - 1] == '-')
		return "has a label ending in '-'";
	if (nlabels < 2)
		return "is a single label (a top-level name, or a typo?)";
	if (digits_only)
		return "ends in an all-numeric label (an address is not a domain)";
	return NULL;
}

/* Bump list_version inside the caller's transaction. */
static int
list_bump(struct store_sqlite *s, char *errstr, size_t errlen)
{
	int err = sqlite_run_step(s, S_LIST_BUMP, "bumping list version", errstr, errlen);

	if (err == MXS_OK && sqlite3_changes(s->db) != 1)
		err = mxs_seterr(errstr, errlen, MXS_ESYNTAX, "%s: table list_version has no row",
		                 s->path);
	return err;
}

int
sqlite_domain_put(struct mxs_store *base, const struct mxs_store_domain *d, int *created,
                  char *errstr, size_t errlen)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	sqlite3_stmt *st = s->stmt[S_DOMAIN_GET];
	const char *why;
	int err, rc, have = 0;
	sqlite3_int64 old = 0;

	if (created != NULL)
		*created = 0;
	if (d == NULL)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "store: domain_put: NULL domain");
	if ((why = domain_invalid(d->domain, sizeof(d->domain))) != NULL)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "store: domain %.*s: %s", 253,
		                  memchr(d->domain, '\0', sizeof(d->domain)) ? d->domain : "?",
		                  why);

	if ((err = sqlite_run_step(s, S_BEGIN, "begin", errstr, errlen)) != MXS_OK)
		return err;
	bind_text(st, 1, d->domain);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		have = 1;
		old = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		err = sqlite_db_err(s, rc, "reading domains", errstr, errlen);
		goto out;
	}
	if (have && old == (sqlite3_int64)d->interval_s)
		goto out; /* nothing to change: the version stays */
	st = s->stmt[have ? S_DOMAIN_SET_INTERVAL : S_DOMAIN_INSERT];
	bind_text(st, 1, d->domain);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)d->interval_s);
	if (!have)
		sqlite3_bind_int64(st, 3, d->added_ms);
	if ((err = sqlite_run_step(s, have ? S_DOMAIN_SET_INTERVAL : S_DOMAIN_INSERT,
	                           "writing domain", errstr, errlen)) != MXS_OK ||
	    (err = list_bump(s, errstr, errlen)) != MXS_OK)
		goto out;
out:
	if (err == MXS_OK)
		err = sqlite_run_step(s, S_COMMIT, "commit", errstr, errlen);
	if (err != MXS_OK)
		sqlite_rollback(s);
	else if (created != NULL)
		*created = !have;
	sqlite3_clear_bindings(s->stmt[S_DOMAIN_GET]);
	sqlite3_clear_bindings(s->stmt[S_DOMAIN_INSERT]);
	sqlite3_clear_bindings(s->stmt[S_DOMAIN_SET_INTERVAL]);
	return err;
}

int
sqlite_domain_remove(struct mxs_store *base, const char *domain, int *removed, char *errstr,
                     size_t errlen)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	int err, got = 0;

	if (removed != NULL)
		*removed = 0;
	/* Only what cannot be looked up is an error: a name domain_put
	 * would refuse is simply not listed. */
	if (domain == NULL || strnlen(domain, MXS_STORE_NAME_MAX) == MXS_STORE_NAME_MAX)
		return mxs_seterr(errstr, errlen, MXS_EINVAL,
		                  "store: domain_remove: name missing or not NUL-terminated");
	if ((err = sqlite_run_step(s, S_BEGIN, "begin", errstr, errlen)) != MXS_OK)
		return err;
	bind_text(s->stmt[S_DOMAIN_DELETE], 1, domain);
	err = sqlite_run_step(s, S_DOMAIN_DELETE, "removing domain", errstr, errlen);
	sqlite3_clear_bindings(s->stmt[S_DOMAIN_DELETE]);
	if (err == MXS_OK && (got = sqlite3_changes(s->db)) > 0)
		err = list_bump(s, errstr, errlen);
	if (err == MXS_OK)
		err = sqlite_run_step(s, S_COMMIT, "commit", errstr, errlen);
	if (err != MXS_OK) {
		sqlite_rollback(s);
		return err;
	}
	if (removed != NULL)
		*removed = got > 0;
	return MXS_OK;
}

int
sqlite_domain_list(struct mxs_store *base, struct mxs_store_domain *out, size_t max, size_t *nout,
                   uint64_t *list_version, char *errstr, size_t errlen)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	sqlite3_stmt *st = s->stmt[S_LIST_VERSION];
	uint64_t version = 0;
	size_t n = 0;
	int err, rc;

	*nout = 0;
	if (list_version != NULL)
		*list_version = 0;
	if (out == NULL && max > 0)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "store: domain_list: NULL argument");
	/* One read transaction: the version belongs to exactly this list. */
	if ((err = sqlite_run_step(s, S_BEGIN_READ, "begin", errstr, errlen)) != MXS_OK)
		return err;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		version = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		err = mxs_seterr(errstr, errlen, MXS_ESYNTAX, "%s: table list_version has no row",
		                 s->path);
	else if (rc != SQLITE_ROW)
		err = sqlite_db_err(s, rc, "reading list version", errstr, errlen);
	st = s->stmt[S_DOMAIN_LIST];
	while (err == MXS_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n < max) {
			struct mxs_store_domain *d = &out[n];

			memset(d, 0, sizeof(*d));
			col_text(st, 0, d->domain, sizeof(d->domain));
			d->interval_s = (unsigned)sqlite3_column_int64(st, 1);
			d->added_ms = sqlite3_column_int64(st, 2);
		}
		n++;
	}
	sqlite3_reset(st);
	if (err == MXS_OK && rc != SQLITE_DONE)
		err = sqlite_db_err(s, rc, "reading domains", errstr, errlen);
	if (err == MXS_OK)
		err = sqlite_run_step(s, S_COMMIT, "commit", errstr, errlen);
	if (err != MXS_OK) {
		sqlite_rollback(s);
		return err;
	}
	*nout = n;
	if (list_version != NULL)
		*list_version = version;
	return MXS_OK;
}

/* ---- agents -------------------------------------------------------- */

/* Non-empty printable ASCII, terminated inside its field. */
static int
valid_word(const char *p, size_t size)
{
	size_t i;

	if (p[0] == '\0' || memchr(p, '\0', size) == NULL)
		return 0;
	for (i = 0; p[i] != '\0'; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return 0;
	return 1;
}

/* NULL if a may be recorded, else what is wrong with it. */
static const char *
agent_invalid(const struct mxs_store_agent *a, int64_t now_ms)
{
	if (!valid_word(a->name, sizeof(a->name)))
		return "name is empty, not terminated or not printable ASCII";
	if (!valid_word(a->region, sizeof(a->region)))
		return "region is empty, not terminated or not printable ASCII";
	if (!TERMINATED(a->version) || !TERMINATED(a->address) || !TERMINATED(a->egress) ||
	    !TERMINATED(a->egress_detail))
		return "a text field is not NUL-terminated";
	if (now_ms <= 0)
		return "time is not positive";
	return NULL;
}

int
sqlite_agent_hello(struct mxs_store *base, const struct mxs_store_agent *a, int64_t now_ms,
                   char *errstr, size_t errlen)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	sqlite3_stmt *st = s->stmt[S_AGENT_HELLO];
	const char *why;
	int err;

	if (a == NULL)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "store: agent_hello: NULL agent");
	if ((why = agent_invalid(a, now_ms)) != NULL)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "store: agent hello rejected: %s",
		                  why);
	bind_text(st, 1, a->name);
	bind_text(st, 2, a->region);
	bind_text(st, 3, a->version);
	bind_text(st, 4, a->address);
	sqlite3_bind_int64(st, 5, now_ms);
	err = sqlite_run_step(s, S_AGENT_HELLO, "writing agent", errstr, errlen);
	sqlite3_clear_bindings(st);
	return err;
}

int
sqlite_agent_heartbeat(struct mxs_store *base, const struct mxs_store_agent *a, int64_t now_ms,
                       char *errstr, size_t errlen)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	sqlite3_stmt *st = s->stmt[S_AGENT_HEARTBEAT];
	const char *why;
	int err, i = 5;

	if (a == NULL)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "store: agent_heartbeat: NULL agent");
	/* The region is not written here, but a valid agent has one. */
	if ((why = agent_invalid(a, now_ms)) != NULL)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "store: agent heartbeat rejected: %s",
		                  why);
	bind_text(st, 1, a->name);
	sqlite3_bind_int64(st, 2, now_ms);
	bind_text(st, 3, a->egress);
	bind_text(st, 4, a->egress_detail);
	/* Counters are stored as their int64 bit pattern, read back as uint64. */
	sqlite3_bind_int64(st, i++, (sqlite3_int64)a->spool_depth);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)a->spool_bytes);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)a->spool_dropped);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)a->probes_run);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)a->probes_failed);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)a->cycles);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)a->uptime_s);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)a->last_cycle_ms);
	err = sqlite_run_step(s, S_AGENT_HEARTBEAT, "writing heartbeat", errstr, errlen);
	sqlite3_clear_bindings(st);
	if (err == MXS_OK && sqlite3_changes(s->db) == 0)
		err = mxs_seterr(errstr, errlen, MXS_EINVAL,
		                 "store: heartbeat from agent %s, which never said Hello", a->name);
	return err;
}

int
sqlite_agent_list(struct mxs_store *base, struct mxs_store_agent *out, size_t max, size_t *nout,
                  char *errstr, size_t errlen)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	sqlite3_stmt *st = s->stmt[S_AGENT_LIST];
	size_t n = 0;
	int rc;

	*nout = 0;
	if (out == NULL && max > 0)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "store: agent_list: NULL argument");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n < max) {
			struct mxs_store_agent *a = &out[n];
			int i = 9;

			memset(a, 0, sizeof(*a));
			col_text(st, 0, a->name, sizeof(a->name));
			col_text(st, 1, a->region, sizeof(a->region));
			col_text(st, 2, a->version, sizeof(a->version));
			col_text(st, 3, a->address, sizeof(a->address));
			a->first_seen_ms = sqlite3_column_int64(st, 4);
			a->last_hello_ms = sqlite3_column_int64(st, 5);
			a->last_heartbeat_ms = sqlite3_column_int64(st, 6);
			col_text(st, 7, a->egress, sizeof(a->egress));
			col_text(st, 8, a->egress_detail, sizeof(a->egress_detail));
			a->spool_depth = (uint64_t)sqlite3_column_int64(st, i++);
			a->spool_bytes = (uint64_t)sqlite3_column_int64(st, i++);
			a->spool_dropped = (uint64_t)sqlite3_column_int64(st, i++);
			a->probes_run = (uint64_t)sqlite3_column_int64(st, i++);
			a->probes_failed = (uint64_t)sqlite3_column_int64(st, i++);
			a->cycles = (uint64_t)sqlite3_column_int64(st, i++);
			a->uptime_s = (uint64_t)sqlite3_column_int64(st, i++);
			a->last_cycle_ms = (uint32_t)sqlite3_column_int64(st, i++);
		}
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sqlite_db_err(s, rc, "reading agents", errstr, errlen);
	*nout = n;
	return MXS_OK;
}
