/*
 * test_mtasts_txt — unit tests for agent/txt_record.c and agent/mtasts_txt.c:
 * TXT joining, the field tokenizer, the DNS outcome rule, the _mta-sts
 * record parser and RRset verdict, hostile records, and every vector of
 * $MXS_SHARED_DATA/policy-vectors that concerns the _mta-sts TXT record.
 *
 * Lookup vectors (mox sts-lookup, postfix-tlspol rrsets) are played as DNS
 * answer packets built here, parsed by dns_wire and joined by
 * mxs_txt_rrset_join, so CNAME chains and RCODEs take the probe's path.
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

#include "dns_wire.h"
#include "mtasts_txt.h"
#include "testvec.h"
#include "txt_record.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- DNS answer packets ---- */

struct pk {
	unsigned char b[MXS_DNS_PACKET_MAX];
	size_t n;
};

static void
put_bytes(struct pk *p, const void *b, size_t n)
{
	assert_true(n <= sizeof(p->b) - p->n);
	memcpy(p->b + p->n, b, n);
	p->n += n;
}

static void
put16(struct pk *p, unsigned v)
{
	unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};

	put_bytes(p, b, 2);
}

static void
put_name(struct pk *p, const char *name)
{
	unsigned char w[MXS_DNS_NAME_MAX + 1];
	int n = mxs_dns_name_to_wire(name, w, sizeof(w));

	assert_true(n > 0);
	put_bytes(p, w, (size_t)n);
}

/* Header and question for qname TXT; RRs are appended with pk_rr. */
static void
pk_start(struct pk *p, const char *qname)
{
	p->n = 0;
	put16(p, 0x1234);
	put16(p, 0x8180); /* QR RD RA, RCODE set by pk_finish */
	put16(p, 1);
	put16(p, 0);
	put16(p, 0);
	put16(p, 0);
	put_name(p, qname);
	put16(p, MXS_DNS_T_TXT);
	put16(p, 1);
}

static void
pk_rr(struct pk *p, const char *owner, unsigned type, const unsigned char *rd, size_t rdlen)
{
	unsigned char ttl[4] = {0, 0, 1, 0};

	put_name(p, owner);
	put16(p, type);
	put16(p, 1);
	put_bytes(p, ttl, 4);
	put16(p, (unsigned)rdlen);
	put_bytes(p, rd, rdlen);
}

static void
pk_finish(struct pk *p, int rcode, unsigned ancount)
{
	p->b[3] = (unsigned char)((p->b[3] & 0xf0) | (rcode & 0x0f));
	p->b[6] = (unsigned char)(ancount >> 8);
	p->b[7] = (unsigned char)ancount;
}

/* Append len octets as character-strings (split every 255) to rd. */
static size_t
rdata_add(unsigned char *rd, size_t rdmax, size_t o, const char *s, size_t len)
{
	do {
		size_t chunk = len > 255 ? 255 : len;

		assert_true(o + 1 + chunk <= rdmax);
		rd[o++] = (unsigned char)chunk;
		memcpy(rd + o, s, chunk);
		o += chunk;
		s += chunk;
		len -= chunk;
	} while (len > 0);
	return o;
}

/* TXT rdata for a JSON RR: a string, or an array of character-strings. */
static size_t
rdata_json(unsigned char *rd, size_t rdmax, json_t *rr)
{
	size_t o = 0, i;
	json_t *s;

	if (json_is_string(rr))
		return rdata_add(rd, rdmax, 0, json_string_value(rr), json_string_length(rr));
	assert_true(json_is_array(rr));
	json_array_foreach(rr, i, s)
	{
		o = rdata_add(rd, rdmax, o, json_string_value(s), json_string_length(s));
	}
	return o;
}

/* Parse the packet, join its TXT RRset for qname and judge it, the way the
 * probe will: an answer whose RRset cannot be joined is unusable. */
static void
judge_packet(const struct pk *p, const char *qname, struct mxs_mtasts_txt_result *res)
{
	struct mxs_txt_answer a = {0};
	struct mxs_txt_str *txt = NULL;
	struct mxs_dns_msg m;
	char err[256] = "";
	size_t n = 0;

	assert_int_equal(mxs_dns_parse(p->b, p->n, &m, err, sizeof(err)), 0);
	a.answered = mxs_txt_rrset_join(&m, qname, &txt, &n, err, sizeof(err)) == 0;
	a.rcode = m.rcode;
	a.txt = txt;
	a.ntxt = n;
	mxs_mtasts_txt_judge(&a, res);
	mxs_txt_rrset_free(&txt);
	assert_null(txt);
	mxs_dns_msg_free(&m);
}

/* ---- vector files ---- */

static enum mxs_txt_verdict
verdict_of(const char *mox_err)
{
	static const struct {
		const char *err;
		enum mxs_txt_verdict v;
	} map[] = {
	        {"ErrNoRecord", MXS_TXT_NONE},
	        {"ErrMultipleRecords", MXS_TXT_MULTIPLE},
	        {"ErrRecordSyntax", MXS_TXT_INVALID},
	        {"ErrDNS", MXS_TXT_TEMPORARY},
	};

	for (size_t i = 0; i < NELEM(map); i++)
		if (strcmp(map[i].err, mox_err) == 0)
			return map[i].v;
	fail_msg("unknown expectation %s", mox_err);
	return MXS_TXT_UNKNOWN;
}

/* Extensions as [[name, value], ...] equal to e, in order. */
static int
exts_equal(json_t *want, const struct mxs_txt_exts *e)
{
	json_t *pair;
	size_t i;

	if (json_array_size(want) != e->n)
		return 0;
	json_array_foreach(want, i, pair)
	{
		if (strcmp(json_string_value(json_array_get(pair, 0)), e->ext[i].name) != 0 ||
		    strcmp(json_string_value(json_array_get(pair, 1)), e->ext[i].value) != 0)
			return 0;
	}
	return 1;
}

/*
 * One record vector: "fail"/"error", or {v, id, extensions}.  The parser
 * and the verdict for a one-record RRset must both agree with it.
 * exts_complete: the upstream lists every extension (mox), so none listed
 * means none kept.
 */
static int
record_vector(json_t *c, int exts_complete, char *why, size_t whylen)
{
	json_t *in = json_object_get(c, "input"), *exp = json_object_get(c, "expect"), *ext;
	struct mxs_txt_str s = {json_string_value(in), json_string_length(in)};
	struct mxs_txt_answer a = {1, 0, 0, &s, 1};
	struct mxs_mtasts_txt_result res;
	struct mxs_mtasts_txt rec;
	const char *v, *id;
	int rc;

	rc = mxs_mtasts_txt_parse(s.s, s.len, &rec, why, whylen);
	mxs_mtasts_txt_judge(&a, &res);
	if (json_is_string(exp))
		return rc == MXS_ESYNTAX && res.verdict != MXS_TXT_VALID;
	v = tv_str(exp, "v");
	id = tv_str(exp, "id");
	ext = json_object_get(exp, "extensions");
	if (rc != 0 || res.verdict != MXS_TXT_VALID || id == NULL || strcmp(rec.id, id) != 0 ||
	    strcmp(res.rec.id, id) != 0 || (v != NULL && strcmp(v, "STSv1") != 0))
		return 0;
	if (ext != NULL)
		return exts_equal(ext, &rec.ext);
	return !exts_complete || rec.ext.n == 0;
}

static void
run_record_file(const char *rel, int exts_complete)
{
	struct tv_tally t = {rel, 0, 0, 0};
	json_t *cases, *c, *root = tv_load(rel, &cases);
	char why[256];
	size_t i;

	json_array_foreach(cases, i, c)
	{
		why[0] = '\0';
		tv_tally_one(&t, i, record_vector(c, exts_complete, why, sizeof(why)),
		             tv_str(c, "input"));
		if (why[0] != '\0')
			print_message("  %s #%zu rejected: %s\n", rel, i, why);
	}
	tv_tally_end(&t);
	json_decref(root);
}

static void
test_vectors_foxcpp(void **state)
{
	(void)state;
	run_record_file("foxcpp-go-mtasts/txt-record.json", 0);
}

static void
test_vectors_mox_record(void **state)
{
	(void)state;
	run_record_file("mox/sts-txt-record.json", 1);
}

/*
 * postfix-mta-sts-resolver's tokenizer splits on ";" and returns a dict;
 * it validates nothing.  The equivalent fact here: the fields our
 * tokenizer yields before the end or before its first error are exactly
 * that dict.  Where the dict is complete but the RFC ABNF rejects the
 * record (WSP at the end, ";;"), the RFC verdict is asserted too: the
 * record is invalid and the reason says why.
 */
static int
pmsr_vector(json_t *c, size_t *rfc)
{
	json_t *in = json_object_get(c, "input"), *exp = json_object_get(c, "expect");
	const char *rec = json_string_value(in);
	size_t len = json_string_length(in), nf = 0;
	struct mxs_mtasts_txt parsed;
	struct mxs_txt_field f;
	struct mxs_txt_tok t;
	char err[256] = "", perr[256] = "";
	int rc, prc;

	mxs_txt_tok_init(&t, rec, len);
	while ((rc = mxs_txt_tok_next(&t, &f, err, sizeof(err))) == 1) {
		json_t *want = json_object_getn(exp, f.name, f.namelen);

		if (!json_is_string(want) || json_string_length(want) != f.valuelen ||
		    memcmp(json_string_value(want), f.value, f.valuelen) != 0)
			return 0;
		nf++;
	}
	if (nf != json_object_size(exp))
		return 0;
	prc = mxs_mtasts_txt_parse(rec, len, &parsed, perr, sizeof(perr));
	if (rc == 0 && nf > 0)
		return prc == 0 && strcmp(parsed.id, tv_str(exp, "id")) == 0;
	if (prc != MXS_ESYNTAX)
		return 0;
	if (nf > 0) {
		(*rfc)++;
		print_message("  RFC 8461 rejects \"%s\": %s\n", rec, perr);
	}
	return 1;
}

static void
test_vectors_pmsr(void **state)
{
	struct tv_tally t = {"postfix-mta-sts-resolver/txt-record-parse.json", 0, 0, 0};
	json_t *cases, *c, *root = tv_load(t.file, &cases);
	size_t i;

	(void)state;
	json_array_foreach(cases, i, c)
	{
		tv_tally_one(&t, i, pmsr_vector(c, &t.rfc), tv_str(c, "input"));
	}
	tv_tally_end(&t);
	json_decref(root);
}

