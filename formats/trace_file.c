/* Trace container writer and reader (see formats/trace_file.h, docs/TRACE-FORMAT.md). */
#define _GNU_SOURCE
#include "formats/trace_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

static const char FILE_MAGIC[8] = {'R', 'R', 'V', 'M', 'T', 'R', 'C', 0};
static const char END_MAGIC[8] = {'R', 'R', 'V', 'M', 'E', 'N', 'D', 0};
#define CHUNK_MAGIC 0x4b4e4843u /* "CHNK" */
#define INDEX_MAGIC 0x58444e49u /* "INDX" */
#define CHUNK_RAW_TARGET (256u << 10)
#define MAX_CHUNK_BYTES (64u << 20)

uint64_t fnv64(uint64_t h, const void *data, size_t len) {
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---- writer ------------------------------------------------------------------------------- */

struct chunk_rec {
    uint64_t offset, first, last;
    uint32_t nevents;
};

struct trace_writer {
    FILE *f;
    char *path;
    uint8_t *raw;
    size_t raw_len, raw_cap;
    uint32_t nevents;
    uint64_t first, last;
    struct chunk_rec *chunks;
    size_t nchunks, cap_chunks;
    uint64_t total_events;
    time_t last_flush;
    uint64_t prev_icount, prev_tsc; /* what the chunk's next event is stored relative to */
    uint32_t version;
};

static int put(FILE *f, const void *p, size_t n) {
    return fwrite(p, 1, n, f) == n ? 0 : -1;
}

static int put_u32(FILE *f, uint32_t v) {
    return put(f, &v, 4);
}

static int put_u64(FILE *f, uint64_t v) {
    return put(f, &v, 8);
}

static int put_msg(FILE *f, const ProtobufCMessage *msg) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return -1;
    protobuf_c_message_pack(msg, buf);
    int r = put_u32(f, (uint32_t)n) || put(f, buf, n) ? -1 : 0;
    free(buf);
    return r;
}

static void io_error(char *err, size_t len, const char *what, const char *path) {
    snprintf(err, len, "%s %s: %s", what, path, errno ? strerror(errno) : "write failed");
}

struct trace_writer *trace_writer_open(const char *path, const Rrvm__TraceHeader *hdr,
                                       const Rrvm__CpuState *cpu, const uint8_t *ram,
                                       uint32_t ram_size, const uint8_t *candidates, char *err,
                                       size_t errlen) {
    struct trace_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->f = fopen(path, "wb");
    if (!w->f) {
        io_error(err, errlen, "cannot create", path);
        free(w);
        return NULL;
    }
    w->path = strdup(path);
    w->last_flush = time(NULL);
    /* RAM: a bitmap of nonzero pages, then those pages, in one zstd frame */
    uint32_t npages = ram_size >> 12;
    size_t bm = (npages + 7) / 8, nz = 0;
    uint8_t *img = calloc(1, bm + (size_t)ram_size);
    if (!img) goto fail;
    static const uint8_t zero[4096];
    for (uint32_t p = 0; p < npages; p++)
        if ((!candidates || (candidates[p / 8] & (1u << (p % 8)))) &&
            memcmp(ram + (size_t)p * 4096, zero, 4096) != 0) {
            img[p / 8] |= (uint8_t)(1u << (p % 8));
            memcpy(img + bm + nz * 4096, ram + (size_t)p * 4096, 4096);
            nz++;
        }
    size_t raw = bm + nz * 4096;
    size_t cap = ZSTD_compressBound(raw);
    uint8_t *comp = malloc(cap);
    size_t clen = comp ? ZSTD_compress(comp, cap, img, raw, 3) : 0;
    free(img);
    if (!comp || ZSTD_isError(clen)) {
        free(comp);
        snprintf(err, errlen, "cannot compress the initial RAM");
        goto fail_quiet;
    }
    int bad = put(w->f, FILE_MAGIC, 8) || put_u32(w->f, TRACE_FORMAT_VERSION) ||
              put_msg(w->f, &hdr->base) || put_msg(w->f, &cpu->base) || put_u32(w->f, ram_size) ||
              put_u64(w->f, raw) || put_u64(w->f, clen) ||
              put_u64(w->f, fnv64(FNV64_INIT, comp, clen)) || put(w->f, comp, clen);
    free(comp);
    if (bad || fflush(w->f) != 0) goto fail;
    w->version = TRACE_FORMAT_VERSION;
    return w;
fail:
    io_error(err, errlen, "cannot write", path);
fail_quiet:
    fclose(w->f);
    free(w->path);
    free(w);
    return NULL;
}

