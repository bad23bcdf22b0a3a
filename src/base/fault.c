/* fault.c - the counter behind allocation-failure injection; see base.h. */
#include "base/base.h"

#include <stdatomic.h>

static atomic_ulong fail_at, attempts;

void ggb_fault_arm(unsigned long n)
{
    atomic_store(&attempts, 0);
    atomic_store(&fail_at, n);
}

unsigned long ggb_fault_count(void) { return atomic_load(&attempts); }

int ggb_fault_should_fail(void)
{
    unsigned long k = atomic_fetch_add(&attempts, 1) + 1;
    return k == atomic_load(&fail_at);
}
