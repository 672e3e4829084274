/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lbvm's BIOS (see bios.h). References: Ralf Brown's Interrupt List (RBIL)
 * for the calling conventions, Phoenix "Enhanced Disk Drive Specification"
 * 3.0 for int 13h 41h-48h, ACPI 6.x 15.1 for E820, and SeaBIOS for what
 * QEMU's default PC leaves in the BDA, PIC and PIT at boot. */
#include "emu/bios.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/guestram.h"
#include "devices/disk.h"

#define FLAG_CF 0x0001u
#define FLAG_ZF 0x0040u

/* BDA offsets (RBIL memory map, segment 0x40) */
#define BDA 0x400u
#define BDA_COM1 0x00
#define BDA_EBDA_SEG 0x0e
#define BDA_EQUIPMENT 0x10
#define BDA_MEM_KB 0x13
#define BDA_VIDEO_MODE 0x49
#define BDA_VIDEO_COLS 0x4a
#define BDA_CURSOR 0x50
#define BDA_CRTC 0x63
#define BDA_TICKS 0x6c
#define BDA_MIDNIGHT 0x70
#define BDA_DISK_STATUS 0x74
#define BDA_NUM_DISKS 0x75
#define BDA_VIDEO_ROWS 0x84

#define TICKS_PER_DAY 0x1800b0u   /* 18.2 Hz for 24 hours (RBIL int 1Ah) */
#define BASE_MEM_KB 639

/* int 13h status codes (RBIL table 00234) */
#define DISK_OK 0x00
#define DISK_EPARAM 0x01
#define DISK_EWP 0x03
#define DISK_EFAIL 0xaa     /* drive not ready */
#define DISK_UNSUPPORTED 0x01

/* ---- guest memory (real-mode linear addresses; every access checked) ---- */

static int lin_ok(BiosState *b, uint64_t a, uint64_t len)
{
    return a < b->ram_size && len <= b->ram_size - a;
}

static uint16_t ld16(BiosState *b, uint64_t a)
{
    uint16_t v = 0;
    if (lin_ok(b, a, 2))
        memcpy(&v, b->ram + a, 2);
    return v;
}

static uint32_t ld32(BiosState *b, uint64_t a)
{
    uint32_t v = 0;
    if (lin_ok(b, a, 4))
        memcpy(&v, b->ram + a, 4);
    return v;
}

static void st8(BiosState *b, uint64_t a, uint8_t v)
{
    if (lin_ok(b, a, 1))
        b->ram[a] = v;
}

static void st16(BiosState *b, uint64_t a, uint16_t v)
{
    if (lin_ok(b, a, 2))
        memcpy(b->ram + a, &v, 2);
}

static void st32(BiosState *b, uint64_t a, uint32_t v)
{
    if (lin_ok(b, a, 4))
        memcpy(b->ram + a, &v, 4);
}

static uint32_t seg_lin(BiosState *b, CPUReg seg, uint32_t off)
{
    return ((cpu_reg(b->cpu, seg) & 0xffff) << 4) + (off & 0xffff);
}

/* ---- registers and the caller's FLAGS image ---- */

static uint32_t R(BiosState *b, CPUReg r) { return cpu_reg(b->cpu, r); }
static uint8_t AH(BiosState *b) { return (uint8_t)(R(b, CPU_EAX) >> 8); }
static uint8_t AL(BiosState *b) { return (uint8_t)R(b, CPU_EAX); }

static void set16(BiosState *b, CPUReg r, uint16_t v)
{
    cpu_set_reg(b->cpu, r, (R(b, r) & 0xffff0000u) | v);
}

static void set_ah(BiosState *b, uint8_t v)
{
    cpu_set_reg(b->cpu, CPU_EAX, (R(b, CPU_EAX) & 0xffff00ffu) | (uint32_t)v << 8);
}