static int flush_chunk(struct trace_writer *w, char *err, size_t errlen) {
    if (w->nevents == 0) return 0;
    size_t cap = ZSTD_compressBound(w->raw_len);
    uint8_t *comp = malloc(cap);
    size_t clen = comp ? ZSTD_compress(comp, cap, w->raw, w->raw_len, 3) : 0;
    if (!comp || ZSTD_isError(clen)) {
        free(comp);
        snprintf(err, errlen, "cannot compress a trace chunk");
        return -1;
    }
    if (w->nchunks == w->cap_chunks) {
        size_t nc = w->cap_chunks ? 2 * w->cap_chunks : 64;
        struct chunk_rec *n = realloc(w->chunks, nc * sizeof *n);
        if (!n) {
            free(comp);
            return -1;
        }
        w->chunks = n;
        w->cap_chunks = nc;
    }
    long off = ftell(w->f);
    w->chunks[w->nchunks++] = (struct chunk_rec){(uint64_t)off, w->first, w->last, w->nevents};
    /* the whole chunk in one buffer and one write: a killed recorder leaves either a
     * complete chunk or a short one the reader recognizes */
    size_t total = 44 + clen;
    uint8_t *buf = malloc(total);
    if (!buf) {
        free(comp);
        return -1;
    }
    uint32_t h32[2] = {CHUNK_MAGIC, w->nevents};
    uint64_t h64[2] = {w->first, w->last};
    uint32_t l32[2] = {(uint32_t)w->raw_len, (uint32_t)clen};
    uint64_t sum = fnv64(FNV64_INIT, w->raw, w->raw_len);
    memcpy(buf, h32, 8);
    memcpy(buf + 8, h64, 16);
    memcpy(buf + 24, l32, 8);
    memcpy(buf + 32, &sum, 8);
    uint32_t pad = 0;
    memcpy(buf + 40, &pad, 4);
    memcpy(buf + 44, comp, clen);
    free(comp);
    int bad = put(w->f, buf, total) || fflush(w->f) != 0;
    free(buf);
    if (bad) {
        io_error(err, errlen, "cannot write to", w->path);
        return -1;
    }
    w->total_events += w->nevents;
    w->raw_len = 0;
    w->nevents = 0;
    w->prev_icount = w->prev_tsc = 0; /* each chunk decodes on its own */
    return 0;
}

int trace_writer_set_version(struct trace_writer *w, uint32_t version, char *err, size_t errlen) {
    if (version < TRACE_FORMAT_OLDEST || version > TRACE_FORMAT_VERSION || w->nevents ||
        w->nchunks) {
        snprintf(err, errlen, "cannot write trace format version %u here", version);
        return -1;
    }
    long end = ftell(w->f);
    if (end < 0 || fseek(w->f, 8, SEEK_SET) != 0 || put_u32(w->f, version) ||
        fseek(w->f, end, SEEK_SET) != 0 || fflush(w->f) != 0) {
        io_error(err, errlen, "cannot write to", w->path);
        return -1;
    }
    w->version = version;
    return 0;
}

