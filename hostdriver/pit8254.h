/* Intel 8254 programmable interval timer at ports 0x40-0x43, clocked at 1193182 Hz as in
 * the PC. The caller owns time: every entry point takes the current guest time in
 * nanoseconds and the model never reads a host clock, so its behaviour is a pure function
 * of the sequence of calls. Names follow the Intel 8254 datasheet (order no. 231164). */
#ifndef RRVM_HOSTDRIVER_PIT8254_H
#define RRVM_HOSTDRIVER_PIT8254_H

#include <stdbool.h>
#include <stdint.h>

#define PIT_HZ 1193182u

#define PIT8254_CHANNEL0 0x40
#define PIT8254_CHANNEL1 0x41
#define PIT8254_CHANNEL2 0x42
#define PIT8254_CONTROL 0x43

/* Times inside a channel are in input clock ticks: tick k is the k-th rising CLK edge since
 * time 0, at ceil(k * 1e9 / PIT_HZ) ns. */
struct pit8254_channel {
    uint8_t mode;        /* 0-5; 6 and 7 are folded to 2 and 3 */
    uint8_t mode_bits;   /* M2-M0 as programmed, for the status byte */
    uint8_t bcd;         /* count in BCD (4 decades) */
    uint8_t rw;          /* RW1-RW0: 1 LSB, 2 MSB, 3 LSB then MSB */
    uint8_t write_msb;   /* write flip-flop: the next count byte is the MSB */
    uint8_t read_msb;    /* read flip-flop: the next byte read is the MSB */
    uint8_t cr_lsb;      /* LSB written, waiting for the MSB */
    uint8_t armed;       /* a count has been written since the control word */
    uint8_t running;     /* the counting element is decrementing (see counted ticks) */
    uint8_t triggered;   /* modes 1 and 5: a gate trigger started the count */
    uint8_t gate;        /* GATE input level */
    uint8_t latch_bytes; /* bytes of the count latch still to be read (0: none latched) */
    uint8_t status_latched;
    uint8_t status;        /* status latch (read-back command) */
    uint16_t latch;        /* count latch, as the output latch shows it */
    uint16_t held;         /* what the counter shows while it has no count loaded */
    uint32_t reload;       /* initial count N, 1..65536 (binary) or 1..10000 (BCD) */
    uint64_t start_tick;   /* counting (re)started here: first decrement at start_tick + 1 */
    uint64_t counted_base; /* ticks counted before start_tick since the count was loaded */
    uint64_t load_tick;    /* the count register reaches the counting element here */
};

struct pit8254 {
    struct pit8254_channel ch[3];
    uint64_t irq0_seen_ns; /* now_ns of the last pit8254_irq0_edges or channel 0 change */
    unsigned irq0_pending; /* OUT0 rising edges before irq0_seen_ns not yet returned */
};

void pit8254_init(struct pit8254 *p, uint64_t now_ns);
/* port is 0x40-0x43 */
uint8_t pit8254_read(struct pit8254 *p, uint16_t port, uint64_t now_ns);
void pit8254_write(struct pit8254 *p, uint16_t port, uint8_t v, uint64_t now_ns);
/* Channel 2's gate is port 0x61 bit 0; channels 0 and 1 have their gate tied high. */
void pit8254_set_gate(struct pit8254 *p, int channel, bool gate, uint64_t now_ns);
/* OUT pin level at now_ns (port 0x61 bit 5 shows OUT2). */
bool pit8254_out(const struct pit8254 *p, int channel, uint64_t now_ns);
/* IRQ0 is OUT0. Returns how many rising edges of OUT0 happened in (last call's now_ns,
 * now_ns] and remembers now_ns. */
unsigned pit8254_irq0_edges(struct pit8254 *p, uint64_t now_ns);
/* The earliest time > now_ns at which OUT0 has a rising edge, or UINT64_MAX if none will
 * come (unless the guest reprograms the timer). */
uint64_t pit8254_next_irq0_ns(const struct pit8254 *p, uint64_t now_ns);

/* Tick/time conversion: floor(ns * PIT_HZ / 1e9), and the first ns at which tick k has
 * happened (UINT64_MAX if beyond the range of ns). */
uint64_t pit8254_ticks(uint64_t ns);
uint64_t pit8254_tick_ns(uint64_t tick);

#endif
