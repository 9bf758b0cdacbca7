/*
 * http_api — the collector's HTTP JSON API and /metrics (see http_api.h).
 *
 * Threading: after mxs_api_start every handler runs on the API's server
 * thread (common/mxs_httpd.c) with the API's own store handle; the only
 * cross-thread state is mxs_api_stop's wake-up and the relaxed atomics of
 * struct mxs_metrics.
 *
 * The JSON bodies are built in api_json.c; every string that goes into a
 * reply, even a client's own, goes through mxs_api_json_str (invalid UTF-8
 * becomes U+FFFD).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <jansson.h>
#include <netinet/in.h>

#include "api_json.h"
#include "http_api.h"
#include "mxs_clock.h"
#include "mxs_httpd.h"
#include "mxs_log.h"
#include "store.h"

struct mxs_api {
	struct mxs_httpd *httpd;
	struct mxs_store *st;
	struct mxs_metrics *m;
	char token[MXS_API_TOKEN_MAX + 1];
	size_t token_len;
	int64_t stale_after_s;
};

#define ADD(x) atomic_fetch_add_explicit(&(x), 1, memory_order_relaxed)

/* ---- replies ------------------------------------------------------- */

static const char *
reason_phrase(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	default:
		return "Internal Server Error";
	}
}

static void reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
        MXS_PRINTF(3, 4);

/* Send body (stolen; NULL means building it ran out of memory). */
static void
reply_json(struct evhttp_request *req, int code, json_t *body)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char *text;

	if (body == NULL) {
		reply_error(req, 500, "out of memory");
		return;
	}
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL || evbuffer_add(out, text, strlen(text)) != 0 ||
	    evbuffer_add(out, "\n", 1) != 0) {
		free(text);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	free(text);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, code, reason_phrase(code), out);
}

static void
reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	char msg[512];
	json_t *body;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	body = json_object();
	if (body == NULL || json_object_set_new(body, "error", mxs_api_json_str(msg)) != 0) {
		json_decref(body);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	reply_json(req, code, body);
}

static void
reply_store_error(struct mxs_api *api, struct evhttp_request *req, const char *what,
                  const char *err)
{
	ADD(api->m->store_errors);
	mxs_err("event=api_store_error op=%s msg=\"%s\"", what, err);
	reply_error(req, 500, "store error: %s", err);
}

/* ---- input --------------------------------------------------------- */

/*
 * Normalise a domain name from a client: lower case, one trailing dot
 * stripped, then letters, digits and hyphens in labels of 1..63 octets
 * that neither start nor end with a hyphen, 253 octets at most.
 * 0 and out filled, or -1.
 */
