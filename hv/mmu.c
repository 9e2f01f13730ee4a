#define _GNU_SOURCE
/* Guest paging and the host linear views (see hv/mmu.h). */
#include "hv/mmu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv/machine.h"

#define PTE_P 0x001u
#define PTE_W 0x002u
#define PTE_U 0x004u
#define PTE_A 0x020u
#define PTE_D 0x040u
#define PTE_PS 0x080u
#define PTE_G 0x100u

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

static uint32_t ram_pages(const struct machine *m) {
    return m->ram_size >> 12;
}

/* Parked pages: a single page taken out of a view is made inaccessible with mprotect and
 * remembered, so that mapping the same frame there again (the common case after a CR3
 * reload or INVLPG) is one mprotect instead of two mmap calls that also free and rebuild
 * host page tables. */
static uint32_t *parked_slot(struct mmu *u, int v, uint64_t lin) {
    return &u->parked[v][(lin >> 12) & (MMU_PARKED - 1)].vpn;
}

/* Replaces [lin, lin+len) of view v with inaccessible reserved space. */
static void view_unmap(struct mmu *u, int v, uint64_t lin, uint64_t len) {
    if (len == 4096) {
        uint32_t *slot = parked_slot(u, v, lin);
        if (mprotect(u->view[v] + lin, len, PROT_NONE) == 0) {
            slot[0] = (uint32_t)(lin >> 12) + 1;
            return;
        }
    } else {
        memset(u->parked[v], 0, sizeof u->parked[v]);
    }
    mmap(u->view[v] + lin, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
         -1, 0);
}

static bool view_map(struct mmu *u, int v, uint64_t lin, uint64_t pa, uint64_t len, bool w) {
    int prot = PROT_READ | (w ? PROT_WRITE : 0);
    if (len == 4096) {
        uint32_t *slot = parked_slot(u, v, lin);
        if (slot[0] == (uint32_t)(lin >> 12) + 1 && slot[1] == (uint32_t)(pa >> 12)) {
            slot[0] = 0;
            if (mprotect(u->view[v] + lin, len, prot) == 0) return true;
        }
        slot[0] = 0;
    } else {
        memset(u->parked[v], 0, sizeof u->parked[v]);
    }
    void *p = mmap(u->view[v] + lin, len, prot, MAP_SHARED | MAP_FIXED, u->memfd, (off_t)pa);
    if (p != MAP_FAILED && len == 4096) parked_slot(u, v, lin)[1] = (uint32_t)(pa >> 12);
    return p != MAP_FAILED;
}

bool mmu_init(struct machine *m) {
    struct mmu *u = &m->mmu;
    memset(u, 0, sizeof *u);
    /* RAM is a memfd so that its frames can be mapped again into the linear views */
    u->memfd = memfd_create("rrvm-guest-ram", MFD_CLOEXEC);
    /* one frame past RAM is the scratch frame (see mmu_map_scratch) */
    if (u->memfd < 0 || ftruncate(u->memfd, (off_t)m->ram_size + 4096) != 0) return false;
    u->scratch = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, u->memfd, m->ram_size);
    if (u->scratch == MAP_FAILED) {
        u->scratch = NULL;
        return false;
    }
    memset(u->scratch, 0xff, 4096);
    if (mmap(m->ram, m->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, u->memfd, 0) ==
        MAP_FAILED)
        return false;
    u->map = calloc(MMU_MAX_MAPS, sizeof *u->map);
    u->phys_head = malloc(sizeof(int32_t) * ram_pages(m));
    if (!u->map || !u->phys_head) return false;
    memset(u->phys_head, 0xff, sizeof(int32_t) * ram_pages(m));
    memset(u->vhash, 0xff, sizeof u->vhash);
    for (int v = 0; v < 2; v++) {
        u->view[v] = reserve_4g_aligned(VIEW_RESERVE);
        if (!u->view[v]) return false;
    }
    return true;
}

void mmu_free(struct machine *m) {
    struct mmu *u = &m->mmu;
    for (int v = 0; v < 2; v++)
        unreserve_4g_aligned(u->view[v], VIEW_RESERVE);
    free(u->map);
    free(u->phys_head);
    if (u->scratch) munmap(u->scratch, 4096);
    if (u->memfd >= 0) close(u->memfd);
    memset(u, 0, sizeof *u);
    u->memfd = -1;
}

