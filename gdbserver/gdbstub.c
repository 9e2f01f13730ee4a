/* The gdb stub for replayed guests (see gdbserver/gdbstub.h): registers, memory through the
 * guest's page tables, software breakpoints that never touch guest memory, stepping and
 * continuing forward, and reverse-stepi / reverse-continue by re-executing the trace. */
#include "gdbserver/gdbstub.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gdbserver/rsp.h"
#include "hv/machine.h"
#include "replay/checkpoint.h"
#include "replay/replayer.h"
#include "translate/decode.h"
#include "translate/helpers.h"
#include "translate/tc.h"

/* Slice of a forward run between checks for Ctrl-C from gdb. */
#define GDB_SLICE 20000000ull

struct session {
    struct rsp rsp;
    const char *path;     /* the trace being replayed; NULL for a live guest */
    enum run_result last; /* live: how the guest's run ended (when at_end) */
    struct machine *m;
    uint32_t bps[64];
    int nbps;
    char err[400];
    bool at_end;                   /* the replay has reached the end of the trace */
    struct machine_watch watch[4]; /* type 2 write, 3 read, 4 access (the Z packet's) */
    uint8_t watch_val[4][16];      /* write watches: the bytes as last seen */
    int nwatch;
    uint32_t watch_hit; /* data address of the last watchpoint that fired */
    bool killed;        /* gdb sent k or vKill */
    bool phys;          /* monitor phys on: m/M addresses are guest-physical */
    /* replay checkpoints, in icount order; the first is icount 0 */
    struct checkpoint *cps[256];
    int ncps;
    size_t cp_bytes;
};

/* A checkpoint every CP_INTERVAL instructions of forward execution keeps any reverse step
 * within about CP_INTERVAL instructions of re-execution (~0.1 s at replay speed), within a
 * memory budget (RRVM_CHECKPOINT_MB, default 1024): past it, checkpoints are thinned. */
#define CP_INTERVAL 50000000ull

static size_t cp_budget(void) {
    const char *e = getenv("RRVM_CHECKPOINT_MB");
    size_t mb = e ? (size_t)strtoull(e, NULL, 10) : 1024;
    return (mb ? mb : 1) << 20;
}

static void cp_add(struct session *s) {
    uint64_t ic = s->m->cpu.icount;
    int at = s->ncps;
    for (int i = 0; i < s->ncps; i++) {
        if (s->cps[i]->icount == ic) return;
        if (s->cps[i]->icount > ic) {
            at = i;
            break;
        }
    }
    if (s->ncps == (int)(sizeof s->cps / sizeof s->cps[0])) return;
    struct checkpoint *c = checkpoint_take(s->m);
    if (!c) return;
    memmove(&s->cps[at + 1], &s->cps[at], sizeof(s->cps[0]) * (size_t)(s->ncps - at));
    s->cps[at] = c;
    s->ncps++;
    s->cp_bytes += c->bytes;
    /* over budget: drop the checkpoint closest to its predecessor (never the first) */
    while (s->cp_bytes > cp_budget() && s->ncps > 2) {
        int best = 1;
        for (int i = 2; i < s->ncps; i++)
            if (s->cps[i]->icount - s->cps[i - 1]->icount <
                s->cps[best]->icount - s->cps[best - 1]->icount)
                best = i;
        s->cp_bytes -= s->cps[best]->bytes;
        checkpoint_free(s->cps[best]);
        memmove(&s->cps[best], &s->cps[best + 1], sizeof(s->cps[0]) * (size_t)(s->ncps - best - 1));
        s->ncps--;
    }
}

/* Goes back to the latest checkpoint at or before icount target. */
static int cp_restore_before(struct session *s, uint64_t target) {
    int best = 0;
    for (int i = 0; i < s->ncps; i++)
        if (s->cps[i]->icount <= target) best = i;
    if (checkpoint_restore(s->m, s->cps[best], s->err, sizeof s->err) != 0) return -1;
    s->at_end = false;
    return 0;
}

/* Forward to target (breakpoints off), taking checkpoints at interval boundaries. */
static void advance(struct session *s, uint64_t target) {
    struct machine *m = s->m;
    m->bp_off = true;
    machine_suspend_watches(m, true);
    while (m->cpu.icount < target) {
        uint64_t boundary = (m->cpu.icount / CP_INTERVAL + 1) * CP_INTERVAL;
        m->icount_limit = target < boundary ? target : boundary;
        enum run_result r = machine_run(m);
        m->icount_limit = 0;
        if (r != RUN_ICOUNT_LIMIT) {
            s->at_end = true;
            break;
        }
        if (m->cpu.icount == boundary) cp_add(s);
    }
    m->bp_off = false;
    machine_suspend_watches(m, false);
}

/* Watchpoints: their pages are inaccessible to translated code (hv/machine.h), so only
 * instructions touching those pages stop; each such instruction is run alone here and
 * judged, write watches by comparing the watched bytes (a write that leaves the value
 * unchanged is not reported, as gdb would ignore it), read and access watches from the
 * instruction's decoded memory operands. */
static void read_watched(struct session *s, int i, uint8_t *buf) {
    for (uint32_t k = 0; k < s->watch[i].len; k++) {
        uint32_t pa;
        if (mmu_translate(s->m, s->watch[i].addr + k, false, false, false, &pa) != MMU_OK)
            buf[k] = 0xff;
        else
            buf[k] = s->m->ram[pa];
    }
}

