/* Unit tests of the 8254 model (hostdriver/pit8254.c). Times are built from ticks with
 * the test's own conversion, so a wrong conversion in the model shows up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hostdriver/pit8254.h"

/* First nanosecond at which tick k has happened: ceil(k * 1e9 / 1193182). */
static uint64_t at(uint64_t k) {
    return (uint64_t)(((unsigned __int128)k * 1000000000u + 1193181u) / 1193182u);
}

static void control(struct pit8254 *p, uint8_t v, uint64_t ns) {
    pit8254_write(p, 0x43, v, ns);
}

static void count16(struct pit8254 *p, int ch, uint16_t n, uint64_t ns) {
    pit8254_write(p, (uint16_t)(0x40 + ch), (uint8_t)n, ns);
    pit8254_write(p, (uint16_t)(0x40 + ch), (uint8_t)(n >> 8), ns);
}

/* lsb then msb, as with RW = 3 */
static uint16_t read16(struct pit8254 *p, int ch, uint64_t ns) {
    uint8_t lo = pit8254_read(p, (uint16_t)(0x40 + ch), ns);
    uint8_t hi = pit8254_read(p, (uint16_t)(0x40 + ch), ns);
    return (uint16_t)(lo | hi << 8);
}

static uint16_t latched16(struct pit8254 *p, int ch, uint64_t latch_ns, uint64_t read_ns) {
    control(p, (uint8_t)(ch << 6), latch_ns); /* counter latch command */
    return read16(p, ch, read_ns);
}

static uint8_t status(struct pit8254 *p, int ch, uint64_t ns) {
    control(p, (uint8_t)(0xE0 | 2 << ch), ns); /* read-back: status only */
    return pit8254_read(p, (uint16_t)(0x40 + ch), ns);
}

static void test_conversion(void **state) {
    (void)state;
    assert_int_equal(pit8254_ticks(0), 0);
    assert_int_equal(pit8254_ticks(838), 0);
    assert_int_equal(pit8254_ticks(839), 1);
    assert_int_equal(pit8254_ticks(1000000000u), 1193182);
    assert_int_equal(pit8254_ticks(UINT64_MAX), 22010322987356910ull);
    assert_int_equal(pit8254_tick_ns(1), 839);
    assert_int_equal(pit8254_tick_ns(1193182), 1000000000u);
    assert_int_equal(pit8254_tick_ns(1194), 1000686);
    assert_int_equal(pit8254_tick_ns(UINT64_MAX), UINT64_MAX);
}

static void test_unprogrammed(void **state) {
    (void)state;
    struct pit8254 p;
    pit8254_init(&p, 0);
    assert_int_equal(pit8254_next_irq0_ns(&p, 0), UINT64_MAX);
    assert_int_equal(pit8254_irq0_edges(&p, 5000000000u), 0);
    assert_true(pit8254_out(&p, 0, 1000)); /* no mode 0 programmed: OUT high */
    assert_true(pit8254_out(&p, 2, 1000));
    assert_int_equal(pit8254_read(&p, 0x43, 0), 0xFF);
}

static void test_mode2_1khz(void **state) {
    (void)state;
    struct pit8254 p;
    pit8254_init(&p, 0);
    control(&p, 0x34, 0); /* channel 0, lsb/msb, mode 2, binary: Linux's periodic tick */
    count16(&p, 0, 1193, 0);
    /* Loaded at tick 1, edges at 1 + 1193 m. */
    assert_int_equal(pit8254_next_irq0_ns(&p, 0), at(1194));
    assert_int_equal(pit8254_next_irq0_ns(&p, at(1194) - 1), at(1194));
    assert_int_equal(pit8254_next_irq0_ns(&p, at(1194)), at(1 + 2 * 1193));
    uint64_t t = 0;
    for (uint64_t m = 1; m <= 50; m++) {
        uint64_t n = pit8254_next_irq0_ns(&p, t);
        assert_int_equal(n, at(1 + m * 1193));
        assert_int_equal(pit8254_irq0_edges(&p, n - 1), 0);
        assert_false(pit8254_out(&p, 0, n - 1)); /* the one low tick */
        assert_true(pit8254_out(&p, 0, n));
        assert_int_equal(pit8254_irq0_edges(&p, n), 1);
        t = n;
    }
    unsigned total = 50 + pit8254_irq0_edges(&p, 1000000000u);
    assert_in_range(total, 999, 1001);
    assert_int_equal(total, 1000); /* (1193182 - 1) / 1193 */
    /* The count shown runs 1193 .. 1 */
    assert_int_equal(latched16(&p, 0, at(1 + 1193 * 2000), at(1 + 1193 * 2000)), 1193);
    assert_int_equal(latched16(&p, 0, at(1193 * 2001), at(1193 * 2001)), 1);
}

