/*
 * mxsentry — the on-call CLI, a thin client of the collector's HTTP JSON
 * API (collector/http_api.h).
 *
 *   mxsentry [-s URL] [-t TOKEN_FILE] [--json] COMMAND
 *     domains add DOMAIN [--interval SECONDS] | domains remove DOMAIN | domains list
 *     status DOMAIN | regions | history DOMAIN [--limit N]
 *
 * The server is -s, else $MXSENTRY_URL, else http://127.0.0.1:8025; the
 * bearer token is the content of -t, else $MXSENTRY_TOKEN_FILE, else
 * /etc/mxsentry/api.token (trailing newline stripped; never printed).
 * --json prints the API's reply, pretty-printed.  Exit 0 ok, 1 when the
 * API or the connection fails (stderr names the URL and the status), 2 on
 * a usage error.
 *
 * Everything in a reply is text from the collector, which got much of it
 * from agents and the mail servers they probed: control characters are
 * replaced before anything reaches the terminal.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#define CLI_URL_DFLT       "http://127.0.0.1:8025"
#define CLI_TOKEN_DFLT     "/etc/mxsentry/api.token"
#define CLI_TOKEN_MAX      1024               /* bytes of the token file */
#define CLI_REPLY_MAX      (16 * 1024 * 1024) /* bytes of one API reply */
#define CLI_CONNECT_TMO_S  5L
#define CLI_TOTAL_TMO_S    30L
#define CLI_COLS_MAX       12
#define CLI_CELL_MAX       512 /* bytes shown of one table cell */
#define CLI_VALUE_SHOW_MAX 24  /* characters of an old/new value in history */

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct cli {
	const char *url; /* without trailing '/' */
	char token[CLI_TOKEN_MAX + 1];
	int json;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: mxsentry [-s URL] [-t TOKEN_FILE] [--json] COMMAND\n"
	           "  domains add DOMAIN [--interval SECONDS]\n"
	           "  domains remove DOMAIN\n"
	           "  domains list\n"
	           "  status DOMAIN\n"
	           "  regions\n"
	           "  history DOMAIN [--limit N]\n");
}

static void
errmsg(const char *fmt, ...)
{
	va_list ap;

	fputs("mxsentry: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Decimal in [min, max] into *v; 0 or -1. */
static int
parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *v)
{
	unsigned long n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || n > (max - (unsigned long)(*s - '0')) / 10)
			return -1;
		n = n * 10 + (unsigned long)(*s - '0');
	}
	if (n < min)
		return -1;
	*v = n;
	return 0;
}

static int
read_token(struct cli *c, const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		errmsg("token file %s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(c->token, 1, sizeof(c->token), f);
	fclose(f);
	if (n >= sizeof(c->token)) {
		errmsg("token file %s: longer than %d bytes", path, CLI_TOKEN_MAX);
		return -1;
	}
	c->token[n] = '\0';
	if (strlen(c->token) != n) {
		errmsg("token file %s: contains a NUL byte", path);
		return -1;
	}
	while (n > 0 && (c->token[n - 1] == '\n' || c->token[n - 1] == '\r'))
		c->token[--n] = '\0';
	if (n == 0) {
		errmsg("token file %s is empty", path);
		return -1;
	}
	return 0;
}

/* ---- HTTP ---------------------------------------------------------- */

struct reply {
	char *p;
	size_t len;
	int too_big;
};

static size_t
on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct reply *r = arg;
	size_t n = size * nmemb;
	char *np;

	if (n > CLI_REPLY_MAX - r->len) {
		r->too_big = 1;
		return 0;
	}
	if ((np = realloc(r->p, r->len + n + 1)) == NULL)
		return 0;
	r->p = np;
	memcpy(r->p + r->len, data, n);
	r->len += n;
	r->p[r->len] = '\0';
	return n;
}

/*
 * method path (already escaped) with an optional JSON body.  On success
 * (2xx and a JSON reply) 0 and *out holds the reply (caller decrefs); else
 * -1 with the reason on stderr.
 */
