/* x87 FPU: arithmetic, conversions, comparisons, rounding control, constants, BCD, and the
 * state-image instructions, hashed per group and compared with QEMU. Transcendentals are
 * implementation-specific in their last bits (the SDM bounds their error, it does not fix
 * the result), so their results are hashed with the low 16 mantissa bits cleared. */
#include "insn.h"

struct f80 {
    uint64_t mant;
    uint16_t se;
} __attribute__((packed));

static void mix80(const struct f80 *v, uint64_t mask) {
    hmix((uint32_t)(v->mant & mask));
    hmix((uint32_t)((v->mant & mask) >> 32));
    hmix(v->se);
}

static uint16_t fsw(void) {
    uint16_t s;
    __asm__ volatile("fnstsw %0" : "=a"(s));
    return s;
}

static void set_cw(uint16_t cw) {
    __asm__ volatile("fldcw %0" : : "m"(cw));
}

static double dop(int i) {
    static const double edge[] = {0.0,    -0.0,       1.0,  -1.0, 0.5, 3.0,  1e300, -1e-300,
                                  1e-310, 123456.789, -2.5, 7.0,  0.1, 1e16, 2.0};
    if (i < (int)(sizeof edge / sizeof edge[0])) return edge[i];
    int32_t a = (int32_t)operand(i), b = (int32_t)operand(i + 7) | 1;
    return (double)a / (double)b;
}

