/*
 * test_mtasts_policy — unit tests for agent/mtasts_policy.c: the RFC 8461
 * §3.2 policy body, hostile bodies, the Content-Type check, MX coverage
 * (§4.1), and every vector of $MXS_SHARED_DATA/policy-vectors that concerns
 * them (see vectors_*() below and MANIFEST.md there).
 *
 * Inputs are copied into buffers of exactly their length, without a NUL,
 * so that AddressSanitizer catches any read past body + len.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "mtasts_policy.h"

#define HDR   "version: STSv1\nmode: enforce\nmax_age: 86400\n"
#define HDR_N "version: STSv1\nmode: none\nmax_age: 86400\n"

/* Parse len bytes (or strlen) from an exact-size, unterminated copy. */
static int
parse(const char *in, size_t len, struct mxs_sts_policy **pol, char *err, size_t errlen)
{
	char *buf = malloc(len > 0 ? len : 1);
	int rc;

	assert_non_null(buf);
	memcpy(buf, in, len);
	rc = mxs_sts_policy_parse(buf, len, pol, err, errlen);
	free(buf);
	return rc;
}

/* Every failure reason must start "line N: ". */
static void
assert_names_line(const char *err)
{
	size_t i = 5;

	if (strncmp(err, "line ", 5) != 0 || err[i] < '1' || err[i] > '9')
		fail_msg("reason does not name the line: \"%s\"", err);
	while (err[i] >= '0' && err[i] <= '9')
		i++;
	if (err[i] != ':' || err[i + 1] != ' ')
		fail_msg("reason does not name the line: \"%s\"", err);
}

/* ---- hand-written table ---- */

struct pcase {
	const char *name, *in;
	size_t len;      /* 0: strlen(in) */
	int rc;          /* expected return */
	const char *err; /* substring of the reason, when rc != 0 */
	enum mxs_sts_mode mode;
	uint32_t max_age;
	size_t nmx, dup, next;
};

#define OK(n, in, mode, age, nmx, dup, next)                                                       \
	{                                                                                          \
		n, in, 0, 0, NULL, mode, age, nmx, dup, next                                       \
	}
#define BAD(n, in, err)                                                                            \
	{                                                                                          \
		n, in, 0, MXS_ESYNTAX, err, 0, 0, 0, 0, 0                                          \
	}
#define E MXS_STS_MODE_ENFORCE
#define T MXS_STS_MODE_TESTING
#define N MXS_STS_MODE_NONE

