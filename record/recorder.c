/* The journal writer side of record/replay (see record/recorder.h). */
#include "record/recorder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <zstd.h>

#include "formats/trace_file.h"
#include "hv/version.h"
#include "hv/machine.h"
#include "translate/helpers.h"

struct recorder {
    struct trace_writer *w;
    bool failed;
    uint64_t ndigests;
    struct timespec t0;
};

uint64_t machine_regs_digest(const struct machine *m) {
    const struct cpu *c = &m->cpu;
    uint64_t h = FNV64_INIT;
    h = fnv64(h, c->gpr, sizeof c->gpr);
    h = fnv64(h, &c->eip, 4);
    uint32_t fl = cpu_get_eflags(c);
    h = fnv64(h, &fl, 4);
    for (int s = 0; s < 6; s++)
        h = fnv64(h, &c->seg[s].sel, 2);
    h = fnv64(h, c->cr, sizeof c->cr);
    return h;
}

/* Registers, then every nonzero RAM page (its number and contents, a 64-bit word at a
 * time). Pages the host never allocated are zero and are skipped without being touched. */
uint64_t machine_full_digest(const struct machine *m) {
    uint64_t h = machine_regs_digest(m);
    uint32_t npages = m->ram_size >> 12;
    uint8_t *present = malloc((npages + 7) / 8);
    if (!present) return h;
    mmu_ram_allocated(m, present);
    static const uint64_t zero[512];
    for (uint32_t p = 0; p < npages; p++) {
        if (!(present[p / 8] & (1u << (p % 8)))) continue;
        const uint64_t *w = (const uint64_t *)(const void *)(m->ram + (size_t)p * 4096);
        if (memcmp(w, zero, 4096) == 0) continue;
        h = (h ^ p) * 0x100000001b3ull;
        for (int i = 0; i < 512; i++)
            h = (h ^ w[i]) * 0x100000001b3ull;
    }
    free(present);
    return h;
}

void cpu_state_to_pb(const struct machine *m, struct Rrvm__CpuState *cs, uint32_t *gpr,
                     uint32_t *seg, uint32_t *cr) {
    const struct cpu *c = &m->cpu;
    memcpy(gpr, c->gpr, 32);
    for (int s = 0; s < 6; s++) {
        seg[4 * s] = c->seg[s].sel;
        seg[4 * s + 1] = c->seg[s].base;
        seg[4 * s + 2] = c->seg[s].limit;
        seg[4 * s + 3] = c->seg[s].attr;
    }
    memcpy(cr, c->cr, 20);
    cs->n_gpr = 8;
    cs->gpr = gpr;
    cs->eip = c->eip;
    cs->eflags = cpu_get_eflags(c);
    cs->n_seg = 24;
    cs->seg = seg;
    cs->n_cr = 5;
    cs->cr = cr;
    cs->gdtr_base = c->gdtr.base;
    cs->gdtr_limit = c->gdtr.limit;
    cs->idtr_base = c->idtr.base;
    cs->idtr_limit = c->idtr.limit;
    cs->icount = c->icount;
}

