/*
 * test_cert_check — unit tests for agent/cert_check.c.
 *
 * The certificates are made here with testpki (EC P-256, fixed validity
 * times): a root -> intermediate -> leaf hierarchy, an unknown hierarchy,
 * an expired intermediate, a long chain and leaves with awkward names.
 * Every verdict is checked at a fixed "now" (2024-06-01T00:00:00Z), so the
 * tests never depend on the wall clock.  The last tests read the OpenSSL
 * DANE test chain from $MXS_SHARED_DATA and check facts about it that were
 * verified independently with the openssl command line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cert_check.h"
#include "result.h"
#include "testpki.h"

/* Fixed instants (Unix seconds, UTC). */
#define T_NOW        ((time_t)1717200000) /* 2024-06-01T00:00:00Z */
#define T_2020       ((time_t)1577836800) /* 2020-01-01T00:00:00Z */
#define T_2024       ((time_t)1704067200) /* 2024-01-01T00:00:00Z */
#define T_2024_03_01 ((time_t)1709294400) /* 2024-03-01T12:00:00Z */
#define T_2024_05    ((time_t)1714521600) /* 2024-05-01T00:00:00Z */
#define T_2024_07    ((time_t)1719792000) /* 2024-07-01T00:00:00Z */
#define T_2025       ((time_t)1735689600) /* 2025-01-01T00:00:00Z */
#define T_2025_07    ((time_t)1751328000) /* 2025-07-01T00:00:00Z */
#define T_2035       ((time_t)2051222400) /* 2035-01-01T00:00:00Z */
#define T_2040       ((time_t)2208988800) /* 2040-01-01T00:00:00Z */

#define ORG       TP_ORG
#define ROOT_DN   "CN=Test Root CA,O=" ORG
#define INTER_DN  "CN=Test Intermediate CA,O=" ORG
#define OLDINT_DN "CN=Test Old Intermediate CA,O=" ORG
#define UROOT_DN  "CN=Unknown Root CA,O=" ORG
#define LONG_OU   "an organisational unit that five times overflows 255 octets"
#define LONG_CAS  11 /* CAs between the root and the long chain's leaf */

/* Everything the tests judge, made once. */
static struct {
	char dir[64];
	struct mxs_trust trust; /* root + intermediates file */
	struct mxs_trust bare;  /* root only */
	X509 *root, *inter, *oldint, *uroot, *uinter;
	X509 *leaf, *leaf_expired, *leaf_future, *leaf_old, *leaf_unknown, *selfsigned;
	X509 *hostile_dn, *wild, *cn_only, *san_other, *ip_only, *bad_names, *nul_only, *many;
	X509 *longca[LONG_CAS], *long_leaf;
	char paths[16][192]; /* files and directories made under dir */
	size_t npaths;
} F;

static void
made(const char *path)
{
	assert_true(F.npaths < sizeof(F.paths) / sizeof(F.paths[0]));
	snprintf(F.paths[F.npaths++], sizeof(F.paths[0]), "%s", path);
}

/* A leaf whose subjectAltName holds the given raw dNSName octets. */
static X509 *
mk_raw_san_leaf(const char *cn, const char *const *names, const int *lens, size_t n, X509 *issuer,
                EVP_PKEY *ikey)
{
	X509 *x = tp_cert(cn, TP_SERVER, T_2024, T_2025, NULL, issuer, ikey, NULL);
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();

	assert_non_null(gens);
	for (size_t i = 0; i < n; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();

		assert_non_null(g);
		assert_non_null(s);
		assert_int_equal(ASN1_STRING_set(s, names[i], lens[i]), 1);
		GENERAL_NAME_set0_value(g, GEN_DNS, s);
		assert_true(sk_GENERAL_NAME_push(gens, g) > 0);
	}
	assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT),
	                 1);
	GENERAL_NAMES_free(gens);
	assert_true(X509_sign(x, ikey, EVP_sha256()) > 0);
	return x;
}

