/*
 * test_smtp_reply — unit tests for agent/smtp_reply.c: reply framing,
 * hostile lines, the named limits, and the EHLO keyword list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp_reply.h"

#define LINES_MAX 12

struct reply_case {
	const char *name;
	const char *lines[LINES_MAX]; /* NULL-terminated */
	int rc;                       /* of the last line fed */
	int code;                     /* when rc >= 0 */
	const char *text;             /* when rc >= 0 */
};

static const struct reply_case reply_cases[] = {
        {"single line",
         {"220 mx.example.com ESMTP Postfix"},
         1,
         220,
         "mx.example.com ESMTP Postfix"},
        {"multi-line",
         {"250-mx.example.com", "250-PIPELINING", "250 STARTTLS"},
         1,
         250,
         "mx.example.com\nPIPELINING\nSTARTTLS"},
        {"needs more",
         {"250-mx.example.com", "250-PIPELINING"},
         0,
         250,
         "mx.example.com\nPIPELINING"},
        {"code only", {"250"}, 1, 250, ""},
        {"code and space", {"250 "}, 1, 250, ""},
        {"code only ends multi-line", {"250-a", "250"}, 1, 250, "a\n"},
        {"empty continuation", {"250-", "250 b"}, 1, 250, "\nb"},
        {"CR inside", {"220 a\rb"}, 1, 220, "a?b"},
        {"non-printable", {"554 caf\xc3\xa9\t\x7f\x01!"}, 1, 554, "caf\?\?\?\?\?!"},
        {"code 599", {"599 odd"}, 1, 599, "odd"},
        {"code changes", {"250-a", "251 b"}, MXS_ESYNTAX, 0, NULL},
        {"class changes", {"250-a", "550 b"}, MXS_ESYNTAX, 0, NULL},
        {"letter after code", {"220x"}, MXS_ESYNTAX, 0, NULL},
        {"two digits", {"22"}, MXS_ESYNTAX, 0, NULL},
        {"four digits", {"2200 "}, MXS_ESYNTAX, 0, NULL},
        {"code 099", {"099 "}, MXS_ESYNTAX, 0, NULL},
        {"code 199", {"199 x"}, MXS_ESYNTAX, 0, NULL},
        {"code 600", {"600 "}, MXS_ESYNTAX, 0, NULL},
        {"empty line", {""}, MXS_ESYNTAX, 0, NULL},
        {"leading space", {" 220 x"}, MXS_ESYNTAX, 0, NULL},
        {"tab separator", {"220\tx"}, MXS_ESYNTAX, 0, NULL},
        {"letters", {"abc def"}, MXS_ESYNTAX, 0, NULL},
        {"bad line after good", {"250-a", "25O b"}, MXS_ESYNTAX, 0, NULL},
};

static void
test_reply_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
		const struct reply_case *c = &reply_cases[i];
		struct mxs_smtp_reply r;
		char err[128] = "";
		int rc = 0;

		mxs_smtp_reply_reset(&r);
		for (size_t l = 0; l < LINES_MAX && c->lines[l] != NULL; l++)
			rc = mxs_smtp_reply_feed(&r, c->lines[l], strlen(c->lines[l]), err,
			                         sizeof(err));
		print_message("case %-28s rc=%d %s\n", c->name, rc, err);
		assert_int_equal(rc, c->rc);
		if (rc < 0) {
			assert_true(err[0] != '\0');
			continue;
		}
		assert_int_equal(r.code, c->code);
		assert_string_equal(r.text, c->text);
		assert_int_equal(r.len, strlen(c->text));
	}
}

static void
test_nul_byte(void **state)
{
	static const char line[] = "220 a\0b";
	struct mxs_smtp_reply r;
	char err[128];

	(void)state;
	mxs_smtp_reply_reset(&r);
	assert_int_equal(mxs_smtp_reply_feed(&r, line, sizeof(line) - 1, err, sizeof(err)),
	                 MXS_ESYNTAX);
	assert_int_equal(mxs_smtp_reply_feed(&r, "\0", 1, err, sizeof(err)), MXS_ESYNTAX);
	assert_int_equal(r.nlines, 0);
	/* A rejected line leaves the reply as it was. */
	assert_int_equal(mxs_smtp_reply_feed(&r, "220-a", 5, err, sizeof(err)), 0);
	assert_int_equal(mxs_smtp_reply_feed(&r, line, sizeof(line) - 1, err, sizeof(err)),
	                 MXS_ESYNTAX);
	assert_int_equal(r.nlines, 1);
	assert_string_equal(r.text, "a");
}

