/*
 * ident — proof of an agent's identity inside the Hello (proto/mxsentry.proto).
 *
 * Why not just the TLS handshake: nng 1.5 verifies the agent's certificate
 * against the CA and CRL but does not tell the application which
 * certificate it was, so the collector cannot learn the agent's name from
 * the connection.  The agent therefore sends its certificate (DER) and a
 * signature, made with the certificate's key, over
 *     MXS_IDENT_LABEL || challenge || name || 0x00 || region
 * where challenge is 32 random bytes the collector sent on this
 * connection.  The collector checks the chain (CA, CRL, validity,
 * clientAuth), that CN = name and OU = region, and the signature.  A replay
 * fails because every connection gets a fresh challenge.
 *
 * Threading: no shared state; the key and store are the caller's.
 */
#ifndef MXS_IDENT_H
#define MXS_IDENT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "mxs_err.h"

#define MXS_IDENT_LABEL         "mxsentry-hello-v1"
#define MXS_IDENT_CHALLENGE_LEN 32
#define MXS_IDENT_CERT_MAX      8192 /* DER bytes of an agent certificate */
#define MXS_IDENT_SIG_MAX       512  /* ECDSA P-256 DER ~72 bytes; RSA-4096 512 */
#define MXS_IDENT_NAME_MAX      63   /* CN and OU, as deploy/mxs-pki allows */

/* Sign for name/region with key.  *sig is malloc'd (*siglen bytes); free(). */
int mxs_ident_sign(EVP_PKEY *key, const uint8_t *challenge, size_t chlen, const char *name,
                   const char *region, uint8_t **sig, size_t *siglen, char *errstr,
                   size_t errlen) MXS_WUR;

/*
 * Check a Hello's proof.  store holds the CA (and the CRL, with
 * X509_V_FLAG_CRL_CHECK set by the caller when it has one).  On success
 * the certificate is valid now, chains to the CA, is not revoked, has CN =
 * name and OU = region, and sig verifies.  MXS_EINVAL with the reason in
 * errstr otherwise.
 */
int mxs_ident_verify(X509_STORE *store, const uint8_t *der, size_t derlen, const uint8_t *challenge,
                     size_t chlen, const char *name, const char *region, const uint8_t *sig,
                     size_t siglen, char *errstr, size_t errlen) MXS_WUR;

#endif
