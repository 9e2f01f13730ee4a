/* Host terminal backend for COM1. The terminal settings are process-global host state, so
 * this file keeps one static pointer to the open console: the exit and signal paths need
 * it to put the user's terminal back even when the monitor dies. */
#define _DEFAULT_SOURCE
#include "hostdriver/console.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct console *g_active; /* the console whose terminal must be restored */
static const int restore_signals[] = {SIGTERM, SIGINT, SIGHUP};
static struct sigaction g_old_actions[sizeof restore_signals / sizeof restore_signals[0]];
static bool g_hooks_installed;

/* Async-signal-safe: tcsetattr and fcntl are on the POSIX list. */
static void restore_terminal(struct console *c) {
    if (c->raw) {
        tcsetattr(c->in_fd, TCSANOW, &c->saved);
        c->raw = false;
    }
    if (c->saved_fl != -1) {
        /* O_NONBLOCK is on the open file description, which a tty shares with stdout and
         * the parent shell: leaving it set would break them. */
        fcntl(c->in_fd, F_SETFL, c->saved_fl);
        c->saved_fl = -1;
    }
}

static void restore_at_exit(void) {
    if (g_active) restore_terminal(g_active);
}

static void restore_on_signal(int sig) {
    if (g_active) restore_terminal(g_active);
    /* Re-raise under the disposition that was there before us, so the process still dies
     * (or does whatever it did before) with the right status. */
    for (size_t i = 0; i < sizeof restore_signals / sizeof restore_signals[0]; i++)
        if (restore_signals[i] == sig) sigaction(sig, &g_old_actions[i], NULL);
    raise(sig);
}

static void install_hooks(void) {
    if (g_hooks_installed) return;
    g_hooks_installed = true;
    atexit(restore_at_exit);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = restore_on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof restore_signals / sizeof restore_signals[0]; i++)
        sigaction(restore_signals[i], &sa, &g_old_actions[i]);
}

bool console_open(struct console *c, int in_fd) {
    memset(c, 0, sizeof *c);
    c->in_fd = in_fd;
    c->saved_fl = -1;
    c->is_tty = isatty(in_fd) != 0;
    if (c->is_tty) {
        if (tcgetattr(in_fd, &c->saved) != 0) return false;
        struct termios t = c->saved;
        /* Raw input: no line editing, echo, signal keys (Ctrl-C, Ctrl-Z belong to the guest),
         * flow control or CR/NL translation. Output processing stays on (as QEMU's stdio
         * backend does) so host-side messages still start at column 0. */
        t.c_iflag &= (tcflag_t) ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
        t.c_lflag &= (tcflag_t) ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
        t.c_cflag &= (tcflag_t) ~(CSIZE | PARENB);
        t.c_cflag |= CS8;
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        install_hooks();
        g_active = c;
        if (tcsetattr(in_fd, TCSANOW, &t) != 0) {
            g_active = NULL;
            return false;
        }
        c->raw = true;
    } else {
        install_hooks();
        g_active = c;
    }
    const int fl = fcntl(in_fd, F_GETFL);
    if (fl == -1 || fcntl(in_fd, F_SETFL, fl | O_NONBLOCK) == -1) {
        console_close(c);
        return false;
    }
    c->saved_fl = fl;
    return true;
}

void console_close(struct console *c) {
    restore_terminal(c);
    if (g_active == c) g_active = NULL;
}

static void print_help(FILE *f) {
    if (!f) return;
    fputs("\r\nC-a h    print this help\r\n"
          "C-a x    exit emulator\r\n"
          "C-a C-a  sends C-a\r\n",
          f);
    fflush(f);
}

size_t console_filter(struct console *c, const uint8_t *in, size_t n, uint8_t *out,
                      FILE *help_out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t b = in[i];
        if (c->ctrl_a_pending) {
            c->ctrl_a_pending = false;
            switch (b) {
            case 'x':
            case 'X': c->quit_requested = true; break;
            case CONSOLE_ESCAPE: out[o++] = b; break;
            case 'h':
            case 'H':
            case '?': print_help(help_out); break;
            default: break; /* unknown escape: swallowed, as QEMU's mux does */
            }
        } else if (b == CONSOLE_ESCAPE) {
            c->ctrl_a_pending = true;
        } else {
            out[o++] = b;
        }
    }
    return o;
}

size_t console_poll(struct console *c, uint8_t *buf, size_t cap) {
    if (c->eof || cap == 0) return 0;
    const ssize_t n = read(c->in_fd, buf, cap);
    if (n == 0) {
        c->eof = true; /* end of a pipe or file, or the terminal hung up */
        return 0;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) c->eof = true;
        return 0;
    }
    if (!c->is_tty) return (size_t)n; /* a pipe is data: pass every byte through */
    return console_filter(c, buf, (size_t)n, buf, stderr);
}

bool console_wait(struct console *c, uint64_t timeout_ns) {
    uint64_t ms64 = (timeout_ns + 999999) / 1000000;
    const int ms = ms64 > INT_MAX ? INT_MAX : (int)ms64;
    if (c->eof) {
        /* Nothing will ever arrive; sleep so that a halted guest does not spin. */
        poll(NULL, 0, ms);
        return false;
    }
    struct pollfd p = {.fd = c->in_fd, .events = POLLIN};
    const int r = poll(&p, 1, ms);
    return r > 0;
}
