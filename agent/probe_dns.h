/*
 * probe_dns — one asynchronous, DNSSEC-validated lookup through the
 * engine's libunbound context, with its own deadline (dns_timeout_ms).
 * The outcome lands in a struct mxs_dns the caller owns; the parsed
 * message is lent to the callback for its duration only.
 */
#ifndef MXS_PROBE_DNS_H
#define MXS_PROBE_DNS_H

#include <stdint.h>

#include "dns_wire.h"
#include "engine.h"
#include "result.h"

/*
 * Called exactly once per successful mxs_dns_lookup, from the loop, never
 * from inside mxs_dns_lookup.  d (the caller's) is filled; msg is NULL when
 * the lookup timed out, failed, or the packet did not parse (d->why_bogus
 * then says why); msg and everything it points to die when the callback
 * returns.
 */
typedef void (*mxs_dns_fn)(void *arg, struct mxs_dns *d, const struct mxs_dns_msg *msg);

/* Lookups with libunbound at once (16 KiB of its heap each); more wait in order. */
#define MXS_DNS_INFLIGHT_MAX 512

/* Start a lookup of name/type, or queue it; d must stay valid until fn runs. */
int mxs_dns_lookup(struct mxs_engine *e, const char *name, uint16_t type, struct mxs_dns *d,
                   mxs_dns_fn fn, void *arg) MXS_WUR;

/* Free the lookups still queued, without calling back (engine teardown only). */
void mxs_dns_drop_queued(struct mxs_engine *e);

#endif
