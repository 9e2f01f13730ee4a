/* Protected-mode segmentation (see hv/segments.h). Translated code assumes CS, DS, ES and
 * SS have base 0 and a 4 GiB limit (every protected-mode OS in scope runs so) and adds
 * FS/GS bases itself; loading a non-flat descriptor into one of the former is reported as
 * a monitor error rather than run wrongly. */
#include "hv/segments.h"

#include <string.h>

#include "hv/fpu.h"
#include "hv/machine.h"
#include "hv/task.h"
#include "translate/decode.h"
#include "translate/helpers.h"
#include "translate/tc.h"

static int fault(struct machine *m, int vec, uint32_t err) {
    m->cpu.exc_error = err;
    return vec + 1;
}

void desc_decode(struct descriptor *d) {
    d->base = (d->lo >> 16) | ((d->hi & 0xff) << 16) | (d->hi & 0xff000000u);
    uint32_t limit = (d->lo & 0xffff) | (d->hi & 0x000f0000u);
    d->attr = (uint16_t)((d->hi >> 8) & 0xf0ff);
    d->limit = (d->attr & DA_G) ? (limit << 12) | 0xfff : limit;
}

int desc_read(struct machine *m, uint16_t sel, struct descriptor *d) {
    struct cpu *c = &m->cpu;
    uint32_t base, limit;
    if (sel & 4) {
        if (!c->ldtr.sel || !(c->ldtr.attr & DA_P)) return fault(m, VEC_GP, sel & 0xfffc);
        base = c->ldtr.base;
        limit = c->ldtr.limit;
    } else {
        base = c->gdtr.base;
        limit = c->gdtr.limit;
    }
    uint32_t off = sel & 0xfff8u;
    if (off + 7 > limit) return fault(m, VEC_GP, sel & 0xfffc);
    uint32_t raw[2];
    int e = guest_read_sys(m, base + off, raw, 8);
    if (e) return e;
    d->lo = raw[0];
    d->hi = raw[1];
    desc_decode(d);
    return 0;
}

int desc_set_accessed(struct machine *m, uint16_t sel, struct descriptor *d) {
    if (!(d->attr & DA_S) || (d->hi & 0x100)) return 0;
    d->hi |= 0x100;
    d->attr |= DT_ACCESSED;
    uint32_t base = (sel & 4) ? m->cpu.ldtr.base : m->cpu.gdtr.base;
    return guest_write_sys(m, base + (sel & 0xfff8u) + 4, &d->hi, 4);
}

void cpu_set_cpl(struct machine *m, unsigned cpl) {
    m->cpu.cpl = cpl;
    m->cpu.segmemo = (uint64_t)(uintptr_t)&m->segmemo[cpl & 3][0][0];
    m->cpu.view = (uint64_t)(uintptr_t)m->mmu.view[cpl == 3 ? VIEW_USER : VIEW_SUPER];
    /* indirect-branch targets found at CPL 3 must not lead into supervisor translations */
    m->cpu.jcache = (uint64_t)(uintptr_t)(m->tc->jcache + (cpl == 3 ? JCACHE_ENTRIES : 0));
}

static bool is_flat(const struct descriptor *d) {
    return d->base == 0 && d->limit == 0xffffffffu &&
           !(d->attr & DT_EXPDOWN && !(d->attr & DT_CODE));
}

void segmemo_flush(struct machine *m) {
    memset(m->segmemo, 0, sizeof m->segmemo);
}

/* Remembers a load of sel into a data segment register that passed its checks at this CPL
 * (d has its accessed bit set), for translated code to repeat (hv/cpu.h struct segmemo).
 * The checks depend only on the selector, the CPL and the descriptor's bytes, which the
 * entry keeps; DS and ES entries hold flat descriptors only (the translator's premise). */
