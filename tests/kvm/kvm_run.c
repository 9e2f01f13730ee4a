/* A small KVM harness: the third oracle for the system test kernels, where hardware
 * virtualization really runs 32-bit paging guests.
 *
 *   kvm_run --probe            exit 0 if KVM runs a 32-bit paging guest correctly, else
 *                              77 with the reason (the caller reports the test skipped)
 *   kvm_run KERNEL [APPEND]    boots a multiboot kernel (rrvm's loader fills the RAM), COM1
 *                              output on stdout, isa-debug-exit at 0xF4 as under QEMU/rrvm;
 *                              exit 3 on a shutdown (triple fault), 5 on HLT, 70 on an
 *                              exit the harness does not model
 *
 * No interrupt controller or timer is modelled: only kernels that need none are compared.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv/loader_multiboot.h"
#include "hv/machine.h"

#define SKIP 77

struct vm {
    int kvm, vm, vcpu;
    struct kvm_run *run;
};

static int vm_open(struct vm *v, void *ram, uint64_t ram_size, char *why, size_t whylen) {
    v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (v->kvm < 0) {
        snprintf(why, whylen, "cannot open /dev/kvm: %s", strerror(errno));
        return -1;
    }
    if (ioctl(v->kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        snprintf(why, whylen, "unexpected KVM API version");
        return -1;
    }
    v->vm = ioctl(v->kvm, KVM_CREATE_VM, 0);
    if (v->vm < 0) {
        snprintf(why, whylen, "KVM_CREATE_VM failed: %s", strerror(errno));
        return -1;
    }
    struct kvm_userspace_memory_region mr = {.slot = 0,
                                             .guest_phys_addr = 0,
                                             .memory_size = ram_size,
                                             .userspace_addr = (uint64_t)(uintptr_t)ram};
    if (ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
        snprintf(why, whylen, "KVM_SET_USER_MEMORY_REGION failed: %s", strerror(errno));
        return -1;
    }
    v->vcpu = ioctl(v->vm, KVM_CREATE_VCPU, 0);
    if (v->vcpu < 0) {
        snprintf(why, whylen, "KVM_CREATE_VCPU failed: %s", strerror(errno));
        return -1;
    }
    int sz = ioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    v->run = sz > 0 ? mmap(NULL, (size_t)sz, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0)
                    : MAP_FAILED;
    if (v->run == MAP_FAILED) {
        snprintf(why, whylen, "cannot map the vCPU run area");
        return -1;
    }
    return 0;
}

static void flat_seg(struct kvm_segment *s, uint16_t sel, bool code) {
    memset(s, 0, sizeof *s);
    s->base = 0;
    s->limit = 0xffffffff;
    s->selector = sel;
    s->type = code ? 0xb : 0x3;
    s->present = 1;
    s->dpl = 0;
    s->db = 1;
    s->s = 1;
    s->g = 1;
}

/* Protected mode, flat segments, optionally paging with cr3; registers as multiboot says. */
static int set_state(struct vm *v, uint32_t eip, uint32_t eax, uint32_t ebx, uint32_t esp,
                     uint32_t cr0, uint32_t cr3, uint32_t cr4) {
    struct kvm_sregs sr;
    if (ioctl(v->vcpu, KVM_GET_SREGS, &sr) < 0) return -1;
    flat_seg(&sr.cs, 0x08, true);
    flat_seg(&sr.ds, 0x10, false);
    sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
    sr.cr0 = cr0;
    sr.cr3 = cr3;
    sr.cr4 = cr4;
    sr.efer = 0;
    if (ioctl(v->vcpu, KVM_SET_SREGS, &sr) < 0) return -1;
    struct kvm_regs r;
    memset(&r, 0, sizeof r);
    r.rip = eip;
    r.rax = eax;
    r.rbx = ebx;
    r.rsp = esp;
    r.rflags = 2;
    return ioctl(v->vcpu, KVM_SET_REGS, &r);
}

/* The probe guest at 0x1000: with paging on (a 4 MiB identity page at 0 and the same frame
 * mapped again at 0x400000), store through the alias, read back through the identity map,
 * and report the value on port 0xF4. */
