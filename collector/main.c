/*
 * mxsentry-collector — receives agents' results, stores them, answers
 * on-call's questions.
 *
 *   mxsentry-collector [-c FILE]          run in the foreground (systemd)
 *   mxsentry-collector -n -c FILE         check a config file, exit 0/1
 *   mxsentry-collector --example-config   every option with its default
 *
 * Threads: the listener (agents, nng) in the main thread with its own store
 * handle; the HTTP API (on-call, /metrics) in its own thread with another
 * handle; they share only the atomic counters of metrics.h.
 * Start-up order matters for privileges: read the token, open the store,
 * bind the agent port and load the TLS key as root, hand the store's files
 * to the service user, then drop root before any input is read.
 */
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cconfig.h"
#include "http_api.h"
#include "listener.h"
#include "metrics.h"
#include "mxs_log.h"
#include "mxs_priv.h"
#include "store.h"

#define COLLECTOR_VERSION "0.1.0"
#define TOKEN_MAX         256

static volatile sig_atomic_t stop;

static void
usage(void)
{
	fprintf(stderr, "usage: mxsentry-collector [-c FILE] [-v]\n"
	                "       mxsentry-collector -n -c FILE\n"
	                "       mxsentry-collector --example-config | --version\n");
	exit(2);
}

/* The API token: one line, printable, 16..TOKEN_MAX-1 characters. */
static int
read_token(const char *path, char *tok, size_t len, char *errstr, size_t errlen)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return mxs_seterr(errstr, errlen, MXS_ECONFIG, "%s: %s", path, strerror(errno));
	n = fread(tok, 1, len - 1, f);
	fclose(f);
	tok[n] = '\0';
	while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
		tok[--n] = '\0';
	if (n < 16 || n == len - 1)
		return mxs_seterr(errstr, errlen, MXS_ECONFIG,
		                  "%s: the token must be one line of 16 to %zu characters", path,
		                  len - 2);
	for (size_t i = 0; i < n; i++)
		if (tok[i] <= ' ' || tok[i] > '~')
			return mxs_seterr(errstr, errlen, MXS_ECONFIG,
			                  "%s: the token must be printable ASCII", path);
	return MXS_OK;
}

/* Root about to become user: give it the store's directory and files. */
static int
hand_over_db(const char *db, const char *user, char *errstr, size_t errlen)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	char dir[4096], f[4200];
	uid_t uid = 0;
	gid_t gid = 0;
	int rc;

	if (geteuid() != 0 || user == NULL || user[0] == '\0')
		return MXS_OK;
	if ((rc = mxs_priv_lookup(user, &uid, &gid, errstr, errlen)) != 0)
		return rc;
	snprintf(dir, sizeof(dir), "%s", db);
	if (chown(dirname(dir), uid, gid) != 0)
		return mxs_seterr(errstr, errlen, MXS_ESYS, "chown %s: %s", dir, strerror(errno));
	for (size_t i = 0; i < 3; i++) {
		snprintf(f, sizeof(f), "%s%s", db, sfx[i]);
		if (chown(f, uid, gid) != 0 && errno != ENOENT)
			return mxs_seterr(errstr, errlen, MXS_ESYS, "chown %s: %s", f,
			                  strerror(errno));
	}
	return MXS_OK;
}

static int
run(const struct mxs_collector_config *cfg)
{
	static struct mxs_metrics metrics;
	struct mxs_store *st = NULL;
	struct mxs_listener *l = NULL;
	struct mxs_api *api = NULL;
	struct mxs_api_config ac = {0};
	struct timespec now;
	char token[TOKEN_MAX], err[512];
	int rc = 1;

	clock_gettime(CLOCK_REALTIME, &now);
	atomic_store(&metrics.started_ms, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
	if (read_token(cfg->token_file, token, sizeof(token), err, sizeof(err)) != 0) {
		mxs_err("msg=\"cannot start\" reason=\"%s\"", err);
		return 1;
	}
	if (mxs_store_sqlite_open(cfg->db, NULL, &st, err, sizeof(err)) != 0) {
		mxs_err("msg=\"cannot open the store\" db=%s reason=\"%s\"", cfg->db, err);
		goto out;
	}
	if (mxs_listener_open(cfg, st, &metrics, &l, err, sizeof(err)) != 0) {
		mxs_err("msg=\"cannot listen\" reason=\"%s\"", err);
		goto out;
	}
	/* The store's files exist now (WAL mode creates -wal and -shm at open). */
	if (hand_over_db(cfg->db, cfg->user, err, sizeof(err)) != 0 ||
	    mxs_priv_drop(cfg->user, err, sizeof(err)) != 0) {
		mxs_err("msg=\"cannot drop privileges\" reason=\"%s\"", err);
		goto out;
	}
	ac.listen = cfg->api_listen;
	ac.db_path = cfg->db;
	ac.token = token;
	ac.stale_after_s = cfg->stale_after_s;
	if (mxs_api_start(&ac, &metrics, &api, err, sizeof(err)) != 0) {
		mxs_err("msg=\"cannot start the API\" listen=%s reason=\"%s\"", cfg->api_listen,
		        err);
		goto out;
	}
	mxs_daemon_signals(&stop);
	mxs_info("msg=\"collector started\" version=%s agents=%s api=%s db=%s", COLLECTOR_VERSION,
	         mxs_listener_url(l), cfg->api_listen, cfg->db);
	rc = mxs_listener_run(l, &stop) == 0 ? 0 : 1;
	mxs_info("msg=\"collector stopping\"");
out:
	mxs_api_stop(&api);
	mxs_listener_close(&l);
	mxs_store_close(&st);
	explicit_bzero(token, sizeof(token));
	return rc;
}

int
main(int argc, char **argv)
{
	struct mxs_collector_config cfg;
	const char *conf = NULL;
	char err[512];
	int check = 0, verbose = 0, rc;

	mxs_log_init("mxsentry-collector", MXS_LOG_INFO);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "-n") == 0)
			check = 1;
		else if (strcmp(argv[i], "-v") == 0)
			verbose = 1;
		else if (strcmp(argv[i], "--example-config") == 0) {
			mxs_collector_config_example(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("mxsentry-collector %s (wire v1)\n", COLLECTOR_VERSION);
			return 0;
		} else
			usage();
	}
	if (check && conf == NULL)
		usage();
	if (verbose)
		mxs_log_init("mxsentry-collector", MXS_LOG_DEBUG);
	if (mxs_collector_config_load(&cfg, conf, err, sizeof(err)) != 0) {
		mxs_err("msg=\"configuration rejected\" reason=\"%s\"", err);
		mxs_collector_config_free(&cfg);
		return 1;
	}
	if (check) {
		printf("%s: configuration ok\n", conf);
		mxs_collector_config_free(&cfg);
		return 0;
	}
	rc = run(&cfg);
	mxs_collector_config_free(&cfg);
	return rc;
}
