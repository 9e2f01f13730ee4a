/* rrvm: the command-line front end.
 *
 *   rrvm run -kernel FILE [-m MB] [-append STR] [-initrd LIST] [--stats] [--icount-limit N]
 *
 * Parses the command line, builds a machine (hv/machine.h), loads a multiboot kernel into it
 * (hv/loader_multiboot.h), runs it with COM1 on standard output, and turns the reason the
 * run ended into an exit status (see usage() below: the codes are part of the interface and
 * tests depend on them). Every usage or setup error is one line "rrvm: <problem>" on stderr
 * and exit status 2, so scripts and tests can match it.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/loader_multiboot.h"
#include <time.h>
#include <unistd.h>
#include "hv/machine.h"

#define RRVM_VERSION "0.1.0"

/* Exit statuses of `rrvm run` (besides the guest's own isa-debug-exit status). */
enum {
    STATUS_USAGE = 2,    /* bad command line, or the kernel could not be loaded */
    STATUS_FAULT = 3,    /* triple fault */
    STATUS_ICOUNT = 4,   /* --icount-limit reached */
    STATUS_HALTED = 5,   /* halted for good */
    STATUS_MONITOR = 70, /* internal monitor error (EX_SOFTWARE) */
};

#define DEFAULT_RAM_MB 128u /* as qemu-system-i386 */
#define MAX_RAM_MB 3072u    /* the rrvm PC has at most 3 GiB of RAM */

static void usage(FILE *out) {
    fputs("usage: rrvm run -kernel FILE [-m MB] [-append STR] [-initrd LIST]\n"
          "                [--stats] [--icount-limit N]\n"
          "       rrvm record|replay|trace ...   (not implemented yet)\n"
          "       rrvm --help | --version\n"
          "\n"
          "Runs a 32-bit x86 multiboot (v1) ELF kernel, as `qemu-system-i386 -kernel` would,\n"
          "by dynamic binary translation. The guest's COM1 serial port is standard output.\n"
          "\n"
          "options of `run` (one or two leading dashes; --opt=VALUE also works):\n"
          "  -kernel FILE       multiboot ELF kernel to boot (required)\n"
          "  -m MB              guest RAM in MiB, 1..3072 (default 128; M or G suffix allowed)\n"
          "  -append STR        kernel command line (the guest sees \"FILE STR\", as QEMU's)\n"
          "  -initrd LIST       multiboot modules: \"FILE[ ARGS][,FILE[ ARGS]...]\"\n"
          "  --stats            print translation and exit statistics to stderr at the end\n"
          "  --icount-limit N   stop after N guest instructions (0 = no limit)\n"
          "  --clock=host|virtual\n"
          "                     guest time (PIT, RTC, TSC) follows the host clock (default), or\n"
          "                     is derived from the instruction count: a reproducible run\n"
          "  --on-triple-fault=exit|reset\n"
          "                     on a triple fault, report it and exit 3 (default) or reboot\n"
          "\n"
          "COM1 input comes from standard input (raw mode on a terminal; Ctrl-A x quits,\n"
          "Ctrl-A Ctrl-A sends Ctrl-A).\n"
          "\n"
          "exit status of `run`:\n"
          "  S    the guest wrote v to isa-debug-exit (port 0xf4): S = ((v << 1) | 1) & 255,\n"
          "       as under QEMU; this status is always odd, so 3 and 5 below can also come\n"
          "       from the guest: the one-line message on stderr tells them apart\n"
          "  2    usage error, or the kernel could not be loaded (one line on stderr)\n"
          "  3    triple fault (\"rrvm: triple fault: guest #GP at eip=...\")\n"
          "  4    --icount-limit reached\n"
          "  5    guest halted and nothing can wake it\n"
          "  70   internal monitor error\n"
          "If standard output is closed early (e.g. `rrvm run ... | head`), rrvm ends on\n"
          "SIGPIPE as other filters do.\n",
          out);
}

/* Prints "rrvm: <message>" as one line on stderr and exits with status 2. */
static _Noreturn void fail_usage(const char *fmt, ...) {
    va_list ap;
    fputs("rrvm: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(STATUS_USAGE);
}

/* Same, for a message produced by another module: never lets it span several lines. */
static _Noreturn void fail_with_text(const char *what, const char *text) {
    char line[512];
    snprintf(line, sizeof line, "%s", (text && text[0]) ? text : "unknown error");
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == ' ')
        line[--n] = '\0';
    if (what) fail_usage("%s: %s", what, line);
    fail_usage("%s", line);
}

/* Parses a decimal unsigned 64-bit number; false if text is not one (empty, sign, junk,
 * overflow). *rest gets the first unparsed character when rest is non-NULL (suffixes). */
static bool parse_u64(const char *text, uint64_t *value, const char **rest) {
    if (text[0] < '0' || text[0] > '9') return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno == ERANGE) return false;
    if (rest)
        *rest = end;
    else if (*end != '\0')
        return false;
    *value = v;
    return true;
}

