#include "insn.h"

/* jcc: one bit per condition; short and near (disp32) encodings. */
#define JCC(CC, BIT, PFX)                                                                          \
    __asm__ volatile("push %[fi]; popf\n\t" PFX "j" CC " 1f\n\t"                                   \
                     "jmp 2f\n1:\torl %[bit], %[s]\n2:"                                            \
                     : [s] "+r"(s)                                                                 \
                     : [fi] "r"(fi), [bit] "i"(1u << (BIT))                                        \
                     : "cc")
#define ALLJCC(PFX, OFF)                                                                           \
    JCC("o", OFF + 0, PFX);                                                                        \
    JCC("no", OFF + 1, PFX);                                                                       \
    JCC("b", OFF + 2, PFX);                                                                        \
    JCC("ae", OFF + 3, PFX);                                                                       \
    JCC("e", OFF + 4, PFX);                                                                        \
    JCC("ne", OFF + 5, PFX);                                                                       \
    JCC("be", OFF + 6, PFX);                                                                       \
    JCC("a", OFF + 7, PFX);                                                                        \
    JCC("s", OFF + 8, PFX);                                                                        \
    JCC("ns", OFF + 9, PFX);                                                                       \
    JCC("p", OFF + 10, PFX);                                                                       \
    JCC("np", OFF + 11, PFX);                                                                      \
    JCC("l", OFF + 12, PFX);                                                                       \
    JCC("ge", OFF + 13, PFX);                                                                      \
    JCC("le", OFF + 14, PFX);                                                                      \
    JCC("g", OFF + 15, PFX)

static uint32_t f_a(uint32_t x) {
    return x * 3 + 1;
}
static uint32_t f_b(uint32_t x) {
    return x ^ 0xdeadbeefu;
}
static uint32_t f_c(uint32_t x) {
    return (x << 7) | (x >> 25);
}
static uint32_t f_d(uint32_t x) {
    return x - 12345;
}
typedef uint32_t (*fp_t)(uint32_t);
static fp_t volatile table[4] = {f_a, f_b, f_c, f_d};

static __attribute__((noinline)) uint32_t sw(uint32_t v, uint32_t x) {
    switch (v) { /* dense: compiled to a jump table */
    case 0: return x + 1;
    case 1: return x * 5;
    case 2: return x ^ 0x1234;
    case 3: return x >> 3;
    case 4: return ~x;
    case 5: return x - 99;
    case 6: return x << 2;
    case 7: return x | 0x80000000u;
    case 8: return x & 0xffff;
    case 9: return x * x;
    case 10: return x + 0x55555555u;
    default: return 0;
    }
}

int kmain(void) {
    group_begin();
    for (int i = 0; i < 512; i++) {
        uint32_t fi = ((uint32_t)i & 0x1ff), s = 0;
        /* spread the 9 low bits of i over CF PF AF ZF SF OF */
        fi = ((fi & 1) ? F_CF : 0) | ((fi & 2) ? F_PF : 0) | ((fi & 4) ? F_ZF : 0) |
             ((fi & 8) ? F_SF : 0) | ((fi & 16) ? F_OF : 0) | ((fi & 32) ? F_AF : 0) | 2;
        ALLJCC("", 0);
        ALLJCC("%{disp32%} ", 16);
        hmix(s);
    }
    group_end("control jcc");

    group_begin();
    for (int i = 0; i < 64; i++) {
        uint32_t c = (uint32_t)i, n = 0, t = 0;
        __asm__ volatile("jecxz 2f\n1:\tincl %[n]\n\tloop 1b\n2:" : "+c"(c), [n] "+r"(n) : : "cc");
        hmix(c);
        hmix(n);
        /* loope: continue while equal; stops when a counter hits a mark */
        c = 100;
        n = 0;
        __asm__ volatile("1:\tincl %[n]\n\tcmpl %[m], %[n]\n\tloopne 1b"
                         : "+c"(c), [n] "+r"(n)
                         : [m] "r"((uint32_t)i + 1)
                         : "cc");
        hmix(c);
        hmix(n);
        c = 50;
        n = 0;
        __asm__ volatile("1:\tincl %[n]\n\tcmpl %[m], %[t]\n\tloope 1b"
                         : "+c"(c), [n] "+r"(n)
                         : [m] "r"((uint32_t)i & 3), [t] "r"(0u)
                         : "cc");
        hmix(c);
        hmix(n);
        c = 0;
        __asm__ volatile("jecxz 1f\n\tmovl $1, %[t]\n1:" : [t] "+r"(t) : "c"(c));
        hmix(t);
    }
    group_end("control loop/jecxz");

    group_begin();
    for (int i = 0; i < NITER; i++) {
        uint32_t x = operand(i), r, k = rnd() & 3;
        fp_t f = table[k];
        __asm__ volatile("push %[x]; call *%[f]; add $4, %%esp"
                         : "=a"(r)
                         : [f] "r"(f), [x] "r"(x)
                         : "ecx", "edx", "memory", "cc");
        hmix(r);
        __asm__ volatile("push %[x]; call *%[m]; add $4, %%esp"
                         : "=a"(r)
                         : [m] "m"(table[k ^ 1]), [x] "r"(x)
                         : "ecx", "edx", "memory", "cc");
        hmix(r);
        __asm__ volatile("push %[x]; call *table(,%[k],4); add $4, %%esp"
                         : "=a"(r)
                         : [k] "r"(k ^ 2), [x] "r"(x)
                         : "ecx", "edx", "memory", "cc");
        hmix(r);
        /* indirect jumps through a register and through memory */
        static const void *volatile targets[3];
        uint32_t v = 0;
        __asm__ volatile("movl $1f, %[t]\n\tjmp *%[t]\n\tmovl $111, %[v]\n"
                         "1:\taddl $7, %[v]\n\t"
                         "movl $2f, %[m]\n\tjmp *%[m]\n\tmovl $222, %[v]\n"
                         "2:\taddl $9, %[v]"
                         : [v] "+r"(v), [t] "=&r"(r), [m] "=m"(targets[0])
                         :
                         : "cc");
        hmix(v);
        hmix(sw(rnd() % 13, x));
        hmix(sw((uint32_t)i % 11, x));
    }
    group_end("control indirect/jumptable");
    return 0;
}
