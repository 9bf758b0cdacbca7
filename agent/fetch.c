/*
 * fetch — HTTPS GET on libcurl's multi_socket API and libevent (see fetch.h).
 *
 * Loop glue: libcurl says which sockets to watch (sock_cb: one persistent
 * event per socket, kept with curl_multi_assign) and when to wake it
 * (timer_cb: one timer per fetcher).  Either event calls
 * curl_multi_socket_action and then collect(), which hands finished
 * transfers to their callbacks.  Callbacks therefore never run inside a
 * libcurl call, and may start new fetches.
 *
 * The certificate is judged by us, not by libcurl: its verification is off
 * (VERIFYPEER/VERIFYHOST 0), and for every connection libcurl calls
 * ssl_ctx_cb on the fresh SSL_CTX before SSL_new.  There we set
 * SSL_VERIFY_PEER and replace OpenSSL's chain verification with
 * verify_chain (SSL_CTX_set_cert_verify_callback).  OpenSSL calls it once
 * the server's Certificate message is parsed, inside the handshake; it runs
 * mxs_cert_check on the chain exactly as presented, and a refusal under
 * SSL_VERIFY_PEER sends an alert and fails the handshake.  libcurl writes
 * the HTTP request only after the handshake has completed, so a server
 * with a bad chain never receives the request and no response byte is
 * read.  header_cb and body_cb fail closed if a response ever arrives
 * without an accepted judgement (a resumed session would skip the
 * Certificate message; resumption and connection reuse are both off).
 *
 * The request is a plain GET over HTTP/1.1 (as MTA-STS fetchers send it),
 * without Accept-Encoding (the body is the bytes the server sent) and
 * without Cache-Control: libcurl keeps no HTTP cache, and a cache in front
 * of the origin (a CDN) serves sending MTAs too, so the monitor should see
 * what they are served.
 */
#include "fetch.h"
#include "certname.h"
#include "mxs_log.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#define USER_AGENT "mxsentry (MTA-STS policy monitor)"
/* "host:port:" plus every address, bracketed, comma-separated. */
#define RESOLVE_LINE_MAX (256 + 8 + MXS_FETCH_ADDRS_MAX * 50)

struct mxs_fetcher {
	struct event_base *base;
	const struct mxs_trust *trust;
	CURLM *multi;
	struct event *timer;
	struct fetch *active; /* fetches in flight, for mxs_fetcher_free */
	int async_dns;        /* libcurl resolves without blocking the loop */
};

struct fetch {
	struct mxs_fetcher *f;
	struct fetch *prev, *next;
	CURL *easy;
	CURLSH *share;              /* this fetch's private DNS cache */
	struct curl_slist *resolve; /* "host:port:addrs" or NULL */
	mxs_fetch_fn fn;
	void *arg;
	size_t body_max, body_cap, header_bytes;
	int cert_ok;      /* verify_chain accepted the chain */
	int tls_done;     /* the handshake completed (libcurl's appconnect time) */
	int unjudged;     /* a response arrived without an accepted chain */
	int too_large;    /* body passed body_max */
	int headers_over; /* headers passed MXS_HTTP_HEADERS_MAX */
	int oom;
	char errbuf[CURL_ERROR_SIZE];
	struct mxs_fetch_res res;
};

static curl_off_t
us_of(CURL *easy, CURLINFO what)
{
	curl_off_t us = 0;

	if (curl_easy_getinfo(easy, what, &us) != CURLE_OK || us < 0)
		return 0;
	return us;
}

/* ---- certificate, inside the handshake ---------------------------------- */

static void
cert_copy(struct mxs_fetch_cert *c, const struct mxs_addr *a)
{
	_Static_assert(sizeof(c->missing_intermediate) == sizeof(a->missing_intermediate) &&
	                       sizeof(c->name_matched) == sizeof(a->name_matched) &&
	                       sizeof(c->chain) == sizeof(a->chain),
	               "mxs_fetch_cert mirrors mxs_addr");
	c->judged = 1;
	c->pkix = a->pkix;
	c->x509_error = a->x509_error;
	memcpy(c->missing_intermediate, a->missing_intermediate, sizeof(c->missing_intermediate));
	c->name = a->name;
	memcpy(c->name_matched, a->name_matched, sizeof(c->name_matched));
	c->days_to_expiry = a->days_to_expiry;
	memcpy(c->chain, a->chain, sizeof(c->chain));
	c->nchain = a->nchain;
}

