/*
 * store — where the collector keeps probe results (DESIGN.md, Collector →
 * Store).
 *
 * The unit stored is an observation: one row per (result id, domain, MX
 * host, address, region, time), flattened by the collector from an agent's
 * result.  Verdicts travel as text ("ok", "fail", "temporary",
 * "not-tested"; RFC 8460 result-type names), so this header knows nothing of
 * agent types.  Domain-level facts (MX set, DNSSEC, MTA-STS, TLSA) are
 * repeated on every address row of the same result.
 *
 * A backend keeps three things:
 *   raw results  appended in arrival order, kept `retention` days, indexed
 *                only by time (retention) and by result id (idempotence);
 *                never by domain: that costs 20x in insert speed.
 *   latest       one row per (domain, address, region): the newest
 *                observation.  A late row (older than the latest) is kept
 *                raw but does not move latest back in time.
 *   changes      a row only when a verdict status or result type, the leaf
 *                or SPKI fingerprint, the MTA-STS id, body hash or mode, or
 *                the TLSA records differ from the latest row (the first
 *                observation of a key is a change too), with old and new.
 *
 * Backends: mxs_store_sqlite_open (store_sqlite.c) today; a PostgreSQL
 * backend adds its own open function and a struct mxs_store_ops.  Callers
 * use only the mxs_store_* wrappers below.
 *
 * Errors (STYLE.md §3): 0 or a negative MXS_E* code, detail in errstr.
 *   MXS_EINVAL   a row or argument is invalid (nothing was stored)
 *   MXS_ESYNTAX  the file is not a database of this program, or is corrupt
 *   MXS_ECONFIG  the file was written by a newer schema than this build knows
 *   MXS_ESYS     the database failed (I/O, full disk, busy beyond the timeout)
 *   MXS_ENOMEM   allocation failed
 *
 * Threading: a handle is used by one thread at a time (no internal
 * locking).  Several handles, in one process or several, may open the same
 * SQLite file: WAL lets readers run beside the one writer, and a writer
 * waits up to busy_timeout_ms for another.
 */
#ifndef MXS_STORE_H
#define MXS_STORE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "mxs_err.h"

/* Sizes of the text fields, NUL included.  A row whose string does not end
 * inside its field is rejected. */
#define MXS_STORE_ID_LEN     16  /* result id: 16 random bytes (proto) */
#define MXS_STORE_NAME_MAX   256 /* domain, MX host: lower case, no dot */
#define MXS_STORE_ADDR_MAX   46  /* INET6_ADDRSTRLEN */
#define MXS_STORE_REGION_MAX 64
#define MXS_STORE_WORD_MAX   32 /* status, result type, dnssec, mode */
#define MXS_STORE_REASON_MAX 256
#define MXS_STORE_TLSVER_MAX 16
#define MXS_STORE_HEX256_MAX 65 /* SHA-256 as 64 lower-case hex digits */
#define MXS_STORE_STS_ID_MAX 40
#define MXS_STORE_MXSET_MAX  2048  /* "10 mx1.example.org 20 mx2.example.org" */
#define MXS_STORE_TLSA_MAX   4096  /* "3 1 1 HEX" records, one per line */
#define MXS_STORE_WHAT_MAX   512   /* changed field names, comma separated */
#define MXS_STORE_CHANGE_MAX 16384 /* old or new values of one change */
#define MXS_STORE_BATCH_MAX  65536 /* rows in one mxs_store_put_batch */

#define MXS_STORE_RETENTION_DAYS 35      /* 30-day baseline plus margin */
#define MXS_STORE_NO_DAYS        INT_MIN /* days_to_expiry: no certificate */

/* The per-address verdicts, each with its status, result type and reason. */
enum mxs_store_check {
	MXS_STORE_CONNECT = 0,
	MXS_STORE_SMTP,
	MXS_STORE_TLS,
	MXS_STORE_PKIX,
	MXS_STORE_NAME,
	MXS_STORE_DANE,
	MXS_STORE_STS, /* this MX host against the MTA-STS policy (coverage); migration 2 */
	MXS_STORE_NCHECKS
};

struct mxs_store_verdict {
	char status[MXS_STORE_WORD_MAX];      /* "ok", "fail", "temporary", "not-tested" */
	char result_type[MXS_STORE_WORD_MAX]; /* RFC 8460 name, or "" */
	char reason[MXS_STORE_REASON_MAX];    /* for humans; not compared */
};

