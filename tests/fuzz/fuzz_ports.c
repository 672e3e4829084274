/* libFuzzer target: the PC's chips (PIC, PIT, UART, RTC, PCI host bridge,
 * sysreset) wired on one IoMap as emu/machine.c wires them, driven by a
 * sequence of port and MMIO accesses, guest-time advances, interrupt
 * acknowledges and serial input (format in fuzz_ports.h). Time moves the way
 * the machine moves it: the clock stops at each timer deadline and the due
 * timers run there. Any crash, sanitizer report or hang is a finding. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fuzz_input.h"
#include "fuzz_ports.h"
#include "iomem.h"
#include "pci.h"
#include "pic.h"
#include "pit.h"
#include "rtc.h"
#include "sysreset.h"
#include "uart.h"

#define COM1_BASE 0x3f8
#define COM1_IRQ 4
#define RTC_IRQ 8
/* Deadlines served per advance before the rest is skipped in one jump (a
 * periodic timer at the PIT's fastest rate would otherwise take forever). */
#define MAX_DEADLINES 1024

typedef struct Board {
    IoMap io;
    VClock clock;
    IRQSignal cpu_intr;
    IRQSignal irq[16];
    PICState *pic;
    PITState *pit;
    UARTState *uart;
    RTCState *rtc;
    PCIBus *pci;
    SysResetState *sysreset;
    int intr;                   /* INTR as the CPU would see it */
    int reset_requested;
    uint64_t tx_bytes;
} Board;

static Board board;

static void board_set_intr(void *opaque, int irq_num, int level)
{
    Board *b = opaque;
    (void)irq_num;
    b->intr = level;
}

static void board_reset_request(void *opaque)
{
    ((Board *)opaque)->reset_requested = 1;
}

static void board_console(void *opaque, const uint8_t *buf, size_t len)
{
    Board *b = opaque;
    (void)buf;
    b->tx_bytes += len;
}

static void board_init(Board *b, int64_t epoch)
{
    memset(b, 0, sizeof *b);
    iomap_init(&b->io);
    vclock_init(&b->clock);
    irq_init(&b->cpu_intr, board_set_intr, b, 0);
    b->pic = pic_init(&b->io, &b->cpu_intr);
    for (int i = 0; i < 16; i++)
        irq_init(&b->irq[i], pic_set_irq, b->pic, i);
    b->pit = pit_init(&b->io, &b->clock, &b->irq[0]);
    b->uart = uart_init(&b->io, COM1_BASE, &b->irq[COM1_IRQ], board_console, b);
    b->rtc = rtc_init(&b->io, &b->clock, &b->irq[RTC_IRQ], epoch);
    b->pci = pci_init(&b->io, board_reset_request, b);
    b->sysreset = sysreset_init(&b->io, board_reset_request, b);
    if (!b->pic || !b->pit || !b->uart || !b->rtc || !b->pci || !b->sysreset)
        abort();
    for (int i = 0; i < 16; i++)
        pci_bus_set_irq_sink(b->pci, i, &b->irq[i]);
    /* The CMOS bytes machine.c fills for 256 MiB. */
    static const uint8_t cmos[][2] = {
        { 0x15, 0x80 }, { 0x16, 0x02 }, { 0x17, 0x00 }, { 0x18, 0xfc }, { 0x30, 0x00 }, { 0x31, 0xfc },
        { 0x34, 0x00 }, { 0x35, 0x0f }, { 0x14, 0x02 },
    };
    for (size_t i = 0; i < sizeof cmos / sizeof cmos[0]; i++)
        rtc_set_cmos(b->rtc, cmos[i][0], cmos[i][1]);
}

static void board_free(Board *b)
{
    free(b->pic);
    free(b->pit);
    free(b->uart);
    free(b->rtc);
    pci_free(b->pci);
    free(b->sysreset);
}