/*
 * postfix-tlspol: each case is a whole answer for _mta-sts.example.com (RRs
 * of character-strings), or just an RCODE.  true = a policy id was found;
 * false = no available policy (none, multiple or invalid);
 * "temporary-error" = try again.
 */
static int
tlspol_vector(json_t *c)
{
	const char *qname = "_mta-sts.example.com.";
	json_t *rrset = json_object_get(c, "rrset"), *rr, *exp = json_object_get(c, "expect");
	const char *rcode = tv_str(c, "rcode");
	static struct pk p;
	unsigned char rd[65535];
	struct mxs_mtasts_txt_result res;
	int code = 0;
	size_t i;

	pk_start(&p, qname);
	if (rcode != NULL)
		code = strcmp(rcode, "SERVFAIL") == 0 ? 2 : strcmp(rcode, "NXDOMAIN") == 0 ? 3 : -1;
	assert_true(code >= 0);
	json_array_foreach(rrset, i, rr)
	{
		pk_rr(&p, qname, MXS_DNS_T_TXT, rd, rdata_json(rd, sizeof(rd), rr));
	}
	pk_finish(&p, code, (unsigned)json_array_size(rrset));
	judge_packet(&p, qname, &res);
	print_message("  %-40s %-9s %s\n", tv_str(c, "name"), mxs_txt_verdict_name(res.verdict),
	              res.reason);
	if (json_is_true(exp))
		return res.verdict == MXS_TXT_VALID;
	if (json_is_false(exp))
		return res.verdict == MXS_TXT_NONE || res.verdict == MXS_TXT_MULTIPLE ||
		       res.verdict == MXS_TXT_INVALID;
	return strcmp(json_string_value(exp), "temporary-error") == 0 &&
	       res.verdict == MXS_TXT_TEMPORARY;
}

static void
test_vectors_tlspol(void **state)
{
	struct tv_tally t = {"postfix-tlspol/sts-txt-rrset.json", 0, 0, 0};
	json_t *cases, *c, *root = tv_load(t.file, &cases);
	size_t i;

	(void)state;
	json_array_foreach(cases, i, c)
	{
		tv_tally_one(&t, i, tlspol_vector(c), tv_str(c, "name"));
	}
	tv_tally_end(&t);
	json_decref(root);
}

/* "txt <name>" in the resolver's SERVFAIL list. */
static int
servfails(json_t *resolver, const char *name)
{
	json_t *s;
	size_t i;

	json_array_foreach(json_object_get(resolver, "SERVFAIL"), i, s)
	{
		const char *e = json_string_value(s);

		if (strncmp(e, "txt ", 4) == 0 && strcmp(e + 4, name) == 0)
			return 1;
	}
	return 0;
}

/*
 * Answer qname from a mock resolver ({TXT: {name: [rr...]}, CNAME: {name:
 * target}, SERVFAIL: ["txt name"]}) as a recursive resolver would: the
 * CNAME chain and the TXT RRset at its end; SERVFAIL anywhere on the chain
 * fails the whole answer; a name with neither is NXDOMAIN.
 */
static void
pk_resolve(struct pk *p, json_t *resolver, const char *qname)
{
	json_t *txt = json_object_get(resolver, "TXT"), *cname = json_object_get(resolver, "CNAME");
	unsigned char rd[65535];
	const char *name = qname;
	unsigned an = 0;
	int rcode = 3;
	size_t qend, i;
	json_t *rrs, *rr;

	pk_start(p, qname);
	qend = p->n;
	for (int hop = 0; hop <= MXS_DNS_CNAME_MAX; hop++) {
		if (servfails(resolver, name)) {
			p->n = qend;
			an = 0;
			rcode = 2;
			break;
		}
		if ((rrs = json_object_get(txt, name)) != NULL) {
			json_array_foreach(rrs, i, rr)
			{
				pk_rr(p, name, MXS_DNS_T_TXT, rd, rdata_json(rd, sizeof(rd), rr));
				an++;
			}
			rcode = 0;
			break;
		}
		if (json_object_get(cname, name) == NULL)
			break;
		{
			const char *target = json_string_value(json_object_get(cname, name));
			int n = mxs_dns_name_to_wire(target, rd, sizeof(rd));

			assert_true(n > 0);
			pk_rr(p, name, MXS_DNS_T_CNAME, rd, (size_t)n);
			an++;
			name = target;
		}
	}
	pk_finish(p, rcode, an);
}

static int
lookup_vector(json_t *resolver, json_t *c)
{
	const char *domain = tv_str(c, "domain");
	json_t *exp = json_object_get(c, "expect");
	struct mxs_mtasts_txt_result res;
	static struct pk p;
	char qname[300];
	int n;

	n = snprintf(qname, sizeof(qname), "_mta-sts.%s.", domain);
	assert_true(n > 0 && (size_t)n < sizeof(qname));
	pk_resolve(&p, resolver, qname);
	judge_packet(&p, qname, &res);
	print_message("  %-26s %-9s %s\n", domain, mxs_txt_verdict_name(res.verdict), res.reason);
	if (json_is_string(exp))
		return res.verdict == verdict_of(json_string_value(exp));
	return res.verdict == MXS_TXT_VALID && strcmp(res.rec.id, tv_str(exp, "id")) == 0;
}

