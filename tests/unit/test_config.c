/*
 * test_config — the agent's option table and the table-driven loader
 * (common/mxs_conf.c): defaults, every type, bounds, and broken files that
 * must be rejected with the file and line named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "mxs_conf.h"
#include "mxs_limits.h"

/* Write text to a fresh temporary file; returns its malloc'd path. */
static char *
write_tmp(const char *text)
{
	char *path = strdup("/tmp/mxs-test-config.XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
test_defaults(void **state)
{
	struct mxs_agent_config c;
	char err[256];

	(void)state;
	assert_int_equal(mxs_agent_config_load(&c, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.ca_file, "/etc/ssl/certs/ca-certificates.crt");
	assert_string_equal(c.trust_anchor_file, "/usr/share/dns/root.key");
	assert_null(c.unbound_config);
	assert_null(c.helo_name);
	assert_int_equal(c.connect_timeout_ms, 10000);
	assert_int_equal(c.command_timeout_ms, 30000);
	assert_int_equal(c.session_timeout_ms, 60000);
	assert_int_equal(c.policy_timeout_ms, 60000);
	assert_int_equal(c.ipv4, 1);
	assert_int_equal(c.ipv6, 1);
	assert_int_equal(c.use_resolv_conf, 0);
	assert_int_equal(c.nforward, 0);
	mxs_agent_config_free(&c);
}

static void
test_full_file(void **state)
{
	struct mxs_agent_config c;
	char err[256];
	char *path = write_tmp("; comment\n"
	                       "[resolver]\n"
	                       "forward = 192.0.2.1\n"
	                       "forward = 2001:db8::1\n"
	                       "stub_zone = example.test.\n"
	                       "stub_addr = 192.0.2.53\n"
	                       "use_resolv_conf = yes\n"
	                       "[tls]\n"
	                       "ca_file = /tmp/ca.pem\n"
	                       "[probe]\n"
	                       "helo_name = probe.example\n"
	                       "connect_timeout_ms = 100\n"
	                       "session_timeout_ms = 900000\n"
	                       "ipv6 = off\n");

	(void)state;
	assert_int_equal(mxs_agent_config_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.nforward, 2);
	assert_string_equal(c.forward[0], "192.0.2.1");
	assert_string_equal(c.forward[1], "2001:db8::1");
	assert_string_equal(c.stub_zone, "example.test.");
	assert_int_equal(c.nstub_addr, 1);
	assert_int_equal(c.use_resolv_conf, 1);
	assert_string_equal(c.ca_file, "/tmp/ca.pem");
	assert_string_equal(c.helo_name, "probe.example");
	assert_int_equal(c.connect_timeout_ms, 100);
	assert_int_equal(c.session_timeout_ms, 900000);
	assert_int_equal(c.ipv6, 0);
	assert_int_equal(c.ipv4, 1);
	mxs_agent_config_free(&c);
	unlink(path);
	free(path);
}

/* Broken files: each must fail, and the message must name file:line and why. */
static void
test_broken_files(void **state)
{
	static const struct {
		const char *text;
		const char *want; /* substring after "path:" */
	} cases[] = {
	        {"[probe]\nconnect_timeout_ms = 99\n",
	         ":2: connect_timeout_ms must be an integer in [100, 120000]"},
	        {"[probe]\nconnect_timeout_ms = 120001\n",
	         ":2: connect_timeout_ms must be an integer"},
	        {"[probe]\n\nconnect_timeout_ms = 10s\n",
	         ":3: connect_timeout_ms must be an integer"},
	        {"[probe]\nconnect_timeout_ms =\n", ":2: connect_timeout_ms must be an integer"},
	        {"[probe]\nconnect_timeout_ms = 99999999999999999999\n",
	         ":2: connect_timeout_ms must be"},
	        {"[probe]\nipv6 = maybe\n", ":2: ipv6 must be yes or no"},
	        {"[probe]\ncolour = blue\n", ":2: unknown option [probe] colour"},
	        {"[nosuch]\nipv6 = yes\n", ":2: unknown option [nosuch] ipv6"},
	        {"ipv6 = yes\n", ":1: unknown option [] ipv6"},
	        {"[probe\nipv6 = yes\n", ":1:"},
	        {"[tls]\nca_file\n", ":2:"},
	        {"[resolver]\nforward=a\nforward=b\nforward=c\nforward=d\nforward=e\nforward=f\n"
	         "forward=g\nforward=h\nforward=i\n",
	         ":10: forward given more than 8 times"},
	};
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mxs_agent_config c;
		char *path = write_tmp(cases[i].text);
		int rc = mxs_agent_config_load(&c, path, err, sizeof(err));

		if (rc == 0 || strncmp(err, path, strlen(path)) != 0 ||
		    strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: rc=%d err=\"%s\" want \"%s\"", i, rc, err,
			         cases[i].want);
		mxs_agent_config_free(&c);
		unlink(path);
		free(path);
	}
}

static void
test_missing_and_huge(void **state)
{
	struct mxs_agent_config c;
	char err[512];
	char *path;
	FILE *f;

	(void)state;
	assert_int_not_equal(mxs_agent_config_load(&c, "/nonexistent/agent.conf", err, sizeof(err)),
	                     0);
	assert_non_null(strstr(err, "/nonexistent/agent.conf: No such file"));
	mxs_agent_config_free(&c);

	/* One byte over the named limit. */
	path = write_tmp("");
	assert_non_null(f = fopen(path, "w"));
	for (long i = 0; i <= MXS_CONF_FILE_MAX; i++)
		fputc(i % 64 == 63 ? '\n' : ';', f);
	fclose(f);
	assert_int_equal(mxs_agent_config_load(&c, path, err, sizeof(err)), MXS_ELIMIT);
	assert_non_null(strstr(err, "larger than"));
	mxs_agent_config_free(&c);
	unlink(path);
	free(path);
}

static void
test_parse_ll(void **state)
{
	long long v;

	(void)state;
	assert_int_equal(mxs_parse_ll("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(mxs_parse_ll("-5", -10, 0, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(mxs_parse_ll("", 0, 1, &v), MXS_ESYNTAX);
	assert_int_equal(mxs_parse_ll("1x", 0, 10, &v), MXS_ESYNTAX);
	assert_int_equal(mxs_parse_ll(" 1", 0, 10, &v), 0); /* strtoll skips leading blanks */
	assert_int_equal(mxs_parse_ll("11", 0, 10, &v), MXS_ELIMIT);
	assert_int_equal(mxs_parse_ll("9223372036854775808", 0, 10, &v), MXS_ELIMIT);
	assert_int_equal(v, 0);
	assert_int_equal(mxs_parse_ll(NULL, 0, 10, &v), MXS_ESYNTAX);
}

/* The printed example must load back to exactly the defaults. */
static void
test_example_roundtrip(void **state)
{
	struct mxs_agent_config c, d;
	char err[256], *buf = NULL, *path;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(f = open_memstream(&buf, &len));
	mxs_agent_config_example(f);
	fclose(f);
	assert_non_null(strstr(buf, "[probe]\n"));
	assert_non_null(strstr(buf, "connect_timeout_ms = 10000\n"));
	assert_non_null(strstr(buf, ";helo_name = \n"));
	path = write_tmp(buf);
	assert_int_equal(mxs_agent_config_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(mxs_agent_config_load(&d, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.ca_file, d.ca_file);
	assert_int_equal(c.command_timeout_ms, d.command_timeout_ms);
	assert_int_equal(c.tls_timeout_ms, d.tls_timeout_ms);
	assert_int_equal(c.ipv4, d.ipv4);
	mxs_agent_config_free(&c);
	mxs_agent_config_free(&d);
	unlink(path);
	free(path);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),     cmocka_unit_test(test_full_file),
	        cmocka_unit_test(test_broken_files), cmocka_unit_test(test_missing_and_huge),
	        cmocka_unit_test(test_parse_ll),     cmocka_unit_test(test_example_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
