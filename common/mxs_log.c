/* mxs_log — see mxs_log.h. */
#include "mxs_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const char *log_prog = "mxsentry";
static enum mxs_log_level log_min = MXS_LOG_INFO;
static const char *const log_names[] = {"debug", "info", "warn", "error"};

void
mxs_log_init(const char *progname, enum mxs_log_level min)
{
	log_prog = progname;
	log_min = min;
}

static void
log_v(enum mxs_log_level lvl, const char *fmt, va_list ap)
{
	char line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "%s: level=%s %s\n", log_prog, log_names[lvl], line);
}

void
mxs_log(enum mxs_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl < log_min)
		return;
	va_start(ap, fmt);
	log_v(lvl, fmt, ap);
	va_end(ap);
}

void
mxs_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(MXS_LOG_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}

void
mxs_panic_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: level=panic at=%s:%d ", log_prog, file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