static void test_mode3_square(void **state) {
    (void)state;
    struct pit8254 p;
    pit8254_init(&p, 0);
    control(&p, 0x36, 0); /* channel 0, lsb/msb, mode 3 */
    count16(&p, 0, 10, 0);
    /* Loaded at tick 1: high for 5 ticks, low for 5. */
    for (uint64_t k = 1; k < 41; k++)
        assert_int_equal(pit8254_out(&p, 0, at(k)), (k - 1) % 10 < 5);
    static const uint16_t even[] = {10, 8, 6, 4, 2, 10, 8, 6, 4, 2};
    for (uint64_t k = 0; k < 10; k++)
        assert_int_equal(latched16(&p, 0, at(101 + k), at(101 + k)), even[k]);
    assert_int_equal(pit8254_irq0_edges(&p, at(100)), 9); /* rising at 11, 21, ..., 91 */
    assert_int_equal(pit8254_next_irq0_ns(&p, at(100)), at(101));

    /* Odd count on channel 1: high 3 ticks, low 2; the count shows 5 4 2 | 5 2. */
    control(&p, 0x76, at(1000));
    count16(&p, 1, 5, at(1000));
    static const bool out5[] = {true, true, true, false, false};
    static const uint16_t cnt5[] = {5, 4, 2, 5, 2};
    for (uint64_t k = 0; k < 15; k++) {
        assert_int_equal(pit8254_out(&p, 1, at(1001 + k)), out5[k % 5]);
        assert_int_equal(latched16(&p, 1, at(1001 + k), at(1001 + k)), cnt5[k % 5]);
    }
    /* Mode 7 is mode 3; the status byte still shows what was written. */
    control(&p, 0x7E, at(2000));
    count16(&p, 1, 4, at(2000));
    assert_true(pit8254_out(&p, 1, at(2002)));
    assert_false(pit8254_out(&p, 1, at(2003)));
    assert_int_equal(status(&p, 1, at(2003)) & 0x3F, 0x3E);
}

/* Linux's pit_calibrate_tsc: gate on via port 0x61, channel 2 mode 0, count CAL_LATCH,
 * then spin until OUT2 (port 0x61 bit 5) is high. */
static void test_mode0_calibration(void **state) {
    (void)state;
    struct pit8254 p;
    const uint64_t t0 = 5000000;
    const uint64_t w = 5965; /* ticks(5 ms) */
    const uint16_t latch = 11931;
    pit8254_init(&p, 0);
    assert_int_equal(pit8254_ticks(t0), w);
    pit8254_set_gate(&p, 2, true, t0);
    control(&p, 0xB0, t0);
    assert_false(pit8254_out(&p, 2, t0));      /* mode 0: low after the control word */
    assert_int_equal(status(&p, 2, t0), 0x70); /* null count, lsb/msb, mode 0 */
    count16(&p, 2, latch, t0);
    assert_false(pit8254_out(&p, 2, t0));
    assert_int_equal(status(&p, 2, at(w + 1)), 0x30); /* loaded: null count clear */
    uint64_t t = t0, high = 0;
    while (!(high = pit8254_out(&p, 2, t) ? t : 0))
        t += 97;
    /* OUT2 rises N + 1 ticks after the count was written. */
    assert_true(high >= at(w + 1 + latch) && high < at(w + 1 + latch) + 97);
    assert_false(pit8254_out(&p, 2, at(w + 1 + latch) - 1));
    assert_true(pit8254_out(&p, 2, at(w + 1 + latch)));
    assert_int_equal(status(&p, 2, high) & 0x80, 0x80);
    /* Live reads while counting, and the wrap after terminal count. */
    assert_int_equal(read16(&p, 2, at(w + 1 + 100)), latch - 100);
    assert_int_equal(read16(&p, 2, at(w + 1 + latch + 1)), 0xFFFF);
    /* It stays high: mode 0 is one-shot. */
    assert_true(pit8254_out(&p, 2, at(w + 1 + 5 * latch)));

    /* Gate low holds the count (and OUT low) in mode 0. */
    control(&p, 0xB0, at(100000));
    count16(&p, 2, 1000, at(100000));
    pit8254_set_gate(&p, 2, false, at(100000 + 1 + 400));
    assert_int_equal(read16(&p, 2, at(200000)), 600);
    assert_false(pit8254_out(&p, 2, at(200000)));
    pit8254_set_gate(&p, 2, true, at(300000));
    assert_false(pit8254_out(&p, 2, at(300000 + 600 - 1)));
    assert_true(pit8254_out(&p, 2, at(300000 + 600)));
}