static void segmemo_note(struct machine *m, int sreg, uint16_t sel, const struct descriptor *d) {
    uint32_t table = (sel & 4) ? m->cpu.ldtr.base : m->cpu.gdtr.base;
    uint32_t lin = table + (sel & 0xfff8u);
    if (lin > 0xfffffff8u) return; /* wraps around 4 GiB */
    int kind = segmemo_kind(sreg);
    if (kind == 0 && !is_flat(d)) return;
    struct segmemo *e = &m->segmemo[m->cpu.cpl & 3][kind][sel & 0xff];
    e->neg_key = -(int64_t)(sel | 0x10000u);
    e->desc_host = (uint64_t)(uintptr_t)m->mmu.view[VIEW_SUPER] + lin;
    e->neg_raw = -(int64_t)(((uint64_t)d->hi << 32) | d->lo);
    e->cache = (struct segcache){sel, d->base, d->limit, d->attr};
}

static void set_cache(struct machine *m, int sreg, uint16_t sel, const struct descriptor *d) {
    struct segcache *s = &m->cpu.seg[sreg];
    s->sel = sel;
    s->base = d->base;
    s->limit = d->limit;
    s->attr = d->attr;
    if (sreg != S_FS && sreg != S_GS && !is_flat(d)) m->nonflat_segment = true;
}

void segment_load_cs(struct machine *m, uint16_t sel, const struct descriptor *d, unsigned cpl) {
    set_cache(m, S_CS, (uint16_t)((sel & 0xfffc) | cpl), d);
    cpu_set_cpl(m, cpl);
}

void segment_null_if_inaccessible(struct machine *m, int sreg) {
    struct segcache *s = &m->cpu.seg[sreg];
    unsigned type = s->attr & DA_TYPE;
    bool conforming_code = (type & DT_CODE) && (type & DT_CONFORMING);
    if ((s->sel & 0xfffc) && !conforming_code && DA_DPL(s->attr) < m->cpu.cpl) {
        s->sel = 0;
        s->attr = 0;
        s->base = 0;
    }
}

int segment_load(struct machine *m, int sreg, uint16_t sel) {
    struct cpu *c = &m->cpu;
    if (!(c->cr[0] & CR0_PE)) {
        /* real mode: base = selector * 16 (not supported by the translator) */
        struct descriptor d = {.base = (uint32_t)sel << 4, .limit = 0xffff, .attr = 0x93};
        set_cache(m, sreg, sel, &d);
        return 0;
    }
    unsigned rpl = sel & 3, cpl = c->cpl;
    if ((sel & 0xfffc) == 0) {
        /* SDM Vol. 2B MOV/POP: a null selector may be loaded into DS/ES/FS/GS, never SS */
        if (sreg == S_SS) return fault(m, VEC_GP, 0);
        c->seg[sreg] = (struct segcache){sel, 0, 0, 0};
        return 0;
    }
    struct descriptor d;
    int e = desc_read(m, sel, &d);
    if (e) return e;
    unsigned type = d.attr & DA_TYPE, dpl = DA_DPL(d.attr);
    if (sreg == S_SS) {
        /* writable data segment with RPL = DPL = CPL (SDM Vol. 3A §5.7) */
        if (!(d.attr & DA_S) || (type & DT_CODE) || !(type & DT_WRITABLE) || rpl != cpl ||
            dpl != cpl)
            return fault(m, VEC_GP, sel & 0xfffc);
        if (!(d.attr & DA_P)) return fault(m, VEC_SS, sel & 0xfffc);
    } else {
        /* data or readable code; for data and non-conforming code, DPL >= max(CPL, RPL) */
        if (!(d.attr & DA_S) || ((type & DT_CODE) && !(type & DT_READABLE)))
            return fault(m, VEC_GP, sel & 0xfffc);
        bool conforming = (type & DT_CODE) && (type & DT_CONFORMING);
        if (!conforming && (dpl < cpl || dpl < rpl)) return fault(m, VEC_GP, sel & 0xfffc);
        if (!(d.attr & DA_P)) return fault(m, VEC_NP, sel & 0xfffc);
    }
    e = desc_set_accessed(m, sel, &d);
    if (e) return e;
    set_cache(m, sreg, sel, &d);
    if (sreg != S_SS && (d.attr & DA_S)) segmemo_note(m, sreg, sel, &d);
    return 0;
}

