/* SPDX-License-Identifier: GPL-2.0-or-later */
/* 8042 keyboard controller and a keyboard without keys (the 8042 and PS/2
 * keyboard command sets as IBM's PS/2 technical reference and QEMU's
 * pckbd.c/ps2.c have them). The controller's own replies go straight into
 * the output buffer; the keyboard's bytes wait in a queue and move there
 * when it is empty and the keyboard interface is enabled. IRQ 1 (12 for an
 * AUX byte) is the output buffer's fullness, gated by the command byte. */
#include "devices/i8042.h"

#include <stdlib.h>

/* Keyboard commands and replies */
#define KBD_CMD_SET_LEDS    0xed
#define KBD_CMD_ECHO        0xee
#define KBD_CMD_SCAN_SET    0xf0
#define KBD_CMD_GET_ID      0xf2
#define KBD_CMD_SET_RATE    0xf3
#define KBD_CMD_ENABLE      0xf4
#define KBD_CMD_DISABLE     0xf5
#define KBD_CMD_DEFAULTS    0xf6
#define KBD_CMD_RESET       0xff
#define KBD_REPLY_ACK       0xfa
#define KBD_REPLY_RESEND    0xfe
#define KBD_REPLY_POR       0xaa    /* power-on reset / BAT passed */

static void i8042_request_reset(I8042State *s)
{
    if (s->reset_request)
        s->reset_request(s->opaque);
}

static void i8042_update_irq(I8042State *s)
{
    int l1 = s->ob_full && !s->ob_aux && (s->ctr & I8042_CTR_KBDINT);
    int l12 = s->ob_full && s->ob_aux && (s->ctr & I8042_CTR_AUXINT);
    if (l1 != s->irq1_level) {
        s->irq1_level = (uint8_t)l1;
        if (s->irq1)
            set_irq(s->irq1, l1);
    }
    if (l12 != s->irq12_level) {
        s->irq12_level = (uint8_t)l12;
        if (s->irq12)
            set_irq(s->irq12, l12);
    }
}

/* A keyboard byte moves into an empty output buffer unless the keyboard
 * interface is disabled. */
static void i8042_refill(I8042State *s)
{
    if (s->ob_full || !s->kbd_count || (s->ctr & I8042_CTR_KBDDIS))
        return;
    s->ob = s->kbd_q[s->kbd_head];
    s->kbd_head = (uint8_t)((s->kbd_head + 1) % I8042_KBD_QUEUE);
    s->kbd_count--;
    s->ob_full = 1;
    s->ob_aux = 0;
}

/* A controller reply (or a byte written into the buffer by 0xd2/0xd3). */
static void i8042_reply(I8042State *s, uint8_t v, int aux)
{
    s->ob = v;
    s->ob_full = 1;
    s->ob_aux = (uint8_t)aux;
}

static void kbd_put(I8042State *s, uint8_t v)
{
    if (s->kbd_count == I8042_KBD_QUEUE)
        return;     /* the keyboard's buffer is full: the byte is lost */
    s->kbd_q[(s->kbd_head + s->kbd_count) % I8042_KBD_QUEUE] = v;
    s->kbd_count++;
}

/* With translation the controller turns set-2 codes into set 1; of what
 * this keyboard ever sends only the second ID byte and the set number
 * differ (QEMU's translate table). */
static uint8_t kbd_xlate(const I8042State *s, uint8_t v)
{
    if (!(s->ctr & I8042_CTR_XLATE))
        return v;
    switch (v) {
    case 0x83: return 0x41;
    case 0x01: return 0x43;
    case 0x02: return 0x41;
    case 0x03: return 0x3f;
    default:   return v;
    }
}

static void kbd_reset_state(I8042State *s)
{
    s->kbd_pending = 0;
    s->kbd_scanning = 1;
    s->kbd_set = 2;
}

/* A byte the host sends to the keyboard. */
static void kbd_write(I8042State *s, uint8_t v)
{
    if (s->kbd_pending) {
        uint8_t cmd = s->kbd_pending;
        s->kbd_pending = 0;
        kbd_put(s, KBD_REPLY_ACK);
        if (cmd == KBD_CMD_SCAN_SET) {
            if (v == 0)
                kbd_put(s, kbd_xlate(s, s->kbd_set));
            else if (v <= 3)
                s->kbd_set = v;
        }
        return;
    }
    switch (v) {
    case KBD_CMD_SET_LEDS:
    case KBD_CMD_SCAN_SET:
    case KBD_CMD_SET_RATE:
        s->kbd_pending = v;
        kbd_put(s, KBD_REPLY_ACK);
        break;
    case KBD_CMD_ECHO:
        kbd_put(s, KBD_CMD_ECHO);
        break;
    case KBD_CMD_GET_ID:
        kbd_put(s, KBD_REPLY_ACK);
        kbd_put(s, 0xab);
        kbd_put(s, kbd_xlate(s, 0x83));
        break;
    case KBD_CMD_ENABLE:
        s->kbd_scanning = 1;
        kbd_put(s, KBD_REPLY_ACK);
        break;
    case KBD_CMD_DISABLE:
    case KBD_CMD_DEFAULTS:
        kbd_reset_state(s);
        s->kbd_scanning = v == KBD_CMD_DEFAULTS;
        kbd_put(s, KBD_REPLY_ACK);
        break;
    case KBD_CMD_RESET:
        kbd_reset_state(s);
        kbd_put(s, KBD_REPLY_ACK);
        kbd_put(s, KBD_REPLY_POR);
        break;
    default:
        if (v >= 0xf7)      /* 0xf7-0xfd: typematic/make-break modes, 0xfe resend */
            kbd_put(s, KBD_REPLY_ACK);
        else
            kbd_put(s, KBD_REPLY_RESEND);
        break;
    }
}

