/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the PIIX3 IDE controller (devices/ide.c) behind a PCI
 * bus, with a small guest RAM and the scratch disks of fuzz_board.h (primary
 * master read-write, primary slave read-only, the secondary channel empty).
 * Any crash, sanitizer report, hang, DMA outside RAM, inconsistent register
 * or a checkpoint that does not load back into the device that saved it is
 * a finding.
 *
 * Input: a 2-byte little-endian length P, then P bytes copied to guest RAM
 * from address 0 (PRD tables, buffers), then operations: one byte op,
 * kind = op & 15, arg = op >> 4, then the operands listed with each IF_*
 * below (multi-byte values little-endian). An input that runs out
 * mid-operation ends there. The board is rebuilt for every input; the disks
 * are shared across inputs (their contents carry over, which only changes
 * the data read, never the control flow). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/iomem.h"
#include "base/state.h"
#include "devices/disk.h"
#include "devices/ide.h"
#include "devices/pci.h"
#include "fuzz_board.h"
#include "fuzz_input.h"

#define RAM_SIZE   FZ_RAM_SIZE
#define DEVFN      PCI_DEVFN(1, 1)

enum {
    IF_IN,          /* reg8: port ide_port(reg8) read, size arg & 3 (3 = dword) */
    IF_OUT,         /* reg8 val32: the same, a write */
    IF_CMD,         /* dev8 cmd8 lba32 count16: task file and command; dev bit 0 slave, bit 1 secondary,
                     * bit 2 CHS (else LBA); arg & 1: the LBA48 form (HOB bytes first) */
    IF_DATA,        /* n16: n & 0x3ff data port accesses; arg & 1 writes, arg & 2 dword, arg & 4 secondary */
    IF_PRD,         /* table16 nprd8 buf16 len16: a PRD table at table16 * 4 of nprd & 15 entries of len16
                     * bytes from buf16 * 4 on (EOT on the last), BMIDE PRD register set, command
                     * (arg & 1 read, arg & 2 start), channel arg >> 2 & 1 */
    IF_POKE,        /* addr16 len8 data: RAM[addr16 * 4 ...] = data (clipped to RAM) */
    IF_CONFIG,      /* reg8 val32: PCI config write of the function (size arg & 3); arg & 4: a read */
    IF_MISC,        /* b8: see if_misc() */
    IF_NKINDS
};

typedef struct Board {
    IoMap io;
    PCIBus *pci;
    IDEState *ide;
    IRQSignal irq14, irq15;
    int irq_level[2];
} Board;

static Board board;
static uint8_t *ram;
static Disk *disk0, *disk2;
static char tmpdir[] = "/tmp/lbvm-fuzz-ide-XXXXXX";

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
    FZ_CHECK(n == 14 || n == 15);
    FZ_CHECK(level == 0 || level == 1);
    b->irq_level[n - 14] = level;
}

static void on_dma(void *opaque, uint64_t pa, uint64_t len)
{
    (void)opaque;
    FZ_CHECK(len > 0);
    FZ_CHECK(len <= RAM_SIZE && pa <= RAM_SIZE - len);
}

static void board_init(Board *b)
{
    memset(b, 0, sizeof *b);
    iomap_init(&b->io);
    b->pci = pci_init(&b->io, NULL, NULL);
    if (!b->pci)
        abort();
    irq_init(&b->irq14, on_irq, b, 14);
    irq_init(&b->irq15, on_irq, b, 15);
    b->ide = ide_init(b->pci, &b->io, DEVFN, &b->irq14, &b->irq15, ram, RAM_SIZE, on_dma, NULL);
    if (!b->ide || ide_attach(b->ide, 0, disk0) || ide_attach(b->ide, 1, disk2))
        abort();
    /* Bus Master on, as a driver leaves it (DMA waits for it); IF_CONFIG
     * may clear it again. */
    pci_config_write(b->ide->pci, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MASTER, 1);
}

static void board_free(Board *b)
{
    free(b->ide);
    pci_free(b->pci);
}

/* reg % 34: 0-7 primary command block, 8 its control, 9-16 secondary
 * command block, 17 its control, 18-33 the BMIDE registers. */
