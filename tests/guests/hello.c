#include "rt.h"
int kmain(uint32_t magic, const struct mb_info *mbi) {
    puts_serial("Hello from rrvm guest\n");
    puts_serial("cmdline: [");
    puts_serial(mb_args(magic, mbi));
    puts_serial("]\n");
    return 0;
}
