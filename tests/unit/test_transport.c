/*
 * test_transport — the agent <-> collector transport, for real: nng REQ/REP
 * over tls+tcp://127.0.0.1 with mutual TLS, certificates made by
 * deploy/mxs-pki in a temporary directory, codec from common/wire.c.
 *
 * The collector side here is a stand-in (a thread answering on a REP
 * socket) configured the way collector/agents.c must be: client
 * certificates required from our CA (with its CRL), receive size lowered to
 * a named limit, every request answered, garbage with an Error.
 *
 * Finds deploy/mxs-pki through $MXS_SRC_DIR (set by CMake) or relative
 * paths.  Loopback only; the port is chosen below 32768.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include "wire.h"

extern char **environ;

/* The collector's receive limit in this test: low, so "too big" is cheap.
 * The daemon uses MXS_WIRE_MSG_MAX the same way. */
#define TEST_RECV_MAX (64 * 1024)
#define SERVER_NAME   "collector.test"
#define PORT_BASE     20000 /* ports tried: PORT_BASE + [0, PORT_SPAN) */
#define PORT_SPAN     10000
#define RAW_TIMEOUT_S 5    /* s the raw client waits on a socket */
#define RECV_TIMEOUT  3000 /* ms an agent waits for a reply */

static char dir[64];   /* the temporary PKI */
static char pki[1024]; /* path of deploy/mxs-pki */
static char url[64];

static nng_socket rep;
static nng_listener lst;
static nng_thread *server;
static atomic_int stop;
static atomic_int pipes_added, pipes_verified, requests, errors_sent;

/* ---- helpers ---- */

static int
run(char *const argv[])
{
	pid_t pid;
	int st;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
path(char *buf, size_t n, const char *a, const char *b)
{
	int k = snprintf(buf, n, "%s/%s", a, b);

	return k > 0 && (size_t)k < n ? 0 : -1;
}

static int
find_pki(void)
{
	static const char *rel[] = {"deploy/mxs-pki", "../deploy/mxs-pki", "../../deploy/mxs-pki",
	                            "../../../deploy/mxs-pki"};
	const char *src = getenv("MXS_SRC_DIR");
	size_t i;

	if (src != NULL && path(pki, sizeof(pki), src, "deploy/mxs-pki") == 0 &&
	    access(pki, X_OK) == 0)
		return 0;
	for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		if (access(rel[i], X_OK) == 0 && realpath(rel[i], pki) != NULL)
			return 0;
	}
	return -1;
}

static void
on_agent_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)arg;
	if (getenv("MXS_TEST_DEBUG") != NULL)
		fprintf(stderr, "# agent pipe %u event %d\n", nng_pipe_id(p), (int)ev);
}

/* Client TLS config: our CA, the collector's name, and a cert/key (or none). */
static nng_tls_config *
agent_tls(const char *ca, const char *certkey)
{
	nng_tls_config *c;

	assert_int_equal(nng_tls_config_alloc(&c, NNG_TLS_MODE_CLIENT), 0);
	assert_int_equal(nng_tls_config_ca_file(c, ca), 0);
	assert_int_equal(nng_tls_config_server_name(c, SERVER_NAME), 0);
	assert_int_equal(nng_tls_config_auth_mode(c, NNG_TLS_AUTH_MODE_REQUIRED), 0);
	if (certkey != NULL)
		assert_int_equal(nng_tls_config_cert_key_file(c, certkey, NULL), 0);
	return c;
}

/* Dial the collector; returns nng's result of the first (synchronous) dial. */
static int
agent_dial(nng_socket *s, const char *ca, const char *certkey)
{
	nng_tls_config *c = agent_tls(ca, certkey);
	nng_dialer d;
	int rv;

	assert_int_equal(nng_req0_open(s), 0);
	assert_int_equal(nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, RECV_TIMEOUT), 0);
	assert_int_equal(nng_socket_set_ms(*s, NNG_OPT_SENDTIMEO, RECV_TIMEOUT), 0);
	assert_int_equal(nng_socket_set_ms(*s, NNG_OPT_RECONNMINT, 50), 0);
	assert_int_equal(nng_pipe_notify(*s, NNG_PIPE_EV_ADD_POST, on_agent_pipe, NULL), 0);
	assert_int_equal(nng_pipe_notify(*s, NNG_PIPE_EV_REM_POST, on_agent_pipe, NULL), 0);
	assert_int_equal(nng_dialer_create(&d, *s, url), 0);
	assert_int_equal(nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, c), 0);
	nng_tls_config_free(c); /* the dialer holds its own reference */
	rv = nng_dialer_start(d, 0);
	return rv;
}

