/* C reference semantics for guest instructions the translator hands to the monitor.
 *
 * Conventions (see translate/helpers.h): every helper first performs all reads and checks
 * that can fault, then its memory writes, and only then updates registers, flags and eip,
 * so an exception (returned as vector + 1) leaves the architectural state unchanged.
 * Segments are flat in this version (base 0, limit 4 GiB), so segment overrides do not
 * change linear addresses and selector loads only record the selector.
 * The stack is always 32 bits wide (SS.B = 1): ESP arithmetic is 32-bit whatever the
 * operand size.
 */
#include "translate/helpers.h"

#include "hv/segments.h"

#include <string.h>

typedef struct machine machine_t;

/* ---------------------------------------------------------------------------------------
 * Small utilities: sizes, flags, registers, effective addresses, operands.
 * ------------------------------------------------------------------------------------- */

static inline uint32_t mask_of(unsigned bits) {
    return bits >= 32 ? 0xffffffffu : (1u << bits) - 1u;
}
static inline uint32_t sign_of(unsigned bits) {
    return 1u << (bits - 1);
}
static inline uint32_t next_eip(const struct insn *in) {
    return in->eip + in->zi.length;
}

/* PF reflects only the low byte of a result (SDM Vol. 1 §3.4.3.1). */
static inline uint32_t pf_of(uint32_t r) {
    return __builtin_parity(r & 0xffu) ? 0 : FL_PF;
}
static inline uint32_t szp_of(uint32_t r, unsigned bits) {
    uint32_t f = pf_of(r);
    if ((r & mask_of(bits)) == 0) f |= FL_ZF;
    if (r & sign_of(bits)) f |= FL_SF;
    return f;
}
static inline void set_arith(struct cpu *c, uint32_t f) {
    c->eflags = (c->eflags & ~FL_ARITH) | (f & FL_ARITH);
}

/* Flags of r = a + b + cin, evaluated at the given width. */
static uint32_t flags_add(uint32_t a, uint32_t b, uint32_t cin, unsigned bits) {
    uint32_t m = mask_of(bits);
    a &= m;
    b &= m;
    uint64_t wide = (uint64_t)a + b + cin;
    uint32_t r = (uint32_t)wide & m;
    uint32_t f = szp_of(r, bits);
    if (wide > m) f |= FL_CF;
    if ((a ^ b ^ r) & 0x10) f |= FL_AF;
    if (((a ^ r) & (b ^ r)) & sign_of(bits)) f |= FL_OF;
    return f;
}
/* Flags of r = a - b - bin, evaluated at the given width. */
static uint32_t flags_sub(uint32_t a, uint32_t b, uint32_t bin, unsigned bits) {
    uint32_t m = mask_of(bits);
    a &= m;
    b &= m;
    uint32_t r = (a - b - bin) & m;
    uint32_t f = szp_of(r, bits);
    if ((uint64_t)a < (uint64_t)b + bin) f |= FL_CF;
    if ((a ^ b ^ r) & 0x10) f |= FL_AF;
    if (((a ^ b) & (a ^ r)) & sign_of(bits)) f |= FL_OF;
    return f;
}

/* Zydis register -> location in cpu.gpr. Returns false for non-GPRs. */
struct regloc {
    int idx;
    unsigned bits;
    unsigned shift; /* 8 for AH/CH/DH/BH */
};
static bool gpr_loc(ZydisRegister r, struct regloc *l) {
    if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BL) {
        *l = (struct regloc){(int)(r - ZYDIS_REGISTER_AL), 8, 0};
    } else if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) {
        *l = (struct regloc){(int)(r - ZYDIS_REGISTER_AH), 8, 8};
    } else if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_DI) {
        *l = (struct regloc){(int)(r - ZYDIS_REGISTER_AX), 16, 0};
    } else if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_EDI) {
        *l = (struct regloc){(int)(r - ZYDIS_REGISTER_EAX), 32, 0};
    } else {
        return false;
    }
    return true;
}
static int sreg_index(ZydisRegister r) {
    if (r >= ZYDIS_REGISTER_ES && r <= ZYDIS_REGISTER_GS) return (int)(r - ZYDIS_REGISTER_ES);
    return -1;
}

static uint32_t reg_get(const struct cpu *c, ZydisRegister r) {
    struct regloc l;
    if (gpr_loc(r, &l)) return (c->gpr[l.idx] >> l.shift) & mask_of(l.bits);
    int s = sreg_index(r);
    if (s >= 0) return c->seg[s].sel;
    return 0;
}
/* Writes a GPR with x86 partial-register semantics: 8/16-bit writes keep the other bits. */
static void reg_set(struct cpu *c, ZydisRegister r, uint32_t v) {
    struct regloc l;
    if (gpr_loc(r, &l)) {
        uint32_t m = mask_of(l.bits) << l.shift;
        c->gpr[l.idx] = (c->gpr[l.idx] & ~m) | ((v << l.shift) & m);
    }
}
/* Low `bits` of a GPR by index (16 or 32; used for SI/DI/CX-style registers). */
static inline uint32_t gpr_w(const struct cpu *c, int idx, unsigned bits) {
    return c->gpr[idx] & mask_of(bits);
}
static inline void gpr_set_w(struct cpu *c, int idx, unsigned bits, uint32_t v) {
    uint32_t m = mask_of(bits);
    c->gpr[idx] = (c->gpr[idx] & ~m) | (v & m);
}

/* Effective address of a memory operand; 16-bit address size wraps at 64 KiB
 * (SDM Vol. 1 §3.7.5); then the segment base is added (linear address). */
static uint32_t mem_ea(const struct cpu *c, const struct insn *in, const ZydisDecodedOperand *op) {
    uint32_t a = (uint32_t)op->mem.disp.value;
    if (op->mem.base != ZYDIS_REGISTER_NONE) a += reg_get(c, op->mem.base);
    if (op->mem.index != ZYDIS_REGISTER_NONE)
        a += reg_get(c, op->mem.index) * (op->mem.scale ? op->mem.scale : 1);
    if (in->zi.address_width == 16) a &= 0xffffu;
    int s = sreg_index(op->mem.segment);
    if (s >= 0) a += c->seg[s].base;
    return a;
}

uint32_t helper_mem_ea(const struct cpu *c, const struct insn *in, const ZydisDecodedOperand *op) {
    return mem_ea(c, in, op);
}

static int mem_read(machine_t *m, uint32_t lin, unsigned bytes, uint32_t *v) {
    uint32_t x = 0;
    int e = guest_read(m, lin, &x, bytes);
    if (e) return e;
    *v = x;
    return 0;
}
static int mem_write(machine_t *m, uint32_t lin, unsigned bytes, uint32_t v) {
    return guest_write(m, lin, &v, bytes);
}

