/*
 * cert_check — judge a presented certificate chain: PKIX validation against
 * the configured trust store, the missing-intermediate diagnosis, the RFC
 * 6125 name check against the MX host name, expiry, and fingerprints.
 *
 * Pure with respect to the network: the STARTTLS session hands over the
 * chain the server sent (SSL_get_peer_cert_chain, leaf first) and this
 * module fills the certificate part of a struct mxs_addr.
 */
#ifndef MXS_CERT_CHECK_H
#define MXS_CERT_CHECK_H

#include <time.h>

#include <openssl/x509.h>

#include "mxs_err.h"
#include "result.h"

/*
 * The trust configuration.  intermediates holds CA certificates that are NOT
 * trusted, used only to explain a failure: when a chain fails with a missing
 * issuer but validates once these are added, the server forgot to send an
 * intermediate (the way browsers preload intermediates).
 */
struct mxs_trust {
	X509_STORE *store;             /* roots from ca_file / ca_path */
	STACK_OF(X509) *intermediates; /* may be empty, never NULL after load */
};

/*
 * Load roots from ca_file and/or ca_path (at least one must be set) and the
 * optional intermediates_file (PEM, may hold many).  On failure t holds
 * nothing and errstr names the file.  Free with mxs_trust_free.
 */
int mxs_trust_load(struct mxs_trust *t, const char *ca_file, const char *ca_path,
                   const char *intermediates_file, char *errstr, size_t errlen) MXS_WUR;
void mxs_trust_free(struct mxs_trust *t);

/*
 * Judge chain (leaf first, as presented; not modified, not freed) for the
 * reference host name at time now, filling a->chain, nchain,
 * leaf_dns_names, days_to_expiry, pkix, x509_error, missing_intermediate,
 * name, name_reference, name_matched.  An empty or NULL chain sets pkix and
 * name to fail (certificate-not-trusted / certificate-host-mismatch).
 * Returns 0, or MXS_ENOMEM; a bad certificate is a verdict, not an error.
 *
 * PKIX verdict and RFC 8460 result-type:
 *   ok                                        -> ok
 *   leaf or CA expired                        -> certificate-expired
 *   unknown issuer, self-signed, untrusted
 *     root, missing intermediate              -> certificate-not-trusted
 *   not yet valid, bad signature, anything else -> validation-failure
 * Name verdict: DNS-IDs (subjectAltName dNSName) matched with
 * mxs_name_match; the subject CN is consulted only when the leaf has no
 * dNSName at all (RFC 6125 §6.4.4), and the reason says so.  Mismatch ->
 * certificate-host-mismatch.
 */
int mxs_cert_check(const struct mxs_trust *t, STACK_OF(X509) *chain, const char *host, time_t now,
                   struct mxs_addr *a) MXS_WUR;

#endif
