/*
 * test_dane — unit tests for agent/dane.c.
 *
 * Two sources of cases.  First, every case of OpenSSL's DANE test suite as
 * transcribed in $MXS_SHARED_DATA/policy-vectors/openssl-dane (danetest.in,
 * base domain example.com), with OpenSSL's verdict translated to ours, and
 * every record of tlsa-rdata-for-chain.txt against chain.pem.  Second, a
 * hierarchy made here with testpki (EC P-256, fixed validity), judged at a
 * fixed "now" (2024-06-01T00:00:00Z) through tables of records, chains and
 * DNS outcomes, plus the parser's hostile inputs and the limits.
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

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dane.h"
#include "testpki.h"

#define T_NOW  ((time_t)1717200000) /* 2024-06-01T00:00:00Z */
#define T_2020 ((time_t)1577836800) /* 2020-01-01T00:00:00Z */
#define T_2021 ((time_t)1609459200) /* 2021-01-01T00:00:00Z */
#define T_2024 ((time_t)1704067200) /* 2024-01-01T00:00:00Z */
#define T_2025 ((time_t)1735689600) /* 2025-01-01T00:00:00Z */
#define T_2040 ((time_t)2208988800) /* 2040-01-01T00:00:00Z */

#define MX      "mx.example.test"
#define LONG_CA 10 /* CAs between the long chain's root and leaf: 12 certificates */

/* ---- a PKI made for the tests -------------------------------------------- */

static struct {
	X509 *root, *inter, *leaf, *leaf_old, *leaf_other, *leaf_cn, *leaf_ipsan, *leaf_mixed,
	        *leaf_bad;
	X509 *leaf_exp, *leaf_client;
	X509 *unrel, *lroot, *lca[LONG_CA], *lleaf;
} F;

static int
setup(void **state)
{
	EVP_PKEY *kr, *ki, *kl, *kc;

	(void)state;
	F.root = tp_cert("Test Root CA", TP_CA, T_2020, T_2040, NULL, NULL, NULL, &kr);
	F.inter = tp_cert("Test Intermediate CA", TP_CA, T_2020, T_2040, NULL, F.root, kr, &ki);
	F.leaf = tp_cert(MX, TP_SERVER, T_2024, T_2025, "DNS:" MX, F.inter, ki, NULL);
	F.leaf_old = tp_cert(MX, TP_SERVER, T_2024, T_2025, "DNS:" MX, F.inter, ki, NULL);
	F.leaf_other = tp_cert("other.example", TP_SERVER, T_2024, T_2025, "DNS:other.example",
	                       F.inter, ki, NULL);
	F.leaf_cn = tp_cert(MX, TP_SERVER, T_2024, T_2025, NULL, F.inter, ki, NULL);
	F.leaf_ipsan = tp_cert(MX, TP_SERVER, T_2024, T_2025, "IP:192.0.2.1", F.inter, ki, NULL);
	F.leaf_mixed =
	        tp_cert(MX, TP_SERVER, T_2024, T_2025, "DNS:other.example", F.inter, ki, NULL);
	F.leaf_client = tp_cert(MX, TP_CLIENT, T_2024, T_2025, "DNS:" MX, F.inter, ki, NULL);
	F.leaf_bad = tp_cert("wrong.example", TP_SERVER, T_2020, T_2021, "DNS:wrong.example",
	                     F.inter, ki, NULL);
	F.leaf_exp = tp_cert(MX, TP_SERVER, T_2020, T_2021, "DNS:" MX, F.inter, ki, NULL);
	F.unrel = tp_cert("Unrelated CA", TP_CA, T_2020, T_2040, NULL, NULL, NULL, NULL);
	F.lroot = tp_cert("Long Root CA", TP_CA, T_2020, T_2040, NULL, NULL, NULL, &kl);
	for (int i = 0; i < LONG_CA; i++) {
		char cn[32];

		snprintf(cn, sizeof(cn), "Long CA %d", i);
		F.lca[i] = tp_cert(cn, TP_CA, T_2020, T_2040, NULL, i ? F.lca[i - 1] : F.lroot, kl,
		                   &kc);
		kl = kc;
	}
	F.lleaf = tp_cert(MX, TP_SERVER, T_2024, T_2025, "DNS:" MX, F.lca[LONG_CA - 1], kl, NULL);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tp_free_all();
	return 0;
}

/* ---- TLSA records as the DNS parser hands them over --------------------- */

struct rrs {
	struct mxs_rr *rr;
	const struct mxs_rr **p;
	unsigned char **rdata;
	size_t n, cap;
};

/* Room for the 300-record limit case; rr never moves, so p stays valid. */
#define RRS_CAP 320

static void
rrs_raw(struct rrs *s, const unsigned char *rdata, size_t rdlen)
{
	if (s->rr == NULL) {
		s->cap = RRS_CAP;
		assert_non_null(s->rr = calloc(s->cap, sizeof(*s->rr)));
		assert_non_null(s->p = calloc(s->cap, sizeof(*s->p)));
		assert_non_null(s->rdata = calloc(s->cap, sizeof(*s->rdata)));
	}
	assert_true(s->n < s->cap);
	assert_non_null(s->rdata[s->n] = malloc(rdlen ? rdlen : 1));
	if (rdlen > 0)
		memcpy(s->rdata[s->n], rdata, rdlen);
	s->rr[s->n].type = MXS_DNS_T_TLSA;
	s->rr[s->n].rdata = s->rdata[s->n];
	s->rr[s->n].rdlen = (uint16_t)rdlen;
	s->p[s->n] = &s->rr[s->n];
	s->n++;
}

static void
rrs_add(struct rrs *s, int u, int sel, int mt, const unsigned char *data, size_t len)
{
	unsigned char *rd = malloc(3 + len);

	assert_non_null(rd);
	rd[0] = (unsigned char)u;
	rd[1] = (unsigned char)sel;
	rd[2] = (unsigned char)mt;
	if (len > 0)
		memcpy(rd + 3, data, len);
	rrs_raw(s, rd, 3 + len);
	free(rd);
}