/* Reads operand i (register, memory or immediate), truncated to `bits`. */
static int opnd_read(machine_t *m, const struct insn *in, int i, unsigned bits, uint32_t *v) {
    const ZydisDecodedOperand *op = &in->op[i];
    switch (op->type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
        *v = reg_get(&m->cpu, op->reg.value) & mask_of(bits);
        return 0;
    case ZYDIS_OPERAND_TYPE_MEMORY: return mem_read(m, mem_ea(&m->cpu, in, op), bits / 8, v);
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        /* Zydis has already sign-extended imm8 forms to 64 bits. */
        *v = (uint32_t)op->imm.value.u & mask_of(bits);
        return 0;
    default: return HELPER_UNSUPPORTED;
    }
}
/* Writes operand i. Memory writes happen here; register writes too, so callers write
 * the memory destination before touching any other register. */
static int opnd_write(machine_t *m, const struct insn *in, int i, unsigned bits, uint32_t v) {
    const ZydisDecodedOperand *op = &in->op[i];
    switch (op->type) {
    case ZYDIS_OPERAND_TYPE_REGISTER: {
        int s = sreg_index(op->reg.value);
        if (s >= 0) {
            if (s == S_CS) return VEC_UD + 1; /* MOV CS is #UD (SDM Vol. 2B, MOV) */
            int e = segment_load(m, s, (uint16_t)v);
            if (e) return e;
            if (s == S_SS)
                m->irq_shadow = m->cpu.icount + 1; /* SDM Vol. 2B MOV: blocks interrupts */
        } else {
            reg_set(&m->cpu, op->reg.value, v);
        }
        return 0;
    }
    case ZYDIS_OPERAND_TYPE_MEMORY: return mem_write(m, mem_ea(&m->cpu, in, op), bits / 8, v);
    default: return HELPER_UNSUPPORTED;
    }
}
static bool opnd_is_gpr_or_mem(const ZydisDecodedOperand *op) {
    struct regloc l;
    if (op->type == ZYDIS_OPERAND_TYPE_MEMORY) return true;
    return op->type == ZYDIS_OPERAND_TYPE_REGISTER && gpr_loc(op->reg.value, &l);
}

/* Stack: SS.B = 1 in this version, so ESP is always used in full. */
static inline uint32_t esp(const struct cpu *c) {
    return c->gpr[R_ESP];
}

/* ---------------------------------------------------------------------------------------
 * BCD adjust instructions (SDM Vol. 2A: AAA, AAD, AAM, AAS, DAA, DAS).
 * ------------------------------------------------------------------------------------- */

static int h_aaa_aas(machine_t *m, const struct insn *in, bool sub) {
    struct cpu *c = &m->cpu;
    uint32_t ax = c->gpr[R_EAX] & 0xffffu;
    uint32_t f, adj = 0;
    if ((ax & 0x0f) > 9 || (c->eflags & FL_AF)) {
        /* P6 and later adjust AX as a whole (AX +/- 106h), so a carry/borrow out of AL
         * propagates into AH, as the SDM pseudo-code says. */
        adj = 0x106u;
        f = FL_AF | FL_CF;
    } else {
        f = 0;
    }
    uint32_t sum = (sub ? ax - adj : ax + adj) & 0xffffu;
    ax = sum & 0xff0fu;
#if RRVM_HELPERS_AMD_MODEL
    /* AMD: OF = 0; SF/ZF/PF from the 16-bit AX +/- 106h before AL is masked. */
    f |= pf_of(sum) | (sum == 0 ? FL_ZF : 0) | ((sum & 0x8000u) ? FL_SF : 0);
#else
    /* OF/SF/ZF/PF are undefined. P6-family hardware clears OF and SF and sets ZF/PF
     * from the final AL (bits 7-4 are zero, hence SF = 0). */
    f |= pf_of(ax) | ((ax & 0xff) == 0 ? FL_ZF : 0);
#endif
    c->gpr[R_EAX] = (c->gpr[R_EAX] & 0xffff0000u) | ax;
    set_arith(c, f);
    c->eip = next_eip(in);
    return HELPER_OK;
}

static int h_daa_das(machine_t *m, const struct insn *in, bool sub) {
    struct cpu *c = &m->cpu;
    uint32_t old_al = c->gpr[R_EAX] & 0xff, al = old_al;
    uint32_t old_cf = c->eflags & FL_CF;
    uint32_t f = 0;
    /* SDM pseudo-code: the second test uses the *original* AL and CF. For DAA its ELSE
     * arm clears CF (a carry from +6 implies old AL > 99h anyway); DAS has no such arm,
     * so the borrow of the -6 step survives (e.g. AL = 00h, AF = 1 -> CF = 1). */
    if ((al & 0x0f) > 9 || (c->eflags & FL_AF)) {
        if (sub && al < 6) f |= FL_CF;
        al = (sub ? al - 6 : al + 6) & 0xff;
        f |= FL_AF;
    }
    if (old_al > 0x99 || old_cf) {
        al = (sub ? al - 0x60 : al + 0x60) & 0xff;
        f |= FL_CF;
    }
    f |= szp_of(al, 8);
#if RRVM_HELPERS_AMD_MODEL
    /* AMD: OF as for the add/sub of the total adjustment (sign flips the wrong way). */
    if (sub ? ((old_al & ~al) & 0x80) : ((~old_al & al) & 0x80)) f |= FL_OF;
#endif
    /* Intel P6 family: OF (undefined) reads as 0. */
    c->gpr[R_EAX] = (c->gpr[R_EAX] & ~0xffu) | al;
    set_arith(c, f);
    c->eip = next_eip(in);
    return HELPER_OK;
}

static int h_aam(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    uint32_t imm = (uint32_t)in->op[0].imm.value.u & 0xff;
    if (imm == 0) return VEC_DE + 1;
    uint32_t al = c->gpr[R_EAX] & 0xff;
    uint32_t ah = al / imm, nal = al % imm;
    c->gpr[R_EAX] = (c->gpr[R_EAX] & 0xffff0000u) | (ah << 8) | nal;
    /* SF/ZF/PF from AL; OF/AF/CF are undefined and read as 0 (as after a logic op). */
    set_arith(c, szp_of(nal, 8));
    c->eip = next_eip(in);
    return HELPER_OK;
}

