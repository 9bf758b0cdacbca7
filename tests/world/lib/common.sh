# shellcheck shell=bash disable=SC2034  # names here are used by the other files
# common.sh — names, paths and helpers shared by tests/world/up and down.
#
# Sourced (bash), never executed.  The caller sets WORLD_HOME to the
# tests/world directory before sourcing.  Every name the world uses on the
# machine is fixed here: namespaces are mxs-*, per-namespace files live in
# /etc/netns/mxs-*, everything else lives under $MXS_WORLD_DIR.  Daemons
# started by the world carry MXS_WORLD=$MXS_WORLD_DIR in their environment
# so that down can find them even after their namespace or pidfile is gone.

: "${MXS_SRC_DIR:=$(cd "$WORLD_HOME/../.." && pwd)}"
: "${MXS_BUILD_DIR:=$MXS_SRC_DIR/build}"
: "${MXS_WORLD_DIR:=/run/mxs-world}"
export MXS_SRC_DIR MXS_BUILD_DIR MXS_WORLD_DIR

NS_PREFIX=mxs-
SRV_NS=mxs-srv
AGENT_NS=mxs-agent
SVC_IF=svc0			# the servers' service addresses live here
ZONE=mxs.test
DNS_V4=192.0.2.53
DNS_V6=2001:db8:2::53
HELO_NAME=probe.mxs.test
POLICY_V4=192.0.2.80		# nginx, the MTA-STS policy host (port 443)
POLICY_V6=2001:db8:2::80
VALIDATING_RESOLVER=192.0.2.54	# unbound, validating, for peer tools
VALIDATING_RESOLVER_V6=2001:db8:2::54

# Regions: one agent namespace each (mxs-REGION), linked to mxs-srv like
# mxs-agent, with its own agent configuration (agent-REGION.conf).  eu's
# traffic to STRIP_ADDR goes through the middlebox mxs-mbox, whose
# mxs-strip-proxy removes STARTTLS from the EHLO reply; nothing else of eu's
# (and nothing of us or ap) passes the middlebox.
REGIONS="us eu ap"
US_NS=mxs-us EU_NS=mxs-eu AP_NS=mxs-ap
US_CONF=$MXS_WORLD_DIR/agent-us.conf
EU_CONF=$MXS_WORLD_DIR/agent-eu.conf
AP_CONF=$MXS_WORLD_DIR/agent-ap.conf
# REGION_NET[region]="IF SRV_V4/LEN AGENT_V4 SRV_V6/LEN AGENT_V6" (net_attach_agent)
declare -A REGION_NET=(
	[us]="us0 203.0.113.1/28 203.0.113.2 2001:db8:101::1/64 2001:db8:101::2"
	[eu]="eu0 203.0.113.17/28 203.0.113.18 2001:db8:102::1/64 2001:db8:102::2"
	[ap]="ap0 203.0.113.33/28 203.0.113.34 2001:db8:103::1/64 2001:db8:103::2"
)
MBOX_NS=mxs-mbox
STRIP_REGION=eu			# the one region behind the middlebox
STRIP_ADDR=192.0.2.36		# mx.strip.mxs.test, the one MX it strips
STRIP_DOMAIN=strip.mxs.test
STRIP_PORT=10025		# mxs-strip-proxy, in mxs-mbox
# mxs-mbox's link to mxs-srv (its own traffic: the proxy's upstream side)
MBOX_SRV_NET="mb0 203.0.113.49/28 203.0.113.50 2001:db8:104::1/64 2001:db8:104::2"
# eu <-> mxs-mbox: eu-mb (eu side) and mb-eu (mbox side)
MBOX_EU_V4=203.0.113.65 EU_MBOX_V4=203.0.113.66 MBOX_EU_LEN=28
MBOX_EU_V6=2001:db8:105::1 EU_MBOX_V6=2001:db8:105::2