/* ---- page walk (SDM Vol. 3A §4.3, 32-bit paging) ------------------------------------------ */

static uint32_t phys_read32(struct machine *m, uint32_t pa) {
    uint32_t v = 0xffffffffu;
    if ((uint64_t)pa + 4 <= m->ram_size) memcpy(&v, m->ram + pa, 4);
    return v;
}

static void phys_set_bits(struct machine *m, uint32_t pa, uint32_t bits) {
    if ((uint64_t)pa + 4 > m->ram_size) return;
    uint32_t v;
    memcpy(&v, m->ram + pa, 4);
    if ((v & bits) == bits) return;
    v |= bits;
    /* through guest_phys_write: a page-table page may also hold code */
    guest_phys_write(m, pa, &v, 4);
}

struct walk {
    uint32_t pa;
    bool writable, user, global;
    bool dirty;
};

/* The paging-structure entries that translate lin under the current CR3 (paging on), read
 * without side effects; for a 4 MiB page pte is the PDE. False if one is not present or a
 * reserved bit is set (*reserved). */
struct entries {
    uint32_t pde_pa, pte_pa, pde, pte;
    bool big;
};

static bool read_entries(struct machine *m, uint32_t lin, struct entries *e, bool *reserved) {
    const struct cpu *c = &m->cpu;
    *reserved = false;
    e->pde_pa = (c->cr[3] & 0xfffff000u) | ((lin >> 22) << 2);
    e->pde = e->pte = phys_read32(m, e->pde_pa);
    e->pte_pa = 0;
    if (!(e->pde & PTE_P)) return false;
    e->big = (e->pde & PTE_PS) && (c->cr[4] & CR4_PSE);
    if (e->big) {
        /* Without PSE-36, bits 21:13 of a 4 MiB PDE are reserved (SDM Vol. 3A Table 4-4). */
        *reserved = (e->pde & 0x003fe000u) != 0;
        return !*reserved;
    }
    e->pte_pa = (e->pde & 0xfffff000u) | (((lin >> 12) & 0x3ff) << 2);
    e->pte = phys_read32(m, e->pte_pa);
    return (e->pte & PTE_P) != 0;
}

static enum mmu_status walk(struct machine *m, uint32_t lin, bool write, bool user, bool set_ad,
                            struct walk *w) {
    struct cpu *c = &m->cpu;
    if (!(c->cr[0] & CR0_PG)) {
        *w = (struct walk){lin, true, true, false, true};
        return MMU_OK;
    }
    uint32_t err = (write ? PFEC_W : 0) | (user ? PFEC_U : 0);
    struct entries e;
    bool reserved;
    if (!read_entries(m, lin, &e, &reserved)) {
        if (reserved) err |= PFEC_P | PFEC_RSVD;
        goto fault;
    }
    uint32_t pde = e.pde, pte = e.pte, pde_pa = e.pde_pa, pte_pa = e.pte_pa;
    bool big = e.big;
    /* Access rights combine both levels (SDM Vol. 3A §4.6.1). */
    bool u_ok = (pde & PTE_U) && (pte & PTE_U);
    bool rw = (pde & PTE_W) && (pte & PTE_W);
    bool w_ok = user ? (u_ok && rw) : (rw || !(c->cr[0] & CR0_WP));
    if ((user && !u_ok) || (write && !w_ok)) {
        err |= PFEC_P;
        goto fault;
    }
    if (set_ad) {
        phys_set_bits(m, pde_pa, PTE_A | (big && write ? PTE_D : 0));
        if (!big) phys_set_bits(m, pte_pa, PTE_A | (write ? PTE_D : 0));
        if (write) pte |= PTE_D;
    }
    w->pa =
        big ? ((pde & 0xffc00000u) | (lin & 0x3fffffu)) : ((pte & 0xfffff000u) | (lin & 0xfffu));
    w->user = u_ok;
    /* a view maps the page writable only for accesses that may write it at that view's
     * privilege: for the user view, U and W; for the supervisor view, W or !WP */
    w->writable = user ? (u_ok && rw) : (rw || !(c->cr[0] & CR0_WP));
    w->global = (pte & PTE_G) && (c->cr[4] & CR4_PGE);
    w->dirty = (pte & PTE_D) != 0;
    return MMU_OK;
fault:
    c->cr[2] = lin;
    c->pf_error = err;
    return MMU_PAGE_FAULT;
}