static int h_aad(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    uint32_t imm = (uint32_t)in->op[0].imm.value.u & 0xff;
    uint32_t al = c->gpr[R_EAX] & 0xff, ah = (c->gpr[R_EAX] >> 8) & 0xff;
    uint32_t prod = (ah * imm) & 0xff;
    uint32_t nal = (al + prod) & 0xff;
#if RRVM_HELPERS_AMD_MODEL
    /* AMD: OF/AF/CF (undefined) are those of the final 8-bit ADD AL, AH*imm8. */
    uint32_t f = flags_add(al, prod, 0, 8);
#else
    /* Intel P6 family: OF/AF/CF (undefined) read as 0, as after a logic op. */
    uint32_t f = szp_of(nal, 8);
#endif
    c->gpr[R_EAX] = (c->gpr[R_EAX] & 0xffff0000u) | nal;
    set_arith(c, f);
    c->eip = next_eip(in);
    return HELPER_OK;
}

/* SALC (undocumented D6): AL = CF ? FFh : 00h, flags unchanged. */
static int h_salc(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    c->gpr[R_EAX] = (c->gpr[R_EAX] & ~0xffu) | ((c->eflags & FL_CF) ? 0xffu : 0);
    c->eip = next_eip(in);
    return HELPER_OK;
}

/* ---------------------------------------------------------------------------------------
 * Control and checks: BOUND, INTO, LOOPcc, JCXZ/JECXZ.
 * ------------------------------------------------------------------------------------- */

static int h_bound(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    unsigned bits = in->zi.operand_width;
    if (in->op[1].type != ZYDIS_OPERAND_TYPE_MEMORY)
        return VEC_UD + 1; /* register form is #UD (SDM Vol. 2A, BOUND) */
    uint32_t a = mem_ea(c, in, &in->op[1]);
    uint32_t lo, hi;
    int e = mem_read(m, a, bits / 8, &lo);
    if (!e) e = mem_read(m, a + bits / 8, bits / 8, &hi);
    if (e) return e;
    int32_t idx, l, h;
    if (bits == 16) {
        idx = (int16_t)reg_get(c, in->op[0].reg.value);
        l = (int16_t)lo;
        h = (int16_t)hi;
    } else {
        idx = (int32_t)reg_get(c, in->op[0].reg.value);
        l = (int32_t)lo;
        h = (int32_t)hi;
    }
    if (idx < l || idx > h) return VEC_BR + 1; /* fault: eip stays at the BOUND */
    c->eip = next_eip(in);
    return HELPER_OK;
}

static int h_into(machine_t *m, const struct insn *in) {
    /* INTO is a trap; the monitor turns VEC_OF into a delivery with the return address
     * of the next instruction. */
    if (m->cpu.eflags & FL_OF) return VEC_OF + 1;
    m->cpu.eip = next_eip(in);
    return HELPER_OK;
}

/* Target of a relative branch; a 16-bit operand size truncates EIP (SDM Vol. 2A, Jcc). */
static uint32_t rel_target(const struct insn *in) {
    uint32_t t = next_eip(in) + (uint32_t)in->op[0].imm.value.s;
    if (in->zi.operand_width == 16) t &= 0xffffu;
    return t;
}

static int h_loop(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    unsigned abits = in->zi.address_width; /* count register: CX or ECX */
    uint32_t cnt = (gpr_w(c, R_ECX, abits) - 1) & mask_of(abits);
    bool take = cnt != 0;
    if (in->zi.mnemonic == ZYDIS_MNEMONIC_LOOPE)
        take = take && (c->eflags & FL_ZF);
    else if (in->zi.mnemonic == ZYDIS_MNEMONIC_LOOPNE)
        take = take && !(c->eflags & FL_ZF);
    gpr_set_w(c, R_ECX, abits, cnt);
    c->eip = take ? rel_target(in) : next_eip(in);
    return HELPER_OK;
}

static int h_jcxz(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    unsigned abits = in->zi.mnemonic == ZYDIS_MNEMONIC_JCXZ ? 16 : 32;
    c->eip = gpr_w(c, R_ECX, abits) == 0 ? rel_target(in) : next_eip(in);
    return HELPER_OK;
}

/* Condition of a Jcc (SDM Vol. 2A Jcc, Table "Jump conditions"). */
static bool cond_holds(uint32_t f, ZydisMnemonic mn) {
    bool cf = f & FL_CF, zf = f & FL_ZF, sf = f & FL_SF, of = f & FL_OF, pf = f & FL_PF;
    switch (mn) {
    case ZYDIS_MNEMONIC_JO: return of;
    case ZYDIS_MNEMONIC_JNO: return !of;
    case ZYDIS_MNEMONIC_JB: return cf;
    case ZYDIS_MNEMONIC_JNB: return !cf;
    case ZYDIS_MNEMONIC_JZ: return zf;
    case ZYDIS_MNEMONIC_JNZ: return !zf;
    case ZYDIS_MNEMONIC_JBE: return cf || zf;
    case ZYDIS_MNEMONIC_JNBE: return !cf && !zf;
    case ZYDIS_MNEMONIC_JS: return sf;
    case ZYDIS_MNEMONIC_JNS: return !sf;
    case ZYDIS_MNEMONIC_JP: return pf;
    case ZYDIS_MNEMONIC_JNP: return !pf;
    case ZYDIS_MNEMONIC_JL: return sf != of;
    case ZYDIS_MNEMONIC_JNL: return sf == of;
    case ZYDIS_MNEMONIC_JLE: return zf || sf != of;
    case ZYDIS_MNEMONIC_JNLE: return !zf && sf == of;
    default: return false;
    }
}

/* Near JMP/CALL/RET/Jcc in any operand size; the translator handles the 32-bit forms
 * inline and sends the 16-bit ones (EIP truncated to 16 bits) here. */
static int h_branch(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    unsigned bits = in->zi.operand_width;
    uint32_t mask = mask_of(bits);
    ZydisMnemonic mn = in->zi.mnemonic;
    const ZydisDecodedOperand *op = &in->op[0];
    uint32_t target = 0;
    int e;
    if (mn == ZYDIS_MNEMONIC_RET) {
        uint32_t v;
        e = mem_read(m, esp(c), bits / 8, &v);
        if (e) return e;
        uint32_t pop = op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? (uint32_t)op->imm.value.u : 0;
        c->gpr[R_ESP] = esp(c) + bits / 8 + pop;
        c->eip = v & mask;
        return HELPER_OK;
    }
    if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
        target = rel_target(in);
    } else {
        e = opnd_read(m, in, 0, bits, &target);
        if (e) return e;
        target &= mask;
    }
    if (mn == ZYDIS_MNEMONIC_CALL) {
        uint32_t nsp = esp(c) - bits / 8;
        e = mem_write(m, nsp, bits / 8, next_eip(in) & mask);
        if (e) return e;
        c->gpr[R_ESP] = nsp;
        c->eip = target;
        return HELPER_OK;
    }
    if (mn == ZYDIS_MNEMONIC_JMP || cond_holds(c->eflags, mn))
        c->eip = target;
    else
        c->eip = next_eip(in);
    return HELPER_OK;
}

