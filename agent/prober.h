/*
 * prober — the agent's probing process: the engine, the schedule, the
 * egress self-check.  It runs as the unprivileged user and never sees the
 * agent's key: it talks only to its parent, the relay, over one socket
 * (frame.h), receiving job lists and sending results and counters.
 */
#ifndef MXS_PROBER_H
#define MXS_PROBER_H

#include "config.h"

/* Run until the relay closes the socket; returns the exit status. */
int mxs_prober_main(const struct mxs_agent_config *cfg, int fd);

#endif
