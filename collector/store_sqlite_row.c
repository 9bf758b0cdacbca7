/*
 * store_sqlite_row — one observation as the SQLite store keeps it: bound
 * to and read from a results row (the OBS_COLS list, store_sqlite_int.h),
 * checked before it is stored, and compared with its key's state row (the
 * compared fields, STATE_COLS) to find a change and describe it.
 */
#include "store_sqlite_int.h"

#include <string.h>

/* ---- results rows -------------------------------------------------- */

/* Lower-case hex digit values; 16 for every other byte.  A table, because
 * branches on random hex digits mispredict (~5% of put_batch). */
static const unsigned char hexval[256] = {
#define R16 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16
        R16, R16, R16,                                                           /* 0x00-0x2f */
        0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  16, 16, 16, 16, 16, 16, /* '0'-'9' */
        R16,                                                                     /* 0x40-0x4f */
        R16,                                                                     /* 0x50-0x5f */
        16,  10,  11,  12,  13,  14,  15,  16,  16,  16, 16, 16, 16, 16, 16, 16, /* 'a'-'f' */
        R16, R16, R16, R16, R16, R16, R16, R16, R16,                             /* 0x70-0xff */
#undef R16
};

static inline unsigned
nibble(char c)
{
	return hexval[(unsigned char)c];
}

/*
 * Raw rows keep SHA-256 values as 32-byte blobs (NULL when absent): the
 * three of them are a fifth of a row as hex.  hex is valid
 * (sqlite_obs_invalid).
 */
static int
bind_hash(sqlite3_stmt *st, int i, const char *hex, unsigned char bin[32])
{
	size_t k;

	if (hex[0] == '\0')
		return sqlite3_bind_null(st, i);
	for (k = 0; k < 32; k++)
		bin[k] = (unsigned char)(nibble(hex[2 * k]) << 4 | nibble(hex[2 * k + 1]));
	return sqlite3_bind_blob(st, i, bin, 32, SQLITE_STATIC);
}

static void
col_hash(sqlite3_stmt *st, int col, char out[MXS_STORE_HEX256_MAX])
{
	static const char hx[] = "0123456789abcdef";
	const unsigned char *b = sqlite3_column_blob(st, col);
	int k;

	out[0] = '\0';
	if (b == NULL || sqlite3_column_bytes(st, col) != 32)
		return;
	for (k = 0; k < 32; k++) {
		out[2 * k] = hx[b[k] >> 4];
		out[2 * k + 1] = hx[b[k] & 0xf];
	}
	out[64] = '\0';
}

/* Bind an observation to ?1..?OBS_NCOLS in OBS_COLS order.  bufs holds the
 * binary hashes and, like o, must outlive the statement's next step (bound
 * without a copy: three mallocs per row were ~4% of put_batch). */
int
sqlite_obs_bind(sqlite3_stmt *st, const struct mxs_store_obs *o, unsigned char bufs[3][32])
{
	int rc = 0, i = 1, c;

	rc |= sqlite3_bind_blob(st, i++, o->result_id, MXS_STORE_ID_LEN, SQLITE_STATIC);
	rc |= sqlite3_bind_int64(st, i++, o->t_ms);
	rc |= bind_text(st, i++, o->domain);
	rc |= bind_text(st, i++, o->mx_host);
	rc |= bind_text(st, i++, o->address);
	rc |= bind_text(st, i++, o->region);
	for (c = 0; c < MXS_STORE_NCHECKS; c++) {
		rc |= bind_text(st, i++, o->v[c].status);
		rc |= bind_text(st, i++, o->v[c].result_type);
		rc |= bind_text(st, i++, o->v[c].reason);
	}
	rc |= sqlite3_bind_int(st, i++, o->starttls_advertised);
	rc |= bind_text(st, i++, o->tls_version);
	rc |= bind_hash(st, i++, o->leaf_sha256, bufs[0]);
	rc |= bind_hash(st, i++, o->spki_sha256, bufs[1]);
	if (o->days_to_expiry == MXS_STORE_NO_DAYS)
		rc |= sqlite3_bind_null(st, i++);
	else
		rc |= sqlite3_bind_int(st, i++, o->days_to_expiry);
	rc |= bind_text(st, i++, o->mx_set);
	rc |= bind_text(st, i++, o->dnssec);
	rc |= bind_text(st, i++, o->sts_id);
	rc |= bind_hash(st, i++, o->sts_body_sha256, bufs[2]);
	rc |= bind_text(st, i++, o->sts_mode);
	rc |= bind_text(st, i++, o->tlsa);
	if (i != OBS_NCOLS + 1)
		return SQLITE_MISUSE;
	return rc == 0 ? SQLITE_OK : SQLITE_ERROR;
}

