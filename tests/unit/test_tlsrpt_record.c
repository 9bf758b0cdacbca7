/*
 * test_tlsrpt_record — unit tests for agent/tlsrpt_record.c: the rua= list,
 * URI schemes and octets, repeated rua= (a warning), hostile records, the
 * named limits, RRset verdicts, and every vector of
 * $MXS_SHARED_DATA/policy-vectors/mox/tlsrpt-{txt-record,lookup}.json.
 * The shared tokenizer and DNS outcome rule are tested in test_mtasts_txt.
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

#include "tlsrpt_record.h"
#include "testvec.h"
#include "txt_record.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- one record: edge and hostile inputs ---- */

struct parse_case {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen(in) */
	int rc;
	size_t nrua;     /* when rc == 0 */
	size_t repeated; /* rua_repeated when rc == 0 */
	const char *why; /* rc != 0: substring of the reason */
};

static const struct parse_case parse_cases[] = {
        {"minimal", "v=TLSRPTv1;rua=mailto:a@b.example", 0, 0, 1, 0, NULL},
        {"two URIs, WSP around ,", "v=TLSRPTv1;rua=mailto:a@b , \thttps://r.example/x", 0, 0, 2, 0,
         NULL},
        {"WSP before ; (erratum 6285 analogue)", "v=TLSRPTv1 ;rua=mailto:a@b", 0, 0, 1, 0, NULL},
        {"TAB delimiters, trailing ;", "v=TLSRPTv1\t;\trua=mailto:a@b\t;\t", 0, 0, 1, 0, NULL},
        {"scheme case", "v=TLSRPTv1;rua=MAILTO:a@b,HTTPS://h", 0, 0, 2, 0, NULL},
        {"mailto with query", "v=TLSRPTv1;rua=mailto:a@b?subject=tls%20report", 0, 0, 1, 0, NULL},
        {"encoded ! , ;", "v=TLSRPTv1;rua=mailto:a%21b%2Cc%3B@d", 0, 0, 1, 0, NULL},
        {"https with port, path", "v=TLSRPTv1;rua=https://r.example:8443/a/b?c=d#e", 0, 0, 1, 0,
         NULL},
        {"repeated rua: first kept", "v=TLSRPTv1;rua=mailto:a@b;rua=https://h", 0, 0, 1, 1, NULL},
        {"rua after extension", "v=TLSRPTv1;x=1;rua=mailto:a@b", 0, 0, 1, 0, NULL},
        {"later v= is an extension", "v=TLSRPTv1;rua=mailto:a@b;v=TLSRPTv2", 0, 0, 1, 0, NULL},
        {"rua= empty", "v=TLSRPTv1;rua=", 0, MXS_ESYNTAX, 0, 0, "rua= is empty"},
        {"rua= empty before ;", "v=TLSRPTv1;rua=;", 0, MXS_ESYNTAX, 0, 0, "rua= is empty"},
        {"rua=http://x", "v=TLSRPTv1;rua=http://x", 0, MXS_ESYNTAX, 0, 0,
         "'http://x': scheme not allowed"},
        {"rua=mailto:", "v=TLSRPTv1;rua=mailto:", 0, MXS_ESYNTAX, 0, 0, "needs local@domain"},
        {"mailto:@d", "v=TLSRPTv1;rua=mailto:@d", 0, MXS_ESYNTAX, 0, 0, "needs local@domain"},
        {"mailto:a@", "v=TLSRPTv1;rua=mailto:a@", 0, MXS_ESYNTAX, 0, 0, "needs local@domain"},
        {"mailto:a@?x", "v=TLSRPTv1;rua=mailto:a@?x", 0, MXS_ESYNTAX, 0, 0, "local@domain"},
        {"https:", "v=TLSRPTv1;rua=https:", 0, MXS_ESYNTAX, 0, 0, "needs //host"},
        {"https://", "v=TLSRPTv1;rua=https://", 0, MXS_ESYNTAX, 0, 0, "needs //host"},
        {"https:///p", "v=TLSRPTv1;rua=https:///p", 0, MXS_ESYNTAX, 0, 0, "needs //host"},
        {"no scheme", "v=TLSRPTv1;rua=a@b", 0, MXS_ESYNTAX, 0, 0, "'a@b' has no scheme"},
        {"scheme starts with digit", "v=TLSRPTv1;rua=1mailto:a@b", 0, MXS_ESYNTAX, 0, 0,
         "no scheme"},
        {"ftp: scheme", "v=TLSRPTv1;rua=ftp://h/x", 0, MXS_ESYNTAX, 0, 0, "scheme not allowed"},
        {"raw !", "v=TLSRPTv1;rua=mailto:a!b@c", 0, MXS_ESYNTAX, 0, 0, "'!' must be percent"},
        {"bad %", "v=TLSRPTv1;rua=mailto:a%zz@c", 0, MXS_ESYNTAX, 0, 0, "bad percent-encoding"},
        {"% at the end", "v=TLSRPTv1;rua=https://h/%4", 0, MXS_ESYNTAX, 0, 0, "percent"},
        {"NUL in URI", "v=TLSRPTv1;rua=mailto:a\0@b", 26, MXS_ESYNTAX, 0, 0, "octet 0x00"},
        {"non-ASCII URI", "v=TLSRPTv1;rua=mailto:caf\xc3\xa9@b", 0, MXS_ESYNTAX, 0, 0,
         "octet 0xc3"},
        {"quote in URI", "v=TLSRPTv1;rua=https://h/\"", 0, MXS_ESYNTAX, 0, 0, "octet 0x22"},
        {"empty URI after ,", "v=TLSRPTv1;rua=mailto:a@b,", 0, MXS_ESYNTAX, 0, 0,
         "empty URI after ','"},
        {",,", "v=TLSRPTv1;rua=mailto:a@b,,mailto:c@d", 0, MXS_ESYNTAX, 0, 0, "empty URI"},
        {"WSP after rua=", "v=TLSRPTv1;rua= mailto:a@b", 0, MXS_ESYNTAX, 0, 0,
         "does not begin with a URI"},
        {"URIs without ,", "v=TLSRPTv1;rua=mailto:a@b\tmailto:c@d", 0, MXS_ESYNTAX, 0, 0,
         "without ','"},
        {"bad repeated rua", "v=TLSRPTv1;rua=mailto:a@b;rua=http://x", 0, MXS_ESYNTAX, 0, 0,
         "http://x"},
        {"missing rua", "v=TLSRPTv1;ext=1", 0, MXS_ESYNTAX, 0, 0, "rua= field missing"},
        {"RUA upper case", "v=TLSRPTv1;RUA=mailto:a@b", 0, MXS_ESYNTAX, 0, 0, "rua= field missing"},
        {"v alone", "v=TLSRPTv1", 0, MXS_ESYNTAX, 0, 0, "rua= field missing"},
        {"V=TLSRPTv1", "V=TLSRPTv1;rua=mailto:a@b", 0, MXS_ESYNTAX, 0, 0, "does not begin"},
        {"v=TLSRPTv10", "v=TLSRPTv10;rua=mailto:a@b", 0, MXS_ESYNTAX, 0, 0, "does not begin"},
        {"trailing WSP, no ;", "v=TLSRPTv1;rua=mailto:a@b ", 0, MXS_ESYNTAX, 0, 0,
         "whitespace after"},
        {";;", "v=TLSRPTv1;rua=mailto:a@b;;", 0, MXS_ESYNTAX, 0, 0, "empty field"},
        {"bad extension", "v=TLSRPTv1;rua=mailto:a@b;x=a b", 0, MXS_ESYNTAX, 0, 0, "0x20"},
};