static const struct pcase pcases[] = {
        OK("minimal", HDR "mx: mail.example.com", E, 86400, 1, 0, 0),
        OK("CRLF", "version: STSv1\r\nmode: testing\r\nmx: a.example\r\nmax_age: 1\r\n", T, 1, 1, 0,
           0),
        OK("mixed, no final term", "version:STSv1\r\nmode:\tnone\nmax_age:0", N, 0, 0, 0, 0),
        OK("trailing WSP", "version: STSv1 \t\nmode: none\t\nmax_age: 5  \n", N, 5, 0, 0, 0),
        OK("none keeps mx", HDR_N "mx: a.example.com\nmx: *.example.com\n", N, 86400, 2, 0, 0),
        OK("version twice", HDR "version: STSv1\nmx: a.example.com\n", E, 86400, 1, 1, 0),
        OK("version STSv2 after STSv1", HDR "version: STSv2\nmx: a.example.com\n", E, 86400, 1, 1,
           0),
        OK("mode twice: first wins",
           "version: STSv1\nmode: testing\nmode: enforce\nmax_age: 1\n"
           "mx: a.example.com\n",
           T, 1, 1, 1, 0),
        OK("dup max_age with junk ignored", HDR_N "max_age: x y\nmax_age: -1\n", N, 86400, 0, 2, 0),
        OK("Mode: is an extension", HDR_N "Mode: enforce\nMX: *\n", N, 86400, 0, 0, 2),
        OK("max_age at maximum", "version: STSv1\nmode: none\nmax_age: 31557600\n", N, 31557600, 0,
           0, 0),
        OK("max_age 10 digits", "version: STSv1\nmode: none\nmax_age: 0000000042\n", N, 42, 0, 0,
           0),
        OK("mx upper case kept", HDR "mx: MAIL.Example.COM  \n", E, 86400, 1, 0, 0),
        OK("mx A-label", HDR "mx: *.xn--bcher-kva.example\n", E, 86400, 1, 0, 0),
        OK("ext with colon", HDR_N "x-a: b:c;d=e\n", N, 86400, 0, 0, 1),
        OK("ext UTF-8", HDR_N "comment: caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x9a\x80 \xe4\xb8\xad\n",
           N, 86400, 0, 0, 1),
        OK("ext dup", HDR_N "x: 1\nx: 2\ny: 3\n", N, 86400, 0, 1, 2),
        OK("name of 32", HDR_N "a2345678901234567890123456789012: v\n", N, 86400, 0, 0, 1),
        OK("name with _-.", HDR_N "0a_b-c.d: v\n", N, 86400, 0, 0, 1),
        BAD("empty body", "", "line 1: empty policy body"),
        BAD("version STSv2", "version: STSv2\nmode: none\nmax_age: 1\n",
            "line 1: version \"STSv2\" is not STSv1"),
        BAD("version lower case", "version: stsv1\nmode: none\nmax_age: 1\n", "line 1: version"),
        BAD("mode Enforce", "version: STSv1\nmode: Enforce\nmax_age: 1\n", "line 2: mode"),
        BAD("mode missing", "version: STSv1\nmax_age: 1\n",
            "line 2: end of policy without the "
            "required mode field"),
        BAD("version missing", "mode: none\nmax_age: 1", "required version field"),
        BAD("max_age missing", "version: STSv1\nmode: none",
            "line 2: end of policy without the "
            "required max_age"),
        BAD("enforce without mx", HDR, "line 3: end of policy without an mx field"),
        BAD("testing without mx", "version: STSv1\nmode: testing\nmax_age: 1\nMX: a.example.com",
            "without an mx field (required with mode testing)"),
        BAD("max_age over", "version: STSv1\nmode: none\nmax_age: 31557601\n",
            "line 3: max_age 31557601 exceeds the maximum 31557600"),
        BAD("max_age 11 digits", "version: STSv1\nmode: none\nmax_age: 99999999999\n",
            "line 3: max_age \"99999999999\" has more than 10 digits"),
        BAD("max_age 10 nines", "version: STSv1\nmode: none\nmax_age: 9999999999\n",
            "max_age 9999999999 exceeds the maximum 31557600"),
        BAD("max_age -1", "version: STSv1\nmode: none\nmax_age: -1\n", "line 3: max_age \"-1\" is"),
        BAD("max_age 1e3", "version: STSv1\nmode: none\nmax_age: 1e3\n", "max_age \"1e3\" is not"),
        BAD("max_age +5", "version: STSv1\nmode: none\nmax_age: +5\n", "max_age \"+5\""),
        BAD("max_age 1 000", "version: STSv1\nmode: none\nmax_age: 1 000\n", "max_age \"1 000\""),
        BAD("max_age empty", "version: STSv1\nmode: none\nmax_age:\n",
            "line 3: field \"max_age\" has no value"),
        BAD("max_age blank", "version: STSv1\nmode: none\nmax_age: \t \n", "has no value"),
        BAD("mx IPv4", HDR "mx: 192.0.2.1\n", "line 4: mx pattern \"192.0.2.1\" is an IP address"),
        BAD("mx [IPv4]", HDR "mx: [192.0.2.1]\n", "\"[192.0.2.1]\" is an IP address literal"),
        BAD("mx [IPv6:]", HDR "mx: [IPv6:2001:db8::1]\n", "is an IP address literal"),
        BAD("mx IPv6", HDR "mx: 2001:db8::1\n", "is an IP address literal"),
        BAD("mx *.IPv4", HDR "mx: *.1.2.3.4\n", "is an IP address literal"),
        BAD("mx trailing dot", HDR "mx: mail.example.com.\n", "ends in a dot"),
        BAD("mx *.*", HDR "mx: *.*.example.com\n", "wildcard other than"),
        BAD("mx m*", HDR "mx: m*.example.com\n", "wildcard other than"),
        BAD("mx *", HDR "mx: *\n", "line 4: mx pattern \"*\" has a wildcard"),
        BAD("mx *.", HDR "mx: *.\n", "wildcard"),
        BAD("mx **", HDR "mx: **.example.com\n", "wildcard"),
        BAD("mx inner *", HDR "mx: mail.*.com\n", "wildcard"),
        BAD("mx *.com", HDR "mx: *.com\n", "is not a host name"),
        BAD("mx one label", HDR "mx: localhost\n", "is not a host name"),
        BAD("mx hyphen", HDR "mx: -mail.example.com\n", "is not a host name"),
        BAD("mx empty label", HDR "mx: mail..example.com\n", "is not a host name"),
        BAD("mx leading dot", HDR "mx: .example.com\n", "is not a host name"),
        BAD("mx inner space", HDR "mx: mail.example.com extra\n", "is not a host name"),
        BAD("mx underscore", HDR "mx: mail_1.example.com\n", "is not a host name"),
        BAD("mx label 64",
            HDR "mx: a234567890123456789012345678901234567890123456789012345678901234"
                ".example.com\n",
            "is not a host name"),
        BAD("mx U-label",
            HDR "mx: b\xc3\xbc"
                "cher.example\n",
            "line 4: mx pattern \"b\\xc3\\xbccher.example\" is not ASCII"),
        BAD("mx empty", HDR "mx:\n", "line 4: field \"mx\" has no value"),
        BAD("blank first", "\nversion: STSv1\nmode: none\nmax_age: 1\n", "line 1: blank line"),
        BAD("blank middle", "version: STSv1\n\nmode: none\nmax_age: 1\n", "line 2: blank line"),
        BAD("blank CRLF", "version: STSv1\r\n\r\nmode: none\r\nmax_age: 1\r\n", "line 2: blank"),
        BAD("trailing blank", HDR_N "\n", "line 4: blank line"),
        BAD("spaces only", HDR_N "   \n", "line 4: text"),
        BAD("bare CR separator", "version: STSv1\rmode: none\nmax_age: 1\n",
            "line 1: bare CR at column 15"),
        BAD("bare CR at end", HDR_N "x: y\r", "line 4: bare CR"),
        BAD("CR CR LF", HDR_N "x: y\r\r\n", "line 4: bare CR at column 5"),
        BAD("UTF-8 BOM", "\xef\xbb\xbfversion: STSv1\nmode: none\nmax_age: 1\n",
            "line 1: text \"\\xef\\xbb\\xbfversion: STSv1\" does not start"),
        BAD("HTML", "<!DOCTYPE html>\n<html>\n", "line 1: text \"<!DOCTYPE html>\""),
        BAD("leading space", HDR_N " x: y\n", "does not start with a field name"),
        BAD("space before colon", "version: STSv1\nmode : none\nmax_age: 1\n", "line 2: text"),
        BAD("no colon", "version: STSv1\nmode none\nmax_age: 1\n", "is not name \":\" value"),
        BAD("empty name", HDR_N ": 8600\n", "line 4: text \": 8600\" does not start"),
        BAD("name _", HDR_N "_x: y\n", "does not start"),
        BAD("name 33", HDR_N "a23456789012345678901234567890123: v\n", "longer than 32"),
        BAD("name UTF-8", HDR_N "caf\xc3\xa9: v\n", "line 4: text \"caf\\xc3\\xa9: v\""),
        BAD("ext empty", HDR_N "x:\n", "line 4: field \"x\" has no value"),
        BAD("ext TAB inside", HDR_N "x: a\tb\n", "control byte 0x09 in the value of \"x\""),
        BAD("ext DEL",
            HDR_N "x: a\x7f"
                  "b\n",
            "control byte 0x7f"),
        BAD("ext ESC", HDR_N "x: \x1b[31m\n", "control byte 0x1b"),
        BAD("UTF-8 overlong", HDR_N "x: \xc0\xaf\n", "invalid UTF-8 byte 0xc0"),
        BAD("UTF-8 surrogate", HDR_N "x: \xed\xa0\x80\n", "invalid UTF-8 byte 0xed"),
        BAD("UTF-8 F5", HDR_N "x: \xf5\x80\x80\x80\n", "invalid UTF-8 byte 0xf5"),
        BAD("UTF-8 > U+10FFFF", HDR_N "x: \xf4\x90\x80\x80\n", "invalid UTF-8"),
        BAD("UTF-8 cut", HDR_N "x: a\xe2\x82\n", "invalid UTF-8 byte 0xe2"),
        BAD("UTF-8 cut at end", HDR_N "x: a\xe2\x82", "invalid UTF-8 byte 0xe2"),
        BAD("UTF-8 lone tail", HDR_N "x: \x80\n", "invalid UTF-8 byte 0x80"),
        BAD("Latin-1", HDR_N "x: caf\xe9\n", "invalid UTF-8"),
        {"NUL in value", HDR_N "x: a\0b\n", sizeof(HDR_N "x: a\0b\n") - 1, MXS_ESYNTAX,
         "line 4: control byte 0x00", 0, 0, 0, 0, 0},
        {"NUL in name", HDR_N "x\0: b\n", sizeof(HDR_N "x\0: b\n") - 1, MXS_ESYNTAX,
         "line 4: text \"x\\x00: b\"", 0, 0, 0, 0, 0},
        {"NUL first", "\0", 1, MXS_ESYNTAX, "line 1: text \"\\x00\"", 0, 0, 0, 0, 0},
};

