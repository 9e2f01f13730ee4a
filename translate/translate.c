/* Block translator: decodes a guest basic block with Zydis and emits one CCF.
 *
 * Invariants of the emitted code (docs/ARCHITECTURE.md has the long form):
 *  - Register mapping: see hv/ccf_switch.S. Guest ESP lives in r12d.
 *  - Nothing the translator inserts writes host RFLAGS: it uses only lea, mov, shrx,
 *    xchg, jrcxz and jmp, so guest arithmetic flags stay live in RFLAGS everywhere and
 *    no liveness analysis is needed to keep them.
 *  - Precise state: every host instruction that can fault is the memory access of exactly
 *    one guest instruction, and before it no guest register of that instruction has been
 *    changed (except a borrowed register, saved in r10 and named in the meta table).
 *  - icount: on entry a CCF charges its whole instruction count to the budget (r11); an
 *    exit in the middle is corrected from the meta table (index of the instruction).
 */
#include "translate/translate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/machine.h"
#include "hv/emulate.h"
#include "hv/fpu.h"
#include "hv/mmu.h"
#include "translate/decode.h"
#include "translate/helpers.h"

extern char ccf_exit[];
extern char ccf_inline_call[];

#define MAX_BLOCK_INSNS 48
#define MAX_STUBS (2 * MAX_BLOCK_INSNS + 4)

struct emitter {
    uint8_t *start, *p, *end;
    bool overflow;      /* ran out of TC space */
    bool encode_failed; /* the encoder refused a request (a translator bug) */
};

/* A pending exit stub: the rel32 at site must be pointed at it once it is emitted. */
struct stub {
    uint8_t *site_rel32;
    uint32_t eip;
    uint32_t reason;
    int32_t budget_refund; /* added back to r11 before exiting (budget-check exits) */
};

struct tstate {
    struct emitter e;
    struct stub stubs[MAX_STUBS];
    int nstubs;
    struct ccf_meta meta[MAX_BLOCK_INSNS + 1];
    int nmeta;
};

/* ---- raw emission -------------------------------------------------------------------- */

static void emit_bytes(struct emitter *e, const void *b, size_t n) {
    if (e->p + n > e->end) {
        e->overflow = true;
        return;
    }
    memcpy(e->p, b, n);
    e->p += n;
}

static void emit_req(struct emitter *e, ZydisEncoderRequest *r) {
    ZyanUSize len = (ZyanUSize)(e->end - e->p);
    if (e->p + 16 > e->end) {
        e->overflow = true;
        return;
    }
    if (ZYAN_FAILED(ZydisEncoderEncodeInstruction(r, e->p, &len))) {
        e->encode_failed = true;
        if (getenv("RRVM_DEBUG_ENCODE"))
            fprintf(stderr, "encode failed: %s\n", ZydisMnemonicGetString(r->mnemonic));
        return;
    }
    e->p += len;
}

static ZydisEncoderOperand op_reg(ZydisRegister r) {
    ZydisEncoderOperand o;
    memset(&o, 0, sizeof o);
    o.type = ZYDIS_OPERAND_TYPE_REGISTER;
    o.reg.value = r;
    return o;
}

static ZydisEncoderOperand op_imm(int64_t v) {
    ZydisEncoderOperand o;
    memset(&o, 0, sizeof o);
    o.type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
    o.imm.s = v;
    return o;
}

static ZydisEncoderOperand op_mem(ZydisRegister base, ZydisRegister index, uint8_t scale,
                                  int64_t disp, uint16_t size) {
    ZydisEncoderOperand o;
    memset(&o, 0, sizeof o);
    o.type = ZYDIS_OPERAND_TYPE_MEMORY;
    o.mem.base = base;
    o.mem.index = index;
    o.mem.scale = index == ZYDIS_REGISTER_NONE ? 0 : scale;
    o.mem.displacement = disp;
    o.mem.size = size;
    return o;
}

static void emit_ops(struct emitter *e, ZydisMnemonic mn, int n, const ZydisEncoderOperand *ops) {
    ZydisEncoderRequest r;
    memset(&r, 0, sizeof r);
    r.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
    /* A CPU without BMI1/LZCNT ignores the F3 prefix of TZCNT/LZCNT and runs BSF/BSR (the
     * encoding Linux uses for either): so does this i686 model. */
    if (r.mnemonic == ZYDIS_MNEMONIC_TZCNT || r.mnemonic == ZYDIS_MNEMONIC_LZCNT) {
        r.mnemonic = r.mnemonic == ZYDIS_MNEMONIC_TZCNT ? ZYDIS_MNEMONIC_BSF : ZYDIS_MNEMONIC_BSR;
        r.prefixes &= ~(ZydisInstructionAttributes)ZYDIS_ATTRIB_HAS_REP;
    }
    r.mnemonic = mn;
    r.operand_count = (ZyanU8)n;
    for (int i = 0; i < n; i++)
        r.operands[i] = ops[i];
    /* Zydis wants an LEA's memory operand sized like its destination register. */
    if (mn == ZYDIS_MNEMONIC_LEA && r.operands[1].type == ZYDIS_OPERAND_TYPE_MEMORY)
        r.operands[1].mem.size =
            (uint16_t)(ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, ops[0].reg.value) / 8);
    emit_req(e, &r);
}

static void emit1(struct emitter *e, ZydisMnemonic mn, ZydisEncoderOperand a) {
    emit_ops(e, mn, 1, &a);
}

static void emit2(struct emitter *e, ZydisMnemonic mn, ZydisEncoderOperand a,
                  ZydisEncoderOperand b) {
    emit_ops(e, mn, 2, (ZydisEncoderOperand[]){a, b});
}

static void emit3(struct emitter *e, ZydisMnemonic mn, ZydisEncoderOperand a, ZydisEncoderOperand b,
                  ZydisEncoderOperand c) {
    emit_ops(e, mn, 3, (ZydisEncoderOperand[]){a, b, c});
}

/* jmp rel32 / jcc rel32 with the rel32 left for later; returns the rel32 field. */
static uint8_t *emit_jmp32(struct emitter *e) {
    uint8_t b[5] = {0xE9, 0, 0, 0, 0};
    emit_bytes(e, b, 5);
    return e->overflow ? NULL : e->p - 4;
}

static uint8_t *emit_jcc32(struct emitter *e, uint8_t cc) {
    uint8_t b[6] = {0x0F, (uint8_t)(0x80 | cc), 0, 0, 0, 0};
    emit_bytes(e, b, 6);
    return e->overflow ? NULL : e->p - 4;
}

static void set_rel32(uint8_t *rel32, const uint8_t *dest) {
    int32_t rel = (int32_t)(dest - (rel32 + 4));
    memcpy(rel32, &rel, 4);
}

/* xchg r10, rcx (flag-free swap used around jrcxz) */
static void emit_xchg_r10_rcx(struct emitter *e) {
    static const uint8_t b[] = {0x4C, 0x87, 0xD1};
    emit_bytes(e, b, sizeof b);
}

/* jrcxz rel8 (the only flag-free conditional branch) */
static uint8_t *emit_jrcxz8(struct emitter *e) {
    uint8_t b[2] = {0xE3, 0};
    emit_bytes(e, b, 2);
    return e->overflow ? NULL : e->p - 1;
}

static void set_rel8(uint8_t *rel8, const uint8_t *dest) {
    *rel8 = (uint8_t)(int8_t)(dest - (rel8 + 1));
}

/* movabs r8, ccf_exit ; jmp r8 */
static void emit_jump_exit(struct emitter *e) {
    emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8), op_imm((int64_t)(uintptr_t)ccf_exit));
    emit1(e, ZYDIS_MNEMONIC_JMP, op_reg(ZYDIS_REGISTER_R8));
}

static void emit_store_ctx32(struct emitter *e, int off, uint32_t v) {
    emit2(e, ZYDIS_MNEMONIC_MOV, op_mem(ZYDIS_REGISTER_R15, ZYDIS_REGISTER_NONE, 0, off, 4),
          op_imm((int32_t)v));
}

/* ---- register mapping ------------------------------------------------------------------ */

/* Guest register (as decoded in 32-bit mode) -> host register of the mapping. */
static ZydisRegister map_reg(ZydisRegister r) {
    switch (r) {
    case ZYDIS_REGISTER_ESP: return ZYDIS_REGISTER_R12D;
    case ZYDIS_REGISTER_SP: return ZYDIS_REGISTER_R12W;
    default: return r;
    }
}

static bool is_high_byte(ZydisRegister r) {
    return r == ZYDIS_REGISTER_AH || r == ZYDIS_REGISTER_CH || r == ZYDIS_REGISTER_DH ||
           r == ZYDIS_REGISTER_BH;
}

/* ---- soft TLB ---------------------------------------------------------------------------- */

/* Emits r8d = guest linear address of mem, so that the host address is [r14 + r8] in the
 * current linear view (hv/mmu.h). Only lea/mov: flags untouched. */
