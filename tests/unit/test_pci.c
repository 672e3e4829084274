/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PCI host bridge: mechanism 1 through ports 0xcf8-0xcff, header contents,
 * BAR sizing and moves, decode enables, INTx routing, 0xcf9 reset. */
#include "check.h"
#include "devices/pci.h"

static IoMap map;
static PCIBus *bus;
static int n_resets;

static void on_reset(void *opaque)
{
    (*(int *)opaque)++;
}

/* ---- guest-style accessors ---- */

static uint32_t cfg_addr(int busno, int devfn, int reg)
{
    return PCI_CONFIG_ENABLE | (uint32_t)busno << 16 | (uint32_t)devfn << 8 | (reg & 0xfc);
}

static uint32_t conf_read(int devfn, int reg, int size_log2)
{
    iomap_port_write(&map, PCI_CONFIG_ADDRESS, cfg_addr(0, devfn, reg), 2);
    return iomap_port_read(&map, PCI_CONFIG_DATA + (reg & 3), size_log2);
}

static void conf_write(int devfn, int reg, uint32_t val, int size_log2)
{
    iomap_port_write(&map, PCI_CONFIG_ADDRESS, cfg_addr(0, devfn, reg), 2);
    iomap_port_write(&map, PCI_CONFIG_DATA + (reg & 3), val, size_log2);
}

/* What the CPU layer does with a guest physical access: find the MMIO range. */
static uint32_t mmio_read(uint32_t addr, int size_log2)
{
    for (int i = 0; i < map.n_mmio; i++) {
        IoRange *r = &map.mmio[i];
        if (addr >= r->base && addr - r->base < r->len)
            return iorange_read(r, addr - r->base, size_log2);
    }
    return 0xffffffff;
}

static void mmio_write(uint32_t addr, uint32_t val, int size_log2)
{
    for (int i = 0; i < map.n_mmio; i++) {
        IoRange *r = &map.mmio[i];
        if (addr >= r->base && addr - r->base < r->len) {
            iorange_write(r, addr - r->base, val, size_log2);
            return;
        }
    }
}

/* ---- a fake device: records what reaches its handlers ---- */

typedef struct Fake {
    int n_reads, n_writes;
    uint32_t last_off, last_val;
    int last_size;
    uint32_t tag;
} Fake;

static uint32_t fake_read(void *opaque, uint32_t offset, int size_log2)
{
    Fake *f = opaque;
    f->n_reads++;
    f->last_off = offset;
    f->last_size = size_log2;
    return (f->tag | offset) & (size_log2 == 2 ? 0xffffffffu : (1u << (8 << size_log2)) - 1);
}

static void fake_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    Fake *f = opaque;
    f->n_writes++;
    f->last_off = offset;
    f->last_val = val;
    f->last_size = size_log2;
}

/* ---- IRQ sinks ---- */

static int irq_level[PCI_NUM_IRQ_LINES], irq_calls[PCI_NUM_IRQ_LINES];

static void sink_set_irq(void *opaque, int n, int level)
{
    (void)opaque;
    irq_level[n] = level;
    irq_calls[n]++;
}