/* The chain as presented, leaf first (borrowed pointers); NULL on ENOMEM. */
static STACK_OF(X509) *
presented_chain(X509_STORE_CTX *ctx)
{
	STACK_OF(X509) *untrusted = X509_STORE_CTX_get0_untrusted(ctx), *sk;
	X509 *leaf = X509_STORE_CTX_get0_cert(ctx);

	if ((sk = sk_X509_new_null()) == NULL)
		return NULL;
	if (leaf != NULL && !sk_X509_push(sk, leaf))
		goto fail;
	/* OpenSSL passes the whole peer chain, leaf included, as untrusted. */
	for (int i = 0; untrusted != NULL && i < sk_X509_num(untrusted); i++) {
		X509 *x = sk_X509_value(untrusted, i);

		if (x != leaf && !sk_X509_push(sk, x))
			goto fail;
	}
	return sk;
fail:
	sk_X509_free(sk);
	return NULL;
}

/* SSL_CTX_set_cert_verify_callback: 1 accepts the chain, 0 ends the handshake. */
static int
verify_chain(X509_STORE_CTX *ctx, void *arg)
{
	struct fetch *fe = arg;
	SSL *ssl = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	STACK_OF(X509) *chain;
	struct mxs_addr *a = NULL;
	int err = X509_V_ERR_OUT_OF_MEM;

	fe->cert_ok = 0;
	if (ssl != NULL) {
		snprintf(fe->res.tls_version, sizeof(fe->res.tls_version), "%s",
		         SSL_get_version(ssl));
		snprintf(fe->res.tls_cipher, sizeof(fe->res.tls_cipher), "%s",
		         SSL_get_cipher_name(ssl));
	}
	/* struct mxs_addr is large: a scratch one on the heap, not the stack. */
	if ((chain = presented_chain(ctx)) == NULL || (a = calloc(1, sizeof(*a))) == NULL ||
	    mxs_cert_check(fe->f->trust, chain, fe->res.host, time(NULL), a) != 0) {
		fe->oom = 1;
		goto out;
	}
	cert_copy(&fe->res.cert, a);
	fe->cert_ok = a->pkix.status == MXS_ST_OK && a->name.status == MXS_ST_OK;
	if (fe->cert_ok)
		err = X509_V_OK;
	else
		err = a->x509_error != 0 ? a->x509_error : X509_V_ERR_HOSTNAME_MISMATCH;
out:
	if (a != NULL) {
		for (size_t i = 0; i < a->nleaf_dns_names; i++)
			free(a->leaf_dns_names[i]);
		free(a->leaf_dns_names);
		free(a);
	}
	sk_X509_free(chain);
	X509_STORE_CTX_set_error(ctx, err);
	return fe->cert_ok;
}

static CURLcode
ssl_ctx_cb(CURL *easy, void *sslctx, void *arg)
{
	SSL_CTX *ctx = sslctx;

	(void)easy;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) /* RFC 8461 §7.2 */
		return CURLE_SSL_CONNECT_ERROR;
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, verify_chain, arg);
	return CURLE_OK;
}

/* ---- response ------------------------------------------------------------ */

static size_t
header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fetch *fe = arg;
	size_t n = size * nmemb;

	(void)data;
	if (!fe->cert_ok) {
		fe->unjudged = 1;
		return 0;
	}
	if (n > MXS_HTTP_HEADERS_MAX - fe->header_bytes) {
		fe->headers_over = 1;
		return 0;
	}
	fe->header_bytes += n;
	return n;
}

/* Keep at most body_max bytes; returning short aborts the transfer. */
static size_t
body_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fetch *fe = arg;
	struct mxs_fetch_res *r = &fe->res;
	size_t n = size * nmemb, room = fe->body_max - r->body_len, take, cap;
	unsigned char *nb;

	if (!fe->cert_ok) {
		fe->unjudged = 1;
		return 0;
	}
	take = n > room ? room : n;
	if (r->body_len + take > fe->body_cap) {
		cap = fe->body_cap < 4096 ? 4096 : fe->body_cap * 2;
		if (cap < r->body_len + take)
			cap = r->body_len + take;
		if (cap > fe->body_max)
			cap = fe->body_max;
		if ((nb = realloc(r->body, cap)) == NULL) {
			fe->oom = 1;
			return 0;
		}
		r->body = nb;
		fe->body_cap = cap;
	}
	if (take > 0)
		memcpy(r->body + r->body_len, data, take);
	r->body_len += take;
	if (take < n) {
		fe->too_large = 1;
		return 0;
	}
	return n;
}