bool mmu_translation_global(struct machine *m, uint32_t lin, bool *big) {
    struct cpu *c = &m->cpu;
    *big = false;
    /* paging off: only CR0 changes the (identity) translation, and that flushes all */
    if (!(c->cr[0] & CR0_PG)) return true;
    if (!(c->cr[4] & CR4_PGE)) return false;
    struct entries e;
    bool reserved;
    if (!read_entries(m, lin, &e, &reserved)) return false;
    *big = e.big;
    return (e.pte & PTE_G) != 0;
}

enum mmu_status mmu_translate(struct machine *m, uint32_t lin, bool write, bool user, bool set_ad,
                              uint32_t *phys) {
    if (!(m->cpu.cr[0] & CR0_PG)) {
        *phys = lin;
        return lin >= m->ram_size ? MMU_UNASSIGNED : MMU_OK;
    }
    struct mmu *u = &m->mmu;
    uint32_t key = ((lin >> 12) << 1 | (uint32_t)user) + 1;
    unsigned slot = (lin >> 12) & 255;
    uint32_t pa_page;
    if (set_ad && mmu_cache_hit(u, lin, write, user, &pa_page)) {
        *phys = pa_page | (lin & 0xfff);
        return *phys >= m->ram_size ? MMU_UNASSIGNED : MMU_OK;
    }
    struct walk w;
    enum mmu_status s = walk(m, lin, write, user, set_ad, &w);
    if (s != MMU_OK) return s;
    if (set_ad) {
        /* A (and D for a write) are set now: later hits need not walk again */
        u->cache[slot].key = key;
        u->cache[slot].gen = u->gen;
        u->cache[slot].pa_page = w.pa & ~0xfffu;
        /* (a write walk has just set D; a read may also allow later writes) */
        u->cache[slot].write_ok = w.writable && (write || w.dirty);
    }
    *phys = w.pa;
    return w.pa >= m->ram_size ? MMU_UNASSIGNED : MMU_OK;
}

/* ---- the views ----------------------------------------------------------------------------- */

static uint32_t vhash(uint32_t vpn) {
    return (vpn ^ (vpn >> 12)) & (MMU_VHASH - 1);
}

static struct mmu_map *find_map(struct mmu *u, uint32_t vpn, int v) {
    for (int32_t i = u->vhash[vhash(vpn)]; i >= 0; i = u->map[i].vnext)
        if (u->map[i].live && u->map[i].vpn == vpn && u->map[i].view == v) return &u->map[i];
    return NULL;
}

static void unlink_map(struct mmu *u, int32_t idx) {
    struct mmu_map *e = &u->map[idx];
    for (int32_t *pp = &u->phys_head[e->ppn]; *pp >= 0; pp = &u->map[*pp].pnext)
        if (*pp == idx) {
            *pp = e->pnext;
            break;
        }
    for (int32_t *pp = &u->vhash[vhash(e->vpn)]; *pp >= 0; pp = &u->map[*pp].vnext)
        if (*pp == idx) {
            *pp = e->vnext;
            break;
        }
    e->live = false;
}

static void add_map(struct machine *m, uint32_t vpn, uint32_t ppn, int v, bool writable,
                    bool global) {
    struct mmu *u = &m->mmu;
    struct mmu_map *e = find_map(u, vpn, v);
    if (e && e->ppn != ppn) {
        unlink_map(u, (int32_t)(e - u->map));
        e = NULL;
    }
    if (!e) {
        if (u->nmap >= MMU_MAX_MAPS) mmu_flush(m, false);
        int32_t idx = (int32_t)u->nmap++;
        e = &u->map[idx];
        *e = (struct mmu_map){
            vpn, ppn, u->phys_head[ppn], u->vhash[vhash(vpn)], (uint8_t)v, false, false, true};
        u->phys_head[ppn] = idx;
        u->vhash[vhash(vpn)] = idx;
    }
    e->writable = writable;
    e->global = global;
}

static void protect_all(struct machine *m, uint32_t ppn, bool code);

bool mmu_page_watched(const struct machine *m, uint32_t vpn) {
    if (m->watch_suspended) return false;
    for (int i = 0; i < m->nwatch; i++) {
        uint32_t first = m->watch[i].addr >> 12;
        uint32_t last = (m->watch[i].addr + m->watch[i].len - 1) >> 12;
        if (vpn == first || vpn == last) return true;
    }
    return false;
}

