/* 8042 keyboard controller (IBM PC AT Technical Reference, "Keyboard Controller": status
 * register, command byte, controller commands) with no device on either port. */
#include "hostdriver/i8042.h"

#define ST_OBF 0x01     /* output buffer full */
#define ST_IBF 0x02     /* input buffer full: never, the controller is infinitely fast */
#define ST_SYS 0x04     /* system flag: mirrors command byte bit 2, set after self-test */
#define ST_CMD 0x08     /* the last write went to port 0x64 (command), not 0x60 (data) */
#define ST_UNLOCK 0x10  /* keyboard not inhibited by the key lock */
#define ST_TIMEOUT 0x40 /* general time-out: the device did not answer */

#define CB_SYS 0x04
#define CB_KBD_DISABLE 0x10
#define CB_AUX_DISABLE 0x20

#define OP_RESET 0x01 /* output port bit 0: 0 resets the processor */
#define OP_A20 0x02

enum {
    CMD_READ_CB = 0x20,
    CMD_WRITE_CB = 0x60,
    CMD_AUX_DISABLE = 0xA7,
    CMD_AUX_ENABLE = 0xA8,
    CMD_AUX_TEST = 0xA9,
    CMD_SELF_TEST = 0xAA,
    CMD_KBD_TEST = 0xAB,
    CMD_KBD_DISABLE = 0xAD,
    CMD_KBD_ENABLE = 0xAE,
    CMD_READ_OUTPUT = 0xD0,
    CMD_WRITE_OUTPUT = 0xD1,
    CMD_WRITE_AUX = 0xD4,
    CMD_PULSE_BASE = 0xF0, /* 0xF0-0xFF: pulse output port bits 0-3 where the command is 0 */
};

static void put(struct i8042 *k, uint8_t v) {
    k->out_buf = v;
    k->status |= ST_OBF;
}

void i8042_init(struct i8042 *k) {
    /* State a PC BIOS leaves after POST: self-test passed (system flag), keyboard interrupt
     * enabled, scan-code translation on, nothing in the buffers; reset line inactive and
     * A20 enabled. */
    *k = (struct i8042){
        .status = ST_SYS | ST_UNLOCK,
        .cmd_byte = 0x45, /* translate | system | keyboard interrupt */
        .out_buf = 0,
        .output_port = OP_RESET | OP_A20,
        .pending = 0,
    };
}

uint8_t i8042_read(struct i8042 *k, uint16_t port) {
    if (port == I8042_CMD_PORT) return k->status;
    if (port != I8042_DATA_PORT) return 0xFF;
    /* Reading the output buffer empties it; the stale value stays readable, as on the chip. */
    k->status &= (uint8_t)~ST_OBF;
    return k->out_buf;
}

/* A data byte on port 0x60 that no controller command claimed goes to the keyboard (or,
 * after 0xD4, the auxiliary device). Nothing is attached, so the transmission times out:
 * the controller sets the time-out bit and places 0xFE in the output buffer, which is what
 * AT-compatible controllers report for a device that never clocks the byte in. Drivers
 * (e.g. Linux atkbd) take that as "no keyboard". */
static void send_to_absent_device(struct i8042 *k) {
    k->status |= ST_TIMEOUT;
    put(k, 0xFE);
}

static bool data_write(struct i8042 *k, uint8_t v) {
    const uint8_t cmd = k->pending;
    k->pending = 0;
    switch (cmd) {
    case CMD_WRITE_CB:
        k->cmd_byte = v;
        /* The system flag in the status register follows command byte bit 2. */
        k->status = (uint8_t)((k->status & ~ST_SYS) | (v & CB_SYS));
        return false;
    case CMD_WRITE_OUTPUT:
        k->output_port = v;
        /* Output port bit 0 drives the CPU reset line, active low. */
        return !(v & OP_RESET);
    default: /* no command pending, or CMD_WRITE_AUX */ send_to_absent_device(k); return false;
    }
}

static bool command_write(struct i8042 *k, uint8_t v) {
    k->pending = 0;
    switch (v) {
    case CMD_READ_CB: put(k, k->cmd_byte); break;
    case CMD_WRITE_CB:
    case CMD_WRITE_OUTPUT:
    case CMD_WRITE_AUX: k->pending = v; break;
    case CMD_AUX_DISABLE: k->cmd_byte |= CB_AUX_DISABLE; break;
    case CMD_AUX_ENABLE: k->cmd_byte &= (uint8_t)~CB_AUX_DISABLE; break;
    case CMD_KBD_DISABLE: k->cmd_byte |= CB_KBD_DISABLE; break;
    case CMD_KBD_ENABLE: k->cmd_byte &= (uint8_t)~CB_KBD_DISABLE; break;
    case CMD_SELF_TEST:
        /* 0x55 = controller OK; a passed self-test sets the system flag. */
        k->status |= ST_SYS;
        put(k, 0x55);
        break;
    case CMD_KBD_TEST: /* interface lines OK (0x00), whether or not a keyboard is there */
    case CMD_AUX_TEST: put(k, 0x00); break;
    case CMD_READ_OUTPUT: put(k, k->output_port); break;
    default:
        if (v >= CMD_PULSE_BASE) {
            /* Pulse output port bits 0-3 low for those bits that are 0 in the command;
             * bit 0 is the reset line, so 0xFE (and any even 0xF0-0xFE) resets. */
            return !(v & OP_RESET);
        }
        break; /* other commands: ignored */
    }
    return false;
}

bool i8042_write(struct i8042 *k, uint16_t port, uint8_t v) {
    if (port == I8042_CMD_PORT) {
        k->status |= ST_CMD;
        /* A new command starts a new transaction: the previous time-out is history. */
        k->status &= (uint8_t)~ST_TIMEOUT;
        return command_write(k, v);
    }
    if (port != I8042_DATA_PORT) return false;
    k->status &= (uint8_t) ~(ST_CMD | ST_TIMEOUT);
    return data_write(k, v);
}
