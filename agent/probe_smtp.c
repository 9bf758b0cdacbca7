/*
 * probe_smtp — the per-address SMTP/STARTTLS session (see probe_smtp.h).
 *
 * Verdict rules (RFC-NOTES "rules most often implemented wrong", 8):
 *  - a 4xx greeting, a reset, EOF or a timeout before STARTTLS is decided
 *    is "temporary" for SMTP and TLS: it says nothing about STARTTLS;
 *  - only an EHLO reply without STARTTLS, or a 5xx to EHLO or STARTTLS, is
 *    starttls-not-supported;
 *  - a handshake that fails after "220 Ready" is a TLS failure
 *    (validation-failure), never "no STARTTLS";
 *  - PKIX and the name are judged after the handshake from the presented
 *    chain (cert_check), independently of each other.
 * After STARTTLS the reply loop stops at the 220 line, so bytes the server
 * sent behind it go to the TLS layer, not to the SMTP parser (no command
 * injection across the boundary, RFC 3207 §4.2 / CVE-2011-0411).
 */
#include "probe_smtp.h"
#include "probe_dane.h"
#include "smtp_reply.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

enum smtp_state { S_CONNECT, S_GREETING, S_EHLO, S_STARTTLS, S_HANDSHAKE, S_QUIT, S_DONE };

static const char *const state_names[] = {"connect",       "greeting", "EHLO", "STARTTLS",
                                          "TLS handshake", "QUIT",     "done"};

struct smtp_sess {
	struct mxs_engine *e;
	struct mxs_addr *a;
	const char *mxhost;
	const struct mxs_dane_rrset *dane; /* NULL when DANE does not apply */
	mxs_smtp_fn fn;
	void *arg;
	struct bufferevent *bev; /* plain, or the TLS filter over it */
	struct event *deadline;  /* session_timeout_ms */
	enum smtp_state state;
	uint64_t t0, t_step;
	/* Owned; NULL during the TLS handshake.  Its text is sized for the
	 * largest reply (MXS_SMTP_REPLY_MAX, 16 KiB), so it is allocated
	 * without clearing (mxs_smtp_reply_reset makes it valid) and not held
	 * through the handshake, the longest step, when no reply is read. */
	struct mxs_smtp_reply *reply;
};

static void sess_read_cb(struct bufferevent *bev, void *arg);
static void sess_event_cb(struct bufferevent *bev, short what, void *arg);

static uint32_t
since(uint64_t t)
{
	return (uint32_t)(mxs_now_ms() - t);
}

static void
set_timeout(struct smtp_sess *s, long long ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

/* Fill every verdict the session did not reach, then hand back. */
static void
sess_finish(struct smtp_sess *s)
{
	struct mxs_addr *a = s->a;
	const char *why = "no TLS session";

	if (a->smtp.status == MXS_ST_NOT_TESTED && a->smtp.reason[0] == '\0')
		mxs_verdict_set(&a->smtp, MXS_ST_NOT_TESTED, MXS_RT_NONE, "no connection");
	if (a->tls.status == MXS_ST_NOT_TESTED && a->tls.reason[0] == '\0')
		mxs_verdict_set(&a->tls, MXS_ST_NOT_TESTED, MXS_RT_NONE,
		                "SMTP session ended before STARTTLS");
	if (a->pkix.status == MXS_ST_NOT_TESTED && a->pkix.reason[0] == '\0')
		mxs_verdict_set(&a->pkix, MXS_ST_NOT_TESTED, MXS_RT_NONE, "%s", why);
	if (a->name.status == MXS_ST_NOT_TESTED && a->name.reason[0] == '\0')
		mxs_verdict_set(&a->name, MXS_ST_NOT_TESTED, MXS_RT_NONE, "%s", why);
	if (a->dane_state[0] == '\0')
		mxs_probe_dane_judge(s->dane, NULL, s->mxhost, a);
	a->elapsed_ms = since(s->t0);
	s->state = S_DONE;
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (s->deadline != NULL)
		event_free(s->deadline);
	free(s->reply);
	s->fn(s->arg);
	free(s);
}

/* A transient end before STARTTLS was decided: SMTP and TLS are temporary. */
static void
sess_temporary(struct smtp_sess *s, const char *what)
{
	mxs_verdict_set(&s->a->smtp, MXS_ST_TEMPORARY, MXS_RT_NONE, "%s during %s", what,
	                state_names[s->state]);
	mxs_verdict_set(&s->a->tls, MXS_ST_TEMPORARY, MXS_RT_NONE, "not determined: %s during %s",
	                what, state_names[s->state]);
	sess_finish(s);
}

static void
sess_send(struct smtp_sess *s, const char *line)
{
	bufferevent_write(s->bev, line, strlen(line));
	bufferevent_write(s->bev, "\r\n", 2);
	mxs_smtp_reply_reset(s->reply);
	s->t_step = mxs_now_ms();
}

static void
sess_quit(struct smtp_sess *s)
{
	s->state = S_QUIT;
	sess_send(s, "QUIT");
}

static void
sess_handshake_done(struct smtp_sess *s, SSL *ssl)
{
	struct mxs_addr *a = s->a;
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);

	a->tls_ms = since(s->t_step);
	snprintf(a->tls_version, sizeof(a->tls_version), "%s", SSL_get_version(ssl));
	snprintf(a->tls_cipher, sizeof(a->tls_cipher), "%s", SSL_get_cipher_name(ssl));
	mxs_verdict_set(&a->tls, MXS_ST_OK, MXS_RT_NONE, "%s handshake completed", a->tls_version);
	if (mxs_cert_check(&s->e->trust, chain, s->mxhost, time(NULL), a) != 0)
		mxs_verdict_set(&a->pkix, MXS_ST_NOT_TESTED, MXS_RT_NONE,
		                "out of memory while checking the chain");
	mxs_probe_dane_judge(s->dane, chain, s->mxhost, a);
	/* Every verdict is in: without memory for the QUIT reply, just close. */
	if ((s->reply = malloc(sizeof(*s->reply))) == NULL) {
		sess_finish(s);
		return;
	}
	sess_quit(s);
}

/* Returns 1 always: the caller stops reading lines either way. */
static int
sess_start_tls(struct smtp_sess *s)
{
	struct bufferevent *tls;
	SSL *ssl;

	if ((ssl = SSL_new(s->e->ssl)) == NULL) {
		mxs_verdict_set(&s->a->tls, MXS_ST_NOT_TESTED, MXS_RT_NONE, "SSL_new failed");
		sess_finish(s);
		return 1;
	}
	SSL_set_tlsext_host_name(ssl, s->mxhost);
	snprintf(s->a->sni, sizeof(s->a->sni), "%s", s->mxhost);
	tls = bufferevent_openssl_filter_new(s->e->base, s->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
	                                     BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		SSL_free(ssl);
		mxs_verdict_set(&s->a->tls, MXS_ST_NOT_TESTED, MXS_RT_NONE,
		                "cannot create TLS filter");
		sess_finish(s);
		return 1;
	}
	/* The filter now owns the plain bufferevent and the SSL. */
	s->bev = tls;
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	bufferevent_setcb(tls, sess_read_cb, NULL, sess_event_cb, s);
	bufferevent_setwatermark(tls, EV_READ, 0, MXS_SMTP_LINE_MAX + 64);
	set_timeout(s, s->e->cfg->tls_timeout_ms);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	s->state = S_HANDSHAKE;
	s->t_step = mxs_now_ms();
	free(s->reply);
	s->reply = NULL;
	return 1;
}

/*
 * Reply handlers return 1 when the read loop must stop: the session was
 * freed (sess_finish) or the connection switched to TLS.
 */
static int
on_greeting(struct smtp_sess *s)
{
	struct mxs_addr *a = s->a;
	int code = s->reply->code;
	char line[512];

	a->greeting_code = code;
	mxs_smtp_reply_first_line(s->reply, a->greeting, sizeof(a->greeting));
	if (code == 220) {
		s->state = S_EHLO;
		snprintf(line, sizeof(line), "EHLO %s", s->e->helo);
		sess_send(s, line);
		return 0;
	}
	if (code >= 400 && code < 500) {
		mxs_verdict_set(&a->smtp, MXS_ST_TEMPORARY, MXS_RT_NONE,
		                "greeting %d: temporary or rate-limited: %s", code, a->greeting);
		mxs_verdict_set(&a->tls, MXS_ST_TEMPORARY, MXS_RT_NONE,
		                "not determined: greeting %d (temporary)", code);
	} else {
		mxs_verdict_set(&a->smtp, MXS_ST_FAIL, MXS_RT_NONE,
		                "greeting %d: server refuses SMTP: %s", code, a->greeting);
		mxs_verdict_set(&a->tls, MXS_ST_NOT_TESTED, MXS_RT_NONE,
		                "not determined: the server refuses SMTP sessions");
	}
	sess_quit(s);
	return 0;
}

static int
on_ehlo(struct smtp_sess *s)
{
	struct mxs_addr *a = s->a;
	int code = s->reply->code;
	size_t dropped = 0;
	char first[256];

	a->ehlo_code = code;
	mxs_smtp_reply_first_line(s->reply, first, sizeof(first));
	if (code >= 400 && code < 500) {
		mxs_verdict_set(&a->smtp, MXS_ST_TEMPORARY, MXS_RT_NONE, "EHLO answered %d: %s",
		                code, first);
		mxs_verdict_set(&a->tls, MXS_ST_TEMPORARY, MXS_RT_NONE,
		                "not determined: EHLO answered %d (temporary)", code);
		sess_quit(s);
		return 0;
	}
	if (code != 250) {
		mxs_verdict_set(&a->smtp, MXS_ST_OK, MXS_RT_NONE, "EHLO rejected with %d: no ESMTP",
		                code);
		mxs_verdict_set(&a->tls, MXS_ST_FAIL, MXS_RT_STARTTLS_NOT_SUPPORTED,
		                "EHLO rejected with %d, so STARTTLS cannot be offered", code);
		sess_quit(s);
		return 0;
	}
	if (mxs_ehlo_parse(s->reply, &a->caps, &a->ncaps, &a->starttls_advertised, &dropped) != 0) {
		mxs_verdict_set(&a->smtp, MXS_ST_NOT_TESTED, MXS_RT_NONE,
		                "out of memory parsing EHLO");
		sess_finish(s);
		return 1;
	}
	mxs_verdict_set(&a->smtp, MXS_ST_OK, MXS_RT_NONE, "greeting 220, EHLO 250%s",
	                dropped ? " (capability list truncated)" : "");
	if (!a->starttls_advertised) {
		mxs_verdict_set(&a->tls, MXS_ST_FAIL, MXS_RT_STARTTLS_NOT_SUPPORTED,
		                "STARTTLS not advertised in the EHLO reply");
		sess_quit(s);
		return 0;
	}
	s->state = S_STARTTLS;
	sess_send(s, "STARTTLS");
	return 0;
}

/* Returns 1 when the TLS handshake must start (stop reading lines). */
static int
on_starttls(struct smtp_sess *s)
{
	struct mxs_addr *a = s->a;
	int code = s->reply->code;
	char first[256];

	a->starttls_code = code;
	if (code == 220)
		return sess_start_tls(s);
	mxs_smtp_reply_first_line(s->reply, first, sizeof(first));
	if (code >= 400 && code < 500)
		mxs_verdict_set(&a->tls, MXS_ST_TEMPORARY, MXS_RT_NONE,
		                "STARTTLS answered %d (temporary): %s", code, first);
	else
		mxs_verdict_set(&a->tls, MXS_ST_FAIL, MXS_RT_STARTTLS_NOT_SUPPORTED,
		                "STARTTLS advertised but refused with %d: %s", code, first);
	sess_quit(s);
	return 0;
}

/* A complete reply arrived.  Returns 1 to stop reading lines. */
static int
on_reply(struct smtp_sess *s)
{
	switch (s->state) {
	case S_GREETING:
		return on_greeting(s);
	case S_EHLO:
		return on_ehlo(s);
	case S_STARTTLS:
		return on_starttls(s);
	case S_QUIT:
		sess_finish(s);
		return 1;
	default:
		return 0;
	}
}

