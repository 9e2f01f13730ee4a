#define _GNU_SOURCE
/* The monitor loop: find or translate the CCF for eip, run it, handle why it returned.
 * Host faults inside translated code come here through a signal handler that restores
 * the precise guest state at the faulting guest instruction (translate/tc.h meta). */
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "hv/emulate.h"
#include "hv/exceptions.h"
#include "hv/machine.h"
#include "record/recorder.h"
#include "replay/replayer.h"
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
    int signo, code;
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
        /* A fault in the monitor itself: a bug. Say where, then let the default action
         * end the process. */
        char msg[160];
        int n = snprintf(msg, sizeof msg,
                         "rrvm: monitor bug: signal %d at host pc %p (address %p, %s)\n", signo,
                         (void *)pc, si->si_addr,
                         g_in_ccf ? "in translated code outside any CCF" : "in the monitor");
        if (n > 0) {
            ssize_t w = write(2, msg, (size_t)n);
            (void)w;
        }
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
    /* Linux gives a signal handler a fresh FPU state and restores the interrupted one only
     * on sigreturn, which siglongjmp skips: put the guest's x87 state back from the frame. */
    if (uc->uc_mcontext.fpregs) __builtin_ia32_fxrstor64(uc->uc_mcontext.fpregs);
    g_fault.signo = signo;
    g_fault.code = si->si_code;
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
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    /* its own stack, so that even a monitor stack overflow is reported */
    static stack_t ss;
    ss.ss_size = 1 << 16;
    ss.ss_sp = malloc(ss.ss_size);
    if (ss.ss_sp) sigaltstack(&ss, NULL);
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
}

static enum run_result monitor_error(struct machine *m) {
    if (!m->error[0])
        snprintf(m->error, sizeof m->error, "translation failed at eip=0x%08x", m->cpu.eip);
    return RUN_MONITOR_ERROR;
}

