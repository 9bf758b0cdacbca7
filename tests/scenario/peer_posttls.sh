#!/bin/bash
# Peer cross-check: probe every scenario of the test world with our agent and
# with Postfix's posttls-finger (security level "verify": PKIX chain to the
# world's root CA and the MX host name against the certificate), print both
# verdicts side by side, and fail on any disagreement about whether the
# session would be trusted that peer_posttls.explain does not list.  An
# explanation that no longer matches a disagreement is an error too, and so
# is a scenario either tool leaves unclassified.
#
# posttls-finger stops at the first address that accepts a TCP connection
# (-m only bounds reconnections with -r), so besides one run per domain (its
# own MX resolution; with -a ipv6 too where the domain has IPv6 addresses)
# every MX address gets a pinned run, "[ADDRESS]" with the MX host name as
# the match argument.  The verdict shown is the pinned run's; where a domain
# run reached the same address it must agree with it.  Runs use -c: with
# chat logging posttls-finger never finishes against an endless greeting
# (its read deadline is only checked when it has to wait for data, and
# logging every line makes it slower than the server).  See classify for
# what -c leaves unlogged.
#
# Environment: MXS_POSTTLS_FINGER (default /usr/sbin/posttls-finger),
# MXS_PEER_KEEP=1 keeps the work directory (logs) even when all checks pass.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/scenario/lib.sh
. "$here/lib.sh"

ptf=${MXS_POSTTLS_FINGER:-/usr/sbin/posttls-finger}
explain_file=$here/peer_posttls.explain
scenarios=${WORLD_SCENARIOS:-$src/tests/world/scenarios.tsv}
ca=$PKI_DIR/root.pem

require_exec "$ptf" "$agent"
# posttls-finger silently disables TLS when its CAfile cannot be read.
require_readable "$ca" "$scenarios" "$explain_file"

peer_workdir mxs-peer
mkdir -p "$work/cf" "$work/dom" "$work/pin"
# A private Postfix configuration (see ptf_main_cf), plain DNS lookups.
ptf_main_cf enabled

# ---------------------------------------------------------------- scenarios
# rows: "domain|address" in table order; address "-" for a domain that has
# none (NXDOMAIN, null MX).  host[row]: the MX host name of that address.
declare -A host pref seen_dom
rows=()
domains=()
while read -r d _ p mx addr _; do
	case "$d" in '' | '#'*) continue ;; esac
	if [ -z "${seen_dom[$d]:-}" ]; then
		seen_dom[$d]=1
		domains+=("$d")
	fi
	[ "$addr" = - ] && continue
	if [ -z "${host[$d|$addr]:-}" ]; then
		rows+=("$d|$addr")
		host[$d|$addr]=$mx
		pref[$d|$addr]=${p/#-/0}
	fi
done <"$scenarios"
mapfile -t domains < <(printf '%s\n' "${domains[@]}" | sort)

# ------------------------------------------------------------------ runners
# ptf_run LOG ARGS...: one posttls-finger run in the agent's namespace.
ptf_limit=25
ptf_run() {
	local log=$1 t0
	shift
	t0=$(date +%s%N)
	MAIL_CONFIG=$work/cf timeout "$ptf_limit" ip netns exec "$AGENT_NS" "$ptf" \
		-c -t 5 -T 5 -l verify -F "$ca" -L routine,certmatch "$@" >"$log" 2>&1
	echo $? >"$log.rc"
	echo "$((($(date +%s%N) - t0) / 1000000)) $*" >"$log.ms"
}
# pin_run DOMAIN ADDRESS HOST
pin_run() {
	local dest="[$2]"
	case "$2" in *:*) dest="[ipv6:$2]" ;; esac
	ptf_run "$work/pin/$(fname "$1")@$(fname "$2").log" "$dest" "$3"
}

# spawn runs at most $jobs_max at a time.  A limit, because the machine may
# have few CPUs: a burst of posttls-finger and smtpd processes slows every
# DNS answer and turns verdicts into timeouts.
jobs_max=${MXS_PEER_JOBS:-16}

# Our agent first and alone, so that the peer's load does not shape its
# verdicts; then every posttls-finger run.
run_agent "${domains[@]}"
declare -A has_v6
for r in "${rows[@]}"; do
	case "${r#*|}" in *:*) has_v6[${r%%|*}]=1 ;; esac
