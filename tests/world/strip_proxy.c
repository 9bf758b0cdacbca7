/*
 * mxs-strip-proxy: the test world's STARTTLS-stripping middlebox.
 *
 * A transparent SMTP proxy for a namespace whose iptables REDIRECTs port-25
 * traffic to it (-t nat PREROUTING ... -j REDIRECT --to-ports PORT).  For each
 * accepted connection it reads the original destination (SO_ORIGINAL_DST,
 * IPv4 or IPv6), connects there, and relays both ways.  Client to server is
 * passed byte for byte.  Server to client is passed byte for byte except for
 * one change: a multi-line 250 reply (an EHLO reply) loses every line after
 * the first whose keyword is STARTTLS, and when that was the last line the
 * new last line's "250-" becomes "250 ", so the reply stays well-formed.
 * Once the client has sent STARTTLS anyway and the server answered 220,
 * both directions are passed untouched (TLS).
 *
 * One process, poll(), non-blocking sockets, bounded buffers per connection
 * (a peer that does not read stops the other side being read).  Exits on
 * SIGTERM or SIGINT.  Logs one key=value line per connection on stderr.
 *
 *   mxs-strip-proxy [-l ADDR]... [-p PORT] [-n MAXCONN]
 *     -l  listening address (repeatable, up to 4; default 0.0.0.0)
 *     -p  listening port (default 10025)
 *     -n  simultaneous connections (default 128); more are closed at once
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif
#ifndef SOL_IP
#define SOL_IP IPPROTO_IP
#endif
#ifndef SOL_IPV6
#define SOL_IPV6 IPPROTO_IPV6
#endif

#define MAX_LISTEN 4
#define C2S_CAP    16384                      /* client -> server, byte for byte */
#define LINE_CAP   2048                       /* server -> client: the line being assembled */
#define REP_CAP    8192                       /* server -> client: a held multi-line 250 reply */
#define S2C_CAP    (2 * (LINE_CAP + REP_CAP)) /* server -> client, ready to send */
#define ADDR_TXT   (INET6_ADDRSTRLEN + 8)

struct conn {
	int cfd, sfd;
	int connecting;
	struct sockaddr_storage peer, orig;
	struct timespec t0;
	unsigned long long up, down; /* bytes client->server, server->client */
	int stripped;                /* STARTTLS lines removed */
	int c_eof, s_eof;            /* read side ended */
	int c_shut, s_shut;          /* write side shut (client's, server's) */
	int raw;                     /* TLS started: no more parsing */
	/* client -> server */
	char c2s[C2S_CAP];
	size_t c2s_len;
	char cl[16]; /* head of the client's current line */
	size_t cl_len;
	int cl_over;
	int c_starttls; /* client sent STARTTLS, reply pending */
	/* server -> client */
	char line[LINE_CAP];
	size_t line_len;
	char rep[REP_CAP];
	size_t rep_len;
	int hold;      /* collecting a 250- reply in rep */
	int passreply; /* passing the rest of a reply unchanged */
	int midline;   /* passing the tail of an over-long line */
	char s2c[S2C_CAP];
	size_t s2c_len;
};

static int sig_pipe[2] = {-1, -1};

static void
on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	if (write(sig_pipe[1], &b, 1) < 0) {
		/* nothing to do: the pipe is full, a wake-up is pending */
	}
	errno = saved;
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void
addr_text(const struct sockaddr_storage *ss, char *out, size_t n)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
		port = ntohs(s4->sin_port);
		snprintf(out, n, "%s:%u", a, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
		port = ntohs(s6->sin6_port);
		snprintf(out, n, "[%s]:%u", a, port);
	} else {
		snprintf(out, n, "-");
	}
}

static int
same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
	}
	return 0;
}

