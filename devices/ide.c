/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PIIX3 IDE: two ATA channels in compatibility mode with bus-master DMA
 * (82371SB datasheet; ATA/ATAPI-6; SFF-8038i). Guest memory is reached only
 * through guest RAM (base/guestram.h: below the PCI hole and from 4 GiB; the
 * PRDs' 32-bit addresses never reach the latter): the PRD table and every PRD
 * buffer are checked to lie wholly in RAM before any data moves, and each entry again when it is used (a DMA read
 * may rewrite the table under the transfer). A buffer or entry outside RAM
 * ends the command with the bus master's Error bit and ABRT, never a stray
 * access; PRDs that end before the transfer stop the engine with neither
 * Interrupt nor Error (SFF-8038i table 1).
 *
 * Register reads for missing devices follow QEMU (hw/ide/core.c,
 * ide_ioport_read), not the floating bus of real boards: on a channel with no
 * device at all the registers read 0, as do device 1's with only device 0
 * (ATA/ATAPI-6 9.16.1). Guests made on QEMU rely on it: Fiwix's probe of an
 * empty channel waits for BSY to clear and never ends on all-ones. */
#include "devices/ide.h"
#include "devices/ata.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ATA commands (ATA/ATAPI-6) */
#define ATA_NOP                 0x00
#define ATA_RECALIBRATE         0x10    /* 10h-1Fh */
#define ATA_READ_SECTORS        0x20
#define ATA_READ_SECTORS_NR     0x21
#define ATA_READ_SECTORS_EXT    0x24
#define ATA_READ_DMA_EXT        0x25
#define ATA_READ_NATIVE_MAX_EXT 0x27
#define ATA_READ_MULTIPLE_EXT   0x29
#define ATA_WRITE_SECTORS       0x30
#define ATA_WRITE_SECTORS_NR    0x31
#define ATA_WRITE_SECTORS_EXT   0x34
#define ATA_WRITE_DMA_EXT       0x35
#define ATA_WRITE_MULTIPLE_EXT  0x39
#define ATA_VERIFY              0x40
#define ATA_VERIFY_NR           0x41
#define ATA_VERIFY_EXT          0x42
#define ATA_SEEK                0x70
#define ATA_EXEC_DIAGNOSTIC     0x90
#define ATA_INIT_DEV_PARAMS     0x91
#define ATA_IDENTIFY_PACKET     0xa1
#define ATA_READ_MULTIPLE       0xc4
#define ATA_WRITE_MULTIPLE      0xc5
#define ATA_SET_MULTIPLE        0xc6
#define ATA_READ_DMA            0xc8
#define ATA_READ_DMA_NR         0xc9
#define ATA_WRITE_DMA           0xca
#define ATA_WRITE_DMA_NR        0xcb
#define ATA_STANDBY_IMMEDIATE   0xe0
#define ATA_IDLE_IMMEDIATE      0xe1
#define ATA_STANDBY             0xe2
#define ATA_IDLE                0xe3
#define ATA_CHECK_POWER_MODE    0xe5
#define ATA_FLUSH_CACHE         0xe7
#define ATA_FLUSH_CACHE_EXT     0xea
#define ATA_IDENTIFY_DEVICE     0xec
#define ATA_SET_FEATURES        0xef
#define ATA_READ_NATIVE_MAX     0xf8

#define IDE_STS_OK  (IDE_STS_DRDY | IDE_STS_DSC)

/* Default CHS geometry (what IDENTIFY reports): 16 heads, 63 sectors. */
#define IDE_HEADS   16
#define IDE_SPT     63

/* Internal results of a DMA run besides 0. */
#define IDE_EHBF    (-1)    /* a PRD or its buffer outside guest RAM, or no EOT in 64 KiB */
#define IDE_EOVF    (-2)    /* the PRDs end before the transfer does */
#define IDE_EHOST   (-3)    /* the host's I/O failed: see s->host_error */
#define IDE_CHUNK_SECTORS 128

static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int ide_ram_ok(const IDEState *s, uint64_t pa, uint64_t len)
{
    return guest_ram_offset(&s->mem, pa, len) != UINT64_MAX;
}

static IDEDrive *ide_cur(IDEChannel *c)
{
    return &c->drive[(c->select & IDE_SELECT_DEV) ? 1 : 0];
}

static int ide_chan_index(const IDEState *s, const IDEChannel *c)
{
    return (int)(c - s->ch);
}

/* ---- interrupts ---- */

static void ide_update_irq(IDEChannel *c)
{
    int level = c->intrq && !(c->devctl & IDE_CTL_NIEN);
    if (level != c->irq_level) {
        c->irq_level = (uint8_t)level;
        if (c->irq)
            set_irq(c->irq, level);
    }
}

/* The device asserts INTRQ; the bus master's Interrupt bit latches its
 * rising edge whether or not the engine runs (82371SB 2.7.2). */
static void ide_raise(IDEChannel *c)
{
    if (!c->intrq)
        c->bm_status |= IDE_BM_ST_INT;
    c->intrq = 1;
    ide_update_irq(c);
}

static void ide_lower(IDEChannel *c)
{
    c->intrq = 0;
    ide_update_irq(c);
}

/* ---- device state ---- */

/* Power-on, hardware or software reset: the ATA signature (count 1, LBA 1,
 * cylinder 0 for a non-packet device), diagnostics passed. */
static void ide_signature(IDEChannel *c)
{
    c->nsector = c->hob_nsector = 1;
    c->lbal = c->hob_lbal = 1;
    c->lbam = c->lbah = c->hob_lbam = c->hob_lbah = 0;
    c->feature = c->hob_feature = 0;
    c->select = 0xa0;
    for (int i = 0; i < 2; i++) {
        IDEDrive *d = &c->drive[i];
        d->status = d->disk ? IDE_STS_OK : 0;
        d->error = 0x01;
        d->xfer = IDE_XFER_NONE;
        d->cmd = 0;
        d->lba = 0;
        d->left = 0;
        d->pos = d->len = 0;
        d->mult = IDE_MAX_MULT;         /* as QEMU: multiple mode on */
    }
}

static void ide_channel_reset(IDEChannel *c)
{
    ide_signature(c);
    c->devctl = 0;
    c->bm_cmd = 0;
    c->bm_status = 0;
    c->bm_prd = 0;
    c->intrq = 0;
    ide_update_irq(c);
}

void ide_reset(IDEState *s)
{
    for (int i = 0; i < IDE_NUM_CHANNELS; i++)
        ide_channel_reset(&s->ch[i]);
    /* Both channels decode (IDETIM.IDE), as the BIOS leaves them. */
    pci_set_word(s->pci->config + IDE_PCI_IDETIM, IDE_IDETIM_IDE);
    pci_set_word(s->pci->config + IDE_PCI_IDETIM + 2, IDE_IDETIM_IDE);
    s->pci->config[IDE_PCI_SIDETIM] = 0;
}

/* Ends a command: status, error and (unless none) an interrupt. */
static void ide_finish(IDEChannel *c, IDEDrive *d, uint8_t error)
{
    d->xfer = IDE_XFER_NONE;
    d->pos = d->len = 0;
    d->left = 0;
    d->error = error;
    d->status = IDE_STS_OK | (error ? IDE_STS_ERR : 0);
    ide_raise(c);
}

/* The last block of a PIO read was taken: no interrupt (ATA PIO data-in). */
static void ide_finish_quiet(IDEDrive *d)
{
    d->xfer = IDE_XFER_NONE;
    d->pos = d->len = 0;
    d->status = IDE_STS_OK;
}

static int ide_host_failure(IDEState *s, IDEChannel *c, IDEDrive *d, const char *what, uint64_t lba,
                            uint32_t count, int err)
{
    int n = 2 * ide_chan_index(s, c) + (d == &c->drive[1]);
    snprintf(s->host_error, sizeof s->host_error, "IDE disk %d: cannot %s %u sectors at LBA %llu: %s", n, what,
             (unsigned)count, (unsigned long long)lba, err ? strerror(err) : "I/O error");
    /* Nothing reaches the guest: the device just stays busy. */
    d->xfer = IDE_XFER_NONE;
    d->pos = d->len = 0;
    d->left = 0;
    d->status = IDE_STS_BSY;
    if (s->host_failed)
        s->host_failed(s->opaque);
    return IDE_EHOST;
}

/* ---- IDENTIFY DEVICE (ATA/ATAPI-6 8.15) ---- */

static void ide_identify(const IDEDrive *d, int n, uint8_t *out)
{
    uint16_t w[256];
    char serial[21];
    uint64_t sectors = disk_sectors(d->disk);
    uint32_t lba28 = sectors > 0x0fffffff ? 0x0fffffff : (uint32_t)sectors;
    uint64_t c = sectors / (IDE_HEADS * IDE_SPT);
    uint32_t cyl = c > 16383 ? 16383 : c ? (uint32_t)c : 1;
    uint32_t chs = cyl * IDE_HEADS * IDE_SPT;

    memset(w, 0, sizeof w);
    w[0] = 0x0040;                      /* fixed device, not removable */
    w[1] = (uint16_t)cyl;
    w[3] = IDE_HEADS;
    w[6] = IDE_SPT;
    snprintf(serial, sizeof serial, "LBVMIDE%02d", n);
    ata_put_string(w + 10, 10, serial);
    w[21] = 512;                        /* buffer size (retired): 256 KiB, Fiwix prints it */
    ata_put_string(w + 23, 4, "1.0");
    ata_put_string(w + 27, 20, "lbvm IDE disk");
    w[47] = 0x8000 | IDE_MAX_MULT;      /* READ/WRITE MULTIPLE up to 16 sectors */
    w[49] = 1 << 11 | 1 << 9 | 1 << 8;  /* IORDY, LBA, DMA */
    w[50] = 0x4000;
    w[51] = 0x200;                      /* PIO timing mode 2 (obsolete field) */
    w[53] = 0x0007;                     /* words 54-58, 64-70, 88 valid */
    w[54] = (uint16_t)cyl;
    w[55] = IDE_HEADS;
    w[56] = IDE_SPT;
    w[57] = (uint16_t)chs;
    w[58] = (uint16_t)(chs >> 16);
    if (d->mult)
        w[59] = 0x100 | d->mult;        /* multiple setting valid */
    w[60] = (uint16_t)lba28;
    w[61] = (uint16_t)(lba28 >> 16);
    w[63] = 0x0407;                     /* multiword DMA 0-2 supported, mode 2 selected */
    w[64] = 0x0003;                     /* PIO 3-4 */
    w[65] = w[66] = w[67] = w[68] = 120;
    w[80] = 0x007e;                     /* ATA-1 .. ATA/ATAPI-6 */
    w[82] = 1 << 14 | 1 << 5 | 1 << 3;  /* NOP, write cache, power management */
    w[83] = 1 << 14 | 1 << 13 | 1 << 12 | 1 << 10; /* FLUSH EXT, FLUSH, LBA48 */
    w[84] = 1 << 14;
    w[85] = w[82];                      /* all of them enabled */
    w[86] = 1 << 13 | 1 << 12 | 1 << 10;
    w[87] = 1 << 14;
    w[88] = 0x003f;                     /* UDMA 0-5 supported, none selected (the PIIX3 has none) */
    w[93] = 1 << 14 | 1 << 13 | 1 << 3 | 1 << 0; /* hardware reset result: device 0, 80-conductor cable */
    for (int i = 0; i < 4; i++)
        w[100 + i] = (uint16_t)(sectors >> (16 * i));
    ata_identify_bytes(w, out);
}

/* ---- PIO ---- */

static uint32_t ide_block(const IDEDrive *d)
{
    int multiple = d->cmd == ATA_READ_MULTIPLE || d->cmd == ATA_READ_MULTIPLE_EXT ||
                   d->cmd == ATA_WRITE_MULTIPLE || d->cmd == ATA_WRITE_MULTIPLE_EXT;
    uint32_t b = multiple ? d->mult : 1;
    return d->left < b ? d->left : b;
}

/* Loads the next block for the host to read and interrupts (one per block). */
static void ide_pio_in_next(IDEState *s, IDEChannel *c, IDEDrive *d)
{
    uint32_t n = ide_block(d);
    errno = 0;
    if (disk_read(d->disk, d->lba, n, d->buf)) {
        ide_host_failure(s, c, d, "read", d->lba, n, errno);
        return;
    }
    d->lba += n;
    d->left -= n;
    d->pos = 0;
    d->len = (uint16_t)(n * DISK_SECTOR_SIZE);
    d->xfer = IDE_XFER_PIO_IN;
    d->status = IDE_STS_OK | IDE_STS_DRQ;
    ide_raise(c);
}

/* Opens the buffer for the next block the host writes. */
static void ide_pio_out_next(IDEDrive *d)
{
    d->pos = 0;
    d->len = (uint16_t)(ide_block(d) * DISK_SECTOR_SIZE);
    d->xfer = IDE_XFER_PIO_OUT;
    d->status = IDE_STS_OK | IDE_STS_DRQ;
}

static uint16_t ide_data_read16(IDEState *s, IDEChannel *c)
{
    IDEDrive *d = ide_cur(c);
    if (d->xfer != IDE_XFER_PIO_IN || d->pos >= d->len)
        return 0xffff;      /* no data phase: what the bus floats to */
    uint16_t v = (uint16_t)(d->buf[d->pos] | d->buf[d->pos + 1] << 8);
    d->pos += 2;
    if (d->pos >= d->len) {
        if (d->left)
            ide_pio_in_next(s, c, d);
        else
            ide_finish_quiet(d);
    }
    return v;
}

static void ide_data_write16(IDEState *s, IDEChannel *c, uint16_t v)
{
    IDEDrive *d = ide_cur(c);
    if (d->xfer != IDE_XFER_PIO_OUT || d->pos >= d->len)
        return;
    d->buf[d->pos] = (uint8_t)v;
    d->buf[d->pos + 1] = (uint8_t)(v >> 8);
    d->pos += 2;
    if (d->pos < d->len)
        return;
    uint32_t n = d->len / DISK_SECTOR_SIZE;
    errno = 0;
    if (disk_write(d->disk, d->lba, n, d->buf)) {
        /* Read-only disks are refused before the data phase. */
        ide_host_failure(s, c, d, "write", d->lba, n, errno);
        return;
    }
    d->lba += n;
    d->left -= n;
    if (d->left) {
        ide_pio_out_next(d);
        ide_raise(c);
    } else {
        ide_finish(c, d, 0);
    }
}

/* ---- bus-master DMA ---- */

/* Cursor over the PRD table (SFF-8038i: 8-byte entries, base address with
 * bit 0 clear, byte count in bits 15:1 with 0 meaning 64 KiB, EOT in bit 31
 * of the second dword), and the pending RAM-written range. */
typedef struct IDESg {
    uint32_t table, idx;
    uint64_t off;
    uint64_t dirty_pa, dirty_len;
    int ended_at_eot;       /* the last byte moved was the last of the EOT entry */
} IDESg;

/* One entry, checked: 0, or IDE_EHBF (entry or buffer outside RAM, or the
 * table ran past its 64 KiB limit). */
static int ide_prd(const IDEState *s, uint32_t table, uint32_t i, uint64_t *addr, uint64_t *len, int *eot)
{
    uint64_t e = (uint64_t)table + 8ull * i;
    if (i >= IDE_PRD_MAX || !ide_ram_ok(s, e, 8))
        return IDE_EHBF;
    const uint8_t *p = guest_ram_ptr(&s->mem, e, 8);
    uint32_t cnt = (uint32_t)(p[4] | p[5] << 8) & 0xfffe;
    *addr = ld32(p) & ~1u;
    *len = cnt ? cnt : 0x10000;
    *eot = !!(p[7] & 0x80);
    return ide_ram_ok(s, *addr, *len) ? 0 : IDE_EHBF;
}

/* Before any data moves: the entries covering `need` bytes are in RAM and
 * add up to at least `need` before EOT. */
static int ide_prd_check(const IDEState *s, uint32_t table, uint64_t need)
{
    uint64_t have = 0, addr, len;
    int eot = 0;
    for (uint32_t i = 0; have < need; i++) {
        if (eot)
            return IDE_EOVF;
        int r = ide_prd(s, table, i, &addr, &len, &eot);
        if (r)
            return r;
        have += len;
    }
    return 0;
}

static void ide_sg_notify(IDEState *s, IDESg *sg)
{
    if (sg->dirty_len && s->dma_written)
        s->dma_written(s->opaque, sg->dirty_pa, sg->dirty_len);
    sg->dirty_len = 0;
}

static int ide_sg_copy(IDEState *s, IDESg *sg, uint8_t *buf, uint64_t len, int to_ram)
{
    while (len) {
        uint64_t addr, elen;
        int eot, r = ide_prd(s, sg->table, sg->idx, &addr, &elen, &eot);
        if (r)
            return r;
        if (sg->off >= elen) {          /* the entry shrank under us */
            if (eot)
                return IDE_EOVF;
            sg->idx++;
            sg->off = 0;
            continue;
        }
        uint64_t pa = addr + sg->off, n = elen - sg->off < len ? elen - sg->off : len;
        if (to_ram) {
            memcpy(guest_ram_ptr(&s->mem, pa, n), buf, n);
            if (sg->dirty_len && sg->dirty_pa + sg->dirty_len == pa) {
                sg->dirty_len += n;
            } else {
                ide_sg_notify(s, sg);
                sg->dirty_pa = pa;
                sg->dirty_len = n;
            }
        } else {
            memcpy(buf, guest_ram_ptr(&s->mem, pa, n), n);
        }
        buf += n;
        len -= n;
        sg->off += n;
        sg->ended_at_eot = 0;
        if (sg->off == elen) {
            if (eot) {
                sg->ended_at_eot = 1;
                if (len)
                    return IDE_EOVF;
                break;
            }
            sg->idx++;
            sg->off = 0;
        }
    }
    return 0;
}

/* Moves the whole transfer of a DMA command (64 KiB at a time). */
static int ide_dma_move(IDEState *s, IDEChannel *c, IDEDrive *d, IDESg *sg)
{
    int write = d->xfer == IDE_XFER_DMA_OUT;
    int r = ide_prd_check(s, sg->table, (uint64_t)d->left * DISK_SECTOR_SIZE);
    if (r)
        return r;
    uint32_t chunk = d->left < IDE_CHUNK_SECTORS ? d->left : IDE_CHUNK_SECTORS;
    uint8_t *buf = malloc((size_t)chunk * DISK_SECTOR_SIZE);
    if (!buf)
        return IDE_EHBF;
    s->n_transfers++;
    while (d->left && !r) {
        uint32_t n = d->left < chunk ? d->left : chunk;
        uint64_t len = (uint64_t)n * DISK_SECTOR_SIZE;
        errno = 0;
        if (write) {
            r = ide_sg_copy(s, sg, buf, len, 0);
            if (!r && disk_write(d->disk, d->lba, n, buf))
                r = ide_host_failure(s, c, d, "write", d->lba, n, errno);
        } else {
            r = disk_read(d->disk, d->lba, n, buf) ? ide_host_failure(s, c, d, "read", d->lba, n, errno)
                                                   : ide_sg_copy(s, sg, buf, len, 1);
        }
        if (!r) {
            d->lba += n;
            d->left -= n;
        }
    }
    free(buf);
    ide_sg_notify(s, sg);
    return r;
}

/* Runs the selected device's DMA command once both it and the engine are
 * started (in either order: Linux issues the command first, Fiwix starts
 * the engine first) and the function may master the bus: with Bus Master
 * clear in the PCI command register it makes no memory access (PCI 2.3,
 * 6.2.2), so a started transfer waits until the guest sets it
 * (ide_config_write). Linux (pci_set_master) and Fiwix (ata_pci.c) set it
 * before any DMA. */
static void ide_dma_run(IDEState *s, IDEChannel *c)
{
    IDEDrive *d = ide_cur(c);
    if (!(c->bm_cmd & IDE_BM_CMD_START) || (d->xfer != IDE_XFER_DMA_IN && d->xfer != IDE_XFER_DMA_OUT) ||
        !(pci_get_word(s->pci->config + PCI_COMMAND) & PCI_COMMAND_MASTER))
        return;
    IDESg sg = { .table = c->bm_prd };
    int r;
    /* The engine's direction must be the command's. */
    if (!!(c->bm_cmd & IDE_BM_CMD_READ) != (d->xfer == IDE_XFER_DMA_IN))
        r = IDE_EHBF;
    else
        r = ide_dma_move(s, c, d, &sg);
    if (r == IDE_EHOST)
        return;             /* the engine stays active, the device busy */
    if (r == IDE_EOVF) {
        /* The PRDs end before the transfer: the engine stops with neither
         * Interrupt nor Error, which is how software tells this case
         * (SFF-8038i table 1); the device is left idle without an
         * interrupt or an error, as QEMU's (ide_dma_cb, "PRDs were too
         * short"). Unlike QEMU's, no data moved if the table was short
         * from the start (ide_prd_check). */
        c->bm_status &= (uint8_t)~IDE_BM_ST_ACTIVE;
        d->xfer = IDE_XFER_NONE;
        d->pos = d->len = 0;
        d->left = 0;
        d->status = IDE_STS_OK;
        return;
    }
    if (r) {
        /* A PRD outside RAM (a master abort on real hardware), or the
         * engine's direction not the command's: the engine stops with
         * Error, the command aborts. */
        c->bm_status = (uint8_t)((c->bm_status | IDE_BM_ST_ERROR) & ~IDE_BM_ST_ACTIVE);
        ide_finish(c, d, IDE_ERR_ABRT);
        return;
    }
    /* Active stays set when the PRDs were larger than the transfer
     * (SFF-8038i table 1); software stops the engine either way. */
    if (sg.ended_at_eot)
        c->bm_status &= (uint8_t)~IDE_BM_ST_ACTIVE;
    ide_finish(c, d, 0);
}

/* Bus Master set in the command register lets a started transfer run. */
static void ide_config_write(void *opaque, uint32_t addr, uint32_t val, int size_log2)
{
    IDEState *s = opaque;
    (void)val;
    if (addr > PCI_COMMAND || addr + (1u << size_log2) <= PCI_COMMAND)
        return;
    for (int i = 0; i < IDE_NUM_CHANNELS; i++)
        ide_dma_run(s, &s->ch[i]);
}

/* ---- commands ---- */

static int ide_is_ext(uint8_t cmd)
{
    switch (cmd) {
    case ATA_READ_SECTORS_EXT: case ATA_READ_DMA_EXT: case ATA_READ_MULTIPLE_EXT: case ATA_WRITE_SECTORS_EXT:
    case ATA_WRITE_DMA_EXT: case ATA_WRITE_MULTIPLE_EXT: case ATA_VERIFY_EXT:
        return 1;
    default:
        return 0;
    }
}

/* The command's first sector and count from the task file: LBA48, LBA28 or
 * CHS with IDENTIFY's geometry. -1 if the address does not exist. */
static int ide_range(const IDEChannel *c, const IDEDrive *d, uint8_t cmd, uint64_t *lba, uint32_t *count)
{
    if (ide_is_ext(cmd)) {
        *lba = (uint64_t)c->lbal | (uint64_t)c->lbam << 8 | (uint64_t)c->lbah << 16 | (uint64_t)c->hob_lbal << 24 |
               (uint64_t)c->hob_lbam << 32 | (uint64_t)c->hob_lbah << 40;
        *count = (uint32_t)(c->nsector | c->hob_nsector << 8);
        if (!*count)
            *count = 65536;
    } else {
        *count = c->nsector ? c->nsector : 256;
        if (c->select & IDE_SELECT_LBA) {
            *lba = (uint64_t)c->lbal | (uint64_t)c->lbam << 8 | (uint64_t)c->lbah << 16 |
                   (uint64_t)(c->select & 0x0f) << 24;
        } else {
            uint32_t cyl = (uint32_t)(c->lbam | c->lbah << 8), head = c->select & 0x0f, sect = c->lbal;
            if (!sect || sect > IDE_SPT)
                return -1;
            *lba = ((uint64_t)cyl * IDE_HEADS + head) * IDE_SPT + sect - 1;
        }
    }
    uint64_t n = disk_sectors(d->disk);
    return *lba <= n && *count <= n - *lba ? 0 : -1;
}

static void ide_command(IDEState *s, IDEChannel *c, uint8_t cmd)
{
    IDEDrive *d = ide_cur(c);
    /* A missing device 1 ignores commands (device 0 does not take them). */
    if (!d->disk)
        return;
    if ((d->status & IDE_STS_BSY) && cmd != ATA_EXEC_DIAGNOSTIC)
        return;
    ide_lower(c);
    /* A new command ends any data phase under way. */
    d->xfer = IDE_XFER_NONE;
    d->pos = d->len = 0;
    d->left = 0;
    d->cmd = cmd;
    uint64_t lba;
    uint32_t count;
    int idx = 2 * ide_chan_index(s, c) + (d == &c->drive[1]);

    switch (cmd) {
    case ATA_IDENTIFY_DEVICE:
        ide_identify(d, idx, d->buf);
        d->pos = 0;
        d->len = DISK_SECTOR_SIZE;
        d->xfer = IDE_XFER_PIO_IN;
        d->status = IDE_STS_OK | IDE_STS_DRQ;
        d->error = 0;
        ide_raise(c);
        return;
    case ATA_READ_MULTIPLE:
    case ATA_READ_MULTIPLE_EXT:
    case ATA_WRITE_MULTIPLE:
    case ATA_WRITE_MULTIPLE_EXT:
        if (!d->mult) {
            ide_finish(c, d, IDE_ERR_ABRT);
            return;
        }
        /* fall through */
    case ATA_READ_SECTORS:
    case ATA_READ_SECTORS_NR:
    case ATA_READ_SECTORS_EXT:
    case ATA_WRITE_SECTORS:
    case ATA_WRITE_SECTORS_NR:
    case ATA_WRITE_SECTORS_EXT:
    case ATA_READ_DMA:
    case ATA_READ_DMA_NR:
    case ATA_READ_DMA_EXT:
    case ATA_WRITE_DMA:
    case ATA_WRITE_DMA_NR:
    case ATA_WRITE_DMA_EXT: {
        int write = cmd == ATA_WRITE_SECTORS || cmd == ATA_WRITE_SECTORS_NR || cmd == ATA_WRITE_SECTORS_EXT ||
                    cmd == ATA_WRITE_MULTIPLE || cmd == ATA_WRITE_MULTIPLE_EXT || cmd == ATA_WRITE_DMA ||
                    cmd == ATA_WRITE_DMA_NR || cmd == ATA_WRITE_DMA_EXT;
        int dma = cmd == ATA_READ_DMA || cmd == ATA_READ_DMA_NR || cmd == ATA_READ_DMA_EXT || cmd == ATA_WRITE_DMA ||
                  cmd == ATA_WRITE_DMA_NR || cmd == ATA_WRITE_DMA_EXT;
        if (ide_range(c, d, cmd, &lba, &count)) {
            ide_finish(c, d, IDE_ERR_IDNF | IDE_ERR_ABRT);
            return;
        }
        if (write && disk_read_only(d->disk)) {
            ide_finish(c, d, IDE_ERR_ABRT);
            return;
        }
        d->lba = lba;
        d->left = count;
        d->error = 0;
        if (dma) {
            d->xfer = write ? IDE_XFER_DMA_OUT : IDE_XFER_DMA_IN;
            d->status = IDE_STS_OK | IDE_STS_DRQ;
            ide_dma_run(s, c);
        } else if (write) {
            s->n_transfers++;
            ide_pio_out_next(d);        /* the first block: DRQ without an interrupt */
        } else {
            s->n_transfers++;
            ide_pio_in_next(s, c, d);
        }
        return;
    }
    case ATA_VERIFY:
    case ATA_VERIFY_NR:
    case ATA_VERIFY_EXT:
        ide_finish(c, d, ide_range(c, d, cmd, &lba, &count) ? IDE_ERR_IDNF | IDE_ERR_ABRT : 0);
        return;
    case ATA_SET_MULTIPLE:
        /* 0 disables; otherwise a power of two up to word 47's maximum. */
        if (c->nsector > IDE_MAX_MULT || (c->nsector & (c->nsector - 1))) {
            ide_finish(c, d, IDE_ERR_ABRT);
            return;
        }
        d->mult = c->nsector;
        ide_finish(c, d, 0);
        return;
    case ATA_FLUSH_CACHE:
    case ATA_FLUSH_CACHE_EXT:
        errno = 0;
        if (!disk_read_only(d->disk) && disk_flush(d->disk)) {
            ide_host_failure(s, c, d, "flush", 0, 0, errno);
            return;
        }
        ide_finish(c, d, 0);
        return;
    case ATA_READ_NATIVE_MAX:
    case ATA_READ_NATIVE_MAX_EXT: {
        uint64_t max = disk_sectors(d->disk) - 1;
        if (cmd == ATA_READ_NATIVE_MAX && max > 0x0fffffff)
            max = 0x0fffffff;
        c->lbal = (uint8_t)max;
        c->lbam = (uint8_t)(max >> 8);
        c->lbah = (uint8_t)(max >> 16);
        if (cmd == ATA_READ_NATIVE_MAX) {
            c->select = (uint8_t)((c->select & 0xf0) | ((max >> 24) & 0x0f));
        } else {
            c->hob_lbal = (uint8_t)(max >> 24);
            c->hob_lbam = (uint8_t)(max >> 32);
            c->hob_lbah = (uint8_t)(max >> 40);
        }
        ide_finish(c, d, 0);
        return;
    }
    case ATA_CHECK_POWER_MODE:
        c->nsector = 0xff;              /* active or idle */
        ide_finish(c, d, 0);
        return;
    case ATA_EXEC_DIAGNOSTIC:
        ide_signature(c);
        ide_raise(c);
        return;
    case ATA_SET_FEATURES:              /* transfer mode, write cache...: accepted */
    case ATA_INIT_DEV_PARAMS:           /* CHS stays IDENTIFY's geometry */
    case ATA_SEEK:
    case ATA_STANDBY_IMMEDIATE:
    case ATA_IDLE_IMMEDIATE:
    case ATA_STANDBY:
    case ATA_IDLE:
        ide_finish(c, d, 0);
        return;
    default:
        if ((cmd & 0xf0) == ATA_RECALIBRATE) {
            ide_finish(c, d, 0);
            return;
        }
        /* NOP, IDENTIFY PACKET DEVICE (not a packet device), the rest. */
        ide_finish(c, d, IDE_ERR_ABRT);
        return;
    }
}

/* ---- registers ---- */

static int ide_decodes(const IDEState *s, int ch)
{
    const uint8_t *cfg = s->pci->config;
    return (pci_get_word(cfg + PCI_COMMAND) & PCI_COMMAND_IO) &&
           (pci_get_word(cfg + IDE_PCI_IDETIM + 2 * ch) & IDE_IDETIM_IDE);
}

static int ide_no_devices(const IDEChannel *c)
{
    return !c->drive[0].disk && !c->drive[1].disk;
}

/* Reads of registers other than data: 0 on an empty channel (as QEMU) and
 * for a missing device 1 (device 0 answers for it, ATA/ATAPI-6 9.16.1). */
static uint8_t ide_reg_read(IDEChannel *c, uint32_t reg)
{
    if (ide_no_devices(c))
        return 0;
    IDEDrive *d = ide_cur(c);
    if (!d->disk && reg != IDE_SELECT)
        return 0;
    int hob = !!(c->devctl & IDE_CTL_HOB);
    switch (reg) {
    case IDE_ERROR:   return d->error;
    case IDE_NSECTOR: return hob ? c->hob_nsector : c->nsector;
    case IDE_LBAL:    return hob ? c->hob_lbal : c->lbal;
    case IDE_LBAM:    return hob ? c->hob_lbam : c->lbam;
    case IDE_LBAH:    return hob ? c->hob_lbah : c->lbah;
    case IDE_SELECT:  return c->select;
    default:
        /* Status: reading it acknowledges the interrupt. */
        ide_lower(c);
        return d->status;
    }
}

static void ide_reg_write(IDEState *s, IDEChannel *c, uint32_t reg, uint8_t v)
{
    /* A write to the command block clears HOB (ATA/ATAPI-6 7.9). */
    c->devctl &= (uint8_t)~IDE_CTL_HOB;
    switch (reg) {
    case IDE_FEATURE:
        c->hob_feature = c->feature;
        c->feature = v;
        break;
    case IDE_NSECTOR:
        c->hob_nsector = c->nsector;
        c->nsector = v;
        break;
    case IDE_LBAL:
        c->hob_lbal = c->lbal;
        c->lbal = v;
        break;
    case IDE_LBAM:
        c->hob_lbam = c->lbam;
        c->lbam = v;
        break;
    case IDE_LBAH:
        c->hob_lbah = c->lbah;
        c->lbah = v;
        break;
    case IDE_SELECT:
        /* Bits 7 and 5 are obsolete and read 1. The interrupt belongs to
         * the device that raised it; with one pending line per channel it
         * simply stays. */
        c->select = v | 0xa0;
        break;
    case IDE_COMMAND:
        ide_command(s, c, v);
        break;
    }
}

static uint32_t ide_cmd_read(void *opaque, uint32_t off, int size_log2)
{
    IDEPortRef *r = opaque;
    IDEState *s = r->s;
    IDEChannel *c = &s->ch[r->ch];
    if (!ide_decodes(s, r->ch))
        return size_log2 == 2 ? 0xffffffffu : size_log2 == 1 ? 0xffffu : 0xffu;
    if (off == IDE_DATA && size_log2) {
        if (ide_no_devices(c))
            return size_log2 == 2 ? 0xffffffffu : 0xffffu;
        uint32_t v = ide_data_read16(s, c);
        /* A 32-bit access is two 16-bit ones (the PIIX splits it). */
        if (size_log2 == 2)
            v |= (uint32_t)ide_data_read16(s, c) << 16;
        return v;
    }
    /* Byte-wide registers; a wider access reads consecutive ones. */
    uint32_t v = 0;
    for (int i = 0; i < (1 << size_log2); i++) {
        uint32_t reg = off + (uint32_t)i;
        uint8_t b = reg == IDE_DATA || reg > IDE_STATUS ? 0xff : ide_reg_read(c, reg);
        v |= (uint32_t)b << (8 * i);
    }
    return v;
}

static void ide_cmd_write(void *opaque, uint32_t off, uint32_t val, int size_log2)
{
    IDEPortRef *r = opaque;
    IDEState *s = r->s;
    IDEChannel *c = &s->ch[r->ch];
    if (!ide_decodes(s, r->ch))
        return;
    if (off == IDE_DATA && size_log2) {
        ide_data_write16(s, c, (uint16_t)val);
        if (size_log2 == 2)
            ide_data_write16(s, c, (uint16_t)(val >> 16));
        return;
    }
    for (int i = 0; i < (1 << size_log2); i++) {
        uint32_t reg = off + (uint32_t)i;
        if (reg != IDE_DATA && reg <= IDE_COMMAND)
            ide_reg_write(s, c, reg, (uint8_t)(val >> (8 * i)));
    }
}

static uint32_t ide_ctl_read(void *opaque, uint32_t off, int size_log2)
{
    IDEPortRef *r = opaque;
    IDEChannel *c = &r->s->ch[r->ch];
    (void)off, (void)size_log2;
    if (!ide_decodes(r->s, r->ch))
        return 0xff;
    if (ide_no_devices(c))
        return 0;
    /* Alternate status: the status without acknowledging anything. */
    IDEDrive *d = ide_cur(c);
    return d->disk ? d->status : 0;
}

static void ide_ctl_write(void *opaque, uint32_t off, uint32_t val, int size_log2)
{
    IDEPortRef *r = opaque;
    IDEChannel *c = &r->s->ch[r->ch];
    (void)off, (void)size_log2;
    if (!ide_decodes(r->s, r->ch))
        return;
    uint8_t old = c->devctl;
    c->devctl = (uint8_t)(val & (IDE_CTL_NIEN | IDE_CTL_SRST | IDE_CTL_HOB));
    if ((c->devctl & IDE_CTL_SRST) && !(old & IDE_CTL_SRST)) {
        /* SRST asserted: both devices reset and stay busy until released
         * (ATA/ATAPI-6 9.2); no interrupt follows. */
        ide_signature(c);
        for (int i = 0; i < 2; i++)
            if (c->drive[i].disk)
                c->drive[i].status = IDE_STS_BSY;
        c->intrq = 0;
    } else if (!(c->devctl & IDE_CTL_SRST) && (old & IDE_CTL_SRST)) {
        ide_signature(c);
    }
    ide_update_irq(c);
}

/* BMIDE registers: command at +0, status at +2, PRD table address at +4
 * (dword), for the primary channel at 0-7 and the secondary at 8-15. */
static uint32_t ide_bm_read(void *opaque, uint32_t off, int size_log2)
{
    IDEState *s = opaque;
    uint32_t v = 0;
    for (int i = 0; i < (1 << size_log2); i++) {
        uint32_t o = off + (uint32_t)i;
        if (o >= IDE_BM_SIZE)
            break;
        IDEChannel *c = &s->ch[o >> 3];
        uint8_t b;
        switch (o & 7) {
        case IDE_BM_CMD:    b = c->bm_cmd; break;
        case IDE_BM_STATUS: b = c->bm_status; break;
        case IDE_BM_PRD:
        case IDE_BM_PRD + 1:
        case IDE_BM_PRD + 2:
        case IDE_BM_PRD + 3: b = (uint8_t)(c->bm_prd >> (8 * ((o & 7) - IDE_BM_PRD))); break;
        default:            b = 0; break;
        }
        v |= (uint32_t)b << (8 * i);
    }
    return v;
}

static void ide_bm_write_byte(IDEState *s, uint32_t o, uint8_t b)
{
    IDEChannel *c = &s->ch[o >> 3];
    switch (o & 7) {
    case IDE_BM_CMD: {
        uint8_t old = c->bm_cmd;
        c->bm_cmd = b & (IDE_BM_CMD_START | IDE_BM_CMD_READ);
        if ((c->bm_cmd & IDE_BM_CMD_START) && !(old & IDE_BM_CMD_START)) {
            c->bm_status |= IDE_BM_ST_ACTIVE;
            ide_dma_run(s, c);
        } else if (!(c->bm_cmd & IDE_BM_CMD_START)) {
            /* Stopping the engine ends (aborts) any transfer. */
            c->bm_status &= (uint8_t)~IDE_BM_ST_ACTIVE;
        }
        break;
    }
    case IDE_BM_STATUS:
        /* Error and Interrupt are write-1-to-clear, the DMA capable bits
         * plain; Active and Simplex (0: both channels at once) read-only. */
        c->bm_status = (uint8_t)((c->bm_status & ~(b & (IDE_BM_ST_ERROR | IDE_BM_ST_INT)) &
                                  ~(IDE_BM_ST_DMA0 | IDE_BM_ST_DMA1)) |
                                 (b & (IDE_BM_ST_DMA0 | IDE_BM_ST_DMA1)));
        break;
    case IDE_BM_PRD:
    case IDE_BM_PRD + 1:
    case IDE_BM_PRD + 2:
    case IDE_BM_PRD + 3: {
        int sh = 8 * (int)((o & 7) - IDE_BM_PRD);
        c->bm_prd = (c->bm_prd & ~(0xffu << sh)) | (uint32_t)b << sh;
        c->bm_prd &= ~3u;               /* dword aligned */
        break;
    }
    default:
        break;
    }
}

static void ide_bm_write(void *opaque, uint32_t off, uint32_t val, int size_log2)
{
    for (int i = 0; i < (1 << size_log2); i++)
        if (off + (uint32_t)i < IDE_BM_SIZE)
            ide_bm_write_byte(opaque, off + (uint32_t)i, (uint8_t)(val >> (8 * i)));
}

int ide_attach(IDEState *s, int n, Disk *disk)
{
    if (n < 0 || n >= IDE_NUM_DRIVES || !disk || s->ch[n >> 1].drive[n & 1].disk)
        return -1;
    IDEChannel *c = &s->ch[n >> 1];
    c->drive[n & 1].disk = disk;
    /* A device that arrives before boot is in its power-on state. */
    ide_signature(c);
    return 0;
}

IDEState *ide_init(PCIBus *bus, IoMap *map, int devfn, IRQSignal *irq14, IRQSignal *irq15, uint8_t *ram,
                   uint64_t ram_size, IDEDmaNotify *dma_written, void *opaque)
{
    static const uint32_t base[IDE_NUM_CHANNELS] = { IDE_PRIMARY_BASE, IDE_SECONDARY_BASE };
    static const uint32_t ctl[IDE_NUM_CHANNELS] = { IDE_PRIMARY_CTL, IDE_SECONDARY_CTL };
    IDEState *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    /* No INTx: in compatibility mode the channels use IRQ 14 and 15. */
    s->pci = pci_register_device(bus, "piix3-ide", devfn, IDE_VENDOR_ID, IDE_DEVICE_ID, 0x00, IDE_CLASS, 0, -1);
    if (!s->pci) {
        free(s);
        return NULL;
    }
    pci_set_config_hooks(s->pci, NULL, ide_config_write, s);
    s->mem = guest_ram(ram, ram_size);
    s->dma_written = dma_written;
    s->opaque = opaque;
    s->ch[0].irq = irq14;
    s->ch[1].irq = irq15;
    for (int i = 0; i < IDE_NUM_CHANNELS; i++) {
        s->ref[i].s = s;
        s->ref[i].ch = i;
        if (!iomap_register_ports(map, base[i], 8, &s->ref[i], ide_cmd_read, ide_cmd_write,
                                  IO_SIZE8 | IO_SIZE16 | IO_SIZE32, "ide") ||
            !iomap_register_ports(map, ctl[i], 1, &s->ref[i], ide_ctl_read, ide_ctl_write, IO_SIZE8, "ide-ctl"))
            return NULL;        /* wiring error at start-up; the ranges may point at s */
    }
    /* IDETIM and SIDETIM are the guest's to program. */
    for (int a = IDE_PCI_IDETIM; a <= IDE_PCI_SIDETIM; a++)
        s->pci->wmask[a] = 0xff;
    IoRange r = { .opaque = s, .read = ide_bm_read, .write = ide_bm_write,
                  .flags = IO_SIZE8 | IO_SIZE16 | IO_SIZE32, .name = "ide-bm" };
    pci_set_bar(s->pci, IDE_BM_BAR, IDE_BM_SIZE, 1, IDE_BMIBA, &r);
    ide_reset(s);
    return s;
}

/* ---- checkpoints ---- */

static void ide_drive_state(IDEDrive *d, int n, StateIO *io)
{
    char name[32];
#define IDE_FIELD(f) (snprintf(name, sizeof name, "drive[%d]." #f, n), name)
    uint8_t present = d->disk != NULL;
    state_u8(io, IDE_FIELD(present), &present);
    state_check(io, present == (d->disk != NULL), "IDE disk %d: the checkpoint has %s disk there, this machine %s",
                n, present ? "a" : "no", d->disk ? "has one" : "has none");
    state_u8(io, IDE_FIELD(status), &d->status);
    state_u8(io, IDE_FIELD(error), &d->error);
    state_u8(io, IDE_FIELD(mult), &d->mult);
    state_u8(io, IDE_FIELD(xfer), &d->xfer);
    state_u8(io, IDE_FIELD(cmd), &d->cmd);
    state_u64(io, IDE_FIELD(lba), &d->lba);
    state_u32(io, IDE_FIELD(left), &d->left);
    state_u16(io, IDE_FIELD(pos), &d->pos);
    state_u16(io, IDE_FIELD(len), &d->len);
    state_check(io, d->len <= sizeof d->buf && d->len % DISK_SECTOR_SIZE == 0 && d->pos <= d->len && !(d->pos & 1),
                "IDE disk %d: PIO block %u/%u out of range", n, d->pos, d->len);
    if (!state_ok(io))
        return;
    /* Only the block in flight. */
    state_u8s(io, IDE_FIELD(buf), d->buf, d->len);
#undef IDE_FIELD
    if (!state_loading(io) || !state_ok(io))
        return;
    state_check(io, d->mult <= IDE_MAX_MULT && !(d->mult & (d->mult - 1)) && d->xfer <= IDE_XFER_DMA_OUT,
                "IDE disk %d: register value out of range", n);
    /* A data phase needs a disk and stays inside it; a PIO block is there
     * exactly while its phase lasts. */
    int pio = d->xfer == IDE_XFER_PIO_IN || d->xfer == IDE_XFER_PIO_OUT;
    uint64_t sectors = d->disk ? disk_sectors(d->disk) : 0;
    state_check(io, d->xfer == IDE_XFER_NONE ? !d->len && !d->left
                                              : d->disk && (pio ? d->len && d->pos < d->len : !d->len) &&
                                                    d->left <= 65536 && d->lba <= sectors &&
                                                    d->left <= sectors - d->lba,
                "IDE disk %d: data phase %u (LBA %llu, %u sectors left, block %u/%u) inconsistent", n, d->xfer,
                (unsigned long long)d->lba, d->left, d->pos, d->len);
    state_check(io, !(d->xfer == IDE_XFER_PIO_OUT || d->xfer == IDE_XFER_DMA_OUT) || !disk_read_only(d->disk),
                "IDE disk %d: a write in flight to a read-only disk", n);
    state_check(io, d->disk || (!d->status && !d->xfer), "IDE disk %d: a missing device with status %#x", n,
                d->status);
}

static void ide_channel_state(IDEChannel *c, int ch, StateIO *io)
{
    char name[32];
#define IDE_CFIELD(f) (snprintf(name, sizeof name, "ch[%d]." #f, ch), name)
    state_u8(io, IDE_CFIELD(feature), &c->feature);
    state_u8(io, IDE_CFIELD(nsector), &c->nsector);
    state_u8(io, IDE_CFIELD(lbal), &c->lbal);
    state_u8(io, IDE_CFIELD(lbam), &c->lbam);
    state_u8(io, IDE_CFIELD(lbah), &c->lbah);
    state_u8(io, IDE_CFIELD(hob_feature), &c->hob_feature);
    state_u8(io, IDE_CFIELD(hob_nsector), &c->hob_nsector);
    state_u8(io, IDE_CFIELD(hob_lbal), &c->hob_lbal);
    state_u8(io, IDE_CFIELD(hob_lbam), &c->hob_lbam);
    state_u8(io, IDE_CFIELD(hob_lbah), &c->hob_lbah);
    state_u8(io, IDE_CFIELD(select), &c->select);
    state_u8(io, IDE_CFIELD(devctl), &c->devctl);
    state_u8(io, IDE_CFIELD(intrq), &c->intrq);
    state_u8(io, IDE_CFIELD(irq_level), &c->irq_level);
    state_u8(io, IDE_CFIELD(bm_cmd), &c->bm_cmd);
    state_u8(io, IDE_CFIELD(bm_status), &c->bm_status);
    state_u32(io, IDE_CFIELD(bm_prd), &c->bm_prd);
#undef IDE_CFIELD
    state_check(io, (c->select & 0xa0) == 0xa0 && !(c->devctl & ~(IDE_CTL_NIEN | IDE_CTL_SRST | IDE_CTL_HOB)) &&
                        c->intrq <= 1 && !(c->bm_cmd & ~(IDE_BM_CMD_START | IDE_BM_CMD_READ)) &&
                        !(c->bm_status & ~(IDE_BM_ST_ACTIVE | IDE_BM_ST_ERROR | IDE_BM_ST_INT | IDE_BM_ST_DMA0 |
                                           IDE_BM_ST_DMA1)) &&
                        !(c->bm_prd & 3),
                "IDE channel %d: register value out of range", ch);
    state_check(io, c->irq_level == (c->intrq && !(c->devctl & IDE_CTL_NIEN)),
                "IDE channel %d: IRQ level %u does not match the registers", ch, c->irq_level);
    for (int i = 0; i < 2 && state_ok(io); i++)
        ide_drive_state(&c->drive[i], 2 * ch + i, io);
}

void ide_state(IDEState *s, StateIO *io)
{
    /* Loaded into a copy (8 KiB blocks: on the heap), so a refused
     * checkpoint leaves the device as it was. */
    IDEChannel *t = malloc(sizeof s->ch);
    if (!t) {
        state_fail(io, "out of memory");
        return;
    }
    memcpy(t, s->ch, sizeof s->ch);
    for (int i = 0; i < IDE_NUM_CHANNELS && state_ok(io); i++)
        ide_channel_state(&t[i], i, io);
    if (state_loading(io) && state_ok(io))
        memcpy(s->ch, t, sizeof s->ch);     /* the wiring in t is s's own */
    free(t);
}
