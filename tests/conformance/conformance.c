/* Conformance suite: single guest instructions run by rrvm against the real CPU.
 *
 *   conformance NATIVE_RUNNER [SEED] [--native-only] [--verbose] [--max N] [--no-fork] [--mutate]
 *
 * Generates test cases (every IA-32 integer instruction family, operand sizes, register/
 * memory/immediate forms, prefixes), runs them natively through the 32-bit native_runner
 * (records over pipes, see case.h) and in rrvm, and compares registers, EIP, EFLAGS (minus
 * the flags the SDM leaves undefined) and the data area.
 *
 * In rrvm every landing address (fall-through and branch target) holds `ud2`, so a case
 * ends with a #UD at the landing address; that tells where the instruction went without
 * depending on how the monitor counts REP iterations. Each case runs with one-instruction
 * blocks and with the default block size (instruction + ud2 in one block); then eligible
 * cases run again as three copies of the instruction in one block (natively too).
 *
 * rrvm runs in forked workers with a 0.25 s watchdog per run, so a translator crash or hang
 * is reported as a mismatch of that case. --mutate corrupts every rrvm result (self-test of
 * the comparison: all runs must mismatch); --native-only checks the generator; --max N
 * runs a spread subset; --no-fork runs rrvm in-process (for gdb). The instruction sits at
 * CONF_CODE_ADDR (0x00308000, inside the code area at 0x00300000) so that backward branch
 * targets fit in the area. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hv/machine.h"
#include "tests/conformance/case.h"
#include "translate/decode.h"

/* ---- PRNG and values ----------------------------------------------------------------------- */

static uint64_t g_rng;
static uint32_t rnd(void) {
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (uint32_t)((g_rng * 0x2545F4914F6CDD1Dull) >> 32);
}
static uint32_t rndn(uint32_t n) {
    return rnd() % n;
}

static const uint32_t k_edges[] = {0,          1,          0x7f,       0x80,       0xff,
                                   0x7fff,     0x8000,     0xffff,     0x7fffffff, 0x80000000,
                                   0xffffffff, 2,          0xfffffffe, 0x100,      0x10000,
                                   0xff00,     0x80000001, 0x7ffffffe, 0x0000ff80, 0xffffff7f};
static const uint32_t k_counts[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 255};

static uint32_t val32(void) {
    uint32_t k = rndn(10);
    if (k < 3) return k_edges[rndn(sizeof k_edges / sizeof k_edges[0])];
    if (k == 3) return rndn(64);
    if (k == 4) return (uint32_t) - (int32_t)rndn(64);
    if (k == 5) /* edge value in the low byte/word with random upper bits */
        return (rnd() & 0xffff0000u) | (k_edges[rndn(10)] & 0xffff);
    return rnd();
}
static uint32_t count_val(void) {
    if (rndn(3) == 0) return rnd();
    return k_counts[rndn(sizeof k_counts / sizeof k_counts[0])] | (rndn(2) ? rnd() & ~0xffu : 0);
}

/* ---- case construction ----------------------------------------------------------------------- */

struct cinfo {
    uint32_t mask_addr; /* a dword in the data window compared only under mask_val (PUSHF) */
    uint32_t mask_val;
    uint32_t flagmask; /* EFLAGS bits compared */
};

static struct conf_case *g_cases;
static struct cinfo *g_info;
static size_t g_ncases, g_cap;

struct gen {
    struct conf_case c;
    struct cinfo ci;
    unsigned n; /* bytes emitted */
    bool bad;
};

static void begin(struct gen *g) {
    memset(g, 0, sizeof *g);
    for (int i = 0; i < 8; i++)
        g->c.regs[i] = val32();
    g->c.regs[R_ESP] = CONF_WIN_ADDR + 0x100 - 4 * rndn(8);
    g->c.eflags = (rnd() & FL_ARITH) | (rndn(2) ? FL_DF : 0);
    for (unsigned i = 0; i < CONF_WIN_SIZE; i += 4) {
        uint32_t v = rndn(4) ? rnd() : val32();
        memcpy(g->c.data + i, &v, 4);
    }
}
static void emit(struct gen *g, uint8_t b) {
    if (g->n < 15)
        g->c.code[g->n] = b;
    else
        g->bad = true;
    g->n++;
}
static void emitn(struct gen *g, uint32_t v, unsigned bytes) {
    for (unsigned i = 0; i < bytes; i++)
        emit(g, (uint8_t)(v >> (8 * i)));
}
static void wdata(struct gen *g, uint32_t addr, uint32_t v, unsigned bytes) {
    for (unsigned i = 0; i < bytes; i++) {
        uint32_t a = addr + i - CONF_WIN_ADDR;
        if (a < CONF_WIN_SIZE)
            g->c.data[a] = (uint8_t)(v >> (8 * i));
        else
            g->bad = true;
    }
}
static uint32_t mem_addr(void) {
    return CONF_WIN_ADDR + 0x10 + rndn(0xa0);
}

/* Emits a ModRM (+SIB/disp) for a memory operand at addr, setting base/index registers. */
static void modrm_mem_at(struct gen *g, int reg, uint32_t addr, bool simple) {
    int mode = simple ? 0 : (int)rndn(4);
    switch (mode) {
    case 0: /* [disp32] */
        emit(g, (uint8_t)(0x05 | reg << 3));
        emitn(g, addr, 4);
        break;
    case 1: { /* [ebx+disp8] */
        int8_t d = (int8_t)rnd();
        emit(g, (uint8_t)(0x43 | reg << 3));
        emit(g, (uint8_t)d);
        g->c.regs[R_EBX] = addr - (uint32_t)(int32_t)d;
        break;
    }
    case 2: { /* [esi+edi*s+disp32] */
        int sc = (int)rndn(4);
        uint32_t idx = rndn(16), disp = rnd() & 0xfff;
        emit(g, (uint8_t)(0x84 | reg << 3));
        emit(g, (uint8_t)(sc << 6 | R_EDI << 3 | R_ESI));
        emitn(g, disp, 4);
        g->c.regs[R_EDI] = idx;
        g->c.regs[R_ESI] = addr - disp - (idx << sc);
        break;
    }
    default: { /* [ebp+disp8] (SS default segment, flat) */
        int8_t d = (int8_t)rnd();
        emit(g, (uint8_t)(0x45 | reg << 3));
        emit(g, (uint8_t)d);
        g->c.regs[R_EBP] = addr - (uint32_t)(int32_t)d;
        break;
    }
    }
}
/* Memory operand of `bytes` size holding an interesting value. */
static uint32_t modrm_mem(struct gen *g, int reg, unsigned bytes) {
    uint32_t a = mem_addr();
    modrm_mem_at(g, reg, a, false);
    uint32_t v = val32();
    wdata(g, a, v, 4);
    if (bytes == 8) wdata(g, a + 4, val32(), 4);
    return a;
}
static void modrm_reg(struct gen *g, int reg, int rm) {
    emit(g, (uint8_t)(0xC0 | reg << 3 | rm));
}

/* Optional segment override / LOCK for memory forms, operand-size prefix for 16-bit. */
static void prefixes(struct gen *g, int size, bool mem, bool lockable) {
    if (mem && rndn(8) == 0) {
        static const uint8_t seg[] = {0x3E, 0x26, 0x36};
        emit(g, seg[rndn(3)]);
    }
    if (mem && lockable && rndn(4) == 0) emit(g, 0xF0);
    if (size == 16) emit(g, 0x66);
}

static int g_imm_counter;
static void imm(struct gen *g, unsigned bytes) {
    uint32_t v = (g_imm_counter++ & 1) ? val32() : rnd();
    emitn(g, v, bytes);
}

