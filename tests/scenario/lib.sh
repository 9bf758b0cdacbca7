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

# probe_expect EXPECTFILE OUT: probe every domain named in EXPECTFILE once
# (one agent run, all domains in parallel) into OUT, then check every
# expectation line; exits the suite if the agent itself fails.
probe_expect() {
	local expect=$1 out=$2 start
	local -a doms
	mapfile -t doms < <(awk -F'\t' '!/^#/ && NF { print $1 }' "$expect" | sort -u)
	start=$(date +%s%N)
	if ! ip netns exec "$AGENT_NS" "$agent" -c "$AGENT_CONF" probe --json "${doms[@]}" >"$out"; then
		echo "FAIL: the agent exited non-zero"
		exit 1
	fi
	echo "probed ${#doms[@]} domains in $((($(date +%s%N) - start) / 1000000)) ms"
	check_file "$out" "$expect"
}

summary() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

# ------------------------------------------------------ peer cross-checks
# Shared by the peer suites (peer_posttls.sh, peer_policy.sh): our agent's
# verdicts against another tool's, one table row per comparison, and a
# .explain file of known, explained disagreements.  The suite defines
# transient CLASS (a verdict that cannot confirm an explanation).

# require_exec FILE...: each must be executable, else fail at once.
require_exec() {
	local f
	for f; do
		[ -x "$f" ] || { echo "FAIL: $f is not executable"; exit 1; }
	done
}

# require_readable FILE...: each must be readable, else fail at once.
require_readable() {
	local f
	for f; do
		[ -r "$f" ] || { echo "FAIL: cannot read $f"; exit 1; }
	done
}

# peer_workdir PREFIX: a new work directory in $work, removed at exit when
# every check passed, kept (and named) otherwise or with MXS_PEER_KEEP=1.
peer_workdir() {
	work=$(mktemp -d "/tmp/$1.XXXXXX")
	trap peer_cleanup EXIT
}
peer_cleanup() {
	if [ "$fail" -eq 0 ] && [ "${MXS_PEER_KEEP:-}" != 1 ]; then
		rm -rf "$work"
	else
		echo "logs kept in $work"
	fi
}

# ptf_main_cf DNS-SUPPORT-LEVEL: a private Postfix configuration in
# $work/cf (posttls-finger reads main.cf from MAIL_CONFIG): no DNSSEC probe
# (it would wait for a root NS answer the world does not give), the world's
# HELO name, both address families.  Backdated: Postfix waits for a main.cf
# younger than a second or two to settle.
ptf_main_cf() {
	cat >"$work/cf/main.cf" <<EOF_CF
compatibility_level = 3.6
myhostname = $HELO_NAME
inet_protocols = all
smtp_dns_support_level = $1
smtp_host_lookup = dns
dnssec_probe =
EOF_CF
	touch -d '-1 minute' "$work/cf/main.cf"
}

# fname STRING: a file name for a domain or address.
fname() { printf '%s' "$1" | tr -c 'A-Za-z0-9.\n-' '_'; }

# spawn CMD...: in the background, at most $jobs_max at a time.
spawn() {
	while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
	"$@" &
}

# run_agent DOMAIN...: our agent, alone, probing in its namespace; JSON to
# $work/agent.json.  Sets start (ns), agent_rc and agent_ms.
run_agent() {
	start=$(date +%s%N)
	ip netns exec "$AGENT_NS" "$agent" -c "$AGENT_CONF" probe --json "$@" \
		>"$work/agent.json" 2>"$work/agent.err"
	agent_rc=$?
	agent_ms=$((($(date +%s%N) - start) / 1000000))
}

# check_agent_json: the agent exited 0; without a JSON array the suite ends.
check_agent_json() {
	check "agent exits 0 (rc $agent_rc)" [ "$agent_rc" -eq 0 ]
	if ! jq -e 'type == "array"' "$work/agent.json" >/dev/null 2>&1; then
		echo "FAIL: the agent printed no JSON array:"
		head -c 2000 "$work/agent.err"
		fail=$((fail + 1))
		exit 1
	fi
}

# load_explanations FILE: lines DOMAIN <tab> ADDRESS-or-* <tab> TEXT into
# exp_text[DOMAIN|ADDRESS], with a use count exp_used.
load_explanations() {
	local d a text
	declare -gA exp_text exp_used
	while IFS=$'\t' read -r d a text; do
		case "$d" in '' | '#'*) continue ;; esac
		exp_text[$d|$a]=$text
		exp_used[$d|$a]=0
	done <"$1"
}

# judge_disagreement DOMAIN ADDRESS OURS THEIRS: for verdicts that differ,
# sets e (the explanation that applies: DOMAIN|ADDRESS, else DOMAIN|*, else
# empty), agree and ok.  A transient verdict cannot confirm an explanation.
judge_disagreement() {
	e=
	if [ -n "${exp_text[$1|$2]:-}" ]; then e="$1|$2"; elif [ -n "${exp_text[$1|*]:-}" ]; then e="$1|*"; fi
	if [ -n "$e" ] && { transient "$3" || transient "$4"; }; then
		# A timeout is no finding: it cannot confirm the explanation.
		agree="NO, transient" ok=0
		exp_used[$e]=$((exp_used[$e] + 1))
	elif [ -n "$e" ]; then
		agree="NO, explained" ok=1
		exp_used[$e]=$((exp_used[$e] + 1))
	else
		agree=NO ok=0
	fi
}

# check_explanations WHAT TEST: every explanation still describes a
# disagreement, and its domain passes TEST DOMAIN ("names WHAT").
check_explanations() {
	local e
	for e in "${!exp_text[@]}"; do
		check "explanation for ${e/|/ } still describes a disagreement" [ "${exp_used[$e]}" -gt 0 ]
		check "explanation for ${e/|/ } names $1" "$2" "${e%%|*}"
	done
}

# short TEXT WIDTH: TEXT cut to WIDTH characters, "..." marking a cut.
short() {
	local s=$1
	[ "${#s}" -le "$2" ] || s="${s:0:$(($2 - 3))}..."
	printf '%s' "$s"
}
# classified CLASS: a tool gave a verdict.
classified() { case "$1" in '' | - | none | missing | unknown) return 1 ;; esac; }

# print_details: the disagreements collected in details, if any.
print_details() {
	if [ "${#details[@]}" -gt 0 ]; then
		echo
		echo "Disagreements:"
		printf '  %s\n' "${details[@]}"
	fi
}

# check_world_dns: the world's DNS server still answers (one that died
# mid-run would turn verdicts into timeouts).
check_world_dns() {
	check "world DNS still answers" sh -c "ip netns exec '$AGENT_NS' drill @'$DNS_V4' '$ZONE' SOA 2>/dev/null | grep -q 'SOA'"
}

# report_slowest WHAT MSFILE...: the slowest run of the .ms files.
report_slowest() {
	local what=$1 slowest
	shift
	slowest=$(cat "$@" | sort -n | tail -n 1)
	echo "slowest $what run: ${slowest%% *} ms (${slowest#* })"
}
