/* 16550A UART, register file per the National Semiconductor PC16550D datasheet (Table II,
 * "Summary of Registers"). Transmit is wired to a host FILE; received bytes are pushed in by
 * the caller. There is no baud-rate timing: the transmitter is infinitely fast and a byte
 * is received the moment the caller hands it over, which keeps the model deterministic. */
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
#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* transmitter holding register empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define FCR_FIFO_ENABLE 0x01
#define FCR_RX_RESET 0x02 /* self-clearing (datasheet §8.5, FCR bits 1-2) */
#define FCR_TX_RESET 0x04
#define FCR_TRIGGER 0xC0
#define IIR_NO_INT 0x01
#define IIR_MODEM 0x00
#define IIR_THRE 0x02
#define IIR_RDA 0x04
#define IIR_RLS 0x06
#define IIR_TIMEOUT 0x0C
#define IIR_FIFOS_ENABLED 0xC0
#define LSR_DR 0x01   /* data ready */
#define LSR_OE 0x02   /* overrun error */
#define LSR_PE 0x04   /* parity error */
#define LSR_FE 0x08   /* framing error */
#define LSR_BI 0x10   /* break interrupt */
#define LSR_THRE 0x20 /* transmitter holding register empty */
#define LSR_TEMT 0x40 /* transmitter empty */
#define LSR_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_DELTAS 0x0F
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

static bool fifo_on(const struct uart16550 *u) {
    return (u->fcr & FCR_FIFO_ENABLE) != 0;
}

/* Receive capacity: the 16-byte RCVR FIFO, or the single RBR in 16450 mode (§8.5). */
static unsigned rx_capacity(const struct uart16550 *u) {
    return fifo_on(u) ? UART16550_FIFO_SIZE : 1;
}

/* RCVR FIFO trigger level, FCR bits 6-7 (datasheet Table III, §8.5): 1, 4, 8, 14 bytes. */
static unsigned rx_trigger(const struct uart16550 *u) {
    static const uint8_t levels[4] = {1, 4, 8, 14};
    return levels[(u->fcr & FCR_TRIGGER) >> 6];
}

/* The modem inputs as MSR bits 4-7. In loopback (§8.8, MCR bit 4) they are wired internally
 * to the modem outputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD. */
static uint8_t modem_inputs(const struct uart16550 *u, uint8_t mcr) {
    if (!(mcr & MCR_LOOP)) return u->msr & 0xF0;
    uint8_t v = 0;
    if (mcr & MCR_RTS) v |= MSR_CTS;
    if (mcr & MCR_DTR) v |= MSR_DSR;
    if (mcr & MCR_OUT1) v |= MSR_RI;
    if (mcr & MCR_OUT2) v |= MSR_DCD;
    return v;
}

/* The highest-priority enabled pending interrupt, as IIR bits 0-3 (datasheet Table IV):
 * receiver line status, then received data available / character timeout, then THR
 * empty, then modem status.
 *
 * Character timeout (IIR 0x0C): the datasheet raises it when the RCVR FIFO holds fewer
 * bytes than the trigger level and nothing arrived or was read for four character times.
 * With no baud-rate timing, our choice is: the caller pushes input in bursts between guest
 * I/O instructions, so whenever the guest looks the burst is over and the four character
 * times are deemed to have passed. Hence with FIFOs on, a non-empty FIFO below the trigger
 * level reports 0x0C and one at or above it reports 0x04; either way the interrupt is
 * pending whenever the FIFO is non-empty, so no byte can be stranded. Reading RBR is what
 * clears both (§8.6), as on hardware. */
static uint8_t pending_source(const struct uart16550 *u) {
    if ((u->ier & IER_ELSI) && (u->lsr & LSR_ERRORS)) return IIR_RLS;
    if ((u->ier & IER_ERBFI) && u->rx_count > 0) {
        if (fifo_on(u) && u->rx_count < rx_trigger(u)) return IIR_TIMEOUT;
        return IIR_RDA;
    }
    if ((u->ier & IER_ETBEI) && u->thre_pending) return IIR_THRE;
    if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTAS)) return IIR_MODEM;
    return IIR_NO_INT;
}

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

bool uart16550_receive(struct uart16550 *u, uint8_t byte) {
    if (u->rx_count >= rx_capacity(u)) {
        u->lsr |= LSR_OE;
        if (!fifo_on(u)) {
            /* 16450 mode (LSR bit 1, §8.4): the new character overwrites the unread one
             * in the RBR, so the older byte is the one lost. */
            u->rx[u->rx_head] = byte;
        }
        /* FIFO mode: the character in the shift register is overwritten and never
         * transferred to the full FIFO (§8.4), so the new byte is lost. */
        return false;
    }
    u->rx[(u->rx_head + u->rx_count) % UART16550_FIFO_SIZE] = byte;
    u->rx_count++;
    return true;
}

bool uart16550_rx_ready(const struct uart16550 *u) {
    return u->rx_count < rx_capacity(u);
}

bool uart16550_irq(const struct uart16550 *u) {
    /* On a PC the INTR pin reaches the PIC through a buffer enabled by OUT2. In loopback
     * the OUT pins are forced inactive (§8.8), which gates the line off as well. */
    if (!(u->mcr & MCR_OUT2) || (u->mcr & MCR_LOOP)) return false;
    return pending_source(u) != IIR_NO_INT;
}

static void rx_reset(struct uart16550 *u) {
    u->rx_head = 0;
    u->rx_count = 0;
}

