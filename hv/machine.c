/* Machine creation, guest RAM and guest memory access for the monitor and helpers. */
#include "hv/machine.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hv/softtlb.h"
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
    m->ram = reserve_4g_aligned(RAM_RESERVE);
    if (!m->ram || mprotect(m->ram, m->ram_size, PROT_READ | PROT_WRITE) != 0) {
        snprintf(err, errlen, "cannot map %u MiB of guest RAM", ram_mb);
        unreserve_4g_aligned(m->ram, RAM_RESERVE);
        free(m);
        return NULL;
    }
    uint32_t pages = m->ram_size >> 12;
    m->code_pages = calloc(pages, 1);
    m->tc = tc_create(pages);
    if (!m->code_pages || !m->tc || !softtlb_init(m)) {
        snprintf(err, errlen, "cannot set up the translation cache");
        machine_destroy(m);
        return NULL;
    }
    m->cpu.tlb = (uint64_t)(uintptr_t)m->tlb;
    m->cpu.jcache = (uint64_t)(uintptr_t)m->tc->jcache;
    for (int i = 0; i < 6; i++)
        m->cpu.seg[i] = (struct segcache){0, 0, 0xffffffffu, 0};
    cpu_set_eflags(&m->cpu, 0);
    m->serial_out = stdout;
    uart16550_init(&m->com1, stdout);
    return m;
}

void machine_destroy(struct machine *m) {
    if (!m) return;
    softtlb_free(m);
    tc_destroy(m->tc);
    free(m->code_pages);
    unreserve_4g_aligned(m->ram, RAM_RESERVE);
    free(m);
}

/* Stores by the monitor or a helper into a page holding translated code invalidate it,
 * exactly like stores from translated code do. */
static void note_store(struct machine *m, uint32_t pa, unsigned len) {
    uint32_t first = pa >> 12, last = (pa + len - 1) >> 12;
    for (uint32_t pn = first; pn <= last && pn < (m->ram_size >> 12); pn++)
        if (m->code_pages[pn]) tc_invalidate_page(m, pn);
}

int guest_read(struct machine *m, uint32_t lin, void *buf, unsigned len) {
    uint8_t *b = buf;
    for (unsigned i = 0; i < len; i++) {
        uint32_t a = lin + i;
        b[i] = a < m->ram_size ? m->ram[a] : 0xff;
    }
    return 0;
}

int guest_write(struct machine *m, uint32_t lin, const void *buf, unsigned len) {
    const uint8_t *b = buf;
    for (unsigned i = 0; i < len; i++) {
        uint32_t a = lin + i;
        if (a >= m->ram_size) continue; /* unassigned: dropped */
        /* one invalidation check per page touched, not per byte */
        if (i == 0 || (a & 0xfff) == 0) note_store(m, a, 1);
        m->ram[a] = b[i];
    }
    return 0;
}