static void emit_tlb(struct emitter *e, const ZydisDecodedOperand *mem, bool write) {
    (void)write;
    ZydisRegister base = mem->mem.base, index = mem->mem.index;
    bool a16 = ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LEGACY_32, base) == 16 ||
               ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LEGACY_32, index) == 16;
    if (a16) {
        /* 16-bit addressing (SDM Vol. 1 §3.7.5): sum in 32 bits, keep the low 16 */
        if (base != ZYDIS_REGISTER_NONE)
            base = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LEGACY_32, base);
        if (index != ZYDIS_REGISTER_NONE)
            index = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LEGACY_32, index);
    }
    base = map_reg(base);
    index = map_reg(index);
    int64_t disp = mem->mem.disp.has_displacement ? mem->mem.disp.value : 0;
    if (a16 && base == ZYDIS_REGISTER_NONE && index == ZYDIS_REGISTER_NONE) disp &= 0xffff;
    if (base == ZYDIS_REGISTER_NONE && index == ZYDIS_REGISTER_NONE)
        emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8D), op_imm((int32_t)(uint32_t)disp));
    else
        /* 32-bit address size: the sum wraps modulo 2^32 as the guest's does. */
        emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R8D),
              op_mem(base, index, mem->mem.scale, (int32_t)disp, 0));
    if (a16 && (base != ZYDIS_REGISTER_NONE || index != ZYDIS_REGISTER_NONE))
        emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_R8D), op_reg(ZYDIS_REGISTER_R8W));
    if (mem->mem.segment == ZYDIS_REGISTER_FS || mem->mem.segment == ZYDIS_REGISTER_GS) {
        /* FS/GS may have a base (TLS, per-CPU data): linear = ea + base, read from the
         * descriptor cache at run time, so reloading FS/GS needs no retranslation. CS, DS,
         * ES and SS are flat (the monitor refuses anything else). */
        int s = mem->mem.segment == ZYDIS_REGISTER_FS ? S_FS : S_GS;
        emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R9D),
              op_mem(ZYDIS_REGISTER_R15, ZYDIS_REGISTER_NONE, 0,
                     (int32_t)offsetof(struct cpu, seg[s].base), 4));
        emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R8D),
              op_mem(ZYDIS_REGISTER_R8D, ZYDIS_REGISTER_R9D, 1, 0, 0));
    }
}

/* Same for a stack slot at r12d + delta (delta applied with 32-bit wrap). */
static void emit_tlb_stack(struct emitter *e, int32_t delta, bool write) {
    (void)write;
    emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R8D),
          op_mem(ZYDIS_REGISTER_R12D, ZYDIS_REGISTER_NONE, 0, delta, 0));
}

static ZydisEncoderOperand host_mem(uint16_t size) {
    return op_mem(ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R8, 1, 0, size);
}

/* ---- stubs and budget --------------------------------------------------------------------- */

static void add_stub(struct tstate *t, uint8_t *site, uint32_t eip, uint32_t reason) {
    if (!site || t->nstubs >= MAX_STUBS) {
        t->e.overflow = true;
        return;
    }
    t->stubs[t->nstubs++] = (struct stub){site, eip, reason, 0};
}

static void emit_stubs(struct tstate *t) {
    struct emitter *e = &t->e;
    for (int i = 0; i < t->nstubs; i++) {
        struct stub *s = &t->stubs[i];
        uint8_t *here = e->p;
        if (s->budget_refund)
            emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R11),
                  op_mem(ZYDIS_REGISTER_R11, ZYDIS_REGISTER_NONE, 0, s->budget_refund, 0));
        emit_store_ctx32(e, CPU_OFF_EIP, s->eip);
        emit_store_ctx32(e, CPU_OFF_EXIT_REASON, s->reason);
        emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8),
              op_imm((int64_t)(uintptr_t)s->site_rel32));
        emit2(e, ZYDIS_MNEMONIC_MOV,
              op_mem(ZYDIS_REGISTER_R15, ZYDIS_REGISTER_NONE, 0, CPU_OFF_EXIT_SITE, 8),
              op_reg(ZYDIS_REGISTER_R8));
        emit_jump_exit(e);
        if (!e->overflow) set_rel32(s->site_rel32, here);
    }
}

/* Entry check: charge n instructions; if fewer remain, give them back and exit with
 * EXIT_BUDGET at the block's first instruction. r13 = 44, so shrx by r13 is zero exactly
 * when 0 <= budget < 2^44; the branch is jrcxz with r10 swapped into rcx. */
static void emit_budget(struct tstate *t, uint32_t eip, uint32_t n) {
    struct emitter *e = &t->e;
    emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R11),
          op_mem(ZYDIS_REGISTER_R11, ZYDIS_REGISTER_NONE, 0, -(int32_t)n, 0));
    emit3(e, ZYDIS_MNEMONIC_SHRX, op_reg(ZYDIS_REGISTER_R10), op_reg(ZYDIS_REGISTER_R11),
          op_reg(ZYDIS_REGISTER_R13));
    emit_xchg_r10_rcx(e);
    uint8_t *ok = emit_jrcxz8(e);
    emit_xchg_r10_rcx(e);
    /* out of line: the exit stub gives the n instructions back and exits at eip */
    uint8_t *site = emit_jmp32(e);
    add_stub(t, site, eip, EXIT_BUDGET);
    if (t->nstubs > 0) t->stubs[t->nstubs - 1].budget_refund = (int32_t)n;
    if (ok && !e->overflow) set_rel8(ok, e->p);
    emit_xchg_r10_rcx(e);
}

/* Indirect branch to the guest address in r8d: inline jump-cache probe, else exit. */
static void emit_indirect(struct tstate *t) {
    struct emitter *e = &t->e;
    /* r9 = (r8 & 0xffff) * 16 + jcache;  r10 = entry.neg_eip + r8 (zero on a hit) */
    emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_R9D), op_reg(ZYDIS_REGISTER_R8W));
    emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R9),
          op_mem(ZYDIS_REGISTER_R9, ZYDIS_REGISTER_R9, 1, 0, 0)); /* r9 *= 2 */
    emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10),
          op_mem(ZYDIS_REGISTER_R15, ZYDIS_REGISTER_NONE, 0, CPU_OFF_JCACHE, 8));
    emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R9),
          op_mem(ZYDIS_REGISTER_R10, ZYDIS_REGISTER_R9, 8, 0, 0)); /* entry address */
    emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10),
          op_mem(ZYDIS_REGISTER_R9, ZYDIS_REGISTER_NONE, 0, 0, 8));
    emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R10),
          op_mem(ZYDIS_REGISTER_R10, ZYDIS_REGISTER_R8, 1, 0, 0));
    emit_xchg_r10_rcx(e);
    uint8_t *hit = emit_jrcxz8(e);
    emit_xchg_r10_rcx(e);
    emit2(e, ZYDIS_MNEMONIC_MOV, op_mem(ZYDIS_REGISTER_R15, ZYDIS_REGISTER_NONE, 0, CPU_OFF_EIP, 4),
          op_reg(ZYDIS_REGISTER_R8D));
    emit_store_ctx32(e, CPU_OFF_EXIT_REASON, EXIT_INDIRECT);
    emit_jump_exit(e);
    if (hit && !e->overflow) set_rel8(hit, e->p);
    emit_xchg_r10_rcx(e);
    emit1(e, ZYDIS_MNEMONIC_JMP, op_mem(ZYDIS_REGISTER_R9, ZYDIS_REGISTER_NONE, 0, 8, 8));
}

/* ---- classification ------------------------------------------------------------------------ */

static bool has_mem_operand(const struct insn *in, int *idx) {
    for (int i = 0; i < in->zi.operand_count_visible; i++)
        if (in->op[i].type == ZYDIS_OPERAND_TYPE_MEMORY) {
            if (idx) *idx = i;
            return true;
        }
    return false;
}

/* Instructions not carried inline: a C helper if one exists, else monitor emulation. */
static enum tclass callout_class(const ZydisDecodedInstruction *z) {
    return helper_supports(z->mnemonic) ? TC_HELPER : TC_EMULATE;
}

static enum tclass classify_form(const struct insn *in);

static enum tclass classify(const struct insn *in) {
    const ZydisDecodedInstruction *z = &in->zi;
    int mi = -1;
    bool mem = has_mem_operand(in, &mi);
    enum tclass c = classify_form(in);
    /* 16-bit addressing: IDENT computes the address itself (emit_tlb); the inline stack,
     * branch and string forms assume 32-bit addresses */
    if (mem && z->address_width == 16 && c != TC_IDENT && c != TC_NOP) return callout_class(z);
    return c;
}

