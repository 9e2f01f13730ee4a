/* IDT delivery and IRET (see hv/exceptions.h). */
#include "hv/exceptions.h"

#include <stdio.h>
#include <string.h>

#include "hv/machine.h"
#include "hv/segments.h"
#include "hv/task.h"

const char *vector_mnemonic(int vec) {
    static const char *const names[] = {"DE", "DB", "NMI", "BP", "OF", "BR", "UD",
                                        "NM", "DF", NULL,  "TS", "NP", "SS", "GP",
                                        "PF", NULL, "MF",  "AC", "MC", "XM"};
    return vec >= 0 && vec < (int)(sizeof names / sizeof names[0]) ? names[vec] : NULL;
}

int vector_has_error_code(int vec) {
    return vec == VEC_DF || (vec >= VEC_TS && vec <= VEC_PF) || vec == VEC_AC;
}

static int fault(struct machine *m, int vec, uint32_t err) {
    m->cpu.exc_error = err;
    return vec + 1;
}

/* Table 6-4: contributory exceptions. */
static int is_contributory(int v) {
    return v == VEC_DE || (v >= VEC_TS && v <= VEC_GP);
}

static void describe(char *buf, size_t len, int vec, uint32_t err, int has_err) {
    const char *mn = vector_mnemonic(vec);
    if (mn && has_err)
        snprintf(buf, len, "#%s(0x%x)", mn, err);
    else if (mn)
        snprintf(buf, len, "#%s", mn);
    else
        snprintf(buf, len, "vector %d", vec);
}

