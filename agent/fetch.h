/*
 * fetch — one HTTPS GET under the rules of RFC 8461 §3.3 (the MTA-STS
 * policy fetch), run by libcurl's multi_socket API on the engine's
 * libevent loop.  No threads of ours, nothing blocking, many fetches at
 * once on one struct mxs_fetcher.
 *
 * What a fetch does and refuses:
 *  - https only, also for redirects; a 3xx is reported with its Location,
 *    never followed; TLS 1.2 or later; SNI and the certificate reference
 *    name are the URL host;
 *  - the server's chain is judged by mxs_cert_check (same trust store and
 *    rules as the SMTP path) inside the TLS handshake, and a chain that is
 *    not PKIX-valid for the URL host aborts the handshake: the request is
 *    never sent, no response byte is read;
 *  - no connection reuse, no TLS session resumption, no proxy, no HTTP
 *    cache, a private DNS cache per fetch: every fetch is a fresh look;
 *  - the body is counted while it streams and the transfer is aborted as
 *    soon as it passes the caller's limit; never more is buffered.
 * A server that breaks any rule is a result (fail + reason), not an error.
 *
 * Threading: a fetcher and its fetches belong to the thread running its
 * event_base.  The process must call nothing else of libcurl's global
 * state concurrently (mxs_fetcher_new calls curl_global_init).
 */
#ifndef MXS_FETCH_H
#define MXS_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "cert_check.h"
#include "mxs_err.h"
#include "result.h"

/* Why a fetch did not yield a usable policy document; the first that applies. */
enum mxs_fetch_fail {
	MXS_FETCH_OK = 0,      /* HTTP 200, body complete within the limit, chain valid */
	MXS_FETCH_DNS,         /* the host name did not resolve (libcurl's resolver) */
	MXS_FETCH_CONNECT,     /* no TCP connection: refused, unreachable */
	MXS_FETCH_TIMEOUT,     /* connect or total timeout of the request */
	MXS_FETCH_TLS,         /* handshake failed for a reason other than the chain */
	MXS_FETCH_CERT,        /* chain not PKIX-valid for the host (sts-webpki-invalid) */
	MXS_FETCH_REDIRECT,    /* 3xx: Location reported, not followed */
	MXS_FETCH_HTTP_STATUS, /* any other status than 200 */
	MXS_FETCH_TOO_LARGE,   /* body passed body_max: transfer aborted */
	MXS_FETCH_OTHER,       /* protocol error, reset mid-body, out of memory, ... */
};

/*
 * The request.  Everything is borrowed for the duration of
 * mxs_fetch_start only (copied there).
 */
struct mxs_fetch_req {
	const char *url;          /* "https://host[:port]/path"; host a DNS name */
	const char *const *addrs; /* connect only to these (IPv4/IPv6 text), in order */
	size_t naddrs;            /* 0: libcurl's threaded resolver looks the host up */
	size_t body_max;          /* 1..MXS_HTTP_BODY_MAX; 0 means MXS_HTTP_BODY_MAX */
	long connect_timeout_ms;  /* DNS + TCP + TLS handshake, 1..timeout_ms */
	long timeout_ms;          /* the whole transfer, 1..MXS_FETCH_TIMEOUT_MAX */
};

/* The certificate judgement, copied from the struct mxs_addr cert_check fills. */
struct mxs_fetch_cert {
	int judged;              /* a chain was presented and judged */
	struct mxs_verdict pkix; /* certificate-expired / -not-trusted / validation-failure */
	int x509_error;
	char missing_intermediate[256];
	struct mxs_verdict name; /* certificate-host-mismatch */
	char name_matched[256];
	int days_to_expiry;                   /* of the leaf; negative once expired */
	struct mxs_cert chain[MXS_CHAIN_MAX]; /* as presented, leaf first: chain[0].sha256 */
	size_t nchain;
};

/*
 * What the fetch found.  Lent to the callback for its duration and freed
 * when it returns, with one exception: the callback may take the body by
 * copying res->body and setting res->body = NULL; it then owns the buffer
 * and releases it with free().
 */
struct mxs_fetch_res {
	enum mxs_fetch_fail fail;
	char reason[MXS_REASON_MAX]; /* one line for humans, always set */
	char host[256];              /* URL host: SNI and certificate reference name */
	char address[46];            /* address connected to, "" if none */

	long status;                           /* HTTP status, 0 when no response */
	char content_type[MXS_HTTP_CTYPE_MAX]; /* verbatim (trimmed), "" if absent */
	char location[MXS_HTTP_LOCATION_MAX];  /* verbatim (trimmed), "" if absent */
	int content_type_truncated, location_truncated;

	unsigned char *body;           /* bytes accepted, at most body_max; NULL if none */
	size_t body_len;               /* on MXS_FETCH_TOO_LARGE: exactly body_max */
	int body_complete;             /* the whole body arrived (transfer ended cleanly) */
	unsigned char body_sha256[32]; /* of body[0..body_len) when body_complete */

	char tls_version[16]; /* "TLSv1.3"; "" before the server's certificate */
	char tls_cipher[64];
	struct mxs_fetch_cert cert;

	/* libcurl's timings, each from the start of the transfer, in ms. */
	uint32_t dns_ms, connect_ms, tls_ms, first_byte_ms, total_ms;
};

/* Called exactly once per started fetch, from the loop, never from inside
 * mxs_fetch_start.  See struct mxs_fetch_res for ownership. */
typedef void (*mxs_fetch_fn)(void *arg, struct mxs_fetch_res *res);

struct mxs_fetcher;

/*
 * A fetcher on base (borrowed, must outlive it) judging chains against
 * trust (borrowed, must outlive it).  Fails with MXS_ETLS when libcurl is
 * not built on OpenSSL (the chain is judged inside OpenSSL's handshake),
 * MXS_ENOMEM otherwise; errstr says which.  On success *out is owned by
 * the caller: release with mxs_fetcher_free.
 */
int mxs_fetcher_new(struct event_base *base, const struct mxs_trust *trust,
                    struct mxs_fetcher **out, char *errstr, size_t errlen) MXS_WUR;

/*
 * Abandon every fetch in flight (their callbacks are not called), release
 * the fetcher, set *fp = NULL.  NULL-safe.  Not from inside a fetch
 * callback.  Call before freeing the event_base.
 */
void mxs_fetcher_free(struct mxs_fetcher **fp);

/*
 * Start a GET of req->url.  On 0, fn(arg, res) runs exactly once, later,
 * from the loop.  Errors (fn not called): MXS_EINVAL for a URL that is not
 * https, is longer than MXS_HTTP_URL_MAX or whose host is not a DNS name
 * (mxs_hostname_valid, no trailing dot: no IP literals, SNI needs a
 * name), an address
 * that is not an IP address, a timeout or
 * body_max out of range, or naddrs == 0 when libcurl resolves
 * synchronously; MXS_ELIMIT for more than MXS_FETCH_ADDRS_MAX addresses;
 * MXS_ENOMEM.
 */
int mxs_fetch_start(struct mxs_fetcher *f, const struct mxs_fetch_req *req, mxs_fetch_fn fn,
                    void *arg) MXS_WUR;

/* Fixed names for logs and JSON: "ok", "dns", "connect", "timeout", "tls",
 * "cert", "redirect", "http-status", "too-large", "other". */
const char *mxs_fetch_fail_name(enum mxs_fetch_fail fail);

#endif
