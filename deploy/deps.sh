#!/bin/sh
# Install every Debian package mxsentry needs to build, test and run its test
# world.  Idempotent and non-interactive; safe to run on every invocation of
# quickstart.sh and tests/run.sh.  Postfix is preseeded with "No configuration"
# so it never asks a question and never starts a system-wide instance.
set -eu

BUILD="build-essential cmake pkg-config clang-format
  libssl-dev libevent-dev libunbound-dev libcurl4-openssl-dev
  libnng-dev libprotobuf-c-dev protobuf-c-compiler zlib1g-dev
  libjansson-dev libsqlite3-dev libinih-dev libcmocka-dev"
WORLD="iproute2 iptables nsd ldnsutils openssl postfix nginx-light
  ca-certificates dns-root-data time procps psmisc jq bc curl
  unbound postfix-mta-sts-resolver sqlite3"

# The daemons drop root to this system user (also the systemd units' User=).
ensure_user() {
	id mxsentry >/dev/null 2>&1 ||
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin mxsentry
}

missing=""
for p in $BUILD $WORLD; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
		|| missing="$missing $p"
done
ensure_user
[ -z "$missing" ] && exit 0

export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
# The packaged daemons must not even start on the host (unbound's start-up
# would try to refresh the root trust anchor from the Internet): where no
# policy-rc.d forbids it already, one does during the install.
rc_guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
	rc_guard=1
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null || status=$?
[ -z "$rc_guard" ] || rm -f /usr/sbin/policy-rc.d
[ "${status:-0}" = 0 ] || exit "$status"
# The packaged daemons must not run on the host: the test world starts its own
# instances inside network namespaces from private config directories.
for s in nsd nginx postfix unbound postfix-mta-sts-resolver; do
	systemctl disable --now "$s" >/dev/null 2>&1 || service "$s" stop >/dev/null 2>&1 || true
done
exit 0
