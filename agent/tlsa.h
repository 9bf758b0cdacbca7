/*
 * tlsa — TLSA records (RFC 6698) and the TLSA RRset of an MX host as DANE
 * for SMTP reads them (RFC 7672, with RFC 7671): the first of the two steps
 * of a DANE judgement, the one that needs no certificate.  Pure: no
 * network, no clock, no global state.  Judging a chain against a loaded
 * RRset is dane.h's.
 *
 * mxs_dane_load: DNS outcome + TLSA rdata -> struct mxs_dane_rrset (owned
 * copy), because the TLSA answer dies with its DNS callback while the chain
 * arrives later, once per address of the host.  It decides everything the
 * chain cannot change: DANE does not apply, temporary failure, bogus, no
 * usable record, and whether STARTTLS is mandatory.  Records are classified
 * here: usages 0/1 are unusable for SMTP (7672 §3.1.3), unknown
 * usage/selector/type and bad data lengths are unusable, and per (usage,
 * selector) only the strongest matching type present is used (7671 §9:
 * 2 > 1 > 0).
 *
 * The rdata comes from DNS (DNSSEC-validated, but published by anyone):
 * malformation is a verdict on the record, an error code means only that
 * loading could not run (memory, a limit, a caller bug).
 *
 * Threading: no shared state; a loaded rrset is read-only afterwards and
 * may be read by several threads at once.
 */
#ifndef MXS_TLSA_H
#define MXS_TLSA_H

#include <stddef.h>
#include <stdint.h>

#include "dns_wire.h"
#include "mxs_err.h"
#include "mxs_limits.h"
#include "result.h"

/* Octets of data shown by the short presentation form before "...". */
#define MXS_TLSA_SHORT_OCTETS 8
/* Room for the short form: "255 255 255 " + 16 hex digits + "..." + NUL. */
#define MXS_TLSA_SHORT_LEN 40
/* Octets of association data for the digest matching types. */
#define MXS_TLSA_SHA256_LEN 32
#define MXS_TLSA_SHA512_LEN 64

enum mxs_tlsa_usage { MXS_TLSA_PKIX_TA = 0, MXS_TLSA_PKIX_EE, MXS_TLSA_DANE_TA, MXS_TLSA_DANE_EE };
enum mxs_tlsa_selector { MXS_TLSA_CERT = 0, MXS_TLSA_SPKI };
enum mxs_tlsa_mtype { MXS_TLSA_FULL = 0, MXS_TLSA_SHA256, MXS_TLSA_SHA512 };

/* Whether one record takes part in matching, and if not, why. */
enum mxs_tlsa_use {
	MXS_TLSA_USABLE = 0,
	MXS_TLSA_WEAKER,           /* usable, but a stronger matching type is published for
	                              the same usage and selector (RFC 7671 §9): not used */
	MXS_TLSA_PKIX_USAGE,       /* PKIX-TA(0) / PKIX-EE(1): unusable for SMTP (7672 §3.1.3) */
	MXS_TLSA_UNKNOWN_USAGE,    /* usage > 3 */
	MXS_TLSA_UNKNOWN_SELECTOR, /* selector > 1 */
	MXS_TLSA_UNKNOWN_MTYPE,    /* matching type > 2 */
	MXS_TLSA_MALFORMED,        /* no data, data length wrong for the matching type (32 for
	                              SHA2-256, 64 for SHA2-512), or Full(0) data over
	                              MXS_TLSA_DATA_MAX, or rdata under 3 octets */
};

/* One TLSA record (RFC 6698 §2.1). */
struct mxs_tlsa {
	uint8_t usage, selector, mtype; /* zero when the rdata is under 3 octets */
	enum mxs_tlsa_use use;
	size_t rdlen;        /* octets of the whole rdata */
	size_t len;          /* octets of association data in the record */
	unsigned char *data; /* owned copy of those octets; NULL when len is 0 or the
	                        data is over MXS_TLSA_DATA_MAX */
};

/*
 * The DNS outcome DANE depends on, as the probe saw it.  addr_sec is the
 * security of the A or AAAA RRset the probed address came from; the tlsa_*
 * fields describe the _25._tcp.<host> TLSA lookup (struct mxs_dns: done,
 * rcode, sec).  tlsa_done 0 means timed out or never answered.
 */
struct mxs_dane_dns {
	enum mxs_dnssec addr_sec;
	int tlsa_done;
	int tlsa_rcode; /* DNS RCODE: 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, ... */
	enum mxs_dnssec tlsa_sec;
};

