#include "insn.h"

#define LOGIC (F_ARITH & ~F_AF)

#define ALU_ALL(INSN, mask, a, b, fi)                                                              \
    do {                                                                                           \
        RUN2(INSN, uint32_t, "k", a, b, fi, mask);                                                 \
        RUN2(INSN, uint16_t, "w", a, b, fi, mask);                                                 \
        RUN2(INSN, uint8_t, "b", a, b, fi, mask);                                                  \
        RUN2M(INSN "l", uint32_t, "k", a, b, fi, mask);                                            \
        RUN2M(INSN "w", uint16_t, "w", a, b, fi, mask);                                            \
        RUN2M(INSN "b", uint8_t, "b", a, b, fi, mask);                                             \
        RUN2R(INSN "l", uint32_t, "k", a, b, fi, mask);                                            \
        RUN2R(INSN "b", uint8_t, "b", a, b, fi, mask);                                             \
        RUNI(INSN "l", uint32_t, "k", "+q", a, 1, fi, mask);                                       \
        RUNI(INSN "l", uint32_t, "k", "+q", a, -128, fi, mask);                                    \
        RUNI(INSN "l", uint32_t, "k", "+q", a, 0x12345678, fi, mask);                              \
        RUNI(INSN "l", uint32_t, "k", "+a", a, 0x80000000u, fi, mask);                             \
        RUNI(INSN "w", uint16_t, "w", "+q", a, 0x7f, fi, mask);                                    \
        RUNI(INSN "w", uint16_t, "w", "+a", a, 0x8001, fi, mask);                                  \
        RUNI(INSN "b", uint8_t, "b", "+q", a, 0x80, fi, mask);                                     \
        RUNI(INSN "b", uint8_t, "b", "+a", a, 0x7f, fi, mask);                                     \
    } while (0)

#define GROUP2(name, INSN, mask)                                                                   \
    static void g_##name(void) {                                                                   \
        group_begin();                                                                             \
        for (int i = 0; i < NITER; i++) {                                                          \
            uint32_t a = operand(i), b = operand((i * 7 + 3) % NITER);                             \
            uint32_t fi = rflags();                                                                \
            ALU_ALL(INSN, mask, a, b, fi);                                                         \
        }                                                                                          \
        group_end("alu " #name);                                                                   \
    }

GROUP2(add, "add", F_ARITH)
GROUP2(adc, "adc", F_ARITH)
GROUP2(sub, "sub", F_ARITH)
GROUP2(sbb, "sbb", F_ARITH)
GROUP2(and, "and", LOGIC)
GROUP2(or, "or", LOGIC)
GROUP2(xor, "xor", LOGIC)
GROUP2(cmp, "cmp", F_ARITH)
GROUP2(test, "test", LOGIC)

#define GROUP1(name, INSN, mask)                                                                   \
    static void g_##name(void) {                                                                   \
        group_begin();                                                                             \
        for (int i = 0; i < NITER; i++) {                                                          \
            uint32_t a = operand(i), fi = rflags();                                                \
            RUN1(INSN "l", uint32_t, "k", a, fi, mask);                                            \
            RUN1(INSN "w", uint16_t, "w", a, fi, mask);                                            \
            RUN1(INSN "b", uint8_t, "b", a, fi, mask);                                             \
        }                                                                                          \
        group_end("alu " #name);                                                                   \
    }

GROUP1(inc, "inc", F_ARITH)
GROUP1(dec, "dec", F_ARITH)
GROUP1(neg, "neg", F_ARITH)
GROUP1(not, "not", F_ARITH)

int kmain(void) {
    g_add();
    g_adc();
    g_sub();
    g_sbb();
    g_and();
    g_or();
    g_xor();
    g_cmp();
    g_test();
    g_inc();
    g_dec();
    g_neg();
    g_not();
    return 0;
}