static void
test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const struct pcase *c = &pcases[i];
		struct mxs_sts_policy *pol = (void *)1;
		char err[256] = "unset";
		size_t len = c->len ? c->len : strlen(c->in);
		int rc = parse(c->in, len, &pol, err, sizeof(err));

		print_message("%-28s rc %d %s\n", c->name, rc, err);
		assert_int_equal(rc, c->rc);
		if (rc != 0) {
			assert_null(pol);
			assert_names_line(err);
			if (strstr(err, c->err) == NULL)
				fail_msg("%s: \"%s\" lacks \"%s\"", c->name, err, c->err);
			continue;
		}
		assert_non_null(pol);
		assert_int_equal(pol->mode, c->mode);
		assert_int_equal(pol->max_age, c->max_age);
		assert_int_equal(pol->nmx, c->nmx);
		assert_int_equal(pol->dup_ignored, c->dup);
		assert_int_equal(pol->next, c->next);
		mxs_sts_policy_free(&pol);
		assert_null(pol);
	}
}

/* Values are kept as sent, trimmed; extensions first-wins. */
static void
test_parse_values(void **state)
{
	static const char in[] = "version: STSv1\r\nmode: enforce\nmx:  \t MAIL.example.com \t\n"
	                         "x-a:  v  w \t\nmx: *.example.com\nx-a: second\nmax_age: 7";
	struct mxs_sts_policy *pol = NULL;
	char err[256];

	(void)state;
	assert_int_equal(parse(in, sizeof(in) - 1, &pol, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(pol->nmx, 2);
	assert_string_equal(pol->mx[0], "MAIL.example.com");
	assert_string_equal(pol->mx[1], "*.example.com");
	assert_int_equal(pol->next, 1);
	assert_string_equal(pol->ext[0].name, "x-a");
	assert_string_equal(pol->ext[0].value, "v  w");
	assert_int_equal(pol->dup_ignored, 1);
	assert_int_equal(pol->lines, 7);
	assert_string_equal(mxs_sts_mode_name(pol->mode), "enforce");
	mxs_sts_policy_free(&pol);
	mxs_sts_policy_free(&pol); /* NULL is fine */
	mxs_sts_policy_free(NULL);
	assert_string_equal(mxs_sts_mode_name((enum mxs_sts_mode)0), "?");
	assert_int_equal(mxs_sts_policy_parse(NULL, 0, &pol, err, sizeof(err)), MXS_EINVAL);
	assert_int_equal(mxs_sts_policy_parse(in, 3, NULL, NULL, 0), MXS_EINVAL);
}

/* ---- hostile bodies, generated ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static void
put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void
fill(struct buf *b, char c, size_t n)
{
	while (n-- > 0)
		put(b, &c, 1);
}

/* Parse b, expect rc and (on failure) the reason to contain want. */
static struct mxs_sts_policy *
expect(const struct buf *b, int rc, const char *want)
{
	struct mxs_sts_policy *pol = NULL;
	char err[256] = "";
	int got = parse(b->p, b->len, &pol, err, sizeof(err));

	print_message("%zu bytes: rc %d %s\n", b->len, got, err);
	assert_int_equal(got, rc);
	if (rc != 0) {
		assert_names_line(err);
		if (strstr(err, want) == NULL)
			fail_msg("\"%s\" lacks \"%s\"", err, want);
	}
	return pol;
}

static void
test_hostile_size(void **state)
{
	struct buf b = {0};
	struct mxs_sts_policy *pol;
	char line[64];

	(void)state;
	/* 64 KiB of mx lines: past the pattern cap, a named limit. */
	puts_(&b, HDR);
	for (unsigned i = 0; b.len + 32 < MXS_STS_POLICY_MAX; i++) {
		int n = snprintf(line, sizeof(line), "mx: mx%05u.example.com\n", i);

		put(&b, line, (size_t)n);
	}
	expect(&b, MXS_ELIMIT, "line 260: more than 256 mx patterns");
	/* exactly MXS_STS_MX_MAX is fine */
	b.len = 0;
	puts_(&b, HDR);
	for (unsigned i = 0; i < MXS_STS_MX_MAX; i++) {
		int n = snprintf(line, sizeof(line), "mx: mx%05u.example.com\n", i);

		put(&b, line, (size_t)n);
	}
	pol = expect(&b, 0, NULL);
	assert_int_equal(pol->nmx, MXS_STS_MX_MAX);
	assert_string_equal(pol->mx[255], "mx00255.example.com");
	mxs_sts_policy_free(&pol);
	/* one line filling the body to exactly 64 KiB: a valid extension */
	b.len = 0;
	puts_(&b, HDR_N "x-pad: ");
	fill(&b, 'a', MXS_STS_POLICY_MAX - b.len);
	pol = expect(&b, 0, NULL);
	assert_int_equal(strlen(pol->ext[0].value), MXS_STS_POLICY_MAX - strlen(HDR_N "x-pad: "));
	mxs_sts_policy_free(&pol);
	/* one byte more */
	fill(&b, 'a', 1);
	expect(&b, MXS_ELIMIT, "line 4: policy body exceeds the maximum 65536 bytes");
	/* a 64 KiB line without a colon, and a 64 KiB mx name */
	b.len = 0;
	fill(&b, 'a', MXS_STS_POLICY_MAX);
	expect(&b, MXS_ESYNTAX, "line 1: field name \"aaaa");
	b.len = 0;
	puts_(&b, HDR "mx: ");
	fill(&b, 'a', MXS_STS_POLICY_MAX - 20 - b.len);
	puts_(&b, ".example.com\n");
	expect(&b, MXS_ESYNTAX, "line 4: mx pattern \"aaa");
	/* 100,000 empty lines: over the limit; within it, the first blank */
	b.len = 0;
	fill(&b, '\n', 100000);
	expect(&b, MXS_ELIMIT, "line 65537: policy body exceeds");
	b.len = 0;
	puts_(&b, "version: STSv1\n");
	fill(&b, '\n', MXS_STS_POLICY_MAX - b.len);
	expect(&b, MXS_ESYNTAX, "line 2: blank line");
	/* 64 KiB of NUL, of CR, of CRLF */
	b.len = 0;
	fill(&b, '\0', MXS_STS_POLICY_MAX);
	expect(&b, MXS_ESYNTAX, "line 1:");
	b.len = 0;
	fill(&b, '\r', MXS_STS_POLICY_MAX);
	expect(&b, MXS_ESYNTAX, "line 1: bare CR at column 1");
	b.len = 0;
	for (size_t i = 0; i < MXS_STS_POLICY_MAX / 2; i++)
		puts_(&b, "\r\n");
	expect(&b, MXS_ESYNTAX, "line 1: blank line");
	free(b.p);
}

/* More than MXS_STS_EXT_MAX extensions: kept up to the cap, rest counted. */
static void
test_ext_cap(void **state)
{
	struct buf b = {0};
	struct mxs_sts_policy *pol;
	char line[64];

	(void)state;
	puts_(&b, HDR_N);
	for (unsigned i = 0; i < MXS_STS_EXT_MAX + 5; i++) {
		int n = snprintf(line, sizeof(line), "x%u: v%u\n", i, i);

		put(&b, line, (size_t)n);
	}
	puts_(&b, "x0: again\n");
	pol = expect(&b, 0, NULL);
	assert_int_equal(pol->next, MXS_STS_EXT_MAX);
	assert_int_equal(pol->ext_dropped, 5);
	assert_int_equal(pol->dup_ignored, 1);
	assert_string_equal(pol->ext[MXS_STS_EXT_MAX - 1].value, "v31");
	mxs_sts_policy_free(&pol);
	free(b.p);
}

/* Random bodies from policy-shaped pieces: no crash, a valid verdict. */
static void
test_random_bodies(void **state)
{
	static const char *piece[] = {
	        "version",   "mode", "max_age", "mx",       "x",       ":",       " ",     "\t",
	        "\n",        "\r\n", "\r",      "STSv1",    "enforce", "none",    "86400", "*.",
	        "a.example", ".",    "\0",      "\xc3\xa9", "\xff",    "31557601"};
	struct buf b = {0};
	uint32_t seed = 12345;
	size_t valid = 0;

	(void)state;
	for (int iter = 0; iter < 20000; iter++) {
		struct mxs_sts_policy *pol = NULL;
		char err[256] = "";
		int rc, n;

		b.len = 0;
		if (iter % 2 == 0)
			puts_(&b, HDR_N);
		seed = seed * 1103515245u + 12345u;
		n = (int)(seed >> 16) % 40;
		for (int k = 0; k < n; k++) {
			size_t j;

			seed = seed * 1103515245u + 12345u;
			j = (seed >> 16) % (sizeof(piece) / sizeof(piece[0]));
			put(&b, piece[j], j == 18 ? 1 : strlen(piece[j]));
		}
		rc = parse(b.p, b.len, &pol, err, sizeof(err));
		if (rc == 0) {
			valid++;
			mxs_sts_policy_free(&pol);
			continue;
		}
		assert_null(pol);
		assert_true(rc == MXS_ESYNTAX || rc == MXS_ELIMIT);
		assert_names_line(err);
	}
	print_message("random bodies: 20000, %zu valid\n", valid);
	free(b.p);
}

/* ---- Content-Type ---- */

struct mcase {
	const char *in;
	int ok;
};

static const struct mcase mcases[] = {
        {"text/plain", 1},
        {" \ttext/plain \t", 1},
        {"Text/Plain;charset=us-ascii", 1},
        {"text/plain;", 1},
        {"text/plain;;charset=utf-8;", 1},
        {"text/plain; charset=\"utf-8\"", 1},
        {"text/plain; x=\"a\\\"b;c\"; y=z", 1},
        {"text/plain; charset=latin1", 1},
        {NULL, 0},
        {"", 0},
        {"   ", 0},
        {"text/html", 0},
        {"text/plain+", 0},
        {"text/plainx", 0},
        {"text/*", 0},
        {"*/*", 0},
        {"text", 0},
        {"text/", 0},
        {"/plain", 0},
        {"text /plain", 0},
        {"text/ plain", 0},
        {"text/plain charset=utf-8", 0},
        {"text/plain; charset", 0},
        {"text/plain; =utf-8", 0},
        {"text/plain; charset=", 0},
        {"text/plain; charset=\"utf-8", 0},
        {"text/plain; charset=\"a\\", 0},
        {"text/plain; charset=\"a\x01\"", 0},
        {"text/plain\r\n", 0},
        {"text/plain, text/html", 0},
        {"text/plain\xc3\xa9", 0},
        {"application/octet-stream", 0},
        {"application/json", 0},
};

static void
test_media_table(void **state)
{
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++) {
		int rc = mxs_sts_media_type_check(mcases[i].in, err, sizeof(err));

		print_message("\"%s\" -> %d %s\n", mcases[i].in ? mcases[i].in : "(absent)", rc,
		              err);
		assert_int_equal(rc, mcases[i].ok ? 0 : MXS_ESYNTAX);
		assert_true(mcases[i].ok ? err[0] == '\0' : err[0] != '\0');
	}
	/* 16 KiB of garbage: bounded reason */
	{
		char *big = malloc(16385);

		assert_non_null(big);
		memset(big, 'x', 16384);
		big[16384] = '\0';
		assert_int_equal(mxs_sts_media_type_check(big, err, sizeof(err)), MXS_ESYNTAX);
		assert_non_null(strstr(err, "..."));
		free(big);
	}
}

/* ---- coverage ---- */

static void
test_coverage(void **state)
{
	static const char in[] = HDR "mx: mail.example.com\nmx: *.example.com\n"
	                             "mx: backup.example.net\nmx: MAIL.EXAMPLE.COM\n";
	const char *hosts[] = {"mail.example.com",
	                       "mx2.example.com",
	                       "a.b.example.com",
	                       "example.com",
	                       "MX3.Example.Com.",
	                       "b\xc3\xbc.example.com",
	                       "other"};
	const char *many[MXS_MX_MAX + 1];
	struct mxs_sts_policy *pol = NULL, *none = NULL;
	struct mxs_sts_coverage cov;
	char err[256];

	(void)state;
	assert_int_equal(parse(in, sizeof(in) - 1, &pol, err, sizeof(err)), 0);
	assert_int_equal(mxs_sts_coverage(pol, hosts, 7, &cov), 0);
	assert_int_equal(cov.nhosts, 7);
	assert_int_equal(cov.host_pattern[0], 0); /* first match wins */
	assert_int_equal(cov.host_pattern[1], 1);
	assert_int_equal(cov.host_pattern[2], -1); /* one label only */
	assert_int_equal(cov.host_pattern[3], -1); /* not the parent */
	assert_int_equal(cov.host_pattern[4], 1);  /* case, trailing dot */
	assert_int_equal(cov.host_pattern[5], -1); /* U-label never */
	assert_int_equal(cov.host_pattern[6], -1);
	assert_int_equal(cov.pattern_hosts[0], 1);
	assert_int_equal(cov.pattern_hosts[1], 3);
	assert_int_equal(cov.pattern_hosts[2], 0);
	assert_int_equal(cov.pattern_hosts[3], 1);
	assert_int_equal(cov.uncovered, 4);
	assert_int_equal(cov.unused, 1);

	/* the implicit MX is the domain itself */
	hosts[0] = "example.com";
	assert_int_equal(mxs_sts_coverage(pol, hosts, 1, &cov), 0);
	assert_int_equal(cov.host_pattern[0], -1);
	assert_int_equal(cov.unused, 4);
	assert_int_equal(mxs_sts_coverage(pol, hosts, 0, &cov), 0);
	assert_int_equal(cov.uncovered, 0);
	assert_int_equal(cov.unused, 4);

	/* mode none without patterns: nothing covered */
	assert_int_equal(parse(HDR_N, strlen(HDR_N), &none, err, sizeof(err)), 0);
	assert_int_equal(mxs_sts_coverage(none, hosts, 1, &cov), 0);
	assert_int_equal(cov.uncovered, 1);

	for (size_t i = 0; i < MXS_MX_MAX + 1; i++)
		many[i] = "mail.example.com";
	assert_int_equal(mxs_sts_coverage(pol, many, MXS_MX_MAX, &cov), 0);
	assert_int_equal(cov.pattern_hosts[0], MXS_MX_MAX);
	assert_int_equal(mxs_sts_coverage(pol, many, MXS_MX_MAX + 1, &cov), MXS_ELIMIT);
	assert_int_equal(cov.nhosts, 0);
	many[1] = NULL;
	assert_int_equal(mxs_sts_coverage(pol, many, 2, &cov), MXS_EINVAL);
	assert_int_equal(mxs_sts_coverage(NULL, hosts, 1, &cov), MXS_EINVAL);
	assert_int_equal(mxs_sts_coverage(pol, NULL, 1, &cov), MXS_EINVAL);
	assert_int_equal(mxs_sts_coverage(pol, hosts, 1, NULL), MXS_EINVAL);
	mxs_sts_policy_free(&pol);
	mxs_sts_policy_free(&none);
}

/* ---- vectors from $MXS_SHARED_DATA/policy-vectors ---- */

/*
 * Expected outcomes there are the upstream implementation's.  Where RFC
 * 8461 says otherwise (a case's "rfc_8461" field, or the MANIFEST "follow
 * the RFC" table, here: U-labels) the RFC verdict is asserted instead and
 * the vector is counted as "judged by the RFC verdict".
 */
struct tally {
	size_t n, passed, rfc;
};

static json_t *
load(const char *rel)
{
	const char *data = getenv("MXS_SHARED_DATA");
	char path[1024];
	json_error_t jerr;
	json_t *root;
	int n;

	if (data == NULL)
		fail_msg("MXS_SHARED_DATA is not set (CMake sets it to the shared data directory)");
	n = snprintf(path, sizeof(path), "%s/policy-vectors/%s", data, rel);
	assert_true(n > 0 && (size_t)n < sizeof(path));
	if ((root = json_load_file(path, JSON_ALLOW_NUL, &jerr)) == NULL)
		fail_msg("%s: %s (line %d)", path, jerr.text, jerr.line);
	assert_true(json_is_array(json_object_get(root, "cases")));
	return root;
}

static void
record(struct tally *t, const char *rel, size_t i, int pass, int judged, const char *what)
{
	t->n++;
	t->passed += pass != 0;
	t->rfc += judged != 0;
	if (!pass || judged)
		print_message("  %s #%zu: %s%s\n", rel, i, pass ? "" : "FAILED ", what);
}

static void
report(const char *rel, const struct tally *t)
{
	print_message("%s: %zu vectors, %zu passed (%zu judged by the RFC verdict)\n", rel, t->n,
	              t->passed, t->rfc);
	assert_int_equal(t->passed, t->n);
	assert_true(t->n > 0);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "<N x 'c'>" in an input_description stands for N copies of c. */
static void
expand(struct buf *b, const char *s)
{
	while (*s != '\0') {
		const char *p = s + 1;
		size_t n = 0;

		if (*s == '<' && *p >= '0' && *p <= '9') {
			while (*p >= '0' && *p <= '9')
				n = n * 10 + (size_t)(*p++ - '0');
			if (strncmp(p, " x '", 4) == 0 && p[4] != '\0' &&
			    strncmp(p + 5, "'>", 2) == 0) {
				fill(b, p[4], n);
				s = p + 7;
				continue;
			}
		}
		put(b, s++, 1);
	}
}

/* The case's input bytes: "input", "input_hex" or "input_description". */
static void
case_input(json_t *c, struct buf *b)
{
	json_t *v;

	b->len = 0;
	if ((v = json_object_get(c, "input")) != NULL) {
		put(b, json_string_value(v), json_string_length(v));
	} else if ((v = json_object_get(c, "input_hex")) != NULL) {
		const char *h = json_string_value(v);

		for (; h[0] != '\0' && h[1] != '\0'; h += 2) {
			char byte = (char)(hexval(h[0]) * 16 + hexval(h[1]));

			assert_true(hexval(h[0]) >= 0 && hexval(h[1]) >= 0);
			put(b, &byte, 1);
		}
	} else if ((v = json_object_get(c, "input_description")) != NULL) {
		expand(b, json_string_value(v));
	} else {
		fail_msg("case without input");
	}
	assert_true(json_is_string(v));
}

static int
mx_equal(const struct mxs_sts_policy *pol, json_t *arr)
{
	json_t *v;
	size_t i;

	if (json_array_size(arr) != pol->nmx)
		return 0;
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v) || strcmp(json_string_value(v), pol->mx[i]) != 0)
			return 0;
	}
	return 1;
}

