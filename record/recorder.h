/* Recording: every value that enters the CPU from outside is appended to the journal with
 * the instruction count at which it enters (hooks called by hostdriver/ioport.c,
 * hv/emulate.c and the monitor loop), so that replay can feed the same values at the same
 * instants. */
#ifndef RRVM_RECORD_RECORDER_H
#define RRVM_RECORD_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;
struct recorder;

struct trace_meta {
    const char *kernel_name;
    const char *cmdline;
    const char *clock;
    uint32_t ram_mb;
    uint64_t kernel_fnv64, kernel_size;
    const char *symbols; /* ELF file to embed for gdb, or NULL */
};

/* Starts recording m (already loaded, at its initial state) into path. */
struct recorder *recorder_start(struct machine *m, const char *path, const struct trace_meta *meta,
                                char *err, size_t errlen);
void journal_port_in(struct machine *m, uint16_t port, unsigned size, uint32_t value);
void journal_interrupt(struct machine *m, uint8_t vector);
void journal_tsc(struct machine *m, uint64_t value);
void journal_cr3(struct machine *m, uint32_t value);
/* A digest of the registers at the current icount, for replay to check. */
void journal_digest(struct machine *m);
/* True once a write failed (message in m->error). */
bool recorder_failed(const struct recorder *r);
/* Writes the end event (with the final digest) and closes the trace. */
int recorder_finish(struct machine *m, const char *reason, int exit_status, char *err,
                    size_t errlen);

/* The vCPU state as a CpuState message (arrays provided by the caller). */
struct Rrvm__CpuState;
void cpu_state_to_pb(const struct machine *m, struct Rrvm__CpuState *cs, uint32_t *gpr,
                     uint32_t *seg, uint32_t *cr);

/* Digests shared with replay. */
uint64_t machine_regs_digest(const struct machine *m);
uint64_t machine_full_digest(const struct machine *m);

#endif
