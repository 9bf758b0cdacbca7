#!/bin/sh
# The main job: install what mxsentry needs, build it, start the local test
# world (DNSSEC-signed DNS, Postfix and hostile SMTP servers, an MTA-STS
# policy host, a STARTTLS-stripping middlebox, all in network namespaces on
# documentation addresses), start the collector and one agent per region
# (us, eu, ap), wait for one probe cycle and show what on-call sees:
# `mxsentry status` for strip.mxs.test, whose MX is reached from eu through
# the middlebox, and `mxsentry regions`.  Everything keeps running; the
# last lines say how to look further and how to stop it.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${MXS_BUILD_DIR:-$src/build}

echo "== installing Debian packages (deploy/deps.sh)"
sh "$src/deploy/deps.sh"
echo "== building into $build"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
echo "== starting the test world"
MXS_SRC_DIR=$src MXS_BUILD_DIR=$build "$src/tests/world/up"
. "${MXS_WORLD_DIR:-/run/mxs-world}/world.env"
svc=$src/tests/world/svc

echo "== starting the collector (in $SRV_NS) and the agents (in mxs-us, mxs-eu, mxs-ap)"
MXS_BUILD_DIR=$build "$svc" collector start
demo="strip.mxs.test valid.mxs.test backup.mxs.test dual.mxs.test noint.mxs.test
  nostarttls.mxs.test greet421.mxs.test bogus.mxs.test sts-enforce.mxs.test
  sts-uncovered.mxs.test dane-ee.mxs.test dane-stale.mxs.test expired.mxs.test"
for d in $demo; do
	"$MXSENTRY_CLI" domains add "$d" --interval 60 >/dev/null
done
for r in $REGIONS; do
	MXS_BUILD_DIR=$build "$svc" agent "$r" start
done

echo "== waiting for every region's first cycle"
i=0
until [ "$("$MXSENTRY_CLI" --json regions 2>/dev/null |
	jq '[.agents[] | select(.cycles >= 1 and .spool_depth == 0)] | length')" = 3 ]; do
	i=$((i + 1))
	if [ $i -gt 120 ]; then
		echo "quickstart: no cycle from every region within 60 s; see $LOG_DIR/agent-*.log" >&2
		exit 1
	fi
	sleep 0.5
done

echo "== mxsentry status strip.mxs.test"
"$MXSENTRY_CLI" status strip.mxs.test
echo
echo "== mxsentry regions"
"$MXSENTRY_CLI" regions

cat <<TXT

The collector and three agents keep running (logs: $LOG_DIR/collector.log,
$LOG_DIR/agent-REGION.log).  On-call's CLI for this world is $MXSENTRY_CLI:
  $MXSENTRY_CLI status dane-stale.mxs.test
  $MXSENTRY_CLI history strip.mxs.test
  $MXSENTRY_CLI domains list
  $MXSENTRY_CLI --json status sts-uncovered.mxs.test
One-shot probe from the agent's namespace, with every detail:
  ip netns exec $AGENT_NS $build/agent/mxsentry-agent -c $AGENT_CONF probe expired.mxs.test
Stop the services:  $svc stop
Stop everything:    $src/tests/world/down
TXT
