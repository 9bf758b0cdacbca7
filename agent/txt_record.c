/*
 * txt_record — TXT joining, field tokenizer, extension grammar and the
 * RRset/outcome rules shared by mtasts_txt and tlsrpt_record (see
 * txt_record.h).
 *
 * Every input octet is hostile: each loop is bounded by the record length,
 * nothing is stored before it is checked, and reasons show input through
 * mxs_txt_quote so they can be logged without escaping.
 */
#include "txt_record.h"

#include <stdlib.h>
#include <string.h>

/* Longest piece of input quoted into a reason, NUL included. */
#define SHOW_MAX 41

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int
is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Shared by mxs_txt_join (strict) and mxs_txt_rrset_join (keeps NUL). */
static int
txt_concat(const unsigned char *rdata, size_t rdlen, char *buf, size_t buflen, size_t *len,
           unsigned *flags, int keepnul, char *errstr, size_t errlen)
{
	size_t i = 0, o = 0, sl, j;

	*len = 0;
	*flags = 0;
	if (buf == NULL || buflen == 0 || (rdata == NULL && rdlen > 0))
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "no TXT rdata or buffer");
	buf[0] = '\0';
	if (rdlen == 0)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "empty TXT rdata");
	while (i < rdlen) {
		sl = rdata[i++];
		if (sl > rdlen - i)
			return mxs_seterr(
			        errstr, errlen, MXS_ESYNTAX,
			        "TXT string of %zu octets at offset %zu runs past rdata of %zu", sl,
			        i - 1, rdlen);
		if (sl >= buflen - o)
			return mxs_seterr(errstr, errlen, MXS_ELIMIT, "TXT text over %zu octets",
			                  buflen - 1);
		for (j = 0; j < sl; j++) {
			if (rdata[i + j] == 0 && !keepnul)
				return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
				                  "NUL octet at offset %zu of the TXT text", o + j);
			if (rdata[i + j] >= 0x80)
				*flags |= MXS_TXT_F_NONASCII;
		}
		memcpy(buf + o, rdata + i, sl);
		o += sl;
		i += sl;
	}
	buf[o] = '\0';
	*len = o;
	return 0;
}

int
mxs_txt_join(const unsigned char *rdata, size_t rdlen, char *buf, size_t buflen, size_t *len,
             unsigned *flags, char *errstr, size_t errlen)
{
	int rc = txt_concat(rdata, rdlen, buf, buflen, len, flags, 0, errstr, errlen);

	if (rc != 0 && buflen > 0) {
		buf[0] = '\0';
		*len = 0;
	}
	return rc;
}

int
mxs_txt_rrset_join(const struct mxs_dns_msg *m, const char *qname, struct mxs_txt_str **txt,
                   size_t *n, char *errstr, size_t errlen)
{
	const struct mxs_rr *rrs[MXS_DNS_RR_MAX];
	struct mxs_txt_str *out;
	size_t nrr = 0, total = 0, i, len;
	unsigned flags;
	char *text;
	int rc;

	*txt = NULL;
	*n = 0;
	if ((rc = mxs_dns_select(m, qname, MXS_DNS_T_TXT, rrs, MXS_DNS_RR_MAX, &nrr, NULL, 0)) != 0)
		return mxs_seterr(errstr, errlen, rc, "TXT answer for %s: %s", qname,
		                  rc == MXS_ELIMIT ? "CNAME chain too long or looping"
		                                   : mxs_strerror(rc));
	if (nrr == 0)
		return 0;
	for (i = 0; i < nrr; i++)
		total += (size_t)rrs[i]->rdlen + 1;
	if ((out = malloc(nrr * sizeof(*out) + total)) == NULL)
		return mxs_seterr(errstr, errlen, MXS_ENOMEM, "TXT RRset");
	text = (char *)(out + nrr);
	for (i = 0; i < nrr; i++) {
		/* The text of an RR is never longer than its rdata. */
		rc = txt_concat(rrs[i]->rdata, rrs[i]->rdlen, text, (size_t)rrs[i]->rdlen + 1, &len,
		                &flags, 1, errstr, errlen);
		if (rc != 0)
			goto out;
		out[i].s = text;
		out[i].len = len;
		text += len + 1;
	}
	*txt = out;
	*n = nrr;
	out = NULL;
out:
	free(out);
	return rc;
}

void
mxs_txt_rrset_free(struct mxs_txt_str **txt)
{
	if (txt == NULL)
		return;
	free(*txt);
	*txt = NULL;
}

int
mxs_txt_has_version(const char *rec, size_t len, const char *tag)
{
	size_t tl = strlen(tag);

	if (rec == NULL || len < tl || memcmp(rec, tag, tl) != 0)
		return 0;
	return len == tl || rec[tl] == ';' || is_wsp(rec[tl]);
}

void
mxs_txt_tok_init(struct mxs_txt_tok *t, const char *rec, size_t len)
{
	t->p = rec;
	t->end = rec + len;
	t->nfields = 0;
}

static int
tok_err(const char *p, size_t len, const char *what, char *errstr, size_t errlen)
{
	char shown[SHOW_MAX];

	mxs_txt_quote(shown, sizeof(shown), p, len);
	return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "field '%s' %s", shown, what);
}

/* Step over the delimiter after a field: 1 at a field, 0 at the end. */
static int
tok_delim(struct mxs_txt_tok *t, char *errstr, size_t errlen)
{
	const char *q = t->p;

	if (q == t->end)
		return 0;
	while (q < t->end && is_wsp(*q))
		q++;
	if (q == t->end)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
		                  "whitespace after the last field without ';'");
	if (*q != ';') /* fields stop at ';' or the end: cannot happen */
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "expected ';' after a field");
	for (q++; q < t->end && is_wsp(*q); q++)
		;
	t->p = q;
	if (q == t->end)
		return 0; /* the optional trailing delimiter */
	if (*q == ';')
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "empty field between two ';'");
	return 1;
}

int
mxs_txt_tok_next(struct mxs_txt_tok *t, struct mxs_txt_field *f, char *errstr, size_t errlen)
{
	const char *q, *fe, *eq;
	int rc;

	memset(f, 0, sizeof(*f));
	if (t->nfields == 0) {
		if (t->p == t->end)
			return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "empty record");
		if (is_wsp(*t->p))
			return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
			                  "whitespace before the first field");
		if (*t->p == ';')
			return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "record begins with ';'");
	} else if ((rc = tok_delim(t, errstr, errlen)) <= 0) {
		return rc;
	}
	q = t->p;
	if ((fe = memchr(q, ';', (size_t)(t->end - q))) == NULL)
		fe = t->end;
	while (fe > q && is_wsp(fe[-1]))
		fe--;
	if ((eq = memchr(q, '=', (size_t)(fe - q))) == NULL)
		return tok_err(q, (size_t)(fe - q), "has no '='", errstr, errlen);
	if (eq == q)
		return tok_err(q, (size_t)(fe - q), "has no name", errstr, errlen);
	f->name = q;
	f->namelen = (size_t)(eq - q);
	f->value = eq + 1;
	f->valuelen = (size_t)(fe - eq - 1);
	t->p = fe;
	t->nfields++;
	return 1;
}

int
mxs_txt_field_is(const struct mxs_txt_field *f, const char *s)
{
	size_t sl = strlen(s);

	return f->namelen == sl && memcmp(f->name, s, sl) == 0;
}

static int
ext_value_octet(unsigned char c)
{
	return (c >= 0x21 && c <= 0x3a) || c == 0x3c || (c >= 0x3e && c <= 0x7e);
}

int
mxs_txt_ext_check(const struct mxs_txt_field *f, char *errstr, size_t errlen)
{
	const unsigned char *v = (const unsigned char *)f->value;
	char name[SHOW_MAX];
	size_t i;

	mxs_txt_quote(name, sizeof(name), f->name, f->namelen);
	if (f->namelen > MXS_TXT_EXT_NAME_MAX)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
		                  "extension name '%s' longer than %d octets", name,
		                  MXS_TXT_EXT_NAME_MAX);
	for (i = 0; i < f->namelen; i++) {
		unsigned char c = (unsigned char)f->name[i];

		if (is_alnum(c) || (i > 0 && (c == '_' || c == '-' || c == '.')))
			continue;
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
		                  "extension name '%s': octet 0x%02x at position %zu not allowed",
		                  name, c, i + 1);
	}
	if (f->valuelen == 0)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "extension '%s' has an empty value",
		                  name);
	for (i = 0; i < f->valuelen; i++)
		if (!ext_value_octet(v[i]))
			return mxs_seterr(
			        errstr, errlen, MXS_ESYNTAX,
			        "extension '%s': %s octet 0x%02x at position %zu of the value",
			        name, v[i] >= 0x80 ? "non-ASCII" : "disallowed", v[i], i + 1);
	return 0;
}

int
mxs_txt_exts_add(struct mxs_txt_exts *e, const struct mxs_txt_field *f, char *errstr, size_t errlen)
{
	struct mxs_txt_ext *x;
	size_t i, vl;
	int rc;

	if ((rc = mxs_txt_ext_check(f, errstr, errlen)) != 0)
		return rc;
	for (i = 0; i < e->n; i++) {
		if (strlen(e->ext[i].name) == f->namelen &&
		    memcmp(e->ext[i].name, f->name, f->namelen) == 0) {
			e->duplicates++;
			return 0;
		}
	}
	if (e->n >= MXS_TXT_EXT_MAX) {
		e->dropped++;
		return 0;
	}
	x = &e->ext[e->n++];
	memcpy(x->name, f->name, f->namelen); /* checked: <= MXS_TXT_EXT_NAME_MAX */
	x->name[f->namelen] = '\0';
	vl = f->valuelen;
	x->truncated = vl >= sizeof(x->value);
	if (x->truncated)
		vl = sizeof(x->value) - 1;
	memcpy(x->value, f->value, vl);
	x->value[vl] = '\0';
	return 0;
}

