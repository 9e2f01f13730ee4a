/* gdb_protocol RRVM TRACE SECONDS: protocol robustness of the gdb stub, against the real
 * program over a real socket (`rrvm replay --gdb-port`).
 *
 * 1. Scripted: bad checksums are NAKed, oversized packets are refused, malformed commands
 *    get error or empty replies, run-length encoded replies decode to what plain ones say,
 *    and abrupt disconnects (mid-packet, mid-reply) leave the replay exactly where it was
 *    for the next connection.
 * 2. Fuzzing for SECONDS: random and mutated packets (escapes, run-length bytes, stray
 *    '$'/'#', 0x03, truncation, huge lengths, garbage arguments), with hang-ups thrown in;
 *    after every burst the server must still answer '?' within a time limit.
 * Ends with 'k'; rrvm must exit 0 with no monitor error and no sanitizer report. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int port, sock = -1;
static pid_t child;
static char errpath[] = "/tmp/rrvm-gdbproto-XXXXXX";
static int checks, failures;
static size_t rle_bytes; /* bytes saved by run-length encoding in replies so far */

static void check(bool ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    checks++;
    failures += !ok;
    fflush(stdout);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static bool server_alive(void) {
    return waitpid(child, NULL, WNOHANG) == 0;
}

static bool connect_server(void) {
    for (int tries = 0; tries < 100; tries++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
            int one = 1;
            setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            sock = s;
            return true;
        }
        close(s);
        if (!server_alive()) return false;
        usleep(50000);
    }
    return false;
}

static void hang_up(void) {
    if (sock >= 0) close(sock);
    sock = -1;
}

static void send_raw(const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t w = send(sock, c, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        c += w;
        n -= (size_t)w;
    }
}

/* one byte within timeout seconds, or -1 */
static int get_byte(double timeout) {
    struct pollfd p = {sock, POLLIN, 0};
    if (poll(&p, 1, (int)(timeout * 1000)) <= 0) return -1;
    unsigned char c;
    return recv(sock, &c, 1, 0) == 1 ? c : -1;
}

static void send_packet(const char *body) {
    size_t n = strlen(body);
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (unsigned char)body[i];
    char tail[4];
    snprintf(tail, sizeof tail, "#%02x", sum & 0xff);
    send_raw("$", 1);
    send_raw(body, n);
    send_raw(tail, 3);
}

/* Reads one reply packet (skipping acks and stray bytes), checks its checksum, undoes
 * escapes and run-length encoding, acks it. Returns its length or -1 on timeout/EOF/bad. */
static int read_packet(char *out, size_t cap, double timeout) {
    int c;
    do {
        c = get_byte(timeout);
        if (c < 0) return -1;
    } while (c != '$');
    size_t n = 0;
    unsigned sum = 0;
    for (;;) {
        c = get_byte(timeout);
        if (c < 0) return -1;
        if (c == '#') break;
        sum += (unsigned)c;
        if (c == '}') {
            int e = get_byte(timeout);
            if (e < 0) return -1;
            sum += (unsigned)e;
            c = e ^ 0x20;
        } else if (c == '*') {
            int k = get_byte(timeout);
            if (k < 0 || n == 0) return -1;
            sum += (unsigned)k;
            for (int i = 0; i < k - 29 && n + 1 < cap; i++, n++)
                out[n] = out[n - 1];
            rle_bytes += (size_t)(k - 29 - 2);
            continue;
        }
        if (n + 1 < cap) out[n++] = (char)c;
    }
    int h1 = get_byte(timeout), h2 = get_byte(timeout);
    if (h1 < 0 || h2 < 0) return -1;
    char hx[3] = {(char)h1, (char)h2, 0};
    out[n] = 0;
    send_raw("+", 1);
    return strtoul(hx, NULL, 16) == (sum & 0xff) ? (int)n : -1;
}

