/* C reference semantics for guest instructions the translator does not emit inline
 * (the rare and the complex). Each helper works on m->cpu and guest memory through
 * guest_read/guest_write, and either completes the instruction or changes nothing. */
#ifndef RRVM_TRANSLATE_HELPERS_H
#define RRVM_TRANSLATE_HELPERS_H

#include <stdbool.h>

#include "hv/machine.h"
#include "translate/decode.h"

/* Where the SDM leaves behaviour implementation-specific (undefined flags of the BCD
 * instructions, PUSH Sreg with a 32-bit operand size) Intel and AMD differ. The default
 * follows Intel (P6 family and later, as characterised by Bochs "validated against Intel"
 * hardware, and the SDM's note on PUSH); define RRVM_HELPERS_AMD_MODEL=1 to get what AMD
 * Zen hardware produces instead (checked against an AMD EPYC host). Defined flags and
 * results are identical in both modes. */
#ifndef RRVM_HELPERS_AMD_MODEL
#define RRVM_HELPERS_AMD_MODEL 0
#endif

#define HELPER_OK 0
#define HELPER_UNSUPPORTED (-1)
/* Any positive return is a guest exception: vector + 1. */

/* True if a C helper implements this mnemonic. */
bool helper_supports(ZydisMnemonic mnemonic);

/* Executes in (decoded at m->cpu.eip). On HELPER_OK the instruction has retired: registers,
 * flags, memory and eip (next instruction or branch target) are updated. On an exception
 * nothing architectural has changed. The caller counts the instruction in icount. */
int helper_exec(struct machine *m, const struct insn *in);

/* Linear address of a memory operand of in: effective address (16-bit forms wrap at
 * 64 KiB) plus the base of its segment. */
uint32_t helper_mem_ea(const struct cpu *c, const struct insn *in, const ZydisDecodedOperand *op);

/* The CPU model's CPUID leaf (EAX EBX ECX EDX), also recorded in traces. */
void cpuid_leaf(uint32_t leaf, uint32_t out[4]);

#endif
