/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PIIX3 IDE at register level through its legacy ports and BMIDE: PCI
 * identity, power-on signature, IDENTIFY (16- and 32-bit reads), PIO reads
 * and writes (single, MULTIPLE, EXT), range and read-only errors, missing
 * devices, bus-master DMA in both orders of start and command, waiting for
 * the PCI Bus Master bit, PRDs outside RAM or too short, nIEN and SRST, a checkpoint taken mid-transfer; and with
 * 4 GiB of guest RAM, DMA up to the PCI hole, none into it. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/platform.h"
#include "devices/ide.h"
#include "check.h"

#define RAM_SIZE   (1u << 20)
#define DEVFN      PCI_DEVFN(1, 1)
#define DISK_SECT  4096u
#define RO_SECT    64u
#define P          IDE_PRIMARY_BASE
#define CTL        IDE_PRIMARY_CTL
#define BM         IDE_BMIBA

static uint8_t *ram;
static uint64_t ram_size = RAM_SIZE;
static int irq_level[16], irq_rises[16];
static struct { uint64_t pa, len; } dma_log[64];
static int n_dma;

static void on_irq(void *opaque, int n, int level)
{
    (void)opaque;
    if (level && !irq_level[n])
        irq_rises[n]++;
    irq_level[n] = level;
}

static void on_dma(void *opaque, uint64_t pa, uint64_t len)
{
    (void)opaque;
    if (n_dma < 64) {
        dma_log[n_dma].pa = pa;
        dma_log[n_dma].len = len;
    }
    n_dma++;
}

typedef struct Rig {
    IoMap map;
    PCIBus *bus;
    IDEState *ide;
    IRQSignal irq14, irq15;
} Rig;

static void rig_init(Rig *r, Disk *master, Disk *slave)
{
    iomap_init(&r->map);
    r->bus = pci_init(&r->map, NULL, NULL);
    irq_init(&r->irq14, on_irq, NULL, 14);
    irq_init(&r->irq15, on_irq, NULL, 15);
    r->ide = ide_init(r->bus, &r->map, DEVFN, &r->irq14, &r->irq15, ram, ram_size, on_dma, NULL);
    /* As a driver does (the firmware leaves only the decode on). */
    pci_config_write(r->ide->pci, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MASTER, 1);
    if (master)
        ide_attach(r->ide, 0, master);
    if (slave)
        ide_attach(r->ide, 1, slave);
}

static void rig_free(Rig *r)
{
    free(r->ide);
    pci_free(r->bus);
}

static Rig rig;
#define inb(p) iomap_port_read(&rig.map, (p), 0)
#define inw(p) iomap_port_read(&rig.map, (p), 1)
#define inl(p) iomap_port_read(&rig.map, (p), 2)
#define outb(p, v) iomap_port_write(&rig.map, (p), (v), 0)
#define outw(p, v) iomap_port_write(&rig.map, (p), (v), 1)
#define outl(p, v) iomap_port_write(&rig.map, (p), (v), 2)

static uint32_t conf_read(int reg, int size_log2)
{
    outl(PCI_CONFIG_ADDRESS, PCI_CONFIG_ENABLE | DEVFN << 8 | (reg & 0xfc));
    return iomap_port_read(&rig.map, PCI_CONFIG_DATA + (reg & 3), size_log2);
}

static void conf_write(int reg, uint32_t val, int size_log2)
{
    outl(PCI_CONFIG_ADDRESS, PCI_CONFIG_ENABLE | DEVFN << 8 | (reg & 0xfc));
    iomap_port_write(&rig.map, PCI_CONFIG_DATA + (reg & 3), val, size_log2);
}

static void put32(uint32_t pa, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        ram[pa + i] = (uint8_t)(v >> (8 * i));
}

/* The byte the pattern disk holds at sector s, offset i. */
static uint8_t pat(uint64_t s, int i)
{
    return (uint8_t)(s * 7 + (uint64_t)i * 13 + (s >> 8));
}

static int sector_is_pattern(const uint8_t *b, uint64_t s)
{
    for (int i = 0; i < 512; i++)
        if (b[i] != pat(s, i))
            return 0;
    return 1;
}

/* LBA28 task file for the selected device (dev 0/1) and a command. */
static void issue28(int dev, uint8_t cmd, uint32_t lba, uint8_t count)
{
    outb(P + IDE_SELECT, 0xe0 | dev << 4 | ((lba >> 24) & 0x0f));
    outb(P + IDE_NSECTOR, count);
    outb(P + IDE_LBAL, lba & 0xff);
    outb(P + IDE_LBAM, (lba >> 8) & 0xff);
    outb(P + IDE_LBAH, (lba >> 16) & 0xff);
    outb(P + IDE_COMMAND, cmd);
}

