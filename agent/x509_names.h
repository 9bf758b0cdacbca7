/*
 * x509_names — the names a certificate presents, read out of OpenSSL's
 * structures: the DNS-IDs (subjectAltName dNSName) and subject CNs that a
 * host name is compared with (RFC 6125 §6.4, RFC 7672 §3.2.3), and the
 * one-line text of a distinguished name.  Shared by cert_check (the PKIX
 * name verdict) and dane (the DANE-TA name check); the comparison itself
 * is certname's mxs_name_match, which knows nothing of OpenSSL.
 *
 * Every certificate given here was chosen by a remote server.  An
 * identifier is usable as a host name only if it is 1..MXS_DNS_NAME_MAX
 * printable ASCII octets without space; anything else (a NUL inside, a
 * U-label, a space) is skipped, never handed on.  OpenSSL errors raised
 * while reading are popped before returning.
 *
 * The scans do not decide whether a CN may stand in for missing DNS-IDs:
 * RFC 6125 §6.4.4 allows it only when the certificate has no dNSName
 * (struct mxs_x509_dns_scan.has_dns 0), and the caller says so in its
 * verdict.
 *
 * Threading: no shared state.
 */
#ifndef MXS_X509_NAMES_H
#define MXS_X509_NAMES_H

#include <stddef.h>

#include <openssl/x509.h>

#include "mxs_err.h"

enum mxs_x509_id_kind { MXS_X509_DNS_ID = 0, MXS_X509_CN };

/*
 * Called by a scan once per usable identifier, in certificate order; id is
 * NUL-terminated and valid during the call only.  Returns 0 to go on, 1 to
 * stop the scan (a match), or a negative MXS_E* code to stop it and have
 * the scan return that code.
 */
typedef int (*mxs_x509_id_fn)(void *arg, enum mxs_x509_id_kind kind, const char *id);

/* What the DNS-ID scan saw. */
struct mxs_x509_dns_scan {
	int has_san;    /* a subjectAltName extension, readable or not */
	int has_dns;    /* a dNSName (usable or not), or a subjectAltName that cannot be read
	                   (undecodable, or repeated): no CN fallback (RFC 6125 §6.4.4) */
	size_t usable;  /* dNSNames handed to fn */
	size_t skipped; /* dNSNames not usable as host names */
};

/*
 * Hand fn each usable dNSName of x's subjectAltName.  s is filled
 * entirely; usable counts the names fn saw, up to the one that stopped the
 * scan.  Returns 0 when fn never stopped it, 1 when fn returned 1, or
 * fn's negative error code.
 */
int mxs_x509_dns_ids(const X509 *x, mxs_x509_id_fn fn, void *arg,
                     struct mxs_x509_dns_scan *s) MXS_WUR;

/* Hand fn each usable commonName of x's subject (as UTF-8, so a non-ASCII
 * CN is skipped).  Returns as mxs_x509_dns_ids does. */
int mxs_x509_cn_ids(const X509 *x, mxs_x509_id_fn fn, void *arg) MXS_WUR;

/* "DNS-ID" or "subject CN", as reasons name them. */
const char *mxs_x509_id_kind_name(enum mxs_x509_id_kind kind);

/*
 * RFC 2253 one-line form of nm into buf (len >= 1), truncated to len - 1
 * octets; "" for a NULL nm or len under 2.  Returns 0, or MXS_ENOMEM with
 * buf "" (callers that can do without the text may ignore it).
 */
int mxs_x509_name_text(const X509_NAME *nm, char *buf, size_t len);

#endif
