/* Trap-and-emulate: the privileged and sensitive instructions translated code hands to the
 * monitor (I/O, interrupt flag, HLT, control/debug registers, descriptor tables, far
 * transfers, INT n/IRET, SYSENTER/SYSEXIT, TSC and MSRs), with their privilege checks. */
#include "hv/emulate.h"

#include <stdio.h>
#include <string.h>

#include "hv/clock.h"
#include "hv/emulate.h"
#include "hv/exceptions.h"
#include "hv/fpu.h"
#include "hv/machine.h"
#include "hv/segments.h"
#include "record/recorder.h"
#include "replay/replayer.h"
#include "translate/helpers.h"
#include "translate/tc.h"

#define MSR_TSC 0x10
#define MSR_MISC_ENABLE 0x1a0
#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176

static int gp0(struct machine *m) {
    m->cpu.exc_error = 0;
    return VEC_GP + 1;
}

static unsigned iopl(const struct cpu *c) {
    return (c->eflags >> 12) & 3;
}

/* IN/OUT permission (SDM Vol. 1 §19.5): CPL <= IOPL, or every byte's bit clear in the TSS
 * I/O permission bitmap. */
static int io_permitted(struct machine *m, uint16_t port, unsigned size) {
    struct cpu *c = &m->cpu;
    if (!(c->cr[0] & CR0_PE) || c->cpl <= iopl(c)) return 0;
    if ((c->tr.attr & DA_TYPE) != SYS_TSS32_BUSY || c->tr.limit < 0x67) return gp0(m);
    uint16_t base;
    int e = guest_read_sys(m, c->tr.base + 0x66, &base, 2);
    if (e) return e;
    uint32_t off = base + port / 8u;
    if (off + 1 > c->tr.limit) return gp0(m);
    uint16_t bits;
    e = guest_read_sys(m, c->tr.base + off, &bits, 2);
    if (e) return e;
    if ((bits >> (port & 7)) & ((1u << size) - 1)) return gp0(m);
    return 0;
}

static int emulate_io(struct machine *m, const struct insn *in) {
    struct cpu *cpu = &m->cpu;
    const ZydisDecodedInstruction *z = &in->zi;
    unsigned size = z->operand_width / 8;
    m->stats.callouts_io++;
    bool is_in = z->mnemonic == ZYDIS_MNEMONIC_IN;
    const ZydisDecodedOperand *po = &in->op[is_in ? 1 : 0];
    uint16_t port = po->type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? (uint16_t)po->imm.value.u
                                                             : (uint16_t)cpu->gpr[R_EDX];
    int e = io_permitted(m, port, size);
    if (e) return e;
    if (is_in) {
        uint32_t v = ioport_read(m, port, size);
        if (size == 1)
            cpu->gpr[R_EAX] = (cpu->gpr[R_EAX] & ~0xffu) | (v & 0xff);
        else if (size == 2)
            cpu->gpr[R_EAX] = (cpu->gpr[R_EAX] & ~0xffffu) | (v & 0xffff);
        else
            cpu->gpr[R_EAX] = v;
    } else {
        uint32_t v = cpu->gpr[R_EAX];
        if (size == 1)
            v &= 0xff;
        else if (size == 2)
            v &= 0xffff;
        ioport_write(m, port, size, v);
    }
    cpu->eip += z->length;
    return 0;
}

/* INS/OUTS, one element per call (a REP form stays at its eip until ECX runs out, so
 * icount counts iterations and an interrupt can come between them, as on hardware). */
