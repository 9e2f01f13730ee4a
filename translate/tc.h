/* The translation cache (TC): compiled code fragments (CCFs), their lookup by guest eip,
 * chaining of direct branches with back-links, and invalidation by guest page. */
#ifndef RRVM_TRANSLATE_TC_H
#define RRVM_TRANSLATE_TC_H

#include <stdbool.h>
#include <stdint.h>

#include "translate/decode.h"

struct machine;

/* Maps a range of host code in a CCF back to one guest instruction. */
struct ccf_meta {
    uint32_t host_off; /* offset of the instruction's first host byte from ccf.host */
    uint32_t eip;      /* guest eip of the instruction */
    uint16_t index;    /* instructions of the CCF retired before this one */
    int8_t fixup_reg;  /* guest register temporarily borrowed (value in r10), or -1 */
};

/* A patched jump into a CCF, so that invalidating the target can unchain it. */
struct ccf_link {
    uint8_t *rel32;  /* the rel32 field of the jump in the source CCF */
    uint8_t *stub;   /* where it jumped before being chained (its exit stub) */
    bool cross_page; /* source and target on different linear pages */
    struct ccf_link *next;
};

struct ccf {
    uint32_t eip, end_eip; /* guest bytes [eip, end_eip) */
    uint32_t page[2];      /* guest-physical frames covered (page[1] == page[0] if one) */
    uint8_t *host;         /* entry point */
    uint32_t host_len;
    uint16_t ninsns; /* instructions charged to the budget on entry */
    bool dead;
    bool user;         /* translated for CPL 3 (page permissions differ; so may chains) */
    bool oneshot;      /* not registered: run once and discard */
    uint32_t src_off;  /* copy of the guest bytes in tc.src (revival check), or UINT32_MAX */
    struct ccf *hnext; /* hash chain */
    int32_t pnext[2];  /* per-page list (index into tc.ccfs, -1 = end) */
    struct ccf_link *incoming;
    struct ccf_meta *meta;
    uint32_t nmeta;
    const struct insn *callout; /* the decoded instruction the CCF ends with a callout to */
    uint32_t ndeps;             /* tc.deps entries that lead into it */
    uint32_t soft_gen;          /* tc.soft_gen when it was translated */
};

#define TC_CODE_BYTES (64u << 20)
#define TC_MAX_CCFS (1u << 18)
#define TC_HASH_BUCKETS (1u << 16)
#define JCACHE_ENTRIES (1u << 16)
#define TC_MAX_DEPS 65536u
#define TC_SOFT_SLOTS 1024u

/* The linear pages a CCF's code was fetched through, and how their translation was held
 * when a jump into it was chained or cached. */
struct tc_target {
    uint32_t vpn0, vpn1; /* first and last linear page of the CCF */
    bool global;         /* every page of it global (PTE.G with CR4.PGE), or paging off */
    bool big;            /* through a 4 MiB page: INVLPG anywhere in it drops the jump */
};

/* Inline indirect-branch cache entry: neg_eip = -(uint64_t)eip so that lea r, [neg+eip]
 * gives zero exactly on a hit (no flags touched); 1 marks an empty slot. */
struct jcache_entry {
    uint64_t neg_eip;
    uint64_t host;
};