static uint32_t ide_port(uint8_t reg)
{
    reg %= 34;
    if (reg < 8)
        return IDE_PRIMARY_BASE + reg;
    if (reg == 8)
        return IDE_PRIMARY_CTL;
    if (reg < 17)
        return IDE_SECONDARY_BASE + reg - 9u;
    if (reg == 17)
        return IDE_SECONDARY_CTL;
    return IDE_BMIBA + reg - 18u;
}

static void put32(uint32_t pa, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        ram[(pa + (uint32_t)i) % RAM_SIZE] = (uint8_t)(v >> (8 * i));
}

static void outb(Board *b, uint32_t port, uint8_t v)
{
    iomap_port_write(&b->io, port, v, 0);
}

static void if_cmd(Board *b, int arg, Input *in)
{
    uint8_t dev, cmd;
    uint32_t lba;
    uint16_t count;
    if (!take(in, &dev, 1) || !take(in, &cmd, 1) || !take(in, &lba, 4) || !take(in, &count, 2))
        return;
    uint32_t base = dev & 2 ? IDE_SECONDARY_BASE : IDE_PRIMARY_BASE;
    uint8_t sel = (uint8_t)(0xa0 | (dev & 1) << 4 | (dev & 4 ? 0 : IDE_SELECT_LBA));
    outb(b, base + IDE_SELECT, (uint8_t)(sel | (arg & 1 ? 0 : (lba >> 24) & 0x0f)));
    if (arg & 1) {
        outb(b, base + IDE_NSECTOR, (uint8_t)(count >> 8));
        outb(b, base + IDE_LBAL, (uint8_t)(lba >> 24));
        outb(b, base + IDE_LBAM, 0);
        outb(b, base + IDE_LBAH, 0);
    }
    outb(b, base + IDE_NSECTOR, (uint8_t)count);
    outb(b, base + IDE_LBAL, (uint8_t)lba);
    outb(b, base + IDE_LBAM, (uint8_t)(lba >> 8));
    outb(b, base + IDE_LBAH, (uint8_t)(lba >> 16));
    outb(b, base + IDE_COMMAND, cmd);
}

static void if_prd(Board *b, int arg, Input *in)
{
    uint16_t table, buf, len;
    uint8_t nprd;
    if (!take(in, &table, 2) || !take(in, &nprd, 1) || !take(in, &buf, 2) || !take(in, &len, 2))
        return;
    uint32_t t = (uint32_t)table * 4, n = nprd & 15;
    for (uint32_t i = 0; i < n; i++) {
        put32(t + 8 * i, ((uint32_t)buf * 4 + i * ((uint32_t)len ? len : 0x10000u)) % RAM_SIZE);
        put32(t + 8 * i + 4, len | (i + 1 == n ? 0x80000000u : 0));
    }
    uint32_t bm = IDE_BMIBA + 8u * ((arg >> 2) & 1);
    iomap_port_write(&b->io, bm + IDE_BM_PRD, t, 2);
    outb(b, bm + IDE_BM_CMD, (uint8_t)((arg & 1 ? IDE_BM_CMD_READ : 0) | (arg & 2 ? IDE_BM_CMD_START : 0)));
}

/* Save, load into the same device, save again: the load must be accepted
 * and change nothing. */
static void state_roundtrip(Board *b)
{
    VClock clk;
    vclock_init(&clk);
    StateIO io, io2, io3;
    state_init_save(&io, &clk);
    ide_state(b->ide, &io);
    FZ_CHECK(state_ok(&io));
    state_init_load(&io2, io.buf, io.len, &clk);
    ide_state(b->ide, &io2);
    if (!state_finish(&io2)) {
        fprintf(stderr, "ide state reload refused: %s\n", state_error(&io2));
        abort();
    }
    state_init_save(&io3, &clk);
    ide_state(b->ide, &io3);
    FZ_CHECK(io3.len == io.len && !memcmp(io3.buf, io.buf, io.len));
    state_free(&io);
    state_free(&io3);
}

static void if_misc(Board *b, uint8_t v)
{
    int ch = v & 1;
    uint32_t ctl = ch ? IDE_SECONDARY_CTL : IDE_PRIMARY_CTL;
    switch ((v >> 1) % 6) {
    case 0: ide_reset(b->ide); break;
    case 1: pci_reset(b->pci); break;
    case 2: state_roundtrip(b); break;
    case 3:
        outb(b, ctl, IDE_CTL_SRST);
        outb(b, ctl, 0);
        break;
    case 4: outb(b, ctl, IDE_CTL_NIEN); break;
    case 5: outb(b, ctl, IDE_CTL_HOB); break;
    }
}

