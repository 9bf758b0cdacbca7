/*
 * dns_wire — bounded DNS message parser (see dns_wire.h).
 *
 * A reader carries the packet, its length and the offset; every read checks
 * the length first, so no input can make the parser touch memory outside
 * the packet.  Name decompression (RFC 1035 §4.1.4) accepts a pointer only
 * when it points before every octet already visited for that name, which
 * makes loops impossible; the hop count and the expanded wire length
 * (MXS_DNS_NAME_MAX) are capped as well.  All four sections are walked so a
 * truncated packet is always an error, but only the answers are kept.
 */
#include "dns_wire.h"

#include <stdlib.h>
#include <string.h>

#define HDR_LEN   12
#define LABEL_MAX 63
/* Pointer hops while expanding one name.  A sensible name never needs more
 * than one; a name of MXS_DNS_NAME_MAX octets has at most half as many
 * labels, so this cap allows one hop per label. */
#define PTR_HOPS_MAX (MXS_DNS_NAME_MAX / 2)

struct rd {
	const unsigned char *pkt;
	size_t len;
	size_t off;
	char *errstr;
	size_t errlen;
};

static int
rd_u16(struct rd *r, uint16_t *v, const char *what)
{
	if (r->len - r->off < 2)
		return mxs_seterr(r->errstr, r->errlen, MXS_ETRUNC, "packet ends in %s", what);
	*v = (uint16_t)(r->pkt[r->off] << 8 | r->pkt[r->off + 1]);
	r->off += 2;
	return 0;
}

static int
rd_u32(struct rd *r, uint32_t *v, const char *what)
{
	if (r->len - r->off < 4)
		return mxs_seterr(r->errstr, r->errlen, MXS_ETRUNC, "packet ends in %s", what);
	*v = (uint32_t)r->pkt[r->off] << 24 | (uint32_t)r->pkt[r->off + 1] << 16 |
	     (uint32_t)r->pkt[r->off + 2] << 8 | r->pkt[r->off + 3];
	r->off += 4;
	return 0;
}

/*
 * Append label [lab, lab+n) in presentation form at out[*pos], preceded by
 * a dot unless it is the first.  -1 when out is too small.
 */
static int
label_text(const unsigned char *lab, size_t n, char *out, size_t outlen, size_t *pos)
{
	static const char digits[] = "0123456789";
	size_t o = *pos;

	if (o > 0) {
		if (o + 1 >= outlen)
			return -1;
		out[o++] = '.';
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = lab[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '*') {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)c;
			continue;
		}
		if (o + 4 >= outlen)
			return -1;
		out[o++] = '\\';
		out[o++] = digits[c / 100];
		out[o++] = digits[c / 10 % 10];
		out[o++] = digits[c % 10];
	}
	out[o] = '\0';
	*pos = o;
	return 0;
}

/* Read the name at r->off into out (NULL: skip) and advance past it. */
static int
rd_name(struct rd *r, char *out, size_t outlen)
{
	size_t pos = r->off, lowest = r->off, wire = 0, tpos = 0, end = 0;
	unsigned hops = 0;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	for (;;) {
		unsigned c;

		if (pos >= r->len)
			return mxs_seterr(r->errstr, r->errlen, MXS_ETRUNC,
			                  "packet ends in a name");
		c = r->pkt[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t ptr;

			if (pos + 1 >= r->len)
				return mxs_seterr(r->errstr, r->errlen, MXS_ETRUNC,
				                  "packet ends in a compression pointer");
			ptr = (size_t)(c & 0x3f) << 8 | r->pkt[pos + 1];
			if (ptr >= lowest)
				return mxs_seterr(r->errstr, r->errlen, MXS_ESYNTAX,
				                  "compression pointer at %zu does not point back",
				                  pos);
			if (++hops > PTR_HOPS_MAX)
				return mxs_seterr(r->errstr, r->errlen, MXS_ESYNTAX,
				                  "more than %d compression pointers",
				                  PTR_HOPS_MAX);
			if (end == 0)
				end = pos + 2;
			pos = lowest = ptr;
			continue;
		}
		if (c > LABEL_MAX)
			return mxs_seterr(r->errstr, r->errlen, MXS_ESYNTAX,
			                  "label type 0x%02x at %zu", c & 0xc0, pos);
		wire += 1 + c;
		if (wire > MXS_DNS_NAME_MAX)
			return mxs_seterr(r->errstr, r->errlen, MXS_ESYNTAX,
			                  "name longer than %d octets", MXS_DNS_NAME_MAX);
		if (c == 0)
			break;
		if (r->len - pos - 1 < c)
			return mxs_seterr(r->errstr, r->errlen, MXS_ETRUNC,
			                  "packet ends in a label");
		if (out != NULL && label_text(r->pkt + pos + 1, c, out, outlen, &tpos) != 0)
			return mxs_seterr(r->errstr, r->errlen, MXS_ELIMIT, "name text too long");
		pos += 1 + c;
	}
	r->off = end != 0 ? end : pos + 1;
	return 0;
}