/* One attempt at delivery; returns 0, a new fault (vector + 1) or -1. */
static int deliver_once(struct machine *m, int vec, enum event_kind kind) {
    struct cpu *c = &m->cpu;
    uint32_t ext = kind == EV_EXTERNAL ? 1 : 0;
    if (!(c->cr[0] & CR0_PE)) {
        snprintf(m->error, sizeof m->error,
                 "interrupt %d in real mode at eip=0x%08x icount=%llu: real-mode delivery is not "
                 "supported",
                 vec, c->eip, (unsigned long long)c->icount);
        return -1;
    }
    uint32_t idt_err = (uint32_t)vec * 8 + 2 + ext;
    if ((uint32_t)vec * 8 + 7 > c->idtr.limit) return fault(m, VEC_GP, idt_err);
    uint32_t g[2];
    int e = guest_read_sys(m, c->idtr.base + (uint32_t)vec * 8, g, 8);
    if (e) return e;
    unsigned type = (g[1] >> 8) & 0x1f, gdpl = (g[1] >> 13) & 3;
    if (type != SYS_INTGATE32 && type != SYS_TRAPGATE32 && type != SYS_TASKGATE &&
        type != SYS_INTGATE16 && type != SYS_TRAPGATE16)
        return fault(m, VEC_GP, idt_err);
    if (kind == EV_SOFTWARE && gdpl < c->cpl) return fault(m, VEC_GP, idt_err);
    if (!(g[1] & 0x8000)) return fault(m, VEC_NP, idt_err);
    if (type == SYS_TASKGATE) {
        /* a task gate switches tasks; the error code goes on the new task's stack */
        e = task_switch(m, (uint16_t)(g[0] >> 16), TASK_INT, c->eip);
        if (e) return e;
        if (kind == EV_EXCEPTION && vector_has_error_code(vec)) {
            uint32_t err = vec == VEC_PF ? c->pf_error : c->exc_error;
            uint32_t sp = c->gpr[R_ESP] - 4;
            e = guest_write(m, sp, &err, 4);
            if (e) return e;
            c->gpr[R_ESP] = sp;
        }
        return 0;
    }
    if (type == SYS_INTGATE16 || type == SYS_TRAPGATE16) {
        snprintf(m->error, sizeof m->error,
                 "vector %d at eip=0x%08x icount=%llu goes through a 16-bit gate, which is not "
                 "supported",
                 vec, c->eip, (unsigned long long)c->icount);
        return -1;
    }
    uint16_t sel = (uint16_t)(g[0] >> 16);
    uint32_t off = (g[0] & 0xffff) | (g[1] & 0xffff0000u);
    if ((sel & 0xfffc) == 0) return fault(m, VEC_GP, ext);
    struct descriptor cd;
    e = desc_read(m, sel, &cd);
    if (e) return fault(m, VEC_GP, (sel & 0xfffc) | ext);
    unsigned ctype = cd.attr & DA_TYPE, cdpl = DA_DPL(cd.attr);
    if (!(cd.attr & DA_S) || !(ctype & DT_CODE) || cdpl > c->cpl)
        return fault(m, VEC_GP, (sel & 0xfffc) | ext);
    if (!(cd.attr & DA_P)) return fault(m, VEC_NP, (sel & 0xfffc) | ext);
    unsigned ncpl = (ctype & DT_CONFORMING) ? c->cpl : cdpl;

    bool push_err = kind == EV_EXCEPTION && vector_has_error_code(vec);
    uint32_t err = vec == VEC_PF ? c->pf_error : c->exc_error;
    uint32_t eflags = cpu_get_eflags(c);
    uint32_t frame[7];
    int n = 0;
    uint16_t nss = c->seg[S_SS].sel;
    uint32_t nesp = c->gpr[R_ESP];
    struct descriptor ssd;
    bool switched = ncpl < c->cpl;
    if (switched) {
        e = stack_switch_inner(m, ncpl, &nss, &nesp, &ssd);
        if (e) {
            if (e - 1 == VEC_TS || e - 1 == VEC_SS) c->exc_error |= ext;
            return e;
        }
        frame[n++] = c->seg[S_SS].sel;
        frame[n++] = c->gpr[R_ESP];
    }
    frame[n++] = eflags;
    frame[n++] = c->seg[S_CS].sel;
    frame[n++] = c->eip;
    if (push_err) frame[n++] = err;
    /* The frame is stored lowest address first, in one access that either completes or
     * faults before changing memory. */
    uint32_t words[7];
    for (int i = 0; i < n; i++)
        words[i] = frame[n - 1 - i];
    uint32_t sp = nesp - 4u * (uint32_t)n;
    e = ncpl < 3 ? guest_write_sys(m, sp, words, 4u * (unsigned)n)
                 : guest_write(m, sp, words, 4u * (unsigned)n);
    if (e) {
        if (e - 1 == VEC_PF) return e;
        return fault(m, VEC_SS, ext);
    }
    desc_set_accessed(m, sel, &cd);
    if (switched) segment_set_ss(m, nss, &ssd);
    segment_load_cs(m, sel, &cd, ncpl);
    c->gpr[R_ESP] = sp;
    c->eip = off;
    /* SDM Vol. 3A §6.12.1.3: TF, NT, RF and VM cleared; IF too through an interrupt gate. */
    eflags &= ~(FL_TF | FL_NT | FL_RF | FL_VM);
    if (type == SYS_INTGATE32) eflags &= ~FL_IF;
    cpu_set_eflags(c, eflags);
    return 0;
}

