/* SPDX-License-Identifier: GPL-2.0-or-later */
/* 16550A UART at register level through the port map, as COM1 (0x3f8). */
#include <string.h>

#include "check.h"
#include "base/iomem.h"
#include "devices/uart.h"

#define COM1 0x3f8

static IoMap map;
static UARTState *s;
static IRQSignal irq;
static int irq_level, irq_rises;
static uint8_t out[256];
static size_t out_len;
static int out_calls;

static void rec_irq(void *opaque, int n, int level)
{
    (void)opaque;
    CHECK_EQ(n, 4);
    if (level && !irq_level)
        irq_rises++;
    irq_level = level;
}

static void rec_out(void *opaque, const uint8_t *buf, size_t len)
{
    CHECK(opaque == &out);
    if (out_len + len <= sizeof out) {
        memcpy(out + out_len, buf, len);
        out_len += len;
    }
    out_calls++;
}

static uint8_t rd(int reg) { return (uint8_t)iomap_port_read(&map, COM1 + reg, 0); }
static void wr(int reg, uint8_t v) { iomap_port_write(&map, COM1 + reg, v, 0); }

static void setup(void)
{
    iomap_init(&map);
    irq_init(&irq, rec_irq, NULL, 4);
    irq_level = irq_rises = 0;
    out_len = 0;
    out_calls = 0;
    free(s);
    s = uart_init(&map, COM1, &irq, rec_out, &out);
    CHECK(s != NULL);
}

/* The probe sequence of Linux's 8250 autoconfig(). */
static void test_autodetect(void)
{
    setup();
    /* Reset values */
    CHECK_EQ(rd(UART_IER), 0);
    CHECK_EQ(rd(UART_IIR), 0x01);
    CHECK_EQ(rd(UART_LCR), 0);
    CHECK_EQ(rd(UART_MCR), 0);
    CHECK_EQ(rd(UART_LSR), 0x60);
    CHECK_EQ(rd(UART_MSR), 0xb0);       /* CTS, DSR, DCD from the attached terminal */

    /* IER existence test: only the low nibble is implemented (no XScale UUE) */
    wr(UART_IER, 0);
    CHECK_EQ(rd(UART_IER) & 0x0f, 0);
    wr(UART_IER, 0x0f);
    CHECK_EQ(rd(UART_IER) & 0x0f, 0x0f);
    wr(UART_IER, 0xff);
    CHECK_EQ(rd(UART_IER), 0x0f);
    wr(UART_IER, 0);

    /* Loopback test: MCR = LOOP | OUT2 | RTS -> MSR 7:4 = DCD | CTS */
    wr(UART_MCR, UART_MCR_LOOP | 0x0a);
    CHECK_EQ(rd(UART_MSR) & 0xf0, 0x90);
    wr(UART_MCR, 0);

    /* Scratch register */
    wr(UART_SCR, 0xa5);
    CHECK_EQ(rd(UART_SCR), 0xa5);
    wr(UART_SCR, 0x5a);
    CHECK_EQ(rd(UART_SCR), 0x5a);

    /* LCR 0xbf, "EFR" = 0 actually writes FCR; then FIFO enable -> IIR 7:6 = 3 */
    wr(UART_LCR, 0xbf);
    wr(UART_FCR, 0);
    wr(UART_LCR, 0);
    CHECK_EQ(rd(UART_IIR) & 0xc0, 0);
    wr(UART_FCR, 0xe7);     /* enable, clear both, 64-byte bit, trigger 14 */
    uint8_t iir = rd(UART_IIR);
    CHECK_EQ(iir, 0xc1);
    CHECK_EQ(iir >> 6, 3);  /* 16550A */
    CHECK_EQ(iir >> 5, 6);  /* bit 5 stays 0: not a 16750 */

    /* EFR probes with DLAB set must read the (nonzero) IIR, bit 4 clear */
    wr(UART_LCR, 0x80);
    CHECK_EQ(rd(UART_IIR), 0xc1);
    wr(UART_LCR, 0xe0);
    CHECK_EQ(rd(2) & UART_MCR_LOOP, 0);

    /* DLAB divisor round trip; offsets 0/1 return to RBR/IER afterwards */
    wr(UART_LCR, UART_LCR_DLAB | 0x03);
    CHECK_EQ(rd(UART_LCR), 0x83);
    wr(UART_DLL, 0x01);
    wr(UART_DLM, 0x02);
    CHECK_EQ(rd(UART_DLL), 0x01);
    CHECK_EQ(rd(UART_DLM), 0x02);
    wr(UART_LCR, 0x03);
    CHECK_EQ(rd(UART_IER), 0);
    wr(UART_IER, 0x05);
    CHECK_EQ(rd(UART_IER), 0x05);
    wr(UART_LCR, 0x83);
    CHECK_EQ(rd(UART_DLL), 0x01);
    CHECK_EQ(rd(UART_DLM), 0x02);
    wr(UART_DLL, 0x0c);         /* no byte transmitted while DLAB is set */
    CHECK_EQ(out_len, 0);
    wr(UART_LCR, 0x03);
    CHECK_EQ(rd(UART_IER), 0x05);
    CHECK_EQ(rd(UART_LCR), 0x03);

    /* FIFO off again: IIR bits 7:6 clear */
    wr(UART_FCR, 0);
    CHECK_EQ(rd(UART_IIR), 0x01);
}

