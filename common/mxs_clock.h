/* mxs_clock — the two clocks every daemon reads. */
#ifndef MXS_CLOCK_H
#define MXS_CLOCK_H

#include <stdint.h>

/* Milliseconds on the monotonic clock, for measuring and scheduling. */
uint64_t mxs_now_ms(void);
/* Milliseconds since the Unix epoch, for timestamps. */
int64_t mxs_wall_ms(void);

#endif
