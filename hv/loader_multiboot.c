/* Multiboot v1 loader, laid out the way `qemu-system-i386 -kernel` does it
 * (hw/i386/multiboot.c plus its multiboot.bin option ROM and the SeaBIOS e820 map):
 *
 *   0x9000          memory map (what the option ROM builds from SeaBIOS's INT 15h/E820)
 *   0x9500          multiboot information structure (MBI)
 *   load_addr       kernel image (ELF PT_LOAD segments or a.out-kludge image)
 *   + page_align(kernel size)
 *                   module list (16 bytes per module), then the command lines,
 *                   then the boot loader name "qemu"
 *   next page       module 1, next page after it module 2, ...
 *
 * Checked field by field against qemu-system-i386 7.2 (Debian 12) with a guest that dumps
 * its MBI: flags, mem_lower/upper, memory map, module and string addresses all match.
 *
 * Spec references are to the Multiboot Specification 0.6.96 ("§3.1" header, "§3.2" machine
 * state, "§3.3" boot information format). */
#include "hv/loader_multiboot.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/acpi_tables.h"

#define MB_HEADER_MAGIC 0x1BADB002u
#define MB_BOOT_MAGIC 0x2BADB002u
#define MB_SEARCH_BYTES 8192 /* §3.1.1: header within the first 8192 bytes, 32-bit aligned */
#define MB_FLAG_AOUT_KLUDGE 0x00010000u /* §3.1.3 header flag 16: address fields valid */

/* MBI flag bits (§3.3). */
#define MBI_FLAG_MEM 0x001u
#define MBI_FLAG_BOOTDEV 0x002u
#define MBI_FLAG_CMDLINE 0x004u
#define MBI_FLAG_MODS 0x008u
#define MBI_FLAG_MMAP 0x040u
#define MBI_FLAG_LOADER 0x200u

/* MBI field offsets (§3.3). */
#define MBI_FLAGS 0
#define MBI_MEM_LOWER 4
#define MBI_MEM_UPPER 8
#define MBI_BOOT_DEVICE 12
#define MBI_CMDLINE 16
#define MBI_MODS_COUNT 20
#define MBI_MODS_ADDR 24
#define MBI_MMAP_LENGTH 44
#define MBI_MMAP_ADDR 48
#define MBI_BOOT_LOADER_NAME 64
#define MBI_SIZE 88 /* up to and including the VBE fields, as QEMU */

#define MMAP_ADDR 0x9000u /* QEMU's ADDR_E820_MAP */
#define MBI_ADDR 0x9500u  /* QEMU's ADDR_MBI */
#define MOD_ENTRY_SIZE 16 /* mod_start, mod_end, string, reserved (§3.3) */
#define PAGE_SIZE 4096u
#define BOOTLOADER_NAME "qemu"

static uint32_t page_align(uint64_t v) {
    return (uint32_t)((v + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1));
}

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void wr64(uint8_t *p, uint64_t v) {
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

/* Reads a whole file. Returns NULL with errno set on failure. */
static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            /* Anything at or beyond 4 GiB cannot fit in a 32-bit guest anyway. */
            if (cap >= ((size_t)1 << 32)) {
                errno = EFBIG;
                goto fail;
            }
            size_t ncap = cap ? cap * 2 : 65536;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) goto fail;
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                if (!errno) errno = EIO;
                goto fail;
            }
            break;
        }
    }
    fclose(f);
    *len = n;
    return buf ? buf : malloc(1);
fail : {
    int e = errno;
    free(buf);
    fclose(f);
    errno = e;
    return NULL;
}
}

/* QEMU's get_opt_value(): copies the next comma-separated item of s into out, turning
 * ",," into a literal ',' so file names may contain commas. Returns a pointer to the
 * terminating ',' or NUL in s. out may be NULL to just skip the item. */
static const char *next_item(const char *s, char *out) {
    size_t o = 0;
    for (;;) {
        if (*s == ',') {
            if (s[1] != ',') break;
            s++; /* ",," -> ',' */
        } else if (*s == '\0') {
            break;
        }
        if (out) out[o++] = *s;
        s++;
    }
    if (out) out[o] = '\0';
    return s;
}

static bool fits(const struct machine *m, uint64_t addr, uint64_t len) {
    return addr <= m->ram_size && len <= m->ram_size - addr;
}

/* Loads the PT_LOAD segments of an ELF32 kernel by physical address, like QEMU's load_elf()
 * (include/hw/elf_ops.h). Sets the lowest and highest loaded address and the entry. */
