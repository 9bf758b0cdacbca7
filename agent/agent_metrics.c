/*
 * agent_metrics — the agent's counters rendered for Prometheus, and the
 * small HTTP server that serves them (see agent_metrics.h for the
 * threading contract).
 *
 * Latency buckets hold counts per bucket (not cumulative): the renderer
 * sums them, so one observation costs one atomic add, as in the
 * collector's metrics.c.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>

#include "agent_metrics.h"
#include "mxs_httpd.h"
#include "mxs_prom.h"
#include "mxs_log.h"

const double mxs_agent_metrics_lat_bounds_ms[MXS_AM_LAT_BUCKETS] = {1,  2,   5,   10,  25,
                                                                    50, 100, 250, 1000};

static const char *const check_names[MXS_AM_NCHECKS] = {
        [MXS_AM_CONNECT] = "connect", [MXS_AM_SMTP] = "smtp", [MXS_AM_TLS] = "tls",
        [MXS_AM_PKIX] = "pkix",       [MXS_AM_NAME] = "name", [MXS_AM_DANE] = "dane",
        [MXS_AM_STS] = "sts",
};

static const char *const status_names[MXS_AM_NSTATUS] = {
        [MXS_AM_OK] = "ok",
        [MXS_AM_FAIL] = "fail",
        [MXS_AM_TEMPORARY] = "temporary",
        [MXS_AM_NOT_TESTED] = "not-tested",
};

static const char *const reqfail_names[MXS_AM_NREQFAIL] = {
        [MXS_AM_NO_REPLY] = "no_reply",
        [MXS_AM_REFUSED] = "refused",
        [MXS_AM_MALFORMED] = "malformed",
};

#define LOAD(x)   atomic_load_explicit(&(x), memory_order_relaxed)
#define ADD(x, n) atomic_fetch_add_explicit(&(x), (n), memory_order_relaxed)
#define ULL(v)    ((unsigned long long)(v))

/* ---- counting ------------------------------------------------------ */

void
mxs_agent_metrics_batch_latency(struct mxs_agent_metrics *m, double ms)
{
	mxs_prom_hist_observe(m->lat_bucket, mxs_agent_metrics_lat_bounds_ms, MXS_AM_LAT_BUCKETS,
	                      &m->lat_sum_us, &m->lat_count, ms);
}

static void
verdict(struct mxs_agent_metrics *m, enum mxs_am_check c, const Mxs__Verdict *v)
{
	int s;

	if (v == NULL || !v->has_status)
		return;
	switch (v->status) {
	case MXS__STATUS__STATUS_OK:
		s = MXS_AM_OK;
		break;
	case MXS__STATUS__STATUS_FAIL:
		s = MXS_AM_FAIL;
		break;
	case MXS__STATUS__STATUS_TEMPORARY:
		s = MXS_AM_TEMPORARY;
		break;
	case MXS__STATUS__STATUS_NOT_TESTED:
		s = MXS_AM_NOT_TESTED;
		break;
	default: /* unspecified, or a value newer than this code */
		return;
	}
	ADD(m->verdicts[c][s], 1);
}

void
mxs_agent_metrics_result(struct mxs_agent_metrics *m, const Mxs__ProbeResult *pr)
{
	const Mxs__AddressResult *a;

	for (size_t i = 0; pr != NULL && i < pr->n_addresses; i++) {
		if ((a = pr->addresses[i]) == NULL)
			continue;
		verdict(m, MXS_AM_CONNECT, a->connect);
		verdict(m, MXS_AM_SMTP, a->smtp);
		verdict(m, MXS_AM_TLS, a->tls);
		verdict(m, MXS_AM_PKIX, a->pkix);
		verdict(m, MXS_AM_NAME, a->name);
		verdict(m, MXS_AM_DANE, a->dane);
		verdict(m, MXS_AM_STS, a->sts_coverage);
	}
}

/* ---- rendering ----------------------------------------------------- */

static void
one(FILE *out, const char *name, const char *type, const char *help, uint64_t v)
{
	mxs_prom_head(out, name, type, help);
	fprintf(out, "%s %llu\n", name, ULL(v));
}

static void
render_latency(const struct mxs_agent_metrics *m, FILE *out)
{
	mxs_prom_hist_render(out, "mxsentry_agent_batch_latency_seconds",
	                     "Time from sending a result batch to the collector's Ack.",
	                     m->lat_bucket, mxs_agent_metrics_lat_bounds_ms, MXS_AM_LAT_BUCKETS,
	                     &m->lat_sum_us);
}

