/* Motorola MC146818A real-time clock and CMOS RAM at ports 0x70 (index) / 0x71 (data).
 * Deterministic: time is an argument in nanoseconds, never read from the host. */
#ifndef RRVM_HOSTDRIVER_RTC146818_H
#define RRVM_HOSTDRIVER_RTC146818_H

#include <stdbool.h>
#include <stdint.h>

#define RTC146818_INDEX_PORT 0x70
#define RTC146818_DATA_PORT 0x71

/* A broken-down UTC time, binary, full year; dow 1-7 with Sunday = 1 (register 6). */
struct rtc146818_time {
    int64_t year;
    int month, day, hour, minute, second, dow;
};

struct rtc146818 {
    uint8_t cmos[128];    /* RAM; 0x0A/0x0B hold registers A/B, 0x01/0x03/0x05 the alarm */
    uint8_t index;        /* last index written to port 0x70, bits 0-6 */
    bool nmi_masked;      /* port 0x70 bit 7 (on a PC it gates NMI, not part of the RTC) */
    int64_t base_epoch_s; /* wall clock (UTC seconds since 1970) at base_ns */
    uint64_t base_ns;     /* second boundaries fall on base_ns + k * 1e9 */
    int64_t offset_s;     /* guest adjustments of the clock, in seconds */
    uint8_t dow_offset;   /* guest adjustment of the day-of-week register, 0-6 */
    bool held;            /* SET bit on: the registers are frozen in held_time */
    struct rtc146818_time held_time;
    uint8_t flags;    /* register C PF | AF | UF, accumulated up to last_ns */
    uint64_t last_ns; /* flags have been evaluated up to this time */
};

/* The wall clock reads epoch_seconds_at_base (UTC) at time base_ns; ram_bytes is the guest
 * RAM size for the memory-size bytes of the CMOS RAM. */
void rtc146818_init(struct rtc146818 *r, int64_t epoch_seconds_at_base, uint64_t base_ns,
                    uint32_t ram_bytes);
uint8_t rtc146818_read(struct rtc146818 *r, uint16_t port, uint64_t now_ns);
void rtc146818_write(struct rtc146818 *r, uint16_t port, uint8_t v, uint64_t now_ns);
/* IRQ8 line level: register C IRQF. */
bool rtc146818_irq(struct rtc146818 *r, uint64_t now_ns);
/* Next time after now_ns at which an enabled (PIE/AIE/UIE) flag can rise; UINT64_MAX if no
 * interrupt is enabled. */
uint64_t rtc146818_next_event_ns(const struct rtc146818 *r, uint64_t now_ns);

/* Calendar helpers (proleptic Gregorian, UTC), exposed for tests. */
int64_t rtc146818_days_from_civil(int64_t year, int month, int day);
void rtc146818_civil_from_days(int64_t days, int64_t *year, int *month, int *day);

#endif
