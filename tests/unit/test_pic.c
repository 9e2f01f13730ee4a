/* Unit tests of the 8259A pair model (hostdriver/pic8259.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hostdriver/pic8259.h"

/* The sequence Linux (init_8259A) and most kernels use: master vectors 0x20-0x27, slave
 * 0x28-0x2F, slave on IR2, 8086 mode, normal EOI. auto_eoi selects ICW4 = 3 instead. */
static void setup_pics(struct pic8259 *p, bool auto_eoi) {
    pic8259_init(p);
    pic8259_write(p, 0x20, 0x11);
    pic8259_write(p, 0x21, 0x20);
    pic8259_write(p, 0x21, 0x04);
    pic8259_write(p, 0x21, auto_eoi ? 0x03 : 0x01);
    pic8259_write(p, 0xA0, 0x11);
    pic8259_write(p, 0xA1, 0x28);
    pic8259_write(p, 0xA1, 0x02);
    pic8259_write(p, 0xA1, auto_eoi ? 0x03 : 0x01);
}

static uint8_t read_isr(struct pic8259 *p, uint16_t port) {
    pic8259_write(p, port, 0x0B); /* OCW3: read ISR */
    uint8_t v = pic8259_read(p, port);
    pic8259_write(p, port, 0x0A); /* back to IRR */
    return v;
}

static void test_power_on(void **state) {
    (void)state;
    struct pic8259 p;
    pic8259_init(&p);
    assert_int_equal(pic8259_read(&p, 0x21), 0x00);
    assert_int_equal(pic8259_read(&p, 0xA1), 0x00);
    assert_int_equal(pic8259_read(&p, 0x20), 0x00);
    assert_false(pic8259_intr(&p));
}

static void test_init_sequence(void **state) {
    (void)state;
    struct pic8259 p;
    setup_pics(&p, false);
    /* After ICW4 the data port is OCW1 again: the IMR reads back. */
    pic8259_write(&p, 0x21, 0xA5);
    pic8259_write(&p, 0xA1, 0x5A);
    assert_int_equal(pic8259_read(&p, 0x21), 0xA5);
    assert_int_equal(pic8259_read(&p, 0xA1), 0x5A);
    assert_int_equal(p.chip[0].vector_base, 0x20);
    assert_int_equal(p.chip[1].vector_base, 0x28);
    /* ICW1 clears the IMR again; the low three bits of ICW2 are ignored. */
    pic8259_write(&p, 0x20, 0x11);
    assert_int_equal(pic8259_read(&p, 0x21), 0x00);
    pic8259_write(&p, 0x21, 0x37);
    pic8259_write(&p, 0x21, 0x04);
    pic8259_write(&p, 0x21, 0x01);
    pic8259_set_irq(&p, 1, 1);
    assert_int_equal(pic8259_acknowledge(&p), 0x31);
}

static void test_irq0_ack_eoi(void **state) {
    (void)state;
    struct pic8259 p;
    setup_pics(&p, false);
    assert_false(pic8259_intr(&p));
    pic8259_set_irq(&p, 0, 1);
    assert_true(pic8259_intr(&p));
    assert_int_equal(pic8259_acknowledge(&p), 0x20);
    assert_false(pic8259_intr(&p));
    assert_int_equal(read_isr(&p, 0x20), 0x01);
    assert_int_equal(pic8259_read(&p, 0x20), 0x00); /* IRR consumed */
    /* IRQ3 has a lower priority than IRQ0 in service: held off until the EOI. */
    pic8259_set_irq(&p, 3, 1);
    assert_false(pic8259_intr(&p));
    assert_int_equal(pic8259_read(&p, 0x20), 0x08);
    pic8259_write(&p, 0x20, 0x20); /* non-specific EOI */
    assert_int_equal(read_isr(&p, 0x20), 0x00);
    assert_true(pic8259_intr(&p));
    assert_int_equal(pic8259_acknowledge(&p), 0x23);
    /* A higher priority (IRQ1) nests over IRQ3 in service. */
    pic8259_set_irq(&p, 1, 1);
    assert_true(pic8259_intr(&p));
    assert_int_equal(pic8259_acknowledge(&p), 0x21);
    assert_int_equal(read_isr(&p, 0x20), 0x0A);
    /* Non-specific EOI ends the highest level in service first. */
    pic8259_write(&p, 0x20, 0x20);
    assert_int_equal(read_isr(&p, 0x20), 0x08);
    pic8259_write(&p, 0x20, 0x63); /* specific EOI, IR3 */
    assert_int_equal(read_isr(&p, 0x20), 0x00);
}

