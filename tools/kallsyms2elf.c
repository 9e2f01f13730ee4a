/* kallsyms2elf: rebuilds a symbol-only ELF32 i386 file from a kernel symbol table in nm
 * format ("addr type name" per line: a System.map, or /proc/kallsyms), so that gdb can
 * name kernel addresses when no vmlinux with debug information is at hand.
 *
 *   kallsyms2elf SYSTEM.MAP OUTPUT.ELF [KERNEL_IMAGE]
 *                                           (SYSTEM.MAP may be "-" for standard input)
 *
 * Debian's 686 kernel ships no vmlinux and only a placeholder System.map;
 * tools/make-linux-bundle.sh dumps /proc/kallsyms from a booted guest and turns it into
 * System.map and, with this program, vmlinux.sym (recorded into traces with `rrvm record
 * --symbols`).
 *
 * The output has no contents, only section headers and a symbol table:
 *  - every defined symbol lands in .symtab: t/T/W as STT_FUNC, d/D/b/B/r/R/g/G/s/S/V as
 *    STT_OBJECT, a/A as absolute; lowercase letters are local, W/V weak, the rest global.
 *    Undefined, debugging and undefined-weak entries (U, N, w, v, ?) and module symbols
 *    (a trailing "[module]") are skipped, as scripts/mksysmap drops them.
 *  - a symbol's size is the distance to the next higher address in its section; the last
 *    symbol before a large gap (a section end marker such as _etext) gets size 0.
 *  - SHT_NOBITS sections cover the address ranges: gdb attributes a minimal symbol to the
 *    section holding its address and decides from the section's flags whether it is code
 *    (so `break FUNCTION` and `info symbol ADDR` work). A new section starts where the
 *    symbols change from code to data or the other way, or where the addresses jump by
 *    more than SECTION_GAP (the kernel's text, rodata/data and init text are far apart).
 * NOBITS sections hold no bytes, so gdb reads code from the target, never from this file.
 *  - with KERNEL_IMAGE (the ELF vmlinux a bzImage carries, symbols stripped), a .debug_frame
 *    section describes the frames of the functions that set up a frame pointer
 *    (tools/frame_cfi.c), so that gdb's backtraces go through them.
 */
#define _POSIX_C_SOURCE 200809L /* getline */
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/frame_cfi.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "kallsyms2elf writes its ELF32LSB structures as they are in memory"
#endif

/* Addresses further apart than this belong to different sections: kernel functions are
 * laid out back to back, so a jump this large is the space between output sections. */
#define SECTION_GAP (1u << 20)
/* A section whose end is not the start of the next one is rounded up to a page. */
#define SECTION_END_ALIGN 4096u
/* Leaves room below SHN_LORESERVE for .symtab, .strtab and .shstrtab. */
#define MAX_SECTIONS 4096u

enum symbol_class { CLASS_CODE, CLASS_DATA, CLASS_ABSOLUTE };

struct symbol {
    uint32_t address;
    uint32_t size;
    char letter;
    enum symbol_class cls;
    uint32_t name_offset; /* into .strtab */
    uint16_t section;     /* section header index, or SHN_ABS */
};

struct range_section {
    uint32_t start;
    uint64_t end; /* exclusive; 64-bit so that a range may end at 4 GiB */
    bool code;
    bool ends_at_next; /* the next section starts right at end (no gap between them) */
    const char *name;
};

/* A growable byte buffer for the string tables. */
struct bytes {
    char *data;
    size_t len, cap;
};

