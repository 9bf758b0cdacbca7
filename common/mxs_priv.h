/*
 * mxs_priv — dropping root after start-up (both daemons).
 *
 * A daemon started as root opens what needs root (keys readable only by
 * root, privileged ports), then becomes `user` for good: supplementary
 * groups cleared, gid then uid set, and a check that root cannot be
 * regained.  no_new_privs is set in any case, so an exec'd helper cannot
 * gain privileges through setuid binaries.  Started as another user, only
 * no_new_privs applies (the systemd units start the daemons as their user).
 */
#ifndef MXS_PRIV_H
#define MXS_PRIV_H

#include <signal.h>
#include <sys/types.h>

#include "mxs_err.h"

/* uid and gid of user into *uid and *gid; MXS_ENOTFOUND if there is no such user. */
int mxs_priv_lookup(const char *user, uid_t *uid, gid_t *gid, char *errstr, size_t errlen) MXS_WUR;

/* Set *stop on SIGTERM or SIGINT; ignore SIGPIPE (peers go away). */
void mxs_daemon_signals(volatile sig_atomic_t *stop);

/* Drop to user when root (user NULL or "": stay, only no_new_privs). */
int mxs_priv_drop(const char *user, char *errstr, size_t errlen) MXS_WUR;

#endif
