/*
 * mtasts_txt — the _mta-sts TXT record of RFC 8461 §3.1: parse one record,
 * and judge the RRset a lookup returned (together with the DNS outcome)
 * into one verdict the probe stores.  Pure: no I/O, no allocation.
 *
 *   sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
 *   sts-version     = %s"v=STSv1"
 *   sts-id          = %s"id=" 1*32(ALPHA / DIGIT)      ; required
 *   sts-extension   = sts-ext-name "=" sts-ext-value   ; see txt_record.h
 *
 * Decisions, each pinned by a test in tests/unit/test_mtasts_txt.c:
 *  - Erratum 6285: §3.1 says to discard records "not beginning with
 *    v=STSv1;", while the ABNF allows WSP before the ";".  We follow the
 *    ABNF: a record is a candidate when "v=STSv1" is its whole first field,
 *    i.e. followed by ";", WSP or the end.  "v=STSv1 ;id=x" is therefore a
 *    valid record (id x), not discarded; "v=STSv10;id=1" and "V=STSv1;id=1"
 *    are discarded; "v=STSv1" alone is a candidate and invalid (no id).
 *  - Repeated fields (§3.2 last paragraph covers TXT records): the first
 *    wins.  A repeated id= must still be id syntax; a later v= is read as
 *    the ABNF reads it, an extension, checked as one and ignored.  Repeats
 *    are counted, not fatal.
 *  - Field names are case-sensitive (%s): "ID=x" is an extension, so the
 *    record lacks an id; the reason says so.
 *  - Unknown fields are kept as extensions (first MXS_TXT_EXT_MAX) but must
 *    match the extension grammar: a malformed one invalidates the record.
 *  - Whitespace after the last field with no ";" is not in the ABNF: invalid.
 */
#ifndef MXS_MTASTS_TXT_H
#define MXS_MTASTS_TXT_H

#include <stddef.h>

#include "mxs_err.h"
#include "result.h"
#include "txt_record.h"

#define MXS_STS_TAG "v=STSv1"

struct mxs_mtasts_txt {
	char id[MXS_STS_ID_MAX + 1];
	struct mxs_txt_exts ext; /* extensions in record order, first of each name */
	size_t duplicates;       /* repeated id= or v= fields ignored */
};

/*
 * Parse one joined record (len octets; NUL octets are rejected, naming the
 * field).  0 with *out filled, or MXS_ESYNTAX (reason names the offending
 * field) / MXS_ELIMIT (over MXS_TXT_TEXT_MAX octets); *out is zeroed first.
 */
int mxs_mtasts_txt_parse(const char *rec, size_t len, struct mxs_mtasts_txt *out, char *errstr,
                         size_t errlen) MXS_WUR;

struct mxs_mtasts_txt_result {
	enum mxs_txt_verdict verdict;
	struct mxs_mtasts_txt rec; /* the record; meaningful when verdict is VALID */
	size_t candidates;         /* records beginning with v=STSv1 */
	size_t discarded;          /* other TXT records at the name */
	int over_limit;            /* INVALID by an mxsentry limit, not by RFC 8461 */
	char reason[MXS_REASON_MAX];
};

/*
 * The verdict for one _mta-sts lookup: the DNS outcome
 * (mxs_txt_dns_classify), the RRset rule, then the record.  VALID gives the
 * policy id; NONE, MULTIPLE and INVALID all mean "no available policy"
 * (a cached one still applies, §5.1); TEMPORARY means look again later.
 * a and its records are only read; res is overwritten.
 */
void mxs_mtasts_txt_judge(const struct mxs_txt_answer *a, struct mxs_mtasts_txt_result *res);

#endif
