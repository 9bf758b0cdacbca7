/*
 * x509_names — DNS-IDs, subject CNs and DN text of a certificate (see
 * x509_names.h).
 *
 * Identifiers are copied into a buffer of MXS_DNS_NAME_MAX + 1 octets only
 * after their length and every octet are checked, so a hostile name is
 * never truncated into a different, matching one.
 */
#include "x509_names.h"

#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "mxs_limits.h"

/* Copy an identifier that is 1..len-1 printable ASCII octets, no space, no NUL. */
static int
ident_copy(const unsigned char *p, int n, char *buf, size_t len)
{
	if (p == NULL || n <= 0 || (size_t)n >= len)
		return 0;
	for (int i = 0; i < n; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return 0;
	memcpy(buf, p, (size_t)n);
	buf[n] = '\0';
	return 1;
}

static int
dns_ids(const X509 *x, mxs_x509_id_fn fn, void *arg, struct mxs_x509_dns_scan *s)
{
	GENERAL_NAMES *gens;
	char name[MXS_DNS_NAME_MAX + 1];
	int crit = -1, rc = 0;

	memset(s, 0, sizeof(*s));
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	/* crit -1: absent; -2: repeated; 0 or 1: present (undecodable if gens is NULL). */
	s->has_san = crit != -1;
	if (gens == NULL) {
		s->has_dns = s->has_san;
		return 0;
	}
	for (int i = 0; i < sk_GENERAL_NAME_num(gens) && rc == 0; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type != GEN_DNS)
			continue;
		s->has_dns = 1;
		if (!ident_copy(ASN1_STRING_get0_data(g->d.dNSName),
		                ASN1_STRING_length(g->d.dNSName), name, sizeof(name))) {
			s->skipped++;
			continue;
		}
		s->usable++;
		rc = fn(arg, MXS_X509_DNS_ID, name);
	}
	GENERAL_NAMES_free(gens);
	return rc;
}

int
mxs_x509_dns_ids(const X509 *x, mxs_x509_id_fn fn, void *arg, struct mxs_x509_dns_scan *s)
{
	int rc;

	ERR_set_mark();
	rc = dns_ids(x, fn, arg, s);
	ERR_pop_to_mark();
	return rc;
}

int
mxs_x509_cn_ids(const X509 *x, mxs_x509_id_fn fn, void *arg)
{
	const X509_NAME *nm = X509_get_subject_name(x);
	char name[MXS_DNS_NAME_MAX + 1];
	unsigned char *u;
	int i = -1, n, rc = 0;

	ERR_set_mark();
	while (rc == 0 && (i = X509_NAME_get_index_by_NID(nm, NID_commonName, i)) >= 0) {
		u = NULL;
		n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, i)));
		if (ident_copy(u, n, name, sizeof(name)))
			rc = fn(arg, MXS_X509_CN, name);
		OPENSSL_free(u);
	}
	ERR_pop_to_mark();
	return rc;
}

const char *
mxs_x509_id_kind_name(enum mxs_x509_id_kind kind)
{
	return kind == MXS_X509_CN ? "subject CN" : "DNS-ID";
}

int
mxs_x509_name_text(const X509_NAME *nm, char *buf, size_t len)
{
	BIO *bio;
	int n = 0;

	buf[0] = '\0';
	if (nm == NULL || len < 2)
		return 0;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return MXS_ENOMEM;
	if (X509_NAME_print_ex(bio, nm, 0, XN_FLAG_RFC2253) >= 0)
		n = BIO_read(bio, buf, (int)(len - 1));
	buf[n > 0 ? n : 0] = '\0';
	BIO_free(bio);
	return 0;
}