static void
sess_protocol_error(struct smtp_sess *s, const char *why)
{
	mxs_verdict_set(&s->a->smtp, MXS_ST_FAIL, MXS_RT_NONE, "protocol error in %s: %s",
	                state_names[s->state], why);
	if (s->state < S_STARTTLS || s->a->tls.status == MXS_ST_NOT_TESTED)
		mxs_verdict_set(&s->a->tls, MXS_ST_NOT_TESTED, MXS_RT_NONE,
		                "not determined: the SMTP dialogue broke down");
	sess_finish(s);
}

static void
sess_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_sess *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char line[MXS_SMTP_LINE_MAX + 1], err[160];
	struct evbuffer_ptr eol;
	size_t eol_len;
	int rc;

	if (s->state == S_HANDSHAKE || s->state == S_CONNECT)
		return;
	for (;;) {
		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > MXS_SMTP_LINE_MAX) {
				snprintf(err, sizeof(err), "reply line longer than %d bytes",
				         MXS_SMTP_LINE_MAX);
				sess_protocol_error(s, err);
			}
			return;
		}
		if ((size_t)eol.pos + eol_len > MXS_SMTP_LINE_MAX) {
			snprintf(err, sizeof(err), "reply line longer than %d bytes",
			         MXS_SMTP_LINE_MAX);
			sess_protocol_error(s, err);
			return;
		}
		evbuffer_remove(in, line, (size_t)eol.pos);
		evbuffer_drain(in, eol_len);
		rc = mxs_smtp_reply_feed(s->reply, line, (size_t)eol.pos, err, sizeof(err));
		if (rc < 0) {
			sess_protocol_error(s, err);
			return;
		}
		if (rc == 1 && on_reply(s))
			return;
	}
}

/*
 * libevent queues, per failure, SSL_get_error's code (not an OpenSSL error)
 * followed by OpenSSL's error queue, and hands them back last first.  The
 * root cause is the earliest real OpenSSL error (library code non-zero).
 */
static const char *
tls_error_text(struct bufferevent *bev, char *buf, size_t len)
{
	unsigned long err, root = 0;
	const char *why;

	while ((err = bufferevent_get_openssl_error(bev)) != 0)
		if (ERR_GET_LIB(err) != 0)
			root = err;
	if (root == 0)
		return NULL;
	if ((why = ERR_reason_error_string(root)) != NULL)
		snprintf(buf, len, "%s", why);
	else
		ERR_error_string_n(root, buf, len);
	return buf;
}

static void
sess_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_sess *s = arg;
	struct mxs_addr *a = s->a;
	char buf[256];
	const char *tlserr;
	int err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		if (s->state == S_CONNECT) {
			a->connect_ms = since(s->t_step);
			mxs_verdict_set(&a->connect, MXS_ST_OK, MXS_RT_NONE, "connected in %u ms",
			                a->connect_ms);
			s->state = S_GREETING;
			s->t_step = mxs_now_ms();
			set_timeout(s, s->e->cfg->command_timeout_ms);
			bufferevent_enable(bev, EV_READ);
		} else if (s->state == S_HANDSHAKE) {
			set_timeout(s, s->e->cfg->command_timeout_ms);
			sess_handshake_done(s, bufferevent_openssl_get_ssl(bev));
		}
		return;
	}
	if (s->state == S_CONNECT) {
		if (what & BEV_EVENT_TIMEOUT)
			mxs_verdict_set(&a->connect, MXS_ST_TEMPORARY, MXS_RT_NONE,
			                "connect timed out after %lld ms",
			                s->e->cfg->connect_timeout_ms);
		else
			mxs_verdict_set(
			        &a->connect, err == ECONNREFUSED ? MXS_ST_FAIL : MXS_ST_TEMPORARY,
			        MXS_RT_NONE, "connect: %s", evutil_socket_error_to_string(err));
		mxs_verdict_set(&a->tls, MXS_ST_NOT_TESTED, MXS_RT_NONE,
		                "not determined: no TCP connection");
		sess_finish(s);
		return;
	}
	if (s->state == S_QUIT) { /* the server hung up after our QUIT: fine */
		sess_finish(s);
		return;
	}
	if (s->state == S_HANDSHAKE) {
		a->tls_ms = since(s->t_step);
		if (what & BEV_EVENT_TIMEOUT)
			mxs_verdict_set(&a->tls, MXS_ST_TEMPORARY, MXS_RT_NONE,
			                "TLS handshake timed out after %lld ms",
			                s->e->cfg->tls_timeout_ms);
		else if ((tlserr = tls_error_text(bev, buf, sizeof(buf))) != NULL)
			mxs_verdict_set(&a->tls, MXS_ST_FAIL, MXS_RT_VALIDATION_FAILURE,
			                "TLS handshake failed: %s", tlserr);
		else
			mxs_verdict_set(&a->tls, MXS_ST_FAIL, MXS_RT_VALIDATION_FAILURE,
			                "TLS handshake failed: connection closed by the server");
		sess_finish(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		snprintf(buf, sizeof(buf), "no reply within %lld ms",
		         s->e->cfg->command_timeout_ms);
		sess_temporary(s, buf);
	} else if (what & BEV_EVENT_EOF)
		sess_temporary(s, "connection closed by the server");
	else
		sess_temporary(s, evutil_socket_error_to_string(err));
}