/* One observation.  Zero-initialise, then fill.  Hex fields are "" or 64
 * lower-case hex digits.  A domain with no address probed (null MX,
 * NXDOMAIN) is one row with mx_host and address "". */
struct mxs_store_obs {
	unsigned char result_id[MXS_STORE_ID_LEN];
	int64_t t_ms;                    /* when the probe started, Unix ms, > 0 */
	char domain[MXS_STORE_NAME_MAX]; /* required */
	char mx_host[MXS_STORE_NAME_MAX];
	char address[MXS_STORE_ADDR_MAX];
	char region[MXS_STORE_REGION_MAX]; /* required */

	struct mxs_store_verdict v[MXS_STORE_NCHECKS]; /* status required */
	int starttls_advertised;                       /* 1, 0, or -1 not seen */
	char tls_version[MXS_STORE_TLSVER_MAX];
	char leaf_sha256[MXS_STORE_HEX256_MAX];
	char spki_sha256[MXS_STORE_HEX256_MAX];
	int days_to_expiry; /* of the leaf; MXS_STORE_NO_DAYS when none */

	/* Domain level, the same on every row of one result. */
	char mx_set[MXS_STORE_MXSET_MAX];
	char dnssec[MXS_STORE_WORD_MAX]; /* of the MX RRset: "secure", ... */
	char sts_id[MXS_STORE_STS_ID_MAX];
	char sts_body_sha256[MXS_STORE_HEX256_MAX];
	char sts_mode[MXS_STORE_WORD_MAX]; /* "enforce", "testing", "none", "" */
	char tlsa[MXS_STORE_TLSA_MAX];
};

/* One row of the change log.  what lists the fields that changed
 * ("first" for the first observation of a key); old_values and new_values
 * hold those fields as "name=value" lines (in a value, '\' and newline are
 * escaped as "\\" and "\n"; old_values is "" for "first").  A field list
 * too long for MXS_STORE_CHANGE_MAX ends in "...". */
struct mxs_store_change {
	int64_t t_ms;
	unsigned char result_id[MXS_STORE_ID_LEN];
	char domain[MXS_STORE_NAME_MAX];
	char mx_host[MXS_STORE_NAME_MAX];
	char address[MXS_STORE_ADDR_MAX];
	char region[MXS_STORE_REGION_MAX];
	char what[MXS_STORE_WHAT_MAX];
	char old_values[MXS_STORE_CHANGE_MAX];
	char new_values[MXS_STORE_CHANGE_MAX];
};

/* A watched domain: the job list the collector hands to agents. */
struct mxs_store_domain {
	char domain[MXS_STORE_NAME_MAX];
	unsigned interval_s; /* probe every interval_s seconds */
	int64_t added_ms;
};

/* An agent as the collector last saw it (Hello and Heartbeat). */
struct mxs_store_agent {
	char name[MXS_STORE_REGION_MAX]; /* certificate CN */
	char region[MXS_STORE_REGION_MAX];
	char version[MXS_STORE_WORD_MAX];
	char address[MXS_STORE_ADDR_MAX + 8]; /* peer address:port at the last Hello, or "" */
	int64_t first_seen_ms, last_hello_ms, last_heartbeat_ms; /* 0: never */
	char egress[MXS_STORE_WORD_MAX]; /* "ok", "blocked", "degraded", "unknown" */
	char egress_detail[MXS_STORE_REASON_MAX];
	uint64_t spool_depth, spool_bytes, spool_dropped;
	uint64_t probes_run, probes_failed, cycles, uptime_s;
	uint32_t last_cycle_ms;
};

struct mxs_store;