static void set_al(BiosState *b, uint8_t v)
{
    cpu_set_reg(b->cpu, CPU_EAX, (R(b, CPU_EAX) & 0xffffff00u) | v);
}

/* The FLAGS word the caller's int pushed: SS:SP+4 (IP, CS, FLAGS). The
 * stub's iret loads it, so results go there. */
static uint64_t frame_flags(BiosState *b)
{
    return ((R(b, CPU_SS) & 0xffff) << 4) + ((R(b, CPU_ESP) + 4) & 0xffff);
}

static void set_flag(BiosState *b, uint16_t flag, int on)
{
    uint64_t a = frame_flags(b);
    uint16_t f = ld16(b, a);
    st16(b, a, on ? (uint16_t)(f | flag) : (uint16_t)(f & ~flag));
}

static void ret_cf(BiosState *b, int cf)
{
    set_flag(b, FLAG_CF, cf);
}

/* ---- devices, as the BIOS programs them ---- */

static void outb(BiosState *b, uint16_t port, uint8_t v)
{
    iomap_port_write(b->io, port, v, 0);
}

static uint8_t inb(BiosState *b, uint16_t port)
{
    return (uint8_t)iomap_port_read(b->io, port, 0);
}

/* SeaBIOS pic_reset: vectors 08h and 70h, all masked but the cascade. */
static void bios_pic_setup(BiosState *b)
{
    outb(b, 0x20, 0x11);
    outb(b, 0xa0, 0x11);
    outb(b, 0x21, 0x08);
    outb(b, 0xa1, 0x70);
    outb(b, 0x21, 0x04);
    outb(b, 0xa1, 0x02);
    outb(b, 0x21, 0x01);
    outb(b, 0xa1, 0x01);
    outb(b, 0x21, 0xfa);   /* IRQ0 (timer) and IRQ2 (cascade) unmasked */
    outb(b, 0xa1, 0xff);
}

/* PIT channel 0: mode 2, count 65536 (18.2 Hz), as SeaBIOS timer_setup. */
static void bios_pit_setup(BiosState *b)
{
    outb(b, 0x43, 0x34);
    outb(b, 0x40, 0x00);
    outb(b, 0x40, 0x00);
}

/* COM1 8N1, divisor 1 (115200), interrupts off. */
static void bios_uart_setup(BiosState *b)
{
    outb(b, BIOS_COM1 + 3, 0x83);
    outb(b, BIOS_COM1 + 0, 0x01);
    outb(b, BIOS_COM1 + 1, 0x00);
    outb(b, BIOS_COM1 + 3, 0x03);
    outb(b, BIOS_COM1 + 1, 0x00);
    outb(b, BIOS_COM1 + 4, 0x03);
}

static void tty_out(BiosState *b, uint8_t c)
{
    outb(b, BIOS_COM1, c);
}

/* ---- the memory map ---- */

int bios_e820_map(uint64_t ram_size, BiosE820 *out, int max)
{
    /* Low RAM below the EBDA, the EBDA, the BIOS area, RAM from 1 MiB to
     * the end of low RAM (base/guestram.h), the flash window (as SeaBIOS),
     * and RAM from 4 GiB when there is more. */
    const GuestRAM r = guest_ram(NULL, ram_size);
    BiosE820 m[] = {
        { 0, BIOS_EBDA_ADDR, 1 },
        { BIOS_EBDA_ADDR, 0xa0000 - BIOS_EBDA_ADDR, 2 },
        { 0xf0000, 0x10000, 2 },
        { 0x100000, r.low - 0x100000, 1 },
        { 0xfffc0000ull, 0x40000, 2 },
        { GUEST_RAM_HIGH_BASE, guest_ram_high(&r), 1 },
    };
    int n = 0;
    for (size_t i = 0; i < sizeof m / sizeof m[0] && n < max; i++)
        if (m[i].len)
            out[n++] = m[i];
    return n;
}