static void test_config_address(void)
{
    /* Linux's pci_check_type1(): a byte write to 0xcfb must not latch. */
    iomap_port_write(&map, 0xcf8, 0x12345678, 2);
    CHECK_EQ(iomap_port_read(&map, 0xcf8, 2), 0x00345678);   /* reserved bits dropped */
    iomap_port_write(&map, 0xcfb, 0x01, 0);
    CHECK_EQ(iomap_port_read(&map, 0xcf8, 2), 0x00345678);
    iomap_port_write(&map, 0xcf8, 0x80000000, 2);
    CHECK_EQ(iomap_port_read(&map, 0xcf8, 2), 0x80000000);
    /* Reserved bits 30:24 and 1:0 read back 0. */
    iomap_port_write(&map, 0xcf8, 0xff00ff07, 2);
    CHECK_EQ(iomap_port_read(&map, 0xcf8, 2), 0x8000ff04);
    /* 8/16-bit accesses to 0xcf8/0xcfa do not touch the latch and read nothing. */
    iomap_port_write(&map, 0xcf8, 0x80000000, 2);
    iomap_port_write(&map, 0xcf8, 0x1234, 1);
    iomap_port_write(&map, 0xcfa, 0x1234, 1);
    iomap_port_write(&map, 0xcf8, 0x55, 0);
    CHECK_EQ(iomap_port_read(&map, 0xcf8, 2), 0x80000000);
    CHECK_EQ(iomap_port_read(&map, 0xcf8, 0), 0xff);
    CHECK_EQ(iomap_port_read(&map, 0xcfa, 1), 0xffff);
    /* Type 2 probe (Linux pci_check_type2) must fail: 0xcf8/0xcfa do not read 0. */
    iomap_port_write(&map, 0xcfb, 0, 0);
    iomap_port_write(&map, 0xcf8, 0, 0);
    iomap_port_write(&map, 0xcfa, 0, 0);
    CHECK(iomap_port_read(&map, 0xcf8, 0) != 0 || iomap_port_read(&map, 0xcfa, 0) != 0);
}

static void test_host_bridge(void)
{
    CHECK_EQ(conf_read(0, 0, 2), 0x12378086);
    CHECK_EQ(conf_read(0, 0, 1), 0x8086);
    CHECK_EQ(conf_read(0, 2, 1), 0x1237);
    CHECK_EQ(conf_read(0, 0, 0), 0x86);
    CHECK_EQ(conf_read(0, 1, 0), 0x80);
    CHECK_EQ(conf_read(0, 3, 0), 0x12);
    /* Class 06/00/00, revision 02. */
    CHECK_EQ(conf_read(0, 8, 2), 0x06000002);
    CHECK_EQ(conf_read(0, 0x0b, 0), 0x06);
    CHECK_EQ(conf_read(0, 0x0a, 1), 0x0600);
    CHECK_EQ(conf_read(0, 0x09, 0), 0x00);
    CHECK_EQ(conf_read(0, PCI_HEADER_TYPE, 0), 0x00);
    CHECK_EQ(conf_read(0, PCI_COMMAND, 1), 0x0006);
    CHECK_EQ(conf_read(0, PCI_STATUS, 1), 0x0280);
    /* 16-bit access in the middle of the dword (0xcfd-0xcfe). */
    iomap_port_write(&map, 0xcf8, cfg_addr(0, 0, 0), 2);
    CHECK_EQ(iomap_port_read(&map, 0xcfd, 1), 0x3780);
    /* Read-only IDs ignore writes. */
    conf_write(0, 0, 0xdeadbeef, 2);
    CHECK_EQ(conf_read(0, 0, 2), 0x12378086);
    /* Enable bit clear: CONFIG_DATA reaches nothing. */
    iomap_port_write(&map, 0xcf8, 0x00000000, 2);
    CHECK_EQ(iomap_port_read(&map, 0xcfc, 2), 0xffffffff);
}

static void test_absent(void)
{
    CHECK_EQ(conf_read(PCI_DEVFN(5, 0), 0, 2), 0xffffffff);
    CHECK_EQ(conf_read(PCI_DEVFN(0, 1), 0, 1), 0xffff);
    CHECK_EQ(conf_read(PCI_DEVFN(31, 7), 0x3c, 0), 0xff);
    /* Bus 1 does not exist, even at device 0. */
    iomap_port_write(&map, 0xcf8, cfg_addr(1, 0, 0), 2);
    CHECK_EQ(iomap_port_read(&map, 0xcfc, 2), 0xffffffff);
    conf_write(PCI_DEVFN(5, 0), 4, 0xffffffff, 2);   /* dropped, no crash */
    CHECK_EQ(conf_read(PCI_DEVFN(5, 0), 4, 2), 0xffffffff);
}

