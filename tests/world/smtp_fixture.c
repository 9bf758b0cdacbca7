/*
 * smtp_fixture — a small SMTP server that plays the test world's hostile
 * scenarios, the ones Postfix cannot be made to play: refused or stalled
 * greetings, endless or overlong replies, and garbage or a fatal alert where
 * the TLS handshake should be.  Run with -h for the modes.
 *
 * One process, one poll() loop, non-blocking sockets.  Each client holds at
 * most FX_LINE_MAX bytes of input (a longer line drops it) and FX_OUT_MAX of
 * output; long or endless output is generated as the socket drains.  No
 * command is read while the output buffer lacks room for a reply, so a
 * client that pipelines without reading is held back by TCP, not by memory.
 *
 * Closes linger: after the last reply the write side is shut and input is
 * drained until the client closes (at most FX_LINGER_MS).  Closing with
 * unread input makes Linux send a RST, which can destroy the very reply a
 * scenario is about before the client has read it.
 *
 * Logs one key=value line per connection to stderr when it ends.  Exits 0
 * on SIGTERM or SIGINT, 1 if start-up fails, 2 on a usage error.  Nothing a
 * client sends can abort it; fx_panic is for bugs in this file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define FX_PROG         "mxs-smtp-fixture"
#define FX_LINE_MAX     1024 /* command line with its LF (RFC 5321 says 512) */
#define FX_REPLY_MAX    512  /* output room needed before a command is read */
#define FX_OUT_MAX      4096 /* output buffered per client */
#define FX_CLIENTS_MAX  1024 /* more are accepted and closed at once */
#define FX_HOST_MAX     253  /* -n HOSTNAME, which goes into every reply */
#define FX_LONGLINE_LEN (1024 * 1024)
#define FX_GARBAGE_LEN  4096
#define FX_LINGER_MS    2000
#define FX_PUMP_ROUNDS  64 /* I/O rounds per client before the others' turn */
#define FX_EOF          (-2)

enum fx_mode {
	FX_OK,
	FX_GREET421,
	FX_GREET554,
	FX_STALL_MODE,
	FX_ENDLESS,
	FX_LONG_LINE,
	FX_STALL_AFTER_GREETING,
	FX_GARBAGE,
	FX_TLS_ALERT,
	FX_GREET450,
	FX_RESET,
	FX_NMODES
};

static const char *const fx_modes[FX_NMODES][2] = {
        [FX_OK] = {"ok", "ESMTP with STARTTLS and a real TLS handshake (needs -c, -k)"},
        [FX_GREET421] = {"greet421", "421 greeting, then close"},
        [FX_GREET554] = {"greet554", "554 greeting, then 503 to all but QUIT"},
        [FX_STALL_MODE] = {"stall", "accept and never send anything"},
        [FX_ENDLESS] = {"endless-greeting", "220- continuation lines forever"},
        [FX_LONG_LINE] = {"long-line", "\"220 \" and 1 MiB without CRLF, then stall"},
        [FX_STALL_AFTER_GREETING] = {"stall-after-greeting", "greet, read EHLO, never answer"},
        [FX_GARBAGE] = {"garbage-after-starttls", "4 KiB of non-TLS bytes for a ClientHello"},
        [FX_TLS_ALERT] = {"tls-alert", "handshake_failure alert for a ClientHello"},
        [FX_GREET450] = {"greet450", "450 greeting, then close"},
        [FX_RESET] = {"reset-after-greeting", "greet, then reset the connection on EHLO"},
};

enum fx_state {
	FX_SMTP,       /* reading commands and answering them, plain or TLS */
	FX_STARTTLS,   /* flushing the 220 to STARTTLS */
	FX_HANDSHAKE,  /* TLS server handshake (mode ok) */
	FX_HELLO_WAIT, /* skipping the ClientHello (garbage, tls-alert) */
	FX_GENERATE,   /* producing output as the socket drains */
	FX_STALL,      /* reading and discarding, never writing */
	FX_CLOSING,    /* flushing output, then close_notify, then linger */
	FX_LINGER,     /* write side shut; draining input until EOF */
	FX_DEAD
};

enum fx_gen { FX_GEN_ENDLESS, FX_GEN_LONGLINE, FX_GEN_GARBAGE };

