#include "sys.h"

uint64_t sys_gdt[GDT_ENTRIES] __attribute__((aligned(8)));
uint64_t sys_idt[256] __attribute__((aligned(8)));
struct sys_tss sys_tss __attribute__((aligned(128)));
uint8_t sys_kstack[8192] __attribute__((aligned(16)));
uint8_t sys_ustack[8192] __attribute__((aligned(16)));
volatile struct sys_trapinfo sys_last;
volatile enum sys_mode sys_mode;
volatile uint32_t sys_skip_len, sys_resume_eip;
sys_hook_fn sys_hooks[256];
sys_jmp_buf sys_catch_buf;
static sys_jmp_buf user_ret_buf;
extern const uint8_t sys_user_ret_stub[];

struct __attribute__((packed)) dtr {
    uint16_t limit;
    uint32_t base;
};

void sys_gdt_set(int idx, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags) {
    uint64_t d = (limit & 0xffffu) | ((uint64_t)(base & 0xffffffu) << 16) |
                 ((uint64_t)access << 40) | ((uint64_t)((limit >> 16) & 0xf) << 48) |
                 ((uint64_t)(flags & 0xf0) << 48) | ((uint64_t)(base >> 24) << 56);
    sys_gdt[idx] = d;
}
void sys_gdt_set_callgate(int idx, uint16_t sel, uint32_t off, int dpl, int params) {
    uint64_t d = (off & 0xffffu) | ((uint64_t)sel << 16) | ((uint64_t)(params & 31) << 32) |
                 ((uint64_t)(0x8c | (dpl << 5)) << 40) | ((uint64_t)(off >> 16) << 48);
    sys_gdt[idx] = d;
}
void sys_lgdt(void) {
    struct dtr g = {sizeof(sys_gdt) - 1, (uint32_t)sys_gdt};
    __asm__ volatile("lgdt %0" ::"m"(g) : "memory");
}
void sys_idt_set(int vec, uint32_t off, uint16_t sel, int type, int dpl, int present) {
    sys_idt[vec] = (off & 0xffffu) | ((uint64_t)sel << 16) |
                   ((uint64_t)((present ? 0x80 : 0) | (dpl << 5) | type) << 40) |
                   ((uint64_t)(off >> 16) << 48);
}
void sys_idt_default(int vec) {
    sys_idt_set(vec, (uint32_t)sys_stubs + 16u * (uint32_t)vec, SEL_KCODE, 0xE, 0, 1);
}
void sys_io_allow(uint16_t port, int allow) {
    if (allow)
        sys_tss.iobitmap[port >> 3] &= (uint8_t)~(1u << (port & 7));
    else
        sys_tss.iobitmap[port >> 3] |= (uint8_t)(1u << (port & 7));
}

void sys_init(void) {
    sys_gdt[0] = 0;
    sys_gdt_set(1, 0, 0xfffff, 0x9a, 0xc0);
    sys_gdt_set(2, 0, 0xfffff, 0x92, 0xc0);
    sys_gdt_set(3, 0, 0xfffff, 0xfa, 0xc0);
    sys_gdt_set(4, 0, 0xfffff, 0xf2, 0xc0);
    sys_gdt_set(5, (uint32_t)&sys_tss, sizeof(sys_tss) - 1, 0x89, 0x00);
    sys_gdt_set(6, 0, 0xfffff, 0x9a, 0xc0);
    for (int i = GDT_SPARE_FIRST; i < GDT_ENTRIES; i++)
        sys_gdt[i] = 0;
    memset(&sys_tss, 0, sizeof(sys_tss));
    sys_tss.ss0 = SEL_KDATA;
    sys_tss.esp0 = (uint32_t)(sys_kstack + sizeof(sys_kstack));
    sys_tss.iomap = (uint16_t)((uint32_t)sys_tss.iobitmap - (uint32_t)&sys_tss);
    memset(sys_tss.iobitmap, 0xff, sizeof(sys_tss.iobitmap));
    sys_tss.iobitmap_end = 0xff;
    for (int p = 0x3f8; p < 0x400; p++)
        sys_io_allow((uint16_t)p, 1);
    sys_io_allow(0xf4, 1);
    sys_lgdt();
    __asm__ volatile("ljmp $0x08, $1f\n1:\n\t"
                     "movl $0x10, %%eax\n\tmovl %%eax, %%ds\n\tmovl %%eax, %%es\n\t"
                     "movl %%eax, %%fs\n\tmovl %%eax, %%gs\n\tmovl %%eax, %%ss"
                     ::: "eax", "memory");
    __asm__ volatile("ltr %w0" ::"r"(SEL_TSS));
    for (int v = 0; v < 256; v++)
        sys_idt_default(v);
    sys_idt_set(3, (uint32_t)sys_stubs + 16 * 3, SEL_KCODE, 0xE, 3, 1);
    sys_idt_set(4, (uint32_t)sys_stubs + 16 * 4, SEL_KCODE, 0xE, 3, 1);
    sys_idt_set(SYS_VEC_USER_RETURN, (uint32_t)sys_stubs + 16 * SYS_VEC_USER_RETURN, SEL_KCODE,
                0xE, 3, 1);
    struct dtr i = {sizeof(sys_idt) - 1, (uint32_t)sys_idt};
    __asm__ volatile("lidt %0" ::"m"(i) : "memory");
    sys_mode = SYS_M_FATAL;
}

