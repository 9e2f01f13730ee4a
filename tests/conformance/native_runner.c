/* Runs conformance test cases natively in a 32-bit process (see case.h).
 * Reads struct conf_case records on stdin and writes one struct conf_result per case on
 * stdout. The instruction runs at CONF_CODE_ADDR with an exit stub at its fall-through
 * address and another at the case's target address (for control transfers); the stub that
 * runs records its address, which is the guest EIP after the instruction. Faults are caught
 * with sigsetjmp/siglongjmp on an alternate signal stack (the guest ESP points into the data
 * area, which must not be disturbed); the registers at the fault come from the ucontext. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "case.h"

uint32_t g_in[9];
uint32_t g_out[9];
uint32_t g_host_esp;
uint32_t g_code = CONF_CODE_ADDR;
volatile uint32_t g_marker;
void rc_enter(void);
void rc_exit(void);

static sigjmp_buf g_jmp;
static volatile int g_signo;
static uint32_t g_fault_regs[8], g_fault_eip, g_fault_eflags;
static uint8_t g_zero[CONF_AREA_SIZE];

static void on_fault(int sig, siginfo_t *si, void *uc_) {
    (void)si;
    ucontext_t *uc = uc_;
    greg_t *g = uc->uc_mcontext.gregs;
    g_fault_regs[0] = g[REG_EAX];
    g_fault_regs[1] = g[REG_ECX];
    g_fault_regs[2] = g[REG_EDX];
    g_fault_regs[3] = g[REG_EBX];
    g_fault_regs[4] = g[REG_ESP];
    g_fault_regs[5] = g[REG_EBP];
    g_fault_regs[6] = g[REG_ESI];
    g_fault_regs[7] = g[REG_EDI];
    g_fault_eip = g[REG_EIP];
    g_fault_eflags = g[REG_EFL];
    g_signo = sig;
    siglongjmp(g_jmp, 1);
}

static void put_stub(uint8_t *p, uint32_t at) {
    /* mov dword [g_marker], at ; jmp rc_exit */
    p[0] = 0xC7;
    p[1] = 0x05;
    uint32_t ma = (uint32_t)(uintptr_t)&g_marker;
    memcpy(p + 2, &ma, 4);
    memcpy(p + 6, &at, 4);
    p[10] = 0xE9;
    uint32_t rel = (uint32_t)(uintptr_t)rc_exit - (at + 15);
    memcpy(p + 11, &rel, 4);
}

int main(void) {
    uint8_t *data = mmap((void *)CONF_DATA_ADDR, CONF_AREA_SIZE, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    uint8_t *code = mmap((void *)CONF_CODE_AREA, CONF_AREA_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (data == MAP_FAILED || code == MAP_FAILED) {
        perror("native_runner: mmap");
        return 2;
    }
    memset(code, 0xCC, CONF_AREA_SIZE);

    static uint8_t altstack[65536];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        perror("native_runner: sigaltstack");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGFPE, SIGSEGV, SIGILL, SIGBUS, SIGTRAP};
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);

    static struct conf_case c;
    static struct conf_result r;
    unsigned long n = 0;
    while (fread(&c, sizeof c, 1, stdin) == 1) {
        if (c.len == 0 || c.len > 15) {
            fprintf(stderr, "native_runner: bad case %lu\n", n);
            return 2;
        }
        uint8_t *at = code + (CONF_CODE_ADDR - CONF_CODE_AREA);
        memcpy(at, c.code, c.len);
        put_stub(at + c.len, CONF_CODE_ADDR + c.len);
        static uint8_t *tp;
        tp = NULL;
        if (c.target) {
            if (c.target < CONF_CODE_AREA ||
                c.target + CONF_STUB_SPACE > CONF_CODE_AREA + CONF_AREA_SIZE) {
                fprintf(stderr, "native_runner: bad target in case %lu\n", n);
                return 2;
            }
            tp = code + (c.target - CONF_CODE_AREA);
            put_stub(tp, c.target);
        }
        memcpy(data + (CONF_WIN_ADDR - CONF_DATA_ADDR), c.data, CONF_WIN_SIZE);
        memcpy(g_in, c.regs, sizeof c.regs);
        g_in[8] = (c.eflags & 0x8d5u) | (c.eflags & 0x400u) | 0x202u;
        g_marker = 0;
        g_signo = 0;
        memset(&r, 0, sizeof r);
        if (sigsetjmp(g_jmp, 1) == 0) {
            rc_enter();
            memcpy(r.regs, g_out, sizeof r.regs);
            r.eflags = g_out[8];
            r.eip = g_marker;
            r.fault = CONF_FAULT_NONE;
        } else {
            memcpy(r.regs, g_fault_regs, sizeof r.regs);
            r.eflags = g_fault_eflags;
            r.eip = g_fault_eip;
            r.fault = g_signo == SIGFPE ? 0 : g_signo == SIGILL ? 6 : CONF_FAULT_OTHER;
        }
        memcpy(r.data, data + (CONF_WIN_ADDR - CONF_DATA_ADDR), CONF_WIN_SIZE);
        memset(data + (CONF_WIN_ADDR - CONF_DATA_ADDR), 0, CONF_WIN_SIZE);
        if (memcmp(data, g_zero, CONF_AREA_SIZE) != 0) {
            r.outside_dirty = 1;
            memset(data, 0, CONF_AREA_SIZE);
        }
        memset(at, 0xCC, c.len + CONF_STUB_SPACE);
        if (tp) memset(tp, 0xCC, CONF_STUB_SPACE);
        if (fwrite(&r, sizeof r, 1, stdout) != 1) {
            perror("native_runner: write");
            return 2;
        }
        n++;
    }
    if (fflush(stdout) != 0) return 2;
    return 0;
}
