/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Machine assembly and the top-level run loop. */
#include "emu/machine.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/guestram.h"
#include "devices/ahci.h"
#include "emu/bios.h"
#include "devices/disk.h"
#include "devices/i8042.h"
#include "devices/ide.h"
#include "devices/pci.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "base/platform.h"
#include "devices/rtc.h"
#include "devices/sysreset.h"
#include "devices/uart.h"
#include "devices/vga.h"

#define COM1_BASE 0x3f8
#define COM1_IRQ 4
#define RTC_IRQ 8
#define KBD_IRQ 1
#define AUX_IRQ 12
/* The AHCI controller, placed as firmware would: slot 2, INTA on IRQ 11
 * (level-triggered in the ELCR), ABAR inside the PCI bus's memory window. */
#define AHCI_DEVFN PCI_DEVFN(2, 0)
#define AHCI_IRQ 11
#define AHCI_ABAR 0xfebf0000u
#define PIC_ELCR2_PORT 0x4d1
/* The largest RAM still ends inside PAE's 36-bit physical address space. */
_Static_assert(GUEST_RAM_HIGH_BASE + ((uint64_t)MACHINE_MAX_RAM_MIB << 20) - GUEST_RAM_LOW_MAX <= 1ull << 36,
               "MACHINE_MAX_RAM_MIB: RAM would end beyond 64 GiB");
/* With IDE disks, QEMU's PIIX3 at slot 1: the ISA bridge (function 0, no
 * registers of its own here) and the IDE function 1 on IRQ 14 and 15. */
#define PIIX3_DEVFN PCI_DEVFN(1, 0)
#define PIIX3_DEVICE_ID 0x7000
#define PCI_CLASS_BRIDGE_ISA 0x060100
#define IDE_DEVFN PCI_DEVFN(1, 1)

static void machine_console_out(void *opaque, const uint8_t *buf, size_t len)
{
    Machine *m = opaque;
    fwrite(buf, 1, len, m->cfg.console);
    if (m->console_hook)
        m->console_hook(m->hook_opaque, buf, len);
    EVP_DigestUpdate(m->console_md, buf, len);
    for (size_t i = 0; i < len; i++) {
        m->console_tail[(m->console_bytes + i) % MACHINE_TAIL_SIZE] = buf[i];
        if (buf[i] == '\n') {
            m->line[m->line_len] = 0;
            if (m->line_len && m->line[m->line_len - 1] == '\r')
                m->line[m->line_len - 1] = 0;
            if (m->line_cb && m->line_cb(m->line_opaque, m->line))
                machine_pause(m);
            m->line_len = 0;
        } else if (m->line_len < MACHINE_LINE_MAX) {
            m->line[m->line_len++] = (char)buf[i];
        }
    }
    m->console_bytes += len;
}

void machine_pause(Machine *m)
{
    m->pause_requested = true;
    cpu_request_stop(m->cpu);
}

static void machine_pause_expired(void *opaque)
{
    machine_pause(opaque);
}

void machine_pause_at(Machine *m, uint64_t ticks)
{
    if (ticks == VCLOCK_NEVER)
        vtimer_del(&m->clock, &m->pause_timer);
    else
        vtimer_mod(&m->clock, &m->pause_timer, ticks);
}

void machine_console_link(Machine *m, uint8_t out[32])
{
    unsigned int len = 0;
    EVP_DigestFinal_ex(m->console_md, m->console_chain, &len);
    memcpy(out, m->console_chain, 32);
    EVP_DigestInit_ex(m->console_md, EVP_sha256(), NULL);
    EVP_DigestUpdate(m->console_md, m->console_chain, 32);
}

size_t machine_console_tail(const Machine *m, uint8_t *out)
{
    size_t n = m->console_bytes < MACHINE_TAIL_SIZE ? (size_t)m->console_bytes : MACHINE_TAIL_SIZE;
    for (size_t i = 0; i < n; i++)
        out[i] = m->console_tail[(m->console_bytes - n + i) % MACHINE_TAIL_SIZE];
    return n;
}

