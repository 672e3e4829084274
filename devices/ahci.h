/* SPDX-License-Identifier: GPL-2.0-or-later */
/* AHCI 1.3 SATA host bus adapter with the Intel ICH9 identity (8086:2922),
 * 4 ports, each with an optional disk. Only what Linux's ahci driver uses:
 * no NCQ, no port multiplier, no staggered spin-up, 32-bit addressing.
 * Commands run to completion inside the CI write (no timers), so the
 * device is a pure function of guest accesses and disk contents.
 *
 * Ports: all 4 are implemented (PI = 0xf) whether or not a disk is
 * attached; a port without a disk has no link (SSTS 0, SIG all ones), as
 * an empty connector would, and Linux reports it as "link down". */
#ifndef LBVM_AHCI_H
#define LBVM_AHCI_H
#include <stdint.h>

#include "devices/disk.h"
#include "base/guestram.h"
#include "base/iomem.h"
#include "devices/pci.h"
#include "base/state.h"

#define AHCI_VENDOR_ID      0x8086
#define AHCI_DEVICE_ID      0x2922      /* ICH9 6-port SATA, AHCI mode */
#define AHCI_REVISION       0x02
#define AHCI_CLASS          0x010601    /* mass storage, SATA, AHCI 1.0 */
#define AHCI_BAR            5           /* ABAR */
#define AHCI_ABAR_SIZE      0x1000
#define AHCI_NUM_PORTS      4
#define AHCI_NUM_SLOTS      32

/* Generic host control (AHCI 1.3, 3.1) */
#define AHCI_CAP            0x00
#define AHCI_GHC            0x04
#define AHCI_IS             0x08
#define AHCI_PI             0x0c
#define AHCI_VS             0x10
#define AHCI_CAP2           0x24

#define AHCI_CAP_NP_SHIFT   0           /* ports - 1 */
#define AHCI_CAP_NCS_SHIFT  8           /* slots - 1 */
#define AHCI_CAP_SAM        (1u << 18)  /* AHCI mode only */
#define AHCI_CAP_ISS_SHIFT  20
#define AHCI_CAP_ISS_GEN1   1
#define AHCI_CAP_SCLO       (1u << 24)  /* PxCMD.CLO supported */

#define AHCI_GHC_HR         (1u << 0)
#define AHCI_GHC_IE         (1u << 1)
#define AHCI_GHC_AE         (1u << 31)
#define AHCI_VS_1_0         0x00010000

/* Port registers at 0x100 + 0x80 * n (3.3) */
#define AHCI_PORT_BASE      0x100
#define AHCI_PORT_SIZE      0x80
#define AHCI_PxCLB          0x00
#define AHCI_PxCLBU         0x04
#define AHCI_PxFB           0x08
#define AHCI_PxFBU          0x0c
#define AHCI_PxIS           0x10
#define AHCI_PxIE           0x14
#define AHCI_PxCMD          0x18
#define AHCI_PxTFD          0x20
#define AHCI_PxSIG          0x24
#define AHCI_PxSSTS         0x28
#define AHCI_PxSCTL         0x2c
#define AHCI_PxSERR         0x30
#define AHCI_PxSACT         0x34
#define AHCI_PxCI           0x38

#define AHCI_PxIS_DHRS      (1u << 0)   /* D2H register FIS received */
#define AHCI_PxIS_PSS       (1u << 1)   /* PIO setup FIS received */
#define AHCI_PxIS_DPS       (1u << 5)   /* PRD with I bit done */
#define AHCI_PxIS_OFS       (1u << 24)  /* overflow: PRDT too short */
#define AHCI_PxIS_HBFS      (1u << 29)  /* host bus fatal error */
#define AHCI_PxIS_TFES      (1u << 30)  /* task file error */
#define AHCI_PxIS_MASK      0xfdc000ffu /* implemented IS/IE bits */

