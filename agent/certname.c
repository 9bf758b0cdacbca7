/*
 * certname — RFC 6125 DNS-ID matching and host-name syntax (see certname.h).
 *
 * Both sides of a match must be syntactically valid host names first (LDH
 * labels of 1..63 octets, at most 253 octets without the trailing dot, last
 * label not all-numeric so that IPv4 literals never pass); the pattern may
 * in addition have "*" as its whole left-most label.  Anything else —
 * U-labels, spaces, empty labels, partial wildcards — simply does not match:
 * a certificate or policy that needs them is not valid for the host.
 */
#include "certname.h"
#include "mxs_limits.h"

#include <string.h>

/* RFC 1035 §2.3.4: 255 wire octets = 253 presentation octets without the
 * trailing dot; a label is at most 63 octets. */
#define HOST_TEXT_MAX (MXS_DNS_NAME_MAX - 2)
#define LABEL_MAX     63

static int
is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

static unsigned char
lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* One label [p, p+n): LDH, 1..63 octets, no hyphen at either end. */
static int
label_valid(const char *p, size_t n)
{
	if (n == 0 || n > LABEL_MAX || p[0] == '-' || p[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_ldh((unsigned char)p[i]))
			return 0;
	return 1;
}

static int
all_digits(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return 1;
}

/*
 * Length of s without one trailing dot; returns the number of labels when
 * s[0..*len) is a host name (a "*" left-most label allowed if wild), else 0.
 */
static size_t
name_labels(const char *s, size_t *len, int wild)
{
	/* Reading one octet past the longest name is enough to reject it. */
	size_t n = strnlen(s, HOST_TEXT_MAX + 2), start = 0, labels = 0;

	if (n > 0 && s[n - 1] == '.')
		n--;
	*len = n;
	if (n == 0 || n > HOST_TEXT_MAX)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (!(wild && labels == 0 && i == 1 && s[0] == '*') &&
		    !label_valid(s + start, i - start))
			return 0;
		if (i == n && all_digits(s + start, i - start))
			return 0; /* no all-numeric TLD: an IPv4 literal */
		labels++;
		start = i + 1;
	}
	return labels;
}

static int
equal_nocase(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

int
mxs_name_match(const char *pattern, const char *host)
{
	size_t plen, hlen, plabels, hlabels;
	const char *hrest;

	if (pattern == NULL || host == NULL)
		return 0;
	if ((plabels = name_labels(pattern, &plen, 1)) == 0 ||
	    (hlabels = name_labels(host, &hlen, 0)) == 0)
		return 0;
	if (pattern[0] != '*')
		return plen == hlen && equal_nocase(pattern, host, plen);

	/* "*.rest": rest needs two labels, the host exactly one more. */
	if (plabels < 3 || hlabels != plabels)
		return 0;
	if ((hrest = memchr(host, '.', hlen)) == NULL)
		return 0;
	return (size_t)(host + hlen - hrest) == plen - 1 &&
	       equal_nocase(pattern + 1, hrest, plen - 1);
}

int
mxs_hostname_valid(const char *s)
{
	size_t len;

	return s != NULL && name_labels(s, &len, 0) >= 2;
}
