/*
 * probe — one domain's probe: MX RRset (null and implicit MX handled),
 * A and AAAA per MX host, each with its DNSSEC state, then one SMTP session
 * per address, all concurrently on the engine's loop.
 */
#ifndef MXS_PROBE_H
#define MXS_PROBE_H

#include "engine.h"
#include "result.h"

/* Receives the finished result and owns it from then on. */
typedef void (*mxs_probe_fn)(struct mxs_result *r, void *arg);

/*
 * Start probing domain on e's loop; fn runs once, from the loop, when every
 * lookup and session is over.  Errors (allocation) mean fn never runs.
 */
int mxs_probe_start(struct mxs_engine *e, const char *domain, mxs_probe_fn fn, void *arg) MXS_WUR;

#endif
