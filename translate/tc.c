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

/* Empties the whole indirect-branch cache. */
static void jcache_clear_all(struct tc *tc) {
    for (uint32_t i = 0; i < 2 * JCACHE_ENTRIES; i++)
        tc->jcache[i].neg_eip = 1;
}

/* Whether a change of the translation of linear page vpn (INVLPG) can affect a jump into
 * code reached through where. */
static bool target_on_page(const struct tc_target *where, uint32_t vpn) {
    if (where->big) return (vpn >> 10) >= (where->vpn0 >> 10) && (vpn >> 10) <= (where->vpn1 >> 10);
    return vpn == where->vpn0 || vpn == where->vpn1;
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
    for (int k = 0; k < 2; k++) {
        tc->deps[k].e = malloc(sizeof(struct tc_dep) * TC_MAX_DEPS);
        tc->deps[k].max = TC_MAX_DEPS;
    }
    tc->maxsrc = TC_MAX_SRC;
    if (!tc->ccfs || !tc->meta || !tc->links || !tc->page_head || !tc->jcache || !tc->src ||
        !tc->insns || !tc->deps[0].e || !tc->deps[1].e) {
        tc_destroy(tc);
        return NULL;
    }
    memset(tc->page_head, 0xff, sizeof(int32_t) * guest_pages);
    jcache_clear_all(tc);
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
    free(tc->deps[0].e);
    free(tc->deps[1].e);
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

/* Undoes one dependent jump: a chained jump goes back to its exit stub, a jump-cache
 * entry is emptied (an index may be listed twice; emptying a slot is always safe). */
static void dep_drop(struct tc_dep *d) {
    if (d->rel32) put_rel32(d->rel32, d->stub);
    /* (jcache entries are emptied by the caller, which has the table) */
    if (d->target) ((struct ccf *)d->target)->ndeps--;
}

/* Drops the entries of set k for which drop() holds (all if drop is NULL). */
static void deps_filter(struct tc *tc, int k, bool (*drop)(const struct tc_dep *, const void *),
                        const void *arg) {
    struct tc_depset *set = &tc->deps[k];
    uint32_t kept = 0;
    for (uint32_t i = 0; i < set->n; i++) {
        struct tc_dep *d = &set->e[i];
        if (drop && !drop(d, arg)) {
            set->e[kept++] = *d;
            continue;
        }
        if (!d->rel32) tc->jcache[d->jidx].neg_eip = 1;
        dep_drop(d);
    }
    set->n = kept;
    if (k == 1 && kept == 0) memset(tc->global_regions, 0, sizeof tc->global_regions);
}

static void deps_add(struct tc *tc, const struct tc_dep *d) {
    int k = d->where.global ? 1 : 0;
    struct tc_depset *set = &tc->deps[k];
    if (set->n >= set->max) deps_filter(tc, k, NULL, NULL); /* full: start that set over */
    set->e[set->n++] = *d;
    ((struct ccf *)d->target)->ndeps++;
    if (k == 1)
        for (uint32_t r = d->where.vpn0 >> 10; r <= d->where.vpn1 >> 10; r++)
            tc->global_regions[r / 32] |= 1u << (r % 32);
}

static bool dep_into(const struct tc_dep *d, const void *target) {
    return d->target == target;
}

void tc_chain(struct tc *tc, uint8_t *rel32, struct ccf *target, bool cross_page,
              const struct tc_target *where) {
    int32_t rel;
    memcpy(&rel, rel32, 4);
    uint8_t *stub = rel32 + 4 + rel;
    if (cross_page) {
        /* Jumps to another linear page live only as long as the translation of the
         * target's pages (or the target itself): kept apart, by that translation. */
        struct tc_dep d = {rel32, stub, 0, target, *where};
        deps_add(tc, &d);
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

void jcache_fill(struct tc *tc, uint32_t eip, const struct ccf *target,
                 const struct tc_target *where) {
    uint32_t idx = (target->user ? JCACHE_ENTRIES : 0) + (eip & (JCACHE_ENTRIES - 1));
    struct tc_dep d = {NULL, NULL, idx, target, *where};
    deps_add(tc, &d);
    struct jcache_entry *e = &tc->jcache[idx];
    e->neg_eip = -(uint64_t)eip;
    e->host = (uint64_t)(uintptr_t)target->host;
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

bool tc_is_soft(const struct tc *tc, uint32_t eip) {
    if (!tc->nsoft) return false;
    for (uint32_t i = hash_eip(eip) & (TC_SOFT_SLOTS - 1), k = 0; k < TC_SOFT_SLOTS;
         i = (i + 1) & (TC_SOFT_SLOTS - 1), k++) {
        if (tc->soft[i] == eip + 1) return true;
        if (tc->soft[i] == 0) return false;
    }
    return false;
}

bool tc_mark_soft(struct tc *tc, uint32_t eip) {
    if (tc->nsoft >= TC_SOFT_SLOTS / 2) return false; /* keep probes short */
    uint32_t i = hash_eip(eip) & (TC_SOFT_SLOTS - 1);
    while (tc->soft[i] != 0 && tc->soft[i] != eip + 1)
        i = (i + 1) & (TC_SOFT_SLOTS - 1);
    if (tc->soft[i] == 0) {
        tc->soft[i] = eip + 1;
        tc->nsoft++;
        tc->soft_gen++;
    }
    return true;
}

struct ccf *tc_revive(struct machine *m, uint32_t eip, uint32_t ppn, bool user) {
    struct tc *tc = m->tc;
    for (struct ccf *c = tc->hash[hash_eip(eip)]; c; c = c->hnext) {
        if (c->eip != eip || c->page[0] != ppn || c->user != user || !c->dead) continue;
        if (c->soft_gen != tc->soft_gen) continue; /* may now translate differently */
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
    if (c->ndeps)
        for (int k = 0; k < 2; k++)
            deps_filter(tc, k, dep_into, c);
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

static bool dep_on_page(const struct tc_dep *d, const void *vpn) {
    return target_on_page(&d->where, *(const uint32_t *)vpn);
}

void tc_translation_changed(struct tc *tc, enum tc_xlat_change what, uint32_t vpn) {
    switch (what) {
    case TC_XLAT_ALL:
        deps_filter(tc, 0, NULL, NULL);
        deps_filter(tc, 1, NULL, NULL);
        break;
    case TC_XLAT_NONGLOBAL: deps_filter(tc, 0, NULL, NULL); break;
    case TC_XLAT_PAGE:
        deps_filter(tc, 0, dep_on_page, &vpn);
        /* global targets cluster in a few 4 MiB regions (the kernel's text) */
        if (tc->global_regions[(vpn >> 10) / 32] & (1u << ((vpn >> 10) % 32)))
            deps_filter(tc, 1, dep_on_page, &vpn);
        break;
    }
}

struct still_same_check {
    bool (*still_same)(void *ctx, uint32_t vpn, uint32_t ppn, bool user);
    void *ctx;
};

static bool dep_translation_changed(const struct tc_dep *d, const void *arg) {
    const struct still_same_check *c = arg;
    const struct tc_target *w = &d->where;
    const struct ccf *t = d->target;
    return !(c->still_same(c->ctx, w->vpn0, t->page[0], t->user) &&
             (w->vpn1 == w->vpn0 || c->still_same(c->ctx, w->vpn1, t->page[1], t->user)));
}

void tc_cr3_loaded(struct tc *tc, bool keep_global,
                   bool (*still_same)(void *ctx, uint32_t vpn, uint32_t ppn, bool user),
                   void *ctx) {
    /* the non-global jumps whose target pages translate as before stay; checking costs two
     * page-table reads each: past a thousand, dropping them is cheaper */
    struct still_same_check c = {still_same, ctx};
    if (tc->deps[0].n <= 1024)
        deps_filter(tc, 0, dep_translation_changed, &c);
    else
        deps_filter(tc, 0, NULL, NULL);
    if (!keep_global)
        deps_filter(tc, 1, tc->deps[1].n <= 1024 ? dep_translation_changed : NULL, &c);
}

void tc_flush(struct machine *m) {
    struct tc *tc = m->tc;
    tc->code_used = tc->code;
    tc->nccfs = 0;
    tc->nmeta = 0;
    tc->nlinks = 0;
    tc->nsrc = 0;
    tc->ninsns = 0;
    tc->deps[0].n = tc->deps[1].n = 0; /* (their code is gone) */
    memset(tc->global_regions, 0, sizeof tc->global_regions);
    memset(tc->hash, 0, sizeof tc->hash);
    memset(tc->page_head, 0xff, sizeof(int32_t) * tc->npages);
    for (uint32_t pn = 0; pn < tc->npages; pn++)
        if (m->code_pages[pn]) mmu_unprotect_code(m, pn);
    memset(m->code_pages, 0, tc->npages);
    jcache_clear_all(tc);
    m->stats.tc_flushes++;
}