#define AHCI_PxCMD_ST       (1u << 0)
#define AHCI_PxCMD_SUD      (1u << 1)
#define AHCI_PxCMD_POD      (1u << 2)
#define AHCI_PxCMD_CLO      (1u << 3)
#define AHCI_PxCMD_FRE      (1u << 4)
#define AHCI_PxCMD_CCS_SHIFT 8
#define AHCI_PxCMD_FR       (1u << 14)
#define AHCI_PxCMD_CR       (1u << 15)

#define AHCI_SSTS_PRESENT   0x113       /* DET 3, SPD Gen1, IPM active */
#define AHCI_SCTL_DET_MASK  0xf
#define AHCI_SIG_ATA        0x00000101
#define AHCI_SIG_NONE       0xffffffffu

/* FIS types and receive area offsets (4.2.1) */
#define FIS_TYPE_REG_H2D    0x27
#define FIS_TYPE_REG_D2H    0x34
#define FIS_TYPE_PIO_SETUP  0x5f
#define AHCI_RFIS_PSFIS     0x20
#define AHCI_RFIS_RFIS      0x40
#define AHCI_RFIS_SIZE      0x100

/* ATA status and error bits */
#define ATA_STS_ERR         0x01
#define ATA_STS_DRQ         0x08
#define ATA_STS_DSC         0x10
#define ATA_STS_DRDY        0x40
#define ATA_STS_BSY         0x80
#define ATA_ERR_ABRT        0x04
#define ATA_ERR_IDNF        0x10
#define ATA_ERR_UNC         0x40

typedef void AHCIDmaNotify(void *opaque, uint64_t pa, uint64_t len);
typedef void AHCIHostError(void *opaque);

typedef struct AHCIPort {
    uint32_t clb, fb;       /* CLBU/FBU read 0: no 64-bit addressing */
    uint32_t is, ie, cmd, tfd, sig, ssts, sctl, serr, sact, ci;
    /* A command failed: the port stops fetching until software clears
     * PxCMD.ST (AHCI 1.3, 6.2.2), leaving the failed slot's CI bit set. */
    uint32_t halted;
} AHCIPort;

typedef struct AHCIState {
    /* Guest-visible state. */
    uint32_t ghc, is;
    AHCIPort port[AHCI_NUM_PORTS];
    /* Wiring. */
    PCIDevice *pci;
    GuestRAM mem;                 /* base/guestram.h: every guest address is checked against it */
    AHCIDmaNotify *dma_written;   /* after the device wrote guest RAM; may be NULL */
    void *opaque;
    Disk *disk[AHCI_NUM_PORTS];   /* NULL = empty port; not owned */
    uint64_t n_transfers;         /* read/write commands run (statistics, not state) */
    /* The host could not read, write or flush a writable disk (a full host
     * disk, EIO): the command is left pending, the port stops, host_error
     * says what failed and host_failed (if set) is called. The guest is never
     * told: a host problem must not change the guest's run. */
    AHCIHostError *host_failed;
    char host_error[256];
} AHCIState;

/* Registers the controller at devfn (< 0: first free slot) with INTA on
 * irq_line and BAR5 at abar (4 KiB aligned, inside the PCI memory window).
 * ram/ram_size is guest RAM, laid out as base/guestram.h says (up to 3 GiB
 * from physical 0, the rest from 4 GiB). NULL on failure. */
AHCIState *ahci_init(PCIBus *bus, int devfn, int irq_line, uint32_t abar, uint8_t *ram, uint64_t ram_size,
                     AHCIDmaNotify *dma_written, void *opaque);
/* Before boot; port 0-3. The disk stays the caller's. 0 or -1. */
int ahci_attach(AHCIState *s, int port, Disk *disk);
/* Power-on state of the HBA registers (the PCI header is the bus's). */
void ahci_reset(AHCIState *s);

/* Checkpoints: the HBA and port registers (the PCI header, ABAR included,
 * is saved by pci_state). No command is ever in flight between guest
 * accesses, so none is saved; a load runs no command, writes no RAM and
 * drives no IRQ. The attached disks must be the checkpoint's (link state). */
#define AHCI_STATE_VERSION 1
void ahci_state(AHCIState *s, StateIO *io);
#endif