struct fx_client {
	int fd;
	enum fx_state state;
	enum fx_gen gen;
	size_t gen_left;         /* bytes still to generate (not FX_GEN_ENDLESS) */
	unsigned long gen_line;  /* next FX_GEN_ENDLESS line number */
	uint32_t rnd;            /* xorshift32 state for FX_GEN_GARBAGE */
	SSL *ssl;                /* owned; made at STARTTLS in mode ok */
	int tls_up;              /* application data goes through ssl */
	size_t tls_wlen;         /* an SSL_write to repeat with this length */
	const char *tls_version; /* static string from OpenSSL */
	unsigned char hello_hdr[5];
	size_t hello_have, hello_left; /* record header bytes, body to skip */
	const char *hello;
	short want;                   /* poll events that the last blocked operation waits for */
	int again;                    /* pump again without waiting: new, or round limit hit */
	long long born, linger_until; /* monotonic ms */
	const char *end;              /* why it ended; the first reason wins */
	char err[160];                /* detail for that reason, or "" */
	size_t injected;              /* plaintext sent behind STARTTLS, discarded */
	unsigned cmds;
	unsigned long long bytes_in, bytes_out;
	char peer[INET6_ADDRSTRLEN + 8];
	size_t inlen, outlen;
	char in[FX_LINE_MAX];
	char out[FX_OUT_MAX];
};

static struct {
	enum fx_mode mode;
	const char *host, *addr_text, *port_text, *chain, *key;
	SSL_CTX *ctx; /* NULL unless -c and -k were given */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int lfd;
	int sigpipe[2]; /* self-pipe: the signal handler writes, poll() reads */
	size_t maxclients, nclients;
	struct fx_client *clients[FX_CLIENTS_MAX];
} fx = {.host = "fixture.invalid", .lfd = -1};

static void fx_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fx_reply(struct fx_client *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
fx_log(const char *level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: level=%s %s\n", FX_PROG, level, line);
}

#define fx_panic(msg) fx_panic_at(__FILE__, __LINE__, msg)
static void __attribute__((noreturn)) fx_panic_at(const char *file, int line, const char *msg)
{
	fprintf(stderr, "%s: level=panic at=%s:%d %s\n", FX_PROG, file, line, msg);
	abort();
}

static long long
fx_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Records why the connection ends and the detail (may be NULL), unless a
 * reason is already recorded.  Returns -1, for the failure paths. */
static int
fx_end(struct fx_client *c, const char *why, const char *detail)
{
	if (c->end == NULL) {
		c->end = why;
		snprintf(c->err, sizeof(c->err), "%s", detail ? detail : "");
	}
	return -1;
}

/* Appends a reply.  Callers leave FX_REPLY_MAX bytes of room, and no reply
 * is longer, the host name being at most FX_HOST_MAX. */
static void
fx_reply(struct fx_client *c, const char *fmt, ...)
{
	size_t room = sizeof(c->out) - c->outlen;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->out + c->outlen, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		fx_panic("reply does not fit the output buffer");
	c->outlen += (size_t)n;
}

/* Sorts out an SSL_* call that returned ret <= 0: 0 if it has to wait
 * (c->want set), FX_EOF on close_notify, -1 on failure (c->end set). */
static int
fx_tls_result(struct fx_client *c, int ret, const char *why)
{
	char e[128];

	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		c->want |= POLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->want |= POLLOUT;
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		fx_end(c, "eof", NULL);
		return FX_EOF;
	}
	if (ERR_peek_last_error() != 0)
		ERR_error_string_n(ERR_peek_last_error(), e, sizeof(e));
	else
		snprintf(e, sizeof(e), "%s", errno ? strerror(errno) : "unexpected eof");
	return fx_end(c, why, e);
}

/* One read into c->in (which must have room) or one write from c->out,
 * plain or TLS.  Returns bytes moved, 0 if it would block (c->want set),
 * FX_EOF on an orderly close, -1 on failure (c->end set). */