/* ---------------------------------------------------------------------------------------
 * Stack instructions: PUSH/POP (incl. segment registers), PUSHA/POPA, PUSHF/POPF,
 * ENTER, LEAVE.
 * ------------------------------------------------------------------------------------- */

static int h_push(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    unsigned bits = in->zi.operand_width;
    uint32_t v;
    const ZydisDecodedOperand *op = &in->op[0];
    int s = op->type == ZYDIS_OPERAND_TYPE_REGISTER ? sreg_index(op->reg.value) : -1;
    uint32_t nsp = esp(c) - bits / 8;
    int e;
    if (s >= 0) {
        /* SDM Vol. 2B PUSH: with a 32-bit operand size, recent Intel processors perform a
         * 16-bit move of the selector into the new dword slot, leaving its upper half
         * unmodified. ESP still moves by 4. */
#if RRVM_HELPERS_AMD_MODEL
        e = mem_write(m, nsp, bits / 8, c->seg[s].sel); /* AMD zero-extends */
#else
        e = mem_write(m, nsp, 2, c->seg[s].sel);
#endif
    } else {
        /* PUSH ESP pushes the value before the decrement; PUSH [ESP+x] reads using the old
         * ESP: both follow from reading before updating. */
        e = opnd_read(m, in, 0, bits, &v);
        if (e) return e;
        e = mem_write(m, nsp, bits / 8, v);
    }
    if (e) return e;
    c->gpr[R_ESP] = nsp;
    c->eip = next_eip(in);
    return HELPER_OK;
}

static int h_pop(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    unsigned bits = in->zi.operand_width;
    const ZydisDecodedOperand *op = &in->op[0];
    uint32_t v;
    int e = mem_read(m, esp(c), bits / 8, &v);
    if (e) return e;
    uint32_t old_sp = esp(c);
    int s = op->type == ZYDIS_OPERAND_TYPE_REGISTER ? sreg_index(op->reg.value) : -1;
    if (s == S_CS) return VEC_UD + 1;
    if (s >= 0) {
        e = segment_load(m, s, (uint16_t)v);
        if (e) return e;
        c->gpr[R_ESP] = old_sp + bits / 8;
        if (s == S_SS) m->irq_shadow = m->cpu.icount + 1;
    } else if (op->type == ZYDIS_OPERAND_TYPE_MEMORY) {
        /* SDM Vol. 2B POP: the destination address is computed after ESP is incremented. */
        c->gpr[R_ESP] = old_sp + bits / 8;
        e = opnd_write(m, in, 0, bits, v);
        if (e) {
            c->gpr[R_ESP] = old_sp;
            return e;
        }
    } else {
        /* POP ESP: the popped value wins over the increment. */
        c->gpr[R_ESP] = old_sp + bits / 8;
        reg_set(c, op->reg.value, v);
    }
    c->eip = next_eip(in);
    return HELPER_OK;
}

static int h_pusha(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    unsigned n = in->zi.operand_width / 8;
    uint8_t buf[32];
    /* Memory image from the new ESP upwards: EDI, ESI, EBP, old ESP, EBX, EDX, ECX, EAX. */
    for (int i = 0; i < 8; i++)
        memcpy(buf + (unsigned)(7 - i) * n, &c->gpr[i], n);
    uint32_t nsp = esp(c) - 8 * n;
    int e = guest_write(m, nsp, buf, 8 * n);
    if (e) return e;
    c->gpr[R_ESP] = nsp;
    c->eip = next_eip(in);
    return HELPER_OK;
}

static int h_popa(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    unsigned n = in->zi.operand_width / 8;
    uint8_t buf[32];
    int e = guest_read(m, esp(c), buf, 8 * n);
    if (e) return e;
    uint32_t nsp = esp(c) + 8 * n;
    for (int i = 0; i < 8; i++) {
        if (i == R_ESP) continue; /* the stored ESP image is discarded */
        uint32_t v = 0;
        memcpy(&v, buf + (unsigned)(7 - i) * n, n);
        gpr_set_w(c, i, n * 8, v);
    }
    c->gpr[R_ESP] = nsp;
    c->eip = next_eip(in);
    return HELPER_OK;
}

/* Flags POPF may change at CPL 0 outside V86 mode: all but RF, VM, VIF, VIP and reserved
 * bits (SDM Vol. 2B POPF/POPFD): CF PF AF ZF SF TF IF DF OF IOPL NT AC ID. */
#define FL_POPF_MASK 0x00247fd5u

static int h_pushf(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    unsigned n = in->zi.operand_width / 8;
    /* The pushed image has VM and RF cleared (SDM Vol. 2B PUSHF). */
    uint32_t img = cpu_get_eflags(c) & ~(FL_RF | FL_VM);
    uint32_t nsp = esp(c) - n;
    int e = mem_write(m, nsp, n, img);
    if (e) return e;
    c->gpr[R_ESP] = nsp;
    c->eip = next_eip(in);
    return HELPER_OK;
}

static int h_popf(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    unsigned n = in->zi.operand_width / 8;
    uint32_t v;
    int e = mem_read(m, esp(c), n, &v);
    if (e) return e;
    uint32_t mask = FL_POPF_MASK & (n == 2 ? 0xffffu : 0xffffffffu);
    uint32_t nf = (cpu_get_eflags(c) & ~mask) | (v & mask);
    if (n == 4) nf &= ~FL_RF; /* RF is cleared by POPFD */
    cpu_set_eflags(c, nf);
    c->gpr[R_ESP] = esp(c) + n;
    c->eip = next_eip(in);
    return HELPER_OK;
}

static int h_enter(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    unsigned n = in->zi.operand_width / 8;
    uint32_t alloc = (uint32_t)in->op[0].imm.value.u & 0xffffu;
    unsigned level = (unsigned)in->op[1].imm.value.u & 31; /* SDM: NestingLevel MOD 32 */
    /* Collect everything to push first so a fault on a read changes nothing. The pushes
     * are separate writes; with paging off only an out-of-RAM stack could fault between
     * them, and registers are still untouched then. */
    uint32_t vals[34];
    unsigned nv = 0;
    uint32_t sp = esp(c);
    vals[nv++] = c->gpr[R_EBP];
    uint32_t frame = sp - n;
    if (level > 0) {
        uint32_t ebp = c->gpr[R_EBP];
        for (unsigned i = 1; i < level; i++) {
            /* StackSize is 32, so the display walk uses all of EBP (SDM Vol. 2A ENTER). */
            ebp -= n;
            uint32_t v;
            int e = mem_read(m, ebp, n, &v);
            if (e) return e;
            vals[nv++] = v;
        }
        vals[nv++] = frame;
    }
    for (unsigned i = 0; i < nv; i++) {
        int e = mem_write(m, sp - (i + 1) * n, n, vals[i]);
        if (e) return e;
    }
    sp -= nv * n;
    if (n == 2)
        gpr_set_w(c, R_EBP, 16, frame); /* BP <- FrameTemp[15:0] */
    else
        c->gpr[R_EBP] = frame;
    c->gpr[R_ESP] = sp - alloc;
    c->eip = next_eip(in);
    return HELPER_OK;
}