static void test_mask(void **state) {
    (void)state;
    struct pic8259 p;
    setup_pics(&p, false);
    pic8259_write(&p, 0x21, 0x01);
    pic8259_set_irq(&p, 0, 1);
    assert_false(pic8259_intr(&p));
    assert_int_equal(pic8259_read(&p, 0x20), 0x01); /* requested, but masked */
    pic8259_set_irq(&p, 4, 1);
    assert_true(pic8259_intr(&p));
    assert_int_equal(pic8259_acknowledge(&p), 0x24);
    pic8259_write(&p, 0x20, 0x20);
    pic8259_write(&p, 0x21, 0x00); /* unmask: the latched request is delivered */
    assert_true(pic8259_intr(&p));
    assert_int_equal(pic8259_acknowledge(&p), 0x20);
}

static void test_cascade(void **state) {
    (void)state;
    struct pic8259 p;
    setup_pics(&p, false);
    pic8259_set_irq(&p, 8, 1);
    assert_true(pic8259_intr(&p));
    assert_int_equal(pic8259_acknowledge(&p), 0x28);
    assert_int_equal(read_isr(&p, 0x20), 0x04);
    assert_int_equal(read_isr(&p, 0xA0), 0x01);
    /* IRQ14 is of lower priority than IRQ8 in service on the slave. */
    pic8259_set_irq(&p, 14, 1);
    assert_false(pic8259_intr(&p));
    pic8259_write(&p, 0xA0, 0x20); /* EOI to the slave only */
    assert_int_equal(read_isr(&p, 0xA0), 0x00);
    /* The master still has IR2 in service, so the slave's request waits. */
    assert_false(pic8259_intr(&p));
    pic8259_write(&p, 0x20, 0x20);
    assert_true(pic8259_intr(&p));
    assert_int_equal(pic8259_acknowledge(&p), 0x2E);
    pic8259_write(&p, 0xA0, 0x20);
    pic8259_write(&p, 0x20, 0x20);
    assert_int_equal(read_isr(&p, 0x20), 0x00);
    /* Masking IR2 on the master masks the whole slave. */
    pic8259_write(&p, 0x21, 0x04);
    pic8259_set_irq(&p, 12, 1);
    assert_false(pic8259_intr(&p));
    pic8259_write(&p, 0x21, 0x00);
    assert_int_equal(pic8259_acknowledge(&p), 0x2C);
    /* IRQ2 is the cascade input, not a device line. */
    pic8259_write(&p, 0xA0, 0x20);
    pic8259_write(&p, 0x20, 0x20);
    pic8259_set_irq(&p, 2, 1);
    assert_false(pic8259_intr(&p));
}

static void test_edge_semantics(void **state) {
    (void)state;
    struct pic8259 p;
    setup_pics(&p, false);
    pic8259_set_irq(&p, 5, 1);
    assert_int_equal(pic8259_acknowledge(&p), 0x25);
    pic8259_write(&p, 0x20, 0x20);
    /* The line is still high, and asserted again: no new edge, no new request. */
    pic8259_set_irq(&p, 5, 1);
    assert_false(pic8259_intr(&p));
    /* Low then high is an edge. */
    pic8259_set_irq(&p, 5, 0);
    assert_false(pic8259_intr(&p));
    pic8259_set_irq(&p, 5, 1);
    assert_true(pic8259_intr(&p));
    /* In edge mode a latched request survives the line going low. */
    pic8259_set_irq(&p, 5, 0);
    assert_true(pic8259_intr(&p));
    assert_int_equal(pic8259_acknowledge(&p), 0x25);
}

static void test_read_irr_isr(void **state) {
    (void)state;
    struct pic8259 p;
    setup_pics(&p, false);
    pic8259_set_irq(&p, 1, 1);
    pic8259_set_irq(&p, 6, 1);
    pic8259_set_irq(&p, 10, 1);
    pic8259_write(&p, 0x20, 0x0A);
    assert_int_equal(pic8259_read(&p, 0x20), 0x46); /* IR1, IR2 (slave), IR6 */
    assert_int_equal(pic8259_read(&p, 0xA0), 0x04);
    assert_int_equal(pic8259_acknowledge(&p), 0x21);
    pic8259_write(&p, 0x20, 0x0B);
    assert_int_equal(pic8259_read(&p, 0x20), 0x02);
    /* The selection sticks until changed; OCW3 without RR leaves it alone. */
    assert_int_equal(pic8259_read(&p, 0x20), 0x02);
    pic8259_write(&p, 0x20, 0x08);
    assert_int_equal(pic8259_read(&p, 0x20), 0x02);
    pic8259_write(&p, 0x20, 0x0A);
    assert_int_equal(pic8259_read(&p, 0x20), 0x44);
}