/* Copy a header value, or "" if absent; *trunc when it did not fit. */
static void
header_copy(CURL *easy, const char *name, char *buf, size_t len, int *trunc)
{
	struct curl_header *h;

	buf[0] = '\0';
	if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return;
	*trunc = strlen(h->value) >= len;
	snprintf(buf, len, "%s", h->value);
}

static void
gather(struct fetch *fe)
{
	struct mxs_fetch_res *r = &fe->res;
	char *ip = NULL;

	if (curl_easy_getinfo(fe->easy, CURLINFO_RESPONSE_CODE, &r->status) != CURLE_OK)
		r->status = 0;
	if (r->status != 0) {
		header_copy(fe->easy, "Content-Type", r->content_type, sizeof(r->content_type),
		            &r->content_type_truncated);
		header_copy(fe->easy, "Location", r->location, sizeof(r->location),
		            &r->location_truncated);
	}
	if (curl_easy_getinfo(fe->easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip != NULL)
		snprintf(r->address, sizeof(r->address), "%s", ip);
	fe->tls_done = us_of(fe->easy, CURLINFO_APPCONNECT_TIME_T) > 0;
	r->dns_ms = (uint32_t)(us_of(fe->easy, CURLINFO_NAMELOOKUP_TIME_T) / 1000);
	r->connect_ms = (uint32_t)(us_of(fe->easy, CURLINFO_CONNECT_TIME_T) / 1000);
	r->tls_ms = (uint32_t)(us_of(fe->easy, CURLINFO_APPCONNECT_TIME_T) / 1000);
	r->first_byte_ms = (uint32_t)(us_of(fe->easy, CURLINFO_STARTTRANSFER_TIME_T) / 1000);
	r->total_ms = (uint32_t)(us_of(fe->easy, CURLINFO_TOTAL_TIME_T) / 1000);
}

static void set_fail(struct mxs_fetch_res *r, enum mxs_fetch_fail fail, const char *fmt, ...)
        MXS_PRINTF(3, 4);

static void
set_fail(struct mxs_fetch_res *r, enum mxs_fetch_fail fail, const char *fmt, ...)
{
	va_list ap;

	r->fail = fail;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

/* No HTTP status: the transfer ended in DNS, TCP, TLS or before the reply. */
static void
classify_transport(struct fetch *fe, CURLcode cc, const char *why)
{
	struct mxs_fetch_res *r = &fe->res;

	if (cc == CURLE_COULDNT_RESOLVE_HOST)
		set_fail(r, MXS_FETCH_DNS, "%s", why);
	else if (cc == CURLE_COULDNT_CONNECT)
		set_fail(r, MXS_FETCH_CONNECT, "%s", why);
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		set_fail(r, MXS_FETCH_TIMEOUT, "timed out after %u ms %s", r->total_ms,
		         fe->tls_done ? "waiting for the response" : "in connect or TLS handshake");
	else if (!fe->tls_done)
		set_fail(r, MXS_FETCH_TLS, "TLS handshake failed: %s", why);
	else
		set_fail(r, MXS_FETCH_OTHER, "no HTTP response: %s", why);
}

/* The first thing that went wrong, in the order a transfer meets them. */
static void
classify(struct fetch *fe, CURLcode cc)
{
	struct mxs_fetch_res *r = &fe->res;
	const char *why = fe->errbuf[0] != '\0' ? fe->errbuf : curl_easy_strerror(cc);

	if (fe->oom)
		set_fail(r, MXS_FETCH_OTHER, "out of memory");
	else if (r->cert.judged && !fe->cert_ok)
		set_fail(r, MXS_FETCH_CERT, "certificate not valid for %s: %s", r->host,
		         r->cert.pkix.status != MXS_ST_OK ? r->cert.pkix.reason
		                                          : r->cert.name.reason);
	else if (fe->unjudged)
		set_fail(r, MXS_FETCH_CERT, "response without a certificate judgement");
	else if (fe->headers_over)
		set_fail(r, MXS_FETCH_OTHER, "response headers larger than %d bytes",
		         MXS_HTTP_HEADERS_MAX);
	else if (r->status == 0)
		classify_transport(fe, cc, why);
	else if (r->status >= 300 && r->status < 400)
		set_fail(r, MXS_FETCH_REDIRECT, "HTTP %ld redirect to %s, not followed", r->status,
		         r->location[0] != '\0' ? r->location : "(no Location)");
	else if (r->status != 200)
		set_fail(r, MXS_FETCH_HTTP_STATUS, "HTTP %ld, not 200", r->status);
	else if (fe->too_large)
		set_fail(r, MXS_FETCH_TOO_LARGE, "body larger than %zu bytes", fe->body_max);
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		set_fail(r, MXS_FETCH_TIMEOUT, "timed out after %u ms receiving the body",
		         r->total_ms);
	else if (cc != CURLE_OK)
		set_fail(r, MXS_FETCH_OTHER, "body: %s", why);
	else
		set_fail(r, MXS_FETCH_OK, "HTTP 200, %zu bytes", r->body_len);
}

/* ---- lifetime -------------------------------------------------------------- */

static void
fetch_free(struct fetch *fe)
{
	if (fe->easy != NULL)
		curl_easy_cleanup(fe->easy);
	if (fe->share != NULL)
		curl_share_cleanup(fe->share); /* after the easy handle let go of it */
	curl_slist_free_all(fe->resolve);
	free(fe->res.body);
	free(fe);
}

static void
fetch_unlink(struct fetch *fe)
{
	if (fe->prev != NULL)
		fe->prev->next = fe->next;
	else
		fe->f->active = fe->next;
	if (fe->next != NULL)
		fe->next->prev = fe->prev;
	curl_multi_remove_handle(fe->f->multi, fe->easy);
}

static void
fetch_finish(struct fetch *fe, CURLcode cc)
{
	struct mxs_fetch_res *r = &fe->res;

	gather(fe);
	classify(fe, cc);
	r->body_complete = cc == CURLE_OK && !fe->oom;
	if (r->body_complete &&
	    !EVP_Digest(r->body != NULL ? r->body : (unsigned char *)"", r->body_len,
	                r->body_sha256, NULL, EVP_sha256(), NULL)) {
		r->body_complete = 0;
		set_fail(r, MXS_FETCH_OTHER, "out of memory hashing the body");
	}
	fetch_unlink(fe);
	fe->fn(fe->arg, r); /* may take r->body */
	fetch_free(fe);
}

/* Hand every finished transfer to its callback. */
static void
collect(struct mxs_fetcher *f)
{
	struct fetch *fe;
	CURLMsg *m;
	CURLcode cc;
	char *priv;
	int left;

	while ((m = curl_multi_info_read(f->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		cc = m->data.result;
		if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv) != CURLE_OK ||
		    priv == NULL)
			mxs_panic("fetch: finished transfer without its fetch");
		fe = (struct fetch *)(void *)priv;
		fetch_finish(fe, cc); /* m is invalid from here */
	}
}

/* ---- loop glue ------------------------------------------------------------ */

static void
socket_action(struct mxs_fetcher *f, curl_socket_t s, int flags)
{
	int running;
	CURLMcode mc = curl_multi_socket_action(f->multi, s, flags, &running);

	if (mc != CURLM_OK)
		mxs_warn("event=fetch_socket_action error=\"%s\"", curl_multi_strerror(mc));
	collect(f);
}

static void
sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
	socket_action(arg, fd,
	              ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
	                      ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0));
}