int trace_writer_event(struct trace_writer *w, const Rrvm__Event *ev_abs, char *err,
                       size_t errlen) {
    /* differences from the chunk's previous event: most are small, most TSC reads are close
     * together (format version 2) */
    Rrvm__Event stored = *ev_abs;
    Rrvm__Tsc tsc;
    if (w->version >= 2) stored.icount = ev_abs->icount - w->prev_icount;
    w->prev_icount = ev_abs->icount;
    if (w->version >= 2 && ev_abs->kind_case == RRVM__EVENT__KIND_TSC && ev_abs->tsc) {
        tsc = *ev_abs->tsc;
        tsc.value = 0;
        tsc.delta = (int64_t)(ev_abs->tsc->value - w->prev_tsc);
        w->prev_tsc = ev_abs->tsc->value;
        stored.tsc = &tsc;
    }
    const Rrvm__Event *ev = &stored;
    size_t n = protobuf_c_message_get_packed_size(&ev->base);
    if (w->raw_len + n + 5 > w->raw_cap) {
        size_t nc = w->raw_cap ? w->raw_cap * 2 : CHUNK_RAW_TARGET * 2;
        while (nc < w->raw_len + n + 5)
            nc *= 2;
        uint8_t *p = realloc(w->raw, nc);
        if (!p) {
            snprintf(err, errlen, "out of memory for the journal");
            return -1;
        }
        w->raw = p;
        w->raw_cap = nc;
    }
    /* length-delimited: varint length, then the message */
    size_t v = n;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        w->raw[w->raw_len++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    protobuf_c_message_pack(&ev->base, w->raw + w->raw_len);
    w->raw_len += n;
    if (w->nevents == 0) w->first = ev_abs->icount;
    w->last = ev_abs->icount;
    w->nevents++;
    /* a chunk at least every second: a killed recorder loses at most the last second */
    time_t now = time(NULL);
    if (w->raw_len >= CHUNK_RAW_TARGET || now != w->last_flush) {
        w->last_flush = now;
        return flush_chunk(w, err, errlen);
    }
    return 0;
}

int trace_writer_close(struct trace_writer *w, char *err, size_t errlen) {
    int r = flush_chunk(w, err, errlen);
    if (r == 0) {
        long off = ftell(w->f);
        int bad = put_u32(w->f, INDEX_MAGIC) || put_u32(w->f, (uint32_t)w->nchunks);
        for (size_t i = 0; i < w->nchunks && !bad; i++)
            bad = put_u64(w->f, w->chunks[i].offset) || put_u64(w->f, w->chunks[i].first) ||
                  put_u64(w->f, w->chunks[i].last) || put_u32(w->f, w->chunks[i].nevents);
        bad = bad || put_u64(w->f, w->total_events) || put_u64(w->f, (uint64_t)off) ||
              put(w->f, END_MAGIC, 8);
        if (bad || fflush(w->f) != 0) {
            io_error(err, errlen, "cannot write to", w->path);
            r = -1;
        }
    }
    if (fclose(w->f) != 0 && r == 0) {
        io_error(err, errlen, "cannot close", w->path);
        r = -1;
    }
    free(w->raw);
    free(w->chunks);
    free(w->path);
    free(w);
    return r;
}

/* ---- reader ------------------------------------------------------------------------------- */

struct trace_reader {
    FILE *f;
    char *path;
    Rrvm__TraceHeader *hdr;
    Rrvm__CpuState *cpu;
    uint8_t *ram;
    uint8_t *present; /* page map of the RAM image */
    uint32_t ram_size;
    uint64_t ram_raw, ram_comp;
    long events_start;
    bool truncated;
    /* current chunk */
    uint8_t *raw;
    size_t raw_len, pos;
    long next_chunk;
    long cur_chunk; /* file offset of the chunk in raw */
    Rrvm__Event *ev;
    uint64_t file_size;
    uint32_t version;
    uint64_t prev_icount, prev_tsc; /* version 2: the bases of the next event's differences */
};

static int get(FILE *f, void *p, size_t n) {
    return fread(p, 1, n, f) == n ? 0 : -1;
}

static void *get_msg(FILE *f, const ProtobufCMessageDescriptor *d, uint64_t limit) {
    uint32_t n;
    if (get(f, &n, 4) || n > limit) return NULL;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf || get(f, buf, n)) {
        free(buf);
        return NULL;
    }
    void *m = protobuf_c_message_unpack(d, NULL, n, buf);
    free(buf);
    return m;
}