static enum tclass classify_form(const struct insn *in) {
    const ZydisDecodedInstruction *z = &in->zi;
    int mi = -1;
    bool mem = has_mem_operand(in, &mi);
    if (z->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && z->opcode >= 0xa4 && z->opcode <= 0xaf &&
        z->opcode != 0xa8 && z->opcode != 0xa9)
        return z->address_width == 32 && !(z->attributes & (ZYDIS_ATTRIB_HAS_SEGMENT_FS |
                                                            ZYDIS_ATTRIB_HAS_SEGMENT_GS))
                   ? TC_STRING
                   : callout_class(z);
    /* 0F 18-0F 1F: hint and reserved-NOP space (PREFETCHh, NOP r/m, ENDBR32, ...): a P6
     * executes all of it as NOP without touching memory (SDM Vol. 2B NOP, PREFETCHh). */
    if (z->opcode_map == ZYDIS_OPCODE_MAP_0F && z->opcode >= 0x18 && z->opcode <= 0x1f)
        return TC_NOP;
    switch (z->mnemonic) {
    case ZYDIS_MNEMONIC_NOP:
    case ZYDIS_MNEMONIC_PAUSE: return TC_NOP;
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_OR:
    case ZYDIS_MNEMONIC_ADC:
    case ZYDIS_MNEMONIC_SBB:
    case ZYDIS_MNEMONIC_AND:
    case ZYDIS_MNEMONIC_SUB:
    case ZYDIS_MNEMONIC_XOR:
    case ZYDIS_MNEMONIC_CMP:
    case ZYDIS_MNEMONIC_TEST:
    case ZYDIS_MNEMONIC_INC:
    case ZYDIS_MNEMONIC_DEC:
    case ZYDIS_MNEMONIC_NEG:
    case ZYDIS_MNEMONIC_NOT:
    case ZYDIS_MNEMONIC_MUL:
    case ZYDIS_MNEMONIC_IMUL:
    case ZYDIS_MNEMONIC_DIV:
    case ZYDIS_MNEMONIC_IDIV:
    case ZYDIS_MNEMONIC_SHL:
    case ZYDIS_MNEMONIC_SHR:
    case ZYDIS_MNEMONIC_SAR:
    case ZYDIS_MNEMONIC_ROL:
    case ZYDIS_MNEMONIC_ROR:
    case ZYDIS_MNEMONIC_RCL:
    case ZYDIS_MNEMONIC_RCR:
    case ZYDIS_MNEMONIC_SHLD:
    case ZYDIS_MNEMONIC_SHRD:
    case ZYDIS_MNEMONIC_BSF:
    case ZYDIS_MNEMONIC_BSR:
    case ZYDIS_MNEMONIC_TZCNT: /* F3 0F BC/BD: BSF/BSR on this CPU (no BMI1/LZCNT) */
    case ZYDIS_MNEMONIC_LZCNT:
    case ZYDIS_MNEMONIC_BSWAP:
    case ZYDIS_MNEMONIC_XCHG:
    case ZYDIS_MNEMONIC_XADD:
    case ZYDIS_MNEMONIC_CMPXCHG:
    case ZYDIS_MNEMONIC_CMPXCHG8B:
    case ZYDIS_MNEMONIC_MOVZX:
    case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_LEA:
    case ZYDIS_MNEMONIC_CBW:
    case ZYDIS_MNEMONIC_CWDE:
    case ZYDIS_MNEMONIC_CWD:
    case ZYDIS_MNEMONIC_CDQ:
    case ZYDIS_MNEMONIC_LAHF:
    case ZYDIS_MNEMONIC_SAHF:
    case ZYDIS_MNEMONIC_CLC:
    case ZYDIS_MNEMONIC_STC:
    case ZYDIS_MNEMONIC_CMC:
    case ZYDIS_MNEMONIC_CLD:
    case ZYDIS_MNEMONIC_STD:
    case ZYDIS_MNEMONIC_SETB:
    case ZYDIS_MNEMONIC_SETBE:
    case ZYDIS_MNEMONIC_SETL:
    case ZYDIS_MNEMONIC_SETLE:
    case ZYDIS_MNEMONIC_SETNB:
    case ZYDIS_MNEMONIC_SETNBE:
    case ZYDIS_MNEMONIC_SETNL:
    case ZYDIS_MNEMONIC_SETNLE:
    case ZYDIS_MNEMONIC_SETNO:
    case ZYDIS_MNEMONIC_SETNP:
    case ZYDIS_MNEMONIC_SETNS:
    case ZYDIS_MNEMONIC_SETNZ:
    case ZYDIS_MNEMONIC_SETO:
    case ZYDIS_MNEMONIC_SETP:
    case ZYDIS_MNEMONIC_SETS:
    case ZYDIS_MNEMONIC_SETZ:
    case ZYDIS_MNEMONIC_CMOVB:
    case ZYDIS_MNEMONIC_CMOVBE:
    case ZYDIS_MNEMONIC_CMOVL:
    case ZYDIS_MNEMONIC_CMOVLE:
    case ZYDIS_MNEMONIC_CMOVNB:
    case ZYDIS_MNEMONIC_CMOVNBE:
    case ZYDIS_MNEMONIC_CMOVNL:
    case ZYDIS_MNEMONIC_CMOVNLE:
    case ZYDIS_MNEMONIC_CMOVNO:
    case ZYDIS_MNEMONIC_CMOVNP:
    case ZYDIS_MNEMONIC_CMOVNS:
    case ZYDIS_MNEMONIC_CMOVNZ:
    case ZYDIS_MNEMONIC_CMOVO:
    case ZYDIS_MNEMONIC_CMOVP:
    case ZYDIS_MNEMONIC_CMOVS:
    case ZYDIS_MNEMONIC_CMOVZ: return TC_IDENT;
    case ZYDIS_MNEMONIC_BT:
    case ZYDIS_MNEMONIC_BTS:
    case ZYDIS_MNEMONIC_BTR:
    case ZYDIS_MNEMONIC_BTC:
        /* bt m, r addresses outside the operand (bit offset / 8): not one page. */
        if (mem && in->op[1].type == ZYDIS_OPERAND_TYPE_REGISTER) return callout_class(z);
        return TC_IDENT;
    case ZYDIS_MNEMONIC_MOV:
        for (int i = 0; i < z->operand_count_visible; i++)
            if (in->op[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
                (ZydisRegisterGetClass(in->op[i].reg.value) == ZYDIS_REGCLASS_SEGMENT ||
                 ZydisRegisterGetClass(in->op[i].reg.value) == ZYDIS_REGCLASS_CONTROL ||
                 ZydisRegisterGetClass(in->op[i].reg.value) == ZYDIS_REGCLASS_DEBUG))
                return TC_EMULATE;
        return TC_IDENT;
    case ZYDIS_MNEMONIC_PUSH:
    case ZYDIS_MNEMONIC_POP:
        if (in->op[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
            ZydisRegisterGetClass(in->op[0].reg.value) == ZYDIS_REGCLASS_SEGMENT) {
            /* PUSH Sreg with a 32-bit operand: a 16-bit store of the selector (Intel; the
             * helper has the AMD variant); POP Sreg loads a descriptor: a callout */
            bool inline_push = z->mnemonic == ZYDIS_MNEMONIC_PUSH && z->operand_width == 32 &&
                               !RRVM_HELPERS_AMD_MODEL;
            return inline_push ? TC_STACK : callout_class(z);
        }
        if (z->mnemonic == ZYDIS_MNEMONIC_POP && mem &&
            (in->op[0].mem.base == ZYDIS_REGISTER_ESP || in->op[0].mem.index == ZYDIS_REGISTER_ESP))
            return callout_class(z);
        return TC_STACK;
    case ZYDIS_MNEMONIC_LEAVE: return z->operand_width == 32 ? TC_STACK : callout_class(z);
    case ZYDIS_MNEMONIC_PUSHAD:
    case ZYDIS_MNEMONIC_POPAD: return z->operand_width == 32 ? TC_STACK : callout_class(z);
    case ZYDIS_MNEMONIC_JMP:
    case ZYDIS_MNEMONIC_CALL:
    case ZYDIS_MNEMONIC_RET:
        if (z->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) return TC_EMULATE;
        if (z->operand_width != 32) return callout_class(z);
        return TC_BRANCH;
    case ZYDIS_MNEMONIC_JB:
    case ZYDIS_MNEMONIC_JBE:
    case ZYDIS_MNEMONIC_JL:
    case ZYDIS_MNEMONIC_JLE:
    case ZYDIS_MNEMONIC_JNB:
    case ZYDIS_MNEMONIC_JNBE:
    case ZYDIS_MNEMONIC_JNL:
    case ZYDIS_MNEMONIC_JNLE:
    case ZYDIS_MNEMONIC_JNO:
    case ZYDIS_MNEMONIC_JNP:
    case ZYDIS_MNEMONIC_JNS:
    case ZYDIS_MNEMONIC_JNZ:
    case ZYDIS_MNEMONIC_JO:
    case ZYDIS_MNEMONIC_JP:
    case ZYDIS_MNEMONIC_JS:
    case ZYDIS_MNEMONIC_JZ:
        if (z->operand_width != 32) return callout_class(z);
        return TC_BRANCH;
    case ZYDIS_MNEMONIC_LOOP:
    case ZYDIS_MNEMONIC_LOOPE:
    case ZYDIS_MNEMONIC_LOOPNE:
    case ZYDIS_MNEMONIC_JECXZ:
    case ZYDIS_MNEMONIC_JCXZ:
        /* the count register is CX or ECX by address size */
        if (z->operand_width != 32 || z->address_width != 32) return callout_class(z);
        return TC_BRANCH;
    default: return callout_class(z);
    }
}

/* INT n, IRET, SYSENTER and SYSEXIT as inline calls that end the block: the monitor runs
 * them (ccf_inline_insn, with the CPL change and the view and jump cache it brings) and the
 * CCF goes on to the new EIP through the jump cache, unless something needs the monitor
 * loop (an interrupt now deliverable, TF, a fault in delivery, ...). */
static bool inline_branch(const struct insn *in) {
    const ZydisDecodedInstruction *z = &in->zi;
    switch (z->mnemonic) {
    case ZYDIS_MNEMONIC_INT:
    case ZYDIS_MNEMONIC_SYSENTER:
    case ZYDIS_MNEMONIC_SYSEXIT: return true;
    case ZYDIS_MNEMONIC_IRETD: return z->operand_width == 32;
    default: return false;
    }
}

/* Callouts that can run from inside a block (TC_INLINE): C helpers and segment-register
 * loads, which neither transfer control nor change the CPL, the paging or the devices; the
 * monitor side (ccf_inline_insn) still leaves the CCF when one changed something the
 * translated code depends on (EIP not at the next instruction, a REP iteration, EFLAGS
 * beyond the arithmetic flags, a non-flat segment, a write to translated code). */
static bool inline_callable(const struct insn *in, enum tclass c) {
    const ZydisDecodedInstruction *z = &in->zi;
    if (c == TC_EMULATE) {
        /* RDTSC: its value comes from the clock or the journal at the precise icount */
        if (z->mnemonic == ZYDIS_MNEMONIC_CLI || z->mnemonic == ZYDIS_MNEMONIC_RDTSC) return true;
        /* IN/OUT: the CCF goes on only if no device was touched (the POST port, a port no
         * device answers); otherwise the monitor brings the devices up to date first */
        if (z->mnemonic == ZYDIS_MNEMONIC_IN || z->mnemonic == ZYDIS_MNEMONIC_OUT) return true;
        if (inline_branch(in)) return true;
        /* MOV Sreg, r16/r32 (not CS, which #UD) */
        return z->mnemonic == ZYDIS_MNEMONIC_MOV && in->op[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
               in->op[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
               ZydisRegisterGetClass(in->op[0].reg.value) == ZYDIS_REGCLASS_SEGMENT &&
               in->op[0].reg.value != ZYDIS_REGISTER_CS;
    }
    /* (the helpers are base-ISA; MMX/SSE forms sharing a mnemonic raise #UD in the monitor) */
    if (c != TC_HELPER || z->meta.isa_ext != ZYDIS_ISA_EXT_BASE) return false;
    if (z->meta.category == ZYDIS_CATEGORY_COND_BR ||
        z->meta.category == ZYDIS_CATEGORY_UNCOND_BR || z->meta.category == ZYDIS_CATEGORY_CALL ||
        z->meta.category == ZYDIS_CATEGORY_RET)
        return false;
    switch (z->mnemonic) {
    case ZYDIS_MNEMONIC_LOOP:
    case ZYDIS_MNEMONIC_LOOPE:
    case ZYDIS_MNEMONIC_LOOPNE:
    case ZYDIS_MNEMONIC_JCXZ:
    case ZYDIS_MNEMONIC_JECXZ:
    case ZYDIS_MNEMONIC_INTO:
    case ZYDIS_MNEMONIC_BOUND: return false;
    default: return true;
    }
}

/* An instruction of the soft-access set (tc.soft) runs as an inline helper call if the
 * helpers have it: base ISA, one explicit memory operand, no REP, no control transfer. */
static bool soft_access_form(const struct insn *in) {
    const ZydisDecodedInstruction *z = &in->zi;
    if (z->meta.isa_ext != ZYDIS_ISA_EXT_BASE || !helper_supports(z->mnemonic)) return false;
    if (z->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE))
        return false;
    if (z->meta.category == ZYDIS_CATEGORY_COND_BR ||
        z->meta.category == ZYDIS_CATEGORY_UNCOND_BR || z->meta.category == ZYDIS_CATEGORY_CALL ||
        z->meta.category == ZYDIS_CATEGORY_RET || z->meta.category == ZYDIS_CATEGORY_STRINGOP)
        return false;
    int nmem = 0;
    for (int i = 0; i < z->operand_count; i++)
        if (in->op[i].type == ZYDIS_OPERAND_TYPE_MEMORY) {
            if (in->op[i].mem.type != ZYDIS_MEMOP_TYPE_MEM ||
                in->op[i].visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT)
                return false;
            nmem++;
        }
    return nmem == 1;
}

static bool is_block_end(enum tclass c) {
    return c == TC_BRANCH || c == TC_STRING || c == TC_HELPER || c == TC_EMULATE;
}

/* ---- per-class emitters ------------------------------------------------------------------ */

/* Re-encodes in for the host with registers mapped and its memory operand (if any)
 * replaced by the soft-TLB host address. Returns false if it cannot be encoded. */
static bool emit_ident(struct tstate *t, const struct insn *in) {
    struct emitter *e = &t->e;
    const ZydisDecodedInstruction *z = &in->zi;
    ZydisEncoderRequest r;
    if (ZYAN_FAILED(ZydisEncoderDecodedInstructionToEncoderRequest(z, in->op,
                                                                   z->operand_count_visible, &r)))
        return false;
    r.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
    r.prefixes &=
        ~(ZydisInstructionAttributes)(ZYDIS_ATTRIB_HAS_SEGMENT_CS | ZYDIS_ATTRIB_HAS_SEGMENT_SS |
                                      ZYDIS_ATTRIB_HAS_SEGMENT_DS | ZYDIS_ATTRIB_HAS_SEGMENT_ES |
                                      ZYDIS_ATTRIB_HAS_SEGMENT_FS | ZYDIS_ATTRIB_HAS_SEGMENT_GS);
    bool high = false;
    int mi = -1;
    for (int i = 0; i < r.operand_count; i++) {
        if (r.operands[i].type == ZYDIS_OPERAND_TYPE_REGISTER) {
            if (is_high_byte(r.operands[i].reg.value)) high = true;
            r.operands[i].reg.value = map_reg(r.operands[i].reg.value);
        } else if (r.operands[i].type == ZYDIS_OPERAND_TYPE_MEMORY) {
            mi = i;
        }
    }
    if (z->mnemonic == ZYDIS_MNEMONIC_LEA) {
        /* An address computation, not an access: computed in 32-bit address size; a
         * 16-bit address keeps only its low 16 bits (SDM Vol. 2A, LEA). */
        const ZydisDecodedOperand *mo = &in->op[1];
        ZydisRegister dst = map_reg(in->op[0].reg.value);
        ZydisRegister base = mo->mem.base, index = mo->mem.index;
        if (z->address_width == 16) {
            if (base != ZYDIS_REGISTER_NONE)
                base = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LEGACY_32, base);
            if (index != ZYDIS_REGISTER_NONE)
                index = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LEGACY_32, index);
        }
        base = map_reg(base);
        index = map_reg(index);
        int64_t disp = mo->mem.disp.has_displacement ? mo->mem.disp.value : 0;
        bool dst16 = in->op[0].size == 16;
        if (base == ZYDIS_REGISTER_NONE && index == ZYDIS_REGISTER_NONE) {
            uint32_t v = (uint32_t)disp;
            if (z->address_width == 16 || dst16) v &= 0xffff;
            emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(dst),
                  op_imm(dst16 ? (int64_t)(int16_t)v : (int64_t)(int32_t)v));
        } else if (dst16) {
            emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R8D),
                  op_mem(base, index, mo->mem.scale, (int32_t)disp, 0));
            emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(dst), op_reg(ZYDIS_REGISTER_R8W));
        } else if (z->address_width == 16) {
            emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(dst),
                  op_mem(base, index, mo->mem.scale, (int32_t)disp, 0));
            ZydisRegister d16 = ZydisRegisterEncode(ZYDIS_REGCLASS_GPR16, ZydisRegisterGetId(dst));
            emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(dst), op_reg(d16));
        } else {
            emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(dst),
                  op_mem(base, index, mo->mem.scale, (int32_t)disp, 0));
        }
        return !e->encode_failed;
    }
    r.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_NONE;
    if (mi < 0 && high) {
        /* e.g. movzx sp, dh: r12w needs REX, dh forbids it. Run it on esi (saved in
         * r10) standing in for esp; no such instruction names both. */
        bool uses_esp = false;
        for (int i = 0; i < r.operand_count; i++)
            if (r.operands[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
                ZydisRegisterGetId(r.operands[i].reg.value) == 12) {
                uses_esp = true;
                r.operands[i].reg.value = ZydisRegisterEncode(
                    ZydisRegisterGetClass(r.operands[i].reg.value), 6 /* esi family */);
            }
        if (uses_esp) {
            emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10), op_reg(ZYDIS_REGISTER_RSI));
            emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_ESI), op_reg(ZYDIS_REGISTER_R12D));
            emit_req(e, &r);
            emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R12D), op_reg(ZYDIS_REGISTER_ESI));
            emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RSI), op_reg(ZYDIS_REGISTER_R10));
            return !e->encode_failed;
        }
    }
    if (mi < 0) {
        emit_req(e, &r);
        return !e->encode_failed;
    }
    bool write = (in->op[mi].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0;
    /* cmpxchg always writes (the old value back when unequal) as hardware does. */
    emit_tlb(e, &in->op[mi], write);
    uint16_t size = r.operands[mi].mem.size;
    if (!high) {
        r.operands[mi] = host_mem(size);
        emit_req(e, &r);
    } else {
        /* AH..BH cannot be encoded with a REX prefix, which r8/r9 need: borrow rsi
         * (never an operand of such an instruction) for the host address. */
        emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10), op_reg(ZYDIS_REGISTER_RSI));
        emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_RSI), host_mem(0));
        t->meta[t->nmeta - 1].fixup_reg = R_ESI;
        r.operands[mi] = op_mem(ZYDIS_REGISTER_RSI, ZYDIS_REGISTER_NONE, 0, 0, size);
        emit_req(e, &r);
        emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RSI), op_reg(ZYDIS_REGISTER_R10));
    }
    return true;
}

