/*
 * addr_share — be a polite prober: one SMTP session per (MX host, address)
 * per share window, fanned out to every domain that uses it, and caps on
 * the sessions opened to one address (DESIGN.md "Agent").
 *
 * Two tables, both keyed by text:
 *  - share entries, keyed by (MX host name in lower case, address text):
 *    SNI and the name check depend on the host, so two host names on one
 *    address are two sessions.  An entry is "in flight" (a session is
 *    queued or running: later requesters wait for it and get a copy) or
 *    "finished at T" (a copy is handed out while now - T < share_window_s).
 *  - address slots, keyed by address text alone (several host names may
 *    point at one IP): at most per_address_sessions sessions at once and
 *    at least per_address_interval_ms between two connection starts.
 *    Sessions over the cap wait in the slot's FIFO and start from the
 *    wake-up timer.  The wait is not part of the session: its deadlines
 *    and elapsed_ms start when it is actually started.
 *
 * Temporary outcomes (connect, smtp or tls "temporary") and sessions that
 * never connected for a local reason are handed to the requesters that
 * were already waiting on that very session, but not kept: a later domain
 * starts a fresh session.  share_window_s = 0 disables sharing entirely
 * (no entries; every request is its own session); the caps still apply.
 *
 * The table knows nothing of sockets or libevent: the caller injects the
 * clock, the session start and the wake-up timer (struct mxs_share_ops),
 * so the decisions are unit-tested with a fake clock.  Not thread-safe:
 * one table per engine, used from its loop only.
 *
 * Memory is bounded: entries expire share_window_s after their session
 * ended and are purged on access; at most MXS_SHARE_ENTRIES_MAX entries
 * (the oldest finished one is evicted first; when every entry is in
 * flight a new session simply is not shared), and at most
 * MXS_SHARE_SLOTS_MAX address slots (beyond that a request is refused).
 */
#ifndef MXS_ADDR_SHARE_H
#define MXS_ADDR_SHARE_H

#include <stddef.h>
#include <stdint.h>

#include "mxs_err.h"
#include "result.h"

/*
 * A finished entry holds a copy of one struct mxs_addr (~10 KB with its
 * fixed certificate array), so 16384 entries bound the table near 160 MB
 * in the worst case; distinct (host, address) pairs finished within one
 * window stay far below that at the agent's max_in_flight.
 */
#define MXS_SHARE_ENTRIES_MAX 16384
/* Address slots (small; live while a session runs or waits, and for
 * per_address_interval_ms after the last one started). */
#define MXS_SHARE_SLOTS_MAX 100000

struct mxs_dane_rrset;
struct mxs_share;
struct mxs_share_entry;
struct mxs_share_slot;

/* Called once when the requester's mxs_addr is filled (by its own session
 * or by a copy); may run before mxs_share_request returns. */
typedef void (*mxs_share_fn)(void *arg);

/*
 * One real session.  The public fields are what the start hook needs;
 * they are borrowed from the requester and valid until the job finishes.
 */
struct mxs_share_job {
	struct mxs_addr *a;
	const char *host;
	const struct mxs_dane_rrset *dane;
	/* private */
	struct mxs_share *t;
	mxs_share_fn fn;
	void *arg;
	struct mxs_share_entry *entry; /* NULL: not shared */
	struct mxs_share_slot *slot;
	struct mxs_share_job *next; /* in the slot's queue */
};

struct mxs_share_ops {
	/* Monotonic milliseconds. */
	uint64_t (*now)(void *ctx);
	/*
	 * Start job's session now; when it is over (possibly before start
	 * returns) the caller must call mxs_share_finished(job) exactly
	 * once.  A non-zero return means it did not start and
	 * mxs_share_finished must not be called.
	 */
	int (*start)(void *ctx, struct mxs_share_job *job);
	/* Call mxs_share_wake after delay_ms; replaces a pending wake-up. */
	void (*arm)(void *ctx, uint64_t delay_ms);
	void *ctx;
};

struct mxs_share_limits {
	long long sessions;    /* per_address_sessions, >= 1 */
	long long interval_ms; /* per_address_interval_ms, >= 0 */
	long long window_s;    /* share_window_s, >= 0; 0: no sharing */
};

/* A new table (caller owns it; mxs_share_free).  ops is copied. */
int mxs_share_new(const struct mxs_share_limits *lim, const struct mxs_share_ops *ops,
                  struct mxs_share **out) MXS_WUR;

/*
 * Free *tp (NULL-safe) and clear it.  Queued jobs are dropped without
 * their callbacks; call it only when no session is running.
 */
void mxs_share_free(struct mxs_share **tp);

/*
 * Fill a (the requester's address, borrowed until fn runs) for MX host
 * host: by a copy of a finished session of the same (host, address) within
 * the window, by waiting for one in flight, or by a session of its own
 * (at once, or queued under the address's caps).  host and dane (the
 * host's TLSA RRset when DANE applies, else NULL) are borrowed until fn
 * runs.  A session is shared only between requesters that agree on
 * whether DANE applies.  On an error (MXS_ENOMEM, MXS_ELIMIT) fn is never
 * called and a is untouched; otherwise fn runs exactly once.
 */
int mxs_share_request(struct mxs_share *t, struct mxs_addr *a, const char *host,
                      const struct mxs_dane_rrset *dane, mxs_share_fn fn, void *arg) MXS_WUR;

/* The session of job is over (job->a is filled); job is freed here. */
void mxs_share_finished(struct mxs_share_job *job);

/* The armed wake-up fired: start what the caps now allow, re-arm. */
void mxs_share_wake(struct mxs_share *t);

struct mxs_share_stats {
	size_t entries;  /* in flight and finished */
	size_t slots;    /* address slots */
	size_t queued;   /* jobs waiting under a cap */
	uint64_t shared; /* requests served by a copy (at once or after waiting) */
	uint64_t started;
};
void mxs_share_stats(const struct mxs_share *t, struct mxs_share_stats *st);

/*
 * Copy the session part of src (everything but address and family) into
 * dst, deep-copying the owned arrays, and set dst->shared = 1.  dst's own
 * arrays are released on success; on MXS_ENOMEM dst is unchanged.
 */
int mxs_share_copy_addr(struct mxs_addr *dst, const struct mxs_addr *src) MXS_WUR;

#endif
