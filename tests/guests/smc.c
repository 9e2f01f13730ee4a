#include "rt.h"

uint32_t smc_imm_fn(void);
uint32_t smc_same_block(uint32_t v);
uint32_t smc_hot_fn(uint32_t x);
uint32_t smc_op_fn(uint32_t x);
extern uint8_t smc_hot_imm[], smc_op_modrm[];

static uint8_t jit_buf[64] __attribute__((aligned(16)));

static void wr32(void *p, uint32_t v) {
    *(volatile uint32_t *)p = v;
}

int kmain(void) {
    println_hex("imm call 1", smc_imm_fn());
    wr32((uint8_t *)smc_imm_fn + 1, 0x22222222u);
    println_hex("imm call 2", smc_imm_fn());
    for (uint32_t i = 0; i < 100; i++) {
        wr32((uint8_t *)smc_imm_fn + 1, i * 0x01010101u);
        if (smc_imm_fn() != i * 0x01010101u) {
            println_hex("imm mismatch at", i);
            return 1;
        }
    }
    println_hex("imm call 3", smc_imm_fn());

    uint32_t acc = 0;
    for (uint32_t i = 0; i < 50; i++)
        acc = acc * 31 + smc_same_block(i * 0x9e3779b9u);
    println_hex("same block", acc);

    /* hot code (executed many times, so surely translated) then patched */
    acc = 0;
    for (uint32_t i = 0; i < 10000; i++)
        acc += smc_hot_fn(i);
    println_hex("hot before", acc);
    *(volatile uint8_t *)smc_hot_imm = 100;
    acc = 0;
    for (uint32_t i = 0; i < 10000; i++)
        acc += smc_hot_fn(i);
    println_hex("hot after", acc);

    /* opcode change on another page */
    println_hex("other page add", smc_op_fn(1000));
    *(volatile uint8_t *)smc_op_modrm = 0xe8; /* 83 /5: sub $5, %eax */
    println_hex("other page sub", smc_op_fn(1000));
    *(volatile uint8_t *)smc_op_modrm = 0xf0; /* 83 /6: xor $5, %eax */
    println_hex("other page xor", smc_op_fn(1001));

    /* code generated into a data buffer: mov $imm, %eax; ret */
    typedef uint32_t (*fn_t)(void);
    fn_t f = (fn_t)(uintptr_t)jit_buf;
    acc = 0;
    for (uint32_t i = 0; i < 20; i++) {
        jit_buf[0] = 0xb8;
        wr32(jit_buf + 1, i * 7 + 3);
        jit_buf[5] = (i & 1) ? 0xc3 : 0x90; /* odd: ret; even: nop, then ... */
        jit_buf[6] = 0x40;                  /* inc %eax */
        jit_buf[7] = 0xc3;
        acc = acc * 17 + f();
    }
    println_hex("jit buffer", acc);
    return 0;
}
