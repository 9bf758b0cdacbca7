/*
 * daemon — `mxsentry-agent -c FILE run`: the agent as a service.
 *
 * Two processes (DESIGN: the processes that parse hostile replies hold no
 * keys).  The process forks before anything secret is read:
 *   prober (child)  drops to the service user at once, then runs the
 *                   engine; it never opens the key file;
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

int
mxs_agent_daemon(const struct mxs_agent_config *cfg)
{
	struct mxs_relay *r = NULL;
	char err[512];
	int sv[2], rc = 1, status;
	pid_t pid;

	if (cfg->name == NULL || cfg->region == NULL || cfg->collector_url == NULL) {
		mxs_err("msg=\"run needs [agent] name, region and [collector] url\"");
		return 1;
	}
	if (spool_dir(cfg, err, sizeof(err)) != 0) {
		mxs_err("msg=\"spool unusable\" reason=\"%s\"", err);
		return 1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		mxs_err("msg=\"socketpair\" reason=\"%s\"", strerror(errno));
		return 1;
	}
	if ((pid = fork()) < 0) {
		mxs_err("msg=\"fork\" reason=\"%s\"", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		close(sv[0]);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			_exit(1);
		mxs_log_init("mxsentry-agent[prober]", MXS_LOG_INFO);
		if (mxs_priv_drop(cfg->user, err, sizeof(err)) != 0) {
			mxs_err("msg=\"cannot drop privileges\" reason=\"%s\"", err);
			_exit(1);
		}
		_exit(mxs_prober_main(cfg, sv[1]));
	}
	close(sv[1]);
	mxs_log_init("mxsentry-agent[relay]", MXS_LOG_INFO);
	if (mxs_relay_open(cfg, sv[0], &r, err, sizeof(err)) != 0) {
		mxs_err("msg=\"cannot start\" reason=\"%s\"", err);
		close(sv[0]);
		goto out;
	}
	if (mxs_priv_drop(cfg->user, err, sizeof(err)) != 0) {
		mxs_err("msg=\"cannot drop privileges\" reason=\"%s\"", err);
		goto out;
	}
	mxs_daemon_signals(&stop);
	mxs_info("msg=\"agent started\" name=%s region=%s collector=%s prober=%d", cfg->name,
	         cfg->region, cfg->collector_url, (int)pid);
	rc = mxs_relay_run(r, &stop);
	mxs_info("msg=\"agent stopping\"");
out:
	mxs_relay_close(&r); /* closes the prober's socket: it exits */
	kill(pid, SIGTERM);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return rc;
}