/* ---- stack access for far transfers (SS is flat: base 0, 32-bit ESP) ----------------- */

static int push(struct machine *m, uint32_t *sp, uint32_t v, unsigned size) {
    *sp -= size;
    return guest_write(m, *sp, &v, size);
}

static int pop(struct machine *m, uint32_t *sp, uint32_t *v, unsigned size) {
    uint32_t x = 0;
    int e = guest_read(m, *sp, &x, size);
    if (e) return e;
    *sp += size;
    *v = x;
    return 0;
}

/* Checks a code-segment target of a far JMP/CALL (not through a gate). */
static int check_code_target(struct machine *m, uint16_t sel, const struct descriptor *d) {
    unsigned cpl = m->cpu.cpl, rpl = sel & 3, dpl = DA_DPL(d->attr);
    unsigned type = d->attr & DA_TYPE;
    if (!(d->attr & DA_S) || !(type & DT_CODE)) return fault(m, VEC_GP, sel & 0xfffc);
    if (type & DT_CONFORMING) {
        if (dpl > cpl) return fault(m, VEC_GP, sel & 0xfffc);
    } else if (rpl > cpl || dpl != cpl) {
        return fault(m, VEC_GP, sel & 0xfffc);
    }
    if (!(d->attr & DA_P)) return fault(m, VEC_NP, sel & 0xfffc);
    return 0;
}

/* Reads the inner-level stack pointer for privilege level pl from the 32-bit TSS. */
static int tss_stack(struct machine *m, unsigned pl, uint16_t *ss, uint32_t *esp) {
    struct cpu *c = &m->cpu;
    uint32_t off = 4 + pl * 8;
    if (!(c->tr.attr & DA_P) || off + 5 > c->tr.limit) return fault(m, VEC_TS, c->tr.sel & 0xfffc);
    uint32_t v[2];
    int e = guest_read_sys(m, c->tr.base + off, v, 8);
    if (e) return e;
    *esp = v[0];
    *ss = (uint16_t)v[1];
    return 0;
}

/* Loads SS for an inner-level stack switch (SDM Vol. 3A §5.8.5, §6.12.1): #TS on failure. */
static int load_inner_ss(struct machine *m, uint16_t ss, unsigned pl, struct descriptor *d) {
    if ((ss & 0xfffc) == 0) return fault(m, VEC_TS, ss & 0xfffc);
    int e = desc_read(m, ss, d);
    if (e) return fault(m, VEC_TS, ss & 0xfffc);
    unsigned type = d->attr & DA_TYPE;
    if ((ss & 3) != pl || DA_DPL(d->attr) != pl || !(d->attr & DA_S) || (type & DT_CODE) ||
        !(type & DT_WRITABLE))
        return fault(m, VEC_TS, ss & 0xfffc);
    if (!(d->attr & DA_P)) return fault(m, VEC_SS, ss & 0xfffc);
    return 0;
}

int stack_switch_inner(struct machine *m, unsigned pl, uint16_t *ss_out, uint32_t *esp_out,
                       struct descriptor *ssd) {
    uint16_t ss;
    uint32_t esp;
    int e = tss_stack(m, pl, &ss, &esp);
    if (e) return e;
    e = load_inner_ss(m, ss, pl, ssd);
    if (e) return e;
    *ss_out = ss;
    *esp_out = esp;
    return 0;
}

void segment_set_ss(struct machine *m, uint16_t sel, const struct descriptor *d) {
    set_cache(m, S_SS, sel, d);
}