static int
fx_io(struct fx_client *c, int wr)
{
	size_t len = wr ? c->outlen : sizeof(c->in) - c->inlen;
	ssize_t n;

	if (len == 0)
		fx_panic("I/O of nothing");
	if (c->tls_up) {
		len = c->tls_wlen && wr ? c->tls_wlen : len; /* a retry asks for the same */
		ERR_clear_error();
		errno = 0;
		n = wr ? SSL_write(c->ssl, c->out, (int)len)
		       : SSL_read(c->ssl, c->in + c->inlen, (int)len);
		c->tls_wlen = n <= 0 && wr ? len : 0;
		if (n <= 0)
			return fx_tls_result(c, (int)n, "tls-error");
	} else {
		n = wr ? send(c->fd, c->out, len, MSG_NOSIGNAL)
		       : recv(c->fd, c->in + c->inlen, len, 0);
		if (n == 0 && !wr) {
			fx_end(c, "eof", NULL);
			return FX_EOF;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			c->want |= wr ? POLLOUT : POLLIN;
			return 0;
		}
		if (n < 0)
			return fx_end(c, "reset", strerror(errno));
	}
	if (wr) {
		memmove(c->out, c->out + n, c->outlen - (size_t)n);
		c->outlen -= (size_t)n;
		c->bytes_out += (unsigned long long)n;
	} else {
		c->inlen += (size_t)n;
		c->bytes_in += (unsigned long long)n;
	}
	return (int)n;
}

/* Writes what is buffered.  Returns 1 if anything went, 0 if not, -1. */
static int
fx_flush(struct fx_client *c)
{
	int progress = 0, n;

	while (c->outlen > 0) {
		n = fx_io(c, 1);
		if (n <= 0)
			return n < 0 ? -1 : progress;
		progress = 1;
	}
	return progress;
}

/* Moves one line out of c->in into line (FX_LINE_MAX bytes), without its
 * CRLF or bare LF.  Returns 0 if no whole line is buffered. */
static int
fx_take_line(struct fx_client *c, char *line)
{
	char *nl = memchr(c->in, '\n', c->inlen);
	size_t used, len;

	if (nl == NULL)
		return 0;
	used = (size_t)(nl - c->in) + 1;
	len = used > 1 && c->in[used - 2] == '\r' ? used - 2 : used - 1;
	memcpy(line, c->in, len);
	line[len] = '\0';
	memmove(c->in, c->in + used, c->inlen - used);
	c->inlen -= used;
	return 1;
}

/* Returns the argument if line is the command verb (any case), else NULL. */
static const char *
fx_verb(const char *line, const char *verb)
{
	size_t n = strlen(verb);

	if (strncasecmp(line, verb, n) != 0 || (line[n] != '\0' && line[n] != ' '))
		return NULL;
	return line + n + strspn(line + n, " ");
}

static void
fx_quit(struct fx_client *c)
{
	fx_reply(c, "221 2.0.0 %s closing connection\r\n", fx.host);
	fx_end(c, "quit", NULL);
	c->state = FX_CLOSING;
}

/* Modes ok, garbage-after-starttls and tls-alert. */
static void
fx_cmd_esmtp(struct fx_client *c, const char *line)
{
	const char *arg;

	if (fx_verb(line, "EHLO") != NULL)
		fx_reply(c, "250-%s\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n%s250 8BITMIME\r\n",
		         fx.host, c->tls_up ? "" : "250-STARTTLS\r\n");
	else if (fx_verb(line, "HELO") != NULL)
		fx_reply(c, "250 %s\r\n", fx.host);
	else if ((arg = fx_verb(line, "STARTTLS")) != NULL && (c->tls_up || *arg != '\0'))
		fx_reply(c, c->tls_up ? "503 5.5.1 TLS already active\r\n"
		                      : "501 5.5.4 Syntax: STARTTLS\r\n");
	else if (arg != NULL) {
		fx_reply(c, "220 2.0.0 Ready to start TLS\r\n");
		c->state = FX_STARTTLS;
	} else if (fx_verb(line, "NOOP") != NULL || fx_verb(line, "RSET") != NULL)
		fx_reply(c, "250 2.0.0 OK\r\n");
	else if (fx_verb(line, "QUIT") != NULL)
		fx_quit(c);
	else
		fx_reply(c, "502 5.5.2 Command not recognized\r\n");
}

