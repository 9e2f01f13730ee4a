/* Unit tests of the ACPI power management registers (hostdriver/acpi_pm.c), their port
 * dispatch (hostdriver/ioport.c) and the ACPI tables (hv/acpi_tables.c). Times are built
 * from ticks with the test's own conversion, so a wrong conversion in the model shows up;
 * the tables are checked the way an OS reads them (scan for the RSDP, follow pointers,
 * verify checksums). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hostdriver/acpi_pm.h"
#include "hv/acpi_tables.h"
#include "hv/machine.h"

/* First nanosecond at which PM timer tick k has happened: ceil(k * 1e9 / 3579545). */
static uint64_t at(uint64_t k) {
    return (uint64_t)(((unsigned __int128)k * 1000000000u + 3579544u) / 3579545u);
}

static uint32_t pm_tmr(struct acpi_pm *p, uint64_t ns) {
    return acpi_pm_read(p, ACPI_PM_TMR_BLK, 4, ns);
}

static uint16_t pm1_sts(struct acpi_pm *p, uint64_t ns) {
    return (uint16_t)acpi_pm_read(p, ACPI_PM1A_EVT_BLK, 2, ns);
}

static uint16_t pm1_cnt(struct acpi_pm *p, uint64_t ns) {
    return (uint16_t)acpi_pm_read(p, ACPI_PM1A_CNT_BLK, 2, ns);
}

static void test_timer_rate(void **state) {
    (void)state;
    struct acpi_pm p;
    acpi_pm_init(&p, 0);
    assert_int_equal(pm_tmr(&p, 0), 0);
    /* exactly 3579545 ticks in a second of guest time */
    assert_int_equal(acpi_pm_ticks(1000000000u), 3579545u);
    assert_int_equal(pm_tmr(&p, 1000000000u), 3579545u);
    /* tick k happens at its nanosecond, not one earlier */
    for (uint64_t k = 1; k < 5000000; k += 99991) {
        assert_int_equal(pm_tmr(&p, at(k)), k & 0xffffff);
        assert_int_equal(pm_tmr(&p, at(k) - 1), (k - 1) & 0xffffff);
    }
    /* a 50 ms interval (what Linux checks against the PIT) is 178977 ticks, +-1 */
    uint32_t d = pm_tmr(&p, 2050000000u) - pm_tmr(&p, 2000000000u);
    assert_in_range(d, 178976, 178978);
}

static void test_timer_wraps_at_24_bits(void **state) {
    (void)state;
    struct acpi_pm p;
    acpi_pm_init(&p, 0);
    uint64_t top = (1u << 24) - 1;
    assert_int_equal(pm_tmr(&p, at(top)), 0xffffff);
    assert_int_equal(pm_tmr(&p, at(top + 1)), 0);
    assert_int_equal(pm_tmr(&p, at(top + 5)), 4);
    /* bits 24-31 read as zero (TMR_VAL_EXT clear), even after many wraps */
    assert_int_equal(pm_tmr(&p, at(0x123456789ull)) >> 24, 0);
    assert_int_equal(pm_tmr(&p, at(0x123456789ull)), 0x456789);
    /* byte reads see the same sample as the 32-bit read */
    uint64_t t = at(0xabcdef);
    assert_int_equal(acpi_pm_read(&p, ACPI_PM_TMR_BLK, 1, t), 0xef);
    assert_int_equal(acpi_pm_read(&p, ACPI_PM_TMR_BLK + 1, 1, t), 0xcd);
    assert_int_equal(acpi_pm_read(&p, ACPI_PM_TMR_BLK + 2, 2, t), 0x00ab);
    /* writes to the timer go nowhere */
    assert_int_equal(acpi_pm_write(&p, ACPI_PM_TMR_BLK, 4, 0, t), ACPI_PM_NONE);
    assert_int_equal(pm_tmr(&p, t), 0xabcdef);
}