static void
test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		struct mxs_tlsrpt_record out;
		char err[256] = "";
		int rc = mxs_tlsrpt_record_parse(c->in, len, &out, err, sizeof(err));

		print_message("rpt %-36s rc=%d %s\n", c->name, rc, rc ? err : out.rua[0].uri);
		assert_int_equal(rc, c->rc);
		if (rc != 0) {
			assert_non_null(strstr(err, c->why));
			assert_int_equal(out.nrua, 0);
			continue;
		}
		assert_int_equal(out.nrua, c->nrua);
		assert_int_equal(out.rua_repeated, c->repeated);
	}
}

static void
test_parse_fields(void **state)
{
	const char *rec = "v=TLSRPTv1;rua=mailto:a@b,https://h/p;x.y=1;x.y=2;v=TLSRPTv9;"
	                  "rua=mailto:c@d";
	struct mxs_tlsrpt_record out;
	char err[256];

	(void)state;
	assert_int_equal(mxs_tlsrpt_record_parse(rec, strlen(rec), &out, err, sizeof(err)), 0);
	assert_int_equal(out.nrua, 2);
	assert_int_equal(out.rua[0].scheme, MXS_TLSRPT_MAILTO);
	assert_string_equal(out.rua[0].uri, "mailto:a@b");
	assert_int_equal(out.rua[1].scheme, MXS_TLSRPT_HTTPS);
	assert_string_equal(out.rua[1].uri, "https://h/p");
	assert_int_equal(out.ext.n, 1);
	assert_string_equal(out.ext.ext[0].value, "1");
	assert_int_equal(out.ext.duplicates, 1);
	assert_int_equal(out.duplicates, 1);
	assert_int_equal(out.rua_repeated, 1);
	assert_int_equal(mxs_tlsrpt_record_parse(NULL, 0, &out, err, sizeof(err)), MXS_EINVAL);
}