static int
agent_dial_file(nng_socket *s, const char *ca_rel, const char *certkey_rel)
{
	char ca[256], ck[256];

	assert_int_equal(path(ca, sizeof(ca), dir, ca_rel), 0);
	if (certkey_rel == NULL)
		return agent_dial(s, ca, NULL);
	assert_int_equal(path(ck, sizeof(ck), dir, certkey_rel), 0);
	return agent_dial(s, ca, ck);
}

/* Send bytes as one request; on a reply, *pipe is the pipe it came on. */
static int
exchange(nng_socket s, const void *b, size_t n, Mxs__Envelope **reply, uint32_t *pipe)
{
	nng_msg *m;
	int rv;

	*reply = NULL;
	assert_int_equal(nng_msg_alloc(&m, 0), 0);
	assert_int_equal(nng_msg_append(m, b, n), 0);
	if ((rv = nng_sendmsg(s, m, 0)) != 0) {
		nng_msg_free(m);
		return rv;
	}
	if ((rv = nng_recvmsg(s, &m, 0)) != 0)
		return rv;
	if (pipe != NULL)
		*pipe = nng_pipe_id(nng_msg_get_pipe(m));
	rv = mxs_wire_unpack(nng_msg_body(m), nng_msg_len(m), MXS_WIRE_MSG_MAX, reply, NULL, NULL,
	                     0);
	nng_msg_free(m);
	assert_int_equal(rv, MXS_OK);
	return 0;
}

static int
hello(nng_socket s, const char *name, Mxs__Envelope **reply, uint32_t *pipe)
{
	Mxs__Envelope env = MXS__ENVELOPE__INIT;
	Mxs__Hello h = MXS__HELLO__INIT;
	uint8_t *b;
	size_t n;
	int rv;

	env.has_version = 1;
	env.version = MXS_WIRE_VERSION;
	env.has_seq = 1;
	env.seq = 1;
	env.body_case = MXS__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	h.agent_name = (char *)(uintptr_t)name;
	h.region = "eu";
	h.version = "0.1.0";
	assert_int_equal(mxs_wire_pack(&env, MXS_WIRE_MSG_MAX, &b, &n, NULL, 0), MXS_OK);
	rv = exchange(s, b, n, reply, pipe);
	free(b);
	return rv;
}

/* ---- the collector stand-in ---- */

static void
on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	bool v = false;

	(void)arg;
	if (getenv("MXS_TEST_DEBUG") != NULL)
		fprintf(stderr, "# collector pipe %u event %d\n", nng_pipe_id(p), (int)ev);
	if (ev != NNG_PIPE_EV_ADD_POST)
		return;
	atomic_fetch_add(&pipes_added, 1);
	if (nng_pipe_get_bool(p, NNG_OPT_TLS_VERIFIED, &v) == 0 && v)
		atomic_fetch_add(&pipes_verified, 1);
}

