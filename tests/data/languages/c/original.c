#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bounded log of readings for one sensor. */
struct sensor_log {
    double *values;
    size_t count;
    size_t capacity;
};

int log_record(struct sensor_log *log, double value)
{
    /* Drop the oldest reading once the log is full. */
    if (log->count == log->capacity) {
        memmove(log->values, log->values + 1, (log->capacity - 1) * sizeof(double));
        log->count--;
    }
    log->values[log->count++] = value;
    return (int) log->count;
}

/* Count readings per bucket of width, skipping outliers. */
int bucket_counts(const double *values, size_t n, double width, int *counts, int nbuckets)
{
    int total = 0;
    size_t i;
    memset(counts, 0, nbuckets * sizeof(int));
    for (i = 0; i < n; i++) {
        // Negative readings come from a disconnected probe.
        if (values[i] < 0.0 || values[i] >= width * nbuckets) {
            continue;
        }
        counts[(int) (values[i] / width)] += 1;
        total++;
    }
    if (total == 0) {
        fprintf(stderr, "no readings\n");
        return -1;
    }
    int best = 0;
    for (int b = 1; b < nbuckets; b++) {
        if (counts[b] > counts[best]) {
            best = b;
        }
    }
    printf("peak at %.1f (%d of %d)\n", best * width, counts[best], total);
    return best;
}