/* Build "v=TLSRPTv1;rua=" and n URIs "mailto:r<i>@example.org" into buf. */
static size_t
rua_record(char *buf, size_t buflen, size_t n)
{
	size_t o = 0;
	int w = snprintf(buf, buflen, "v=TLSRPTv1;rua=");

	o += (size_t)w;
	for (size_t i = 0; i < n; i++) {
		w = snprintf(buf + o, buflen - o, "%smailto:r%zu@example.org", i ? "," : "", i);
		assert_true(w > 0 && (size_t)w < buflen - o);
		o += (size_t)w;
	}
	return o;
}

static void
test_limits(void **state)
{
	static char rec[65536];
	struct mxs_txt_str s = {rec, 0};
	struct mxs_txt_answer a = {1, 0, 0, &s, 1};
	static struct mxs_tlsrpt_result res;
	static struct mxs_tlsrpt_record out;
	char err[256];
	size_t len;

	(void)state;
	len = rua_record(rec, sizeof(rec), MXS_TLSRPT_RUA_MAX);
	assert_int_equal(mxs_tlsrpt_record_parse(rec, len, &out, err, sizeof(err)), 0);
	assert_int_equal(out.nrua, MXS_TLSRPT_RUA_MAX);
	len = rua_record(rec, sizeof(rec), MXS_TLSRPT_RUA_MAX + 1);
	assert_int_equal(mxs_tlsrpt_record_parse(rec, len, &out, err, sizeof(err)), MXS_ELIMIT);
	assert_non_null(strstr(err, "more than 16 URIs"));
	/* 1000 URIs: over the record limit; the verdict says it is ours. */
	s.len = rua_record(rec, sizeof(rec), 1000);
	assert_int_equal(mxs_tlsrpt_record_parse(rec, s.len, &out, err, sizeof(err)), MXS_ELIMIT);
	mxs_tlsrpt_record_judge(&a, &res);
	assert_int_equal(res.verdict, MXS_TXT_INVALID);
	assert_true(res.over_limit);
	print_message("1000 URIs: %s\n", res.reason);
	/* One URI of MXS_TLSRPT_URI_MAX - 1 octets fits, one more does not. */
	len = rua_record(rec, sizeof(rec), 0);
	memcpy(rec + len, "https://h/", 10);
	memset(rec + len + 10, 'a', MXS_TLSRPT_URI_MAX - 11);
	s.len = len + MXS_TLSRPT_URI_MAX - 1;
	assert_int_equal(mxs_tlsrpt_record_parse(rec, s.len, &out, err, sizeof(err)), 0);
	assert_int_equal(strlen(out.rua[0].uri), MXS_TLSRPT_URI_MAX - 1);
	rec[s.len] = 'a';
	assert_int_equal(mxs_tlsrpt_record_parse(rec, s.len + 1, &out, err, sizeof(err)),
	                 MXS_ELIMIT);
	/* 64 KiB record. */
	memset(rec + len, 'a', sizeof(rec) - len);
	assert_int_equal(mxs_tlsrpt_record_parse(rec, sizeof(rec), &out, err, sizeof(err)),
	                 MXS_ELIMIT);
	assert_non_null(strstr(err, "65536 octets"));
}