static void finish(struct gen *g);

/* ---- flags that must be compared ------------------------------------------------------------- */

static bool g_conservative; /* triples: the count of later copies may differ */
static uint32_t flag_mask(struct gen *g) {
    struct insn in;
    if (insn_decode(&in, g->c.code, g->n, CONF_CODE_ADDR) != 0) return FL_ARITH | FL_DF;
    if ((uint32_t)in.zi.length != g->n) g->bad = true;
    uint32_t mask = FL_ARITH | FL_DF;
    if (in.zi.cpu_flags) mask &= ~(uint32_t)in.zi.cpu_flags->undefined;
    ZydisMnemonic mn = in.zi.mnemonic;
    int cidx = -1;
    switch (mn) {
    case ZYDIS_MNEMONIC_SHL:
    case ZYDIS_MNEMONIC_SHR:
    case ZYDIS_MNEMONIC_SAR:
    case ZYDIS_MNEMONIC_ROL:
    case ZYDIS_MNEMONIC_ROR:
    case ZYDIS_MNEMONIC_RCL:
    case ZYDIS_MNEMONIC_RCR: cidx = 1; break;
    case ZYDIS_MNEMONIC_SHLD:
    case ZYDIS_MNEMONIC_SHRD: cidx = 2; break;
    default: break;
    }
    if (cidx >= 0) {
        const ZydisDecodedOperand *op = &in.op[cidx];
        uint32_t cnt = op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE  ? (uint32_t)op->imm.value.u
                       : op->type == ZYDIS_OPERAND_TYPE_REGISTER ? (g->c.regs[R_ECX] & 0xff)
                                                                 : 1;
        cnt &= 0x1f;
        if (g_conservative) return mask & ~(FL_OF | FL_CF);
        if (cnt == 0) return FL_ARITH | FL_DF; /* flags untouched: everything is defined */
        if (cnt != 1) mask &= ~FL_OF;
        unsigned w = in.zi.operand_width;
        if ((mn == ZYDIS_MNEMONIC_SHL || mn == ZYDIS_MNEMONIC_SHR || mn == ZYDIS_MNEMONIC_SAR) &&
            cnt >= w)
            mask &= ~FL_CF; /* SDM: CF undefined when count >= operand size */
        if ((mn == ZYDIS_MNEMONIC_SHLD || mn == ZYDIS_MNEMONIC_SHRD) && cnt > w)
            g->bad = true; /* result undefined: never generated */
    }
    return mask;
}

static void finish(struct gen *g) {
    if (g->n == 0 || g->n > 15) g->bad = true;
    g->c.len = g->n;
    g->ci.flagmask = flag_mask(g);
    if (g->bad) {
        fprintf(stderr, "conformance: generator produced a bad case (len %u)\n", g->n);
        exit(2);
    }
    if (g_ncases == g_cap) {
        g_cap = g_cap ? g_cap * 2 : 65536;
        g_cases = realloc(g_cases, g_cap * sizeof *g_cases);
        g_info = realloc(g_info, g_cap * sizeof *g_info);
        if (!g_cases || !g_info) {
            fprintf(stderr, "conformance: out of memory\n");
            exit(2);
        }
    }
    g_cases[g_ncases] = g->c;
    g_info[g_ncases] = g->ci;
    g_ncases++;
}

/* ---- instruction families ------------------------------------------------------------------- */

#define K 150 /* cases per template (multiplied for cheap/important ones) */

static int w_bit(int size) {
    return size == 8 ? 0 : 1;
}
static unsigned isz(int size) {
    return size == 8 ? 1 : size == 16 ? 2 : 4;
}

/* Generic "opcode /r" or "opcode /digit" template with reg or mem r/m. */
static void t_modrm(const uint8_t *op, int oplen, int size, int reg, bool mem, bool lockable,
                    unsigned immbytes, int reps) {
    for (int i = 0; i < reps; i++) {
        struct gen g;
        begin(&g);
        prefixes(&g, size, mem, lockable);
        for (int j = 0; j < oplen; j++)
            emit(&g, op[j]);
        int r = reg >= 0 ? reg : (int)rndn(8);
        if (mem)
            modrm_mem(&g, r, 8);
        else
            modrm_reg(&g, r, (int)rndn(8));
        imm(&g, immbytes);
        finish(&g);
    }
}

static void gen_alu(void) {
    for (int op = 0; op < 8; op++) {
        bool lk = op != 7;
        for (int size = 8; size <= 32; size *= 2) {
            unsigned is = size == 8 ? 1 : isz(size);
            for (int mem = 0; mem < 2; mem++) {
                uint8_t o1 = (uint8_t)(op * 8 + w_bit(size));
                uint8_t o2 = (uint8_t)(op * 8 + 2 + w_bit(size));
                uint8_t o3 = (uint8_t)(0x80 + w_bit(size));
                t_modrm(&o1, 1, size, -1, mem, lk, 0, K);
                t_modrm(&o2, 1, size, -1, mem, false, 0, K);
                t_modrm(&o3, 1, size, op, mem, lk, is, K);
                if (size != 8) {
                    uint8_t o4 = 0x83;
                    t_modrm(&o4, 1, size, op, mem, lk, 1, K);
                }
            }
            for (int i = 0; i < K; i++) { /* AL/eAX, imm */
                struct gen g;
                begin(&g);
                prefixes(&g, size, false, false);
                emit(&g, (uint8_t)(op * 8 + 4 + w_bit(size)));
                imm(&g, is);
                finish(&g);
            }
        }
    }
}

