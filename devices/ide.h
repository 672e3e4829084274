/* SPDX-License-Identifier: GPL-2.0-or-later */
/* IDE controller as QEMU's default PC has it: the PIIX3 IDE function
 * (8086:7010, class 0x010180: both channels in compatibility mode, bus
 * master capable) with the legacy ports 0x1f0-0x1f7/0x3f6 on IRQ 14
 * (primary) and 0x170-0x177/0x376 on IRQ 15 (secondary), and bus-master DMA
 * through the BMIDE registers of BAR4 (82371SB datasheet, 2.7; ATA/ATAPI-6
 * for the devices; SFF-8038i for the bus master). Up to two disks per
 * channel, over the disk backends AHCI uses.
 *
 * Commands run to completion inside the port write that starts them (a DMA
 * command once the bus master is started as well), so the device is a pure
 * function of guest accesses and disk contents: no timers. */
#ifndef LBVM_IDE_H
#define LBVM_IDE_H
#include <stdint.h>

#include "base/guestram.h"
#include "base/iomem.h"
#include "base/state.h"
#include "devices/disk.h"
#include "devices/pci.h"

#define IDE_VENDOR_ID       0x8086
#define IDE_DEVICE_ID       0x7010      /* 82371SB PIIX3 IDE */
#define IDE_CLASS           0x010180    /* mass storage, IDE, prog-if 80h: bus master, compatibility mode */
#define IDE_BM_BAR          4           /* BMIBA */
#define IDE_BM_SIZE         16
#define IDE_NUM_CHANNELS    2
#define IDE_NUM_DRIVES      (2 * IDE_NUM_CHANNELS)

/* Legacy (compatibility mode) resources. */
#define IDE_PRIMARY_BASE    0x1f0
#define IDE_PRIMARY_CTL     0x3f6
#define IDE_PRIMARY_IRQ     14
#define IDE_SECONDARY_BASE  0x170
#define IDE_SECONDARY_CTL   0x376
#define IDE_SECONDARY_IRQ   15

/* Command block registers (offsets from the channel base). */
#define IDE_DATA            0
#define IDE_ERROR           1           /* read */
#define IDE_FEATURE         1           /* write */
#define IDE_NSECTOR         2
#define IDE_LBAL            3           /* sector number */
#define IDE_LBAM            4           /* cylinder low */
#define IDE_LBAH            5           /* cylinder high */
#define IDE_SELECT          6           /* device/head */
#define IDE_STATUS          7           /* read */
#define IDE_COMMAND         7           /* write */
/* Control block: alternate status (read), device control (write). */
#define IDE_CTL_NIEN        0x02
#define IDE_CTL_SRST        0x04
#define IDE_CTL_HOB         0x80
#define IDE_SELECT_DEV      0x10
#define IDE_SELECT_LBA      0x40

/* ATA status and error bits. */
#define IDE_STS_ERR         0x01
#define IDE_STS_DRQ         0x08
#define IDE_STS_DSC         0x10
#define IDE_STS_DRDY        0x40
#define IDE_STS_BSY         0x80
#define IDE_ERR_ABRT        0x04
#define IDE_ERR_IDNF        0x10

/* Bus master registers, per channel at BMIBA + 8 * channel. */
#define IDE_BM_CMD          0
#define IDE_BM_STATUS       2
#define IDE_BM_PRD          4
#define IDE_BM_CMD_START    0x01
#define IDE_BM_CMD_READ     0x08        /* bus master writes memory: a device read */
#define IDE_BM_ST_ACTIVE    0x01
#define IDE_BM_ST_ERROR     0x02        /* write 1 to clear */
#define IDE_BM_ST_INT       0x04        /* write 1 to clear */
#define IDE_BM_ST_DMA0      0x20        /* drive 0 DMA capable (software's bit) */
#define IDE_BM_ST_DMA1      0x40

/* PIIX3 IDE timing registers (config space): bit 15 of IDETIM enables the
 * channel's legacy decode. The firmware (lbvm here) sets it, as SeaBIOS does. */
#define IDE_PCI_IDETIM      0x40        /* primary 40-41h, secondary 42-43h */
#define IDE_PCI_SIDETIM     0x44
#define IDE_IDETIM_IDE      0x8000