/* Hands the watch list to the machine and takes the bytes' present values. */
static void sync_watches(struct session *s) {
    machine_set_watches(s->m, s->watch, s->nwatch);
    for (int i = 0; i < s->nwatch; i++)
        read_watched(s, i, s->watch_val[i]);
}

static void snapshot_watches(struct session *s) {
    for (int i = 0; i < s->nwatch; i++)
        read_watched(s, i, s->watch_val[i]);
}

/* Which read/access watchpoints the instruction at eip touches, from its decoded memory
 * operands (explicit and implicit), read without disturbing the guest (no A/D bits). */
static unsigned accessed_watches(struct session *s) {
    unsigned hits = 0;
    bool any = false;
    for (int i = 0; i < s->nwatch; i++)
        any |= s->watch[i].type != 2;
    if (!any) return 0;
    struct machine *m = s->m;
    uint8_t bytes[15];
    unsigned n = 0;
    for (; n < sizeof bytes; n++) {
        uint32_t pa;
        if (mmu_translate(m, m->cpu.eip + n, false, false, false, &pa) != MMU_OK) break;
        bytes[n] = m->ram[pa];
    }
    struct insn in;
    if (n == 0 || insn_decode(&in, bytes, n, m->cpu.eip) != 0) return 0;
    for (int k = 0; k < in.zi.operand_count; k++) {
        const ZydisDecodedOperand *o = &in.op[k];
        if (o->type != ZYDIS_OPERAND_TYPE_MEMORY || o->mem.type != ZYDIS_MEMOP_TYPE_MEM) continue;
        uint32_t a = helper_mem_ea(&m->cpu, &in, o), len = o->size / 8 ? o->size / 8 : 1;
        bool rd = (o->actions & ZYDIS_OPERAND_ACTION_MASK_READ) != 0;
        for (int i = 0; i < s->nwatch; i++) {
            if (s->watch[i].type == 2) continue;
            bool overlap = a < s->watch[i].addr + s->watch[i].len && s->watch[i].addr < a + len;
            if (overlap && (s->watch[i].type == 4 || rd)) hits |= 1u << i;
        }
    }
    return hits;
}

/* After machine_run returned RUN_WATCH: decides whether a watchpoint fired. Returns its
 * index or -1; *r is how the instruction run alone ended (RUN_ICOUNT_LIMIT normally), and
 * *before the icount at which the touching instruction or event began. */
static int watch_event(struct session *s, enum run_result *r, uint64_t *before) {
    struct machine *m = s->m;
    int hit = -1;
    uint8_t now[16];
    *r = RUN_ICOUNT_LIMIT;
    if (m->watch_touched) {
        /* the monitor touched watched bytes for the guest (a helper, a callout, an event
         * delivery): it is done, and the state is the one after it */
        uint32_t t = m->watch_touched;
        m->watch_touched = 0;
        *before = m->watch_touched_icount;
        for (int i = 0; i < s->nwatch && hit < 0; i++) {
            if (!((t >> i) & 1)) continue;
            read_watched(s, i, now);
            if (s->watch[i].type != 2 || memcmp(now, s->watch_val[i], s->watch[i].len) != 0)
                hit = i;
        }
        snapshot_watches(s);
        return hit;
    }
    /* translated code was about to touch a watched page: run that instruction alone */
    unsigned touched = accessed_watches(s);
    uint64_t ic = m->cpu.icount;
    *before = ic;
    machine_suspend_watches(m, true);
    m->icount_limit = ic + 1;
    *r = machine_run(m);
    m->icount_limit = 0;
    machine_suspend_watches(m, false);
    if (m->cpu.icount != ic + 1) touched = 0; /* it did not retire (fault, interrupt) */
    for (int i = 0; i < s->nwatch && hit < 0; i++) {
        if ((touched >> i) & 1) hit = i;
        if (s->watch[i].type == 2) {
            read_watched(s, i, now);
            if (memcmp(s->watch_val[i], now, s->watch[i].len) != 0) hit = i;
        }
    }
    snapshot_watches(s);
    return hit;
}

static const char *watch_kind(int type) {
    return type == 3 ? "rwatch" : type == 4 ? "awatch" : "watch";
}

