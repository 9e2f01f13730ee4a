/* Protected-mode segmentation (SDM Vol. 3A ch. 3 and 5): descriptor tables, segment loads
 * with their privilege and type checks, far control transfers, and the system-table
 * instructions. Every function returns 0 or an exception vector + 1 with the error code in
 * cpu.exc_error, like the helpers do. */
#ifndef RRVM_HV_SEGMENTS_H
#define RRVM_HV_SEGMENTS_H

#include <stdbool.h>
#include <stdint.h>

struct machine;
struct insn;

/* Descriptor attribute bits as kept in segcache.attr (descriptor bytes 5-6, limit bits
 * masked out). */
#define DA_TYPE 0x000f
#define DA_S 0x0010 /* code/data (1) or system (0) */
#define DA_DPL(a) (((a) >> 5) & 3)
#define DA_P 0x0080
#define DA_DB 0x4000
#define DA_G 0x8000
#define DT_CODE 0x8       /* with DA_S: executable */
#define DT_CONFORMING 0x4 /* code */
#define DT_READABLE 0x2   /* code */
#define DT_EXPDOWN 0x4    /* data */
#define DT_WRITABLE 0x2   /* data */
#define DT_ACCESSED 0x1

/* System descriptor types (S = 0). */
enum {
    SYS_TSS16_AVAIL = 1,
    SYS_LDT = 2,
    SYS_TSS16_BUSY = 3,
    SYS_CALLGATE16 = 4,
    SYS_TASKGATE = 5,
    SYS_INTGATE16 = 6,
    SYS_TRAPGATE16 = 7,
    SYS_TSS32_AVAIL = 9,
    SYS_TSS32_BUSY = 11,
    SYS_CALLGATE32 = 12,
    SYS_INTGATE32 = 14,
    SYS_TRAPGATE32 = 15,
};

struct descriptor {
    uint32_t lo, hi;
    uint32_t base, limit; /* limit scaled by G */
    uint16_t attr;
};

void desc_decode(struct descriptor *d);
/* Reads the descriptor for sel from the GDT or LDT. #GP(sel) if outside the table. */
int desc_read(struct machine *m, uint16_t sel, struct descriptor *d);
/* Sets the accessed bit of sel's descriptor in memory (if clear). */
int desc_set_accessed(struct machine *m, uint16_t sel, struct descriptor *d);

/* MOV/POP/LxS into a data or stack segment register, with all checks. */
int segment_load(struct machine *m, int sreg, uint16_t sel);
/* Loads CS with an already checked descriptor and makes its RPL the CPL. */
void segment_load_cs(struct machine *m, uint16_t sel, const struct descriptor *d, unsigned cpl);
/* Forgets every memoized segment load (hv/cpu.h struct segmemo): the descriptor tables
 * moved (LGDT, LLDT, task switch) or the whole CPU state was replaced. */
void segmemo_flush(struct machine *m);
/* Sets the CPL and the linear view translated code uses. */
void cpu_set_cpl(struct machine *m, unsigned cpl);

/* Reads SS:ESP for privilege level pl from the TSS and checks SS (#TS/#SS). */
int stack_switch_inner(struct machine *m, unsigned pl, uint16_t *ss, uint32_t *esp,
                       struct descriptor *ssd);
void segment_set_ss(struct machine *m, uint16_t sel, const struct descriptor *d);

/* Checks of a far RET/IRET: the code segment returned to, and the stack segment of a
 * return to an outer level. 0 or vector + 1. */
int return_cs_check(struct machine *m, uint16_t sel, struct descriptor *d);
int return_ss_check(struct machine *m, uint16_t ss, unsigned rpl, struct descriptor *d);

/* Far JMP, far CALL and far RET (RETF imm16) in protected mode, with call gates. */
int far_jmp(struct machine *m, uint16_t sel, uint32_t off, uint32_t next_eip);
int far_call(struct machine *m, uint16_t sel, uint32_t off, uint32_t next_eip, unsigned opsize);
int far_ret(struct machine *m, uint16_t pop_bytes, unsigned opsize);

/* LGDT LIDT SGDT SIDT LLDT LTR SLDT STR LAR LSL VERR VERW LMSW SMSW CLTS; returns -2 if in is
 * none of them. */
int emulate_system_insn(struct machine *m, const struct insn *in);

/* A segment register reset to a null selector after a return to an outer privilege level
 * when its DPL is below the new CPL (SDM Vol. 2A RET/IRET). */
void segment_null_if_inaccessible(struct machine *m, int sreg);

#endif
