/* IDT exception and interrupt delivery: vectors, error codes, fault vs trap return
 * addresses, gates from ring 3, IF handling, #PF, #DF, single-step, #TS. */
#include "sys.h"

/* Test instructions with labels marking the faulting instruction and the next one. */
extern const uint8_t l_de[], l_de_end[], l_ud[], l_ud_end[], l_bp[], l_bp_end[];
extern const uint8_t l_of[], l_of_end[], l_br[], l_br_end[], l_ss[], l_ss_end[];
extern const uint8_t u_int81[], u_int81_end[], u_int82[], u_int82_end[], u_int3[], u_int3_end[];
extern const uint8_t l_step[], l_step_end[];

static void check_eip(const char *what, uint32_t got, const void *want) {
    puts_serial(what);
    if (got == (uint32_t)want) {
        puts_serial(" eip ok\n");
    } else {
        puts_serial(" eip bad ");
        puthex(got);
        puts_serial(" want ");
        puthex((uint32_t)want);
        putc_serial('\n');
    }
}

static volatile int32_t bounds[2] = {10, 20};

__asm__(".text\n"
        "u_int81: int $0x81\nu_int81_end: ret\n"
        "u_int82: int $0x82\nu_int82_end: ret\n"
        "u_int3: int3\nu_int3_end: ret\n");
extern void u_int81_fn(void) __asm__("u_int81");
extern void u_int82_fn(void) __asm__("u_int82");
extern void u_int3_fn(void) __asm__("u_int3");

static void load_ds_expect(const char *name, uint32_t sel) {
    sys_arm(SYS_M_JUMP);
    __asm__ volatile("movl $1f, sys_resume_eip\n\tmovl %0, %%ds\n1:\n\t"
                     "movl $0x10, %%eax\n\tmovl %%eax, %%ds" ::"r"(sel) : "eax", "memory");
    sys_report(name);
}
static void load_fs_expect(const char *name, uint32_t sel) {
    sys_arm(SYS_M_JUMP);
    __asm__ volatile("movl $1f, sys_resume_eip\n\tmovl %0, %%fs\n1:\n\t"
                     "movl $0x10, %%eax\n\tmovl %%eax, %%fs" ::"r"(sel) : "eax", "memory");
    sys_report(name);
}
static void load_ss_expect(const char *name, uint32_t sel) {
    sys_arm(SYS_M_JUMP);
    __asm__ volatile("movl $1f, sys_resume_eip\n\tmovl %0, %%ss\n1:\n\t"
                     "movl $0x10, %%eax\n\tmovl %%eax, %%ss" ::"r"(sel) : "eax", "memory");
    sys_report(name);
}

static volatile uint32_t step_count, step_eips[16];
static void step_hook(struct sys_frame *f) {
    uint32_t dr6;
    __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
    if (step_count < 16) step_eips[step_count] = f->eip;
    step_count++;
    if (step_count == 1) println_hex("dr6.bs", (dr6 >> 14) & 1);
}