static void
fx_command(struct fx_client *c, const char *line)
{
	c->cmds++;
	if (fx.mode == FX_RESET) {
		/* A zero linger makes close() send RST instead of FIN. */
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		fx_end(c, "reset", NULL);
		c->state = FX_DEAD;
	} else if (fx.mode == FX_STALL_AFTER_GREETING)
		c->state = FX_STALL;
	else if (fx.mode != FX_GREET554)
		fx_cmd_esmtp(c, line);
	else if (fx_verb(line, "QUIT") != NULL)
		fx_quit(c);
	else /* RFC 5321 §3.1: after a 554 greeting, wait for QUIT */
		fx_reply(c, "503 5.5.1 Bad sequence of commands\r\n");
}

static int
fx_step_smtp(struct fx_client *c)
{
	char line[FX_LINE_MAX];
	int progress = 0, n;

	while (c->state == FX_SMTP && sizeof(c->out) - c->outlen >= FX_REPLY_MAX &&
	       fx_take_line(c, line)) {
		fx_command(c, line);
		progress = 1;
	}
	if (c->state != FX_SMTP)
		return 1;
	if (c->inlen == sizeof(c->in)) {
		if (memchr(c->in, '\n', c->inlen) != NULL)
			return progress; /* whole lines wait for output room */
		return fx_end(c, "line-too-long", NULL);
	}
	n = fx_io(c, 0);
	if (n == FX_EOF) {
		c->state = FX_CLOSING; /* still deliver what is queued */
		return 1;
	}
	return n < 0 ? -1 : progress || n > 0;
}

/* Once the 220 is out.  Bytes sent behind STARTTLS are plaintext injection
 * (RFC 3207 §5, CVE-2011-0411) and are dropped. */
static int
fx_step_starttls(struct fx_client *c)
{
	char e[128];

	if (c->outlen > 0)
		return 0;
	c->injected += c->inlen;
	c->inlen = 0;
	c->state = fx.mode == FX_OK ? FX_HANDSHAKE : FX_HELLO_WAIT;
	if (fx.mode != FX_OK)
		return 1;
	c->ssl = SSL_new(fx.ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		ERR_error_string_n(ERR_get_error(), e, sizeof(e));
		return fx_end(c, "tls-setup", e);
	}
	SSL_set_accept_state(c->ssl);
	return 1;
}

static int
fx_step_handshake(struct fx_client *c)
{
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(c->ssl);
	if (r != 1)
		return fx_tls_result(c, r, "tls-handshake") < 0 ? -1 : 0;
	c->tls_up = 1;
	c->tls_version = SSL_get_version(c->ssl);
	c->state = FX_SMTP;
	return 1;
}

/* Skips the first TLS record, which holds the ClientHello: real clients
 * send it in one record, far below the 16 KiB limit.  Consumes c->in.
 * Returns 1 once skipped, 0 if more is needed, -1 if this is not TLS. */
static int
fx_hello_skip(struct fx_client *c)
{
	const unsigned char *p = (const unsigned char *)c->in;
	size_t len = c->inlen, n;

	c->inlen = 0;
	for (; len > 0 && c->hello_have < sizeof(c->hello_hdr); len--) {
		c->hello_hdr[c->hello_have++] = *p++;
		if (c->hello_have == sizeof(c->hello_hdr))
			c->hello_left = (size_t)c->hello_hdr[3] << 8 | c->hello_hdr[4];
	}
	if (c->hello_have < sizeof(c->hello_hdr))
		return 0;
	if (c->hello_hdr[0] != 22 || c->hello_hdr[1] != 3) /* handshake, TLS */
		return -1;
	n = len < c->hello_left ? len : c->hello_left;
	c->hello_left -= n;
	return c->hello_left == 0;
}

static int
fx_step_hello(struct fx_client *c)
{
	static const char alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};
	int n, r;

	n = fx_io(c, 0);
	if (n <= 0)
		return n == 0 ? 0 : -1;
	r = fx_hello_skip(c);
	if (r == 0)
		return 1;
	c->hello = r > 0 ? "clienthello" : "not-tls";
	if (fx.mode == FX_TLS_ALERT) {
		memcpy(c->out, alert, sizeof(alert)); /* c->out is empty since STARTTLS */
		c->outlen = sizeof(alert);
		fx_end(c, "alert-sent", NULL);
		c->state = FX_CLOSING;
	} else {
		c->gen = FX_GEN_GARBAGE;
		c->gen_left = FX_GARBAGE_LEN;
		fx_end(c, "garbage-sent", NULL);
		c->state = FX_GENERATE;
	}
	return 1;
}