/* The association data of x for selector/matching type (0, 1, 2 only). */
static size_t
assoc(X509 *x, int sel, int mt, unsigned char *out, size_t outlen)
{
	unsigned char *der = NULL;
	unsigned int mdlen = 0;
	int len = sel == 0 ? i2d_X509(x, &der) : i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);

	assert_true(len > 0);
	if (mt == 0) {
		assert_true((size_t)len <= outlen);
		memcpy(out, der, (size_t)len);
		mdlen = (unsigned int)len;
	} else {
		assert_int_equal(EVP_Digest(der, (size_t)len, out, &mdlen,
		                            mt == 1 ? EVP_sha256() : EVP_sha512(), NULL),
		                 1);
	}
	OPENSSL_free(der);
	return mdlen;
}

enum mangle { OK_DATA, FLIP, SHORT1 };

/* A record u s m for certificate x (NULL: 32 octets of 0x5a), mangled. */
static void
rrs_for(struct rrs *s, int u, int sel, int mt, X509 *x, enum mangle how)
{
	unsigned char d[4096];
	size_t len = 32;

	memset(d, 0x5a, sizeof(d));
	if (x != NULL)
		len = assoc(x, sel > 1 ? 1 : sel, mt > 2 ? 1 : mt, d, sizeof(d));
	if (how == FLIP)
		d[len - 1] ^= 1;
	if (how == SHORT1)
		len--;
	rrs_add(s, u, sel, mt, d, len);
}

/* "3 1 1 05C6..." (presentation form) into a record. */
static void
rrs_text(struct rrs *s, const char *text)
{
	unsigned char d[2048];
	char *end;
	unsigned long f[3];
	size_t len = 0;
	const char *p = text;

	for (int i = 0; i < 3; i++) {
		f[i] = strtoul(p, &end, 10);
		assert_true(end != p && *end == ' ' && f[i] < 256);
		p = end + 1;
	}
	for (; p[0] != '\0' && p[1] != '\0'; p += 2) {
		char hx[3] = {p[0], p[1], '\0'};

		assert_true(len < sizeof(d));
		d[len++] = (unsigned char)strtoul(hx, &end, 16);
		assert_true(*end == '\0');
	}
	assert_true(p[0] == '\0');
	rrs_add(s, (int)f[0], (int)f[1], (int)f[2], d, len);
}

static void
rrs_free(struct rrs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->rdata[i]);
	free(s->rr);
	free(s->p);
	free(s->rdata);
	memset(s, 0, sizeof(*s));
}

static const struct mxs_dane_dns SECURE = {MXS_SEC_SECURE, 1, 0, MXS_SEC_SECURE};

/* Load s under dns (NULL: all secure) and judge chain for host at T_NOW. */
static void
judge(const struct rrs *s, const struct mxs_dane_dns *dns, STACK_OF(X509) *chain, const char *host,
      const char *expanded, struct mxs_dane_rrset *set, struct mxs_dane_result *r)
{
	char err[256] = "";

	assert_int_equal(mxs_dane_load(set, dns ? dns : &SECURE, s->p, s->n, err, sizeof(err)), 0);
	assert_int_equal(mxs_dane_check(set, chain, host, expanded, T_NOW, r), 0);
}

enum chain {
	CH_FULL,
	CH_ROOT,
	CH_MIXED,
	CH_CLIENT,
	CH_LEAF,
	CH_OTHER,
	CH_CN,
	CH_IPSAN,
	CH_BAD,
	CH_EXP,
	CH_UNREL,
	CH_LONG,
	CH_EMPTY,
	CH_NULL
};

static STACK_OF(X509) *
make_chain(enum chain c)
{
	X509 *v[LONG_CA + 2];
	size_t n = 0;

	switch (c) {
	case CH_NULL:
		return NULL;
	case CH_EMPTY:
		break;
	case CH_LONG:
		v[n++] = F.lleaf;
		for (int i = LONG_CA - 1; i >= 0; i--)
			v[n++] = F.lca[i];
		v[n++] = F.lroot;
		break;
	default:
		v[n++] = c == CH_OTHER    ? F.leaf_other
		         : c == CH_CN     ? F.leaf_cn
		         : c == CH_IPSAN  ? F.leaf_ipsan
		         : c == CH_MIXED  ? F.leaf_mixed
		         : c == CH_CLIENT ? F.leaf_client
		         : c == CH_BAD    ? F.leaf_bad
		         : c == CH_EXP    ? F.leaf_exp
		                          : F.leaf;
		if (c == CH_UNREL)
			v[n++] = F.unrel;
		else if (c != CH_LEAF && c != CH_BAD)
			v[n++] = F.inter;
		if (c == CH_ROOT)
			v[n++] = F.root;
	}
	return tp_chain_n(v, n);
}

/*
 * Records of a case, as "u s m who[mod], ...": who is a certificate of
 * the test PKI (leaf, old = the leaf before a key rotation, inter, root,
 * bad = an expired leaf with a wrong name, unrel = an unrelated CA, lleaf,
 * long1, lroot = the long chain's leaf, depth 1, depth 11; none = 32 octets
 * of 0x5a); mod "~" flips the last octet (a stale digest), "-" drops it.
 */
static const struct {
	const char *name;
	X509 **x;
} whos[] = {{"leaf", &F.leaf},          {"old", &F.leaf_old}, {"inter", &F.inter},
            {"root", &F.root},          {"bad", &F.leaf_bad}, {"unrel", &F.unrel},
            {"client", &F.leaf_client}, {"lleaf", &F.lleaf},  {"long1", &F.lca[LONG_CA - 1]},
            {"lroot", &F.lroot},        {"none", NULL}};

static void
rrs_spec(struct rrs *s, const char *spec)
{
	const char *p = spec;
	unsigned long f[3];
	char *end;
	size_t w, n;

	while (*p != '\0') {
		for (int i = 0; i < 3; i++) {
			f[i] = strtoul(p, &end, 10);
			assert_true(end != p && *end == ' ' && f[i] < 256);
			p = end + 1;
		}
		n = strcspn(p, "~-, ");
		for (w = 0; w < sizeof(whos) / sizeof(whos[0]); w++)
			if (strlen(whos[w].name) == n && strncmp(p, whos[w].name, n) == 0)
				break;
		assert_true(w < sizeof(whos) / sizeof(whos[0]));
		p += n;
		rrs_for(s, (int)f[0], (int)f[1], (int)f[2], whos[w].x ? *whos[w].x : NULL,
		        *p == '~'   ? FLIP
		        : *p == '-' ? SHORT1
		                    : OK_DATA);
		p += *p == '~' || *p == '-';
		p += strspn(p, ", ");
	}
}

