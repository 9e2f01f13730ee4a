/* Intel 8259A pair as wired in the PC: the master's IR2 is the slave's INT output. Section
 * names below refer to the Intel 8259A datasheet ("8259A Programmable Interrupt
 * Controller", order no. 231468): "Interrupt Sequence", "Initialization Command Words",
 * "Operation Command Words", "Fully Nested Mode", "Automatic Rotation", "Special Mask Mode",
 * "Poll Command", "Edge and Level Triggered Modes", "The Cascade Buffer/Comparator".
 *
 * The model keeps the INT output of each chip implicit: it is recomputed from IRR, ISR and
 * IMR whenever asked, except that the slave's INT is pushed into the master's IR2 input
 * after every change (update_cascade), because the master's IR2 is edge-sensitive like any
 * other input and must see the transitions. */
#include "hostdriver/pic8259.h"

#define CASCADE_IR 2 /* the PC wires the slave's INT to master IR2 */

/* ICW1 (A0 = 0, D4 = 1), datasheet "Initialization Command Words", Figure 6. */
#define ICW1_IC4 0x01
#define ICW1_SNGL 0x02
#define ICW1_LTIM 0x08
#define ICW1_SELECT 0x10
/* ICW4 */
#define ICW4_AEOI 0x02
#define ICW4_SFNM 0x10
/* OCW3 (A0 = 0, D4 = 0, D3 = 1), datasheet "Operation Command Words", Figure 7. */
#define OCW3_SELECT 0x08
#define OCW3_RIS 0x01
#define OCW3_RR 0x02
#define OCW3_P 0x04
#define OCW3_SMM 0x20
#define OCW3_ESMM 0x40
/* Poll word: I bit (datasheet "Poll Command"). */
#define POLL_INT 0x80

/* Priority rank of IR n: 0 is the highest. The IR after the lowest-priority one has the
 * highest priority (datasheet "Automatic Rotation"). */
static unsigned rank(const struct pic8259_chip *c, unsigned n) {
    return (n - c->lowest_priority - 1u) & 7u;
}

/* The highest-priority IR set in bits, or -1. */
static int highest(const struct pic8259_chip *c, uint8_t bits) {
    if (!bits) return -1;
    for (unsigned r = 0; r < 8; r++) {
        unsigned n = (c->lowest_priority + 1u + r) & 7u;
        if (bits & (1u << n)) return (int)n;
    }
    return -1;
}

static bool is_level(const struct pic8259_chip *c, uint8_t mask) {
    return c->ltim || (c->elcr & mask);
}

/* The IR this chip would present on INT, or -1: the highest unmasked request, if it has a
 * higher priority than every level in service (datasheet "Fully Nested Mode"). In special
 * mask mode masked levels in service inhibit nothing ("Special Mask Mode"). In special
 * fully nested mode a master lets a slave interrupt through while that slave's own IR is in
 * service, since the slave has already ranked it ("Special Fully Nested Mode"). */
static int pending(const struct pic8259_chip *c, bool master) {
    int req = highest(c, c->irr & (uint8_t)~c->imr);
    if (req < 0) return -1;
    uint8_t isr = c->isr;
    if (c->special_mask) isr &= (uint8_t)~c->imr;
    int svc = highest(c, isr);
    if (svc < 0) return req;
    if (rank(c, (unsigned)req) < rank(c, (unsigned)svc)) return req;
    if (master && c->sfnm && req == svc && (c->icw3 & (1u << req))) return req;
    return -1;
}

/* An IR input changes level (datasheet "Edge and Level Triggered Modes"): edge mode latches
 * a request on a rising edge only; level mode follows the input. */
static void set_input(struct pic8259_chip *c, unsigned n, bool level) {
    const uint8_t m = (uint8_t)(1u << n);
    if (is_level(c, m)) {
        if (level)
            c->irr |= m;
        else
            c->irr &= (uint8_t)~m;
    } else if (level && !(c->last_level & m)) {
        c->irr |= m;
    }
    if (level)
        c->last_level |= m;
    else
        c->last_level &= (uint8_t)~m;
}

