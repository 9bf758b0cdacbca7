/*
 * prober — schedule and probe (see prober.h).
 *
 * Rounds: every tick, if no round is running and some domains are due, a
 * round begins with every due domain; they start as max_in_flight allows,
 * and the round ends when the last of them finishes.  A round is the
 * "cycle" the agent reports (its duration is the cycle time).  A domain
 * becoming due during a round waits for the next one, so a slow round
 * cannot starve its own tail.
 *
 * Egress: after each round the prober judges its own port-25 egress from
 * what the round saw (and from a connection to egress_check if set): a
 * region whose VM cannot reach port 25 must not look like a region where
 * STARTTLS is stripped.
 */
#include "prober.h"
#include "engine.h"
#include "frame.h"
#include "mxs_log.h"
#include "probe.h"
#include "result_pb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>

#include "mxsentry.pb-c.h"

#define TICK_MS       250
#define EGRESS_TO_S   5
#define OUT_HIGH_MARK (64 * 1024 * 1024) /* relay not reading: stop starting probes */

struct job {
	char domain[256];
	unsigned interval_s;
	uint64_t due_ms; /* monotonic */
	int in_round, running;
};

struct prober {
	const struct mxs_agent_config *cfg;
	struct mxs_engine e;
	struct bufferevent *link;
	struct event *tick;
	struct job *jobs;
	size_t njobs;
	/* the current round */
	size_t *queue, nqueue, qpos;
	size_t in_flight;
	uint64_t round_start;
	int round_active;
	/* counters for the relay's heartbeat */
	uint64_t probes_run, probes_failed, cycles;
	uint32_t last_cycle_ms;
	/* egress evidence of the current round */
	unsigned addr_ok, addr_unreach;
	Mxs__EgressState egress;
	char egress_detail[256];
	int stopping;
};

struct slot {
	struct prober *pr;
	size_t job;
	char domain[256];
};

static void send_stats(struct prober *pr);

/* ---- results ------------------------------------------------------- */

static void
send_frame(struct prober *pr, uint8_t type, const uint8_t *buf, size_t len)
{
	uint8_t hdr[MXS_FRAME_HDR];
	struct evbuffer *out = bufferevent_get_output(pr->link);

	mxs_frame_header(hdr, type, len);
	evbuffer_add(out, hdr, sizeof(hdr));
	evbuffer_add(out, buf, len);
}

/* Connect evidence for the egress judgement. */
static void
count_egress(struct prober *pr, const struct mxs_result *r)
{
	for (size_t i = 0; i < r->nhosts; i++)
		for (size_t j = 0; j < r->hosts[i]->naddrs; j++) {
			const struct mxs_verdict *c = &r->hosts[i]->addrs[j]->connect;
			if (r->hosts[i]->addrs[j]->shared)
				continue; /* one connection, counted where it was made */
			if (c->status == MXS_ST_OK || strstr(c->reason, "refused") != NULL)
				pr->addr_ok++; /* a refusal came from the far end: the path works */
			else if (c->status != MXS_ST_NOT_TESTED)
				pr->addr_unreach++;
		}
}

static void start_more(struct prober *pr);

static void
probe_done(struct mxs_result *r, void *arg)
{
	struct slot *sl = arg;
	struct prober *pr = sl->pr;
	uint8_t *buf;
	size_t len;

	pr->in_flight--;
	pr->probes_run++;
	/* The job list may have changed meanwhile: find the job by name. */
	for (size_t i = 0; i < pr->njobs; i++)
		if (strcmp(pr->jobs[i].domain, sl->domain) == 0)
			pr->jobs[i].running = 0;
	count_egress(pr, r);
	if (mxs_result_pack(r, &buf, &len) == 0) {
		send_frame(pr, MXS_FRAME_RESULT, buf, len);
		free(buf);
	} else {
		pr->probes_failed++;
		mxs_err("msg=\"cannot encode result\" domain=%s", r->domain);
	}
	mxs_result_free(&r);
	free(sl);
	send_stats(pr); /* after the result: the relay never counts one it has not read */
	start_more(pr);
}

