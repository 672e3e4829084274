/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the PC's chips (PIC, PIT, UART, RTC, PCI host bridge,
 * sysreset) wired on one IoMap as emu/machine.c wires them (fuzz_board.h,
 * without AHCI), driven by a sequence of port and MMIO accesses, guest-time
 * advances, interrupt acknowledges and serial input (format in fuzz_ports.h).
 * Time moves the way the machine moves it: the clock stops at each timer
 * deadline and the due timers run there. Any crash, sanitizer report or hang
 * is a finding. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_board.h"
#include "fuzz_input.h"

static FzBoard board;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in = { data, size };
    uint32_t e32 = 0;
    /* Power-on time: any epoch the command line accepts (0 .. INT64_MAX / 2). */
    take(&in, &e32, 4);
    uint8_t e_shift = 0;
    take(&in, &e_shift, 1);
    int64_t epoch = (int64_t)((uint64_t)e32 << (e_shift % 31));
    FzBoard *b = &board;
    if (fz_board_init(b, epoch, NULL, NULL, NULL) < 0)
        abort();
    uint8_t op;
    while (take(&in, &op, 1) && fz_run_op(b, &in, op))
        ;
    fz_board_free(b);
    return 0;
}