static void machine_reset_request(void *opaque)
{
    Machine *m = opaque;
    m->reset_requested = true;
    cpu_request_stop(m->cpu);
}

static uint64_t machine_activity(const Machine *m)
{
    return m->console_bytes + (m->ahci ? m->ahci->n_transfers : 0) + (m->ide ? m->ide->n_transfers : 0) +
           (m->bios ? m->bios->n_transfers : 0);
}

/* At a timer deadline: activity since the last look moves the watch on. */
static void machine_stall_look(Machine *m)
{
    uint64_t act = machine_activity(m);
    if (act != m->stall_act) {
        m->stall_act = act;
        vtimer_mod(&m->clock, &m->stall_timer, m->clock.now + m->stall_ticks);
    }
}

/* No deadline since the watch was last moved saw activity. Only a guest
 * without timers for that long makes this an extra stop that goes on. */
static void machine_stall_expired(void *opaque)
{
    Machine *m = opaque;
    if (machine_activity(m) != m->stall_act) {
        machine_stall_look(m);
        return;
    }
    m->stalled = true;
    machine_pause(m);
}

void machine_watch_stall(Machine *m, uint64_t ticks)
{
    m->stall_ticks = ticks;
    m->stall_act = machine_activity(m);
    m->stalled = false;
    if (ticks)
        vtimer_mod(&m->clock, &m->stall_timer, m->clock.now + ticks);
    else
        vtimer_del(&m->clock, &m->stall_timer);
}

static void machine_limit_expired(void *opaque)
{
    Machine *m = opaque;
    m->limit_reached = true;
    cpu_request_stop(m->cpu);
}

/* The host failed a disk I/O: stop where the guest is (it was told nothing). */
static void machine_host_failed(void *opaque)
{
    Machine *m = opaque;
    m->host_failed = true;
    cpu_request_stop(m->cpu);
}

const char *machine_host_error(const Machine *m)
{
    if (m->bios && m->bios->host_error[0])
        return m->bios->host_error;
    if (m->ide && m->ide->host_error[0])
        return m->ide->host_error;
    return m->ahci ? m->ahci->host_error : "";
}

static void machine_bios_host_failed(void *opaque, const char *why)
{
    (void)why;      /* kept in m->bios->host_error */
    machine_host_failed(opaque);
}

int machine_boot_disk(const MachineConfig *cfg)
{
    return cfg->n_ide > 0 ? cfg->n_disks - cfg->n_ide : 0;
}

int machine_bios_boot(Machine *m, char *err, size_t errlen)
{
    return bios_power_on(m->bios, err, errlen);
}

/* Device DMA wrote guest RAM: translated code there is stale. */
static void machine_dma_written(void *opaque, uint64_t pa, uint64_t len)
{
    Machine *m = opaque;
    cpu_invalidate_code(m->cpu, pa, len);
}

static int machine_pic_pending(void *opaque)
{
    return pic_intr_pending(opaque);
}

static int machine_pic_ack(void *opaque)
{
    return pic_read_irq(opaque);
}

/* Fill the CMOS bytes a PC BIOS would: memory sizes (in KiB above 1 MiB up
 * to 64 MiB; in 64 KiB units above 16 MiB below the PCI hole, and above
 * 4 GiB), as QEMU's pc.c does. */
