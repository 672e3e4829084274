/* SPDX-License-Identifier: GPL-2.0-or-later */
/* AHCI HBA driven at register level through the PCI memory window: PCI
 * identity, HBA reset, port start, IDENTIFY, DMA reads/writes against a raw
 * image, errors (unknown command, LBA range, short PRDT, addresses outside
 * RAM), COMRESET, empty ports, interrupt line and dma_written ranges; and
 * with 4 GiB of guest RAM (3 GiB below the PCI hole, 1 GiB from 4 GiB):
 * DMA up to the hole works, every guest address in the hole is refused. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/platform.h"
#include "devices/ahci.h"
#include "check.h"

#define RAM_SIZE   (1u << 20)
#define ABAR       0xfebf0000u
#define IRQ_LINE   11
#define DEVFN      PCI_DEVFN(3, 0)
#define DISK_SECT  2048u

/* Guest RAM layout for port 0 */
#define CLB0  0x10000u
#define FB0   0x11000u
#define CTBA  0x12000u
#define BUF_A 0x20000u
#define BUF_B 0x30000u
#define BUF_C 0x40000u
#define BUF_D 0x50000u

static IoMap map;
static PCIBus *bus;
static AHCIState *ahci;
static uint8_t *ram;
static int irq_level, irq_changes;
static struct { uint64_t pa, len; } dma_log[64];
static int n_dma;

