/*
 * spool_file — the format of one spool batch file (see spool.h for the
 * layout, spool_file.h for the contract).  Pure: no I/O, no spool state.
 */
#include "spool_file.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define MAGIC     "MXSSPOOL"
#define MAGIC_LEN 8
#define CRC_OFF   28 /* the crc covers the header bytes before it */

/* ---- encoding and names ---- */

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint64_t
get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

void
mxs_spool_file_name(char buf[MXS_SPOOL_FILE_NAME_LEN], uint64_t seq)
{
	snprintf(buf, MXS_SPOOL_FILE_NAME_LEN, "%016" PRIx64 ".sp", seq);
}

void
mxs_spool_file_tmp_name(char buf[MXS_SPOOL_FILE_NAME_LEN], uint64_t seq)
{
	snprintf(buf, MXS_SPOOL_FILE_NAME_LEN, "tmp.%016" PRIx64 ".sp", seq);
}

/* A batch name is exactly 16 lower-case hex digits and ".sp", seq > 0. */
bool
mxs_spool_file_parse_name(const char *name, uint64_t *seq)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 16; i++) {
		char c = name[i];

		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return false;
	}
	if (strcmp(name + 16, ".sp") != 0 || v == 0)
		return false;
	*seq = v;
	return true;
}

static uint32_t
file_crc(const uint8_t *hdr, const uint8_t *payload, size_t plen)
{
	uLong c = crc32(0L, Z_NULL, 0);

	c = crc32(c, hdr, CRC_OFF);
	c = crc32(c, payload, (uInt)plen);
	return (uint32_t)c;
}

/*
 * Check a whole file image against every rule of the format; *n receives
 * its result count.  Returns 0, MXS_ETRUNC or MXS_ESYNTAX with a reason.
 */
int
mxs_spool_file_check(const uint8_t *buf, size_t len, uint64_t seq, uint32_t *n, char *errstr,
                     size_t errlen)
{
	uint32_t count, plen, i;
	size_t off;

	if (len < MXS_SPOOL_HDR_SIZE)
		return mxs_seterr(errstr, errlen, MXS_ETRUNC, "%zu bytes, shorter than the header",
		                  len);
	if (memcmp(buf, MAGIC, MAGIC_LEN) != 0)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "bad magic");
	if (get_be32(buf + 8) != MXS_SPOOL_VERSION)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "unknown version %" PRIu32,
		                  get_be32(buf + 8));
	count = get_be32(buf + 12);
	plen = get_be32(buf + 16);
	if (count == 0 || count > MXS_SPOOL_BATCH_RESULTS_MAX || plen > MXS_SPOOL_BATCH_MAX)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
		                  "count %" PRIu32 " or payload %" PRIu32 " out of range", count,
		                  plen);
	if (len != MXS_SPOOL_HDR_SIZE + (size_t)plen)
		return mxs_seterr(
		        errstr, errlen,
		        len < MXS_SPOOL_HDR_SIZE + (size_t)plen ? MXS_ETRUNC : MXS_ESYNTAX,
		        "%zu bytes, header says %zu", len, MXS_SPOOL_HDR_SIZE + (size_t)plen);
	if (get_be64(buf + 20) != seq)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "header seq %" PRIu64 " != name",
		                  get_be64(buf + 20));
	if (get_be32(buf + CRC_OFF) != file_crc(buf, buf + MXS_SPOOL_HDR_SIZE, plen))
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "crc mismatch");
	/* A valid crc over a bad framing is a writer bug, but still not ours to trust. */
	off = MXS_SPOOL_HDR_SIZE;
	for (i = 0; i < count; i++) {
		if (len - off < 4 || len - off - 4 < get_be32(buf + off))
			return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
			                  "result %" PRIu32 " overruns", i);
		off += 4 + (size_t)get_be32(buf + off);
	}
	if (off != len)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "%zu bytes after the last result",
		                  len - off);
	*n = count;
	return 0;
}

/* ---- building and reading a file ---- */

/* Build the file image of a batch; the caller frees *imgp. */
int
mxs_spool_file_build(uint64_t seq, const uint8_t *const *results, const size_t *lens, size_t n,
                     size_t plen, uint8_t **imgp)
{
	uint8_t *img, *p;
	size_t i;

	if ((img = malloc(MXS_SPOOL_HDR_SIZE + plen)) == NULL)
		return MXS_ENOMEM;
	memcpy(img, MAGIC, MAGIC_LEN);
	put_be32(img + 8, MXS_SPOOL_VERSION);
	put_be32(img + 12, (uint32_t)n);
	put_be32(img + 16, (uint32_t)plen);
	put_be64(img + 20, seq);
	p = img + MXS_SPOOL_HDR_SIZE;
	for (i = 0; i < n; i++) {
		put_be32(p, (uint32_t)lens[i]);
		if (lens[i] > 0)
			memcpy(p + 4, results[i], lens[i]);
		p += 4 + lens[i];
	}
	put_be32(img + CRC_OFF, file_crc(img, img + MXS_SPOOL_HDR_SIZE, plen));
	*imgp = img;
	return 0;
}

/* Split a checked file image into a batch; takes buf on success. */
int
mxs_spool_file_batch(uint64_t seq, uint8_t *buf, uint32_t n, struct mxs_spool_batch **out)
{
	struct mxs_spool_batch *b;
	size_t off = MXS_SPOOL_HDR_SIZE, i;

	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->results = calloc(n, sizeof(*b->results))) == NULL ||
	    (b->lens = calloc(n, sizeof(*b->lens))) == NULL) {
		mxs_spool_batch_free(&b);
		return MXS_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		b->lens[i] = get_be32(buf + off);
		b->results[i] = buf + off + 4;
		off += 4 + b->lens[i];
	}
	b->seq = seq;
	b->n = n;
	b->buf_ = buf;
	*out = b;
	return 0;
}
