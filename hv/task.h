/* Hardware task switching (SDM Vol. 3A ch. 7). */
#ifndef RRVM_HV_TASK_H
#define RRVM_HV_TASK_H

#include <stdint.h>

struct machine;

enum task_source { TASK_JMP, TASK_CALL, TASK_INT, TASK_IRET };

/* Switches to the task whose TSS selector is sel; the outgoing task resumes at return_eip.
 * Returns 0, a vector + 1 (error code in cpu.exc_error), or -1 (monitor error). */
int task_switch(struct machine *m, uint16_t sel, enum task_source src, uint32_t return_eip);

#endif
