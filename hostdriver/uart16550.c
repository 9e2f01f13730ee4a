/* 16550A UART, register file per the National Semiconductor PC16550D datasheet (Table II,
 * "Summary of Registers"). Only transmit is wired to the host; the receiver never has data,
 * so no interrupt is ever pending and the line status only ever says "transmitter idle". */
#include "hostdriver/uart16550.h"

/* Register offsets from the base port (datasheet Table II). */
enum {
    REG_RBR_THR_DLL = 0, /* receive buffer (read) / transmit holding (write) / divisor LSB */
    REG_IER_DLM = 1,     /* interrupt enable / divisor MSB */
    REG_IIR_FCR = 2,     /* interrupt identification (read) / FIFO control (write) */
    REG_LCR = 3,
    REG_MCR = 4,
    REG_LSR = 5,
    REG_MSR = 6,
    REG_SCR = 7,
};

#define LCR_DLAB 0x80
#define FCR_FIFO_ENABLE 0x01
#define FCR_RX_RESET 0x02 /* self-clearing (datasheet §8.5, FCR bits 1-2) */
#define FCR_TX_RESET 0x04
#define IIR_NO_INT 0x01
#define IIR_FIFOS_ENABLED 0xC0
#define LSR_THRE 0x20 /* transmitter holding register empty */
#define LSR_TEMT 0x40 /* transmitter empty */
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

void uart16550_init(struct uart16550 *u, FILE *out) {
    /* Reset values from the datasheet's "Reset" table (Table IV): IER, FCR, LCR, MCR zero,
     * IIR "no interrupt pending", LSR THRE|TEMT. The divisor latch has no defined reset
     * value; 0 is what QEMU uses too. MSR bits 4-7 reflect the modem inputs: report a
     * connected terminal (CTS, DSR, DCD asserted), as QEMU does, so guests that wait for
     * carrier or clear-to-send do not hang. */
    *u = (struct uart16550){
        .ier = 0,
        .iir = IIR_NO_INT,
        .fcr = 0,
        .lcr = 0,
        .mcr = 0,
        .lsr = LSR_THRE | LSR_TEMT,
        .msr = MSR_CTS | MSR_DSR | MSR_DCD,
        .scr = 0,
        .divisor = 0,
        .out = out,
    };
}

uint8_t uart16550_read(struct uart16550 *u, unsigned reg) {
    const int dlab = (u->lcr & LCR_DLAB) != 0;
    switch (reg & 7) {
    case REG_RBR_THR_DLL:
        /* Nothing is ever received yet, so RBR holds no data. */
        return dlab ? (uint8_t)(u->divisor & 0xff) : 0;
    case REG_IER_DLM: return dlab ? (uint8_t)(u->divisor >> 8) : u->ier;
    case REG_IIR_FCR:
        /* IIR bits 6-7 are set when FCR bit 0 enabled the FIFOs (datasheet §8.6, Table V). */
        return (uint8_t)(u->iir | ((u->fcr & FCR_FIFO_ENABLE) ? IIR_FIFOS_ENABLED : 0));
    case REG_LCR: return u->lcr;
    case REG_MCR: return u->mcr;
    case REG_LSR: return u->lsr;
    case REG_MSR:
        if (u->mcr & MCR_LOOP) {
            /* Loopback (datasheet §8.8, MCR bit 4): the modem inputs are wired internally
             * to the modem outputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD. */
            uint8_t v = 0;
            if (u->mcr & MCR_RTS) v |= MSR_CTS;
            if (u->mcr & MCR_DTR) v |= MSR_DSR;
            if (u->mcr & MCR_OUT1) v |= MSR_RI;
            if (u->mcr & MCR_OUT2) v |= MSR_DCD;
            return v;
        }
        return u->msr;
    default: /* REG_SCR */ return u->scr;
    }
}

void uart16550_write(struct uart16550 *u, unsigned reg, uint8_t value) {
    const int dlab = (u->lcr & LCR_DLAB) != 0;
    switch (reg & 7) {
    case REG_RBR_THR_DLL:
        if (dlab) {
            u->divisor = (uint16_t)((u->divisor & 0xff00) | value);
        } else if (!(u->mcr & MCR_LOOP) && u->out) {
            /* In loopback mode the serial output is held marking (datasheet §8.8), so
             * nothing reaches the wire. The transmitter is infinitely fast: THRE/TEMT
             * stay set. No fflush here: the caller flushes at exit, per-byte flushes
             * would dominate the run time of chatty guests. */
            fputc(value, u->out);
        }
        break;
    case REG_IER_DLM:
        if (dlab)
            u->divisor = (uint16_t)((u->divisor & 0x00ff) | (value << 8));
        else
            u->ier = value & 0x0f; /* bits 4-7 are always 0 (datasheet Table II) */
        break;
    case REG_IIR_FCR:
        /* FCR bits 1-2 reset the FIFOs and clear themselves; they are not stored. */
        u->fcr = value & (uint8_t) ~(FCR_RX_RESET | FCR_TX_RESET);
        break;
    case REG_LCR: u->lcr = value; break;
    case REG_MCR:
        u->mcr = value & 0x1f; /* bits 5-7 are always 0 */
        break;
    case REG_LSR:
        /* LSR is read-only in normal operation (writes are for factory test). */
        break;
    case REG_MSR: u->msr = value; break;
    default: /* REG_SCR */ u->scr = value; break;
    }
}
