/* The rrvm PC: guest RAM, the vCPU, devices and the monitor's translation state. */
#ifndef RRVM_HV_MACHINE_H
#define RRVM_HV_MACHINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hv/cpu.h"
#include "hv/mmu.h"
#include "hostdriver/acpi_pm.h"
#include "hostdriver/console.h"
#include "hostdriver/i8042.h"
#include "hostdriver/pic8259.h"
#include "hostdriver/pit8254.h"
#include "hostdriver/rtc146818.h"
#include "hostdriver/uart16550.h"
#include "hv/clock.h"

/* Exception vectors (SDM Vol. 3A §6.3.1). */
enum {
    VEC_DE = 0,
    VEC_DB = 1,
    VEC_BP = 3,
    VEC_OF = 4,
    VEC_BR = 5,
    VEC_UD = 6,
    VEC_NM = 7,
    VEC_DF = 8,
    VEC_TS = 10,
    VEC_NP = 11,
    VEC_SS = 12,
    VEC_GP = 13,
    VEC_PF = 14,
    VEC_MF = 16,
    VEC_AC = 17,
};

/* Why machine_run() returned. */
enum run_result {
    RUN_EXIT_DEVICE,   /* guest wrote to isa-debug-exit: status in machine.exit_status */
    RUN_ICOUNT_LIMIT,  /* --icount-limit reached */
    RUN_GUEST_FAULT,   /* triple fault: machine.fault_* describe the first exception */
    RUN_HALTED,        /* halted and nothing can ever wake the guest */
    RUN_USER_QUIT,     /* Ctrl-A x on the console */
    RUN_RESET,         /* the guest asked for a reset (i8042, or a triple fault with reset) */
    RUN_STOP_REQUEST,  /* SIGINT/SIGTERM to rrvm (machine.stop_requested) */
    RUN_DIVERGED,      /* replay: the guest left the recorded path (machine.error) */
    RUN_REPLAY_END,    /* replay: the trace's end was reached */
    RUN_BREAKPOINT,    /* a debugger breakpoint at cpu.eip (not yet executed) */
    RUN_WATCH,         /* a debugger watchpoint's page was touched (machine.watch_*) */
    RUN_MONITOR_ERROR, /* monitor could not continue (message in machine.error) */
    RUN_POWER_OFF,     /* the guest entered ACPI S5 (soft off) through PM1a_CNT */
};

struct run_stats {
    uint64_t blocks_translated;
    uint64_t blocks_revived; /* killed CCFs brought back because their bytes were unchanged */
    uint64_t tc_bytes_used;
    uint64_t tc_flushes;
    uint64_t chained_exits; /* direct branches patched to jump CCF->CCF */
    uint64_t exits[EXIT_COUNT];
    uint64_t callouts_io;
    uint64_t callouts_priv;
    uint64_t callouts_helper;
    uint64_t inline_calls;          /* callouts run from inside a CCF (ccf_inline_insn) */
    uint64_t tlb_misses;            /* host faults that mapped a page into a linear view */
    uint64_t tlb_prefills;          /* pages mapped before the access (prefill_access) */
    uint64_t invalidations;         /* CCFs thrown away because their code page was written */
    uint64_t insns_translated_code; /* executed guest instructions run as host code */
    uint64_t insns_helpers;         /* executed guest instructions run by C helpers */
    uint64_t events_delivered;      /* exceptions and interrupts delivered through the IDT */
    uint64_t irqs;                  /* of which device interrupts */
    uint64_t cr3_writes;
    uint64_t tlb_flushes;
    uint64_t halts;
    uint64_t task_switches;
    uint64_t events_recorded;
};

struct tc;
struct recorder;
struct replayer;

struct machine {
    uint8_t *ram; /* guest-physical 0 .. ram_size-1, inside a 4 GiB + guard reservation */
    uint32_t ram_size;
    struct cpu cpu;

