/* 32-bit paging: 4 KiB and 4 MiB pages, U/S and R/W with #PF error codes and CR2, CR0.WP,
 * accessed/dirty bits, INVLPG and CR3 reload, page-crossing accesses, demand paging. */
#include "sys.h"

static uint8_t frames[8][4096] __attribute__((aligned(4096)));
#define VA 0x40000000u

static volatile uint32_t u_addr, u_val;
static void rd(const char *name, uint32_t va) {
    sys_arm(SYS_M_JUMP);
    uint32_t v = 0;
    __asm__ volatile("movl $1f, sys_resume_eip\n\tmovl (%1), %0\n1:" : "+r"(v) : "r"(va) : "memory");
    sys_report(name);
    if (sys_last.count) println_hex("  cr2", sys_last.cr2);
}
static void wr(const char *name, uint32_t va, uint32_t val) {
    sys_arm(SYS_M_JUMP);
    __asm__ volatile("movl $1f, sys_resume_eip\n\tmovl %1, (%0)\n1:" ::"r"(va), "r"(val) : "memory");
    sys_report(name);
    if (sys_last.count) println_hex("  cr2", sys_last.cr2);
}
static void u_rd(void) {
    sys_mode = SYS_M_JUMP;
    __asm__ volatile("movl $1f, sys_resume_eip\n\tmovl (%0), %%eax\n1:" ::"r"(u_addr) : "eax", "memory");
}
static void u_wr(void) {
    sys_mode = SYS_M_JUMP;
    __asm__ volatile("movl $1f, sys_resume_eip\n\tmovl $7, (%0)\n1:" ::"r"(u_addr) : "memory");
}
static void user(const char *name, void (*fn)(void), uint32_t va) {
    u_addr = va;
    sys_arm(SYS_M_JUMP);
    sys_run_user(fn, 0);
    sys_report(name);
    if (sys_last.count) println_hex("  cr2", sys_last.cr2);
}

static volatile uint32_t demand_faults;
static void demand_hook(struct sys_frame *f) {
    uint32_t cr2 = read_cr2();
    if (cr2 >= 0x40100000u && cr2 < 0x40110000u && !(f->err & 1)) {
        sys_map4k(cr2 & ~0xfffu, (uint32_t)sys_alloc_page(), PG_P | PG_W);
        demand_faults++;
        return; /* restart the faulting instruction */
    }
    puts_serial("demand: unexpected fault\n");
    guest_exit(5);
}

