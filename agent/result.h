/*
 * result — what one probe of one domain found.
 *
 * A probe never "fails" for a broken server: every outcome is a verdict
 * stored here (STYLE.md §4).  The tree is
 *   mxs_result (domain)  ->  mxs_mx (MX RRset verdict)
 *                        ->  mxs_host[] (one per MX host, or the implicit MX)
 *                              -> mxs_addr[] (one per A/AAAA address probed)
 * Ownership: mxs_result_new allocates the tree root; hosts and addresses are
 * added with mxs_result_add_host / mxs_host_add_addr and owned by their
 * parent; mxs_result_free releases everything and clears the pointer.
 * Verdicts are independent: "TLS works", "PKIX valid" and "name matches"
 * are separate, each with a reason and, when failed, an RFC 8460 result-type.
 */
#ifndef MXS_RESULT_H
#define MXS_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include "mxs_limits.h"
#include "mxs_err.h"

enum mxs_status {
	MXS_ST_NOT_TESTED = 0, /* an earlier step stopped the probe */
	MXS_ST_OK,
	MXS_ST_FAIL,
	MXS_ST_TEMPORARY, /* 4xx, reset, timeout, SERVFAIL: try again, not a finding */
};

enum mxs_dnssec {
	MXS_SEC_UNKNOWN = 0, /* no answer (lookup did not complete) */
	MXS_SEC_INSECURE,
	MXS_SEC_SECURE,
	MXS_SEC_BOGUS,
};

/* RFC 8460 §4.3 result types, in IANA registry order. */
enum mxs_rtype {
	MXS_RT_NONE = 0,
	MXS_RT_STARTTLS_NOT_SUPPORTED,
	MXS_RT_CERT_HOST_MISMATCH,
	MXS_RT_CERT_EXPIRED,
	MXS_RT_CERT_NOT_TRUSTED,
	MXS_RT_VALIDATION_FAILURE,
	MXS_RT_TLSA_INVALID,
	MXS_RT_DNSSEC_INVALID,
	MXS_RT_DANE_REQUIRED,
	MXS_RT_STS_POLICY_FETCH_ERROR,
	MXS_RT_STS_POLICY_INVALID,
	MXS_RT_STS_WEBPKI_INVALID,
};

#define MXS_REASON_MAX 256

struct mxs_verdict {
	enum mxs_status status;
	enum mxs_rtype rtype; /* MXS_RT_NONE unless status == MXS_ST_FAIL */
	char reason[MXS_REASON_MAX];
};

/* One DNS lookup as the resolver answered it. */
struct mxs_dns {
	int done;  /* the lookup completed (else timed out or not asked) */
	int rcode; /* DNS rcode (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN) */
	enum mxs_dnssec sec;
	uint32_t ttl; /* smallest TTL of the answer RRset */
	uint32_t ms;  /* time the lookup took */
	char why_bogus[MXS_REASON_MAX];
};

enum mxs_mx_kind {
	MXS_MX_RECORDS = 0, /* an MX RRset, hosts listed in mxs_result.hosts */
	MXS_MX_IMPLICIT,    /* no MX RRset, the domain's own A/AAAA (RFC 5321 §5.1) */
	MXS_MX_NULL,        /* RFC 7505 "0 ." : the domain accepts no mail */
	MXS_MX_NONE,        /* NXDOMAIN, or NODATA with no address either */
	MXS_MX_UNKNOWN,     /* SERVFAIL, timeout, or bogus: no trustworthy answer */
};

struct mxs_mx {
	struct mxs_dns dns;
	enum mxs_mx_kind kind;
	struct mxs_verdict verdict; /* ok / fail (bogus: dnssec-invalid) / temporary */
};

struct mxs_cert {
	char subject[256]; /* RFC 2253 one-line form */
	char issuer[256];
	char not_before[32]; /* RFC 3339, UTC */
	char not_after[32];
	unsigned char sha256[32];
	unsigned char spki_sha256[32];
	int self_signed;
};

struct mxs_addr {
	char address[46]; /* text form, INET6_ADDRSTRLEN */
	int family;       /* AF_INET or AF_INET6 */
	uint32_t elapsed_ms;

	struct mxs_verdict connect; /* ok / fail (refused, unreachable) / temporary (timeout) */
	uint32_t connect_ms;

	/* SMTP dialogue up to and including the STARTTLS reply. */
	struct mxs_verdict smtp;
	int greeting_code;
	char greeting[512]; /* first greeting line, text after the code, truncated */
	int ehlo_code;
	char **caps; /* EHLO keywords with parameters, owned, ncaps entries */
	size_t ncaps;
	int starttls_advertised;
	int starttls_code; /* reply to STARTTLS, 0 if not sent */

	/* TLS session. */
	struct mxs_verdict tls;
	char tls_version[16];
	char tls_cipher[64];
	char sni[256];
	uint32_t tls_ms;

	/* Presented chain, leaf first, as sent by the server (at most MXS_CHAIN_MAX). */
	struct mxs_cert chain[MXS_CHAIN_MAX];
	size_t nchain;
	char **leaf_dns_names; /* subjectAltName dNSName entries of the leaf, owned */
	size_t nleaf_dns_names;
	int days_to_expiry; /* of the leaf; negative once expired */

	struct mxs_verdict pkix;
	int x509_error;                 /* OpenSSL X509_V_ERR_* of the failed validation, or 0 */
	char missing_intermediate[256]; /* subject of the CA cert the server should have sent */

	struct mxs_verdict name;
	char name_reference[256]; /* the MX host name checked */
	char name_matched[256];   /* the certificate DNS-ID that matched it */

