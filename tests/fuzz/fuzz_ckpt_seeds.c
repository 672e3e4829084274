/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Writes the seed corpora of fuzz_checkpoint and fuzz_state (run by ctest
 * after fuzz_seeds, before the targets):
 *   fuzz_ckpt_seeds DIR  ->  DIR/checkpoint/<name>, DIR/state/<name>
 * Checkpoint seeds are real checkpoints, taken by machine_checkpoint, of a
 * 64 MiB machine without disks running a small hand-assembled guest: flat
 * GDT, an IDT, 4 MiB pages, the PIC, PIT, UART and RTC programmed, text on
 * the console, then sti/hlt with the timer and RTC interrupts coming. Each
 * is checked to resume before it is kept. State seeds are saves of each
 * device of the fuzz_state board (fuzz_state.h) driven by register
 * accesses into non-trivial states (AHCI after an IDENTIFY), with a few
 * operations after them. Built like lbvm itself (lbvmcore, no sanitizers). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu/checkpoint.h"
#include "emu/cpu.h"
#include "fuzz_ports.h"
#include "fuzz_state.h"
#include "emu/machine.h"
#include "emu/vmstate.h"

static const char *outdir;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "fuzz_ckpt_seeds: %s%s%s\n", what, why ? ": " : "", why ? why : "");
    exit(1);
}

static void put(const char *sub, const char *name, const uint8_t *b, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", outdir, sub);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/%s/%s", outdir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0)
        die("cannot write", path);
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot read", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
    if (!b || len <= 0 || fread(b, 1, (size_t)len, f) != (size_t)len)
        die("cannot read", path);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void st16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void st32(uint8_t *p, uint32_t v) { st16(p, (uint16_t)v); st16(p + 2, (uint16_t)(v >> 16)); }

/* ---- checkpoints ---- */

#define G_GDT 0x1000u
#define G_IDT 0x2000u
#define G_PD 0x3000u
#define G_CODE 0x10000u
#define G_HANDLER 0x11000u
#define G_MSG 0x12100u
#define G_IDTR 0x12200u

/* Assembled with GNU as --32 (source in the comments). At G_CODE: */
static const uint8_t g_code[] = {
    0xbc, 0x00, 0x90, 0x00, 0x00,               /* mov $0x9000, %esp */
    0x0f, 0x01, 0x1d, 0x00, 0x22, 0x01, 0x00,   /* lidt G_IDTR */
    0xb8, 0x00, 0x30, 0x00, 0x00,               /* mov $G_PD, %eax */
    0x0f, 0x22, 0xd8,                           /* mov %eax, %cr3 */
    0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x10,         /* mov %cr4, %eax; or $0x10 (PSE), %eax */
    0x0f, 0x22, 0xe0,                           /* mov %eax, %cr4 */
    0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x01, 0x80, /* mov %cr0, %eax; or $0x80010000 (PG|WP), %eax */
    0x0f, 0x22, 0xc0,                           /* mov %eax, %cr0 */
    /* PIC: ICW1-4, vectors 0x20/0x28; unmask IRQ 0, 2, 4 and 8 */
    0xb0, 0x11, 0xe6, 0x20, 0xe6, 0xa0, 0xb0, 0x20, 0xe6, 0x21, 0xb0, 0x28, 0xe6, 0xa1, 0xb0, 0x04,
    0xe6, 0x21, 0xb0, 0x02, 0xe6, 0xa1, 0xb0, 0x01, 0xe6, 0x21, 0xe6, 0xa1, 0xb0, 0xea, 0xe6, 0x21,
    0xb0, 0xfe, 0xe6, 0xa1,
    /* PIT channel 0: mode 2, 100 Hz */
    0xb0, 0x34, 0xe6, 0x43, 0xb0, 0x9c, 0xe6, 0x40, 0xb0, 0x2e, 0xe6, 0x40,
    /* UART: 115200 8N1, FIFOs, MCR 0x0b, IER RX */
    0x66, 0xba, 0xfb, 0x03, 0xb0, 0x83, 0xee, 0x66, 0xba, 0xf8, 0x03, 0xb0, 0x01, 0xee, 0x66, 0xba,
    0xf9, 0x03, 0x30, 0xc0, 0xee, 0x66, 0xba, 0xfb, 0x03, 0xb0, 0x03, 0xee, 0x66, 0xba, 0xfa, 0x03,
    0xb0, 0xc7, 0xee, 0x66, 0xba, 0xfc, 0x03, 0xb0, 0x0b, 0xee, 0x66, 0xba, 0xf9, 0x03, 0xb0, 0x01,
    0xee,
    /* mov $G_MSG, %esi; 1: lodsb; test %al, %al; jz 2f; mov $0x3f8, %dx; out %al, %dx; jmp 1b */
    0xbe, 0x00, 0x21, 0x01, 0x00, 0xac, 0x84, 0xc0, 0x74, 0x07, 0x66, 0xba, 0xf8, 0x03, 0xee, 0xeb,
    0xf4,
    /* 2: RTC register A 0x2f (2 Hz), B 0x42 (PIE, 24 h) */
    0xb0, 0x0a, 0xe6, 0x70, 0xb0, 0x2f, 0xe6, 0x71, 0xb0, 0x0b, 0xe6, 0x70, 0xb0, 0x42, 0xe6, 0x71,
    0xdb, 0xe3, 0xd9, 0xe8, 0xd9, 0xeb,         /* fninit; fld1; fldpi */
    0xbb, 0x78, 0x56, 0x34, 0x12,               /* mov $0x12345678, %ebx */
    0xbf, 0xf0, 0xde, 0xbc, 0x9a,               /* mov $0x9abcdef0, %edi */
    0xfb,                                       /* sti */
    0xf4,                                       /* 3: hlt */
    0xff, 0x05, 0x04, 0x20, 0x01, 0x00,         /* incl 0x12004 */
    0xeb, 0xf7,                                 /* jmp 3b */
};
/* At G_HANDLER, every vector: count, acknowledge the RTC, EOI both PICs. */
static const uint8_t g_handler[] = {
    0x50,                                       /* push %eax */
    0xff, 0x05, 0x00, 0x20, 0x01, 0x00,         /* incl 0x12000 */
    0xb0, 0x0c, 0xe6, 0x70, 0xe4, 0x71,         /* RTC register C */
    0xb0, 0x20, 0xe6, 0xa0, 0xe6, 0x20,         /* EOI */
    0x58,                                       /* pop %eax */
    0xcf,                                       /* iret */
};

