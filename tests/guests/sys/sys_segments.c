/* Segmentation and privilege: descriptor tables, selector loads and their faults, FS/GS
 * bases and limits, far transfers, call gate, ring 3 and back, I/O bitmap, IOPL-sensitive
 * instructions, SYSENTER/SYSEXIT, MSRs, RDTSC, CPUID. */
#include "sys.h"

struct __attribute__((packed)) dtr {
    uint16_t limit;
    uint32_t base;
};
static uint64_t ldt[4] __attribute__((aligned(8)));
static volatile uint32_t buf[1024] __attribute__((aligned(4096)));

static void check(const char *what, int ok) {
    puts_serial(what);
    puts_serial(ok ? ": ok\n" : ": FAIL\n");
}
static void load_expect(const char *name, uint32_t sel, int reg) {
    sys_arm(SYS_M_JUMP);
    switch (reg) {
    case 0: __asm__ volatile("movl $1f, sys_resume_eip\n\tmovl %0, %%ds\n1:\n\tmovl $0x10, %%eax\n\tmovl %%eax, %%ds" ::"r"(sel) : "eax", "memory"); break;
    case 1: __asm__ volatile("movl $1f, sys_resume_eip\n\tmovl %0, %%es\n1:\n\tmovl $0x10, %%eax\n\tmovl %%eax, %%es" ::"r"(sel) : "eax", "memory"); break;
    case 2: __asm__ volatile("movl $1f, sys_resume_eip\n\tmovl %0, %%fs\n1:" ::"r"(sel) : "memory"); break;
    /* (a faulting POP leaves ESP below the pushed selector: the resume point drops it) */
    case 3: __asm__ volatile("movl $1f, sys_resume_eip\n\tpushl %0\n\tpopl %%gs\n\tjmp 2f\n1:\taddl $4, %%esp\n2:" ::"r"(sel) : "memory"); break;
    }
    sys_report(name);
}

/* Ring-3 code */
static volatile uint32_t u_sel, u_reg;
static void u_load_ds(void) {
    sys_mode = SYS_M_JUMP;
    __asm__ volatile("movl $1f, sys_resume_eip\n\tmovl %0, %%ds\n1:\n\tmovl $0x23, %%eax\n\tmovl %%eax, %%ds" ::"r"(u_sel) : "eax", "memory");
}
/* MOV DS from ring 3 with selector sel, the outcome reported under name */
static void user_load_ds(const char *name, uint32_t sel) {
    sys_arm(SYS_M_JUMP);
    u_sel = sel;
    sys_run_user(u_load_ds, 0);
    sys_report(name);
}
static void u_in_allowed(void) { u_reg = inb(0x3fd) & 0x60; }
static void u_out_denied(void) { outb(0x80, 1); }
static void u_cli(void) { __asm__ volatile("cli"); }
static void u_sti(void) { __asm__ volatile("sti"); }
static void u_hlt(void) { __asm__ volatile("hlt"); }
static void u_rdmsr(void) { (void)rdmsr(0x174); }

/* Call gate: ring 3 -> ring 0 with 2 parameters copied */
static volatile uint32_t g_esp, g_ss, g_p1, g_p2, g_rcs, g_cs, g_ret_cs, g_ret_esp;
__asm__(".text\ngate_entry:\n\t"
        "movl %esp, g_esp\n\t"
        "movw %ss, g_ss\n\t"
        "movw %cs, g_cs\n\t"
        "movl 8(%esp), %eax\n\tmovl %eax, g_p1\n\t"
        "movl 12(%esp), %eax\n\tmovl %eax, g_p2\n\t"
        "movl 4(%esp), %eax\n\tmovl %eax, g_rcs\n\t"
        "lret $8\n");
extern const uint8_t gate_entry[];
static void u_callgate(void) {
    uint32_t cs, esp_before, esp_after;
    __asm__ volatile("movl %%esp, %1\n\tpushl $0x1111\n\tpushl $0x2222\n\tlcall $0x73, $0\n\t"
                     "movl %%esp, %2\n\tmovw %%cs, %w0"
                     : "=r"(cs), "=&r"(esp_before), "=&r"(esp_after) :: "eax", "memory");
    g_ret_cs = cs;
    g_ret_esp = esp_before - esp_after;
}

