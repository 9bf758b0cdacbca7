/*
 * wire — the codec of the agent <-> collector conversation (proto/mxsentry.proto).
 *
 * Every nng message is one mxs.Envelope.  This module turns an Envelope into
 * bytes and back, and is the only place that decides whether bytes from a
 * peer are an acceptable Envelope: size under a named limit, decodable,
 * version MXS_WIRE_VERSION, exactly one known body, well-formed result ids.
 * Everything it refuses is answered with an Error envelope built by
 * mxs_wire_error_reply, and the connection carries on (STYLE 5: input from
 * outside is rejected and counted, never a reason to abort).
 *
 * It knows nothing of agents, collectors or nng: callers move the bytes.
 * Threading: no shared state; every function is safe from any thread.
 * Strings inside an unpacked message are NOT checked for valid UTF-8
 * (protobuf-c does not); treat them as untrusted bytes.
 */
#ifndef MXS_WIRE_H
#define MXS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "mxs_err.h"
#include "mxs_limits.h"
#include "mxsentry.pb-c.h"

#define MXS_WIRE_VERSION   1  /* Envelope.version this code speaks */
#define MXS_WIRE_RESULT_ID 16 /* bytes in ProbeResult.id */

/*
 * Pack env into a new buffer.  On success *out is a malloc'd buffer of *outlen
 * bytes that the caller frees with free(); on failure *out is NULL and *outlen 0.
 * Refuses (MXS_EINVAL) an envelope this module's unpack would refuse (a caller
 * bug: wrong version, no body) and (MXS_ELIMIT) one longer than max bytes.
 * env is not modified and stays owned by the caller.
 */
int mxs_wire_pack(const Mxs__Envelope *env, size_t max, uint8_t **out, size_t *outlen, char *errstr,
                  size_t errlen) MXS_WUR;

/*
 * Decode len bytes from a peer.  On success *envp is a new Envelope that the
 * caller owns and frees with mxs_wire_free (or mxs__envelope__free_unpacked(env,
 * NULL): the same thing); on failure *envp is NULL.  buf is not retained.
 * Errors: MXS_ELIMIT (len > max, or decoding would need more than
 * MXS_WIRE_UNPACK_MEM_MAX of heap), MXS_ESYNTAX (not an Envelope), MXS_EINVAL
 * (decoded but refused: missing/unknown version, no body, unknown body, bad
 * result id).  why, if not NULL, receives the ErrorCode to send back
 * (MXS__ERROR_CODE__ERROR_UNSPECIFIED on success); errstr a human reason.
 */
int mxs_wire_unpack(const uint8_t *buf, size_t len, size_t max, Mxs__Envelope **envp,
                    Mxs__ErrorCode *why, char *errstr, size_t errlen) MXS_WUR;

/* Free an Envelope from mxs_wire_unpack and clear *envp; NULL is fine. */
void mxs_wire_free(Mxs__Envelope **envp);

/*
 * Build and pack the Error reply {version, seq, error{code, text}}.  text may be
 * NULL; it is cut to MXS_WIRE_ERRTEXT_MAX bytes and anything but printable
 * ASCII becomes '?', so a reason that quotes peer input is still a valid proto
 * string.  Ownership of *out as for mxs_wire_pack.  Fails only with MXS_ENOMEM.
 */
int mxs_wire_error_reply(uint64_t seq, Mxs__ErrorCode code, const char *text, uint8_t **out,
                         size_t *outlen) MXS_WUR;

/* The name of an Envelope body case ("hello", ...; "none", "unknown"). */
const char *mxs_wire_body_name(Mxs__Envelope__BodyCase c);

#endif