static size_t
quoted_len(unsigned char c)
{
	return (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;
}

void
mxs_txt_quote(char *out, size_t outlen, const char *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t need = 0, room, limit, o = 0, i;

	if (out == NULL || outlen == 0)
		return;
	room = outlen - 1;
	for (i = 0; i < len && need <= room; i++)
		need += quoted_len((unsigned char)p[i]);
	limit = need <= room ? room : (room > 3 ? room - 3 : 0);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (o + quoted_len(c) > limit)
			break;
		if (quoted_len(c) == 1) {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 0xf];
	}
	for (size_t k = 0; i < len && k < 3 && o < room; k++)
		out[o++] = '.';
	out[o] = '\0';
}

const char *
mxs_txt_verdict_name(enum mxs_txt_verdict v)
{
	switch (v) {
	case MXS_TXT_UNKNOWN:
		return "unknown";
	case MXS_TXT_VALID:
		return "valid";
	case MXS_TXT_NONE:
		return "none";
	case MXS_TXT_MULTIPLE:
		return "multiple";
	case MXS_TXT_INVALID:
		return "invalid";
	case MXS_TXT_TEMPORARY:
		return "temporary";
	}
	return "unknown";
}

enum mxs_txt_verdict
mxs_txt_dns_classify(const struct mxs_txt_answer *a, const char **why)
{
	enum mxs_txt_verdict v = MXS_TXT_TEMPORARY;
	const char *w;

	if (a->bogus) {
		w = "answer failed DNSSEC validation (bogus)";
	} else if (!a->answered) {
		w = "no usable response (timeout or unparsable)";
	} else if (a->rcode == 2) {
		w = "SERVFAIL";
	} else if (a->rcode == 3) {
		w = "NXDOMAIN";
		v = MXS_TXT_NONE;
	} else if (a->rcode != 0) {
		w = "unexpected RCODE (neither NOERROR nor NXDOMAIN)";
	} else if (a->ntxt == 0) {
		w = "NODATA (no TXT record at the name)";
		v = MXS_TXT_NONE;
	} else {
		w = "TXT records";
		v = MXS_TXT_UNKNOWN;
	}
	if (why != NULL)
		*why = w;
	return v;
}

enum mxs_txt_verdict
mxs_txt_rrset_pick(const struct mxs_txt_answer *a, const char *tag, const struct mxs_txt_str **cand,
                   size_t *ncand, size_t *ndiscarded, char *reason, size_t reasonlen)
{
	enum mxs_txt_verdict v;
	const char *why;

	*cand = NULL;
	*ncand = 0;
	*ndiscarded = 0;
	if (reasonlen > 0)
		reason[0] = '\0';
	if ((v = mxs_txt_dns_classify(a, &why)) != MXS_TXT_UNKNOWN) {
		(void)mxs_seterr(reason, reasonlen, 0, "%s: %s",
		                 v == MXS_TXT_NONE ? "no record" : "lookup failed", why);
		return v;
	}
	for (size_t i = 0; i < a->ntxt; i++) {
		if (!mxs_txt_has_version(a->txt[i].s, a->txt[i].len, tag)) {
			(*ndiscarded)++;
			continue;
		}
		if ((*ncand)++ == 0)
			*cand = &a->txt[i];
	}
	if (*ncand == 0) {
		(void)mxs_seterr(reason, reasonlen, 0,
		                 "no record: none of %zu TXT records begins with %s", a->ntxt, tag);
		return MXS_TXT_NONE;
	}
	if (*ncand > 1) {
		*cand = NULL;
		(void)mxs_seterr(reason, reasonlen, 0,
		                 "%zu TXT records begin with %s; exactly one is required", *ncand,
		                 tag);
		return MXS_TXT_MULTIPLE;
	}
	return MXS_TXT_UNKNOWN;
}

int
mxs_txt_other_field(const struct mxs_txt_field *f, struct mxs_txt_exts *e, size_t *duplicates,
                    char *errstr, size_t errlen)
{
	int rc;

	if (mxs_txt_field_is(f, "v")) {
		if ((rc = mxs_txt_ext_check(f, errstr, errlen)) != 0)
			return rc;
		(*duplicates)++;
		return 0;
	}
	return mxs_txt_exts_add(e, f, errstr, errlen);
}
