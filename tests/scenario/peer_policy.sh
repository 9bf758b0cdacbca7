#!/bin/bash
# Peer cross-check for issue 3: our agent's MTA-STS and DANE verdicts against
# two independent implementations, printed side by side; fails on any
# disagreement that peer_policy.explain does not list.  An explanation that
# no longer matches a disagreement is an error too, and so is a row either
# tool leaves unclassified.
#
# MTA-STS: Debian's postfix-mta-sts-resolver, "mta-sts-query DOMAIN", for
# every sts-* scenario (and valid.mxs.test, a domain without MTA-STS).  It
# resolves through the agent namespace's resolv.conf (NSD) and trusts the
# world's root CA through SSL_CERT_FILE.  Both tools are reduced to the
# question a sender asks: would it apply a policy, and in which mode.
#   policy:MODE  a usable policy.  Ours: txt ok, fetch ok and policy ok;
#                theirs: VALID.  Then the id, max_age and mx list must agree.
#   no-policy    no single valid _mta-sts record.  Ours: txt state none,
#                invalid or multiple; theirs: NONE.
#   fetch-error  a valid record but no usable policy.  Ours: fetch fail
#                (sts-policy-fetch-error, sts-webpki-invalid) or policy fail
#                (sts-policy-invalid); theirs: FETCH_ERROR after it parsed
#                the record.
#   temporary    ours: a temporary verdict; theirs: FETCH_ERROR before any
#                record was parsed (its DNS error or timeout), or killed.
# Coverage (whether every MX matches the policy) is not compared:
# mta-sts-query does not check it.
#
# DANE: Postfix's posttls-finger at security level "dane" for every dane-*
# scenario and four controls (valid, insecure, nostarttls, bogus), one run
# per domain (DANE needs the MX host name, so no pinned [address] runs).
# Classes, per MX address:
#   dane-valid   ours: dane state valid; theirs: "Matched DANE EE/TA
#                certificate" and "Verified TLS connection".
#   dane-fail    a TLSA RRset that authenticates nothing.  Ours: tlsa-invalid
#                (but not starttls-not-supported); theirs: TLSA found, then
#                a failed verification ("no matching DANE TLSA records"),
#                an untrusted session or a failed handshake.
#   no-starttls  TLSA published, STARTTLS not offered.  Ours: tlsa-invalid /
#                starttls-not-supported; theirs: TLSA found, EHLO answered
#                without STARTTLS and posttls-finger quits (TLS is mandatory
#                at level dane, so it does not go on in plaintext).
#   no-dane      DANE does not apply.  Ours: not-applicable; theirs: 'no
#                TLSA records found, resorting to "secure"' (posttls-finger's
#                own fallback; the smtp client would use "may").
#   dnssec-fail  a DNSSEC-bogus answer.  Ours: dnssec-invalid (TLSA) or a
#                bogus MX/address RRset; theirs: the lookup failed (SERVFAIL
#                from the validating resolver: "TLSA lookup error", or
#                "Destination address lookup failed ... try again") AND the
#                same resolver answers that query when asked with CD
#                (checking disabled), i.e. the data exist but do not
#                validate.  A SERVFAIL that CD does not cure is temporary.
#   temporary    a temporary verdict, a timeout, a SERVFAIL.
#
# posttls-finger's resolver.  posttls-finger believes a DNS answer is
# DNSSEC-validated only from the AD bit set by the recursive resolver it
# asks, through the libc stub resolver and /etc/resolv.conf; Postfix has no
# setting for the resolver address, LOCALDOMAIN only sets the search list
# and RES_OPTIONS only options (not nameservers).  Inside "ip netns exec
# mxs-agent", /etc/resolv.conf is a bind mount of
# /etc/netns/mxs-agent/resolv.conf (NSD, which does not validate), which
# must not change.  So each run is wrapped in "unshare -m": a mount namespace
# of its own (private propagation, unshare's default) in which a private
# resolv.conf naming the validating resolver is bind-mounted over
# /etc/resolv.conf; the file underneath is never written and the mount
# disappears with the process.  "options trust-ad": glibc 2.31 and later
# clear the AD bit of every answer unless it is set there or the program
# sets RES_TRUSTAD; Postfix 3.5 and later set RES_TRUSTAD themselves with
# RES_USE_DNSSEC (dns_lookup(3)), so it only matters to an older Postfix,
# which would otherwise see every zone as insecure and never do DANE (the
# dane-valid rows would then disagree).  The test checks that the mount is
# seen inside and that the namespace's own file is unchanged after.
#
# Environment: MXS_MTA_STS_QUERY (default /usr/bin/mta-sts-query),
# MXS_POSTTLS_FINGER (default /usr/sbin/posttls-finger), MXS_PEER_JOBS
# (parallel peer runs, default 8), MXS_PEER_KEEP=1 keeps the work directory
# (logs) even when all checks pass.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/scenario/lib.sh
. "$here/lib.sh"