/* What a backend provides; see the wrappers below for each contract. */
struct mxs_store_ops {
	const char *name; /* "sqlite", ... */
	void (*close)(struct mxs_store *st);
	int (*put_batch)(struct mxs_store *st, const struct mxs_store_obs *rows, size_t n,
	                 size_t *nnew, char *errstr, size_t errlen);
	int (*latest)(struct mxs_store *st, const char *domain, struct mxs_store_obs *out,
	              size_t max, size_t *nout, char *errstr, size_t errlen);
	int (*history)(struct mxs_store *st, const char *domain, struct mxs_store_change *out,
	               size_t max, size_t *nout, char *errstr, size_t errlen);
	int (*expire)(struct mxs_store *st, int64_t now_ms, unsigned days, size_t *ndeleted,
	              char *errstr, size_t errlen);
	int (*domain_put)(struct mxs_store *st, const struct mxs_store_domain *d, int *created,
	                  char *errstr, size_t errlen);
	int (*domain_remove)(struct mxs_store *st, const char *domain, int *removed, char *errstr,
	                     size_t errlen);
	int (*domain_list)(struct mxs_store *st, struct mxs_store_domain *out, size_t max,
	                   size_t *nout, uint64_t *list_version, char *errstr, size_t errlen);
	int (*agent_hello)(struct mxs_store *st, const struct mxs_store_agent *a, int64_t now_ms,
	                   char *errstr, size_t errlen);
	int (*agent_heartbeat)(struct mxs_store *st, const struct mxs_store_agent *a,
	                       int64_t now_ms, char *errstr, size_t errlen);
	int (*agent_list)(struct mxs_store *st, struct mxs_store_agent *out, size_t max,
	                  size_t *nout, char *errstr, size_t errlen);
};

/* Every backend's handle starts with this. */
struct mxs_store {
	const struct mxs_store_ops *ops;
};

struct mxs_store_sqlite_opts {
	int busy_timeout_ms; /* wait for another writer; 0 means 5000 */
	size_t expire_chunk; /* raw rows deleted per transaction; 0 means 10000 */
};

/*
 * Open (creating if absent) the SQLite store at path, in WAL mode with
 * synchronous=NORMAL, and bring its schema up to date: each migration step
 * runs in its own transaction, in order.  A file with a newer schema is
 * refused (MXS_ECONFIG) and left untouched; a file that is not SQLite, is
 * corrupt, or holds tables but no schema_version is refused (MXS_ESYNTAX).
 * opts may be NULL.  On success *out is a handle the caller owns and
 * releases with mxs_store_close; on failure *out is NULL.
 */
int mxs_store_sqlite_open(const char *path, const struct mxs_store_sqlite_opts *opts,
                          struct mxs_store **out, char *errstr, size_t errlen) MXS_WUR;

/* The schema version this build writes (the last migration step). */
int mxs_store_sqlite_schema_version(void);

/* Close *stp and set it to NULL.  NULL-safe. */
static inline void
mxs_store_close(struct mxs_store **stp)
{
	if (stp != NULL && *stp != NULL) {
		(*stp)->ops->close(*stp);
		*stp = NULL;
	}
}

/*
 * Store rows[0..n) in one transaction: all or nothing.  Every row is
 * validated first; one invalid row rejects the batch (MXS_EINVAL, errstr
 * names the row) and nothing is stored.  Rows are borrowed, not kept.
 *
 * Idempotence is per result: rows whose (result id, time) was stored by
 * an earlier call are ignored, so a duplicate delivery (same id, same
 * probe time) is stored once.  All rows of one result must therefore come
 * in the same call.  A result re-sent after its raw rows expired
 * (retention) is stored again.  *nnew is the
 * number of rows stored (0 for a pure duplicate).  Rows are applied in
 * time order (stable for equal times), so latest and changes do not depend
 * on their order in rows.
 */
static inline MXS_WUR int
mxs_store_put_batch(struct mxs_store *st, const struct mxs_store_obs *rows, size_t n, size_t *nnew,
                    char *errstr, size_t errlen)
{
	return st->ops->put_batch(st, rows, n, nnew, errstr, errlen);
}

/*
 * Copy the latest observation of every (address, region) of domain into
 * out[0..max), ordered by address, region.  *nout is the number found,
 * which may exceed max (only max were copied).  Once the raw row behind a
 * latest entry has expired (nothing seen for the retention period), the
 * entry carries only its key, time, MX host and compared fields.
 */
static inline MXS_WUR int
mxs_store_latest(struct mxs_store *st, const char *domain, struct mxs_store_obs *out, size_t max,
                 size_t *nout, char *errstr, size_t errlen)
{
	return st->ops->latest(st, domain, out, max, nout, errstr, errlen);
}

/*
 * Copy at most max changes of domain into out, newest first (by probe
 * time, then by order stored).  *nout is the number copied.
 */
static inline MXS_WUR int
mxs_store_history(struct mxs_store *st, const char *domain, struct mxs_store_change *out,
                  size_t max, size_t *nout, char *errstr, size_t errlen)
{
	return st->ops->history(st, domain, out, max, nout, errstr, errlen);
}

