/*
 * ingest — an agent's ProbeResult flattened into store observations.
 *
 * One result becomes one row per probed MX address (or one row per MX host
 * that had no address, or one row for a domain with no MX host at all),
 * each carrying the domain-level facts.  The region is the one the agent
 * proved in its Hello, never a field the result could claim.
 *
 * Everything in a ProbeResult is untrusted (a compromised agent is still a
 * peer): strings are cut to the store's field sizes, anything that is not
 * printable UTF-8-safe ASCII in a name is refused, hashes of the wrong
 * length are dropped.  A refused result costs nothing else in its batch.
 */
#ifndef MXS_INGEST_H
#define MXS_INGEST_H

#include <stddef.h>

#include "mxsentry.pb-c.h"
#include "store.h"

/* Rows one result may produce: MX hosts x addresses per host, as the
 * agent's own limits allow (32 hosts, 2 x 16 addresses). */
#define MXS_MX_ROWS_PER_RESULT 1024

/*
 * Append the rows of pr (region from the agent's identity) to out, which
 * has room for max - *n more rows; *n grows by the rows written.  Returns
 * 0, MXS_EINVAL (the result is refused: errstr says why, nothing was
 * appended) or MXS_ELIMIT (no room: nothing appended).
 */
int mxs_ingest_result(const Mxs__ProbeResult *pr, const char *region, struct mxs_store_obs *out,
                      size_t max, size_t *n, char *errstr, size_t errlen) MXS_WUR;

#endif