/* quick_pit_calibrate: count 0xFFFF, MSB checks via back-to-back LSB/MSB reads. */
static void test_quick_calibrate_reads(void **state) {
    (void)state;
    struct pit8254 p;
    pit8254_init(&p, 0);
    pit8254_set_gate(&p, 2, true, 0);
    control(&p, 0xB0, 0);
    pit8254_write(&p, 0x42, 0xFF, 0);
    pit8254_write(&p, 0x42, 0xFF, 0);
    for (unsigned i = 1; i < 40; i++) {
        uint64_t k = 1 + i * 256u;
        (void)pit8254_read(&p, 0x42, at(k));
        assert_int_equal(pit8254_read(&p, 0x42, at(k)), 0xFF - i);
    }
}

static void test_counter_latch(void **state) {
    (void)state;
    struct pit8254 p;
    pit8254_init(&p, 0);
    control(&p, 0x34, 0);
    count16(&p, 0, 1193, 0);
    control(&p, 0x00, at(501)); /* latch channel 0 at count 1193 - 500 */
    control(&p, 0x00, at(700)); /* ignored: the first latch is not read yet */
    assert_int_equal(read16(&p, 0, at(900)), 693);
    /* Latch consumed: reads are live again. */
    assert_int_equal(read16(&p, 0, at(901)), 293);
    /* LSB-only mode latches one byte. */
    control(&p, 0x14, at(1000)); /* lsb only, mode 2 */
    pit8254_write(&p, 0x40, 200, at(1000));
    control(&p, 0x00, at(1000 + 1 + 50));
    assert_int_equal(pit8254_read(&p, 0x40, at(5000)), 150);
    assert_int_equal(pit8254_read(&p, 0x40, at(1000 + 1 + 60)), 140);
}

static void test_read_back(void **state) {
    (void)state;
    struct pit8254 p;
    pit8254_init(&p, 0);
    control(&p, 0x34, 0);
    /* No count yet: null count, OUT high (mode 2). */
    assert_int_equal(status(&p, 0, 10), 0xF4);
    count16(&p, 0, 1000, 10);
    assert_int_equal(status(&p, 0, 10), 0xF4); /* not loaded before the next CLK */
    assert_int_equal(status(&p, 0, at(2)), 0xB4);
    assert_false(status(&p, 0, at(1000)) & 0x80); /* the low tick */
    /* Count and status: status is read first, then the count latched with it. */
    control(&p, 0xC2, at(1 + 250));
    assert_int_equal(pit8254_read(&p, 0x40, at(900)), 0xB4);
    assert_int_equal(read16(&p, 0, at(900)), 750);
    /* Several counters at once. */
    control(&p, 0x16, at(2000)); /* channel 0: lsb only, mode 3 */
    pit8254_write(&p, 0x40, 50, at(2000));
    control(&p, 0x6B, at(2000)); /* channel 1: msb only, mode 5, BCD */
    control(&p, 0xE6, at(2010));
    assert_int_equal(pit8254_read(&p, 0x40, at(2200)), 0x96);
    assert_int_equal(pit8254_read(&p, 0x41, at(2200)), 0xEB);
}

static void test_flip_flops(void **state) {
    (void)state;
    struct pit8254 p;
    pit8254_init(&p, 0);
    control(&p, 0x30, 0); /* channel 0, lsb/msb, mode 0 */
    pit8254_write(&p, 0x40, 0x34, 0);
    assert_true(status(&p, 0, at(10)) & 0x40); /* only half written: null count */
    assert_int_equal(pit8254_next_irq0_ns(&p, at(10)), UINT64_MAX);
    pit8254_write(&p, 0x40, 0x12, at(10));
    assert_int_equal(read16(&p, 0, at(11)), 0x1234);
    assert_int_equal(pit8254_next_irq0_ns(&p, at(11)), at(11 + 0x1234));
    /* The read flip-flop alternates: lsb, msb, lsb. */
    assert_int_equal(pit8254_read(&p, 0x40, at(12)), 0x33);
    assert_int_equal(pit8254_read(&p, 0x40, at(12)), 0x12);
    assert_int_equal(pit8254_read(&p, 0x40, at(13)), 0x32);
    assert_int_equal(pit8254_read(&p, 0x40, at(13)), 0x12);
    /* MSB-only: one byte is the high half of the count. */
    control(&p, 0x20, at(100));
    pit8254_write(&p, 0x40, 0x02, at(100));
    assert_int_equal(pit8254_read(&p, 0x40, at(101)), 0x02);
    assert_int_equal(pit8254_next_irq0_ns(&p, at(100)), at(101 + 0x200));
    /* A control word resets the write flip-flop. */
    control(&p, 0x30, at(2000));
    pit8254_write(&p, 0x40, 0x99, at(2000));
    control(&p, 0x30, at(2000));
    count16(&p, 0, 0x0010, at(2000));
    /* Until the load CLK the counter shows what it had: 0x200 counted 1899 ticks, wrapped. */
    assert_int_equal(read16(&p, 0, at(2000)), (0x200 + 65536 - 1899) % 65536);
    assert_int_equal(read16(&p, 0, at(2001)), 0x10);
}