int event_deliver(struct machine *m, int vec, enum event_kind kind) {
    struct cpu *c = &m->cpu;
    char chain[192] = "";
    size_t used = 0;
    uint32_t first_err = vec == VEC_PF ? c->pf_error : c->exc_error;
    int first = vec;
    uint32_t first_eip = c->eip;
    uint64_t first_icount = c->icount;
    for (;;) {
        int r = deliver_once(m, vec, kind);
        if (r == 0) {
            m->soft_int_retired = false;
            c->exc_error = 0;
            m->stats.events_delivered++;
            return 0;
        }
        if (r < 0) return -1;
        if (kind == EV_SOFTWARE && m->soft_int_retired) {
            /* INT n did not complete: the exception is a fault on the INT instruction
             * itself (SDM Vol. 3A §6.12.1.1), which has not retired after all */
            c->eip = m->soft_int_eip;
            c->icount--;
            first_eip = c->eip;
            first_icount = c->icount;
            m->soft_int_retired = false;
        }
        int b = r - 1;
        uint32_t berr = b == VEC_PF ? c->pf_error : c->exc_error;
        char d[48];
        describe(d, sizeof d, b, berr, vector_has_error_code(b));
        used += (size_t)snprintf(chain + used, used < sizeof chain ? sizeof chain - used : 0,
                                 " -> %s", d);
        if (used >= sizeof chain) used = sizeof chain - 1;
        if (vec == VEC_DF) {
            /* SDM Vol. 3A §6.15 "Interrupt 8": a fault while delivering #DF shuts down */
            char f[48];
            describe(f, sizeof f, first, first_err,
                     kind == EV_EXCEPTION && vector_has_error_code(first));
            m->triple_fault = true;
            m->fault_vector = first;
            m->fault_eip = first_eip;
            m->fault_icount = first_icount;
            m->fault_error_code = first_err;
            snprintf(m->error, sizeof m->error,
                     "triple fault: guest %s at eip=0x%08x icount=%llu, delivery%s -> shutdown "
                     "(IDT base=0x%08x limit=0x%x, cs=0x%04x cpl=%u esp=0x%08x cr0=0x%08x "
                     "cr3=0x%08x)",
                     f, first_eip, (unsigned long long)first_icount, chain, c->idtr.base,
                     c->idtr.limit, c->seg[S_CS].sel, c->cpl, c->gpr[R_ESP], c->cr[0], c->cr[3]);
            return -1;
        }
        /* Table 6-5: contributory after contributory, or #PF/contributory after #PF, is a
         * double fault; anything else is handled serially. */
        bool df = (is_contributory(vec) && is_contributory(b)) ||
                  (vec == VEC_PF && (b == VEC_PF || is_contributory(b)));
        if (df) {
            vec = VEC_DF;
            c->exc_error = 0;
        } else {
            vec = b;
        }
        kind = EV_EXCEPTION;
    }
}

int iret(struct machine *m, unsigned opsize) {
    struct cpu *c = &m->cpu;
    uint32_t eflags = cpu_get_eflags(c);
    if (eflags & FL_NT) {
        /* return to the previous task through the back link (SDM Vol. 3A §7.3) */
        uint16_t link;
        int le = guest_read_sys(m, c->tr.base, &link, 2);
        if (le) return le;
        return task_switch(m, link, TASK_IRET, c->eip + (opsize == 4 ? 1 : 2));
    }
    if (opsize != 4) {
        snprintf(m->error, sizeof m->error, "16-bit IRET at eip=0x%08x is not supported", c->eip);
        return -1;
    }
    uint32_t f[5];
    int e = guest_read(m, c->gpr[R_ESP], f, 12);
    if (e) return e;
    uint32_t neip = f[0], nfl = f[2];
    uint16_t sel = (uint16_t)f[1];
    if ((nfl & FL_VM) && c->cpl == 0) {
        snprintf(m->error, sizeof m->error,
                 "IRET to virtual-8086 mode at eip=0x%08x is not supported", c->eip);
        return -1;
    }
    unsigned rpl = sel & 3;
    struct descriptor d;
    e = return_cs_check(m, sel, &d);
    if (e) return e;
    /* EFLAGS bits IRET may change (SDM Vol. 2A IRET, protected mode): IOPL only at CPL 0,
     * IF only when CPL <= IOPL. */
    uint32_t mask = FL_ARITH | FL_TF | FL_DF | FL_NT | FL_RF | FL_AC | FL_ID;
    unsigned iopl = (eflags >> 12) & 3;
    if (c->cpl == 0) mask |= FL_IOPL;
    if (c->cpl <= iopl) mask |= FL_IF;
    uint32_t newfl = (eflags & ~mask) | (nfl & mask);
    if (rpl == c->cpl) {
        segment_load_cs(m, sel, &d, rpl);
        c->gpr[R_ESP] += 12;
    } else {
        e = guest_read(m, c->gpr[R_ESP] + 12, &f[3], 8);
        if (e) return e;
        uint16_t ss = (uint16_t)f[4];
        struct descriptor ssd;
        e = return_ss_check(m, ss, rpl, &ssd);
        if (e) return e;
        segment_load_cs(m, sel, &d, rpl);
        segment_set_ss(m, ss, &ssd);
        c->gpr[R_ESP] = f[3];
        for (int s = 0; s < 6; s++)
            if (s == S_ES || s == S_DS || s == S_FS || s == S_GS)
                segment_null_if_inaccessible(m, s);
    }
    c->eip = neip;
    cpu_set_eflags(c, newfl);
    return 0;
}
