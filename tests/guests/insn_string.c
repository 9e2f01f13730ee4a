#include "insn.h"

static uint8_t src[512], dst[512];
#define CMPF F_ARITH

static void fill(void) {
    for (int i = 0; i < 512; i++) {
        src[i] = (uint8_t)rnd();
        dst[i] = (uint8_t)rnd();
    }
}
static void hbuf(const uint8_t *b) {
    for (int i = 0; i < 512; i += 4)
        hmix(*(const uint32_t *)(b + i));
}

/* rep-prefixed string op; SZ is the element size, DOWN selects DF=1. */
#define REPOP(OPC, SZ, DOWN, n, soff, doff, eaxv)                                                  \
    do {                                                                                           \
        uint32_t si_ = (uint32_t)(uintptr_t)(src + (soff)),                                        \
                 di_ = (uint32_t)(uintptr_t)(dst + (doff));                                        \
        uint32_t c_ = (n), a_ = (eaxv), f_;                                                        \
        __asm__ volatile(DOWN OPC "; pushf; pop %[f]; cld"                                         \
                         : "+S"(si_), "+D"(di_), "+c"(c_), "+a"(a_), [f] "=&r"(f_)                 \
                         :                                                                         \
                         : "memory", "cc");                                                        \
        hmix(si_ - (uint32_t)(uintptr_t)src);                                                      \
        hmix(di_ - (uint32_t)(uintptr_t)dst);                                                      \
        hmix(c_);                                                                                  \
        hmix(a_);                                                                                  \
        hmix(f_ &(F_ARITH | F_DF));                                                                \
        (void)(SZ);                                                                                \
    } while (0)

#define T(NAME, STR)                                                                               \
    static void NAME(int down, uint32_t n, uint32_t so, uint32_t d, uint32_t a) {                  \
        if (down)                                                                                  \
            REPOP(STR, 0, "std; ", n, so, d, a);                                                   \
        else                                                                                       \
            REPOP(STR, 0, "cld; ", n, so, d, a);                                                   \
    }
T(movsb, "rep movsb")
T(movsw, "rep movsw") T(movsl, "rep movsl") T(stosb, "rep stosb") T(stosw, "rep stosw")
    T(stosl, "rep stosl") T(lodsb, "rep lodsb") T(lodsw, "rep lodsw") T(lodsl, "rep lodsl")
        T(cmpsb, "repe cmpsb") T(cmpsw, "repe cmpsw") T(cmpsl, "repe cmpsl")
            T(cmpsnb, "repne cmpsb") T(cmpsnl, "repne cmpsl") T(scasb, "repne scasb")
                T(scasw, "repne scasw") T(scasl, "repe scasl") T(scaseb, "repe scasb")
                    T(movsb1, "movsb") T(stosl1, "stosl") T(lodsw1, "lodsw") T(cmpsb1, "cmpsb")
                        T(scasl1, "scasl") T(movs0, "rep movsl") /* with ecx = 0 */

    typedef void (*fn_t)(int, uint32_t, uint32_t, uint32_t, uint32_t);
static const struct {
    const char *name;
    fn_t fn;
    int sz;
    int cmp;
} ops[] = {{"string movs", 0, 0, 0}, {0, movsb, 1, 0},         {0, movsw, 2, 0},
           {0, movsl, 4, 0},         {0, movsb1, 1, 0},        {"string stos", 0, 0, 0},
           {0, stosb, 1, 0},         {0, stosw, 2, 0},         {0, stosl, 4, 0},
           {0, stosl1, 4, 0},        {"string lods", 0, 0, 0}, {0, lodsb, 1, 0},
           {0, lodsw, 2, 0},         {0, lodsl, 4, 0},         {0, lodsw1, 2, 0},
           {"string cmps", 0, 0, 0}, {0, cmpsb, 1, 1},         {0, cmpsw, 2, 1},
           {0, cmpsl, 4, 1},         {0, cmpsnb, 1, 1},        {0, cmpsnl, 4, 1},
           {0, cmpsb1, 1, 1},        {"string scas", 0, 0, 0}, {0, scasb, 1, 1},
           {0, scasw, 2, 1},         {0, scasl, 4, 1},         {0, scaseb, 1, 1},
           {0, scasl1, 4, 1},        {0, movs0, 4, 0},         {"", 0, 0, 0}};

int kmain(void) {
    const char *cur = 0;
    for (int k = 0; ops[k].name == 0 || ops[k].name[0]; k++) {
        if (ops[k].name) {
            if (cur) group_end(cur);
            cur = ops[k].name;
            group_begin();
            continue;
        }
        for (int it = 0; it < 60; it++) {
            fill();
            int sz = ops[k].sz;
            if (ops[k].cmp && (it & 1)) { /* make long equal runs for repe */
                uint32_t eq = rnd() % 200;
                for (uint32_t j = 0; j < eq; j++)
                    dst[100 + j] = src[100 + j] = (uint8_t)(j * 3);
            }
            uint32_t n = ops[k].fn == movs0 ? 0 : rnd() % (100 / sz);
            int down = it & 2 ? 1 : 0;
            uint32_t so = 100 + rnd() % 200, d = 100 + rnd() % 200;
            if (ops[k].cmp && (it & 1)) so = d = 100 + (down ? 200 : 0);
            uint32_t a = (it & 4) ? src[so] * 0x01010101u : rnd();
            ops[k].fn(down, n, so, d, a);
            hbuf(dst);
        }
    }
    group_end(cur);
    /* overlapping forward/backward moves (memmove idioms) */
    group_begin();
    for (int it = 0; it < 40; it++) {
        fill();
        uint32_t n = rnd() % 64 + 1, off = rnd() % 8 + 1;
        uint8_t *p = dst + 200, *q = dst + 200 + off;
        __asm__ volatile("cld; rep movsb" : "+S"(p), "+D"(q), "+c"(n) : : "memory");
        n = rnd() % 16 + 1;
        uint32_t *s4 = (uint32_t *)(dst + 300) + n - 1, *d4 = (uint32_t *)(dst + 304) + n - 1;
        __asm__ volatile("std; rep movsl; cld" : "+S"(s4), "+D"(d4), "+c"(n) : : "memory");
        hbuf(dst);
    }
    group_end("string overlap");
    return 0;
}
