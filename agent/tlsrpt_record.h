/*
 * tlsrpt_record — the _smtp._tls TXT record of RFC 8460 §3: parse one
 * record, and judge the RRset a lookup returned (with the DNS outcome) into
 * one verdict the probe stores.  Pure: no I/O, no allocation.
 *
 *   tlsrpt-record  = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
 *   tlsrpt-version = %s"v=TLSRPTv1"
 *   tlsrpt-rua     = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri) ; required
 *   tlsrpt-uri     = URI (RFC 3986); ",", "!" and ";" MUST be percent-encoded
 *   extensions as in txt_record.h
 *
 * Decisions, each pinned by a test in tests/unit/test_tlsrpt_record.c:
 *  - Schemes: mailto: and https: only (case-insensitive, RFC 3986 §3.1);
 *    anything else is an error naming the URI.  A URI is checked for the
 *    RFC 3986 octet set and percent-encoding, a raw "!" is rejected, a
 *    mailto: needs local@domain and an https: a host.  This is not a full
 *    RFC 3986 parser.
 *  - Repeated rua= fields: the ABNF is silent.  We keep the first, check
 *    the others with the rua grammar (a malformed repeat is an error), and
 *    count them in rua_repeated, a warning: the record stays valid.
 *  - Repeated v= is read as the ABNF reads it, an extension, and ignored.
 *    Candidates, WSP at the end and case-sensitivity as in mtasts_txt.h.
 *  - More than MXS_TLSRPT_RUA_MAX URIs, or a URI of MXS_TLSRPT_URI_MAX
 *    octets or more, is MXS_ELIMIT: our limit, reported as such.
 */
#ifndef MXS_TLSRPT_RECORD_H
#define MXS_TLSRPT_RECORD_H

#include <stddef.h>

#include "mxs_err.h"
#include "result.h"
#include "txt_record.h"

#define MXS_TLSRPT_TAG "v=TLSRPTv1"

enum mxs_tlsrpt_scheme {
	MXS_TLSRPT_MAILTO = 1,
	MXS_TLSRPT_HTTPS,
};

struct mxs_tlsrpt_uri {
	enum mxs_tlsrpt_scheme scheme;
	char uri[MXS_TLSRPT_URI_MAX]; /* as published, percent-encoding kept */
};

struct mxs_tlsrpt_record {
	struct mxs_tlsrpt_uri rua[MXS_TLSRPT_RUA_MAX]; /* of the first rua= field */
	size_t nrua;
	size_t rua_repeated;     /* further rua= fields, ignored: a warning */
	struct mxs_txt_exts ext; /* extensions in record order, first of each name */
	size_t duplicates;       /* repeated v= fields ignored */
};

/*
 * Parse one joined record (len octets; NUL octets rejected, naming the
 * field).  0 with *out filled, or MXS_ESYNTAX (reason names the field or
 * URI) / MXS_ELIMIT (record over MXS_TXT_TEXT_MAX, too many or too long
 * URIs); *out is zeroed first.
 */
int mxs_tlsrpt_record_parse(const char *rec, size_t len, struct mxs_tlsrpt_record *out,
                            char *errstr, size_t errlen) MXS_WUR;

struct mxs_tlsrpt_result {
	enum mxs_txt_verdict verdict;
	struct mxs_tlsrpt_record rec; /* meaningful when verdict is VALID */
	size_t candidates;            /* records beginning with v=TLSRPTv1 */
	size_t discarded;             /* other TXT records at the name */
	int over_limit;               /* INVALID by an mxsentry limit, not by RFC 8460 */
	char reason[MXS_REASON_MAX];
};

/*
 * The verdict for one _smtp._tls lookup: the DNS outcome
 * (mxs_txt_dns_classify), the RRset rule, then the record.  NONE, MULTIPLE
 * and INVALID all mean the domain does not implement TLSRPT; TEMPORARY
 * means look again later.  a and its records are only read; res is
 * overwritten.
 */
void mxs_tlsrpt_record_judge(const struct mxs_txt_answer *a, struct mxs_tlsrpt_result *res);

#endif
