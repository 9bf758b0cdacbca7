/*
 * mxs_log — one-line, levelled logging to stderr with the process name on
 * every line.  Events are written as key=value fields.  Never log keys or
 * tokens.  mxs_fatal is for the environment (exit 1); mxs_panic is for a
 * broken invariant (file:line, abort).
 */
#ifndef MXS_LOG_H
#define MXS_LOG_H

#include "mxs_err.h"

enum mxs_log_level { MXS_LOG_DEBUG, MXS_LOG_INFO, MXS_LOG_WARN, MXS_LOG_ERR };

void mxs_log_init(const char *progname, enum mxs_log_level min);
void mxs_log(enum mxs_log_level lvl, const char *fmt, ...) MXS_PRINTF(2, 3);
void mxs_fatal(const char *fmt, ...) MXS_PRINTF(1, 2) __attribute__((noreturn));
void mxs_panic_at(const char *file, int line, const char *fmt, ...) MXS_PRINTF(3, 4)
        __attribute__((noreturn));

#define mxs_debug(...) mxs_log(MXS_LOG_DEBUG, __VA_ARGS__)
#define mxs_info(...)  mxs_log(MXS_LOG_INFO, __VA_ARGS__)
#define mxs_warn(...)  mxs_log(MXS_LOG_WARN, __VA_ARGS__)
#define mxs_err(...)   mxs_log(MXS_LOG_ERR, __VA_ARGS__)
#define mxs_panic(...) mxs_panic_at(__FILE__, __LINE__, __VA_ARGS__)

#endif
