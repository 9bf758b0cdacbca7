/*
 * store_bench — how fast the SQLite store takes results (DESIGN.md sizing).
 *
 * The world: 10,000 domains x 2 addresses x 5 regions = 100,000 keys; a
 * result is one domain probed from one region, 2 rows (one per address),
 * with random 16-byte result ids (as agents make them).  Round 0 is the
 * first observation of every key (each row is a change); rounds 1..3 are
 * steady state, 15 minutes apart, with 1% of TLS verdicts flipping in
 * rounds 1 and 3 (a flip and the flip back), so the change log is
 * exercised.  Then round 2 is delivered again: all duplicates.
 *
 * This runs twice, each on a fresh database: with batches of 50 results
 * (100 rows; what one agent's Results message carries) and of 1,000
 * results (2,000 rows; the collector may merge agents' batches into one
 * transaction).
 *
 * Printed per setting: rows/s and results/s over the time spent inside
 * mxs_store_put_batch (wall time, and the process's CPU time, which other
 * load on the machine disturbs less), for round 0 and for rounds 1..3;
 * the duplicate re-delivery rate; bytes per stored row (database size
 * after close over rows stored, and the growth of the database's pages
 * per steady-state row).  It asserts nothing: the target (>= 100,000
 * results/s) is judged by whoever reads it.
 *
 * Usage: store_bench [DIR [RESULTS_PER_BATCH]]
 *   DIR defaults to a new directory under /tmp; with RESULTS_PER_BATCH,
 *   only that setting runs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#define DOMAINS 10000
#define ADDRS   2
#define REGIONS 5
#define ROUNDS  4 /* round 0 first observation, 1..3 steady state */
#define T0      ((int64_t)1717200000000)
#define NKEYS   ((size_t)DOMAINS * REGIONS * ADDRS)

static const char *const regions[REGIONS] = {"eu-west", "eu-central", "us-east", "us-west",
                                             "ap-south"};

struct clock2 {
	double wall, cpu;
};

static struct clock2
now2(void)
{
	struct timespec w, c;
	struct clock2 r;

	clock_gettime(CLOCK_MONOTONIC, &w);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
	r.wall = (double)w.tv_sec + (double)w.tv_nsec / 1e9;
	r.cpu = (double)c.tv_sec + (double)c.tv_nsec / 1e9;
	return r;
}

/* splitmix64: stands in for the agent's random ids, reproducibly. */
static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void
hex_of(uint64_t seed, char out[MXS_STORE_HEX256_MAX])
{
	static const char hx[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 64; i++) {
		if (i % 16 == 0)
			seed = mix(seed);
		out[i] = hx[(seed >> ((i % 16) * 4)) & 0xf];
	}
	out[64] = '\0';
}

static void
make_row(struct mxs_store_obs *o, unsigned round, unsigned region, unsigned dom, unsigned a)
{
	uint64_t rid = ((uint64_t)round * REGIONS + region) * DOMAINS + dom;
	uint64_t x = mix(rid), y = mix(x);
	/* Rounds 1 and 3 flip the same 1% of keys: fail, then ok again. */
	int flip = round % 2 == 1 && mix(((uint64_t)region * DOMAINS + dom) ^ a) % 100 == 0;
	int c;

	memset(o, 0, sizeof(*o));
	memcpy(o->result_id, &x, 8);
	memcpy(o->result_id + 8, &y, 8);
	o->t_ms = T0 + (int64_t)round * 900000 + (int64_t)region * 1000 + dom % 1000;
	snprintf(o->domain, sizeof(o->domain), "domain%05u.example", dom);
	snprintf(o->mx_host, sizeof(o->mx_host), "mx%u.domain%05u.example", a + 1, dom);
	snprintf(o->address, sizeof(o->address), "10.%u.%u.%u", dom / 256 % 256, dom % 256, a + 1);
	snprintf(o->region, sizeof(o->region), "%s", regions[region]);
	for (c = 0; c < MXS_STORE_NCHECKS; c++) {
		snprintf(o->v[c].status, sizeof(o->v[c].status), "ok");
		snprintf(o->v[c].reason, sizeof(o->v[c].reason), "%s", "verified");
	}
	if (flip && round == 1) {
		snprintf(o->v[MXS_STORE_TLS].status, MXS_STORE_WORD_MAX, "fail");
		snprintf(o->v[MXS_STORE_TLS].result_type, MXS_STORE_WORD_MAX,
		         "starttls-not-supported");
		snprintf(o->v[MXS_STORE_TLS].reason, MXS_STORE_REASON_MAX,
		         "STARTTLS not advertised in EHLO");
	}
	o->starttls_advertised = 1;
	snprintf(o->tls_version, sizeof(o->tls_version), "TLSv1.3");
	hex_of((uint64_t)dom * 4 + a, o->leaf_sha256);
	hex_of((uint64_t)dom * 4 + a + 2, o->spki_sha256);
	o->days_to_expiry = (int)(dom % 90);
	snprintf(o->mx_set, sizeof(o->mx_set),
	         "10 mx1.domain%05u.example 20 mx2.domain%05u.example", dom, dom);
	snprintf(o->dnssec, sizeof(o->dnssec), "insecure");
	snprintf(o->sts_id, sizeof(o->sts_id), "20240601000000");
	hex_of((uint64_t)dom * 4 + 3, o->sts_body_sha256);
	snprintf(o->sts_mode, sizeof(o->sts_mode), "enforce");
}