int kmain(void) {
    __asm__ volatile("fninit");

    group_begin();
    for (int i = 0; i < NITER; i++) {
        double a = dop(i % 40), b = dop((i * 7 + 3) % 40);
        struct f80 r[6];
        __asm__ volatile("fldl %[a]; fldl %[b]; faddp; fstpt %[r0]\n\t"
                         "fldl %[a]; fldl %[b]; fsubrp; fstpt %[r1]\n\t"
                         "fldl %[a]; fmull %[b]; fstpt %[r2]\n\t"
                         "fldl %[a]; fdivl %[b]; fstpt %[r3]\n\t"
                         "fldl %[a]; fabs; fsqrt; fstpt %[r4]\n\t"
                         "fldl %[b]; fchs; fldl %[a]; fxch; fsubp; fstpt %[r5]"
                         : [r0] "=m"(r[0]), [r1] "=m"(r[1]), [r2] "=m"(r[2]), [r3] "=m"(r[3]),
                           [r4] "=m"(r[4]), [r5] "=m"(r[5])
                         : [a] "m"(a), [b] "m"(b));
        for (int k = 0; k < 6; k++)
            mix80(&r[k], ~0ull);
        hmix(fsw() & 0x3f7f); /* exception flags and condition codes (TOP masked) */
        __asm__ volatile("fnclex");
    }
    group_end("x87 arith");

    group_begin();
    for (int i = 0; i < NITER; i++) {
        int32_t a = (int32_t)operand(i);
        int16_t w = (int16_t)operand(i + 1);
        int64_t q = (int64_t)(((uint64_t)operand(i + 2) << 32) | operand(i + 3));
        int32_t ri;
        int16_t rw;
        int64_t rq;
        float f;
        double d;
        for (uint16_t rc = 0; rc < 4; rc++) {
            set_cw((uint16_t)(0x037f | (rc << 10)));
            __asm__ volatile("fildl %[a]; fidivs %[w]; fistpl %[ri]\n\t"
                             "fildll %[q]; fistps %[rw]\n\t"
                             "fildll %[q]; fildl %[a]; fdivrp; frndint; fistpll %[rq]\n\t"
                             "fildl %[a]; fidivs %[w]; fstps %[f]\n\t"
                             "fildll %[q]; fstpl %[d]"
                             : [ri] "=m"(ri), [rw] "=m"(rw), [rq] "=m"(rq), [f] "=m"(f), [d] "=m"(d)
                             : [a] "m"(a), [w] "m"(w), [q] "m"(q));
            uint32_t fb, db[2];
            memcpy(&fb, &f, 4);
            memcpy(db, &d, 8);
            hmix((uint32_t)ri);
            hmix((uint16_t)rw);
            hmix((uint32_t)rq);
            hmix((uint32_t)(rq >> 32));
            hmix(fb);
            hmix(db[0]);
            hmix(db[1]);
            hmix(fsw() & 0x3f7f);
            __asm__ volatile("fnclex");
        }
    }
    set_cw(0x037f);
    group_end("x87 conversions and rounding");

    group_begin();
    for (int i = 0; i < NITER; i++) {
        double a = dop(i % 40), b = dop((i * 5 + 1) % 40);
        uint32_t fl1, fl2;
        uint16_t sw1, sw2;
        __asm__ volatile("fldl %[b]; fldl %[a]; fcompp; fnstsw %%ax; mov %%ax, %[sw1]\n\t"
                         "fldl %[b]; fldl %[a]; fcomip %%st(1), %%st; fstp %%st(0)\n\t"
                         "pushf; pop %[fl1]\n\t"
                         "fldl %[b]; fldl %[a]; fucomip %%st(1), %%st; fstp %%st(0)\n\t"
                         "pushf; pop %[fl2]\n\t"
                         "fldl %[a]; ftst; fxam; fnstsw %%ax; mov %%ax, %[sw2]; fstp %%st(0)"
                         : [fl1] "=&r"(fl1), [fl2] "=&r"(fl2), [sw1] "=&m"(sw1), [sw2] "=&m"(sw2)
                         : [a] "m"(a), [b] "m"(b)
                         : "eax", "cc");
        hmix(fl1 & (F_ZF | F_PF | F_CF));
        hmix(fl2 & (F_ZF | F_PF | F_CF));
        hmix(sw1 & 0x4700);
        hmix(sw2 & 0x4700);
        struct f80 r;
        __asm__ volatile("fldl %[a]; fldl %[b]; fcomi %%st(1), %%st; fcmovb %%st(1), %%st; "
                         "fstpt %[r]; fstp %%st(0)"
                         : [r] "=m"(r)
                         : [a] "m"(a), [b] "m"(b)
                         : "cc");
        mix80(&r, ~0ull);
        __asm__ volatile("fnclex");
    }
    group_end("x87 compare");

    group_begin();
    {
        struct f80 c[7];
        __asm__ volatile("fld1; fstpt %0\n\tfldl2t; fstpt %1\n\tfldl2e; fstpt %2\n\t"
                         "fldpi; fstpt %3\n\tfldlg2; fstpt %4\n\tfldln2; fstpt %5\n\tfldz; fstpt %6"
                         : "=m"(c[0]), "=m"(c[1]), "=m"(c[2]), "=m"(c[3]), "=m"(c[4]), "=m"(c[5]),
                           "=m"(c[6]));
        for (int k = 0; k < 7; k++)
            mix80(&c[k], ~0ull);
    }
    for (int i = 0; i < NITER; i++) {
        double a = dop(i % 40), b = dop((i * 3 + 2) % 40);
        struct f80 r[4];
        uint16_t sw;
        __asm__ volatile(
            "fldl %[b]; fldl %[a]; fprem; fnstsw %%ax; mov %%ax, %[sw]; fstpt %[r0]; "
            "fstp %%st(0)\n\t"
            "fldl %[b]; fldl %[a]; fprem1; fstpt %[r1]; fstp %%st(0)\n\t"
            "fldl %[b]; fldl %[a]; fxtract; fstpt %[r2]; fstp %%st(0); fstp %%st(0)\n\t"
            "fld1; fldl %[a]; fscale; fstpt %[r3]; fstp %%st(0)"
            : [r0] "=m"(r[0]), [r1] "=m"(r[1]), [r2] "=m"(r[2]), [r3] "=m"(r[3]), [sw] "=m"(sw)
            : [a] "m"(a), [b] "m"(b)
            : "eax");
        for (int k = 0; k < 4; k++)
            mix80(&r[k], ~0ull);
        hmix(sw & 0x4700);
        __asm__ volatile("fnclex");
        /* packed BCD round trip */
        uint8_t bcd[10];
        int64_t v = (int64_t)(operand(i) % 100000000u) * 1000 - 12345;
        __asm__ volatile("fildll %[v]; fbstp %[bcd]" : [bcd] "=m"(bcd) : [v] "m"(v));
        for (int k = 0; k < 10; k++)
            hmix(bcd[k]);
        int64_t back;
        __asm__ volatile("fbld %[bcd]; fistpll %[b]" : [b] "=m"(back) : [bcd] "m"(bcd));
        hmix((uint32_t)back);
        hmix((uint32_t)(back >> 32));
    }
    group_end("x87 constants, fprem, fxtract, fscale, bcd");

    group_begin();
    for (int i = 0; i < NITER; i++) {
        double a = dop(i % 40) * 1e-3;
        struct f80 r[5];
        __asm__ volatile(
            "fldl %[a]; fsin; fstpt %[r0]\n\t"
            "fldl %[a]; fcos; fstpt %[r1]\n\t"
            "fldl %[a]; fptan; fstp %%st(0); fstpt %[r2]\n\t"
            "fld1; fldl %[a]; fpatan; fstpt %[r3]\n\t"
            "fldl %[a]; fabs; fld1; fxch; fyl2x; fstpt %[r4]"
            : [r0] "=m"(r[0]), [r1] "=m"(r[1]), [r2] "=m"(r[2]), [r3] "=m"(r[3]), [r4] "=m"(r[4])
            : [a] "m"(a));
        for (int k = 0; k < 5; k++)
            mix80(&r[k], ~0xffffull);
        __asm__ volatile("fnclex");
    }
    group_end("x87 transcendental (high bits)");

    /* State images: what FNSTENV/FNSAVE/FXSAVE store about the registers (the instruction
     * and data pointers are left out: rrvm stores zero there) and that FRSTOR/FLDENV/FXRSTOR
     * bring the state back. */
    group_begin();
    {
        static uint8_t env[28], save[108];
        static uint8_t fx[512] __attribute__((aligned(16)));
        double x = 1.25, y = -3.5;
        set_cw(0x0a7f);
        __asm__ volatile("fldl %0; fldl %1; fnstenv %2; fldenv %2" : : "m"(x), "m"(y), "m"(env));
        for (int k = 0; k < 12; k++)
            hmix(env[k]);
        __asm__ volatile("fnsave %0" : "=m"(save));
        for (int k = 0; k < 12; k++)
            hmix(save[k]);
        for (int k = 28; k < 108; k++)
            hmix(save[k]);
        hmix(fsw());
        __asm__ volatile("frstor %0" : : "m"(save));
        __asm__ volatile("fxsave %0" : "=m"(fx));
        for (int k = 0; k < 6; k++)
            hmix(fx[k]);
        for (int k = 32; k < 160; k++)
            hmix(fx[k]);
        struct f80 top;
        __asm__ volatile("fninit; fxrstor %1; fstpt %0" : "=m"(top) : "m"(fx));
        mix80(&top, ~0ull);
        uint16_t cw;
        __asm__ volatile("fnstcw %0" : "=m"(cw));
        hmix(cw);
    }
    group_end("x87 state images");
    return 0;
}
