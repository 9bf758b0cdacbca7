/* frame — relay <-> prober messages (see frame.h). */
#include "frame.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

void
mxs_frame_header(uint8_t hdr[MXS_FRAME_HDR], uint8_t type, size_t len)
{
	hdr[0] = type;
	hdr[1] = (uint8_t)(len >> 24);
	hdr[2] = (uint8_t)(len >> 16);
	hdr[3] = (uint8_t)(len >> 8);
	hdr[4] = (uint8_t)len;
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return MXS_ESYS;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 0, MXS_ETRUNC (EOF before the first byte when eof_ok), MXS_ESYS. */
static int
read_all(int fd, uint8_t *p, size_t n, int eof_ok)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return got == 0 && eof_ok ? MXS_ETRUNC : MXS_ESYS;
		if (r < 0)
			return MXS_ESYS;
		got += (size_t)r;
	}
	return 0;
}

int
mxs_frame_write(int fd, uint8_t type, const uint8_t *buf, size_t len)
{
	uint8_t hdr[MXS_FRAME_HDR];
	int rc;

	if (len > MXS_FRAME_MAX)
		return MXS_ELIMIT;
	mxs_frame_header(hdr, type, len);
	if ((rc = write_all(fd, hdr, sizeof(hdr))) != 0)
		return rc;
	return write_all(fd, buf, len);
}

int
mxs_frame_read(int fd, uint8_t *type, uint8_t **buf, size_t *len)
{
	uint8_t hdr[MXS_FRAME_HDR];
	size_t n;
	int rc;

	*buf = NULL;
	*len = 0;
	if ((rc = read_all(fd, hdr, sizeof(hdr), 1)) != 0)
		return rc;
	n = (size_t)hdr[1] << 24 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 8 | hdr[4];
	if (n > MXS_FRAME_MAX)
		return MXS_ELIMIT;
	if ((*buf = malloc(n ? n : 1)) == NULL)
		return MXS_ENOMEM;
	if ((rc = read_all(fd, *buf, n, 0)) != 0) {
		free(*buf);
		*buf = NULL;
		return rc;
	}
	*type = hdr[0];
	*len = n;
	return 0;
}
