/*
 * result_pb — a probe result as the wire's mxs.ProbeResult (protobuf-c).
 *
 * The agent's prober turns each finished mxs_result into packed bytes and
 * hands them to the relay, which spools and sends them unchanged; the
 * collector decodes them in ingest.c.  The wire carries what the
 * collector stores and on-call reads, not the whole JSON tree
 * (greetings, chains, subjects stay local).
 */
#ifndef MXS_RESULT_PB_H
#define MXS_RESULT_PB_H

#include <stddef.h>
#include <stdint.h>

#include "result.h"

/*
 * Pack r with a fresh random 16-byte id into *out (malloc'd, *outlen bytes,
 * caller frees).  MXS_ENOMEM, or MXS_ELIMIT when the packed result would
 * exceed MXS_WIRE_MSG_MAX (cannot happen within the probe's own limits).
 */
int mxs_result_pack(const struct mxs_result *r, uint8_t **out, size_t *outlen) MXS_WUR;

#endif
