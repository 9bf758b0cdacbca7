/*
 * testpki — certificates for the unit tests (see testpki.h).
 *
 * Made keys and certificates go into two growing arrays, so a test can
 * make as many as it likes without counting them and release them with
 * one call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "testpki.h"

static struct {
	EVP_PKEY **keys;
	X509 **certs;
	size_t n, cap; /* keys and certs are made in pairs */
} made;

static void
keep(EVP_PKEY *k, X509 *x)
{
	if (made.n == made.cap) {
		made.cap = made.cap ? 2 * made.cap : 32;
		assert_non_null(made.keys = realloc(made.keys, made.cap * sizeof(*made.keys)));
		assert_non_null(made.certs = realloc(made.certs, made.cap * sizeof(*made.certs)));
	}
	made.keys[made.n] = k;
	made.certs[made.n++] = x;
}

void
tp_free_all(void)
{
	for (size_t i = 0; i < made.n; i++) {
		X509_free(made.certs[i]);
		EVP_PKEY_free(made.keys[i]);
	}
	free(made.keys);
	free(made.certs);
	made.keys = NULL;
	made.certs = NULL;
	made.n = made.cap = 0;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	assert_non_null(ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value));
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

static void
set_subject(X509 *x, const char *cn)
{
	X509_NAME *nm = X509_get_subject_name(x);

	if (cn == NULL)
		return;
	assert_int_equal(X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC,
	                                            (const unsigned char *)TP_ORG, -1, -1, 0),
	                 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	                                            (const unsigned char *)cn, -1, -1, 0),
	                 1);
}

static void
set_validity(X509 *x, time_t nb, time_t na)
{
	ASN1_TIME *t = ASN1_TIME_set(NULL, nb);

	assert_non_null(t);
	assert_int_equal(X509_set1_notBefore(x, t), 1);
	assert_non_null(ASN1_TIME_set(t, na));
	assert_int_equal(X509_set1_notAfter(x, t), 1);
	ASN1_TIME_free(t);
}

static void
set_kind(X509 *x, X509 *issuer, enum tp_kind kind)
{
	if (kind == TP_CA) {
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
		return;
	}
	add_ext(x, issuer, NID_basic_constraints, "CA:FALSE");
	if (kind != TP_SERVER_NOKU)
		add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
	add_ext(x, issuer, NID_ext_key_usage, kind == TP_CLIENT ? "clientAuth" : "serverAuth");
}

X509 *
tp_cert(const char *cn, enum tp_kind kind, time_t nb, time_t na, const char *san, X509 *issuer,
        EVP_PKEY *ikey, EVP_PKEY **keyp)
{
	static long serial = 1;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();

	assert_non_null(key);
	assert_non_null(x);
	keep(key, x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
	set_subject(x, cn);
	if (issuer == NULL) {
		issuer = x;
		ikey = key;
	}
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(issuer)), 1);
	set_validity(x, nb, na);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	add_ext(x, issuer, NID_subject_key_identifier, "hash");
	if (issuer != x)
		add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
	set_kind(x, issuer, kind);
	if (san != NULL)
		add_ext(x, issuer, NID_subject_alt_name, san);
	assert_true(X509_sign(x, ikey, EVP_sha256()) > 0);
	if (keyp != NULL)
		*keyp = key;
	return x;
}

STACK_OF(X509) *
tp_chain_n(X509 *const *v, size_t n)
{
	STACK_OF(X509) *sk = sk_X509_new_null();

	assert_non_null(sk);
	for (size_t i = 0; i < n; i++)
		assert_true(sk_X509_push(sk, v[i]) > 0);
	return sk;
}

STACK_OF(X509) *
tp_chain(X509 *first, ...)
{
	STACK_OF(X509) *sk = tp_chain_n(NULL, 0);
	va_list ap;

	va_start(ap, first);
	for (X509 *x = first; x != NULL; x = va_arg(ap, X509 *))
		assert_true(sk_X509_push(sk, x) > 0);
	va_end(ap);
	return sk;
}

void
tp_write_pem(const char *path, X509 *const *certs, size_t n)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(PEM_write_X509(f, certs[i]), 1);
	assert_int_equal(fclose(f), 0);
}

STACK_OF(X509) *
tp_read_pem(const char *path)
{
	FILE *f = fopen(path, "r");
	STACK_OF(X509) *sk;
	X509 *x;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	sk = tp_chain_n(NULL, 0);
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		assert_true(sk_X509_push(sk, x) > 0);
	fclose(f);
	return sk;
}
