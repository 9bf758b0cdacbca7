/* testvec — policy vector files for the unit tests; see testvec.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "testvec.h"

json_t *
tv_load(const char *rel, json_t **cases)
{
	const char *base = getenv("MXS_SHARED_DATA");
	char path[1024];
	json_error_t je;
	json_t *root;
	int n;

	if (base == NULL) {
		print_message("MXS_SHARED_DATA not set: vectors not run\n");
		skip();
	}
	n = snprintf(path, sizeof(path), "%s/policy-vectors/%s", base, rel);
	assert_true(n > 0 && (size_t)n < sizeof(path));
	if ((root = json_load_file(path, 0, &je)) == NULL)
		fail_msg("%s: %s (line %d)", path, je.text, je.line);
	*cases = json_object_get(root, "cases");
	assert_true(json_is_array(*cases) && json_array_size(*cases) > 0);
	return root;
}

void
tv_tally_one(struct tv_tally *t, size_t i, int ok, const char *what)
{
	t->n++;
	if (ok)
		t->pass++;
	else
		print_message("  FAIL %s #%zu: %s\n", t->file, i, what);
}

void
tv_tally_end(const struct tv_tally *t)
{
	print_message("%s: %zu vectors, %zu passed", t->file, t->n, t->pass);
	if (t->rfc > 0)
		print_message(" (%zu on the RFC verdict where upstream differs)", t->rfc);
	print_message("\n");
	assert_int_equal(t->pass, t->n);
}

const char *
tv_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}
