/*
 * test_fetch — unit tests for agent/fetch.c against real HTTPS servers.
 *
 * The certificates are made here with testpki (EC P-256, validity relative
 * to the wall clock, since the handshake judges them "now"): a trusted
 * root -> intermediate -> leaves for mta-sts.example.test (good, expired,
 * wrong name) and an unknown root with its own leaf.  Each test forks
 * small HTTPS servers on 127.0.0.1 (ports 20000-31999, below the Linux
 * ephemeral range) that fork once per connection and answer by request
 * path; every connection writes one line about what happened (SNI seen,
 * path, body bytes sent, or "handshake-failed") to a pipe the test reads.
 * A server stops on SIGTERM after ending and reaping its connections.
 * URLs use the name mta-sts.example.test, pinned to 127.0.0.1 through the
 * request's address list (CURLOPT_RESOLVE), so nothing needs DNS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "cert_check.h"
#include "fetch.h"
#include "testpki.h"

#define HOST        "mta-sts.example.test"
#define POLICY_PATH "/.well-known/mta-sts.txt"
#define POLICY      "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 86400\r\n"
/* sha256sum of POLICY, computed outside this program. */
#define POLICY_SHA256 "58f4d24c10657bfe772fd2f0eea54d39b416a9aa0690fc9867943eba2679855f"
#define INTER_DN      "CN=Test Intermediate CA,O=" TP_ORG
#define DAY           86400L
#define BIG_SENT      (70 * 1024) /* body bytes /big sends of the 1 MiB it announces */
#define CHUNKS        20          /* /chunked: CHUNKS x 4096 body bytes, no last chunk */
#define NCONC         10          /* /gate answers once this many requests are waiting */
#define GATE_MS       5000        /* ... or 503 after this long */

/* ---- certificates --------------------------------------------------------- */

struct cred {
	X509 *leaf;
	EVP_PKEY *key;
	X509 *extra; /* CA certificate the server sends after the leaf, or NULL */
};

static struct {
	char dir[64], root_pem[128], inter_pem[128];
	struct mxs_trust trust;
	X509 *root, *inter, *uroot;
	EVP_PKEY *kroot, *kinter, *kuroot;
	struct cred good, nointer, expired, wrongname, unknown;
	unsigned char good_sha256[32];
} F;

/* A leaf for HOST, valid [nb, na], that the server sends with extra. */
static void
mk_leaf(struct cred *c, const char *san, time_t nb, time_t na, X509 *issuer, EVP_PKEY *ikey,
        X509 *extra)
{
	c->leaf = tp_cert(HOST, TP_SERVER, nb, na, san, issuer, ikey, &c->key);
	c->extra = extra;
}

static int
group_setup(void **state)
{
	char err[256];
	unsigned int n;
	time_t now = time(NULL);

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(F.dir, sizeof(F.dir), "/tmp/mxs-fetch-XXXXXX");
	assert_non_null(mkdtemp(F.dir));
	F.root = tp_cert("Test Root CA", TP_CA, now - DAY, now + 3650 * DAY, NULL, NULL, NULL,
	                 &F.kroot);
	F.inter = tp_cert("Test Intermediate CA", TP_CA, now - DAY, now + 365 * DAY, NULL, F.root,
	                  F.kroot, &F.kinter);
	F.uroot = tp_cert("Unknown Root CA", TP_CA, now - DAY, now + 3650 * DAY, NULL, NULL, NULL,
	                  &F.kuroot);
	mk_leaf(&F.good, "DNS:" HOST, now - DAY, now + 90 * DAY, F.inter, F.kinter, F.inter);
	mk_leaf(&F.expired, "DNS:" HOST, now - 60 * DAY, now - DAY, F.inter, F.kinter, F.inter);
	mk_leaf(&F.wrongname, "DNS:www.example.org", now - DAY, now + 90 * DAY, F.inter, F.kinter,
	        F.inter);
	mk_leaf(&F.unknown, "DNS:" HOST, now - DAY, now + 90 * DAY, F.uroot, F.kuroot, NULL);
	F.nointer = F.good; /* same leaf, intermediate not sent */
	F.nointer.extra = NULL;
	assert_int_equal(X509_digest(F.good.leaf, EVP_sha256(), F.good_sha256, &n), 1);

	snprintf(F.root_pem, sizeof(F.root_pem), "%s/root.pem", F.dir);
	snprintf(F.inter_pem, sizeof(F.inter_pem), "%s/intermediates.pem", F.dir);
	tp_write_pem(F.root_pem, &F.root, 1);
	tp_write_pem(F.inter_pem, &F.inter, 1);
	assert_int_equal(mxs_trust_load(&F.trust, F.root_pem, NULL, F.inter_pem, err, sizeof(err)),
	                 0);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	mxs_trust_free(&F.trust);
	tp_free_all();
	remove(F.root_pem);
	remove(F.inter_pem);
	rmdir(F.dir);
	return 0;
}

/* ---- the servers ------------------------------------------------------------ */

struct srv {
	pid_t pid; /* also its process group */
	int port;
	int note; /* read end of the servers' report pipe */
	SSL_CTX *ctx;
	atomic_int *waiting; /* shared by the server's processes: requests at /gate */
	char buf[4096];
	size_t blen;
};

