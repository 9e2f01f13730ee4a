/* The Linux 32-bit boot protocol (Documentation/x86/boot.rst in the kernel sources): a
 * bzImage's protected-mode part is loaded at 1 MiB, boot_params ("the zero page") is built
 * with the setup header, an e820 map of the guest RAM, the command line and the initrd,
 * and the CPU enters code32_start in flat 32-bit protected mode with ESI = &boot_params. */
#include "hv/loader_linux.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/acpi_tables.h"
#include "hv/segments.h"

/* Guest-physical layout chosen by this loader (below 640 KiB, as a boot loader would). */
#define BOOT_PARAMS 0x10000u
#define CMDLINE_ADDR 0x20000u
#define GDT_ADDR 0x9000u
#define KERNEL_ADDR 0x100000u

/* boot_params offsets (arch/x86/include/uapi/asm/bootparam.h) */
#define BP_E820_ENTRIES 0x1e8
#define BP_HDR 0x1f1
#define BP_E820_TABLE 0x2d0

static uint8_t *read_file(const char *path, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    uint8_t *b = n > 0 ? malloc((size_t)n) : NULL;
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
        snprintf(err, errlen, "%s: cannot read", path);
        free(b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

bool linux_is_bzimage(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    uint8_t h[0x206];
    bool ok = fread(h, 1, sizeof h, f) == sizeof h && !memcmp(h + 0x202, "HdrS", 4) &&
              h[0x1fe] == 0x55 && h[0x1ff] == 0xaa;
    fclose(f);
    return ok;
}

static void put32(uint8_t *p, uint32_t v) {
    memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v) {
    memcpy(p, &v, 8);
}

int linux_load(struct machine *m, const char *kernel_path, const char *append,
               const char *initrd_path, char *err, size_t errlen) {
    size_t klen = 0, ilen = 0;
    uint8_t *k = read_file(kernel_path, &klen, err, errlen);
    if (!k) return -1;
    if (klen < 0x264 || memcmp(k + 0x202, "HdrS", 4) != 0) {
        snprintf(err, errlen, "%s: not a bzImage (no HdrS setup header)", kernel_path);
        free(k);
        return -1;
    }
    uint16_t version;
    memcpy(&version, k + 0x206, 2);
    if (version < 0x0206) {
        snprintf(err, errlen, "%s: boot protocol %x.%02x is older than 2.06", kernel_path,
                 version >> 8, version & 0xff);
        free(k);
        return -1;
    }
    unsigned setup_sects = k[0x1f1] ? k[0x1f1] : 4;
    size_t pm_off = (setup_sects + 1) * 512u;
    if (pm_off >= klen) {
        snprintf(err, errlen, "%s: truncated bzImage", kernel_path);
        free(k);
        return -1;
    }
    size_t pm_len = klen - pm_off;
    uint32_t init_size, initrd_max;
    memcpy(&init_size, k + 0x260, 4);
    memcpy(&initrd_max, k + 0x22c, 4);
    if ((uint64_t)KERNEL_ADDR + (init_size > pm_len ? init_size : pm_len) > m->ram_size) {
        snprintf(err, errlen, "%s: the kernel needs %u bytes at 1 MiB, more than %u MiB of RAM",
                 kernel_path, init_size, m->ram_size >> 20);
        free(k);
        return -1;
    }
    /* The firmware's ACPI tables in the BIOS area, which the e820 map below reserves
     * (0xF0000-0xFFFFF): the kernel finds the RSDP by scanning 0xE0000-0xFFFFF. */
    acpi_tables_install(m);
    guest_phys_write(m, KERNEL_ADDR, k + pm_off, (unsigned)pm_len);

    /* boot_params: zero, then the setup header as the kernel image carries it */
    uint8_t *bp = calloc(1, 4096);
    unsigned hdr_end = 0x202 + k[0x201]; /* the header's own length byte (boot.rst) */
    memcpy(bp + BP_HDR, k + BP_HDR, hdr_end - BP_HDR);
    free(k);
    bp[0x210] = 0xff;                /* type_of_loader: undefined boot loader */
    bp[0x211] |= 0x80;               /* loadflags: CAN_USE_HEAP */
    bp[0x211] &= (uint8_t)~0x20;     /* QUIET_FLAG off: early messages wanted */
    put32(bp + 0x224 - 0, 0xfe00);   /* heap_end_ptr (unused in 32-bit entry) */
    put32(bp + 0x228, CMDLINE_ADDR); /* cmd_line_ptr */
    uint32_t cmdline_size;
    memcpy(&cmdline_size, bp + 0x238, 4);
    size_t alen = strlen(append);
    if (cmdline_size && alen > cmdline_size) alen = cmdline_size;
    guest_phys_write(m, CMDLINE_ADDR, append, (unsigned)alen);
    uint8_t nul = 0;
    guest_phys_write(m, CMDLINE_ADDR + (uint32_t)alen, &nul, 1);

    if (initrd_path) {
        uint8_t *ird = read_file(initrd_path, &ilen, err, errlen);
        if (!ird) {
            free(bp);
            return -1;
        }
        /* as high as allowed, page aligned, below the end of RAM and initrd_addr_max */
        uint64_t top = m->ram_size;
        if (initrd_max && (uint64_t)initrd_max + 1 < top) top = (uint64_t)initrd_max + 1;
        uint64_t at = (top - ilen) & ~0xfffull;
        if (ilen >= top || at < KERNEL_ADDR + init_size) {
            snprintf(err, errlen, "%s: the initrd (%zu bytes) does not fit in guest RAM",
                     initrd_path, ilen);
            free(ird);
            free(bp);
            return -1;
        }
        guest_phys_write(m, (uint32_t)at, ird, (unsigned)ilen);
        free(ird);
        put32(bp + 0x218, (uint32_t)at);   /* ramdisk_image */
        put32(bp + 0x21c, (uint32_t)ilen); /* ramdisk_size */
    }

    /* e820: conventional memory, the EBDA/ROM hole, then everything above 1 MiB */
    struct {
        uint64_t addr, size;
        uint32_t type;
    } map[] = {{0, 0x9fc00, 1},
               {0x9fc00, 0x400, 2},
               {0xf0000, 0x10000, 2},
               {0x100000, (uint64_t)m->ram_size - 0x100000, 1}};
    for (unsigned i = 0; i < 4; i++) {
        uint8_t *e = bp + BP_E820_TABLE + 20 * i;
        put64(e, map[i].addr);
        put64(e + 8, map[i].size);
        put32(e + 16, map[i].type);
    }
    bp[BP_E820_ENTRIES] = 4;
    guest_phys_write(m, BOOT_PARAMS, bp, 4096);
    free(bp);

    /* a GDT with the boot protocol's __BOOT_CS (0x10) and __BOOT_DS (0x18), flat */
    static const uint32_t gdt[8] = {0, 0, 0, 0, 0x0000ffff, 0x00cf9b00, 0x0000ffff, 0x00cf9300};
    guest_phys_write(m, GDT_ADDR, gdt, sizeof gdt);
    struct cpu *c = &m->cpu;
    c->gdtr.base = GDT_ADDR;
    c->gdtr.limit = sizeof gdt - 1;
    segmemo_flush(m);
    c->idtr.base = 0;
    c->idtr.limit = 0;
    memset(c->gpr, 0, sizeof c->gpr);
    c->gpr[R_ESI] = BOOT_PARAMS;
    uint32_t code32;
    uint8_t hdr[4];
    guest_read_sys(m, BOOT_PARAMS + 0x214, hdr, 4);
    memcpy(&code32, hdr, 4);
    c->eip = code32 ? code32 : KERNEL_ADDR;
    cpu_set_eflags(c, 0);
    c->cr[0] = CR0_PE | CR0_ET;
    for (int s = 0; s < 6; s++) {
        bool code = s == S_CS;
        c->seg[s] = (struct segcache){(uint16_t)(code ? 0x10 : 0x18), 0, 0xffffffffu,
                                      (uint16_t)(code ? 0xc09b : 0xc093)};
    }
    cpu_set_cpl(m, 0);
    return 0;
}