int far_jmp(struct machine *m, uint16_t sel, uint32_t off, uint32_t next_eip) {
    struct cpu *c = &m->cpu;
    if ((sel & 0xfffc) == 0) return fault(m, VEC_GP, 0);
    struct descriptor d;
    int e = desc_read(m, sel, &d);
    if (e) return e;
    if (!(d.attr & DA_S) && (d.attr & DA_TYPE) == SYS_CALLGATE32) {
        /* JMP through a call gate: no privilege change (SDM Vol. 2A JMP) */
        unsigned dpl = DA_DPL(d.attr);
        if (dpl < c->cpl || dpl < (sel & 3u)) return fault(m, VEC_GP, sel & 0xfffc);
        if (!(d.attr & DA_P)) return fault(m, VEC_NP, sel & 0xfffc);
        uint16_t csel = (uint16_t)(d.lo >> 16);
        off = (d.lo & 0xffff) | (d.hi & 0xffff0000u);
        sel = csel;
        e = desc_read(m, csel, &d);
        if (e) return e;
        if (DA_DPL(d.attr) > c->cpl || !(d.attr & DT_CODE)) return fault(m, VEC_GP, csel & 0xfffc);
        sel = (uint16_t)((sel & 0xfffc) | c->cpl);
    }
    if (!(d.attr & DA_S)) {
        unsigned type = d.attr & DA_TYPE;
        if (type == SYS_TSS32_AVAIL || type == SYS_TASKGATE || type == SYS_TSS32_BUSY) {
            /* JMP to a TSS or task gate: DPL >= CPL and RPL (SDM Vol. 3A §7.3) */
            unsigned dpl = DA_DPL(d.attr);
            if (dpl < c->cpl || dpl < (sel & 3u)) return fault(m, VEC_GP, sel & 0xfffc);
            if (!(d.attr & DA_P)) return fault(m, VEC_NP, sel & 0xfffc);
            uint16_t tss = type == SYS_TASKGATE ? (uint16_t)(d.lo >> 16) : sel;
            return task_switch(m, tss, TASK_JMP, next_eip);
        }
        return fault(m, VEC_GP, sel & 0xfffc);
    }
    e = check_code_target(m, sel, &d);
    if (e) return e;
    if (off > d.limit) return fault(m, VEC_GP, 0);
    e = desc_set_accessed(m, sel, &d);
    if (e) return e;
    segment_load_cs(m, sel, &d, c->cpl);
    c->eip = off;
    return 0;
}

