#include "rt.h"

uint32_t rng_state = 0x12345678u, hash_state = 0x811c9dc5u;

void putc_serial(char c) {
    /* Wait for the transmit holding register to be empty (LSR bit 5). */
    for (int i = 0; i < 100000 && !(inb(0x3FD) & 0x20); i++)
        ;
    outb(0x3F8, (uint8_t)c);
}
void puts_serial(const char *s) {
    while (*s)
        putc_serial(*s++);
}
void puthex(uint32_t v) {
    for (int i = 28; i >= 0; i -= 4)
        putc_serial("0123456789abcdef"[(v >> i) & 15]);
}
void putdec(uint32_t v) {
    char b[12];
    int n = 0;
    do {
        b[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        putc_serial(b[--n]);
}
void println_hex(const char *label, uint32_t v) {
    puts_serial(label);
    puts_serial(": ");
    puthex(v);
    putc_serial('\n');
}
void guest_exit(uint32_t code) {
    outb(0xF4, (uint8_t)code);
    for (;;)
        __asm__ volatile("cli; hlt");
}
const char *mb_args(uint32_t magic, const struct mb_info *mbi) {
    if (magic != 0x2BADB002u || !(mbi->flags & 4) || !mbi->cmdline) return "";
    const char *s = (const char *)(uintptr_t)mbi->cmdline;
    while (*s && *s != ' ')
        s++;
    if (*s == ' ') s++;
    return s;
}
uint32_t mb_arg_u32(const char *args, const char *key, uint32_t def) {
    size_t kl = 0;
    while (key[kl])
        kl++;
    for (const char *p = args; *p;) {
        if ((p == args || p[-1] == ' ') && !memcmp(p, key, kl) && p[kl] == '=') {
            uint32_t v = 0;
            for (p += kl + 1; *p >= '0' && *p <= '9'; p++)
                v = v * 10 + (uint32_t)(*p - '0');
            return v;
        }
        p++;
    }
    return def;
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

void *memset(void *d, int c, size_t n) {
    uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}
void *memcpy(void *d, const void *s, size_t n) {
    uint8_t *p = d;
    const uint8_t *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}
int memcmp(const void *a, const void *b, size_t n) {
    const uint8_t *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q) return *p < *q ? -1 : 1;
    return 0;
}
