#include "insn.h"

#define MULF (F_CF | F_OF)

static void g_mul(void) {
    group_begin();
    for (int i = 0; i < NITER; i++) {
        uint32_t a = operand(i), b = operand((i * 3 + 11) % NITER), fi = rflags();
        uint32_t lo = a, hi = 0x5a5a5a5a, f;
        __asm__ volatile("push %[fi]; popf; mull %[b]; pushf; pop %[f]"
                         : "+a"(lo), "+d"(hi), [f] "=&r"(f)
                         : [b] "r"(b), [fi] "r"(fi)
                         : "cc");
        hmix(lo);
        hmix(hi);
        hmix(f & MULF);
        uint16_t lw = (uint16_t)a, hw = 0x1234;
        __asm__ volatile("push %[fi]; popf; mulw %[b]; pushf; pop %[f]"
                         : "+a"(lw), "+d"(hw), [f] "=&r"(f)
                         : [b] "r"((uint16_t)b), [fi] "r"(fi)
                         : "cc");
        hmix(lw);
        hmix(hw);
        hmix(f & MULF);
        uint32_t ax = a;
        __asm__ volatile("push %[fi]; popf; mulb %[b]; pushf; pop %[f]"
                         : "+a"(ax), [f] "=&r"(f)
                         : [b] "q"((uint8_t)b), [fi] "r"(fi)
                         : "cc");
        hmix(ax);
        hmix(f & MULF);
        volatile uint32_t m = b;
        lo = a;
        hi = 0;
        __asm__ volatile("push %[fi]; popf; mull %[m]; pushf; pop %[f]"
                         : "+a"(lo), "+d"(hi), [f] "=&r"(f)
                         : [m] "m"(m), [fi] "r"(fi)
                         : "cc");
        hmix(lo);
        hmix(hi);
        hmix(f & MULF);
    }
    group_end("muldiv mul");
}

static void g_imul(void) {
    group_begin();
    for (int i = 0; i < NITER; i++) {
        uint32_t a = operand(i), b = operand((i * 3 + 11) % NITER), fi = rflags();
        uint32_t lo = a, hi = 0, f;
        __asm__ volatile("push %[fi]; popf; imull %[b]; pushf; pop %[f]"
                         : "+a"(lo), "+d"(hi), [f] "=&r"(f)
                         : [b] "r"(b), [fi] "r"(fi)
                         : "cc");
        hmix(lo);
        hmix(hi);
        hmix(f & MULF);
        uint16_t lw = (uint16_t)a, hw = 0;
        __asm__ volatile("push %[fi]; popf; imulw %[b]; pushf; pop %[f]"
                         : "+a"(lw), "+d"(hw), [f] "=&r"(f)
                         : [b] "r"((uint16_t)b), [fi] "r"(fi)
                         : "cc");
        hmix(lw);
        hmix(hw);
        hmix(f & MULF);
        uint32_t ax = a;
        __asm__ volatile("push %[fi]; popf; imulb %[b]; pushf; pop %[f]"
                         : "+a"(ax), [f] "=&r"(f)
                         : [b] "q"((uint8_t)b), [fi] "r"(fi)
                         : "cc");
        hmix(ax);
        hmix(f & MULF);
        RUN2("imul", uint32_t, "k", a, b, fi, MULF);
        RUN2("imul", uint16_t, "w", a, b, fi, MULF);
        RUN2R("imull", uint32_t, "k", a, b, fi, MULF);
        uint32_t r;
        __asm__ volatile("push %[fi]; popf; imull $-77, %[b], %[r]; pushf; pop %[f]"
                         : [r] "=&r"(r), [f] "=&r"(f)
                         : [b] "r"(b), [fi] "r"(fi)
                         : "cc");
        hmix(r);
        hmix(f & MULF);
        __asm__ volatile("push %[fi]; popf; imull $0x12345, %[b], %[r]; pushf; pop %[f]"
                         : [r] "=&r"(r), [f] "=&r"(f)
                         : [b] "r"(b), [fi] "r"(fi)
                         : "cc");
        hmix(r);
        hmix(f & MULF);
        uint16_t rw;
        __asm__ volatile("push %[fi]; popf; imulw $300, %[b], %[r]; pushf; pop %[f]"
                         : [r] "=&r"(rw), [f] "=&r"(f)
                         : [b] "r"((uint16_t)b), [fi] "r"(fi)
                         : "cc");
        hmix(rw);
        hmix(f & MULF);
    }
    group_end("muldiv imul");
}

static void g_div(void) {
    group_begin();
    for (int i = 0; i < NITER; i++) {
        uint32_t a = operand(i), d = operand((i * 3 + 11) % NITER), fi = rflags();
        if (d == 0) d = 7;
        uint32_t q = a, r = rnd() % d;
        __asm__ volatile("push %[fi]; popf; divl %[d]"
                         : "+a"(q), "+d"(r)
                         : [d] "r"(d), [fi] "r"(fi)
                         : "cc");
        hmix(q);
        hmix(r);
        uint16_t d16 = (uint16_t)d ? (uint16_t)d : 3;
        uint16_t qw = (uint16_t)a, rw = (uint16_t)(rnd() % d16);
        __asm__ volatile("push %[fi]; popf; divw %[d]"
                         : "+a"(qw), "+d"(rw)
                         : [d] "r"(d16), [fi] "r"(fi)
                         : "cc");
        hmix(qw);
        hmix(rw);
        uint8_t d8 = (uint8_t)d ? (uint8_t)d : 5;
        uint16_t ax = (uint16_t)((rnd() % d8) << 8 | (a & 0xff));
        __asm__ volatile("push %[fi]; popf; divb %[d]"
                         : "+a"(ax)
                         : [d] "q"(d8), [fi] "r"(fi)
                         : "cc");
        hmix(ax);
        volatile uint32_t m = d;
        q = a;
        r = 0;
        __asm__ volatile("divl %[m]" : "+a"(q), "+d"(r) : [m] "m"(m) : "cc");
        hmix(q);
        hmix(r);
    }
    group_end("muldiv div");
}

static void g_idiv(void) {
    group_begin();
    for (int i = 0; i < NITER; i++) {
        uint32_t a = operand(i), d = operand((i * 3 + 11) % NITER);
        if (d == 0) d = (uint32_t)-3;
        if (a == 0x80000000u && d == 0xffffffffu) a = 0x80000001u;
        uint32_t q = a, r;
        __asm__ volatile("cltd; idivl %[d]" : "+a"(q), "=&d"(r) : [d] "r"(d) : "cc");
        hmix(q);
        hmix(r);
        uint16_t d16 = (uint16_t)d ? (uint16_t)d : 3, qw = (uint16_t)a, rw;
        if (qw == 0x8000 && d16 == 0xffff) qw = 0x8001;
        __asm__ volatile("cwtd; idivw %[d]" : "+a"(qw), "=&d"(rw) : [d] "r"(d16) : "cc");
        hmix(qw);
        hmix(rw);
        uint8_t d8 = (uint8_t)d ? (uint8_t)d : 5;
        uint16_t ax = (uint8_t)a;
        if (ax == 0x80 && d8 == 0xff) ax = 0x81;
        __asm__ volatile("cbtw; idivb %[d]" : "+a"(ax) : [d] "q"(d8) : "cc");
        hmix(ax);
    }
    group_end("muldiv idiv");
}

int kmain(void) {
    g_mul();
    g_imul();
    g_div();
    g_idiv();
    return 0;
}