static uint32_t run_ccf(struct machine *m, struct ccf *c, int64_t budget) {
    struct cpu *cpu = &m->cpu;
    cpu->budget = budget;
    cpu->budget_start = budget;
    cpu->hostflags = (cpu->eflags & FL_HOSTMASK) | 0x2;
    cpu->exit_reason = EXIT_NONE;
    g_oneshot = c->oneshot ? c : NULL;
    uint32_t reason;
    /* no signal mask save/restore: the handler runs with nothing blocked (SA_NODEFER, empty
     * sa_mask), and a sigprocmask system call per CCF entry would cost more than the CCF */
    if (sigsetjmp(g_jmp, 0) == 0) {
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

/* Called by translated code through ccf_inline_call (hv/ccf_switch.S) to run the
 * helper-class instruction in at cpu.eip without leaving the CCF; charged_from is what the
 * block charged at entry from this instruction on. Returns 0 to go on in the CCF, or 1 to
 * leave it with EXIT_INLINE (budget adjusted to what retired). */
int ccf_inline_insn(struct cpu *cpu, const struct insn *in, uint32_t charged_from);
/* exit_aux of an EXIT_INLINE that asks the monitor to run the instruction natively */
#define INLINE_RUN_NATIVE (UINT32_MAX - 16)
int ccf_inline_insn(struct cpu *cpu, const struct insn *in, uint32_t charged_from) {
    struct machine *m = g_machine;
    /* an STI right before the callout that ends the block: its shadow covers that one */
    bool may_set_if = (charged_from >> 31) != 0;
    /* INT n, IRET, SYSENTER, SYSEXIT (translate.c inline_branch): the CCF goes on at the
     * new EIP through the jump cache */
    bool branch = ((charged_from >> 30) & 1) != 0;
    charged_from &= 0x3fffffffu;
    uint64_t base = cpu->icount;
    /* precise state for the instruction: what retired since entry, the eflags image */
    cpu->icount = base + (uint64_t)(cpu->budget_start - cpu->budget) - charged_from;
    uint64_t now_before = cpu->icount;
    cpu->eflags = (cpu->eflags & ~FL_HOSTMASK) | ((uint32_t)cpu->hostflags & FL_HOSTMASK) | 0x2;
    uint32_t flags_before = cpu->eflags;
    uint64_t invalidations = m->stats.invalidations, flushes = m->stats.tc_flushes;
    /* replay: an instruction that consumes a journal event (RDTSC) may uncover the next
     * stop (an interrupt, a digest), which the budget of this CCF run does not know */
    uint64_t next_stop = m->rep ? replay_next_stop(m) : 0;
    enum emu_stop stop = EMU_CONTINUE;
    m->stats.inline_calls++;
    int r;
    bool dirty_before = m->devices_dirty;
    m->devices_dirty = false;
    bool mov_sreg = in->zi.mnemonic == ZYDIS_MNEMONIC_MOV &&
                    in->op[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
                    ZydisRegisterGetClass(in->op[0].reg.value) == ZYDIS_REGCLASS_SEGMENT;
    if (mov_sreg || !helper_supports(in->zi.mnemonic)) {
        /* what the translator inlines besides helper-class instructions: the monitor's */
        r = emulate_decoded(m, in, &stop);
    } else {
        m->stats.callouts_helper++;
        m->stats.insns_helpers++;
        r = helper_exec(m, in);
        /* a soft-access instruction in a form the helpers lack: natively, once */
        if (r == HELPER_UNSUPPORTED && tc_is_soft(m->tc, in->eip)) {
            cpu->icount = base;
            cpu->budget = cpu->budget_start - (int64_t)(now_before - base);
            cpu->hostflags = (cpu->eflags & FL_HOSTMASK) | 0x2;
            cpu->exit_reason = EXIT_INLINE;
            cpu->exit_aux = INLINE_RUN_NATIVE;
            return 1;
        }
    }
    if (r == 0 && stop != EMU_COUNTED) cpu->icount++;
    bool devices_touched = m->devices_dirty;
    m->devices_dirty = dirty_before || devices_touched;
    uint64_t now = cpu->icount;
    cpu->icount = base;
    cpu->hostflags = (cpu->eflags & FL_HOSTMASK) | 0x2;
    uint32_t changed = (cpu->eflags ^ flags_before) & ~FL_HOSTMASK;
    /* go on unless the instruction did what translated code cannot follow: control
     * transfer or a REP iteration (EIP), TF/IOPL/AC/... or IF set (an interrupt may be
     * due), a non-flat segment, a store into translated code, a watchpoint, a device */
    bool went_on;
    if (branch)
        /* exactly this instruction retired (INT n counts itself; a fault in its delivery
         * undoes that); no interrupt deliverable now that IF may be set (in replay the
         * budget stops at the recorded ones) */
        went_on = r == 0 && (stop == EMU_CONTINUE || stop == EMU_COUNTED) &&
                  now == now_before + 1 && !(changed & ~FL_IF) &&
                  !((cpu->eflags & FL_IF) && !m->rep && pic8259_intr(&m->pic));
    else
        went_on = r == 0 && stop == EMU_CONTINUE && cpu->eip == in->eip + in->zi.length &&
                  !(changed & ~FL_IF) &&
                  !((changed & FL_IF) && (cpu->eflags & FL_IF) && !may_set_if);
    if (went_on && !m->nonflat_segment && !m->watch_touched &&
        m->stats.invalidations == invalidations && m->stats.tc_flushes == flushes && !m->exited &&
        !m->reset_requested && !m->power_off_requested && !devices_touched &&
        (!m->rep || replay_next_stop(m) == next_stop))
        return 0;
    /* leave: the budget counts exactly the instructions retired */
    int64_t retired_since_entry = (int64_t)(now - base);
    cpu->budget = cpu->budget_start - retired_since_entry;
    cpu->exit_reason = EXIT_INLINE;
    cpu->exit_aux = r < 0 ? UINT32_MAX : (uint32_t)r;
    if (r == 0 && stop != EMU_CONTINUE) cpu->exit_aux = UINT32_MAX - 1 - (uint32_t)stop;
    return 1;
}

static void note_refill(struct machine *m, uint32_t eip, uint32_t vpn);

/* A host fault inside a CCF, with the guest state already precise at cpu.eip. */
static int handle_fault_once(struct machine *m, enum emu_stop *stop);
static int handle_fault(struct machine *m, enum emu_stop *stop);

/* Runs the instruction at cpu.eip alone, from a one-shot translation (which does not
 * write-protect its page); a further fault or the callout it ends in is handled here. */
static int run_one_instruction(struct machine *m, enum emu_stop *stop) {
    struct ccf *c = translate_block(m, m->cpu.eip, true);
    if (!c) return m->fetch_fault ? m->fetch_fault : -1;
    uint32_t r = run_ccf(m, c, c->ninsns ? 1 : 0);
    if (r == EXIT_FAULT) return handle_fault(m, stop);
    if (r == EXIT_EMULATE) {
        int er = emulate_insn(m, stop);
        if (er == 0 && *stop != EMU_COUNTED) m->cpu.icount++;
        return er;
    }
    return 0;
}

/* One-shot re-executions can fault again (a store into code that also touches an
 * unassigned page, ...); a bounded depth turns a monitor bug into a message, not a stack
 * overflow. */
static int handle_fault(struct machine *m, enum emu_stop *stop) {
    static int depth;
    if (depth >= 8) {
        snprintf(m->error, sizeof m->error,
                 "fault handling nested too deeply at eip=0x%08x icount=%llu (host address "
                 "%#llx)",
                 m->cpu.eip, (unsigned long long)m->cpu.icount, (unsigned long long)g_fault.addr);
        return -1;
    }
    depth++;
    int r = handle_fault_once(m, stop);
    depth--;
    return r;
}

static int handle_fault_once(struct machine *m, enum emu_stop *stop) {
    struct cpu *cpu = &m->cpu;
    if (g_fault.signo == SIGFPE)
        /* integer divide errors are #DE; x87 exceptions surface at the next waiting x87
         * instruction as #MF (CR0.NE=1 behaviour; FERR#/IRQ13 is not modelled) */
        return (g_fault.code == FPE_INTDIV || g_fault.code == FPE_INTOVF) ? VEC_DE + 1 : VEC_MF + 1;
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
    if (st == MMU_OK || st == MMU_PAGE_FAULT) note_refill(m, cpu->eip, ea >> 12);
    if (st == MMU_PAGE_FAULT) {
        m->prefill_eip = cpu->eip; /* the handler will likely map it and return here */
        return VEC_PF + 1;
    }
    if (st == MMU_WATCHED) {
        m->watch_trap = true; /* the debugger runs this instruction alone */
        return 0;
    }
    if (st == MMU_OK) {
        if (code_write) {
            /* A store into translated code: drop those CCFs (which makes the frame
             * writable again), then let exactly this instruction run from a one-shot
             * translation (which does not re-protect it), so the following code is
             * translated from the new bytes. */
            tc_invalidate_page(m, ppn);
            m->stats.exits[EXIT_SMC]++;
            if (m->icount_limit && cpu->icount >= m->icount_limit) return 0;
            return run_one_instruction(m, stop);
        }
        m->stats.tlb_misses++;
        return 0;
    }
slow:;
    /* Unassigned physical address (no MMIO devices yet): run the instruction through its
     * C helper, which reads all ones and drops writes, as the bus does. */
    struct insn in;
    if (fetch_insn(m, cpu->eip, &in) == 0 && helper_supports(in.zi.mnemonic)) {
        int r = helper_exec(m, &in);
        if (r == 0) {
            cpu->icount++;
            m->stats.insns_helpers++;
        }
        return r;
    }
    if (off >> 32) {
        snprintf(m->error, sizeof m->error,
                 "an access wrapping around 4 GiB at eip=0x%08x icount=%llu by an instruction "
                 "without a C helper is not supported",
                 cpu->eip, (unsigned long long)cpu->icount);
        return -1;
    }
    /* No helper: run the instruction once, translated, with that page backed by a scratch
     * frame of all ones whose writes are thrown away afterwards. */
    /* the scratch page stays mapped while a second fault of the same instruction (the
     * other half of a page-crossing access) is handled */
    mmu_map_scratch(m, ea, (enum mmu_view)view);
    int res = run_one_instruction(m, stop);
    mmu_unmap_scratch(m, ea, (enum mmu_view)view);
    return res;
}

/* Finds or translates the CCF for cpu.eip at the current CPL and address translation.
 * NULL with *fault set (vector + 1) for a fetch fault, or with m->error set. */
static struct ccf *find_ccf(struct machine *m, int *fault) {
    struct cpu *cpu = &m->cpu;
    bool user = cpu->cpl == 3;
    uint32_t pa;
    *fault = 0;
    enum mmu_status st = mmu_translate(m, cpu->eip, false, user, true, &pa);
    if (st == MMU_PAGE_FAULT) {
        *fault = VEC_PF + 1;
        return NULL;
    }
    struct ccf *c = st == MMU_OK ? tc_lookup(m->tc, cpu->eip, pa >> 12, user) : NULL;
    if (c && c->page[1] != c->page[0]) {
        /* the CCF continues on a second page: its mapping must be the same as well */
        uint32_t pa2;
        if (mmu_translate(m, c->end_eip - 1, false, user, false, &pa2) != MMU_OK ||
            (pa2 >> 12) != c->page[1])
            c = NULL;
    }
    if (!c) {
        c = translate_block(m, cpu->eip, false);
        if (!c && m->fetch_fault) *fault = m->fetch_fault;
    }
    return c;
}

/* How the translation of target's code is held, for a jump chained or cached into it. */
static struct tc_target target_translation(struct machine *m, const struct ccf *target) {
    struct tc_target w = {target->eip >> 12, (target->end_eip - 1) >> 12, false, false};
    bool big0, big1 = false;
    w.global = mmu_translation_global(m, target->eip, &big0);
    if (w.vpn1 != w.vpn0)
        w.global = mmu_translation_global(m, target->end_eip - 1, &big1) && w.global;
    w.big = big0 || big1;
    return w;
}

/* The instruction at eip needed its data page vpn mapped into a view again (a host fault
 * or a prefill). The same instruction and page again and again means that page's
 * translation churns (a fixed address remapped: every round costs host mapping calls): the
 * instruction joins the soft-access set and its code frame is retranslated, so that it
 * reaches memory through the monitor's page walk instead (guest-visible effects, A/D bits
 * and faults included, are the same). */
#define CHURN_THRESHOLD 16
static void note_refill(struct machine *m, uint32_t eip, uint32_t vpn) {
    unsigned slot = (eip ^ (eip >> 8)) & 255;
    if (m->churn[slot].eip1 != eip + 1 || m->churn[slot].vpn != vpn) {
        m->churn[slot].eip1 = eip + 1;
        m->churn[slot].vpn = vpn;
        m->churn[slot].count = 1;
        return;
    }
    if (++m->churn[slot].count != CHURN_THRESHOLD) return;
    uint32_t pa;
    if (tc_mark_soft(m->tc, eip) &&
        mmu_translate(m, eip, false, m->cpu.cpl == 3, false, &pa) == MMU_OK)
        m->soft_kill_ppn = (pa >> 12) + 1;
}

/* Register-only instructions that cannot fault or leave the block (lookahead of
 * prefill_access): integer ALU and moves between registers. */
static bool register_only(const struct insn *in) {
    const ZydisDecodedInstruction *z = &in->zi;
    switch (z->meta.category) {
    case ZYDIS_CATEGORY_BINARY:
    case ZYDIS_CATEGORY_LOGICAL:
    case ZYDIS_CATEGORY_DATAXFER:
    case ZYDIS_CATEGORY_SHIFT:
    case ZYDIS_CATEGORY_ROTATE:
    case ZYDIS_CATEGORY_BITBYTE:
    case ZYDIS_CATEGORY_CMOV:
    case ZYDIS_CATEGORY_SETCC:
    case ZYDIS_CATEGORY_NOP: break;
    default: return false;
    }
    if (z->mnemonic == ZYDIS_MNEMONIC_DIV || z->mnemonic == ZYDIS_MNEMONIC_IDIV) return false;
    for (int i = 0; i < z->operand_count; i++) {
        const ZydisDecodedOperand *op = &in->op[i];
        if (op->type == ZYDIS_OPERAND_TYPE_MEMORY) return false;
        if (op->type == ZYDIS_OPERAND_TYPE_REGISTER &&
            ZydisRegisterGetClass(op->reg.value) != ZYDIS_REGCLASS_GPR8 &&
            ZydisRegisterGetClass(op->reg.value) != ZYDIS_REGCLASS_GPR16 &&
            ZydisRegisterGetClass(op->reg.value) != ZYDIS_REGCLASS_GPR32 &&
            ZydisRegisterGetClass(op->reg.value) != ZYDIS_REGCLASS_FLAGS)
            return false;
    }
    return true;
}

/* Bit of a general register's 32-bit form in a written-registers mask. */
static uint32_t gpr_bit(ZydisRegister r) {
    if (r == ZYDIS_REGISTER_NONE) return 0;
    ZydisRegister big = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LEGACY_32, r);
    if (big < ZYDIS_REGISTER_EAX || big > ZYDIS_REGISTER_EDI) return 0;
    return 1u << (big - ZYDIS_REGISTER_EAX);
}

/* An instruction about to run after a #PF (or an INVLPG) took its data page out of the
 * view: the faulting one, run again once the handler fixed the page tables, or the code
 * right after the INVLPG. Looking ahead through at most a few register-only instructions
 * of the CCF about to run (which nothing can interrupt), if the first memory access is
 * certain (the only memory operand, on one page, its address registers untouched), that
 * page is mapped now with the A and D bits the access sets anyway: a host fault and a
 * signal less, the same guest-visible state. */
static bool prefill_lookahead(struct machine *m, const struct ccf *c, uint32_t pc,
                              uint32_t written);

static void prefill_access(struct machine *m, const struct ccf *c) {
    struct cpu *cpu = &m->cpu;
    if (m->nwatch || !(cpu->cr[0] & CR0_PG) || c->oneshot) return;
    uint32_t pc = cpu->eip, written = 0;
    unsigned slot = (pc ^ (pc >> 6)) & 63;
    if (m->noprefill[slot].eip1 == pc + 1 && m->noprefill[slot].soft_gen == m->tc->soft_gen &&
        m->noprefill[slot].flushes == m->stats.tc_flushes &&
        m->noprefill[slot].invalidations == m->stats.invalidations)
        return;
    bool found = prefill_lookahead(m, c, pc, written);
    if (!found) {
        m->noprefill[slot].eip1 = pc + 1;
        m->noprefill[slot].soft_gen = m->tc->soft_gen;
        m->noprefill[slot].flushes = m->stats.tc_flushes;
        m->noprefill[slot].invalidations = m->stats.invalidations;
    }
}

/* prefill_access's lookahead: false if there is nothing to map from pc (no certain access
 * ahead, or one by a soft-access instruction), whatever the registers. */
static bool prefill_lookahead(struct machine *m, const struct ccf *c, uint32_t pc,
                              uint32_t written) {
    struct cpu *cpu = &m->cpu;
    for (int k = 0; k < 4 && pc >= c->eip && pc < c->end_eip; k++) {
        struct insn in;
        if (fetch_insn(m, pc, &in) != 0) return true;
        const ZydisDecodedInstruction *z = &in.zi;
        if (register_only(&in)) {
            for (int i = 0; i < z->operand_count; i++)
                if (in.op[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
                    (in.op[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
                    written |= gpr_bit(in.op[i].reg.value);
            pc += z->length;
            continue;
        }
        if (z->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE))
            return false;
        if (tc_is_soft(m->tc, pc)) return false; /* it does not go through the views */
        const ZydisDecodedOperand *mem = NULL;
        for (int i = 0; i < z->operand_count; i++) {
            const ZydisDecodedOperand *op = &in.op[i];
            if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.type != ZYDIS_MEMOP_TYPE_MEM)
                continue;
            /* (hidden ones too: a PUSH [m] also writes the stack, which may fault first) */
            if (mem || op->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT) return false;
            mem = op;
        }
        if (!mem || mem->size == 0 ||
            (written & (gpr_bit(mem->mem.base) | gpr_bit(mem->mem.index))))
            return false;
        uint32_t lin = helper_mem_ea(cpu, &in, mem);
        if ((lin & 0xfff) + mem->size / 8u > 4096) return true; /* two pages: which faults first? */
        bool write = (mem->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0;
        enum mmu_view v = cpu->cpl == 3 ? VIEW_USER : VIEW_SUPER;
        if (mmu_view_mapped(m, lin >> 12, v, write)) return true;
        uint32_t cr2 = cpu->cr[2], pf_error = cpu->pf_error, ppn;
        bool code_write;
        if (mmu_fill(m, lin, write, v, &code_write, &ppn) == MMU_OK) {
            m->stats.tlb_prefills++;
            note_refill(m, pc, lin >> 12);
        } else {
            cpu->cr[2] = cr2; /* it faults when it runs, and says so itself */
            cpu->pf_error = pf_error;
        }
        return true;
    }
    return false;
}

/* Enabled DR0-DR3 breakpoints on instruction execution (R/W = 00), as a bit mask. */
static uint32_t debug_exec_breakpoints(const struct cpu *c) {
    uint32_t dr7 = c->dr[7], mask = 0;
    for (int i = 0; i < 4; i++)
        if ((dr7 >> (2 * i)) & 3 && ((dr7 >> (16 + 4 * i)) & 3) == 0) mask |= 1u << i;
    return mask;
}

static int debug_breakpoint_hit(const struct cpu *c, uint32_t mask) {
    for (int i = 0; i < 4; i++)
        if ((mask >> i) & 1 && c->dr[i] == c->eip) return i;
    return -1;
}

/* Delivers a guest exception raised by an instruction (fault: cpu.eip at it). */
static int raise_exception(struct machine *m, int vec) {
    return event_deliver(m, vec, EV_EXCEPTION);
}

/* Budget slice when guest time follows the host clock: bounds how late a timer interrupt
 * can be noticed (about 50-200 us of guest work). */
#define HOST_CLOCK_SLICE 200000

enum run_result machine_run(struct machine *m) {
    struct cpu *cpu = &m->cpu;
    g_machine = m;
    install_handlers();
    uint64_t last_icount = cpu->icount, idle_rounds = 0;
    unsigned clock_polls = 0;
    for (;;) {
        if (m->exited) return RUN_EXIT_DEVICE;
        if (m->reset_requested) return RUN_RESET;
        if (m->power_off_requested) return RUN_POWER_OFF;
        if (m->console_open && m->console.quit_requested) return RUN_USER_QUIT;
        if (m->nonflat_segment) {
            snprintf(m->error, sizeof m->error,
                     "a segment register other than FS/GS has a nonzero base or a limit below "
                     "4 GiB (cs=0x%04x ds=0x%04x es=0x%04x ss=0x%04x) at eip=0x%08x: not "
                     "supported by the translator",
                     cpu->seg[S_CS].sel, cpu->seg[S_DS].sel, cpu->seg[S_ES].sel, cpu->seg[S_SS].sel,
                     cpu->eip);
            return RUN_MONITOR_ERROR;
        }
        if (m->watch_trap || m->watch_touched) {
            m->watch_trap = false;
            return RUN_WATCH;
        }
        if (m->icount_limit && cpu->icount >= m->icount_limit) return RUN_ICOUNT_LIMIT;
        /* A guest can take interrupts or exceptions back to back forever without retiring
         * an instruction (a trap gate whose handler address is itself interrupted again,
         * a stack wrapping through unassigned memory): hardware would spin; rrvm stops. */
        if (cpu->icount != last_icount) {
            last_icount = cpu->icount;
            idle_rounds = 0;
        } else if (++idle_rounds > 1000000 && !m->halted) {
            snprintf(m->error, sizeof m->error,
                     "guest livelock: a million events delivered at eip=0x%08x icount=%llu "
                     "without an instruction retiring",
                     cpu->eip, (unsigned long long)cpu->icount);
            return RUN_HALTED;
        }
        if (m->stop_requested) return RUN_STOP_REQUEST;
        if (m->rec && recorder_failed(m->rec)) return RUN_MONITOR_ERROR;
        if (m->rep) {
            /* replay: interrupts come from the journal at their recorded icount */
            int v = replay_due_interrupt(m);
            if (replay_diverged(m)) return RUN_DIVERGED;
            if (replay_at_end(m)) return RUN_REPLAY_END;
            if (v >= 0) {
                m->halted = false;
                m->stats.irqs++;
                if (event_deliver(m, v, EV_EXTERNAL) < 0)
                    return m->triple_fault ? RUN_GUEST_FAULT : RUN_MONITOR_ERROR;
                continue;
            }
            if (m->halted) {
                snprintf(m->error, sizeof m->error,
                         "diverged at icount %llu (eip=0x%08x): the guest waits in HLT but the "
                         "journal has no interrupt for it here",
                         (unsigned long long)cpu->icount, cpu->eip);
                return RUN_DIVERGED;
            }
        }
        /* Devices change state only with time or through port I/O: bring them up to date
         * when a deadline passed or a port was touched, not on every monitor entry. */
        /* (the host clock is read only when a port was touched, after a budget slice, or
         * every 64 monitor entries: the slice bounds timer latency anyway) */
        bool look = !m->rep && (m->devices_dirty || m->clock.mode == CLOCK_VIRTUAL || m->halted ||
                                ++clock_polls >= 64);
        uint64_t now_ns = look ? clock_now_ns(m) : 0;
        if (look) clock_polls = 0;
        if (look && (m->devices_dirty || now_ns >= m->next_device_ns)) {
            m->devices_dirty = false;
            m->next_device_ns = devices_update(m);
            if (m->console_open && !m->console.eof && m->next_device_ns > now_ns + 2000000)
                m->next_device_ns = now_ns + 2000000; /* terminal input is polled */
        }
        uint64_t next_event = m->rep ? UINT64_MAX : m->next_device_ns;
        bool irq = !m->rep && (cpu->eflags & FL_IF) && pic8259_intr(&m->pic);
        bool shadow = cpu->icount == m->irq_shadow;
        if (irq && !shadow) {
            m->halted = false;
            uint8_t vec = pic8259_acknowledge(&m->pic);
            m->stats.irqs++;
            if (m->rec) journal_interrupt(m, vec);
            if (event_deliver(m, vec, EV_EXTERNAL) < 0)
                return m->triple_fault ? RUN_GUEST_FAULT : RUN_MONITOR_ERROR;
            continue;
        }
        if (m->halted) {
            /* HLT with IF set: nothing runs until a device interrupts */
            if (m->idle_limit_ns && clock_now_ns(m) - m->halted_since_ns > m->idle_limit_ns) {
                snprintf(m->error, sizeof m->error,
                         "guest waited in HLT at eip=0x%08x icount=%llu for more than %.3f s of "
                         "guest time without an interrupt",
                         cpu->eip, (unsigned long long)cpu->icount, (double)m->idle_limit_ns / 1e9);
                return RUN_HALTED;
            }
            if (next_event == UINT64_MAX && (!m->console_open || m->console.eof)) {
                snprintf(m->error, sizeof m->error,
                         "guest waits in HLT at eip=0x%08x icount=%llu for an interrupt no "
                         "device will raise",
                         cpu->eip, (unsigned long long)cpu->icount);
                return RUN_HALTED;
            }
            if (m->clock.mode == CLOCK_HOST && m->console_open) {
                uint64_t now = clock_now_ns(m);
                uint64_t wait = next_event > now ? next_event - now : 0;
                if (wait > 20000000ull) wait = 20000000ull;
                if (wait) console_wait(&m->console, wait);
            } else {
                clock_idle_until(m, next_event);
            }
            continue;
        }
        int64_t budget = BUDGET_MAX;
        if (m->icount_limit) {
            uint64_t left = m->icount_limit - cpu->icount;
            if (left < (uint64_t)budget) budget = (int64_t)left;
        }
        if (m->clock.mode == CLOCK_HOST) {
            if (budget > HOST_CLOCK_SLICE) budget = HOST_CLOCK_SLICE;
        } else if (next_event != UINT64_MAX) {
            /* virtual time: stop exactly at the instruction where the next event is due */
            uint64_t now = clock_now_ns(m);
            uint64_t n = next_event > now
                             ? (next_event - now + VIRTUAL_NS_PER_INSN - 1) / VIRTUAL_NS_PER_INSN
                             : 1;
            if (n < (uint64_t)budget) budget = (int64_t)n;
        }
        if (m->rep) {
            /* land exactly on the next recorded interrupt or state check */
            uint64_t stop = replay_next_stop(m);
            if (stop < cpu->icount) {
                snprintf(m->error, sizeof m->error,
                         "diverged at icount %llu (eip=0x%08x): a recorded event at icount %llu "
                         "was passed",
                         (unsigned long long)cpu->icount, cpu->eip, (unsigned long long)stop);
                return RUN_DIVERGED;
            }
            if (stop != UINT64_MAX && stop - cpu->icount < (uint64_t)budget)
                budget = (int64_t)(stop - cpu->icount);
        }
        if (irq && shadow) budget = 1; /* one instruction in the shadow, then the interrupt */
        /* EFLAGS.TF and enabled DR0-DR3 instruction breakpoints: one instruction at a time
         * (SDM Vol. 3A §17.3.1) */
        bool tf = (cpu->eflags & FL_TF) != 0;
        uint32_t ibp = debug_exec_breakpoints(cpu);
        if (tf || ibp) budget = 1;
        if (ibp && !(cpu->eflags & FL_RF)) {
            int hit = debug_breakpoint_hit(cpu, ibp);
            if (hit >= 0) {
                /* instruction breakpoint: a fault, before the instruction executes */
                cpu->dr[6] = (cpu->dr[6] & ~0xfu) | (1u << hit);
                if (raise_exception(m, VEC_DB) < 0)
                    return m->triple_fault ? RUN_GUEST_FAULT : RUN_MONITOR_ERROR;
                continue;
            }
        }
        uint64_t icount_before = cpu->icount, events_before = m->stats.events_delivered;
        if (m->nbreakpoints && !m->bp_off && machine_is_breakpoint(m, cpu->eip) &&
            !(cpu->eip == m->bp_skip_eip && cpu->icount == m->bp_skip_icount))
            return RUN_BREAKPOINT;
        if (m->soft_kill_ppn) {
            /* a new soft-access instruction: its CCFs are translated again */
            tc_invalidate_page(m, m->soft_kill_ppn - 1);
            m->soft_kill_ppn = 0;
        }
        int fault = 0;
        struct ccf *c = find_ccf(m, &fault);
        if (!c) {
            if (!fault) return monitor_error(m);
            if (raise_exception(m, fault - 1) < 0)
                return m->triple_fault ? RUN_GUEST_FAULT : RUN_MONITOR_ERROR;
            continue;
        }
        if (c->ninsns > budget) {
            /* Land exactly on the limit: one instruction at a time. */
            c = translate_block(m, cpu->eip, true);
            if (!c) {
                if (!m->fetch_fault) return monitor_error(m);
                if (raise_exception(m, m->fetch_fault - 1) < 0)
                    return m->triple_fault ? RUN_GUEST_FAULT : RUN_MONITOR_ERROR;
                continue;
            }
        }
        if (cpu->eip == m->prefill_eip) {
            m->prefill_eip = UINT32_MAX;
            prefill_access(m, c);
        }
        uint32_t reason = run_ccf(m, c, budget);
        int r = 0;
        enum emu_stop stop = EMU_CONTINUE;
        switch (reason) {
        case EXIT_CHAIN: {
            struct ccf *src = c;
            uint32_t src_page = c->eip >> 12;
            bool chainable = !src->oneshot && !src->dead && m->tc->nccfs > 0 &&
                             (uint8_t *)(uintptr_t)cpu->exit_site >= m->tc->code &&
                             (uint8_t *)(uintptr_t)cpu->exit_site < m->tc->code_used;
            uint64_t flushes = m->stats.tc_flushes;
            struct ccf *target = find_ccf(m, &fault);
            if (!target) {
                if (!fault) return monitor_error(m);
                break; /* delivered when the loop comes back to it */
            }
            /* (a one-shot source lives in scratch; its jump is not worth patching; and a
             * translation may have flushed the TC, taking the source with it) */
            if (chainable && flushes == m->stats.tc_flushes &&
                m->tc->nlinks + 1 < m->tc->maxlinks &&
                !(m->nbreakpoints && machine_is_breakpoint(m, cpu->eip))) {
                bool cross = (cpu->eip >> 12) != src_page;
                struct tc_target where = {0, 0, false, false};
                if (cross) where = target_translation(m, target);
                tc_chain(m->tc, (uint8_t *)(uintptr_t)cpu->exit_site, target, cross, &where);
                m->stats.chained_exits++;
            }
            break;
        }
        case EXIT_INDIRECT: {
            struct ccf *target = find_ccf(m, &fault);
            if (!target) {
                if (!fault) return monitor_error(m);
                break;
            }
            if (!(m->nbreakpoints && machine_is_breakpoint(m, cpu->eip))) {
                struct tc_target where = target_translation(m, target);
                jcache_fill(m->tc, cpu->eip, target, &where);
            }
            break;
        }
        case EXIT_BUDGET:
            clock_polls = 64;
            if (m->rec) journal_digest(m); /* a state check for replay, once per slice */
            break;
        case EXIT_EMULATE:
            /* a block whose charged instructions used up the budget ends in a callout that
             * must wait for the next round (limit, single step, interrupt shadow) */
            if ((int64_t)(cpu->icount - icount_before) >= budget) break;
            {
                /* the CCF that exited (its index is in exit_aux) kept the instruction it
                 * decoded; it is still valid if the CCF is alive */
                const struct insn *pre = NULL;
                uint32_t idx = cpu->exit_aux;
                if (idx < m->tc->nccfs) {
                    const struct ccf *x = &m->tc->ccfs[idx];
                    if (!x->dead && x->callout && x->callout->eip == cpu->eip) pre = x->callout;
                }
                r = pre ? emulate_decoded(m, pre, &stop) : emulate_insn(m, &stop);
            }
            if (r == 0 && stop != EMU_COUNTED) cpu->icount++;
            break;
        case EXIT_INLINE:
            /* the inline call already ran the instruction (ccf_inline_insn): its outcome */
            if (cpu->exit_aux == INLINE_RUN_NATIVE)
                r = run_one_instruction(m, &stop);
            else if (cpu->exit_aux == UINT32_MAX)
                r = -1;
            else if (cpu->exit_aux >= UINT32_MAX - 8)
                stop = (enum emu_stop)(UINT32_MAX - 1 - cpu->exit_aux);
            else
                r = (int)cpu->exit_aux;
            break;
        case EXIT_FAULT: r = handle_fault(m, &stop); break;
        default:
            snprintf(m->error, sizeof m->error, "unknown CCF exit %u at eip=0x%08x", reason,
                     cpu->eip);
            return RUN_MONITOR_ERROR;
        }
        if (r < 0) return m->triple_fault ? RUN_GUEST_FAULT : RUN_MONITOR_ERROR;
        if (r > 0 && raise_exception(m, r - 1) < 0)
            return m->triple_fault ? RUN_GUEST_FAULT : RUN_MONITOR_ERROR;
        if ((tf || ibp) && cpu->icount == icount_before + 1 &&
            m->stats.events_delivered == events_before) {
            /* the instruction retired: RF has done its job; a single-step trap follows
             * if TF was set when it began */
            cpu->eflags &= ~FL_RF;
            if (tf) {
                cpu->dr[6] |= 0x4000; /* BS */
                if (raise_exception(m, VEC_DB) < 0)
                    return m->triple_fault ? RUN_GUEST_FAULT : RUN_MONITOR_ERROR;
            }
        }
        if (r == 0 && stop == EMU_HALTED) return RUN_HALTED;
        if (r == 0 && stop == EMU_WAIT_IRQ) {
            m->halted = true;
            m->halted_since_ns = clock_now_ns(m);
            m->stats.halts++;
        }
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
    fprintf(out, "  callouts: io %llu, privileged %llu, helper %llu (inline %llu)\n",
            (unsigned long long)s->callouts_io, (unsigned long long)s->callouts_priv,
            (unsigned long long)s->callouts_helper, (unsigned long long)s->inline_calls);
    fprintf(out, "  view page fills        %llu (prefilled %llu)\n",
            (unsigned long long)s->tlb_misses, (unsigned long long)s->tlb_prefills);
    fprintf(out, "  invalidations          %llu\n", (unsigned long long)s->invalidations);
    fprintf(out, "  insns as host code     %llu (%.4f%%)\n",
            (unsigned long long)s->insns_translated_code,
            total ? 100.0 * (double)s->insns_translated_code / (double)total : 0.0);
    fprintf(out, "  insns via C helpers    %llu (%.4f%%)\n", (unsigned long long)s->insns_helpers,
            total ? 100.0 * (double)s->insns_helpers / (double)total : 0.0);
}
