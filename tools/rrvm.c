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

#include "hv/loader_linux.h"
#include "hv/loader_multiboot.h"
#include <time.h>
#include <zstd.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hv/machine.h"
#include "formats/trace_file.h"
#include "gdbserver/gdbstub.h"
#include "record/recorder.h"
#include "replay/replayer.h"

#include "hv/version.h"
#define RRVM_VERSION RRVM_VERSION_STRING

/* Exit statuses of `rrvm run` (besides the guest's own isa-debug-exit status). */
enum {
    STATUS_USAGE = 2,     /* bad command line, or the kernel could not be loaded */
    STATUS_FAULT = 3,     /* triple fault */
    STATUS_ICOUNT = 4,    /* --icount-limit reached */
    STATUS_HALTED = 5,    /* halted for good */
    STATUS_DIVERGED = 6,  /* replay left the recorded path, or the trace is damaged */
    STATUS_TRUNCATED = 7, /* replay reached the end of a trace whose recorder was stopped */
    STATUS_STOPPED = 8,   /* SIGINT/SIGTERM */
    STATUS_RESET = 10,    /* the guest reset the machine and it was not rebooted */
    STATUS_MONITOR = 70,  /* internal monitor error (EX_SOFTWARE) */
};

#define DEFAULT_RAM_MB 128u /* as qemu-system-i386 */
#define MAX_RAM_MB 3072u    /* the rrvm PC has at most 3 GiB of RAM */

