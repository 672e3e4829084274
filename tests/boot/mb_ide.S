/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A Multiboot 1 kernel of ours for tests/boot/test_mb_ide.sh, assembled at
 * test time (as --32 -I tests/boot; ld -m elf_i386 -Ttext 0x100000). It
 * drives the PIIX3 IDE function (PCI 00:01.1) at register level, with a
 * writable disk as primary master and a read-only one as primary slave, and
 * prints over COM1 what it gets, for the test to compare with the host's own
 * reading of the images:
 *   - PCI identity, BAR4 (the bus master's base, read from config space) and
 *     the command register after setting I/O and bus-master enable;
 *   - IDENTIFY DEVICE of both disks (model, LBA28 and LBA48 sizes);
 *   - READ SECTORS and WRITE SECTORS by PIO (nIEN set: polled), and READ
 *     SECTORS past the end of the disk (an error);
 *   - READ DMA through a 3-entry PRD table, a single 64 KiB entry (byte
 *     count 0), an entry larger than the transfer and one smaller; WRITE DMA
 *     through 3 entries; READ DMA started while the PCI command register's
 *     Bus Master bit is clear, which waits for it; READ DMA of what the
 *     writes put on the disk; WRITE DMA to the read-only slave. Each with the
 *     PIC's IRR, the bus master's status, the device's status, IRQ 14 taken
 *     through an IDT (the handler reads the status), the bus master's status
 *     after the engine is stopped and after Interrupt and Error are cleared.
 * Sectors are printed as "LBA first-16-bytes last-16-bytes hash", the hash
 * being h = h * 31 + dword over the sector's little-endian dwords (mod 2^32).
 * What it writes at sector L, dword i: seed + L * 0x10001 + i * 0x01000193.
 * The LBAs and the seed come from the command line (hex): pio-rd= pio-wr=
 * dma-rd= dma-wr= seed=. Then it halts with interrupts off (lbvm exits 0).
 * A line "MB-IDE: error ..." says why it stopped early. */
    .code32
    .set MB_MAGIC, 0x1badb002
    .set MB_FLAGS, 0x00000003

    .set PCI_ADDR, 0xcf8
    .set PCI_DATA, 0xcfc
    .set IDE_CFG, 0x80000900        /* bus 0, device 1, function 1 */
    .set ATA_DATA, 0x1f0
    .set ATA_ERROR, 0x1f1
    .set ATA_NSECT, 0x1f2
    .set ATA_LBAL, 0x1f3
    .set ATA_LBAM, 0x1f4
    .set ATA_LBAH, 0x1f5
    .set ATA_SELECT, 0x1f6
    .set ATA_STATUS, 0x1f7          /* write: command */
    .set ATA_CTL, 0x3f6             /* read: alternate status */
    .set ST_BSY, 0x80
    .set ST_DRQ, 0x08
    .set ST_ERR, 0x01
    .set DEV0, 0xe0                 /* LBA, device 0 */
    .set DEV1, 0xf0                 /* LBA, device 1 */
    .set BM_CMD, 0
    .set BM_STATUS, 2
    .set BM_PRD, 4
    .set BM_START, 0x01
    .set BM_READ, 0x08              /* the engine writes memory */
    .set VEC_IDE, 0x2e              /* IRQ 14 with the slave PIC at 0x28 */

    /* Guest RAM the DMA uses (--mem 32 or more). No buffer crosses 64 KiB. */
    .set PRD_TABLE, 0x200000
    .set RD_A, 0x210000             /* the 3-entry read: 1000 + 3000 + 8288 bytes */
    .set RD_B, 0x220400
    .set RD_C, 0x230f00             /* crosses two 4 KiB pages */
    .set RD_LEN_A, 1000
    .set RD_LEN_B, 3000
    .set RD_LEN_C, 8288
    .set RD_SECTS, 24
    .set GATHER, 0x280000           /* the pieces put back together */
    .set BUF_64K, 0x300000
    .set BUF_OVER, 0x320000
    .set BUF_SHORT, 0x330000
    .set WR_SRC, 0x290000           /* the 3-entry write: 1200 + 2000 + 896 bytes */
    .set WR_A, 0x340000
    .set WR_B, 0x341f00             /* crosses a 4 KiB page */
    .set WR_C, 0x350000
    .set WR_LEN_A, 1200
    .set WR_LEN_B, 2000
    .set WR_LEN_C, 896
    .set WR_SECTS, 8
    .set RO_BUF, 0x360000
    .set BUF_NOMASTER, 0x380000
    .set BUF_BACK, 0x390000
    .set PIO_BUF, 0x370000
    .set PIO_RD_SECTS, 3
    .set PIO_WR_SECTS, 2

    .text
    .globl _start, entry
_start:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

entry:
    cli
    cld
    mov $stack_top, %esp
    mov $e_cmdline, %esi
    testl $4, 0(%ebx)               /* Multiboot info: a command line */
    jz fatal
    mov 16(%ebx), %eax
    mov %eax, cmdline
    /* Our own GDT (the loader's is not ours to keep) and IDT. */
    lgdt gdt_desc
    ljmp $0x08, $1f
1:  mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %fs
    mov %ax, %gs
    mov %ax, %ss
    call idt_setup
    call pic_setup

    mov $k_piord, %esi
    call param
    mov %eax, lba_pio_rd
    mov $k_piowr, %esi
    call param
    mov %eax, lba_pio_wr
    mov $k_dmard, %esi
    call param
    mov %eax, lba_dma_rd
    mov $k_dmawr, %esi
    call param
    mov %eax, lba_dma_wr
    mov $k_seed, %esi
    call param
    mov %eax, seed

    call pci_setup
    /* PIO with nIEN: no interrupts, the status polled. */
    mov $0x02, %al
    mov $ATA_CTL, %dx
    out %al, %dx
    mov $DEV0, %ch
    mov $s_id0, %esi
    call identify
    mov idbuf + 120, %eax           /* words 60-61: LBA28 sectors */
    mov %eax, disk_sectors
    mov $DEV1, %ch
    mov $s_id1, %esi
    call identify
    call pio_read
    call pio_write
    call past_end
    /* Interrupts on from here: nothing pending (the status acknowledges). */
    mov $ATA_STATUS, %dx
    in %dx, %al
    xor %al, %al
    mov $ATA_CTL, %dx
    out %al, %dx
    mov $s_afterpio, %esi
    call puts
    call dma_read
    call dma_64k
    call dma_over
    call dma_short
    call dma_nomaster
    call dma_write
    call readback
    call ro_write
    mov $s_done, %esi
    call puts
    cli
    hlt

/* fatal: "MB-IDE: error " and the string at ESI, then halt */
fatal:
    push %esi
    mov $s_error, %esi
    call puts
    pop %esi
    call puts
    call crlf
    cli
1:  hlt
    jmp 1b

/* ---- set-up ---- */

idt_setup:
    mov $idt, %edi
    mov $256, %ecx
1:  mov $unexpected, %eax
    call set_gate
    add $8, %edi
    loop 1b
    mov $idt + 8 * VEC_IDE, %edi
    mov $irq14, %eax
    call set_gate
    lidt idt_desc
    ret

/* set_gate: a 32-bit interrupt gate at EDI to EAX, code selector 0x08 */
set_gate:
    push %eax
    mov %ax, (%edi)
    movw $0x08, 2(%edi)
    movw $0x8e00, 4(%edi)
    shr $16, %eax
    mov %ax, 6(%edi)
    pop %eax
    ret

/* The 8259 pair at vectors 0x20/0x28, cascade on IR2; only IRQ 14 (and the
 * cascade) unmasked. */
pic_setup:
    mov $0x11, %al                  /* ICW1: edge, cascade, ICW4 */
    out %al, $0x20
    out %al, $0xa0
    mov $0x20, %al                  /* ICW2 */
    out %al, $0x21
    mov $0x28, %al
    out %al, $0xa1
    mov $0x04, %al                  /* ICW3 */
    out %al, $0x21
    mov $0x02, %al
    out %al, $0xa1
    mov $0x01, %al                  /* ICW4: 8086 mode */
    out %al, $0x21
    out %al, $0xa1
    mov $0xfb, %al                  /* OCW1 */
    out %al, $0x21
    mov $0xbf, %al
    out %al, $0xa1
    ret

/* irq14: the device's status (which acknowledges its interrupt) into
 * irq_status, one more irq_count, EOI to both PICs. */
irq14:
    push %eax
    push %edx
    mov $ATA_STATUS, %dx
    in %dx, %al
    mov %al, irq_status
    incl irq_count
    mov $0x20, %al
    out %al, $0xa0
    out %al, $0x20
    pop %edx
    pop %eax
    iret

unexpected:
    mov $e_unexpected, %esi
    jmp fatal

/* param: the hex number after the key at ESI (" name=") in the command line */
param:
    push %ebx
    push %ecx
    push %edx
    push %edi
    mov cmdline, %edi
1:  cmpb $0, (%edi)
    je 8f
    xor %ecx, %ecx
2:  mov (%esi,%ecx), %al
    test %al, %al
    jz 3f
    cmp (%edi,%ecx), %al
    jne 4f
    inc %ecx
    jmp 2b
4:  inc %edi
    jmp 1b
3:  add %ecx, %edi
    xor %edx, %edx
    xor %ebx, %ebx                  /* digits */
5:  movzbl (%edi), %eax
    sub $'0', %al
    cmp $9, %al
    jbe 6f
    movzbl (%edi), %eax
    or $0x20, %al                   /* lower case */
    sub $'a', %al
    cmp $5, %al
    ja 7f
    add $10, %al
6:  shl $4, %edx
    or %eax, %edx
    inc %edi
    inc %ebx
    cmp $8, %ebx
    jbe 5b
    jmp 8f                          /* more than 8 digits */
7:  test %ebx, %ebx
    jz 8f
    mov %edx, %eax
    pop %edi
    pop %edx
    pop %ecx
    pop %ebx
    ret
8:  push %esi
    mov $s_error, %esi
    call puts
    mov $e_param, %esi
    call puts
    pop %esi
    call puts
    call crlf
    cli
    hlt

/* pci_read: config dword EAX of 00:01.1 into EAX */
pci_read:
    push %edx
    or $IDE_CFG, %eax
    mov $PCI_ADDR, %dx
    out %eax, %dx
    mov $PCI_DATA, %dx
    in %dx, %eax
    pop %edx
    ret

/* Identity, BAR4 (I/O, its base the bus master's), command |= I/O | bus
 * master (a 16-bit write: the status register's bits are write-1-to-clear). */
pci_setup:
    mov $s_pci, %esi
    call puts
    mov $0x00, %eax
    call pci_read
    call hex32
    mov $s_class, %esi
    call puts
    mov $0x08, %eax
    call pci_read
    call hex32
    mov $s_bar4, %esi
    call puts
    mov $0x20, %eax
    call pci_read
    call hex32
    test $1, %al
    mov $e_bar4, %esi
    jz fatal
    and $0xfffc, %eax
    mov %eax, bm_base
    mov $0x04, %eax
    call pci_read
    or $0x0005, %ax
    call pci_command
    mov $s_cmd, %esi
    call puts
    mov $0x04, %eax
    call pci_read
    call hex16
    call crlf
    ret

/* pci_command: AX into the command register */
pci_command:
    push %eax
    push %edx
    push %eax
    mov $IDE_CFG | 0x04, %eax
    mov $PCI_ADDR, %dx
    out %eax, %dx
    pop %eax
    mov $PCI_DATA, %dx
    out %ax, %dx
    pop %edx
    pop %eax
    ret

/* ---- ATA ---- */

/* wait_idle: the alternate status once BSY is clear, in AL */
wait_idle:
    push %ecx
    push %edx
    mov $ATA_CTL, %dx
    mov $1000000, %ecx
1:  in %dx, %al
    test $ST_BSY, %al
    jz 2f
    loop 1b
    mov $e_busy, %esi
    jmp fatal
2:  pop %edx
    pop %ecx
    ret

/* issue: command AL for CL sectors at LBA EBX (28 bits), CH the select
 * byte's top (DEV0 or DEV1) */
issue:
    push %eax
    push %edx
    push %eax
    call wait_idle
    mov %ebx, %eax
    shr $24, %eax
    and $0x0f, %al
    or %ch, %al
    mov $ATA_SELECT, %dx
    out %al, %dx
    call wait_idle
    mov $ATA_NSECT, %dx
    mov %cl, %al
    out %al, %dx
    mov $ATA_LBAL, %dx
    mov %bl, %al
    out %al, %dx
    mov $ATA_LBAM, %dx
    mov %bh, %al
    out %al, %dx
    mov %ebx, %eax
    shr $16, %eax
    mov $ATA_LBAH, %dx
    out %al, %dx
    pop %eax
    mov $ATA_STATUS, %dx
    out %al, %dx
    pop %edx
    pop %eax
    ret

/* pio_block: waits for DRQ, reads (EAX = 0) or writes (EAX = 1) 256 words
 * at EDI; the status it waited for in AL. Fatal without DRQ. */
pio_block:
    push %ecx
    push %edx
    push %esi
    push %eax
    call wait_idle
    test $ST_DRQ, %al
    mov $e_drq, %esi
    jz fatal
    pop %eax
    push %eax
    mov $ATA_DATA, %dx
    mov $256, %ecx
    test %eax, %eax
    jnz 1f
    rep insw
    jmp 2f
1:  mov %edi, %esi
    rep outsw
    mov %esi, %edi
2:  call wait_idle
    pop %ecx                        /* the direction */
    pop %esi
    pop %edx
    pop %ecx
    ret

/* status_line: " status " and the status register (acknowledging), then
 * the end of the line */
status_line:
    push %eax
    push %edx
    push %esi
    mov $s_status, %esi
    call puts
    mov $ATA_STATUS, %dx
    in %dx, %al
    call hex8
    call crlf
    pop %esi
    pop %edx
    pop %eax
    ret

/* identify: IDENTIFY DEVICE by PIO of device CH into idbuf, printed after
 * the prefix at ESI: model (words 27-46), LBA28 (60-61), LBA48 (100-103). */
identify:
    mov $0xec, %al
    xor %ebx, %ebx
    xor %cl, %cl
    call issue
    mov $idbuf, %edi
    xor %eax, %eax
    call pio_block
    call puts
    mov $s_model, %esi
    call puts
    mov $idbuf + 54, %esi
    mov $20, %ecx
1:  mov 1(%esi), %al                /* ATA strings: the first character in the high byte */
    call putc
    mov (%esi), %al
    call putc
    add $2, %esi
    loop 1b
    mov $s_lba28, %esi
    call puts
    mov idbuf + 120, %eax
    call hex32
    mov $s_lba48, %esi
    call puts
    mov idbuf + 204, %eax
    call hex32
    mov idbuf + 200, %eax
    call hex32
    call status_line
    ret

/* hash: h = h * 31 + dword over ECX dwords at ESI, in EAX */
hash:
    push %ecx
    push %esi
    xor %eax, %eax
    jecxz 2f
1:  imul $31, %eax, %eax
    add (%esi), %eax
    add $4, %esi
    loop 1b
2:  pop %esi
    pop %ecx
    ret

/* sectors: ECX sectors at EDI (LBA EBX on), one line each after the prefix
 * at ESI: LBA, first 16 bytes, last 16 bytes, hash */
sectors:
    pusha
1:  call puts
    mov %ebx, %eax
    call hex32
    call space
    push %esi
    push %ecx
    mov %edi, %esi
    mov $16, %ecx
    call hexbytes
    call space
    add $496, %esi
    call hexbytes
    call space
    mov %edi, %esi
    mov $128, %ecx
    call hash
    call hex32
    call crlf
    pop %ecx
    pop %esi
    add $512, %edi
    inc %ebx
    loop 1b
    popa
    ret

/* pattern: ECX sectors of what we write at LBA EBX on, to EDI, seed EDX */
pattern:
    pusha
1:  mov %ebx, %eax
    imul $0x10001, %eax, %eax
    add %edx, %eax
    mov $128, %esi
2:  mov %eax, (%edi)
    add $4, %edi
    add $0x01000193, %eax
    dec %esi
    jnz 2b
    inc %ebx
    loop 1b
    popa
    ret

/* hashes: ECX sectors at EDI (LBA EBX on), "prefix LBA hash" each */
hashes:
    pusha
1:  call puts
    mov %ebx, %eax
    call hex32
    call space
    push %esi
    push %ecx
    mov %edi, %esi
    mov $128, %ecx
    call hash
    call hex32
    call crlf
    pop %ecx
    pop %esi
    add $512, %edi
    inc %ebx
    loop 1b
    popa
    ret

pio_read:
    mov lba_pio_rd, %ebx
    mov $PIO_RD_SECTS, %cl
    mov $DEV0, %ch
    mov $0x20, %al                  /* READ SECTORS */
    call issue
    mov $PIO_BUF, %edi
    mov $PIO_RD_SECTS, %ebx
1:  xor %eax, %eax
    call pio_block                  /* rep insw moves EDI on */
    dec %ebx
    jnz 1b
    mov $s_pio_rd, %esi
    mov lba_pio_rd, %ebx
    mov $PIO_BUF, %edi
    mov $PIO_RD_SECTS, %ecx
    call sectors
    mov $s_pio_rd, %esi
    call puts
    mov $s_end, %esi
    call puts
    call status_line
    ret

pio_write:
    mov lba_pio_wr, %ebx
    mov $PIO_BUF, %edi
    mov $PIO_WR_SECTS, %ecx
    mov seed, %edx
    call pattern
    mov $PIO_WR_SECTS, %cl
    mov $DEV0, %ch
    mov $0x30, %al                  /* WRITE SECTORS */
    call issue
    mov $PIO_WR_SECTS, %ebx
1:  mov $1, %eax
    call pio_block
    dec %ebx
    jnz 1b
    mov $s_pio_wr, %esi
    mov lba_pio_wr, %ebx
    mov $PIO_BUF, %edi
    mov $PIO_WR_SECTS, %ecx
    call hashes
    call puts
    mov $s_end, %esi
    call puts
    call status_line
    ret

/* READ SECTORS of 2 sectors from the last one on: past the end. */
past_end:
    mov disk_sectors, %ebx
    dec %ebx
    mov $2, %cl
    mov $DEV0, %ch
    mov $0x20, %al
    call issue
    call wait_idle
    mov $s_past, %esi
    call puts
    mov %ebx, %eax
    call hex32
    mov $s_error2, %esi
    call puts
    mov $ATA_ERROR, %dx
    in %dx, %al
    call hex8
    call status_line
    ret

/* prd: entry ECX of the table: EAX the address, EDX the byte count, EBX
 * nonzero for the last (EOT) */
prd:
    push %edx
    mov %eax, PRD_TABLE(,%ecx,8)
    and $0xffff, %edx
    test %ebx, %ebx
    jz 1f
    or $0x80000000, %edx
1:  mov %edx, PRD_TABLE + 4(,%ecx,8)
    pop %edx
    ret

/* bm_out: AL to the bus master's register DX (an offset) */
bm_out:
    push %edx
    add bm_base, %edx
    out %al, %dx
    pop %edx
    ret
bm_in:
    push %edx
    add bm_base, %edx
    in %dx, %al
    pop %edx
    ret

/* bm_setup: PRD_TABLE into the engine's table address, AL into its command
 * (the direction, not started); no interrupt seen yet */
bm_setup:
    push %eax
    push %edx
    mov $BM_CMD, %edx
    call bm_out
    mov bm_base, %edx
    add $BM_PRD, %edx
    mov $PRD_TABLE, %eax
    out %eax, %dx
    movb $0xff, irq_status
    pop %edx
    pop %eax
    ret

/* dma_end: after a DMA command and the engine's start, the line after the
 * prefix at ESI: the slave PIC's IRR bit for IRQ 14 ("irr"), the bus
 * master's status ("bm") and the alternate status ("alt") before the
 * interrupt is taken; then with interrupts on, the number of IRQ 14
 * interrupts taken ("irq") and the status the handler read ("status", FF for
 * none); then the bus master's status once stopped ("stopped") and once
 * Interrupt and Error are written 1 ("cleared"); and the error register. */
dma_end:
    pusha
    call puts
    mov $s_irr, %esi
    call puts
    mov $0x0a, %al                  /* OCW3: read IRR */
    out %al, $0xa0
    in $0xa0, %al
    and $0x40, %al
    call hex8
    mov $s_bm, %esi
    call puts
    mov $BM_STATUS, %edx
    call bm_in
    call hex8
    mov $s_alt, %esi
    call puts
    mov $ATA_CTL, %dx
    in %dx, %al
    call hex8
    mov irq_count, %ebx
    sti
    mov $100000, %ecx
1:  cmp irq_count, %ebx
    jne 2f
    loop 1b
2:  cli
    mov irq_count, %eax
    sub %ebx, %eax
    mov $s_irq, %esi
    call puts
    call hex8
    mov $s_status, %esi
    call puts
    mov irq_status, %al
    call hex8
    xor %al, %al
    mov $BM_CMD, %edx
    call bm_out
    mov $s_stopped, %esi
    call puts
    mov $BM_STATUS, %edx
    call bm_in
    call hex8
    mov $0x06, %al
    call bm_out
    mov $s_cleared, %esi
    call puts
    call bm_in
    call hex8
    mov $s_error2, %esi
    call puts
    mov $ATA_ERROR, %dx
    in %dx, %al
    call hex8
    call crlf
    popa
    ret

/* bm_start: the engine started in direction AL (Linux's order: after the
 * command) */
bm_start:
    push %edx
    or $BM_START, %al
    mov $BM_CMD, %edx
    call bm_out
    pop %edx
    ret

/* copy: ECX bytes from ESI to EDI */
copy:
    pusha
    cld
    rep movsb
    popa
    ret

/* READ DMA of 24 sectors through 3 entries that split sectors. */
dma_read:
    xor %ecx, %ecx
    xor %ebx, %ebx
    mov $RD_A, %eax
    mov $RD_LEN_A, %edx
    call prd
    inc %ecx
    mov $RD_B, %eax
    mov $RD_LEN_B, %edx
    call prd
    inc %ecx
    inc %ebx
    mov $RD_C, %eax
    mov $RD_LEN_C, %edx
    call prd
    mov $BM_READ, %al
    call bm_setup
    mov lba_dma_rd, %ebx
    mov $RD_SECTS, %cl
    mov $DEV0, %ch
    mov $0xc8, %al                  /* READ DMA */
    call issue
    mov $BM_READ, %al
    call bm_start
    mov $s_dma_rd, %esi
    call puts
    mov $s_end, %esi
    call dma_end
    mov $RD_A, %esi
    mov $GATHER, %edi
    mov $RD_LEN_A, %ecx
    call copy
    mov $RD_B, %esi
    mov $GATHER + RD_LEN_A, %edi
    mov $RD_LEN_B, %ecx
    call copy
    mov $RD_C, %esi
    mov $GATHER + RD_LEN_A + RD_LEN_B, %edi
    mov $RD_LEN_C, %ecx
    call copy
    mov $s_dma_rd, %esi
    mov lba_dma_rd, %ebx
    mov $GATHER, %edi
    mov $RD_SECTS, %ecx
    call sectors
    ret

/* READ DMA of 2 sectors with Bus Master clear in the PCI command register:
 * the started transfer waits (a "wait" line: IRR, bus master status,
 * alternate status) until the bit is set. */
dma_nomaster:
    mov $0x0001, %ax
    call pci_command
    xor %ecx, %ecx
    mov $1, %ebx
    mov $BUF_NOMASTER, %eax
    mov $1024, %edx
    call prd
    mov $BM_READ, %al
    call bm_setup
    mov lba_dma_rd, %ebx
    add $RD_SECTS + 134, %ebx
    mov $2, %cl
    mov $DEV0, %ch
    mov $0xc8, %al
    call issue
    mov $BM_READ, %al
    call bm_start
    mov $s_dma_nm, %esi
    call puts
    mov $s_wait, %esi
    call puts
    mov $s_irr, %esi
    call puts
    mov $0x0a, %al
    out %al, $0xa0
    in $0xa0, %al
    and $0x40, %al
    call hex8
    mov $s_bm, %esi
    call puts
    mov $BM_STATUS, %edx
    call bm_in
    call hex8
    mov $s_alt, %esi
    call puts
    mov $ATA_CTL, %dx
    in %dx, %al
    call hex8
    call crlf
    mov $0x0005, %ax
    call pci_command
    mov $s_dma_nm, %esi
    call puts
    mov $s_end, %esi
    call dma_end
    mov $s_dma_nm, %esi
    mov $BUF_NOMASTER, %edi
    mov $2, %ecx
    call sectors
    ret

/* READ DMA of 128 sectors into one entry of 64 KiB (byte count 0), the
 * engine started before the command (Fiwix's order). */
dma_64k:
    xor %ecx, %ecx
    mov $1, %ebx
    mov $BUF_64K, %eax
    xor %edx, %edx
    call prd
    mov $BM_READ, %al
    call bm_setup
    call bm_start
    mov lba_dma_rd, %ebx
    add $RD_SECTS, %ebx
    mov $128, %cl
    mov $DEV0, %ch
    mov $0xc8, %al
    call issue
    mov $s_dma_64k, %esi
    call puts
    mov $s_end, %esi
    call dma_end
    mov $s_dma_64k, %esi
    call puts
    mov %ebx, %eax
    call hex32
    call space
    mov $BUF_64K, %esi
    mov $16384, %ecx
    call hash
    call hex32
    call crlf
    ret

/* READ DMA of 2 sectors into one 4 KiB entry: the PRDs are larger. */
dma_over:
    xor %ecx, %ecx
    mov $1, %ebx
    mov $BUF_OVER, %eax
    mov $4096, %edx
    call prd
    mov $BM_READ, %al
    call bm_setup
    mov lba_dma_rd, %ebx
    add $RD_SECTS + 128, %ebx
    mov $2, %cl
    mov $DEV0, %ch
    mov $0xc8, %al
    call issue
    mov $BM_READ, %al
    call bm_start
    mov $s_dma_over, %esi
    call puts
    mov $s_end, %esi
    call dma_end
    mov $s_dma_over, %esi
    mov $BUF_OVER, %edi
    mov $2, %ecx
    call sectors
    ret

/* READ DMA of 4 sectors into one 1 KiB entry: the PRDs are smaller. */
dma_short:
    xor %ecx, %ecx
    mov $1, %ebx
    mov $BUF_SHORT, %eax
    mov $1024, %edx
    call prd
    mov $BM_READ, %al
    call bm_setup
    mov lba_dma_rd, %ebx
    add $RD_SECTS + 130, %ebx
    mov $4, %cl
    mov $DEV0, %ch
    mov $0xc8, %al
    call issue
    mov $BM_READ, %al
    call bm_start
    mov $s_dma_short, %esi
    call puts
    mov $s_end, %esi
    call dma_end
    ret

/* WRITE DMA of 8 sectors of our pattern through 3 entries. */
dma_write:
    mov lba_dma_wr, %ebx
    mov $WR_SRC, %edi
    mov $WR_SECTS, %ecx
    mov seed, %edx
    xor $0xa5a5a5a5, %edx
    call pattern
    mov $WR_SRC, %esi
    mov $WR_A, %edi
    mov $WR_LEN_A, %ecx
    call copy
    mov $WR_SRC + WR_LEN_A, %esi
    mov $WR_B, %edi
    mov $WR_LEN_B, %ecx
    call copy
    mov $WR_SRC + WR_LEN_A + WR_LEN_B, %esi
    mov $WR_C, %edi
    mov $WR_LEN_C, %ecx
    call copy
    xor %ecx, %ecx
    xor %ebx, %ebx
    mov $WR_A, %eax
    mov $WR_LEN_A, %edx
    call prd
    inc %ecx
    mov $WR_B, %eax
    mov $WR_LEN_B, %edx
    call prd
    inc %ecx
    inc %ebx
    mov $WR_C, %eax
    mov $WR_LEN_C, %edx
    call prd
    xor %al, %al
    call bm_setup
    mov lba_dma_wr, %ebx
    mov $WR_SECTS, %cl
    mov $DEV0, %ch
    mov $0xca, %al                  /* WRITE DMA */
    call issue
    xor %al, %al
    call bm_start
    mov $s_dma_wr, %esi
    call puts
    mov $s_end, %esi
    call dma_end
    mov $s_dma_wr, %esi
    mov lba_dma_wr, %ebx
    mov $WR_SRC, %edi
    mov $WR_SECTS, %ecx
    call hashes
    ret

/* READ DMA of what the PIO and DMA writes put on the disk, "LBA hash" each. */
readback:
    mov lba_pio_wr, %ebx
    mov $PIO_WR_SECTS, %cl
    call readback_one
    mov lba_dma_wr, %ebx
    mov $WR_SECTS, %cl
    call readback_one
    ret
readback_one:
    push %ecx
    push %ebx
    movzbl %cl, %edx
    shl $9, %edx                    /* the PRD exactly the transfer */
    xor %ecx, %ecx
    mov $1, %ebx
    mov $BUF_BACK, %eax
    call prd
    pop %ebx
    pop %ecx
    mov $BM_READ, %al
    call bm_setup
    mov $DEV0, %ch
    mov $0xc8, %al
    call issue
    mov $BM_READ, %al
    call bm_start
    mov $s_back, %esi
    call puts
    mov $s_end, %esi
    call dma_end
    movzbl %cl, %ecx
    mov $s_back, %esi
    mov $BUF_BACK, %edi
    call hashes
    ret

/* WRITE DMA of 1 sector to the read-only slave. */
ro_write:
    mov $RO_BUF, %edi
    xor %ebx, %ebx
    mov $1, %ecx
    mov seed, %edx
    call pattern
    xor %ecx, %ecx
    mov $1, %ebx
    mov $RO_BUF, %eax
    mov $512, %edx
    call prd
    xor %al, %al
    call bm_setup
    xor %ebx, %ebx
    mov $1, %cl
    mov $DEV1, %ch
    mov $0xca, %al
    call issue
    xor %al, %al
    call bm_start
    mov $s_ro_wr, %esi
    call puts
    mov $s_end, %esi
    call dma_end
    ret

    .include "mb_lib.S"

    .data
    .p2align 3
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff        /* 0x08: flat 32-bit code */
    .quad 0x00cf92000000ffff        /* 0x10: flat data */
gdt_desc:
    .word gdt_desc - gdt - 1
    .long gdt
    .p2align 2
idt_desc:
    .word 256 * 8 - 1
    .long idt

k_piord:     .asciz " pio-rd="
k_piowr:     .asciz " pio-wr="
k_dmard:     .asciz " dma-rd="
k_dmawr:     .asciz " dma-wr="
k_seed:      .asciz " seed="
s_error:     .asciz "MB-IDE: error "
e_cmdline:   .asciz "no command line"
e_param:     .asciz "no hex number on the command line after"
e_unexpected: .asciz "unexpected interrupt or exception"
e_bar4:      .asciz "BAR4 is not an I/O BAR"
e_busy:      .asciz "the device stays busy"
e_drq:       .asciz "no DRQ for a PIO block"
s_pci:       .asciz "MB-IDE: pci id "
s_class:     .asciz " class "
s_bar4:      .asciz " bar4 "
s_cmd:       .asciz " command "
s_id0:       .asciz "MB-IDE: identify 0"
s_id1:       .asciz "MB-IDE: identify 1"
s_model:     .asciz " model '"
s_lba28:     .asciz "' lba28 "
s_lba48:     .asciz " lba48 "
s_status:    .asciz " status "
s_error2:    .asciz " error "
s_end:       .asciz "end"
s_pio_rd:    .asciz "MB-IDE: pio-read "
s_pio_wr:    .asciz "MB-IDE: pio-write "
s_past:      .asciz "MB-IDE: past-end lba "
s_afterpio:  .asciz "MB-IDE: after-pio\r\n"
s_dma_rd:    .asciz "MB-IDE: dma-read "
s_dma_64k:   .asciz "MB-IDE: dma-64k "
s_dma_over:  .asciz "MB-IDE: dma-over "
s_dma_short: .asciz "MB-IDE: dma-short "
s_dma_nm:    .asciz "MB-IDE: dma-nomaster "
s_wait:      .asciz "wait"
s_dma_wr:    .asciz "MB-IDE: dma-write "
s_back:      .asciz "MB-IDE: readback "
s_ro_wr:     .asciz "MB-IDE: ro-write "
s_irr:       .asciz " irr "
s_bm:        .asciz " bm "
s_alt:       .asciz " alt "
s_irq:       .asciz " irq "
s_stopped:   .asciz " stopped "
s_cleared:   .asciz " cleared "
s_done:      .asciz "MB-IDE: done\r\n"

    .bss
    .p2align 3
idt:
    .skip 256 * 8
cmdline:      .skip 4
bm_base:      .skip 4
disk_sectors: .skip 4
lba_pio_rd:   .skip 4
lba_pio_wr:   .skip 4
lba_dma_rd:   .skip 4
lba_dma_wr:   .skip 4
seed:         .skip 4
irq_count:    .skip 4
irq_status:   .skip 4
    .p2align 4
idbuf:
    .skip 512
stack:
    .skip 4096
stack_top:
