/*
 * cert_check — PKIX, name, expiry and fingerprint verdicts for a presented
 * certificate chain (see cert_check.h).
 *
 * Every certificate judged here was chosen by a remote server: nothing is
 * asserted about its content, every copy into a fixed-size field of struct
 * mxs_addr is bounded, and names holding NUL or non-printable octets are
 * skipped, never matched.  OpenSSL errors raised while judging are popped
 * before returning (ERR_set_mark / ERR_pop_to_mark), so a caller's
 * SSL_get_error on the same thread is not confused by them.
 *
 * Validation uses the presented chain only as untrusted input and the trust
 * store as the only source of anchors, at the caller's time, for purpose
 * sslserver.  Revocation is not checked: CRLs in ca_file are ignored.
 *
 * Threading: a loaded struct mxs_trust is read-only and may be shared by
 * threads calling mxs_cert_check (X509_STORE locks internally).
 */
#include "cert_check.h"
#include "certname.h"
#include "mxs_log.h"
#include "x509_names.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

/* Presented names shown in a mismatch reason before "and N more". */
#define REASON_NAMES 3

static int
unset(const char *s)
{
	return s == NULL || s[0] == '\0';
}

/* Reason text of the newest OpenSSL error, for a human. */
static const char *
ossl_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());

	return r != NULL ? r : "unknown error";
}

/*
 * Read every certificate of the PEM file at path into store (trusted) or
 * onto out (owned by out).  Blocks other than certificates are skipped; a
 * file without any certificate is rejected.
 */
static int
read_pem(const char *what, const char *path, X509_STORE *store, STACK_OF(X509) *out, char *errstr,
         size_t errlen)
{
	FILE *f;
	BIO *bio;
	X509 *x;
	unsigned long e;
	int rc = 0, n = 0;

	if ((f = fopen(path, "r")) == NULL)
		return mxs_seterr(errstr, errlen, MXS_ECONFIG, "%s %s: %s", what, path,
		                  strerror(errno));
	if ((bio = BIO_new_fp(f, BIO_CLOSE)) == NULL) {
		fclose(f);
		return mxs_seterr(errstr, errlen, MXS_ENOMEM, "%s %s: out of memory", what, path);
	}
	while ((x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL)) != NULL) {
		n++;
		if (store != NULL ? !X509_STORE_add_cert(store, x) : !sk_X509_push(out, x)) {
			X509_free(x);
			rc = mxs_seterr(errstr, errlen, MXS_ENOMEM, "%s %s: certificate %d: %s",
			                what, path, n, ossl_reason());
			goto out;
		}
		if (store != NULL)
			X509_free(x); /* the store holds its own reference */
	}
	/* The loop ends at end of file (no start line) or at a broken block. */
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) != ERR_LIB_PEM || ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
		rc = mxs_seterr(errstr, errlen, MXS_ECONFIG, "%s %s: certificate %d: %s", what,
		                path, n + 1, ossl_reason());
	else if (n == 0)
		rc = mxs_seterr(errstr, errlen, MXS_ECONFIG, "%s %s: no PEM certificate found",
		                what, path);
out:
	BIO_free(bio);
	return rc;
}