static void
timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	socket_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what, or stop watching it. */
static int
sock_cb(CURL *easy, curl_socket_t s, int what, void *arg, void *socketp)
{
	struct mxs_fetcher *f = arg;
	struct event *ev = socketp;
	short kind = EV_PERSIST;

	(void)easy;
	if (what == CURL_POLL_REMOVE) { /* libcurl forgets socketp with s */
		if (ev != NULL)
			event_free(ev);
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (ev == NULL) {
		if ((ev = event_new(f->base, s, kind, sock_event_cb, f)) == NULL)
			return -1; /* libcurl fails the transfers on this socket */
		curl_multi_assign(f->multi, s, ev);
	} else {
		event_del(ev);
		event_assign(ev, f->base, s, kind, sock_event_cb, f);
	}
	return event_add(ev, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: wake libcurl in timeout_ms; -1 cancels. */
static int
timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct mxs_fetcher *f = arg;
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};

	(void)multi;
	if (timeout_ms < 0)
		return evtimer_del(f->timer) == 0 ? 0 : -1;
	/* Never call libcurl from here: a zero timeout runs from the loop. */
	return evtimer_add(f->timer, &tv) == 0 ? 0 : -1;
}

int
mxs_fetcher_new(struct event_base *base, const struct mxs_trust *trust, struct mxs_fetcher **out,
                char *errstr, size_t errlen)
{
	const curl_version_info_data *v;
	struct mxs_fetcher *f;

	*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return mxs_seterr(errstr, errlen, MXS_ENOMEM, "curl_global_init failed");
	v = curl_version_info(CURLVERSION_NOW);
	if (v->version_num < 0x075500 || v->ssl_version == NULL ||
	    strncmp(v->ssl_version, "OpenSSL/", 8) != 0) {
		curl_global_cleanup();
		return mxs_seterr(errstr, errlen, MXS_ETLS,
		                  "libcurl %s with %s: need 7.85 or later on OpenSSL", v->version,
		                  v->ssl_version != NULL ? v->ssl_version : "no TLS");
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		goto nomem;
	f->base = base;
	f->trust = trust;
	f->async_dns = (v->features & CURL_VERSION_ASYNCHDNS) != 0;
	if ((f->multi = curl_multi_init()) == NULL ||
	    (f->timer = evtimer_new(base, timer_event_cb, f)) == NULL ||
	    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, sock_cb) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f) != CURLM_OK) {
		mxs_fetcher_free(&f); /* also undoes curl_global_init */
		return mxs_seterr(errstr, errlen, MXS_ENOMEM, "fetcher: out of memory");
	}
	*out = f;
	return 0;
nomem:
	curl_global_cleanup();
	return mxs_seterr(errstr, errlen, MXS_ENOMEM, "fetcher: out of memory");
}