static void gen_test_unary_muldiv(void) {
    for (int size = 8; size <= 32; size *= 2) {
        unsigned is = isz(size);
        for (int mem = 0; mem < 2; mem++) {
            uint8_t t = (uint8_t)(0x84 + w_bit(size)), f = (uint8_t)(0xF6 + w_bit(size));
            t_modrm(&t, 1, size, -1, mem, false, 0, K);
            t_modrm(&f, 1, size, 0, mem, false, is, K);
            for (int d = 2; d <= 5; d++)
                t_modrm(&f, 1, size, d, mem, d <= 3, 0, 2 * K);
            uint8_t fe = (uint8_t)(0xFE + w_bit(size));
            t_modrm(&fe, 1, size, 0, mem, true, 0, K);
            t_modrm(&fe, 1, size, 1, mem, true, 0, K);
            if (size != 8) {
                uint8_t im[2] = {0x0F, 0xAF}, i3 = 0x69, i8 = 0x6B;
                t_modrm(im, 2, size, -1, mem, false, 0, K);
                t_modrm(&i3, 1, size, -1, mem, false, is, K);
                t_modrm(&i8, 1, size, -1, mem, false, 1, K);
            }
            /* DIV / IDIV: mostly in-range quotients, some overflow and division by zero */
            for (int d = 6; d <= 7; d++) {
                for (int i = 0; i < 3 * K; i++) {
                    struct gen g;
                    begin(&g);
                    prefixes(&g, size, mem, false);
                    emit(&g, f);
                    uint32_t dv = val32();
                    int kind = (int)rndn(10);
                    if (kind == 0) dv = rndn(2) ? 0 : (rnd() & 0xffff0000u);
                    uint32_t m = size == 32 ? 0xffffffffu : (1u << size) - 1;
                    uint32_t dvm = dv & m;
                    if (mem) {
                        uint32_t a = mem_addr();
                        modrm_mem_at(&g, d, a, false);
                        wdata(&g, a, dv, 4);
                    } else {
                        static const int rms[5] = {1, 3, 5, 6, 7}; /* not eax/edx */
                        int rm = rms[rndn(size == 8 ? 4 : 5)];
                        modrm_reg(&g, d, rm);
                        if (size == 8 && rm >= 4) /* ch / bh */
                            g.c.regs[rm - 4] = (g.c.regs[rm - 4] & ~0xff00u) | (dvm << 8);
                        else
                            g.c.regs[rm] = (g.c.regs[rm] & ~m) | dvm;
                    }
                    if (kind >= 2 && dvm != 0) {
                        /* high half of the dividend below the divisor: no overflow for DIV */
                        uint32_t hi = d == 6 ? rnd() % dvm : 0;
                        if (d == 7) {
                            int32_t s = size == 8    ? (int8_t)dvm
                                        : size == 16 ? (int16_t)dvm
                                                     : (int32_t)dvm;
                            hi = (rndn(2) && s > 0) ? 0 : m; /* sign extension of the low half */
                            uint32_t lo = rnd();
                            uint32_t sign = size == 8 ? 0x80 : size == 16 ? 0x8000 : 0x80000000;
                            lo = hi ? (lo | sign) : (lo & ~sign);
                            if (size == 8) {
                                g.c.regs[R_EAX] =
                                    (g.c.regs[R_EAX] & ~0xffffu) | (lo & 0xff) | ((hi & 0xff) << 8);
                            } else if (size == 16) {
                                g.c.regs[R_EAX] = (g.c.regs[R_EAX] & ~0xffffu) | (lo & 0xffff);
                                g.c.regs[R_EDX] = (g.c.regs[R_EDX] & ~0xffffu) | (hi & 0xffff);
                            } else {
                                g.c.regs[R_EAX] = lo;
                                g.c.regs[R_EDX] = hi;
                            }
                        } else {
                            if (size == 8)
                                g.c.regs[R_EAX] = (g.c.regs[R_EAX] & ~0xff00u) | ((hi & 0xff) << 8);
                            else if (size == 16)
                                g.c.regs[R_EDX] = (g.c.regs[R_EDX] & ~0xffffu) | (hi & 0xffff);
                            else
                                g.c.regs[R_EDX] = hi;
                        }
                    }
                    finish(&g);
                }
            }
        }
    }
    for (int size = 16; size <= 32; size *= 2)
        for (int r = 0; r < 16; r++)
            for (int i = 0; i < K / 4; i++) { /* INC/DEC r (0x40-0x4F) */
                struct gen g;
                begin(&g);
                prefixes(&g, size, false, false);
                emit(&g, (uint8_t)(0x40 + r));
                finish(&g);
            }
}

static void gen_shifts(void) {
    for (int size = 8; size <= 32; size *= 2)
        for (int mem = 0; mem < 2; mem++)
            for (int d = 0; d < 8; d++) {
                if (d == 6) continue; /* undocumented SAL alias */
                for (int form = 0; form < 3; form++) {
                    for (int i = 0; i < K; i++) {
                        struct gen g;
                        begin(&g);
                        prefixes(&g, size, mem, false);
                        static const uint8_t base[3] = {0xD0, 0xD2, 0xC0};
                        emit(&g, (uint8_t)(base[form] + w_bit(size)));
                        if (mem)
                            modrm_mem(&g, d, 4);
                        else
                            modrm_reg(&g, d, (int)rndn(8));
                        g.c.regs[R_ECX] = count_val();
                        if (form == 2) emit(&g, (uint8_t)count_val());
                        finish(&g);
                    }
                }
            }
    /* SHLD / SHRD */
    for (int size = 16; size <= 32; size *= 2)
        for (int mem = 0; mem < 2; mem++)
            for (int op = 0; op < 4; op++) {
                static const uint8_t ops[4] = {0xA4, 0xA5, 0xAC, 0xAD};
                for (int i = 0; i < 2 * K; i++) {
                    struct gen g;
                    begin(&g);
                    prefixes(&g, size, mem, false);
                    emit(&g, 0x0F);
                    emit(&g, ops[op]);
                    int reg = (int)rndn(8);
                    uint32_t cnt = count_val();
                    if (size == 16 && (cnt & 31) > 16) cnt = rndn(17);
                    if (reg == R_ECX) reg = R_EDX;
                    if (mem)
                        modrm_mem(&g, reg, 4);
                    else {
                        int rm = (int)rndn(8);
                        if (rm == R_ECX && !(ops[op] & 1)) rm = R_EBX;
                        modrm_reg(&g, reg, rm);
                        if (rm == R_ECX && size == 16 && (cnt & 31) > 16) cnt = 16;
                    }
                    if (ops[op] & 1)
                        g.c.regs[R_ECX] = (g.c.regs[R_ECX] & ~0xffu) | (cnt & 0xff);
                    else
                        emit(&g, (uint8_t)cnt);
                    finish(&g);
                }
            }
}

static void gen_bits(void) {
    for (int size = 16; size <= 32; size *= 2)
        for (int mem = 0; mem < 2; mem++) {
            for (int op = 0; op < 4; op++) {
                static const uint8_t rop[4] = {0xA3, 0xAB, 0xB3, 0xBB};
                for (int i = 0; i < K; i++) { /* BTx r/m, reg */
                    struct gen g;
                    begin(&g);
                    prefixes(&g, size, mem, op != 0);
                    emit(&g, 0x0F);
                    emit(&g, rop[op]);
                    int reg = (int)rndn(8);
                    if (mem) {
                        if (reg == R_ESP) reg = R_EAX;
                        uint32_t a = mem_addr() + 0x20;
                        modrm_mem_at(&g, reg, a, true);
                        int32_t off = (int32_t)rndn(384) - 128;
                        uint32_t v = (uint32_t)off;
                        if (size == 16) v = (val32() & 0xffff0000u) | (v & 0xffff);
                        g.c.regs[reg] = v;
                    } else
                        modrm_reg(&g, reg, (int)rndn(8));
                    finish(&g);
                }
                uint8_t ba[2] = {0x0F, 0xBA};
                t_modrm(ba, 2, size, 4 + op, mem, op != 0, 1, K);
            }
            uint8_t bsf[2] = {0x0F, 0xBC}, bsr[2] = {0x0F, 0xBD};
            for (int i = 0; i < 2; i++) {
                t_modrm(bsf, 2, size, -1, mem, false, 0, K);
                t_modrm(bsr, 2, size, -1, mem, false, 0, K);
            }
        }
    for (int i = 0; i < 4 * K; i++) { /* BSWAP */
        struct gen g;
        begin(&g);
        emit(&g, 0x0F);
        emit(&g, (uint8_t)(0xC8 + rndn(8)));
        finish(&g);
    }
}

static void gen_cc(void) {
    for (int cc = 0; cc < 16; cc++)
        for (int mem = 0; mem < 2; mem++) {
            uint8_t set[2] = {0x0F, (uint8_t)(0x90 + cc)}, cmov[2] = {0x0F, (uint8_t)(0x40 + cc)};
            t_modrm(set, 2, 8, 0, mem, false, 0, K / 2);
            t_modrm(cmov, 2, 16, -1, mem, false, 0, K / 2);
            t_modrm(cmov, 2, 32, -1, mem, false, 0, K / 2);
        }
}