/* Loads the value of operand o (register, immediate or memory) into r10 (size bytes). */
static bool emit_load_r10(struct tstate *t, const ZydisDecodedOperand *o, unsigned size) {
    struct emitter *e = &t->e;
    ZydisRegister dst = size == 2 ? ZYDIS_REGISTER_R10W : ZYDIS_REGISTER_R10D;
    switch (o->type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
        emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(dst), op_reg(map_reg(o->reg.value)));
        return true;
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10D),
              op_imm(size == 2 ? (int16_t)o->imm.value.u : (int32_t)o->imm.value.u));
        return true;
    case ZYDIS_OPERAND_TYPE_MEMORY:
        emit_tlb(e, o, false);
        emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(dst), host_mem(size));
        return true;
    default: return false;
    }
}

/* push r10 (size 2 or 4): the store can fault; esp changes only after it. */
static void emit_push_r10(struct tstate *t, unsigned size) {
    struct emitter *e = &t->e;
    emit_tlb_stack(e, -(int32_t)size, true);
    emit2(e, ZYDIS_MNEMONIC_MOV, host_mem(size),
          op_reg(size == 2 ? ZYDIS_REGISTER_R10W : ZYDIS_REGISTER_R10D));
    emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R12D), op_reg(ZYDIS_REGISTER_R8D));
}

