# Reset vector and mode switches: 16-bit real mode -> 32-bit protected mode -> 64-bit long mode.
# Intel SDM vol. 3A section 9.1 (processor state after reset) and 9.8/9.9 (switching modes).
#
# The CPU starts at 0xFFFFFFF0 with CS.base = 0xFFFF0000, so the 16-bit code lives in the last 64 KiB of flash and
# addresses its data through CS. Everything here runs in place from flash; it copies the Rust image to RAM, clears
# .bss, builds identity page tables for the first 4 GiB (2 MiB pages) and jumps to `entry64` in RAM.

.section .reset, "ax"
.code16
.global reset_vector
reset_vector:
    cli
    jmp rom16_start
    .balign 16, 0xf4

.section .rom, "ax"
.code16
rom16_start:
    cld
    # Fast A20 gate (port 0x92 bit 1), without touching the reset bit 0.
    inb $0x92, %al
    orb $0x02, %al
    andb $0xfe, %al
    outb %al, $0x92
    # 32-bit GDT base: data32 prefix so all 32 bits of the base load.
    lgdtl %cs:(rom_gdt_descriptor - 0xffff0000)
    movl %cr0, %eax
    orl $0x1, %eax
    movl %eax, %cr0
    ljmpl $0x08, $rom32_start

.code32
rom32_start:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    # Copy the image (.text, .rodata, .data) from flash to RAM.
    movl $rom_image_lma, %esi
    movl $image_start, %edi
    movl $image_copy_dwords, %ecx
    rep movsl
    # Clear .bss.
    xorl %eax, %eax
    movl $bss_start, %edi
    movl $bss_dwords, %ecx
    rep stosl
    # Page tables: PML4, PDPT and four page directories, 6 pages.
    movl $boot_page_tables, %ebx
    movl %ebx, %edi
    movl $(6 * 1024), %ecx
    rep stosl
    leal 0x1003(%ebx), %eax          # PML4[0] -> PDPT, present | writable
    movl %eax, (%ebx)
    leal 0x2003(%ebx), %eax          # PDPT[0..4] -> PD0..PD3
    movl %eax, 0x1000(%ebx)
    leal 0x3003(%ebx), %eax
    movl %eax, 0x1008(%ebx)
    leal 0x4003(%ebx), %eax
    movl %eax, 0x1010(%ebx)
    leal 0x5003(%ebx), %eax
    movl %eax, 0x1018(%ebx)
    leal 0x2000(%ebx), %edi          # 2048 PDEs: 2 MiB pages, present | writable | page size
    movl $0x83, %eax
    movl $2048, %ecx
1:  movl %eax, (%edi)
    addl $0x200000, %eax
    addl $8, %edi
    loop 1b
    # CR4: PAE, OSFXSR, OSXMMEXCPT (UEFI 2.10 section 2.3.4 requires SSE usable by images).
    movl %cr4, %eax
    orl $0x620, %eax
    movl %eax, %cr4
    movl %ebx, %cr3
    # EFER.LME
    movl $0xc0000080, %ecx
    rdmsr
    orl $0x100, %eax
    wrmsr
    # CR0: paging + protection, caches on (clear CD/NW), FPU native (clear EM, set MP, NE).
    movl %cr0, %eax
    andl $0x9ffffffb, %eax
    orl $0x80000023, %eax
    movl %eax, %cr0
    ljmpl $0x18, $entry64

.balign 8
rom_gdt:
    .quad 0                          # null
    .quad 0x00cf9a000000ffff         # 0x08: 32-bit code, flat
    .quad 0x00cf92000000ffff         # 0x10: data, flat
    .quad 0x00af9a000000ffff         # 0x18: 64-bit code
rom_gdt_end:
rom_gdt_descriptor:
    .word rom_gdt_end - rom_gdt - 1
    .long rom_gdt

# 64-bit entry, in RAM. Loads the RAM copy of the GDT so nothing refers to flash any more.
.section .text.entry64, "ax"
.code64
.global entry64
entry64:
    lgdt gdt_descriptor(%rip)
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    leaq stack_top(%rip), %rsp
    fninit
    # Reload CS with the RAM GDT's 64-bit selector through a far return.
    pushq $0x18
    leaq 2f(%rip), %rax
    pushq %rax
    lretq
2:  xorl %ebp, %ebp
    call rust_main
3:  cli
    hlt
    jmp 3b

.section .rodata.gdt, "a"
.balign 16
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00cf92000000ffff
    .quad 0x00af9a000000ffff
gdt_end:
.balign 2
gdt_descriptor:
    .word gdt_end - gdt - 1
    .quad gdt