static long
elapsed_ms(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void
conn_log(const struct conn *c, const char *result, int err)
{
	char p[ADDR_TXT], o[ADDR_TXT];
	addr_text(&c->peer, p, sizeof p);
	addr_text(&c->orig, o, sizeof o);
	fprintf(stderr,
	        "strip-proxy: event=close client=%s orig=%s result=%s%s%s stripped=%d tls=%s "
	        "up_bytes=%llu down_bytes=%llu ms=%ld\n",
	        p, o, result, err ? " error=" : "", err ? strerror(err) : "", c->stripped,
	        c->raw ? "yes" : "no", c->up, c->down, elapsed_ms(&c->t0));
}

static void
conn_close(struct conn **slot, const char *result, int err)
{
	struct conn *c = *slot;
	conn_log(c, result, err);
	if (c->cfd >= 0)
		close(c->cfd);
	if (c->sfd >= 0)
		close(c->sfd);
	free(c);
	*slot = NULL;
}

/* ---- server -> client filter ------------------------------------------ */

static void
emit(struct conn *c, const char *p, size_t n)
{
	/* Room is guaranteed: the server is read only while S2C_CAP - s2c_len
	 * >= LINE_CAP + REP_CAP, and one read emits at most that much. */
	memcpy(c->s2c + c->s2c_len, p, n);
	c->s2c_len += n;
}

static void
flush_rep(struct conn *c)
{
	emit(c, c->rep, c->rep_len);
	c->rep_len = 0;
	c->hold = 0;
}

/* is_starttls: the reply line P (N bytes with its line end) carries the
 * keyword STARTTLS alone. */
static int
is_starttls(const char *p, size_t n)
{
	const char *t = p + 4;
	size_t m;
	if (n < 4)
		return 0;
	m = n - 4;
	while (m && (t[m - 1] == '\n' || t[m - 1] == '\r' || t[m - 1] == ' ' || t[m - 1] == '\t'))
		m--;
	return m == 8 && strncasecmp(t, "STARTTLS", 8) == 0;
}

/* strip_and_flush: send the held reply without its STARTTLS lines (never
 * the first line, which names the server), fixing the final marker. */
static void
strip_and_flush(struct conn *c)
{
	size_t off = 0, last = SIZE_MAX;
	int removed_final = 0;
	while (off < c->rep_len) {
		const char *p = c->rep + off;
		const char *lf = memchr(p, '\n', c->rep_len - off);
		size_t n = lf ? (size_t)(lf - p) + 1 : c->rep_len - off;
		if (off > 0 && is_starttls(p, n)) {
			c->stripped++;
			if (off + n == c->rep_len)
				removed_final = 1;
		} else {
			last = c->s2c_len;
			emit(c, p, n);
		}
		off += n;
	}
	if (removed_final && last != SIZE_MAX && c->s2c_len - last >= 4)
		c->s2c[last + 3] = ' ';
	c->rep_len = 0;
	c->hold = 0;
}

static void
handle_line(struct conn *c, const char *p, size_t n)
{
	int cont = n >= 4 && p[3] == '-';
	if (c->midline) {
		emit(c, p, n);
		c->midline = 0;
		return;
	}
	if (c->hold) {
		if (c->rep_len + n <= REP_CAP) {
			memcpy(c->rep + c->rep_len, p, n);
			c->rep_len += n;
			if (!cont)
				strip_and_flush(c);
			return;
		}
		flush_rep(c); /* too big to hold: pass it unchanged */
		c->passreply = cont;
		emit(c, p, n);
		return;
	}
	if (c->passreply) {
		c->passreply = cont;
		emit(c, p, n);
		return;
	}
	if (n >= 4 && memcmp(p, "250-", 4) == 0) {
		c->hold = 1;
		memcpy(c->rep, p, n);
		c->rep_len = n;
		return;
	}
	emit(c, p, n);
	if (!cont && c->c_starttls) {
		if (n >= 3 && memcmp(p, "220", 3) == 0)
			c->raw = 1; /* TLS follows: hands off */
		c->c_starttls = 0;
	}
}

/* process_lines: move the complete lines of c->line through the filter;
 * at EOF (or when one line fills the buffer) pass what is left as is. */
static void
process_lines(struct conn *c, int eof)
{
	size_t start = 0;
	while (start < c->line_len) {
		const char *p = c->line + start, *lf;
		size_t n;
		if (c->raw) {
			emit(c, p, c->line_len - start);
			start = c->line_len;
			break;
		}
		lf = memchr(p, '\n', c->line_len - start);
		if (!lf)
			break;
		n = (size_t)(lf - p) + 1;
		handle_line(c, p, n);
		start += n;
	}
	if (start) {
		memmove(c->line, c->line + start, c->line_len - start);
		c->line_len -= start;
	}
	if (c->line_len == LINE_CAP || (eof && c->line_len)) {
		int cont = c->line_len >= 4 && c->line[3] == '-';
		if (c->hold)
			flush_rep(c);
		if (!c->midline)
			c->passreply = cont;
		emit(c, c->line, c->line_len);
		c->line_len = 0;
		c->midline = !eof;
	}
	if (eof && c->hold)
		flush_rep(c);
}

/* ---- client -> server observer ---------------------------------------- */

static void
observe_client(struct conn *c, const char *p, size_t n)
{
	size_t i;
	for (i = 0; i < n && !c->raw && !c->c_starttls; i++) {
		if (p[i] != '\n') {
			if (c->cl_len < sizeof c->cl)
				c->cl[c->cl_len++] = p[i];
			else
				c->cl_over = 1;
			continue;
		}
		if (!c->cl_over) {
			size_t m = c->cl_len;
			while (m && (c->cl[m - 1] == '\r' || c->cl[m - 1] == ' '))
				m--;
			if (m == 8 && strncasecmp(c->cl, "STARTTLS", 8) == 0)
				c->c_starttls = 1;
		}
		c->cl_len = 0;
		c->cl_over = 0;
	}
}

/* ---- connections ------------------------------------------------------- */

static void
conn_open(struct conn **slots, int maxconn, int lfd)
{
	struct sockaddr_storage peer, local;
	socklen_t plen = sizeof peer, llen = sizeof local, olen;
	struct conn *c;
	int fd, i, slot = -1, rc;

	fd = accept(lfd, (struct sockaddr *)&peer, &plen);
	if (fd < 0)
		return;
	for (i = 0; i < maxconn; i++)
		if (!slots[i]) {
			slot = i;
			break;
		}
	c = slot >= 0 ? calloc(1, sizeof *c) : NULL;
	if (!c) {
		char p[ADDR_TXT];
		addr_text(&peer, p, sizeof p);
		fprintf(stderr, "strip-proxy: event=close client=%s orig=- result=%s\n", p,
		        slot < 0 ? "busy" : "no-memory");
		close(fd);
		return;
	}
	c->cfd = fd;
	c->sfd = -1;
	c->peer = peer;
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	slots[slot] = c;

	if (set_nonblock(fd) < 0) {
		conn_close(&slots[slot], "error", errno);
		return;
	}
	olen = sizeof c->orig;
	if (peer.ss_family == AF_INET6)
		rc = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &c->orig, &olen);
	else
		rc = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &c->orig, &olen);
	if (rc < 0) {
		conn_close(&slots[slot], "no-original-dst", errno);
		return;
	}
	/* A direct connection (not redirected) would make us dial ourselves. */
	if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0 &&
	    same_endpoint(&local, &c->orig)) {
		conn_close(&slots[slot], "not-redirected", 0);
		return;
	}
	c->sfd = socket(c->orig.ss_family, SOCK_STREAM, 0);
	if (c->sfd < 0 || set_nonblock(c->sfd) < 0) {
		conn_close(&slots[slot], "error", errno);
		return;
	}
	rc = connect(c->sfd, (struct sockaddr *)&c->orig,
	             c->orig.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                           : sizeof(struct sockaddr_in));
	if (rc < 0 && errno != EINPROGRESS) {
		conn_close(&slots[slot], "connect-failed", errno);
		return;
	}
	c->connecting = rc < 0;
}