static void i8042_write_outport(I8042State *s, uint8_t v)
{
    s->outport = v;
    if (!(v & I8042_OUT_RESET))
        i8042_request_reset(s);
}

static void i8042_command(I8042State *s, uint8_t cmd)
{
    if (cmd >= I8042_CMD_READ_CTR && cmd < I8042_CMD_READ_CTR + 0x20) {
        /* RAM bytes other than the command byte read 0 here. */
        i8042_reply(s, cmd == I8042_CMD_READ_CTR ? s->ctr : 0, 0);
        return;
    }
    if ((cmd >= I8042_CMD_WRITE_CTR && cmd < I8042_CMD_WRITE_CTR + 0x20) || cmd == I8042_CMD_WRITE_OUT ||
        cmd == I8042_CMD_KBD_LOOP || cmd == I8042_CMD_AUX_LOOP || cmd == I8042_CMD_AUX_SEND) {
        s->pending = cmd;
        return;
    }
    if ((cmd & 0xf0) == I8042_CMD_PULSE) {
        /* Lines whose bit is 0 pulse low for ~6 us; line 0 is the CPU reset. */
        if (!(cmd & 1))
            i8042_request_reset(s);
        return;
    }
    switch (cmd) {
    case I8042_CMD_SELF_TEST:
        s->status |= I8042_STR_SYS;
        i8042_reply(s, I8042_SELF_TEST_OK, 0);
        break;
    case I8042_CMD_KBD_TEST:
    case I8042_CMD_AUX_TEST:
        i8042_reply(s, 0x00, 0);    /* no clock or data line stuck */
        break;
    case I8042_CMD_KBD_DIS:
        s->ctr |= I8042_CTR_KBDDIS;
        break;
    case I8042_CMD_KBD_EN:
        s->ctr &= (uint8_t)~I8042_CTR_KBDDIS;
        break;
    case I8042_CMD_READ_IN:
        i8042_reply(s, 0x00, 0);
        break;
    case I8042_CMD_READ_OUT:
        i8042_reply(s, s->outport, 0);
        break;
    case I8042_CMD_READ_TEST:
        i8042_reply(s, 0x00, 0);
        break;
    case I8042_CMD_A20_OFF:
        s->outport &= (uint8_t)~I8042_OUT_A20;
        break;
    case I8042_CMD_A20_ON:
        s->outport |= I8042_OUT_A20;
        break;
    default:
        /* 0xa7/0xa8 (no AUX port: the command byte keeps its AUX bit),
         * password and vendor commands: nothing. */
        break;
    }
}

static void i8042_data_byte(I8042State *s, uint8_t v)
{
    uint8_t cmd = s->pending;
    s->pending = 0;
    if (cmd >= I8042_CMD_WRITE_CTR && cmd < I8042_CMD_WRITE_CTR + 0x20) {
        if (cmd == I8042_CMD_WRITE_CTR) {
            s->ctr = v;
            /* The system flag of the status register follows the command byte. */
            s->status = (uint8_t)((s->status & ~I8042_STR_SYS) | (v & I8042_CTR_SYS));
        }
        return;
    }
    switch (cmd) {
    case I8042_CMD_WRITE_OUT:
        i8042_write_outport(s, v);
        break;
    case I8042_CMD_KBD_LOOP:
        i8042_reply(s, v, 0);
        break;
    case I8042_CMD_AUX_LOOP:
        i8042_reply(s, v, 1);
        break;
    case I8042_CMD_AUX_SEND:
        break;      /* no device on the AUX port */
    default:
        kbd_write(s, v);
        break;
    }
}

static uint8_t i8042_status(const I8042State *s)
{
    return (uint8_t)((s->status & (I8042_STR_SYS | I8042_STR_CMDDAT)) | I8042_STR_KEYLOCK |
                     (s->ob_full ? I8042_STR_OBF : 0) | (s->ob_full && s->ob_aux ? I8042_STR_AUXDATA : 0));
}

static uint32_t i8042_data_read(void *opaque, uint32_t offset, int size_log2)
{
    I8042State *s = opaque;
    (void)offset, (void)size_log2;
    /* An empty buffer reads its last byte again. */
    uint8_t v = s->ob;
    s->ob_full = 0;
    s->ob_aux = 0;
    /* The line drops before the next byte comes in (real chips take a
     * while), so each byte is its own edge for the edge-triggered PIC. */
    i8042_update_irq(s);
    i8042_refill(s);
    i8042_update_irq(s);
    return v;
}

