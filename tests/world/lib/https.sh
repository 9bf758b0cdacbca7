# shellcheck shell=bash disable=SC2034,SC2004
# (SC2034: the tables it fills are read by the other files; SC2004: CERT_*
# are scenarios.sh's associative arrays)
# https.sh — the MTA-STS policy host: nginx in mxs-srv on port 443, one
# server block per line of policies.tsv, selected by SNI and Host
# mta-sts.DOMAIN.
#
# pol_load FILE [OPTIONAL] fills, for rows 0..POL_N-1:
#   P_DOMAIN P_ADDRS (blank-separated) P_CERT (leaf name) P_REPLY P_SIZE
#   P_TYPE P_BODY
# and HTTPS_ADDRS: the addresses nginx listens on, in order.  It defines the
# leaves it needs in scenarios.sh's CERT_NAMES/CERT_VALIDITY/CERT_SANS (the
# shared leaf "mta-sts" and any NAME=SANS), so run it after scen_load and
# before pki_up.  Errors name the line and return 1 (message in SCEN_ERR).
#
# nginx runs from $HTTPS_DIR/nginx.conf with -p $HTTPS_DIR and -e for its
# start-up log, so it reads and writes nothing of the host's nginx setup:
# one process (master_process off: its environment keeps the world's tag,
# which a master's process title would overwrite), no daemon of its own
# (started like the other daemons), bodies in $HTTPS_DIR/htdocs/DOMAIN/,
# logs in $LOG_DIR/nginx-*.log.

POL_SHARED_LEAF=mta-sts

pol_err() {
	SCEN_ERR="$WORLD_POLICIES:$1: $2"
	return 1
}