/* Fills the output buffer from the client's generator.  Long-line stalls
 * when done, garbage closes. */
static int
fx_step_generate(struct fx_client *c)
{
	size_t room = sizeof(c->out) - c->outlen, n, i;
	char *p = c->out + c->outlen;
	int len, progress = 0;

	while (c->gen == FX_GEN_ENDLESS) {
		len = snprintf(p, room, "220-%s endless greeting line %lu\r\n", fx.host,
		               c->gen_line);
		if (len < 0 || (size_t)len >= room)
			return progress;
		c->gen_line++;
		c->outlen += (size_t)len;
		p += len;
		room -= (size_t)len;
		progress = 1;
	}
	n = room < c->gen_left ? room : c->gen_left;
	memset(p, 'A', n);
	for (i = 0; i < n && c->gen == FX_GEN_GARBAGE; i++) {
		c->rnd ^= c->rnd << 13;
		c->rnd ^= c->rnd >> 17;
		c->rnd ^= c->rnd << 5;
		p[i] = (char)(c->rnd >> 24);
	}
	/* A first byte of 20..24 would read as a TLS record type. */
	if (c->gen == FX_GEN_GARBAGE && c->gen_left == FX_GARBAGE_LEN && p[0] >= 20 && p[0] <= 24)
		p[0] = 'G';
	c->outlen += n;
	c->gen_left -= n;
	if (c->gen_left == 0)
		c->state = c->gen == FX_GEN_LONGLINE ? FX_STALL : FX_CLOSING;
	return n > 0 || c->gen_left == 0; /* n == 0: full, and the flush blocked */
}

/* Stall and linger: read and discard until the client closes. */
static int
fx_step_drain(struct fx_client *c)
{
	int n = fx_io(c, 0);

	c->inlen = 0;
	return n < 0 ? -1 : n > 0;
}

static int
fx_step_closing(struct fx_client *c)
{
	int r;

	if (c->outlen > 0)
		return 0;
	if (c->tls_up) {
		ERR_clear_error();
		r = SSL_shutdown(c->ssl); /* sends close_notify; any answer is drained */
		if (r < 0 && SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_WRITE) {
			c->want |= POLLOUT;
			return 0;
		}
		c->tls_up = 0;
	}
	shutdown(c->fd, SHUT_WR);
	c->linger_until = fx_now() + FX_LINGER_MS;
	c->state = FX_LINGER;
	return 1;
}

/* What each state does when its client may make progress.  Each returns
 * 1 on progress, 0 if blocked (c->want set), -1 if the connection is over. */
static int (*const fx_steps[])(struct fx_client *) = {
        [FX_SMTP] = fx_step_smtp,           [FX_STARTTLS] = fx_step_starttls,
        [FX_HANDSHAKE] = fx_step_handshake, [FX_HELLO_WAIT] = fx_step_hello,
        [FX_GENERATE] = fx_step_generate,   [FX_STALL] = fx_step_drain,
        [FX_CLOSING] = fx_step_closing,     [FX_LINGER] = fx_step_drain,
};

/* Runs a client's I/O until it blocks, ends or has had FX_PUMP_ROUNDS;
 * leaves c->want to poll for, or c->again, or FX_DEAD. */
static void
fx_pump(struct fx_client *c)
{
	int round, flushed, stepped;

	c->again = 0;
	for (round = 0; round < FX_PUMP_ROUNDS; round++) {
		if (c->state == FX_DEAD) /* a step ended the connection (reset mode) */
			return;
		c->want = 0;
		flushed = fx_flush(c);
		stepped = flushed < 0 ? -1 : fx_steps[c->state](c);
		if (stepped < 0) {
			c->state = FX_DEAD;
			return;
		}
		if (!flushed && !stepped && c->want == 0)
			fx_panic("client blocked on nothing");
		if (!flushed && !stepped)
			return;
	}
	c->again = 1;
}