void mmu_watch_protect(struct machine *m, uint32_t vpn, bool protect) {
    struct mmu *u = &m->mmu;
    u->gen++;
    if (u->identity) {
        if (vpn >= ram_pages(m)) return;
        int prot = protect ? PROT_NONE : PROT_READ | (m->code_pages[vpn] ? 0 : PROT_WRITE);
        for (int v = 0; v < 2; v++)
            mprotect(u->view[v] + ((uint64_t)vpn << 12), 4096, prot);
        return;
    }
    if (!protect) return; /* the next access fills it as the guest's mapping allows */
    for (int v = 0; v < 2; v++) {
        struct mmu_map *e = find_map(u, vpn, v);
        if (!e) continue;
        view_unmap(u, v, (uint64_t)vpn << 12, 4096);
        unlink_map(u, (int32_t)(e - u->map));
    }
}

static void map_identity(struct machine *m) {
    struct mmu *u = &m->mmu;
    for (int v = 0; v < 2; v++) {
        view_map(u, v, 0, 0, m->ram_size, true);
        /* frames holding translated code stay read-only (coherence) */
        for (uint32_t pn = 0; pn < ram_pages(m); pn++)
            if (m->code_pages[pn]) mprotect(u->view[v] + ((uint64_t)pn << 12), 4096, PROT_READ);
    }
    u->identity = true;
    for (int i = 0; i < m->nwatch; i++) {
        mmu_watch_protect(m, m->watch[i].addr >> 12, !m->watch_suspended);
        mmu_watch_protect(m, (m->watch[i].addr + m->watch[i].len - 1) >> 12, !m->watch_suspended);
    }
}

enum mmu_status mmu_fill(struct machine *m, uint32_t lin, bool write, enum mmu_view v,
                         bool *code_write, uint32_t *ppn_out) {
    struct mmu *u = &m->mmu;
    *code_write = false;
    if (m->nwatch && mmu_page_watched(m, lin >> 12)) return MMU_WATCHED;
    if (!(m->cpu.cr[0] & CR0_PG)) {
        if (lin >= m->ram_size) return MMU_UNASSIGNED;
        *ppn_out = lin >> 12;
        if (!u->identity) map_identity(m);
        if (write && m->code_pages[lin >> 12])
            *code_write = true;
        else if (write)
            protect_all(m, lin >> 12, false); /* never fault twice on the same store */
        return MMU_OK;
    }
    struct walk w;
    enum mmu_status s = walk(m, lin, write, v == VIEW_USER, true, &w);
    if (s != MMU_OK) return s;
    if (w.pa >= m->ram_size) return MMU_UNASSIGNED;
    uint32_t ppn = w.pa >> 12, vpn = lin >> 12;
    *ppn_out = ppn;
    /* writable in the host view only once the guest's dirty bit is set, so that the first
     * store faults here and sets it */
    bool may_write = w.writable;
    bool map_w = may_write && (w.dirty || write) && !m->code_pages[ppn];
    if (!view_map(u, v, (uint64_t)vpn << 12, (uint64_t)ppn << 12, 4096, map_w)) {
        /* out of host mappings: start over with an empty view */
        mmu_flush(m, false);
        if (!view_map(u, v, (uint64_t)vpn << 12, (uint64_t)ppn << 12, 4096, map_w))
            return MMU_UNASSIGNED;
    }
    add_map(m, vpn, ppn, v, may_write && (w.dirty || write), w.global);
    if (write && may_write && m->code_pages[ppn]) *code_write = true;
    return MMU_OK;
}

bool mmu_view_mapped(const struct machine *m, uint32_t vpn, enum mmu_view v, bool write) {
    const struct mmu *u = &m->mmu;
    if (u->identity) return true;
    for (int32_t i = u->vhash[vhash(vpn)]; i >= 0; i = u->map[i].vnext)
        if (u->map[i].live && u->map[i].vpn == vpn && u->map[i].view == v)
            return !write || u->map[i].writable;
    return false;
}

