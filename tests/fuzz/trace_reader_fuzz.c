/* libFuzzer target: the trace reader must reject any malformed trace with a message and
 * never crash, hang or leak (run under ASan/UBSan by tests/fuzz/run_trace_fuzz.sh, seeded
 * with real traces). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "formats/trace_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("trace", 0);
    if (fd < 0) return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    char err[400];
    struct trace_reader *r = trace_reader_open(path, err, sizeof err);
    if (r) {
        struct trace_stats st;
        (void)trace_reader_stats(r, &st, err, sizeof err);
        Rrvm__Event *ev;
        int n = 0;
        while (n++ < 100000 && trace_reader_next(r, &ev, err, sizeof err) == 1) {
            if (ev->kind_case == RRVM__EVENT__KIND_PORT_IN && !ev->port_in) abort();
        }
        trace_reader_close(r);
    }
    close(fd);
    return 0;
}