done
# Domain by domain, so that the slow scenarios (stalls, timeouts) do not
# queue behind each other.
for d in "${domains[@]}"; do
	spawn ptf_run "$work/dom/$(fname "$d").ipv4.log" -a ipv4 "$d"
	[ -z "${has_v6[$d]:-}" ] || spawn ptf_run "$work/dom/$(fname "$d").ipv6.log" -a ipv6 "$d"
	for r in "${rows[@]}"; do
		[ "${r%%|*}" = "$d" ] && spawn pin_run "$d" "${r#*|}" "${host[$r]}"
	done
done
wait

# ------------------------------------------------------ our agent's verdicts
# One TSV line per address: DOMAIN ADDRESS HOST CLASS REASON RAW, and one per
# domain with ADDRESS "-": the class that applies when the agent has no
# address for it (DNS outcome), or "-" when it probed addresses.
check_agent_json
jq -r '
def clean: tostring | gsub("[\t\r\n]"; " ");
def acls:
  if .connect.status != "ok" then
    [ (if .connect.status == "temporary" then "temporary"
       elif ((.connect.reason // "") | test("refused"; "i")) then "refused"
       else "connect-failed" end), .connect.reason ]
  elif .smtp.status == "temporary" then ["temporary", .smtp.reason]
  elif .smtp.status != "ok" then
    [ (if (.smtp.greeting_code // 0) >= 500 then "smtp-rejected" else "smtp-error" end),
      .smtp.reason ]
  elif .tls.status == "temporary" then ["temporary", .tls.reason]
  elif .tls.status == "fail" then
    [ (if .tls.result_type == "starttls-not-supported" then "no-starttls" else "tls-failed" end),
      .tls.reason ]
  elif .tls.status != "ok" then ["unknown", "tls \(.tls.status): \(.tls.reason)"]
  elif .pkix.status == "ok" and .name.status == "ok" then
    ["trusted", "\(.tls.version); \(.name.reason)"]
  elif .pkix.status != "ok" then
    ["untrusted-tls", "pkix: \(.pkix.reason)"
      + (if .name.status != "ok" then "; name: \(.name.reason)" else "" end)]
  else ["untrusted-tls", "name: \(.name.reason)"] end;
def araw:
  "connect=\(.connect.status) smtp=\(.smtp.status) tls=\(.tls.status) pkix=\(.pkix.status)"
  + " name=\(.name.status) [\(.tls.result_type // .pkix.result_type // .name.result_type // "-")]";
def dcls:
  if .mx.kind == "null" then ["null-mx", .mx.reason]
  elif .mx.kind == "none" then ["no-mx", .mx.reason]
  elif .mx.kind == "unknown" then
    [ (if .mx.dns.dnssec == "bogus" then "dns-bogus" else "dns-temporary" end), .mx.reason ]
  elif ([.hosts[].addresses[]] | length) > 0 then ["-", "addresses probed"]
  elif any(.hosts[]; .a.dnssec == "bogus" or .aaaa.dnssec == "bogus") then
    ["dns-bogus", ([.hosts[].dns.reason] | join("; "))]
  elif any(.hosts[]; .dns.status == "temporary") then
    ["dns-temporary", ([.hosts[].dns.reason] | join("; "))]
  else ["no-address", ([.hosts[].dns.reason] | join("; "))] end;
.[] | . as $r
| ([$r.domain, "-", "-"] + ($r | dcls)
   + ["mx=\($r.mx.kind)/\($r.mx.status) rcode=\($r.mx.dns.rcode) dnssec=\($r.mx.dns.dnssec) [\($r.mx.result_type // "-")]"]),
  ($r.hosts[] | .name as $h | .addresses[]
   | [$r.domain, .address, $h] + acls + [araw])
| map(clean) | join("\t")' "$work/agent.json" >"$work/agent.tsv"

declare -A o_cls o_why o_raw o_host od_cls od_why od_raw
while IFS=$'\t' read -r d a h c why raw; do
	if [ "$a" = - ]; then
		od_cls[$d]=$c od_why[$d]=$why od_raw[$d]=$raw
	else
		o_cls[$d|$a]=$c o_why[$d|$a]=$why o_raw[$d|$a]=$raw o_host[$d|$a]=$h
	fi
done <"$work/agent.tsv"
for d in "${domains[@]}"; do
	check "agent: a result for $d" [ -n "${od_cls[$d]:-}" ]
done

# ------------------------------------------------- posttls-finger's verdicts
# classify LOG RC: the outcome of one posttls-finger run (-c: no chat log),
# one tab-separated line "ADDRESS CLASS KEY RAW" per address it tried.
# ADDRESS is "-" for an outcome before any connection (DNS), and "?" for a
# session outcome whose log line names no address (greeting, EHLO and
# STARTTLS replies, timeouts, and the silent case below); the caller knows
# which address that was.  From the posttls-finger source (doproto): once
# connected, every failure is logged even with -c, except one: an EHLO reply
# without STARTTLS ends in a plain QUIT that -c does not log.  So a run that
# connected and logged nothing at all is "no STARTTLS".
classify() {
	awk -v rc="$2" -v limit="$ptf_limit" '
	function strip(s) { sub(/^posttls-finger: (warning: )?/, "", s); return s }
	function addr_of(s,   t) {
		if (!match(s, /\[[0-9A-Fa-f:.]+\]:[0-9]+/)) return ""
		t = substr(s, RSTART + 1, RLENGTH - 1)
		sub(/\]:[0-9]+$/, "", t)
		return t
	}
	function set(a, c, k, r) {
		if (cls != "") return
		sa = (a == "" ? "?" : a); cls = c; key = k; raw = strip(r)
	}
	{ line = $0; gsub(/\t/, " ", line) }
	/^posttls-finger: Failed to establish session to / {
		a = addr_of(line); r = line
		sub(/.*\]:[0-9]+: /, "", r); sub(/^posttls-finger: /, "", r)
		printf "%s\t%s\t%s\t%s\n", (a == "" ? "-" : a), (r ~ /refused/ ? "refused" : "temporary"), r, strip(line)
		next
	}
	/^posttls-finger: Destination address lookup failed: / {
		dns = 1; r = line; sub(/.*lookup failed: /, "", r)
		c = r ~ /nullMX/ ? "null-mx" : r ~ /try again/ ? "dns-temporary" : r ~ /not found/ ? "no-mx" : "dns-error"
		printf "-\t%s\t%s\t%s\n", c, r, strip(line)
		next
	}
	/certificate verification failed for / {
		if (vfail == "") { r = line; sub(/.*\]:[0-9]+: /, "", r); vfail = r; vfline = line }
		next
	}
	/Verified TLS connection established/ {
		v = ""
		if (match(line, /TLSv[0-9.]+/)) v = " (" substr(line, RSTART, RLENGTH) ")"
		set(addr_of(line), "trusted", "Verified TLS connection established" v, line); next
	}
	/(Untrusted|Trusted|Anonymous) TLS connection established/ {
		r = strip(line); sub(/ TLS connection.*/, "", r)
		set(addr_of(line), "untrusted-tls", r " TLS: " (vfail != "" ? vfail : "no verification failure logged"),
		    vfline != "" ? vfline : line)
		next
	}
	/SSL_connect error|TLS handshake failed/ {
		tlserr = 1; if (ta == "") ta = addr_of(line); if (tlsline == "") tlsline = line; next
	}
	/TLS library problem: / {
		if (tlsprob == "") {
			r = line
			sub(/.*TLS library problem: error:[0-9A-Fa-f]+:[^:]*:[^:]*:/, "", r)
			sub(/:\.\.\/.*$/, "", r)
			tlsprob = r; tlsprobline = line
		}
		next
	}
	/: SMTP service not available: / {
		r = line; sub(/.*not available: /, "", r)
		set("?", r ~ /^4/ ? "temporary" : "smtp-rejected", r, line); next
	}
	/: (EHLO|STARTTLS) rejected: / {
		r = strip(line); c = r; sub(/^[A-Z]+ rejected: /, "", c)
		set("?", c ~ /^4/ ? "temporary" : r ~ /^STARTTLS/ ? "no-starttls" : "smtp-rejected", r, line); next
	}
	/: (timeout|lost connection) while / { set("?", "temporary", strip(line), line); next }
	/: matched peername: |: subject_CN=|: Server is anonymous|DNSSEC validation may be unavailable|dnssec_probe / { next }
	{ if (other == "") other = strip(line) }
	END {
		if (tlserr) set(ta, "tls-failed", tlsprob != "" ? tlsprob : "TLS handshake failed",
		                tlsprobline != "" ? tlsprobline : tlsline)
		if (rc == 124) set("?", "temporary", "posttls-finger still running after " limit " s, killed", "(killed by timeout " limit ")")
		if (other != "") set("?", "unknown", other, other)
		if (!dns) set("?", "no-starttls", "EHLO reply without STARTTLS (silent QUIT)",
		              "(nothing logged: connected, greeting and EHLO accepted, no STARTTLS offered)")
		if (cls != "" && (sa != "?" || !dns)) printf "%s\t%s\t%s\t%s\n", sa, cls, key, raw
	}' "$1"
}

# classify_pinned DOMAIN ADDRESS: the pinned run's verdict for ADDRESS.
classify_pinned() {
	local log a c k raw
	log=$work/pin/$(fname "$1")@$(fname "$2").log
	[ -f "$log" ] || return 0
	while IFS=$'\t' read -r a c k raw; do
		case "$a" in
		"$2") ;;
		'?') a=$2 ;;
		-) a=$2 ;;
		*) c=unknown k="a pinned run reached $a instead" ;;
		esac
		printf '%s\t%s\t%s\t%s\n' "$2" "$c" "$k" "$raw"
		return 0
	done < <(classify "$log" "$(cat "$log.rc" 2>/dev/null)")
}