static void issue48(uint8_t cmd, uint64_t lba, uint16_t count)
{
    outb(P + IDE_SELECT, 0xe0);
    outb(P + IDE_NSECTOR, count >> 8);
    outb(P + IDE_LBAL, (lba >> 24) & 0xff);
    outb(P + IDE_LBAM, (lba >> 32) & 0xff);
    outb(P + IDE_LBAH, (lba >> 40) & 0xff);
    outb(P + IDE_NSECTOR, count & 0xff);
    outb(P + IDE_LBAL, lba & 0xff);
    outb(P + IDE_LBAM, (lba >> 8) & 0xff);
    outb(P + IDE_LBAH, (lba >> 16) & 0xff);
    outb(P + IDE_COMMAND, cmd);
}

/* Reads n sectors of PIO data into out (16-bit accesses). */
static void pio_read(uint8_t *out, int n)
{
    for (int i = 0; i < n * 256; i++) {
        uint16_t w = (uint16_t)inw(P + IDE_DATA);
        out[2 * i] = (uint8_t)w;
        out[2 * i + 1] = (uint8_t)(w >> 8);
    }
}

static void test_pci(void)
{
    CHECK_EQ(conf_read(PCI_VENDOR_ID, 1), IDE_VENDOR_ID);
    CHECK_EQ(conf_read(PCI_DEVICE_ID, 1), IDE_DEVICE_ID);
    CHECK_EQ(conf_read(PCI_CLASS_PROG, 0), 0x80);
    CHECK_EQ(conf_read(PCI_CLASS_DEVICE, 1), 0x0101);
    CHECK_EQ(conf_read(PCI_BASE_ADDRESS_0 + 16, 2), BM | 1);
    CHECK_EQ(conf_read(PCI_BASE_ADDRESS_0, 2), 0);      /* legacy: BAR0-3 unused */
    CHECK_EQ(conf_read(PCI_INTERRUPT_PIN, 0), 0);
    CHECK_EQ(conf_read(IDE_PCI_IDETIM, 1) & IDE_IDETIM_IDE, IDE_IDETIM_IDE);
    CHECK_EQ(conf_read(IDE_PCI_IDETIM + 2, 1) & IDE_IDETIM_IDE, IDE_IDETIM_IDE);
    CHECK(conf_read(PCI_COMMAND, 1) & PCI_COMMAND_IO);
    /* Fiwix's timings write; the decode bit stays the guest's. */
    conf_write(IDE_PCI_IDETIM, 0xa344, 1);
    CHECK_EQ(conf_read(IDE_PCI_IDETIM, 1), 0xa344);
    /* Decode off: the channel reads as nothing is there. */
    conf_write(IDE_PCI_IDETIM, 0x0000, 1);
    CHECK_EQ(inb(P + IDE_STATUS), 0xff);
    conf_write(IDE_PCI_IDETIM, 0x8000, 1);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
}

static void test_signature_and_missing(void)
{
    outb(P + IDE_SELECT, 0xa0);
    CHECK_EQ(inb(P + IDE_NSECTOR), 1);
    CHECK_EQ(inb(P + IDE_LBAL), 1);
    CHECK_EQ(inb(P + IDE_LBAM), 0);
    CHECK_EQ(inb(P + IDE_LBAH), 0);
    CHECK_EQ(inb(P + IDE_ERROR), 0x01);
    CHECK_EQ(inb(CTL), IDE_STS_DRDY | IDE_STS_DSC);
    /* The secondary channel has no device at all: its registers read 0 as
     * QEMU's do (BSY clear, so a probe ends), the data port all-ones. */
    CHECK_EQ(inb(IDE_SECONDARY_BASE + IDE_STATUS), 0);
    CHECK_EQ(inb(IDE_SECONDARY_BASE + IDE_NSECTOR), 0);
    CHECK_EQ(inb(IDE_SECONDARY_CTL), 0);
    CHECK_EQ(inw(IDE_SECONDARY_BASE), 0xffff);
    /* Commands there go nowhere and raise nothing. */
    outb(IDE_SECONDARY_BASE + IDE_COMMAND, 0xec);
    CHECK_EQ(irq_level[15], 0);
    CHECK_EQ(inb(IDE_SECONDARY_BASE + IDE_STATUS), 0);
}