static int
ext_equal(const struct mxs_sts_policy *pol, json_t *arr)
{
	json_t *v;
	size_t i;

	if (json_array_size(arr) != pol->next)
		return 0;
	json_array_foreach(arr, i, v)
	{
		const char *n = json_string_value(json_array_get(v, 0));
		const char *val = json_string_value(json_array_get(v, 1));

		if (n == NULL || val == NULL || strcmp(n, pol->ext[i].name) != 0 ||
		    strcmp(val, pol->ext[i].value) != 0)
			return 0;
	}
	return 1;
}

/* postfix-tlspol's Postfix policy: "secure match=a:.b servername=hostname"
 * for enforce ("*.b" written ".b"), empty otherwise. */
static int
postfix_equal(const struct mxs_sts_policy *pol, const char *want)
{
	struct buf b = {0};
	int eq;

	if (pol->mode != MXS_STS_MODE_ENFORCE)
		return want[0] == '\0';
	puts_(&b, "secure match=");
	for (size_t i = 0; i < pol->nmx; i++) {
		if (i > 0)
			puts_(&b, ":");
		puts_(&b, pol->mx[i][0] == '*' ? pol->mx[i] + 1 : pol->mx[i]);
	}
	puts_(&b, " servername=hostname");
	eq = b.len == strlen(want) && memcmp(b.p, want, b.len) == 0;
	free(b.p);
	return eq;
}

