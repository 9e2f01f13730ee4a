/* The guest MMU: 32-bit paging (SDM Vol. 3A ch. 4) and the host-side views that translated
 * code uses instead of a table-driven soft TLB.
 *
 * Guest RAM is a memfd mapped once at m->ram (the physical view, for the monitor and
 * devices). Each of two linear views (supervisor and user) is a 4 GiB-aligned, 4 GiB +
 * 64 KiB reservation of PROT_NONE address space in which guest linear page L is mapped to
 * the memfd page of its guest-physical frame, on demand, as the guest's TLB would hold it:
 *
 *   host address = view base + guest linear address        (r14 holds the view base)
 *
 * A missing, read-only or not-yet-dirty page faults (SIGSEGV); the monitor walks the guest
 * page tables, delivers #PF or maps the page, and restarts the instruction. Accesses that
 * cross a page boundary are correct by construction (both pages are mapped or the access
 * faults), and the low 32 bits of a host address are the guest linear address.
 *
 * A page is mapped writable only if the guest may write it, its dirty bit is set, and no
 * CCF was translated from its physical frame (stores to code must fault: coherence). */
#ifndef RRVM_HV_MMU_H
#define RRVM_HV_MMU_H

#include <stdbool.h>
#include <stdint.h>

struct machine;

enum mmu_view { VIEW_SUPER = 0, VIEW_USER = 1 };

/* Page-fault error code bits (SDM Vol. 3A §4.7). */
#define PFEC_P 0x1
#define PFEC_W 0x2
#define PFEC_U 0x4
#define PFEC_RSVD 0x8

#define VIEW_RESERVE ((1ull << 32) + 65536)

struct mmu_map {
    uint32_t vpn, ppn;
    int32_t pnext; /* next mapping of the same physical frame */
    int32_t vnext; /* next in the vpn hash bucket */
    uint8_t view;
    bool writable; /* mapped (or to be re-mapped after code goes away) read-write */
    bool global;
    bool live;
};

#define MMU_MAX_MAPS 40000u
#define MMU_VHASH 4096u
#define MMU_PARKED 1024u

struct mmu {
    int memfd;
    uint8_t *view[2];
    bool identity; /* paging off: all of RAM mapped at linear = physical in both views */
    struct mmu_map *map;
    uint32_t nmap, nglobal_kept;
    int32_t *phys_head; /* per RAM page: first mapping of it, -1 = none */
    int32_t vhash[MMU_VHASH];
    uint8_t *scratch; /* the scratch frame, in the monitor's address space */
    struct {
        uint32_t vpn; /* linear page + 1 of a parked (PROT_NONE) page, 0 = none */
        uint32_t ppn; /* the frame it still maps */
    } parked[2][MMU_PARKED];
    /* translations the monitor looked up (helpers, callouts, code fetch), as a TLB holds
     * them: valid until the next flush of any kind (gen) */
    uint32_t gen;
    struct {
        uint32_t key; /* vpn << 1 | user, +1 so that 0 is empty */
        uint32_t gen;
        uint32_t pa_page;
        bool write_ok; /* writes allowed at that level and the dirty bit set */
    } cache[256];
};

/* Result of a translation for the monitor. */
enum mmu_status {
    MMU_OK = 0,
    MMU_PAGE_FAULT, /* #PF: cr2 and m->cpu.pf_error set */
    MMU_UNASSIGNED, /* no RAM at that physical address */
    MMU_WATCHED,    /* a page a debugger watchpoint covers (machine.watch) */
};

/* The monitor's translation cache: a hit gives *pa_page for lin (paging on) at once. */
static inline bool mmu_cache_hit(const struct mmu *u, uint32_t lin, bool write, bool user,
                                 uint32_t *pa_page) {
    uint32_t key = ((lin >> 12) << 1 | (uint32_t)user) + 1;
    unsigned slot = (lin >> 12) & 255;
    if (u->cache[slot].key != key || u->cache[slot].gen != u->gen ||
        (write && !u->cache[slot].write_ok))
        return false;
    *pa_page = u->cache[slot].pa_page;
    return true;
}

