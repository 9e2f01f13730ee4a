/* The rrvm PC's ACPI tables: RSDP, RSDT, FADT, FACS and a DSDT that declares only \_S5 (soft
 * off). They describe the fixed hardware of hostdriver/acpi_pm.h (PM1a event and control
 * blocks, the PM timer) and the reset register, so that an ACPI kernel finds a PM timer,
 * powers the machine off through SLP_TYP/SLP_EN and resets it through RESET_REG.
 *
 * They lie in the BIOS area at 0xF0000, which every memory map rrvm hands a guest marks
 * reserved (hv/loader_linux.c's e820, hv/loader_multiboot.c's mmap), with the RSDP on a
 * 16-byte boundary inside 0xE0000-0xFFFFF where an OS scans for it (ACPI 6.0 §5.2.5.1). */
#ifndef RRVM_HV_ACPI_TABLES_H
#define RRVM_HV_ACPI_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;

#define ACPI_TABLES_BASE 0xF0000u /* guest-physical; the RSDP is the first structure */
#define ACPI_TABLES_SIZE 0x400u   /* bytes the tables occupy from ACPI_TABLES_BASE */
#define ACPI_RSDP_ADDR ACPI_TABLES_BASE

/* Builds the tables as they must lie at guest-physical address base (the pointers between
 * them are absolute) into buf, of at least ACPI_TABLES_SIZE bytes. Returns the number of
 * bytes used, or 0 if buf is too small. */
size_t acpi_tables_build(uint8_t *buf, size_t size, uint32_t base);
/* Writes the tables into guest RAM at ACPI_TABLES_BASE, at kernel load time (directly, not
 * through translated-code coherence: nothing runs yet). False, with nothing written, if the
 * guest RAM does not reach that far. */
bool acpi_tables_install(struct machine *m);

#endif