static int probe(char *why, size_t whylen) {
    const uint64_t size = 8 << 20;
    uint8_t *ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ram == MAP_FAILED) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    uint32_t *pd = (uint32_t *)(ram + 0x3000);
    pd[0] = 0x000000e3; /* 0-4 MiB -> frame 0, P W PS A D */
    pd[1] = 0x000000e3; /* 4-8 MiB -> frame 0 again */
    static const uint8_t code[] = {
        0xc7, 0x05, 0x00, 0x20, 0x40, 0x00, 0x5a, 0x00, 0x00, 0x00, /* mov [0x402000], 0x5a */
        0xa1, 0x00, 0x20, 0x00, 0x00,                               /* mov eax, [0x2000] */
        0xe6, 0xf4,                                                 /* out 0xf4, al */
        0xf4,                                                       /* hlt */
    };
    memcpy(ram + 0x1000, code, sizeof code);
    struct vm v;
    if (vm_open(&v, ram, size, why, whylen) < 0) return -1;
    if (set_state(&v, 0x1000, 0, 0, 0x8000, CR0_PE | CR0_ET | CR0_PG, 0x3000, CR4_PSE) < 0) {
        snprintf(why, whylen, "setting 32-bit paging registers failed: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < 16; i++) {
        if (ioctl(v.vcpu, KVM_RUN, 0) < 0) {
            snprintf(why, whylen, "KVM_RUN failed: %s", strerror(errno));
            return -1;
        }
        struct kvm_run *r = v.run;
        if (r->exit_reason == KVM_EXIT_IO && r->io.direction == KVM_EXIT_IO_OUT &&
            r->io.port == 0xf4) {
            uint8_t val = *((uint8_t *)r + r->io.data_offset);
            if (val == 0x5a) return 0;
            snprintf(why, whylen,
                     "the probe guest read 0x%02x through paging instead of 0x5a: KVM here does "
                     "not run 32-bit paging guests correctly",
                     val);
            return -1;
        }
        if (r->exit_reason == KVM_EXIT_IO) continue;
        snprintf(why, whylen,
                 "the 32-bit paging probe guest stopped with KVM exit reason %u (e.g. %s): "
                 "KVM here does not run 32-bit paging guests correctly",
                 r->exit_reason,
                 r->exit_reason == KVM_EXIT_SHUTDOWN         ? "shutdown/triple fault"
                 : r->exit_reason == KVM_EXIT_INTERNAL_ERROR ? "internal error"
                 : r->exit_reason == KVM_EXIT_FAIL_ENTRY     ? "entry failure"
                                                             : "unexpected exit");
        return -1;
    }
    snprintf(why, whylen, "the probe guest did not finish");
    return -1;
}

static int run_kernel(const char *kernel, const char *append) {
    char err[512] = "";
    struct machine *m = machine_create(128, err, sizeof err);
    if (!m || multiboot_load(m, kernel, append, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "kvm_run: %s\n", err);
        return 2;
    }
    struct vm v;
    if (vm_open(&v, m->ram, m->ram_size, err, sizeof err) < 0 ||
        set_state(&v, m->cpu.eip, m->cpu.gpr[R_EAX], m->cpu.gpr[R_EBX], m->cpu.gpr[R_ESP],
                  CR0_PE | CR0_ET, 0, 0) < 0) {
        fprintf(stderr, "kvm_run: %s\n", err[0] ? err : strerror(errno));
        return 70;
    }
    for (;;) {
        if (ioctl(v.vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "kvm_run: KVM_RUN: %s\n", strerror(errno));
            return 70;
        }
        struct kvm_run *r = v.run;
        switch (r->exit_reason) {
        case KVM_EXIT_IO: {
            uint8_t *data = (uint8_t *)r + r->io.data_offset;
            for (uint32_t k = 0; k < r->io.count; k++, data += r->io.size) {
                if (r->io.direction == KVM_EXIT_IO_OUT) {
                    uint32_t val = 0;
                    memcpy(&val, data, r->io.size);
                    if (r->io.port == 0x3f8) {
                        putchar((int)(val & 0xff));
                    } else if (r->io.port == 0xf4) {
                        fflush(stdout);
                        return (int)(((val << 1) | 1) & 0xff);
                    }
                } else {
                    /* COM1 line status: transmitter empty; everything else floats high */
                    memset(data, r->io.port == 0x3fd ? 0x60 : 0xff, r->io.size);
                }
            }
            break;
        }
        case KVM_EXIT_HLT:
            fflush(stdout);
            fprintf(stderr, "kvm_run: guest halted\n");
            return 5;
        case KVM_EXIT_SHUTDOWN:
            fflush(stdout);
            fprintf(stderr, "kvm_run: shutdown (triple fault)\n");
            return 3;
        default:
            fflush(stdout);
            fprintf(stderr, "kvm_run: unhandled KVM exit %u\n", r->exit_reason);
            return 70;
        }
    }
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "--probe")) {
        char why[256] = "";
        if (probe(why, sizeof why) == 0) {
            printf("kvm_run: KVM runs 32-bit paging guests\n");
            return 0;
        }
        printf("kvm_run: SKIPPED: %s\n", why);
        return SKIP;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: kvm_run --probe | kvm_run KERNEL [APPEND]\n");
        return 2;
    }
    return run_kernel(argv[1], argc > 2 ? argv[2] : "");
}
