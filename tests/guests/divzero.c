#include "rt.h"
extern char div_site[];
int kmain(void) {
    volatile uint32_t zero = 0;
    uint32_t d = zero, q = 1234, r = 0;
    println_hex("dividing by zero at", (uint32_t)(uintptr_t)div_site);
    __asm__ volatile(".globl div_site\ndiv_site:\n\tdivl %[d]" : "+a"(q), "+d"(r) : [d] "r"(d));
    puts_serial("ERROR: still running after the division\n");
    println_hex("quotient", q);
    return 1;
}
