/* Unit tests of the 8042 keyboard controller model (hostdriver/i8042.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hostdriver/i8042.h"

static void test_status_after_init(void **state) {
    (void)state;
    struct i8042 k;
    i8042_init(&k);
    const uint8_t st = i8042_read(&k, 0x64);
    assert_int_equal(st & 0x01, 0);    /* output buffer empty */
    assert_int_equal(st & 0x02, 0);    /* input buffer empty */
    assert_int_equal(st & 0x04, 0x04); /* system flag */
}

static void test_self_tests(void **state) {
    (void)state;
    struct i8042 k;
    i8042_init(&k);
    assert_false(i8042_write(&k, 0x64, 0xAA));
    assert_int_equal(i8042_read(&k, 0x64) & 0x01, 0x01);
    assert_int_equal(i8042_read(&k, 0x60), 0x55);
    assert_int_equal(i8042_read(&k, 0x64) & 0x01, 0x00); /* read emptied it */
    assert_false(i8042_write(&k, 0x64, 0xAB));
    assert_int_equal(i8042_read(&k, 0x64) & 0x01, 0x01);
    assert_int_equal(i8042_read(&k, 0x60), 0x00);
}

static void test_command_byte(void **state) {
    (void)state;
    struct i8042 k;
    i8042_init(&k);
    i8042_write(&k, 0x64, 0x60);
    i8042_write(&k, 0x60, 0x30); /* both ports disabled, system flag clear */
    assert_int_equal(i8042_read(&k, 0x64) & 0x04, 0);
    i8042_write(&k, 0x64, 0xAE);
    i8042_write(&k, 0x64, 0xA8);
    i8042_write(&k, 0x64, 0x20);
    assert_int_equal(i8042_read(&k, 0x60), 0x00);
    i8042_write(&k, 0x64, 0xAD);
    i8042_write(&k, 0x64, 0xA7);
    i8042_write(&k, 0x64, 0x20);
    assert_int_equal(i8042_read(&k, 0x60), 0x30);
}

static void test_no_keyboard(void **state) {
    (void)state;
    struct i8042 k;
    i8042_init(&k);
    assert_false(i8042_write(&k, 0x60, 0xFF)); /* keyboard reset, nobody listens */
    const uint8_t st = i8042_read(&k, 0x64);
    assert_int_equal(st & 0x40, 0x40); /* time-out */
    assert_int_equal(st & 0x01, 0x01);
    assert_int_equal(i8042_read(&k, 0x60), 0xFE);
    assert_false(i8042_write(&k, 0x64, 0xAA)); /* a new command clears the time-out */
    assert_int_equal(i8042_read(&k, 0x64) & 0x40, 0);
}

static void test_reset_pulse(void **state) {
    (void)state;
    struct i8042 k;
    i8042_init(&k);
    assert_false(i8042_write(&k, 0x64, 0xFF)); /* pulses nothing */
    assert_true(i8042_write(&k, 0x64, 0xFE));
}

static void test_reset_output_port(void **state) {
    (void)state;
    struct i8042 k;
    i8042_init(&k);
    assert_false(i8042_write(&k, 0x64, 0xD1));
    assert_false(i8042_write(&k, 0x60, 0x03)); /* A20 on, reset line inactive */
    i8042_write(&k, 0x64, 0xD0);
    assert_int_equal(i8042_read(&k, 0x60), 0x03);
    assert_false(i8042_write(&k, 0x64, 0xD1));
    assert_true(i8042_write(&k, 0x60, 0x02)); /* bit 0 clear: reset */
    /* Without 0xD1 first, the same byte goes to the (absent) keyboard. */
    assert_false(i8042_write(&k, 0x60, 0x02));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_after_init), cmocka_unit_test(test_self_tests),
        cmocka_unit_test(test_command_byte),      cmocka_unit_test(test_no_keyboard),
        cmocka_unit_test(test_reset_pulse),       cmocka_unit_test(test_reset_output_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
