/* The rrvm PC's ACPI tables (see hv/acpi_tables.h). Section numbers are those of ACPI 6.0
 * for the tables and the fixed hardware, and of ACPI 6.4 for the AML encoding (§20.2) and
 * the \_Sx objects (§7.4.2).
 *
 * Choices, and why:
 *   - RSDP revision 0 with an RSDT (32-bit pointers), as a 32-bit PC BIOS provides: a 32-bit
 *     kernel needs no XSDT, and every OS that knows ACPI 2.0 still accepts it.
 *   - FADT revision 3 (the ACPI 2.0 layout, 244 bytes): the first revision with RESET_REG,
 *     which Linux uses only from FADT revision 2 on. The extended (X_) register blocks are
 *     filled in as well, consistent with the 32-bit ones, so that no OS sees a mismatch.
 *   - SMI_CMD = 0: there is no SMM; the platform is always in ACPI mode and SCI_EN reads 1.
 *   - DSDT revision 1: AML integers are 32 bits wide, what a 32-bit OS expects.
 *   - No MADT, no HPET table: the interrupt model stays the dual 8259 (the SCI is ISA IRQ 9,
 *     level triggered through the ELCR) and the kernel finds no local APIC, as before. */
#include "hv/acpi_tables.h"

#include <string.h>

#include "hostdriver/acpi_pm.h"
#include "hv/machine.h"

/* Offsets of the structures inside the table area: the FACS must be 64-byte aligned
 * (§5.2.10), the RSDP 16-byte aligned (§5.2.5.1). */
enum {
    AT_RSDP = 0x000,
    AT_FACS = 0x040,
    AT_RSDT = 0x080,
    AT_FADT = 0x100,
    AT_DSDT = 0x200,
};

/* Lengths (§5.2.5.3 for the revision 0 RSDP, §5.2.9 up to and including X_GPE1_BLK for the
 * revision 3 FADT, §5.2.10 for the FACS). */
#define RSDP_V1_LEN 20
#define HEADER_LEN 36
#define RSDT_LEN (HEADER_LEN + 4)
#define FADT_REV3_LEN 244
#define FACS_LEN 64

/* System description table header fields (§5.2.6). */
#define OEM_ID "RRVM  "         /* 6 characters */
#define OEM_TABLE_ID "RRVMPC  " /* 8 characters */
#define OEM_REVISION 1
#define CREATOR_ID "RRVM"
#define CREATOR_REVISION 1

/* FADT fixed feature flags (§5.2.9, "Fixed ACPI Description Table Fixed Feature Flags"). */
#define FADT_WBINVD (1u << 0)         /* WBINVD works: required of ACPI 2.0+ platforms */
#define FADT_PROC_C1 (1u << 2)        /* HLT is C1 on every processor */
#define FADT_PWR_BUTTON (1u << 4)     /* no fixed-feature power button ... */
#define FADT_SLP_BUTTON (1u << 5)     /* ... nor sleep button (there is none at all) */
#define FADT_FIX_RTC (1u << 6)        /* RTC wake status is not in the fixed registers */
#define FADT_RESET_REG_SUP (1u << 10) /* RESET_REG is valid */
/* TMR_VAL_EXT (bit 8) stays clear: the PM timer is 24 bits wide. */
#define FADT_FLAGS                                                                                 \
    (FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_FIX_RTC |               \
     FADT_RESET_REG_SUP)

/* IA-PC boot architecture flags (§5.2.9.3): legacy ISA devices (COM1, PIT, RTC),
 * an 8042, no VGA, no MSI (there is no PCI device at all). */
#define BOOT_LEGACY_DEVICES (1u << 0)
#define BOOT_8042 (1u << 1)
#define BOOT_VGA_NOT_PRESENT (1u << 2)
#define BOOT_MSI_NOT_SUPPORTED (1u << 3)

/* C2 and C3 latencies above these say the states are not supported (§5.2.9 P_LVL2_LAT,
 * P_LVL3_LAT). */
#define P_LVL2_NOT_SUPPORTED 101
#define P_LVL3_NOT_SUPPORTED 1001

/* Generic Address Structure (§5.2.3.2). */
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_UNDEFINED 0 /* the register width decides, as for the legacy blocks */
#define GAS_ACCESS_BYTE 1

/* The CMOS byte that holds the century (the IBM PC AT convention hostdriver/rtc146818.c
 * follows): the FADT's CENTURY field points at it. */
#define CMOS_CENTURY_INDEX 0x32

/* FACS version for ACPI 4.0 and later, with the 64-bit waking vector (§5.2.10). */
#define FACS_VERSION 2