/* A command and its reply (monitor "O" output packets are collected into out first). */
static int command(const char *body, char *out, size_t cap, double timeout) {
    send_packet(body);
    char buf[40000];
    size_t o = 0;
    out[0] = 0;
    for (;;) {
        int n = read_packet(buf, sizeof buf, timeout);
        if (n < 0) return -1;
        if (buf[0] == 'O' && strcmp(buf, "OK") != 0 && strncmp(body, "qRcmd", 5) == 0) {
            for (int i = 1; i + 1 < n && o + 1 < cap; i += 2) {
                unsigned v;
                sscanf(buf + i, "%2x", &v);
                out[o++] = (char)v;
            }
            out[o] = 0;
            continue;
        }
        if (o) return (int)o; /* the monitor text; its "OK" is consumed */
        snprintf(out, cap, "%s", buf);
        return n;
    }
}

static int monitor(const char *text, char *out, size_t cap) {
    char body[600] = "qRcmd,";
    for (size_t i = 0; text[i] && 2 * i + 8 < sizeof body; i++)
        sprintf(body + 6 + 2 * i, "%02x", (unsigned char)text[i]);
    return command(body, out, cap, 60);
}

static unsigned long long icount_now(void) {
    char out[600];
    if (monitor("when", out, sizeof out) < 0) return ~0ull;
    unsigned long long v = ~0ull;
    sscanf(out, "icount %llu", &v);
    return v;
}

static bool responsive_within(double timeout) {
    char out[600];
    return command("?", out, sizeof out, timeout) > 0 && (out[0] == 'T' || out[0] == 'S');
}

static bool responsive(void) {
    return responsive_within(30);
}

/* ---- fuzzing ---------------------------------------------------------------------------- */
static const char *const seeds[] = {
    "g",
    "p8",
    "p24",
    "p2a",
    "p7fffffff",
    "m100000,40",
    "m0,10",
    "mffffffff,10",
    "m100000,7fff",
    "M100000,4:00000000",
    "X100000,0:",
    "Z0,100010,1",
    "z0,100010,1",
    "Z1,100020,1",
    "Z2,100000,4",
    "z2,100000,4",
    "Z3,100000,4",
    "Z4,1000,10",
    "z4,1000,10",
    "s",
    "vCont;s",
    "vCont;s:1",
    "vCont?",
    "bs",
    "bc",
    "c",
    "?",
    "qSupported:multiprocess+",
    "qXfer:features:read:target.xml:0,ffb",
    "qXfer:features:read:target.xml:2000,10",
    "qXfer:features:read:foo.xml:0,10",
    "qAttached",
    "qC",
    "qfThreadInfo",
    "qsThreadInfo",
    "qRcmd,7768656e",
    "qRcmd,696e666f",
    "qRcmd,636865636b706f696e74",
    "qRcmd,676f746f2030",
    "qRcmd,676f746f20313030",
    "qRcmd,706879732073",
    "qRcmd,7a7a",
    "Hg0",
    "Hc-1",
    "T1",
    "QStartNoAckMode",
    "qSymbol::",
    "vMustReplyEmpty",
    "G00",
    "P8=00000000",
    "D;1",
};

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static const char special[] = "$#}*+-\x03,:;=0123456789abcdefxX";

