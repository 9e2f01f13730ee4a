/* GDB remote stub for replayed guests: `rrvm replay FILE --gdb-port PORT` serves stock gdb
 * over TCP on 127.0.0.1, `--gdb-pipe` over standard input/output (target remote | ...).
 * Forward: continue, stepi, software breakpoints (Z0/Z1, never written into guest memory),
 * Ctrl-C. Backward: reverse-stepi lands on icount-1 exactly; reverse-continue finds the
 * last breakpoint hit before now; both re-execute the trace from its start. */
#ifndef RRVM_GDBSERVER_GDBSTUB_H
#define RRVM_GDBSERVER_GDBSTUB_H

#include <stddef.h>

#include "hv/machine.h"

/* port > 0: TCP; else the protocol runs over in_fd/out_fd. Returns 0 when gdb detaches or
 * kills, -1 with a message in err if the trace or the socket cannot be opened. */
int gdbstub_serve_replay(const char *path, int port, int in_fd, int out_fd, char *err,
                         size_t errlen);

/* Live debugging (`rrvm run --gdb`, `rrvm record --gdb`): the guest is stopped until gdb
 * connects and continues it; no reverse execution. Returns 1 if gdb killed the guest, 0 if
 * it detached (*result: how the run ended, RUN_ICOUNT_LIMIT if the guest is still
 * running and should go on without gdb), -1 on a socket error. */
int gdbstub_serve_live(struct machine *m, int port, enum run_result *result, char *err,
                       size_t errlen);

#endif
