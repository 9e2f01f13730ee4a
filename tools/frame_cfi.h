/* Call-frame information (DWARF .debug_frame) for the functions of an i386 kernel image,
 * derived from their machine code, so that gdb can unwind kernel stacks without the
 * kernel's debug information (tools/kallsyms2elf.c puts it into vmlinux.sym).
 *
 * Debian's 686 kernel is built with frame pointers, but every traceable function starts
 * with a 5-byte ftrace NOP before `push %ebp; mov %esp,%ebp`, which gdb's own i386
 * prologue analysis does not expect: without CFI its backtraces stop after a frame or two.
 */
#ifndef RRVM_TOOLS_FRAME_CFI_H
#define RRVM_TOOLS_FRAME_CFI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kernel_image;

/* Reads an ELF32 i386 kernel image (the vmlinux inside a bzImage: sections and program
 * headers, no symbols needed). NULL with a message in err on failure. */
struct kernel_image *kernel_image_open(const char *path, char *err, size_t errlen);
void kernel_image_free(struct kernel_image *k);

struct cfi_stats {
    size_t functions;         /* asked for */
    size_t described;         /* got an FDE (frame-pointer prologue found) */
    size_t epilogues;         /* leave/pop %ebp before ret or jmp, described */
    size_t saved_regs;        /* ebx/esi/edi pushes described */
    size_t not_in_image;      /* no bytes in the image at their address */
    size_t outermost;         /* entry code: backtraces end there */
    size_t cold_parts;        /* NAME.cold parts described in their parent's frame */
    size_t exception_entries; /* handle_exception call sites described through pt_regs */
};

/* What a function's code is, for its frame description. */
enum cfi_kind {
    CFI_FUNCTION,        /* described if it begins with [NOP or ftrace call] push %ebp;
                          * mov %esp,%ebp */
    CFI_OUTERMOST,       /* kernel entry code: below it lies the interrupted context's register
                          * frame, not a caller, so backtraces end there */
    CFI_COLD_PART,       /* a function's out-of-line part (GCC's NAME.cold): runs in the frame
                          * its parent set up */
    CFI_EXCEPTION_ENTRY, /* Linux i386 handle_exception: calls the C handler with the
                          * interrupted context's pt_regs at ESP; from the return address of
                          * that call, backtraces go on into the interrupted kernel code (an
                          * interrupted user context ends them); elsewhere it is outermost */
};

/* Builds .debug_frame contents: one CIE and one FDE per function (start, size, kind) that
 * can be described. Returns a malloc'ed buffer (*len bytes), or NULL if out of memory. */
uint8_t *cfi_build(const struct kernel_image *k, const uint32_t *start, const uint32_t *size,
                   const uint8_t *kind, size_t n, size_t *len, struct cfi_stats *stats);

#endif
