/* config — the agent's option table (see config.h). */
#include "config.h"
#include "mxs_conf.h"

#include <stddef.h>
#include <string.h>

#define O(f) offsetof(struct mxs_agent_config, f)
#define C(f) offsetof(struct mxs_agent_config, f)

static const struct mxs_conf_opt agent_opts[] = {
        {"resolver", "unbound_config", MXS_CONF_STR, NULL, 0, 0, O(unbound_config), 0,
         "unbound.conf-style file read by libunbound (stub-zone, local-zone, ...)"},
        {"resolver", "trust_anchor_file", MXS_CONF_STR, "/usr/share/dns/root.key", 0, 0,
         O(trust_anchor_file), 0, "DNSSEC trust anchors (DS or DNSKEY records, zone-file format)"},
        {"resolver", "forward", MXS_CONF_LIST, NULL, 0, MXS_AGENT_LIST_MAX, O(forward), C(nforward),
         "forward all queries to this validating resolver (IP address)"},
        {"resolver", "stub_zone", MXS_CONF_STR, NULL, 0, 0, O(stub_zone), 0,
         "send queries for this zone to stub_addr instead of recursing"},
        {"resolver", "stub_addr", MXS_CONF_LIST, NULL, 0, MXS_AGENT_LIST_MAX, O(stub_addr),
         C(nstub_addr), "authoritative server address for stub_zone"},
        {"resolver", "use_resolv_conf", MXS_CONF_BOOL, "no", 0, 0, O(use_resolv_conf), 0,
         "forward to the servers in /etc/resolv.conf instead of recursing"},
        {"tls", "ca_file", MXS_CONF_STR, "/etc/ssl/certs/ca-certificates.crt", 0, 0, O(ca_file), 0,
         "PEM bundle of trusted root CAs for PKIX validation"},
        {"tls", "ca_path", MXS_CONF_STR, NULL, 0, 0, O(ca_path), 0,
         "directory of hashed trusted CA certificates"},
        {"tls", "intermediates_file", MXS_CONF_STR, NULL, 0, 0, O(intermediates_file), 0,
         "known intermediate CAs (untrusted), used to name a missing intermediate"},
        {"probe", "helo_name", MXS_CONF_STR, NULL, 0, 0, O(helo_name), 0,
         "name sent in EHLO (default: this host's name)"},
        {"probe", "dns_timeout_ms", MXS_CONF_INT, "10000", 100, 120000, O(dns_timeout_ms), 0,
         "give up on one DNS lookup after this long"},
        {"probe", "connect_timeout_ms", MXS_CONF_INT, "10000", 100, 120000, O(connect_timeout_ms),
         0, "TCP connect timeout"},
        {"probe", "command_timeout_ms", MXS_CONF_INT, "30000", 100, 600000, O(command_timeout_ms),
         0, "wait this long for each SMTP reply (greeting, EHLO, STARTTLS)"},
        {"probe", "tls_timeout_ms", MXS_CONF_INT, "20000", 100, 120000, O(tls_timeout_ms), 0,
         "TLS handshake timeout"},
        {"probe", "session_timeout_ms", MXS_CONF_INT, "60000", 100, 900000, O(session_timeout_ms),
         0, "hard limit on one address's whole SMTP session"},
        {"probe", "policy_timeout_ms", MXS_CONF_INT, "60000", 1000, 600000, O(policy_timeout_ms), 0,
         "whole MTA-STS policy fetch, connect to last byte (RFC 8461 §3.3 suggests 1 min)"},
        {"probe", "ipv4", MXS_CONF_BOOL, "yes", 0, 0, O(ipv4), 0, "probe IPv4 addresses"},
        {"probe", "ipv6", MXS_CONF_BOOL, "yes", 0, 0, O(ipv6), 0, "probe IPv6 addresses"},
        {"probe", "max_in_flight", MXS_CONF_INT, "500", 1, 20000, O(max_in_flight), 0,
         "domains probed at once (daemon); the rest wait their turn"},
        {"probe", "per_address_sessions", MXS_CONF_INT, "2", 1, 64, O(per_address_sessions), 0,
         "concurrent SMTP sessions to one MX address (be polite: providers block scanners)"},
        {"probe", "per_address_interval_ms", MXS_CONF_INT, "200", 0, 60000,
         O(per_address_interval_ms), 0,
         "at least this long between new connections to one address"},
        {"probe", "share_window_s", MXS_CONF_INT, "60", 0, 86400, O(share_window_s), 0,
         "reuse one MX address's session for every domain probed within this window"},
        {"agent", "name", MXS_CONF_STR, NULL, 0, 0, O(name), 0,
         "this agent's name: its certificate's CN (required by `run`)"},
        {"agent", "region", MXS_CONF_STR, NULL, 0, 0, O(region), 0,
         "this agent's region: its certificate's OU (required by `run`)"},
        {"agent", "user", MXS_CONF_STR, "mxsentry", 0, 0, O(user), 0,
         "drop root privileges to this user after start-up"},
        {"agent", "probers", MXS_CONF_INT, "0", 0, 64, O(probers), 0,
         "prober processes, each one event loop (0: one per online CPU); domains are split "
         "between them by name, and the per-address caps with them"},
        {"agent", "spool_dir", MXS_CONF_STR, "/var/lib/mxsentry-agent", 0, 0, O(spool_dir), 0,
         "results waiting for the collector's acknowledgement"},
        {"agent", "spool_max_bytes", MXS_CONF_INT, "268435456", 16384, 68719476736LL,
         O(spool_max_bytes), 0, "spool bound; when full, new results are dropped and counted"},
        {"agent", "batch_max", MXS_CONF_INT, "100", 1, 1000, O(batch_max), 0,
         "results per message to the collector"},
        {"agent", "batch_ms", MXS_CONF_INT, "100", 1, 60000, O(batch_ms), 0,
         "send a partial batch after this long"},
        {"agent", "heartbeat_s", MXS_CONF_INT, "30", 1, 3600, O(heartbeat_s), 0,
         "heartbeat period until the collector sets one"},
        {"agent", "job_refresh_s", MXS_CONF_INT, "60", 1, 86400, O(job_refresh_s), 0,
         "ask the collector for a changed job list this often"},
        {"agent", "egress_check", MXS_CONF_STR, NULL, 0, 0, O(egress_check), 0,
         "ADDR:PORT (an IP address) connected to after each round for the egress self-check;"
         " unset: judged from the round's own connections"},
        {"agent", "metrics_listen", MXS_CONF_STR, NULL, 0, 0, O(metrics_listen), 0,
         "ADDR:PORT serving Prometheus /metrics (off when unset)"},
        {"collector", "url", MXS_CONF_STR, NULL, 0, 0, O(collector_url), 0,
         "collector address, tls+tcp://HOST:PORT (required by `run`)"},
        {"collector", "ca_file", MXS_CONF_STR, "/etc/mxsentry/ca.pem", 0, 0, O(collector_ca), 0,
         "the mxsentry CA: the collector's certificate must chain to it"},
        {"collector", "server_name", MXS_CONF_STR, NULL, 0, 0, O(server_name), 0,
         "name in the collector's certificate (default: the host part of url)"},
        {"collector", "cert_file", MXS_CONF_STR, "/etc/mxsentry/agent.pem", 0, 0, O(cert_file), 0,
         "this agent's certificate"},
        {"collector", "key_file", MXS_CONF_STR, "/etc/mxsentry/agent.key", 0, 0, O(key_file), 0,
         "this agent's private key (read by the relay process only)"},
        {"collector", "reconnect_ms", MXS_CONF_INT, "1000", 100, 600000, O(reconnect_ms), 0,
         "first redial delay after the collector went away; doubles up to 10 s"},
        {"collector", "request_timeout_ms", MXS_CONF_INT, "10000", 100, 600000,
         O(request_timeout_ms), 0, "wait this long for the collector's reply"},
};

#define NOPTS (sizeof(agent_opts) / sizeof(agent_opts[0]))

int
mxs_agent_config_load(struct mxs_agent_config *c, const char *path, char *errstr, size_t errlen)
{
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = mxs_conf_defaults(agent_opts, NOPTS, c)) != 0)
		return mxs_seterr(errstr, errlen, rc, "defaults: %s", mxs_strerror(rc));
	if (path == NULL)
		return 0;
	return mxs_conf_load(agent_opts, NOPTS, c, path, errstr, errlen);
}

void
mxs_agent_config_free(struct mxs_agent_config *c)
{
	mxs_conf_free(agent_opts, NOPTS, c);
}

void
mxs_agent_config_example(FILE *out)
{
	fprintf(out, "; mxsentry-agent configuration: every option with its default.\n\n");
	mxs_conf_print_example(agent_opts, NOPTS, out);
}