/* ---- RRset verdicts ---- */

#define RRSET_MAX 4

struct rrset_case {
	const char *name;
	int rcode;
	const char *recs[RRSET_MAX]; /* NULL-terminated */
	enum mxs_txt_verdict v;
	const char *why; /* substring of the reason */
};

static const struct rrset_case rrset_cases[] = {
        {"one record", 0, {"v=TLSRPTv1;rua=mailto:a@b"}, MXS_TXT_VALID, "1 rua URI(s)"},
        {"unrelated discarded",
         0,
         {"v=spf1 -all", "v=TLSRPTv1;rua=mailto:a@b"},
         MXS_TXT_VALID,
         NULL},
        {"repeated rua noted",
         0,
         {"v=TLSRPTv1;rua=mailto:a@b;rua=mailto:c@d"},
         MXS_TXT_VALID,
         "repeated rua= ignored"},
        {"two records",
         0,
         {"v=TLSRPTv1;rua=mailto:a@b", "v=TLSRPTv1 ;rua=mailto:c@d"},
         MXS_TXT_MULTIPLE,
         "2 TXT records"},
        {"only unrelated", 0, {"v=STSv1;id=1"}, MXS_TXT_NONE, "none of 1"},
        {"v=TLSRPTv10", 0, {"v=TLSRPTv10;rua=mailto:a@b"}, MXS_TXT_NONE, NULL},
        {"invalid", 0, {"v=TLSRPTv1;rua=http://x"}, MXS_TXT_INVALID, "http://x"},
        {"NODATA", 0, {NULL}, MXS_TXT_NONE, "NODATA"},
        {"NXDOMAIN", 3, {NULL}, MXS_TXT_NONE, "NXDOMAIN"},
        {"SERVFAIL", 2, {NULL}, MXS_TXT_TEMPORARY, "SERVFAIL"},
        {"REFUSED", 5, {"v=TLSRPTv1;rua=mailto:a@b"}, MXS_TXT_TEMPORARY, "RCODE"},
};

static void
test_rrset_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(rrset_cases); i++) {
		const struct rrset_case *c = &rrset_cases[i];
		struct mxs_txt_str s[RRSET_MAX];
		struct mxs_txt_answer a = {1, c->rcode, 0, s, 0};
		static struct mxs_tlsrpt_result res;

		for (; a.ntxt < RRSET_MAX && c->recs[a.ntxt] != NULL; a.ntxt++) {
			s[a.ntxt].s = c->recs[a.ntxt];
			s[a.ntxt].len = strlen(c->recs[a.ntxt]);
		}
		mxs_tlsrpt_record_judge(&a, &res);
		print_message("rrset %-20s %-9s %s\n", c->name, mxs_txt_verdict_name(res.verdict),
		              res.reason);
		assert_int_equal(res.verdict, c->v);
		if (c->why != NULL)
			assert_non_null(strstr(res.reason, c->why));
	}
}

