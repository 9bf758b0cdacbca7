/*
 * spool — the agent's on-disk result queue (see spool.h for the contract
 * and the file format; the format itself is coded in spool_file.c).
 *
 * In memory the spool is an index of its batch files, sorted by sequence
 * number: ents[head..len) with the oldest at head, so the usual ack (of
 * the oldest batch) is O(1) and the usual put (newest) appends.  The
 * counters files/results/bytes always equal the index's totals.  A put in
 * progress holds a reservation (resv_*) so that two concurrent puts cannot
 * both fit into the last free space.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include "mxs_log.h"
#include "spool_file.h"

#define CORRUPT_DIR "corrupt"

struct ent {
	uint64_t seq;
	uint64_t size; /* file bytes, header included */
	uint32_t n;    /* results */
};

struct mxs_spool {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* signalled when a batch arrives or on wakeup */
	int dfd;           /* the spool directory; holds our flock */
	char *dir;         /* for messages */
	uint64_t max_bytes;
	uint64_t next_seq;
	struct ent *ents; /* live entries are ents[head..len), sorted by seq */
	size_t head, len, cap;
	uint64_t resv_bytes, resv_files; /* puts writing outside the mutex */
	uint64_t wake_gen;               /* bumped by mxs_spool_wakeup */
	struct mxs_spool_stats st;
};

/* ---- file I/O ---- */

static int
write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * Read the batch file seq into a new buffer (*bufp, freed by the caller).
 * Returns 0; MXS_ENOTFOUND (gone); MXS_ESYNTAX/MXS_ETRUNC (cannot be a
 * batch: not a regular file, too large, shrank); MXS_ESYS; MXS_ENOMEM.
 */