/* ---- int 10h: video, teletype only (to COM1, as SeaBIOS's sercon) ---- */

static int bios_int10(BiosState *b)
{
    uint64_t cur = BDA + BDA_CURSOR;
    switch (AH(b)) {
    case 0x0e:                 /* teletype output: AL */
        tty_out(b, AL(b));
        break;
    case 0x13: {               /* write string ES:BP, CX chars; AL bit 1: char/attr pairs */
        uint32_t p = seg_lin(b, CPU_ES, R(b, CPU_EBP));
        uint16_t n = (uint16_t)R(b, CPU_ECX);
        int step = (AL(b) & 2) ? 2 : 1;
        for (uint32_t i = 0; i < n; i++)
            if (lin_ok(b, p + i * step, 1))
                tty_out(b, b->ram[p + i * step]);
        break;
    }
    case 0x02:                 /* set cursor position DH:DL (page 0 only) */
        st16(b, cur, (uint16_t)R(b, CPU_EDX));
        break;
    case 0x03:                 /* cursor position and shape */
        set16(b, CPU_EDX, ld16(b, cur));
        set16(b, CPU_ECX, 0x0607);
        break;
    case 0x0f:                 /* video mode: 3, 80 columns, page 0 */
        set16(b, CPU_EAX, 0x5003);
        cpu_set_reg(b->cpu, CPU_EBX, R(b, CPU_EBX) & 0xffff00ffu);
        break;
    default:                   /* mode set, scrolling, palette...: nothing on a serial console */
        break;
    }
    return 0;
}

/* ---- int 13h: the boot disk ---- */

static void disk_geometry(BiosState *b)
{
    uint64_t n = disk_sectors(b->disk);
    b->spt = 63;
    b->heads = n <= 1024ull * 16 * 63 ? 16 : 255;
    uint64_t c = n / ((uint64_t)b->heads * b->spt);
    b->cyls = (uint16_t)(c > 1024 ? 1024 : c ? c : 1);
}

static void disk_ret(BiosState *b, uint8_t status)
{
    set_ah(b, status);
    st8(b, BDA + BDA_DISK_STATUS, status);
    ret_cf(b, status != DISK_OK);
}

/* Moves count sectors between the disk at lba and guest RAM at addr. The
 * guest range and the disk range are checked first; 0, a status code for
 * the guest, or -1 when the host failed (the run ends). */
static int disk_xfer(BiosState *b, int write, uint64_t lba, uint32_t count, uint64_t addr)
{
    uint64_t len = (uint64_t)count * DISK_SECTOR_SIZE;
    if (count == 0)
        return DISK_OK;
    if (!lin_ok(b, addr, len))
        return DISK_EPARAM;
    if (lba >= disk_sectors(b->disk) || count > disk_sectors(b->disk) - lba)
        return DISK_EPARAM;      /* SeaBIOS answers 01h too */
    if (write && disk_read_only(b->disk))
        return DISK_EWP;
    int r = write ? disk_write(b->disk, lba, count, b->ram + addr) : disk_read(b->disk, lba, count, b->ram + addr);
    if (r < 0) {
        snprintf(b->host_error, sizeof b->host_error, "BIOS int 13h: the host failed to %s %u sectors at LBA %llu",
                 write ? "write" : "read", count, (unsigned long long)lba);
        return -1;
    }
    if (!write)
        cpu_invalidate_code(b->cpu, addr, len);
    b->n_transfers++;
    return DISK_OK;
}

static int disk_done(BiosState *b, int st)
{
    if (st < 0) {
        /* The run stops before the guest runs on (the machine reports it). */
        if (b->host_failed) {
            b->host_failed(b->opaque, b->host_error);
            return 0;
        }
        cpu_set_error(b->cpu, b->host_error);
        return -1;
    }
    disk_ret(b, (uint8_t)st);
    return 0;
}

