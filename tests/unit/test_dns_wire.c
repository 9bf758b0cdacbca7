/*
 * test_dns_wire — unit tests for agent/dns_wire.c.  Packets are built here
 * with a small writer (header, question, resource records, compression
 * pointers), then parsed whole, truncated and corrupted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns_wire.h"

#define F_QR 0x8000
#define F_TC 0x0200
#define F_RD 0x0100
#define F_RA 0x0080
#define F_AD 0x0020

/* ---- packet writer ---- */

struct pk {
	unsigned char b[8192];
	size_t n;
};

static void
put8(struct pk *p, unsigned v)
{
	assert_true(p->n < sizeof(p->b));
	p->b[p->n++] = (unsigned char)v;
}

static void
put16(struct pk *p, unsigned v)
{
	put8(p, v >> 8 & 0xff);
	put8(p, v & 0xff);
}

static void
put32(struct pk *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p, v & 0xffff);
}

static void
put_bytes(struct pk *p, const void *b, size_t n)
{
	assert_true(n <= sizeof(p->b) - p->n);
	memcpy(p->b + p->n, b, n);
	p->n += n;
}

/* A whole name, uncompressed. */
static void
put_name(struct pk *p, const char *name)
{
	unsigned char w[MXS_DNS_NAME_MAX];
	int n = mxs_dns_name_to_wire(name, w, sizeof(w));

	assert_true(n > 0);
	put_bytes(p, w, (size_t)n);
}

/* Labels of name without the root label, for a pointer to follow. */
static void
put_labels(struct pk *p, const char *name)
{
	put_name(p, name);
	p->n--;
}

static void
put_ptr(struct pk *p, size_t off)
{
	put16(p, 0xc000 | (unsigned)off);
}

static void
put_hdr(struct pk *p, unsigned flags, unsigned qd, unsigned an, unsigned ns, unsigned ar)
{
	p->n = 0;
	put16(p, 0x1234);
	put16(p, flags);
	put16(p, qd);
	put16(p, an);
	put16(p, ns);
	put16(p, ar);
}

/* Question at offset 12 (so a pointer to 12 names it). */
static void
put_question(struct pk *p, const char *name, unsigned type)
{
	put_name(p, name);
	put16(p, type);
	put16(p, 1);
}

/* Type, class IN, TTL and a placeholder RDLENGTH; returns its offset. */
static size_t
rr_begin(struct pk *p, unsigned type, uint32_t ttl)
{
	size_t at;

	put16(p, type);
	put16(p, 1);
	put32(p, ttl);
	at = p->n;
	put16(p, 0);
	return at;
}

static void
rr_end(struct pk *p, size_t at)
{
	size_t len = p->n - at - 2;

	p->b[at] = (unsigned char)(len >> 8);
	p->b[at + 1] = (unsigned char)len;
}

static void
put_a(struct pk *p, const char *owner, const unsigned char addr[4])
{
	size_t at;

	put_name(p, owner);
	at = rr_begin(p, MXS_DNS_T_A, 300);
	put_bytes(p, addr, 4);
	rr_end(p, at);
}

static void
put_cname(struct pk *p, const char *owner, const char *target)
{
	size_t at;

	put_name(p, owner);
	at = rr_begin(p, MXS_DNS_T_CNAME, 60);
	put_name(p, target);
	rr_end(p, at);
}

/* Parse a heap copy of exactly len octets, so ASan sees any over-read. */
static int
parse_copy(const unsigned char *b, size_t len, struct mxs_dns_msg *m, char *err, size_t errlen)
{
	unsigned char *copy = malloc(len > 0 ? len : 1);
	int rc;

	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, b, len);
	rc = mxs_dns_parse(copy, len, m, err, errlen);
	/* rdata points into copy: callers of this helper do not keep it. */
	free(copy);
	return rc;
}

static int
parse_pk(const struct pk *p, struct mxs_dns_msg *m)
{
	char err[160] = "";
	int rc = parse_copy(p->b, p->n, m, err, sizeof(err));

	if (rc < 0)
		print_message("parse: %d %s\n", rc, err);
	return rc;
}

