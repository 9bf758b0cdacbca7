/*
 * store_bench — how fast the SQLite store takes results (DESIGN.md sizing).
 *
 * Stores 200,000 observations in batches of 100 into a fresh WAL database:
 * 10,000 domains x 2 addresses x 5 regions, probed twice (15 minutes
 * apart), with random 16-byte result ids (as agents make them) and 1% of
 * the second round's TLS verdicts flipped so the change log is exercised.
 * Prints rows/s (time inside mxs_store_put_batch only, and wall time
 * including row generation), the file size, and row counts.  It asserts
 * nothing: the target (>= 100,000 rows/s) is judged by whoever reads it.
 *
 * Usage: store_bench [DIR]   (default: a new directory under /tmp)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#define DOMAINS 10000
#define ADDRS   2
#define REGIONS 5
#define ROUNDS  2
#define BATCH   100
#define T0      ((int64_t)1717200000000)

static const char *const regions[REGIONS] = {"eu-west", "eu-central", "us-east", "us-west",
                                             "ap-south"};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
	if (round > 0 && mix(rid ^ a) % 100 == 0) {
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

int
main(int argc, char **argv)
{
	char dir[256], path[300], walp[310], err[512];
	struct mxs_store *st = NULL;
	struct mxs_store_obs *batch;
	struct mxs_store_sqlite_opts opts = {0};
	size_t nb = 0, nnew, stored = 0, total = 0;
	double t_start, t_put = 0, t_round[ROUNDS] = {0}, t0, wall;
	size_t n_round[ROUNDS] = {0};
	unsigned round, region, dom, a;
	long long wal_bytes;

	if (argc > 1)
		snprintf(dir, sizeof(dir), "%s", argv[1]);
	else {
		snprintf(dir, sizeof(dir), "/tmp/mxs_store_bench.XXXXXX");
		if (mkdtemp(dir) == NULL) {
			perror("mkdtemp");
			return 1;
		}
	}
	snprintf(path, sizeof(path), "%s/bench.db", dir);
	snprintf(walp, sizeof(walp), "%s-wal", path);
	unlink(path);
	unlink(walp);
	if ((batch = calloc(BATCH, sizeof(*batch))) == NULL)
		return 1;
	if (mxs_store_sqlite_open(path, &opts, &st, err, sizeof(err)) != MXS_OK) {
		fprintf(stderr, "store_bench: %s\n", err);
		return 1;
	}
	t_start = now_s();
	for (round = 0; round < ROUNDS; round++)
		for (region = 0; region < REGIONS; region++)
			for (dom = 0; dom < DOMAINS; dom++)
				for (a = 0; a < ADDRS; a++) {
					make_row(&batch[nb++], round, region, dom, a);
					total++;
					if (nb < BATCH &&
					    total < (size_t)ROUNDS * REGIONS * DOMAINS * ADDRS)
						continue;
					t0 = now_s();
					if (mxs_store_put_batch(st, batch, nb, &nnew, err,
					                        sizeof(err)) != MXS_OK) {
						fprintf(stderr, "store_bench: %s\n", err);
						return 1;
					}
					t0 = now_s() - t0;
					t_put += t0;
					t_round[round] += t0;
					n_round[round] += nnew;
					stored += nnew;
					nb = 0;
				}
	wall = now_s() - t_start;
	wal_bytes = file_size(walp);
	printf("rows offered        %zu (%d domains x %d addresses x %d regions x %d rounds)\n",
	       total, DOMAINS, ADDRS, REGIONS, ROUNDS);
	printf("rows stored         %zu in batches of %d\n", stored, BATCH);
	printf("put_batch time      %.3f s  -> %.0f rows/s (%.0f results/s of %d rows)\n", t_put,
	       (double)stored / t_put, (double)stored / ADDRS / t_put, ADDRS);
	for (round = 0; round < ROUNDS; round++)
		printf("  round %u           %.3f s  -> %.0f rows/s (%s)\n", round, t_round[round],
		       (double)n_round[round] / t_round[round],
		       round == 0 ? "every key new: first-observation changes"
		                  : "steady state: 1% of TLS verdicts flip");
	printf("wall time           %.3f s  -> %.0f rows/s (row generation included)\n", wall,
	       (double)stored / wall);

	/* The same rows again: all duplicates. */
	t0 = now_s();
	nb = 0;
	stored = 0;
	for (dom = 0; dom < DOMAINS; dom++)
		for (a = 0; a < ADDRS; a++) {
			make_row(&batch[nb++], 0, 0, dom, a);
			if (nb < BATCH)
				continue;
			if (mxs_store_put_batch(st, batch, nb, &nnew, err, sizeof(err)) != MXS_OK) {
				fprintf(stderr, "store_bench: %s\n", err);
				return 1;
			}
			stored += nnew;
			nb = 0;
		}
	t0 = now_s() - t0;
	printf("duplicate delivery  %d rows re-sent, %zu stored, %.0f rows/s\n", DOMAINS * ADDRS,
	       stored, (double)(DOMAINS * ADDRS) / t0);

	printf("file size open      %.1f MB main + %.1f MB WAL\n", (double)file_size(path) / 1e6,
	       (double)wal_bytes / 1e6);
	mxs_store_close(&st);
	printf("file size closed    %.1f MB (%.0f bytes per stored row, all tables)\n",
	       (double)file_size(path) / 1e6,
	       (double)file_size(path) / (double)(ROUNDS * REGIONS * DOMAINS * ADDRS));
	printf("database            %s\n", path);
	free(batch);
	return 0;
}
