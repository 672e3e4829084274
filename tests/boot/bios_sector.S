/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A boot disk of ours for tests/boot/test_bios.sh: it uses each BIOS service
 * lbvm's BIOS offers a boot sector and prints what it got on the console.
 * Assembled at test time: as --32 + ld -m elf_i386 -Ttext 0x7c00 --oformat
 * binary. Sector 0 (the MBR) loads sectors 1-3 (the rest of this file) with
 * int 13h AH=42h one sector per call, as builder-hex0's stage1 does, then:
 * int 13h 41h/08h/48h/02h, a write (43h) and read back (42h) at LBA 40, the
 * E820 map, A20 (2402h/2401h/2403h), int 11h/12h, then waits for the BDA
 * tick count to move (IRQ0 through the PIC and the IVT), and ends with a far
 * jump to F000:FFF0, the reset vector. The test puts a marker at LBA 32. */
    .code16
    .text
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7c00, %sp
    sti
    mov %dl, drive
    mov $s_hello, %si
    call puts
    /* sectors 1..3 to 0x7e00, one per call */
    mov $1, %bx
1:  mov %bx, dap_lba
    mov %bx, %ax
    dec %ax
    shl $9, %ax
    add $0x7e00, %ax
    mov %ax, dap_off
    movw $1, dap_count
    mov $dap, %si
    mov $0x42, %ah
    mov drive, %dl
    int $0x13
    jc load_fail
    inc %bx
    cmp $4, %bx
    jne 1b
    jmp stage2

load_fail:
    mov $s_loadfail, %si
    call puts
    cli
    hlt

/* puts: the NUL-terminated string at DS:SI, through int 10h AH=0Eh */
puts:
    push %ax
    push %bx
1:  lodsb
    test %al, %al
    jz 2f
    mov $0x0e, %ah
    mov $0x0007, %bx
    int $0x10
    jmp 1b
2:  pop %bx
    pop %ax
    ret

drive: .byte 0
    .p2align 2
dap:      .byte 16, 0
dap_count: .word 1
dap_off:  .word 0x7e00
dap_seg:  .word 0
dap_lba:  .long 1, 0

s_hello:    .asciz "BIOS-TEST: hello from the boot sector\r\n"
s_loadfail: .asciz "BIOS-TEST: loading sectors 1-3 failed\r\n"

    .org 510
    .byte 0x55, 0xaa

/* ---- sector 1 onwards ---- */
stage2:
    mov $s_loaded, %si
    call puts
    mov $s_drive, %si
    call puts
    mov drive, %al
    call hex8
    call crlf

    /* EDD installation check */
    mov $0x41, %ah
    mov $0x55aa, %bx
    mov drive, %dl
    int $0x13
    jc 1f
    cmp $0xaa55, %bx
    jne 1f
    mov $s_edd, %si
    call puts
    mov %ah, %al
    call hex8
    mov $s_sp, %si
    call puts
    mov %cx, %ax
    call hex16
    call crlf
    jmp 2f
1:  mov $s_noedd, %si
    call puts
2:
    /* int 13h 08h: geometry */
    mov $0x08, %ah
    mov drive, %dl
    int $0x13
    jc 1f
    push %dx
    mov $s_geom, %si
    call puts
    mov %cx, %ax
    call hex16
    mov $s_sp, %si
    call puts
    pop %ax
    call hex16
    call crlf
1:
    /* int 13h 48h: drive parameters, total sectors */
    movw $26, 0x6000
    mov $0x6000, %si
    mov $0x48, %ah
    mov drive, %dl
    int $0x13
    jc 1f
    mov $s_sectors, %si
    call puts
    mov 0x6010, %eax
    call hex32
    call crlf
1:
    /* the marker at LBA 32 through an extended read */
    movw $0x9000, dap_off
    movl $32, dap_lba
    movw $1, dap_count
    mov $dap, %si
    mov $0x42, %ah
    mov drive, %dl
    int $0x13
    jc 1f
    movb $0, 0x9000 + 40
    mov $s_read, %si
    call puts
    mov $0x9000, %si
    call puts
    call crlf
1:
    /* the same through CHS: LBA 32 = cylinder 0, head 0, sector 33 */
    mov $0x0201, %ax
    mov $0x0021, %cx
    mov $0x00, %dh
    mov drive, %dl
    mov $0xa000, %bx
    int $0x13
    jc 1f
    mov $0x9000, %si
    mov $0xa000, %di
    mov $20, %cx
    repe cmpsw
    jne 1f
    mov $s_chs, %si
    call puts
1:
    /* write a sector at LBA 40, clear the buffer, read it back */
    mov $0xb000, %di
    mov $s_wpat, %si