int kmain(void) {
    sys_init();
    sys_pic_init();
    puts_serial("sys_paging start\n");
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 1024; j++)
            ((uint32_t *)frames[i])[j] = 0x10000000u * (uint32_t)i + (uint32_t)j;
    sys_paging_init(64);
    sys_map4k(VA + 0x0000, (uint32_t)frames[0], PG_P | PG_W);        /* supervisor rw */
    sys_map4k(VA + 0x1000, (uint32_t)frames[1], PG_P | PG_W | PG_U); /* user rw */
    sys_map4k(VA + 0x2000, (uint32_t)frames[2], PG_P | PG_U);        /* user ro */
    sys_map4k(VA + 0x3000, (uint32_t)frames[3], PG_P);               /* supervisor ro */
    sys_map4k(VA + 0x4000, (uint32_t)frames[4], 0);                  /* not present */
    sys_map4m(0x80000000u, 0x00800000u, PG_P | PG_W | PG_U);         /* 4 MiB page */
    sys_paging_enable();
    println_hex("cr0.pg", read_cr0() >> 31);

    /* ring 0 */
    rd("r0 read sup rw", VA);
    wr("r0 write sup rw", VA + 4, 1);
    rd("r0 read user ro", VA + 0x2000);
    wr("r0 write user ro wp=0", VA + 0x2008, 2);
    wr("r0 write sup ro wp=0", VA + 0x3008, 3);
    println_hex("frame2[2]", ((uint32_t *)frames[2])[2]);
    println_hex("frame3[2]", ((uint32_t *)frames[3])[2]);
    write_cr0(read_cr0() | CR0_WP);
    wr("r0 write user ro wp=1", VA + 0x200c, 4);
    wr("r0 write sup ro wp=1", VA + 0x300c, 5);
    println_hex("frame3[3]", ((uint32_t *)frames[3])[3]);
    rd("r0 read np", VA + 0x4010);
    wr("r0 write np", VA + 0x4014, 6);

    /* ring 3 */
    user("r3 read sup", u_rd, VA + 0x10);
    user("r3 write sup", u_wr, VA + 0x10);
    user("r3 read user rw", u_rd, VA + 0x1010);
    user("r3 write user rw", u_wr, VA + 0x1010);
    user("r3 read user ro", u_rd, VA + 0x2010);
    user("r3 write user ro", u_wr, VA + 0x2010);
    user("r3 read np", u_rd, VA + 0x4020);
    user("r3 write np", u_wr, VA + 0x4020);
    /* PDE without U: user access faults even when the PTE has U */
    sys_map4k(VA + 0x400000, (uint32_t)frames[5], PG_P | PG_W | PG_U);
    *sys_pde(VA + 0x400000) &= ~PG_U;
    write_cr3(read_cr3());
    user("r3 read pde !U", u_rd, VA + 0x400030);
    /* 4 MiB page */
    wr("r0 write 4m", 0x80001234u, 0xabcd1234u);
    println_hex("4m page via identity", *(volatile uint32_t *)0x00801234u);
    user("r3 read 4m", u_rd, 0x80001234u);

    /* accessed and dirty bits */
    sys_map4k(VA + 0x800000, (uint32_t)frames[6], PG_P | PG_W);
    write_cr3(read_cr3());
    *sys_pde(VA + 0x800000) &= ~(PG_A | PG_D);
    println_hex("pte before", *sys_pte(VA + 0x800000) & 0x60);
    (void)*(volatile uint32_t *)(VA + 0x800000);
    println_hex("pte after read", *sys_pte(VA + 0x800000) & 0x60);
    println_hex("pde after read", *sys_pde(VA + 0x800000) & 0x20);
    *(volatile uint32_t *)(VA + 0x800004) = 9;
    println_hex("pte after write", *sys_pte(VA + 0x800000) & 0x60);
    *sys_pde(0x80000000u) &= ~(PG_A | PG_D);
    invlpg(0x80000000u);
    (void)*(volatile uint32_t *)0x80000010u;
    println_hex("4m pde after read", *sys_pde(0x80000000u) & 0x60);
    *(volatile uint32_t *)0x80000010u = 1;
    println_hex("4m pde after write", *sys_pde(0x80000000u) & 0x60);
    /* a write through a clean, already-accessed TLB entry still sets D */
    *sys_pte(VA + 0x1000) &= ~(PG_A | PG_D);
    invlpg(VA + 0x1000);
    (void)*(volatile uint32_t *)(VA + 0x1000);
    *(volatile uint32_t *)(VA + 0x1004) = 1;
    println_hex("pte read then write", *sys_pte(VA + 0x1000) & 0x60);

    /* INVLPG and CR3 reload make a changed PTE visible */
    println_hex("va+0x0 old", *(volatile uint32_t *)(VA + 0x10));
    *sys_pte(VA) = (uint32_t)frames[7] | PG_P | PG_W;
    invlpg(VA);
    println_hex("va+0x0 after invlpg", *(volatile uint32_t *)(VA + 0x10));
    *sys_pte(VA) = (uint32_t)frames[5] | PG_P | PG_W;
    write_cr3(read_cr3());
    println_hex("va+0x0 after cr3 reload", *(volatile uint32_t *)(VA + 0x10));
    write_cr4(read_cr4() | CR4_PGE);
    println_hex("cr4.pge", (read_cr4() >> 7) & 1);
    *sys_pte(VA) = (uint32_t)frames[6] | PG_P | PG_W | PG_G;
    invlpg(VA);
    println_hex("global page", *(volatile uint32_t *)(VA + 0x10));
    *sys_pte(VA) = (uint32_t)frames[7] | PG_P | PG_W | PG_G;
    invlpg(VA);
    println_hex("global page after invlpg", *(volatile uint32_t *)(VA + 0x10));
    /* toggling CR4.PGE flushes global entries too */
    *sys_pte(VA) = (uint32_t)frames[5] | PG_P | PG_W | PG_G;
    write_cr4(read_cr4() & ~CR4_PGE);
    println_hex("global page after pge toggle", *(volatile uint32_t *)(VA + 0x10));

    /* page-crossing accesses: VA+0x10000 -> frames[1], VA+0x11000 -> frames[3] */
    sys_map4k(VA + 0x10000, (uint32_t)frames[1], PG_P | PG_W);
    sys_map4k(VA + 0x11000, (uint32_t)frames[3], PG_P | PG_W);
    sys_map4k(VA + 0x12000, (uint32_t)frames[2], PG_P | PG_W);
    sys_map4k(VA + 0x13000, (uint32_t)frames[4], 0);
    *(volatile uint32_t *)(VA + 0x10ffe) = 0x11223344u;
    println_hex("frame1[ffc]", ((uint32_t *)frames[1])[1023]);
    println_hex("frame3[0]", ((uint32_t *)frames[3])[0]);
    println_hex("cross read", *(volatile uint32_t *)(VA + 0x10ffe));
    println_hex("cross read16", *(volatile uint16_t *)(VA + 0x10fff));
    uint32_t f2 = ((uint32_t *)frames[2])[1023], f4 = ((uint32_t *)frames[4])[0];
    wr("cross write np", VA + 0x12ffd, 0xdeadbeefu);
    println_hex("cross np: first page unchanged", ((uint32_t *)frames[2])[1023] == f2);
    println_hex("cross np: second frame unchanged", ((uint32_t *)frames[4])[0] == f4);
    rd("cross read np", VA + 0x12ffe);
    {
        /* rep movsd across a page boundary into a not-present page: partial progress */
        uint32_t esi = VA + 0x12ff8 - 0x100, edi = VA + 0x12ff8, ecx = 4;
        sys_arm(SYS_M_JUMP);
        __asm__ volatile("movl $1f, sys_resume_eip\n\tcld\n\trep movsl\n1:"
                         : "+S"(esi), "+D"(edi), "+c"(ecx) :: "memory");
        sys_report("rep movsl into np");
        println_hex("  cr2", sys_last.cr2);
        println_hex("  ecx", ecx);
        println_hex("  edi", edi - VA);
    }

    /* demand paging */
    sys_hooks[14] = demand_hook;
    sys_arm(SYS_M_FATAL);
    uint32_t sum = 0;
    for (uint32_t a = 0x40100000u; a < 0x40104000u; a += 0x800)
        *(volatile uint32_t *)a = a >> 8;
    for (uint32_t a = 0x40100000u; a < 0x40104000u; a += 0x800)
        sum += *(volatile uint32_t *)a;
    sys_hooks[14] = 0;
    println_hex("demand faults", demand_faults);
    println_hex("demand sum", sum);

    write_cr0(read_cr0() & ~(CR0_PG | CR0_WP));
    puts_serial("sys_paging done\n");
    guest_exit(0);
}
