/* Call-frame information from an i386 kernel's machine code (see tools/frame_cfi.h).
 *
 * Per function the code is decoded linearly (Zydis) and described in DWARF CFA terms
 * (DWARF 2 §6.4; i386 register numbers: eax 0, ecx 1, edx 2, ebx 3, esp 4, ebp 5, esi 6,
 * edi 7, eip 8):
 *   entry, up to `push %ebp`   CFA = esp + 4, return address at CFA - 4 (the CIE's rule)
 *   after `push %ebp`          CFA = esp + 8, ebp at CFA - 8
 *   after `mov %esp,%ebp`      CFA = ebp + 8 for the rest of the function; the ebx/esi/edi
 *                              pushes that follow in the prologue are saved at CFA - 12, ...
 *   after `leave`/`pop %ebp`   CFA = esp + 4, ebp and the saved registers restored, until
 *                              the `ret` or tail `jmp` that follows; after it the frame
 *                              rule holds again (the code after a return belongs to other
 *                              paths through the same frame).
 * A NAME.cold part (code GCC moved out of line) runs in its parent's frame: CFA = ebp + 8
 * from its first byte. Kernel entry code gets an FDE with the return address undefined,
 * which ends backtraces there. Other functions without the prologue (notrace helpers
 * without a frame, assembly) get no FDE, and gdb falls back to its own analysis for them. The image
 * is the one on disk: the kernel patches some instructions at boot (alternatives, ftrace), which
 * can shift what a linear decode sees after them, never the prologue.
 */
#include "tools/frame_cfi.h"

#include <Zydis/Zydis.h>
#include <elf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DWARF_ESP 4
#define DWARF_EBP 5
#define DWARF_EIP 8
#define DW_CFA_advance_loc 0x40
#define DW_CFA_offset 0x80
#define DW_CFA_advance_loc1 0x02
#define DW_CFA_advance_loc2 0x03
#define DW_CFA_advance_loc4 0x04
#define DW_CFA_undefined 0x07
#define DW_CFA_same_value 0x08
#define DW_CFA_remember_state 0x0a
#define DW_CFA_restore_state 0x0b
#define DW_CFA_def_cfa 0x0c
#define DW_CFA_def_cfa_register 0x0d
#define DW_CFA_def_cfa_offset 0x0e
#define DW_CFA_val_expression 0x16
#define DW_OP_deref 0x06
#define DW_OP_and 0x1a
#define DW_OP_skip 0x2f
#define DW_OP_bra 0x28
#define DW_OP_lit0 0x30
#define DW_OP_lit3 0x33
#define DW_OP_breg4 0x74
/* struct pt_regs (arch/x86/include/asm/ptrace.h, i386): where each register is saved */
#define PT_EBX 0
#define PT_ECX 4
#define PT_EDX 8
#define PT_ESI 12
#define PT_EDI 16
#define PT_EBP 20
#define PT_EAX 24
#define PT_EIP 48
#define PT_CS 52
#define PT_SP 60 /* the interrupted ESP is here (kernel mode: the address itself) */
#define MAX_FUNCTION_BYTES (1u << 20)

struct segment {
    uint32_t vaddr, size;
    const uint8_t *bytes;
};

struct kernel_image {
    uint8_t *file;
    size_t file_len;
    struct segment seg[16];
    int nseg;
};

struct kernel_image *kernel_image_open(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s", path);
        return NULL;
    }
    struct kernel_image *k = calloc(1, sizeof *k);
    size_t cap = 1 << 24;
    k->file = malloc(cap);
    size_t got;
    while (k->file && (got = fread(k->file + k->file_len, 1, cap - k->file_len, f)) > 0) {
        k->file_len += got;
        if (k->file_len == cap) {
            uint8_t *bigger = realloc(k->file, cap * 2);
            if (!bigger) break;
            k->file = bigger;
            cap *= 2;
        }
    }
    bool read_error = ferror(f) != 0;
    fclose(f);
    if (!k->file || read_error) {
        snprintf(err, errlen, "cannot read %s", path);
        kernel_image_free(k);
        return NULL;
    }
    const Elf32_Ehdr *eh = (const Elf32_Ehdr *)k->file;
    if (k->file_len < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_ident[EI_CLASS] != ELFCLASS32 || eh->e_machine != EM_386 ||
        eh->e_phentsize != sizeof(Elf32_Phdr) ||
        (uint64_t)eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf32_Phdr) > k->file_len) {
        snprintf(err, errlen, "%s: not an ELF32 i386 image with program headers", path);
        kernel_image_free(k);
        return NULL;
    }
    for (unsigned i = 0; i < eh->e_phnum && k->nseg < 16; i++) {
        Elf32_Phdr ph;
        memcpy(&ph, k->file + eh->e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_LOAD || !ph.p_filesz) continue;
        if ((uint64_t)ph.p_offset + ph.p_filesz > k->file_len) {
            snprintf(err, errlen,
                     "%s: program header %u reaches past the end of the file (offset %u)", path, i,
                     ph.p_offset);
            kernel_image_free(k);
            return NULL;
        }
        k->seg[k->nseg++] = (struct segment){ph.p_vaddr, ph.p_filesz, k->file + ph.p_offset};
    }
    if (!k->nseg) {
        snprintf(err, errlen, "%s: no loadable segments", path);
        kernel_image_free(k);
        return NULL;
    }
    return k;
}

