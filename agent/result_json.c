/*
 * result_json — a probe result as JSON, schema 1 (docs/probe-json.md).
 *
 * The same tree always gives the same bytes: keys are inserted in schema
 * order and dumped in insertion order, and nothing depends on the clock,
 * hashing or locale.  Text that came from the network may hold any byte;
 * jansson accepts only UTF-8, so a string it rejects is sent again with
 * every byte above 0x7f replaced by '?' (control characters are escaped by
 * jansson and need nothing).  Empty optional text, zero reply codes and a
 * zero X.509 error are null, never "" or 0; so are the "none" sentinels of
 * the DANE and MTA-STS fields (a depth of -1, a coverage of -1, an HTTP
 * status of 0), and objects for steps that never ran (a TLSA lookup not
 * asked, an HTTPS certificate never judged).
 *
 * Every builder below attaches its object to the parent before filling it,
 * so on any failure the caller only has to release the root.
 */
#include "output.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include <jansson.h>

#define DUMP_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER)

/* A JSON string of s, read no further than max bytes; NULL on ENOMEM. */
static json_t *
jstr(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	json_t *j;
	char *ascii;

	if ((j = json_stringn(s, n)) != NULL)
		return j;
	/* Not UTF-8 (or out of memory, in which case this fails too). */
	if ((ascii = malloc(n + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		ascii[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	j = json_stringn(ascii, n);
	free(ascii);
	return j;
}

/* As jstr, but "" is null. */
static json_t *
jstr_opt(const char *s, size_t max)
{
	return s[0] == '\0' ? json_null() : jstr(s, max);
}

/* A number where 0 means "none": reply codes, X.509 errors. */
static json_t *
jint_opt(long long v)
{
	return v == 0 ? json_null() : json_integer(v);
}

/* Lower-case hex of n bytes (n <= 32: a SHA-256 digest). */
static json_t *
jhex(const unsigned char *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char buf[64];

	if (n > sizeof(buf) / 2)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		buf[2 * i] = digits[b[i] >> 4];
		buf[2 * i + 1] = digits[b[i] & 0x0f];
	}
	return json_stringn(buf, 2 * n);
}

/*
 * Add v to object o under k.  v may be NULL (its allocation failed); on
 * failure json_object_set_new releases v, so nothing leaks either way.
 */
static int
put(json_t *o, const char *k, json_t *v)
{
	return json_object_set_new(o, k, v) == 0 ? 0 : MXS_ENOMEM;
}

/* Add v to o under k and return it borrowed (o owns it); NULL on failure. */
static json_t *
attach(json_t *o, const char *k, json_t *v)
{
	return put(o, k, v) == 0 ? v : NULL;
}

/* Append v to array a and return it borrowed; NULL on failure. */
static json_t *
append(json_t *a, json_t *v)
{
	return json_array_append_new(a, v) == 0 ? v : NULL;
}

/* "RFC3339 UTC with milliseconds" of Unix ms; MXS_EINVAL outside years 0..9999. */
static int
rfc3339_ms(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms / 1000, frac = ms % 1000;
	struct tm tm;
	time_t t;
	int n;

	if (frac < 0) {
		frac += 1000;
		s -= 1;
	}
	t = (time_t)s;
	if ((int64_t)t != s || gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 ||
	    tm.tm_year > 9999 - 1900)
		return MXS_EINVAL;
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
	return n > 0 && (size_t)n < len ? 0 : MXS_EINVAL;
}

static const char *
rcode_name(int rcode, char *buf, size_t len)
{
	static const char *const names[] = {
	        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	};

	if (rcode >= 0 && (size_t)rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	snprintf(buf, len, "RCODE%d", rcode);
	return buf;
}

/* {"answered","rcode","dnssec","why_bogus","error","ttl","ms"} under k; rcode is
 * null and error says why when the lookup got no answer. */
static int
add_dns(json_t *parent, const char *k, const struct mxs_dns *d)
{
	char rc[24];
	json_t *o;

	if ((o = attach(parent, k, json_object())) == NULL)
		return MXS_ENOMEM;
	if (put(o, "answered", json_boolean(d->done)) ||
	    put(o, "rcode",
	        d->done ? json_string(rcode_name(d->rcode, rc, sizeof(rc))) : json_null()) ||
	    put(o, "dnssec", json_string(mxs_dnssec_name(d->sec))) ||
	    put(o, "why_bogus",
	        d->sec == MXS_SEC_BOGUS ? jstr_opt(d->why_bogus, sizeof(d->why_bogus))
	                                : json_null()) ||
	    put(o, "error",
	        !d->done ? jstr_opt(d->why_bogus, sizeof(d->why_bogus)) : json_null()) ||
	    put(o, "ttl", json_integer(d->ttl)) || put(o, "ms", json_integer(d->ms)))
		return MXS_ENOMEM;
	return 0;
}

/*
 * Add the three verdict keys to o.  A result-type is reported only for
 * "fail" (result.h's invariant, enforced here too for hand-built trees).
 */
static int
put_verdict(json_t *o, const struct mxs_verdict *v)
{
	const char *rt = v->status == MXS_ST_FAIL ? mxs_rtype_name(v->rtype) : NULL;

	if (put(o, "status", json_string(mxs_status_name(v->status))) ||
	    put(o, "reason", jstr_opt(v->reason, sizeof(v->reason))) ||
	    put(o, "result_type", rt != NULL ? json_string(rt) : json_null()))
		return MXS_ENOMEM;
	return 0;
}

/* A verdict object under k, returned borrowed for its extra keys. */
static json_t *
add_verdict(json_t *parent, const char *k, const struct mxs_verdict *v)
{
	json_t *o = attach(parent, k, json_object());

	return o != NULL && put_verdict(o, v) == 0 ? o : NULL;
}

static int
add_strv(json_t *parent, const char *k, char *const *v, size_t n)
{
	json_t *a;

	if ((a = attach(parent, k, json_array())) == NULL)
		return MXS_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (v[i] != NULL && append(a, jstr(v[i], strlen(v[i]))) == NULL)
			return MXS_ENOMEM;
	return 0;
}

static int
add_smtp(json_t *parent, const struct mxs_addr *a)
{
	json_t *o;

	if ((o = add_verdict(parent, "smtp", &a->smtp)) == NULL)
		return MXS_ENOMEM;
	if (put(o, "greeting_code", jint_opt(a->greeting_code)) ||
	    put(o, "greeting", jstr_opt(a->greeting, sizeof(a->greeting))) ||
	    put(o, "ehlo_code", jint_opt(a->ehlo_code)) ||
	    add_strv(o, "capabilities", a->caps, a->ncaps) ||
	    put(o, "starttls_advertised", json_boolean(a->starttls_advertised)) ||
	    put(o, "starttls_code", jint_opt(a->starttls_code)))
		return MXS_ENOMEM;
	return 0;
}

static int
add_tls(json_t *parent, const struct mxs_addr *a)
{
	json_t *o;

	if ((o = add_verdict(parent, "tls", &a->tls)) == NULL)
		return MXS_ENOMEM;
	if (put(o, "version", jstr_opt(a->tls_version, sizeof(a->tls_version))) ||
	    put(o, "cipher", jstr_opt(a->tls_cipher, sizeof(a->tls_cipher))) ||
	    put(o, "sni", jstr_opt(a->sni, sizeof(a->sni))) ||
	    put(o, "ms", json_integer(a->tls_ms)))
		return MXS_ENOMEM;
	return 0;
}

static int
add_cert(json_t *chain, const struct mxs_cert *c)
{
	json_t *o;

	if ((o = append(chain, json_object())) == NULL)
		return MXS_ENOMEM;
	if (put(o, "subject", jstr(c->subject, sizeof(c->subject))) ||
	    put(o, "issuer", jstr(c->issuer, sizeof(c->issuer))) ||
	    put(o, "not_before", jstr(c->not_before, sizeof(c->not_before))) ||
	    put(o, "not_after", jstr(c->not_after, sizeof(c->not_after))) ||
	    put(o, "sha256", jhex(c->sha256, sizeof(c->sha256))) ||
	    put(o, "spki_sha256", jhex(c->spki_sha256, sizeof(c->spki_sha256))) ||
	    put(o, "self_signed", json_boolean(c->self_signed)))
		return MXS_ENOMEM;
	return 0;
}

/* "certificate": null when no chain was presented. */
static int
add_certificate(json_t *parent, const struct mxs_addr *a)
{
	json_t *o, *chain;

	if (a->nchain == 0)
		return put(parent, "certificate", json_null());
	if ((o = attach(parent, "certificate", json_object())) == NULL ||
	    (chain = attach(o, "chain", json_array())) == NULL)
		return MXS_ENOMEM;
	for (size_t i = 0; i < a->nchain; i++)
		if (add_cert(chain, &a->chain[i]) != 0)
			return MXS_ENOMEM;
	if (add_strv(o, "leaf_dns_names", a->leaf_dns_names, a->nleaf_dns_names) ||
	    put(o, "days_to_expiry", json_integer(a->days_to_expiry)))
		return MXS_ENOMEM;
	return 0;
}

/* The address's DANE verdict: its chain against the host's TLSA RRset. */
static int
add_addr_dane(json_t *parent, const struct mxs_addr *a)
{
	json_t *o;

	if ((o = add_verdict(parent, "dane", &a->dane)) == NULL)
		return MXS_ENOMEM;
	if (put(o, "state", jstr_opt(a->dane_state, sizeof(a->dane_state))) ||
	    put(o, "record", jstr_opt(a->dane_record, sizeof(a->dane_record))) ||
	    put(o, "depth", a->dane_depth < 0 ? json_null() : json_integer(a->dane_depth)) ||
	    put(o, "rollover_ready", json_boolean(a->dane_rollover_ready)) ||
	    put(o, "matched", json_integer(a->dane_matched)) ||
	    put(o, "unmatched", json_integer(a->dane_unmatched)))
		return MXS_ENOMEM;
	return 0;
}

static int
add_addr(json_t *arr, const struct mxs_addr *a)
{
	json_t *o, *v;
	const char *family;

	if (a->family == AF_INET)
		family = "ipv4";
	else if (a->family == AF_INET6)
		family = "ipv6";
	else
		return MXS_EINVAL;
	/* A chain longer than the array is a broken tree, not something to read past. */
	if (a->nchain > MXS_CHAIN_MAX)
		return MXS_EINVAL;

	if ((o = append(arr, json_object())) == NULL)
		return MXS_ENOMEM;
	if (put(o, "address", jstr(a->address, sizeof(a->address))) ||
	    put(o, "family", json_string(family)) ||
	    put(o, "elapsed_ms", json_integer(a->elapsed_ms)))
		return MXS_ENOMEM;

	if ((v = add_verdict(o, "connect", &a->connect)) == NULL ||
	    put(v, "ms", json_integer(a->connect_ms)))
		return MXS_ENOMEM;
	if (add_smtp(o, a) || add_tls(o, a) || add_certificate(o, a))
		return MXS_ENOMEM;

	if ((v = add_verdict(o, "pkix", &a->pkix)) == NULL ||
	    put(v, "x509_error", jint_opt(a->x509_error)) ||
	    put(v, "missing_intermediate",
	        jstr_opt(a->missing_intermediate, sizeof(a->missing_intermediate))))
		return MXS_ENOMEM;

	if ((v = add_verdict(o, "name", &a->name)) == NULL ||
	    put(v, "reference", jstr_opt(a->name_reference, sizeof(a->name_reference))) ||
	    put(v, "matched", jstr_opt(a->name_matched, sizeof(a->name_matched))))
		return MXS_ENOMEM;
	if (add_addr_dane(o, a) != 0)
		return MXS_ENOMEM;
	/* Last, so schema 1 consumers see every older key where it was. */
	return put(o, "shared", json_boolean(a->shared));
}

/*
 * The host's TLSA RRset.  "tlsa" is null when the lookup was never asked
 * (address records not DNSSEC-secure): a DNS object would claim a lookup.
 */
static int
add_host_dane(json_t *parent, const struct mxs_host *h)
{
	json_t *o;

	if ((o = attach(parent, "dane", json_object())) == NULL ||
	    put(o, "tlsa_asked", json_boolean(h->tlsa_asked)))
		return MXS_ENOMEM;
	if (h->tlsa_asked ? add_dns(o, "tlsa", &h->tlsa) : put(o, "tlsa", json_null()))
		return MXS_ENOMEM;
	if (put(o, "state", jstr_opt(h->dane_state, sizeof(h->dane_state))) ||
	    put(o, "reason", jstr_opt(h->dane_reason, sizeof(h->dane_reason))) ||
	    put(o, "starttls_required", json_boolean(h->starttls_required)) ||
	    add_strv(o, "records", h->tlsa_records, h->ntlsa_records))
		return MXS_ENOMEM;
	return 0;
}

/* MTA-STS coverage of this host; "covered" is null when there is no policy (-1). */
static int
add_host_sts(json_t *parent, const struct mxs_host *h)
{
	json_t *o;

	if ((o = attach(parent, "mta_sts", json_object())) == NULL ||
	    put(o, "covered", h->sts_covered < 0 ? json_null() : json_boolean(h->sts_covered)) ||
	    put(o, "pattern", jstr_opt(h->sts_pattern, sizeof(h->sts_pattern))))
		return MXS_ENOMEM;
	return 0;
}

static int
add_host(json_t *arr, const struct mxs_host *h)
{
	json_t *o, *addrs;
	int err;

	if ((o = append(arr, json_object())) == NULL)
		return MXS_ENOMEM;
	/* The implicit MX (RFC 5321 §5.1) has no preference. */
	if (put(o, "name", jstr(h->name, sizeof(h->name))) ||
	    put(o, "preference", h->preference < 0 ? json_null() : json_integer(h->preference)) ||
	    add_verdict(o, "dns", &h->dns) == NULL || add_dns(o, "a", &h->a) ||
	    add_dns(o, "aaaa", &h->aaaa) || (addrs = attach(o, "addresses", json_array())) == NULL)
		return MXS_ENOMEM;
	for (size_t i = 0; i < h->naddrs; i++)
		if ((err = add_addr(addrs, h->addrs[i])) != 0)
			return err;
	return add_host_dane(o, h) || add_host_sts(o, h) ? MXS_ENOMEM : 0;
}

/* The HTTPS certificate of the policy host; null when none was judged. */
static int
add_sts_cert(json_t *parent, const struct mxs_sts *s)
{
	json_t *o;

	if (!s->https_have_cert)
		return put(parent, "certificate", json_null());
	if ((o = attach(parent, "certificate", json_object())) == NULL ||
	    add_verdict(o, "pkix", &s->https_pkix) == NULL ||
	    add_verdict(o, "name", &s->https_name) == NULL ||
	    put(o, "days_to_expiry", json_integer(s->https_days_to_expiry)) ||
	    put(o, "leaf_sha256", jhex(s->https_leaf_sha256, sizeof(s->https_leaf_sha256))))
		return MXS_ENOMEM;
	return 0;
}

static int
add_sts_fetch(json_t *parent, const struct mxs_sts *s)
{
	json_t *o;

	if ((o = add_verdict(parent, "fetch", &s->fetch)) == NULL)
		return MXS_ENOMEM;
	if (put(o, "http_status", jint_opt(s->http_status)) ||
	    put(o, "content_type", jstr_opt(s->content_type, sizeof(s->content_type))) ||
	    put(o, "location", jstr_opt(s->location, sizeof(s->location))) ||
	    put(o, "body_bytes", json_integer((json_int_t)s->body_len)) ||
	    put(o, "body_sha256",
	        s->have_body ? jhex(s->body_sha256, sizeof(s->body_sha256)) : json_null()) ||
	    put(o, "tls_version", jstr_opt(s->https_tls_version, sizeof(s->https_tls_version))) ||
	    add_sts_cert(o, s))
		return MXS_ENOMEM;
	return 0;
}

/* "mta_sts": TXT record, policy host lookups, fetch, policy, coverage. */
static int
add_sts(json_t *root, const struct mxs_sts *s)
{
	json_t *o, *v;

	if ((o = attach(root, "mta_sts", json_object())) == NULL)
		return MXS_ENOMEM;
	if ((v = add_verdict(o, "txt", &s->txt)) == NULL ||
	    put(v, "state", jstr_opt(s->txt_state, sizeof(s->txt_state))) ||
	    put(v, "id", jstr_opt(s->id, sizeof(s->id))) || add_dns(v, "dns", &s->txt_dns))
		return MXS_ENOMEM;
	if ((v = attach(o, "policy_host", json_object())) == NULL || add_dns(v, "a", &s->host_a) ||
	    add_dns(v, "aaaa", &s->host_aaaa))
		return MXS_ENOMEM;
	if (add_sts_fetch(o, s))
		return MXS_ENOMEM;
	/* max_age means something only in a policy that parsed. */
	if ((v = add_verdict(o, "policy", &s->policy)) == NULL ||
	    put(v, "mode", jstr_opt(s->mode, sizeof(s->mode))) ||
	    put(v, "max_age",
	        s->policy.status == MXS_ST_OK ? json_integer(s->max_age) : json_null()) ||
	    add_strv(v, "mx", s->mx, s->nmx))
		return MXS_ENOMEM;
	if (add_verdict(o, "coverage", &s->coverage) == NULL)
		return MXS_ENOMEM;
	return 0;
}

static int
add_tlsrpt(json_t *root, const struct mxs_tlsrpt *t)
{
	json_t *o;

	if ((o = add_verdict(root, "tls_rpt", &t->verdict)) == NULL)
		return MXS_ENOMEM;
	if (put(o, "state", jstr_opt(t->state, sizeof(t->state))) ||
	    add_strv(o, "rua", t->rua, t->nrua) ||
	    put(o, "rua_repeated", json_boolean(t->rua_repeated)) || add_dns(o, "dns", &t->dns))
		return MXS_ENOMEM;
	return 0;
}

static int
build(json_t *root, const struct mxs_result *r)
{
	char started[32];
	json_t *mx, *hosts;
	int err;

	if ((err = rfc3339_ms(r->started_ms, started, sizeof(started))) != 0)
		return err;
	if (put(root, "schema", json_integer(r->schema)) ||
	    put(root, "domain", jstr(r->domain, sizeof(r->domain))) ||
	    put(root, "started", json_string(started)) ||
	    put(root, "elapsed_ms", json_integer(r->elapsed_ms)))
		return MXS_ENOMEM;

	if ((mx = attach(root, "mx", json_object())) == NULL ||
	    put(mx, "kind", json_string(mxs_mx_kind_name(r->mx.kind))) ||
	    put_verdict(mx, &r->mx.verdict) || add_dns(mx, "dns", &r->mx.dns))
		return MXS_ENOMEM;

	if ((hosts = attach(root, "hosts", json_array())) == NULL)
		return MXS_ENOMEM;
	for (size_t i = 0; i < r->nhosts; i++)
		if ((err = add_host(hosts, r->hosts[i])) != 0)
			return err;
	return add_sts(root, &r->sts) || add_tlsrpt(root, &r->tlsrpt) ? MXS_ENOMEM : 0;
}

/*
 * *out is set to NULL on entry and, on success, to a NUL-terminated string
 * from malloc (no trailing newline) that the caller frees with free().
 * Errors: MXS_ENOMEM; MXS_EINVAL for a tree that breaks result.h's
 * invariants (an address family other than AF_INET/AF_INET6, nchain over
 * MXS_CHAIN_MAX, a start time outside years 0..9999).
 */
int
mxs_result_to_json(const struct mxs_result *r, char **out)
{
	json_t *root;
	char *buf;
	size_t len;
	int err;

	*out = NULL;
	if ((root = json_object()) == NULL)
		return MXS_ENOMEM;
	if ((err = build(root, r)) != 0)
		goto out;
	/* Dump into our own buffer so the caller's free() is always right,
	 * whatever allocator jansson was given. */
	err = MXS_ENOMEM;
	if ((len = json_dumpb(root, NULL, 0, DUMP_FLAGS)) == 0)
		goto out;
	if ((buf = malloc(len + 1)) == NULL)
		goto out;
	if (json_dumpb(root, buf, len, DUMP_FLAGS) != len) {
		free(buf);
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	err = 0;
out:
	json_decref(root);
	return err;
}
