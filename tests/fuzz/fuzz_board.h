/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The board the device fuzz targets share: the PC's chips wired on one IoMap
 * as emu/machine.c wires them (PIC, PIT, UART, RTC, PCI host bridge,
 * sysreset), optionally the AHCI controller at the machine's slot, IRQ and
 * ABAR with a small guest RAM and scratch disks on ports 0 (read-write) and 2
 * (read-only); and one interpreter of the operations of fuzz_ports.h.
 * Used by fuzz_ports (no AHCI), fuzz_state and its seed generator; fuzz_ahci
 * shares the RAM and disk sizes and the scratch disks. */
#ifndef LBVM_FUZZ_BOARD_H
#define LBVM_FUZZ_BOARD_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/ahci.h"
#include "base/clock.h"
#include "devices/disk.h"
#include "fuzz_input.h"
#include "fuzz_ports.h"
#include "base/iomem.h"
#include "devices/pci.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/rtc.h"
#include "devices/sysreset.h"
#include "devices/i8042.h"
#include "devices/vga.h"
#include "devices/uart.h"

/* A finding: abort (with the failed condition) even where NDEBUG is set. */
#define FZ_CHECK(c) \
    do { if (!(c)) { fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #c, __FILE__, __LINE__); abort(); } } while (0)

#define FZ_COM1_BASE 0x3f8
#define FZ_COM1_IRQ 4
#define FZ_RTC_IRQ 8
#define FZ_AHCI_DEVFN PCI_DEVFN(2, 0)   /* as emu/machine.c */
#define FZ_AHCI_IRQ 11
#define FZ_AHCI_ABAR 0xfebf0000u
#define FZ_RAM_SIZE (256u << 10)
#define FZ_DISK0_SECT 256u              /* 128 KiB, read-write on port 0 */
#define FZ_DISK2_SECT 32u               /* 16 KiB, read-only on port 2 */

typedef struct FzBoard {
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
    I8042State *i8042;
    VGAState *vga;
    AHCIState *ahci;            /* NULL on a board without one */
    uint8_t *ram;
    int intr;                   /* INTR as the CPU would see it */
    int reset_requested;
    uint64_t tx_bytes;
    void (*dma_check)(void *opaque, uint64_t pa, uint64_t len);
} FzBoard;

static inline void fz_set_intr(void *opaque, int irq_num, int level)
{
    FzBoard *b = opaque;
    (void)irq_num;
    b->intr = level;
}

static inline void fz_reset_request(void *opaque)
{
    ((FzBoard *)opaque)->reset_requested = 1;
}

static inline void fz_console(void *opaque, const uint8_t *buf, size_t len)
{
    FzBoard *b = opaque;
    (void)buf;
    b->tx_bytes += len;
}

static inline void fz_dma(void *opaque, uint64_t pa, uint64_t len)
{
    FzBoard *b = opaque;
    if (b->dma_check)
        b->dma_check(b, pa, len);
}

/* epoch: the RTC's power-on time. ram: FZ_RAM_SIZE bytes, or NULL for a board
 * without AHCI; disks on ports 0 and 2 (either may be NULL). 0 or -1. */
static inline int fz_board_init(FzBoard *b, int64_t epoch, uint8_t *ram, Disk *d0, Disk *d2)
{
    memset(b, 0, sizeof *b);
    b->ram = ram;
    iomap_init(&b->io);
    vclock_init(&b->clock);
    irq_init(&b->cpu_intr, fz_set_intr, b, 0);
    b->pic = pic_init(&b->io, &b->cpu_intr);
    for (int i = 0; i < 16; i++)
        irq_init(&b->irq[i], pic_set_irq, b->pic, i);
    b->pit = pit_init(&b->io, &b->clock, &b->irq[0]);
    b->uart = uart_init(&b->io, FZ_COM1_BASE, &b->irq[FZ_COM1_IRQ], fz_console, b);
    b->rtc = rtc_init(&b->io, &b->clock, &b->irq[FZ_RTC_IRQ], epoch);
    b->pci = pci_init(&b->io, fz_reset_request, b);
    b->sysreset = sysreset_init(&b->io, fz_reset_request, b);
    b->i8042 = i8042_init(&b->io, &b->irq[1], &b->irq[12], fz_reset_request, b);
    b->vga = vga_init(&b->io);
    if (!b->pic || !b->pit || !b->uart || !b->rtc || !b->pci || !b->sysreset || !b->i8042 || !b->vga)
        return -1;
    for (int i = 0; i < 16; i++)
        pci_bus_set_irq_sink(b->pci, i, &b->irq[i]);
    /* The CMOS bytes machine.c fills for 256 MiB. */
    static const uint8_t cmos[][2] = {
        { 0x15, 0x80 }, { 0x16, 0x02 }, { 0x17, 0x00 }, { 0x18, 0xfc }, { 0x30, 0x00 }, { 0x31, 0xfc },
        { 0x34, 0x00 }, { 0x35, 0x0f }, { 0x14, 0x02 },
    };
    for (size_t i = 0; i < sizeof cmos / sizeof cmos[0]; i++)
        rtc_set_cmos(b->rtc, cmos[i][0], cmos[i][1]);
    if (!ram)
        return 0;
    b->ahci = ahci_init(b->pci, FZ_AHCI_DEVFN, FZ_AHCI_IRQ, FZ_AHCI_ABAR, ram, FZ_RAM_SIZE, fz_dma, b);
    if (!b->ahci || (d0 && ahci_attach(b->ahci, 0, d0)) || (d2 && ahci_attach(b->ahci, 2, d2)))
        return -1;
    /* Level-triggered IRQ 11, as machine_new sets the ELCR. */
    iomap_port_write(&b->io, 0x4d1, 1u << (FZ_AHCI_IRQ - 8), 0);
    return 0;
}

static inline void fz_board_free(FzBoard *b)
{
    free(b->pic);
    free(b->pit);
    free(b->uart);
    free(b->rtc);
    free(b->ahci);
    pci_free(b->pci);
    free(b->sysreset);
    free(b->i8042);
    free(b->vga);
}

/* A guest reset request: every chip back to its reset state. */
static inline void fz_board_reset(FzBoard *b)
{
    b->reset_requested = 0;
    pic_reset(b->pic);
    pit_reset(b->pit);
    uart_reset(b->uart);
    rtc_reset(b->rtc);
    pci_reset(b->pci);
    sysreset_reset(b->sysreset);
    i8042_reset(b->i8042);
    vga_reset(b->vga);
    if (b->ahci)
        ahci_reset(b->ahci);
}

/* Guest time moves forward by delta, stopping at each deadline on the way
 * (at most 1024: a fast periodic timer is then skipped over in one jump). */
static inline void fz_board_advance(FzBoard *b, uint64_t delta)
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

static inline bool fz_take_port(Input *in, uint32_t *port)
{
    uint8_t i;
    uint16_t raw;
    if (!take(in, &i, 1))
        return false;
    if (i < FZ_NPORTS) {
        *port = fz_ports[i];
        return true;
    }
    if (!take(in, &raw, 2))
        return false;
    *port = raw;
    return true;
}

/* An operation's access size (log2) from its argument: 3 means a dword. */
static inline int fz_size_arg(int arg)
{
    return (arg & 3) == 3 ? 2 : arg & 3;
}

/* Runs one operation of fuzz_ports.h (op already taken) on b, then serves a
 * reset the guest asked for. false: the input ended inside the operation. */
static inline bool fz_run_op(FzBoard *b, Input *in, uint8_t op)
{
    int kind = op & 7, arg = op >> 3;
    uint32_t port, val = 0;
    uint16_t n16;
    uint8_t off[3], buf[16];
    switch (kind) {
    case FZ_READ:
        if (!fz_take_port(in, &port))
            return false;
        iomap_port_read(&b->io, port, fz_size_arg(arg));
        break;
    case FZ_WRITE:
        if (!fz_take_port(in, &port) || !take(in, &val, 4))
            return false;
        iomap_port_write(&b->io, port, val, fz_size_arg(arg));
        break;
    case FZ_ADVANCE:
        if (!take(in, &n16, 2))
            return false;
        fz_board_advance(b, (uint64_t)n16 << arg);
        break;
    case FZ_INTA:
        if (b->intr) {
            int vec = pic_read_irq(b->pic);
            FZ_CHECK(vec >= 0 && vec <= 255);
        }
        break;
    case FZ_RX: {
        int len = arg & 15;
        if (!take(in, buf, (size_t)len))
            return false;
        int room = uart_rx_room(b->uart);
        int took = uart_receive(b->uart, buf, len);
        FZ_CHECK(took >= 0 && took <= len && took <= room);
        break;
    }
    case FZ_MMIO_READ:
    case FZ_MMIO_WRITE: {
        if (!take(in, off, 3) || (kind == FZ_MMIO_WRITE && !take(in, &val, 4)))
            return false;
        uint32_t o = (off[0] | off[1] << 8 | (uint32_t)off[2] << 16) % PCI_MEM_WINDOW_SIZE;
        int sz = fz_size_arg(arg);
        o &= ~((1u << sz) - 1);
        for (int i = 0; i < b->io.n_mmio; i++) {
            IoRange *r = &b->io.mmio[i];
            if (r->base != PCI_MEM_WINDOW_BASE)
                continue;
            if (kind == FZ_MMIO_READ)
                iorange_read(r, o, sz);
            else
                iorange_write(r, o, val, sz);
        }
        break;
    }
    case FZ_TICK:
        fz_board_advance(b, (uint64_t)(arg + 1) * 64);
        break;
    }
    if (b->reset_requested)
        fz_board_reset(b);
    return true;
}

/* Scratch disks for a harness: FZ_DISK0_SECT sectors read-write and
 * FZ_DISK2_SECT read-only, in a fresh folder made from tmpl (a mkdtemp
 * template the caller keeps); removed at exit. Aborts on failure. */
typedef struct FzScratch {
    char *dir;
    char path0[160], path2[160];
    Disk *d0, *d2;
} FzScratch;

static FzScratch fz_scratch;

static inline void fz_scratch_cleanup(void)
{
    disk_close(fz_scratch.d0);
    disk_close(fz_scratch.d2);
    unlink(fz_scratch.path0);
    unlink(fz_scratch.path2);
    rmdir(fz_scratch.dir);
}

static inline void fz_scratch_disks(char *tmpl, Disk **d0, Disk **d2)
{
    char err[256];
    FzScratch *s = &fz_scratch;
    if (s->dir)
        abort();                /* one set per process */
    if (!(s->dir = mkdtemp(tmpl)))
        abort();
    snprintf(s->path0, sizeof s->path0, "%s/d0.img", s->dir);
    snprintf(s->path2, sizeof s->path2, "%s/d2.img", s->dir);
    if (disk_create_raw(s->path0, FZ_DISK0_SECT * 512ull, err, sizeof err) ||
        disk_create_raw(s->path2, FZ_DISK2_SECT * 512ull, err, sizeof err) ||
        !(s->d0 = disk_open_raw(s->path0, 0, err, sizeof err)) ||
        !(s->d2 = disk_open_raw(s->path2, 1, err, sizeof err))) {
        fprintf(stderr, "fuzz: scratch disks in %s: %s\n", s->dir, err);
        abort();
    }
    atexit(fz_scratch_cleanup);
    *d0 = s->d0;
    *d2 = s->d2;
}
#endif