static void test_identify(void)
{
    uint8_t a[512], b[512];
    int rises = irq_rises[14];
    outb(P + IDE_SELECT, 0xa0);
    outb(P + IDE_COMMAND, 0xec);
    CHECK_EQ(irq_level[14], 1);
    CHECK_EQ(irq_rises[14], rises + 1);
    CHECK_EQ(inb(CTL), IDE_STS_DRDY | IDE_STS_DSC | IDE_STS_DRQ);   /* alternate status: no acknowledge */
    CHECK_EQ(irq_level[14], 1);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC | IDE_STS_DRQ);
    CHECK_EQ(irq_level[14], 0);
    pio_read(a, 1);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
    uint16_t w[256];
    for (int i = 0; i < 256; i++)
        w[i] = (uint16_t)(a[2 * i] | a[2 * i + 1] << 8);
    CHECK_EQ(w[0], 0x0040);
    CHECK_EQ(w[3], 16);
    CHECK_EQ(w[6], 63);
    CHECK_EQ(w[1], DISK_SECT / (16 * 63));
    CHECK_EQ(w[47], 0x8010);
    CHECK_EQ(w[49] & (1 << 9 | 1 << 8), 1 << 9 | 1 << 8);  /* LBA, DMA */
    CHECK_EQ(w[60] | (uint32_t)w[61] << 16, DISK_SECT);
    CHECK_EQ(w[100] | (uint32_t)w[101] << 16, DISK_SECT);
    CHECK_EQ(w[83] & (1 << 10), 1 << 10);                  /* LBA48 */
    CHECK_EQ(w[63] & 7, 7);                                /* multiword DMA 0-2 */
    CHECK_EQ(w[64] & 3, 3);                                /* PIO 3-4 */
    CHECK(!memcmp(a + 54, "blmvI EDd si k", 14));           /* "lbvm IDE disk", byte-swapped words */
    uint8_t sum = 0;
    for (int i = 0; i < 512; i++)
        sum += a[i];
    CHECK_EQ(sum, 0);
    CHECK_EQ(a[510], 0xa5);
    /* Again with 32-bit reads (Fiwix compares both to pick its width). */
    outb(P + IDE_COMMAND, 0xec);
    inb(P + IDE_STATUS);
    for (int i = 0; i < 128; i++) {
        uint32_t v = inl(P + IDE_DATA);
        for (int k = 0; k < 4; k++)
            b[4 * i + k] = (uint8_t)(v >> (8 * k));
    }
    CHECK(!memcmp(a, b, 512));
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
    /* Past the data: nothing more comes. */
    CHECK_EQ(inw(P + IDE_DATA), 0xffff);
    /* IDENTIFY PACKET DEVICE: this is no packet device. */
    outb(P + IDE_COMMAND, 0xa1);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC | IDE_STS_ERR);
    CHECK_EQ(inb(P + IDE_ERROR), IDE_ERR_ABRT);
}

static void test_pio_read(void)
{
    uint8_t buf[8 * 512];
    int rises = irq_rises[14];
    issue28(0, 0x20, 5, 2);
    CHECK_EQ(irq_rises[14], rises + 1);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC | IDE_STS_DRQ);
    pio_read(buf, 1);
    CHECK_EQ(irq_rises[14], rises + 2);                 /* one per sector */
    CHECK_EQ(inb(P + IDE_STATUS) & IDE_STS_DRQ, IDE_STS_DRQ);
    pio_read(buf + 512, 1);
    CHECK_EQ(irq_rises[14], rises + 2);                 /* none after the last */
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
    CHECK(sector_is_pattern(buf, 5) && sector_is_pattern(buf + 512, 6));

    /* READ MULTIPLE with a block of 4: 6 sectors come as 4 + 2. */
    issue28(0, 0xc6, 0, 4);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
    rises = irq_rises[14];
    issue28(0, 0xc4, 100, 6);
    CHECK_EQ(irq_rises[14], rises + 1);
    inb(P + IDE_STATUS);
    pio_read(buf, 4);
    CHECK_EQ(irq_rises[14], rises + 2);
    inb(P + IDE_STATUS);
    pio_read(buf + 4 * 512, 2);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
    int ok = 1;
    for (int s = 0; s < 6; s++)
        ok &= sector_is_pattern(buf + 512 * s, 100 + (uint64_t)s);
    CHECK(ok);
    /* A block size that is not a power of two is refused. */
    issue28(0, 0xc6, 0, 3);
    CHECK_EQ(inb(P + IDE_STATUS) & IDE_STS_ERR, IDE_STS_ERR);
    /* CHS: cylinder 1, head 2, sector 3 with 16 heads and 63 sectors. */
    outb(P + IDE_SELECT, 0xa2);
    outb(P + IDE_NSECTOR, 1);
    outb(P + IDE_LBAL, 3);
    outb(P + IDE_LBAM, 1);
    outb(P + IDE_LBAH, 0);
    outb(P + IDE_COMMAND, 0x20);
    inb(P + IDE_STATUS);
    pio_read(buf, 1);
    CHECK(sector_is_pattern(buf, (1 * 16 + 2) * 63 + 2));
    /* READ SECTORS EXT, with the HOB bytes read back. */
    issue48(0x24, 4000, 2);
    outb(CTL, IDE_CTL_HOB);
    CHECK_EQ(inb(P + IDE_LBAL), 0);                     /* LBA bits 24-31 */
    CHECK_EQ(inb(P + IDE_NSECTOR), 0);
    outb(CTL, 0);
    CHECK_EQ(inb(P + IDE_LBAM), 4000 >> 8);
    inb(P + IDE_STATUS);
    pio_read(buf, 2);
    CHECK(sector_is_pattern(buf, 4000) && sector_is_pattern(buf + 512, 4001));
    /* Ranges past the end: IDNF. */
    issue28(0, 0x20, DISK_SECT - 1, 2);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC | IDE_STS_ERR);
    CHECK_EQ(inb(P + IDE_ERROR), IDE_ERR_IDNF | IDE_ERR_ABRT);
    issue48(0x24, 1ull << 40, 1);
    CHECK_EQ(inb(P + IDE_ERROR), IDE_ERR_IDNF | IDE_ERR_ABRT);
    issue28(0, 0x20, 0, 0);                             /* 0 = 256 sectors: fits */
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC | IDE_STS_DRQ);
    outb(P + IDE_COMMAND, 0xe7);                        /* a new command ends that read */
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
}

