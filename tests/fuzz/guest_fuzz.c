/* Guest fuzzer: random instruction streams run as ring-0 and ring-3 guest code, with paging
 * off and on, on one machine whose state is reset between cases. Every outcome must be
 * guest-visible behaviour (an exception delivered to the guest's IDT, a triple fault, a
 * halt, the instruction limit, a device exit) or a clearly worded "not supported" monitor
 * error; a crash (ASan/UBSan abort, host signal), a hang (watchdog) or any other monitor
 * error fails the run.
 *
 *   guest_fuzz [SECONDS] [SEED]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hv/machine.h"
#include "hv/segments.h"

/* Guest-physical layout of the fuzz machine. */
#define GDT 0x1000u
#define IDT 0x2000u
#define HANDLER 0x3000u
#define TSS 0x4000u
#define PGDIR 0x5000u
#define STACK0 0x9000u
#define CODE 0x10000u
#define CODE_LEN 0x4000u
#define STACK3 0x80000u
#define RAM_MB 8u

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd32(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static void put32(struct machine *m, uint32_t pa, uint32_t v) {
    guest_phys_write(m, pa, &v, 4);
}

static void put_desc(struct machine *m, int idx, uint32_t base, uint32_t limit, uint16_t attr) {
    uint32_t lo = (limit & 0xffff) | (base << 16);
    uint32_t hi =
        ((base >> 16) & 0xff) | ((uint32_t)attr << 8) | (limit & 0xf0000) | (base & 0xff000000u);
    put32(m, GDT + 8u * (uint32_t)idx, lo);
    put32(m, GDT + 8u * (uint32_t)idx + 4, hi);
}

/* Tables the random code runs against: flat ring-0/ring-3 segments, a TSS, an IDT whose
 * every gate (DPL 3, so INT n works from ring 3) leads to "hlt" with interrupts off, and a
 * page directory of 4 MiB identity pages (the second one supervisor-only and read-only). */
static void build_tables(struct machine *m) {
    put_desc(m, 0, 0, 0, 0);
    put_desc(m, 1, 0, 0xfffff, 0xc09b);         /* 0x08 ring-0 code */
    put_desc(m, 2, 0, 0xfffff, 0xc093);         /* 0x10 ring-0 data */
    put_desc(m, 3, 0, 0xfffff, 0xc0fb);         /* 0x1b ring-3 code */
    put_desc(m, 4, 0, 0xfffff, 0xc0f3);         /* 0x23 ring-3 data */
    put_desc(m, 5, TSS, 0x67, 0x0089);          /* 0x28 TSS */
    put_desc(m, 6, 0, 0xfffff, 0xc093 & ~0x80); /* 0x30 not present */
    for (uint32_t v = 0; v < 256; v++) {
        put32(m, IDT + 8 * v, (HANDLER & 0xffff) | (0x08u << 16));
        put32(m, IDT + 8 * v + 4, (HANDLER & 0xffff0000u) | 0xee00u); /* P, DPL 3, int gate */
    }
    uint8_t hlt[2] = {0xf4, 0xeb}; /* hlt; (jmp back, never reached with IF=0) */
    guest_phys_write(m, HANDLER, hlt, 1);
    put32(m, TSS + 4, STACK0);
    put32(m, TSS + 8, 0x10);
    put32(m, TSS + 0x64, 0x68u << 16); /* I/O bitmap offset beyond the limit: none */
    put32(m, PGDIR + 0, 0x000000e7u);  /* 0-4 MiB: P W U PS A D */
    put32(m, PGDIR + 4, 0x00400081u);  /* 4-8 MiB: P PS, supervisor, read-only */
    (void)hlt;
}

static void load_flat(struct machine *m, int sreg, uint16_t sel, uint16_t attr) {
    m->cpu.seg[sreg] = (struct segcache){sel, 0, 0xffffffffu, attr};
}

static void reset_case(struct machine *m, bool ring3, bool paging) {
    struct cpu *c = &m->cpu;
    for (int i = 0; i < 8; i++)
        c->gpr[i] = rnd32() & (i == 4 ? 0 : 0xffffffffu);
    c->gpr[R_ESP] = ring3 ? STACK3 : STACK0 - 0x100;
    c->eip = CODE + (rnd32() % (CODE_LEN - 64));
    cpu_set_eflags(c, 0x2 | (rnd32() & (FL_ARITH | FL_DF)));
    c->gdtr.base = GDT;
    c->gdtr.limit = 7 * 8 - 1;
    c->idtr.base = IDT;
    c->idtr.limit = 256 * 8 - 1;
    c->tr = (struct segcache){0x28, TSS, 0x67, 0x008b};
    c->ldtr = (struct segcache){0, 0, 0, 0};
    c->cr[0] = CR0_PE | CR0_ET | (paging ? CR0_PG | CR0_WP : 0);
    c->cr[3] = PGDIR;
    c->cr[4] = CR4_PSE;
    for (int i = 0; i < 8; i++)
        c->dr[i] = 0;
    if (ring3) {
        load_flat(m, S_CS, 0x1b, 0xc0fb);
        for (int s = 0; s < 6; s++)
            if (s != S_CS) load_flat(m, s, 0x23, 0xc0f3);
    } else {
        load_flat(m, S_CS, 0x08, 0xc09b);
        for (int s = 0; s < 6; s++)
            if (s != S_CS) load_flat(m, s, 0x10, 0xc093);
    }
    cpu_set_cpl(m, ring3 ? 3 : 0);
    machine_tlb_flush(m, false);
    m->nonflat_segment = false;
    m->halted = false;
    m->exited = false;
    m->triple_fault = false;
    m->reset_requested = false;
    m->error[0] = '\0';
}

/* Instructions worth more than their share of random bytes: system, control transfer,
 * segment and string instructions. */
static const uint8_t interesting[][3] = {
    {0x0f, 0x00, 0xd8}, {0x0f, 0x01, 0x10}, {0x0f, 0x01, 0x18}, {0x0f, 0x00, 0x10},
    {0x0f, 0x22, 0xd8}, {0x0f, 0x20, 0xc0}, {0x0f, 0x22, 0xc0}, {0x0f, 0x23, 0xf8},
    {0xcf, 0x90, 0x90}, {0xcd, 0x80, 0x90}, {0xcc, 0x90, 0x90}, {0xce, 0x90, 0x90},
    {0xfa, 0x90, 0x90}, {0xfb, 0x90, 0x90}, {0xf4, 0x90, 0x90}, {0x8e, 0xd8, 0x90},
    {0x8e, 0xd0, 0x90}, {0x1f, 0x90, 0x90}, {0x0f, 0xa1, 0x90}, {0xca, 0x04, 0x00},
    {0xcb, 0x90, 0x90}, {0xe4, 0x40, 0x90}, {0xe6, 0x80, 0x90}, {0xec, 0x90, 0x90},
    {0xf3, 0xa4, 0x90}, {0xf3, 0xab, 0x90}, {0xf2, 0xae, 0x90}, {0x0f, 0x34, 0x90},
    {0x0f, 0x35, 0x90}, {0x0f, 0x31, 0x90}, {0x0f, 0x32, 0x90}, {0x0f, 0x30, 0x90},
    {0x0f, 0x01, 0x38}, {0x0f, 0x06, 0x90}, {0xd9, 0x30, 0x90}, {0x0f, 0xae, 0x00},
    {0x0f, 0x02, 0xc0}, {0x0f, 0x03, 0xc0}, {0x0f, 0x00, 0xe0}, {0x63, 0xc0, 0x90},
    {0x9d, 0x90, 0x90}, {0x62, 0x00, 0x90}, {0xc4, 0x00, 0x90}, {0x0f, 0xb2, 0x00},
    {0xea, 0x00, 0x00}, {0x9a, 0x00, 0x00}, {0xff, 0x28, 0x90}, {0xff, 0x18, 0x90},
};

static void fill_code(struct machine *m) {
    static uint8_t buf[CODE_LEN];
    for (uint32_t i = 0; i < CODE_LEN;) {
        if (rnd32() % 4 == 0) {
            const uint8_t *p = interesting[rnd32() % (sizeof interesting / sizeof interesting[0])];
            for (int k = 0; k < 3 && i < CODE_LEN; k++)
                buf[i++] = p[k];
        } else {
            buf[i++] = (uint8_t)rnd32();
        }
    }
    guest_phys_write(m, CODE, buf, CODE_LEN);
}

static struct machine *g_m;
static uint64_t g_case;

static void on_alarm(int sig) {
    (void)sig;
    char msg[256];
    int n = snprintf(msg, sizeof msg,
                     "guest_fuzz: FAIL: case %llu did not finish within 10 s (hang): eip=0x%08x "
                     "icount=%llu halted=%d cpl=%u\n",
                     (unsigned long long)g_case, g_m->cpu.eip, (unsigned long long)g_m->cpu.icount,
                     g_m->halted, g_m->cpu.cpl);
    ssize_t r = write(2, msg, n > 0 ? (size_t)n : 0);
    (void)r;
    _exit(1);
}

/* Monitor errors that name a documented limitation rather than a bug. */
static bool is_known_limitation(const char *e) {
    return strstr(e, "not supported") != NULL;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 10.0;
    if (argc > 2) rng = strtoull(argv[2], NULL, 0) | 1;
    printf("guest_fuzz: %.0f s, seed %#llx\n", seconds, (unsigned long long)rng);
    char err[256];
    struct machine *m = machine_create(RAM_MB, err, sizeof err);
    if (!m) {
        fprintf(stderr, "guest_fuzz: %s\n", err);
        return 1;
    }
    FILE *devnull = fopen("/dev/null", "w");
    m->serial_out = devnull;
    uart16550_init(&m->com1, devnull);
    machine_power_on(m, CLOCK_VIRTUAL, 0);
    m->idle_limit_ns = 100000000; /* a HLT nothing wakes ends the case after 0.1 s */
    build_tables(m);
    signal(SIGALRM, on_alarm);
    uint64_t counts[8] = {0}, limitations = 0, cases = 0, delivered = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 > seconds)
            break;
        if (cases % 16 == 0) fill_code(m);
        bool ring3 = rnd32() & 1, paging = rnd32() & 1;
        reset_case(m, ring3, paging);
        m->icount_limit = m->cpu.icount + 1000;
        uint64_t ev = m->stats.events_delivered;
        g_m = m;
        g_case = cases + 1;
        alarm(10);
        enum run_result r = machine_run(m);
        alarm(0);
        delivered += m->stats.events_delivered - ev;
        cases++;
        if ((unsigned)r < 8) counts[r]++;
        if (r == RUN_MONITOR_ERROR) {
            if (!is_known_limitation(m->error)) {
                fprintf(stderr,
                        "guest_fuzz: FAIL: case %llu (ring %d, paging %s): monitor error: %s\n",
                        (unsigned long long)cases, ring3 ? 3 : 0, paging ? "on" : "off", m->error);
                uint32_t pa;
                if (mmu_translate(m, m->cpu.eip, false, false, false, &pa) == MMU_OK) {
                    fprintf(stderr, "guest_fuzz: bytes at eip:");
                    for (int k = 0; k < 15 && pa + k < m->ram_size; k++)
                        fprintf(stderr, " %02x", m->ram[pa + k]);
                    fprintf(stderr, "\n");
                }
                return 1;
            }
            limitations++;
            if (getenv("FUZZ_SHOW_LIMITS")) fprintf(stderr, "limitation: %.90s\n", m->error);
        }
    }
    printf("guest_fuzz: %llu cases, %llu exceptions/interrupts delivered to the guest\n",
           (unsigned long long)cases, (unsigned long long)delivered);
    printf("  outcomes: device exit %llu, icount limit %llu, triple fault %llu, halted %llu, "
           "reset %llu, documented limitation %llu\n",
           (unsigned long long)counts[RUN_EXIT_DEVICE],
           (unsigned long long)counts[RUN_ICOUNT_LIMIT],
           (unsigned long long)counts[RUN_GUEST_FAULT], (unsigned long long)counts[RUN_HALTED],
           (unsigned long long)counts[RUN_RESET], (unsigned long long)limitations);
    if (cases < 100) {
        fprintf(stderr, "guest_fuzz: FAIL: only %llu cases ran\n", (unsigned long long)cases);
        return 1;
    }
    machine_destroy(m);
    fclose(devnull);
    printf("guest_fuzz: PASS\n");
    return 0;
}
