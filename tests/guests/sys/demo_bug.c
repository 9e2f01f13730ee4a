/* The demo guest: a planted memory-corruption bug of the kind rrvm exists for.
 *
 * A "driver" keeps requests in nodes taken from a small pool. The timer interrupt handler
 * accounts time to the request in flight through a pointer it caches (in_flight). The main
 * loop completes requests and returns their nodes to the pool, but forgets to clear the
 * handler's cached pointer: a node can be reused for a new request while the handler still
 * counts ticks into it. The stale increment lands in the new request's checksum, and the
 * crash (a failed integrity check, then a panic) comes much later, far from the culprit.
 * `watch -l` on the corrupted checksum plus reverse-continue finds the interrupt handler's
 * store in one step (scripts/run-demo.sh). */
#include "sys.h"

struct request {
    uint32_t id;
    uint32_t ticks;    /* time accounted by the timer handler */
    uint32_t checksum; /* over id and payload, set when the request is queued */
    uint32_t payload[5];
    struct request *next;
};

static struct request pool[6];
static struct request *free_list, *queue;
static struct request *volatile in_flight; /* the handler's cached pointer */
static volatile uint32_t ticks;

static uint32_t request_sum(const struct request *r) {
    uint32_t s = r->id * 2654435761u;
    for (int i = 0; i < 5; i++)
        s = (s ^ r->payload[i]) * 16777619u;
    return s;
}

/* IRQ0: account one tick to the request in flight. The bug: in_flight may point to a node
 * that was completed and reused; the field at this offset is then someone else's data. */
static void timer_handler(struct sys_frame *f) {
    (void)f;
    ticks++;
    struct request *r = in_flight;
    if (r) r->checksum += 1; /* meant to be r->ticks += 1: the culprit store */
    sys_pic_eoi(0);
}

static struct request *alloc_request(uint32_t id) {
    struct request *r = free_list;
    free_list = r->next;
    r->id = id;
    r->ticks = 0;
    for (int i = 0; i < 5; i++)
        r->payload[i] = id * 31 + (uint32_t)i;
    r->checksum = request_sum(r);
    r->next = 0;
    return r;
}

static void complete_request(struct request *r) {
    /* BUG: the handler's in_flight is not cleared before the node goes back to the pool */
    r->next = free_list;
    free_list = r;
}

static __attribute__((noinline, noreturn)) void panic(const struct request *r) {
    puts_serial("PANIC: request ");
    putdec(r->id);
    puts_serial(" failed its integrity check (checksum ");
    puthex(r->checksum);
    puts_serial(" expected ");
    puthex(request_sum(r));
    puts_serial(")\n");
    guest_exit(3);
}

static void verify_queue(void) {
    for (struct request *r = queue; r; r = r->next)
        if (r->checksum != request_sum(r)) panic(r);
}

int kmain(void) {
    sys_init();
    sys_pic_init();
    for (int i = 0; i < 6; i++) {
        pool[i].next = free_list;
        free_list = &pool[i];
    }
    sys_hooks[0x20] = timer_handler;
    sys_pit_periodic(1193); /* ~1 kHz */
    sys_pic_mask(0, 0);
    sys_arm(SYS_M_FATAL);
    __asm__ volatile("sti");
    puts_serial("demo: serving requests\n");
    for (uint32_t id = 1; id <= 400; id++) {
        struct request *r = alloc_request(id);
        in_flight = r; /* the handler accounts time to it while it is served */
        uint32_t t0 = ticks;
        while (ticks == t0)
            __asm__ volatile("hlt"); /* wait a tick: the request "runs" */
        complete_request(r);
        /* a later request goes onto the queue; it may reuse r's node while the handler
         * still points at it */
        struct request *q = alloc_request(1000 + id);
        q->next = queue;
        queue = q;
        if (id % 5 == 0) {
            /* now and then the driver idles a tick between requests */
            uint32_t t1 = ticks;
            while (ticks == t1)
                __asm__ volatile("hlt");
        }
        if (id % 8 == 0) {
            verify_queue();
            /* drain the queue back to the pool */
            while (queue) {
                struct request *n = queue->next;
                complete_request(queue);
                queue = n;
            }
        }
    }
    __asm__ volatile("cli");
    puts_serial("demo: all requests served\n");
    return 0;
}
