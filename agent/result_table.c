/*
 * result_table — a probe result for a person at a terminal.
 *
 * A header block (domain, MX RRset verdict, its DNSSEC state), the domain's
 * MTA-STS and TLS-RPT state in one line each, then one row per MX address
 * with column widths taken from the data; under each of these lines, one
 * indented line per verdict that failed or was temporary:
 *
 *   domain  example.com
 *   mx      records, ok: 1 MX record
 *   dnssec  secure
 *   mta-sts  valid id=2024a  fetch ok (HTTP 200)  policy enforce max_age 86400  coverage fail
 *     coverage: fail: live MX not matched by any policy mx pattern: mx.example.com
 *   tls-rpt  valid  rua mailto:tlsrpt@example.com
 *
 *   PREF  MX HOST         ADDRESS    DNSSEC  STARTTLS  TLS         PKIX  NAME  DANE   EXPIRY
 *   10    mx.example.com  192.0.2.1  secure  yes       ok TLSv1.3  fail  ok    valid  -3d
 *     pkix: fail (certificate-expired): certificate has expired
 *     tlsa: pending (1 record)
 *
 * A host's TLSA RRset is summarised once, under its first address, like a
 * partial failure of its address lookups.  An address whose session was
 * copied from another domain's (addr_share.h) says so in a "shared:" line.
 *
 * Every string from the tree is printed with bytes outside printable ASCII
 * replaced by '?': a hostile greeting or certificate must not be able to
 * move the cursor or recolour the operator's terminal, and one byte per
 * column keeps the alignment honest.  No colours.
 */
#include "output.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

enum col {
	C_PREF,
	C_HOST,
	C_ADDR,
	C_DNSSEC,
	C_STARTTLS,
	C_TLS,
	C_PKIX,
	C_NAME,
	C_DANE,
	C_EXPIRY,
	NCOLS
};

static const char *const col_title[NCOLS] = {
        "PREF", "MX HOST", "ADDRESS", "DNSSEC", "STARTTLS", "TLS", "PKIX", "NAME", "DANE", "EXPIRY",
};

#define CELL_MAX 256 /* a host name (255) and its NUL */
#define TEXT_MAX 640 /* "status (result-type): reason" with a label */

struct row {
	char cell[NCOLS][CELL_MAX];
};

