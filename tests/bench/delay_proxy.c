/*
 * mxs-delay-proxy: adds a fixed delay to every byte crossing a namespace, for
 * the benchmarks (tests/bench/cycle.sh), on a machine without the netem qdisc.
 *
 * TCP, transparent: the namespace REDIRECTs the traffic to delay to -p PORT
 * (iptables -t nat PREROUTING ... -j REDIRECT --to-ports PORT).  For each
 * accepted connection the proxy reads the original destination
 * (SO_ORIGINAL_DST, IPv4 or IPv6), connects there after -c ms (default one
 * round trip, 2*D: the client's own handshake completed here at once, so the
 * first server bytes reach it when they would over the slow path), and relays
 * both ways.  Every chunk read from one side is written to the other D ms
 * (-d) after it was read, in order; so is an end of stream (shutdown).  A
 * reset or an error closes both sides at once.
 *
 * UDP, not transparent (conntrack gives no original destination for UDP):
 * datagrams to -u PORT go to the one upstream -U ADDR:PORT D ms later, each
 * client address with its own upstream socket, and replies go back D ms
 * after they arrive, from the listening socket.  With a REDIRECT of the
 * upstream's own address and port to -u PORT, conntrack rewrites the replies'
 * source back, so the client sees its server answer, later (tests/bench uses
 * this for DNS: the authoritative NSD is the only server the agent queries).
 *
 * Delays are equal for all chunks, so chunks fall due in the order they were
 * read: one FIFO for data (D) and one for connects (-c) make the schedule,
 * and epoll_wait sleeps until the earlier head.  Bounded: at most -n
 * connections and UDP_FLOWS_MAX flows (more are refused or dropped and
 * counted); a side with CONN_INFLIGHT_MAX bytes read but not yet written to
 * the other is not read again until some of it has been (TCP pushes back).
 * Exits on SIGTERM or SIGINT; prints one key=value line of counters on
 * stderr then, and on SIGUSR1.
 *
 *   mxs-delay-proxy -d MS [-c MS] [-p PORT] [-u PORT -U ADDR:PORT] [-n MAXCONN]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

#define PROG              "mxs-delay-proxy"
#define CHUNK_MAX         16384          /* one read */
#define CONN_INFLIGHT_MAX (256 * 1024)   /* per direction, read but not written */
#define UDP_FLOWS_MAX     16384
#define UDP_BUCKETS       4096
#define UDP_IDLE_US       (10 * 1000000) /* a flow without traffic this long is closed */
#define DGRAM_MAX         65535
#define UDP_RCVBUF        (8 * 1024 * 1024)
#define NOFILE_WANT       65536

enum h_kind { H_TCP_LISTEN, H_UDP_LISTEN, H_CONN, H_FLOW, H_SIGNAL };
enum q_kind { Q_DATA, Q_EOF, Q_CONNECT, Q_UP, Q_DOWN };

struct handle {
	enum h_kind kind;
	int side; /* H_CONN: 0 client, 1 server */
	void *obj;
	int fd;
	uint32_t ev; /* epoll mask now registered */
};

struct obuf {
	unsigned char *p;
	size_t off, len, cap;
};

struct conn {
	struct handle h[2];
	struct sockaddr_storage orig;
	int connected;     /* server side established */
	int rd_eof[2];     /* end of stream read from side i */
	int shut_due[2];   /* end of stream due on side i's write side */
	int wr_shut[2];    /* side i's write side shut */
	size_t inflight[2];/* read from side i, not yet written to 1-i */
	struct obuf out[2];/* due, waiting to be written to side i */
	int refs;          /* queue entries naming it */
	int dead;
	struct conn *gnext; /* freed after the current batch of events */
};

struct flow {
	struct handle h; /* the upstream socket */
	struct sockaddr_storage client;
	socklen_t clen;
	int lfd;
	uint64_t last;
	int refs, dead;
	struct flow *hnext, *prev, *next; /* hash chain; idle list, oldest first */
	struct flow *gnext;               /* freed after the current batch of events */
};

