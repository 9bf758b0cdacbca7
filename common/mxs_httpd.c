/* mxs_httpd — see mxs_httpd.h. */
#include "mxs_httpd.h"
#include "mxs_listen.h"
#include "mxs_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#define ADDR_MAX 128

struct mxs_httpd {
	struct event_base *base;
	struct evhttp *http;
	struct event *wake;
	int wake_fd[2];
	pthread_t thread;
	int running;
	int port;
};

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mxs_httpd *h = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(h->base);
}

static void *
httpd_thread(void *arg)
{
	struct mxs_httpd *h = arg;

	if (event_base_dispatch(h->base) < 0)
		mxs_err("msg=\"HTTP server loop failed\"");
	return NULL;
}

static void
httpd_free(struct mxs_httpd *h)
{
	if (h->http != NULL)
		evhttp_free(h->http);
	if (h->wake != NULL)
		event_free(h->wake);
	if (h->base != NULL)
		event_base_free(h->base);
	if (h->wake_fd[0] >= 0)
		close(h->wake_fd[0]);
	if (h->wake_fd[1] >= 0)
		close(h->wake_fd[1]);
	free(h);
}

int
mxs_httpd_start(const char *name, const char *listen, const struct mxs_httpd_limits *lim,
                void (*fn)(struct evhttp_request *, void *), void *arg, struct mxs_httpd **out,
                char *errstr, size_t errlen)
{
	struct evhttp_bound_socket *bs;
	struct mxs_httpd *h;
	char addr[ADDR_MAX], why[256];
	uint16_t port = 0;
	sigset_t all, old;
	int rc;

	*out = NULL;
	if ((rc = mxs_listen_parse(listen, addr, sizeof(addr), &port, why, sizeof(why))) != 0)
		return mxs_seterr(errstr, errlen, rc, "%s: %s", name, why);
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return mxs_seterr(errstr, errlen, MXS_ENOMEM, "out of memory");
	h->wake_fd[0] = h->wake_fd[1] = -1;
	if (pipe(h->wake_fd) != 0 || fcntl(h->wake_fd[0], F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(h->wake_fd[1], F_SETFD, FD_CLOEXEC) != 0 ||
	    (h->base = event_base_new()) == NULL || (h->http = evhttp_new(h->base)) == NULL ||
	    (h->wake = event_new(h->base, h->wake_fd[0], EV_READ, wake_cb, h)) == NULL ||
	    event_add(h->wake, NULL) != 0) {
		rc = mxs_seterr(errstr, errlen, MXS_ESYS, "%s: libevent set-up failed", name);
		goto fail;
	}
	evhttp_set_max_headers_size(h->http, (ev_ssize_t)lim->headers_max);
	evhttp_set_max_body_size(h->http, (ev_ssize_t)lim->body_max);
	evhttp_set_timeout(h->http, lim->timeout_s);
	/* Read an oversized body to its end before the 413, so the client
	 * sees the status instead of a reset. */
	evhttp_set_flags(h->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(h->http, fn, arg);
	errno = 0;
	if ((bs = evhttp_bind_socket_with_handle(h->http, addr, port)) == NULL) {
		rc = mxs_seterr(errstr, errlen, MXS_ESYS, "%s: cannot listen on %s: %s", name,
		                listen, errno != 0 ? strerror(errno) : "address unusable");
		goto fail;
	}
	h->port = mxs_listen_port(evhttp_bound_socket_get_fd(bs));
	/* The server thread takes no signals: they belong to the caller. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&h->thread, NULL, httpd_thread, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		rc = mxs_seterr(errstr, errlen, MXS_ESYS, "%s thread: %s", name, strerror(rc));
		goto fail;
	}
	h->running = 1;
	mxs_info("msg=\"%s listening\" listen=%s port=%d", name, listen, h->port);
	*out = h;
	return MXS_OK;
fail:
	httpd_free(h);
	return rc;
}

int
mxs_httpd_port(const struct mxs_httpd *h)
{
	return h != NULL ? h->port : -1;
}

void
mxs_httpd_stop(struct mxs_httpd **hp)
{
	struct mxs_httpd *h;
	ssize_t w;

	if (hp == NULL || (h = *hp) == NULL)
		return;
	*hp = NULL;
	if (h->running) {
		do
			w = write(h->wake_fd[1], "x", 1);
		while (w < 0 && errno == EINTR);
		if (w != 1)
			mxs_panic("cannot wake the HTTP server thread: %s", strerror(errno));
		pthread_join(h->thread, NULL);
	}
	httpd_free(h);
}
