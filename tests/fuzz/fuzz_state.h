/* The board of fuzz_state, shared with the seed generator (fuzz_ckpt_seeds)
 * so that the device states it saves load into the board the fuzzer builds:
 * the PC's chips wired on one IoMap as emu/machine.c wires them, plus the
 * AHCI controller at the machine's slot, IRQ and ABAR with a small guest RAM
 * and disks on ports 0 (read-write) and 2 (read-only).
 *
 * Input of fuzz_state:
 *   byte n: n % 4 state loads follow, each
 *     byte dev (% FS_NDEVS, see fs_devs[]), u16 LE length L, then L bytes
 *     (fewer if the input ends): the payload of dev's xxx_state
 *   then operations in the format of fuzz_ports.h, run on the loaded board. */
#ifndef LBVM_FUZZ_STATE_H
#define LBVM_FUZZ_STATE_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ahci.h"
#include "clock.h"
#include "disk.h"
#include "iomem.h"
#include "pci.h"
#include "pic.h"
#include "pit.h"
#include "rtc.h"
#include "state.h"
#include "sysreset.h"
#include "uart.h"

#define FS_COM1_BASE 0x3f8
#define FS_COM1_IRQ 4
#define FS_RTC_IRQ 8
#define FS_AHCI_DEVFN PCI_DEVFN(2, 0)   /* as emu/machine.c */
#define FS_AHCI_IRQ 11
#define FS_AHCI_ABAR 0xfebf0000u
#define FS_RAM_SIZE (256u << 10)
#define FS_DISK0_SECT 256u              /* 128 KiB, read-write on port 0 */
#define FS_DISK2_SECT 32u               /* 16 KiB, read-only on port 2 */

typedef struct FsBoard {
    IoMap io;
    VClock clock;
    IRQSignal cpu_intr;
    IRQSignal irq[16];
    PICState *pic;
    PITState *pit;
    UARTState *uart;
    RTCState *rtc;
    PCIBus *pci;
    SysResetState *sysreset;
    AHCIState *ahci;
    uint8_t *ram;
    int intr;                   /* INTR as the CPU would see it */
    int reset_requested;
    uint64_t tx_bytes;
    void (*dma_check)(void *opaque, uint64_t pa, uint64_t len);
} FsBoard;

static inline void fs_set_intr(void *opaque, int irq_num, int level)
{
    FsBoard *b = opaque;
    (void)irq_num;
    b->intr = level;
}

static inline void fs_reset_request(void *opaque)
{
    ((FsBoard *)opaque)->reset_requested = 1;
}

static inline void fs_console(void *opaque, const uint8_t *buf, size_t len)
{
    FsBoard *b = opaque;
    (void)buf;
    b->tx_bytes += len;
}

static inline void fs_dma(void *opaque, uint64_t pa, uint64_t len)
{
    FsBoard *b = opaque;
    if (b->dma_check)
        b->dma_check(b, pa, len);
}

/* ram: FS_RAM_SIZE bytes; disks on ports 0 and 2 (either may be NULL). 0 or -1. */
static inline int fs_board_init(FsBoard *b, uint8_t *ram, Disk *d0, Disk *d2)
{
    memset(b, 0, sizeof *b);
    b->ram = ram;
    iomap_init(&b->io);
    vclock_init(&b->clock);
    irq_init(&b->cpu_intr, fs_set_intr, b, 0);
    b->pic = pic_init(&b->io, &b->cpu_intr);
    for (int i = 0; i < 16; i++)
        irq_init(&b->irq[i], pic_set_irq, b->pic, i);
    b->pit = pit_init(&b->io, &b->clock, &b->irq[0]);
    b->uart = uart_init(&b->io, FS_COM1_BASE, &b->irq[FS_COM1_IRQ], fs_console, b);
    b->rtc = rtc_init(&b->io, &b->clock, &b->irq[FS_RTC_IRQ], 0);
    b->pci = pci_init(&b->io, fs_reset_request, b);
    b->sysreset = sysreset_init(&b->io, fs_reset_request, b);
    if (!b->pic || !b->pit || !b->uart || !b->rtc || !b->pci || !b->sysreset)
        return -1;
    for (int i = 0; i < 16; i++)
        pci_bus_set_irq_sink(b->pci, i, &b->irq[i]);
    b->ahci = ahci_init(b->pci, FS_AHCI_DEVFN, FS_AHCI_IRQ, FS_AHCI_ABAR, ram, FS_RAM_SIZE, fs_dma, b);
    if (!b->ahci || (d0 && ahci_attach(b->ahci, 0, d0)) || (d2 && ahci_attach(b->ahci, 2, d2)))
        return -1;
    /* Level-triggered IRQ 11, as machine_new sets the ELCR. */
    iomap_port_write(&b->io, 0x4d1, 1u << (FS_AHCI_IRQ - 8), 0);
    return 0;
}