static void test_timer_status_and_sci(void **state) {
    (void)state;
    struct acpi_pm p;
    uint64_t t0 = at(1000);
    acpi_pm_init(&p, t0);
    assert_int_equal(pm1_sts(&p, t0), 0);
    /* TMR_STS rises when bit 23 changes: at tick 2^23, then every 2^23 ticks */
    uint64_t edge = 1u << 23;
    assert_int_equal(pm1_sts(&p, at(edge) - 1), 0);
    assert_int_equal(pm1_sts(&p, at(edge)), ACPI_PM1_TMR_STS);
    /* without TMR_EN: no SCI, and nothing to wait for */
    assert_false(acpi_pm_sci(&p, at(edge)));
    assert_int_equal(acpi_pm_next_event_ns(&p, t0), UINT64_MAX);
    /* writing 0 leaves it set; writing 1 clears it (write-1-to-clear) */
    acpi_pm_write(&p, ACPI_PM1A_EVT_BLK, 2, 0, at(edge + 10));
    assert_int_equal(pm1_sts(&p, at(edge + 10)), ACPI_PM1_TMR_STS);
    acpi_pm_write(&p, ACPI_PM1A_EVT_BLK, 2, ACPI_PM1_TMR_STS, at(edge + 10));
    assert_int_equal(pm1_sts(&p, at(edge + 10)), 0);
    /* TMR_EN: the SCI follows the next edge (bit 23 falling at tick 2^24) */
    acpi_pm_write(&p, ACPI_PM1A_EVT_BLK + 2, 2, ACPI_PM1_TMR_EN, at(edge + 20));
    assert_int_equal(acpi_pm_read(&p, ACPI_PM1A_EVT_BLK + 2, 2, at(edge + 20)), ACPI_PM1_TMR_EN);
    assert_false(acpi_pm_sci(&p, at(edge + 20)));
    assert_int_equal(acpi_pm_next_event_ns(&p, at(edge + 20)), at(2 * edge));
    assert_false(acpi_pm_sci(&p, at(2 * edge) - 1));
    assert_true(acpi_pm_sci(&p, at(2 * edge)));
    /* asserted: nothing new can rise until software clears it */
    assert_int_equal(acpi_pm_next_event_ns(&p, at(2 * edge)), UINT64_MAX);
    acpi_pm_write(&p, ACPI_PM1A_EVT_BLK, 1, ACPI_PM1_TMR_STS, at(2 * edge + 1));
    assert_false(acpi_pm_sci(&p, at(2 * edge + 1)));
    assert_int_equal(acpi_pm_next_event_ns(&p, at(2 * edge + 1)), at(3 * edge));
    /* TMR_EN off again: the line drops even with the status set */
    acpi_pm_write(&p, ACPI_PM1A_EVT_BLK + 2, 2, 0, at(3 * edge));
    assert_int_equal(pm1_sts(&p, at(3 * edge)), ACPI_PM1_TMR_STS);
    assert_false(acpi_pm_sci(&p, at(3 * edge)));
}

static void test_enable_register(void **state) {
    (void)state;
    struct acpi_pm p;
    acpi_pm_init(&p, 0);
    assert_int_equal(acpi_pm_read(&p, ACPI_PM1A_EVT_BLK + 2, 2, 0), 0);
    /* only the defined enable bits stick (ACPI 6.0 §4.8.3.1.2) */
    acpi_pm_write(&p, ACPI_PM1A_EVT_BLK + 2, 2, 0xffff, 0);
    assert_int_equal(acpi_pm_read(&p, ACPI_PM1A_EVT_BLK + 2, 2, 0), ACPI_PM1_EN_DEFINED);
    /* a byte write changes one byte; a 32-bit write at the block covers STS and EN */
    acpi_pm_write(&p, ACPI_PM1A_EVT_BLK + 3, 1, 0x00, 0);
    assert_int_equal(acpi_pm_read(&p, ACPI_PM1A_EVT_BLK + 2, 2, 0), ACPI_PM1_EN_DEFINED & 0xff);
    acpi_pm_write(&p, ACPI_PM1A_EVT_BLK, 4, 0x01000000u, 0);
    assert_int_equal(acpi_pm_read(&p, ACPI_PM1A_EVT_BLK, 4, 0), 0x01000000u);
}

