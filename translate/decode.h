/* One decoded guest instruction: the record shared by the translator, the C helpers,
 * the disassembler and the tests (decode once, use everywhere). */
#ifndef RRVM_TRANSLATE_DECODE_H
#define RRVM_TRANSLATE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include <Zydis/Zydis.h>

struct insn {
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
    uint32_t eip; /* guest linear address of the first byte */
    uint8_t bytes[16];
};

/* Decodes one 32-bit-mode instruction from bytes[0..len). Returns 0, or -1 if the bytes
 * are not a valid instruction (the guest gets #UD). */
int insn_decode(struct insn *out, const uint8_t *bytes, size_t len, uint32_t eip);

/* Formats the instruction in Intel syntax into buf. */
void insn_format(const struct insn *in, char *buf, size_t buflen);

#endif
