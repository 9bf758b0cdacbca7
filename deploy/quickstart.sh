#!/bin/sh
# The main job: install what mxsentry needs, build it, start the local test
# world (DNSSEC-signed DNS, Postfix and hostile SMTP servers in network
# namespaces on documentation addresses) and show what on-call sees: the
# agent's probe table for the demo domains.  The world keeps running;
# stop it with tests/world/down.
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

demo="valid.mxs.test backup.mxs.test dual.mxs.test noint.mxs.test nostarttls.mxs.test
  greet421.mxs.test bogus.mxs.test sts-enforce.mxs.test sts-uncovered.mxs.test
  dane-ee.mxs.test dane-stale.mxs.test"
echo "== mxsentry-agent probe (from the agent's namespace)"
# shellcheck disable=SC2086
ip netns exec "$AGENT_NS" "$build/agent/mxsentry-agent" -c "$AGENT_CONF" probe $demo

cat <<TXT

The world is still running.  Try, for example:
  ip netns exec $AGENT_NS $build/agent/mxsentry-agent -c $AGENT_CONF probe --json expired.mxs.test
  (scenario domains: $(cat "$src/tests/scenario/probe.expect" "$src/tests/scenario/policy.expect" |
    awk -F'\t' '!/^#/ && NF {print $1}' | sort -u | tr '\n' ' '))
Stop it with:
  $src/tests/world/down
TXT