struct tc {
    uint8_t *code, *code_end, *code_used; /* RWX arena */
    uint8_t *scratch;                     /* 64 KiB for one-shot CCFs */
    struct ccf *ccfs;
    uint32_t nccfs;
    struct ccf *hash[TC_HASH_BUCKETS];
    int32_t *page_head; /* per guest page: first CCF index, -1 = none */
    uint32_t npages;
    struct ccf_meta *meta;
    uint32_t nmeta, maxmeta;
    struct ccf_link *links;
    uint32_t nlinks, maxlinks;
    struct jcache_entry *jcache; /* CPL 0-2 half, then CPL 3 half */
    /* Chained jumps between linear pages and jump-cache entries depend on the guest's
     * address translation of their target: each is remembered with the target's linear
     * page(s) and whether that translation is global (survives CR3 loads), in one set for
     * global targets and one for the others, so that a CR3 load or an INVLPG undoes only
     * what it can change (tc_translation_changed, tc_cr3_loaded). */
    struct tc_depset {
        struct tc_dep {
            uint8_t *rel32, *stub; /* a chained jump: its rel32 field and exit stub */
            uint32_t jidx;         /* else (rel32 NULL) a jump-cache entry: its index */
            const struct ccf *target;
            struct tc_target where;
        } * e;
        uint32_t n, max;
    } deps[2];                   /* [0] non-global targets, [1] global */
    uint32_t global_regions[32]; /* 4 MiB regions holding targets in deps[1] (a bitmap) */
    /* Instructions whose data page keeps changing its translation (a fixed linear address
     * remapped again and again: kmap slots, the nanobenchmarks' PTE row): translated as
     * inline helper calls that go through the monitor's page walk, not the views, so that
     * no host mapping changes for them. Linear eip + 1, open addressing; soft_gen counts
     * the additions (a CCF translated before one is not revived). */
    uint32_t soft[TC_SOFT_SLOTS];
    uint32_t nsoft, soft_gen;
    struct insn *insns; /* decoded callout instructions (ccf.callout) */
    uint32_t ninsns;
    uint8_t *src; /* guest bytes each CCF was translated from */
    uint32_t nsrc, maxsrc;
};

struct tc *tc_create(uint32_t guest_pages);
void tc_destroy(struct tc *tc);
/* Returns the live CCF translated from linear eip in physical frame ppn, or NULL. */
struct ccf *tc_lookup(struct tc *tc, uint32_t eip, uint32_t ppn, bool user);
/* Finds the CCF whose host code contains pc (including one-shot scratch CCFs). */
struct ccf *tc_find_host(struct tc *tc, const uint8_t *pc, struct ccf *oneshot);
/* Finds the meta entry for host pc inside c. */
const struct ccf_meta *ccf_meta_at(const struct ccf *c, const uint8_t *pc);
/* Patches the jump whose rel32 field is at rel32 to enter target; records the back-link. */
void tc_chain(struct tc *tc, uint8_t *rel32, struct ccf *target, bool cross_page,
              const struct tc_target *where);
/* Throws away every CCF translated from guest page pn. Returns how many. */
uint32_t tc_invalidate_page(struct machine *m, uint32_t pn);
/* Empties the whole TC (when full). */
void tc_flush(struct machine *m);
/* Records c in the lookup hash and the per-page lists, with a copy of its guest bytes. */
void tc_register(struct machine *m, struct ccf *c);
/* Brings back a CCF at eip that a write to its page killed, if the guest bytes it was
 * translated from are unchanged (data sharing a page with code). NULL if none. */
struct ccf *tc_revive(struct machine *m, uint32_t eip, uint32_t ppn, bool user);
/* The guest's address translation changed (CR3, INVLPG, paging mode): jumps between CCFs of
 * different linear pages and the indirect-branch cache may now lead to the wrong code.
 * TC_XLAT_ALL: everything changed; TC_XLAT_NONGLOBAL: a CR3 load with CR4.PGE (global
 * translations stay, SDM Vol. 3A §4.10.4.1); TC_XLAT_PAGE: INVLPG of linear page vpn. */
enum tc_xlat_change { TC_XLAT_ALL, TC_XLAT_NONGLOBAL, TC_XLAT_PAGE };
void tc_translation_changed(struct tc *tc, enum tc_xlat_change what, uint32_t vpn);
/* A CR3 load: as TC_XLAT_NONGLOBAL (TC_XLAT_ALL without CR4.PGE), except that jumps whose
 * target pages still_same() says translate as before are kept too. */
void tc_cr3_loaded(struct tc *tc, bool keep_global,
                   bool (*still_same)(void *ctx, uint32_t vpn, uint32_t ppn, bool user), void *ctx);
/* Keeps a copy of a decoded callout instruction for the CCF's lifetime; NULL if full. */
const struct insn *tc_keep_insn(struct tc *tc, const struct insn *in);
/* The soft-access set (tc.soft): membership, and adding one (false if full). */
bool tc_is_soft(const struct tc *tc, uint32_t eip);
bool tc_mark_soft(struct tc *tc, uint32_t eip);
void jcache_fill(struct tc *tc, uint32_t eip, const struct ccf *target,
                 const struct tc_target *where);

#endif
