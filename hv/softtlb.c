/* Soft TLB (see hv/softtlb.h). Paging is not virtualized yet: linear = physical. */
#include "hv/softtlb.h"

#include <sys/mman.h>

#include "hv/machine.h"

#define RESERVE_BYTES ((1ull << 32) + 65536)

void *reserve_4g_aligned(uint64_t bytes) {
    uint64_t span = bytes + (1ull << 32);
    uint8_t *p = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return NULL;
    uint8_t *a = (uint8_t *)(((uintptr_t)p + (1ull << 32) - 1) & ~((uintptr_t)(1ull << 32) - 1));
    if (a > p) munmap(p, (size_t)(a - p));
    uint8_t *end = p + span, *aend = a + bytes;
    if (end > aend) munmap(aend, (size_t)(end - aend));
    return a;
}

void unreserve_4g_aligned(void *p, uint64_t bytes) {
    if (p) munmap(p, bytes);
}

bool softtlb_init(struct machine *m) {
    m->guard = reserve_4g_aligned(RESERVE_BYTES);
    if (!m->guard) return false;
    m->tlb = mmap(NULL, 2ull * TLB_PAGES * 8, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m->tlb == MAP_FAILED) {
        m->tlb = NULL;
        return false;
    }
    softtlb_flush(m);
    return true;
}

void softtlb_free(struct machine *m) {
    if (m->tlb) munmap(m->tlb, 2ull * TLB_PAGES * 8);
    unreserve_4g_aligned(m->guard, RESERVE_BYTES);
    m->tlb = NULL;
    m->guard = NULL;
}

void softtlb_flush(struct machine *m) {
    int64_t g = (int64_t)(uintptr_t)m->guard;
    for (uint32_t i = 0; i < 2 * TLB_PAGES; i++)
        m->tlb[i] = g;
}

bool softtlb_fill(struct machine *m, uint32_t vpn, bool write) {
    uint64_t pa = (uint64_t)vpn << 12;
    if (pa >= m->ram_size) return false;
    int64_t addend = (int64_t)(uintptr_t)m->ram;
    m->tlb[vpn] = addend;
    if (!m->code_pages[vpn]) m->tlb[TLB_PAGES + vpn] = addend;
    (void)write;
    return true;
}

void softtlb_protect_code(struct machine *m, uint32_t pn) {
    m->tlb[TLB_PAGES + pn] = (int64_t)(uintptr_t)m->guard;
}

uint8_t *softtlb_guard(const struct machine *m) {
    return m->guard;
}