/* The DANE state of a host: of a loaded RRset, then of a judged chain (dane.h). */
enum mxs_dane_state {
	MXS_DANE_NOT_APPLICABLE = 0, /* insecure address or TLSA answer, or an NXDOMAIN /
	                                NODATA TLSA answer: no DANE, opportunistic TLS */
	MXS_DANE_TEMPORARY,          /* TLSA lookup timed out or failed (SERVFAIL, ...): never
	                                "no TLSA"; the MX is not usable until it resolves */
	MXS_DANE_DNSSEC_INVALID,     /* TLSA answer bogus: the MX is not usable */
	MXS_DANE_NO_USABLE,          /* secure TLSA RRset, no usable record: unauthenticated
	                                TLS only, STARTTLS still mandatory (7671 §10.3) */
	MXS_DANE_PENDING,            /* rrset only: usable records, the chain decides */
	MXS_DANE_VALID,              /* a usable record authenticated the chain */
	MXS_DANE_TLSA_INVALID,       /* usable records, none authenticated the chain */
};

/* A loaded TLSA RRset: what mxs_dane_load decided, and the records. */
struct mxs_dane_rrset {
	enum mxs_dane_state state; /* never VALID or TLSA_INVALID */
	int starttls_required;     /* a secure TLSA RRset exists, usable or not (7672 §2.2.3) */
	char reason[MXS_REASON_MAX];
	struct mxs_tlsa *recs; /* owned, nrecs entries, in RRset order */
	size_t nrecs;
	size_t nusable; /* records with use MXS_TLSA_USABLE */
};

/*
 * Parse one TLSA rdata (rdlen octets).  Malformation is a verdict (t->use
 * MXS_TLSA_MALFORMED), not an error: the record is kept for the report.
 * Sets t->use to USABLE or to why the record is unusable (never WEAKER:
 * that depends on the RRset).  On success t->data is owned by t (release
 * with mxs_tlsa_clear); on MXS_ENOMEM t holds nothing.
 */
int mxs_tlsa_parse(const unsigned char *rdata, size_t rdlen, struct mxs_tlsa *t) MXS_WUR;

/* Free t->data and zero t.  NULL-safe. */
void mxs_tlsa_clear(struct mxs_tlsa *t);

/*
 * Presentation form "3 1 1 3111...1838", all data as upper-case hex
 * (RFC 6698 §2.2), "-" for no data.  Written like snprintf: returns the
 * length the whole text needs, writes at most len - 1 characters and a NUL.
 */
size_t mxs_tlsa_text(const struct mxs_tlsa *t, char *buf, size_t len);

/* Short form for reasons and tables: "3 1 1 3111668338043DE2..."
 * (MXS_TLSA_SHORT_OCTETS octets); len >= MXS_TLSA_SHORT_LEN never truncates. */
void mxs_tlsa_short(const struct mxs_tlsa *t, char *buf, size_t len);

/*
 * Load a TLSA lookup.  rrs[0..n) are the TLSA records of the answer (as
 * mxs_dns_select gives them; type TLSA, else MXS_EINVAL); their rdata is
 * copied, so they may die after the call.  rrs may be NULL when n is 0.
 * On success set owns its records (mxs_dane_rrset_free).  More than
 * MXS_TLSA_RR_MAX records is MXS_ELIMIT (errstr says so), and MXS_ENOMEM;
 * on any error set holds nothing.  A DNS or record problem is a state.
 *
 * A caller whose TLSA answer did not parse must pass tlsa_done 0 rather
 * than zero records: an empty secure answer is NODATA, i.e. "no DANE".
 */
int mxs_dane_load(struct mxs_dane_rrset *set, const struct mxs_dane_dns *dns,
                  const struct mxs_rr *const *rrs, size_t n, char *errstr, size_t errlen) MXS_WUR;

/* Free set->recs and zero set.  NULL-safe.  (An embedded struct, like
 * struct mxs_dns_msg, so it takes T * and clears it.) */
void mxs_dane_rrset_free(struct mxs_dane_rrset *set);

/* "valid", "tlsa-invalid", "dnssec-invalid", "temporary", "not-applicable",
 * "no-usable-records", "pending". */
const char *mxs_dane_state_name(enum mxs_dane_state s);
/* "usable", "weaker-matching-type", "pkix-usage", "unknown-usage",
 * "unknown-selector", "unknown-matching-type", "malformed". */
const char *mxs_tlsa_use_name(enum mxs_tlsa_use u);

#endif
