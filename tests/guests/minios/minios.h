/* minios: definitions shared by the kernel (minios.c) and the user programs (user.c). */
#ifndef MINIOS_H
#define MINIOS_H
#include <stdint.h>

/* System call numbers (EAX; arguments in EBX, ESI, EDI; result in EAX). */
enum {
    SYS_WRITE = 1,  /* write(ptr, len) -> appended to the task's output */
    SYS_GETPID = 2,
    SYS_YIELD = 3,
    SYS_EXIT = 4,   /* exit(code) */
    SYS_SLEEP = 5,  /* sleep(ticks) */
    SYS_READ = 6,   /* read_char(timeout ticks, 0 = forever) -> byte or -1 */
    SYS_TICKS = 7,
    SYS_NOP = 8,
    SYS_BENCH = 9,  /* bench(row, n): kernel-side benchmark rows */
};

#define USER_BASE 0x40000000u
#define USER_STACK_TOP 0x40010000u
#define HEAP_LO 0x40100000u
#define HEAP_HI 0x40200000u
#define BENCH_PF_VA 0x40300000u

/* Kernel-side benchmark rows run through SYS_BENCH. */
enum { KB_IN = 1, KB_OUT, KB_CR3, KB_PF, KB_INVLPG };

int u_sysenter(int nr, int a, int b, int c);
extern char user_begin[], user_end[];
#endif
