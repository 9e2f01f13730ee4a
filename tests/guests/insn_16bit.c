#include "insn.h"

/* Low scratch memory for 16-bit addressing (below 64 KiB, unused after boot). */
#define LOW ((volatile uint8_t *)0x6000)

int kmain(void) {
    /* operand-size prefix (0x66) */
    group_begin();
    for (int i = 0; i < NITER; i++) {
        uint32_t a = operand(i), b = operand((i * 7 + 1) % NITER), fi = rflags();
        RUN2("add", uint16_t, "w", a, b, fi, F_ARITH);
        RUN2("sbb", uint16_t, "w", a, b, fi, F_ARITH);
        RUN2("xor", uint16_t, "w", a, b, fi, F_ARITH & ~F_AF);
        RUN2("mov", uint16_t, "w", a, b, fi, F_ARITH);
        RUN1("incw", uint16_t, "w", a, fi, F_ARITH);
        RUN1("negw", uint16_t, "w", a, fi, F_ARITH);
        RUNI("andw", uint16_t, "w", "+r", a, 0x0ff0, fi, F_ARITH & ~F_AF);
        RUNI("subw", uint16_t, "w", "+r", a, -3, fi, F_ARITH);
        /* 16-bit ops leave the upper half of the 32-bit register alone */
        uint32_t r = a, f;
        __asm__ volatile("push %[fi]; popf; addw %w[b], %w[r]; pushf; pop %[f]"
                         : [r] "+r"(r), [f] "=&r"(f)
                         : [b] "r"(b), [fi] "r"(fi)
                         : "cc");
        hmix(r);
        hmix(f & F_ARITH);
        r = a;
        __asm__ volatile("movw %w[b], %w[r]; incw %w[r]; notw %w[r]"
                         : [r] "+r"(r)
                         : [b] "r"(b)
                         : "cc");
        hmix(r);
        uint32_t z, s;
        __asm__ volatile("movzwl %w[b], %[z]; movswl %w[b], %[s]"
                         : [z] "=&r"(z), [s] "=&r"(s)
                         : [b] "r"(b));
        hmix(z);
        hmix(s);
        r = a;
        __asm__ volatile("push %[fi]; popf; shlw $3, %w[r]; rorw %w[r]; pushf; pop %[f]"
                         : [r] "+r"(r), [f] "=&r"(f)
                         : [fi] "r"(fi)
                         : "cc");
        hmix(r);
        hmix(f & F_CF);
        r = a;
        __asm__ volatile("imulw %w[b], %w[r]" : [r] "+r"(r) : [b] "r"(b) : "cc");
        hmix(r);
        volatile uint16_t m = (uint16_t)a;
        __asm__ volatile("addw %w[b], %[m]; rolw $5, %[m]; incw %[m]"
                         : [m] "+m"(m)
                         : [b] "r"(b)
                         : "cc");
        hmix(m);
        r = a;
        __asm__ volatile("movw $0x1234, %w[r]; pushw %w[r]; pushw $0x5678; popl %[t]"
                         : [r] "+r"(r), [t] "=&r"(z)
                         :
                         : "memory");
        hmix(r);
        hmix(z);
    }
    group_end("16bit operand-size");

    /* address-size prefix (0x67): 16-bit effective addresses, wrap at 64 KiB */
    group_begin();
    for (int i = 0; i < 256; i++)
        LOW[i] = (uint8_t)(i * 37 + 11);
    for (int i = 0; i < NITER; i++) {
        uint32_t bx = rnd(), si = rnd(), di = rnd(), bp = rnd(), out1, out2, out3, out4;
        __asm__ volatile("leal 0x1234(%%bx,%%si), %[o1]\n\t"
                         "leaw 0x7fff(%%bx), %w[o3]"
                         : [o1] "=&r"(out1), [o3] "=&r"(out3)
                         : "b"(bx), "S"(si));
        __asm__ volatile("movl %[bp], %%ebp\n\t"
                         "leal -7(%%bp,%%di), %[o2]\n\t"
                         "leal (%%bp), %[o4]"
                         : [o2] "=&c"(out2), [o4] "=&d"(out4)
                         : "D"(di), [bp] "a"(bp)
                         : "ebp");
        hmix(out1);
        hmix(out2);
        hmix(out3 & 0xffff);
        hmix(out4);
        /* memory accesses through 16-bit addresses that wrap into 0x6000..0x60ff */
        uint32_t b2 =
            (bx & 0xffff0000u) | ((0x6000u - (si & 0xfff0u) + (uint32_t)(i & 0x7f)) & 0xffffu);
        uint32_t v, w;
        __asm__ volatile(
            "movl (%%bx,%%si), %[v]\n\tmovb 3(%%bx,%%si), %b[w]\n\taddr16 movl 0x6010, %[w]"
            : [v] "=&r"(v), [w] "=&q"(w)
            : "b"(b2), "S"(si & 0xfff0u)
            : "memory");
        hmix(v);
        hmix(w);
        __asm__ volatile("addl %[v], 8(%%bx,%%si)"
                         :
                         : "b"(b2), "S"(si & 0xfff0u), [v] "r"(v)
                         : "memory", "cc");
    }
    for (int i = 0; i < 256; i += 4)
        hmix(*(volatile uint32_t *)(LOW + i));
    /* 16-bit string ops: si/di/cx */
    uint32_t sv = 0xabcd6000u, dv = 0x12346080u, cv = 0xffff0010u;
    __asm__ volatile("cld; addr16 rep movsb" : "+S"(sv), "+D"(dv), "+c"(cv) : : "memory");
    hmix(sv);
    hmix(dv);
    hmix(cv);
    /* jcxz and loop with cx */
    uint32_t cnt = 0x00010005u, n = 0;
    __asm__ volatile("1: incl %[n]\n\t.byte 0x67\n\tloop 1b" : "+c"(cnt), [n] "+r"(n) : : "cc");
    hmix(cnt);
    hmix(n);
    uint32_t taken = 0;
    cnt = 0x12340000u;
    __asm__ volatile("jcxz 1f\n\tmovl $5, %[t]\n1:" : [t] "+r"(taken) : "c"(cnt));
    hmix(taken);
    for (int i = 0; i < 256; i += 4)
        hmix(*(volatile uint32_t *)(LOW + i));
    group_end("16bit address-size");
    return 0;
}
