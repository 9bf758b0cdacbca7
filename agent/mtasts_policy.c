/*
 * mtasts_policy — MTA-STS policy body parser, media type check and MX
 * coverage (see mtasts_policy.h for the decisions taken).
 *
 * The body is walked once, line by line, with a pointer that never passes
 * body + len; nothing here needs the input NUL-terminated.  Each line is
 * first checked against the generic field grammar (every RFC 8461 field is
 * a valid sts-policy-extension syntactically), then by name.
 */
#include "mtasts_policy.h"
#include "certname.h"

#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN   32 /* sts-policy-ext-name: 1 + 31 characters */
#define MAX_AGE_DIGITS 10
#define QUOTE_SHOWN    48 /* input bytes shown in a reason before "..." */
#define QUOTE_BUF      (QUOTE_SHOWN * 4 + 8)

struct pstate {
	struct mxs_sts_policy *pol;
	size_t line;
	int have_version, have_mode, have_max_age;
	char *errstr;
	size_t errlen;
};

/* Escape [p, p+n) for a reason: printable ASCII as is, others \xHH. */
static const char *
quote(char *dst, size_t dstlen, const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n && i < QUOTE_SHOWN && o + 5 < dstlen; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			dst[o++] = (char)c;
			continue;
		}
		dst[o++] = '\\';
		dst[o++] = 'x';
		dst[o++] = hex[c >> 4];
		dst[o++] = hex[c & 15];
	}
	if (n > QUOTE_SHOWN && o + 4 < dstlen) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}

static int
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int
is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int
tail(unsigned char c)
{
	return c >= 0x80 && c <= 0xbf;
}

/* Length (2..4) of the well-formed UTF-8 sequence at p (RFC 3629 §4), else 0. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];

	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && tail(p[1]) ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		return n >= 3 && p[1] >= lo && p[1] <= hi && tail(p[2]) ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		return n >= 4 && p[1] >= lo && p[1] <= hi && tail(p[2]) && tail(p[3]) ? 4 : 0;
	}
	return 0;
}

static int
fail(struct pstate *st, int err, const char *what, const char *p, size_t n, const char *why)
{
	char q[QUOTE_BUF];

	return mxs_seterr(st->errstr, st->errlen, err, "line %zu: %s \"%s\" %s", st->line, what,
	                  quote(q, sizeof(q), p, n), why);
}

static int
equals(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(p, lit, n) == 0;
}

/* sts-policy-ext-value after trimming: VCHAR / UTF-8, inner spaces only. */
static int
check_value(struct pstate *st, const char *name, size_t nlen, const char *v, size_t n)
{
	char q[QUOTE_BUF];

	if (n == 0)
		return mxs_seterr(st->errstr, st->errlen, MXS_ESYNTAX,
		                  "line %zu: field \"%s\" has no value", st->line,
		                  quote(q, sizeof(q), name, nlen));
	for (size_t i = 0; i < n;) {
		const unsigned char *u = (const unsigned char *)v + i;
		size_t k = 1;

		if (*u >= 0x80 && (k = utf8_len(u, n - i)) == 0)
			return mxs_seterr(
			        st->errstr, st->errlen, MXS_ESYNTAX,
			        "line %zu: invalid UTF-8 byte 0x%02x in the value of \"%s\"",
			        st->line, *u, quote(q, sizeof(q), name, nlen));
		if (*u < 0x20 || *u == 0x7f)
			return mxs_seterr(st->errstr, st->errlen, MXS_ESYNTAX,
			                  "line %zu: control byte 0x%02x in the value of \"%s\"",
			                  st->line, *u, quote(q, sizeof(q), name, nlen));
		i += k;
	}
	return 0;
}

static int
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* "[...]", dotted digits, or hex digits with colons: an address, not a name. */
static int
ip_literal(const char *p, size_t n)
{
	size_t digits = 0, colons = 0, hexalpha = 0;

	if (p[0] == '[')
		return 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= '0' && c <= '9')
			digits++;
		else if (c == ':')
			colons++;
		else if (is_hex(c))
			hexalpha++;
		else if (c != '.')
			return 0;
	}
	return colons > 0 || (digits > 0 && hexalpha == 0);
}