static const char TARGET_XML[] =
    "<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\">"
    "<target version=\"1.0\"><architecture>i386</architecture>"
    "<feature name=\"org.gnu.gdb.i386.core\">"
    "<reg name=\"eax\" bitsize=\"32\" type=\"int32\"/><reg name=\"ecx\" bitsize=\"32\" "
    "type=\"int32\"/>"
    "<reg name=\"edx\" bitsize=\"32\" type=\"int32\"/><reg name=\"ebx\" bitsize=\"32\" "
    "type=\"int32\"/>"
    "<reg name=\"esp\" bitsize=\"32\" type=\"data_ptr\"/><reg name=\"ebp\" bitsize=\"32\" "
    "type=\"data_ptr\"/>"
    "<reg name=\"esi\" bitsize=\"32\" type=\"int32\"/><reg name=\"edi\" bitsize=\"32\" "
    "type=\"int32\"/>"
    "<reg name=\"eip\" bitsize=\"32\" type=\"code_ptr\"/><reg name=\"eflags\" bitsize=\"32\" "
    "type=\"int32\"/>"
    "<reg name=\"cs\" bitsize=\"32\" type=\"int32\"/><reg name=\"ss\" bitsize=\"32\" "
    "type=\"int32\"/>"
    "<reg name=\"ds\" bitsize=\"32\" type=\"int32\"/><reg name=\"es\" bitsize=\"32\" "
    "type=\"int32\"/>"
    "<reg name=\"fs\" bitsize=\"32\" type=\"int32\"/><reg name=\"gs\" bitsize=\"32\" "
    "type=\"int32\"/>"
    "<reg name=\"st0\" bitsize=\"80\" type=\"i387_ext\"/><reg name=\"st1\" bitsize=\"80\" "
    "type=\"i387_ext\"/>"
    "<reg name=\"st2\" bitsize=\"80\" type=\"i387_ext\"/><reg name=\"st3\" bitsize=\"80\" "
    "type=\"i387_ext\"/>"
    "<reg name=\"st4\" bitsize=\"80\" type=\"i387_ext\"/><reg name=\"st5\" bitsize=\"80\" "
    "type=\"i387_ext\"/>"
    "<reg name=\"st6\" bitsize=\"80\" type=\"i387_ext\"/><reg name=\"st7\" bitsize=\"80\" "
    "type=\"i387_ext\"/>"
    "<reg name=\"fctrl\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
    "<reg name=\"fstat\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
    "<reg name=\"ftag\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
    "<reg name=\"fiseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
    "<reg name=\"fioff\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
    "<reg name=\"foseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
    "<reg name=\"fooff\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
    "<reg name=\"fop\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
    "</feature>"
    "<feature name=\"org.rrvm.system\">"
    "<reg name=\"cr0\" bitsize=\"32\" type=\"int32\" group=\"system\"/>"
    "<reg name=\"cr2\" bitsize=\"32\" type=\"int32\" group=\"system\"/>"
    "<reg name=\"cr3\" bitsize=\"32\" type=\"int32\" group=\"system\"/>"
    "<reg name=\"cr4\" bitsize=\"32\" type=\"int32\" group=\"system\"/>"
    "<reg name=\"icount\" bitsize=\"64\" type=\"uint64\" group=\"system\"/>"
    "<reg name=\"gdtr_base\" bitsize=\"32\" type=\"int32\" group=\"system\"/>"
    "<reg name=\"gdtr_limit\" bitsize=\"32\" type=\"int32\" group=\"system\"/>"
    "<reg name=\"idtr_base\" bitsize=\"32\" type=\"int32\" group=\"system\"/>"
    "<reg name=\"idtr_limit\" bitsize=\"32\" type=\"int32\" group=\"system\"/>"
    "<reg name=\"tr\" bitsize=\"32\" type=\"int32\" group=\"system\"/>"
    "<reg name=\"ldtr\" bitsize=\"32\" type=\"int32\" group=\"system\"/>"
    "</feature></target>";

#define NREGS 43