/* -m: MiB, optionally with an M/MB/MiB or G/GB/GiB suffix as QEMU accepts. */
static uint32_t parse_ram_mb(const char *flag, const char *text) {
    uint64_t v;
    const char *rest;
    if (!parse_u64(text, &v, &rest)) fail_usage("%s: '%s' is not a number of MiB", flag, text);
    uint64_t scale = 1;
    if (*rest == 'G' || *rest == 'g') {
        scale = 1024;
        rest++;
    } else if (*rest == 'M' || *rest == 'm') {
        rest++;
    }
    if (*rest != '\0' && strcmp(rest, "B") != 0 && strcmp(rest, "iB") != 0)
        fail_usage("%s: '%s' is not a number of MiB", flag, text);
    if (v > MAX_RAM_MB || v * scale < 1 || v * scale > MAX_RAM_MB)
        fail_usage("%s: '%s' is out of range (1..%u MiB)", flag, text, MAX_RAM_MB);
    return (uint32_t)(v * scale);
}

struct run_options {
    const char *kernel;
    const char *append;
    const char *initrd;
    uint32_t ram_mb;
    uint64_t icount_limit;
    bool stats;
    enum clock_mode clock;
    bool reset_on_triple_fault;
};

/* Name of a flag without its leading dashes: "--kernel" and "-kernel" are the same. */
static const char *flag_name(const char *arg) {
    if (arg[0] == '-' && arg[1] == '-') return arg + 2;
    return arg + 1;
}

static void parse_run_args(int argc, char **argv, struct run_options *o) {
    o->kernel = NULL;
    o->append = "";
    o->initrd = NULL;
    o->ram_mb = DEFAULT_RAM_MB;
    o->icount_limit = 0;
    o->stats = false;
    o->clock = CLOCK_HOST;
    o->reset_on_triple_fault = false;

    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] == '\0')
            fail_usage("unexpected argument '%s' (see rrvm --help)", arg);

        /* Split "--name=value"; "-name value" takes the next argument. */
        char name[64];
        const char *inline_value = NULL;
        const char *bare = flag_name(arg);
        const char *eq = (arg[1] == '-') ? strchr(bare, '=') : NULL;
        size_t len = eq ? (size_t)(eq - bare) : strlen(bare);
        if (len == 0 || len >= sizeof name)
            fail_usage("unknown option '%s' (see rrvm --help)", arg);
        memcpy(name, bare, len);
        name[len] = '\0';
        if (eq) inline_value = eq + 1;

        bool takes_value = true;
        if (!strcmp(name, "help") || !strcmp(name, "h")) {
            if (inline_value) fail_usage("option '%.*s' takes no value", (int)(eq - arg), arg);
            usage(stdout);
            exit(0);
        } else if (!strcmp(name, "stats")) {
            if (inline_value) fail_usage("option '%.*s' takes no value", (int)(eq - arg), arg);
            o->stats = true;
            takes_value = false;
        } else if (strcmp(name, "kernel") && strcmp(name, "m") && strcmp(name, "append") &&
                   strcmp(name, "initrd") && strcmp(name, "icount-limit") &&
                   strcmp(name, "clock") && strcmp(name, "on-triple-fault")) {
            fail_usage("unknown option '%s' (see rrvm --help)", arg);
        }
        if (!takes_value) continue;

        const char *value = inline_value;
        if (!value) {
            if (i + 1 >= argc) fail_usage("option '%s' needs a value", arg);
            value = argv[++i];
        }

        if (!strcmp(name, "kernel")) {
            if (value[0] == '\0') fail_usage("option '%s' needs a file name", arg);
            o->kernel = value;
        } else if (!strcmp(name, "m")) {
            o->ram_mb = parse_ram_mb(arg, value);
        } else if (!strcmp(name, "append")) {
            o->append = value;
        } else if (!strcmp(name, "initrd")) {
            o->initrd = value[0] ? value : NULL;
        } else if (!strcmp(name, "clock")) {
            if (!strcmp(value, "host"))
                o->clock = CLOCK_HOST;
            else if (!strcmp(value, "virtual"))
                o->clock = CLOCK_VIRTUAL;
            else
                fail_usage("%s: '%s' is not 'host' or 'virtual'", arg, value);
        } else if (!strcmp(name, "on-triple-fault")) {
            if (!strcmp(value, "exit"))
                o->reset_on_triple_fault = false;
            else if (!strcmp(value, "reset"))
                o->reset_on_triple_fault = true;
            else
                fail_usage("%s: '%s' is not 'exit' or 'reset'", arg, value);
        } else { /* icount-limit */
            if (!parse_u64(value, &o->icount_limit, NULL))
                fail_usage("%s: '%s' is not a non-negative integer", arg, value);
        }
    }
    if (!o->kernel) fail_usage("run: missing -kernel FILE (see rrvm --help)");
}