#define IDE_BMIBA           0xc000u     /* firmware assignment, inside the PCI I/O window */
#define IDE_MAX_MULT        16          /* READ/WRITE MULTIPLE block, sectors */
#define IDE_PRD_MAX         8192        /* a PRD table may not cross 64 KiB: 8192 entries at most */

typedef void IDEDmaNotify(void *opaque, uint64_t pa, uint64_t len);
typedef void IDEHostError(void *opaque);

/* Data phase of the command a device is running. */
enum {
    IDE_XFER_NONE,
    IDE_XFER_PIO_IN,        /* buf holds a block for the host to read */
    IDE_XFER_PIO_OUT,       /* buf takes a block the host writes */
    IDE_XFER_DMA_IN,        /* waiting for the bus master: disk to memory */
    IDE_XFER_DMA_OUT,       /* memory to disk */
};

typedef struct IDEDrive {
    Disk *disk;             /* wiring: NULL = no device; not owned */
    uint8_t status, error;
    uint8_t mult;           /* READ/WRITE MULTIPLE block size, 0 = disabled */
    uint8_t xfer;           /* IDE_XFER_* */
    uint8_t cmd;            /* the command of that data phase */
    uint64_t lba;           /* next sector after the ones in buf */
    uint32_t left;          /* sectors still to move after the ones in buf */
    uint16_t pos, len;      /* bytes of buf moved / in this block */
    uint8_t buf[IDE_MAX_MULT * DISK_SECTOR_SIZE];
} IDEDrive;

typedef struct IDEChannel {
    IDEDrive drive[2];
    /* The command block both devices latch; hob_* the previous writes (LBA48). */
    uint8_t feature, nsector, lbal, lbam, lbah;
    uint8_t hob_feature, hob_nsector, hob_lbal, hob_lbam, hob_lbah;
    uint8_t select, devctl;
    uint8_t intrq;          /* the selected device's interrupt pending (before nIEN) */
    uint8_t irq_level;      /* driven on the IRQ line */
    uint8_t bm_cmd, bm_status;
    uint32_t bm_prd;
    IRQSignal *irq;         /* wiring */
} IDEChannel;

typedef struct IDEState IDEState;
typedef struct IDEPortRef {     /* the ports' opaque: which channel of which controller */
    IDEState *s;
    int ch;
} IDEPortRef;

struct IDEState {
    IDEChannel ch[IDE_NUM_CHANNELS];
    /* Wiring. */
    IDEPortRef ref[IDE_NUM_CHANNELS];
    PCIDevice *pci;
    GuestRAM mem;                   /* base/guestram.h: every guest address is checked against it */
    IDEDmaNotify *dma_written;      /* after the device wrote guest RAM; may be NULL */
    void *opaque;
    uint64_t n_transfers;           /* read/write commands run (statistics, not state) */
    /* The host could not read, write or flush a disk: the device stays busy,
     * host_error says what failed and host_failed (if set) is called. The
     * guest is never told (as AHCI, ahci.h). */
    IDEHostError *host_failed;
    char host_error[256];
};

/* Registers the function at devfn on bus (its legacy ports on map, its IRQs
 * irq14/irq15), BAR4 at IDE_BMIBA. ram/ram_size is guest RAM, laid out as
 * base/guestram.h says (up to 3 GiB from physical 0, the rest from 4 GiB).
 * NULL on failure. */
IDEState *ide_init(PCIBus *bus, IoMap *map, int devfn, IRQSignal *irq14, IRQSignal *irq15, uint8_t *ram,
                   uint64_t ram_size, IDEDmaNotify *dma_written, void *opaque);
/* Before boot; n = 0 primary master, 1 primary slave, 2 secondary master,
 * 3 secondary slave. The disk stays the caller's. 0 or -1. */
int ide_attach(IDEState *s, int n, Disk *disk);
/* Power-on state of the channels and devices (and of IDETIM). */
void ide_reset(IDEState *s);

/* Checkpoints: task files, device states with a PIO block in flight, bus
 * master registers. The PCI header is pci_state's. A load runs no command,
 * writes no RAM and drives no IRQ; the attached disks must be the
 * checkpoint's (each device's presence is checked). */
#define IDE_STATE_VERSION 1
void ide_state(IDEState *s, StateIO *io);
#endif
