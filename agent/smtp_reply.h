/*
 * smtp_reply — bounded parser for SMTP replies (RFC 5321 §4.2) and the
 * EHLO keyword list (RFC 5321 §4.1.1.1).  Pure: no I/O, no allocation
 * except mxs_ehlo_parse's output array.
 *
 * The caller splits the byte stream into lines (without CRLF, never longer
 * than MXS_SMTP_LINE_MAX) and feeds them one at a time; a reply is complete
 * when a line with a space (or nothing) after the code arrives.
 */
#ifndef MXS_SMTP_REPLY_H
#define MXS_SMTP_REPLY_H

#include <stddef.h>

#include "mxs_limits.h"
#include "mxs_err.h"

struct mxs_smtp_reply {
	int code;      /* 3-digit reply code, 0 until the first line */
	size_t nlines; /* lines received so far */
	size_t len;    /* bytes used in text */
	/* Text after "NNN-"/"NNN " of every line, lines separated by '\n',
	 * NUL-terminated.  Bytes outside printable ASCII are replaced by '?'. */
	char text[MXS_SMTP_REPLY_MAX];
};

/* Forget everything: ready for the next reply. */
void mxs_smtp_reply_reset(struct mxs_smtp_reply *r);

/*
 * Feed one line (len bytes, no CR LF, may contain any byte).
 * Returns 1 when the reply is complete, 0 when more lines are needed, or
 * MXS_ESYNTAX (no 3-digit code 200..599, a bad separator, a code that
 * changes between lines, a NUL byte) / MXS_ELIMIT (more than
 * MXS_SMTP_REPLY_LINES lines, a line over MXS_SMTP_LINE_MAX, text over
 * MXS_SMTP_REPLY_MAX) with a human reason in errstr.
 */
int mxs_smtp_reply_feed(struct mxs_smtp_reply *r, const char *line, size_t len, char *errstr,
                        size_t errlen) MXS_WUR;

/* First text line of the reply (up to the first '\n'), copied into buf. */
void mxs_smtp_reply_first_line(const struct mxs_smtp_reply *r, char *buf, size_t buflen);

/*
 * Parse a complete 250 EHLO reply.  Line 1 is the server's domain and
 * greeting; every later line is one keyword with optional parameters.
 * *caps receives a newly allocated array of up to MXS_EHLO_CAPS_MAX strings
 * ("KEYWORD params", keyword upper-cased, parameters as sent), owned by the
 * caller (free each, then the array; on failure nothing is allocated).
 * *starttls is 1 when a line's keyword is exactly STARTTLS (any case).
 * Lines whose keyword is not ehlo-keyword syntax (ALPHA/DIGIT then
 * ALPHA/DIGIT/"-") are skipped, not fatal; lines past the cap are counted in
 * *dropped.
 */
int mxs_ehlo_parse(const struct mxs_smtp_reply *r, char ***caps, size_t *ncaps, int *starttls,
                   size_t *dropped) MXS_WUR;

#endif