static int load_elf32(struct machine *m, const char *path, const uint8_t *img, size_t len,
                      uint32_t *low, uint32_t *high, uint32_t *entry, char *err, size_t errlen) {
    if (len < sizeof(Elf32_Ehdr)) {
        snprintf(err, errlen, "%s: truncated ELF header", path);
        return -1;
    }
    Elf32_Ehdr eh;
    memcpy(&eh, img, sizeof eh);
    if (eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_386) {
        snprintf(err, errlen, "%s: not a little-endian i386 ELF file (e_machine %u)", path,
                 (unsigned)eh.e_machine);
        return -1;
    }
    if (eh.e_phentsize != sizeof(Elf32_Phdr) ||
        (uint64_t)eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf32_Phdr) > len) {
        snprintf(err, errlen, "%s: program header table lies outside the file", path);
        return -1;
    }
    uint64_t lo = UINT64_MAX, hi = 0;
    *entry = eh.e_entry;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf32_Phdr ph;
        memcpy(&ph, img + eh.e_phoff + (size_t)i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
        if (ph.p_filesz > ph.p_memsz || (uint64_t)ph.p_offset + ph.p_filesz > len) {
            snprintf(err, errlen, "%s: segment %u has file data outside the file", path, i);
            return -1;
        }
        if (!fits(m, ph.p_paddr, ph.p_memsz)) {
            snprintf(err, errlen,
                     "%s: segment %u at 0x%x-0x%llx lies outside guest RAM (%u MiB, -m too "
                     "small?)",
                     path, i, ph.p_paddr, (unsigned long long)ph.p_paddr + ph.p_memsz - 1,
                     m->ram_size >> 20);
            return -1;
        }
        memcpy(m->ram + ph.p_paddr, img + ph.p_offset, ph.p_filesz);
        /* The part of memsz beyond filesz is .bss: zero it (ELF gABI, "Program Header"). */
        memset(m->ram + ph.p_paddr + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
        if (ph.p_paddr < lo) lo = ph.p_paddr;
        if ((uint64_t)ph.p_paddr + ph.p_memsz > hi) hi = (uint64_t)ph.p_paddr + ph.p_memsz;
        /* e_entry is virtual. When an executable segment has vaddr != paddr and holds the
         * entry, QEMU's load_elf() translates it to the physical address; do the same. */
        if (ph.p_vaddr != ph.p_paddr && (ph.p_flags & PF_X) && eh.e_entry >= ph.p_vaddr &&
            (uint64_t)eh.e_entry < (uint64_t)ph.p_vaddr + ph.p_filesz)
            *entry = eh.e_entry - ph.p_vaddr + ph.p_paddr;
    }
    if (hi == 0) {
        snprintf(err, errlen, "%s: ELF file has no loadable segments", path);
        return -1;
    }
    *low = (uint32_t)lo;
    *high = (uint32_t)hi; /* fits() guarantees hi <= ram_size < 4 GiB */
    return 0;
}

/* Loads an image described by the a.out-kludge address fields (§3.1.3, header flag 16),
 * with QEMU's consistency checks. h points at the header, found at file offset hoff. */
static int load_aout_kludge(struct machine *m, const char *path, const uint8_t *img, size_t len,
                            uint32_t hoff, uint32_t *low, uint32_t *high, uint32_t *entry,
                            char *err, size_t errlen) {
    const uint8_t *h = img + hoff;
    if ((uint64_t)hoff + 32 > len) {
        snprintf(err, errlen, "%s: multiboot header address fields run past end of file", path);
        return -1;
    }
    uint32_t header_addr = rd32(h + 12), load_addr = rd32(h + 16);
    uint32_t load_end_addr = rd32(h + 20), bss_end_addr = rd32(h + 24);
    *entry = rd32(h + 28);
    /* header_addr - load_addr is the header's offset in the loaded text, which must be
     * at or before the header's offset in the file. */
    if (header_addr < load_addr || header_addr - load_addr > hoff) {
        snprintf(err, errlen, "%s: multiboot header_addr 0x%x inconsistent with load_addr 0x%x",
                 path, header_addr, load_addr);
        return -1;
    }
    uint32_t text_off = hoff - (header_addr - load_addr);
    uint64_t load_size;
    if (load_end_addr) {
        if (load_end_addr < load_addr) {
            snprintf(err, errlen, "%s: multiboot load_end_addr 0x%x below load_addr 0x%x", path,
                     load_end_addr, load_addr);
            return -1;
        }
        load_size = load_end_addr - load_addr;
    } else {
        load_size = len - text_off; /* §3.1.3: 0 means "the rest of the file" */
    }
    if ((uint64_t)text_off + load_size > len) {
        snprintf(err, errlen, "%s: file ends before multiboot load_end_addr 0x%x", path,
                 load_end_addr);
        return -1;
    }
    uint64_t kernel_size = load_size;
    if (bss_end_addr) {
        if (bss_end_addr < (uint64_t)load_addr + load_size) {
            snprintf(err, errlen, "%s: multiboot bss_end_addr 0x%x below the loaded image", path,
                     bss_end_addr);
            return -1;
        }
        kernel_size = bss_end_addr - load_addr;
    }
    if (!fits(m, load_addr, kernel_size)) {
        snprintf(err, errlen,
                 "%s: image at 0x%x-0x%llx lies outside guest RAM (%u MiB, -m too small?)", path,
                 load_addr, (unsigned long long)load_addr + kernel_size - 1, m->ram_size >> 20);
        return -1;
    }
    memcpy(m->ram + load_addr, img + text_off, load_size);
    memset(m->ram + load_addr + load_size, 0, kernel_size - load_size); /* bss */
    *low = load_addr;
    *high = (uint32_t)(load_addr + kernel_size);
    return 0;
}

