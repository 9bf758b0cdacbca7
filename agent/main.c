/*
 * mxsentry-agent — probes MX hosts for STARTTLS, certificates and DNSSEC.
 *
 *   mxsentry-agent -c FILE run                            the agent service
 *   mxsentry-agent [-c FILE] probe [--json] DOMAIN...   one-shot probe
 *   mxsentry-agent -n -c FILE                            check a config file
 *   mxsentry-agent --example-config                      print every option
 *
 * The one-shot mode is the daemon's engine with a fixed target list: all
 * domains are probed concurrently on one loop.  Exit status: 0 when every
 * probe ran (whatever it found), 1 on an environment error (config, trust
 * store, resolver), 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <openssl/ssl.h>

#include "config.h"
#include "daemon.h"
#include "engine.h"
#include "mxs_log.h"
#include "output.h"
#include "probe.h"

#define AGENT_VERSION "0.1.0"

struct oneshot {
	struct mxs_result **results; /* in argument order */
	size_t n, left;
};

struct slot {
	struct oneshot *os;
	size_t i;
};

/* Hundreds of sessions and DNS sockets at once: take the fd limit we may. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: mxsentry-agent -c FILE [-v] run\n"
	                "       mxsentry-agent [-c FILE] probe [--json] DOMAIN...\n"
	                "       mxsentry-agent -n -c FILE\n"
	                "       mxsentry-agent --example-config | --version\n");
	exit(2);
}

static void
oneshot_done(struct mxs_result *r, void *arg)
{
	struct slot *sl = arg;

	sl->os->results[sl->i] = r;
	sl->os->left--;
}

static int
print_results(struct oneshot *os, int json)
{
	char *out;

	if (json && os->n > 1)
		fputs("[\n", stdout);
	for (size_t i = 0; i < os->n; i++) {
		if (!json) {
			mxs_result_print_table(os->results[i], stdout);
			continue;
		}
		if (mxs_result_to_json(os->results[i], &out) != 0) {
			mxs_err("msg=\"cannot serialise result\" domain=%s",
			        os->results[i]->domain);
			return 1;
		}
		fputs(out, stdout);
		fputs(os->n > 1 && i + 1 < os->n ? ",\n" : "\n", stdout);
		free(out);
	}
	if (json && os->n > 1)
		fputs("]\n", stdout);
	return 0;
}

static int
cmd_probe(const struct mxs_agent_config *cfg, int argc, char **argv)
{
	struct mxs_engine e;
	struct oneshot os = {0};
	struct slot *slots = NULL;
	char err[512];
	int json = 0, rc = 1;
	size_t nd = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (argv[i][0] == '-')
			usage();
		else
			argv[nd++] = argv[i];
	}
	if (nd == 0)
		usage();
	if (mxs_engine_init(&e, cfg, err, sizeof(err)) != 0) {
		mxs_err("msg=\"cannot start the probe engine\" reason=\"%s\"", err);
		return 1;
	}
	os.results = calloc(nd, sizeof(*os.results));
	slots = calloc(nd, sizeof(*slots));
	if (os.results == NULL || slots == NULL)
		goto out;
	os.n = nd;
	for (size_t i = 0; i < nd; i++) {
		slots[i].os = &os;
		slots[i].i = i;
		if (mxs_probe_start(&e, argv[i], oneshot_done, &slots[i]) != 0) {
			mxs_err("msg=\"cannot start probe\" domain=%s", argv[i]);
			goto out;
		}
		os.left++;
	}
	while (os.left > 0)
		if (event_base_loop(e.base, EVLOOP_ONCE) < 0)
			goto out;
	rc = print_results(&os, json);
out:
	for (size_t i = 0; os.results != NULL && i < nd; i++)
		mxs_result_free(&os.results[i]);
	free(os.results);
	free(slots);
	mxs_engine_free(&e);
	return rc;
}

int
main(int argc, char **argv)
{
	struct mxs_agent_config cfg;
	const char *conf = NULL;
	char err[512];
	int check = 0, i, rc;

	mxs_log_init("mxsentry-agent", MXS_LOG_INFO);
	raise_fd_limit();
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "-n") == 0)
			check = 1;
		else if (strcmp(argv[i], "-v") == 0)
			mxs_log_init("mxsentry-agent", MXS_LOG_DEBUG);
		else if (strcmp(argv[i], "--example-config") == 0) {
			mxs_agent_config_example(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("mxsentry-agent %s (%s)\n", AGENT_VERSION,
			       OpenSSL_version(OPENSSL_VERSION));
			return 0;
		} else
			usage();
	}
	if (check && conf == NULL)
		usage();
	if (mxs_agent_config_load(&cfg, conf, err, sizeof(err)) != 0) {
		mxs_err("msg=\"configuration rejected\" reason=\"%s\"", err);
		mxs_agent_config_free(&cfg);
		return 1;
	}
	if (check) {
		printf("%s: configuration ok\n", conf);
		mxs_agent_config_free(&cfg);
		return 0;
	}
	if (i < argc && strcmp(argv[i], "run") == 0 && i + 1 == argc && conf != NULL) {
		rc = mxs_agent_daemon(&cfg);
		mxs_agent_config_free(&cfg);
		return rc;
	}
	if (i >= argc || strcmp(argv[i], "probe") != 0)
		usage();
	rc = cmd_probe(&cfg, argc - i - 1, argv + i + 1);
	mxs_agent_config_free(&cfg);
	return rc;
}