static void test_tx(void)
{
    setup();
    const char *msg = "Hello, lbvm\n";
    for (const char *p = msg; *p; p++) {
        wr(UART_THR, (uint8_t)*p);
        CHECK_EQ(rd(UART_LSR) & 0x60, 0x60);    /* THR empty right after each write */
    }
    CHECK_EQ(out_len, strlen(msg));
    CHECK(memcmp(out, msg, out_len) == 0);
    CHECK_EQ(out_calls, (int)strlen(msg));      /* each byte handed out at once */
    /* Also with FIFOs on */
    wr(UART_FCR, 0xc7);
    wr(UART_THR, 0x00);
    wr(UART_THR, 0xff);
    CHECK_EQ(out_len, strlen(msg) + 2);
    CHECK_EQ(out[out_len - 2], 0x00);
    CHECK_EQ(out[out_len - 1], 0xff);
}

static void test_thre_irq(void)
{
    setup();
    /* Without OUT2 the line rises all the same, as QEMU's does (Fiwix's
     * console writes IER = RDAI | THREI with OUT2 still off and waits for
     * the THRE interrupt) */
    wr(UART_IER, UART_IER_ETBEI);
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(irq_rises, 1);
    /* Setting OUT2 changes nothing */
    wr(UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(irq_rises, 1);
    /* IIR shows THRE once, which clears it */
    CHECK_EQ(rd(UART_IIR), 0x02);
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(rd(UART_IIR), 0x01);
    /* Writing THR re-raises it (THR is empty again at once) */
    wr(UART_THR, 'x');
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(irq_rises, 2);
    CHECK_EQ(rd(UART_IIR), 0x02);
    CHECK_EQ(irq_level, 0);
    /* ETBEI 0 -> 1 with THR empty raises it again, even after an IIR read */
    wr(UART_IER, 0);
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(rd(UART_IIR), 0x01);
    wr(UART_IER, UART_IER_ETBEI);
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(irq_rises, 3);
    /* Writing IER with ETBEI already set does not re-arm a cleared THRE */
    CHECK_EQ(rd(UART_IIR), 0x02);
    wr(UART_IER, UART_IER_ETBEI);
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(rd(UART_IIR), 0x01);
    /* Line pending while OUT2 drops: the line stays up; loopback takes it
     * down (the interrupt stays internal) */
    wr(UART_THR, 'y');
    CHECK_EQ(irq_level, 1);
    wr(UART_MCR, 0);
    CHECK_EQ(irq_level, 1);
    wr(UART_MCR, UART_MCR_LOOP);
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(rd(UART_IIR), 0x02);   /* still pending internally */
    /* Writing THR while THRE is already pending makes a fresh edge */
    wr(UART_MCR, UART_MCR_OUT2);
    wr(UART_THR, 'z');
    CHECK_EQ(irq_level, 1);
    int before = irq_rises;
    wr(UART_THR, 'w');
    CHECK_EQ(irq_rises, before + 1);
    /* With FIFOs the same, with bits 7:6 set */
    wr(UART_FCR, UART_FCR_FE);
    CHECK_EQ(rd(UART_IIR), 0xc2);
    CHECK_EQ(rd(UART_IIR), 0xc1);
    CHECK_EQ(irq_level, 0);
    /* Master reset lowers the line */
    wr(UART_THR, 'v');
    CHECK_EQ(irq_level, 1);
    uart_reset(s);
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(rd(UART_IIR), 0x01);
    CHECK_EQ(rd(UART_IER), 0);
}

static void test_rx_fifo(void)
{
    setup();
    wr(UART_MCR, UART_MCR_OUT2);
    wr(UART_FCR, UART_FCR_FE | 0x40);       /* trigger level 4 */
    wr(UART_IER, UART_IER_ERBFI);
    CHECK_EQ(uart_rx_room(s), 16);
    CHECK_EQ(rd(UART_LSR) & UART_LSR_DR, 0);
    CHECK_EQ(irq_level, 0);

    const uint8_t in[] = { 'a', 'b', 'c', 'd', 'e' };
    CHECK_EQ(uart_receive(s, in, 3), 3);
    CHECK_EQ(rd(UART_LSR), 0x61);
    CHECK_EQ(rd(UART_IIR), 0xcc);           /* below trigger: timeout indication */
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(uart_rx_room(s), 13);
    CHECK_EQ(uart_receive(s, in + 3, 1), 1);
    CHECK_EQ(rd(UART_IIR), 0xc4);           /* trigger level reached */
    CHECK_EQ(rd(UART_IIR), 0xc4);           /* IIR read does not clear RX data */
    CHECK_EQ(rd(UART_RBR), 'a');
    CHECK_EQ(rd(UART_IIR), 0xcc);           /* back below the trigger level */
    CHECK_EQ(rd(UART_RBR), 'b');
    CHECK_EQ(rd(UART_RBR), 'c');
    CHECK_EQ(rd(UART_LSR) & UART_LSR_DR, 1);
    CHECK_EQ(rd(UART_RBR), 'd');
    CHECK_EQ(rd(UART_LSR) & UART_LSR_DR, 0);
    CHECK_EQ(rd(UART_IIR), 0xc1);
    CHECK_EQ(irq_level, 0);

    /* Trigger level 1: a single byte is "data available" */
    wr(UART_FCR, UART_FCR_FE);
    CHECK_EQ(uart_receive(s, in + 4, 1), 1);
    CHECK_EQ(rd(UART_IIR), 0xc4);
    /* FCR RX reset empties the FIFO */
    wr(UART_FCR, UART_FCR_FE | UART_FCR_RFR);
    CHECK_EQ(rd(UART_LSR) & UART_LSR_DR, 0);
    CHECK_EQ(rd(UART_IIR), 0xc1);
    /* Trigger level 14 */
    wr(UART_FCR, UART_FCR_FE | 0xc0);
    uint8_t many[20];
    for (int i = 0; i < 20; i++)
        many[i] = (uint8_t)(0x30 + i);
    CHECK_EQ(uart_receive(s, many, 13), 13);
    CHECK_EQ(rd(UART_IIR), 0xcc);
    /* A full FIFO accepts only what fits, and no overrun is flagged */
    CHECK_EQ(uart_receive(s, many + 13, 7), 3);
    CHECK_EQ(rd(UART_IIR), 0xc4);
    CHECK_EQ(uart_rx_room(s), 0);
    CHECK_EQ(uart_receive(s, many, 1), 0);
    CHECK_EQ(rd(UART_LSR), 0x61);
    for (int i = 0; i < 16; i++)
        CHECK_EQ(rd(UART_RBR), 0x30 + i);
    CHECK_EQ(uart_rx_room(s), 16);
    CHECK_EQ(rd(UART_LSR), 0x60);
    CHECK_EQ(rd(UART_RBR), 0x3f);           /* empty: repeats the last character */

    /* Disabling the FIFOs flushes them */
    CHECK_EQ(uart_receive(s, in, 2), 2);
    wr(UART_FCR, 0);
    CHECK_EQ(rd(UART_LSR) & UART_LSR_DR, 0);
    CHECK_EQ(uart_rx_room(s), 1);
}

static void test_rx_nofifo_overrun(void)
{
    setup();
    wr(UART_MCR, UART_MCR_OUT2);
    wr(UART_IER, UART_IER_ERBFI);
    const uint8_t in[] = { 'p', 'q' };
    /* Host input: one byte fits without FIFOs, the rest waits (no overrun) */
    CHECK_EQ(uart_rx_room(s), 1);
    CHECK_EQ(uart_receive(s, in, 2), 1);
    CHECK_EQ(rd(UART_LSR), 0x61);
    CHECK_EQ(rd(UART_IIR), 0x04);           /* 16450 mode: data available at once */
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(rd(UART_RBR), 'p');
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(uart_receive(s, in + 1, 1), 1);
    CHECK_EQ(rd(UART_RBR), 'q');

    /* Overrun through loopback, where the guest outruns its own reads */
    wr(UART_MCR, UART_MCR_LOOP);
    wr(UART_THR, '1');
    wr(UART_THR, '2');
    CHECK_EQ(rd(UART_LSR), 0x63);           /* DR | OE */
    CHECK_EQ(rd(UART_LSR), 0x61);           /* OE clears on read */
    CHECK_EQ(rd(UART_RBR), '2');            /* the new character overwrote RBR */
    CHECK_EQ(rd(UART_LSR), 0x60);
    /* With FIFOs the 17th character is lost instead */
    wr(UART_FCR, UART_FCR_FE);
    for (int i = 0; i < 17; i++)
        wr(UART_THR, (uint8_t)('A' + i));
    CHECK_EQ(rd(UART_LSR), 0x63);
    for (int i = 0; i < 16; i++)
        CHECK_EQ(rd(UART_RBR), 'A' + i);
    CHECK_EQ(rd(UART_LSR), 0x60);
    CHECK_EQ(out_len, 0);
}

static void test_loopback(void)
{
    setup();
    CHECK_EQ(rd(UART_MSR), 0xb0);
    /* All four outputs on: MSR mirrors them; CTS/DSR/DCD were already high */
    wr(UART_MCR, UART_MCR_LOOP | 0x0f);
    CHECK_EQ(rd(UART_MSR), 0xf0);
    /* All off: deltas for CTS, DSR, DCD and the RI trailing edge */
    wr(UART_MCR, UART_MCR_LOOP);
    CHECK_EQ(rd(UART_MSR), 0x0f);
    CHECK_EQ(rd(UART_MSR), 0x00);           /* deltas clear on read */
    /* One at a time: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD */
    wr(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
    CHECK_EQ(rd(UART_MSR), UART_MSR_CTS | UART_MSR_DCTS);
    wr(UART_MCR, UART_MCR_LOOP | UART_MCR_DTR);
    CHECK_EQ(rd(UART_MSR), UART_MSR_DSR | UART_MSR_DDSR | UART_MSR_DCTS);
    wr(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT1);
    CHECK_EQ(rd(UART_MSR), UART_MSR_RI | UART_MSR_DDSR);    /* RI rising: no TERI */
    wr(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
    CHECK_EQ(rd(UART_MSR), UART_MSR_DCD | UART_MSR_DDCD | UART_MSR_TERI);

    /* THR bytes come back through RBR and not out of the port */
    wr(UART_FCR, UART_FCR_FE);
    wr(UART_THR, 'L');
    wr(UART_THR, 'B');
    CHECK_EQ(out_len, 0);
    CHECK_EQ(rd(UART_LSR), 0x61);
    CHECK_EQ(rd(UART_RBR), 'L');
    CHECK_EQ(rd(UART_RBR), 'B');
    /* Host input waits while the receiver listens to the transmitter */
    const uint8_t h = 'h';
    CHECK_EQ(uart_rx_room(s), 0);
    CHECK_EQ(uart_receive(s, &h, 1), 0);
    /* The interrupt works internally but OUT2 is forced off on the pin */
    wr(UART_IER, UART_IER_ERBFI);
    wr(UART_THR, 'i');
    CHECK_EQ(rd(UART_IIR), 0xc4);
    CHECK_EQ(irq_level, 0);
    /* Leaving loopback: the pin comes back, MSR returns to the inputs */
    wr(UART_MCR, UART_MCR_OUT2);
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(rd(UART_MSR), 0xb0 | UART_MSR_DCTS | UART_MSR_DDSR);
    CHECK_EQ(rd(UART_RBR), 'i');
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(uart_receive(s, &h, 1), 1);
    CHECK_EQ(rd(UART_RBR), 'h');
}

static void test_priority(void)
{
    setup();
    wr(UART_MCR, UART_MCR_OUT2);
    wr(UART_IER, 0x0f);
    /* ETBEI just enabled -> THRE pending */
    CHECK_EQ(irq_level, 1);
    /* Make every source pending: a modem status delta via loopback, an
     * overrun and received data (FIFOs off). */
    wr(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_RTS);
    wr(UART_THR, 'x');
    wr(UART_THR, 'y');
    wr(UART_MCR, UART_MCR_OUT2 | UART_MCR_RTS);     /* out of loopback, data stays */
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(rd(UART_IIR), 0x06);           /* line status first */
    CHECK_EQ(rd(UART_IIR), 0x06);           /* ... until LSR is read */
    CHECK_EQ(rd(UART_LSR), 0x63);
    CHECK_EQ(rd(UART_IIR), 0x04);           /* then received data */
    CHECK_EQ(rd(UART_RBR), 'y');
    CHECK_EQ(rd(UART_IIR), 0x02);           /* then THR empty, cleared by this read */
    CHECK_EQ(rd(UART_IIR), 0x00);           /* then modem status */
    CHECK(rd(UART_MSR) & UART_MSR_DELTA);
    CHECK_EQ(rd(UART_IIR), 0x01);
    CHECK_EQ(irq_level, 0);

    /* Masked sources do not show: only ELSI off -> RX data is first */
    wr(UART_IER, UART_IER_ERBFI);
    wr(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
    wr(UART_THR, '1');
    wr(UART_THR, '2');
    wr(UART_MCR, UART_MCR_OUT2);
    CHECK_EQ(rd(UART_IIR), 0x04);
    CHECK_EQ(irq_level, 1);
    /* THRE pending behind RX data is reported once RX is drained */
    wr(UART_IER, UART_IER_ERBFI | UART_IER_ETBEI);
    CHECK_EQ(rd(UART_IIR), 0x04);
    CHECK_EQ(rd(UART_RBR), '2');
    CHECK_EQ(rd(UART_IIR), 0x02);
    CHECK_EQ(rd(UART_IIR), 0x01);
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(out_len, 0);
}

/* Fiwix 1.5's serial driver (facts from its source): the FIFO probe writes
 * FCR 0xef and wants IIR bits 7:6 set with bit 5 clear (a 16550A, not a
 * 16750); output is interrupt-driven only: IER = RDAI | THREI to start, an
 * IRQ 4 handler that loops while IIR shows an interrupt and on THRE writes
 * up to 16 bytes, and IER = RDAI once its queue is empty. */
static void test_fiwix(void)
{
    setup();
    wr(UART_FCR, 0xef);
    uint8_t iir = rd(UART_IIR);
    CHECK_EQ(iir & 0xe0, 0xc0);
    wr(UART_IER, 0);
    wr(UART_LCR, UART_LCR_DLAB);
    wr(UART_DLL, 12);
    wr(UART_DLM, 0);
    wr(UART_LCR, 0x03);
    wr(UART_FCR, UART_FCR_FE | 0xc0);
    wr(UART_MCR, UART_MCR_OUT2 | UART_MCR_RTS | UART_MCR_DTR);
    wr(UART_IER, UART_IER_ERBFI);
    rd(UART_RBR);
    rd(UART_IIR);
    rd(UART_LSR);
    rd(UART_MSR);
    CHECK_EQ(irq_level, 0);
    /* 40 bytes queued: serial_start, then the handler until IIR says none. */
    const char *msg = "Fiwix 1.5.0-lb1 serial console output..\n";
    size_t n = strlen(msg), sent = 0;
    for (int round = 0; round < 2; round++) {
        int rises = irq_rises;
        wr(UART_IER, UART_IER_ERBFI | UART_IER_ETBEI);
        CHECK_EQ(irq_level, 1);
        CHECK_EQ(irq_rises, rises + 1);
        int loops = 0;
        while (!(rd(UART_IIR) & UART_IIR_NO_INT) && loops++ < 100) {
            uint8_t lsr = rd(UART_LSR);
            if (lsr & UART_LSR_THRE) {
                if (sent == n) {
                    wr(UART_IER, UART_IER_ERBFI);
                    continue;
                }
                for (int c = 0; c < 16 && sent < n; c++)
                    wr(UART_THR, (uint8_t)msg[sent++]);
                if (sent == n)
                    wr(UART_IER, UART_IER_ERBFI);
            }
        }
        CHECK(loops < 100);
        CHECK_EQ(irq_level, 0);
        CHECK_EQ(sent, n);
        CHECK_EQ(out_len, n * (size_t)(round + 1));
        sent = 0;
    }
    CHECK(!memcmp(out, msg, n) && !memcmp(out + n, msg, n));
}

int main(void)
{
    test_autodetect();
    test_tx();
    test_thre_irq();
    test_rx_fifo();
    test_rx_nofifo_overrun();
    test_loopback();
    test_priority();
    test_fiwix();
    free(s);
    return check_done();
}