query=${MXS_MTA_STS_QUERY:-/usr/bin/mta-sts-query}
ptf=${MXS_POSTTLS_FINGER:-/usr/sbin/posttls-finger}
explain_file=$here/peer_policy.explain
scenarios=${WORLD_SCENARIOS:-$src/tests/world/scenarios.tsv}
ca=${CA_FILE:-$PKI_DIR/root.pem}
resolver=${VALIDATING_RESOLVER:-192.0.2.54}
resolver6=${VALIDATING_RESOLVER_V6:-}
netns_resolv=/etc/netns/$AGENT_NS/resolv.conf

require_exec "$query" "$ptf" "$agent"
require_readable "$ca" "$scenarios" "$explain_file" "$netns_resolv"
for t in python3 unshare drill; do
	command -v "$t" >/dev/null || { echo "FAIL: $t not found"; exit 1; }
done

peer_workdir mxs-peer-policy
mkdir -p "$work/cf" "$work/sts" "$work/dane"
# A private Postfix configuration (see ptf_main_cf), DNSSEC-aware lookups.
ptf_main_cf dnssec
{
	echo "nameserver $resolver"
	[ -z "$resolver6" ] || echo "nameserver $resolver6"
	echo "options trust-ad timeout:1 attempts:2"
} >"$work/resolv.conf"
netns_resolv_sum=$(sha256sum <"$netns_resolv")

# ---------------------------------------------------------------- domains
declare -A seen_dom
all=()
while read -r d _; do
	case "$d" in '' | '#'*) continue ;; esac
	[ -n "${seen_dom[$d]:-}" ] && continue
	seen_dom[$d]=1
	all+=("$d")
done <"$scenarios"
sts_domains=()
dane_domains=()
for d in "${all[@]}"; do
	case "$d" in sts-*) sts_domains+=("$d") ;; dane-*) dane_domains+=("$d") ;; esac
done
# Controls: a domain without MTA-STS; secure without TLSA, insecure, secure
# without TLSA or STARTTLS, bogus MX.
sts_controls=(valid.mxs.test)
dane_controls=(valid.mxs.test insecure.mxs.test nostarttls.mxs.test bogus.mxs.test)
for d in "${sts_controls[@]}"; do [ -n "${seen_dom[$d]:-}" ] && sts_domains+=("$d"); done
for d in "${dane_controls[@]}"; do
	[ -n "${seen_dom[$d]:-}" ] && dane_domains+=("$d")
done
mapfile -t sts_domains < <(printf '%s\n' "${sts_domains[@]}" | sort -u)
mapfile -t dane_domains < <(printf '%s\n' "${dane_domains[@]}" | sort -u)
mapfile -t probe_domains < <(printf '%s\n' "${sts_domains[@]}" "${dane_domains[@]}" | sort -u)
check "scenario table has sts-* and dane-* domains (${#sts_domains[@]}, ${#dane_domains[@]})" \
	test "${#sts_domains[@]}" -gt 1 -a "${#dane_domains[@]}" -gt 4

# ------------------------------------------------------------------ runners
# timed LOG LIMIT CMD...: run CMD with output to LOG, exit status to LOG.rc,
# milliseconds and command to LOG.ms.
timed() {
	local log=$1 limit=$2 t0
	shift 2
	t0=$(date +%s%N)
	timeout "$limit" "$@" >"$log" 2>&1
	echo $? >"$log.rc"
	echo "$((($(date +%s%N) - t0) / 1000000)) ${*: -1}" >"$log.ms"
}
# mta-sts-query has a fixed 4 s limit per DNS query and for the whole HTTPS
# fetch; no proxy (aiohttp would honour https_proxy).
sts_limit=20
sts_run() {
	timed "$work/sts/$(fname "$1").log" "$sts_limit" \
		env -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY SSL_CERT_FILE="$ca" \
		ip netns exec "$AGENT_NS" "$query" -v debug "$1"
}
# posttls-finger at level dane, verbose (-v logs the TLSA lookups and the
# "no TLSA records found" fallback), with its chat log (no -c: the chat shows
# whether STARTTLS was sent), through the validating resolver (see above).
ptf_limit=25
private_resolv=(ip netns exec "$AGENT_NS" unshare -m sh -c
	'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' sh "$work/resolv.conf")