static void
test_vectors_mox_lookup(void **state)
{
	struct tv_tally t = {"mox/sts-lookup.json", 0, 0, 0};
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

/* ---- txt_record: joining ---- */

static void
test_join(void **state)
{
	static const unsigned char split[] = "\x0cv=STSv1; id=\x08policy1;";
	static const unsigned char empties[] = "\x00\x01"
	                                       "a\x00";
	static const unsigned char overrun[] = "\x05"
	                                       "ab";
	static const unsigned char nul[] = "\x03"
	                                   "a\x00"
	                                   "b";
	static const unsigned char high[] = "\x05"
	                                    "caf\xc3\xa9";
	char buf[64], err[128];
	unsigned flags;
	size_t len;

	(void)state;
	assert_int_equal(mxs_txt_join(split, sizeof(split) - 1, buf, sizeof(buf), &len, &flags, err,
	                              sizeof(err)),
	                 0);
	assert_string_equal(buf, "v=STSv1; id=policy1;");
	assert_int_equal(len, 20);
	assert_int_equal(flags, 0);
	assert_int_equal(mxs_txt_join(empties, 4, buf, sizeof(buf), &len, &flags, err, sizeof(err)),
	                 0);
	assert_string_equal(buf, "a");
	assert_int_equal(mxs_txt_join(high, 6, buf, sizeof(buf), &len, &flags, err, sizeof(err)),
	                 0);
	assert_int_equal(flags, MXS_TXT_F_NONASCII);
	/* Exactly fits (20 octets + NUL), one octet short. */
	assert_int_equal(
	        mxs_txt_join(split, sizeof(split) - 1, buf, 21, &len, &flags, err, sizeof(err)), 0);
	assert_int_equal(
	        mxs_txt_join(split, sizeof(split) - 1, buf, 20, &len, &flags, err, sizeof(err)),
	        MXS_ELIMIT);
	assert_string_equal(buf, "");
	assert_int_equal(len, 0);
	assert_int_equal(mxs_txt_join(split, 0, buf, sizeof(buf), &len, &flags, err, sizeof(err)),
	                 MXS_ESYNTAX);
	assert_int_equal(mxs_txt_join(overrun, 3, buf, sizeof(buf), &len, &flags, err, sizeof(err)),
	                 MXS_ESYNTAX);
	assert_non_null(strstr(err, "runs past"));
	assert_int_equal(mxs_txt_join(nul, 4, buf, sizeof(buf), &len, &flags, err, sizeof(err)),
	                 MXS_ESYNTAX);
	assert_non_null(strstr(err, "NUL octet at offset 1"));
	assert_int_equal(mxs_txt_join(nul, 4, buf, 0, &len, &flags, err, sizeof(err)), MXS_EINVAL);
}

/* The largest rdata a TXT RR can carry (257 strings) against the limit. */
static void
test_join_64k(void **state)
{
	static unsigned char rd[65535];
	static char buf[MXS_TXT_TEXT_MAX + 1], big[65536];
	char err[128];
	unsigned flags;
	size_t o = 0, len;

	(void)state;
	memset(big, 'a', sizeof(big));
	while (o + 256 <= sizeof(rd))
		o = rdata_add(rd, sizeof(rd), o, big, 255);
	assert_int_equal(mxs_txt_join(rd, o, buf, sizeof(buf), &len, &flags, err, sizeof(err)),
	                 MXS_ELIMIT);
	print_message("64 KiB rdata: %s\n", err);
	assert_int_equal(mxs_txt_join(rd, o, big, sizeof(big), &len, &flags, err, sizeof(err)), 0);
	assert_int_equal(len, o / 256 * 255);
}

/* mxs_txt_rrset_join failures: a CNAME loop, malformed rdata. */
static void
test_rrset_join(void **state)
{
	static const unsigned char bad[] = "\x09"
	                                   "v=STSv1";
	static struct pk p;
	unsigned char w[MXS_DNS_NAME_MAX + 1];
	struct mxs_txt_str *txt = NULL;
	struct mxs_mtasts_txt_result res;
	struct mxs_dns_msg m;
	char err[256];
	size_t n = 0;
	int wl;

	(void)state;
	/* a -> b -> a: the loop is bounded. */
	pk_start(&p, "_mta-sts.a.example");
	wl = mxs_dns_name_to_wire("_mta-sts.b.example", w, sizeof(w));
	pk_rr(&p, "_mta-sts.a.example", MXS_DNS_T_CNAME, w, (size_t)wl);
	wl = mxs_dns_name_to_wire("_mta-sts.a.example", w, sizeof(w));
	pk_rr(&p, "_mta-sts.b.example", MXS_DNS_T_CNAME, w, (size_t)wl);
	pk_finish(&p, 0, 2);
	assert_int_equal(mxs_dns_parse(p.b, p.n, &m, err, sizeof(err)), 0);
	assert_int_equal(mxs_txt_rrset_join(&m, "_mta-sts.a.example.", &txt, &n, err, sizeof(err)),
	                 MXS_ELIMIT);
	assert_null(txt);
	print_message("CNAME loop: %s\n", err);
	mxs_dns_msg_free(&m);
	judge_packet(&p, "_mta-sts.a.example", &res);
	assert_int_equal(res.verdict, MXS_TXT_TEMPORARY);

	/* A string running past its rdata: the answer is unusable. */
	pk_start(&p, "_mta-sts.x.example");
	pk_rr(&p, "_mta-sts.x.example", MXS_DNS_T_TXT, bad, sizeof(bad) - 1);
	pk_finish(&p, 0, 1);
	assert_int_equal(mxs_dns_parse(p.b, p.n, &m, err, sizeof(err)), 0);
	assert_int_equal(mxs_txt_rrset_join(&m, "_mta-sts.x.example", &txt, &n, err, sizeof(err)),
	                 MXS_ESYNTAX);
	mxs_dns_msg_free(&m);
	mxs_txt_rrset_free(&txt);
	mxs_txt_rrset_free(NULL);
}

/* Through the join into verdicts: NUL octets kept, NODATA. */
static void
test_rrset_join_judged(void **state)
{
	static const unsigned char withnul[] = "\x0dv=STSv1;id=1\x00";
	static struct pk p;
	unsigned char w[MXS_DNS_NAME_MAX + 1];
	struct mxs_mtasts_txt_result res;
	int wl;

	(void)state;
	/* A NUL octet reaches the parser, which names it. */
	pk_start(&p, "_mta-sts.x.example");
	pk_rr(&p, "_mta-sts.x.example", MXS_DNS_T_TXT, withnul, sizeof(withnul) - 1);
	pk_finish(&p, 0, 1);
	judge_packet(&p, "_mta-sts.x.example", &res);
	assert_int_equal(res.verdict, MXS_TXT_INVALID);
	assert_non_null(strstr(res.reason, "0x00"));
	print_message("NUL in record: %s\n", res.reason);

	/* NODATA: only a record of another type at the name. */
	pk_start(&p, "_mta-sts.x.example");
	wl = mxs_dns_name_to_wire("elsewhere.example", w, sizeof(w));
	pk_rr(&p, "other.example", MXS_DNS_T_CNAME, w, (size_t)wl);
	pk_finish(&p, 0, 1);
	judge_packet(&p, "_mta-sts.x.example", &res);
	assert_int_equal(res.verdict, MXS_TXT_NONE);
	assert_non_null(strstr(res.reason, "NODATA"));
}

/* ---- txt_record: tokenizer, quoting, DNS outcome ---- */

struct tok_case {
	const char *in;
	const char *fields; /* "name=value|name=value" yielded, in order */
	int rc;             /* last return: 0 end, or the error */
	const char *why;    /* substring of the error */
};

static const struct tok_case tok_cases[] = {
        {"v=STSv1;id=1", "v=STSv1|id=1", 0, NULL},
        {"v=STSv1 \t;\t id=1 \t; ", "v=STSv1|id=1", 0, NULL},
        {"a=b=c", "a=b=c", 0, NULL},
        {"a=", "a=", 0, NULL},
        {"a=1;", "a=1", 0, NULL},
        {"a=1; \t", "a=1", 0, NULL},
        {"a=1 ", "a=1", MXS_ESYNTAX, "whitespace after the last field"},
        {"a=1;;", "a=1", MXS_ESYNTAX, "empty field"},
        {"a=1; ;b=2", "a=1", MXS_ESYNTAX, "empty field"},
        {"", "", MXS_ESYNTAX, "empty record"},
        {" a=1", "", MXS_ESYNTAX, "whitespace before"},
        {";a=1", "", MXS_ESYNTAX, "begins with ';'"},
        {"a=1;b", "a=1", MXS_ESYNTAX, "has no '='"},
        {"a=1;=b", "a=1", MXS_ESYNTAX, "has no name"},
        {"a b=1", "a b=1", 0, NULL},
        {"a=1\r\n", "a=1\r\n", 0, NULL},
};

static void
test_tokenizer(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(tok_cases); i++) {
		const struct tok_case *c = &tok_cases[i];
		char got[128] = "", err[128] = "", shown[64], gshown[64];
		struct mxs_txt_field f;
		struct mxs_txt_tok t;
		size_t o = 0;
		int rc;

		mxs_txt_tok_init(&t, c->in, strlen(c->in));
		while ((rc = mxs_txt_tok_next(&t, &f, err, sizeof(err))) == 1) {
			int n = snprintf(got + o, sizeof(got) - o, "%s%.*s=%.*s", o ? "|" : "",
			                 (int)f.namelen, f.name, (int)f.valuelen, f.value);

			assert_true(n > 0 && (size_t)n < sizeof(got) - o);
			o += (size_t)n;
		}
		mxs_txt_quote(shown, sizeof(shown), c->in, strlen(c->in));
		mxs_txt_quote(gshown, sizeof(gshown), got, strlen(got));
		print_message("tok %-24s -> %-16s rc=%d %s\n", shown, gshown, rc, err);
		assert_string_equal(got, c->fields);
		assert_int_equal(rc, c->rc);
		if (c->why != NULL)
			assert_non_null(strstr(err, c->why));
	}
}

