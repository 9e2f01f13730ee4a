/* Port I/O dispatch for the rrvm PC, and the glue between device models, guest time and
 * the terminal: PIC pair, PIT, CMOS/RTC, COM1, i8042, system control port B (0x61), the
 * POST port 0x80, PCI configuration ports (no devices), the reset control register (0xCF9),
 * the ACPI PM registers (0x600-0x60B) and QEMU's isa-debug-exit at 0xF4. Every other port
 * behaves like an unassigned ISA address: reads float high, writes go nowhere. */
#include <string.h>

#include "hv/machine.h"
#include "record/recorder.h"
#include "replay/replayer.h"

#define COM1_BASE 0x3F8
#define COM1_LAST 0x3FF
#define COM1_IRQ 4
#define DEBUG_EXIT_PORT 0xF4 /* qemu -device isa-debug-exit,iobase=0xf4,iosize=4 */
#define PCI_CONFIG_ADDRESS 0xCF8
#define PCI_CONFIG_DATA 0xCFC

static bool is_acpi_pm_port(uint16_t port) {
    return port >= ACPI_PM_BASE && port <= ACPI_PM_LAST;
}

/* Reset control register (PIIX4/ICH "RC" at 0xCF9), the FADT's RESET_REG: bits 1 (SYS_RST)
 * and 3 (FULL_RST) select the kind of reset and read back; writing bit 2 (RST_CPU) as 1
 * resets the machine (ACPI 6.0 §4.8.3.6: equivalent to a power cycle; rrvm boots the kernel
 * again on a fresh machine, or ends the run). */
#define RESET_CONTROL_KEPT 0x0a

static void reset_control_write(struct machine *m, uint8_t v) {
    m->reset_control = v & RESET_CONTROL_KEPT;
    if (v & ACPI_RESET_RST_CPU) m->reset_requested = true;
}

/* After a write to the ACPI PM registers: power off, and the SCI level into the PIC at once
 * (as for the RTC's IRQ 8, so that a status bit cleared by the handler drops the line
 * before the next device update). */
static void acpi_pm_written(struct machine *m, enum acpi_pm_action a, uint64_t now) {
    if (a == ACPI_PM_POWER_OFF) m->power_off_requested = true;
    pic8259_set_irq(&m->pic, ACPI_SCI_IRQ, acpi_pm_sci(&m->acpi_pm, now));
}

/* Ports no device model answers (and the POST port): an access changes nothing, so it
 * neither reads the clock nor makes the monitor bring the devices up to date. */
static bool port_is_inert(uint16_t port) {
    switch (port) {
    case 0x20:
    case 0x21:
    case 0xA0:
    case 0xA1:
    case 0x4D0:
    case 0x4D1:
    case 0x40:
    case 0x41:
    case 0x42:
    case 0x43:
    case 0x61:
    case 0x70:
    case 0x71:
    case 0x60:
    case 0x64:
    case ACPI_RESET_PORT:
    case DEBUG_EXIT_PORT: return false;
    default: break;
    }
    return !is_acpi_pm_port(port) && !(port >= COM1_BASE && port <= COM1_LAST) &&
           !(port >= PCI_CONFIG_ADDRESS && port <= PCI_CONFIG_DATA + 3);
}