ptf_run() {
	MAIL_CONFIG=$work/cf timed "$work/dane/$(fname "$1").log" "$ptf_limit" \
		"${private_resolv[@]}" "$ptf" -v -t 5 -T 5 -l dane -L routine,certmatch "$1"
}
jobs_max=${MXS_PEER_JOBS:-8} # for spawn

# The private resolv.conf is what posttls-finger's processes see.
seen=$("${private_resolv[@]}" cat /etc/resolv.conf 2>&1)
check "posttls-finger's mount namespace sees the private resolv.conf (validating resolver $resolver)" \
	[ "$seen" = "$(cat "$work/resolv.conf")" ]

# Our agent first and alone, so that the peers' load does not shape its
# verdicts; then both peers, in parallel.
run_agent "${probe_domains[@]}"
for d in "${dane_domains[@]}"; do spawn ptf_run "$d"; done
for d in "${sts_domains[@]}"; do spawn sts_run "$d"; done
wait
elapsed_ms=$((($(date +%s%N) - start) / 1000000))

check_agent_json
check "/etc/netns/$AGENT_NS/resolv.conf unchanged" [ "$(sha256sum <"$netns_resolv")" = "$netns_resolv_sum" ]

# ------------------------------------------------------ explanations
load_explanations "$explain_file"

# ------------------------------------------------------------ table helpers
transient() { case "$1" in temporary) return 0 ;; esac; return 1; }
row() { printf '%-24s %-12s %-56s %-56s %s\n' "$@"; }
details=()
raws=()
# judge TABLE DOMAIN ADDRESS OURS THEIRS OURS-WHY THEIRS-KEY OURS-RAW THEIRS-RAW [MISMATCH]:
# one table row and its checks.  MISMATCH (same class, different details)
# makes the row disagree as well.
judge() {
	local t=$1 d=$2 a=$3 oc=$4 pc=$5 ow=$6 pk=$7 or=$8 pr=$9 mm=${10:-} e agree ok
	check "$t $d $a: mxsentry classified ($oc)" classified "$oc"
	check "$t $d $a: $peer_name classified ($pc)" classified "$pc"
	if [ "$oc" = "$pc" ] && [ -z "$mm" ]; then
		agree=yes ok=1
	else
		if ! classified "$oc" || ! classified "$pc"; then
			# Nothing to compare: no explanation can apply.
			agree="NO, unclassified" ok=0 e=
		else
			judge_disagreement "$d" "$a" "$oc" "$pc"
		fi
		details+=("$t $d $a: mxsentry $oc ($or; $ow)")
		details+=("$t $d $a: $peer_name $pc ($pr)")
		[ -z "$mm" ] || details+=("$t $d $a: policy details differ: $mm")
		[ -z "$e" ] || details+=("$t $d $a: explained: ${exp_text[$e]}")
	fi
	check "$t $d $a: verdicts agree or are explained (mxsentry $oc, $peer_name $pc${mm:+, $mm})" [ "$ok" -eq 1 ]
	row "$d" "$a" "$(short "$oc: $ow" 56)" "$(short "$pc: $pk" 56)" "$agree"
	raws+=("$t $d $a" "  mxsentry:       $or; $ow" "  $(printf '%-15s' "$peer_name:") $pr")
}

# ================================================================ MTA-STS
# Ours: DOMAIN CLASS WHY RAW ID MAX_AGE MX
jq -r '
def clean: tostring | gsub("[\t\r\n]"; " ");
.[] | .domain as $d | .mta_sts as $m
| ( if $m.txt.status == "temporary" or $m.txt.state == "temporary" then
      ["temporary", "txt: \($m.txt.reason)"]
    elif ($m.txt.state | IN("none", "invalid", "multiple")) then
      ["no-policy", "txt \($m.txt.state): \($m.txt.reason)"]
    elif $m.txt.state != "valid" then ["unknown", "txt \($m.txt.state): \($m.txt.reason)"]
    elif $m.fetch.status == "temporary" then ["temporary", "fetch: \($m.fetch.reason)"]
    elif $m.fetch.status == "fail" then ["fetch-error", "\($m.fetch.result_type // "fetch fail"): \($m.fetch.reason)"]
    elif $m.fetch.status != "ok" then ["unknown", "fetch \($m.fetch.status): \($m.fetch.reason)"]
    elif $m.policy.status == "ok" then
      ["policy:\($m.policy.mode)", "\($m.policy.reason); coverage \($m.coverage.status)"]
    elif $m.policy.status == "fail" then ["fetch-error", "\($m.policy.result_type // "policy fail"): \($m.policy.reason)"]
    elif $m.policy.status == "temporary" then ["temporary", "policy: \($m.policy.reason)"]
    else ["unknown", "policy \($m.policy.status): \($m.policy.reason)"] end ) as $c
