/* Entry into / exit from one test case for native_runner (32-bit, cdecl).
 *   void rc_enter(void): loads g_in (eax..edi, eflags) and jumps to g_code.
 * The exit stubs written next to the instruction store their own address into g_marker
 * and jump to rc_exit, which saves every register and EFLAGS into g_out and returns from
 * rc_enter. Nothing between the instruction and the save touches the flags or the stack. */
    .intel_syntax noprefix
    .text
    .globl rc_enter
    .globl rc_exit
rc_enter:
    push ebp
    push ebx
    push esi
    push edi
    mov [g_host_esp], esp
    push dword ptr [g_in + 32]
    popfd
    mov eax, [g_in + 0]
    mov ecx, [g_in + 4]
    mov edx, [g_in + 8]
    mov ebx, [g_in + 12]
    mov ebp, [g_in + 20]
    mov esi, [g_in + 24]
    mov edi, [g_in + 28]
    mov esp, [g_in + 16]
    jmp dword ptr [g_code]
rc_exit:
    mov [g_out + 0], eax
    mov [g_out + 4], ecx
    mov [g_out + 8], edx
    mov [g_out + 12], ebx
    mov [g_out + 16], esp
    mov [g_out + 20], ebp
    mov [g_out + 24], esi
    mov [g_out + 28], edi
    mov esp, [g_host_esp]
    pushfd
    pop dword ptr [g_out + 32]
    cld
    pop edi
    pop esi
    pop ebx
    pop ebp
    ret
    .section .note.GNU-stack,"",@progbits
