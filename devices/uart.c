/* SPDX-License-Identifier: GPL-2.0-or-later */
/* 16550A UART (NS PC16550D datasheet). Transmission is instantaneous: a
 * byte written to THR leaves at once, so THR and the XMIT FIFO are always
 * empty and THRE/TEMT always read 1. There is no baud-rate timing at all,
 * which keeps the device a pure function of guest accesses and host input. */
#include "devices/uart.h"

#include <stdlib.h>

static const uint8_t uart_trigger_level[4] = { 1, 4, 8, 14 };

static int uart_rx_capacity(const UARTState *s)
{
    return (s->fcr & UART_FCR_FE) ? UART_FIFO_SIZE : 1;
}

static void uart_rx_clear(UARTState *s)
{
    s->rx_head = 0;
    s->rx_count = 0;
}

/* Interrupt identification with the datasheet priorities (table IV):
 * line status > received data / timeout > THR empty > modem status. */
static uint8_t uart_iir(const UARTState *s)
{
    uint8_t id = UART_IIR_NO_INT;
    if ((s->ier & UART_IER_ELSI) && (s->lsr_errors & UART_LSR_ERRORS)) {
        id = UART_IIR_RLSI;
    } else if ((s->ier & UART_IER_ERBFI) && s->rx_count) {
        /* The real character timeout fires after 4 character times with
         * no FIFO activity. Devices do not own time, so data below the
         * trigger level is reported as a timeout right away: the guest
         * sees every byte at once, and the IIR still tells trigger-level
         * (0x4) from timeout (0xc) as a 16550A does. */
        if (!(s->fcr & UART_FCR_FE) || s->rx_count >= uart_trigger_level[s->fcr >> 6])
            id = UART_IIR_RDI;
        else
            id = UART_IIR_CTI;
    } else if ((s->ier & UART_IER_ETBEI) && s->thr_ipending) {
        id = UART_IIR_THRI;
    } else if ((s->ier & UART_IER_EDSSI) && (s->msr & UART_MSR_DELTA)) {
        id = UART_IIR_MSI;
    }
    if (s->fcr & UART_FCR_FE)
        id |= UART_IIR_FIFO;
    return id;
}

static int uart_irq_wanted(const UARTState *s)
{
    /* On a real PC the (active-low) OUT2 pin gates the IRQ driver. QEMU's
     * 16550 ignores OUT2 (hw/char/serial.c, serial_update_irq), and guests
     * made on QEMU rely on it: Fiwix sets OUT2 only when its tty is opened,
     * yet its console before that is driven by THRE interrupts alone, and
     * prints nothing with the gate. So, as QEMU: OUT2 does not gate. In
     * loopback the datasheet forces the modem outputs inactive, so the
     * interrupt stays internal (IIR still reports it) and the line is off. */
    return !(uart_iir(s) & UART_IIR_NO_INT) && !(s->mcr & UART_MCR_LOOP);
}

static void uart_update_irq(UARTState *s)
{
    int level = uart_irq_wanted(s);
    if (level != s->irq_level) {
        s->irq_level = (uint8_t)level;
        if (s->irq)
            set_irq(s->irq, level);
    }
}

/* Recompute MSR 7:4 from the inputs (or from MCR in loopback, where
 * RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD) and latch the deltas. */
static void uart_update_msr(UARTState *s)
{
    uint8_t lines;
    if (s->mcr & UART_MCR_LOOP)
        lines = ((s->mcr & UART_MCR_RTS) ? UART_MSR_CTS : 0) |
                ((s->mcr & UART_MCR_DTR) ? UART_MSR_DSR : 0) |
                ((s->mcr & UART_MCR_OUT1) ? UART_MSR_RI : 0) |
                ((s->mcr & UART_MCR_OUT2) ? UART_MSR_DCD : 0);
    else
        lines = s->modem_in & 0xf0;
    uint8_t old = s->msr & 0xf0, changed = old ^ lines, delta = 0;
    if (changed & UART_MSR_CTS)
        delta |= UART_MSR_DCTS;
    if (changed & UART_MSR_DSR)
        delta |= UART_MSR_DDSR;
    if (changed & UART_MSR_DCD)
        delta |= UART_MSR_DDCD;
    if ((old & UART_MSR_RI) && !(lines & UART_MSR_RI))
        delta |= UART_MSR_TERI;     /* trailing edge only */
    s->msr = lines | (s->msr & UART_MSR_DELTA) | delta;
}