static int emulate_string_io(struct machine *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    const ZydisDecodedInstruction *z = &in->zi;
    bool rep = (z->attributes &
                (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE)) != 0;
    unsigned size = (z->opcode & 1) ? z->operand_width / 8 : 1;
    uint32_t amask = z->address_width == 16 ? 0xffffu : 0xffffffffu;
    uint16_t port = (uint16_t)c->gpr[R_EDX];
    m->stats.callouts_io++;
    if (rep && (c->gpr[R_ECX] & amask) == 0) {
        c->eip += z->length;
        return 0;
    }
    int e = io_permitted(m, port, size);
    if (e) return e;
    bool is_ins = z->mnemonic == ZYDIS_MNEMONIC_INSB || z->mnemonic == ZYDIS_MNEMONIC_INSW ||
                  z->mnemonic == ZYDIS_MNEMONIC_INSD;
    int idx = is_ins ? R_EDI : R_ESI;
    uint32_t off = c->gpr[idx] & amask;
    if (is_ins) {
        /* the destination is ES:EDI; the store is checked before the port is read, so a
         * faulting INS has no side effect on the device (SDM Vol. 2A INS) */
        uint32_t probe;
        e = guest_read(m, c->seg[S_ES].base + off, &probe, size);
        if (e) return e;
        uint32_t v = ioport_read(m, port, size);
        e = guest_write(m, c->seg[S_ES].base + off, &v, size);
        if (e) return e;
    } else {
        int ss = S_DS;
        if (z->attributes & ZYDIS_ATTRIB_HAS_SEGMENT_FS) ss = S_FS;
        if (z->attributes & ZYDIS_ATTRIB_HAS_SEGMENT_GS) ss = S_GS;
        uint32_t v = 0;
        e = guest_read(m, c->seg[ss].base + off, &v, size);
        if (e) return e;
        ioport_write(m, port, size, v);
    }
    uint32_t step = (c->eflags & FL_DF) ? (uint32_t)-size : size;
    c->gpr[idx] = (c->gpr[idx] & ~amask) | ((off + step) & amask);
    if (rep) {
        uint32_t cnt = (c->gpr[R_ECX] - 1) & amask;
        c->gpr[R_ECX] = (c->gpr[R_ECX] & ~amask) | cnt;
        if (cnt != 0) return 0; /* next iteration: same instruction */
    }
    c->eip += z->length;
    return 0;
}

/* Writes to control registers (SDM Vol. 3A §2.5), with the TLB effects of each. */
static int write_cr(struct machine *m, int cr, uint32_t v) {
    struct cpu *c = &m->cpu;
    switch (cr) {
    case 0: {
        if ((v & CR0_PG) && !(v & CR0_PE)) return gp0(m);
        if ((v & CR0_NW) && !(v & CR0_CD)) return gp0(m);
        if (!(v & CR0_PE)) {
            snprintf(m->error, sizeof m->error,
                     "guest leaves protected mode (CR0=0x%08x) at eip=0x%08x: real mode is not "
                     "supported",
                     v, c->eip);
            return -1;
        }
        uint32_t old = c->cr[0];
        fpu_set_cr0(m, v | CR0_ET);
        if ((old ^ c->cr[0]) & (CR0_PG | CR0_WP | CR0_PE)) machine_tlb_flush(m, false);
        return 0;
    }
    case 2: c->cr[2] = v; return 0;
    case 3:
        /* a marker in the journal: replay checks it lands on the same instruction */
        if (m->rec) journal_cr3(m, v);
        if (m->rep) replay_cr3(m, v);
        c->cr[3] = v;
        /* a CR3 load flushes all but global translations (SDM Vol. 3A §4.10.4.1) */
        machine_cr3_loaded(m);
        m->stats.cr3_writes++;
        return 0;
    case 4: {
        uint32_t allowed = CR4_VME | CR4_PVI | CR4_TSD | CR4_DE | CR4_PSE | CR4_PGE | CR4_OSFXSR |
                           0x400u /* OSXMMEXCPT */;
        if (v & ~allowed) return gp0(m);
        uint32_t old = c->cr[4];
        c->cr[4] = v;
        if ((old ^ v) & (CR4_PSE | CR4_PGE)) machine_tlb_flush(m, false);
        return 0;
    }
    default: return VEC_UD + 1;
    }
}