/* ---- packets ---- */

static const unsigned char a1[4] = {192, 0, 2, 1}, a2[4] = {192, 0, 2, 2};
static const unsigned char six[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

/* example.com MX: 10 mx1.example.com (compressed), 20 MX2.Example.COM. */
static size_t mx1_rdata;

static void
build_mx(struct pk *p, unsigned ns, unsigned ar)
{
	size_t at;

	put_hdr(p, F_QR | F_RD | F_RA | F_AD, 1, 2, ns, ar);
	put_question(p, "example.com", MXS_DNS_T_MX);
	put_ptr(p, 12);
	at = rr_begin(p, MXS_DNS_T_MX, 3600);
	mx1_rdata = p->n;
	put16(p, 10);
	put_labels(p, "mx1");
	put_ptr(p, 12);
	rr_end(p, at);
	put_ptr(p, 12);
	at = rr_begin(p, MXS_DNS_T_MX, 3600);
	put16(p, 20);
	put_name(p, "MX2.Example.COM");
	rr_end(p, at);
}

/* www.example.com A: CNAME a.example.net, CNAME b.example.net, two A. */
static void
build_chain(struct pk *p)
{
	put_hdr(p, F_QR | F_RD | F_RA, 1, 4, 0, 0);
	put_question(p, "www.example.com", MXS_DNS_T_A);
	put_cname(p, "www.example.com", "a.example.net");
	put_cname(p, "a.example.net", "b.example.net");
	put_a(p, "b.example.net", a1);
	put_a(p, "B.example.NET.", a2);
}

static void
test_mx(void **state)
{
	const struct mxs_rr *sel[4];
	struct mxs_dns_msg m;
	char final[MXS_DNS_TEXT_MAX], err[160];
	struct pk p;
	size_t n;

	(void)state;
	build_mx(&p, 0, 0);
	assert_int_equal(mxs_dns_parse(p.b, p.n, &m, err, sizeof(err)), 0);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(m.ad, 1);
	assert_int_equal(m.tc, 0);
	assert_int_equal(m.nans, 2);
	assert_string_equal(m.ans[0].owner, "example.com");
	assert_int_equal(m.ans[0].type, MXS_DNS_T_MX);
	assert_int_equal(m.ans[0].rclass, 1);
	assert_int_equal(m.ans[0].ttl, 3600);
	assert_int_equal(m.ans[0].mx_pref, 10);
	assert_string_equal(m.ans[0].target, "mx1.example.com");
	assert_ptr_equal(m.ans[0].rdata, p.b + mx1_rdata);
	assert_int_equal(m.ans[0].rdlen, 2 + 4 + 2);
	assert_int_equal(m.ans[1].mx_pref, 20);
	assert_string_equal(m.ans[1].target, "mx2.example.com");

	assert_int_equal(
	        mxs_dns_select(&m, "Example.COM.", MXS_DNS_T_MX, sel, 4, &n, final, sizeof(final)),
	        0);
	assert_int_equal(n, 2);
	assert_ptr_equal(sel[0], &m.ans[0]);
	assert_ptr_equal(sel[1], &m.ans[1]);
	assert_string_equal(final, "example.com");
	assert_int_equal(mxs_dns_select(&m, "example.com", MXS_DNS_T_MX, sel, 1, &n, NULL, 0), 0);
	assert_int_equal(n, 1);
	assert_int_equal(
	        mxs_dns_select(&m, "example.com", MXS_DNS_T_A, sel, 4, &n, final, sizeof(final)),
	        0);
	assert_int_equal(n, 0);
	assert_string_equal(final, "example.com");
	assert_int_equal(mxs_dns_select(&m, "example..com", MXS_DNS_T_MX, sel, 4, &n, NULL, 0),
	                 MXS_ESYNTAX);
	mxs_dns_msg_free(&m);
	assert_null(m.ans);
	assert_int_equal(m.nans, 0);
	mxs_dns_msg_free(&m);
	mxs_dns_msg_free(NULL);
}

static void
test_cname_chain(void **state)
{
	const struct mxs_rr *sel[4];
	struct mxs_dns_msg m;
	char final[MXS_DNS_TEXT_MAX], small[8];
	struct pk p;
	size_t n;

	(void)state;
	build_chain(&p);
	assert_int_equal(parse_pk(&p, &m), 0);
	assert_int_equal(m.nans, 4);
	assert_string_equal(m.ans[0].target, "a.example.net");
	assert_string_equal(m.ans[3].owner, "b.example.net");
	assert_memory_equal(m.ans[3].addr, a2, 4);
	assert_int_equal(mxs_dns_select(&m, "WWW.example.com", MXS_DNS_T_A, sel, 4, &n, final,
	                                sizeof(final)),
	                 0);
	assert_int_equal(n, 2);
	assert_memory_equal(sel[0]->addr, a1, 4);
	assert_memory_equal(sel[1]->addr, a2, 4);
	assert_string_equal(final, "b.example.net");
	/* Asking for the CNAME itself does not follow it. */
	assert_int_equal(mxs_dns_select(&m, "www.example.com", MXS_DNS_T_CNAME, sel, 4, &n, final,
	                                sizeof(final)),
	                 0);
	assert_int_equal(n, 1);
	assert_string_equal(final, "www.example.com");
	/* Chain followed, no AAAA at its end: NODATA at the final name. */
	assert_int_equal(mxs_dns_select(&m, "www.example.com", MXS_DNS_T_AAAA, sel, 4, &n, final,
	                                sizeof(final)),
	                 0);
	assert_int_equal(n, 0);
	assert_string_equal(final, "b.example.net");
	assert_int_equal(mxs_dns_select(&m, "www.example.com", MXS_DNS_T_A, sel, 4, &n, small,
	                                sizeof(small)),
	                 MXS_EINVAL);
	mxs_dns_msg_free(&m);
}

static void
test_aaaa_and_null_mx(void **state)
{
	struct mxs_dns_msg m;
	struct pk p;
	size_t at;

	(void)state;
	put_hdr(&p, F_QR, 1, 2, 0, 0);
	put_question(&p, "mx.example", MXS_DNS_T_AAAA);
	put_ptr(&p, 12);
	at = rr_begin(&p, MXS_DNS_T_AAAA, 5);
	put_bytes(&p, six, 16);
	rr_end(&p, at);
	put_name(&p, "example");
	at = rr_begin(&p, MXS_DNS_T_MX, 5);
	put16(&p, 0);
	put8(&p, 0); /* RFC 7505 null MX: "." */
	rr_end(&p, at);
	assert_int_equal(parse_pk(&p, &m), 0);
	assert_memory_equal(m.ans[0].addr, six, 16);
	assert_int_equal(m.ans[0].rdlen, 16);
	assert_string_equal(m.ans[1].target, "");
	assert_int_equal(m.ans[1].mx_pref, 0);
	mxs_dns_msg_free(&m);
}

static void
test_header_bits(void **state)
{
	struct mxs_dns_msg m;
	struct pk p;

	(void)state;
	put_hdr(&p, F_QR | F_RD | F_RA | F_AD | 3, 1, 0, 0, 0);
	put_question(&p, "nx.example", MXS_DNS_T_MX);
	assert_int_equal(parse_pk(&p, &m), 0);
	assert_int_equal(m.rcode, 3);
	assert_int_equal(m.ad, 1);
	assert_int_equal(m.tc, 0);
	assert_int_equal(m.nans, 0);
	assert_null(m.ans);
	put_hdr(&p, F_QR | F_TC | 2, 0, 0, 0, 0);
	assert_int_equal(parse_pk(&p, &m), 0);
	assert_int_equal(m.rcode, 2);
	assert_int_equal(m.ad, 0);
	assert_int_equal(m.tc, 1);
}

/* Escaped presentation form, and select on an escaped name. */
static void
test_escapes(void **state)
{
	static const unsigned char owner[] = {5, 'A', '.', 'b', ' ', 0xff, 3, 'c', '_', '*', 0};
	const struct mxs_rr *sel[1];
	struct mxs_dns_msg m;
	struct pk p;
	size_t at, n;

	(void)state;
	put_hdr(&p, F_QR, 0, 1, 0, 0);
	put_bytes(&p, owner, sizeof(owner));
	at = rr_begin(&p, MXS_DNS_T_A, 1);
	put_bytes(&p, a1, 4);
	rr_end(&p, at);
	assert_int_equal(parse_pk(&p, &m), 0);
	assert_string_equal(m.ans[0].owner, "a\\046b\\032\\255.c_*");
	assert_int_equal(mxs_dns_select(&m, "A\\.b\\ \\255.C_*.", MXS_DNS_T_A, sel, 1, &n, NULL, 0),
	                 0);
	assert_int_equal(n, 1);
	mxs_dns_msg_free(&m);
}

/* Every prefix of a valid packet is an error, never a crash. */
static void
check_all_truncations(const struct pk *p)
{
	for (size_t cut = 0; cut < p->n; cut++) {
		struct mxs_dns_msg m;
		char err[160] = "";
		int rc = parse_copy(p->b, cut, &m, err, sizeof(err));

		if (rc >= 0)
			fail_msg("prefix of %zu/%zu octets parsed", cut, p->n);
		assert_true(rc == MXS_ETRUNC || rc == MXS_ESYNTAX || rc == MXS_EINVAL);
		assert_null(m.ans);
		assert_int_equal(m.nans, 0);
	}
}

static void
test_truncation(void **state)
{
	struct mxs_dns_msg m;
	struct pk p;

	(void)state;
	build_mx(&p, 0, 0);
	check_all_truncations(&p);
	build_chain(&p);
	check_all_truncations(&p);
	/* Authority and additional sections are walked too. */
	build_mx(&p, 1, 1);
	put_ptr(&p, 12);
	put16(&p, 2); /* NS */
	put16(&p, 1);
	put32(&p, 60);
	put16(&p, 2);
	put_ptr(&p, 12);
	put_a(&p, "mx1.example.com", a1);
	assert_int_equal(parse_pk(&p, &m), 0);
	assert_int_equal(m.nans, 2);
	mxs_dns_msg_free(&m);
	check_all_truncations(&p);
	assert_int_equal(parse_copy(p.b, 0, &m, NULL, 0), MXS_ETRUNC);
	assert_int_equal(mxs_dns_parse(NULL, 0, &m, NULL, 0), MXS_EINVAL);
}

/* Single-octet corruptions of valid packets: parse, select and free must
 * survive every one (ASan checks the reads). */
static void
mutate_all(const struct pk *orig)
{
	static const unsigned char vals[] = {0x00, 0x01, 0x3f, 0x40, 0x80, 0xc0, 0xc1, 0xff};
	const struct mxs_rr *sel[8];
	size_t n;

	for (size_t off = 0; off < orig->n; off++) {
		for (size_t v = 0; v < sizeof(vals) + 1; v++) {
			struct pk p = *orig;
			struct mxs_dns_msg m;
			unsigned char *copy = malloc(p.n);

			p.b[off] = v < sizeof(vals) ? vals[v] : (unsigned char)~p.b[off];
			assert_non_null(copy);
			memcpy(copy, p.b, p.n);
			if (mxs_dns_parse(copy, p.n, &m, NULL, 0) == 0) {
				for (size_t i = 0; i < m.nans; i++)
					(void)!mxs_dns_select(&m, m.ans[i].owner, m.ans[i].type,
					                      sel, 8, &n, NULL, 0);
				mxs_dns_msg_free(&m);
			}
			free(copy);
		}
	}
}

static void
test_mutations(void **state)
{
	struct pk p;

	(void)state;
	build_mx(&p, 0, 0);
	mutate_all(&p);
	build_chain(&p);
	mutate_all(&p);
}

struct bad_case {
	const char *name;
	void (*build)(struct pk *);
	int rc;
};

static void
b_self_pointer(struct pk *p)
{
	put_hdr(p, F_QR, 1, 0, 0, 0);
	put_ptr(p, 12);
	put32(p, 0x000f0001);
}

static void
b_loop_behind(struct pk *p)
{
	/* "a" then a pointer back to the start of the same name: the pointer
	 * is behind itself, yet would loop for ever. */
	put_hdr(p, F_QR, 1, 0, 0, 0);
	put_labels(p, "a");
	put_ptr(p, 12);
	put32(p, 0x000f0001);
}

static void
b_two_name_loop(struct pk *p)
{
	/* Question "a" + ptr -> 16 (forward); at 16 "b" + ptr -> 12. */
	put_hdr(p, F_QR, 1, 0, 0, 0);
	put_labels(p, "a");
	put_ptr(p, 16);
	put_labels(p, "b");
	put_ptr(p, 12);
	put32(p, 0x000f0001);
}

static void
b_forward_owner(struct pk *p)
{
	size_t at;

	put_hdr(p, F_QR, 1, 1, 0, 0);
	put_question(p, "example.com", MXS_DNS_T_A);
	put_ptr(p, p->n + 16);
	at = rr_begin(p, MXS_DNS_T_A, 1);
	put_bytes(p, a1, 4);
	rr_end(p, at);
	put_name(p, "example.com");
}

static void
b_forward_target(struct pk *p)
{
	size_t at;

	put_hdr(p, F_QR, 1, 1, 0, 0);
	put_question(p, "example.com", MXS_DNS_T_MX);
	put_ptr(p, 12);
	at = rr_begin(p, MXS_DNS_T_MX, 1);
	put16(p, 10);
	put_ptr(p, p->n + 2);
	rr_end(p, at);
	put_name(p, "mx.example.com");
}

static void
b_label_64(struct pk *p)
{
	put_hdr(p, F_QR, 1, 0, 0, 0);
	put8(p, 64);
	for (int i = 0; i < 64; i++)
		put8(p, 'a');
	put8(p, 0);
	put32(p, 0x000f0001);
}

static void
b_label_type_80(struct pk *p)
{
	put_hdr(p, F_QR, 1, 0, 0, 0);
	put8(p, 0x80);
	put8(p, 0);
	put32(p, 0x000f0001);
}

/* Owner of 4 x 63-octet labels: 257 octets on the wire. */
static void
b_name_257(struct pk *p)
{
	put_hdr(p, F_QR, 1, 0, 0, 0);
	for (int l = 0; l < 4; l++) {
		put8(p, 63);
		for (int i = 0; i < 63; i++)
			put8(p, 'a' + l);
	}
	put8(p, 0);
	put32(p, 0x000f0001);
}

/* A legal 255-octet question name, then "a" + pointer to it: 257. */
static void
b_name_257_compressed(struct pk *p)
{
	size_t at;

	put_hdr(p, F_QR, 1, 1, 0, 0);
	for (int l = 0; l < 4; l++) {
		put8(p, l < 3 ? 63 : 61);
		for (int i = 0; i < (l < 3 ? 63 : 61); i++)
			put8(p, 'a' + l);
	}
	put8(p, 0);
	put32(p, 0x00010001);
	put_labels(p, "a");
	put_ptr(p, 12);
	at = rr_begin(p, MXS_DNS_T_A, 1);
	put_bytes(p, a1, 4);
	rr_end(p, at);
}

static void
b_too_many_answers(struct pk *p)
{
	put_hdr(p, F_QR, 0, MXS_DNS_RR_MAX + 1, 0, 0);
}

static void
b_rdlen_past_end(struct pk *p)
{
	size_t at;

	put_hdr(p, F_QR, 0, 1, 0, 0);
	put_name(p, "example.com");
	at = rr_begin(p, MXS_DNS_T_A, 1);
	put_bytes(p, a1, 4);
	rr_end(p, at);
	p->b[at + 1] = 5;
}

static void
b_a_rdlen_5(struct pk *p)
{
	size_t at;

	put_hdr(p, F_QR, 0, 1, 0, 0);
	put_name(p, "example.com");
	at = rr_begin(p, MXS_DNS_T_A, 1);
	put_bytes(p, a1, 4);
	put8(p, 9);
	rr_end(p, at);
}

static void
b_aaaa_rdlen_4(struct pk *p)
{
	size_t at;

	put_hdr(p, F_QR, 0, 1, 0, 0);
	put_name(p, "example.com");
	at = rr_begin(p, MXS_DNS_T_AAAA, 1);
	put_bytes(p, a1, 4);
	rr_end(p, at);
}

static void
b_mx_rdlen_1(struct pk *p)
{
	size_t at;

	put_hdr(p, F_QR, 0, 1, 0, 0);
	put_name(p, "example.com");
	at = rr_begin(p, MXS_DNS_T_MX, 1);
	put8(p, 0);
	rr_end(p, at);
	put8(p, 0); /* bytes after the packet's RR, so only RDLENGTH stops it */
	put8(p, 0);
}

static void
b_mx_extra_rdata(struct pk *p)
{
	size_t at;

	put_hdr(p, F_QR, 0, 1, 0, 0);
	put_name(p, "example.com");
	at = rr_begin(p, MXS_DNS_T_MX, 1);
	put16(p, 10);
	put_name(p, "mx.example.com");
	put8(p, 0);
	rr_end(p, at);
}

static void
b_cname_past_rdata(struct pk *p)
{
	size_t at;

	/* RDLENGTH covers only part of the name; the rest follows. */
	put_hdr(p, F_QR, 0, 1, 0, 0);
	put_name(p, "example.com");
	at = rr_begin(p, MXS_DNS_T_CNAME, 1);
	put_name(p, "x");
	rr_end(p, at);
	p->b[at + 1] = 1;
}

/* Answer 1 (type 99) holds nptrs pointers, each to the one before, the
 * first to the root name at 12; answer 2's owner points at the last. */
static void
put_pointer_chain(struct pk *p, int nptrs)
{
	size_t at, base;

	put_hdr(p, F_QR, 1, 2, 0, 0);
	put_question(p, "", 1);
	put_name(p, "example");
	at = rr_begin(p, 99, 1);
	base = p->n;
	put_ptr(p, 12);
	for (int i = 1; i < nptrs; i++)
		put_ptr(p, base + 2 * (size_t)(i - 1));
	rr_end(p, at);
	put_ptr(p, p->n - 2);
	at = rr_begin(p, MXS_DNS_T_A, 1);
	put_bytes(p, a1, 4);
	rr_end(p, at);
}

static void
b_pointer_chain(struct pk *p)
{
	put_pointer_chain(p, 300);
}

static void
b_packet_too_big(struct pk *p)
{
	put_hdr(p, F_QR, 0, 0, 0, 0);
}

static const struct bad_case bad_cases[] = {
        {"pointer to itself", b_self_pointer, MXS_ESYNTAX},
        {"pointer back to own name", b_loop_behind, MXS_ESYNTAX},
        {"two-name pointer loop", b_two_name_loop, MXS_ESYNTAX},
        {"forward pointer in owner", b_forward_owner, MXS_ESYNTAX},
        {"forward pointer in MX target", b_forward_target, MXS_ESYNTAX},
        {"label of 64 octets", b_label_64, MXS_ESYNTAX},
        {"label type 0x80", b_label_type_80, MXS_ESYNTAX},
        {"name of 257 octets", b_name_257, MXS_ESYNTAX},
        {"compressed name of 257 octets", b_name_257_compressed, MXS_ESYNTAX},
        {"too many answers", b_too_many_answers, MXS_ELIMIT},
        {"rdlength past the end", b_rdlen_past_end, MXS_ETRUNC},
        {"A with rdlength 5", b_a_rdlen_5, MXS_ESYNTAX},
        {"AAAA with rdlength 4", b_aaaa_rdlen_4, MXS_ESYNTAX},
        {"MX with rdlength 1", b_mx_rdlen_1, MXS_ETRUNC},
        {"MX rdata longer than name", b_mx_extra_rdata, MXS_ESYNTAX},
        {"CNAME name past rdata", b_cname_past_rdata, MXS_ETRUNC},
        {"300 pointer hops", b_pointer_chain, MXS_ESYNTAX},
};

static void
test_bad_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct mxs_dns_msg m;
		char err[160] = "";
		struct pk p;
		int rc;

		bad_cases[i].build(&p);
		rc = parse_copy(p.b, p.n, &m, err, sizeof(err));
		print_message("%-32s rc=%d %s\n", bad_cases[i].name, rc, err);
		assert_int_equal(rc, bad_cases[i].rc);
		assert_true(err[0] != '\0');
		assert_null(m.ans);
		assert_int_equal(m.nans, 0);
	}
}