static struct {
	struct srv srv[4];
	size_t nsrv;
	int refused_fd; /* bound, never listening */
	struct event_base *base;
	struct mxs_fetcher *f;
	int expect, done;
	uint64_t t0;
} T;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void note_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
note_line(int fd, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(fd, line, (size_t)n) != n)
		_exit(2);
}

/*
 * Status line, headers (extra: more header lines, each ending in CRLF),
 * Content-Length announced (normally len), then len body bytes; returns the
 * body bytes sent.
 */
static size_t
reply_cl(SSL *ssl, const char *status, const char *ctype, const char *extra, size_t announced,
         const char *body, size_t len)
{
	char head[512], tail[128];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Type: %s\r\n", status, ctype);
	int t = snprintf(tail, sizeof(tail), "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	                 announced);
	int x = (int)strlen(extra);

	if (n < 0 || (size_t)n >= sizeof(head) || t < 0 || (size_t)t >= sizeof(tail) ||
	    SSL_write(ssl, head, n) != n || (x > 0 && SSL_write(ssl, extra, x) != x) ||
	    SSL_write(ssl, tail, t) != t)
		return 0;
	return len == 0 || SSL_write(ssl, body, (int)len) == (int)len ? len : 0;
}

static size_t
reply(SSL *ssl, const char *status, const char *ctype, const char *extra, const char *body,
      size_t len)
{
	return reply_cl(ssl, status, ctype, extra, len, body, len);
}

/* /headers: a policy behind more header bytes than MXS_HTTP_HEADERS_MAX. */
static size_t
reply_fat_headers(SSL *ssl)
{
	static char pad[20 * 1024 + 1];
	size_t off = 0;

	while (off + 1024 < sizeof(pad)) {
		memcpy(pad + off, "X-Pad: ", 7);
		memset(pad + off + 7, 'p', 1024 - 9);
		memcpy(pad + off + 1024 - 2, "\r\n", 2);
		off += 1024;
	}
	pad[off] = '\0';
	return reply(ssl, "200 OK", "text/plain", pad, POLICY, strlen(POLICY));
}

/* Announce more than is sent, or send chunks without the last one; stall after. */
static size_t
stream(SSL *ssl, int chunked)
{
	static const char head_cl[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	                              "Content-Length: 1048576\r\n\r\n";
	static const char head_ch[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	                              "Transfer-Encoding: chunked\r\n\r\n";
	char data[4096];
	size_t sent = 0;

	memset(data, 'x', sizeof(data));
	if (chunked) {
		if (SSL_write(ssl, head_ch, (int)strlen(head_ch)) <= 0)
			return 0;
		for (int i = 0; i < CHUNKS; i++) {
			if (SSL_write(ssl, "1000\r\n", 6) != 6 ||
			    SSL_write(ssl, data, (int)sizeof(data)) != (int)sizeof(data))
				break;
			sent += sizeof(data);
			if (SSL_write(ssl, "\r\n", 2) != 2)
				break;
		}
		return sent;
	}
	if (SSL_write(ssl, head_cl, (int)strlen(head_cl)) <= 0)
		return 0;
	while (sent < BIG_SENT && SSL_write(ssl, data, 1024) == 1024)
		sent += 1024;
	return sent;
}

/* /gate: hold the request until NCONC requests are held at once. */
static size_t
gate(SSL *ssl, atomic_int *waiting)
{
	atomic_fetch_add(waiting, 1);
	for (int ms = 0; atomic_load(waiting) < NCONC; ms += 5) {
		if (ms >= GATE_MS)
			return reply(ssl, "503 Service Unavailable", "text/plain", "", "", 0);
		usleep(5000);
	}
	return reply(ssl, "200 OK", "text/plain", "", POLICY, strlen(POLICY));
}

/* Answer one request by its path; *stall asks the caller to hang on after. */
static size_t
respond(SSL *ssl, const char *path, int port, atomic_int *waiting, int *stall)
{
	char loc[160], *end, *body;
	unsigned long n;
	size_t sent;

	*stall = 0;
	if (strcmp(path, POLICY_PATH) == 0)
		return reply(ssl, "200 OK", "text/plain; charset=utf-8", "", POLICY,
		             strlen(POLICY));
	if (strcmp(path, "/gate") == 0)
		return gate(ssl, waiting);
	if (strcmp(path, "/headers") == 0)
		return reply_fat_headers(ssl);
	if (strcmp(path, "/short") == 0) /* 100 announced, 50 sent, then closed */
		return reply_cl(ssl, "200 OK", "text/plain", "", 100, POLICY, 50);
	if (strcmp(path, "/html") == 0)
		return reply(ssl, "200 OK", "text/html; charset=UTF-8", "", "<html></html>\n", 14);
	if (strcmp(path, "/301") == 0) {
		snprintf(loc, sizeof(loc), "Location: https://%s:%d%s\r\n", HOST, port,
		         POLICY_PATH);
		return reply(ssl, "301 Moved Permanently", "text/plain", loc, "moved\n", 6);
	}
	if (strncmp(path, "/size/", 6) == 0) {
		errno = 0;
		n = strtoul(path + 6, &end, 10);
		if (errno != 0 || *end != '\0' || n > 1024 * 1024 || (body = malloc(n + 1)) == NULL)
			return 0;
		for (unsigned long i = 0; i < n; i++)
			body[i] = (char)('a' + i % 26);
		sent = reply(ssl, "200 OK", "text/plain", "", body, n);
		free(body);
		return sent;
	}
	*stall = 1;
	if (strcmp(path, "/big") == 0 || strcmp(path, "/chunked") == 0)
		return stream(ssl, path[1] == 'c');
	if (strcmp(path, "/stall") == 0)
		return 0;
	*stall = 0;
	return reply(ssl, "404 Not Found", "text/plain", "", "not found\n", 10);
}

/* One connection, in its own process. */
static void
serve(int c, const struct srv *s, int note)
{
	SSL_CTX *ctx = s->ctx;
	char req[4096], path[256];
	const char *sni, *p;
	size_t n = 0, len, sent;
	int r, stall;
	SSL *ssl;

	alarm(10);
	(void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	if (ctx == NULL) { /* accept and say nothing */
		note_line(note, "accepted");
		pause();
		_exit(0);
	}
	if ((ssl = SSL_new(ctx)) == NULL || !SSL_set_fd(ssl, c))
		_exit(2);
	r = SSL_accept(ssl);
	sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (r != 1) {
		note_line(note, "sni=%s handshake-failed", sni != NULL ? sni : "-");
		_exit(0);
	}
	req[0] = '\0';
	while (strstr(req, "\r\n\r\n") == NULL) {
		if (n + 1 >= sizeof(req) ||
		    (r = SSL_read(ssl, req + n, (int)(sizeof(req) - 1 - n))) <= 0)
			_exit(0);
		n += (size_t)r;
		req[n] = '\0';
	}
	if (strncmp(req, "GET ", 4) != 0 || (p = strchr(req + 4, ' ')) == NULL ||
	    (len = (size_t)(p - req - 4)) >= sizeof(path))
		_exit(2);
	memcpy(path, req + 4, len);
	path[len] = '\0';
	sent = respond(ssl, path, s->port, s->waiting, &stall);
	note_line(note, "sni=%s path=%s sent=%zu", sni != NULL ? sni : "-", path, sent);
	if (stall)
		pause();
	SSL_shutdown(ssl);
	_exit(0);
}

/* The server's SIGTERM: end its connection processes, reap them, exit. */
static void
srv_term(int sig)
{
	(void)sig;
	signal(SIGTERM, SIG_IGN);
	kill(0, SIGTERM); /* its process group: the connection processes */
	while (wait(NULL) > 0 || errno == EINTR)
		;
	_exit(0);
}

static int
listen_port(int *port, int do_listen)
{
	static int next;
	struct sockaddr_in sin;
	int fd, one = 1;

	if (next == 0)
		next = 20000 + (int)(getpid() % 1000) * 10;
	for (int tries = 0; tries < 500; tries++) {
		if (next >= 32000)
			next = 20000;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)next);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*port = next++;
		assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    (!do_listen || listen(fd, 64) == 0))
			return fd;
		close(fd);
	}
	fail_msg("no free port");
	return -1;
}

/* A server with cred c (NULL: plain TCP that never speaks), at most TLS maxver (0: any). */
static struct srv *
srv_start(const struct cred *c, int maxver)
{
	struct srv *s = &T.srv[T.nsrv];
	int fd, pfd[2];

	assert_true(T.nsrv < sizeof(T.srv) / sizeof(T.srv[0]));
	memset(s, 0, sizeof(*s));
	if (c != NULL) {
		assert_non_null(s->ctx = SSL_CTX_new(TLS_server_method()));
		assert_int_equal(SSL_CTX_use_certificate(s->ctx, c->leaf), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey(s->ctx, c->key), 1);
		if (c->extra != NULL)
			assert_int_equal(SSL_CTX_add1_chain_cert(s->ctx, c->extra), 1);
		if (maxver != 0) {
			SSL_CTX_set_security_level(s->ctx, 0);
			assert_int_equal(SSL_CTX_set_min_proto_version(s->ctx, TLS1_VERSION), 1);
			assert_int_equal(SSL_CTX_set_max_proto_version(s->ctx, maxver), 1);
		}
	}
	s->waiting = mmap(NULL, sizeof(*s->waiting), PROT_READ | PROT_WRITE,
	                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(s->waiting != MAP_FAILED);
	atomic_init(s->waiting, 0);
	fd = listen_port(&s->port, 1);
	assert_int_equal(pipe(pfd), 0);
	assert_true((s->pid = fork()) >= 0);
	if (s->pid == 0) {
		setpgid(0, 0);
		signal(SIGCHLD, SIG_IGN); /* connection processes reap themselves */
		signal(SIGTERM, srv_term);
		alarm(30);
		close(pfd[0]);
		for (;;) {
			int cfd = accept(fd, NULL, NULL);

			if (cfd < 0 && errno == EINTR)
				continue;
			if (cfd < 0)
				_exit(2);
			if (fork() == 0) {
				signal(SIGTERM, SIG_DFL);
				close(fd);
				serve(cfd, s, pfd[1]);
			}
			close(cfd);
		}
	}
	setpgid(s->pid, s->pid);
	T.nsrv++;
	close(fd);
	close(pfd[1]);
	s->note = pfd[0];
	return s;
}

/* Next report line of s into out; 0 if none within timeout_ms. */
static int
srv_note(struct srv *s, char *out, size_t len, int timeout_ms)
{
	struct pollfd p = {.fd = s->note, .events = POLLIN};
	char *nl;
	ssize_t r;

	for (;;) {
		if ((nl = memchr(s->buf, '\n', s->blen)) != NULL) {
			size_t n = (size_t)(nl - s->buf);

			assert_true(n < len);
			memcpy(out, s->buf, n);
			out[n] = '\0';
			memmove(s->buf, nl + 1, s->blen - n - 1);
			s->blen -= n + 1;
			return 1;
		}
		if (poll(&p, 1, timeout_ms) <= 0 ||
		    (r = read(s->note, s->buf + s->blen, sizeof(s->buf) - s->blen)) <= 0)
			return 0;
		s->blen += (size_t)r;
	}
}

static void
assert_note(struct srv *s, const char *want)
{
	char line[512];

	assert_true(srv_note(s, line, sizeof(line), 3000));
	assert_string_equal(line, want);
}

/* ---- running fetches ------------------------------------------------------------- */

struct got {
	int calls;
	uint64_t ms;              /* from the first start to the callback */
	struct mxs_fetch_res res; /* copy; res.body is NULL, the body is in body */
	unsigned char *body;
};

static struct got G[NCONC];

static void
on_done(void *arg, struct mxs_fetch_res *res)
{
	struct got *g = arg;

	g->calls++;
	g->ms = now_ms() - T.t0;
	g->res = *res;
	g->res.body = NULL;
	g->body = res->body; /* take it: the documented ownership transfer */
	res->body = NULL;
	if (++T.done == T.expect)
		event_base_loopexit(T.base, NULL);
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fail_msg("fetches did not finish within 10 s");
}

static void
run_until(int n)
{
	struct timeval tv = {.tv_sec = 10};
	struct event *guard = evtimer_new(T.base, guard_cb, NULL);

	assert_non_null(guard);
	T.expect = n;
	assert_int_equal(evtimer_add(guard, &tv), 0);
	assert_int_equal(event_base_dispatch(T.base), 0);
	event_free(guard);
	assert_int_equal(T.done, n);
}

static void
req_init(struct mxs_fetch_req *req, char *url, size_t len, const struct srv *s, const char *path)
{
	static const char *const lo[] = {"127.0.0.1"};

	snprintf(url, len, "https://%s:%d%s", HOST, s->port, path);
	memset(req, 0, sizeof(*req));
	req->url = url;
	req->addrs = lo;
	req->naddrs = 1;
	req->connect_timeout_ms = 2000;
	req->timeout_ms = 4000;
}

static void
start(struct mxs_fetch_req *req, struct got *g)
{
	if (T.t0 == 0)
		T.t0 = now_ms();
	assert_int_equal(mxs_fetch_start(T.f, req, on_done, g), 0);
	assert_int_equal(g->calls, 0); /* never from inside mxs_fetch_start */
}

/* One fetch (G[0], cleared first) of path from s with body_max; its outcome. */
static struct got *
fetch1(const struct srv *s, const char *path, size_t body_max)
{
	struct mxs_fetch_req req;
	char url[256];

	free(G[0].body);
	memset(&G[0], 0, sizeof(G[0]));
	T.done = 0;
	T.t0 = 0;
	req_init(&req, url, sizeof(url), s, path);
	req.body_max = body_max;
	start(&req, &G[0]);
	run_until(1);
	assert_int_equal(G[0].calls, 1);
	return &G[0];
}

static int
t_setup(void **state)
{
	char err[256];

	(void)state;
	memset(G, 0, sizeof(G));
	T.nsrv = 0;
	T.refused_fd = -1;
	T.done = T.expect = 0;
	T.t0 = 0;
	assert_non_null(T.base = event_base_new());
	assert_int_equal(mxs_fetcher_new(T.base, &F.trust, &T.f, err, sizeof(err)), 0);
	return 0;
}

static int
t_teardown(void **state)
{
	(void)state;
	mxs_fetcher_free(&T.f);
	assert_null(T.f);
	event_base_free(T.base);
	for (size_t i = 0; i < T.nsrv; i++) {
		kill(T.srv[i].pid, SIGTERM);
		waitpid(T.srv[i].pid, NULL, 0);
		close(T.srv[i].note);
		SSL_CTX_free(T.srv[i].ctx);
		munmap(T.srv[i].waiting, sizeof(*T.srv[i].waiting));
	}
	if (T.refused_fd >= 0)
		close(T.refused_fd);
	for (size_t i = 0; i < NCONC; i++)
		free(G[i].body);
	return 0;
}

/* ---- assertions --------------------------------------------------------------- */

static void
hex_to_bin(const char *hex, unsigned char *out, size_t n)
{
	assert_int_equal(strlen(hex), 2 * n);
	for (size_t i = 0; i < n; i++) {
		char byte[3] = {hex[2 * i], hex[2 * i + 1], '\0'};
		char *end;

		out[i] = (unsigned char)strtoul(byte, &end, 16);
		assert_true(*end == '\0');
	}
}

static void
assert_policy_ok(const struct got *g)
{
	unsigned char sha[32];

	assert_int_equal(g->res.fail, MXS_FETCH_OK);
	assert_int_equal(g->res.status, 200);
	assert_int_equal(g->res.body_len, strlen(POLICY));
	assert_memory_equal(g->body, POLICY, strlen(POLICY));
	assert_true(g->res.body_complete);
	hex_to_bin(POLICY_SHA256, sha, sizeof(sha));
	assert_memory_equal(g->res.body_sha256, sha, sizeof(sha));
}

/* A chain refused in the handshake: nothing of HTTP happened. */
static void
assert_cert_refused(const struct got *g, struct srv *s)
{
	char want[2 * MXS_REASON_MAX];

	assert_int_equal(g->res.fail, MXS_FETCH_CERT);
	assert_string_equal(mxs_fetch_fail_name(g->res.fail), "cert");
	assert_true(g->res.cert.judged);
	assert_int_equal(g->res.status, 0);
	assert_null(g->body);
	assert_int_equal(g->res.body_len, 0);
	assert_false(g->res.body_complete);
	snprintf(want, sizeof(want), "certificate not valid for %s: %s", HOST,
	         g->res.cert.pkix.status != MXS_ST_OK ? g->res.cert.pkix.reason
	                                              : g->res.cert.name.reason);
	want[MXS_REASON_MAX - 1] = '\0'; /* the reason's own truncation */
	assert_string_equal(g->res.reason, want);
	/* The request was never sent: the server saw the handshake fail. */
	assert_note(s, "sni=" HOST " handshake-failed");
}

/* ---- tests ----------------------------------------------------------------------- */

static void
test_ok_policy(void **state)
{
	struct srv *s = srv_start(&F.good, 0);
	struct got *g;
	const struct mxs_fetch_res *r;
	char want[128];

	(void)state;
	g = fetch1(s, POLICY_PATH, 0);
	r = &g->res;
	assert_policy_ok(g);
	snprintf(want, sizeof(want), "HTTP 200, %zu bytes", strlen(POLICY));
	assert_string_equal(r->reason, want);
	assert_string_equal(mxs_fetch_fail_name(r->fail), "ok");
	assert_string_equal(r->content_type, "text/plain; charset=utf-8");
	assert_string_equal(r->location, "");
	assert_string_equal(r->host, HOST);
	assert_string_equal(r->address, "127.0.0.1");
	assert_string_equal(r->tls_version, "TLSv1.3");
	assert_true(r->tls_cipher[0] != '\0');
	assert_true(r->cert.judged);
	assert_int_equal(r->cert.pkix.status, MXS_ST_OK);
	assert_int_equal(r->cert.name.status, MXS_ST_OK);
	assert_string_equal(r->cert.name_matched, HOST);
	assert_true(r->cert.days_to_expiry >= 89 && r->cert.days_to_expiry <= 90);
	assert_int_equal(r->cert.nchain, 2);
	assert_memory_equal(r->cert.chain[0].sha256, F.good_sha256, 32);
	assert_string_equal(r->cert.chain[1].subject, INTER_DN);
	assert_true(r->connect_ms <= r->tls_ms && r->tls_ms <= r->first_byte_ms &&
	            r->first_byte_ms <= r->total_ms);
	snprintf(want, sizeof(want), "sni=%s path=%s sent=%zu", HOST, POLICY_PATH, strlen(POLICY));
	assert_note(s, want);
}

static void
test_404(void **state)
{
	struct srv *s = srv_start(&F.good, 0);
	struct got *g;

	(void)state;
	g = fetch1(s, "/nothing-here", 0);
	assert_int_equal(g->res.fail, MXS_FETCH_HTTP_STATUS);
	assert_int_equal(g->res.status, 404);
	assert_string_equal(g->res.reason, "HTTP 404, not 200");
	assert_true(g->res.body_complete);
	assert_int_equal(g->res.body_len, 10);
	assert_memory_equal(g->body, "not found\n", 10);
}

static void
test_redirect_not_followed(void **state)
{
	struct srv *s = srv_start(&F.good, 0);
	struct got *g;
	char loc[128], want[256], line[256];

	(void)state;
	g = fetch1(s, "/301", 0);
	snprintf(loc, sizeof(loc), "https://%s:%d%s", HOST, s->port, POLICY_PATH);
	assert_int_equal(g->res.fail, MXS_FETCH_REDIRECT);
	assert_int_equal(g->res.status, 301);
	assert_string_equal(g->res.location, loc);
	snprintf(want, sizeof(want), "HTTP 301 redirect to %s, not followed", loc);
	assert_string_equal(g->res.reason, want);
	assert_note(s, "sni=" HOST " path=/301 sent=6");
	/* The Location points at the same server: a follow would show here. */
	assert_false(srv_note(s, line, sizeof(line), 200));
}

static void
test_html_reported(void **state)
{
	struct srv *s = srv_start(&F.good, 0);
	struct got *g;

	(void)state;
	g = fetch1(s, "/html", 0);
	assert_int_equal(g->res.fail, MXS_FETCH_OK); /* the media type is the caller's call */
	assert_string_equal(g->res.content_type, "text/html; charset=UTF-8");
	assert_int_equal(g->res.body_len, 14);
}

/* Over the limit while streaming: the server announced 1 MiB, sent 70 KiB, and hangs. */
static void
test_too_large(void **state)
{
	static const char *const paths[] = {"/big", "/chunked"};
	static const size_t sent[] = {BIG_SENT, CHUNKS * 4096};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct srv *s = srv_start(&F.good, 0);
		struct got *g;
		char want[128];

		g = fetch1(s, paths[i], 0);
		assert_int_equal(g->res.fail, MXS_FETCH_TOO_LARGE);
		assert_string_equal(g->res.reason, "body larger than 65536 bytes");
		assert_int_equal(g->res.status, 200);
		assert_int_equal(g->res.body_len, MXS_HTTP_BODY_MAX);
		assert_false(g->res.body_complete);
		assert_true(g->ms < 3000); /* not the 4 s timeout: aborted mid-stream */
		snprintf(want, sizeof(want), "sni=%s path=%s sent=%zu", HOST, paths[i], sent[i]);
		assert_note(s, want);
		assert_true(sent[i] > MXS_HTTP_BODY_MAX);
	}
}

static void
test_limit_boundaries(void **state)
{
	static const struct {
		const char *path;
		size_t body_max;
		enum mxs_fetch_fail fail;
		size_t kept;
	} cases[] = {
	        {"/size/0", 100, MXS_FETCH_OK, 0},
	        {"/size/99", 100, MXS_FETCH_OK, 99},
	        {"/size/100", 100, MXS_FETCH_OK, 100},
	        {"/size/101", 100, MXS_FETCH_TOO_LARGE, 100},
	        {"/size/65536", 0, MXS_FETCH_OK, 65536},
	        {"/size/65537", 0, MXS_FETCH_TOO_LARGE, 65536},
	};
	struct srv *s = srv_start(&F.good, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct got *g;

		g = fetch1(s, cases[i].path, cases[i].body_max);
		assert_int_equal(g->res.fail, cases[i].fail);
		assert_int_equal(g->res.body_len, cases[i].kept);
		assert_int_equal(g->res.body_complete, cases[i].fail == MXS_FETCH_OK);
		for (size_t j = 0; j < g->res.body_len; j++)
			assert_int_equal(g->body[j], 'a' + j % 26);
	}
}

/* Responses that break HTTP or our limits after a good handshake. */
static void
test_broken_responses(void **state)
{
	struct srv *s = srv_start(&F.good, 0);
	struct got *g;

	(void)state;
	g = fetch1(s, "/headers", 0);
	assert_int_equal(g->res.fail, MXS_FETCH_OTHER);
	assert_string_equal(g->res.reason, "response headers larger than 16384 bytes");
	assert_null(g->body);

	g = fetch1(s, "/short", 0);
	assert_int_equal(g->res.fail, MXS_FETCH_OTHER);
	assert_int_equal(g->res.status, 200);
	assert_true(strncmp(g->res.reason, "body: ", 6) == 0);
	assert_false(g->res.body_complete);
	assert_int_equal(g->res.body_len, 50);
	assert_memory_equal(g->body, POLICY, 50);
}

static void
test_wrong_name(void **state)
{
	struct srv *s = srv_start(&F.wrongname, 0);
	struct got *g;

	(void)state;
	g = fetch1(s, POLICY_PATH, 0);
	assert_cert_refused(g, s);
	assert_int_equal(g->res.cert.pkix.status, MXS_ST_OK);
	assert_int_equal(g->res.cert.name.status, MXS_ST_FAIL);
	assert_int_equal(g->res.cert.name.rtype, MXS_RT_CERT_HOST_MISMATCH);
	assert_string_equal(g->res.tls_version, "TLSv1.3");
}

static void
test_unknown_ca(void **state)
{
	struct srv *s = srv_start(&F.unknown, 0);
	struct got *g;

	(void)state;
	g = fetch1(s, POLICY_PATH, 0);
	assert_cert_refused(g, s);
	assert_int_equal(g->res.cert.pkix.status, MXS_ST_FAIL);
	assert_int_equal(g->res.cert.pkix.rtype, MXS_RT_CERT_NOT_TRUSTED);
	assert_int_equal(g->res.cert.name.status, MXS_ST_OK);
	assert_int_equal(g->res.cert.nchain, 1);
}

static void
test_expired(void **state)
{
	struct srv *s = srv_start(&F.expired, 0);
	struct got *g;

	(void)state;
	g = fetch1(s, POLICY_PATH, 0);
	assert_cert_refused(g, s);
	assert_int_equal(g->res.cert.pkix.rtype, MXS_RT_CERT_EXPIRED);
	assert_int_equal(g->res.cert.x509_error, X509_V_ERR_CERT_HAS_EXPIRED);
	assert_true(g->res.cert.days_to_expiry < 0);
}

static void
test_missing_intermediate(void **state)
{
	struct srv *s = srv_start(&F.nointer, 0);
	struct got *g;

	(void)state;
	g = fetch1(s, POLICY_PATH, 0);
	assert_cert_refused(g, s);
	assert_int_equal(g->res.cert.pkix.rtype, MXS_RT_CERT_NOT_TRUSTED);
	assert_string_equal(g->res.cert.missing_intermediate, INTER_DN);
	assert_int_equal(g->res.cert.nchain, 1);
}

static void
test_tls_versions(void **state)
{
	struct srv *s12 = srv_start(&F.good, TLS1_2_VERSION);
	struct srv *s11 = srv_start(&F.good, TLS1_1_VERSION);
	struct got *g;

	(void)state;
	g = fetch1(s12, POLICY_PATH, 0);
	assert_policy_ok(g);
	assert_string_equal(g->res.tls_version, "TLSv1.2");

	g = fetch1(s11, POLICY_PATH, 0);
	assert_int_equal(g->res.fail, MXS_FETCH_TLS);
	assert_true(strncmp(g->res.reason, "TLS handshake failed: ", 22) == 0);
	assert_false(g->res.cert.judged);
	/* The server stops at the version, before it looks at SNI. */
	assert_note(s11, "sni=- handshake-failed");
}

/* Accepts the connection and never speaks: the connect timeout covers TLS. */
static void
test_stall_handshake(void **state)
{
	struct srv *s = srv_start(NULL, 0);
	struct mxs_fetch_req req;
	char url[256], want[128];

	(void)state;
	req_init(&req, url, sizeof(url), s, POLICY_PATH);
	req.connect_timeout_ms = 300;
	start(&req, &G[0]);
	run_until(1);
	assert_int_equal(G[0].res.fail, MXS_FETCH_TIMEOUT);
	assert_true(G[0].ms >= 290 && G[0].ms < 2500); /* connect timeout, not the 4 s one */
	snprintf(want, sizeof(want), "timed out after %u ms in connect or TLS handshake",
	         G[0].res.total_ms);
	assert_string_equal(G[0].res.reason, want);
	assert_note(s, "accepted");
}

/* Completes TLS, reads the request, never answers: the total timeout. */
static void
test_stall_response(void **state)
{
	struct srv *s = srv_start(&F.good, 0);
	struct mxs_fetch_req req;
	char url[256], want[128];

	(void)state;
	req_init(&req, url, sizeof(url), s, "/stall");
	req.connect_timeout_ms = 500;
	req.timeout_ms = 600;
	start(&req, &G[0]);
	run_until(1);
	assert_int_equal(G[0].res.fail, MXS_FETCH_TIMEOUT);
	assert_true(G[0].ms >= 590 && G[0].ms < 3000);
	snprintf(want, sizeof(want), "timed out after %u ms waiting for the response",
	         G[0].res.total_ms);
	assert_string_equal(G[0].res.reason, want);
	assert_int_equal(G[0].res.cert.pkix.status, MXS_ST_OK);
	assert_int_equal(G[0].res.status, 0);
	assert_note(s, "sni=" HOST " path=/stall sent=0");
}

static void
test_refused(void **state)
{
	struct srv s = {.port = 0};
	struct got *g;

	(void)state;
	T.refused_fd = listen_port(&s.port, 0); /* bound, not listening: RST */
	g = fetch1(&s, POLICY_PATH, 0);
	assert_int_equal(g->res.fail, MXS_FETCH_CONNECT);
	assert_string_equal(mxs_fetch_fail_name(g->res.fail), "connect");
	assert_false(g->res.cert.judged);
	assert_int_equal(g->res.status, 0);
	assert_true(g->res.reason[0] != '\0');
}

/*
 * Only the last address serves: nothing listens on ::1 (or there is no
 * IPv6 at all) nor on 127.0.0.2.  Reaching 127.0.0.1 also shows that the
 * bracketed IPv6 form of the CURLOPT_RESOLVE entry parsed.
 */
static void
test_address_list(void **state)
{
	static const char *const addrs[] = {"::1", "127.0.0.2", "127.0.0.1"};
	struct srv *s = srv_start(&F.good, 0);
	struct mxs_fetch_req req;
	char url[256];

	(void)state;
	req_init(&req, url, sizeof(url), s, POLICY_PATH);
	req.addrs = addrs;
	req.naddrs = 3;
	start(&req, &G[0]);
	run_until(1);
	assert_policy_ok(&G[0]);
	assert_string_equal(G[0].res.address, "127.0.0.1");
}

static void
test_bad_requests(void **state)
{
	static const char *const one[] = {"127.0.0.1"};
	static const char *const comma[] = {"127.0.0.1,10.0.0.1"};
	static const char *const name[] = {HOST};
	static const char *const many[MXS_FETCH_ADDRS_MAX + 1] = {"127.0.0.1"};
	static char longurl[MXS_HTTP_URL_MAX + 2];
	const struct {
		const char *url;
		const char *const *addrs;
		size_t naddrs, body_max;
		long cto, to;
		int rc;
	} cases[] = {
	        {NULL, one, 1, 0, 100, 200, MXS_EINVAL},
	        {"http://" HOST POLICY_PATH, one, 1, 0, 100, 200, MXS_EINVAL},
	        {"ftp://" HOST POLICY_PATH, one, 1, 0, 100, 200, MXS_EINVAL},
	        {HOST POLICY_PATH, one, 1, 0, 100, 200, MXS_EINVAL},
	        {"https://127.0.0.1" POLICY_PATH, one, 1, 0, 100, 200, MXS_EINVAL},
	        {"https://[::1]" POLICY_PATH, one, 1, 0, 100, 200, MXS_EINVAL},
	        {"https://bad_host.example" POLICY_PATH, one, 1, 0, 100, 200, MXS_EINVAL},
	        {"https://" HOST "." POLICY_PATH, one, 1, 0, 100, 200, MXS_EINVAL},
	        {longurl, one, 1, 0, 100, 200, MXS_EINVAL},
	        {"https://" HOST POLICY_PATH, comma, 1, 0, 100, 200, MXS_EINVAL},
	        {"https://" HOST POLICY_PATH, name, 1, 0, 100, 200, MXS_EINVAL},
	        {"https://" HOST POLICY_PATH, NULL, 1, 0, 100, 200, MXS_EINVAL},
	        {"https://" HOST POLICY_PATH, many, MXS_FETCH_ADDRS_MAX + 1, 0, 100, 200,
	         MXS_ELIMIT},
	        {"https://" HOST POLICY_PATH, one, 1, MXS_HTTP_BODY_MAX + 1, 100, 200, MXS_EINVAL},
	        {"https://" HOST POLICY_PATH, one, 1, 0, 0, 200, MXS_EINVAL},
	        {"https://" HOST POLICY_PATH, one, 1, 0, 300, 200, MXS_EINVAL},
	        {"https://" HOST POLICY_PATH, one, 1, 0, 100, MXS_FETCH_TIMEOUT_MAX + 1,
	         MXS_EINVAL},
	};
	struct mxs_fetch_req req;

	(void)state;
	memcpy(longurl, "https://" HOST "/", strlen("https://" HOST "/"));
	memset(longurl + strlen("https://" HOST "/"), 'a',
	       sizeof(longurl) - 1 - strlen("https://" HOST "/"));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&req, 0, sizeof(req));
		req.url = cases[i].url;
		req.addrs = cases[i].addrs;
		req.naddrs = cases[i].naddrs;
		req.body_max = cases[i].body_max;
		req.connect_timeout_ms = cases[i].cto;
		req.timeout_ms = cases[i].to;
		if (mxs_fetch_start(T.f, &req, on_done, &G[0]) != cases[i].rc)
			fail_msg("case %zu (%s): wrong result", i,
			         cases[i].url ? cases[i].url : "NULL");
	}
	req.url = "https://" HOST POLICY_PATH;
	req.addrs = one;
	req.naddrs = 1;
	req.connect_timeout_ms = 100;
	req.timeout_ms = 200;
	assert_int_equal(mxs_fetch_start(T.f, NULL, on_done, &G[0]), MXS_EINVAL);
	assert_int_equal(mxs_fetch_start(T.f, &req, NULL, &G[0]), MXS_EINVAL);
	assert_int_equal(event_base_loop(T.base, EVLOOP_NONBLOCK), 1); /* nothing pending */
	assert_int_equal(G[0].calls, 0);
}

