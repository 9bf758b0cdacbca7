/*
 * testpki — certificates the unit tests make with OpenSSL: EC P-256 keys,
 * X.509v3 certificates with a subject, a validity period, a
 * subjectAltName and CA or end-entity flags, signed by an issuer or by
 * themselves; stacks of them as chains; PEM files written and read.
 *
 * Helpers for cmocka tests only: every OpenSSL call is checked with
 * cmocka's asserts, so a failure fails the calling test.  Nothing here
 * touches the network or the clock; validity times are the caller's.
 *
 * Ownership: the keys and certificates tp_cert makes are kept by testpki
 * and all released by tp_free_all (from the group teardown); the pointers
 * it hands out are borrowed until then.  Stacks from tp_chain and
 * tp_chain_n hold borrowed pointers (free with sk_X509_free); a stack from
 * tp_read_pem owns its certificates (sk_X509_pop_free(sk, X509_free)).
 *
 * Threading: none; one test process, one thread.  A forked child may use
 * what its parent made.
 */
#ifndef MXS_TESTPKI_H
#define MXS_TESTPKI_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* The O of every subject tp_cert makes. */
#define TP_ORG "mxsentry test"

/* What a certificate is for: its basicConstraints, keyUsage and extendedKeyUsage. */
enum tp_kind {
	TP_CA,          /* critical CA:TRUE; critical keyCertSign, cRLSign */
	TP_SERVER,      /* CA:FALSE; critical digitalSignature; serverAuth */
	TP_SERVER_NOKU, /* CA:FALSE; serverAuth; no keyUsage, as a self-signed end entity
	                   usually has (without keyCertSign it would not count as
	                   self-signed) */
	TP_CLIENT,      /* CA:FALSE; critical digitalSignature; clientAuth only */
};

/*
 * A certificate "CN=cn,O=mxsentry test" (cn NULL: an empty subject) of
 * kind, valid from nb to na, signed with SHA-256 by issuer/ikey, or by
 * itself when issuer is NULL.  san is an OpenSSL config string
 * ("DNS:a.example,IP:192.0.2.1") or NULL for none.  It carries a
 * subjectKeyIdentifier, and an authorityKeyIdentifier when issued.
 * Serial numbers count up from 1.  *keyp (keyp may be NULL) gets its new
 * key.  Both are testpki's (see above).
 */
X509 *tp_cert(const char *cn, enum tp_kind kind, time_t nb, time_t na, const char *san,
              X509 *issuer, EVP_PKEY *ikey, EVP_PKEY **keyp);

/* Release every key and certificate tp_cert made.  Safe to call twice. */
void tp_free_all(void);

/* A chain of borrowed pointers, leaf first: the arguments up to a NULL. */
STACK_OF(X509) *tp_chain(X509 *first, ...);

/* The same from the n certificates of v. */
STACK_OF(X509) *tp_chain_n(X509 *const *v, size_t n);

/* Write the n certificates of certs to the PEM file at path (replaced). */
void tp_write_pem(const char *path, X509 *const *certs, size_t n);

/* Every certificate of the PEM file at path (text between blocks is
 * skipped); fails the test when the file cannot be opened. */
STACK_OF(X509) *tp_read_pem(const char *path);

#endif