static void test_spurious(void **state) {
    (void)state;
    struct pic8259 p;
    setup_pics(&p, false);
    /* INTR seen, then the request is masked before the INTA cycle: IR7, nothing in
     * service. */
    pic8259_set_irq(&p, 3, 1);
    assert_true(pic8259_intr(&p));
    pic8259_write(&p, 0x21, 0x08);
    assert_int_equal(pic8259_acknowledge(&p), 0x27);
    assert_int_equal(read_isr(&p, 0x20), 0x00);
    pic8259_write(&p, 0x21, 0x00);
    /* The same on the slave: the master has latched IR2, the slave's request is masked
     * away; the slave answers IR7 and the master's IR2 is in service. */
    assert_int_equal(pic8259_acknowledge(&p), 0x23);
    pic8259_write(&p, 0x20, 0x20);
    pic8259_set_irq(&p, 11, 1);
    assert_true(pic8259_intr(&p));
    pic8259_write(&p, 0xA1, 0x08);
    assert_int_equal(pic8259_acknowledge(&p), 0x2F);
    assert_int_equal(read_isr(&p, 0x20), 0x04);
    assert_int_equal(read_isr(&p, 0xA0), 0x00);
}

static void test_auto_eoi(void **state) {
    (void)state;
    struct pic8259 p;
    setup_pics(&p, true);
    pic8259_set_irq(&p, 0, 1);
    assert_int_equal(pic8259_acknowledge(&p), 0x20);
    assert_int_equal(read_isr(&p, 0x20), 0x00);
    /* Nothing in service: a lower priority is delivered without an EOI. */
    pic8259_set_irq(&p, 7, 1);
    assert_true(pic8259_intr(&p));
    assert_int_equal(pic8259_acknowledge(&p), 0x27);
    pic8259_set_irq(&p, 9, 1);
    assert_int_equal(pic8259_acknowledge(&p), 0x29);
    assert_int_equal(read_isr(&p, 0x20), 0x00);
    assert_int_equal(read_isr(&p, 0xA0), 0x00);
}

static void test_rotation(void **state) {
    (void)state;
    struct pic8259 p;
    setup_pics(&p, false);
    pic8259_set_irq(&p, 1, 1);
    pic8259_set_irq(&p, 4, 1);
    assert_int_equal(pic8259_acknowledge(&p), 0x21);
    pic8259_write(&p, 0x20, 0xA0); /* rotate on non-specific EOI: IR1 becomes lowest */
    pic8259_set_irq(&p, 0, 1);
    /* Priority is now 2,3,...,7,0,1: IR4 beats IR0. */
    assert_int_equal(pic8259_acknowledge(&p), 0x24);
    pic8259_write(&p, 0x20, 0x20);
    assert_int_equal(pic8259_acknowledge(&p), 0x20);
    /* IR0 in service is now below IR5: IR5 nests, and the non-specific EOI ends IR5 (the
     * highest in service) first. */
    pic8259_set_irq(&p, 5, 1);
    assert_true(pic8259_intr(&p));
    assert_int_equal(pic8259_acknowledge(&p), 0x25);
    pic8259_write(&p, 0x20, 0x20);
    assert_int_equal(read_isr(&p, 0x20), 0x01);
    pic8259_write(&p, 0x20, 0x20);
    /* Set priority: IR5 lowest, so IR6 is highest and beats IR0. */
    pic8259_write(&p, 0x20, 0xC5);
    pic8259_set_irq(&p, 0, 0);
    pic8259_set_irq(&p, 0, 1);
    pic8259_set_irq(&p, 6, 1);
    assert_int_equal(pic8259_acknowledge(&p), 0x26);
}

static void test_special_mask(void **state) {
    (void)state;
    struct pic8259 p;
    setup_pics(&p, false);
    pic8259_set_irq(&p, 1, 1);
    assert_int_equal(pic8259_acknowledge(&p), 0x21);
    /* The IRQ1 handler masks itself and enters special mask mode: lower levels get in. */
    pic8259_write(&p, 0x21, 0x02);
    pic8259_set_irq(&p, 5, 1);
    assert_false(pic8259_intr(&p));
    pic8259_write(&p, 0x20, 0x68); /* OCW3 ESMM|SMM */
    assert_true(pic8259_intr(&p));
    assert_int_equal(pic8259_acknowledge(&p), 0x25);
    pic8259_write(&p, 0x20, 0x48); /* reset special mask */
    pic8259_set_irq(&p, 6, 1);
    assert_false(pic8259_intr(&p));
}