/* Copy at most srcmax bytes of src into dst (size len), '?' for anything unprintable. */
static void
safe_copy(char *dst, size_t len, const char *src, size_t srcmax)
{
	size_t i;

	for (i = 0; i + 1 < len && i < srcmax && src[i] != '\0'; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

/* Print at most srcmax bytes of src, '?' for anything unprintable (any length). */
static void
safe_fputs(FILE *out, const char *src, size_t srcmax)
{
	for (size_t i = 0; i < srcmax && src[i] != '\0'; i++)
		fputc(src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?', out);
}

/* "fail (certificate-expired): reason", or shorter when parts are missing. */
static void
verdict_text(char *buf, size_t len, const struct mxs_verdict *v)
{
	const char *rt = v->status == MXS_ST_FAIL ? mxs_rtype_name(v->rtype) : NULL;
	char reason[MXS_REASON_MAX];

	safe_copy(reason, sizeof(reason), v->reason, sizeof(v->reason));
	snprintf(buf, len, "%s%s%s%s%s%s", mxs_status_name(v->status), rt != NULL ? " (" : "",
	         rt != NULL ? rt : "", rt != NULL ? ")" : "", reason[0] != '\0' ? ": " : "",
	         reason);
}

static int
is_problem(const struct mxs_verdict *v)
{
	return v->status == MXS_ST_FAIL || v->status == MXS_ST_TEMPORARY;
}

static const char *
short_status(enum mxs_status st)
{
	switch (st) {
	case MXS_ST_OK:
		return "ok";
	case MXS_ST_FAIL:
		return "fail";
	case MXS_ST_TEMPORARY:
		return "temp";
	case MXS_ST_NOT_TESTED:
		break;
	}
	return "-";
}

/*
 * "yes" when the server advertised STARTTLS; "no" when EHLO was answered
 * without it or the SMTP step failed outright; "-" when we never got that
 * far (connect failed, 4xx greeting).
 */
static const char *
starttls_cell(const struct mxs_addr *a)
{
	if (a->starttls_advertised)
		return "yes";
	if (a->smtp.status == MXS_ST_FAIL || (a->ehlo_code >= 200 && a->ehlo_code < 300))
		return "no";
	return "-";
}

/*
 * The address's DANE outcome in one word: "valid" (a TLSA record
 * authenticated the chain); "no-usable" (a secure TLSA RRset without a
 * usable record: unauthenticated TLS, STARTTLS still mandatory); "bogus"
 * (the TLSA answer is DNSSEC-bogus); "invalid" (any other failure); "temp";
 * "-" when DANE does not apply or nothing was judged.
 */
static const char *
dane_cell(const struct mxs_addr *a)
{
	switch (a->dane.status) {
	case MXS_ST_OK:
		return strncmp(a->dane_state, "no-usable-records", sizeof(a->dane_state)) == 0
		               ? "no-usable"
		               : "valid";
	case MXS_ST_FAIL:
		return a->dane.rtype == MXS_RT_DNSSEC_INVALID ? "bogus" : "invalid";
	case MXS_ST_TEMPORARY:
		return "temp";
	case MXS_ST_NOT_TESTED:
		break;
	}
	return "-";
}

static void
row_fill(struct row *w, const struct mxs_host *h, const struct mxs_addr *a)
{
	const struct mxs_dns *d;
	char ver[sizeof(a->tls_version) + 1]; /* not CELL_MAX: the TLS cell must fit */

	memset(w, 0, sizeof(*w));
	if (h->preference < 0)
		snprintf(w->cell[C_PREF], CELL_MAX, "-");
	else
		snprintf(w->cell[C_PREF], CELL_MAX, "%d", h->preference);
	safe_copy(w->cell[C_HOST], CELL_MAX, h->name, sizeof(h->name));
	if (a == NULL)
		return;

	safe_copy(w->cell[C_ADDR], CELL_MAX, a->address, sizeof(a->address));
	d = a->family == AF_INET6 ? &h->aaaa : &h->a;
	snprintf(w->cell[C_DNSSEC], CELL_MAX, "%s", mxs_dnssec_name(d->sec));
	snprintf(w->cell[C_STARTTLS], CELL_MAX, "%s", starttls_cell(a));
	safe_copy(ver, sizeof(ver), a->tls_version, sizeof(a->tls_version));
	snprintf(w->cell[C_TLS], CELL_MAX, "%s%s%s", short_status(a->tls.status),
	         ver[0] != '\0' ? " " : "", ver);
	snprintf(w->cell[C_PKIX], CELL_MAX, "%s", short_status(a->pkix.status));
	snprintf(w->cell[C_NAME], CELL_MAX, "%s", short_status(a->name.status));
	snprintf(w->cell[C_DANE], CELL_MAX, "%s", dane_cell(a));
	if (a->nchain > 0)
		snprintf(w->cell[C_EXPIRY], CELL_MAX, "%dd", a->days_to_expiry);
	else
		snprintf(w->cell[C_EXPIRY], CELL_MAX, "-");
}

static void
widen(size_t *width, const struct row *w, int ncols)
{
	for (int i = 0; i < ncols; i++) {
		size_t n = strlen(w->cell[i]);
		if (n > width[i])
			width[i] = n;
	}
}

/* Print the first ncols cells padded to width; the last one unpadded. */
static void
print_cells(FILE *out, const size_t *width, const char *const *cells, int ncols)
{
	for (int i = 0; i < ncols; i++) {
		if (i + 1 < ncols)
			fprintf(out, "%-*s  ", (int)width[i], cells[i]);
		else
			fputs(cells[i], out);
	}
}

static void
print_row(FILE *out, const size_t *width, const struct row *w, int ncols)
{
	const char *cells[NCOLS];

	for (int i = 0; i < NCOLS; i++)
		cells[i] = w->cell[i];
	print_cells(out, width, cells, ncols);
}

static void
print_problem(FILE *out, const char *label, const struct mxs_verdict *v)
{
	char text[TEXT_MAX];

	if (!is_problem(v))
		return;
	verdict_text(text, sizeof(text), v);
	fprintf(out, "  %s: %s\n", label, text);
}

static void
print_addr(FILE *out, const size_t *width, const struct mxs_host *h, const struct mxs_addr *a)
{
	struct row w;

	row_fill(&w, h, a);
	print_row(out, width, &w, NCOLS);
	fputc('\n', out);
	print_problem(out, "connect", &a->connect);
	print_problem(out, "smtp", &a->smtp);
	print_problem(out, "tls", &a->tls);
	print_problem(out, "pkix", &a->pkix);
	print_problem(out, "name", &a->name);
	print_problem(out, "dane", &a->dane);
	if (a->shared)
		fputs("  shared: the session of another domain with this MX host and address\n",
		      out);
}

/* "  tlsa: pending (2 records)" for a host whose TLSA RRset holds records. */
static void
print_tlsa(FILE *out, const struct mxs_host *h)
{
	char state[sizeof(h->dane_state) + 1];

	if (h->ntlsa_records == 0)
		return;
	safe_copy(state, sizeof(state), h->dane_state, sizeof(h->dane_state));
	fprintf(out, "  tlsa: %s (%zu record%s)\n", state[0] != '\0' ? state : "-",
	        h->ntlsa_records, h->ntlsa_records == 1 ? "" : "s");
}

static void
print_host(FILE *out, const size_t *width, const struct mxs_host *h)
{
	char text[TEXT_MAX];
	struct row w;

	if (h->naddrs == 0) {
		/* No address to probe: the row says why, in the ADDRESS column. */
		row_fill(&w, h, NULL);
		w.cell[C_ADDR][0] = '\0';
		print_row(out, width, &w, C_ADDR + 1);
		verdict_text(text, sizeof(text), &h->dns);
		fprintf(out, "no address - dns: %s\n", text);
		print_tlsa(out, h);
		return;
	}
	for (size_t i = 0; i < h->naddrs; i++) {
		print_addr(out, width, h, h->addrs[i]);
		/* A partial lookup failure (say AAAA SERVFAIL) and the TLSA RRset
		 * belong to the host: say them once, under its first address. */
		if (i == 0) {
			print_problem(out, "dns", &h->dns);
			print_tlsa(out, h);
		}
	}
}

/*
 * Whether a domain-level step left anything in the tree.  The probe always
 * runs MTA-STS and TLS-RPT; a tree built without them (an older caller, a
 * test) prints no line rather than an empty one.
 */
static int
step_ran(const struct mxs_verdict *v, const char *state)
{
	return v->status != MXS_ST_NOT_TESTED || v->reason[0] != '\0' || state[0] != '\0';
}

/*
 * The record's own verdict: said unless ok or simply absent (state "none"
 * already says the domain does not use it); a not-tested that is not
 * "none" means the step could not start and is said.
 */
static void
print_record_problem(FILE *out, const struct mxs_verdict *v, const char *state)
{
	char text[TEXT_MAX];

	if (v->status == MXS_ST_OK || strcmp(state, "none") == 0)
		return;
	verdict_text(text, sizeof(text), v);
	fprintf(out, "  txt: %s\n", text);
}

/*
 * "mta-sts  valid id=X  fetch ok (HTTP 200)  policy enforce max_age N  coverage ok";
 * each part only once the step before it let it run, then one indented line
 * per verdict that failed or was temporary.
 */
static void
print_sts(FILE *out, const struct mxs_sts *s)
{
	if (!step_ran(&s->txt, s->txt_state))
		return;
	fputs("mta-sts  ", out);
	if (s->txt_state[0] != '\0')
		safe_fputs(out, s->txt_state, sizeof(s->txt_state));
	else
		fputs(mxs_status_name(s->txt.status), out);
	if (s->id[0] != '\0') {
		fputs(" id=", out);
		safe_fputs(out, s->id, sizeof(s->id));
	}
	if (s->fetch.status != MXS_ST_NOT_TESTED) {
		fprintf(out, "  fetch %s", mxs_status_name(s->fetch.status));
		if (s->http_status != 0)
			fprintf(out, " (HTTP %d)", s->http_status);
	}
	if (s->policy.status == MXS_ST_OK) {
		fputs("  policy ", out);
		safe_fputs(out, s->mode, sizeof(s->mode));
		fprintf(out, " max_age %lld  coverage %s", s->max_age,
		        mxs_status_name(s->coverage.status));
	} else if (s->policy.status != MXS_ST_NOT_TESTED) {
		fprintf(out, "  policy %s", mxs_status_name(s->policy.status));
	}
	fputc('\n', out);
	print_record_problem(out, &s->txt, s->txt_state);
	print_problem(out, "fetch", &s->fetch);
	if (s->https_have_cert) {
		print_problem(out, "https pkix", &s->https_pkix);
		print_problem(out, "https name", &s->https_name);
	}
	print_problem(out, "policy", &s->policy);
	print_problem(out, "coverage", &s->coverage);
}

/* "tls-rpt  valid  rua mailto:a@example.com, https://r.example/v1", and its reason unless ok. */
static void
print_tlsrpt(FILE *out, const struct mxs_tlsrpt *t)
{
	if (!step_ran(&t->verdict, t->state))
		return;
	fputs("tls-rpt  ", out);
	if (t->state[0] != '\0')
		safe_fputs(out, t->state, sizeof(t->state));
	else
		fputs(mxs_status_name(t->verdict.status), out);
	for (size_t i = 0, shown = 0; i < t->nrua; i++) {
		if (t->rua[i] == NULL)
			continue;
		fputs(shown++ == 0 ? "  rua " : ", ", out);
		safe_fputs(out, t->rua[i], strlen(t->rua[i]));
	}
	if (t->rua_repeated)
		fputs("  (a second rua= ignored)", out);
	fputc('\n', out);
	print_record_problem(out, &t->verdict, t->state);
}

static void
print_header(FILE *out, const struct mxs_result *r)
{
	char text[TEXT_MAX], s[CELL_MAX];

	safe_copy(s, sizeof(s), r->domain, sizeof(r->domain));
	fprintf(out, "domain  %s\n", s);
	verdict_text(text, sizeof(text), &r->mx.verdict);
	fprintf(out, "mx      %s, %s\n", mxs_mx_kind_name(r->mx.kind), text);
	safe_copy(s, sizeof(s), r->mx.dns.why_bogus, sizeof(r->mx.dns.why_bogus));
	fprintf(out, "dnssec  %s%s%s\n", mxs_dnssec_name(r->mx.dns.sec),
	        r->mx.dns.sec == MXS_SEC_BOGUS && s[0] != '\0' ? ": " : "",
	        r->mx.dns.sec == MXS_SEC_BOGUS ? s : "");
}

void
mxs_result_print_table(const struct mxs_result *r, FILE *out)
{
	size_t width[NCOLS];
	struct row w;

	print_header(out, r);
	print_sts(out, &r->sts);
	print_tlsrpt(out, &r->tlsrpt);
	if (r->nhosts == 0)
		return;

	for (int i = 0; i < NCOLS; i++)
		width[i] = strlen(col_title[i]);
	for (size_t i = 0; i < r->nhosts; i++) {
		const struct mxs_host *h = r->hosts[i];

		if (h->naddrs == 0) {
			row_fill(&w, h, NULL);
			widen(width, &w, C_ADDR);
		}
		for (size_t j = 0; j < h->naddrs; j++) {
			row_fill(&w, h, h->addrs[j]);
			widen(width, &w, NCOLS);
		}
	}

	fputc('\n', out);
	print_cells(out, width, col_title, NCOLS);
	fputc('\n', out);
	for (size_t i = 0; i < r->nhosts; i++)
		print_host(out, width, r->hosts[i]);
}