static void test_control_and_power_off(void **state) {
    (void)state;
    struct acpi_pm p;
    acpi_pm_init(&p, 0);
    /* always in ACPI mode: SCI_EN set, and it stays set */
    assert_int_equal(pm1_cnt(&p, 0), ACPI_PM1_SCI_EN);
    assert_int_equal(acpi_pm_write(&p, ACPI_PM1A_CNT_BLK, 2, 0, 0), ACPI_PM_NONE);
    assert_int_equal(pm1_cnt(&p, 0), ACPI_PM1_SCI_EN);
    /* ACPICA's first write: SLP_TYP alone, which reads back; nothing happens */
    uint16_t s5 = ACPI_SLP_TYP_S5 << ACPI_PM1_SLP_TYP_SHIFT;
    assert_int_equal(acpi_pm_write(&p, ACPI_PM1A_CNT_BLK, 2, s5 | ACPI_PM1_SCI_EN, 0),
                     ACPI_PM_NONE);
    assert_int_equal(pm1_cnt(&p, 0), s5 | ACPI_PM1_SCI_EN);
    /* other sleep types with SLP_EN: not states of this platform, nothing happens, and
     * SLP_EN reads back as zero */
    for (unsigned typ = 0; typ < 8; typ++) {
        if (typ == ACPI_SLP_TYP_S5) continue;
        uint16_t v = (uint16_t)(typ << ACPI_PM1_SLP_TYP_SHIFT | ACPI_PM1_SLP_EN | 1);
        assert_int_equal(acpi_pm_write(&p, ACPI_PM1A_CNT_BLK, 2, v, 0), ACPI_PM_NONE);
        assert_int_equal(pm1_cnt(&p, 0) & ACPI_PM1_SLP_EN, 0);
    }
    /* the second write: SLP_TYP = S5 with SLP_EN powers the machine off */
    assert_int_equal(acpi_pm_write(&p, ACPI_PM1A_CNT_BLK, 2, s5 | ACPI_PM1_SLP_EN | 1, 0),
                     ACPI_PM_POWER_OFF);
    /* also as a byte write of the high half, which holds SLP_TYP and SLP_EN */
    acpi_pm_init(&p, 0);
    assert_int_equal(acpi_pm_write(&p, ACPI_PM1A_CNT_BLK + 1, 1, (s5 | ACPI_PM1_SLP_EN) >> 8, 0),
                     ACPI_PM_POWER_OFF);
    /* a low-byte write cannot carry SLP_EN, even after SLP_TYP = S5 was set */
    acpi_pm_init(&p, 0);
    acpi_pm_write(&p, ACPI_PM1A_CNT_BLK, 2, s5, 0);
    assert_int_equal(acpi_pm_write(&p, ACPI_PM1A_CNT_BLK, 1, 0xff, 0), ACPI_PM_NONE);
    /* write-only GBL_RLS reads as zero */
    assert_int_equal(pm1_cnt(&p, 0) & ACPI_PM1_GBL_RLS, 0);
}

static void test_unassigned_bytes(void **state) {
    (void)state;
    struct acpi_pm p;
    acpi_pm_init(&p, 0);
    /* the hole between PM1_CNT and PM_TMR, and bytes past the block, float high */
    assert_int_equal(acpi_pm_read(&p, ACPI_PM1A_CNT_BLK + 2, 2, 0), 0xffff);
    assert_int_equal(acpi_pm_read(&p, ACPI_PM_LAST - 1, 4, at(0x1234)), 0xffff0000u);
    assert_int_equal(acpi_pm_read(&p, ACPI_PM_LAST, 1, at(0x123456)), 0x00);
}

/* --- port dispatch (hostdriver/ioport.c) --- */

static struct machine *new_machine(uint32_t mb) {
    char err[256];
    struct machine *m = machine_create(mb, err, sizeof err);
    assert_non_null(m);
    return m;
}