/* ---- vector files ---- */

/*
 * Vectors whose upstream verdict differs from the RFC text: the RFC verdict
 * is asserted, and the upstream's facts are checked on the input with the
 * offending part removed (strip_wsp: trailing WSP dropped).
 */
static const struct rfc_override {
	const char *input;
	const char *why;
} overrides[] = {
        {"v=TLSRPTv1; rua=mailto:tlsrpt@mox.example , \t\t https://mox.example/tlsrpt  ",
         "RFC 8460 §3 ABNF: WSP after the last field only as part of field-delim, which needs "
         "';' (mox accepts; postfix-tlspol rejects the same shape in _mta-sts)"},
};

/* mox's expectation {v, rua: [[uri...] per rua= field], extensions} vs out. */
static int
record_matches(json_t *exp, const struct mxs_tlsrpt_record *out)
{
	json_t *rua = json_object_get(exp, "rua"), *first = json_array_get(rua, 0);
	json_t *ext = json_object_get(exp, "extensions"), *u, *pair;
	size_t i;

	if (strcmp(tv_str(exp, "v"), "TLSRPTv1") != 0 || json_array_size(first) != out->nrua ||
	    json_array_size(rua) != out->rua_repeated + 1 || json_array_size(ext) != out->ext.n)
		return 0;
	json_array_foreach(first, i, u)
	{
		if (strcmp(json_string_value(u), out->rua[i].uri) != 0)
			return 0;
	}
	json_array_foreach(ext, i, pair)
	{
		if (strcmp(json_string_value(json_array_get(pair, 0)), out->ext.ext[i].name) != 0 ||
		    strcmp(json_string_value(json_array_get(pair, 1)), out->ext.ext[i].value) != 0)
			return 0;
	}
	return 1;
}

static int
record_vector(json_t *c, size_t *rfc)
{
	json_t *in = json_object_get(c, "input"), *exp = json_object_get(c, "expect");
	struct mxs_txt_str s = {json_string_value(in), json_string_length(in)};
	struct mxs_txt_answer a = {1, 0, 0, &s, 1};
	static struct mxs_tlsrpt_result res;
	static struct mxs_tlsrpt_record out;
	char err[256] = "";
	int rc;

	rc = mxs_tlsrpt_record_parse(s.s, s.len, &out, err, sizeof(err));
	mxs_tlsrpt_record_judge(&a, &res);
	for (size_t i = 0; i < NELEM(overrides); i++) {
		if (strcmp(overrides[i].input, s.s) != 0)
			continue;
		(*rfc)++;
		print_message("  RFC verdict for \"%s\": %s (%s)\n", s.s, err, overrides[i].why);
		if (rc != MXS_ESYNTAX || res.verdict != MXS_TXT_INVALID)
			return 0;
		while (s.len > 0 && (s.s[s.len - 1] == ' ' || s.s[s.len - 1] == '\t'))
			s.len--;
		rc = mxs_tlsrpt_record_parse(s.s, s.len, &out, err, sizeof(err));
		return rc == 0 && record_matches(exp, &out);
	}
	if (json_is_string(exp)) {
		if (err[0] != '\0')
			print_message("  rejected \"%s\": %s\n", s.s, err);
		return rc == MXS_ESYNTAX && res.verdict != MXS_TXT_VALID;
	}
	return rc == 0 && res.verdict == MXS_TXT_VALID && record_matches(exp, &out) &&
	       record_matches(exp, &res.rec);
}

static void
test_vectors_record(void **state)
{
	struct tv_tally t = {"mox/tlsrpt-txt-record.json", 0, 0, 0};
	json_t *cases, *c, *root = tv_load(t.file, &cases);
	size_t i;

	(void)state;
	json_array_foreach(cases, i, c)
	{
		tv_tally_one(&t, i, record_vector(c, &t.rfc), tv_str(c, "input"));
	}
	tv_tally_end(&t);
	json_decref(root);
}