void kernel_image_free(struct kernel_image *k) {
    if (!k) return;
    free(k->file);
    free(k);
}

/* The image's bytes at addr and how many follow in the same segment; NULL if none. */
static const uint8_t *image_at(const struct kernel_image *k, uint32_t addr, uint32_t *avail) {
    for (int i = 0; i < k->nseg; i++)
        if (addr - k->seg[i].vaddr < k->seg[i].size) {
            *avail = k->seg[i].size - (addr - k->seg[i].vaddr);
            return k->seg[i].bytes + (addr - k->seg[i].vaddr);
        }
    return NULL;
}

/* ---- output buffer and CFA instructions ---------------------------------------------- */

struct out {
    uint8_t *p;
    size_t len, cap;
    bool oom;
};

static void put(struct out *o, const void *b, size_t n) {
    if (o->oom) return;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 1 << 16;
        while (cap < o->len + n)
            cap *= 2;
        uint8_t *q = realloc(o->p, cap);
        if (!q) {
            o->oom = true;
            return;
        }
        o->p = q;
        o->cap = cap;
    }
    memcpy(o->p + o->len, b, n);
    o->len += n;
}

static void put8(struct out *o, uint8_t v) {
    put(o, &v, 1);
}

static void put32(struct out *o, uint32_t v) {
    put(o, &v, 4); /* little-endian host (the ELF is ELF32LSB) */
}

static void uleb(struct out *o, uint32_t v) {
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        put8(o, v ? (uint8_t)(b | 0x80) : b);
    } while (v);
}

/* Pads an entry (from its length field at 'at') to a multiple of 4 with DW_CFA_nop and
 * fills in the length. */
static void close_entry(struct out *o, size_t at) {
    while ((o->len - at) % 4)
        put8(o, 0);
    if (!o->oom) {
        uint32_t n = (uint32_t)(o->len - at - 4);
        memcpy(o->p + at, &n, 4);
    }
}

/* Starts an FDE for [start, start + size); returns where it begins, for close_entry. */
static size_t open_fde(struct out *o, uint32_t start, uint32_t size) {
    size_t at = o->len;
    put32(o, 0); /* length, filled in by close_entry */
    put32(o, 0); /* CIE pointer: the one CIE at offset 0 */
    put32(o, start);
    put32(o, size);
    return at;
}

struct fde_writer {
    struct out *o;
    uint32_t loc; /* offset in the function the rules emitted so far are at */
};

static void advance(struct fde_writer *w, uint32_t to) {
    uint32_t d = to - w->loc;
    if (!d) return;
    if (d < 0x40) {
        put8(w->o, (uint8_t)(DW_CFA_advance_loc | d));
    } else if (d <= 0xff) {
        put8(w->o, DW_CFA_advance_loc1);
        put8(w->o, (uint8_t)d);
    } else if (d <= 0xffff) {
        uint16_t h = (uint16_t)d;
        put8(w->o, DW_CFA_advance_loc2);
        put(w->o, &h, 2);
    } else {
        put8(w->o, DW_CFA_advance_loc4);
        put32(w->o, d);
    }
    w->loc = to;
}

/* ---- per-function analysis ------------------------------------------------------------ */

static bool is_reg(const ZydisDecodedOperand *op, ZydisRegister r) {
    return op->type == ZYDIS_OPERAND_TYPE_REGISTER && op->reg.value == r;
}

/* What a function may start with before push %ebp: a NOP of any form (the ftrace site once
 * patched: 3E 8D 74 26 00 is `lea 0(%esi,%eiz,1),%esi`), or the ftrace call itself. */