struct ccase {
	const char *name;
	const char *recs; /* see rrs_spec */
	enum chain ch;
	const char *expanded;
	enum mxs_dane_state want;
	int record, depth;
	enum mxs_rtype rtype;
	size_t nmatched, nunmatched;
	int rollover;
	enum mxs_tlsa_match m0; /* what became of the first record */
	const char *reason;     /* a substring of the verdict's reason */
};

#define VALID   MXS_DANE_VALID
#define INVALID MXS_DANE_TLSA_INVALID
#define NOUSE   MXS_DANE_NO_USABLE
#define RT_OK   MXS_RT_NONE
#define RT_BAD  MXS_RT_TLSA_INVALID

static const struct ccase ccases[] = {
        {"DANE-EE SPKI SHA2-256", "3 1 1 leaf", CH_FULL, NULL, VALID, 0, 0, RT_OK, 1, 0, 0,
         MXS_TLSA_MATCH, "matches the leaf (DANE-EE"},
        {"DANE-EE cert SHA2-256", "3 0 1 leaf", CH_FULL, NULL, VALID, 0, 0, RT_OK, 1, 0, 0,
         MXS_TLSA_MATCH, "3 0 1 "},
        {"DANE-EE SPKI SHA2-512", "3 1 2 leaf", CH_FULL, NULL, VALID, 0, 0, RT_OK, 1, 0, 0,
         MXS_TLSA_MATCH, "3 1 2 "},
        {"DANE-EE full cert", "3 0 0 leaf", CH_LEAF, NULL, VALID, 0, 0, RT_OK, 1, 0, 0,
         MXS_TLSA_MATCH, "3 0 0 30"},
        {"DANE-EE full SPKI", "3 1 0 leaf", CH_LEAF, NULL, VALID, 0, 0, RT_OK, 1, 0, 0,
         MXS_TLSA_MATCH, "3 1 0 30"},
        {"DANE-TA cert of the intermediate", "2 0 1 inter", CH_FULL, NULL, VALID, 0, 1, RT_OK, 1, 0,
         0, MXS_TLSA_MATCH,
         "the CA at depth 1 (DANE-TA), chain verifies, DNS-ID " MX " matches " MX},
        {"DANE-TA SPKI of the intermediate", "2 1 1 inter", CH_FULL, NULL, VALID, 0, 1, RT_OK, 1, 0,
         0, MXS_TLSA_MATCH, "depth 1 (DANE-TA)"},
        {"DANE-TA root sent", "2 0 2 root", CH_ROOT, NULL, VALID, 0, 2, RT_OK, 1, 0, 0,
         MXS_TLSA_MATCH, "depth 2"},
        {"DANE-TA 2 0 0 root from DNS", "2 0 0 root", CH_FULL, NULL, VALID, 0, 2, RT_OK, 1, 0, 0,
         MXS_TLSA_MATCH, "the anchor from DNS at depth 2"},
        {"DANE-TA 2 0 0 intermediate from DNS", "2 0 0 inter", CH_LEAF, NULL, VALID, 0, 1, RT_OK, 1,
         0, 0, MXS_TLSA_MATCH, "the anchor from DNS at depth 1"},
        {"DANE-TA digest of a root not sent", "2 0 1 root", CH_FULL, NULL, INVALID, -1, -1, RT_BAD,
         0, 1, 0, MXS_TLSA_NO_MATCH, "none of 1 usable"},
        {"DANE-TA, leaf names another host", "2 1 1 inter", CH_OTHER, NULL, INVALID, -1, -1,
         MXS_RT_CERT_HOST_MISMATCH, 1, 0, 0, MXS_TLSA_NAME_FAIL,
         "leaf names other.example; MX is " MX},
        {"DANE-TA, leaf names the CNAME target", "2 1 1 inter", CH_OTHER, "other.example", VALID, 0,
         1, RT_OK, 1, 0, 0, MXS_TLSA_MATCH, "DNS-ID other.example matches other.example"},
        {"DANE-TA, leaf with a CN only", "2 1 1 inter", CH_CN, NULL, VALID, 0, 1, RT_OK, 1, 0, 0,
         MXS_TLSA_MATCH, "subject CN " MX " matches"},
        /* An IP-address SAN is not a DNS-ID: the CN still stands in (RFC 6125 §6.4.4). */
        {"DANE-TA, leaf with an IP SAN and a CN", "2 1 1 inter", CH_IPSAN, NULL, VALID, 0, 1, RT_OK,
         1, 0, 0, MXS_TLSA_MATCH, "subject CN " MX " matches"},
        {"DANE-TA, CN not consulted beside DNS-IDs", "2 1 1 inter", CH_MIXED, NULL, INVALID, -1, -1,
         MXS_RT_CERT_HOST_MISMATCH, 1, 0, 0, MXS_TLSA_NAME_FAIL, "leaf names other.example"},
        {"DANE-TA, leaf for TLS clients only", "2 1 1 inter", CH_CLIENT, NULL, INVALID, -1, -1,
         RT_BAD, 1, 0, 0, MXS_TLSA_CHAIN_FAIL, "unsuitable certificate purpose at depth 0"},
        {"DANE-EE, leaf for TLS clients only", "3 1 1 client", CH_CLIENT, NULL, VALID, 0, 0, RT_OK,
         1, 0, 0, MXS_TLSA_MATCH, "DANE-EE"},
        {"DANE-EE, expired leaf with a wrong name", "3 1 1 bad", CH_BAD, NULL, VALID, 0, 0, RT_OK,
         1, 0, 0, MXS_TLSA_MATCH, "leaf expired, ignored"},
        {"DANE-TA, expired leaf", "2 1 1 inter", CH_EXP, NULL, INVALID, -1, -1, MXS_RT_CERT_EXPIRED,
         1, 0, 0, MXS_TLSA_CHAIN_FAIL,
         "chain does not verify: certificate has expired at depth 0, CN=" MX},
        {"DANE-TA, CA that did not issue the leaf", "2 1 1 unrel", CH_UNREL, NULL, INVALID, -1, -1,
         RT_BAD, 1, 0, 0, MXS_TLSA_CHAIN_FAIL, "unable to get local issuer certificate at depth 0"},
        {"stale 3 1 1 after key rotation", "3 1 1 old", CH_FULL, NULL, INVALID, -1, -1, RT_BAD, 0,
         1, 0, MXS_TLSA_NO_MATCH, "none of 1 usable TLSA records matches the chain"},
        {"3 1 1 old + 3 1 1 new", "3 1 1 old, 3 1 1 leaf", CH_FULL, NULL, VALID, 1, 0, RT_OK, 1, 1,
         1, MXS_TLSA_NO_MATCH, "; 1 more usable record (rollover ready)"},
        {"3 1 1 + 2 1 1, both match", "3 1 1 leaf, 2 1 1 inter", CH_FULL, NULL, VALID, 0, 0, RT_OK,
         2, 0, 0, MXS_TLSA_MATCH, "DANE-EE"},
        {"DANE-EE preferred over DANE-TA", "2 1 1 inter, 3 1 1 leaf", CH_FULL, NULL, VALID, 1, 0,
         RT_OK, 2, 0, 0, MXS_TLSA_MATCH, "DANE-EE"},
        {"stale 3 1 1 + 3 1 1 + 2 1 1", "3 1 1 leaf~, 3 1 1 leaf, 2 1 1 inter", CH_FULL, NULL,
         VALID, 1, 0, RT_OK, 2, 1, 1, MXS_TLSA_NO_MATCH, "rollover ready"},
        {"agility: good 3 1 1, stale 3 1 2", "3 1 1 leaf, 3 1 2 old", CH_FULL, NULL, INVALID, -1,
         -1, RT_BAD, 0, 1, 0, MXS_TLSA_WEAKER_MATCHES, "; 3 1 1 "},
        {"agility: a malformed 3 1 2 does not count", "3 1 2 leaf-, 3 1 1 leaf", CH_FULL, NULL,
         VALID, 1, 0, RT_OK, 1, 0, 0, MXS_TLSA_NOT_USED, "3 1 1"},
        {"agility: 2 0 1 hides 2 0 0", "2 0 0 root, 2 0 1 inter", CH_FULL, NULL, VALID, 1, 1, RT_OK,
         1, 0, 0, MXS_TLSA_NOT_USED, "2 0 1"},
        {"DANE-EE of the intermediate", "3 1 1 inter", CH_FULL, NULL, INVALID, -1, -1, RT_BAD, 0, 1,
         0, MXS_TLSA_NO_MATCH, "none of 1"},
        {"DANE-TA of the leaf", "2 1 1 leaf", CH_FULL, NULL, INVALID, -1, -1, RT_BAD, 0, 1, 0,
         MXS_TLSA_NO_MATCH, "none of 1"},
        {"empty chain", "3 1 1 leaf", CH_EMPTY, NULL, INVALID, -1, -1, RT_BAD, 0, 1, 0,
         MXS_TLSA_NO_MATCH, "no certificate presented (1 usable TLSA record)"},
        {"NULL chain", "2 0 0 inter", CH_NULL, NULL, INVALID, -1, -1, RT_BAD, 0, 1, 0,
         MXS_TLSA_NO_MATCH, "no certificate presented"},
        {"12 certificates, 3 1 1 leaf", "3 1 1 lleaf", CH_LONG, NULL, VALID, 0, 0, RT_OK, 1, 0, 0,
         MXS_TLSA_MATCH, "DANE-EE"},
        {"12 certificates, 2 1 1 depth 1", "2 1 1 long1", CH_LONG, NULL, VALID, 0, 1, RT_OK, 1, 0,
         0, MXS_TLSA_MATCH, "depth 1"},
        {"12 certificates, 2 1 1 depth 11", "2 1 1 lroot", CH_LONG, NULL, INVALID, -1, -1, RT_BAD,
         0, 1, 0, MXS_TLSA_NO_MATCH, "only 10 of 12 certificates examined"},
        {"0 0 1 + 1 1 1 only", "0 0 1 root, 1 1 1 leaf", CH_FULL, NULL, NOUSE, -1, -1, RT_OK, 0, 0,
         0, MXS_TLSA_NOT_USED, "no usable TLSA record of 2 (0 0 1 "},
        {"unknown usage 4", "4 1 1 leaf", CH_FULL, NULL, NOUSE, -1, -1, RT_OK, 0, 0, 0,
         MXS_TLSA_NOT_USED, ": unknown usage 4)"},
        {"unknown selector 2", "3 2 1 leaf", CH_FULL, NULL, NOUSE, -1, -1, RT_OK, 0, 0, 0,
         MXS_TLSA_NOT_USED, ": unknown selector 2)"},
        {"unknown matching type 3", "3 1 3 leaf", CH_FULL, NULL, NOUSE, -1, -1, RT_OK, 0, 0, 0,
         MXS_TLSA_NOT_USED, ": unknown matching type 3)"},
        {"3 1 1 with 31 octets", "3 1 1 leaf-", CH_FULL, NULL, NOUSE, -1, -1, RT_OK, 0, 0, 0,
         MXS_TLSA_NOT_USED, "malformed, data of 31 octets, SHA2-256 is 32"},
};

