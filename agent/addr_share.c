/*
 * addr_share — session sharing and per-address caps (see addr_share.h).
 *
 * Invariants:
 *  - an entry is in flight while e->owner != NULL; its waiters are the
 *    requesters that joined it; a finished entry has e->result (a private
 *    copy) and sits on the done list, which is in finishing order, so
 *    expiry and eviction both take from its head;
 *  - a slot is on the waiting list while its queue is not empty, and on
 *    the idle list while it has neither queue nor running session; an idle
 *    slot is kept for interval_ms (it remembers the last start) and then
 *    freed.  A slot with a queue or a session is never freed, which keeps
 *    the waiting-list walk in mxs_share_wake safe from callbacks;
 *  - mxs_share_finished never starts a job itself (a start may finish
 *    synchronously, and that would recurse): it arms the wake-up instead;
 *  - callbacks run last, after every table change, because a callback may
 *    call mxs_share_request again.
 */
#include "addr_share.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 16384 /* per table; chains stay short up to the limits */

struct share_waiter {
	struct mxs_addr *a;
	mxs_share_fn fn;
	void *arg;
	struct share_waiter *next;
};

struct mxs_share_entry {
	char host[256];
	char address[46];
	int has_dane;
	int done;                              /* finished: on the done list */
	struct mxs_share_entry *hnext;         /* bucket chain */
	struct mxs_share_job *owner;           /* in flight; NULL once finished */
	struct share_waiter *waiters;          /* in flight */
	struct mxs_addr *result;               /* finished: owned copy */
	uint64_t done_ms;                      /* finished */
	struct mxs_share_entry *dprev, *dnext; /* done list */
};

struct mxs_share_slot {
	char address[46];
	struct mxs_share_slot *hnext;
	long long active;
	int ever_started;
	uint64_t last_start;
	struct mxs_share_job *qhead, *qtail;
	size_t qlen;
	int waiting, idle;
	uint64_t idle_since;
	struct mxs_share_slot *wprev, *wnext; /* waiting list */
	struct mxs_share_slot *iprev, *inext; /* idle list */
};

struct mxs_share {
	struct mxs_share_limits lim;
	struct mxs_share_ops ops;
	struct mxs_share_entry *ebucket[BUCKETS];
	struct mxs_share_slot *sbucket[BUCKETS];
	size_t nentries, nslots, nqueued;
	struct mxs_share_entry *dhead, *dtail;
	struct mxs_share_slot *whead, *wtail;
	struct mxs_share_slot *ihead, *itail;
	uint64_t armed_at; /* absolute due time of the pending wake-up; 0: none */
	int pumping;       /* in mxs_share_wake's walk: idle slots are not freed */
	uint64_t nshared, nstarted;
};

/* Intrusive doubly linked lists: unlink and append by member names. */
#define LIST_APPEND(head, tail, x, prev, next)                                                     \
	do {                                                                                       \
		(x)->prev = (tail);                                                                \
		(x)->next = NULL;                                                                  \
		if ((tail) != NULL)                                                                \
			(tail)->next = (x);                                                        \
		else                                                                               \
			(head) = (x);                                                              \
		(tail) = (x);                                                                      \
	} while (0)
#define LIST_UNLINK(head, tail, x, prev, next)                                                     \
	do {                                                                                       \
		if ((x)->prev != NULL)                                                             \
			(x)->prev->next = (x)->next;                                               \
		else                                                                               \
			(head) = (x)->next;                                                        \
		if ((x)->next != NULL)                                                             \
			(x)->next->prev = (x)->prev;                                               \
		else                                                                               \
			(tail) = (x)->prev;                                                        \
		(x)->prev = (x)->next = NULL;                                                      \
	} while (0)

/* FNV-1a over the key parts, each with its terminating NUL. */
static size_t
hash_key(const char *host, const char *address)
{
	uint32_t h = 2166136261u;

	for (const char *p = host; p != NULL; p = p == host ? address : NULL) {
		for (const unsigned char *c = (const unsigned char *)p;; c++) {
			h = (h ^ *c) * 16777619u;
			if (*c == '\0')
				break;
		}
	}
	return h % BUCKETS;
}