static void usage(FILE *out) {
    fputs("usage: rrvm run -kernel FILE [-m MB] [-append STR] [-initrd LIST]\n"
          "                [--stats] [--icount-limit N] [--no-reboot]\n"
          "       rrvm record -o FILE [--symbols ELF] [run options]\n"
          "       rrvm replay FILE [--until ICOUNT] [--quiet] [--stats]\n"
          "       rrvm replay FILE --gdb-port PORT | --gdb-pipe   (serve gdb, reverse too)\n"
          "       rrvm replay FILE --gdb [--symbols ELF]   (run gdb on it; the default on a tty)\n"
          "       rrvm trace info|verify FILE\n"
          "       rrvm trace dump FILE [--from N] [--to M] [--kind port_in|interrupt|tsc|...]\n"
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
          "  --gdb[=PORT]       start halted and serve gdb on 127.0.0.1:PORT (default 1234)\n"
          "  --clock=host|virtual\n"
          "                     guest time (PIT, RTC, TSC) follows the host clock (default), or\n"
          "                     is derived from the instruction count: a reproducible run\n"
          "  --on-triple-fault=exit|reset\n"
          "                     on a triple fault, report it and exit 3 (default) or reset\n"
          "                     the machine (a reboot, or the end of the run with --no-reboot)\n"
          "  --no-reboot        when the guest resets the machine (ACPI reset register, i8042,\n"
          "                     --on-triple-fault=reset), end the run with status 10 instead of\n"
          "                     booting the kernel again, as QEMU's -no-reboot\n"
          "\n"
          "COM1 input comes from standard input (raw mode on a terminal; Ctrl-A x quits,\n"
          "Ctrl-A Ctrl-A sends Ctrl-A).\n"
          "\n"
          "exit status of `run`:\n"
          "  S    the guest wrote v to isa-debug-exit (port 0xf4): S = ((v << 1) | 1) & 255,\n"
          "       as under QEMU; this status is always odd, so 3 and 5 below can also come\n"
          "       from the guest: the one-line message on stderr tells them apart\n"
          "  0    the guest powered off (ACPI S5: \"rrvm: guest powered off\"), or Ctrl-A x\n"
          "  2    usage error, or the kernel could not be loaded (one line on stderr)\n"
          "  3    triple fault (\"rrvm: triple fault: guest #GP at eip=...\")\n"
          "  4    --icount-limit reached\n"
          "  5    guest halted and nothing can wake it\n"
          "  10   the guest reset the machine (\"rrvm: guest requested a reset\") and rrvm\n"
          "       did not reboot it: --no-reboot, or `record`, whose trace ends at a reset\n"
          "  70   internal monitor error\n"
          "If standard output is closed early (e.g. `rrvm run ... | head`), rrvm ends on\n"
          "SIGPIPE as other filters do.\n"
          "\n"
          "environment: RRVM_CHECKPOINT_MB=N bounds the memory of replay checkpoints under\n"
          "gdb (default 1024).\n",
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
    bool no_reboot; /* a guest reset ends the run (STATUS_RESET) instead of rebooting */
    int gdb_port;   /* 0: no gdb */
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
    o->no_reboot = false;
    o->gdb_port = 0;

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
        } else if (!strcmp(name, "gdb")) {
            /* --gdb or --gdb=PORT: start halted, serve gdb on 127.0.0.1 */
            uint64_t port = 1234;
            if (inline_value &&
                (!parse_u64(inline_value, &port, NULL) || port == 0 || port > 65535))
                fail_usage("--gdb=%s: not a TCP port number (1..65535)", inline_value);
            o->gdb_port = (int)port;
            takes_value = false;
        } else if (!strcmp(name, "stats")) {
            if (inline_value) fail_usage("option '%.*s' takes no value", (int)(eq - arg), arg);
            o->stats = true;
            takes_value = false;
        } else if (!strcmp(name, "no-reboot")) {
            if (inline_value) fail_usage("option '%.*s' takes no value", (int)(eq - arg), arg);
            o->no_reboot = true;
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
    int lr = linux_is_bzimage(o->kernel)
                 ? linux_load(m, o->kernel, o->append, o->initrd, err, sizeof err)
                 : multiboot_load(m, o->kernel, o->append, o->initrd, err, sizeof err);
    if (lr != 0) {
        machine_destroy(m);
        if (err[0] && strstr(err, o->kernel)) fail_with_text(NULL, err);
        fail_with_text(o->kernel, err);
    }
    m->icount_limit = o->icount_limit;
    machine_power_on(m, o->clock, o->clock == CLOCK_VIRTUAL ? VIRTUAL_EPOCH : (int64_t)time(NULL));
    machine_attach_console(m);
    return m;
}

static struct machine *g_running;
static const char *g_record_symbols; /* record --symbols ELF (default: the kernel, if ELF) */

static bool is_elf(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char h[4] = {0};
    bool ok = fread(h, 1, 4, f) == 4 && !memcmp(h, "\177ELF", 4);
    fclose(f);
    return ok;
}

/* SIGINT/SIGTERM: stop at the next monitor entry, so that a recording is closed properly. */
static void on_stop_signal(int sig) {
    (void)sig;
    if (g_running) g_running->stop_requested = 1;
}

static void install_stop_handlers(struct machine *m) {
    g_running = m;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Reports how a run ended (one line on stderr) and returns rrvm's exit status. */
static int report_end(struct machine *m, enum run_result r, uint64_t icount_limit,
                      const char **reason) {
    int status;
    *reason = "?";
    switch (r) {
    case RUN_EXIT_DEVICE:
        status = m->exit_status & 0xff;
        *reason = "guest exit";
        break;
    case RUN_GUEST_FAULT:
        print_one_line("rrvm: ", m->error);
        status = STATUS_FAULT;
        *reason = "triple fault";
        break;
    case RUN_ICOUNT_LIMIT:
        fprintf(stderr, "rrvm: icount limit %llu reached at eip=0x%08" PRIx32 "\n",
                (unsigned long long)icount_limit, m->cpu.eip);
        status = STATUS_ICOUNT;
        *reason = "icount limit";
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
        *reason = "halted";
        break;
    case RUN_USER_QUIT:
        fputs("rrvm: quit (Ctrl-A x)\n", stderr);
        status = 0;
        *reason = "user quit";
        break;
    case RUN_STOP_REQUEST:
        fprintf(stderr, "rrvm: stopped by a signal at icount %llu\n",
                (unsigned long long)m->cpu.icount);
        status = STATUS_STOPPED;
        *reason = "stopped by a signal";
        break;
    case RUN_RESET:
        fputs("rrvm: guest requested a reset\n", stderr);
        status = STATUS_RESET;
        *reason = "reset";
        break;
    case RUN_POWER_OFF:
        /* ACPI S5 (soft off): the guest shut down on purpose, a success */
        fputs("rrvm: guest powered off\n", stderr);
        status = 0;
        *reason = "powered off";
        break;
    case RUN_MONITOR_ERROR:
        print_one_line("rrvm: monitor error: ", m->error);
        status = STATUS_MONITOR;
        *reason = "monitor error";
        break;
    default:
        fprintf(stderr, "rrvm: monitor error: unexpected run result %d\n", (int)r);
        status = STATUS_MONITOR;
        break;
    }
    return status;
}

static int run_or_record(struct run_options *o, const char *record_path) {
    struct machine *m = boot(o);
    if (record_path) {
        char err[300] = "";
        struct trace_meta meta = {
            o->kernel, o->append, o->clock == CLOCK_VIRTUAL ? "virtual" : "host", o->ram_mb, 0,
            0,         NULL};
        meta.symbols = g_record_symbols ? g_record_symbols : (is_elf(o->kernel) ? o->kernel : NULL);
        FILE *kf = fopen(o->kernel, "rb");
        if (kf) {
            uint8_t buf[65536];
            size_t n;
            meta.kernel_fnv64 = FNV64_INIT;
            while ((n = fread(buf, 1, sizeof buf, kf)) > 0) {
                meta.kernel_fnv64 = fnv64(meta.kernel_fnv64, buf, n);
                meta.kernel_size += n;
            }
            fclose(kf);
        }
        if (!recorder_start(m, record_path, &meta, err, sizeof err)) {
            machine_destroy(m);
            fail_with_text(NULL, err);
        }
    }
    install_stop_handlers(m);
    enum run_result r = RUN_ICOUNT_LIMIT;
    bool gdb_done = false;
    if (o->gdb_port) {
        /* the guest stays stopped until gdb continues it; after a detach it runs on */
        char gerr[300] = "";
        int k = gdbstub_serve_live(m, o->gdb_port, &r, gerr, sizeof gerr);
        if (k < 0) {
            machine_destroy(m);
            fail_with_text(NULL, gerr);
        }
        if (k == 1) {
            r = RUN_STOP_REQUEST;
            gdb_done = true;
        } else if (r != RUN_ICOUNT_LIMIT) {
            gdb_done = true;
        }
        m->icount_limit = o->icount_limit;
    }
    for (;;) {
        if (gdb_done) break;
        r = machine_run(m);
        bool reset = r == RUN_RESET || (r == RUN_GUEST_FAULT && o->reset_on_triple_fault);
        /* a recording ends at a reset: the trace describes one boot; --no-reboot ends a run
         * there too, as QEMU's -no-reboot does */
        if (!reset || record_path || o->no_reboot) break;
        /* a reset: the same kernel boots again on a fresh machine, as after a reboot */
        fflush(stdout);
        if (r == RUN_GUEST_FAULT)
            print_one_line("rrvm: resetting after ", m->error);
        else
            fputs("rrvm: guest requested a reset\n", stderr);
        machine_destroy(m);
        m = boot(o);
        install_stop_handlers(m);
    }
    g_running = NULL;

    /* Guest output first, so that it is complete before any message about how it ended. */
    if (fflush(stdout) != 0 || ferror(stdout))
        fputs("rrvm: warning: some of the guest's serial output could not be written\n", stderr);
    if (o->stats) machine_print_stats(m, stderr);
    if (r == RUN_GUEST_FAULT && o->reset_on_triple_fault) {
        /* --on-triple-fault=reset: the shutdown cycle resets the machine, and the run ends
         * at that reset like at any other (what happened first, then the reset) */
        print_one_line("rrvm: ", m->error);
        r = RUN_RESET;
    }
    const char *reason;
    int status = report_end(m, r, o->icount_limit, &reason);
    if (record_path) {
        char err[300] = "";
        uint64_t events = m->stats.events_recorded;
        uint64_t digest = machine_full_digest(m);
        if (recorder_finish(m, reason, status, err, sizeof err) != 0) {
            print_one_line("rrvm: the trace is incomplete: ", err);
            status = STATUS_MONITOR;
        } else {
            fprintf(stderr,
                    "rrvm: recorded %llu instructions, %llu events into %s (final digest "
                    "%016llx)\n",
                    (unsigned long long)m->cpu.icount, (unsigned long long)events + 1, record_path,
                    (unsigned long long)digest);
        }
    }
    fflush(stderr);
    machine_destroy(m);
    return status;
}

static int cmd_run(int argc, char **argv) {
    struct run_options o;
    parse_run_args(argc, argv, &o);
    return run_or_record(&o, NULL);
}

static int cmd_record(int argc, char **argv) {
    /* -o FILE may stand anywhere among the run options */
    const char *out = NULL;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--symbols") || !strcmp(argv[i], "-symbols")) {
            if (i + 1 >= argc) fail_usage("record: option '%s' needs an ELF file", argv[i]);
            g_record_symbols = argv[++i];
        } else if (!strncmp(argv[i], "--symbols=", 10)) {
            g_record_symbols = argv[i] + 10;
        } else if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
            if (i + 1 >= argc) fail_usage("record: option '%s' needs a file name", argv[i]);
            out = argv[++i];
        } else if (!strncmp(argv[i], "--output=", 9)) {
            out = argv[i] + 9;
        } else {
            rest[n++] = argv[i];
        }
    }
    if (!out || !out[0]) fail_usage("record: missing -o FILE (see rrvm --help)");
    struct run_options o;
    parse_run_args(n, rest, &o);
    int st = run_or_record(&o, out);
    free(rest);
    return st;
}

