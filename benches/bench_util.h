/* The timing and table helpers that benches/bench.c and benches/remote.c share, so that both
 * measure and print alike: the clock, median and minimum of the samples, the load average, and
 * one table row (name, ns/op, min, ratio, target, verdict) in the column layout of `make bench`.
 * Header-only (static inline): each program keeps its own failure count. */
#ifndef PM_BENCH_UTIL_H
#define PM_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The most samples median() sorts; more are cut to this many. */
#define BENCH_MAX_SAMPLES 256

/* Rows that failed their target (pass 0 or 2 in bench_row) in this program. */
static int bench_failures;

/* CLOCK_MONOTONIC, in ns. */
static inline double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (of the first BENCH_MAX_SAMPLES); v is left as it is. */
static inline double median(const double *v, int n) {
    double tmp[BENCH_MAX_SAMPLES];
    if (n > BENCH_MAX_SAMPLES) n = BENCH_MAX_SAMPLES;
    memcpy(tmp, v, sizeof(double) * (size_t)n);
    qsort(tmp, (size_t)n, sizeof(double), bench_cmp_double);
    return (n & 1) ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
}

/* The least of v[0..n), n >= 1. */
static inline double minimum(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] < m) m = v[i];
    return m;
}

/* The 1-minute load average from /proc/loadavg; -1 if it cannot be read. */
static inline double load_average(void) {
    double load1 = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load1) != 1) load1 = -1;
        fclose(f);
    }
    return load1;
}

/* One table row. ns < 0: "-"; min < 0: no min; ratio <= 0: no ratio. pass: 1 PASS, 0 FAIL,
 * -1 informational (no verdict); +2: the machine could not give the case what it needs (the
 * verdict gets a '?'). A FAIL counts in bench_failures. */
static inline void bench_row(const char *name, double ns, double min, double ratio,
                             const char *target, int pass) {
    char r[48] = "", nsbuf[32] = "-", minbuf[32] = "";
    if (ratio > 0) snprintf(r, sizeof r, "%.2fx", ratio);
    if (ns >= 0) snprintf(nsbuf, sizeof nsbuf, "%.1f", ns);
    if (min >= 0) snprintf(minbuf, sizeof minbuf, "%.1f", min);
    static const char *const verdict[] = {"FAIL", "PASS", "FAIL?", "PASS?"};
    printf("%-54s %10s %9s %9s  %-38s %s\n", name, nsbuf, minbuf, r, target,
           pass < 0 ? "" : verdict[pass]);
    if (pass == 0 || pass == 2) bench_failures++;
}

/* A section title line of the table. */
static inline void section(const char *title) { printf("-- %s\n", title); }

#endif