static int
api_call(const struct cli *c, const char *method, const char *path, const char *body, json_t **out)
{
	char url[4096], auth[CLI_TOKEN_MAX + 32], cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL, *h;
	struct reply r = {NULL, 0, 0};
	json_error_t jerr;
	json_t *j = NULL, *e;
	long status = 0;
	CURL *curl;
	CURLcode rc;
	int ret = -1;

	*out = NULL;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->url, path) >= sizeof(url)) {
		errmsg("URL too long");
		return -1;
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
	if ((curl = curl_easy_init()) == NULL || (h = curl_slist_append(hdrs, auth)) == NULL) {
		errmsg("out of memory");
		goto out;
	}
	hdrs = h;
	if (body != NULL) {
		if ((h = curl_slist_append(hdrs, "Content-Type: application/json")) == NULL) {
			errmsg("out of memory");
			goto out;
		}
		hdrs = h;
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, CLI_CONNECT_TMO_S);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, CLI_TOTAL_TMO_S);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "mxsentry-cli");
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		if (r.too_big)
			errmsg("%s %s: reply over %d bytes", method, url, CLI_REPLY_MAX);
		else
			errmsg("%s %s: %s", method, url, cerr[0] ? cerr : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	j = r.p != NULL ? json_loadb(r.p, r.len, 0, &jerr) : NULL;
	if (status < 200 || status > 299) {
		e = json_object_get(j, "error");
		errmsg("%s %s: HTTP %ld%s%s", method, url, status, json_is_string(e) ? ": " : "",
		       json_is_string(e) ? json_string_value(e) : "");
		goto out;
	}
	if (!json_is_object(j)) {
		errmsg("%s %s: HTTP %ld but the reply is not a JSON object", method, url, status);
		goto out;
	}
	*out = j;
	j = NULL;
	ret = 0;
out:
	json_decref(j);
	free(r.p);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(curl);
	return ret;
}

/* "/api/v1/PREFIX/NAME" with NAME escaped. */
static int
named_path(char *buf, size_t len, const char *prefix, const char *name, const char *query)
{
	char *esc = curl_easy_escape(NULL, name, 0);
	int n;

	if (esc == NULL)
		return -1;
	n = snprintf(buf, len, "/api/v1/%s/%s%s", prefix, esc, query);
	curl_free(esc);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void
print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2));
	putchar('\n');
}

/* ---- reading replies ----------------------------------------------- */

static const char *
str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static long long
num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* ---- tables -------------------------------------------------------- */

struct table {
	size_t ncols, nrows, cap;
	const char *head[CLI_COLS_MAX];
	char (*cells)[CLI_COLS_MAX][CLI_CELL_MAX];
};

/* Copy s for the terminal: control characters (C0, DEL, C1) become '?'. */
static void
safe_copy(char *dst, size_t len, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	for (; *p != '\0' && o + 1 < len; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			dst[o++] = '?';
		} else if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
			dst[o++] = '?';
			p++;
		} else {
			dst[o++] = (char)*p;
		}
	}
	/* Do not leave half a UTF-8 sequence at a cut. */
	while (o > 0 && *p != '\0' && ((unsigned char)dst[o - 1] & 0xC0) == 0x80)
		o--;
	if (o > 0 && *p != '\0' && ((unsigned char)dst[o - 1] & 0xC0) == 0xC0)
		o--;
	dst[o] = '\0';
}

static size_t
width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

/* A new row; its cells are set with cell(). NULL when out of memory. */
static char (*row(struct table *t))[CLI_CELL_MAX]
{
	void *np;

	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		if ((np = realloc(t->cells, t->cap * sizeof(*t->cells))) == NULL) {
			errmsg("out of memory");
			exit(EXIT_FAIL);
		}
		t->cells = np;
	}
	memset(t->cells[t->nrows], 0, sizeof(t->cells[0]));
	return t->cells[t->nrows++];
}

