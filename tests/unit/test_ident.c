/*
 * test_ident — the agent's proof of identity in the Hello (common/ident.c),
 * against a real installation PKI made by deploy/mxs-pki in a temporary
 * directory: CA with CRL, agents ams-1/eu and gone-1/eu (revoked), and an
 * agent ams-1/eu of another CA.  The store the collector would use is the
 * CA plus CRL file with CRL checking on, as listener.c builds it.
 *
 * Finds deploy/mxs-pki through $MXS_SRC_DIR (set by CMake).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "ident.h"

extern char **environ;

static char dir[64], pki[1024];
static X509_STORE *store;

struct agent {
	uint8_t *der;
	size_t len;
	EVP_PKEY *key;
};
static struct agent ams, gone, rogue;

static const uint8_t challenge[MXS_IDENT_CHALLENGE_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static int
run(char *const argv[])
{
	pid_t pid;
	int st;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Quiet: mxs-pki reports every step on stdout. */
static int
pki_run(const char *a, const char *b, const char *c, const char *d)
{
	char *shell[] = {"sh", "-c", NULL, NULL};
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "'%s' %s %s %s %s >/dev/null", pki, a, b, c ? c : "",
	         d ? d : "");
	shell[2] = cmd;
	return run(shell);
}

static void
load_agent(const char *pkidir, const char *name, struct agent *ag)
{
	char p[512];
	FILE *f;
	X509 *x;
	unsigned char *q;
	int n;

	snprintf(p, sizeof(p), "%s/agents/%s.crt", pkidir, name);
	assert_non_null(f = fopen(p, "r"));
	assert_non_null(x = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	assert_true((n = i2d_X509(x, NULL)) > 0);
	assert_non_null(ag->der = malloc((size_t)n));
	q = ag->der;
	ag->len = (size_t)i2d_X509(x, &q);
	X509_free(x);
	snprintf(p, sizeof(p), "%s/agents/%s.key", pkidir, name);
	assert_non_null(f = fopen(p, "r"));
	assert_non_null(ag->key = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
}

static int
group_setup(void **state)
{
	const char *src = getenv("MXS_SRC_DIR");
	char other[128], crl[128];

	(void)state;
	snprintf(pki, sizeof(pki), "%s/deploy/mxs-pki", src != NULL ? src : ".");
	snprintf(dir, sizeof(dir), "/tmp/mxs-ident-XXXXXX");
	if (access(pki, X_OK) != 0 || mkdtemp(dir) == NULL)
		return -1;
	snprintf(other, sizeof(other), "%s/other", dir);
	if (pki_run("init", dir, NULL, NULL) != 0 || pki_run("agent", dir, "ams-1", "eu") != 0 ||
	    pki_run("agent", dir, "gone-1", "eu") != 0 ||
	    pki_run("revoke", dir, "gone-1", NULL) != 0 ||
	    pki_run("init", other, NULL, NULL) != 0 || pki_run("agent", other, "ams-1", "eu") != 0)
		return -1;
	load_agent(dir, "ams-1", &ams);
	load_agent(dir, "gone-1", &gone);
	load_agent(other, "ams-1", &rogue);
	snprintf(crl, sizeof(crl), "%s/ca-crl.pem", dir);
	if ((store = X509_STORE_new()) == NULL || X509_STORE_load_file(store, crl) != 1)
		return -1;
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	return 0;
}

static int
group_teardown(void **state)
{
	char *rm[] = {"rm", "-rf", dir, NULL};
	struct agent *all[] = {&ams, &gone, &rogue};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		free(all[i]->der);
		EVP_PKEY_free(all[i]->key);
	}
	X509_STORE_free(store);
	return dir[0] != '\0' ? run(rm) : 0;
}

/* Sign as key for name/region, verify as the collector with cert; the
 * result code, and errstr containing want (when want is not NULL). */
static int
prove(const struct agent *cert, EVP_PKEY *key, const char *name, const char *region,
      const uint8_t *ch_sign, const char *want)
{
	char err[256] = "";
	uint8_t *sig = NULL;
	size_t siglen = 0;
	int rc;

	assert_int_equal(mxs_ident_sign(key, ch_sign, MXS_IDENT_CHALLENGE_LEN, name, region, &sig,
	                                &siglen, err, sizeof(err)),
	                 0);
	rc = mxs_ident_verify(store, cert->der, cert->len, challenge, sizeof(challenge), name,
	                      region, sig, siglen, err, sizeof(err));
	free(sig);
	if (want != NULL && strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	return rc;
}

static void
test_enrolled_agent_accepted(void **state)
{
	(void)state;
	assert_int_equal(prove(&ams, ams.key, "ams-1", "eu", challenge, NULL), MXS_OK);
}

static void
test_name_or_region_mismatch_refused(void **state)
{
	(void)state;
	assert_int_equal(prove(&ams, ams.key, "us-1", "eu", challenge,
	                       "hello names us-1/eu but the certificate is ams-1/eu"),
	                 MXS_EINVAL);
	assert_int_equal(prove(&ams, ams.key, "ams-1", "us", challenge,
	                       "hello names ams-1/us but the certificate is ams-1/eu"),
	                 MXS_EINVAL);
}

static void
test_other_challenge_or_key_refused(void **state)
{
	uint8_t other[MXS_IDENT_CHALLENGE_LEN] = {9, 9, 9};

	(void)state;
	/* A replayed signature over another connection's challenge. */
	assert_int_equal(prove(&ams, ams.key, "ams-1", "eu", other, "signature does not verify"),
	                 MXS_EINVAL);
	/* The enrolled certificate with somebody else's key. */
	assert_int_equal(
	        prove(&ams, rogue.key, "ams-1", "eu", challenge, "signature does not verify"),
	        MXS_EINVAL);
}

static void
test_revoked_and_foreign_refused(void **state)
{
	(void)state;
	assert_int_equal(prove(&gone, gone.key, "gone-1", "eu", challenge,
	                       "certificate refused: certificate revoked"),
	                 MXS_EINVAL);
	/* Same name and region, another CA, its own valid key. */
	assert_int_equal(prove(&rogue, rogue.key, "ams-1", "eu", challenge,
	                       "certificate refused: unable to get local issuer certificate"),
	                 MXS_EINVAL);
}

static void
test_malformed_proofs_refused(void **state)
{
	uint8_t sig[8] = {0x30, 0x06}, junk[64];
	char err[256];

	(void)state;
	memset(junk, 0xa5, sizeof(junk));
	/* Not DER, truncated DER, trailing bytes, too large, no signature. */
	assert_int_equal(mxs_ident_verify(store, junk, sizeof(junk), challenge, sizeof(challenge),
	                                  "ams-1", "eu", sig, sizeof(sig), err, sizeof(err)),
	                 MXS_EINVAL);
	assert_int_equal(mxs_ident_verify(store, ams.der, ams.len - 1, challenge, sizeof(challenge),
	                                  "ams-1", "eu", sig, sizeof(sig), err, sizeof(err)),
	                 MXS_EINVAL);
	assert_string_equal(err, "certificate does not decode");
	assert_int_equal(mxs_ident_verify(store, ams.der, MXS_IDENT_CERT_MAX + 1, challenge,
	                                  sizeof(challenge), "ams-1", "eu", sig, sizeof(sig), err,
	                                  sizeof(err)),
	                 MXS_EINVAL);
	assert_int_equal(mxs_ident_verify(store, ams.der, ams.len, challenge, sizeof(challenge),
	                                  "ams-1", "eu", sig, 0, err, sizeof(err)),
	                 MXS_EINVAL);
	assert_string_equal(err, "no proof, or proof too large");
	/* A challenge of the wrong length cannot be signed or verified. */
	{
		uint8_t *s = NULL;
		size_t sl = 0;
		assert_int_equal(mxs_ident_sign(ams.key, challenge, 16, "ams-1", "eu", &s, &sl, err,
		                                sizeof(err)),
		                 MXS_EINVAL);
		assert_null(s);
	}
	/* A name over the limit is refused before any crypto. */
	{
		char longname[MXS_IDENT_NAME_MAX + 2];
		uint8_t *s = NULL;
		size_t sl = 0;
		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		assert_int_equal(mxs_ident_sign(ams.key, challenge, sizeof(challenge), longname,
		                                "eu", &s, &sl, err, sizeof(err)),
		                 MXS_EINVAL);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_enrolled_agent_accepted),
	        cmocka_unit_test(test_name_or_region_mismatch_refused),
	        cmocka_unit_test(test_other_challenge_or_key_refused),
	        cmocka_unit_test(test_revoked_and_foreign_refused),
	        cmocka_unit_test(test_malformed_proofs_refused),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
