/*
 * mtasts_txt — _mta-sts TXT record parser and RRset verdict (see
 * mtasts_txt.h for the grammar and the decisions taken).
 *
 * The record is walked once with the shared tokenizer; the first error
 * found, in record order, is the one reported.
 */
#include "mtasts_txt.h"

#include <string.h>

/* Longest piece of input quoted into a reason, NUL included. */
#define SHOW_MAX 41

static int
is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* sts-id value: 1*32(ALPHA / DIGIT). */
static int
id_check(const struct mxs_txt_field *f, char *errstr, size_t errlen)
{
	char shown[SHOW_MAX];
	size_t i;

	mxs_txt_quote(shown, sizeof(shown), f->value, f->valuelen);
	if (f->valuelen == 0)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "id= is empty");
	if (f->valuelen > MXS_STS_ID_MAX)
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "id '%s' is %zu octets (max %d)",
		                  shown, f->valuelen, MXS_STS_ID_MAX);
	for (i = 0; i < f->valuelen; i++)
		if (!is_alnum((unsigned char)f->value[i]))
			return mxs_seterr(
			        errstr, errlen, MXS_ESYNTAX,
			        "id '%s': octet 0x%02x at position %zu is not ALPHA/DIGIT", shown,
			        (unsigned char)f->value[i], i + 1);
	return 0;
}

/* 1 when a case-variant of "id" was kept as an extension. */
static int
id_lookalike(const struct mxs_txt_exts *e)
{
	for (size_t i = 0; i < e->n; i++) {
		const char *n = e->ext[i].name;

		if ((n[0] == 'i' || n[0] == 'I') && (n[1] == 'd' || n[1] == 'D') && n[2] == '\0')
			return 1;
	}
	return 0;
}

static int
sts_field(struct mxs_mtasts_txt *out, const struct mxs_txt_field *f, int *have_id, char *errstr,
          size_t errlen)
{
	int rc;

	if (mxs_txt_field_is(f, "id")) {
		if ((rc = id_check(f, errstr, errlen)) != 0)
			return rc;
		if (*have_id) {
			out->duplicates++;
			return 0;
		}
		memcpy(out->id, f->value, f->valuelen); /* checked: <= MXS_STS_ID_MAX */
		out->id[f->valuelen] = '\0';
		*have_id = 1;
		return 0;
	}
	return mxs_txt_other_field(f, &out->ext, &out->duplicates, errstr, errlen);
}

int
mxs_mtasts_txt_parse(const char *rec, size_t len, struct mxs_mtasts_txt *out, char *errstr,
                     size_t errlen)
{
	struct mxs_txt_field f;
	struct mxs_txt_tok t;
	char shown[SHOW_MAX];
	int rc, alike, have_id = 0;

	memset(out, 0, sizeof(*out));
	if (rec == NULL)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "no record");
	if (len > MXS_TXT_TEXT_MAX)
		return mxs_seterr(errstr, errlen, MXS_ELIMIT, "record of %zu octets (max %d)", len,
		                  MXS_TXT_TEXT_MAX);
	if (!mxs_txt_has_version(rec, len, MXS_STS_TAG)) {
		mxs_txt_quote(shown, sizeof(shown), rec, len < 16 ? len : 16);
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX,
		                  "record does not begin with %s (begins '%s')", MXS_STS_TAG,
		                  shown);
	}
	mxs_txt_tok_init(&t, rec, len);
	/* The first field is the version, checked above. */
	if ((rc = mxs_txt_tok_next(&t, &f, errstr, errlen)) != 1)
		return rc < 0 ? rc : MXS_ESYNTAX;
	while ((rc = mxs_txt_tok_next(&t, &f, errstr, errlen)) == 1)
		if ((rc = sts_field(out, &f, &have_id, errstr, errlen)) != 0)
			break;
	if (rc != 0) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	if (!have_id) {
		alike = id_lookalike(&out->ext);
		memset(out, 0, sizeof(*out));
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "required id= field missing%s",
		                  alike ? " (one in another case: field names are case-sensitive)"
		                        : "");
	}
	return 0;
}

void
mxs_mtasts_txt_judge(const struct mxs_txt_answer *a, struct mxs_mtasts_txt_result *res)
{
	const struct mxs_txt_str *cand;
	char err[MXS_REASON_MAX];
	size_t dups;
	int rc;

	memset(res, 0, sizeof(*res));
	res->verdict = mxs_txt_rrset_pick(a, MXS_STS_TAG, &cand, &res->candidates, &res->discarded,
	                                  res->reason, sizeof(res->reason));
	if (res->verdict != MXS_TXT_UNKNOWN)
		return;
	if ((rc = mxs_mtasts_txt_parse(cand->s, cand->len, &res->rec, err, sizeof(err))) != 0) {
		res->verdict = MXS_TXT_INVALID;
		res->over_limit = rc == MXS_ELIMIT;
		(void)mxs_seterr(res->reason, sizeof(res->reason), 0, "invalid _mta-sts record: %s",
		                 err);
		return;
	}
	res->verdict = MXS_TXT_VALID;
	dups = res->rec.duplicates + res->rec.ext.duplicates;
	(void)mxs_seterr(res->reason, sizeof(res->reason), 0, "policy id %s%s%s", res->rec.id,
	                 dups ? "; repeated fields ignored, the first wins" : "",
	                 res->rec.ext.dropped ? "; extensions over the limit not kept" : "");
}