/* AML (ACPI 6.4 §20.2): DefName := NameOp NameString DataRefObject (§20.2.5.1);
 * DefPackage := PackageOp PkgLength NumElements PackageElementList (§20.2.5.4); ByteConst :=
 * BytePrefix ByteData and ZeroOp (§20.2.3); a one-byte PkgLength counts itself and what
 * follows it up to the package's end, below 64 (§20.2.4). */
#define AML_NAME_OP 0x08
#define AML_PACKAGE_OP 0x12
#define AML_BYTE_PREFIX 0x0A
#define AML_ZERO_OP 0x00

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Makes the len bytes at p sum to zero (mod 256) through the byte at checksum. */
static void set_checksum(uint8_t *p, size_t len, uint8_t *checksum) {
    uint8_t sum = 0;
    *checksum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    *checksum = (uint8_t)(0x100 - sum);
}

static void put_header(uint8_t *t, const char *signature, uint32_t length, uint8_t revision) {
    memcpy(t, signature, 4);
    put32(t + 4, length);
    t[8] = revision;
    /* t[9]: checksum, set when the table is complete */
    memcpy(t + 10, OEM_ID, 6);
    memcpy(t + 16, OEM_TABLE_ID, 8);
    put32(t + 24, OEM_REVISION);
    memcpy(t + 28, CREATOR_ID, 4);
    put32(t + 32, CREATOR_REVISION);
}

