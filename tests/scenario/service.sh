#!/bin/bash
# Scenario suite for issue 4 (the system end to end): the collector in
# mxs-srv, one agent daemon per region (tests/world/svc), on-call through
# the mxsentry CLI.  In order:
#   1. the stripped MX: eu's row shows STARTTLS missing, us and ap see it
#   2. regions: three agents up, egress ok, spools empty; every process runs
#      as the service user (relay and two probers per agent)
#   3. the collector killed with -9 mid-stream: agents spool, then deliver;
#      every result an agent spooled is stored exactly once
#   4. an agent restarted with a full spool: drops counted, the rest delivered
#   5. a wrong certificate (another CA), a revoked one, and a Hello that
#      names another agent: refused and counted, the service carries on
#   6. garbage and an oversized frame on the agent port: counted, service
#      continues
# Store figures are read with sqlite3 from the collector's database (WAL:
# reading beside the running collector is safe).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

svc=$src/tests/world/svc
db=$SVC_DIR/collector/collector.db
cli() { "$MXSENTRY_CLI" "$@"; }
tmp=$(mktemp -d /tmp/mxs-service.XXXXXX)
cleanup() {
	"$svc" stop >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
sq() { sqlite3 -readonly "$db" "$@"; }
log() { echo "# $*"; }

# Start from nothing: no services, no store, no spools.
"$svc" stop >/dev/null 2>&1
rm -rf "$SVC_DIR"/collector/* "$SVC_DIR"/spool-*
rm -f "$LOG_DIR"/collector.log "$LOG_DIR"/agent-*.log

DOMAINS="strip.mxs.test valid.mxs.test expired.mxs.test mismatch.mxs.test nostarttls.mxs.test
	sts-enforce.mxs.test dane-ee.mxs.test nullmx.mxs.test nxdomain.mxs.test refused.mxs.test
	greet421.mxs.test insecure.mxs.test backup.mxs.test dual.mxs.test"
ND=$(echo $DOMAINS | wc -w)

SVC_VERBOSE=1 "$svc" collector start || { echo "FAIL: collector did not start"; exit 1; }
for d in $DOMAINS; do
	cli domains add "$d" --interval 10 >/dev/null || { echo "FAIL: domains add $d"; exit 1; }
done
check "domains list has $ND domains" \
	[ "$(cli --json domains list | jq '.domains | length')" = "$ND" ]
for r in $REGIONS; do SVC_VERBOSE=1 "$svc" agent "$r" start; done

# wait_until SECONDS CMD...: poll CMD every 0.5 s until it succeeds.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.5
	done
}
# regions_json: the API's view of the agents.
regions_json() { cli --json regions >"$tmp/regions.json" 2>/dev/null; }
all_cycled() { # every region: a cycle done and an empty spool
	regions_json || return 1
	[ "$(jq --argjson n "$1" '[.agents[] | select(.cycles >= $n and .spool_depth == 0
		and .state == "up")] | length' "$tmp/regions.json")" = 3 ]
}

# ---------------------------------------------------------------- 1, 2
check "every region completed a cycle within 30 s" wait_until 30 all_cycled 1
cli --json status "$STRIP_DOMAIN" >"$tmp/strip.json"
row() { jq -c --arg r "$1" --arg a "$STRIP_ADDR" \
	".rows[] | select(.region == \$r and .address == \$a) | $2" "$tmp/strip.json"; }
for r in $REGIONS; do
	if [ "$r" = "$STRIP_REGION" ]; then
		check "$r: starttls false" [ "$(row "$r" .starttls)" = false ]
		check "$r: tls starttls-not-supported" \
			[ "$(row "$r" '.checks.tls | [.status, .result_type]')" = '["fail","starttls-not-supported"]' ]
	else
		check "$r: starttls true" [ "$(row "$r" .starttls)" = true ]
		check "$r: tls ok, pkix ok, name ok" \
			[ "$(row "$r" '[.checks.tls.status, .checks.pkix.status, .checks.name.status]')" = '["ok","ok","ok"]' ]
	fi
done
cli status "$STRIP_DOMAIN" >"$tmp/strip.txt"
cat "$tmp/strip.txt"
check "status names the stripping region" \
	grep -q "^! $STRIP_REGION: STARTTLS missing on mx.$STRIP_DOMAIN $STRIP_ADDR while" "$tmp/strip.txt"
cli regions
for r in $REGIONS; do
	check "$r: agent $r-1 up, egress ok" [ "$(jq -c --arg r "$r" \
		'.agents[] | select(.region == $r) | [.name, .state, .egress]' "$tmp/regions.json")" = \
		"[\"$r-1\",\"up\",\"ok\"]" ]
done
# Privileges: every daemon process runs as the service user after start-up,
# and the prober (the agent's child) never had the key file open.
users_of() { ps -o user= --pid "$1" --ppid "$1" | sort -u | tr '\n' ' '; }
check "the collector runs as $SVC_USER" [ "$(users_of "$(cat "$SVC_DIR/collector.pid")")" = "$SVC_USER " ]
for r in $REGIONS; do
	rp=$(cat "$SVC_DIR/agent-$r.pid")
	check "$r: relay and prober run as $SVC_USER" [ "$(users_of "$rp")" = "$SVC_USER " ]
	check "$r: three agent processes (relay, two probers)" \
		[ "$(ps -o pid= --pid "$rp" --ppid "$rp" | wc -l)" = 3 ]
done
check "history of valid.mxs.test has first observations from 3 regions" [ "$(cli --json history \
	valid.mxs.test | jq '[.changes[] | select(.what == ["first"]) | .region] | unique | length')" = 3 ]
check "/metrics counts stored results" bash -c "ip netns exec $SRV_NS curl -fsS \
	http://127.0.0.1:$API_PORT/metrics 2>/dev/null | grep -Eq '^mxsentry_results_total.outcome=.stored.. [1-9]'"

# ---------------------------------------------------------------- 3
# Kill the collector while agents deliver (their cycles run every 10 s),
# let them spool one more cycle, restart it, let them drain.
# Kill at the start of a cycle, while results are on their way.
cycles_us() { grep -c 'msg="cycle start"' "$LOG_DIR/agent-us.log"; }
c0=$(cycles_us)
next_cycle() { [ "$(cycles_us)" -gt "$c0" ]; }
wait_until 15 next_cycle
sleep 0.2
"$svc" collector kill
log "collector killed with SIGKILL"
spooled() { ls "$SVC_DIR/spool-$1" 2>/dev/null | grep -c '\.sp$'; }
sp_all() { for r in $REGIONS; do [ "$(spooled "$r")" -gt 0 ] || return 1; done; }
check "every agent spools while the collector is away" wait_until 25 sp_all
"$svc" collector start || { echo "FAIL: collector did not restart"; exit 1; }
check "spools drained after the restart" wait_until 30 all_cycled 3
# Stop the agents: each logs its totals (read, spooled, acknowledged, left).
for r in $REGIONS; do "$svc" agent "$r" stop; done
total() { # REGION FIELD: the field of the agent's last totals line
	grep 'msg="totals"' "$LOG_DIR/agent-$1.log" | tail -n 1 | grep -o " $2=[0-9]*" | cut -d= -f2
}
# A new round may have begun just before the stop: its results stay in the
# spool ("left") and are delivered when the agent next runs (us, below).
declare -A ids3 left3
for r in $REGIONS; do
	spooled_n=$(total "$r" spooled) stored_n=$(total "$r" acked_stored) left_n=$(total "$r" left)
	ids=$(sq "SELECT COUNT(DISTINCT result_id) FROM results WHERE region = '$r'")
	ids3[$r]=$ids left3[$r]=$left_n
	log "$r: spooled=$spooled_n acked_stored=$stored_n left=$left_n store_ids=$ids"
	check "$r: nothing dropped" [ "$(total "$r" dropped)" = 0 ]
	check "$r: every result read was spooled" [ "$(total "$r" results_read)" = "$spooled_n" ]
	check "$r: every spooled result acknowledged as stored or still spooled" \
		[ "$spooled_n" = $((stored_n + left_n)) ]
	check "$r: the store holds each acknowledged result once ($ids ids)" [ "$ids" = "$stored_n" ]
done
check "no result id stored at two times" [ "$(sq "SELECT COUNT(*) FROM (SELECT result_id
	FROM results GROUP BY result_id HAVING COUNT(DISTINCT t_ms) > 1)")" = 0 ]
check "no (result, address) row stored twice" [ "$(sq "SELECT COUNT(*) FROM (SELECT result_id,
	address FROM results GROUP BY 1, 2 HAVING COUNT(*) > 1)")" = 0 ]

# ---------------------------------------------------------------- 4
# eu with a tiny spool while the collector is down: it fills, drops are
# counted; restarted with its normal configuration it delivers the rest.
"$svc" collector stop
small=$tmp/agent-eu-small.conf
cat "$MXS_WORLD_DIR/agent-eu.conf" - >"$small" <<EOF
[agent]
spool_max_bytes = 16384
EOF
before=$(sq "SELECT COUNT(DISTINCT result_id) FROM results WHERE region = 'eu'")
SVC_VERBOSE=1 "$svc" agent eu start "$small"
dropped_some() { grep -q 'msg="results dropped: spool refused them"' "$LOG_DIR/agent-eu.log"; }
check "a full spool refuses new results" wait_until 40 dropped_some
"$svc" agent eu stop
left=$(total eu left) dropped=$(total eu dropped)
log "eu with a full spool: left=$left dropped=$dropped"
check "the full spool kept results" [ "${left:-0}" -gt 0 ]
check "its drops were counted" [ "${dropped:-0}" -gt 0 ]
check "read = spooled + dropped" [ "$(total eu results_read)" = $(($(total eu spooled) + dropped)) ]
"$svc" collector start
SVC_VERBOSE=1 "$svc" agent eu start
eu_drained() { regions_json && [ "$(jq '.agents[] | select(.region == "eu") |
	.spool_depth == 0 and .state == "up"' "$tmp/regions.json")" = true ] &&
	[ -z "$(ls "$SVC_DIR/spool-eu" | grep '\.sp$')" ]; }
check "eu delivers its spool after the restart" wait_until 30 eu_drained
"$svc" agent eu stop
after=$(sq "SELECT COUNT(DISTINCT result_id) FROM results WHERE region = 'eu'")
log "eu: store ids $before -> $after, acked_stored=$(total eu acked_stored) (spool had $left)"
check "the spooled results arrived" [ "$(total eu acked_stored)" -ge "$left" ]
check "the store grew by exactly what was acknowledged" \
	[ $((after - before)) = "$(total eu acked_stored)" ]

# ---------------------------------------------------------------- 5
metric() { ip netns exec "$SRV_NS" curl -fsS "http://127.0.0.1:$API_PORT/metrics" |
	awk -v m="$1" '$1 == m { print $2 }'; }
refusals() { ip netns exec "$SRV_NS" curl -fsS "http://127.0.0.1:$API_PORT/metrics" |
	awk 'index($1, "mxsentry_agent_connection_errors_total{") == 1 { n += $2 } END { print n + 0 }'; }
badconf() { # NAME CERTDIR AGENTNAME [HELLO NAME]
	sed -e "s|^cert_file = .*|cert_file = $2/agents/$3.crt|" \
		-e "s|^key_file = .*|key_file = $2/agents/$3.key|" \
		-e "s|^spool_dir = .*|spool_dir = $tmp/spool-$1|" \
		-e "s|^name = .*|name = ${4:-$3}|" "$MXS_WORLD_DIR/agent-eu.conf" >"$tmp/$1.conf"
}
refused_before=$(refusals)
hello_before=$(metric 'mxsentry_hellos_total{result="refused"}')
badconf rogue "$SVC_DIR/rogue" eu-1
badconf revoked "$SVC_DIR/pki" gone-1
badconf liar "$SVC_DIR/pki" eu-1 us-1
for b in rogue revoked liar; do
	ip netns exec mxs-eu "$agent" -c "$tmp/$b.conf" run >"$tmp/$b.log" 2>&1 &
	echo $! >"$tmp/$b.pid"
done
sleep 4
for b in rogue revoked liar; do kill "$(cat "$tmp/$b.pid")" 2>/dev/null; done
wait 2>/dev/null
check "no agent registered with a wrong, revoked or mismatched identity" \
	[ -z "$(grep 'registered with the collector' "$tmp"/rogue.log "$tmp"/revoked.log "$tmp"/liar.log)" ]
check "the collector refused the TLS handshakes ($refused_before -> $(refusals))" \
	[ "$(refusals)" -ge $((refused_before + 2)) ]
check "a Hello naming another agent is refused and counted" \
	[ "$(metric 'mxsentry_hellos_total{result="refused"}')" -gt "$hello_before" ]
check "the collector logs the refused Hello" \
	grep -q 'msg="agent refused".*hello names us-1/eu but the certificate is eu-1/eu' "$LOG_DIR/collector.log"
check "the agent logs why it was refused" grep -q 'collector refused this agent' "$tmp/liar.log"
check "regions lists only the three real agents" \
	[ "$(cli --json regions | jq -c '[.agents[].name] | sort')" = '["ap-1","eu-1","us-1"]' ]

# ---------------------------------------------------------------- 6
# Garbage (not TLS) and, over TLS with a valid agent certificate, an SP
# frame claiming 4 GiB: both connections are dropped and counted.
before=$(refusals)
ip netns exec "$AGENT_NS" bash -c "exec 3<>/dev/tcp/$COLLECTOR_V4/$COLLECTOR_PORT &&
	head -c 100000 /dev/urandom >&3; sleep 0.5" 2>/dev/null
{ printf '\0SP\0\0\x30\0\0'; printf '\0\0\0\1\0\0\0\0'; head -c 4096 /dev/zero; sleep 1; } |
	ip netns exec "$AGENT_NS" timeout 5 openssl s_client -quiet -connect "$COLLECTOR_V4:$COLLECTOR_PORT" \
		-cert "$SVC_DIR/pki/agents/us-1.crt" -key "$SVC_DIR/pki/agents/us-1.key" \
		-CAfile "$SVC_DIR/pki/ca.crt" >/dev/null 2>&1
sleep 1.2 # the listener copies nng's counters once a second
log "connection errors: $before -> $(refusals)"
check "garbage and the oversized frame are counted" [ "$(refusals)" -ge $((before + 2)) ]
SVC_VERBOSE=1 "$svc" agent us start
us_fresh() { regions_json && [ "$(jq '.agents[] | select(.region == "us") | .state == "up" and
	.heartbeat_age_s <= 3' "$tmp/regions.json")" = true ]; }
check "the collector still serves agents afterwards" wait_until 15 us_fresh
check "and on-call" cli status valid.mxs.test >/dev/null
# us's second run delivered what its first left in the spool, once.
"$svc" agent us stop
ids=$(sq "SELECT COUNT(DISTINCT result_id) FROM results WHERE region = 'us'")
log "us: store ids ${ids3[us]} -> $ids, second run acked_stored=$(total us acked_stored), first left ${left3[us]}"
check "us: the results left in the spool arrived" [ "$(total us acked_stored)" -ge "${left3[us]}" ]
check "us: the store grew by exactly what was acknowledged" \
	[ $((ids - ids3[us])) = "$(total us acked_stored)" ]

summary
