/* Replay checkpoints (see replay/checkpoint.h). */
#include "replay/checkpoint.h"

#include <stdlib.h>
#include <string.h>

#include "hv/segments.h"
#include "translate/tc.h"

static const uint8_t zero_page[4096];

struct checkpoint *checkpoint_take(struct machine *m) {
    struct checkpoint *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    uint32_t np = m->ram_size >> 12;
    uint8_t *present = malloc((np + 7) / 8);
    if (!present) {
        free(c);
        return NULL;
    }
    /* only pages the host holds, and of those only the nonzero ones */
    mmu_ram_allocated(m, present);
    uint32_t n = 0;
    for (uint32_t p = 0; p < np; p++)
        if ((present[p / 8] & (1u << (p % 8))) &&
            memcmp(m->ram + (size_t)p * 4096, zero_page, 4096) != 0)
            n++;
    c->pageno = malloc(sizeof(uint32_t) * (n ? n : 1));
    c->pages = malloc((size_t)4096 * (n ? n : 1));
    if (!c->pageno || !c->pages) {
        free(present);
        checkpoint_free(c);
        return NULL;
    }
    uint32_t k = 0;
    for (uint32_t p = 0; p < np && k < n; p++)
        if ((present[p / 8] & (1u << (p % 8))) &&
            memcmp(m->ram + (size_t)p * 4096, zero_page, 4096) != 0) {
            c->pageno[k] = p;
            memcpy(c->pages + (size_t)k * 4096, m->ram + (size_t)p * 4096, 4096);
            k++;
        }
    free(present);
    c->npages = n;
    c->bytes = sizeof *c + (size_t)n * 4100;
    c->icount = m->cpu.icount;
    c->cpu = m->cpu;
    c->irq_shadow = m->irq_shadow;
    c->halted = m->halted;
    /* the guest's x87 state is the host FPU's (x87 only: the SSE registers are the
     * monitor's own) */
    __asm__ volatile("fnsave %0\n\tfrstor %0" : "+m"(c->fpu));
    replay_save(m, &c->rpos);
    return c;
}

int checkpoint_restore(struct machine *m, const struct checkpoint *c, char *err, size_t errlen) {
    uint32_t np = m->ram_size >> 12;
    uint8_t *present = malloc((np + 7) / 8);
    if (!present) return -1;
    mmu_ram_allocated(m, present);
    /* pages that exist now but were zero at the checkpoint become zero again */
    uint32_t k = 0;
    for (uint32_t p = 0; p < np; p++) {
        bool in_cp = k < c->npages && c->pageno[k] == p;
        if (in_cp) {
            memcpy(m->ram + (size_t)p * 4096, c->pages + (size_t)k * 4096, 4096);
            k++;
        } else if (present[p / 8] & (1u << (p % 8))) {
            memset(m->ram + (size_t)p * 4096, 0, 4096);
        }
    }
    free(present);
    /* RAM changed behind the translator's and the MMU's back */
    tc_flush(m);
    mmu_flush(m, false);
    uint64_t view = m->cpu.view, jc = m->cpu.jcache;
    m->cpu = c->cpu;
    m->cpu.view = view;
    m->cpu.jcache = jc;
    segmemo_flush(m);
    cpu_set_cpl(m, c->cpu.cpl);
    m->irq_shadow = c->irq_shadow;
    m->halted = c->halted;
    m->exited = false;
    m->triple_fault = false;
    m->soft_int_retired = false;
    __asm__ volatile("frstor %0" : : "m"(c->fpu));
    return replay_restore(m, &c->rpos, err, errlen);
}

void checkpoint_free(struct checkpoint *c) {
    if (!c) return;
    free(c->pageno);
    free(c->pages);
    free(c);
}