static void on_irq(void *opaque, int n, int level)
{
    (void)opaque;
    if (n == IRQ_LINE) {
        irq_level = level;
        irq_changes++;
    }
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

static int dma_logged(uint64_t pa, uint64_t len)
{
    for (int i = 0; i < n_dma && i < 64; i++)
        if (dma_log[i].pa == pa && dma_log[i].len == len)
            return 1;
    return 0;
}

static void on_host_failed(void *opaque)
{
    (*(int *)opaque)++;
}

static uint32_t conf_read(int reg, int size_log2)
{
    iomap_port_write(&map, PCI_CONFIG_ADDRESS, PCI_CONFIG_ENABLE | DEVFN << 8 | (reg & 0xfc), 2);
    return iomap_port_read(&map, PCI_CONFIG_DATA + (reg & 3), size_log2);
}

static void conf_write(int reg, uint32_t val, int size_log2)
{
    iomap_port_write(&map, PCI_CONFIG_ADDRESS, PCI_CONFIG_ENABLE | DEVFN << 8 | (reg & 0xfc), 2);
    iomap_port_write(&map, PCI_CONFIG_DATA + (reg & 3), val, size_log2);
}

/* What the CPU layer does with a guest physical access. */
static IoRange *mmio_range(uint32_t addr)
{
    for (int i = 0; i < map.n_mmio; i++)
        if (addr >= map.mmio[i].base && addr - map.mmio[i].base < map.mmio[i].len)
            return &map.mmio[i];
    return NULL;
}

static uint32_t rd(uint32_t off)
{
    IoRange *r = mmio_range(ABAR + off);
    return r ? iorange_read(r, ABAR + off - r->base, 2) : 0xffffffffu;
}

static uint32_t rd8(uint32_t off)
{
    IoRange *r = mmio_range(ABAR + off);
    return r ? iorange_read(r, ABAR + off - r->base, 0) : 0xffu;
}

static void wr(uint32_t off, uint32_t val)
{
    IoRange *r = mmio_range(ABAR + off);
    if (r)
        iorange_write(r, ABAR + off - r->base, val, 2);
}

static uint32_t prd(int port, uint32_t reg)
{
    return rd(AHCI_PORT_BASE + AHCI_PORT_SIZE * port + reg);
}

static void pwr(int port, uint32_t reg, uint32_t val)
{
    wr(AHCI_PORT_BASE + AHCI_PORT_SIZE * port + reg, val);
}

static void put32(uint32_t pa, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        ram[pa + i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(uint32_t pa)
{
    return ram[pa] | ram[pa + 1] << 8 | ram[pa + 2] << 16 | (uint32_t)ram[pa + 3] << 24;
}

static uint16_t get16(uint32_t pa)
{
    return (uint16_t)(ram[pa] | ram[pa + 1] << 8);
}

/* Builds command slot `slot` at clb: H2D FIS with cmd/lba/count and a PRDT
 * of n entries (addr, len). */
static void build_cmd(uint32_t clb, int slot, uint8_t cmd, uint64_t lba, uint16_t count, int n,
                      const uint32_t *addr, const uint32_t *len, int write)
{
    uint32_t hdr = clb + 32 * slot, tbl = CTBA + 0x400 * slot;
    memset(ram + hdr, 0, 32);
    memset(ram + tbl, 0, 0x80 + 16 * n);
    put32(hdr, 5 | (write ? 1u << 6 : 0) | (uint32_t)n << 16);
    put32(hdr + 4, 0xdeadbeef);     /* PRDBC: the HBA overwrites it */
    put32(hdr + 8, tbl);
    uint8_t *f = ram + tbl;
    f[0] = FIS_TYPE_REG_H2D;
    f[1] = 0x80;
    f[2] = cmd;
    f[4] = (uint8_t)lba;
    f[5] = (uint8_t)(lba >> 8);
    f[6] = (uint8_t)(lba >> 16);
    f[7] = 0x40;
    f[8] = (uint8_t)(lba >> 24);
    f[9] = (uint8_t)(lba >> 32);
    f[10] = (uint8_t)(lba >> 40);
    f[12] = (uint8_t)count;
    f[13] = (uint8_t)(count >> 8);
    for (int i = 0; i < n; i++) {
        put32(tbl + 0x80 + 16 * i, addr[i]);
        put32(tbl + 0x80 + 16 * i + 12, len[i] - 1);
    }
}

static void issue(int port, int slot)
{
    pwr(port, AHCI_PxCI, 1u << slot);
}

static void clear_port_irq(int port)
{
    pwr(port, AHCI_PxIS, 0xffffffffu);
    wr(AHCI_IS, 0xffffffffu);
}

static void restart_port(int port)
{
    pwr(port, AHCI_PxCMD, AHCI_PxCMD_FRE);
    pwr(port, AHCI_PxCMD, AHCI_PxCMD_FRE | AHCI_PxCMD_ST);
    clear_port_irq(port);
}

/* 4 GiB of guest RAM (base/guestram.h: [0, 3 GiB) and [4 GiB, 5 GiB)),
 * reserved and never touched but for the pages used here. The 32-bit HBA
 * (CAP.S64A clear) cannot name RAM above 4 GiB: an upper address dword is
 * refused like an address in the hole. */
#define BIG_RAM  (4ull << 30)
#define HOLE     0xc0000000u
static void test_hole(Disk *d0)
{
    iomap_init(&map);
    bus = pci_init(&map, NULL, NULL);
    CHECK(bus != NULL);
    IRQSignal sig;
    irq_init(&sig, on_irq, NULL, IRQ_LINE);
    pci_bus_set_irq_sink(bus, IRQ_LINE, &sig);
    ram = host_ram_alloc(BIG_RAM);
    CHECK(ram != NULL);
    if (!ram)
        return;
    ahci = ahci_init(bus, DEVFN, IRQ_LINE, ABAR, ram, BIG_RAM, on_dma, NULL);
    CHECK(ahci != NULL);
    CHECK_EQ(ahci->mem.low, HOLE);
    CHECK_EQ(guest_ram_end(&ahci->mem), 0x140000000ull);
    CHECK_EQ(ahci_attach(ahci, 0, d0), 0);
    conf_write(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 1);
    CHECK_EQ(rd(AHCI_CAP) & (1u << 31), 0);     /* S64A: 32-bit addresses only */
    pwr(0, AHCI_PxCLB, CLB0);
    pwr(0, AHCI_PxFB, FB0);
    restart_port(0);

    /* the last page below the hole: a read lands there */
    uint32_t a[2] = { HOLE - 4096, 0 }, l[2] = { 4096, 512 };
    n_dma = 0;
    memset(ram + HOLE - 4096, 0x33, 4096);
    build_cmd(CLB0, 0, 0x25, 100, 8, 1, a, l, 0);
    issue(0, 0);
    CHECK_EQ(prd(0, AHCI_PxCI), 0);
    CHECK_EQ(prd(0, AHCI_PxIS) & (AHCI_PxIS_HBFS | AHCI_PxIS_TFES), 0);
    uint8_t want[4096];
    CHECK_EQ(disk_read(d0, 100, 8, want), 0);
    CHECK(memcmp(ram + HOLE - 4096, want, 4096) == 0);
    CHECK(dma_logged(HOLE - 4096, 4096));
    restart_port(0);

    /* PRDs in the hole, running into it, at its end, above 4 GiB: refused
     * before any data moves */
    static const struct { uint32_t dba, dbau, len; } bad[] = {
        { HOLE, 0, 512 },                       /* first byte of the hole */
        { HOLE - 512, 0, 1024 },                /* runs 512 bytes into it */
        { 0xfffff000u, 0, 4096 },               /* the hole's last page */
        { 0xd0000000u, 0, 512 },
        { 0, 1, 512 },                          /* 4 GiB: RAM, but not for a 32-bit HBA */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n_dma = 0;
        memset(ram + BUF_C, 0x77, 512);
        a[0] = BUF_C; a[1] = bad[i].dba; l[0] = 512; l[1] = bad[i].len;
        build_cmd(CLB0, 0, 0x25, 0, (uint16_t)((512 + bad[i].len) / 512), 2, a, l, 0);
        put32(CTBA + 0x80 + 16 + 4, bad[i].dbau);
        issue(0, 0);
        CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_HBFS);
        CHECK_EQ(ram[BUF_C], 0x77);
        CHECK_EQ(n_dma, 0);
        restart_port(0);
        /* the same for a write (the HBA would read guest memory) */
        build_cmd(CLB0, 0, 0x35, 0, (uint16_t)((512 + bad[i].len) / 512), 2, a, l, 1);
        put32(CTBA + 0x80 + 16 + 4, bad[i].dbau);
        issue(0, 0);
        CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_HBFS);
        restart_port(0);
    }
    /* command table in the hole, and one whose PRDT runs into it */
    a[0] = BUF_C; l[0] = 512;
    build_cmd(CLB0, 0, 0x25, 0, 1, 1, a, l, 0);
    put32(CLB0 + 8, HOLE);
    issue(0, 0);
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_HBFS);
    restart_port(0);
    put32(CLB0, 5 | 9u << 16);                  /* 9 PRDs: 0x80 + 144 bytes, 16 in the hole */
    put32(CLB0 + 8, HOLE - 0x100);
    issue(0, 0);
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_HBFS);
    restart_port(0);
    /* command list and received-FIS area in the hole */
    pwr(0, AHCI_PxCMD, 0);
    pwr(0, AHCI_PxCLB, HOLE);
    pwr(0, AHCI_PxCMD, AHCI_PxCMD_FRE | AHCI_PxCMD_ST);
    clear_port_irq(0);
    issue(0, 0);
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_HBFS);
    pwr(0, AHCI_PxCMD, 0);
    pwr(0, AHCI_PxCLB, HOLE - 0x400);           /* slot 31 ends at the hole: fine */
    pwr(0, AHCI_PxFB, 0xe0000000u);
    pwr(0, AHCI_PxCMD, AHCI_PxCMD_FRE | AHCI_PxCMD_ST);
    clear_port_irq(0);
    build_cmd(HOLE - 0x400, 31, 0xe7, 0, 0, 0, a, l, 0);
    issue(0, 31);
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_HBFS);  /* only the FIS area is wrong */
    pwr(0, AHCI_PxCMD, 0);
    pwr(0, AHCI_PxFB, FB0);
    pwr(0, AHCI_PxCMD, AHCI_PxCMD_FRE | AHCI_PxCMD_ST);
    clear_port_irq(0);
    issue(0, 31);
    CHECK_EQ(prd(0, AHCI_PxIS) & (AHCI_PxIS_HBFS | AHCI_PxIS_TFES), 0);
    CHECK_EQ(prd(0, AHCI_PxCI), 0);

    pci_free(bus);
    free(ahci);
    host_ram_free(ram, BIG_RAM);
    ram = NULL;
}

