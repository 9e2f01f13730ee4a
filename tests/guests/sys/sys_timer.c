/* PIC + PIT periodic timer (IRQ0), PIT read-back and latch, CMOS RTC registers and the
 * RTC periodic interrupt (IRQ8 on the slave PIC). Prints only deterministic facts. */
#include "sys.h"

static volatile uint32_t ticks, rtc_ticks;
static void irq0(struct sys_frame *f) { (void)f; ticks++; sys_pic_eoi(0); }
static void spurious15(struct sys_frame *f) { (void)f; outb(0x20, 0x20); }
static uint8_t cmos(uint8_t r) { outb(0x70, r); return inb(0x71); }
static void cmos_w(uint8_t r, uint8_t v) { outb(0x70, r); outb(0x71, v); }
static void irq8(struct sys_frame *f) { (void)f; (void)cmos(0x0c); rtc_ticks++; sys_pic_eoi(8); }
static int bcd_ok(uint8_t v, uint8_t max) {
    return (v & 0xf) <= 9 && (v >> 4) <= 9 && ((v >> 4) * 10 + (v & 0xf)) <= max;
}

int kmain(void) {
    sys_init();
    sys_pic_init();
    puts_serial("sys_timer start\n");
    println_hex("pic master mask", inb(0x21));
    println_hex("pic slave mask", inb(0xa1));
    sys_hooks[0x20] = irq0;
    sys_pit_periodic(11932); /* ~100 Hz */
    outb(0x43, 0xe2);        /* read-back: status of channel 0 */
    println_hex("pit status (mode/access/bcd)", inb(0x40) & 0x3f);
    outb(0x43, 0x00); /* counter latch channel 0 */
    uint32_t lo = inb(0x40), hi = inb(0x40);
    puts_serial((hi << 8 | lo) <= 11932 ? "pit latch <= reload\n" : "pit latch > reload\n");
    sys_pic_mask(0, 0);
    sys_arm(SYS_M_FATAL);
    __asm__ volatile("sti");
    uint32_t halts = 0;
    while (ticks < 20) {
        __asm__ volatile("hlt");
        halts++;
    }
    __asm__ volatile("cli");
    sys_pic_mask(0, 1);
    puts_serial("ticks reached 20\n");
    puts_serial(halts >= 20 ? "halts >= 20\n" : "halts < 20\n");

    /* RTC */
    while (cmos(0x0a) & 0x80)
        ;
    uint8_t s = cmos(0x00), m = cmos(0x02), h = cmos(0x04), d = cmos(0x07), mo = cmos(0x08);
    uint8_t b = cmos(0x0b);
    println_hex("rtc reg a (no uip)", cmos(0x0a) & 0x7f);
    println_hex("rtc reg b", b);
    println_hex("rtc reg d", cmos(0x0d));
    int ok = !(b & 4) && bcd_ok(s, 59) && bcd_ok(m, 59) && bcd_ok(h & 0x7f, 23) && bcd_ok(d, 31) &&
             d != 0 && bcd_ok(mo, 12) && mo != 0;
    puts_serial(ok ? "rtc ok\n" : "rtc bad\n");

    /* RTC periodic interrupt, 1024 Hz */
    sys_hooks[0x28] = irq8;
    (void)cmos(0x0c);
    cmos_w(0x0a, (uint8_t)((cmos(0x0a) & 0xf0) | 0x06));
    cmos_w(0x0b, (uint8_t)(cmos(0x0b) | 0x40));
    sys_pic_mask(2, 0);
    sys_pic_mask(8, 0);
    __asm__ volatile("sti");
    while (rtc_ticks < 8)
        __asm__ volatile("hlt");
    __asm__ volatile("cli");
    cmos_w(0x0b, (uint8_t)(cmos(0x0b) & ~0x40));
    (void)cmos(0x0c);
    sys_pic_mask(8, 1);
    puts_serial("rtc periodic reached 8\n");

    /* Back-to-back RDTSC in one block while the timer interrupts it: under record/replay
     * each read is a journal event, and an interrupt or state check recorded right after
     * one must still be landed on exactly (a regression test for inline RDTSC). */
    ticks = 0;
    /* an RTC request latched before IRQ8 was masked can still reach the master through
     * the cascade and come out as the slave's spurious IRQ15, as on a real 8259A pair:
     * acknowledged at the master only (8259A data sheet, spurious interrupts) */
    sys_hooks[0x2f] = spurious15;
    sys_pic_mask(0, 0);
    __asm__ volatile("sti");
    uint64_t prev = rdtsc();
    int monotonic = 1;
    while (ticks < 5) {
        uint64_t a = rdtsc(), b = rdtsc(), c = rdtsc();
        if (a < prev || b < a || c < b) monotonic = 0;
        prev = c;
    }
    __asm__ volatile("cli");
    sys_pic_mask(0, 1);
    puts_serial(monotonic ? "rdtsc monotonic across interrupts\n" : "rdtsc went backwards\n");
    puts_serial("sys_timer done\n");
    guest_exit(0);
}
