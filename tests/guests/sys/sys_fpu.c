/* x87 availability and error reporting: #NM with CR0.TS (x87 and FXSAVE) and with CR0.EM,
 * WAIT with MP+TS, CLTS, #MF from an unmasked exception at the next waiting instruction
 * (CR0.NE=1), and #GP for a misaligned FXSAVE. Compared with QEMU. */
#include "sys.h"

static uint32_t cr0_get(void) {
    uint32_t v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}
static void cr0_set(uint32_t v) {
    __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static uint8_t fxarea[512 + 16] __attribute__((aligned(16)));

int kmain(void) {
    sys_init();
    puts_serial("sys_fpu start\n");
    uint32_t cr0 = cr0_get() | 0x20; /* NE: #MF reporting */
    cr0_set(cr0 & ~0xeu);            /* MP EM TS clear */
    __asm__ volatile("fninit");

    /* TS: x87 -> #NM (fault: eip at the instruction) */
    cr0_set(cr0_get() | 0x8);
    sys_arm(SYS_M_LONGJMP);
    if (!sys_setjmp(&sys_catch_buf)) __asm__ volatile("fld1");
    sys_report("fld1 with TS");
    /* TS without MP: WAIT does not fault */
    sys_arm(SYS_M_LONGJMP);
    if (!sys_setjmp(&sys_catch_buf)) __asm__ volatile("fwait");
    sys_report("fwait with TS, MP clear");
    /* TS with MP: WAIT faults */
    cr0_set(cr0_get() | 0x2);
    sys_arm(SYS_M_LONGJMP);
    if (!sys_setjmp(&sys_catch_buf)) __asm__ volatile("fwait");
    sys_report("fwait with TS and MP");
    /* FXSAVE with TS */
    sys_arm(SYS_M_LONGJMP);
    if (!sys_setjmp(&sys_catch_buf)) __asm__ volatile("fxsave %0" : "=m"(fxarea[0]));
    sys_report("fxsave with TS");
    /* CLTS: the FPU works again */
    __asm__ volatile("clts");
    println_hex("cr0.ts after clts", (cr0_get() >> 3) & 1);
    sys_arm(SYS_M_LONGJMP);
    double x = 0;
    if (!sys_setjmp(&sys_catch_buf)) __asm__ volatile("fld1; fstpl %0" : "=m"(x));
    sys_report("fld1 after clts");
    puts_serial(x == 1.0 ? "value 1.0 ok\n" : "value bad\n");

    /* EM: x87 -> #NM */
    cr0_set((cr0_get() | 0x4) & ~0x2u);
    sys_arm(SYS_M_LONGJMP);
    if (!sys_setjmp(&sys_catch_buf)) __asm__ volatile("fldz");
    sys_report("fldz with EM");
    cr0_set(cr0_get() & ~0x4u);

    /* #MF: unmask invalid-operation, sqrt(-1), the next waiting x87 instruction faults */
    uint16_t cw = 0x037e; /* IM clear */
    __asm__ volatile("fninit; fldcw %0" : : "m"(cw));
    sys_arm(SYS_M_LONGJMP);
    if (!sys_setjmp(&sys_catch_buf)) {
        __asm__ volatile("fld1; fchs; fsqrt" ::: "memory"); /* sets IE, ES: no fault yet */
        puts_serial("after fsqrt: no fault yet\n");
        __asm__ volatile("fwait"); /* #MF here */
        puts_serial("fwait: no #MF\n");
    }
    sys_report("pending invalid at fwait");
    uint16_t sw;
    __asm__ volatile("fnstsw %0" : "=m"(sw));
    println_hex("fsw IE ES", sw & 0x81);
    __asm__ volatile("fnclex");
    __asm__ volatile("fnstsw %0" : "=m"(sw));
    println_hex("fsw after fnclex", sw & 0x81);
    __asm__ volatile("fninit");

    /* FXSAVE to a misaligned address: #GP(0) */
    sys_arm(SYS_M_LONGJMP);
    if (!sys_setjmp(&sys_catch_buf)) __asm__ volatile("fxsave %0" : "=m"(fxarea[8]));
    sys_report("fxsave misaligned");
    sys_arm(SYS_M_LONGJMP);
    if (!sys_setjmp(&sys_catch_buf)) __asm__ volatile("fxsave %0" : "=m"(fxarea[0]));
    sys_report("fxsave aligned");
    println_hex("fxsave fcw", (uint32_t)(fxarea[0] | fxarea[1] << 8));

    puts_serial("sys_fpu done\n");
    guest_exit(0);
}
