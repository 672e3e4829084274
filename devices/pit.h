/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Intel 8254 programmable interval timer at 0x40-0x43 and the PC system
 * control port B at 0x61 (channel 2 gate, speaker data, refresh, OUT2). */
#ifndef LBVM_PIT_H
#define LBVM_PIT_H
#include <stdint.h>

#include "base/clock.h"
#include "base/iomem.h"
#include "base/state.h"

#define PIT_FREQ 1193182ull         /* input clock, Hz */

/* Control word (port 0x43) */
#define PIT_CW_BCD      0x01
#define PIT_CW_MODE(v)  (((v) >> 1) & 7)
#define PIT_CW_RW(v)    (((v) >> 4) & 3)
#define PIT_CW_SC(v)    (((v) >> 6) & 3)
#define PIT_RW_LATCH    0           /* counter latch command */
#define PIT_RW_LSB      1
#define PIT_RW_MSB      2
#define PIT_RW_WORD     3           /* LSB then MSB */
#define PIT_SC_READBACK 3
/* Read-back command: the COUNT and STATUS bits are active low */
#define PIT_RB_NOT_COUNT  0x20
#define PIT_RB_NOT_STATUS 0x10
/* Status byte */
#define PIT_STATUS_OUTPUT 0x80
#define PIT_STATUS_NULL   0x40
/* Port 0x61 */
#define PIT_PORTB_GATE2   0x01
#define PIT_PORTB_SPKR    0x02
#define PIT_PORTB_REFRESH 0x10
#define PIT_PORTB_OUT2    0x20
#define PIT_REFRESH_NS    15085     /* refresh request toggle period */

enum {
    PIT_ST_IDLE,        /* no count since the control word: not counting */
    PIT_ST_WAIT,        /* modes 1, 5: count written, waiting for a gate trigger */
    PIT_ST_COUNTING,
    PIT_ST_PAUSED,      /* gate low: modes 0, 4 suspended, modes 2, 3 stopped */
};

/* One counter. Times are in PIT input clocks since power-on: the counter
 * holds `reload` at clock `start` and has seen (now - start) clocks since. */
typedef struct PITChannel {
    uint32_t cr;            /* count register: last count written (1..65536) */
    uint32_t reload;        /* count the counting element runs with */
    uint32_t next_reload;   /* modes 2, 3: count written mid-period, 0 = none */
    uint64_t next_reload_at;/* ... which takes over at this period boundary */
    uint64_t start;
    uint64_t load_at;       /* clock at which CR last moved into the CE */
    uint64_t paused_d;      /* elapsed clocks frozen while the gate is low */
    uint16_t held;          /* CE value while idle or waiting for a trigger */
    uint16_t latch;         /* latched count, in read format (BCD if so) */
    uint8_t mode;           /* as programmed, 0-7 (6, 7 alias 2, 3) */
    uint8_t rw;             /* PIT_RW_* */
    uint8_t bcd;
    uint8_t gate;
    uint8_t state;          /* PIT_ST_* */
    uint8_t cr_loaded;      /* 0 while CR waits to enter the CE (NULL COUNT) */
    uint8_t write_msb;      /* word access: the next write is the MSB */
    uint8_t write_lsb;      /* ... and this is the LSB already written */
    uint8_t read_msb;       /* word access: the next read is the MSB */
    uint8_t count_latched;
    uint8_t status_latched;
    uint8_t status;
} PITChannel;

typedef struct PITState {
    PITChannel ch[3];
    uint8_t port61;         /* bits 0-3 as written to port 0x61 */
    VTimer irq_timer;       /* next rising edge of OUT0 */
    VClock *clock;          /* wiring */
    IRQSignal *irq0;
} PITState;

PITState *pit_init(IoMap *map, VClock *clock, IRQSignal *irq0);
void pit_reset(PITState *s);

/* Checkpoints: every channel's counter, latches and byte flip-flops, port
 * 0x61 and the IRQ0 timer's expiry (the timer is re-armed on load). */
#define PIT_STATE_VERSION 1
void pit_state(PITState *s, StateIO *io);
#endif