# pol_row LINENO DOMAIN ADDRESS CERT REPLY SIZE TYPE BODY
pol_row() {
	local ln=$1 domain=$2 address=$3 cert=$4 reply=$5 size=$6 type=$7 body=$8
	local a name sans j addrs=

	is_name "$domain" && in_zone "$domain" && [[ $domain != \** ]] ||
		pol_err "$ln" "domain '$domain' is not a name under $ZONE" || return
	[[ -z ${POL_ROW[$domain]:-} ]] || pol_err "$ln" "second line for $domain" || return
	[[ $address != - ]] || address=$POLICY_V4,$POLICY_V6
	for a in ${address//,/ }; do
		is_v4 "$a" || is_v6 "$a" || pol_err "$ln" "bad address '$a'" || return
		addrs+="${addrs:+ }$a"
	done
	case $reply in
	none)
		[[ $cert == - && $size == - && $type == - && $body == - ]] ||
			pol_err "$ln" "reply none takes no cert, size, type or body" || return
		;;
	200)
		[[ $type != - ]] || pol_err "$ln" "a 200 needs a type" || return
		[[ $size == - || $size =~ ^[0-9]{1,9}$ ]] || pol_err "$ln" "bad size '$size'" || return
		;;
	[1-5][0-9][0-9])
		[[ $size == - && $type == - ]] || pol_err "$ln" "size and type are for a 200" || return
		if [[ $reply == 3* ]]; then
			[[ $body =~ ^https?://[^[:space:]]+$ ]] || pol_err "$ln" "a $reply needs a Location URL as body" || return
		else
			[[ $body == - ]] || pol_err "$ln" "a $reply has nginx's own body" || return
		fi
		;;
	*) pol_err "$ln" "reply '$reply' is not an HTTP status or none" || return ;;
	esac

	# The certificate.
	if [[ $cert == - ]]; then
		name=$POL_SHARED_LEAF
		POL_SHARED_SANS+="${POL_SHARED_SANS:+,}mta-sts.$domain"
	elif [[ $cert == *=* ]]; then
		name=${cert%%=*} sans=${cert#*=}
		[[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ && $name != "$POL_SHARED_LEAF" && $name != root &&
			$name != intermediate ]] || pol_err "$ln" "bad or reserved leaf name '$name'" || return
		for a in ${sans//,/ }; do
			is_name "$a" || pol_err "$ln" "leaf $name: bad dNSName '$a'" || return
		done
		if [[ -z ${CERT_VALIDITY[$name]:-} ]]; then
			CERT_NAMES+=("$name")
			CERT_VALIDITY[$name]=ok
			CERT_SANS[$name]=$sans
		else
			[[ ${CERT_VALIDITY[$name]} == ok && ${CERT_SANS[$name]} == "$sans" ]] ||
				pol_err "$ln" "leaf $name redefined" || return
		fi
	else
		name=$cert
		[[ -n ${CERT_VALIDITY[$name]:-} ]] || pol_err "$ln" "leaf '$name' is not defined (yet)" || return
	fi

	# Addresses: nginx listens on those of every served line; a "none"
	# address must be nobody's.
	for a in $addrs; do
		j=${POL_ADDR_USE[$a]:-}
		if [[ $reply == none || $j == none ]]; then
			[[ -z $j ]] || pol_err "$ln" "address $a is another policy line's; reply none needs its own" || return
		elif [[ -z $j ]]; then
			HTTPS_ADDRS+=("$a")
		fi
		[[ $reply == none ]] && POL_ADDR_USE[$a]=none || POL_ADDR_USE[$a]=served
	done

	POL_ROW[$domain]=$POL_N
	P_DOMAIN[POL_N]=$domain P_ADDRS[POL_N]=$addrs P_CERT[POL_N]=$name P_REPLY[POL_N]=$reply
	P_SIZE[POL_N]=$size P_TYPE[POL_N]=$type P_BODY[POL_N]=$body
	POL_N=$((POL_N + 1))
}

pol_load() {
	local file=$1 optional=${2:-0} ln line
	POL_N=0 SCEN_ERR='' POL_SHARED_SANS=''
	P_DOMAIN=() P_ADDRS=() P_CERT=() P_REPLY=() P_SIZE=() P_TYPE=() P_BODY=() HTTPS_ADDRS=()
	unset POL_ROW POL_ADDR_USE
	declare -gA POL_ROW=() POL_ADDR_USE=()
	if [[ ! -e $file && $optional == 1 ]]; then
		return 0
	fi
	[[ -r $file ]] || { SCEN_ERR="$file: cannot read"; return 1; }
	[[ -z ${CERT_VALIDITY[$POL_SHARED_LEAF]:-} ]] ||
		{ SCEN_ERR="$WORLD_SCENARIOS: leaf name '$POL_SHARED_LEAF' is reserved for the policy host"; return 1; }
	while IFS=$'\t' read -r ln line; do
		table_split 7 "$line" || pol_err "$ln" "expected 7 fields (domain address cert reply size type body)" || return
		pol_row "$ln" "${TF[@]}" || return
	done < <(table_lines "$file")
	HTTPS_DEFAULT_CERT=
	if [[ -n $POL_SHARED_SANS ]]; then
		CERT_NAMES+=("$POL_SHARED_LEAF")
		CERT_VALIDITY[$POL_SHARED_LEAF]=ok
		CERT_SANS[$POL_SHARED_LEAF]=$POL_SHARED_SANS
		HTTPS_DEFAULT_CERT=$POL_SHARED_LEAF
	fi
	for ((ln = 0; ln < POL_N; ln++)); do
		[[ -z $HTTPS_DEFAULT_CERT && ${P_REPLY[ln]} != none ]] && HTTPS_DEFAULT_CERT=${P_CERT[ln]}
	done
	return 0
}

# https_pad FILE SIZE: pad FILE to exactly SIZE bytes with extension lines
# "x-pad: xxx...", 80 bytes each but the last (at least 9 bytes).
https_pad() {
	local file=$1 size=$2 have need line n
	have=$(stat -c %s "$file")
	need=$((size - have))
	((need == 0)) && return 0
	((need >= 9)) || world_fail "$file: cannot pad $have bytes to $size (needs 0 or >= 9 more)"
	line="x-pad: $(printf '%072d' 0 | tr 0 x)"
	n=$(((need - 9) / 80))
	{
		awk -v n="$n" -v l="$line" 'BEGIN { for (i = 0; i < n; i++) print l }'
		printf 'x-pad: %s\n' "$(printf "%0$((need - n * 80 - 8))d" 0 | tr 0 x)"
	} >>"$file"
	(($(stat -c %s "$file") == size)) || world_fail "$file: padding missed $size bytes"
}

# https_server ROW: the server block of a row.
https_server() {
	local i=$1 a cert=$PKI_DIR/${P_CERT[$1]}
	printf '\n\tserver {\n'
	for a in ${P_ADDRS[i]}; do
		if is_v6 "$a"; then printf '\t\tlisten [%s]:443 ssl;\n' "$a"; else printf '\t\tlisten %s:443 ssl;\n' "$a"; fi
	done
	printf '\t\tserver_name mta-sts.%s;\n' "${P_DOMAIN[i]}"
	printf '\t\tssl_certificate %s.chain.pem;\n\t\tssl_certificate_key %s.key;\n' "$cert" "$cert"
	printf '\t\troot %s/htdocs/%s;\n' "$HTTPS_DIR" "${P_DOMAIN[i]}"
	printf '\t\tlocation = /.well-known/mta-sts.txt {\n'
	case ${P_REPLY[i]} in
	200) printf '\t\t\tdefault_type "%s";\n' "${P_TYPE[i]//\"/\\\"}" ;;
	3*) printf '\t\t\treturn %s "%s";\n' "${P_REPLY[i]}" "${P_BODY[i]}" ;;
	*) printf '\t\t\treturn %s;\n' "${P_REPLY[i]}" ;;
	esac
	printf '\t\t}\n\t\tlocation / {\n\t\t\treturn 404;\n\t\t}\n\t}\n'
}