static enum mxs_txt_verdict
verdict_of(const char *mox_err)
{
	if (strcmp(mox_err, "ErrNoRecord") == 0)
		return MXS_TXT_NONE;
	if (strcmp(mox_err, "ErrMultipleRecords") == 0)
		return MXS_TXT_MULTIPLE;
	if (strcmp(mox_err, "ErrRecordSyntax") == 0)
		return MXS_TXT_INVALID;
	if (strcmp(mox_err, "ErrDNS") == 0)
		return MXS_TXT_TEMPORARY;
	fail_msg("unknown expectation %s", mox_err);
	return MXS_TXT_UNKNOWN;
}

/*
 * Answer from mox's mock resolver ({TXT: {name: [record...]}, SERVFAIL:
 * ["txt name"]}; this file has no CNAMEs, test_mtasts_txt plays those):
 * each record becomes TXT rdata and is joined back with mxs_txt_join.
 */
static int
lookup_vector(json_t *resolver, json_t *c)
{
	const char *domain = tv_str(c, "domain");
	json_t *exp = json_object_get(c, "expect"), *rrs, *rr, *sf;
	static char text[RRSET_MAX][MXS_TXT_TEXT_MAX];
	struct mxs_txt_str s[RRSET_MAX];
	struct mxs_txt_answer a = {1, 3, 0, s, 0};
	static struct mxs_tlsrpt_result res;
	char qname[300], err[128];
	unsigned char rd[512];
	unsigned flags;
	size_t i;
	int n;

	assert_null(json_object_get(resolver, "CNAME"));
	n = snprintf(qname, sizeof(qname), "_smtp._tls.%s.", domain);
	assert_true(n > 0 && (size_t)n < sizeof(qname));
	json_array_foreach(json_object_get(resolver, "SERVFAIL"), i, sf)
	{
		if (strncmp(json_string_value(sf), "txt ", 4) == 0 &&
		    strcmp(json_string_value(sf) + 4, qname) == 0)
			a.rcode = 2;
	}
	if (a.rcode != 2 && (rrs = json_object_get(json_object_get(resolver, "TXT"), qname))) {
		a.rcode = 0;
		json_array_foreach(rrs, i, rr)
		{
			assert_true(i < RRSET_MAX && json_string_length(rr) < 255);
			rd[0] = (unsigned char)json_string_length(rr);
			memcpy(rd + 1, json_string_value(rr), rd[0]);
			assert_int_equal(mxs_txt_join(rd, rd[0] + 1u, text[i], sizeof(text[i]),
			                              &s[i].len, &flags, err, sizeof(err)),
			                 0);
			s[i].s = text[i];
			a.ntxt++;
		}
	}
	mxs_tlsrpt_record_judge(&a, &res);
	print_message("  %-20s %-9s %s\n", domain, mxs_txt_verdict_name(res.verdict), res.reason);
	if (json_is_string(exp))
		return res.verdict == verdict_of(json_string_value(exp));
	return res.verdict == MXS_TXT_VALID && record_matches(exp, &res.rec);
}

static void
test_vectors_lookup(void **state)
{
	struct tv_tally t = {"mox/tlsrpt-lookup.json", 0, 0, 0};
	json_t *cases, *c, *root = tv_load(t.file, &cases);
	size_t i;

	(void)state;
	json_array_foreach(cases, i, c)
	{
		tv_tally_one(&t, i, lookup_vector(json_object_get(root, "resolver"), c),
		             tv_str(c, "domain"));
	}
	tv_tally_end(&t);
	json_decref(root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_table),    cmocka_unit_test(test_parse_fields),
	        cmocka_unit_test(test_limits),         cmocka_unit_test(test_rrset_table),
	        cmocka_unit_test(test_vectors_record), cmocka_unit_test(test_vectors_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