/* 10,000 ';' after a record: stops at the first empty field. */
static void
test_tokenizer_semicolons(void **state)
{
	static char rec[12 + 10000];
	struct mxs_mtasts_txt out;
	struct mxs_txt_field f;
	struct mxs_txt_tok t;
	char err[128];
	size_t nf = 0;
	int rc;

	(void)state;
	memcpy(rec, "v=STSv1;id=1", 12);
	memset(rec + 12, ';', 10000);
	mxs_txt_tok_init(&t, rec, sizeof(rec));
	while ((rc = mxs_txt_tok_next(&t, &f, err, sizeof(err))) == 1)
		nf++;
	assert_int_equal(nf, 2);
	assert_int_equal(rc, MXS_ESYNTAX);
	assert_int_equal(mxs_mtasts_txt_parse(rec, sizeof(rec), &out, err, sizeof(err)),
	                 MXS_ELIMIT);
	/* Within the size limit: the same error from the parser. */
	assert_int_equal(mxs_mtasts_txt_parse(rec, 12 + 2000, &out, err, sizeof(err)), MXS_ESYNTAX);
	assert_non_null(strstr(err, "empty field"));
}

static void
test_quote(void **state)
{
	char out[16];

	(void)state;
	mxs_txt_quote(out, sizeof(out), "ab\x01\\c", 5);
	assert_string_equal(out, "ab\\x01\\x5cc");
	mxs_txt_quote(out, sizeof(out), "abcdefghijklmnopqrstuvwxyz", 26);
	assert_string_equal(out, "abcdefghijkl...");
	mxs_txt_quote(out, sizeof(out), "abcdefghijk\xff\xff", 13);
	assert_string_equal(out, "abcdefghijk...");
	mxs_txt_quote(out, sizeof(out), "abcdefghijklmno", 15);
	assert_string_equal(out, "abcdefghijklmno");
	mxs_txt_quote(out, 1, "abc", 3);
	assert_string_equal(out, "");
	mxs_txt_quote(out, 3, "abc", 3);
	assert_string_equal(out, "..");
}