static void
test_limits_ok(void **state)
{
	struct mxs_dns_msg m;
	unsigned char *big;
	struct pk p;
	size_t at;

	(void)state;
	/* Exactly MXS_DNS_RR_MAX answers. */
	put_hdr(&p, F_QR, 1, MXS_DNS_RR_MAX, 0, 0);
	put_question(&p, "example.com", MXS_DNS_T_A);
	for (int i = 0; i < MXS_DNS_RR_MAX; i++) {
		put_ptr(&p, 12);
		at = rr_begin(&p, MXS_DNS_T_A, 1);
		put_bytes(&p, a1, 4);
		rr_end(&p, at);
	}
	assert_int_equal(parse_pk(&p, &m), 0);
	assert_int_equal(m.nans, MXS_DNS_RR_MAX);
	mxs_dns_msg_free(&m);

	/* A 255-octet name, and a short pointer chain, are fine. */
	b_name_257_compressed(&p);
	p.b[7] = 0; /* no answers: only the 255-octet question */
	assert_int_equal(parse_pk(&p, &m), 0);
	put_pointer_chain(&p, 5);
	assert_int_equal(parse_pk(&p, &m), 0);
	assert_string_equal(m.ans[1].owner, "");
	mxs_dns_msg_free(&m);

	/* A message can never exceed MXS_DNS_PACKET_MAX. */
	b_packet_too_big(&p);
	big = calloc(1, MXS_DNS_PACKET_MAX + 1);
	assert_non_null(big);
	memcpy(big, p.b, p.n);
	assert_int_equal(mxs_dns_parse(big, MXS_DNS_PACKET_MAX + 1, &m, NULL, 0), MXS_ELIMIT);
	assert_int_equal(mxs_dns_parse(big, MXS_DNS_PACKET_MAX, &m, NULL, 0), 0);
	free(big);
}