static Fake fmem = { .tag = 0xab000000 }, fio = { .tag = 0xcd000000 };
static PCIDevice *dev;
#define DEV PCI_DEVFN(3, 0)

static void test_register(void)
{
    dev = pci_register_device(bus, "fake", DEV, 0x8086, 0x2922, 0x02, 0x010601, 1, 11);
    CHECK(dev != NULL);
    CHECK(pci_register_device(bus, "dup", DEV, 0x1234, 0x5678, 0, 0, 0, -1) == NULL);
    CHECK(pci_register_device(bus, "host2", 0, 0x1234, 0x5678, 0, 0, 0, -1) == NULL);
    CHECK(pci_register_device(bus, "bad", 256, 0x1234, 0x5678, 0, 0, 0, -1) == NULL);
    CHECK_EQ(conf_read(DEV, 0, 2), 0x29228086);
    CHECK_EQ(conf_read(DEV, 8, 2), 0x01060102);
    CHECK_EQ(conf_read(DEV, PCI_HEADER_TYPE, 0), 0);
    CHECK_EQ(conf_read(DEV, PCI_STATUS, 1), 0);          /* no capability list */
    CHECK_EQ(conf_read(DEV, PCI_CAPABILITY_LIST, 0), 0);
    /* Interrupt Line 11, Pin 1 (INTA#). */
    CHECK_EQ(conf_read(DEV, 0x3c, 2), 0x0000010b);
    CHECK_EQ(conf_read(DEV, PCI_INTERRUPT_PIN, 0), 1);
    /* Unimplemented registers read 0, writes to them are dropped. */
    conf_write(DEV, 0x40, 0xffffffff, 2);
    CHECK_EQ(conf_read(DEV, 0x40, 2), 0);
    CHECK_EQ(conf_read(DEV, 0xfc, 2), 0);

    /* devfn < 0: first slot with no function in use (slot 0 is the host). */
    PCIDevice *a = pci_register_device(bus, "auto", -1, 0x1af4, 0x1000, 0, 0x020000, 0, -1);
    CHECK(a && a->devfn == PCI_DEVFN(1, 0));
    /* No pin: line 0 (as QEMU); a pin without a route: 0xff. */
    CHECK_EQ(conf_read(PCI_DEVFN(1, 0), PCI_INTERRUPT_LINE, 0), 0);
    PCIDevice *u = pci_register_device(bus, "unrouted", PCI_DEVFN(9, 0), 0x1af4, 0x1003, 0, 0x020000, 2, -1);
    CHECK(u != NULL);
    CHECK_EQ(conf_read(PCI_DEVFN(9, 0), PCI_INTERRUPT_LINE, 0), 0xff);
    /* Function 2 in slot 4: function 0 gets the multi-function bit. */
    PCIDevice *f0 = pci_register_device(bus, "f0", PCI_DEVFN(4, 0), 0x1af4, 0x1001, 0, 0x018000, 0, -1);
    CHECK_EQ(conf_read(PCI_DEVFN(4, 0), PCI_HEADER_TYPE, 0), 0x00);
    PCIDevice *f2 = pci_register_device(bus, "f2", PCI_DEVFN(4, 2), 0x1af4, 0x1002, 0, 0x018000, 0, -1);
    CHECK(f0 && f2);
    CHECK_EQ(conf_read(PCI_DEVFN(4, 0), PCI_HEADER_TYPE, 0), 0x80);
    CHECK_EQ(conf_read(PCI_DEVFN(4, 2), 0, 2), 0x10021af4);
    CHECK(pci_find_device(bus, PCI_DEVFN(4, 2)) == f2);
    CHECK(pci_find_device(bus, PCI_DEVFN(4, 1)) == NULL);
}