static void test_pio_write(Disk *d, Disk *ro)
{
    uint8_t buf[512];
    int rises = irq_rises[14];
    issue28(0, 0x30, 10, 3);
    CHECK_EQ(irq_rises[14], rises);                      /* the first block: DRQ, no interrupt */
    CHECK_EQ(inb(CTL), IDE_STS_DRDY | IDE_STS_DSC | IDE_STS_DRQ);
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < 256; i++)
            outw(P + IDE_DATA, (uint16_t)(0xa500 + s * 256 + i));
        CHECK_EQ(irq_rises[14], rises + s + 1);
        inb(P + IDE_STATUS);
    }
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
    int ok = 1;
    for (int s = 0; s < 3; s++) {
        disk_read(d, 10 + (uint64_t)s, 1, buf);
        for (int i = 0; i < 256; i++)
            ok &= buf[2 * i] == (uint8_t)(s * 256 + i) && buf[2 * i + 1] == (uint8_t)((0xa500 + s * 256 + i) >> 8);
    }
    CHECK(ok);
    /* WRITE MULTIPLE EXT with 32-bit writes. */
    issue28(0, 0xc6, 0, 2);
    issue48(0x39, 20, 2);
    for (int i = 0; i < 256; i++)
        outl(P + IDE_DATA, 0x11223344u + (uint32_t)i);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
    disk_read(d, 21, 1, buf);
    CHECK_EQ(buf[508] | buf[509] << 8 | buf[510] << 16 | (uint32_t)buf[511] << 24, 0x11223344u + 255);
    /* The read-only slave refuses writes before any data. */
    issue28(1, 0x30, 0, 1);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC | IDE_STS_ERR);
    CHECK_EQ(inb(P + IDE_ERROR), IDE_ERR_ABRT);
    disk_read(ro, 0, 1, buf);
    CHECK_EQ(buf[0], 0);
    issue28(1, 0x20, RO_SECT - 1, 1);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC | IDE_STS_DRQ);
    pio_read(buf, 1);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
}

/* A PRD table at `table`: n entries (addr, len, last one EOT). */
static void prd_table(uint32_t table, int n, const uint32_t *addr, const uint32_t *len)
{
    for (int i = 0; i < n; i++) {
        put32(table + 8 * (uint32_t)i, addr[i]);
        put32(table + 8 * (uint32_t)i + 4, (len[i] & 0xfffe) | (i == n - 1 ? 0x80000000u : 0));
    }
}

static void test_dma(Disk *d)
{
    uint32_t addr[2] = { 0x20000, 0x30000 }, len[2] = { 512, 1024 };
    memset(ram + 0x20000, 0, 0x20000);
    prd_table(0x1000, 2, addr, len);
    outb(BM + IDE_BM_STATUS, IDE_BM_ST_INT | IDE_BM_ST_ERROR | IDE_BM_ST_DMA0);
    outl(BM + IDE_BM_PRD, 0x1000);
    CHECK_EQ(inl(BM + IDE_BM_PRD), 0x1000);
    /* Linux's order: direction, command, then start. */
    outb(BM + IDE_BM_CMD, IDE_BM_CMD_READ);
    n_dma = 0;
    issue28(0, 0xc8, 200, 3);
    CHECK_EQ(inb(P + IDE_STATUS) & IDE_STS_DRQ, IDE_STS_DRQ);    /* waiting for the engine */
    CHECK_EQ(irq_level[14], 0);
    outb(BM + IDE_BM_CMD, IDE_BM_CMD_READ | IDE_BM_CMD_START);
    CHECK_EQ(irq_level[14], 1);
    CHECK_EQ(inb(BM + IDE_BM_STATUS), IDE_BM_ST_INT | IDE_BM_ST_DMA0);   /* Active cleared at EOT */
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
    CHECK(sector_is_pattern(ram + 0x20000, 200));
    CHECK(sector_is_pattern(ram + 0x30000, 201) && sector_is_pattern(ram + 0x30200, 202));
    CHECK_EQ(n_dma, 2);
    CHECK(dma_log[0].pa == 0x20000 && dma_log[0].len == 512 && dma_log[1].pa == 0x30000 && dma_log[1].len == 1024);
    outb(BM + IDE_BM_CMD, IDE_BM_CMD_READ);
    outb(BM + IDE_BM_STATUS, IDE_BM_ST_INT | IDE_BM_ST_DMA0);
    CHECK_EQ(inb(BM + IDE_BM_STATUS), IDE_BM_ST_DMA0);

    /* Fiwix's order: start, then READ DMA EXT; PRD larger than needed keeps Active. */
    uint32_t big[1] = { 0x40000 }, biglen[1] = { 0x2000 };
    prd_table(0x1100, 1, big, biglen);
    outl(BM + IDE_BM_PRD, 0x1100);
    outb(BM + IDE_BM_CMD, IDE_BM_CMD_READ | IDE_BM_CMD_START);
    issue48(0x25, 300, 1);
    CHECK_EQ(inb(BM + IDE_BM_STATUS), IDE_BM_ST_INT | IDE_BM_ST_ACTIVE | IDE_BM_ST_DMA0);
    CHECK(sector_is_pattern(ram + 0x40000, 300));
    outb(BM + IDE_BM_CMD, 0);
    CHECK_EQ(inb(BM + IDE_BM_STATUS) & IDE_BM_ST_ACTIVE, 0);
    outb(BM + IDE_BM_STATUS, IDE_BM_ST_INT | IDE_BM_ST_DMA0);
    inb(P + IDE_STATUS);

    /* WRITE DMA from RAM to disk. */
    for (int i = 0; i < 1024; i++)
        ram[0x50000 + i] = (uint8_t)(i * 3 + 1);
    uint32_t wa[1] = { 0x50000 }, wl[1] = { 1024 };
    prd_table(0x1200, 1, wa, wl);
    outl(BM + IDE_BM_PRD, 0x1200);
    outb(BM + IDE_BM_CMD, 0);
    issue28(0, 0xca, 40, 2);
    outb(BM + IDE_BM_CMD, IDE_BM_CMD_START);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
    uint8_t back[1024];
    disk_read(d, 40, 2, back);
    CHECK(!memcmp(back, ram + 0x50000, 1024));
    outb(BM + IDE_BM_CMD, 0);
    outb(BM + IDE_BM_STATUS, IDE_BM_ST_INT | IDE_BM_ST_DMA0);
}