int far_call(struct machine *m, uint16_t sel, uint32_t off, uint32_t next_eip, unsigned opsize) {
    struct cpu *c = &m->cpu;
    if ((sel & 0xfffc) == 0) return fault(m, VEC_GP, 0);
    struct descriptor d;
    int e = desc_read(m, sel, &d);
    if (e) return e;
    uint32_t sp = c->gpr[R_ESP];
    if (d.attr & DA_S) {
        e = check_code_target(m, sel, &d);
        if (e) return e;
        if (off > d.limit) return fault(m, VEC_GP, 0);
        if ((e = push(m, &sp, c->seg[S_CS].sel, opsize)) || (e = push(m, &sp, next_eip, opsize)))
            return e;
        desc_set_accessed(m, sel, &d);
        segment_load_cs(m, sel, &d, c->cpl);
        c->gpr[R_ESP] = sp;
        c->eip = off;
        return 0;
    }
    if ((d.attr & DA_TYPE) == SYS_TSS32_AVAIL || (d.attr & DA_TYPE) == SYS_TASKGATE ||
        (d.attr & DA_TYPE) == SYS_TSS32_BUSY) {
        unsigned dpl = DA_DPL(d.attr);
        if (dpl < c->cpl || dpl < (sel & 3u)) return fault(m, VEC_GP, sel & 0xfffc);
        if (!(d.attr & DA_P)) return fault(m, VEC_NP, sel & 0xfffc);
        uint16_t tss = (d.attr & DA_TYPE) == SYS_TASKGATE ? (uint16_t)(d.lo >> 16) : sel;
        return task_switch(m, tss, TASK_CALL, next_eip);
    }
    if ((d.attr & DA_TYPE) == SYS_CALLGATE16 || (d.attr & DA_TYPE) == SYS_TSS16_AVAIL) {
        snprintf(m->error, sizeof m->error,
                 "far CALL through a 16-bit call gate or TSS (selector 0x%04x) at eip=0x%08x is "
                 "not supported",
                 sel, c->eip);
        return -1;
    }
    /* any other system type is not a valid target (SDM Vol. 2A CALL) */
    if ((d.attr & DA_TYPE) != SYS_CALLGATE32) return fault(m, VEC_GP, sel & 0xfffc);
    /* Call gate (SDM Vol. 3A §5.8.4-5.8.6). */
    unsigned gdpl = DA_DPL(d.attr);
    if (gdpl < c->cpl || gdpl < (sel & 3u)) return fault(m, VEC_GP, sel & 0xfffc);
    if (!(d.attr & DA_P)) return fault(m, VEC_NP, sel & 0xfffc);
    uint16_t csel = (uint16_t)(d.lo >> 16);
    uint32_t goff = (d.lo & 0xffff) | (d.hi & 0xffff0000u);
    unsigned nparams = d.hi & 0x1f;
    struct descriptor cd;
    if ((csel & 0xfffc) == 0) return fault(m, VEC_GP, 0);
    e = desc_read(m, csel, &cd);
    if (e) return e;
    unsigned cdpl = DA_DPL(cd.attr);
    if (!(cd.attr & DA_S) || !(cd.attr & DT_CODE) || cdpl > c->cpl)
        return fault(m, VEC_GP, csel & 0xfffc);
    if (!(cd.attr & DA_P)) return fault(m, VEC_NP, csel & 0xfffc);
    if (!(cd.attr & DT_CONFORMING) && cdpl < c->cpl) {
        /* to an inner level: new stack from the TSS, copy parameters */
        uint16_t nss;
        uint32_t nsp;
        struct descriptor ssd;
        e = stack_switch_inner(m, cdpl, &nss, &nsp, &ssd);
        if (e) return e;
        uint32_t params[32], osp = c->gpr[R_ESP];
        for (unsigned i = 0; i < nparams; i++) {
            e = guest_read(m, osp + 4 * i, &params[i], 4);
            if (e) return e;
        }
        uint16_t oss = c->seg[S_SS].sel;
        unsigned ocpl = c->cpl;
        cpu_set_cpl(m, cdpl); /* the pushes are supervisor accesses at the new level */
        uint32_t sp2 = nsp;
        e = push(m, &sp2, oss, 4);
        if (!e) e = push(m, &sp2, osp, 4);
        for (unsigned i = nparams; !e && i-- > 0;)
            e = push(m, &sp2, params[i], 4);
        if (!e) e = push(m, &sp2, c->seg[S_CS].sel, 4);
        if (!e) e = push(m, &sp2, next_eip, 4);
        if (e) {
            cpu_set_cpl(m, ocpl);
            return e;
        }
        segment_set_ss(m, nss, &ssd);
        segment_load_cs(m, csel, &cd, cdpl);
        c->gpr[R_ESP] = sp2;
        c->eip = goff;
        return 0;
    }
    if ((e = push(m, &sp, c->seg[S_CS].sel, 4)) || (e = push(m, &sp, next_eip, 4))) return e;
    segment_load_cs(m, csel, &cd, c->cpl);
    c->gpr[R_ESP] = sp;
    c->eip = goff;
    return 0;
}

/* The code segment a far RET or IRET returns to (SDM Vol. 2B RET, IRET): not null, RPL >=
 * CPL, code, DPL = RPL (<= RPL if conforming), present. */