static void die(const char *fmt, const char *arg) {
    fputs("kallsyms2elf: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

static void *grow(void *p, size_t count, size_t elem) {
    if (count && elem > SIZE_MAX / count) die("%s", "out of memory");
    void *q = realloc(p, count * elem);
    if (!q) die("%s", "out of memory");
    return q;
}

/* Appends a NUL-terminated string; returns its offset. */
static uint32_t bytes_add_string(struct bytes *b, const char *s) {
    size_t n = strlen(s) + 1;
    if (b->len + n > UINT32_MAX) die("%s", "string table larger than 4 GiB");
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->data = grow(b->data, b->cap, 1);
    }
    memcpy(b->data + b->len, s, n);
    uint32_t offset = (uint32_t)b->len;
    b->len += n;
    return offset;
}

/* The class of an nm type letter, or -1 for entries that define no symbol here. */
static int class_of_letter(char letter) {
    switch (letter) {
    case 't':
    case 'T':
    case 'W': return CLASS_CODE;
    case 'd':
    case 'D':
    case 'b':
    case 'B':
    case 'r':
    case 'R':
    case 'g':
    case 'G':
    case 's':
    case 'S':
    case 'V':
    case 'u': return CLASS_DATA;
    case 'a':
    case 'A': return CLASS_ABSOLUTE;
    default: return -1;
    }
}

static unsigned char binding_of_letter(char letter) {
    if (letter == 'W' || letter == 'V') return STB_WEAK;
    if (letter == 'u') return STB_GLOBAL; /* GNU unique: a global for a debugger */
    return islower((unsigned char)letter) ? STB_LOCAL : STB_GLOBAL;
}

struct symbol_table {
    struct symbol *symbols;
    size_t count, cap;
    struct bytes strtab;
    size_t skipped_undefined, skipped_module;
};

/* Parses one line "ADDR TYPE NAME[\t[MODULE]]"; exits with the line number on bad input. */
static void parse_line(struct symbol_table *t, char *line, unsigned long line_no) {
    char where[64];
    snprintf(where, sizeof where, "line %lu", line_no);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p) return; /* blank line */
    char *end;
    errno = 0;
    unsigned long long address = strtoull(p, &end, 16);
    if (end == p || errno || (*end != ' ' && *end != '\t'))
        die("%s: expected \"ADDRESS TYPE NAME\"", where);
    if (address > UINT32_MAX) die("%s: address does not fit a 32-bit kernel", where);
    p = end;
    while (*p == ' ' || *p == '\t')
        p++;
    char letter = *p;
    if (!isalpha((unsigned char)letter) && letter != '?') die("%s: bad symbol type", where);
    p++;
    if (*p != ' ' && *p != '\t') die("%s: bad symbol type", where);
    while (*p == ' ' || *p == '\t')
        p++;
    char *name = p;
    while (*p && *p != ' ' && *p != '\t')
        p++;
    if (p == name) die("%s: missing symbol name", where);
    char *rest = p;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (*rest == '[') { /* /proc/kallsyms: a loadable module's symbol */
        t->skipped_module++;
        return;
    }
    if (*rest) die("%s: unexpected text after the symbol name", where);
    *p = 0;
    int cls = class_of_letter(letter);
    if (cls < 0) {
        t->skipped_undefined++;
        return;
    }
    if (t->count == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 4096;
        t->symbols = grow(t->symbols, t->cap, sizeof *t->symbols);
    }
    t->symbols[t->count++] = (struct symbol){
        .address = (uint32_t)address,
        .letter = letter,
        .cls = (enum symbol_class)cls,
        .name_offset = bytes_add_string(&t->strtab, name),
    };
}

static const struct symbol_table *g_sort_table; /* for the qsort comparator's names */

/* Orders by address, then by name, as `nm -n` does; absolute symbols last. */
static int compare_by_address(const void *a, const void *b) {
    const struct symbol *x = a, *y = b;
    bool xa = x->cls == CLASS_ABSOLUTE, ya = y->cls == CLASS_ABSOLUTE;
    if (xa != ya) return xa ? 1 : -1;
    if (x->address != y->address) return x->address < y->address ? -1 : 1;
    return strcmp(g_sort_table->strtab.data + x->name_offset,
                  g_sort_table->strtab.data + y->name_offset);
}

/* The kernel's own names for ranges that begin with one of its section start markers. */
static const char *known_section_name(const struct symbol_table *t, size_t first, size_t last,
                                      bool code) {
    static const struct {
        const char *marker, *section;
        bool code;
    } known[] = {
        {"_stext", ".text", true},          {"_text", ".text", true},
        {"_sinittext", ".init.text", true}, {"__start_rodata", ".rodata", false},
        {"_sdata", ".data", false},         {"__bss_start", ".bss", false},
    };
    for (size_t i = first; i <= last && t->symbols[i].address == t->symbols[first].address; i++)
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (known[k].code == code &&
                !strcmp(t->strtab.data + t->symbols[i].name_offset, known[k].marker))
                return known[k].section;
    return NULL;
}

/* Splits the sorted, non-absolute symbols [0, count) into address ranges; assigns each
 * symbol its section index (1-based) and size. Returns the number of sections. */
