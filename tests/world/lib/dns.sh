# shellcheck shell=bash disable=SC2153  # ZONE and friends come from common.sh
# dns.sh — the world's zones, DNSSEC keys and NSD.
#
# mxs.test.            signed (ECDSAP256SHA256 KSK+ZSK, NSEC), its DS is the
#                      agent's trust anchor
# CHILD (insecure)     unsigned, delegated with NS and no DS
# CHILD (bogus)        signed, DS in the parent; its scenario records (MX and
#                      address records) are signed with decoy data and then
#                      replaced by the real data, so they validate as bogus
#                      while plain queries see the scenario table's values
# A record of records.tsv marked bogus gets the same treatment alone, in
# whichever signed zone holds it (the rest of that zone stays secure).
# Records come from scenarios.tsv (MX, A, AAAA), policies.tsv (the policy
# hosts' A and AAAA) and records.tsv (anything else; TLSA data is computed
# from the PKI, so pki_up runs first).  Keys are made by every up.  NSD runs
# as root in mxs-srv from $DNS_DIR/nsd.conf; everything it writes stays in
# $DNS_DIR.

NS_HOST=ns.$ZONE

# dns_decoy TYPE RDATA: the rdata a bogus zone signs instead of RDATA.
dns_decoy() {
	local pref host
	local -a f
	case $1 in
	A) printf '203.0.113.%s\n' "${2##*.}" ;;
	AAAA) printf '2001:db8:ffff::%s\n' "${2##*:}" ;;
	MX)
		read -r pref host <<<"$2"
		printf '%s %s\n' "$((pref ^ 1))" "$host"
		;;
	TXT) printf '"decoy" %s\n' "$2" ;;
	TLSA)	# the same parameters, every hex digit of the data inverted
		read -r -a f <<<"$2"
		printf '%s %s %s %s\n' "${f[0]}" "${f[1]}" "${f[2]}" \
			"$(printf '%s' "${f[3]}" | tr '0123456789abcdefABCDEF' 'fedcba9876543210543210')"
		;;
	*) world_fail "no decoy for a $1 record" ;;
	esac
}

# dns_rr OWNER TYPE RDATA [bogus]: add a record to the zone holding OWNER,
# once.  Records of a bogus zone, and records marked bogus, are written with
# decoy data, and to the lists of records to swap after signing.
dns_rr() {
	local owner=$1 type=$2 rdata=$3 bogus=${4:-} zone key
	zone=$(zone_of "$owner")
	key="$owner $type $rdata"
	[[ -z ${DNS_SEEN[$key]:-} ]] || return 0
	DNS_SEEN[$key]=1
	if [[ ${CHILD_KIND[$zone]:-} == bogus || -n $bogus ]]; then
		printf '%s.\t300\tIN\t%s\t%s\n' "$owner" "$type" "$(dns_decoy "$type" "$rdata")" >>"$DNS_DIR/$zone.zone"
		printf '%s.\t300\tIN\t%s\t%s\n' "$owner" "$type" "$(dns_decoy "$type" "$rdata")" >>"$DNS_DIR/$zone.decoy"
		printf '%s.\t300\tIN\t%s\t%s\n' "$owner" "$type" "$rdata" >>"$DNS_DIR/$zone.real"
	else
		printf '%s.\t300\tIN\t%s\t%s\n' "$owner" "$type" "$rdata" >>"$DNS_DIR/$zone.zone"
	fi
}

# dns_head ZONE: SOA and NS of a zone.
dns_head() {
	cat >"$DNS_DIR/$1.zone" <<EOF
\$TTL 300
$1.	IN	SOA	$NS_HOST. hostmaster.$ZONE. $DNS_SERIAL 3600 600 86400 300
$1.	IN	NS	$NS_HOST.
EOF
}

