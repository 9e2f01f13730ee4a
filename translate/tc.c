/* Translation cache: allocation, lookup, chaining with back-links, invalidation by page. */
#include "translate/tc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hv/machine.h"
#include "hv/mmu.h"

#define TC_MAX_META (1u << 22)
#define TC_MAX_LINKS (1u << 20)
#define TC_MAX_SRC (TC_MAX_CCFS * 64u)
#define TC_MAX_INSNS 32768u

/* Empties the indirect-branch cache: only the entries filled since the last clear, unless
 * there were too many to remember. */
static void jcache_clear(struct tc *tc) {
    if (tc->nfilled > TC_MAX_FILLED) {
        for (uint32_t i = 0; i < 2 * JCACHE_ENTRIES; i++)
            tc->jcache[i].neg_eip = 1;
    } else {
        for (uint32_t i = 0; i < tc->nfilled; i++)
            tc->jcache[tc->filled[i].idx].neg_eip = 1;
    }
    tc->nfilled = 0;
}

/* Whether a change of the translation of linear page vpn (INVLPG) can affect a jump into
 * code reached through where. */
static bool target_on_page(const struct tc_target *where, uint32_t vpn) {
    if (where->big) return (vpn >> 10) >= (where->vpn0 >> 10) && (vpn >> 10) <= (where->vpn1 >> 10);
    return vpn == where->vpn0 || vpn == where->vpn1;
}

static bool target_changes(const struct tc_target *where, enum tc_xlat_change what, uint32_t vpn) {
    switch (what) {
    case TC_XLAT_ALL: return true;
    case TC_XLAT_NONGLOBAL: return !where->global;
    case TC_XLAT_PAGE: return target_on_page(where, vpn);
    }
    return true;
}

struct tc *tc_create(uint32_t guest_pages) {
    struct tc *tc = calloc(1, sizeof *tc);
    if (!tc) return NULL;
    tc->code = mmap(NULL, TC_CODE_BYTES + 65536, PROT_READ | PROT_WRITE | PROT_EXEC,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (tc->code == MAP_FAILED) {
        free(tc);
        return NULL;
    }
    tc->code_end = tc->code + TC_CODE_BYTES;
    tc->code_used = tc->code;
    tc->scratch = tc->code_end;
    tc->ccfs = calloc(TC_MAX_CCFS, sizeof *tc->ccfs);
    tc->meta = calloc(TC_MAX_META, sizeof *tc->meta);
    tc->maxmeta = TC_MAX_META;
    tc->links = calloc(TC_MAX_LINKS, sizeof *tc->links);
    tc->maxlinks = TC_MAX_LINKS;
    tc->npages = guest_pages;
    tc->page_head = malloc(sizeof(int32_t) * guest_pages);
    tc->jcache = malloc(sizeof(struct jcache_entry) * 2 * JCACHE_ENTRIES);
    tc->src = malloc(TC_MAX_SRC);
    tc->insns = malloc(sizeof(struct insn) * TC_MAX_INSNS);
    tc->maxsrc = TC_MAX_SRC;
    if (!tc->ccfs || !tc->meta || !tc->links || !tc->page_head || !tc->jcache || !tc->src ||
        !tc->insns) {
        tc_destroy(tc);
        return NULL;
    }
    memset(tc->page_head, 0xff, sizeof(int32_t) * guest_pages);
    tc->nfilled = TC_MAX_FILLED + 1; /* all entries */
    jcache_clear(tc);
    return tc;
}

void tc_destroy(struct tc *tc) {
    if (!tc) return;
    if (tc->code && tc->code != MAP_FAILED) munmap(tc->code, TC_CODE_BYTES + 65536);
    free(tc->ccfs);
    free(tc->meta);
    free(tc->links);
    free(tc->page_head);
    free(tc->jcache);
    free(tc->src);
    free(tc->insns);
    free(tc);
}

static uint32_t hash_eip(uint32_t eip) {
    return (eip ^ (eip >> 16)) & (TC_HASH_BUCKETS - 1);
}

struct ccf *tc_lookup(struct tc *tc, uint32_t eip, uint32_t ppn, bool user) {
    for (struct ccf *c = tc->hash[hash_eip(eip)]; c; c = c->hnext)
        if (c->eip == eip && c->page[0] == ppn && c->user == user && !c->dead) return c;
    return NULL;
}

struct ccf *tc_find_host(struct tc *tc, const uint8_t *pc, struct ccf *oneshot) {
    if (oneshot && pc >= oneshot->host && pc < oneshot->host + oneshot->host_len) return oneshot;
    /* CCFs are allocated in increasing host address order: binary search. */
    uint32_t lo = 0, hi = tc->nccfs;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        struct ccf *c = &tc->ccfs[mid];
        if (pc < c->host)
            hi = mid;
        else if (pc >= c->host + c->host_len)
            lo = mid + 1;
        else
            return c;
    }
    return NULL;
}

