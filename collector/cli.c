/*
 * mxsentry — the on-call CLI, a thin client of the collector's HTTP API
 * (issue 4).  This build only knows --version.
 */
#include <stdio.h>
#include <string.h>

#include "mxs_log.h"

int
main(int argc, char **argv)
{
	mxs_log_init("mxsentry", MXS_LOG_INFO);
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("mxsentry 0.1.0\n");
		return 0;
	}
	mxs_err("msg=\"the on-call CLI needs the collector: see issue 4\"");
	return 2;
}