struct trace_reader *trace_reader_open(const char *path, char *err, size_t errlen) {
    struct trace_reader *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->f = fopen(path, "rb");
    if (!r->f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        free(r);
        return NULL;
    }
    r->path = strdup(path);
    fseek(r->f, 0, SEEK_END);
    r->file_size = (uint64_t)ftell(r->f);
    fseek(r->f, 0, SEEK_SET);
    char magic[8];
    uint32_t version;
    if (get(r->f, magic, 8) || memcmp(magic, FILE_MAGIC, 8) != 0) {
        snprintf(err, errlen, "%s: not an rrvm trace (bad magic at offset 0)", path);
        goto fail;
    }
    if (get(r->f, &version, 4)) {
        snprintf(err, errlen, "%s: truncated at offset 8 (format version)", path);
        goto fail;
    }
    if (version < TRACE_FORMAT_OLDEST || version > TRACE_FORMAT_VERSION) {
        snprintf(err, errlen,
                 "%s: trace format version %u, but this rrvm reads versions %u to %u: use an "
                 "rrvm of the matching version",
                 path, version, TRACE_FORMAT_OLDEST, TRACE_FORMAT_VERSION);
        goto fail;
    }
    r->version = version;
    /* (the header may carry an embedded, compressed symbol file) */
    r->hdr = get_msg(r->f, &rrvm__trace_header__descriptor, 1u << 30);
    if (!r->hdr) {
        snprintf(err, errlen, "%s: damaged trace header at offset 12", path);
        goto fail;
    }
    long cpu_off = ftell(r->f);
    r->cpu = get_msg(r->f, &rrvm__cpu_state__descriptor, 1 << 20);
    if (!r->cpu || r->cpu->n_gpr != 8 || r->cpu->n_seg != 24 || r->cpu->n_cr != 5) {
        snprintf(err, errlen, "%s: damaged initial CPU state at offset %ld", path, cpu_off);
        goto fail;
    }
    long ram_off = ftell(r->f);
    uint64_t sum;
    if (get(r->f, &r->ram_size, 4) || get(r->f, &r->ram_raw, 8) || get(r->f, &r->ram_comp, 8) ||
        get(r->f, &sum, 8) || r->ram_size == 0 || r->ram_size > (3072u << 20) ||
        (r->ram_size & 0xfff) || r->ram_comp > r->file_size ||
        r->ram_size != (uint64_t)r->hdr->ram_mb << 20 ||
        r->ram_raw > (uint64_t)r->ram_size + (r->ram_size >> 15) ||
        r->ram_raw < (uint64_t)((r->ram_size >> 12) + 7) / 8 ||
        (r->ram_raw - ((r->ram_size >> 12) + 7) / 8) % 4096 != 0) {
        snprintf(err, errlen, "%s: damaged RAM image header at offset %ld", path, ram_off);
        goto fail;
    }
    uint8_t *comp = malloc(r->ram_comp ? r->ram_comp : 1);
    uint32_t npages = r->ram_size >> 12;
    size_t bm = (npages + 7) / 8;
    uint8_t *img = malloc(r->ram_raw ? r->ram_raw : 1);
    r->ram = calloc(1, r->ram_size);
    if (!comp || !img || !r->ram || get(r->f, comp, r->ram_comp) ||
        fnv64(FNV64_INIT, comp, r->ram_comp) != sum ||
        ZSTD_decompress(img, r->ram_raw, comp, r->ram_comp) != r->ram_raw || r->ram_raw < bm) {
        free(comp);
        free(img);
        snprintf(err, errlen, "%s: damaged RAM image at offset %ld (checksum or compression)", path,
                 ram_off + 28);
        goto fail;
    }
    free(comp);
    size_t at = bm;
    r->present = malloc(bm ? bm : 1);
    if (r->present) memcpy(r->present, img, bm);
    for (uint32_t p = 0; p < npages; p++)
        if (img[p / 8] & (1u << (p % 8))) {
            if (at + 4096 > r->ram_raw) {
                free(img);
                snprintf(err, errlen, "%s: RAM image shorter than its page map", path);
                goto fail;
            }
            memcpy(r->ram + (size_t)p * 4096, img + at, 4096);
            at += 4096;
        }
    free(img);
    r->events_start = ftell(r->f);
    r->next_chunk = r->events_start;
    /* a finished trace ends with the footer */
    char end[8];
    r->truncated = true;
    if (r->file_size >= 16 && fseek(r->f, (long)r->file_size - 8, SEEK_SET) == 0 &&
        get(r->f, end, 8) == 0 && memcmp(end, END_MAGIC, 8) == 0)
        r->truncated = false;
    return r;
fail:
    trace_reader_close(r);
    return NULL;
}