static void machine_fill_cmos(Machine *m)
{
    const GuestRAM mem = guest_ram(m->ram, m->ram_size);
    uint64_t kb = mem.low >> 10;
    uint64_t ext = kb > 1024 ? kb - 1024 : 0;
    if (ext > 0xfc00)
        ext = 0xfc00;
    rtc_set_cmos(m->rtc, 0x15, 0x80); /* base memory 640 KiB */
    rtc_set_cmos(m->rtc, 0x16, 0x02);
    rtc_set_cmos(m->rtc, 0x17, (uint8_t)ext);
    rtc_set_cmos(m->rtc, 0x18, (uint8_t)(ext >> 8));
    rtc_set_cmos(m->rtc, 0x30, (uint8_t)ext);
    rtc_set_cmos(m->rtc, 0x31, (uint8_t)(ext >> 8));
    uint64_t above16 = mem.low > (16 << 20) ? (mem.low - (16 << 20)) >> 16 : 0;
    if (above16 > 0xffff)
        above16 = 0xffff;
    rtc_set_cmos(m->rtc, 0x34, (uint8_t)above16);
    rtc_set_cmos(m->rtc, 0x35, (uint8_t)(above16 >> 8));
    uint64_t above4g = guest_ram_high(&mem) >> 16;
    rtc_set_cmos(m->rtc, 0x5b, (uint8_t)above4g);
    rtc_set_cmos(m->rtc, 0x5c, (uint8_t)(above4g >> 8));
    rtc_set_cmos(m->rtc, 0x5d, (uint8_t)(above4g >> 16));
    rtc_set_cmos(m->rtc, 0x14, 0x02); /* equipment: FPU present */
}