/* Each bad table (or direction) ends the command with Error and ABRT, and
 * nothing else. */
static void dma_bad(uint32_t table, uint8_t bm_cmd, uint8_t cmd, const char *what)
{
    uint8_t before[0x100];
    memcpy(before, ram + 0x60000, sizeof before);
    outl(BM + IDE_BM_PRD, table);
    outb(BM + IDE_BM_CMD, bm_cmd & ~IDE_BM_CMD_START);
    issue28(0, cmd, 0, 4);
    outb(BM + IDE_BM_CMD, bm_cmd);
    int ok = inb(BM + IDE_BM_STATUS) == (IDE_BM_ST_ERROR | IDE_BM_ST_INT | IDE_BM_ST_DMA0) &&
             inb(P + IDE_STATUS) == (IDE_STS_DRDY | IDE_STS_DSC | IDE_STS_ERR) && inb(P + IDE_ERROR) == IDE_ERR_ABRT &&
             !memcmp(before, ram + 0x60000, sizeof before);
    if (!ok)
        fprintf(stderr, "bad PRD case: %s\n", what);
    CHECK(ok);
    outb(BM + IDE_BM_CMD, 0);
    outb(BM + IDE_BM_STATUS, IDE_BM_ST_INT | IDE_BM_ST_ERROR | IDE_BM_ST_DMA0);
}

/* Bus Master clear in the PCI command register: a started transfer waits
 * (no memory access, PCI 2.3 6.2.2) and runs when the guest sets it. */
static void test_dma_master(void)
{
    uint32_t a[1] = { 0x70000 }, l[1] = { 1024 };
    CHECK_EQ(conf_read(PCI_COMMAND, 1) & PCI_COMMAND_MASTER, PCI_COMMAND_MASTER);
    conf_write(PCI_COMMAND, PCI_COMMAND_IO, 1);
    memset(ram + 0x70000, 0, 1024);
    prd_table(0x3000, 1, a, l);
    inb(P + IDE_STATUS);
    n_dma = 0;
    outl(BM + IDE_BM_PRD, 0x3000);
    outb(BM + IDE_BM_CMD, IDE_BM_CMD_READ);
    issue28(0, 0xc8, 600, 2);
    outb(BM + IDE_BM_CMD, IDE_BM_CMD_READ | IDE_BM_CMD_START);
    CHECK_EQ(inb(BM + IDE_BM_STATUS), IDE_BM_ST_ACTIVE | IDE_BM_ST_DMA0);
    CHECK_EQ(inb(CTL), IDE_STS_DRDY | IDE_STS_DSC | IDE_STS_DRQ);
    CHECK_EQ(irq_level[14], 0);
    CHECK_EQ(n_dma, 0);
    CHECK_EQ(ram[0x70000] | ram[0x703ff], 0);
    /* Another config write leaves it waiting; Bus Master set runs it. */
    conf_write(IDE_PCI_IDETIM, 0x8000, 1);
    CHECK_EQ(n_dma, 0);
    conf_write(PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MASTER, 1);
    CHECK_EQ(inb(BM + IDE_BM_STATUS), IDE_BM_ST_INT | IDE_BM_ST_DMA0);
    CHECK_EQ(irq_level[14], 1);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
    CHECK(sector_is_pattern(ram + 0x70000, 600) && sector_is_pattern(ram + 0x70200, 601));
    CHECK_EQ(n_dma, 1);
    outb(BM + IDE_BM_CMD, 0);
    outb(BM + IDE_BM_STATUS, IDE_BM_ST_INT | IDE_BM_ST_DMA0);
}