static uint8_t read_byte(struct machine *m, uint16_t port) {
    if (port_is_inert(port)) return 0xff;
    uint64_t now = clock_now_ns(m);
    if (is_acpi_pm_port(port)) return (uint8_t)acpi_pm_read(&m->acpi_pm, port, 1, now);
    switch (port) {
    case 0x20:
    case 0x21:
    case 0xA0:
    case 0xA1: return pic8259_read(&m->pic, port);
    case 0x4D0:
    case 0x4D1: return pic8259_elcr_read(&m->pic, port);
    case 0x40:
    case 0x41:
    case 0x42:
    case 0x43: return pit8254_read(&m->pit, port, now);
    case 0x61: {
        /* bit 5: PIT OUT2; bit 4: refresh request, toggling every 15 us (some delay loops
         * count its edges) */
        uint8_t v = m->port61 & 0x0f;
        if (pit8254_out(&m->pit, 2, now)) v |= 0x20;
        if ((now / 15085) & 1) v |= 0x10;
        return v;
    }
    case 0x70:
    case 0x71: {
        /* reading register C lowers IRQ8: the PIC must see that at once, or a new period
         * could raise it again before the next device update and the edge would be lost */
        uint8_t v = rtc146818_read(&m->rtc, port, now);
        pic8259_set_irq(&m->pic, 8, rtc146818_irq(&m->rtc, now));
        return v;
    }
    case 0x60:
    case 0x64: return i8042_read(&m->kbc, port);
    case 0x80: return 0xff;
    case ACPI_RESET_PORT: return m->reset_control;
    default: break;
    }
    if (port >= COM1_BASE && port <= COM1_LAST) {
        uint8_t v = uart16550_read(&m->com1, port - COM1_BASE);
        devices_update(m); /* a byte taken from the FIFO makes room for queued input */
        pic8259_set_irq(&m->pic, COM1_IRQ, uart16550_irq(&m->com1));
        return v;
    }
    return 0xff;
}

static void write_byte(struct machine *m, uint16_t port, uint8_t v) {
    if (port_is_inert(port)) return; /* POST codes / I/O delay, unassigned */
    uint64_t now = clock_now_ns(m);
    if (is_acpi_pm_port(port)) {
        acpi_pm_written(m, acpi_pm_write(&m->acpi_pm, port, 1, v, now), now);
        return;
    }
    switch (port) {
    case 0x20:
    case 0x21:
    case 0xA0:
    case 0xA1: pic8259_write(&m->pic, port, v); return;
    case 0x4D0:
    case 0x4D1: pic8259_elcr_write(&m->pic, port, v); return;
    case 0x40:
    case 0x41:
    case 0x42:
    case 0x43: pit8254_write(&m->pit, port, v, now); return;
    case 0x61:
        m->port61 = v & 0x0f;
        pit8254_set_gate(&m->pit, 2, v & 1, now);
        return;
    case 0x70:
    case 0x71:
        rtc146818_write(&m->rtc, port, v, now);
        pic8259_set_irq(&m->pic, 8, rtc146818_irq(&m->rtc, now));
        return;
    case 0x60:
    case 0x64:
        if (i8042_write(&m->kbc, port, v)) m->reset_requested = true;
        return;
    case 0x80: return; /* POST codes / I/O delay */
    case ACPI_RESET_PORT: reset_control_write(m, v); return;
    default: break;
    }
    if (port >= COM1_BASE && port <= COM1_LAST) {
        uart16550_write(&m->com1, port - COM1_BASE, v);
        pic8259_set_irq(&m->pic, COM1_IRQ, uart16550_irq(&m->com1));
        if (m->com1.out) fflush(m->com1.out);
    }
}

static uint32_t device_read(struct machine *m, uint16_t port, unsigned size);

/* Every port read is an input to the CPU: recorded, or taken from the journal in replay
 * (where no device answers). */
uint32_t ioport_read(struct machine *m, uint16_t port, unsigned size) {
    if (m->rep) return replay_port_in(m, port, size);
    uint32_t v = device_read(m, port, size);
    if (m->rec) journal_port_in(m, port, size, v);
    return v;
}

static uint32_t device_read(struct machine *m, uint16_t port, unsigned size) {
    bool inert = true;
    for (unsigned i = 0; i < size && i < 4; i++)
        inert = inert && port_is_inert((uint16_t)(port + i));
    if (!inert) m->devices_dirty = true;
    if (port == PCI_CONFIG_DATA && size == 4) {
        /* No PCI device answers: configuration reads give all ones (vendor 0xFFFF). */
        return 0xffffffffu;
    }
    if (port == PCI_CONFIG_ADDRESS && size == 4) return m->pci_address;
    /* The ACPI PM registers are 16 and 32 bits wide: one access, so that a 32-bit read of
     * PM_TMR samples the timer once (ACPI 6.0 §4.8.3.3: "accessed as 32 bits"). */
    if (is_acpi_pm_port(port)) return acpi_pm_read(&m->acpi_pm, port, size, clock_now_ns(m));
    /* An 8-bit device on a wider IN is split into byte accesses to consecutive ports,
     * little-endian, as the ISA bus does for an 8-bit peripheral. Unassigned ports give
     * 0xFF per byte, hence 0xFFFF / 0xFFFFFFFF for wider reads. */
    uint32_t v = 0;
    for (unsigned i = 0; i < size && i < 4; i++)
        v |= (uint32_t)read_byte(m, (uint16_t)(port + i)) << (8 * i);
    return v;
}

