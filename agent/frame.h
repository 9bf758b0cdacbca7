/*
 * frame — messages between the agent's relay and its prober child over a
 * socketpair: 1 type byte, 4-byte big-endian length, payload.
 *
 *   prober -> relay  FRAME_RESULT  packed mxs.ProbeResult (result_pb.h)
 *                    FRAME_STATS   packed mxs.Heartbeat: the prober's
 *                                  counters and egress state
 *   relay -> prober  FRAME_JOBS    packed mxs.JobList
 *
 * The prober parses hostile servers' replies, so the relay reads its
 * frames as untrusted too: a length over MXS_FRAME_MAX ends the link.
 */
#ifndef MXS_FRAME_H
#define MXS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "mxs_err.h"
#include "mxs_limits.h"

#define MXS_FRAME_RESULT 'R'
#define MXS_FRAME_STATS  'S'
#define MXS_FRAME_JOBS   'J'
#define MXS_FRAME_HDR    5
#define MXS_FRAME_MAX    MXS_WIRE_MSG_MAX

/* Write one whole frame to a blocking fd; MXS_ESYS on error. */
int mxs_frame_write(int fd, uint8_t type, const uint8_t *buf, size_t len) MXS_WUR;

/* Fill hdr[MXS_FRAME_HDR] for a frame (for writers with their own buffers). */
void mxs_frame_header(uint8_t hdr[MXS_FRAME_HDR], uint8_t type, size_t len);

/*
 * Read one whole frame from a blocking fd.  *buf is malloc'd (caller
 * frees), *len its size.  Returns 0, MXS_ETRUNC at a clean end of stream,
 * MXS_ELIMIT for an oversized frame, MXS_ESYS on error.
 */
int mxs_frame_read(int fd, uint8_t *type, uint8_t **buf, size_t *len) MXS_WUR;

#endif
