/*
 * config — the agent's configuration: one table (config.c) of every option
 * with type, default and bounds; `mxsentry-agent -n -c FILE` checks a file,
 * `mxsentry-agent --example-config` prints the documented example.
 */
#ifndef MXS_AGENT_CONFIG_H
#define MXS_AGENT_CONFIG_H

#include <stdio.h>

#include "mxs_err.h"

#define MXS_AGENT_LIST_MAX 8

struct mxs_agent_config {
	/* [resolver] */
	char *unbound_config;              /* file passed to ub_ctx_config, optional */
	char *trust_anchor_file;           /* DS/DNSKEY trust anchors (ub_ctx_add_ta_file) */
	char *forward[MXS_AGENT_LIST_MAX]; /* forward to these validating resolvers */
	size_t nforward;
	char *stub_zone; /* send this zone's queries to stub_addr */
	char *stub_addr[MXS_AGENT_LIST_MAX];
	size_t nstub_addr;
	int use_resolv_conf; /* forward to /etc/resolv.conf's servers */
	/* [tls] */
	char *ca_file;
	char *ca_path;
	char *intermediates_file;
	/* [probe] */
	char *helo_name;
	long long dns_timeout_ms;
	long long connect_timeout_ms;
	long long command_timeout_ms;
	long long tls_timeout_ms;
	long long session_timeout_ms;
	long long policy_timeout_ms;
	int ipv4;
	int ipv6;
};

/* Defaults, then path if non-NULL.  On failure errstr says "file:line: why".
 * Free with mxs_agent_config_free whatever the outcome. */
int mxs_agent_config_load(struct mxs_agent_config *c, const char *path, char *errstr,
                          size_t errlen) MXS_WUR;
void mxs_agent_config_free(struct mxs_agent_config *c);
void mxs_agent_config_example(FILE *out);

#endif