/* select: chain of exactly MXS_DNS_CNAME_MAX hops, one more, and a loop. */
static void
build_cnames(struct pk *p, int hops, int loop)
{
	char from[32], to[32];

	put_hdr(p, F_QR, 0, (unsigned)hops + 1, 0, 0);
	for (int i = 0; i < hops; i++) {
		snprintf(from, sizeof(from), "c%d.example", i);
		snprintf(to, sizeof(to), "c%d.example", loop && i == hops - 1 ? 0 : i + 1);
		put_cname(p, from, to);
	}
	snprintf(to, sizeof(to), "c%d.example", hops);
	put_a(p, to, a1);
}

static void
test_select_cnames(void **state)
{
	const struct mxs_rr *sel[2];
	struct mxs_dns_msg m;
	char final[MXS_DNS_TEXT_MAX];
	struct pk p;
	size_t n;

	(void)state;
	build_cnames(&p, MXS_DNS_CNAME_MAX, 0);
	assert_int_equal(parse_pk(&p, &m), 0);
	assert_int_equal(
	        mxs_dns_select(&m, "c0.example", MXS_DNS_T_A, sel, 2, &n, final, sizeof(final)), 0);
	assert_int_equal(n, 1);
	mxs_dns_msg_free(&m);

	build_cnames(&p, MXS_DNS_CNAME_MAX + 1, 0);
	assert_int_equal(parse_pk(&p, &m), 0);
	assert_int_equal(
	        mxs_dns_select(&m, "c0.example", MXS_DNS_T_A, sel, 2, &n, final, sizeof(final)),
	        MXS_ELIMIT);
	assert_int_equal(n, 0);
	mxs_dns_msg_free(&m);

	build_cnames(&p, 2, 1); /* c0 -> c1 -> c0 */
	assert_int_equal(parse_pk(&p, &m), 0);
	assert_int_equal(
	        mxs_dns_select(&m, "c1.example", MXS_DNS_T_A, sel, 2, &n, final, sizeof(final)),
	        MXS_ELIMIT);
	mxs_dns_msg_free(&m);

	build_cnames(&p, 1, 1); /* c0 -> c0 */
	assert_int_equal(parse_pk(&p, &m), 0);
	assert_int_equal(
	        mxs_dns_select(&m, "c0.example", MXS_DNS_T_MX, sel, 2, &n, final, sizeof(final)),
	        MXS_ELIMIT);
	mxs_dns_msg_free(&m);
}