/* Far transfers to the second ring-0 code selector */
static volatile uint32_t far_cs, far_cs2;
__asm__(".text\nfar_target:\n\tmovw %cs, far_cs\n\tlret\n"
        "fjmp_target:\n\tmovw %cs, far_cs2\n\tljmp $0x08, $fjmp_back\n");
extern const uint8_t far_target[], fjmp_target[];

/* SYSENTER/SYSEXIT */
static volatile uint32_t se_cs, se_ss, se_esp, se_ret_cs, se_ret_ss;
static uint8_t se_stack[1024] __attribute__((aligned(16)));
__asm__(".text\nsysenter_entry:\n\t"
        "movw %cs, se_cs\n\tmovw %ss, se_ss\n\tmovl %esp, se_esp\n\t"
        "sysexit\n");
extern const uint8_t sysenter_entry[];
static void u_sysenter(void) {
    uint32_t cs, ss;
    __asm__ volatile("movl %%esp, %%ecx\n\tmovl $1f, %%edx\n\tsysenter\n1:\n\t"
                     "movl %%cs, %0\n\tmovl %%ss, %1" : "=r"(cs), "=r"(ss) :: "ecx", "edx", "memory");
    se_ret_cs = cs;
    se_ret_ss = ss;
}

static void lar_lsl(const char *name, uint32_t sel) {
    uint32_t ar = 0xdeadbeef, lim = 0xdeadbeef, zf1, zf2, zr, zw;
    __asm__ volatile("larl %2, %0\n\tsetz %b1" : "+r"(ar), "=q"(zf1) : "r"(sel) : "cc");
    __asm__ volatile("lsll %2, %0\n\tsetz %b1" : "+r"(lim), "=q"(zf2) : "r"(sel) : "cc");
    __asm__ volatile("verr %w1\n\tsetz %b0" : "=q"(zr) : "r"(sel) : "cc");
    __asm__ volatile("verw %w1\n\tsetz %b0" : "=q"(zw) : "r"(sel) : "cc");
    puts_serial(name);
    puts_serial(": lar ");
    puthex(zf1 & 1 ? ar & ~0x100u : ar); /* accessed bit: QEMU does not set it on CS loads */
    puts_serial(zf1 & 1 ? " z" : " nz");
    puts_serial(" lsl ");
    puthex(lim);
    puts_serial(zf2 & 1 ? " z" : " nz");
    puts_serial(zr & 1 ? " verr z" : " verr nz");
    puts_serial(zw & 1 ? " verw z\n" : " verw nz\n");
}
static uint32_t lsl_user_res, lsl_user_zf;
static void u_lar(void) {
    uint32_t ar = 0, z;
    __asm__ volatile("larl %2, %0\n\tsetz %b1" : "+r"(ar), "=q"(z) : "r"(SEL_KDATA) : "cc");
    lsl_user_zf = z & 1;
    __asm__ volatile("larl %2, %0\n\tsetz %b1" : "+r"(ar), "=q"(z) : "r"(SEL_UDATA) : "cc");
    lsl_user_res = ar & ~0x100u;
    lsl_user_zf |= (z & 1) << 1;
}

static volatile uint32_t k_esp_at_trap;
static void hook81(struct sys_frame *f) { k_esp_at_trap = (uint32_t)(&f->uss + 1); }
static void u_int81(void) { __asm__ volatile("int $0x81"); }

/* Reloads of the same selector from the same instructions after its descriptor changed
 * in memory, after LGDT to another table, and after the accessed bit was cleared: rrvm's
 * translated code repeats loads it has seen (hv/cpu.h struct segmemo) and must notice. */
