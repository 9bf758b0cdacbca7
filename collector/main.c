/*
 * mxsentry-collector — receives agents' results (issue 4).  This build has
 * no listener yet: it prints its version and the wire schema version it
 * will speak, and exits non-zero for anything else so no one mistakes it
 * for a running collector.
 */
#include <stdio.h>
#include <string.h>

#include "mxs_log.h"
#include "mxsentry.pb-c.h"

int
main(int argc, char **argv)
{
	Mxs__Envelope env = MXS__ENVELOPE__INIT;

	mxs_log_init("mxsentry-collector", MXS_LOG_INFO);
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		env.has_version = 1;
		env.version = 1;
		printf("mxsentry-collector 0.1.0 (wire envelope v%u, %zu bytes empty)\n",
		       env.version, mxs__envelope__get_packed_size(&env));
		return 0;
	}
	mxs_err("msg=\"collector service not built yet: see issue 4\"");
	return 2;
}
