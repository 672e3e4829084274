/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PC: guest RAM, the virtual clock, the I/O map, the CPU and the chips of
 * a PIIX-era PC that Linux needs. machine_run() drives the CPU to the next
 * timer deadline, fires timers, and repeats until the guest stops. */
#ifndef LBVM_MACHINE_H
#define LBVM_MACHINE_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/clock.h"
#include "emu/cpu.h"
#include "base/iomem.h"

typedef struct PICState PICState;
typedef struct PITState PITState;
typedef struct UARTState UARTState;
typedef struct RTCState RTCState;
typedef struct PCIBus PCIBus;
typedef struct SysResetState SysResetState;
typedef struct I8042State I8042State;
typedef struct VGAState VGAState;
typedef struct AHCIState AHCIState;
typedef struct IDEState IDEState;
typedef struct BiosState BiosState;
typedef struct Disk Disk;

#define MACHINE_MAX_AHCI 4    /* AHCI ports */
#define MACHINE_MAX_IDE 4     /* IDE devices: primary master, primary slave, secondary master, secondary slave */
#define MACHINE_MAX_DISKS (MACHINE_MAX_AHCI + MACHINE_MAX_IDE)

/* Guest RAM in MiB. Above 3072 the rest sits above 4 GiB (base/guestram.h),
 * where only a PAE kernel reaches it; the top is PAE's 36-bit physical
 * address space (RAM ends at 64 GiB). The strings are for help texts. */
#define MACHINE_MIN_RAM_MIB 64
#define MACHINE_MAX_RAM_MIB 64512
#define MACHINE_MIN_RAM_STR "64"
#define MACHINE_MAX_RAM_STR "64512"

typedef enum MachineEnd {
    MACHINE_HALTED,   /* hlt with interrupts off: power-off or halt */
    MACHINE_RESET,    /* the guest asked for a reset (reboot) */
    MACHINE_LIMIT,    /* the guest-time limit was reached */
    MACHINE_FATAL,    /* triple fault or emulation error */
    MACHINE_PAUSED,   /* machine_pause() or the pause timer: machine_run may go on */
    MACHINE_HOST_ERROR, /* the host failed a disk I/O (machine_host_error): the run cannot go on */
} MachineEnd;

/* A complete console line (without its newline, NUL-terminated, at most
 * MACHINE_LINE_MAX bytes kept); return true to pause at the next block
 * boundary (e.g. to take a checkpoint there). */
typedef bool MachineLineFunc(void *opaque, const char *line);
#define MACHINE_LINE_MAX 1024
#define MACHINE_TAIL_SIZE 4096

typedef struct MachineConfig {
    uint64_t ram_size;        /* bytes, multiple of 1 MiB */
    int64_t rtc_epoch;        /* Unix time of power-on */
    FILE *console;            /* serial console output */
    bool console_input;       /* read host stdin into COM1 */
    uint64_t limit_ticks;     /* 0 = none */
    Disk *disks[MACHINE_MAX_DISKS]; /* AHCI ports 0.., then IDE devices; the machine closes them */
    int n_disks;
    int n_ide;                /* the last n_ide of disks[] are IDE devices (0..3) */
} MachineConfig;

