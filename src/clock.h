/* The two clocks the service reads: monotonic time for deadlines and durations, wall-clock
 * time for what it stores and returns. */
#ifndef LEADLISTS_CLOCK_H
#define LEADLISTS_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds: deadlines, pauses, how long something took. */
int64_t clock_mono_ms(void);

/* CLOCK_MONOTONIC in microseconds, for durations logged with a fraction of a millisecond. */
int64_t clock_mono_us(void);

/* Milliseconds since the Unix epoch (UTC): createdAt, updatedAt, list ids. */
int64_t clock_wall_ms(void);

#endif