bool mmu_init(struct machine *m);
void mmu_free(struct machine *m);

/* Walks the guest page tables for an access to lin (paging off: identity). write/user
 * describe the access; set_ad sets accessed/dirty bits as the CPU would on success. On a
 * fault, sets CR2 and the error code. */
enum mmu_status mmu_translate(struct machine *m, uint32_t lin, bool write, bool user, bool set_ad,
                              uint32_t *phys);

/* A host fault at lin in view v: maps the page if the guest may access it. Returns
 * MMU_OK (retry the instruction), MMU_PAGE_FAULT or MMU_UNASSIGNED. *code_write is set
 * when the access is a permitted store to a frame holding translated code (the caller
 * invalidates it, then calls mmu_unprotect_code). */
enum mmu_status mmu_fill(struct machine *m, uint32_t lin, bool write, enum mmu_view v,
                         bool *code_write, uint32_t *ppn_out);

/* Whether linear page vpn holds a debugger watchpoint that is not suspended. */
bool mmu_page_watched(const struct machine *m, uint32_t vpn);
/* Makes the watched pages inaccessible in both views (protect), or accessible again as the
 * guest's mappings allow (after a watchpoint is removed, or while one instruction runs). */
void mmu_watch_protect(struct machine *m, uint32_t vpn, bool protect);

/* Drops every mapping (CR3 reload with keep_global, CR0.PG/WP, CR4 changes without). */
/* Whether the current translation of lin is global (PTE.G with CR4.PGE: it survives CR3
 * loads) or paging is off; *big: through a 4 MiB page. Reads the paging structures without
 * setting A/D bits or touching CR2. */
bool mmu_translation_global(struct machine *m, uint32_t lin, bool *big);
/* Whether linear page vpn is in view v (and writable there, if write). */
bool mmu_view_mapped(const struct machine *m, uint32_t vpn, enum mmu_view v, bool write);
void mmu_flush(struct machine *m, bool keep_global);
/* A CR3 load: drops the non-global mappings (global ones too without CR4.PGE) except those
 * whose translation the new page tables give unchanged, with A/D already set. */
void mmu_cr3_loaded(struct machine *m);
/* Whether linear page vpn now translates to frame ppn with the rights of an instruction
 * fetch at user (or supervisor) level and its A bits already set (a jump into code
 * translated from it may be kept). */
bool mmu_code_translation_same(struct machine *m, uint32_t vpn, uint32_t ppn, bool user);
/* INVLPG: drops the mappings of linear page lin in both views. */
void mmu_flush_page(struct machine *m, uint32_t lin);
/* Makes every linear mapping of physical frame ppn read-only (CCFs were translated from
 * it), and undoes that when they are gone. */
void mmu_protect_code(struct machine *m, uint32_t ppn);
void mmu_unprotect_code(struct machine *m, uint32_t ppn);

/* Unassigned physical addresses read as all ones and drop writes. For one instruction
 * that touches one, its linear page is mapped to a scratch frame full of 0xFF, and
 * unmapped (and the frame refilled) right after. */
void mmu_map_scratch(struct machine *m, uint32_t lin, enum mmu_view v);
void mmu_unmap_scratch(struct machine *m, uint32_t lin, enum mmu_view v);

/* Marks in bitmap (1 bit per 4 KiB page) the RAM pages the host has storage for: every
 * other page was never written and reads as zero (SEEK_DATA/SEEK_HOLE on the memfd), so
 * scans of RAM can skip them without touching (and allocating) them. */
void mmu_ram_allocated(const struct machine *m, uint8_t *bitmap);

/* Reserves bytes of PROT_NONE address space starting at a 4 GiB boundary. */
void *reserve_4g_aligned(uint64_t bytes);
void unreserve_4g_aligned(void *p, uint64_t bytes);

#endif
