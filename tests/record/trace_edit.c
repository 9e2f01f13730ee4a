/* trace_edit IN OUT MODE: rewrites a trace with one event altered and valid checksums (a
 * forgery the chunk checksums cannot see), for the test that replay still notices:
 *   irq-late   the first interrupt arrives 3 instructions later
 *   irq-vector the first interrupt comes with the next vector (IRQ1 instead of IRQ0)
 *   v1         nothing altered: the same trace written in format version 1 (absolute
 *              icounts and TSC values), for the test that older traces still replay */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/trace_file.h"

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: trace_edit IN OUT irq-late|irq-vector|v1\n");
        return 2;
    }
    char err[400];
    struct trace_reader *r = trace_reader_open(argv[1], err, sizeof err);
    if (!r) {
        fprintf(stderr, "trace_edit: %s\n", err);
        return 1;
    }
    const Rrvm__TraceHeader *h = trace_reader_header(r);
    uint32_t ram_size = h->ram_mb << 20;
    uint8_t *ram = calloc(1, ram_size);
    trace_reader_ram(r, ram, ram_size);
    struct trace_writer *w =
        trace_writer_open(argv[2], h, trace_reader_cpu(r), ram, ram_size, NULL, err, sizeof err);
    if (!w) {
        fprintf(stderr, "trace_edit: %s\n", err);
        return 1;
    }
    bool irq = !strcmp(argv[3], "irq-late");
    bool v1 = !strcmp(argv[3], "v1");
    if (v1 && trace_writer_set_version(w, 1, err, sizeof err) != 0) {
        fprintf(stderr, "trace_edit: %s\n", err);
        return 1;
    }
    int done = v1;
    Rrvm__Event *ev;
    while (trace_reader_next(r, &ev, err, sizeof err) == 1) {
        if (!done && irq && ev->kind_case == RRVM__EVENT__KIND_INTERRUPT) {
            ev->icount += 3;
            done = 1;
        } else if (!done && !irq && ev->kind_case == RRVM__EVENT__KIND_INTERRUPT) {
            ev->interrupt->vector += 1;
            done = 1;
        }
        if (trace_writer_event(w, ev, err, sizeof err) != 0) {
            fprintf(stderr, "trace_edit: %s\n", err);
            return 1;
        }
    }
    if (trace_writer_close(w, err, sizeof err) != 0) {
        fprintf(stderr, "trace_edit: %s\n", err);
        return 1;
    }
    trace_reader_close(r);
    free(ram);
    if (!done) {
        fprintf(stderr, "trace_edit: no event to alter\n");
        return 1;
    }
    return 0;
}
