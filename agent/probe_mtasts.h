/*
 * probe_mtasts — the domain-level policy steps of a probe: the _mta-sts TXT
 * record, the policy fetched from https://mta-sts.DOMAIN/ (RFC 8461 §3.3),
 * the parsed policy and its coverage of the live MX hosts (§4.1), and the
 * _smtp._tls TLS-RPT record (RFC 8460 §3).  Results land in r->sts and
 * r->tlsrpt; the policy host's addresses come from the engine's validating
 * resolver and are handed to libcurl, so the fetch uses the same DNS view.
 */
#ifndef MXS_PROBE_MTASTS_H
#define MXS_PROBE_MTASTS_H

#include "engine.h"
#include "result.h"

/* Called once, from the loop, when a step has filled its part of r. */
typedef void (*mxs_step_fn)(void *arg);

/* Start the MTA-STS steps for r->domain; r is borrowed until fn runs. */
int mxs_mtasts_probe(struct mxs_engine *e, struct mxs_result *r, mxs_step_fn fn, void *arg) MXS_WUR;

/* Start the TLS-RPT record lookup for r->domain; r borrowed until fn runs. */
int mxs_tlsrpt_probe(struct mxs_engine *e, struct mxs_result *r, mxs_step_fn fn, void *arg) MXS_WUR;

/*
 * Once every host and session is done: which policy pattern covers each
 * live MX host, and whether the certificate of each covered MX names it.
 * Sets h->sts_covered / h->sts_pattern and r->sts.coverage.
 */
void mxs_mtasts_coverage(struct mxs_result *r);

#endif