    struct uart16550 com1;
    FILE *serial_out;
    struct pic8259 pic;
    struct pit8254 pit;
    struct rtc146818 rtc;
    struct i8042 kbc;
    uint8_t port61;       /* system control port B: bit 0 PIT gate 2, bit 1 speaker data */
    uint32_t pci_address; /* last value written to 0xCF8 */
    /* ACPI PM1 registers and PM timer (hostdriver/acpi_pm.h), and the reset control
     * register at 0xCF9 (the FADT's RESET_REG, hostdriver/ioport.c) */
    struct acpi_pm acpi_pm;
    uint8_t reset_control;
    struct console console;
    bool console_open;
    uint8_t input[256]; /* terminal bytes not yet taken by the UART */
    unsigned input_len;
    uint64_t input_polled_ns;
    bool devices_dirty;      /* a port was accessed since devices_update */
    uint64_t next_device_ns; /* devices_update's answer: when a device next needs time */
    struct {
        enum clock_mode mode;
        uint64_t host_base, idle_ns, tsc_offset;
    } clock;
    uint64_t irq_shadow; /* icount at which interrupts are still inhibited (STI, MOV SS) */
    bool halted;         /* HLT with IF=1: waiting for an interrupt */
    bool triple_fault;
    bool reset_on_triple_fault;
    bool reset_requested;
    /* SLP_EN written with SLP_TYP = S5 (ACPI soft off): machine_run returns RUN_POWER_OFF */
    bool power_off_requested;
    int fetch_fault; /* vector + 1 when translate_block could not fetch eip */
    /* per instruction (eip + 1, direct-mapped): how many times in a row its data page was
     * mapped into a view again (hv/monitor.c note_refill); past a threshold the instruction
     * joins the TC's soft-access set */
    struct {
        uint32_t eip1, vpn, count;
    } churn[256];
    uint32_t soft_kill_ppn; /* code frame + 1 to retranslate for a new soft instruction */
    /* eips (+ 1) from which prefill_access found nothing to map, with the TC state they
     * hold for (tc.soft_gen, TC flushes, invalidations): not decoded again */
    struct {
        uint32_t eip1, soft_gen;
        uint64_t flushes, invalidations;
    } noprefill[64];
    uint32_t prefill_eip;   /* an instruction about to run again after a #PF or INVLPG that
                               took its page out of the view (hv/monitor.c prefill_access);
                               UINT32_MAX = none */
    bool soft_int_retired;  /* INT n counted and eip advanced, its delivery under way */
    uint32_t soft_int_eip;  /* where that INT n is */
    uint64_t idle_limit_ns; /* halted longer than this (guest time) ends the run; 0 = never */
    uint64_t halted_since_ns;

    struct tc *tc;
    struct mmu mmu; /* paging and the linear views translated code accesses memory through */
    /* data-segment loads translated code may repeat by itself, per CPL and kind (hv/cpu.h) */
    struct segmemo segmemo[4][SEGMEMO_KINDS][SEGMEMO_ENTRIES];
    uint8_t *code_pages; /* per guest-physical page: number of CCFs translated from it (sat.) */

    uint64_t icount_limit; /* 0 = none */
    int max_block_insns;   /* translator block-size cap (1 = single-step blocks) */

    bool exited;
    bool nonflat_segment; /* CS/DS/ES/SS loaded with a base or limit the translator ignores */
    int exit_status;

    /* Unhandled guest exception (until IDT delivery exists). */
    int fault_vector;
    uint32_t fault_eip;
    uint64_t fault_icount;
    uint32_t fault_error_code;