static void
test_dns_classify(void **state)
{
	static const struct {
		int answered, rcode, bogus;
		size_t ntxt;
		enum mxs_txt_verdict v;
	} cases[] = {
	        {0, -1, 0, 0, MXS_TXT_TEMPORARY}, /* timeout */
	        {1, 2, 0, 0, MXS_TXT_TEMPORARY},  /* SERVFAIL */
	        {1, 5, 0, 0, MXS_TXT_TEMPORARY},  /* REFUSED */
	        {1, 4, 0, 0, MXS_TXT_TEMPORARY},  /* NOTIMP */
	        {1, 3, 0, 0, MXS_TXT_NONE},       /* NXDOMAIN */
	        {1, 0, 0, 0, MXS_TXT_NONE},       /* NODATA */
	        {1, 0, 0, 2, MXS_TXT_UNKNOWN},    /* records: judge them */
	        {1, 0, 1, 1, MXS_TXT_TEMPORARY},  /* bogus */
	        {1, 3, 1, 0, MXS_TXT_TEMPORARY},  /* bogus NXDOMAIN */
	        {0, 0, 0, 1, MXS_TXT_TEMPORARY},  /* unparsable */
	};

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct mxs_txt_str s = {"x", 1};
		struct mxs_txt_answer a = {cases[i].answered, cases[i].rcode, cases[i].bogus, &s,
		                           cases[i].ntxt};
		const char *why = NULL;

		assert_int_equal(mxs_txt_dns_classify(&a, &why), cases[i].v);
		assert_non_null(why);
		assert_int_equal(mxs_txt_dns_classify(&a, NULL), cases[i].v);
	}
	assert_string_equal(mxs_txt_verdict_name(MXS_TXT_MULTIPLE), "multiple");
	assert_string_equal(mxs_txt_verdict_name((enum mxs_txt_verdict)99), "unknown");
}

/* ---- mtasts_txt: one record, hostile and edge inputs ---- */

struct parse_case {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen(in) */
	int rc;
	const char *id;  /* when rc == 0 */
	const char *why; /* substring of the reason when rc != 0 */
};

