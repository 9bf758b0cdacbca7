#!/usr/bin/env bash
# cycle.sh — benchmark (prints figures, asserts nothing): the wall time of
# one probe cycle of 1,000 domains from a region 100 ms of round trip away
# from every server it talks to (target <= 15 s), with per-step figures.
#
#   tests/bench/cycle.sh BUILD_DIR       (root; a Release build)
#
# The bench world of lib/bench_world.sh (namespaces mxb-cycle-*, addresses in
# 198.51.100.128/25, state /run/mxs-bench/cycle; removed at exit, idempotent)
# with a middlebox namespace mxb-cycle-far between the agent and the servers:
#
#   mxb-cycle-agent b-a0 .130 -> b-f0 .129 mxb-cycle-far b-f1 .134 -> b-s0 .133 mxb-cycle-srv
#
# There is no netem qdisc, so the delay is added by mxs-delay-proxy
# (delay_proxy.c, compiled here with cc) in mxb-cycle-far:
#  - TCP (SMTP, and DNS over TCP if it came to that): every TCP connection
#    from the agent is REDIRECTed to the proxy, which finds the original
#    destination (SO_ORIGINAL_DST), connects after one round trip and
#    delivers every chunk RTT/2 after reading it, each way.  The agent's
#    connect() itself completes at once at the proxy; the held upstream
#    connect makes the greeting arrive after 1.5 RTT, as over a real path.
#  - DNS over UDP: the agent's libunbound does the recursion itself (as in
#    production: no resolver near the agent), so every query to the
#    authoritative server must pay the round trip.  UDP to NSD's address,
#    port 53, is REDIRECTed to the proxy's UDP port, which forwards each
#    datagram to NSD RTT/2 later and each reply back RTT/2 after it arrives;
#    conntrack puts NSD's address back as the replies' source, so the agent
#    sees its authoritative server, slower.  (A resolver "on the far side"
#    would have hidden validation's DNSKEY fetches and the agent's own
#    recursion behind one cache; a delaying forwarder keeps them visible.)
#
# Two cycles are timed: with the proxy's delay at 0 (the path's own cost),
# then at RTT/2.  The agent runs with the production defaults for
# per_address_sessions, per_address_interval_ms and share_window_s (the
# option table's), unless MXB_CYCLE_CAPS=generous.
#
# Environment: MXB_RTT_MS (100), MXB_DOMAINS (1000), MXB_ADDRESSES (100),
# MXB_MX_HOSTS (distinct MX names, default one per domain), MXB_SERVER
# (fixture | postfix), MXB_CYCLE_CAPS (defaults | generous), MXB_KEEP=1.
set -Eeuo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $# -eq 1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BW_BUILD=$(cd "$1" && pwd)
# shellcheck disable=SC2034  # read by lib/bench_world.sh
BW_TAG=cycle BW_WITH_FAR=1
# shellcheck source=tests/bench/lib/bench_world.sh
. "$here/lib/bench_world.sh"
agent=$BW_BUILD/agent/mxsentry-agent
rtt=${MXB_RTT_MS:-100}
proxy=$BW_DIR/mxs-delay-proxy
[[ -x $agent ]] || bw_fail "$agent not built"
ulimit -n "$(ulimit -Hn)" # libunbound: one socket per outstanding query
TCP_PORT=10026 UDP_PORT=10053

# bw_far: mxb-cycle-far's redirections and the delay proxy, at first with no
# delay (bw_up calls it once the links exist: its readiness checks cross
# the middlebox).
bw_far() {
	cc -std=c11 -O2 -Wall -Wextra -o "$proxy" "$here/delay_proxy.c" || return 1
	bw_in "$BW_FAR" iptables -t nat -A PREROUTING -i b-f0 -p tcp -j REDIRECT --to-ports "$TCP_PORT"
	bw_in "$BW_FAR" iptables -t nat -A PREROUTING -i b-f0 -p udp -d "$BW_DNS" --dport 53 \
		-j REDIRECT --to-ports "$UDP_PORT"
	bw_in "$BW_FAR" iptables -t nat -S PREROUTING
	proxy_start 0
}

# proxy_start ONE_WAY_MS: (re)start the delay proxy.
proxy_start() {
	if [[ -f $BW_DIR/proxy.pid ]]; then
		kill "$(cat "$BW_DIR/proxy.pid")" 2>/dev/null || true
		sleep 0.2
	fi
	bw_daemon "$BW_FAR" "$BW_LOG/delay-proxy.log" "$proxy" -d "$1" -p "$TCP_PORT" -u "$UDP_PORT" \
		-U "$BW_DNS:53" -n 20000 >"$BW_DIR/proxy.pid"
	for _ in $(seq 1 50); do
		bw_in "$BW_FAR" ss -ltnH "sport = :$TCP_PORT" | grep -q . && return 0
		sleep 0.1
	done
	echo "delay proxy does not listen" >&2
	return 1
}