/* Extracts the trace's embedded symbol file to dir; returns its path or NULL. */
static char *extract_symbols(const char *trace, const char *dir) {
    char err[400];
    struct trace_reader *t = trace_reader_open(trace, err, sizeof err);
    if (!t) fail_with_text(NULL, err);
    const Rrvm__TraceHeader *h = trace_reader_header(t);
    char *path = NULL;
    if (h->symbols_zstd.len && h->symbols_size && h->symbols_size < (1ull << 30)) {
        uint8_t *buf = malloc(h->symbols_size);
        size_t n =
            buf ? ZSTD_decompress(buf, h->symbols_size, h->symbols_zstd.data, h->symbols_zstd.len)
                : 0;
        if (buf && n == h->symbols_size) {
            path = malloc(strlen(dir) + strlen(h->symbols_name) + 2);
            sprintf(path, "%s/%s", dir,
                    strchr(h->symbols_name, '/') ? "symbols.elf" : h->symbols_name);
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(buf, 1, n, f) != n) {
                free(path);
                path = NULL;
            }
            if (f) fclose(f);
        }
        free(buf);
    }
    trace_reader_close(t);
    return path;
}

/* `rrvm replay FILE` on a terminal: gdb attached to the replay, with the symbols. */
static int replay_under_gdb(const char *trace, const char *symbols) {
    char dir[] = "/tmp/rrvm-replay-XXXXXX";
    if (!mkdtemp(dir)) fail_usage("replay: cannot create a temporary directory");
    char *sym = symbols ? strdup(symbols) : extract_symbols(trace, dir);
    char self[4096];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0) fail_usage("replay: cannot find the rrvm executable");
    self[k] = 0;
    char target[8400];
    snprintf(target, sizeof target, "target remote | %s replay --gdb-pipe %s", self, trace);
    char *args[16];
    int n = 0;
    args[n++] = (char *)"gdb";
    args[n++] = (char *)"-q";
    args[n++] = (char *)"-ex";
    args[n++] = target;
    if (sym) args[n++] = sym;
    args[n] = NULL;
    fprintf(stderr, "rrvm: replaying %s under gdb%s%s\n", trace, sym ? " with symbols " : "",
            sym ? sym : "");
    fflush(stderr);
    /* gdb runs as a child, so that the symbols taken out of the trace are removed after it;
     * Ctrl-C on the terminal is gdb's (it stops the replay), not ours */
    pid_t pid = fork();
    if (pid < 0) fail_usage("replay: cannot start gdb: %s", strerror(errno));
    if (pid == 0) {
        execvp("gdb", args);
        fprintf(stderr, "rrvm: replay: cannot start gdb: %s (install it, or use --gdb-port)\n",
                strerror(errno));
        _exit(STATUS_USAGE);
    }
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (sym && !symbols) unlink(sym);
    rmdir(dir);
    free(sym);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int cmd_replay(int argc, char **argv) {
    const char *path = NULL;
    uint64_t until = 0, gdb_port = 0;
    bool quiet = false, stats = false, gdb_pipe = false, gdb = false, no_gdb = false;
    const char *symbols = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--symbols")) {
            if (i + 1 >= argc) fail_usage("replay: --symbols needs an ELF file");
            symbols = argv[++i];
            continue;
        }
        if (!strcmp(a, "--gdb")) {
            gdb = true;
            continue;
        }
        if (!strcmp(a, "--no-gdb")) {
            no_gdb = true;
            continue;
        }
        if (!strcmp(a, "--gdb-port") || !strncmp(a, "--gdb-port=", 11)) {
            const char *v = a[10] == '=' ? a + 11 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || !parse_u64(v, &gdb_port, NULL) || gdb_port == 0 || gdb_port > 65535)
                fail_usage("replay: --gdb-port needs a TCP port number (1..65535)");
        } else if (!strcmp(a, "--gdb-pipe")) {
            gdb_pipe = true;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = true;
        } else if (!strcmp(a, "--stats")) {
            stats = true;
        } else if (!strcmp(a, "--until") || !strncmp(a, "--until=", 8)) {
            const char *v = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || !parse_u64(v, &until, NULL))
                fail_usage("replay: --until needs an instruction count");
        } else if (a[0] == '-') {
            fail_usage("replay: unknown option '%s' (see rrvm --help)", a);
        } else if (!path) {
            path = a;
        } else {
            fail_usage("replay: unexpected argument '%s'", a);
        }
    }
    if (!path) fail_usage("replay: missing trace FILE (see rrvm --help)");
    /* as `rr replay` does: on a terminal, replay under gdb unless told otherwise */
    if (!gdb && !no_gdb && !gdb_port && !gdb_pipe && !quiet && !stats && !until && isatty(0) &&
        isatty(1))
        gdb = true;
    if (gdb) return replay_under_gdb(path, symbols);
    if (gdb_port || gdb_pipe) {
        char gerr[400] = "";
        if (gdbstub_serve_replay(path, (int)gdb_port, 0, 1, gerr, sizeof gerr) != 0)
            fail_with_text(NULL, gerr);
        return 0;
    }
    char err[400] = "";
    struct machine *m = replay_open(path, err, sizeof err);
    if (!m) fail_with_text(NULL, err);
    FILE *devnull = NULL;
    if (quiet) {
        devnull = fopen("/dev/null", "w");
        m->serial_out = devnull;
        uart16550_init(&m->com1, devnull);
    }
    m->icount_limit = until;
    install_stop_handlers(m);
    enum run_result r = machine_run(m);
    g_running = NULL;
    fflush(stdout);
    if (stats) machine_print_stats(m, stderr);
    int status;
    if (r == RUN_EXIT_DEVICE || r == RUN_GUEST_FAULT || r == RUN_HALTED || r == RUN_RESET ||
        r == RUN_POWER_OFF || r == RUN_REPLAY_END) {
        /* the recording's end event should be next, at this very instruction */
        (void)replay_due_interrupt(m);
    }
    if (r == RUN_DIVERGED || replay_diverged(m)) {
        print_one_line("rrvm: ", m->error);
        status = STATUS_DIVERGED;
    } else if (r == RUN_ICOUNT_LIMIT) {
        fprintf(stderr, "rrvm: replay stopped at icount %llu (--until)\n",
                (unsigned long long)m->cpu.icount);
        status = 0;
    } else if (r == RUN_STOP_REQUEST) {
        fprintf(stderr, "rrvm: replay stopped by a signal at icount %llu\n",
                (unsigned long long)m->cpu.icount);
        status = STATUS_STOPPED;
    } else if (replay_at_end(m) && replay_end_reason(m)[0]) {
        uint64_t d = machine_full_digest(m);
        bool same = d == replay_end_digest(m) && m->cpu.icount == replay_end_icount(m);
        fprintf(stderr,
                "rrvm: end of trace at icount %llu (recorded: %s, status %d); final state digest "
                "%016llx %s\n",
                (unsigned long long)m->cpu.icount, replay_end_reason(m), replay_end_status(m),
                (unsigned long long)d,
                same ? "matches the recording" : "DIFFERS from the recording");
        status = same ? replay_end_status(m) : STATUS_DIVERGED;
    } else if (replay_at_end(m)) {
        fprintf(stderr,
                "rrvm: the trace ends at icount %llu without an end record (the recorder was "
                "stopped): replayed up to its last complete chunk\n",
                (unsigned long long)m->cpu.icount);
        status = STATUS_TRUNCATED;
    } else {
        const char *reason;
        status = report_end(m, r, until, &reason);
        fprintf(stderr, "rrvm: replay ended (%s) before the end of the trace\n", reason);
        status = STATUS_DIVERGED;
    }
    replay_close(m);
    machine_destroy(m);
    if (devnull) fclose(devnull);
    return status;
}