static void gen_xchg_mov(void) {
    for (int size = 8; size <= 32; size *= 2)
        for (int mem = 0; mem < 2; mem++) {
            uint8_t xchg = (uint8_t)(0x86 + w_bit(size));
            uint8_t xadd[2] = {0x0F, (uint8_t)(0xC0 + w_bit(size))};
            uint8_t cx[2] = {0x0F, (uint8_t)(0xB0 + w_bit(size))};
            t_modrm(&xchg, 1, size, -1, mem, true, 0, K);
            t_modrm(xadd, 2, size, -1, mem, true, 0, K);
            for (int i = 0; i < 2 * K; i++) { /* CMPXCHG: accumulator equal half the time */
                struct gen g;
                begin(&g);
                prefixes(&g, size, mem, true);
                emit(&g, cx[0]);
                emit(&g, cx[1]);
                int reg = (int)rndn(8);
                if (mem) {
                    uint32_t a = mem_addr();
                    modrm_mem_at(&g, reg, a, true);
                    uint32_t v = val32();
                    wdata(&g, a, v, 4);
                    if (rndn(2)) g.c.regs[R_EAX] = v;
                } else {
                    int rm = (int)rndn(8);
                    modrm_reg(&g, reg, rm);
                    if (rndn(2) && size != 8) g.c.regs[R_EAX] = g.c.regs[rm];
                    if (rndn(2) && size == 8 && rm < 4) g.c.regs[R_EAX] = g.c.regs[rm];
                }
                finish(&g);
            }
            uint8_t mv[4] = {(uint8_t)(0x88 + w_bit(size)), (uint8_t)(0x8A + w_bit(size))};
            t_modrm(&mv[0], 1, size, -1, mem, false, 0, K / 2);
            t_modrm(&mv[1], 1, size, -1, mem, false, 0, K / 2);
            uint8_t c6 = (uint8_t)(0xC6 + w_bit(size));
            t_modrm(&c6, 1, size, 0, mem, false, isz(size), K / 2);
            if (size != 8) {
                uint8_t zx[2] = {0x0F, 0xB6}, zx16[2] = {0x0F, 0xB7};
                uint8_t sx[2] = {0x0F, 0xBE}, sx16[2] = {0x0F, 0xBF};
                t_modrm(zx, 2, size, -1, mem, false, 0, K / 2);
                t_modrm(zx16, 2, size, -1, mem, false, 0, K / 2);
                t_modrm(sx, 2, size, -1, mem, false, 0, K / 2);
                t_modrm(sx16, 2, size, -1, mem, false, 0, K / 2);
            }
        }
    for (int size = 8; size <= 32; size *= 2)
        for (int i = 0; i < K; i++) { /* XCHG eAX,r / MOV r,imm / MOV moffs */
            struct gen g;
            begin(&g);
            prefixes(&g, size, false, false);
            int k = (int)rndn(3);
            if (k == 0 && size != 8)
                emit(&g, (uint8_t)(0x90 + 1 + rndn(7)));
            else if (k == 1 || size == 8) {
                emit(&g, (uint8_t)((size == 8 ? 0xB0 : 0xB8) + rndn(8)));
                imm(&g, isz(size));
            } else {
                emit(&g, (uint8_t)(0xA0 + 2 * rndn(2) + w_bit(size)));
                emitn(&g, mem_addr(), 4);
            }
            finish(&g);
        }
    for (int i = 0; i < 2 * K; i++) { /* A0-A3 with 8-bit too */
        struct gen g;
        begin(&g);
        int size = 8 << rndn(3);
        prefixes(&g, size == 32 ? 32 : size, true, false);
        emit(&g, (uint8_t)(0xA0 + 2 * rndn(2) + (size == 8 ? 0 : 1)));
        emitn(&g, mem_addr(), 4);
        finish(&g);
    }
    for (int i = 0; i < 4 * K; i++) { /* CMPXCHG8B */
        struct gen g;
        begin(&g);
        if (rndn(4) == 0) emit(&g, 0xF0);
        emit(&g, 0x0F);
        emit(&g, 0xC7);
        uint32_t a = mem_addr();
        modrm_mem_at(&g, 1, a, rndn(2));
        uint32_t lo = val32(), hi = val32();
        wdata(&g, a, lo, 4);
        wdata(&g, a + 4, hi, 4);
        if (rndn(2)) {
            g.c.regs[R_EAX] = lo;
            g.c.regs[R_EDX] = rndn(4) ? hi : hi ^ 1;
        }
        finish(&g);
    }
}

static void gen_lea(void) {
    for (int i = 0; i < 12 * K; i++) {
        struct gen g;
        begin(&g);
        bool a16 = rndn(4) == 0, o16 = rndn(4) == 0;
        if (o16) emit(&g, 0x66);
        if (a16) emit(&g, 0x67);
        emit(&g, 0x8D);
        int mod = (int)rndn(3), rm = (int)rndn(8), reg = (int)rndn(8);
        emit(&g, (uint8_t)(mod << 6 | reg << 3 | rm));
        if (a16) {
            if (mod == 1)
                emit(&g, (uint8_t)rnd());
            else if (mod == 2 || (mod == 0 && rm == 6))
                emitn(&g, rnd(), 2);
        } else {
            int base = -1;
            if (rm == 4) {
                uint8_t sib = (uint8_t)rnd();
                emit(&g, sib);
                base = sib & 7;
            }
            if (mod == 1)
                emit(&g, (uint8_t)rnd());
            else if (mod == 2 || (mod == 0 && (rm == 5 || base == 5)))
                emitn(&g, rnd(), 4);
        }
        finish(&g);
    }
}

static void gen_misc(void) {
    static const uint8_t one[] = {0x98, 0x99, 0x9F, 0x9E, 0xF8, 0xF9, 0xF5,
                                  0xFC, 0xFD, 0x37, 0x3F, 0x27, 0x2F, 0xD6};
    for (unsigned k = 0; k < sizeof one; k++)
        for (int i = 0; i < 2 * K; i++) {
            struct gen g;
            begin(&g);
            if ((one[k] == 0x98 || one[k] == 0x99) && rndn(2)) emit(&g, 0x66);
            emit(&g, one[k]);
            if (rndn(2)) /* BCD-ish values in AL/AH */
                g.c.regs[R_EAX] = (g.c.regs[R_EAX] & ~0xffffu) | (rndn(16) << 12) |
                                  (rndn(16) << 8) | (rndn(16) << 4) | rndn(16);
            finish(&g);
        }
    for (int i = 0; i < 4 * K; i++) { /* AAM / AAD */
        struct gen g;
        begin(&g);
        emit(&g, rndn(2) ? 0xD4 : 0xD5);
        int k = (int)rndn(8);
        emit(&g, (uint8_t)(k < 4 ? 10 : k == 4 ? 0 : rnd()));
        finish(&g);
    }
    for (int i = 0; i < 2 * K; i++) { /* XLAT */
        struct gen g;
        begin(&g);
        if (rndn(4) == 0) emit(&g, 0x3E);
        emit(&g, 0xD7);
        g.c.regs[R_EBX] = CONF_WIN_ADDR + rndn(0x100);
        finish(&g);
    }
}

