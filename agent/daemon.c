/*
 * daemon — `mxsentry-agent -c FILE run`: the agent as a service.
 *
 * DESIGN: one event loop per process and one process per core, and the
 * processes that parse hostile replies hold no keys.  The process forks
 * before anything secret is read:
 *   probers (children, `probers`, default one per CPU)  drop to the service
 *                   user at once, then run the engine on their share of the
 *                   domains; they never open the key file;
 *   relay (parent)  reads the certificate and key, opens the spool, dials
 *                   the collector, then drops to the service user too.
 * If either dies the other follows (the prober has PDEATHSIG; the relay
 * exits when the prober's socket closes), and systemd restarts the pair;
 * the spool carries every unacknowledged result across the restart.
 */
#include "daemon.h"
#include "mxs_log.h"
#include "mxs_priv.h"
#include "prober.h"
#include "relay.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

/* The spool directory, created and handed to the service user. */
static int
spool_dir(const struct mxs_agent_config *cfg, char *errstr, size_t errlen)
{
	uid_t uid = 0;
	gid_t gid = 0;
	int rc;

	if (mkdir(cfg->spool_dir, 0700) != 0 && errno != EEXIST)
		return mxs_seterr(errstr, errlen, MXS_ESYS, "%s: %s", cfg->spool_dir,
		                  strerror(errno));
	if (geteuid() != 0 || cfg->user == NULL || cfg->user[0] == '\0')
		return MXS_OK;
	if ((rc = mxs_priv_lookup(cfg->user, &uid, &gid, errstr, errlen)) != 0)
		return rc;
	if (chown(cfg->spool_dir, uid, gid) != 0)
		return mxs_seterr(errstr, errlen, MXS_ESYS, "chown %s: %s", cfg->spool_dir,
		                  strerror(errno));
	return MXS_OK;
}

/* How many probers: the option, or one per online CPU. */
static size_t
prober_count(const struct mxs_agent_config *cfg)
{
	long n = cfg->probers > 0 ? (long)cfg->probers : sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > MXS_PROBERS_MAX ? MXS_PROBERS_MAX : (size_t)n;
}

/*
 * Prober i of n: drop privileges, take its share of the limits and run.
 * The per-address caps are split too, since the probers do not talk to
 * each other: n probers together stay within per_address_sessions and
 * per_address_interval_ms (an address whose domains fall to different
 * probers).
 */
static void __attribute__((noreturn))
prober_child(const struct mxs_agent_config *cfg, size_t i, size_t n, int fd)
{
	struct mxs_agent_config mine = *cfg; /* shallow: strings stay the parent's */
	char err[512], name[40];

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		_exit(1);
	snprintf(name, sizeof(name), "mxsentry-agent[prober %zu]", i);
	mxs_log_init(name, MXS_LOG_INFO);
	if (mxs_priv_drop(cfg->user, err, sizeof(err)) != 0) {
		mxs_err("msg=\"cannot drop privileges\" reason=\"%s\"", err);
		_exit(1);
	}
	mine.max_in_flight =
	        cfg->max_in_flight / (long long)n > 0 ? cfg->max_in_flight / (long long)n : 1;
	mine.per_address_sessions = cfg->per_address_sessions / (long long)n > 0
	                                    ? cfg->per_address_sessions / (long long)n
	                                    : 1;
	mine.per_address_interval_ms = cfg->per_address_interval_ms * (long long)n;
	_exit(mxs_prober_main(&mine, fd));
}

int
mxs_agent_daemon(const struct mxs_agent_config *cfg)
{
	struct mxs_relay *r = NULL;
	pid_t pids[MXS_PROBERS_MAX] = {0};
	int fds[MXS_PROBERS_MAX], sv[2], rc = 1, status;
	size_t n, nfd = 0;
	char err[512];

	if (cfg->name == NULL || cfg->region == NULL || cfg->collector_url == NULL) {
		mxs_err("msg=\"run needs [agent] name, region and [collector] url\"");
		return 1;
	}
	if (spool_dir(cfg, err, sizeof(err)) != 0) {
		mxs_err("msg=\"spool unusable\" reason=\"%s\"", err);
		return 1;
	}
	n = prober_count(cfg);
	for (size_t i = 0; i < n; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
			mxs_err("msg=\"socketpair\" reason=\"%s\"", strerror(errno));
			goto out;
		}
		if ((pids[i] = fork()) < 0) {
			mxs_err("msg=\"fork\" reason=\"%s\"", strerror(errno));
			close(sv[0]);
			close(sv[1]);
			goto out;
		}
		if (pids[i] == 0) {
			close(sv[0]);
			for (size_t k = 0; k < nfd; k++)
				close(fds[k]); /* earlier probers' sockets */
			prober_child(cfg, i, n, sv[1]);
		}
		close(sv[1]);
		fds[nfd++] = sv[0];
	}
	mxs_log_init("mxsentry-agent[relay]", MXS_LOG_INFO);
	if (mxs_relay_open(cfg, fds, nfd, &r, err, sizeof(err)) != 0) {
		mxs_err("msg=\"cannot start\" reason=\"%s\"", err);
		goto out;
	}
	nfd = 0; /* the relay owns them now */
	if (mxs_priv_drop(cfg->user, err, sizeof(err)) != 0) {
		mxs_err("msg=\"cannot drop privileges\" reason=\"%s\"", err);
		goto out;
	}
	mxs_daemon_signals(&stop);
	mxs_info("msg=\"agent started\" name=%s region=%s collector=%s probers=%zu", cfg->name,
	         cfg->region, cfg->collector_url, n);
	rc = mxs_relay_run(r, &stop);
	mxs_info("msg=\"agent stopping\"");
out:
	mxs_relay_close(&r); /* shuts the probers' sockets: they exit */
	for (size_t i = 0; i < nfd; i++)
		close(fds[i]);
	for (size_t i = 0; i < MXS_PROBERS_MAX && pids[i] > 0; i++) {
		kill(pids[i], SIGTERM);
		while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
			;
	}
	return rc;
}