static void
render_uplink(const struct mxs_agent_metrics *m, FILE *out)
{
	int c, s;

	one(out, "mxsentry_agent_requests_total", "counter", "Requests sent to the collector.",
	    LOAD(m->requests));
	mxs_prom_head(
	        out, "mxsentry_agent_requests_failed_total", "counter",
	        "Requests to the collector that failed: no reply in time, refused with an Error, "
	        "malformed or unexpected reply.");
	for (c = 0; c < MXS_AM_NREQFAIL; c++)
		fprintf(out, "mxsentry_agent_requests_failed_total{reason=\"%s\"} %llu\n",
		        reqfail_names[c], ULL(LOAD(m->requests_failed[c])));
	mxs_prom_head(out, "mxsentry_agent_hellos_total", "counter",
	              "Hellos by outcome (refused: by the collector).");
	fprintf(out, "mxsentry_agent_hellos_total{result=\"ok\"} %llu\n", ULL(LOAD(m->hello_ok)));
	fprintf(out, "mxsentry_agent_hellos_total{result=\"refused\"} %llu\n",
	        ULL(LOAD(m->hello_refused)));
	one(out, "mxsentry_agent_collector_up", "gauge",
	    "1 while registered with the collector (Hello accepted), else 0.",
	    LOAD(m->collector_up));
	one(out, "mxsentry_agent_batches_sent_total", "counter",
	    "Result batches sent and acknowledged.", LOAD(m->batches_sent));
	mxs_prom_head(out, "mxsentry_agent_results_acked_total", "counter",
	              "Results acknowledged by the collector, by outcome.");
	fprintf(out, "mxsentry_agent_results_acked_total{outcome=\"stored\"} %llu\n",
	        ULL(LOAD(m->results_acked_stored)));
	fprintf(out, "mxsentry_agent_results_acked_total{outcome=\"duplicate\"} %llu\n",
	        ULL(LOAD(m->results_acked_duplicate)));
	mxs_prom_head(out, "mxsentry_agent_verdicts_total", "counter",
	              "Per-address verdicts of the results acknowledged, by check and status.");
	for (c = 0; c < MXS_AM_NCHECKS; c++)
		for (s = 0; s < MXS_AM_NSTATUS; s++)
			fprintf(out,
			        "mxsentry_agent_verdicts_total{check=\"%s\",status=\"%s\"} %llu\n",
			        check_names[c], status_names[s], ULL(LOAD(m->verdicts[c][s])));
	render_latency(m, out);
}

static void
render_prober(const struct mxs_agent_metrics *m, FILE *out)
{
	static const struct {
		int state;
		const char *name;
	} eg[] = {
	        {MXS__EGRESS_STATE__EGRESS_OK, "ok"},
	        {MXS__EGRESS_STATE__EGRESS_BLOCKED, "blocked"},
	        {MXS__EGRESS_STATE__EGRESS_DEGRADED, "degraded"},
	};
	int e = LOAD(m->egress), known = 0;
	size_t i;

	one(out, "mxsentry_agent_probes_total", "counter", "Probes run by the prober.",
	    LOAD(m->probes_run));
	one(out, "mxsentry_agent_probes_failed_total", "counter",
	    "Probes that could not run (not probes that found a fault).", LOAD(m->probes_failed));
	one(out, "mxsentry_agent_cycles_total", "counter", "Probe cycles completed.",
	    LOAD(m->cycles));
	mxs_prom_head(out, "mxsentry_agent_last_cycle_duration_seconds", "gauge",
	              "How long the last completed probe cycle took.");
	fprintf(out, "mxsentry_agent_last_cycle_duration_seconds %.3f\n",
	        (double)LOAD(m->last_cycle_ms) / 1000.0);
	mxs_prom_head(out, "mxsentry_agent_egress", "gauge",
	              "The prober's judgement of its own port-25 egress: 1 for the current state.");
	for (i = 0; i < sizeof(eg) / sizeof(eg[0]); i++) {
		known |= e == eg[i].state;
		fprintf(out, "mxsentry_agent_egress{state=\"%s\"} %d\n", eg[i].name,
		        e == eg[i].state);
	}
	fprintf(out, "mxsentry_agent_egress{state=\"unknown\"} %d\n", !known);
}

