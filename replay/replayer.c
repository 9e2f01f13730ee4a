/* Replay from a trace (see replay/replayer.h). */
#include "replay/replayer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/trace_file.h"
#include "hv/machine.h"
#include "hv/segments.h"
#include "record/recorder.h"
#include "translate/helpers.h"

struct replayer {
    struct trace_reader *r;
    struct trace_pos next_pos; /* where the peeked event was read from */
    Rrvm__Event *next;         /* owned by the reader until the next read */
    bool have_next, eof, diverged, ended;
    char end_reason[64];
    int end_status;
    uint64_t end_digest, end_icount;
};

static const char *kind_name(Rrvm__Event__KindCase k) {
    switch (k) {
    case RRVM__EVENT__KIND_PORT_IN: return "port read";
    case RRVM__EVENT__KIND_INTERRUPT: return "interrupt";
    case RRVM__EVENT__KIND_TSC: return "TSC read";
    case RRVM__EVENT__KIND_CR3: return "CR3 write";
    case RRVM__EVENT__KIND_DIGEST: return "state digest";
    case RRVM__EVENT__KIND_END: return "end of recording";
    default: return "unknown event";
    }
}

static void diverge(struct machine *m, const char *fmt, const char *a, const char *b) {
    struct replayer *p = m->rep;
    if (p->diverged) return;
    p->diverged = true;
    char what[400];
    snprintf(what, sizeof what, fmt, a, b);
    snprintf(m->error, sizeof m->error, "diverged at icount %llu (eip=0x%08x): %.200s",
             (unsigned long long)m->cpu.icount, m->cpu.eip, what);
}

/* Makes p->next the next event (or sets eof). */
static void peek(struct machine *m) {
    struct replayer *p = m->rep;
    if (p->have_next || p->eof) return;
    char err[200];
    trace_reader_tell(p->r, &p->next_pos);
    int k = trace_reader_next(p->r, &p->next, err, sizeof err);
    if (k == 1) {
        p->have_next = true;
        /* CR3 markers are checks the replay does not need to act on */
        return;
    }
    p->eof = true;
    if (k < 0) {
        p->diverged = true;
        snprintf(m->error, sizeof m->error, "trace damaged: %s", err);
    }
}

static void consume(struct replayer *p) {
    p->have_next = false;
}

struct machine *replay_open(const char *path, char *err, size_t errlen) {
    struct trace_reader *r = trace_reader_open(path, err, errlen);
    if (!r) return NULL;
    const Rrvm__TraceHeader *h = trace_reader_header(r);
    /* the guest saw this rrvm's CPU model when recording; another one cannot replay */
    uint32_t cpuid[8];
    cpuid_leaf(0, cpuid);
    cpuid_leaf(1, cpuid + 4);
    if (h->cpuid.len != sizeof cpuid || memcmp(h->cpuid.data, cpuid, sizeof cpuid) != 0) {
        snprintf(err, errlen,
                 "%s: recorded with another CPU model (CPUID differs): this rrvm cannot replay it",
                 path);
        trace_reader_close(r);
        return NULL;
    }
    struct machine *m = machine_create(h->ram_mb ? h->ram_mb : 128, err, errlen);
    if (!m) {
        trace_reader_close(r);
        return NULL;
    }
    trace_reader_ram(r, m->ram, m->ram_size);
    const Rrvm__CpuState *cs = trace_reader_cpu(r);
    struct cpu *c = &m->cpu;
    memcpy(c->gpr, cs->gpr, 32);
    c->eip = cs->eip;
    cpu_set_eflags(c, cs->eflags);
    for (int s = 0; s < 6; s++)
        c->seg[s] = (struct segcache){(uint16_t)cs->seg[4 * s], cs->seg[4 * s + 1],
                                      cs->seg[4 * s + 2], (uint16_t)cs->seg[4 * s + 3]};
    memcpy(c->cr, cs->cr, 20);
    c->gdtr.base = cs->gdtr_base;
    c->gdtr.limit = (uint16_t)cs->gdtr_limit;
    segmemo_flush(m);
    c->idtr.base = cs->idtr_base;
    c->idtr.limit = (uint16_t)cs->idtr_limit;
    c->icount = cs->icount;
    cpu_set_cpl(m, c->seg[S_CS].sel & 3);
    /* guest time in replay is the instruction count: nothing the guest sees depends on it,
     * since every time value comes from the journal */
    machine_power_on(m, CLOCK_VIRTUAL, 0);
    struct replayer *p = calloc(1, sizeof *p);
    if (!p) {
        machine_destroy(m);
        trace_reader_close(r);
        return NULL;
    }
    p->r = r;
    m->rep = p;
    return m;
}

void replay_close(struct machine *m) {
    if (!m || !m->rep) return;
    trace_reader_close(m->rep->r);
    free(m->rep);
    m->rep = NULL;
}