static const char *kind_label(int k) {
    static const char *const names[] = {"",          "",           "port reads",    "interrupts",
                                        "TSC reads", "CR3 writes", "state digests", "end"};
    return k >= 0 && k < 8 ? names[k] : "?";
}

static const char *kind_key(int k) {
    static const char *const keys[] = {"",    "",    "port_in", "interrupt",
                                       "tsc", "cr3", "digest",  "end"};
    return k >= 0 && k < 8 ? keys[k] : "?";
}

/* rrvm trace dump FILE [--from N] [--to M] [--kind K]: one event a line. */
static int cmd_trace_dump(int argc, char **argv) {
    const char *path = NULL, *kind = NULL;
    uint64_t from = 0, to = UINT64_MAX;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--from") || !strcmp(a, "--to")) {
            if (!v || !parse_u64(v, !strcmp(a, "--from") ? &from : &to, NULL))
                fail_usage("trace dump: %s needs an instruction count", a);
            i++;
        } else if (!strcmp(a, "--kind")) {
            if (!v) fail_usage("trace dump: --kind needs port_in|interrupt|tsc|cr3|digest|end");
            kind = v;
            i++;
        } else if (a[0] == '-') {
            fail_usage("trace dump: unknown option '%s'", a);
        } else {
            path = a;
        }
    }
    if (!path) fail_usage("trace dump: missing FILE");
    char err[400] = "";
    struct trace_reader *t = trace_reader_open(path, err, sizeof err);
    if (!t) fail_with_text(NULL, err);
    Rrvm__Event *ev;
    int k;
    while ((k = trace_reader_next(t, &ev, err, sizeof err)) == 1) {
        if (ev->icount < from || ev->icount > to) continue;
        if (kind && strcmp(kind, kind_key(ev->kind_case)) != 0) continue;
        printf("%llu %s", (unsigned long long)ev->icount, kind_key(ev->kind_case));
        switch (ev->kind_case) {
        case RRVM__EVENT__KIND_PORT_IN:
            printf(" port=0x%x size=%u value=0x%x", ev->port_in->port, ev->port_in->size,
                   ev->port_in->value);
            break;
        case RRVM__EVENT__KIND_INTERRUPT: printf(" vector=0x%02x", ev->interrupt->vector); break;
        case RRVM__EVENT__KIND_TSC:
            printf(" value=%llu", (unsigned long long)ev->tsc->value);
            break;
        case RRVM__EVENT__KIND_CR3: printf(" value=0x%08x", ev->cr3->value); break;
        case RRVM__EVENT__KIND_DIGEST:
            printf(" regs=%016llx", (unsigned long long)ev->digest->regs);
            break;
        case RRVM__EVENT__KIND_END:
            printf(" reason=\"%s\" status=%d digest=%016llx", ev->end->reason, ev->end->exit_status,
                   (unsigned long long)ev->end->digest);
            break;
        default: break;
        }
        putchar('\n');
    }
    bool truncated = trace_reader_truncated(t);
    trace_reader_close(t);
    if (k < 0) {
        print_one_line("rrvm: ", err);
        return STATUS_DIVERGED;
    }
    if (truncated) fputs("rrvm: the trace is truncated (the recorder did not finish)\n", stderr);
    return 0;
}

