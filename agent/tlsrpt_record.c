/*
 * tlsrpt_record — _smtp._tls TXT record parser and RRset verdict (see
 * tlsrpt_record.h for the grammar and the decisions taken).
 *
 * The rua= list is walked with a pointer that only moves forward; the same
 * walk checks a repeated rua= without storing it (out NULL).
 */
#include "tlsrpt_record.h"

#include <string.h>

/* Longest piece of input quoted into a reason, NUL included. */
#define SHOW_MAX 41

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int
is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

/* RFC 3986 octets outside pct-encoded, minus the three RFC 8460 §3 makes
 * the publisher encode ("," and ";" never reach here: they delimit). */
static int
uri_octet(unsigned char c)
{
	if (is_alpha(c) || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("-._~$&'()*+=:@/?#[]", c) != NULL;
}

/* ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) after the first. */
static int
scheme_octet(unsigned char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

static int
scheme_is(const char *p, size_t len, const char *s)
{
	size_t i;

	if (len != strlen(s))
		return 0;
	for (i = 0; i < len; i++)
		if ((p[i] | 0x20) != s[i])
			return 0;
	return 1;
}

/* What follows "mailto:" / "https:" (rest, n octets) must name a target. */
static int
uri_target(enum mxs_tlsrpt_scheme sch, const char *rest, size_t n, const char *shown, char *errstr,
           size_t errlen)
{
	size_t i, at = 0, end = n;

	if (sch == MXS_TLSRPT_MAILTO) {
		const char *q = memchr(rest, '?', n);

		if (q != NULL)
			end = (size_t)(q - rest);
		for (i = 0; i < end; i++)
			if (rest[i] == '@')
				at = i;
		if (end == 0 || at == 0 || at + 1 >= end)
			return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
			                  "rua URI '%s': mailto: needs local@domain", shown);
		return 0;
	}
	if (n < 3 || rest[0] != '/' || rest[1] != '/' || strchr("/?#", rest[2]) != NULL)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "rua URI '%s': https: needs //host",
		                  shown);
	return 0;
}

/* One tlsrpt-uri of len octets at p (no WSP, no ","). */
static int
uri_check(const char *p, size_t len, enum mxs_tlsrpt_scheme *sch, char *errstr, size_t errlen)
{
	const unsigned char *u = (const unsigned char *)p;
	char shown[SHOW_MAX];
	size_t i, colon = 0;

	mxs_txt_quote(shown, sizeof(shown), p, len);
	if (len >= MXS_TLSRPT_URI_MAX)
		return mxs_seterr(errstr, errlen, MXS_ELIMIT, "rua URI '%s' of %zu octets (max %d)",
		                  shown, len, MXS_TLSRPT_URI_MAX - 1);
	if (len > 0 && is_alpha(u[0]))
		for (colon = 1; colon < len && scheme_octet(u[colon]); colon++)
			;
	if (colon == 0 || colon >= len || u[colon] != ':')
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "rua URI '%s' has no scheme", shown);
	if (scheme_is(p, colon, "mailto"))
		*sch = MXS_TLSRPT_MAILTO;
	else if (scheme_is(p, colon, "https"))
		*sch = MXS_TLSRPT_HTTPS;
	else
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
		                  "rua URI '%s': scheme not allowed (mailto: or https: only)",
		                  shown);
	for (i = colon + 1; i < len; i++) {
		if (u[i] == '%') {
			if (len - i < 3 || !is_hex(u[i + 1]) || !is_hex(u[i + 2]))
				return mxs_seterr(
				        errstr, errlen, MXS_ESYNTAX,
				        "rua URI '%s': bad percent-encoding at position %zu", shown,
				        i + 1);
			i += 2;
		} else if (u[i] == '!') {
			return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
			                  "rua URI '%s': '!' must be percent-encoded", shown);
		} else if (!uri_octet(u[i])) {
			return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
			                  "rua URI '%s': octet 0x%02x at position %zu not allowed",
			                  shown, u[i], i + 1);
		}
	}
	return uri_target(*sch, p + colon + 1, len - colon - 1, shown, errstr, errlen);
}

/* tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri) in f's value; out NULL: check only. */
static int
rua_parse(const struct mxs_txt_field *f, struct mxs_tlsrpt_record *out, char *errstr, size_t errlen)
{
	const char *p = f->value, *end = f->value + f->valuelen, *start;
	enum mxs_tlsrpt_scheme sch = MXS_TLSRPT_MAILTO;
	char shown[SHOW_MAX];
	size_t count = 0;
	int rc;

	for (;;) {
		for (start = p; p < end && !is_wsp(*p) && *p != ','; p++)
			;
		if (p == start)
			return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
			                  count         ? "rua= has an empty URI after ','"
			                  : f->valuelen ? "rua= does not begin with a URI"
			                                : "rua= is empty");
		if ((rc = uri_check(start, (size_t)(p - start), &sch, errstr, errlen)) != 0)
			return rc;
		if (++count > MXS_TLSRPT_RUA_MAX)
			return mxs_seterr(errstr, errlen, MXS_ELIMIT, "rua= has more than %d URIs",
			                  MXS_TLSRPT_RUA_MAX);
		if (out != NULL) {
			out->rua[out->nrua].scheme = sch;
			memcpy(out->rua[out->nrua].uri, start, (size_t)(p - start));
			out->rua[out->nrua].uri[p - start] = '\0';
			out->nrua++;
		}
		while (p < end && is_wsp(*p))
			p++;
		if (p == end)
			return 0;
		if (*p != ',') {
			mxs_txt_quote(shown, sizeof(shown), p, (size_t)(end - p));
			return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
			                  "rua=: '%s' follows a URI without ','", shown);
		}
		for (p++; p < end && is_wsp(*p); p++)
			;
	}
}

static int
rpt_field(struct mxs_tlsrpt_record *out, const struct mxs_txt_field *f, int *have_rua, char *errstr,
          size_t errlen)
{
	int rc;

	if (mxs_txt_field_is(f, "rua")) {
		if (*have_rua) {
			if ((rc = rua_parse(f, NULL, errstr, errlen)) != 0)
				return rc;
			out->rua_repeated++;
			return 0;
		}
		*have_rua = 1;
		return rua_parse(f, out, errstr, errlen);
	}
	return mxs_txt_other_field(f, &out->ext, &out->duplicates, errstr, errlen);
}

int
mxs_tlsrpt_record_parse(const char *rec, size_t len, struct mxs_tlsrpt_record *out, char *errstr,
                        size_t errlen)
{
	struct mxs_txt_field f;
	struct mxs_txt_tok t;
	char shown[SHOW_MAX];
	int rc, have_rua = 0;

	memset(out, 0, sizeof(*out));
	if (rec == NULL)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "no record");
	if (len > MXS_TXT_TEXT_MAX)
		return mxs_seterr(errstr, errlen, MXS_ELIMIT, "record of %zu octets (max %d)", len,
		                  MXS_TXT_TEXT_MAX);
	if (!mxs_txt_has_version(rec, len, MXS_TLSRPT_TAG)) {
		mxs_txt_quote(shown, sizeof(shown), rec, len < 16 ? len : 16);
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
		                  "record does not begin with %s (begins '%s')", MXS_TLSRPT_TAG,
		                  shown);
	}
	mxs_txt_tok_init(&t, rec, len);
	if ((rc = mxs_txt_tok_next(&t, &f, errstr, errlen)) != 1) /* the version */
		return rc < 0 ? rc : MXS_ESYNTAX;
	while ((rc = mxs_txt_tok_next(&t, &f, errstr, errlen)) == 1)
		if ((rc = rpt_field(out, &f, &have_rua, errstr, errlen)) != 0)
			break;
	if (rc == 0 && !have_rua)
		rc = mxs_seterr(errstr, errlen, MXS_ESYNTAX, "required rua= field missing");
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

void
mxs_tlsrpt_record_judge(const struct mxs_txt_answer *a, struct mxs_tlsrpt_result *res)
{
	const struct mxs_txt_str *cand;
	char err[MXS_REASON_MAX];
	int rc;

	memset(res, 0, sizeof(*res));
	res->verdict = mxs_txt_rrset_pick(a, MXS_TLSRPT_TAG, &cand, &res->candidates,
	                                  &res->discarded, res->reason, sizeof(res->reason));
	if (res->verdict != MXS_TXT_UNKNOWN)
		return;
	if ((rc = mxs_tlsrpt_record_parse(cand->s, cand->len, &res->rec, err, sizeof(err))) != 0) {
		res->verdict = MXS_TXT_INVALID;
		res->over_limit = rc == MXS_ELIMIT;
		(void)mxs_seterr(res->reason, sizeof(res->reason), 0,
		                 "invalid _smtp._tls record: %s", err);
		return;
	}
	res->verdict = MXS_TXT_VALID;
	(void)mxs_seterr(res->reason, sizeof(res->reason), 0, "%zu rua URI(s), first %s%s%s",
	                 res->rec.nrua, res->rec.rua[0].uri,
	                 res->rec.rua_repeated ? "; repeated rua= ignored, the first wins" : "",
	                 res->rec.duplicates + res->rec.ext.duplicates
	                         ? "; repeated fields ignored, the first wins"
	                         : "");
}
