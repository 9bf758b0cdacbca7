/*
 * dns_wire — bounded parser for DNS messages (RFC 1035 §4) as libunbound's
 * event API hands them over (ub_resolve_event gives the wire packet).
 *
 * Every read is bounds-checked; compression pointers must point backwards
 * and at most MXS_DNS_NAME_MAX octets of name are expanded, so a hostile
 * packet costs bounded time.  Only the answer section is kept.
 */
#ifndef MXS_DNS_WIRE_H
#define MXS_DNS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "mxs_limits.h"
#include "mxs_err.h"

#define MXS_DNS_T_A     1
#define MXS_DNS_T_CNAME 5
#define MXS_DNS_T_MX    15
#define MXS_DNS_T_TXT   16
#define MXS_DNS_T_AAAA  28
#define MXS_DNS_T_TLSA  52

/* Presentation form of a name: lower case, no trailing dot ("" for the
 * root), bytes outside [a-z0-9-_*] and "." inside a label escaped as \DDD. */
#define MXS_DNS_TEXT_MAX 1024

struct mxs_rr {
	char owner[MXS_DNS_TEXT_MAX];
	uint16_t type;
	uint16_t rclass;
	uint32_t ttl;
	const unsigned char *rdata; /* points into the parsed packet */
	uint16_t rdlen;
	/* Decoded for the types the probe uses; other types leave these zero. */
	uint16_t mx_pref;              /* MX */
	char target[MXS_DNS_TEXT_MAX]; /* MX exchange, CNAME target */
	unsigned char addr[16];        /* A (4 bytes) or AAAA (16 bytes) */
};

struct mxs_dns_msg {
	int rcode;          /* header RCODE */
	int ad;             /* AD bit */
	int tc;             /* TC bit */
	struct mxs_rr *ans; /* answer section, allocated, nans entries */
	size_t nans;
};

/*
 * Parse pkt (len bytes).  On success m owns ans (free with
 * mxs_dns_msg_free) whose rdata pointers stay valid only while pkt does.
 * More than MXS_DNS_RR_MAX answers is MXS_ELIMIT; any malformation is
 * MXS_ESYNTAX or MXS_ETRUNC with the reason in errstr.  On failure m holds
 * nothing to free.
 */
int mxs_dns_parse(const unsigned char *pkt, size_t len, struct mxs_dns_msg *m, char *errstr,
                  size_t errlen) MXS_WUR;

/* Free m->ans and zero m.  NULL-safe. */
void mxs_dns_msg_free(struct mxs_dns_msg *m);

/*
 * Select the answers of type qtype for qname (presentation form, case and a
 * trailing dot ignored), following CNAME records inside the answer section
 * hop by hop for at most MXS_DNS_CNAME_MAX hops.  Writes up to max pointers
 * into out, the count into *n, and the name the records were found at into
 * final (the last CNAME target, or qname).  A CNAME loop or chain longer
 * than the limit is MXS_ELIMIT.
 */
int mxs_dns_select(const struct mxs_dns_msg *m, const char *qname, uint16_t qtype,
                   const struct mxs_rr **out, size_t max, size_t *n, char *final,
                   size_t finallen) MXS_WUR;

/* Convert a presentation-form name into wire form; used by tests and by
 * callers that need to validate a name.  Returns the wire length or error. */
int mxs_dns_name_to_wire(const char *name, unsigned char *wire, size_t wirelen) MXS_WUR;

#endif
