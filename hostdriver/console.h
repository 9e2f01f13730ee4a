/* Host terminal backend for COM1: raw, non-blocking input from a host fd with QEMU-style
 * Ctrl-A escapes. Unlike the device models this touches the host (it is the host side of
 * the serial line); what it returns is the input that record/replay must log. */
#ifndef RRVM_HOSTDRIVER_CONSOLE_H
#define RRVM_HOSTDRIVER_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <termios.h>

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

struct console {
    int in_fd;
    bool is_tty;
    bool raw; /* the terminal is in raw mode and `saved` must be restored */
    bool ctrl_a_pending;
    bool eof;
    bool quit_requested;
    struct termios saved;
    int saved_fl; /* file status flags before O_NONBLOCK, restored on close (-1: none) */
};

/* If in_fd is a tty: raw mode (no echo, no canonical input, no ISIG so Ctrl-C goes to the
 * guest; output post-processing kept), restored by console_close and also at exit and on
 * SIGTERM/SIGINT/SIGHUP. The fd is made O_NONBLOCK. Returns false if the terminal could not
 * be configured (errno set). One console at a time is registered for the restore. */
bool console_open(struct console *c, int in_fd);
void console_close(struct console *c);
/* Reads what is available without blocking, up to cap bytes into buf, after Ctrl-A escape
 * processing (only for a tty): Ctrl-A x -> quit_requested, Ctrl-A Ctrl-A -> one Ctrl-A,
 * Ctrl-A h or ? -> help on stderr, Ctrl-A + anything else -> both dropped. Returns the
 * number of bytes for the guest, 0 if none; sets eof at end of input. */
size_t console_poll(struct console *c, uint8_t *buf, size_t cap);
/* Blocks up to timeout_ns waiting for input; true if input may be available. */
bool console_wait(struct console *c, uint64_t timeout_ns);
/* The escape processor alone (pure but for writing help to help_out, may be NULL): filters
 * n bytes from in to out (which may alias in; out gets at most n bytes), updating
 * c->ctrl_a_pending and c->quit_requested. Returns the number of bytes written to out. */
size_t console_filter(struct console *c, const uint8_t *in, size_t n, uint8_t *out, FILE *help_out);

#endif
