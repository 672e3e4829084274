/* The PC: guest RAM, the virtual clock, the I/O map, the CPU and the chips of
 * a PIIX-era PC that Linux needs. machine_run() drives the CPU to the next
 * timer deadline, fires timers, and repeats until the guest stops. */
#ifndef LBVM_MACHINE_H
#define LBVM_MACHINE_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "clock.h"
#include "cpu.h"
#include "iomem.h"

typedef struct PICState PICState;
typedef struct PITState PITState;
typedef struct UARTState UARTState;
typedef struct RTCState RTCState;
typedef struct PCIBus PCIBus;
typedef struct SysResetState SysResetState;
typedef struct AHCIState AHCIState;
typedef struct Disk Disk;

#define MACHINE_MAX_DISKS 4

#define MACHINE_MIN_RAM_MIB 64
#define MACHINE_MAX_RAM_MIB 3072

typedef enum MachineEnd {
    MACHINE_HALTED,   /* hlt with interrupts off: power-off or halt */
    MACHINE_RESET,    /* the guest asked for a reset (reboot) */
    MACHINE_LIMIT,    /* the guest-time limit was reached */
    MACHINE_FATAL,    /* triple fault or emulation error */
} MachineEnd;

typedef struct MachineConfig {
    uint64_t ram_size;        /* bytes, multiple of 1 MiB */
    int64_t rtc_epoch;        /* Unix time of power-on */
    FILE *console;            /* serial console output */
    bool console_input;       /* read host stdin into COM1 */
    uint64_t limit_ticks;     /* 0 = none */
    Disk *disks[MACHINE_MAX_DISKS]; /* AHCI ports 0..n-1; the machine closes them */
    int n_disks;
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
    AHCIState *ahci;          /* only with disks */
    VTimer limit_timer;
    bool reset_requested, limit_reached;
    uint8_t input[256];       /* host console input not yet taken by the UART */
    int n_input;
} Machine;

Machine *machine_new(const MachineConfig *cfg, char *err, size_t errlen);
void machine_free(Machine *m);
MachineEnd machine_run(Machine *m);
/* SHA-256 of guest RAM, as 64 hex digits plus NUL. */
void machine_ram_sha256(Machine *m, char out[65]);
#endif