static void
test_chain_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ccases) / sizeof(ccases[0]); i++) {
		const struct ccase *c = &ccases[i];
		STACK_OF(X509) *chain = make_chain(c->ch);
		struct mxs_dane_rrset set;
		struct mxs_dane_result r;
		struct rrs s = {0};

		print_message("case: %s\n", c->name);
		rrs_spec(&s, c->recs);
		judge(&s, NULL, chain, MX, c->expanded, &set, &r);
		print_message("  %s: %s\n", mxs_dane_state_name(r.state), r.verdict.reason);
		assert_int_equal(r.state, c->want);
		assert_int_equal(r.record, c->record);
		assert_int_equal(r.depth, c->depth);
		assert_int_equal(r.verdict.rtype, c->rtype);
		assert_int_equal(r.verdict.status,
		                 c->want == VALID || c->want == NOUSE ? MXS_ST_OK : MXS_ST_FAIL);
		assert_int_equal(r.nmatched, c->nmatched);
		assert_int_equal(r.nunmatched, c->nunmatched);
		assert_int_equal(r.rollover_ready, c->rollover);
		assert_int_equal(r.recs[0].match, c->m0);
		assert_int_equal(r.starttls_required, 1);
		assert_int_equal(r.nrecs, s.n);
		assert_non_null(strstr(r.verdict.reason, c->reason));
		mxs_dane_rrset_free(&set);
		rrs_free(&s);
		sk_X509_free(chain);
	}
}

