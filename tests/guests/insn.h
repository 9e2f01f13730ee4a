/* Helpers for the instruction test kernels: run one instruction with chosen input
 * EFLAGS, hash its result and output EFLAGS (masked to the defined flags). */
#ifndef RRVM_GUEST_INSN_H
#define RRVM_GUEST_INSN_H
#include "rt.h"

/* Random arithmetic input flags (never IF/TF/DF). */
static inline uint32_t rflags(void) {
    return (rnd() & F_ARITH) | 2u;
}

/* reg, reg form: INSN src, dst (MOD = b/w/k selects the register size). */
#define RUN2(INSN, T, MOD, a, b, fi, mask)                                                         \
    do {                                                                                           \
        T r_ = (T)(a);                                                                             \
        uint32_t f_;                                                                               \
        __asm__ volatile("push %[fi]\n\tpopf\n\t" INSN " %" MOD "[b], %" MOD "[r]\n\t"             \
                         "pushf\n\tpop %[f]"                                                       \
                         : [r] "+q"(r_), [f] "=&r"(f_)                                             \
                         : [b] "q"((T)(b)), [fi] "r"(fi)                                           \
                         : "cc");                                                                  \
        hmix(r_);                                                                                  \
        hmix(f_ &(mask));                                                                          \
    } while (0)

/* memory destination, register source: INSN needs its size suffix. */
#define RUN2M(INSN, T, MOD, a, b, fi, mask)                                                        \
    do {                                                                                           \
        volatile T m_ = (T)(a);                                                                    \
        uint32_t f_;                                                                               \
        __asm__ volatile("push %[fi]\n\tpopf\n\t" INSN " %" MOD "[b], %[m]\n\t"                    \
                         "pushf\n\tpop %[f]"                                                       \
                         : [m] "+m"(m_), [f] "=&r"(f_)                                             \
                         : [b] "q"((T)(b)), [fi] "r"(fi)                                           \
                         : "cc");                                                                  \
        hmix(m_);                                                                                  \
        hmix(f_ &(mask));                                                                          \
    } while (0)

/* register destination, memory source. */
#define RUN2R(INSN, T, MOD, a, b, fi, mask)                                                        \
    do {                                                                                           \
        T r_ = (T)(a);                                                                             \
        volatile T m_ = (T)(b);                                                                    \
        uint32_t f_;                                                                               \
        __asm__ volatile("push %[fi]\n\tpopf\n\t" INSN " %[m], %" MOD "[r]\n\t"                    \
                         "pushf\n\tpop %[f]"                                                       \
                         : [r] "+q"(r_), [f] "=&r"(f_)                                             \
                         : [m] "m"(m_), [fi] "r"(fi)                                               \
                         : "cc");                                                                  \
        hmix(r_);                                                                                  \
        hmix(f_ &(mask));                                                                          \
    } while (0)

/* immediate source (IMM is a constant expression), register destination;
 * CON is the destination constraint ("+q", "+a", ...). */
#define RUNI(INSN, T, MOD, CON, a, IMM, fi, mask)                                                  \
    do {                                                                                           \
        T r_ = (T)(a);                                                                             \
        uint32_t f_;                                                                               \
        __asm__ volatile("push %[fi]\n\tpopf\n\t" INSN " %[b], %" MOD "[r]\n\t"                    \
                         "pushf\n\tpop %[f]"                                                       \
                         : [r] CON(r_), [f] "=&r"(f_)                                              \
                         : [b] "i"(IMM), [fi] "r"(fi)                                              \
                         : "cc");                                                                  \
        hmix(r_);                                                                                  \
        hmix(f_ &(mask));                                                                          \
    } while (0)

/* one-operand register form. */
#define RUN1(INSN, T, MOD, a, fi, mask)                                                            \
    do {                                                                                           \
        T r_ = (T)(a);                                                                             \
        uint32_t f_;                                                                               \
        __asm__ volatile("push %[fi]\n\tpopf\n\t" INSN " %" MOD "[r]\n\t"                          \
                         "pushf\n\tpop %[f]"                                                       \
                         : [r] "+q"(r_), [f] "=&r"(f_)                                             \
                         : [fi] "r"(fi)                                                            \
                         : "cc");                                                                  \
        hmix(r_);                                                                                  \
        hmix(f_ &(mask));                                                                          \
    } while (0)

#define NITER 600
#endif