/* ---- egress -------------------------------------------------------- */

struct egress_check {
	struct prober *pr;
	struct bufferevent *bev;
	uint64_t t0;
};

static void
judge_egress(struct prober *pr, int check_ok, const char *check_detail)
{
	unsigned ok = pr->addr_ok, bad = pr->addr_unreach;

	if (check_ok == 0 || (check_ok < 0 && ok == 0 && bad > 0))
		pr->egress = MXS__EGRESS_STATE__EGRESS_BLOCKED;
	else if (bad > 0 && bad >= ok)
		pr->egress = MXS__EGRESS_STATE__EGRESS_DEGRADED;
	else if (check_ok > 0 || ok > 0)
		pr->egress = MXS__EGRESS_STATE__EGRESS_OK;
	else
		pr->egress = MXS__EGRESS_STATE__EGRESS_UNSPECIFIED;
	snprintf(pr->egress_detail, sizeof(pr->egress_detail),
	         "%s%s%u of %u MX addresses reachable on port 25", check_detail,
	         check_detail[0] ? "; " : "", ok, ok + bad);
	pr->addr_ok = pr->addr_unreach = 0;
	send_stats(pr);
}

static void
egress_event(struct bufferevent *bev, short what, void *arg)
{
	struct egress_check *ec = arg;
	char d[128];
	int ok = (what & BEV_EVENT_CONNECTED) != 0;

	if (ok)
		snprintf(d, sizeof(d), "egress check %s connected in %llu ms",
		         ec->pr->cfg->egress_check, (unsigned long long)(mxs_now_ms() - ec->t0));
	else
		snprintf(d, sizeof(d), "egress check %s failed: %s", ec->pr->cfg->egress_check,
		         (what & BEV_EVENT_TIMEOUT) ? "timeout" : strerror(EVUTIL_SOCKET_ERROR()));
	/* Refused means a packet came back: port 25 leaves this network. */
	if (!ok && !(what & BEV_EVENT_TIMEOUT) && EVUTIL_SOCKET_ERROR() == ECONNREFUSED)
		ok = 1;
	bufferevent_free(bev);
	judge_egress(ec->pr, ok, d);
	free(ec);
}

static void
egress_start(struct prober *pr)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	struct egress_check *ec;
	struct timeval to = {EGRESS_TO_S, 0};

	if (pr->cfg->egress_check == NULL || pr->cfg->egress_check[0] == '\0') {
		judge_egress(pr, -1, "");
		return;
	}
	if (evutil_parse_sockaddr_port(pr->cfg->egress_check, (struct sockaddr *)&ss, &sslen) !=
	            0 ||
	    (ec = calloc(1, sizeof(*ec))) == NULL) {
		judge_egress(pr, -1, "egress_check is not ADDR:PORT");
		return;
	}
	ec->pr = pr;
	ec->t0 = mxs_now_ms();
	ec->bev = bufferevent_socket_new(pr->e.base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (ec->bev == NULL) {
		free(ec);
		judge_egress(pr, -1, "egress check not started");
		return;
	}
	bufferevent_setcb(ec->bev, NULL, NULL, egress_event, ec);
	bufferevent_set_timeouts(ec->bev, &to, &to);
	if (bufferevent_socket_connect(ec->bev, (struct sockaddr *)&ss, sslen) != 0) {
		bufferevent_free(ec->bev);
		free(ec);
		judge_egress(pr, 0, "egress check: connect failed at once");
	}
}

/* ---- schedule ------------------------------------------------------ */

static void
round_end(struct prober *pr)
{
	pr->round_active = 0;
	pr->cycles++;
	pr->last_cycle_ms = (uint32_t)(mxs_now_ms() - pr->round_start);
	mxs_info("msg=\"cycle done\" domains=%zu ms=%u", pr->nqueue, pr->last_cycle_ms);
	egress_start(pr);
}

