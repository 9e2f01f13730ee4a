/* Unit tests of the multiboot v1 loader (hv/loader_multiboot.c). Each test writes the
 * kernel (and module) files it needs into a private temporary directory. The machine is a
 * bare calloc'd struct with a calloc'd RAM buffer: the loader only touches ram, ram_size
 * and cpu, and this keeps the test independent of the translator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <elf.h>

#include "hv/loader_multiboot.h"

#define RAM_MB 16
#define MBI_ADDR 0x9500u
#define MMAP_ADDR 0x9000u

static char tmpdir[] = "/tmp/rrvm-test-loader-XXXXXX";

static struct machine *new_machine(void) {
    struct machine *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->ram_size = RAM_MB << 20;
    m->ram = calloc(m->ram_size, 1);
    assert_non_null(m->ram);
    return m;
}

static void free_machine(struct machine *m) {
    free(m->ram);
    free(m);
}

static uint32_t rd32(const struct machine *m, uint32_t a) {
    uint32_t v;
    assert_true((uint64_t)a + 4 <= m->ram_size);
    memcpy(&v, m->ram + a, 4);
    return v;
}

static uint64_t rd64(const struct machine *m, uint32_t a) {
    return rd32(m, a) | (uint64_t)rd32(m, a + 4) << 32;
}

static const char *str_at(const struct machine *m, uint32_t a) {
    assert_true(a < m->ram_size);
    assert_non_null(memchr(m->ram + a, 0, m->ram_size - a));
    return (const char *)m->ram + a;
}

static char *path_of(const char *name) {
    static char buf[4][256];
    static int next;
    char *p = buf[next++ & 3];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* A multiboot v1 header (§3.1.1) with the given flags and a correct checksum, unless
 * bad_sum. */
static void put_mb_header(uint8_t *p, uint32_t flags, int bad_sum) {
    uint32_t h[3] = {0x1BADB002u, flags, (uint32_t)(0u - 0x1BADB002u - flags) + (bad_sum ? 1 : 0)};
    memcpy(p, h, sizeof h);
}

struct seg {
    uint32_t vaddr, paddr, filesz, memsz, flags;
    uint8_t fill; /* file bytes are fill, fill+1, ... after the multiboot header */
};

/* Writes an ELF32 i386 executable with one PT_LOAD per seg; segment data starts at file
 * offset 0x1000 + 0x1000*i. If mb_flags >= 0 the first segment starts with a multiboot
 * header carrying those flags. Returns the file size. */
static size_t make_elf32(const char *path, uint32_t entry, const struct seg *segs, int nsegs,
                         int64_t mb_flags, int bad_sum) {
    size_t size = 0x1000 + 0x1000 * (size_t)nsegs;
    uint8_t *img = calloc(size, 1);
    assert_non_null(img);
    Elf32_Ehdr eh = {0};
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS32;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_386;
    eh.e_version = EV_CURRENT;
    eh.e_entry = entry;
    eh.e_phoff = sizeof eh;
    eh.e_ehsize = sizeof eh;
    eh.e_phentsize = sizeof(Elf32_Phdr);
    eh.e_phnum = (uint16_t)nsegs;
    memcpy(img, &eh, sizeof eh);
    for (int i = 0; i < nsegs; i++) {
        Elf32_Phdr ph = {0};
        ph.p_type = PT_LOAD;
        ph.p_offset = 0x1000 + 0x1000 * (uint32_t)i;
        ph.p_vaddr = segs[i].vaddr;
        ph.p_paddr = segs[i].paddr;
        ph.p_filesz = segs[i].filesz;
        ph.p_memsz = segs[i].memsz;
        ph.p_flags = segs[i].flags;
        ph.p_align = 0x1000;
        memcpy(img + sizeof eh + (size_t)i * sizeof ph, &ph, sizeof ph);
        assert_true(segs[i].filesz <= 0x1000);
        for (uint32_t j = 0; j < segs[i].filesz; j++)
            img[ph.p_offset + j] = (uint8_t)(segs[i].fill + j);
    }
    if (mb_flags >= 0) put_mb_header(img + 0x1000, (uint32_t)mb_flags, bad_sum);
    write_file(path, img, size);
    free(img);
    return size;
}

/* The common single-segment kernel: 0x100 file bytes at 1 MiB, 0x2000 bytes in memory. */
static const char *simple_kernel(const char *name) {
    const char *p = path_of(name);
    struct seg s = {0x100000, 0x100000, 0x100, 0x2000, PF_R | PF_X, 0x40};
    make_elf32(p, 0x10000c, &s, 1, 0x3 /* align modules, want mem info */, 0);
    return p;
}