static uint8_t rx_pop(struct uart16550 *u) {
    if (u->rx_count > 0) {
        u->rbr_last = u->rx[u->rx_head];
        u->rx_head = (uint8_t)((u->rx_head + 1) % UART16550_FIFO_SIZE);
        u->rx_count--;
    }
    return u->rbr_last;
}

uint8_t uart16550_read(struct uart16550 *u, unsigned reg) {
    const int dlab = (u->lcr & LCR_DLAB) != 0;
    switch (reg & 7) {
    case REG_RBR_THR_DLL:
        if (dlab) return (uint8_t)(u->divisor & 0xff);
        /* Reading RBR takes the oldest byte and clears RDA / timeout (Table IV). */
        return rx_pop(u);
    case REG_IER_DLM: return dlab ? (uint8_t)(u->divisor >> 8) : u->ier;
    case REG_IIR_FCR: {
        const uint8_t src = pending_source(u);
        /* Reading IIR while THRE is the reported source clears it (Table IV, "Reading
         * the IIR register (if source of interrupt)"). */
        if (src == IIR_THRE) u->thre_pending = false;
        /* IIR bits 6-7 are set when FCR bit 0 enabled the FIFOs (datasheet §8.6, Table V). */
        u->iir = (uint8_t)(src | (fifo_on(u) ? IIR_FIFOS_ENABLED : 0));
        return u->iir;
    }
    case REG_LCR: return u->lcr;
    case REG_MCR: return u->mcr;
    case REG_LSR: {
        /* DR follows the receiver; the error bits are cleared by this read (§8.4). */
        uint8_t v = (uint8_t)(u->lsr | LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0));
        u->lsr &= (uint8_t)~LSR_ERRORS;
        return v;
    }
    case REG_MSR: {
        /* The delta bits are cleared by reading MSR (§8.7). */
        uint8_t v = (uint8_t)(modem_inputs(u, u->mcr) | (u->msr & MSR_DELTAS));
        u->msr &= (uint8_t)~MSR_DELTAS;
        return v;
    }
    default: /* REG_SCR */ return u->scr;
    }
}

static void transmit(struct uart16550 *u, uint8_t value) {
    if (u->mcr & MCR_LOOP) {
        /* Loopback (§8.8): the transmitter shift register feeds the receiver directly and
         * the serial output is held marking, so nothing reaches the host. */
        uart16550_receive(u, value);
    } else if (u->out) {
        /* No fflush here: the caller flushes at exit, per-byte flushes would dominate the
         * run time of chatty guests. */
        fputc(value, u->out);
    }
    /* The transmitter is infinitely fast: THR is empty again at once, which raises the
     * THRE interrupt condition (writing THR cleared it, emptying it sets it again). */
    u->thre_pending = true;
}

void uart16550_write(struct uart16550 *u, unsigned reg, uint8_t value) {
    const int dlab = (u->lcr & LCR_DLAB) != 0;
    switch (reg & 7) {
    case REG_RBR_THR_DLL:
        if (dlab)
            u->divisor = (uint16_t)((u->divisor & 0xff00) | value);
        else
            transmit(u, value);
        break;
    case REG_IER_DLM:
        if (dlab) {
            u->divisor = (uint16_t)((u->divisor & 0x00ff) | (value << 8));
        } else {
            /* Enabling ETBEI while THR is empty raises a THRE interrupt at once (Table IV
             * note; drivers rely on it to kick off transmission). */
            if ((value & IER_ETBEI) && !(u->ier & IER_ETBEI)) u->thre_pending = true;
            u->ier = value & 0x0f; /* bits 4-7 are always 0 (datasheet Table II) */
        }
        break;
    case REG_IIR_FCR: {
        /* §8.5: FCR0 must be 1 for the other bits to be programmed; changing FCR0 clears
         * both FIFOs. Bits 1-2 reset the FIFOs and clear themselves; they are not stored.
         * The XMIT FIFO is always empty (infinitely fast transmitter), so TX reset has
         * nothing to discard. */
        const uint8_t old = u->fcr;
        if (!(value & FCR_FIFO_ENABLE)) {
            u->fcr = 0;
        } else {
            u->fcr = value & (uint8_t) ~(FCR_RX_RESET | FCR_TX_RESET);
            if (value & FCR_RX_RESET) rx_reset(u);
        }
        if ((old ^ u->fcr) & FCR_FIFO_ENABLE) rx_reset(u);
        break;
    }
    case REG_LCR: u->lcr = value; break;
    case REG_MCR: {
        const uint8_t old = u->mcr;
        u->mcr = value & 0x1f; /* bits 5-7 are always 0 */
        /* In loopback the modem-status interrupt sources are the MCR outputs (§8.8): set
         * the delta bits for changes made while looped back. Entering or leaving loopback
         * swaps the source rather than toggling an input, so it sets no delta. */
        if ((old & MCR_LOOP) && (u->mcr & MCR_LOOP)) {
            const uint8_t before = modem_inputs(u, old), after = modem_inputs(u, u->mcr);
            const uint8_t changed = before ^ after;
            if (changed & MSR_CTS) u->msr |= MSR_DCTS;
            if (changed & MSR_DSR) u->msr |= MSR_DDSR;
            if (changed & MSR_DCD) u->msr |= MSR_DDCD;
            /* TERI: RI went from on to off (trailing edge of the ring signal, §8.7). */
            if ((before & MSR_RI) && !(after & MSR_RI)) u->msr |= MSR_TERI;
        }
        break;
    }
    case REG_LSR:
        /* LSR is read-only in normal operation (writes are for factory test). */
        break;
    case REG_MSR: u->msr = value; break;
    default: /* REG_SCR */ u->scr = value; break;
    }
}