/* The name that ends the rdata of MX and CNAME.  The reader's length is
 * the rdata end: the name cannot run past it in place, though its pointers
 * may point anywhere before. */
static int
rd_target(struct rd *r, struct mxs_rr *rr)
{
	int rc;

	if ((rc = rd_name(r, rr->target, sizeof(rr->target))) != 0)
		return rc;
	if (r->off != r->len)
		return mxs_seterr(r->errstr, r->errlen, MXS_ESYNTAX,
		                  "rdata of type %u longer than its name", rr->type);
	return 0;
}

/* Decode the rdata of the types the probe uses; r spans exactly the rdata. */
static int
rr_decode(struct rd *r, struct mxs_rr *rr)
{
	int rc;

	switch (rr->type) {
	case MXS_DNS_T_A:
	case MXS_DNS_T_AAAA:
		if (rr->rdlen != (rr->type == MXS_DNS_T_A ? 4 : 16))
			return mxs_seterr(r->errstr, r->errlen, MXS_ESYNTAX,
			                  "address record with rdlength %u", rr->rdlen);
		memcpy(rr->addr, rr->rdata, rr->rdlen);
		return 0;
	case MXS_DNS_T_MX:
		if ((rc = rd_u16(r, &rr->mx_pref, "MX preference")) != 0)
			return rc;
		return rd_target(r, rr);
	case MXS_DNS_T_CNAME:
		return rd_target(r, rr);
	}
	return 0;
}

/* One resource record at r->off; rr NULL: check and skip it. */
static int
rd_rr(struct rd *r, struct mxs_rr *rr)
{
	struct mxs_rr tmp;
	uint16_t rdlen = 0;
	struct rd sub;
	int rc;

	if (rr == NULL) {
		rr = &tmp;
		if ((rc = rd_name(r, NULL, 0)) != 0)
			return rc;
	} else if ((rc = rd_name(r, rr->owner, sizeof(rr->owner))) != 0) {
		return rc;
	}
	if ((rc = rd_u16(r, &rr->type, "RR type")) != 0 ||
	    (rc = rd_u16(r, &rr->rclass, "RR class")) != 0 ||
	    (rc = rd_u32(r, &rr->ttl, "RR TTL")) != 0 || (rc = rd_u16(r, &rdlen, "RDLENGTH")) != 0)
		return rc;
	if (r->len - r->off < rdlen)
		return mxs_seterr(r->errstr, r->errlen, MXS_ETRUNC,
		                  "RDLENGTH %u past the end of the packet", rdlen);
	rr->rdlen = rdlen;
	rr->rdata = r->pkt + r->off;
	if (rr != &tmp) {
		sub = *r;
		sub.len = r->off + rdlen;
		if ((rc = rr_decode(&sub, rr)) != 0)
			return rc;
	}
	r->off += rdlen;
	return 0;
}

static int
parse_sections(struct rd *r, struct mxs_dns_msg *m, const uint16_t count[4])
{
	int rc;

	for (unsigned i = 0; i < count[0]; i++) {
		if ((rc = rd_name(r, NULL, 0)) != 0)
			return rc;
		if (r->len - r->off < 4)
			return mxs_seterr(r->errstr, r->errlen, MXS_ETRUNC,
			                  "packet ends in a question");
		r->off += 4;
	}
	for (size_t i = 0; i < m->nans; i++)
		if ((rc = rd_rr(r, &m->ans[i])) != 0)
			return rc;
	for (unsigned i = 0; i < (unsigned)count[2] + count[3]; i++)
		if ((rc = rd_rr(r, NULL)) != 0)
			return rc;
	return 0;
}

int
mxs_dns_parse(const unsigned char *pkt, size_t len, struct mxs_dns_msg *m, char *errstr,
              size_t errlen)
{
	struct rd r = {pkt, len, 0, errstr, errlen};
	uint16_t id, flags, count[4];
	int rc;

	memset(m, 0, sizeof(*m));
	if (pkt == NULL)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "no packet");
	if (len > MXS_DNS_PACKET_MAX)
		return mxs_seterr(errstr, errlen, MXS_ELIMIT, "packet of %zu octets", len);
	if (len < HDR_LEN)
		return mxs_seterr(errstr, errlen, MXS_ETRUNC, "packet shorter than a header");
	if ((rc = rd_u16(&r, &id, "header")) != 0 || (rc = rd_u16(&r, &flags, "header")) != 0)
		return rc;
	for (int i = 0; i < 4; i++)
		if ((rc = rd_u16(&r, &count[i], "header")) != 0)
			return rc;
	if (count[1] > MXS_DNS_RR_MAX)
		return mxs_seterr(errstr, errlen, MXS_ELIMIT, "%u answers (max %d)", count[1],
		                  MXS_DNS_RR_MAX);
	if (count[1] > 0 && (m->ans = calloc(count[1], sizeof(*m->ans))) == NULL)
		return mxs_seterr(errstr, errlen, MXS_ENOMEM, "answer section");
	m->nans = count[1];
	if ((rc = parse_sections(&r, m, count)) != 0) {
		mxs_dns_msg_free(m);
		return rc;
	}
	m->rcode = flags & 0x000f;
	m->ad = (flags >> 5) & 1;
	m->tc = (flags >> 9) & 1;
	return 0;
}