static void
start_more(struct prober *pr)
{
	size_t out = evbuffer_get_length(bufferevent_get_output(pr->link));

	while (pr->round_active && pr->qpos < pr->nqueue &&
	       pr->in_flight < (size_t)pr->cfg->max_in_flight && out < OUT_HIGH_MARK &&
	       !pr->stopping) {
		struct job *j = &pr->jobs[pr->queue[pr->qpos++]];
		struct slot *sl;

		if (!j->in_round) /* removed from the list meanwhile */
			continue;
		j->in_round = 0;
		/* From the round's start: the round's domains stay one round. */
		j->due_ms = pr->round_start + (uint64_t)j->interval_s * 1000;
		if ((sl = calloc(1, sizeof(*sl))) == NULL) {
			pr->probes_failed++;
			continue;
		}
		sl->pr = pr;
		snprintf(sl->domain, sizeof(sl->domain), "%s", j->domain);
		if (mxs_probe_start(&pr->e, j->domain, probe_done, sl) != 0) {
			pr->probes_failed++;
			free(sl);
			continue;
		}
		j->running = 1;
		pr->in_flight++;
	}
	if (pr->round_active && pr->qpos >= pr->nqueue && pr->in_flight == 0)
		round_end(pr);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct prober *pr = arg;
	uint64_t now = mxs_now_ms();

	(void)fd;
	(void)what;
	if (!pr->round_active && pr->in_flight == 0) {
		pr->nqueue = pr->qpos = 0;
		for (size_t i = 0; i < pr->njobs; i++)
			if (pr->jobs[i].due_ms <= now && !pr->jobs[i].running) {
				pr->jobs[i].in_round = 1;
				pr->queue[pr->nqueue++] = i;
			}
		if (pr->nqueue > 0) {
			pr->round_active = 1;
			pr->round_start = now;
			mxs_info("msg=\"cycle start\" domains=%zu", pr->nqueue);
		}
	}
	start_more(pr);
}

/*
 * Replace the job list.  A domain already listed keeps its due time (a
 * changed list must not re-probe everything at once); a new one is due now.
 * Called between rounds or during one: jobs of a running round that are no
 * longer listed are skipped.
 */
static void
set_jobs(struct prober *pr, const Mxs__JobList *jl)
{
	struct job *nj = calloc(jl->n_jobs ? jl->n_jobs : 1, sizeof(*nj));
	size_t *nq = calloc(jl->n_jobs ? jl->n_jobs : 1, sizeof(*nq));
	uint64_t now = mxs_now_ms();

	if (nj == NULL || nq == NULL) {
		free(nj);
		free(nq);
		mxs_err("msg=\"cannot take the job list: out of memory\"");
		return;
	}
	for (size_t i = 0; i < jl->n_jobs; i++) {
		const Mxs__Job *j = jl->jobs[i];
		snprintf(nj[i].domain, sizeof(nj[i].domain), "%s", j->domain ? j->domain : "");
		nj[i].interval_s = j->has_interval_s && j->interval_s >= 10 ? j->interval_s : 300;
		nj[i].due_ms = now;
		for (size_t k = 0; k < pr->njobs; k++)
			if (strcmp(pr->jobs[k].domain, nj[i].domain) == 0) {
				nj[i].due_ms = pr->jobs[k].due_ms;
				nj[i].running = pr->jobs[k].running;
			}
	}
	free(pr->jobs);
	free(pr->queue);
	pr->jobs = nj;
	pr->njobs = jl->n_jobs;
	/* The running round's queue indexed the old list: close the round's
	 * queue; probes in flight still finish and count. */
	pr->queue = nq;
	pr->nqueue = pr->qpos = 0;
	mxs_info("msg=\"job list\" version=%llu domains=%zu", (unsigned long long)jl->list_version,
	         pr->njobs);
	start_more(pr);
}