int
mxs_trust_load(struct mxs_trust *t, const char *ca_file, const char *ca_path,
               const char *intermediates_file, char *errstr, size_t errlen)
{
	struct stat st;
	int rc = 0;

	t->store = NULL;
	t->intermediates = NULL;
	if (unset(ca_file) && unset(ca_path))
		return mxs_seterr(errstr, errlen, MXS_ECONFIG, "neither ca_file nor ca_path set");
	ERR_set_mark();
	if ((t->store = X509_STORE_new()) == NULL ||
	    (t->intermediates = sk_X509_new_null()) == NULL) {
		rc = mxs_seterr(errstr, errlen, MXS_ENOMEM, "trust store: out of memory");
		goto out;
	}
	if (!unset(ca_file) &&
	    (rc = read_pem("ca_file", ca_file, t->store, NULL, errstr, errlen)) != 0)
		goto out;
	if (!unset(ca_path)) {
		/* The hashed directory is read lazily; at least insist it is one. */
		if (stat(ca_path, &st) != 0) {
			rc = mxs_seterr(errstr, errlen, MXS_ECONFIG, "ca_path %s: %s", ca_path,
			                strerror(errno));
			goto out;
		}
		if (!S_ISDIR(st.st_mode)) {
			rc = mxs_seterr(errstr, errlen, MXS_ECONFIG, "ca_path %s: not a directory",
			                ca_path);
			goto out;
		}
		if (!X509_STORE_load_path(t->store, ca_path)) {
			rc = mxs_seterr(errstr, errlen, MXS_ECONFIG, "ca_path %s: %s", ca_path,
			                ossl_reason());
			goto out;
		}
	}
	if (!unset(intermediates_file))
		rc = read_pem("intermediates_file", intermediates_file, NULL, t->intermediates,
		              errstr, errlen);
out:
	ERR_pop_to_mark();
	if (rc != 0)
		mxs_trust_free(t);
	return rc;
}

void
mxs_trust_free(struct mxs_trust *t)
{
	if (t == NULL)
		return;
	X509_STORE_free(t->store);
	sk_X509_pop_free(t->intermediates, X509_free);
	t->store = NULL;
	t->intermediates = NULL;
}

/* ---- one certificate as evidence ---------------------------------------- */

/* RFC 3339 UTC ("2021-01-01T00:00:00Z"), or "" when t cannot be read. */
static void
time_text(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm tm;

	buf[0] = '\0';
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return;
	/* strftime: the compiler cannot prove snprintf's %d fields fit. */
	if (strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		buf[0] = '\0';
}

/* SHA-256 of the DER certificate and of its DER SubjectPublicKeyInfo. */
static int
cert_digests(const X509 *x, struct mxs_cert *c)
{
	unsigned char *der = NULL;
	unsigned int mdlen = 0;
	int len, ok;

	if (!X509_digest(x, EVP_sha256(), c->sha256, &mdlen) || mdlen != sizeof(c->sha256))
		return MXS_ENOMEM;
	/* Not X509_pubkey_digest: that hashes only the key's BIT STRING. */
	if ((len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der)) <= 0)
		return MXS_ENOMEM;
	ok = EVP_Digest(der, (size_t)len, c->spki_sha256, &mdlen, EVP_sha256(), NULL);
	OPENSSL_free(der);
	return ok && mdlen == sizeof(c->spki_sha256) ? 0 : MXS_ENOMEM;
}

static int
cert_record(X509 *x, struct mxs_cert *c)
{
	int rc;

	memset(c, 0, sizeof(*c));
	rc = mxs_x509_name_text(X509_get_subject_name(x), c->subject, sizeof(c->subject));
	if (rc != 0 ||
	    (rc = mxs_x509_name_text(X509_get_issuer_name(x), c->issuer, sizeof(c->issuer))) != 0)
		return rc;
	time_text(X509_get0_notBefore(x), c->not_before, sizeof(c->not_before));
	time_text(X509_get0_notAfter(x), c->not_after, sizeof(c->not_after));
	/* Self-signed means the signature verifies with the cert's own key. */
	c->self_signed = X509_self_signed(x, 1) == 1;
	return cert_digests(x, c);
}

/* floor((notAfter - now) / 86400): -1 one second after expiry. */
static int
expiry_days(const X509 *leaf, time_t now, int *days)
{
	ASN1_TIME *t;
	int d, s;

	*days = 0;
	if ((t = ASN1_TIME_set(NULL, now)) == NULL)
		return MXS_ENOMEM;
	if (ASN1_TIME_diff(&d, &s, t, X509_get0_notAfter(leaf)))
		*days = s < 0 ? d - 1 : d; /* d and s share a sign */
	ASN1_TIME_free(t);
	return 0;
}