static void test_elf_load_and_entry_state(void **state) {
    (void)state;
    struct machine *m = new_machine();
    const char *k = simple_kernel("k1.elf");
    memset(m->ram + 0x100100, 0xAA, 0x1f00); /* the bss must come out zeroed */
    char err[256] = "";
    assert_int_equal(multiboot_load(m, k, NULL, NULL, err, sizeof err), 0);

    /* Header first, then the file bytes, then zeroed bss. */
    assert_int_equal(rd32(m, 0x100000), 0x1BADB002u);
    assert_int_equal(m->ram[0x10000c], (uint8_t)(0x40 + 0xc));
    assert_int_equal(m->ram[0x1000ff], (uint8_t)(0x40 + 0xff));
    for (uint32_t a = 0x100100; a < 0x102000; a++)
        assert_int_equal(m->ram[a], 0);

    /* §3.2 machine state. */
    assert_int_equal(m->cpu.gpr[R_EAX], 0x2BADB002u);
    assert_int_equal(m->cpu.gpr[R_EBX], MBI_ADDR);
    assert_int_equal(m->cpu.eip, 0x10000c);
    assert_int_equal(cpu_get_eflags(&m->cpu), 0x2);
    assert_int_equal(m->cpu.cr[0] & 0x80000001u, 1);
    for (int s = 0; s < 6; s++) {
        assert_int_equal(m->cpu.seg[s].base, 0);
        assert_int_equal(m->cpu.seg[s].limit, 0xffffffffu);
    }
    /* QEMU's option ROM: code 0x08, data 0x10; ECX holds the entry point. */
    assert_int_equal(m->cpu.seg[S_CS].sel, 0x08);
    assert_int_equal(m->cpu.seg[S_DS].sel, 0x10);
    assert_int_equal(m->cpu.gpr[R_ECX], 0x10000c);
    assert_int_equal(m->cpu.seg[S_DS].sel, m->cpu.seg[S_SS].sel);
    assert_int_equal(m->cpu.seg[S_DS].sel, m->cpu.seg[S_ES].sel);

    /* §3.3 boot information. */
    uint32_t flags = rd32(m, MBI_ADDR);
    /* MEM BOOTDEV CMDLINE MODS MMAP BOOT_LOADER_NAME, as QEMU 7.2 sets them. */
    assert_int_equal(flags, 0x24F);
    assert_int_equal(rd32(m, MBI_ADDR + 12), 0x8000ffffu);
    /* mem_lower from INT 12h (639: the EBDA is excluded), mem_upper from the E820 entry at
     * 1 MiB, which stops below SeaBIOS's 128 KiB at the top of RAM (values seen with
     * qemu-system-i386 7.2). */
    assert_int_equal(rd32(m, MBI_ADDR + 4), 639);
    assert_int_equal(rd32(m, MBI_ADDR + 8), (RAM_MB - 1) * 1024 - 128);
    /* No -append: QEMU still puts "PATH " with a trailing space. */
    char want[300];
    snprintf(want, sizeof want, "%s ", k);
    assert_string_equal(str_at(m, rd32(m, MBI_ADDR + 16)), want);
    assert_int_equal(rd32(m, MBI_ADDR + 20), 0); /* mods_count */
    assert_string_equal(str_at(m, rd32(m, MBI_ADDR + 64)), "qemu");

    /* Memory map: SeaBIOS's E820 table, each entry prefixed by its size 20. */
    uint32_t mlen = rd32(m, MBI_ADDR + 44), maddr = rd32(m, MBI_ADDR + 48);
    assert_int_equal(maddr, MMAP_ADDR);
    assert_int_equal(mlen, 6 * 24);
    static const uint64_t want_map[6][3] = {
        {0, 0x9fc00, 1},
        {0x9fc00, 0x400, 2},
        {0xf0000, 0x10000, 2},
        {0x100000, ((RAM_MB - 1) << 20) - 0x20000, 1},
        {(RAM_MB << 20) - 0x20000, 0x20000, 2},
        {0xfffc0000u, 0x40000, 2},
    };
    for (uint32_t i = 0, a = maddr; a < maddr + mlen; i++) {
        assert_true(i < 6);
        assert_int_equal(rd32(m, a), 20);
        assert_int_equal(rd64(m, a + 4), want_map[i][0]);
        assert_int_equal(rd64(m, a + 12), want_map[i][1]);
        assert_int_equal(rd32(m, a + 20), want_map[i][2]);
        a += 4 + rd32(m, a);
    }
    /* Nothing the guest is pointed at may overlap the kernel image. */
    assert_true(rd32(m, MBI_ADDR + 16) >= 0x102000 || rd32(m, MBI_ADDR + 16) < 0x100000);
    free_machine(m);
}