static uint64_t gdt_copy[GDT_ENTRIES] __attribute__((aligned(8)));
static __attribute__((noinline)) void reload_es(const char *name, uint32_t sel) {
    load_expect(name, sel, 1);
}
static __attribute__((noinline)) uint32_t reload_fs_read4(uint32_t sel) {
    uint32_t v;
    __asm__ volatile("movl %1, %%fs\n\tmovl %%fs:4, %0" : "=r"(v) : "r"(sel) : "memory");
    return v;
}
static __attribute__((noinline)) uint32_t reload_gs_read4(uint32_t sel) {
    uint32_t v;
    __asm__ volatile("pushl %1\n\tpopl %%gs\n\tmovl %%gs:4, %0" : "=r"(v) : "r"(sel) : "memory");
    return v;
}
static void memo_reloads(void) {
    const uint64_t accessed = 1ull << 40, present = 1ull << 47;
    sys_gdt_set(17, 0, 0xfffff, 0x92, 0xc0); /* flat data, DPL 0, not accessed */
    reload_es("memo: es flat", 0x88);
    reload_es("memo: es flat again", 0x88);
    check("memo: accessed bit set", (sys_gdt[17] & accessed) != 0);
    sys_gdt[17] &= ~accessed;
    reload_es("memo: es after accessed cleared", 0x88);
    check("memo: accessed bit set again", (sys_gdt[17] & accessed) != 0);
    sys_gdt[17] &= ~present;
    reload_es("memo: es not present now", 0x88);
    sys_gdt[17] |= present;
    reload_es("memo: es present again", 0x88);
    sys_gdt_set(17, 0, 0xfffff, 0x98, 0xc0); /* now execute-only code */
    reload_es("memo: es exec-only now", 0x88);
    sys_gdt_set(17, 0, 0xfffff, 0x92, 0xc0);
    reload_es("memo: es data again", 0x88);

    /* FS/GS with a base that changes under the same selector */
    uint32_t b = (uint32_t)buf;
    buf[1] = 0x11110001;
    buf[3] = 0x33330003;
    sys_gdt_set(18, b, 0xfff, 0x92, 0x40);
    println_hex("memo: fs:4 base buf", reload_fs_read4(0x90));
    println_hex("memo: fs:4 base buf again", reload_fs_read4(0x90));
    println_hex("memo: gs:4 base buf", reload_gs_read4(0x90));
    sys_gdt_set(18, b + 8, 0xfff, 0x93, 0x40); /* accessed already: only the base differs */
    println_hex("memo: fs:4 base buf+8", reload_fs_read4(0x90));
    println_hex("memo: gs:4 base buf+8", reload_gs_read4(0x90));
    __asm__ volatile("movl %0, %%fs\n\tmovl %0, %%gs" ::"r"(SEL_KDATA));

    /* LGDT to a copy in which the entry is not present, and back */
    struct dtr g, g2;
    __asm__ volatile("sgdt %0" : "=m"(g));
    for (int i = 0; i < GDT_ENTRIES; i++)
        gdt_copy[i] = sys_gdt[i];
    gdt_copy[17] &= ~present;
    g2.limit = g.limit;
    g2.base = (uint32_t)gdt_copy;
    reload_es("memo: es before lgdt", 0x88);
    __asm__ volatile("lgdt %0" ::"m"(g2) : "memory");
    reload_es("memo: es after lgdt to copy", 0x88);
    __asm__ volatile("lgdt %0" ::"m"(g) : "memory");
    reload_es("memo: es after lgdt back", 0x88);

    /* the same selector from ring 3 after ring 0 loaded it: DPL 0 < CPL 3 */
    user_load_ds("memo: ring3 mov ds,0x88", 0x88);
    user_load_ds("memo: ring3 mov ds,0x8b", 0x8b);
}