static bool is_entry_pad(const ZydisDecodedInstruction *z, const ZydisDecodedOperand *op) {
    if (z->mnemonic == ZYDIS_MNEMONIC_NOP) return true;
    if (z->mnemonic == ZYDIS_MNEMONIC_CALL && z->length == 5 &&
        op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
        return true;
    if (z->mnemonic == ZYDIS_MNEMONIC_LEA && op[1].mem.base == op[0].reg.value &&
        op[1].mem.index == ZYDIS_REGISTER_NONE && op[1].mem.disp.value == 0)
        return true;
    return z->mnemonic == ZYDIS_MNEMONIC_MOV && op[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
           is_reg(&op[1], op[0].reg.value);
}

static int dwarf_reg(ZydisRegister r) {
    switch (r) {
    case ZYDIS_REGISTER_EBX: return 3;
    case ZYDIS_REGISTER_ESI: return 6;
    case ZYDIS_REGISTER_EDI: return 7;
    default: return -1;
    }
}

/* An instruction the compiler may schedule into the prologue (before `push %ebp` or
 * between it and `mov %esp,%ebp`): no control transfer, no stack access, no write to ESP
 * or EBP. */
static bool is_prologue_filler(const ZydisDecodedInstruction *z, const ZydisDecodedOperand *op) {
    switch (z->meta.category) {
    case ZYDIS_CATEGORY_CALL:
    case ZYDIS_CATEGORY_COND_BR:
    case ZYDIS_CATEGORY_UNCOND_BR:
    case ZYDIS_CATEGORY_RET:
    case ZYDIS_CATEGORY_PUSH:
    case ZYDIS_CATEGORY_POP:
    case ZYDIS_CATEGORY_INTERRUPT:
    case ZYDIS_CATEGORY_SYSTEM: return false;
    default: break;
    }
    for (int i = 0; i < z->operand_count; i++) {
        const ZydisDecodedOperand *o = &op[i];
        if (o->type == ZYDIS_OPERAND_TYPE_REGISTER &&
            (o->reg.value == ZYDIS_REGISTER_ESP || o->reg.value == ZYDIS_REGISTER_EBP ||
             o->reg.value == ZYDIS_REGISTER_SP || o->reg.value == ZYDIS_REGISTER_BP) &&
            (o->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
            return false;
        if (o->type == ZYDIS_OPERAND_TYPE_MEMORY &&
            (o->mem.base == ZYDIS_REGISTER_ESP || o->mem.base == ZYDIS_REGISTER_EBP))
            return false;
    }
    return true;
}

/* Writes the FDE of one function; false (nothing written) if it has no frame-pointer
 * prologue. */
static bool describe_function(const ZydisDecoder *dec, const uint8_t *code, uint32_t size,
                              uint32_t start, bool cold, struct out *o, struct cfi_stats *st) {
    ZydisDecodedInstruction z;
    ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
    uint32_t off = 0, push_end = 0, mov_end = 0;
    if (cold) goto frame_set; /* (no prologue of its own) */
    for (int n = 0;; n++) {
        if (off >= size ||
            !ZYAN_SUCCESS(ZydisDecoderDecodeFull(dec, code + off, size - off, &z, op)))
            return false;
        if (z.mnemonic == ZYDIS_MNEMONIC_PUSH && is_reg(&op[0], ZYDIS_REGISTER_EBP)) break;
        if (n == 4 || !(is_entry_pad(&z, op) || is_prologue_filler(&z, op))) return false;
        off += z.length;
    }
    push_end = off + z.length;
    for (int n = 0, at = (int)push_end;; n++) {
        if ((uint32_t)at >= size ||
            !ZYAN_SUCCESS(ZydisDecoderDecodeFull(dec, code + at, size - (uint32_t)at, &z, op)))
            return false;
        if (z.mnemonic == ZYDIS_MNEMONIC_MOV && is_reg(&op[0], ZYDIS_REGISTER_EBP) &&
            is_reg(&op[1], ZYDIS_REGISTER_ESP)) {
            mov_end = (uint32_t)at + z.length;
            break;
        }
        if (n == 4 || !is_prologue_filler(&z, op)) return false;
        at += z.length;
    }

frame_set:;
    size_t at = open_fde(o, start, size);
    struct fde_writer w = {o, 0};
    if (cold) {
        put8(o, DW_CFA_def_cfa);
        uleb(o, DWARF_EBP);
        uleb(o, 8);
    } else {
        advance(&w, push_end);
        put8(o, DW_CFA_def_cfa_offset);
        uleb(o, 8);
    }
    put8(o, DW_CFA_offset | DWARF_EBP);
    uleb(o, 2); /* CFA - 8 (data alignment -4) */
    if (!cold) {
        advance(&w, mov_end);
        put8(o, DW_CFA_def_cfa_register);
        uleb(o, DWARF_EBP);
    }

    /* the callee-saved registers the prologue pushes, up to its first other use of the
     * stack or control transfer */
    int saved[3], nsaved = 0;
    bool in_prologue = !cold, restoring = false;
    off = mov_end;
    while (off < size) {
        if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(dec, code + off, size - off, &z, op))) break;
        uint32_t next = off + z.length;
        if (in_prologue) {
            int r = z.mnemonic == ZYDIS_MNEMONIC_PUSH && op[0].type == ZYDIS_OPERAND_TYPE_REGISTER
                        ? dwarf_reg(op[0].reg.value)
                        : -1;
            bool touches_stack = false;
            for (int i = 0; i < z.operand_count; i++)
                if (is_reg(&op[i], ZYDIS_REGISTER_ESP) &&
                    (op[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
                    touches_stack = true;
            if (r >= 0 && nsaved < 3) {
                advance(&w, next);
                put8(o, (uint8_t)(DW_CFA_offset | r));
                uleb(o, (uint32_t)(3 + nsaved)); /* CFA - 12, - 16, - 20 */
                saved[nsaved++] = r;
                st->saved_regs++;
            } else if (touches_stack || z.meta.category == ZYDIS_CATEGORY_CALL ||
                       z.meta.category == ZYDIS_CATEGORY_COND_BR ||
                       z.meta.category == ZYDIS_CATEGORY_UNCOND_BR ||
                       z.meta.category == ZYDIS_CATEGORY_RET) {
                in_prologue = false;
            }
        }
        bool restores_ebp =
            z.mnemonic == ZYDIS_MNEMONIC_LEAVE ||
            (z.mnemonic == ZYDIS_MNEMONIC_POP && is_reg(&op[0], ZYDIS_REGISTER_EBP));
        if (restores_ebp && !restoring) {
            /* from the next instruction to the ret/jmp: the caller's frame, as at entry */
            advance(&w, next);
            put8(o, DW_CFA_remember_state);
            put8(o, DW_CFA_def_cfa);
            uleb(o, DWARF_ESP);
            uleb(o, 4);
            put8(o, DW_CFA_same_value);
            uleb(o, DWARF_EBP);
            for (int i = 0; i < nsaved; i++) {
                put8(o, DW_CFA_same_value);
                uleb(o, (uint32_t)saved[i]);
            }
            restoring = true;
            in_prologue = false;
        } else if (restoring && (z.meta.category == ZYDIS_CATEGORY_RET ||
                                 z.meta.category == ZYDIS_CATEGORY_UNCOND_BR)) {
            advance(&w, next);
            put8(o, DW_CFA_restore_state);
            restoring = false;
            st->epilogues++;
        }
        off = next;
    }
    if (restoring) put8(o, DW_CFA_restore_state); /* (past the decoded part: harmless) */
    close_entry(o, at);
    return true;
}

/* An FDE whose return address is undefined all through: gdb's backtrace ends there. */
static void describe_outermost(uint32_t start, uint32_t size, struct out *o) {
    size_t at = open_fde(o, start, size);
    put8(o, DW_CFA_undefined);
    uleb(o, DWARF_EIP);
    close_entry(o, at);
}

/* handle_exception: outermost, except around its call of the C handler, made with ESP
 * pointing at pt_regs. There the caller is the interrupted context: CFA = pt_regs + 60
 * (for a kernel-mode context, which the CPU interrupted without a stack switch, its ESP),
 * its registers from pt_regs; for a user-mode context (CS RPL 3) EBP reads as 0, which
 * gdb takes for the outermost frame, so the user PC is shown and the backtrace ends. The
 * rule covers the call and the byte after it: the return address (or the address before
 * it, which gdb looks up) whether the call is the 5-byte one on disk or the 2-byte
 * indirect call alternatives may patch in. */
static bool describe_exception_entry(const ZydisDecoder *dec, const uint8_t *code, uint32_t size,
                                     uint32_t start, struct out *o) {
    ZydisDecodedInstruction z;
    ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
    uint32_t off = 0;
    for (;;) {
        if (off >= size || off > 4096 ||
            !ZYAN_SUCCESS(ZydisDecoderDecodeFull(dec, code + off, size - off, &z, op)))
            return false;
        if (z.meta.category == ZYDIS_CATEGORY_CALL) break;
        off += z.length;
    }
    size_t at = open_fde(o, start, size);
    put8(o, DW_CFA_undefined);
    uleb(o, DWARF_EIP);
    struct fde_writer w = {o, 0};
    advance(&w, off);
    put8(o, DW_CFA_remember_state);
    put8(o, DW_CFA_def_cfa);
    uleb(o, DWARF_ESP);
    uleb(o, PT_SP);
    static const struct {
        uint8_t reg, off;
    } saved[] = {{DWARF_EIP, PT_EIP}, {0, PT_EAX}, {1, PT_ECX}, {2, PT_EDX},
                 {3, PT_EBX},         {6, PT_ESI}, {7, PT_EDI}};
    for (size_t i = 0; i < sizeof saved / sizeof saved[0]; i++) {
        put8(o, (uint8_t)(DW_CFA_offset | saved[i].reg));
        uleb(o, (uint32_t)(PT_SP - saved[i].off) / 4); /* CFA - (60 - off), factored by -4 */
    }
    /* EBP = (pt_regs.cs & 3) ? 0 : pt_regs.bp */
    static const uint8_t ebp_expr[] = {
        DW_OP_breg4, PT_CS,  DW_OP_deref, DW_OP_lit3, DW_OP_and, DW_OP_bra, 6,         0,
        DW_OP_breg4, PT_EBP, DW_OP_deref, DW_OP_skip, 1,         0,         DW_OP_lit0};
    put8(o, DW_CFA_val_expression);
    uleb(o, DWARF_EBP);
    uleb(o, sizeof ebp_expr);
    put(o, ebp_expr, sizeof ebp_expr);
    advance(&w, off + 6);
    put8(o, DW_CFA_restore_state);
    close_entry(o, at);
    return true;
}

uint8_t *cfi_build(const struct kernel_image *k, const uint32_t *start, const uint32_t *size,
                   const uint8_t *kind, size_t n, size_t *len, struct cfi_stats *stats) {
    struct cfi_stats st = {0};
    struct out o = {0};
    ZydisDecoder dec;
    if (!ZYAN_SUCCESS(ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32)))
        return NULL;
    /* CIE: version 1, no augmentation, code alignment 1, data alignment -4, return
     * address in column 8 (eip); at entry CFA = esp + 4 and the return address at CFA - 4 */
    put32(&o, 0);
    put32(&o, 0xffffffffu);
    put8(&o, 1);
    put8(&o, 0);
    uleb(&o, 1);
    put8(&o, 0x7c); /* SLEB128 -4 */
    put8(&o, DWARF_EIP);
    put8(&o, DW_CFA_def_cfa);
    uleb(&o, DWARF_ESP);
    uleb(&o, 4);
    put8(&o, DW_CFA_offset | DWARF_EIP);
    uleb(&o, 1);
    close_entry(&o, 0);
    for (size_t i = 0; i < n; i++) {
        st.functions++;
        if (kind[i] == CFI_OUTERMOST && size[i]) {
            describe_outermost(start[i], size[i], &o);
            st.outermost++;
            continue;
        }
        uint32_t avail = 0;
        const uint8_t *code = size[i] ? image_at(k, start[i], &avail) : NULL;
        if (!code) {
            st.not_in_image++;
            continue;
        }
        uint32_t sz = size[i] < avail ? size[i] : avail;
        if (sz > MAX_FUNCTION_BYTES) sz = MAX_FUNCTION_BYTES;
        if (kind[i] == CFI_EXCEPTION_ENTRY) {
            if (describe_exception_entry(&dec, code, sz, start[i], &o)) {
                st.exception_entries++;
            } else {
                describe_outermost(start[i], size[i], &o);
                st.outermost++;
            }
            continue;
        }
        bool cold = kind[i] == CFI_COLD_PART;
        if (describe_function(&dec, code, sz, start[i], cold, &o, &st)) {
            st.described++;
            if (cold) st.cold_parts++;
        }
    }
    if (stats) *stats = st;
    if (o.oom) {
        free(o.p);
        return NULL;
    }
    *len = o.len;
    return o.p;
}