struct qent {
	struct qent *next;
	uint64_t due;
	enum q_kind kind;
	int side;
	void *obj;
	size_t len;
	unsigned char data[];
};

struct fifo {
	struct qent *head, *tail;
};

static struct {
	int ep;
	uint64_t delay_us, connect_us;
	size_t maxconn, nconn, nflow;
	struct sockaddr_storage up;
	socklen_t uplen;
	struct fifo data, conns;
	struct flow *buckets[UDP_BUCKETS];
	struct flow *idle_head, *idle_tail;
	unsigned long long accepted, refused, no_orig, up_fail, bytes[2];
	unsigned long long dg_up, dg_down, dg_drop;
	/* Dead and unreferenced, but epoll may still hold one of their events
	 * in the batch being handled: freed after it (grave_free). */
	struct conn *cgrave;
	struct flow *fgrave;
} px;

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", PROG, what, strerror(errno));
	exit(1);
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
ep_set(struct handle *h, uint32_t want)
{
	struct epoll_event ev = {.events = want, .data.ptr = h};

	if (h->fd < 0 || want == h->ev)
		return;
	if (epoll_ctl(px.ep, h->ev == 0 ? EPOLL_CTL_ADD : (want == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD),
	              h->fd, &ev) < 0 && want != 0)
		die("epoll_ctl");
	h->ev = want;
}

static void
push(struct fifo *f, enum q_kind kind, uint64_t delay, int side, void *obj, const void *p,
     size_t len)
{
	struct qent *q = malloc(sizeof(*q) + len);

	if (q == NULL)
		die("malloc");
	q->next = NULL;
	q->due = now_us() + delay;
	q->kind = kind;
	q->side = side;
	q->obj = obj;
	q->len = len;
	if (len > 0)
		memcpy(q->data, p, len);
	if (f->tail != NULL)
		f->tail->next = q;
	else
		f->head = q;
	f->tail = q;
}

/* ---- TCP -------------------------------------------------------------- */

static void
conn_unref(struct conn *c)
{
	if (--c->refs > 0 || !c->dead)
		return;
	c->gnext = px.cgrave;
	px.cgrave = c;
}

static void
grave_free(void)
{
	struct conn *c;
	struct flow *f;

	while ((c = px.cgrave) != NULL) {
		px.cgrave = c->gnext;
		free(c->out[0].p);
		free(c->out[1].p);
		free(c);
	}
	while ((f = px.fgrave) != NULL) {
		px.fgrave = f->gnext;
		free(f);
	}
}

static void
conn_close(struct conn *c)
{
	if (c->dead)
		return;
	for (int i = 0; i < 2; i++)
		if (c->h[i].fd >= 0) {
			close(c->h[i].fd);
			c->h[i].fd = -1;
		}
	c->dead = 1;
	px.nconn--;
	c->refs++;
	conn_unref(c);
}

/* Interest of side i: read unless ended or pushed back; write when output waits. */
static void
conn_interest(struct conn *c, int i)
{
	uint32_t want = 0;

	if (c->dead || c->h[i].fd < 0)
		return;
	if (i == 1 && !c->connected) {
		ep_set(&c->h[1], EPOLLOUT);
		return;
	}
	if (!c->rd_eof[i] && c->inflight[i] < CONN_INFLIGHT_MAX)
		want |= EPOLLIN;
	if (c->out[i].len > 0)
		want |= EPOLLOUT;
	ep_set(&c->h[i], want);
}

static void
conn_check_done(struct conn *c)
{
	if (c->rd_eof[0] && c->rd_eof[1] && c->wr_shut[0] && c->wr_shut[1])
		conn_close(c);
}