/* Every field the expectation names must agree with the parsed policy. */
static int
fields_equal(const struct mxs_sts_policy *pol, json_t *exp)
{
	json_t *v;

	if ((v = json_object_get(exp, "mode")) != NULL &&
	    strcmp(json_string_value(v), mxs_sts_mode_name(pol->mode)) != 0)
		return 0;
	if ((v = json_object_get(exp, "version")) != NULL && strcmp(json_string_value(v), "STSv1"))
		return 0;
	if ((v = json_object_get(exp, "max_age")) != NULL &&
	    json_integer_value(v) != (json_int_t)pol->max_age)
		return 0;
	if ((v = json_object_get(exp, "ttl")) != NULL &&
	    json_integer_value(v) != (json_int_t)pol->max_age)
		return 0;
	if ((v = json_object_get(exp, "mx")) != NULL && !mx_equal(pol, v))
		return 0;
	if ((v = json_object_get(exp, "extensions")) != NULL && !ext_equal(pol, v))
		return 0;
	if ((v = json_object_get(exp, "postfix_policy")) != NULL &&
	    !postfix_equal(pol, json_string_value(v)))
		return 0;
	return 1;
}

/* Upstream verdict (1 valid, 0 invalid); *fields: what to compare if valid. */
static int
upstream_valid(json_t *exp, json_t **fields)
{
	json_t *v;

	*fields = NULL;
	if (json_is_string(exp)) /* "fail", "error" */
		return 0;
	assert_true(json_is_object(exp));
	*fields = exp;
	v = json_object_get(exp, "valid");
	return v == NULL || json_is_true(v);
}

