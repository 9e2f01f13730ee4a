/* The soft TLB used by translated code: one 64-bit addend per guest linear page, so that
 * host address = guest linear address + addend (read half, then write half at
 * TLB_WRITE_OFFSET). A missing translation holds the guard region's base: the access then
 * faults inside the guard reservation and the fault address minus the guard base is the
 * guest linear address. Nothing flag-clobbering is needed inline (see translate/emit).
 *
 *   guest linear:  | vpn (20 bits) | offset (12) |
 *   tlb[vpn]       = host page base - (vpn << 12)          readable
 *   tlb[2^20+vpn]  = same, or guard base if not writable / page holds translated code
 */
#ifndef RRVM_HV_SOFTTLB_H
#define RRVM_HV_SOFTTLB_H

#include <stdbool.h>
#include <stdint.h>

struct machine;

#define TLB_PAGES (1u << 20)
#define TLB_WRITE_OFFSET (TLB_PAGES * 8u)

bool softtlb_init(struct machine *m);
void softtlb_free(struct machine *m);
void softtlb_flush(struct machine *m);
/* Fills the entry for linear page vpn after a miss. Returns false if vpn has no RAM. */
bool softtlb_fill(struct machine *m, uint32_t vpn, bool write);
/* Makes stores to guest page pn miss, because CCFs were translated from it. */
void softtlb_protect_code(struct machine *m, uint32_t pn);
/* Reserves bytes of PROT_NONE address space starting at a 4 GiB boundary, so that the low
 * 32 bits of (base + guest address) are the guest address (translated string
 * instructions rely on it while linear = physical). Returns NULL on failure. */
void *reserve_4g_aligned(uint64_t bytes);
void unreserve_4g_aligned(void *p, uint64_t bytes);
/* Host address range of the guard reservation. */
uint8_t *softtlb_guard(const struct machine *m);

#endif
