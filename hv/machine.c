/* Machine creation, guest RAM and guest memory access for the monitor and helpers. */
#include "hv/machine.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hv/fpu.h"
#include "hv/segments.h"
#include "translate/tc.h"

/* Guest RAM sits at the start of a 4 GiB + 64 KiB reservation, so that any 32-bit guest
 * address (plus an access width) added to the RAM base stays inside memory rrvm owns:
 * beyond RAM it is PROT_NONE and faults instead of reaching monitor data. */
#define RAM_RESERVE ((1ull << 32) + 65536)

struct machine *machine_create(uint32_t ram_mb, char *err, size_t errlen) {
    if (ram_mb < 1 || ram_mb > 3072) {
        snprintf(err, errlen, "guest RAM of %u MiB is outside 1..3072", ram_mb);
        return NULL;
    }
    struct machine *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of host memory");
        return NULL;
    }
    m->ram_size = ram_mb << 20;
    m->prefill_eip = UINT32_MAX;
    m->ram = reserve_4g_aligned(RAM_RESERVE);
    uint32_t pages = m->ram_size >> 12;
    m->code_pages = calloc(pages, 1);
    if (!m->ram || !m->code_pages || !mmu_init(m)) {
        snprintf(err, errlen, "cannot map %u MiB of guest RAM", ram_mb);
        machine_destroy(m);
        return NULL;
    }
    m->tc = tc_create(pages);
    if (!m->tc) {
        snprintf(err, errlen, "cannot set up the translation cache");
        machine_destroy(m);
        return NULL;
    }
    m->cpu.view = (uint64_t)(uintptr_t)m->mmu.view[VIEW_SUPER];
    m->cpu.jcache = (uint64_t)(uintptr_t)m->tc->jcache;
    /* flat 32-bit segments, as multiboot promises (loaders set the selectors) */
    for (int i = 0; i < 6; i++)
        m->cpu.seg[i] = (struct segcache){0, 0, 0xffffffffu, i == S_CS ? 0xc09b : 0xc093};
    cpu_set_eflags(&m->cpu, 0);
    m->serial_out = stdout;
    uart16550_init(&m->com1, stdout);
    m->cpu.cr[0] = CR0_PE | CR0_ET;
    m->cpu.misc_enable = MISC_ENABLE_FAST_STRINGS;
    cpu_set_cpl(m, 0);
    machine_power_on(m, CLOCK_HOST, 0);
    return m;
}

void machine_power_on(struct machine *m, enum clock_mode mode, int64_t epoch_s) {
    clock_init(m, mode);
    fpu_reset();
    uint64_t now = clock_now_ns(m);
    pic8259_init(&m->pic);
    pit8254_init(&m->pit, now);
    rtc146818_init(&m->rtc, epoch_s, now, m->ram_size);
    i8042_init(&m->kbc);
    acpi_pm_init(&m->acpi_pm, now);
    m->reset_control = 0;
    m->port61 = 0;
    pit8254_set_gate(&m->pit, 2, false, now);
    m->devices_dirty = true;
}

void machine_attach_console(struct machine *m) {
    if (!m->console_open) m->console_open = console_open(&m->console, 0);
}

void machine_tlb_flush(struct machine *m, bool keep_global) {
    mmu_flush(m, keep_global);
    tc_translation_changed(m->tc, keep_global ? TC_XLAT_NONGLOBAL : TC_XLAT_ALL, 0);
    m->stats.tlb_flushes++;
}

static bool code_translation_same(void *ctx, uint32_t vpn, uint32_t ppn, bool user) {
    return mmu_code_translation_same(ctx, vpn, ppn, user);
}

void machine_cr3_loaded(struct machine *m) {
    mmu_cr3_loaded(m);
    tc_cr3_loaded(m->tc, (m->cpu.cr[4] & CR4_PGE) != 0, code_translation_same, m);
    m->stats.tlb_flushes++;
}

void machine_tlb_flush_page(struct machine *m, uint32_t lin) {
    mmu_flush_page(m, lin);
    /* paging off: mmu_flush_page flushed everything, the translation itself is unchanged */
    tc_translation_changed(m->tc, TC_XLAT_PAGE, lin >> 12);
}

void machine_destroy(struct machine *m) {
    if (!m) return;
    if (m->console_open) console_close(&m->console);
    mmu_free(m);
    tc_destroy(m->tc);
    free(m->code_pages);
    unreserve_4g_aligned(m->ram, RAM_RESERVE);
    free(m);
}

/* memcpy for the few bytes of an instruction's access: an inlined memcpy of variable
 * length becomes REP MOVSQ, whose start-up cost is most of a helper's time. */
static inline void copy_small(uint8_t *d, const uint8_t *s, unsigned len) {
    if (len > 64) {
        memcpy(d, s, len);
        return;
    }
    unsigned i = 0;
    for (; i + 8 <= len; i += 8)
        memcpy(d + i, s + i, 8);
    if (i + 4 <= len) {
        memcpy(d + i, s + i, 4);
        i += 4;
    }
    for (; i < len; i++)
        d[i] = s[i];
}

/* Stores by the monitor, a helper or a device into a frame holding translated code
 * invalidate it, exactly like stores from translated code do. */