static void gen_stack(void) {
    for (int size = 16; size <= 32; size *= 2) {
        for (int i = 0; i < 2 * K; i++) { /* PUSH r / POP r */
            struct gen g;
            begin(&g);
            prefixes(&g, size, false, false);
            emit(&g, (uint8_t)((rndn(2) ? 0x50 : 0x58) + rndn(8)));
            finish(&g);
        }
        for (int mem = 0; mem < 2; mem++) {
            uint8_t ff = 0xFF, p8f = 0x8F;
            t_modrm(&ff, 1, size, 6, mem, false, 0, K);
            if (mem) {
                for (int i = 0; i < K; i++) { /* POP m: address without esp */
                    struct gen g;
                    begin(&g);
                    prefixes(&g, size, true, false);
                    emit(&g, p8f);
                    modrm_mem(&g, 0, 4);
                    finish(&g);
                }
            } else
                t_modrm(&p8f, 1, size, 0, mem, false, 0, K);
        }
        for (int i = 0; i < K; i++) {
            struct gen g;
            begin(&g);
            prefixes(&g, size, false, false);
            if (rndn(2)) {
                emit(&g, 0x68);
                imm(&g, isz(size));
            } else {
                emit(&g, 0x6A);
                imm(&g, 1);
            }
            finish(&g);
        }
        for (int op = 0; op < 4; op++) /* PUSHA POPA PUSHF POPF */
            for (int i = 0; i < K; i++) {
                struct gen g;
                begin(&g);
                prefixes(&g, size, false, false);
                static const uint8_t o[4] = {0x60, 0x61, 0x9C, 0x9D};
                emit(&g, o[op]);
                uint32_t esp = g.c.regs[R_ESP];
                if (op == 2) {
                    g.ci.mask_addr = esp - isz(size);
                    g.ci.mask_val = FL_HOSTMASK;
                }
                if (op == 3) /* POPF: arithmetic flags and DF only */
                    wdata(&g, esp, (rnd() & FL_HOSTMASK) | 0x202, isz(size));
                finish(&g);
            }
        for (int i = 0; i < K; i++) { /* LEAVE */
            struct gen g;
            begin(&g);
            prefixes(&g, size, false, false);
            emit(&g, 0xC9);
            g.c.regs[R_EBP] =
                (size == 16 ? (rnd() & 0xffff0000u) : 0) | (CONF_WIN_ADDR + 0x100 + 2 * rndn(64));
            if (size == 16)
                g.c.regs[R_EBP] = (g.c.regs[R_ESP] & 0xffff0000u) | (g.c.regs[R_EBP] & 0xffff);
            finish(&g);
        }
    }
    for (int i = 0; i < 4 * K; i++) { /* ENTER (32-bit stack) */
        struct gen g;
        begin(&g);
        emit(&g, 0xC8);
        emitn(&g, rndn(3) ? 4 * rndn(16) : rndn(64), 2);
        emit(&g, (uint8_t)(rndn(3) ? rndn(2) : rndn(5)));
        g.c.regs[R_EBP] = CONF_WIN_ADDR + 0x40 + 4 * rndn(32);
        finish(&g);
    }
}

static void gen_strings(void) {
    static const uint8_t ops[5] = {0xA4, 0xAA, 0xAC, 0xA6, 0xAE}; /* movs stos lods cmps scas */
    for (int op = 0; op < 5; op++)
        for (int size = 8; size <= 32; size *= 2)
            for (int rep = 0; rep < 3; rep++) {
                if (rep == 2 && op < 3) continue;
                for (int i = 0; i < K; i++) {
                    struct gen g;
                    begin(&g);
                    if ((op == 0 || op == 2 || op == 3) && rndn(6) == 0)
                        emit(&g, rndn(2) ? 0x26 : 0x36);
                    if (rep == 1) emit(&g, 0xF3);
                    if (rep == 2) emit(&g, 0xF2);
                    if (size == 16) emit(&g, 0x66);
                    emit(&g, (uint8_t)(ops[op] + w_bit(size)));
                    g.c.regs[R_ESI] = CONF_WIN_ADDR + 0x40 + rndn(0x100);
                    g.c.regs[R_EDI] = rndn(3) ? CONF_WIN_ADDR + 0x40 + rndn(0x100)
                                              : g.c.regs[R_ESI] + 4 * rndn(3);
                    if (rep) g.c.regs[R_ECX] = rndn(9);
                    if (op >= 3 && rndn(2)) { /* make equal runs for CMPS/SCAS */
                        uint32_t s = g.c.regs[R_ESI] - CONF_WIN_ADDR,
                                 d = g.c.regs[R_EDI] - CONF_WIN_ADDR;
                        for (int b = -40; b < 40; b++)
                            if (rndn(8) && s + b < CONF_WIN_SIZE && d + b < CONF_WIN_SIZE)
                                g.c.data[d + b] =
                                    op == 3 ? g.c.data[s + b] : (uint8_t)g.c.regs[R_EAX];
                        if (op == 4) g.c.regs[R_EAX] = 0x01010101u * (g.c.regs[R_EAX] & 0xff);
                    }
                    finish(&g);
                }
            }
}

/* A landing address for a branch, away from the instruction and its fall-through stub. */
static bool target_ok(uint32_t t, unsigned len) {
    if (t < CONF_CODE_AREA || t + CONF_STUB_SPACE > CONF_CODE_AREA + CONF_AREA_SIZE) return false;
    return t + CONF_STUB_SPACE <= CONF_CODE_ADDR || t >= CONF_CODE_ADDR + len + CONF_STUB_SPACE;
}
static uint32_t any_target(unsigned len) {
    for (;;) {
        uint32_t t = CONF_CODE_AREA + rndn(CONF_AREA_SIZE);
        if (rndn(2)) t = CONF_CODE_ADDR + len + 16 + rndn(200);
        if (target_ok(t, len)) return t;
    }
}
/* Emits rel8/rel32 so that the branch lands at a valid target. */
static void rel_branch(struct gen *g, unsigned relbytes) {
    unsigned len = g->n + relbytes;
    for (;;) {
        int32_t rel = relbytes == 1 ? (int32_t)(int8_t)rnd() : (int32_t)rndn(0xE000) - 0x7000;
        uint32_t t = CONF_CODE_ADDR + len + (uint32_t)rel;
        if (!target_ok(t, len)) continue;
        emitn(g, (uint32_t)rel, relbytes);
        g->c.target = t;
        return;
    }
}

static void gen_branches(void) {
    for (int cc = 0; cc < 16; cc++)
        for (int i = 0; i < K; i++) {
            struct gen g;
            begin(&g);
            if (i & 1) {
                emit(&g, (uint8_t)(0x70 + cc));
                rel_branch(&g, 1);
            } else {
                emit(&g, 0x0F);
                emit(&g, (uint8_t)(0x80 + cc));
                rel_branch(&g, 4);
            }
            finish(&g);
        }
    for (int k = 0; k < 3; k++) /* JMP rel8, JMP rel32, CALL rel32 */
        for (int i = 0; i < K; i++) {
            struct gen g;
            begin(&g);
            emit(&g, k == 0 ? 0xEB : k == 1 ? 0xE9 : 0xE8);
            rel_branch(&g, k == 0 ? 1 : 4);
            finish(&g);
        }
    for (int d = 2; d <= 4; d += 2) /* CALL r/m, JMP r/m */
        for (int mem = 0; mem < 2; mem++)
            for (int i = 0; i < K; i++) {
                struct gen g;
                begin(&g);
                prefixes(&g, 32, mem, false);
                emit(&g, 0xFF);
                if (mem) {
                    uint32_t a = mem_addr();
                    modrm_mem_at(&g, d, a, false);
                    uint32_t t = any_target(g.n);
                    wdata(&g, a, t, 4);
                    g.c.target = t;
                } else {
                    int rm = (int)rndn(8);
                    if (rm == R_ESP) rm = R_EAX;
                    modrm_reg(&g, d, rm);
                    g.c.target = any_target(g.n);
                    g.c.regs[rm] = g.c.target;
                }
                finish(&g);
            }
    for (int k = 0; k < 2; k++) /* RET, RET imm16 */
        for (int i = 0; i < K; i++) {
            struct gen g;
            begin(&g);
            emit(&g, k ? 0xC2 : 0xC3);
            if (k) emitn(&g, rndn(3) ? 4 * rndn(8) : rndn(40), 2);
            g.c.target = any_target(g.n);
            wdata(&g, g.c.regs[R_ESP], g.c.target, 4);
            finish(&g);
        }
    for (int op = 0; op < 4; op++) /* LOOPNE LOOPE LOOP JECXZ, with and without 0x67 */
        for (int a16 = 0; a16 < 2; a16++)
            for (int i = 0; i < K; i++) {
                struct gen g;
                begin(&g);
                if (a16) emit(&g, 0x67);
                emit(&g, (uint8_t)(0xE0 + op));
                rel_branch(&g, 1);
                static const uint32_t cx[] = {0, 1, 2, 0x10000, 0x10001, 0xffffffff, 0xffff};
                g.c.regs[R_ECX] = rndn(2) ? cx[rndn(7)] : val32();
                finish(&g);
            }
    for (int i = 0; i < K; i++) { /* LOCK on a register form and a few invalid encodings: #UD */
        struct gen g;
        begin(&g);
        int k = (int)rndn(3);
        if (k == 0) {
            emit(&g, 0xF0);
            emit(&g, 0x01);
            modrm_reg(&g, (int)rndn(8), (int)rndn(8));
        } else if (k == 1) {
            emit(&g, 0x0F);
            emit(&g, 0x0B); /* ud2 */
        } else {
            emit(&g, 0x8D); /* lea with a register operand */
            modrm_reg(&g, (int)rndn(8), (int)rndn(8));
        }
        finish(&g);
    }
}

