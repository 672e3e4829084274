/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Port and MMIO dispatch. */
#include "base/iomem.h"

#include <stdio.h>
#include <string.h>

void iomap_init(IoMap *map)
{
    memset(map, 0, sizeof *map);
}

static int overlaps(const IoRange *r, int n, uint64_t base, uint64_t len)
{
    for (int i = 0; i < n; i++)
        if (base < r[i].base + r[i].len && r[i].base < base + len)
            return 1;
    return 0;
}

IoRange *iomap_register_ports(IoMap *map, uint32_t base, uint32_t len, void *opaque,
                              IoReadFunc *read, IoWriteFunc *write, int flags, const char *name)
{
    if (map->n_ports >= IOMAP_MAX_RANGES || base + len > 65536 || overlaps(map->ports, map->n_ports, base, len)) {
        fprintf(stderr, "lbvm: internal error: cannot register ports %#x+%u for %s\n", base, len, name);
        return NULL;
    }
    IoRange *r = &map->ports[map->n_ports++];
    *r = (IoRange){ base, len, opaque, read, write, flags ? flags : IO_SIZE8, name };
    for (uint32_t p = base; p < base + len; p++)
        map->port_index[p] = (uint8_t)map->n_ports;
    return r;
}

IoRange *iomap_register_mmio(IoMap *map, uint64_t base, uint64_t len, void *opaque,
                             IoReadFunc *read, IoWriteFunc *write, int flags, const char *name)
{
    if (map->n_mmio >= IOMAP_MAX_RANGES || overlaps(map->mmio, map->n_mmio, base, len)) {
        fprintf(stderr, "lbvm: internal error: cannot register MMIO %#llx+%llu for %s\n",
                (unsigned long long)base, (unsigned long long)len, name);
        return NULL;
    }
    IoRange *r = &map->mmio[map->n_mmio++];
    *r = (IoRange){ base, len, opaque, read, write, flags ? flags : IO_SIZE32, name };
    if (map->mmio_added)
        map->mmio_added(map->mmio_added_opaque, r);
    return r;
}

uint32_t iorange_read(IoRange *r, uint64_t offset, int size_log2)
{
    if (r->flags & (1 << size_log2))
        return r->read(r->opaque, (uint32_t)offset, size_log2);
    /* Split into bytes, little-endian. */
    uint32_t v = 0;
    for (int i = 0; i < (1 << size_log2); i++)
        v |= (r->read(r->opaque, (uint32_t)offset + i, 0) & 0xff) << (8 * i);
    return v;
}

void iorange_write(IoRange *r, uint64_t offset, uint32_t val, int size_log2)
{
    if (r->flags & (1 << size_log2)) {
        r->write(r->opaque, (uint32_t)offset, val, size_log2);
        return;
    }
    for (int i = 0; i < (1 << size_log2); i++)
        r->write(r->opaque, (uint32_t)offset + i, (val >> (8 * i)) & 0xff, 0);
}

uint32_t iomap_port_read(IoMap *map, uint32_t port, int size_log2)
{
    port &= 0xffff;
    int i = map->port_index[port];
    if (i) {
        IoRange *r = &map->ports[i - 1];
        /* A wide access that runs past the range is split byte by byte. */
        if (port + (1u << size_log2) <= r->base + r->len)
            return iorange_read(r, port - r->base, size_log2);
    } else if (size_log2 == 0) {
        map->n_unassigned++;
        return 0xff;
    }
    uint32_t v = 0;
    for (int b = 0; b < (1 << size_log2); b++)
        v |= iomap_port_read(map, (port + b) & 0xffff, 0) << (8 * b);
    return v;
}

void iomap_port_write(IoMap *map, uint32_t port, uint32_t val, int size_log2)
{
    port &= 0xffff;
    int i = map->port_index[port];
    if (i) {
        IoRange *r = &map->ports[i - 1];
        if (port + (1u << size_log2) <= r->base + r->len) {
            iorange_write(r, port - r->base, val, size_log2);
            return;
        }
    } else if (size_log2 == 0) {
        map->n_unassigned++;
        return;
    }
    for (int b = 0; b < (1 << size_log2); b++)
        iomap_port_write(map, (port + b) & 0xffff, (val >> (8 * b)) & 0xff, 0);
}
