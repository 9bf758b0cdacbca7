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
	long long max_in_flight;           /* probes (domains) running at once */
	long long per_address_sessions;    /* concurrent sessions to one MX address */
	long long per_address_interval_ms; /* at least this long between new connections */
	long long share_window_s;          /* reuse an address's session result this long */
	/* [agent] daemon mode (mxsentry-agent run) */
	char *name;        /* must equal the certificate's CN */
	char *region;      /* must equal the certificate's OU */
	char *user;        /* drop privileges to this user after start-up */
	long long probers; /* prober processes; 0: one per online CPU */
	char *spool_dir;
	long long spool_max_bytes;
	long long batch_max;     /* results per ResultBatch */
	long long batch_ms;      /* send a partial batch after this long */
	long long heartbeat_s;   /* default heartbeat period, until the collector says */
	long long job_refresh_s; /* ask for the job list this often */
	char *egress_check;      /* host:port probed for the port-25 egress self-check */
	char *metrics_listen;    /* addr:port of the agent's /metrics; empty: off */
	/* [collector] */
	char *collector_url; /* tls+tcp://host:port (tcp:// only to loopback) */
	char *collector_ca;  /* the mxsentry CA that signed the collector */
	char *server_name;   /* name the collector's certificate must carry */
	char *cert_file;     /* this agent's certificate (CN=name, OU=region) */
	char *key_file;      /* its private key: read only by the relay process */
	long long reconnect_ms;
	long long request_timeout_ms;
};

/* Defaults, then path if non-NULL.  On failure errstr says "file:line: why".
 * Free with mxs_agent_config_free whatever the outcome. */
int mxs_agent_config_load(struct mxs_agent_config *c, const char *path, char *errstr,
                          size_t errlen) MXS_WUR;
void mxs_agent_config_free(struct mxs_agent_config *c);
void mxs_agent_config_example(FILE *out);

#endif
