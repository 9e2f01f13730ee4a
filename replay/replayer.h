/* Replay: the CPU and RAM driven by a trace alone. No device model produces input: every
 * port read, TSC read and interrupt comes from the journal, at its recorded instruction
 * count; the guest's output (COM1 writes) is reproduced because the guest repeats them. */
#ifndef RRVM_REPLAY_REPLAYER_H
#define RRVM_REPLAY_REPLAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;
struct replayer;
struct trace_reader;

/* Opens path and builds the machine at the trace's initial state. */
struct machine *replay_open(const char *path, char *err, size_t errlen);
void replay_close(struct machine *m);

/* Hooks, called instead of the devices and the clock. A mismatch between what the guest
 * does and the journal sets a divergence (message in m->error). */
uint32_t replay_port_in(struct machine *m, uint16_t port, unsigned size);
uint64_t replay_tsc(struct machine *m);
/* A CR3 write: the journal's marker must match. */
void replay_cr3(struct machine *m, uint32_t value);
/* Handles the journal's events due at the current icount that the monitor must act on
 * before running the next instruction: an interrupt (returns its vector), a digest check,
 * the end. Returns -1 if nothing is due. */
int replay_due_interrupt(struct machine *m);
/* icount of the next event that must land between instructions (interrupt, digest, end),
 * or UINT64_MAX. */
uint64_t replay_next_stop(struct machine *m);

bool replay_diverged(const struct machine *m);
bool replay_at_end(const struct machine *m);
/* The recorded end: reason, exit status and final digest (valid once replay_at_end). */
const char *replay_end_reason(const struct machine *m);
int replay_end_status(const struct machine *m);
uint64_t replay_end_digest(const struct machine *m);
uint64_t replay_end_icount(const struct machine *m);

/* The journal position of the next event, for checkpoints, and going back to it. */
#include "formats/trace_file.h"
struct replay_pos {
    struct trace_pos at;
};
void replay_save(const struct machine *m, struct replay_pos *pos);
int replay_restore(struct machine *m, const struct replay_pos *pos, char *err, size_t errlen);

#endif