/* AH=02h/03h: AL sectors at CH/CL/DH (cylinder bits 9:8 in CL 7:6) to ES:BX. */
static int disk_chs(BiosState *b, int write)
{
    uint32_t cx = R(b, CPU_ECX), dx = R(b, CPU_EDX);
    uint32_t cyl = ((cx >> 8) & 0xff) | ((cx & 0xc0) << 2), sec = cx & 0x3f, head = (dx >> 8) & 0xff;
    uint32_t count = AL(b);
    if (sec == 0 || sec > b->spt || head >= b->heads || cyl >= b->cyls || count == 0 || count > 128) {
        set_al(b, 0);
        disk_ret(b, DISK_EPARAM);
        return 0;
    }
    uint64_t lba = ((uint64_t)cyl * b->heads + head) * b->spt + sec - 1;
    int st = disk_xfer(b, write, lba, count, seg_lin(b, CPU_ES, R(b, CPU_EBX)));
    set_al(b, st == DISK_OK ? (uint8_t)count : 0);
    return disk_done(b, st);
}

/* AH=42h/43h: EDD disk address packet at DS:SI: size (16, or 24 with a
 * 64-bit flat buffer when the segment:offset is FFFF:FFFF), count (max
 * 127), buffer, 64-bit LBA. On failure the count field says 0 done. */
static int disk_ext(BiosState *b, int write)
{
    uint32_t dap = seg_lin(b, CPU_DS, R(b, CPU_ESI));
    if (!lin_ok(b, dap, 16)) {
        disk_ret(b, DISK_EPARAM);
        return 0;
    }
    uint8_t size = b->ram[dap];
    uint32_t count = ld16(b, dap + 2);
    uint16_t off = ld16(b, dap + 4), seg = ld16(b, dap + 6);
    uint64_t lba = ld32(b, dap + 8) | (uint64_t)ld32(b, dap + 12) << 32;
    uint64_t addr = ((uint32_t)seg << 4) + off;
    if (size < 16 || count > 127) {
        st16(b, dap + 2, 0);
        disk_ret(b, DISK_EPARAM);
        return 0;
    }
    if (seg == 0xffff && off == 0xffff) {
        if (size < 24 || !lin_ok(b, dap, 24)) {
            st16(b, dap + 2, 0);
            disk_ret(b, DISK_EPARAM);
            return 0;
        }
        addr = ld32(b, dap + 16) | (uint64_t)ld32(b, dap + 20) << 32;
    }
    int st = disk_xfer(b, write, lba, count, addr);
    if (st != DISK_OK)
        st16(b, dap + 2, 0);
    return disk_done(b, st);
}

/* AH=48h: EDD 1.x drive parameters (26 bytes) at DS:SI. */
static void disk_params_ext(BiosState *b)
{
    uint32_t p = seg_lin(b, CPU_DS, R(b, CPU_ESI));
    uint16_t size = ld16(b, p);
    if (size < 26 || !lin_ok(b, p, 26)) {
        disk_ret(b, DISK_EPARAM);
        return;
    }
    uint64_t n = disk_sectors(b->disk);
    st16(b, p, 26);
    st16(b, p + 2, 0x0002);                     /* CHS information valid */
    st32(b, p + 4, b->cyls);
    st32(b, p + 8, b->heads);
    st32(b, p + 12, b->spt);
    st32(b, p + 16, (uint32_t)n);
    st32(b, p + 20, (uint32_t)(n >> 32));
    st16(b, p + 24, DISK_SECTOR_SIZE);
    disk_ret(b, DISK_OK);
}

