#!/bin/bash
# Scenario suite for issue 2: probe every scenario domain once, from the
# agent's namespace through the world's DNSSEC-signed DNS, and check the
# exact verdicts in probe.expect plus the facts only the shell can know
# (fingerprints and subjects of the certificates the world minted).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

out=$(mktemp /tmp/mxs-probe.XXXXXX.json)
trap 'rm -f "$out"' EXIT
probe_expect "$here/probe.expect" "$out"

# The leaf fingerprint and SPKI hash must be those of the certificate the
# world installed on the valid MX.
pem=$PKI_DIR/valid.leaf.pem
want_fp=$(openssl x509 -in "$pem" -outform DER | sha256sum | cut -d' ' -f1)
want_spki=$(openssl x509 -in "$pem" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
got_fp=$(jq -r '.[] | select(.domain == "valid.mxs.test") | .hosts[0].addresses[0].certificate.chain[0].sha256' "$out")
got_spki=$(jq -r '.[] | select(.domain == "valid.mxs.test") | .hosts[0].addresses[0].certificate.chain[0].spki_sha256' "$out")
check "valid: leaf sha256 $got_fp = $want_fp" [ "$got_fp" = "$want_fp" ]
check "valid: spki sha256 $got_spki = $want_spki" [ "$got_spki" = "$want_spki" ]

# The missing intermediate is named by its exact subject.
want_int=$(openssl x509 -in "$PKI_DIR/intermediate.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
got_int=$(jq -r '.[] | select(.domain == "noint.mxs.test") | .hosts[0].addresses[0].pkix.missing_intermediate' "$out")
check "noint: missing intermediate '$got_int' = '$want_int'" [ "$got_int" = "$want_int" ]

summary