static int emulate_mov_special(struct machine *m, const struct insn *in) {
    struct cpu *c = &m->cpu;
    const ZydisDecodedOperand *d = &in->op[0], *s = &in->op[1];
    ZydisRegisterClass dc = d->type == ZYDIS_OPERAND_TYPE_REGISTER
                                ? ZydisRegisterGetClass(d->reg.value)
                                : ZYDIS_REGCLASS_INVALID;
    ZydisRegisterClass sc = s->type == ZYDIS_OPERAND_TYPE_REGISTER
                                ? ZydisRegisterGetClass(s->reg.value)
                                : ZYDIS_REGCLASS_INVALID;
    uint32_t next = in->eip + in->zi.length;
    if (dc == ZYDIS_REGCLASS_CONTROL || sc == ZYDIS_REGCLASS_CONTROL ||
        dc == ZYDIS_REGCLASS_DEBUG || sc == ZYDIS_REGCLASS_DEBUG) {
        if (c->cpl != 0) return gp0(m);
        m->stats.callouts_priv++;
        if (dc == ZYDIS_REGCLASS_CONTROL) {
            int e = write_cr(m, d->reg.value - ZYDIS_REGISTER_CR0,
                             c->gpr[ZydisRegisterGetId(s->reg.value) & 7]);
            if (e) return e;
        } else if (sc == ZYDIS_REGCLASS_CONTROL) {
            int cr = s->reg.value - ZYDIS_REGISTER_CR0;
            if (cr < 0 || cr > 4 || cr == 1) return VEC_UD + 1;
            c->gpr[ZydisRegisterGetId(d->reg.value) & 7] = c->cr[cr];
        } else if (dc == ZYDIS_REGCLASS_DEBUG) {
            int dr = d->reg.value - ZYDIS_REGISTER_DR0;
            if ((dr == 4 || dr == 5) && (c->cr[4] & CR4_DE)) return VEC_UD + 1;
            c->dr[dr] = c->gpr[ZydisRegisterGetId(s->reg.value) & 7];
        } else {
            int dr = s->reg.value - ZYDIS_REGISTER_DR0;
            if ((dr == 4 || dr == 5) && (c->cr[4] & CR4_DE)) return VEC_UD + 1;
            uint32_t v = c->dr[dr];
            if (dr == 6 || dr == 4) v |= 0xffff0ff0u; /* reserved bits read as 1 */
            if (dr == 7 || dr == 5) v |= 0x400u;
            c->gpr[ZydisRegisterGetId(d->reg.value) & 7] = v;
        }
        c->eip = next;
        return 0;
    }
    if (dc == ZYDIS_REGCLASS_SEGMENT && s->type == ZYDIS_OPERAND_TYPE_REGISTER) {
        int sr = d->reg.value - ZYDIS_REGISTER_ES;
        if (sr == S_CS) return VEC_UD + 1;
        int e = segment_load(m, sr, (uint16_t)c->gpr[ZydisRegisterGetId(s->reg.value) & 7]);
        if (e) return e;
        if (sr == S_SS) m->irq_shadow = c->icount + 1; /* SDM Vol. 2B MOV: one-insn shadow */
        c->eip = next;
        return 0;
    }
    return -2; /* memory forms and segment stores: the helpers */
}

static int emulate_sysenter(struct machine *m, bool enter) {
    struct cpu *c = &m->cpu;
    uint16_t cs = (uint16_t)c->sysenter_cs;
    if (!(c->cr[0] & CR0_PE) || (cs & 0xfffc) == 0) return gp0(m);
    /* SDM Vol. 2B SYSENTER/SYSEXIT: fixed flat descriptors, not read from the GDT */
    struct descriptor code = {.base = 0, .limit = 0xffffffffu, .attr = 0xc09b};
    struct descriptor data = {.base = 0, .limit = 0xffffffffu, .attr = 0xc093};
    if (enter) {
        segment_load_cs(m, cs & 0xfffc, &code, 0);
        segment_set_ss(m, (uint16_t)((cs & 0xfffc) + 8), &data);
        c->gpr[R_ESP] = c->sysenter_esp;
        c->eip = c->sysenter_eip;
        cpu_set_eflags(c, cpu_get_eflags(c) & ~(FL_VM | FL_IF | FL_RF));
    } else {
        if (c->cpl != 0) return gp0(m);
        code.attr |= 3 << 5;
        data.attr |= 3 << 5;
        segment_load_cs(m, (uint16_t)(((cs + 16) & 0xfffc) | 3), &code, 3);
        segment_set_ss(m, (uint16_t)(((cs + 24) & 0xfffc) | 3), &data);
        c->gpr[R_ESP] = c->gpr[R_ECX];
        c->eip = c->gpr[R_EDX];
    }
    return 0;
}