static void test_bars(void)
{
    IoRange mr = { .opaque = &fmem, .read = fake_read, .write = fake_write, .flags = IO_SIZE32, .name = "m" };
    IoRange ir = { .opaque = &fio, .read = fake_read, .write = fake_write,
                   .flags = IO_SIZE8 | IO_SIZE16 | IO_SIZE32, .name = "i" };
    pci_set_bar(dev, 5, 0x1000, 0, 0xfebf0000, &mr);
    pci_set_bar(dev, 0, 0x20, 1, 0xc040, &ir);
    CHECK_EQ(conf_read(DEV, 0x24, 2), 0xfebf0000);
    CHECK_EQ(conf_read(DEV, 0x10, 2), 0xc041);
    /* Firmware-style: decode of assigned BARs is enabled. */
    CHECK_EQ(conf_read(DEV, PCI_COMMAND, 1), PCI_COMMAND_IO | PCI_COMMAND_MEMORY);

    /* Sizing: all-ones reads back the size mask with the type bits. */
    conf_write(DEV, 0x24, 0xffffffff, 2);
    CHECK_EQ(conf_read(DEV, 0x24, 2), 0xfffff000);
    conf_write(DEV, 0x24, 0xfebf0000, 2);
    CHECK_EQ(conf_read(DEV, 0x24, 2), 0xfebf0000);
    conf_write(DEV, 0x10, 0xffffffff, 2);
    CHECK_EQ(conf_read(DEV, 0x10, 2), 0xffffffe1);
    conf_write(DEV, 0x10, 0xc040, 2);      /* type bit written 0: stays 1 */
    CHECK_EQ(conf_read(DEV, 0x10, 2), 0xc041);
    /* Unimplemented BARs and the expansion ROM size to 0. */
    conf_write(DEV, 0x14, 0xffffffff, 2);
    CHECK_EQ(conf_read(DEV, 0x14, 2), 0);
    conf_write(DEV, PCI_ROM_ADDRESS, 0xffffffff, 2);
    CHECK_EQ(conf_read(DEV, PCI_ROM_ADDRESS, 2), 0);

    /* Handlers are reached at the assigned addresses, offsets relative to the BAR. */
    CHECK_EQ(mmio_read(0xfebf0010, 2), 0xab000010);
    CHECK_EQ(fmem.last_off, 0x10);
    CHECK_EQ(fmem.last_size, 2);
    mmio_write(0xfebf0104, 0x11223344, 2);
    CHECK_EQ(fmem.last_off, 0x104);
    CHECK_EQ(fmem.last_val, 0x11223344);
    CHECK_EQ(iomap_port_read(&map, 0xc044, 2), 0xcd000004);
    CHECK_EQ(iomap_port_read(&map, 0xc05f, 0), 0x1f);
    iomap_port_write(&map, 0xc042, 0xbeef, 1);
    CHECK_EQ(fio.last_off, 2);
    CHECK_EQ(fio.last_val, 0xbeef);
    CHECK_EQ(fio.last_size, 1);
    /* Just past the BAR: nothing. */
    int n = fio.n_reads;
    CHECK_EQ(iomap_port_read(&map, 0xc060, 0), 0xff);
    CHECK_EQ(fio.n_reads, n);
    /* A dword straddling the BAR's end: three bytes nowhere, one in the BAR. */
    CHECK_EQ(iomap_port_read(&map, 0xc03d, 2), 0x00ffffff);
    CHECK_EQ(fio.last_off, 0);

    /* Move the MMIO BAR: new address decodes, old one does not. */
    conf_write(DEV, 0x24, 0xfe100000, 2);
    CHECK_EQ(pci_bar_addr(dev, 5), 0xfe100000);
    CHECK_EQ(dev->bars[5].range.base, 0xfe100000);
    n = fmem.n_reads;
    CHECK_EQ(mmio_read(0xfebf0010, 2), 0xffffffff);
    CHECK_EQ(fmem.n_reads, n);
    CHECK_EQ(mmio_read(0xfe100020, 2), 0xab000020);
    CHECK_EQ(fmem.n_reads, n + 1);
    CHECK_EQ(fmem.last_off, 0x20);

    /* Move the port BAR with a dword write, then with a byte write. */
    conf_write(DEV, 0x10, 0xd000, 2);
    CHECK_EQ(dev->bars[0].range.base, 0xd000);
    n = fio.n_reads;
    CHECK_EQ(iomap_port_read(&map, 0xc044, 2), 0xffffffff);
    CHECK_EQ(fio.n_reads, n);
    CHECK_EQ(iomap_port_read(&map, 0xd008, 1), 0x0008);
    CHECK_EQ(fio.n_reads, n + 1);
    conf_write(DEV, 0x11, 0xe0, 0);
    CHECK_EQ(conf_read(DEV, 0x10, 2), 0xe001);
    CHECK_EQ(iomap_port_read(&map, 0xd008, 0), 0xff);
    CHECK_EQ(iomap_port_read(&map, 0xe01c, 0), 0x1c);

    /* Command register decode enables. */
    conf_write(DEV, PCI_COMMAND, 0, 1);
    n = fmem.n_reads + fio.n_reads;
    CHECK_EQ(mmio_read(0xfe100020, 2), 0xffffffff);
    CHECK_EQ(iomap_port_read(&map, 0xe01c, 2), 0xffffffff);
    mmio_write(0xfe100020, 1, 2);
    CHECK_EQ(fmem.n_reads + fio.n_reads, n);
    conf_write(DEV, PCI_COMMAND, PCI_COMMAND_MEMORY, 1);
    CHECK_EQ(mmio_read(0xfe100020, 2), 0xab000020);
    CHECK_EQ(iomap_port_read(&map, 0xe01c, 0), 0xff);
    conf_write(DEV, PCI_COMMAND, PCI_COMMAND_IO, 1);
    CHECK_EQ(mmio_read(0xfe100020, 2), 0xffffffff);
    CHECK_EQ(iomap_port_read(&map, 0xe01c, 0), 0x1c);
    /* Only I/O, memory, master, SERR and Interrupt Disable are writable. */
    conf_write(DEV, PCI_COMMAND, 0xffff, 1);
    CHECK_EQ(conf_read(DEV, PCI_COMMAND, 1), 0x0507);
    conf_write(DEV, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY, 1);

    /* Reset puts the firmware assignment back. */
    pci_device_reset(dev);
    CHECK_EQ(conf_read(DEV, 0x24, 2), 0xfebf0000);
    CHECK_EQ(conf_read(DEV, 0x10, 2), 0xc041);
    CHECK_EQ(mmio_read(0xfebf0008, 2), 0xab000008);
    CHECK_EQ(iomap_port_read(&map, 0xc048, 0), 0x08);
    CHECK_EQ(iomap_port_read(&map, 0xe01c, 0), 0xff);
}

