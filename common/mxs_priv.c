/* mxs_priv — drop root after start-up (see mxs_priv.h). */
#define _GNU_SOURCE /* setresuid, setresgid */
#include "mxs_priv.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int
mxs_priv_lookup(const char *user, uid_t *uid, gid_t *gid, char *errstr, size_t errlen)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL)
		return mxs_seterr(errstr, errlen, MXS_ENOTFOUND, "no user %s%s%s", user,
		                  errno ? ": " : "", errno ? strerror(errno) : "");
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return MXS_OK;
}

int
mxs_priv_drop(const char *user, char *errstr, size_t errlen)
{
	uid_t uid = 0;
	gid_t gid = 0;
	int rc;

	if (geteuid() == 0 && user != NULL && user[0] != '\0') {
		if ((rc = mxs_priv_lookup(user, &uid, &gid, errstr, errlen)) != 0)
			return rc;
		if (uid == 0)
			return mxs_seterr(errstr, errlen, MXS_ECONFIG, "user %s is root", user);
		if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 ||
		    setresuid(uid, uid, uid) != 0)
			return mxs_seterr(errstr, errlen, MXS_ESYS, "becoming %s: %s", user,
			                  strerror(errno));
		if (setuid(0) == 0)
			return mxs_seterr(errstr, errlen, MXS_ESYS, "root regained after the drop");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return mxs_seterr(errstr, errlen, MXS_ESYS, "no_new_privs: %s", strerror(errno));
	return MXS_OK;
}

static volatile sig_atomic_t *stop_flag;

static void
on_stop_signal(int sig)
{
	(void)sig;
	*stop_flag = 1;
}

void
mxs_daemon_signals(volatile sig_atomic_t *stop)
{
	struct sigaction sa;

	stop_flag = stop;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}