void mmu_flush(struct machine *m, bool keep_global) {
    struct mmu *u = &m->mmu;
    u->gen++;
    uint32_t nglobal = 0, nlive = 0;
    for (uint32_t i = 0; i < u->nmap; i++) {
        nlive += u->map[i].live;
        if (keep_global && u->map[i].live && u->map[i].global) nglobal++;
    }
    if (!u->identity && nlive - nglobal <= 256) {
        /* few pages: unmapping them one by one is cheaper than tearing down 8 GiB of
         * reservation (which makes the kernel walk all of it) */
        for (uint32_t i = 0; i < u->nmap; i++) {
            struct mmu_map *e = &u->map[i];
            if (e->live && !(keep_global && e->global)) {
                view_unmap(u, e->view, (uint64_t)e->vpn << 12, 4096);
                unlink_map(u, (int32_t)i);
            }
        }
        if (nglobal == 0) u->nmap = 0;
        return;
    }
    if (!keep_global || nglobal == 0 || nlive - nglobal > 256) {
        /* Everything goes: two large remaps are cheaper than many small ones, and a TLB may
         * always drop global entries too (they are refilled on demand). */
        for (int v = 0; v < 2; v++)
            view_unmap(u, v, 0, VIEW_RESERVE);
        if (u->nmap < ram_pages(m) / 16) {
            /* only the heads that can be set: cheaper than clearing them all */
            for (uint32_t i = 0; i < u->nmap; i++) {
                u->phys_head[u->map[i].ppn] = -1;
                u->vhash[vhash(u->map[i].vpn)] = -1;
            }
        } else {
            memset(u->phys_head, 0xff, sizeof(int32_t) * ram_pages(m));
            memset(u->vhash, 0xff, sizeof u->vhash);
        }
        u->nmap = 0;
        u->identity = false;
        return;
    }
    for (uint32_t i = 0; i < u->nmap; i++) {
        struct mmu_map *e = &u->map[i];
        if (e->live && !e->global) {
            view_unmap(u, e->view, (uint64_t)e->vpn << 12, 4096);
            unlink_map(u, (int32_t)i);
        }
    }
    u->identity = false;
}

/* Whether the paging structures under the current CR3 give e's page the translation its
 * view mapping holds, with the accessed (and, if mapped writable, dirty) bits already set:
 * then a CR3 load may keep the mapping. A processor may cache any translation it could
 * use, speculatively too (SDM Vol. 3A §4.10.2.3), and a walk on the next access would
 * find the same frame and rights and set no A/D bit: nothing the guest can tell. */
static bool translation_unchanged(struct machine *m, const struct mmu_map *e, bool *global) {
    struct cpu *c = &m->cpu;
    uint32_t lin = e->vpn << 12;
    struct entries t;
    bool reserved;
    if (!read_entries(m, lin, &t, &reserved) || !(t.pde & PTE_A) || !(t.pte & PTE_A)) return false;
    uint32_t pde = t.pde, pte = t.pte;
    uint32_t pa = t.big ? (pde & 0xffc00000u) | (lin & 0x3ff000u) : pte & 0xfffff000u;
    if ((pa >> 12) != e->ppn) return false;
    bool u_ok = (pde & PTE_U) && (pte & PTE_U);
    bool rw = (pde & PTE_W) && (pte & PTE_W);
    bool user = e->view == VIEW_USER;
    if (user && !u_ok) return false;
    if (e->writable) {
        bool w_ok = user ? (u_ok && rw) : (rw || !(c->cr[0] & CR0_WP));
        if (!w_ok || !(pte & PTE_D)) return false;
    }
    *global = (pte & PTE_G) && (c->cr[4] & CR4_PGE);
    return true;
}

bool mmu_code_translation_same(struct machine *m, uint32_t vpn, uint32_t ppn, bool user) {
    if (!(m->cpu.cr[0] & CR0_PG)) return vpn == ppn;
    struct mmu_map probe = {.vpn = vpn, .ppn = ppn, .view = user ? VIEW_USER : VIEW_SUPER};
    bool global;
    return translation_unchanged(m, &probe, &global);
}