struct recorder *recorder_start(struct machine *m, const char *path, const struct trace_meta *meta,
                                char *err, size_t errlen) {
    struct recorder *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    Rrvm__TraceHeader hdr = RRVM__TRACE_HEADER__INIT;
    struct utsname u;
    char host[sizeof u.nodename] = "";
    if (uname(&u) == 0) snprintf(host, sizeof host, "%s", u.nodename);
    hdr.rrvm_version = (char *)RRVM_VERSION_STRING;
    hdr.ram_mb = meta->ram_mb;
    hdr.kernel_name = (char *)(meta->kernel_name ? meta->kernel_name : "");
    hdr.cmdline = (char *)(meta->cmdline ? meta->cmdline : "");
    hdr.clock = (char *)(meta->clock ? meta->clock : "host");
    hdr.host = host;
    hdr.recorded_unix_time = (uint64_t)time(NULL);
    hdr.kernel_fnv64 = meta->kernel_fnv64;
    hdr.kernel_size = meta->kernel_size;
    uint32_t cpuid[8];
    cpuid_leaf(0, cpuid);
    cpuid_leaf(1, cpuid + 4);
    hdr.cpuid.data = (uint8_t *)cpuid;
    hdr.cpuid.len = sizeof cpuid;
    uint8_t *sym = NULL, *symz = NULL;
    if (meta->symbols) {
        /* the symbol file travels with the trace, compressed: a teammate needs nothing else */
        FILE *f = fopen(meta->symbols, "rb");
        long n = -1;
        if (f && fseek(f, 0, SEEK_END) == 0) n = ftell(f);
        if (n < 0 || n > (1l << 29)) {
            snprintf(err, errlen, "cannot read the symbol file %s", meta->symbols);
            if (f) fclose(f);
            free(r);
            return NULL;
        }
        rewind(f);
        sym = malloc((size_t)n + 1);
        size_t cap = ZSTD_compressBound((size_t)n);
        symz = malloc(cap);
        size_t got = sym ? fread(sym, 1, (size_t)n, f) : 0;
        fclose(f);
        size_t zl =
            (sym && symz && got == (size_t)n) ? ZSTD_compress(symz, cap, sym, (size_t)n, 9) : 0;
        if (!zl || ZSTD_isError(zl)) {
            snprintf(err, errlen, "cannot embed the symbol file %s", meta->symbols);
            free(sym);
            free(symz);
            free(r);
            return NULL;
        }
        const char *base = strrchr(meta->symbols, '/');
        hdr.symbols_name = (char *)(base ? base + 1 : meta->symbols);
        hdr.symbols_zstd.data = symz;
        hdr.symbols_zstd.len = zl;
        hdr.symbols_size = (uint64_t)n;
    }
    Rrvm__CpuState cs = RRVM__CPU_STATE__INIT;
    uint32_t gpr[8], seg[24], cr[5];
    cpu_state_to_pb(m, &cs, gpr, seg, cr);
    uint8_t *present = malloc(((m->ram_size >> 12) + 7) / 8);
    if (present) mmu_ram_allocated(m, present);
    r->w = trace_writer_open(path, &hdr, &cs, m->ram, m->ram_size, present, err, errlen);
    free(present);
    free(sym);
    free(symz);
    if (!r->w) {
        free(r);
        return NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    m->rec = r;
    return r;
}

static void append(struct machine *m, Rrvm__Event *ev) {
    struct recorder *r = m->rec;
    if (r->failed) return;
    ev->icount = m->cpu.icount;
    char err[160];
    if (trace_writer_event(r->w, ev, err, sizeof err) != 0) {
        r->failed = true;
        snprintf(m->error, sizeof m->error, "recording failed at icount %llu: %s",
                 (unsigned long long)m->cpu.icount, err);
    }
    m->stats.events_recorded++;
}

void journal_port_in(struct machine *m, uint16_t port, unsigned size, uint32_t value) {
    Rrvm__Event ev = RRVM__EVENT__INIT;
    Rrvm__PortIn p = RRVM__PORT_IN__INIT;
    p.port = port;
    p.size = size;
    p.value = value;
    ev.kind_case = RRVM__EVENT__KIND_PORT_IN;
    ev.port_in = &p;
    append(m, &ev);
}

void journal_interrupt(struct machine *m, uint8_t vector) {
    Rrvm__Event ev = RRVM__EVENT__INIT;
    Rrvm__Interrupt p = RRVM__INTERRUPT__INIT;
    p.vector = vector;
    ev.kind_case = RRVM__EVENT__KIND_INTERRUPT;
    ev.interrupt = &p;
    append(m, &ev);
}

void journal_tsc(struct machine *m, uint64_t value) {
    Rrvm__Event ev = RRVM__EVENT__INIT;
    Rrvm__Tsc p = RRVM__TSC__INIT;
    p.value = value;
    ev.kind_case = RRVM__EVENT__KIND_TSC;
    ev.tsc = &p;
    append(m, &ev);
}

void journal_cr3(struct machine *m, uint32_t value) {
    Rrvm__Event ev = RRVM__EVENT__INIT;
    Rrvm__Cr3Write p = RRVM__CR3_WRITE__INIT;
    p.value = value;
    ev.kind_case = RRVM__EVENT__KIND_CR3;
    ev.cr3 = &p;
    append(m, &ev);
}

void journal_digest(struct machine *m) {
    Rrvm__Event ev = RRVM__EVENT__INIT;
    Rrvm__Digest p = RRVM__DIGEST__INIT;
    p.regs = machine_regs_digest(m);
    /* now and then RAM too: a divergence in memory is caught near where it happens */
    if (++m->rec->ndigests % 1000 == 0) {
        p.has_ram = true;
        p.ram = machine_full_digest(m);
    }
    ev.kind_case = RRVM__EVENT__KIND_DIGEST;
    ev.digest = &p;
    append(m, &ev);
}

bool recorder_failed(const struct recorder *r) {
    return r->failed;
}

int recorder_finish(struct machine *m, const char *reason, int exit_status, char *err,
                    size_t errlen) {
    struct recorder *r = m->rec;
    if (!r) return 0;
    Rrvm__Event ev = RRVM__EVENT__INIT;
    Rrvm__End p = RRVM__END__INIT;
    p.reason = (char *)reason;
    p.exit_status = exit_status;
    p.digest = machine_full_digest(m);
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    p.host_seconds =
        (double)(t1.tv_sec - r->t0.tv_sec) + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e9;
    ev.kind_case = RRVM__EVENT__KIND_END;
    ev.end = &p;
    append(m, &ev);
    int rc = trace_writer_close(r->w, err, errlen);
    if (r->failed && rc == 0) {
        snprintf(err, errlen, "%s", m->error);
        rc = -1;
    }
    free(r);
    m->rec = NULL;
    return rc;
}
