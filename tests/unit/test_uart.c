/* Unit tests of the 16550A model (hostdriver/uart16550.c) and the port dispatch
 * (hostdriver/ioport.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hostdriver/uart16550.h"
#include "hv/machine.h"

/* Everything written to f so far, as a NUL-terminated string in buf. */
static void slurp(FILE *f, char *buf, size_t cap) {
    fflush(f);
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
}

static void test_reset_values(void **state) {
    (void)state;
    struct uart16550 u;
    uart16550_init(&u, NULL);
    assert_int_equal(uart16550_read(&u, 5), 0x60); /* LSR: THRE | TEMT, no data ready */
    assert_int_equal(uart16550_read(&u, 2), 0x01); /* IIR: no interrupt pending */
    assert_int_equal(uart16550_read(&u, 1), 0x00); /* IER */
    assert_int_equal(uart16550_read(&u, 3), 0x00); /* LCR */
    assert_int_equal(uart16550_read(&u, 4), 0x00); /* MCR */
    assert_int_equal(uart16550_read(&u, 0), 0x00); /* RBR: nothing received */
}

static void test_transmit(void **state) {
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    struct uart16550 u;
    uart16550_init(&u, f);
    const char *msg = "hello\n";
    for (const char *p = msg; *p; p++)
        uart16550_write(&u, 0, (uint8_t)*p);
    char buf[64];
    slurp(f, buf, sizeof buf);
    assert_string_equal(buf, msg);
    /* The transmitter is always ready again. */
    assert_int_equal(uart16550_read(&u, 5), 0x60);
    fclose(f);
}

static void test_null_out_drops(void **state) {
    (void)state;
    struct uart16550 u;
    uart16550_init(&u, NULL);
    uart16550_write(&u, 0, 'x'); /* must not crash */
    assert_int_equal(uart16550_read(&u, 5), 0x60);
}

static void test_divisor_latch(void **state) {
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    struct uart16550 u;
    uart16550_init(&u, f);
    uart16550_write(&u, 1, 0x05); /* IER */
    uart16550_write(&u, 3, 0x83); /* DLAB=1, 8N1 */
    uart16550_write(&u, 0, 0x03); /* DLL: 38400 baud */
    uart16550_write(&u, 1, 0x01); /* DLM */
    assert_int_equal(u.divisor, 0x0103);
    assert_int_equal(uart16550_read(&u, 0), 0x03);
    assert_int_equal(uart16550_read(&u, 1), 0x01);
    uart16550_write(&u, 3, 0x03); /* DLAB=0 */
    assert_int_equal(uart16550_read(&u, 3), 0x03);
    /* The divisor writes neither transmitted anything nor touched IER. */
    assert_int_equal(uart16550_read(&u, 1), 0x05);
    char buf[16];
    slurp(f, buf, sizeof buf);
    assert_string_equal(buf, "");
    fclose(f);
}

static void test_fifo_iir_bits(void **state) {
    (void)state;
    struct uart16550 u;
    uart16550_init(&u, NULL);
    uart16550_write(&u, 2, 0xC7); /* enable + reset both FIFOs, trigger level 14 */
    assert_int_equal(uart16550_read(&u, 2), 0xC1);
    uart16550_write(&u, 2, 0x00);
    assert_int_equal(uart16550_read(&u, 2), 0x01);
}

static void test_scratch_mcr_ier(void **state) {
    (void)state;
    struct uart16550 u;
    uart16550_init(&u, NULL);
    uart16550_write(&u, 7, 0x5A);
    assert_int_equal(uart16550_read(&u, 7), 0x5A);
    uart16550_write(&u, 4, 0xEB); /* bits 5-7 do not exist */
    assert_int_equal(uart16550_read(&u, 4), 0x0B);
    uart16550_write(&u, 1, 0xFF); /* IER bits 4-7 read as 0 */
    assert_int_equal(uart16550_read(&u, 1), 0x0F);
}

static void test_loopback(void **state) {
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    struct uart16550 u;
    uart16550_init(&u, f);
    uart16550_write(&u, 4, 0x1E); /* LOOP | OUT2 | OUT1 | RTS */
    /* RTS->CTS, OUT1->RI, OUT2->DCD; DTR is off so DSR is off. */
    assert_int_equal(uart16550_read(&u, 6), 0xD0);
    uart16550_write(&u, 0, 'z'); /* held marking: does not reach the host */
    char buf[16];
    slurp(f, buf, sizeof buf);
    assert_string_equal(buf, "");
    fclose(f);
}

static struct machine *new_machine(FILE *out) {
    struct machine *m = calloc(1, sizeof *m);
    assert_non_null(m);
    uart16550_init(&m->com1, out);
    return m;
}

static void test_ioport_com1(void **state) {
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    struct machine *m = new_machine(f);
    ioport_write(m, 0x3F8, 1, 'A');
    ioport_write(m, 0x3F8, 1, 'B' | 0xff00); /* only the byte counts */
    assert_int_equal(ioport_read(m, 0x3FD, 1), 0x60);
    assert_int_equal(ioport_read(m, 0x3FA, 1), 0x01);
    /* A 16-bit access is two byte accesses: 0x3FF is SCR, 0x400 is unassigned. */
    ioport_write(m, 0x3FF, 1, 0x42);
    assert_int_equal(ioport_read(m, 0x3FF, 2), 0xFF42);
    /* 32-bit read of LSR, MSR, SCR, unassigned. */
    assert_int_equal(ioport_read(m, 0x3FD, 4), 0xFF42B060u);
    char buf[16];
    slurp(f, buf, sizeof buf);
    assert_string_equal(buf, "AB");
    assert_false(m->exited);
    free(m);
    fclose(f);
}

static void test_ioport_unassigned(void **state) {
    (void)state;
    struct machine *m = new_machine(NULL);
    assert_int_equal(ioport_read(m, 0x80, 1), 0xFF);
    assert_int_equal(ioport_read(m, 0x60, 2), 0xFFFF);
    assert_int_equal(ioport_read(m, 0xCF8, 4), 0xFFFFFFFFu);
    assert_int_equal(ioport_read(m, 0xF4, 1), 0xFF);
    ioport_write(m, 0x80, 1, 0x12);
    ioport_write(m, 0x2F8, 1, 'x');
    assert_false(m->exited);
    free(m);
}

static void test_debug_exit(void **state) {
    (void)state;
    struct machine *m = new_machine(NULL);
    ioport_write(m, 0xF4, 1, 0x10);
    assert_true(m->exited);
    assert_int_equal(m->exit_status, 0x21);
    m->exited = false;
    ioport_write(m, 0xF4, 1, 0x1FF); /* OUTB: only AL is written */
    assert_true(m->exited);
    assert_int_equal(m->exit_status & 0xff, 0xFF);
    ioport_write(m, 0xF4, 4, 0x80); /* OUTL: (0x80 << 1) | 1 = 0x101, exit status 1 */
    assert_int_equal(m->exit_status & 0xff, 0x01);
    ioport_write(m, 0xF4, 4, 0);
    assert_int_equal(m->exit_status, 1);
    free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_values),      cmocka_unit_test(test_transmit),
        cmocka_unit_test(test_null_out_drops),    cmocka_unit_test(test_divisor_latch),
        cmocka_unit_test(test_fifo_iir_bits),     cmocka_unit_test(test_scratch_mcr_ier),
        cmocka_unit_test(test_loopback),          cmocka_unit_test(test_ioport_com1),
        cmocka_unit_test(test_ioport_unassigned), cmocka_unit_test(test_debug_exit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
