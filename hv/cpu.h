/* The guest vCPU state (the "cross page" shared by the monitor and translated code).
 *
 * Translated code (CCFs) keeps the guest's general registers in host registers while it
 * runs (see docs/ARCHITECTURE.md, "Register mapping"); this struct holds them whenever
 * control is in the monitor. The first part of the layout is fixed because the world-switch
 * assembly (hv/ccf_switch.S) and the emitter address it by offset: CPU_OFF_* below are
 * checked against offsetof() at compile time.
 */
#ifndef RRVM_HV_CPU_H
#define RRVM_HV_CPU_H

/* Offsets used from assembly and from emitted code. */
#define CPU_OFF_GPR 0          /* uint32_t gpr[8] */
#define CPU_OFF_EIP 32         /* uint32_t eip */
#define CPU_OFF_EFLAGS 36      /* uint32_t eflags (architectural) */
#define CPU_OFF_HOSTFLAGS 40   /* uint64_t host RFLAGS image (arith flags + DF) */
#define CPU_OFF_BUDGET 48      /* int64_t budget (host r11 while in a CCF) */
#define CPU_OFF_HOST_RSP 56    /* uint64_t monitor stack pointer at entry */
#define CPU_OFF_EXIT_REASON 64 /* uint32_t exit reason (enum ccf_exit) */
#define CPU_OFF_EXIT_AUX 68    /* uint32_t exit detail */
#define CPU_OFF_EXIT_SITE 72   /* uint64_t host address of the jump to patch (chaining) */
#define CPU_OFF_VIEW 80        /* uint64_t host base of the current linear view (hv/mmu.h) */
#define CPU_OFF_JCACHE 88      /* uint64_t host address of the indirect-branch cache */
#define CPU_OFF_SEGMEMO 96     /* uint64_t host address of this CPL's segment-load memo */

/* Layout of one segment-load memo entry (struct segmemo), for emitted code. */
#define SEGMEMO_ENTRIES 256 /* per CPL and kind, indexed by the selector's low byte */
#define SEGMEMO_KINDS 2     /* 0: DS/ES (flat descriptors only), 1: FS/GS */
#define SEGMEMO_SIZE 64
#define SEGMEMO_OFF_NEG_KEY 0
#define SEGMEMO_OFF_DESC 8
#define SEGMEMO_OFF_NEG_RAW 16
#define SEGMEMO_OFF_CACHE 24

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

enum gpr { R_EAX, R_ECX, R_EDX, R_EBX, R_ESP, R_EBP, R_ESI, R_EDI };
enum sreg { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS };

/* EFLAGS bits (SDM Vol. 1 §3.4.3). */
#define FL_CF 0x0001u
#define FL_PF 0x0004u
#define FL_AF 0x0010u
#define FL_ZF 0x0040u
#define FL_SF 0x0080u
#define FL_TF 0x0100u
#define FL_IF 0x0200u
#define FL_DF 0x0400u
#define FL_OF 0x0800u
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)
/* Bits that live in host RFLAGS while a CCF runs; all others stay in cpu.eflags. */
#define FL_HOSTMASK (FL_ARITH | FL_DF)
#define FL_IOPL 0x3000u
#define FL_NT 0x4000u
#define FL_RF 0x10000u
#define FL_VM 0x20000u
#define FL_AC 0x40000u
#define FL_ID 0x200000u

#define CR0_PE 0x00000001u
#define CR0_MP 0x00000002u
#define CR0_EM 0x00000004u
#define CR0_TS 0x00000008u
#define CR0_ET 0x00000010u
#define CR0_NE 0x00000020u
#define CR0_WP 0x00010000u
#define CR0_AM 0x00040000u
#define CR0_NW 0x20000000u
#define CR0_CD 0x40000000u
#define CR0_PG 0x80000000u
#define CR4_VME 0x001u
#define CR4_PVI 0x002u
#define CR4_TSD 0x004u
#define CR4_DE 0x008u
#define CR4_PSE 0x010u
#define CR4_PGE 0x080u
#define CR4_OSFXSR 0x200u
#define MISC_ENABLE_FAST_STRINGS 0x1u /* IA32_MISC_ENABLE bit 0 */

/* Exit reasons a CCF reports to the monitor loop. */
enum ccf_exit {
    EXIT_NONE = 0,
    EXIT_CHAIN,    /* direct branch to an untranslated/unchained target: eip = target */
    EXIT_INDIRECT, /* indirect branch missed the inline cache: eip = target */
    EXIT_BUDGET,   /* instruction budget exhausted: eip = next instruction */
    EXIT_EMULATE,  /* instruction at eip must be emulated by the monitor */
    EXIT_SMC,      /* a store hit translated code: eip = next instruction */
    EXIT_INLINE,   /* an instruction called inline ended the CCF: exit_aux = 0 (it retired),
                    * vector + 1 (it raised that exception at eip), or UINT32_MAX (monitor
                    * error) */
    EXIT_COUNT
};