static int emulate_msr(struct machine *m, bool write) {
    struct cpu *c = &m->cpu;
    if (c->cpl != 0) return gp0(m);
    uint32_t idx = c->gpr[R_ECX];
    uint64_t v = ((uint64_t)c->gpr[R_EDX] << 32) | c->gpr[R_EAX];
    switch (idx) {
    case MSR_TSC:
        if (write) {
            clock_set_tsc(m, v);
        } else {
            v = m->rep ? replay_tsc(m) : clock_tsc(m);
            if (m->rec) journal_tsc(m, v);
        }
        break;
    case 0x8b: /* IA32_BIOS_SIGN_ID: the microcode revision, 0 (writes latch nothing) */
        if (!write) v = 0;
        break;
    case 0x17: /* IA32_PLATFORM_ID (read-only): platform 0 (SDM Vol. 4, Table 2-2) */
        if (write) return gp0(m);
        v = 0;
        break;
    case MSR_MISC_ENABLE:
        /* IA32_MISC_ENABLE: fast strings on, nothing else this model has (no thermal
         * control, MWAIT, EIST, XD, CPUID limit); only fast strings can be written (SDM
         * Vol. 4, Table 2-2), other bits are ignored. Linux reads it on family-6 CPUs. */
        if (write) c->misc_enable = v & MISC_ENABLE_FAST_STRINGS;
        v = c->misc_enable;
        break;
    case MSR_SYSENTER_CS:
        if (write) c->sysenter_cs = (uint32_t)v;
        v = c->sysenter_cs;
        break;
    case MSR_SYSENTER_ESP:
        if (write) c->sysenter_esp = (uint32_t)v;
        v = c->sysenter_esp;
        break;
    case MSR_SYSENTER_EIP:
        if (write) c->sysenter_eip = (uint32_t)v;
        v = c->sysenter_eip;
        break;
    default: return gp0(m); /* an MSR this CPU model does not have */
    }
    if (!write) {
        c->gpr[R_EAX] = (uint32_t)v;
        c->gpr[R_EDX] = (uint32_t)(v >> 32);
    }
    return 0;
}

/* Far pointer operand of JMP/CALL FAR: ptr16:32 immediate or m16:32. */
static int far_target(struct machine *m, const struct insn *in, uint16_t *sel, uint32_t *off) {
    const ZydisDecodedOperand *o = &in->op[0];
    unsigned n = in->zi.operand_width / 8;
    if (o->type == ZYDIS_OPERAND_TYPE_POINTER) {
        *sel = o->ptr.segment;
        *off = o->ptr.offset;
        return 0;
    }
    if (o->type != ZYDIS_OPERAND_TYPE_MEMORY) return VEC_UD + 1;
    uint32_t a = helper_mem_ea(&m->cpu, in, o), v = 0;
    int e = guest_read(m, a, &v, n);
    if (!e) e = guest_read(m, a + n, sel, 2);
    if (e) return e;
    *off = v;
    return 0;
}

int fetch_insn(struct machine *m, uint32_t eip, struct insn *in) {
    uint8_t buf[15];
    unsigned first = 4096 - (eip & 0xfff);
    if (first > sizeof buf) first = sizeof buf;
    int e = guest_read(m, eip, buf, first);
    if (e) return e;
    unsigned avail = first;
    if (first < sizeof buf) {
        /* the instruction may continue on the next page: fetch it only if needed */
        struct insn tmp;
        if (insn_decode(&tmp, buf, first, eip) == 0) {
            *in = tmp;
            return 0;
        }
        e = guest_read(m, eip + first, buf + first, (unsigned)sizeof buf - first);
        if (e) return e;
        avail = sizeof buf;
    }
    return insn_decode(in, buf, avail, eip) == 0 ? 0 : VEC_UD + 1;
}