static void generate(void) {
    gen_alu();
    gen_test_unary_muldiv();
    gen_shifts();
    gen_bits();
    gen_cc();
    gen_xchg_mov();
    gen_lea();
    gen_misc();
    gen_stack();
    gen_strings();
    gen_branches();
}

/* ---- native side ------------------------------------------------------------------------------
 */

static int run_native(const char *runner, const struct conf_case *cases, size_t ncases,
                      struct conf_result *res) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) {
        perror("conformance: pipe");
        return -1;
    }
    pid_t rp = fork();
    if (rp < 0) return -1;
    if (rp == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execl(runner, runner, (char *)NULL);
        perror("conformance: exec native runner");
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    pid_t wp = fork(); /* feeds the cases while the parent collects results */
    if (wp < 0) return -1;
    if (wp == 0) {
        close(out[0]);
        const uint8_t *p = (const uint8_t *)cases;
        size_t left = ncases * sizeof *cases;
        while (left) {
            ssize_t w = write(in[1], p, left);
            if (w < 0) {
                if (errno == EINTR) continue;
                _exit(1);
            }
            p += w;
            left -= (size_t)w;
        }
        _exit(0);
    }
    close(in[1]);
    uint8_t *p = (uint8_t *)res;
    size_t want = ncases * sizeof *res, got = 0;
    while (got < want) {
        ssize_t r = read(out[0], p + got, want - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(out[0]);
    int st1 = 0, st2 = 0;
    waitpid(wp, &st1, 0);
    waitpid(rp, &st2, 0);
    if (got != want || !WIFEXITED(st2) || WEXITSTATUS(st2) != 0) {
        fprintf(stderr, "conformance: native runner failed (%zu of %zu bytes, status 0x%x)\n", got,
                want, st2);
        return -1;
    }
    return 0;
}

/* ---- rrvm side --------------------------------------------------------------------------------
 */

static uint8_t g_zero[CONF_AREA_SIZE];

static void run_rrvm(struct machine *m, const struct conf_case *c, int block,
                     struct conf_result *r) {
    static const uint8_t ud2[2] = {0x0F, 0x0B};
    uint32_t fall = CONF_CODE_ADDR + c->len;
    guest_write(m, CONF_CODE_ADDR, c->code, c->len);
    guest_write(m, fall, ud2, 2);
    if (c->target) guest_write(m, c->target, ud2, 2);
    memcpy(m->ram + CONF_WIN_ADDR, c->data, CONF_WIN_SIZE);

    memcpy(m->cpu.gpr, c->regs, sizeof c->regs);
    m->cpu.eip = CONF_CODE_ADDR;
    cpu_set_eflags(&m->cpu, (c->eflags & FL_HOSTMASK) | 0x2);
    m->cpu.icount = 0;
    m->icount_limit = 10000;
    m->max_block_insns = block;
    m->exited = false;
    m->fault_vector = -1;
    m->error[0] = 0;
    enum run_result rr = machine_run(m);

    memset(r, 0, sizeof *r);
    memcpy(r->regs, m->cpu.gpr, sizeof r->regs);
    r->eflags = cpu_get_eflags(&m->cpu);
    if (rr == RUN_GUEST_FAULT) {
        if (m->fault_vector == VEC_UD &&
            (m->fault_eip == fall || (c->target && m->fault_eip == c->target))) {
            r->fault = CONF_FAULT_NONE;
        } else {
            r->fault = m->fault_vector == VEC_DE || m->fault_vector == VEC_UD ? m->fault_vector
                                                                              : CONF_FAULT_OTHER;
        }
        r->eip = m->fault_eip;
    } else {
        r->fault = 1000 + (int)rr; /* never matches a native result */
        r->eip = m->cpu.eip;
    }
    memcpy(r->data, m->ram + CONF_WIN_ADDR, CONF_WIN_SIZE);
    memset(m->ram + CONF_WIN_ADDR, 0, CONF_WIN_SIZE);
    if (memcmp(m->ram + CONF_DATA_ADDR, g_zero, CONF_AREA_SIZE) != 0) {
        r->outside_dirty = 1;
        memset(m->ram + CONF_DATA_ADDR, 0, CONF_AREA_SIZE);
    }
    static const uint8_t zeros[32];
    guest_write(m, CONF_CODE_ADDR, zeros, c->len + 2);
    if (c->target) guest_write(m, c->target, zeros, 2);
}

/* ---- comparison --------------------------------------------------------------------------------
 */

static bool same(const struct conf_case *c, const struct cinfo *ci, const struct conf_result *a,
                 const struct conf_result *b, char *why, size_t whylen) {
    (void)c;
    if (a->fault != b->fault) {
        snprintf(why, whylen, "fault %d vs %d", a->fault, b->fault);
        return false;
    }
    if (a->eip != b->eip) {
        snprintf(why, whylen, "eip");
        return false;
    }
    if (memcmp(a->regs, b->regs, sizeof a->regs) != 0) {
        snprintf(why, whylen, "registers");
        return false;
    }
    if (((a->eflags ^ b->eflags) & ci->flagmask) != 0) {
        snprintf(why, whylen, "eflags (mask 0x%x)", ci->flagmask);
        return false;
    }
    if (a->outside_dirty != b->outside_dirty) {
        snprintf(why, whylen, "data outside the window");
        return false;
    }
    for (unsigned i = 0; i < CONF_WIN_SIZE; i++) {
        if (a->data[i] == b->data[i]) continue;
        uint32_t addr = CONF_WIN_ADDR + i;
        if (ci->mask_val && addr >= ci->mask_addr && addr < ci->mask_addr + 4) {
            uint8_t mb = (uint8_t)(ci->mask_val >> (8 * (addr - ci->mask_addr)));
            if (((a->data[i] ^ b->data[i]) & mb) == 0) continue;
        }
        snprintf(why, whylen, "data at 0x%08x: %02x vs %02x", addr, a->data[i], b->data[i]);
        return false;
    }
    return true;
}

/* True if an explicit register operand the instruction writes is also a base/index of one
 * of its memory operands: the next copy would then address memory outside the window
 * (nondeterministically, natively). Implicit updates (push/pop ESP, string ESI/EDI) are
 * small steps and stay inside. */
static bool addr_reg_written(const struct insn *in) {
    for (int i = 0; i < in->zi.operand_count; i++) {
        const ZydisDecodedOperand *w = &in->op[i];
        if (w->type != ZYDIS_OPERAND_TYPE_REGISTER ||
            !(w->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) ||
            w->visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN)
            continue;
        ZydisRegister wr =
            ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LEGACY_32, w->reg.value);
        for (int j = 0; j < in->zi.operand_count; j++) {
            const ZydisDecodedOperand *mo = &in->op[j];
            if (mo->type != ZYDIS_OPERAND_TYPE_MEMORY) continue;
            if (ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LEGACY_32, mo->mem.base) ==
                    wr ||
                ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LEGACY_32, mo->mem.index) == wr)
                return true;
        }
    }
    return false;
}