/* A guest reset request: every chip back to its reset state. */
static void board_reset(Board *b)
{
    b->reset_requested = 0;
    pic_reset(b->pic);
    pit_reset(b->pit);
    uart_reset(b->uart);
    rtc_reset(b->rtc);
    pci_reset(b->pci);
    sysreset_reset(b->sysreset);
}

/* Guest time moves to `target`, stopping at each deadline on the way. */
static void board_advance(Board *b, uint64_t delta)
{
    uint64_t target = b->clock.now + delta;
    if (target < b->clock.now || target > (1ull << 62))
        target = 1ull << 62;
    for (int n = 0; n < MAX_DEADLINES && vclock_next_deadline(&b->clock) <= target; n++) {
        if (vclock_next_deadline(&b->clock) > b->clock.now)
            b->clock.now = vclock_next_deadline(&b->clock);
        vclock_run_timers(&b->clock);
    }
    b->clock.now = target;
    vclock_run_timers(&b->clock);
}


static bool take_port(Input *in, uint32_t *port)
{
    uint8_t i;
    uint16_t raw;
    if (!take(in, &i, 1))
        return false;
    if (i < FZ_NPORTS) {
        *port = fz_ports[i];
        return true;
    }
    if (!take(in, &raw, 2))
        return false;
    *port = raw;
    return true;
}

static int size_arg(int arg)
{
    return (arg & 3) == 3 ? 2 : arg & 3;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in = { data, size };
    uint32_t e32 = 0;
    /* Power-on time: any epoch the command line accepts (0 .. INT64_MAX / 2). */
    take(&in, &e32, 4);
    uint8_t e_shift = 0;
    take(&in, &e_shift, 1);
    int64_t epoch = (int64_t)((uint64_t)e32 << (e_shift % 31));
    Board *b = &board;
    board_init(b, epoch);

    uint8_t op;
    while (take(&in, &op, 1)) {
        int kind = op & 7, arg = op >> 3;
        uint32_t port, val;
        uint16_t n16;
        uint8_t off[3], buf[16];
        switch (kind) {
        case FZ_READ:
            if (!take_port(&in, &port))
                goto out;
            iomap_port_read(&b->io, port, size_arg(arg));
            break;
        case FZ_WRITE:
            if (!take_port(&in, &port) || !take(&in, &val, 4))
                goto out;
            iomap_port_write(&b->io, port, val, size_arg(arg));
            break;
        case FZ_ADVANCE:
            if (!take(&in, &n16, 2))
                goto out;
            board_advance(b, (uint64_t)n16 << arg);
            break;
        case FZ_INTA:
            if (b->intr) {
                int vec = pic_read_irq(b->pic);
                if (vec < 0 || vec > 255)
                    abort();
            }
            break;
        case FZ_RX: {
            int len = arg & 15;
            if (!take(&in, buf, (size_t)len))
                goto out;
            int room = uart_rx_room(b->uart);
            int took = uart_receive(b->uart, buf, len);
            if (took < 0 || took > len || took > room)
                abort();
            break;
        }
        case FZ_MMIO_READ:
        case FZ_MMIO_WRITE: {
            if (!take(&in, off, 3))
                goto out;
            val = 0;
            if (kind == FZ_MMIO_WRITE && !take(&in, &val, 4))
                goto out;
            uint32_t o = (off[0] | off[1] << 8 | (uint32_t)off[2] << 16) % PCI_MEM_WINDOW_SIZE;
            int sz = size_arg(arg);
            o &= ~((1u << sz) - 1);
            for (int i = 0; i < b->io.n_mmio; i++) {
                IoRange *r = &b->io.mmio[i];
                if (r->base == PCI_MEM_WINDOW_BASE) {
                    if (kind == FZ_MMIO_READ)
                        iorange_read(r, o, sz);
                    else
                        iorange_write(r, o, val, sz);
                }
            }
            break;
        }
        case FZ_TICK:
            board_advance(b, (uint64_t)(arg + 1) * 64);
            break;
        }
        if (b->reset_requested)
            board_reset(b);
    }
out:
    board_free(b);
    return 0;
}