static int bios_int13(BiosState *b)
{
    uint8_t dl = (uint8_t)R(b, CPU_EDX), ah = AH(b);
    if (dl != BIOS_BOOT_DRIVE || !b->disk) {
        /* No floppy, one hard disk. 08h on a missing drive fails too. */
        disk_ret(b, DISK_EPARAM);
        return 0;
    }
    switch (ah) {
    case 0x00:                 /* reset */
        disk_ret(b, DISK_OK);
        return 0;
    case 0x01: {               /* status of the last operation */
        uint8_t st = b->ram[BDA + BDA_DISK_STATUS];
        set_ah(b, st);
        ret_cf(b, st != 0);
        return 0;
    }
    case 0x02: return disk_chs(b, 0);
    case 0x03: return disk_chs(b, 1);
    case 0x08: {               /* parameters: max cylinder/sector/head, drives */
        uint32_t c = b->cyls - 1u;
        set16(b, CPU_ECX, (uint16_t)(((c & 0xff) << 8) | ((c >> 2) & 0xc0) | b->spt));
        set16(b, CPU_EDX, (uint16_t)(((b->heads - 1u) << 8) | 1));
        set16(b, CPU_EBX, (uint16_t)(R(b, CPU_EBX) & 0xff00));
        disk_ret(b, DISK_OK);
        return 0;
    }
    case 0x15: {               /* type: hard disk, CX:DX sectors */
        uint64_t n = disk_sectors(b->disk);
        uint32_t n32 = n > 0xffffffffu ? 0xffffffffu : (uint32_t)n;
        set16(b, CPU_ECX, (uint16_t)(n32 >> 16));
        set16(b, CPU_EDX, (uint16_t)n32);
        set_ah(b, 0x03);
        ret_cf(b, 0);
        return 0;
    }
    case 0x41:                 /* EDD installation check */
        if ((uint16_t)R(b, CPU_EBX) != 0x55aa) {
            disk_ret(b, DISK_UNSUPPORTED);
            return 0;
        }
        set16(b, CPU_EBX, 0xaa55);
        set16(b, CPU_ECX, 0x0001);             /* fixed disk access subset: 42h-44h, 47h, 48h */
        set_ah(b, 0x30);                       /* EDD 3.0 */
        ret_cf(b, 0);
        return 0;
    case 0x42: return disk_ext(b, 0);
    case 0x43: return disk_ext(b, 1);
    case 0x44:                 /* verify: nothing to check */
    case 0x47:                 /* seek */
        disk_ret(b, DISK_OK);
        return 0;
    case 0x48:
        disk_params_ext(b);
        return 0;
    default:
        disk_ret(b, DISK_UNSUPPORTED);
        return 0;
    }
}

/* ---- int 15h: system services ---- */

