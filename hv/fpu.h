/* The guest x87 FPU: state lives in the host FPU (x87 arithmetic is translated IDENT); the
 * monitor handles the state-image instructions and #NM. */
#ifndef RRVM_HV_FPU_H
#define RRVM_HV_FPU_H

#include <stdbool.h>
#include <stdint.h>

struct machine;
struct insn;

/* FNINIT of the host FPU, which holds the guest's x87 state (power-on). */
void fpu_reset(void);
bool fpu_is_x87(const struct insn *in);
/* FNSAVE FRSTOR FNSTENV FLDENV FXSAVE FXRSTOR: always emulated by the monitor. */
bool fpu_is_state_insn(const struct insn *in);
/* Emulates an x87/FXSR instruction that reached the monitor: #NM when CR0.EM/TS (or MP+TS
 * for WAIT) say so, or a state-image instruction. Returns 0, vector + 1, -1 (monitor error),
 * -2 (not an FPU instruction) or -3 (an ordinary x87 instruction: run it translated). */
int fpu_emulate(struct machine *m, const struct insn *in);
/* Sets CR0. x87 instructions are translated according to CR0.EM/TS/MP (#NM or not), so a
 * change of those bits drops every translation. Every guest write of CR0 goes through here
 * (MOV CR0, LMSW, CLTS, task switch). */
void fpu_set_cr0(struct machine *m, uint32_t cr0);

#endif
