/* MC146818A real-time clock + CMOS RAM (Motorola MC146818A datasheet; register sections
 * "Register A" .. "Register D", "Address Map", Table 4 "Periodic Interrupt Rate").
 *
 * The time registers are not stored: they are computed from the wall clock
 *     base_epoch_s + offset_s + floor((now_ns - base_ns) / 1e9)
 * so a run that feeds the same now_ns values reads the same registers (record/replay).
 * Flags in register C are evaluated lazily: every access first accounts for the periodic
 * ticks and second boundaries between last_ns and now_ns. Second boundaries fall on
 * base_ns + k * 1e9 and the 32.768 kHz divider chain is in phase with them, as on a chip
 * whose divider was released from reset on a second. */
#include "hostdriver/rtc146818.h"

#include <string.h>

#define NS_PER_S 1000000000ull
#define OSC_HZ 32768ull
#define UIP_WINDOW_NS 244000ull /* tBUC, datasheet Table 6: UIP rises 244 us before update */

enum {
    REG_SEC = 0x00,
    REG_SEC_ALARM = 0x01,
    REG_MIN = 0x02,
    REG_MIN_ALARM = 0x03,
    REG_HOUR = 0x04,
    REG_HOUR_ALARM = 0x05,
    REG_DOW = 0x06,
    REG_DAY = 0x07,
    REG_MONTH = 0x08,
    REG_YEAR = 0x09,
    REG_A = 0x0A,
    REG_B = 0x0B,
    REG_C = 0x0C,
    REG_D = 0x0D,
    CMOS_CENTURY = 0x32, /* IBM PC AT BIOS convention, not part of the chip */
};

#define A_UIP 0x80
#define A_DV_MASK 0x70
#define A_RS_MASK 0x0F
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_SQWE 0x08
#define B_DM 0x04 /* 1 = binary, 0 = BCD */
#define B_24H 0x02
#define B_DSE 0x01
#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10
#define D_VRT 0x80

/* ---- calendar --------------------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

static int64_t floor_mod(int64_t a, int64_t b) {
    return a - floor_div(a, b) * b;
}

static bool is_leap(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 0001-01-01 to January 1st of year y (Gregorian: a leap day every 4 years, but
 * not every 100, but again every 400). */
static int64_t days_before_year(int64_t y) {
    const int64_t p = y - 1;
    return 365 * p + floor_div(p, 4) - floor_div(p, 100) + floor_div(p, 400);
}

#define DAYS_0001_TO_1970 719162 /* days_before_year(1970) */