static void
write_pem(const char *path, X509 *const *certs, size_t n)
{
	made(path);
	tp_write_pem(path, certs, n);
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	made(path);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void
path_in(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", F.dir, name);

	assert_true(n > 0 && (size_t)n < len);
}

static void
make_many(X509 *issuer, EVP_PKEY *ikey)
{
	char *san = malloc(150 * 32), *p = san;
	size_t left = 150 * 32;

	assert_non_null(san);
	for (int i = 0; i < 150; i++) {
		int n = snprintf(p, left, "%sDNS:n%d.many.example", i ? "," : "", i);

		assert_true(n > 0 && (size_t)n < left);
		p += n;
		left -= (size_t)n;
	}
	F.many = tp_cert("many.example", TP_SERVER, T_2024, T_2025, san, issuer, ikey, NULL);
	free(san);
}

static int
setup(void **state)
{
	static const char *const bad[] = {"evil.example\0.mx.example.test", "caf\xc3\xa9.example",
	                                  "bad name.example", "good.example"};
	static const int badlen[] = {29, 13, 16, 12};
	EVP_PKEY *kroot, *kinter, *koldint, *kuroot, *kuinter, *kca;
	char ca[128], inters[128], err[256];

	(void)state;
	snprintf(F.dir, sizeof(F.dir), "/tmp/mxs-cert-check-XXXXXX");
	assert_non_null(mkdtemp(F.dir));

	F.root = tp_cert("Test Root CA", TP_CA, T_2020, T_2040, NULL, NULL, NULL, &kroot);
	F.inter = tp_cert("Test Intermediate CA", TP_CA, T_2020, T_2035, NULL, F.root, kroot,
	                  &kinter);
	F.oldint = tp_cert("Test Old Intermediate CA", TP_CA, T_2020, T_2024_05, NULL, F.root,
	                   kroot, &koldint);
	F.uroot = tp_cert("Unknown Root CA", TP_CA, T_2020, T_2040, NULL, NULL, NULL, &kuroot);
	F.uinter = tp_cert("Unknown Intermediate CA", TP_CA, T_2020, T_2035, NULL, F.uroot, kuroot,
	                   &kuinter);

	F.leaf = tp_cert("mx.example.test", TP_SERVER, T_2024, T_2025,
	                 "DNS:mx.example.test,DNS:mx2.example.test", F.inter, kinter, NULL);
	F.leaf_expired = tp_cert("mx.example.test", TP_SERVER, T_2020, T_2024_03_01,
	                         "DNS:mx.example.test", F.inter, kinter, NULL);
	F.leaf_future = tp_cert("mx.example.test", TP_SERVER, T_2024_07, T_2025_07,
	                        "DNS:mx.example.test", F.inter, kinter, NULL);
	F.leaf_old = tp_cert("mx.example.test", TP_SERVER, T_2020, T_2025, "DNS:mx.example.test",
	                     F.oldint, koldint, NULL);
	F.leaf_unknown = tp_cert("mx.example.test", TP_SERVER, T_2024, T_2025,
	                         "DNS:mx.example.test", F.uinter, kuinter, NULL);
	F.selfsigned = tp_cert("mx.example.test", TP_SERVER_NOKU, T_2024, T_2025,
	                       "DNS:mx.example.test", NULL, NULL, NULL);

	F.wild = tp_cert("wild.example", TP_SERVER, T_2024, T_2025, "DNS:*.wild.example", F.inter,
	                 kinter, NULL);
	F.cn_only =
	        tp_cert("mx.cn.example", TP_SERVER, T_2024, T_2025, NULL, F.inter, kinter, NULL);
	F.san_other = tp_cert("mx.cn.example", TP_SERVER, T_2024, T_2025, "DNS:other.cn.example",
	                      F.inter, kinter, NULL);
	F.ip_only = tp_cert("mx.cn.example", TP_SERVER, T_2024, T_2025, "IP:192.0.2.1", F.inter,
	                    kinter, NULL);
	F.bad_names = mk_raw_san_leaf("mx.example.test", bad, badlen, 4, F.inter, kinter);
	F.nul_only = mk_raw_san_leaf("mx.example.test", bad, badlen, 1, F.inter, kinter);
	make_many(F.inter, kinter);
	F.hostile_dn = tp_cert("evil\nname, O=x+\xc3\xa9", TP_SERVER, T_2024, T_2025,
	                       "DNS:mx.example.test", F.inter, kinter, NULL);
	/* First in the DN, so last in RFC 2253 order: the part cut off. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(X509_NAME_add_entry_by_txt(
		                         X509_get_subject_name(F.hostile_dn), "OU", MBSTRING_ASC,
		                         (const unsigned char *)LONG_OU, -1, 0, 0),
		                 1);
	assert_true(X509_sign(F.hostile_dn, kinter, EVP_sha256()) > 0);

	/* root -> Chain CA 1 -> ... -> Chain CA 11 -> leaf */
	kca = kroot;
	for (int i = 0; i < LONG_CAS; i++) {
		char cn[32];
		EVP_PKEY *k;

		snprintf(cn, sizeof(cn), "Chain CA %d", i + 1);
		F.longca[i] = tp_cert(cn, TP_CA, T_2020, T_2035, NULL, i ? F.longca[i - 1] : F.root,
		                      kca, &k);
		kca = k;
	}
	F.long_leaf = tp_cert("mx.long.example", TP_SERVER, T_2024, T_2025, "DNS:mx.long.example",
	                      F.longca[LONG_CAS - 1], kca, NULL);

	path_in(ca, sizeof(ca), "root.pem");
	write_pem(ca, &F.root, 1);
	path_in(inters, sizeof(inters), "intermediates.pem");
	write_pem(inters, (X509 *[]){F.inter, F.oldint, F.uinter}, 3);
	assert_int_equal(mxs_trust_load(&F.trust, ca, NULL, inters, err, sizeof(err)), 0);
	assert_int_equal(mxs_trust_load(&F.bare, ca, NULL, NULL, err, sizeof(err)), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mxs_trust_free(&F.trust);
	mxs_trust_free(&F.bare);
	tp_free_all();
	/* Created last, removed first: files before their directories. */
	while (F.npaths > 0)
		remove(F.paths[--F.npaths]);
	if (F.dir[0] != '\0')
		rmdir(F.dir);
	return 0;
}

/* ---- helpers for one judgement ------------------------------------------ */

/* A result tree holding one address, the way the probe gets one. */
struct judged {
	struct mxs_result *r;
	struct mxs_addr *a;
};

static struct mxs_addr *
new_addr(struct judged *j)
{
	struct mxs_host *h;

	assert_non_null(j->r = mxs_result_new("example.test"));
	assert_int_equal(mxs_result_add_host(j->r, "mx.example.test", 10, &h), 0);
	assert_int_equal(mxs_host_add_addr(h, "192.0.2.25", AF_INET, &j->a), 0);
	return j->a;
}

/* Judge chain (then freed, not its certificates) at now for host. */
static struct mxs_addr *
judge_at(struct judged *j, const struct mxs_trust *t, STACK_OF(X509) *chain, const char *host,
         time_t now)
{
	struct mxs_addr *a = new_addr(j);

	assert_int_equal(mxs_cert_check(t, chain, host, now, a), 0);
	sk_X509_free(chain);
	return a;
}

static struct mxs_addr *
judge(struct judged *j, const struct mxs_trust *t, STACK_OF(X509) *chain, const char *host)
{
	return judge_at(j, t, chain, host, T_NOW);
}

static void
done(struct judged *j)
{
	mxs_result_free(&j->r);
	assert_null(j->r);
}

static void
assert_verdict(const struct mxs_verdict *v, enum mxs_status st, enum mxs_rtype rt,
               const char *reason)
{
	assert_int_equal(v->status, st);
	assert_int_equal(v->rtype, rt);
	if (reason != NULL)
		assert_string_equal(v->reason, reason);
}

static void
hex_to_bin(const char *hex, unsigned char *out, size_t n)
{
	assert_int_equal(strlen(hex), 2 * n);
	for (size_t i = 0; i < n; i++) {
		char byte[3] = {hex[2 * i], hex[2 * i + 1], '\0'};
		char *end;
		unsigned long v = strtoul(byte, &end, 16);

		assert_true(*end == '\0' && v <= 0xff);
		out[i] = (unsigned char)v;
	}
}

/* ---- PKIX ----------------------------------------------------------------- */

static void
test_valid_chain(void **state)
{
	struct judged j;
	struct mxs_addr *a =
	        judge(&j, &F.trust, tp_chain(F.leaf, F.inter, NULL), "mx.example.test");

	(void)state;
	assert_verdict(&a->pkix, MXS_ST_OK, MXS_RT_NONE, "chain validates to trusted " ROOT_DN);
	assert_int_equal(a->x509_error, 0);
	assert_string_equal(a->missing_intermediate, "");
	assert_verdict(&a->name, MXS_ST_OK, MXS_RT_NONE,
	               "DNS-ID mx.example.test matches mx.example.test");
	assert_string_equal(a->name_reference, "mx.example.test");
	assert_string_equal(a->name_matched, "mx.example.test");
	assert_int_equal(a->days_to_expiry, 214);

	assert_int_equal(a->nchain, 2);
	assert_string_equal(a->chain[0].subject, "CN=mx.example.test,O=" ORG);
	assert_string_equal(a->chain[0].issuer, INTER_DN);
	assert_string_equal(a->chain[0].not_before, "2024-01-01T00:00:00Z");
	assert_string_equal(a->chain[0].not_after, "2025-01-01T00:00:00Z");
	assert_false(a->chain[0].self_signed);
	assert_string_equal(a->chain[1].subject, INTER_DN);
	assert_string_equal(a->chain[1].issuer, ROOT_DN);
	assert_string_equal(a->chain[1].not_after, "2035-01-01T00:00:00Z");
	assert_false(a->chain[1].self_signed);

	assert_int_equal(a->nleaf_dns_names, 2);
	assert_string_equal(a->leaf_dns_names[0], "mx.example.test");
	assert_string_equal(a->leaf_dns_names[1], "mx2.example.test");
	done(&j);
}

/* The root sent as well changes nothing, and is recorded as self-signed. */
static void
test_valid_chain_with_root(void **state)
{
	struct judged j;
	struct mxs_addr *a =
	        judge(&j, &F.bare, tp_chain(F.leaf, F.inter, F.root, NULL), "mx2.example.test");

	(void)state;
	assert_verdict(&a->pkix, MXS_ST_OK, MXS_RT_NONE, NULL);
	assert_int_equal(a->nchain, 3);
	assert_true(a->chain[2].self_signed);
	assert_string_equal(a->chain[2].subject, ROOT_DN);
	assert_string_equal(a->chain[2].issuer, ROOT_DN);
	assert_string_equal(a->name_matched, "mx2.example.test");
	done(&j);
}

static void
test_digests(void **state)
{
	struct judged j;
	struct mxs_addr *a =
	        judge(&j, &F.trust, tp_chain(F.leaf, F.inter, NULL), "mx.example.test");
	X509 *certs[2] = {F.leaf, F.inter};

	(void)state;
	for (int i = 0; i < 2; i++) {
		unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
		unsigned int mdlen = 0;
		int len;

		assert_int_equal(X509_digest(certs[i], EVP_sha256(), md, &mdlen), 1);
		assert_int_equal(mdlen, 32);
		assert_memory_equal(a->chain[i].sha256, md, 32);

		/* The SPKI hash is over the whole DER SubjectPublicKeyInfo ... */
		len = i2d_PUBKEY(X509_get0_pubkey(certs[i]), &der);
		assert_true(len > 0);
		assert_int_equal(EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL), 1);
		OPENSSL_free(der);
		assert_memory_equal(a->chain[i].spki_sha256, md, 32);

		/* ... which X509_pubkey_digest (key BIT STRING only) is not. */
		assert_int_equal(X509_pubkey_digest(certs[i], EVP_sha256(), md, &mdlen), 1);
		assert_memory_not_equal(a->chain[i].spki_sha256, md, 32);
	}
	done(&j);
}

static void
test_expired_leaf(void **state)
{
	struct judged j;
	struct mxs_addr *a =
	        judge(&j, &F.trust, tp_chain(F.leaf_expired, F.inter, NULL), "mx.example.test");

	(void)state;
	assert_verdict(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_EXPIRED,
	               "certificate has expired (notAfter 2024-03-01T12:00:00Z)");
	assert_int_equal(a->x509_error, X509_V_ERR_CERT_HAS_EXPIRED);
	/* 91.5 days ago: the floor is -92. */
	assert_int_equal(a->days_to_expiry, -92);
	/* Independent of PKIX: the name still matches. */
	assert_verdict(&a->name, MXS_ST_OK, MXS_RT_NONE, NULL);
	done(&j);
}

/*
 * Expiry is judged at the given now.  OpenSSL's X509_cmp_time counts the
 * notAfter second itself as past, so the certificate is expired there
 * while floor((notAfter - now) / 86400) is still 0.
 */
static void
test_expiry_boundary(void **state)
{
	static const struct {
		time_t now;
		enum mxs_status st;
		int days;
	} c[] = {
	        {T_2024_03_01 - 86400 - 1, MXS_ST_OK, 1}, {T_2024_03_01 - 86400, MXS_ST_OK, 1},
	        {T_2024_03_01 - 86399, MXS_ST_OK, 0},     {T_2024_03_01 - 1, MXS_ST_OK, 0},
	        {T_2024_03_01, MXS_ST_FAIL, 0},           {T_2024_03_01 + 1, MXS_ST_FAIL, -1},
	        {T_2024_03_01 + 86400, MXS_ST_FAIL, -1},  {T_2024_03_01 + 86401, MXS_ST_FAIL, -2},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct judged j;
		struct mxs_addr *a = judge_at(&j, &F.trust, tp_chain(F.leaf_expired, F.inter, NULL),
		                              "mx.example.test", c[i].now);

		assert_verdict(&a->pkix, c[i].st,
		               c[i].st == MXS_ST_OK ? MXS_RT_NONE : MXS_RT_CERT_EXPIRED, NULL);
		assert_int_equal(a->days_to_expiry, c[i].days);
		done(&j);
	}
}

static void
test_not_yet_valid(void **state)
{
	struct judged j;
	struct mxs_addr *a =
	        judge(&j, &F.trust, tp_chain(F.leaf_future, F.inter, NULL), "mx.example.test");

	(void)state;
	assert_verdict(&a->pkix, MXS_ST_FAIL, MXS_RT_VALIDATION_FAILURE,
	               "certificate is not yet valid (notBefore 2024-07-01T00:00:00Z)");
	assert_int_equal(a->x509_error, X509_V_ERR_CERT_NOT_YET_VALID);
	assert_int_equal(a->days_to_expiry, 395);
	done(&j);
}

static void
test_self_signed(void **state)
{
	struct judged j;
	struct mxs_addr *a = judge(&j, &F.trust, tp_chain(F.selfsigned, NULL), "mx.example.test");

	(void)state;
	assert_verdict(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_NOT_TRUSTED, "self-signed certificate");
	assert_int_equal(a->x509_error, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
	assert_int_equal(a->nchain, 1);
	assert_true(a->chain[0].self_signed);
	assert_string_equal(a->chain[0].subject, a->chain[0].issuer);
	assert_string_equal(a->missing_intermediate, "");
	/* A self-signed certificate can still carry the right name. */
	assert_verdict(&a->name, MXS_ST_OK, MXS_RT_NONE, NULL);
	done(&j);
}

static void
test_unknown_root(void **state)
{
	struct judged j;
	struct mxs_addr *a;

	(void)state;
	/* The intermediates file holds Unknown Intermediate CA too: adding it
	 * builds no anchored chain, so no missing intermediate is claimed. */
	a = judge(&j, &F.trust, tp_chain(F.leaf_unknown, F.uinter, NULL), "mx.example.test");
	assert_verdict(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_NOT_TRUSTED,
	               "unable to get local issuer certificate (issuer " UROOT_DN " not found)");
	assert_int_equal(a->x509_error, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	assert_string_equal(a->missing_intermediate, "");
	done(&j);

	a = judge(&j, &F.trust, tp_chain(F.leaf_unknown, NULL), "mx.example.test");
	assert_verdict(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_NOT_TRUSTED, NULL);
	assert_string_equal(a->missing_intermediate, "");
	done(&j);

	a = judge(&j, &F.trust, tp_chain(F.leaf_unknown, F.uinter, F.uroot, NULL),
	          "mx.example.test");
	assert_verdict(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_NOT_TRUSTED,
	               "self-signed certificate in chain: root " UROOT_DN " is not trusted");
	assert_int_equal(a->x509_error, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN);
	done(&j);
}

static void
test_missing_intermediate(void **state)
{
	struct judged j;
	struct mxs_addr *a;

	(void)state;
	a = judge(&j, &F.trust, tp_chain(F.leaf, NULL), "mx.example.test");
	assert_verdict(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_NOT_TRUSTED,
	               "incomplete chain: server did not send intermediate " INTER_DN
	               ", chain validates with it");
	assert_string_equal(a->missing_intermediate, INTER_DN);
	assert_int_equal(a->x509_error, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	assert_verdict(&a->name, MXS_ST_OK, MXS_RT_NONE, NULL);
	done(&j);

	/* Without the intermediates file there is nothing to explain it. */
	a = judge(&j, &F.bare, tp_chain(F.leaf, NULL), "mx.example.test");
	assert_verdict(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_NOT_TRUSTED,
	               "unable to get local issuer certificate (issuer " INTER_DN " not found)");
	assert_string_equal(a->missing_intermediate, "");
	assert_int_equal(a->x509_error, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	done(&j);
}

static void
test_missing_intermediate_expired(void **state)
{
	struct judged j;
	struct mxs_addr *a;

	(void)state;
	/* Missing intermediate, and the leaf has expired. */
	a = judge(&j, &F.trust, tp_chain(F.leaf_expired, NULL), "mx.example.test");
	assert_verdict(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_NOT_TRUSTED,
	               "incomplete chain: server did not send intermediate " INTER_DN
	               "; with it the chain builds but: certificate has expired "
	               "(notAfter 2024-03-01T12:00:00Z)");
	assert_string_equal(a->missing_intermediate, INTER_DN);
	assert_int_equal(a->x509_error, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	assert_int_equal(a->days_to_expiry, -92);
	done(&j);

	/* The missing intermediate is itself expired. */
	a = judge(&j, &F.trust, tp_chain(F.leaf_old, NULL), "mx.example.test");
	assert_verdict(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_NOT_TRUSTED,
	               "incomplete chain: server did not send intermediate " OLDINT_DN
	               "; with it the chain builds but: CA certificate " OLDINT_DN
	               " has expired (notAfter 2024-05-01T00:00:00Z)");
	assert_string_equal(a->missing_intermediate, OLDINT_DN);
	done(&j);

	/* Sent, the expired intermediate is an expiry finding. */
	a = judge(&j, &F.trust, tp_chain(F.leaf_old, F.oldint, NULL), "mx.example.test");
	assert_verdict(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_EXPIRED,
	               "CA certificate " OLDINT_DN " has expired (notAfter 2024-05-01T00:00:00Z)");
	assert_int_equal(a->x509_error, X509_V_ERR_CERT_HAS_EXPIRED);
	assert_string_equal(a->missing_intermediate, "");
	assert_int_equal(a->days_to_expiry, 214);
	done(&j);
}

static void
test_long_chain(void **state)
{
	struct judged j;
	STACK_OF(X509) *chain = tp_chain(F.long_leaf, NULL);
	struct mxs_addr *a;

	(void)state;
	for (int i = LONG_CAS - 1; i >= 0; i--)
		assert_true(sk_X509_push(chain, F.longca[i]) > 0);
	assert_int_equal(sk_X509_num(chain), 12);
	a = judge(&j, &F.bare, chain, "mx.long.example");
	assert_int_equal(a->nchain, MXS_CHAIN_MAX);
	assert_string_equal(a->chain[0].subject, "CN=mx.long.example,O=" ORG);
	assert_string_equal(a->chain[1].subject, "CN=Chain CA 11,O=" ORG);
	assert_string_equal(a->chain[MXS_CHAIN_MAX - 1].subject, "CN=Chain CA 3,O=" ORG);
	assert_string_equal(a->chain[MXS_CHAIN_MAX - 1].issuer, "CN=Chain CA 2,O=" ORG);
	/* Only the record is capped: validation used every presented cert. */
	assert_verdict(&a->pkix, MXS_ST_OK, MXS_RT_NONE, "chain validates to trusted " ROOT_DN);
	assert_verdict(&a->name, MXS_ST_OK, MXS_RT_NONE, NULL);
	done(&j);
}

static void
test_empty_chain(void **state)
{
	struct judged j;
	struct mxs_addr *a;

	(void)state;
	a = judge(&j, &F.trust, tp_chain(NULL), "mx.example.test");
	assert_verdict(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_NOT_TRUSTED, "no certificate presented");
	assert_verdict(&a->name, MXS_ST_FAIL, MXS_RT_CERT_HOST_MISMATCH,
	               "no certificate presented");
	assert_int_equal(a->nchain, 0);
	assert_int_equal(a->nleaf_dns_names, 0);
	assert_string_equal(a->name_reference, "mx.example.test");
	done(&j);

	a = new_addr(&j);
	assert_int_equal(mxs_cert_check(&F.trust, NULL, "mx.example.test", T_NOW, a), 0);
	assert_verdict(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_NOT_TRUSTED, "no certificate presented");
	assert_verdict(&a->name, MXS_ST_FAIL, MXS_RT_CERT_HOST_MISMATCH, NULL);
	done(&j);
}

/* A second judgement of the same address replaces the first, leak-free. */
static void
test_rejudge(void **state)
{
	struct judged j;
	struct mxs_addr *a =
	        judge(&j, &F.trust, tp_chain(F.leaf, F.inter, NULL), "mx.example.test");
	STACK_OF(X509) *chain = tp_chain(F.selfsigned, NULL);

	(void)state;
	assert_int_equal(a->nleaf_dns_names, 2);
	assert_int_equal(mxs_cert_check(&F.trust, chain, "other.example.test", T_NOW, a), 0);
	sk_X509_free(chain);
	assert_int_equal(a->nchain, 1);
	assert_int_equal(a->nleaf_dns_names, 1);
	assert_string_equal(a->name_matched, "");
	assert_verdict(&a->name, MXS_ST_FAIL, MXS_RT_CERT_HOST_MISMATCH,
	               "certificate names mx.example.test; expected other.example.test");

	chain = tp_chain(NULL);
	assert_int_equal(mxs_cert_check(&F.trust, chain, "mx.example.test", T_NOW, a), 0);
	sk_X509_free(chain);
	assert_int_equal(a->nchain, 0);
	assert_null(a->leaf_dns_names);
	assert_int_equal(a->nleaf_dns_names, 0);
	assert_int_equal(a->x509_error, 0);
	assert_int_equal(a->days_to_expiry, 0);
	done(&j);
}

/* What the hostile subject starts with, RFC 2253 escaped. */
#define HOSTILE_DN "CN=evil\\0Aname\\, O=x\\+\\C3\\83\\C2\\A9,O=" ORG ",OU=an "

/* A subject from a hostile server: control bytes, high bytes, separators,
 * longer than the field.  Stored escaped, printable and cut at 255 octets. */
static void
test_hostile_subject(void **state)
{
	struct judged j;
	struct mxs_addr *a =
	        judge(&j, &F.trust, tp_chain(F.hostile_dn, F.inter, NULL), "mx.example.test");
	const char *subj = a->chain[0].subject;

	(void)state;
	assert_int_equal(strlen(subj), sizeof(a->chain[0].subject) - 1);
	for (const char *p = subj; *p != '\0'; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
	assert_int_equal(strncmp(subj, HOSTILE_DN, strlen(HOSTILE_DN)), 0);
	assert_verdict(&a->pkix, MXS_ST_OK, MXS_RT_NONE, NULL);
	assert_verdict(&a->name, MXS_ST_OK, MXS_RT_NONE, NULL);
	done(&j);
}

/* ---- names ---------------------------------------------------------------- */

struct name_case {
	const char *host;
	enum mxs_status st;
	const char *matched;
	const char *reason;
};

static void
run_names(X509 *leaf, const struct name_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct judged j;
		struct mxs_addr *a = judge(&j, &F.trust, tp_chain(leaf, F.inter, NULL), c[i].host);

		assert_verdict(&a->name, c[i].st,
		               c[i].st == MXS_ST_OK ? MXS_RT_NONE : MXS_RT_CERT_HOST_MISMATCH,
		               c[i].reason);
		assert_string_equal(a->name_matched, c[i].matched);
		assert_string_equal(a->name_reference, c[i].host);
		/* The name never changes the PKIX verdict. */
		assert_verdict(&a->pkix, MXS_ST_OK, MXS_RT_NONE, NULL);
		done(&j);
	}
}

static void
test_wildcard(void **state)
{
	static const struct name_case c[] = {
	        {"mx.wild.example", MXS_ST_OK, "*.wild.example",
	         "DNS-ID *.wild.example matches mx.wild.example"},
	        {"MX.Wild.Example.", MXS_ST_OK, "*.wild.example", NULL},
	        {"a.mx.wild.example", MXS_ST_FAIL, "",
	         "certificate names *.wild.example; expected a.mx.wild.example"},
	        /* The CN would match, and the reason says why it does not count. */
	        {"wild.example", MXS_ST_FAIL, "",
	         "certificate names *.wild.example; expected wild.example (subject CN "
	         "wild.example not consulted: the certificate has DNS-IDs)"},
	        {"x.y.wild.example", MXS_ST_FAIL, "", NULL},
	        {"wild.example.", MXS_ST_FAIL, "", NULL},
	};

	(void)state;
	run_names(F.wild, c, sizeof(c) / sizeof(c[0]));
}

static void
test_cn_fallback(void **state)
{
	static const struct name_case only[] = {
	        {"mx.cn.example", MXS_ST_OK, "mx.cn.example",
	         "subject CN mx.cn.example matches mx.cn.example (no subjectAltName DNS name, "
	         "CN fallback)"},
	        {"other.cn.example", MXS_ST_FAIL, "",
	         "certificate names mx.cn.example (subject CN, no subjectAltName DNS name); "
	         "expected other.cn.example"},
	};
	/* An IP address SAN is not a DNS-ID: the CN may still stand in. */
	static const struct name_case ip[] = {
	        {"mx.cn.example", MXS_ST_OK, "mx.cn.example", NULL},
	};

	(void)state;
	run_names(F.cn_only, only, sizeof(only) / sizeof(only[0]));
	run_names(F.ip_only, ip, sizeof(ip) / sizeof(ip[0]));
}

static void
test_san_hides_cn(void **state)
{
	static const struct name_case c[] = {
	        {"mx.cn.example", MXS_ST_FAIL, "",
	         "certificate names other.cn.example; expected mx.cn.example (subject CN "
	         "mx.cn.example not consulted: the certificate has DNS-IDs)"},
	        {"other.cn.example", MXS_ST_OK, "other.cn.example", NULL},
	};

	(void)state;
	run_names(F.san_other, c, sizeof(c) / sizeof(c[0]));
}

/* Hostile dNSNames: embedded NUL, non-ASCII, space.  Skipped, never matched. */
static void
test_bad_dns_names(void **state)
{
	static const struct name_case all[] = {
	        {"mx.example.test", MXS_ST_FAIL, "",
	         "certificate names good.example; expected mx.example.test (subject CN "
	         "mx.example.test not consulted: the certificate has DNS-IDs)"},
	        {"evil.example", MXS_ST_FAIL, "", NULL},
	        {"good.example", MXS_ST_OK, "good.example", NULL},
	};
	static const struct name_case nul[] = {
	        {"mx.example.test", MXS_ST_FAIL, "",
	         "certificate has no usable subjectAltName DNS name (1 skipped); expected "
	         "mx.example.test (subject CN mx.example.test not consulted: the certificate "
	         "has DNS-IDs)"},
	};
	struct judged j;
	struct mxs_addr *a;

	(void)state;
	run_names(F.bad_names, all, sizeof(all) / sizeof(all[0]));
	run_names(F.nul_only, nul, sizeof(nul) / sizeof(nul[0]));

	a = judge(&j, &F.trust, tp_chain(F.bad_names, F.inter, NULL), "good.example");
	assert_int_equal(a->nleaf_dns_names, 1);
	assert_string_equal(a->leaf_dns_names[0], "good.example");
	done(&j);
}

static void
test_many_names(void **state)
{
	static const struct name_case c[] = {
	        {"n140.many.example", MXS_ST_OK, "n140.many.example", NULL},
	        {"x.many.example", MXS_ST_FAIL, "",
	         "certificate names n0.many.example, n1.many.example, n2.many.example "
	         "(and 147 more); expected x.many.example"},
	};
	struct judged j;
	struct mxs_addr *a;

	(void)state;
	run_names(F.many, c, sizeof(c) / sizeof(c[0]));
	a = judge(&j, &F.trust, tp_chain(F.many, F.inter, NULL), "n140.many.example");
	assert_int_equal(a->nleaf_dns_names, MXS_NAMES_MAX);
	assert_string_equal(a->leaf_dns_names[MXS_NAMES_MAX - 1], "n99.many.example");
	done(&j);
}

static void
test_no_host(void **state)
{
	struct judged j;
	struct mxs_addr *a = judge(&j, &F.trust, tp_chain(F.leaf, F.inter, NULL), NULL);

	(void)state;
	assert_verdict(&a->name, MXS_ST_FAIL, MXS_RT_CERT_HOST_MISMATCH, NULL);
	assert_string_equal(a->name_reference, "");
	done(&j);
}

/* ---- trust loading ------------------------------------------------------ */

static void
expect_load_error(const char *ca_file, const char *ca_path, const char *inter, int code,
                  const char *needle1, const char *needle2)
{
	struct mxs_trust t = {(X509_STORE *)1, (STACK_OF(X509) *)1};
	char err[512] = "";

	assert_int_equal(mxs_trust_load(&t, ca_file, ca_path, inter, err, sizeof(err)), code);
	assert_null(t.store);
	assert_null(t.intermediates);
	if (strstr(err, needle1) == NULL || (needle2 != NULL && strstr(err, needle2) == NULL))
		fail_msg("errstr \"%s\" lacks \"%s\" / \"%s\"", err, needle1,
		         needle2 != NULL ? needle2 : "");
}

static void
test_trust_load_errors(void **state)
{
	char missing[128], garbage[128], empty[128], trunc[128], ca[128];

	(void)state;
	path_in(missing, sizeof(missing), "no-such.pem");
	path_in(garbage, sizeof(garbage), "garbage.pem");
	path_in(empty, sizeof(empty), "empty.pem");
	path_in(trunc, sizeof(trunc), "truncated.pem");
	path_in(ca, sizeof(ca), "root.pem");
	write_text(garbage, "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
	                    "-----END CERTIFICATE-----\n");
	write_text(empty, "just a comment, no PEM block\n");
	write_text(trunc, "-----BEGIN CERTIFICATE-----\nMIIB\n");

	expect_load_error(NULL, NULL, NULL, MXS_ECONFIG, "neither ca_file nor ca_path", NULL);
	expect_load_error("", "", NULL, MXS_ECONFIG, "neither ca_file nor ca_path", NULL);
	expect_load_error(missing, NULL, NULL, MXS_ECONFIG, missing, "No such file");
	expect_load_error(garbage, NULL, NULL, MXS_ECONFIG, garbage, "ca_file");
	expect_load_error(empty, NULL, NULL, MXS_ECONFIG, empty, "no PEM certificate");
	expect_load_error(trunc, NULL, NULL, MXS_ECONFIG, trunc, "certificate 1");
	expect_load_error(NULL, missing, NULL, MXS_ECONFIG, missing, "No such file");
	expect_load_error(NULL, ca, NULL, MXS_ECONFIG, ca, "not a directory");
	expect_load_error(ca, NULL, missing, MXS_ECONFIG, "intermediates_file", missing);
	expect_load_error(ca, NULL, garbage, MXS_ECONFIG, "intermediates_file", garbage);
	expect_load_error(ca, NULL, empty, MXS_ECONFIG, "intermediates_file", empty);
}

/* Roots from a hashed directory (c_rehash layout) only. */
static void
test_trust_ca_path(void **state)
{
	struct mxs_trust t;
	char dir[128], file[192], err[256] = "";
	struct judged j;
	struct mxs_addr *a;
	int ok = 0;
	unsigned long h = X509_NAME_hash_ex(X509_get_subject_name(F.root), NULL, NULL, &ok);

	(void)state;
	assert_int_equal(ok, 1);
	path_in(dir, sizeof(dir), "capath");
	assert_int_equal(mkdir(dir, 0700), 0);
	made(dir);
	snprintf(file, sizeof(file), "%s/%08lx.0", dir, h);
	write_pem(file, &F.root, 1);

	assert_int_equal(mxs_trust_load(&t, NULL, dir, NULL, err, sizeof(err)), 0);
	assert_non_null(t.intermediates);
	assert_int_equal(sk_X509_num(t.intermediates), 0);
	a = judge(&j, &t, tp_chain(F.leaf, F.inter, NULL), "mx.example.test");
	assert_verdict(&a->pkix, MXS_ST_OK, MXS_RT_NONE, "chain validates to trusted " ROOT_DN);
	done(&j);
	a = judge(&j, &t, tp_chain(F.leaf_unknown, F.uinter, NULL), "mx.example.test");
	assert_verdict(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_NOT_TRUSTED, NULL);
	done(&j);
	mxs_trust_free(&t);
	assert_null(t.store);
	assert_null(t.intermediates);
	mxs_trust_free(&t); /* twice is harmless */
}

/* ---- the OpenSSL DANE test chain (shared data) --------------------------- */

/*
 * Facts below were checked with the openssl CLI (3.0):
 *   openssl x509 -noout -subject -issuer -dates -fingerprint -sha256 -nameopt RFC2253
 *   openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256
 *   openssl verify -attime 1717200000 -CAfile root.pem -untrusted inter.pem leaf.pem: OK
 * and agree with the 3 0 1 / 3 1 1 / 2 0 1 / 2 1 1 lines of tlsa-rdata-for-chain.txt.
 */
static const struct {
	const char *subject, *issuer, *not_before, *not_after, *sha256, *spki;
	int self_signed;
} dane_facts[] = {
        {"CN=example.com", "CN=Issuer CA", "2015-12-13T23:23:52Z", "3015-04-15T23:23:52Z",
         "BEDC04764CECAE80AEE454D332758F50847DCA424216466E4012E0DEAE1F2E5F",
         "3111668338043DE264D0256A702248696C9484B6221A42740F920187B4C61838", 0},
        {"CN=Issuer CA", "CN=Root CA", "2015-12-13T23:20:09Z", "3015-04-15T23:20:09Z",
         "0DAA76425A1FC398C55A643D5A2485AE4CC2B64B9515A75054722B2E83C31BBD",
         "65A457617072DA3E7F1152471EB3D406526530097D0A9AA34EB47C990A1FCDA3", 0},
        {"CN=Root CA", "CN=Root CA", "2015-12-13T23:13:08Z", "3015-04-15T23:13:08Z",
         "FE7C8E01110627A782765E468D8CB4D2CC7907EAC4BA5974CD92B540ED2AAC3C",
         "91D942E4A2D4226DDAF28CADAA7F13018E4ED0D9A43A529247E51C965188576C", 1},
};

static STACK_OF(X509) *
read_shared_pem(const char *name)
{
	const char *base = getenv("MXS_SHARED_DATA");
	char path[512];

	if (base == NULL)
		return NULL;
	snprintf(path, sizeof(path), "%s/policy-vectors/openssl-dane/%s", base, name);
	return tp_read_pem(path);
}

static void
test_dane_chain_pem(void **state)
{
	STACK_OF(X509) *pem = read_shared_pem("chain.pem");
	struct mxs_trust t;
	char ca[128], err[256] = "";
	struct judged j;
	struct mxs_addr *a;

	(void)state;
	if (pem == NULL)
		skip();
	assert_int_equal(sk_X509_num(pem), 3);
	path_in(ca, sizeof(ca), "dane-root.pem");
	write_pem(ca, (X509 *[]){sk_X509_value(pem, 2)}, 1);
	assert_int_equal(mxs_trust_load(&t, ca, NULL, NULL, err, sizeof(err)), 0);

	a = judge(&j, &t, sk_X509_dup(pem), "example.com");
	assert_int_equal(a->nchain, 3);
	for (size_t i = 0; i < 3; i++) {
		unsigned char md[32];

		assert_string_equal(a->chain[i].subject, dane_facts[i].subject);
		assert_string_equal(a->chain[i].issuer, dane_facts[i].issuer);
		assert_string_equal(a->chain[i].not_before, dane_facts[i].not_before);
		assert_string_equal(a->chain[i].not_after, dane_facts[i].not_after);
		assert_int_equal(a->chain[i].self_signed, dane_facts[i].self_signed);
		hex_to_bin(dane_facts[i].sha256, md, sizeof(md));
		assert_memory_equal(a->chain[i].sha256, md, sizeof(md));
		hex_to_bin(dane_facts[i].spki, md, sizeof(md));
		assert_memory_equal(a->chain[i].spki_sha256, md, sizeof(md));
	}
	assert_int_equal(a->nleaf_dns_names, 1);
	assert_string_equal(a->leaf_dns_names[0], "example.com");
	assert_verdict(&a->pkix, MXS_ST_OK, MXS_RT_NONE, "chain validates to trusted CN=Root CA");
	assert_verdict(&a->name, MXS_ST_OK, MXS_RT_NONE, "DNS-ID example.com matches example.com");
	/* 2024-06-01 to 3015-04-15T23:23:52Z: 31268849032 s = 361907.5 days. */
	assert_int_equal(a->days_to_expiry, 361907);
	done(&j);

	/* Against our own root, the DANE root is an untrusted self-signed one. */
	a = judge(&j, &F.trust, sk_X509_dup(pem), "www.example.com");
	assert_verdict(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_NOT_TRUSTED,
	               "self-signed certificate in chain: root CN=Root CA is not trusted");
	assert_verdict(&a->name, MXS_ST_FAIL, MXS_RT_CERT_HOST_MISMATCH,
	               "certificate names example.com; expected www.example.com");
	done(&j);

	mxs_trust_free(&t);
	sk_X509_pop_free(pem, X509_free);
}

/* Empty subject and issuer, notAfter before notBefore, no extensions. */
static void
test_dane_never_valid_leaf(void **state)
{
	STACK_OF(X509) *pem = read_shared_pem("never-valid-leaf.pem");
	struct judged j;
	struct mxs_addr *a;
	unsigned char md[32];

	(void)state;
	if (pem == NULL)
		skip();
	assert_int_equal(sk_X509_num(pem), 1);
	a = judge(&j, &F.trust, sk_X509_dup(pem), "example.com");
	assert_int_equal(a->nchain, 1);
	assert_string_equal(a->chain[0].subject, "");
	assert_string_equal(a->chain[0].issuer, "");
	assert_string_equal(a->chain[0].not_before, "2015-12-14T00:10:34Z");
	assert_string_equal(a->chain[0].not_after, "2015-12-13T00:10:34Z");
	/* openssl verify: "error 18 at 0 depth lookup: self-signed certificate" */
	assert_true(a->chain[0].self_signed);
	assert_verdict(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_NOT_TRUSTED, "self-signed certificate");
	/* 2015-12-13T00:10:34Z is 3092.9 days before now. */
	assert_int_equal(a->days_to_expiry, -3093);
	assert_verdict(&a->name, MXS_ST_FAIL, MXS_RT_CERT_HOST_MISMATCH,
	               "certificate has no DNS name (no subjectAltName DNS name, no usable "
	               "subject CN); expected example.com");
	/* 3 0 1 and 3 1 1 of tlsa-cases.json tests 1 and 2 */
	hex_to_bin("588FD5F414E3327EAFE3169DC040AE161247D1296BF38304AB9CF464850A1365", md, 32);
	assert_memory_equal(a->chain[0].sha256, md, 32);
	hex_to_bin("05C66146D7909EAE2379825F6D0F5284146B79598DA12E403DC29C33147CF33E", md, 32);
	assert_memory_equal(a->chain[0].spki_sha256, md, 32);
	done(&j);
	sk_X509_pop_free(pem, X509_free);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_valid_chain),
	        cmocka_unit_test(test_valid_chain_with_root),
	        cmocka_unit_test(test_digests),
	        cmocka_unit_test(test_expired_leaf),
	        cmocka_unit_test(test_expiry_boundary),
	        cmocka_unit_test(test_not_yet_valid),
	        cmocka_unit_test(test_self_signed),
	        cmocka_unit_test(test_unknown_root),
	        cmocka_unit_test(test_missing_intermediate),
	        cmocka_unit_test(test_missing_intermediate_expired),
	        cmocka_unit_test(test_long_chain),
	        cmocka_unit_test(test_empty_chain),
	        cmocka_unit_test(test_rejudge),
	        cmocka_unit_test(test_hostile_subject),
	        cmocka_unit_test(test_wildcard),
	        cmocka_unit_test(test_cn_fallback),
	        cmocka_unit_test(test_san_hides_cn),
	        cmocka_unit_test(test_bad_dns_names),
	        cmocka_unit_test(test_many_names),
	        cmocka_unit_test(test_no_host),
	        cmocka_unit_test(test_trust_load_errors),
	        cmocka_unit_test(test_trust_ca_path),
	        cmocka_unit_test(test_dane_chain_pem),
	        cmocka_unit_test(test_dane_never_valid_leaf),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
