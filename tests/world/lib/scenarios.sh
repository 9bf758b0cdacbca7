# shellcheck shell=bash disable=SC2034  # the tables it fills are read by the other files
# scenarios.sh — read and check the scenario table (see scenarios.tsv).
#
# scen_load FILE fills, for rows 0..SCEN_N-1:
#   S_DOMAIN S_DNS S_PREF S_MX S_ADDR S_SERVER S_CERT S_SEND
# where S_CERT is the leaf's NAME ("" for none) and S_SEND "chain" or "leaf";
# and, per leaf NAME: CERT_VALIDITY[NAME], CERT_SANS[NAME], with CERT_NAMES
# in order of first use.  Child zones: CHILD_ZONES (apexes, in order) with
# CHILD_KIND[apex] = insecure|bogus.  Listeners, one per address:
# LISTEN_ADDRS (in order), LISTEN_ROW[addr] = the row that defines it.
# Any error names the line and makes scen_load return 1 (the message is in
# SCEN_ERR).

SCEN_FIELDS="domain dns pref mx address server cert validity sans"

scen_err() {
	SCEN_ERR="$WORLD_SCENARIOS:$1: $2"
	return 1
}

is_name() { [[ $1 =~ ^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$ ]]; }
is_v4() {
	local o
	[[ $1 =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]] || return 1
	for o in ${1//./ }; do
		((10#$o <= 255)) || return 1
	done
}
is_v6() { [[ $1 =~ ^[0-9A-Fa-f:]+$ && $1 == *:* ]]; }
in_zone() { [[ $1 == "$ZONE" || $1 == *".$ZONE" ]]; }

# scen_row LINENO FIELDS...: check one row and append it.
scen_row() {
	local ln=$1 domain=$2 dns=$3 pref=$4 mx=$5 addr=$6 server=$7 cert=$8 validity=$9
	local sans=${10} name send=chain i

	is_name "$domain" && in_zone "$domain" || scen_err "$ln" "domain '$domain' is not a name under $ZONE" || return
	case $dns in secure | insecure | bogus) ;; *) scen_err "$ln" "dns '$dns' is not secure, insecure or bogus" || return ;; esac
	if [[ $dns != secure ]]; then
		[[ ${CHILD_KIND[$domain]:-$dns} == "$dns" ]] || scen_err "$ln" "zone $domain declared both ${CHILD_KIND[$domain]} and $dns" || return
		[[ -n ${CHILD_KIND[$domain]:-} ]] || CHILD_ZONES+=("$domain")
		CHILD_KIND[$domain]=$dns
	fi
	if [[ $pref != - ]]; then
		[[ $pref =~ ^[0-9]{1,5}$ ]] && ((pref <= 65535)) || scen_err "$ln" "bad MX preference '$pref'" || return
	fi
	if [[ $mx == . ]]; then
		[[ $pref == 0 && $addr == - ]] || scen_err "$ln" "null MX needs preference 0 and no address" || return
	elif [[ $mx != - ]]; then
		is_name "$mx" && in_zone "$mx" && [[ $mx != \** ]] || scen_err "$ln" "MX host '$mx' is not a name under $ZONE" || return
	elif [[ $pref != - || $addr != - ]]; then
		scen_err "$ln" "preference or address given without an MX host" || return
	fi
	if [[ $addr == - ]]; then
		[[ $server == - ]] || scen_err "$ln" "server '$server' without an address" || return
	else
		is_v4 "$addr" || is_v6 "$addr" || scen_err "$ln" "bad address '$addr'" || return
		case $server in
		postfix | none) ;;
		fixture:[a-z]*) ;;
		*) scen_err "$ln" "server '$server' is not postfix, fixture:MODE or none" || return ;;
		esac
	fi

	name=$cert
	if [[ $cert == *:leaf ]]; then
		name=${cert%:leaf}
		send=leaf
	fi
	if [[ $cert == - ]]; then
		name=
		[[ $validity == - && $sans == - ]] || scen_err "$ln" "validity or sans given without a cert" || return
	else
		[[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || scen_err "$ln" "bad cert name '$cert'" || return
		[[ $server == postfix || $server == fixture:* ]] || scen_err "$ln" "cert for server '$server'" || return
		if [[ -z ${CERT_VALIDITY[$name]:-} ]]; then
			case $validity in ok | expired | notyet | self) ;; *) scen_err "$ln" "leaf $name: validity '$validity' is not ok, expired, notyet or self" || return ;; esac
			[[ $sans != - ]] || scen_err "$ln" "leaf $name: no sans" || return
			for i in ${sans//,/ }; do
				is_name "$i" || scen_err "$ln" "leaf $name: bad dNSName '$i'" || return
			done
			CERT_NAMES+=("$name")
			CERT_VALIDITY[$name]=$validity
			CERT_SANS[$name]=$sans
		else
			[[ $validity == - || $validity == "${CERT_VALIDITY[$name]}" ]] || scen_err "$ln" "leaf $name redefined (validity)" || return
			[[ $sans == - || $sans == "${CERT_SANS[$name]}" ]] || scen_err "$ln" "leaf $name redefined (sans)" || return
		fi
	fi

	i=$SCEN_N
	S_DOMAIN[i]=$domain S_DNS[i]=$dns S_PREF[i]=$pref S_MX[i]=$mx S_ADDR[i]=$addr
	S_SERVER[i]=$server S_CERT[i]=$name S_SEND[i]=$send
	if [[ $addr != - && $server != - ]]; then
		if [[ -n ${LISTEN_ROW[$addr]:-} ]]; then
			local j=${LISTEN_ROW[$addr]}
			[[ ${S_SERVER[j]} == "$server" && ${S_CERT[j]} == "$name" && ${S_SEND[j]} == "$send" && ${S_MX[j]} == "$mx" ]] ||
				scen_err "$ln" "address $addr already serves something else" || return
		else
			LISTEN_ADDRS+=("$addr")
			LISTEN_ROW[$addr]=$i
		fi
	fi
	SCEN_N=$((SCEN_N + 1))
}