/* Facts the table does not show: anchors from DNS, expiry, errors, uses. */
static void
test_details(void **state)
{
	STACK_OF(X509) *full = make_chain(CH_FULL), *bad = make_chain(CH_BAD),
	               *exp = make_chain(CH_EXP);
	struct mxs_dane_rrset set;
	struct mxs_dane_result r;
	struct rrs s = {0};

	(void)state;
	rrs_for(&s, 2, 0, 0, F.root, OK_DATA);
	judge(&s, NULL, full, MX, NULL, &set, &r);
	assert_true(r.ta_from_dns);
	assert_string_equal(r.name_matched, MX);
	assert_false(r.leaf_expired);
	assert_int_equal(r.leaf_days_to_expiry, 214); /* 2024-06-01 .. 2025-01-01 */
	mxs_dane_rrset_free(&set);
	rrs_free(&s);

	rrs_for(&s, 3, 1, 1, F.leaf_bad, OK_DATA);
	judge(&s, NULL, bad, MX, NULL, &set, &r);
	assert_int_equal(r.state, MXS_DANE_VALID);
	assert_true(r.leaf_expired);
	assert_int_equal(r.leaf_days_to_expiry, -1247); /* 2021-01-01 .. 2024-06-01 */
	assert_string_equal(r.name_matched, "");
	mxs_dane_rrset_free(&set);
	rrs_free(&s);

	rrs_for(&s, 2, 1, 1, F.inter, OK_DATA);
	judge(&s, NULL, exp, MX, NULL, &set, &r);
	assert_int_equal(r.x509_error, X509_V_ERR_CERT_HAS_EXPIRED);
	assert_int_equal(r.recs[0].depth, 1);
	mxs_dane_rrset_free(&set);
	rrs_free(&s);

	rrs_for(&s, 3, 1, 1, F.leaf, OK_DATA);
	rrs_for(&s, 3, 1, 2, F.leaf_old, OK_DATA);
	rrs_for(&s, 2, 1, 1, F.inter, OK_DATA);
	judge(&s, NULL, full, MX, NULL, &set, &r);
	assert_int_equal(set.recs[0].use, MXS_TLSA_WEAKER);
	assert_int_equal(set.recs[1].use, MXS_TLSA_USABLE);
	assert_int_equal(set.nusable, 2);
	assert_int_equal(r.recs[0].match, MXS_TLSA_WEAKER_MATCHES);
	assert_int_equal(r.recs[0].depth, 0);
	assert_int_equal(r.recs[1].match, MXS_TLSA_NO_MATCH);
	/* The DANE-TA record still authenticates: 7671 §9 is per usage+selector. */
	assert_int_equal(r.state, MXS_DANE_VALID);
	assert_int_equal(r.record, 2);
	assert_true(r.rollover_ready);
	mxs_dane_rrset_free(&set);
	rrs_free(&s);

	sk_X509_free(full);
	sk_X509_free(bad);
	sk_X509_free(exp);
}

/* ---- DNS outcomes -------------------------------------------------------- */

struct dcase {
	const char *name;
	enum mxs_dnssec addr_sec; /* struct mxs_dane_dns, flat */
	int done, rcode;
	enum mxs_dnssec tlsa_sec;
	size_t nrecs; /* 3 1 1 records of the leaf in the answer */
	enum mxs_dane_state want;
	enum mxs_status status;
	enum mxs_rtype rtype;
	int starttls;
	const char *reason;
};

#define SEC MXS_SEC_SECURE
#define INS MXS_SEC_INSECURE
#define BOG MXS_SEC_BOGUS
#define UNK MXS_SEC_UNKNOWN
#define NA  MXS_DANE_NOT_APPLICABLE
#define TMP MXS_DANE_TEMPORARY

static const struct dcase dcases[] = {
        {"secure answer", SEC, 1, 0, SEC, 1, VALID, MXS_ST_OK, RT_OK, 1, "DANE-EE"},
        {"bogus", SEC, 1, 2, BOG, 1, MXS_DANE_DNSSEC_INVALID, MXS_ST_FAIL, MXS_RT_DNSSEC_INVALID, 0,
         "bogus"},
        {"bogus with an answer", SEC, 1, 0, BOG, 1, MXS_DANE_DNSSEC_INVALID, MXS_ST_FAIL,
         MXS_RT_DNSSEC_INVALID, 0, "bogus"},
        {"SERVFAIL", SEC, 1, 2, INS, 0, TMP, MXS_ST_TEMPORARY, RT_OK, 0,
         "SERVFAIL (rcode 2): not \"no TLSA\""},
        {"REFUSED", SEC, 1, 5, INS, 0, TMP, MXS_ST_TEMPORARY, RT_OK, 0, "REFUSED"},
        {"NOTIMP", SEC, 1, 4, INS, 0, TMP, MXS_ST_TEMPORARY, RT_OK, 0, "NOTIMP"},
        {"timeout", SEC, 0, -1, UNK, 0, TMP, MXS_ST_TEMPORARY, RT_OK, 0, "timeout"},
        {"answered without a DNSSEC state", SEC, 1, 0, UNK, 1, TMP, MXS_ST_TEMPORARY, RT_OK, 0,
         "no DNSSEC state"},
        {"insecure TLSA", SEC, 1, 0, INS, 1, NA, MXS_ST_NOT_TESTED, RT_OK, 0, "insecure"},
        {"insecure NXDOMAIN", SEC, 1, 3, INS, 0, NA, MXS_ST_NOT_TESTED, RT_OK, 0,
         "(NXDOMAIN) is insecure"},
        {"insecure NODATA", SEC, 1, 0, INS, 0, NA, MXS_ST_NOT_TESTED, RT_OK, 0,
         "(NOERROR, NODATA) is insecure"},
        {"secure NXDOMAIN", SEC, 1, 3, SEC, 0, NA, MXS_ST_NOT_TESTED, RT_OK, 0, "secure NXDOMAIN"},
        {"secure NODATA", SEC, 1, 0, SEC, 0, NA, MXS_ST_NOT_TESTED, RT_OK, 0, "secure NODATA"},
        {"insecure address records", INS, 1, 0, SEC, 1, NA, MXS_ST_NOT_TESTED, RT_OK, 0,
         "address records not DNSSEC-secure (insecure)"},
        {"address lookup unanswered", UNK, 0, -1, UNK, 0, NA, MXS_ST_NOT_TESTED, RT_OK, 0,
         "address records not DNSSEC-secure (unknown)"},
        {"bogus address records", BOG, 1, 0, SEC, 1, NA, MXS_ST_NOT_TESTED, RT_OK, 0,
         "address records not DNSSEC-secure (bogus)"},
};

