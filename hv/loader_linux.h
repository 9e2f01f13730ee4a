/* Linux 32-bit boot protocol loader (bzImage, initrd, command line, e820). */
#ifndef RRVM_HV_LOADER_LINUX_H
#define RRVM_HV_LOADER_LINUX_H

#include <stdbool.h>
#include <stddef.h>

#include "hv/machine.h"

/* True if path is a bzImage (boot sector signature and the "HdrS" setup header). */
bool linux_is_bzimage(const char *path);
/* Loads the bzImage's protected-mode kernel at 1 MiB, the initrd high in RAM, builds
 * boot_params and enters the kernel's 32-bit entry point. Returns 0 or -1 (err). */
int linux_load(struct machine *m, const char *kernel_path, const char *append,
               const char *initrd_path, char *err, size_t errlen);

#endif
