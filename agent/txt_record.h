/*
 * txt_record — what the _mta-sts (RFC 8461 §3.1) and _smtp._tls (RFC 8460
 * §3) TXT records have in common: joining the character-strings of one TXT
 * RR, the "k=v; k=v" field tokenizer with *WSP ";" *WSP delimiters, the
 * extension name/value grammar, the version-tag test that decides which
 * records of an RRset are candidates, and the rule that turns a DNS
 * outcome into "no record" or "temporary".
 *
 * Pure: no I/O; the only allocation is mxs_txt_rrset_join's output.
 * Records are (pointer, length) pairs so that a NUL octet inside a record
 * reaches the record parsers and is reported there, naming the field.
 */
#ifndef MXS_TXT_RECORD_H
#define MXS_TXT_RECORD_H

#include <stddef.h>

#include "dns_wire.h"
#include "mxs_err.h"
#include "mxs_limits.h"

/* Flags reported by mxs_txt_join. */
#define MXS_TXT_F_NONASCII 0x1 /* an octet >= 0x80 (the record grammars are US-ASCII) */

/* One joined TXT record: len octets at s (NUL-terminated, but s may hold
 * NUL octets before s[len] when it came from mxs_txt_rrset_join). */
struct mxs_txt_str {
	const char *s;
	size_t len;
};

/*
 * Concatenate the character-strings of one TXT rdata (rdlen octets of
 * length-prefixed strings) without separators into buf (buflen octets),
 * NUL-terminated; *len gets the text length, *flags MXS_TXT_F_*.
 * MXS_ESYNTAX: empty rdata, a string running past rdlen, or a NUL octet;
 * MXS_ELIMIT: the text does not fit buf.  Reason in errstr.
 */
int mxs_txt_join(const unsigned char *rdata, size_t rdlen, char *buf, size_t buflen, size_t *len,
                 unsigned *flags, char *errstr, size_t errlen) MXS_WUR;

/*
 * The TXT RRset for qname in m (CNAMEs in the answer section followed as
 * mxs_dns_select does), each RR joined like mxs_txt_join except that NUL
 * octets are kept (see above).  On success *txt is one allocation owned by
 * the caller (free with mxs_txt_rrset_free) holding *n records, or NULL
 * with *n 0.  MXS_ESYNTAX for a malformed TXT rdata, MXS_ELIMIT for a
 * CNAME chain over MXS_DNS_CNAME_MAX, MXS_ENOMEM; on failure nothing is
 * allocated.  A caller treats a failure as an unusable answer (temporary).
 */
int mxs_txt_rrset_join(const struct mxs_dns_msg *m, const char *qname, struct mxs_txt_str **txt,
                       size_t *n, char *errstr, size_t errlen) MXS_WUR;

/* Free *txt and set it to NULL.  NULL-safe. */
void mxs_txt_rrset_free(struct mxs_txt_str **txt);

/*
 * 1 when rec begins with the version field tag (e.g. "v=STSv1") followed by
 * the end of the record, WSP or ";", i.e. the tag is the whole first field.
 * Case-sensitive (%s in the ABNF).  This is the RRset discard rule; see
 * mtasts_txt.h for why "v=STSv1 ;" counts (erratum 6285).
 */
int mxs_txt_has_version(const char *rec, size_t len, const char *tag);

/* ---- field tokenizer ---- */

struct mxs_txt_field {
	const char *name; /* up to the first '=' */
	size_t namelen;
	const char *value; /* after the first '=', delimiter WSP trimmed */
	size_t valuelen;
};

struct mxs_txt_tok {
	const char *p; /* next unread octet */
	const char *end;
	size_t nfields; /* fields returned so far */
};

void mxs_txt_tok_init(struct mxs_txt_tok *t, const char *rec, size_t len);

/*
 * Next field of field *(delim field) [delim], delim = *WSP ";" *WSP.
 * Returns 1 with *f set (pointing into the record), 0 at the end, or
 * MXS_ESYNTAX naming the problem: empty record, WSP before the first
 * field, an empty field (";;"), WSP after the last field without ";", a
 * field without "=" or without a name.  A field is returned before an
 * error in the delimiter that follows it, so the fields seen before an
 * error are the well-delimited ones.  Names and values are not checked.
 */
int mxs_txt_tok_next(struct mxs_txt_tok *t, struct mxs_txt_field *f, char *errstr,
                     size_t errlen) MXS_WUR;

/* 1 when the field's name is exactly s (case-sensitive). */
int mxs_txt_field_is(const struct mxs_txt_field *f, const char *s);