void
mxs_dns_msg_free(struct mxs_dns_msg *m)
{
	if (m == NULL)
		return;
	free(m->ans);
	memset(m, 0, sizeof(*m));
}

/* One presentation label at *pp into wire[*o..]; advances both. */
static int
label_to_wire(const char **pp, unsigned char *wire, size_t wirelen, size_t *o)
{
	const char *p = *pp;
	size_t lenpos = (*o)++, n = 0;

	while (*p != '\0' && *p != '.') {
		unsigned c = (unsigned char)*p++;

		if (c == '\\') {
			if (p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' &&
			    p[2] >= '0' && p[2] <= '9') {
				c = (unsigned)(p[0] - '0') * 100 + (unsigned)(p[1] - '0') * 10 +
				    (unsigned)(p[2] - '0');
				if (c > 255)
					return MXS_ESYNTAX;
				p += 3;
			} else if (*p != '\0') {
				c = (unsigned char)*p++;
			} else {
				return MXS_ESYNTAX;
			}
		}
		if (++n > LABEL_MAX)
			return MXS_ESYNTAX;
		if (*o + 1 >= MXS_DNS_NAME_MAX) /* keep room for the root label */
			return MXS_ELIMIT;
		if (*o >= wirelen)
			return MXS_EINVAL;
		wire[(*o)++] = (unsigned char)c;
	}
	if (n == 0)
		return MXS_ESYNTAX;
	wire[lenpos] = (unsigned char)n;
	*pp = p;
	return 0;
}

int
mxs_dns_name_to_wire(const char *name, unsigned char *wire, size_t wirelen)
{
	size_t o = 0;
	int rc;

	if (name == NULL || wire == NULL || wirelen == 0)
		return MXS_EINVAL;
	if (name[0] == '.' && name[1] == '\0')
		name++;
	while (*name != '\0') {
		if (o + 1 >= wirelen)
			return MXS_EINVAL;
		if ((rc = label_to_wire(&name, wire, wirelen, &o)) != 0)
			return rc;
		if (*name == '.')
			name++;
	}
	if (o >= wirelen)
		return MXS_EINVAL;
	wire[o++] = 0;
	return (int)o;
}

/* Canonical presentation form of name (as the parser writes owners). */
static int
canonical(const char *name, char *out, size_t outlen)
{
	unsigned char wire[MXS_DNS_NAME_MAX];
	size_t i = 0, pos = 0;
	int n;

	if ((n = mxs_dns_name_to_wire(name, wire, sizeof(wire))) < 0)
		return n;
	out[0] = '\0';
	while (wire[i] != 0) {
		if (label_text(wire + i + 1, wire[i], out, outlen, &pos) != 0)
			return MXS_ELIMIT;
		i += 1 + (size_t)wire[i];
	}
	return 0;
}

static const struct mxs_rr *
find_cname(const struct mxs_dns_msg *m, const char *owner)
{
	for (size_t i = 0; i < m->nans; i++)
		if (m->ans[i].type == MXS_DNS_T_CNAME && strcmp(m->ans[i].owner, owner) == 0)
			return &m->ans[i];
	return NULL;
}

int
mxs_dns_select(const struct mxs_dns_msg *m, const char *qname, uint16_t qtype,
               const struct mxs_rr **out, size_t max, size_t *n, char *final, size_t finallen)
{
	char cur[MXS_DNS_TEXT_MAX];
	const struct mxs_rr *cn;
	unsigned hops = 0;
	int rc;

	*n = 0;
	if (final != NULL && finallen > 0)
		final[0] = '\0';
	if ((rc = canonical(qname, cur, sizeof(cur))) != 0)
		return rc;
	for (;;) {
		size_t found = 0;

		for (size_t i = 0; i < m->nans; i++) {
			if (m->ans[i].type != qtype || strcmp(m->ans[i].owner, cur) != 0)
				continue;
			if (found++ < max)
				out[(*n)++] = &m->ans[i];
		}
		/* Data at this name ends the chain; asking for CNAME never follows. */
		if (found > 0 || qtype == MXS_DNS_T_CNAME || (cn = find_cname(m, cur)) == NULL)
			break;
		if (++hops > MXS_DNS_CNAME_MAX)
			return MXS_ELIMIT;
		memcpy(cur, cn->target, sizeof(cur));
	}
	if (final != NULL && finallen > 0) {
		if (strlen(cur) >= finallen)
			return MXS_EINVAL;
		memcpy(final, cur, strlen(cur) + 1);
	}
	return 0;
}