uint32_t trace_reader_version(const struct trace_reader *r) {
    return r->version;
}

const Rrvm__TraceHeader *trace_reader_header(const struct trace_reader *r) {
    return r->hdr;
}
const Rrvm__CpuState *trace_reader_cpu(const struct trace_reader *r) {
    return r->cpu;
}
void trace_reader_ram(const struct trace_reader *r, uint8_t *dst, uint32_t ram_size) {
    /* only the pages the image holds: writing the zero ones would make the host allocate
     * all of guest RAM */
    uint32_t n = (ram_size < r->ram_size ? ram_size : r->ram_size) >> 12;
    for (uint32_t p = 0; p < n; p++)
        if (!r->present || (r->present[p / 8] & (1u << (p % 8))))
            memcpy(dst + (size_t)p * 4096, r->ram + (size_t)p * 4096, 4096);
}
bool trace_reader_truncated(const struct trace_reader *r) {
    return r->truncated;
}

/* Loads the chunk at r->next_chunk. 1 loaded, 0 no more chunks, -1 damaged. */
static int load_chunk(struct trace_reader *r, uint64_t *first, uint64_t *last, size_t *comp_len,
                      char *err, size_t errlen) {
    if (fseek(r->f, r->next_chunk, SEEK_SET) != 0) return 0;
    uint8_t h[44];
    size_t got = fread(h, 1, 44, r->f);
    uint32_t magic = 0;
    if (got >= 4) memcpy(&magic, h, 4);
    if (got < 4 || magic == INDEX_MAGIC) return 0;
    if (magic != CHUNK_MAGIC) {
        snprintf(err, errlen, "%s: bad chunk magic at offset %ld", r->path, r->next_chunk);
        return -1;
    }
    if (got < 44) {
        r->truncated = true;
        return 0; /* a chunk cut short by a killed recorder */
    }
    uint32_t nev, raw_len, clen;
    uint64_t sum;
    memcpy(&nev, h + 4, 4);
    memcpy(first, h + 8, 8);
    memcpy(last, h + 16, 8);
    memcpy(&raw_len, h + 24, 4);
    memcpy(&clen, h + 28, 4);
    memcpy(&sum, h + 32, 8);
    if (raw_len > MAX_CHUNK_BYTES || clen > MAX_CHUNK_BYTES) {
        snprintf(err, errlen, "%s: impossible chunk size at offset %ld", r->path, r->next_chunk);
        return -1;
    }
    uint8_t *comp = malloc(clen ? clen : 1);
    if (!comp) return -1;
    if (get(r->f, comp, clen)) {
        free(comp);
        r->truncated = true;
        return 0;
    }
    free(r->raw);
    r->raw = malloc(raw_len ? raw_len : 1);
    size_t n = r->raw ? ZSTD_decompress(r->raw, raw_len, comp, clen) : 0;
    free(comp);
    if (!r->raw || ZSTD_isError(n) || n != raw_len || fnv64(FNV64_INIT, r->raw, raw_len) != sum) {
        snprintf(err, errlen,
                 "%s: chunk at offset %ld (icount %llu..%llu) fails its checksum or does not "
                 "decompress",
                 r->path, r->next_chunk, (unsigned long long)*first, (unsigned long long)*last);
        return -1;
    }
    r->raw_len = raw_len;
    r->pos = 0;
    r->prev_icount = r->prev_tsc = 0;
    *comp_len = clen;
    r->cur_chunk = r->next_chunk;
    r->next_chunk = ftell(r->f);
    return 1;
}