/* one mutated or random packet, framed (sometimes badly) */
static size_t fuzz_packet(char *p, size_t cap) {
    char body[20000];
    size_t n;
    if (rnd() % 8 == 0) {
        n = rnd() % (rnd() % 16 == 0 ? sizeof body - 1 : 64);
        for (size_t i = 0; i < n; i++)
            body[i] = rnd() % 4 ? special[rnd() % (sizeof special - 1)] : (char)rnd();
    } else {
        n = (size_t)snprintf(body, sizeof body, "%s",
                             seeds[rnd() % (sizeof seeds / sizeof *seeds)]);
        int edits = (int)(rnd() % 4);
        for (int e = 0; e < edits && n + 2 < sizeof body; e++) {
            size_t at = n ? rnd() % n : 0;
            switch (rnd() % 4) {
            case 0: body[at] = special[rnd() % (sizeof special - 1)]; break;
            case 1: n = at; break; /* truncate */
            case 2:
                memmove(body + at + 1, body + at, n - at);
                body[at] = (char)rnd();
                n++;
                break;
            default: body[at] ^= (char)(1u << (rnd() % 8)); break;
            }
        }
    }
    body[n] = 0;
    /* never end the session on purpose: k, vKill and D are left to the scripted part */
    if (body[0] == 'k' || body[0] == 'D' || !strncmp(body, "vKill", 5) || body[0] == 'R' ||
        body[0] == 'c' || !strncmp(body, "vCont;c", 7) || !strncmp(body, "vCont;C", 7))
        body[0] = 'q';
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (unsigned char)body[i];
    size_t o = 0;
    p[o++] = '$';
    memcpy(p + o, body, n);
    o += n;
    o += (size_t)snprintf(p + o, cap - o, "#%02x", rnd() % 10 ? sum & 0xff : rnd() & 0xff);
    if (rnd() % 20 == 0) o -= rnd() % 3; /* a torn trailer */
    return o;
}

