/*
 * wire — Envelope codec with limits (see wire.h).
 *
 * protobuf-c already refuses a length prefix that runs past the input, so a
 * field "claiming 2 GiB" costs nothing; what it does not bound is the heap a
 * small input can decode to (an empty ProbeResult is 2 bytes on the wire and
 * ~100 in memory).  Unpack therefore runs with a budget allocator.  It hands
 * out plain malloc memory, so the generated free function with the default
 * allocator frees it.
 */
#include "wire.h"

#include <stdlib.h>
#include <string.h>

struct budget {
	size_t used;
	size_t max;
	int exceeded;
};

static void *
budget_alloc(void *data, size_t size)
{
	struct budget *b = data;

	if (size > b->max - b->used) {
		b->exceeded = 1;
		return NULL;
	}
	b->used += size;
	return malloc(size);
}

static void
budget_free(void *data, void *p)
{
	(void)data;
	free(p);
}

const char *
mxs_wire_body_name(Mxs__Envelope__BodyCase c)
{
	switch (c) {
	case MXS__ENVELOPE__BODY__NOT_SET:
		return "none";
	case MXS__ENVELOPE__BODY_HELLO:
		return "hello";
	case MXS__ENVELOPE__BODY_HELLO_REPLY:
		return "hello_reply";
	case MXS__ENVELOPE__BODY_JOB_REQUEST:
		return "job_request";
	case MXS__ENVELOPE__BODY_JOB_LIST:
		return "job_list";
	case MXS__ENVELOPE__BODY_RESULT_BATCH:
		return "result_batch";
	case MXS__ENVELOPE__BODY_ACK:
		return "ack";
	case MXS__ENVELOPE__BODY_ERROR:
		return "error";
	case MXS__ENVELOPE__BODY_HEARTBEAT:
		return "heartbeat";
	default:
		break;
	}
	return "unknown";
}

/* The rules both directions share; 0 or MXS_EINVAL with the reason. */
static int
wire_check(const Mxs__Envelope *env, Mxs__ErrorCode *why, char *errstr, size_t errlen)
{
	const Mxs__ResultBatch *rb;
	size_t i;

	if (!env->has_version) {
		*why = MXS__ERROR_CODE__ERROR_VERSION;
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "envelope has no version");
	}
	if (env->version != MXS_WIRE_VERSION) {
		*why = MXS__ERROR_CODE__ERROR_VERSION;
		return mxs_seterr(errstr, errlen, MXS_EINVAL,
		                  "envelope version %u not supported (want %u)",
		                  (unsigned)env->version, (unsigned)MXS_WIRE_VERSION);
	}
	*why = MXS__ERROR_CODE__ERROR_BAD_REQUEST;
	if (env->body_case == MXS__ENVELOPE__BODY__NOT_SET) {
		/* A body member from a newer schema lands in the unknown fields. */
		if (env->base.n_unknown_fields > 0)
			return mxs_seterr(errstr, errlen, MXS_EINVAL,
			                  "envelope body unknown (field %u)",
			                  (unsigned)env->base.unknown_fields[0].tag);
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "envelope has no body");
	}
	if (strcmp(mxs_wire_body_name(env->body_case), "unknown") == 0)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "envelope body unknown (case %d)",
		                  (int)env->body_case);
	if (env->body_case == MXS__ENVELOPE__BODY_RESULT_BATCH) {
		rb = env->result_batch;
		for (i = 0; i < rb->n_results; i++) {
			if (!rb->results[i]->has_id || rb->results[i]->id.len != MXS_WIRE_RESULT_ID)
				return mxs_seterr(errstr, errlen, MXS_EINVAL,
				                  "result %zu: id must be %d bytes", i,
				                  MXS_WIRE_RESULT_ID);
		}
	}
	*why = MXS__ERROR_CODE__ERROR_UNSPECIFIED;
	return MXS_OK;
}

