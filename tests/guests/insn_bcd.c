#include "insn.h"

#define BCD1(OPC, a, fi, mask)                                                                     \
    do {                                                                                           \
        uint32_t r_ = (a), f_;                                                                     \
        __asm__ volatile("push %[fi]; popf; " OPC "; pushf; pop %[f]"                              \
                         : "+a"(r_), [f] "=&r"(f_)                                                 \
                         : [fi] "r"(fi)                                                            \
                         : "cc");                                                                  \
        hmix(r_);                                                                                  \
        hmix(f_ &(mask));                                                                          \
    } while (0)

int kmain(void) {
    const uint32_t adj = F_CF | F_AF | F_SF | F_ZF | F_PF; /* DAA/DAS: OF undefined */
    const uint32_t aa = F_CF | F_AF;                       /* AAA/AAS */
    const uint32_t am = F_SF | F_ZF | F_PF;                /* AAM/AAD */
    group_begin();
    for (uint32_t i = 0; i < 2048; i++) {
        uint32_t a = (rnd() & 0xffff0000u) | (i & 0x7ff), fi = rflags();
        BCD1("daa", a, fi, adj);
    }
    group_end("bcd daa");
    group_begin();
    for (uint32_t i = 0; i < 2048; i++) {
        uint32_t a = (rnd() & 0xffff0000u) | (i & 0x7ff), fi = rflags();
        BCD1("das", a, fi, adj);
    }
    group_end("bcd das");
    group_begin();
    for (uint32_t i = 0; i < 2048; i++) {
        uint32_t a = (rnd() & 0xffff0000u) | (i & 0x7ff) | ((rnd() & 0x1f) << 11), fi = rflags();
        BCD1("aaa", a, fi, aa);
    }
    group_end("bcd aaa");
    group_begin();
    for (uint32_t i = 0; i < 2048; i++) {
        uint32_t a = (rnd() & 0xffff0000u) | (i & 0x7ff) | ((rnd() & 0x1f) << 11), fi = rflags();
        BCD1("aas", a, fi, aa);
    }
    group_end("bcd aas");
    group_begin();
    for (uint32_t i = 0; i < 1024; i++) {
        uint32_t a = rnd(), fi = rflags();
        a = (a & ~0xffu) | (i & 0xff);
        BCD1("aam", a, fi, am);
        BCD1(".byte 0xd4, 16", a, fi, am);
        BCD1(".byte 0xd4, 7", a, fi, am);
        BCD1(".byte 0xd4, 255", a, fi, am);
        BCD1("aad", a, fi, am);
        BCD1(".byte 0xd5, 16", a, fi, am);
        BCD1(".byte 0xd5, 0", a, fi, am);
        BCD1(".byte 0xd5, 3", a, fi, am);
    }
    group_end("bcd aam/aad");
    return 0;
}