static void guest_image(uint8_t *ram)
{
    static const uint32_t gdt[8] = { 0, 0, 0, 0, 0x0000ffff, 0x00cf9a00, 0x0000ffff, 0x00cf9200 };
    for (int i = 0; i < 8; i++)
        st32(ram + G_GDT + 4 * i, gdt[i]);
    for (uint32_t v = 0; v < 256; v++) {    /* 32-bit interrupt gates, DPL 0 */
        uint8_t *e = ram + G_IDT + 8 * v;
        st16(e, (uint16_t)G_HANDLER);
        st16(e + 2, 0x10);
        e[4] = 0;
        e[5] = 0x8e;
        st16(e + 6, (uint16_t)(G_HANDLER >> 16));
    }
    st16(ram + G_IDTR, 256 * 8 - 1);
    st32(ram + G_IDTR + 2, G_IDT);
    for (uint32_t i = 0; i < 16; i++)       /* 64 MiB identity-mapped, 4 MiB pages */
        st32(ram + G_PD + 4 * i, i << 22 | 0x83);
    memcpy(ram + G_CODE, g_code, sizeof g_code);
    memcpy(ram + G_HANDLER, g_handler, sizeof g_handler);
    strcpy((char *)ram + G_MSG, "lbvm fuzz seed: hello from the guest\r\n");
    for (uint32_t i = 0; i < 3 * 4096; i++)  /* some data pages: text, then a pattern */
        ram[0x200000 + i] = i < 4096 ? (uint8_t)"lbvm checkpoint seed "[i % 21] : (uint8_t)(i * 2654435761u >> 24);
}

static void take_checkpoint(Machine *m, CkptSession *cs, const char *name, FILE *con)
{
    char path[4200], err[1024];
    if (machine_checkpoint(m, cs, path, sizeof path, err, sizeof err) < 0)
        die("machine_checkpoint", err);
    /* Only a checkpoint that resumes is a useful seed. */
    CkptSession rs;
    char rdir[] = "/tmp/lbvm-fuzz-seed-resume-XXXXXX";
    if (!mkdtemp(rdir) || ckpt_session_open(&rs, rdir, err, sizeof err) < 0)
        die("cannot make a folder in /tmp", NULL);
    MachineConfig cfg = { .console = con };
    Machine *r = machine_resume(path, &rs, &cfg, err, sizeof err);
    if (!r)
        die("the seed checkpoint does not resume", err);
    if (r->clock.now != m->clock.now)
        die("the resumed seed checkpoint has another time", NULL);
    machine_free(r);
    ckpt_session_close(&rs);
    char p[4200];
    snprintf(p, sizeof p, "%s/lock", rdir);
    unlink(p);
    rmdir(rdir);
    size_t n;
    uint8_t *b = slurp(path, &n);
    put("checkpoint", name, b, n);
    free(b);
    unlink(path);
}