const struct ccf_meta *ccf_meta_at(const struct ccf *c, const uint8_t *pc) {
    uint32_t off = (uint32_t)(pc - c->host);
    const struct ccf_meta *best = NULL;
    for (uint32_t i = 0; i < c->nmeta; i++) {
        if (c->meta[i].host_off <= off)
            best = &c->meta[i];
        else
            break;
    }
    return best;
}

static void put_rel32(uint8_t *rel32, const uint8_t *dest) {
    int32_t rel = (int32_t)(dest - (rel32 + 4));
    memcpy(rel32, &rel, 4);
}

/* Puts back (to their exit stubs) the cross-page jumps into target, or all if NULL. */
static void unchain_cross(struct tc *tc, const struct ccf *target) {
    uint32_t kept = 0;
    for (uint32_t i = 0; i < tc->ncross; i++) {
        if (target && tc->cross[i].target != target)
            tc->cross[kept++] = tc->cross[i];
        else
            put_rel32(tc->cross[i].rel32, tc->cross[i].stub);
    }
    tc->ncross = kept;
}

void tc_chain(struct tc *tc, uint8_t *rel32, struct ccf *target, bool cross_page,
              const struct tc_target *where) {
    int32_t rel;
    memcpy(&rel, rel32, 4);
    uint8_t *stub = rel32 + 4 + rel;
    if (cross_page) {
        /* Jumps to another linear page live only until the next change of address
         * translation (or of any CCF): kept apart, so that undoing them all is cheap. */
        if (tc->ncross >= TC_MAX_CROSS) return;
        tc->cross[tc->ncross].rel32 = rel32;
        tc->cross[tc->ncross].stub = stub;
        tc->cross[tc->ncross].target = target;
        tc->cross[tc->ncross].where = *where;
        tc->ncross++;
        put_rel32(rel32, target->host);
        return;
    }
    if (tc->nlinks >= tc->maxlinks) return; /* stay unchained; the next flush frees links */
    struct ccf_link *l = &tc->links[tc->nlinks++];
    l->rel32 = rel32;
    l->stub = stub;
    l->cross_page = false;
    l->next = target->incoming;
    target->incoming = l;
    put_rel32(rel32, target->host);
}

const struct insn *tc_keep_insn(struct tc *tc, const struct insn *in) {
    if (tc->ninsns >= TC_MAX_INSNS) return NULL;
    struct insn *k = &tc->insns[tc->ninsns++];
    *k = *in;
    return k;
}

void jcache_fill(struct tc *tc, uint32_t eip, const uint8_t *host, bool user,
                 const struct tc_target *where) {
    uint32_t idx = (user ? JCACHE_ENTRIES : 0) + (eip & (JCACHE_ENTRIES - 1));
    if (tc->nfilled < TC_MAX_FILLED) tc->filled[tc->nfilled] = (struct tc_filled){idx, *where};
    if (tc->nfilled <= TC_MAX_FILLED) tc->nfilled++;
    struct jcache_entry *e = &tc->jcache[idx];
    e->neg_eip = -(uint64_t)eip;
    e->host = (uint64_t)(uintptr_t)host;
}

static void register_pages(struct machine *m, struct ccf *c) {
    struct tc *tc = m->tc;
    int32_t idx = (int32_t)(c - tc->ccfs);
    for (int i = 0; i < 2; i++) {
        c->pnext[i] = -1;
        if (i == 1 && c->page[1] == c->page[0]) break;
        uint32_t pn = c->page[i];
        if (pn >= tc->npages) continue;
        c->pnext[i] = tc->page_head[pn];
        tc->page_head[pn] = idx;
        if (m->code_pages[pn] == 0) mmu_protect_code(m, pn);
        if (m->code_pages[pn] < 255) m->code_pages[pn]++;
    }
}

void tc_register(struct machine *m, struct ccf *c) {
    struct tc *tc = m->tc;
    uint32_t b = hash_eip(c->eip);
    c->hnext = tc->hash[b];
    tc->hash[b] = c;
    uint32_t len = c->end_eip - c->eip;
    c->src_off = UINT32_MAX;
    /* Only single-page CCFs are revived: a two-page one sits on two page lists and
     * one invalidation leaves it linked on the other. */
    uint32_t pa = (c->page[0] << 12) | (c->eip & 0xfff);
    if (c->page[0] == c->page[1] && (c->eip >> 12) == ((c->end_eip - 1) >> 12) &&
        (uint64_t)pa + len <= m->ram_size && tc->nsrc + len <= tc->maxsrc) {
        c->src_off = tc->nsrc;
        memcpy(tc->src + tc->nsrc, m->ram + pa, len);
        tc->nsrc += len;
    }
    register_pages(m, c);
}

