/* Guest time (see hv/clock.h). */
#include "hv/clock.h"

#include <time.h>

#include "hv/machine.h"

static uint64_t host_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void clock_init(struct machine *m, enum clock_mode mode) {
    m->clock.mode = mode;
    m->clock.host_base = host_ns();
    m->clock.idle_ns = 0;
    m->clock.tsc_offset = 0;
}

uint64_t clock_now_ns(struct machine *m) {
    if (m->clock.mode == CLOCK_VIRTUAL)
        return m->cpu.icount * VIRTUAL_NS_PER_INSN + m->clock.idle_ns;
    return host_ns() - m->clock.host_base;
}

void clock_idle_until(struct machine *m, uint64_t deadline_ns) {
    uint64_t now = clock_now_ns(m);
    if (deadline_ns <= now) return;
    if (m->clock.mode == CLOCK_VIRTUAL) {
        if (deadline_ns != UINT64_MAX) m->clock.idle_ns += deadline_ns - now;
        return;
    }
    uint64_t d = deadline_ns - now;
    if (d > 50000000ull) d = 50000000ull; /* wake at least every 50 ms to poll input */
    struct timespec ts = {(time_t)(d / 1000000000ull), (long)(d % 1000000000ull)};
    nanosleep(&ts, NULL);
}

uint64_t clock_tsc(struct machine *m) {
    return clock_now_ns(m) + m->clock.tsc_offset;
}

void clock_set_tsc(struct machine *m, uint64_t tsc) {
    m->clock.tsc_offset = tsc - clock_now_ns(m);
}