static void
answer(nng_msg *req)
{
	char err[200];
	Mxs__Envelope *env, out = MXS__ENVELOPE__INIT;
	Mxs__HelloReply hr = MXS__HELLO_REPLY__INIT;
	Mxs__ErrorCode why;
	nng_pipe p = nng_msg_get_pipe(req);
	bool verified = false;
	uint8_t *b = NULL;
	size_t n = 0;
	int rc;

	atomic_fetch_add(&requests, 1);
	rc = mxs_wire_unpack(nng_msg_body(req), nng_msg_len(req), TEST_RECV_MAX, &env, &why, err,
	                     sizeof(err));
	if (rc != MXS_OK) {
		rc = mxs_wire_error_reply(0, why, err, &b, &n);
		atomic_fetch_add(&errors_sent, 1);
	} else if (env->body_case != MXS__ENVELOPE__BODY_HELLO) {
		rc = mxs_wire_error_reply(env->seq, MXS__ERROR_CODE__ERROR_BAD_REQUEST,
		                          "only hello here", &b, &n);
		atomic_fetch_add(&errors_sent, 1);
	} else {
		/* nng 1.5 tells only that the peer's chain verified, not who it is. */
		(void)nng_pipe_get_bool(p, NNG_OPT_TLS_VERIFIED, &verified);
		out.has_version = 1;
		out.version = MXS_WIRE_VERSION;
		out.has_seq = 1;
		out.seq = env->seq;
		out.body_case = MXS__ENVELOPE__BODY_HELLO_REPLY;
		out.hello_reply = &hr;
		hr.has_accepted = 1;
		hr.accepted = verified;
		hr.reason = verified ? "certificate verified" : "certificate not verified";
		rc = mxs_wire_pack(&out, TEST_RECV_MAX, &b, &n, NULL, 0);
	}
	mxs_wire_free(&env);
	nng_msg_clear(req);
	if (rc == MXS_OK && nng_msg_append(req, b, n) == 0 && nng_sendmsg(rep, req, 0) == 0)
		req = NULL;
	nng_msg_free(req);
	free(b);
}

static void
serve(void *arg)
{
	nng_msg *m;
	int rv;

	(void)arg;
	while (!atomic_load(&stop)) {
		rv = nng_recvmsg(rep, &m, 0);
		if (rv == NNG_ETIMEDOUT)
			continue;
		if (rv != 0)
			break;
		answer(m);
	}
}

static int
collector_start(void)
{
	nng_tls_config *c;
	char crl[256], ck[256];
	unsigned port, i, base = (unsigned)getpid() % PORT_SPAN;
	int rv = -1;

	if (path(crl, sizeof(crl), dir, "ca-crl.pem") != 0 ||
	    path(ck, sizeof(ck), dir, "collectors/" SERVER_NAME ".pem") != 0)
		return -1;
	if (nng_tls_config_alloc(&c, NNG_TLS_MODE_SERVER) != 0)
		return -1;
	if (nng_tls_config_cert_key_file(c, ck, NULL) != 0 || nng_tls_config_ca_file(c, crl) != 0 ||
	    nng_tls_config_auth_mode(c, NNG_TLS_AUTH_MODE_REQUIRED) != 0)
		goto out;
	if (nng_rep0_open(&rep) != 0 || nng_socket_set_ms(rep, NNG_OPT_RECVTIMEO, 100) != 0 ||
	    nng_socket_set_size(rep, NNG_OPT_RECVMAXSZ, TEST_RECV_MAX) != 0 ||
	    nng_pipe_notify(rep, NNG_PIPE_EV_ADD_POST, on_pipe, NULL) != 0 ||
	    nng_pipe_notify(rep, NNG_PIPE_EV_REM_POST, on_pipe, NULL) != 0)
		goto out;
	for (i = 0; i < 50; i++) {
		port = PORT_BASE + (base + i * 97) % PORT_SPAN;
		snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%u", port);
		if (nng_listener_create(&lst, rep, url) != 0 ||
		    nng_listener_set_ptr(lst, NNG_OPT_TLS_CONFIG, c) != 0 ||
		    nng_listener_set_size(lst, NNG_OPT_RECVMAXSZ, TEST_RECV_MAX) != 0)
			goto out;
		if ((rv = nng_listener_start(lst, 0)) == 0)
			break;
		nng_listener_close(lst);
		if (rv != NNG_EADDRINUSE)
			goto out;
	}
	if (rv == 0)
		rv = nng_thread_create(&server, serve, NULL);
out:
	nng_tls_config_free(c);
	return rv;
}

/* ---- fixture ---- */