| [$d, $c[0], $c[1],
   "txt=\($m.txt.status)/\($m.txt.state) id=\($m.txt.id) fetch=\($m.fetch.status)[\($m.fetch.result_type // "-")] http=\($m.fetch.http_status) type=\($m.fetch.content_type) policy=\($m.policy.status)[\($m.policy.result_type // "-")]"
   + (if $m.policy.status == "ok" then " mode=\($m.policy.mode) max_age=\($m.policy.max_age) mx=\($m.policy.mx | join(","))" else "" end),
   ($m.txt.id // "-"), ($m.policy.max_age // "-"), ($m.policy.mx | join(","))]
| map(clean) | join("\t")' "$work/agent.json" >"$work/agent-sts.tsv"
declare -A os_cls os_why os_raw os_id os_age os_mx
while IFS=$'\t' read -r d c why raw id age mx; do
	os_cls[$d]=$c os_why[$d]=$why os_raw[$d]=$raw os_id[$d]=$id os_age[$d]=$age os_mx[$d]=$mx
done <"$work/agent-sts.tsv"

# Theirs: mta-sts-query prints Python's repr of its result on its last line,
#   (<STSFetchResult.VALID: 1>, ('ID', {'mx': [...], 'mode': ..., ...}))
# and logs at debug level whether it parsed the TXT record and the policy.
# Same columns as ours.
python3 - "$work"/sts/*.log <<'EOF' >"$work/peer-sts.tsv"
import ast, os, re, sys
def clean(s):
    return re.sub(r'[\t\r\n]', ' ', str(s))
for path in sys.argv[1:]:
    dom = os.path.basename(path)[:-len('.log')]
    try:
        rc = open(path + '.rc').read().strip()
    except OSError:
        rc = '?'
    lines = open(path, errors='replace').read().splitlines()
    msgs = [re.sub(r'^\S+ \S+ (\w+)\s+RES: ', r'\1 ', l) for l in lines]
    parsed_txt = any('Parsed STS record' in m for m in msgs)
    parsed_pol = [m for m in msgs if 'Parsed policy for domain' in m]
    warn = [m for m in msgs if 'STS policy fetch for domain' in m and 'failed with error:' in m]
    last = lines[-1] if lines else ''
    m = re.match(r'^\(<STSFetchResult\.(\w+): \d+>, (.*)\)$', last)
    cls, key, ident, age, mx = 'unknown', last or '(no output)', '-', '-', ''
    raw = last
    if rc == '124':
        cls, key, raw = 'temporary', 'killed after its time limit', '(killed by timeout)'
    elif m:
        res = m.group(1)
        try:
            data = ast.literal_eval(m.group(2))
        except (ValueError, SyntaxError):
            res = 'unparsable result'
        if res == 'VALID':
            ident, pol = data
            cls = 'policy:%s' % pol.get('mode')
            age = pol.get('max_age', '-')
            mx = ','.join(pol.get('mx', []))
            key = 'VALID id=%s mode=%s max_age=%s' % (ident, pol.get('mode'), age)
        elif res == 'NONE':
            cls = 'no-policy'
            key = 'NONE (no single usable v=STSv1 TXT record)'
            if parsed_txt:
                cls, key = 'unknown', 'NONE after parsing the TXT record'
        elif res == 'FETCH_ERROR':
            if not parsed_txt:
                # its TXT lookup failed or timed out
                cls, key = 'temporary', 'FETCH_ERROR before any TXT record was parsed (DNS error or timeout)'
            elif warn:
                cls = 'fetch-error'
                err = warn[-1].split('failed with error:', 1)[1].strip()
                raw = warn[-1]
                if not err:
                    key = 'FETCH_ERROR: HTTP status not 200, type not text/plain or over 64 KiB (no detail logged)'
                elif 'certificate verify failed:' in err:
                    key = 'FETCH_ERROR: certificate verify failed:' + err.split('certificate verify failed:', 1)[1]
                elif 'Connect call failed' in err:
                    key = 'FETCH_ERROR: connect failed ' + err.split('Connect call failed', 1)[1].strip(' []')
                else:
                    key = 'FETCH_ERROR: ' + err
            elif parsed_pol:
                cls = 'fetch-error'
                p = parsed_pol[-1].split(': ', 1)[1] if ': ' in parsed_pol[-1] else parsed_pol[-1]
                try:
                    pd = ast.literal_eval(p)
                    key = 'FETCH_ERROR: policy rejected (mode %r, max_age %r, %d mx)' % (
                        pd.get('mode'), pd.get('max_age'), len(pd.get('mx', [])))
                except (ValueError, SyntaxError):
                    key = 'FETCH_ERROR: policy rejected: ' + p
                raw = parsed_pol[-1] + ' -> ' + last
            else:
                cls, key = 'unknown', 'FETCH_ERROR with nothing logged'
        else:
            cls, key = 'unknown', res
    print('\t'.join(clean(x) for x in (dom, cls, key, raw, ident, age, mx)))
EOF
declare -A ps_cls ps_key ps_raw ps_id ps_age ps_mx
while IFS=$'\t' read -r d c key raw id age mx; do
	ps_cls[$d]=$c ps_key[$d]=$key ps_raw[$d]=$raw ps_id[$d]=$id ps_age[$d]=$age ps_mx[$d]=$mx
done <"$work/peer-sts.tsv"

echo
echo "MTA-STS: would a sender apply a policy, and in which mode (mxsentry-agent vs mta-sts-query)"
peer_name=mta-sts-query
row DOMAIN ADDRESS "MXSENTRY" "MTA-STS-QUERY" "AGREE?"
for d in "${sts_domains[@]}"; do
	oc=${os_cls[$d]:-missing} pc=${ps_cls[$d]:-none}
	[ "$oc" = missing ] && os_why[$d]="no result from the agent" os_raw[$d]=-
	mm=
	if [ "$oc" = "$pc" ]; then
		case "$oc" in policy:*)
			[ "${os_id[$d]}" = "${ps_id[$d]}" ] || mm+="id ${os_id[$d]} vs ${ps_id[$d]}; "
			[ "${os_age[$d]}" = "${ps_age[$d]}" ] || mm+="max_age ${os_age[$d]} vs ${ps_age[$d]}; "
			[ "${os_mx[$d]}" = "${ps_mx[$d]}" ] || mm+="mx ${os_mx[$d]} vs ${ps_mx[$d]}; "
			mm=${mm%; }
			;;
		esac
	fi
	judge mta-sts "$d" - "$oc" "$pc" "${os_why[$d]:-}" "${ps_key[$d]:-}" \
		"${os_raw[$d]:-}" "${ps_raw[$d]:-no output}" "$mm"
done

# =================================================================== DANE
# Ours, one TSV line per address: DOMAIN ADDRESS HOST CLASS WHY RAW, and
# one per domain with ADDRESS "-": its DNS outcome when it probed no
# address, or "-".
jq -r '
def clean: tostring | gsub("[\t\r\n]"; " ");
def acls:
  .dane as $v
  | if $v.state == "valid" then ["dane-valid", $v.reason]
    elif $v.state == "tlsa-invalid" then
      (if $v.result_type == "starttls-not-supported" then ["no-starttls", $v.reason]
       else ["dane-fail", "\($v.result_type): \($v.reason)"] end)
    elif $v.state == "dnssec-invalid" then ["dnssec-fail", $v.reason]
    elif $v.state == "not-applicable" then ["no-dane", $v.reason]
    elif $v.state == "temporary" then ["temporary", $v.reason]
    elif $v.state == "no-usable-records" then ["dane-unusable", $v.reason]
    elif $v.state == "pending" then
      (if .connect.status == "temporary" or .smtp.status == "temporary" or .tls.status == "temporary"
       then ["temporary", "no TLS session: \(.connect.reason // .smtp.reason // .tls.reason)"]
       else ["no-session", "no TLS session: connect \(.connect.status), smtp \(.smtp.status): \(.smtp.reason // .connect.reason)"] end)
    else ["unknown", "dane \($v.state): \($v.reason)"] end;
def araw:
  "dane=\(.dane.status)/\(.dane.state)[\(.dane.result_type // "-")] tls=\(.tls.status)[\(.tls.result_type // "-")] connect=\(.connect.status) smtp=\(.smtp.status)";
def dcls:
  if .mx.kind == "unknown" then
    [ (if .mx.dns.dnssec == "bogus" then "dnssec-fail" else "temporary" end), .mx.reason ]
  elif .mx.kind == "null" then ["null-mx", .mx.reason]
  elif .mx.kind == "none" then ["no-mx", .mx.reason]
  elif ([.hosts[].addresses[]] | length) > 0 then ["-", "addresses probed"]
  elif any(.hosts[]; .a.dnssec == "bogus" or .aaaa.dnssec == "bogus") then
    ["dnssec-fail", ([.hosts[].dns.reason] | join("; "))]
  elif any(.hosts[]; .dns.status == "temporary") then
    ["temporary", ([.hosts[].dns.reason] | join("; "))]
  else ["no-address", ([.hosts[].dns.reason] | join("; "))] end;
.[] | . as $r
| ([$r.domain, "-", "-"] + ($r | dcls)
   + ["mx=\($r.mx.kind)/\($r.mx.status) dnssec=\($r.mx.dns.dnssec) [\($r.mx.result_type // "-")]"]),
  ($r.hosts[] | . as $h | .addresses[]
   | [$r.domain, .address, $h.name] + acls
     + [araw + " host: a=\($h.a.dnssec) tlsa=\($h.dane.tlsa.dnssec // "not asked") \($h.dane.state)"])
| map(clean) | join("\t")' "$work/agent.json" >"$work/agent-dane.tsv"
declare -A od_cls od_why od_raw o_host dom_cls dom_why dom_raw
drows=()
while IFS=$'\t' read -r d a h c why raw; do
	if [ "$a" = - ]; then
		dom_cls[$d]=$c dom_why[$d]=$why dom_raw[$d]=$raw
	else
		od_cls[$d|$a]=$c od_why[$d|$a]=$why od_raw[$d|$a]=$raw o_host[$d|$a]=$h
	fi
done <"$work/agent-dane.tsv"

# Theirs, one line per outcome, from the verbose log of one domain run:
#   addr ADDRESS HOST CLASS KEY RAW    a session with that address
#   host HOST    -    CLASS KEY RAW    a TLSA lookup error (no session)
#   dom  -       -    CLASS KEY RAW    the destination lookup failed
# A failed lookup is reported as class "lookup:NAME:TYPE" for the caller to
# tell bogus from temporary.  posttls-finger looks up TLSA just before
# connecting to an address, so the TLSA outcome seen last ("... (TLSA): OK",
# or "no TLSA records found") belongs to the next "connect_addr: trying".
classify_ptf() {
	awk -v rc="$2" -v limit="$ptf_limit" '
	function strip(s) { sub(/^posttls-finger: (warning: )?/, "", s); return s }
	function out(kind, a, h, c, k, r) { printf "%s\t%s\t%s\t%s\t%s\t%s\n", kind, a, h, c, k, strip(r) }
	function finish(   c, k, r) {
		if (cur == "") return
		if (tls[cur] == "none") {
			c = "no-dane"; k = "no TLSA records found, resorting to \"secure\""
			k = k (tq[chost] == "" ? " (no TLSA lookup made)" : " (TLSA lookup: " tq[chost] ")")
			r = strip(noline) (tq[chost] == "" ? " (no TLSA lookup was made for " chost ")" : \
			    " (dns_query: _25._tcp." chost " (TLSA): " tq[chost] ")")
		} else if (tls[cur] != "tlsa") {
			c = "unknown"; k = "no TLSA outcome logged before connecting"; r = last
		} else if (tmp != "") { c = "temporary"; k = tmp; r = tmp }
		else if (matched != "" && verified != "") { c = "dane-valid"; k = matched; r = strip(verified) " (" matched ")" }
		else if (verified != "") { c = "unknown"; k = "Verified without a DANE match"; r = verified }
		else if (vfail != "") { c = "dane-fail"; k = vfail; r = vfline }
		else if (untrusted != "") { c = "dane-fail"; k = "Untrusted TLS connection"; r = untrusted }
		else if (tlserr != "") { c = "dane-fail"; k = "TLS handshake failed"; r = tlserr }
		else if (ehlo && !starttls && quit) {
			c = "no-starttls"; k = "TLSA found; EHLO reply without STARTTLS, QUIT"
			r = "dns_query: _25._tcp." chost " (TLSA): OK; chat: > EHLO, reply without STARTTLS, > QUIT (no TLS, no mail)"
		} else if (rc == 124) { c = "temporary"; k = "killed after " limit " s"; r = "(killed by timeout)" }
		else { c = "unknown"; k = "no TLS outcome logged"; r = last }
		out("addr", cur, chost, c, k, r)
		cur = ""
	}
	{ line = $0; gsub(/\t/, " ", line); last = line }
	/^posttls-finger: dns_query: _25\._tcp\.[^ ]+ \(TLSA\): / {
		h = line; sub(/.*dns_query: _25\._tcp\./, "", h); sub(/ \(TLSA\).*/, "", h)
		r = line; sub(/.*\(TLSA\): /, "", r)
		tq[h] = r; pend = (r == "OK" ? "tlsa" : pend); next
	}
	/no TLSA records found, resorting to/ { pend = "none"; noline = line; next }
	/^posttls-finger: connect_addr: trying: / {
		finish()
		a = line; sub(/.*trying: /, "", a)
		chost = a; sub(/\[.*/, "", chost)
		sub(/^[^[]*\[/, "", a); sub(/\].*/, "", a)
		cur = a; tls[cur] = pend; pend = ""
		tmp = matched = verified = vfail = vfline = untrusted = tlserr = ""; ehlo = starttls = quit = 0
		next
	}
	/^posttls-finger: Failed to establish session to / {
		r = line; sub(/.*: /, "", r)
		if (r ~ /^TLSA lookup error for /) {
			h = r; sub(/^TLSA lookup error for /, "", h); sub(/:[0-9]+$/, "", h)
			out("host", "-", h, "lookup:_25._tcp." h ":TLSA", r, line)
		} else if (cur != "" && line ~ ("\\[" cur "\\]")) {
			tmp = r
		} else {
			out("dom", "-", "-", "temporary", r, line)
		}
		next
	}
	/^posttls-finger: Destination address lookup failed: / {
		r = line; sub(/.*lookup failed: /, "", r)
		if (r ~ /try again/ && match(r, /name=[^ ]+ type=[A-Z0-9]+/)) {
			nt = substr(r, RSTART, RLENGTH); n = nt; sub(/^name=/, "", n); sub(/ type=.*/, "", n)
			t = nt; sub(/.*type=/, "", t)
			out("dom", "-", "-", "lookup:" n ":" t, t " lookup of " n ": try again", line)
		} else {
			out("dom", "-", "-", r ~ /nullMX/ ? "null-mx" : r ~ /not found/ ? "no-mx" : "temporary", r, line)
		}
		next
	}
	cur == "" { next }
	/: Matched DANE (EE|TA) certificate at depth / { k = strip(line); sub(/^[^ ]+: /, "", k); matched = k; next }
	/Verified TLS connection established/ { verified = line; next }
	/Untrusted TLS connection established/ { untrusted = line; next }
	/certificate verification failed for / {
		if (vfail == "") { k = line; sub(/.*\]:[0-9]+: /, "", k); vfail = k; vfline = line }
		next
	}
	/SSL_connect error|TLS handshake failed|TLS library problem/ { if (tlserr == "") tlserr = line; next }
	/: (timeout|lost connection) while |SMTP service not available: 4|(EHLO|STARTTLS) rejected: 4/ {
		if (tmp == "") tmp = strip(line); next
	}
	/^posttls-finger: > EHLO / { ehlo = 1; next }
	/^posttls-finger: > STARTTLS/ { starttls = 1; next }
	/^posttls-finger: > QUIT/ { quit = 1; next }
	END { finish() }' "$1"
}

