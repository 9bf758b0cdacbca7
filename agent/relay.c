/* relay — collector link and spool (see relay.h). */
#include "relay.h"
#include "agent_metrics.h"
#include "frame.h"
#include "ident.h"
#include "mxs_clock.h"
#include "mxs_log.h"
#include "spool.h"
#include "wire.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define AGENT_VERSION "0.1.0"
/* Our own retry pace after a failed request; nng redials on its own (from
 * reconnect_ms up to RECONNMAXT), so this stays short. */
#define BACKOFF_MAX_MS 5000
#define REDIAL_MAX_MS  10000
#define PEM_MAX        (64 * 1024) /* certificate or key file */

/* One prober's counters, as its last FRAME_STATS said. */
struct pstats {
	int seen;
	uint64_t probes_run, probes_failed, cycles;
	uint32_t last_cycle_ms;
	int has_egress;
	Mxs__EgressState egress;
	char egress_detail[256];
};

struct mxs_relay {
	const struct mxs_agent_config *cfg;
	int fds[MXS_PROBERS_MAX]; /* one socket per prober */
	size_t nfd;
	nng_socket req;
	EVP_PKEY *key;
	uint8_t *cert_der;
	size_t cert_len;
	struct mxs_spool *sp;
	pthread_t intake;
	int intake_started;
	atomic_int prober_gone;
	uint64_t seq;
	uint64_t started_ms;
	/* Each prober's latest counters (FRAME_STATS), under mu. */
	pthread_mutex_t mu;
	struct pstats ps[MXS_PROBERS_MAX];
	/* Uplink state. */
	int registered;
	uint64_t list_version;
	unsigned heartbeat_s;
	uint64_t next_jobs_ms, next_hb_ms;
	unsigned backoff_ms;
	/* Counters since start, served on /metrics (metrics_listen) and
	 * logged at exit (tests compare the totals with the store). */
	struct mxs_agent_metrics m;
	struct mxs_agent_metrics_server *msrv;
};

/* Count n into counter field f of the relay's metrics. */
#define COUNT(r, f, n) atomic_fetch_add_explicit(&(r)->m.f, (uint64_t)(n), memory_order_relaxed)

static double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
set_registered(struct mxs_relay *r, int up)
{
	r->registered = up;
	atomic_store_explicit(&r->m.collector_up, up ? 1 : 0, memory_order_relaxed);
}

/* Worse egress first: blocked, degraded, ok, unknown. */
static int
egress_rank(const struct pstats *p)
{
	if (!p->has_egress)
		return 0;
	switch (p->egress) {
	case MXS__EGRESS_STATE__EGRESS_BLOCKED:
		return 3;
	case MXS__EGRESS_STATE__EGRESS_DEGRADED:
		return 2;
	case MXS__EGRESS_STATE__EGRESS_OK:
		return 1;
	default:
		return 0;
	}
}

/*
 * The agent's counters from its probers': runs and failures add up; a
 * cycle is done when every prober has done it (the fewest), and lasts as
 * long as the slowest; egress is the worst any prober saw.
 */
static void
stats_merge(struct mxs_relay *r, struct pstats *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->nfd; i++) {
		const struct pstats *p = &r->ps[i];
		if (!p->seen)
			continue;
		t->probes_run += p->probes_run;
		t->probes_failed += p->probes_failed;
		t->cycles = !t->seen || p->cycles < t->cycles ? p->cycles : t->cycles;
		t->last_cycle_ms =
		        p->last_cycle_ms > t->last_cycle_ms ? p->last_cycle_ms : t->last_cycle_ms;
		if (egress_rank(p) > egress_rank(t)) {
			t->has_egress = 1;
			t->egress = p->egress;
			memcpy(t->egress_detail, p->egress_detail, sizeof(t->egress_detail));
		}
		t->seen = 1;
	}
	pthread_mutex_unlock(&r->mu);
}

/* Levels for a scrape, on the metrics thread: the spool and the probers. */
static void
metrics_fill(struct mxs_agent_metrics *m, void *arg)
{
	struct mxs_relay *r = arg;
	struct mxs_spool_stats ss;

	mxs_spool_stats(r->sp, &ss);
	atomic_store_explicit(&m->spool_results, ss.results, memory_order_relaxed);
	atomic_store_explicit(&m->spool_bytes, ss.bytes, memory_order_relaxed);
	atomic_store_explicit(&m->spool_files, ss.files, memory_order_relaxed);
	atomic_store_explicit(&m->results_dropped, ss.dropped_results, memory_order_relaxed);
	atomic_store_explicit(&m->spool_corrupt_files, ss.corrupt_files, memory_order_relaxed);
	struct pstats t;

	stats_merge(r, &t);
	if (t.seen) {
		atomic_store_explicit(&m->probes_run, t.probes_run, memory_order_relaxed);
		atomic_store_explicit(&m->probes_failed, t.probes_failed, memory_order_relaxed);
		atomic_store_explicit(&m->cycles, t.cycles, memory_order_relaxed);
		atomic_store_explicit(&m->last_cycle_ms, t.last_cycle_ms, memory_order_relaxed);
		atomic_store_explicit(&m->egress, t.has_egress ? (int)t.egress : 0,
		                      memory_order_relaxed);
	}
}

