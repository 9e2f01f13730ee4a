/* Zydis vs capstone instruction lengths on random byte streams (32-bit mode).
 *
 *   conformance_lengths [SEED] [COUNT]
 *
 * For every random 15-byte buffer that both decoders accept, the lengths must agree.
 * Disagreements on opcodes in the allow-list below are counted but tolerated; anything
 * else is printed and makes the program exit nonzero. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <Zydis/Zydis.h>
#include <capstone/capstone.h>

static uint64_t g_rng;
static uint32_t rnd(void) {
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (uint32_t)((g_rng * 0x2545F4914F6CDD1Dull) >> 32);
}

/* Known decoder differences. Each entry says why the difference is not a bug in what rrvm
 * relies on (Zydis). Keyed by Zydis' opcode map and opcode, optionally restricted to a
 * prefix combination (need_66_rep) or to EVEX encodings. */
struct allow {
    ZydisOpcodeMap map;
    uint8_t opcode_lo, opcode_hi;
    bool need_66_rep; /* only when 0x66 and 0xF2/0xF3 are both present */
    bool evex_any;    /* any EVEX-encoded instruction (map/opcode ignored) */
    const char *why;
};
static const struct allow k_allow[] = {
    /* UD1 (0F B9) and UD0 (0F FF): the SDM gives both a ModRM byte (Zydis follows it);
     * capstone decodes them as two-byte instructions (older AMD documentation has UD0
     * without ModRM). Either way the instruction raises #UD, so its length never matters. */
    {ZYDIS_OPCODE_MAP_0F, 0xB9, 0xB9, false, false, "UD1: ModRM per SDM, capstone omits it"},
    {ZYDIS_OPCODE_MAP_0F, 0xFF, 0xFF, false, false, "UD0: ModRM per SDM, capstone omits it"},
    /* 66 + F2/F3 (BND/REP) + CALL/JMP rel or Jcc rel: the operand-size prefix still makes the
     * displacement 16 bits (Zydis: rel16); capstone drops the 66 when a REP/BND prefix is
     * present and reads rel32. Zydis matches the SDM. */
    {ZYDIS_OPCODE_MAP_DEFAULT, 0xE8, 0xE9, true, false, "66+F2/F3 call/jmp rel16"},
    {ZYDIS_OPCODE_MAP_0F, 0x80, 0x8F, true, false, "66+F2/F3 jcc rel16"},
    /* EVEX (AVX-512) register forms with embedded rounding: capstone counts one byte too many
     * (62 P0 P1 P2 opcode ModRM is 6 bytes). A 32-bit guest never gets AVX-512 from rrvm. */
    {0, 0, 0, false, true, "EVEX embedded rounding (capstone +1)"},
    {0, 0, 0, false, false, NULL},
};

static const struct allow *allowed(const ZydisDecodedInstruction *zi, const uint8_t *buf) {
    bool has66 = false, hasrep = false;
    for (int i = 0; i < zi->raw.prefix_count && i < 15; i++) {
        if (buf[i] == 0x66) has66 = true;
        if (buf[i] == 0xF2 || buf[i] == 0xF3) hasrep = true;
    }
    for (const struct allow *a = k_allow; a->why; a++) {
        if (a->evex_any) {
            if (zi->encoding == ZYDIS_INSTRUCTION_ENCODING_EVEX) return a;
            continue;
        }
        if (a->map != zi->opcode_map || zi->opcode < a->opcode_lo || zi->opcode > a->opcode_hi)
            continue;
        if (a->need_66_rep && !(has66 && hasrep)) continue;
        return a;
    }
    return NULL;
}

int main(int argc, char **argv) {
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 1;
    unsigned long count = argc > 2 ? strtoul(argv[2], NULL, 0) : 200000;
    g_rng = seed * 0x9E3779B97F4A7C15ull + 7;
    if (!g_rng) g_rng = 1;

    ZydisDecoder dec;
    if (!ZYAN_SUCCESS(ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32))) {
        fprintf(stderr, "lengths: Zydis init failed\n");
        return 2;
    }
    csh cs;
    if (cs_open(CS_ARCH_X86, CS_MODE_32, &cs) != CS_ERR_OK) {
        fprintf(stderr, "lengths: capstone init failed\n");
        return 2;
    }
    cs_insn *ci = cs_malloc(cs);
    ZydisFormatter fmt;
    ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_INTEL);

    unsigned long both = 0, only_zydis = 0, only_cs = 0, tolerated = 0, bad = 0;
    uint8_t buf[15];
    for (unsigned long i = 0; i < count; i++) {
        for (int k = 0; k < 15; k++)
            buf[k] = (uint8_t)rnd();
        /* bias towards common one- and two-byte opcodes with prefixes now and then */
        if (rnd() % 4 == 0) buf[0] = 0x0F;
        if (rnd() % 8 == 0) {
            static const uint8_t pfx[] = {0x66, 0x67, 0xF2, 0xF3, 0xF0, 0x2E,
                                          0x3E, 0x26, 0x36, 0x64, 0x65};
            memmove(buf + 1, buf, 14);
            buf[0] = pfx[rnd() % sizeof pfx];
        }
        ZydisDecodedInstruction zi;
        ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
        bool zok = ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, buf, sizeof buf, &zi, zo));
        const uint8_t *p = buf;
        size_t sz = sizeof buf;
        uint64_t addr = 0x1000;
        bool cok = cs_disasm_iter(cs, &p, &sz, &addr, ci);
        if (zok && cok) {
            both++;
            if (zi.length == ci->size) continue;
            const struct allow *a = allowed(&zi, buf);
            if (a) {
                tolerated++;
                continue;
            }
            bad++;
            if (bad <= 50) {
                char text[96];
                ZydisFormatterFormatInstruction(&fmt, &zi, zo, zi.operand_count_visible, text,
                                                sizeof text, 0x1000, NULL);
                printf("DISAGREE [");
                for (int k = 0; k < 15; k++)
                    printf("%s%02x", k ? " " : "", buf[k]);
                printf("] zydis %u (%s, map %d opcode %02x) capstone %u (%s %s)\n", zi.length, text,
                       (int)zi.opcode_map, zi.opcode, ci->size, ci->mnemonic, ci->op_str);
            }
        } else if (zok) {
            only_zydis++;
        } else if (cok) {
            only_cs++;
        }
    }
    printf("lengths: %lu buffers, %lu decoded by both, %lu only by Zydis, %lu only by capstone, "
           "%lu tolerated, %lu unexplained disagreements\n",
           count, both, only_zydis, only_cs, tolerated, bad);
    cs_free(ci, 1);
    cs_close(&cs);
    return bad ? 1 : 0;
}