/* Write what is due to side i; shut its write side when the stream ended. */
static void
conn_flush(struct conn *c, int i)
{
	struct obuf *o = &c->out[i];
	ssize_t n;

	if (c->dead || (i == 1 && !c->connected))
		return;
	while (o->len > 0) {
		n = send(c->h[i].fd, o->p + o->off, o->len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		px.bytes[1 - i] += (size_t)n;
		o->off += (size_t)n;
		o->len -= (size_t)n;
		c->inflight[1 - i] -= (size_t)n;
	}
	if (o->len == 0)
		o->off = 0;
	if (o->len == 0 && c->shut_due[i] && !c->wr_shut[i]) {
		shutdown(c->h[i].fd, SHUT_WR);
		c->wr_shut[i] = 1;
	}
	conn_interest(c, i);
	conn_interest(c, 1 - i);
	conn_check_done(c);
}

static void
obuf_add(struct obuf *o, const unsigned char *p, size_t len)
{
	if (o->off + o->len + len > o->cap) {
		if (o->off > 0) {
			memmove(o->p, o->p + o->off, o->len);
			o->off = 0;
		}
		if (o->len + len > o->cap) {
			size_t cap = o->cap ? o->cap : 4096;
			while (cap < o->len + len)
				cap *= 2;
			if ((o->p = realloc(o->p, cap)) == NULL)
				die("realloc");
			o->cap = cap;
		}
	}
	memcpy(o->p + o->off + o->len, p, len);
	o->len += len;
}

static void
conn_read(struct conn *c, int i)
{
	unsigned char buf[CHUNK_MAX];
	ssize_t n;

	if (c->rd_eof[i])
		return;
	n = recv(c->h[i].fd, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n < 0) { /* reset: no point in delaying it */
		conn_close(c);
		return;
	}
	c->refs++;
	if (n == 0) {
		c->rd_eof[i] = 1;
		push(&px.data, Q_EOF, px.delay_us, i, c, NULL, 0);
	} else {
		c->inflight[i] += (size_t)n;
		push(&px.data, Q_DATA, px.delay_us, i, c, buf, (size_t)n);
	}
	conn_interest(c, i);
}

static void
conn_connected(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->h[1].fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
		px.up_fail++;
		conn_close(c);
		return;
	}
	c->connected = 1;
	conn_flush(c, 1);
}

static void
conn_start_upstream(struct conn *c)
{
	socklen_t alen = c->orig.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                                : sizeof(struct sockaddr_in);
	int fd;

	if (c->dead)
		return;
	if ((fd = socket(c->orig.ss_family, SOCK_STREAM, 0)) < 0 || set_nonblock(fd) < 0) {
		if (fd >= 0)
			close(fd);
		px.up_fail++;
		conn_close(c);
		return;
	}
	c->h[1].fd = fd;
	if (connect(fd, (struct sockaddr *)&c->orig, alen) < 0 && errno != EINPROGRESS) {
		px.up_fail++;
		conn_close(c);
		return;
	}
	conn_interest(c, 1);
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
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

static void
tcp_accept(int lfd)
{
	struct sockaddr_storage local;
	socklen_t olen, llen = sizeof(local);
	struct conn *c;
	int fd, rc;

	for (int k = 0; k < 64; k++) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
			return;
		if (px.nconn >= px.maxconn || (c = calloc(1, sizeof(*c))) == NULL) {
			px.refused++;
			close(fd);
			continue;
		}
		olen = sizeof(c->orig);
		rc = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &c->orig, &olen);
		if (rc < 0) {
			olen = sizeof(c->orig);
			rc = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &c->orig, &olen);
		}
		/* Not redirected: we would dial ourselves. */
		if (rc < 0 || (getsockname(fd, (struct sockaddr *)&local, &llen) == 0 &&
		               same_endpoint(&local, &c->orig))) {
			px.no_orig++;
			close(fd);
			free(c);
			continue;
		}
		for (int i = 0; i < 2; i++)
			c->h[i] = (struct handle){.kind = H_CONN, .side = i, .obj = c, .fd = -1};
		c->h[0].fd = fd;
		c->refs = 1; /* the connect entry */
		px.nconn++;
		px.accepted++;
		push(&px.conns, Q_CONNECT, px.connect_us, 1, c, NULL, 0);
		conn_interest(c, 0);
	}
}

/* ---- UDP -------------------------------------------------------------- */