static int
metrics_start(struct mxs_relay *r, char *errstr, size_t errlen)
{
	atomic_store_explicit(&r->m.started_unix_ms, mxs_wall_ms(), memory_order_relaxed);
	return mxs_agent_metrics_start(r->cfg->metrics_listen, &r->m, metrics_fill, r, &r->msrv,
	                               errstr, errlen);
}

/* ---- intake: prober -> spool --------------------------------------- */

struct pending {
	uint8_t **res;
	size_t *lens;
	size_t n;
	uint64_t first_ms;
};

static void
flush_pending(struct mxs_relay *r, struct pending *p)
{
	char err[256];
	uint64_t seq;
	int rc;

	if (p->n == 0)
		return;
	rc = mxs_spool_put(r->sp, (const uint8_t *const *)p->res, p->lens, p->n, &seq, err,
	                   sizeof(err));
	if (rc != 0)
		mxs_err("msg=\"results dropped: spool refused them\" results=%zu reason=\"%s\"",
		        p->n, err);
	else {
		COUNT(r, results_spooled, p->n);
		mxs_debug("msg=\"batch spooled\" seq=%llu results=%zu", (unsigned long long)seq,
		          p->n);
	}
	for (size_t i = 0; i < p->n; i++)
		free(p->res[i]);
	p->n = 0;
}

static void
take_stats(struct mxs_relay *r, size_t i, const uint8_t *buf, size_t len)
{
	Mxs__Heartbeat *hb = mxs__heartbeat__unpack(NULL, len, buf);
	struct pstats *p = &r->ps[i];

	if (hb == NULL) {
		mxs_warn("msg=\"malformed counters from the prober\"");
		return;
	}
	pthread_mutex_lock(&r->mu);
	p->seen = 1;
	p->probes_run = hb->probes_run;
	p->probes_failed = hb->probes_failed;
	p->cycles = hb->cycles;
	p->last_cycle_ms = hb->last_cycle_ms;
	p->has_egress = hb->has_egress;
	p->egress = hb->egress;
	snprintf(p->egress_detail, sizeof(p->egress_detail), "%s",
	         hb->egress_detail != NULL ? hb->egress_detail : "");
	pthread_mutex_unlock(&r->mu);
	mxs__heartbeat__free_unpacked(hb, NULL);
}

static void *
intake_main(void *arg)
{
	struct mxs_relay *r = arg;
	size_t max = (size_t)r->cfg->batch_max;
	struct pending p = {calloc(max, sizeof(uint8_t *)), calloc(max, sizeof(size_t)), 0, 0};
	struct pollfd pfd[MXS_PROBERS_MAX];
	uint8_t type, *buf;
	size_t len;
	int rc, timeout, gone = 0;

	for (size_t i = 0; i < r->nfd; i++)
		pfd[i] = (struct pollfd){r->fds[i], POLLIN, 0};

	if (p.res == NULL || p.lens == NULL) {
		mxs_err("msg=\"intake: out of memory\"");
		goto out;
	}
	for (;;) {
		timeout = 1000;
		if (p.n > 0) {
			uint64_t age = mxs_now_ms() - p.first_ms;
			timeout = age >= (uint64_t)r->cfg->batch_ms
			                  ? 0
			                  : (int)(r->cfg->batch_ms - (long long)age);
		}
		rc = poll(pfd, r->nfd, timeout);
		if (rc < 0 && errno != EINTR)
			break;
		for (size_t i = 0; rc > 0 && i < r->nfd && p.n < max; i++) {
			if (pfd[i].revents == 0)
				continue;
			if ((rc = mxs_frame_read(r->fds[i], &type, &buf, &len)) != 0) {
				if (rc != MXS_ETRUNC)
					mxs_err("msg=\"bad frame from a prober\" prober=%zu "
					        "reason=\"%s\"",
					        i, mxs_strerror(rc));
				gone = 1; /* one prober lost: the agent restarts whole */
				break;
			}
			if (type == MXS_FRAME_RESULT) {
				COUNT(r, results_read, 1);
				if (p.n == 0)
					p.first_ms = mxs_now_ms();
				p.res[p.n] = buf;
				p.lens[p.n++] = len;
				buf = NULL;
			} else if (type == MXS_FRAME_STATS)
				take_stats(r, i, buf, len);
			free(buf);
		}
		if (gone)
			break;
		if (p.n >= max ||
		    (p.n > 0 && mxs_now_ms() - p.first_ms >= (uint64_t)r->cfg->batch_ms))
			flush_pending(r, &p);
	}
out:
	flush_pending(r, &p);
	free(p.res);
	free(p.lens);
	atomic_store(&r->prober_gone, 1);
	mxs_spool_wakeup(r->sp);
	return NULL;
}