/* Prints one line for a message from the monitor, whatever it contains. */
static void print_one_line(const char *prefix, const char *text) {
    fputs(prefix, stderr);
    if (!text || !text[0]) text = "(no message)";
    for (const char *p = text; *p; p++)
        fputc((*p == '\n' || *p == '\r') ? ' ' : *p, stderr);
    fputc('\n', stderr);
}

/* The RTC of a --clock=virtual run always starts at this instant (2026-01-01 00:00:00 UTC),
 * so that the guest sees the same date every time. */
#define VIRTUAL_EPOCH 1767225600

static struct machine *boot(const struct run_options *o) {
    char err[512] = "";
    struct machine *m = machine_create(o->ram_mb, err, sizeof err);
    if (!m) fail_with_text("cannot create the machine", err);
    m->serial_out = stdout;
    uart16550_init(&m->com1, stdout);
    err[0] = '\0';
    if (multiboot_load(m, o->kernel, o->append, o->initrd, err, sizeof err) != 0) {
        machine_destroy(m);
        if (err[0] && strstr(err, o->kernel)) fail_with_text(NULL, err);
        fail_with_text(o->kernel, err);
    }
    m->icount_limit = o->icount_limit;
    machine_power_on(m, o->clock, o->clock == CLOCK_VIRTUAL ? VIRTUAL_EPOCH : (int64_t)time(NULL));
    machine_attach_console(m);
    return m;
}

static int cmd_run(int argc, char **argv) {
    struct run_options o;
    parse_run_args(argc, argv, &o);

    struct machine *m = boot(&o);
    enum run_result r;
    for (;;) {
        r = machine_run(m);
        bool reset = r == RUN_RESET || (r == RUN_GUEST_FAULT && o.reset_on_triple_fault);
        if (!reset) break;
        /* a reset: the same kernel boots again on a fresh machine, as after a reboot */
        fflush(stdout);
        if (r == RUN_GUEST_FAULT)
            print_one_line("rrvm: resetting after ", m->error);
        else
            fputs("rrvm: guest requested a reset\n", stderr);
        machine_destroy(m);
        m = boot(&o);
    }

    /* Guest output first, so that it is complete before any message about how it ended. */
    if (fflush(stdout) != 0 || ferror(stdout))
        fputs("rrvm: warning: some of the guest's serial output could not be written\n", stderr);
    if (o.stats) machine_print_stats(m, stderr);

    int status;
    switch (r) {
    case RUN_EXIT_DEVICE: status = m->exit_status & 0xff; break;
    case RUN_GUEST_FAULT:
        print_one_line("rrvm: ", m->error);
        status = STATUS_FAULT;
        break;
    case RUN_ICOUNT_LIMIT:
        fprintf(stderr, "rrvm: icount limit %llu reached at eip=0x%08" PRIx32 "\n",
                (unsigned long long)o.icount_limit, m->cpu.eip);
        status = STATUS_ICOUNT;
        break;
    case RUN_HALTED:
        if (m->error[0])
            print_one_line("rrvm: ", m->error);
        else
            fprintf(stderr,
                    "rrvm: guest halted with interrupts disabled at eip=0x%08" PRIx32
                    " icount=%llu\n",
                    m->cpu.eip, (unsigned long long)m->cpu.icount);
        status = STATUS_HALTED;
        break;
    case RUN_USER_QUIT:
        fputs("rrvm: quit (Ctrl-A x)\n", stderr);
        status = 0;
        break;
    case RUN_MONITOR_ERROR:
        print_one_line("rrvm: monitor error: ", m->error);
        status = STATUS_MONITOR;
        break;
    default:
        fprintf(stderr, "rrvm: monitor error: unexpected run result %d\n", (int)r);
        status = STATUS_MONITOR;
        break;
    }
    fflush(stderr);
    machine_destroy(m);
    return status;
}

int main(int argc, char **argv) {
    /* A closed standard output (`rrvm run ... | head`) ends rrvm as it ends any filter,
     * even when the parent left SIGPIPE ignored: otherwise a guest that never exits would
     * keep running with nowhere to write. */
    signal(SIGPIPE, SIG_DFL);
    /* The serial console is line-buffered even into a pipe or file, so a run killed by a
     * timeout still shows what the guest printed up to then. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (argc < 2) {
        usage(stderr);
        return STATUS_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-version")) {
        puts("rrvm " RRVM_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "run")) return cmd_run(argc - 2, argv + 2);
    if (!strcmp(cmd, "record") || !strcmp(cmd, "replay") || !strcmp(cmd, "trace")) {
        fprintf(stderr, "rrvm: '%s' is not implemented yet\n", cmd);
        return STATUS_USAGE;
    }
    if (cmd[0] == '-') fail_usage("unknown option '%s' (see rrvm --help)", cmd);
    fail_usage("unknown command '%s' (see rrvm --help)", cmd);
}