static void
test_line_limit(void **state)
{
	struct mxs_smtp_reply r;
	char *line = malloc(MXS_SMTP_LINE_MAX + 2);
	char err[128];

	(void)state;
	assert_non_null(line);
	memset(line, 'x', MXS_SMTP_LINE_MAX + 2);
	memcpy(line, "250 ", 4);
	/* MXS_SMTP_LINE_MAX counts the CR LF the caller stripped. */
	mxs_smtp_reply_reset(&r);
	assert_int_equal(mxs_smtp_reply_feed(&r, line, MXS_SMTP_LINE_MAX - 2, err, sizeof(err)), 1);
	assert_int_equal(r.len, MXS_SMTP_LINE_MAX - 6);
	mxs_smtp_reply_reset(&r);
	assert_int_equal(mxs_smtp_reply_feed(&r, line, MXS_SMTP_LINE_MAX - 1, err, sizeof(err)),
	                 MXS_ELIMIT);
	assert_int_equal(mxs_smtp_reply_feed(&r, line, MXS_SMTP_LINE_MAX + 1, err, sizeof(err)),
	                 MXS_ELIMIT);
	assert_int_equal(r.nlines, 0);
	free(line);
}

static void
test_lines_limit(void **state)
{
	struct mxs_smtp_reply r;
	char err[128];

	(void)state;
	/* MXS_SMTP_REPLY_LINES lines are fine... */
	mxs_smtp_reply_reset(&r);
	for (int i = 0; i < MXS_SMTP_REPLY_LINES - 1; i++)
		assert_int_equal(mxs_smtp_reply_feed(&r, "250-x", 5, err, sizeof(err)), 0);
	assert_int_equal(mxs_smtp_reply_feed(&r, "250 x", 5, err, sizeof(err)), 1);
	assert_int_equal(r.nlines, MXS_SMTP_REPLY_LINES);
	/* ...one more is not, final or not. */
	mxs_smtp_reply_reset(&r);
	for (int i = 0; i < MXS_SMTP_REPLY_LINES; i++)
		assert_int_equal(mxs_smtp_reply_feed(&r, "250-x", 5, err, sizeof(err)), 0);
	assert_int_equal(mxs_smtp_reply_feed(&r, "250 x", 5, err, sizeof(err)), MXS_ELIMIT);
	assert_int_equal(mxs_smtp_reply_feed(&r, "250-x", 5, err, sizeof(err)), MXS_ELIMIT);
	assert_int_equal(r.nlines, MXS_SMTP_REPLY_LINES);
}

static void
test_text_limit(void **state)
{
	struct mxs_smtp_reply r;
	size_t full = MXS_SMTP_LINE_MAX - 2, room;
	char *line = malloc(full);
	char err[128];

	(void)state;
	assert_non_null(line);
	memset(line, 'y', full);
	memcpy(line, "250-", 4);
	mxs_smtp_reply_reset(&r);
	/* Fill with full-length lines while another one (and its '\n') fits. */
	while (r.len + 1 + (full - 4) + 1 <= MXS_SMTP_REPLY_MAX)
		assert_int_equal(mxs_smtp_reply_feed(&r, line, full, err, sizeof(err)), 0);
	room = MXS_SMTP_REPLY_MAX - r.len - 2; /* '\n' and NUL */
	assert_true(room < full - 4);
	/* One octet too many is refused and changes nothing... */
	assert_int_equal(mxs_smtp_reply_feed(&r, line, room + 5, err, sizeof(err)), MXS_ELIMIT);
	assert_int_equal(r.len, MXS_SMTP_REPLY_MAX - room - 2);
	/* ...exactly full is accepted, NUL included. */
	line[3] = ' ';
	assert_int_equal(mxs_smtp_reply_feed(&r, line, room + 4, err, sizeof(err)), 1);
	assert_int_equal(r.len, MXS_SMTP_REPLY_MAX - 1);
	assert_int_equal(r.text[MXS_SMTP_REPLY_MAX - 1], '\0');
	assert_int_equal(strlen(r.text), r.len);
	free(line);
}

static void
test_first_line(void **state)
{
	struct mxs_smtp_reply r;
	char buf[64], small[4], err[128];

	(void)state;
	mxs_smtp_reply_reset(&r);
	mxs_smtp_reply_first_line(&r, buf, sizeof(buf));
	assert_string_equal(buf, "");
	assert_int_equal(mxs_smtp_reply_feed(&r, "421-mx busy", 11, err, sizeof(err)), 0);
	assert_int_equal(mxs_smtp_reply_feed(&r, "421 try later", 13, err, sizeof(err)), 1);
	mxs_smtp_reply_first_line(&r, buf, sizeof(buf));
	assert_string_equal(buf, "mx busy");
	mxs_smtp_reply_first_line(&r, small, sizeof(small));
	assert_string_equal(small, "mx ");
	mxs_smtp_reply_first_line(&r, small, 0); /* must not write */
	mxs_smtp_reply_reset(&r);
	assert_int_equal(r.code, 0);
	assert_int_equal(r.nlines, 0);
	assert_string_equal(r.text, "");
}

/* ---- EHLO ---- */

static void
feed_lines(struct mxs_smtp_reply *r, const char *const *lines, size_t n)
{
	char err[128];
	int rc = 0;

	mxs_smtp_reply_reset(r);
	for (size_t i = 0; i < n; i++)
		rc = mxs_smtp_reply_feed(r, lines[i], strlen(lines[i]), err, sizeof(err));
	assert_int_equal(rc, 1);
}

static void
caps_free(char **caps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(caps[i]);
	free(caps);
}

static void
test_ehlo_postfix(void **state)
{
	static const char *const lines[] = {
	        "250-mx.example.com",
	        "250-PIPELINING",
	        "250-SIZE 10240000",
	        "250-VRFY",
	        "250-ETRN",
	        "250-STARTTLS",
	        "250-ENHANCEDSTATUSCODES",
	        "250-8BITMIME",
	        "250-DSN",
	        "250-SMTPUTF8",
	        "250 CHUNKING",
	};
	static const char *const want[] = {
	        "PIPELINING",          "SIZE 10240000", "VRFY", "ETRN",     "STARTTLS",
	        "ENHANCEDSTATUSCODES", "8BITMIME",      "DSN",  "SMTPUTF8", "CHUNKING",
	};
	struct mxs_smtp_reply r;
	char **caps;
	size_t ncaps, dropped;
	int starttls;

	(void)state;
	feed_lines(&r, lines, sizeof(lines) / sizeof(lines[0]));
	assert_int_equal(mxs_ehlo_parse(&r, &caps, &ncaps, &starttls, &dropped), 0);
	assert_int_equal(ncaps, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < ncaps; i++)
		assert_string_equal(caps[i], want[i]);
	assert_int_equal(starttls, 1);
	assert_int_equal(dropped, 0);
	caps_free(caps, ncaps);
}

struct ehlo_case {
	const char *line; /* the one capability line, after "250-greeting" */
	int starttls;
	const char *cap; /* NULL: line skipped */
};

static const struct ehlo_case ehlo_cases[] = {
        {"250 starttls", 1, "STARTTLS"},
        {"250 StartTLS", 1, "STARTTLS"},
        {"250 STARTTLS ", 1, "STARTTLS"},
        {"250 STARTTLS   ", 1, "STARTTLS"},
        {"250 STARTTLSX", 0, "STARTTLSX"},
        {"250 X-STARTTLS", 0, "X-STARTTLS"},
        {"250 STARTTL", 0, "STARTTL"},
        {"250 STARTTLS\r", 0, NULL},
        {"250 STARTTLS=yes", 0, NULL},
        {"250  STARTTLS", 0, NULL},
        {"250 -STARTTLS", 0, NULL},
        {"250 STAR\tTTLS", 0, NULL},
        {"250 AUTH=LOGIN PLAIN", 0, NULL},
        {"250 ", 0, NULL},
        {"250", 0, NULL},
        {"250 auth login PLAIN", 0, "AUTH login PLAIN"},
        {"250 size  100", 0, "SIZE  100"},
        {"250 8bitmime", 0, "8BITMIME"},
        {"250 X-EXPS GSSAPI NTLM", 0, "X-EXPS GSSAPI NTLM"},
        {"250 XX\xff", 0, NULL},
};

static void
test_ehlo_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ehlo_cases) / sizeof(ehlo_cases[0]); i++) {
		const struct ehlo_case *c = &ehlo_cases[i];
		const char *lines[] = {"250-mx.example.com", c->line};
		struct mxs_smtp_reply r;
		char **caps;
		size_t ncaps, dropped;
		int starttls;

		print_message("ehlo line \"%s\"\n", c->line);
		feed_lines(&r, lines, 2);
		assert_int_equal(mxs_ehlo_parse(&r, &caps, &ncaps, &starttls, &dropped), 0);
		assert_int_equal(starttls, c->starttls);
		assert_int_equal(dropped, 0);
		if (c->cap == NULL) {
			assert_int_equal(ncaps, 0);
			assert_null(caps);
			continue;
		}
		assert_int_equal(ncaps, 1);
		assert_string_equal(caps[0], c->cap);
		caps_free(caps, ncaps);
	}
}

static void
test_ehlo_one_line(void **state)
{
	static const char *const lines[] = {"250 mx.example.com says hello"};
	struct mxs_smtp_reply r;
	char **caps = (char **)&caps;
	size_t ncaps = 7, dropped = 7;
	int starttls = 7;

	(void)state;
	feed_lines(&r, lines, 1);
	assert_int_equal(mxs_ehlo_parse(&r, &caps, &ncaps, &starttls, &dropped), 0);
	assert_null(caps);
	assert_int_equal(ncaps, 0);
	assert_int_equal(starttls, 0);
	assert_int_equal(dropped, 0);
}

static void
test_ehlo_not_250(void **state)
{
	static const char *const lines[] = {"550 go away"};
	struct mxs_smtp_reply r;
	char **caps;
	size_t ncaps, dropped;
	int starttls;

	(void)state;
	feed_lines(&r, lines, 1);
	assert_int_equal(mxs_ehlo_parse(&r, &caps, &ncaps, &starttls, &dropped), MXS_EINVAL);
	assert_null(caps);
	mxs_smtp_reply_reset(&r);
	assert_int_equal(mxs_ehlo_parse(&r, &caps, &ncaps, &starttls, &dropped), MXS_EINVAL);
}

/* Feed "250<sep><kw><i>" (no number when i < 0). */
static void
feed_kw(struct mxs_smtp_reply *r, const char *sep, const char *kw, int i)
{
	char line[64], err[128];
	int n;

	if (i < 0)
		n = snprintf(line, sizeof(line), "250%s%s", sep, kw);
	else
		n = snprintf(line, sizeof(line), "250%s%s%d", sep, kw, i);
	assert_true(n > 0 && (size_t)n < sizeof(line));
	assert_true(mxs_smtp_reply_feed(r, line, (size_t)n, err, sizeof(err)) >= 0);
}

static void
test_ehlo_most_lines(void **state)
{
	struct mxs_smtp_reply r;
	char **caps;
	size_t ncaps, dropped;
	int starttls;

	(void)state;
	/* The longest reply the feed accepts holds MXS_SMTP_REPLY_LINES - 1 keywords. */
	mxs_smtp_reply_reset(&r);
	feed_kw(&r, "-", "greeting", -1);
	for (int i = 0; i < MXS_SMTP_REPLY_LINES - 2; i++)
		feed_kw(&r, "-", "K", i);
	feed_kw(&r, " ", "STARTTLS", -1);
	assert_int_equal(mxs_ehlo_parse(&r, &caps, &ncaps, &starttls, &dropped), 0);
	assert_int_equal(ncaps, MXS_SMTP_REPLY_LINES - 1);
	assert_int_equal(starttls, 1);
	assert_int_equal(dropped, 0);
	assert_string_equal(caps[ncaps - 1], "STARTTLS");
	caps_free(caps, ncaps);
}

static void
test_ehlo_over_cap(void **state)
{
	struct mxs_smtp_reply r;
	char **caps;
	size_t ncaps, dropped, extra = 6;
	int starttls;

	(void)state;
	/* Built by hand: more keyword lines than the feed would let through,
	 * so the cap itself is exercised.  STARTTLS comes after the cap. */
	mxs_smtp_reply_reset(&r);
	r.code = 250;
	memcpy(r.text, "greeting", 8);
	r.len = 8;
	for (size_t i = 0; i < MXS_EHLO_CAPS_MAX + extra - 1; i++) {
		memcpy(r.text + r.len, "\nKW-", 4);
		r.text[r.len + 4] = (char)('0' + i / 100);
		r.text[r.len + 5] = (char)('0' + i / 10 % 10);
		r.text[r.len + 6] = (char)('0' + i % 10);
		r.len += 7;
	}
	memcpy(r.text + r.len, "\nstarttls", 9);
	r.len += 9;
	r.text[r.len] = '\0';
	r.nlines = MXS_EHLO_CAPS_MAX + extra + 1;
	assert_int_equal(mxs_ehlo_parse(&r, &caps, &ncaps, &starttls, &dropped), 0);
	assert_int_equal(ncaps, MXS_EHLO_CAPS_MAX);
	assert_int_equal(dropped, extra);
	assert_int_equal(starttls, 1);
	assert_string_equal(caps[0], "KW-000");
	assert_string_equal(caps[MXS_EHLO_CAPS_MAX - 1], "KW-063");
	caps_free(caps, ncaps);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_reply_table),     cmocka_unit_test(test_nul_byte),
	        cmocka_unit_test(test_line_limit),      cmocka_unit_test(test_lines_limit),
	        cmocka_unit_test(test_text_limit),      cmocka_unit_test(test_first_line),
	        cmocka_unit_test(test_ehlo_postfix),    cmocka_unit_test(test_ehlo_table),
	        cmocka_unit_test(test_ehlo_one_line),   cmocka_unit_test(test_ehlo_not_250),
	        cmocka_unit_test(test_ehlo_most_lines), cmocka_unit_test(test_ehlo_over_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