/* The case's own RFC 8461 verdict, if it carries one: 1, 0, else -1. */
static int
rfc_field(json_t *c)
{
	json_t *v = json_object_get(c, "rfc_8461");

	if (json_is_boolean(v))
		return json_is_true(v);
	if (json_is_string(v))
		return strncmp(json_string_value(v), "invalid", 7) != 0;
	return -1;
}

/* Parse in; assert want (upstream) unless rfc (>= 0) differs. */
static void
policy_vector(struct tally *t, const char *rel, size_t i, const struct buf *in, int want,
              json_t *fields, int rfc)
{
	struct mxs_sts_policy *pol = NULL;
	char err[256] = "", what[400];
	int judged = rfc >= 0 && rfc != want, rc, pass;

	if (judged) {
		want = rfc;
		fields = NULL;
	}
	rc = parse(in->p, in->len, &pol, err, sizeof(err));
	pass = (rc == 0) == (want == 1);
	if (rc == 0 && fields != NULL)
		pass = pass && fields_equal(pol, fields);
	if (rc != 0) {
		assert_names_line(err);
		pass = pass && (rc == MXS_ESYNTAX || rc == MXS_ELIMIT);
	}
	snprintf(what, sizeof(what), "%s, want %s%s: %s", rc == 0 ? "valid" : "invalid",
	         want ? "valid" : "invalid", judged ? " (RFC)" : "", rc == 0 ? "" : err);
	record(t, rel, i, pass, judged, what);
	if (rc != 0)
		print_message("  %s #%zu: %s\n", rel, i, err);
	mxs_sts_policy_free(&pol);
}

