/* daemon — `mxsentry-agent run`: relay and prober processes (daemon.c). */
#ifndef MXS_DAEMON_H
#define MXS_DAEMON_H

#include "config.h"

/* Run the agent until SIGTERM; returns the exit status. */
int mxs_agent_daemon(const struct mxs_agent_config *cfg);

#endif