static int bios_int15(BiosState *b)
{
    uint32_t eax = R(b, CPU_EAX);
    if (eax == 0xe820 && R(b, CPU_EDX) == 0x534d4150) {   /* 'SMAP' */
        uint32_t i = R(b, CPU_EBX), ecx = R(b, CPU_ECX);
        uint32_t dst = seg_lin(b, CPU_ES, R(b, CPU_EDI));
        if (i >= (uint32_t)b->n_e820 || ecx < 20 || !lin_ok(b, dst, 20)) {
            set_ah(b, 0x86);
            ret_cf(b, 1);
            return 0;
        }
        const BiosE820 *e = &b->e820[i];
        st32(b, dst, (uint32_t)e->addr);
        st32(b, dst + 4, (uint32_t)(e->addr >> 32));
        st32(b, dst + 8, (uint32_t)e->len);
        st32(b, dst + 12, (uint32_t)(e->len >> 32));
        st32(b, dst + 16, e->type);
        cpu_set_reg(b->cpu, CPU_EAX, 0x534d4150);
        cpu_set_reg(b->cpu, CPU_ECX, 20);
        cpu_set_reg(b->cpu, CPU_EBX, i + 1 < (uint32_t)b->n_e820 ? i + 1 : 0);
        ret_cf(b, 0);
        return 0;
    }
    switch ((uint16_t)eax) {
    case 0x2400:               /* A20 off: lbvm's RAM never wraps at 1 MiB */
        set_ah(b, 0x86);
        ret_cf(b, 1);
        return 0;
    case 0x2401:               /* A20 on: always */
        set_ah(b, 0);
        ret_cf(b, 0);
        return 0;
    case 0x2402:               /* A20 status: enabled */
        set16(b, CPU_EAX, 0x0001);
        ret_cf(b, 0);
        return 0;
    case 0x2403:               /* A20 support: port 92h */
        set16(b, CPU_EBX, 0x0002);
        set_ah(b, 0);
        ret_cf(b, 0);
        return 0;
    case 0xe801: {             /* KiB 1-16 MiB, 64 KiB blocks above 16 MiB */
        uint64_t top = b->e820[3].addr + b->e820[3].len;
        uint64_t lo = top > 0x1000000 ? 0x3c00 : (top - 0x100000) >> 10;
        uint64_t hi = top > 0x1000000 ? (top - 0x1000000) >> 16 : 0;
        if (hi > 0xffff)
            hi = 0xffff;
        set16(b, CPU_EAX, (uint16_t)lo);
        set16(b, CPU_ECX, (uint16_t)lo);
        set16(b, CPU_EBX, (uint16_t)hi);
        set16(b, CPU_EDX, (uint16_t)hi);
        ret_cf(b, 0);
        return 0;
    }
    default:
        break;
    }
    switch (AH(b)) {
    case 0x88: {               /* KiB above 1 MiB, at most 63 MiB (as SeaBIOS) */
        uint64_t kb = (b->ram_size - 0x100000) >> 10;
        set16(b, CPU_EAX, (uint16_t)(kb > 0xfc00 ? 0xfc00 : kb));
        ret_cf(b, 0);
        return 0;
    }
    case 0x86:                 /* wait CX:DX microseconds: virtual time, nothing to wait for */
        set_ah(b, 0);
        ret_cf(b, 0);
        return 0;
    default:                   /* C0h, 87h, 89h, 91h... */
        set_ah(b, 0x86);
        ret_cf(b, 1);
        return 0;
    }
}

/* ---- int 1Ah: time ---- */

static uint8_t cmos(BiosState *b, uint8_t reg)
{
    outb(b, 0x70, reg);
    return inb(b, 0x71);
}

static void bios_int1a(BiosState *b)
{
    switch (AH(b)) {
    case 0x00: {               /* ticks since midnight; AL = midnight passed */
        uint32_t t = ld32(b, BDA + BDA_TICKS);
        set16(b, CPU_ECX, (uint16_t)(t >> 16));
        set16(b, CPU_EDX, (uint16_t)t);
        set_al(b, b->ram[BDA + BDA_MIDNIGHT]);
        b->ram[BDA + BDA_MIDNIGHT] = 0;
        ret_cf(b, 0);
        break;
    }
    case 0x02:                 /* RTC time, BCD: CH hours, CL minutes, DH seconds */
        set16(b, CPU_ECX, (uint16_t)(cmos(b, 4) << 8 | cmos(b, 2)));
        set16(b, CPU_EDX, (uint16_t)(cmos(b, 0) << 8));
        ret_cf(b, 0);
        break;
    case 0x04:                 /* RTC date, BCD: CH century, CL year, DH month, DL day */
        set16(b, CPU_ECX, (uint16_t)(cmos(b, 0x32) << 8 | cmos(b, 9)));
        set16(b, CPU_EDX, (uint16_t)(cmos(b, 8) << 8 | cmos(b, 7)));
        ret_cf(b, 0);
        break;
    default:
        ret_cf(b, 1);
        break;
    }
}

/* ---- the trap ---- */

/* Ends the run; the message names the caller (the frame at SS:SP). */
static int bios_fail(BiosState *b, const char *fmt, int vec)
{
    char msg[200];
    uint64_t sp = ((R(b, CPU_SS) & 0xffff) << 4) + (R(b, CPU_ESP) & 0xffff);
    snprintf(msg, sizeof msg, fmt, vec, ld16(b, sp + 2), ld16(b, sp));
    cpu_set_error(b->cpu, msg);
    return -1;
}

