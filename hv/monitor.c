#define _GNU_SOURCE
/* The monitor loop: find or translate the CCF for eip, run it, handle why it returned.
 * Host faults inside translated code come here through a signal handler that restores
 * the precise guest state at the faulting guest instruction (translate/tc.h meta). */
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "hv/machine.h"
#include "translate/decode.h"
#include "translate/helpers.h"
#include "translate/tc.h"
#include "translate/translate.h"

extern uint32_t ccf_enter(struct cpu *cpu, const void *host_pc);

#define BUDGET_MAX (1ll << 40)
#define EXIT_FAULT 0x100

/* State shared with the signal handler (one vCPU, one thread). */
static struct machine *g_machine;
static struct ccf *g_oneshot;
static sigjmp_buf g_jmp;
static volatile sig_atomic_t g_in_ccf;
static struct {
    int signo;
    uint64_t addr;
    bool write;
} g_fault;

static void on_host_fault(int signo, siginfo_t *si, void *uctx) {
    ucontext_t *uc = uctx;
    greg_t *g = uc->uc_mcontext.gregs;
    struct machine *m = g_machine;
    const uint8_t *pc = (const uint8_t *)g[REG_RIP];
    struct ccf *c = (m && g_in_ccf) ? tc_find_host(m->tc, pc, g_oneshot) : NULL;
    if (!c) {
        /* A fault in the monitor itself: a bug. Let the default action report it. */
        signal(signo, SIG_DFL);
        return;
    }
    const struct ccf_meta *meta = ccf_meta_at(c, pc);
    struct cpu *cpu = &m->cpu;
    cpu->gpr[R_EAX] = (uint32_t)g[REG_RAX];
    cpu->gpr[R_ECX] = (uint32_t)g[REG_RCX];
    cpu->gpr[R_EDX] = (uint32_t)g[REG_RDX];
    cpu->gpr[R_EBX] = (uint32_t)g[REG_RBX];
    cpu->gpr[R_ESP] = (uint32_t)g[REG_R12];
    cpu->gpr[R_EBP] = (uint32_t)g[REG_RBP];
    cpu->gpr[R_ESI] = (uint32_t)g[REG_RSI];
    cpu->gpr[R_EDI] = (uint32_t)g[REG_RDI];
    if (meta && meta->fixup_reg >= 0) cpu->gpr[meta->fixup_reg] = (uint32_t)g[REG_R10];
    cpu->hostflags = (uint64_t)g[REG_EFL];
    /* the block charged all its instructions on entry; give back those not retired */
    cpu->budget = (int64_t)g[REG_R11] + (meta ? (int64_t)c->ninsns - meta->index : 0);
    cpu->eip = meta ? meta->eip : c->eip;
    g_fault.signo = signo;
    g_fault.addr = (uint64_t)(uintptr_t)si->si_addr;
    g_fault.write = (g[REG_ERR] & 2) != 0;
    g_in_ccf = 0;
    siglongjmp(g_jmp, 1);
}

static void install_handlers(void) {
    static bool done;
    if (done) return;
    done = true;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_host_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
}

static enum run_result guest_fault(struct machine *m, int vector, uint32_t error_code) {
    m->fault_vector = vector;
    m->fault_eip = m->cpu.eip;
    m->fault_icount = m->cpu.icount;
    m->fault_error_code = error_code;
    return RUN_GUEST_FAULT;
}

static enum run_result monitor_error(struct machine *m) {
    if (!m->error[0])
        snprintf(m->error, sizeof m->error, "translation failed at eip=0x%08x", m->cpu.eip);
    return RUN_MONITOR_ERROR;
}

