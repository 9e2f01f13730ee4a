#include "rt.h"
extern char ud2_site[];
int kmain(void) {
    println_hex("executing ud2 at", (uint32_t)(uintptr_t)ud2_site);
    __asm__ volatile(".globl ud2_site\nud2_site:\n\tud2");
    puts_serial("ERROR: still running after ud2\n");
    return 1;
}
