/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the AHCI HBA (devices/ahci.c) behind a PCI bus, with a
 * small guest RAM and two small raw disks (port 0 read-write, port 2
 * read-only). Any crash, sanitizer report, hang, DMA outside RAM or an
 * inconsistent register is a finding.
 *
 * Input: a 2-byte little-endian length P, then P bytes copied to guest RAM
 * from address 0 (command lists, FIS areas, command tables, PRDTs), then
 * operations: one byte op, kind = op & 15, arg = op >> 4, then the operands
 * listed with each AF_* below (multi-byte values little-endian). An input
 * that runs out mid-operation ends there. The board is rebuilt for every
 * input; the disks are shared across inputs (their contents carry over,
 * which only changes the data read, never the control flow). */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/ahci.h"
#include "fuzz_board.h"
#include "fuzz_input.h"
#include "devices/disk.h"
#include "base/iomem.h"
#include "devices/pci.h"

#define RAM_SIZE   FZ_RAM_SIZE
#define ABAR       0xfebf0000u         /* 4 KiB aligned, inside the window */
#define IRQ_LINE   11
#define DEVFN      PCI_DEVFN(3, 0)

enum {
    AF_READ,        /* off16: MMIO read, size arg & 3 (3 = dword); arg & 4: keep a misaligned offset */
    AF_WRITE,       /* off16 val32: MMIO write, as AF_READ */
    AF_PREG,        /* val32: port arg & 3, register fz_pregs[arg >> 2] */
    AF_START,       /* clb8 fb8 ci32: port arg & 3 stopped, CLB = clb8 KiB, FB = fb8 KiB + 256 * (arg >> 2),
                     * FRE, then FRE|ST, then CI */
    AF_ISSUE,       /* slot8: port arg & 3; bit 5: clear PxIS first; bit 6: restart (ST 0 then 1); CI = 1 << slot */
    AF_CONFIG,      /* reg8 val32: PCI config write of the HBA (size arg & 3); arg & 4: a read instead */
    AF_POKE,        /* addr16 len8 data: RAM[addr16 * 4 ...] = data (clipped to RAM) */
    AF_MISC,        /* b8: see af_misc() */
    AF_BUILD,       /* slot8 clb8 cmd8 flags8 lba32 count16 nprd8 buf8 len16: a well-formed command, see af_build() */
    AF_NKINDS
};

/* Port registers AF_PREG reaches (offsets inside the port block). */
static const uint8_t fz_pregs[4] = { AHCI_PxCMD, AHCI_PxCI, AHCI_PxIS, AHCI_PxSCTL };

typedef struct Board {
    IoMap io;
    PCIBus *pci;
    AHCIState *ahci;
    IoRange *win;           /* the PCI memory window on the IoMap */
    IRQSignal irq;
    int irq_level;
} Board;

static Board board;
static uint8_t *ram;
static Disk *disk0, *disk2;
static char tmpdir[] = "/tmp/lbvm-fuzz-ahci-XXXXXX";

static void setup_once(void)
{
    ram = malloc(RAM_SIZE);     /* exact size: ASan catches any overrun */
    if (!ram)
        abort();
    fz_scratch_disks(tmpdir, &disk0, &disk2);
}

static void on_irq(void *opaque, int n, int level)
{
    Board *b = opaque;
    assert(n == IRQ_LINE);
    assert(level == 0 || level == 1);
    b->irq_level = level;
}

static void on_dma(void *opaque, uint64_t pa, uint64_t len)
{
    (void)opaque;
    assert(len > 0);
    assert(len <= RAM_SIZE && pa <= RAM_SIZE - len);
}

static void board_init(Board *b)
{
    memset(b, 0, sizeof *b);
    iomap_init(&b->io);
    b->pci = pci_init(&b->io, NULL, NULL);
    if (!b->pci)
        abort();
    irq_init(&b->irq, on_irq, b, IRQ_LINE);
    pci_bus_set_irq_sink(b->pci, IRQ_LINE, &b->irq);
    b->ahci = ahci_init(b->pci, DEVFN, IRQ_LINE, ABAR, ram, RAM_SIZE, on_dma, NULL);
    if (!b->ahci || ahci_attach(b->ahci, 0, disk0) || ahci_attach(b->ahci, 2, disk2))
        abort();
    for (int i = 0; i < b->io.n_mmio; i++)
        if (b->io.mmio[i].base == PCI_MEM_WINDOW_BASE)
            b->win = &b->io.mmio[i];
    if (!b->win)
        abort();
}

static void board_free(Board *b)
{
    free(b->ahci);
    pci_free(b->pci);
}

/* ABAR-relative accesses the way the CPU layer makes them. */
static uint32_t mmio_rd(Board *b, uint32_t off, int sz)
{
    return iorange_read(b->win, ABAR - PCI_MEM_WINDOW_BASE + off, sz);
}

