#!/bin/bash
# Scenario suite for issue 4, the polite prober: one SMTP session per
# (MX host, address) per share window, fanned out to every domain of the
# run that uses it, and the per-address caps (agent/addr_share.h).
#
# The world gives no two scenario domains one MX host, but an MX host probed
# as a domain is its own implicit MX (RFC 5321 §5.1): mx.valid.mxs.test has
# no MX record, so its implicit MX is mx.valid.mxs.test at 192.0.2.10, the
# very host and address of valid.mxs.test.  A domain named twice on the
# command line is probed twice.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

work=$(mktemp -d /tmp/mxs-share.XXXXXX)
trap 'rm -rf "$work"' EXIT

# run OUT CONF DOMAIN...: one agent run; sets ms (wall time of the run).
run() {
	local out=$1 conf=$2 start
	shift 2
	start=$(date +%s%N)
	if ! ip netns exec "$AGENT_NS" "$agent" -c "$conf" probe --json "$@" >"$out" 2>"$out.err"; then
		echo "FAIL: the agent exited non-zero:"
		head -c 2000 "$out.err"
		exit 1
	fi
	ms=$((($(date +%s%N) - start) / 1000000))
}

# q OUT JQ: the jq expression over every address of the run (with the
# domain added as .d and the host name as .h), compact.
q() {
	jq -c "[.[] | .domain as \$d | .hosts[] | .name as \$h | .addresses[] | . + {d: \$d, h: \$h}] | $2" "$1"
}

# ---- sharing, default configuration (share window 60 s) -------------------
out=$work/share.json
run "$out" "$AGENT_CONF" valid.mxs.test mx.valid.mxs.test valid.mxs.test \
	dane-ee.mxs.test mx.dane-ee.mxs.test
echo "probed 5 domains in $ms ms"

want_fp=$(openssl x509 -in "$PKI_DIR/valid.leaf.pem" -outform DER | sha256sum | cut -d' ' -f1)
sel='map(select(.h == "mx.valid.mxs.test" and .address == "192.0.2.10"))'
got=$(q "$out" "$sel | length")
check "valid: 3 results for mx.valid.mxs.test/192.0.2.10 ($got)" [ "$got" = 3 ]
got=$(q "$out" "$sel | map(.shared) | sort")
check "valid: one own session, two copies ($got)" [ "$got" = '[false,true,true]' ]
got=$(q "$out" "$sel | map(.certificate.chain[0].sha256) | unique")
check "valid: one leaf fingerprint, the world's ($got)" [ "$got" = "[\"$want_fp\"]" ]
got=$(q "$out" "$sel | map([.tls.status, .pkix.status, .name.status, .tls.sni]) | unique")
check "valid: identical verdicts ($got)" \
	[ "$got" = '[["ok","ok","ok","mx.valid.mxs.test"]]' ]
got=$(q "$out" "$sel | map(.elapsed_ms) | unique | length")
check "valid: the copies carry the session's own elapsed_ms ($got)" [ "$got" = 1 ]

# DANE fields are copied too: the TLSA RRset is the host's, the same for both.
want_fp=$(openssl x509 -in "$PKI_DIR/dane-ee.leaf.pem" -outform DER | sha256sum | cut -d' ' -f1)
sel='map(select(.h == "mx.dane-ee.mxs.test"))'
got=$(q "$out" "$sel | map(.shared) | sort")
check "dane-ee: one own session, one copy ($got)" [ "$got" = '[false,true]' ]
got=$(q "$out" "$sel | map([.certificate.chain[0].sha256, .dane.status, .dane.state, .dane.record]) | unique | length")
check "dane-ee: identical DANE verdicts ($got)" [ "$got" = 1 ]
got=$(q "$out" "$sel | map(.dane.state) | unique")
check "dane-ee: DANE valid ($got)" [ "$got" = '["valid"]' ]
got=$(q "$out" "$sel | map(.certificate.chain[0].sha256) | unique")
check "dane-ee: the world's leaf ($got)" [ "$got" = "[\"$want_fp\"]" ]

# The table marks the copies.
ip netns exec "$AGENT_NS" "$agent" -c "$AGENT_CONF" probe valid.mxs.test mx.valid.mxs.test \
	>"$work/table.txt" 2>&1
got=$(grep -c '^  shared: ' "$work/table.txt")
check "table: one shared line ($got)" [ "$got" = 1 ]

# A temporary outcome reaches the domains already waiting on that session:
# stall's server never greets, so the second domain joins the first's
# session (one command timeout, ~3 s, not two).
out=$work/stall.json
run "$out" "$AGENT_CONF" stall.mxs.test mx.stall.mxs.test
echo "probed stall twice in $ms ms"
got=$(q "$out" 'map(.shared) | sort')
check "stall: one own session, one copy ($got)" [ "$got" = '[false,true]' ]
got=$(q "$out" 'map(.smtp.status) | unique')
check "stall: both temporary ($got)" [ "$got" = '["temporary"]' ]
check "stall: one session's time, $ms ms < 5500" [ "$ms" -lt 5500 ]

# ---- caps: one session at a time, 500 ms between connections, no sharing ---
conf=$work/agent-caps.conf
sed '/^\[probe\]/a per_address_sessions = 1\nper_address_interval_ms = 500\nshare_window_s = 0' \
	"$AGENT_CONF" >"$conf"
out=$work/caps.json
run "$out" "$conf" valid.mxs.test mx.valid.mxs.test valid.mxs.test
echo "probed 3 domains on one address (interval 500 ms) in $ms ms"
check "caps: three starts 500 ms apart take >= 1000 ms ($ms)" [ "$ms" -ge 1000 ]
got=$(q "$out" 'map(.shared)')
check "caps: no sharing with share_window_s = 0 ($got)" [ "$got" = '[false,false,false]' ]
got=$(q "$out" 'map(.tls.status) | unique')
check "caps: every session ok ($got)" [ "$got" = '["ok"]' ]
got=$(q "$out" 'map(.elapsed_ms) | max')
check "caps: the queue wait is not session time (max elapsed_ms $got < 500)" [ "$got" -lt 500 ]
got=$(jq -c 'map(.elapsed_ms) | max' "$out")
check "caps: the last domain waited its turn (probe elapsed_ms $got >= 1000)" [ "$got" -ge 1000 ]

# One session at a time even with no interval: stall's two sessions (each a
# ~3 s command timeout) run one after the other.
sed '/^\[probe\]/a per_address_sessions = 1\nper_address_interval_ms = 0\nshare_window_s = 0' \
	"$AGENT_CONF" >"$conf"
out=$work/caps-stall.json
run "$out" "$conf" stall.mxs.test mx.stall.mxs.test
echo "probed stall twice, one session at a time, in $ms ms"
check "caps: two stalled sessions in sequence take >= 6000 ms ($ms)" [ "$ms" -ge 6000 ]
got=$(q "$out" 'map(.elapsed_ms < 4000) | unique')
check "caps: each session's own time stays one timeout ($got)" [ "$got" = '[true]' ]

summary