/* Is there room to read the server (see emit)? */
static int
s2c_room(const struct conn *c)
{
	if (c->raw)
		return c->s2c_len < S2C_CAP;
	return S2C_CAP - c->s2c_len >= LINE_CAP + REP_CAP;
}

static void
conn_events(const struct conn *c, struct pollfd *cp, struct pollfd *sp)
{
	cp->fd = c->cfd;
	sp->fd = c->sfd;
	cp->events = sp->events = 0;
	cp->revents = sp->revents = 0;
	if (c->connecting) {
		sp->events = POLLOUT;
		return;
	}
	if (!c->c_eof && c->c2s_len < C2S_CAP)
		cp->events |= POLLIN;
	if (c->s2c_len)
		cp->events |= POLLOUT;
	if (!c->s_eof && s2c_room(c))
		sp->events |= POLLIN;
	if (c->c2s_len)
		sp->events |= POLLOUT;
	/* Nothing to wait for on a side: leave it out, or a hung-up socket
	 * would wake poll at once forever. */
	if (!cp->events)
		cp->fd = -1;
	if (!sp->events)
		sp->fd = -1;
}

static int
send_some(int fd, char *buf, size_t *len)
{
	ssize_t n = send(fd, buf, *len, MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	memmove(buf, buf + n, *len - (size_t)n);
	*len -= (size_t)n;
	return 0;
}

/* conn_service: act on poll's answer; returns 0, or closes the slot. */
static void
conn_service(struct conn **slot, short crev, short srev)
{
	struct conn *c = *slot;
	ssize_t n;

	if (c->connecting) {
		int err = 0;
		socklen_t el = sizeof err;
		if (!srev)
			return;
		if (getsockopt(c->sfd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err) {
			conn_close(slot, "connect-failed", err);
			return;
		}
		c->connecting = 0;
		return;
	}
	/* client -> server */
	if (crev & (POLLIN | POLLHUP | POLLERR)) {
		if (!c->c_eof && c->c2s_len < C2S_CAP) {
			n = recv(c->cfd, c->c2s + c->c2s_len, C2S_CAP - c->c2s_len, 0);
			if (n > 0) {
				observe_client(c, c->c2s + c->c2s_len, (size_t)n);
				c->c2s_len += (size_t)n;
				c->up += (unsigned long long)n;
			} else if (n == 0) {
				c->c_eof = 1;
			} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				conn_close(slot, "client-error", errno);
				return;
			}
		}
	}
	if (c->c2s_len && (srev & POLLOUT) && send_some(c->sfd, c->c2s, &c->c2s_len) < 0) {
		conn_close(slot, "server-error", errno);
		return;
	}
	/* server -> client */
	if (srev & (POLLIN | POLLHUP | POLLERR)) {
		if (!c->s_eof && s2c_room(c)) {
			if (c->raw)
				n = recv(c->sfd, c->s2c + c->s2c_len, S2C_CAP - c->s2c_len, 0);
			else
				n = recv(c->sfd, c->line + c->line_len, LINE_CAP - c->line_len, 0);
			if (n > 0) {
				c->down += (unsigned long long)n;
				if (c->raw) {
					c->s2c_len += (size_t)n;
				} else {
					c->line_len += (size_t)n;
					process_lines(c, 0);
				}
			} else if (n == 0) {
				c->s_eof = 1;
				process_lines(c, 1);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				conn_close(slot, "server-error", errno);
				return;
			}
		}
	}
	if (c->s2c_len && (crev & POLLOUT) && send_some(c->cfd, c->s2c, &c->s2c_len) < 0) {
		conn_close(slot, "client-error", errno);
		return;
	}
	/* Half-closes, once the buffers are empty. */
	if (c->c_eof && !c->c2s_len && !c->s_shut) {
		shutdown(c->sfd, SHUT_WR);
		c->s_shut = 1;
	}
	if (c->s_eof && !c->s2c_len && !c->c_shut) {
		shutdown(c->cfd, SHUT_WR);
		c->c_shut = 1;
	}
	if (c->c_shut && c->s_shut)
		conn_close(slot, "ok", 0);
}

/* ---- main -------------------------------------------------------------- */

static int
parse_num(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int
listen_on(const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;
	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		len = sizeof *s4;
	} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		len = sizeof *s6;
	} else {
		fprintf(stderr, "strip-proxy: not an IP address: %s\n", addr);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("strip-proxy: socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0 ||
	    set_nonblock(fd) < 0) {
		fprintf(stderr, "strip-proxy: listen on %s port %u: %s\n", addr, port,
		        strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void
usage(void)
{
	fprintf(stderr, "usage: mxs-strip-proxy [-l ADDR]... [-p PORT] [-n MAXCONN]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *addrs[MAX_LISTEN];
	int naddr = 0, lfd[MAX_LISTEN], opt, i, maxconn;
	long port = 10025, nconn = 128;
	struct conn **slots;
	struct pollfd *pfd;
	struct sigaction sa;

	while ((opt = getopt(argc, argv, "l:p:n:")) != -1) {
		switch (opt) {
		case 'l':
			if (naddr == MAX_LISTEN)
				usage();
			addrs[naddr++] = optarg;
			break;
		case 'p':
			if (parse_num(optarg, 1, 65535, &port) < 0)
				usage();
			break;
		case 'n':
			if (parse_num(optarg, 1, 4096, &nconn) < 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (!naddr)
		addrs[naddr++] = "0.0.0.0";
	maxconn = (int)nconn;
	setvbuf(stderr, NULL, _IOLBF, 0);

	if (pipe(sig_pipe) < 0 || set_nonblock(sig_pipe[0]) < 0 || set_nonblock(sig_pipe[1]) < 0) {
		perror("strip-proxy: pipe");
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	for (i = 0; i < naddr; i++) {
		lfd[i] = listen_on(addrs[i], (unsigned)port);
		if (lfd[i] < 0)
			return 1;
		fprintf(stderr, "strip-proxy: event=start listen=%s port=%ld maxconn=%d pid=%ld\n",
		        addrs[i], port, maxconn, (long)getpid());
	}

	slots = calloc((size_t)maxconn, sizeof *slots);
	pfd = calloc((size_t)(1 + naddr + 2 * maxconn), sizeof *pfd);
	if (!slots || !pfd) {
		fprintf(stderr, "strip-proxy: out of memory\n");
		return 1;
	}

	for (;;) {
		int n = 0, base, rc, active = 0;
		pfd[n].fd = sig_pipe[0];
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
		for (i = 0; i < naddr; i++) {
			pfd[n].fd = lfd[i];
			pfd[n].events = POLLIN;
			pfd[n++].revents = 0;
		}
		base = n;
		for (i = 0; i < maxconn; i++) {
			if (slots[i]) {
				conn_events(slots[i], &pfd[base + 2 * i], &pfd[base + 2 * i + 1]);
				active++;
			} else {
				pfd[base + 2 * i].fd = pfd[base + 2 * i + 1].fd = -1;
				pfd[base + 2 * i].revents = pfd[base + 2 * i + 1].revents = 0;
			}
		}
		rc = poll(pfd, (nfds_t)(base + 2 * maxconn), -1);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			perror("strip-proxy: poll");
			return 1;
		}
		if (pfd[0].revents) {
			unsigned char b;
			if (read(sig_pipe[0], &b, 1) == 1)
				fprintf(stderr, "strip-proxy: event=stop signal=%d open=%d\n", b,
				        active);
			break;
		}
		for (i = 0; i < maxconn; i++)
			if (slots[i] &&
			    (pfd[base + 2 * i].revents || pfd[base + 2 * i + 1].revents))
				conn_service(&slots[i], pfd[base + 2 * i].revents,
				             pfd[base + 2 * i + 1].revents);
		for (i = 0; i < naddr; i++)
			if (pfd[1 + i].revents & POLLIN)
				conn_open(slots, maxconn, lfd[i]);
	}
	for (i = 0; i < maxconn; i++)
		if (slots[i])
			conn_close(&slots[i], "shutdown", 0);
	for (i = 0; i < naddr; i++)
		close(lfd[i]);
	free(slots);
	free(pfd);
	return 0;
}