/* ---- copies ------------------------------------------------------------ */

static void
strv_release(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int
strv_dup(char *const *src, size_t n, char ***out)
{
	char **v = NULL;

	*out = NULL;
	if (n == 0)
		return 0;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return MXS_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if ((v[i] = strdup(src[i])) == NULL) {
			strv_release(v, i);
			return MXS_ENOMEM;
		}
	}
	*out = v;
	return 0;
}

/*
 * Every field of struct mxs_addr is a value except caps and
 * leaf_dns_names: a new owned pointer in mxs_addr must be deep-copied here
 * too, or two results would free it twice.
 */
int
mxs_share_copy_addr(struct mxs_addr *dst, const struct mxs_addr *src)
{
	char address[sizeof(dst->address)];
	char **caps, **names;
	int family = dst->family;

	if (strv_dup(src->caps, src->ncaps, &caps) != 0)
		return MXS_ENOMEM;
	if (strv_dup(src->leaf_dns_names, src->nleaf_dns_names, &names) != 0) {
		strv_release(caps, src->ncaps);
		return MXS_ENOMEM;
	}
	memcpy(address, dst->address, sizeof(address));
	strv_release(dst->caps, dst->ncaps);
	strv_release(dst->leaf_dns_names, dst->nleaf_dns_names);
	*dst = *src;
	memcpy(dst->address, address, sizeof(address));
	dst->family = family;
	dst->caps = caps;
	dst->leaf_dns_names = names;
	dst->shared = 1;
	return 0;
}

static void
addr_free(struct mxs_addr **ap)
{
	struct mxs_addr *a = *ap;

	if (a == NULL)
		return;
	strv_release(a->caps, a->ncaps);
	strv_release(a->leaf_dns_names, a->nleaf_dns_names);
	free(a);
	*ap = NULL;
}

/* A finding worth handing to later domains: not temporary, and connected
 * or refused (not a session that never ran for a local reason). */
static int
sharable(const struct mxs_addr *a)
{
	return a->connect.status != MXS_ST_TEMPORARY && a->connect.status != MXS_ST_NOT_TESTED &&
	       a->smtp.status != MXS_ST_TEMPORARY && a->tls.status != MXS_ST_TEMPORARY;
}

/* ---- entries ----------------------------------------------------------- */

static struct mxs_share_entry *
entry_find(struct mxs_share *t, const char *host, const char *address)
{
	struct mxs_share_entry *e = t->ebucket[hash_key(host, address)];

	for (; e != NULL; e = e->hnext)
		if (strcmp(e->host, host) == 0 && strcmp(e->address, address) == 0)
			return e;
	return NULL;
}

static void
entry_free(struct mxs_share *t, struct mxs_share_entry *e)
{
	struct mxs_share_entry **pp = &t->ebucket[hash_key(e->host, e->address)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->done)
		LIST_UNLINK(t->dhead, t->dtail, e, dprev, dnext);
	addr_free(&e->result);
	free(e);
	t->nentries--;
}

/* An in-flight entry for (host, address); NULL when it cannot be had. */
static struct mxs_share_entry *
entry_new(struct mxs_share *t, const char *host, const char *address, int has_dane)
{
	struct mxs_share_entry *e;
	size_t b, i;

	if (t->nentries >= MXS_SHARE_ENTRIES_MAX && t->dhead != NULL)
		entry_free(t, t->dhead); /* the oldest finished one */
	if (t->nentries >= MXS_SHARE_ENTRIES_MAX || (e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	for (i = 0; i + 1 < sizeof(e->host) && host[i] != '\0'; i++)
		e->host[i] = (char)tolower((unsigned char)host[i]);
	snprintf(e->address, sizeof(e->address), "%s", address);
	e->has_dane = has_dane;
	b = hash_key(e->host, e->address);
	e->hnext = t->ebucket[b];
	t->ebucket[b] = e;
	t->nentries++;
	return e;
}

/* ---- slots ------------------------------------------------------------- */

static struct mxs_share_slot *
slot_find(struct mxs_share *t, const char *address)
{
	struct mxs_share_slot *s = t->sbucket[hash_key("", address)];

	for (; s != NULL; s = s->hnext)
		if (strcmp(s->address, address) == 0)
			return s;
	return NULL;
}

static void
slot_free(struct mxs_share *t, struct mxs_share_slot *s)
{
	struct mxs_share_slot **pp = &t->sbucket[hash_key("", s->address)];

	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	if (s->idle)
		LIST_UNLINK(t->ihead, t->itail, s, iprev, inext);
	if (s->waiting)
		LIST_UNLINK(t->whead, t->wtail, s, wprev, wnext);
	free(s);
	t->nslots--;
}

static int
slot_get(struct mxs_share *t, const char *address, struct mxs_share_slot **out)
{
	struct mxs_share_slot *s;
	size_t b;

	if ((*out = slot_find(t, address)) != NULL)
		return 0;
	if (t->nslots >= MXS_SHARE_SLOTS_MAX)
		return MXS_ELIMIT;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return MXS_ENOMEM;
	snprintf(s->address, sizeof(s->address), "%s", address);
	b = hash_key("", s->address);
	s->hnext = t->sbucket[b];
	t->sbucket[b] = s;
	t->nslots++;
	*out = s;
	return 0;
}

/* Keep the idle and waiting lists in step with s's queue and sessions. */
static void
slot_update(struct mxs_share *t, struct mxs_share_slot *s, uint64_t now)
{
	int idle = s->active == 0 && s->qlen == 0;

	if (s->qlen > 0 && !s->waiting)
		LIST_APPEND(t->whead, t->wtail, s, wprev, wnext);
	else if (s->qlen == 0 && s->waiting)
		LIST_UNLINK(t->whead, t->wtail, s, wprev, wnext);
	s->waiting = s->qlen > 0;
	if (idle && !s->idle) {
		s->idle_since = now;
		LIST_APPEND(t->ihead, t->itail, s, iprev, inext);
	} else if (!idle && s->idle)
		LIST_UNLINK(t->ihead, t->itail, s, iprev, inext);
	s->idle = idle;
}

/* When s may start its next session: 0 now, UINT64_MAX when a session
 * must end first, else the absolute time. */
static uint64_t
slot_due(const struct mxs_share *t, const struct mxs_share_slot *s, uint64_t now)
{
	uint64_t at;

	if (s->active >= t->lim.sessions)
		return UINT64_MAX;
	if (!s->ever_started)
		return 0;
	at = s->last_start + (uint64_t)t->lim.interval_ms;
	return at <= now ? 0 : at;
}

/* Ask for a wake-up at the absolute time at, unless one comes earlier. */
static void
arm_at(struct mxs_share *t, uint64_t at, uint64_t now)
{
	if (at == UINT64_MAX || (t->armed_at != 0 && t->armed_at <= at))
		return;
	if (at < now)
		at = now;
	t->armed_at = at == 0 ? 1 : at;
	t->ops.arm(t->ops.ctx, at - now);
}

/* ---- expiry ------------------------------------------------------------ */

static void
purge(struct mxs_share *t, uint64_t now)
{
	uint64_t window = (uint64_t)t->lim.window_s * 1000;

	while (t->dhead != NULL && now - t->dhead->done_ms >= window)
		entry_free(t, t->dhead);
	while (!t->pumping && t->ihead != NULL &&
	       now - t->ihead->idle_since >= (uint64_t)t->lim.interval_ms)
		slot_free(t, t->ihead);
}

/* ---- sessions ---------------------------------------------------------- */

static void finish(struct mxs_share *t, struct mxs_share_job *job, uint64_t now);

/* Start job on its slot now (the caps were checked by the caller). */
static void
job_start(struct mxs_share *t, struct mxs_share_job *job, uint64_t now)
{
	struct mxs_share_slot *s = job->slot;

	s->active++;
	s->ever_started = 1;
	s->last_start = now;
	slot_update(t, s, now);
	t->nstarted++;
	if (t->ops.start(t->ops.ctx, job) != 0) {
		mxs_verdict_set(&job->a->connect, MXS_ST_NOT_TESTED, MXS_RT_NONE,
		                "could not start the session");
		finish(t, job, now);
	}
}

/* Deliver the owner's result to the entry's waiters and keep it if due. */
static struct share_waiter *
entry_settle(struct mxs_share *t, struct mxs_share_entry *e, const struct mxs_addr *a, uint64_t now)
{
	struct share_waiter *ws = e->waiters, *w;

	e->waiters = NULL;
	e->owner = NULL;
	for (w = ws; w != NULL; w = w->next) {
		if (mxs_share_copy_addr(w->a, a) != 0)
			mxs_verdict_set(&w->a->connect, MXS_ST_NOT_TESTED, MXS_RT_NONE,
			                "out of memory copying a shared session");
		else
			t->nshared++;
	}
	if (sharable(a) && (e->result = calloc(1, sizeof(*e->result))) != NULL) {
		memcpy(e->result->address, a->address, sizeof(a->address));
		e->result->family = a->family;
		if (mxs_share_copy_addr(e->result, a) == 0) {
			e->done = 1;
			e->done_ms = now;
			LIST_APPEND(t->dhead, t->dtail, e, dprev, dnext);
			return ws;
		}
	}
	entry_free(t, e); /* not kept: later domains start their own session */
	return ws;
}

static void
finish(struct mxs_share *t, struct mxs_share_job *job, uint64_t now)
{
	struct mxs_share_slot *s = job->slot;
	struct share_waiter *ws = NULL, *w;
	mxs_share_fn fn = job->fn;
	void *arg = job->arg;

	s->active--;
	slot_update(t, s, now);
	if (s->qlen > 0)
		arm_at(t, slot_due(t, s, now) == 0 ? now : slot_due(t, s, now), now);
	if (job->entry != NULL)
		ws = entry_settle(t, job->entry, job->a, now);
	free(job);
	fn(arg);
	while ((w = ws) != NULL) {
		ws = w->next;
		w->fn(w->arg);
		free(w);
	}
}

void
mxs_share_finished(struct mxs_share_job *job)
{
	struct mxs_share *t = job->t;

	finish(t, job, t->ops.now(t->ops.ctx));
}

/* Start what s's caps allow now; returns when it would have to wait. */
static void
slot_pump(struct mxs_share *t, struct mxs_share_slot *s, uint64_t now)
{
	struct mxs_share_job *job;

	while (s->qlen > 0 && slot_due(t, s, now) == 0) {
		job = s->qhead;
		s->qhead = job->next;
		if (s->qhead == NULL)
			s->qtail = NULL;
		s->qlen--;
		t->nqueued--;
		job->next = NULL;
		job_start(t, job, now);
	}
}

void
mxs_share_wake(struct mxs_share *t)
{
	uint64_t now = t->ops.now(t->ops.ctx), due, next = UINT64_MAX;
	struct mxs_share_slot *s, *snext;

	t->armed_at = 0;
	purge(t, now);
	/* A slot on the waiting list is never freed, nor one that just went
	 * idle while pumping is set, and a start's callbacks can only append
	 * to the list, so s and snext hold. */
	t->pumping = 1;
	for (s = t->whead; s != NULL; s = snext) {
		snext = s->wnext;
		slot_pump(t, s, now);
	}
	t->pumping = 0;
	for (s = t->whead; s != NULL; s = s->wnext)
		if ((due = slot_due(t, s, now)) < next)
			next = due;
	arm_at(t, next == 0 ? now : next, now);
}

/* ---- requests ---------------------------------------------------------- */

int
mxs_share_request(struct mxs_share *t, struct mxs_addr *a, const char *host,
                  const struct mxs_dane_rrset *dane, mxs_share_fn fn, void *arg)
{
	uint64_t now = t->ops.now(t->ops.ctx), due;
	struct mxs_share_entry *e = NULL;
	struct mxs_share_slot *s;
	struct mxs_share_job *job;
	struct share_waiter *w;
	char key[256];
	size_t i;
	int rc;

	purge(t, now);
	for (i = 0; i + 1 < sizeof(key) && host[i] != '\0'; i++)
		key[i] = (char)tolower((unsigned char)host[i]);
	key[i] = '\0';
	if (t->lim.window_s > 0 && (e = entry_find(t, key, a->address)) != NULL) {
		if (e->has_dane != (dane != NULL)) {
			e = NULL; /* DANE applies to one and not the other: no sharing */
		} else if (e->done) {
			if ((rc = mxs_share_copy_addr(a, e->result)) != 0)
				return rc;
			t->nshared++;
			fn(arg);
			return 0;
		} else {
			if ((w = calloc(1, sizeof(*w))) == NULL)
				return MXS_ENOMEM;
			w->a = a;
			w->fn = fn;
			w->arg = arg;
			w->next = e->waiters;
			e->waiters = w;
			return 0;
		}
	} else if (t->lim.window_s > 0)
		e = entry_new(t, key, a->address, dane != NULL); /* NULL: run unshared */
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		rc = MXS_ENOMEM;
		goto fail;
	}
	if ((rc = slot_get(t, a->address, &s)) != 0) {
		free(job);
		goto fail;
	}
	job->t = t;
	job->a = a;
	job->host = host;
	job->dane = dane;
	job->fn = fn;
	job->arg = arg;
	job->entry = e;
	job->slot = s;
	if (e != NULL)
		e->owner = job;
	if (s->qlen == 0 && slot_due(t, s, now) == 0) {
		job_start(t, job, now);
		return 0;
	}
	if (s->qtail != NULL)
		s->qtail->next = job;
	else
		s->qhead = job;
	s->qtail = job;
	s->qlen++;
	t->nqueued++;
	slot_update(t, s, now);
	if ((due = slot_due(t, s, now)) != UINT64_MAX)
		arm_at(t, due == 0 ? now : due, now);
	return 0;
fail:
	if (e != NULL)
		entry_free(t, e); /* the one made above, still without an owner */
	return rc;
}

/* ---- life cycle -------------------------------------------------------- */

int
mxs_share_new(const struct mxs_share_limits *lim, const struct mxs_share_ops *ops,
              struct mxs_share **out)
{
	struct mxs_share *t;

	*out = NULL;
	if (lim->sessions < 1 || lim->interval_ms < 0 || lim->window_s < 0 || ops->now == NULL ||
	    ops->start == NULL || ops->arm == NULL)
		return MXS_EINVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return MXS_ENOMEM;
	t->lim = *lim;
	t->ops = *ops;
	*out = t;
	return 0;
}

void
mxs_share_free(struct mxs_share **tp)
{
	struct mxs_share *t = *tp;
	struct mxs_share_job *job;
	struct share_waiter *w;

	if (t == NULL)
		return;
	for (size_t b = 0; b < BUCKETS; b++) {
		while (t->sbucket[b] != NULL) {
			while ((job = t->sbucket[b]->qhead) != NULL) {
				t->sbucket[b]->qhead = job->next;
				free(job);
			}
			slot_free(t, t->sbucket[b]);
		}
		while (t->ebucket[b] != NULL) {
			while ((w = t->ebucket[b]->waiters) != NULL) {
				t->ebucket[b]->waiters = w->next;
				free(w);
			}
			entry_free(t, t->ebucket[b]);
		}
	}
	free(t);
	*tp = NULL;
}

void
mxs_share_stats(const struct mxs_share *t, struct mxs_share_stats *st)
{
	st->entries = t->nentries;
	st->slots = t->nslots;
	st->queued = t->nqueued;
	st->shared = t->nshared;
	st->started = t->nstarted;
}