typedef struct Machine {
    MachineConfig cfg;
    uint8_t *ram;
    uint64_t ram_size;
    VClock clock;
    IoMap io;
    CPUState *cpu;
    IRQSignal cpu_intr;
    IRQSignal irq[16];        /* ISA IRQ lines into the PIC pair */
    PICState *pic;
    PITState *pit;
    UARTState *uart;
    RTCState *rtc;
    PCIBus *pci;
    SysResetState *sysreset;
    I8042State *i8042;
    VGAState *vga;
    AHCIState *ahci;          /* only with AHCI disks */
    IDEState *ide;            /* only with IDE disks */
    BiosState *bios;          /* emu/bios.c: acts once machine_bios_boot ran; drive 0x80 is the first IDE disk, else the first AHCI one */
    VTimer limit_timer;
    VTimer pause_timer;       /* host-side stops: checkpoints, journal points */
    /* The stall watch (machine_watch_stall): `stalled` and a pause once no
     * console byte and no disk transfer was seen for stall_ticks. */
    VTimer stall_timer;
    uint64_t stall_ticks, stall_act;
    bool stalled;
    bool reset_requested, limit_reached, pause_requested, host_failed;
    int ended;                /* 1 + MachineEnd once the run ended (saved in checkpoints) */
    bool events_known;        /* the CPU's event counts run from power-on (false: resumed from a
                               * checkpoint that has none, they run from there) */
    /* The console as it went by: byte count, a hash chain (see
     * machine_console_digest), the last MACHINE_TAIL_SIZE bytes, and the
     * current line for the line callback. */
    uint64_t console_bytes;
    uint8_t console_chain[32];
    void *console_md;         /* EVP_MD_CTX: chain value, then bytes since */
    uint8_t console_tail[MACHINE_TAIL_SIZE];
    char line[MACHINE_LINE_MAX + 1];
    size_t line_len;
    MachineLineFunc *line_cb;
    void *line_opaque;
    /* Host console input the UART took (for the journal), and a flag a
     * signal handler sets to pause at the next timer deadline. */
    void (*input_cb)(void *opaque, uint64_t ticks, const uint8_t *buf, int len);
    void *input_opaque;
    volatile int *host_stop;
    uint8_t input[256];       /* host console input not yet taken by the UART */
    int n_input;
    /* Host-side observers (the console window, cli/ui.h): console_hook sees
     * every console byte as it is written; host_poll runs at every timer
     * deadline, before the pending input goes to the UART. Neither may touch
     * the guest: keystrokes go through machine_queue_input (and so the
     * journal), a stop through *host_stop. */
    void (*console_hook)(void *opaque, const uint8_t *buf, size_t len);
    void (*host_poll)(void *opaque);
    void *hook_opaque;
} Machine;

/* The value host_poll stores in *host_stop to stop the run as a signal does
 * (final checkpoint, exit 5): the console window was closed. */
#define MACHINE_STOP_WINDOW (-1)

Machine *machine_new(const MachineConfig *cfg, char *err, size_t errlen);
void machine_free(Machine *m);
MachineEnd machine_run(Machine *m);
/* Which of cfg->disks[] is the BIOS's drive 0x80: the first IDE disk
 * (primary master) if there is one, else the first AHCI disk. */
int machine_boot_disk(const MachineConfig *cfg);
/* Power-on through lbvm's BIOS from that disk (no kernel): 0, or -1 with a
 * one-line reason. */
int machine_bios_boot(Machine *m, char *err, size_t errlen);
/* After MACHINE_HOST_ERROR: which disk I/O the host failed, and why. */
const char *machine_host_error(const Machine *m);
/* Digest of guest RAM (see machine.c), and the same as 64 hex digits plus NUL. */
void machine_ram_digest(Machine *m, uint8_t out[32]);
void machine_ram_sha256(Machine *m, char out[65]);
/* Console input replayed from a journal, at the tick it was first taken. */
void machine_feed_input(Machine *m, const uint8_t *buf, int len);
/* Host keyboard input from elsewhere than stdin (the console window): added
 * to the pending input that the UART takes at timer deadlines, recorded
 * through input_cb as stdin input is. Returns how many bytes fitted. */
int machine_queue_input(Machine *m, const uint8_t *buf, int len);
/* Stop at the next block boundary: machine_run returns MACHINE_PAUSED. */
void machine_pause(Machine *m);
/* Pause when guest time reaches `ticks` (VCLOCK_NEVER: no such pause). */
void machine_pause_at(Machine *m, uint64_t ticks);
/* Pause with m->stalled set once `ticks` of guest time pass with no console
 * output and no disk transfer (0: no watch). Activity is looked for at the
 * timer deadlines the guest has anyway, so the watch adds no stop of its own
 * while the guest's timers run: every stop of emulation changes how the TLB
 * refills, and a verify or a resumed run would not make the same ones. */
void machine_watch_stall(Machine *m, uint64_t ticks);
/* The console hash chain: link = SHA-256(previous link || bytes since it),
 * starting from 32 zero bytes. Returns the link over everything so far and
 * makes it the new starting point. */
void machine_console_link(Machine *m, uint8_t out[32]);
/* The last min(console_bytes, MACHINE_TAIL_SIZE) console bytes, in order. */
size_t machine_console_tail(const Machine *m, uint8_t *out);
#endif