static void test_dma_bad(void)
{
    uint32_t a[2], l[2];
    /* A buffer that runs past the end of RAM. */
    a[0] = RAM_SIZE - 1024;
    l[0] = 2048;
    prd_table(0x2000, 1, a, l);
    dma_bad(0x2000, IDE_BM_CMD_READ | IDE_BM_CMD_START, 0xc8, "buffer past RAM");
    /* A buffer far outside RAM. */
    a[0] = 0xfff00000u;
    l[0] = 2048;
    prd_table(0x2000, 1, a, l);
    dma_bad(0x2000, IDE_BM_CMD_START, 0xca, "buffer outside RAM (write)");
    /* The table itself outside RAM. */
    dma_bad(0xfffffff0u, IDE_BM_CMD_READ | IDE_BM_CMD_START, 0xc8, "table outside RAM");
    /* The table's last entry straddles the end of RAM. */
    dma_bad(RAM_SIZE - 4, IDE_BM_CMD_READ | IDE_BM_CMD_START, 0xc8, "table entry past RAM");
    /* EOT before the transfer is covered (1 KiB for 2 KiB): SFF-8038i
     * table 1's "PRDs smaller than the transfer", Interrupt and Active
     * clear and no Error; the device idle with no interrupt and no error
     * (as QEMU's); nothing moves. */
    a[0] = 0x60000;
    l[0] = 1024;
    prd_table(0x2000, 1, a, l);
    for (int write = 0; write < 2; write++) {
        uint8_t before[0x800], sec[512];
        memcpy(before, ram + 0x60000, sizeof before);
        memset(ram + 0x60000, 0x5a, 1024);
        inb(P + IDE_STATUS);
        int rises = irq_rises[14];
        outl(BM + IDE_BM_PRD, 0x2000);
        outb(BM + IDE_BM_CMD, write ? 0 : IDE_BM_CMD_READ);
        issue28(0, write ? 0xca : 0xc8, 0, 4);
        outb(BM + IDE_BM_CMD, write ? IDE_BM_CMD_START : IDE_BM_CMD_READ | IDE_BM_CMD_START);
        CHECK_EQ(inb(BM + IDE_BM_STATUS), IDE_BM_ST_DMA0);
        CHECK_EQ(irq_rises[14], rises);
        CHECK_EQ(irq_level[14], 0);
        CHECK_EQ(inb(CTL), IDE_STS_DRDY | IDE_STS_DSC);
        CHECK_EQ(inb(P + IDE_ERROR), 0);
        int same = 1;
        for (int i = 0; i < 1024; i++)
            same &= ram[0x60000 + i] == 0x5a;
        CHECK(same);
        CHECK(disk_read(rig.ide->ch[0].drive[0].disk, 0, 1, sec) == 0 && sector_is_pattern(sec, 0));
        memcpy(ram + 0x60000, before, sizeof before);
        outb(BM + IDE_BM_CMD, 0);
    }
    /* The engine's direction is not the command's. */
    l[0] = 2048;
    prd_table(0x2000, 1, a, l);
    dma_bad(0x2000, IDE_BM_CMD_START, 0xc8, "direction");
    /* The good table from before still works afterwards. */
    outl(BM + IDE_BM_PRD, 0x2000);
    outb(BM + IDE_BM_CMD, IDE_BM_CMD_READ | IDE_BM_CMD_START);
    issue28(0, 0xc8, 1000, 4);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
    CHECK(sector_is_pattern(ram + 0x60000, 1000) && sector_is_pattern(ram + 0x60600, 1003));
    outb(BM + IDE_BM_CMD, 0);
    outb(BM + IDE_BM_STATUS, IDE_BM_ST_INT | IDE_BM_ST_DMA0);
}

/* 4 GiB of guest RAM (base/guestram.h: 3 GiB from 0, 1 GiB from 4 GiB),
 * reserved, not touched: DMA up to the PCI hole works; a buffer or a table
 * in the hole, or running into it, is refused before anything moves. */
