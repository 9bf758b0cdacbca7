/* ident — agent identity proof in the Hello (see ident.h). */
#include "ident.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

/* The signed message; NULL on allocation failure or oversize names. */
static uint8_t *
ident_message(const uint8_t *challenge, size_t chlen, const char *name, const char *region,
              size_t *len)
{
	size_t ll = sizeof(MXS_IDENT_LABEL) - 1, nl = strlen(name), rl = strlen(region);
	uint8_t *m;

	if (nl > MXS_IDENT_NAME_MAX || rl > MXS_IDENT_NAME_MAX || chlen != MXS_IDENT_CHALLENGE_LEN)
		return NULL;
	*len = ll + chlen + nl + 1 + rl;
	if ((m = malloc(*len)) == NULL)
		return NULL;
	memcpy(m, MXS_IDENT_LABEL, ll);
	memcpy(m + ll, challenge, chlen);
	memcpy(m + ll + chlen, name, nl);
	m[ll + chlen + nl] = 0;
	memcpy(m + ll + chlen + nl + 1, region, rl);
	return m;
}

static const char *
ossl_reason(void)
{
	unsigned long e = ERR_get_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r != NULL ? r : "unknown reason";
}

int
mxs_ident_sign(EVP_PKEY *key, const uint8_t *challenge, size_t chlen, const char *name,
               const char *region, uint8_t **sig, size_t *siglen, char *errstr, size_t errlen)
{
	EVP_MD_CTX *md = NULL;
	uint8_t *msg;
	size_t len;
	int rc = MXS_ETLS;

	*sig = NULL;
	*siglen = 0;
	if ((msg = ident_message(challenge, chlen, name, region, &len)) == NULL)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "bad challenge or name too long");
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, siglen, msg, len) != 1 || (*sig = malloc(*siglen)) == NULL ||
	    EVP_DigestSign(md, *sig, siglen, msg, len) != 1) {
		mxs_seterr(errstr, errlen, rc, "signing the hello: %s", ossl_reason());
		free(*sig);
		*sig = NULL;
		*siglen = 0;
	} else
		rc = MXS_OK;
	EVP_MD_CTX_free(md);
	free(msg);
	return rc;
}

/* The first entry of nid in the subject, into buf; 0 or MXS_EINVAL. */
static int
subject_field(X509 *x, int nid, char *buf, size_t len)
{
	X509_NAME *n = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(n, nid, -1);
	ASN1_STRING *s;
	unsigned char *u = NULL;
	int ul;

	if (i < 0 || X509_NAME_get_index_by_NID(n, nid, i) >= 0)
		return MXS_EINVAL; /* absent, or ambiguous */
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
	if ((ul = ASN1_STRING_to_UTF8(&u, s)) < 0)
		return MXS_EINVAL;
	if ((size_t)ul >= len || memchr(u, 0, (size_t)ul) != NULL) {
		OPENSSL_free(u);
		return MXS_EINVAL;
	}
	memcpy(buf, u, (size_t)ul);
	buf[ul] = '\0';
	OPENSSL_free(u);
	return MXS_OK;
}

int
mxs_ident_verify(X509_STORE *store, const uint8_t *der, size_t derlen, const uint8_t *challenge,
                 size_t chlen, const char *name, const char *region, const uint8_t *sig,
                 size_t siglen, char *errstr, size_t errlen)
{
	const unsigned char *p = der;
	X509 *x = NULL;
	X509_STORE_CTX *ctx = NULL;
	EVP_MD_CTX *md = NULL;
	char cn[MXS_IDENT_NAME_MAX + 1], ou[MXS_IDENT_NAME_MAX + 1];
	uint8_t *msg = NULL;
	size_t len;
	int rc = MXS_EINVAL;

	if (derlen == 0 || derlen > MXS_IDENT_CERT_MAX || siglen == 0 || siglen > MXS_IDENT_SIG_MAX)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "no proof, or proof too large");
	if ((x = d2i_X509(NULL, &p, (long)derlen)) == NULL || p != der + derlen) {
		mxs_seterr(errstr, errlen, rc, "certificate does not decode");
		goto out;
	}
	if ((ctx = X509_STORE_CTX_new()) == NULL || X509_STORE_CTX_init(ctx, store, x, NULL) != 1) {
		mxs_seterr(errstr, errlen, MXS_ENOMEM, "cannot set up verification");
		rc = MXS_ENOMEM;
		goto out;
	}
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	if (X509_verify_cert(ctx) != 1) {
		mxs_seterr(errstr, errlen, rc, "certificate refused: %s",
		           X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	if (subject_field(x, NID_commonName, cn, sizeof(cn)) != 0 ||
	    subject_field(x, NID_organizationalUnitName, ou, sizeof(ou)) != 0) {
		mxs_seterr(errstr, errlen, rc, "certificate lacks exactly one CN and one OU");
		goto out;
	}
	if (strcmp(cn, name) != 0 || strcmp(ou, region) != 0) {
		mxs_seterr(errstr, errlen, rc,
		           "hello names %.64s/%.64s but the certificate is %s/%s", name, region, cn,
		           ou);
		goto out;
	}
	if ((msg = ident_message(challenge, chlen, name, region, &len)) == NULL) {
		mxs_seterr(errstr, errlen, rc, "bad challenge");
		goto out;
	}
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, X509_get0_pubkey(x)) != 1 ||
	    EVP_DigestVerify(md, sig, siglen, msg, len) != 1) {
		ERR_clear_error();
		mxs_seterr(errstr, errlen, rc, "signature does not verify");
		goto out;
	}
	rc = MXS_OK;
out:
	EVP_MD_CTX_free(md);
	free(msg);
	X509_STORE_CTX_free(ctx);
	X509_free(x);
	return rc;
}
