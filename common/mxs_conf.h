/*
 * mxs_conf — configuration described by one declarative table.
 *
 * Each program lists its options (section, name, type, default, bounds,
 * where to store the value) in one array of struct mxs_conf_opt; this module
 * fills the defaults, reads an inih file into the caller's struct, checks
 * every value against its bounds, and names the file and line of the first
 * error.  The same table prints the documented example config.
 */
#ifndef MXS_CONF_H
#define MXS_CONF_H

#include <stddef.h>
#include <stdio.h>

#include "mxs_err.h"

enum mxs_conf_type {
	MXS_CONF_INT,  /* long long within [min, max] */
	MXS_CONF_STR,  /* char * (owned by the struct, freed by mxs_conf_free) */
	MXS_CONF_BOOL, /* int 0/1: yes/no/true/false/on/off/1/0 */
	MXS_CONF_LIST, /* char *[max] + count; the key may repeat, up to max times */
};

struct mxs_conf_opt {
	const char *section;
	const char *name;
	enum mxs_conf_type type;
	const char *def;  /* default as text; NULL = unset */
	long long min;    /* INT: lower bound */
	long long max;    /* INT: upper bound; LIST: maximum entries */
	size_t offset;    /* where the value lives in the caller's struct */
	size_t count_off; /* LIST only: offset of the size_t entry count */
	const char *help; /* one line for the example config */
};

/* Set every option of table (n entries) to its default in obj. */
int mxs_conf_defaults(const struct mxs_conf_opt *table, size_t n, void *obj) MXS_WUR;

/*
 * Read path into obj.  Unknown sections or keys, unparsable or out-of-range
 * values, and files over MXS_CONF_FILE_MAX are errors; errstr then names
 * "path:line: reason".  obj keeps whatever was set before the error; free it
 * with mxs_conf_free either way.
 */
int mxs_conf_load(const struct mxs_conf_opt *table, size_t n, void *obj, const char *path,
                  char *errstr, size_t errlen) MXS_WUR;

/* Free the strings the table's STR and LIST options own in obj. */
void mxs_conf_free(const struct mxs_conf_opt *table, size_t n, void *obj);

/* Print an example config listing every option with its default. */
void mxs_conf_print_example(const struct mxs_conf_opt *table, size_t n, FILE *out);

/* Checked decimal conversion of the whole string s; 0 or MXS_ESYNTAX/ELIMIT. */
int mxs_parse_ll(const char *s, long long min, long long max, long long *out) MXS_WUR;

#endif