static void test_cmdline_append(void **state) {
    (void)state;
    struct machine *m = new_machine();
    const char *k = simple_kernel("k2.elf");
    char err[256];
    assert_int_equal(multiboot_load(m, k, "console=ttyS0 x=1", NULL, err, sizeof err), 0);
    char want[300];
    snprintf(want, sizeof want, "%s console=ttyS0 x=1", k);
    assert_string_equal(str_at(m, rd32(m, MBI_ADDR + 16)), want);
    free_machine(m);
}

static void test_modules(void **state) {
    (void)state;
    struct machine *m = new_machine();
    const char *k = simple_kernel("k3.elf");
    char *m1 = strdup(path_of("mod1.bin")), *m2 = strdup(path_of("mod2.bin"));
    uint8_t d1[5000], d2[3] = {7, 8, 9};
    for (size_t i = 0; i < sizeof d1; i++)
        d1[i] = (uint8_t)(i * 7);
    write_file(m1, d1, sizeof d1);
    write_file(m2, d2, sizeof d2);
    char list[600];
    snprintf(list, sizeof list, "%s arg1 arg2=x,%s", m1, m2);
    char err[256] = "";
    assert_int_equal(multiboot_load(m, k, "a", list, err, sizeof err), 0);

    assert_int_equal(rd32(m, MBI_ADDR + 20), 2);
    uint32_t mods = rd32(m, MBI_ADDR + 24);
    /* The module list sits right after the page-aligned kernel, as with QEMU. */
    assert_int_equal(mods, 0x102000);
    uint32_t s0 = rd32(m, mods), e0 = rd32(m, mods + 4);
    uint32_t s1 = rd32(m, mods + 16), e1 = rd32(m, mods + 20);
    assert_int_equal(s0 & 0xfff, 0);
    assert_true(s0 >= 0x102000);
    assert_int_equal(e0 - s0, sizeof d1);
    assert_memory_equal(m->ram + s0, d1, sizeof d1);
    assert_int_equal(s1, (e0 + 0xfff) & ~0xfffu);
    assert_int_equal(e1 - s1, sizeof d2);
    assert_memory_equal(m->ram + s1, d2, sizeof d2);
    /* A module's string is the whole "FILE ARGS" item. */
    char want[300];
    snprintf(want, sizeof want, "%s arg1 arg2=x", m1);
    assert_string_equal(str_at(m, rd32(m, mods + 8)), want);
    assert_string_equal(str_at(m, rd32(m, mods + 24)), m2);
    /* Command lines and names do not overlap the modules. */
    assert_true(rd32(m, MBI_ADDR + 16) < s0);
    assert_true(rd32(m, MBI_ADDR + 64) < s0);
    snprintf(want, sizeof want, "%s a", k);
    assert_string_equal(str_at(m, rd32(m, MBI_ADDR + 16)), want);
    free(m1);
    free(m2);
    free_machine(m);
}

