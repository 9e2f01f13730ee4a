/* Multiboot v1 kernel loader, behaving as `qemu-system-i386 -kernel`. */
#ifndef RRVM_HV_LOADER_MULTIBOOT_H
#define RRVM_HV_LOADER_MULTIBOOT_H

#include <stddef.h>

#include "hv/machine.h"

/* Loads the multiboot kernel at kernel_path into m's RAM, builds the multiboot information
 * structure (command line "KERNEL_PATH APPEND" as QEMU passes it, memory map, modules) and
 * sets the vCPU to the entry state of the multiboot spec §3.2. initrd_list is NULL or
 * "FILE[ ARGS][,FILE[ ARGS]...]" as QEMU's -initrd. Returns 0, or -1 with a one-line
 * message naming the file and the problem in err. */
int multiboot_load(struct machine *m, const char *kernel_path, const char *append,
                   const char *initrd_list, char *err, size_t errlen);

#endif