/* Read an observation from columns 0..OBS_NCOLS-1 of the current row. */
void
sqlite_obs_read(sqlite3_stmt *st, struct mxs_store_obs *o)
{
	int i = 0, c;

	memset(o, 0, sizeof(*o));
	col_id(st, i++, o->result_id);
	o->t_ms = sqlite3_column_int64(st, i++);
	col_text(st, i++, o->domain, sizeof(o->domain));
	col_text(st, i++, o->mx_host, sizeof(o->mx_host));
	col_text(st, i++, o->address, sizeof(o->address));
	col_text(st, i++, o->region, sizeof(o->region));
	for (c = 0; c < MXS_STORE_NCHECKS; c++) {
		col_text(st, i++, o->v[c].status, sizeof(o->v[c].status));
		col_text(st, i++, o->v[c].result_type, sizeof(o->v[c].result_type));
		col_text(st, i++, o->v[c].reason, sizeof(o->v[c].reason));
	}
	o->starttls_advertised = sqlite3_column_int(st, i++);
	col_text(st, i++, o->tls_version, sizeof(o->tls_version));
	col_hash(st, i++, o->leaf_sha256);
	col_hash(st, i++, o->spki_sha256);
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		o->days_to_expiry = MXS_STORE_NO_DAYS;
	else
		o->days_to_expiry = sqlite3_column_int(st, i);
	i++;
	col_text(st, i++, o->mx_set, sizeof(o->mx_set));
	col_text(st, i++, o->dnssec, sizeof(o->dnssec));
	col_text(st, i++, o->sts_id, sizeof(o->sts_id));
	col_hash(st, i++, o->sts_body_sha256);
	col_text(st, i++, o->sts_mode, sizeof(o->sts_mode));
	col_text(st, i++, o->tlsa, sizeof(o->tlsa));
}

/* ---- validation ---------------------------------------------------- */

static int
valid_hex256(const char *h)
{
	unsigned bad = 0;
	size_t i;

	if (h[0] == '\0')
		return 1;
	for (i = 0; i < 64; i++)
		bad |= nibble(h[i]); /* 16 (bit 4) for a non-digit */
	return (bad & 16) == 0 && h[64] == '\0';
}

static int
valid_status(const char *s)
{
	return strcmp(s, "ok") == 0 || strcmp(s, "fail") == 0 || strcmp(s, "temporary") == 0 ||
	       strcmp(s, "not-tested") == 0;
}

/* NULL if o may be stored, else what is wrong with it. */
const char *
sqlite_obs_invalid(const struct mxs_store_obs *o)
{
	int c;

	if (!TERMINATED(o->domain) || !TERMINATED(o->mx_host) || !TERMINATED(o->address) ||
	    !TERMINATED(o->region) || !TERMINATED(o->tls_version) || !TERMINATED(o->leaf_sha256) ||
	    !TERMINATED(o->spki_sha256) || !TERMINATED(o->mx_set) || !TERMINATED(o->dnssec) ||
	    !TERMINATED(o->sts_id) || !TERMINATED(o->sts_body_sha256) || !TERMINATED(o->sts_mode) ||
	    !TERMINATED(o->tlsa))
		return "a text field is not NUL-terminated";
	for (c = 0; c < MXS_STORE_NCHECKS; c++) {
		if (!TERMINATED(o->v[c].status) || !TERMINATED(o->v[c].result_type) ||
		    !TERMINATED(o->v[c].reason))
			return "a verdict field is not NUL-terminated";
		if (!valid_status(o->v[c].status))
			return "a verdict status is not ok/fail/temporary/not-tested";
	}
	if (o->domain[0] == '\0')
		return "empty domain";
	if (o->region[0] == '\0')
		return "empty region";
	if (o->t_ms <= 0)
		return "time is not positive";
	if (o->starttls_advertised < -1 || o->starttls_advertised > 1)
		return "starttls_advertised is not -1, 0 or 1";
	if (!valid_hex256(o->leaf_sha256) || !valid_hex256(o->spki_sha256) ||
	    !valid_hex256(o->sts_body_sha256))
		return "a SHA-256 is not 64 lower-case hex digits";
	return NULL;
}

/* ---- change detection ---------------------------------------------- */

/* A bounded text buffer that marks truncation with "...". */
struct tbuf {
	char *p;
	size_t size, len;
	int full;
};

static void
tb_putc(struct tbuf *b, char ch)
{
	if (b->full)
		return;
	if (b->len + 4 >= b->size) { /* keep room for "..." and NUL */
		memcpy(b->p + b->len, "...", 3);
		b->len += 3;
		b->p[b->len] = '\0';
		b->full = 1;
		return;
	}
	b->p[b->len++] = ch;
	b->p[b->len] = '\0';
}

static void
tb_puts(struct tbuf *b, const char *s, int escape)
{
	for (; *s != '\0'; s++) {
		if (escape && *s == '\\') {
			tb_putc(b, '\\');
			tb_putc(b, '\\');
		} else if (escape && *s == '\n') {
			tb_putc(b, '\\');
			tb_putc(b, 'n');
		} else {
			tb_putc(b, *s);
		}
	}
}

/* The compared fields, in STATE_COLS order: names, and values of an
 * observation (sqlite_cmp_vals), or writable fields (state_fields). */