static unsigned
flow_hash(const struct sockaddr_storage *ss, socklen_t len)
{
	const unsigned char *p = (const unsigned char *)ss;
	unsigned h = 2166136261u;

	for (socklen_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % UDP_BUCKETS;
}

static void
idle_unlink(struct flow *f)
{
	if (f->prev != NULL)
		f->prev->next = f->next;
	else
		px.idle_head = f->next;
	if (f->next != NULL)
		f->next->prev = f->prev;
	else
		px.idle_tail = f->prev;
	f->prev = f->next = NULL;
}

static void
idle_touch(struct flow *f)
{
	if (px.idle_tail == f)
		goto out;
	if (f->prev != NULL || f->next != NULL || px.idle_head == f)
		idle_unlink(f);
	f->prev = px.idle_tail;
	if (px.idle_tail != NULL)
		px.idle_tail->next = f;
	else
		px.idle_head = f;
	px.idle_tail = f;
out:
	f->last = now_us();
}

static void
flow_unref(struct flow *f)
{
	if (--f->refs == 0 && f->dead) {
		f->gnext = px.fgrave;
		px.fgrave = f;
	}
}

static void
flow_close(struct flow *f)
{
	struct flow **pp = &px.buckets[flow_hash(&f->client, f->clen)];

	while (*pp != f)
		pp = &(*pp)->hnext;
	*pp = f->hnext;
	idle_unlink(f);
	close(f->h.fd);
	f->h.fd = -1;
	f->dead = 1;
	px.nflow--;
	f->refs++;
	flow_unref(f);
}

static struct flow *
flow_get(int lfd, const struct sockaddr_storage *ss, socklen_t len)
{
	unsigned b = flow_hash(ss, len);
	struct flow *f;
	int fd;

	for (f = px.buckets[b]; f != NULL; f = f->hnext)
		if (f->clen == len && f->lfd == lfd && memcmp(&f->client, ss, len) == 0)
			return f;
	if (px.nflow >= UDP_FLOWS_MAX && px.idle_head != NULL)
		flow_close(px.idle_head);
	if ((fd = socket(px.up.ss_family, SOCK_DGRAM, 0)) < 0)
		return NULL;
	if (set_nonblock(fd) < 0 || connect(fd, (struct sockaddr *)&px.up, px.uplen) < 0 ||
	    (f = calloc(1, sizeof(*f))) == NULL) {
		close(fd);
		return NULL;
	}
	f->h = (struct handle){.kind = H_FLOW, .obj = f, .fd = fd};
	memcpy(&f->client, ss, len);
	f->clen = len;
	f->lfd = lfd;
	f->hnext = px.buckets[b];
	px.buckets[b] = f;
	px.nflow++;
	idle_touch(f);
	ep_set(&f->h, EPOLLIN);
	return f;
}

static void
udp_listen_read(int lfd)
{
	static unsigned char buf[DGRAM_MAX];
	struct sockaddr_storage ss;
	socklen_t len;
	struct flow *f;
	ssize_t n;

	for (int k = 0; k < 64; k++) {
		len = sizeof(ss);
		if ((n = recvfrom(lfd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &len)) < 0)
			return;
		if ((f = flow_get(lfd, &ss, len)) == NULL) {
			px.dg_drop++;
			continue;
		}
		idle_touch(f);
		f->refs++;
		push(&px.data, Q_UP, px.delay_us, 0, f, buf, (size_t)n);
	}
}

static void
flow_read(struct flow *f)
{
	static unsigned char buf[DGRAM_MAX];
	ssize_t n;

	for (int k = 0; k < 64; k++) {
		if ((n = recv(f->h.fd, buf, sizeof(buf), 0)) < 0)
			return;
		idle_touch(f);
		f->refs++;
		push(&px.data, Q_DOWN, px.delay_us, 1, f, buf, (size_t)n);
	}
}

static void
flows_expire(uint64_t now)
{
	while (px.idle_head != NULL && now - px.idle_head->last > UDP_IDLE_US)
		flow_close(px.idle_head);
}

/* ---- schedule --------------------------------------------------------- */

static void
run_due(struct fifo *f, uint64_t now)
{
	struct qent *q;

	while ((q = f->head) != NULL && q->due <= now) {
		if ((f->head = q->next) == NULL)
			f->tail = NULL;
		if (q->kind == Q_UP || q->kind == Q_DOWN) {
			struct flow *fl = q->obj;
			ssize_t n = -1;
			if (!fl->dead && q->kind == Q_UP)
				n = send(fl->h.fd, q->data, q->len, 0);
			else if (!fl->dead)
				n = sendto(fl->lfd, q->data, q->len, 0, (struct sockaddr *)&fl->client,
				           fl->clen);
			if (n < 0)
				px.dg_drop++;
			else if (q->kind == Q_UP)
				px.dg_up++;
			else
				px.dg_down++;
			flow_unref(fl);
		} else {
			struct conn *c = q->obj;
			if (c->dead)
				;
			else if (q->kind == Q_CONNECT)
				conn_start_upstream(c);
			else if (q->kind == Q_DATA) {
				obuf_add(&c->out[1 - q->side], q->data, q->len);
				conn_flush(c, 1 - q->side);
			} else { /* Q_EOF */
				c->shut_due[1 - q->side] = 1;
				conn_flush(c, 1 - q->side);
			}
			conn_unref(c);
		}
		free(q);
	}
}

static int
wait_ms(uint64_t now)
{
	uint64_t due = UINT64_MAX;

	if (px.data.head != NULL)
		due = px.data.head->due;
	if (px.conns.head != NULL && px.conns.head->due < due)
		due = px.conns.head->due;
	if (due == UINT64_MAX)
		return 1000; /* wake now and then to expire idle flows */
	return due <= now ? 0 : (int)((due - now + 999) / 1000);
}

static void
stats(const char *event)
{
	fprintf(stderr,
	        "%s: event=%s delay_ms=%llu connect_ms=%llu tcp_accepted=%llu tcp_open=%zu "
	        "tcp_refused=%llu not_redirected=%llu upstream_failed=%llu up_bytes=%llu "
	        "down_bytes=%llu udp_up=%llu udp_down=%llu udp_dropped=%llu udp_flows=%zu\n",
	        PROG, event, (unsigned long long)(px.delay_us / 1000),
	        (unsigned long long)(px.connect_us / 1000), px.accepted, px.nconn, px.refused,
	        px.no_orig, px.up_fail, px.bytes[0], px.bytes[1], px.dg_up, px.dg_down, px.dg_drop,
	        px.nflow);
}

/* ---- set-up ----------------------------------------------------------- */

static int
parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	char *end;
	long port;
	size_t hl;

	if (s[0] == '[') {
		if ((colon = strstr(s, "]:")) == NULL)
			return -1;
		s++;
		hl = (size_t)(colon - s);
		colon++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
	} else
		return -1;
	return 0;
}