/* ---- PKIX ---------------------------------------------------------------- */

static enum mxs_rtype
pkix_rtype(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return MXS_RT_CERT_EXPIRED;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_REJECTED:
		return MXS_RT_CERT_NOT_TRUSTED;
	}
	return MXS_RT_VALIDATION_FAILURE;
}

static int
missing_issuer(int err)
{
	return err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
	       err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	       err == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

/*
 * Whether a failed validation still built a chain to a trust anchor.
 * X509_verify_cert stops at the first error, and chain building and the
 * trust decision come before the checks of extensions, signatures and
 * validity periods; these are the errors of the former.
 */
static int
anchored(int err)
{
	return !missing_issuer(err) && err != X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT &&
	       err != X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN && err != X509_V_ERR_CERT_UNTRUSTED &&
	       err != X509_V_ERR_CERT_REJECTED && err != X509_V_ERR_CERT_CHAIN_TOO_LONG &&
	       err != X509_V_ERR_UNSPECIFIED && err != X509_V_ERR_OUT_OF_MEM;
}

/* Borrowed pointers: chain after the leaf, then extra; free with sk_X509_free. */
static int
untrusted_stack(STACK_OF(X509) *chain, STACK_OF(X509) *extra, STACK_OF(X509) **out)
{
	STACK_OF(X509) *sk;
	int i;

	if ((*out = sk = sk_X509_new_null()) == NULL)
		return MXS_ENOMEM;
	for (i = 1; i < sk_X509_num(chain); i++)
		if (!sk_X509_push(sk, sk_X509_value(chain, i)))
			return MXS_ENOMEM;
	for (i = 0; extra != NULL && i < sk_X509_num(extra); i++)
		if (!sk_X509_push(sk, sk_X509_value(extra, i)))
			return MXS_ENOMEM;
	return 0;
}

/*
 * Validate leaf at now for sslserver.  *ctxp (caller frees, before
 * untrusted) keeps the built chain and the error for inspection.
 */
static int
verify_run(X509_STORE *store, X509 *leaf, STACK_OF(X509) *untrusted, time_t now,
           X509_STORE_CTX **ctxp, int *err)
{
	X509_STORE_CTX *ctx;
	int ok;

	*err = X509_V_ERR_UNSPECIFIED;
	if ((*ctxp = ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, store, leaf, untrusted))
		return MXS_ENOMEM;
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), now);
	if (!X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER))
		return MXS_ENOMEM;
	ok = X509_verify_cert(ctx);
	*err = X509_STORE_CTX_get_error(ctx);
	if (*err == X509_V_ERR_OUT_OF_MEM)
		return MXS_ENOMEM;
	if (ok <= 0 && *err == X509_V_OK)
		*err = X509_V_ERR_UNSPECIFIED;
	return 0;
}

/* A specific, human sentence for the failure recorded in ctx. */
static void
describe(char *buf, size_t len, int err, X509_STORE_CTX *ctx)
{
	X509 *cur = X509_STORE_CTX_get_current_cert(ctx);
	int depth = X509_STORE_CTX_get_error_depth(ctx);
	char subj[256], iss[256], when[32];

	subj[0] = iss[0] = when[0] = '\0';
	if (cur != NULL) {
		/* A failed allocation here only shortens the sentence. */
		(void)mxs_x509_name_text(X509_get_subject_name(cur), subj, sizeof(subj));
		(void)mxs_x509_name_text(X509_get_issuer_name(cur), iss, sizeof(iss));
	}
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		time_text(cur != NULL ? X509_get0_notAfter(cur) : NULL, when, sizeof(when));
		if (depth == 0)
			snprintf(buf, len, "certificate has expired (notAfter %s)", when);
		else
			snprintf(buf, len, "CA certificate %s has expired (notAfter %s)", subj,
			         when);
		return;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		time_text(cur != NULL ? X509_get0_notBefore(cur) : NULL, when, sizeof(when));
		if (depth == 0)
			snprintf(buf, len, "certificate is not yet valid (notBefore %s)", when);
		else
			snprintf(buf, len, "CA certificate %s is not yet valid (notBefore %s)",
			         subj, when);
		return;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		snprintf(buf, len, "self-signed certificate");
		return;
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		snprintf(buf, len, "self-signed certificate in chain: root %s is not trusted",
		         subj);
		return;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		snprintf(buf, len, "%s (issuer %s not found)", X509_verify_cert_error_string(err),
		         iss);
		return;
	}
	snprintf(buf, len, "%s (depth %d, %s)", X509_verify_cert_error_string(err), depth, subj);
}

