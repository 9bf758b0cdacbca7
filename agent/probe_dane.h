/*
 * probe_dane — the probe's DANE steps (RFC 7672): turn a TLSA lookup into a
 * loaded RRset recorded on the host, and judge each address's session
 * against it.  The records and the RRset live in tlsa.c, the judgement in
 * dane.c; this file only moves verdicts into the result tree.
 */
#ifndef MXS_PROBE_DANE_H
#define MXS_PROBE_DANE_H

#include <openssl/x509.h>

#include "dane.h"
#include "dns_wire.h"
#include "result.h"

/*
 * Load the TLSA answer for h (d is h->tlsa, msg the parsed answer or NULL)
 * into set (caller-owned, released with mxs_dane_rrset_free) and record
 * the RRset's state, reason and records on h.  A failure to load (memory,
 * over MXS_TLSA_RR_MAX records) becomes a "temporary" state with the
 * reason, never "no TLSA".
 */
void mxs_probe_dane_load(struct mxs_host *h, const struct mxs_dns *d, const struct mxs_dns_msg *msg,
                         struct mxs_dane_rrset *set);

/*
 * Judge address a's TLS session against set (NULL when DANE does not apply
 * to this address: no TLSA lookup, or its family's records are insecure).
 * chain is the presented chain, or NULL when no TLS session was made; a
 * missing STARTTLS on a host with a secure TLSA RRset is a downgrade
 * (starttls-not-supported: RFC 8460's dane-required means something else).
 */
void mxs_probe_dane_judge(const struct mxs_dane_rrset *set, STACK_OF(X509) *chain, const char *host,
                          struct mxs_addr *a);

#endif
