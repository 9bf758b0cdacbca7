/* result — the probe result tree and its vocabulary (see result.h). */
#include "result.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

static void
lower_copy(char *dst, size_t len, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < len && src[i] != '\0'; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
	if (i > 1 && dst[i - 1] == '.')
		dst[i - 1] = '\0';
}

struct mxs_result *
mxs_result_new(const char *domain)
{
	struct mxs_result *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->schema = 1;
	lower_copy(r->domain, sizeof(r->domain), domain);
	return r;
}

int
mxs_strv_add(char ***v, size_t *n, size_t max, const char *s)
{
	char **nv;
	char *dup;

	if (*n >= max)
		return MXS_ELIMIT;
	if ((dup = strdup(s)) == NULL)
		return MXS_ENOMEM;
	if ((nv = realloc(*v, (*n + 1) * sizeof(*nv))) == NULL) {
		free(dup);
		return MXS_ENOMEM;
	}
	nv[(*n)++] = dup;
	*v = nv;
	return 0;
}

static void
strv_free(char ***v, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

int
mxs_result_add_host(struct mxs_result *r, const char *name, int preference, struct mxs_host **out)
{
	struct mxs_host **nh, *h;

	*out = NULL;
	if (r->nhosts >= MXS_MX_MAX)
		return MXS_ELIMIT;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return MXS_ENOMEM;
	if ((nh = realloc(r->hosts, (r->nhosts + 1) * sizeof(*nh))) == NULL) {
		free(h);
		return MXS_ENOMEM;
	}
	lower_copy(h->name, sizeof(h->name), name);
	h->preference = preference;
	h->sts_covered = -1;
	nh[r->nhosts++] = h;
	r->hosts = nh;
	*out = h;
	return 0;
}

int
mxs_host_add_addr(struct mxs_host *h, const char *address, int family, struct mxs_addr **out)
{
	struct mxs_addr **na, *a;

	*out = NULL;
	if (h->naddrs >= 2 * MXS_ADDR_MAX)
		return MXS_ELIMIT;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return MXS_ENOMEM;
	if ((na = realloc(h->addrs, (h->naddrs + 1) * sizeof(*na))) == NULL) {
		free(a);
		return MXS_ENOMEM;
	}
	snprintf(a->address, sizeof(a->address), "%s", address);
	a->family = family;
	a->dane_depth = -1;
	na[h->naddrs++] = a;
	h->addrs = na;
	*out = a;
	return 0;
}

void
mxs_result_free(struct mxs_result **rp)
{
	struct mxs_result *r = *rp;

	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nhosts; i++) {
		struct mxs_host *h = r->hosts[i];
		for (size_t j = 0; j < h->naddrs; j++) {
			struct mxs_addr *a = h->addrs[j];
			strv_free(&a->caps, &a->ncaps);
			strv_free(&a->leaf_dns_names, &a->nleaf_dns_names);
			free(a);
		}
		strv_free(&h->tlsa_records, &h->ntlsa_records);
		free(h->addrs);
		free(h);
	}
	free(r->hosts);
	strv_free(&r->sts.mx, &r->sts.nmx);
	strv_free(&r->tlsrpt.rua, &r->tlsrpt.nrua);
	free(r);
	*rp = NULL;
}

void
mxs_verdict_set(struct mxs_verdict *v, enum mxs_status st, enum mxs_rtype rt, const char *fmt, ...)
{
	va_list ap;

	v->status = st;
	v->rtype = st == MXS_ST_FAIL ? rt : MXS_RT_NONE;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
}

const char *
mxs_status_name(enum mxs_status st)
{
	switch (st) {
	case MXS_ST_OK:
		return "ok";
	case MXS_ST_FAIL:
		return "fail";
	case MXS_ST_TEMPORARY:
		return "temporary";
	case MXS_ST_NOT_TESTED:
		break;
	}
	return "not-tested";
}

const char *
mxs_dnssec_name(enum mxs_dnssec s)
{
	switch (s) {
	case MXS_SEC_SECURE:
		return "secure";
	case MXS_SEC_INSECURE:
		return "insecure";
	case MXS_SEC_BOGUS:
		return "bogus";
	case MXS_SEC_UNKNOWN:
		break;
	}
	return "unknown";
}

const char *
mxs_rtype_name(enum mxs_rtype rt)
{
	static const char *const names[] = {
	        NULL,
	        "starttls-not-supported",
	        "certificate-host-mismatch",
	        "certificate-expired",
	        "certificate-not-trusted",
	        "validation-failure",
	        "tlsa-invalid",
	        "dnssec-invalid",
	        "dane-required",
	        "sts-policy-fetch-error",
	        "sts-policy-invalid",
	        "sts-webpki-invalid",
	};

	if ((unsigned)rt >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[rt];
}

const char *
mxs_mx_kind_name(enum mxs_mx_kind k)
{
	switch (k) {
	case MXS_MX_RECORDS:
		return "records";
	case MXS_MX_IMPLICIT:
		return "implicit";
	case MXS_MX_NULL:
		return "null";
	case MXS_MX_NONE:
		return "none";
	case MXS_MX_UNKNOWN:
		break;
	}
	return "unknown";
}