cleanup() {
	[[ ${MXB_KEEP:-} == 1 ]] && { bw_say "world kept: $BW_DIR, namespaces mxb-cycle-*"; return; }
	bw_down
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s.%N)
bw_up
bw_say "world up in $(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)") s: $BW_N domains, $BW_H MX hosts, $BW_K addresses, server $BW_SERVER"

if [[ ${MXB_CYCLE_CAPS:-defaults} == generous ]]; then
	caps="per_address_sessions = 64
per_address_interval_ms = 0
share_window_s = 0"
else
	caps="" # the option table's defaults
fi
bw_agent_conf "$caps"
"$agent" -n -c "$BW_CONF" >/dev/null || bw_fail "the agent rejects $BW_CONF"
capv=$("$agent" --example-config | awk -F' *= *' '
	/^(per_address_sessions|per_address_interval_ms|share_window_s) / { print $1 "=" $2 }' | paste -sd' ')
[[ -z $caps ]] || capv=$(printf '%s\n' "$caps" | tr -d ' ' | paste -sd' ')

mapfile -t domains < <(seq -f "d%g.$BW_ZONE" 1 "$BW_N")
tmp=$BW_DIR/run
mkdir -p "$tmp"

# cycle LABEL: one one-shot cycle over every domain; sets C_WALL, C_CPU, C_RSS.
cycle() {
	local u s
	/usr/bin/time -f '%e %U %S %M' -o "$tmp/$1.time" \
		ip netns exec "$BW_AGENT" "$agent" -c "$BW_CONF" probe --json "${domains[@]}" \
		>"$tmp/$1.json" 2>"$tmp/$1.err" || bw_fail "agent run $1 failed: $(tail -n 3 "$tmp/$1.err")"
	read -r C_WALL u s C_RSS <"$tmp/$1.time"
	C_CPU=$(echo "$u + $s" | bc)
}

# report LABEL: outcome counts and per-step percentiles of a cycle's JSON.
report() {
	jq -r '
	def pct(p): sort as $s | if ($s | length) == 0 then "-" else
		"\($s[(($s | length - 1) * p | floor)])" end;
	def row(name; xs): "  \(name | . + (" " * (24 - length))) \(xs | pct(.5) | . + (" " * (7 - length))) \(xs | pct(.9) | . + (" " * (7 - length))) \(xs | pct(1))";
	(if type == "array" then . else [.] end) as $d |
	[$d[] | .hosts[]?] as $h | [$h[] | .addresses[]?] as $a |
	"  domains \($d | length): MX ok \([$d[] | select(.mx.status == "ok")] | length), MX secure \([$d[] | select(.mx.dns.dnssec == "secure")] | length); addresses \($a | length): connected \([$a[] | select(.connect.status == "ok")] | length), TLS ok \([$a[] | select(.tls.status == "ok")] | length), PKIX+name ok \([$a[] | select(.pkix.status == "ok" and .name.status == "ok")] | length), temporary \([$a[] | select(.connect.status == "temporary" or .smtp.status == "temporary" or .tls.status == "temporary")] | length), shared \([$a[] | select(.shared)] | length)",
	"  step (ms)                  p50     p90     max",
	row("MX lookup"; [$d[] | .mx.dns.ms]),
	row("A lookup"; [$h[] | .a.ms]),
	row("AAAA lookup"; [$h[] | .aaaa.ms]),
	row("TLSA lookup"; [$h[] | select(.dane.tlsa_asked) | .dane.tlsa.ms]),
	row("_mta-sts TXT"; [$d[] | .mta_sts.txt.dns.ms]),
	row("_smtp._tls TXT"; [$d[] | .tls_rpt.dns.ms]),
	row("connect"; [$a[] | .connect.ms]),
	row("TLS handshake"; [$a[] | select(.tls.ms != null) | .tls.ms]),
	row("SMTP session (whole)"; [$a[] | .elapsed_ms]),
	row("domain (whole probe)"; [$d[] | .elapsed_ms])
	' "$tmp/$1.json"
}

echo
echo "== one cycle of $BW_N domains, one region, agent caps: $capv =="
for d in 0 $((rtt / 2)); do
	proxy_start "$d"
	cycle "rtt$((2 * d))"
	kill -USR1 "$(cat "$BW_DIR/proxy.pid")" 2>/dev/null || true
	sleep 0.2
	printf '\nadded round trip %d ms: cycle wall %.2f s (target <= 15 s with 100 ms), agent CPU %.2f s, peak RSS %d KB, load %s\n' \
		$((2 * d)) "$C_WALL" "$C_CPU" "$C_RSS" "$(cut -d' ' -f1-3 /proc/loadavg)"
	report "rtt$((2 * d))"
	tail -n 1 "$BW_LOG/delay-proxy.log" | sed 's/^/  /'
done
