/* minios: a small preemptive mini operating system for rrvm (see README in this directory).
   Ring-0 kernel + ring-3 tasks, own GDT/TSS/IDT, PIC+PIT driven round-robin scheduler,
   per-task page directories with demand-zero heap, INT 0x80 and SYSENTER system calls,
   exceptions killing the faulting task, CMOS RTC checks and COM1 receive interrupts.
   Built with -DMINIOS_BENCH it becomes minios_bench (nanobenchmarks). */
#include "../rt.h"
#include "minios.h"

#define NT 10          /* task slots; 0 is the kernel's idle/init task */
#define KSTACK 8192
#define OUTBUF 1024
#define VEC_SYSENTER 0x100
#define PIT_HZ 1000
#define QUANTUM 2      /* ticks */

struct frame {
    uint32_t edi, esi, ebp, kesp, ebx, edx, ecx, eax, gs, fs, es, ds;
    uint32_t vec, err, eip, cs, eflags, uesp, uss;
};

enum { T_FREE, T_READY, T_SLEEP, T_READ, T_DEAD };
struct task {
    int state;
    uint32_t ksp, kstack_top, wake, pd;
    uint32_t exit_code;
    int killed;
    const char *name;
    int outlen;
    char out[OUTBUF];
};

static struct task tasks[NT];
static uint8_t kstacks[NT][KSTACK] __attribute__((aligned(16)));
static int cur, live;
static volatile uint32_t ticks;
static uint32_t nswitch, nfault_dz, nsys80, nsysenter, nirq_serial;
static int quantum_left;

/* ---- descriptors ---- */
struct tss {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags, eax, ecx, edx, ebx, esp,
        ebp, esi, edi, es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap;
} __attribute__((packed));
static struct tss tss;
static uint64_t gdt[6];
static uint64_t idt[256];

extern uint32_t isr_table[48];
extern void isr_128(void), sysenter_entry(void), trap_return(void), load_segments(void);
extern void switch_to(uint32_t *save, uint32_t new_esp);

