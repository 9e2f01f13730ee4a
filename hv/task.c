/* Hardware task switching (SDM Vol. 3A ch. 7): JMP/CALL to a TSS or task gate, INT
 * through a task gate, and IRET with NT set (return to the previous task). 32-bit TSSs
 * only. */
#include "hv/task.h"

#include <string.h>

#include "hv/fpu.h"
#include "hv/machine.h"
#include "hv/segments.h"

/* 32-bit TSS layout (SDM Vol. 3A Figure 7-2). */
enum {
    TSS_LINK = 0x00,
    TSS_CR3 = 0x1c,
    TSS_EIP = 0x20,
    TSS_EFLAGS = 0x24,
    TSS_EAX = 0x28, /* then ECX EDX EBX ESP EBP ESI EDI */
    TSS_ES = 0x48,  /* then CS SS DS FS GS, 4 bytes each */
    TSS_LDT = 0x60,
};

static int fault(struct machine *m, int vec, uint32_t err) {
    m->cpu.exc_error = err;
    return vec + 1;
}

static int set_busy(struct machine *m, uint16_t sel, bool busy) {
    uint32_t a = m->cpu.gdtr.base + (sel & 0xfff8u) + 4, hi;
    int e = guest_read_sys(m, a, &hi, 4);
    if (e) return e;
    hi = busy ? (hi | 0x200) : (hi & ~0x200u);
    return guest_write_sys(m, a, &hi, 4);
}

/* Loads a segment register of the new task; a bad selector is #TS(selector) (SDM Vol. 3A
 * §7.3 step 12: errors while loading the new task's state come after the switch). */
static int load_task_seg(struct machine *m, int sreg, uint16_t sel) {
    struct cpu *c = &m->cpu;
    if (sreg == S_CS) {
        struct descriptor d;
        if ((sel & 0xfffc) == 0) return fault(m, VEC_TS, 0);
        if (desc_read(m, sel, &d)) return fault(m, VEC_TS, sel & 0xfffc);
        unsigned type = d.attr & DA_TYPE;
        if (!(d.attr & DA_S) || !(type & DT_CODE)) return fault(m, VEC_TS, sel & 0xfffc);
        if ((type & DT_CONFORMING) ? DA_DPL(d.attr) > (sel & 3u) : DA_DPL(d.attr) != (sel & 3u))
            return fault(m, VEC_TS, sel & 0xfffc);
        if (!(d.attr & DA_P)) return fault(m, VEC_NP, sel & 0xfffc);
        segment_load_cs(m, sel, &d, sel & 3);
        return 0;
    }
    int e = segment_load(m, sreg, sel);
    if (e && (e - 1 == VEC_GP)) return fault(m, VEC_TS, c->exc_error);
    return e;
}

