/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PCI bus 0 behind an Intel 440FX-style host bridge: configuration mechanism 1
 * (0xcf8/0xcfc), the PIIX reset control register (0xcf9), a device registry
 * with 256-byte type-0 configuration spaces, BAR decoding and INTx routing.
 *
 * lbvm is the firmware: a device is registered with its BARs and interrupt
 * line already assigned, as a BIOS would leave them. Linux (no ACPI, no PCI
 * BIOS) then finds the bus through type 1 accesses and keeps those values.
 *
 * BAR decoding ("windows"): the IoMap has no unregister and the CPU layer maps
 * MMIO once, so BAR ranges are never registered on the IoMap themselves.
 * Instead pci_init() claims two fixed windows, like a host bridge's positive
 * decode of PCI space: ports PCI_IO_WINDOW_* and memory PCI_MEM_WINDOW_*.
 * An access inside a window goes to the first device (lowest devfn) with a
 * BAR of that kind covering the address whose Command register enables that
 * space; anything else reads all-ones and drops writes. So a device does NOT
 * register its BAR on the IoMap: it hands pci_set_bar() an IoRange holding
 * its handlers (opaque, read, write, flags, name); the bus keeps a copy whose
 * base/len follow the BAR, and calls it with offsets relative to the BAR.
 * The firmware must place BARs inside the windows; a guest that moves a BAR
 * outside them makes it decode nowhere (Linux keeps firmware assignments that
 * do not collide with RAM, so the guest's RAM must end below the MMIO window).
 *
 * INTx routing: the board wires each device's pin to one PIC input, given as
 * irq_line at registration and written to Interrupt Line for the OS to read.
 * The bus ORs the (Interrupt Disable-gated) levels of all devices on one line
 * and drives the IRQSignal set with pci_bus_set_irq_sink(); the guest writing
 * Interrupt Line changes nothing (it is a scratch register, PCI 3.0 6.2.4).
 *
 * Saved state (pci_state): PCIBus.config_address/rcr and each PCIDevice's
 * config[] and irq_level. Everything else is wiring fixed at set-up. */
#ifndef LBVM_PCI_H
#define LBVM_PCI_H
#include <stdint.h>

#include "base/iomem.h"
#include "base/state.h"

/* Configuration mechanism 1 and the PIIX reset control register. */
#define PCI_CONFIG_ADDRESS   0xcf8
#define PCI_CONFIG_DATA      0xcfc
#define PCI_CONFIG_ENABLE    0x80000000u
#define PIIX_RCR             0xcf9
#define PIIX_RCR_SYS_RST     0x02  /* 1 = hard reset when RST_CPU is written */
#define PIIX_RCR_RST_CPU     0x04  /* writing 1 starts the reset */
#define PIIX_RCR_FULL_RST    0x08

/* Windows where BARs may live (see above). */
#define PCI_IO_WINDOW_BASE   0xc000u
#define PCI_IO_WINDOW_SIZE   0x4000u
#define PCI_MEM_WINDOW_BASE  0xfe000000u
#define PCI_MEM_WINDOW_SIZE  0x00c00000u   /* up to the I/O APIC's 0xfec00000 */

/* Type 0 header (PCI Local Bus Spec 3.0, 6.1). */
#define PCI_CONFIG_SPACE_SIZE 256
#define PCI_VENDOR_ID        0x00
#define PCI_DEVICE_ID        0x02
#define PCI_COMMAND          0x04
#define  PCI_COMMAND_IO      0x0001
#define  PCI_COMMAND_MEMORY  0x0002
#define  PCI_COMMAND_MASTER  0x0004
#define  PCI_COMMAND_SERR    0x0100
#define  PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS           0x06
#define  PCI_STATUS_INTERRUPT 0x0008   /* read-only: INTx pending in the device */
#define  PCI_STATUS_CAP_LIST 0x0010
#define  PCI_STATUS_FAST_BACK 0x0080
#define  PCI_STATUS_DEVSEL_MEDIUM 0x0200
#define  PCI_STATUS_W1C      0xf900    /* parity, SERR, master/target aborts */
#define PCI_REVISION_ID      0x08
#define PCI_CLASS_PROG       0x09
#define PCI_CLASS_DEVICE     0x0a
#define PCI_CACHE_LINE_SIZE  0x0c
#define PCI_LATENCY_TIMER    0x0d
#define PCI_HEADER_TYPE      0x0e
#define  PCI_HEADER_TYPE_MULTI_FUNCTION 0x80
#define PCI_BASE_ADDRESS_0   0x10
#define  PCI_BASE_ADDRESS_SPACE_IO 0x01
#define  PCI_BASE_ADDRESS_IO_MASK  (~0x03u)
#define  PCI_BASE_ADDRESS_MEM_MASK (~0x0fu)
#define PCI_ROM_ADDRESS      0x30
#define PCI_CAPABILITY_LIST  0x34
#define PCI_INTERRUPT_LINE   0x3c
#define PCI_INTERRUPT_PIN    0x3d

#define PCI_NUM_BARS         6
#define PCI_NUM_IRQ_LINES    16
#define PCI_DEVFN(slot, fn)  ((((slot) & 0x1f) << 3) | ((fn) & 0x07))

/* The 440FX host bridge at 00:00.0. */
#define PCI_VENDOR_ID_INTEL  0x8086
#define PCI_DEVICE_ID_INTEL_82441 0x1237
#define PCI_CLASS_BRIDGE_HOST 0x060000

typedef void (*PCIResetFunc)(void *opaque);
/* Optional per-device hooks. read gets the value the config space holds and
 * returns what the guest sees; write runs after the bus applied the write
 * (writable bits, write-1-to-clear, decode and INTx updates) and gets the
 * raw value. addr/size never cross a dword. */
typedef uint32_t PCIConfigReadFunc(void *opaque, uint32_t addr, uint32_t val, int size_log2);
typedef void PCIConfigWriteFunc(void *opaque, uint32_t addr, uint32_t val, int size_log2);

typedef struct PCIBus PCIBus;

typedef struct PCIBar {
    uint32_t size;          /* power of two; 0 = not implemented (reads 0) */
    uint8_t is_io;
    uint32_t reset_addr;    /* firmware assignment, restored by reset */
    IoRange range;          /* device handlers; base/len follow the BAR */
} PCIBar;

typedef struct PCIDevice {
    /* Guest-visible state. */
    uint8_t config[PCI_CONFIG_SPACE_SIZE];
    int irq_level;          /* the device's INTx request, before Interrupt Disable */
    /* Wiring, fixed once the firmware set the device up. */
    uint8_t wmask[PCI_CONFIG_SPACE_SIZE];   /* guest-writable bits */
    uint8_t w1cmask[PCI_CONFIG_SPACE_SIZE]; /* write-1-to-clear bits */
    PCIBus *bus;
    const char *name;
    int devfn;
    int irq_route;          /* PIC input INTx is wired to, -1 = none */
    uint16_t reset_command; /* Command value the firmware leaves */
    uint8_t reset_intline;  /* Interrupt Line value the firmware leaves */
    PCIBar bars[PCI_NUM_BARS];
    PCIConfigReadFunc *config_read;
    PCIConfigWriteFunc *config_write;
    void *hook_opaque;
} PCIDevice;

struct PCIBus {
    /* Guest-visible state. */
    uint32_t config_address;    /* CONFIG_ADDRESS latch */
    uint8_t rcr;                /* PIIX reset control, bits 1-3 */
    /* Wiring. */
    IoMap *map;
    PCIResetFunc reset_request;
    void *reset_opaque;
    IRQSignal irq_sinks[PCI_NUM_IRQ_LINES]; /* set_irq NULL = not connected */
    PCIDevice *devices[256];    /* by devfn */
    PCIDevice *host;            /* 00:00.0 */
};

/* Registers 0xcf8-0xcff and the BAR windows; creates the host bridge.
 * reset_request may be NULL. Returns NULL if the ports/windows are taken. */
PCIBus *pci_init(IoMap *map, PCIResetFunc reset_request, void *opaque);
/* Power-on state: latch and RCR cleared, every device reset. */
void pci_reset(PCIBus *s);
/* Frees the bus and every device registered on it. */
void pci_free(PCIBus *s);
/* Recompute the derived BAR bases after config[] was restored by hand
 * (pci_state does this itself). */
void pci_bus_post_load(PCIBus *s);
/* Checkpoints: the latch, RCR, and config space and INTx request of every
 * function, which must be the functions this bus has. A load takes effect as
 * the guest's config writes would (decode follows Command and the BARs at
 * once, BAR bases are re-derived) but drives no IRQ line, requests no reset
 * and calls no device hook; read-only header bits must match the device. */
#define PCI_STATE_VERSION 1
void pci_state(PCIBus *bus, StateIO *io);
/* INTx of devices routed to irq_line (0-15) drives *sig (copied; NULL = none). */
void pci_bus_set_irq_sink(PCIBus *s, int irq_line, const IRQSignal *sig);

/* devfn < 0 takes the first free slot (function 0). irq_line < 0 = not
 * connected (Interrupt Line reads 0xff). NULL if devfn is taken or invalid.
 * Linux only scans functions 1-7 of a slot whose function 0 exists; the
 * multi-function header bit of function 0 is set automatically. */
PCIDevice *pci_register_device(PCIBus *bus, const char *name, int devfn, uint16_t vendor, uint16_t device,
                               uint8_t revision, uint32_t class_code, int irq_pin, int irq_line);
PCIDevice *pci_find_device(PCIBus *bus, int devfn);
/* Firmware-assigns BAR `bar` (size a power of two, >= 4 for I/O, >= 16 for
 * memory; addr aligned and inside the window) and enables its decode in the
 * Command register. `range` supplies the handlers and is copied. */
void pci_set_bar(PCIDevice *d, int bar, uint32_t size, int is_io, uint32_t addr, IoRange *range);
/* Current address of a BAR as the guest programmed it. */
uint32_t pci_bar_addr(const PCIDevice *d, int bar);
void pci_set_config_hooks(PCIDevice *d, PCIConfigReadFunc *read, PCIConfigWriteFunc *write, void *opaque);
/* The device's INTx request (level); Status bit 3 follows it. */
void pci_set_irq(PCIDevice *d, int level);
/* Header restored to the firmware state, INTx request dropped. Bytes from
 * 0x40 up belong to the device's own reset. */
void pci_device_reset(PCIDevice *d);

/* Configuration accesses as the guest makes them (masks, hooks, side effects). */
uint32_t pci_config_read(PCIDevice *d, uint32_t addr, int size_log2);
void pci_config_write(PCIDevice *d, uint32_t addr, uint32_t val, int size_log2);

/* Raw little-endian access to config[] for the device's own set-up. */
static inline uint16_t pci_get_word(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t pci_get_long(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void pci_set_word(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void pci_set_long(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
#endif