static void mmio_wr(Board *b, uint32_t off, uint32_t val, int sz)
{
    iorange_write(b->win, ABAR - PCI_MEM_WINDOW_BASE + off, val, sz);
}

static void port_wr(Board *b, int port, uint32_t reg, uint32_t val)
{
    mmio_wr(b, AHCI_PORT_BASE + AHCI_PORT_SIZE * (uint32_t)port + reg, val, 2);
}

static uint32_t port_rd(Board *b, int port, uint32_t reg)
{
    return mmio_rd(b, AHCI_PORT_BASE + AHCI_PORT_SIZE * (uint32_t)port + reg, 2);
}

static void conf_access(Board *b, uint32_t reg, uint32_t val, int sz, int write)
{
    reg &= 0xff;
    reg &= ~((1u << sz) - 1);
    iomap_port_write(&b->io, PCI_CONFIG_ADDRESS, PCI_CONFIG_ENABLE | DEVFN << 8 | (reg & 0xfc), 2);
    if (write)
        iomap_port_write(&b->io, PCI_CONFIG_DATA + (reg & 3), val, sz);
    else
        iomap_port_read(&b->io, PCI_CONFIG_DATA + (reg & 3), sz);
}

static void put32(uint32_t pa, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        ram[(pa + i) % RAM_SIZE] = (uint8_t)(v >> (8 * i));
}

static void stop_start(Board *b, int port)
{
    port_wr(b, port, AHCI_PxCMD, AHCI_PxCMD_FRE);
    port_wr(b, port, AHCI_PxCMD, AHCI_PxCMD_FRE | AHCI_PxCMD_ST);
}

/* b: port b & 3, action b >> 2. */
static void af_misc(Board *b, uint8_t v, Input *in)
{
    int port = v & 3;
    uint32_t raw;
    switch ((v >> 2) % 10) {
    case 0: mmio_wr(b, AHCI_GHC, AHCI_GHC_HR, 2); break;
    case 1: mmio_wr(b, AHCI_GHC, AHCI_GHC_AE | AHCI_GHC_IE, 2); break;
    case 2:                                     /* COMRESET */
        port_wr(b, port, AHCI_PxSCTL, 1);
        port_wr(b, port, AHCI_PxSCTL, 0);
        break;
    case 3:
        if (take(in, &raw, 4))
            port_wr(b, port, AHCI_PxCLB, raw);
        break;
    case 4:
        if (take(in, &raw, 4))
            port_wr(b, port, AHCI_PxFB, raw);
        break;
    case 5: ahci_reset(b->ahci); break;
    case 6: pci_reset(b->pci); break;
    case 7:
        port_wr(b, port, AHCI_PxIS, 0xffffffffu);
        mmio_wr(b, AHCI_IS, 0xffffffffu, 2);
        break;
    case 8: port_wr(b, port, AHCI_PxCMD, port_rd(b, port, AHCI_PxCMD) | AHCI_PxCMD_CLO); break;
    case 9: port_wr(b, port, AHCI_PxIE, 0xffffffffu); break;
    }
}

/* Command header `slot` in the list at clb8 KiB, its table in the next KiB
 * (mod RAM), an H2D register FIS with cmd/lba/count, and nprd & 7 PRDs of
 * len16 + 1 bytes from buf8 KiB on. flags: bit 0 W, bit 1 I on the PRDs,
 * bit 2 C = 0 (device control, SRST from bit 3), bits 4-7 CFL tweak. */
