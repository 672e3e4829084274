/* SPDX-License-Identifier: GPL-2.0-or-later */
/* COM1 output for our Multiboot test kernels (mb_kernel.S, mb_ide.S), pulled
 * in with `.include "mb_lib.S"` (as -I tests/boot). Polled, no interrupts;
 * every routine keeps all registers. */
    .text
/* putc: AL to COM1 once THR is empty (LSR bit 5) */
putc:
    push %edx
    push %eax
    mov $0x3fd, %dx
1:  in %dx, %al
    test $0x20, %al
    jz 1b
    pop %eax
    mov $0x3f8, %dx
    out %al, %dx
    pop %edx
    ret

/* puts: the NUL-terminated string at ESI */
puts:
    push %eax
    push %esi
1:  mov (%esi), %al
    test %al, %al
    jz 2f
    call putc
    inc %esi
    jmp 1b
2:  pop %esi
    pop %eax
    ret

space:
    push %eax
    mov $' ', %al
    call putc
    pop %eax
    ret

crlf:
    push %eax
    mov $'\r', %al
    call putc
    mov $'\n', %al
    call putc
    pop %eax
    ret

/* hexn: the low ECX nibbles of EDX, most significant first, upper case */
hexn:
    push %eax
    push %ecx
    push %edx
    push %ecx
    neg %cl
    add $8, %cl
    shl $2, %cl
    rol %cl, %edx           /* the first nibble to print on top */
    pop %ecx
1:  rol $4, %edx
    mov %dl, %al
    and $0x0f, %al
    add $'0', %al
    cmp $'9', %al
    jbe 2f
    add $7, %al
2:  call putc
    dec %ecx
    jnz 1b
    pop %edx
    pop %ecx
    pop %eax
    ret

/* hex32: EAX as 8 hex digits; hex16: AX as 4; hex8: AL as 2 */
hex32:
    push %ecx
    mov $8, %ecx
    jmp 1f
hex16:
    push %ecx
    mov $4, %ecx
    jmp 1f
hex8:
    push %ecx
    mov $2, %ecx
1:  push %edx
    mov %eax, %edx
    call hexn
    pop %edx
    pop %ecx
    ret

/* hexbytes: ECX bytes from ESI, two hex digits each, no separator */
hexbytes:
    push %eax
    push %ecx
    push %esi
    jecxz 2f
1:  mov (%esi), %al
    call hex8
    inc %esi
    dec %ecx
    jnz 1b
2:  pop %esi
    pop %ecx
    pop %eax
    ret