/* ---- uplink: requests to the collector ----------------------------- */

/*
 * One request and its reply.  *reply is the decoded reply (caller frees
 * with mxs_wire_free); an Error reply is returned as MXS_EINVAL with its
 * code in *code and the text logged.  MXS_ESYS: no reply in time.
 */
static int
request(struct mxs_relay *r, Mxs__Envelope *env, Mxs__Envelope__BodyCase want,
        Mxs__Envelope **reply, Mxs__ErrorCode *code)
{
	uint8_t *out = NULL;
	size_t outlen = 0;
	nng_msg *m = NULL;
	char err[256];
	int rv;

	*reply = NULL;
	*code = MXS__ERROR_CODE__ERROR_UNSPECIFIED;
	env->has_version = 1;
	env->version = MXS_WIRE_VERSION;
	env->has_seq = 1;
	env->seq = ++r->seq;
	if (mxs_wire_pack(env, MXS_WIRE_MSG_MAX, &out, &outlen, err, sizeof(err)) != 0) {
		mxs_err("msg=\"cannot encode request\" reason=\"%s\"", err);
		return MXS_EINVAL;
	}
	COUNT(r, requests, 1);
	if ((rv = nng_msg_alloc(&m, 0)) != 0 || (rv = nng_msg_append(m, out, outlen)) != 0 ||
	    (rv = nng_sendmsg(r->req, m, 0)) != 0) {
		nng_msg_free(m);
		free(out);
		mxs_debug("msg=\"send failed\" reason=\"%s\"", nng_strerror(rv));
		COUNT(r, requests_failed[MXS_AM_NO_REPLY], 1);
		return MXS_ESYS;
	}
	free(out);
	if ((rv = nng_recvmsg(r->req, &m, 0)) != 0) {
		mxs_debug("msg=\"no reply\" reason=\"%s\"", nng_strerror(rv));
		COUNT(r, requests_failed[MXS_AM_NO_REPLY], 1);
		return MXS_ESYS;
	}
	rv = mxs_wire_unpack(nng_msg_body(m), nng_msg_len(m), MXS_WIRE_MSG_MAX, reply, NULL, err,
	                     sizeof(err));
	nng_msg_free(m);
	if (rv != 0) {
		mxs_warn("msg=\"malformed reply from the collector\" reason=\"%s\"", err);
		COUNT(r, requests_failed[MXS_AM_MALFORMED], 1);
		return MXS_ESYNTAX;
	}
	if ((*reply)->body_case == MXS__ENVELOPE__BODY_ERROR) {
		const Mxs__Error *e = (*reply)->error;
		*code = e->has_code ? e->code : MXS__ERROR_CODE__ERROR_UNSPECIFIED;
		mxs_warn("msg=\"collector refused the request\" code=%d text=\"%s\"", (int)*code,
		         e->text != NULL ? e->text : "");
		mxs_wire_free(reply);
		COUNT(r, requests_failed[MXS_AM_REFUSED], 1);
		return MXS_EINVAL;
	}
	if ((*reply)->body_case != want) {
		mxs_warn("msg=\"unexpected reply\" body=%s",
		         mxs_wire_body_name((*reply)->body_case));
		mxs_wire_free(reply);
		COUNT(r, requests_failed[MXS_AM_MALFORMED], 1);
		return MXS_ESYNTAX;
	}
	return 0;
}

static void
lost(struct mxs_relay *r, const char *why)
{
	if (r->registered)
		mxs_warn("msg=\"collector link lost\" reason=\"%s\"", why);
	set_registered(r, 0);
}

