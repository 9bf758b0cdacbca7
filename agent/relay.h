/*
 * relay — the agent's privileged half: holds the key, talks to the
 * collector (nng req, mutual TLS, Hello proof), keeps the spool.
 *
 * Two threads: intake reads the prober's frames and writes results to the
 * spool in batches (batch_max results or batch_ms); uplink sends the
 * oldest spooled batch, deletes it on the collector's Ack, fetches the job
 * list and sends heartbeats.  The spool is the only thing they share
 * (besides counters), so a collector that is away only makes the spool
 * grow.
 */
#ifndef MXS_RELAY_H
#define MXS_RELAY_H

#include <signal.h>

#include "config.h"

#define MXS_PROBERS_MAX 64 /* prober processes per agent */

struct mxs_relay;

/*
 * Read the certificate and key, set up TLS, open the spool (as root if
 * started so; the caller drops privileges after this).  fds[0..nfd) are
 * the probers' sockets (at most MXS_PROBERS_MAX); each domain of the job
 * list goes to one prober, by a hash of its name.  Errors name the file at fault.
 */
int mxs_relay_open(const struct mxs_agent_config *cfg, const int *fds, size_t nfd,
                   struct mxs_relay **out, char *errstr, size_t errlen) MXS_WUR;

/* Run until *stop or the prober goes away; returns the exit status. */
int mxs_relay_run(struct mxs_relay *r, volatile sig_atomic_t *stop);

void mxs_relay_close(struct mxs_relay **rp);

#endif