scen_load() {
	local file=$1 ln=0 line extra
	local -a f
	SCEN_N=0 SCEN_ERR=
	S_DOMAIN=() S_DNS=() S_PREF=() S_MX=() S_ADDR=() S_SERVER=() S_CERT=() S_SEND=()
	CERT_NAMES=() CHILD_ZONES=() LISTEN_ADDRS=()
	unset CERT_VALIDITY CERT_SANS CHILD_KIND LISTEN_ROW
	declare -gA CERT_VALIDITY=() CERT_SANS=() CHILD_KIND=() LISTEN_ROW=()

	[[ -r $file ]] || { SCEN_ERR="$file: cannot read"; return 1; }
	while IFS= read -r line || [[ -n $line ]]; do
		ln=$((ln + 1))
		line=${line%%#*}
		[[ $line =~ [^[:space:]] ]] || continue
		read -r -a f <<<"$line"
		if ((${#f[@]} != 9)); then
			extra="expected 9 fields ($SCEN_FIELDS), found ${#f[@]}"
			scen_err "$ln" "$extra" || return
		fi
		scen_row "$ln" "${f[@]}" || return
	done <"$file"
	((SCEN_N > 0)) || { SCEN_ERR="$file: no scenarios"; return 1; }
}

# zone_of NAME: the zone (apex) holding NAME: the longest child zone apex
# that is NAME or a suffix of it, else the parent zone.
zone_of() {
	local name=$1 best=$ZONE z
	for z in "${CHILD_ZONES[@]}"; do
		if [[ $name == "$z" || $name == *".$z" ]] && ((${#z} > ${#best})); then
			best=$z
		fi
	done
	printf '%s\n' "$best"
}

# ------------------------------------------------------------------------
# Helpers for the other tables (records.tsv, policies.tsv).

# is_owner NAME: a DNS owner name (labels may hold "_", as in _25._tcp).
is_owner() { [[ $1 =~ ^([A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?\.)*[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$ ]]; }

# table_split N LINE: split LINE into TF[0..N-1]: N-1 blank-separated fields,
# each of which may be in double quotes to hold blanks, then the rest of the
# line (trimmed) as the last.  Returns 1 when there are fewer than N fields or
# a quote is unbalanced.
table_split() {
	local n=$1 s=$2 k
	TF=()
	for ((k = 0; k < n - 1; k++)); do
		s=${s#"${s%%[![:space:]]*}"}
		[[ -n $s ]] || return 1
		if [[ $s == \"* ]]; then
			s=${s:1}
			[[ $s == *\"* ]] || return 1
			TF[k]=${s%%\"*}
			s=${s#*\"}
			[[ -z $s || $s == [[:space:]]* ]] || return 1
		else
			TF[k]=${s%%[[:space:]]*}
			s=${s:${#TF[k]}}
		fi
	done
	s=${s#"${s%%[![:space:]]*}"}
	s=${s%"${s##*[![:space:]]}"}
	[[ -n $s ]] || return 1
	TF[n - 1]=$s
}

# table_lines FILE: print "LINENO<tab>LINE" for every line of FILE that is
# not blank and not a comment (first non-blank "#"); "#" elsewhere is data.
table_lines() {
	awk '!/^[[:space:]]*(#|$)/ { sub(/\r$/, ""); printf "%d\t%s\n", NR, $0 }' "$1"
}