static const int cum_days[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

int64_t rtc146818_days_from_civil(int64_t year, int month, int day) {
    /* Normalise an out-of-range month into the year, so that guest-written nonsense still
     * gives some date rather than an out-of-bounds table access. */
    year += floor_div(month - 1, 12);
    month = (int)floor_mod(month - 1, 12) + 1;
    int64_t d = days_before_year(year) - DAYS_0001_TO_1970 + cum_days[month - 1] + day - 1;
    if (month > 2 && is_leap(year)) d++;
    return d;
}

void rtc146818_civil_from_days(int64_t days, int64_t *year, int *month, int *day) {
    const int64_t n = days + DAYS_0001_TO_1970; /* days since 0001-01-01 */
    /* 146097 days per 400 years gives a guess within one year; fix it up. */
    int64_t y = floor_div(n * 400, 146097) + 1;
    while (days_before_year(y) > n)
        y--;
    while (days_before_year(y + 1) <= n)
        y++;
    int doy = (int)(n - days_before_year(y)); /* 0-based */
    int m = 12;
    while (m > 1) {
        int start = cum_days[m - 1] + ((m > 2 && is_leap(y)) ? 1 : 0);
        if (doy >= start) {
            doy -= start;
            break;
        }
        m--;
    }
    *year = y;
    *month = m;
    *day = doy + 1;
}

/* ---- clock ------------------------------------------------------------------------------ */

/* Nanoseconds since base_ns; times before the base count as the base itself. */
static uint64_t elapsed_ns(const struct rtc146818 *r, uint64_t now_ns) {
    return now_ns > r->base_ns ? now_ns - r->base_ns : 0;
}

/* 32.768 kHz oscillator ticks since base_ns (split to avoid overflowing 64 bits). */
static uint64_t osc_ticks(const struct rtc146818 *r, uint64_t now_ns) {
    const uint64_t e = elapsed_ns(r, now_ns);
    return (e / NS_PER_S) * OSC_HZ + (e % NS_PER_S) * OSC_HZ / NS_PER_S;
}

/* The first time (absolute ns) at which osc_ticks reaches t. */
static uint64_t ticks_to_ns(const struct rtc146818 *r, uint64_t t) {
    const uint64_t q = t / OSC_HZ, rem = t % OSC_HZ;
    return r->base_ns + q * NS_PER_S + (rem * NS_PER_S + OSC_HZ - 1) / OSC_HZ;
}

/* The wall clock in seconds as the guest sees it (ignoring SET). */
static int64_t clock_s(const struct rtc146818 *r, uint64_t now_ns) {
    return r->base_epoch_s + r->offset_s + (int64_t)(elapsed_ns(r, now_ns) / NS_PER_S);
}

static struct rtc146818_time time_from_seconds(const struct rtc146818 *r, int64_t s) {
    struct rtc146818_time t;
    const int64_t days = floor_div(s, 86400), tod = floor_mod(s, 86400);
    rtc146818_civil_from_days(days, &t.year, &t.month, &t.day);
    t.hour = (int)(tod / 3600);
    t.minute = (int)(tod / 60 % 60);
    t.second = (int)(tod % 60);
    /* 1970-01-01 was a Thursday; register 6 counts Sunday = 1. */
    t.dow = (int)floor_mod(days + 4 + r->dow_offset, 7) + 1;
    return t;
}

static struct rtc146818_time current_time(const struct rtc146818 *r, uint64_t now_ns) {
    if (r->held) return r->held_time;
    return time_from_seconds(r, clock_s(r, now_ns));
}

/* Make the running clock show t at now_ns, keeping the sub-second phase (the divider chain
 * keeps running while SET is on, only the update is inhibited). */
static void apply_time(struct rtc146818 *r, const struct rtc146818_time *t, uint64_t now_ns) {
    const int64_t days = rtc146818_days_from_civil(t->year, t->month, t->day);
    const int64_t s = days * 86400 + (int64_t)t->hour * 3600 + t->minute * 60 + t->second;
    r->offset_s = s - (r->base_epoch_s + (int64_t)(elapsed_ns(r, now_ns) / NS_PER_S));
    /* The day-of-week register is an independent counter on the chip: keep what the guest
     * wrote relative to the computed day. */
    r->dow_offset = 0;
    const int computed = time_from_seconds(r, s).dow;
    r->dow_offset = (uint8_t)floor_mod(t->dow - computed, 7);
}

/* ---- register encoding ------------------------------------------------------------------- */

static bool binary_mode(const struct rtc146818 *r) {
    return (r->cmos[REG_B] & B_DM) != 0;
}

/* Data mode (register B DM, datasheet "Time, Calendar and Alarm Locations"): BCD or binary. */
static uint8_t enc(const struct rtc146818 *r, int v) {
    if (binary_mode(r)) return (uint8_t)v;
    return (uint8_t)(((v / 10) % 10) << 4 | (v % 10));
}

static int dec(const struct rtc146818 *r, uint8_t v) {
    if (binary_mode(r)) return v;
    return (v >> 4) * 10 + (v & 0x0F);
}

/* Hours: 0-23 in 24-hour mode, else 1-12 with bit 7 = PM (register B bit 1). */
static uint8_t enc_hour(const struct rtc146818 *r, int h) {
    if (r->cmos[REG_B] & B_24H) return enc(r, h);
    const int h12 = h % 12 == 0 ? 12 : h % 12;
    return (uint8_t)(enc(r, h12) | (h >= 12 ? 0x80 : 0));
}

static int dec_hour(const struct rtc146818 *r, uint8_t v) {
    if (r->cmos[REG_B] & B_24H) return dec(r, v);
    return dec(r, v & 0x7F) % 12 + ((v & 0x80) ? 12 : 0);
}

/* ---- alarm --------------------------------------------------------------------------------- */

/* An alarm byte with its two top bits set is "don't care" (datasheet "Alarm" section). */
static bool alarm_field_matches(uint8_t alarm, uint8_t value) {
    return (alarm & 0xC0) == 0xC0 || alarm == value;
}

/* The first clock second after from_s whose hh:mm:ss matches the alarm registers, or
 * INT64_MAX if none does within a day (an alarm value that can never match). Skips whole
 * hours and minutes that cannot match, so it costs at most a few thousand steps. */
static int64_t alarm_next(const struct rtc146818 *r, int64_t from_s) {
    const uint8_t as = r->cmos[REG_SEC_ALARM], am = r->cmos[REG_MIN_ALARM],
                  ah = r->cmos[REG_HOUR_ALARM];
    int64_t s = from_s + 1;
    while (s <= from_s + 86400) {
        const int64_t tod = floor_mod(s, 86400);
        if (!alarm_field_matches(ah, enc_hour(r, (int)(tod / 3600)))) {
            s += 3600 - tod % 3600;
            continue;
        }
        if (!alarm_field_matches(am, enc(r, (int)(tod / 60 % 60)))) {
            s += 60 - tod % 60;
            continue;
        }
        if (!alarm_field_matches(as, enc(r, (int)(tod % 60)))) {
            s++;
            continue;
        }
        return s;
    }
    return INT64_MAX;
}

/* ---- flags -------------------------------------------------------------------------------- */

/* Periodic rate as a power-of-two number of oscillator ticks, 0 if off. Table 4: rates
 * 3-15 give 32768 >> (rate - 1) Hz; with the 32.768 kHz time base rates 1 and 2 repeat
 * rates 8 and 9 (256 Hz and 128 Hz). The divider bits are assumed to select 32.768 kHz. */
static int periodic_shift(const struct rtc146818 *r) {
    const int rate = r->cmos[REG_A] & A_RS_MASK;
    if (rate == 0) return -1;
    if (rate <= 2) return rate + 6;
    return rate - 1;
}

/* Account for everything between last_ns and now_ns. PF is set on every period whether or
 * not PIE is on (datasheet "Register C": the flag bits are set independently of the enable
 * bits). Updates (UF, and AF checked at each update) are inhibited while SET is on. */
static void advance(struct rtc146818 *r, uint64_t now_ns) {
    if (now_ns <= r->last_ns) return;
    const int shift = periodic_shift(r);
    if (shift >= 0 && (osc_ticks(r, now_ns) >> shift) != (osc_ticks(r, r->last_ns) >> shift))
        r->flags |= C_PF;
    if (!(r->cmos[REG_B] & B_SET)) {
        const int64_t before = clock_s(r, r->last_ns), after = clock_s(r, now_ns);
        if (after > before) {
            r->flags |= C_UF;
            if (alarm_next(r, before) <= after) r->flags |= C_AF;
        }
    }
    r->last_ns = now_ns;
}

static bool irqf(const struct rtc146818 *r) {
    const uint8_t b = r->cmos[REG_B];
    return ((r->flags & C_PF) && (b & B_PIE)) || ((r->flags & C_AF) && (b & B_AIE)) ||
           ((r->flags & C_UF) && (b & B_UIE));
}

/* ---- public API --------------------------------------------------------------------------- */

void rtc146818_init(struct rtc146818 *r, int64_t epoch_seconds_at_base, uint64_t base_ns,
                    uint32_t ram_bytes) {
    memset(r, 0, sizeof *r);
    r->base_epoch_s = epoch_seconds_at_base;
    r->base_ns = base_ns;
    r->last_ns = base_ns;
    /* What a PC BIOS leaves: 32.768 kHz divider (DV = 010), 1024 Hz rate (RS = 0110); 24-hour
     * BCD mode, no interrupts enabled. */
    r->cmos[REG_A] = 0x26;
    r->cmos[REG_B] = B_24H;
    /* IBM PC AT CMOS layout. 0x10: no floppy drives. 0x14 equipment: no floppy, FPU present
     * (bit 1), primary display "EGA/VGA" (bits 4-5 = 00). */
    r->cmos[0x10] = 0x00;
    r->cmos[0x14] = 0x02;
    /* 0x15/0x16: base memory in KiB, 640. */
    r->cmos[0x15] = 640 & 0xFF;
    r->cmos[0x16] = 640 >> 8;
    /* 0x17/0x18 (and the POST copy at 0x30/0x31): KiB above 1 MiB, capped at 0xFFFF. */
    uint64_t ext_kib = ram_bytes > (1u << 20) ? (ram_bytes - (1u << 20)) / 1024 : 0;
    if (ext_kib > 0xFFFF) ext_kib = 0xFFFF;
    r->cmos[0x17] = r->cmos[0x30] = (uint8_t)ext_kib;
    r->cmos[0x18] = r->cmos[0x31] = (uint8_t)(ext_kib >> 8);
    /* 0x34/0x35: memory above 16 MiB in 64 KiB units (the convention SeaBIOS/Bochs use). */
    uint64_t high = ram_bytes > (16u << 20) ? (ram_bytes - (16u << 20)) / 65536 : 0;
    if (high > 0xFFFF) high = 0xFFFF;
    r->cmos[0x34] = (uint8_t)high;
    r->cmos[0x35] = (uint8_t)(high >> 8);
    /* 0x2E/0x2F: big-endian sum of 0x10-0x2D, checked by the AT BIOS. */
    uint16_t sum = 0;
    for (int i = 0x10; i <= 0x2D; i++)
        sum = (uint16_t)(sum + r->cmos[i]);
    r->cmos[0x2E] = (uint8_t)(sum >> 8);
    r->cmos[0x2F] = (uint8_t)sum;
}

static uint8_t read_reg(struct rtc146818 *r, uint8_t idx, uint64_t now_ns) {
    const struct rtc146818_time t = current_time(r, now_ns);
    switch (idx) {
    case REG_SEC: return enc(r, t.second);
    case REG_MIN: return enc(r, t.minute);
    case REG_HOUR: return enc_hour(r, t.hour);
    case REG_DOW: return enc(r, t.dow);
    case REG_DAY: return enc(r, t.day);
    case REG_MONTH: return enc(r, t.month);
    case REG_YEAR: return enc(r, (int)floor_mod(t.year, 100));
    case CMOS_CENTURY: return enc(r, (int)floor_mod(floor_div(t.year, 100), 100));
    case REG_A: {
        /* UIP: high from 244 us before each update until it (the update itself is
         * instantaneous here); low while SET inhibits updates. */
        const uint64_t phase = elapsed_ns(r, now_ns) % NS_PER_S;
        const bool uip = !(r->cmos[REG_B] & B_SET) && phase >= NS_PER_S - UIP_WINDOW_NS;
        return (uint8_t)((r->cmos[REG_A] & 0x7F) | (uip ? A_UIP : 0));
    }
    case REG_C: {
        /* Reading register C returns and clears all flags (datasheet "Register C"). */
        advance(r, now_ns);
        const uint8_t v = (uint8_t)(r->flags | (irqf(r) ? C_IRQF : 0));
        r->flags = 0;
        return v;
    }
    case REG_D: return D_VRT; /* valid RAM and time: the battery is always good */
    default: return r->cmos[idx];
    }
}

static void write_time_reg(struct rtc146818 *r, uint8_t idx, uint8_t v, uint64_t now_ns) {
    struct rtc146818_time t = current_time(r, now_ns);
    switch (idx) {
    case REG_SEC: t.second = dec(r, v); break;
    case REG_MIN: t.minute = dec(r, v); break;
    case REG_HOUR: t.hour = dec_hour(r, v); break;
    case REG_DOW: t.dow = dec(r, v); break;
    case REG_DAY: t.day = dec(r, v); break;
    case REG_MONTH: t.month = dec(r, v); break;
    case REG_YEAR: t.year = floor_div(t.year, 100) * 100 + dec(r, v); break;
    default: /* CMOS_CENTURY */ t.year = (int64_t)dec(r, v) * 100 + floor_mod(t.year, 100); break;
    }
    /* With SET on the registers are held and the clock restarts from them when SET is
     * cleared; without it the write takes effect at once (the chip would take it too, at
     * the risk of an update in the middle of a multi-byte write). */
    if (r->held)
        r->held_time = t;
    else
        apply_time(r, &t, now_ns);
}

static void write_reg(struct rtc146818 *r, uint8_t idx, uint8_t v, uint64_t now_ns) {
    switch (idx) {
    case REG_SEC:
    case REG_MIN:
    case REG_HOUR:
    case REG_DOW:
    case REG_DAY:
    case REG_MONTH:
    case REG_YEAR:
    case CMOS_CENTURY: write_time_reg(r, idx, v, now_ns); break;
    case REG_A: r->cmos[REG_A] = v & 0x7F; break; /* UIP is read-only */
    case REG_B: {
        const uint8_t old = r->cmos[REG_B];
        if ((v & B_SET) && !(old & B_SET)) {
            /* SET aborts any update and freezes the time registers for initialisation. */
            r->held_time = current_time(r, now_ns);
            r->held = true;
        }
        r->cmos[REG_B] = v;
        if (!(v & B_SET) && (old & B_SET)) {
            r->held = false;
            apply_time(r, &r->held_time, now_ns);
        }
        break;
    }
    case REG_C:
    case REG_D: break; /* read-only */
    default: r->cmos[idx] = v; break;
    }
}

uint8_t rtc146818_read(struct rtc146818 *r, uint16_t port, uint64_t now_ns) {
    /* Port 0x70 is write-only on a PC; the read floats. */
    if (port != RTC146818_DATA_PORT) return 0xFF;
    return read_reg(r, r->index, now_ns);
}

void rtc146818_write(struct rtc146818 *r, uint16_t port, uint8_t v, uint64_t now_ns) {
    if (port == RTC146818_INDEX_PORT) {
        /* Bit 7 of the index write is the PC's NMI mask, not an address bit. */
        r->index = v & 0x7F;
        r->nmi_masked = (v & 0x80) != 0;
        return;
    }
    if (port != RTC146818_DATA_PORT) return;
    /* Flags up to now accrue under the old settings (rate, SET, alarm) before they change. */
    advance(r, now_ns);
    write_reg(r, r->index, v, now_ns);
}

bool rtc146818_irq(struct rtc146818 *r, uint64_t now_ns) {
    advance(r, now_ns);
    return irqf(r);
}

uint64_t rtc146818_next_event_ns(const struct rtc146818 *r, uint64_t now_ns) {
    const uint8_t b = r->cmos[REG_B];
    uint64_t best = UINT64_MAX;
    const int shift = periodic_shift(r);
    if ((b & B_PIE) && shift >= 0) {
        const uint64_t next_tick = ((osc_ticks(r, now_ns) >> shift) + 1) << shift;
        const uint64_t t = ticks_to_ns(r, next_tick);
        if (t < best) best = t;
    }
    if (!(b & B_SET) && (b & (B_UIE | B_AIE))) {
        const uint64_t sec = elapsed_ns(r, now_ns) / NS_PER_S;
        if (b & B_UIE) {
            const uint64_t t = r->base_ns + (sec + 1) * NS_PER_S;
            if (t < best) best = t;
        }
        if (b & B_AIE) {
            const int64_t now_s = clock_s(r, now_ns), s = alarm_next(r, now_s);
            if (s != INT64_MAX) {
                const uint64_t t = r->base_ns + (sec + (uint64_t)(s - now_s)) * NS_PER_S;
                if (t < best) best = t;
            }
        }
    }
    return best;
}
