/* Port I/O dispatch: COM1 at 0x3F8-0x3FF and QEMU's isa-debug-exit at 0xF4. Every other
 * port behaves like an unassigned ISA address: reads float high, writes go nowhere. */
#include "hv/machine.h"

#define COM1_BASE 0x3F8
#define COM1_LAST 0x3FF
#define DEBUG_EXIT_PORT 0xF4 /* qemu -device isa-debug-exit,iobase=0xf4,iosize=4 */

static uint8_t read_byte(struct machine *m, uint16_t port) {
    if (port >= COM1_BASE && port <= COM1_LAST) return uart16550_read(&m->com1, port - COM1_BASE);
    return 0xff;
}

static void write_byte(struct machine *m, uint16_t port, uint8_t v) {
    if (port >= COM1_BASE && port <= COM1_LAST) uart16550_write(&m->com1, port - COM1_BASE, v);
}

uint32_t ioport_read(struct machine *m, uint16_t port, unsigned size) {
    /* The UART is an 8-bit device: a wider IN is split into byte accesses to consecutive
     * ports, little-endian, as the ISA bus does for an 8-bit peripheral. Unassigned ports
     * give 0xFF per byte, hence 0xFFFF / 0xFFFFFFFF for wider reads. */
    uint32_t v = 0;
    for (unsigned i = 0; i < size && i < 4; i++)
        v |= (uint32_t)read_byte(m, (uint16_t)(port + i)) << (8 * i);
    return v;
}

void ioport_write(struct machine *m, uint16_t port, unsigned size, uint32_t value) {
    if (port == DEBUG_EXIT_PORT) {
        /* isa-debug-exit makes QEMU exit with status (value << 1) | 1, where value is what
         * the guest wrote: just the byte for OUTB, the whole word/dword otherwise. The host
         * OS keeps only the low 8 bits of an exit status; the caller masks. */
        uint32_t v = size == 1 ? (value & 0xff) : size == 2 ? (value & 0xffff) : value;
        m->exited = true;
        m->exit_status = (int)(((v << 1) | 1u) & 0x7fffffffu);
        return;
    }
    for (unsigned i = 0; i < size && i < 4; i++)
        write_byte(m, (uint16_t)(port + i), (uint8_t)(value >> (8 * i)));
}
