/* Exception and interrupt delivery through the IDT, IRET, and the double/triple-fault
 * rules (SDM Vol. 3A ch. 6). */
#ifndef RRVM_HV_EXCEPTIONS_H
#define RRVM_HV_EXCEPTIONS_H

#include <stdint.h>

struct machine;

enum event_kind {
    EV_EXCEPTION, /* detected by the CPU: error code for 8, 10-14, 17; eip = return address */
    EV_SOFTWARE,  /* INT n, INT3, INTO: gate DPL checked against CPL, no error code */
    EV_EXTERNAL,  /* a device interrupt: EXT set in any error code its delivery raises */
};

/* Delivers vector vec with cpu.eip already at the address to return to (the faulting
 * instruction for faults, the next one for traps and interrupts). The error code, where one
 * is pushed, is cpu.exc_error (cpu.pf_error for #PF). A fault during delivery becomes a
 * second exception, a double fault or a triple fault as the SDM's Table 6-5 says.
 * Returns 0 when the handler is entered, -1 on a triple fault (m->triple_fault set, report
 * in m->error) or a monitor error (m->error). */
int event_deliver(struct machine *m, int vec, enum event_kind kind);

/* IRET in protected mode (same level or to an outer level). Returns 0, vector + 1, or -1
 * for a monitor error (task return, virtual-8086 mode). */
int iret(struct machine *m, unsigned opsize);

const char *vector_mnemonic(int vec);
int vector_has_error_code(int vec);

#endif
