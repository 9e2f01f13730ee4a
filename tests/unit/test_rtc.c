/* Unit tests of the MC146818A RTC / CMOS model (hostdriver/rtc146818.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hostdriver/rtc146818.h"

#define NS 1000000000ull
#define BASE_NS 5000000000ull            /* an arbitrary monitor time for the base */
#define T_2026_11_25_10_00_00 1795600800 /* checked with `date -u -d ... +%s` */

static uint8_t rd(struct rtc146818 *r, uint8_t idx, uint64_t now) {
    rtc146818_write(r, 0x70, idx, now);
    return rtc146818_read(r, 0x71, now);
}

static void wr(struct rtc146818 *r, uint8_t idx, uint8_t v, uint64_t now) {
    rtc146818_write(r, 0x70, idx, now);
    rtc146818_write(r, 0x71, v, now);
}

static void test_calendar(void **state) {
    (void)state;
    assert_int_equal(rtc146818_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(rtc146818_days_from_civil(2026, 11, 25), T_2026_11_25_10_00_00 / 86400);
    assert_int_equal(rtc146818_days_from_civil(2000, 3, 1), 11017);
    int64_t y;
    int m, d;
    rtc146818_civil_from_days(11016, &y, &m, &d); /* leap day */
    assert_int_equal(y, 2000);
    assert_int_equal(m, 2);
    assert_int_equal(d, 29);
    rtc146818_civil_from_days(-1, &y, &m, &d);
    assert_int_equal(y, 1969);
    assert_int_equal(m, 12);
    assert_int_equal(d, 31);
    /* Round trip over a long range, including 1900 and 2100 (not leap). */
    for (int64_t days = -30000; days < 80000; days += 7) {
        rtc146818_civil_from_days(days, &y, &m, &d);
        assert_int_equal(rtc146818_days_from_civil(y, m, d), days);
    }
}

static void test_bcd_and_binary(void **state) {
    (void)state;
    struct rtc146818 r;
    rtc146818_init(&r, T_2026_11_25_10_00_00, BASE_NS, 128u << 20);
    const uint64_t now = BASE_NS + 7 * NS + 123; /* 10:00:07 */
    assert_int_equal(rd(&r, 0x00, now), 0x07);
    assert_int_equal(rd(&r, 0x02, now), 0x00);
    assert_int_equal(rd(&r, 0x04, now), 0x10);
    assert_int_equal(rd(&r, 0x06, now), 0x04); /* Wednesday, Sunday = 1 */
    assert_int_equal(rd(&r, 0x07, now), 0x25);
    assert_int_equal(rd(&r, 0x08, now), 0x11);
    assert_int_equal(rd(&r, 0x09, now), 0x26);
    assert_int_equal(rd(&r, 0x32, now), 0x20);
    assert_int_equal(rd(&r, 0x0B, now), 0x02); /* 24h, BCD */
    wr(&r, 0x0B, 0x06, now);                   /* DM: binary */
    assert_int_equal(rd(&r, 0x07, now), 25);
    assert_int_equal(rd(&r, 0x08, now), 11);
    assert_int_equal(rd(&r, 0x09, now), 26);
    assert_int_equal(rd(&r, 0x04, now), 10);
    assert_int_equal(rd(&r, 0x32, now), 20);
}

static void test_12h_mode(void **state) {
    (void)state;
    struct rtc146818 r;
    rtc146818_init(&r, T_2026_11_25_10_00_00, BASE_NS, 0);
    wr(&r, 0x0B, 0x00, BASE_NS);                                         /* 12h, BCD */
    assert_int_equal(rd(&r, 0x04, BASE_NS), 0x10);                       /* 10 AM */
    assert_int_equal(rd(&r, 0x04, BASE_NS + 2 * 3600 * NS), 0x92);       /* 12 PM */
    assert_int_equal(rd(&r, 0x04, BASE_NS + 5 * 3600 * NS), 0x83);       /* 3 PM */
    assert_int_equal(rd(&r, 0x04, BASE_NS + 14 * 3600 * NS), 0x12);      /* 12 AM (midnight) */
    wr(&r, 0x0B, 0x04, BASE_NS);                                         /* 12h, binary */
    assert_int_equal(rd(&r, 0x04, BASE_NS + 13 * 3600 * NS), 0x80 | 11); /* 11 PM */
}

static void test_rollover(void **state) {
    (void)state;
    struct rtc146818 r;
    rtc146818_init(&r, 1798761599, BASE_NS, 0); /* 2026-12-31 23:59:59 */
    assert_int_equal(rd(&r, 0x00, BASE_NS + NS - 1), 0x59);
    const uint64_t t = BASE_NS + NS; /* one second later: 2027-01-01 00:00:00 */
    assert_int_equal(rd(&r, 0x00, t), 0x00);
    assert_int_equal(rd(&r, 0x02, t), 0x00);
    assert_int_equal(rd(&r, 0x04, t), 0x00);
    assert_int_equal(rd(&r, 0x07, t), 0x01);
    assert_int_equal(rd(&r, 0x08, t), 0x01);
    assert_int_equal(rd(&r, 0x09, t), 0x27);
    assert_int_equal(rd(&r, 0x06, t), 0x06); /* Friday */
    /* Leap day rollover, 2000-02-29 23:59:59 -> 2000-03-01. */
    rtc146818_init(&r, 951868799, 0, 0);
    assert_int_equal(rd(&r, 0x07, 0), 0x29);
    assert_int_equal(rd(&r, 0x08, NS), 0x03);
    assert_int_equal(rd(&r, 0x07, NS), 0x01);
    assert_int_equal(rd(&r, 0x32, NS), 0x20);
}

static void test_guest_sets_time(void **state) {
    (void)state;
    struct rtc146818 r;
    rtc146818_init(&r, T_2026_11_25_10_00_00, BASE_NS, 0);
    wr(&r, 0x0B, 0x82, BASE_NS); /* SET, 24h BCD */
    wr(&r, 0x04, 0x23, BASE_NS);
    wr(&r, 0x02, 0x59, BASE_NS);
    wr(&r, 0x00, 0x58, BASE_NS);
    /* Held while SET is on: time does not advance. */
    assert_int_equal(rd(&r, 0x00, BASE_NS + 5 * NS), 0x58);
    assert_int_equal(rd(&r, 0x0A, BASE_NS + NS - 1000) & 0x80, 0); /* no UIP while SET */
    wr(&r, 0x0B, 0x02, BASE_NS + 5 * NS);                          /* release */
    assert_int_equal(rd(&r, 0x00, BASE_NS + 6 * NS), 0x59);
    assert_int_equal(rd(&r, 0x00, BASE_NS + 7 * NS), 0x00);
    assert_int_equal(rd(&r, 0x07, BASE_NS + 7 * NS), 0x26); /* next day */
}

static void test_uip_window(void **state) {
    (void)state;
    struct rtc146818 r;
    rtc146818_init(&r, T_2026_11_25_10_00_00, BASE_NS, 0);
    assert_int_equal(rd(&r, 0x0A, BASE_NS + 500000000), 0x26);
    assert_int_equal(rd(&r, 0x0A, BASE_NS + NS - 244001), 0x26);
    assert_int_equal(rd(&r, 0x0A, BASE_NS + NS - 244000), 0xA6);
    assert_int_equal(rd(&r, 0x0A, BASE_NS + NS - 1), 0xA6);
    assert_int_equal(rd(&r, 0x0A, BASE_NS + NS), 0x26);
    /* Seconds change exactly when UIP falls. */
    assert_int_equal(rd(&r, 0x00, BASE_NS + NS - 1), 0x00);
    assert_int_equal(rd(&r, 0x00, BASE_NS + NS), 0x01);
    wr(&r, 0x0A, 0xFF, BASE_NS); /* UIP is read-only */
    assert_int_equal(rd(&r, 0x0A, BASE_NS), 0x7F);
}

static void test_periodic_1024hz(void **state) {
    (void)state;
    struct rtc146818 r;
    rtc146818_init(&r, T_2026_11_25_10_00_00, BASE_NS, 0);
    /* Rate 6 = 1024 Hz: one period is 32 oscillator ticks = 976562.5 ns. */
    wr(&r, 0x0A, 0x26, BASE_NS);
    assert_int_equal(rtc146818_next_event_ns(&r, BASE_NS), UINT64_MAX); /* PIE off */
    assert_int_equal(rd(&r, 0x0C, BASE_NS + 976563), 0x40); /* PF without PIE, no IRQF */
    assert_int_equal(rd(&r, 0x0C, BASE_NS + 976563), 0x00); /* read clears */
    wr(&r, 0x0B, 0x42, BASE_NS + 976563);                   /* PIE */
    assert_int_equal(rtc146818_next_event_ns(&r, BASE_NS + 976563), BASE_NS + 1953125);
    assert_false(rtc146818_irq(&r, BASE_NS + 1953124));
    assert_true(rtc146818_irq(&r, BASE_NS + 1953125));
    assert_true(rtc146818_irq(&r, BASE_NS + 1953126)); /* level until C is read */
    assert_int_equal(rd(&r, 0x0C, BASE_NS + 1953126), 0xC0);
    assert_false(rtc146818_irq(&r, BASE_NS + 1953127));
    /* 1024 periods in a second. */
    assert_int_equal(rtc146818_next_event_ns(&r, BASE_NS + NS - 1), BASE_NS + NS);
    /* Rate 0 disables it. */
    wr(&r, 0x0A, 0x20, BASE_NS + 2 * NS);
    assert_int_equal(rtc146818_next_event_ns(&r, BASE_NS + 2 * NS), UINT64_MAX);
    /* Periods before the change still count; none after it. */
    assert_int_equal(rd(&r, 0x0C, BASE_NS + 2 * NS), 0xD0); /* PF, UF, IRQF */
    assert_int_equal(rd(&r, 0x0C, BASE_NS + 3 * NS) & 0x40, 0);
}

static void test_update_and_alarm(void **state) {
    (void)state;
    struct rtc146818 r;
    rtc146818_init(&r, T_2026_11_25_10_00_00, BASE_NS, 0);
    wr(&r, 0x0A, 0x20, BASE_NS); /* no periodic */
    wr(&r, 0x0B, 0x12, BASE_NS); /* UIE */
    assert_int_equal(rtc146818_next_event_ns(&r, BASE_NS + 10), BASE_NS + NS);
    assert_false(rtc146818_irq(&r, BASE_NS + NS - 1));
    assert_true(rtc146818_irq(&r, BASE_NS + NS));
    assert_int_equal(rd(&r, 0x0C, BASE_NS + NS), 0x90);
    /* Alarm at 10:00:30, BCD. */
    wr(&r, 0x01, 0x30, BASE_NS + NS);
    wr(&r, 0x03, 0x00, BASE_NS + NS);
    wr(&r, 0x05, 0x10, BASE_NS + NS);
    wr(&r, 0x0B, 0x22, BASE_NS + NS); /* AIE only */
    assert_int_equal(rtc146818_next_event_ns(&r, BASE_NS + NS), BASE_NS + 30 * NS);
    assert_int_equal(rd(&r, 0x0C, BASE_NS + 29 * NS) & 0xA0, 0);
    assert_int_equal(rd(&r, 0x0C, BASE_NS + 45 * NS), 0xB0); /* IRQF | AF | UF */
    /* Don't-care seconds: every second matches. */
    wr(&r, 0x01, 0xC0, BASE_NS + 45 * NS);
    wr(&r, 0x03, 0xFF, BASE_NS + 45 * NS);
    wr(&r, 0x05, 0xFF, BASE_NS + 45 * NS);
    assert_int_equal(rtc146818_next_event_ns(&r, BASE_NS + 45 * NS), BASE_NS + 46 * NS);
}

static void test_index_nmi_and_reg_d(void **state) {
    (void)state;
    struct rtc146818 r;
    rtc146818_init(&r, 0, 0, 0);
    rtc146818_write(&r, 0x70, 0x8D, 0);
    assert_true(r.nmi_masked);
    assert_int_equal(r.index, 0x0D);
    assert_int_equal(rtc146818_read(&r, 0x71, 0), 0x80);
    rtc146818_write(&r, 0x70, 0x40, 0);
    assert_false(r.nmi_masked);
    rtc146818_write(&r, 0x71, 0xA5, 0); /* plain CMOS RAM */
    assert_int_equal(rtc146818_read(&r, 0x71, 0), 0xA5);
    assert_int_equal(rd(&r, 0x00, 0), 0x00); /* 1970-01-01 00:00:00 */
    assert_int_equal(rd(&r, 0x09, 0), 0x70);
    assert_int_equal(rd(&r, 0x32, 0), 0x19);
}

static void test_cmos_memory_128m(void **state) {
    (void)state;
    struct rtc146818 r;
    rtc146818_init(&r, T_2026_11_25_10_00_00, BASE_NS, 128u << 20);
    assert_int_equal(rd(&r, 0x10, 0), 0x00);
    assert_int_equal(rd(&r, 0x15, 0) | rd(&r, 0x16, 0) << 8, 640);
    /* 127 MiB above 1 MiB = 130048 KiB: capped at 0xFFFF. */
    assert_int_equal(rd(&r, 0x17, 0) | rd(&r, 0x18, 0) << 8, 0xFFFF);
    assert_int_equal(rd(&r, 0x30, 0) | rd(&r, 0x31, 0) << 8, 0xFFFF);
    /* 112 MiB above 16 MiB in 64 KiB units. */
    assert_int_equal(rd(&r, 0x34, 0) | rd(&r, 0x35, 0) << 8, 1792);
    /* 8 MiB: 7168 KiB extended, nothing above 16 MiB. */
    rtc146818_init(&r, 0, 0, 8u << 20);
    assert_int_equal(rd(&r, 0x17, 0) | rd(&r, 0x18, 0) << 8, 7168);
    assert_int_equal(rd(&r, 0x34, 0) | rd(&r, 0x35, 0) << 8, 0);
    unsigned sum = 0;
    for (int i = 0x10; i <= 0x2D; i++)
        sum += rd(&r, (uint8_t)i, 0);
    assert_int_equal(rd(&r, 0x2E, 0) << 8 | rd(&r, 0x2F, 0), sum & 0xFFFF);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calendar),
        cmocka_unit_test(test_bcd_and_binary),
        cmocka_unit_test(test_12h_mode),
        cmocka_unit_test(test_rollover),
        cmocka_unit_test(test_guest_sets_time),
        cmocka_unit_test(test_uip_window),
        cmocka_unit_test(test_periodic_1024hz),
        cmocka_unit_test(test_update_and_alarm),
        cmocka_unit_test(test_index_nmi_and_reg_d),
        cmocka_unit_test(test_cmos_memory_128m),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