static void test_status(void)
{
    /* The device signals a received master abort and a parity error. */
    pci_set_word(dev->config + PCI_STATUS, 0x2000 | 0x8000);
    CHECK_EQ(conf_read(DEV, PCI_STATUS, 1), 0xa000);
    conf_write(DEV, PCI_STATUS, 0, 1);          /* writing 0 clears nothing */
    CHECK_EQ(conf_read(DEV, PCI_STATUS, 1), 0xa000);
    conf_write(DEV, PCI_STATUS, 0x2000 | PCI_STATUS_CAP_LIST | PCI_STATUS_INTERRUPT, 1);
    CHECK_EQ(conf_read(DEV, PCI_STATUS, 1), 0x8000);
    /* A dword write of Command with Status=0 (how a driver writes it) keeps Status. */
    conf_write(DEV, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    CHECK_EQ(conf_read(DEV, PCI_COMMAND, 2), 0x80000007);
    conf_write(DEV, PCI_COMMAND, 0x80000003, 2);
    CHECK_EQ(conf_read(DEV, PCI_COMMAND, 2), 0x00000003);
    /* Cache line size, latency timer and Interrupt Line are scratch registers. */
    conf_write(DEV, PCI_CACHE_LINE_SIZE, 0x4010, 1);
    CHECK_EQ(conf_read(DEV, PCI_CACHE_LINE_SIZE, 1), 0x4010);
}

static void test_intx(void)
{
    IRQSignal sig11, sig5;
    irq_init(&sig11, sink_set_irq, NULL, 11);
    irq_init(&sig5, sink_set_irq, NULL, 5);
    pci_bus_set_irq_sink(bus, 11, &sig11);
    pci_bus_set_irq_sink(bus, 5, &sig5);

    pci_set_irq(dev, 1);
    CHECK_EQ(irq_level[11], 1);
    CHECK_EQ(irq_calls[11], 1);
    CHECK(conf_read(DEV, PCI_STATUS, 1) & PCI_STATUS_INTERRUPT);
    pci_set_irq(dev, 1);                        /* no new edge */
    CHECK_EQ(irq_calls[11], 1);
    /* Interrupt Disable masks the pin but Status bit 3 stays. */
    conf_write(DEV, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE, 1);
    CHECK_EQ(irq_level[11], 0);
    CHECK(conf_read(DEV, PCI_STATUS, 1) & PCI_STATUS_INTERRUPT);
    conf_write(DEV, PCI_COMMAND, PCI_COMMAND_MEMORY, 1);
    CHECK_EQ(irq_level[11], 1);
    pci_set_irq(dev, 0);
    CHECK_EQ(irq_level[11], 0);
    CHECK_EQ(conf_read(DEV, PCI_STATUS, 1) & PCI_STATUS_INTERRUPT, 0);
    /* Raised while disabled: nothing until enabled. */
    conf_write(DEV, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE, 1);
    int calls = irq_calls[11];
    pci_set_irq(dev, 1);
    CHECK_EQ(irq_calls[11], calls);
    CHECK_EQ(irq_level[11], 0);
    CHECK(conf_read(DEV, PCI_STATUS, 1) & PCI_STATUS_INTERRUPT);
    conf_write(DEV, PCI_COMMAND, PCI_COMMAND_MEMORY, 1);
    CHECK_EQ(irq_level[11], 1);
    pci_set_irq(dev, 0);
    CHECK_EQ(irq_level[11], 0);

    /* The guest rewriting Interrupt Line does not rewire the pin. */
    conf_write(DEV, PCI_INTERRUPT_LINE, 5, 0);
    CHECK_EQ(conf_read(DEV, PCI_INTERRUPT_LINE, 0), 5);
    pci_set_irq(dev, 1);
    CHECK_EQ(irq_level[11], 1);
    CHECK_EQ(irq_calls[5], 0);

    /* Two devices share line 11: the line is the OR of both. */
    PCIDevice *d2 = pci_register_device(bus, "share", PCI_DEVFN(6, 0), 0x1af4, 0x1003, 0, 0x020000, 1, 11);
    pci_set_irq(d2, 1);
    CHECK_EQ(irq_level[11], 1);
    pci_set_irq(dev, 0);
    CHECK_EQ(irq_level[11], 1);
    pci_set_irq(dev, 1);
    pci_set_irq(d2, 0);
    CHECK_EQ(irq_level[11], 1);
    pci_set_irq(dev, 0);
    CHECK_EQ(irq_level[11], 0);
    /* A device without a pin never drives anything. */
    PCIDevice *np = pci_register_device(bus, "nopin", PCI_DEVFN(7, 0), 0x1af4, 0x1004, 0, 0x020000, 0, 5);
    pci_set_irq(np, 1);
    CHECK_EQ(irq_calls[5], 0);
    pci_set_irq(np, 0);

    /* Reset drops a pending request. */
    pci_set_irq(dev, 1);
    CHECK_EQ(irq_level[11], 1);
    pci_device_reset(dev);
    CHECK_EQ(irq_level[11], 0);
    CHECK_EQ(conf_read(DEV, PCI_STATUS, 1) & PCI_STATUS_INTERRUPT, 0);
    CHECK_EQ(conf_read(DEV, PCI_INTERRUPT_LINE, 0), 11);
}

static void test_reset_control(void)
{
    n_resets = 0;
    iomap_port_write(&map, PIIX_RCR, PIIX_RCR_SYS_RST, 0);
    CHECK_EQ(n_resets, 0);
    CHECK_EQ(iomap_port_read(&map, PIIX_RCR, 0), PIIX_RCR_SYS_RST);
    /* Linux BOOT_CF9_FORCE: 0x02 then 0x0e. */
    iomap_port_write(&map, PIIX_RCR, 0x0e, 0);
    CHECK_EQ(n_resets, 1);
    CHECK_EQ(iomap_port_read(&map, PIIX_RCR, 0), 0x0e);
    iomap_port_write(&map, PIIX_RCR, 0xf1, 0);  /* bits outside 1-3 are not kept */
    CHECK_EQ(iomap_port_read(&map, PIIX_RCR, 0), 0x00);
    CHECK_EQ(n_resets, 1);
    iomap_port_write(&map, PIIX_RCR, PIIX_RCR_RST_CPU, 0);
    CHECK_EQ(n_resets, 2);
    /* A dword CONFIG_ADDRESS write whose byte 1 has bit 2 set is not the RCR. */
    iomap_port_write(&map, 0xcf8, 0x80000400, 2);
    CHECK_EQ(n_resets, 2);
    CHECK_EQ(iomap_port_read(&map, 0xcf8, 2), 0x80000400);
    /* A 16-bit write at 0xcf8 reaches the RCR through its byte lane 1. */
    iomap_port_write(&map, 0xcf8, 0x0400, 1);
    CHECK_EQ(n_resets, 3);
    CHECK_EQ(iomap_port_read(&map, 0xcf8, 2), 0x80000400);
    /* Bus reset clears the latch and the RCR. */
    pci_reset(bus);
    CHECK_EQ(iomap_port_read(&map, 0xcf8, 2), 0);
    CHECK_EQ(iomap_port_read(&map, PIIX_RCR, 0), 0);
    CHECK_EQ(conf_read(0, PCI_COMMAND, 1), 0x0006);
}

static uint32_t hook_last_addr, hook_last_val;
static int hook_writes;

static uint32_t hook_read(void *opaque, uint32_t addr, uint32_t val, int size_log2)
{
    (void)opaque;
    if (addr == 0x48 && size_log2 == 2)
        return 0x12345678;      /* a live register */
    return val;
}

static void hook_write(void *opaque, uint32_t addr, uint32_t val, int size_log2)
{
    PCIDevice *d = opaque;
    (void)size_log2;
    hook_writes++;
    hook_last_addr = addr;
    hook_last_val = val;
    CHECK_EQ(d->config[0x44], val & 0xff);   /* sees the applied value */
}

static void test_hooks(void)
{
    PCIDevice *d = pci_register_device(bus, "hooked", PCI_DEVFN(8, 0), 0x1af4, 0x1005, 0, 0x020000, 0, -1);
    d->wmask[0x44] = 0xff;      /* a device-specific writable register */
    pci_set_config_hooks(d, hook_read, hook_write, d);
    conf_write(PCI_DEVFN(8, 0), 0x44, 0x5a, 0);
    CHECK_EQ(hook_writes, 1);
    CHECK_EQ(hook_last_addr, 0x44);
    CHECK_EQ(hook_last_val, 0x5a);
    CHECK_EQ(conf_read(PCI_DEVFN(8, 0), 0x44, 0), 0x5a);
    CHECK_EQ(conf_read(PCI_DEVFN(8, 0), 0x48, 2), 0x12345678);
    CHECK_EQ(conf_read(PCI_DEVFN(8, 0), 0, 2), 0x10051af4);
}

int main(void)
{
    iomap_init(&map);
    bus = pci_init(&map, on_reset, &n_resets);
    CHECK(bus != NULL);
    if (!bus)
        return check_done();
    test_config_address();
    test_host_bridge();
    test_absent();
    test_register();
    test_bars();
    test_status();
    test_intx();
    test_reset_control();
    test_hooks();
    return check_done();
}