/* PUSHAD: the eight stores go below ESP, lowest first, and ESP changes after them; a
 * fault leaves the registers as they were (bytes already stored below ESP are written
 * again by the restarted instruction). */
static void emit_pushad(struct tstate *t) {
    struct emitter *e = &t->e;
    static const ZydisRegister order[8] = {
        ZYDIS_REGISTER_EDI, ZYDIS_REGISTER_ESI, ZYDIS_REGISTER_EBP, ZYDIS_REGISTER_R12D,
        ZYDIS_REGISTER_EBX, ZYDIS_REGISTER_EDX, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_EAX};
    emit_tlb_stack(e, -32, true);
    for (int i = 0; i < 8; i++)
        emit2(e, ZYDIS_MNEMONIC_MOV, op_mem(ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R8, 1, 4 * i, 4),
              op_reg(order[i]));
    emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R12D), op_reg(ZYDIS_REGISTER_R8D));
}

/* POPAD: both ends of the 32 bytes are read first, into scratch, so that a fault comes
 * before any register changes; then the loads (the stored ESP image is skipped). */
static void emit_popad(struct tstate *t) {
    struct emitter *e = &t->e;
    static const ZydisRegister order[8] = {
        ZYDIS_REGISTER_EDI, ZYDIS_REGISTER_ESI, ZYDIS_REGISTER_EBP, ZYDIS_REGISTER_NONE,
        ZYDIS_REGISTER_EBX, ZYDIS_REGISTER_EDX, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_EAX};
    emit_tlb_stack(e, 0, false);
    emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10D),
          op_mem(ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R8, 1, 0, 4));
    emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10D),
          op_mem(ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R8, 1, 28, 4));
    for (int i = 0; i < 8; i++)
        if (order[i] != ZYDIS_REGISTER_NONE)
            emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(order[i]),
                  op_mem(ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R8, 1, 4 * i, 4));
    emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R12D),
          op_mem(ZYDIS_REGISTER_R8D, ZYDIS_REGISTER_NONE, 0, 32, 0));
}

static bool emit_stack(struct tstate *t, const struct insn *in) {
    struct emitter *e = &t->e;
    const ZydisDecodedInstruction *z = &in->zi;
    unsigned size = z->operand_width / 8;
    if (z->mnemonic == ZYDIS_MNEMONIC_PUSHAD) {
        emit_pushad(t);
        return true;
    }
    if (z->mnemonic == ZYDIS_MNEMONIC_POPAD) {
        emit_popad(t);
        return true;
    }
    if (z->mnemonic == ZYDIS_MNEMONIC_PUSH && in->op[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
        ZydisRegisterGetClass(in->op[0].reg.value) == ZYDIS_REGCLASS_SEGMENT) {
        /* the selector from the descriptor cache; a 16-bit store into the new dword slot */
        int s = in->op[0].reg.value - ZYDIS_REGISTER_ES;
        emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_R10D),
              op_mem(ZYDIS_REGISTER_R15, ZYDIS_REGISTER_NONE, 0,
                     (int32_t)offsetof(struct cpu, seg[s].sel), 2));
        emit_tlb_stack(e, -4, true);
        emit2(e, ZYDIS_MNEMONIC_MOV, host_mem(2), op_reg(ZYDIS_REGISTER_R10W));
        emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R12D), op_reg(ZYDIS_REGISTER_R8D));
        return true;
    }
    if (z->mnemonic == ZYDIS_MNEMONIC_PUSH) {
        if (!emit_load_r10(t, &in->op[0], size)) return false;
        emit_push_r10(t, size);
        return true;
    }
    if (z->mnemonic == ZYDIS_MNEMONIC_LEAVE) {
        /* esp = ebp; pop ebp */
        emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8D), op_reg(ZYDIS_REGISTER_EBP));
        emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10D), host_mem(4));
        emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R12D),
              op_mem(ZYDIS_REGISTER_EBP, ZYDIS_REGISTER_NONE, 0, 4, 0));
        emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_EBP), op_reg(ZYDIS_REGISTER_R10D));
        return true;
    }
    /* POP: read [esp] first; then the destination store (memory) can fault; then esp. */
    emit_tlb_stack(e, 0, false);
    ZydisRegister r10 = size == 2 ? ZYDIS_REGISTER_R10W : ZYDIS_REGISTER_R10D;
    emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(r10), host_mem(size));
    const ZydisDecodedOperand *o = &in->op[0];
    if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
        emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R12D),
              op_mem(ZYDIS_REGISTER_R12D, ZYDIS_REGISTER_NONE, 0, size, 0));
        /* pop esp: the value read wins over the increment (SDM POP). */
        emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(map_reg(o->reg.value)), op_reg(r10));
        return true;
    }
    if (o->type != ZYDIS_OPERAND_TYPE_MEMORY) return false;
    emit_tlb(e, o, true);
    emit2(e, ZYDIS_MNEMONIC_MOV, host_mem(size), op_reg(r10));
    emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R12D),
          op_mem(ZYDIS_REGISTER_R12D, ZYDIS_REGISTER_NONE, 0, size, 0));
    return true;
}

static uint8_t jcc_code(ZydisMnemonic m) {
    switch (m) {
    case ZYDIS_MNEMONIC_JO: return 0x0;
    case ZYDIS_MNEMONIC_JNO: return 0x1;
    case ZYDIS_MNEMONIC_JB: return 0x2;
    case ZYDIS_MNEMONIC_JNB: return 0x3;
    case ZYDIS_MNEMONIC_JZ: return 0x4;
    case ZYDIS_MNEMONIC_JNZ: return 0x5;
    case ZYDIS_MNEMONIC_JBE: return 0x6;
    case ZYDIS_MNEMONIC_JNBE: return 0x7;
    case ZYDIS_MNEMONIC_JS: return 0x8;
    case ZYDIS_MNEMONIC_JNS: return 0x9;
    case ZYDIS_MNEMONIC_JP: return 0xA;
    case ZYDIS_MNEMONIC_JNP: return 0xB;
    case ZYDIS_MNEMONIC_JL: return 0xC;
    case ZYDIS_MNEMONIC_JNL: return 0xD;
    case ZYDIS_MNEMONIC_JLE: return 0xE;
    case ZYDIS_MNEMONIC_JNLE: return 0xF;
    default: return 0xFF;
    }
}

