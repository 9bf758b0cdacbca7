# shellcheck shell=bash
# bench_world.sh — the benchmarks' own small world (tests/bench/farm.sh,
# cycle.sh), apart from the test world (tests/world) so both can run at once:
# its namespaces are mxb-TAG-*, its addresses 198.51.100.128/25 only (inside
# its own namespaces), its state /run/mxs-bench/TAG.  Sourced, never run.
#
#   mxb-TAG-agent  b-a0  198.51.100.130/30, default via .129
#        |             (cycle.sh: mxb-TAG-far in between, see bw_far)
#   mxb-TAG-srv    b-s0  198.51.100.129/30 (farm) or .133/30 (cycle)
#                  svc0  NSD 198.51.100.136; MX addresses 198.51.100.140..,
#                        K of them (at most 100)
#
# Zone bench.test. (signed with ldns-signzone, ECDSAP256SHA256 KSK+ZSK,
# NSEC; its DS is the agent's only trust anchor): N domains dI.bench.test,
# each "MX 10 mxJ.bench.test" with J = I (or I mod MXB_MX_HOSTS), mxJ's A
# the (J mod K)th MX address.  So a
# probe does what it does in production: MX, A, AAAA (NODATA), TLSA
# (NXDOMAIN), _mta-sts and _smtp._tls TXT (NXDOMAIN), all validated, then
# one SMTP session with STARTTLS.  Servers: one mxs-smtp-fixture in "ok"
# mode per MX address (default: one poll() loop each, real STARTTLS and TLS
# handshake with OpenSSL), or MXB_SERVER=postfix: one Postfix instance with
# a listener per address.  Postfix, a process per session, does not keep up
# with 1000 sessions at once on this 2-CPU machine (most greetings time out
# after 10 s, tlsmgr refuses: "454 TLS not available due to local problem"),
# so the figures would be Postfix's, not the agent's.  Certificate: root CA ->
# intermediate -> one leaf for *.bench.test (P-256), chain sent.
#
# The caller sets BW_TAG and BW_BUILD, then calls bw_up; bw_down (also the
# EXIT trap) kills what bw_up started, by pid and by namespace membership
# (ip netns pids: only processes inside our own namespaces), and removes
# the namespaces and the state directory.

: "${BW_TAG:?}" "${BW_BUILD:?}"
BW_DIR=${MXB_STATE_DIR:-/run/mxs-bench}/$BW_TAG
BW_SRV=mxb-$BW_TAG-srv
BW_AGENT=mxb-$BW_TAG-agent
BW_FAR=mxb-$BW_TAG-far
BW_ZONE=bench.test
BW_DNS=198.51.100.136
BW_MX_BASE=140 # first MX address: 198.51.100.140
BW_N=${MXB_DOMAINS:-1000}
BW_K=${MXB_ADDRESSES:-100}
BW_H=${MXB_MX_HOSTS:-$BW_N} # distinct MX host names (default: one per domain)
BW_SERVER=${MXB_SERVER:-fixture}
BW_PKI=$BW_DIR/pki
BW_DNSDIR=$BW_DIR/dns
BW_PF=$BW_DIR/postfix
BW_LOG=$BW_DIR/log
BW_CONF=$BW_DIR/agent.conf
BW_TAG_ENV="MXS_BENCH=$BW_DIR"