/* Queues what the mode says on connect and picks the first state. */
static void
fx_start(struct fx_client *c)
{
	c->state = FX_SMTP;
	if (fx.mode == FX_GREET421) {
		fx_reply(c, "421 4.3.2 %s Service not available, too many connections\r\n",
		         fx.host);
		fx_end(c, "greet421-sent", NULL);
		c->state = FX_CLOSING;
	} else if (fx.mode == FX_GREET450) {
		fx_reply(c, "450 4.7.1 %s Client host rejected: try again later\r\n", fx.host);
		fx_end(c, "greet450-sent", NULL);
		c->state = FX_CLOSING;
	} else if (fx.mode == FX_GREET554) {
		fx_reply(c, "554 5.7.1 %s No SMTP service here\r\n", fx.host);
	} else if (fx.mode == FX_STALL_MODE) {
		c->state = FX_STALL;
	} else if (fx.mode == FX_ENDLESS || fx.mode == FX_LONG_LINE) {
		if (fx.mode == FX_LONG_LINE)
			fx_reply(c, "220 ");
		c->gen = fx.mode == FX_ENDLESS ? FX_GEN_ENDLESS : FX_GEN_LONGLINE;
		c->gen_left = FX_LONGLINE_LEN;
		c->state = FX_GENERATE;
	} else {
		fx_reply(c, "220 %s ESMTP\r\n", fx.host);
	}
}

/* Logs the connection's one line, frees it and clears *cp. */
static void
fx_client_free(struct fx_client **cp)
{
	struct fx_client *c = *cp;

	fx_log("info",
	       "event=conn peer=%s mode=%s end=%s cmds=%u in=%llu out=%llu tls=%s hello=%s "
	       "injected=%zu ms=%lld%s%s%s",
	       c->peer, fx_modes[fx.mode][0], c->end ? c->end : "unknown", c->cmds, c->bytes_in,
	       c->bytes_out, c->tls_version ? c->tls_version : "none", c->hello ? c->hello : "none",
	       c->injected, fx_now() - c->born, c->err[0] ? " err=\"" : "", c->err,
	       c->err[0] ? "\"" : "");
	SSL_free(c->ssl);
	close(c->fd);
	free(c);
	*cp = NULL;
}

/* Accepts one client.  Returns 0 when there is none left to accept. */
static int
fx_accept(void)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";
	struct fx_client *c = NULL;
	int fd;

	fd = accept(fx.lfd, (struct sockaddr *)&ss, &sl);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED)
			fx_log("warn", "event=accept-failed errno=\"%s\"", strerror(errno));
		return errno == ECONNABORTED || errno == EINTR;
	}
	getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
	            NI_NUMERICHOST | NI_NUMERICSERV);
	if (fx.nclients < fx.maxclients && fcntl(fd, F_SETFL, O_NONBLOCK) == 0)
		c = calloc(1, sizeof(*c));
	if (c == NULL) {
		fx_log("warn", "event=conn peer=%s:%s end=refused clients=%zu", host, port,
		       fx.nclients);
		close(fd);
		return 1;
	}
	c->fd = fd;
	snprintf(c->peer, sizeof(c->peer), ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
	         port);
	c->born = fx_now();
	c->rnd = ((uint32_t)c->born ^ (uint32_t)fd * 2654435761u) | 1;
	c->again = 1; /* greet on the next turn of the loop */
	fx_start(c);
	fx.clients[fx.nclients++] = c;
	return 1;
}

/* Builds the poll set; returns the timeout (0 if a client wants another
 * turn, else until the first linger deadline, else -1). */
static int
fx_poll_set(struct pollfd *pfd, long long now)
{
	long long left;
	int timeout = -1;
	size_t i;

	pfd[0] = (struct pollfd){.fd = fx.sigpipe[0], .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = fx.lfd, .events = POLLIN};
	for (i = 0; i < fx.nclients; i++) {
		struct fx_client *c = fx.clients[i];

		pfd[2 + i] = (struct pollfd){.fd = c->fd, .events = c->want};
		left = c->linger_until > now ? c->linger_until - now : 0;
		if (c->again)
			timeout = 0;
		else if (c->state == FX_LINGER && (timeout < 0 || left < timeout))
			timeout = (int)left;
	}
	return timeout;
}