2:  lodsb
    stosb
    test %al, %al
    jnz 2b
    movw $0xb000, dap_off
    movl $40, dap_lba
    movw $1, dap_count
    mov $dap, %si
    mov $0x43, %ah
    mov $0, %al
    mov drive, %dl
    int $0x13
    jc 3f
    mov $0xb000, %di
    mov $256, %cx
    xor %ax, %ax
    rep stosw
    movw $1, dap_count
    mov $dap, %si
    mov $0x42, %ah
    mov drive, %dl
    int $0x13
    jc 3f
    mov $s_back, %si
    call puts
    mov $0xb000, %si
    call puts
    call crlf
    jmp 4f
3:  mov $s_wfail, %si
    call puts
4:
    /* a read past the end of the disk must fail with CF set */
    movl $0x7fffffff, dap_lba
    movw $1, dap_count
    mov $dap, %si
    mov $0x42, %ah
    mov drive, %dl
    int $0x13
    jnc 1f
    mov $s_pastend, %si
    call puts
    mov %ah, %al
    call hex8
    call crlf
1:
    /* E820 */
    xor %ebx, %ebx
1:  mov $0xe820, %eax
    mov $0x534d4150, %edx
    mov $24, %ecx
    mov $0x6000, %di
    int $0x15
    jc 2f
    cmp $0x534d4150, %eax
    jne 2f
    mov $s_e820, %si
    call puts
    mov 0x6004, %eax
    call hex32
    mov 0x6000, %eax
    call hex32
    mov $s_sp, %si
    call puts
    mov 0x600c, %eax
    call hex32
    mov 0x6008, %eax
    call hex32
    mov $s_sp, %si
    call puts
    mov 0x6010, %al
    call hex8
    call crlf
    test %ebx, %ebx
    jnz 1b
2:
    /* A20 */
    mov $0x2402, %ax
    int $0x15
    jc 1f
    mov $s_a20, %si
    call puts
    call hex8
    call crlf
1:  mov $0x2401, %ax
    int $0x15
    jc 1f
    mov $s_a20on, %si
    call puts
1:  mov $0x2403, %ax
    int $0x15
    jc 1f
    mov $s_a20sup, %si
    call puts
    mov %bx, %ax
    call hex16
    call crlf
1:
    /* int 12h, int 11h */
    int $0x12
    mov $s_mem, %si
    call puts
    call hex16
    call crlf
    int $0x11
    mov $s_equip, %si
    call puts
    call hex16
    call crlf

    /* the timer: IRQ0 through the PIC and the IVT moves the BDA tick count */
    sti
    mov 0x46c, %ebx
1:  hlt
    cmp 0x46c, %ebx
    je 1b
    mov $s_tick, %si
    call puts

    mov $s_done, %si
    call puts
    ljmp $0xf000, $0xfff0

crlf:
    push %si
    mov $s_crlf, %si
    call puts
    pop %si
    ret

hex32:
    push %eax
    shr $16, %eax
    call hex16
    pop %eax
hex16:
    push %ax
    mov %ah, %al
    call hex8
    pop %ax
hex8:
    push %ax
    shr $4, %al
    call hex4
    pop %ax
hex4:
    push %ax
    push %bx
    and $0x0f, %al
    add $'0', %al
    cmp $'9', %al
    jbe 1f
    add $7, %al
1:  mov $0x0e, %ah
    mov $0x0007, %bx
    int $0x10
    pop %bx
    pop %ax
    ret

s_loaded:   .asciz "BIOS-TEST: sectors 1-3 loaded\r\n"
s_drive:    .asciz "BIOS-TEST: boot drive "
s_edd:      .asciz "BIOS-TEST: edd version "
s_noedd:    .asciz "BIOS-TEST: no edd\r\n"
s_geom:     .asciz "BIOS-TEST: chs params "
s_sectors:  .asciz "BIOS-TEST: sectors "
s_read:     .asciz "BIOS-TEST: lba 32 says "
s_chs:      .asciz "BIOS-TEST: chs read matches\r\n"
s_wpat:     .asciz "written by the guest at lba 40"
s_back:     .asciz "BIOS-TEST: read back "
s_wfail:    .asciz "BIOS-TEST: write or read back failed\r\n"
s_pastend:  .asciz "BIOS-TEST: read past the end refused, status "
s_e820:     .asciz "BIOS-TEST: e820 "
s_a20:      .asciz "BIOS-TEST: a20 status "
s_a20on:    .asciz "BIOS-TEST: a20 enabled\r\n"
s_a20sup:   .asciz "BIOS-TEST: a20 support "
s_mem:      .asciz "BIOS-TEST: base memory kib "
s_equip:    .asciz "BIOS-TEST: equipment "
s_tick:     .asciz "BIOS-TEST: timer ticked\r\n"
s_done:     .asciz "BIOS-TEST: done\r\n"
s_sp:       .asciz " "
s_crlf:     .asciz "\r\n"
    .org 2048
