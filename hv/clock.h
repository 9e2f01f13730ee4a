/* Guest time. By default the PIT, the RTC and the TSC follow the host's monotonic clock;
 * with --clock=virtual they are derived from the instruction count (plus the time the
 * guest spent halted, skipped deterministically to the next timer event), so that a run
 * is reproducible without recording. Device models only ever see the nanoseconds this
 * returns. */
#ifndef RRVM_HV_CLOCK_H
#define RRVM_HV_CLOCK_H

#include <stdint.h>

struct machine;

enum clock_mode { CLOCK_HOST, CLOCK_VIRTUAL };

/* Virtual time per retired instruction (a 1 GHz, 1-IPC guest). */
#define VIRTUAL_NS_PER_INSN 1
/* The guest TSC ticks at 1 GHz in both modes: TSC = guest nanoseconds + offset. */
#define GUEST_TSC_HZ 1000000000ull

void clock_init(struct machine *m, enum clock_mode mode);
/* Guest nanoseconds since power-on. */
uint64_t clock_now_ns(struct machine *m);
/* The guest is halted until deadline_ns (UINT64_MAX: until input): waits on the host
 * (host clock) or jumps time forward (virtual clock). */
void clock_idle_until(struct machine *m, uint64_t deadline_ns);
uint64_t clock_tsc(struct machine *m);
void clock_set_tsc(struct machine *m, uint64_t tsc);

#endif
