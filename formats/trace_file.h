/* The trace container (docs/TRACE-FORMAT.md): magic and version, a TraceHeader, the
 * initial CpuState and RAM (zero pages elided, zstd), then chunks of length-delimited
 * Event messages (one zstd frame each, with its icount range and a checksum), an index and
 * a footer. A trace whose writer died is readable up to its last complete chunk. */
#ifndef RRVM_FORMATS_TRACE_FILE_H
#define RRVM_FORMATS_TRACE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/trace.pb-c.h"

/* Version 2 stores each event's icount and TSC value as differences from the previous
 * event of its chunk (docs/TRACE-FORMAT.md); this rrvm reads versions 1 and 2. */
#define TRACE_FORMAT_VERSION 2u
#define TRACE_FORMAT_OLDEST 1u

struct trace_writer;
struct trace_reader;

/* Creates path and writes everything up to the first chunk. candidates (1 bit per page, or
 * NULL for all) names the only pages that can be nonzero. NULL with a message in err. */
struct trace_writer *trace_writer_open(const char *path, const Rrvm__TraceHeader *hdr,
                                       const Rrvm__CpuState *cpu, const uint8_t *ram,
                                       uint32_t ram_size, const uint8_t *candidates, char *err,
                                       size_t errlen);
/* Writes an older format version (TRACE_FORMAT_OLDEST..TRACE_FORMAT_VERSION) instead of
 * the current one, for a reader that knows only that; before the first event. */
int trace_writer_set_version(struct trace_writer *w, uint32_t version, char *err, size_t errlen);
/* Appends an event (chunks are written as they fill). Returns 0, or -1 with a message. */
int trace_writer_event(struct trace_writer *w, const Rrvm__Event *ev, char *err, size_t errlen);
/* Writes the last chunk, the index and the footer, and closes. */
int trace_writer_close(struct trace_writer *w, char *err, size_t errlen);

struct trace_stats {
    uint64_t chunks, events, first_icount, last_icount;
    uint64_t file_bytes, raw_event_bytes, compressed_event_bytes, ram_bytes, ram_file_bytes;
    uint64_t by_kind[8]; /* indexed by Rrvm__Event__KindCase */
    bool truncated;      /* no index/footer: the writer did not finish */
    double host_seconds; /* from the end event (0 if truncated) */
};

/* Opens a trace: header, initial state and RAM are read and checked. */
struct trace_reader *trace_reader_open(const char *path, char *err, size_t errlen);
const Rrvm__TraceHeader *trace_reader_header(const struct trace_reader *r);
uint32_t trace_reader_version(const struct trace_reader *r);
const Rrvm__CpuState *trace_reader_cpu(const struct trace_reader *r);
/* Copies the initial RAM's nonzero pages into dst (which must be zero already). */
void trace_reader_ram(const struct trace_reader *r, uint8_t *dst, uint32_t ram_size);
/* The next event: 1 (*ev valid until the next call), 0 at the end of the events, -1 on a
 * damaged chunk (message names the file offset). */
int trace_reader_next(struct trace_reader *r, Rrvm__Event **ev, char *err, size_t errlen);
/* Reads every chunk once for statistics (rewinds afterwards). */
int trace_reader_stats(struct trace_reader *r, struct trace_stats *st, char *err, size_t errlen);
bool trace_reader_truncated(const struct trace_reader *r);
/* Where the next event is read from, and going back there (checkpoints). */
struct trace_pos {
    long chunk;
    size_t pos;
    uint64_t prev_icount, prev_tsc; /* the bases of the differences (version 2) */
};
void trace_reader_tell(const struct trace_reader *r, struct trace_pos *p);
int trace_reader_seek(struct trace_reader *r, const struct trace_pos *p, char *err, size_t errlen);
void trace_reader_close(struct trace_reader *r);

/* FNV-1a 64, the checksum of chunks and the state digest. */
uint64_t fnv64(uint64_t h, const void *data, size_t len);
#define FNV64_INIT 0xcbf29ce484222325ull

#endif