static int
hello(struct mxs_relay *r)
{
	static char *caps[] = {(char *)"dane", (char *)"mta-sts", (char *)"tls-rpt-record",
	                       (char *)"egress-check"};
	Mxs__Envelope env = MXS__ENVELOPE__INIT, *rep = NULL;
	Mxs__Hello h = MXS__HELLO__INIT;
	Mxs__ErrorCode code;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	char err[256];
	int rc;

	h.agent_name = r->cfg->name;
	h.region = r->cfg->region;
	h.version = (char *)AGENT_VERSION;
	h.capabilities = caps;
	h.n_capabilities = sizeof(caps) / sizeof(caps[0]);
	env.body_case = MXS__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	if ((rc = request(r, &env, MXS__ENVELOPE__BODY_HELLO_REPLY, &rep, &code)) != 0) {
		if (rc == MXS_EINVAL) /* an Error reply */
			COUNT(r, hello_refused, 1);
		return rc;
	}
	if (!rep->hello_reply->has_challenge) {
		mxs_err("msg=\"collector sent no challenge\" reason=\"%s\"",
		        rep->hello_reply->reason ? rep->hello_reply->reason : "");
		mxs_wire_free(&rep);
		COUNT(r, hello_refused, 1);
		return MXS_EINVAL;
	}
	rc = mxs_ident_sign(r->key, rep->hello_reply->challenge.data,
	                    rep->hello_reply->challenge.len, r->cfg->name, r->cfg->region, &sig,
	                    &siglen, err, sizeof(err));
	mxs_wire_free(&rep);
	if (rc != 0) {
		mxs_err("msg=\"cannot sign the hello\" reason=\"%s\"", err);
		return rc;
	}
	h.has_cert_der = h.has_signature = 1;
	h.cert_der.data = r->cert_der;
	h.cert_der.len = r->cert_len;
	h.signature.data = sig;
	h.signature.len = siglen;
	rc = request(r, &env, MXS__ENVELOPE__BODY_HELLO_REPLY, &rep, &code);
	free(sig);
	if (rc != 0) {
		if (rc == MXS_EINVAL) /* an Error reply */
			COUNT(r, hello_refused, 1);
		return rc;
	}
	if (!rep->hello_reply->accepted) {
		mxs_err("msg=\"collector refused this agent\" reason=\"%s\"",
		        rep->hello_reply->reason ? rep->hello_reply->reason : "");
		mxs_wire_free(&rep);
		COUNT(r, hello_refused, 1);
		return MXS_EINVAL;
	}
	if (rep->hello_reply->has_heartbeat_s && rep->hello_reply->heartbeat_s > 0)
		r->heartbeat_s = rep->hello_reply->heartbeat_s;
	mxs_wire_free(&rep);
	set_registered(r, 1);
	COUNT(r, hello_ok, 1);
	r->next_jobs_ms = r->next_hb_ms = 0; /* ask at once */
	mxs_info("msg=\"registered with the collector\" agent=%s region=%s", r->cfg->name,
	         r->cfg->region);
	return 0;
}

/*
 * The last job list is kept beside the spool, so an agent restarted while
 * the collector is away goes on probing what it was told to (and spools).
 */
#define JOBS_FILE "jobs.pb"

static void
jobs_path(const struct mxs_relay *r, char *buf, size_t len, const char *suffix)
{
	snprintf(buf, len, "%s/%s%s", r->cfg->spool_dir, JOBS_FILE, suffix);
}

static void
jobs_save(const struct mxs_relay *r, const uint8_t *buf, size_t len)
{
	char tmp[4200], path[4200];
	FILE *f;
	int ok;

	jobs_path(r, tmp, sizeof(tmp), ".tmp");
	jobs_path(r, path, sizeof(path), "");
	if ((f = fopen(tmp, "w")) == NULL) {
		mxs_warn("msg=\"cannot keep the job list\" file=%s reason=\"%s\"", tmp,
		         strerror(errno));
		return;
	}
	ok = fwrite(buf, 1, len, f) == len;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		mxs_warn("msg=\"cannot keep the job list\" file=%s", path);
		unlink(tmp);
	}
}

/* A domain's prober: a stable hash, so a domain stays with one prober and
 * its MX addresses' sessions are shared with the domains beside it. */
static size_t
prober_of(const struct mxs_relay *r, const char *domain)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *c = domain; c != NULL && *c != '\0'; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	return h % r->nfd;
}

/* Split jl between the probers and send each its share. */
static int
send_jobs(struct mxs_relay *r, const Mxs__JobList *jl)
{
	Mxs__Job **mine = calloc(jl->n_jobs ? jl->n_jobs : 1, sizeof(*mine));
	uint8_t *buf = NULL;
	int rc = 0;

	if (mine == NULL)
		return MXS_ENOMEM;
	for (size_t i = 0; i < r->nfd && rc == 0; i++) {
		Mxs__JobList part = *jl;
		size_t n = 0, len;

		for (size_t k = 0; k < jl->n_jobs; k++)
			if (prober_of(r, jl->jobs[k]->domain) == i)
				mine[n++] = jl->jobs[k];
		part.jobs = mine;
		part.n_jobs = n;
		len = mxs__job_list__get_packed_size(&part);
		if ((buf = malloc(len ? len : 1)) == NULL) {
			rc = MXS_ENOMEM;
			break;
		}
		mxs__job_list__pack(&part, buf);
		rc = mxs_frame_write(r->fds[i], MXS_FRAME_JOBS, buf, len);
		free(buf);
	}
	free(mine);
	return rc;
}

