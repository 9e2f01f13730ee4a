/* Unit tests of the 16550A model (hostdriver/uart16550.c), the port dispatch
 * (hostdriver/ioport.c) and the COM1 host console backend (hostdriver/console.c). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <cmocka.h>

#include "hostdriver/console.h"
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

static void test_rx_fifo_order(void **state) {
    (void)state;
    struct uart16550 u;
    uart16550_init(&u, NULL);
    uart16550_write(&u, 2, 0x07); /* FIFOs on, trigger level 1 */
    for (int i = 0; i < 16; i++)
        assert_true(uart16550_receive(&u, (uint8_t)('a' + i)));
    assert_false(uart16550_rx_ready(&u));
    assert_int_equal(uart16550_read(&u, 5) & 0x01, 0x01); /* DR */
    for (int i = 0; i < 16; i++)
        assert_int_equal(uart16550_read(&u, 0), 'a' + i);
    assert_int_equal(uart16550_read(&u, 5), 0x60); /* DR clear, no error */
    assert_true(uart16550_rx_ready(&u));
}

static void test_rx_overrun(void **state) {
    (void)state;
    struct uart16550 u;
    uart16550_init(&u, NULL);
    uart16550_write(&u, 2, 0x01);
    for (int i = 0; i < 16; i++)
        assert_true(uart16550_receive(&u, (uint8_t)i));
    assert_false(uart16550_receive(&u, 0xEE));     /* lost */
    assert_int_equal(uart16550_read(&u, 5), 0x63); /* DR | OE | THRE | TEMT */
    assert_int_equal(uart16550_read(&u, 5), 0x61); /* OE cleared by the read */
    for (int i = 0; i < 16; i++)
        assert_int_equal(uart16550_read(&u, 0), i); /* the FIFO kept the old bytes */
    /* FIFOs off: one-byte RBR, the new byte overwrites. */
    uart16550_write(&u, 2, 0x00);
    assert_true(uart16550_receive(&u, 'p'));
    assert_false(uart16550_rx_ready(&u));
    assert_false(uart16550_receive(&u, 'q'));
    assert_int_equal(uart16550_read(&u, 5), 0x63);
    assert_int_equal(uart16550_read(&u, 0), 'q');
    assert_int_equal(uart16550_read(&u, 5), 0x60);
}

static void test_rx_line_status_irq(void **state) {
    (void)state;
    struct uart16550 u;
    uart16550_init(&u, NULL);
    uart16550_write(&u, 1, 0x05); /* RDA + line status */
    assert_true(uart16550_receive(&u, 'x'));
    assert_false(uart16550_receive(&u, 'y'));
    assert_int_equal(uart16550_read(&u, 2), 0x06); /* line status beats data */
    uart16550_read(&u, 5);
    assert_int_equal(uart16550_read(&u, 2), 0x04);
    uart16550_read(&u, 0);
    assert_int_equal(uart16550_read(&u, 2), 0x01);
}

static void test_iir_rda_over_thre(void **state) {
    (void)state;
    struct uart16550 u;
    uart16550_init(&u, NULL);
    uart16550_write(&u, 1, 0x03); /* RDA + THRE; enabling THRE with THR empty raises it */
    uart16550_receive(&u, 'k');
    assert_int_equal(uart16550_read(&u, 2), 0x04); /* RDA first */
    assert_int_equal(uart16550_read(&u, 2), 0x04); /* reading IIR does not clear RDA */
    assert_int_equal(uart16550_read(&u, 0), 'k');
    assert_int_equal(uart16550_read(&u, 2), 0x02); /* then THRE, still pending */
    assert_int_equal(uart16550_read(&u, 2), 0x01);
}

static void test_rx_trigger_and_timeout(void **state) {
    (void)state;
    struct uart16550 u;
    uart16550_init(&u, NULL);
    uart16550_write(&u, 1, 0x01);
    uart16550_write(&u, 2, 0x81); /* FIFOs on, trigger level 8 */
    uart16550_receive(&u, '1');
    assert_int_equal(uart16550_read(&u, 2), 0xCC); /* below trigger: character timeout */
    for (int i = 0; i < 7; i++)
        uart16550_receive(&u, '2');
    assert_int_equal(uart16550_read(&u, 2), 0xC4); /* at trigger: data available */
    uart16550_write(&u, 2, 0x83);                  /* RX FIFO reset */
    assert_int_equal(uart16550_read(&u, 2), 0xC1);
    assert_int_equal(uart16550_read(&u, 5) & 0x01, 0);
}