static int
group_setup(void **state)
{
	char d[256], k[256], c[256];
	char *init[] = {pki, "init", dir, NULL};
	char *coll[] = {pki, "collector", dir, SERVER_NAME, NULL};
	char *ag[] = {pki, "agent", dir, "ams-1", "eu", NULL};
	char *gone[] = {pki, "agent", dir, "gone-1", "eu", NULL};
	char *rev[] = {pki, "revoke", dir, "gone-1", NULL};
	char *oinit[] = {pki, "init", d, NULL};
	char *oag[] = {pki, "agent", d, "ams-1", "eu", NULL};
	char *self[] = {"openssl",
	                "req",
	                "-x509",
	                "-newkey",
	                "ec",
	                "-pkeyopt",
	                "ec_paramgen_curve:P-256",
	                "-nodes",
	                "-subj",
	                "/O=mxsentry/OU=eu/CN=ams-1",
	                "-days",
	                "1",
	                "-addext",
	                "extendedKeyUsage=clientAuth",
	                "-keyout",
	                k,
	                "-out",
	                c,
	                NULL};
	char *q[] = {"sh", "-c", "cat \"$0/self.crt\" \"$0/self.key\" >\"$0/self.pem\"", dir, NULL};

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mxs-transport-XXXXXX");
	if (mkdtemp(dir) == NULL || find_pki() != 0) {
		fprintf(stderr,
		        "test_transport: no temp dir or deploy/mxs-pki (set MXS_SRC_DIR)\n");
		return -1;
	}
	if (path(d, sizeof(d), dir, "other") != 0 || path(k, sizeof(k), dir, "self.key") != 0 ||
	    path(c, sizeof(c), dir, "self.crt") != 0)
		return -1;
	if (run(init) || run(coll) || run(ag) || run(gone) || run(rev) || run(oinit) || run(oag) ||
	    run(self) || run(q))
		return -1;
	return collector_start();
}

static int
group_teardown(void **state)
{
	char *rm[] = {"rm", "-rf", dir, NULL};

	(void)state;
	atomic_store(&stop, 1);
	if (server != NULL)
		nng_thread_destroy(server); /* joins */
	nng_close(rep);
	if (dir[0] != '\0')
		(void)run(rm);
	return 0;
}

/* ---- tests ---- */

static void
test_enrolled_agent(void **state)
{
	nng_socket s;
	Mxs__Envelope *r;
	uint32_t pipe;
	char *cn = NULL;
	int before = atomic_load(&pipes_verified);

	(void)state;
	assert_int_equal(agent_dial_file(&s, "ca.crt", "agents/ams-1.pem"), 0);
	assert_int_equal(hello(s, "ams-1", &r, &pipe), 0);
	assert_int_equal(r->body_case, MXS__ENVELOPE__BODY_HELLO_REPLY);
	assert_true(r->hello_reply->accepted);
	assert_int_equal(r->seq, 1);
	mxs_wire_free(&r);
	assert_true(atomic_load(&pipes_verified) > before);
	/* What nng 1.5 offers for the peer's identity (1.6 adds "tls-peer-cn"). */
	nng_pipe p = {.id = pipe};
	int rv = nng_pipe_get_string(p, "tls-peer-cn", &cn);
	printf("# nng %s, TLS engine %s: tls-peer-cn on a pipe -> %s\n", nng_version(),
	       nng_tls_engine_name(), rv == 0 ? cn : nng_strerror(rv));
	if (rv == 0)
		nng_strfree(cn);
	nng_close(s);
}

static void
refused(const char *ca, const char *certkey, const char *what)
{
	nng_socket s;
	int before = atomic_load(&pipes_added);
	int rv = agent_dial_file(&s, ca, certkey);

	printf("# %s: dial -> %s\n", what, nng_strerror(rv));
	assert_int_not_equal(rv, 0);
	nng_close(s);
	assert_int_equal(atomic_load(&pipes_added), before);
}

static void
test_refused_agents(void **state)
{
	(void)state;
	refused("ca.crt", "self.pem", "self-signed agent");
	refused("ca.crt", "other/agents/ams-1.pem", "agent from another CA");
	refused("ca.crt", "agents/gone-1.pem", "revoked agent (CRL)");
	refused("ca.crt", NULL, "agent without a certificate");
	/* And the agent refuses a collector not signed by its CA. */
	refused("other/ca.crt", "agents/ams-1.pem", "collector from another CA");
}