static void drain(double quiet) {
    char buf[4096];
    for (;;) {
        struct pollfd p = {sock, POLLIN, 0};
        if (poll(&p, 1, (int)(quiet * 1000)) <= 0) return;
        ssize_t r = recv(sock, buf, sizeof buf, 0);
        if (r <= 0) return;
        /* ack whatever packets came, so that an ack-mode server does not wait for us */
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] == '#') send_raw("+", 1);
    }
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: gdb_protocol RRVM TRACE SECONDS\n");
        return 2;
    }
    double seconds = atof(argv[3]);
    port = 20000 + (int)(getpid() % 20000);
    int efd = mkstemp(errpath);
    if (efd < 0) return 2;
    child = fork();
    if (child == 0) {
        char ps[16];
        snprintf(ps, sizeof ps, "%d", port);
        dup2(efd, 2);
        int nul = open("/dev/null", 2);
        dup2(nul, 0);
        dup2(nul, 1);
        execl(argv[1], argv[1], "replay", "--gdb-port", ps, argv[2], (char *)NULL);
        _exit(127);
    }
    if (!connect_server()) {
        printf("FAIL: cannot connect to rrvm on port %d\n", port);
        return 1;
    }
    char out[40000], regs0[4000], regs1[4000];

    /* a bad checksum is NAKed, and the server goes on reading */
    send_raw("$g#00", 5);
    int c = get_byte(10);
    check(c == '-', "bad checksum NAKed ('%c')", c < 0 ? '?' : c);
    check(responsive(), "answers after a bad checksum");

    /* an oversized packet is refused whole */
    {
        static char big[70000];
        big[0] = '$';
        memset(big + 1, 'm', sizeof big - 5);
        memcpy(big + sizeof big - 4, "#00", 3);
        send_raw(big, sizeof big - 1);
        c = get_byte(10);
        check(c == '-', "oversized packet (70000 bytes) NAKed");
        check(responsive(), "answers after an oversized packet");
    }

    int glen = command("g", regs0, sizeof regs0, 10);
    check(glen > 300, "g: %d hex digits", glen);
    /* run-length encoding: a zero-filled register file and memory come back compressed
     * on the wire and expanded here; a plain p read must agree with g */
    command("p0", out, sizeof out, 10);
    check(strncmp(out, regs0, 8) == 0, "p0 (%s) agrees with g", out);
    size_t rle_before = rle_bytes;
    int mlen = command("m0,400", out, sizeof out, 10);
    size_t saved = rle_bytes - rle_before;
    check(mlen == 0x800 && strspn(out, "0") == 0x800 && saved > 1500,
          "m of 1 KiB of zeros decodes to 2048 '0's; run-length encoding saved %zu bytes", saved);

    static const char *const malformed[] = {
        "m",
        "mzz,10",
        "m0",
        "m0,ffffffff",
        "M0,4:zz",
        "Mzz",
        "Z0",
        "Z9,0,1",
        "Z2,0,0",
        "Z2,0,100",
        "p",
        "pffff",
        "P0=",
        "X0,1:",
        "qXfer:features:read:target.xml:zz",
        "qRcmd,zz",
        "qRcmd,",
        "vCont;",
        "vCont;x",
        "H",
        "bx",
        "T",
        "qRcmd,676f746f20",
        "qRcmd,676f746f202d31",
        "s1234",
        "\x7f\x01\x02",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        int n = command(malformed[i], out, sizeof out, 60);
        if (n < 0 || !server_alive()) {
            check(false, "malformed packet \"%s\" got no reply", malformed[i]);
            break;
        }
    }
    check(server_alive() && responsive(), "%zu malformed commands answered, server running",
          sizeof malformed / sizeof *malformed);

    /* go somewhere, note the state, hang up in the middle of a packet, come back */
    monitor("goto 0", out, sizeof out);
    for (int i = 0; i < 5; i++)
        command("s", out, sizeof out, 30);
    unsigned long long ic = icount_now();
    command("g", regs1, sizeof regs1, 10);
    check(ic == 5, "five steps: icount %llu", ic);
    send_raw("$m10000", 7);
    hang_up();
    check(connect_server(), "reconnected after a hang-up mid-packet");
    check(icount_now() == ic, "icount unchanged after the hang-up");
    command("g", out, sizeof out, 10);
    check(strcmp(out, regs1) == 0, "registers unchanged after the hang-up");
    send_packet("g"); /* and hang up before reading the reply */
    hang_up();
    check(connect_server(), "reconnected after a hang-up mid-reply");
    command("g", out, sizeof out, 10);
    check(strcmp(out, regs1) == 0 && icount_now() == ic, "state intact after it");

    /* fuzzing */
    double end = now_s() + seconds;
    unsigned long sent = 0, hangups = 0, bursts = 0;
    bool ok = true;
    while (now_s() < end && ok) {
        int burst = 1 + (int)(rnd() % 40);
        for (int i = 0; i < burst; i++) {
            char p[20100];
            size_t n = fuzz_packet(p, sizeof p);
            send_raw(p, n);
            if (rnd() % 30 == 0) send_raw("\x03", 1);
            sent++;
            drain(0.002);
        }
        if (rnd() % 10 == 0) {
            hang_up();
            hangups++;
            if (!connect_server()) {
                ok = false;
                break;
            }
        } else {
            send_raw("#00#00", 6); /* end any half-read packet */
            drain(0.05);
        }
        /* a garbled tail may leave the server NAKing; the probe is resent until answered */
        bool alive = false;
        for (int t = 0; t < 10 && !alive; t++) {
            drain(0.02);
            alive = responsive_within(3);
        }
        if (!alive || !server_alive()) ok = false;
        bursts++;
    }
    check(ok, "fuzzed %lu packets in %lu bursts with %lu hang-ups: server answers after each", sent,
          bursts, hangups);

    command("k", out, sizeof out, 2);
    hang_up();
    int status = -1;
    for (int i = 0; i < 100 && waitpid(child, &status, WNOHANG) == 0; i++)
        usleep(100000);
    if (status == -1) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
    }
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "rrvm exits 0 after k (status %#x)",
          status);
    FILE *f = fopen(errpath, "r");
    bool clean = true;
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "monitor bug") || strstr(line, "Sanitizer") ||
            strstr(line, "runtime error")) {
            printf("  stderr: %s", line);
            clean = false;
        }
    if (f) fclose(f);
    unlink(errpath);
    check(clean, "no monitor error or sanitizer report on rrvm's stderr");
    printf("%s: %d checks, %d failed\n", failures ? "FAIL" : "PASS", checks, failures);
    return failures ? 1 : 0;
}