static inline void fs_board_free(FsBoard *b)
{
    free(b->pic);
    free(b->pit);
    free(b->uart);
    free(b->rtc);
    free(b->ahci);
    pci_free(b->pci);
    free(b->sysreset);
}

/* A guest reset request: every chip back to its reset state. */
static inline void fs_board_reset(FsBoard *b)
{
    b->reset_requested = 0;
    pic_reset(b->pic);
    pit_reset(b->pit);
    uart_reset(b->uart);
    rtc_reset(b->rtc);
    pci_reset(b->pci);
    sysreset_reset(b->sysreset);
    ahci_reset(b->ahci);
}

/* Guest time moves forward by delta, stopping at each deadline on the way
 * (at most 1024: a fast periodic timer is then skipped over in one jump). */
static inline void fs_board_advance(FsBoard *b, uint64_t delta)
{
    uint64_t target = b->clock.now + delta;
    if (target < b->clock.now || target > (1ull << 62))
        target = b->clock.now > (1ull << 62) ? b->clock.now : 1ull << 62;
    for (int n = 0; n < 1024 && vclock_next_deadline(&b->clock) <= target; n++) {
        if (vclock_next_deadline(&b->clock) > b->clock.now)
            b->clock.now = vclock_next_deadline(&b->clock);
        vclock_run_timers(&b->clock);
    }
    b->clock.now = target;
    vclock_run_timers(&b->clock);
}

typedef void FsStateFn(FsBoard *b, StateIO *io);
static inline void fs_pic(FsBoard *b, StateIO *io) { pic_state(b->pic, io); }
static inline void fs_pit(FsBoard *b, StateIO *io) { pit_state(b->pit, io); }
static inline void fs_uart(FsBoard *b, StateIO *io) { uart_state(b->uart, io); }
static inline void fs_rtc(FsBoard *b, StateIO *io) { rtc_state(b->rtc, io); }
static inline void fs_pci(FsBoard *b, StateIO *io) { pci_state(b->pci, io); }
static inline void fs_sysreset(FsBoard *b, StateIO *io) { sysreset_state(b->sysreset, io); }
static inline void fs_ahci(FsBoard *b, StateIO *io) { ahci_state(b->ahci, io); }

static const struct {
    const char *name;
    FsStateFn *fn;
} fs_devs[] = {
    { "pic", fs_pic }, { "pit", fs_pit }, { "uart", fs_uart }, { "rtc", fs_rtc },
    { "pci", fs_pci }, { "sysreset", fs_sysreset }, { "ahci", fs_ahci },
};
#define FS_NDEVS ((int)(sizeof fs_devs / sizeof fs_devs[0]))

/* The payload a save of device dev gives now (malloc'd; *len its size), or
 * NULL if the save failed. */
static inline uint8_t *fs_save(FsBoard *b, int dev, size_t *len)
{
    StateIO io;
    state_init_save(&io, &b->clock);
    fs_devs[dev].fn(b, &io);
    if (!state_ok(&io)) {
        state_free(&io);
        return NULL;
    }
    *len = io.len;
    uint8_t *p = io.buf ? io.buf : calloc(1, 1);
    return p;
}
#endif