/* Serves clients until a signal arrives on the self-pipe. */
static void
fx_loop(void)
{
	static struct pollfd pfd[2 + FX_CLIENTS_MAX];
	size_t i, j, n;
	long long now;
	int r;

	for (;;) {
		n = fx.nclients;
		r = poll(pfd, 2 + n, fx_poll_set(pfd, fx_now()));
		if (r < 0 && errno != EINTR) {
			fx_log("error", "event=poll-failed errno=\"%s\"", strerror(errno));
			exit(1);
		}
		if (r > 0 && pfd[0].revents != 0)
			return;
		now = fx_now();
		for (i = 0; r >= 0 && i < n; i++) {
			struct fx_client *c = fx.clients[i];

			if (pfd[2 + i].revents != 0 || c->again)
				fx_pump(c);
			if (c->state == FX_LINGER && now >= c->linger_until)
				c->state = FX_DEAD; /* the client never closed */
			if (c->state == FX_DEAD)
				fx_client_free(&fx.clients[i]);
		}
		for (i = j = 0; i < fx.nclients; i++)
			if (fx.clients[i] != NULL)
				fx.clients[j++] = fx.clients[i];
		fx.nclients = j;
		for (i = 0; r > 0 && (pfd[1].revents & POLLIN) && i < 64 && fx_accept(); i++)
			;
	}
}

static void __attribute__((noreturn)) fx_usage(FILE *out, int status)
{
	int i;

	fprintf(out,
	        "usage: %s -l ADDR -p PORT -m MODE [-c CHAIN.pem -k KEY.pem] [-n HOSTNAME]\n"
	        "  -l ADDR      IPv4 or IPv6 literal to listen on\n"
	        "  -p PORT      TCP port, 1-65535\n"
	        "  -m MODE      scenario to play:\n",
	        FX_PROG);
	for (i = 0; i < FX_NMODES; i++)
		fprintf(out, "    %-22s %s\n", fx_modes[i][0], fx_modes[i][1]);
	fprintf(out, "  -c CHAIN.pem certificate chain, leaf first (PEM)\n"
	             "  -k KEY.pem   private key of the leaf (PEM)\n"
	             "  -n HOSTNAME  name used in replies (default fixture.invalid)\n"
	             "Logs one line per connection to stderr; SIGTERM or SIGINT exits 0.\n");
	exit(status);
}

static void __attribute__((noreturn)) fx_bad_usage(const char *what, const char *value)
{
	fprintf(stderr, "%s: level=error event=usage %s: \"%s\" (try -h)\n", FX_PROG, what, value);
	exit(2);
}

/* Fills fx.addr from -l and -p, or exits 2. */
static void
fx_parse_addr(const char *addr, const char *port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&fx.addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&fx.addr;
	unsigned long p;
	char *end;

	errno = 0;
	p = strtoul(port, &end, 10);
	if (errno != 0 || end == port || *end != '\0' || port[0] == '-' || p < 1 || p > 65535)
		fx_bad_usage("-p is not a port number", port);
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		fx.addrlen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		fx.addrlen = sizeof(*sin6);
	} else {
		fx_bad_usage("-l is not an IPv4 or IPv6 literal", addr);
	}
	fx.addr_text = addr;
	fx.port_text = port;
}