static void run_until(Machine *m, uint64_t ticks)
{
    machine_pause_at(m, ticks);
    MachineEnd e = machine_run(m);
    machine_pause_at(m, VCLOCK_NEVER);
    if (e != MACHINE_PAUSED) {
        fprintf(stderr, "fuzz_ckpt_seeds: the seed guest stopped (%d): %s\n", (int)e, cpu_error(m->cpu));
        cpu_dump(m->cpu, stderr);
        exit(1);
    }
}

static void checkpoint_seeds(void)
{
    char dir[] = "/tmp/lbvm-fuzz-seed-ckpt-XXXXXX", err[1024];
    CkptSession cs;
    if (!mkdtemp(dir) || ckpt_session_open(&cs, dir, err, sizeof err) < 0)
        die("cannot make a checkpoint folder in /tmp", NULL);
    FILE *con = fopen("/dev/null", "w");
    if (!con)
        die("/dev/null", strerror(errno));
    MachineConfig cfg = { .ram_size = (uint64_t)MACHINE_MIN_RAM_MIB << 20, .console = con };
    Machine *m = machine_new(&cfg, err, sizeof err);
    if (!m)
        die("machine_new", err);
    if (!cpu_can_checkpoint(m->cpu)) {
        fprintf(stderr, "fuzz_ckpt_seeds: note: this Unicorn build cannot checkpoint: no checkpoint seeds\n");
        machine_free(m);
        ckpt_session_close(&cs);
        fclose(con);
        char p[4200];
        snprintf(p, sizeof p, "%s/lock", dir);
        unlink(p);
        rmdir(dir);
        return;
    }
    guest_image(m->ram);
    if (cpu_setup_linux_entry(m->cpu, G_GDT, 4 * 8 - 1, G_CODE, 0, err, sizeof err) < 0)
        die("cpu_setup_linux_entry", err);
    take_checkpoint(m, &cs, "entry", con);
    run_until(m, 30 * 1000 * 1000ull);          /* 30 ms: PIT ticks, halted in hlt */
    take_checkpoint(m, &cs, "running", con);
    machine_feed_input(m, (const uint8_t *)"typed", 5);
    run_until(m, 1200 * 1000 * 1000ull);        /* 1.2 s: RTC interrupts too, input waiting */
    take_checkpoint(m, &cs, "later", con);
    machine_free(m);
    ckpt_session_close(&cs);
    char p[4200];
    snprintf(p, sizeof p, "%s/lock", dir);
    unlink(p);
    if (rmdir(dir) != 0)
        fprintf(stderr, "fuzz_ckpt_seeds: note: %s left behind: %s\n", dir, strerror(errno));
    fclose(con);
}

/* ---- device states ---- */

static uint8_t seq[8192];
static size_t nseq;

static void b1(uint8_t v)
{
    if (nseq == sizeof seq)
        die("state seed too long", NULL);
    seq[nseq++] = v;
}
static void b4(uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b1((uint8_t)(v >> (8 * i)));
}
static void port_spec(uint16_t port)
{
    for (int i = 0; i < FZ_NPORTS; i++)
        if (fz_ports[i] == port) {
            b1((uint8_t)i);
            return;
        }
    b1(0xff);
    b1((uint8_t)port);
    b1((uint8_t)(port >> 8));
}
static void op_in(uint16_t port) { b1(FZ_OP(FZ_READ, 0)); port_spec(port); }
static void op_out(uint16_t port, uint32_t v, int size) { b1(FZ_OP(FZ_WRITE, size)); port_spec(port); b4(v); }
static void op_advance(uint16_t n, int shift) { b1(FZ_OP(FZ_ADVANCE, shift)); b1((uint8_t)n); b1((uint8_t)(n >> 8)); }
static void op_mmio(int write, uint32_t off, uint32_t v)
{
    b1(FZ_OP(write ? FZ_MMIO_WRITE : FZ_MMIO_READ, 2));
    b1((uint8_t)off);
    b1((uint8_t)(off >> 8));
    b1((uint8_t)(off >> 16));
    if (write)
        b4(v);
}