static bool emit_branch(struct tstate *t, const struct insn *in) {
    struct emitter *e = &t->e;
    const ZydisDecodedInstruction *z = &in->zi;
    uint32_t next = in->eip + z->length;
    uint32_t target = 0;
    bool relative = in->op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && in->op[0].imm.is_relative;
    if (relative) target = next + (uint32_t)in->op[0].imm.value.s;

    switch (z->mnemonic) {
    case ZYDIS_MNEMONIC_JMP:
        if (relative) {
            add_stub(t, emit_jmp32(e), target, EXIT_CHAIN);
        } else {
            if (!emit_load_r10(t, &in->op[0], 4)) return false;
            emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8D), op_reg(ZYDIS_REGISTER_R10D));
            emit_indirect(t);
        }
        return true;
    case ZYDIS_MNEMONIC_CALL:
        if (relative) {
            emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10D), op_imm((int32_t)next));
            emit_push_r10(t, 4);
            add_stub(t, emit_jmp32(e), target, EXIT_CHAIN);
        } else {
            /* target first (its load can fault), then the push, then the jump */
            if (!emit_load_r10(t, &in->op[0], 4)) return false;
            emit_tlb_stack(e, -4, true);
            emit2(e, ZYDIS_MNEMONIC_MOV, host_mem(4), op_imm((int32_t)next));
            emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R12D), op_reg(ZYDIS_REGISTER_R8D));
            emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8D), op_reg(ZYDIS_REGISTER_R10D));
            emit_indirect(t);
        }
        return true;
    case ZYDIS_MNEMONIC_RET: {
        uint32_t extra = z->operand_count_visible > 0 ? (uint16_t)in->op[0].imm.value.u : 0;
        emit_tlb_stack(e, 0, false);
        emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10D), host_mem(4));
        emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R12D),
              op_mem(ZYDIS_REGISTER_R12D, ZYDIS_REGISTER_NONE, 0, 4 + extra, 0));
        emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8D), op_reg(ZYDIS_REGISTER_R10D));
        emit_indirect(t);
        return true;
    }
    case ZYDIS_MNEMONIC_JECXZ: {
        /* jrcxz (rcx upper half is always zero) */
        uint8_t *taken = emit_jrcxz8(e);
        add_stub(t, emit_jmp32(e), next, EXIT_CHAIN);
        if (taken && !e->overflow) set_rel8(taken, e->p);
        add_stub(t, emit_jmp32(e), target, EXIT_CHAIN);
        return true;
    }
    case ZYDIS_MNEMONIC_LOOP:
    case ZYDIS_MNEMONIC_LOOPE:
    case ZYDIS_MNEMONIC_LOOPNE: {
        /* ecx -= 1 without touching flags; fall through when it reaches zero */
        emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_ECX),
              op_mem(ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_NONE, 0, -1, 0));
        /* lea ecx, [rcx-1] zero-extends: the mapping's upper-half invariant holds */
        uint8_t *zero = emit_jrcxz8(e);
        if (z->mnemonic == ZYDIS_MNEMONIC_LOOPE) add_stub(t, emit_jcc32(e, 0x5), next, EXIT_CHAIN);
        if (z->mnemonic == ZYDIS_MNEMONIC_LOOPNE) add_stub(t, emit_jcc32(e, 0x4), next, EXIT_CHAIN);
        add_stub(t, emit_jmp32(e), target, EXIT_CHAIN);
        if (zero && !e->overflow) set_rel8(zero, e->p);
        add_stub(t, emit_jmp32(e), next, EXIT_CHAIN);
        return true;
    }
    default: {
        uint8_t cc = jcc_code(z->mnemonic);
        if (cc == 0xFF || !relative) return false;
        add_stub(t, emit_jcc32(e, cc), target, EXIT_CHAIN);
        add_stub(t, emit_jmp32(e), next, EXIT_CHAIN);
        return true;
    }
    }
}

/* jrcxz to a rel32 target: jrcxz +2; jmp short +5; jmp rel32. Returns the rel32 field. */
static uint8_t *emit_jrcxz_far(struct emitter *e) {
    static const uint8_t b[] = {0xE3, 0x02, 0xEB, 0x05};
    emit_bytes(e, b, sizeof b);
    return emit_jmp32(e);
}

/* Host pointer for guest esi/edi: rsi/rdi += view base. The views are 4 GiB aligned
 * (hv/mmu.h), so the low 32 bits stay the guest value: "mov esi, esi" after the string
 * operation recovers it, and a fault reports it exactly. */
static void emit_string_ptr(struct emitter *e, ZydisRegister r32, ZydisRegister r64, bool write) {
    (void)r32;
    (void)write;
    emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(r64), op_mem(r64, ZYDIS_REGISTER_R14, 1, 0, 0));
}

/* One string instruction, with its REP loop: one element per iteration, the first charged
 * by the block entry and each further one by its own budget check, so that icount counts
 * iterations and a budget exit leaves the guest mid-REP exactly as an interrupt would. */
static bool emit_string(struct tstate *t, const struct insn *in) {
    struct emitter *e = &t->e;
    const ZydisDecodedInstruction *z = &in->zi;
    uint8_t opc = z->opcode;
    bool rep = (z->attributes &
                (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE)) != 0;
    bool is_cmp = (opc >= 0xa6 && opc <= 0xa7) || opc >= 0xae;
    bool repne = (z->attributes & ZYDIS_ATTRIB_HAS_REPNE) != 0;
    bool src = (opc <= 0xa7) || (opc >= 0xac && opc <= 0xad);
    bool dst = !(opc >= 0xac && opc <= 0xad);
    bool dst_write = (opc <= 0xa5) || (opc >= 0xaa && opc <= 0xab);
    uint8_t *done[4];
    int ndone = 0;
    uint8_t *top = e->p;
    if (rep) done[ndone++] = emit_jrcxz_far(e);
    if (src) emit_string_ptr(e, ZYDIS_REGISTER_ESI, ZYDIS_REGISTER_RSI, false);
    if (dst) emit_string_ptr(e, ZYDIS_REGISTER_EDI, ZYDIS_REGISTER_RDI, dst_write);
    if (z->operand_width == 16) emit_bytes(e, (const uint8_t[]){0x66}, 1);
    emit_bytes(e, &opc, 1);
    if (src) emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_ESI), op_reg(ZYDIS_REGISTER_ESI));
    if (dst) emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_EDI), op_reg(ZYDIS_REGISTER_EDI));
    if (rep) {
        emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_ECX),
              op_mem(ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_NONE, 0, -1, 0));
        if (is_cmp) done[ndone++] = emit_jcc32(e, repne ? 0x4 /* jz */ : 0x5 /* jnz */);
        done[ndone++] = emit_jrcxz_far(e);
        /* charge the next iteration */
        emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R11),
              op_mem(ZYDIS_REGISTER_R11, ZYDIS_REGISTER_NONE, 0, -1, 0));
        emit3(e, ZYDIS_MNEMONIC_SHRX, op_reg(ZYDIS_REGISTER_R10), op_reg(ZYDIS_REGISTER_R11),
              op_reg(ZYDIS_REGISTER_R13));
        emit_xchg_r10_rcx(e);
        uint8_t *ok = emit_jrcxz8(e);
        emit_xchg_r10_rcx(e);
        emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R11),
              op_mem(ZYDIS_REGISTER_R11, ZYDIS_REGISTER_NONE, 0, 1, 0));
        emit_store_ctx32(e, CPU_OFF_EIP, in->eip);
        emit_store_ctx32(e, CPU_OFF_EXIT_REASON, EXIT_BUDGET);
        emit_jump_exit(e);
        if (ok && !e->overflow) set_rel8(ok, e->p);
        emit_xchg_r10_rcx(e);
        uint8_t *back = emit_jmp32(e);
        if (back && !e->overflow) set_rel32(back, top);
    }
    for (int i = 0; i < ndone; i++)
        if (done[i] && !e->overflow) set_rel32(done[i], e->p);
    add_stub(t, emit_jmp32(e), in->eip + z->length, EXIT_CHAIN);
    return !e->encode_failed;
}

/* The segment register a MOV Sreg,r16/r32 or 32-bit POP Sreg loads, if it is DS, ES, FS or
 * GS (the loads emit_segload_fast can repeat); -1 otherwise. */
static int segload_fast_sreg(const struct insn *in) {
    const ZydisDecodedInstruction *z = &in->zi;
    const ZydisDecodedOperand *o = &in->op[0];
    if (o->type != ZYDIS_OPERAND_TYPE_REGISTER ||
        ZydisRegisterGetClass(o->reg.value) != ZYDIS_REGCLASS_SEGMENT)
        return -1;
    int s = o->reg.value - ZYDIS_REGISTER_ES;
    if (s != S_DS && s != S_ES && s != S_FS && s != S_GS) return -1;
    if (z->mnemonic == ZYDIS_MNEMONIC_POP) return z->operand_width == 32 ? s : -1;
    if (z->mnemonic == ZYDIS_MNEMONIC_MOV && in->op[1].type == ZYDIS_OPERAND_TYPE_REGISTER)
        return s;
    return -1;
}