static void check_invariants(const Board *b)
{
    for (int c = 0; c < IDE_NUM_CHANNELS; c++) {
        const IDEChannel *ch = &b->ide->ch[c];
        FZ_CHECK(ch->irq_level == (ch->intrq && !(ch->devctl & IDE_CTL_NIEN)));
        FZ_CHECK(b->irq_level[c] == ch->irq_level);
        FZ_CHECK(!(ch->bm_prd & 3) && (ch->select & 0xa0) == 0xa0);
        for (int i = 0; i < 2; i++) {
            const IDEDrive *d = &ch->drive[i];
            FZ_CHECK(d->xfer <= IDE_XFER_DMA_OUT && d->pos <= d->len && d->len <= sizeof d->buf);
            FZ_CHECK(d->xfer == IDE_XFER_NONE || d->disk);
            if (d->disk)
                FZ_CHECK(d->lba <= disk_sectors(d->disk) && d->left <= disk_sectors(d->disk) - d->lba);
            else
                FZ_CHECK(!d->status);
        }
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
        uint8_t u8;
        uint16_t u16;
        uint32_t val;
        switch (kind) {
        case IF_IN:
            if (!take(&in, &u8, 1))
                goto out;
            iomap_port_read(&b->io, ide_port(u8), fz_size_arg(arg));
            break;
        case IF_OUT:
            if (!take(&in, &u8, 1) || !take(&in, &val, 4))
                goto out;
            iomap_port_write(&b->io, ide_port(u8), val, fz_size_arg(arg));
            break;
        case IF_CMD:
            if_cmd(b, arg, &in);
            break;
        case IF_DATA: {
            if (!take(&in, &u16, 2))
                goto out;
            uint32_t port = arg & 4 ? IDE_SECONDARY_BASE : IDE_PRIMARY_BASE;
            int sz = arg & 2 ? 2 : 1;
            for (int i = 0; i < (u16 & 0x3ff); i++) {
                if (arg & 1)
                    iomap_port_write(&b->io, port, 0x5a5a0000u + (uint32_t)i, sz);
                else
                    iomap_port_read(&b->io, port, sz);
            }
            break;
        }
        case IF_PRD:
            if_prd(b, arg, &in);
            break;
        case IF_POKE: {
            if (!take(&in, &u16, 2) || !take(&in, &u8, 1))
                goto out;
            uint32_t pa = ((uint32_t)u16 * 4) % RAM_SIZE, len = u8;
            if (len > in.n)
                len = (uint32_t)in.n;
            if (len > RAM_SIZE - pa)
                len = RAM_SIZE - pa;
            memcpy(ram + pa, in.p, len);
            in.p += len;
            in.n -= len;
            break;
        }
        case IF_CONFIG: {
            if (!take(&in, &u8, 1) || !take(&in, &val, 4))
                goto out;
            int sz = fz_size_arg(arg);
            uint32_t reg = u8 & ~((1u << sz) - 1);
            iomap_port_write(&b->io, PCI_CONFIG_ADDRESS, PCI_CONFIG_ENABLE | DEVFN << 8 | (reg & 0xfc), 2);
            if (arg & 4)
                iomap_port_read(&b->io, PCI_CONFIG_DATA + (reg & 3), sz);
            else
                iomap_port_write(&b->io, PCI_CONFIG_DATA + (reg & 3), val, sz);
            break;
        }
        case IF_MISC:
            if (!take(&in, &u8, 1))
                goto out;
            if_misc(b, u8);
            break;
        default:    /* a status poll, as a driver's loop would make */
            iomap_port_read(&b->io, (arg & 1 ? IDE_SECONDARY_BASE : IDE_PRIMARY_BASE) + IDE_STATUS, 0);
            iomap_port_read(&b->io, IDE_BMIBA + 8u * (arg & 1) + IDE_BM_STATUS, 0);
            break;
        }
        check_invariants(b);
    }
out:
    state_roundtrip(b);
    board_free(b);
    return 0;
}