bw_say() { printf 'bench[%s]: %s\n' "$BW_TAG" "$*" >&2; }
bw_fail() {
	bw_say "FAILED: $*"
	local f
	for f in "$BW_LOG"/*.log; do
		[[ -s $f ]] || continue
		printf -- '--- last lines of %s ---\n' "$f" >&2
		tail -n 8 "$f" >&2
	done
	exit 1
}
bw_in() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# bw_daemon NS LOG CMD...: start CMD in NS, detached, tagged; prints its pid.
bw_daemon() {
	local ns=$1 log=$2
	shift 2
	env "$BW_TAG_ENV" setsid ip netns exec "$ns" "$@" </dev/null >>"$log" 2>&1 &
	echo $!
}

bw_down() {
	local ns pid f
	if [[ -f $BW_PF/main.cf ]]; then
		timeout 20 ip netns exec "$BW_SRV" postfix -c "$BW_PF" stop >/dev/null 2>&1 </dev/null || true
	fi
	for f in "$BW_DIR"/*.pid; do
		[[ -e $f ]] || continue
		pid=$(cat "$f")
		[[ $pid =~ ^[0-9]+$ ]] && kill "$pid" 2>/dev/null || true
	done
	for ns in "$BW_AGENT" "$BW_FAR" "$BW_SRV"; do
		ip netns list | grep -qw "^$ns" || continue
		# Only processes inside our own namespaces, one by one.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill "$pid" 2>/dev/null || true
		done
	done
	sleep 0.3
	for ns in "$BW_AGENT" "$BW_FAR" "$BW_SRV"; do
		ip netns list | grep -qw "^$ns" || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
		rm -rf "/etc/netns/$ns"
	done
	[[ -e $BW_DIR/.mxs-bench ]] && rm -rf "$BW_DIR"
	return 0
}

bw_ns() {
	local ns=$1
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	mkdir -p "/etc/netns/$ns"
	printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$BW_DNS" >"/etc/netns/$ns/resolv.conf"
}

# bw_link NS1 IF1 ADDR1 NS2 IF2 ADDR2 LEN: a veth pair between two namespaces.
bw_link() {
	ip -n "$1" link add "$2" type veth peer name "$5" netns "$4"
	ip -n "$1" addr add "$3/$7" dev "$2"
	ip -n "$4" addr add "$6/$7" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}

bw_mx_addr() { printf '198.51.100.%d\n' $((BW_MX_BASE + $1)); }

bw_net() {
	local i
	bw_ns "$BW_SRV"
	bw_ns "$BW_AGENT"
	if [[ -n ${BW_WITH_FAR:-} ]]; then
		bw_ns "$BW_FAR"
		bw_link "$BW_FAR" b-f0 198.51.100.129 "$BW_AGENT" b-a0 198.51.100.130 30
		bw_link "$BW_SRV" b-s0 198.51.100.133 "$BW_FAR" b-f1 198.51.100.134 30
		ip -n "$BW_FAR" route add default via 198.51.100.133
		bw_in "$BW_FAR" sysctl -qw net.ipv4.ip_forward=1
		ip -n "$BW_SRV" route add 198.51.100.128/30 via 198.51.100.134
	else
		bw_link "$BW_SRV" b-s0 198.51.100.129 "$BW_AGENT" b-a0 198.51.100.130 30
	fi
	ip -n "$BW_AGENT" route add default via 198.51.100.129
	# No dummy driver on this kernel: a veth pair with both ends in srv.
	ip -n "$BW_SRV" link add svc0 type veth peer name svc0-peer
	ip -n "$BW_SRV" link set svc0-peer up
	ip -n "$BW_SRV" link set svc0 up
	ip -n "$BW_SRV" addr add "$BW_DNS/32" dev svc0
	for ((i = 0; i < BW_K; i++)); do
		ip -n "$BW_SRV" addr add "$(bw_mx_addr "$i")/32" dev svc0
	done
	# Counts the agent's SMTP connections (SYNs to port 25).
	bw_in "$BW_AGENT" iptables -A OUTPUT -p tcp --dport 25 --syn -j ACCEPT
}

# bw_syns: SMTP connections the agent has opened so far.
bw_syns() {
	bw_in "$BW_AGENT" iptables -L OUTPUT -vnx | awk '$0 ~ /dpt:25/ { print $1; exit }'
}

bw_pki() {
	local d=$BW_PKI log=$BW_LOG/pki.log
	mkdir -p "$d"
	{
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc \
			-keyout "$d/root.key" -out "$d/root.pem" -days 3650 -subj "/O=mxs bench/CN=mxs bench root CA" \
			-addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign"
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc \
			-keyout "$d/intermediate.key" -out "$d/intermediate.csr" -subj "/O=mxs bench/CN=mxs bench intermediate CA"
		printf 'basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' >"$d/int.ext"
		openssl x509 -req -in "$d/intermediate.csr" -CA "$d/root.pem" -CAkey "$d/root.key" \
			-CAcreateserial -days 3000 -extfile "$d/int.ext" -out "$d/intermediate.pem"
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc \
			-keyout "$d/leaf.key" -out "$d/leaf.csr" -subj "/O=mxs bench/CN=*.$BW_ZONE"
		printf 'basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:*.%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' "$BW_ZONE" >"$d/leaf.ext"
		openssl x509 -req -in "$d/leaf.csr" -CA "$d/intermediate.pem" -CAkey "$d/intermediate.key" \
			-CAcreateserial -days 90 -extfile "$d/leaf.ext" -out "$d/leaf.pem"
	} >>"$log" 2>&1 || bw_fail "certificates"
	cat "$d/leaf.pem" "$d/intermediate.pem" >"$d/leaf.chain.pem"
	chmod 0644 "$d"/*.key
	mkdir -p "$d/capath"
	cp "$d/root.pem" "$d/capath/"
	openssl rehash "$d/capath" >>"$log" 2>&1 || c_rehash "$d/capath" >>"$log" 2>&1 || true
}

bw_dns() {
	local d=$BW_DNSDIR log=$BW_LOG/dns.log ksk zsk
	mkdir -p "$d/keys"
	{
		printf '$TTL 3600\n%s.\tIN\tSOA\tns.%s. hostmaster.%s. %s 3600 600 86400 300\n' \
			"$BW_ZONE" "$BW_ZONE" "$BW_ZONE" "$(date +%s)"
		printf '%s.\tIN\tNS\tns.%s.\nns.%s.\tIN\tA\t%s\n' "$BW_ZONE" "$BW_ZONE" "$BW_ZONE" "$BW_DNS"
		awk -v n="$BW_N" -v h="$BW_H" -v k="$BW_K" -v base="$BW_MX_BASE" -v z="$BW_ZONE" 'BEGIN {
			for (i = 1; i <= n; i++)
				printf "d%d.%s.\tIN\tMX\t10 mx%d.%s.\n", i, z, (i - 1) % h + 1, z
			for (j = 1; j <= h && j <= n; j++)
				printf "mx%d.%s.\tIN\tA\t198.51.100.%d\n", j, z, base + (j - 1) % k
		}'
	} >"$d/$BW_ZONE.zone"
	ksk=$(cd "$d/keys" && ldns-keygen -a ECDSAP256SHA256 -k "$BW_ZONE" 2>>"$log")
	zsk=$(cd "$d/keys" && ldns-keygen -a ECDSAP256SHA256 "$BW_ZONE" 2>>"$log")
	ldns-signzone -i "$(date -u -d '-1 hour' +%Y%m%d%H%M%S)" -e "$(date -u -d '+30 days' +%Y%m%d%H%M%S)" \
		-o "$BW_ZONE." -f "$d/$BW_ZONE.zone.signed" "$d/$BW_ZONE.zone" "$d/keys/$ksk" "$d/keys/$zsk" \
		>>"$log" 2>&1 || bw_fail "ldns-signzone"
	ldns-key2ds -n -2 "$d/keys/$ksk.key" >"$d/$BW_ZONE.ds" 2>>"$log"
	cat >"$d/nsd.conf" <<EOF
server:
	ip-address: $BW_DNS
	port: 53
	server-count: 1
	reuseport: no
	username: ""
	chroot: ""
	zonesdir: "$d"
	database: ""
	zonelistfile: "$d/zone.list"
	xfrdfile: "$d/xfrd.state"
	xfrdir: "$d"
	pidfile: "$d/nsd.pid"
	logfile: "$BW_LOG/nsd.log"
	verbosity: 0
	hide-version: yes
	refuse-any: yes
	# The agent sends its first ~3 queries per domain at once.
	receive-buffer-size: 8388608
	send-buffer-size: 8388608
	# Response rate limiting (200 qps per /24 by default) would drop most
	# of the agent's answers: every query comes from one address.
	rrl-ratelimit: 0
	rrl-whitelist-ratelimit: 0
remote-control:
	control-enable: no
zone:
	name: "$BW_ZONE."
	zonefile: "$BW_ZONE.zone.signed"
EOF
	nsd-checkconf "$d/nsd.conf" >>"$log" 2>&1 || bw_fail "nsd-checkconf"
	bw_daemon "$BW_SRV" "$BW_LOG/nsd.log" nsd -d -c "$d/nsd.conf" >"$BW_DIR/nsd.pid"
}

bw_postfix() {
	local i a maxproc=${MXB_SMTPD_MAXPROC:-$(((BW_N + BW_K - 1) / BW_K + 4))}
	local q=$BW_DIR/postfix-queue data=$BW_DIR/postfix-data
	mkdir -p "$BW_PF"
	install -d -m 0755 "$q"
	install -d -o postfix -g postfix -m 0700 "$data"
	cat >"$BW_PF/main.cf" <<EOF
# Generated by tests/bench: Postfix for the bench farm; accepts no mail.
compatibility_level = 3.6
queue_directory = $q
data_directory = $data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C $BW_TAG_ENV
# No maillog_file: one postlogd for a thousand smtpd processes becomes the
# bottleneck (it died of its watchdog and every smtpd blocked in sendto).
# With no syslog in this machine's /dev/log, logs are simply dropped.
inet_interfaces = all
inet_protocols = ipv4
myhostname = srv.$BW_ZONE
mydomain = $BW_ZONE
mydestination =
relay_domains =
relayhost =
mynetworks = 127.0.0.0/8
local_recipient_maps =
alias_maps =
alias_database =
local_transport = error:5.7.1 no mail
default_transport = error:5.7.1 no mail
relay_transport = error:5.7.1 no mail
smtpd_relay_restrictions = reject
smtpd_recipient_restrictions = reject
smtpd_peername_lookup = no
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_event_limit_exceptions = 0.0.0.0/0
smtpd_banner = \$myhostname ESMTP
biff = no
default_process_limit = $maxproc
smtpd_tls_security_level = may
smtpd_tls_chain_files = $BW_PKI/leaf.key, $BW_PKI/leaf.chain.pem
smtpd_tls_loglevel = 0
smtpd_tls_session_cache_database =
EOF
	{
		cat <<'EOF'
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
		for ((i = 0; i < BW_K; i++)); do
			a=$(bw_mx_addr "$i")
			printf '%s:25 inet n - n - %s smtpd\n  -o myhostname=mx.%s\n' "$a" "$maxproc" "$BW_ZONE"
		done
	} >"$BW_PF/master.cf"
	touch -d '-1 minute' "$BW_PF/main.cf" "$BW_PF/master.cf"
	bw_in "$BW_SRV" postfix -c "$BW_PF" check >>"$BW_LOG/postfix-start.log" 2>&1 || bw_fail "postfix check"
	touch "$q/quick-start"
	env "$BW_TAG_ENV" ip netns exec "$BW_SRV" postfix -c "$BW_PF" start \
		</dev/null >>"$BW_LOG/postfix-start.log" 2>&1 || bw_fail "postfix start"
}

bw_fixtures() {
	local i a bin=$BW_BUILD/tests/mxs-smtp-fixture
	[[ -x $bin ]] || bw_fail "$bin not built (cmake --build $BW_BUILD --target mxs-smtp-fixture)"
	for ((i = 0; i < BW_K; i++)); do
		a=$(bw_mx_addr "$i")
		bw_daemon "$BW_SRV" "$BW_LOG/fixture.log" "$bin" -l "$a" -p 25 -m ok -n "mx.$BW_ZONE" \
			-c "$BW_PKI/leaf.chain.pem" -k "$BW_PKI/leaf.key" >"$BW_DIR/fixture-$a.pid"
	done
}

# bw_agent_conf EXTRA: the agent's configuration; EXTRA is appended to [probe].
bw_agent_conf() {
	# libunbound's defaults (num-queries-per-thread 1024, outgoing-range
	# 4096 in Debian's libevent build) drop queries once more than ~1000
	# are outstanding: with 1000 domains at once (3 lookups each to start)
	# most MX lookups then time out.  The agent sets neither, so the bench
	# sizes them here (MXB_UNBOUND_DEFAULTS=1 keeps libunbound's defaults).
	local q=$((BW_N * 6 > 1024 ? BW_N * 6 : 1024)) tune=
	[[ ${MXB_UNBOUND_DEFAULTS:-} == 1 ]] ||
		tune=$(printf '\tnum-queries-per-thread: %d\n\toutgoing-range: %d\n' "$q" "$q")
	cat >"$BW_DIR/unbound.conf" <<EOF
server:
	local-zone: "test." nodefault
	do-ip6: no
$tune
stub-zone:
	name: "$BW_ZONE."
	stub-addr: $BW_DNS
EOF
	cat >"$BW_CONF" <<EOF
; Generated by tests/bench ($BW_TAG).
[resolver]
unbound_config = $BW_DIR/unbound.conf
trust_anchor_file = $BW_DNSDIR/$BW_ZONE.ds

[tls]
ca_file = $BW_PKI/root.pem
intermediates_file = $BW_PKI/intermediate.pem

[probe]
helo_name = probe.$BW_ZONE
dns_timeout_ms = 10000
connect_timeout_ms = 10000
command_timeout_ms = 10000
tls_timeout_ms = 10000
session_timeout_ms = 30000
$1
EOF
}

bw_ready() {
	local want have
	for _ in $(seq 1 100); do
		bw_in "$BW_AGENT" drill -D @"$BW_DNS" "$BW_ZONE" SOA 2>/dev/null | grep -q "^$BW_ZONE\.[[:space:]].*SOA" && break
		sleep 0.1
	done
	bw_in "$BW_AGENT" drill @"$BW_DNS" "$BW_ZONE" SOA 2>/dev/null | grep -q "SOA" || bw_fail "NSD does not answer"
	want=$BW_K
	for _ in $(seq 1 200); do
		have=$(bw_in "$BW_SRV" ss -ltnH 'sport = :25' | wc -l)
		((have >= want)) && return 0
		sleep 0.1
	done
	bw_fail "only $have of $want SMTP listeners listen"
}

# bw_up: everything but the agent's configuration.
bw_up() {
	[[ $(id -u) == 0 ]] || bw_fail "must run as root (network namespaces)"
	local t
	for t in ip nsd ldns-keygen ldns-signzone ldns-key2ds drill openssl postfix iptables jq bc /usr/bin/time; do
		command -v "$t" >/dev/null || bw_fail "$t not found"
	done
	((BW_K >= 1 && BW_K <= 100)) || bw_fail "MXB_ADDRESSES must be 1..100"
	bw_down
	mkdir -p "$BW_DIR" "$BW_LOG"
	touch "$BW_DIR/.mxs-bench"
	bw_net >>"$BW_LOG/net.log" 2>&1 || bw_fail "network"
	[[ -z ${BW_WITH_FAR:-} ]] || bw_far >>"$BW_LOG/net.log" 2>&1 || bw_fail "far namespace"
	bw_pki
	bw_dns
	case $BW_SERVER in
	postfix) bw_postfix ;;
	fixture) bw_fixtures ;;
	*) bw_fail "MXB_SERVER is postfix or fixture" ;;
	esac
	bw_ready
}
