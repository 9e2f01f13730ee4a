/* Tiny freestanding runtime shared by the rrvm guest test kernels. */
#ifndef RRVM_GUEST_RT_H
#define RRVM_GUEST_RT_H
#include <stdint.h>
#include <stddef.h>

struct mb_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
    uint32_t mods_count, mods_addr;
};

static inline void outb(uint16_t port, uint8_t v) {
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port) {
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

void putc_serial(char c);
void puts_serial(const char *s); /* no newline appended */
void puthex(uint32_t v);         /* 8 lowercase hex digits */
void putdec(uint32_t v);
void println_hex(const char *label, uint32_t v); /* "label: xxxxxxxx\n" */
__attribute__((noreturn)) void guest_exit(uint32_t code);
/* Part of the command line after the first space ("" if none). */
const char *mb_args(uint32_t magic, const struct mb_info *mbi);
/* Value of "key=N" in the arguments, or def. */
uint32_t mb_arg_u32(const char *args, const char *key, uint32_t def);

/* Deterministic pseudo-random generator and result hash. */
extern uint32_t rng_state, hash_state;
static inline uint32_t rnd(void) {
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}
static inline void hmix(uint32_t v) {
    hash_state = (hash_state ^ v) * 0x01000193u;
    hash_state ^= hash_state >> 15;
}
void group_begin(void);           /* resets hash and rng */
void group_end(const char *name); /* prints "name: hash" */
/* Operand generator: edge values first, then pseudo-random ones. */
uint32_t operand(int i);
#define NEDGE 20

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#define F_CF 0x001u
#define F_PF 0x004u
#define F_AF 0x010u
#define F_ZF 0x040u
#define F_SF 0x080u
#define F_DF 0x400u
#define F_OF 0x800u
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)
#endif