int return_cs_check(struct machine *m, uint16_t sel, struct descriptor *d) {
    unsigned rpl = sel & 3;
    if ((sel & 0xfffc) == 0) return fault(m, VEC_GP, 0);
    if (rpl < m->cpu.cpl) return fault(m, VEC_GP, sel & 0xfffc);
    int e = desc_read(m, sel, d);
    if (e) return e;
    unsigned type = d->attr & DA_TYPE;
    if (!(d->attr & DA_S) || !(type & DT_CODE)) return fault(m, VEC_GP, sel & 0xfffc);
    if ((type & DT_CONFORMING) ? DA_DPL(d->attr) > rpl : DA_DPL(d->attr) != rpl)
        return fault(m, VEC_GP, sel & 0xfffc);
    if (!(d->attr & DA_P)) return fault(m, VEC_NP, sel & 0xfffc);
    return 0;
}

/* The stack segment of a return to the outer level rpl: a writable data segment with
 * RPL = DPL = rpl, present (#SS otherwise). */
int return_ss_check(struct machine *m, uint16_t ss, unsigned rpl, struct descriptor *d) {
    if ((ss & 0xfffc) == 0) return fault(m, VEC_GP, 0);
    int e = desc_read(m, ss, d);
    if (e) return e;
    if ((ss & 3) != rpl || DA_DPL(d->attr) != rpl || !(d->attr & DA_S) || (d->attr & DT_CODE) ||
        !(d->attr & DT_WRITABLE))
        return fault(m, VEC_GP, ss & 0xfffc);
    if (!(d->attr & DA_P)) return fault(m, VEC_SS, ss & 0xfffc);
    return 0;
}

int far_ret(struct machine *m, uint16_t pop_bytes, unsigned opsize) {
    struct cpu *c = &m->cpu;
    uint32_t sp = c->gpr[R_ESP], eip, cs;
    int e = pop(m, &sp, &eip, opsize);
    if (!e) e = pop(m, &sp, &cs, opsize);
    if (e) return e;
    uint16_t sel = (uint16_t)cs;
    unsigned rpl = sel & 3;
    struct descriptor d;
    e = return_cs_check(m, sel, &d);
    if (e) return e;
    sp += pop_bytes;
    if (rpl == c->cpl) {
        segment_load_cs(m, sel, &d, rpl);
        c->gpr[R_ESP] = sp;
        c->eip = eip;
        return 0;
    }
    /* to an outer level: pop the caller's ESP and SS too */
    uint32_t nesp, nss;
    e = pop(m, &sp, &nesp, opsize);
    if (!e) e = pop(m, &sp, &nss, opsize);
    if (e) return e;
    struct descriptor ssd;
    uint16_t ss = (uint16_t)nss;
    e = return_ss_check(m, ss, rpl, &ssd);
    if (e) return e;
    segment_load_cs(m, sel, &d, rpl);
    segment_set_ss(m, ss, &ssd);
    c->gpr[R_ESP] = nesp + pop_bytes;
    c->eip = eip;
    for (int s = 0; s < 6; s++)
        if (s == S_ES || s == S_DS || s == S_FS || s == S_GS) segment_null_if_inaccessible(m, s);
    return 0;
}

/* ---- system-table instructions (SDM Vol. 2A/2B) ------------------------------------------ */

static uint16_t reg16(const struct cpu *c, ZydisRegister r) {
    return (uint16_t)c->gpr[ZydisRegisterGetId(r) & 7];
}

/* Reads a 16-bit r/m operand. */
static int rm16_read(struct machine *m, const struct insn *in, uint16_t *v) {
    const ZydisDecodedOperand *o = &in->op[0];
    if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
        *v = reg16(&m->cpu, o->reg.value);
        return 0;
    }
    return guest_read(m, helper_mem_ea(&m->cpu, in, o), v, 2);
}

static int rm16_write(struct machine *m, const struct insn *in, uint32_t v) {
    const ZydisDecodedOperand *o = &in->op[0];
    if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
        int r = ZydisRegisterGetId(o->reg.value) & 7;
        if (o->size == 16)
            m->cpu.gpr[r] = (m->cpu.gpr[r] & 0xffff0000u) | (v & 0xffff);
        else
            m->cpu.gpr[r] = v;
        return 0;
    }
    return guest_write(m, helper_mem_ea(&m->cpu, in, o), &v, 2);
}