/*
 * NCONC fetches on one loop, all in flight at once: the server answers
 * /gate only when NCONC requests wait there together (a client taking
 * them one after another would get 503 after GATE_MS).
 */
static void
test_concurrent(void **state)
{
	struct srv *s = srv_start(&F.good, 0);
	struct mxs_fetch_req req;
	char url[256], line[256], want[128];

	(void)state;
	req_init(&req, url, sizeof(url), s, "/gate");
	req.timeout_ms = GATE_MS + 2000;
	for (int i = 0; i < NCONC; i++)
		start(&req, &G[i]);
	run_until(NCONC);
	for (int i = 0; i < NCONC; i++) {
		assert_int_equal(G[i].calls, 1);
		assert_policy_ok(&G[i]);
	}
	snprintf(want, sizeof(want), "sni=%s path=/gate sent=%zu", HOST, strlen(POLICY));
	for (int i = 0; i < NCONC; i++) {
		assert_true(srv_note(s, line, sizeof(line), 3000));
		assert_string_equal(line, want);
	}
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopexit(arg, NULL);
}

/* Freeing the fetcher abandons fetches in flight: no callback, no leak (ASan). */
static void
test_free_in_flight(void **state)
{
	struct srv *s = srv_start(&F.good, 0);
	struct timeval tv = {.tv_sec = 10};
	struct mxs_fetch_req req;
	char url[256];

	(void)state;
	req_init(&req, url, sizeof(url), s, "/stall");
	start(&req, &G[0]);
	/* Run until the server reports the request (or 10 s pass). */
	assert_int_equal(event_base_once(T.base, s->note, EV_READ, stop_cb, T.base, &tv), 0);
	assert_int_equal(event_base_dispatch(T.base), 0);
	assert_note(s, "sni=" HOST " path=/stall sent=0"); /* it was mid-transfer */
	mxs_fetcher_free(&T.f);
	assert_null(T.f);
	assert_int_equal(G[0].calls, 0);
	/* Nothing of the fetch is left on the loop. */
	assert_int_equal(event_base_loop(T.base, EVLOOP_NONBLOCK), 1);
}

int
main(void)
{
#define T_(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)
	const struct CMUnitTest tests[] = {
	        T_(test_ok_policy),
	        T_(test_404),
	        T_(test_redirect_not_followed),
	        T_(test_html_reported),
	        T_(test_too_large),
	        T_(test_limit_boundaries),
	        T_(test_broken_responses),
	        T_(test_wrong_name),
	        T_(test_unknown_ca),
	        T_(test_expired),
	        T_(test_missing_intermediate),
	        T_(test_tls_versions),
	        T_(test_stall_handshake),
	        T_(test_stall_response),
	        T_(test_refused),
	        T_(test_address_list),
	        T_(test_bad_requests),
	        T_(test_concurrent),
	        T_(test_free_in_flight),
	};
#undef T_

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