/* A record: the state of device dev of board b. */
static void rec(FzBoard *b, int dev)
{
    size_t n;
    uint8_t *p = fs_save(b, dev, &n);
    if (!p || n > 0xffff)
        die("cannot save a device of the seed board", fs_devs[dev].name);
    b1((uint8_t)dev);
    b1((uint8_t)n);
    b1((uint8_t)(n >> 8));
    for (size_t i = 0; i < n; i++)
        b1(p[i]);
    free(p);
}

static int dev_index(const char *name)
{
    for (int i = 0; i < FS_NDEVS; i++)
        if (!strcmp(fs_devs[i].name, name))
            return i;
    die("no device", name);
    return -1;
}

static void out8(FzBoard *b, uint16_t port, uint8_t v) { iomap_port_write(&b->io, port, v, 0); }
static void conf_write(FzBoard *b, int devfn, uint8_t reg, uint32_t v)
{
    iomap_port_write(&b->io, PCI_CONFIG_ADDRESS, PCI_CONFIG_ENABLE | (uint32_t)devfn << 8 | reg, 2);
    iomap_port_write(&b->io, PCI_CONFIG_DATA, v, 2);
}
static void abar_write(FzBoard *b, uint32_t off, uint32_t v)
{
    for (int i = 0; i < b->io.n_mmio; i++)
        if (b->io.mmio[i].base == PCI_MEM_WINDOW_BASE)
            iorange_write(&b->io.mmio[i], FZ_AHCI_ABAR - PCI_MEM_WINDOW_BASE + off, v, 2);
}

/* Drives every chip of the board into a state worth saving. */
static void drive(FzBoard *b)
{
    static const uint8_t pic_init_seq[][2] = {
        { 0x21, 0xff }, { 0xa1, 0xff }, { 0x20, 0x11 }, { 0x21, 0x30 }, { 0x21, 0x04 }, { 0x21, 0x01 },
        { 0xa0, 0x11 }, { 0xa1, 0x38 }, { 0xa1, 0x02 }, { 0xa1, 0x01 }, { 0x21, 0x00 }, { 0xa1, 0x00 },
    };
    for (size_t i = 0; i < sizeof pic_init_seq / sizeof pic_init_seq[0]; i++)
        out8(b, pic_init_seq[i][0], pic_init_seq[i][1]);
    out8(b, 0x43, 0x34);                /* PIT: channel 0 at 100 Hz, channel 2 square wave */
    out8(b, 0x40, 0x9c);
    out8(b, 0x40, 0x2e);
    out8(b, 0x61, 0x01);
    out8(b, 0x43, 0xb6);
    out8(b, 0x42, 0x34);
    out8(b, 0x42, 0x12);
    static const uint8_t uart_seq[][2] = {
        { 0xfb, 0x83 }, { 0xf8, 0x01 }, { 0xf9, 0x00 }, { 0xfb, 0x03 }, { 0xfa, 0xc7 }, { 0xfc, 0x0b },
        { 0xf9, 0x0f }, { 0xff, 0x5a },
    };
    for (size_t i = 0; i < sizeof uart_seq / sizeof uart_seq[0]; i++)
        out8(b, 0x300 | uart_seq[i][0], uart_seq[i][1]);
    for (int i = 0; i < 5; i++)
        out8(b, 0x3f8, (uint8_t)('a' + i));
    uart_receive(b->uart, (const uint8_t *)"input", 5);
    out8(b, 0x70, 0x0a);                /* RTC: periodic 64 Hz, alarm and update interrupts */
    out8(b, 0x71, 0x2a);
    out8(b, 0x70, 0x0b);
    out8(b, 0x71, 0x72);
    out8(b, 0x70, 0x3a);
    out8(b, 0x71, 0x99);
    out8(b, 0x92, 0x02);                /* A20 */
    /* AHCI: memory and bus master on, ABAR, AHCI mode with interrupts, port 0
     * started with an IDENTIFY DEVICE in slot 0 (list at 16 KiB, received
     * FISes at 8 KiB, table at 20 KiB, data at 64 KiB). */
    conf_write(b, FZ_AHCI_DEVFN, 0x24, FZ_AHCI_ABAR);
    conf_write(b, FZ_AHCI_DEVFN, 0x04, 0x0406);
    abar_write(b, 0x04, 0x80000002);
    uint8_t *ram = b->ram;
    st32(ram + 0x4000, 5 | 1u << 16);
    st32(ram + 0x4008, 0x5000);
    ram[0x5000] = 0x27;
    ram[0x5001] = 0x80;
    ram[0x5002] = 0xec;
    st32(ram + 0x5080, 0x10000);
    st32(ram + 0x508c, 511);
    abar_write(b, 0x100 + 0x14, 0xffffffff);   /* P0IE */
    abar_write(b, 0x100 + 0x00, 0x4000);       /* P0CLB */
    abar_write(b, 0x100 + 0x08, 0x2000);       /* P0FB */
    abar_write(b, 0x100 + 0x18, 0x10);         /* FRE */
    abar_write(b, 0x100 + 0x18, 0x11);         /* FRE | ST */
    abar_write(b, 0x100 + 0x38, 1);            /* CI */
    fz_board_advance(b, 12 * 1000 * 1000);
}

