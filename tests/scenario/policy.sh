#!/bin/bash
# Scenario suite for issue 3: MTA-STS (TXT, HTTPS policy fetch, policy,
# coverage), TLS-RPT records and DANE, probed from the agent's namespace
# against the world's signed DNS, nginx policy host and Postfix, with the
# exact verdicts in policy.expect plus facts checked independently here
# (the served policy's hash via curl, the TLSA data via openssl).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

out=$(mktemp /tmp/mxs-policy.XXXXXX.json)
trap 'rm -f "$out"' EXIT
probe_expect "$here/policy.expect" "$out"

# The body hash the agent reports is the hash of what the policy host serves.
host=mta-sts.sts-testing.mxs.test
want=$(ip netns exec "$AGENT_NS" curl -sf --cacert "$PKI_DIR/root.pem" \
	--resolve "$host:443:${POLICY_V4:-192.0.2.80}" "https://$host/.well-known/mta-sts.txt" |
	sha256sum | cut -d' ' -f1)
got=$(jq -r '.[] | select(.domain == "sts-testing.mxs.test") | .mta_sts.fetch.body_sha256' "$out")
check "sts-testing: body sha256 $got = $want" test -n "$want" -a "$got" = "$want"

# The DANE-EE record that matched is the SHA-256 of the served leaf's SPKI.
spki=$(ip netns exec "$AGENT_NS" openssl s_client -starttls smtp -connect 192.0.2.60:25 \
	-servername mx.dane-ee.mxs.test </dev/null 2>/dev/null | openssl x509 -pubkey -noout |
	openssl pkey -pubin -outform DER | sha256sum | cut -c1-16 | tr a-f A-F)
rec=$(jq -r '.[] | select(.domain == "dane-ee.mxs.test") | .hosts[0].addresses[0].dane.record' "$out")
hex=${rec#3 1 1 }
check "dane-ee: matched record '$rec' carries SPKI hash $spki" \
	test -n "$spki" -a "$hex" != "$rec" -a "${hex:0:16}" = "$spki"

summary