static int
in_stack(const X509 *x, STACK_OF(X509) *sk)
{
	for (int i = 0; sk != NULL && i < sk_X509_num(sk); i++)
		if (X509_cmp(x, sk_X509_value(sk, i)) == 0)
			return 1;
	return 0;
}

/*
 * The first validation failed for want of an issuer: retry with the
 * configured intermediates.  If that anchors a chain, name the first CA
 * certificate the server should have sent and set a->pkix (*found = 1).
 */
static int
diagnose_missing(const struct mxs_trust *t, STACK_OF(X509) *chain, time_t now, struct mxs_addr *a,
                 int *found)
{
	STACK_OF(X509) *untrusted = NULL, *built;
	X509_STORE_CTX *ctx = NULL;
	X509 *miss = NULL;
	char then[MXS_REASON_MAX], more[32];
	int rc, err, nmiss = 0;

	*found = 0;
	if ((rc = untrusted_stack(chain, t->intermediates, &untrusted)) != 0 ||
	    (rc = verify_run(t->store, sk_X509_value(chain, 0), untrusted, now, &ctx, &err)) != 0)
		goto out;
	if (!anchored(err) || (built = X509_STORE_CTX_get0_chain(ctx)) == NULL)
		goto out;
	/* Neither the leaf nor the anchor at the top is the server's to send. */
	for (int i = 1; i + 1 < sk_X509_num(built); i++) {
		X509 *x = sk_X509_value(built, i);

		if (in_stack(x, t->intermediates) && !in_stack(x, chain) && nmiss++ == 0)
			miss = x;
	}
	if (miss == NULL)
		goto out;
	if ((rc = mxs_x509_name_text(X509_get_subject_name(miss), a->missing_intermediate,
	                             sizeof(a->missing_intermediate))) != 0)
		goto out;
	more[0] = '\0';
	if (nmiss > 1)
		snprintf(more, sizeof(more), " (and %d more)", nmiss - 1);
	*found = 1;
	if (err == X509_V_OK) {
		mxs_verdict_set(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_NOT_TRUSTED,
		                "incomplete chain: server did not send intermediate %s%s, "
		                "chain validates with it",
		                a->missing_intermediate, more);
	} else {
		describe(then, sizeof(then), err, ctx);
		mxs_verdict_set(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_NOT_TRUSTED,
		                "incomplete chain: server did not send intermediate %s%s; "
		                "with it the chain builds but: %s",
		                a->missing_intermediate, more, then);
	}
out:
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	return rc;
}

