#include "insn.h"

static uint8_t xlat_table[256];

int kmain(void) {
    for (int i = 0; i < 256; i++)
        xlat_table[i] = (uint8_t)(i * 151 + 7);

    group_begin();
    for (int i = 0; i < NITER; i++) {
        uint32_t a = operand(i), b = operand((i * 3 + 2) % NITER), x = a, y = b;
        __asm__ volatile("xchgl %[x], %[y]" : [x] "+r"(x), [y] "+r"(y));
        hmix(x);
        hmix(y);
        x = a;
        y = b;
        __asm__ volatile("xchgl %[y], %%eax" : "+a"(x), [y] "+r"(y)); /* short form 0x9x */
        hmix(x);
        hmix(y);
        volatile uint32_t m = a;
        x = b;
        __asm__ volatile("xchgl %[x], %[m]" : [x] "+r"(x), [m] "+m"(m));
        hmix(x);
        hmix(m);
        uint8_t bx8 = (uint8_t)a, by8 = (uint8_t)b;
        __asm__ volatile("xchgb %[x], %[y]" : [x] "+q"(bx8), [y] "+q"(by8));
        hmix(bx8);
        hmix(by8);
        uint16_t wx = (uint16_t)a;
        volatile uint16_t wm = (uint16_t)b;
        __asm__ volatile("xchgw %[x], %[m]" : [x] "+r"(wx), [m] "+m"(wm));
        hmix(wx);
        hmix(wm);
        /* xlat */
        uint32_t al = a;
        __asm__ volatile("xlat" : "+a"(al) : "b"(xlat_table) : "memory");
        hmix(al);
    }
    group_end("misc xchg/xlat");

    group_begin();
    for (int i = 0; i < NITER; i++) {
        uint32_t a = operand(i), fi = rflags(), r = a, f;
        __asm__ volatile("push %[fi]; popf; lahf" : "+a"(r) : [fi] "r"(fi) : "cc");
        hmix(r & 0xd5ff); /* bits 1,3,5 of AH are fixed: keep 1 */
        r = a;
        __asm__ volatile("push %[fi]; popf; sahf; pushf; pop %[f]"
                         : [f] "=&r"(f)
                         : "a"(r), [fi] "r"(fi)
                         : "cc");
        hmix(f & F_ARITH);
        r = a;
        __asm__ volatile("cbtw" : "+a"(r));
        hmix(r);
        r = a;
        __asm__ volatile("cwtl" : "+a"(r));
        hmix(r);
        uint32_t d = 0x12345678u;
        r = a;
        __asm__ volatile("cltd" : "+a"(r), "+d"(d));
        hmix(r);
        hmix(d);
        d = 0x12345678u;
        __asm__ volatile("cwtd" : "+a"(r), "+d"(d));
        hmix(r);
        hmix(d);
        /* salc (undocumented 0xd6): AL = CF ? 0xff : 0 */
        r = a;
        __asm__ volatile("push %[fi]; popf; .byte 0xd6" : "+a"(r) : [fi] "r"(fi) : "cc");
        hmix(r);
        /* movzx / movsx */
        uint32_t z1, z2, s1, s2;
        volatile uint8_t mb = (uint8_t)(a >> 3);
        volatile uint16_t mw = (uint16_t)(a >> 5);
        __asm__ volatile(
            "movzbl %b[a], %[z1]; movzwl %[mw], %[z2]; movsbl %[mb], %[s1]; movswl %w[a], %[s2]"
            : [z1] "=&r"(z1), [z2] "=&r"(z2), [s1] "=&r"(s1), [s2] "=&r"(s2)
            : [a] "q"(a), [mb] "m"(mb), [mw] "m"(mw));
        hmix(z1);
        hmix(z2);
        hmix(s1);
        hmix(s2);
        uint16_t w1;
        __asm__ volatile("movsbw %b[a], %[w]" : [w] "=r"(w1) : [a] "q"(a));
        hmix(w1);
    }
    group_end("misc lahf/sahf/cbw/cwd/salc/movzx");

    group_begin();
    for (int i = 0; i < NITER; i++) {
        uint32_t a = operand(i), b = operand((i * 5 + 9) % NITER), r1, r2, r3, r4;
        __asm__ volatile("leal (%[a],%[b]), %[r1]\n\t"
                         "leal 0x12345678(%[a],%[b],8), %[r2]\n\t"
                         "leal -1(,%[b],4), %[r3]\n\t"
                         "leal 0x80(%[a]), %[r4]"
                         : [r1] "=&r"(r1), [r2] "=&r"(r2), [r3] "=&r"(r3), [r4] "=&r"(r4)
                         : [a] "r"(a), [b] "r"(b));
        hmix(r1);
        hmix(r2);
        hmix(r3);
        hmix(r4);
        __asm__ volatile(
            "leal 0xfffffff0, %[r1]\n\tleal (%[a],%[a],2), %[r2]\n\tleaw 3(%[a],%[b]), %w[r3]"
            : [r1] "=&r"(r1), [r2] "=&r"(r2), [r3] "+r"(r3)
            : [a] "r"(a), [b] "r"(b));
        hmix(r1);
        hmix(r2);
        hmix(r3);
    }
    group_end("misc lea");

    group_begin();
    volatile uint32_t shared[4] = {0, 0, 0, 0};
    for (int i = 0; i < NITER; i++) {
        uint32_t a = operand(i), fi = rflags(), f;
        __asm__ volatile("push %[fi]; popf; lock addl %[a], %[m]; pushf; pop %[f]"
                         : [m] "+m"(shared[0]), [f] "=&r"(f)
                         : [a] "r"(a), [fi] "r"(fi)
                         : "cc");
        hmix(f & F_ARITH);
        __asm__ volatile("lock incl %[m]; lock orl %[a], %[n]; lock xorb $0x5a, %[o]; lock notl "
                         "%[p]; lock btsl $3, %[p]"
                         : [m] "+m"(shared[1]), [n] "+m"(shared[2]),
                           [o] "+m"(*(volatile uint8_t *)&shared[3]), [p] "+m"(shared[3])
                         : [a] "r"(a)
                         : "cc");
        __asm__ volatile("push %[fi]; popf; lock sbbl %[a], %[m]; lock decl %[m]; pushf; pop %[f]"
                         : [m] "+m"(shared[1]), [f] "=&r"(f)
                         : [a] "r"(a), [fi] "r"(fi)
                         : "cc");
        hmix(f & F_ARITH);
        for (int j = 0; j < 4; j++)
            hmix(shared[j]);
    }
    group_end("misc lock");

    group_begin();
    for (int i = 0; i < NITER; i++) {
        uint32_t a = operand(i), r1, r2, r3, r4;
        volatile uint32_t m = a;
        __asm__ volatile(
            "movl %%ds:%[m], %[r1]\n\t"
            "movl %%es:%[m], %[r2]\n\t"
            "movl %%ss:%[m], %[r3]\n\t"
            "movl %%cs:%[m], %[r4]\n\t"
            "addl $1, %%es:%[m]\n\t"
            "xorl $0x77, %%ss:%[m]"
            : [r1] "=&r"(r1), [r2] "=&r"(r2), [r3] "=&r"(r3), [r4] "=&r"(r4), [m] "+m"(m)
            :
            : "cc");
        hmix(r1);
        hmix(r2 + 1);
        hmix(r3 ^ 2);
        hmix(r4);
        hmix(m);
        /* es:-overridden string source */
        uint32_t src = (uint32_t)(uintptr_t)&m, v;
        __asm__ volatile("cld; lodsl %%es:(%%esi)" : "=a"(v), "+S"(src) : : "memory");
        hmix(v);
        /* ss: default for ebp-based addressing, ds: override on an esp base */
        __asm__ volatile("push %[a]; movl %%ds:(%%esp), %[r]; addl $4, %%esp"
                         : [r] "=&r"(r1)
                         : [a] "r"(a + 5));
        hmix(r1);
    }
    group_end("misc segment-override");

    group_begin();
    volatile int32_t bounds[2] = {-10, 1000};
    for (int i = 0; i < 64; i++) {
        uint32_t f, idx = (uint32_t)(i * 15 - 10);
        /* into with OF clear: no trap */
        __asm__ volatile("push %[fi]; popf; into; pushf; pop %[f]"
                         : [f] "=&r"(f)
                         : [fi] "r"(rflags() & ~F_OF)
                         : "cc");
        hmix(f & F_ARITH);
        /* bound with an index inside the bounds: no trap */
        __asm__ volatile("boundl %[i], %[b]" : : [i] "r"(idx), [b] "m"(bounds[0]) : "memory");
        hmix(idx);
        uint16_t w = (uint16_t)(i * 3);
        volatile int16_t wb[2] = {0, 300};
        __asm__ volatile("boundw %[i], %[b]" : : [i] "r"(w), [b] "m"(wb[0]) : "memory");
        hmix(w);
        /* nop forms, cmc/clc/stc */
        __asm__ volatile("push %[fi]; popf; nop; .byte 0x0f,0x1f,0x44,0x00,0x00; cmc; pushf; pop "
                         "%[f]; stc; clc; cmc"
                         : [f] "=&r"(f)
                         : [fi] "r"(rflags())
                         : "cc");
        hmix(f & F_ARITH);
    }
    group_end("misc into/bound/nop");
    return 0;
}