int kmain(void) {
    sys_init();
    sys_pic_init();
    puts_serial("sys_segments start\n");

    struct dtr g, i;
    uint16_t tr = 0xffff, ldtr = 0xffff;
    __asm__ volatile("sgdt %0\n\tsidt %1\n\tstr %2\n\tsldt %3" : "=m"(g), "=m"(i), "=r"(tr), "=r"(ldtr));
    println_hex("sgdt limit", g.limit);
    check("sgdt base", g.base == (uint32_t)sys_gdt);
    println_hex("sidt limit", i.limit);
    check("sidt base", i.base == (uint32_t)sys_idt);
    println_hex("str", tr);
    /* LDT in GDT slot 11 with a flat data segment at index 1 and a based one at index 2 */
    ldt[1] = 0x00cf92000000ffffull;
    {
        uint32_t b = (uint32_t)buf;
        ldt[2] = 0x0040920000000fffull | ((uint64_t)(b & 0xffffff) << 16) | ((uint64_t)(b >> 24) << 56);
    }
    sys_gdt_set(11, (uint32_t)ldt, sizeof(ldt) - 1, 0x82, 0x00);
    __asm__ volatile("lldt %w0" ::"r"(0x58));
    __asm__ volatile("sldt %0" : "=r"(ldtr));
    println_hex("sldt", ldtr);
    buf[1] = 0xcafe0001;
    buf[2] = 0xcafe0002;
    buf[1023] = 0xcafe03ff;
    uint32_t v;
    __asm__ volatile("movl %1, %%fs\n\tmovl %%fs:4, %0\n\tmovl $0x10, %%eax\n\tmovl %%eax, %%fs"
                     : "=r"(v) : "r"(0x14) : "eax", "memory");
    println_hex("ldt seg fs:4", v);
    load_expect("mov fs,ldt idx 3 (beyond ldt limit)", 0x1c, 2);
    /* LGDT/LIDT round trip with the same tables */
    __asm__ volatile("lgdt %0\n\tlidt %1" ::"m"(g), "m"(i) : "memory");
    puts_serial("lgdt/lidt reloaded\n");

    /* Segments for tests */
    uint32_t b = (uint32_t)buf;
    sys_gdt_set(7, 0, 0xfffff, 0x98, 0xc0);          /* execute-only code */
    sys_gdt_set(8, 0, 0xfffff, 0x12, 0xc0);          /* data, not present */
    sys_gdt_set(9, b, 0xfff, 0x92, 0x40);            /* data, base buf, limit 0xfff bytes */
    sys_gdt_set(10, b - 0x2000, 0x1fff, 0x96, 0x40); /* expand-down, valid offsets 0x2000.. */
    sys_gdt_set(12, 0, 0xfffff, 0x92, 0xc0);         /* data, DPL 0 */
    sys_gdt_set(13, 0, 0xfffff, 0x9a, 0xc0);         /* readable code */
    sys_gdt_set_callgate(14, SEL_KCODE, (uint32_t)gate_entry, 3, 2);
    sys_gdt_set(15, 0, 0xfffff, 0xb2, 0xc0);         /* data, DPL 1 */
    sys_gdt_set(16, 0, 0xfffff, 0x9e, 0xc0);         /* conforming readable code */

    load_expect("mov ds,exec-only", 0x38, 0);
    load_expect("mov es,not present", 0x40, 1);
    load_expect("mov fs,readable code", 0x68, 2);
    load_expect("pop gs,tss", SEL_TSS, 3);
    load_expect("mov fs,call gate", 0x70, 2);
    load_expect("mov ds,null", 0, 0);
    load_expect("mov es,dpl1 rpl3", 0x7b, 1);

    /* FS/GS with a base and a limit */
    __asm__ volatile("movl %1, %%fs\n\tmovl %%fs:4, %0" : "=r"(v) : "r"(0x48) : "memory");
    println_hex("fs:4 (base buf)", v);
    __asm__ volatile("movl %1, %%gs\n\tmovl $0xbeef0003, %%gs:12\n\tmovl %%gs:8, %0" : "=r"(v) : "r"(0x48) : "memory");
    println_hex("gs:8 (base buf)", v);
    println_hex("buf[3] after gs:12 store", buf[3]);
    /* Limit violations (#GP(0)) are not tested: QEMU TCG does not check data segment
     * limits. Accesses inside the limits: */
    __asm__ volatile("movl %%fs:0xffc, %0" : "=r"(v) :: "memory");
    println_hex("fs:0xffc (at limit)", v);
    __asm__ volatile("movl %1, %%fs\n\tmovl %%fs:0x2008, %0" : "=r"(v) : "r"(0x50) : "memory");
    println_hex("expand-down fs:0x2008", v);
    __asm__ volatile("movl %0, %%fs\n\tmovl %0, %%gs" ::"r"(SEL_KDATA));

    /* LAR/LSL/VERR/VERW */
    lar_lsl("kcode", SEL_KCODE);
    lar_lsl("kdata", SEL_KDATA);
    lar_lsl("ucode", SEL_UCODE);
    lar_lsl("udata", SEL_UDATA);
    lar_lsl("tss", SEL_TSS);
    lar_lsl("exec-only", 0x38);
    lar_lsl("not present", 0x40);
    lar_lsl("limit 0xfff", 0x48);
    lar_lsl("expand-down", 0x50);
    lar_lsl("ldt", 0x58);
    lar_lsl("call gate", 0x70);
    lar_lsl("null", 0);
    lar_lsl("beyond gdt", 0x1f8);
    sys_run_user(u_lar, 0);
    println_hex("ring3 lar kdata zf/udata zf", lsl_user_zf);
    println_hex("ring3 lar udata", lsl_user_res);

    /* ARPL */
    {
        uint32_t d = 0x10, zf;
        __asm__ volatile("arpl %w2, %w0\n\tsetz %b1" : "+r"(d), "=q"(zf) : "r"(0x1b) : "cc");
        println_hex("arpl 0x10,0x1b", d);
        println_hex("arpl zf", zf & 1);
        d = 0x13;
        __asm__ volatile("arpl %w2, %w0\n\tsetz %b1" : "+r"(d), "=q"(zf) : "r"(0x1a) : "cc");
        println_hex("arpl 0x13,0x1a", d);
        println_hex("arpl zf", zf & 1);
    }

    /* Far CALL/RETF and far JMP to a second ring-0 code selector */
    __asm__ volatile("lcall $0x30, $far_target" ::: "memory");
    println_hex("far call cs", far_cs);
    {
        uint32_t cs;
        __asm__ volatile("movl %%cs, %0" : "=r"(cs));
        println_hex("after retf cs", cs);
    }
    __asm__ volatile("ljmp $0x30, $fjmp_target\nfjmp_back:" ::: "memory");
    println_hex("far jmp cs", far_cs2);
    {
        /* indirect far call through memory */
        struct __attribute__((packed)) { uint32_t off; uint16_t sel; } fp = {(uint32_t)far_target, 0x68};
        far_cs = 0;
        __asm__ volatile("lcall *%0" ::"m"(fp) : "memory");
        println_hex("far call m16:32 cs", far_cs);
    }

    /* Ring 3 and back: trap frame on the TSS esp0 stack */
    sys_hooks[0x81] = hook81;
    sys_idt_set(0x81, (uint32_t)sys_stubs + 16 * 0x81, SEL_KCODE, 0xE, 3, 1);
    sys_arm(SYS_M_RESUME);
    sys_run_user(u_int81, 0);
    sys_hooks[0x81] = 0;
    check("int from ring 3 uses tss esp0", k_esp_at_trap == sys_tss.esp0);
    println_hex("ring3 trap cs", sys_last.cs);
    println_hex("ring3 trap ss", sys_last.uss);
    println_hex("ring3 trap eflags", sys_last.eflags & 0x3202);

    /* Selector loads from ring 3 */
    user_load_ds("ring3 mov ds,kdata", SEL_KDATA);
    user_load_ds("ring3 mov ds,dpl1", 0x7b);
    user_load_ds("ring3 mov ds,code dpl0", 0x6b); /* readable code, DPL 0, non-conforming */
    user_load_ds("ring3 mov ds,conforming code", 0x83); /* conforming readable code: allowed */
    user_load_ds("ring3 mov ds,not present dpl0", 0x43);

    /* Call gate from ring 3 */
    g_esp = g_ss = 0;
    sys_arm(SYS_M_FATAL);
    sys_run_user(u_callgate, 0);
    check("call gate esp = esp0 - 24", g_esp == sys_tss.esp0 - 24);
    println_hex("call gate ss", g_ss);
    println_hex("call gate cs", g_cs);
    println_hex("call gate p1", g_p1);
    println_hex("call gate p2", g_p2);
    println_hex("call gate caller cs", g_rcs);
    println_hex("after lret cs", g_ret_cs);
    println_hex("after lret esp delta", g_ret_esp);

    /* I/O permission bitmap and IOPL-sensitive instructions (IOPL 0) */
    sys_arm(SYS_M_SKIP);
    sys_skip_len = 1;
    sys_run_user(u_in_allowed, 0);
    sys_report("ring3 in 0x3fd (allowed)");
    sys_arm(SYS_M_SKIP);
    sys_skip_len = 1;
    sys_run_user(u_out_denied, 0);
    sys_report("ring3 out 0x80 (denied)");
    sys_io_allow(0x80, 1);
    sys_arm(SYS_M_SKIP);
    sys_run_user(u_out_denied, 0);
    sys_report("ring3 out 0x80 (now allowed)");
    sys_io_allow(0x80, 0);
    sys_arm(SYS_M_SKIP);
    sys_skip_len = 1;
    sys_run_user(u_cli, 0);
    sys_report("ring3 cli iopl0");
    sys_arm(SYS_M_SKIP);
    sys_run_user(u_sti, 0);
    sys_report("ring3 sti iopl0");
    sys_arm(SYS_M_SKIP);
    sys_run_user(u_hlt, 0);
    sys_report("ring3 hlt");
    sys_arm(SYS_M_SKIP);
    sys_run_user(u_cli, 0x3000);
    sys_report("ring3 cli iopl3");
    sys_arm(SYS_M_SKIP);
    sys_skip_len = 1;
    sys_run_user(u_out_denied, 0x3000);
    sys_report("ring3 out 0x80 iopl3");
    sys_arm(SYS_M_SKIP);
    sys_skip_len = 2;
    sys_run_user(u_rdmsr, 0);
    sys_report("ring3 rdmsr");

    /* SYSENTER/SYSEXIT */
    wrmsr(0x174, SEL_KCODE);
    wrmsr(0x175, (uint32_t)(se_stack + sizeof(se_stack)));
    wrmsr(0x176, (uint32_t)sysenter_entry);
    println_hex("msr 174", (uint32_t)rdmsr(0x174));
    check("msr 175", (uint32_t)rdmsr(0x175) == (uint32_t)(se_stack + sizeof(se_stack)));
    check("msr 176", (uint32_t)rdmsr(0x176) == (uint32_t)sysenter_entry);
    sys_arm(SYS_M_FATAL);
    sys_run_user(u_sysenter, 0);
    println_hex("sysenter cs", se_cs);
    println_hex("sysenter ss", se_ss);
    check("sysenter esp", se_esp == (uint32_t)(se_stack + sizeof(se_stack)));
    println_hex("sysexit cs", se_ret_cs);
    println_hex("sysexit ss", se_ret_ss);

    /* RDTSC, CPUID */
    uint64_t t1 = rdtsc(), t2 = rdtsc();
    check("rdtsc monotonic", t2 > t1);
    {
        uint32_t a, bb, c, d;
        __asm__ volatile("cpuid" : "=a"(a), "=b"(bb), "=c"(c), "=d"(d) : "a"(1), "c"(0));
        /* FPU TSC MSR CX8 SEP CMOV: what the kernels rely on */
        println_hex("cpuid.1 edx fpu/tsc/msr/cx8/sep/cmov", d & ((1u << 0) | (1u << 4) | (1u << 5) | (1u << 8) | (1u << 11) | (1u << 15)));
        (void)a; (void)bb; (void)c;
    }

    memo_reloads();

    puts_serial("sys_segments done\n");
    guest_exit(0);
}