static void update_cascade(struct pic8259 *p) {
    set_input(&p->chip[0], CASCADE_IR, pending(&p->chip[1], false) >= 0);
}

/* IRR -> ISR for the granted IR (first INTA pulse). In level mode the request stays as long
 * as the input does; in edge mode it is consumed. AEOI ends the service at the end of the
 * INTA sequence, rotating if asked (datasheet "Automatic End of Interrupt Mode"). */
static void grant(struct pic8259_chip *c, unsigned n) {
    const uint8_t m = (uint8_t)(1u << n);
    if (!is_level(c, m)) c->irr &= (uint8_t)~m;
    if (c->auto_eoi) {
        if (c->rotate_on_aeoi) c->lowest_priority = (uint8_t)n;
    } else {
        c->isr |= m;
    }
}

/* ICW1: datasheet "Initialization Command Words": edge sense reset, IMR cleared, IR7 lowest
 * priority, special mask mode off, status read set to IRR, ICW4 functions zero without IC4.
 * ISR and the edge-latched requests are cleared too, as QEMU and the PC chipsets do. */
static void icw1(struct pic8259_chip *c, uint8_t v) {
    c->icw4_needed = (v & ICW1_IC4) != 0;
    c->single = (v & ICW1_SNGL) != 0;
    c->ltim = (v & ICW1_LTIM) != 0;
    c->last_level = 0;
    c->irr &= c->ltim ? 0xff : c->elcr;
    c->isr = 0;
    c->imr = 0;
    c->lowest_priority = 7;
    c->special_mask = 0;
    c->read_isr = 0;
    c->poll = 0;
    c->auto_eoi = 0;
    c->sfnm = 0;
    c->rotate_on_aeoi = 0;
    c->icw_step = 1;
}

/* OCW2, datasheet "Operation Command Words" Figure 7 (R, SL, EOI in D7-D5, L2-L0). */
static void ocw2(struct pic8259_chip *c, uint8_t v) {
    const unsigned level = v & 7u;
    switch (v >> 5) {
    case 1: /* non-specific EOI */
    case 5: /* rotate on non-specific EOI */ {
        int n = highest(c, c->isr);
        if (n < 0) break;
        c->isr &= (uint8_t) ~(1u << n);
        if (v >> 5 == 5) c->lowest_priority = (uint8_t)n;
        break;
    }
    case 3: c->isr &= (uint8_t) ~(1u << level); break; /* specific EOI */
    case 7:                                            /* rotate on specific EOI */
        c->isr &= (uint8_t) ~(1u << level);
        c->lowest_priority = (uint8_t)level;
        break;
    case 6: c->lowest_priority = (uint8_t)level; break; /* set priority */
    case 4: c->rotate_on_aeoi = 1; break;
    case 0: c->rotate_on_aeoi = 0; break;
    default: break; /* 2: no operation */
    }
}

static void ocw3(struct pic8259_chip *c, uint8_t v) {
    if (v & OCW3_RR) c->read_isr = (v & OCW3_RIS) != 0;
    if (v & OCW3_ESMM) c->special_mask = (v & OCW3_SMM) != 0;
    if (v & OCW3_P) c->poll = 1;
}

static void chip_reset(struct pic8259_chip *c, uint8_t elcr_mask) {
    /* Power-on: the datasheet leaves the registers undefined until ICW1. Like QEMU, start
     * unmasked, vector base 0, fixed priority, operational (the BIOS, or the guest,
     * initializes the chips before enabling interrupts). */
    *c = (struct pic8259_chip){.lowest_priority = 7, .elcr_mask = elcr_mask};
}

void pic8259_init(struct pic8259 *p) {
    /* ELCR bits that a PIIX lets software set: IRQ0, 1, 2, 8 and 13 are always edge
     * triggered (PIIX3 datasheet, ELCR1/ELCR2 register descriptions). */
    chip_reset(&p->chip[0], 0xF8);
    chip_reset(&p->chip[1], 0xDE);
}

static struct pic8259_chip *port_chip(struct pic8259 *p, uint16_t port) {
    return &p->chip[(port & 0x80) ? 1 : 0];
}

