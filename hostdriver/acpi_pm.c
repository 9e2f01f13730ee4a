/* ACPI fixed-hardware power management registers (ACPI 6.0 §4.8.3): PM1a event and control
 * blocks and the power management timer. See hostdriver/acpi_pm.h for the port layout.
 *
 * Nothing is stepped: the timer is the guest time converted to 3.579545 MHz ticks, and
 * TMR_STS is derived from the tick at which software last cleared it, as the PIT model
 * derives its counts. Only the timer can raise a status bit by itself; the rrvm PC has no
 * power or sleep button, no RTC wake alarm and no bus master, and never wakes from a sleep
 * state, so the other status bits read as zero. */
#include "hostdriver/acpi_pm.h"

#define NS_PER_S 1000000000u

/* Register offsets inside the 12-byte window ACPI_PM_BASE..ACPI_PM_LAST. */
enum {
    OFF_PM1_STS = ACPI_PM1A_EVT_BLK - ACPI_PM_BASE,
    OFF_PM1_EN = ACPI_PM1A_EVT_BLK + ACPI_PM1_EVT_LEN / 2 - ACPI_PM_BASE,
    OFF_PM1_CNT = ACPI_PM1A_CNT_BLK - ACPI_PM_BASE,
    OFF_PM_TMR = ACPI_PM_TMR_BLK - ACPI_PM_BASE,
    WINDOW = ACPI_PM_LAST - ACPI_PM_BASE + 1,
};

/* PM1_CNT bits a write stores: SCI_EN is hard-wired (see acpi_pm_init), GBL_RLS and SLP_EN
 * are write-only and read as zero (ACPI 6.0 §4.8.3.2.1 Table 4-18), bit 9 is "ignore" and
 * the reserved bits read as zero. */
#define CNT_STORED (ACPI_PM1_BM_RLD | ACPI_PM1_SLP_TYP_MASK)

/* The timer's most significant bit toggles every 2^23 ticks (24-bit timer). */
#define TMR_MSB_SHIFT (ACPI_PM_TIMER_BITS - 1)
#define TMR_VALUE_MASK ((1u << ACPI_PM_TIMER_BITS) - 1)

uint64_t acpi_pm_ticks(uint64_t now_ns) {
    return (uint64_t)(((unsigned __int128)now_ns * ACPI_PM_TIMER_HZ) / NS_PER_S);
}