static int h_leave(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    unsigned n = in->zi.operand_width / 8;
    uint32_t sp = c->gpr[R_EBP]; /* StackSize 32: ESP <- EBP */
    uint32_t v;
    int e = mem_read(m, sp, n, &v);
    if (e) return e;
    gpr_set_w(c, R_EBP, n * 8, v);
    c->gpr[R_ESP] = sp + n;
    c->eip = next_eip(in);
    return HELPER_OK;
}

/* ---------------------------------------------------------------------------------------
 * Segment and miscellaneous: Lxx far pointer loads, XLAT, CPUID, ARPL.
 * ------------------------------------------------------------------------------------- */

static int h_lfp(machine_t *m, const struct insn *in, int s) {
    struct cpu *c = &m->cpu;
    unsigned n = in->zi.operand_width / 8;
    if (in->op[1].type != ZYDIS_OPERAND_TYPE_MEMORY) return VEC_UD + 1;
    uint32_t a = mem_ea(c, in, &in->op[1]);
    uint32_t off, sel;
    int e = mem_read(m, a, n, &off);
    if (!e) e = mem_read(m, a + n, 2, &sel);
    if (e) return e;
    e = segment_load(m, s, (uint16_t)sel);
    if (e) return e;
    reg_set(c, in->op[0].reg.value, off);
    c->eip = next_eip(in);
    return HELPER_OK;
}

static int h_xlat(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    unsigned abits = in->zi.address_width;
    uint32_t a = (gpr_w(c, R_EBX, abits) + (c->gpr[R_EAX] & 0xff)) & mask_of(abits);
    uint32_t v;
    int e = mem_read(m, a, 1, &v);
    if (e) return e;
    c->gpr[R_EAX] = (c->gpr[R_EAX] & ~0xffu) | (v & 0xff);
    c->eip = next_eip(in);
    return HELPER_OK;
}

void cpuid_leaf(uint32_t leaf, uint32_t out[4]) {
    uint32_t a = 0, b = 0, cc = 0, d = 0;
    switch (leaf) {
    case 0:
        a = 1;
        memcpy(&b, "Genu", 4);
        memcpy(&d, "ineI", 4);
        memcpy(&cc, "ntel", 4);
        break;
    case 1:
        a = 0x000006f1u; /* family 6 */
        /* FPU(0) PSE(3) TSC(4) MSR(5) CX8(8) SEP(11) PGE(13) CMOV(15) FXSR(24) */
        d = (1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 8) | (1u << 11) | (1u << 13) |
            (1u << 15) | (1u << 24);
        break;
    default: break;
    }
    out[0] = a;
    out[1] = b;
    out[2] = cc;
    out[3] = d;
}

static int h_cpuid(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    uint32_t r[4];
    cpuid_leaf(c->gpr[R_EAX], r);
    c->gpr[R_EAX] = r[0];
    c->gpr[R_EBX] = r[1];
    c->gpr[R_ECX] = r[2];
    c->gpr[R_EDX] = r[3];
    c->eip = next_eip(in);
    return HELPER_OK;
}

static int h_arpl(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    uint32_t dst, src;
    int e = opnd_read(m, in, 0, 16, &dst);
    if (e) return e;
    src = reg_get(c, in->op[1].reg.value) & 0xffff;
    bool adj = (dst & 3) < (src & 3);
    if (adj) {
        e = opnd_write(m, in, 0, 16, (dst & ~3u) | (src & 3));
        if (e) return e;
        c->eflags |= FL_ZF;
    } else {
        c->eflags &= ~FL_ZF;
    }
    c->eip = next_eip(in);
    return HELPER_OK;
}

/* ---------------------------------------------------------------------------------------
 * String instructions: one element per call (see helpers.h / monitor REP handling).
 * ------------------------------------------------------------------------------------- */

/* Last F2/F3 legacy prefix, or 0. Scanned from the bytes because the hardware treats
 * F2 on MOVS/STOS/LODS as plain REP, which the decoder's attributes do not say. */
static uint8_t rep_prefix(const struct insn *in) {
    uint8_t rep = 0;
    for (unsigned i = 0; i < in->zi.length; i++) {
        uint8_t b = in->bytes[i];
        if (b == 0xf2 || b == 0xf3)
            rep = b;
        else if (!(b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65 ||
                   b == 0x66 || b == 0x67 || b == 0xf0))
            break;
    }
    return rep;
}