# classify_domain DOMAIN FAMILY: the domain run's lines, "?" replaced by the
# address posttls-finger was talking to: it tries addresses in the order of
# its -a family preference first, then MX preference (shuffled within a
# tie), stopping at the first TCP connection; so it is the best-ranked
# address not already named by another line.  Left "?" if that is a tie;
# dropped when no address is left (every connection failed).
classify_domain() {
	local d=$1 fam=$2 log l a r ra rank best bestrank n v6
	log=$work/dom/$(fname "$1").$2.log
	local -a lines
	local -A named=()
	mapfile -t lines < <(classify "$log" "$(cat "$log.rc" 2>/dev/null)")
	for l in "${lines[@]}"; do
		a=${l%%$'\t'*}
		[ "$a" = '?' ] || [ "$a" = - ] || named[$a]=1
	done
	for l in "${lines[@]}"; do
		a=${l%%$'\t'*}
		if [ "$a" = '?' ]; then
			best='' bestrank='' n=0
			for r in "${rows[@]}"; do
				[ "${r%%|*}" = "$d" ] || continue
				ra=${r#*|}
				[ -n "${named[$ra]:-}" ] && continue
				rank=${pref[$r]:-65535}
				v6=0
				case "$ra" in *:*) v6=1 ;; esac
				case "$fam$v6" in ipv41 | ipv60) rank=$((rank + 65536)) ;; esac
				if [ -z "$bestrank" ] || [ "$rank" -lt "$bestrank" ]; then
					best=$ra bestrank=$rank n=1
				elif [ "$rank" -eq "$bestrank" ]; then
					n=$((n + 1))
				fi
			done
			[ -n "$best" ] || continue
			[ "$n" -eq 1 ] || best='?'
			l=$best${l#\?}
		fi
		printf '%s\n' "$l"
	done
}

declare -A p_cls p_key p_raw
# Pinned runs for addresses the agent or a domain run found that the table
# does not list (normally none): a second, smaller round.
extra=()
for k in "${!o_cls[@]}"; do
	[ -n "${host[$k]:-}" ] && continue
	host[$k]=${o_host[$k]}
	rows+=("$k")
	extra+=("$k")
done
for log in "$work"/dom/*.log; do
	d=$(basename "$log"); d=${d%.ipv?.log}
	while IFS=$'\t' read -r a c _ raw; do
		case "$a" in - | '?') continue ;; esac
		[ -n "${host[$d|$a]:-}" ] && continue
		h=$(printf '%s\n' "$raw" | grep -o "[^ []*\[$a\]" | head -n 1)
		host[$d|$a]=${h%%\[*}
		[ -n "${host[$d|$a]}" ] || host[$d|$a]=$d
		rows+=("$d|$a")
		extra+=("$d|$a")
	done < <(classify "$log" 0)
done
if [ "${#extra[@]}" -gt 0 ]; then
	echo "note: addresses outside the scenario table: ${extra[*]}"
	for r in "${extra[@]}"; do
		spawn pin_run "${r%%|*}" "${r#*|}" "${host[$r]}"
	done
	wait
fi
elapsed_ms=$((($(date +%s%N) - start) / 1000000))

for r in "${rows[@]}"; do
	d=${r%%|*} a=${r#*|}
	while IFS=$'\t' read -r _ c k raw; do
		p_cls[$r]=$c p_key[$r]=$k p_raw[$r]=$raw
	done < <(classify_pinned "$d" "$a")
done

# has_rows DOMAIN: the domain has MX addresses (table, agent or peer).
has_rows() {
	local r
	for r in "${rows[@]}"; do [ "${r%%|*}" = "$1" ] && return 0; done
	return 1
}

# Domain runs: their DNS outcome (for domains without an address), and for
# every address they reached, agreement with that address's pinned run.
declare -A pd_cls pd_key pd_raw
for d in "${domains[@]}"; do
	n=0
	for fam in ipv4 ipv6; do
		[ -f "$work/dom/$(fname "$d").$fam.log" ] || continue
		while IFS=$'\t' read -r a c k raw; do
			n=$((n + 1))
			case "$a" in
			-)
				[ "$fam" = ipv4 ] && pd_cls[$d]=$c pd_key[$d]=$k pd_raw[$d]=$raw
				has_rows "$d" && check "posttls-finger -a $fam $d: resolves the MX hosts, as the agent does ($c: $k)" false
				;;
			'?')
				echo "note: posttls-finger -a $fam $d: $c from one of several equally ranked addresses"
				;;
			*)
				check "posttls-finger -a $fam $d reached $a: $c, as its pinned run (${p_cls[$d|$a]:-none})" \
					[ "$c" = "${p_cls[$d|$a]:-}" ]
				;;
			esac
		done < <(classify_domain "$d" "$fam")
	done
	check "posttls-finger: a verdict from the domain run(s) of $d" [ "$n" -gt 0 ]
done

# Domains with no address at all: one row, from both tools' DNS outcome.
for d in "${domains[@]}"; do
	if ! has_rows "$d"; then
		rows+=("$d|-")
		p_cls[$d|-]=${pd_cls[$d]:-} p_key[$d|-]=${pd_key[$d]:-} p_raw[$d|-]=${pd_raw[$d]:-}
	fi
done
mapfile -t rows < <(printf '%s\n' "${rows[@]}" | sort -t'|' -k1,1 -s)

# An address the agent did not probe takes the agent's domain-level class
# when it probed no address of that domain (DNS stopped it), else "missing".
for r in "${rows[@]}"; do
	d=${r%%|*}
	[ -n "${o_cls[$r]:-}" ] && continue
	if [ "${od_cls[$d]:-}" != - ] && [ -n "${od_cls[$d]:-}" ]; then
		o_cls[$r]=${od_cls[$d]} o_why[$r]=${od_why[$d]} o_raw[$r]=${od_raw[$d]}
	else
		o_cls[$r]=missing o_why[$r]="the agent did not probe this address" o_raw[$r]=-
	fi
done

# ------------------------------------------------------------ explanations
load_explanations "$explain_file"

# ------------------------------------------------------------------- table
transient() { case "$1" in temporary | dns-temporary) return 0 ;; esac; return 1; }
row() { printf '%-20s %-15s %-50s %-50s %s\n' "$@"; }
echo
row DOMAIN ADDRESS "MXSENTRY" "POSTTLS-FINGER (verify)" "AGREE?"
details=()
raws=()
for r in "${rows[@]}"; do
	d=${r%%|*} a=${r#*|}
	oc=${o_cls[$r]} pc=${p_cls[$r]:-none}
	check "$d $a: mxsentry classified ($oc)" classified "$oc"
	check "$d $a: posttls-finger classified ($pc)" classified "$pc"
	ot=no pt=no
	[ "$oc" = trusted ] && ot=yes
	[ "$pc" = trusted ] && pt=yes
	if [ "$ot" = "$pt" ]; then
		agree=yes
		[ "$oc" = "$pc" ] || agree="yes*"
		ok=1
	else
		judge_disagreement "$d" "$a" "$oc" "$pc"
		details+=("$d $a: mxsentry trusted=$ot ($oc: ${o_raw[$r]}; ${o_why[$r]})")
		details+=("$d $a: posttls-finger trusted=$pt ($pc: ${p_raw[$r]})")
		[ -n "$e" ] && details+=("$d $a: explained: ${exp_text[$e]}")
	fi
	check "$d $a: trust verdicts agree or are explained (mxsentry $oc, posttls-finger $pc)" [ "$ok" -eq 1 ]
	row "$d" "$a" "$(short "$oc: ${o_why[$r]}" 50)" "$(short "$pc: ${p_key[$r]:-}" 50)" "$agree"
	raws+=("$d $a" "  mxsentry:       ${o_raw[$r]}; ${o_why[$r]}" "  posttls-finger: ${p_raw[$r]:-}")
done
echo "(yes* = both say not trusted, for differently named reasons)"
echo
echo "Raw verdicts (mxsentry: verdict statuses and the deciding reason; posttls-finger: the deciding log line):"
printf '  %s\n' "${raws[@]}"
is_scenario_domain() { [ -n "${seen_dom[$1]:-}" ]; }
check_explanations "a scenario domain" is_scenario_domain
print_details

# The world must still be whole.
check_world_dns

echo
report_slowest posttls-finger "$work"/dom/*.ms "$work"/pin/*.ms
echo "probed ${#domains[@]} domains (${#rows[@]} rows): mxsentry $agent_ms ms, both tools $elapsed_ms ms"
summary
