/* Guest basic block -> compiled code fragment (CCF). */
#ifndef RRVM_TRANSLATE_TRANSLATE_H
#define RRVM_TRANSLATE_TRANSLATE_H

#include <stdbool.h>
#include <stdint.h>

#include "translate/tc.h"

struct machine;

/* How the translator carries a guest instruction (decided once, by mnemonic + form). */
enum tclass {
    TC_IDENT,   /* re-encoded as itself with registers/memory operands rewritten */
    TC_NOP,     /* no host code at all */
    TC_STACK,   /* push/pop/leave: inline, through the soft TLB */
    TC_BRANCH,  /* jmp/jcc/call/ret/loop/jecxz: inline with chaining or the jump cache */
    TC_STRING,  /* movs/stos/lods/cmps/scas (+rep), 32-bit addresses: inline loop */
    TC_HELPER,  /* C helper (translate/helpers.c): ends the block with a callout */
    TC_EMULATE, /* privileged/sensitive/I/O: monitor emulation, ends the block */
    TC_INLINE,  /* a helper or a segment-register load called from inside the block
                 * (ccf_inline_call in hv/ccf_switch.S); the block goes on after it */
};

/* Translates the block at eip. oneshot: at most one instruction, into the scratch area,
 * not registered in the TC (used to land on an exact icount and to step a store that
 * modifies its own page). Returns NULL with m->error set if nothing can be translated. */
struct ccf *translate_block(struct machine *m, uint32_t eip, bool oneshot);

#endif