static int h_string(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    uint8_t opc = in->zi.opcode;
    unsigned n = (opc & 1) ? in->zi.operand_width / 8 : 1;
    unsigned bits = n * 8;
    unsigned abits = in->zi.address_width;
    uint8_t rep = rep_prefix(in);
    uint32_t cnt = gpr_w(c, R_ECX, abits);
    if (rep && cnt == 0) {
        c->eip = next_eip(in);
        return HELPER_OK;
    }
    uint32_t si = gpr_w(c, R_ESI, abits), di = gpr_w(c, R_EDI, abits);
    /* the source segment may be overridden (SDM Vol. 2B MOVS), the destination is ES */
    int ss = S_DS;
    ZydisInstructionAttributes at = in->zi.attributes;
    if (at & ZYDIS_ATTRIB_HAS_SEGMENT_FS)
        ss = S_FS;
    else if (at & ZYDIS_ATTRIB_HAS_SEGMENT_GS)
        ss = S_GS;
    else if (at & ZYDIS_ATTRIB_HAS_SEGMENT_ES)
        ss = S_ES;
    else if (at & ZYDIS_ATTRIB_HAS_SEGMENT_CS)
        ss = S_CS;
    else if (at & ZYDIS_ATTRIB_HAS_SEGMENT_SS)
        ss = S_SS;
    uint32_t sbase = c->seg[ss].base, dbase = c->seg[S_ES].base;
    uint32_t step = (c->eflags & FL_DF) ? (uint32_t)-n : n;
    uint32_t a = 0, b = 0;
    bool cmp = false, use_si = false, use_di = false;
    int e = 0;
    switch (opc & 0xfe) {
    case 0xa4: /* MOVS: ES:[DI] <- DS:[SI] */
        e = mem_read(m, sbase + si, n, &a);
        if (!e) e = mem_write(m, dbase + di, n, a);
        use_si = use_di = true;
        break;
    case 0xa6: /* CMPS: compare DS:[SI] with ES:[DI] (SI operand is the minuend) */
        e = mem_read(m, sbase + si, n, &a);
        if (!e) e = mem_read(m, dbase + di, n, &b);
        use_si = use_di = cmp = true;
        break;
    case 0xaa: /* STOS */
        e = mem_write(m, dbase + di, n, c->gpr[R_EAX] & mask_of(bits));
        use_di = true;
        break;
    case 0xac: /* LODS */
        e = mem_read(m, sbase + si, n, &a);
        use_si = true;
        break;
    case 0xae: /* SCAS: compare AL/AX/EAX with ES:[DI] */
        a = c->gpr[R_EAX] & mask_of(bits);
        e = mem_read(m, dbase + di, n, &b);
        use_di = cmp = true;
        break;
    default: return HELPER_UNSUPPORTED;
    }
    if (e) return e;
    if ((opc & 0xfe) == 0xac) gpr_set_w(c, R_EAX, bits, a);
    if (cmp) set_arith(c, flags_sub(a, b, 0, bits));
    if (use_si) gpr_set_w(c, R_ESI, abits, si + step);
    if (use_di) gpr_set_w(c, R_EDI, abits, di + step);
    bool again = false;
    if (rep) {
        cnt = (cnt - 1) & mask_of(abits);
        gpr_set_w(c, R_ECX, abits, cnt);
        again = cnt != 0;
        if (cmp) /* REPE/REPZ = F3, REPNE/REPNZ = F2 (SDM Vol. 2B REP) */
            again = again && (rep == 0xf3 ? (c->eflags & FL_ZF) != 0 : (c->eflags & FL_ZF) == 0);
    }
    c->eip = again ? in->eip : next_eip(in);
    return HELPER_OK;
}

/* ---------------------------------------------------------------------------------------
 * Integer ALU fallback: ADD OR ADC SBB AND SUB XOR CMP INC DEC NEG NOT TEST MOV XCHG.
 * ------------------------------------------------------------------------------------- */

static int h_alu(machine_t *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    ZydisMnemonic mn = in->zi.mnemonic;
    const ZydisDecodedOperand *d = &in->op[0];
    unsigned bits = d->size;
    uint32_t a, b = 0, r = 0, f = 0;
    int e;
    bool write = true, setf = true;
    uint32_t keep = 0; /* flags preserved on top of the computed ones */

    if (mn == ZYDIS_MNEMONIC_MOV) {
        /* MOV to/from segment registers, GPRs and memory; CR/DR moves are not ours. */
        const ZydisDecodedOperand *s = &in->op[1];
        if (s->type == ZYDIS_OPERAND_TYPE_REGISTER && !opnd_is_gpr_or_mem(s) &&
            sreg_index(s->reg.value) < 0)
            return HELPER_UNSUPPORTED;
        if (d->type == ZYDIS_OPERAND_TYPE_REGISTER && !opnd_is_gpr_or_mem(d) &&
            sreg_index(d->reg.value) < 0)
            return HELPER_UNSUPPORTED;
        e = opnd_read(m, in, 1, s->size ? s->size : bits, &b);
        if (e) return e;
        /* A segment register stored to a 32-bit GPR is zero-extended (SDM Vol. 2B MOV). */
        e = opnd_write(m, in, 0, bits, b);
        if (e) return e;
        c->eip = next_eip(in);
        return HELPER_OK;
    }
    if (!opnd_is_gpr_or_mem(d)) return HELPER_UNSUPPORTED;
    e = opnd_read(m, in, 0, bits, &a);
    if (e) return e;
    bool unary = mn == ZYDIS_MNEMONIC_INC || mn == ZYDIS_MNEMONIC_DEC || mn == ZYDIS_MNEMONIC_NEG ||
                 mn == ZYDIS_MNEMONIC_NOT;
    if (!unary) {
        e = opnd_read(m, in, 1, bits, &b);
        if (e) return e;
    }
    uint32_t cf = c->eflags & FL_CF;
    switch (mn) {
    case ZYDIS_MNEMONIC_ADD:
        r = a + b;
        f = flags_add(a, b, 0, bits);
        break;
    case ZYDIS_MNEMONIC_ADC:
        r = a + b + cf;
        f = flags_add(a, b, cf, bits);
        break;
    case ZYDIS_MNEMONIC_SUB:
        r = a - b;
        f = flags_sub(a, b, 0, bits);
        break;
    case ZYDIS_MNEMONIC_CMP:
        f = flags_sub(a, b, 0, bits);
        write = false;
        break;
    case ZYDIS_MNEMONIC_SBB:
        r = a - b - cf;
        f = flags_sub(a, b, cf, bits);
        break;
    /* Logic ops: OF = CF = 0; AF is undefined and reads as 0 on hardware. */
    case ZYDIS_MNEMONIC_AND:
        r = a & b;
        f = szp_of(r, bits);
        break;
    case ZYDIS_MNEMONIC_TEST:
        f = szp_of(a & b, bits);
        write = false;
        break;
    case ZYDIS_MNEMONIC_OR:
        r = a | b;
        f = szp_of(r, bits);
        break;
    case ZYDIS_MNEMONIC_XOR:
        r = a ^ b;
        f = szp_of(r, bits);
        break;
    case ZYDIS_MNEMONIC_INC: /* CF is not affected */
        r = a + 1;
        f = flags_add(a, 1, 0, bits) & ~FL_CF;
        keep = cf;
        break;
    case ZYDIS_MNEMONIC_DEC:
        r = a - 1;
        f = flags_sub(a, 1, 0, bits) & ~FL_CF;
        keep = cf;
        break;
    case ZYDIS_MNEMONIC_NEG: /* CF = (source != 0) falls out of 0 - a */
        r = 0u - a;
        f = flags_sub(0, a, 0, bits);
        break;
    case ZYDIS_MNEMONIC_NOT:
        r = ~a;
        setf = false;
        break;
    case ZYDIS_MNEMONIC_XCHG: {
        /* Write memory (if any) first so a fault leaves the registers untouched. */
        const ZydisDecodedOperand *s = &in->op[1];
        if (s->type == ZYDIS_OPERAND_TYPE_MEMORY) {
            e = opnd_write(m, in, 1, bits, a);
            if (e) return e;
            reg_set(c, d->reg.value, b);
        } else {
            e = opnd_write(m, in, 0, bits, b);
            if (e) return e;
            reg_set(c, s->reg.value, a);
        }
        c->eip = next_eip(in);
        return HELPER_OK;
    }
    default: return HELPER_UNSUPPORTED;
    }
    if (write) {
        e = opnd_write(m, in, 0, bits, r & mask_of(bits));
        if (e) return e;
    }
    if (setf) set_arith(c, f | keep);
    c->eip = next_eip(in);
    return HELPER_OK;
}

