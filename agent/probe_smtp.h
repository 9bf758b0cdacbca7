/*
 * probe_smtp — one SMTP session to one MX address: connect, greeting,
 * EHLO, STARTTLS, TLS handshake, certificate judgement, QUIT.  Non-blocking
 * (libevent bufferevents, OpenSSL through libevent's filter), every step
 * under a deadline and every reply under the limits of mxs_limits.h, so a
 * hostile server costs bounded time and memory.
 */
#ifndef MXS_PROBE_SMTP_H
#define MXS_PROBE_SMTP_H

#include "dane.h"
#include "engine.h"
#include "result.h"

/* Called once when the session is over and a is filled; may run before
 * mxs_smtp_probe returns (an immediate connect failure). */
typedef void (*mxs_smtp_fn)(void *arg);

/*
 * Probe a->address (a->family) as MX host mxhost, which is the SNI sent
 * and the reference name for the certificate check.  dane is the host's
 * loaded TLSA RRset when DANE applies to this address, else NULL.  a,
 * mxhost and dane are borrowed and must stay valid until fn runs.  A failure to even start
 * (allocation) is an error and fn is not called; everything else is a
 * verdict in a.
 */
int mxs_smtp_probe(struct mxs_engine *e, struct mxs_addr *a, const char *mxhost,
                   const struct mxs_dane_rrset *dane, mxs_smtp_fn fn, void *arg) MXS_WUR;

#endif
