#include "insn.h"

uint32_t __attribute__((stdcall)) ret_imm_fn(uint32_t a, uint32_t b);
uint32_t enter_test(uint32_t *out);
void pusha_test(uint32_t *out);
uint32_t callret_test(uint32_t x);

static uint32_t rec(uint32_t n) { /* real recursion: deep call/ret */
    if (n < 2) return n + 1;
    return rec(n - 1) * 3 + rec(n - 2) + n;
}

int kmain(void) {
    group_begin();
    for (int i = 0; i < NITER; i++) {
        uint32_t a = operand(i), b = operand(NITER - 1 - i), out, sp0, sp1;
        __asm__ volatile("mov %%esp, %[s0]; push %[a]; push %[b]; pop %[o]; xor (%%esp), %[o]; "
                         "pop %[o]; mov %%esp, %[s1]"
                         : [o] "=&r"(out), [s0] "=&r"(sp0), [s1] "=&r"(sp1)
                         : [a] "r"(a), [b] "r"(b)
                         : "memory");
        hmix(out);
        hmix(sp0 - sp1);
        uint32_t fi = (rflags() | (a & F_DF)), fo;
        __asm__ volatile("push %[fi]; popf; pushf; pop %[fo]; cld"
                         : [fo] "=r"(fo)
                         : [fi] "r"(fi)
                         : "cc");
        hmix(fo & (F_ARITH | F_DF | 2));
        uint16_t w = (uint16_t)b;
        __asm__ volatile("pushw %[w]; popw %[o16]" : [o16] "=r"(w) : [w] "r"(w));
        hmix(w);
    }
    group_end("stack push/pop/pushf/popf");

    group_begin();
    uint32_t buf[16];
    for (int i = 0; i < 4; i++) {
        memset(buf, 0, sizeof buf);
        pusha_test(buf);
        for (int j = 0; j < 12; j++)
            hmix(buf[j]);
    }
    group_end("stack pusha/popa");

    group_begin();
    memset(buf, 0, sizeof buf);
    hmix(enter_test(buf));
    for (int j = 0; j < 8; j++)
        hmix(buf[j]);
    group_end("stack enter/leave");

    group_begin();
    for (int i = 0; i < NITER; i++) {
        uint32_t a = operand(i);
        hmix(ret_imm_fn(a, (uint32_t)i));
        hmix(callret_test(a));
    }
    hmix(rec(18));
    group_end("stack call/ret");
    return 0;
}
