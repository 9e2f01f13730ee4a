/* Host-side runtime for running an instruction test kernel natively as a 32-bit Linux
 * process (the real-CPU oracle): the same hashing and printing as rt.c, on stdout. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include "rt.h"
uint32_t rng_state = 0x12345678u, hash_state = 0x811c9dc5u;
void putc_serial(char c) {
    putchar(c);
}
void puts_serial(const char *s) {
    fputs(s, stdout);
}
void println_hex(const char *label, uint32_t v) {
    printf("%s: %08x\n", label, v);
}
void group_begin(void) {
    rng_state = 0x12345678u;
    hash_state = 0x811c9dc5u;
}
void group_end(const char *name) {
    println_hex(name, hash_state);
}
static const uint32_t edges[NEDGE] = {
    0,           1,           2,           0x7f,        0x80,        0xff,        0x100,
    0x7fff,      0x8000,      0xffff,      0x10000,     0x7fffffff,  0x80000000u, 0x80000001u,
    0xfffffffeu, 0xffffffffu, 0x55555555u, 0xaaaaaaaau, 0x0f0f0f0fu, 31};
uint32_t operand(int i) {
    if (i < NEDGE) return edges[i];
    uint32_t r = rnd();
    switch (r & 3) {
    case 0: return rnd() & 0xff;
    case 1: return rnd() | 0x80000000u;
    default: return rnd();
    }
}
int kmain(void);
int main(void) {
    return kmain();
}