void sys_arm(enum sys_mode m) {
    sys_last.vector = 0xffffffffu;
    sys_last.err = 0xffffffffu;
    sys_last.count = 0;
    sys_mode = m;
}
void sys_report(const char *name) {
    puts_serial(name);
    if (sys_last.count == 0) {
        puts_serial(": no trap\n");
        return;
    }
    puts_serial(": vec ");
    putdec(sys_last.vector);
    puts_serial(" err ");
    puthex(sys_last.err);
    putc_serial('\n');
}

void sys_trap(struct sys_frame *f) {
    uint32_t v = f->vector;
    if (v == SYS_VEC_USER_RETURN && (f->cs & 3) && !sys_hooks[v])
        sys_longjmp(&user_ret_buf, 1);
    sys_last.vector = v;
    sys_last.err = f->err;
    sys_last.eip = f->eip;
    sys_last.cs = f->cs;
    sys_last.eflags = f->eflags;
    sys_last.handler_eflags = read_eflags();
    if (v == 14) sys_last.cr2 = read_cr2();
    if (f->cs & 3) {
        sys_last.uesp = f->uesp;
        sys_last.uss = f->uss;
    }
    sys_last.count++;
    if (sys_hooks[v]) {
        sys_hooks[v](f);
        return;
    }
    switch (sys_mode) {
    case SYS_M_RESUME: return;
    case SYS_M_SKIP: f->eip += sys_skip_len; return;
    case SYS_M_JUMP: f->eip = sys_resume_eip; return;
    case SYS_M_LONGJMP: sys_longjmp(&sys_catch_buf, 1);
    default: break;
    }
    puts_serial("unexpected trap: vec ");
    putdec(v);
    puts_serial(" err ");
    puthex(f->err);
    puts_serial(" eip ");
    puthex(f->eip);
    puts_serial(" cs ");
    puthex(f->cs);
    putc_serial('\n');
    guest_exit(3);
}

void sys_run_user(void (*fn)(void), uint32_t eflags) {
    if (sys_setjmp(&user_ret_buf)) return;
    sys_tss.esp0 = (uint32_t)(sys_kstack + sizeof(sys_kstack));
    uint32_t *sp = (uint32_t *)(sys_ustack + sizeof(sys_ustack));
    *--sp = (uint32_t)sys_user_ret_stub;
    __asm__ volatile("movl $0x23, %%eax\n\t"
                     "movl %%eax, %%ds\n\tmovl %%eax, %%es\n\tmovl %%eax, %%fs\n\tmovl %%eax, %%gs\n\t"
                     "pushl $0x23\n\tpushl %0\n\tpushl %1\n\tpushl $0x1b\n\tpushl %2\n\tiret"
                     ::"r"(sp), "r"(eflags | 2u), "r"(fn) : "eax", "memory");
    __builtin_unreachable();
}

/* Paging */
#define POOL_PAGES 48
static uint8_t page_pool[POOL_PAGES][4096] __attribute__((aligned(4096)));
static int pool_used;
uint32_t *sys_pd;
void *sys_alloc_page(void) {
    if (pool_used >= POOL_PAGES) {
        puts_serial("page pool exhausted\n");
        guest_exit(4);
    }
    void *p = page_pool[pool_used++];
    memset(p, 0, 4096);
    return p;
}
void sys_paging_init(uint32_t ident_mb) {
    sys_pd = sys_alloc_page();
    for (uint32_t mb = 0; mb < ident_mb; mb += 4)
        sys_pd[mb >> 2] = (mb << 20) | PG_P | PG_W | PG_U | PG_PS;
    write_cr4(read_cr4() | CR4_PSE);
}
void sys_paging_enable(void) {
    write_cr3((uint32_t)sys_pd);
    write_cr0(read_cr0() | CR0_PG);
}
uint32_t *sys_pde(uint32_t va) { return &sys_pd[va >> 22]; }
uint32_t *sys_pte(uint32_t va) {
    uint32_t pde = sys_pd[va >> 22];
    return (uint32_t *)(pde & ~0xfffu) + ((va >> 12) & 0x3ff);
}
void sys_map4k(uint32_t va, uint32_t pa, uint32_t flags) {
    uint32_t *pde = sys_pde(va);
    if (!(*pde & PG_P) || (*pde & PG_PS))
        *pde = (uint32_t)sys_alloc_page() | PG_P | PG_W | PG_U;
    *sys_pte(va) = (pa & ~0xfffu) | flags;
}
void sys_map4m(uint32_t va, uint32_t pa, uint32_t flags) {
    *sys_pde(va) = (pa & 0xffc00000u) | flags | PG_PS;
}

/* PIC / PIT */
void sys_pic_init(void) {
    outb(0x20, 0x11);
    outb(0xa0, 0x11);
    outb(0x21, 0x20);
    outb(0xa1, 0x28);
    outb(0x21, 0x04);
    outb(0xa1, 0x02);
    outb(0x21, 0x01);
    outb(0xa1, 0x01);
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}
void sys_pic_mask(int irq, int masked) {
    uint16_t port = irq < 8 ? 0x21 : 0xa1;
    uint8_t bit = (uint8_t)(1u << (irq & 7));
    uint8_t m = inb(port);
    outb(port, masked ? (uint8_t)(m | bit) : (uint8_t)(m & ~bit));
}
void sys_pic_eoi(int irq) {
    if (irq >= 8) outb(0xa0, 0x20);
    outb(0x20, 0x20);
}
void sys_pit_periodic(uint16_t divisor) {
    outb(0x43, 0x34);
    outb(0x40, (uint8_t)divisor);
    outb(0x40, (uint8_t)(divisor >> 8));
}