static size_t build_sections(struct symbol_table *t, size_t count, struct range_section **out) {
    struct range_section *sections = NULL;
    size_t nsections = 0;
    size_t *first_of = NULL; /* index of each section's first symbol */
    size_t i = 0;
    while (i < count) {
        /* all symbols at one address share a class: code if any of them is code */
        size_t j = i;
        bool code = false;
        while (j < count && t->symbols[j].address == t->symbols[i].address)
            code |= t->symbols[j++].cls == CLASS_CODE;
        bool same = nsections && sections[nsections - 1].code == code &&
                    t->symbols[i].address - t->symbols[i - 1].address <= SECTION_GAP;
        if (!same) {
            if (nsections == MAX_SECTIONS) die("%s", "too many sections (code and data mixed)");
            if (nsections)
                sections[nsections - 1].ends_at_next =
                    t->symbols[i].address - t->symbols[i - 1].address <= SECTION_GAP;
            sections = grow(sections, nsections + 1, sizeof *sections);
            first_of = grow(first_of, nsections + 1, sizeof *first_of);
            sections[nsections] =
                (struct range_section){.start = t->symbols[i].address, .code = code};
            first_of[nsections++] = i;
        }
        for (size_t k = i; k < j; k++)
            t->symbols[k].section = (uint16_t)nsections;
        i = j;
    }
    for (size_t s = 0; s < nsections; s++) {
        size_t first = first_of[s];
        size_t last = s + 1 < nsections ? first_of[s + 1] - 1 : count - 1;
        struct range_section *r = &sections[s];
        if (r->ends_at_next) {
            r->end = sections[s + 1].start;
        } else {
            uint64_t past = (uint64_t)t->symbols[last].address + 1;
            r->end = (past + SECTION_END_ALIGN - 1) / SECTION_END_ALIGN * SECTION_END_ALIGN;
            if (r->end > UINT32_MAX) r->end = UINT32_MAX; /* keeps sh_size in 32 bits */
        }
        r->name = known_section_name(t, first, last, r->code);
        for (size_t k = 0; k < s && r->name; k++)
            if (sections[k].name && !strcmp(sections[k].name, r->name))
                r->name = NULL; /* keep names unique */
        /* sizes: up to the next higher address, or to the section's end if the next
         * section follows without a gap; 0 for the last symbol before a gap */
        for (size_t k = first; k <= last; k++) {
            size_t next = k + 1;
            while (next <= last && t->symbols[next].address == t->symbols[k].address)
                next++;
            uint64_t limit = next <= last      ? t->symbols[next].address
                             : r->ends_at_next ? r->end
                                               : t->symbols[k].address;
            t->symbols[k].size = (uint32_t)(limit - t->symbols[k].address);
        }
    }
    free(first_of);
    *out = sections;
    return nsections;
}

static void write_all(FILE *f, const void *p, size_t n, const char *path) {
    if (n && fwrite(p, 1, n, f) != n) die("cannot write %s", path);
}

static void pad_to(FILE *f, uint32_t *offset, uint32_t align, const char *path) {
    static const char zeros[16];
    uint32_t pad = (align - *offset % align) % align;
    write_all(f, zeros, pad, path);
    *offset += pad;
}

/* Linux's i386 entry code (arch/x86/entry/entry_32.S): what lies below it on the stack is
 * the interrupted context's pt_regs, not a caller, so backtraces end there; and the boot
 * code (arch/x86/kernel/head_32.S), below which there is nothing. */