/* Hand the kept job list to the probers; its version stays 0, so the first
 * request to the collector fetches the current one. */
static void
jobs_load(struct mxs_relay *r)
{
	char path[4200];
	uint8_t *buf;
	size_t n;
	FILE *f;
	Mxs__JobList *jl;

	jobs_path(r, path, sizeof(path), "");
	if ((f = fopen(path, "r")) == NULL)
		return;
	if ((buf = malloc(MXS_FRAME_MAX)) == NULL) {
		fclose(f);
		return;
	}
	n = fread(buf, 1, MXS_FRAME_MAX, f);
	fclose(f);
	if ((jl = mxs__job_list__unpack(NULL, n, buf)) == NULL) {
		mxs_warn("msg=\"kept job list does not decode: ignored\" file=%s", path);
	} else {
		if (send_jobs(r, jl) == 0)
			mxs_info("msg=\"probing the kept job list until the collector answers\" "
			         "domains=%zu",
			         jl->n_jobs);
		mxs__job_list__free_unpacked(jl, NULL);
	}
	free(buf);
}

static int
fetch_jobs(struct mxs_relay *r)
{
	Mxs__Envelope env = MXS__ENVELOPE__INIT, *rep = NULL;
	Mxs__JobRequest jr = MXS__JOB_REQUEST__INIT;
	Mxs__ErrorCode code;
	uint8_t *buf;
	size_t len;
	int rc;

	jr.has_have_list_version = 1;
	jr.have_list_version = r->list_version;
	env.body_case = MXS__ENVELOPE__BODY_JOB_REQUEST;
	env.job_request = &jr;
	if ((rc = request(r, &env, MXS__ENVELOPE__BODY_JOB_LIST, &rep, &code)) != 0)
		return rc;
	if (!rep->job_list->unchanged) {
		len = mxs__job_list__get_packed_size(rep->job_list);
		if ((buf = malloc(len ? len : 1)) == NULL) {
			mxs_wire_free(&rep);
			return MXS_ENOMEM;
		}
		mxs__job_list__pack(rep->job_list, buf);
		rc = send_jobs(r, rep->job_list);
		if (rc == 0)
			jobs_save(r, buf, len);
		free(buf);
		if (rc == 0) {
			r->list_version = rep->job_list->list_version;
			mxs_info("msg=\"job list\" version=%llu domains=%zu",
			         (unsigned long long)r->list_version, rep->job_list->n_jobs);
		}
	}
	mxs_wire_free(&rep);
	return rc;
}

static int
heartbeat(struct mxs_relay *r)
{
	Mxs__Envelope env = MXS__ENVELOPE__INIT, *rep = NULL;
	Mxs__Heartbeat hb = MXS__HEARTBEAT__INIT;
	Mxs__ErrorCode code;
	struct mxs_spool_stats ss;
	struct pstats t;
	char detail[256] = "";
	int rc;

	mxs_spool_stats(r->sp, &ss);
	stats_merge(r, &t);
	if (t.seen) {
		hb.has_egress = t.has_egress;
		hb.egress = t.egress;
		snprintf(detail, sizeof(detail), "%s", t.egress_detail);
		hb.has_probes_run = hb.has_probes_failed = hb.has_cycles = hb.has_last_cycle_ms = 1;
		hb.probes_run = t.probes_run;
		hb.probes_failed = t.probes_failed;
		hb.cycles = t.cycles;
		hb.last_cycle_ms = t.last_cycle_ms;
	}
	hb.egress_detail = detail;
	hb.has_spool_depth = hb.has_spool_bytes = hb.has_spool_dropped = hb.has_uptime_s = 1;
	hb.spool_depth = ss.results > UINT32_MAX ? UINT32_MAX : (uint32_t)ss.results;
	hb.spool_bytes = ss.bytes;
	hb.spool_dropped = ss.dropped_results;
	hb.uptime_s = (mxs_now_ms() - r->started_ms) / 1000;
	env.body_case = MXS__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	if ((rc = request(r, &env, MXS__ENVELOPE__BODY_ACK, &rep, &code)) == 0)
		mxs_wire_free(&rep);
	return rc;
}