/* ---------------------------------------------------------------------------------------
 * Dispatch.
 * ------------------------------------------------------------------------------------- */

/* BT/BTS/BTR/BTC with a memory operand and a register bit offset: the offset is signed
 * and selects an operand-sized unit at ea + (offset SAR log2(size)) * size (SDM Vol. 2A,
 * BT, "bit base"). CF = the bit; ZF unchanged; OF SF AF PF undefined (left unchanged). */
static int h_bt(machine_t *m, const struct insn *in) {
    unsigned bits = in->zi.operand_width;
    const ZydisDecodedOperand *op = &in->op[0];
    uint32_t off;
    int e = opnd_read(m, in, 1, bits, &off);
    if (e) return e;
    uint32_t lin, bit;
    if (op->type == ZYDIS_OPERAND_TYPE_MEMORY && in->op[1].type == ZYDIS_OPERAND_TYPE_REGISTER) {
        int32_t soff = bits == 16 ? (int32_t)(int16_t)off : (int32_t)off;
        int32_t unit = soff >> (bits == 16 ? 4 : 5);
        lin = mem_ea(&m->cpu, in, op) + (uint32_t)(unit * (int32_t)(bits / 8));
        bit = (uint32_t)soff & (bits - 1);
    } else {
        return HELPER_UNSUPPORTED;
    }
    uint32_t v;
    if ((e = mem_read(m, lin, bits / 8, &v))) return e;
    uint32_t mask = 1u << bit, nv = v;
    switch (in->zi.mnemonic) {
    case ZYDIS_MNEMONIC_BTS: nv = v | mask; break;
    case ZYDIS_MNEMONIC_BTR: nv = v & ~mask; break;
    case ZYDIS_MNEMONIC_BTC: nv = v ^ mask; break;
    default: break;
    }
    if (in->zi.mnemonic != ZYDIS_MNEMONIC_BT && (e = mem_write(m, lin, bits / 8, nv))) return e;
    m->cpu.eflags = (m->cpu.eflags & ~FL_CF) | ((v & mask) ? FL_CF : 0);
    m->cpu.eip = next_eip(in);
    return HELPER_OK;
}

bool helper_supports(ZydisMnemonic mn) {
    switch (mn) {
    case ZYDIS_MNEMONIC_BT:
    case ZYDIS_MNEMONIC_BTS:
    case ZYDIS_MNEMONIC_BTR:
    case ZYDIS_MNEMONIC_BTC:
    case ZYDIS_MNEMONIC_AAA:
    case ZYDIS_MNEMONIC_AAS:
    case ZYDIS_MNEMONIC_DAA:
    case ZYDIS_MNEMONIC_DAS:
    case ZYDIS_MNEMONIC_AAM:
    case ZYDIS_MNEMONIC_AAD:
    case ZYDIS_MNEMONIC_SALC:
    case ZYDIS_MNEMONIC_BOUND:
    case ZYDIS_MNEMONIC_INTO:
    case ZYDIS_MNEMONIC_PUSHA:
    case ZYDIS_MNEMONIC_PUSHAD:
    case ZYDIS_MNEMONIC_POPA:
    case ZYDIS_MNEMONIC_POPAD:
    case ZYDIS_MNEMONIC_ENTER:
    case ZYDIS_MNEMONIC_LEAVE:
    case ZYDIS_MNEMONIC_PUSH:
    case ZYDIS_MNEMONIC_POP:
    case ZYDIS_MNEMONIC_LDS:
    case ZYDIS_MNEMONIC_LES:
    case ZYDIS_MNEMONIC_LFS:
    case ZYDIS_MNEMONIC_LGS:
    case ZYDIS_MNEMONIC_LSS:
    case ZYDIS_MNEMONIC_XLAT:
    case ZYDIS_MNEMONIC_PUSHF:
    case ZYDIS_MNEMONIC_PUSHFD:
    case ZYDIS_MNEMONIC_POPF:
    case ZYDIS_MNEMONIC_POPFD:
    case ZYDIS_MNEMONIC_CPUID:
    case ZYDIS_MNEMONIC_ARPL:
    case ZYDIS_MNEMONIC_MOVSB:
    case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_MOVSD:
    case ZYDIS_MNEMONIC_STOSB:
    case ZYDIS_MNEMONIC_STOSW:
    case ZYDIS_MNEMONIC_STOSD:
    case ZYDIS_MNEMONIC_LODSB:
    case ZYDIS_MNEMONIC_LODSW:
    case ZYDIS_MNEMONIC_LODSD:
    case ZYDIS_MNEMONIC_CMPSB:
    case ZYDIS_MNEMONIC_CMPSW:
    case ZYDIS_MNEMONIC_CMPSD:
    case ZYDIS_MNEMONIC_SCASB:
    case ZYDIS_MNEMONIC_SCASW:
    case ZYDIS_MNEMONIC_SCASD:
    case ZYDIS_MNEMONIC_LOOP:
    case ZYDIS_MNEMONIC_LOOPE:
    case ZYDIS_MNEMONIC_LOOPNE:
    case ZYDIS_MNEMONIC_JCXZ:
    case ZYDIS_MNEMONIC_JECXZ:
    case ZYDIS_MNEMONIC_JMP:
    case ZYDIS_MNEMONIC_CALL:
    case ZYDIS_MNEMONIC_RET:
    case ZYDIS_MNEMONIC_JO:
    case ZYDIS_MNEMONIC_JNO:
    case ZYDIS_MNEMONIC_JB:
    case ZYDIS_MNEMONIC_JNB:
    case ZYDIS_MNEMONIC_JZ:
    case ZYDIS_MNEMONIC_JNZ:
    case ZYDIS_MNEMONIC_JBE:
    case ZYDIS_MNEMONIC_JNBE:
    case ZYDIS_MNEMONIC_JS:
    case ZYDIS_MNEMONIC_JNS:
    case ZYDIS_MNEMONIC_JP:
    case ZYDIS_MNEMONIC_JNP:
    case ZYDIS_MNEMONIC_JL:
    case ZYDIS_MNEMONIC_JNL:
    case ZYDIS_MNEMONIC_JLE:
    case ZYDIS_MNEMONIC_JNLE:
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_OR:
    case ZYDIS_MNEMONIC_ADC:
    case ZYDIS_MNEMONIC_SBB:
    case ZYDIS_MNEMONIC_AND:
    case ZYDIS_MNEMONIC_SUB:
    case ZYDIS_MNEMONIC_XOR:
    case ZYDIS_MNEMONIC_CMP:
    case ZYDIS_MNEMONIC_INC:
    case ZYDIS_MNEMONIC_DEC:
    case ZYDIS_MNEMONIC_NEG:
    case ZYDIS_MNEMONIC_NOT:
    case ZYDIS_MNEMONIC_TEST:
    case ZYDIS_MNEMONIC_MOV:
    case ZYDIS_MNEMONIC_XCHG: return true;
    default: return false;
    }
}

