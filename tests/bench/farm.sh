#!/usr/bin/env bash
# farm.sh — benchmark (prints figures, asserts nothing): the agent's probe
# rate, CPU per probe and memory per in-flight probe against a farm of local
# STARTTLS servers, beside posttls-finger over the same domains.
#
#   tests/bench/farm.sh BUILD_DIR        (root; a Release build, e.g.
#       cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DMXS_TESTS=ON &&
#       cmake --build build-bench --target mxsentry-agent)
#
# Builds its own world (lib/bench_world.sh: namespaces mxb-farm-*, addresses
# in 198.51.100.128/25, state /run/mxs-bench/farm), removed again at exit;
# idempotent (a leftover of a killed run is removed first).  The test world
# (tests/world, mxs-*) is never touched.  One-shot probes of all N domains at
# once (`mxsentry-agent probe --json`, the daemon's engine) under
# /usr/bin/time, with share_window_s = 0 (every domain its own session) and
# per-address caps far above the farm's N/K sessions per address.
#
# Environment: MXB_DOMAINS (N, 1000), MXB_ADDRESSES (K, 100), MXB_MX_HOSTS
# (distinct MX names, default N), MXB_SERVER (fixture | postfix), MXB_RUNS
# (measured runs, 3), MXB_PTF_DOMAINS (domains for posttls-finger, run one
# after the other: default 200; 0 skips it), MXB_CAPS_CHECK (1: also check that per_address_sessions
# and per_address_interval_ms are honoured), MXB_KEEP=1 (leave the world up
# at exit, for inspection), MXB_PROCS (P: split the domains between P
# one-shot processes run at once, as the daemon's P probers do; wall time of
# the whole, CPU and RSS summed).
set -Eeuo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $# -eq 1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BW_BUILD=$(cd "$1" && pwd)
# shellcheck disable=SC2034  # read by lib/bench_world.sh
BW_TAG=farm
# shellcheck source=tests/bench/lib/bench_world.sh
. "$here/lib/bench_world.sh"
agent=$BW_BUILD/agent/mxsentry-agent
runs=${MXB_RUNS:-3}
procs=${MXB_PROCS:-1} # probe processes at once, like the daemon's probers
ulimit -n "$(ulimit -Hn)" # libunbound: one socket per outstanding query
[[ -x $agent ]] || bw_fail "$agent not built"
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BW_BUILD/CMakeCache.txt" 2>/dev/null ||
	bw_say "WARNING: $BW_BUILD is not a Release build: figures are not comparable"

cleanup() {
	[[ ${MXB_KEEP:-} == 1 ]] && { bw_say "world kept: $BW_DIR, namespaces mxb-farm-*"; return; }
	bw_down
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s.%N)
bw_up
bw_say "world up in $(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)") s: $BW_N domains, $BW_H MX hosts, $BW_K addresses, server $BW_SERVER"

generous="max_in_flight = 20000
per_address_sessions = 64
per_address_interval_ms = 0
share_window_s = 0"
bw_agent_conf "$generous"
"$agent" -n -c "$BW_CONF" >/dev/null || bw_fail "the agent rejects $BW_CONF"

mapfile -t domains < <(seq -f "d%g.$BW_ZONE" 1 "$BW_N")
tmp=$BW_DIR/run
mkdir -p "$tmp"

# sample_tcp FILE: peak TCP sockets in use in the agent's namespace (the
# agent's SMTP sessions) until FILE.stop exists; written to FILE.  Bash
# builtins only, 10 ms period, to stay out of the figures.
sample_tcp() {
	bw_in "$BW_AGENT" bash -c '
		exec {w}<> <(:)
		max=0
		while [[ ! -e $1.stop ]]; do
			mapfile -t l </proc/net/sockstat
			read -r _ _ n _ <<<"${l[1]}"
			((n > max)) && max=$n
			read -t 0.01 -u $w || true
		done
		echo $max >"$1"' _ "$1" &
	SAMPLER=$!
}