static void test_ports(void **state) {
    (void)state;
    struct machine *m = new_machine(4);
    machine_power_on(m, CLOCK_VIRTUAL, 0); /* guest time stands at 0 while nothing runs */
    /* SCI_EN reads as set through the port; PM_TMR reads the guest time */
    assert_int_equal(ioport_read(m, ACPI_PM1A_CNT_BLK, 2), ACPI_PM1_SCI_EN);
    assert_int_equal(ioport_read(m, ACPI_PM_TMR_BLK, 4), 0);
    m->cpu.icount = 1000000000u / VIRTUAL_NS_PER_INSN; /* one second later */
    assert_int_equal(ioport_read(m, ACPI_PM_TMR_BLK, 4), ACPI_PM_TIMER_HZ);
    /* an access across registers is one access; one that starts below the block reaches
     * its registers byte by byte (0x5FF floats high) */
    assert_int_equal(ioport_read(m, ACPI_PM1A_CNT_BLK - 1, 2), ACPI_PM1_SCI_EN << 8);
    assert_int_equal(ioport_read(m, ACPI_PM1A_EVT_BLK - 1, 2), 0x00ff);
    /* S5 without SLP_EN, then with it */
    uint16_t s5 = ACPI_SLP_TYP_S5 << ACPI_PM1_SLP_TYP_SHIFT;
    ioport_write(m, ACPI_PM1A_CNT_BLK, 2, s5 | ACPI_PM1_SCI_EN);
    assert_false(m->power_off_requested);
    ioport_write(m, ACPI_PM1A_CNT_BLK, 2, s5 | ACPI_PM1_SLP_EN | ACPI_PM1_SCI_EN);
    assert_true(m->power_off_requested);
    assert_false(m->reset_requested);
    /* the reset register: bits 1 and 3 read back, RST_CPU resets */
    ioport_write(m, ACPI_RESET_PORT, 1, 0x02);
    assert_int_equal(ioport_read(m, ACPI_RESET_PORT, 1), 0x02);
    assert_false(m->reset_requested);
    ioport_write(m, ACPI_RESET_PORT, 1, ACPI_RESET_VALUE);
    assert_true(m->reset_requested);
    machine_destroy(m);
}