# bogus_or_temporary NAME TYPE: sets lookup_cls to "dnssec-fail" when the
# validating resolver answers SERVFAIL but has the data when asked with CD
# (checking disabled), i.e. they exist and fail validation, else to
# "temporary"; lookup_note says what the resolver answered.
bogus_or_temporary() {
	local plain cdq prc crc can
	plain=$(ip netns exec "$AGENT_NS" drill @"$resolver" "$2" "$1" 2>&1)
	cdq=$(ip netns exec "$AGENT_NS" drill -o CD @"$resolver" "$2" "$1" 2>&1)
	prc=$(printf '%s\n' "$plain" | sed -n 's/.*rcode: \([A-Z]*\).*/\1/p' | head -n 1)
	crc=$(printf '%s\n' "$cdq" | sed -n 's/.*rcode: \([A-Z]*\).*/\1/p' | head -n 1)
	can=$(printf '%s\n' "$cdq" | sed -n 's/.* ANSWER: \([0-9]*\),.*/\1/p' | head -n 1)
	if [ "$prc" = SERVFAIL ] && [ "$crc" = NOERROR ] && [ "${can:-0}" -gt 0 ]; then
		lookup_cls=dnssec-fail
		lookup_note="$resolver: SERVFAIL, with CD: $can record(s), so bogus"
	else
		lookup_cls=temporary
		lookup_note="$resolver: ${prc:-no answer}, with CD: ${crc:-no answer}"
	fi
}