/* "mx": ["*."] host name, A-labels, no literal, no trailing dot. */
static int
parse_mx(struct pstate *st, const char *v, size_t n)
{
	struct mxs_sts_policy *pol = st->pol;
	size_t skip = n > 2 && v[0] == '*' && v[1] == '.' ? 2 : 0;
	char *copy;

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] >= 0x80)
			return fail(st, MXS_ESYNTAX, "mx pattern", v, n,
			            "is not ASCII: IDNs must be written as A-labels (xn--)");
	if (ip_literal(v + skip, n - skip))
		return fail(st, MXS_ESYNTAX, "mx pattern", v, n,
		            "is an IP address literal, not a domain");
	if (memchr(v + skip, '*', n - skip) != NULL)
		return fail(st, MXS_ESYNTAX, "mx pattern", v, n,
		            "has a wildcard other than a whole left-most \"*\" label");
	if (v[n - 1] == '.')
		return fail(st, MXS_ESYNTAX, "mx pattern", v, n, "ends in a dot");
	if (pol->nmx == MXS_STS_MX_MAX)
		return mxs_seterr(st->errstr, st->errlen, MXS_ELIMIT,
		                  "line %zu: more than %d mx patterns", st->line, MXS_STS_MX_MAX);
	if ((copy = malloc(n + 1)) == NULL)
		return mxs_seterr(st->errstr, st->errlen, MXS_ENOMEM, "line %zu: out of memory",
		                  st->line);
	memcpy(copy, v, n);
	copy[n] = '\0';
	if (!mxs_hostname_valid(copy + skip)) {
		free(copy);
		return fail(st, MXS_ESYNTAX, "mx pattern", v, n,
		            "is not a host name (LDH labels of 1..63 octets, no hyphen at either "
		            "end, at least two labels after any \"*.\")");
	}
	pol->mx[pol->nmx++] = copy;
	return 0;
}

static int
parse_max_age(struct pstate *st, const char *v, size_t n)
{
	uint64_t age = 0;

	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return fail(st, MXS_ESYNTAX, "max_age", v, n,
			            "is not a non-negative decimal integer");
		age = age * 10 + (uint64_t)(v[i] - '0');
		if (i + 1 > MAX_AGE_DIGITS)
			return fail(st, MXS_ESYNTAX, "max_age", v, n, "has more than 10 digits");
	}
	if (age > MXS_STS_MAX_AGE_MAX)
		return mxs_seterr(st->errstr, st->errlen, MXS_ESYNTAX,
		                  "line %zu: max_age %llu exceeds the maximum %d", st->line,
		                  (unsigned long long)age, MXS_STS_MAX_AGE_MAX);
	st->pol->max_age = (uint32_t)age;
	st->have_max_age = 1;
	return 0;
}

static int
parse_version(struct pstate *st, const char *v, size_t n)
{
	if (!equals(v, n, "STSv1"))
		return fail(st, MXS_ESYNTAX, "version", v, n, "is not STSv1");
	st->have_version = 1;
	return 0;
}

static int
parse_mode(struct pstate *st, const char *v, size_t n)
{
	if (equals(v, n, "enforce"))
		st->pol->mode = MXS_STS_MODE_ENFORCE;
	else if (equals(v, n, "testing"))
		st->pol->mode = MXS_STS_MODE_TESTING;
	else if (equals(v, n, "none"))
		st->pol->mode = MXS_STS_MODE_NONE;
	else
		return fail(st, MXS_ESYNTAX, "mode", v, n, "is not enforce, testing or none");
	st->have_mode = 1;
	return 0;
}

static char *
dup_bytes(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s != NULL) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* Unknown field: keep the first of each name, up to MXS_STS_EXT_MAX. */
static int
parse_ext(struct pstate *st, const char *name, size_t nlen, const char *v, size_t n)
{
	struct mxs_sts_policy *pol = st->pol;
	struct mxs_sts_ext *e;

	for (size_t i = 0; i < pol->next; i++) {
		if (equals(name, nlen, pol->ext[i].name)) {
			pol->dup_ignored++;
			return 0;
		}
	}
	if (pol->next == MXS_STS_EXT_MAX) {
		pol->ext_dropped++;
		return 0;
	}
	e = &pol->ext[pol->next];
	if ((e->name = dup_bytes(name, nlen)) == NULL || (e->value = dup_bytes(v, n)) == NULL) {
		free(e->name);
		e->name = NULL;
		return mxs_seterr(st->errstr, st->errlen, MXS_ENOMEM, "line %zu: out of memory",
		                  st->line);
	}
	pol->next++;
	return 0;
}

/* Route a syntactically valid field by its (case-sensitive) name. */
static int
dispatch(struct pstate *st, const char *name, size_t nlen, const char *v, size_t n)
{
	if (equals(name, nlen, "mx"))
		return parse_mx(st, v, n);
	if (equals(name, nlen, "version") && !st->have_version)
		return parse_version(st, v, n);
	if (equals(name, nlen, "mode") && !st->have_mode)
		return parse_mode(st, v, n);
	if (equals(name, nlen, "max_age") && !st->have_max_age)
		return parse_max_age(st, v, n);
	if (equals(name, nlen, "version") || equals(name, nlen, "mode") ||
	    equals(name, nlen, "max_age")) {
		st->pol->dup_ignored++; /* §3.2: all but the first SHALL be ignored */
		return 0;
	}
	return parse_ext(st, name, nlen, v, n);
}