static void hex_bytes(char *out, const void *data, size_t n) {
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

/* Register n as little-endian bytes; returns its size. */
static size_t reg_bytes(struct session *s, int n, uint8_t *out) {
    struct cpu *c = &s->m->cpu;
    uint32_t v = 0;
    if (n < 8) {
        v = c->gpr[n];
    } else if (n == 8) {
        v = c->eip;
    } else if (n == 9) {
        v = cpu_get_eflags(c);
    } else if (n < 16) {
        static const int order[] = {S_CS, S_SS, S_DS, S_ES, S_FS, S_GS};
        v = c->seg[order[n - 10]].sel;
    } else if (n < 32) {
        /* x87: the guest's registers are in the host FPU while the monitor runs */
        uint8_t img[108];
        __asm__ volatile("fnsave %0\n\tfrstor %0" : "+m"(img));
        if (n < 24) {
            memcpy(out, img + 28 + 10 * (n - 16), 10);
            return 10;
        }
        uint32_t env[7];
        memcpy(env, img, 28);
        static const int idx[] = {0, 1, 2, 4, 3, 6, 5};
        if (n - 24 < 7)
            v = (n == 27 || n == 29) ? (env[idx[n - 24]] & 0xffff) : env[idx[n - 24]];
        else
            v = (env[4] >> 16) & 0x7ff; /* fop */
    } else if (n < 36) {
        static const int crs[] = {0, 2, 3, 4};
        v = c->cr[crs[n - 32]];
    } else if (n == 36) {
        memcpy(out, &c->icount, 8);
        return 8;
    } else {
        uint32_t sys[6] = {c->gdtr.base,  c->gdtr.limit, c->idtr.base,
                           c->idtr.limit, c->tr.sel,     c->ldtr.sel};
        v = n - 37 < 6 ? sys[n - 37] : 0;
    }
    memcpy(out, &v, 4);
    return 4;
}

static void send_stop(struct session *s, const char *why) {
    char buf[96];
    if (!strcmp(why, "sigint")) {
        rsp_send(&s->rsp, "T02thread:1;"); /* stopped by gdb's Ctrl-C */
        return;
    }
    if (!strcmp(why, "live-end")) {
        /* a live guest that exited, halted for good or faulted: gdb sees the process end */
        /* (the isa-debug-exit value; 0 for an ACPI power-off; 0xff for anything else) */
        unsigned code = s->last == RUN_EXIT_DEVICE ? (unsigned)((s->m->exit_status >> 1) & 0xff)
                        : s->last == RUN_POWER_OFF ? 0u
                                                   : 0xffu;
        snprintf(buf, sizeof buf, "W%02x", code);
        rsp_send(&s->rsp, buf);
        return;
    }
    snprintf(buf, sizeof buf, "T05%sthread:1;", why);
    rsp_send(&s->rsp, buf);
}

static void apply_bps(struct session *s) {
    for (int i = 0; i < s->nbps; i++)
        machine_set_breakpoint(s->m, s->bps[i], true);
}

/* Starts the replay over from icount 0. */
static int restart(struct session *s) {
    if (s->m) {
        replay_close(s->m);
        machine_destroy(s->m);
    }
    s->m = replay_open(s->path, s->err, sizeof s->err);
    if (!s->m) return -1;
    FILE *devnull = fopen("/dev/null", "w");
    s->m->serial_out = devnull;
    uart16550_init(&s->m->com1, devnull); /* output was shown when it first happened */
    apply_bps(s);
    sync_watches(s);
    s->at_end = false;
    cp_add(s); /* icount 0 */
    return 0;
}

/* Moves the replay to the instant before instruction number target runs. */
static int go_to(struct session *s, uint64_t target) {
    if (target < s->m->cpu.icount && cp_restore_before(s, target) != 0) return -1;
    advance(s, target);
    return 0;
}

/* Runs forward until a breakpoint, the end of the trace, gdb's Ctrl-C, or limit (0: none).
 * Returns the stop reason text for the stop reply. */
/* The stop reply text when the guest can go no further: the end of the replay log, or for
 * a live guest an exit ("W" packets are sent by the caller; see end_reply). */
static const char *end_reason(struct session *s) {
    return s->path ? "replaylog:end;" : "live-end";
}

static const char *run_forward(struct session *s, uint64_t limit, bool check_interrupt) {
    struct machine *m = s->m;
    if (s->at_end) return end_reason(s);
    /* do not stop again at the breakpoint we are standing on */
    m->bp_skip_eip = m->cpu.eip;
    m->bp_skip_icount = m->cpu.icount;
    snapshot_watches(s);
    for (;;) {
        uint64_t slice = (m->cpu.icount / CP_INTERVAL + 1) * CP_INTERVAL;
        m->icount_limit = limit && limit < slice ? limit : slice;
        enum run_result r = machine_run(m);
        m->icount_limit = 0;
        if (r == RUN_WATCH) {
            uint64_t at;
            int w = watch_event(s, &r, &at);
            if (w >= 0) {
                static char why[64];
                s->watch_hit = s->watch[w].addr;
                snprintf(why, sizeof why, "%s:%x;", watch_kind(s->watch[w].type), s->watch[w].addr);
                return why;
            }
            if (r == RUN_ICOUNT_LIMIT || r == RUN_WATCH) {
                if (limit && m->cpu.icount >= limit) return "";
                continue;
            }
        }
        if (r == RUN_BREAKPOINT) return "swbreak:;";
        if (r == RUN_ICOUNT_LIMIT) {
            if (s->path && m->cpu.icount == slice) cp_add(s);
            if (limit && m->cpu.icount >= limit) return "";
            if (check_interrupt && rsp_poll_interrupt(&s->rsp)) {
                s->rsp.interrupt_pending = false;
                return "sigint";
            }
            continue;
        }
        s->at_end = true;
        s->last = r;
        return end_reason(s);
    }
}

/* The last breakpoint hit at an icount before now, by re-executing from the start. */
/* Scans [from checkpoint i, end) forward for hits; returns the last hit's stop icount
 * (for a watch: the icount before the writing instruction) or UINT64_MAX. */
static uint64_t scan_interval(struct session *s, int i, uint64_t end, int *watch_idx) {
    struct machine *m = s->m;
    if (checkpoint_restore(m, s->cps[i], s->err, sizeof s->err) != 0) return UINT64_MAX;
    uint64_t last = UINT64_MAX;
    *watch_idx = -1;
    snapshot_watches(s);
    for (;;) {
        m->icount_limit = end;
        enum run_result r = machine_run(m);
        m->icount_limit = 0;
        if (r == RUN_WATCH) {
            uint64_t at;
            int w = watch_event(s, &r, &at);
            /* the touching instruction (or event) began at icount at: in the past if at < end */
            if (w >= 0 && at < end) {
                last = at;
                *watch_idx = w;
            }
            if (r == RUN_ICOUNT_LIMIT || r == RUN_WATCH) {
                if (m->cpu.icount >= end) break;
                continue;
            }
        }
        if (r != RUN_BREAKPOINT || m->cpu.icount >= end) break;
        last = m->cpu.icount;
        *watch_idx = -1;
        m->bp_skip_eip = m->cpu.eip;
        m->bp_skip_icount = m->cpu.icount;
    }
    return last;
}

/* The last breakpoint or watchpoint hit before now: each checkpoint interval, latest first,
 * is re-executed until one holds a hit (as rr does). */
static int reverse_continue(struct session *s) {
    uint64_t end = s->m->cpu.icount;
    int i = s->ncps - 1;
    while (i > 0 && s->cps[i]->icount >= end)
        i--;
    for (; (s->nbps || s->nwatch) && i >= 0; i--) {
        int w;
        uint64_t hit = scan_interval(s, i, end, &w);
        if (hit != UINT64_MAX) {
            if (go_to(s, hit) != 0) return -1;
            if (w >= 0) {
                char why[64];
                snprintf(why, sizeof why, "%s:%x;", watch_kind(s->watch[w].type), s->watch[w].addr);
                send_stop(s, why);
            } else {
                send_stop(s, "swbreak:;");
            }
            return 0;
        }
        end = s->cps[i]->icount;
    }
    if (cp_restore_before(s, 0) != 0) return -1;
    send_stop(s, "replaylog:begin;");
    return 0;
}

static void monitor_reply(struct session *s, const char *text) {
    char out[2 * 512 + 2] = "O";
    size_t n = strlen(text);
    if (n > 511) n = 511;
    hex_bytes(out + 1, text, n);
    rsp_send(&s->rsp, out);
}

static void handle_monitor(struct session *s, const char *hexcmd) {
    char cmd[256];
    size_t n = 0;
    for (const char *p = hexcmd; p[0] && p[1] && n + 1 < sizeof cmd; p += 2) {
        unsigned v = '?';
        sscanf(p, "%2x", &v);
        cmd[n++] = (char)v;
    }
    cmd[n] = 0;
    char text[512];
    if (!strcmp(cmd, "when")) {
        snprintf(text, sizeof text, "icount %" PRIu64 "\n", s->m->cpu.icount);
    } else if (!s->path && (!strncmp(cmd, "goto ", 5) || !strcmp(cmd, "checkpoint"))) {
        /* a live guest has no journal to re-execute from a checkpoint */
        snprintf(text, sizeof text,
                 "%s works on a replay (rrvm replay FILE); this is a live guest%s\n",
                 cmd[0] == 'g' ? "goto" : "checkpoint",
                 s->m->rec ? " being recorded: replay its trace to travel in time" : "");
    } else if (!strncmp(cmd, "goto ", 5)) {
        uint64_t t = strtoull(cmd + 5, NULL, 0);
        if (go_to(s, t) != 0) {
            snprintf(text, sizeof text, "goto failed: %.300s\n", s->err);
        } else {
            /* gdb keeps the registers it read before the monitor command */
            snprintf(text, sizeof text,
                     "at icount %" PRIu64 ", eip 0x%08x%s (gdb: 'flushregs' shows the new "
                     "registers)\n",
                     s->m->cpu.icount, s->m->cpu.eip, s->at_end ? " (end of the trace)" : "");
        }
    } else if (!strcmp(cmd, "info") && !s->path) {
        snprintf(text, sizeof text, "live guest%s: icount %" PRIu64 ", eip 0x%08x, cpl %u\n",
                 s->m->rec ? " (being recorded)" : "", s->m->cpu.icount, s->m->cpu.eip,
                 s->m->cpu.cpl);
    } else if (!strcmp(cmd, "info")) {
        snprintf(text, sizeof text,
                 "replaying %.200s: icount %" PRIu64 ", eip 0x%08x, cpl %u%s; %d checkpoints "
                 "(%zu KiB)\n",
                 s->path, s->m->cpu.icount, s->m->cpu.eip, s->m->cpu.cpl,
                 s->at_end ? ", at the end of the trace" : "", s->ncps, s->cp_bytes >> 10);
    } else if (!strcmp(cmd, "phys on") || !strcmp(cmd, "phys off")) {
        s->phys = cmd[6] == 'n';
        snprintf(text, sizeof text, "memory addresses are now %s\n",
                 s->phys ? "guest-physical" : "guest-virtual (through the page tables)");
    } else if (!strcmp(cmd, "checkpoint")) {
        cp_add(s);
        snprintf(text, sizeof text,
                 "%d checkpoints (%zu KiB; every %llu instructions automatically), latest at "
                 "icount %" PRIu64 "\n",
                 s->ncps, s->cp_bytes >> 10, (unsigned long long)CP_INTERVAL,
                 s->ncps ? s->cps[s->ncps - 1]->icount : 0);
    } else {
        snprintf(text, sizeof text,
                 "rrvm monitor commands: when | goto ICOUNT | info | checkpoint | phys on|off | "
                 "help\n");
    }
    monitor_reply(s, text);
    rsp_send(&s->rsp, "OK");
}

static void read_memory(struct session *s, const char *args) {
    uint32_t addr, len;
    if (sscanf(args, "%x,%x", &addr, &len) != 2 || len > RSP_MAX_PACKET / 2 - 4) {
        rsp_send(&s->rsp, "E01");
        return;
    }
    static char out[RSP_MAX_PACKET];
    size_t n = 0;
    for (uint32_t i = 0; i < len; i++) {
        uint32_t pa = addr + i;
        /* a debugger look does not set accessed bits */
        if (s->phys ? pa >= s->m->ram_size
                    : mmu_translate(s->m, addr + i, false, false, false, &pa) != MMU_OK)
            break;
        sprintf(out + 2 * n, "%02x", s->m->ram[pa]);
        n++;
    }
    if (n == 0 && len > 0) {
        rsp_send(&s->rsp, "E14");
        return;
    }
    out[2 * n] = 0;
    rsp_send(&s->rsp, out);
}

/* M and X: writes bytes at a guest-virtual (or, with `monitor phys on`, physical) address,
 * through guest_phys_write so that translated code stays coherent. Live guests only: a
 * replay follows its recording, and a recording must stay replayable. */
static void write_memory(struct session *s, uint32_t addr, const uint8_t *bytes, uint32_t len) {
    if (s->path || s->m->rec) {
        rsp_send(&s->rsp, "E01");
        return;
    }
    bool ok = true;
    for (uint32_t i = 0; i < len && ok; i++) {
        uint32_t pa = addr + i;
        if (s->phys ? pa >= s->m->ram_size
                    : mmu_translate(s->m, addr + i, false, false, false, &pa) != MMU_OK)
            ok = false;
        else
            guest_phys_write(s->m, pa, &bytes[i], 1);
    }
    rsp_send(&s->rsp, ok ? "OK" : "E14");
}

/* P and G: gdb may set the general registers, EIP and EFLAGS of a live guest; the
 * segment, x87 and system registers stay the monitor's (a different value is refused). */
static bool set_register(struct session *s, int r, const uint8_t *b, size_t k) {
    uint8_t cur[10];
    size_t ck = reg_bytes(s, r, cur);
    if (ck != k) return false;
    if (r >= 10) return memcmp(cur, b, k) == 0;
    uint32_t v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    struct cpu *c = &s->m->cpu;
    if (r < 8)
        c->gpr[r] = v;
    else if (r == 8)
        c->eip = v;
    else
        cpu_set_eflags(c, v);
    return true;
}

/* How a gdb connection ended: an explicit detach or kill, or the connection dropping
 * (gdb crashed or the network went), after which a TCP server waits for gdb again with
 * the guest exactly where it was. */
enum { SERVE_DETACHED = 0, SERVE_HUNG_UP = 2 };

/* A new gdb starts with no breakpoints or watchpoints of its own inserted. */
static void forget_gdb_state(struct session *s) {
    for (int i = 0; i < s->nbps; i++)
        machine_set_breakpoint(s->m, s->bps[i], false);
    s->nbps = 0;
    s->nwatch = 0;
    sync_watches(s);
    s->phys = false;
}

static int serve(struct session *s) {
    static char pkt[RSP_MAX_PACKET];
    static char out[RSP_MAX_PACKET];
    for (;;) {
        int n = rsp_recv(&s->rsp, pkt, sizeof pkt);
        if (n == -1) return SERVE_HUNG_UP; /* gdb went away without a word */
        if (n == -2) {                     /* Ctrl-C while stopped: report the stop again */
            s->rsp.interrupt_pending = false;
            rsp_send(&s->rsp, "T02thread:1;");
            continue;
        }
        switch (pkt[0]) {
        case '?': send_stop(s, ""); break;
        case 'g': {
            size_t o = 0;
            for (int r = 0; r < 32; r++) {
                uint8_t b[10];
                size_t k = reg_bytes(s, r, b);
                hex_bytes(out + o, b, k);
                o += 2 * k;
            }
            out[o] = 0;
            rsp_send(&s->rsp, out);
            break;
        }
        case 'p': {
            int r = (int)strtol(pkt + 1, NULL, 16);
            if (r < 0 || r >= NREGS) {
                rsp_send(&s->rsp, "E01");
                break;
            }
            uint8_t b[10];
            size_t k = reg_bytes(s, r, b);
            hex_bytes(out, b, k);
            out[2 * k] = 0;
            rsp_send(&s->rsp, out);
            break;
        }
        case 'G': {
            if (s->path || s->m->rec) {
                rsp_send(&s->rsp, "E01");
                break;
            }
            /* all registers in 'g' order; checked in full before any is set */
            const char *h = pkt + 1;
            bool ok = true;
            struct cpu saved = s->m->cpu;
            for (int r = 0; r < 32 && ok; r++) {
                uint8_t cur[10], b[10];
                size_t k = reg_bytes(s, r, cur);
                for (size_t i = 0; i < k && ok; i++) {
                    unsigned byte;
                    if (!h[0] || !h[1] || sscanf(h, "%2x", &byte) != 1) ok = false;
                    b[i] = (uint8_t)byte;
                    h += 2;
                }
                if (ok) ok = set_register(s, r, b, k);
            }
            if (!ok) s->m->cpu = saved;
            rsp_send(&s->rsp, ok ? "OK" : "E01");
            break;
        }
        case 'X': {
            /* Xaddr,len:binary (rsp_recv undid the escapes) */
            uint32_t addr, len;
            char *colon = memchr(pkt, ':', (size_t)n);
            if (!colon || sscanf(pkt + 1, "%x,%x", &addr, &len) != 2 ||
                (size_t)(pkt + n - (colon + 1)) != len) {
                rsp_send(&s->rsp, "E01");
                break;
            }
            write_memory(s, addr, (const uint8_t *)colon + 1, len);
            break;
        }
        case 'P':
            if (s->path || s->m->rec) {
                /* a replay follows the recording, and a recording must stay replayable:
                 * changing the guest's state from outside would only diverge */
                rsp_send(&s->rsp, "E01");
            } else {
                unsigned r;
                char *eq = strchr(pkt, '=');
                if (!eq || sscanf(pkt + 1, "%x", &r) != 1 || r > 15 || strlen(eq + 1) < 8) {
                    rsp_send(&s->rsp, "E01");
                    break;
                }
                uint32_t v = 0;
                for (int b = 0; b < 4; b++) {
                    unsigned byte;
                    sscanf(eq + 1 + 2 * b, "%2x", &byte);
                    v |= byte << (8 * b);
                }
                struct cpu *c = &s->m->cpu;
                if (r < 8)
                    c->gpr[r] = v;
                else if (r == 8)
                    c->eip = v;
                else if (r == 9)
                    cpu_set_eflags(c, v);
                else {
                    rsp_send(&s->rsp, "E01"); /* segment registers: not by gdb */
                    break;
                }
                rsp_send(&s->rsp, "OK");
            }
            break;
        case 'M': {
            uint32_t addr, len;
            char *colon = strchr(pkt, ':');
            if (!colon || sscanf(pkt + 1, "%x,%x", &addr, &len) != 2 ||
                strlen(colon + 1) < 2 * (size_t)len || len > RSP_MAX_PACKET / 2) {
                rsp_send(&s->rsp, "E01");
                break;
            }
            for (uint32_t i = 0; i < len; i++) {
                unsigned byte = 0;
                sscanf(colon + 1 + 2 * i, "%2x", &byte);
                ((uint8_t *)out)[i] = (uint8_t)byte;
            }
            write_memory(s, addr, (const uint8_t *)out, len);
            break;
        }
        case 'm': read_memory(s, pkt + 1); break;
        case 'Z':
        case 'z': {
            int type;
            uint32_t addr;
            unsigned len = 1;
            if (sscanf(pkt + 1, "%d,%x,%x", &type, &addr, &len) < 2) {
                rsp_send(&s->rsp, "E01");
                break;
            }
            bool on = pkt[0] == 'Z';
            if (type >= 2 && type <= 4) {
                /* write (value changes), read and access watchpoints */
                int at = -1;
                for (int i = 0; i < s->nwatch; i++)
                    if (s->watch[i].addr == addr && s->watch[i].len == len &&
                        s->watch[i].type == type)
                        at = i;
                if (on && at < 0) {
                    if (s->nwatch >= 4 || len == 0 || len > 16) {
                        rsp_send(&s->rsp, "E01");
                        break;
                    }
                    s->watch[s->nwatch].addr = addr;
                    s->watch[s->nwatch].len = len;
                    s->watch[s->nwatch].type = type;
                    s->nwatch++;
                } else if (!on && at >= 0) {
                    s->watch[at] = s->watch[--s->nwatch];
                }
                sync_watches(s);
                rsp_send(&s->rsp, "OK");
                break;
            }
            if (type != 0 && type != 1) {
                rsp_send(&s->rsp, "");
                break;
            }
            int at = -1;
            for (int i = 0; i < s->nbps; i++)
                if (s->bps[i] == addr) at = i;
            if (on && at < 0 && s->nbps < 64) s->bps[s->nbps++] = addr;
            if (!on && at >= 0) s->bps[at] = s->bps[--s->nbps];
            machine_set_breakpoint(s->m, addr, on);
            rsp_send(&s->rsp, "OK");
            break;
        }
        case 'c': send_stop(s, run_forward(s, 0, true)); break;
        case 's': send_stop(s, run_forward(s, s->m->cpu.icount + 1, false)); break;
        case 'b':
            if (!s->path) {
                rsp_send(&s->rsp, "E01"); /* a live guest has no recorded past */
                break;
            }
            if (pkt[1] == 's') {
                if (s->m->cpu.icount == 0) {
                    send_stop(s, "replaylog:begin;");
                } else if (go_to(s, s->m->cpu.icount - 1) != 0) {
                    rsp_send(&s->rsp, "E01");
                } else {
                    send_stop(s, "");
                }
            } else if (pkt[1] == 'c') {
                if (reverse_continue(s) != 0) rsp_send(&s->rsp, "E01");
            } else {
                rsp_send(&s->rsp, "");
            }
            break;
        case 'v':
            if (!strncmp(pkt, "vCont?", 6)) {
                rsp_send(&s->rsp, "vCont;c;C;s;S");
            } else if (!strncmp(pkt, "vCont;", 6)) {
                char a = pkt[6];
                if (a == 'c' || a == 'C')
                    send_stop(s, run_forward(s, 0, true));
                else if (a == 's' || a == 'S')
                    send_stop(s, run_forward(s, s->m->cpu.icount + 1, false));
                else
                    rsp_send(&s->rsp, "");
            } else if (!strncmp(pkt, "vKill", 5)) {
                rsp_send(&s->rsp, "OK");
                s->killed = true;
                return 0;
            } else {
                rsp_send(&s->rsp, "");
            }
            break;
        case 'k': s->killed = true; return 0;
        case 'D': rsp_send(&s->rsp, "OK"); return 0;
        case 'H': rsp_send(&s->rsp, "OK"); break;
        case 'T': rsp_send(&s->rsp, "OK"); break;
        case 'q':
            if (!strncmp(pkt, "qSupported", 10)) {
                rsp_send(&s->rsp, s->path ? "PacketSize=4000;qXfer:features:read+;swbreak+;"
                                            "hwbreak+;ReverseStep+;ReverseContinue+;"
                                            "QStartNoAckMode+"
                                          : "PacketSize=4000;qXfer:features:read+;swbreak+;"
                                            "hwbreak+;QStartNoAckMode+");
            } else if (!strncmp(pkt, "qXfer:features:read:target.xml:", 31)) {
                unsigned off, len;
                if (sscanf(pkt + 31, "%x,%x", &off, &len) != 2) {
                    rsp_send(&s->rsp, "E01");
                    break;
                }
                size_t total = sizeof TARGET_XML - 1;
                if (off >= total) {
                    rsp_send(&s->rsp, "l");
                    break;
                }
                size_t k = total - off < len ? total - off : len;
                if (k > sizeof out - 2) k = sizeof out - 2;
                out[0] = off + k < total ? 'm' : 'l';
                memcpy(out + 1, TARGET_XML + off, k);
                out[1 + k] = 0;
                rsp_send(&s->rsp, out);
            } else if (!strcmp(pkt, "qAttached")) {
                rsp_send(&s->rsp, "1");
            } else if (!strcmp(pkt, "qC")) {
                rsp_send(&s->rsp, "QC1");
            } else if (!strcmp(pkt, "qfThreadInfo")) {
                rsp_send(&s->rsp, "m1");
            } else if (!strcmp(pkt, "qsThreadInfo")) {
                rsp_send(&s->rsp, "l");
            } else if (!strncmp(pkt, "qRcmd,", 6)) {
                handle_monitor(s, pkt + 6);
            } else if (!strncmp(pkt, "qSymbol", 7)) {
                rsp_send(&s->rsp, "OK");
            } else {
                rsp_send(&s->rsp, "");
            }
            break;
        case 'Q':
            if (!strcmp(pkt, "QStartNoAckMode")) {
                rsp_send(&s->rsp, "OK");
                s->rsp.noack = true;
            } else {
                rsp_send(&s->rsp, "");
            }
            break;
        default: rsp_send(&s->rsp, ""); break;
        }
    }
}

int gdbstub_serve_replay(const char *path, int port, int in_fd, int out_fd, char *err,
                         size_t errlen) {
    struct session *s = calloc(1, sizeof *s);
    if (!s) return -1;
    s->path = path;
    if (restart(s) != 0) {
        snprintf(err, errlen, "%s", s->err);
        free(s);
        return -1;
    }
    /* the first pass shows the guest's output as it happens */
    s->m->serial_out = stdout;
    uart16550_init(&s->m->com1, port ? stdout : stderr);
    if (port) {
        if (rsp_accept_tcp(&s->rsp, port) != 0) {
            snprintf(err, errlen, "%s", s->rsp.err);
            replay_close(s->m);
            machine_destroy(s->m);
            free(s);
            return -1;
        }
    } else {
        rsp_init_fds(&s->rsp, in_fd, out_fd);
    }
    int rc = serve(s);
    while (rc == SERVE_HUNG_UP && port && !s->killed) {
        rsp_close(&s->rsp);
        forget_gdb_state(s);
        fprintf(stderr, "rrvm: gdb hung up at icount %llu; the replay stays there\n",
                (unsigned long long)s->m->cpu.icount);
        if (rsp_accept_tcp(&s->rsp, port) != 0) {
            snprintf(err, errlen, "%s", s->rsp.err);
            rc = -1;
            break;
        }
        rc = serve(s);
    }
    if (rc == SERVE_HUNG_UP) rc = 0;
    rsp_close(&s->rsp);
    for (int i = 0; i < s->ncps; i++)
        checkpoint_free(s->cps[i]);
    if (s->m) {
        replay_close(s->m);
        machine_destroy(s->m);
    }
    free(s);
    return rc;
}

int gdbstub_serve_live(struct machine *m, int port, enum run_result *result, char *err,
                       size_t errlen) {
    struct session *s = calloc(1, sizeof *s);
    if (!s) return -1;
    s->m = m;
    if (rsp_accept_tcp(&s->rsp, port) != 0) {
        snprintf(err, errlen, "%s", s->rsp.err);
        free(s);
        return -1;
    }
    int rc = serve(s);
    while (rc == SERVE_HUNG_UP && !s->killed && !s->at_end) {
        /* the guest stays stopped for the next gdb (a detach lets it run on) */
        rsp_close(&s->rsp);
        forget_gdb_state(s);
        fprintf(stderr, "rrvm: gdb hung up at icount %llu; the guest stays stopped\n",
                (unsigned long long)m->cpu.icount);
        if (rsp_accept_tcp(&s->rsp, port) != 0) {
            snprintf(err, errlen, "%s", s->rsp.err);
            rc = -1;
            break;
        }
        rc = serve(s);
    }
    rsp_close(&s->rsp);
    /* breakpoints and watchpoints go away with gdb */
    while (m->nbreakpoints)
        machine_set_breakpoint(m, m->breakpoints[0], false);
    machine_set_watches(m, NULL, 0);
    *result = s->at_end ? s->last : RUN_ICOUNT_LIMIT; /* ICOUNT_LIMIT: still running */
    int killed = s->killed;
    free(s);
    return rc < 0 ? -1 : killed;
}
