/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PCI host bridge (Intel 440FX, configuration mechanism 1), PIIX reset
 * control register and the bus 0 device registry. See pci.h for the design
 * (fixed decode windows, INTx routing, saved state).
 * References: PCI Local Bus Specification 3.0 (3.2.2.3.2 mechanism 1, 6.1-6.2
 * header), Intel 82441FX datasheet (CONFADD/CONFDATA, PCICMD/PCISTS defaults),
 * Intel 82371 PIIX3 datasheet (RC register at 0xcf9). */
#include "devices/pci.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CONFIG_ADDRESS: enable, bus 23:16, device 15:11, function 10:8, register
 * 7:2. Bits 30:24 and 1:0 are reserved and read back 0. */
#define PCI_CONFIG_ADDRESS_MASK 0x80fffffcu

static uint32_t all_ones(int size_log2)
{
    return size_log2 == 2 ? 0xffffffffu : (1u << (8 << size_log2)) - 1;
}

uint32_t pci_bar_addr(const PCIDevice *d, int bar)
{
    const PCIBar *b = &d->bars[bar];
    if (!b->size)
        return 0;
    uint32_t v = pci_get_long(d->config + PCI_BASE_ADDRESS_0 + 4 * bar);
    return v & (b->is_io ? PCI_BASE_ADDRESS_IO_MASK : PCI_BASE_ADDRESS_MEM_MASK);
}

static void pci_update_bar_bases(PCIDevice *d)
{
    for (int i = 0; i < PCI_NUM_BARS; i++)
        if (d->bars[i].size)
            d->bars[i].range.base = pci_bar_addr(d, i);
}

/* ---- INTx ---- */

