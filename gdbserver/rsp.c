/* GDB remote serial protocol framing (see gdbserver/rsp.h). */
#include "gdbserver/rsp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void rsp_init_fds(struct rsp *r, int in_fd, int out_fd) {
    memset(r, 0, sizeof *r);
    r->in_fd = in_fd;
    r->out_fd = out_fd;
}

int rsp_accept_tcp(struct rsp *r, int port) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        snprintf(r->err, sizeof r->err, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1) < 0) {
        snprintf(r->err, sizeof r->err, "cannot listen on 127.0.0.1:%d: %s", port, strerror(errno));
        close(s);
        return -1;
    }
    fprintf(stderr, "rrvm: waiting for gdb on 127.0.0.1:%d (target remote :%d)\n", port, port);
    int c = accept(s, NULL, NULL);
    close(s);
    if (c < 0) {
        snprintf(r->err, sizeof r->err, "accept: %s", strerror(errno));
        return -1;
    }
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    rsp_init_fds(r, c, c);
    return 0;
}

/* Next input byte, or -1 at the end of the connection. */
static int get_byte(struct rsp *r) {
    if (r->rx_pos == r->rx_len) {
        ssize_t n;
        do
            n = read(r->in_fd, r->rx, sizeof r->rx);
        while (n < 0 && errno == EINTR);
        if (n <= 0) return -1;
        r->rx_len = (size_t)n;
        r->rx_pos = 0;
    }
    return (unsigned char)r->rx[r->rx_pos++];
}

static int write_all(struct rsp *r, const char *p, size_t n) {
    while (n) {
        /* on a socket, a gdb that hung up is an error return, not a SIGPIPE that would end
         * rrvm (and a recording) with it */
        ssize_t w = send(r->out_fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK) w = write(r->out_fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int rsp_recv(struct rsp *r, char *buf, size_t cap) {
    for (;;) {
        int c;
        do {
            c = get_byte(r);
            if (c < 0) return -1;
            if (c == 0x03) {
                r->interrupt_pending = true;
                return -2;
            }
        } while (c != '$');
        size_t n = 0;
        unsigned sum = 0;
        bool overflow = false;
        for (;;) {
            c = get_byte(r);
            if (c < 0) return -1;
            if (c == '#') break;
            sum += (unsigned)c;
            if (c == '}') { /* escaped byte */
                int e = get_byte(r);
                if (e < 0) return -1;
                sum += (unsigned)e;
                c = e ^ 0x20;
            } else if (c == '*' && n > 0) { /* run-length: repeat the previous byte */
                int k = get_byte(r);
                if (k < 0) return -1;
                sum += (unsigned)k;
                int rep = k - 29;
                for (int i = 0; i < rep; i++) {
                    if (n + 1 < cap) {
                        buf[n] = buf[n - 1];
                        n++;
                    } else {
                        overflow = true;
                    }
                }
                continue;
            }
            if (n + 1 < cap)
                buf[n++] = (char)c;
            else
                overflow = true;
        }
        int h1 = get_byte(r), h2 = get_byte(r);
        if (h1 < 0 || h2 < 0) return -1;
        int want = hexval(h1) * 16 + hexval(h2);
        buf[n] = 0;
        if (!r->noack) {
            bool ok = hexval(h1) >= 0 && hexval(h2) >= 0 && want == (int)(sum & 0xff) && !overflow;
            /* an intact packet is acted on even if gdb has already closed the connection
             * (a "k" sent just before it hangs up must still kill) */
            if (write_all(r, ok ? "+" : "-", 1) < 0 && !ok) return -1;
            if (!ok) continue; /* gdb resends */
        }
        return (int)n;
    }
}

int rsp_send(struct rsp *r, const char *data) {
    static char out[2 * RSP_MAX_PACKET + 8];
    size_t n = 0;
    unsigned sum = 0;
    out[n++] = '$';
    for (const char *p = data; *p && n < sizeof out - 8; p++) {
        char c = *p;
        if (c == '$' || c == '#' || c == '}' || c == '*') {
            out[n++] = '}';
            sum += '}';
            c ^= 0x20;
            out[n++] = c;
            sum += (unsigned char)c;
            continue;
        }
        out[n++] = c;
        sum += (unsigned char)c;
        /* run-length encoding (GDB manual, "Overview" of the remote protocol): "c*N" stands
         * for c and N-29 more copies of it. N stays printable and is never '#' or '$'
         * (6 or 7 repeats); runs of 3 or fewer repeats are cheaper as they are. */
        size_t run = 0;
        while (p[run + 1] == c && run < 97)
            run++;
        if (run > 7 || (run > 3 && run < 6)) {
            out[n++] = '*';
            out[n++] = (char)(run + 29);
            sum += '*' + (unsigned)(run + 29);
            p += run;
        } else if (run == 6 || run == 7) {
            out[n++] = '*';
            out[n++] = (char)(5 + 29);
            sum += '*' + (unsigned)(5 + 29);
            p += 5; /* the rest of the run goes out as plain bytes next */
        }
    }
    n += (size_t)snprintf(out + n, 4, "#%02x", sum & 0xff);
    for (int tries = 0; tries < 8; tries++) {
        if (write_all(r, out, n) < 0) return -1;
        if (r->noack) return 0;
        for (;;) {
            int c = get_byte(r);
            if (c < 0) return -1;
            if (c == '+') return 0;
            if (c == '-') break; /* resend */
            if (c == 0x03) r->interrupt_pending = true;
        }
    }
    return -1;
}

bool rsp_poll_interrupt(struct rsp *r) {
    if (r->interrupt_pending) return true;
    while (r->rx_pos < r->rx_len) {
        if (r->rx[r->rx_pos] == 0x03) {
            r->rx_pos++;
            r->interrupt_pending = true;
            return true;
        }
        break;
    }
    struct pollfd p = {.fd = r->in_fd, .events = POLLIN};
    if (r->rx_pos == r->rx_len && poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) {
        ssize_t n = read(r->in_fd, r->rx, sizeof r->rx);
        if (n > 0) {
            r->rx_len = (size_t)n;
            r->rx_pos = 0;
            if (r->rx[0] == 0x03) {
                r->rx_pos = 1;
                r->interrupt_pending = true;
            }
        }
    }
    return r->interrupt_pending;
}

void rsp_close(struct rsp *r) {
    if (r->in_fd >= 0) close(r->in_fd);
    if (r->out_fd >= 0 && r->out_fd != r->in_fd) close(r->out_fd);
    r->in_fd = r->out_fd = -1;
}
