/*
 * cconfig — the collector's configuration: one option table (cconfig.c);
 * `mxsentry-collector -n -c FILE` checks a file, `--example-config` prints
 * the documented example (deploy/collector.conf.example).
 */
#ifndef MXS_CCONFIG_H
#define MXS_CCONFIG_H

#include <stdio.h>

#include "mxs_err.h"

struct mxs_collector_config {
	/* [collector] */
	char *listen;        /* tls+tcp://ADDR:PORT */
	char *cert_key_file; /* collector certificate and key, one PEM (mxs-pki) */
	char *ca_file;       /* the mxsentry CA, with its CRL appended (mxs-pki ca-crl.pem) */
	char *db;            /* SQLite store */
	char *user;          /* drop root to this user */
	long long recv_max_bytes;
	long long heartbeat_s;
	long long retention_days;
	int allow_plain_loopback;
	/* [api] */
	char *api_listen;
	char *token_file;
	long long stale_after_s;
};

int mxs_collector_config_load(struct mxs_collector_config *c, const char *path, char *errstr,
                              size_t errlen) MXS_WUR;
void mxs_collector_config_free(struct mxs_collector_config *c);
void mxs_collector_config_example(FILE *out);

#endif