static void
send_stats(struct prober *pr)
{
	Mxs__Heartbeat hb = MXS__HEARTBEAT__INIT;
	uint8_t buf[512];
	size_t len;

	hb.has_probes_run = hb.has_probes_failed = hb.has_cycles = hb.has_last_cycle_ms = 1;
	hb.probes_run = pr->probes_run;
	hb.probes_failed = pr->probes_failed;
	hb.cycles = pr->cycles;
	hb.last_cycle_ms = pr->last_cycle_ms;
	hb.has_egress = 1;
	hb.egress = pr->egress;
	hb.egress_detail = pr->egress_detail;
	if (mxs__heartbeat__get_packed_size(&hb) > sizeof(buf))
		return;
	len = mxs__heartbeat__pack(&hb, buf);
	send_frame(pr, MXS_FRAME_STATS, buf, len);
}

/* ---- link to the relay --------------------------------------------- */

static void
on_link_read(struct bufferevent *bev, void *arg)
{
	struct prober *pr = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[MXS_FRAME_HDR];
	size_t n;

	while (evbuffer_copyout(in, hdr, sizeof(hdr)) == (ev_ssize_t)sizeof(hdr)) {
		n = (size_t)hdr[1] << 24 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 8 | hdr[4];
		if (n > MXS_FRAME_MAX) {
			mxs_err("msg=\"oversized frame from relay\" len=%zu", n);
			event_base_loopbreak(pr->e.base);
			return;
		}
		if (evbuffer_get_length(in) < sizeof(hdr) + n)
			return;
		evbuffer_drain(in, sizeof(hdr));
		uint8_t *buf = evbuffer_pullup(in, (ev_ssize_t)n);
		if (hdr[0] == MXS_FRAME_JOBS) {
			Mxs__JobList *jl = mxs__job_list__unpack(NULL, n, buf);
			if (jl != NULL) {
				set_jobs(pr, jl);
				mxs__job_list__free_unpacked(jl, NULL);
			} else
				mxs_err("msg=\"malformed job list from relay\"");
		}
		evbuffer_drain(in, n);
	}
}

static void
on_link_event(struct bufferevent *bev, short what, void *arg)
{
	struct prober *pr = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		mxs_info("msg=\"relay gone: prober exits\"");
		pr->stopping = 1;
		event_base_loopbreak(pr->e.base);
	}
}

int
mxs_prober_main(const struct mxs_agent_config *cfg, int fd)
{
	struct prober pr;
	struct timeval tick = {0, TICK_MS * 1000};
	char err[512];
	int rc = 1;

	memset(&pr, 0, sizeof(pr));
	pr.cfg = cfg;
	if (mxs_engine_init(&pr.e, cfg, err, sizeof(err)) != 0) {
		mxs_err("msg=\"cannot start the probe engine\" reason=\"%s\"", err);
		return 1;
	}
	evutil_make_socket_nonblocking(fd);
	pr.link = bufferevent_socket_new(pr.e.base, fd, BEV_OPT_CLOSE_ON_FREE);
	pr.tick = event_new(pr.e.base, -1, EV_PERSIST, on_tick, &pr);
	if (pr.link == NULL || pr.tick == NULL)
		goto out;
	bufferevent_setcb(pr.link, on_link_read, NULL, on_link_event, &pr);
	bufferevent_enable(pr.link, EV_READ | EV_WRITE);
	event_add(pr.tick, &tick);
	mxs_info("msg=\"prober started\" max_in_flight=%lld", cfg->max_in_flight);
	event_base_dispatch(pr.e.base);
	rc = 0;
out:
	/* Probes still in flight are abandoned with the loop: their results
	 * were never spooled, so nothing is lost that was promised. */
	if (pr.tick != NULL)
		event_free(pr.tick);
	if (pr.link != NULL)
		bufferevent_free(pr.link);
	free(pr.jobs);
	free(pr.queue);
	mxs_engine_free(&pr.e);
	return rc;
}