uint8_t pic8259_read(struct pic8259 *p, uint16_t port) {
    struct pic8259_chip *c = port_chip(p, port);
    const bool master = c == &p->chip[0];
    if (c->poll) {
        /* Poll: the next RD pulse acts as an interrupt acknowledge and returns I and the
         * IR (datasheet "Poll Command"), whichever A0 is. */
        c->poll = 0;
        int n = pending(c, master);
        if (n < 0) return 0;
        grant(c, (unsigned)n);
        update_cascade(p);
        return (uint8_t)(POLL_INT | n);
    }
    if (port & 1) return c->imr;
    return c->read_isr ? c->isr : c->irr;
}

void pic8259_write(struct pic8259 *p, uint16_t port, uint8_t v) {
    struct pic8259_chip *c = port_chip(p, port);
    if (!(port & 1)) {
        if (v & ICW1_SELECT)
            icw1(c, v);
        else if (v & OCW3_SELECT)
            ocw3(c, v);
        else
            ocw2(c, v);
    } else {
        switch (c->icw_step) {
        case 1: /* ICW2: T7-T3; the 8259A supplies the low three bits itself */
            c->vector_base = v & 0xF8;
            c->icw_step = !c->single ? 2 : c->icw4_needed ? 3 : 0;
            break;
        case 2: /* ICW3 */
            c->icw3 = v;
            c->icw_step = c->icw4_needed ? 3 : 0;
            break;
        case 3: /* ICW4; uPM (8086 mode) is assumed whatever D0 says, as on every PC */
            c->auto_eoi = (v & ICW4_AEOI) != 0;
            c->sfnm = (v & ICW4_SFNM) != 0;
            c->icw_step = 0;
            break;
        default: c->imr = v; break; /* OCW1 */
        }
    }
    update_cascade(p);
}

void pic8259_set_irq(struct pic8259 *p, int irq, int level) {
    if (irq < 0 || irq > 15 || irq == CASCADE_IR) return;
    set_input(&p->chip[irq >> 3], (unsigned)irq & 7u, level != 0);
    update_cascade(p);
}

bool pic8259_intr(const struct pic8259 *p) {
    return pending(&p->chip[0], true) >= 0;
}

uint8_t pic8259_acknowledge(struct pic8259 *p) {
    struct pic8259_chip *m = &p->chip[0], *s = &p->chip[1];
    uint8_t vector;
    int n = pending(m, true);
    if (n < 0) {
        /* The request went away before INTA: the 8259A answers with IR7 and sets no ISR
         * bit (datasheet "Interrupt Sequence", step 4 note). */
        vector = (uint8_t)(m->vector_base | 7);
    } else {
        grant(m, (unsigned)n);
        if (n == CASCADE_IR && !m->single) {
            /* The slave supplies the vector (datasheet "The Cascade Buffer/Comparator"),
             * or IR7 of its own if its request vanished; the master's IR2 stays in
             * service either way, which is why handlers of a spurious IRQ15 still send
             * the master an EOI. */
            int k = pending(s, false);
            if (k < 0) {
                vector = (uint8_t)(s->vector_base | 7);
            } else {
                grant(s, (unsigned)k);
                vector = (uint8_t)(s->vector_base | k);
            }
        } else {
            vector = (uint8_t)(m->vector_base | n);
        }
    }
    update_cascade(p);
    return vector;
}

uint8_t pic8259_elcr_read(const struct pic8259 *p, uint16_t port) {
    return p->chip[port & 1].elcr;
}

void pic8259_elcr_write(struct pic8259 *p, uint16_t port, uint8_t v) {
    struct pic8259_chip *c = &p->chip[port & 1];
    c->elcr = v & c->elcr_mask;
    /* A line switched to level mode now reports its current level. */
    for (unsigned n = 0; n < 8; n++)
        if (is_level(c, (uint8_t)(1u << n)) && !(c->last_level & (1u << n)))
            c->irr &= (uint8_t) ~(1u << n);
    update_cascade(p);
}