struct wire_case {
	const char *name;
	int rc;           /* wire length or error */
	const char *wire; /* expected octets when rc > 0 */
};

static const struct wire_case wire_cases[] = {
        {"example.com", 13, "\7example\3com"},
        {"example.com.", 13, "\7example\3com"},
        {"Mail.Example", 14, "\4Mail\7Example"},
        {"", 1, ""},
        {".", 1, ""},
        {"a\\.b.c", 7, "\3a.b\1c"},
        {"\\065\\000.x", 6, "\2A\0\1x"},
        {"a\\\\b", 5, "\3a\\b"},
        {"a..b", MXS_ESYNTAX, NULL},
        {".a", MXS_ESYNTAX, NULL},
        {"..", MXS_ESYNTAX, NULL},
        {"a\\256", MXS_ESYNTAX, NULL},
        {"a\\", MXS_ESYNTAX, NULL},
};

static void
test_name_to_wire(void **state)
{
	unsigned char w[MXS_DNS_NAME_MAX + 8];
	char name[600];
	size_t o = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(wire_cases) / sizeof(wire_cases[0]); i++) {
		const struct wire_case *c = &wire_cases[i];
		int rc = mxs_dns_name_to_wire(c->name, w, sizeof(w));

		print_message("to_wire \"%s\" -> %d\n", c->name, rc);
		assert_int_equal(rc, c->rc);
		if (rc > 0) {
			assert_memory_equal(w, c->wire, (size_t)rc - 1);
			assert_int_equal(w[rc - 1], 0);
		}
	}
	/* Labels: 63 octets fine, 64 not. */
	memset(name, 'a', 64);
	name[63] = '\0';
	assert_int_equal(mxs_dns_name_to_wire(name, w, sizeof(w)), 65);
	name[63] = 'a';
	name[64] = '\0';
	assert_int_equal(mxs_dns_name_to_wire(name, w, sizeof(w)), MXS_ESYNTAX);
	/* Names: 255 wire octets fine, 256 not. */
	for (int l = 0; l < 4; l++) {
		size_t len = l < 3 ? 63 : 61;

		memset(name + o, 'a' + l, len);
		o += len;
		name[o++] = '.';
	}
	name[o] = '\0';
	assert_int_equal(mxs_dns_name_to_wire(name, w, sizeof(w)), MXS_DNS_NAME_MAX);
	name[o - 1] = 'x';
	name[o] = '\0';
	assert_int_equal(mxs_dns_name_to_wire(name, w, sizeof(w)), MXS_ELIMIT);
	/* Buffer too small, and NULLs. */
	assert_int_equal(mxs_dns_name_to_wire("example.com", w, 12), MXS_EINVAL);
	assert_int_equal(mxs_dns_name_to_wire("example.com", w, 13), 13);
	assert_int_equal(mxs_dns_name_to_wire("", w, 0), MXS_EINVAL);
	assert_int_equal(mxs_dns_name_to_wire(NULL, w, sizeof(w)), MXS_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_mx),
	        cmocka_unit_test(test_cname_chain),
	        cmocka_unit_test(test_aaaa_and_null_mx),
	        cmocka_unit_test(test_header_bits),
	        cmocka_unit_test(test_escapes),
	        cmocka_unit_test(test_truncation),
	        cmocka_unit_test(test_mutations),
	        cmocka_unit_test(test_bad_table),
	        cmocka_unit_test(test_limits_ok),
	        cmocka_unit_test(test_select_cnames),
	        cmocka_unit_test(test_name_to_wire),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
