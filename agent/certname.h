/*
 * certname — RFC 6125 DNS-ID matching, shared by the certificate name check
 * and (issue 3) MTA-STS "mx" pattern matching (RFC 8461 §4.1).
 *
 * Comparison is ASCII case-insensitive and ignores one trailing dot on
 * either side.  A wildcard is honoured only as the whole left-most label
 * ("*.example.com"), matches exactly one non-empty label, and only when at
 * least two labels follow it; partial-label wildcards ("m*.example.com",
 * "*x.example.com", "xn--*") and wildcards elsewhere never match.  Names
 * are compared as A-labels; a U-label (non-ASCII byte) never matches.
 */
#ifndef MXS_CERTNAME_H
#define MXS_CERTNAME_H

#include <stddef.h>

/* 1 if presented identifier pattern matches reference host name, else 0. */
int mxs_name_match(const char *pattern, const char *host);

/*
 * 1 if s is a syntactically valid host name: LDH labels of 1..63 octets,
 * no leading or trailing hyphen, at most 253 octets without the optional
 * trailing dot, at least one dot, not an IPv4 or IPv6 literal.
 */
int mxs_hostname_valid(const char *s);

#endif