/* Send the oldest spooled batch; 0 when sent and acknowledged, or empty. */
static int
send_batch(struct mxs_relay *r, int *sent)
{
	Mxs__Envelope env = MXS__ENVELOPE__INIT, *rep = NULL;
	Mxs__ResultBatch rb = MXS__RESULT_BATCH__INIT;
	Mxs__ProbeResult **prs = NULL;
	struct mxs_spool_batch *b = NULL;
	Mxs__ErrorCode code;
	char err[256];
	size_t k = 0;
	double t0;
	int rc;

	*sent = 0;
	if ((rc = mxs_spool_oldest(r->sp, &b, err, sizeof(err))) != 0)
		return rc == MXS_ENOTFOUND ? 0 : rc;
	/* Results are re-decoded to travel inside the envelope: the prober is
	 * not trusted, so an undecodable one is dropped here, not sent. */
	if ((prs = calloc(b->n, sizeof(*prs))) == NULL) {
		mxs_spool_batch_free(&b);
		return MXS_ENOMEM;
	}
	for (size_t i = 0; i < b->n; i++) {
		Mxs__ProbeResult *p = mxs__probe_result__unpack(NULL, b->lens[i], b->results[i]);
		if (p == NULL || !p->has_id || p->id.len != MXS_WIRE_RESULT_ID) {
			mxs_warn("msg=\"spooled result does not decode: dropped\" seq=%llu",
			         (unsigned long long)b->seq);
			if (p != NULL)
				mxs__probe_result__free_unpacked(p, NULL);
			continue;
		}
		prs[k++] = p;
	}
	rb.has_batch_seq = 1;
	rb.batch_seq = b->seq;
	rb.results = prs;
	rb.n_results = k;
	env.body_case = MXS__ENVELOPE__BODY_RESULT_BATCH;
	env.result_batch = &rb;
	t0 = mono_ms();
	rc = k > 0 ? request(r, &env, MXS__ENVELOPE__BODY_ACK, &rep, &code) : 0;
	if (rc == 0 && (k == 0 || (rep->ack->has_batch_seq && rep->ack->batch_seq == b->seq))) {
		if (k > 0) {
			mxs_debug("msg=\"batch acknowledged\" seq=%llu stored=%u duplicates=%u",
			          (unsigned long long)b->seq, rep->ack->stored,
			          rep->ack->duplicates);
			mxs_agent_metrics_batch_latency(&r->m, mono_ms() - t0);
			COUNT(r, results_acked_stored, rep->ack->stored);
			COUNT(r, results_acked_duplicate, rep->ack->duplicates);
			COUNT(r, batches_sent, 1);
			/* Each acknowledged result once (a duplicate was stored
			 * by an earlier send whose Ack was lost). */
			for (size_t i = 0; i < k; i++)
				mxs_agent_metrics_result(&r->m, prs[i]);
		}
		if (mxs_spool_ack(r->sp, b->seq, err, sizeof(err)) != 0)
			mxs_warn("msg=\"cannot remove acknowledged batch\" reason=\"%s\"", err);
		*sent = 1;
	} else if (rc == 0) {
		mxs_warn("msg=\"ack for another batch\" want=%llu", (unsigned long long)b->seq);
		COUNT(r, requests_failed[MXS_AM_MALFORMED], 1);
		rc = MXS_ESYNTAX;
	} else if (code == MXS__ERROR_CODE__ERROR_NOT_REGISTERED)
		set_registered(r, 0);
	mxs_wire_free(&rep);
	for (size_t i = 0; i < k; i++)
		mxs__probe_result__free_unpacked(prs[i], NULL);
	free(prs);
	mxs_spool_batch_free(&b);
	return rc;
}

static void
backoff(struct mxs_relay *r, volatile sig_atomic_t *stop)
{
	uint64_t until = mxs_now_ms() + r->backoff_ms;

	while (!*stop && !atomic_load(&r->prober_gone) && mxs_now_ms() < until)
		usleep(50000);
	r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
}

int
mxs_relay_run(struct mxs_relay *r, volatile sig_atomic_t *stop)
{
	int rc, sent;
	uint64_t now;

	if (pthread_create(&r->intake, NULL, intake_main, r) != 0) {
		mxs_err("msg=\"cannot start the intake thread\"");
		return 1;
	}
	r->intake_started = 1;
	r->backoff_ms = (unsigned)r->cfg->reconnect_ms;
	jobs_load(r);
	while (!*stop && !atomic_load(&r->prober_gone)) {
		if (!r->registered) {
			if (hello(r) != 0) {
				backoff(r, stop);
				continue;
			}
			r->backoff_ms = (unsigned)r->cfg->reconnect_ms;
		}
		now = mxs_now_ms();
		rc = 0;
		if (now >= r->next_jobs_ms) {
			if ((rc = fetch_jobs(r)) == 0)
				r->next_jobs_ms = now + (uint64_t)r->cfg->job_refresh_s * 1000;
		}
		if (rc == 0 && now >= r->next_hb_ms) {
			if ((rc = heartbeat(r)) == 0)
				r->next_hb_ms = now + (uint64_t)r->heartbeat_s * 1000;
		}
		/* Nothing to send: wait for the intake (a timeout is normal). */
		if (rc == 0 && (rc = send_batch(r, &sent)) == 0 && !sent &&
		    mxs_spool_wait(r->sp, 200) != 0)
			continue;
		if (rc != 0) {
			lost(r, mxs_strerror(rc));
			backoff(r, stop);
		}
	}
	return atomic_load(&r->prober_gone) && !*stop ? 1 : 0;
}

