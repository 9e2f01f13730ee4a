/* ACPI fixed-hardware power management registers of the rrvm PC (ACPI 6.0 §4.8.3): the PM1a
 * event block (PM1_STS, PM1_EN), the PM1a control block (PM1_CNT) and the 24-bit power
 * management timer, in system I/O space at ACPI_PM_BASE. There is no PM1b block, no PM2
 * block and no GPE block. The FADT built by hv/acpi_tables.c points at these ports.
 *
 * As the other device models, this one owns no clock: every entry point takes the guest time
 * in nanoseconds, so its behaviour is a pure function of the sequence of calls. */
#ifndef RRVM_HOSTDRIVER_ACPI_PM_H
#define RRVM_HOSTDRIVER_ACPI_PM_H

#include <stdbool.h>
#include <stdint.h>

/* Port layout (the same base as QEMU's ICH9 power management I/O, 0x600). */
#define ACPI_PM_BASE 0x600
#define ACPI_PM1A_EVT_BLK 0x600 /* PM1a_STS (2 bytes) then PM1a_EN (2 bytes) */
#define ACPI_PM1_EVT_LEN 4
#define ACPI_PM1A_CNT_BLK 0x604
#define ACPI_PM1_CNT_LEN 2
#define ACPI_PM_TMR_BLK 0x608
#define ACPI_PM_TMR_LEN 4
#define ACPI_PM_LAST (ACPI_PM_TMR_BLK + ACPI_PM_TMR_LEN - 1)

/* PM1 status and enable bits (ACPI 6.0 §4.8.3.1.1 Table 4-16, §4.8.3.1.2 Table 4-17). */
#define ACPI_PM1_TMR_STS 0x0001
#define ACPI_PM1_TMR_EN 0x0001
#define ACPI_PM1_EN_DEFINED 0x4721 /* TMR_EN GBL_EN PWRBTN_EN SLPBTN_EN RTC_EN PCIEXP_WAKE_DIS */
/* PM1 control bits (ACPI 6.0 §4.8.3.2.1 Table 4-18). */
#define ACPI_PM1_SCI_EN 0x0001
#define ACPI_PM1_BM_RLD 0x0002
#define ACPI_PM1_GBL_RLS 0x0004
#define ACPI_PM1_SLP_TYP_SHIFT 10
#define ACPI_PM1_SLP_TYP_MASK 0x1c00
#define ACPI_PM1_SLP_EN 0x2000

/* The SCI is ISA IRQ 9 (the FADT's SCI_INT), a shareable level-triggered interrupt: the
 * OS sets IRQ 9 level triggered in the ELCR. acpi_pm_sci() gives the asserted level as 1. */
#define ACPI_SCI_IRQ 9
/* The power management timer runs at 3.579545 MHz (ACPI 6.0 §4.8.3.3). */
#define ACPI_PM_TIMER_HZ 3579545u
/* TMR_VAL_EXT is clear in the FADT: the timer value is 24 bits wide, and TMR_STS is set
 * whenever its bit 23 changes (ACPI 6.0 §4.8.3.3). */
#define ACPI_PM_TIMER_BITS 24
/* SLP_TYP value that means soft off: the DSDT's \_S5 package carries it (hv/acpi_tables.c). */
#define ACPI_SLP_TYP_S5 5

/* The FADT's RESET_REG (ACPI 6.0 §4.8.3.6): the PC chipset's reset control register at
 * 0xCF9 (PIIX4/ICH "RC"/"RST_CNT"), written with RESET_VALUE = SYS_RST | RST_CPU. The
 * register lives in hostdriver/ioport.c; the values are here for the FADT. */
#define ACPI_RESET_PORT 0xCF9
#define ACPI_RESET_VALUE 0x06
#define ACPI_RESET_RST_CPU 0x04 /* writing 1 starts the reset */

struct acpi_pm {
    uint16_t enable;             /* PM1_EN as written (defined bits only) */
    uint16_t control;            /* PM1_CNT as it reads back (SCI_EN set, SLP_EN clear) */
    uint64_t tmr_sts_cleared_at; /* timer ticks when software last cleared TMR_STS */
};

/* What a register write asks of the machine. */
enum acpi_pm_action {
    ACPI_PM_NONE,
    ACPI_PM_POWER_OFF, /* SLP_EN written with SLP_TYP = S5: the machine is soft off (G2) */
};

void acpi_pm_init(struct acpi_pm *p, uint64_t now_ns);
/* A read of size 1, 2 or 4 bytes at port (ACPI_PM_BASE..ACPI_PM_LAST), as one access: the
 * timer is sampled once, so a 32-bit read of PM_TMR is never torn. Bytes beyond the last
 * port read as all ones (an unassigned ISA address). */
uint32_t acpi_pm_read(struct acpi_pm *p, uint16_t port, unsigned size, uint64_t now_ns);
enum acpi_pm_action acpi_pm_write(struct acpi_pm *p, uint16_t port, unsigned size, uint32_t value,
                                  uint64_t now_ns);
/* Level of the SCI line at now_ns: an enabled status bit is set. */
bool acpi_pm_sci(const struct acpi_pm *p, uint64_t now_ns);
/* The earliest time > now_ns at which the SCI can rise by itself, or UINT64_MAX. */
uint64_t acpi_pm_next_event_ns(const struct acpi_pm *p, uint64_t now_ns);
/* Timer ticks since power-on at now_ns (the PM_TMR value is its low 24 bits). */
uint64_t acpi_pm_ticks(uint64_t now_ns);

#endif