# dns_keys ZONE: make a KSK and a ZSK; sets DNS_KSK and DNS_ZSK (base paths).
dns_keys() {
	local log=$LOG_DIR/dns.log
	mkdir -p "$DNS_DIR/keys"
	DNS_KSK=$DNS_DIR/keys/$(cd "$DNS_DIR/keys" && ldns-keygen -a ECDSAP256SHA256 -k "$1" 2>>"$log")
	DNS_ZSK=$DNS_DIR/keys/$(cd "$DNS_DIR/keys" && ldns-keygen -a ECDSAP256SHA256 "$1" 2>>"$log")
	[[ -f $DNS_KSK.private && -f $DNS_ZSK.private ]] || world_fail "ldns-keygen made no keys for $1"
}

# dns_sign ZONE: sign ZONE.zone into ZONE.zone.signed; the KSK's DS goes to
# ZONE.ds.
dns_sign() {
	local zone=$1 log=$LOG_DIR/dns.log
	dns_keys "$zone"
	run "$log" ldns-signzone -i "$(date -u -d '-1 hour' +%Y%m%d%H%M%S)" \
		-e "$(date -u -d '+30 days' +%Y%m%d%H%M%S)" -o "$zone." \
		-f "$DNS_DIR/$zone.zone.signed" "$DNS_DIR/$zone.zone" "$DNS_KSK" "$DNS_ZSK"
	ldns-key2ds -n -2 "$DNS_KSK.key" >"$DNS_DIR/$zone.ds" 2>>"$log"
	grep -q "[[:space:]]DS[[:space:]]" "$DNS_DIR/$zone.ds" || world_fail "no DS for $zone"
}

# dns_tamper ZONE: in the signed ZONE, put the real data back in place of the
# decoys (matched by their canonical text), leaving the signatures over the
# decoys.
dns_tamper() {
	local zone=$1 signed=$DNS_DIR/$1.zone.signed
	ldns-read-zone "$DNS_DIR/$zone.decoy" >"$DNS_DIR/$zone.decoy.canon"
	ldns-read-zone "$DNS_DIR/$zone.real" >"$DNS_DIR/$zone.real.canon"
	awk -v decoy="$DNS_DIR/$zone.decoy.canon" -v real="$DNS_DIR/$zone.real.canon" '
		BEGIN {
			while ((getline d < decoy) > 0) {
				if ((getline r < real) <= 0) exit 2
				swap[d] = r
			}
		}
		($0 in swap) { print swap[$0]; n++; next }
		{ print }
		END { if (n != length(swap)) exit 3 }
	' "$signed" >"$signed.tampered" || world_fail "could not swap the decoys in $zone (awk $?)"
	mv "$signed.tampered" "$signed"
}

# dns_zones: write and sign every zone; writes the trust anchor.
dns_zones() {
	local i z a
	DNS_SERIAL=$(date +%s)
	declare -gA DNS_SEEN=()
	mkdir -p "$DNS_DIR"
	for z in "$ZONE" "${CHILD_ZONES[@]}"; do
		dns_head "$z"
		: >"$DNS_DIR/$z.decoy"
		: >"$DNS_DIR/$z.real"
	done
	dns_rr "$NS_HOST" A "$DNS_V4"
	dns_rr "$NS_HOST" AAAA "$DNS_V6"
	for ((i = 0; i < POL_N; i++)); do
		for a in ${P_ADDRS[i]}; do
			if is_v6 "$a"; then
				dns_rr "mta-sts.${P_DOMAIN[i]}" AAAA "$a"
			else
				dns_rr "mta-sts.${P_DOMAIN[i]}" A "$a"
			fi
		done
	done
	for ((i = 0; i < REC_N; i++)); do
		dns_rr "${R_OWNER[i]}" "${R_TYPE[i]}" "$(rec_rdata "$i")" "${R_DNSSEC[i]}"
	done
	for ((i = 0; i < SCEN_N; i++)); do
		if [[ ${S_PREF[i]} != - ]]; then
			if [[ ${S_MX[i]} == . ]]; then
				dns_rr "${S_DOMAIN[i]}" MX "0 ."
			else
				dns_rr "${S_DOMAIN[i]}" MX "${S_PREF[i]} ${S_MX[i]}."
			fi
		fi
		case ${S_ADDR[i]} in
		-) ;;
		*:*) dns_rr "${S_MX[i]}" AAAA "${S_ADDR[i]}" ;;
		*) dns_rr "${S_MX[i]}" A "${S_ADDR[i]}" ;;
		esac
	done
	# Children first: a signed child's DS goes into the parent.
	for z in "${CHILD_ZONES[@]}"; do
		printf '%s.\tIN\tNS\t%s.\n' "$z" "$NS_HOST" >>"$DNS_DIR/$ZONE.zone"
		if [[ ${CHILD_KIND[$z]} == bogus ]]; then
			dns_sign "$z"
			cat "$DNS_DIR/$z.ds" >>"$DNS_DIR/$ZONE.zone"
			dns_tamper "$z"
		fi
	done
	dns_sign "$ZONE"
	[[ ! -s $DNS_DIR/$ZONE.decoy ]] || dns_tamper "$ZONE"
	cp "$DNS_DIR/$ZONE.ds" "$TRUST_ANCHOR"
}

