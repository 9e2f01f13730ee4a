/* 16550A UART (COM1 console). Transmit goes to a host FILE; received bytes are pushed in by
 * the caller (uart16550_receive), so the model never touches a host fd and is deterministic. */
#ifndef RRVM_HOSTDRIVER_UART16550_H
#define RRVM_HOSTDRIVER_UART16550_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define UART16550_FIFO_SIZE 16

/* Register names follow the National Semiconductor PC16550D datasheet. */
struct uart16550 {
    uint8_t ier; /* interrupt enable */
    uint8_t iir; /* interrupt identification as last read by the guest */
    uint8_t fcr; /* FIFO control (write) */
    uint8_t lcr; /* line control; bit 7 = DLAB */
    uint8_t mcr; /* modem control */
    uint8_t lsr; /* line status: THRE/TEMT and the sticky error bits (OE); DR is derived */
    uint8_t msr; /* modem status: inputs (bits 4-7) and delta bits (0-3) */
    uint8_t scr; /* scratch */
    uint16_t divisor;
    FILE *out; /* where transmitted bytes go (NULL: dropped) */

    /* Receiver: a ring of received bytes; capacity 16 with FIFOs on, 1 (the RBR) when off. */
    uint8_t rx[UART16550_FIFO_SIZE];
    uint8_t rx_head;   /* index of the oldest byte */
    uint8_t rx_count;  /* bytes waiting */
    uint8_t rbr_last;  /* what RBR reads when nothing is waiting (the last byte read) */
    bool thre_pending; /* THR-empty interrupt condition (datasheet Table IV, priority 3) */
};

void uart16550_init(struct uart16550 *u, FILE *out);
/* reg is the offset from the base port (0-7). */
uint8_t uart16550_read(struct uart16550 *u, unsigned reg);
void uart16550_write(struct uart16550 *u, unsigned reg, uint8_t value);

/* A byte arrives on the serial input: into the RX FIFO (or the RBR when FIFOs are off).
 * Returns false if a byte was lost to an overrun (LSR OE is then set). */
bool uart16550_receive(struct uart16550 *u, uint8_t byte);
/* True if the guest could take another byte without an overrun (paces terminal input). */
bool uart16550_rx_ready(const struct uart16550 *u);
/* Level of the interrupt line as seen by the PIC (IRQ4 for COM1): an enabled interrupt is
 * pending AND MCR OUT2 is set (a PC gates INTR with OUT2), and not in loopback mode. */
bool uart16550_irq(const struct uart16550 *u);

#endif