/* One line without its terminator: name ":" *WSP value *WSP. */
static int
parse_line(struct pstate *st, const char *s, size_t n)
{
	const char *cr = memchr(s, '\r', n);
	size_t i = 0, v, e;

	if (n == 0)
		return mxs_seterr(st->errstr, st->errlen, MXS_ESYNTAX,
		                  "line %zu: blank line (not allowed by RFC 8461 §3.2)", st->line);
	if (cr != NULL)
		return mxs_seterr(st->errstr, st->errlen, MXS_ESYNTAX,
		                  "line %zu: bare CR at column %zu (lines end in LF or CRLF)",
		                  st->line, (size_t)(cr - s) + 1);
	if (!is_alnum((unsigned char)s[0]))
		return fail(st, MXS_ESYNTAX, "text", s, n,
		            "does not start with a field name (letter or digit)");
	while (i < n &&
	       (is_alnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.'))
		i++;
	if (i > NAME_MAX_LEN)
		return fail(st, MXS_ESYNTAX, "field name", s, i, "is longer than 32 characters");
	if (i == n || s[i] != ':')
		return fail(st, MXS_ESYNTAX, "text", s, n,
		            "is not name \":\" value (name: letters, digits, \"_\", \"-\", \".\")");
	for (v = i + 1; v < n && is_wsp((unsigned char)s[v]); v++)
		;
	for (e = n; e > v && is_wsp((unsigned char)s[e - 1]); e--)
		;
	if (check_value(st, s, i, s + v, e - v) != 0)
		return MXS_ESYNTAX;
	return dispatch(st, s, i, s + v, e - v);
}

/* Line number at which the body crosses MXS_STS_POLICY_MAX. */
static size_t
line_at_limit(const char *body)
{
	size_t line = 1;
	const char *p = body, *end = body + MXS_STS_POLICY_MAX, *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		line++;
		p = nl + 1;
	}
	return line;
}

static int
check_required(struct pstate *st)
{
	const char *missing = !st->have_version   ? "version"
	                      : !st->have_mode    ? "mode"
	                      : !st->have_max_age ? "max_age"
	                                          : NULL;

	if (missing != NULL)
		return mxs_seterr(st->errstr, st->errlen, MXS_ESYNTAX,
		                  "line %zu: end of policy without the required %s field", st->line,
		                  missing);
	if (st->pol->nmx == 0 && st->pol->mode != MXS_STS_MODE_NONE)
		return mxs_seterr(
		        st->errstr, st->errlen, MXS_ESYNTAX,
		        "line %zu: end of policy without an mx field (required with mode %s)",
		        st->line, mxs_sts_mode_name(st->pol->mode));
	return 0;
}

int
mxs_sts_policy_parse(const char *body, size_t len, struct mxs_sts_policy **out, char *errstr,
                     size_t errlen)
{
	struct pstate st = {.errstr = errstr, .errlen = errlen};
	const char *p = body, *end = body + len;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (errstr != NULL && errlen > 0)
		errstr[0] = '\0';
	if (body == NULL || out == NULL)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "no policy body or output");
	if (len > MXS_STS_POLICY_MAX)
		return mxs_seterr(errstr, errlen, MXS_ELIMIT,
		                  "line %zu: policy body exceeds the maximum %d bytes",
		                  line_at_limit(body), MXS_STS_POLICY_MAX);
	if (len == 0)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
		                  "line 1: empty policy body (no version field)");
	if ((st.pol = calloc(1, sizeof(*st.pol))) == NULL ||
	    (st.pol->mx = calloc(MXS_STS_MX_MAX, sizeof(char *))) == NULL ||
	    (st.pol->ext = calloc(MXS_STS_EXT_MAX, sizeof(struct mxs_sts_ext))) == NULL) {
		rc = mxs_seterr(errstr, errlen, MXS_ENOMEM, "line 1: out of memory");
		goto out;
	}
	do {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *lend = nl != NULL ? nl : end;

		if (nl != NULL && lend > p && lend[-1] == '\r')
			lend--; /* CRLF */
		st.line++;
		if ((rc = parse_line(&st, p, (size_t)(lend - p))) != 0)
			goto out;
		p = nl != NULL ? nl + 1 : end;
	} while (p < end);
	st.pol->lines = st.line;
	rc = check_required(&st);
out:
	if (rc != 0)
		mxs_sts_policy_free(&st.pol);
	*out = st.pol;
	return rc;
}

