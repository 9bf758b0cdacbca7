/*
 * dane — judge a presented certificate chain against the TLSA RRset of an
 * MX host, for SMTP (RFC 7672, with RFC 7671 and RFC 6698).  Pure: no
 * network, no clock, no global state; the probe does the lookups and the
 * handshake and hands over what it saw.
 *
 * The second of two steps, because the TLSA answer dies with its DNS
 * callback while the chain arrives later, once per address of the host:
 *   1. mxs_dane_load (tlsa.h): DNS outcome + TLSA rdata -> struct
 *      mxs_dane_rrset, which decides everything the chain cannot change.
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
#include <time.h>

#include <openssl/x509.h>

#include "mxs_err.h"
#include "mxs_limits.h"
#include "result.h"
#include "tlsa.h"

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

/* "not-used", "match", "no-match", "chain-fail", "name-fail", "weaker-matches". */
const char *mxs_tlsa_match_name(enum mxs_tlsa_match m);

#endif