static int pci_intx_out(const PCIDevice *d)
{
    return d->irq_level && d->config[PCI_INTERRUPT_PIN] &&
           !(pci_get_word(d->config + PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);
}

/* Level-triggered sharing: a line is high while any device on it asserts. */
static int pci_line_level(const PCIBus *s, int line)
{
    if (line < 0)
        return 0;
    for (int i = 0; i < 256; i++) {
        const PCIDevice *d = s->devices[i];
        if (d && d->irq_route == line && pci_intx_out(d))
            return 1;
    }
    return 0;
}

static void pci_line_changed(PCIBus *s, int line, int old)
{
    if (line < 0)
        return;
    int level = pci_line_level(s, line);
    if (level != old && s->irq_sinks[line].set_irq)
        set_irq(&s->irq_sinks[line], level);
}

void pci_set_irq(PCIDevice *d, int level)
{
    int old = pci_line_level(d->bus, d->irq_route);
    d->irq_level = level != 0;
    /* Status bit 3 shows the request even while Interrupt Disable masks it. */
    if (d->irq_level)
        d->config[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
    else
        d->config[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
    pci_line_changed(d->bus, d->irq_route, old);
}

void pci_bus_set_irq_sink(PCIBus *s, int irq_line, const IRQSignal *sig)
{
    assert(irq_line >= 0 && irq_line < PCI_NUM_IRQ_LINES);
    if (sig)
        s->irq_sinks[irq_line] = *sig;
    else
        memset(&s->irq_sinks[irq_line], 0, sizeof s->irq_sinks[irq_line]);
}

/* ---- configuration space ---- */

uint32_t pci_config_read(PCIDevice *d, uint32_t addr, int size_log2)
{
    uint32_t len = 1u << size_log2, v = 0;
    assert(addr < PCI_CONFIG_SPACE_SIZE && (addr & 3) + len <= 4);
    for (uint32_t i = 0; i < len; i++)
        v |= (uint32_t)d->config[addr + i] << (8 * i);
    if (d->config_read)
        v = d->config_read(d->hook_opaque, addr, v, size_log2);
    return v;
}

void pci_config_write(PCIDevice *d, uint32_t addr, uint32_t val, int size_log2)
{
    uint32_t len = 1u << size_log2;
    assert(addr < PCI_CONFIG_SPACE_SIZE && (addr & 3) + len <= 4);
    int old = pci_line_level(d->bus, d->irq_route);
    for (uint32_t i = 0; i < len; i++) {
        uint32_t a = addr + i;
        uint8_t b = (uint8_t)(val >> (8 * i));
        /* Read-only bits keep their value: this is also what makes a BAR
         * sizing write read back ~(size - 1) with the type bits intact. */
        d->config[a] = (uint8_t)((d->config[a] & ~d->wmask[a]) | (b & d->wmask[a]));
        d->config[a] &= (uint8_t)~(b & d->w1cmask[a]);
    }
    /* Command (decode enables, Interrupt Disable) or a BAR may have changed. */
    pci_update_bar_bases(d);
    pci_line_changed(d->bus, d->irq_route, old);
    if (d->config_write)
        d->config_write(d->hook_opaque, addr, val, size_log2);
}

void pci_set_config_hooks(PCIDevice *d, PCIConfigReadFunc *read, PCIConfigWriteFunc *write, void *opaque)
{
    d->config_read = read;
    d->config_write = write;
    d->hook_opaque = opaque;
}

/* ---- ports 0xcf8-0xcff ---- */

static PCIDevice *pci_addressed(PCIBus *s)
{
    uint32_t a = s->config_address;
    /* Only bus 0 exists; other buses master-abort (all-ones). */
    if (!(a & PCI_CONFIG_ENABLE) || ((a >> 16) & 0xff) != 0)
        return NULL;
    return s->devices[(a >> 8) & 0xff];
}

static uint32_t pci_port_read(void *opaque, uint32_t offset, int size_log2)
{
    PCIBus *s = opaque;
    if (offset >= 4) {
        /* CONFIG_DATA: byte lane offset & 3 of the latched dword. */
        PCIDevice *d = pci_addressed(s);
        if (!d)
            return all_ones(size_log2);
        return pci_config_read(d, (s->config_address & 0xfc) | (offset & 3), size_log2);
    }
    /* On PIIX only a dword access at 0xcf8 is CONFIG_ADDRESS; 0xcf9 is the
     * byte-wide RC register; other accesses here reach nothing. */
    if (offset == 0 && size_log2 == 2)
        return s->config_address;
    if (size_log2 == 0) {
        if (offset == 1)
            return s->rcr;
        s->map->n_unassigned++;
        return 0xff;
    }
    uint32_t v = 0;
    for (int i = 0; i < (1 << size_log2); i++)
        v |= pci_port_read(s, offset + i, 0) << (8 * i);
    return v;
}

static void pci_port_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    PCIBus *s = opaque;
    if (offset >= 4) {
        PCIDevice *d = pci_addressed(s);
        if (d)
            pci_config_write(d, (s->config_address & 0xfc) | (offset & 3), val, size_log2);
        return;
    }
    if (offset == 0 && size_log2 == 2) {
        s->config_address = val & PCI_CONFIG_ADDRESS_MASK;
        return;
    }
    if (size_log2 == 0) {
        if (offset == 1) {
            /* SYS_RST only picks soft/hard reset; RST_CPU starts it. Both
             * mean a full machine reset to lbvm. */
            s->rcr = val & (PIIX_RCR_SYS_RST | PIIX_RCR_RST_CPU | PIIX_RCR_FULL_RST);
            if ((val & PIIX_RCR_RST_CPU) && s->reset_request)
                s->reset_request(s->reset_opaque);
        } else {
            s->map->n_unassigned++;
        }
        return;
    }
    for (int i = 0; i < (1 << size_log2); i++)
        pci_port_write(s, offset + i, (val >> (8 * i)) & 0xff, 0);
}

/* ---- BAR decode in the windows ---- */

static PCIBar *pci_decode(PCIBus *s, int is_io, uint32_t addr, uint32_t *base)
{
    uint16_t enable = is_io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
    for (int devfn = 0; devfn < 256; devfn++) {
        PCIDevice *d = s->devices[devfn];
        if (!d || !(pci_get_word(d->config + PCI_COMMAND) & enable))
            continue;
        for (int i = 0; i < PCI_NUM_BARS; i++) {
            PCIBar *b = &d->bars[i];
            if (!b->size || b->is_io != is_io)
                continue;
            uint32_t a = pci_bar_addr(d, i);
            if (addr - a < b->size) {
                *base = a;
                return b;
            }
        }
    }
    return NULL;
}

static uint32_t pci_window_read(PCIBus *s, int is_io, uint32_t addr, int size_log2)
{
    uint32_t base = 0;
    PCIBar *b = pci_decode(s, is_io, addr, &base);
    if (b && (uint64_t)addr - base + (1u << size_log2) <= b->size)
        return iorange_read(&b->range, addr - base, size_log2);
    if (size_log2 == 0) {
        s->map->n_unassigned++;
        return 0xff;
    }
    /* Straddles a BAR's end or is partly unclaimed: byte by byte. */
    uint32_t v = 0;
    for (int i = 0; i < (1 << size_log2); i++)
        v |= pci_window_read(s, is_io, addr + i, 0) << (8 * i);
    return v;
}

static void pci_window_write(PCIBus *s, int is_io, uint32_t addr, uint32_t val, int size_log2)
{
    uint32_t base = 0;
    PCIBar *b = pci_decode(s, is_io, addr, &base);
    if (b && (uint64_t)addr - base + (1u << size_log2) <= b->size) {
        iorange_write(&b->range, addr - base, val, size_log2);
        return;
    }
    if (size_log2 == 0) {
        s->map->n_unassigned++;
        return;
    }
    for (int i = 0; i < (1 << size_log2); i++)
        pci_window_write(s, is_io, addr + i, (val >> (8 * i)) & 0xff, 0);
}

static uint32_t pci_io_read(void *opaque, uint32_t offset, int size_log2)
{
    return pci_window_read(opaque, 1, PCI_IO_WINDOW_BASE + offset, size_log2);
}

static void pci_io_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    pci_window_write(opaque, 1, PCI_IO_WINDOW_BASE + offset, val, size_log2);
}

static uint32_t pci_mem_read(void *opaque, uint32_t offset, int size_log2)
{
    return pci_window_read(opaque, 0, PCI_MEM_WINDOW_BASE + offset, size_log2);
}

static void pci_mem_write(void *opaque, uint32_t offset, uint32_t val, int size_log2)
{
    pci_window_write(opaque, 0, PCI_MEM_WINDOW_BASE + offset, val, size_log2);
}

void pci_set_bar(PCIDevice *d, int bar, uint32_t size, int is_io, uint32_t addr, IoRange *range)
{
    assert(bar >= 0 && bar < PCI_NUM_BARS && range && range->read && range->write);
    assert(size && !(size & (size - 1)) && size >= (is_io ? 4u : 16u) && !(addr & (size - 1)));
    if (is_io)
        assert(addr >= PCI_IO_WINDOW_BASE && (uint64_t)addr + size <= PCI_IO_WINDOW_BASE + PCI_IO_WINDOW_SIZE);
    else
        assert(addr >= PCI_MEM_WINDOW_BASE &&
               (uint64_t)addr + size <= (uint64_t)PCI_MEM_WINDOW_BASE + PCI_MEM_WINDOW_SIZE);
    PCIBar *b = &d->bars[bar];
    b->size = size;
    b->is_io = is_io != 0;
    b->reset_addr = addr;
    b->range = *range;
    b->range.base = addr;
    b->range.len = size;
    if (!b->range.flags)    /* the IoMap's defaults */
        b->range.flags = is_io ? IO_SIZE8 : IO_SIZE32;
    uint32_t off = PCI_BASE_ADDRESS_0 + 4 * bar;
    /* Address bits above the size are writable; the type bits are not. */
    pci_set_long(d->wmask + off, ~(size - 1));
    pci_set_long(d->config + off, addr | (is_io ? PCI_BASE_ADDRESS_SPACE_IO : 0));
    /* Like a BIOS, leave the decode of an assigned BAR enabled. */
    uint16_t en = is_io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
    d->reset_command |= en;
    pci_set_word(d->config + PCI_COMMAND, pci_get_word(d->config + PCI_COMMAND) | en);
}

/* ---- registry ---- */

PCIDevice *pci_find_device(PCIBus *bus, int devfn)
{
    return devfn >= 0 && devfn < 256 ? bus->devices[devfn] : NULL;
}

static int pci_free_slot(PCIBus *s)
{
    for (int slot = 0; slot < 32; slot++) {
        int used = 0;
        for (int fn = 0; fn < 8; fn++)
            used |= s->devices[slot * 8 + fn] != NULL;
        if (!used)
            return slot * 8;
    }
    return -1;
}

static void pci_update_multifunction(PCIBus *s, int devfn)
{
    PCIDevice *f0 = s->devices[devfn & ~7];
    if (!f0)
        return;
    for (int fn = 1; fn < 8; fn++)
        if (s->devices[(devfn & ~7) + fn])
            f0->config[PCI_HEADER_TYPE] |= PCI_HEADER_TYPE_MULTI_FUNCTION;
}

PCIDevice *pci_register_device(PCIBus *bus, const char *name, int devfn, uint16_t vendor, uint16_t device,
                               uint8_t revision, uint32_t class_code, int irq_pin, int irq_line)
{
    assert(irq_pin >= 0 && irq_pin <= 4);
    if (devfn < 0)
        devfn = pci_free_slot(bus);
    if (devfn < 0 || devfn > 255 || bus->devices[devfn])
        return NULL;
    PCIDevice *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->bus = bus;
    d->name = name;
    d->devfn = devfn;
    d->irq_route = irq_pin && irq_line >= 0 && irq_line < PCI_NUM_IRQ_LINES ? irq_line : -1;
    pci_set_word(d->config + PCI_VENDOR_ID, vendor);
    pci_set_word(d->config + PCI_DEVICE_ID, device);
    pci_set_long(d->config + PCI_REVISION_ID, revision | (class_code & 0xffffff) << 8);
    d->config[PCI_INTERRUPT_PIN] = (uint8_t)irq_pin;
    /* x86 convention: 0xff = unknown / not connected. A function without
     * an interrupt pin reads 0, as QEMU leaves it and no firmware writes it
     * (Fiwix prints a non-zero line as the function's IRQ). */
    d->config[PCI_INTERRUPT_LINE] = irq_line >= 0 ? (uint8_t)irq_line : irq_pin ? 0xff : 0;
    d->reset_intline = d->config[PCI_INTERRUPT_LINE];
    /* Command: I/O, memory, bus master, SERR#, Interrupt Disable. */
    pci_set_word(d->wmask + PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
                                         PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
    pci_set_word(d->w1cmask + PCI_STATUS, PCI_STATUS_W1C);
    d->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    d->wmask[PCI_LATENCY_TIMER] = 0xff;
    d->wmask[PCI_INTERRUPT_LINE] = 0xff;
    bus->devices[devfn] = d;
    pci_update_multifunction(bus, devfn);
    return d;
}

/* ---- reset, init ---- */

void pci_device_reset(PCIDevice *d)
{
    int old = pci_line_level(d->bus, d->irq_route);
    pci_set_word(d->config + PCI_COMMAND, d->reset_command);
    uint16_t st = pci_get_word(d->config + PCI_STATUS) & ~(PCI_STATUS_W1C | PCI_STATUS_INTERRUPT);
    pci_set_word(d->config + PCI_STATUS, st);
    d->irq_level = 0;
    d->config[PCI_CACHE_LINE_SIZE] = 0;
    d->config[PCI_LATENCY_TIMER] = 0;
    d->config[PCI_INTERRUPT_LINE] = d->reset_intline;
    for (int i = 0; i < PCI_NUM_BARS; i++) {
        PCIBar *b = &d->bars[i];
        if (b->size)
            pci_set_long(d->config + PCI_BASE_ADDRESS_0 + 4 * i,
                         b->reset_addr | (b->is_io ? PCI_BASE_ADDRESS_SPACE_IO : 0));
    }
    pci_update_bar_bases(d);
    pci_line_changed(d->bus, d->irq_route, old);
}

void pci_reset(PCIBus *s)
{
    s->config_address = 0;
    s->rcr = 0;
    for (int i = 0; i < 256; i++)
        if (s->devices[i])
            pci_device_reset(s->devices[i]);
}

void pci_bus_post_load(PCIBus *s)
{
    for (int i = 0; i < 256; i++)
        if (s->devices[i])
            pci_update_bar_bases(s->devices[i]);
}

PCIBus *pci_init(IoMap *map, PCIResetFunc reset_request, void *opaque)
{
    PCIBus *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->map = map;
    s->reset_request = reset_request;
    s->reset_opaque = opaque;
    if (!iomap_register_ports(map, PCI_CONFIG_ADDRESS, 8, s, pci_port_read, pci_port_write,
                              IO_SIZE8 | IO_SIZE16 | IO_SIZE32, "pci-conf1") ||
        !iomap_register_ports(map, PCI_IO_WINDOW_BASE, PCI_IO_WINDOW_SIZE, s, pci_io_read, pci_io_write,
                              IO_SIZE8 | IO_SIZE16 | IO_SIZE32, "pci-io") ||
        !iomap_register_mmio(map, PCI_MEM_WINDOW_BASE, PCI_MEM_WINDOW_SIZE, s, pci_mem_read, pci_mem_write,
                             IO_SIZE8 | IO_SIZE16 | IO_SIZE32, "pci-mem")) {
        /* A wiring error at start-up. s stays allocated: ranges that did
         * register still point at it. */
        return NULL;
    }
    /* 82441FX PMC: PCICMD 0006h and PCISTS 0280h at reset (datasheet). */
    s->host = pci_register_device(s, "i440fx", PCI_DEVFN(0, 0), PCI_VENDOR_ID_INTEL, PCI_DEVICE_ID_INTEL_82441,
                                  0x02, PCI_CLASS_BRIDGE_HOST, 0, 0);
    s->host->reset_command = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    pci_set_word(s->host->config + PCI_STATUS, PCI_STATUS_DEVSEL_MEDIUM | PCI_STATUS_FAST_BACK);
    pci_reset(s);
    return s;
}

void pci_free(PCIBus *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < sizeof s->devices / sizeof s->devices[0]; i++)
        free(s->devices[i]);
    free(s);
}

/* ---- checkpoints ---- */

/* Bits of a header byte that neither the guest nor the bus can change:
 * Status bit 3 follows irq_level, W1C bits are set by the device. */
static uint8_t pci_fixed_bits(const PCIDevice *d, int a)
{
    uint8_t fixed = (uint8_t)~(d->wmask[a] | d->w1cmask[a]);
    if (a == PCI_STATUS)
        fixed &= (uint8_t)~PCI_STATUS_INTERRUPT;
    return fixed;
}

void pci_state(PCIBus *s, StateIO *io)
{
    uint32_t config_address = s->config_address;
    uint8_t rcr = s->rcr;
    state_u32(io, "config_address", &config_address);
    state_u8(io, "rcr", &rcr);
    state_check(io, !(config_address & ~PCI_CONFIG_ADDRESS_MASK), "PCI: CONFIG_ADDRESS %#x has reserved bits set",
                config_address);
    state_check(io, !(rcr & ~(PIIX_RCR_SYS_RST | PIIX_RCR_RST_CPU | PIIX_RCR_FULL_RST)),
                "PCI: reset control %#x out of range", rcr);

    /* Which functions exist is wiring: the checkpoint must list the same. */
    uint32_t present[8] = { 0 }, here[8];
    int n = 0;
    for (int devfn = 0; devfn < 256; devfn++)
        if (s->devices[devfn]) {
            present[devfn >> 5] |= 1u << (devfn & 31);
            n++;
        }
    memcpy(here, present, sizeof here);
    state_u32s(io, "devices", present, 8);
    if (state_loading(io) && state_ok(io) && memcmp(present, here, sizeof here)) {
        int devfn = 0;
        while (!((present[devfn >> 5] ^ here[devfn >> 5]) >> (devfn & 31) & 1))
            devfn++;
        state_fail(io, "PCI: the checkpoint has %s function at 00:%02x.%x, this machine %s",
                   s->devices[devfn] ? "no" : "a", devfn >> 3, devfn & 7, s->devices[devfn] ? "has one" : "has none");
    }
    if (!state_ok(io))
        return;

    /* Loaded into copies first: a refused checkpoint changes nothing. */
    uint8_t (*config)[PCI_CONFIG_SPACE_SIZE] = calloc(n ? (size_t)n : 1, PCI_CONFIG_SPACE_SIZE);
    uint8_t *level = calloc(n ? (size_t)n : 1, 1);
    if (!config || !level) {
        free(config);
        free(level);
        state_fail(io, "out of memory");
        return;
    }
    for (int devfn = 0, k = 0; devfn < 256 && state_ok(io); devfn++) {
        PCIDevice *d = s->devices[devfn];
        if (!d)
            continue;
        char name[32], bdf[16];
        snprintf(bdf, sizeof bdf, "00:%02x.%x", devfn >> 3, devfn & 7);
        memcpy(config[k], d->config, PCI_CONFIG_SPACE_SIZE);
        level[k] = (uint8_t)d->irq_level;
        snprintf(name, sizeof name, "%s.config", bdf);
        state_u8s(io, name, config[k], PCI_CONFIG_SPACE_SIZE);
        snprintf(name, sizeof name, "%s.irq_level", bdf);
        state_u8(io, name, &level[k]);
        if (state_loading(io) && state_ok(io)) {
            state_check(io, level[k] <= 1 && !!(config[k][PCI_STATUS] & PCI_STATUS_INTERRUPT) == level[k],
                        "PCI %s: INTx request %u does not match Status", bdf, level[k]);
            /* A guest write could not have changed these (IDs, BAR type and
             * size bits, header type, Interrupt Pin...). Bytes from 0x40 up
             * are device-specific: taken as saved, any checks are the
             * device's own (no device uses them yet). */
            for (int a = 0; a < 0x40 && state_ok(io); a++)
                state_check(io, !((config[k][a] ^ d->config[a]) & pci_fixed_bits(d, a)),
                            "PCI %s: read-only config byte %#x is %#x, this machine's device has %#x", bdf, a,
                            config[k][a], d->config[a]);
        }
        k++;
    }
    if (state_loading(io) && state_ok(io)) {
        s->config_address = config_address;
        s->rcr = rcr;
        for (int devfn = 0, k = 0; devfn < 256; devfn++) {
            PCIDevice *d = s->devices[devfn];
            if (!d)
                continue;
            memcpy(d->config, config[k], PCI_CONFIG_SPACE_SIZE);
            d->irq_level = level[k];
            /* What pci_config_write derives, minus pci_line_changed: the
             * PIC's saved input levels already include this INTx state. */
            pci_update_bar_bases(d);
            k++;
        }
    }
    free(config);
    free(level);
}