/* Hardware interrupt: end it at the PIC (non-specific EOI). */
static void bios_irq(BiosState *b, int irq)
{
    if (irq == 0) {
        uint32_t t = ld32(b, BDA + BDA_TICKS) + 1;
        if (t >= TICKS_PER_DAY) {
            t = 0;
            b->ram[BDA + BDA_MIDNIGHT] = 1;
        }
        st32(b, BDA + BDA_TICKS, t);
    }
    if (irq >= 8)
        outb(b, 0xa0, 0x20);
    outb(b, 0x20, 0x20);
}

int bios_trap(void *opaque, uint32_t addr, int vec)
{
    BiosState *b = opaque;
    if (addr == BIOS_TRAP_RESET) {
        /* F000:FFF0, the reset vector: a reboot, as a PC without -no-reboot. */
        if (b->reset)
            b->reset(b->opaque);
        return 0;
    }
    /* The stub of vector v is at BIOS_TRAP_BASE + 4 v; the frame of the int
     * that reached it is on the stack. */
    int v = (int)((addr - BIOS_TRAP_BASE) / 4);
    (void)vec;
    switch (v) {
    case 0x00:
        return bios_fail(b, "divide error (vector %d) in real mode with no handler; called from %04x:%04x", v);
    case 0x06:
        return bios_fail(b, "invalid opcode (vector %d) in real mode with no handler; called from %04x:%04x", v);
    case 0x08: case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d: case 0x0e: case 0x0f:
        bios_irq(b, v - 0x08);
        return 0;
    case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
        bios_irq(b, v - 0x70 + 8);
        return 0;
    case 0x10:
        return bios_int10(b);
    case 0x11:
        set16(b, CPU_EAX, ld16(b, BDA + BDA_EQUIPMENT));
        return 0;
    case 0x12:
        set16(b, CPU_EAX, ld16(b, BDA + BDA_MEM_KB));
        return 0;
    case 0x13:
        return bios_int13(b);
    case 0x15:
        return bios_int15(b);
    case 0x16:
        /* No keyboard: 01h/11h report none waiting; 00h/10h would wait forever. */
        if (AH(b) == 0x01 || AH(b) == 0x11) {
            set_flag(b, FLAG_ZF, 1);
            return 0;
        }
        if (AH(b) == 0x02 || AH(b) == 0x12) {
            set_al(b, 0);
            return 0;
        }
        if (AH(b) == 0x00 || AH(b) == 0x10)
            return bios_fail(b, "int %xh: the guest waits for a key, and lbvm's BIOS has no keyboard; "
                                "called from %04x:%04x", 0x16);
        return 0;
    case 0x18:
        return bios_fail(b, "int %xh: the boot sector found nothing to boot (from %04x:%04x)", 0x18);
    case 0x19:
        if (b->reset)
            b->reset(b->opaque);
        return 0;
    case 0x1a:
        bios_int1a(b);
        return 0;
    default:                   /* every other vector: a plain iret */
        return 0;
    }
}

/* ---- power-on ---- */

BiosState *bios_init(CPUState *cpu, IoMap *io, uint8_t *ram, uint64_t ram_size, void *opaque)
{
    BiosState *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cpu = cpu;
    b->io = io;
    b->ram = ram;
    /* Real-mode buffers and DAP addresses reach low RAM only, where the
     * host buffer's offset is the physical address (base/guestram.h). */
    b->ram_size = ram_size < GUEST_RAM_LOW_MAX ? ram_size : GUEST_RAM_LOW_MAX;
    b->opaque = opaque;
    b->n_e820 = bios_e820_map(ram_size, b->e820, BIOS_E820_MAX);
    cpu_set_trap(cpu, BIOS_TRAP_BASE, BIOS_TRAP_LEN, bios_trap, b);
    return b;
}