declare -A pa_cls pa_key pa_raw pa_host ph_cls ph_key ph_raw pdom_cls pdom_key pdom_raw
for d in "${dane_domains[@]}"; do
	log=$work/dane/$(fname "$d").log
	[ -f "$log" ] || continue
	while IFS=$'\t' read -r kind a h c k raw; do
		if [[ $c == lookup:* ]]; then
			n=${c#lookup:}
			bogus_or_temporary "${n%:*}" "${n##*:}"
			c=$lookup_cls k="$k ($lookup_note)" raw="$raw [$lookup_note]"
		fi
		case "$kind" in
		addr) pa_cls[$d|$a]=$c pa_key[$d|$a]=$k pa_raw[$d|$a]=$raw pa_host[$d|$a]=$h ;;
		host) ph_cls[$d|$h]=$c ph_key[$d|$h]=$k ph_raw[$d|$h]=$raw ;;
		dom) pdom_cls[$d]=$c pdom_key[$d]=$k pdom_raw[$d]=$raw ;;
		esac
	done < <(classify_ptf "$log" "$(cat "$log.rc" 2>/dev/null)")
	# Killed before it logged any outcome: a timeout for the whole domain.
	if [ "$(cat "$log.rc" 2>/dev/null)" = 124 ] && [ -z "${pdom_cls[$d]:-}" ]; then
		pdom_cls[$d]=temporary pdom_key[$d]="killed after $ptf_limit s" pdom_raw[$d]="(killed by timeout $ptf_limit; last line: $(tail -n 1 "$log"))"
	fi
