#!/bin/bash
# Benchmark: the agent's CPU time and peak RSS per probed MX address over the
# issue-2 scenario set, measured with /usr/bin/time, beside posttls-finger
# (one process per domain, the way posttls-finger-style tools run) over the
# same domains.  Prints figures; asserts nothing.  Needs a running world
# (tests/world/up) and, for honest figures, a build without sanitizers:
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel
#   MXS_BUILD_DIR=$PWD/build-rel tests/bench/probe_cpu.sh [RUNS]
# MXS_BENCH_EXCLUDE='^(sts|dane)-' leaves out the MTA-STS and DANE scenarios,
# which add policy fetches and TLSA lookups, to measure the STARTTLS probe.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${MXS_BUILD_DIR:-$src/build-rel}
world=${MXS_WORLD_DIR:-/run/mxs-world}
runs=${1:-10}
. "$world/world.env"
agent=$build/agent/mxsentry-agent
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Only domains whose every MX address is a real Postfix listener: the
# hostile fixtures measure timeouts and limits, not CPU (posttls-finger
# reads an endless greeting until its own timeout).
mapfile -t domains < <(awk '!/^#/ && NF { all[$1] = 1; if ($6 != "postfix") bad[$1] = 1 }
	END { for (d in all) if (!(d in bad)) print d }' "$WORLD_SCENARIOS" | sort |
	grep -Ev "${MXS_BENCH_EXCLUDE:-^$}")

ip netns exec "$AGENT_NS" "$agent" -c "$AGENT_CONF" probe --json "${domains[@]}" >"$tmp/one.json"
addrs=$(jq '[.[].hosts[].addresses[] | select(.connect.status == "ok")] | length' "$tmp/one.json")
tls=$(jq '[.[].hosts[].addresses[] | select(.tls.status == "ok")] | length' "$tmp/one.json")

measure() { # label, command...: sums user+sys over $runs runs, keeps max RSS
	local label=$1 cpu=0 rss=0 wall=0 u s m e
	shift
	for _ in $(seq "$runs"); do
		/usr/bin/time -f '%U %S %M %e' -o "$tmp/t" "$@" >/dev/null 2>&1 || true
		read -r u s m e <"$tmp/t"
		cpu=$(echo "$cpu + $u + $s" | bc)
		wall=$(echo "$wall + $e" | bc)
		[ "$m" -gt "$rss" ] && rss=$m
	done
	printf '%-34s cpu/run %7.1f ms  wall/run %7.1f ms  peak RSS %6d KiB\n' "$label" \
		"$(echo "$cpu * 1000 / $runs" | bc -l)" "$(echo "$wall * 1000 / $runs" | bc -l)" "$rss"
	echo "$cpu" >"$tmp/cpu.$label"
}

echo "domains: ${#domains[@]}, MX addresses connected: $addrs (TLS handshakes: $tls), runs: $runs"
measure agent-all ip netns exec "$AGENT_NS" "$agent" -c "$AGENT_CONF" probe --json "${domains[@]}"
# The fixed cost of one process (config, CA store, resolver set-up, one DNS
# query for a domain without MX hosts), to separate it from per-address cost.
measure agent-baseline ip netns exec "$AGENT_NS" "$agent" -c "$AGENT_CONF" probe --json nullmx.mxs.test

all=$(cat "$tmp/cpu.agent-all")
base=$(cat "$tmp/cpu.agent-baseline")
printf 'agent: %.2f ms CPU per MX address including start-up, %.2f ms excluding it\n' \
	"$(echo "$all * 1000 / $runs / $addrs" | bc -l)" \
	"$(echo "($all - $base) * 1000 / $runs / $addrs" | bc -l)"

# posttls-finger, one process per domain, verify level against the world CA.
mc=$tmp/pf
mkdir -p "$mc"
printf 'compatibility_level = 3.6\nsmtp_tls_loglevel = 0\n' >"$mc/main.cf"
pf_run() {
	for d in "${domains[@]}"; do
		MAIL_CONFIG=$mc ip netns exec "$AGENT_NS" posttls-finger -c -t 5 -T 5 \
			-l verify -F "$PKI_DIR/root.pem" "$d" >/dev/null 2>&1 || true
	done
}
export -f pf_run
export mc AGENT_NS PKI_DIR
domains_s="${domains[*]}"
export domains_s
measure posttls-finger-all bash -c 'domains=($domains_s); pf_run'
pf=$(cat "$tmp/cpu.posttls-finger-all")
printf 'posttls-finger: %.2f ms CPU per MX address (one process per domain)\n' \
	"$(echo "$pf * 1000 / $runs / $addrs" | bc -l)"