static void hash_unlink(struct tc *tc, struct ccf *c) {
    struct ccf **pp = &tc->hash[hash_eip(c->eip)];
    while (*pp && *pp != c)
        pp = &(*pp)->hnext;
    if (*pp) *pp = c->hnext;
}

struct ccf *tc_revive(struct machine *m, uint32_t eip, uint32_t ppn, bool user) {
    struct tc *tc = m->tc;
    for (struct ccf *c = tc->hash[hash_eip(eip)]; c; c = c->hnext) {
        if (c->eip != eip || c->page[0] != ppn || c->user != user || !c->dead) continue;
        /* Only revivable CCFs stay in the hash when dead (see ccf_kill). */
        uint32_t pa = (ppn << 12) | (eip & 0xfff);
        if (memcmp(tc->src + c->src_off, m->ram + pa, c->end_eip - eip) != 0) {
            hash_unlink(tc, c); /* really modified: this translation is gone for good */
            return NULL;
        }
        c->dead = false;
        register_pages(m, c);
        m->stats.blocks_revived++;
        return c;
    }
    return NULL;
}

static void ccf_kill(struct tc *tc, struct ccf *c) {
    if (c->dead) return;
    c->dead = true;
    unchain_cross(tc, c);
    /* Unchain every jump into c: it goes back to its exit stub. */
    for (struct ccf_link *l = c->incoming; l; l = l->next)
        put_rel32(l->rel32, l->stub);
    c->incoming = NULL;
    /* A CCF with a saved copy of its guest bytes stays in the hash, dead, so that
     * tc_revive can bring it back when only data next to the code was written. */
    if (c->src_off == UINT32_MAX) hash_unlink(tc, c);
    struct jcache_entry *e =
        &tc->jcache[(c->user ? JCACHE_ENTRIES : 0) + (c->eip & (JCACHE_ENTRIES - 1))];
    if (e->host == (uint64_t)(uintptr_t)c->host) e->neg_eip = 1;
}

uint32_t tc_invalidate_page(struct machine *m, uint32_t pn) {
    struct tc *tc = m->tc;
    if (pn >= tc->npages) return 0;
    uint32_t n = 0;
    int32_t idx = tc->page_head[pn];
    while (idx >= 0) {
        struct ccf *c = &tc->ccfs[idx];
        int which = (c->page[0] == pn) ? 0 : 1;
        int32_t next = c->pnext[which];
        if (!c->dead) {
            ccf_kill(tc, c);
            n++;
        }
        idx = next;
    }
    tc->page_head[pn] = -1;
    if (m->code_pages[pn]) mmu_unprotect_code(m, pn);
    m->code_pages[pn] = 0;
    m->stats.invalidations += n;
    return n;
}

void tc_translation_changed(struct tc *tc, enum tc_xlat_change what, uint32_t vpn) {
    if (what == TC_XLAT_ALL) {
        unchain_cross(tc, NULL);
        jcache_clear(tc);
        return;
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < tc->ncross; i++) {
        if (target_changes(&tc->cross[i].where, what, vpn))
            put_rel32(tc->cross[i].rel32, tc->cross[i].stub);
        else
            tc->cross[kept++] = tc->cross[i];
    }
    tc->ncross = kept;
    if (tc->nfilled > TC_MAX_FILLED) {
        jcache_clear(tc); /* too many to tell apart */
        return;
    }
    /* (an index may be listed more than once; clearing a slot is always safe) */
    kept = 0;
    for (uint32_t i = 0; i < tc->nfilled; i++) {
        if (target_changes(&tc->filled[i].where, what, vpn))
            tc->jcache[tc->filled[i].idx].neg_eip = 1;
        else
            tc->filled[kept++] = tc->filled[i];
    }
    tc->nfilled = kept;
}

void tc_flush(struct machine *m) {
    struct tc *tc = m->tc;
    tc->code_used = tc->code;
    tc->nccfs = 0;
    tc->nmeta = 0;
    tc->nlinks = 0;
    tc->nsrc = 0;
    tc->ninsns = 0;
    tc->ncross = 0;
    memset(tc->hash, 0, sizeof tc->hash);
    memset(tc->page_head, 0xff, sizeof(int32_t) * tc->npages);
    for (uint32_t pn = 0; pn < tc->npages; pn++)
        if (m->code_pages[pn]) mmu_unprotect_code(m, pn);
    memset(m->code_pages, 0, tc->npages);
    jcache_clear(tc);
    m->stats.tc_flushes++;
}