/*
 * A raw SP-over-TLS client (OpenSSL), so the oversized message is sent by
 * something that will not retry it: an nng REQ socket re-sends a pending
 * request on every redialled pipe, and nng 1.5.2 was seen to wedge (send
 * blocked, nng_close hung) on such a socket.  Returns the connected SSL.
 */
static SSL *
raw_agent(SSL_CTX **ctxp, int *fdp)
{
	char ca[256], ck[256], port[8];
	/* SP header: 0 'S' 'P' 0, protocol REQ0 (0x30), reserved. */
	static const unsigned char req_hdr[8] = {0, 'S', 'P', 0, 0x00, 0x30, 0, 0};
	unsigned char peer[8];
	struct timeval tv = {RAW_TIMEOUT_S, 0};
	struct addrinfo hints = {0}, *ai;
	const char *colon = strrchr(url, ':');
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;

	assert_non_null(colon);
	snprintf(port, sizeof(port), "%s", colon + 1);
	assert_int_equal(path(ca, sizeof(ca), dir, "ca.crt"), 0);
	assert_int_equal(path(ck, sizeof(ck), dir, "agents/ams-1.pem"), 0);
	assert_non_null(ctx = SSL_CTX_new(TLS_client_method()));
	assert_int_equal(SSL_CTX_load_verify_locations(ctx, ca, NULL), 1);
	assert_int_equal(SSL_CTX_use_certificate_file(ctx, ck, SSL_FILETYPE_PEM), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, ck, SSL_FILETYPE_PEM), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	assert_int_equal(getaddrinfo("127.0.0.1", port, &hints, &ai), 0);
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	/* Never wait forever on the collector. */
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(connect(fd, ai->ai_addr, ai->ai_addrlen), 0);
	freeaddrinfo(ai);
	assert_non_null(ssl = SSL_new(ctx));
	assert_int_equal(SSL_set_fd(ssl, fd), 1);
	assert_int_equal(SSL_set_tlsext_host_name(ssl, SERVER_NAME), 1);
	assert_int_equal(SSL_set1_host(ssl, SERVER_NAME), 1);
	assert_int_equal(SSL_connect(ssl), 1);
	assert_int_equal(SSL_write(ssl, req_hdr, sizeof(req_hdr)), (int)sizeof(req_hdr));
	assert_int_equal(SSL_read(ssl, peer, sizeof(peer)), (int)sizeof(peer));
	assert_int_equal(peer[5], 0x31); /* REP0 */
	*ctxp = ctx;
	*fdp = fd;
	return ssl;
}

/* Write an SP message header claiming len bytes, then some of them. */
static void
raw_send_claim(SSL *ssl, uint64_t len, size_t actual)
{
	unsigned char *b = calloc(1, 8 + actual);
	int i;

	assert_non_null(b);
	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(len >> (56 - 8 * i));
	if (actual >= 12)
		b[8] = 0x80; /* REQ request id, high bit set */
	(void)SSL_write(ssl, b, (int)(8 + actual));
	free(b);
}

/* The collector must close the connection: read returns EOF or an error. */
static void
raw_expect_closed(SSL *ssl)
{
	unsigned char b[64];
	int n;

	do {
		errno = 0;
		n = SSL_read(ssl, b, sizeof(b));
	} while (n > 0);
	/* A read timeout means the collector kept the connection: wrong. */
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		fail_msg("collector did not close the connection within %d s", RAW_TIMEOUT_S);
}

static void
raw_close(SSL *ssl, SSL_CTX *ctx, int fd)
{
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
}