static void state_seeds(void)
{
    static char dir[] = "/tmp/lbvm-fuzz-seed-state-XXXXXX";
    Disk *d0, *d2;
    fz_scratch_disks(dir, &d0, &d2);
    uint8_t *ram = calloc(1, FZ_RAM_SIZE);
    FzBoard fresh, b;
    if (!ram || fz_board_init(&fresh, 0, ram, d0, d2) < 0 || fz_board_init(&b, 0, ram, d0, d2) < 0)
        die("the seed board failed to initialise", NULL);
    drive(&b);
    if (b.ahci->port[0].ci || !(b.ahci->port[0].is & 1))
        fprintf(stderr, "fuzz_ckpt_seeds: note: the seed IDENTIFY did not complete\n");

    char name[64];
    for (int d = 0; d < FS_NDEVS; d++) {
        nseq = 0;                       /* a driven device's state, then a little use */
        b1(1);
        rec(&b, d);
        op_advance(0x4000, 8);
        b1(FZ_OP(FZ_INTA, 0));
        snprintf(name, sizeof name, "%s-driven", fs_devs[d].name);
        put("state", name, seq, nseq);
        nseq = 0;                       /* and a power-on one */
        b1(1);
        rec(&fresh, d);
        snprintf(name, sizeof name, "%s-reset", fs_devs[d].name);
        put("state", name, seq, nseq);
    }
    /* Several at once, then the accesses a driver makes. */
    nseq = 0;
    b1(3);
    rec(&b, dev_index("pic"));
    rec(&b, dev_index("pit"));
    rec(&b, dev_index("rtc"));
    for (int i = 0; i < 4; i++) {
        op_advance(0x9896, 8);
        b1(FZ_OP(FZ_INTA, 0));
        op_out(0x70, 0x0c, 0);
        op_in(0x71);
        op_out(0xa0, 0x20, 0);
        op_out(0x20, 0x20, 0);
    }
    op_out(0x43, 0xe2, 0);
    op_in(0x40);
    put("state", "pic-pit-rtc", seq, nseq);

    nseq = 0;
    b1(2);
    rec(&b, dev_index("pci"));
    rec(&b, dev_index("ahci"));
    uint32_t w = FZ_AHCI_ABAR - PCI_MEM_WINDOW_BASE;
    op_mmio(0, w + 0x08, 0);                    /* IS */
    op_mmio(0, w + 0x100 + 0x10, 0);            /* P0IS */
    op_mmio(1, w + 0x100 + 0x10, 0xffffffff);
    op_mmio(1, w + 0x08, 1);
    op_mmio(1, w + 0x100 + 0x38, 1);            /* the IDENTIFY again */
    op_mmio(0, w + 0x100 + 0x20, 0);            /* TFD */
    op_out(0xcf9, 0x06, 0);                     /* then a hard reset */
    put("state", "pci-ahci", seq, nseq);

    nseq = 0;
    b1(2);
    rec(&b, dev_index("uart"));
    rec(&b, dev_index("sysreset"));
    op_in(0x3fa);
    op_in(0x3f8);
    op_in(0x3fd);
    b1(FZ_OP(FZ_RX, 3));
    b1('x');
    b1('y');
    b1('z');
    op_out(0x3f8, 'q', 0);
    op_in(0x92);
    put("state", "uart-sysreset", seq, nseq);

    fz_board_free(&fresh);
    fz_board_free(&b);
    free(ram);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_ckpt_seeds DIR\n");
        return 2;
    }
    outdir = argv[1];
    mkdir(outdir, 0777);
    checkpoint_seeds();
    state_seeds();
    return 0;
}