/* Jumps to *miss unless rcx-swapped r10 is zero (r10 swapped with rcx around jrcxz). */
static void emit_miss_unless_r10_zero(struct emitter *e, uint8_t **sites, int *nsites) {
    emit_xchg_r10_rcx(e);
    uint8_t *hit = emit_jrcxz8(e);
    emit_xchg_r10_rcx(e);
    sites[(*nsites)++] = emit_jmp32(e);
    if (hit && !e->overflow) set_rel8(hit, e->p);
    emit_xchg_r10_rcx(e);
}

/* A data-segment load repeated from this CPL's segment-load memo (hv/cpu.h struct segmemo):
 *   r9 = selector; r8 = memo entry for it; a hit needs the key and the descriptor's eight
 *   bytes, read now through the supervisor view, to match; then the memoized descriptor
 *   cache goes into cpu.seg[sreg] (and ESP moves for POP).
 * The descriptor read is this instruction's only possible fault besides POP's stack read,
 * both before any guest state changes. A miss falls through to the inline call after this
 * code (the monitor's segment_load, which fills the memo); a hit jumps over it: the rel32
 * to patch to the end of that call is returned. */
static uint8_t *emit_segload_fast(struct tstate *t, const struct insn *in, int sreg) {
    struct emitter *e = &t->e;
    if (in->zi.mnemonic == ZYDIS_MNEMONIC_POP) {
        emit_tlb_stack(e, 0, false);
        emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_R9D), host_mem(2));
    } else {
        ZydisRegister r = in->op[1].reg.value;
        ZydisRegister r16 = ZydisRegisterEncode(ZYDIS_REGCLASS_GPR16, ZydisRegisterGetId(r) & 7);
        emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_R9D), op_reg(map_reg(r16)));
    }
    int kind = segmemo_kind(sreg);
    emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10),
          op_mem(ZYDIS_REGISTER_R15, ZYDIS_REGISTER_NONE, 0, CPU_OFF_SEGMEMO, 8));
    emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_R8D), op_reg(ZYDIS_REGISTER_R9B));
    emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R8),
          op_mem(ZYDIS_REGISTER_NONE, ZYDIS_REGISTER_R8, 8, 0, 0));
    emit2(
        e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R8),
        op_mem(ZYDIS_REGISTER_R10, ZYDIS_REGISTER_R8, 8, kind * SEGMEMO_ENTRIES * SEGMEMO_SIZE, 0));
    uint8_t *miss[2];
    int nmiss = 0;
    /* key: neg_key + selector + 0x10000 == 0 */
    emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10),
          op_mem(ZYDIS_REGISTER_R8, ZYDIS_REGISTER_NONE, 0, SEGMEMO_OFF_NEG_KEY, 8));
    emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R10),
          op_mem(ZYDIS_REGISTER_R10, ZYDIS_REGISTER_R9, 1, 0x10000, 0));
    emit_miss_unless_r10_zero(e, miss, &nmiss);
    /* descriptor bytes unchanged: neg_raw + raw == 0 */
    emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R9),
          op_mem(ZYDIS_REGISTER_R8, ZYDIS_REGISTER_NONE, 0, SEGMEMO_OFF_DESC, 8));
    emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R9),
          op_mem(ZYDIS_REGISTER_R9, ZYDIS_REGISTER_NONE, 0, 0, 8));
    emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10),
          op_mem(ZYDIS_REGISTER_R8, ZYDIS_REGISTER_NONE, 0, SEGMEMO_OFF_NEG_RAW, 8));
    emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R10),
          op_mem(ZYDIS_REGISTER_R10, ZYDIS_REGISTER_R9, 1, 0, 0));
    emit_miss_unless_r10_zero(e, miss, &nmiss);
    int32_t seg = (int32_t)offsetof(struct cpu, seg[sreg]);
    for (int k = 0; k < 2; k++) {
        emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R9),
              op_mem(ZYDIS_REGISTER_R8, ZYDIS_REGISTER_NONE, 0, SEGMEMO_OFF_CACHE + 8 * k, 8));
        emit2(e, ZYDIS_MNEMONIC_MOV,
              op_mem(ZYDIS_REGISTER_R15, ZYDIS_REGISTER_NONE, 0, seg + 8 * k, 8),
              op_reg(ZYDIS_REGISTER_R9));
    }
    if (in->zi.mnemonic == ZYDIS_MNEMONIC_POP)
        emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R12D),
              op_mem(ZYDIS_REGISTER_R12D, ZYDIS_REGISTER_NONE, 0, 4, 0));
    uint8_t *done = emit_jmp32(e);
    for (int i = 0; i < nmiss; i++)
        if (miss[i] && !e->overflow) set_rel32(miss[i], e->p);
    return e->overflow ? NULL : done;
}

/* A callout from inside the block (TC_INLINE): eip for precise state, then
 *   movabs r10, insn ; mov r9d, charged_from ; movabs r8, ccf_inline_call ; call r8
 * charged_from = instructions the block's entry charged from this one on, from which the
 * monitor knows the precise icount. The decoded instruction is kept in the TC for as long
 * as the CCF lives. */
static bool emit_inline_call(struct tstate *t, struct tc *tc, const struct insn *in,
                             uint32_t charged_from) {
    struct emitter *e = &t->e;
    const struct insn *kept = tc_keep_insn(tc, in);
    if (!kept) return false; /* the pool is full: an ordinary callout instead */
    emit_store_ctx32(e, CPU_OFF_EIP, in->eip);
    emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10), op_imm((int64_t)(uintptr_t)kept));
    emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R9D), op_imm((int32_t)charged_from));
    emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8),
          op_imm((int64_t)(uintptr_t)ccf_inline_call));
    emit1(e, ZYDIS_MNEMONIC_CALL, op_reg(ZYDIS_REGISTER_R8));
    return !e->encode_failed;
}

/* ---- block translation ---------------------------------------------------------------------- */

/* Fetches through the guest's paging. Returns 0, -1 for an invalid instruction, or -2
 * when the bytes cannot be fetched (#PF, in m->fetch_fault). */
static int fetch_decode(struct machine *m, uint32_t eip, struct insn *in) {
    int e = fetch_insn(m, eip, in);
    if (e == 0) return 0;
    if (e == VEC_UD + 1) return -1;
    m->fetch_fault = e;
    return -2;
}

/* Physical frame of linear page lin (the CCF's identity besides its eip). */
static bool code_frame(struct machine *m, uint32_t lin, uint32_t *ppn) {
    uint32_t pa;
    enum mmu_status st = mmu_translate(m, lin, false, m->cpu.cpl == 3, false, &pa);
    if (st != MMU_OK) return false;
    *ppn = pa >> 12;
    return true;
}

struct ccf *translate_block(struct machine *m, uint32_t eip, bool oneshot) {
    struct tc *tc = m->tc;
    static struct insn insns[MAX_BLOCK_INSNS];
    enum tclass cls[MAX_BLOCK_INSNS];
    int n = 0;
    int max = oneshot ? 1
                      : (m->max_block_insns > 0 && m->max_block_insns < MAX_BLOCK_INSNS
                             ? m->max_block_insns
                             : MAX_BLOCK_INSNS);
    uint32_t ppn0;
    m->fetch_fault = 0;
    if (!code_frame(m, eip, &ppn0)) {
        uint32_t pa;
        if (mmu_translate(m, eip, false, m->cpu.cpl == 3, false, &pa) == MMU_PAGE_FAULT) {
            m->fetch_fault = VEC_PF + 1;
            return NULL;
        }
        /* unassigned physical memory reads as all ones: FF FF is an invalid opcode */
        m->fetch_fault = VEC_UD + 1;
        return NULL;
    }
    if (!oneshot) {
        struct ccf *revived = tc_revive(m, eip, ppn0, m->cpu.cpl == 3);
        if (revived) return revived;
    }
    uint32_t pc = eip;
    bool terminated = false;
    while (n < max) {
        /* a debugger breakpoint starts its own block (the monitor stops before it) */
        if (n > 0 && m->nbreakpoints && machine_is_breakpoint(m, pc)) break;
        int r = fetch_decode(m, pc, &insns[n]);
        if (r == -2) {
            if (n == 0) return NULL; /* the monitor delivers the fetch fault */
            m->fetch_fault = 0;      /* this instruction faults when it is reached alone */
            break;
        }
        if (r != 0) {
            /* invalid opcode: the monitor raises #UD when it gets there */
            cls[n] = TC_EMULATE;
            insns[n].eip = pc;
            insns[n].zi.length = 1;
            n++;
            terminated = true;
            break;
        }
        cls[n] = classify(&insns[n]);
        if (!oneshot && inline_callable(&insns[n], cls[n])) cls[n] = TC_INLINE;
        if (!oneshot && cls[n] == TC_IDENT && tc_is_soft(tc, pc) && soft_access_form(&insns[n]))
            cls[n] = TC_INLINE;
        /* STI inline only right before the callout that ends the block (STI; SYSEXIT,
         * STI; HLT): its interrupt shadow then covers exactly that instruction, which the
         * monitor runs after the exit with interrupts still held off */
        bool sti = insns[n].zi.mnemonic == ZYDIS_MNEMONIC_STI;
        if (!oneshot && sti && cls[n] == TC_EMULATE) cls[n] = TC_INLINE;
        if (n > 0 && cls[n - 1] == TC_INLINE && insns[n - 1].zi.mnemonic == ZYDIS_MNEMONIC_STI &&
            cls[n] != TC_EMULATE && cls[n] != TC_HELPER &&
            !(cls[n] == TC_INLINE && inline_branch(&insns[n]))) {
            cls[n - 1] = TC_EMULATE; /* not followed by one: STI ends the block itself */
            terminated = true;
            break;
        }
        if (fpu_is_x87(&insns[n])) {
            /* x87 runs on the host FPU as is, unless CR0 makes it trap (#NM), or it is a
             * state image the monitor must clean of host pointers */
            bool wait = insns[n].zi.mnemonic == ZYDIS_MNEMONIC_FWAIT;
            bool trap = wait ? (m->cpu.cr[0] & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS)
                             : (m->cpu.cr[0] & (CR0_EM | CR0_TS)) != 0;
            cls[n] = (trap || fpu_is_state_insn(&insns[n])) ? TC_EMULATE : TC_IDENT;
        }
        uint32_t len = insns[n].zi.length;
        n++;
        if (is_block_end(cls[n - 1]) || (cls[n - 1] == TC_INLINE && inline_branch(&insns[n - 1]))) {
            terminated = true;
            break;
        }
        pc += len;
        if ((pc & 0xfff) == 0) break; /* end the block at a page end */
    }