static void
test_oversized_dropped(void **state)
{
	nng_socket s;
	Mxs__Envelope *r;
	SSL_CTX *ctx;
	SSL *ssl;
	int fd, before = atomic_load(&requests);

	(void)state;
	/* Just above the limit, fully sent. */
	ssl = raw_agent(&ctx, &fd);
	raw_send_claim(ssl, TEST_RECV_MAX + 1, TEST_RECV_MAX + 1);
	raw_expect_closed(ssl);
	raw_close(ssl, ctx, fd);
	/* A header claiming 2 GiB, nothing behind it. */
	ssl = raw_agent(&ctx, &fd);
	raw_send_claim(ssl, UINT64_C(1) << 31, 0);
	raw_expect_closed(ssl);
	raw_close(ssl, ctx, fd);
	/* Neither reached the collector's code... */
	assert_int_equal(atomic_load(&requests), before);
	/* ...and the listener still serves. */
	assert_int_equal(agent_dial_file(&s, "ca.crt", "agents/ams-1.pem"), 0);
	assert_int_equal(hello(s, "ams-1", &r, NULL), 0);
	assert_true(r->hello_reply->accepted);
	mxs_wire_free(&r);
	nng_close(s);
}

static void
test_garbage_gets_error(void **state)
{
	static const uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xff, 0x0f};
	static const uint8_t v9[] = {0x08, 0x09, 0x52, 0x00};
	nng_socket s;
	Mxs__Envelope *r;
	uint32_t p1, p2, p3;

	(void)state;
	assert_int_equal(agent_dial_file(&s, "ca.crt", "agents/ams-1.pem"), 0);
	assert_int_equal(exchange(s, junk, sizeof(junk), &r, &p1), 0);
	assert_int_equal(r->body_case, MXS__ENVELOPE__BODY_ERROR);
	assert_int_equal(r->error->code, MXS__ERROR_CODE__ERROR_MALFORMED);
	printf("# garbage -> Error{%d, \"%s\"}\n", (int)r->error->code, r->error->text);
	mxs_wire_free(&r);
	assert_int_equal(exchange(s, v9, sizeof(v9), &r, &p2), 0);
	assert_int_equal(r->error->code, MXS__ERROR_CODE__ERROR_VERSION);
	mxs_wire_free(&r);
	assert_int_equal(exchange(s, "", 0, &r, &p2), 0);
	assert_int_equal(r->body_case, MXS__ENVELOPE__BODY_ERROR);
	mxs_wire_free(&r);
	/* Same connection all along, and it still carries a good request. */
	assert_int_equal(hello(s, "ams-1", &r, &p3), 0);
	assert_true(r->hello_reply->accepted);
	mxs_wire_free(&r);
	assert_int_equal(p1, p2);
	assert_int_equal(p1, p3);
	nng_close(s);
}

static void
slurp(const char *rel, char *buf, size_t n)
{
	char p[256];
	FILE *f;
	size_t k;

	assert_int_equal(path(p, sizeof(p), dir, rel), 0);
	assert_non_null(f = fopen(p, "r"));
	k = fread(buf, 1, n - 1, f);
	buf[k] = '\0';
	fclose(f);
}

/* mxs-pki: keys 0600, a second run changes nothing and keeps the key. */
static void
test_pki_idempotent(void **state)
{
	char *again[] = {pki, "agent", dir, "ams-1", "eu", NULL};
	char *init[] = {pki, "init", dir, NULL};
	char *bad[] = {pki, "agent", dir, "../x", "eu", NULL};
	char k1[1024], k2[1024], c1[2048], c2[2048], p[256];
	struct stat st;

	(void)state;
	assert_int_equal(path(p, sizeof(p), dir, "agents/ams-1.key"), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(path(p, sizeof(p), dir, "ca.key"), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	slurp("agents/ams-1.key", k1, sizeof(k1));
	slurp("agents/ams-1.crt", c1, sizeof(c1));
	assert_int_equal(run(init), 0);
	assert_int_equal(run(again), 0);
	slurp("agents/ams-1.key", k2, sizeof(k2));
	slurp("agents/ams-1.crt", c2, sizeof(c2));
	assert_string_equal(k1, k2);
	assert_string_equal(c1, c2);
	assert_int_not_equal(run(bad), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_enrolled_agent),    cmocka_unit_test(test_refused_agents),
	        cmocka_unit_test(test_oversized_dropped), cmocka_unit_test(test_garbage_gets_error),
	        cmocka_unit_test(test_pki_idempotent),
	};

	/* As the daemons do: a peer that closes mid-write (a refused TLS
	 * handshake) must not kill the process with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