/* A character arriving from the receiver shift register. Returns 0 on overrun. */
static int uart_rx_push(UARTState *s, uint8_t c)
{
    if (s->rx_count < uart_rx_capacity(s)) {
        s->rx_fifo[(s->rx_head + s->rx_count) % UART_FIFO_SIZE] = c;
        s->rx_count++;
        return 1;
    }
    s->lsr_errors |= UART_LSR_OE;
    /* 16450 mode: the new character overwrites RBR. With FIFOs it stays
     * in the shift register and is lost. */
    if (!(s->fcr & UART_FCR_FE))
        s->rx_fifo[s->rx_head] = c;
    return 0;
}

static uint8_t uart_lsr(const UARTState *s)
{
    /* RXFE would flag PE/FE/BI characters inside the FIFO; none arrive
     * (host input has no framing), so only OE can be set. */
    return s->lsr_errors | (s->rx_count ? UART_LSR_DR : 0) | UART_LSR_THRE | UART_LSR_TEMT;
}

static void uart_write_thr(UARTState *s, uint8_t c)
{
    /* Writing THR clears the THRE interrupt; the byte then leaves at once
     * and THR is empty again, which re-raises it (a fresh edge). */
    s->thr_ipending = 0;
    uart_update_irq(s);
    if (s->mcr & UART_MCR_LOOP)
        uart_rx_push(s, c);
    else if (s->write_out)
        s->write_out(s->opaque, &c, 1);
    s->thr_ipending = 1;
}

static void uart_write_fcr(UARTState *s, uint8_t val)
{
    if (!(val & UART_FCR_FE)) {
        /* Clearing FCR0 empties both FIFOs; the other bits only program
         * while FCR0 is written as 1. */
        if (s->fcr & UART_FCR_FE)
            uart_rx_clear(s);
        s->fcr = 0;
        return;
    }
    if (!(s->fcr & UART_FCR_FE) || (val & UART_FCR_RFR))
        uart_rx_clear(s);
    /* UART_FCR_TFR: the XMIT FIFO is always empty. Bits 5:4 are reserved
     * on the 16550A (a 16750 would show bit 5 in IIR). */
    s->fcr = val & (UART_FCR_FE | UART_FCR_DMS | UART_FCR_RTL);
}

static uint32_t uart_read(void *opaque, uint32_t offset, int size_log2)
{
    UARTState *s = opaque;
    uint8_t v = 0;
    (void)size_log2;
    switch (offset & 7) {
    case UART_RBR:
        if (s->lcr & UART_LCR_DLAB) {
            v = s->dll;
            break;
        }
        if (s->rx_count) {
            s->rbr = s->rx_fifo[s->rx_head];
            s->rx_head = (s->rx_head + 1) % UART_FIFO_SIZE;
            s->rx_count--;
        }
        v = s->rbr;     /* an empty receiver repeats the last character */
        break;
    case UART_IER:
        v = (s->lcr & UART_LCR_DLAB) ? s->dlm : s->ier;
        break;
    case UART_IIR:
        v = uart_iir(s);
        /* Reading IIR while it names THRE clears that interrupt. */
        if ((v & UART_IIR_ID) == UART_IIR_THRI)
            s->thr_ipending = 0;
        break;
    case UART_LCR:
        v = s->lcr;
        break;
    case UART_MCR:
        v = s->mcr;
        break;
    case UART_LSR:
        v = uart_lsr(s);
        s->lsr_errors = 0;
        break;
    case UART_MSR:
        v = s->msr;
        s->msr &= ~UART_MSR_DELTA;
        break;
    case UART_SCR:
        v = s->scr;
        break;
    }
    uart_update_irq(s);
    return v;
}

static void uart_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    UARTState *s = opaque;
    uint8_t v = (uint8_t)val;
    (void)size_log2;
    switch (offset & 7) {
    case UART_THR:
        if (s->lcr & UART_LCR_DLAB)
            s->dll = v;
        else
            uart_write_thr(s, v);
        break;
    case UART_IER:
        if (s->lcr & UART_LCR_DLAB) {
            s->dlm = v;
        } else {
            uint8_t old = s->ier;
            s->ier = v & 0x0f;
            /* Setting ETBEI while THR is empty (it always is) raises the
             * THRE interrupt even if an IIR read had cleared it; Linux's
             * serial8250_do_startup tests for exactly this. */
            if ((old ^ s->ier) & UART_IER_ETBEI)
                s->thr_ipending = (s->ier & UART_IER_ETBEI) ? 1 : 0;
        }
        break;
    case UART_FCR:
        uart_write_fcr(s, v);
        break;
    case UART_LCR:
        s->lcr = v;     /* word length, parity and break have no effect here */
        break;
    case UART_MCR:
        s->mcr = v & 0x1f;
        uart_update_msr(s);
        break;
    case UART_LSR:
    case UART_MSR:
        break;          /* factory test registers: writes ignored */
    case UART_SCR:
        s->scr = v;
        break;
    }
    uart_update_irq(s);
}

