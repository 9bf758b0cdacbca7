/* cconfig — the collector's option table (see cconfig.h). */
#include "cconfig.h"
#include "mxs_conf.h"
#include "mxs_limits.h"

#include <stddef.h>
#include <string.h>

#define O(f) offsetof(struct mxs_collector_config, f)

static const struct mxs_conf_opt collector_opts[] = {
        {"collector", "listen", MXS_CONF_STR, "tls+tcp://0.0.0.0:4790", 0, 0, O(listen), 0,
         "where agents connect (mutual TLS); tcp:// only with allow_plain_loopback"},
        {"collector", "cert_key_file", MXS_CONF_STR, "/etc/mxsentry/collector.pem", 0, 0,
         O(cert_key_file), 0, "this collector's certificate and key in one PEM (mxs-pki)"},
        {"collector", "ca_file", MXS_CONF_STR, "/etc/mxsentry/ca-crl.pem", 0, 0, O(ca_file), 0,
         "the mxsentry CA and its CRL in one PEM: agents must chain to it, revoked ones are "
         "refused"},
        {"collector", "db", MXS_CONF_STR, "/var/lib/mxsentry/collector.db", 0, 0, O(db), 0,
         "the SQLite store (WAL mode: keep it on a local disk)"},
        {"collector", "user", MXS_CONF_STR, "mxsentry", 0, 0, O(user), 0,
         "drop root privileges to this user after start-up"},
        {"collector", "recv_max_bytes", MXS_CONF_INT, "4194304", 65536, MXS_WIRE_MSG_MAX,
         O(recv_max_bytes), 0, "largest message accepted from an agent; larger ones are dropped"},
        {"collector", "heartbeat_s", MXS_CONF_INT, "30", 1, 3600, O(heartbeat_s), 0,
         "heartbeat period asked of agents"},
        {"collector", "retention_days", MXS_CONF_INT, "35", 1, 3650, O(retention_days), 0,
         "raw results older than this are deleted (latest state and history are kept)"},
        {"collector", "allow_plain_loopback", MXS_CONF_BOOL, "no", 0, 0, O(allow_plain_loopback), 0,
         "accept listen = tcp://127.0.0.1:PORT (no TLS, no agent identity; tests only)"},
        {"api", "listen", MXS_CONF_STR, "127.0.0.1:8025", 0, 0, O(api_listen), 0,
         "HTTP JSON API and /metrics (ADDR:PORT; [::1]:PORT for IPv6)"},
        {"api", "token_file", MXS_CONF_STR, "/etc/mxsentry/api.token", 0, 0, O(token_file), 0,
         "file holding the bearer token the API requires"},
        {"api", "stale_after_s", MXS_CONF_INT, "180", 10, 86400, O(stale_after_s), 0,
         "an agent silent for longer is shown as stale"},
};

#define NOPTS (sizeof(collector_opts) / sizeof(collector_opts[0]))

int
mxs_collector_config_load(struct mxs_collector_config *c, const char *path, char *errstr,
                          size_t errlen)
{
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = mxs_conf_defaults(collector_opts, NOPTS, c)) != 0)
		return mxs_seterr(errstr, errlen, rc, "defaults: %s", mxs_strerror(rc));
	if (path == NULL)
		return 0;
	return mxs_conf_load(collector_opts, NOPTS, c, path, errstr, errlen);
}

void
mxs_collector_config_free(struct mxs_collector_config *c)
{
	mxs_conf_free(collector_opts, NOPTS, c);
}

void
mxs_collector_config_example(FILE *out)
{
	fprintf(out, "; mxsentry-collector configuration: every option with its default.\n\n");
	mxs_conf_print_example(collector_opts, NOPTS, out);
}