/* --- tables (hv/acpi_tables.c) --- */

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t rd64(const uint8_t *p) {
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n) {
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

/* A system description table at pa: its signature, a length that fits, a zero checksum. */
static const uint8_t *table(const struct machine *m, uint32_t pa, const char *sig) {
    assert_true(pa >= ACPI_TABLES_BASE && pa + 36 <= ACPI_TABLES_BASE + ACPI_TABLES_SIZE);
    const uint8_t *t = m->ram + pa;
    assert_memory_equal(t, sig, 4);
    uint32_t len = rd32(t + 4);
    assert_true(len >= 36 && pa + len <= ACPI_TABLES_BASE + ACPI_TABLES_SIZE);
    assert_int_equal(sum(t, len), 0);
    assert_memory_equal(t + 10, "RRVM  ", 6);
    return t;
}

/* What Linux does on a PC: RSDP on a 16-byte boundary in 0xE0000-0xFFFFF whose first 20
 * bytes sum to zero. */
static uint32_t find_rsdp(const struct machine *m) {
    for (uint32_t a = 0xE0000; a < 0x100000; a += 16)
        if (!memcmp(m->ram + a, "RSD PTR ", 8) && sum(m->ram + a, 20) == 0) return a;
    return 0;
}

static void test_tables(void **state) {
    (void)state;
    struct machine *m = new_machine(2);
    assert_true(acpi_tables_install(m));
    uint32_t rsdp = find_rsdp(m);
    assert_int_equal(rsdp, ACPI_RSDP_ADDR);
    assert_int_equal(m->ram[rsdp + 15], 0); /* revision 0: RSDT only */
    /* the whole area lies in the BIOS range both loaders' memory maps reserve */
    assert_true(ACPI_TABLES_BASE >= 0xF0000 && ACPI_TABLES_BASE + ACPI_TABLES_SIZE <= 0x100000);

    const uint8_t *rsdt = table(m, rd32(m->ram + rsdp + 16), "RSDT");
    assert_int_equal(rd32(rsdt + 4), 40); /* one entry */
    const uint8_t *fadt = table(m, rd32(rsdt + 36), "FACP");
    assert_int_equal(fadt[8], 3);
    assert_int_equal(rd32(fadt + 4), 244);
    assert_memory_equal(fadt + 16, rsdt + 16, 8); /* OEM table IDs match (§5.2.9) */
    assert_int_equal(rd16(fadt + 46), ACPI_SCI_IRQ);
    assert_int_equal(rd32(fadt + 48), 0); /* SMI_CMD: always in ACPI mode */
    assert_int_equal(rd32(fadt + 56), ACPI_PM1A_EVT_BLK);
    assert_int_equal(rd32(fadt + 64), ACPI_PM1A_CNT_BLK);
    assert_int_equal(rd32(fadt + 76), ACPI_PM_TMR_BLK);
    assert_int_equal(fadt[88], 4);
    assert_int_equal(fadt[89], 2);
    assert_int_equal(fadt[91], 4);
    uint32_t flags = rd32(fadt + 112);
    assert_int_equal(flags & (1u << 8), 0);         /* TMR_VAL_EXT clear: 24-bit timer */
    assert_int_equal(flags & (1u << 10), 1u << 10); /* RESET_REG_SUP */
    /* RESET_REG: system I/O, 8 bits at offset 0, port 0xCF9; RESET_VALUE 6 */
    assert_int_equal(fadt[116], 1);
    assert_int_equal(fadt[117], 8);
    assert_int_equal(fadt[118], 0);
    assert_int_equal(rd64(fadt + 120), ACPI_RESET_PORT);
    assert_int_equal(fadt[128], ACPI_RESET_VALUE);
    /* the extended blocks agree with the 32-bit ones */
    assert_int_equal(fadt[148], 1);
    assert_int_equal(fadt[149], 32);
    assert_int_equal(rd64(fadt + 152), ACPI_PM1A_EVT_BLK);
    assert_int_equal(fadt[173], 16);
    assert_int_equal(rd64(fadt + 176), ACPI_PM1A_CNT_BLK);
    assert_int_equal(fadt[209], 32);
    assert_int_equal(rd64(fadt + 212), ACPI_PM_TMR_BLK);
    assert_int_equal(rd64(fadt + 140), rd32(fadt + 40)); /* X_DSDT = DSDT */
    assert_int_equal(rd64(fadt + 132), 0);               /* X_FIRMWARE_CTRL unused */

    uint32_t facs_pa = rd32(fadt + 36);
    assert_int_equal(facs_pa % 64, 0);
    const uint8_t *facs = m->ram + facs_pa;
    assert_memory_equal(facs, "FACS", 4);
    assert_int_equal(rd32(facs + 4), 64);

    const uint8_t *dsdt = table(m, rd32(fadt + 40), "DSDT");
    uint32_t len = rd32(dsdt + 4);
    /* Name (_S5_, Package (N) {SLP_TYPa, SLP_TYPb, ...}) in the definition block */
    const uint8_t *aml = NULL;
    for (uint32_t i = 36; i + 5 <= len; i++)
        if (dsdt[i] == 0x08 && !memcmp(dsdt + i + 1, "_S5_", 4)) aml = dsdt + i + 5;
    assert_non_null(aml);
    assert_int_equal(aml[0], 0x12);              /* PackageOp */
    assert_true(aml[1] < 0x40);                  /* one-byte PkgLength ... */
    assert_true(aml + 1 + aml[1] <= dsdt + len); /* ... inside the table */
    assert_true(aml[2] >= 2);                    /* NumElements */
    assert_int_equal(aml[3], 0x0A);              /* BytePrefix */
    assert_int_equal(aml[4], ACPI_SLP_TYP_S5);   /* SLP_TYPa */
    assert_int_equal(aml[5], 0x0A);
    assert_int_equal(aml[6], ACPI_SLP_TYP_S5); /* SLP_TYPb */
    machine_destroy(m);
}

static void test_build_needs_room(void **state) {
    (void)state;
    uint8_t small[64];
    assert_int_equal(acpi_tables_build(small, sizeof small, ACPI_TABLES_BASE), 0);
    uint8_t *big = malloc(ACPI_TABLES_SIZE);
    assert_non_null(big);
    size_t n = acpi_tables_build(big, ACPI_TABLES_SIZE, 0x12340);
    assert_true(n > 0 && n <= ACPI_TABLES_SIZE);
    /* the pointers follow the base address asked for */
    assert_true(rd32(big + 16) >= 0x12340 && rd32(big + 16) < 0x12340 + ACPI_TABLES_SIZE);
    free(big);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_rate),
        cmocka_unit_test(test_timer_wraps_at_24_bits),
        cmocka_unit_test(test_timer_status_and_sci),
        cmocka_unit_test(test_enable_register),
        cmocka_unit_test(test_control_and_power_off),
        cmocka_unit_test(test_unassigned_bytes),
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_build_needs_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