int helper_exec(struct machine *m, const struct insn *in) {
    /* MOVSD/CMPSD share their mnemonic with SSE2 scalar instructions: the string forms
     * are the one-byte-map opcodes A4-AF. */
    bool legacy_map = in->zi.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT;
    switch (in->zi.mnemonic) {
    case ZYDIS_MNEMONIC_BT:
    case ZYDIS_MNEMONIC_BTS:
    case ZYDIS_MNEMONIC_BTR:
    case ZYDIS_MNEMONIC_BTC: return h_bt(m, in);
    case ZYDIS_MNEMONIC_AAA: return h_aaa_aas(m, in, false);
    case ZYDIS_MNEMONIC_AAS: return h_aaa_aas(m, in, true);
    case ZYDIS_MNEMONIC_DAA: return h_daa_das(m, in, false);
    case ZYDIS_MNEMONIC_DAS: return h_daa_das(m, in, true);
    case ZYDIS_MNEMONIC_AAM: return h_aam(m, in);
    case ZYDIS_MNEMONIC_AAD: return h_aad(m, in);
    case ZYDIS_MNEMONIC_SALC: return h_salc(m, in);
    case ZYDIS_MNEMONIC_BOUND: return h_bound(m, in);
    case ZYDIS_MNEMONIC_INTO: return h_into(m, in);
    case ZYDIS_MNEMONIC_PUSHA:
    case ZYDIS_MNEMONIC_PUSHAD: return h_pusha(m, in);
    case ZYDIS_MNEMONIC_POPA:
    case ZYDIS_MNEMONIC_POPAD: return h_popa(m, in);
    case ZYDIS_MNEMONIC_ENTER: return h_enter(m, in);
    case ZYDIS_MNEMONIC_LEAVE: return h_leave(m, in);
    case ZYDIS_MNEMONIC_PUSH: return h_push(m, in);
    case ZYDIS_MNEMONIC_POP: return h_pop(m, in);
    case ZYDIS_MNEMONIC_LDS: return h_lfp(m, in, S_DS);
    case ZYDIS_MNEMONIC_LES: return h_lfp(m, in, S_ES);
    case ZYDIS_MNEMONIC_LFS: return h_lfp(m, in, S_FS);
    case ZYDIS_MNEMONIC_LGS: return h_lfp(m, in, S_GS);
    case ZYDIS_MNEMONIC_LSS: return h_lfp(m, in, S_SS);
    case ZYDIS_MNEMONIC_XLAT: return h_xlat(m, in);
    case ZYDIS_MNEMONIC_PUSHF:
    case ZYDIS_MNEMONIC_PUSHFD: return h_pushf(m, in);
    case ZYDIS_MNEMONIC_POPF:
    case ZYDIS_MNEMONIC_POPFD: return h_popf(m, in);
    case ZYDIS_MNEMONIC_CPUID: return h_cpuid(m, in);
    case ZYDIS_MNEMONIC_ARPL: return h_arpl(m, in);
    case ZYDIS_MNEMONIC_MOVSB:
    case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_MOVSD:
    case ZYDIS_MNEMONIC_STOSB:
    case ZYDIS_MNEMONIC_STOSW:
    case ZYDIS_MNEMONIC_STOSD:
    case ZYDIS_MNEMONIC_LODSB:
    case ZYDIS_MNEMONIC_LODSW:
    case ZYDIS_MNEMONIC_LODSD:
    case ZYDIS_MNEMONIC_CMPSB:
    case ZYDIS_MNEMONIC_CMPSW:
    case ZYDIS_MNEMONIC_CMPSD:
    case ZYDIS_MNEMONIC_SCASB:
    case ZYDIS_MNEMONIC_SCASW:
    case ZYDIS_MNEMONIC_SCASD:
        if (!legacy_map || in->zi.opcode < 0xa4 || in->zi.opcode > 0xaf) return HELPER_UNSUPPORTED;
        return h_string(m, in);
    case ZYDIS_MNEMONIC_LOOP:
    case ZYDIS_MNEMONIC_LOOPE:
    case ZYDIS_MNEMONIC_LOOPNE: return h_loop(m, in);
    case ZYDIS_MNEMONIC_JCXZ:
    case ZYDIS_MNEMONIC_JECXZ: return h_jcxz(m, in);
    case ZYDIS_MNEMONIC_JMP:
    case ZYDIS_MNEMONIC_CALL:
    case ZYDIS_MNEMONIC_RET:
    case ZYDIS_MNEMONIC_JO:
    case ZYDIS_MNEMONIC_JNO:
    case ZYDIS_MNEMONIC_JB:
    case ZYDIS_MNEMONIC_JNB:
    case ZYDIS_MNEMONIC_JZ:
    case ZYDIS_MNEMONIC_JNZ:
    case ZYDIS_MNEMONIC_JBE:
    case ZYDIS_MNEMONIC_JNBE:
    case ZYDIS_MNEMONIC_JS:
    case ZYDIS_MNEMONIC_JNS:
    case ZYDIS_MNEMONIC_JP:
    case ZYDIS_MNEMONIC_JNP:
    case ZYDIS_MNEMONIC_JL:
    case ZYDIS_MNEMONIC_JNL:
    case ZYDIS_MNEMONIC_JLE:
    case ZYDIS_MNEMONIC_JNLE: return h_branch(m, in);
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_OR:
    case ZYDIS_MNEMONIC_ADC:
    case ZYDIS_MNEMONIC_SBB:
    case ZYDIS_MNEMONIC_AND:
    case ZYDIS_MNEMONIC_SUB:
    case ZYDIS_MNEMONIC_XOR:
    case ZYDIS_MNEMONIC_CMP:
    case ZYDIS_MNEMONIC_INC:
    case ZYDIS_MNEMONIC_DEC:
    case ZYDIS_MNEMONIC_NEG:
    case ZYDIS_MNEMONIC_NOT:
    case ZYDIS_MNEMONIC_TEST:
    case ZYDIS_MNEMONIC_MOV:
    case ZYDIS_MNEMONIC_XCHG: return h_alu(m, in);
    default: return HELPER_UNSUPPORTED;
    }
}