/* SeaBIOS keeps the top 128 KiB of RAM for its own tables and reports it reserved in
 * E820 (QEMU 7.2 + its SeaBIOS, observed for -m 2 .. 3072). */
#define BIOS_HIGH_RESERVED 0x20000u

/* Start of the reserved block SeaBIOS keeps at the top of RAM (never below 1 MiB). */
static uint32_t top_reserved_start(const struct machine *m) {
    uint32_t t =
        m->ram_size > 0x100000u + BIOS_HIGH_RESERVED ? m->ram_size - BIOS_HIGH_RESERVED : 0x100000u;
    return t;
}

static void put_mmap_entry(uint8_t *p, uint64_t base, uint64_t len, uint32_t type) {
    wr32(p, 20); /* size of the rest of the entry (§3.3 mmap_*) */
    wr64(p + 4, base);
    wr64(p + 12, len);
    wr32(p + 20, type);
}

/* Writes the memory map that QEMU's multiboot option ROM copies from the BIOS's
 * INT 15h/E820 table (SeaBIOS's map, as seen by a guest under qemu-system-i386 -kernel):
 * type 1 = available RAM, 2 = reserved. Returns its length in bytes. */
static uint32_t build_mmap(struct machine *m) {
    uint8_t *p = m->ram + MMAP_ADDR;
    uint32_t n = 0, top = top_reserved_start(m);
    put_mmap_entry(p + 24 * n++, 0x00000, 0x9fc00, 1); /* conventional memory */
    put_mmap_entry(p + 24 * n++, 0x9fc00, 0x400, 2);   /* EBDA */
    put_mmap_entry(p + 24 * n++, 0xf0000, 0x10000, 2); /* BIOS ROM */
    if (top > 0x100000) put_mmap_entry(p + 24 * n++, 0x100000, top - 0x100000, 1);
    if (m->ram_size > top) put_mmap_entry(p + 24 * n++, top, m->ram_size - top, 2);
    put_mmap_entry(p + 24 * n++, 0xfffc0000u, 0x40000, 2); /* BIOS flash mapping below 4 GiB */
    return 24 * n;
}

/* The register state of §3.2 with the flat segments QEMU's option ROM sets up (its GDT:
 * selector 0x08 = 32-bit code, 0x10 = 32-bit data). The registers §3.2 leaves undefined
 * get the values QEMU's option ROM leaves behind (observed: ECX = entry, EDX = 0x511,
 * ESP = 0x6f08, EDI = 0x1000, others 0), so a guest that happens to depend on them, e.g.
 * by pushing before loading ESP, behaves as under QEMU. EFLAGS is the clean 0x2 rather
 * than QEMU's leftover PF. */
static void set_entry_state(struct machine *m, uint32_t entry) {
    struct cpu *c = &m->cpu;
    memset(c->gpr, 0, sizeof c->gpr);
    c->gpr[R_EAX] = MB_BOOT_MAGIC;
    c->gpr[R_EBX] = MBI_ADDR;
    c->gpr[R_ECX] = entry;
    c->gpr[R_EDX] = 0x511;
    c->gpr[R_ESP] = 0x6f08;
    c->gpr[R_EDI] = 0x1000;
    c->eip = entry;
    cpu_set_eflags(c, 0); /* §3.2: IF clear, VM clear; bit 1 reads as 1 */
    memset(c->cr, 0, sizeof c->cr);
    c->cr[0] = 1; /* PE set, PG clear (§3.2) */
    for (int s = 0; s < 6; s++) {
        int code = s == S_CS;
        /* attr = descriptor bytes 5-6: P=1 DPL=0 S=1, type execute/read or read/write
         * (accessed), D/B=1, G=1. */
        c->seg[s] = (struct segcache){
            .sel = code ? 0x08 : 0x10,
            .base = 0,
            .limit = 0xffffffffu,
            .attr = code ? 0xC09B : 0xC093,
        };
    }
}