/* First nanosecond at which tick k has happened. */
static uint64_t tick_ns(uint64_t tick) {
    unsigned __int128 ns =
        ((unsigned __int128)tick * NS_PER_S + ACPI_PM_TIMER_HZ - 1) / ACPI_PM_TIMER_HZ;
    return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

void acpi_pm_init(struct acpi_pm *p, uint64_t now_ns) {
    /* SMI_CMD is 0 in the FADT: the platform is always in ACPI mode, so SCI_EN is set and
     * stays set (ACPI 6.0 §4.8.3.2.1, §5.2.9 SMI_CMD). */
    *p = (struct acpi_pm){
        .enable = 0,
        .control = ACPI_PM1_SCI_EN,
        .tmr_sts_cleared_at = acpi_pm_ticks(now_ns),
    };
}

/* PM1_STS at now_ns: TMR_STS is set once bit 23 of the timer has changed since software
 * last cleared it (ACPI 6.0 §4.8.3.1.1 Table 4-16). */
static uint16_t status(const struct acpi_pm *p, uint64_t now_ns) {
    uint64_t t = acpi_pm_ticks(now_ns);
    return (t >> TMR_MSB_SHIFT) != (p->tmr_sts_cleared_at >> TMR_MSB_SHIFT) ? ACPI_PM1_TMR_STS : 0;
}

/* The register window as it reads at now_ns, byte by byte; the hole between PM1_CNT and
 * PM_TMR is unassigned and floats high. */
static void snapshot(const struct acpi_pm *p, uint64_t now_ns, uint8_t w[WINDOW]) {
    for (unsigned i = 0; i < WINDOW; i++)
        w[i] = 0xff;
    uint16_t sts = status(p, now_ns);
    uint32_t tmr = (uint32_t)acpi_pm_ticks(now_ns) & TMR_VALUE_MASK; /* bits 24-31 read 0 */
    w[OFF_PM1_STS] = (uint8_t)sts;
    w[OFF_PM1_STS + 1] = (uint8_t)(sts >> 8);
    w[OFF_PM1_EN] = (uint8_t)p->enable;
    w[OFF_PM1_EN + 1] = (uint8_t)(p->enable >> 8);
    w[OFF_PM1_CNT] = (uint8_t)p->control;
    w[OFF_PM1_CNT + 1] = (uint8_t)(p->control >> 8);
    for (unsigned i = 0; i < 4; i++)
        w[OFF_PM_TMR + i] = (uint8_t)(tmr >> (8 * i));
}

uint32_t acpi_pm_read(struct acpi_pm *p, uint16_t port, unsigned size, uint64_t now_ns) {
    uint8_t w[WINDOW];
    snapshot(p, now_ns, w);
    uint32_t v = 0;
    for (unsigned i = 0; i < size && i < 4; i++) {
        unsigned at = (unsigned)port + i;
        uint8_t b = at >= ACPI_PM_BASE && at <= ACPI_PM_LAST ? w[at - ACPI_PM_BASE] : 0xff;
        v |= (uint32_t)b << (8 * i);
    }
    return v;
}

/* The 16-bit register at offset off after a write of the bytes marked in written[], the
 * other byte keeping its value old. */
static uint16_t merge16(uint16_t old, unsigned off, const uint8_t data[WINDOW],
                        const bool written[WINDOW]) {
    uint16_t v = old;
    if (written[off]) v = (uint16_t)((v & 0xff00) | data[off]);
    if (written[off + 1]) v = (uint16_t)((v & 0x00ff) | data[off + 1] << 8);
    return v;
}

enum acpi_pm_action acpi_pm_write(struct acpi_pm *p, uint16_t port, unsigned size, uint32_t value,
                                  uint64_t now_ns) {
    uint8_t data[WINDOW] = {0};
    bool written[WINDOW] = {false};
    for (unsigned i = 0; i < size && i < 4; i++) {
        unsigned at = (unsigned)port + i;
        if (at < ACPI_PM_BASE || at > ACPI_PM_LAST) continue;
        data[at - ACPI_PM_BASE] = (uint8_t)(value >> (8 * i));
        written[at - ACPI_PM_BASE] = true;
    }

    /* PM1_STS: writing 1 clears a status bit, writing 0 has no effect (§4.8.3.1.1). */
    uint16_t clear = merge16(0, OFF_PM1_STS, data, written);
    if (clear & ACPI_PM1_TMR_STS) p->tmr_sts_cleared_at = acpi_pm_ticks(now_ns);

    p->enable = merge16(p->enable, OFF_PM1_EN, data, written) & ACPI_PM1_EN_DEFINED;

    /* PM1_CNT: SLP_EN reads as zero, so it counts only when the byte holding it was
     * written with it set. Writing SLP_EN with SLP_TYP starts the transition into that
     * sleeping state (ACPI 6.0 §4.8.3.2.1; ACPI 6.4 §16.1); the only state the DSDT offers is
     * S5, soft off. Any other SLP_TYP is not a state this platform has, and nothing
     * happens, as on a chipset that ignores an undefined sleep type. */
    uint16_t cnt = merge16(p->control, OFF_PM1_CNT, data, written);
    p->control = (uint16_t)((cnt & CNT_STORED) | ACPI_PM1_SCI_EN);
    if (cnt & ACPI_PM1_SLP_EN) {
        unsigned slp_typ = (cnt & ACPI_PM1_SLP_TYP_MASK) >> ACPI_PM1_SLP_TYP_SHIFT;
        if (slp_typ == ACPI_SLP_TYP_S5) return ACPI_PM_POWER_OFF;
    }
    /* PM_TMR is read-only: writes to it go nowhere. */
    return ACPI_PM_NONE;
}

bool acpi_pm_sci(const struct acpi_pm *p, uint64_t now_ns) {
    return (status(p, now_ns) & p->enable) != 0;
}

uint64_t acpi_pm_next_event_ns(const struct acpi_pm *p, uint64_t now_ns) {
    if (!(p->enable & ACPI_PM1_TMR_EN) || status(p, now_ns)) return UINT64_MAX;
    /* TMR_STS is clear: it rises at the next change of bit 23 */
    uint64_t next = ((acpi_pm_ticks(now_ns) >> TMR_MSB_SHIFT) + 1) << TMR_MSB_SHIFT;
    return tick_ns(next);
}