static void test_thre_interrupt(void **state) {
    (void)state;
    struct uart16550 u;
    uart16550_init(&u, NULL);
    uart16550_write(&u, 4, 0x08); /* OUT2 */
    assert_false(uart16550_irq(&u));
    uart16550_write(&u, 1, 0x02); /* enable THRE while THR is empty: raised at once */
    assert_true(uart16550_irq(&u));
    assert_int_equal(uart16550_read(&u, 2), 0x02);
    assert_false(uart16550_irq(&u)); /* cleared by reading IIR */
    assert_int_equal(uart16550_read(&u, 2), 0x01);
    uart16550_write(&u, 1, 0x02); /* rewriting the same IER does not raise it again */
    assert_false(uart16550_irq(&u));
    uart16550_write(&u, 0, 'a'); /* THR written and empty again */
    assert_true(uart16550_irq(&u));
    uart16550_write(&u, 1, 0x00); /* masked */
    assert_false(uart16550_irq(&u));
    assert_int_equal(uart16550_read(&u, 2), 0x01);
}

static void test_irq_needs_out2(void **state) {
    (void)state;
    struct uart16550 u;
    uart16550_init(&u, NULL);
    uart16550_write(&u, 1, 0x01);
    uart16550_receive(&u, 'z');
    assert_int_equal(uart16550_read(&u, 2), 0x04);
    assert_false(uart16550_irq(&u)); /* pending but OUT2 off */
    uart16550_write(&u, 4, 0x0B);    /* DTR RTS OUT2 */
    assert_true(uart16550_irq(&u));
    uart16550_read(&u, 0);
    assert_false(uart16550_irq(&u));
}

static void test_loopback_receive(void **state) {
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    struct uart16550 u;
    uart16550_init(&u, f);
    uart16550_write(&u, 2, 0x01);
    uart16550_write(&u, 4, 0x10); /* LOOP */
    uart16550_write(&u, 0, 'L');
    uart16550_write(&u, 0, 'B');
    assert_int_equal(uart16550_read(&u, 5) & 0x01, 0x01);
    assert_int_equal(uart16550_read(&u, 0), 'L');
    assert_int_equal(uart16550_read(&u, 0), 'B');
    uart16550_write(&u, 4, 0x00);
    uart16550_write(&u, 0, 'W');
    assert_int_equal(uart16550_read(&u, 5) & 0x01, 0);
    char buf[16];
    slurp(f, buf, sizeof buf);
    assert_string_equal(buf, "W");
    fclose(f);
}

static void test_modem_status_loopback(void **state) {
    (void)state;
    struct uart16550 u;
    uart16550_init(&u, NULL);
    uart16550_write(&u, 1, 0x08);
    uart16550_write(&u, 4, 0x10); /* LOOP: switching the source sets no delta */
    assert_int_equal(uart16550_read(&u, 2), 0x01);
    uart16550_write(&u, 4, 0x12); /* RTS -> CTS changes */
    assert_int_equal(uart16550_read(&u, 2), 0x00);
    assert_int_equal(uart16550_read(&u, 6), 0x11); /* CTS | DCTS */
    assert_int_equal(uart16550_read(&u, 6), 0x10); /* delta cleared by the read */
    assert_int_equal(uart16550_read(&u, 2), 0x01);
}

/* Escape processing as a pure function. */
static void test_console_filter(void **state) {
    (void)state;
    struct console c = {.is_tty = true};
    uint8_t out[16];
    const uint8_t in1[] = {'a', 0x01, 0x01, 'b', 0x01};
    assert_int_equal(console_filter(&c, in1, sizeof in1, out, NULL), 3);
    assert_memory_equal(out, "a\001b", 3);
    assert_true(c.ctrl_a_pending); /* escape split across reads */
    assert_false(c.quit_requested);
    const uint8_t in2[] = {'x', 'c'};
    assert_int_equal(console_filter(&c, in2, sizeof in2, out, NULL), 1);
    assert_int_equal(out[0], 'c');
    assert_true(c.quit_requested);
    FILE *help = tmpfile();
    assert_non_null(help);
    const uint8_t in3[] = {0x01, 'h', 0x03};
    assert_int_equal(console_filter(&c, in3, sizeof in3, out, help), 1);
    assert_int_equal(out[0], 0x03); /* Ctrl-C goes to the guest */
    char buf[256];
    slurp(help, buf, sizeof buf);
    assert_non_null(strstr(buf, "C-a x"));
    fclose(help);
}