static uint64_t seg_desc(uint32_t base, uint32_t limit, uint32_t access, uint32_t flags) {
    return (uint64_t)(limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 |
           (uint64_t)access << 40 | (uint64_t)((limit >> 16) & 0xf) << 48 |
           (uint64_t)flags << 52 | (uint64_t)(base >> 24) << 56;
}
static void set_gate(int v, uint32_t off, int dpl) {
    idt[v] = (uint64_t)(off & 0xffff) | (uint64_t)0x08 << 16 |
             (uint64_t)(0x8e | dpl << 5) << 40 | (uint64_t)(off >> 16) << 48;
}
static void wrmsr(uint32_t msr, uint32_t lo) {
    __asm__ volatile("wrmsr" : : "c"(msr), "a"(lo), "d"(0));
}
__attribute__((unused)) static uint32_t rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return lo;
}
static inline uint64_t rdtsc64(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}
static inline void write_cr3(uint32_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline uint32_t read_cr3(void) {
    uint32_t v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
static inline uint32_t read_cr2(void) {
    uint32_t v;
    __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}
static inline void invlpg(uint32_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }

static void panic(const char *msg, uint32_t v) {
    puts_serial("PANIC: ");
    puts_serial(msg);
    puts_serial(" ");
    puthex(v);
    puts_serial("\n");
    guest_exit(3);
}

static void setup_descriptors(void) {
    gdt[0] = 0;
    gdt[1] = seg_desc(0, 0xfffff, 0x9a, 0xc); /* 0x08 ring-0 code */
    gdt[2] = seg_desc(0, 0xfffff, 0x92, 0xc); /* 0x10 ring-0 data */
    gdt[3] = seg_desc(0, 0xfffff, 0xfa, 0xc); /* 0x1b ring-3 code */
    gdt[4] = seg_desc(0, 0xfffff, 0xf2, 0xc); /* 0x23 ring-3 data */
    tss.ss0 = 0x10;
    tss.iomap = sizeof tss; /* no I/O bitmap: ring 3 I/O needs IOPL 3 */
    gdt[5] = seg_desc((uint32_t)&tss, sizeof tss - 1, 0x89, 0x0); /* 0x28 32-bit TSS */
    struct { uint16_t lim; uint32_t base; } __attribute__((packed)) gd = {sizeof gdt - 1, (uint32_t)gdt};
    __asm__ volatile("lgdt %0" : : "m"(gd));
    load_segments();
    __asm__ volatile("ltr %w0" : : "r"(0x28));
    for (int v = 0; v < 48; v++)
        set_gate(v, isr_table[v], 0);
    set_gate(0x80, (uint32_t)isr_128, 3);
    struct { uint16_t lim; uint32_t base; } __attribute__((packed)) id = {sizeof idt - 1, (uint32_t)idt};
    __asm__ volatile("lidt %0" : : "m"(id));
    wrmsr(0x174, 0x08);
    wrmsr(0x176, (uint32_t)sysenter_entry);
}

/* ---- PIC, PIT, UART ---- */
static void setup_pic_pit(void) {
    outb(0x20, 0x11); outb(0xA0, 0x11);
    outb(0x21, 0x20); outb(0xA1, 0x28);
    outb(0x21, 0x04); outb(0xA1, 0x02);
    outb(0x21, 0x01); outb(0xA1, 0x01);
    outb(0x21, (uint8_t)~((1 << 0) | (1 << 4))); /* IRQ0 timer, IRQ4 COM1 */
    outb(0xA1, 0xff);
    uint16_t div = 1193182 / PIT_HZ;
    outb(0x43, 0x34); /* channel 0, lo/hi, mode 2 */
    outb(0x40, (uint8_t)div);
    outb(0x40, (uint8_t)(div >> 8));
}
static uint8_t rxbuf[256];
static volatile uint32_t rx_head, rx_tail;
static void setup_uart(void) {
    while ((inb(0x3FD) & 1) && rx_head - rx_tail < 256) /* bytes that arrived before */
        rxbuf[rx_head++ & 255] = inb(0x3F8);
    outb(0x3F9, 0x01);                        /* IER: received data available */
    outb(0x3FC, 0x0B);                        /* MCR: DTR, RTS, OUT2 */
}

/* ---- paging ---- */
static uint32_t kpt[2][1024] __attribute__((aligned(4096))); /* identity 0..8 MiB */
static uint32_t kpd[1024] __attribute__((aligned(4096)));
static uint32_t next_frame = 0x400000;
static uint32_t alloc_frame(void) {
    if (next_frame >= 0x800000) panic("out of frames", next_frame);
    uint32_t f = next_frame;
    next_frame += 4096;
    memset((void *)f, 0, 4096);
    return f;
}
static void setup_paging(void) {
    uint32_t ub = (uint32_t)user_begin, ue = (uint32_t)user_end;
    for (uint32_t i = 0; i < 2048; i++) {
        uint32_t a = i << 12;
        uint32_t e = a | 3; /* present, writable, supervisor */
        if (a >= ub && a < ue) e = a | 5; /* user code: present, read-only, user */
        kpt[i >> 10][i & 1023] = e;
    }
    if (ue > 0x400000) panic("kernel too large", ue);
    kpd[0] = (uint32_t)kpt[0] | 7; /* U in the PDE: the PTEs decide */
    kpd[1] = (uint32_t)kpt[1] | 3;
    write_cr3((uint32_t)kpd);
    uint32_t cr0;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    cr0 |= 0x80010000u; /* PG | WP */
    __asm__ volatile("mov %0, %%cr0; jmp 1f; 1:" : : "r"(cr0) : "memory");
}
static uint32_t *user_pte(uint32_t pd, uint32_t va) {
    uint32_t pde = ((uint32_t *)pd)[va >> 22];
    if (!(pde & 1)) return 0;
    return &((uint32_t *)(pde & ~0xfffu))[(va >> 12) & 1023];
}

/* ---- tasks ---- */
static void out_append(struct task *t, const char *s, int n) {
    for (int i = 0; i < n && t->outlen < OUTBUF - 1; i++)
        t->out[t->outlen++] = s[i];
}
static void out_str(struct task *t, const char *s) {
    int n = 0;
    while (s[n]) n++;
    out_append(t, s, n);
}
static void out_hex(struct task *t, uint32_t v) {
    char b[8];
    for (int i = 0; i < 8; i++) b[i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
    out_append(t, b, 8);
}
static void out_dec(struct task *t, uint32_t v) {
    char b[12];
    int n = 0;
    do { b[11 - n++] = (char)('0' + v % 10); v /= 10; } while (v);
    out_append(t, b + 12 - n, n);
}

static int spawn(const char *name, void (*entry)(int), int arg, uint32_t eflags) {
    int id = 1;
    while (id < NT && tasks[id].state != T_FREE) id++;
    if (id == NT) panic("no task slot", 0);
    struct task *t = &tasks[id];
    t->name = name;
    t->pd = alloc_frame();
    uint32_t *pd = (uint32_t *)t->pd;
    pd[0] = kpd[0];
    pd[1] = kpd[1];
    uint32_t pt = alloc_frame();
    pd[USER_BASE >> 22] = pt | 7;
    uint32_t stack_phys = 0;
    for (uint32_t va = USER_STACK_TOP - 0x2000; va < USER_STACK_TOP; va += 4096) {
        stack_phys = alloc_frame();
        *user_pte(t->pd, va) = stack_phys | 7;
    }
    /* user stack: [esp] = fake return address, [esp+4] = argument */
    uint32_t *us = (uint32_t *)(stack_phys + 4096 - 8);
    us[0] = 0;
    us[1] = (uint32_t)arg;
    t->kstack_top = (uint32_t)&kstacks[id][KSTACK];
    struct frame *f = (struct frame *)(t->kstack_top - sizeof(struct frame));
    memset(f, 0, sizeof *f);
    f->gs = f->fs = f->es = f->ds = 0x23;
    f->eip = (uint32_t)entry;
    f->cs = 0x1b;
    f->eflags = eflags;
    f->uesp = USER_STACK_TOP - 8;
    f->uss = 0x23;
    uint32_t *k = (uint32_t *)f;
    *--k = (uint32_t)trap_return;
    for (int i = 0; i < 4; i++) *--k = 0; /* ebp ebx esi edi for switch_to */
    t->ksp = (uint32_t)k;
    t->state = T_READY;
    live++;
    return id;
}

static void schedule(void) {
    int prev = cur, next = -1;
    for (int i = 1; i <= NT; i++) {
        int c = (prev + i) % NT;
        if (c != 0 && tasks[c].state == T_READY) { next = c; break; }
    }
    if (next < 0) next = 0;
    quantum_left = QUANTUM;
    if (next == prev) return;
    nswitch++;
    cur = next;
    uint32_t top = next ? tasks[next].kstack_top : 0;
    if (next) {
        tss.esp0 = top;
        wrmsr(0x175, top);
        write_cr3(tasks[next].pd);
    } else {
        write_cr3((uint32_t)kpd);
    }
    switch_to(&tasks[prev].ksp, tasks[next].ksp);
}

static void task_exit(uint32_t code) {
    tasks[cur].state = T_DEAD;
    tasks[cur].exit_code = code;
    live--;
    schedule();
    panic("dead task resumed", (uint32_t)cur);
}

static const char *const exc_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP",
    "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#21", "#22", "#23",
    "#24", "#25", "#26", "#27", "#28", "#29", "#30", "#31"};

#ifdef MINIOS_BENCH
static uint32_t bench_frame;
#endif

static void page_fault(struct frame *f) {
    uint32_t cr2 = read_cr2();
#ifdef MINIOS_BENCH
    if (!(f->err & 1) && (cr2 & ~0xfffu) == BENCH_PF_VA) {
        *user_pte(read_cr3(), cr2) = bench_frame | 3;
        return;
    }
#endif
    if ((f->cs & 3) == 3 && !(f->err & 1) && cr2 >= HEAP_LO && cr2 < HEAP_HI) {
        uint32_t *pte = user_pte(tasks[cur].pd, cr2);
        *pte = alloc_frame() | 7;
        nfault_dz++;
        return;
    }
}

static void kill_task(struct frame *f) {
    struct task *t = &tasks[cur];
    out_str(t, "killed: ");
    out_str(t, exc_names[f->vec]);
    out_str(t, " (vector ");
    out_dec(t, f->vec);
    out_str(t, ", error code 0x");
    out_hex(t, f->err);
    out_str(t, ") in task ");
    out_dec(t, (uint32_t)cur);
    out_str(t, " at eip 0x");
    out_hex(t, f->eip);
    if (f->vec == 14) {
        out_str(t, ", cr2 0x");
        out_hex(t, read_cr2());
    }
    out_str(t, "\n");
    t->killed = 1;
    task_exit(0x100 + f->vec);
}

static void wake_timers(void) {
    for (int i = 1; i < NT; i++) {
        struct task *t = &tasks[i];
        if ((t->state == T_SLEEP || t->state == T_READ) && t->wake && (int32_t)(ticks - t->wake) >= 0)
            t->state = T_READY;
    }
}

static int rx_get(void) {
    if (rx_head == rx_tail) return -1;
    return rxbuf[rx_tail++ & 255];
}

#ifdef MINIOS_BENCH
static uint32_t kbench(int row, uint32_t n);
#endif

static void syscall(struct frame *f) {
    struct task *t = &tasks[cur];
    if (f->vec == VEC_SYSENTER) nsysenter++; else nsys80++;
    switch (f->eax) {
    case SYS_WRITE: {
        uint32_t p = f->ebx, n = f->esi;
        /* only user-readable pages of this task */
        for (uint32_t a = p & ~0xfffu; n && a < p + n; a += 4096) {
            uint32_t *pte = user_pte(t->pd, a);
            if (!pte || (*pte & 5) != 5) { f->eax = (uint32_t)-1; return; }
        }
        out_append(t, (const char *)p, (int)n);
        f->eax = n;
        break;
    }
    case SYS_GETPID: f->eax = (uint32_t)cur; break;
    case SYS_YIELD: f->eax = 0; schedule(); break;
    case SYS_EXIT: task_exit(f->ebx); break;
    case SYS_SLEEP:
        t->state = T_SLEEP;
        t->wake = ticks + f->ebx;
        if (!t->wake) t->wake = 1;
        schedule();
        f->eax = 0;
        break;
    case SYS_READ: {
        int c = rx_get();
        if (c < 0) {
            t->state = T_READ;
            t->wake = f->ebx ? ticks + f->ebx : 0;
            if (f->ebx && !t->wake) t->wake = 1;
            schedule();
            c = rx_get();
        }
        f->eax = (uint32_t)c;
        break;
    }
    case SYS_TICKS: f->eax = ticks; break;
    case SYS_NOP: f->eax = 0; break;
#ifdef MINIOS_BENCH
    case SYS_BENCH: f->eax = kbench((int)f->ebx, f->esi); break;
#endif
    default: f->eax = (uint32_t)-1; break;
    }
}

void trap_handler(struct frame *f);
void trap_handler(struct frame *f) {
    uint32_t v = f->vec;
    if (v == 0x80 || v == VEC_SYSENTER) {
        if ((f->cs & 3) != 3) panic("system call from ring 0", f->eip);
        syscall(f);
        return;
    }
    if (v < 32) {
        if (v == 14) {
            uint32_t n0 = nfault_dz;
#ifdef MINIOS_BENCH
            uint32_t pte_before = (read_cr2() & ~0xfffu) == BENCH_PF_VA;
            if (pte_before) { page_fault(f); return; }
#endif
            page_fault(f);
            if (nfault_dz != n0) return;
        }
        if ((f->cs & 3) != 3) {
            puts_serial("kernel exception ");
            puts_serial(exc_names[v]);
            puts_serial(" err ");
            puthex(f->err);
            puts_serial(" eip ");
            puthex(f->eip);
            puts_serial(" cr2 ");
            puthex(read_cr2());
            puts_serial("\n");
            guest_exit(4);
        }
        kill_task(f);
        return;
    }
    if (v == 0x20) {
        ticks++;
        outb(0x20, 0x20);
        wake_timers();
        if (cur == 0 || --quantum_left <= 0) {
            if ((f->cs & 3) == 3 || cur == 0) schedule();
        }
        return;
    }
    if (v == 0x24) {
        nirq_serial++;
        while (inb(0x3FD) & 1) {
            uint8_t c = inb(0x3F8);
            if (rx_head - rx_tail < 256) rxbuf[rx_head++ & 255] = c;
        }
        outb(0x20, 0x20);
        for (int i = 1; i < NT; i++)
            if (tasks[i].state == T_READ) tasks[i].state = T_READY;
        return;
    }
    if (v >= 0x28) outb(0xA0, 0x20);
    outb(0x20, 0x20); /* spurious / unexpected IRQ */
}

/* ---- CMOS RTC ---- */
static uint8_t cmos(uint8_t r) {
    outb(0x70, r);
    return inb(0x71);
}
static int bcd_ok(uint8_t v) { return (v & 15) <= 9 && (v >> 4) <= 9; }
__attribute__((unused)) static void rtc_check(void) {
    for (int i = 0; i < 1000000 && (cmos(0x0A) & 0x80); i++)
        ;
    uint8_t a = cmos(0x0A), b = cmos(0x0B), d = cmos(0x0D);
    uint8_t sec = cmos(0), min = cmos(2), hr = cmos(4), dow = cmos(6), dom = cmos(7),
            mon = cmos(8), yr = cmos(9), cent = cmos(0x32);
    int bin = b & 4, h24 = b & 2;
    puts_serial("rtc: register A divider = 010 (32.768 kHz): ");
    puts_serial(((a >> 4) & 7) == 2 ? "yes\n" : "no\n");
    puts_serial("rtc: register B: ");
    puts_serial(bin ? "binary, " : "BCD, ");
    puts_serial(h24 ? "24-hour\n" : "12-hour\n");
    puts_serial("rtc: register D valid RAM and time (VRT): ");
    puts_serial(d & 0x80 ? "yes\n" : "no\n");
    int ok = 1;
    uint8_t hv = h24 ? hr : (hr & 0x7f);
    uint8_t f[8] = {sec, min, hv, dow, dom, mon, yr, cent};
    if (!bin)
        for (int i = 0; i < 8; i++) {
            if (!bcd_ok(f[i])) ok = 0;
            f[i] = (uint8_t)((f[i] >> 4) * 10 + (f[i] & 15));
        }
    if (f[0] > 59 || f[1] > 59) ok = 0;
    if (h24 ? f[2] > 23 : (f[2] < 1 || f[2] > 12)) ok = 0;
    if (f[3] < 1 || f[3] > 7 || f[4] < 1 || f[4] > 31 || f[5] < 1 || f[5] > 12) ok = 0;
    if (f[6] > 99 || f[7] < 19 || f[7] > 21) ok = 0;
    puts_serial("rtc: time and date fields in range: ");
    puts_serial(ok ? "yes\n" : "no\n");
}

static void common_setup(void) {
    setup_descriptors();
    setup_paging();
    setup_pic_pit();
    setup_uart();
    cur = 0;
    tasks[0].state = T_READY;
    tasks[0].name = "idle";
}

static void run_until_all_exit(void) {
    quantum_left = QUANTUM;
    __asm__ volatile("sti");
    while (live > 0)
        __asm__ volatile("sti; hlt; cli");
    __asm__ volatile("cli");
}

#ifndef MINIOS_BENCH
extern void user_compute(int), user_sleeper(int), user_fault(int), user_echo(int);

int kmain(uint32_t magic, const struct mb_info *mbi) {
    const char *args = mb_args(magic, mbi);
    uint32_t echo_lines = mb_arg_u32(args, "echo", 0);
    puts_serial("minios: booting\n");
    common_setup();
    puts_serial("minios: GDT, TSS, IDT, PIC (0x20/0x28), PIT 1000 Hz, paging on\n");
    puts_serial("sysenter MSRs: cs ");
    puthex(rdmsr(0x174));
    puts_serial(" eip set: ");
    puts_serial(rdmsr(0x176) == (uint32_t)sysenter_entry ? "yes\n" : "no\n");
    rtc_check();
    spawn("compute/int80", user_compute, 0, 0x202);
    spawn("compute/sysenter", user_compute, 1, 0x202);
    spawn("sleeper", user_sleeper, 1, 0x202);
    spawn("divide", user_fault, 0, 0x202);
    spawn("ud2", user_fault, 1, 0x202);
    spawn("hlt", user_fault, 2, 0x202);
    spawn("kernel-read", user_fault, 3, 0x202);
    spawn("int-0x20", user_fault, 4, 0x202);
    spawn("echo", user_echo, (int)echo_lines, 0x202);
    puts_serial("minios: 9 user tasks started\n");
    run_until_all_exit();
    int fail = 0;
    for (int i = 1; i < NT; i++) {
        struct task *t = &tasks[i];
        if (t->state == T_FREE) continue;
        puts_serial("== task ");
        putdec((uint32_t)i);
        puts_serial(" (");
        puts_serial(t->name);
        puts_serial(") ==\n");
        t->out[t->outlen] = 0;
        puts_serial(t->out);
        puts_serial("exit: ");
        if (t->killed) {
            puts_serial("killed\n");
            if (i < 4 || i == 9) fail = 1;
        } else {
            putdec(t->exit_code);
            puts_serial("\n");
            if (t->exit_code || (i >= 4 && i <= 8)) fail = 1;
        }
    }
    puts_serial("demand-zero page faults: ");
    putdec(nfault_dz);
    puts_serial("\ncontext switches > 10: ");
    puts_serial(nswitch > 10 ? "yes\n" : "no\n");
    puts_serial("timer ticks > 20: ");
    puts_serial(ticks > 20 ? "yes\n" : "no\n");
    puts_serial("int 0x80 calls > 0: ");
    puts_serial(nsys80 ? "yes\n" : "no\n");
    puts_serial("sysenter calls > 0: ");
    puts_serial(nsysenter ? "yes\n" : "no\n");
    puts_serial(fail ? "minios: FAILED\n" : "minios: all tasks finished\n");
    return fail ? 2 : 0;
}
#else
extern void user_bench(int);

static uint32_t kbench(int row, uint32_t n) {
    uint64_t t0 = rdtsc64();
    switch (row) {
    case KB_IN:
        for (uint32_t i = 0; i < n; i++) (void)inb(0x2E0);
        break;
    case KB_OUT:
        for (uint32_t i = 0; i < n; i++) outb(0x80, 0);
        break;
    case KB_CR3: {
        uint32_t c = read_cr3();
        for (uint32_t i = 0; i < n; i++) write_cr3(c);
        break;
    }
    case KB_PF: {
        uint32_t *pte = user_pte(read_cr3(), BENCH_PF_VA);
        for (uint32_t i = 0; i < n; i++) {
            (void)*(volatile uint32_t *)BENCH_PF_VA; /* #PF: the handler maps bench_frame */
            *pte = 0;
            invlpg(BENCH_PF_VA);
        }
        break;
    }
    case KB_INVLPG: {
        uint32_t *pte = user_pte(read_cr3(), BENCH_PF_VA);
        for (uint32_t i = 0; i < n; i++) {
            *pte = (i & 1 ? bench_frame : bench_frame + 4096) | 3;
            invlpg(BENCH_PF_VA);
            (void)*(volatile uint32_t *)BENCH_PF_VA;
        }
        *pte = 0;
        invlpg(BENCH_PF_VA);
        break;
    }
    default: break;
    }
    uint64_t dt = rdtsc64() - t0;
    while (dt >> 32) { /* 32-bit division only (no libgcc __udivdi3) */
        dt >>= 1;
        n >>= 1;
    }
    return n ? (uint32_t)dt / n : 0;
}

static const char *const rows[] = {"empty", "int80", "sysenter", "in", "out", "cr3",
                                   "pf", "invlpg", "ctxsw"};
#define NROWS 9

static int streq_word(const char *p, const char *w) {
    while (*w)
        if (*p++ != *w++) return 0;
    return *p == 0 || *p == ' ';
}

/* Rows 1, 2 (system calls) and 8 (yield ping-pong) run in ring-3 tasks (arg = row | n << 8);
   the others run in the kernel. */
static void run_row(int r, uint32_t n) {
    uint32_t cyc = 0;
    if (r == 0) {
        cyc = 0;
    } else if (r == 1 || r == 2) {
        int id = spawn("bench", user_bench, r | (int)(n << 8), 0x202);
        run_until_all_exit();
        cyc = (uint32_t)tasks[id].exit_code; /* per call, computed by the task */
        tasks[id].state = T_FREE;
    } else if (r == 8) {
        int a = spawn("ping", user_bench, 3 | (int)(n << 8), 0x202);
        int b = spawn("pong", user_bench, 3 | (int)(n << 8), 0x202);
        run_until_all_exit();
        cyc = (uint32_t)tasks[a].exit_code; /* per switch, computed by the task */
        tasks[a].state = tasks[b].state = T_FREE;
    } else {
        static const int kb[] = {0, 0, 0, KB_IN, KB_OUT, KB_CR3, KB_PF, KB_INVLPG};
        cyc = kbench(kb[r], n);
    }
    puts_serial(rows[r]);
    puts_serial(" ");
    putdec(cyc);
    puts_serial("\n");
}

int kmain(uint32_t magic, const struct mb_info *mbi) {
    const char *args = mb_args(magic, mbi);
    uint32_t n = mb_arg_u32(args, "n", 100000);
    if (n >= (1u << 24)) n = (1u << 24) - 1;
    common_setup();
    bench_frame = alloc_frame();
    (void)alloc_frame(); /* second frame for the invlpg row */
    /* kernel rows touch BENCH_PF_VA through a page table of the kernel directory */
    kpd[BENCH_PF_VA >> 22] = alloc_frame() | 3;
    write_cr3((uint32_t)kpd);
    const char *row = 0;
    for (const char *p = args; *p; p++)
        if ((p == args || p[-1] == ' ') && !memcmp(p, "row=", 4)) row = p + 4;
    for (int r = 0; r < NROWS; r++)
        if (!row || streq_word(row, rows[r])) run_row(r, n);
    return 0;
}
#endif
