/*
 * api_json — the JSON bodies of the collector's HTTP API, built from the
 * store's records; private to http_api.c (the reply format is documented
 * in http_api.h and docs/api.md).
 *
 * Store strings come from agents, outside the process: every one goes
 * through mxs_api_json_str, which replaces invalid UTF-8 with U+FFFD so a
 * hostile reason or certificate name cannot break a reply.
 *
 * Ownership: every json_t * returned is a new reference the caller owns
 * (json_decref, or steal it with a json_pack "o" or *_set_new/append_new,
 * which accept NULL as failure).  NULL means out of memory.  Arguments are
 * borrowed and only read during the call.
 *
 * Threading: no shared state.
 */
#ifndef MXS_API_JSON_H
#define MXS_API_JSON_H

#include <stdint.h>

#include <jansson.h>

#include "store.h"

/* A JSON string of s (NUL-terminated); invalid UTF-8 bytes become U+FFFD. */
json_t *mxs_api_json_str(const char *s);

/* An RFC 3339 UTC time ("2026-11-23T10:00:00Z") for a Unix time in ms, or
 * null for ms <= 0 (never). */
json_t *mxs_api_json_time(int64_t ms);

/* v as a JSON integer, clamped to INT64_MAX. */
json_int_t mxs_api_json_u64(uint64_t v);

/* One row of /status: an observation, its checks and its optional facts
 * (null when empty in the store); age_s counts from now (Unix ms). */
json_t *mxs_api_json_row(const struct mxs_store_obs *o, int64_t now);

/* One entry of /history: a change, its "what" list and the decoded
 * "name=value" lines of its old and new values. */
json_t *mxs_api_json_change(const struct mxs_store_change *ch);

/* One entry of /regions: an agent, with state ("up", "stale", "never",
 * decided by the caller) and heartbeat_age_s counted from now (Unix ms). */
json_t *mxs_api_json_agent(const struct mxs_store_agent *a, const char *state, int64_t now);

#endif
