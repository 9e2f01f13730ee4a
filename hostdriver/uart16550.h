/* 16550A UART (COM1 console). Transmit goes to a host FILE; receive comes later. */
#ifndef RRVM_HOSTDRIVER_UART16550_H
#define RRVM_HOSTDRIVER_UART16550_H

#include <stdint.h>
#include <stdio.h>

/* Register names follow the National Semiconductor PC16550D datasheet. */
struct uart16550 {
    uint8_t ier; /* interrupt enable */
    uint8_t iir; /* interrupt identification (read) */
    uint8_t fcr; /* FIFO control (write) */
    uint8_t lcr; /* line control; bit 7 = DLAB */
    uint8_t mcr; /* modem control */
    uint8_t lsr; /* line status */
    uint8_t msr; /* modem status */
    uint8_t scr; /* scratch */
    uint16_t divisor;
    FILE *out; /* where transmitted bytes go (NULL: dropped) */
};

void uart16550_init(struct uart16550 *u, FILE *out);
/* reg is the offset from the base port (0-7). */
uint8_t uart16550_read(struct uart16550 *u, unsigned reg);
void uart16550_write(struct uart16550 *u, unsigned reg, uint8_t value);

#endif