int main(void)
{
    char dir[] = "/tmp/lbvm-ahci-XXXXXX", path[128], path_ro[128], err[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/d0.img", dir);
    snprintf(path_ro, sizeof path_ro, "%s/ro.img", dir);
    CHECK_EQ(disk_create_raw(path, DISK_SECT * 512ull, err, sizeof err), 0);
    CHECK_EQ(disk_create_raw(path_ro, 64 * 512ull, err, sizeof err), 0);
    Disk *d0 = disk_open_raw(path, 0, err, sizeof err);
    Disk *dro = disk_open_raw(path_ro, 1, err, sizeof err);
    CHECK(d0 && dro);
    if (!d0 || !dro)
        return check_done();

    iomap_init(&map);
    bus = pci_init(&map, NULL, NULL);
    CHECK(bus != NULL);
    IRQSignal sig;
    irq_init(&sig, on_irq, NULL, IRQ_LINE);
    pci_bus_set_irq_sink(bus, IRQ_LINE, &sig);
    ram = calloc(1, RAM_SIZE);      /* exact size: ASan catches any stray access */
    ahci = ahci_init(bus, DEVFN, IRQ_LINE, ABAR, ram, RAM_SIZE, on_dma, NULL);
    CHECK(ahci != NULL);
    CHECK_EQ(ahci_attach(ahci, 0, d0), 0);
    CHECK_EQ(ahci_attach(ahci, 2, dro), 0);
    CHECK_EQ(ahci_attach(ahci, 4, d0), -1);
    CHECK_EQ(ahci_attach(ahci, 0, d0), -1);

    /* ---- PCI identity ---- */
    CHECK_EQ(conf_read(PCI_VENDOR_ID, 2), 0x29228086);
    CHECK_EQ(conf_read(PCI_REVISION_ID, 2), 0x01060102);
    CHECK_EQ(conf_read(PCI_BASE_ADDRESS_0 + 4 * 5, 2), ABAR);
    CHECK_EQ(conf_read(PCI_INTERRUPT_PIN, 0), 1);
    CHECK_EQ(conf_read(PCI_INTERRUPT_LINE, 0), IRQ_LINE);
    CHECK(conf_read(PCI_COMMAND, 1) & PCI_COMMAND_MEMORY);
    /* BAR sizing: 4 KiB memory BAR */
    conf_write(PCI_BASE_ADDRESS_0 + 20, 0xffffffffu, 2);
    CHECK_EQ(conf_read(PCI_BASE_ADDRESS_0 + 20, 2), 0xfffff000u);
    conf_write(PCI_BASE_ADDRESS_0 + 20, ABAR, 2);
    conf_write(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 1);

    /* ---- HBA registers ---- */
    uint32_t cap = rd(AHCI_CAP);
    CHECK_EQ(cap & 0x1f, 3);                    /* NP */
    CHECK_EQ((cap >> 8) & 0x1f, 31);            /* NCS */
    CHECK(cap & AHCI_CAP_SAM);
    CHECK(!(cap & (1u << 31)));                 /* S64A */
    CHECK(!(cap & (1u << 30)));                 /* SNCQ */
    CHECK(!(cap & (1u << 27)));                 /* SSS */
    CHECK_EQ(rd8(AHCI_CAP + 1), 0x1f);          /* narrow read */
    CHECK_EQ(rd(AHCI_PI), 0xf);
    CHECK_EQ(rd(AHCI_VS), 0x00010000);
    CHECK_EQ(rd(AHCI_GHC), AHCI_GHC_AE);
    wr(AHCI_GHC, 0);                            /* AE stays 1 */
    CHECK_EQ(rd(AHCI_GHC), AHCI_GHC_AE);

    /* port state with and without a disk */
    CHECK_EQ(prd(0, AHCI_PxSIG), AHCI_SIG_ATA);
    CHECK_EQ(prd(0, AHCI_PxSSTS), 0x113);
    CHECK_EQ(prd(0, AHCI_PxTFD) & ATA_STS_BSY, 0);
    CHECK_EQ(prd(1, AHCI_PxSIG), 0xffffffffu);
    CHECK_EQ(prd(1, AHCI_PxSSTS), 0);
    CHECK_EQ(prd(3, AHCI_PxSSTS), 0);
    CHECK_EQ(prd(0, AHCI_PxCLBU), 0);

    /* HBA reset clears IE and port registers */
    wr(AHCI_GHC, AHCI_GHC_AE | AHCI_GHC_IE);
    pwr(0, AHCI_PxIE, 0xffffffffu);
    CHECK_EQ(prd(0, AHCI_PxIE), AHCI_PxIS_MASK);
    pwr(0, AHCI_PxCMD, AHCI_PxCMD_FRE);
    wr(AHCI_GHC, AHCI_GHC_HR);
    CHECK_EQ(rd(AHCI_GHC), AHCI_GHC_AE);
    CHECK_EQ(prd(0, AHCI_PxIE), 0);
    CHECK_EQ(prd(0, AHCI_PxCMD) & (AHCI_PxCMD_FRE | AHCI_PxCMD_FR), 0);
    CHECK_EQ(prd(0, AHCI_PxSIG), AHCI_SIG_ATA);

    /* ---- port start ---- */
    pwr(0, AHCI_PxCLB, CLB0);
    pwr(0, AHCI_PxCLBU, 0);
    pwr(0, AHCI_PxFB, FB0);
    pwr(0, AHCI_PxFBU, 0);
    CHECK_EQ(prd(0, AHCI_PxCLB), CLB0);
    CHECK_EQ(prd(0, AHCI_PxFB), FB0);
    pwr(0, AHCI_PxSERR, 0xffffffffu);
    clear_port_irq(0);
    pwr(0, AHCI_PxCMD, AHCI_PxCMD_FRE);
    CHECK(prd(0, AHCI_PxCMD) & AHCI_PxCMD_FR);
    CHECK(!(prd(0, AHCI_PxCMD) & AHCI_PxCMD_CR));
    pwr(0, AHCI_PxCI, 1);                       /* ignored while ST = 0 */
    CHECK_EQ(prd(0, AHCI_PxCI), 0);
    pwr(0, AHCI_PxCMD, AHCI_PxCMD_FRE | AHCI_PxCMD_ST);
    CHECK(prd(0, AHCI_PxCMD) & AHCI_PxCMD_CR);
    pwr(0, AHCI_PxIE, AHCI_PxIS_DHRS | AHCI_PxIS_PSS | AHCI_PxIS_TFES | AHCI_PxIS_HBFS);
    wr(AHCI_GHC, AHCI_GHC_AE | AHCI_GHC_IE);
    CHECK_EQ(irq_level, 0);

    /* ---- IDENTIFY ---- */
    n_dma = 0;
    uint32_t a[2] = { BUF_A, BUF_B }, l[2] = { 512, 0 };
    build_cmd(CLB0, 0, 0xec, 0, 0, 1, a, l, 0);
    issue(0, 0);
    CHECK_EQ(prd(0, AHCI_PxCI), 0);
    CHECK_EQ(prd(0, AHCI_PxIS) & (AHCI_PxIS_DHRS | AHCI_PxIS_PSS), AHCI_PxIS_DHRS | AHCI_PxIS_PSS);
    CHECK_EQ(prd(0, AHCI_PxIS) & AHCI_PxIS_TFES, 0);
    CHECK_EQ(rd(AHCI_IS), 1);
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(prd(0, AHCI_PxTFD), ATA_STS_DRDY | ATA_STS_DSC);
    CHECK_EQ(get32(CLB0 + 4), 512);             /* PRDBC */
    CHECK_EQ(get16(BUF_A + 2 * 60) | (uint32_t)get16(BUF_A + 2 * 61) << 16, DISK_SECT);
    CHECK_EQ(get16(BUF_A + 2 * 100), DISK_SECT);
    CHECK_EQ(get16(BUF_A + 2 * 101) | get16(BUF_A + 2 * 102) | get16(BUF_A + 2 * 103), 0);
    CHECK(get16(BUF_A + 2 * 83) & (1 << 10));
    CHECK(get16(BUF_A + 2 * 86) & (1 << 10));
    CHECK_EQ(get16(BUF_A + 2 * 49) & 0x0300, 0x0300);
    CHECK_EQ(get16(BUF_A + 2 * 76) & (1 << 8), 0);   /* no NCQ */
    /* model "lbvm disk", byte-swapped per word, space padded */
    CHECK(memcmp(ram + BUF_A + 54, "blmvd si k", 10) == 0);
    CHECK_EQ(ram[BUF_A + 54 + 39], ' ');
    uint8_t sum = 0;
    for (int i = 0; i < 512; i++)
        sum += ram[BUF_A + i];
    CHECK_EQ(sum, 0);
    CHECK_EQ(ram[BUF_A + 510], 0xa5);
    /* received FIS area: PIO Setup and D2H register FIS */
    CHECK_EQ(ram[FB0 + 0x20], FIS_TYPE_PIO_SETUP);
    CHECK_EQ(ram[FB0 + 0x20 + 15], ATA_STS_DRDY | ATA_STS_DSC);
    CHECK_EQ(get16(FB0 + 0x20 + 16), 512);
    CHECK_EQ(ram[FB0 + 0x40], FIS_TYPE_REG_D2H);
    CHECK_EQ(ram[FB0 + 0x42], ATA_STS_DRDY | ATA_STS_DSC);
    CHECK_EQ(ram[FB0 + 0x43], 0);
    CHECK(dma_logged(BUF_A, 512));
    CHECK(dma_logged(FB0 + 0x20, 20));
    CHECK(dma_logged(FB0 + 0x40, 20));
    CHECK(dma_logged(CLB0 + 4, 4));
    /* interrupt: IE gates the line; the HBA IS bit latches until cleared */
    wr(AHCI_GHC, AHCI_GHC_AE);
    CHECK_EQ(irq_level, 0);
    wr(AHCI_GHC, AHCI_GHC_AE | AHCI_GHC_IE);
    CHECK_EQ(irq_level, 1);
    wr(AHCI_IS, 1);                             /* port still pending: sets again */
    CHECK_EQ(rd(AHCI_IS), 1);
    CHECK_EQ(irq_level, 1);
    pwr(0, AHCI_PxIS, AHCI_PxIS_PSS);           /* W1C one bit */
    CHECK_EQ(prd(0, AHCI_PxIS) & (AHCI_PxIS_DHRS | AHCI_PxIS_PSS), AHCI_PxIS_DHRS);
    pwr(0, AHCI_PxIS, AHCI_PxIS_DHRS);
    CHECK_EQ(irq_level, 1);                     /* HBA IS still latched */
    wr(AHCI_IS, 1);
    CHECK_EQ(rd(AHCI_IS), 0);
    CHECK_EQ(irq_level, 0);
    /* a masked port event does not raise the line */
    pwr(0, AHCI_PxIE, 0);
    build_cmd(CLB0, 0, 0xef, 0, 0, 0, a, l, 0);  /* SET FEATURES */
    issue(0, 0);
    CHECK_EQ(prd(0, AHCI_PxCI), 0);
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_DHRS);
    CHECK_EQ(irq_level, 0);
    pwr(0, AHCI_PxIE, AHCI_PxIS_DHRS | AHCI_PxIS_PSS | AHCI_PxIS_TFES | AHCI_PxIS_HBFS);
    CHECK_EQ(irq_level, 1);
    clear_port_irq(0);
    CHECK_EQ(irq_level, 0);

    /* ---- WRITE DMA EXT, 8 sectors from a 2-entry PRDT, slot 3 ---- */
    uint8_t pattern[4096], back[4096];
    for (int i = 0; i < 4096; i++)
        pattern[i] = (uint8_t)(i * 13 + (i >> 9));
    memcpy(ram + BUF_A, pattern, 1024);
    memcpy(ram + BUF_B, pattern + 1024, 3072);
    a[0] = BUF_A; a[1] = BUF_B; l[0] = 1024; l[1] = 3072;
    build_cmd(CLB0, 3, 0x35, 100, 8, 2, a, l, 1);
    issue(0, 3);
    CHECK_EQ(prd(0, AHCI_PxCI), 0);
    CHECK_EQ(prd(0, AHCI_PxTFD), ATA_STS_DRDY | ATA_STS_DSC);
    CHECK_EQ(prd(0, AHCI_PxIS) & AHCI_PxIS_TFES, 0);
    CHECK_EQ(get32(CLB0 + 32 * 3 + 4), 4096);
    CHECK_EQ((prd(0, AHCI_PxCMD) >> 8) & 0x1f, 3);  /* CCS */
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 100L * 512, SEEK_SET);
        CHECK_EQ(fread(back, 1, sizeof back, f), sizeof back);
        fclose(f);
        CHECK(memcmp(back, pattern, sizeof back) == 0);
    }
    clear_port_irq(0);

    /* READ DMA EXT back into two separate buffers */
    n_dma = 0;
    memset(ram + BUF_C, 0, 4096);
    memset(ram + BUF_D, 0, 4096);
    a[0] = BUF_C; a[1] = BUF_D; l[0] = 2048; l[1] = 2048;
    build_cmd(CLB0, 1, 0x25, 100, 8, 2, a, l, 0);
    issue(0, 1);
    CHECK_EQ(prd(0, AHCI_PxCI), 0);
    CHECK_EQ(get32(CLB0 + 32 + 4), 4096);
    CHECK(memcmp(ram + BUF_C, pattern, 2048) == 0);
    CHECK(memcmp(ram + BUF_D, pattern + 2048, 2048) == 0);
    CHECK(dma_logged(BUF_C, 2048));
    CHECK(dma_logged(BUF_D, 2048));
    CHECK(dma_logged(FB0 + 0x40, 20));
    CHECK_EQ(n_dma, 4);                         /* 2 buffers, PRDBC, D2H FIS */
    CHECK_EQ(irq_level, 1);
    clear_port_irq(0);

    /* LBA28 READ DMA, 1 sector from the middle of the written range; PRD I bit -> DPS */
    memset(ram + BUF_C, 0, 512);
    a[0] = BUF_C; l[0] = 512;
    build_cmd(CLB0, 0, 0xc8, 101, 1, 1, a, l, 0);
    put32(CTBA + 0x80 + 12, 511 | 1u << 31);
    issue(0, 0);
    CHECK_EQ(prd(0, AHCI_PxCI), 0);
    CHECK(memcmp(ram + BUF_C, pattern + 512, 512) == 0);
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_DPS);
    clear_port_irq(0);

    /* two slots issued together both complete */
    a[0] = BUF_C; l[0] = 512;
    build_cmd(CLB0, 4, 0xea, 0, 0, 0, a, l, 0);  /* FLUSH CACHE EXT */
    build_cmd(CLB0, 5, 0xe7, 0, 0, 0, a, l, 0);  /* FLUSH CACHE */
    pwr(0, AHCI_PxCI, 1u << 4 | 1u << 5);
    CHECK_EQ(prd(0, AHCI_PxCI), 0);
    CHECK_EQ(prd(0, AHCI_PxTFD), ATA_STS_DRDY | ATA_STS_DSC);
    clear_port_irq(0);

    /* CHECK POWER MODE: count FFh in the D2H FIS */
    build_cmd(CLB0, 0, 0xe5, 0, 0, 0, a, l, 0);
    issue(0, 0);
    CHECK_EQ(ram[FB0 + 0x40 + 12], 0xff);
    clear_port_irq(0);

    /* ---- unknown command: abort with TFES, port halts until ST cycles ---- */
    build_cmd(CLB0, 2, 0xb0, 0, 0, 0, a, l, 0);  /* SMART: not advertised */
    issue(0, 2);
    CHECK_EQ(prd(0, AHCI_PxCI), 1u << 2);
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_TFES);
    CHECK_EQ(prd(0, AHCI_PxTFD), (uint32_t)ATA_ERR_ABRT << 8 | ATA_STS_DRDY | ATA_STS_DSC | ATA_STS_ERR);
    CHECK_EQ(ram[FB0 + 0x42], ATA_STS_DRDY | ATA_STS_DSC | ATA_STS_ERR);
    CHECK_EQ(ram[FB0 + 0x43], ATA_ERR_ABRT);
    CHECK_EQ(irq_level, 1);
    build_cmd(CLB0, 0, 0xe0, 0, 0, 0, a, l, 0);  /* STANDBY IMMEDIATE */
    issue(0, 0);
    CHECK_EQ(prd(0, AHCI_PxCI), 1u << 2 | 1u);  /* not fetched while halted */
    pwr(0, AHCI_PxCMD, AHCI_PxCMD_FRE);         /* clearing ST empties CI */
    CHECK_EQ(prd(0, AHCI_PxCI), 0);
    CHECK(!(prd(0, AHCI_PxCMD) & AHCI_PxCMD_CR));
    restart_port(0);
    issue(0, 0);
    CHECK_EQ(prd(0, AHCI_PxCI), 0);
    CHECK_EQ(prd(0, AHCI_PxTFD), ATA_STS_DRDY | ATA_STS_DSC);
    clear_port_irq(0);

    /* ---- LBA beyond the disk: IDNF, nothing written to RAM ---- */
    memset(ram + BUF_C, 0x5a, 4096);
    a[0] = BUF_C; l[0] = 4096;
    build_cmd(CLB0, 0, 0x25, DISK_SECT - 4, 8, 1, a, l, 0);
    issue(0, 0);
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_TFES);
    CHECK((prd(0, AHCI_PxTFD) >> 8) & ATA_ERR_IDNF);
    CHECK_EQ(ram[BUF_C], 0x5a);
    restart_port(0);
    build_cmd(CLB0, 0, 0x35, 1ull << 40, 1, 1, a, l, 1);   /* far beyond, write */
    issue(0, 0);
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_TFES);
    restart_port(0);

    /* ---- PRDT shorter than the transfer: OFS + TFES, disk untouched ---- */
    memset(ram + BUF_A, 0xee, 4096);
    a[0] = BUF_A; l[0] = 2048;
    build_cmd(CLB0, 0, 0x35, 100, 8, 1, a, l, 1);
    issue(0, 0);
    CHECK_EQ(prd(0, AHCI_PxIS) & (AHCI_PxIS_OFS | AHCI_PxIS_TFES), AHCI_PxIS_OFS | AHCI_PxIS_TFES);
    CHECK_EQ(prd(0, AHCI_PxCI), 1);
    CHECK_EQ(disk_read(d0, 100, 8, back), 0);
    CHECK(memcmp(back, pattern, sizeof back) == 0);
    restart_port(0);

    /* ---- PRD address beyond RAM: HBFS, no access ---- */
    n_dma = 0;
    a[0] = BUF_C; a[1] = RAM_SIZE - 512; l[0] = 512; l[1] = 1024;  /* 2nd runs 512 past the end */
    build_cmd(CLB0, 0, 0x25, 0, 3, 2, a, l, 0);
    memset(ram + BUF_C, 0x77, 512);
    issue(0, 0);
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_HBFS);
    CHECK(prd(0, AHCI_PxTFD) & ATA_STS_ERR);
    CHECK_EQ(prd(0, AHCI_PxCI), 1);
    CHECK_EQ(ram[BUF_C], 0x77);                 /* checked before any data moved */
    CHECK_EQ(n_dma, 0);
    CHECK_EQ(irq_level, 1);
    restart_port(0);
    a[0] = 0xfffff000u; l[0] = 0x400000;        /* max DBC, wraps 32 bits */
    build_cmd(CLB0, 0, 0x25, 0, 8, 1, a, l, 0);
    issue(0, 0);
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_HBFS);
    restart_port(0);
    /* write direction too: the HBA must not read outside RAM */
    a[0] = RAM_SIZE; l[0] = 512;
    build_cmd(CLB0, 0, 0x35, 0, 1, 1, a, l, 1);
    issue(0, 0);
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_HBFS);
    restart_port(0);
    /* CTBA beyond RAM, and a PRDT running past the end of RAM */
    build_cmd(CLB0, 0, 0x25, 0, 1, 1, a, l, 0);
    put32(CLB0 + 8, 0xfff00000u);
    issue(0, 0);
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_HBFS);
    restart_port(0);
    put32(CLB0, 5 | 0xffffu << 16);
    put32(CLB0 + 8, RAM_SIZE - 0x400);
    issue(0, 0);
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_HBFS);
    restart_port(0);
    CHECK_EQ(irq_level, 0);

    /* ---- command list base beyond RAM ---- */
    pwr(0, AHCI_PxCMD, 0);
    pwr(0, AHCI_PxCLB, 0xfffffc00u);
    pwr(0, AHCI_PxCMD, AHCI_PxCMD_FRE | AHCI_PxCMD_ST);
    issue(0, 31);                               /* header at CLB + 992 */
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_HBFS);
    CHECK_EQ(prd(0, AHCI_PxCI), 1u << 31);
    pwr(0, AHCI_PxCMD, 0);
    pwr(0, AHCI_PxCLB, RAM_SIZE - 0x400);       /* last slot's header ends exactly at RAM end */
    pwr(0, AHCI_PxCMD, AHCI_PxCMD_FRE | AHCI_PxCMD_ST);
    clear_port_irq(0);
    memset(ram + RAM_SIZE - 32, 0, 32);         /* CTBA 0, PRDTL 0 -> FIS at 0 (zeros: abort) */
    issue(0, 31);
    CHECK_EQ(prd(0, AHCI_PxIS) & AHCI_PxIS_HBFS, 0);
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_TFES);
    /* FIS base beyond RAM */
    pwr(0, AHCI_PxCMD, 0);
    pwr(0, AHCI_PxCLB, CLB0);
    pwr(0, AHCI_PxFB, 0xffffff00u);
    pwr(0, AHCI_PxCMD, AHCI_PxCMD_FRE | AHCI_PxCMD_ST);
    clear_port_irq(0);
    build_cmd(CLB0, 0, 0xe7, 0, 0, 0, a, l, 0);
    issue(0, 0);
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_HBFS);
    pwr(0, AHCI_PxCMD, 0);
    pwr(0, AHCI_PxFB, FB0);
    restart_port(0);

    /* ---- COMRESET re-sends the signature FIS ---- */
    memset(ram + FB0, 0, 256);
    pwr(0, AHCI_PxCMD, AHCI_PxCMD_FRE);
    pwr(0, AHCI_PxSCTL, 0x301);
    CHECK_EQ(ram[FB0 + 0x40], 0);
    pwr(0, AHCI_PxSCTL, 0x300);
    CHECK_EQ(ram[FB0 + 0x40], FIS_TYPE_REG_D2H);
    CHECK_EQ(ram[FB0 + 0x43], 0x01);            /* diagnostics passed */
    CHECK_EQ(ram[FB0 + 0x44], 1);               /* LBA low */
    CHECK_EQ(ram[FB0 + 0x4c], 1);               /* count */
    CHECK_EQ(prd(0, AHCI_PxSIG), AHCI_SIG_ATA);
    CHECK_EQ(prd(0, AHCI_PxTFD), 0x150);
    CHECK_EQ(prd(0, AHCI_PxSSTS), 0x113);
    CHECK(prd(0, AHCI_PxIS) & AHCI_PxIS_DHRS);
    CHECK_EQ(prd(0, AHCI_PxSCTL), 0x300);

    /* ---- port without a disk ---- */
    pwr(1, AHCI_PxCLB, 0x60000);
    pwr(1, AHCI_PxFB, 0x61000);
    memset(ram + 0x61000, 0, 256);
    pwr(1, AHCI_PxCMD, AHCI_PxCMD_FRE);
    pwr(1, AHCI_PxSCTL, 1);
    pwr(1, AHCI_PxSCTL, 0);
    CHECK_EQ(prd(1, AHCI_PxSSTS), 0);
    CHECK_EQ(prd(1, AHCI_PxSIG), 0xffffffffu);
    CHECK_EQ(prd(1, AHCI_PxTFD), 0x7f);
    CHECK_EQ(ram[0x61040], 0);
    pwr(1, AHCI_PxCMD, AHCI_PxCMD_FRE | AHCI_PxCMD_ST);
    pwr(1, AHCI_PxCI, 1);                       /* never completes, nothing crashes */
    CHECK_EQ(prd(1, AHCI_PxCI), 1);
    pwr(1, AHCI_PxCMD, 0);
    CHECK_EQ(prd(1, AHCI_PxCI), 0);

    /* ---- read-only disk on port 2: writes abort, reads work ---- */
    pwr(2, AHCI_PxCLB, 0x70000);
    pwr(2, AHCI_PxFB, 0x71000);
    pwr(2, AHCI_PxCMD, AHCI_PxCMD_FRE | AHCI_PxCMD_ST);
    a[0] = BUF_A; l[0] = 512;
    build_cmd(0x70000, 0, 0x35, 0, 1, 1, a, l, 1);
    pwr(2, AHCI_PxCI, 1);
    CHECK(prd(2, AHCI_PxIS) & AHCI_PxIS_TFES);
    CHECK_EQ(prd(2, AHCI_PxTFD) >> 8, ATA_ERR_ABRT);
    pwr(2, AHCI_PxCMD, AHCI_PxCMD_FRE);
    pwr(2, AHCI_PxCMD, AHCI_PxCMD_FRE | AHCI_PxCMD_ST);
    build_cmd(0x70000, 0, 0x25, 63, 1, 1, a, l, 0);
    pwr(2, AHCI_PxCI, 1);
    CHECK_EQ(prd(2, AHCI_PxCI), 0);
    CHECK_EQ(prd(2, AHCI_PxTFD), ATA_STS_DRDY | ATA_STS_DSC);

    /* ---- the host fails a write (a file-size limit standing in for a full
     * disk): nothing reaches the guest, the machine is told ---- */
    static int host_fails;
    ahci->host_failed = on_host_failed;
    ahci->opaque = &host_fails;
    pwr(0, AHCI_PxCMD, 0);
    pwr(0, AHCI_PxCLB, 0x72000);
    pwr(0, AHCI_PxFB, 0x73000);
    pwr(0, AHCI_PxCMD, AHCI_PxCMD_FRE | AHCI_PxCMD_ST);
    clear_port_irq(0);
    int level_before = irq_level;
    struct rlimit old_lim, lim = { 4096, 4096 };
    getrlimit(RLIMIT_FSIZE, &old_lim);
    lim.rlim_max = old_lim.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    CHECK_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
    a[0] = BUF_A; l[0] = 512;
    build_cmd(0x72000, 0, 0x35, 16, 1, 1, a, l, 1);     /* WRITE DMA EXT at 8 KiB: past the limit */
    pwr(0, AHCI_PxCI, 1);
    setrlimit(RLIMIT_FSIZE, &old_lim);
    CHECK_EQ(host_fails, 1);
    CHECK(strstr(ahci->host_error, "disk 0: cannot write 1 sectors at LBA 16: File too large") != NULL);
    CHECK_EQ(prd(0, AHCI_PxCI), 1);                     /* left pending */
    CHECK_EQ(prd(0, AHCI_PxIS), 0);                     /* no FIS, no error, no interrupt */
    CHECK_EQ(rd(AHCI_IS), 0);
    CHECK_EQ(irq_level, level_before);
    CHECK_EQ(prd(0, AHCI_PxTFD) & ATA_STS_ERR, 0);
    ahci->host_failed = NULL;
    ahci->opaque = NULL;

    /* ---- power-on reset ---- */
    ahci_reset(ahci);
    CHECK_EQ(prd(0, AHCI_PxCLB), 0);
    CHECK_EQ(prd(0, AHCI_PxCMD) & (AHCI_PxCMD_ST | AHCI_PxCMD_FRE), 0);
    CHECK_EQ(rd(AHCI_IS), 0);
    CHECK_EQ(irq_level, 0);

    pci_free(bus);
    free(ahci);
    free(ram);
    test_hole(d0);
    disk_close(d0);
    disk_close(dro);
    unlink(path);
    unlink(path_ro);
    rmdir(dir);
    return check_done();
}
