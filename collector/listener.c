/* listener — the agent port (see listener.h). */
#include "listener.h"
#include "ident.h"
#include "ingest.h"
#include "mxs_clock.h"
#include "mxs_log.h"
#include "wire.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>
#include <openssl/rand.h>
#include <openssl/x509_vfy.h>

/* Rows stored per transaction at most (~9 KB each); larger batches are
 * stored in several chunks. */
#define BATCH_ROWS_MAX   2048
#define EXPIRE_PERIOD_MS (3600 * 1000)

/* What the collector knows of one connection (nng pipe). */
struct peer {
	uint32_t pipe;
	int has_challenge, accepted;
	uint8_t challenge[MXS_IDENT_CHALLENGE_LEN];
	char name[MXS_IDENT_NAME_MAX + 1];
	char region[MXS_IDENT_NAME_MAX + 1];
	char addr[MXS_STORE_ADDR_MAX + 8];
};

struct mxs_listener {
	const struct mxs_collector_config *cfg;
	struct mxs_store *st;
	struct mxs_metrics *m;
	nng_socket rep;
	nng_listener lst;
	X509_STORE *trust; /* CA + CRL for the Hello proof */
	char url[256];
	/* Peers, indexed by pipe; pipe callbacks run on nng's threads. */
	pthread_mutex_t mu;
	struct peer *peers;
	size_t npeers, cap;
	struct mxs_store_obs *rows; /* BATCH_ROWS_MAX, reused for every batch */
	int64_t next_expire_ms;
};

/* ---- peers ---------------------------------------------------------- */

/* Caller holds mu.  The peer of pipe, created if create; NULL if absent. */
static struct peer *
peer_find(struct mxs_listener *l, uint32_t pipe, int create)
{
	struct peer *p;

	for (size_t i = 0; i < l->npeers; i++)
		if (l->peers[i].pipe == pipe)
			return &l->peers[i];
	if (!create)
		return NULL;
	if (l->npeers == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		if ((p = realloc(l->peers, cap * sizeof(*p))) == NULL)
			return NULL;
		l->peers = p;
		l->cap = cap;
	}
	p = &l->peers[l->npeers++];
	memset(p, 0, sizeof(*p));
	p->pipe = pipe;
	return p;
}

static void
on_pipe(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct mxs_listener *l = arg;
	struct peer *p;
	nng_sockaddr sa;
	char a[64] = "";

	pthread_mutex_lock(&l->mu);
	if (ev == NNG_PIPE_EV_ADD_POST) {
		if (nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &sa) == 0) {
			if (sa.s_family == NNG_AF_INET) {
				const uint8_t *b = (const uint8_t *)&sa.s_in.sa_addr;
				snprintf(a, sizeof(a), "%u.%u.%u.%u:%u", b[0], b[1], b[2], b[3],
				         (unsigned)ntohs(sa.s_in.sa_port));
			} else if (sa.s_family == NNG_AF_INET6) {
				char t[48];
				inet_ntop(AF_INET6, sa.s_in6.sa_addr, t, sizeof(t));
				snprintf(a, sizeof(a), "[%s]:%u", t,
				         (unsigned)ntohs(sa.s_in6.sa_port));
			}
		}
		if ((p = peer_find(l, nng_pipe_id(pipe), 1)) != NULL)
			snprintf(p->addr, sizeof(p->addr), "%.53s", a);
		mxs_debug("msg=\"agent connected\" pipe=%u peer=%s", nng_pipe_id(pipe), a);
	} else if (ev == NNG_PIPE_EV_REM_POST && (p = peer_find(l, nng_pipe_id(pipe), 0)) != NULL) {
		if (p->accepted)
			mxs_info("msg=\"agent disconnected\" agent=%s region=%s peer=%s", p->name,
			         p->region, p->addr);
		*p = l->peers[--l->npeers];
	}
	pthread_mutex_unlock(&l->mu);
}

/* A copy of the peer of pipe (so no lock is held while serving it). */
static int
peer_get(struct mxs_listener *l, uint32_t pipe, struct peer *out)
{
	struct peer *p;

	pthread_mutex_lock(&l->mu);
	if ((p = peer_find(l, pipe, 1)) != NULL)
		*out = *p;
	pthread_mutex_unlock(&l->mu);
	return p != NULL ? 0 : MXS_ENOMEM;
}

static void
peer_put(struct mxs_listener *l, const struct peer *in)
{
	struct peer *p;

	pthread_mutex_lock(&l->mu);
	/* Absent when the pipe closed meanwhile: then nothing to keep. */
	if ((p = peer_find(l, in->pipe, 0)) != NULL)
		*p = *in;
	pthread_mutex_unlock(&l->mu);
}

/* ---- requests ------------------------------------------------------- */

struct reply {
	Mxs__Envelope env;
	Mxs__ErrorCode err; /* != UNSPECIFIED: answer with an Error instead */
	char errtext[MXS_WIRE_ERRTEXT_MAX];
	/* Bodies, any of which env may point to. */
	Mxs__HelloReply hr;
	Mxs__JobList jl;
	Mxs__Ack ack;
	Mxs__Job *jobs;
	Mxs__Job **jobp;
	struct mxs_store_domain *doms;
};

static void
refuse(struct reply *r, Mxs__ErrorCode code, const char *text)
{
	r->err = code;
	snprintf(r->errtext, sizeof(r->errtext), "%s", text);
}

static void
serve_hello(struct mxs_listener *l, struct peer *p, const Mxs__Hello *h, struct reply *r)
{
	struct mxs_store_agent a = {0};
	char why[256];
	int ok;

	mxs__hello_reply__init(&r->hr);
	r->env.body_case = MXS__ENVELOPE__BODY_HELLO_REPLY;
	r->env.hello_reply = &r->hr;
	r->hr.has_accepted = 1;
	if (!h->has_cert_der || !h->has_signature || !p->has_challenge) {
		/* First step: hand out a challenge to sign. */
		if (RAND_bytes(p->challenge, sizeof(p->challenge)) != 1) {
			refuse(r, MXS__ERROR_CODE__ERROR_INTERNAL, "no randomness");
			return;
		}
		p->has_challenge = 1;
		p->accepted = 0;
		r->hr.accepted = 0;
		r->hr.reason = (char *)"proof of identity required: sign the challenge";
		r->hr.has_challenge = 1;
		r->hr.challenge.data = p->challenge;
		r->hr.challenge.len = sizeof(p->challenge);
		return;
	}
	ok = h->agent_name != NULL && h->region != NULL &&
	     mxs_ident_verify(l->trust, h->cert_der.data, h->cert_der.len, p->challenge,
	                      sizeof(p->challenge), h->agent_name, h->region, h->signature.data,
	                      h->signature.len, why, sizeof(why)) == 0;
	p->has_challenge = 0; /* one proof per challenge */
	if (!ok) {
		if (h->agent_name == NULL || h->region == NULL)
			snprintf(why, sizeof(why), "%s", "hello without agent name or region");
		atomic_fetch_add_explicit(&l->m->hello_refused, 1, memory_order_relaxed);
		mxs_warn("msg=\"agent refused\" peer=%s reason=\"%s\"", p->addr, why);
		r->hr.accepted = 0;
		snprintf(r->errtext, sizeof(r->errtext), "%s", why);
		r->hr.reason = r->errtext;
		return;
	}
	snprintf(p->name, sizeof(p->name), "%s", h->agent_name);
	snprintf(p->region, sizeof(p->region), "%s", h->region);
	snprintf(a.name, sizeof(a.name), "%s", p->name);
	snprintf(a.region, sizeof(a.region), "%s", p->region);
	snprintf(a.version, sizeof(a.version), "%.31s", h->version != NULL ? h->version : "");
	snprintf(a.address, sizeof(a.address), "%s", p->addr);
	if (mxs_store_agent_hello(l->st, &a, mxs_wall_ms(), why, sizeof(why)) != 0) {
		atomic_fetch_add_explicit(&l->m->store_errors, 1, memory_order_relaxed);
		mxs_err("msg=\"cannot record agent\" agent=%s reason=\"%s\"", p->name, why);
		refuse(r, MXS__ERROR_CODE__ERROR_INTERNAL, "store unavailable, retry");
		return;
	}
	p->accepted = 1;
	atomic_fetch_add_explicit(&l->m->hello_ok, 1, memory_order_relaxed);
	mxs_info("msg=\"agent accepted\" agent=%s region=%s version=%s peer=%s", p->name, p->region,
	         a.version, p->addr);
	r->hr.accepted = 1;
	r->hr.has_heartbeat_s = 1;
	r->hr.heartbeat_s = (uint32_t)l->cfg->heartbeat_s;
}

static void
serve_jobs(struct mxs_listener *l, const Mxs__JobRequest *jr, struct reply *r)
{
	char why[256];
	size_t n = 0, total;
	uint64_t ver;

	atomic_fetch_add_explicit(&l->m->job_requests, 1, memory_order_relaxed);
	if (mxs_store_domain_list(l->st, NULL, 0, &total, &ver, why, sizeof(why)) != 0)
		goto fail;
	mxs__job_list__init(&r->jl);
	r->env.body_case = MXS__ENVELOPE__BODY_JOB_LIST;
	r->env.job_list = &r->jl;
	r->jl.has_list_version = 1;
	r->jl.list_version = ver;
	r->jl.has_unchanged = 1;
	if (jr->has_have_list_version && jr->have_list_version == ver) {
		r->jl.unchanged = 1;
		return;
	}
	if (total > 0 && ((r->doms = calloc(total, sizeof(*r->doms))) == NULL ||
	                  (r->jobs = calloc(total, sizeof(*r->jobs))) == NULL ||
	                  (r->jobp = calloc(total, sizeof(*r->jobp))) == NULL)) {
		snprintf(why, sizeof(why), "%s", "out of memory");
		goto fail;
	}
	if (total > 0 &&
	    mxs_store_domain_list(l->st, r->doms, total, &n, &ver, why, sizeof(why)) != 0)
		goto fail;
	r->jl.list_version = ver;
	for (size_t i = 0; i < n && i < total; i++) {
		mxs__job__init(&r->jobs[i]);
		r->jobs[i].domain = r->doms[i].domain;
		r->jobs[i].has_interval_s = 1;
		r->jobs[i].interval_s = r->doms[i].interval_s;
		r->jobp[i] = &r->jobs[i];
	}
	r->jl.jobs = r->jobp;
	r->jl.n_jobs = n < total ? n : total;
	return;
fail:
	atomic_fetch_add_explicit(&l->m->store_errors, 1, memory_order_relaxed);
	mxs_err("msg=\"cannot read the job list\" reason=\"%s\"", why);
	refuse(r, MXS__ERROR_CODE__ERROR_INTERNAL, "store unavailable, retry");
}

/* Store rows[0..nrows) of nres results; counts into stored/dups. */
static int
flush_rows(struct mxs_listener *l, const struct peer *p, size_t nrows, size_t nres,
           uint32_t *stored, uint32_t *dups, size_t *rows_new)
{
	char why[256];
	size_t nnew = 0;

	if (nrows == 0)
		return 0;
	if (mxs_store_put_batch(l->st, l->rows, nrows, &nnew, why, sizeof(why)) != 0) {
		atomic_fetch_add_explicit(&l->m->store_errors, 1, memory_order_relaxed);
		mxs_err("msg=\"cannot store batch\" agent=%s reason=\"%s\"", p->name, why);
		return MXS_ESYS;
	}
	/* Stored whole or not at all, and agents re-send whole batches: a
	 * chunk is new or a duplicate as a whole. */
	if (nnew == 0) {
		*dups += (uint32_t)nres;
		return 0;
	}
	*stored += (uint32_t)nres;
	*rows_new += nnew;
	for (size_t i = 0; i < nrows; i++)
		for (int c = 0; c < MXS_STORE_NCHECKS; c++)
			mxs_metrics_obs(l->m, (enum mxs_store_check)c, l->rows[i].v[c].status);
	return 0;
}

/*
 * Rows are stored in chunks of at most BATCH_ROWS_MAX, each result whole in
 * one chunk (the store's idempotence is per result).  If a later chunk
 * fails, the agent re-sends the batch and the stored chunks count as
 * duplicates: nothing is stored twice.
 */
static void
serve_batch(struct mxs_listener *l, const struct peer *p, const Mxs__ResultBatch *b,
            struct reply *r, double t0)
{
	char why[256];
	size_t nrows = 0, nres = 0, refused = 0, rows_new = 0;
	uint32_t stored = 0, dups = 0;
	int rc;

	for (size_t i = 0; i < b->n_results; i++) {
		rc = mxs_ingest_result(b->results[i], p->region, l->rows, BATCH_ROWS_MAX, &nrows,
		                       why, sizeof(why));
		if (rc == MXS_ELIMIT) {
			if (flush_rows(l, p, nrows, nres, &stored, &dups, &rows_new) != 0)
				goto fail;
			nrows = nres = 0;
			rc = mxs_ingest_result(b->results[i], p->region, l->rows, BATCH_ROWS_MAX,
			                       &nrows, why, sizeof(why));
		}
		if (rc == 0)
			nres++;
		else {
			refused++;
			mxs_warn("msg=\"result refused\" agent=%s reason=\"%s\"", p->name, why);
		}
	}
	if (flush_rows(l, p, nrows, nres, &stored, &dups, &rows_new) != 0)
		goto fail;
	mxs__ack__init(&r->ack);
	r->env.body_case = MXS__ENVELOPE__BODY_ACK;
	r->env.ack = &r->ack;
	r->ack.has_batch_seq = 1;
	r->ack.batch_seq = b->has_batch_seq ? b->batch_seq : 0;
	r->ack.has_stored = r->ack.has_duplicates = 1;
	r->ack.stored = stored;
	r->ack.duplicates = dups;
	atomic_fetch_add_explicit(&l->m->batches, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->m->results_stored, stored, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->m->results_duplicate, dups, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->m->results_refused, refused, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->m->rows_stored, rows_new, memory_order_relaxed);
	mxs_metrics_batch_latency(l->m, (double)mxs_now_ms() - t0);
	mxs_debug("msg=\"batch stored\" agent=%s seq=%llu results=%zu new=%u dup=%u refused=%zu",
	          p->name, (unsigned long long)r->ack.batch_seq, b->n_results, stored, dups,
	          refused);
	return;
fail:
	refuse(r, MXS__ERROR_CODE__ERROR_INTERNAL, "store unavailable, retry");
}

static const char *
egress_name(const Mxs__Heartbeat *h)
{
	if (!h->has_egress)
		return "unknown";
	switch (h->egress) {
	case MXS__EGRESS_STATE__EGRESS_OK:
		return "ok";
	case MXS__EGRESS_STATE__EGRESS_BLOCKED:
		return "blocked";
	case MXS__EGRESS_STATE__EGRESS_DEGRADED:
		return "degraded";
	default:
		return "unknown";
	}
}

static void
serve_heartbeat(struct mxs_listener *l, const struct peer *p, const Mxs__Heartbeat *h,
                struct reply *r)
{
	struct mxs_store_agent a = {0};
	char why[256];
	size_t i;

	atomic_fetch_add_explicit(&l->m->heartbeats, 1, memory_order_relaxed);
	snprintf(a.name, sizeof(a.name), "%s", p->name);
	snprintf(a.region, sizeof(a.region), "%s", p->region);
	snprintf(a.egress, sizeof(a.egress), "%s", egress_name(h));
	for (i = 0; h->egress_detail != NULL && h->egress_detail[i] != '\0' &&
	            i + 1 < sizeof(a.egress_detail);
	     i++)
		a.egress_detail[i] =
		        (unsigned char)h->egress_detail[i] < 0x20 ? '?' : h->egress_detail[i];
	a.spool_depth = h->spool_depth;
	a.spool_bytes = h->spool_bytes;
	a.spool_dropped = h->spool_dropped;
	a.probes_run = h->probes_run;
	a.probes_failed = h->probes_failed;
	a.cycles = h->cycles;
	a.uptime_s = h->uptime_s;
	a.last_cycle_ms = h->last_cycle_ms;
	if (mxs_store_agent_heartbeat(l->st, &a, mxs_wall_ms(), why, sizeof(why)) != 0) {
		atomic_fetch_add_explicit(&l->m->store_errors, 1, memory_order_relaxed);
		mxs_err("msg=\"cannot record heartbeat\" agent=%s reason=\"%s\"", p->name, why);
		refuse(r, MXS__ERROR_CODE__ERROR_INTERNAL, "store unavailable, retry");
		return;
	}
	mxs__ack__init(&r->ack);
	r->env.body_case = MXS__ENVELOPE__BODY_ACK;
	r->env.ack = &r->ack;
	r->ack.has_batch_seq = 1;
}

/* Answer one request: always exactly one reply (REP requires it). */
static void
serve(struct mxs_listener *l, nng_msg *msg)
{
	Mxs__Envelope *req = NULL;
	Mxs__ErrorCode why = MXS__ERROR_CODE__ERROR_UNSPECIFIED;
	struct reply r;
	struct peer p;
	char err[256];
	uint8_t *out = NULL;
	size_t outlen = 0;
	uint32_t pipe = nng_pipe_id(nng_msg_get_pipe(msg));
	double t0 = (double)mxs_now_ms();

	memset(&r, 0, sizeof(r));
	mxs__envelope__init(&r.env);
	atomic_fetch_add_explicit(&l->m->msgs, 1, memory_order_relaxed);
	if (mxs_wire_unpack(nng_msg_body(msg), nng_msg_len(msg), (size_t)l->cfg->recv_max_bytes,
	                    &req, &why, err, sizeof(err)) != 0) {
		atomic_fetch_add_explicit(&l->m->msgs_garbage, 1, memory_order_relaxed);
		mxs_warn("msg=\"malformed message\" pipe=%u reason=\"%s\"", pipe, err);
		refuse(&r, why, err);
	} else if (peer_get(l, pipe, &p) != 0) {
		refuse(&r, MXS__ERROR_CODE__ERROR_INTERNAL, "out of memory");
	} else if (req->body_case == MXS__ENVELOPE__BODY_HELLO) {
		serve_hello(l, &p, req->hello, &r);
		peer_put(l, &p);
	} else if (req->body_case != MXS__ENVELOPE__BODY_JOB_REQUEST &&
	           req->body_case != MXS__ENVELOPE__BODY_RESULT_BATCH &&
	           req->body_case != MXS__ENVELOPE__BODY_HEARTBEAT) {
		atomic_fetch_add_explicit(&l->m->msgs_garbage, 1, memory_order_relaxed);
		snprintf(err, sizeof(err), "%s is not a request",
		         mxs_wire_body_name(req->body_case));
		refuse(&r, MXS__ERROR_CODE__ERROR_BAD_REQUEST, err);
	} else if (!p.accepted) {
		atomic_fetch_add_explicit(&l->m->not_registered, 1, memory_order_relaxed);
		refuse(&r, MXS__ERROR_CODE__ERROR_NOT_REGISTERED, "say hello first");
	} else if (req->body_case == MXS__ENVELOPE__BODY_JOB_REQUEST) {
		serve_jobs(l, req->job_request, &r);
	} else if (req->body_case == MXS__ENVELOPE__BODY_RESULT_BATCH) {
		serve_batch(l, &p, req->result_batch, &r, t0);
	} else {
		serve_heartbeat(l, &p, req->heartbeat, &r);
	}
	r.env.has_version = 1;
	r.env.version = MXS_WIRE_VERSION;
	r.env.has_seq = req != NULL && req->has_seq;
	r.env.seq = req != NULL ? req->seq : 0;
	if (r.err != MXS__ERROR_CODE__ERROR_UNSPECIFIED ||
	    mxs_wire_pack(&r.env, MXS_WIRE_MSG_MAX, &out, &outlen, err, sizeof(err)) != 0) {
		free(out);
		out = NULL;
		if (r.err == MXS__ERROR_CODE__ERROR_UNSPECIFIED) {
			r.err = MXS__ERROR_CODE__ERROR_INTERNAL;
			snprintf(r.errtext, sizeof(r.errtext), "cannot encode the reply: %.200s",
			         err);
		}
		if (mxs_wire_error_reply(r.env.seq, r.err, r.errtext, &out, &outlen) != 0)
			out = NULL;
	}
	nng_msg_clear(msg);
	if (out != NULL && nng_msg_append(msg, out, outlen) == 0 &&
	    nng_sendmsg(l->rep, msg, 0) == 0)
		msg = NULL;
	nng_msg_free(msg); /* NULL-safe in nng: no-op */
	free(out);
	free(r.jobs);
	free(r.jobp);
	free(r.doms);
	mxs_wire_free(&req);
}

/* ---- set-up and loop ------------------------------------------------ */

static uint64_t
stat_of(nng_stat *root, const char *name)
{
	nng_stat *s = nng_stat_find(root, name);

	return s != NULL ? nng_stat_value(s) : 0;
}

/* Copy the listener's connection counters into the metrics. */
static void
listener_stats(struct mxs_listener *l)
{
	nng_stat *all, *ls;

	if (nng_stats_get(&all) != 0)
		return;
	if ((ls = nng_stat_find_listener(all, l->lst)) != NULL) {
		atomic_store_explicit(&l->m->conn_accepted, stat_of(ls, "accept"),
		                      memory_order_relaxed);
		atomic_store_explicit(&l->m->conn_auth_errors, stat_of(ls, "auth"),
		                      memory_order_relaxed);
		atomic_store_explicit(&l->m->conn_proto_errors, stat_of(ls, "proto"),
		                      memory_order_relaxed);
		atomic_store_explicit(&l->m->conn_other_errors, stat_of(ls, "other"),
		                      memory_order_relaxed);
	}
	nng_stats_free(all);
}

static int
is_loopback_tcp(const char *url)
{
	return strncmp(url, "tcp://127.0.0.1:", 16) == 0 || strncmp(url, "tcp://[::1]:", 12) == 0;
}

static int
tls_config(const struct mxs_collector_config *cfg, nng_tls_config **out, char *errstr,
           size_t errlen)
{
	nng_tls_config *c;
	int rv;

	if ((rv = nng_tls_config_alloc(&c, NNG_TLS_MODE_SERVER)) != 0)
		return mxs_seterr(errstr, errlen, MXS_ETLS, "tls config: %s", nng_strerror(rv));
	if ((rv = nng_tls_config_cert_key_file(c, cfg->cert_key_file, NULL)) != 0) {
		nng_tls_config_free(c);
		return mxs_seterr(errstr, errlen, MXS_ETLS, "%s: %s", cfg->cert_key_file,
		                  nng_strerror(rv));
	}
	if ((rv = nng_tls_config_ca_file(c, cfg->ca_file)) != 0) {
		nng_tls_config_free(c);
		return mxs_seterr(errstr, errlen, MXS_ETLS, "%s: %s", cfg->ca_file,
		                  nng_strerror(rv));
	}
	if ((rv = nng_tls_config_auth_mode(c, NNG_TLS_AUTH_MODE_REQUIRED)) != 0) {
		nng_tls_config_free(c);
		return mxs_seterr(errstr, errlen, MXS_ETLS, "tls auth mode: %s", nng_strerror(rv));
	}
	*out = c;
	return MXS_OK;
}

/* The CA and CRL for checking Hello proofs, from the same file nng reads. */
static int
trust_store(const char *file, X509_STORE **out, char *errstr, size_t errlen)
{
	X509_STORE *s = X509_STORE_new();
	STACK_OF(X509_OBJECT) *objs;
	int crl = 0;

	if (s == NULL || X509_STORE_load_file(s, file) != 1) {
		X509_STORE_free(s);
		return mxs_seterr(errstr, errlen, MXS_ETLS, "%s: cannot load CA", file);
	}
	objs = X509_STORE_get0_objects(s);
	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++)
		if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objs, i)) == X509_LU_CRL)
			crl = 1;
	if (crl)
		X509_STORE_set_flags(s, X509_V_FLAG_CRL_CHECK);
	*out = s;
	return MXS_OK;
}

int
mxs_listener_open(const struct mxs_collector_config *cfg, struct mxs_store *st,
                  struct mxs_metrics *m, struct mxs_listener **out, char *errstr, size_t errlen)
{
	struct mxs_listener *l;
	nng_tls_config *tls = NULL;
	nng_sockaddr sa;
	int rv, rc = MXS_ESYS, plain = strncmp(cfg->listen, "tcp://", 6) == 0;

	*out = NULL;
	if (plain && !(cfg->allow_plain_loopback && is_loopback_tcp(cfg->listen)))
		return mxs_seterr(errstr, errlen, MXS_ECONFIG,
		                  "listen %s: plain tcp:// needs allow_plain_loopback and a "
		                  "loopback address",
		                  cfg->listen);
	if (!plain && strncmp(cfg->listen, "tls+tcp://", 10) != 0)
		return mxs_seterr(errstr, errlen, MXS_ECONFIG, "listen %s: use tls+tcp://ADDR:PORT",
		                  cfg->listen);
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->rows = calloc(BATCH_ROWS_MAX, sizeof(*l->rows))) == NULL) {
		if (l != NULL)
			free(l);
		return mxs_seterr(errstr, errlen, MXS_ENOMEM, "out of memory");
	}
	l->cfg = cfg;
	l->st = st;
	l->m = m;
	pthread_mutex_init(&l->mu, NULL);
	if ((rc = trust_store(cfg->ca_file, &l->trust, errstr, errlen)) != 0)
		goto fail;
	if (!plain && (rc = tls_config(cfg, &tls, errstr, errlen)) != 0)
		goto fail;
	rc = MXS_ESYS;
	if ((rv = nng_rep0_open(&l->rep)) != 0 ||
	    (rv = nng_socket_set_ms(l->rep, NNG_OPT_RECVTIMEO, 1000)) != 0 ||
	    (rv = nng_socket_set_ms(l->rep, NNG_OPT_SENDTIMEO, 5000)) != 0 ||
	    (rv = nng_socket_set_size(l->rep, NNG_OPT_RECVMAXSZ, (size_t)cfg->recv_max_bytes)) !=
	            0 ||
	    (rv = nng_pipe_notify(l->rep, NNG_PIPE_EV_ADD_POST, on_pipe, l)) != 0 ||
	    (rv = nng_pipe_notify(l->rep, NNG_PIPE_EV_REM_POST, on_pipe, l)) != 0 ||
	    (rv = nng_listener_create(&l->lst, l->rep, cfg->listen)) != 0 ||
	    (tls != NULL && (rv = nng_listener_set_ptr(l->lst, NNG_OPT_TLS_CONFIG, tls)) != 0) ||
	    (rv = nng_listener_set_size(l->lst, NNG_OPT_RECVMAXSZ, (size_t)cfg->recv_max_bytes)) !=
	            0 ||
	    (rv = nng_listener_start(l->lst, 0)) != 0) {
		mxs_seterr(errstr, errlen, rc, "listen %s: %s", cfg->listen, nng_strerror(rv));
		goto fail;
	}
	snprintf(l->url, sizeof(l->url), "%s", cfg->listen);
	if (nng_listener_get_addr(l->lst, NNG_OPT_LOCADDR, &sa) == 0 &&
	    sa.s_family == NNG_AF_INET) {
		const uint8_t *b = (const uint8_t *)&sa.s_in.sa_addr;
		snprintf(l->url, sizeof(l->url), "%s://%u.%u.%u.%u:%u", plain ? "tcp" : "tls+tcp",
		         b[0], b[1], b[2], b[3], (unsigned)ntohs(sa.s_in.sa_port));
	}
	nng_tls_config_free(tls);
	l->next_expire_ms = mxs_wall_ms() + 60 * 1000;
	*out = l;
	return MXS_OK;
fail:
	nng_tls_config_free(tls);
	mxs_listener_close(&l);
	return rc;
}

const char *
mxs_listener_url(const struct mxs_listener *l)
{
	return l->url;
}

static void
retention(struct mxs_listener *l)
{
	char why[256];
	size_t n = 0;
	int64_t now = mxs_wall_ms();

	if (now < l->next_expire_ms)
		return;
	l->next_expire_ms = now + EXPIRE_PERIOD_MS;
	if (mxs_store_expire(l->st, now, (unsigned)l->cfg->retention_days, &n, why, sizeof(why)) !=
	    0)
		mxs_err("msg=\"retention failed\" deleted=%zu reason=\"%s\"", n, why);
	else if (n > 0)
		mxs_info("msg=\"retention\" deleted=%zu days=%lld", n, l->cfg->retention_days);
}

int
mxs_listener_run(struct mxs_listener *l, volatile sig_atomic_t *stop)
{
	nng_msg *msg;
	double last_stats = 0;
	int rv;

	while (!*stop) {
		if ((double)mxs_now_ms() - last_stats >= 1000) {
			listener_stats(l);
			last_stats = (double)mxs_now_ms();
		}
		rv = nng_recvmsg(l->rep, &msg, 0);
		if (rv == NNG_ETIMEDOUT) {
			retention(l);
			continue;
		}
		if (rv != 0) {
			if (rv == NNG_ECLOSED)
				break;
			mxs_warn("msg=\"receive failed\" reason=\"%s\"", nng_strerror(rv));
			continue;
		}
		serve(l, msg);
	}
	return MXS_OK;
}

void
mxs_listener_close(struct mxs_listener **lp)
{
	struct mxs_listener *l = *lp;

	if (l == NULL)
		return;
	nng_close(l->rep); /* ignores an unopened (zero) socket */
	X509_STORE_free(l->trust);
	pthread_mutex_destroy(&l->mu);
	free(l->peers);
	free(l->rows);
	free(l);
	*lp = NULL;
}