/* rrvm trace verify FILE: every chunk's checksum, then a full replay checking every digest. */
static int cmd_trace_verify(const char *path) {
    char err[400] = "";
    struct trace_reader *t = trace_reader_open(path, err, sizeof err);
    if (!t) fail_with_text(NULL, err);
    struct trace_stats st;
    int rc = trace_reader_stats(t, &st, err, sizeof err);
    trace_reader_close(t);
    if (rc != 0) {
        print_one_line("rrvm: verify: ", err);
        return STATUS_DIVERGED;
    }
    fprintf(stderr, "rrvm: verify: %llu chunks, %llu events: checksums good%s; replaying\n",
            (unsigned long long)st.chunks, (unsigned long long)st.events,
            st.truncated ? " (trace truncated)" : "");
    char *rargv[] = {(char *)"--quiet", (char *)path};
    int s = cmd_replay(2, rargv);
    return s == STATUS_DIVERGED || s == STATUS_TRUNCATED ? s : 0;
}

static int cmd_trace(int argc, char **argv) {
    if (argc >= 1 && !strcmp(argv[0], "dump")) return cmd_trace_dump(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[0], "verify")) return cmd_trace_verify(argv[1]);
    if (argc < 2 || strcmp(argv[0], "info") != 0)
        fail_usage("trace: usage: rrvm trace info|dump|verify FILE");
    char err[400] = "";
    struct trace_reader *t = trace_reader_open(argv[1], err, sizeof err);
    if (!t) fail_with_text(NULL, err);
    const Rrvm__TraceHeader *h = trace_reader_header(t);
    struct trace_stats st;
    int rc = trace_reader_stats(t, &st, err, sizeof err);
    printf("trace:            %s\n", argv[1]);
    printf("format version:   %u\n", trace_reader_version(t));
    printf("recorded by:      rrvm %s on %s at unix time %llu\n", h->rrvm_version, h->host,
           (unsigned long long)h->recorded_unix_time);
    printf("kernel:           %s (%llu bytes, FNV-1a %016llx)\n", h->kernel_name,
           (unsigned long long)h->kernel_size, (unsigned long long)h->kernel_fnv64);
    if (h->cpuid.len == 32) {
        uint32_t c[8];
        memcpy(c, h->cpuid.data, 32);
        char vendor[13];
        memcpy(vendor, &c[1], 4);
        memcpy(vendor + 4, &c[3], 4);
        memcpy(vendor + 8, &c[2], 4);
        vendor[12] = 0;
        printf("cpu model:        %s, signature %08x, features edx %08x ecx %08x\n", vendor, c[4],
               c[7], c[6]);
    }
    printf("command line:     %s\n", h->cmdline);
    if (h->symbols_size)
        printf("symbols:          %s embedded (%llu bytes, %zu compressed)\n", h->symbols_name,
               (unsigned long long)h->symbols_size, h->symbols_zstd.len);
    printf("machine:          %u MiB RAM, clock %s\n", h->ram_mb, h->clock);
    printf("instructions:     %llu\n", (unsigned long long)st.last_icount);
    if (!st.truncated)
        printf("recorded for:     %.3f s of host time (%.0f instructions/s)\n", st.host_seconds,
               st.host_seconds > 0 ? (double)st.last_icount / st.host_seconds : 0.0);
    printf("events:           %llu in %llu chunks\n", (unsigned long long)st.events,
           (unsigned long long)st.chunks);
    for (int k = 2; k < 8; k++)
        if (st.by_kind[k])
            printf("  %-16s%llu\n", kind_label(k), (unsigned long long)st.by_kind[k]);
    printf("file size:        %llu bytes (initial RAM %llu -> %llu bytes)\n",
           (unsigned long long)st.file_bytes, (unsigned long long)st.ram_bytes,
           (unsigned long long)st.ram_file_bytes);
    printf("events size:      %llu bytes raw, %llu compressed (ratio %.1f)\n",
           (unsigned long long)st.raw_event_bytes, (unsigned long long)st.compressed_event_bytes,
           st.compressed_event_bytes
               ? (double)st.raw_event_bytes / (double)st.compressed_event_bytes
               : 0.0);
    printf("complete:         %s\n",
           st.truncated ? "no: TRUNCATED (the recorder did not finish)" : "yes");
    trace_reader_close(t);
    if (rc != 0) {
        print_one_line("rrvm: ", err);
        return STATUS_DIVERGED;
    }
    return 0;
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
    if (!strcmp(cmd, "record")) return cmd_record(argc - 2, argv + 2);
    if (!strcmp(cmd, "replay")) return cmd_replay(argc - 2, argv + 2);
    if (!strcmp(cmd, "trace")) return cmd_trace(argc - 2, argv + 2);
    if (cmd[0] == '-') fail_usage("unknown option '%s' (see rrvm --help)", cmd);
    fail_usage("unknown command '%s' (see rrvm --help)", cmd);
}
