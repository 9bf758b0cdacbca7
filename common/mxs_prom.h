/*
 * mxs_prom — pieces of the Prometheus text format (0.0.4) both daemons'
 * /metrics use: the HELP/TYPE head and a latency histogram kept in
 * relaxed atomics (a scrape may see one bucket a little ahead of another,
 * never a torn value).
 */
#ifndef MXS_PROM_H
#define MXS_PROM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* "# HELP name help" and "# TYPE name type". */
void mxs_prom_head(FILE *out, const char *name, const char *type, const char *help);

/*
 * A histogram over n bounds (ms, ascending): buckets has n + 1 counters,
 * per bucket (not cumulative), the last one +Inf; sum_us the sum of the
 * observations in microseconds.  Negative or NaN observations count as 0
 * (a clock step).
 */
void mxs_prom_hist_observe(_Atomic uint64_t *buckets, const double *bounds_ms, size_t n,
                           _Atomic uint64_t *sum_us, _Atomic uint64_t *count, double ms);

/* Render it as name_bucket{le=SECONDS}, name_sum (seconds), name_count. */
void mxs_prom_hist_render(FILE *out, const char *name, const char *help,
                          const _Atomic uint64_t *buckets, const double *bounds_ms, size_t n,
                          const _Atomic uint64_t *sum_us);

#endif