int trace_reader_next(struct trace_reader *r, Rrvm__Event **ev, char *err, size_t errlen) {
    if (r->ev) {
        rrvm__event__free_unpacked(r->ev, NULL);
        r->ev = NULL;
    }
    while (r->pos >= r->raw_len) {
        uint64_t first, last;
        size_t clen;
        int k = load_chunk(r, &first, &last, &clen, err, errlen);
        if (k <= 0) return k;
    }
    uint64_t len = 0;
    unsigned shift = 0;
    while (r->pos < r->raw_len && shift < 35) {
        uint8_t b = r->raw[r->pos++];
        len |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) break;
    }
    if (len > r->raw_len - r->pos) {
        snprintf(err, errlen, "%s: event length runs past its chunk (before offset %ld)", r->path,
                 r->next_chunk);
        return -1;
    }
    r->ev = rrvm__event__unpack(NULL, len, r->raw + r->pos);
    r->pos += len;
    if (!r->ev) {
        snprintf(err, errlen, "%s: undecodable event in the chunk ending at offset %ld", r->path,
                 r->next_chunk);
        return -1;
    }
    if (r->version >= 2) {
        /* stored as differences from the chunk's previous event */
        r->ev->icount += r->prev_icount;
        r->prev_icount = r->ev->icount;
        if (r->ev->kind_case == RRVM__EVENT__KIND_TSC && r->ev->tsc) {
            r->ev->tsc->value = r->prev_tsc + (uint64_t)r->ev->tsc->delta;
            r->ev->tsc->delta = 0;
            r->prev_tsc = r->ev->tsc->value;
        }
    }
    *ev = r->ev;
    return 1;
}

int trace_reader_stats(struct trace_reader *r, struct trace_stats *st, char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    st->file_bytes = r->file_size;
    st->ram_bytes = r->ram_size;
    st->ram_file_bytes = r->ram_comp;
    long save = r->next_chunk;
    r->next_chunk = r->events_start;
    r->raw_len = r->pos = 0;
    bool first_chunk = true;
    for (;;) {
        uint64_t first, last;
        size_t clen;
        int k = load_chunk(r, &first, &last, &clen, err, errlen);
        if (k < 0) return -1;
        if (k == 0) break;
        st->chunks++;
        st->compressed_event_bytes += clen;
        st->raw_event_bytes += r->raw_len;
        if (first_chunk) st->first_icount = first;
        first_chunk = false;
        st->last_icount = last;
        Rrvm__Event *ev;
        while (r->pos < r->raw_len) {
            int g = trace_reader_next(r, &ev, err, errlen);
            if (g < 0) return -1;
            if (g == 0) break;
            st->events++;
            if ((unsigned)ev->kind_case < 8) st->by_kind[ev->kind_case]++;
            if (ev->kind_case == RRVM__EVENT__KIND_END) st->host_seconds = ev->end->host_seconds;
        }
    }
    st->truncated = r->truncated;
    r->next_chunk = save == r->events_start ? r->events_start : save;
    r->next_chunk = r->events_start;
    r->raw_len = r->pos = 0;
    return 0;
}

void trace_reader_close(struct trace_reader *r) {
    if (!r) return;
    if (r->ev) rrvm__event__free_unpacked(r->ev, NULL);
    if (r->hdr) rrvm__trace_header__free_unpacked(r->hdr, NULL);
    if (r->cpu) rrvm__cpu_state__free_unpacked(r->cpu, NULL);
    if (r->f) fclose(r->f);
    free(r->raw);
    free(r->ram);
    free(r->present);
    free(r->path);
    free(r);
}

void trace_reader_tell(const struct trace_reader *r, struct trace_pos *p) {
    if (r->raw_len && r->pos < r->raw_len) {
        p->chunk = r->cur_chunk;
        p->pos = r->pos;
        p->prev_icount = r->prev_icount;
        p->prev_tsc = r->prev_tsc;
    } else {
        p->chunk = r->next_chunk;
        p->pos = 0;
        p->prev_icount = p->prev_tsc = 0;
    }
}

int trace_reader_seek(struct trace_reader *r, const struct trace_pos *p, char *err, size_t errlen) {
    if (r->ev) {
        rrvm__event__free_unpacked(r->ev, NULL);
        r->ev = NULL;
    }
    r->next_chunk = p->chunk;
    r->raw_len = r->pos = 0;
    uint64_t first, last;
    size_t clen;
    int k = load_chunk(r, &first, &last, &clen, err, errlen);
    if (k < 0) return -1;
    if (k == 0) {
        /* at the end of the events */
        r->next_chunk = p->chunk;
        return 0;
    }
    if (p->pos > r->raw_len) {
        snprintf(err, errlen, "%s: bad position in the chunk at offset %ld", r->path, p->chunk);
        return -1;
    }
    r->pos = p->pos;
    r->prev_icount = p->prev_icount;
    r->prev_tsc = p->prev_tsc;
    return 0;
}
