// mmu4k: turns the MMU on with the 4K granule (48-bit VA in TTBR0 and
// TTBR1) and writes a pattern through two aliases of one data page; see
// mmu.inc for the tables, addresses and pattern.
#define GRANULE_BITS 12
#define GUEST_NAME "mmu4k"
#include "mmu.inc"
