/* A kernel for the gdb end-to-end tests: a linked list of structures, nested calls, a loop
 * writing a global. Built with -g like every test kernel. */
#include "rt.h"

struct node {
    uint32_t value;
    uint32_t weight;
    struct node *next;
};

static struct node pool[8];
volatile uint32_t total;

static __attribute__((noinline)) uint32_t score(const struct node *n) {
    uint32_t s = n->value * 3 + n->weight;
    return s ^ (s >> 3);
}

static __attribute__((noinline)) uint32_t walk(struct node *head) {
    uint32_t sum = 0;
    for (struct node *n = head; n; n = n->next) {
        sum += score(n);
        total = sum;
    }
    return sum;
}

int kmain(void) {
    for (int i = 0; i < 8; i++) {
        pool[i].value = (uint32_t)(i * 7 + 1);
        pool[i].weight = (uint32_t)(100 - i);
        pool[i].next = i < 7 ? &pool[i + 1] : 0;
    }
    uint32_t r = walk(&pool[0]);
    puts_serial("debugme: ");
    puthex(r);
    putc_serial('\n');
    return 0;
}