int
mxs_wire_pack(const Mxs__Envelope *env, size_t max, uint8_t **out, size_t *outlen, char *errstr,
              size_t errlen)
{
	Mxs__ErrorCode why;
	uint8_t *buf;
	size_t n;
	int rc;

	*out = NULL;
	*outlen = 0;
	if (env == NULL)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "no envelope");
	if ((rc = wire_check(env, &why, errstr, errlen)) != MXS_OK)
		return rc;
	n = mxs__envelope__get_packed_size(env);
	if (n > max)
		return mxs_seterr(errstr, errlen, MXS_ELIMIT, "envelope is %zu bytes, limit %zu", n,
		                  max);
	/* An empty packing is impossible (version is set); malloc(0) is avoided anyway. */
	if ((buf = malloc(n > 0 ? n : 1)) == NULL)
		return mxs_seterr(errstr, errlen, MXS_ENOMEM, "envelope of %zu bytes", n);
	if (mxs__envelope__pack(env, buf) != n) {
		free(buf);
		return mxs_seterr(errstr, errlen, MXS_EINVAL,
		                  "envelope packed to an unexpected size");
	}
	*out = buf;
	*outlen = n;
	return MXS_OK;
}

int
mxs_wire_unpack(const uint8_t *buf, size_t len, size_t max, Mxs__Envelope **envp,
                Mxs__ErrorCode *why, char *errstr, size_t errlen)
{
	struct budget b = {0, MXS_WIRE_UNPACK_MEM_MAX, 0};
	ProtobufCAllocator alloc = {budget_alloc, budget_free, &b};
	Mxs__ErrorCode dummy;
	Mxs__Envelope *env;
	int rc;

	*envp = NULL;
	if (why == NULL)
		why = &dummy;
	*why = MXS__ERROR_CODE__ERROR_MALFORMED;
	if (buf == NULL && len > 0)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "no buffer");
	if (len > max) {
		*why = MXS__ERROR_CODE__ERROR_TOO_LARGE;
		return mxs_seterr(errstr, errlen, MXS_ELIMIT, "message is %zu bytes, limit %zu",
		                  len, max);
	}
	env = mxs__envelope__unpack(&alloc, len, buf);
	if (env == NULL) {
		if (b.exceeded) {
			*why = MXS__ERROR_CODE__ERROR_TOO_LARGE;
			return mxs_seterr(errstr, errlen, MXS_ELIMIT,
			                  "message of %zu bytes decodes to more than %d bytes", len,
			                  MXS_WIRE_UNPACK_MEM_MAX);
		}
		return mxs_seterr(errstr, errlen, MXS_ESYNTAX, "%zu bytes are not an envelope",
		                  len);
	}
	if ((rc = wire_check(env, why, errstr, errlen)) != MXS_OK) {
		mxs__envelope__free_unpacked(env, NULL);
		return rc;
	}
	*envp = env;
	return MXS_OK;
}

void
mxs_wire_free(Mxs__Envelope **envp)
{
	if (envp == NULL || *envp == NULL)
		return;
	mxs__envelope__free_unpacked(*envp, NULL);
	*envp = NULL;
}

int
mxs_wire_error_reply(uint64_t seq, Mxs__ErrorCode code, const char *text, uint8_t **out,
                     size_t *outlen)
{
	Mxs__Envelope env = MXS__ENVELOPE__INIT;
	Mxs__Error err = MXS__ERROR__INIT;
	char clean[MXS_WIRE_ERRTEXT_MAX + 1];
	size_t i;
	int rc;

	*out = NULL;
	*outlen = 0;
	for (i = 0; text != NULL && text[i] != '\0' && i < MXS_WIRE_ERRTEXT_MAX; i++)
		clean[i] = (text[i] >= 0x20 && text[i] < 0x7f) ? text[i] : '?';
	clean[i] = '\0';
	env.has_version = 1;
	env.version = MXS_WIRE_VERSION;
	env.has_seq = 1;
	env.seq = seq;
	err.has_code = 1;
	err.code = code;
	err.text = clean;
	env.body_case = MXS__ENVELOPE__BODY_ERROR;
	env.error = &err;
	/* Bounded by construction: a few bytes plus MXS_WIRE_ERRTEXT_MAX. */
	rc = mxs_wire_pack(&env, MXS_WIRE_MSG_MAX, out, outlen, NULL, 0);
	return rc == MXS_OK ? MXS_OK : MXS_ENOMEM;
}
