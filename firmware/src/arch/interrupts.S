# Interrupt entry stubs (Intel SDM vol. 3A chapter 6).
#
# Exceptions 0..31: each stub pushes a dummy error code where the CPU pushes none, then its vector, and joins
# `exception_common`, which saves the general registers and calls `exception_handler(&ExceptionFrame)` (never
# returns). The timer stub saves the caller-saved registers, calls `timer_interrupt()` and returns with iretq.

.section .text.interrupts, "ax"
.code64

.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
exception_stub_\vec:
.if (\vec == 8) || (\vec == 10) || (\vec == 11) || (\vec == 12) || (\vec == 13) || (\vec == 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
.else
    pushq $0
.endif
    pushq $\vec
    jmp exception_common
.endr

exception_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    # The CPU aligned RSP to 16 before its 5-word frame; with error code, vector and 15 registers RSP is aligned.
    call exception_handler
1:  cli
    hlt
    jmp 1b

.global timer_interrupt_stub
timer_interrupt_stub:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    # 9 pushes + 5-word frame: RSP is 8 off a 16-byte boundary; realign around the call.
    movq %rsp, %rax
    andq $-16, %rsp
    pushq %rax
    subq $8, %rsp
    cld
    call timer_interrupt
    addq $8, %rsp
    popq %rsp
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    iretq

.global spurious_interrupt_stub
spurious_interrupt_stub:
    iretq

.section .rodata.exception_stubs, "a"
.balign 8
.global exception_stub_table
exception_stub_table:
.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad exception_stub_\vec
.endr
