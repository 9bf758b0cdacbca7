/*
 * http_api — the collector's HTTP JSON API and /metrics (see http_api.h).
 *
 * Threading: after mxs_api_start every handler runs on the API's server
 * thread (common/mxs_httpd.c) with the API's own store handle; the only
 * cross-thread state is mxs_api_stop's wake-up and the relaxed atomics of
 * struct mxs_metrics.
 *
 * Every string read from the store goes into JSON through jstr(), which
 * replaces invalid UTF-8 with U+FFFD: agents are outside the process, and
 * a hostile reason or certificate name must not break a reply.  Optional
 * facts that are empty in the store ("" tls_version, hashes, sts_*, dnssec,
 * mx_set) are JSON null; key and verdict fields stay strings.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <jansson.h>
#include <netinet/in.h>

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

static const char *const check_keys[MXS_STORE_NCHECKS] = {
        [MXS_STORE_CONNECT] = "connect", [MXS_STORE_SMTP] = "smtp", [MXS_STORE_TLS] = "tls",
        [MXS_STORE_PKIX] = "pkix",       [MXS_STORE_NAME] = "name", [MXS_STORE_DANE] = "dane",
        [MXS_STORE_STS] = "sts",
};

/* ---- small helpers ------------------------------------------------- */

/* "2026-11-23T10:00:00Z" for a Unix time in ms. */
static void
rfc3339(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "1970-01-01T00:00:00Z");
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t left)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xE0)
		lo = 0xA0;
	else if (p[0] == 0xED)
		hi = 0x9F;
	else if (p[0] == 0xF0)
		lo = 0x90;
	else if (p[0] == 0xF4)
		hi = 0x8F;
	if (left < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

/* A JSON string of s; invalid UTF-8 bytes become U+FFFD.  New reference,
 * NULL only when out of memory. */
static json_t *
jstr(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i, k, o = 0;
	char *buf;
	json_t *j;

	for (i = 0; i < n; i += k)
		if ((k = utf8_len(p + i, n - i)) == 0)
			break;
	if (i == n)
		return json_stringn(s, n);
	if ((buf = malloc(n * 3 + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i += k) {
		if ((k = utf8_len(p + i, n - i)) == 0) {
			memcpy(buf + o, "\xEF\xBF\xBD", 3);
			o += 3;
			k = 1;
		} else {
			memcpy(buf + o, s + i, k);
			o += k;
		}
	}
	j = json_stringn(buf, o);
	free(buf);
	return j;
}

/* jstr, or null for "". */
static json_t *
jopt(const char *s)
{
	return s[0] == '\0' ? json_null() : jstr(s);
}

static json_t *
jtime(int64_t ms)
{
	char buf[32];

	if (ms <= 0)
		return json_null();
	rfc3339(ms, buf, sizeof(buf));
	return json_string(buf);
}

static json_int_t
ju(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v;
}

/* Add value (stolen, may be NULL) under key; 0 or -1. */
static int
set(json_t *o, const char *key, json_t *value)
{
	return json_object_set_new(o, key, value);
}

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
	if (body == NULL || set(body, "error", jstr(msg)) != 0) {
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
		if (json_array_append_new(arr,
		                          json_pack("{s:o,s:I,s:o}", "domain", jstr(d[i].domain),
		                                    "interval_s", (json_int_t)d[i].interval_s,
		                                    "added", jtime(d[i].added_ms))) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	free(d);
	body = json_pack("{s:I,s:o}", "list_version", ju(ver), "domains", arr);
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
	           json_pack("{s:o,s:I,s:b}", "domain", jstr(d.domain), "interval_s", iv, "created",
	                     created));
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
	reply_json(req, 200, json_pack("{s:o,s:b}", "domain", jstr(name), "removed", 1));
}

/* ---- /api/v1/status/NAME ------------------------------------------- */

static json_t *
checks_json(const struct mxs_store_obs *o)
{
	json_t *c = json_object();
	int i;

	for (i = 0; c != NULL && i < MXS_STORE_NCHECKS; i++)
		if (set(c, check_keys[i],
		        json_pack("{s:o,s:o,s:o}", "status", jstr(o->v[i].status), "result_type",
		                  jstr(o->v[i].result_type), "reason", jstr(o->v[i].reason))) !=
		    0) {
			json_decref(c);
			return NULL;
		}
	return c;
}

/* The TLSA records, one per line, as an array. */
static json_t *
tlsa_json(const char *s)
{
	json_t *a = json_array();
	char line[MXS_STORE_TLSA_MAX];
	const char *nl;
	size_t len;

	while (a != NULL && *s != '\0') {
		nl = strchr(s, '\n');
		len = nl ? (size_t)(nl - s) : strlen(s);
		if (len > 0) {
			memcpy(line, s, len < sizeof(line) ? len : sizeof(line) - 1);
			line[len < sizeof(line) ? len : sizeof(line) - 1] = '\0';
			if (json_array_append_new(a, jstr(line)) != 0) {
				json_decref(a);
				return NULL;
			}
		}
		s += len + (nl != NULL);
	}
	return a;
}

static json_t *
row_json(const struct mxs_store_obs *o, int64_t now)
{
	json_t *r = json_pack("{s:o,s:o,s:o,s:o,s:I}", "mx_host", jstr(o->mx_host), "address",
	                      jstr(o->address), "region", jstr(o->region), "seen", jtime(o->t_ms),
	                      "age_s", (json_int_t)((now - o->t_ms) / 1000));
	int bad;

	if (r == NULL)
		return NULL;
	bad = set(r, "starttls",
	          o->starttls_advertised < 0 ? json_null() : json_boolean(o->starttls_advertised));
	bad |= set(r, "checks", checks_json(o));
	bad |= set(r, "tls_version", jopt(o->tls_version));
	bad |= set(r, "days_to_expiry",
	           o->days_to_expiry == MXS_STORE_NO_DAYS ? json_null()
	                                                  : json_integer(o->days_to_expiry));
	bad |= set(r, "leaf_sha256", jopt(o->leaf_sha256));
	bad |= set(r, "spki_sha256", jopt(o->spki_sha256));
	bad |= set(r, "dnssec", jopt(o->dnssec));
	bad |= set(r, "mx_set", jopt(o->mx_set));
	bad |= set(r, "sts_mode", jopt(o->sts_mode));
	bad |= set(r, "sts_id", jopt(o->sts_id));
	bad |= set(r, "sts_body_sha256", jopt(o->sts_body_sha256));
	bad |= set(r, "tlsa", tlsa_json(o->tlsa));
	if (bad) {
		json_decref(r);
		return NULL;
	}
	return r;
}

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
		if (json_array_append_new(arr, row_json(&rows[i], now)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	free(rows);
	body = json_pack("{s:o,s:b,s:o}", "domain", jstr(name), "watched", w, "rows", arr);
	if (body != NULL && n > MXS_API_STATUS_ROWS && set(body, "truncated", json_true()) != 0) {
		json_decref(body);
		body = NULL;
	}
	reply_json(req, 200, body);
}

/* ---- /api/v1/history/NAME ------------------------------------------ */

/* The store's "name=value" lines (value escaped: \\ and \n) as an object. */
static json_t *
fields_json(const char *s)
{
	json_t *o = json_object();
	char name[64], *val;
	size_t vlen, vmax = strlen(s) + 1, k;

	if (o == NULL || (val = malloc(vmax)) == NULL) {
		json_decref(o);
		return NULL;
	}
	while (*s != '\0') {
		for (k = 0; *s != '\0' && *s != '=' && *s != '\n'; s++)
			if (k < sizeof(name) - 1)
				name[k++] = *s;
		name[k] = '\0';
		if (*s != '=') { /* no value: a truncated list ("...") */
			if (*s == '\n')
				s++;
			continue;
		}
		for (s++, vlen = 0; *s != '\0' && *s != '\n'; s++) {
			if (*s == '\\' && s[1] == 'n') {
				val[vlen++] = '\n';
				s++;
			} else if (*s == '\\' && s[1] == '\\') {
				val[vlen++] = '\\';
				s++;
			} else {
				val[vlen++] = *s;
			}
		}
		val[vlen] = '\0';
		if (*s == '\n')
			s++;
		if (name[0] != '\0' && set(o, name, jstr(val)) != 0) {
			json_decref(o);
			o = NULL;
			break;
		}
	}
	free(val);
	return o;
}

/* "a,b,c" as an array of strings. */
static json_t *
what_json(const char *s)
{
	json_t *a = json_array();
	char item[MXS_STORE_WHAT_MAX];
	size_t k;

	while (a != NULL && *s != '\0') {
		for (k = 0; *s != '\0' && *s != ','; s++)
			if (k < sizeof(item) - 1)
				item[k++] = *s;
		item[k] = '\0';
		if (*s == ',')
			s++;
		if (k > 0 && json_array_append_new(a, jstr(item)) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

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
	json_t *arr, *body, *c;
	char err[512], t[32];
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
	for (i = 0; arr != NULL && i < n && i < limit; i++) {
		rfc3339(ch[i].t_ms, t, sizeof(t));
		c = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "t", t, "mx_host",
		              jstr(ch[i].mx_host), "address", jstr(ch[i].address), "region",
		              jstr(ch[i].region), "what", what_json(ch[i].what), "old",
		              fields_json(ch[i].old_values), "new", fields_json(ch[i].new_values));
		if (json_array_append_new(arr, c) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	free(ch);
	body = json_pack("{s:o,s:o}", "domain", jstr(name), "changes", arr);
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

static json_t *
agent_json(const struct mxs_api *api, const struct mxs_store_agent *a, int64_t now)
{
	json_t *j = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:s}", "name", jstr(a->name), "region",
	                      jstr(a->region), "version", jstr(a->version), "address",
	                      jstr(a->address), "first_seen", jtime(a->first_seen_ms), "last_hello",
	                      jtime(a->last_hello_ms), "last_heartbeat",
	                      jtime(a->last_heartbeat_ms), "state", agent_state(api, a, now));
	int bad;

	if (j == NULL)
		return NULL;
	bad = set(j, "heartbeat_age_s",
	          a->last_heartbeat_ms > 0 ? json_integer((now - a->last_heartbeat_ms) / 1000)
	                                   : json_null());
	bad |= set(j, "egress", jstr(a->egress));
	bad |= set(j, "egress_detail", jstr(a->egress_detail));
	bad |= set(j, "spool_depth", json_integer(ju(a->spool_depth)));
	bad |= set(j, "spool_bytes", json_integer(ju(a->spool_bytes)));
	bad |= set(j, "spool_dropped", json_integer(ju(a->spool_dropped)));
	bad |= set(j, "probes_run", json_integer(ju(a->probes_run)));
	bad |= set(j, "probes_failed", json_integer(ju(a->probes_failed)));
	bad |= set(j, "cycles", json_integer(ju(a->cycles)));
	bad |= set(j, "last_cycle_ms", json_integer(a->last_cycle_ms));
	bad |= set(j, "uptime_s", json_integer(ju(a->uptime_s)));
	if (bad) {
		json_decref(j);
		return NULL;
	}
	return j;
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
	for (i = 0; arr != NULL && i < n; i++)
		if (json_array_append_new(arr, agent_json(api, &a[i], now)) != 0) {
			json_decref(arr);
			arr = NULL;
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