static void af_build(Input *in)
{
    uint8_t slot, clb8, cmd, flags, nprd, buf8;
    uint32_t lba;
    uint16_t count, len;
    if (!take(in, &slot, 1) || !take(in, &clb8, 1) || !take(in, &cmd, 1) || !take(in, &flags, 1) ||
        !take(in, &lba, 4) || !take(in, &count, 2) || !take(in, &nprd, 1) || !take(in, &buf8, 1) ||
        !take(in, &len, 2))
        return;
    slot &= 31;
    nprd &= 7;
    uint32_t clb = (uint32_t)clb8 * 1024, hdr = clb + 32u * slot;
    uint32_t ctba = ((clb8 + 1u + slot) % (RAM_SIZE / 1024)) * 1024;
    uint32_t cfl = flags >> 4 ? flags >> 4 : 5;
    put32(hdr, cfl | (flags & 1 ? 1u << 6 : 0) | (uint32_t)nprd << 16);
    put32(hdr + 4, 0);
    put32(hdr + 8, ctba);
    put32(hdr + 12, 0);
    memset(ram + ctba, 0, 0x80);
    uint8_t *f = ram + ctba;
    f[0] = FIS_TYPE_REG_H2D;
    f[1] = flags & 4 ? 0 : 0x80;
    f[2] = cmd;
    f[4] = (uint8_t)lba;
    f[5] = (uint8_t)(lba >> 8);
    f[6] = (uint8_t)(lba >> 16);
    f[7] = 0x40;
    f[8] = (uint8_t)(lba >> 24);
    f[12] = (uint8_t)count;
    f[13] = (uint8_t)(count >> 8);
    f[15] = flags & 8 ? 0x04 : 0;
    for (uint32_t i = 0; i < nprd; i++) {
        uint32_t e = ctba + 0x80 + 16 * i;
        put32(e, ((uint32_t)buf8 * 1024 + i * ((uint32_t)len + 1)) % RAM_SIZE);
        put32(e + 4, 0);
        put32(e + 8, 0);
        put32(e + 12, len | (flags & 2 ? 1u << 31 : 0));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ram)
        setup_once();
    Input in = { data, size };
    uint16_t plen = 0;
    take(&in, &plen, 2);
    size_t n = plen < in.n ? plen : in.n;
    memset(ram, 0, RAM_SIZE);
    memcpy(ram, in.p, n);
    in.p += n;
    in.n -= n;

    Board *b = &board;
    board_init(b);
    uint8_t op;
    while (take(&in, &op, 1)) {
        int kind = op & 15, arg = op >> 4;
        uint16_t off;
        uint32_t val;
        uint8_t u8, v8;
        switch (kind) {
        case AF_READ:
        case AF_WRITE: {
            if (!take(&in, &off, 2))
                goto out;
            val = 0;
            if (kind == AF_WRITE && !take(&in, &val, 4))
                goto out;
            int sz = fz_size_arg(arg);
            uint32_t o = off % AHCI_ABAR_SIZE;
            if (!(arg & 4))
                o &= ~((1u << sz) - 1);
            else if (o + (1u << sz) > AHCI_ABAR_SIZE)
                o = AHCI_ABAR_SIZE - (1u << sz);
            if (kind == AF_READ)
                mmio_rd(b, o, sz);
            else
                mmio_wr(b, o, val, sz);
            break;
        }
        case AF_PREG:
            if (!take(&in, &val, 4))
                goto out;
            port_wr(b, arg & 3, fz_pregs[arg >> 2], val);
            break;
        case AF_START: {
            if (!take(&in, &u8, 1) || !take(&in, &v8, 1) || !take(&in, &val, 4))
                goto out;
            int port = arg & 3;
            port_wr(b, port, AHCI_PxCMD, 0);
            port_wr(b, port, AHCI_PxIS, 0xffffffffu);
            port_wr(b, port, AHCI_PxCLB, (uint32_t)u8 * 1024);
            port_wr(b, port, AHCI_PxFB, (uint32_t)v8 * 1024 + 256u * (uint32_t)(arg >> 2));
            stop_start(b, port);
            port_wr(b, port, AHCI_PxCI, val);
            break;
        }
        case AF_ISSUE: {
            if (!take(&in, &u8, 1))
                goto out;
            int port = arg & 3;
            if (u8 & 0x20)
                port_wr(b, port, AHCI_PxIS, 0xffffffffu);
            if (u8 & 0x40) {
                port_wr(b, port, AHCI_PxCMD, AHCI_PxCMD_FRE);
                stop_start(b, port);
            }
            port_wr(b, port, AHCI_PxCI, 1u << (u8 & 31));
            break;
        }
        case AF_CONFIG:
            if (!take(&in, &u8, 1) || !take(&in, &val, 4))
                goto out;
            conf_access(b, u8, val, fz_size_arg(arg), !(arg & 4));
            break;
        case AF_POKE: {
            if (!take(&in, &off, 2) || !take(&in, &u8, 1))
                goto out;
            uint32_t pa = (uint32_t)off * 4, len = u8;
            if (len > in.n)
                len = (uint32_t)in.n;
            if (len > RAM_SIZE - pa)
                len = RAM_SIZE - pa;
            memcpy(ram + pa, in.p, len);
            in.p += len;
            in.n -= len;
            break;
        }
        case AF_MISC:
            if (!take(&in, &u8, 1))
                goto out;
            af_misc(b, u8, &in);
            break;
        case AF_BUILD:
            af_build(&in);
            break;
        default:    /* a status poll, as a driver's loop would make */
            port_rd(b, arg & 3, AHCI_PxTFD);
            port_rd(b, arg & 3, AHCI_PxCI);
            break;
        }
        /* Invariants of the HBA state whatever the guest did (read from the
         * state: the guest may have turned memory decode off or moved ABAR). */
        for (int p = 0; p < AHCI_NUM_PORTS; p++) {
            const AHCIPort *ap = &b->ahci->port[p];
            if (!(ap->cmd & AHCI_PxCMD_ST))
                assert(ap->ci == 0 && !ap->halted);
            assert(!!(ap->cmd & AHCI_PxCMD_CR) == !!(ap->cmd & AHCI_PxCMD_ST));
            assert(!(ap->is & ~AHCI_PxIS_MASK));
        }
        assert(!(b->ahci->is & ~0xfu));
    }
out:
    board_free(b);
    return 0;
}