int emulate_insn(struct machine *m, enum emu_stop *stop) {
    struct insn in;
    int e = fetch_insn(m, m->cpu.eip, &in);
    if (e) return e;
    return emulate_decoded(m, &in, stop);
}

int emulate_decoded(struct machine *m, const struct insn *pin, enum emu_stop *stop) {
    struct cpu *cpu = &m->cpu;
    int e;
    const ZydisDecodedInstruction *z = &pin->zi;
    uint32_t next = cpu->eip + z->length;
    switch (z->mnemonic) {
    case ZYDIS_MNEMONIC_IN:
    case ZYDIS_MNEMONIC_OUT: return emulate_io(m, pin);
    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSB:
    case ZYDIS_MNEMONIC_OUTSW:
    case ZYDIS_MNEMONIC_OUTSD: return emulate_string_io(m, pin);
    case ZYDIS_MNEMONIC_RDPMC:
        /* no performance counters are modelled: every counter index is invalid */
        return gp0(m);
    case ZYDIS_MNEMONIC_UD0:
    case ZYDIS_MNEMONIC_UD1:
    case ZYDIS_MNEMONIC_UD2:
    case ZYDIS_MNEMONIC_RSM:     /* #UD outside system-management mode, which rrvm has not */
    case ZYDIS_MNEMONIC_SYSCALL: /* an Intel CPU in 32-bit mode has neither */
    case ZYDIS_MNEMONIC_SYSRET: return VEC_UD + 1;
    case ZYDIS_MNEMONIC_INT3:
    case ZYDIS_MNEMONIC_INT:
    case ZYDIS_MNEMONIC_INTO:
    case ZYDIS_MNEMONIC_INT1: {
        /* traps: the return address is the next instruction */
        int vec = z->mnemonic == ZYDIS_MNEMONIC_INT3   ? VEC_BP
                  : z->mnemonic == ZYDIS_MNEMONIC_INTO ? VEC_OF
                  : z->mnemonic == ZYDIS_MNEMONIC_INT1 ? VEC_DB
                                                       : (int)(pin->op[0].imm.value.u & 0xff);
        if (z->mnemonic == ZYDIS_MNEMONIC_INTO && !(cpu->eflags & FL_OF)) {
            cpu->eip = next;
            return 0;
        }
        m->stats.callouts_priv++;
        m->soft_int_eip = cpu->eip;
        m->soft_int_retired = z->mnemonic != ZYDIS_MNEMONIC_INT1;
        cpu->eip = next;
        /* the instruction retires before its handler runs: count it now, so that the
         * handler's first instruction is icount+1 (the caller does not count it again) */
        cpu->icount++;
        *stop = EMU_COUNTED;
        return event_deliver(m, vec,
                             z->mnemonic == ZYDIS_MNEMONIC_INT1 ? EV_EXCEPTION : EV_SOFTWARE) < 0
                   ? -1
                   : 0;
    }
    case ZYDIS_MNEMONIC_IRETD:
    case ZYDIS_MNEMONIC_IRET: m->stats.callouts_priv++; return iret(m, z->operand_width / 8);
    case ZYDIS_MNEMONIC_CLI:
    case ZYDIS_MNEMONIC_STI:
        m->stats.callouts_priv++;
        if ((cpu->cr[0] & CR0_PE) && cpu->cpl > iopl(cpu)) return gp0(m);
        if (z->mnemonic == ZYDIS_MNEMONIC_CLI) {
            cpu->eflags &= ~FL_IF;
        } else {
            /* STI: interrupts stay blocked until after the next instruction (SDM STI) */
            if (!(cpu->eflags & FL_IF)) m->irq_shadow = cpu->icount + 1;
            cpu->eflags |= FL_IF;
        }
        cpu->eip = next;
        return 0;
    case ZYDIS_MNEMONIC_HLT:
        m->stats.callouts_priv++;
        if (cpu->cpl != 0) return gp0(m);
        cpu->eip = next;
        *stop = (cpu->eflags & FL_IF) ? EMU_WAIT_IRQ : EMU_HALTED;
        return 0;
    case ZYDIS_MNEMONIC_WBINVD:
    case ZYDIS_MNEMONIC_INVD:
        if (cpu->cpl != 0) return gp0(m);
        m->stats.callouts_priv++;
        cpu->eip = next;
        return 0;
    case ZYDIS_MNEMONIC_INVLPG:
        if (cpu->cpl != 0) return gp0(m);
        m->stats.callouts_priv++;
        machine_tlb_flush_page(m, helper_mem_ea(cpu, pin, &pin->op[0]));
        cpu->eip = next;
        m->prefill_eip = next; /* often the page is used again at once */
        return 0;
    case ZYDIS_MNEMONIC_RDTSC: {
        if ((cpu->cr[4] & CR4_TSD) && cpu->cpl != 0) return gp0(m);
        uint64_t t = m->rep ? replay_tsc(m) : clock_tsc(m);
        if (m->rec) journal_tsc(m, t);
        cpu->gpr[R_EAX] = (uint32_t)t;
        cpu->gpr[R_EDX] = (uint32_t)(t >> 32);
        cpu->eip = next;
        return 0;
    }
    case ZYDIS_MNEMONIC_RDMSR:
    case ZYDIS_MNEMONIC_WRMSR:
        m->stats.callouts_priv++;
        e = emulate_msr(m, z->mnemonic == ZYDIS_MNEMONIC_WRMSR);
        if (!e) cpu->eip = next;
        return e;
    case ZYDIS_MNEMONIC_SYSENTER:
    case ZYDIS_MNEMONIC_SYSEXIT:
        m->stats.callouts_priv++;
        return emulate_sysenter(m, z->mnemonic == ZYDIS_MNEMONIC_SYSENTER);
    case ZYDIS_MNEMONIC_JMP:
    case ZYDIS_MNEMONIC_CALL: {
        if (z->meta.branch_type != ZYDIS_BRANCH_TYPE_FAR) break;
        m->stats.callouts_priv++;
        uint16_t sel;
        uint32_t off;
        e = far_target(m, pin, &sel, &off);
        if (e) return e;
        if (z->operand_width == 16) off &= 0xffff;
        return z->mnemonic == ZYDIS_MNEMONIC_JMP
                   ? far_jmp(m, sel, off, next)
                   : far_call(m, sel, off, next, z->operand_width / 8);
    }
    case ZYDIS_MNEMONIC_RET:
        if (z->meta.branch_type != ZYDIS_BRANCH_TYPE_FAR) break;
        m->stats.callouts_priv++;
        return far_ret(
            m,
            pin->op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? (uint16_t)pin->op[0].imm.value.u : 0,
            z->operand_width / 8);
    case ZYDIS_MNEMONIC_MOV:
        e = emulate_mov_special(m, pin);
        if (e != -2) return e;
        break;
    default:
        e = emulate_system_insn(m, pin);
        if (e != -2) {
            m->stats.callouts_priv++;
            return e;
        }
        e = fpu_emulate(m, pin);
        if (e == -3) {
            char text[96];
            insn_format(pin, text, sizeof text);
            snprintf(m->error, sizeof m->error,
                     "x87 instruction '%s' at eip=0x%08x reached the monitor with CR0.TS/EM "
                     "clear (the translator could not encode it)",
                     text, cpu->eip);
            return -1;
        }
        if (e != -2) return e;
        break;
    }
    if (z->meta.isa_ext != ZYDIS_ISA_EXT_BASE && z->meta.isa_ext != ZYDIS_ISA_EXT_X87 &&
        z->meta.isa_ext != ZYDIS_ISA_EXT_PAUSE) {
        /* MMX, SSE and later extensions: this CPU model (an i686 without them, see CPUID)
         * raises #UD, as a Pentium Pro does */
        return VEC_UD + 1;
    }
    if (helper_supports(z->mnemonic)) {
        m->stats.callouts_helper++;
        m->stats.insns_helpers++;
        return helper_exec(m, pin);
    }
    char text[96];
    insn_format(pin, text, sizeof text);
    snprintf(m->error, sizeof m->error,
             "unsupported guest instruction '%s' at eip=0x%08x icount=%llu", text, cpu->eip,
             (unsigned long long)cpu->icount);
    return -1;
}