static long
num(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi) {
		fprintf(stderr, "%s: '%s' is not a number in [%ld, %ld]\n", PROG, s, lo, hi);
		exit(2);
	}
	return v;
}

/* A listener on the wildcard address of family af; -1 if the family is off. */
static int
listen_on(int af, int type, int port)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int fd, one = 1;

	if ((fd = socket(af, type, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (af == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		len = sizeof(*s4);
	}
	if (type == SOCK_DGRAM) { /* a resolver's burst of queries arrives at once */
		int sz = UDP_RCVBUF;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	if (set_nonblock(fd) < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 4096) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
usage(void)
{
	fprintf(stderr, "usage: %s -d MS [-c MS] [-p PORT] [-u PORT -U ADDR:PORT] [-n MAXCONN]\n"
	                "  -d  delay of every chunk, each direction (ms)\n"
	                "  -c  delay before connecting upstream (ms, default 2*d)\n"
	                "  -p  transparent TCP port (default 10026; 0: none)\n"
	                "  -u  UDP port relayed to -U (default 0: none)\n"
	                "  -n  simultaneous TCP connections (default 4096)\n",
	        PROG);
	exit(2);
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[256];
	struct handle lh[4], sh;
	struct rlimit rl;
	sigset_t mask;
	long d = -1, cd = -1, tport = 10026, uport = 0;
	int ch, nl = 0, n;

	px.maxconn = 4096;
	while ((ch = getopt(argc, argv, "d:c:p:u:U:n:")) != -1) {
		switch (ch) {
		case 'd': d = num(optarg, 0, 60000); break;
		case 'c': cd = num(optarg, 0, 120000); break;
		case 'p': tport = num(optarg, 0, 65535); break;
		case 'u': uport = num(optarg, 0, 65535); break;
		case 'U':
			if (parse_addr(optarg, &px.up, &px.uplen) < 0) {
				fprintf(stderr, "%s: bad upstream '%s' (ADDR:PORT, [V6]:PORT)\n", PROG, optarg);
				return 2;
			}
			break;
		case 'n': px.maxconn = (size_t)num(optarg, 1, 30000); break;
		default: usage();
		}
	}
	if (d < 0 || optind != argc || (uport != 0 && px.uplen == 0) || (tport == 0 && uport == 0))
		usage();
	px.delay_us = (uint64_t)d * 1000u;
	px.connect_us = (uint64_t)(cd < 0 ? 2 * d : cd) * 1000u;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < NOFILE_WANT) {
		rl.rlim_cur = rl.rlim_max < NOFILE_WANT ? rl.rlim_max : NOFILE_WANT;
		if (rl.rlim_max < NOFILE_WANT && geteuid() == 0)
			rl.rlim_cur = rl.rlim_max = NOFILE_WANT;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((px.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	for (int af = 0; af < 2; af++) {
		int family = af ? AF_INET6 : AF_INET, fd;
		if (tport != 0 && (fd = listen_on(family, SOCK_STREAM, (int)tport)) >= 0) {
			lh[nl] = (struct handle){.kind = H_TCP_LISTEN, .fd = fd};
			ep_set(&lh[nl++], EPOLLIN);
		} else if (tport != 0 && family == AF_INET)
			die("TCP listener");
		if (uport != 0 && (fd = listen_on(family, SOCK_DGRAM, (int)uport)) >= 0) {
			lh[nl] = (struct handle){.kind = H_UDP_LISTEN, .fd = fd};
			ep_set(&lh[nl++], EPOLLIN);
		} else if (uport != 0 && family == AF_INET)
			die("UDP listener");
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sh = (struct handle){.kind = H_SIGNAL, .fd = signalfd(-1, &mask, SFD_CLOEXEC)};
	if (sh.fd < 0)
		die("signalfd");
	ep_set(&sh, EPOLLIN);
	stats("start");

	for (;;) {
		n = epoll_wait(px.ep, evs, 256, wait_ms(now_us()));
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int k = 0; k < n; k++) {
			struct handle *h = evs[k].data.ptr;
			uint32_t e = evs[k].events;
			struct conn *c;
			switch (h->kind) {
			case H_TCP_LISTEN: tcp_accept(h->fd); break;
			case H_UDP_LISTEN: udp_listen_read(h->fd); break;
			case H_FLOW:
				if (!((struct flow *)h->obj)->dead)
					flow_read(h->obj);
				break;
			case H_SIGNAL: {
				struct signalfd_siginfo si;
				if (read(sh.fd, &si, sizeof(si)) != sizeof(si))
					break;
				if (si.ssi_signo == SIGUSR1) {
					stats("stats");
					break;
				}
				stats("exit");
				return 0;
			}
			case H_CONN:
				c = h->obj;
				/* A handle of a connection closed earlier in this batch. */
				if (c->dead || h->fd < 0)
					break;
				c->refs++;
				if (h->side == 1 && !c->connected) {
					conn_connected(c);
				} else {
					if (e & (EPOLLIN | EPOLLHUP | EPOLLERR))
						conn_read(c, h->side);
					if (!c->dead && (e & EPOLLOUT))
						conn_flush(c, h->side);
				}
				conn_unref(c);
				break;
			}
		}
		uint64_t now = now_us();
		run_due(&px.conns, now);
		run_due(&px.data, now);
		flows_expire(now);
		grave_free();
	}
}
