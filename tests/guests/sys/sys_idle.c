/* HLT waits without spinning the host: a 100 Hz PIT and HLT until 100 ticks (one second of
 * guest time, which follows the host clock by default). idle_check.sh measures the host
 * CPU time rrvm used meanwhile. */
#include "sys.h"

static volatile uint32_t ticks;
static void irq0(struct sys_frame *f) {
    (void)f;
    ticks++;
    sys_pic_eoi(0);
}

int kmain(void) {
    sys_init();
    sys_pic_init();
    sys_hooks[0x20] = irq0;
    sys_pit_periodic(11932); /* ~100 Hz */
    sys_pic_mask(0, 0);
    sys_arm(SYS_M_FATAL);
    __asm__ volatile("sti");
    while (ticks < 100)
        __asm__ volatile("hlt");
    __asm__ volatile("cli");
    puts_serial("sys_idle: 100 ticks\n");
    guest_exit(0);
}