void
mxs_fetcher_free(struct mxs_fetcher **fp)
{
	struct mxs_fetcher *f = *fp;
	struct fetch *fe;

	if (f == NULL)
		return;
	/* Removing a transfer closes its socket: sock_cb frees the event. */
	while ((fe = f->active) != NULL) {
		fetch_unlink(fe);
		fetch_free(fe);
	}
	if (f->multi != NULL)
		curl_multi_cleanup(f->multi);
	if (f->timer != NULL)
		event_free(f->timer);
	free(f);
	curl_global_cleanup();
	*fp = NULL;
}

/* ---- starting a fetch -------------------------------------------------------- */

static int
req_check(const struct mxs_fetcher *f, const struct mxs_fetch_req *req)
{
	if (req == NULL || req->url == NULL ||
	    strnlen(req->url, MXS_HTTP_URL_MAX + 1) > MXS_HTTP_URL_MAX)
		return MXS_EINVAL;
	if (req->naddrs > MXS_FETCH_ADDRS_MAX)
		return MXS_ELIMIT;
	if ((req->naddrs > 0 && req->addrs == NULL) || (req->naddrs == 0 && !f->async_dns))
		return MXS_EINVAL;
	if (req->body_max > MXS_HTTP_BODY_MAX || req->timeout_ms < 1 ||
	    req->timeout_ms > MXS_FETCH_TIMEOUT_MAX || req->connect_timeout_ms < 1 ||
	    req->connect_timeout_ms > req->timeout_ms)
		return MXS_EINVAL;
	return 0;
}

/*
 * The URL's host and port (text, default 443).  The host must be a DNS
 * name without the trailing dot, so the CURLOPT_RESOLVE entry is keyed
 * exactly as libcurl looks the host up.
 */
static int
url_parts(const char *url, char *host, size_t hostlen, char *port, size_t portlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *h = NULL, *p = NULL;
	int rc = MXS_EINVAL;

	if (u == NULL)
		return MXS_ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto out;
	if (strcmp(scheme, "https") != 0 || !mxs_hostname_valid(h) || h[strlen(h) - 1] == '.' ||
	    strlen(h) >= hostlen || strlen(p) >= portlen)
		goto out;
	snprintf(host, hostlen, "%s", h);
	snprintf(port, portlen, "%s", p);
	rc = 0;
out:
	curl_free(scheme);
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return rc;
}