static void i8042_data_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    I8042State *s = opaque;
    (void)offset, (void)size_log2;
    s->status &= (uint8_t)~I8042_STR_CMDDAT;
    i8042_data_byte(s, (uint8_t)val);
    i8042_refill(s);
    i8042_update_irq(s);
}

static uint32_t i8042_status_read(void *opaque, uint32_t offset, int size_log2)
{
    (void)offset, (void)size_log2;
    return i8042_status(opaque);
}

static void i8042_command_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    I8042State *s = opaque;
    (void)offset, (void)size_log2;
    s->status |= I8042_STR_CMDDAT;
    s->pending = 0;     /* a command cancels one waiting for its byte */
    i8042_command(s, (uint8_t)val);
    i8042_refill(s);
    i8042_update_irq(s);
}

void i8042_reset(I8042State *s)
{
    s->ctr = I8042_CTR_KBDINT | I8042_CTR_SYS | I8042_CTR_AUXDIS | I8042_CTR_XLATE;
    s->outport = I8042_OUT_RESET | I8042_OUT_A20;
    s->status = I8042_STR_SYS;
    s->ob = 0;
    s->ob_full = 0;
    s->ob_aux = 0;
    s->pending = 0;
    s->kbd_head = 0;
    s->kbd_count = 0;
    kbd_reset_state(s);
    i8042_update_irq(s);
}

I8042State *i8042_init(IoMap *map, IRQSignal *irq1, IRQSignal *irq12, void (*reset_request)(void *opaque),
                       void *opaque)
{
    I8042State *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->irq1 = irq1;
    s->irq12 = irq12;
    s->reset_request = reset_request;
    s->opaque = opaque;
    i8042_reset(s);
    if (!iomap_register_ports(map, I8042_DATA_REG, 1, s, i8042_data_read, i8042_data_write, IO_SIZE8, "i8042-data") ||
        !iomap_register_ports(map, I8042_COMMAND_REG, 1, s, i8042_status_read, i8042_command_write, IO_SIZE8,
                              "i8042-cmd")) {
        free(s);
        return NULL;
    }
    return s;
}

/* ---- checkpoints ---- */

static int i8042_pending_ok(uint8_t p)
{
    return p == 0 || (p >= I8042_CMD_WRITE_CTR && p < I8042_CMD_WRITE_CTR + 0x20) || p == I8042_CMD_WRITE_OUT ||
           p == I8042_CMD_KBD_LOOP || p == I8042_CMD_AUX_LOOP || p == I8042_CMD_AUX_SEND;
}

void i8042_state(I8042State *s, StateIO *io)
{
    /* Loaded into a copy, so a refused checkpoint leaves the device as it was. */
    I8042State t = *s;
    state_u8(io, "ctr", &t.ctr);
    state_u8(io, "outport", &t.outport);
    state_u8(io, "status", &t.status);
    state_u8(io, "ob", &t.ob);
    state_u8(io, "ob_full", &t.ob_full);
    state_u8(io, "ob_aux", &t.ob_aux);
    state_u8(io, "pending", &t.pending);
    state_u8s(io, "kbd_q", t.kbd_q, I8042_KBD_QUEUE);
    state_u8(io, "kbd_head", &t.kbd_head);
    state_u8(io, "kbd_count", &t.kbd_count);
    state_u8(io, "kbd_pending", &t.kbd_pending);
    state_u8(io, "kbd_scanning", &t.kbd_scanning);
    state_u8(io, "kbd_set", &t.kbd_set);
    state_u8(io, "irq1_level", &t.irq1_level);
    state_u8(io, "irq12_level", &t.irq12_level);
    if (!state_loading(io) || !state_ok(io))
        return;
    state_check(io, t.ob_full <= 1 && t.ob_aux <= t.ob_full && !(t.status & ~(I8042_STR_SYS | I8042_STR_CMDDAT)) &&
                        i8042_pending_ok(t.pending) && t.kbd_head < I8042_KBD_QUEUE &&
                        t.kbd_count <= I8042_KBD_QUEUE && t.kbd_scanning <= 1 && t.kbd_set >= 1 && t.kbd_set <= 3 &&
                        (t.kbd_pending == 0 || t.kbd_pending == KBD_CMD_SET_LEDS ||
                         t.kbd_pending == KBD_CMD_SCAN_SET || t.kbd_pending == KBD_CMD_SET_RATE),
                "i8042: register value out of range");
    state_check(io, t.irq1_level == (t.ob_full && !t.ob_aux && (t.ctr & I8042_CTR_KBDINT)) &&
                        t.irq12_level == (t.ob_full && t.ob_aux && (t.ctr & I8042_CTR_AUXINT)),
                "i8042: IRQ levels %u/%u do not match the registers", t.irq1_level, t.irq12_level);
    if (state_ok(io))
        *s = t;         /* the wiring in t is s's own */
}