static int
pkix_check(const struct mxs_trust *t, STACK_OF(X509) *chain, time_t now, struct mxs_addr *a)
{
	STACK_OF(X509) *untrusted = NULL, *built;
	X509_STORE_CTX *ctx = NULL;
	char why[MXS_REASON_MAX], root[256];
	int rc, err, found = 0;

	if ((rc = untrusted_stack(chain, NULL, &untrusted)) != 0 ||
	    (rc = verify_run(t->store, sk_X509_value(chain, 0), untrusted, now, &ctx, &err)) != 0)
		goto out;
	if (err == X509_V_OK) {
		built = X509_STORE_CTX_get0_chain(ctx);
		root[0] = '\0';
		if (built != NULL && sk_X509_num(built) > 0 &&
		    (rc = mxs_x509_name_text(
		             X509_get_subject_name(sk_X509_value(built, sk_X509_num(built) - 1)),
		             root, sizeof(root))) != 0)
			goto out;
		mxs_verdict_set(&a->pkix, MXS_ST_OK, MXS_RT_NONE, "chain validates to trusted %s",
		                root);
		goto out;
	}
	a->x509_error = err;
	if (missing_issuer(err) && sk_X509_num(t->intermediates) > 0 &&
	    ((rc = diagnose_missing(t, chain, now, a, &found)) != 0 || found))
		goto out;
	describe(why, sizeof(why), err, ctx);
	mxs_verdict_set(&a->pkix, MXS_ST_FAIL, pkix_rtype(err), "%s", why);
out:
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	return rc;
}

/* ---- name check (RFC 6125) ----------------------------------------------- */

/* What the name scans gather for the verdict. */
struct name_scan {
	const char *host;
	struct mxs_addr *a;
	char cn[MXS_DNS_NAME_MAX + 1];    /* the first usable subject CN */
	char cnhit[MXS_DNS_NAME_MAX + 1]; /* the first subject CN matching host */
};

/*
 * A DNS-ID of the leaf: kept as evidence (up to MXS_NAMES_MAX; all are
 * matched), and recorded if it is the first to match host.
 */
static int
dns_id_seen(void *arg, enum mxs_x509_id_kind kind, const char *id)
{
	struct name_scan *ns = arg;
	struct mxs_addr *a = ns->a;

	if (a->name_matched[0] == '\0' && mxs_name_match(id, ns->host))
		snprintf(a->name_matched, sizeof(a->name_matched), "%s", id);
	if (mxs_strv_add(&a->leaf_dns_names, &a->nleaf_dns_names, MXS_NAMES_MAX, id) == MXS_ENOMEM)
		return MXS_ENOMEM;
	return 0; /* MXS_ELIMIT: kept enough as evidence, keep matching */
}

/* A subject CN: the first into ns->cn; the first matching host into ns->cnhit, and stop. */
static int
cn_seen(void *arg, enum mxs_x509_id_kind kind, const char *id)
{
	struct name_scan *ns = arg;

	if (ns->cn[0] == '\0')
		snprintf(ns->cn, sizeof(ns->cn), "%s", id);
	if (!mxs_name_match(id, ns->host))
		return 0;
	snprintf(ns->cnhit, sizeof(ns->cnhit), "%s", id);
	return 1;
}

/* "certificate names a, b, c (and 4 more)" from the kept dNSNames. */
static void
list_names(const struct mxs_addr *a, size_t total, char *buf, size_t len)
{
	size_t off, i;

	off = (size_t)snprintf(buf, len, "certificate names ");
	for (i = 0; i < a->nleaf_dns_names && i < REASON_NAMES && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
		                        a->leaf_dns_names[i]);
	if (total > i && off < len)
		snprintf(buf + off, len - off, " (and %zu more)", total - i);
}

