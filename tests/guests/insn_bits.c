#include "insn.h"

#define BTF (F_CF | F_ZF)

int kmain(void) {
    group_begin();
    for (int i = 0; i < NITER; i++) {
        uint32_t a = operand(i), b = operand((i * 13 + 5) % NITER), fi = rflags();
        RUN2("bt", uint32_t, "k", a, b, fi, BTF);
        RUN2("bts", uint32_t, "k", a, b, fi, BTF);
        RUN2("btr", uint32_t, "k", a, b, fi, BTF);
        RUN2("btc", uint32_t, "k", a, b, fi, BTF);
        RUN2("btsw", uint16_t, "w", a, b, fi, BTF);
        RUN2("btcw", uint16_t, "w", a, b, fi, BTF);
        RUNI("btl", uint32_t, "k", "+r", a, 31, fi, BTF);
        RUNI("btsl", uint32_t, "k", "+r", a, 5, fi, BTF);
        RUNI("btrl", uint32_t, "k", "+r", a, 17, fi, BTF);
        RUNI("btcl", uint32_t, "k", "+r", a, 0, fi, BTF);
        RUNI("btrw", uint16_t, "w", "+r", a, 9, fi, BTF);
        /* bit string in memory with a register offset beyond the dword */
        volatile uint32_t arr[8] = {a, b, ~a, ~b, a ^ b, a + b, 0, 0xffffffffu};
        int32_t off = (int32_t)(b % 200) - 20;
        uint32_t f;
        __asm__ volatile("push %[fi]; popf; btsl %[o], %[m]; pushf; pop %[f]"
                         : [f] "=&r"(f), [m] "+m"(arr[1])
                         : [o] "r"(off), [fi] "r"(fi)
                         : "cc", "memory");
        hmix(f & BTF);
        __asm__ volatile("push %[fi]; popf; btcl %[o], %[m]; pushf; pop %[f]"
                         : [f] "=&r"(f), [m] "+m"(arr[1])
                         : [o] "r"(off + 3), [fi] "r"(fi)
                         : "cc", "memory");
        hmix(f & BTF);
        for (int j = 0; j < 8; j++)
            hmix(arr[j]);
    }
    group_end("bits bt/bts/btr/btc");

    group_begin();
    for (int i = 0; i < NITER; i++) {
        uint32_t a = operand(i), fi = rflags(), r, f;
        if (i & 1) a &= rnd() & rnd();
        r = 0xcafe0000u;
        __asm__ volatile("push %[fi]; popf; bsfl %[a], %[r]; pushf; pop %[f]"
                         : [r] "+r"(r), [f] "=&r"(f)
                         : [a] "r"(a), [fi] "r"(fi)
                         : "cc");
        if (a) hmix(r);
        hmix(f & F_ZF);
        r = 0xcafe0000u;
        __asm__ volatile("push %[fi]; popf; bsrl %[a], %[r]; pushf; pop %[f]"
                         : [r] "+r"(r), [f] "=&r"(f)
                         : [a] "r"(a), [fi] "r"(fi)
                         : "cc");
        if (a) hmix(r);
        hmix(f & F_ZF);
        uint16_t rw = 0;
        __asm__ volatile("push %[fi]; popf; bsrw %[a], %[r]; pushf; pop %[f]"
                         : [r] "+r"(rw), [f] "=&r"(f)
                         : [a] "r"((uint16_t)a), [fi] "r"(fi)
                         : "cc");
        if ((uint16_t)a) hmix(rw);
        hmix(f & F_ZF);
        r = a;
        __asm__ volatile("bswap %0" : "+r"(r));
        hmix(r);
    }
    group_end("bits bsf/bsr/bswap");

    group_begin();
    for (int i = 0; i < NITER; i++) {
        uint32_t fi = (rnd() & F_ARITH) | 2, s = 0, c = 0;
#define SETC(CC, BIT)                                                                              \
    do {                                                                                           \
        uint8_t v_;                                                                                \
        uint32_t m_ = 0x1000u + (BIT);                                                             \
        __asm__ volatile("push %[fi]; popf; set" CC " %[v]; cmov" CC " %[x], %[m]"                 \
                         : [v] "=&q"(v_), [m] "+r"(m_)                                             \
                         : [x] "r"((uint32_t)(BIT)*77u), [fi] "r"(fi)                              \
                         : "cc");                                                                  \
        s |= (uint32_t)v_ << (BIT);                                                                \
        c += m_;                                                                                   \
    } while (0)
        SETC("o", 0);
        SETC("no", 1);
        SETC("b", 2);
        SETC("ae", 3);
        SETC("e", 4);
        SETC("ne", 5);
        SETC("be", 6);
        SETC("a", 7);
        SETC("s", 8);
        SETC("ns", 9);
        SETC("p", 10);
        SETC("np", 11);
        SETC("l", 12);
        SETC("ge", 13);
        SETC("le", 14);
        SETC("g", 15);
        hmix(s);
        hmix(c);
        hmix(fi);
        volatile uint32_t mm = 0x1111;
        uint16_t w = 0x2222;
        __asm__ volatile("push %[fi]; popf; cmovlw %[m], %[w]"
                         : [w] "+r"(w)
                         : [m] "m"(*(volatile uint16_t *)&mm), [fi] "r"(fi)
                         : "cc");
        hmix(w);
        volatile uint8_t sb = 0x55;
        __asm__ volatile("push %[fi]; popf; setbe %[m]" : [m] "=m"(sb) : [fi] "r"(fi) : "cc");
        hmix(sb);
    }
    group_end("bits setcc/cmovcc");

    group_begin();
    for (int i = 0; i < NITER; i++) {
        uint32_t a = operand(i), b = operand((i * 11 + 7) % NITER), fi = rflags(), f;
        uint32_t r = a, s = b;
        __asm__ volatile("push %[fi]; popf; xaddl %[s], %[r]; pushf; pop %[f]"
                         : [r] "+r"(r), [s] "+r"(s), [f] "=&r"(f)
                         : [fi] "r"(fi)
                         : "cc");
        hmix(r);
        hmix(s);
        hmix(f & F_ARITH);
        volatile uint32_t m = a;
        s = b;
        __asm__ volatile("push %[fi]; popf; lock xaddl %[s], %[m]; pushf; pop %[f]"
                         : [m] "+m"(m), [s] "+r"(s), [f] "=&r"(f)
                         : [fi] "r"(fi)
                         : "cc");
        hmix(m);
        hmix(s);
        hmix(f & F_ARITH);
        uint8_t rb = (uint8_t)a, sbb = (uint8_t)b;
        __asm__ volatile("push %[fi]; popf; xaddb %[s], %[r]; pushf; pop %[f]"
                         : [r] "+q"(rb), [s] "+q"(sbb), [f] "=&r"(f)
                         : [fi] "r"(fi)
                         : "cc");
        hmix(rb);
        hmix(sbb);
        hmix(f & F_ARITH);
        /* cmpxchg: equal and not-equal cases */
        uint32_t acc = (i & 1) ? a : b;
        m = a;
        __asm__ volatile("push %[fi]; popf; lock cmpxchgl %[n], %[m]; pushf; pop %[f]"
                         : [m] "+m"(m), "+a"(acc), [f] "=&r"(f)
                         : [n] "r"(b ^ 0x1234), [fi] "r"(fi)
                         : "cc");
        hmix(m);
        hmix(acc);
        hmix(f & F_ARITH);
        uint32_t rr = a;
        acc = (i & 2) ? a : b;
        __asm__ volatile("push %[fi]; popf; cmpxchgl %[n], %[r]; pushf; pop %[f]"
                         : [r] "+r"(rr), "+a"(acc), [f] "=&r"(f)
                         : [n] "r"(~b), [fi] "r"(fi)
                         : "cc");
        hmix(rr);
        hmix(acc);
        hmix(f & F_ARITH);
        uint8_t rb2 = (uint8_t)a, ab = (i & 4) ? (uint8_t)a : (uint8_t)b;
        __asm__ volatile("push %[fi]; popf; cmpxchgb %[n], %[r]; pushf; pop %[f]"
                         : [r] "+q"(rb2), "+a"(ab), [f] "=&r"(f)
                         : [n] "q"((uint8_t)~a), [fi] "r"(fi)
                         : "cc");
        hmix(rb2);
        hmix(ab);
        hmix(f & F_ARITH);
        /* cmpxchg8b */
        volatile uint64_t q = ((uint64_t)a << 32) | b;
        uint32_t lo = (i & 1) ? b : b + 1, hi = a, nlo = ~a, nhi = b * 3;
        __asm__ volatile("push %[fi]; popf; lock cmpxchg8b %[q]; pushf; pop %[f]"
                         : [q] "+m"(q), "+a"(lo), "+d"(hi), [f] "=&r"(f)
                         : "b"(nlo), "c"(nhi), [fi] "r"(fi)
                         : "cc");
        hmix((uint32_t)q);
        hmix((uint32_t)(q >> 32));
        hmix(lo);
        hmix(hi);
        hmix(f & F_ZF);
    }
    group_end("bits xadd/cmpxchg/cmpxchg8b");
    return 0;
}