/*
 * Delete raw results whose probe time is older than now_ms minus days
 * (MXS_STORE_RETENTION_DAYS by default) in bounded chunks, one transaction
 * each, so ingestion is never held up for long.  latest and changes are
 * kept.  *ndeleted counts the rows deleted, also when a later chunk fails.
 */
static inline MXS_WUR int
mxs_store_expire(struct mxs_store *st, int64_t now_ms, unsigned days, size_t *ndeleted,
                 char *errstr, size_t errlen)
{
	return st->ops->expire(st, now_ms, days, ndeleted, errstr, errlen);
}

/* ---- job list and agents (migration 2) ---------------------------------
 *
 * The domain list is what `mxsentry domains add|remove|list` edits and what
 * agents fetch as their jobs.  list_version is a counter stored with the
 * list, incremented by every call that changes it (add, interval change,
 * remove), never reused, and starts at 1 for an empty list in a new
 * store: an agent holding version v asks "changed since v?".
 */

/* Add d (domain lower case, no trailing dot, validated as a host name;
 * the API bounds interval_s to 10..86400; the store does not) or
 * update its interval (added_ms stays that of the first put).  *created
 * (if not NULL) is 1 for a new domain.  A put with the interval already
 * listed changes nothing and leaves list_version as it is.  A host name
 * here: lower-case LDH labels of 1..63 characters, none starting or ending
 * in '-', at least two, the last not all digits, <= 253 characters in all;
 * anything else is MXS_EINVAL with the rule broken in errstr. */
static inline MXS_WUR int
mxs_store_domain_put(struct mxs_store *st, const struct mxs_store_domain *d, int *created,
                     char *errstr, size_t errlen)
{
	return st->ops->domain_put(st, d, created, errstr, errlen);
}

/* Remove domain from the job list (its results and history stay).
 * *removed (if not NULL) is 0 when it was not listed (also for a name
 * mxs_store_domain_put would refuse), and then list_version does not
 * move.  MXS_EINVAL only for NULL or a name of MXS_STORE_NAME_MAX or more. */
static inline MXS_WUR int
mxs_store_domain_remove(struct mxs_store *st, const char *domain, int *removed, char *errstr,
                        size_t errlen)
{
	return st->ops->domain_remove(st, domain, removed, errstr, errlen);
}

/* Copy up to max domains, ordered by name, into out; *nout is the total
 * number listed (may exceed max); *list_version the list's version, read
 * in the same transaction.  out may be NULL with max 0 to ask the count
 * and version only. */
static inline MXS_WUR int
mxs_store_domain_list(struct mxs_store *st, struct mxs_store_domain *out, size_t max, size_t *nout,
                      uint64_t *list_version, char *errstr, size_t errlen)
{
	return st->ops->domain_list(st, out, max, nout, list_version, errstr, errlen);
}

/* Record an accepted Hello: name, region, version, address (other fields
 * ignored).  Creates the agent (first_seen_ms = now_ms) or updates it;
 * last_hello_ms = now_ms.  An agent that changes region keeps its name
 * and moves.  name and region must be non-empty printable ASCII, every
 * text field NUL-terminated in its array, and now_ms > 0, else MXS_EINVAL
 * (the same for mxs_store_agent_heartbeat). */
static inline MXS_WUR int
mxs_store_agent_hello(struct mxs_store *st, const struct mxs_store_agent *a, int64_t now_ms,
                      char *errstr, size_t errlen)
{
	return st->ops->agent_hello(st, a, now_ms, errstr, errlen);
}

/* Record a heartbeat of agent a->name: egress, egress_detail, spool_*,
 * probes_*, cycles, uptime_s, last_cycle_ms; last_heartbeat_ms = now_ms.
 * MXS_EINVAL when the agent never said Hello. */
static inline MXS_WUR int
mxs_store_agent_heartbeat(struct mxs_store *st, const struct mxs_store_agent *a, int64_t now_ms,
                          char *errstr, size_t errlen)
{
	return st->ops->agent_heartbeat(st, a, now_ms, errstr, errlen);
}

/* Copy up to max agents, ordered by region then name; *nout the total. */
static inline MXS_WUR int
mxs_store_agent_list(struct mxs_store *st, struct mxs_store_agent *out, size_t max, size_t *nout,
                     char *errstr, size_t errlen)
{
	return st->ops->agent_list(st, out, max, nout, errstr, errlen);
}

#endif