#define HOLE 0xc0000000u
static void test_dma_hole(Disk *d, Disk *ro)
{
    rig_free(&rig);
    free(ram);
    ram_size = 4ull << 30;
    ram = host_ram_alloc(ram_size);
    CHECK(ram != NULL);
    if (!ram)
        return;
    rig_init(&rig, d, ro);
    CHECK_EQ(rig.ide->mem.low, HOLE);
    uint32_t a[1] = { HOLE - 4096 }, l[1] = { 4096 };
    prd_table(0x2000, 1, a, l);
    outl(BM + IDE_BM_PRD, 0x2000);
    outb(BM + IDE_BM_CMD, IDE_BM_CMD_READ | IDE_BM_CMD_START);
    issue28(0, 0xc8, 500, 8);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
    CHECK(sector_is_pattern(ram + HOLE - 4096, 500) && sector_is_pattern(ram + HOLE - 512, 507));
    outb(BM + IDE_BM_CMD, 0);
    outb(BM + IDE_BM_STATUS, IDE_BM_ST_INT | IDE_BM_ST_DMA0);
    static const struct { uint32_t addr, len; const char *what; } bad[] = {
        { HOLE, 2048, "buffer at the hole's start" },
        { HOLE - 1024, 2048, "buffer running into the hole" },
        { 0xd0000000u, 2048, "buffer inside the hole" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        a[0] = bad[i].addr;
        l[0] = bad[i].len;
        prd_table(0x2000, 1, a, l);
        dma_bad(0x2000, IDE_BM_CMD_READ | IDE_BM_CMD_START, 0xc8, bad[i].what);
        dma_bad(0x2000, IDE_BM_CMD_START, 0xca, bad[i].what);
    }
    dma_bad(HOLE, IDE_BM_CMD_READ | IDE_BM_CMD_START, 0xc8, "table in the hole");
    dma_bad(HOLE - 4, IDE_BM_CMD_READ | IDE_BM_CMD_START, 0xc8, "table entry running into the hole");
    rig_free(&rig);
    host_ram_free(ram, ram_size);
    ram = NULL;
}

static void test_nien_srst(void)
{
    inb(P + IDE_STATUS);
    CHECK_EQ(irq_level[14], 0);
    outb(CTL, IDE_CTL_NIEN);
    int rises = irq_rises[14];
    outb(P + IDE_SELECT, 0xa0);
    outb(P + IDE_COMMAND, 0xec);
    CHECK_EQ(irq_rises[14], rises);                      /* masked */
    CHECK_EQ(inb(CTL), IDE_STS_DRDY | IDE_STS_DSC | IDE_STS_DRQ);
    outb(CTL, 0);                                         /* unmasked: the pending interrupt shows */
    CHECK_EQ(irq_level[14], 1);
    /* SRST: busy while asserted, then the signature, no interrupt. */
    outb(P + IDE_LBAL, 0x77);
    outb(CTL, IDE_CTL_SRST | IDE_CTL_NIEN);
    CHECK_EQ(irq_level[14], 0);
    CHECK_EQ(inb(CTL), IDE_STS_BSY);
    outb(CTL, 0);
    CHECK_EQ(irq_level[14], 0);
    CHECK_EQ(inb(CTL), IDE_STS_DRDY | IDE_STS_DSC);
    CHECK_EQ(inb(P + IDE_LBAL), 1);
    CHECK_EQ(inb(P + IDE_NSECTOR), 1);
    CHECK_EQ(inb(P + IDE_ERROR), 1);
    CHECK_EQ(inw(P + IDE_DATA), 0xffff);                  /* the IDENTIFY data is gone */
    /* Device 1 of the secondary channel is absent while device 0... is
     * absent too; on the primary, select the slave: it answers. */
    outb(P + IDE_SELECT, 0xb0);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
    outb(P + IDE_SELECT, 0xa0);
}

/* A single-drive channel: device 1's registers read 0 and it takes no command. */
static void test_missing_slave(Disk *d)
{
    Rig saved = rig;
    rig_init(&rig, d, NULL);
    outb(P + IDE_SELECT, 0xb0);
    CHECK_EQ(inb(P + IDE_STATUS), 0);
    CHECK_EQ(inb(P + IDE_NSECTOR), 0);
    CHECK_EQ(inb(CTL), 0);
    outb(P + IDE_COMMAND, 0xec);
    CHECK_EQ(inb(P + IDE_STATUS), 0);
    CHECK_EQ(irq_level[14], 0);
    outb(P + IDE_SELECT, 0xa0);
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
    rig_free(&rig);
    rig = saved;
}

static int save(IDEState *s, uint8_t **buf, size_t *len)
{
    StateIO io;
    VClock clk;
    vclock_init(&clk);
    state_init_save(&io, &clk);
    ide_state(s, &io);
    *buf = io.buf;
    *len = io.len;
    return state_ok(&io) ? 0 : -1;
}

static int load(IDEState *s, const uint8_t *buf, size_t len, char *why, size_t wl)
{
    StateIO io;
    VClock clk;
    vclock_init(&clk);
    state_init_load(&io, buf, len, &clk);
    ide_state(s, &io);
    int ok = state_finish(&io);
    snprintf(why, wl, "%s", state_error(&io));
    return ok ? 0 : -1;
}

static void test_checkpoint(Disk *d, Disk *ro)
{
    uint8_t a[1024], b[1024], *buf;
    size_t len;
    char why[256];
    /* Mid-transfer: a 2-sector PIO read with 100 words taken. */
    inb(P + IDE_STATUS);
    issue28(0, 0x20, 50, 2);
    for (int i = 0; i < 100; i++)
        inw(P + IDE_DATA);
    CHECK_EQ(save(rig.ide, &buf, &len), 0);
    Rig orig = rig;
    Rig copy;
    rig_init(&copy, d, ro);
    CHECK_EQ(load(copy.ide, buf, len, why, sizeof why), 0);
    /* The same 412 remaining words come out of both. */
    for (int i = 0; i < 412; i++) {
        uint16_t w = (uint16_t)inw(P + IDE_DATA);
        a[2 * i] = (uint8_t)w;
        a[2 * i + 1] = (uint8_t)(w >> 8);
    }
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
    rig = copy;
    for (int i = 0; i < 412; i++) {
        uint16_t w = (uint16_t)inw(P + IDE_DATA);
        b[2 * i] = (uint8_t)w;
        b[2 * i + 1] = (uint8_t)(w >> 8);
    }
    CHECK_EQ(inb(P + IDE_STATUS), IDE_STS_DRDY | IDE_STS_DSC);
    CHECK(!memcmp(a, b, 824));
    int ok = 1;
    for (int i = 0; i < 312; i++)
        ok &= b[i] == pat(50, 200 + i);
    CHECK(ok);
    CHECK(sector_is_pattern(b + 312, 51));
    /* Saving the loaded one again gives the same bytes once both are idle. */
    uint8_t *b1, *b2;
    size_t l1, l2;
    rig = orig;
    inb(P + IDE_STATUS);
    save(orig.ide, &b1, &l1);
    save(copy.ide, &b2, &l2);
    CHECK(l1 == l2 && !memcmp(b1, b2, l1));
    free(b1);
    free(b2);
    /* A machine without the slave refuses the checkpoint, unchanged. */
    Rig one;
    rig_init(&one, d, NULL);
    CHECK_EQ(load(one.ide, buf, len, why, sizeof why), -1);
    CHECK(strstr(why, "IDE disk 1") != NULL);
    rig_free(&one);
    /* Every truncation is refused and leaves the device as it was. */
    {
        Rig r3;
        rig_init(&r3, d, ro);
        uint8_t *before, *after;
        size_t lb, la;
        save(r3.ide, &before, &lb);
        int bad = 0;
        for (size_t l = 0; l < len; l++) {
            bad += load(r3.ide, buf, l, why, sizeof why) == 0;
            save(r3.ide, &after, &la);
            bad += la != lb || memcmp(after, before, lb);
            free(after);
        }
        CHECK_EQ(bad, 0);
        free(before);
        rig_free(&r3);
    }
    /* A block length past the buffer is refused. */
    uint8_t *bad = malloc(len);
    memcpy(bad, buf, len);
    int found = 0;
    for (size_t i = 0; i + 3 < len && !found; i++)
        if (!memcmp(bad + i, "drive[0].len", 12)) {
            /* after the name: element size (1 byte) and count (4), then the value */
            size_t v = i + 12 + 1 + 4;
            bad[v] = 0xff;
            bad[v + 1] = 0xff;
            found = 1;
        }
    CHECK(found);
    if (found) {
        Rig r2;
        rig_init(&r2, d, ro);
        CHECK_EQ(load(r2.ide, bad, len, why, sizeof why), -1);
        rig_free(&r2);
    }
    free(bad);
    free(buf);
    rig_free(&copy);
    rig = orig;
}

int main(void)
{
    char dir[] = "/tmp/lbvm-ide-XXXXXX", path[128], path_ro[128], err[256];
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/d.img", dir);
    snprintf(path_ro, sizeof path_ro, "%s/ro.img", dir);
    CHECK_EQ(disk_create_raw(path, DISK_SECT * 512ull, err, sizeof err), 0);
    CHECK_EQ(disk_create_raw(path_ro, RO_SECT * 512ull, err, sizeof err), 0);
    Disk *d = disk_open_raw(path, 0, err, sizeof err);
    Disk *ro = disk_open_raw(path_ro, 1, err, sizeof err);
    if (!d || !ro) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    uint8_t sec[512];
    for (uint64_t s = 0; s < DISK_SECT; s++) {
        for (int i = 0; i < 512; i++)
            sec[i] = pat(s, i);
        disk_write(d, s, 1, sec);
    }
    ram = calloc(1, RAM_SIZE);
    rig_init(&rig, d, ro);
    CHECK(rig.ide != NULL);
    test_pci();
    test_signature_and_missing();
    test_identify();
    test_pio_read();
    test_pio_write(d, ro);
    test_dma(d);
    test_dma_master();
    test_dma_bad();
    test_nien_srst();
    test_missing_slave(d);
    test_checkpoint(d, ro);
    test_dma_hole(d, ro);
    disk_close(d);
    disk_close(ro);
    unlink(path);
    unlink(path_ro);
    rmdir(dir);
    return check_done();
}
