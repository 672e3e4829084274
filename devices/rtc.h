/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Motorola MC146818A real-time clock and 128-byte CMOS RAM as on a PC:
 * index port 0x70, data port 0x71, IRQ8. The time is guest time only:
 * the epoch given at power-on plus the virtual clock. */
#ifndef LBVM_RTC_H
#define LBVM_RTC_H
#include <stdint.h>

#include "base/clock.h"
#include "base/iomem.h"
#include "base/state.h"

/* Register indices */
#define RTC_SECONDS        0x00
#define RTC_SECONDS_ALARM  0x01
#define RTC_MINUTES        0x02
#define RTC_MINUTES_ALARM  0x03
#define RTC_HOURS          0x04
#define RTC_HOURS_ALARM    0x05
#define RTC_DAY_OF_WEEK    0x06     /* 1 = Sunday */
#define RTC_DAY_OF_MONTH   0x07
#define RTC_MONTH          0x08
#define RTC_YEAR           0x09
#define RTC_REG_A          0x0a
#define RTC_REG_B          0x0b
#define RTC_REG_C          0x0c
#define RTC_REG_D          0x0d
#define RTC_CENTURY        0x32     /* PC convention (ACPI FADT century) */

#define RTC_A_UIP          0x80     /* update in progress (read-only) */
#define RTC_A_DV           0x70     /* divider select */
#define RTC_A_DV_32K       0x20     /* 32.768 kHz time base: running */
#define RTC_A_RS           0x0f     /* periodic rate select */

#define RTC_B_SET          0x80
#define RTC_B_PIE          0x40
#define RTC_B_AIE          0x20
#define RTC_B_UIE          0x10
#define RTC_B_SQWE         0x08
#define RTC_B_DM           0x04     /* 1 = binary, 0 = BCD */
#define RTC_B_24H          0x02
#define RTC_B_DSE          0x01

#define RTC_C_IRQF         0x80
#define RTC_C_PF           0x40
#define RTC_C_AF           0x20
#define RTC_C_UF           0x10

#define RTC_D_VRT          0x80

#define RTC_ALARM_DONT_CARE 0xc0    /* alarm byte 0xc0-0xff matches any value */

typedef struct RTCState {
    /* wiring */
    VClock *clock;
    IRQSignal *irq;
    VTimer timer;               /* armed for the next enabled interrupt only */
    /* guest-visible state: plain fields only */
    int64_t epoch;              /* Unix time at power-on */
    int64_t sec_offset;         /* seconds the guest moved the clock by */
    uint64_t phase;             /* ns added to the clock: divider chain phase */
    uint64_t flags_time;        /* register C is up to date until this tick */
    uint8_t index;
    uint8_t irq_level;
    uint8_t cmos[128];          /* RAM; time bytes here only while frozen */
} RTCState;

/* epoch: Unix time at guest power-on. Returns NULL if the ports are taken. */
RTCState *rtc_init(IoMap *map, VClock *clock, IRQSignal *irq8, int64_t epoch);
/* RESET pin: clears PIE/AIE/UIE/SQWE and the flags; time and RAM stay. */
void rtc_reset(RTCState *s);
/* Fill a CMOS RAM byte before boot (memory size, equipment...). Indices
 * 0x00-0x0d and 0x32 act exactly like a guest write (they set the clock). */
void rtc_set_cmos(RTCState *s, int index, uint8_t value);

/* Checkpoints: the time base (epoch, offset, divider phase), the flags
 * clock, the index latch, CMOS RAM and the timer's expiry (re-armed on
 * load). A load sets fields only (no set_irq). */
#define RTC_STATE_VERSION 1
void rtc_state(RTCState *s, StateIO *io);
#endif