static void
test_dns_outcomes(void **state)
{
	STACK_OF(X509) *chain = make_chain(CH_FULL);

	(void)state;
	for (size_t i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
		const struct dcase *c = &dcases[i];
		const struct mxs_dane_dns dns = {c->addr_sec, c->done, c->rcode, c->tlsa_sec};
		struct mxs_dane_rrset set;
		struct mxs_dane_result r;
		struct rrs s = {0};

		print_message("case: %s\n", c->name);
		for (size_t k = 0; k < c->nrecs; k++)
			rrs_for(&s, 3, 1, 1, F.leaf, OK_DATA);
		judge(&s, &dns, chain, MX, NULL, &set, &r);
		print_message("  %s: %s\n", mxs_dane_state_name(r.state), r.verdict.reason);
		assert_int_equal(set.state, c->want == MXS_DANE_VALID ? MXS_DANE_PENDING : c->want);
		assert_int_equal(set.starttls_required, c->starttls);
		assert_int_equal(r.state, c->want);
		assert_int_equal(r.verdict.status, c->status);
		assert_int_equal(r.verdict.rtype, c->rtype);
		assert_int_equal(r.starttls_required, c->starttls);
		assert_non_null(strstr(r.verdict.reason, c->reason));
		if (c->want != MXS_DANE_VALID) {
			assert_int_equal(set.nrecs, 0); /* records are not even kept */
			assert_int_equal(r.record, -1);
		}
		mxs_dane_rrset_free(&set);
		rrs_free(&s);
	}
	sk_X509_free(chain);
}

/* ---- records: hostile rdata and presentation ------------------------------ */

static void
test_parse(void **state)
{
	static const unsigned char short_rd[] = {3, 1};
	static const unsigned char nodata[] = {3, 1, 1};
	unsigned char big[3 + MXS_TLSA_DATA_MAX + 1];
	struct mxs_tlsa t;
	char buf[256];
	struct {
		int u, s, m;
		const char *data; /* hex-free: raw octets */
		size_t len;
		enum mxs_tlsa_use use;
	} const cases[] = {
	        {3, 1, 0, "\x30\x03\x02\x01\x01", 5, MXS_TLSA_MALFORMED}, /* not an SPKI */
	        {3, 0, 0, "\x30\x00", 2, MXS_TLSA_MALFORMED},             /* not a certificate */
	        {2, 1, 2, "0123456789abcdef0123456789abcdef", 32, MXS_TLSA_MALFORMED},
	        {1, 1, 1, "0123456789abcdef0123456789abcdef", 32, MXS_TLSA_PKIX_USAGE},
	        {0, 9, 9, "x", 1, MXS_TLSA_PKIX_USAGE},
	        {255, 1, 1, "0123456789abcdef0123456789abcdef", 32, MXS_TLSA_UNKNOWN_USAGE},
	        {3, 255, 1, "0123456789abcdef0123456789abcdef", 32, MXS_TLSA_UNKNOWN_SELECTOR},
	        {3, 1, 255, "", 0, MXS_TLSA_UNKNOWN_MTYPE},
	        {3, 1, 1, "0123456789abcdef0123456789abcdef", 32, MXS_TLSA_USABLE},
	};

	(void)state;
	assert_int_equal(mxs_tlsa_parse(NULL, 0, &t), 0);
	assert_int_equal(t.use, MXS_TLSA_MALFORMED);
	assert_int_equal(mxs_tlsa_text(&t, buf, sizeof(buf)), strlen("(rdata of 0 octets)"));
	assert_string_equal(buf, "(rdata of 0 octets)");
	mxs_tlsa_clear(&t);
	assert_int_equal(mxs_tlsa_parse(short_rd, sizeof(short_rd), &t), 0);
	assert_int_equal(t.use, MXS_TLSA_MALFORMED);
	assert_int_equal(t.usage, 0);
	mxs_tlsa_short(&t, buf, sizeof(buf));
	assert_string_equal(buf, "(rdata of 2 octets)");
	mxs_tlsa_clear(&t);
	assert_int_equal(mxs_tlsa_parse(nodata, sizeof(nodata), &t), 0);
	assert_int_equal(t.use, MXS_TLSA_MALFORMED);
	assert_null(t.data);
	(void)mxs_tlsa_text(&t, buf, sizeof(buf));
	assert_string_equal(buf, "3 1 1 -");
	mxs_tlsa_clear(&t);

	/* Full(0) data one octet over the limit is not copied. */
	memset(big, 0x30, sizeof(big));
	big[0] = 3, big[1] = 0, big[2] = 0;
	assert_int_equal(mxs_tlsa_parse(big, sizeof(big), &t), 0);
	assert_int_equal(t.use, MXS_TLSA_MALFORMED);
	assert_int_equal(t.len, MXS_TLSA_DATA_MAX + 1);
	assert_null(t.data);
	(void)mxs_tlsa_text(&t, buf, sizeof(buf));
	assert_string_equal(buf, "3 0 0 (8193 octets)");
	mxs_tlsa_clear(&t);
	mxs_tlsa_clear(NULL);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char rd[64] = {(unsigned char)cases[i].u, (unsigned char)cases[i].s,
		                        (unsigned char)cases[i].m};

		memcpy(rd + 3, cases[i].data, cases[i].len);
		assert_int_equal(mxs_tlsa_parse(rd, 3 + cases[i].len, &t), 0);
		print_message("%zu: %s\n", i, mxs_tlsa_use_name(t.use));
		assert_int_equal(t.use, cases[i].use);
		assert_int_equal(t.len, cases[i].len);
		mxs_tlsa_clear(&t);
	}
}