static bool system_desc_ok_for_lar(unsigned type, bool lsl) {
    switch (type) {
    case SYS_TSS16_AVAIL:
    case SYS_LDT:
    case SYS_TSS16_BUSY:
    case SYS_TSS32_AVAIL:
    case SYS_TSS32_BUSY: return true;
    case SYS_CALLGATE16:
    case SYS_TASKGATE:
    case SYS_CALLGATE32: return !lsl;
    default: return false;
    }
}

int emulate_system_insn(struct machine *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    const ZydisDecodedInstruction *z = &in->zi;
    uint32_t next = in->eip + z->length;
    bool priv = c->cpl != 0;
    int e;
    switch (z->mnemonic) {
    case ZYDIS_MNEMONIC_LGDT:
    case ZYDIS_MNEMONIC_LIDT: {
        if (priv) return fault(m, VEC_GP, 0);
        uint8_t b[6];
        e = guest_read(m, helper_mem_ea(c, in, &in->op[0]), b, 6);
        if (e) return e;
        uint16_t limit = (uint16_t)(b[0] | b[1] << 8);
        uint32_t base =
            (uint32_t)b[2] | (uint32_t)b[3] << 8 | (uint32_t)b[4] << 16 | (uint32_t)b[5] << 24;
        if (z->operand_width == 16) base &= 0x00ffffffu; /* SDM Vol. 2A LGDT: 24-bit base */
        if (z->mnemonic == ZYDIS_MNEMONIC_LGDT) {
            c->gdtr.base = base;
            c->gdtr.limit = limit;
            segmemo_flush(m);
        } else {
            c->idtr.base = base;
            c->idtr.limit = limit;
        }
        break;
    }
    case ZYDIS_MNEMONIC_SGDT:
    case ZYDIS_MNEMONIC_SIDT: {
        bool g = z->mnemonic == ZYDIS_MNEMONIC_SGDT;
        uint32_t base = g ? c->gdtr.base : c->idtr.base;
        uint16_t limit = g ? c->gdtr.limit : c->idtr.limit;
        uint8_t b[6] = {(uint8_t)limit,       (uint8_t)(limit >> 8), (uint8_t)base,
                        (uint8_t)(base >> 8), (uint8_t)(base >> 16), (uint8_t)(base >> 24)};
        e = guest_write(m, helper_mem_ea(c, in, &in->op[0]), b, 6);
        if (e) return e;
        break;
    }
    case ZYDIS_MNEMONIC_SLDT:
    case ZYDIS_MNEMONIC_STR: {
        uint16_t v = z->mnemonic == ZYDIS_MNEMONIC_SLDT ? c->ldtr.sel : c->tr.sel;
        e = rm16_write(m, in, v);
        if (e) return e;
        break;
    }
    case ZYDIS_MNEMONIC_SMSW: {
        e = rm16_write(
            m, in, in->op[0].type == ZYDIS_OPERAND_TYPE_REGISTER ? c->cr[0] : (c->cr[0] & 0xffff));
        if (e) return e;
        break;
    }
    case ZYDIS_MNEMONIC_LMSW: {
        if (priv) return fault(m, VEC_GP, 0);
        uint16_t v;
        e = rm16_read(m, in, &v);
        if (e) return e;
        /* LMSW loads PE MP EM TS and cannot clear PE (SDM Vol. 2A LMSW) */
        fpu_set_cr0(m, (c->cr[0] & ~0xeu) | (v & 0xfu) | (c->cr[0] & CR0_PE));
        break;
    }
    case ZYDIS_MNEMONIC_CLTS:
        if (priv) return fault(m, VEC_GP, 0);
        fpu_set_cr0(m, c->cr[0] & ~CR0_TS);
        break;
    case ZYDIS_MNEMONIC_LLDT:
    case ZYDIS_MNEMONIC_LTR: {
        if (priv) return fault(m, VEC_GP, 0);
        uint16_t sel;
        e = rm16_read(m, in, &sel);
        if (e) return e;
        bool ldt = z->mnemonic == ZYDIS_MNEMONIC_LLDT;
        if (ldt) segmemo_flush(m);
        if ((sel & 0xfffc) == 0) {
            if (!ldt) return fault(m, VEC_GP, 0);
            c->ldtr = (struct segcache){sel, 0, 0, 0};
            break;
        }
        if (sel & 4) return fault(m, VEC_GP, sel & 0xfffc); /* must be in the GDT */
        struct descriptor d;
        e = desc_read(m, sel, &d);
        if (e) return e;
        unsigned type = d.attr & DA_TYPE;
        if ((d.attr & DA_S) || (ldt ? type != SYS_LDT : type != SYS_TSS32_AVAIL))
            return fault(m, VEC_GP, sel & 0xfffc);
        if (!(d.attr & DA_P)) return fault(m, VEC_NP, sel & 0xfffc);
        if (ldt) {
            c->ldtr = (struct segcache){sel, d.base, d.limit, d.attr};
        } else {
            /* LTR marks the TSS busy (SDM Vol. 2A LTR) */
            d.hi |= 0x200;
            e = guest_write_sys(m, c->gdtr.base + (sel & 0xfff8u) + 4, &d.hi, 4);
            if (e) return e;
            c->tr = (struct segcache){sel, d.base, d.limit, (uint16_t)(d.attr | 2)};
        }
        break;
    }
    case ZYDIS_MNEMONIC_LAR:
    case ZYDIS_MNEMONIC_LSL:
    case ZYDIS_MNEMONIC_VERR:
    case ZYDIS_MNEMONIC_VERW: {
        bool verx = z->mnemonic == ZYDIS_MNEMONIC_VERR || z->mnemonic == ZYDIS_MNEMONIC_VERW;
        uint16_t sel;
        const ZydisDecodedOperand *src = verx ? &in->op[0] : &in->op[1];
        if (src->type == ZYDIS_OPERAND_TYPE_REGISTER)
            sel = reg16(c, src->reg.value);
        else if ((e = guest_read(m, helper_mem_ea(c, in, src), &sel, 2)))
            return e;
        bool ok = false;
        struct descriptor d;
        if ((sel & 0xfffc) != 0) {
            int saved = (int)c->exc_error;
            if (desc_read(m, sel, &d) == 0) {
                unsigned type = d.attr & DA_TYPE, dpl = DA_DPL(d.attr);
                bool conf_code = (d.attr & DA_S) && (type & DT_CODE) && (type & DT_CONFORMING);
                bool priv_ok = conf_code || (dpl >= c->cpl && dpl >= (sel & 3u));
                if (z->mnemonic == ZYDIS_MNEMONIC_VERR)
                    ok = (d.attr & DA_S) && priv_ok && (!(type & DT_CODE) || (type & DT_READABLE));
                else if (z->mnemonic == ZYDIS_MNEMONIC_VERW)
                    ok = (d.attr & DA_S) && priv_ok && !(type & DT_CODE) && (type & DT_WRITABLE);
                else
                    ok = priv_ok &&
                         ((d.attr & DA_S) ||
                          system_desc_ok_for_lar(type, z->mnemonic == ZYDIS_MNEMONIC_LSL));
            }
            c->exc_error = (uint32_t)saved;
        }
        uint32_t fl = cpu_get_eflags(c) & ~FL_ZF;
        if (ok) {
            fl |= FL_ZF;
            if (!verx) {
                int r = ZydisRegisterGetId(in->op[0].reg.value) & 7;
                uint32_t v = z->mnemonic == ZYDIS_MNEMONIC_LAR ? (d.hi & 0x00f0ff00u) : d.limit;
                if (z->operand_width == 16)
                    c->gpr[r] = (c->gpr[r] & 0xffff0000u) | (v & 0xffff);
                else
                    c->gpr[r] = v;
            }
        }
        cpu_set_eflags(c, fl);
        break;
    }
    default: return -2;
    }
    c->eip = next;
    return 0;
}