void ioport_write(struct machine *m, uint16_t port, unsigned size, uint32_t value) {
    bool inert = true;
    for (unsigned i = 0; i < size && i < 4; i++)
        inert = inert && port_is_inert((uint16_t)(port + i));
    if (inert) return;
    m->devices_dirty = true;
    if (port == DEBUG_EXIT_PORT) {
        /* isa-debug-exit makes QEMU exit with status (value << 1) | 1, where value is what
         * the guest wrote: just the byte for OUTB, the whole word/dword otherwise. The host
         * OS keeps only the low 8 bits of an exit status; the caller masks. */
        uint32_t v = size == 1 ? (value & 0xff) : size == 2 ? (value & 0xffff) : value;
        m->exited = true;
        m->exit_status = (int)(((v << 1) | 1u) & 0x7fffffffu);
        return;
    }
    if (port == PCI_CONFIG_ADDRESS && size == 4) {
        m->pci_address = value & 0x80fffffcu;
        return;
    }
    if (port == PCI_CONFIG_DATA) return;
    if (is_acpi_pm_port(port)) {
        uint64_t now = clock_now_ns(m);
        acpi_pm_written(m, acpi_pm_write(&m->acpi_pm, port, size, value, now), now);
        return;
    }
    for (unsigned i = 0; i < size && i < 4; i++)
        write_byte(m, (uint16_t)(port + i), (uint8_t)(value >> (8 * i)));
}

/* Terminal input is polled at most every 2 ms of host time: a read(2) per monitor entry
 * would cost more than the guest's work between entries. */
#define INPUT_POLL_NS 2000000ull

static void pump_input(struct machine *m) {
    if (m->console_open && m->input_len < sizeof m->input) {
        uint64_t now = clock_now_ns(m);
        if (m->clock.mode == CLOCK_VIRTUAL || now - m->input_polled_ns >= INPUT_POLL_NS ||
            m->halted) {
            m->input_polled_ns = now;
            m->input_len += (unsigned)console_poll(&m->console, m->input + m->input_len,
                                                   sizeof m->input - m->input_len);
        }
    }
    unsigned taken = 0;
    while (taken < m->input_len && uart16550_rx_ready(&m->com1) &&
           uart16550_receive(&m->com1, m->input[taken]))
        taken++;
    if (taken) {
        memmove(m->input, m->input + taken, m->input_len - taken);
        m->input_len -= taken;
    }
}

uint64_t devices_update(struct machine *m) {
    uint64_t now = clock_now_ns(m);
    unsigned edges = pit8254_irq0_edges(&m->pit, now);
    if (edges) {
        /* edge-triggered: several missed periods still make one request */
        pic8259_set_irq(&m->pic, 0, 1);
        pic8259_set_irq(&m->pic, 0, 0);
    }
    pic8259_set_irq(&m->pic, 8, rtc146818_irq(&m->rtc, now));
    pic8259_set_irq(&m->pic, ACPI_SCI_IRQ, acpi_pm_sci(&m->acpi_pm, now));
    pump_input(m);
    pic8259_set_irq(&m->pic, COM1_IRQ, uart16550_irq(&m->com1));
    uint64_t next = pit8254_next_irq0_ns(&m->pit, now);
    uint64_t r = rtc146818_next_event_ns(&m->rtc, now);
    if (r < next) next = r;
    uint64_t sci = acpi_pm_next_event_ns(&m->acpi_pm, now);
    if (sci < next) next = sci;
    return next;
}