static const struct parse_case parse_cases[] = {
        {"erratum 6285: WSP before ;", "v=STSv1 ;id=x", 0, 0, "x", NULL},
        {"TAB delimiters", "v=STSv1\t;\tid=abc\t;\t", 0, 0, "abc", NULL},
        {"trailing ;", "v=STSv1;id=abc;", 0, 0, "abc", NULL},
        {"32-char id", "v=STSv1;id=01234567890123456789012345678901", 0, 0,
         "01234567890123456789012345678901", NULL},
        {"id after extension", "v=STSv1;ext=1;id=z9", 0, 0, "z9", NULL},
        {"duplicate id: first wins", "v=STSv1;id=first;id=second", 0, 0, "first", NULL},
        {"later v= is an extension", "v=STSv1;id=1;v=STSv2", 0, 0, "1", NULL},
        {"ext name 32", "v=STSv1;id=1;a1234567890123456789012345678901=x", 0, 0, "1", NULL},
        {"ext name . - _", "v=STSv1;id=1;a.b-c_d=<>", 0, 0, "1", NULL},
        {"v=STSv1 alone", "v=STSv1", 0, MXS_ESYNTAX, NULL, "id= field missing"},
        {"v=STSv1;", "v=STSv1;", 0, MXS_ESYNTAX, NULL, "id= field missing"},
        {"V=STSv1", "V=STSv1;id=1", 0, MXS_ESYNTAX, NULL, "does not begin with v=STSv1"},
        {"v=STSv10", "v=STSv10;id=1", 0, MXS_ESYNTAX, NULL, "does not begin"},
        {"v=stsv1", "v=stsv1;id=1", 0, MXS_ESYNTAX, NULL, "does not begin"},
        {"leading space", " v=STSv1;id=1", 0, MXS_ESYNTAX, NULL, "does not begin"},
        {"empty", "", 0, MXS_ESYNTAX, NULL, "does not begin"},
        {"33-char id", "v=STSv1;id=012345678901234567890123456789012", 0, MXS_ESYNTAX, NULL,
         "33 octets"},
        {"empty id", "v=STSv1;id=", 0, MXS_ESYNTAX, NULL, "id= is empty"},
        {"empty id before ;", "v=STSv1;id= ;", 0, MXS_ESYNTAX, NULL, "id= is empty"},
        {"id with -", "v=STSv1;id=a-b", 0, MXS_ESYNTAX, NULL, "0x2d at position 2"},
        {"bad duplicate id", "v=STSv1;id=a;id=b-c", 0, MXS_ESYNTAX, NULL, "id 'b-c'"},
        {"ID upper case", "v=STSv1;ID=abc", 0, MXS_ESYNTAX, NULL, "case-sensitive"},
        {"NUL in id", "v=STSv1;id=ab\0c", 15, MXS_ESYNTAX, NULL, "0x00"},
        {"NUL in extension", "v=STSv1;id=1;x=a\0", 17, MXS_ESYNTAX, NULL, "0x00"},
        {"NUL after record", "v=STSv1;id=1\0", 13, MXS_ESYNTAX, NULL, "0x00"},
        {"non-ASCII extension", "v=STSv1;id=1;note=caf\xc3\xa9", 0, MXS_ESYNTAX, NULL,
         "non-ASCII octet 0xc3"},
        {"non-ASCII id", "v=STSv1;id=\xc3\xa9", 0, MXS_ESYNTAX, NULL, "0xc3"},
        {"trailing WSP, no ;", "v=STSv1;id=1 ", 0, MXS_ESYNTAX, NULL, "whitespace after"},
        {"CRLF at the end", "v=STSv1;id=1\r\n", 0, MXS_ESYNTAX, NULL, "0x0d"},
        {";;", "v=STSv1;id=1;;", 0, MXS_ESYNTAX, NULL, "empty field"},
        {"field without =", "v=STSv1;id=1;flag", 0, MXS_ESYNTAX, NULL, "'flag' has no '='"},
        {"field without name", "v=STSv1;id=1;=x", 0, MXS_ESYNTAX, NULL, "has no name"},
        {"ext name 33", "v=STSv1;id=1;a12345678901234567890123456789012=x", 0, MXS_ESYNTAX, NULL,
         "longer than 32"},
        {"ext name starts _", "v=STSv1;id=1;_x=1", 0, MXS_ESYNTAX, NULL, "'_x'"},
        {"ext value =", "v=STSv1;id=1;x==", 0, MXS_ESYNTAX, NULL, "0x3d"},
        {"ext value space", "v=STSv1;id=1;x=a b", 0, MXS_ESYNTAX, NULL, "0x20"},
        {"ext value empty", "v=STSv1;id=1;x=", 0, MXS_ESYNTAX, NULL, "empty value"},
        {"later v= malformed", "v=STSv1;id=1;v=", 0, MXS_ESYNTAX, NULL, "empty value"},
};

static void
test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		struct mxs_mtasts_txt out;
		char err[256] = "";
		int rc = mxs_mtasts_txt_parse(c->in, len, &out, err, sizeof(err));

		print_message("sts %-28s rc=%d %s\n", c->name, rc, rc ? err : out.id);
		assert_int_equal(rc, c->rc);
		if (rc == 0)
			assert_string_equal(out.id, c->id);
		else
			assert_non_null(strstr(err, c->why));
		if (rc != 0)
			assert_string_equal(out.id, "");
	}
}

static void
test_parse_limits(void **state)
{
	static char rec[65536];
	struct mxs_mtasts_txt out;
	char err[256];
	size_t o;
	int n;

	(void)state;
	/* 64 KiB: over the named limit before anything is read. */
	memset(rec, 'a', sizeof(rec));
	memcpy(rec, "v=STSv1;id=1;x=", 15);
	assert_int_equal(mxs_mtasts_txt_parse(rec, sizeof(rec), &out, err, sizeof(err)),
	                 MXS_ELIMIT);
	assert_non_null(strstr(err, "65536 octets"));
	/* Exactly the limit: valid, the long value kept cut. */
	assert_int_equal(mxs_mtasts_txt_parse(rec, MXS_TXT_TEXT_MAX, &out, err, sizeof(err)), 0);
	assert_int_equal(out.ext.n, 1);
	assert_true(out.ext.ext[0].truncated);
	assert_int_equal(strlen(out.ext.ext[0].value), MXS_TXT_EXT_VALUE_MAX - 1);
	assert_int_equal(mxs_mtasts_txt_parse(rec, MXS_TXT_TEXT_MAX + 1, &out, err, sizeof(err)),
	                 MXS_ELIMIT);

	/* More extensions than kept; repeats counted once kept. */
	o = 0;
	n = snprintf(rec, sizeof(rec), "v=STSv1;id=1;dup=first");
	o += (size_t)n;
	for (int i = 0; i < MXS_TXT_EXT_MAX + 3; i++) {
		n = snprintf(rec + o, sizeof(rec) - o, ";e%d=%d", i, i);
		o += (size_t)n;
	}
	n = snprintf(rec + o, sizeof(rec) - o, ";dup=second;id=2");
	o += (size_t)n;
	assert_int_equal(mxs_mtasts_txt_parse(rec, o, &out, err, sizeof(err)), 0);
	assert_string_equal(out.id, "1");
	assert_int_equal(out.ext.n, MXS_TXT_EXT_MAX);
	assert_int_equal(out.ext.dropped, 4);
	assert_int_equal(out.ext.duplicates, 1);
	assert_int_equal(out.duplicates, 1);
	assert_string_equal(out.ext.ext[0].name, "dup");
	assert_string_equal(out.ext.ext[0].value, "first");
	assert_int_equal(mxs_mtasts_txt_parse(NULL, 0, &out, err, sizeof(err)), MXS_EINVAL);
}