void guest_phys_write(struct machine *m, uint32_t pa, const void *buf, unsigned len) {
    const uint8_t *b = buf;
    if ((uint64_t)pa + len <= m->ram_size && (pa & 0xfff) + len <= 4096) {
        /* the common case: within one page of RAM */
        if (m->code_pages[pa >> 12]) tc_invalidate_page(m, pa >> 12);
        copy_small(m->ram + pa, b, len);
        return;
    }
    for (unsigned i = 0; i < len; i++) {
        uint32_t a = pa + i;
        if (a >= m->ram_size) continue; /* unassigned: dropped */
        if ((i == 0 || (a & 0xfff) == 0) && m->code_pages[a >> 12]) tc_invalidate_page(m, a >> 12);
        m->ram[a] = b[i];
    }
}

/* Splits a linear access at page boundaries; checks every page before touching any, so
 * that a faulting store leaves memory unchanged (SDM Vol. 3A §6.5: faults are restartable). */
static int linear_access(struct machine *m, uint32_t lin, void *buf, unsigned len, bool write,
                         bool user) {
    if (m->nwatch && !m->watch_suspended)
        for (int i = 0; i < m->nwatch; i++) {
            const struct machine_watch *w = &m->watch[i];
            bool overlap = lin - w->addr < w->len || w->addr - lin < len;
            if (overlap && (w->type == 4 || (w->type == 2) == write)) {
                if (!m->watch_touched) m->watch_touched_icount = m->cpu.icount;
                m->watch_touched |= 1u << i;
            }
        }
    if (len > 4096) {
        for (unsigned off = 0; off < len; off += 4096) {
            int r = linear_access(m, lin + off, (uint8_t *)buf + off,
                                  len - off < 4096 ? len - off : 4096, write, user);
            if (r) return r;
        }
        return 0;
    }
    if ((lin & 0xfff) + len <= 4096) {
        /* the common case: one page, its translation in the monitor's cache */
        uint32_t pa;
        enum mmu_status s = MMU_OK;
        if (!(m->cpu.cr[0] & CR0_PG))
            pa = lin;
        else if (mmu_cache_hit(&m->mmu, lin, write, user, &pa))
            pa |= lin & 0xfff;
        else
            s = mmu_translate(m, lin, write, user, true, &pa);
        if (s == MMU_PAGE_FAULT) return VEC_PF + 1;
        if (s == MMU_OK && (uint64_t)pa + len <= m->ram_size) {
            if (write)
                guest_phys_write(m, pa, buf, len);
            else
                copy_small(buf, m->ram + pa, len);
            return 0;
        }
    }
    uint32_t pa[2];
    unsigned first = 4096 - (lin & 0xfff);
    if (first > len) first = len;
    for (int k = 0; k < (len > first ? 2 : 1); k++) {
        uint32_t l = k ? lin + first : lin;
        enum mmu_status s = mmu_translate(m, l, write, user, true, &pa[k]);
        if (s == MMU_PAGE_FAULT) return VEC_PF + 1;
        if (s == MMU_UNASSIGNED) pa[k] = UINT32_MAX - 4095; /* reads 0xFF, writes dropped */
    }
    uint8_t *b = buf;
    for (int k = 0; k < (len > first ? 2 : 1); k++) {
        unsigned n = k ? len - first : first;
        uint8_t *p = k ? b + first : b;
        if (write) {
            guest_phys_write(m, pa[k], p, n);
        } else {
            for (unsigned i = 0; i < n; i++) {
                uint64_t a = (uint64_t)pa[k] + i;
                p[i] = a < m->ram_size ? m->ram[a] : 0xff;
            }
        }
    }
    return 0;
}

int guest_read(struct machine *m, uint32_t lin, void *buf, unsigned len) {
    return linear_access(m, lin, buf, len, false, m->cpu.cpl == 3);
}

int guest_write(struct machine *m, uint32_t lin, const void *buf, unsigned len) {
    return linear_access(m, lin, (void *)buf, len, true, m->cpu.cpl == 3);
}

int guest_read_sys(struct machine *m, uint32_t lin, void *buf, unsigned len) {
    return linear_access(m, lin, buf, len, false, false);
}

int guest_write_sys(struct machine *m, uint32_t lin, const void *buf, unsigned len) {
    return linear_access(m, lin, (void *)buf, len, true, false);
}

static void protect_watched(struct machine *m, bool protect) {
    for (int i = 0; i < m->nwatch; i++) {
        mmu_watch_protect(m, m->watch[i].addr >> 12, protect);
        mmu_watch_protect(m, (m->watch[i].addr + m->watch[i].len - 1) >> 12, protect);
    }
}

void machine_set_watches(struct machine *m, const struct machine_watch *w, int n) {
    protect_watched(m, false);
    m->nwatch = n;
    if (n) memcpy(m->watch, w, sizeof *w * (size_t)n);
    m->watch_suspended = false;
    m->watch_touched = 0;
    m->watch_trap = false;
    protect_watched(m, true);
}

void machine_suspend_watches(struct machine *m, bool on) {
    m->watch_suspended = on;
    protect_watched(m, !on);
}

bool machine_is_breakpoint(const struct machine *m, uint32_t eip) {
    for (int i = 0; i < m->nbreakpoints; i++)
        if (m->breakpoints[i] == eip) return true;
    return false;
}

bool machine_set_breakpoint(struct machine *m, uint32_t eip, bool on) {
    int at = -1;
    for (int i = 0; i < m->nbreakpoints; i++)
        if (m->breakpoints[i] == eip) at = i;
    if (on && at < 0) {
        if (m->nbreakpoints >= (int)(sizeof m->breakpoints / sizeof m->breakpoints[0]))
            return false;
        m->breakpoints[m->nbreakpoints++] = eip;
        tc_flush(m);
    } else if (!on && at >= 0) {
        m->breakpoints[at] = m->breakpoints[--m->nbreakpoints];
        tc_flush(m);
    }
    return true;
}