    if (n > 0 && cls[n - 1] == TC_INLINE && insns[n - 1].zi.mnemonic == ZYDIS_MNEMONIC_STI) {
        cls[n - 1] = TC_EMULATE; /* the block ended (page end, breakpoint) right after STI */
        terminated = true;
    }
    if (!oneshot && tc->code_end - tc->code_used < 65536) tc_flush(m);
    if (!oneshot && tc->nmeta + MAX_BLOCK_INSNS + 1 > tc->maxmeta) tc_flush(m);
    if (!oneshot && tc->nccfs >= TC_MAX_CCFS) tc_flush(m);

    static struct tstate t;
    memset(&t, 0, sizeof t);
    /* a callout exit names its CCF, so that the monitor can use the instruction decoded
     * here instead of decoding it again (tc.h: ccf.callout) */
    uint32_t self_index = oneshot ? UINT32_MAX : tc->nccfs;
    t.e.start = t.e.p = oneshot ? tc->scratch : tc->code_used;
    t.e.end = oneshot ? tc->scratch + 65536 : tc->code_end;

    /* Instructions charged on entry: all but a terminating callout (the monitor counts
     * what it emulates itself). */
    int charged = n;
    if (terminated && (cls[n - 1] == TC_HELPER || cls[n - 1] == TC_EMULATE)) charged = n - 1;
    if (charged > 0) emit_budget(&t, eip, (uint32_t)charged);
    const int entry_charge = charged; /* what an inline call counts back from */

    for (int i = 0; i < n; i++) {
        struct insn *in = &insns[i];
        t.meta[t.nmeta++] =
            (struct ccf_meta){(uint32_t)(t.e.p - t.e.start), in->eip, (uint16_t)i, -1};
        bool ok = true;
        t.e.encode_failed = false;
        switch (cls[i]) {
        case TC_NOP: break;
        case TC_IDENT: ok = emit_ident(&t, in); break;
        case TC_STACK: ok = emit_stack(&t, in); break;
        case TC_BRANCH: ok = emit_branch(&t, in); break;
        case TC_STRING: ok = emit_string(&t, in); break;
        case TC_INLINE: {
            /* bit 31: the instruction may set IF (an STI right before the ending callout) */
            uint32_t arg = (uint32_t)(entry_charge - i);
            if (in->zi.mnemonic == ZYDIS_MNEMONIC_STI) arg |= 0x80000000u;
            /* bit 30: a control transfer (inline_branch) that goes on at the new EIP */
            bool branch = inline_branch(in);
            if (branch) arg |= 0x40000000u;
            int sreg = segload_fast_sreg(in);
            uint8_t *done = NULL;
            if (sreg >= 0) done = emit_segload_fast(&t, in, sreg);
            ok = emit_inline_call(&t, tc, in, arg);
            if (done && !t.e.overflow) set_rel32(done, t.e.p);
            if (ok && branch) {
                emit2(&t.e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8D),
                      op_mem(ZYDIS_REGISTER_R15, ZYDIS_REGISTER_NONE, 0, CPU_OFF_EIP, 4));
                emit_indirect(&t);
            }
            break;
        }
        case TC_HELPER:
        case TC_EMULATE:
            emit_store_ctx32(&t.e, CPU_OFF_EIP, in->eip);
            emit_store_ctx32(&t.e, CPU_OFF_EXIT_REASON, EXIT_EMULATE);
            emit_store_ctx32(&t.e, CPU_OFF_EXIT_AUX, self_index);
            emit_jump_exit(&t.e);
            break;
        }
        if (t.e.encode_failed) ok = false;
        t.e.encode_failed = false;
        if (!ok && !t.e.overflow) {
            /* The encoder refused this form: hand it to the monitor instead. Everything
             * emitted for it is discarded and the block ends here. */
            t.e.p = t.e.start + t.meta[t.nmeta - 1].host_off;
            if (i == 0 && charged > 0) {
                /* Re-translate from scratch with this instruction as a callout. */
                t.e.p = t.e.start;
                t.nmeta = 0;
                t.nstubs = 0;
                t.meta[t.nmeta++] = (struct ccf_meta){0, in->eip, 0, -1};
                charged = 0;
            } else {
                /* the budget charged one too many: give it back before exiting */
                emit2(&t.e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R11),
                      op_mem(ZYDIS_REGISTER_R11, ZYDIS_REGISTER_NONE, 0, charged - i, 0));
                charged = i;
            }
            emit_store_ctx32(&t.e, CPU_OFF_EIP, in->eip);
            emit_store_ctx32(&t.e, CPU_OFF_EXIT_REASON, EXIT_EMULATE);
            emit_store_ctx32(&t.e, CPU_OFF_EXIT_AUX, self_index);
            emit_jump_exit(&t.e);
            n = i + 1;
            terminated = true;
            break;
        }
    }
    if (!terminated) {
        /* fell off the block (size cap or page end): continue at the next instruction */
        uint32_t next = insns[n - 1].eip + insns[n - 1].zi.length;
        t.meta[t.nmeta++] = (struct ccf_meta){(uint32_t)(t.e.p - t.e.start), next, (uint16_t)n, -1};
        add_stub(&t, emit_jmp32(&t.e), next, EXIT_CHAIN);
    }
    emit_stubs(&t);
    if (t.e.encode_failed) {
        snprintf(m->error, sizeof m->error,
                 "translator bug: cannot encode exit code for eip=0x%08x", eip);
        return NULL;
    }
    if (t.e.overflow) {
        if (oneshot) {
            snprintf(m->error, sizeof m->error, "translation of eip=0x%08x overflowed", eip);
            return NULL;
        }
        tc_flush(m);
        return translate_block(m, eip, oneshot);
    }

    static struct ccf oneshot_ccf;
    struct ccf *c = oneshot ? &oneshot_ccf : &tc->ccfs[tc->nccfs++];
    memset(c, 0, sizeof *c);
    c->eip = eip;
    c->end_eip = insns[n - 1].eip + insns[n - 1].zi.length;
    c->page[0] = ppn0;
    c->page[1] = ppn0;
    c->user = m->cpu.cpl == 3;
    if (((c->end_eip - 1) >> 12) != (eip >> 12) && !code_frame(m, c->end_eip - 1, &c->page[1]))
        c->page[1] = ppn0; /* (cannot happen: every byte was fetched) */
    c->host = t.e.start;
    c->host_len = (uint32_t)(t.e.p - t.e.start);
    c->ninsns = (uint16_t)charged;
    c->oneshot = oneshot;
    c->soft_gen = tc->soft_gen;
    if (oneshot) {
        static struct ccf_meta oneshot_meta[MAX_BLOCK_INSNS + 1];
        memcpy(oneshot_meta, t.meta, sizeof(struct ccf_meta) * t.nmeta);
        c->meta = oneshot_meta;
    } else {
        c->meta = &tc->meta[tc->nmeta];
        memcpy(c->meta, t.meta, sizeof(struct ccf_meta) * t.nmeta);
        tc->nmeta += t.nmeta;
        tc->code_used = t.e.p;
        tc_register(m, c);
        if (terminated &&
            (cls[n - 1] == TC_HELPER || cls[n - 1] == TC_EMULATE || cls[n - 1] == TC_INLINE))
            c->callout = tc_keep_insn(tc, &insns[n - 1]);
        m->stats.blocks_translated++;
        m->stats.tc_bytes_used += c->host_len;
    }
    c->nmeta = (uint32_t)t.nmeta;
    return c;
}
