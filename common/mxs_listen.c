/* mxs_listen — see mxs_listen.h. */
#include "mxs_listen.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

int
mxs_listen_parse(const char *s, char *addr, size_t alen, uint16_t *port, char *err, size_t errlen)
{
	const char *colon, *a = s, *p;
	size_t n;
	unsigned long v = 0;

	if (s == NULL || *s == '\0')
		return mxs_seterr(err, errlen, MXS_ECONFIG, "listen address is empty");
	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			goto bad;
		a = s + 1;
		n = (size_t)(rb - a);
		colon = rb + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL || memchr(s, ':', (size_t)(colon - s)))
			goto bad;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= alen || colon[1] == '\0' || strlen(colon + 1) > 5)
		goto bad;
	for (p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535)
		goto bad;
	memcpy(addr, a, n);
	addr[n] = '\0';
	*port = (uint16_t)v;
	return MXS_OK;
bad:
	return mxs_seterr(err, errlen, MXS_ECONFIG,
	                  "listen address \"%s\" is not ADDR:PORT or [ADDR]:PORT", s);
}

int
mxs_listen_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}