static void
test_presentation(void **state)
{
	struct mxs_dane_rrset set;
	struct rrs s = {0};
	char buf[160], shortf[MXS_TLSA_SHORT_LEN], err[128];
	size_t need;

	(void)state;
	rrs_text(&s, "3 1 1 05C66146D7909EAE2379825F6D0F5284146B79598DA12E403DC29C33147CF33E");
	rrs_text(&s, "255 255 255 00");
	assert_int_equal(mxs_dane_load(&set, &SECURE, s.p, s.n, err, sizeof(err)), 0);
	need = mxs_tlsa_text(&set.recs[0], buf, sizeof(buf));
	assert_int_equal(need, 6 + 64);
	assert_string_equal(
	        buf, "3 1 1 05C66146D7909EAE2379825F6D0F5284146B79598DA12E403DC29C33147CF33E");
	mxs_tlsa_short(&set.recs[0], shortf, sizeof(shortf));
	assert_string_equal(shortf, "3 1 1 05C66146D7909EAE...");
	mxs_tlsa_short(&set.recs[1], shortf, sizeof(shortf));
	assert_string_equal(shortf, "255 255 255 00");
	/* Truncation: like snprintf, the needed length and a terminated prefix. */
	assert_int_equal(mxs_tlsa_text(&set.recs[0], buf, 10), need);
	assert_string_equal(buf, "3 1 1 05C");
	assert_int_equal(mxs_tlsa_text(&set.recs[0], buf, 9), need);
	assert_string_equal(buf, "3 1 1 05");
	assert_int_equal(mxs_tlsa_text(&set.recs[0], NULL, 0), need);
	assert_string_equal(mxs_tlsa_use_name(set.recs[1].use), "unknown-usage");
	assert_string_equal(mxs_dane_state_name(set.state), "pending");
	assert_string_equal(mxs_tlsa_match_name(MXS_TLSA_WEAKER_MATCHES), "weaker-matches");
	mxs_dane_rrset_free(&set);
	mxs_dane_rrset_free(&set); /* cleared: safe twice */
	mxs_dane_rrset_free(NULL);
	rrs_free(&s);
}

/* ---- limits and caller errors ---------------------------------------------- */

static void
test_limits(void **state)
{
	STACK_OF(X509) *chain = make_chain(CH_FULL);
	struct mxs_dane_rrset set;
	struct mxs_dane_result r;
	struct mxs_rr a = {.type = MXS_DNS_T_A};
	const struct mxs_rr *ap = &a;
	struct rrs s = {0};
	char err[128] = "";

	(void)state;
	for (int i = 0; i < 300; i++)
		rrs_for(&s, 3, 1, 1, F.leaf_old, FLIP);
	assert_int_equal(mxs_dane_load(&set, &SECURE, s.p, 300, err, sizeof(err)), MXS_ELIMIT);
	assert_string_equal(err, "TLSA RRset of 300 records, over the limit 256");
	assert_null(set.recs);
	assert_int_equal(set.nrecs, 0);

	/* At the limit, the only matching record last. */
	rrs_for(&s, 3, 1, 1, F.leaf, OK_DATA);
	s.p[MXS_TLSA_RR_MAX - 1] = s.p[300];
	s.n = MXS_TLSA_RR_MAX;
	judge(&s, NULL, chain, MX, NULL, &set, &r);
	assert_int_equal(r.state, MXS_DANE_VALID);
	assert_int_equal(r.record, MXS_TLSA_RR_MAX - 1);
	assert_int_equal(r.nunmatched, MXS_TLSA_RR_MAX - 1);
	mxs_dane_rrset_free(&set);
	s.n = 301;
	rrs_free(&s);

	assert_int_equal(mxs_dane_load(&set, &SECURE, &ap, 1, err, sizeof(err)), MXS_EINVAL);
	assert_int_equal(mxs_dane_load(&set, &SECURE, NULL, 1, NULL, 0), MXS_EINVAL);
	assert_int_equal(mxs_dane_load(&set, NULL, NULL, 0, NULL, 0), MXS_EINVAL);
	sk_X509_free(chain);
}

/* ---- OpenSSL's DANE test vectors --------------------------------------------- */

#define VEC_DIR "policy-vectors/openssl-dane"

static int
vec_path(char *buf, size_t len, const char *name)
{
	const char *base = getenv("MXS_SHARED_DATA");
	int n;

	if (base == NULL)
		return 0;
	n = snprintf(buf, len, "%s/" VEC_DIR "/%s", base, name);
	assert_true(n > 0 && (size_t)n < len);
	return 1;
}

/* Every certificate of a vector file; owned. */
static STACK_OF(X509) *
read_pem(const char *name)
{
	char path[1024];

	assert_true(vec_path(path, sizeof(path), name));
	return tp_read_pem(path);
}

/* "chain.pem#2 CN=Issuer CA" or "never-valid-leaf.pem": certificate(s) onto out. */
static void
vec_chain_add(STACK_OF(X509) *out, STACK_OF(X509) *pem, STACK_OF(X509) *never, const char *spec)
{
	const char *hash = strchr(spec, '#');
	unsigned long idx;
	char *end;

	if (strncmp(spec, "never-valid-leaf.pem", 20) == 0) {
		assert_true(sk_X509_push(out, sk_X509_value(never, 0)) > 0);
		return;
	}
	assert_true(strncmp(spec, "chain.pem#", 10) == 0 && hash != NULL);
	idx = strtoul(hash + 1, &end, 10);
	assert_true(end != hash + 1 && (*end == '\0' || *end == ' '));
	assert_true(idx >= 1 && idx <= (unsigned long)sk_X509_num(pem));
	assert_true(sk_X509_push(out, sk_X509_value(pem, (int)idx - 1)) > 0);
}

