/* SPDX-License-Identifier: GPL-2.0-or-later */
/* National Semiconductor PC16550D UART (the 16550A Linux detects), one
 * channel, as the PC's COM ports: 8 registers, IRQ gated by MCR.OUT2. */
#ifndef LBVM_UART_H
#define LBVM_UART_H
#include <stddef.h>
#include <stdint.h>

#include "base/iomem.h"
#include "base/state.h"

/* Register offsets (DLAB = LCR bit 7 turns offsets 0/1 into DLL/DLM) */
#define UART_RBR 0      /* read */
#define UART_THR 0      /* write */
#define UART_DLL 0      /* DLAB = 1 */
#define UART_IER 1
#define UART_DLM 1      /* DLAB = 1 */
#define UART_IIR 2      /* read */
#define UART_FCR 2      /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_ERBFI 0x01     /* received data available */
#define UART_IER_ETBEI 0x02     /* THR empty */
#define UART_IER_ELSI  0x04     /* receiver line status */
#define UART_IER_EDSSI 0x08     /* modem status */

/* IIR bits 3:0 name the highest-priority pending interrupt */
#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI    0x00    /* modem status */
#define UART_IIR_THRI   0x02    /* THR empty */
#define UART_IIR_RDI    0x04    /* received data available */
#define UART_IIR_RLSI   0x06    /* receiver line status */
#define UART_IIR_CTI    0x0c    /* character timeout */
#define UART_IIR_ID     0x0f
#define UART_IIR_FIFO   0xc0    /* both set when FCR0 = 1 */

#define UART_FCR_FE     0x01    /* FIFO enable */
#define UART_FCR_RFR    0x02    /* RCVR FIFO reset */
#define UART_FCR_TFR    0x04    /* XMIT FIFO reset */
#define UART_FCR_DMS    0x08    /* DMA mode select */
#define UART_FCR_RTL    0xc0    /* RCVR trigger: 1, 4, 8, 14 bytes */

#define UART_LCR_SB     0x40    /* set break */
#define UART_LCR_DLAB   0x80

#define UART_MCR_DTR    0x01
#define UART_MCR_RTS    0x02
#define UART_MCR_OUT1   0x04
#define UART_MCR_OUT2   0x08
#define UART_MCR_LOOP   0x10

#define UART_LSR_DR     0x01
#define UART_LSR_OE     0x02
#define UART_LSR_PE     0x04
#define UART_LSR_FE     0x08
#define UART_LSR_BI     0x10
#define UART_LSR_THRE   0x20
#define UART_LSR_TEMT   0x40
#define UART_LSR_RXFE   0x80    /* error in RCVR FIFO */
#define UART_LSR_ERRORS (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)

#define UART_MSR_DCTS   0x01
#define UART_MSR_DDSR   0x02
#define UART_MSR_TERI   0x04
#define UART_MSR_DDCD   0x08
#define UART_MSR_CTS    0x10
#define UART_MSR_DSR    0x20
#define UART_MSR_RI     0x40
#define UART_MSR_DCD    0x80
#define UART_MSR_DELTA  0x0f

#define UART_FIFO_SIZE 16

typedef void UARTWriteFunc(void *opaque, const uint8_t *buf, size_t len);

typedef struct UARTState {
    /* wiring */
    IRQSignal *irq;
    UARTWriteFunc *write_out;
    void *opaque;
    /* guest-visible state: plain fields only */
    uint8_t ier, lcr, mcr, scr;
    uint8_t fcr;                /* FE, DMS, RTL as last programmed */
    uint8_t dll, dlm;
    uint8_t lsr_errors;         /* sticky OE/PE/FE/BI, cleared by reading LSR */
    uint8_t msr;                /* lines (7:4) and deltas (3:0) */
    uint8_t modem_in;           /* external CTS/DSR/RI/DCD inputs (MSR 7:4 layout) */
    uint8_t rbr;                /* last byte handed out through RBR */
    uint8_t thr_ipending;       /* THR-empty interrupt latched */
    uint8_t irq_level;          /* current level driven on the IRQ line */
    uint8_t rx_fifo[UART_FIFO_SIZE];
    uint8_t rx_head, rx_count;  /* without FIFOs, rx_fifo[rx_head] is RBR */
} UARTState;

/* Registers 8 ports at base. write_out receives every transmitted byte at
 * once (the machine buffers). Returns NULL if the ports are taken. */
UARTState *uart_init(IoMap *map, uint32_t base, IRQSignal *irq, UARTWriteFunc *write_out, void *opaque);
/* Master reset: registers to datasheet reset values (DLL/DLM/SCR keep theirs). */
void uart_reset(UARTState *s);
/* Host input into the receiver: returns how many of len bytes were taken
 * (never more than uart_rx_room); keep the rest and offer it again later. */
int uart_receive(UARTState *s, const uint8_t *buf, int len);
int uart_rx_room(UARTState *s);

/* Checkpoints: the registers, the RX FIFO and the interrupt latches. A load
 * sets fields only (no set_irq, no output). */
#define UART_STATE_VERSION 1
void uart_state(UARTState *s, StateIO *io);
#endif