void mmu_cr3_loaded(struct machine *m) {
    struct mmu *u = &m->mmu;
    bool keep_global = (m->cpu.cr[4] & CR4_PGE) != 0;
    uint32_t nlive = 0;
    for (uint32_t i = 0; i < u->nmap; i++)
        nlive += u->map[i].live && !(keep_global && u->map[i].global);
    /* many pages: walking them all costs more than refilling the ones used again */
    if (u->identity || nlive > 1024) {
        mmu_flush(m, keep_global);
        return;
    }
    u->gen++;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < u->nmap; i++) {
        struct mmu_map *e = &u->map[i];
        if (!e->live) continue;
        bool global = e->global;
        if ((keep_global && e->global) || translation_unchanged(m, e, &global)) {
            e->global = global;
            kept++;
            continue;
        }
        view_unmap(u, e->view, (uint64_t)e->vpn << 12, 4096);
        unlink_map(u, (int32_t)i);
    }
    /* compact the table (its chains hold only live entries), so that the next CR3 load
     * walks what is mapped, not what ever was */
    for (uint32_t i = 0; i < u->nmap; i++)
        if (u->map[i].live) {
            u->phys_head[u->map[i].ppn] = -1;
            u->vhash[vhash(u->map[i].vpn)] = -1;
        }
    uint32_t n = 0;
    for (uint32_t i = 0; i < u->nmap; i++) {
        if (!u->map[i].live) continue;
        struct mmu_map e = u->map[i];
        e.pnext = u->phys_head[e.ppn];
        e.vnext = u->vhash[vhash(e.vpn)];
        u->map[n] = e;
        u->phys_head[e.ppn] = (int32_t)n;
        u->vhash[vhash(e.vpn)] = (int32_t)n;
        n++;
    }
    u->nmap = n;
    (void)kept;
}

void mmu_flush_page(struct machine *m, uint32_t lin) {
    struct mmu *u = &m->mmu;
    u->gen++;
    if (u->identity) {
        mmu_flush(m, false);
        return;
    }
    for (int v = 0; v < 2; v++) {
        struct mmu_map *e = find_map(u, lin >> 12, v);
        if (!e) continue;
        view_unmap(u, v, (uint64_t)(lin >> 12) << 12, 4096);
        unlink_map(u, (int32_t)(e - u->map));
    }
}

static void protect_all(struct machine *m, uint32_t ppn, bool code) {
    struct mmu *u = &m->mmu;
    if (u->identity && !(m->nwatch && mmu_page_watched(m, ppn)))
        for (int v = 0; v < 2; v++)
            mprotect(u->view[v] + ((uint64_t)ppn << 12), 4096, PROT_READ | (code ? 0 : PROT_WRITE));
    if (ppn >= ram_pages(m)) return;
    for (int32_t i = u->phys_head[ppn]; i >= 0; i = u->map[i].pnext) {
        struct mmu_map *e = &u->map[i];
        if (e->live && e->writable)
            mprotect(u->view[e->view] + ((uint64_t)e->vpn << 12), 4096,
                     PROT_READ | (code ? 0 : PROT_WRITE));
    }
}

void mmu_protect_code(struct machine *m, uint32_t ppn) {
    protect_all(m, ppn, true);
}

void mmu_unprotect_code(struct machine *m, uint32_t ppn) {
    protect_all(m, ppn, false);
}

void mmu_map_scratch(struct machine *m, uint32_t lin, enum mmu_view v) {
    struct mmu *u = &m->mmu;
    memset(u->scratch, 0xff, 4096);
    view_map(u, v, lin & ~0xfffu, m->ram_size, 4096, true);
}

void mmu_unmap_scratch(struct machine *m, uint32_t lin, enum mmu_view v) {
    struct mmu *u = &m->mmu;
    view_unmap(u, v, lin & ~0xfffu, 4096);
    memset(u->scratch, 0xff, 4096);
    if (u->identity) {
        /* the identity view had no mapping there either (beyond RAM): nothing to restore */
    }
}

void mmu_ram_allocated(const struct machine *m, uint8_t *bitmap) {
    uint32_t npages = m->ram_size >> 12;
    memset(bitmap, 0, (npages + 7) / 8);
    off_t pos = 0, end = (off_t)m->ram_size;
    while (pos < end) {
        off_t data = lseek(m->mmu.memfd, pos, SEEK_DATA);
        if (data < 0 || data >= end) break;
        off_t hole = lseek(m->mmu.memfd, data, SEEK_HOLE);
        if (hole < 0 || hole > end) hole = end;
        for (off_t p = data >> 12; p < (hole + 4095) >> 12 && p < npages; p++)
            bitmap[p / 8] |= (uint8_t)(1u << (p % 8));
        pos = hole;
    }
}
