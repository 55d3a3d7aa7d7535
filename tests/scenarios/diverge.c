/*
 * diverge: differs between variants on purpose. The harness gives each variant's agent a
 * different DIVERGE_TAG; reading the environment is no system call, so the first difference a
 * monitor can see is the write of the tag to stdout. Natively it just prints and exits 0.
 */
#include "common.h"

int main(void)
{
	scenario_init();
	const char *tag = getenv("DIVERGE_TAG");
	if (!tag) tag = "(unset)";
	printf("same on every variant\n");
	printf("tag: %s\n", tag);
	printf("diverge: done\n");
	return 0;
}