static void
sess_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_sess *s = arg;
	char buf[128];

	snprintf(buf, sizeof(buf), "session limit of %lld ms reached",
	         s->e->cfg->session_timeout_ms);
	if (s->state == S_HANDSHAKE) {
		mxs_verdict_set(&s->a->tls, MXS_ST_TEMPORARY, MXS_RT_NONE, "%s", buf);
		sess_finish(s);
	} else if (s->state == S_QUIT)
		sess_finish(s);
	else
		sess_temporary(s, buf);
}

static int
sess_sockaddr(const struct mxs_addr *a, struct sockaddr_storage *ss, int *len)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(25);
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, a->address, &s6->sin6_addr) == 1 ? 0 : MXS_EINVAL;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(25);
	*len = sizeof(*s4);
	return inet_pton(AF_INET, a->address, &s4->sin_addr) == 1 ? 0 : MXS_EINVAL;
}

int
mxs_smtp_probe(struct mxs_engine *e, struct mxs_addr *a, const char *mxhost,
               const struct mxs_dane_rrset *dane, mxs_smtp_fn fn, void *arg)
{
	struct sockaddr_storage ss;
	struct smtp_sess *s;
	struct timeval tv;
	int sslen;

	if (sess_sockaddr(a, &ss, &sslen) != 0)
		return MXS_EINVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return MXS_ENOMEM;
	if ((s->reply = malloc(sizeof(*s->reply))) == NULL) {
		free(s);
		return MXS_ENOMEM;
	}
	s->e = e;
	s->a = a;
	s->mxhost = mxhost;
	s->dane = dane;
	s->fn = fn;
	s->arg = arg;
	s->t0 = s->t_step = mxs_now_ms();
	s->bev = bufferevent_socket_new(e->base, -1, BEV_OPT_CLOSE_ON_FREE);
	s->deadline = evtimer_new(e->base, sess_deadline_cb, s);
	if (s->bev == NULL || s->deadline == NULL) {
		if (s->bev != NULL)
			bufferevent_free(s->bev);
		if (s->deadline != NULL)
			event_free(s->deadline);
		free(s->reply);
		free(s);
		return MXS_ENOMEM;
	}
	tv.tv_sec = e->cfg->session_timeout_ms / 1000;
	tv.tv_usec = (e->cfg->session_timeout_ms % 1000) * 1000;
	evtimer_add(s->deadline, &tv);
	bufferevent_setcb(s->bev, sess_read_cb, NULL, sess_event_cb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, MXS_SMTP_LINE_MAX + 64);
	set_timeout(s, e->cfg->connect_timeout_ms);
	mxs_smtp_reply_reset(s->reply);
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&ss, sslen) != 0) {
		/* Immediate failure (e.g. no route): a verdict, delivered now. */
		int err = EVUTIL_SOCKET_ERROR();
		mxs_verdict_set(&a->connect, MXS_ST_FAIL, MXS_RT_NONE, "connect: %s",
		                evutil_socket_error_to_string(err));
		mxs_verdict_set(&a->tls, MXS_ST_NOT_TESTED, MXS_RT_NONE,
		                "not determined: no TCP connection");
		sess_finish(s);
	}
	return 0;
}