# probe_run LABEL DOMAIN...: one measured one-shot run; sets R_WALL R_CPU
# R_RSS R_PEAK R_SYN and leaves the JSON in $tmp/LABEL.json.
probe_run() {
	local label=$1 s0 s1 u s
	shift
	rm -f "$tmp/$label.peak" "$tmp/$label.peak.stop"
	sample_tcp "$tmp/$label.peak"
	s0=$(bw_syns)
	if ((procs <= 1 || $# < procs)); then
		/usr/bin/time -f '%e %U %S %M' -o "$tmp/$label.time" \
			ip netns exec "$BW_AGENT" "$agent" -c "$BW_CONF" probe --json "$@" >"$tmp/$label.json" 2>"$tmp/$label.err" ||
			bw_fail "agent run $label failed: $(tail -n 3 "$tmp/$label.err")"
		read -r R_WALL u s R_RSS <"$tmp/$label.time"
		R_CPU=$(echo "$u + $s" | bc)
	else
		# The daemon's probers: MXB_PROCS processes, each its share of the
		# domains, at once; wall of the whole, CPU summed, RSS summed.
		local -a all=("$@") part pids
		local i k t0 w rss=0 cpu=0
		t0=${EPOCHREALTIME/./}
		for ((i = 0; i < procs; i++)); do
			part=()
			for ((k = i; k < ${#all[@]}; k += procs)); do part+=("${all[k]}"); done
			/usr/bin/time -f '%e %U %S %M' -o "$tmp/$label.$i.time" \
				ip netns exec "$BW_AGENT" "$agent" -c "$BW_CONF" probe --json "${part[@]}" \
				>"$tmp/$label.$i.json" 2>"$tmp/$label.$i.err" &
			pids+=($!)
		done
		for i in "${pids[@]}"; do wait "$i" || bw_fail "agent run $label failed"; done
		w=$(((${EPOCHREALTIME/./} - t0) / 1000))
		for ((i = 0; i < procs; i++)); do
			read -r _ u s R_RSS <"$tmp/$label.$i.time"
			cpu=$(echo "$cpu + $u + $s" | bc)
			rss=$((rss + R_RSS))
		done
		jq -s 'map(if type == "array" then .[] else . end)' "$tmp/$label".[0-9]*.json >"$tmp/$label.json"
		R_WALL=$(echo "scale=3; $w / 1000" | bc) R_CPU=$cpu R_RSS=$rss
	fi
	s1=$(bw_syns)
	touch "$tmp/$label.peak.stop"
	wait "$SAMPLER" || true
	R_PEAK=$(cat "$tmp/$label.peak")
	R_SYN=$((s1 - s0))
}

# addresses in a result file whose session got as far as TLS (or not)
count() { jq "[.. | objects | select(has(\"connect\") and has(\"tls\")) | $2] | length" "$1"; }

bw_say "warm-up run (page cache; Postfix's smtpd processes; not measured)"
probe_run warm "${domains[@]}"
probes=$(count "$tmp/warm.json" 'select(.connect.status == "ok")')
tls_ok=$(count "$tmp/warm.json" 'select(.tls.status == "ok")')
pkix_ok=$(count "$tmp/warm.json" 'select(.pkix.status == "ok" and .name.status == "ok")')
secure=$(jq '[if type == "array" then .[] else . end | select(.mx.dns.dnssec == "secure")] | length' "$tmp/warm.json")
bw_say "warm-up: $probes MX addresses connected, $tls_ok TLS ok, $pkix_ok PKIX+name ok, MX RRsets secure: $secure, wall $R_WALL s, SMTP connections $R_SYN"
((probes > 0)) || bw_fail "no MX address connected (see $tmp/warm.json)"

# The fixed cost: one domain (start-up, CA store, resolver, one probe).
b_cpu=0 b_rss=0 b_wall=0
for ((r = 1; r <= runs; r++)); do
	probe_run base "${domains[0]}"
	b_cpu=$(echo "$b_cpu + $R_CPU" | bc)
	b_wall=$(echo "$b_wall + $R_WALL" | bc)
	((R_RSS > b_rss)) && b_rss=$R_RSS
done
b_cpu=$(echo "$b_cpu / $runs" | bc -l)
b_wall=$(echo "$b_wall / $runs" | bc -l)

a_cpu=0 a_wall=0 a_rss=0 a_peak=0 a_syn=0
printf '\n%-5s %8s %8s %9s %10s %9s %10s %8s\n' run wall_s cpu_s probes probes/s cpu_ms/pr peakRSS_KB tcp_peak
for ((r = 1; r <= runs; r++)); do
	probe_run "all$r" "${domains[@]}"
	p=$(count "$tmp/all$r.json" 'select(.connect.status == "ok")')
	printf '%-5s %8.3f %8.3f %9d %10.1f %9.3f %10d %8d\n' "$r" "$R_WALL" "$R_CPU" "$p" \
		"$(echo "$p / $R_WALL" | bc -l)" "$(echo "$R_CPU * 1000 / $p" | bc -l)" "$R_RSS" "$R_PEAK"
	a_cpu=$(echo "$a_cpu + $R_CPU" | bc)
	a_wall=$(echo "$a_wall + $R_WALL" | bc)
	a_syn=$((a_syn + R_SYN))
	((R_RSS > a_rss)) && a_rss=$R_RSS
	((R_PEAK > a_peak)) && a_peak=$R_PEAK
	probes=$p
done
a_cpu=$(echo "$a_cpu / $runs" | bc -l)
a_wall=$(echo "$a_wall / $runs" | bc -l)

# Where the time goes (last run): per-address session and per-domain totals.
jq -r '[.. | objects | select(has("connect") and has("tls"))] as $a |
	def pct(f; p): ($a | map(f) | sort) as $s | $s[(($s | length) * p | floor)];
	"last run, per address, ms (p50/p90/max): connect \(pct(.connect.ms; .5))/\(pct(.connect.ms; .9))/\(pct(.connect.ms; .9999)) " +
	"tls \(pct(.tls.ms; .5))/\(pct(.tls.ms; .9))/\(pct(.tls.ms; .9999)) " +
	"whole session \(pct(.elapsed_ms; .5))/\(pct(.elapsed_ms; .9))/\(pct(.elapsed_ms; .9999))"' \
	"$tmp/all$runs.json" 2>/dev/null || true

echo
echo "== agent, $BW_N domains at once, $probes MX addresses ($BW_K server addresses, $BW_SERVER), $runs runs, $(nproc) CPUs =="
printf 'probes/s (MX addresses per second of wall time): %.0f   (target >= 850 on 2 cores)\n' \
	"$(echo "$probes / $a_wall" | bc -l)"
printf 'probes/s without the 1-domain start-up wall (%.3f s): %.0f\n' "$b_wall" \
	"$(echo "$probes / ($a_wall - $b_wall)" | bc -l)"
printf 'CPU per probe: %.3f ms including start-up, %.3f ms excluding the 1-domain run (%.1f ms)   (target <= 1.5 ms)\n' \
	"$(echo "$a_cpu * 1000 / $probes" | bc -l)" "$(echo "($a_cpu - $b_cpu) * 1000 / ($probes - 1)" | bc -l)" \
	"$(echo "$b_cpu * 1000" | bc -l)"
printf 'peak RSS: %d KB all domains, %d KB one domain (baseline)\n' "$a_rss" "$b_rss"
printf 'RSS per in-flight probe: %.1f KB = (peak - baseline) / %d probes in flight   (target <= 64 KB)\n' \
	"$(echo "($a_rss - $b_rss) / $BW_N" | bc -l)" "$BW_N"
printf 'peak concurrent TCP sessions seen: %d; (peak - baseline) / that: %.1f KB\n' "$a_peak" \
	"$(echo "($a_rss - $b_rss) / $((a_peak > 0 ? a_peak : 1))" | bc -l)"
printf 'SMTP connections per run: %d for %d domains (share_window_s = 0: expect one per domain)\n' \
	"$((a_syn / runs))" "$BW_N"

if [[ ${MXB_CAPS_CHECK:-1} == 1 ]]; then
	# Honoured caps make 3 domains per address take >= 2 intervals.
	n3=$((3 * BW_K < BW_N ? 3 * BW_K : BW_N))
	bw_agent_conf "max_in_flight = 20000
per_address_sessions = 1
per_address_interval_ms = 1000
share_window_s = 0"
	probe_run caps "${domains[@]:0:n3}"
	verdict="NOT honoured"
	(($(echo "$R_WALL >= 1.9" | bc))) && verdict=honoured
	printf 'caps check: %d domains (3 per address), per_address_sessions=1, per_address_interval_ms=1000: wall %.2f s (>= 2 s if honoured): %s\n' \
		"$n3" "$R_WALL" "$verdict"
	bw_agent_conf "max_in_flight = 20000
per_address_sessions = 64
per_address_interval_ms = 0
share_window_s = 60"
	probe_run share "${domains[@]:0:n3}"
	printf 'share check: same domains, share_window_s=60: %d SMTP connections for %d domains on %d distinct (host, address) pairs\n' \
		"$R_SYN" "$n3" "$((BW_H < n3 ? BW_H : n3))"
	bw_agent_conf "$generous"
fi

nptf=${MXB_PTF_DOMAINS:-200}
((nptf <= BW_N)) || nptf=$BW_N
if ((nptf > 0)); then
	ptf=/usr/sbin/posttls-finger
	[[ -x $ptf ]] || bw_fail "$ptf not found (Debian package postfix)"
	mkdir -p "$tmp/ptf"
	printf 'compatibility_level = 3.6\nsmtp_tls_loglevel = 0\n' >"$tmp/ptf/main.cf"
	# One process per domain, as a posttls-finger-style checker runs:
	# level secure against the farm's CA (hashed directory), plain DNS
	# through resolv.conf (NSD), chat logging off.
	loop='for d; do posttls-finger -c -l secure -P "$CAPATH" -t 10 -T 10 "$d" >/dev/null 2>&1; done'
	/usr/bin/time -f '%e %U %S %M' -o "$tmp/ptf.time" env MAIL_CONFIG="$tmp/ptf" CAPATH="$BW_PKI/capath" \
		ip netns exec "$BW_AGENT" bash -c "$loop" _ "${domains[@]:0:nptf}" || true
	read -r pw pu ps pm <"$tmp/ptf.time"
	# The same loop around /bin/true: the cost of a process per domain alone.
	/usr/bin/time -f '%e %U %S %M' -o "$tmp/true.time" \
		ip netns exec "$BW_AGENT" bash -c 'for d; do /bin/true "$d"; done' _ "${domains[@]:0:nptf}" || true
	read -r _ tu ts _ <"$tmp/true.time"
	# One verification by hand, to show the runs were real.
	sample=$(MAIL_CONFIG=$tmp/ptf ip netns exec "$BW_AGENT" $ptf -c -l secure -P "$BW_PKI/capath" \
		-t 10 -T 10 "${domains[0]}" 2>&1 | grep -Eo '(Verified|Trusted|Untrusted|Anonymous) TLS connection established' | head -n 1 || true)
	echo
	echo "== posttls-finger, $nptf domains, one process each, sequential =="
	printf 'CPU per domain: %.2f ms (of which %.2f ms is a bare fork+exec loop); wall per domain %.1f ms; peak RSS %d KB\n' \
		"$(echo "($pu + $ps) * 1000 / $nptf" | bc -l)" "$(echo "($tu + $ts) * 1000 / $nptf" | bc -l)" \
		"$(echo "$pw * 1000 / $nptf" | bc -l)" "$pm"
	printf 'sample verdict for %s: %s\n' "${domains[0]}" "${sample:-none (see $tmp/ptf)}"
	printf 'agent vs posttls-finger CPU per domain: %.3f ms vs %.2f ms\n' \
		"$(echo "$a_cpu * 1000 / $BW_N" | bc -l)" "$(echo "($pu + $ps) * 1000 / $nptf" | bc -l)"
fi
