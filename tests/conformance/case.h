/* Binary records exchanged between conformance (64-bit) and native_runner (32-bit).
 * Only fixed-size fields with natural alignment, so both ABIs agree on the layout. */
#ifndef RRVM_CONFORMANCE_CASE_H
#define RRVM_CONFORMANCE_CASE_H

#include <stdint.h>

#define CONF_DATA_ADDR 0x00200000u /* 64 KiB data area (flat, read/write) */
#define CONF_CODE_AREA 0x00300000u /* 64 KiB code area (RWX) */
/* The instruction sits in the middle of the code area so that backward branches have room. */
#define CONF_CODE_ADDR 0x00308000u
#define CONF_AREA_SIZE 0x10000u
/* The part of the data area a case initializes and that is compared byte by byte; the rest
 * of the data area starts zeroed and must stay zeroed. */
#define CONF_WIN_ADDR 0x00207f00u
#define CONF_WIN_SIZE 512u
#define CONF_STUB_SPACE 16u /* bytes the native exit stub needs at a landing address */

#define CONF_FAULT_NONE (-1)
#define CONF_FAULT_OTHER 255 /* SIGSEGV, SIGBUS, SIGTRAP... (native cannot tell #GP from #PF) */

struct conf_case {
    uint32_t regs[8]; /* eax ecx edx ebx esp ebp esi edi */
    uint32_t eflags;  /* arithmetic flags + DF */
    uint32_t target;  /* second landing address for control transfers, 0 = none */
    uint32_t len;     /* instruction length */
    uint8_t code[16];
    uint8_t data[CONF_WIN_SIZE];
};

struct conf_result {
    uint32_t regs[8];
    uint32_t eflags;
    uint32_t eip;           /* landing address, or the faulting eip */
    int32_t fault;          /* CONF_FAULT_NONE, a vector (0 = #DE, 6 = #UD) or CONF_FAULT_OTHER */
    uint32_t outside_dirty; /* nonzero if data outside the window changed */
    uint8_t data[CONF_WIN_SIZE];
};

#endif
