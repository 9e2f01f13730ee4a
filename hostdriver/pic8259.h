/* The PC's cascaded pair of Intel 8259A programmable interrupt controllers: master at ports
 * 0x20/0x21, slave at 0xA0/0xA1, the slave's INT wired to the master's IR2. Register and
 * command names follow the Intel 8259A datasheet (order no. 231468). The edge/level control
 * registers (ELCR, ports 0x4D0/0x4D1) are those of the PC chipsets (Intel PIIX). */
#ifndef RRVM_HOSTDRIVER_PIC8259_H
#define RRVM_HOSTDRIVER_PIC8259_H

#include <stdbool.h>
#include <stdint.h>

#define PIC8259_MASTER_CMD 0x20
#define PIC8259_MASTER_DATA 0x21
#define PIC8259_SLAVE_CMD 0xA0
#define PIC8259_SLAVE_DATA 0xA1
#define PIC8259_ELCR1 0x4D0
#define PIC8259_ELCR2 0x4D1

struct pic8259_chip {
    uint8_t irr;             /* interrupt request register */
    uint8_t isr;             /* in-service register */
    uint8_t imr;             /* interrupt mask register (OCW1) */
    uint8_t vector_base;     /* ICW2 with T2-T0 cleared */
    uint8_t icw_step;        /* 0: operational; 1, 2, 3: expecting ICW2, ICW3, ICW4 */
    uint8_t icw4_needed;     /* ICW1 IC4 */
    uint8_t single;          /* ICW1 SNGL: no ICW3, no cascade */
    uint8_t ltim;            /* ICW1 LTIM: every input level triggered */
    uint8_t icw3;            /* master: IRs with a slave; slave: its ID */
    uint8_t sfnm;            /* ICW4 special fully nested mode */
    uint8_t read_isr;        /* OCW3 RR/RIS: a read of the command port returns ISR, not IRR */
    uint8_t auto_eoi;        /* ICW4 AEOI */
    uint8_t special_mask;    /* OCW3 ESMM/SMM */
    uint8_t poll;            /* OCW3 P: the next read is a poll */
    uint8_t rotate_on_aeoi;  /* OCW2 R=1 SL=0 EOI=0 */
    uint8_t lowest_priority; /* IR with the lowest priority; fixed priority is 7 */
    uint8_t last_level;      /* input levels last seen, for edge detection */
    uint8_t elcr;            /* chipset edge/level control: 1 = level triggered */
    uint8_t elcr_mask;       /* ELCR bits that may be set */
};

struct pic8259 {
    struct pic8259_chip chip[2]; /* [0] master, [1] slave */
};

void pic8259_init(struct pic8259 *p);
/* port is 0x20, 0x21, 0xA0 or 0xA1 */
uint8_t pic8259_read(struct pic8259 *p, uint16_t port);
void pic8259_write(struct pic8259 *p, uint16_t port, uint8_t v);
/* irq 0-15 (2 is the cascade and is ignored; ISA IRQ2 arrives as IRQ9); level 0 or 1. */
void pic8259_set_irq(struct pic8259 *p, int irq, int level);
/* The level of the master's INT pin, the CPU's INTR input. */
bool pic8259_intr(const struct pic8259 *p);
/* The two INTA cycles: returns the vector the CPU receives. */
uint8_t pic8259_acknowledge(struct pic8259 *p);
/* ELCR: port is 0x4D0 (IRQ0-7) or 0x4D1 (IRQ8-15). */
uint8_t pic8259_elcr_read(const struct pic8259 *p, uint16_t port);
void pic8259_elcr_write(struct pic8259 *p, uint16_t port, uint8_t v);

#endif