void uart_reset(UARTState *s)
{
    /* Master reset (datasheet table III); the divisor latch and the
     * scratch register are not affected. */
    s->ier = 0;
    s->lcr = 0;
    s->mcr = 0;
    s->fcr = 0;
    s->lsr_errors = 0;
    s->rbr = 0;
    s->thr_ipending = 0;
    uart_rx_clear(s);
    s->msr = s->modem_in & 0xf0;
    uart_update_irq(s);
}

UARTState *uart_init(IoMap *map, uint32_t base, IRQSignal *irq, UARTWriteFunc *write_out, void *opaque)
{
    UARTState *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->irq = irq;
    s->write_out = write_out;
    s->opaque = opaque;
    /* A terminal is attached: CTS, DSR and DCD asserted, no ring. */
    s->modem_in = UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;
    s->dll = 12;        /* 9600 baud at 1.8432 MHz; the chip leaves it undefined */
    uart_reset(s);
    if (!iomap_register_ports(map, base, 8, s, uart_read, uart_write, IO_SIZE8, "uart")) {
        free(s);
        return NULL;
    }
    return s;
}

int uart_rx_room(UARTState *s)
{
    /* In loopback the SIN pin is disconnected from the receiver: host
     * input waits until loopback ends. */
    if (s->mcr & UART_MCR_LOOP)
        return 0;
    return uart_rx_capacity(s) - s->rx_count;
}

int uart_receive(UARTState *s, const uint8_t *buf, int len)
{
    int n = 0, room = uart_rx_room(s);
    while (n < len && n < room)
        uart_rx_push(s, buf[n++]);
    uart_update_irq(s);
    return n;
}

/* ---- checkpoints ---- */

void uart_state(UARTState *s, StateIO *io)
{
    /* Loaded into a copy, so a refused checkpoint leaves the device as it was. */
    UARTState t = *s;
    state_u8(io, "ier", &t.ier);
    state_u8(io, "lcr", &t.lcr);
    state_u8(io, "mcr", &t.mcr);
    state_u8(io, "scr", &t.scr);
    state_u8(io, "fcr", &t.fcr);
    state_u8(io, "dll", &t.dll);
    state_u8(io, "dlm", &t.dlm);
    state_u8(io, "lsr_errors", &t.lsr_errors);
    state_u8(io, "msr", &t.msr);
    state_u8(io, "modem_in", &t.modem_in);
    state_u8(io, "rbr", &t.rbr);
    state_u8(io, "thr_ipending", &t.thr_ipending);
    state_u8(io, "irq_level", &t.irq_level);
    state_u8s(io, "rx_fifo", t.rx_fifo, UART_FIFO_SIZE);
    state_u8(io, "rx_head", &t.rx_head);
    state_u8(io, "rx_count", &t.rx_count);
    if (!state_loading(io) || !state_ok(io))
        return;
    /* rx_head indexes rx_fifo; rx_count bounds the ring and uart_rx_room. */
    state_check(io, t.rx_head < UART_FIFO_SIZE && t.rx_count <= uart_rx_capacity(&t),
                "UART: RX FIFO position %u / count %u out of range (FCR %#x)", t.rx_head, t.rx_count, t.fcr);
    state_check(io, !(t.ier & ~0x0f) && !(t.mcr & ~0x1f) && !(t.fcr & ~(UART_FCR_FE | UART_FCR_DMS | UART_FCR_RTL)) &&
                        !(t.lsr_errors & ~UART_LSR_ERRORS) && !(t.modem_in & 0x0f),
                "UART: register value out of range");
    state_check(io, t.thr_ipending <= 1 && t.irq_level <= 1, "UART: interrupt latch out of range");
    state_check(io, t.irq_level == uart_irq_wanted(&t), "UART: IRQ level %u does not match the registers",
                t.irq_level);
    if (!state_ok(io))
        return;
    *s = t;             /* the wiring in t is s's own */
}
