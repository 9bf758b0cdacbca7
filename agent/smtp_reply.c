/*
 * smtp_reply — SMTP reply and EHLO keyword parser (see smtp_reply.h).
 *
 * Input is hostile: a line is validated completely before anything is
 * stored, so a rejected line leaves the reply exactly as it was.  Text is
 * kept printable (other bytes become '?') so it can be logged and shipped
 * as evidence without escaping.  MXS_SMTP_LINE_MAX counts the CRLF the
 * caller stripped (limits.h), so a line may carry two octets less.
 */
#include "smtp_reply.h"
#include "result.h"

#include <stdlib.h>
#include <string.h>

/* Longest line content: MXS_SMTP_LINE_MAX includes CR LF. */
#define LINE_CONTENT_MAX (MXS_SMTP_LINE_MAX - 2)

void
mxs_smtp_reply_reset(struct mxs_smtp_reply *r)
{
	r->code = 0;
	r->nlines = 0;
	r->len = 0;
	r->text[0] = '\0';
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
is_alnum(unsigned char c)
{
	return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static char
upper(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

/* Reply code of line; 0 when the first three octets are not 200..599. */
static int
line_code(const unsigned char *p, size_t len)
{
	if (len < 3 || !is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2]))
		return 0;
	if (p[0] < '2' || p[0] > '5')
		return 0;
	return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

int
mxs_smtp_reply_feed(struct mxs_smtp_reply *r, const char *line, size_t len, char *errstr,
                    size_t errlen)
{
	const unsigned char *p = (const unsigned char *)line;
	size_t need, i;
	int code, last;

	if (line == NULL && len > 0)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "NULL line");
	if (len > LINE_CONTENT_MAX)
		return mxs_seterr(errstr, errlen, MXS_ELIMIT, "reply line of %zu octets (max %d)",
		                  len, LINE_CONTENT_MAX);
	if (r->nlines >= MXS_SMTP_REPLY_LINES)
		return mxs_seterr(errstr, errlen, MXS_ELIMIT, "more than %d reply lines",
		                  MXS_SMTP_REPLY_LINES);
	if (len > 0 && memchr(p, '\0', len) != NULL)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "NUL octet in reply line");
	if ((code = line_code(p, len)) == 0)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "no reply code 200..599");
	if (len > 3 && p[3] != ' ' && p[3] != '-')
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "bad separator after reply code");
	if (r->nlines > 0 && code != r->code)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "reply code changed from %d to %d",
		                  r->code, code);
	last = len == 3 || p[3] == ' ';

	/* Text after the separator, a '\n' before every line but the first,
	 * and the terminating NUL must fit. */
	need = (len > 4 ? len - 4 : 0) + (r->nlines > 0 ? 1 : 0) + 1;
	if (r->len >= sizeof(r->text) || need > sizeof(r->text) - r->len)
		return mxs_seterr(errstr, errlen, MXS_ELIMIT, "reply text over %d octets",
		                  MXS_SMTP_REPLY_MAX);

	if (r->nlines > 0)
		r->text[r->len++] = '\n';
	for (i = 4; i < len; i++)
		r->text[r->len++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	r->text[r->len] = '\0';
	r->code = code;
	r->nlines++;
	return last;
}

void
mxs_smtp_reply_first_line(const struct mxs_smtp_reply *r, char *buf, size_t buflen)
{
	size_t i;

	if (buflen == 0)
		return;
	for (i = 0; i + 1 < buflen && i < r->len && i < sizeof(r->text); i++) {
		if (r->text[i] == '\n' || r->text[i] == '\0')
			break;
		buf[i] = r->text[i];
	}
	buf[i] = '\0';
}

/*
 * One EHLO line [p, end): "keyword" or "keyword SP params".  Writes the
 * normalised "KEYWORD params" into out and returns its keyword length, or 0
 * when the line is not ehlo-line syntax (or does not fit out).
 */
static size_t
ehlo_line(const char *p, const char *end, char *out, size_t outlen)
{
	size_t kw = 0, o;
	const char *params, *q;

	while (p + kw < end && (is_alnum((unsigned char)p[kw]) || (kw > 0 && p[kw] == '-')))
		kw++;
	if (kw == 0 || (p + kw < end && p[kw] != ' '))
		return 0;
	params = p + kw;
	if (params < end)
		params++; /* the separating SP */
	for (q = params; q < end && *q == ' '; q++)
		;
	if (q == end) /* nothing but spaces after the keyword */
		params = end;
	if (kw + 1 + (size_t)(end - params) + 1 > outlen)
		return 0;
	for (o = 0; o < kw; o++)
		out[o] = upper(p[o]);
	if (params < end) {
		out[o++] = ' ';
		memcpy(out + o, params, (size_t)(end - params));
		o += (size_t)(end - params);
	}
	out[o] = '\0';
	return kw;
}

static void
caps_free(char ***caps, size_t *ncaps)
{
	for (size_t i = 0; i < *ncaps; i++)
		free((*caps)[i]);
	free(*caps);
	*caps = NULL;
	*ncaps = 0;
}

int
mxs_ehlo_parse(const struct mxs_smtp_reply *r, char ***caps, size_t *ncaps, int *starttls,
               size_t *dropped)
{
	char buf[MXS_SMTP_LINE_MAX];
	const char *p, *end, *nl;
	size_t kw;
	int rc;

	*caps = NULL;
	*ncaps = 0;
	*starttls = 0;
	*dropped = 0;
	if (r->code != 250 || r->nlines == 0 || r->len >= sizeof(r->text))
		return MXS_EINVAL;
	end = r->text + r->len;
	/* Line 1 is the greeting: skip it. */
	if ((p = memchr(r->text, '\n', r->len)) == NULL)
		return 0;
	for (p++; p <= end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((kw = ehlo_line(p, nl, buf, sizeof(buf))) == 0)
			continue;
		if (kw == 8 && strncmp(buf, "STARTTLS", 8) == 0)
			*starttls = 1;
		if (*ncaps >= MXS_EHLO_CAPS_MAX) {
			(*dropped)++;
			continue;
		}
		if ((rc = mxs_strv_add(caps, ncaps, MXS_EHLO_CAPS_MAX, buf)) != 0) {
			caps_free(caps, ncaps);
			*starttls = 0;
			*dropped = 0;
			return rc;
		}
	}
	return 0;
}
