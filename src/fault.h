/* fault.h - allocation-failure injection, compiled in only with
 * -Dfault_injection=true (GG_FAULT_INJECTION). Tests arm it to make the Nth
 * allocation from now fail, for every N, and check each failure comes back
 * as a clean error that leaks nothing. */
#ifndef GG_FAULT_H
#define GG_FAULT_H

/* From now on, allocation number n (1 = the next one) fails, and only it.
 * 0 disarms. Resets the count. */
void gg__fault_arm(unsigned long n);

/* Allocations attempted since the last gg__fault_arm. */
unsigned long gg__fault_count(void);

/* Whether the allocation being attempted now must fail (counts it). */
int gg__fault_should_fail(void);

#endif
