/* Intel 8042 keyboard controller with no keyboard or mouse attached: ports 0x60 (data) and
 * 0x64 (status read / command write). Enough for a kernel to probe, find no keyboard and
 * reset the machine through the controller's output port. Polled only: no IRQ1/IRQ12. */
#ifndef RRVM_HOSTDRIVER_I8042_H
#define RRVM_HOSTDRIVER_I8042_H

#include <stdbool.h>
#include <stdint.h>

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64

struct i8042 {
    uint8_t status;      /* status register (port 0x64 read) */
    uint8_t cmd_byte;    /* controller command byte ("RAM byte 0") */
    uint8_t out_buf;     /* output buffer (port 0x60 read) */
    uint8_t output_port; /* bit 0: system reset (active low), bit 1: A20 gate */
    uint8_t pending;     /* controller command awaiting its data byte on port 0x60, or 0 */
};

void i8042_init(struct i8042 *k);
uint8_t i8042_read(struct i8042 *k, uint16_t port);
/* Returns true when the guest asked for a system reset. */
bool i8042_write(struct i8042 *k, uint16_t port, uint8_t v);

#endif