int kmain(void) {
    sys_init();
    sys_pic_init();
    puts_serial("sys_exceptions start\n");

    /* #DE: fault, eip = the div */
    sys_arm(SYS_M_JUMP);
    __asm__ volatile("movl $l_de_end, sys_resume_eip\n\txorl %%ecx, %%ecx\n\tmovl $7, %%eax\n\t"
                     "xorl %%edx, %%edx\nl_de: divl %%ecx\nl_de_end:" ::: "eax", "ecx", "edx", "memory");
    sys_report("#DE");
    check_eip("#DE", sys_last.eip, l_de);
    println_hex("#DE cs", sys_last.cs);

    /* #UD */
    sys_arm(SYS_M_JUMP);
    __asm__ volatile("movl $l_ud_end, sys_resume_eip\nl_ud: ud2\nl_ud_end:" ::: "memory");
    sys_report("#UD");
    check_eip("#UD", sys_last.eip, l_ud);

    /* #BP: trap, eip after INT3 */
    sys_arm(SYS_M_RESUME);
    __asm__ volatile("l_bp: int3\nl_bp_end:" ::: "memory");
    sys_report("#BP");
    check_eip("#BP", sys_last.eip, l_bp_end);

    /* INTO with OF clear: nothing; with OF set: #OF trap */
    sys_arm(SYS_M_RESUME);
    __asm__ volatile("xorl %%eax, %%eax\n\tinto" ::: "eax", "cc", "memory");
    sys_report("INTO OF=0");
    sys_arm(SYS_M_RESUME);
    __asm__ volatile("movl $0x7fffffff, %%eax\n\taddl $1, %%eax\nl_of: into\nl_of_end:" ::: "eax", "cc", "memory");
    sys_report("#OF");
    check_eip("#OF", sys_last.eip, l_of_end);

    /* BOUND in range: nothing; out of range: #BR fault */
    sys_arm(SYS_M_JUMP);
    __asm__ volatile("movl $1f, sys_resume_eip\n\tmovl $15, %%eax\n\tboundl %%eax, %0\n1:"
                     ::"m"(bounds) : "eax", "memory");
    sys_report("BOUND in");
    sys_arm(SYS_M_JUMP);
    __asm__ volatile("movl $l_br_end, sys_resume_eip\n\tmovl $21, %%eax\nl_br: boundl %%eax, %0\nl_br_end:"
                     ::"m"(bounds) : "eax", "memory");
    sys_report("#BR");
    check_eip("#BR", sys_last.eip, l_br);

    /* #GP with selector error codes */
    sys_gdt_set(7, 0, 0xfffff, 0x98, 0xc0);      /* execute-only code */
    sys_gdt_set(8, 0, 0xfffff, 0x12, 0xc0);      /* data, not present */
    sys_gdt_set(9, 0, 0xfffff, 0x90, 0xc0);      /* read-only data */
    sys_gdt_set(10, 0, 0xfffff, 0xd2, 0xc0);     /* data DPL 2 */
    load_ds_expect("mov ds,0x1f8 (beyond limit)", 0x1f8);
    load_ds_expect("mov ds,0x1fb (beyond limit rpl3)", 0x1fb);
    load_ds_expect("mov ds,exec-only code", 0x38);
    load_ds_expect("mov ds,tss", SEL_TSS);
    __asm__ volatile("lldt %w0" ::"r"(0));
    load_ds_expect("mov ds,ldt-sel null ldtr", 0x0c);
    load_ds_expect("mov ds,flat code readable", SEL_KCODE);
    load_fs_expect("mov fs,not present", 0x40);
    load_fs_expect("mov fs,null", 0);
    load_ss_expect("mov ss,not present", 0x40);
    load_ss_expect("mov ss,read-only", 0x48);
    load_ss_expect("mov ss,null", 0);
    load_ss_expect("mov ss,dpl2", 0x52);
    load_ss_expect("mov ss,udata rpl3", SEL_UDATA);

    /* #SS on a stack access beyond an SS limit is not tested (rrvm assumes a flat SS). */

    /* INT n from ring 3: DPL-3 gate ok (trap, eip after); DPL-0 gate -> #GP(vec*8+2) */
    sys_idt_set(0x81, (uint32_t)sys_stubs + 16 * 0x81, SEL_KCODE, 0xE, 3, 1);
    sys_arm(SYS_M_RESUME);
    sys_run_user(u_int81_fn, 0);
    sys_report("ring3 int 0x81 dpl3");
    check_eip("ring3 int 0x81", sys_last.eip, u_int81_end);
    println_hex("ring3 int 0x81 cs", sys_last.cs);
    println_hex("ring3 int 0x81 ss", sys_last.uss);
    println_hex("ring3 int 0x81 esp", (uint32_t)(sys_ustack + sizeof(sys_ustack)) - sys_last.uesp);
    sys_arm(SYS_M_SKIP);
    sys_skip_len = 2;
    sys_run_user(u_int82_fn, 0);
    sys_report("ring3 int 0x82 dpl0");
    check_eip("ring3 int 0x82", sys_last.eip, u_int82);
    sys_arm(SYS_M_RESUME);
    sys_run_user(u_int3_fn, 0);
    sys_report("ring3 int3");
    check_eip("ring3 int3", sys_last.eip, u_int3_end);
    /* int3 through a DPL-0 gate from ring 3 -> #GP(3*8+2) */
    sys_idt_set(3, (uint32_t)sys_stubs + 16 * 3, SEL_KCODE, 0xE, 0, 1);
    sys_arm(SYS_M_SKIP);
    sys_skip_len = 1;
    sys_run_user(u_int3_fn, 0);
    sys_report("ring3 int3 dpl0 gate");
    sys_idt_set(3, (uint32_t)sys_stubs + 16 * 3, SEL_KCODE, 0xE, 3, 1);
    /* non-present gate: #NP(vec*8+2) */
    sys_idt_set(0x85, (uint32_t)sys_stubs + 16 * 0x85, SEL_KCODE, 0xE, 0, 0);
    sys_arm(SYS_M_SKIP);
    sys_skip_len = 2;
    __asm__ volatile("int $0x85" ::: "memory");
    sys_report("int 0x85 not present");

    /* Interrupt gate clears IF, trap gate keeps it */
    sys_idt_set(0x83, (uint32_t)sys_stubs + 16 * 0x83, SEL_KCODE, 0xE, 0, 1);
    sys_idt_set(0x84, (uint32_t)sys_stubs + 16 * 0x84, SEL_KCODE, 0xF, 0, 1);
    sys_arm(SYS_M_RESUME);
    __asm__ volatile("sti\n\tint $0x83\n\tcli" ::: "memory");
    sys_report("int gate");
    println_hex("int gate handler IF", (sys_last.handler_eflags >> 9) & 1);
    println_hex("int gate saved IF", (sys_last.eflags >> 9) & 1);
    sys_arm(SYS_M_RESUME);
    __asm__ volatile("sti\n\tint $0x84\n\tcli" ::: "memory");
    sys_report("trap gate");
    println_hex("trap gate handler IF", (sys_last.handler_eflags >> 9) & 1);

    /* #PF with paging */
    static uint8_t frame[4096] __attribute__((aligned(4096)));
    sys_paging_init(64);
    sys_map4k(0x40000000, (uint32_t)frame, 0);            /* not present */
    sys_map4k(0x40001000, (uint32_t)frame, PG_P);         /* read-only supervisor */
    sys_paging_enable();
    volatile uint32_t *np = (volatile uint32_t *)0x40000010;
    volatile uint32_t *ro = (volatile uint32_t *)0x40001024;
    sys_arm(SYS_M_JUMP);
    __asm__ volatile("movl $1f, sys_resume_eip\n\tmovl (%0), %%eax\n1:" ::"r"(np) : "eax", "memory");
    sys_report("#PF read np");
    println_hex("#PF read np cr2", sys_last.cr2);
    sys_arm(SYS_M_JUMP);
    __asm__ volatile("movl $1f, sys_resume_eip\n\tmovl $1, (%0)\n1:" ::"r"(np) : "memory");
    sys_report("#PF write np");
    println_hex("#PF write np cr2", sys_last.cr2);
    write_cr0(read_cr0() | CR0_WP);
    sys_arm(SYS_M_JUMP);
    __asm__ volatile("movl $1f, sys_resume_eip\n\tmovl $1, (%0)\n1:" ::"r"(ro) : "memory");
    sys_report("#PF write ro wp");
    println_hex("#PF write ro cr2", sys_last.cr2);
    write_cr0(read_cr0() & ~(CR0_PG | CR0_WP));

    /* Double fault: #GP while the #GP gate is not present -> #NP during delivery -> #DF(0) */
    sys_idt_set(13, (uint32_t)sys_stubs + 16 * 13, SEL_KCODE, 0xE, 0, 0);
    if (!sys_setjmp(&sys_catch_buf)) {
        sys_arm(SYS_M_LONGJMP);
        __asm__ volatile("movl %0, %%ds" ::"r"(0x1f8) : "memory");
        puts_serial("#DF not raised\n");
    }
    __asm__ volatile("movl $0x10, %%eax\n\tmovl %%eax, %%ds" ::: "eax");
    sys_idt_default(13);
    sys_report("#DF");
    println_hex("#DF cs", sys_last.cs);

    /* Single step: TF set by POPF; #DB after each following instruction */
    sys_hooks[1] = step_hook;
    step_count = 0;
    sys_arm(SYS_M_FATAL);
    __asm__ volatile("pushfl\n\torl $0x100, (%%esp)\n\tpopfl\n"
                     "l_step: nop\n\tmovl $5, %%eax\n\taddl %%eax, %%eax\n\tleal 1(%%eax), %%ecx\n\t"
                     "pushfl\n\tandl $0xfffffeff, (%%esp)\n\tpopfl\nl_step_end:\n\tnop"
                     ::: "eax", "ecx", "cc", "memory");
    sys_hooks[1] = 0;
    println_hex("single-step traps", step_count);
    for (uint32_t i = 0; i < step_count && i < 16; i++)
        println_hex("  step eip-l_step", step_eips[i] - (uint32_t)l_step);

    /* #TS: IRET with EFLAGS.NT and a back link to a non-TSS selector */
    sys_tss.link = 0x48; /* read-only data segment */
    sys_arm(SYS_M_LONGJMP);
    if (!sys_setjmp(&sys_catch_buf)) {
        __asm__ volatile("pushfl\n\torl $0x4000, (%%esp)\n\tpopfl\n\tiret" ::: "memory");
        puts_serial("#TS not raised\n");
    }
    sys_report("iret nt bad link");

    puts_serial("sys_exceptions done\n");
    guest_exit(0);
}