uint32_t replay_port_in(struct machine *m, uint16_t port, unsigned size) {
    struct replayer *p = m->rep;
    peek(m);
    if (p->eof || p->diverged) {
        if (!p->diverged)
            diverge(m, "the guest reads a port after the end of the %s%s", "journal", "");
        return 0xffffffffu;
    }
    Rrvm__Event *e = p->next;
    if (e->kind_case != RRVM__EVENT__KIND_PORT_IN || e->icount != m->cpu.icount ||
        e->port_in->port != port || e->port_in->size != size) {
        char want[96], got[64];
        if (e->kind_case == RRVM__EVENT__KIND_PORT_IN)
            snprintf(want, sizeof want, "port read 0x%x (%u bytes) at icount %llu",
                     e->port_in->port, e->port_in->size, (unsigned long long)e->icount);
        else
            snprintf(want, sizeof want, "%s at icount %llu", kind_name(e->kind_case),
                     (unsigned long long)e->icount);
        snprintf(got, sizeof got, "port read 0x%x (%u bytes)", port, size);
        diverge(m, "the journal expects %s, the guest does a %s", want, got);
        return 0xffffffffu;
    }
    uint32_t v = e->port_in->value;
    consume(p);
    return v;
}

uint64_t replay_tsc(struct machine *m) {
    struct replayer *p = m->rep;
    peek(m);
    if (p->eof || p->diverged || p->next->kind_case != RRVM__EVENT__KIND_TSC ||
        p->next->icount != m->cpu.icount) {
        char want[96];
        if (p->eof)
            snprintf(want, sizeof want, "nothing more");
        else
            snprintf(want, sizeof want, "%s at icount %llu", kind_name(p->next->kind_case),
                     (unsigned long long)p->next->icount);
        diverge(m, "the journal expects %s, the guest reads the %s", want, "TSC");
        return 0;
    }
    uint64_t v = p->next->tsc->value;
    consume(p);
    return v;
}

void replay_cr3(struct machine *m, uint32_t value) {
    struct replayer *p = m->rep;
    peek(m);
    if (p->eof || p->diverged) return;
    Rrvm__Event *e = p->next;
    if (e->kind_case != RRVM__EVENT__KIND_CR3 || e->icount != m->cpu.icount ||
        e->cr3->value != value) {
        diverge(m, "the guest writes CR3 where the journal has %s%s", kind_name(e->kind_case),
                e->kind_case == RRVM__EVENT__KIND_CR3 ? " with another value" : "");
        return;
    }
    consume(p);
}

int replay_due_interrupt(struct machine *m) {
    struct replayer *p = m->rep;
    for (;;) {
        peek(m);
        if (p->eof || p->diverged || p->ended) return -1;
        Rrvm__Event *e = p->next;
        if (e->icount != m->cpu.icount) return -1;
        switch (e->kind_case) {
        case RRVM__EVENT__KIND_INTERRUPT: {
            int v = (int)e->interrupt->vector;
            consume(p);
            return v;
        }
        case RRVM__EVENT__KIND_DIGEST:
            if (e->digest->regs != machine_regs_digest(m)) {
                diverge(m, "the registers differ from the recording's (%s digest %s)", "state",
                        "mismatch");
                return -1;
            }
            if (e->digest->has_ram && e->digest->ram != machine_full_digest(m)) {
                diverge(m, "memory differs from the recording's (%s digest %s)", "RAM", "mismatch");
                return -1;
            }
            consume(p);
            continue;
        case RRVM__EVENT__KIND_END:
            p->ended = true;
            snprintf(p->end_reason, sizeof p->end_reason, "%s", e->end->reason);
            p->end_status = e->end->exit_status;
            p->end_digest = e->end->digest;
            p->end_icount = e->icount;
            return -1;
        default: return -1; /* a port or TSC read: consumed by its instruction */
        }
    }
}

uint64_t replay_next_stop(struct machine *m) {
    struct replayer *p = m->rep;
    peek(m);
    if (p->eof || p->diverged) return UINT64_MAX;
    Rrvm__Event *e = p->next;
    switch (e->kind_case) {
    case RRVM__EVENT__KIND_INTERRUPT:
    case RRVM__EVENT__KIND_DIGEST:
    case RRVM__EVENT__KIND_END: return e->icount;
    default: return UINT64_MAX;
    }
}

bool replay_diverged(const struct machine *m) {
    return m->rep && m->rep->diverged;
}
bool replay_at_end(const struct machine *m) {
    return m->rep && (m->rep->ended || m->rep->eof);
}
const char *replay_end_reason(const struct machine *m) {
    return m->rep->ended ? m->rep->end_reason : "";
}
int replay_end_status(const struct machine *m) {
    return m->rep->end_status;
}
uint64_t replay_end_digest(const struct machine *m) {
    return m->rep->end_digest;
}
uint64_t replay_end_icount(const struct machine *m) {
    return m->rep->end_icount;
}

void replay_save(const struct machine *m, struct replay_pos *pos) {
    const struct replayer *p = m->rep;
    if (p->have_next)
        pos->at = p->next_pos;
    else
        trace_reader_tell(p->r, &pos->at);
}

int replay_restore(struct machine *m, const struct replay_pos *pos, char *err, size_t errlen) {
    struct replayer *p = m->rep;
    p->have_next = p->eof = p->diverged = p->ended = false;
    return trace_reader_seek(p->r, &pos->at, err, errlen);
}