/* Runs c once with the given budget; returns the exit reason (or EXIT_FAULT). */
static uint32_t run_ccf(struct machine *m, struct ccf *c, int64_t budget) {
    struct cpu *cpu = &m->cpu;
    cpu->budget = budget;
    cpu->hostflags = (cpu->eflags & FL_HOSTMASK) | 0x2;
    cpu->exit_reason = EXIT_NONE;
    g_oneshot = c->oneshot ? c : NULL;
    uint32_t reason;
    if (sigsetjmp(g_jmp, 1) == 0) {
        g_in_ccf = 1;
        reason = ccf_enter(cpu, c->host);
        g_in_ccf = 0;
    } else {
        reason = EXIT_FAULT;
    }
    cpu->eflags = (cpu->eflags & ~FL_HOSTMASK) | ((uint32_t)cpu->hostflags & FL_HOSTMASK) | 0x2;
    int64_t executed = budget - cpu->budget;
    cpu->icount += (uint64_t)executed;
    m->stats.insns_translated_code += (uint64_t)executed;
    if (reason < EXIT_COUNT) m->stats.exits[reason]++;
    return reason;
}

static int emulate_io(struct machine *m, const struct insn *in) {
    struct cpu *cpu = &m->cpu;
    const ZydisDecodedInstruction *z = &in->zi;
    unsigned size = z->operand_width / 8;
    m->stats.callouts_io++;
    if (z->mnemonic == ZYDIS_MNEMONIC_IN) {
        uint16_t port = in->op[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE
                            ? (uint16_t)in->op[1].imm.value.u
                            : (uint16_t)cpu->gpr[R_EDX];
        uint32_t v = ioport_read(m, port, size);
        if (size == 1)
            cpu->gpr[R_EAX] = (cpu->gpr[R_EAX] & ~0xffu) | (v & 0xff);
        else if (size == 2)
            cpu->gpr[R_EAX] = (cpu->gpr[R_EAX] & ~0xffffu) | (v & 0xffff);
        else
            cpu->gpr[R_EAX] = v;
    } else {
        uint16_t port = in->op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE
                            ? (uint16_t)in->op[0].imm.value.u
                            : (uint16_t)cpu->gpr[R_EDX];
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

/* Emulates the instruction at cpu.eip (a callout). Returns 0 when it retired, a vector+1
 * for a guest exception, or -1 for a monitor error (message in m->error). */
static int emulate_insn(struct machine *m, enum run_result *stop) {
    struct cpu *cpu = &m->cpu;
    struct insn in;
    uint8_t buf[15];
    guest_read(m, cpu->eip, buf, sizeof buf);
    if (insn_decode(&in, buf, sizeof buf, cpu->eip) != 0) return VEC_UD + 1;
    const ZydisDecodedInstruction *z = &in.zi;
    switch (z->mnemonic) {
    case ZYDIS_MNEMONIC_IN:
    case ZYDIS_MNEMONIC_OUT: return emulate_io(m, &in);
    case ZYDIS_MNEMONIC_UD0:
    case ZYDIS_MNEMONIC_UD1:
    case ZYDIS_MNEMONIC_UD2: return VEC_UD + 1;
    case ZYDIS_MNEMONIC_INT3: return VEC_BP + 1;
    case ZYDIS_MNEMONIC_INT1: return VEC_DB + 1;
    case ZYDIS_MNEMONIC_INT:
        /* No IDT delivery yet: a software interrupt is reported like an exception. */
        snprintf(m->error, sizeof m->error,
                 "guest INT 0x%02x at eip=0x%08x icount=%llu: "
                 "interrupt delivery is not implemented yet",
                 (unsigned)in.op[0].imm.value.u, cpu->eip, (unsigned long long)cpu->icount);
        return -1;
    case ZYDIS_MNEMONIC_CLI:
        m->stats.callouts_priv++;
        cpu->eflags &= ~FL_IF;
        cpu->eip += z->length;
        return 0;
    case ZYDIS_MNEMONIC_STI:
        m->stats.callouts_priv++;
        cpu->eflags |= FL_IF;
        cpu->eip += z->length;
        return 0;
    case ZYDIS_MNEMONIC_HLT:
        /* No device raises interrupts yet, so nothing can ever wake the guest. */
        m->stats.callouts_priv++;
        cpu->eip += z->length;
        *stop = RUN_HALTED;
        return 0;
    case ZYDIS_MNEMONIC_LGDT:
    case ZYDIS_MNEMONIC_LIDT:
    case ZYDIS_MNEMONIC_WBINVD:
    case ZYDIS_MNEMONIC_INVD:
    case ZYDIS_MNEMONIC_INVLPG:
        /* Flat segments and no IDT delivery yet: accepted and not yet acted on. */
        m->stats.callouts_priv++;
        cpu->eip += z->length;
        return 0;
    case ZYDIS_MNEMONIC_MOV: {
        m->stats.callouts_priv++;
        const ZydisDecodedOperand *d = &in.op[0], *s = &in.op[1];
        if (d->type == ZYDIS_OPERAND_TYPE_REGISTER &&
            ZydisRegisterGetClass(d->reg.value) == ZYDIS_REGCLASS_SEGMENT) {
            uint16_t sel;
            if (s->type == ZYDIS_OPERAND_TYPE_REGISTER) {
                int r = ZydisRegisterGetId(s->reg.value);
                sel = (uint16_t)cpu->gpr[r & 7];
            } else {
                break; /* mov sreg, m16: left to the helpers */
            }
            int idx = ZydisRegisterGetId(d->reg.value);
            if (idx >= 0 && idx < 6) cpu->seg[idx].sel = sel;
            cpu->eip += z->length;
            return 0;
        }
        if (s->type == ZYDIS_OPERAND_TYPE_REGISTER &&
            ZydisRegisterGetClass(s->reg.value) == ZYDIS_REGCLASS_SEGMENT &&
            d->type == ZYDIS_OPERAND_TYPE_REGISTER) {
            int idx = ZydisRegisterGetId(s->reg.value);
            int r = ZydisRegisterGetId(d->reg.value) & 7;
            uint16_t sel = idx >= 0 && idx < 6 ? cpu->seg[idx].sel : 0;
            if (z->operand_width == 16)
                cpu->gpr[r] = (cpu->gpr[r] & 0xffff0000u) | sel;
            else
                cpu->gpr[r] = sel;
            cpu->eip += z->length;
            return 0;
        }
        if (d->type == ZYDIS_OPERAND_TYPE_REGISTER &&
            ZydisRegisterGetClass(d->reg.value) == ZYDIS_REGCLASS_CONTROL) {
            int cr = d->reg.value - ZYDIS_REGISTER_CR0;
            if (cr < 0 || cr > 4 || cr == 1) return VEC_UD + 1;
            cpu->cr[cr] = cpu->gpr[ZydisRegisterGetId(s->reg.value) & 7];
            cpu->eip += z->length;
            return 0;
        }
        if (s->type == ZYDIS_OPERAND_TYPE_REGISTER &&
            ZydisRegisterGetClass(s->reg.value) == ZYDIS_REGCLASS_CONTROL) {
            int cr = s->reg.value - ZYDIS_REGISTER_CR0;
            if (cr < 0 || cr > 4 || cr == 1) return VEC_UD + 1;
            cpu->gpr[ZydisRegisterGetId(d->reg.value) & 7] = cpu->cr[cr];
            cpu->eip += z->length;
            return 0;
        }
        break;
    }
    default: break;
    }
    if (helper_supports(z->mnemonic)) {
        m->stats.callouts_helper++;
        m->stats.insns_helpers++;
        return helper_exec(m, &in);
    }
    char text[96];
    insn_format(&in, text, sizeof text);
    snprintf(m->error, sizeof m->error,
             "unsupported guest instruction '%s' at eip=0x%08x icount=%llu", text, cpu->eip,
             (unsigned long long)cpu->icount);
    return -1;
}

/* A host fault inside a CCF, with the guest state already precise at cpu.eip. */
static int handle_fault(struct machine *m, enum run_result *stop) {
    struct cpu *cpu = &m->cpu;
    if (g_fault.signo == SIGFPE) return VEC_DE + 1;
    if (g_fault.signo != SIGSEGV && g_fault.signo != SIGBUS) {
        snprintf(m->error, sizeof m->error, "host signal %d in translated code at eip=0x%08x",
                 g_fault.signo, cpu->eip);
        return -1;
    }
    uint64_t a = g_fault.addr;
    int view = -1;
    for (int v = 0; v < 2; v++) {
        uint64_t base = (uint64_t)(uintptr_t)m->mmu.view[v];
        if (a >= base && a < base + VIEW_RESERVE) view = v;
    }
    if (view < 0) {
        snprintf(m->error, sizeof m->error, "host fault at %#llx in translated code at eip=0x%08x",
                 (unsigned long long)a, cpu->eip);
        return -1;
    }
    uint64_t off = a - (uint64_t)(uintptr_t)m->mmu.view[view];
    uint32_t ea = (uint32_t)off;
    if (off >> 32) goto slow; /* the access wrapped around 4 GiB: the helper wraps it too */
    bool code_write = false;
    uint32_t ppn = 0;
    enum mmu_status st = mmu_fill(m, ea, g_fault.write, (enum mmu_view)view, &code_write, &ppn);
    if (st == MMU_PAGE_FAULT) return VEC_PF + 1;
    if (st == MMU_OK) {
        if (code_write) {
            /* A store into translated code: drop those CCFs (which makes the frame
             * writable again), then let exactly this instruction run from a one-shot
             * translation (which does not re-protect it), so the following code is
             * translated from the new bytes. */
            tc_invalidate_page(m, ppn);
            m->stats.exits[EXIT_SMC]++;
            struct ccf *c = translate_block(m, cpu->eip, true);
            if (!c) return -1;
            int64_t budget = c->ninsns ? 1 : 0;
            if (m->icount_limit && cpu->icount >= m->icount_limit && budget) return 0;
            uint32_t r = run_ccf(m, c, budget);
            if (r == EXIT_FAULT) return handle_fault(m, stop);
            if (r == EXIT_EMULATE) return emulate_insn(m, stop) == 0 ? (cpu->icount++, 0) : -1;
            return 0;
        }
        m->stats.tlb_misses++;
        return 0;
    }
slow:;
    /* Unassigned physical address (no MMIO devices yet): run the instruction through its
     * C helper, which reads all ones and drops writes, as the bus does. */
    struct insn in;
    uint8_t buf[15];
    guest_read(m, cpu->eip, buf, sizeof buf);
    if (insn_decode(&in, buf, sizeof buf, cpu->eip) == 0 && helper_supports(in.zi.mnemonic)) {
        int r = helper_exec(m, &in);
        if (r == 0) {
            cpu->icount++;
            m->stats.insns_helpers++;
        }
        return r;
    }
    snprintf(m->error, sizeof m->error,
             "guest access to unassigned address 0x%08x at eip=0x%08x icount=%llu", ea, cpu->eip,
             (unsigned long long)cpu->icount);
    return -1;
}

enum run_result machine_run(struct machine *m) {
    struct cpu *cpu = &m->cpu;
    g_machine = m;
    install_handlers();
    for (;;) {
        if (m->exited) return RUN_EXIT_DEVICE;
        int64_t budget = BUDGET_MAX;
        if (m->icount_limit) {
            if (cpu->icount >= m->icount_limit) return RUN_ICOUNT_LIMIT;
            uint64_t left = m->icount_limit - cpu->icount;
            if (left < (uint64_t)budget) budget = (int64_t)left;
        }
        struct ccf *c = tc_lookup(m->tc, cpu->eip);
        if (!c) {
            c = translate_block(m, cpu->eip, false);
            if (!c) return monitor_error(m);
        }
        if (c->ninsns > budget) {
            /* Land exactly on the limit: one instruction at a time. */
            c = translate_block(m, cpu->eip, true);
            if (!c) return monitor_error(m);
        }
        uint32_t reason = run_ccf(m, c, budget);
        int r = 0;
        enum run_result stop = RUN_EXIT_DEVICE;
        bool stopped = false;
        switch (reason) {
        case EXIT_CHAIN: {
            struct ccf *target = tc_lookup(m->tc, cpu->eip);
            if (!target) {
                target = translate_block(m, cpu->eip, false);
                if (!target) return monitor_error(m);
            }
            /* (a one-shot source lives in scratch; its jump is not worth patching; and a
             * translation may have flushed the TC, taking the source with it) */
            if (!c->oneshot && !c->dead && m->tc->nccfs > 0 &&
                (uint8_t *)(uintptr_t)cpu->exit_site >= m->tc->code &&
                (uint8_t *)(uintptr_t)cpu->exit_site < m->tc->code_used &&
                tc_lookup(m->tc, c->eip) == c) {
                tc_chain(m->tc, (uint8_t *)(uintptr_t)cpu->exit_site, target);
                m->stats.chained_exits++;
            }
            break;
        }
        case EXIT_INDIRECT: {
            struct ccf *target = tc_lookup(m->tc, cpu->eip);
            if (!target) {
                target = translate_block(m, cpu->eip, false);
                if (!target) return monitor_error(m);
            }
            jcache_fill(m->tc, cpu->eip, target->host);
            break;
        }
        case EXIT_BUDGET: break;
        case EXIT_EMULATE:
            if (m->icount_limit && cpu->icount >= m->icount_limit) break;
            r = emulate_insn(m, &stop);
            if (r == 0) {
                cpu->icount++;
                if (stop == RUN_HALTED) stopped = true;
            }
            break;
        case EXIT_FAULT: r = handle_fault(m, &stop); break;
        default:
            snprintf(m->error, sizeof m->error, "unknown CCF exit %u at eip=0x%08x", reason,
                     cpu->eip);
            return RUN_MONITOR_ERROR;
        }
        if (r < 0) return RUN_MONITOR_ERROR;
        if (r > 0) return guest_fault(m, r - 1, 0);
        if (stopped) return stop;
    }
}

void machine_print_stats(const struct machine *m, FILE *out) {
    const struct run_stats *s = &m->stats;
    uint64_t total = s->insns_translated_code + s->insns_helpers;
    fprintf(out, "rrvm stats:\n");
    fprintf(out, "  icount                 %llu\n", (unsigned long long)m->cpu.icount);
    fprintf(out, "  blocks translated      %llu\n", (unsigned long long)s->blocks_translated);
    fprintf(out, "  blocks revived         %llu\n", (unsigned long long)s->blocks_revived);
    fprintf(out, "  TC bytes used          %llu\n", (unsigned long long)s->tc_bytes_used);
    fprintf(out, "  TC flushes             %llu\n", (unsigned long long)s->tc_flushes);
    fprintf(out, "  chained exits          %llu\n", (unsigned long long)s->chained_exits);
    fprintf(out, "  exits: chain %llu, indirect-miss %llu, budget %llu, callout %llu, smc %llu\n",
            (unsigned long long)s->exits[EXIT_CHAIN], (unsigned long long)s->exits[EXIT_INDIRECT],
            (unsigned long long)s->exits[EXIT_BUDGET], (unsigned long long)s->exits[EXIT_EMULATE],
            (unsigned long long)s->exits[EXIT_SMC]);
    fprintf(out, "  callouts: io %llu, privileged %llu, helper %llu\n",
            (unsigned long long)s->callouts_io, (unsigned long long)s->callouts_priv,
            (unsigned long long)s->callouts_helper);
    fprintf(out, "  view page fills        %llu\n", (unsigned long long)s->tlb_misses);
    fprintf(out, "  invalidations          %llu\n", (unsigned long long)s->invalidations);
    fprintf(out, "  insns as host code     %llu (%.4f%%)\n",
            (unsigned long long)s->insns_translated_code,
            total ? 100.0 * (double)s->insns_translated_code / (double)total : 0.0);
    fprintf(out, "  insns via C helpers    %llu (%.4f%%)\n", (unsigned long long)s->insns_helpers,
            total ? 100.0 * (double)s->insns_helpers / (double)total : 0.0);
}