int task_switch(struct machine *m, uint16_t sel, enum task_source src, uint32_t return_eip) {
    struct cpu *c = &m->cpu;
    if (sel & 4) return fault(m, src == TASK_IRET ? VEC_TS : VEC_GP, sel & 0xfffc);
    struct descriptor d;
    int e = desc_read(m, sel, &d);
    if (e) return src == TASK_IRET ? fault(m, VEC_TS, sel & 0xfffc) : e;
    unsigned type = d.attr & DA_TYPE;
    bool want_busy = src == TASK_IRET;
    if ((d.attr & DA_S) || type != (want_busy ? SYS_TSS32_BUSY : SYS_TSS32_AVAIL)) {
        if (!(d.attr & DA_S) && (type == SYS_TSS16_AVAIL || type == SYS_TSS16_BUSY)) {
            snprintf(m->error, sizeof m->error,
                     "task switch to a 16-bit TSS (selector 0x%04x) at eip=0x%08x is not supported",
                     sel, c->eip);
            return -1;
        }
        return fault(m, src == TASK_IRET ? VEC_TS : VEC_GP, sel & 0xfffc);
    }
    if (!(d.attr & DA_P)) return fault(m, VEC_NP, sel & 0xfffc);
    if (d.limit < 0x67) return fault(m, VEC_TS, sel & 0xfffc);

    /* read the whole new TSS first: a fault here leaves the old task untouched */
    uint8_t nt[0x68];
    e = guest_read_sys(m, d.base, nt, sizeof nt);
    if (e) return e;

    /* save the outgoing task's state */
    uint32_t old_base = c->tr.base;
    uint16_t old_sel = c->tr.sel;
    uint32_t fl = cpu_get_eflags(c);
    if (src == TASK_IRET) fl &= ~FL_NT;
    uint32_t regs[8];
    memcpy(regs, c->gpr, sizeof regs);
    e = guest_write_sys(m, old_base + TSS_EIP, &return_eip, 4);
    if (!e) e = guest_write_sys(m, old_base + TSS_EFLAGS, &fl, 4);
    if (!e) e = guest_write_sys(m, old_base + TSS_EAX, regs, sizeof regs);
    for (int s = 0; s < 6 && !e; s++) {
        uint32_t v = c->seg[s].sel;
        e = guest_write_sys(m, old_base + TSS_ES + 4u * (uint32_t)s, &v, 4);
    }
    if (e) return e;
    if (src == TASK_JMP || src == TASK_IRET) {
        e = set_busy(m, old_sel, false);
        if (e) return e;
    }
    if (src == TASK_CALL || src == TASK_INT) {
        uint32_t link = old_sel;
        e = guest_write_sys(m, d.base + TSS_LINK, &link, 4);
        if (e) return e;
    }
    if (src != TASK_IRET) {
        e = set_busy(m, sel, true);
        if (e) return e;
    }

    /* the switch itself: TR, then the new task's state */
    c->tr =
        (struct segcache){sel, d.base, d.limit, (uint16_t)((d.attr & ~DA_TYPE) | SYS_TSS32_BUSY)};
    uint32_t v32;
    memcpy(&v32, nt + TSS_CR3, 4);
    if (c->cr[0] & CR0_PG) {
        c->cr[3] = v32;
        machine_cr3_loaded(m);
    }
    memcpy(&v32, nt + TSS_EFLAGS, 4);
    if (src == TASK_CALL || src == TASK_INT) v32 |= FL_NT;
    cpu_set_eflags(c, v32 | 2);
    memcpy(&c->eip, nt + TSS_EIP, 4);
    memcpy(c->gpr, nt + TSS_EAX, 32);
    fpu_set_cr0(m, c->cr[0] | CR0_TS);
    /* LDT first: the segment selectors may refer to it */
    uint16_t ldt;
    memcpy(&ldt, nt + TSS_LDT, 2);
    c->ldtr = (struct segcache){0, 0, 0, 0};
    segmemo_flush(m);
    if (ldt & 0xfffc) {
        struct descriptor ld;
        if ((ldt & 4) || desc_read(m, ldt, &ld) || (ld.attr & DA_S) ||
            (ld.attr & DA_TYPE) != SYS_LDT)
            return fault(m, VEC_TS, ldt & 0xfffc);
        if (!(ld.attr & DA_P)) return fault(m, VEC_TS, ldt & 0xfffc);
        c->ldtr = (struct segcache){ldt, ld.base, ld.limit, ld.attr};
    }
    uint16_t sels[6];
    for (int s = 0; s < 6; s++)
        memcpy(&sels[s], nt + TSS_ES + 4 * s, 2);
    /* CS decides the CPL the other loads are checked against */
    e = load_task_seg(m, S_CS, sels[S_CS]);
    if (e) return e;
    static const int order[] = {S_SS, S_DS, S_ES, S_FS, S_GS};
    for (int i = 0; i < 5; i++) {
        e = load_task_seg(m, order[i], sels[order[i]]);
        if (e) return e;
    }
    m->stats.task_switches++;
    return 0;
}
