/* Small system library for the rrvm sys/ test kernels: GDT/TSS/IDT, traps, ring 3, paging,
 * PIC and PIT. Everything is identity-mapped; kernels are built from boot.S + rt.c + sys.c +
 * sys_entry.S + their own .c. */
#ifndef RRVM_GUEST_SYS_H
#define RRVM_GUEST_SYS_H
#include "../rt.h"

/* GDT selectors */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1b /* index 3, RPL 3 */
#define SEL_UDATA 0x23 /* index 4, RPL 3 */
#define SEL_TSS 0x28
#define SEL_KCODE2 0x30 /* second flat ring-0 code segment */
#define GDT_SPARE_FIRST 7 /* entries 7..GDT_ENTRIES-1 are free for tests */
#define GDT_ENTRIES 24

#define SYS_VEC_USER_RETURN 0x80 /* DPL-3 gate: ring 3 -> back to sys_run_user's caller */

/* Trap frame as built by sys_entry.S (lowest address first). */
struct sys_frame {
    uint32_t edi, esi, ebp, esp_pusha, ebx, edx, ecx, eax;
    uint32_t gs, fs, es, ds;
    uint32_t vector, err;
    uint32_t eip, cs, eflags;
    uint32_t uesp, uss; /* only valid when (cs & 3) != 0 */
};

/* What the default handler does with a trap. */
enum sys_mode {
    SYS_M_FATAL,   /* print "unexpected trap" and exit with status 3 */
    SYS_M_RESUME,  /* return to the saved eip */
    SYS_M_SKIP,    /* saved eip += sys_skip_len */
    SYS_M_JUMP,    /* saved eip = sys_resume_eip */
    SYS_M_LONGJMP, /* sys_longjmp(&sys_catch_buf, 1) */
};

/* Data recorded for the last trap. */
struct sys_trapinfo {
    uint32_t vector, err, eip, cs, eflags, cr2, uesp, uss;
    uint32_t handler_eflags; /* EFLAGS inside the handler (IF cleared or not) */
    uint32_t count;          /* number of traps since sys_arm */
};
extern volatile struct sys_trapinfo sys_last;
extern volatile enum sys_mode sys_mode;
extern volatile uint32_t sys_skip_len, sys_resume_eip;
typedef void (*sys_hook_fn)(struct sys_frame *f);
extern sys_hook_fn sys_hooks[256];

typedef struct {
    uint32_t ebx, esi, edi, ebp, esp, eip;
} sys_jmp_buf;
__attribute__((returns_twice)) int sys_setjmp(sys_jmp_buf *b);
__attribute__((noreturn)) void sys_longjmp(sys_jmp_buf *b, int v);
extern sys_jmp_buf sys_catch_buf;

struct sys_tss {
    uint16_t link, r0;
    uint32_t esp0;
    uint16_t ss0, r1;
    uint32_t esp1;
    uint16_t ss1, r2;
    uint32_t esp2;
    uint16_t ss2, r3;
    uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint16_t es, r4, cs, r5, ss, r6, ds, r7, fs, r8, gs, r9, ldt, r10;
    uint16_t trap, iomap;
    uint8_t iobitmap[8192];
    uint8_t iobitmap_end; /* 0xff */
} __attribute__((packed));
extern struct sys_tss sys_tss;
extern uint64_t sys_gdt[GDT_ENTRIES];
extern uint64_t sys_idt[256];
extern uint8_t sys_kstack[8192]; /* ring-0 stack used for traps from ring 3 (TSS esp0) */
extern uint8_t sys_ustack[8192]; /* ring-3 stack used by sys_run_user */
extern const uint8_t sys_stubs[];  /* 256 stubs, 16 bytes apart */

/* Setup: GDT (flat ring 0/3, TSS, second code segment), IDT (all 256 vectors as DPL-0
 * interrupt gates except 3, 4, 0x80 which are DPL 3), LTR, I/O bitmap allowing COM1 and
 * 0xF4 only. */