static void cell(char (*r)[CLI_CELL_MAX], size_t col, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
cell(char (*r)[CLI_CELL_MAX], size_t col, const char *fmt, ...)
{
	char raw[CLI_CELL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	safe_copy(r[col], CLI_CELL_MAX, raw);
}

static void
table_print(const struct table *t)
{
	size_t w[CLI_COLS_MAX] = {0}, i, c, k;

	for (c = 0; c < t->ncols; c++)
		w[c] = width(t->head[c]);
	for (i = 0; i < t->nrows; i++)
		for (c = 0; c < t->ncols; c++)
			if (width(t->cells[i][c]) > w[c])
				w[c] = width(t->cells[i][c]);
	for (i = 0; i <= t->nrows; i++) {
		for (c = 0; c < t->ncols; c++) {
			const char *s = i == 0 ? t->head[c] : t->cells[i - 1][c];

			fputs(s, stdout);
			if (c + 1 < t->ncols)
				for (k = width(s); k < w[c] + 2; k++)
					putchar(' ');
		}
		putchar('\n');
	}
}

static void
table_free(struct table *t)
{
	free(t->cells);
	t->cells = NULL;
}

/* "42s ago", "5m ago", "3h ago", "2d ago"; "-" for null. */
static void
ago(char *buf, size_t len, const json_t *age)
{
	long long s;

	if (!json_is_integer(age)) {
		snprintf(buf, len, "-");
		return;
	}
	s = json_integer_value(age);
	if (s < 120)
		snprintf(buf, len, "%llds ago", s);
	else if (s < 7200)
		snprintf(buf, len, "%lldm ago", s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%lldh ago", s / 3600);
	else
		snprintf(buf, len, "%lldd ago", s / 86400);
}

/* ---- domains ------------------------------------------------------- */

static int
cmd_domains(const struct cli *c, int argc, const char *const *argv, long interval)
{
	char path[1024], *body;
	json_t *j = NULL, *d;
	struct table t = {.ncols = 3, .head = {"DOMAIN", "INTERVAL", "ADDED"}};
	size_t i;

	if (argc == 1 && strcmp(argv[0], "list") == 0 && interval < 0) {
		if (api_call(c, "GET", "/api/v1/domains", NULL, &j) != 0)
			return EXIT_FAIL;
		if (c->json) {
			print_json(j);
		} else {
			json_array_foreach(json_object_get(j, "domains"), i, d)
			{
				char(*r)[CLI_CELL_MAX] = row(&t);

				cell(r, 0, "%s", str(d, "domain"));
				cell(r, 1, "%llds", num(d, "interval_s"));
				cell(r, 2, "%s", str(d, "added"));
			}
			table_print(&t);
			printf("(%zu domains, list version %lld)\n", t.nrows,
			       num(j, "list_version"));
			table_free(&t);
		}
	} else if (argc == 2 && strcmp(argv[0], "add") == 0) {
		json_t *req = json_pack("{s:s}", "domain", argv[1]);

		if (req != NULL && interval >= 0)
			json_object_set_new(req, "interval_s", json_integer(interval));
		if (req == NULL || (body = json_dumps(req, JSON_COMPACT)) == NULL) {
			json_decref(req);
			errmsg("domain is not valid UTF-8");
			return EXIT_FAIL;
		}
		json_decref(req);
		if (api_call(c, "POST", "/api/v1/domains", body, &j) != 0) {
			free(body);
			return EXIT_FAIL;
		}
		free(body);
		if (c->json)
			print_json(j);
		else
			printf("%s %s (every %llds)\n",
			       json_is_true(json_object_get(j, "created")) ? "added" : "updated",
			       str(j, "domain"), num(j, "interval_s"));
	} else if (argc == 2 && strcmp(argv[0], "remove") == 0 && interval < 0) {
		if (named_path(path, sizeof(path), "domains", argv[1], "") != 0 ||
		    api_call(c, "DELETE", path, NULL, &j) != 0)
			return EXIT_FAIL;
		if (c->json)
			print_json(j);
		else
			printf("removed %s\n", str(j, "domain"));
	} else {
		usage(stderr);
		return EXIT_USAGE;
	}
	json_decref(j);
	return EXIT_OK;
}

/* ---- status -------------------------------------------------------- */

/* One check as a cell: ok, fail:RESULT_TYPE, temp, or -. */
static void
verdict(char *buf, size_t len, const json_t *row, const char *check)
{
	const json_t *v = json_object_get(json_object_get(row, "checks"), check);
	const char *s = str(v, "status"), *rt = str(v, "result_type");

	if (strcmp(s, "ok") == 0)
		snprintf(buf, len, "ok");
	else if (strcmp(s, "fail") == 0)
		snprintf(buf, len, "fail%s%s", rt[0] ? ":" : "", rt);
	else if (strcmp(s, "temporary") == 0)
		snprintf(buf, len, "temp");
	else
		snprintf(buf, len, "-");
}

static int
row_cmp(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	int r;

	if ((r = strcmp(str(x, "mx_host"), str(y, "mx_host"))) != 0)
		return r;
	if ((r = strcmp(str(x, "address"), str(y, "address"))) != 0)
		return r;
	return strcmp(str(x, "region"), str(y, "region"));
}

/* Append ", s" (or s) to a bounded list. */
static void
list_add(char *buf, size_t len, const char *s)
{
	size_t n = strlen(buf);

	snprintf(buf + n, len - n, "%s%s", n ? ", " : "", s);
}

/* One line per region-specific difference on the address rows
 * rows[0..n), which share mx_host and address. */
static void
address_notes(json_t **rows, size_t n)
{
	char missing[512] = "", seen[512] = "", tls_bad[512] = "", tls_ok[512] = "";
	char certs[1024] = "", out[2048], v[64];
	const char *mx = str(rows[0], "mx_host"), *addr = str(rows[0], "address");
	const char *leaf0 = NULL;
	size_t i, nmissing = 0, nseen = 0, nleaf = 0;
	int leaf_differs = 0;

	for (i = 0; i < n; i++) {
		const json_t *st = json_object_get(rows[i], "starttls");
		const char *region = str(rows[i], "region"), *leaf = str(rows[i], "leaf_sha256");

		if (json_is_false(st)) {
			list_add(missing, sizeof(missing), region);
			nmissing++;
		} else if (json_is_true(st)) {
			list_add(seen, sizeof(seen), region);
			nseen++;
			verdict(v, sizeof(v), rows[i], "tls");
			if (strcmp(v, "ok") == 0) {
				list_add(tls_ok, sizeof(tls_ok), region);
			} else if (strncmp(v, "fail", 4) == 0) {
				char item[160];

				snprintf(item, sizeof(item), "%s (%s)", region, v);
				list_add(tls_bad, sizeof(tls_bad), item);
			}
		}
		if (leaf[0] != '\0') {
			char item[160];

			if (leaf0 == NULL)
				leaf0 = leaf;
			else if (strcmp(leaf0, leaf) != 0)
				leaf_differs = 1;
			snprintf(item, sizeof(item), "%s %.12s", region, leaf);
			list_add(certs, sizeof(certs), item);
			nleaf++;
		}
	}
	out[0] = '\0';
	if (nmissing > 0 && nseen > 0) {
		if (nmissing == 1)
			snprintf(out, sizeof(out),
			         "! %s: STARTTLS missing on %s %s while %s see%s it (possible "
			         "STARTTLS stripping on %s's path)",
			         missing, mx, addr, seen, nseen == 1 ? "s" : "", missing);
		else
			snprintf(out, sizeof(out),
			         "! %s: STARTTLS missing on %s %s while %s see%s it (possible "
			         "STARTTLS stripping on the paths of %s)",
			         missing, mx, addr, seen, nseen == 1 ? "s" : "", missing);
	} else if (nmissing > 0) {
		snprintf(out, sizeof(out),
		         "! STARTTLS missing on %s %s from every region that reached it (%s): the "
		         "server's configuration, not a path",
		         mx, addr, missing);
	}
	if (out[0] != '\0') {
		safe_copy(out, sizeof(out), out);
		puts(out);
	}
	if (tls_bad[0] != '\0' && tls_ok[0] != '\0') {
		snprintf(out, sizeof(out), "! TLS fails on %s %s from %s while it works from %s",
		         mx, addr, tls_bad, tls_ok);
		safe_copy(out, sizeof(out), out);
		puts(out);
	}
	if (leaf_differs && nleaf > 1) {
		snprintf(out, sizeof(out),
		         "! %s %s presents different certificates by region: %s (leaf SHA-256)", mx,
		         addr, certs);
		safe_copy(out, sizeof(out), out);
		puts(out);
	}
}

/* The MX set as each region sees it, when regions disagree. */
static void
mx_set_notes(json_t **rows, size_t n)
{
	const char *first = NULL;
	char list[2048] = "", item[600], out[2600];
	size_t i, k;
	int differs = 0;

	for (i = 0; i < n; i++) {
		const char *set = str(rows[i], "mx_set"), *region = str(rows[i], "region");
		int dup = 0;

		if (first == NULL)
			first = set;
		else if (strcmp(first, set) != 0)
			differs = 1;
		for (k = 0; k < i && !dup; k++) /* once per region */
			dup = strcmp(str(rows[k], "region"), region) == 0;
		if (!dup) {
			snprintf(item, sizeof(item), "%s \"%s\"", region, set);
			list_add(list, sizeof(list), item);
		}
	}
	if (differs) {
		snprintf(out, sizeof(out), "! MX set differs by region: %s", list);
		safe_copy(out, sizeof(out), out);
		puts(out);
	}
}

static void
status_row(struct table *t, const json_t *r)
{
	char(*c)[CLI_CELL_MAX] = row(t);
	const json_t *st = json_object_get(r, "starttls"),
	             *days = json_object_get(r, "days_to_expiry");
	char v[64], seen[32];
	const char *mode = str(r, "sts_mode");
	size_t col = 0;

	cell(c, col++, "%s", str(r, "mx_host")[0] ? str(r, "mx_host") : "-");
	cell(c, col++, "%s", str(r, "address")[0] ? str(r, "address") : "-");
	cell(c, col++, "%s", str(r, "region"));
	cell(c, col++, "%s", json_is_true(st) ? "yes" : json_is_false(st) ? "MISSING" : "-");
	verdict(v, sizeof(v), r, "tls");
	cell(c, col++, "%s", v);
	verdict(v, sizeof(v), r, "pkix");
	cell(c, col++, "%s", v);
	verdict(v, sizeof(v), r, "name");
	cell(c, col++, "%s", v);
	if (json_is_integer(days))
		cell(c, col++, "%lldd", json_integer_value(days));
	else
		cell(c, col++, "-");
	verdict(v, sizeof(v), r, "dane");
	cell(c, col++, "%s", v);
	verdict(v, sizeof(v), r, "sts");
	cell(c, col++, "%s%s%s", v, mode[0] ? " " : "", mode);
	ago(seen, sizeof(seen), json_object_get(r, "age_s"));
	cell(c, col++, "%s", seen);
}

static int
cmd_status(const struct cli *c, const char *domain)
{
	struct table t = {.ncols = 11,
	                  .head = {"MX", "ADDRESS", "REGION", "STARTTLS", "TLS", "PKIX", "NAME",
	                           "EXPIRY", "DANE", "POLICY", "SEEN"}};
	char path[1024];
	json_t *j, *rows, **v;
	size_t n, i, k;

	if (named_path(path, sizeof(path), "status", domain, "") != 0 ||
	    api_call(c, "GET", path, NULL, &j) != 0)
		return EXIT_FAIL;
	if (c->json) {
		print_json(j);
		json_decref(j);
		return EXIT_OK;
	}
	rows = json_object_get(j, "rows");
	n = json_array_size(rows);
	if ((v = calloc(n + 1, sizeof(*v))) == NULL) {
		errmsg("out of memory");
		json_decref(j);
		return EXIT_FAIL;
	}
	for (i = 0; i < n; i++)
		v[i] = json_array_get(rows, i);
	qsort(v, n, sizeof(*v), row_cmp);
	safe_copy(path, sizeof(path), str(j, "domain"));
	printf("%s%s\n", path,
	       json_is_true(json_object_get(j, "watched")) ? "" : " (not on the job list)");
	if (n == 0) {
		printf("no observations yet\n");
	} else {
		for (i = 0; i < n; i++)
			status_row(&t, v[i]);
		table_print(&t);
		if (json_is_true(json_object_get(j, "truncated")))
			printf("(more rows than shown: see --json and narrow the query)\n");
		mx_set_notes(v, n);
		for (i = 0; i < n; i = k) {
			for (k = i + 1;
			     k < n && strcmp(str(v[i], "mx_host"), str(v[k], "mx_host")) == 0 &&
			     strcmp(str(v[i], "address"), str(v[k], "address")) == 0;
			     k++)
				;
			if (str(v[i], "address")[0] != '\0')
				address_notes(v + i, k - i);
		}
	}
	table_free(&t);
	free(v);
	json_decref(j);
	return EXIT_OK;
}

/* ---- regions ------------------------------------------------------- */

static void
human_bytes(char *buf, size_t len, long long b)
{
	if (b < 1024)
		snprintf(buf, len, "%lldB", b);
	else if (b < 1024 * 1024)
		snprintf(buf, len, "%.1fK", (double)b / 1024);
	else if (b < 1024LL * 1024 * 1024)
		snprintf(buf, len, "%.1fM", (double)b / (1024 * 1024));
	else
		snprintf(buf, len, "%.1fG", (double)b / (1024.0 * 1024 * 1024));
}

static int
cmd_regions(const struct cli *c)
{
	struct table t = {.ncols = 10,
	                  .head = {"REGION", "AGENT", "VERSION", "STATE", "LAST HEARTBEAT",
	                           "EGRESS", "SPOOL", "DROPPED", "PROBES", "CYCLE"}};
	char buf[64], out[1024];
	json_t *j, *a;
	size_t i;

	if (api_call(c, "GET", "/api/v1/regions", NULL, &j) != 0)
		return EXIT_FAIL;
	if (c->json) {
		print_json(j);
		json_decref(j);
		return EXIT_OK;
	}
	json_array_foreach(json_object_get(j, "agents"), i, a)
	{
		char(*r)[CLI_CELL_MAX] = row(&t);
		long long ms = num(a, "last_cycle_ms");

		cell(r, 0, "%s", str(a, "region"));
		cell(r, 1, "%s", str(a, "name"));
		cell(r, 2, "%s", str(a, "version"));
		cell(r, 3, "%s", str(a, "state"));
		ago(buf, sizeof(buf), json_object_get(a, "heartbeat_age_s"));
		cell(r, 4, "%s", strcmp(buf, "-") == 0 ? "never" : buf);
		cell(r, 5, "%s", str(a, "egress")[0] ? str(a, "egress") : "-");
		human_bytes(buf, sizeof(buf), num(a, "spool_bytes"));
		cell(r, 6, "%lld (%s)", num(a, "spool_depth"), buf);
		cell(r, 7, "%lld", num(a, "spool_dropped"));
		cell(r, 8, "%lld (%lld failed)", num(a, "probes_run"), num(a, "probes_failed"));
		if (ms <= 0)
			cell(r, 9, "-");
		else if (ms < 10000)
			cell(r, 9, "%lldms", ms);
		else
			cell(r, 9, "%.1fs", (double)ms / 1000);
	}
	if (t.nrows == 0)
		printf("no agents have said Hello yet\n");
	else
		table_print(&t);
	json_array_foreach(json_object_get(j, "agents"), i, a)
	{
		const char *eg = str(a, "egress");

		if (eg[0] != '\0' && strcmp(eg, "ok") != 0 && strcmp(eg, "unknown") != 0) {
			snprintf(out, sizeof(out),
			         "! %s/%s: egress %s%s%s (its results cannot tell stripping from a "
			         "blocked port 25)",
			         str(a, "region"), str(a, "name"), eg,
			         str(a, "egress_detail")[0] ? ": " : "", str(a, "egress_detail"));
			safe_copy(out, sizeof(out), out);
			puts(out);
		}
		if (strcmp(str(a, "state"), "stale") == 0) {
			ago(buf, sizeof(buf), json_object_get(a, "heartbeat_age_s"));
			snprintf(out, sizeof(out), "! %s/%s: last heartbeat %s", str(a, "region"),
			         str(a, "name"), buf);
			safe_copy(out, sizeof(out), out);
			puts(out);
		}
	}
	table_free(&t);
	json_decref(j);
	return EXIT_OK;
}

/* ---- history ------------------------------------------------------- */

/* A value for the OLD -> NEW column: newlines as spaces, long ones cut. */
static void
short_value(char *buf, size_t len, const char *s)
{
	size_t i, o = 0;

	if (s == NULL || *s == '\0') {
		snprintf(buf, len, "\"\"");
		return;
	}
	for (i = 0; s[i] != '\0' && o + 4 < len && i < CLI_VALUE_SHOW_MAX; i++)
		buf[o++] = s[i] == '\n' ? ' ' : s[i];
	if (s[i] != '\0') {
		while (o > 0 && ((unsigned char)buf[o - 1] & 0xC0) == 0x80)
			o--; /* not in the middle of a UTF-8 sequence */
		if (o > 0 && ((unsigned char)buf[o - 1] & 0xC0) == 0xC0)
			o--;
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

static void
change_text(char *buf, size_t len, const json_t *ch)
{
	const json_t *what = json_object_get(ch, "what"), *w;
	const json_t *oldv = json_object_get(ch, "old"), *newv = json_object_get(ch, "new");
	char o[64], nv[64];
	size_t i, n;

	buf[0] = '\0';
	json_array_foreach(what, i, w)
	{
		const char *f = json_string_value(w);

		if (f == NULL)
			continue;
		n = strlen(buf);
		if (strcmp(f, "first") == 0) {
			snprintf(buf + n, len - n, "%sfirst observation", n ? "; " : "");
			continue;
		}
		short_value(o, sizeof(o), json_string_value(json_object_get(oldv, f)));
		short_value(nv, sizeof(nv), json_string_value(json_object_get(newv, f)));
		snprintf(buf + n, len - n, "%s%s: %s -> %s", n ? "; " : "", f, o, nv);
	}
}

static int
cmd_history(const struct cli *c, const char *domain, long limit)
{
	struct table t = {.ncols = 5,
	                  .head = {"TIME", "REGION", "MX/ADDRESS", "WHAT", "OLD -> NEW"}};
	char path[1024], q[32] = "", what[CLI_CELL_MAX], text[CLI_CELL_MAX];
	json_t *j, *ch, *w;
	size_t i, k;

	if (limit > 0)
		snprintf(q, sizeof(q), "?limit=%ld", limit);
	if (named_path(path, sizeof(path), "history", domain, q) != 0 ||
	    api_call(c, "GET", path, NULL, &j) != 0)
		return EXIT_FAIL;
	if (c->json) {
		print_json(j);
		json_decref(j);
		return EXIT_OK;
	}
	json_array_foreach(json_object_get(j, "changes"), i, ch)
	{
		char(*r)[CLI_CELL_MAX] = row(&t);

		what[0] = '\0';
		json_array_foreach(json_object_get(ch, "what"), k, w) list_add(
		        what, sizeof(what), json_string_value(w) ? json_string_value(w) : "");
		change_text(text, sizeof(text), ch);
		cell(r, 0, "%s", str(ch, "t"));
		cell(r, 1, "%s", str(ch, "region"));
		cell(r, 2, "%s/%s", str(ch, "mx_host")[0] ? str(ch, "mx_host") : "-",
		     str(ch, "address")[0] ? str(ch, "address") : "-");
		cell(r, 3, "%s", what);
		cell(r, 4, "%s", text);
	}
	if (t.nrows == 0)
		printf("no changes recorded\n");
	else
		table_print(&t);
	table_free(&t);
	json_decref(j);
	return EXIT_OK;
}

/* ---- main ---------------------------------------------------------- */

int
main(int argc, char **argv)
{
	struct cli c;
	const char *token_file = NULL, *pos[4];
	char url[2048];
	size_t npos = 0, n;
	unsigned long v;
	long interval = -1, limit = -1;
	int i, rc, opts_done = 0;

	memset(&c, 0, sizeof(c));
	c.url = getenv("MXSENTRY_URL");
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (opts_done || a[0] != '-' || a[1] == '\0') {
			if (npos == sizeof(pos) / sizeof(pos[0]))
				goto usage;
			pos[npos++] = a;
		} else if (strcmp(a, "--") == 0) {
			opts_done = 1;
		} else if (strcmp(a, "--json") == 0) {
			c.json = 1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(a, "--version") == 0) {
			printf("mxsentry 0.1.0\n");
			return EXIT_OK;
		} else if (i + 1 >= argc) {
			goto usage;
		} else if (strcmp(a, "-s") == 0) {
			c.url = argv[++i];
		} else if (strcmp(a, "-t") == 0) {
			token_file = argv[++i];
		} else if (strcmp(a, "--interval") == 0) {
			if (parse_uint(argv[++i], 10, 86400, &v) != 0) {
				errmsg("--interval must be an integer in [10, 86400]"); /* as the
				                                                           API */
				return EXIT_USAGE;
			}
			interval = (long)v;
		} else if (strcmp(a, "--limit") == 0) {
			if (parse_uint(argv[++i], 1, 1000, &v) != 0) {
				errmsg("--limit must be an integer in [1, 1000]");
				return EXIT_USAGE;
			}
			limit = (long)v;
		} else {
			goto usage;
		}
	}
	if (npos == 0)
		goto usage;
	/* Options that belong to one command only. */
	if ((interval >= 0 &&
	     !(npos >= 2 && strcmp(pos[0], "domains") == 0 && strcmp(pos[1], "add") == 0)) ||
	    (limit >= 0 && strcmp(pos[0], "history") != 0))
		goto usage;
	if (c.url == NULL || c.url[0] == '\0')
		c.url = CLI_URL_DFLT;
	n = strlen(c.url);
	while (n > 0 && c.url[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(url)) {
		errmsg("server URL is empty or too long");
		return EXIT_USAGE;
	}
	memcpy(url, c.url, n);
	url[n] = '\0';
	c.url = url;
	if (strcmp(pos[0], "domains") != 0 && strcmp(pos[0], "status") != 0 &&
	    strcmp(pos[0], "regions") != 0 && strcmp(pos[0], "history") != 0)
		goto usage;
	if ((strcmp(pos[0], "status") == 0 || strcmp(pos[0], "history") == 0) ? npos != 2
	    : strcmp(pos[0], "regions") == 0                                  ? npos != 1
	                                                                      : npos < 2)
		goto usage;
	if (token_file == NULL)
		token_file = getenv("MXSENTRY_TOKEN_FILE");
	if (token_file == NULL || token_file[0] == '\0')
		token_file = CLI_TOKEN_DFLT;
	if (read_token(&c, token_file) != 0)
		return EXIT_FAIL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		errmsg("libcurl initialisation failed");
		return EXIT_FAIL;
	}
	if (strcmp(pos[0], "domains") == 0)
		rc = cmd_domains(&c, (int)npos - 1, pos + 1, interval);
	else if (strcmp(pos[0], "status") == 0)
		rc = cmd_status(&c, pos[1]);
	else if (strcmp(pos[0], "regions") == 0)
		rc = cmd_regions(&c);
	else
		rc = cmd_history(&c, pos[1], limit);
	curl_global_cleanup();
	return rc;
usage:
	usage(stderr);
	return EXIT_USAGE;
}