void
mxs_agent_metrics_render(const struct mxs_agent_metrics *m, FILE *out)
{
	int64_t started;

	one(out, "mxsentry_agent_results_read_total", "counter", "Results read from the prober.",
	    LOAD(m->results_read));
	one(out, "mxsentry_agent_results_spooled_total", "counter", "Results written to the spool.",
	    LOAD(m->results_spooled));
	one(out, "mxsentry_agent_results_dropped_total", "counter",
	    "Results the spool refused (full, too large, I/O error).", LOAD(m->results_dropped));
	one(out, "mxsentry_agent_spool_results", "gauge",
	    "Results in the spool waiting for the collector's Ack.", LOAD(m->spool_results));
	one(out, "mxsentry_agent_spool_bytes", "gauge", "Bytes of the spool's batch files.",
	    LOAD(m->spool_bytes));
	one(out, "mxsentry_agent_spool_files", "gauge", "Batch files in the spool.",
	    LOAD(m->spool_files));
	one(out, "mxsentry_agent_spool_corrupt_files_total", "counter",
	    "Spool files that failed their checks, moved to corrupt/.",
	    LOAD(m->spool_corrupt_files));
	render_uplink(m, out);
	render_prober(m, out);
	started = LOAD(m->started_unix_ms);
	if (started > 0) {
		mxs_prom_head(out, "mxsentry_agent_start_time_seconds", "gauge",
		              "When the agent started, Unix seconds.");
		fprintf(out, "mxsentry_agent_start_time_seconds %.3f\n", (double)started / 1000.0);
	}
}

/* ---- the server ---------------------------------------------------- */

struct mxs_agent_metrics_server {
	struct mxs_httpd *httpd;
	struct mxs_agent_metrics *m;
	mxs_agent_metrics_fill_fn fill;
	void *arg;
};

static void
reply_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "text/plain; charset=utf-8");
	if (evbuffer_add(out, text, strlen(text)) != 0) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evhttp_send_reply(req, code, reason, out);
}

static void
get_metrics(struct mxs_agent_metrics_server *s, struct evhttp_request *req)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (s->fill != NULL)
		s->fill(s->m, s->arg);
	if ((f = open_memstream(&text, &len)) == NULL) {
		reply_text(req, 500, "Internal Server Error", "out of memory\n");
		return;
	}
	mxs_agent_metrics_render(s->m, f);
	if (fclose(f) != 0 || evbuffer_add(out, text, len) != 0) {
		free(text);
		reply_text(req, 500, "Internal Server Error", "out of memory\n");
		return;
	}
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", out);
}

static void
handle(struct evhttp_request *req, void *arg)
{
	struct mxs_agent_metrics_server *s = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;

	if (path == NULL || strcmp(path, "/metrics") != 0) {
		reply_text(req, 404, "Not Found", "not found: only /metrics is served\n");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		reply_text(req, 405, "Method Not Allowed", "method not allowed (allowed: GET)\n");
		return;
	}
	get_metrics(s, req);
}

int
mxs_agent_metrics_start(const char *listen, struct mxs_agent_metrics *m,
                        mxs_agent_metrics_fill_fn fill, void *arg,
                        struct mxs_agent_metrics_server **out, char *errstr, size_t errlen)
{
	static const struct mxs_httpd_limits lim = {MXS_AGENT_METRICS_HEADERS_MAX,
	                                            MXS_AGENT_METRICS_BODY_MAX,
	                                            MXS_AGENT_METRICS_TIMEOUT_S};
	struct mxs_agent_metrics_server *s;
	int rc;

	*out = NULL;
	if (listen == NULL || listen[0] == '\0')
		return MXS_OK; /* off */
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return mxs_seterr(errstr, errlen, MXS_ENOMEM, "out of memory");
	s->m = m;
	s->fill = fill;
	s->arg = arg;
	if ((rc = mxs_httpd_start("metrics_listen", listen, &lim, handle, s, &s->httpd, errstr,
	                          errlen)) != 0) {
		free(s);
		return rc;
	}
	*out = s;
	return MXS_OK;
}

int
mxs_agent_metrics_port(const struct mxs_agent_metrics_server *s)
{
	return s != NULL ? mxs_httpd_port(s->httpd) : -1;
}

void
mxs_agent_metrics_stop(struct mxs_agent_metrics_server **sp)
{
	struct mxs_agent_metrics_server *s;

	if (sp == NULL || (s = *sp) == NULL)
		return;
	*sp = NULL;
	mxs_httpd_stop(&s->httpd); /* joined: fill is not called any more */
	free(s);
}
