/* Intel 8254 PIT. Section names refer to the Intel 8254 datasheet ("8254 Programmable
 * Interval Timer", order no. 231164): "Control Word Format", "Write Operations", "Read
 * Operations" (Counter Latch Command, Read-Back Command, Status Byte), "Mode Definitions",
 * "Operation Common to All Modes" and Figure "Gate Pin Operations Summary".
 *
 * Nothing is stepped: a channel stores when its counting element started counting (in
 * input clock ticks) and how many ticks it had counted before that, and the count, OUT and
 * the OUT0 rising edges at any later time are computed in closed form. This keeps the model
 * cheap for a guest that never looks at the timer and exactly reproducible from the times
 * the caller passes in.
 *
 * Timing conventions (the datasheet has one CLK of uncertainty depending on where the write
 * falls in a CLK period; these choices are fixed and documented instead):
 *   - a write or gate change at time t happens during tick w = ticks(t);
 *   - a count written at tick w is loaded into the counting element at tick w + 1 (the
 *     "next CLK pulse" of "Write Operations"); the first decrement is at w + 2;
 *   - hence in mode 0 OUT goes high at tick w + 1 + N, "N + 1 CLK pulses after the initial
 *     count is written" (Mode 0), and a periodic mode's first rising edge of OUT is at
 *     w + 1 + N, then every N ticks. */
#include "hostdriver/pit8254.h"

#define NS_PER_S 1000000000u

/* Control word, datasheet "Control Word Format". */
#define CW_SC(v) ((unsigned)(v) >> 6)
#define CW_RW(v) (((unsigned)(v) >> 4) & 3u)
#define CW_M(v) (((unsigned)(v) >> 1) & 7u)
#define CW_BCD 0x01
#define SC_READ_BACK 3
#define RW_LATCH 0
#define RW_LSB 1
#define RW_MSB 2
#define RW_LSB_MSB 3
/* Read-back command: D5 = /COUNT, D4 = /STATUS, D3-D1 select counters 2-0. */
#define RB_NO_COUNT 0x20
#define RB_NO_STATUS 0x10
/* Status byte: D7 OUT, D6 NULL COUNT, D5-D0 as in the control word. */
#define ST_OUT 0x80
#define ST_NULL 0x40

uint64_t pit8254_ticks(uint64_t ns) {
    return (uint64_t)(((unsigned __int128)ns * PIT_HZ) / NS_PER_S);
}

