/* CPU-bound benchmark: integer loops, sort, CRC32, sieve, calls. "iters=N" on the
 * command line sets the number of rounds. */
#include "rt.h"

#define DEFAULT_ITERS 500

static uint32_t crc_table[256];
static uint8_t buf[16384];
static uint32_t arr[2048];
static uint8_t sieve_buf[65536];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}
static uint32_t crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    while (n--)
        c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}
static void shell_sort(uint32_t *a, int n) {
    static const int gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};
    for (int g = 0; g < 8; g++) {
        int gap = gaps[g];
        for (int i = gap; i < n; i++) {
            uint32_t t = a[i];
            int j = i;
            for (; j >= gap && a[j - gap] > t; j -= gap)
                a[j] = a[j - gap];
            a[j] = t;
        }
    }
}
static uint32_t sieve(uint32_t n) {
    memset(sieve_buf, 1, n);
    uint32_t count = 0;
    for (uint32_t i = 2; i < n; i++) {
        if (!sieve_buf[i]) continue;
        count++;
        for (uint32_t j = i * i; j < n; j += i)
            sieve_buf[j] = 0;
    }
    return count;
}
static __attribute__((noinline)) uint32_t fib(uint32_t n) {
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
static uint32_t intloop(uint32_t seed) {
    uint32_t a = seed, b = 0x9e3779b9u, c = 0;
    for (int i = 0; i < 50000; i++) {
        a = a * 1103515245u + 12345u;
        b ^= a >> 7;
        c += (b << 3) ^ (a >> 11);
        if (c & 0x100) c ^= 0x5a5a;
        c += (uint32_t)i / ((a & 15) + 1);
    }
    return a ^ b ^ c;
}

int kmain(uint32_t magic, const struct mb_info *mbi) {
    uint32_t iters = mb_arg_u32(mb_args(magic, mbi), "iters", DEFAULT_ITERS);
    crc_init();
    uint32_t sum = 0;
    for (uint32_t it = 0; it < iters; it++) {
        rng_state = 0x1234567u + it;
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (uint8_t)rnd();
        sum = sum * 31 + crc32(buf, sizeof buf);
        for (int i = 0; i < 2048; i++)
            arr[i] = rnd();
        shell_sort(arr, 2048);
        for (int i = 1; i < 2048; i++)
            if (arr[i - 1] > arr[i]) {
                puts_serial("sort failed\n");
                return 1;
            }
        sum = sum * 31 + arr[1000];
        sum = sum * 31 + sieve(65536);
        sum = sum * 31 + fib(20);
        sum = sum * 31 + intloop(it);
    }
    puts_serial("cpubench iters=");
    putdec(iters);
    puts_serial(" checksum=");
    puthex(sum);
    putc_serial('\n');
    return 0;
}