/* ---- mtasts_txt: RRset verdicts ---- */

#define RRSET_MAX 4

struct rrset_case {
	const char *name;
	const char *recs[RRSET_MAX]; /* NULL-terminated */
	enum mxs_txt_verdict v;
	const char *id;  /* VALID */
	const char *why; /* substring of the reason */
};

static const struct rrset_case rrset_cases[] = {
        {"erratum 6285 pinned", {"v=STSv1 ;id=x"}, MXS_TXT_VALID, "x", "policy id x"},
        {"TAB before ;", {"v=STSv1\t;id=x"}, MXS_TXT_VALID, "x", NULL},
        {"v=STSv10 discarded", {"v=STSv10;id=1"}, MXS_TXT_NONE, NULL, "none of 1"},
        {"V=STSv1 discarded", {"V=STSv1;id=1"}, MXS_TXT_NONE, NULL, "begins with v=STSv1"},
        {"v=STSv1 alone", {"v=STSv1"}, MXS_TXT_INVALID, NULL, "id= field missing"},
        {"unrelated discarded", {"spf1", "v=STSv1;id=1", "x"}, MXS_TXT_VALID, "1", NULL},
        {"two candidates", {"v=STSv1;id=1", "v=STSv1 ;id=2"}, MXS_TXT_MULTIPLE, NULL, "2 TXT"},
        {"valid and invalid", {"v=STSv1;id=1", "v=STSv1"}, MXS_TXT_MULTIPLE, NULL, NULL},
        {"same record twice", {"v=STSv1;id=1", "v=STSv1;id=1"}, MXS_TXT_MULTIPLE, NULL, NULL},
        {"invalid names field", {"v=STSv1;id=1;bad ext=1"}, MXS_TXT_INVALID, NULL, "0x20"},
        {"repeat noted", {"v=STSv1;id=1;id=2"}, MXS_TXT_VALID, "1", "first wins"},
};

static void
test_rrset_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(rrset_cases); i++) {
		const struct rrset_case *c = &rrset_cases[i];
		struct mxs_txt_str s[RRSET_MAX];
		struct mxs_txt_answer a = {1, 0, 0, s, 0};
		struct mxs_mtasts_txt_result res;

		for (; a.ntxt < RRSET_MAX && c->recs[a.ntxt] != NULL; a.ntxt++) {
			s[a.ntxt].s = c->recs[a.ntxt];
			s[a.ntxt].len = strlen(c->recs[a.ntxt]);
		}
		mxs_mtasts_txt_judge(&a, &res);
		print_message("rrset %-22s %-9s %s\n", c->name, mxs_txt_verdict_name(res.verdict),
		              res.reason);
		assert_int_equal(res.verdict, c->v);
		if (c->id != NULL)
			assert_string_equal(res.rec.id, c->id);
		if (c->why != NULL)
			assert_non_null(strstr(res.reason, c->why));
		assert_int_equal(res.candidates + res.discarded, a.ntxt);
		assert_int_equal(res.over_limit, 0);
	}
}

static void
test_rrset_limits(void **state)
{
	static char big[65536];
	struct mxs_txt_str s[2] = {{big, sizeof(big)}, {"v=STSv1;id=ok", 13}};
	struct mxs_txt_answer a = {1, 0, 0, s, 1};
	struct mxs_mtasts_txt_result res;

	(void)state;
	memset(big, 'a', sizeof(big));
	memcpy(big, "v=STSv1;id=1;x=", 15);
	mxs_mtasts_txt_judge(&a, &res);
	assert_int_equal(res.verdict, MXS_TXT_INVALID);
	assert_true(res.over_limit);
	print_message("64 KiB candidate: %s\n", res.reason);
	/* A 64 KiB unrelated record is discarded without being parsed. */
	big[0] = 'x';
	a.ntxt = 2;
	mxs_mtasts_txt_judge(&a, &res);
	assert_int_equal(res.verdict, MXS_TXT_VALID);
	assert_string_equal(res.rec.id, "ok");
	assert_int_equal(res.discarded, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_join),
	        cmocka_unit_test(test_join_64k),
	        cmocka_unit_test(test_rrset_join),
	        cmocka_unit_test(test_rrset_join_judged),
	        cmocka_unit_test(test_tokenizer),
	        cmocka_unit_test(test_tokenizer_semicolons),
	        cmocka_unit_test(test_quote),
	        cmocka_unit_test(test_dns_classify),
	        cmocka_unit_test(test_parse_table),
	        cmocka_unit_test(test_parse_limits),
	        cmocka_unit_test(test_rrset_table),
	        cmocka_unit_test(test_rrset_limits),
	        cmocka_unit_test(test_vectors_foxcpp),
	        cmocka_unit_test(test_vectors_mox_record),
	        cmocka_unit_test(test_vectors_pmsr),
	        cmocka_unit_test(test_vectors_tlspol),
	        cmocka_unit_test(test_vectors_mox_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