static void finish_table(uint8_t *t) {
    uint32_t len =
        (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
    set_checksum(t, len, &t[9]);
}

/* A Generic Address Structure for an I/O port register of bit_width bits. */
static void put_gas_io(uint8_t *g, uint8_t bit_width, uint8_t access_size, uint16_t port) {
    g[0] = GAS_SYSTEM_IO;
    g[1] = bit_width;
    g[2] = 0; /* bit offset */
    g[3] = access_size;
    put64(g + 4, port);
}

/* Name (\_S5, Package (4) {SLP_TYPa, SLP_TYPb, 0, 0}): the values OSPM writes to SLP_TYP
 * of PM1a_CNT and PM1b_CNT for soft off (ACPI 6.4 §7.4.2); the two reserved elements are
 * what ASL compilers and most firmware emit. Returns the number of bytes written. */
static size_t put_s5_object(uint8_t *a) {
    static const uint8_t elements[] = {
        AML_BYTE_PREFIX, ACPI_SLP_TYP_S5, /* SLP_TYPa */
        AML_BYTE_PREFIX, ACPI_SLP_TYP_S5, /* SLP_TYPb (there is no PM1b block) */
        AML_ZERO_OP,     AML_ZERO_OP,     /* reserved */
    };
    size_t n = 0;
    a[n++] = AML_NAME_OP;
    memcpy(a + n, "_S5_", 4);
    n += 4;
    a[n++] = AML_PACKAGE_OP;
    a[n++] = (uint8_t)(1 + 1 + sizeof elements); /* PkgLength: itself, NumElements, elements */
    a[n++] = 4;                                  /* NumElements */
    memcpy(a + n, elements, sizeof elements);
    return n + sizeof elements;
}

/* Root System Description Pointer, revision 0 (§5.2.5.3). */
static void build_rsdp(uint8_t *r, uint32_t rsdt_addr) {
    memcpy(r, "RSD PTR ", 8);
    memcpy(r + 9, OEM_ID, 6);
    r[15] = 0; /* revision 0: ACPI 1.0 structure, RSDT only */
    put32(r + 16, rsdt_addr);
    set_checksum(r, RSDP_V1_LEN, &r[8]);
}

/* Firmware ACPI Control Structure (§5.2.10): no waking vector (there is no sleeping state to
 * wake from), the Global Lock free, no S4BIOS. It has no checksum. */
static void build_facs(uint8_t *f) {
    memcpy(f, "FACS", 4);
    put32(f + 4, FACS_LEN);
    f[32] = FACS_VERSION;
}

/* Root System Description Table (§5.2.7) with its one entry, the FADT. */
static void build_rsdt(uint8_t *t, uint32_t fadt_addr) {
    put_header(t, "RSDT", RSDT_LEN, 1);
    put32(t + HEADER_LEN, fadt_addr);
    finish_table(t);
}

/* Fixed ACPI Description Table, revision 3 (§5.2.9: the field offsets below). */
static void build_fadt(uint8_t *t, uint32_t facs_addr, uint32_t dsdt_addr) {
    put_header(t, "FACP", FADT_REV3_LEN, 3);
    put32(t + 36, facs_addr); /* FIRMWARE_CTRL (X_FIRMWARE_CTRL stays 0, as it must then) */
    put32(t + 40, dsdt_addr); /* DSDT */
    t[44] = 0;                /* reserved (ACPI 1.0 INT_MODEL) */
    t[45] = 0;                /* Preferred_PM_Profile: unspecified */
    put16(t + 46, ACPI_SCI_IRQ);
    put32(t + 48, 0); /* SMI_CMD: none, so ACPI_ENABLE/ACPI_DISABLE/S4BIOS_REQ/PSTATE_CNT are 0 */
    put32(t + 56, ACPI_PM1A_EVT_BLK);
    put32(t + 60, 0); /* PM1b_EVT_BLK */
    put32(t + 64, ACPI_PM1A_CNT_BLK);
    put32(t + 68, 0); /* PM1b_CNT_BLK */
    put32(t + 72, 0); /* PM2_CNT_BLK */
    put32(t + 76, ACPI_PM_TMR_BLK);
    put32(t + 80, 0); /* GPE0_BLK */
    put32(t + 84, 0); /* GPE1_BLK */
    t[88] = ACPI_PM1_EVT_LEN;
    t[89] = ACPI_PM1_CNT_LEN;
    t[90] = 0; /* PM2_CNT_LEN */
    t[91] = ACPI_PM_TMR_LEN;
    t[92] = 0; /* GPE0_BLK_LEN */
    t[93] = 0; /* GPE1_BLK_LEN */
    t[94] = 0; /* GPE1_BASE */
    t[95] = 0; /* CST_CNT: no _CST support */
    put16(t + 96, P_LVL2_NOT_SUPPORTED);
    put16(t + 98, P_LVL3_NOT_SUPPORTED);
    /* FLUSH_SIZE, FLUSH_STRIDE, DUTY_OFFSET, DUTY_WIDTH, DAY_ALRM, MON_ALRM: 0 */
    t[108] = CMOS_CENTURY_INDEX; /* CENTURY: the CMOS byte holding the century */
    put16(t + 109, BOOT_LEGACY_DEVICES | BOOT_8042 | BOOT_VGA_NOT_PRESENT | BOOT_MSI_NOT_SUPPORTED);
    put32(t + 112, FADT_FLAGS);
    put_gas_io(t + 116, 8, GAS_ACCESS_BYTE, ACPI_RESET_PORT); /* RESET_REG (§4.8.3.6) */
    t[128] = ACPI_RESET_VALUE;
    /* ARM_BOOT_ARCH, FADT minor version, X_FIRMWARE_CTRL: 0 */
    put64(t + 140, dsdt_addr); /* X_DSDT */
    put_gas_io(t + 148, 8 * ACPI_PM1_EVT_LEN, GAS_ACCESS_UNDEFINED, ACPI_PM1A_EVT_BLK);
    put_gas_io(t + 172, 8 * ACPI_PM1_CNT_LEN, GAS_ACCESS_UNDEFINED, ACPI_PM1A_CNT_BLK);
    put_gas_io(t + 208, 8 * ACPI_PM_TMR_LEN, GAS_ACCESS_UNDEFINED, ACPI_PM_TMR_BLK);
    /* X_PM1b_EVT_BLK, X_PM1b_CNT_BLK, X_PM2_CNT_BLK, X_GPE0_BLK, X_GPE1_BLK: absent (0) */
    finish_table(t);
}

/* Differentiated System Description Table (§5.2.11.1): the definition block is \_S5 alone.
 * Returns the table's length. */
static uint32_t build_dsdt(uint8_t *t) {
    uint32_t len = HEADER_LEN + (uint32_t)put_s5_object(t + HEADER_LEN);
    put_header(t, "DSDT", len, 1);
    finish_table(t);
    return len;
}

size_t acpi_tables_build(uint8_t *buf, size_t size, uint32_t base) {
    if (size < ACPI_TABLES_SIZE) return 0;
    memset(buf, 0, ACPI_TABLES_SIZE);
    build_facs(buf + AT_FACS);
    uint32_t dsdt_len = build_dsdt(buf + AT_DSDT);
    build_fadt(buf + AT_FADT, base + AT_FACS, base + AT_DSDT);
    build_rsdt(buf + AT_RSDT, base + AT_FADT);
    build_rsdp(buf + AT_RSDP, base + AT_RSDT);
    return AT_DSDT + dsdt_len;
}

bool acpi_tables_install(struct machine *m) {
    if ((uint64_t)ACPI_TABLES_BASE + ACPI_TABLES_SIZE > m->ram_size) return false;
    /* straight into RAM, as the loaders write the kernel: nothing has been translated yet */
    acpi_tables_build(m->ram + ACPI_TABLES_BASE, ACPI_TABLES_SIZE, ACPI_TABLES_BASE);
    return true;
}
