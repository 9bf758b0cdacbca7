/*
 * test_spool — unit tests for agent/spool.c, each in a fresh mkdtemp
 * directory: put/oldest/ack order, restart (order kept, seq continues),
 * the byte bound (refused, counted, older data intact), corrupt files of
 * every kind moved to corrupt/ at open and at read, the corrupt/ bound,
 * stray temp files, the size limits, an I/O error (RLIMIT_FSIZE standing in
 * for a full disk), the directory lock, wait/wakeup, and a producer and a
 * consumer thread moving 1000 batches through one spool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define BIG      (64 * 1024 * 1024) /* a max_bytes no test reaches */

static char errbuf[256];

struct fixture {
	char dir[256];
	char spool[300]; /* dir/spool: open creates it */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/test_spool.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->spool, sizeof(f->spool), "%s/spool", f->dir);
	*state = f;
	return 0;
}

/* Remove path and everything under it (the tests' trees are a few levels deep). */
static void
rm_tree(const char *path)
{
	struct dirent *de;
	struct stat sb;
	char sub[1024];
	DIR *d;

	if (lstat(path, &sb) != 0)
		return;
	if (S_ISDIR(sb.st_mode) && (d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			rm_tree(sub);
		}
		closedir(d);
	}
	remove(path);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	rm_tree(f->dir);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static struct mxs_spool *
open_ok(const char *dir, uint64_t max)
{
	struct mxs_spool *sp = NULL;

	errbuf[0] = '\0';
	if (mxs_spool_open(dir, max, &sp, errbuf, sizeof(errbuf)) != 0)
		fail_msg("open: %s", errbuf);
	assert_non_null(sp);
	return sp;
}

/* Bytes on disk of a batch of these strings. */
static uint64_t
file_size(const char *const *s, size_t n)
{
	uint64_t sz = MXS_SPOOL_HDR_SIZE;
	size_t i;

	for (i = 0; i < n; i++)
		sz += 4 + strlen(s[i]);
	return sz;
}

/* Put n strings as one batch; returns the put's result, *seq its seq. */
static int
put_strs(struct mxs_spool *sp, const char *const *s, size_t n, uint64_t *seq)
{
	const uint8_t *res[16];
	size_t lens[16], i;

	assert_true(n <= NELEM(res));
	for (i = 0; i < n; i++) {
		res[i] = (const uint8_t *)s[i];
		lens[i] = strlen(s[i]);
	}
	return mxs_spool_put(sp, res, lens, n, seq, errbuf, sizeof(errbuf));
}

static void
put_ok(struct mxs_spool *sp, const char *const *s, size_t n, uint64_t want_seq)
{
	uint64_t seq = 99;

	if (put_strs(sp, s, n, &seq) != 0)
		fail_msg("put: %s", errbuf);
	assert_int_equal(seq, want_seq);
}

/* The oldest batch must be seq holding exactly these strings. */
static void
expect_oldest(struct mxs_spool *sp, uint64_t seq, const char *const *s, size_t n)
{
	struct mxs_spool_batch *b = NULL;
	size_t i;

	if (mxs_spool_oldest(sp, &b, errbuf, sizeof(errbuf)) != 0)
		fail_msg("oldest: %s", errbuf);
	assert_non_null(b);
	assert_int_equal(b->seq, seq);
	assert_int_equal(b->n, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(b->lens[i], strlen(s[i]));
		assert_memory_equal(b->results[i], s[i], b->lens[i]);
	}
	mxs_spool_batch_free(&b);
	assert_null(b);
}

static void
expect_empty(struct mxs_spool *sp)
{
	struct mxs_spool_batch *b = (struct mxs_spool_batch *)1;

	assert_int_equal(mxs_spool_oldest(sp, &b, errbuf, sizeof(errbuf)), MXS_ENOTFOUND);
	assert_null(b);
}

static void
ack_ok(struct mxs_spool *sp, uint64_t seq)
{
	if (mxs_spool_ack(sp, seq, errbuf, sizeof(errbuf)) != 0)
		fail_msg("ack %llu: %s", (unsigned long long)seq, errbuf);
}

static void
expect_stats(struct mxs_spool *sp, uint64_t files, uint64_t results, uint64_t bytes,
             uint64_t dropped_results, uint64_t dropped_batches, uint64_t corrupt, uint64_t acked)
{
	struct mxs_spool_stats st;

	mxs_spool_stats(sp, &st);
	assert_int_equal(st.files, files);
	assert_int_equal(st.results, results);
	assert_int_equal(st.bytes, bytes);
	assert_int_equal(st.dropped_results, dropped_results);
	assert_int_equal(st.dropped_batches, dropped_batches);
	assert_int_equal(st.corrupt_files, corrupt);
	assert_int_equal(st.acked_results, acked);
}

static void
path_of(char *buf, size_t len, const char *dir, const char *sub, uint64_t seq)
{
	snprintf(buf, len, "%s/%s%016llx.sp", dir, sub, (unsigned long long)seq);
}

static int
exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

/* Names in dir, sorted, joined by ' ' (for exact comparisons). */
static void
list_dir(const char *dir, char *out, size_t len)
{
	struct dirent **ents;
	size_t off = 0;
	int n, i;

	out[0] = '\0';
	n = scandir(dir, &ents, NULL, alphasort);
	assert_true(n >= 0);
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			off += (size_t)snprintf(out + off, len - off, "%s%s", off ? " " : "",
			                        ents[i]->d_name);
			assert_true(off < len);
		}
		free(ents[i]);
	}
	free(ents);
}

