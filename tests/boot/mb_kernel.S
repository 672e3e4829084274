/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A Multiboot 1 kernel of ours for tests/boot/test_multiboot.sh, assembled
 * at test time (as --32; ld -m elf_i386 -Ttext 0x100000, as ELF, or with
 * --defsym AOUT=1 as a flat binary whose header carries the a.out kludge's
 * address fields; as -I tests/boot for mb_lib.S, the COM1 output it shares
 * with mb_ide.S). It prints over COM1 what the loader gave it: EAX, the
 * info flags, memory sizes, command line, boot loader name, every memory
 * map entry, and each module's string, size and first bytes; then halts
 * with interrupts off (lbvm exits 0). */
    .code32
    .set MB_MAGIC, 0x1badb002
.ifdef AOUT
    .set MB_FLAGS, 0x00010003
.else
    .set MB_FLAGS, 0x00000003
.endif
    .text
    .globl _start, entry
_start:
mb_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
.ifdef AOUT
    .long mb_header, _start, _edata, _end, entry
.endif

entry:
    mov $stack_top, %esp
    mov %ebx, %ebp
    mov $s_magic, %esi
    call puts
    call hex32
    call crlf
    mov $s_flags, %esi
    call puts
    mov 0(%ebp), %eax
    call hex32
    call crlf
    mov $s_mem, %esi
    call puts
    mov 4(%ebp), %eax
    call hex32
    call space
    mov 8(%ebp), %eax
    call hex32
    call crlf
    mov $s_cmdline, %esi
    call puts
    mov 16(%ebp), %esi
    call puts
    call crlf
    mov $s_loader, %esi
    call puts
    mov 64(%ebp), %esi
    call puts
    call crlf
    /* memory map: entries of size+4 bytes from mmap_addr for mmap_length */
    mov 48(%ebp), %edi
    mov 44(%ebp), %ecx
    add %edi, %ecx
1:  cmp %ecx, %edi
    jae 2f
    mov $s_mmap, %esi
    call puts
    mov 8(%edi), %eax
    call hex32
    mov 4(%edi), %eax
    call hex32
    call space
    mov 16(%edi), %eax
    call hex32
    mov 12(%edi), %eax
    call hex32
    call space
    mov 20(%edi), %eax
    call hex32
    call crlf
    add 0(%edi), %edi
    add $4, %edi
    jmp 1b
2:  /* modules */
    mov $s_mods, %esi
    call puts
    mov 20(%ebp), %eax
    call hex32
    call crlf
    mov 24(%ebp), %edi
    mov 20(%ebp), %ecx
3:  test %ecx, %ecx
    jz 5f
    mov $s_mod, %esi
    call puts
    mov 8(%edi), %esi
    call puts
    call space
    mov 4(%edi), %eax
    sub 0(%edi), %eax
    call hex32
    call space
    mov 0(%edi), %eax
    test $0xfff, %eax
    jnz 6f
    mov $s_aligned, %esi
    call puts
6:  /* the module's bytes up to the first newline or 64 bytes */
    mov 0(%edi), %esi
    mov 4(%edi), %edx
    mov $64, %ebx
4:  cmp %edx, %esi
    jae 7f
    mov (%esi), %al
    cmp $10, %al
    je 7f
    call putc
    inc %esi
    dec %ebx
    jnz 4b
7:  call crlf
    add $16, %edi
    dec %ecx
    jmp 3b
5:  mov $s_done, %esi
    call puts
    cli
    hlt

    .include "mb_lib.S"

    .data
s_magic:   .asciz "MB-TEST: magic "
s_flags:   .asciz "MB-TEST: info flags "
s_mem:     .asciz "MB-TEST: mem lower/upper "
s_cmdline: .asciz "MB-TEST: cmdline "
s_loader:  .asciz "MB-TEST: loader "
s_mmap:    .asciz "MB-TEST: mmap "
s_mods:    .asciz "MB-TEST: modules "
s_mod:     .asciz "MB-TEST: module "
s_aligned: .asciz "page-aligned "
s_done:    .asciz "MB-TEST: done\r\n"

    .bss
    .p2align 4
stack:
    .skip 4096
stack_top:
