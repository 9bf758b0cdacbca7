/*
 * test_certname — unit tests for agent/certname.c: RFC 6125 DNS-ID
 * matching, host-name syntax, and the RFC 8461 "mx" matching vectors in
 * $MXS_SHARED_DATA/policy-vectors/ * /mx-match.json.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <jansson.h>

#include "certname.h"

struct match_case {
	const char *pattern, *host;
	int match;
};

static const struct match_case match_cases[] = {
        /* exact, case, trailing dots */
        {"mail.example.com", "mail.example.com", 1},
        {"MAIL.Example.COM", "mail.example.com", 1},
        {"mail.example.com", "Mail.EXAMPLE.com", 1},
        {"mail.example.com.", "mail.example.com", 1},
        {"mail.example.com", "mail.example.com.", 1},
        {"mail.example.com.", "mail.example.com.", 1},
        {"mail.example.com..", "mail.example.com", 0},
        {"mail.example.com", "mail.example.com..", 0},
        {"mail.example.com", "mail.example.org", 0},
        {"mail.example.com", "mail.example.co", 0},
        {"ail.example.com", "mail.example.com", 0},
        {"mail.example.com", "xmail.example.com", 0},
        {"ma-il.example.com", "MA-IL.example.com", 1},
        /* wildcards: whole left-most label, exactly one label, two after */
        {"*.example.com", "mail.example.com", 1},
        {"*.EXAMPLE.com", "Mail.example.COM.", 1},
        {"*.example.com.", "mail.example.com", 1},
        {"*.example.com", "example.com", 0},
        {"*.example.com", ".example.com", 0},
        {"*.example.com", "a.b.example.com", 0},
        {"*.example.com", "mail.example.org", 0},
        {"*.example.com", "mailexample.com", 0},
        {"*.com", "example.com", 0},
        {"*.com", "com", 0},
        {"*", "example", 0},
        {"*.", "example.", 0},
        {"m*.example.com", "mail.example.com", 0},
        {"m*.example.com", "m.example.com", 0},
        {"*x.example.com", "x.example.com", 0},
        {"*x.example.com", "ax.example.com", 0},
        {"mail.*.com", "mail.example.com", 0},
        {"mail.example.*", "mail.example.com", 0},
        {"**.example.com", "mail.example.com", 0},
        {"*.*.example.com", "a.b.example.com", 0},
        {"*.example.com", "*.example.com", 0},
        {"mail.example.com", "*.example.com", 0},
        /* A-labels compare literally; wildcards never inside them */
        {"xn--bcher-kva.example", "XN--BCHER-KVA.example", 1},
        {"*.xn--bcher-kva.example", "mail.xn--bcher-kva.example", 1},
        {"*.example.com", "xn--bcher-kva.example.com", 1},
        {"xn--*.example.com", "xn--bcher-kva.example.com", 0},
        {"xn--bcher-kva.example", "bcher.example", 0},
        /* U-labels and other non-ASCII never match */
        {"xn--bcher-kva.example",
         "b\xc3\xbc"
         "cher.example",
         0},
        {"b\xc3\xbc"
         "cher.example",
         "b\xc3\xbc"
         "cher.example",
         0},
        {"*.example.com",
         "b\xc3\xbc"
         "cher.example.com",
         0},
        {"mail.example.com\xff", "mail.example.com\xff", 0},
        /* empty */
        {"", "", 0},
        {"", "example.com", 0},
        {"example.com", "", 0},
        {".", ".", 0},
        {"..", "..", 0},
        /* IP literals are not DNS-IDs */
        {"1.2.3.4", "1.2.3.4", 0},
        {"1.2.3.4.", "1.2.3.4", 0},
        {"*.2.3.4", "1.2.3.4", 0},
        {"[1.2.3.4]", "[1.2.3.4]", 0},
        {"::1", "::1", 0},
        {"2001:db8::1", "2001:db8::1", 0},
        /* other hostile syntax */
        {" mail.example.com", " mail.example.com", 0},
        {"mail example.com", "mail example.com", 0},
        {"mail_x.example.com", "mail_x.example.com", 0},
        {"-mail.example.com", "-mail.example.com", 0},
        {"mail-.example.com", "mail-.example.com", 0},
        {"mail.example.com\n", "mail.example.com\n", 0},
        {"a..example.com", "a..example.com", 0},
};

static void
test_match_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const struct match_case *c = &match_cases[i];

		print_message("match \"%s\" \"%s\" -> %d\n", c->pattern, c->host, c->match);
		assert_int_equal(mxs_name_match(c->pattern, c->host), c->match);
	}
	assert_int_equal(mxs_name_match(NULL, "example.com"), 0);
	assert_int_equal(mxs_name_match("example.com", NULL), 0);
}

/* Write labels of the given lengths ('a'..) joined by dots into buf. */
static void
make_name(char *buf, size_t buflen, const size_t *labels, size_t n, int dot)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		assert_true(o + labels[i] + 2 < buflen);
		memset(buf + o, (int)('a' + i), labels[i]);
		o += labels[i];
		if (i + 1 < n || dot)
			buf[o++] = '.';
	}
	buf[o] = '\0';
}

static void
test_lengths(void **state)
{
	static const size_t l63[] = {63, 7, 3}, l64[] = {64, 7, 3};
	static const size_t n253[] = {63, 63, 63, 61}, n254[] = {63, 63, 63, 62};
	char a[512], b[512];

	(void)state;
	make_name(a, sizeof(a), l63, 3, 0);
	assert_int_equal(mxs_name_match(a, a), 1);
	assert_int_equal(mxs_hostname_valid(a), 1);
	make_name(a, sizeof(a), l64, 3, 0);
	assert_int_equal(mxs_name_match(a, a), 0);
	assert_int_equal(mxs_hostname_valid(a), 0);

	/* 253 octets, and 254 with the trailing dot, are the longest names. */
	make_name(a, sizeof(a), n253, 4, 0);
	assert_int_equal(strlen(a), 253);
	make_name(b, sizeof(b), n253, 4, 1);
	assert_int_equal(strlen(b), 254);
	assert_int_equal(mxs_name_match(a, b), 1);
	assert_int_equal(mxs_hostname_valid(a), 1);
	assert_int_equal(mxs_hostname_valid(b), 1);
	/* "*.bbb…" against the longest host: one label replaced. */
	b[62] = '*';
	assert_int_equal(mxs_name_match(b + 62, a), 1);
	b[62] = 'a';
	make_name(a, sizeof(a), n254, 4, 0);
	assert_int_equal(strlen(a), 254);
	assert_int_equal(mxs_name_match(a, a), 0);
	assert_int_equal(mxs_hostname_valid(a), 0);
	make_name(a, sizeof(a), n254, 4, 1);
	assert_int_equal(mxs_hostname_valid(a), 0);
}

struct valid_case {
	const char *name;
	int valid;
};

static const struct valid_case valid_cases[] = {
        {"mail.example.com", 1},
        {"mail.example.com.", 1},
        {"MAIL.EXAMPLE.COM", 1},
        {"xn--bcher-kva.example", 1},
        {"123.example", 1},
        {"a.b.c.d.e.f", 1},
        {"a-b.c-d.example", 1},
        {"example", 0},
        {"example.", 0},
        {"", 0},
        {".", 0},
        {"a..b", 0},
        {".a.b", 0},
        {"example.com..", 0},
        {"-a.example", 0},
        {"a-.example", 0},
        {"a.example-", 0},
        {"a.123", 0},
        {"1.2.3.4", 0},
        {"1.2.3.4.", 0},
        {"127.1", 0},
        {"::1", 0},
        {"2001:db8::1", 0},
        {"[1.2.3.4]", 0},
        {"[IPv6:2001:db8::1]", 0},
        {"a_b.example", 0},
        {"*.example.com", 0},
        {"ex ample.com", 0},
        {"b\xc3\xbc"
         "cher.example",
         0},
        {"mail.example.com\r", 0},
};

static void
test_hostname_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
		print_message("valid \"%s\" -> %d\n", valid_cases[i].name, valid_cases[i].valid);
		assert_int_equal(mxs_hostname_valid(valid_cases[i].name), valid_cases[i].valid);
	}
	assert_int_equal(mxs_hostname_valid(NULL), 0);
}

/* ---- RFC 8461 mx-match vectors ---- */

static int
has_non_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/*
 * Collect the "mx:" patterns of a policy body (mox vectors give the policy
 * text rather than a list) into arr.
 */
static void
policy_patterns(const char *policy, json_t *arr)
{
	const char *p = policy;

	while (*p != '\0') {
		const char *eol = strchr(p, '\n'), *v;

		if (eol == NULL)
			eol = p + strlen(p);
		if (eol - p > 3 && strncmp(p, "mx:", 3) == 0) {
			for (v = p + 3; v < eol && (*v == ' ' || *v == '\t'); v++)
				;
			json_array_append_new(arr, json_stringn(v, (size_t)(eol - v)));
		}
		p = *eol != '\0' ? eol + 1 : eol;
	}
}

/*
 * Run one vector file.  A vector whose names carry non-ASCII octets is one
 * where the upstream normalises U-labels with IDNA; certname.h (and RFC 8461
 * §3.2, see MANIFEST.md) requires A-labels, so certname must say "no match"
 * there.  Every other vector must agree with upstream.
 */
static void
run_vector_file(const char *path, const char *label)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr), *cases, *file_pats, *c;
	size_t i, agree = 0, ulabel = 0, other = 0;

	if (root == NULL)
		fail_msg("%s: %s line %d", path, jerr.text, jerr.line);
	cases = json_object_get(root, "cases");
	assert_true(json_is_array(cases));
	file_pats = json_array();
	if (json_is_string(json_object_get(root, "policy")))
		policy_patterns(json_string_value(json_object_get(root, "policy")), file_pats);

	json_array_foreach(cases, i, c)
	{
		const char *mx = json_string_value(json_object_get(c, "mx"));
		json_t *pats = json_object_get(c, "patterns"), *pv;
		int want = json_is_true(json_object_get(c, "match")), got = 0, nonascii;
		size_t j;

		assert_non_null(mx);
		if (!json_is_array(pats))
			pats = file_pats;
		nonascii = has_non_ascii(mx);
		json_array_foreach(pats, j, pv)
		{
			nonascii |= has_non_ascii(json_string_value(pv));
			got |= mxs_name_match(json_string_value(pv), mx);
		}
		if (got == want) {
			agree++;
		} else if (nonascii && !got) {
			ulabel++;
			print_message("  %s #%zu mx \"%s\": upstream %d, certname 0 (U-label)\n",
			              label, i, mx, want);
		} else {
			other++;
			print_message("  %s #%zu mx \"%s\": upstream %d, certname %d\n", label, i,
			              mx, want, got);
		}
	}
	print_message("mx-match %s: %zu vectors, %zu agree, %zu differ only by U-label input"
	              ", %zu other disagreements\n",
	              label, json_array_size(cases), agree, ulabel, other);
	assert_int_equal(other, 0);
	assert_true(agree > 0);
	json_decref(file_pats);
	json_decref(root);
}

static void
test_mx_match_vectors(void **state)
{
	const char *data = getenv("MXS_SHARED_DATA");
	char dir[1024], path[1200];
	struct dirent *de;
	size_t files = 0;
	DIR *d;
	int n;

	(void)state;
	if (data == NULL) {
		print_message("MXS_SHARED_DATA not set: vectors not run\n");
		skip();
	}
	n = snprintf(dir, sizeof(dir), "%s/policy-vectors", data);
	assert_true(n > 0 && (size_t)n < sizeof(dir));
	if ((d = opendir(dir)) == NULL)
		fail_msg("cannot open %s", dir);
	while ((de = readdir(d)) != NULL) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		n = snprintf(path, sizeof(path), "%s/%s/mx-match.json", dir, de->d_name);
		assert_true(n > 0 && (size_t)n < sizeof(path));
		if ((f = fopen(path, "r")) == NULL)
			continue;
		fclose(f);
		run_vector_file(path, de->d_name);
		files++;
	}
	closedir(d);
	assert_true(files > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_match_table),
	        cmocka_unit_test(test_lengths),
	        cmocka_unit_test(test_hostname_valid),
	        cmocka_unit_test(test_mx_match_vectors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