    struct recorder *rec; /* recording: inputs go to the journal (record/) */
    struct replayer *rep; /* replaying: inputs come from the journal (replay/) */
    volatile int stop_requested;
    /* debugger breakpoints: a block never contains one except as its first instruction,
     * no jump is chained to one, and the loop stops before running it */
    uint32_t breakpoints[64];
    int nbreakpoints;
    bool bp_off;             /* breakpoints ignored (the debugger moves to an instant) */
    uint32_t bp_skip_eip;    /* resume: do not stop again at this eip ... */
    uint64_t bp_skip_icount; /* ... at this icount */
    /* debugger watchpoints on linear addresses. Their pages are kept inaccessible in both
     * views, so translated code touching them faults: machine_run returns RUN_WATCH with
     * the state precise before that instruction and watch_touched 0 (the debugger runs it
     * alone with watch_suspended set and compares). Accesses the monitor makes for the
     * guest (helpers, callouts, event delivery) are checked byte-exactly instead: a match
     * sets bit i of watch_touched and RUN_WATCH comes after the instruction or event. */
    struct machine_watch {
        uint32_t addr, len;
        uint8_t type; /* 2 write, 3 read, 4 access (the Z packet numbers) */
    } watch[4];
    int nwatch;
    bool watch_suspended;
    bool watch_trap;               /* set by the fault path: return RUN_WATCH */
    uint32_t watch_touched;        /* monitor-side accesses that matched, bit per watch */
    uint64_t watch_touched_icount; /* icount when the first of them happened */

    char error[256];
    struct run_stats stats;
};

/* Creates a machine with ram_mb MiB of zeroed guest RAM. Returns NULL with a message in err. */
struct machine *machine_create(uint32_t ram_mb, char *err, size_t errlen);
/* Powers the devices on with guest time starting now (host clock or virtual), the RTC
 * reading epoch_s (UTC seconds) at that moment. */
void machine_power_on(struct machine *m, enum clock_mode mode, int64_t epoch_s);
void machine_destroy(struct machine *m);

/* Runs the guest until it exits, faults, halts for good or reaches icount_limit. */
enum run_result machine_run(struct machine *m);

/* Guest linear-memory access for helpers and the monitor, through the guest's paging with
 * the privilege of the current CPL (explicit accesses). Returns 0, or an exception vector
 * + 1 if the access must fault (#PF: CR2 and cpu.pf_error set; nothing is written). Reads
 * outside RAM return all ones; writes outside RAM are dropped, as on an unassigned bus. */
int guest_read(struct machine *m, uint32_t lin, void *buf, unsigned len);
int guest_write(struct machine *m, uint32_t lin, const void *buf, unsigned len);
/* The same as supervisor-mode implicit accesses (descriptor tables, TSS, IDT delivery). */
int guest_read_sys(struct machine *m, uint32_t lin, void *buf, unsigned len);
int guest_write_sys(struct machine *m, uint32_t lin, const void *buf, unsigned len);
/* Guest-physical stores by the monitor and devices (invalidate translated code). */
void guest_phys_write(struct machine *m, uint32_t pa, const void *buf, unsigned len);

/* Port I/O dispatch (hostdriver/ioport.c). */
uint32_t ioport_read(struct machine *m, uint16_t port, unsigned size);
void ioport_write(struct machine *m, uint16_t port, unsigned size, uint32_t value);
/* Brings device time up to now: timer edges and line levels into the PIC, terminal input
 * into the UART. Returns the next time a device may raise an interrupt by itself. */
uint64_t devices_update(struct machine *m);

/* The guest's address translation changed: drop host view mappings (all but global ones
 * if keep_global), and translated-code links that depended on them. */
void machine_tlb_flush(struct machine *m, bool keep_global);
void machine_tlb_flush_page(struct machine *m, uint32_t lin);
/* CR3 was loaded (MOV CR3 or a task switch): non-global translations go (SDM Vol. 3A
 * §4.10.4.1), as far as the guest can tell. */
void machine_cr3_loaded(struct machine *m);
/* Opens the terminal on fd 0 for COM1 input (raw mode on a tty). */
void machine_attach_console(struct machine *m);

void machine_print_stats(const struct machine *m, FILE *out);
bool machine_is_breakpoint(const struct machine *m, uint32_t eip);
/* Breakpoints change what may be chained and where blocks end: the TC is flushed. */
bool machine_set_breakpoint(struct machine *m, uint32_t eip, bool on);
/* Replaces the debugger watchpoints (n <= 4) and protects their pages. */
void machine_set_watches(struct machine *m, const struct machine_watch *w, int n);
/* Runs with the watched pages accessible (on) or protects them again (off). */
void machine_suspend_watches(struct machine *m, bool on);

#endif