done

# Rows: every address either tool reached, by domain; a domain with none
# gets one row "-" from both tools' DNS outcome.
for d in "${dane_domains[@]}"; do
	n=0
	while read -r k; do
		[[ $k == "$d|"* ]] || continue
		drows+=("$k")
		n=$((n + 1))
	done < <(printf '%s\n' "${!od_cls[@]}" "${!pa_cls[@]}" | sort -u)
	[ "$n" -gt 0 ] || drows+=("$d|-")
done

echo
echo "DANE: per MX address (mxsentry-agent vs posttls-finger -l dane through the validating resolver $resolver)"
peer_name=posttls-finger
row DOMAIN ADDRESS "MXSENTRY" "POSTTLS-FINGER (dane)" "AGREE?"
for r in "${drows[@]}"; do
	d=${r%%|*} a=${r#*|}
	if [ -n "${od_cls[$r]:-}" ]; then
		oc=${od_cls[$r]} ow=${od_why[$r]} orw=${od_raw[$r]} h=${o_host[$r]}
	elif [ -n "${dom_cls[$d]:-}" ] && [ "${dom_cls[$d]}" != - ]; then
		oc=${dom_cls[$d]} ow=${dom_why[$d]} orw=${dom_raw[$d]} h=${pa_host[$r]:-}
	else
		oc=missing ow="the agent did not probe this address" orw=- h=${pa_host[$r]:-}
	fi
	if [ -n "${pa_cls[$r]:-}" ]; then
		pc=${pa_cls[$r]} pk=${pa_key[$r]} prw=${pa_raw[$r]}
	elif [ -n "$h" ] && [ -n "${ph_cls[$d|$h]:-}" ]; then
		pc=${ph_cls[$d|$h]} pk=${ph_key[$d|$h]} prw=${ph_raw[$d|$h]}
	elif [ -n "${pdom_cls[$d]:-}" ]; then
		pc=${pdom_cls[$d]} pk=${pdom_key[$d]} prw=${pdom_raw[$d]}
	else
		pc=none pk="posttls-finger did not reach this address" prw=-
	fi
	judge dane "$d" "$a" "$oc" "$pc" "$ow" "$pk" "$orw" "$prw"
done

echo
echo "Raw verdicts (mxsentry: verdict statuses and the deciding reason; peers: the deciding line):"
printf '  %s\n' "${raws[@]}"
is_compared_domain() { printf '%s\n' "${sts_domains[@]}" "${dane_domains[@]}" | grep -qxF "$1"; }
check_explanations "a compared domain" is_compared_domain
print_details

# The world must still be whole: its DNS server and the validating resolver.
check_world_dns
check "validating resolver still answers $ZONE securely (AD)" \
	sh -c "ip netns exec '$AGENT_NS' drill -D @'$resolver' '$ZONE' SOA 2>/dev/null | grep -q 'flags:.* ad'"

echo
report_slowest peer "$work"/sts/*.ms "$work"/dane/*.ms
echo "compared ${#sts_domains[@]} MTA-STS domains and ${#dane_domains[@]} DANE domains (${#drows[@]} rows): mxsentry $agent_ms ms, all tools $elapsed_ms ms"
summary