/* ---- extensions ---- */

struct mxs_txt_ext {
	char name[MXS_TXT_EXT_NAME_MAX + 1];
	char value[MXS_TXT_EXT_VALUE_MAX];
	int truncated; /* value longer than the buffer: kept cut */
};

struct mxs_txt_exts {
	struct mxs_txt_ext ext[MXS_TXT_EXT_MAX]; /* in record order */
	size_t n;
	size_t dropped;    /* valid extensions past MXS_TXT_EXT_MAX */
	size_t duplicates; /* repeats of a kept name, ignored (first wins) */
};

/*
 * Check f against ext-name "=" ext-value:
 *   ext-name  = (ALPHA/DIGIT) *31(ALPHA/DIGIT/"_"/"-"/".")
 *   ext-value = 1*(%x21-3A / %x3C / %x3E-7E)
 * 0, or MXS_ESYNTAX with a reason naming the extension and the octet.
 */
int mxs_txt_ext_check(const struct mxs_txt_field *f, char *errstr, size_t errlen) MXS_WUR;

/* mxs_txt_ext_check, then keep f in e unless its name is already there
 * (first wins: counted in e->duplicates) or e is full (e->dropped). */
int mxs_txt_exts_add(struct mxs_txt_exts *e, const struct mxs_txt_field *f, char *errstr,
                     size_t errlen) MXS_WUR;

/*
 * A field that is neither the version nor a record-specific key: a repeated
 * "v=" is counted in *duplicates (first wins; its value must still be
 * ext-value syntax), anything else is kept as an extension in e.
 */
int mxs_txt_other_field(const struct mxs_txt_field *f, struct mxs_txt_exts *e, size_t *duplicates,
                        char *errstr, size_t errlen) MXS_WUR;

/* ---- reasons ---- */

/* Copy len octets at p into out for a human reason: printable ASCII as is,
 * other octets as \xNN, cut with "..." when out is too small. */
void mxs_txt_quote(char *out, size_t outlen, const char *p, size_t len);

/* ---- the DNS outcome and the RRset verdict ---- */

enum mxs_txt_verdict {
	MXS_TXT_UNKNOWN = 0, /* not judged */
	MXS_TXT_VALID,       /* exactly one candidate record, and it parses */
	MXS_TXT_NONE,        /* NXDOMAIN, NODATA, or no record with the version tag */
	MXS_TXT_MULTIPLE,    /* more than one candidate: the domain has no record */
	MXS_TXT_INVALID,     /* exactly one candidate, and it does not parse */
	MXS_TXT_TEMPORARY,   /* no usable answer: timeout, SERVFAIL, other RCODE, bogus */
};

/* "unknown", "valid", "none", "multiple", "invalid", "temporary". */
const char *mxs_txt_verdict_name(enum mxs_txt_verdict v);

/* What the resolver said about the TXT lookup; all fields borrowed. */
struct mxs_txt_answer {
	int answered;                  /* a response arrived and parsed (0: timeout, unparsable) */
	int rcode;                     /* its RCODE: 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, ... */
	int bogus;                     /* DNSSEC validation failed */
	const struct mxs_txt_str *txt; /* TXT RRs at the name after CNAMEs */
	size_t ntxt;
};

/*
 * The one rule for a TXT lookup's outcome, shared by both record types:
 * bogus, no response, or an RCODE other than NOERROR/NXDOMAIN is
 * MXS_TXT_TEMPORARY; NXDOMAIN, or NOERROR without TXT records (NODATA), is
 * MXS_TXT_NONE; NOERROR with records is MXS_TXT_UNKNOWN: the RRset is to
 * be judged.  *why (may be NULL) gets static text naming the outcome.
 */
enum mxs_txt_verdict mxs_txt_dns_classify(const struct mxs_txt_answer *a, const char **why);

/*
 * The outcome, then the RRset rule of RFC 8461 §3.1 / RFC 8460 §3: discard
 * records without the version tag (mxs_txt_has_version); not exactly one
 * left is MXS_TXT_NONE or MXS_TXT_MULTIPLE.  Returns that verdict with a
 * reason in reason (reasonlen), or MXS_TXT_UNKNOWN with *cand set to the
 * one candidate, which the caller parses.  *ncand and *ndiscarded count.
 */
enum mxs_txt_verdict mxs_txt_rrset_pick(const struct mxs_txt_answer *a, const char *tag,
                                        const struct mxs_txt_str **cand, size_t *ncand,
                                        size_t *ndiscarded, char *reason, size_t reasonlen);

#endif