static int
name_check(X509 *leaf, const char *host, struct mxs_addr *a)
{
	struct name_scan ns = {.host = host, .a = a};
	struct mxs_x509_dns_scan s;
	char list[MXS_REASON_MAX];
	int rc;

	if ((rc = mxs_x509_dns_ids(leaf, dns_id_seen, &ns, &s)) < 0)
		return rc;
	if (a->name_matched[0] != '\0') {
		mxs_verdict_set(&a->name, MXS_ST_OK, MXS_RT_NONE, "DNS-ID %s matches %s",
		                a->name_matched, host);
		return 0;
	}
	if (s.has_dns) {
		if (s.usable == 0)
			snprintf(list, sizeof(list),
			         "certificate has no usable subjectAltName DNS name (%zu skipped)",
			         s.skipped);
		else
			list_names(a, s.usable, list, sizeof(list));
		if (mxs_x509_cn_ids(leaf, cn_seen, &ns) > 0)
			mxs_verdict_set(&a->name, MXS_ST_FAIL, MXS_RT_CERT_HOST_MISMATCH,
			                "%s; expected %s (subject CN %s not consulted: the "
			                "certificate has DNS-IDs)",
			                list, host, ns.cnhit);
		else
			mxs_verdict_set(&a->name, MXS_ST_FAIL, MXS_RT_CERT_HOST_MISMATCH,
			                "%s; expected %s", list, host);
		return 0;
	}
	/* RFC 6125 §6.4.4: no DNS-ID at all, so the CN may stand in. */
	if (mxs_x509_cn_ids(leaf, cn_seen, &ns) > 0) {
		snprintf(a->name_matched, sizeof(a->name_matched), "%s", ns.cnhit);
		mxs_verdict_set(&a->name, MXS_ST_OK, MXS_RT_NONE,
		                "subject CN %s matches %s (no subjectAltName DNS name, CN "
		                "fallback)",
		                ns.cnhit, host);
	} else if (ns.cn[0] != '\0') {
		mxs_verdict_set(&a->name, MXS_ST_FAIL, MXS_RT_CERT_HOST_MISMATCH,
		                "certificate names %s (subject CN, no subjectAltName DNS "
		                "name); expected %s",
		                ns.cn, host);
	} else {
		mxs_verdict_set(&a->name, MXS_ST_FAIL, MXS_RT_CERT_HOST_MISMATCH,
		                "certificate has no DNS name (no subjectAltName DNS name, no "
		                "usable subject CN); expected %s",
		                host);
	}
	return 0;
}

/* ---- the whole judgement ------------------------------------------------- */

/* Set every out-field this module owns to "not judged". */
static void
check_reset(struct mxs_addr *a, const char *host)
{
	for (size_t i = 0; i < a->nleaf_dns_names; i++)
		free(a->leaf_dns_names[i]);
	free(a->leaf_dns_names);
	a->leaf_dns_names = NULL;
	a->nleaf_dns_names = 0;
	memset(a->chain, 0, sizeof(a->chain));
	a->nchain = 0;
	a->days_to_expiry = 0;
	memset(&a->pkix, 0, sizeof(a->pkix));
	a->x509_error = 0;
	a->missing_intermediate[0] = '\0';
	memset(&a->name, 0, sizeof(a->name));
	snprintf(a->name_reference, sizeof(a->name_reference), "%s", host);
	a->name_matched[0] = '\0';
}

int
mxs_cert_check(const struct mxs_trust *t, STACK_OF(X509) *chain, const char *host, time_t now,
               struct mxs_addr *a)
{
	int n = chain != NULL ? sk_X509_num(chain) : 0, rc = 0;
	X509 *leaf;

	if (t == NULL || t->store == NULL || t->intermediates == NULL || a == NULL)
		mxs_panic("mxs_cert_check: trust not loaded or no address");
	if (host == NULL)
		host = "";
	check_reset(a, host);
	if (n <= 0) {
		mxs_verdict_set(&a->pkix, MXS_ST_FAIL, MXS_RT_CERT_NOT_TRUSTED,
		                "no certificate presented");
		mxs_verdict_set(&a->name, MXS_ST_FAIL, MXS_RT_CERT_HOST_MISMATCH,
		                "no certificate presented");
		return 0;
	}
	ERR_set_mark();
	for (int i = 0; i < n && a->nchain < MXS_CHAIN_MAX; i++) {
		if ((rc = cert_record(sk_X509_value(chain, i), &a->chain[a->nchain])) != 0)
			goto out;
		a->nchain++;
	}
	leaf = sk_X509_value(chain, 0);
	if ((rc = expiry_days(leaf, now, &a->days_to_expiry)) == 0 &&
	    (rc = pkix_check(t, chain, now, a)) == 0)
		rc = name_check(leaf, host, a);
out:
	ERR_pop_to_mark();
	return rc;
}
