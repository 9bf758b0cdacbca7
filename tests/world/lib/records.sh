# shellcheck shell=bash disable=SC2034,SC2153  # tables for the other files; ZONE is common.sh's
# records.sh — the table of extra DNS records (see records.tsv): TXT records
# (MTA-STS, TLS-RPT), CNAMEs, TLSA records computed from the world's PKI, and
# any other record a scenario needs beyond its MX and address records.
#
# rec_load FILE [OPTIONAL] fills, for rows 0..REC_N-1:
#   R_OWNER R_DNSSEC ("" or bogus) R_TYPE R_DATA (as written)
# and REC_KEYS: the spare keys ({key:NAME}) pki_up must make.  A missing FILE
# is an empty table when OPTIONAL is 1.  Errors name the line and return 1
# with the message in SCEN_ERR.  Run it after scen_load and pol_load, so that
# {NAME} can be checked against every leaf.
# rec_rdata ROW prints the row's rdata for the zone file (after pki_up).

rec_err() {
	SCEN_ERR="$WORLD_RECORDS:$1: $2"
	return 1
}

# rec_ref LINENO REF: check a {REF} of TLSA data; spare keys are noted.
rec_ref() {
	local ln=$1 ref=$2 name
	if [[ $ref == key:* ]]; then
		name=${ref#key:}
		[[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || rec_err "$ln" "bad key name '$name'" || return
		[[ -z ${CERT_VALIDITY[$name]:-} && $name != root && $name != intermediate ]] ||
			rec_err "$ln" "spare key '$name' has the name of a certificate" || return
		[[ -n ${REC_KEY_SEEN[$name]:-} ]] || REC_KEYS+=("$name")
		REC_KEY_SEEN[$name]=1
	else
		[[ $ref == root || $ref == intermediate || -n ${CERT_VALIDITY[$ref]:-} ]] ||
			rec_err "$ln" "{$ref} is no leaf of scenarios.tsv or policies.tsv, nor root or intermediate" || return
	fi
}

# rec_row LINENO OWNER DNSSEC TYPE RDATA
rec_row() {
	local ln=$1 owner=$2 dnssec=$3 type=$4 data=$5 zone
	local -a t
	is_owner "$owner" && in_zone "$owner" || rec_err "$ln" "owner '$owner' is not a name under $ZONE" || return
	[[ $type =~ ^[A-Z][A-Z0-9]*$ ]] || rec_err "$ln" "bad type '$type'" || return
	zone=$(zone_of "$owner")
	case $dnssec in
	-) dnssec= ;;
	bogus)
		[[ ${CHILD_KIND[$zone]:-} != insecure ]] || rec_err "$ln" "bogus record in the unsigned zone $zone" || return
		case $type in A | AAAA | MX | TXT | TLSA) ;; *) rec_err "$ln" "no decoy for a bogus $type record" || return ;; esac
		;;
	*) rec_err "$ln" "dnssec '$dnssec' is not - or bogus" || return ;;
	esac
	case $type in
	TLSA)
		read -r -a t <<<"$data"
		((${#t[@]} == 4)) || rec_err "$ln" "TLSA wants USAGE SELECTOR MTYPE DATA" || return
		[[ ${t[0]} =~ ^[0-9]{1,3}$ && ${t[1]} =~ ^[0-9]{1,3}$ && ${t[2]} =~ ^[0-9]{1,3}$ ]] ||
			rec_err "$ln" "TLSA usage, selector and mtype are numbers" || return
		if [[ ${t[3]} =~ ^\{(.*)\}$ ]]; then
			((t[1] <= 1 && t[2] <= 2)) || rec_err "$ln" "computed TLSA data needs selector 0|1 and mtype 0|1|2" || return
			[[ ${t[3]} != \{key:* || ${t[1]} == 1 ]] || rec_err "$ln" "a spare key has no certificate: selector must be 1" || return
			rec_ref "$ln" "${BASH_REMATCH[1]}" || return
		else
			[[ ${t[3]} =~ ^([0-9A-Fa-f]{2})+$ ]] || rec_err "$ln" "TLSA data '${t[3]}' is neither hex nor {NAME}" || return
		fi
		;;
	CNAME | NS | PTR | DNAME)
		[[ $data == *. && $data != *[[:space:]]* ]] || rec_err "$ln" "$type target must be one absolute name ending in '.'" || return
		;;
	esac
	R_OWNER[REC_N]=$owner R_DNSSEC[REC_N]=$dnssec R_TYPE[REC_N]=$type R_DATA[REC_N]=$data
	REC_N=$((REC_N + 1))
}

rec_load() {
	local file=$1 optional=${2:-0} ln line
	REC_N=0 SCEN_ERR=''
	R_OWNER=() R_DNSSEC=() R_TYPE=() R_DATA=() REC_KEYS=()
	unset REC_KEY_SEEN
	declare -gA REC_KEY_SEEN=()
	if [[ ! -e $file && $optional == 1 ]]; then
		return 0
	fi
	[[ -r $file ]] || { SCEN_ERR="$file: cannot read"; return 1; }
	while IFS=$'\t' read -r ln line; do
		table_split 4 "$line" || rec_err "$ln" "expected 4 fields (owner dnssec type rdata)" || return
		rec_row "$ln" "${TF[@]}" || return
	done < <(table_lines "$file")
}

# rec_txt TEXT: TEXT as TXT rdata: quoted character-strings of at most 255
# octets each (RFC 1035 3.3), '"' and '\' escaped.
rec_txt() {
	local LC_ALL=C s=$1 chunk out=
	while :; do
		chunk=${s:0:255}
		s=${s:255}
		chunk=${chunk//\\/\\\\}
		chunk=${chunk//\"/\\\"}
		out+="${out:+ }\"$chunk\""
		[[ -n $s ]] || break
	done
	printf '%s\n' "$out"
}

# rec_tlsa_data SELECTOR MTYPE REF: the TLSA data computed from the PKI.
rec_tlsa_data() {
	local sel=$1 mtype=$2 ref=$3 pem der
	der=$(mktemp "$PKI_DIR/tlsa.XXXXXX")
	if [[ $ref == key:* ]]; then
		openssl pkey -in "$PKI_DIR/${ref#key:}.key" -pubout -outform DER -out "$der"
	else
		pem=$PKI_DIR/$ref.leaf.pem
		[[ $ref != root && $ref != intermediate ]] || pem=$PKI_DIR/$ref.pem
		if ((sel == 0)); then
			openssl x509 -in "$pem" -outform DER -out "$der"
		else
			openssl x509 -in "$pem" -noout -pubkey | openssl pkey -pubin -outform DER -out "$der"
		fi
	fi
	case $mtype in
	0) od -An -v -tx1 "$der" | tr -d ' \n' ;;
	1) sha256sum "$der" | cut -d' ' -f1 ;;
	2) sha512sum "$der" | cut -d' ' -f1 ;;
	esac
	rm -f "$der"
}

# rec_rdata ROW: the row's rdata for the zone file.
rec_rdata() {
	local i=$1 data=${R_DATA[$1]}
	local -a t
	case ${R_TYPE[i]} in
	TXT)
		if [[ $data == \"* ]]; then printf '%s\n' "$data"; else rec_txt "$data"; fi
		;;
	TLSA)
		read -r -a t <<<"$data"
		if [[ ${t[3]} =~ ^\{(.*)\}$ ]]; then
			t[3]=$(rec_tlsa_data "${t[1]}" "${t[2]}" "${BASH_REMATCH[1]}")
			[[ -n ${t[3]} ]] || world_fail "no TLSA data for ${R_OWNER[i]} ($data)"
		fi
		printf '%s %s %s %s\n' "${t[@]}"
		;;
	*) printf '%s\n' "$data" ;;
	esac
}
