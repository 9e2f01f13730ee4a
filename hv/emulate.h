/* Trap-and-emulate of privileged and sensitive guest instructions (hv/emulate.c). */
#ifndef RRVM_HV_EMULATE_H
#define RRVM_HV_EMULATE_H

#include <stdint.h>

struct machine;
struct insn;

enum emu_stop {
    EMU_CONTINUE, /* retired: the caller counts it in icount */
    EMU_COUNTED,  /* retired and already counted (INT n: counted before its handler runs) */
    EMU_WAIT_IRQ, /* HLT with interrupts enabled: wait for the next interrupt */
    EMU_HALTED,   /* HLT with interrupts disabled: nothing can wake the guest */
};

/* Fetches and decodes the instruction at linear eip through the guest's paging (an
 * instruction fetch at the current CPL). Returns 0, VEC_PF + 1 or VEC_UD + 1. */
int fetch_insn(struct machine *m, uint32_t eip, struct insn *in);

/* Emulates the instruction at cpu.eip. Returns 0 when it retired (see *stop), a vector + 1
 * for a guest exception (error code in cpu.exc_error), or -1 for a monitor error
 * (message in m->error). */
int emulate_insn(struct machine *m, enum emu_stop *stop);
/* The same with the instruction already decoded (pre->eip == cpu.eip). */
int emulate_decoded(struct machine *m, const struct insn *pre, enum emu_stop *stop);

#endif