void bios_set_disk(BiosState *b, Disk *disk)
{
    b->disk = disk;
    if (disk)
        disk_geometry(b);
}

int bios_power_on(BiosState *b, char *err, size_t errlen)
{
    if (!b->disk) {
        snprintf(err, errlen, "nothing to boot: give a kernel or a boot disk");
        return -1;
    }
    if (b->ram_size < 0x110000) {
        snprintf(err, errlen, "the BIOS needs at least 1088 KiB of RAM");
        return -1;
    }
    uint8_t mbr[DISK_SECTOR_SIZE];
    if (disk_sectors(b->disk) < 1 || disk_read(b->disk, 0, 1, mbr) < 0) {
        snprintf(err, errlen, "cannot read the boot sector");
        return -1;
    }
    if (mbr[510] != 0x55 || mbr[511] != 0xaa) {
        snprintf(err, errlen, "not a bootable disk: sector 0 does not end with the 55 AA signature");
        return -1;
    }
    /* The BIOS area: 256 stubs `int v; iret; nop`, the reset stub, and at
     * F000:FFF0 a far jump to it, then the BIOS date and the model byte
     * (FCh, AT class). */
    memset(b->ram + 0xf0000, 0, 0x10000);
    for (int v = 0; v < 256; v++) {
        uint8_t *p = b->ram + BIOS_TRAP_BASE + 4 * v;
        p[0] = 0xcd, p[1] = (uint8_t)v, p[2] = 0xcf, p[3] = 0x90;
        st32(b, 4u * v, 0xf0000000u | (BIOS_TRAP_BASE - 0xf0000 + 4u * v));
    }
    uint8_t *r = b->ram + BIOS_TRAP_RESET;
    r[0] = 0xcd, r[1] = 0x19, r[2] = 0xf4, r[3] = 0xf4;
    static const uint8_t reset_vec[16] = { 0xea, 0x00, 0x14, 0x00, 0xf0, '0', '1', '/', '0', '1', '/',
                                           '2', '6', 0, 0xfc, 0 };
    memcpy(b->ram + 0xffff0, reset_vec, sizeof reset_vec);
    /* The BDA (RBIL "BIOS data area") and the EBDA's size word. */
    memset(b->ram + BDA, 0, 0x100);
    st16(b, BDA + BDA_COM1, BIOS_COM1);
    st16(b, BDA + BDA_EBDA_SEG, BIOS_EBDA_ADDR >> 4);
    st16(b, BDA + BDA_EQUIPMENT, 0x0222);      /* FPU, 80x25 colour, one serial port */
    st16(b, BDA + BDA_MEM_KB, BASE_MEM_KB);
    b->ram[BDA + BDA_VIDEO_MODE] = 3;
    st16(b, BDA + BDA_VIDEO_COLS, 80);
    st16(b, BDA + BDA_CRTC, 0x3d4);
    b->ram[BDA + BDA_VIDEO_ROWS] = 24;
    b->ram[BDA + BDA_NUM_DISKS] = 1;
    memset(b->ram + BIOS_EBDA_ADDR, 0, 0x400);
    b->ram[BIOS_EBDA_ADDR] = 1;                /* EBDA size in KiB */
    bios_pic_setup(b);
    bios_pit_setup(b);
    bios_uart_setup(b);
    memcpy(b->ram + BIOS_MBR_ADDR, mbr, sizeof mbr);
    cpu_invalidate_code(b->cpu, 0, 0x100000);
    /* As SeaBIOS's boot_disk: 0000:7C00, DL = drive, SS:SP = 0:7C00 (our
     * choice of stack), interrupts on. */
    return cpu_setup_real_entry(b->cpu, 0, BIOS_MBR_ADDR, BIOS_MBR_ADDR, BIOS_BOOT_DRIVE, 0x202, err, errlen);
}
