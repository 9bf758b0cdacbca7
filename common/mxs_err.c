/* mxs_err — error codes and their text (see mxs_err.h). */
#include "mxs_err.h"

#include <stdarg.h>
#include <stdio.h>

const char *
mxs_strerror(int err)
{
	switch (err) {
	case MXS_OK:
		return "success";
	case MXS_ENOMEM:
		return "out of memory";
	case MXS_EINVAL:
		return "invalid argument";
	case MXS_ELIMIT:
		return "size limit exceeded";
	case MXS_ESYS:
		return "system error";
	case MXS_ECONFIG:
		return "configuration error";
	case MXS_ETLS:
		return "TLS library error";
	case MXS_EDNS:
		return "resolver error";
	case MXS_ESYNTAX:
		return "syntax error";
	case MXS_ETRUNC:
		return "truncated input";
	case MXS_ENOTFOUND:
		return "not found";
	}
	return "unknown error";
}

int
mxs_seterr(char *errstr, size_t errlen, int err, const char *fmt, ...)
{
	va_list ap;

	if (errstr != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(errstr, errlen, fmt, ap);
		va_end(ap);
	}
	return err;
}