void sys_init(void);
void sys_gdt_set(int idx, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags);
void sys_gdt_set_callgate(int idx, uint16_t sel, uint32_t off, int dpl, int params);
void sys_lgdt(void);
/* type: 0xE interrupt gate, 0xF trap gate */
void sys_idt_set(int vec, uint32_t off, uint16_t sel, int type, int dpl, int present);
void sys_idt_default(int vec); /* back to the stub, interrupt gate, DPL 0, present */
void sys_io_allow(uint16_t port, int allow);

/* Reset sys_last and set the mode. */
void sys_arm(enum sys_mode m);
/* Print "name: vec XX err XXXXXXXX" or "name: no trap". */
void sys_report(const char *name);

/* Run fn in ring 3 (CS 0x1b, DS/ES/FS/GS/SS 0x23, stack sys_ustack, EFLAGS = eflags | 2),
 * TSS esp0 = top of sys_kstack. Returns when ring-3 code executes INT 0x80 (or fn returns). */
void sys_run_user(void (*fn)(void), uint32_t eflags);
static inline void sys_user_return(void) { __asm__ volatile("int $0x80" ::: "memory"); }

/* Control registers */
static inline uint32_t read_cr0(void) { uint32_t v; __asm__ volatile("mov %%cr0,%0" : "=r"(v)); return v; }
static inline uint32_t read_cr2(void) { uint32_t v; __asm__ volatile("mov %%cr2,%0" : "=r"(v)); return v; }
static inline uint32_t read_cr3(void) { uint32_t v; __asm__ volatile("mov %%cr3,%0" : "=r"(v)); return v; }
static inline uint32_t read_cr4(void) { uint32_t v; __asm__ volatile("mov %%cr4,%0" : "=r"(v)); return v; }
static inline void write_cr0(uint32_t v) { __asm__ volatile("mov %0,%%cr0" ::"r"(v) : "memory"); }
static inline void write_cr3(uint32_t v) { __asm__ volatile("mov %0,%%cr3" ::"r"(v) : "memory"); }
static inline void write_cr4(uint32_t v) { __asm__ volatile("mov %0,%%cr4" ::"r"(v) : "memory"); }
static inline void invlpg(uint32_t va) { __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory"); }
static inline uint32_t read_eflags(void) { uint32_t v; __asm__ volatile("pushfl; popl %0" : "=r"(v)); return v; }
static inline void wrmsr(uint32_t msr, uint64_t v) {
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline uint64_t rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* Paging (32-bit, non-PAE). */
#define PG_P 0x001u
#define PG_W 0x002u
#define PG_U 0x004u
#define PG_PWT 0x008u
#define PG_PCD 0x010u
#define PG_A 0x020u
#define PG_D 0x040u
#define PG_PS 0x080u
#define PG_G 0x100u
#define CR0_WP 0x00010000u
#define CR0_PG 0x80000000u
#define CR4_PSE 0x10u
#define CR4_PGE 0x80u
extern uint32_t *sys_pd;
void *sys_alloc_page(void); /* zeroed 4 KiB page from a static pool */
/* Page directory identity-mapping [0, ident_mb MiB) with 4 MiB pages (P|W|U|PS), CR4.PSE set;
 * does not enable paging. */
void sys_paging_init(uint32_t ident_mb);
void sys_paging_enable(void); /* load CR3, set CR0.PG */
void sys_map4k(uint32_t va, uint32_t pa, uint32_t flags); /* allocates the table if needed */
void sys_map4m(uint32_t va, uint32_t pa, uint32_t flags);
uint32_t *sys_pte(uint32_t va); /* PTE pointer (table must exist) */
uint32_t *sys_pde(uint32_t va);

/* PIC and PIT */
void sys_pic_init(void); /* remap master to 0x20, slave to 0x28, mask everything */
void sys_pic_mask(int irq, int masked);
void sys_pic_eoi(int irq);
void sys_pit_periodic(uint16_t divisor); /* channel 0, mode 2, lobyte/hibyte */
#endif