static void
fx_parse_args(int argc, char **argv)
{
	static const char letters[] = "lpmckn";
	const char *addr = NULL, *port = NULL, *mode = NULL;
	const char **slots[] = {&addr, &port, &mode, &fx.chain, &fx.key, &fx.host};
	const char *at;
	int ch, i;

	while ((ch = getopt(argc, argv, "l:p:m:c:k:n:h")) != -1) {
		if (ch == 'h')
			fx_usage(stdout, 0);
		at = strchr(letters, ch);
		if (at == NULL)
			fx_usage(stderr, 2);
		*slots[at - letters] = optarg;
	}
	if (optind != argc)
		fx_bad_usage("unexpected argument", argv[optind]);
	if (addr == NULL || port == NULL || mode == NULL)
		fx_bad_usage("-l, -p and -m are required", "");
	fx_parse_addr(addr, port);
	for (i = 0; i < FX_NMODES && strcmp(mode, fx_modes[i][0]) != 0; i++)
		;
	if (i == FX_NMODES)
		fx_bad_usage("unknown mode", mode);
	fx.mode = (enum fx_mode)i;
	if (fx.host[0] == '\0' || strlen(fx.host) > FX_HOST_MAX ||
	    fx.host[strspn(fx.host, "abcdefghijklmnopqrstuvwxyz"
	                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")] != '\0')
		fx_bad_usage("-n is not a host name", fx.host);
	if ((fx.chain == NULL) != (fx.key == NULL))
		fx_bad_usage("-c and -k go together", fx.chain ? fx.chain : fx.key);
	if (fx.mode == FX_OK && fx.chain == NULL)
		fx_bad_usage("this mode needs -c and -k", mode);
}

static void __attribute__((noreturn)) fx_fatal(const char *what, const char *detail)
{
	fx_log("error", "event=startup-failed what=\"%s\" detail=\"%s\"", what, detail);
	exit(1);
}

static void
fx_tls_init(void)
{
	char e[256];

	fx.ctx = SSL_CTX_new(TLS_server_method());
	if (fx.ctx == NULL)
		fx_fatal("SSL_CTX_new", "");
	SSL_CTX_set_min_proto_version(fx.ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(fx.ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* fx_io retries a write from a buffer that may have moved or grown. */
	SSL_CTX_set_mode(fx.ctx,
	                 SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(fx.ctx, fx.chain) != 1 ||
	    SSL_CTX_use_PrivateKey_file(fx.ctx, fx.key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(fx.ctx) != 1) {
		ERR_error_string_n(ERR_get_error(), e, sizeof(e));
		fx_fatal("loading certificate chain and key", e);
	}
}

static void
fx_on_signal(int sig)
{
	int saved = errno;
	char b = (char)sig;

	if (write(fx.sigpipe[1], &b, 1) < 0) {
		/* Full pipe: the loop is waking up anyway. */
	}
	errno = saved;
}

/* Signals, descriptor limit and listening socket; exits 1 on failure. */
static void
fx_setup(void)
{
	struct sigaction sa = {.sa_handler = fx_on_signal};
	rlim_t want = FX_CLIENTS_MAX + 16;
	struct rlimit rl;
	int one = 1;

	if (pipe(fx.sigpipe) != 0 || fcntl(fx.sigpipe[0], F_SETFL, O_NONBLOCK) != 0 ||
	    fcntl(fx.sigpipe[1], F_SETFL, O_NONBLOCK) != 0)
		fx_fatal("pipe", strerror(errno));
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	/* Raise the soft limit for FX_CLIENTS_MAX clients, or fit to it. */
	fx.maxclients = FX_CLIENTS_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
			fx.maxclients = rl.rlim_cur > 32 ? (size_t)rl.rlim_cur - 16 : 16;
	}

	fx.lfd = socket(fx.addr.ss_family, SOCK_STREAM, 0);
	if (fx.lfd < 0)
		fx_fatal("socket", strerror(errno));
	setsockopt(fx.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fx.addr.ss_family == AF_INET6)
		setsockopt(fx.lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fx.lfd, (struct sockaddr *)&fx.addr, fx.addrlen) != 0)
		fx_fatal("bind", strerror(errno));
	if (listen(fx.lfd, 512) != 0 || fcntl(fx.lfd, F_SETFL, O_NONBLOCK) != 0)
		fx_fatal("listen", strerror(errno));
}

int
main(int argc, char **argv)
{
	size_t i;

	fx_parse_args(argc, argv);
	if (fx.chain != NULL)
		fx_tls_init();
	fx_setup();
	fx_log("info", "event=listen addr=%s port=%s mode=%s host=%s max-clients=%zu", fx.addr_text,
	       fx.port_text, fx_modes[fx.mode][0], fx.host, fx.maxclients);
	fx_loop();
	for (i = 0; i < fx.nclients; i++) {
		fx_end(fx.clients[i], "shutdown", NULL);
		fx_client_free(&fx.clients[i]);
	}
	fx_log("info", "event=stop clients=%zu", fx.nclients);
	close(fx.lfd);
	SSL_CTX_free(fx.ctx);
	return 0;
}
