/*
 * api_json — the JSON bodies of the collector's HTTP API (see api_json.h).
 *
 * Every string read from the store goes into JSON through
 * mxs_api_json_str(), which replaces invalid UTF-8 with U+FFFD: agents are
 * outside the process, and a hostile reason or certificate name must not
 * break a reply.  Optional
 * facts that are empty in the store ("" tls_version, hashes, sts_*, dnssec,
 * mx_set) are JSON null; key and verdict fields stay strings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api_json.h"

static const char *const check_keys[MXS_STORE_NCHECKS] = {
        [MXS_STORE_CONNECT] = "connect", [MXS_STORE_SMTP] = "smtp", [MXS_STORE_TLS] = "tls",
        [MXS_STORE_PKIX] = "pkix",       [MXS_STORE_NAME] = "name", [MXS_STORE_DANE] = "dane",
        [MXS_STORE_STS] = "sts",
};

/* ---- strings and times --------------------------------------------- */

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
json_t *
mxs_api_json_str(const char *s)
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

/* mxs_api_json_str, or null for "". */
static json_t *
jopt(const char *s)
{
	return s[0] == '\0' ? json_null() : mxs_api_json_str(s);
}

json_t *
mxs_api_json_time(int64_t ms)
{
	char buf[32];

	if (ms <= 0)
		return json_null();
	rfc3339(ms, buf, sizeof(buf));
	return json_string(buf);
}

json_int_t
mxs_api_json_u64(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v;
}

/* Add value (stolen, may be NULL) under key; 0 or -1. */
static int
set(json_t *o, const char *key, json_t *value)
{
	return json_object_set_new(o, key, value);
}

/* ---- status rows -------------------------------------------------- */

static json_t *
checks_json(const struct mxs_store_obs *o)
{
	json_t *c = json_object();
	int i;

	for (i = 0; c != NULL && i < MXS_STORE_NCHECKS; i++)
		if (set(c, check_keys[i],
		        json_pack("{s:o,s:o,s:o}", "status", mxs_api_json_str(o->v[i].status),
		                  "result_type", mxs_api_json_str(o->v[i].result_type), "reason",
		                  mxs_api_json_str(o->v[i].reason))) != 0) {
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
			if (json_array_append_new(a, mxs_api_json_str(line)) != 0) {
				json_decref(a);
				return NULL;
			}
		}
		s += len + (nl != NULL);
	}
	return a;
}

json_t *
mxs_api_json_row(const struct mxs_store_obs *o, int64_t now)
{
	json_t *r = json_pack("{s:o,s:o,s:o,s:o,s:I}", "mx_host", mxs_api_json_str(o->mx_host),
	                      "address", mxs_api_json_str(o->address), "region",
	                      mxs_api_json_str(o->region), "seen", mxs_api_json_time(o->t_ms),
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

/* ---- history ------------------------------------------------------ */

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
		if (name[0] != '\0' && set(o, name, mxs_api_json_str(val)) != 0) {
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
		if (k > 0 && json_array_append_new(a, mxs_api_json_str(item)) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

/* One change of a domain's history. */
json_t *
mxs_api_json_change(const struct mxs_store_change *ch)
{
	char t[32];

	rfc3339(ch->t_ms, t, sizeof(t));
	return json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "t", t, "mx_host",
	                 mxs_api_json_str(ch->mx_host), "address", mxs_api_json_str(ch->address),
	                 "region", mxs_api_json_str(ch->region), "what", what_json(ch->what), "old",
	                 fields_json(ch->old_values), "new", fields_json(ch->new_values));
}

/* ---- agents ------------------------------------------------------- */

json_t *
mxs_api_json_agent(const struct mxs_store_agent *a, const char *state, int64_t now)
{
	json_t *j = json_pack(
	        "{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:s}", "name", mxs_api_json_str(a->name), "region",
	        mxs_api_json_str(a->region), "version", mxs_api_json_str(a->version), "address",
	        mxs_api_json_str(a->address), "first_seen", mxs_api_json_time(a->first_seen_ms),
	        "last_hello", mxs_api_json_time(a->last_hello_ms), "last_heartbeat",
	        mxs_api_json_time(a->last_heartbeat_ms), "state", state);
	int bad;

	if (j == NULL)
		return NULL;
	bad = set(j, "heartbeat_age_s",
	          a->last_heartbeat_ms > 0 ? json_integer((now - a->last_heartbeat_ms) / 1000)
	                                   : json_null());
	bad |= set(j, "egress", mxs_api_json_str(a->egress));
	bad |= set(j, "egress_detail", mxs_api_json_str(a->egress_detail));
	bad |= set(j, "spool_depth", json_integer(mxs_api_json_u64(a->spool_depth)));
	bad |= set(j, "spool_bytes", json_integer(mxs_api_json_u64(a->spool_bytes)));
	bad |= set(j, "spool_dropped", json_integer(mxs_api_json_u64(a->spool_dropped)));
	bad |= set(j, "probes_run", json_integer(mxs_api_json_u64(a->probes_run)));
	bad |= set(j, "probes_failed", json_integer(mxs_api_json_u64(a->probes_failed)));
	bad |= set(j, "cycles", json_integer(mxs_api_json_u64(a->cycles)));
	bad |= set(j, "last_cycle_ms", json_integer(a->last_cycle_ms));
	bad |= set(j, "uptime_s", json_integer(mxs_api_json_u64(a->uptime_s)));
	if (bad) {
		json_decref(j);
		return NULL;
	}
	return j;
}
