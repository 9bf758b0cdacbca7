/*
 * dane — judge a presented certificate chain against the TLSA RRset of an
 * MX host, for SMTP (RFC 7672, with RFC 7671 and RFC 6698).  Pure: no
 * network, no clock, no global state; the probe does the lookups and the
 * handshake and hands over what it saw.
 *
 * Two steps, because the TLSA answer dies with its DNS callback while the
 * chain arrives later, once per address of the host:
 *   1. mxs_dane_load: DNS outcome + TLSA rdata -> struct mxs_dane_rrset
 *      (owned copy).  Decides everything the chain cannot change: DANE does
 *      not apply, temporary failure, bogus, no usable record, and whether
 *      STARTTLS is mandatory.  Records are classified here: usages 0/1 are
 *      unusable for SMTP (7672 §3.1.3), unknown usage/selector/type and bad
 *      data lengths are unusable, and per (usage, selector) only the
 *      strongest matching type present is used (7671 §9: 2 > 1 > 0).
 *   2. mxs_dane_check: the rrset + the chain (leaf first) + the reference
 *      names + now -> struct mxs_dane_result.  DANE-EE(3) matches the leaf
 *      only and ignores names and expiry (7671 §5.1); DANE-TA(2) matches a
 *      CA at depth >= 1 (or, for "2 0 0", a certificate taken from DNS),
 *      verifies the chain up to it at now, and checks the leaf's names
 *      (7672 §3.2.2-3.2.3).
 *
 * Outcomes are data (STYLE.md §4): a mismatch, a bogus answer or a broken
 * chain returns 0 with the verdict; an error code means only that the
 * judgement could not run (memory, a limit, a caller bug).
 *
 * Threading: no shared state; a loaded rrset is read-only during
 * mxs_dane_check and may be judged by several threads at once.
 */
#ifndef MXS_DANE_H
#define MXS_DANE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "dns_wire.h"
#include "mxs_err.h"
#include "mxs_limits.h"
#include "result.h"

/* Octets of data shown by the short presentation form before "...". */
#define MXS_TLSA_SHORT_OCTETS 8
/* Room for the short form: "255 255 255 " + 16 hex digits + "..." + NUL. */
#define MXS_TLSA_SHORT_LEN 40

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

/* What became of one record against one chain. */
enum mxs_tlsa_match {
	MXS_TLSA_NOT_USED = 0,   /* not usable (see mxs_tlsa.use) */
	MXS_TLSA_MATCH,          /* authenticated the chain; depth says which certificate */
	MXS_TLSA_NO_MATCH,       /* usable, matches no eligible certificate: stale, or a
	                            next key published ahead of a rollover */
	MXS_TLSA_CHAIN_FAIL,     /* DANE-TA: matched the CA at depth, but the chain from the
	                            leaf to it does not verify */
	MXS_TLSA_NAME_FAIL,      /* DANE-TA: chain verifies, the leaf names neither host */
	MXS_TLSA_WEAKER_MATCHES, /* skipped for a stronger type (7671 §9), yet its data
	                            matches the certificate at depth: the stronger record is
	                            probably stale */
};

/*
 * depth: of the certificate the record matched, as the server presented
 * it (leaf 0); for a "2 0 0" certificate the server did not send, its
 * depth in the verified chain (one above the last certificate under it,
 * as OpenSSL counts).  -1 when nothing matched.
 */
struct mxs_tlsa_outcome {
	enum mxs_tlsa_match match;
	int depth;
};

/* The judgement of one chain. */
struct mxs_dane_result {
	enum mxs_dane_state state; /* never PENDING */
	/*
	 * For output: VALID -> ok; TLSA_INVALID -> fail, rtype tlsa-invalid,
	 * or certificate-host-mismatch (DANE-TA name) or certificate-expired
	 * (DANE-TA chain) as RFC 8460 §4.3.1 names them; DNSSEC_INVALID ->
	 * fail, dnssec-invalid; TEMPORARY -> temporary (a report would say
	 * dnssec-invalid if it persisted); NO_USABLE -> ok (unauthenticated);
	 * NOT_APPLICABLE -> not-tested.
	 */
	struct mxs_verdict verdict;
	/*
	 * STARTTLS is mandatory for this host (copied from the rrset).  When
	 * the server then does not offer STARTTLS, the caller records the
	 * downgrade; note that RFC 8460's registry defines dane-required as
	 * "sender requires DANE, no validated TLSA", so the matching result
	 * type for a missing STARTTLS is starttls-not-supported.
	 */
	int starttls_required;
	int record;      /* index in rrset->recs of the record that authenticated, or -1 */
	int depth;       /* depth of the certificate it matched, or -1 */
	int ta_from_dns; /* that record is "2 0 0" and its certificate was not sent */
	/* Rollover readiness (7671 §8): usable records that match the chain and
	 * that do not; ready = valid and at least one well-formed usable record
	 * left over for the next key. */
	size_t nmatched, nunmatched;
	int rollover_ready;
	int leaf_expired;        /* information only under DANE-EE */
	int leaf_days_to_expiry; /* floor((notAfter - now) / 1 day); negative once expired */
	int x509_error;          /* DANE-TA: X509_V_ERR_* of the failed verification, or 0 */
	char name_matched[256];  /* DANE-TA: the DNS-ID (or CN) that matched */
	size_t nrecs;
	struct mxs_tlsa_outcome recs[MXS_TLSA_RR_MAX]; /* one per rrset->recs entry */
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

/*
 * Judge chain (leaf first, as SSL_get_peer_cert_chain gives it; borrowed,
 * neither modified nor freed; NULL or empty allowed) against set at now.
 * host is the MX host name (TLSA base domain); expanded, when not NULL or
 * empty, is the name the TLSA records were found at through a secure CNAME
 * (7671 §7): a DANE-TA leaf must name one of them.  Only the first
 * MXS_DANE_CHAIN_MAX certificates are considered.  r is filled entirely;
 * it owns nothing (about 2.5 KiB: embed it or allocate it, not per call on
 * a small stack).  Returns 0, or MXS_ENOMEM / MXS_ETLS when OpenSSL fails
 * for want of resources (r then holds a verdict-less reset).  OpenSSL
 * errors raised while judging are popped before returning.  A NULL set or
 * r is a bug: mxs_panic.
 */
int mxs_dane_check(const struct mxs_dane_rrset *set, STACK_OF(X509) *chain, const char *host,
                   const char *expanded, time_t now, struct mxs_dane_result *r) MXS_WUR;

/* "valid", "tlsa-invalid", "dnssec-invalid", "temporary", "not-applicable",
 * "no-usable-records", "pending". */
const char *mxs_dane_state_name(enum mxs_dane_state s);
/* "usable", "weaker-matching-type", "pkix-usage", "unknown-usage",
 * "unknown-selector", "unknown-matching-type", "malformed". */
const char *mxs_tlsa_use_name(enum mxs_tlsa_use u);
/* "not-used", "match", "no-match", "chain-fail", "name-fail", "weaker-matches". */
const char *mxs_tlsa_match_name(enum mxs_tlsa_match m);

#endif