/*
 * OpenSSL's verdict in ours: verify 0 -> valid, at the same match depth;
 * 65 (X509_V_ERR_DANE_NO_MATCH) -> tlsa-invalid, unless every record is
 * PKIX-TA(0)/PKIX-EE(1), which SMTP does not use at all (RFC 7672 §3.1.3):
 * then no usable records.
 */
static int
vec_case(json_t *c, STACK_OF(X509) *pem, STACK_OF(X509) *never)
{
	json_t *tlsa = json_object_get(c, "tlsa"), *certs = json_object_get(c, "chain"), *v;
	json_int_t verify = json_integer_value(json_object_get(c, "expect_verify"));
	json_int_t depth = json_integer_value(json_object_get(c, "expect_match_depth"));
	STACK_OF(X509) *chain = sk_X509_new_null();
	enum mxs_dane_state want = MXS_DANE_VALID;
	struct mxs_dane_rrset set;
	struct mxs_dane_result r;
	struct rrs s = {0};
	int pkix_only = 1, ok;
	size_t i;

	assert_non_null(chain);
	assert_true(json_is_array(tlsa) && json_is_array(certs));
	json_array_foreach(tlsa, i, v)
	{
		rrs_text(&s, json_string_value(v));
		pkix_only &= s.rdata[s.n - 1][0] <= 1;
	}
	json_array_foreach(certs, i, v) vec_chain_add(chain, pem, never, json_string_value(v));
	if (verify != 0) {
		assert_int_equal(verify, 65);
		want = pkix_only ? MXS_DANE_NO_USABLE : MXS_DANE_TLSA_INVALID;
	}
	judge(&s, NULL, chain, "example.com", NULL, &set, &r);
	ok = r.state == want && r.depth == (want == MXS_DANE_VALID ? depth : -1) &&
	     r.starttls_required;
	/* The never-valid leaf authenticates under DANE-EE, expiry as information. */
	if (ok && sk_X509_value(chain, 0) == sk_X509_value(never, 0))
		ok = want != MXS_DANE_VALID || r.leaf_expired;
	print_message("test %lld: %s depth %d (want %s depth %lld): %s\n",
	              json_integer_value(json_object_get(c, "test")), mxs_dane_state_name(r.state),
	              r.depth, mxs_dane_state_name(want), want == MXS_DANE_VALID ? depth : -1LL,
	              r.verdict.reason);
	mxs_dane_rrset_free(&set);
	rrs_free(&s);
	sk_X509_free(chain);
	return ok;
}

static void
test_openssl_vectors(void **state)
{
	char path[1024];
	json_error_t jerr;
	json_t *root, *cases, *c;
	STACK_OF(X509) *pem, *never;
	size_t i, passed = 0;

	(void)state;
	if (!vec_path(path, sizeof(path), "tlsa-cases.json")) {
		print_message("MXS_SHARED_DATA not set: vectors not run\n");
		skip();
	}
	if ((root = json_load_file(path, 0, &jerr)) == NULL)
		fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(root, "harness"), "base_domain")),
	        "example.com");
	cases = json_object_get(root, "cases");
	assert_true(json_is_array(cases) && json_array_size(cases) > 0);
	pem = read_pem("chain.pem");
	never = read_pem("never-valid-leaf.pem");
	assert_int_equal(sk_X509_num(pem), 3);
	assert_int_equal(sk_X509_num(never), 1);
	json_array_foreach(cases, i, c) passed += (size_t)vec_case(c, pem, never);
	print_message("tlsa-cases.json: %zu vectors, %zu passed\n", json_array_size(cases), passed);
	assert_int_equal(passed, json_array_size(cases));
	sk_X509_pop_free(pem, X509_free);
	sk_X509_pop_free(never, X509_free);
	json_decref(root);
}

/*
 * Each record of tlsa-rdata-for-chain.txt alone against the whole of
 * chain.pem: the 3 x x lines match the leaf, the 2 x x lines the Issuer CA
 * (depth 1) or the Root CA (depth 2), the order the file lists them in.
 */
static void
test_rdata_for_chain(void **state)
{
	STACK_OF(X509) *pem;
	char path[1024], line[512];
	size_t n = 0, passed = 0;
	int depth = -1;
	FILE *f;

	(void)state;
	if (!vec_path(path, sizeof(path), "tlsa-rdata-for-chain.txt"))
		skip();
	pem = read_pem("chain.pem");
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		struct mxs_dane_rrset set;
		struct mxs_dane_result r;
		struct rrs s = {0};

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#') {
			if (strstr(line, "-- CN=") != NULL)
				depth++;
			continue;
		}
		if (line[0] == '\0')
			continue;
		rrs_text(&s, line);
		judge(&s, NULL, pem, "example.com", NULL, &set, &r);
		n++;
		if (r.state == MXS_DANE_VALID && r.depth == depth && !r.ta_from_dns)
			passed++;
		else
			print_message("%s: %s depth %d, want depth %d\n", line,
			              mxs_dane_state_name(r.state), r.depth, depth);
		mxs_dane_rrset_free(&set);
		rrs_free(&s);
	}
	fclose(f);
	print_message("tlsa-rdata-for-chain.txt: %zu records, %zu passed\n", n, passed);
	assert_int_equal(n, 12);
	assert_int_equal(passed, n);
	sk_X509_pop_free(pem, X509_free);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_chain_cases),     cmocka_unit_test(test_details),
	        cmocka_unit_test(test_dns_outcomes),    cmocka_unit_test(test_parse),
	        cmocka_unit_test(test_presentation),    cmocka_unit_test(test_limits),
	        cmocka_unit_test(test_openssl_vectors), cmocka_unit_test(test_rdata_for_chain),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