static void
vectors_policy(const char *rel)
{
	json_t *root = load(rel), *c, *fields, *v;
	struct tally t = {0};
	struct buf b = {0};
	size_t i;

	json_array_foreach(json_object_get(root, "cases"), i, c)
	{
		int want = upstream_valid(json_object_get(c, "expect"), &fields);

		case_input(c, &b);
		policy_vector(&t, rel, i, &b, want, fields, rfc_field(c));
	}
	/* Seeds said to be valid upstream. */
	json_array_foreach(json_object_get(root, "fuzz_seeds_valid_inputs"), i, v)
	{
		b.len = 0;
		put(&b, json_string_value(v), json_string_length(v));
		policy_vector(&t, rel, 1000 + i, &b, 1, NULL, -1);
	}
	/* Seeds without an upstream verdict: each only adds trailing WSP
	 * before the end, which sts-policy-field's *WSP allows: valid. */
	json_array_foreach(json_object_get(root, "fuzz_seeds_without_expectation"), i, v)
	{
		b.len = 0;
		put(&b, json_string_value(v), json_string_length(v));
		policy_vector(&t, rel, 2000 + i, &b, -1, NULL, 1);
	}
	/* mox's serialisation vector: its text parses back to its policy. */
	if ((v = json_object_get(root, "serialization")) != NULL) {
		const char *s = json_string_value(json_object_get(v, "expect_string"));

		assert_non_null(s);
		b.len = 0;
		puts_(&b, s);
		policy_vector(&t, rel, 3000, &b, 1, json_object_get(v, "policy"), -1);
	}
	report(rel, &t);
	free(b.p);
	json_decref(root);
}