/* The totals, once at exit: what was read, spooled, acknowledged, left. */
static void
relay_totals(struct mxs_relay *r)
{
	struct mxs_spool_stats ss;

	mxs_spool_stats(r->sp, &ss);
	mxs_info(
	        "msg=\"totals\" results_read=%llu spooled=%llu batches_sent=%llu acked_stored=%llu "
	        "acked_duplicates=%llu dropped=%llu left=%llu corrupt_files=%llu",
	        (unsigned long long)atomic_load(&r->m.results_read),
	        (unsigned long long)atomic_load(&r->m.results_spooled),
	        (unsigned long long)atomic_load(&r->m.batches_sent),
	        (unsigned long long)atomic_load(&r->m.results_acked_stored),
	        (unsigned long long)atomic_load(&r->m.results_acked_duplicate),
	        (unsigned long long)ss.dropped_results, (unsigned long long)ss.results,
	        (unsigned long long)ss.corrupt_files);
}

/* ---- set-up -------------------------------------------------------- */

static char *
read_file(const char *path, char *errstr, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL) {
		mxs_seterr(errstr, errlen, MXS_ECONFIG, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(PEM_MAX + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, PEM_MAX + 1, f);
	fclose(f);
	if (n > PEM_MAX) {
		free(buf);
		mxs_seterr(errstr, errlen, MXS_ELIMIT, "%s: larger than %d bytes", path, PEM_MAX);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* Host part of tls+tcp://HOST:PORT, for the certificate name check. */
static void
url_host(const char *url, char *out, size_t len)
{
	const char *h = strstr(url, "://"), *end;

	h = h != NULL ? h + 3 : url;
	if (*h == '[') {
		h++;
		end = strchr(h, ']');
	} else
		end = strrchr(h, ':');
	if (end == NULL)
		end = h + strlen(h);
	snprintf(out, len, "%.*s", (int)(end - h), h);
}

static int
load_identity(struct mxs_relay *r, const char *cert_pem, const char *key_pem, char *errstr,
              size_t errlen)
{
	BIO *b;
	X509 *x;
	unsigned char *p;
	int n;

	if ((b = BIO_new_mem_buf(cert_pem, -1)) == NULL)
		return MXS_ENOMEM;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (x == NULL)
		return mxs_seterr(errstr, errlen, MXS_ECONFIG, "%s: no certificate",
		                  r->cfg->cert_file);
	n = i2d_X509(x, NULL);
	if (n <= 0 || n > MXS_IDENT_CERT_MAX || (r->cert_der = malloc((size_t)n)) == NULL) {
		X509_free(x);
		return mxs_seterr(errstr, errlen, MXS_ECONFIG, "%s: certificate unusable",
		                  r->cfg->cert_file);
	}
	p = r->cert_der;
	r->cert_len = (size_t)i2d_X509(x, &p);
	X509_free(x);
	if ((b = BIO_new_mem_buf(key_pem, -1)) == NULL)
		return MXS_ENOMEM;
	r->key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (r->key == NULL)
		return mxs_seterr(errstr, errlen, MXS_ECONFIG, "%s: no private key",
		                  r->cfg->key_file);
	return MXS_OK;
}

static int
dial(struct mxs_relay *r, const char *cert_pem, const char *key_pem, char *errstr, size_t errlen)
{
	const struct mxs_agent_config *c = r->cfg;
	nng_tls_config *tls = NULL;
	nng_dialer d;
	char host[256];
	int rv, plain = strncmp(c->collector_url, "tcp://", 6) == 0;

	if ((rv = nng_req0_open(&r->req)) != 0 ||
	    (rv = nng_socket_set_ms(r->req, NNG_OPT_RECVTIMEO,
	                            (nng_duration)c->request_timeout_ms)) != 0 ||
	    (rv = nng_socket_set_ms(r->req, NNG_OPT_SENDTIMEO,
	                            (nng_duration)c->request_timeout_ms)) != 0 ||
	    (rv = nng_socket_set_ms(r->req, NNG_OPT_RECONNMINT, (nng_duration)c->reconnect_ms)) !=
	            0 ||
	    (rv = nng_socket_set_ms(r->req, NNG_OPT_RECONNMAXT, REDIAL_MAX_MS)) != 0 ||
	    (rv = nng_socket_set_size(r->req, NNG_OPT_RECVMAXSZ, MXS_WIRE_MSG_MAX)) != 0 ||
	    (rv = nng_dialer_create(&d, r->req, c->collector_url)) != 0)
		return mxs_seterr(errstr, errlen, MXS_ECONFIG, "collector url %s: %s",
		                  c->collector_url, nng_strerror(rv));
	if (!plain) {
		url_host(c->collector_url, host, sizeof(host));
		if ((rv = nng_tls_config_alloc(&tls, NNG_TLS_MODE_CLIENT)) != 0 ||
		    (rv = nng_tls_config_ca_file(tls, c->collector_ca)) != 0 ||
		    (rv = nng_tls_config_own_cert(tls, cert_pem, key_pem, NULL)) != 0 ||
		    (rv = nng_tls_config_server_name(tls, c->server_name ? c->server_name
		                                                         : host)) != 0 ||
		    (rv = nng_tls_config_auth_mode(tls, NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
		    (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, tls)) != 0) {
			nng_tls_config_free(tls);
			return mxs_seterr(
			        errstr, errlen, MXS_ETLS, "TLS set-up (ca %s, cert %s, key %s): %s",
			        c->collector_ca, c->cert_file, c->key_file, nng_strerror(rv));
		}
		nng_tls_config_free(tls); /* the dialer keeps its own reference */
	}
	/* Non-blocking: an absent collector is normal, nng keeps redialling. */
	if ((rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0)
		return mxs_seterr(errstr, errlen, MXS_ECONFIG, "dial %s: %s", c->collector_url,
		                  nng_strerror(rv));
	return MXS_OK;
}

int
mxs_relay_open(const struct mxs_agent_config *cfg, const int *fds, size_t nfd,
               struct mxs_relay **out, char *errstr, size_t errlen)
{
	struct mxs_relay *r;
	char *cert = NULL, *key = NULL;
	int rc;

	*out = NULL;
	if (cfg->name == NULL || cfg->region == NULL || cfg->collector_url == NULL)
		return mxs_seterr(errstr, errlen, MXS_ECONFIG,
		                  "[agent] name, region and [collector] url are required");
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return MXS_ENOMEM;
	r->cfg = cfg;
	r->nfd = nfd < MXS_PROBERS_MAX ? nfd : MXS_PROBERS_MAX;
	memcpy(r->fds, fds, r->nfd * sizeof(*fds));
	r->heartbeat_s = (unsigned)cfg->heartbeat_s;
	r->started_ms = mxs_now_ms();
	pthread_mutex_init(&r->mu, NULL);
	rc = MXS_ENOMEM;
	if ((cert = read_file(cfg->cert_file, errstr, errlen)) == NULL ||
	    (key = read_file(cfg->key_file, errstr, errlen)) == NULL)
		goto fail;
	if ((rc = load_identity(r, cert, key, errstr, errlen)) != 0 ||
	    (rc = mxs_spool_open(cfg->spool_dir, (uint64_t)cfg->spool_max_bytes, &r->sp, errstr,
	                         errlen)) != 0 ||
	    (rc = dial(r, cert, key, errstr, errlen)) != 0 ||
	    (rc = metrics_start(r, errstr, errlen)) != 0) /* binds: before the drop */
		goto fail;
	explicit_bzero(key, strlen(key));
	free(cert);
	free(key);
	*out = r;
	return MXS_OK;
fail:
	if (key != NULL)
		explicit_bzero(key, strlen(key));
	free(cert);
	free(key);
	mxs_relay_close(&r);
	return rc != 0 ? rc : MXS_ECONFIG;
}

void
mxs_relay_close(struct mxs_relay **rp)
{
	struct mxs_relay *r = *rp;

	if (r == NULL)
		return;
	mxs_agent_metrics_stop(&r->msrv); /* first: its fill reads the spool */
	if (r->intake_started) {
		/* The intake thread ends when the prober's socket closes. */
		for (size_t i = 0; i < r->nfd; i++)
			shutdown(r->fds[i], SHUT_RDWR);
		pthread_join(r->intake, NULL);
	}
	if (r->sp != NULL)
		relay_totals(r);
	nng_close(r->req);
	mxs_spool_close(&r->sp);
	EVP_PKEY_free(r->key);
	free(r->cert_der);
	pthread_mutex_destroy(&r->mu);
	free(r);
	*rp = NULL;
}