static void
write_file(const char *path, const void *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static const char *const B1[] = {"alpha", "beta"};
static const char *const B2[] = {"gamma"};
static const char *const B3[] = {"delta", "epsilon", "zeta"};

/* ---- tests ---- */

static void
test_order(void **state)
{
	struct fixture *f = *state;
	struct mxs_spool *sp = open_ok(f->spool, BIG);
	uint64_t s1 = file_size(B1, 2), s2 = file_size(B2, 1), s3 = file_size(B3, 3);
	struct stat sb;

	assert_int_equal(stat(f->spool, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	expect_empty(sp);
	expect_stats(sp, 0, 0, 0, 0, 0, 0, 0);
	put_ok(sp, B1, 2, 1);
	put_ok(sp, B2, 1, 2);
	put_ok(sp, B3, 3, 3);
	expect_stats(sp, 3, 6, s1 + s2 + s3, 0, 0, 0, 0);

	expect_oldest(sp, 1, B1, 2);
	expect_oldest(sp, 1, B1, 2); /* not removed until the ack */
	ack_ok(sp, 1);
	expect_stats(sp, 2, 4, s2 + s3, 0, 0, 0, 2);
	assert_int_equal(mxs_spool_ack(sp, 1, errbuf, sizeof(errbuf)), MXS_ENOTFOUND);
	assert_int_equal(mxs_spool_ack(sp, 77, errbuf, sizeof(errbuf)), MXS_ENOTFOUND);
	expect_oldest(sp, 2, B2, 1);
	ack_ok(sp, 2);
	expect_oldest(sp, 3, B3, 3);
	ack_ok(sp, 3);
	expect_empty(sp);
	expect_stats(sp, 0, 0, 0, 0, 0, 0, 6);
	mxs_spool_close(&sp);
	assert_null(sp);
	mxs_spool_close(&sp); /* NULL is fine */
}

static void
test_ack_out_of_order(void **state)
{
	struct fixture *f = *state;
	struct mxs_spool *sp = open_ok(f->spool, BIG);

	put_ok(sp, B1, 2, 1);
	put_ok(sp, B2, 1, 2);
	put_ok(sp, B3, 3, 3);
	ack_ok(sp, 2);
	expect_stats(sp, 2, 5, file_size(B1, 2) + file_size(B3, 3), 0, 0, 0, 1);
	expect_oldest(sp, 1, B1, 2);
	ack_ok(sp, 3);
	expect_oldest(sp, 1, B1, 2);
	ack_ok(sp, 1);
	expect_empty(sp);
	put_ok(sp, B2, 1, 4);
	expect_oldest(sp, 4, B2, 1);
	mxs_spool_close(&sp);
}

static void
test_reopen(void **state)
{
	struct fixture *f = *state;
	struct mxs_spool *sp = open_ok(f->spool, BIG);

	put_ok(sp, B1, 2, 1);
	put_ok(sp, B2, 1, 2);
	put_ok(sp, B3, 3, 3);
	ack_ok(sp, 1);
	mxs_spool_close(&sp);

	sp = open_ok(f->spool, BIG);
	expect_stats(sp, 2, 4, file_size(B2, 1) + file_size(B3, 3), 0, 0, 0, 0);
	put_ok(sp, B1, 2, 4); /* after the highest existing */
	expect_oldest(sp, 2, B2, 1);
	ack_ok(sp, 2);
	expect_oldest(sp, 3, B3, 3);
	ack_ok(sp, 3);
	expect_oldest(sp, 4, B1, 2);
	mxs_spool_close(&sp);

	sp = open_ok(f->spool, BIG);
	expect_oldest(sp, 4, B1, 2);
	put_ok(sp, B2, 1, 5);
	mxs_spool_close(&sp);
}

static void
test_bound(void **state)
{
	struct fixture *f = *state;
	uint64_t s1 = file_size(B1, 2), s2 = file_size(B2, 1), s3 = file_size(B3, 3);
	struct mxs_spool *sp = open_ok(f->spool, s1 + s2); /* room for exactly two */
	uint64_t seq = 99;

	put_ok(sp, B1, 2, 1);
	put_ok(sp, B2, 1, 2);
	assert_int_equal(put_strs(sp, B3, 3, &seq), MXS_ELIMIT);
	assert_int_equal(seq, 0);
	assert_non_null(strstr(errbuf, "full"));
	assert_int_equal(put_strs(sp, B2, 1, &seq), MXS_ELIMIT);
	expect_stats(sp, 2, 3, s1 + s2, 4, 2, 0, 0);

	expect_oldest(sp, 1, B1, 2); /* the oldest data is kept */
	ack_ok(sp, 1);
	assert_int_equal(put_strs(sp, B3, 3, &seq), MXS_ELIMIT); /* s3 > s1 */
	put_ok(sp, B2, 1, 3);                                    /* refused seqs are not used */
	expect_stats(sp, 2, 2, 2 * s2, 7, 3, 0, 2);
	expect_oldest(sp, 2, B2, 1);
	mxs_spool_close(&sp);

	/* Files over a lowered bound are kept and delivered; puts wait for room. */
	sp = open_ok(f->spool, 1);
	expect_stats(sp, 2, 2, 2 * s2, 0, 0, 0, 0);
	assert_int_equal(put_strs(sp, B2, 1, &seq), MXS_ELIMIT);
	expect_oldest(sp, 2, B2, 1);
	assert_true(s3 > s1);
	mxs_spool_close(&sp);
}

/* Corruptions of a victim file, each applied to the middle one of three. */
enum corruption {
	FLIP_PAYLOAD,
	FLIP_COUNT,
	FLIP_SEQ,
	FLIP_CRC,
	BAD_MAGIC,
	TRUNCATE,
	TRUNC_HDR,
	EMPTY,
	EXTEND,
	RENAME,
	NOT_REGULAR
};

static void
corrupt(const char *dir, uint64_t seq, enum corruption how, uint64_t *victim)
{
	char path[512], to[512];
	uint8_t buf[4096];
	size_t len;
	FILE *fp;

	path_of(path, sizeof(path), dir, "", seq);
	*victim = seq;
	fp = fopen(path, "rb");
	assert_non_null(fp);
	len = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	switch (how) {
	case FLIP_PAYLOAD:
		buf[len - 1] ^= 0x01;
		break;
	case FLIP_COUNT:
		buf[15] ^= 0x01;
		break;
	case FLIP_SEQ:
		buf[27] ^= 0x40;
		break;
	case FLIP_CRC:
		buf[31] ^= 0x80;
		break;
	case BAD_MAGIC:
		buf[0] = 'X';
		break;
	case TRUNCATE:
		len -= 3;
		break;
	case TRUNC_HDR:
		len = 20;
		break;
	case EMPTY:
		len = 0;
		break;
	case EXTEND:
		buf[len++] = 0;
		break;
	case RENAME: /* a whole, valid file under another batch's name */
		path_of(to, sizeof(to), dir, "", 9);
		assert_int_equal(rename(path, to), 0);
		*victim = 9;
		return;
	case NOT_REGULAR:
		assert_int_equal(unlink(path), 0);
		assert_int_equal(mkdir(path, 0700), 0);
		return;
	}
	write_file(path, buf, len);
}

static const enum corruption all_corruptions[] = {FLIP_PAYLOAD, FLIP_COUNT, FLIP_SEQ,   FLIP_CRC,
                                                  BAD_MAGIC,    TRUNCATE,   TRUNC_HDR,  EMPTY,
                                                  EXTEND,       RENAME,     NOT_REGULAR};

/* Each corruption found by open: moved to corrupt/, counted, the rest readable. */
static void
test_corrupt_at_open(void **state)
{
	struct fixture *f = *state;
	char path[512], names[512], want[512];
	uint64_t victim;
	size_t i;

	for (i = 0; i < NELEM(all_corruptions); i++) {
		struct mxs_spool *sp;

		snprintf(f->spool, sizeof(f->spool), "%s/spool%zu", f->dir, i);
		sp = open_ok(f->spool, BIG);
		put_ok(sp, B1, 2, 1);
		put_ok(sp, B2, 1, 2);
		put_ok(sp, B3, 3, 3);
		mxs_spool_close(&sp);
		corrupt(f->spool, 2, all_corruptions[i], &victim);

		sp = open_ok(f->spool, BIG);
		expect_stats(sp, 2, 5, file_size(B1, 2) + file_size(B3, 3), 0, 0, 1, 0);
		path_of(path, sizeof(path), f->spool, "corrupt/", victim);
		assert_true(exists(path));
		path_of(path, sizeof(path), f->spool, "", victim);
		assert_false(exists(path));
		expect_oldest(sp, 1, B1, 2);
		ack_ok(sp, 1);
		expect_oldest(sp, 3, B3, 3);
		ack_ok(sp, 3);
		expect_empty(sp);
		/* Seqs continue after the highest name, corrupt/ included. */
		put_ok(sp, B2, 1, victim > 3 ? victim + 1 : 4);
		mxs_spool_close(&sp);

		snprintf(want, sizeof(want), "%016llx.sp", (unsigned long long)victim);
		snprintf(path, sizeof(path), "%s/corrupt", f->spool);
		list_dir(path, names, sizeof(names));
		assert_string_equal(names, want);
	}
}

/* A file that goes bad (or away) while the spool is open is found by oldest. */
static void
test_corrupt_at_read(void **state)
{
	struct fixture *f = *state;
	struct mxs_spool *sp = open_ok(f->spool, BIG);
	char path[512];
	uint64_t victim;

	put_ok(sp, B1, 2, 1);
	put_ok(sp, B2, 1, 2);
	put_ok(sp, B3, 3, 3);
	put_ok(sp, B1, 2, 4);
	corrupt(f->spool, 1, FLIP_PAYLOAD, &victim);
	path_of(path, sizeof(path), f->spool, "", 2);
	assert_int_equal(unlink(path), 0);
	corrupt(f->spool, 3, EXTEND, &victim); /* the size no longer matches the index */

	expect_oldest(sp, 4, B1, 2);
	expect_stats(sp, 1, 2, file_size(B1, 2), 0, 0, 3, 0);
	path_of(path, sizeof(path), f->spool, "corrupt/", 1);
	assert_true(exists(path));
	path_of(path, sizeof(path), f->spool, "corrupt/", 3);
	assert_true(exists(path));
	mxs_spool_close(&sp);
}

/* corrupt/ keeps the newest MXS_SPOOL_CORRUPT_MAX files. */
static void
test_corrupt_bound(void **state)
{
	struct fixture *f = *state;
	const size_t nbad = MXS_SPOOL_CORRUPT_MAX + 3;
	char path[512], names[4096], want[4096] = "";
	struct mxs_spool *sp;
	size_t i, off = 0;

	assert_int_equal(mkdir(f->spool, 0700), 0);
	for (i = 1; i <= nbad; i++) {
		path_of(path, sizeof(path), f->spool, "", i);
		write_file(path, "garbage", 7);
	}
	sp = open_ok(f->spool, BIG);
	expect_stats(sp, 0, 0, 0, 0, 0, nbad, 0);
	expect_empty(sp);
	put_ok(sp, B1, 2, nbad + 1);
	mxs_spool_close(&sp);

	for (i = nbad - MXS_SPOOL_CORRUPT_MAX + 1; i <= nbad; i++)
		off += (size_t)snprintf(want + off, sizeof(want) - off, "%s%016zx.sp",
		                        off ? " " : "", i);
	snprintf(path, sizeof(path), "%s/corrupt", f->spool);
	list_dir(path, names, sizeof(names));
	assert_string_equal(names, want);
}

static void
test_stray_tmp(void **state)
{
	struct fixture *f = *state;
	char path[512], names[512];
	struct mxs_spool *sp;

	assert_int_equal(mkdir(f->spool, 0700), 0);
	path_of(path, sizeof(path), f->spool, "tmp.", 5);
	write_file(path, "half a batch", 12);
	snprintf(path, sizeof(path), "%s/tmp.other", f->spool);
	write_file(path, "x", 1);
	snprintf(path, sizeof(path), "%s/README", f->spool); /* not ours: left alone */
	write_file(path, "x", 1);
	snprintf(path, sizeof(path), "%s/0000000000000001.sp.bak", f->spool);
	write_file(path, "x", 1);

	sp = open_ok(f->spool, BIG);
	list_dir(f->spool, names, sizeof(names));
	assert_string_equal(names, "0000000000000001.sp.bak README");
	expect_stats(sp, 0, 0, 0, 0, 0, 0, 0);
	put_ok(sp, B2, 1, 1); /* a temp name does not advance the seq */
	list_dir(f->spool, names, sizeof(names));
	assert_string_equal(names, "0000000000000001.sp 0000000000000001.sp.bak README");
	mxs_spool_close(&sp);
}

static void
test_limits(void **state)
{
	struct fixture *f = *state;
	struct mxs_spool *sp = open_ok(f->spool, BIG);
	static const uint8_t *res[MXS_SPOOL_BATCH_RESULTS_MAX + 1];
	static size_t lens[MXS_SPOOL_BATCH_RESULTS_MAX + 1];
	uint8_t *big = calloc(1, MXS_WIRE_MSG_MAX + 1);
	char names[512];
	uint64_t seq = 99;
	size_t i;

	assert_non_null(big);
	for (i = 0; i < NELEM(res); i++)
		res[i] = big;

	/* Caller bugs: refused, not counted. */
	assert_int_equal(mxs_spool_put(sp, res, lens, 0, &seq, errbuf, sizeof(errbuf)), MXS_EINVAL);
	assert_int_equal(seq, 0);
	assert_int_equal(mxs_spool_put(sp, NULL, lens, 1, &seq, errbuf, sizeof(errbuf)),
	                 MXS_EINVAL);
	expect_stats(sp, 0, 0, 0, 0, 0, 0, 0);

	/* One result too large for any batch. */
	lens[0] = MXS_WIRE_MSG_MAX + 1;
	assert_int_equal(mxs_spool_put(sp, res, lens, 1, &seq, errbuf, sizeof(errbuf)), MXS_ELIMIT);
	expect_stats(sp, 0, 0, 0, 1, 1, 0, 0);
	lens[0] = MXS_SPOOL_BATCH_MAX - 3;
	assert_int_equal(mxs_spool_put(sp, res, lens, 1, &seq, errbuf, sizeof(errbuf)), MXS_ELIMIT);
	expect_stats(sp, 0, 0, 0, 2, 2, 0, 0);
	/* Two results that fit alone but not together. */
	lens[0] = MXS_SPOOL_BATCH_MAX / 2;
	lens[1] = MXS_SPOOL_BATCH_MAX / 2;
	assert_int_equal(mxs_spool_put(sp, res, lens, 2, &seq, errbuf, sizeof(errbuf)), MXS_ELIMIT);
	expect_stats(sp, 0, 0, 0, 4, 3, 0, 0);
	/* Too many results. */
	memset(lens, 0, sizeof(lens));
	assert_int_equal(mxs_spool_put(sp, res, lens, NELEM(res), &seq, errbuf, sizeof(errbuf)),
	                 MXS_ELIMIT);
	expect_stats(sp, 0, 0, 0, 4 + NELEM(res), 4, 0, 0);
	list_dir(f->spool, names, sizeof(names));
	assert_string_equal(names, "");

	/* Exactly at the limits: accepted and read back. */
	lens[0] = MXS_SPOOL_BATCH_MAX - 4;
	assert_int_equal(mxs_spool_put(sp, res, lens, 1, &seq, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(seq, 1);
	lens[0] = 0;
	assert_int_equal(mxs_spool_put(sp, res, lens, MXS_SPOOL_BATCH_RESULTS_MAX, &seq, errbuf,
	                               sizeof(errbuf)),
	                 0);
	assert_int_equal(seq, 2);
	expect_stats(sp, 2, 1 + MXS_SPOOL_BATCH_RESULTS_MAX,
	             2 * MXS_SPOOL_HDR_SIZE + MXS_SPOOL_BATCH_MAX + 4 * MXS_SPOOL_BATCH_RESULTS_MAX,
	             4 + NELEM(res), 4, 0, 0);
	mxs_spool_close(&sp);
	sp = open_ok(f->spool, BIG);
	{
		struct mxs_spool_batch *b;

		assert_int_equal(mxs_spool_oldest(sp, &b, errbuf, sizeof(errbuf)), 0);
		assert_int_equal(b->n, 1);
		assert_int_equal(b->lens[0], MXS_SPOOL_BATCH_MAX - 4);
		mxs_spool_batch_free(&b);
		ack_ok(sp, 1);
		assert_int_equal(mxs_spool_oldest(sp, &b, errbuf, sizeof(errbuf)), 0);
		assert_int_equal(b->n, MXS_SPOOL_BATCH_RESULTS_MAX);
		assert_int_equal(b->lens[MXS_SPOOL_BATCH_RESULTS_MAX - 1], 0);
		mxs_spool_batch_free(&b);
	}
	mxs_spool_close(&sp);
	free(big);
}

/* A write that fails (RLIMIT_FSIZE: EFBIG, like ENOSPC) is refused, counted, left no file. */
static void
test_io_error(void **state)
{
	struct fixture *f = *state;
	struct mxs_spool *sp = open_ok(f->spool, BIG);
	static const char *const big[] = {
	        "0123456789012345678901234567890123456789012345678901234567890123456789"};
	struct rlimit old, small;
	char names[512];
	uint64_t seq = 99;
	int rc;

	put_ok(sp, B1, 2, 1);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 64;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	rc = put_strs(sp, big, 1, &seq);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(rc, MXS_ESYS);
	assert_int_equal(seq, 0);
	expect_stats(sp, 1, 2, file_size(B1, 2), 1, 1, 0, 0);
	list_dir(f->spool, names, sizeof(names));
	assert_string_equal(names, "0000000000000001.sp");
	put_ok(sp, big, 1, 3); /* seq 2 was used by the failed put */
	expect_oldest(sp, 1, B1, 2);
	mxs_spool_close(&sp);
}

static void
test_locked(void **state)
{
	struct fixture *f = *state;
	struct mxs_spool *sp = open_ok(f->spool, BIG), *sp2 = (struct mxs_spool *)1;
	char file[512];

	assert_int_equal(mxs_spool_open(f->spool, BIG, &sp2, errbuf, sizeof(errbuf)), MXS_ESYS);
	assert_null(sp2);
	assert_non_null(strstr(errbuf, "in use"));
	assert_int_equal(mxs_spool_open(f->spool, 0, &sp2, errbuf, sizeof(errbuf)), MXS_EINVAL);
	snprintf(file, sizeof(file), "%s/file", f->dir);
	write_file(file, "x", 1);
	assert_int_equal(mxs_spool_open(file, BIG, &sp2, errbuf, sizeof(errbuf)), MXS_ESYS);
	assert_null(sp2);
	mxs_spool_close(&sp);
	sp2 = open_ok(f->spool, BIG);
	mxs_spool_close(&sp2);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *
wake_later(void *arg)
{
	usleep(50 * 1000);
	mxs_spool_wakeup(arg);
	return NULL;
}

static void
test_wait(void **state)
{
	struct fixture *f = *state;
	struct mxs_spool *sp = open_ok(f->spool, BIG);
	pthread_t th;
	double t0;

	t0 = now_ms();
	assert_int_equal(mxs_spool_wait(sp, 100), MXS_ENOTFOUND);
	assert_true(now_ms() - t0 >= 99);
	assert_int_equal(mxs_spool_wait(sp, 0), MXS_ENOTFOUND);

	assert_int_equal(pthread_create(&th, NULL, wake_later, sp), 0);
	t0 = now_ms();
	assert_int_equal(mxs_spool_wait(sp, -1), MXS_ENOTFOUND); /* woken, still empty */
	assert_true(now_ms() - t0 < 10000);
	assert_int_equal(pthread_join(th, NULL), 0);

	put_ok(sp, B2, 1, 1);
	assert_int_equal(mxs_spool_wait(sp, -1), 0);
	assert_int_equal(mxs_spool_wait(sp, 0), 0);
	mxs_spool_close(&sp);
}

/* ---- two threads ---- */

#define NBATCH 1000

static void
result_text(char *buf, size_t len, unsigned batch, unsigned r)
{
	snprintf(buf, len, "batch %u result %u", batch, r);
}

static void *
producer(void *arg)
{
	struct mxs_spool *sp = arg;
	char text[4][64];
	const uint8_t *res[4];
	size_t lens[4];
	unsigned i, r, n;
	uint64_t seq;
	char err[256];

	for (i = 0; i < NBATCH; i++) {
		n = i % 4 + 1;
		for (r = 0; r < n; r++) {
			result_text(text[r], sizeof(text[r]), i, r);
			res[r] = (const uint8_t *)text[r];
			lens[r] = strlen(text[r]);
		}
		if (mxs_spool_put(sp, res, lens, n, &seq, err, sizeof(err)) != 0 || seq != i + 1)
			return (void *)"put failed";
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct fixture *f = *state;
	struct mxs_spool *sp = open_ok(f->spool, BIG);
	struct mxs_spool_batch *b;
	unsigned got = 0, seen = 0, r;
	uint64_t total = 0;
	pthread_t th;
	void *perr;
	char want[64];

	assert_int_equal(pthread_create(&th, NULL, producer, sp), 0);
	while (got < NBATCH) {
		int rc = mxs_spool_wait(sp, 10000);

		assert_int_equal(rc, 0);
		assert_int_equal(mxs_spool_oldest(sp, &b, errbuf, sizeof(errbuf)), 0);
		/* Every batch exactly once, in order; every result in its place. */
		assert_int_equal(b->seq, got + 1);
		assert_int_equal(b->n, got % 4 + 1);
		for (r = 0; r < b->n; r++) {
			result_text(want, sizeof(want), got, r);
			assert_int_equal(b->lens[r], strlen(want));
			assert_memory_equal(b->results[r], want, b->lens[r]);
			seen++;
		}
		ack_ok(sp, b->seq);
		mxs_spool_batch_free(&b);
		got++;
	}
	assert_int_equal(pthread_join(th, &perr), 0);
	assert_null(perr);
	for (r = 0; r < NBATCH; r++)
		total += r % 4 + 1;
	assert_int_equal(seen, total);
	expect_empty(sp);
	expect_stats(sp, 0, 0, 0, 0, 0, 0, total);
	mxs_spool_close(&sp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_order, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ack_out_of_order, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_corrupt_at_open, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_corrupt_at_read, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_corrupt_bound, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_stray_tmp, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_io_error, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_locked, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wait, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
