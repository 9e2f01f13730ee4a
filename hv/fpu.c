/* The guest x87 FPU (see hv/fpu.h). The guest's x87 registers live in the host FPU: the
 * translator copies x87 arithmetic into CCFs unchanged (IDENT), so results are exactly what
 * the host FPU computes. The monitor never uses the x87 itself (no long double anywhere).
 * What must not be copied is handled here: the state save/restore instructions, whose
 * images would otherwise carry host instruction and data pointers (and FXSAVE host SSE
 * registers) into guest memory, and #NM when CR0.TS/EM say the FPU is not available. */
#include "hv/fpu.h"

#include <string.h>

#include "hv/machine.h"
#include "translate/decode.h"
#include "translate/helpers.h"
#include "translate/tc.h"

void fpu_set_cr0(struct machine *m, uint32_t cr0) {
    uint32_t old = m->cpu.cr[0];
    m->cpu.cr[0] = cr0;
    if ((old ^ cr0) & (CR0_EM | CR0_TS | CR0_MP)) tc_flush(m);
}

void fpu_reset(void) {
    __asm__ volatile("fninit");
}

bool fpu_is_x87(const struct insn *in) {
    return in->zi.meta.isa_ext == ZYDIS_ISA_EXT_X87 || in->zi.mnemonic == ZYDIS_MNEMONIC_FWAIT;
}

bool fpu_is_state_insn(const struct insn *in) {
    switch (in->zi.mnemonic) {
    case ZYDIS_MNEMONIC_FNSAVE:
    case ZYDIS_MNEMONIC_FRSTOR:
    case ZYDIS_MNEMONIC_FNSTENV:
    case ZYDIS_MNEMONIC_FLDENV:
    case ZYDIS_MNEMONIC_FXSAVE:
    case ZYDIS_MNEMONIC_FXRSTOR: return true;
    default: return false;
    }
}

/* In the 32-bit protected-mode environment image (SDM Vol. 1 Fig. 8-9), the instruction
 * and operand pointers are at bytes 12-27; rrvm does not track the guest's, so they read as
 * zero (only FOP, bits 16-26 of the FCS dword, is kept). */
static void clear_env_pointers(uint8_t *env) {
    uint32_t fcs;
    memcpy(&fcs, env + 16, 4);
    fcs &= 0x07ff0000u;
    memset(env + 12, 0, 16);
    memcpy(env + 16, &fcs, 4);
}

int fpu_emulate(struct machine *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    const ZydisDecodedInstruction *z = &in->zi;
    bool x87 = fpu_is_x87(in);
    bool fx = z->mnemonic == ZYDIS_MNEMONIC_FXSAVE || z->mnemonic == ZYDIS_MNEMONIC_FXRSTOR;
    if (!x87 && !fx) return -2;
    /* #NM (SDM Vol. 3A §2.5, Table 2-2): EM or TS for x87 and FXSAVE; WAIT only with MP+TS */
    if (z->mnemonic == ZYDIS_MNEMONIC_FWAIT) {
        if ((c->cr[0] & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS)) return VEC_NM + 1;
    } else if (c->cr[0] & (CR0_EM | CR0_TS)) {
        return VEC_NM + 1;
    }
    if (!fpu_is_state_insn(in)) {
        /* reached here only when the translation had to trap (TS/EM were set when it was
         * translated): run it as a one-instruction CCF instead */
        return -3;
    }
    if (z->operand_width == 16 && !fx) {
        snprintf(m->error, sizeof m->error,
                 "16-bit FPU environment format at eip=0x%08x is not supported", c->eip);
        return -1;
    }
    uint32_t a = helper_mem_ea(c, in, &in->op[0]);
    int e = 0;
    switch (z->mnemonic) {
    case ZYDIS_MNEMONIC_FNSTENV: {
        uint8_t env[28];
        __asm__ volatile("fnstenv %0" : "=m"(env));
        clear_env_pointers(env);
        e = guest_write(m, a, env, sizeof env);
        /* FNSTENV masks all exceptions afterwards; it already did in the host */
        break;
    }
    case ZYDIS_MNEMONIC_FLDENV: {
        uint8_t env[28];
        e = guest_read(m, a, env, sizeof env);
        if (!e) __asm__ volatile("fldenv %0" : : "m"(env));
        break;
    }
    case ZYDIS_MNEMONIC_FNSAVE: {
        uint8_t img[108];
        /* save without reinitializing first, so that a faulting store changes nothing */
        __asm__ volatile("fnsave %0\n\tfrstor %0" : "+m"(img));
        clear_env_pointers(img);
        e = guest_write(m, a, img, sizeof img);
        if (!e) __asm__ volatile("fninit");
        break;
    }
    case ZYDIS_MNEMONIC_FRSTOR: {
        uint8_t img[108];
        e = guest_read(m, a, img, sizeof img);
        if (!e) __asm__ volatile("frstor %0" : : "m"(img));
        break;
    }
    case ZYDIS_MNEMONIC_FXSAVE:
    case ZYDIS_MNEMONIC_FXRSTOR: {
        if (a & 15) {
            c->exc_error = 0;
            return VEC_GP + 1; /* SDM Vol. 2A FXSAVE: 16-byte alignment */
        }
        _Alignas(16) uint8_t host[512];
        __asm__ volatile("fxsave %0" : "=m"(host));
        if (z->mnemonic == ZYDIS_MNEMONIC_FXSAVE) {
            _Alignas(16) uint8_t img[512];
            memset(img, 0, sizeof img);
            /* FCW FSW FTW(abridged) FOP, then pointers (zero), then the x87 registers; no
             * SSE in this CPU model: MXCSR reads as its reset value, XMM as zero */
            memcpy(img, host, 8);
            uint32_t mxcsr = 0x1f80, mask = 0xffbf;
            memcpy(img + 24, &mxcsr, 4);
            memcpy(img + 28, &mask, 4);
            memcpy(img + 32, host + 32, 128);
            e = guest_write(m, a, img, sizeof img);
        } else {
            uint8_t img[512];
            e = guest_read(m, a, img, sizeof img);
            if (e) break;
            /* only the x87 part reaches the host FPU: the host's MXCSR and XMM registers
             * belong to the monitor */
            memcpy(host, img, 8);
            memset(host + 8, 0, 16);
            memcpy(host + 32, img + 32, 128);
            __asm__ volatile("fxrstor %0" : : "m"(host));
        }
        break;
    }
    default: return -2;
    }
    if (e) return e;
    c->eip = in->eip + z->length;
    return 0;
}