static bool is_entry_code(const char *name) {
    static const char *const names[] = {
        "entry_SYSENTER_32", "entry_INT80_32",    "handle_exception_return",
        "ret_from_fork",     "irq_entries_start", "spurious_entries_start",
        "startup_32",        "startup_32_smp",
    };
    if (!strncmp(name, "asm_", 4)) return true; /* the IDT entry stubs */
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i])) return true;
    return false;
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: kallsyms2elf SYSTEM.MAP OUTPUT.ELF [KERNEL_IMAGE]\n"
                        "  rebuilds a symbol-only ELF32 i386 file for gdb from an nm-format\n"
                        "  kernel symbol table (System.map or /proc/kallsyms; - for stdin);\n"
                        "  with the kernel's ELF image, adds call-frame information\n");
        return 2;
    }
    struct kernel_image *image = NULL;
    if (argc == 4) {
        char err[256];
        image = kernel_image_open(argv[3], err, sizeof err);
        if (!image) die("%s", err);
    }
    const char *in_path = argv[1], *out_path = argv[2];
    FILE *in = strcmp(in_path, "-") ? fopen(in_path, "r") : stdin;
    if (!in) die("cannot open %s", in_path);

    struct symbol_table t = {0};
    bytes_add_string(&t.strtab, ""); /* offset 0: the empty name */
    char *line = NULL;
    size_t line_cap = 0;
    unsigned long line_no = 0;
    while (getline(&line, &line_cap, in) >= 0)
        parse_line(&t, line, ++line_no);
    if (ferror(in)) die("cannot read %s", in_path);
    free(line);
    if (in != stdin) fclose(in);
    if (!t.count) die("%s: no symbols", in_path);

    g_sort_table = &t;
    qsort(t.symbols, t.count, sizeof *t.symbols, compare_by_address);
    size_t placed = 0; /* symbols in address ranges: all but the absolute ones, sorted last */
    while (placed < t.count && t.symbols[placed].cls != CLASS_ABSOLUTE)
        placed++;
    for (size_t k = placed; k < t.count; k++)
        t.symbols[k].section = SHN_ABS;
    struct range_section *sections = NULL;
    size_t nsections = placed ? build_sections(&t, placed, &sections) : 0;

    /* call-frame information for the code symbols (one per address) */
    uint8_t *frames = NULL;
    size_t frames_len = 0;
    struct cfi_stats cfi = {0};
    if (image) {
        uint32_t *fstart = grow(NULL, placed + 1, sizeof *fstart);
        uint32_t *fsize = grow(NULL, placed + 1, sizeof *fsize);
        uint8_t *fkind = grow(NULL, placed + 1, sizeof *fkind);
        size_t nf = 0;
        for (size_t k = 0; k < placed; k++) {
            const struct symbol *s = &t.symbols[k];
            if (s->cls != CLASS_CODE || !s->size) continue;
            const char *name = t.strtab.data + s->name_offset;
            size_t len = strlen(name);
            uint8_t kind = !strcmp(name, "handle_exception")               ? CFI_EXCEPTION_ENTRY
                           : is_entry_code(name)                           ? CFI_OUTERMOST
                           : (len > 5 && !strcmp(name + len - 5, ".cold")) ? CFI_COLD_PART
                                                                           : CFI_FUNCTION;
            if (nf && fstart[nf - 1] == s->address) { /* an alias */
                if (kind == CFI_OUTERMOST || kind == CFI_EXCEPTION_ENTRY) fkind[nf - 1] = kind;
                continue;
            }
            fstart[nf] = s->address;
            fkind[nf] = kind;
            fsize[nf++] = s->size;
        }
        frames = cfi_build(image, fstart, fsize, fkind, nf, &frames_len, &cfi);
        if (!frames) die("%s", "out of memory building .debug_frame");
        free(fstart);
        free(fsize);
        free(fkind);
        kernel_image_free(image);
    }

    /* section header table: null, the ranges, .symtab, .strtab, .shstrtab[, .debug_frame] */
    struct bytes shstrtab = {0};
    bytes_add_string(&shstrtab, "");
    size_t nheaders = nsections + 4 + (frames ? 1 : 0);
    uint16_t symtab_index = (uint16_t)(nsections + 1), strtab_index = symtab_index + 1,
             shstrtab_index = symtab_index + 2;
    Elf32_Shdr *headers = grow(NULL, nheaders, sizeof *headers);
    memset(headers, 0, nheaders * sizeof *headers);
    for (size_t s = 0; s < nsections; s++) {
        char fallback[32];
        snprintf(fallback, sizeof fallback, "%s.%zu", sections[s].code ? ".text" : ".data", s + 1);
        Elf32_Shdr *h = &headers[s + 1];
        h->sh_name = bytes_add_string(&shstrtab, sections[s].name ? sections[s].name : fallback);
        h->sh_type = SHT_NOBITS;
        h->sh_flags = SHF_ALLOC | (sections[s].code ? SHF_EXECINSTR : SHF_WRITE);
        h->sh_addr = sections[s].start;
        h->sh_size = (uint32_t)(sections[s].end - sections[s].start);
        h->sh_addralign = 1;
    }

    /* .symtab: the null symbol, then the locals (ELF wants them first), then the rest */
    Elf32_Sym *syms = grow(NULL, t.count + 1, sizeof *syms);
    memset(&syms[0], 0, sizeof syms[0]);
    size_t nsyms = 1;
    size_t counted[3] = {0};
    uint32_t entry = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < t.count; k++) {
            const struct symbol *s = &t.symbols[k];
            unsigned char bind = binding_of_letter(s->letter);
            if ((pass == 0) != (bind == STB_LOCAL)) continue;
            unsigned char type = s->cls == CLASS_CODE   ? STT_FUNC
                                 : s->cls == CLASS_DATA ? STT_OBJECT
                                                        : STT_NOTYPE;
            syms[nsyms++] = (Elf32_Sym){
                .st_name = s->name_offset,
                .st_value = s->address,
                .st_size = s->size,
                .st_info = ELF32_ST_INFO(bind, type),
                .st_other = STV_DEFAULT,
                .st_shndx = s->section,
            };
            counted[s->cls]++;
            if (!strcmp(t.strtab.data + s->name_offset, "startup_32")) entry = s->address;
        }
        if (pass == 0) headers[symtab_index].sh_info = (uint32_t)nsyms; /* first non-local */
    }

    uint32_t offset = sizeof(Elf32_Ehdr);
    FILE *out = fopen(out_path, "wb");
    if (!out) die("cannot create %s", out_path);
    Elf32_Ehdr eh = {0};
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS32;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_ident[EI_OSABI] = ELFOSABI_SYSV;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_386;
    eh.e_version = EV_CURRENT;
    eh.e_entry = entry;
    eh.e_ehsize = sizeof(Elf32_Ehdr);
    eh.e_shentsize = sizeof(Elf32_Shdr);
    eh.e_shnum = (uint16_t)nheaders;
    eh.e_shstrndx = shstrtab_index;
    write_all(out, &eh, sizeof eh, out_path); /* rewritten with e_shoff at the end */

    for (size_t s = 0; s < nsections; s++)
        headers[s + 1].sh_offset = offset; /* NOBITS: a position, no bytes */

    Elf32_Shdr *h = &headers[symtab_index];
    pad_to(out, &offset, 4, out_path);
    h->sh_name = bytes_add_string(&shstrtab, ".symtab");
    h->sh_type = SHT_SYMTAB;
    h->sh_offset = offset;
    h->sh_size = (uint32_t)(nsyms * sizeof(Elf32_Sym));
    h->sh_link = strtab_index;
    h->sh_addralign = 4;
    h->sh_entsize = sizeof(Elf32_Sym);
    write_all(out, syms, h->sh_size, out_path);
    offset += h->sh_size;

    h = &headers[strtab_index];
    h->sh_name = bytes_add_string(&shstrtab, ".strtab");
    h->sh_type = SHT_STRTAB;
    h->sh_offset = offset;
    h->sh_size = (uint32_t)t.strtab.len;
    h->sh_addralign = 1;
    write_all(out, t.strtab.data, t.strtab.len, out_path);
    offset += h->sh_size;

    uint32_t frames_name = frames ? bytes_add_string(&shstrtab, ".debug_frame") : 0;
    h = &headers[shstrtab_index];
    h->sh_name = bytes_add_string(&shstrtab, ".shstrtab");
    h->sh_type = SHT_STRTAB;
    h->sh_offset = offset;
    h->sh_size = (uint32_t)shstrtab.len;
    h->sh_addralign = 1;
    write_all(out, shstrtab.data, shstrtab.len, out_path);
    offset += h->sh_size;

    if (frames) {
        h = &headers[shstrtab_index + 1];
        pad_to(out, &offset, 4, out_path);
        h->sh_name = frames_name;
        h->sh_type = SHT_PROGBITS;
        h->sh_offset = offset;
        h->sh_size = (uint32_t)frames_len;
        h->sh_addralign = 4;
        write_all(out, frames, frames_len, out_path);
        offset += h->sh_size;
    }

    pad_to(out, &offset, 4, out_path);
    eh.e_shoff = offset;
    write_all(out, headers, nheaders * sizeof *headers, out_path);
    if (fseek(out, 0, SEEK_SET) != 0) die("cannot write %s", out_path);
    write_all(out, &eh, sizeof eh, out_path);
    if (fclose(out) != 0) die("cannot write %s", out_path);

    printf("kallsyms2elf: %zu symbols (%zu code, %zu data, %zu absolute) in %zu sections",
           nsyms - 1, counted[CLASS_CODE], counted[CLASS_DATA], counted[CLASS_ABSOLUTE], nsections);
    if (t.skipped_undefined || t.skipped_module)
        printf("; skipped %zu undefined and %zu module symbols", t.skipped_undefined,
               t.skipped_module);
    if (frames)
        printf("; frames of %zu of %zu functions (%zu epilogues, %zu saved registers, %zu .cold "
               "parts, %zu entry points, %zu through pt_regs; %zu not in the image)",
               cfi.described, cfi.functions, cfi.epilogues, cfi.saved_regs, cfi.cold_parts,
               cfi.outermost, cfi.exception_entries, cfi.not_in_image);
    printf(" -> %s\n", out_path);
    free(frames);
    free(syms);
    free(headers);
    free(sections);
    free(shstrtab.data);
    free(t.strtab.data);
    free(t.symbols);
    return 0;
}