uint64_t pit8254_tick_ns(uint64_t tick) {
    unsigned __int128 ns = ((unsigned __int128)tick * NS_PER_S + PIT_HZ - 1) / PIT_HZ;
    return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

static uint32_t modulus(const struct pit8254_channel *c) {
    return c->bcd ? 10000u : 65536u;
}

static uint16_t to_bcd(uint32_t v) {
    return (uint16_t)((v % 10) | (v / 10 % 10) << 4 | (v / 100 % 10) << 8 | (v / 1000 % 10) << 12);
}

/* A count register value with BCD digits above 9 is not defined by the datasheet; such
 * digits simply keep their binary weight here. */
static uint32_t from_bcd(uint16_t v) {
    return (v & 0xFu) + ((v >> 4) & 0xFu) * 10 + ((v >> 8) & 0xFu) * 100 + (v >> 12) * 1000;
}

/* Ticks counted since the count was loaded, as of tick t. */
static uint64_t counted(const struct pit8254_channel *c, uint64_t t) {
    if (!c->running || t <= c->start_tick) return c->counted_base;
    return c->counted_base + (t - c->start_tick);
}

/* OUT at tick t, datasheet "Mode Definitions". After a control word OUT is low in mode 0
 * and high in every other mode ("Operation Common to All Modes"). */
static bool out_at(const struct pit8254_channel *c, uint64_t t) {
    if (!c->armed) return c->mode != 0;
    const uint64_t n = c->reload, k = counted(c, t);
    switch (c->mode) {
    case 0: return k >= n; /* low until terminal count, then high until reprogrammed */
    case 1:                /* low from the CLK after the trigger until terminal count */
        return !c->triggered || t < c->start_tick || k >= n;
    case 2: /* low for the one CLK in which the count is 1; GATE low forces OUT high */
        return !c->running || t < c->start_tick || k % n != n - 1;
    case 3: /* high for ceil(N/2) CLKs, low for floor(N/2); GATE low forces OUT high */
        return !c->running || t < c->start_tick || k % n < (n + 1) / 2;
    case 4: return t < c->start_tick || k != n; /* low for the one CLK at terminal count */
    default: return !c->triggered || t < c->start_tick || k != n; /* mode 5 */
    }
}

/* The count the output latch would show at tick t (already BCD encoded in BCD mode).
 *
 * Mode 3 on real hardware decrements by two ("Mode 3"): an even N shows N, N-2, ..., 2 in
 * each half period; an odd N shows N, N-1, N-3, ..., 2 in the high half (the first CLK
 * subtracts one) and N, N-3, N-5, ..., 2 in the low half (the first CLK subtracts three).
 * That is what is shown here. Modes 0, 1, 4, 5 wrap to FFFF (9999 BCD) after terminal count
 * and keep counting ("Operation Common to All Modes", Counter). */
static uint16_t count_at(const struct pit8254_channel *c, uint64_t t) {
    if (!c->armed || t < c->load_tick) return c->held;
    const uint64_t n = c->reload, k = counted(c, t), m = modulus(c);
    uint64_t v;
    switch (c->mode) {
    case 2: v = n - k % n; break;
    case 3: {
        const uint64_t p = k % n;
        if (n % 2 == 0) {
            v = n - 2 * (p % (n / 2));
        } else if (p < (n + 1) / 2) {
            v = p == 0 ? n : n + 1 - 2 * p;
        } else {
            const uint64_t j = p - (n + 1) / 2;
            v = j == 0 ? n : n - 1 - 2 * j;
        }
        break;
    }
    default: v = n + m - k % m; break; /* modes 0, 1, 4, 5 */
    }
    v %= m;
    return c->bcd ? to_bcd((uint32_t)v) : (uint16_t)v;
}

static uint8_t status_at(const struct pit8254_channel *c, uint64_t t) {
    /* NULL COUNT is 1 from a control word or count write until the count register has
     * been loaded into the counting element ("Status Byte", Figure "Null Count Operation"). */
    const bool null_count = !c->armed || t < c->load_tick;
    return (uint8_t)((out_at(c, t) ? ST_OUT : 0) | (null_count ? ST_NULL : 0) | c->rw << 4 |
                     c->mode_bits << 1 | c->bcd);
}

/* The one rising edge of OUT a one-shot configuration (modes 0, 1, 4, 5) will have, as a
 * tick, or UINT64_MAX. Mode 0 rises at terminal count; modes 4 and 5 rise one CLK after it;
 * mode 1 rises at terminal count after a trigger. A paused count (GATE low in modes 0 and
 * 4) has no edge until the gate changes, which is a new configuration. */
static uint64_t oneshot_edge(const struct pit8254_channel *c) {
    const uint64_t n = c->reload, s = c->start_tick, b = c->counted_base;
    switch (c->mode) {
    case 0: return c->running && b < n ? s + (n - b) : UINT64_MAX;
    case 1: return c->triggered ? s + n : UINT64_MAX;
    case 4: return c->running && b <= n ? s + (n + 1 - b) : UINT64_MAX;
    default: return c->triggered ? s + n + 1 : UINT64_MAX; /* mode 5 */
    }
}

static bool periodic(const struct pit8254_channel *c) {
    return c->mode == 2 || c->mode == 3;
}

/* Number of rising edges of OUT at ticks in (start_tick, x] for the channel's present
 * configuration. Every change of configuration happens at a tick before start_tick (or
 * makes the channel stop), and channel 0's edges are banked before each change, so
 * differences of this function are the edges in an interval. */
static uint64_t rises_upto(const struct pit8254_channel *c, uint64_t x) {
    if (!c->armed) return 0;
    if (periodic(c)) {
        /* A count of 1 is illegal in modes 2 and 3 ("Mode 2", "Mode 3"); here OUT then
         * stays constant and there is no edge. */
        if (!c->running || c->reload < 2 || x <= c->start_tick) return 0;
        return (x - c->start_tick) / c->reload;
    }
    return x >= oneshot_edge(c) ? 1 : 0;
}

/* The first tick after `after` with a rising edge of OUT, or UINT64_MAX. */
static uint64_t next_rise(const struct pit8254_channel *c, uint64_t after) {
    if (!c->armed) return UINT64_MAX;
    if (periodic(c)) {
        if (!c->running || c->reload < 2) return UINT64_MAX;
        return c->start_tick + (rises_upto(c, after) + 1) * c->reload;
    }
    const uint64_t e = oneshot_edge(c);
    return e > after ? e : UINT64_MAX;
}

/* Channel 0 drives IRQ0: before it changes, bank the edges up to now; after, count the
 * edge the change itself may cause (e.g. a control word takes OUT high at once). */
static bool irq0_begin(struct pit8254 *p, int ch, uint64_t now_ns) {
    if (ch != 0) return true;
    if (now_ns > p->irq0_seen_ns) {
        uint64_t e = rises_upto(&p->ch[0], pit8254_ticks(now_ns)) -
                     rises_upto(&p->ch[0], pit8254_ticks(p->irq0_seen_ns));
        p->irq0_pending =
            e > UINT32_MAX - p->irq0_pending ? UINT32_MAX : p->irq0_pending + (unsigned)e;
        p->irq0_seen_ns = now_ns;
    }
    return out_at(&p->ch[0], pit8254_ticks(now_ns));
}

static void irq0_end(struct pit8254 *p, int ch, bool out_before, uint64_t now_ns) {
    if (ch != 0) return;
    if (!out_before && out_at(&p->ch[0], pit8254_ticks(now_ns)) && p->irq0_pending < UINT32_MAX)
        p->irq0_pending++;
}

void pit8254_init(struct pit8254 *p, uint64_t now_ns) {
    /* The 8254's state after power-on is undefined ("Operation Common to All Modes"):
     * nothing counts until a control word and a count are written (a BIOS would program
     * channel 0 for 18.2 Hz; there is none). Channel 2's gate is port 0x61 bit 0, which
     * resets to 0. */
    *p = (struct pit8254){.irq0_seen_ns = now_ns};
    for (int i = 0; i < 3; i++) {
        p->ch[i] = (struct pit8254_channel){.mode = 3,
                                            .mode_bits = 3,
                                            .rw = RW_LSB_MSB,
                                            .gate = i != 2,
                                            .reload = 65536,
                                            .load_tick = UINT64_MAX};
    }
}

/* The count register is complete: datasheet "Write Operations" and each mode's text. */
static void load_count(struct pit8254_channel *c, uint16_t cr, uint64_t w) {
    c->held = count_at(c, w);
    c->reload = cr == 0 ? modulus(c) : c->bcd ? from_bcd(cr) : cr;
    if (c->mode == 1 || c->mode == 5) {
        /* Loaded only by a GATE trigger. A count written during a one-shot applies to the
         * running one here, not only to the next trigger (simplification). */
        if (!c->armed || !c->triggered) {
            c->triggered = 0;
            c->running = 0;
            c->load_tick = UINT64_MAX;
        }
        c->armed = 1;
        return;
    }
    /* Modes 0 and 4 restart with the new count on the next CLK. In modes 2 and 3 the
     * datasheet applies a new count at the end of the current period (half period in
     * mode 3); here it restarts the period on the next CLK (simplification; guests write a
     * control word first anyway). */
    c->armed = 1;
    c->start_tick = w + 1;
    c->load_tick = w + 1;
    c->counted_base = 0;
    c->running = c->gate;
}

static void latch_count(struct pit8254_channel *c, uint64_t t) {
    /* A second latch before the first is read is ignored ("Counter Latch Command"). */
    if (c->latch_bytes) return;
    c->latch = count_at(c, t);
    c->latch_bytes = c->rw == RW_LSB_MSB ? 2 : 1;
}

void pit8254_write(struct pit8254 *p, uint16_t port, uint8_t v, uint64_t now_ns) {
    const uint64_t t = pit8254_ticks(now_ns);
    const unsigned reg = port & 3u;
    if (reg == 3) {
        const unsigned sc = CW_SC(v);
        if (sc == SC_READ_BACK) {
            /* Read-back ("Read-Back Command"): latches of already latched values are
             * ignored, so the first latched value is what is read. */
            for (unsigned i = 0; i < 3; i++) {
                struct pit8254_channel *c = &p->ch[i];
                if (!(v & (2u << i))) continue;
                if (!(v & RB_NO_COUNT)) latch_count(c, t);
                if (!(v & RB_NO_STATUS) && !c->status_latched) {
                    c->status = status_at(c, t);
                    c->status_latched = 1;
                }
            }
            return;
        }
        struct pit8254_channel *c = &p->ch[sc];
        if (CW_RW(v) == RW_LATCH) {
            latch_count(c, t);
            return;
        }
        const bool before = irq0_begin(p, (int)sc, now_ns);
        c->held = count_at(c, t);
        c->mode_bits = (uint8_t)CW_M(v);
        c->mode = c->mode_bits >= 6 ? (uint8_t)(c->mode_bits - 4) : c->mode_bits;
        c->rw = (uint8_t)CW_RW(v);
        c->bcd = (v & CW_BCD) != 0;
        c->armed = 0;
        c->running = 0;
        c->triggered = 0;
        c->counted_base = 0;
        c->load_tick = UINT64_MAX;
        c->write_msb = 0;
        c->read_msb = 0;
        c->latch_bytes = 0;
        c->status_latched = 0;
        irq0_end(p, (int)sc, before, now_ns);
        return;
    }
    struct pit8254_channel *c = &p->ch[reg];
    const bool before = irq0_begin(p, (int)reg, now_ns);
    switch (c->rw) {
    case RW_LSB: load_count(c, v, t); break;
    case RW_MSB: load_count(c, (uint16_t)(v << 8), t); break;
    default:
        if (!c->write_msb) {
            c->cr_lsb = v;
            c->write_msb = 1;
            if (c->mode == 0) {
                /* "Writing the first byte disables counting" and OUT goes low (Mode 0). */
                c->held = count_at(c, t);
                c->armed = 0;
                c->running = 0;
                c->load_tick = UINT64_MAX;
            }
        } else {
            c->write_msb = 0;
            load_count(c, (uint16_t)(c->cr_lsb | v << 8), t);
        }
        break;
    }
    irq0_end(p, (int)reg, before, now_ns);
}

uint8_t pit8254_read(struct pit8254 *p, uint16_t port, uint64_t now_ns) {
    const unsigned reg = port & 3u;
    if (reg == 3) return 0xFF; /* the control word register cannot be read */
    struct pit8254_channel *c = &p->ch[reg];
    if (c->status_latched) {
        /* Status first when both are latched ("Read-Back Command"). */
        c->status_latched = 0;
        return c->status;
    }
    uint16_t v;
    if (c->latch_bytes) {
        v = c->latch;
        c->latch_bytes--;
    } else {
        v = count_at(c, pit8254_ticks(now_ns));
    }
    switch (c->rw) {
    case RW_LSB: return (uint8_t)v;
    case RW_MSB: return (uint8_t)(v >> 8);
    default: c->read_msb ^= 1; return c->read_msb ? (uint8_t)v : (uint8_t)(v >> 8);
    }
}

void pit8254_set_gate(struct pit8254 *p, int channel, bool gate, uint64_t now_ns) {
    if (channel < 0 || channel > 2) return;
    struct pit8254_channel *c = &p->ch[channel];
    if ((c->gate != 0) == gate) return;
    const uint64_t g = pit8254_ticks(now_ns);
    const bool before = irq0_begin(p, channel, now_ns);
    /* Figure "Gate Pin Operations Summary": modes 0 and 4 count only while GATE is high;
     * modes 2 and 3 stop while it is low (OUT high) and reload on the rising edge; modes 1
     * and 5 are triggered by the rising edge and ignore the level. */
    c->gate = gate;
    switch (c->mode) {
    case 0:
    case 4:
        if (!gate) {
            c->counted_base = counted(c, g);
            c->running = 0;
        } else if (c->armed) {
            if (c->start_tick < g) c->start_tick = g;
            c->running = 1;
        }
        break;
    case 2:
    case 3:
        if (!gate) {
            c->counted_base = counted(c, g);
            c->running = 0;
        } else if (c->armed) {
            c->start_tick = g + 1;
            c->counted_base = 0;
            c->running = 1;
        }
        break;
    default:
        if (gate && c->armed) {
            c->triggered = 1;
            c->running = 1;
            c->start_tick = g + 1;
            c->load_tick = g + 1;
            c->counted_base = 0;
        }
        break;
    }
    irq0_end(p, channel, before, now_ns);
}

bool pit8254_out(const struct pit8254 *p, int channel, uint64_t now_ns) {
    if (channel < 0 || channel > 2) return false;
    return out_at(&p->ch[channel], pit8254_ticks(now_ns));
}

unsigned pit8254_irq0_edges(struct pit8254 *p, uint64_t now_ns) {
    (void)irq0_begin(p, 0, now_ns);
    const unsigned n = p->irq0_pending;
    p->irq0_pending = 0;
    return n;
}

uint64_t pit8254_next_irq0_ns(const struct pit8254 *p, uint64_t now_ns) {
    const uint64_t k = next_rise(&p->ch[0], pit8254_ticks(now_ns));
    return k == UINT64_MAX ? UINT64_MAX : pit8254_tick_ns(k);
}