https_config() {
	local i a body
	mkdir -p "$HTTPS_DIR/htdocs" "$HTTPS_DIR/tmp"
	for ((i = 0; i < POL_N; i++)); do
		[[ ${P_REPLY[i]} == 200 ]] || continue
		body=$HTTPS_DIR/htdocs/${P_DOMAIN[i]}/.well-known/mta-sts.txt
		mkdir -p "${body%/*}"
		if [[ ${P_BODY[i]} == - ]]; then : >"$body"; else printf '%b' "${P_BODY[i]}" >"$body"; fi
		[[ ${P_SIZE[i]} == - ]] || https_pad "$body" "${P_SIZE[i]}"
	done
	{
		cat <<EOF
# Generated by tests/world/up: the MTA-STS policy host (policies.tsv).
daemon off;
master_process off;
pid $HTTPS_DIR/nginx.pid;
error_log $LOG_DIR/nginx-error.log info;
events {
	worker_connections 512;
}
http {
	access_log $LOG_DIR/nginx-access.log;
	client_body_temp_path $HTTPS_DIR/tmp/body;
	proxy_temp_path $HTTPS_DIR/tmp/proxy;
	fastcgi_temp_path $HTTPS_DIR/tmp/fastcgi;
	uwsgi_temp_path $HTTPS_DIR/tmp/uwsgi;
	scgi_temp_path $HTTPS_DIR/tmp/scgi;
	# The Content-Type of every policy is set by its server block.
	types { }
	default_type application/octet-stream;
	server_tokens off;
	keepalive_timeout 10s;
	ssl_protocols TLSv1.2 TLSv1.3;
	server_names_hash_bucket_size 128;

	# No or an unknown SNI/Host: the shared leaf (if any), and 404.
	server {
EOF
		for a in "${HTTPS_ADDRS[@]}"; do
			if is_v6 "$a"; then
				printf '\t\tlisten [%s]:443 ssl default_server;\n' "$a"
			else
				printf '\t\tlisten %s:443 ssl default_server;\n' "$a"
			fi
		done
		printf '\t\tserver_name "";\n'
		printf '\t\tssl_certificate %s/%s.chain.pem;\n' "$PKI_DIR" "$HTTPS_DEFAULT_CERT"
		printf '\t\tssl_certificate_key %s/%s.key;\n' "$PKI_DIR" "$HTTPS_DEFAULT_CERT"
		printf '\t\treturn 404;\n\t}\n'
		for ((i = 0; i < POL_N; i++)); do
			[[ ${P_REPLY[i]} == none ]] || https_server "$i"
		done
		printf '}\n'
	} >"$HTTPS_DIR/nginx.conf"
	run "$LOG_DIR/https.log" in_ns "$SRV_NS" nginx -t -q -p "$HTTPS_DIR/" -e "$LOG_DIR/nginx-error.log" \
		-c "$HTTPS_DIR/nginx.conf"
}

https_start() {
	local pid
	pid=$(world_daemon "$SRV_NS" "$LOG_DIR/https.log" nginx -p "$HTTPS_DIR/" \
		-e "$LOG_DIR/nginx-error.log" -c "$HTTPS_DIR/nginx.conf")
	printf '%s\n' "$pid" >"$HTTPS_DIR/nginx.run.pid"
}

# https_ready: nginx listens on every policy address; fails after ~10 s.
https_ready() {
	local want have missing a
	want=$(for a in "${HTTPS_ADDRS[@]}"; do
		if is_v6 "$a"; then printf '[%s]:443\n' "$a"; else printf '%s:443\n' "$a"; fi
	done | sort)
	for _ in $(seq 1 100); do
		have=$(in_ns "$SRV_NS" ss -ltnH | awk '{ print $4 }' | sort -u)
		missing=$(comm -23 <(printf '%s\n' "$want") <(printf '%s\n' "$have"))
		[[ -z $missing ]] && return 0
		kill -0 "$(cat "$HTTPS_DIR/nginx.run.pid")" 2>/dev/null || world_fail "nginx exited"
		sleep 0.1
	done
	world_fail "nginx not listening: ${missing//$'\n'/ }"
}
