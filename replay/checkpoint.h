/* Checkpoints of a replay: the vCPU, the x87 state, the nonzero RAM pages and the journal
 * position at an instant, so that reverse execution re-executes from the nearest earlier
 * checkpoint instead of from the start of the trace. */
#ifndef RRVM_REPLAY_CHECKPOINT_H
#define RRVM_REPLAY_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "hv/machine.h"
#include "replay/replayer.h"

struct checkpoint {
    uint64_t icount;
    struct cpu cpu;
    uint64_t irq_shadow;
    bool halted;
    uint8_t fpu[108]; /* FNSAVE image of the guest x87 state */
    struct replay_pos rpos;
    uint32_t npages;
    uint32_t *pageno;
    uint8_t *pages;
    size_t bytes; /* memory this checkpoint holds */
};

/* Takes a checkpoint of a replaying machine. NULL if out of memory. */
struct checkpoint *checkpoint_take(struct machine *m);
/* Puts the machine back to the checkpoint's instant. */
int checkpoint_restore(struct machine *m, const struct checkpoint *c, char *err, size_t errlen);
void checkpoint_free(struct checkpoint *c);

#endif