/* A pipe is data: Ctrl-A passes through, EOF is reported. */
static void test_console_pipe(void **state) {
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct console c;
    assert_true(console_open(&c, p[0]));
    assert_false(c.is_tty);
    uint8_t buf[16];
    assert_int_equal(console_poll(&c, buf, sizeof buf), 0); /* nothing yet, no blocking */
    assert_false(c.eof);
    assert_false(console_wait(&c, 1000000));
    assert_int_equal(write(p[1], "\001x", 2), 2);
    assert_true(console_wait(&c, 1000000000));
    assert_int_equal(console_poll(&c, buf, sizeof buf), 2);
    assert_memory_equal(buf, "\001x", 2);
    assert_false(c.quit_requested);
    close(p[1]);
    assert_int_equal(console_poll(&c, buf, sizeof buf), 0);
    assert_true(c.eof);
    console_close(&c);
    assert_int_equal(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0); /* flags restored */
    close(p[0]);
}

/* A pseudo-terminal: raw mode, escapes, restore on close. */
static void test_console_pty(void **state) {
    (void)state;
    const int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0) skip();
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    const int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    assert_true(slave >= 0);
    struct termios before;
    assert_int_equal(tcgetattr(slave, &before), 0);
    assert_true(before.c_lflag & ICANON);
    struct console c;
    assert_true(console_open(&c, slave));
    assert_true(c.is_tty);
    struct termios t;
    assert_int_equal(tcgetattr(slave, &t), 0);
    assert_int_equal(t.c_lflag & (ICANON | ECHO | ISIG), 0);
    /* Ctrl-C reaches the guest as a byte; no newline needed (not canonical). */
    assert_int_equal(write(master, "q\003\001\001\001x", 6), 6);
    assert_true(console_wait(&c, 1000000000));
    uint8_t buf[16];
    size_t n = 0;
    for (int tries = 0; tries < 100 && !c.quit_requested; tries++) {
        n += console_poll(&c, buf + n, sizeof buf - n);
        if (!c.quit_requested) console_wait(&c, 10000000);
    }
    assert_int_equal(n, 3);
    assert_memory_equal(buf, "q\003\001", 3);
    assert_true(c.quit_requested);
    console_close(&c);
    assert_int_equal(tcgetattr(slave, &t), 0);
    assert_true(t.c_lflag & ICANON);
    assert_true(t.c_lflag & ECHO);
    close(slave);
    close(master);
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
    assert_int_equal(ioport_read(m, 0x2F8, 2), 0xFFFF);      /* COM2: absent */
    assert_int_equal(ioport_read(m, 0x378, 4), 0xFFFFFFFFu); /* LPT1: absent */
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
        cmocka_unit_test(test_reset_values),
        cmocka_unit_test(test_transmit),
        cmocka_unit_test(test_null_out_drops),
        cmocka_unit_test(test_divisor_latch),
        cmocka_unit_test(test_fifo_iir_bits),
        cmocka_unit_test(test_scratch_mcr_ier),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_ioport_com1),
        cmocka_unit_test(test_ioport_unassigned),
        cmocka_unit_test(test_debug_exit),
        cmocka_unit_test(test_rx_fifo_order),
        cmocka_unit_test(test_rx_overrun),
        cmocka_unit_test(test_rx_line_status_irq),
        cmocka_unit_test(test_iir_rda_over_thre),
        cmocka_unit_test(test_rx_trigger_and_timeout),
        cmocka_unit_test(test_thre_interrupt),
        cmocka_unit_test(test_irq_needs_out2),
        cmocka_unit_test(test_loopback_receive),
        cmocka_unit_test(test_modem_status_loopback),
        cmocka_unit_test(test_console_filter),
        cmocka_unit_test(test_console_pipe),
        cmocka_unit_test(test_console_pty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
