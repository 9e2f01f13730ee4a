/* Instruction decoding and formatting for 32-bit guests, on top of Zydis. */
#include "translate/decode.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* One decoder/formatter for the whole process: both are immutable after init, so sharing
 * them is safe; they are set up on first use to keep callers free of init ordering. */
static ZydisDecoder g_decoder;
static ZydisFormatter g_formatter;
static bool g_decoder_ready;
static bool g_formatter_ready;

int insn_decode(struct insn *out, const uint8_t *bytes, size_t len, uint32_t eip) {
    if (!g_decoder_ready) {
        if (!ZYAN_SUCCESS(
                ZydisDecoderInit(&g_decoder, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32)))
            return -1;
        g_decoder_ready = true;
    }
    memset(out, 0, sizeof(*out));
    if (len > sizeof(out->bytes)) len = sizeof(out->bytes);
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&g_decoder, bytes, len, &out->zi, out->op))) return -1;
    memcpy(out->bytes, bytes, out->zi.length);
    out->eip = eip;
    return 0;
}

void insn_format(const struct insn *in, char *buf, size_t buflen) {
    if (buflen == 0) return;
    if (!g_formatter_ready) {
        if (!ZYAN_SUCCESS(ZydisFormatterInit(&g_formatter, ZYDIS_FORMATTER_STYLE_INTEL))) {
            snprintf(buf, buflen, "(formatter error)");
            return;
        }
        g_formatter_ready = true;
    }
    if (!ZYAN_SUCCESS(ZydisFormatterFormatInstruction(&g_formatter, &in->zi, in->op,
                                                      in->zi.operand_count_visible, buf, buflen,
                                                      in->eip, NULL)))
        snprintf(buf, buflen, "(bad)");
}