/* CURLOPT_RESOLVE entry pinning host:port to the caller's addresses. */
static int
resolve_entry(struct fetch *fe, const char *port, const struct mxs_fetch_req *req)
{
	char line[RESOLVE_LINE_MAX];
	unsigned char bin[16];
	size_t off;
	int n, v6;

	n = snprintf(line, sizeof(line), "%s:%s:", fe->res.host, port);
	if (n < 0 || (size_t)n >= sizeof(line))
		return MXS_EINVAL;
	off = (size_t)n;
	for (size_t i = 0; i < req->naddrs; i++) {
		const char *a = req->addrs[i];

		if (a == NULL)
			return MXS_EINVAL;
		if (inet_pton(AF_INET, a, bin) == 1)
			v6 = 0;
		else if (inet_pton(AF_INET6, a, bin) == 1)
			v6 = 1;
		else
			return MXS_EINVAL;
		n = snprintf(line + off, sizeof(line) - off, "%s%s%s%s", i > 0 ? "," : "",
		             v6 ? "[" : "", a, v6 ? "]" : "");
		if (n < 0 || (size_t)n >= sizeof(line) - off)
			return MXS_ELIMIT;
		off += (size_t)n;
	}
	return (fe->resolve = curl_slist_append(NULL, line)) != NULL ? 0 : MXS_ENOMEM;
}

static int
easy_setup(struct fetch *fe, const struct mxs_fetch_req *req)
{
	CURL *e;
	CURLcode c = CURLE_OK;

	if ((fe->share = curl_share_init()) == NULL || (fe->easy = e = curl_easy_init()) == NULL ||
	    curl_share_setopt(fe->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK)
		return MXS_ENOMEM;
#define SET(opt, val) (c = c != CURLE_OK ? c : curl_easy_setopt(e, opt, val))
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PRIVATE, (void *)fe);
	SET(CURLOPT_ERRORBUFFER, fe->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_SSL_VERIFYPEER, 0L); /* verify_chain judges instead */
	SET(CURLOPT_SSL_VERIFYHOST, 0L);
	SET(CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
	SET(CURLOPT_SSL_CTX_DATA, (void *)fe);
	SET(CURLOPT_SSL_SESSIONID_CACHE, 0L);
	SET(CURLOPT_FRESH_CONNECT, 1L);
	SET(CURLOPT_FORBID_REUSE, 1L);
	SET(CURLOPT_PROXY, ""); /* ignore *_proxy in the environment */
	SET(CURLOPT_SHARE, fe->share);
	SET(CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, req->timeout_ms);
	SET(CURLOPT_USERAGENT, USER_AGENT);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, (void *)fe);
	SET(CURLOPT_WRITEFUNCTION, body_cb);
	SET(CURLOPT_WRITEDATA, (void *)fe);
	if (fe->resolve != NULL)
		SET(CURLOPT_RESOLVE, fe->resolve);
#undef SET
	return c == CURLE_OK ? 0 : c == CURLE_OUT_OF_MEMORY ? MXS_ENOMEM : MXS_EINVAL;
}

int
mxs_fetch_start(struct mxs_fetcher *f, const struct mxs_fetch_req *req, mxs_fetch_fn fn, void *arg)
{
	struct fetch *fe;
	char port[8];
	int rc;

	if (fn == NULL)
		return MXS_EINVAL;
	if ((rc = req_check(f, req)) != 0)
		return rc;
	if ((fe = calloc(1, sizeof(*fe))) == NULL)
		return MXS_ENOMEM;
	fe->f = f;
	fe->fn = fn;
	fe->arg = arg;
	fe->body_max = req->body_max != 0 ? req->body_max : MXS_HTTP_BODY_MAX;
	if ((rc = url_parts(req->url, fe->res.host, sizeof(fe->res.host), port, sizeof(port))) !=
	            0 ||
	    (req->naddrs > 0 && (rc = resolve_entry(fe, port, req)) != 0) ||
	    (rc = easy_setup(fe, req)) != 0)
		goto fail;
	if (curl_multi_add_handle(f->multi, fe->easy) != CURLM_OK) {
		rc = MXS_ENOMEM;
		goto fail;
	}
	fe->next = f->active;
	if (f->active != NULL)
		f->active->prev = fe;
	f->active = fe;
	return 0;
fail:
	fetch_free(fe);
	return rc;
}

const char *
mxs_fetch_fail_name(enum mxs_fetch_fail fail)
{
	static const char *const names[] = {
	        "ok",   "dns",      "connect",     "timeout",   "tls",
	        "cert", "redirect", "http-status", "too-large", "other",
	};

	if ((unsigned)fail >= sizeof(names) / sizeof(names[0]))
		return "other";
	return names[fail];
}
