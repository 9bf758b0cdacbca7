/*
 * mtasts_policy — the MTA-STS policy body (RFC 8461 §3.2), the media type it
 * is served with, and which policy "mx" pattern covers which live MX (§4.1).
 * Pure: no I/O, no shared state (thread-safe); only the parser allocates,
 * and only its output.
 *
 * The parser follows the §3.2 ABNF strictly and takes these decisions (the
 * lead's, recorded here and pinned by tests/unit/test_mtasts_policy.c):
 *
 *  - Lines end in LF or CRLF, mixed freely; the last terminator is optional.
 *    A CR not directly followed by LF is invalid wherever it appears.
 *  - Blank lines are not in the ABNF and are invalid, a trailing empty line
 *    ("...\n\n") and the empty body included.
 *  - Every line is `name ":" *WSP value *WSP`, name per sts-policy-ext-name
 *    (ALPHA/DIGIT, then up to 31 of ALPHA/DIGIT/"_"/"-"/"."; case-sensitive,
 *    so "Mode:" is an extension), value per sts-policy-ext-value (printable
 *    ASCII and well-formed UTF-8, single inner spaces or runs of them, no
 *    TAB or other control byte inside, at least one character).  A line that
 *    is not even that is invalid, whatever its name.
 *  - version (exactly "STSv1"), mode ("enforce", "testing", "none"; %s, so
 *    case-sensitive) and max_age are required.  For these and for
 *    extensions, the first occurrence wins; later ones are syntax-checked as
 *    above, then ignored and counted in dup_ignored (§3.2, last paragraph).
 *  - max_age is 1*10DIGIT (leading zeros allowed).  A value above
 *    MXS_STS_MAX_AGE_MAX (31557600, "maximum value" in §3.2) is REJECTED as
 *    invalid, not capped: a monitor must flag a policy some senders refuse.
 *  - mx: every occurrence is kept and checked: ["*."] host name with
 *    mxs_hostname_valid() syntax (so at least two labels after the "*."),
 *    A-labels only (a non-ASCII byte is invalid: IDNs must be xn--), no
 *    IP literal, no trailing dot, "*" only as the whole left-most label.
 *    At least one is required unless mode is none; with mode none they are
 *    still checked.
 *  - Unknown names are extensions: kept (first MXS_STS_EXT_MAX distinct
 *    names), further ones only counted.
 *
 * Every failure reason names the line: "line 3: max_age 31557601 exceeds
 * the maximum 31557600".  Hostile bytes are shown escaped (\xHH), truncated.
 */
#ifndef MXS_MTASTS_POLICY_H
#define MXS_MTASTS_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "mxs_err.h"
#include "mxs_limits.h"

enum mxs_sts_mode {
	MXS_STS_MODE_ENFORCE = 1,
	MXS_STS_MODE_TESTING,
	MXS_STS_MODE_NONE,
};

struct mxs_sts_ext {
	char *name;  /* as sent (case preserved) */
	char *value; /* without surrounding whitespace; may hold UTF-8 */
};

struct mxs_sts_policy {
	enum mxs_sts_mode mode;
	uint32_t max_age;        /* seconds, <= MXS_STS_MAX_AGE_MAX */
	char **mx;               /* nmx patterns in policy order, as sent */
	size_t nmx;              /* <= MXS_STS_MX_MAX; 0 only for mode none */
	struct mxs_sts_ext *ext; /* next extensions, first occurrence each */
	size_t next;             /* <= MXS_STS_EXT_MAX */
	size_t ext_dropped;      /* extension lines past the cap (counted,
	                          * not kept, not checked for duplicates) */
	size_t dup_ignored;      /* non-mx lines ignored as later duplicates */
	size_t lines;            /* lines in the body */
};

/*
 * Parse a policy body of len bytes (any bytes; need not be NUL-terminated).
 * On success returns 0 and *out receives a newly allocated policy, owned by
 * the caller, released with mxs_sts_policy_free().  On failure *out is NULL,
 * nothing stays allocated, and errstr names the line and the reason:
 *   MXS_ESYNTAX  the body is not a valid RFC 8461 policy (the probe reports
 *                "sts-policy-invalid"; this is a verdict, not a probe error)
 *   MXS_ELIMIT   len > MXS_STS_POLICY_MAX or more than MXS_STS_MX_MAX mx
 *   MXS_ENOMEM   allocation failed
 *   MXS_EINVAL   body or out is NULL
 */
int mxs_sts_policy_parse(const char *body, size_t len, struct mxs_sts_policy **out, char *errstr,
                         size_t errlen) MXS_WUR;

/* Free a policy from mxs_sts_policy_parse() and set *p to NULL; NULL ok. */
void mxs_sts_policy_free(struct mxs_sts_policy **p);

/* "enforce", "testing", "none", or "?" for anything else. */
const char *mxs_sts_mode_name(enum mxs_sts_mode mode);

/*
 * Check an HTTP Content-Type field value (NULL = header absent).  Accepts
 * media type text/plain (type and subtype case-insensitive) with optional
 * parameters per RFC 9110 §8.3.1/§5.6.6: `*( OWS ";" OWS [ token "="
 * ( token / quoted-string ) ] )`, surrounding OWS ignored.  Parameter
 * values, charset included, are not judged (§3.2 only asks for text/plain).
 * Returns 0 when acceptable, MXS_ESYNTAX with the reason in errstr when the
 * header is absent, malformed, or names another media type.  No allocation.
 */
int mxs_sts_media_type_check(const char *content_type, char *errstr, size_t errlen) MXS_WUR;

/*
 * Which pattern covers which MX (RFC 8461 §4.1).  Filled by
 * mxs_sts_coverage() into caller-provided storage; nothing is allocated.
 */
struct mxs_sts_coverage {
	size_t nhosts;                          /* hosts examined */
	int host_pattern[MXS_MX_MAX];           /* per host: index into policy->mx
	                                         * of the FIRST matching pattern,
	                                         * or -1 when none matches */
	unsigned pattern_hosts[MXS_STS_MX_MAX]; /* per pattern: hosts it matches
	                                         * (not only first matches) */
	size_t uncovered;                       /* hosts with host_pattern -1 */
	size_t unused;                          /* patterns matching no host */
};

/*
 * Match nhosts live MX host names (from DNS: A-labels, ideally lower case
 * without trailing dot; mxs_name_match() ignores case and one trailing dot)
 * against every pattern of p.  The implicit MX — the domain itself when it
 * has no MX records — is passed like any other name.  A host that is not a
 * valid host name (a U-label, a single label, an IP literal) matches no
 * pattern.  The verdict ignores p->mode: with mode none the caller decides
 * what coverage means.  Pure function.  Returns 0, or MXS_EINVAL (NULL
 * argument, a NULL host) / MXS_ELIMIT (nhosts > MXS_MX_MAX, or a policy
 * with more than MXS_STS_MX_MAX patterns) leaving *cov zeroed.
 */
int mxs_sts_coverage(const struct mxs_sts_policy *p, const char *const *hosts, size_t nhosts,
                     struct mxs_sts_coverage *cov) MXS_WUR;

#endif
