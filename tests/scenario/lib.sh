# Shared by the scenario suites: locate the build and the running world, and
# check expectations of the form  DOMAIN <tab> JQ-EXPRESSION <tab> EXPECTED
# against the agent's JSON output.  Prints one line per failed check and a
# closing "N passed, N failed" line.
src=${MXS_SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${MXS_BUILD_DIR:-$src/build}
world=${MXS_WORLD_DIR:-/run/mxs-world}
if [ ! -f "$world/world.env" ]; then
	echo "no test world at $world: run tests/world/up first" >&2
	exit 1
fi
. "$world/world.env"
agent=$build/agent/mxsentry-agent

# jq helpers usable in expectation lines:
#   A            the first address of the first MX host
#   H(name)      the host with that name
#   ADDR(ip)     the address with that text form, under any host
JQ_DEFS='def A: .hosts[0].addresses[0];
def H($n): .hosts[] | select(.name == $n);
def ADDR($ip): .hosts[].addresses[] | select(.address == $ip);
def S: .mta_sts;
def R: .tls_rpt;'

pass=0
fail=0

# check_file JSONARRAY EXPECTFILE
check_file() {
	local json=$1 expect=$2 dom expr want got
	while IFS='	' read -r dom expr want; do
		case "$dom" in ''|'#'*) continue ;; esac
		got=$(jq -c --arg d "$dom" "$JQ_DEFS .[] | select(.domain == \$d) | $expr" \
			"$json" 2>&1)
		if [ "$got" = "$want" ]; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
			printf 'FAIL %s  %s\n     want %s\n     got  %s\n' "$dom" "$expr" "$want" "$got"
		fi
	done <"$expect"
}

# check NAME CONDITION-EXIT-STATUS: record a shell-level assertion.
check() {
	local name=$1
	shift
	if "$@"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $name"
	fi
}

summary() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