int multiboot_load(struct machine *m, const char *kernel_path, const char *append,
                   const char *initrd_list, char *err, size_t errlen) {
    size_t len = 0;
    uint8_t *img = read_file(kernel_path, &len);
    if (!img) {
        snprintf(err, errlen, "%s: cannot read kernel: %s", kernel_path, strerror(errno));
        return -1;
    }
    int rc = -1;
    char *tmp = NULL;
    /* The MBI and memory map live at fixed addresses in the first MiB. */
    if (m->ram_size < 0x100000) {
        snprintf(err, errlen, "%s: guest RAM below 1 MiB cannot hold the boot information",
                 kernel_path);
        goto out;
    }
    /* The firmware's ACPI tables, in the BIOS area the memory map reserves (0xF0000), as
     * SeaBIOS provides them under QEMU; first, so that a kernel image loaded over them wins. */
    acpi_tables_install(m);
    bool is_elf = len >= 4 && memcmp(img, ELFMAG, SELFMAG) == 0;

    /* §3.1.1: the header is 32-bit aligned in the first 8192 bytes, and magic + flags +
     * checksum is 0 mod 2^32. A magic with a wrong checksum is skipped, as QEMU does. */
    int64_t hoff = -1;
    uint32_t mb_flags = 0;
    for (size_t i = 0; i + 12 <= len && i + 12 <= MB_SEARCH_BYTES; i += 4) {
        if (rd32(img + i) != MB_HEADER_MAGIC) continue;
        uint32_t fl = rd32(img + i + 4);
        if ((uint32_t)(MB_HEADER_MAGIC + fl + rd32(img + i + 8)) == 0) {
            hoff = (int64_t)i;
            mb_flags = fl;
            break;
        }
    }
    if (hoff < 0) {
        if (is_elf)
            snprintf(err, errlen, "%s: no multiboot header in the first 8192 bytes", kernel_path);
        else
            snprintf(err, errlen, "%s: not an ELF file and no valid multiboot header", kernel_path);
        goto out;
    }

    uint32_t low, high, entry;
    if (mb_flags & MB_FLAG_AOUT_KLUDGE) {
        /* With flag 16 the address fields win even for an ELF file (§3.1.3), which is how
         * 64-bit kernels with a 32-bit bootstrap get loaded. */
        if (load_aout_kludge(m, kernel_path, img, len, (uint32_t)hoff, &low, &high, &entry, err,
                             errlen) != 0)
            goto out;
    } else {
        if (!is_elf) {
            snprintf(err, errlen,
                     "%s: not an ELF file and its multiboot header has no address fields "
                     "(flag 16)",
                     kernel_path);
            goto out;
        }
        if (img[EI_CLASS] == ELFCLASS64) {
            snprintf(err, errlen, "%s: ELF64 (x86-64) kernel: give a 32-bit one", kernel_path);
            goto out;
        }
        if (img[EI_CLASS] != ELFCLASS32) {
            snprintf(err, errlen, "%s: unknown ELF class %u", kernel_path, img[EI_CLASS]);
            goto out;
        }
        if (load_elf32(m, kernel_path, img, len, &low, &high, &entry, err, errlen) != 0) goto out;
    }

    /* Space after the kernel, sized as QEMU sizes it: the module list, the command lines
     * (kernel path + 1 + append + 1 + whole -initrd string + 1) and the loader name. */
    if (!append) append = "";
    uint32_t mods_avail = 0;
    size_t cmdline_len = strlen(kernel_path) + 1 + strlen(append) + 1;
    if (initrd_list) {
        cmdline_len += strlen(initrd_list) + 1;
        mods_avail = 1;
        for (const char *r = initrd_list; *(r = next_item(r, NULL)); r++)
            mods_avail++;
    }
    uint64_t off_mbinfo = page_align((uint64_t)high - low);
    uint64_t off_cmdlines = off_mbinfo + (uint64_t)mods_avail * MOD_ENTRY_SIZE;
    uint64_t off_loader = off_cmdlines + cmdline_len;
    uint64_t buf_size = page_align(off_loader + sizeof BOOTLOADER_NAME);
    if (!fits(m, low, buf_size)) {
        snprintf(err, errlen, "%s: kernel and boot information do not fit in %u MiB of guest RAM",
                 kernel_path, m->ram_size >> 20);
        goto out;
    }
    /* QEMU's buffer for this area starts out undefined; zero it so stale RAM never
     * looks like module entries. */
    memset(m->ram + high, 0, low + buf_size - high);
    uint64_t cmd_at = low + off_cmdlines; /* next free byte for a command line */
    uint32_t mods_count = 0;

    if (initrd_list) {
        tmp = malloc(strlen(initrd_list) + 1);
        if (!tmp) {
            snprintf(err, errlen, "out of host memory");
            goto out;
        }
        const char *r = initrd_list;
        for (;;) {
            const char *next = next_item(r, tmp);
            /* The module's string is the whole item, "FILE ARGS"; the file name is the
             * part before the first space (QEMU's -initrd syntax). */
            size_t item_len = strlen(tmp) + 1;
            uint32_t cmd_addr = (uint32_t)cmd_at;
            memcpy(m->ram + cmd_at, tmp, item_len);
            cmd_at += item_len;
            char *space = strchr(tmp, ' ');
            if (space) *space = '\0';
            size_t mlen = 0;
            uint8_t *mod = read_file(tmp, &mlen);
            if (!mod) {
                snprintf(err, errlen, "%s: cannot read module: %s", tmp, strerror(errno));
                goto out;
            }
            uint64_t start = low + buf_size;
            if (!fits(m, start, page_align((uint64_t)mlen))) {
                snprintf(err, errlen, "%s: module does not fit in %u MiB of guest RAM", tmp,
                         m->ram_size >> 20);
                free(mod);
                goto out;
            }
            memcpy(m->ram + start, mod, mlen);
            free(mod);
            uint8_t *e = m->ram + low + off_mbinfo + (uint64_t)mods_count * MOD_ENTRY_SIZE;
            wr32(e, (uint32_t)start);
            wr32(e + 4, (uint32_t)(start + mlen)); /* §3.3: end is exclusive */
            wr32(e + 8, cmd_addr);
            wr32(e + 12, 0);
            mods_count++;
            buf_size = page_align(buf_size + mlen);
            if (!*next) break;
            r = next + 1;
        }
    }

    /* Kernel command line: QEMU builds "%s %s" from the kernel path and -append, so the
     * guest sees a trailing space when there is no -append. */
    uint32_t cmdline_addr = (uint32_t)cmd_at;
    snprintf((char *)m->ram + cmd_at, strlen(kernel_path) + strlen(append) + 2, "%s %s",
             kernel_path, append);
    uint32_t loader_addr = (uint32_t)(low + off_loader);
    memcpy(m->ram + loader_addr, BOOTLOADER_NAME, sizeof BOOTLOADER_NAME);

    /* The MBI itself (§3.3). The option ROM copies it below 1 MiB after the kernel, so it
     * wins over anything the kernel image put there. */
    uint8_t *mbi = m->ram + MBI_ADDR;
    memset(mbi, 0, MBI_SIZE);
    uint32_t mmap_len = build_mmap(m);
    wr32(mbi + MBI_FLAGS, MBI_FLAG_MEM | MBI_FLAG_BOOTDEV | MBI_FLAG_CMDLINE | MBI_FLAG_MODS |
                              MBI_FLAG_MMAP | MBI_FLAG_LOADER);
    /* The option ROM takes mem_lower from INT 12h (639 KiB: the EBDA is not counted) and
     * mem_upper from the E820 entry at 1 MiB, so the BIOS's top reservation is excluded. */
    wr32(mbi + MBI_MEM_LOWER, 639);
    wr32(mbi + MBI_MEM_UPPER, (top_reserved_start(m) - 0x100000u) / 1024);
    wr32(mbi + MBI_BOOT_DEVICE, 0x8000ffffu); /* QEMU: BIOS drive 0x80, no partition */
    wr32(mbi + MBI_CMDLINE, cmdline_addr);
    wr32(mbi + MBI_MODS_COUNT, mods_count);
    wr32(mbi + MBI_MODS_ADDR, (uint32_t)(low + off_mbinfo));
    wr32(mbi + MBI_MMAP_LENGTH, mmap_len);
    wr32(mbi + MBI_MMAP_ADDR, MMAP_ADDR);
    wr32(mbi + MBI_BOOT_LOADER_NAME, loader_addr);

    set_entry_state(m, entry);
    rc = 0;
out:
    free(tmp);
    free(img);
    return rc;
}