Machine *machine_new(const MachineConfig *cfg, char *err, size_t errlen)
{
    Machine *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (cfg->n_ide < 0 || cfg->n_ide > MACHINE_MAX_IDE || cfg->n_disks < cfg->n_ide ||
        cfg->n_disks - cfg->n_ide > MACHINE_MAX_AHCI) {
        free(m);
        snprintf(err, errlen, "%d disks with %d of them IDE: out of range", cfg->n_disks, cfg->n_ide);
        return NULL;
    }
    m->cfg = *cfg;
    m->ram_size = cfg->ram_size;
    if (m->ram_size % (1 << 20) || m->ram_size < ((uint64_t)MACHINE_MIN_RAM_MIB << 20) ||
        m->ram_size > ((uint64_t)MACHINE_MAX_RAM_MIB << 20)) {
        snprintf(err, errlen, "guest RAM of %llu bytes: give whole MiB, %d to %d", (unsigned long long)m->ram_size,
                 MACHINE_MIN_RAM_MIB, MACHINE_MAX_RAM_MIB);
        goto fail;
    }
    m->events_known = true;
    /* Zero-filled, pages materialise on first touch; huge pages where the
     * host offers them (platform.h). */
    m->ram = host_ram_alloc(m->ram_size);
    if (!m->ram) {
        snprintf(err, errlen, "cannot allocate %llu MiB of guest RAM", (unsigned long long)(m->ram_size >> 20));
        goto fail;
    }
    vclock_init(&m->clock);
    iomap_init(&m->io);
    m->console_md = EVP_MD_CTX_new();
    if (!m->console_md) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    EVP_DigestInit_ex(m->console_md, EVP_sha256(), NULL);
    EVP_DigestUpdate(m->console_md, m->console_chain, 32);
    m->cpu = cpu_init(m->ram, m->ram_size, &m->io, &m->clock, err, errlen);
    if (!m->cpu)
        goto fail;
    irq_init(&m->cpu_intr, cpu_set_intr, m->cpu, 0);
    m->pic = pic_init(&m->io, &m->cpu_intr);
    for (int i = 0; i < 16; i++)
        irq_init(&m->irq[i], pic_set_irq, m->pic, i);
    CPUIntrController ic = { machine_pic_pending, machine_pic_ack, m->pic };
    cpu_set_intr_controller(m->cpu, &ic);
    m->pit = pit_init(&m->io, &m->clock, &m->irq[0]);
    m->uart = uart_init(&m->io, COM1_BASE, &m->irq[COM1_IRQ], machine_console_out, m);
    m->rtc = rtc_init(&m->io, &m->clock, &m->irq[RTC_IRQ], cfg->rtc_epoch);
    m->pci = pci_init(&m->io, machine_reset_request, m);
    m->sysreset = sysreset_init(&m->io, machine_reset_request, m);
    m->i8042 = i8042_init(&m->io, &m->irq[KBD_IRQ], &m->irq[AUX_IRQ], machine_reset_request, m);
    m->vga = vga_init(&m->io);
    if (!m->pic || !m->pit || !m->uart || !m->rtc || !m->pci || !m->sysreset || !m->i8042 || !m->vga) {
        snprintf(err, errlen, "internal error: a device failed to initialise");
        goto fail;
    }
    for (int i = 0; i < 16; i++)
        pci_bus_set_irq_sink(m->pci, i, &m->irq[i]);
    int n_ahci = cfg->n_disks - cfg->n_ide;
    if (n_ahci > 0) {
        m->ahci = ahci_init(m->pci, AHCI_DEVFN, AHCI_IRQ, AHCI_ABAR, m->ram, m->ram_size, machine_dma_written, m);
        if (!m->ahci) {
            snprintf(err, errlen, "internal error: the AHCI controller failed to initialise");
            goto fail;
        }
        m->ahci->host_failed = machine_host_failed;
        for (int i = 0; i < n_ahci; i++)
            ahci_attach(m->ahci, i, cfg->disks[i]);
        /* PCI interrupts are level-triggered: no BIOS here to set the ELCR. */
        iomap_port_write(&m->io, PIC_ELCR2_PORT, 1u << (AHCI_IRQ - 8), 0);
    }
    if (cfg->n_ide > 0) {
        if (!pci_register_device(m->pci, "piix3", PIIX3_DEVFN, PCI_VENDOR_ID_INTEL, PIIX3_DEVICE_ID, 0x00,
                                 PCI_CLASS_BRIDGE_ISA, 0, -1) ||
            !(m->ide = ide_init(m->pci, &m->io, IDE_DEVFN, &m->irq[IDE_PRIMARY_IRQ], &m->irq[IDE_SECONDARY_IRQ],
                                m->ram, m->ram_size, machine_dma_written, m))) {
            snprintf(err, errlen, "internal error: the IDE controller failed to initialise");
            goto fail;
        }
        m->ide->host_failed = machine_host_failed;
        for (int i = 0; i < cfg->n_ide; i++)
            if (cfg->disks[n_ahci + i])
                ide_attach(m->ide, i, cfg->disks[n_ahci + i]);
    }
    m->bios = bios_init(m->cpu, &m->io, m->ram, m->ram_size, m);
    if (!m->bios) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    m->bios->reset = machine_reset_request;
    m->bios->host_failed = machine_bios_host_failed;
    if (cfg->n_disks > 0)
        bios_set_disk(m->bios, cfg->disks[machine_boot_disk(cfg)]);
    machine_fill_cmos(m);
    vtimer_init(&m->limit_timer, &m->clock, machine_limit_expired, m);
    vtimer_init(&m->pause_timer, &m->clock, machine_pause_expired, m);
    vtimer_init(&m->stall_timer, &m->clock, machine_stall_expired, m);
    if (cfg->limit_ticks)
        vtimer_mod(&m->clock, &m->limit_timer, cfg->limit_ticks);
    return m;
fail:
    machine_free(m);
    return NULL;
}

void machine_free(Machine *m)
{
    if (!m)
        return;
    cpu_free(m->cpu);
    free(m->pic);
    free(m->pit);
    free(m->uart);
    free(m->rtc);
    pci_free(m->pci);
    free(m->ahci);
    free(m->bios);
    free(m->ide);
    for (int i = 0; i < m->cfg.n_disks; i++)
        disk_close(m->cfg.disks[i]);
    free(m->sysreset);
    free(m->i8042);
    free(m->vga);
    EVP_MD_CTX_free(m->console_md);
    host_ram_free(m->ram, m->ram_size);
    free(m);
}

/* Host keyboard input for the serial console (interactive use only: what
 * arrives and when depends on the person typing). */