# dns_served ZONE: the file NSD serves for ZONE (relative to DNS_DIR).
dns_served() {
	if [[ ${CHILD_KIND[$1]:-} == insecure ]]; then
		printf '%s.zone\n' "$1"
	else
		printf '%s.zone.signed\n' "$1"
	fi
}

dns_config() {
	local z
	{
		cat <<EOF
# Generated by tests/world/up.
server:
	ip-address: $DNS_V4
	ip-address: $DNS_V6
	port: 53
	server-count: 1
	reuseport: no
	username: ""
	chroot: ""
	zonesdir: "$DNS_DIR"
	database: ""
	zonelistfile: "$DNS_DIR/zone.list"
	xfrdfile: "$DNS_DIR/xfrd.state"
	xfrdir: "$DNS_DIR"
	pidfile: "$DNS_DIR/nsd.pid"
	logfile: "$LOG_DIR/nsd.log"
	verbosity: 1
	hide-version: yes
	refuse-any: yes
remote-control:
	control-enable: no
EOF
		for z in "$ZONE" "${CHILD_ZONES[@]}"; do
			printf 'zone:\n\tname: "%s."\n\tzonefile: "%s"\n' "$z" "$(dns_served "$z")"
		done
	} >"$DNS_DIR/nsd.conf"
	run "$LOG_DIR/dns.log" nsd-checkconf "$DNS_DIR/nsd.conf"
}

# dns_start: NSD in mxs-srv (it daemonizes and writes its pidfile).
dns_start() {
	local pid
	pid=$(world_daemon "$SRV_NS" "$LOG_DIR/nsd.log" nsd -d -c "$DNS_DIR/nsd.conf")
	printf '%s\n' "$pid" >"$DNS_DIR/nsd.run.pid"
}

# dns_ready: NSD answers the SOA of every zone (and of the parent over IPv6)
# from the agent's namespace; fails after ~10 s.
dns_ready() {
	local z ok
	for _ in $(seq 1 100); do
		ok=1
		for z in "$ZONE" "${CHILD_ZONES[@]}"; do
			in_ns "$AGENT_NS" drill @"$DNS_V4" "$z" SOA 2>/dev/null |
				grep -q "^$z\.[[:space:]].*SOA" || { ok=0; break; }
		done
		if ((ok)) && in_ns "$AGENT_NS" drill @"$DNS_V6" "$ZONE" SOA 2>/dev/null |
			grep -q "^$ZONE\.[[:space:]].*SOA"; then
			return 0
		fi
		kill -0 "$(cat "$DNS_DIR/nsd.run.pid")" 2>/dev/null || world_fail "NSD exited"
		sleep 0.1
	done
	world_fail "NSD does not answer on $DNS_V4 and $DNS_V6"
}
