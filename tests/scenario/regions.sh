#!/bin/bash
# Scenario suite for issue 4 (regions): probe the stripped domain and
# valid.mxs.test from each region's namespace (mxs-us, mxs-eu, mxs-ap), each
# with its own agent configuration.  Only eu's path to STRIP_ADDR goes
# through the middlebox (mxs-strip-proxy in mxs-mbox), which removes
# STARTTLS from the EHLO reply: eu must see that MX without STARTTLS (and
# report starttls-not-supported) while us and ap, and eu for every other
# address, see STARTTLS and complete TLS.  Prints an address x region table.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

if [ -z "${REGIONS:-}" ] || [ -z "${STRIP_ADDR:-}" ]; then
	echo "FAIL: the world has no regions (world.env lacks REGIONS/STRIP_ADDR)"
	exit 1
fi
other=valid.mxs.test
tmp=$(mktemp -d /tmp/mxs-regions.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

plog=$LOG_DIR/strip-proxy.log
# stripped_all LINES: some proxy log lines, each of a connection it stripped.
stripped_all() { [ -n "$1" ] && ! grep -qv "result=ok stripped=1 " <<<"$1"; }
plines() { grep -c "orig=$STRIP_ADDR:25 " "$plog" 2>/dev/null; }
for r in $REGIONS; do
	before=$(plines)
	start=$(date +%s%N)
	if ! ip netns exec "mxs-$r" "$agent" -c "$MXS_WORLD_DIR/agent-$r.conf" \
		probe --json "$STRIP_DOMAIN" "$other" >"$tmp/$r.json"; then
		echo "FAIL: the agent exited non-zero in mxs-$r"
		exit 1
	fi
	echo "$r: probed $STRIP_DOMAIN $other in $((($(date +%s%N) - start) / 1000000)) ms"
	# The middlebox saw (and logged, stripping) eu's connections only.
	sleep 0.2
	new=$(tail -n "+$((before + 1))" <(grep "orig=$STRIP_ADDR:25 " "$plog" 2>/dev/null))
	if [ "$r" = "$STRIP_REGION" ]; then
		check "$r: the middlebox relayed and stripped (log: $new)" stripped_all "$new"
	else
		check "$r: the middlebox saw no connection (log: $new)" [ -z "$new" ]
	fi
done

# q REGION DOMAIN JQ: a compact value from that region's result for DOMAIN.
q() {
	jq -c --arg d "$2" "$JQ_DEFS .[] | select(.domain == \$d) | $3" "$tmp/$1.json" 2>&1
}
# expect REGION DOMAIN JQ WANT
expect() {
	local got
	got=$(q "$1" "$2" "$3")
	check "$1 $2 $3: want $4, got $got" [ "$got" = "$4" ]
}

# The addresses of the other domain, as the unstripped region us saw them.
mapfile -t other_addrs < <(jq -r --arg d "$other" '.[] | select(.domain == $d) | .hosts[].addresses[].address' "$tmp/us.json")
check "$other has addresses" [ "${#other_addrs[@]}" -gt 0 ]

for r in $REGIONS; do
	expect "$r" "$STRIP_DOMAIN" '[.hosts[].addresses[].address]' "[\"$STRIP_ADDR\"]"
	A="ADDR(\"$STRIP_ADDR\")"
	expect "$r" "$STRIP_DOMAIN" "$A.connect.status" '"ok"'
	expect "$r" "$STRIP_DOMAIN" "$A.smtp.status" '"ok"'
	expect "$r" "$STRIP_DOMAIN" "$A.smtp.ehlo_code" '250'
	if [ "$r" = "$STRIP_REGION" ]; then
		expect "$r" "$STRIP_DOMAIN" "$A.smtp.starttls_advertised" 'false'
		expect "$r" "$STRIP_DOMAIN" "[$A.tls.status, $A.tls.result_type]" '["fail","starttls-not-supported"]'
		expect "$r" "$STRIP_DOMAIN" "$A.smtp.capabilities | index(\"STARTTLS\")" 'null'
	else
		expect "$r" "$STRIP_DOMAIN" "$A.smtp.starttls_advertised" 'true'
		expect "$r" "$STRIP_DOMAIN" "[$A.tls.status, $A.tls.result_type]" '["ok",null]'
		expect "$r" "$STRIP_DOMAIN" "$A.smtp.starttls_code" '220'
		expect "$r" "$STRIP_DOMAIN" "$A.tls.sni" '"mx.strip.mxs.test"'
		expect "$r" "$STRIP_DOMAIN" "[$A.pkix.status, $A.name.status]" '["ok","ok"]'
	fi
	for a in "${other_addrs[@]}"; do
		B="ADDR(\"$a\")"
		expect "$r" "$other" "$B.smtp.status" '"ok"'
		expect "$r" "$other" "$B.smtp.starttls_advertised" 'true'
		expect "$r" "$other" "[$B.tls.status, $B.tls.result_type]" '["ok",null]'
	done
done

# The stripping evidence: eu's capabilities are exactly us's without
# STARTTLS, in the same order (and us's do hold STARTTLS).
A="ADDR(\"$STRIP_ADDR\")"
us_caps=$(q us "$STRIP_DOMAIN" "$A.smtp.capabilities")
eu_caps=$(q "$STRIP_REGION" "$STRIP_DOMAIN" "$A.smtp.capabilities")
want=$(jq -c 'map(select(ascii_upcase != "STARTTLS"))' <<<"$us_caps")
check "us capabilities hold STARTTLS: $us_caps" [ "$(jq -c 'index("STARTTLS") != null' <<<"$us_caps")" = true ]
check "$STRIP_REGION capabilities = us's minus STARTTLS: want $want, got $eu_caps" [ "$eu_caps" = "$want" ]
# ap's are us's, unchanged.
check "ap capabilities = us's" [ "$(q ap "$STRIP_DOMAIN" "$A.smtp.capabilities")" = "$us_caps" ]
# Every other region, and eu for valid.mxs.test, has identical capabilities.
for a in "${other_addrs[@]}"; do
	B="ADDR(\"$a\")"
	for r in $REGIONS; do
		check "$r $other $a capabilities = us's" \
			[ "$(q "$r" "$other" "$B.smtp.capabilities")" = "$(q us "$other" "$B.smtp.capabilities")" ]
	done
done

# MX address x region: SMTP/STARTTLS advertised/TLS.
cell() {
	q "$1" "$2" "ADDR(\"$3\") | \"\\(.smtp.status)/\\(if .smtp.starttls_advertised then \"STARTTLS\" else \"no-STARTTLS\" end)/tls-\\(.tls.status)\\(if .tls.result_type then \"(\" + .tls.result_type + \")\" else \"\" end)\"" | tr -d '"'
}
printf '\n%-16s' "address"
for r in $REGIONS; do printf ' %-48s' "$r"; done
printf '\n'
for row in "$STRIP_DOMAIN $STRIP_ADDR" $(for a in "${other_addrs[@]}"; do echo "$other:$a"; done); do
	case $row in
	*' '*) d=${row% *} a=${row#* } ;;
	*) d=${row%%:*} a=${row#*:} ;;
	esac
	printf '%-16s' "$a"
	for r in $REGIONS; do printf ' %-48s' "$(cell "$r" "$d" "$a")"; done
	printf '\n'
done
echo

summary