static void machine_poll_input(Machine *m)
{
    uint8_t *pending = m->input;
    int npending = m->n_input;
    /* (Input queued by the console window is taken here too.) */
    if (m->cfg.console_input && npending == 0) {
        if (host_wait_input(0, 0) > 0) {
            ssize_t n = read(0, pending, sizeof m->input);
            if (n > 0)
                npending = (int)n;
            else
                m->cfg.console_input = false;
        }
    }
    if (npending) {
        int took = uart_receive(m->uart, pending, npending);
        if (took > 0 && m->input_cb)
            m->input_cb(m->input_opaque, m->clock.now, pending, took);
        memmove(pending, pending + took, (size_t)(npending - took));
        npending -= took;
    }
    m->n_input = npending;
}

void machine_feed_input(Machine *m, const uint8_t *buf, int len)
{
    uart_receive(m->uart, buf, len);
}

int machine_queue_input(Machine *m, const uint8_t *buf, int len)
{
    int room = (int)sizeof m->input - m->n_input;
    if (len > room)
        len = room;
    if (len > 0) {
        memcpy(m->input + m->n_input, buf, (size_t)len);
        m->n_input += len;
    }
    return len > 0 ? len : 0;
}

MachineEnd machine_run(Machine *m)
{
    for (;;) {
        CPUExit r = cpu_run(m->cpu);
        switch (r) {
        case CPU_EXIT_DEADLINE:
            vclock_run_timers(&m->clock);
            if (m->stall_ticks)
                machine_stall_look(m);
            if (m->host_poll)
                m->host_poll(m->hook_opaque);
            machine_poll_input(m);
            if (m->pause_requested || (m->host_stop && *m->host_stop)) {
                /* a pause timer fired here: the CPU is at a block boundary */
                m->pause_requested = false;
                cpu_clear_stop(m->cpu);
                return MACHINE_PAUSED;
            }
            break;
        case CPU_EXIT_HALTED:
            return MACHINE_HALTED;
        case CPU_EXIT_FATAL:
            return MACHINE_FATAL;
        case CPU_EXIT_STOPPED:
            if (m->host_failed)
                return MACHINE_HOST_ERROR;
            if (m->reset_requested)
                return MACHINE_RESET;
            if (m->limit_reached)
                return MACHINE_LIMIT;
            if (m->pause_requested) {
                m->pause_requested = false;
                return MACHINE_PAUSED;
            }
            break;
        }
    }
}

/* Digest of guest RAM that costs nothing for pages never written: SHA-256
 * over the RAM size, then (page number, page) for every page that is not
 * all zero, both numbers as 8 bytes little-endian. Pages the host never
 * backed (platform.h: not resident and not swapped out either) are zero
 * without being read. */
void machine_ram_digest(Machine *m, uint8_t md[32])
{
    unsigned int len = 0;
    uint8_t le[8];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(m->ram_size >> (8 * i));
    EVP_DigestUpdate(c, le, 8);
    size_t npages = m->ram_size >> 12;
    unsigned char *res = malloc(npages);
    if (res)
        host_pages_to_read(m->ram, m->ram_size, 4096, res);
    for (size_t p = 0; p < npages; p++) {
        const uint64_t *q = (const uint64_t *)(m->ram + (p << 12));
        if (res && !res[p])
            continue;
        size_t k = 0;
        while (k < 512 && !q[k])
            k++;
        if (k == 512)
            continue;
        for (int i = 0; i < 8; i++)
            le[i] = (uint8_t)((uint64_t)p >> (8 * i));
        EVP_DigestUpdate(c, le, 8);
        EVP_DigestUpdate(c, q, 4096);
    }
    free(res);
    EVP_DigestFinal_ex(c, md, &len);
    EVP_MD_CTX_free(c);
}

void machine_ram_sha256(Machine *m, char out[65])
{
    uint8_t md[32];
    machine_ram_digest(m, md);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    out[64] = 0;
}