static const char *const cmp_names[NCMP] = {
        "connect.status", "connect.result_type", "smtp.status", "smtp.result_type",
        "tls.status",     "tls.result_type",     "pkix.status", "pkix.result_type",
        "name.status",    "name.result_type",    "dane.status", "dane.result_type",
        "sts.status",     "sts.result_type",     "leaf_sha256", "spki_sha256",
        "sts_id",         "sts_body_sha256",     "sts_mode",    "tlsa",
};

void
sqlite_cmp_vals(const struct mxs_store_obs *o, const char **v)
{
	size_t n = 0;
	int c;

	for (c = 0; c < MXS_STORE_NCHECKS; c++) {
		v[n++] = o->v[c].status;
		v[n++] = o->v[c].result_type;
	}
	v[n++] = o->leaf_sha256;
	v[n++] = o->spki_sha256;
	v[n++] = o->sts_id;
	v[n++] = o->sts_body_sha256;
	v[n++] = o->sts_mode;
	v[n++] = o->tlsa;
}

/*
 * Compare o with the previous latest row (NULL: first observation) and,
 * if they differ, fill what/old/new.  Returns 1 when it is a change.
 */
int
sqlite_obs_diff(const struct mxs_store_obs *prev, const struct mxs_store_obs *o, char *what,
                size_t whatlen, char *oldv, char *newv, size_t vlen)
{
	const char *pv[NCMP], *nv[NCMP];
	struct tbuf w = {what, whatlen, 0, 0}, ob = {oldv, vlen, 0, 0}, nb = {newv, vlen, 0, 0};
	size_t i;
	int changed = 0;

	what[0] = oldv[0] = newv[0] = '\0';
	sqlite_cmp_vals(o, nv);
	if (prev != NULL)
		sqlite_cmp_vals(prev, pv);
	else
		tb_puts(&w, "first", 0);
	for (i = 0; i < NCMP; i++) {
		if (prev != NULL && strcmp(pv[i], nv[i]) == 0)
			continue;
		if (prev == NULL && nv[i][0] == '\0')
			continue; /* a first observation lists what it has */
		if (prev != NULL) {
			if (changed)
				tb_putc(&w, ',');
			tb_puts(&w, cmp_names[i], 0);
			tb_puts(&ob, cmp_names[i], 0);
			tb_putc(&ob, '=');
			tb_puts(&ob, pv[i], 1);
			tb_putc(&ob, '\n');
		}
		tb_puts(&nb, cmp_names[i], 0);
		tb_putc(&nb, '=');
		tb_puts(&nb, nv[i], 1);
		tb_putc(&nb, '\n');
		changed = 1;
	}
	return prev == NULL || changed;
}

/* ---- state rows ---------------------------------------------------- */

/* The compared fields of o, writable, in STATE_COLS order (see sqlite_cmp_vals). */
static size_t
state_fields(struct mxs_store_obs *o, char **p, size_t *sz)
{
	size_t n = 0;
	int c;

	for (c = 0; c < MXS_STORE_NCHECKS; c++) {
		p[n] = o->v[c].status;
		sz[n++] = sizeof(o->v[c].status);
		p[n] = o->v[c].result_type;
		sz[n++] = sizeof(o->v[c].result_type);
	}
#define F(field) (p[n] = o->field, sz[n++] = sizeof(o->field))
	F(leaf_sha256);
	F(spki_sha256);
	F(sts_id);
	F(sts_body_sha256);
	F(sts_mode);
	F(tlsa);
#undef F
	return n;
}

/* Fill the key, time and compared fields of o from a state row. */
void
sqlite_state_read(sqlite3_stmt *st, struct mxs_store_obs *o)
{
	char *p[NCMP];
	size_t sz[NCMP], i, n = state_fields(o, p, sz);

	for (i = 0; i < n; i++)
		col_text(st, (int)i, p[i], sz[i]);
	o->t_ms = sqlite3_column_int64(st, STATE_NCOLS);
	col_id(st, STATE_NCOLS + 1, o->result_id);
	col_text(st, STATE_NCOLS + 2, o->mx_host, sizeof(o->mx_host));
}

int
sqlite_state_write(struct store_sqlite *s, const struct mxs_store_obs *o, char *errstr,
                   size_t errlen)
{
	sqlite3_stmt *st = s->stmt[S_PUT_STATE];
	const char *v[NCMP];
	size_t i;
	int rc = 0;

	sqlite_cmp_vals(o, v);
	rc |= bind_text(st, 1, o->domain);
	rc |= bind_text(st, 2, o->address);
	rc |= bind_text(st, 3, o->region);
	rc |= sqlite3_bind_int64(st, 4, o->t_ms);
	rc |= sqlite3_bind_blob(st, 5, o->result_id, MXS_STORE_ID_LEN, SQLITE_STATIC);
	rc |= bind_text(st, 6, o->mx_host);
	for (i = 0; i < NCMP; i++)
		rc |= bind_text(st, 7 + (int)i, v[i]);
	if (rc != 0)
		return sqlite_db_err(s, SQLITE_ERROR, "binding state", errstr, errlen);
	return sqlite_run_step(s, S_PUT_STATE, "writing state", errstr, errlen);
}
