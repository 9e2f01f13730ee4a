#include "insn.h"

/* Shift/rotate by %cl with the defined-flag mask computed per the SDM. */
#define SH_CL(INSN, T, MOD, a, cnt, fi, mask)                                                      \
    do {                                                                                           \
        T r_ = (T)(a);                                                                             \
        uint32_t f_;                                                                               \
        __asm__ volatile("push %[fi]\n\tpopf\n\t" INSN " %%cl, %" MOD "[r]\n\t"                    \
                         "pushf\n\tpop %[f]"                                                       \
                         : [r] "+q"(r_), [f] "=&r"(f_)                                             \
                         : "c"(cnt), [fi] "r"(fi)                                                  \
                         : "cc");                                                                  \
        hmix(r_);                                                                                  \
        hmix(f_ &(mask));                                                                          \
    } while (0)

/* shifts: SHL/SHR/SAR/SAL */
static uint32_t shmask(uint32_t cnt, int bits) {
    uint32_t c = cnt & 31;
    if (c == 0) return F_ARITH;
    uint32_t m = F_CF | F_ZF | F_SF | F_PF;
    if (c == 1) m |= F_OF;
    if ((int)c >= bits) m &= ~F_CF;
    return m;
}
static uint32_t rotmask(uint32_t cnt) {
    uint32_t c = cnt & 31;
    if (c == 0) return F_ARITH;
    return c == 1 ? F_ARITH : F_ARITH & ~F_OF;
}

#define SHIFT_GROUP(name, INSN)                                                                    \
    static void g_##name(void) {                                                                   \
        group_begin();                                                                             \
        for (int i = 0; i < NITER; i++) {                                                          \
            uint32_t a = operand(i), fi = rflags(), c = i < 64 ? (uint32_t)i : rnd() & 0xff;       \
            SH_CL(INSN "l", uint32_t, "k", a, c, fi, shmask(c, 32));                               \
            SH_CL(INSN "w", uint16_t, "w", a, c, fi, shmask(c, 16));                               \
            SH_CL(INSN "b", uint8_t, "b", a, c, fi, shmask(c, 8));                                 \
            RUN1(INSN "l", uint32_t, "k", a, fi, shmask(1, 32));                                   \
            RUN1(INSN "b", uint8_t, "b", a, fi, shmask(1, 8));                                     \
            RUNI(INSN "l", uint32_t, "k", "+q", a, 5, fi, shmask(5, 32));                          \
            RUNI(INSN "w", uint16_t, "w", "+q", a, 13, fi, shmask(13, 16));                        \
            RUNI(INSN "b", uint8_t, "b", "+q", a, 3, fi, shmask(3, 8));                            \
            RUNI(INSN "l", uint32_t, "k", "+q", a, 31, fi, shmask(31, 32));                        \
        }                                                                                          \
        group_end("shift " #name);                                                                 \
    }
SHIFT_GROUP(shl, "shl")
SHIFT_GROUP(shr, "shr")
SHIFT_GROUP(sar, "sar")

#define ROT_GROUP(name, INSN)                                                                      \
    static void g_##name(void) {                                                                   \
        group_begin();                                                                             \
        for (int i = 0; i < NITER; i++) {                                                          \
            uint32_t a = operand(i), fi = rflags(), c = i < 64 ? (uint32_t)i : rnd() & 0xff;       \
            SH_CL(INSN "l", uint32_t, "k", a, c, fi, rotmask(c));                                  \
            SH_CL(INSN "w", uint16_t, "w", a, c, fi, rotmask(c));                                  \
            SH_CL(INSN "b", uint8_t, "b", a, c, fi, rotmask(c));                                   \
            RUN1(INSN "l", uint32_t, "k", a, fi, rotmask(1));                                      \
            RUN1(INSN "w", uint16_t, "w", a, fi, rotmask(1));                                      \
            RUNI(INSN "l", uint32_t, "k", "+q", a, 7, fi, rotmask(7));                             \
            RUNI(INSN "b", uint8_t, "b", "+q", a, 4, fi, rotmask(4));                              \
        }                                                                                          \
        group_end("shift " #name);                                                                 \
    }
ROT_GROUP(rol, "rol")
ROT_GROUP(ror, "ror")
ROT_GROUP(rcl, "rcl")
ROT_GROUP(rcr, "rcr")

/* SHLD/SHRD: 32-bit with any count, 16-bit with counts below 16. */
#define DSH(INSN, T, MOD, a, b, cnt, fi, mask)                                                     \
    do {                                                                                           \
        T r_ = (T)(a);                                                                             \
        uint32_t f_;                                                                               \
        __asm__ volatile("push %[fi]\n\tpopf\n\t" INSN " %%cl, %" MOD "[b], %" MOD "[r]\n\t"       \
                         "pushf\n\tpop %[f]"                                                       \
                         : [r] "+r"(r_), [f] "=&r"(f_)                                             \
                         : [b] "r"((T)(b)), "c"(cnt), [fi] "r"(fi)                                 \
                         : "cc");                                                                  \
        hmix(r_);                                                                                  \
        hmix(f_ &(mask));                                                                          \
    } while (0)
static uint32_t dmask(uint32_t cnt) {
    uint32_t c = cnt & 31;
    if (c == 0) return F_ARITH;
    return c == 1 ? (F_ARITH & ~F_AF) : (F_CF | F_ZF | F_SF | F_PF);
}
#define DSH_GROUP(name, INSN)                                                                      \
    static void g_##name(void) {                                                                   \
        group_begin();                                                                             \
        for (int i = 0; i < NITER; i++) {                                                          \
            uint32_t a = operand(i), b = operand((i * 5 + 1) % NITER), fi = rflags();              \
            uint32_t c = i < 64 ? (uint32_t)i : rnd() & 0xff;                                      \
            DSH(INSN "l", uint32_t, "k", a, b, c, fi, dmask(c));                                   \
            uint32_t c16 = c % 16;                                                                 \
            DSH(INSN "w", uint16_t, "w", a, b, c16, fi, dmask(c16));                               \
            uint32_t r_ = a, f_;                                                                   \
            __asm__ volatile("push %[fi]\n\tpopf\n\t" INSN "l $9, %[b], %[r]\n\t"                  \
                             "pushf\n\tpop %[f]"                                                   \
                             : [r] "+r"(r_), [f] "=&r"(f_)                                         \
                             : [b] "r"(b), [fi] "r"(fi)                                            \
                             : "cc");                                                              \
            hmix(r_);                                                                              \
            hmix(f_ &dmask(9));                                                                    \
        }                                                                                          \
        group_end("shift " #name);                                                                 \
    }
DSH_GROUP(shld, "shld")
DSH_GROUP(shrd, "shrd")

int kmain(void) {
    g_shl();
    g_shr();
    g_sar();
    g_rol();
    g_ror();
    g_rcl();
    g_rcr();
    g_shld();
    g_shrd();
    return 0;
}