static void print_result(const char *who, const struct conf_result *r) {
    printf("    %-6s eax=%08x ecx=%08x edx=%08x ebx=%08x esp=%08x ebp=%08x esi=%08x edi=%08x\n"
           "           eflags=%08x eip=%08x fault=%d outside_dirty=%u\n",
           who, r->regs[0], r->regs[1], r->regs[2], r->regs[3], r->regs[4], r->regs[5], r->regs[6],
           r->regs[7], r->eflags, r->eip, r->fault, r->outside_dirty);
}

static void describe(const struct conf_case *c, char *buf, size_t len) {
    struct insn in;
    if (insn_decode(&in, c->code, c->len, CONF_CODE_ADDR) != 0) {
        snprintf(buf, len, "(invalid)");
        return;
    }
    insn_format(&in, buf, len);
}

struct mstat {
    char name[32];
    unsigned long n;
};

int main(int argc, char **argv) {
    const char *runner = NULL;
    uint64_t seed = 1;
    bool native_only = false, verbose = false, no_fork = false, mutate = false;
    size_t max_cases = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--native-only"))
            native_only = true;
        else if (!strcmp(argv[i], "--max") && i + 1 < argc)
            max_cases = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--verbose"))
            verbose = true;
        else if (!strcmp(argv[i], "--no-fork"))
            no_fork = true; /* debugging under gdb */
        else if (!strcmp(argv[i], "--mutate"))
            mutate = true; /* self-test: every run must mismatch */
        else if (!runner)
            runner = argv[i];
        else
            seed = strtoull(argv[i], NULL, 0);
    }
    if (!runner) {
        fprintf(stderr, "usage: conformance NATIVE_RUNNER [SEED] [--native-only] [--verbose] "
                        "[--max N] [--no-fork] [--mutate]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    g_rng = seed * 0x9E3779B97F4A7C15ull + 0x1234567ull;
    if (!g_rng) g_rng = 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    generate();
    if (max_cases && max_cases < g_ncases) { /* debugging aid: an evenly spread subset */
        size_t step = g_ncases / max_cases, k = 0;
        for (size_t i = 0; i < g_ncases && k < max_cases; i += step, k++) {
            g_cases[k] = g_cases[i];
            g_info[k] = g_info[i];
        }
        g_ncases = k;
    }
    size_t n = g_ncases;
    struct conf_result *nat = calloc(n, sizeof *nat);
    if (!nat) return 2;
    if (run_native(runner, g_cases, n, nat) != 0) return 2;
    unsigned long nfault[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++)
        nfault[nat[i].fault == CONF_FAULT_NONE ? 0 : nat[i].fault == CONF_FAULT_OTHER ? 2 : 1]++;
    printf("conformance: seed %llu, %zu cases generated; native: %lu completed, %lu #DE/#UD, "
           "%lu other faults\n",
           (unsigned long long)seed, n, nfault[0], nfault[1], nfault[2]);
    if (native_only) {
        for (size_t i = 0; i < n && verbose; i++) {
            char d[128];
            describe(&g_cases[i], d, sizeof d);
            printf("%-40s ", d);
            print_result("native", &nat[i]);
        }
        free(nat);
        free(g_cases);
        free(g_info);
        return nfault[2] ? 1 : 0;
    }

    /* Block-size pass: three copies of each eligible instruction in one translated block
     * (no control transfer, no fault, at most 5 bytes, and no flag input that the
     * instruction itself may leave undefined), compared natively and in rrvm. */
    size_t nsingle = n;
    {
        size_t cap = 2 * n;
        g_cases = realloc(g_cases, cap * sizeof *g_cases);
        g_info = realloc(g_info, cap * sizeof *g_info);
        if (!g_cases || !g_info) return 2;
        size_t nt = 0;
        g_conservative = true;
        for (size_t i = 0; i < nsingle; i++) {
            const struct conf_case *c = &g_cases[i];
            if (c->target || nat[i].fault != CONF_FAULT_NONE || c->len > 5) continue;
            if (g_info[i].mask_val) continue; /* PUSHF: only one masked dword */
            struct insn in;
            if (insn_decode(&in, c->code, c->len, CONF_CODE_ADDR) != 0) continue;
            if (in.zi.meta.category == ZYDIS_CATEGORY_COND_BR ||
                in.zi.meta.category == ZYDIS_CATEGORY_UNCOND_BR ||
                in.zi.meta.category == ZYDIS_CATEGORY_CALL ||
                in.zi.meta.category == ZYDIS_CATEGORY_RET)
                continue;
            if (in.zi.cpu_flags && (in.zi.cpu_flags->tested & in.zi.cpu_flags->undefined)) continue;
            if (in.zi.mnemonic == ZYDIS_MNEMONIC_LEAVE || in.zi.mnemonic == ZYDIS_MNEMONIC_ENTER)
                continue; /* the next copy would use a frame pointer loaded from data */
            if (addr_reg_written(&in)) continue;
            struct gen g;
            memset(&g, 0, sizeof g);
            g.c = *c;
            for (int k = 0; k < 3; k++)
                memcpy(g.c.code + k * c->len, c->code, c->len);
            g.n = c->len; /* flag_mask decodes the first copy */
            g.ci = g_info[i];
            g.ci.flagmask = flag_mask(&g);
            g.c.len = 3 * c->len;
            g_cases[nsingle + nt] = g.c;
            g_info[nsingle + nt] = g.ci;
            nt++;
        }
        g_conservative = false;
        nat = realloc(nat, (nsingle + nt) * sizeof *nat);
        if (!nat || run_native(runner, g_cases + nsingle, nt, nat + nsingle) != 0) return 2;
        /* drop triples that leave the data window natively (a changed base register) */
        size_t keep = 0;
        for (size_t j = 0; j < nt; j++) {
            const struct conf_result *r = &nat[nsingle + j];
            if (r->fault != CONF_FAULT_NONE || r->outside_dirty) continue;
            g_cases[nsingle + keep] = g_cases[nsingle + j];
            g_info[nsingle + keep] = g_info[nsingle + j];
            nat[nsingle + keep] = nat[nsingle + j];
            keep++;
        }
        g_ncases = n = nsingle + keep;
        printf("conformance: %zu three-copy block cases (of %zu eligible)\n", keep, nt);
    }

    /* rrvm runs in a forked worker with a per-case watchdog, so that a translator crash or
     * hang costs one case, not the suite. Results go to shared memory. Run index
     * k = pass * n + case. After three crashes/hangs of one mnemonic, the worker skips the
     * rest of that mnemonic (counted as mismatches). */
    /* run k: k < nsingle: case k at block size 1; else case k - nsingle at the default
     * block size (the single cases again, then the triples) */
    size_t total = nsingle + n;
#define CASE_OF(k) ((k) < nsingle ? (k) : (k)-nsingle)
#define BLOCK_OF(k) ((k) < nsingle ? 1 : 0)
    struct conf_result *rres =
        mmap(NULL, total * sizeof *rres, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    uint8_t *skip = mmap(NULL, total + sizeof(size_t), PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    char(*errs)[96] =
        mmap(NULL, total * 96, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    size_t *progress = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (rres == MAP_FAILED || skip == MAP_FAILED || progress == MAP_FAILED || errs == MAP_FAILED) {
        perror("conformance: mmap");
        return 2;
    }
    static struct mstat crashes[512];
    int ncrashes = 0;
    unsigned long nworker_deaths = 0;
    size_t start = 0;
    bool any_completed = false;
    while (start < total) {
        if (nworker_deaths >= 10 && !any_completed) {
            /* rrvm does not get through a single case: do not wait for every watchdog */
            printf("conformance: rrvm crashed or hung on the first %lu runs attempted and "
                   "completed none; the remaining runs are not attempted\n",
                   nworker_deaths);
            for (size_t j = start; j < total; j++)
                skip[j] = 1;
            for (size_t j = start; j < total; j++) {
                memset(&rres[j], 0, sizeof rres[j]);
                rres[j].fault = 2000;
            }
            break;
        }
        *progress = start;
        pid_t w = no_fork ? 0 : fork();
        if (w < 0) {
            perror("conformance: fork");
            return 2;
        }
        if (w == 0) {
            char err[256];
            struct machine *m = machine_create(16, err, sizeof err);
            if (!m) {
                fprintf(stderr, "conformance: %s\n", err);
                _exit(3);
            }
            for (size_t k = start; k < total; k++) {
                *progress = k;
                if (skip[k]) {
                    memset(&rres[k], 0, sizeof rres[k]);
                    rres[k].fault = 2000; /* not run */
                    continue;
                }
                struct itimerval it = {{0, 0}, {0, no_fork ? 0 : 250000}};
                setitimer(ITIMER_REAL, &it, NULL);
                run_rrvm(m, &g_cases[CASE_OF(k)], BLOCK_OF(k), &rres[k]);
                if (mutate) rres[k].regs[k % 8] ^= 1u << (k % 32);
                if (rres[k].fault == 1000 + RUN_MONITOR_ERROR) {
                    snprintf(errs[k], sizeof errs[k], "%.95s", m->error);
                    machine_destroy(m); /* start from a clean machine */
                    m = machine_create(16, err, sizeof err);
                    if (!m) _exit(3);
                }
            }
            struct itimerval off = {{0, 0}, {0, 0}};
            setitimer(ITIMER_REAL, &off, NULL);
            if (verbose) machine_print_stats(m, stderr); /* since the last machine reset */
            machine_destroy(m);
            if (no_fork) break;
            _exit(0);
        }
        int st = 0;
        waitpid(w, &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) break;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 3) return 2;
        size_t k = *progress;
        if (k > start) any_completed = true;
        nworker_deaths++;
        memset(&rres[k], 0, sizeof rres[k]);
        rres[k].fault = WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM
                            ? 3000
                            : 4000 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        struct insn in;
        const char *mn =
            insn_decode(&in, g_cases[CASE_OF(k)].code, g_cases[CASE_OF(k)].len, CONF_CODE_ADDR) == 0
                ? ZydisMnemonicGetString(in.zi.mnemonic)
                : "(invalid)";
        int s;
        for (s = 0; s < ncrashes; s++)
            if (!strcmp(crashes[s].name, mn)) break;
        if (s == ncrashes && ncrashes < 512) snprintf(crashes[ncrashes++].name, 32, "%s", mn);
        if (s < ncrashes && ++crashes[s].n == 3) {
            for (size_t j = k + 1; j < total; j++) {
                struct insn jn;
                if (insn_decode(&jn, g_cases[CASE_OF(j)].code, g_cases[CASE_OF(j)].len,
                                CONF_CODE_ADDR) == 0 &&
                    jn.zi.mnemonic == in.zi.mnemonic)
                    skip[j] = 1;
            }
        }
        start = k + 1;
    }
    if (nworker_deaths) {
        printf("rrvm crashed or hung (fault 3000 = 0.25 s watchdog, 4000+N = signal N) %lu times:",
               nworker_deaths);
        for (int s = 0; s < ncrashes; s++)
            printf(" %s=%lu", crashes[s].name, crashes[s].n);
        printf("\n(after 3 crashes/hangs the rest of a mnemonic is not run: fault 2000)\n");
    }

    unsigned long runs = 0, bad = 0, printed = 0;
    static struct mstat stats[512];
    int nstats = 0;
    {
        for (size_t k = 0; k < total; k++) {
            size_t i = CASE_OF(k);
            const struct conf_case *c = &g_cases[i];
            const struct conf_result *rv = &rres[k];
            runs++;
            char why[96];
            if (same(c, &g_info[i], &nat[i], rv, why, sizeof why)) continue;
            bad++;
            char d[128];
            describe(c, d, sizeof d);
            struct insn in;
            const char *mn = insn_decode(&in, c->code, c->len, CONF_CODE_ADDR) == 0
                                 ? ZydisMnemonicGetString(in.zi.mnemonic)
                                 : "(invalid)";
            int s;
            for (s = 0; s < nstats; s++)
                if (!strcmp(stats[s].name, mn)) break;
            if (s == nstats && nstats < 512) snprintf(stats[nstats++].name, 32, "%s", mn);
            if (s < nstats) stats[s].n++;
            /* the first three mismatches of each mnemonic, at most 300 in all */
            if ((rv->fault != 2000 && s < nstats && stats[s].n <= 3 && printed++ < 300) ||
                verbose) {
                printf("MISMATCH case %zu (%s): %s  [", i,
                       i >= nsingle  ? "3 copies, default block size"
                       : BLOCK_OF(k) ? "block size 1"
                                     : "default block size",
                       d);
                for (unsigned k = 0; k < c->len; k++)
                    printf("%s%02x", k ? " " : "", c->code[k]);
                printf("]: %s\n", why);
                printf("    input  eax=%08x ecx=%08x edx=%08x ebx=%08x esp=%08x ebp=%08x esi=%08x "
                       "edi=%08x\n"
                       "           eflags=%08x target=%08x\n",
                       c->regs[0], c->regs[1], c->regs[2], c->regs[3], c->regs[4], c->regs[5],
                       c->regs[6], c->regs[7], c->eflags, c->target);
                print_result("native", &nat[i]);
                print_result("rrvm", rv);
                if (errs[k][0]) printf("    rrvm error: %s\n", errs[k]);
            }
        }
    }
    if (bad) {
        printf("(fault codes: -1 none, 0 #DE, 6 #UD, 255 other, 1000+N machine_run returned N, "
               "2000 not run, 3000 rrvm hung, 4000+N rrvm died of signal N)\n");
        printf("mismatches by mnemonic:");
        for (int s = 0; s < nstats; s++)
            printf(" %s=%lu", stats[s].name, stats[s].n);
        printf("\n");
    }
    printf("conformance: %zu cases (%zu single-instruction cases at block sizes 1 and default, "
           "%zu three-copy blocks; %lu runs), %lu mismatches\n",
           n, nsingle, n - nsingle, runs, bad);
    free(nat);
    free(g_cases);
    free(g_info);
    munmap(rres, total * sizeof *rres);
    munmap(skip, total + sizeof(size_t));
    munmap(errs, total * 96);
    munmap(progress, 4096);
    if (nsingle < 100000) {
        printf("conformance: too few cases (%zu < 100000)\n", nsingle);
        return 1;
    }
    return bad ? 1 : 0;
}