	/* DANE (RFC 7672): this address's chain against the host's TLSA RRset. */
	struct mxs_verdict dane;
	char dane_state[24];     /* "valid", "tlsa-invalid", ..., "not-applicable" */
	char dane_record[128];   /* short form of the record that authenticated, or "" */
	int dane_depth;          /* depth of the certificate it matched, -1 if none */
	int dane_rollover_ready; /* valid, and a usable record for another key is published */
	uint32_t dane_matched, dane_unmatched; /* usable records matching / not matching */

	/* 1 when this address's session fields were copied from another
	 * domain's session of the same MX host and address (addr_share). */
	int shared;
};

struct mxs_host {
	char name[256]; /* MX host name, lower case, no trailing dot */
	int preference; /* MX preference; -1 for the implicit MX */
	struct mxs_dns a, aaaa;
	struct mxs_verdict dns; /* address lookup verdict for this host */
	struct mxs_addr **addrs;
	size_t naddrs;

	/* DANE: TLSA at _25._tcp.<name>, asked only once the address records
	 * are DNSSEC-secure (RFC 7672 §2.2.2). */
	int tlsa_asked;
	struct mxs_dns tlsa;
	char dane_state[24]; /* state of the RRset: "not-applicable", "temporary",
	                        "dnssec-invalid", "no-usable-records", "pending" */
	char dane_reason[MXS_REASON_MAX];
	int starttls_required; /* a secure TLSA RRset exists (RFC 7672 §2.2.3) */
	char **tlsa_records;   /* "3 1 1 HEX (usable)", owned, ntlsa_records entries */
	size_t ntlsa_records;

	/* MTA-STS coverage (RFC 8461 §4.1): the policy pattern this host
	 * matches, "" if none; sts_covered -1 when there is no policy. */
	int sts_covered;
	char sts_pattern[256];
};

/* The domain's MTA-STS state (RFC 8461): TXT record, policy fetch, policy. */
struct mxs_sts {
	struct mxs_dns txt_dns;
	struct mxs_verdict txt; /* ok: exactly one valid record; fail: invalid or several;
	                           temporary; not-tested: no record (MTA-STS not used) */
	char txt_state[16];     /* "valid", "none", "multiple", "invalid", "temporary" */
	char id[40];
	struct mxs_dns host_a, host_aaaa; /* mta-sts.<domain> */
	struct mxs_verdict fetch;         /* GET https://mta-sts.<domain>/.well-known/mta-sts.txt */
	int http_status;                  /* 0 when no response */
	char content_type[256];
	char location[1024]; /* of a 3xx, never followed */
	size_t body_len;
	unsigned char body_sha256[32];
	int have_body;
	char https_tls_version[16];
	struct mxs_verdict https_pkix, https_name;
	int https_days_to_expiry;
	int https_have_cert;
	unsigned char https_leaf_sha256[32];
	struct mxs_verdict policy; /* the body parsed under RFC 8461 §3.2 */
	char mode[12];             /* "enforce", "testing", "none" */
	long long max_age;
	char **mx; /* patterns, owned */
	size_t nmx;
	struct mxs_verdict
	        coverage; /* every live MX matches a pattern, and its certificate names it */
};

/* The domain's TLS-RPT record (RFC 8460 §3). */
struct mxs_tlsrpt {
	struct mxs_dns dns;
	struct mxs_verdict verdict; /* ok / fail (invalid, several) / temporary /
	                               not-tested (no record: TLS-RPT not used) */
	char state[16];             /* "valid", "none", "multiple", "invalid", "temporary" */
	char **rua;                 /* owned */
	size_t nrua;
	int rua_repeated; /* a second rua= field was ignored (warning) */
};

struct mxs_result {
	int schema;         /* 1 */
	char domain[256];   /* as asked, lower case, no trailing dot */
	int64_t started_ms; /* Unix ms */
	uint32_t elapsed_ms;
	struct mxs_mx mx;
	struct mxs_host **hosts; /* in MX preference order */
	size_t nhosts;
	struct mxs_sts sts;
	struct mxs_tlsrpt tlsrpt;
};

/* Allocate an empty result for domain; NULL on allocation failure. Caller owns it. */
struct mxs_result *mxs_result_new(const char *domain);

/* Free *rp and everything under it; sets *rp = NULL.  NULL-safe. */
void mxs_result_free(struct mxs_result **rp);

/* Add a host (owned by r) and return it via *out; MXS_ENOMEM or MXS_ELIMIT. */
int mxs_result_add_host(struct mxs_result *r, const char *name, int preference,
                        struct mxs_host **out) MXS_WUR;

/* Add an address (owned by h) and return it via *out; MXS_ENOMEM or MXS_ELIMIT. */
int mxs_host_add_addr(struct mxs_host *h, const char *address, int family,
                      struct mxs_addr **out) MXS_WUR;

/* Append a copy of s to a NULL-initialised owned string array (max entries). */
int mxs_strv_add(char ***v, size_t *n, size_t max, const char *s) MXS_WUR;

/* Set a verdict; reason is printf-formatted. */
void mxs_verdict_set(struct mxs_verdict *v, enum mxs_status st, enum mxs_rtype rt, const char *fmt,
                     ...) MXS_PRINTF(4, 5);

/* Names used in every output: "ok", "fail", "temporary", "not-tested". */
const char *mxs_status_name(enum mxs_status st);
/* "secure", "insecure", "bogus", "unknown". */
const char *mxs_dnssec_name(enum mxs_dnssec s);
/* RFC 8460 spelling ("starttls-not-supported", ...), NULL for MXS_RT_NONE. */
const char *mxs_rtype_name(enum mxs_rtype rt);
/* "records", "implicit", "null", "none", "unknown". */
const char *mxs_mx_kind_name(enum mxs_mx_kind k);

#endif