static void test_bcd(void **state) {
    (void)state;
    struct pit8254 p;
    pit8254_init(&p, 0);
    control(&p, 0x31, 0);      /* channel 0, lsb/msb, mode 0, BCD */
    count16(&p, 0, 0x1000, 0); /* 1000 decimal */
    assert_int_equal(read16(&p, 0, at(1)), 0x1000);
    assert_int_equal(read16(&p, 0, at(2)), 0x0999);
    assert_int_equal(read16(&p, 0, at(1 + 1000 - 1)), 0x0001);
    assert_int_equal(read16(&p, 0, at(1 + 1001)), 0x9999);
    assert_false(pit8254_out(&p, 0, at(1000)));
    assert_true(pit8254_out(&p, 0, at(1001)));
    assert_int_equal(status(&p, 0, at(1001)) & 0x01, 0x01);
    /* 0 in BCD is 10000. */
    control(&p, 0x35, at(5000));
    count16(&p, 0, 0, at(5000));
    assert_int_equal(pit8254_next_irq0_ns(&p, at(5000)), at(5001 + 10000));
}

static void test_mode0_irq0_once(void **state) {
    (void)state;
    struct pit8254 p;
    pit8254_init(&p, 1000);
    control(&p, 0x30, 1000);
    count16(&p, 0, 100, 1000); /* tick 1 */
    assert_int_equal(pit8254_next_irq0_ns(&p, 1000), at(102));
    assert_int_equal(pit8254_irq0_edges(&p, 1000000000u), 1);
    assert_int_equal(pit8254_next_irq0_ns(&p, 1000000000u), UINT64_MAX);
    assert_int_equal(pit8254_irq0_edges(&p, 2000000000u), 0);
}

static void test_reprogram_keeps_edges(void **state) {
    (void)state;
    struct pit8254 p;
    pit8254_init(&p, 0);
    control(&p, 0x34, 0);
    count16(&p, 0, 100, 0); /* edges at 101, 201, ..., 1001 */
    control(&p, 0x34, at(1050));
    count16(&p, 0, 1000, at(1050)); /* edges at 2051, 3051 */
    assert_int_equal(pit8254_irq0_edges(&p, at(3500)), 12);
    /* Mode 0 low -> mode 2 control word takes OUT0 high: an edge, as on hardware. */
    control(&p, 0x30, at(4000));
    count16(&p, 0, 5000, at(4000));
    control(&p, 0x34, at(4100));
    assert_int_equal(pit8254_irq0_edges(&p, at(4100)), 1);
}

static void test_mode4_and_mode1(void **state) {
    (void)state;
    struct pit8254 p;
    pit8254_init(&p, 0);
    control(&p, 0x38, 0); /* channel 0, mode 4 */
    count16(&p, 0, 50, 0);
    assert_true(pit8254_out(&p, 0, at(50)));
    assert_false(pit8254_out(&p, 0, at(51))); /* one CLK low at terminal count */
    assert_true(pit8254_out(&p, 0, at(52)));
    assert_int_equal(pit8254_next_irq0_ns(&p, 0), at(52));
    assert_int_equal(pit8254_irq0_edges(&p, at(1000)), 1);
    /* Mode 1 on channel 2: nothing until the gate rises, then low for N ticks. */
    control(&p, 0xB2, 0);
    count16(&p, 2, 30, 0);
    assert_true(pit8254_out(&p, 2, at(500)));
    pit8254_set_gate(&p, 2, true, at(500));
    assert_false(pit8254_out(&p, 2, at(501)));
    assert_false(pit8254_out(&p, 2, at(530)));
    assert_true(pit8254_out(&p, 2, at(531)));
    /* Retrigger. */
    pit8254_set_gate(&p, 2, false, at(600));
    pit8254_set_gate(&p, 2, true, at(600));
    assert_false(pit8254_out(&p, 2, at(630)));
    assert_true(pit8254_out(&p, 2, at(631)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversion),        cmocka_unit_test(test_unprogrammed),
        cmocka_unit_test(test_mode2_1khz),        cmocka_unit_test(test_mode3_square),
        cmocka_unit_test(test_mode0_calibration), cmocka_unit_test(test_quick_calibrate_reads),
        cmocka_unit_test(test_counter_latch),     cmocka_unit_test(test_read_back),
        cmocka_unit_test(test_flip_flops),        cmocka_unit_test(test_bcd),
        cmocka_unit_test(test_mode0_irq0_once),   cmocka_unit_test(test_reprogram_keeps_edges),
        cmocka_unit_test(test_mode4_and_mode1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
