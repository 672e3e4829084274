/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One read/write contract for I/O ports and MMIO (TinyEMU's iomem shape).
 * A device registers a range with an opaque state pointer; accesses arrive
 * as (offset within the range, size_log2 0/1/2). Sizes a device does not
 * declare are split into byte accesses by the map. */
#ifndef LBVM_IOMEM_H
#define LBVM_IOMEM_H
#include <stdint.h>

typedef uint32_t IoReadFunc(void *opaque, uint32_t offset, int size_log2);
typedef void IoWriteFunc(void *opaque, uint32_t offset, uint32_t val, int size_log2);

#define IO_SIZE8  (1 << 0)
#define IO_SIZE16 (1 << 1)
#define IO_SIZE32 (1 << 2)

typedef struct IoRange {
    uint64_t base, len;
    void *opaque;
    IoReadFunc *read;
    IoWriteFunc *write;
    int flags;          /* IO_SIZE* the device handles natively */
    const char *name;
} IoRange;

#define IOMAP_MAX_RANGES 64

typedef struct IoMap {
    IoRange ports[IOMAP_MAX_RANGES];
    int n_ports;
    uint8_t port_index[65536];   /* port -> 1 + index into ports[], 0 = none */
    IoRange mmio[IOMAP_MAX_RANGES];
    int n_mmio;
    /* Called when MMIO is registered, so the CPU layer can map it. */
    void (*mmio_added)(void *opaque, IoRange *r);
    void *mmio_added_opaque;
    uint64_t n_unassigned;       /* accesses to nothing (read as all-ones) */
} IoMap;

void iomap_init(IoMap *map);
/* Returns the range, or NULL (and prints why) if it overlaps another. */
IoRange *iomap_register_ports(IoMap *map, uint32_t base, uint32_t len, void *opaque,
                              IoReadFunc *read, IoWriteFunc *write, int flags, const char *name);
IoRange *iomap_register_mmio(IoMap *map, uint64_t base, uint64_t len, void *opaque,
                             IoReadFunc *read, IoWriteFunc *write, int flags, const char *name);
/* Port accesses: unassigned ports read as all-ones, writes are dropped. */
uint32_t iomap_port_read(IoMap *map, uint32_t port, int size_log2);
void iomap_port_write(IoMap *map, uint32_t port, uint32_t val, int size_log2);
/* Dispatch into one range, splitting sizes the device does not handle. */
uint32_t iorange_read(IoRange *r, uint64_t offset, int size_log2);
void iorange_write(IoRange *r, uint64_t offset, uint32_t val, int size_log2);

/* Interrupt lines are tiny values: a callback plus the line number. */
typedef void SetIRQFunc(void *opaque, int irq_num, int level);
typedef struct IRQSignal {
    SetIRQFunc *set_irq;
    void *opaque;
    int irq_num;
} IRQSignal;

static inline void irq_init(IRQSignal *irq, SetIRQFunc *f, void *opaque, int n)
{
    irq->set_irq = f;
    irq->opaque = opaque;
    irq->irq_num = n;
}
static inline void set_irq(IRQSignal *irq, int level)
{
    irq->set_irq(irq->opaque, irq->irq_num, level);
}
#endif