static long long
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

/* Bytes in use by the database's pages (WAL included), from a second
 * connection. */
static long long
used_bytes(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db,
	                       "SELECT (p.page_count - f.freelist_count) * s.page_size FROM"
	                       " pragma_page_count p, pragma_freelist_count f, pragma_page_size s",
	                       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

struct phase {
	size_t rows, offered;
	double wall, cpu;
};

/* Offer round's rows in batches of batch_results results; add to ph. */
static int
run_round(struct mxs_store *st, struct mxs_store_obs *batch, size_t batch_results, unsigned round,
          struct phase *ph)
{
	char err[512];
	size_t nb = 0, nnew, offered = 0;
	unsigned region, dom, a;
	struct clock2 t0, t1;

	for (region = 0; region < REGIONS; region++)
		for (dom = 0; dom < DOMAINS; dom++) {
			for (a = 0; a < ADDRS; a++)
				make_row(&batch[nb++], round, region, dom, a);
			offered += ADDRS;
			if (nb < batch_results * ADDRS && offered < NKEYS)
				continue;
			t0 = now2();
			if (mxs_store_put_batch(st, batch, nb, &nnew, err, sizeof(err)) != MXS_OK) {
				fprintf(stderr, "store_bench: %s\n", err);
				return -1;
			}
			t1 = now2();
			ph->wall += t1.wall - t0.wall;
			ph->cpu += t1.cpu - t0.cpu;
			ph->rows += nnew;
			ph->offered += nb;
			nb = 0;
		}
	return 0;
}

static void
print_phase(const char *what, const struct phase *ph)
{
	printf("  %-22s %7zu rows  %6.3f s wall %9.0f rows/s %8.0f results/s"
	       "  | cpu %6.3f s %9.0f rows/s %8.0f results/s\n",
	       what, ph->rows, ph->wall, (double)ph->offered / ph->wall,
	       (double)ph->offered / ADDRS / ph->wall, ph->cpu, (double)ph->offered / ph->cpu,
	       (double)ph->offered / ADDRS / ph->cpu);
}

static void
unlink_db(const char *path)
{
	char p[320];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

static int
run_setting(const char *dir, size_t batch_results)
{
	char path[300], walp[310], err[512];
	struct mxs_store *st = NULL;
	struct mxs_store_obs *batch;
	struct phase first = {0}, steady = {0}, dup = {0}, all;
	long long used0, used1, wal;
	unsigned round;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/bench-%zu.db", dir, batch_results);
	unlink_db(path);
	if ((batch = calloc(batch_results * ADDRS, sizeof(*batch))) == NULL)
		return -1;
	if (mxs_store_sqlite_open(path, NULL, &st, err, sizeof(err)) != MXS_OK) {
		fprintf(stderr, "store_bench: %s\n", err);
		goto out;
	}
	if (run_round(st, batch, batch_results, 0, &first) != 0)
		goto out;
	used0 = used_bytes(path);
	for (round = 1; round < ROUNDS; round++)
		if (run_round(st, batch, batch_results, round, &steady) != 0)
			goto out;
	used1 = used_bytes(path);
	if (run_round(st, batch, batch_results, 2, &dup) != 0)
		goto out;
	snprintf(walp, sizeof(walp), "%s-wal", path);
	wal = file_size(walp);
	mxs_store_close(&st);

	all = first;
	all.rows += steady.rows;
	all.offered += steady.offered;
	all.wall += steady.wall;
	all.cpu += steady.cpu;
	printf("batches of %zu results (%zu rows), %zu keys, %d rounds:\n", batch_results,
	       batch_results * ADDRS, NKEYS, ROUNDS);
	print_phase("first observation", &first);
	print_phase("steady state", &steady);
	print_phase("all rounds", &all);
	printf("  %-22s %7zu rows  %6.3f s wall %9.0f rows/s (%zu of %zu stored)\n",
	       "duplicate re-delivery", dup.offered, dup.wall, (double)dup.offered / dup.wall,
	       dup.rows, dup.offered);
	printf("  bytes per row          %.0f (file after close / rows stored);"
	       " steady state %.0f (page growth / row); WAL at close %.1f MB\n",
	       (double)file_size(path) / (double)all.rows,
	       (double)(used1 - used0) / (double)steady.rows, (double)wal / 1e6);
	rc = 0;
out:
	mxs_store_close(&st);
	free(batch);
	return rc;
}

int
main(int argc, char **argv)
{
	char dir[256];

	if (argc > 1 && argv[1][0] != '\0')
		snprintf(dir, sizeof(dir), "%s", argv[1]);
	else {
		snprintf(dir, sizeof(dir), "/tmp/mxs_store_bench.XXXXXX");
		if (mkdtemp(dir) == NULL) {
			perror("mkdtemp");
			return 1;
		}
	}
	if (argc > 2) {
		char *end;
		unsigned long n = strtoul(argv[2], &end, 10);

		if (*end != '\0' || n == 0 || n > MXS_STORE_BATCH_MAX / ADDRS) {
			fprintf(stderr, "store_bench: results per batch: 1..%d\n",
			        MXS_STORE_BATCH_MAX / ADDRS);
			return 1;
		}
		return run_setting(dir, (size_t)n) != 0;
	}
	if (run_setting(dir, 50) != 0 || run_setting(dir, 1000) != 0)
		return 1;
	printf("databases in %s\n", dir);
	return 0;
}
