/* mxs_prom — see mxs_prom.h. */
#include "mxs_prom.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void
mxs_prom_head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
mxs_prom_hist_observe(_Atomic uint64_t *buckets, const double *bounds_ms, size_t n,
                      _Atomic uint64_t *sum_us, _Atomic uint64_t *count, double ms)
{
	size_t i;
	double us;

	if (!(ms >= 0))
		ms = 0;
	for (i = 0; i < n; i++)
		if (ms <= bounds_ms[i])
			break;
	atomic_fetch_add_explicit(&buckets[i], 1, memory_order_relaxed);
	us = ms * 1000.0 + 0.5;
	atomic_fetch_add_explicit(sum_us, us >= 1e18 ? (uint64_t)1e18 : (uint64_t)us,
	                          memory_order_relaxed);
	atomic_fetch_add_explicit(count, 1, memory_order_relaxed);
}

void
mxs_prom_hist_render(FILE *out, const char *name, const char *help, const _Atomic uint64_t *buckets,
                     const double *bounds_ms, size_t n, const _Atomic uint64_t *sum_us)
{
	uint64_t cum = 0;

	mxs_prom_head(out, name, "histogram", help);
	for (size_t i = 0; i < n; i++) {
		cum += LOAD(buckets[i]);
		fprintf(out, "%s_bucket{le=\"%g\"} %llu\n", name, bounds_ms[i] / 1000.0,
		        (unsigned long long)cum);
	}
	cum += LOAD(buckets[n]);
	fprintf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	fprintf(out, "%s_sum %.6f\n", name, (double)LOAD(*sum_us) / 1e6);
	/* _count equals the +Inf bucket by definition; a scrape racing an
	 * observation could otherwise see them one apart. */
	fprintf(out, "%s_count %llu\n", name, (unsigned long long)cum);
}