# The tables.  Records and policies default to the files beside the scenario
# table, and are optional there (a world-test table may have neither).
WORLD_SCENARIOS=${MXS_WORLD_SCENARIOS:-$WORLD_HOME/scenarios.tsv}
WORLD_RECORDS=${MXS_WORLD_RECORDS:-$(dirname "$WORLD_SCENARIOS")/records.tsv}
WORLD_POLICIES=${MXS_WORLD_POLICIES:-$(dirname "$WORLD_SCENARIOS")/policies.tsv}
WORLD_MARKER=$MXS_WORLD_DIR/.mxs-world
WORLD_TAG="MXS_WORLD=$MXS_WORLD_DIR"
PKI_DIR=$MXS_WORLD_DIR/pki
CA_FILE=$PKI_DIR/root.pem			# the root every world certificate chains to
DNS_DIR=$MXS_WORLD_DIR/dns
POSTFIX_DIR=$MXS_WORLD_DIR/postfix		# config: main.cf, master.cf
POSTFIX_QUEUE=$MXS_WORLD_DIR/postfix-queue
POSTFIX_DATA=$MXS_WORLD_DIR/postfix-data
POSTFIX_MASTER_PID=$POSTFIX_QUEUE/pid/master.pid
FIXTURE_DIR=$MXS_WORLD_DIR/fixtures
HTTPS_DIR=$MXS_WORLD_DIR/https			# nginx.conf, nginx.pid, htdocs/
RESOLVER_DIR=$MXS_WORLD_DIR/resolver		# unbound.conf, unbound.pid
LOG_DIR=$MXS_WORLD_DIR/log
AGENT_CONF=$MXS_WORLD_DIR/agent.conf
UNBOUND_CONF=$MXS_WORLD_DIR/unbound.conf
TRUST_ANCHOR=$MXS_WORLD_DIR/trust-anchor.ds
WORLD_ENV=$MXS_WORLD_DIR/world.env
FIXTURE_BIN=$MXS_BUILD_DIR/tests/mxs-smtp-fixture
STRIP_PROXY_BIN=$MXS_BUILD_DIR/tests/mxs-strip-proxy
MBOX_DIR=$MXS_WORLD_DIR/mbox			# strip-proxy.pid
# The mxsentry services (service.sh, tests/world/svc): the collector in
# mxs-srv, one agent daemon per region.
COLLECTOR_V4=192.0.2.90
COLLECTOR_PORT=4790 API_PORT=8025
COLLECTOR_NAME=collector.mxs.test
SVC_DIR=$MXS_WORLD_DIR/svc			# pki/, collector/, spool-REGION/, *.pid
COLLECTOR_CONF=$SVC_DIR/collector.conf
API_TOKEN_FILE=$SVC_DIR/api.token
SVC_USER=mxsentry				# deploy/deps.sh creates it
MXSENTRY_CLI=$SVC_DIR/mxsentry		# the CLI, run where the API listens

# Messages go to fd 3: the scripts open it on their original stderr, so a
# step may send its own output to a log and still report.
exec 3>&2
say() { printf 'world: %s\n' "$*" >&3; }

# step NAME [LOG...]: name the step now running and the logs worth showing
# if it fails (see world_fail).
step() {
	WORLD_STEP=$1
	shift
	WORLD_STEP_LOGS=("$@")
	[ -n "${WORLD_QUIET:-}" ] || say "$(world_elapsed) $WORLD_STEP"
}

# world_elapsed: seconds since the script started, as "[12.345s]".
WORLD_T0=${EPOCHREALTIME/./}
world_elapsed() {
	local us=$((${EPOCHREALTIME/./} - WORLD_T0))
	printf '[%d.%03ds]' $((us / 1000000)) $((us / 1000 % 1000))
}

# world_fail MESSAGE: report the failed step with the tail of its logs, exit 1.
world_fail() {
	local f
	trap - ERR
	printf 'world: FAILED in step "%s": %s\n' "${WORLD_STEP:-?}" "$*" >&3
	for f in "${WORLD_STEP_LOGS[@]}"; do
		[ -s "$f" ] || continue
		printf 'world: --- last lines of %s ---\n' "$f" >&3
		tail -n 25 "$f" >&3
	done
	[ -z "${WORLD_STARTED:-}" ] ||
		printf 'world: state left in %s for inspection; %s/down removes it\n' \
			"$MXS_WORLD_DIR" "$WORLD_HOME" >&3
	exit 1
}

# run LOG CMD...: run CMD with its output appended to LOG.
run() {
	local log=$1
	shift
	printf '+ %s\n' "$*" >>"$log"
	"$@" >>"$log" 2>&1
}

# in_ns NS CMD...: run CMD inside network namespace NS.
in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# world_daemon NS LOG CMD...: start CMD in NS detached from our terminal and
# stdio (so ctest does not wait on it), tagged for down; prints its pid.
world_daemon() {
	local ns=$1 log=$2
	shift 2
	env "$WORLD_TAG" setsid ip netns exec "$ns" "$@" </dev/null >>"$log" 2>&1 3>&- &
	echo $!
}

# now_utc [DATE-OFFSET]: a time as openssl ca wants it (YYYYMMDDHHMMSSZ).
now_utc() { date -u -d "${1:-now}" +%Y%m%d%H%M%SZ; }