struct segcache {
    uint16_t sel;
    uint32_t base;
    uint32_t limit;
    uint16_t attr; /* descriptor type/DPL/P/DB/G bits, as in the descriptor's bytes 5-6 */
};

struct cpu {
    uint32_t gpr[8];
    uint32_t eip;
    uint32_t eflags;
    uint64_t hostflags;
    int64_t budget;
    uint64_t host_rsp;
    uint32_t exit_reason;
    uint32_t exit_aux;
    uint64_t exit_site;
    uint64_t view;
    uint64_t jcache;
    uint64_t segmemo;
    /* ---- end of the fixed-layout part ---- */
    struct segcache seg[6];
    struct segcache ldtr, tr;
    struct {
        uint32_t base;
        uint16_t limit;
    } gdtr, idtr;
    uint32_t cr[5];
    uint32_t dr[8];
    unsigned cpl;
    uint32_t pf_error;  /* error code of the last #PF raised by the MMU */
    uint32_t exc_error; /* error code of the exception being raised (#GP, #TS, ...) */
    uint32_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t icount;      /* retired guest instructions (REP: one per iteration) */
    uint64_t misc_enable; /* IA32_MISC_ENABLE (MSR 0x1A0) */
    int64_t budget_start; /* budget when the running CCF was entered (inline calls use it to
                           * know the precise icount) */
};

_Static_assert(offsetof(struct cpu, gpr) == CPU_OFF_GPR, "layout");
_Static_assert(offsetof(struct cpu, eip) == CPU_OFF_EIP, "layout");
_Static_assert(offsetof(struct cpu, eflags) == CPU_OFF_EFLAGS, "layout");
_Static_assert(offsetof(struct cpu, hostflags) == CPU_OFF_HOSTFLAGS, "layout");
_Static_assert(offsetof(struct cpu, budget) == CPU_OFF_BUDGET, "layout");
_Static_assert(offsetof(struct cpu, host_rsp) == CPU_OFF_HOST_RSP, "layout");
_Static_assert(offsetof(struct cpu, exit_reason) == CPU_OFF_EXIT_REASON, "layout");
_Static_assert(offsetof(struct cpu, exit_aux) == CPU_OFF_EXIT_AUX, "layout");
_Static_assert(offsetof(struct cpu, exit_site) == CPU_OFF_EXIT_SITE, "layout");
_Static_assert(offsetof(struct cpu, view) == CPU_OFF_VIEW, "layout");
_Static_assert(offsetof(struct cpu, jcache) == CPU_OFF_JCACHE, "layout");
_Static_assert(offsetof(struct cpu, segmemo) == CPU_OFF_SEGMEMO, "layout");

/* One data-segment load that passed its checks (hv/segments.c segmemo_note). Translated
 * code loads DS/ES/FS/GS itself when the selector matches an entry of the current CPL and
 * the descriptor's eight bytes in memory are still the ones the checks passed on (read
 * through the supervisor view, so paging changes are seen as the guest sees them); any
 * other case goes to the monitor's segment_load. Entries are dropped when the descriptor
 * tables move (LGDT, LLDT, task switch, state restore): segmemo_flush. */
struct segmemo {
    int64_t neg_key;       /* -(selector | 0x10000); 0: empty */
    uint64_t desc_host;    /* host address of the descriptor in the supervisor view */
    int64_t neg_raw;       /* -(the descriptor's eight bytes, accessed bit set) */
    struct segcache cache; /* what the load puts into the segment register */
    uint64_t pad[3];
};
_Static_assert(sizeof(struct segmemo) == SEGMEMO_SIZE, "layout");
/* The memo table a load into sreg uses: FS/GS may have any base, DS/ES only flat ones. */
static inline int segmemo_kind(int sreg) {
    return (sreg == S_FS || sreg == S_GS) ? 1 : 0;
}
_Static_assert(offsetof(struct segmemo, neg_key) == SEGMEMO_OFF_NEG_KEY, "layout");
_Static_assert(offsetof(struct segmemo, desc_host) == SEGMEMO_OFF_DESC, "layout");
_Static_assert(offsetof(struct segmemo, neg_raw) == SEGMEMO_OFF_NEG_RAW, "layout");
_Static_assert(offsetof(struct segmemo, cache) == SEGMEMO_OFF_CACHE, "layout");
_Static_assert(sizeof(struct segcache) == 16, "layout");

/* Architectural EFLAGS from the monitor-side copy (bit 1 always reads as 1). */
static inline uint32_t cpu_get_eflags(const struct cpu *c) {
    return c->eflags | 0x2u;
}
static inline void cpu_set_eflags(struct cpu *c, uint32_t v) {
    c->eflags = (v & 0x003f7fd5u) | 0x2u;
}

#endif /* __ASSEMBLER__ */
#endif