static int
norm_domain(const char *in, size_t len, char out[MXS_STORE_NAME_MAX])
{
	size_t i, label = 0;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return -1;
	for (i = 0; i < len; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		out[i] = c;
		if (c == '.') {
			if (label == 0 || out[i - 1] == '-')
				return -1;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return -1;
		if (c == '-' && label == 0)
			return -1;
		if (++label > 63)
			return -1;
	}
	if (out[len - 1] == '-')
		return -1;
	out[len] = '\0';
	return 0;
}

/* The NAME of PREFIX/NAME in an encoded path, decoded and normalised. */
static int
path_domain(const char *path, size_t prefix_len, char out[MXS_STORE_NAME_MAX])
{
	const char *seg = path + prefix_len;
	char *dec;
	size_t dlen;
	int rc;

	if (strchr(seg, '/') != NULL || strlen(seg) > 3 * MXS_STORE_NAME_MAX)
		return -1;
	if ((dec = evhttp_uridecode(seg, 0, &dlen)) == NULL)
		return -1;
	rc = dlen == strlen(dec) ? norm_domain(dec, dlen, out) : -1;
	free(dec);
	return rc;
}

/* Bearer token check in time independent of where the tokens differ. */
static int
authorized(const struct mxs_api *api, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	const unsigned char *given;
	size_t glen, i;
	unsigned char diff;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	for (h += 7; *h == ' '; h++)
		;
	given = (const unsigned char *)h;
	glen = strlen(h);
	diff = glen != api->token_len;
	for (i = 0; i < api->token_len; i++)
		diff |= (unsigned char)(api->token[i] ^ (i < glen ? given[i] : 0));
	return diff == 0;
}

/* ---- /api/v1/domains ----------------------------------------------- */

/* All listed domains into *outp (caller frees); *n the count. */
static int
list_domains(struct mxs_api *api, struct mxs_store_domain **outp, size_t *n, uint64_t *ver,
             char *err, size_t errlen)
{
	struct mxs_store_domain *d = NULL;
	size_t max = 0, total = 0;
	int rc, tries;

	*outp = NULL;
	*n = 0;
	/* The listener thread may add domains between count and copy. */
	for (tries = 0; tries < 3; tries++) {
		rc = mxs_store_domain_list(api->st, d, max, &total, ver, err, errlen);
		if (rc != MXS_OK) {
			free(d);
			return rc;
		}
		if (total <= max || max >= MXS_API_DOMAINS_MAX)
			break;
		free(d);
		max = total + 16 > MXS_API_DOMAINS_MAX ? MXS_API_DOMAINS_MAX : total + 16;
		if ((d = calloc(max, sizeof(*d))) == NULL)
			return mxs_seterr(err, errlen, MXS_ENOMEM, "out of memory");
	}
	*outp = d;
	*n = total < max ? total : max;
	return MXS_OK;
}

/* Whether name is on the job list (1, copied to *out if not NULL; 0) or a
 * store error (-1).  Reads the whole list: the store has no lookup by
 * name, and this serves on-call requests, not agents. */
static int
find_domain(struct mxs_api *api, const char *name, struct mxs_store_domain *out, char *err,
            size_t errlen)
{
	struct mxs_store_domain *d;
	uint64_t ver;
	size_t n, i;
	int found = 0;

	if (list_domains(api, &d, &n, &ver, err, errlen) != MXS_OK)
		return -1;
	for (i = 0; i < n && !found; i++)
		if ((found = strcmp(d[i].domain, name) == 0) && out != NULL)
			*out = d[i];
	free(d);
	return found;
}

static int
watched(struct mxs_api *api, const char *name, char *err, size_t errlen)
{
	return find_domain(api, name, NULL, err, errlen);
}

static void
get_domains(struct mxs_api *api, struct evhttp_request *req)
{
	struct mxs_store_domain *d;
	json_t *arr, *body;
	uint64_t ver = 0;
	char err[512];
	size_t n, i;

	if (list_domains(api, &d, &n, &ver, err, sizeof(err)) != MXS_OK) {
		reply_store_error(api, req, "domain_list", err);
		return;
	}
	arr = json_array();
	for (i = 0; arr != NULL && i < n; i++)
		if (json_array_append_new(
		            arr, json_pack("{s:o,s:I,s:o}", "domain", mxs_api_json_str(d[i].domain),
		                           "interval_s", (json_int_t)d[i].interval_s, "added",
		                           mxs_api_json_time(d[i].added_ms))) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	free(d);
	body = json_pack("{s:I,s:o}", "list_version", mxs_api_json_u64(ver), "domains", arr);
	reply_json(req, 200, body);
}

static void
post_domain(struct mxs_api *api, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct mxs_store_domain d;
	json_t *root = NULL, *jd, *ji;
	json_error_t jerr;
	const char *key;
	json_t *val;
	char err[512];
	int created = 0, rc;
	json_int_t iv = MXS_API_INTERVAL_DFLT;

	memset(&d, 0, sizeof(d));
	if (len > MXS_API_BODY_MAX) {
		reply_error(req, 413, "body over %d bytes", MXS_API_BODY_MAX);
		return;
	}
	root = json_loadb((const char *)evbuffer_pullup(in, (ev_ssize_t)len), len,
	                  JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || !json_is_object(root)) {
		reply_error(req, 400, "body is not a JSON object%s%s", root ? "" : ": ",
		            root ? "" : jerr.text);
		goto out;
	}
	json_object_foreach(root, key, val)
	{
		if (strcmp(key, "domain") != 0 && strcmp(key, "interval_s") != 0) {
			reply_error(req, 400, "unknown field \"%s\"", key);
			goto out;
		}
	}
	jd = json_object_get(root, "domain");
	if (!json_is_string(jd) ||
	    norm_domain(json_string_value(jd), json_string_length(jd), d.domain) != 0 ||
	    strlen(json_string_value(jd)) != json_string_length(jd)) {
		reply_error(req, 400, "domain must be a host name (letters, digits, hyphens)");
		goto out;
	}
	if ((ji = json_object_get(root, "interval_s")) != NULL) {
		iv = json_is_integer(ji) ? json_integer_value(ji) : -1;
		if (iv < MXS_API_INTERVAL_MIN || iv > MXS_API_INTERVAL_MAX) {
			reply_error(req, 400, "interval_s must be an integer in [%d, %d]",
			            MXS_API_INTERVAL_MIN, MXS_API_INTERVAL_MAX);
			goto out;
		}
	} else {
		/* No interval given: a watched domain keeps its own. */
		struct mxs_store_domain cur;
		if ((rc = find_domain(api, d.domain, &cur, err, sizeof(err))) < 0) {
			reply_store_error(api, req, "domain_list", err);
			goto out;
		}
		if (rc == 1)
			iv = cur.interval_s;
	}
	d.interval_s = (unsigned)iv;
	d.added_ms = mxs_wall_ms();
	rc = mxs_store_domain_put(api->st, &d, &created, err, sizeof(err));
	if (rc == MXS_EINVAL) {
		reply_error(req, 400, "%s", err);
		goto out;
	}
	if (rc != MXS_OK) {
		reply_store_error(api, req, "domain_put", err);
		goto out;
	}
	mxs_info("event=api_domain_put domain=%s interval_s=%u created=%d", d.domain, d.interval_s,
	         created);
	reply_json(req, created ? 201 : 200,
	           json_pack("{s:o,s:I,s:b}", "domain", mxs_api_json_str(d.domain), "interval_s",
	                     iv, "created", created));
out:
	json_decref(root);
}

static void
delete_domain(struct mxs_api *api, struct evhttp_request *req, const char *name)
{
	char err[512];
	int removed = 0;

	if (mxs_store_domain_remove(api->st, name, &removed, err, sizeof(err)) != MXS_OK) {
		reply_store_error(api, req, "domain_remove", err);
		return;
	}
	if (!removed) {
		reply_error(req, 404, "%s is not watched", name);
		return;
	}
	mxs_info("event=api_domain_remove domain=%s", name);
	reply_json(req, 200,
	           json_pack("{s:o,s:b}", "domain", mxs_api_json_str(name), "removed", 1));
}

/* ---- /api/v1/status/NAME ------------------------------------------- */

static void
get_status(struct mxs_api *api, struct evhttp_request *req, const char *name)
{
	struct mxs_store_obs *rows;
	json_t *arr, *body;
	char err[512];
	size_t n = 0, i;
	int64_t now = mxs_wall_ms();
	int w;

	if ((w = watched(api, name, err, sizeof(err))) < 0) {
		reply_store_error(api, req, "domain_list", err);
		return;
	}
	if ((rows = calloc(MXS_API_STATUS_ROWS, sizeof(*rows))) == NULL) {
		reply_error(req, 500, "out of memory");
		return;
	}
	if (mxs_store_latest(api->st, name, rows, MXS_API_STATUS_ROWS, &n, err, sizeof(err)) !=
	    MXS_OK) {
		free(rows);
		reply_store_error(api, req, "latest", err);
		return;
	}
	if (n == 0 && !w) {
		free(rows);
		reply_error(req, 404, "%s is not watched and has no observations", name);
		return;
	}
	arr = json_array();
	for (i = 0; arr != NULL && i < n && i < MXS_API_STATUS_ROWS; i++)
		if (json_array_append_new(arr, mxs_api_json_row(&rows[i], now)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	free(rows);
	body = json_pack("{s:o,s:b,s:o}", "domain", mxs_api_json_str(name), "watched", w, "rows",
	                 arr);
	if (body != NULL && n > MXS_API_STATUS_ROWS &&
	    json_object_set_new(body, "truncated", json_true()) != 0) {
		json_decref(body);
		body = NULL;
	}
	reply_json(req, 200, body);
}

/* ---- /api/v1/history/NAME ------------------------------------------ */

/* ?limit=N: 0 and *limit set, or -1. */
static int
parse_limit(const struct evhttp_uri *uri, size_t *limit)
{
	const char *q = evhttp_uri_get_query(uri), *v;
	struct evkeyvalq params;
	unsigned long n = 0;
	int rc = 0;

	*limit = MXS_API_HISTORY_DFLT;
	if (q == NULL)
		return 0;
	if (evhttp_parse_query_str(q, &params) != 0)
		return -1;
	if ((v = evhttp_find_header(&params, "limit")) != NULL) {
		if (*v == '\0' || strlen(v) > 4)
			rc = -1;
		for (; rc == 0 && *v != '\0'; v++) {
			if (*v < '0' || *v > '9')
				rc = -1;
			n = n * 10 + (unsigned long)(*v - '0');
		}
		if (rc == 0 && (n < 1 || n > MXS_API_HISTORY_MAX))
			rc = -1;
		if (rc == 0)
			*limit = n;
	}
	evhttp_clear_headers(&params);
	return rc;
}

static void
get_history(struct mxs_api *api, struct evhttp_request *req, const char *name)
{
	struct mxs_store_change *ch;
	json_t *arr, *body;
	char err[512];
	size_t limit, n = 0, i;
	int w = 1;

	if (parse_limit(evhttp_request_get_evhttp_uri(req), &limit) != 0) {
		reply_error(req, 400, "limit must be an integer in [1, %d]", MXS_API_HISTORY_MAX);
		return;
	}
	if ((ch = malloc(limit * sizeof(*ch))) == NULL) {
		reply_error(req, 500, "out of memory");
		return;
	}
	if (mxs_store_history(api->st, name, ch, limit, &n, err, sizeof(err)) != MXS_OK) {
		free(ch);
		reply_store_error(api, req, "history", err);
		return;
	}
	if (n == 0 && (w = watched(api, name, err, sizeof(err))) <= 0) {
		free(ch);
		if (w < 0)
			reply_store_error(api, req, "domain_list", err);
		else
			reply_error(req, 404, "%s is not watched and has no history", name);
		return;
	}
	arr = json_array();
	for (i = 0; arr != NULL && i < n && i < limit; i++)
		if (json_array_append_new(arr, mxs_api_json_change(&ch[i])) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	free(ch);
	body = json_pack("{s:o,s:o}", "domain", mxs_api_json_str(name), "changes", arr);
	reply_json(req, 200, body);
}

/* ---- /api/v1/regions ----------------------------------------------- */

/* The agents (caller frees *outp). */
static int
list_agents(struct mxs_api *api, struct mxs_store_agent **outp, size_t *n, char *err, size_t errlen)
{
	struct mxs_store_agent *a;
	int rc;

	*outp = NULL;
	*n = 0;
	if ((a = calloc(MXS_API_AGENTS_MAX, sizeof(*a))) == NULL)
		return mxs_seterr(err, errlen, MXS_ENOMEM, "out of memory");
	rc = mxs_store_agent_list(api->st, a, MXS_API_AGENTS_MAX, n, err, errlen);
	if (rc != MXS_OK) {
		free(a);
		return rc;
	}
	if (*n > MXS_API_AGENTS_MAX)
		*n = MXS_API_AGENTS_MAX;
	*outp = a;
	return MXS_OK;
}

static const char *
agent_state(const struct mxs_api *api, const struct mxs_store_agent *a, int64_t now)
{
	if (a->last_heartbeat_ms <= 0)
		return "never";
	return now - a->last_heartbeat_ms <= api->stale_after_s * 1000 ? "up" : "stale";
}

static void
get_regions(struct mxs_api *api, struct evhttp_request *req)
{
	struct mxs_store_agent *a;
	json_t *arr;
	char err[512];
	size_t n, i;
	int64_t now = mxs_wall_ms();

	if (list_agents(api, &a, &n, err, sizeof(err)) != MXS_OK) {
		reply_store_error(api, req, "agent_list", err);
		return;
	}
	arr = json_array();
	for (i = 0; arr != NULL && i < n; i++) {
		const char *state = agent_state(api, &a[i], now);

		if (json_array_append_new(arr, mxs_api_json_agent(&a[i], state, now)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	free(a);
	reply_json(req, 200, json_pack("{s:o}", "agents", arr));
}

/* ---- /metrics ------------------------------------------------------ */

/* A Prometheus label value: \, " and newline escaped, other control and
 * non-ASCII bytes (agent names come from certificates) as '?'. */
static void
label(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			fputc('?', out); /* the text format must stay valid UTF-8 */
		else
			fputc(*s, out);
	}
}

/* Gauges read from the store at scrape time.  A store error leaves them
 * out (the counters are still worth scraping) and is counted. */
static void
render_gauges(struct mxs_api *api, FILE *out)
{
	struct mxs_store_agent *a;
	uint64_t ver = 0;
	size_t n, i, up = 0, stale = 0, never = 0;
	int64_t now = mxs_wall_ms();
	char err[512];

	if (mxs_store_domain_list(api->st, NULL, 0, &n, &ver, err, sizeof(err)) != MXS_OK) {
		ADD(api->m->store_errors);
		mxs_warn("event=metrics_store_error op=domain_list msg=\"%s\"", err);
	} else {
		fprintf(out,
		        "# HELP mxsentry_domains_watched Domains on the job list.\n"
		        "# TYPE mxsentry_domains_watched gauge\n"
		        "mxsentry_domains_watched %zu\n",
		        n);
	}
	if (list_agents(api, &a, &n, err, sizeof(err)) != MXS_OK) {
		ADD(api->m->store_errors);
		mxs_warn("event=metrics_store_error op=agent_list msg=\"%s\"", err);
		return;
	}
	for (i = 0; i < n; i++) {
		const char *s = agent_state(api, &a[i], now);

		up += s[0] == 'u';
		stale += s[0] == 's';
		never += s[0] == 'n';
	}
	fprintf(out,
	        "# HELP mxsentry_agents Known agents by heartbeat state.\n"
	        "# TYPE mxsentry_agents gauge\n"
	        "mxsentry_agents{state=\"up\"} %zu\nmxsentry_agents{state=\"stale\"} %zu\n"
	        "mxsentry_agents{state=\"never\"} %zu\n",
	        up, stale, never);
	fprintf(out, "# HELP mxsentry_agent_spool_depth Results spooled by an agent, as of its "
	             "last heartbeat.\n# TYPE mxsentry_agent_spool_depth gauge\n");
	for (i = 0; i < n; i++) {
		fputs("mxsentry_agent_spool_depth{agent=\"", out);
		label(out, a[i].name);
		fputs("\",region=\"", out);
		label(out, a[i].region);
		fprintf(out, "\"} %llu\n", (unsigned long long)a[i].spool_depth);
	}
	free(a);
}

/* No token: Prometheus scrapers rarely carry one, and these numbers are
 * not secrets; operators restrict /metrics by the listen address. */
static void
get_metrics(struct mxs_api *api, struct evhttp_request *req)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL) {
		reply_error(req, 500, "out of memory");
		return;
	}
	mxs_metrics_render(api->m, f);
	render_gauges(api, f);
	if (fclose(f) != 0 || evbuffer_add(out, text, len) != 0) {
		free(text);
		reply_error(req, 500, "out of memory");
		return;
	}
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", out);
}

/* ---- routing ------------------------------------------------------- */

static int
method_ok(struct evhttp_request *req, enum evhttp_cmd_type want, const char *allow)
{
	if (evhttp_request_get_command(req) == want)
		return 1;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	reply_error(req, 405, "method not allowed (allowed: %s)", allow);
	return 0;
}

static void
route_named(struct mxs_api *api, struct evhttp_request *req, const char *path)
{
	static const struct {
		const char *prefix;
		enum evhttp_cmd_type method;
		const char *allow;
		void (*fn)(struct mxs_api *, struct evhttp_request *, const char *);
	} routes[] = {
	        {"/api/v1/domains/", EVHTTP_REQ_DELETE, "DELETE", delete_domain},
	        {"/api/v1/status/", EVHTTP_REQ_GET, "GET", get_status},
	        {"/api/v1/history/", EVHTTP_REQ_GET, "GET", get_history},
	};
	char name[MXS_STORE_NAME_MAX];
	size_t i, plen;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		plen = strlen(routes[i].prefix);
		if (strncmp(path, routes[i].prefix, plen) != 0)
			continue;
		if (path_domain(path, plen, name) != 0)
			reply_error(req, 400, "invalid domain name in path");
		else if (method_ok(req, routes[i].method, routes[i].allow))
			routes[i].fn(api, req, name);
		return;
	}
	reply_error(req, 404, "no such endpoint");
}

static void
api_handle(struct evhttp_request *req, void *arg)
{
	struct mxs_api *api = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;

	ADD(api->m->api_requests);
	if (path == NULL) {
		reply_error(req, 400, "bad request URI");
		return;
	}
	if (strcmp(path, "/metrics") == 0) {
		if (method_ok(req, EVHTTP_REQ_GET, "GET"))
			get_metrics(api, req);
		return;
	}
	if (strncmp(path, "/api/", 5) != 0) {
		reply_error(req, 404, "no such endpoint");
		return;
	}
	if (!authorized(api, req)) {
		ADD(api->m->api_unauthorized);
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
		                  "Bearer realm=\"mxsentry\"");
		reply_error(req, 401, "missing or wrong bearer token");
		return;
	}
	if (strcmp(path, "/api/v1/domains") == 0) {
		enum evhttp_cmd_type c = evhttp_request_get_command(req);

		if (c == EVHTTP_REQ_POST)
			post_domain(api, req);
		else if (method_ok(req, EVHTTP_REQ_GET, "GET, POST"))
			get_domains(api, req);
	} else if (strcmp(path, "/api/v1/regions") == 0) {
		if (method_ok(req, EVHTTP_REQ_GET, "GET"))
			get_regions(api, req);
	} else {
		route_named(api, req, path);
	}
}

/* ---- life cycle ---------------------------------------------------- */

static void
api_free(struct mxs_api *api)
{
	mxs_store_close(&api->st);
	explicit_bzero(api->token, sizeof(api->token));
	free(api);
}

int
mxs_api_start(const struct mxs_api_config *cfg, struct mxs_metrics *m, struct mxs_api **out,
              char *errstr, size_t errlen)
{
	static const struct mxs_httpd_limits lim = {16 * 1024, MXS_API_BODY_MAX, MXS_API_TIMEOUT_S};
	struct mxs_api *api;
	int rc;

	*out = NULL;
	if (cfg->token == NULL || cfg->token[0] == '\0' || strlen(cfg->token) > MXS_API_TOKEN_MAX)
		return mxs_seterr(errstr, errlen, MXS_ECONFIG, "API token must be 1 to %d bytes",
		                  MXS_API_TOKEN_MAX);
	if ((api = calloc(1, sizeof(*api))) == NULL)
		return mxs_seterr(errstr, errlen, MXS_ENOMEM, "out of memory");
	api->m = m;
	api->token_len = strlen(cfg->token);
	memcpy(api->token, cfg->token, api->token_len);
	api->stale_after_s = cfg->stale_after_s > 0 ? cfg->stale_after_s : MXS_API_STALE_DFLT;
	/* The store handle is the server thread's own from here on. */
	if ((rc = mxs_store_sqlite_open(cfg->db_path, NULL, &api->st, errstr, errlen)) != 0 ||
	    (rc = mxs_httpd_start("API", cfg->listen, &lim, api_handle, api, &api->httpd, errstr,
	                          errlen)) != 0) {
		api_free(api);
		return rc;
	}
	*out = api;
	return MXS_OK;
}

int
mxs_api_port(const struct mxs_api *api)
{
	return mxs_httpd_port(api->httpd);
}

void
mxs_api_stop(struct mxs_api **ap)
{
	struct mxs_api *api;

	if (ap == NULL || (api = *ap) == NULL)
		return;
	*ap = NULL;
	mxs_httpd_stop(&api->httpd); /* joined: the handler no longer runs */
	api_free(api);
}