static int
file_read(int dfd, uint64_t seq, uint8_t **bufp, size_t *lenp, char *errstr, size_t errlen)
{
	char name[MXS_SPOOL_FILE_NAME_LEN];
	uint8_t *buf = NULL;
	struct stat sb;
	size_t got = 0;
	int fd, rc;

	*bufp = NULL;
	*lenp = 0;
	mxs_spool_file_name(name, seq);
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		rc = errno == ENOENT ? MXS_ENOTFOUND : errno == ELOOP ? MXS_ESYNTAX : MXS_ESYS;
		return mxs_seterr(errstr, errlen, rc, "open %s: %s", name, strerror(errno));
	}
	if (fstat(fd, &sb) != 0) {
		rc = mxs_seterr(errstr, errlen, MXS_ESYS, "fstat %s: %s", name, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > MXS_SPOOL_HDR_SIZE + MXS_SPOOL_BATCH_MAX) {
		rc = mxs_seterr(errstr, errlen, MXS_ESYNTAX, "%s: not a regular file of valid size",
		                name);
		goto out;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		rc = mxs_seterr(errstr, errlen, MXS_ENOMEM, "%s: out of memory", name);
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = mxs_seterr(errstr, errlen, MXS_ESYS, "read %s: %s", name,
			                strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*bufp = buf;
	*lenp = got;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The sorted sequence numbers of the batch names in directory fd; the
 * caller frees *seqsp.  With tmp_dir (the spool directory, for messages)
 * non-NULL, "tmp." files are removed on the way and *removed set.
 */
static int
list_seqs(int fd, const char *tmp_dir, uint64_t **seqsp, size_t *np, bool *removed, char *errstr,
          size_t errlen)
{
	uint64_t *seqs = NULL, seq;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int dup_fd, rc = 0;

	*seqsp = NULL;
	*np = 0;
	if ((dup_fd = dup(fd)) < 0 || (d = fdopendir(dup_fd)) == NULL) {
		rc = mxs_seterr(errstr, errlen, MXS_ESYS, "opendir: %s", strerror(errno));
		if (dup_fd >= 0)
			close(dup_fd);
		return rc;
	}
	rewinddir(d);
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (tmp_dir != NULL && strncmp(de->d_name, "tmp.", 4) == 0) {
			/* A put that never reached its rename: the batch was never reported stored.
			 */
			if (unlinkat(fd, de->d_name, 0) == 0)
				mxs_info("event=spool_tmp_removed dir=%s file=%s", tmp_dir,
				         de->d_name);
			*removed = true;
			continue;
		}
		if (!mxs_spool_file_parse_name(de->d_name, &seq))
			continue;
		if (n == cap) {
			uint64_t *t;

			cap = cap ? cap * 2 : 64;
			if ((t = realloc(seqs, cap * sizeof(*seqs))) == NULL) {
				rc = mxs_seterr(errstr, errlen, MXS_ENOMEM, "out of memory");
				goto out;
			}
			seqs = t;
		}
		seqs[n++] = seq;
	}
	if (errno != 0) {
		rc = mxs_seterr(errstr, errlen, MXS_ESYS, "readdir: %s", strerror(errno));
		goto out;
	}
	if (n > 1)
		qsort(seqs, n, sizeof(*seqs), cmp_u64);
	*seqsp = seqs;
	*np = n;
	seqs = NULL;
out:
	free(seqs);
	closedir(d);
	return rc;
}

/*
 * Move batch file seq to corrupt/ and count it; then delete the oldest
 * files there beyond MXS_SPOOL_CORRUPT_MAX.  Failures are logged, never
 * fatal: the file leaves the index either way, so one bad file cannot
 * block delivery of the others.
 */
static void
quarantine(struct mxs_spool *sp, uint64_t seq, const char *why)
{
	char name[MXS_SPOOL_FILE_NAME_LEN], dst[MXS_SPOOL_FILE_NAME_LEN + sizeof(CORRUPT_DIR)];
	uint64_t *seqs;
	size_t n, i;
	bool unused = false;
	int cfd;

	sp->st.corrupt_files++;
	mxs_spool_file_name(name, seq);
	snprintf(dst, sizeof(dst), CORRUPT_DIR "/%s", name);
	if (mkdirat(sp->dfd, CORRUPT_DIR, 0700) != 0 && errno != EEXIST) {
		mxs_err("event=spool_corrupt dir=%s file=%s reason=\"%s\" error=\"mkdir: %s\"",
		        sp->dir, name, why, strerror(errno));
		return;
	}
	if (renameat(sp->dfd, name, sp->dfd, dst) != 0) {
		mxs_err("event=spool_corrupt dir=%s file=%s reason=\"%s\" error=\"rename: %s\"",
		        sp->dir, name, why, strerror(errno));
		return;
	}
	mxs_warn("event=spool_corrupt dir=%s file=%s reason=\"%s\" moved_to=%s", sp->dir, name, why,
	         dst);
	if ((cfd = openat(sp->dfd, CORRUPT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	if (list_seqs(cfd, NULL, &seqs, &n, &unused, NULL, 0) == 0) {
		for (i = 0; i + MXS_SPOOL_CORRUPT_MAX < n; i++) {
			mxs_spool_file_name(name, seqs[i]);
			if (unlinkat(cfd, name, 0) == 0)
				mxs_info("event=spool_corrupt_pruned dir=%s file=%s/%s", sp->dir,
				         CORRUPT_DIR, name);
		}
		free(seqs);
	}
	fsync(cfd);
	close(cfd);
	fsync(sp->dfd);
}

/* ---- the index ---- */

/* Position of seq in ents[head..len), or len if absent. */
static size_t
idx_find(const struct mxs_spool *sp, uint64_t seq)
{
	size_t lo = sp->head, hi = sp->len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sp->ents[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < sp->len && sp->ents[lo].seq == seq ? lo : sp->len;
}

/* Insert e at its sorted place (normally the end). */
static int
idx_insert(struct mxs_spool *sp, const struct ent *e)
{
	size_t pos;

	if (sp->len == sp->cap && sp->head > 0) {
		memmove(sp->ents, sp->ents + sp->head, (sp->len - sp->head) * sizeof(*sp->ents));
		sp->len -= sp->head;
		sp->head = 0;
	}
	if (sp->len == sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 64;
		struct ent *t = realloc(sp->ents, cap * sizeof(*t));

		if (t == NULL)
			return MXS_ENOMEM;
		sp->ents = t;
		sp->cap = cap;
	}
	pos = sp->len;
	while (pos > sp->head && sp->ents[pos - 1].seq > e->seq)
		pos--;
	memmove(sp->ents + pos + 1, sp->ents + pos, (sp->len - pos) * sizeof(*sp->ents));
	sp->ents[pos] = *e;
	sp->len++;
	sp->st.files++;
	sp->st.results += e->n;
	sp->st.bytes += e->size;
	return 0;
}

static void
idx_remove(struct mxs_spool *sp, size_t pos)
{
	sp->st.files--;
	sp->st.results -= sp->ents[pos].n;
	sp->st.bytes -= sp->ents[pos].size;
	if (pos == sp->head) {
		sp->head++;
	} else {
		memmove(sp->ents + pos, sp->ents + pos + 1,
		        (sp->len - pos - 1) * sizeof(*sp->ents));
		sp->len--;
	}
	if (sp->head == sp->len)
		sp->head = sp->len = 0;
}

/* ---- open and close ---- */

/* Verify every batch file found by open; keep the good, quarantine the rest. */
static int
load_existing(struct mxs_spool *sp, const uint64_t *seqs, size_t n, char *errstr, size_t errlen)
{
	char why[256];
	struct ent e;
	uint8_t *buf;
	size_t len, i;
	uint32_t count;
	int rc;

	for (i = 0; i < n; i++) {
		rc = file_read(sp->dfd, seqs[i], &buf, &len, why, sizeof(why));
		if (rc == MXS_ENOMEM)
			return mxs_seterr(errstr, errlen, rc, "%s", why);
		if (rc == 0)
			rc = mxs_spool_file_check(buf, len, seqs[i], &count, why, sizeof(why));
		free(buf);
		if (rc != 0) {
			quarantine(sp, seqs[i], why);
			continue;
		}
		e.seq = seqs[i];
		e.size = len;
		e.n = count;
		if (idx_insert(sp, &e) != 0)
			return mxs_seterr(errstr, errlen, MXS_ENOMEM, "out of memory");
	}
	return 0;
}

/* The highest batch name in corrupt/, so sequence numbers never reuse one there. */
static int
corrupt_max_seq(struct mxs_spool *sp, uint64_t *max, char *errstr, size_t errlen)
{
	uint64_t *seqs;
	size_t n;
	bool unused = false;
	int cfd, rc;

	*max = 0;
	if ((cfd = openat(sp->dfd, CORRUPT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0; /* absent, or not a directory: the first quarantine will say so */
	rc = list_seqs(cfd, NULL, &seqs, &n, &unused, errstr, errlen);
	close(cfd);
	if (rc == 0 && n > 0)
		*max = seqs[n - 1];
	if (rc == 0)
		free(seqs);
	return rc;
}

/* The last step of open: nothing can fail after it, so nothing undoes it. */
static int
locks_init(struct mxs_spool *sp, char *errstr, size_t errlen)
{
	pthread_condattr_t ca;
	int rc = MXS_ENOMEM;

	if (pthread_condattr_init(&ca) != 0)
		return mxs_seterr(errstr, errlen, rc, "spool: condattr init failed");
	/* Timed waits must not jump with the wall clock. */
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(&sp->cv, &ca) == 0) {
		if (pthread_mutex_init(&sp->mu, NULL) == 0)
			rc = 0;
		else
			pthread_cond_destroy(&sp->cv);
	}
	pthread_condattr_destroy(&ca);
	if (rc != 0)
		return mxs_seterr(errstr, errlen, rc, "spool: mutex or condvar init failed");
	return 0;
}

int
mxs_spool_open(const char *dir, uint64_t max_bytes, struct mxs_spool **out, char *errstr,
               size_t errlen)
{
	struct mxs_spool *sp = NULL;
	uint64_t *seqs = NULL, cmax;
	size_t n = 0;
	bool removed = false;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (dir == NULL || *dir == '\0' || max_bytes == 0 || out == NULL)
		return mxs_seterr(errstr, errlen, MXS_EINVAL,
		                  "spool: need a directory and max_bytes");
	if ((sp = calloc(1, sizeof(*sp))) == NULL || (sp->dir = strdup(dir)) == NULL) {
		free(sp);
		return mxs_seterr(errstr, errlen, MXS_ENOMEM, "spool: out of memory");
	}
	sp->dfd = -1;
	sp->max_bytes = max_bytes;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		rc = mxs_seterr(errstr, errlen, MXS_ESYS, "spool: mkdir %s: %s", dir,
		                strerror(errno));
		goto out;
	}
	if ((sp->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = mxs_seterr(errstr, errlen, MXS_ESYS, "spool: open %s: %s", dir,
		                strerror(errno));
		goto out;
	}
	/* Two writers would hand out the same sequence numbers. */
	if (flock(sp->dfd, LOCK_EX | LOCK_NB) != 0) {
		rc = mxs_seterr(errstr, errlen, MXS_ESYS, "spool: %s: %s", dir,
		                errno == EWOULDBLOCK ? "in use by another spool" : strerror(errno));
		goto out;
	}
	if ((rc = list_seqs(sp->dfd, dir, &seqs, &n, &removed, errstr, errlen)) != 0 ||
	    (rc = corrupt_max_seq(sp, &cmax, errstr, errlen)) != 0 ||
	    (rc = load_existing(sp, seqs, n, errstr, errlen)) != 0)
		goto out;
	sp->next_seq = (n > 0 && seqs[n - 1] > cmax ? seqs[n - 1] : cmax) + 1;
	if (removed && fsync(sp->dfd) != 0) {
		rc = mxs_seterr(errstr, errlen, MXS_ESYS, "spool: fsync %s: %s", dir,
		                strerror(errno));
		goto out;
	}
	if ((rc = locks_init(sp, errstr, errlen)) != 0)
		goto out;
	*out = sp;
	sp = NULL;
	rc = 0;
out:
	free(seqs);
	if (sp != NULL) {
		if (sp->dfd >= 0)
			close(sp->dfd);
		free(sp->ents);
		free(sp->dir);
		free(sp);
	}
	return rc;
}

void
mxs_spool_close(struct mxs_spool **spp)
{
	struct mxs_spool *sp;

	if (spp == NULL || (sp = *spp) == NULL)
		return;
	*spp = NULL;
	pthread_cond_destroy(&sp->cv);
	pthread_mutex_destroy(&sp->mu);
	close(sp->dfd); /* releases the flock */
	free(sp->ents);
	free(sp->dir);
	free(sp);
}

/* ---- put ---- */

/* Count a refused put; returns err so a failure path reads return drop(...). */
static int
drop_locked(struct mxs_spool *sp, size_t n, int err)
{
	sp->st.dropped_batches++;
	sp->st.dropped_results += n;
	return err;
}

static int
drop(struct mxs_spool *sp, size_t n, int err)
{
	pthread_mutex_lock(&sp->mu);
	drop_locked(sp, n, err);
	pthread_mutex_unlock(&sp->mu);
	return err;
}

/* Write the image durably under its name: temp file, fsync, rename, fsync dir. */
static int
batch_write(struct mxs_spool *sp, uint64_t seq, const uint8_t *img, size_t len, char *errstr,
            size_t errlen)
{
	char tmp[MXS_SPOOL_FILE_NAME_LEN], name[MXS_SPOOL_FILE_NAME_LEN];
	const char *what;
	int fd, e;

	mxs_spool_file_tmp_name(tmp, seq);
	mxs_spool_file_name(name, seq);
	fd = openat(sp->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		e = errno;
		return mxs_seterr(errstr, errlen, MXS_ESYS, "spool: create %s/%s: %s", sp->dir, tmp,
		                  strerror(e));
	}
	if (write_all(fd, img, len) != 0) {
		what = "write";
		goto fail_fd;
	}
	if (fsync(fd) != 0) {
		what = "fsync";
		goto fail_fd;
	}
	if (close(fd) != 0) {
		fd = -1;
		what = "close";
		goto fail_fd;
	}
	if (renameat(sp->dfd, tmp, sp->dfd, name) != 0) {
		fd = -1;
		what = "rename";
		goto fail_fd;
	}
	if (fsync(sp->dfd) != 0) {
		/* Not durable: take it back, so that "refused" stays true. */
		e = errno;
		unlinkat(sp->dfd, name, 0);
		return mxs_seterr(errstr, errlen, MXS_ESYS, "spool: fsync %s: %s", sp->dir,
		                  strerror(e));
	}
	return 0;
fail_fd:
	e = errno == 0 ? EIO : errno; /* a short write to a full disk may leave errno 0 */
	if (fd >= 0)
		close(fd);
	unlinkat(sp->dfd, tmp, 0);
	return mxs_seterr(errstr, errlen, MXS_ESYS, "spool: %s %s/%s: %s", what, sp->dir, tmp,
	                  strerror(e));
}

/* Payload bytes of a batch, or an error if it breaks a per-batch limit. */
static int
batch_size(const size_t *lens, size_t n, size_t *plen, char *errstr, size_t errlen)
{
	uint64_t sum = 0;
	size_t i;

	if (n > MXS_SPOOL_BATCH_RESULTS_MAX)
		return mxs_seterr(errstr, errlen, MXS_ELIMIT,
		                  "spool: %zu results in one batch (max %d)", n,
		                  MXS_SPOOL_BATCH_RESULTS_MAX);
	for (i = 0; i < n; i++) {
		if (lens[i] > MXS_SPOOL_BATCH_MAX - 4)
			return mxs_seterr(errstr, errlen, MXS_ELIMIT,
			                  "spool: result %zu is %zu bytes (max %d)", i, lens[i],
			                  MXS_SPOOL_BATCH_MAX - 4);
		sum += 4 + (uint64_t)lens[i];
	}
	if (sum > MXS_SPOOL_BATCH_MAX)
		return mxs_seterr(errstr, errlen, MXS_ELIMIT,
		                  "spool: batch is %" PRIu64 " bytes (max %d)", sum,
		                  MXS_SPOOL_BATCH_MAX);
	*plen = (size_t)sum;
	return 0;
}

int
mxs_spool_put(struct mxs_spool *sp, const uint8_t *const *results, const size_t *lens, size_t n,
              uint64_t *seq_out, char *errstr, size_t errlen)
{
	uint8_t *img = NULL;
	uint64_t seq, size;
	size_t plen = 0, i;
	int rc;

	if (seq_out != NULL)
		*seq_out = 0;
	if (sp == NULL || results == NULL || lens == NULL || n == 0)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "spool: put of no results");
	for (i = 0; i < n; i++)
		if (results[i] == NULL && lens[i] > 0)
			return mxs_seterr(errstr, errlen, MXS_EINVAL, "spool: result %zu is NULL",
			                  i);
	if ((rc = batch_size(lens, n, &plen, errstr, errlen)) != 0)
		return drop(sp, n, rc);
	size = MXS_SPOOL_HDR_SIZE + (uint64_t)plen;

	pthread_mutex_lock(&sp->mu);
	if (sp->st.files + sp->resv_files >= MXS_SPOOL_FILES_MAX) {
		rc = mxs_seterr(errstr, errlen, MXS_ELIMIT, "spool: full (%d files)",
		                MXS_SPOOL_FILES_MAX);
		drop_locked(sp, n, rc);
		pthread_mutex_unlock(&sp->mu);
		return rc;
	}
	if (sp->st.bytes + sp->resv_bytes + size > sp->max_bytes) {
		rc = mxs_seterr(errstr, errlen, MXS_ELIMIT,
		                "spool: full (%" PRIu64 " + %" PRIu64 " bytes > max %" PRIu64 ")",
		                sp->st.bytes + sp->resv_bytes, size, sp->max_bytes);
		drop_locked(sp, n, rc);
		pthread_mutex_unlock(&sp->mu);
		return rc;
	}
	seq = sp->next_seq++;
	sp->resv_files++;
	sp->resv_bytes += size;
	pthread_mutex_unlock(&sp->mu);

	/* The slow part (copy, write, two fsyncs) runs without the mutex. */
	rc = mxs_spool_file_build(seq, results, lens, n, plen, &img);
	if (rc != 0)
		mxs_seterr(errstr, errlen, rc, "spool: out of memory for a %" PRIu64 " byte batch",
		           size);
	else
		rc = batch_write(sp, seq, img, (size_t)size, errstr, errlen);
	free(img);

	pthread_mutex_lock(&sp->mu);
	sp->resv_files--;
	sp->resv_bytes -= size;
	if (rc == 0) {
		struct ent e = {.seq = seq, .size = size, .n = (uint32_t)n};

		if (idx_insert(sp, &e) != 0) {
			/* On disk but not indexed: take it back rather than lose track of it. */
			char name[MXS_SPOOL_FILE_NAME_LEN];

			mxs_spool_file_name(name, seq);
			unlinkat(sp->dfd, name, 0);
			rc = mxs_seterr(errstr, errlen, MXS_ENOMEM, "spool: out of memory");
		}
	}
	if (rc == 0) {
		pthread_cond_broadcast(&sp->cv);
		if (seq_out != NULL)
			*seq_out = seq;
	} else {
		drop_locked(sp, n, rc);
	}
	pthread_mutex_unlock(&sp->mu);
	return rc;
}

/* ---- oldest, ack, wait ---- */

int
mxs_spool_oldest(struct mxs_spool *sp, struct mxs_spool_batch **out, char *errstr, size_t errlen)
{
	char why[256];
	struct ent e;
	uint8_t *buf;
	size_t len;
	uint32_t n;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (sp == NULL || out == NULL)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "spool: oldest without a spool");
	pthread_mutex_lock(&sp->mu);
	for (;;) {
		if (sp->head == sp->len) {
			rc = mxs_seterr(errstr, errlen, MXS_ENOTFOUND, "spool: empty");
			break;
		}
		e = sp->ents[sp->head];
		rc = file_read(sp->dfd, e.seq, &buf, &len, why, sizeof(why));
		if (rc == MXS_ENOMEM || rc == MXS_ESYS) {
			mxs_seterr(errstr, errlen, rc, "spool: %s: %s", sp->dir, why);
			break;
		}
		if (rc == 0)
			rc = mxs_spool_file_check(buf, len, e.seq, &n, why, sizeof(why));
		if (rc == 0 && (n != e.n || len != e.size))
			rc = mxs_seterr(why, sizeof(why), MXS_ESYNTAX,
			                "changed since it was written");
		if (rc == 0) {
			if ((rc = mxs_spool_file_batch(e.seq, buf, n, out)) != 0) {
				free(buf);
				mxs_seterr(errstr, errlen, rc, "spool: out of memory");
			}
			break;
		}
		free(buf);
		/* Gone or bad: count it, set it aside, deliver the rest. */
		if (rc == MXS_ENOTFOUND) {
			sp->st.corrupt_files++;
			mxs_err("event=spool_missing dir=%s seq=%" PRIu64 " results=%" PRIu32,
			        sp->dir, e.seq, e.n);
		} else {
			quarantine(sp, e.seq, why);
		}
		idx_remove(sp, sp->head);
	}
	pthread_mutex_unlock(&sp->mu);
	return rc;
}

void
mxs_spool_batch_free(struct mxs_spool_batch **bp)
{
	struct mxs_spool_batch *b;

	if (bp == NULL || (b = *bp) == NULL)
		return;
	*bp = NULL;
	free(b->results);
	free(b->lens);
	free(b->buf_);
	free(b);
}

int
mxs_spool_ack(struct mxs_spool *sp, uint64_t seq, char *errstr, size_t errlen)
{
	char name[MXS_SPOOL_FILE_NAME_LEN];
	size_t pos;
	int rc = 0;

	if (sp == NULL)
		return mxs_seterr(errstr, errlen, MXS_EINVAL, "spool: ack without a spool");
	pthread_mutex_lock(&sp->mu);
	pos = idx_find(sp, seq);
	if (pos == sp->len) {
		rc = mxs_seterr(errstr, errlen, MXS_ENOTFOUND,
		                "spool: ack of batch %" PRIu64 " not in the spool", seq);
		goto out;
	}
	mxs_spool_file_name(name, seq);
	if (unlinkat(sp->dfd, name, 0) != 0 && errno != ENOENT) {
		rc = mxs_seterr(errstr, errlen, MXS_ESYS, "spool: unlink %s/%s: %s", sp->dir, name,
		                strerror(errno));
		goto out;
	}
	sp->st.acked_results += sp->ents[pos].n;
	idx_remove(sp, pos);
out:
	pthread_mutex_unlock(&sp->mu);
	return rc;
}

int
mxs_spool_wait(struct mxs_spool *sp, int timeout_ms)
{
	struct timespec dl;
	uint64_t gen;
	int rc = 0;

	if (sp == NULL)
		return MXS_EINVAL;
	if (timeout_ms >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += timeout_ms / 1000;
		dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&sp->mu);
	gen = sp->wake_gen;
	while (sp->head == sp->len && gen == sp->wake_gen && rc == 0) {
		if (timeout_ms < 0)
			rc = pthread_cond_wait(&sp->cv, &sp->mu);
		else
			rc = pthread_cond_timedwait(&sp->cv, &sp->mu, &dl);
	}
	rc = sp->head == sp->len ? MXS_ENOTFOUND : 0;
	pthread_mutex_unlock(&sp->mu);
	return rc;
}

void
mxs_spool_wakeup(struct mxs_spool *sp)
{
	pthread_mutex_lock(&sp->mu);
	sp->wake_gen++;
	pthread_cond_broadcast(&sp->cv);
	pthread_mutex_unlock(&sp->mu);
}

void
mxs_spool_stats(struct mxs_spool *sp, struct mxs_spool_stats *st)
{
	pthread_mutex_lock(&sp->mu);
	*st = sp->st;
	pthread_mutex_unlock(&sp->mu);
}