static void
vectors_media(const char *rel)
{
	json_t *root = load(rel), *c;
	struct tally t = {0};
	size_t i;

	json_array_foreach(json_object_get(root, "cases"), i, c)
	{
		const char *in = json_string_value(json_object_get(c, "input"));
		int want = json_is_true(json_object_get(c, "expect")), rfc = rfc_field(c), rc;
		char err[256] = "", what[400];

		assert_non_null(in);
		if (rfc >= 0)
			want = rfc;
		rc = mxs_sts_media_type_check(in, err, sizeof(err));
		snprintf(what, sizeof(what), "\"%s\": %s", in, rc == 0 ? "accepted" : err);
		record(&t, rel, i, (rc == 0) == want, rfc >= 0 && rfc != want, what);
		print_message("  %s #%zu: %s\n", rel, i, what);
	}
	report(rel, &t);
	json_decref(root);
}

static int
non_ascii(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/*
 * One mx-match vector through the parser and mxs_sts_coverage().  RFC
 * verdict for U-labels: a pattern must be an A-label (§3.2), so a policy
 * with a U-label pattern is invalid and covers nothing; an MX name from DNS
 * is an A-label, and a U-label one matches nothing.
 */
static void
mx_vector(struct tally *t, const char *rel, size_t i, const struct buf *body, const char *mx,
          int want)
{
	struct mxs_sts_policy *pol = NULL;
	struct mxs_sts_coverage cov;
	char err[256] = "", what[512];
	int got = 0, rfc = want, rc;

	for (size_t k = 0; k < body->len; k++)
		if ((unsigned char)body->p[k] >= 0x80)
			rfc = 0;
	if (non_ascii(mx))
		rfc = 0;
	rc = parse(body->p, body->len, &pol, err, sizeof(err));
	if (rc == 0) {
		assert_int_equal(mxs_sts_coverage(pol, &mx, 1, &cov), 0);
		got = cov.host_pattern[0] >= 0;
	} else {
		assert_names_line(err);
	}
	snprintf(what, sizeof(what), "mx \"%s\": upstream %d, RFC %d, got %d%s%s", mx, want, rfc,
	         got, rc ? " - " : "", rc ? err : "");
	record(t, rel, i, got == rfc, rfc != want, what);
	mxs_sts_policy_free(&pol);
}

static void
vectors_mx(const char *rel)
{
	json_t *root = load(rel), *c, *p;
	const char *policy = json_string_value(json_object_get(root, "policy"));
	struct tally t = {0};
	struct buf b = {0};
	size_t i, j;

	json_array_foreach(json_object_get(root, "cases"), i, c)
	{
		const char *mx = json_string_value(json_object_get(c, "mx"));

		assert_non_null(mx);
		b.len = 0;
		if (policy != NULL) {
			puts_(&b, policy);
		} else {
			puts_(&b, HDR);
			json_array_foreach(json_object_get(c, "patterns"), j, p)
			{
				puts_(&b, "mx: ");
				puts_(&b, json_string_value(p));
				puts_(&b, "\n");
			}
		}
		mx_vector(&t, rel, i, &b, mx, json_is_true(json_object_get(c, "match")));
	}
	report(rel, &t);
	free(b.p);
	json_decref(root);
}

static void
test_vectors(void **state)
{
	(void)state;
	vectors_policy("foxcpp-go-mtasts/policy-parse.json");
	vectors_policy("mox/sts-policy.json");
	vectors_policy("postfix-tlspol/sts-policy.json");
	vectors_media("postfix-tlspol/media-type.json");
	vectors_media("postfix-mta-sts-resolver/content-type.json");
	vectors_mx("foxcpp-go-mtasts/mx-match.json");
	vectors_mx("mox/mx-match.json");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_table),   cmocka_unit_test(test_parse_values),
	        cmocka_unit_test(test_hostile_size),  cmocka_unit_test(test_ext_cap),
	        cmocka_unit_test(test_random_bodies), cmocka_unit_test(test_media_table),
	        cmocka_unit_test(test_coverage),      cmocka_unit_test(test_vectors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