static void test_special_fully_nested(void **state) {
    (void)state;
    struct pic8259 p;
    setup_pics(&p, false);
    /* Without SFNM a slave interrupt in service blocks the whole slave at the master. */
    pic8259_set_irq(&p, 10, 1);
    assert_int_equal(pic8259_acknowledge(&p), 0x2A);
    pic8259_set_irq(&p, 8, 1);
    assert_false(pic8259_intr(&p));
    /* With SFNM (ICW4 = 0x11) on the master, the slave's higher-priority IRQ8 nests. */
    setup_pics(&p, false);
    pic8259_write(&p, 0x20, 0x11);
    pic8259_write(&p, 0x21, 0x20);
    pic8259_write(&p, 0x21, 0x04);
    pic8259_write(&p, 0x21, 0x11);
    pic8259_set_irq(&p, 10, 1);
    assert_int_equal(pic8259_acknowledge(&p), 0x2A);
    pic8259_set_irq(&p, 8, 1);
    assert_true(pic8259_intr(&p));
    assert_int_equal(pic8259_acknowledge(&p), 0x28);
    assert_int_equal(read_isr(&p, 0xA0), 0x05);
    /* A master IR below IR2 stays blocked. */
    pic8259_set_irq(&p, 5, 1);
    assert_false(pic8259_intr(&p));
    /* And IR0 in service still blocks the slave. */
    pic8259_write(&p, 0xA0, 0x20);
    pic8259_write(&p, 0xA0, 0x20);
    pic8259_write(&p, 0x20, 0x20);
    pic8259_set_irq(&p, 0, 1);
    assert_int_equal(pic8259_acknowledge(&p), 0x20);
    pic8259_set_irq(&p, 9, 1);
    assert_false(pic8259_intr(&p));
}

static void test_poll(void **state) {
    (void)state;
    struct pic8259 p;
    setup_pics(&p, false);
    pic8259_write(&p, 0x20, 0x0C); /* OCW3 P */
    assert_int_equal(pic8259_read(&p, 0x20), 0x00);
    pic8259_set_irq(&p, 3, 1);
    pic8259_write(&p, 0x20, 0x0C);
    assert_int_equal(pic8259_read(&p, 0x20), 0x83);
    assert_int_equal(read_isr(&p, 0x20), 0x08);
    assert_false(pic8259_intr(&p));
}

static void test_level_elcr(void **state) {
    (void)state;
    struct pic8259 p;
    setup_pics(&p, false);
    pic8259_elcr_write(&p, 0x4D1, 0xFF);
    assert_int_equal(pic8259_elcr_read(&p, 0x4D1), 0xDE); /* IRQ8 and 13 stay edge */
    pic8259_elcr_write(&p, 0x4D0, 0x07);
    assert_int_equal(pic8259_elcr_read(&p, 0x4D0), 0x00);
    pic8259_set_irq(&p, 11, 1);
    assert_int_equal(pic8259_acknowledge(&p), 0x2B);
    pic8259_write(&p, 0xA0, 0x20);
    pic8259_write(&p, 0x20, 0x20);
    /* Still asserted: level mode requests again after the EOI. */
    assert_true(pic8259_intr(&p));
    assert_int_equal(pic8259_read(&p, 0xA0), 0x08);
    /* The line drops before INTA: the slave's request goes with it, but the master's
     * edge-triggered IR2 has latched the slave's INT, so the slave answers IR7. */
    pic8259_set_irq(&p, 11, 0);
    assert_int_equal(pic8259_read(&p, 0xA0), 0x00);
    assert_true(pic8259_intr(&p));
    assert_int_equal(pic8259_acknowledge(&p), 0x2F);
    assert_int_equal(read_isr(&p, 0xA0), 0x00);
    pic8259_write(&p, 0x20, 0x20);
    assert_false(pic8259_intr(&p));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_on),
        cmocka_unit_test(test_init_sequence),
        cmocka_unit_test(test_irq0_ack_eoi),
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_cascade),
        cmocka_unit_test(test_edge_semantics),
        cmocka_unit_test(test_read_irr_isr),
        cmocka_unit_test(test_spurious),
        cmocka_unit_test(test_auto_eoi),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_special_mask),
        cmocka_unit_test(test_poll),
        cmocka_unit_test(test_special_fully_nested),
        cmocka_unit_test(test_level_elcr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
