/* minios user programs (ring 3). Everything here lives in .text.user*, which the kernel
   maps user-accessible; no globals, no string literals outside the section, no libc. */
#include "minios.h"

#define U __attribute__((section(".text.user"), noinline))
#define UD __attribute__((section(".text.user.rodata")))
#define UA static inline __attribute__((always_inline))

UA int sc80(int nr, int a, int b, int c) {
    int r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "S"(b), "D"(c) : "memory", "cc");
    return r;
}
UA uint32_t urdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return lo;
}

UA uint64_t urdtsc64(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

/* Per-call system call path: via INT 0x80 (0) or SYSENTER (1). */
U static int sc(int how, int nr, int a, int b, int c) {
    return how ? u_sysenter(nr, a, b, c) : sc80(nr, a, b, c);
}
U static int ustrlen(const char *s) {
    int n = 0;
    while (s[n])
        n++;
    return n;
}
U static void uwrite(int how, const char *s) { sc(how, SYS_WRITE, (int)s, ustrlen(s), 0); }
/* Appends hex/decimal renderings into a small line builder on the caller's stack. */
struct line { char b[96]; int n; };
U static void lput(struct line *l, const char *s) {
    while (*s && l->n < 94)
        l->b[l->n++] = *s++;
    l->b[l->n] = 0;
}
U static void lhex(struct line *l, uint32_t v) {
    for (int i = 28; i >= 0; i -= 4) {
        uint32_t d = (v >> i) & 15;
        l->b[l->n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    }
    l->b[l->n] = 0;
}
U static void ldec(struct line *l, uint32_t v) {
    char t[12];
    int k = 0;
    do {
        t[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k)
        l->b[l->n++] = t[--k];
    l->b[l->n] = 0;
}

UD static const char s_hello[] = "hello from task ";
UD static const char s_via80[] = " via int 0x80\n";
UD static const char s_viase[] = " via sysenter\n";
UD static const char s_heapz[] = "demand-zero heap reads zero: ";
UD static const char s_yes[] = "yes\n";
UD static const char s_no[] = "NO\n";
UD static const char s_cks[] = "checksum: ";
UD static const char s_nl[] = "\n";
UD static const char s_regs[] = "registers preserved across preemption: ";
UD static const char s_sleep[] = "sleep 5 x 4 ticks, elapsed >= requested: ";
UD static const char s_about[] = "about to fault: ";
UD static const char s_after[] = "ERROR: survived the fault\n";
UD static const char s_de[] = "divide by zero\n";
UD static const char s_ud[] = "ud2\n";
UD static const char s_hlt[] = "hlt in ring 3\n";
UD static const char s_kread[] = "read a kernel page\n";
UD static const char s_int20[] = "int 0x20 (DPL 0 gate)\n";
UD static const char *const fault_names[5] = {s_de, s_ud, s_hlt, s_kread, s_int20};
UD static const char s_echo[] = "echo: ";
UD static const char s_noin[] = "echo: (no input)\n";

/* Register-preservation check: all general registers hold patterns across a long loop
   during which the timer preempts the task; returns 1 if they all survived. */
U static int regcheck(void) {
    uint32_t bad;
    __asm__ volatile(
        "pushl %%ebp\n\t"
        "movl $0x11111111, %%eax\n\t"
        "movl $0x22222222, %%ebx\n\t"
        "movl $0x33333333, %%edx\n\t"
        "movl $0x44444444, %%esi\n\t"
        "movl $0x55555555, %%edi\n\t"
        "movl $0x66666666, %%ebp\n\t"
        "movl $3000000, %%ecx\n\t"
        "1:\n\t"
        "addl $0x01010101, %%eax\n\t"
        "subl $0x01010101, %%eax\n\t"
        "decl %%ecx\n\t"
        "jnz 1b\n\t"
        "xorl $0x11111111, %%eax\n\t"
        "xorl $0x22222222, %%ebx\n\t"
        "orl %%ebx, %%eax\n\t"
        "xorl $0x33333333, %%edx\n\t"
        "orl %%edx, %%eax\n\t"
        "xorl $0x44444444, %%esi\n\t"
        "orl %%esi, %%eax\n\t"
        "xorl $0x55555555, %%edi\n\t"
        "orl %%edi, %%eax\n\t"
        "xorl $0x66666666, %%ebp\n\t"
        "orl %%ebp, %%eax\n\t"
        "popl %%ebp\n\t"
        : "=a"(bad)
        :
        : "ebx", "ecx", "edx", "esi", "edi", "memory", "cc");
    return bad == 0;
}

/* Compute task: arg = system call path. */
U void user_compute(int how) {
    struct line l;
    l.n = 0;
    int pid = sc(how, SYS_GETPID, 0, 0, 0);
    lput(&l, s_hello);
    ldec(&l, (uint32_t)pid);
    lput(&l, how ? s_viase : s_via80);
    uwrite(how, l.b);

    volatile uint32_t *heap = (volatile uint32_t *)HEAP_LO;
    const int words = 16 * 1024; /* 16 pages touched on demand */
    int zero = 1;
    for (int i = 0; i < words; i += 256)
        if (heap[i + (pid & 7)] != 0) zero = 0;
    uint32_t x = 0x9e3779b9u * (uint32_t)pid, h = 0x811c9dc5u;
    for (int i = 0; i < words; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        heap[i] = x;
    }
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < words; i++) {
            uint32_t v = heap[(i * 7 + round) & (words - 1)];
            h = (h ^ v) * 0x01000193u;
            h ^= h >> 15;
            heap[i] = v + h;
        }
        sc(how, SYS_YIELD, 0, 0, 0);
    }
    l.n = 0;
    lput(&l, s_heapz);
    lput(&l, zero ? s_yes : s_no);
    uwrite(how, l.b);
    l.n = 0;
    lput(&l, s_cks);
    lhex(&l, h);
    lput(&l, s_nl);
    uwrite(how, l.b);
    int ok = regcheck();
    l.n = 0;
    lput(&l, s_regs);
    lput(&l, ok ? s_yes : s_no);
    uwrite(how, l.b);
    sc(how, SYS_EXIT, ok && zero ? 0 : 1, 0, 0);
}

U void user_sleeper(int how) {
    int ok = 1;
    for (int i = 0; i < 5; i++) {
        uint32_t t0 = (uint32_t)sc(how, SYS_TICKS, 0, 0, 0);
        sc(how, SYS_SLEEP, 4, 0, 0);
        uint32_t t1 = (uint32_t)sc(how, SYS_TICKS, 0, 0, 0);
        if (t1 - t0 < 4) ok = 0;
    }
    struct line l;
    l.n = 0;
    lput(&l, s_sleep);
    lput(&l, ok ? s_yes : s_no);
    uwrite(how, l.b);
    sc(how, SYS_EXIT, ok ? 0 : 1, 0, 0);
}

/* Faulting tasks: kind 0 #DE, 1 #UD, 2 #GP (hlt), 3 #PF (kernel page), 4 #GP (int 0x20). */
U void user_fault(int kind) {
    struct line l;
    l.n = 0;
    lput(&l, s_about);
    lput(&l, fault_names[kind]);
    uwrite(0, l.b);
    switch (kind) {
    case 0: {
        uint32_t a = 1234, d = 0, z = 0;
        __asm__ volatile("divl %2" : "+a"(a), "+d"(d) : "r"(z));
        break;
    }
    case 1: __asm__ volatile("ud2"); break;
    case 2: __asm__ volatile("hlt"); break;
    case 3: (void)*(volatile uint32_t *)0x00100000; break;
    default: __asm__ volatile("int $0x20"); break;
    }
    uwrite(0, s_after);
    sc(0, SYS_EXIT, 1, 0, 0);
}

/* Echo task: lines = number of lines to wait for (0: give up after a quiet period). */
U void user_echo(int lines) {
    struct line l;
    l.n = 0;
    int got = 0, any = 0;
    lput(&l, s_echo);
    for (;;) {
        if (lines && got >= lines) break;
        int c = sc(1, SYS_READ, lines ? 0 : 300, 0, 0);
        if (c < 0) break;
        any = 1;
        if (c == '\r' || c == '\n') {
            if (l.n > 6) {
                lput(&l, s_nl);
                uwrite(1, l.b);
                got++;
            }
            l.n = 0;
            lput(&l, s_echo);
            continue;
        }
        char t[2] = {(char)c, 0};
        lput(&l, t);
    }
    if (l.n > 6) {
        lput(&l, s_nl);
        uwrite(1, l.b);
    }
    if (!any) uwrite(1, s_noin);
    sc(1, SYS_EXIT, 0, 0, 0);
}

/* Benchmark programs (minios_bench). */
U void user_bench(int arg) {
    int row = arg & 0xff;
    uint32_t n = (uint32_t)arg >> 8;
    uint64_t t0 = urdtsc64();
    switch (row) {
    case 1: for (uint32_t i = 0; i < n; i++) sc80(SYS_NOP, 0, 0, 0); break;
    case 2: for (uint32_t i = 0; i < n; i++) u_sysenter(SYS_NOP, 0, 0, 0); break;
    case 3: for (uint32_t i = 0; i < n; i++) sc80(SYS_YIELD, 0, 0, 0); break;
    default: break;
    }
    /* cycles per call (per switch for the ping-pong, two per iteration), with 32-bit
     * division only (no libgcc __udivdi3): a 64-bit difference, as QEMU's host TSC ticks
     * overflow 32 bits over a long row */
    uint64_t dt = urdtsc64() - t0;
    uint32_t div = row == 3 ? 2 * n : n;
    while (dt >> 32) {
        dt >>= 1;
        div >>= 1;
    }
    sc80(SYS_EXIT, div ? (int)((uint32_t)dt / div) : 0, 0, 0);
}
