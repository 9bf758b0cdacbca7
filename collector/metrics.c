/*
 * metrics — counting into struct mxs_metrics and rendering it as
 * Prometheus text format 0.0.4 (see metrics.h for the threading contract).
 *
 * Latency buckets hold counts per bucket (not cumulative): the renderer
 * sums them, so one observation costs one atomic add.  The gauges read
 * from the store at scrape time are written by http_api.c, which owns a
 * store handle; this file knows only the counters.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "mxs_prom.h"

const double mxs_metrics_lat_bounds_ms[MXS_METRICS_LAT_BUCKETS] = {1, 2, 5, 10, 25, 50, 100, 250};

static const char *const check_names[MXS_STORE_NCHECKS] = {
        [MXS_STORE_CONNECT] = "connect", [MXS_STORE_SMTP] = "smtp", [MXS_STORE_TLS] = "tls",
        [MXS_STORE_PKIX] = "pkix",       [MXS_STORE_NAME] = "name", [MXS_STORE_DANE] = "dane",
        [MXS_STORE_STS] = "sts",
};

static const char *const status_names[MXS_MS_N] = {
        [MXS_MS_OK] = "ok",
        [MXS_MS_FAIL] = "fail",
        [MXS_MS_TEMPORARY] = "temporary",
        [MXS_MS_NOT_TESTED] = "not-tested",
};

#define LOAD(x)   atomic_load_explicit(&(x), memory_order_relaxed)
#define ADD(x, n) atomic_fetch_add_explicit(&(x), (n), memory_order_relaxed)

void
mxs_metrics_batch_latency(struct mxs_metrics *m, double ms)
{
	mxs_prom_hist_observe(m->lat_bucket, mxs_metrics_lat_bounds_ms, MXS_METRICS_LAT_BUCKETS,
	                      &m->lat_sum_us, &m->lat_count, ms);
}

void
mxs_metrics_obs(struct mxs_metrics *m, enum mxs_store_check c, const char *status)
{
	int s;

	if ((int)c < 0 || c >= MXS_STORE_NCHECKS || status == NULL)
		return;
	for (s = 0; s < MXS_MS_N; s++) {
		if (strcmp(status, status_names[s]) == 0) {
			ADD(m->obs[c][s], 1);
			return;
		}
	}
}

static void
counter(FILE *out, const char *name, const char *help, uint64_t v)
{
	mxs_prom_head(out, name, "counter", help);
	fprintf(out, "%s %llu\n", name, (unsigned long long)v);
}

/* A counter with one label: name{label="value"} for each pair. */
static void
counter2(FILE *out, const char *name, const char *help, const char *label, const char *l1,
         uint64_t v1, const char *l2, uint64_t v2)
{
	mxs_prom_head(out, name, "counter", help);
	fprintf(out, "%s{%s=\"%s\"} %llu\n", name, label, l1, (unsigned long long)v1);
	fprintf(out, "%s{%s=\"%s\"} %llu\n", name, label, l2, (unsigned long long)v2);
}

static void
render_latency(const struct mxs_metrics *m, FILE *out)
{
	mxs_prom_hist_render(out, "mxsentry_batch_latency_seconds",
	                     "Time from receiving a result batch to sending its Ack.",
	                     m->lat_bucket, mxs_metrics_lat_bounds_ms, MXS_METRICS_LAT_BUCKETS,
	                     &m->lat_sum_us);
}

void
mxs_metrics_render(const struct mxs_metrics *m, FILE *out)
{
	int64_t started;
	int c, s;

	counter(out, "mxsentry_messages_total", "Messages received on the agent port.",
	        LOAD(m->msgs));
	counter(out, "mxsentry_messages_garbage_total",
	        "Messages refused: not an Envelope, bad version or no body.",
	        LOAD(m->msgs_garbage));
	counter(out, "mxsentry_messages_oversize_total",
	        "Messages dropped by the receive size limit, as far as counted.",
	        LOAD(m->msgs_oversize));
	counter2(out, "mxsentry_hellos_total", "Agent Hellos by outcome.", "result", "ok",
	         LOAD(m->hello_ok), "refused", LOAD(m->hello_refused));
	counter(out, "mxsentry_not_registered_total",
	        "Requests refused because the agent had not said Hello.", LOAD(m->not_registered));
	counter(out, "mxsentry_batches_total", "Result batches received.", LOAD(m->batches));
	mxs_prom_head(out, "mxsentry_results_total", "counter", "Results received, by outcome.");
	fprintf(out, "mxsentry_results_total{outcome=\"stored\"} %llu\n",
	        (unsigned long long)LOAD(m->results_stored));
	fprintf(out, "mxsentry_results_total{outcome=\"duplicate\"} %llu\n",
	        (unsigned long long)LOAD(m->results_duplicate));
	fprintf(out, "mxsentry_results_total{outcome=\"refused\"} %llu\n",
	        (unsigned long long)LOAD(m->results_refused));
	counter(out, "mxsentry_rows_stored_total", "Observation rows written to the store.",
	        LOAD(m->rows_stored));
	counter(out, "mxsentry_heartbeats_total", "Agent heartbeats received.",
	        LOAD(m->heartbeats));
	counter(out, "mxsentry_job_requests_total", "Job list requests from agents.",
	        LOAD(m->job_requests));
	counter(out, "mxsentry_store_errors_total", "Store operations that failed.",
	        LOAD(m->store_errors));
	counter(out, "mxsentry_api_requests_total", "HTTP API requests, /metrics included.",
	        LOAD(m->api_requests));
	counter(out, "mxsentry_api_unauthorized_total",
	        "HTTP API requests refused for a missing or wrong token.",
	        LOAD(m->api_unauthorized));

	counter(out, "mxsentry_agent_connections_total",
	        "Connections accepted on the agent port (from nng's statistics).",
	        LOAD(m->conn_accepted));
	mxs_prom_head(
	        out, "mxsentry_agent_connection_errors_total", "counter",
	        "Agent port connections that failed: TLS authentication, protocol (a message over "
	        "the size limit), other.");
	fprintf(out, "mxsentry_agent_connection_errors_total{kind=\"auth\"} %llu\n",
	        (unsigned long long)LOAD(m->conn_auth_errors));
	fprintf(out, "mxsentry_agent_connection_errors_total{kind=\"proto\"} %llu\n",
	        (unsigned long long)LOAD(m->conn_proto_errors));
	fprintf(out, "mxsentry_agent_connection_errors_total{kind=\"other\"} %llu\n",
	        (unsigned long long)LOAD(m->conn_other_errors));

	mxs_prom_head(out, "mxsentry_observations_total", "counter",
	              "Observations stored, by check and verdict status.");
	for (c = 0; c < MXS_STORE_NCHECKS; c++)
		for (s = 0; s < MXS_MS_N; s++)
			fprintf(out,
			        "mxsentry_observations_total{check=\"%s\",status=\"%s\"} %llu\n",
			        check_names[c], status_names[s],
			        (unsigned long long)LOAD(m->obs[c][s]));

	render_latency(m, out);

	started = LOAD(m->started_ms);
	if (started > 0) {
		mxs_prom_head(out, "mxsentry_start_time_seconds", "gauge",
		              "When the collector started, Unix seconds.");
		fprintf(out, "mxsentry_start_time_seconds %.3f\n", (double)started / 1000.0);
	}
}
