/* GDB remote serial protocol framing (GDB manual, appendix "Remote Protocol"): $packet#cs
 * with acknowledgments until QStartNoAckMode, escapes ('}' xor 0x20) on input and output,
 * run-length encoded input, and the out-of-band interrupt byte 0x03. */
#ifndef RRVM_GDBSERVER_RSP_H
#define RRVM_GDBSERVER_RSP_H

#include <stdbool.h>
#include <stddef.h>

#define RSP_MAX_PACKET 16384

struct rsp {
    int in_fd, out_fd;
    bool noack;
    bool interrupt_pending; /* a 0x03 arrived */
    char rx[4096];
    size_t rx_len, rx_pos;
    char err[160];
};

/* Listens on 127.0.0.1:port and accepts one connection. Returns 0 or -1 (err). */
int rsp_accept_tcp(struct rsp *r, int port);
void rsp_init_fds(struct rsp *r, int in_fd, int out_fd);
/* Reads one packet into buf (NUL-terminated, unescaped). Returns its length, or -1 when the
 * connection ends. Bad checksums are NAKed and read again. A bare 0x03 sets
 * interrupt_pending and returns -2. */
int rsp_recv(struct rsp *r, char *buf, size_t cap);
/* Sends a packet (escaped), waiting for the ack unless in no-ack mode. */
int rsp_send(struct rsp *r, const char *data);
/* True if 0x03 is waiting on the connection (does not block). */
bool rsp_poll_interrupt(struct rsp *r);
void rsp_close(struct rsp *r);

#endif
