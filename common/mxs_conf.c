/* mxs_conf — table-driven configuration files (see mxs_conf.h). */
#include "mxs_conf.h"
#include "mxs_limits.h"

#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct conf_load {
	const struct mxs_conf_opt *table;
	size_t n;
	void *obj;
	char err[256];
};

int
mxs_parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	*out = 0;
	if (s == NULL || *s == '\0')
		return MXS_ESYNTAX;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return MXS_ESYNTAX;
	if (errno == ERANGE || v < min || v > max)
		return MXS_ELIMIT;
	*out = v;
	return 0;
}

static int
conf_bool(const char *s, int *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return MXS_ESYNTAX;
}

/* Store text value v for opt into obj; message in err on failure. */
static int
conf_set(const struct mxs_conf_opt *opt, void *obj, const char *v, char *err, size_t errlen)
{
	char *base = (char *)obj + opt->offset;
	long long ll;
	int b, rc;

	switch (opt->type) {
	case MXS_CONF_INT:
		if ((rc = mxs_parse_ll(v, opt->min, opt->max, &ll)) != 0)
			return mxs_seterr(err, errlen, rc, "%s must be an integer in [%lld, %lld]",
			                  opt->name, opt->min, opt->max);
		*(long long *)(void *)base = ll;
		return 0;
	case MXS_CONF_BOOL:
		if (conf_bool(v, &b) != 0)
			return mxs_seterr(err, errlen, MXS_ESYNTAX, "%s must be yes or no",
			                  opt->name);
		*(int *)(void *)base = b;
		return 0;
	case MXS_CONF_STR: {
		char **sp = (char **)(void *)base;
		char *dup = strdup(v);
		if (dup == NULL)
			return MXS_ENOMEM;
		free(*sp);
		*sp = dup;
		return 0;
	}
	case MXS_CONF_LIST: {
		char **list = (char **)(void *)base;
		size_t *cnt = (size_t *)(void *)((char *)obj + opt->count_off);
		if (*cnt >= (size_t)opt->max)
			return mxs_seterr(err, errlen, MXS_ELIMIT, "%s given more than %lld times",
			                  opt->name, opt->max);
		if ((list[*cnt] = strdup(v)) == NULL)
			return MXS_ENOMEM;
		(*cnt)++;
		return 0;
	}
	}
	return MXS_EINVAL;
}

int
mxs_conf_defaults(const struct mxs_conf_opt *table, size_t n, void *obj)
{
	char err[128];
	int rc;

	for (size_t i = 0; i < n; i++) {
		if (table[i].def == NULL)
			continue;
		if ((rc = conf_set(&table[i], obj, table[i].def, err, sizeof(err))) != 0)
			return rc;
	}
	return 0;
}

static int
conf_handler(void *user, const char *section, const char *name, const char *value)
{
	struct conf_load *cl = user;

	for (size_t i = 0; i < cl->n; i++) {
		const struct mxs_conf_opt *o = &cl->table[i];
		if (strcmp(o->section, section) != 0 || strcmp(o->name, name) != 0)
			continue;
		if (conf_set(o, cl->obj, value, cl->err, sizeof(cl->err)) != 0)
			return 0;
		return 1;
	}
	snprintf(cl->err, sizeof(cl->err), "unknown option [%s] %s", section, name);
	return 0;
}

int
mxs_conf_load(const struct mxs_conf_opt *table, size_t n, void *obj, const char *path, char *errstr,
              size_t errlen)
{
	struct conf_load cl = {.table = table, .n = n, .obj = obj};
	struct stat st;
	int line;

	if (stat(path, &st) != 0)
		return mxs_seterr(errstr, errlen, MXS_ECONFIG, "%s: %s", path, strerror(errno));
	if (st.st_size > MXS_CONF_FILE_MAX)
		return mxs_seterr(errstr, errlen, MXS_ELIMIT, "%s: larger than %d bytes", path,
		                  MXS_CONF_FILE_MAX);
	line = ini_parse(path, conf_handler, &cl);
	if (line < 0)
		return mxs_seterr(errstr, errlen, MXS_ECONFIG, "%s: cannot read", path);
	if (line > 0)
		return mxs_seterr(errstr, errlen, MXS_ECONFIG, "%s:%d: %s", path, line,
		                  cl.err[0] ? cl.err : "syntax error");
	return 0;
}

void
mxs_conf_free(const struct mxs_conf_opt *table, size_t n, void *obj)
{
	for (size_t i = 0; i < n; i++) {
		char *base = (char *)obj + table[i].offset;
		if (table[i].type == MXS_CONF_STR) {
			char **sp = (char **)(void *)base;
			free(*sp);
			*sp = NULL;
		} else if (table[i].type == MXS_CONF_LIST) {
			char **list = (char **)(void *)base;
			size_t *cnt = (size_t *)(void *)((char *)obj + table[i].count_off);
			for (size_t j = 0; j < *cnt; j++) {
				free(list[j]);
				list[j] = NULL;
			}
			*cnt = 0;
		}
	}
}

void
mxs_conf_print_example(const struct mxs_conf_opt *table, size_t n, FILE *out)
{
	const char *section = NULL;

	for (size_t i = 0; i < n; i++) {
		const struct mxs_conf_opt *o = &table[i];
		if (section == NULL || strcmp(section, o->section) != 0) {
			fprintf(out, "%s[%s]\n", section ? "\n" : "", o->section);
			section = o->section;
		}
		fprintf(out, "; %s", o->help);
		if (o->type == MXS_CONF_INT)
			fprintf(out, " (%lld..%lld)", o->min, o->max);
		else if (o->type == MXS_CONF_LIST)
			fprintf(out, " (may repeat, up to %lld times)", o->max);
		fprintf(out, "\n%s%s = %s\n", o->def ? "" : ";", o->name, o->def ? o->def : "");
	}
}