static void test_entry_virtual_to_physical(void **state) {
    (void)state;
    struct machine *m = new_machine();
    const char *k = path_of("higher.elf");
    /* A higher-half kernel: linked at 3 GiB + 1 MiB, loaded at 1 MiB. */
    struct seg s[2] = {
        {0xC0100000u, 0x100000, 0x80, 0x80, PF_R | PF_X, 1},
        {0xC0200000u, 0x200000, 0x10, 0x1000, PF_R | PF_W, 0x90},
    };
    make_elf32(k, 0xC0100020u, s, 2, 0, 0);
    char err[256] = "";
    assert_int_equal(multiboot_load(m, k, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(m->cpu.eip, 0x100020);
    assert_int_equal(m->ram[0x200000], 0x90);
    /* Kernel spans 0x100000..0x201000: module list goes after its page-aligned end. */
    assert_int_equal(rd32(m, MBI_ADDR + 24), 0x201000);
    free_machine(m);
}

static void test_aout_kludge(void **state) {
    (void)state;
    struct machine *m = new_machine();
    const char *k = path_of("flat.bin");
    uint8_t img[0x100];
    for (size_t i = 0; i < sizeof img; i++)
        img[i] = (uint8_t)(0xF0 ^ i);
    /* Header at file offset 8, loaded at 0x200000 with the file's start at load_addr. */
    put_mb_header(img + 8, 0x00010000u, 0);
    uint32_t f[5] = {0x200008, 0x200000, 0 /* to end of file */, 0x203000, 0x200040};
    memcpy(img + 8 + 12, f, sizeof f);
    write_file(k, img, sizeof img);
    memset(m->ram + 0x200100, 0x55, 0x2f00);
    char err[256] = "";
    assert_int_equal(multiboot_load(m, k, NULL, NULL, err, sizeof err), 0);
    assert_memory_equal(m->ram + 0x200000, img, sizeof img);
    for (uint32_t a = 0x200100; a < 0x203000; a++)
        assert_int_equal(m->ram[a], 0);
    assert_int_equal(m->cpu.eip, 0x200040);
    assert_int_equal(rd32(m, MBI_ADDR + 24), 0x203000);
    free_machine(m);
}

/* Expects multiboot_load to fail with a one-line message containing what and path. */
static void expect_reject(struct machine *m, const char *path, const char *initrd,
                          const char *what) {
    char err[256] = "";
    assert_int_equal(multiboot_load(m, path, NULL, initrd, err, sizeof err), -1);
    if (!strstr(err, what)) fail_msg("message \"%s\" does not say \"%s\"", err, what);
    assert_null(strchr(err, '\n'));
}

static void test_reject_missing_file(void **state) {
    (void)state;
    struct machine *m = new_machine();
    const char *k = path_of("does-not-exist.elf");
    expect_reject(m, k, NULL, "cannot read kernel");
    expect_reject(m, k, NULL, k);
    expect_reject(m, tmpdir, NULL, "cannot read kernel"); /* a directory */
    free_machine(m);
}

static void test_reject_not_elf_no_header(void **state) {
    (void)state;
    struct machine *m = new_machine();
    const char *k = path_of("garbage.bin");
    write_file(k, "just some text, no kernel here\n", 31);
    expect_reject(m, k, NULL, "not an ELF file and no valid multiboot header");
    /* A valid header without address fields is no help for a non-ELF file. */
    uint8_t img[64] = {0};
    put_mb_header(img + 4, 0x3, 0);
    write_file(k, img, sizeof img);
    expect_reject(m, k, NULL, "no address fields");
    free_machine(m);
}

static void test_reject_no_header(void **state) {
    (void)state;
    struct machine *m = new_machine();
    const char *k = path_of("nohdr.elf");
    struct seg s = {0x100000, 0x100000, 0x100, 0x100, PF_R | PF_X, 0};
    make_elf32(k, 0x100000, &s, 1, -1, 0);
    expect_reject(m, k, NULL, "no multiboot header");
    /* A wrong checksum means there is no header. */
    make_elf32(k, 0x100000, &s, 1, 0x3, 1);
    expect_reject(m, k, NULL, "no multiboot header");
    free_machine(m);
}

static void test_reject_elf64(void **state) {
    (void)state;
    struct machine *m = new_machine();
    const char *k = path_of("k64.elf");
    uint8_t img[0x2000] = {0};
    Elf64_Ehdr eh = {0};
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_machine = EM_X86_64;
    eh.e_type = ET_EXEC;
    memcpy(img, &eh, sizeof eh);
    put_mb_header(img + 0x1000, 0x3, 0);
    write_file(k, img, sizeof img);
    expect_reject(m, k, NULL, "ELF64");
    free_machine(m);
}

static void test_reject_outside_ram(void **state) {
    (void)state;
    struct machine *m = new_machine();
    const char *k = path_of("big.elf");
    /* Loaded at 1 MiB but its bss runs past the 16 MiB of RAM. */
    struct seg s = {0x100000, 0x100000, 0x100, RAM_MB << 20, PF_R | PF_X, 0};
    make_elf32(k, 0x100000, &s, 1, 0x3, 0);
    expect_reject(m, k, NULL, "outside guest RAM");
    /* Loaded entirely above RAM. */
    struct seg s2 = {0x40000000, 0x40000000, 0x100, 0x100, PF_R | PF_X, 0};
    make_elf32(k, 0x40000000, &s2, 1, 0x3, 0);
    expect_reject(m, k, NULL, "outside guest RAM");
    free_machine(m);
}

static void test_reject_missing_module(void **state) {
    (void)state;
    struct machine *m = new_machine();
    const char *k = simple_kernel("k4.elf");
    char list[300];
    snprintf(list, sizeof list, "%s some args", path_of("no-such-module"));
    expect_reject(m, k, list, "cannot read module");
    expect_reject(m, k, list, "no-such-module");
    free_machine(m);
}

static int make_tmpdir(void **state) {
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elf_load_and_entry_state),
        cmocka_unit_test(test_cmdline_append),
        cmocka_unit_test(test_modules),
        cmocka_unit_test(test_entry_virtual_to_physical),
        cmocka_unit_test(test_aout_kludge),
        cmocka_unit_test(test_reject_missing_file),
        cmocka_unit_test(test_reject_not_elf_no_header),
        cmocka_unit_test(test_reject_no_header),
        cmocka_unit_test(test_reject_elf64),
        cmocka_unit_test(test_reject_outside_ram),
        cmocka_unit_test(test_reject_missing_module),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