void
mxs_sts_policy_free(struct mxs_sts_policy **pp)
{
	struct mxs_sts_policy *p;

	if (pp == NULL || (p = *pp) == NULL)
		return;
	if (p->mx != NULL)
		for (size_t i = 0; i < p->nmx; i++)
			free(p->mx[i]);
	if (p->ext != NULL)
		for (size_t i = 0; i < p->next; i++) {
			free(p->ext[i].name);
			free(p->ext[i].value);
		}
	free(p->mx);
	free(p->ext);
	free(p);
	*pp = NULL;
}

const char *
mxs_sts_mode_name(enum mxs_sts_mode mode)
{
	switch (mode) {
	case MXS_STS_MODE_ENFORCE:
		return "enforce";
	case MXS_STS_MODE_TESTING:
		return "testing";
	case MXS_STS_MODE_NONE:
		return "none";
	}
	return "?";
}

/* ---- media type (RFC 9110 §8.3.1, §5.6.6) ---- */

static int
is_tchar(unsigned char c)
{
	return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *
skip_ows(const char *p)
{
	while (is_wsp((unsigned char)*p))
		p++;
	return p;
}

static const char *
skip_token(const char *p)
{
	while (is_tchar((unsigned char)*p))
		p++;
	return p;
}

/* quoted-string at p (on the DQUOTE); returns the byte after it, or NULL. */
static const char *
skip_quoted(const char *p)
{
	for (p++; *p != '"'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '\\')
			c = (unsigned char)*++p;
		if (c == '\0' || (c < 0x20 && c != '\t') || c == 0x7f)
			return NULL;
	}
	return p + 1;
}

/* *( OWS ";" OWS [ token "=" ( token / quoted-string ) ] ) OWS; NULL if bad. */
static const char *
skip_params(const char *p)
{
	for (p = skip_ows(p); *p == ';'; p = skip_ows(p)) {
		const char *name = p = skip_ows(p + 1);

		if (*p == ';' || *p == '\0')
			continue; /* empty parameter (RFC 9110 allows it) */
		if ((p = skip_token(p)) == name || *p++ != '=')
			return NULL;
		if (*p == '"')
			p = skip_quoted(p);
		else if (skip_token(p) != p)
			p = skip_token(p);
		else
			return NULL;
		if (p == NULL)
			return NULL;
	}
	return p;
}

static int
equal_nocase(const char *p, size_t n, const char *lit)
{
	if (strlen(lit) != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c) != (unsigned char)lit[i])
			return 0;
	}
	return 1;
}

int
mxs_sts_media_type_check(const char *ct, char *errstr, size_t errlen)
{
	const char *type, *slash, *sub, *end, *rest;
	char q[QUOTE_BUF];

	if (ct == NULL)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
		                  "no Content-Type (RFC 8461 §3.2: text/plain)");
	type = skip_ows(ct);
	slash = skip_token(type);
	sub = slash + 1;
	if (slash == type || *slash != '/' || (end = skip_token(sub)) == sub ||
	    (rest = skip_params(end)) == NULL || *rest != '\0')
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
		                  "Content-Type \"%s\" is not a media type",
		                  quote(q, sizeof(q), ct, strnlen(ct, QUOTE_SHOWN + 1)));
	if (!equal_nocase(type, (size_t)(slash - type), "text") ||
	    !equal_nocase(sub, (size_t)(end - sub), "plain"))
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
		                  "media type \"%s\" is not text/plain (RFC 8461 §3.2)",
		                  quote(q, sizeof(q), type, (size_t)(end - type)));
	if (errstr != NULL && errlen > 0)
		errstr[0] = '\0';
	return 0;
}

/* ---- coverage (RFC 8461 §4.1) ---- */

int
mxs_sts_coverage(const struct mxs_sts_policy *p, const char *const *hosts, size_t nhosts,
                 struct mxs_sts_coverage *cov)
{
	if (cov == NULL)
		return MXS_EINVAL;
	memset(cov, 0, sizeof(*cov));
	if (p == NULL || (hosts == NULL && nhosts > 0))
		return MXS_EINVAL;
	if (nhosts > MXS_MX_MAX || p->nmx > MXS_STS_MX_MAX)
		return MXS_ELIMIT;
	for (size_t i = 0; i < nhosts; i++)
		if (hosts[i] == NULL)
			return MXS_EINVAL;
	for (size_t i = 0; i < nhosts; i++) {
		cov->host_pattern[i] = -1;
		for (size_t j = 0; j < p->nmx; j++) {
			if (!mxs_name_match(p->mx[j], hosts[i]))
				continue;
			cov->pattern_hosts[j]++;
			if (cov->host_pattern[i] < 0)
				cov->host_pattern[i] = (int)j;
		}
		if (cov->host_pattern[i] < 0)
			cov->uncovered++;
	}
	for (size_t j = 0; j < p->nmx; j++)
		if (cov->pattern_hosts[j] == 0)
			cov->unused++;
	cov->nhosts = nhosts;
	return 0;
}
