// SPDX-License-Identifier: MIT
/*
 * The vDSO answers time calls without entering the kernel, so no interposer would see them.
 * Each time function's entry is overwritten with a real system call of the same number; the
 * call then traps like any other and the leader's clock is replicated.
 *
 * The patch lives in the process's copy of the vDSO page, which CRIU does not restore: it maps
 * the kernel's pristine vDSO again at the dumped address ("remap inplace"), or proxies the
 * dumped one to it. A restored process must patch it again, else its time calls no longer trap
 * and its stream is not the one it logged or its peers make.
 */
#include <elf.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>

#include "a8/raw.h"
#include "proc.h"
#include "util.h"

struct vdso_fn {
	const char *name;
	long nr;
};

#if defined(__x86_64__)
static const struct vdso_fn fns[] = {
	{ "__vdso_clock_gettime", SYS_clock_gettime },
	{ "__vdso_gettimeofday", SYS_gettimeofday },
	{ "__vdso_time", SYS_time },
	{ "__vdso_getcpu", SYS_getcpu },
	{ "__vdso_clock_getres", SYS_clock_getres },
};

/* mov $nr, %eax; syscall; ret */
static int patch_code(uint8_t *p, long nr)
{
	uint8_t code[] = { 0xb8, 0, 0, 0, 0, 0x0f, 0x05, 0xc3 };
	uint32_t n = (uint32_t)nr;

	memcpy(code + 1, &n, 4);
	memcpy(p, code, sizeof(code));
	return 0;
}
#elif defined(__aarch64__)
static const struct vdso_fn fns[] = {
	{ "__kernel_clock_gettime", SYS_clock_gettime },
	{ "__kernel_gettimeofday", SYS_gettimeofday },
	{ "__kernel_clock_getres", SYS_clock_getres },
};

/* mov x8, #nr; svc #0; ret */
static int patch_code(uint8_t *p, long nr)
{
	uint32_t code[] = { 0xd2800008u | ((uint32_t)nr << 5), 0xd4000001u, 0xd65f03c0u };

	memcpy(p, code, sizeof(code));
	return 0;
}
#endif

struct dynsyms {
	const Elf64_Sym *sym;
	const char *str;
	uint32_t nsym;
};

static int find_dynsyms(uintptr_t base, struct dynsyms *d)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(base + eh->e_shoff);
	int i;

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || !eh->e_shoff)
		return -1;
	for (i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_DYNSYM)
			continue;
		d->sym = (const Elf64_Sym *)(base + sh[i].sh_offset);
		d->nsym = (uint32_t)(sh[i].sh_size / sizeof(Elf64_Sym));
		d->str = (const char *)(base + sh[sh[i].sh_link].sh_offset);
		return 0;
	}
	return -1;
}

static size_t vdso_size(uintptr_t base)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	size_t end = 0;
	int i;

	for (i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr + ph[i].p_memsz > end)
			end = ph[i].p_vaddr + ph[i].p_memsz;
	return (end + 4095) & ~(size_t)4095;
}

/* Whether the vDSO of this process was patched: a restored one must be patched again. */
static bool patched;

static int patch(void)
{
	uintptr_t base = getauxval(AT_SYSINFO_EHDR);
	struct dynsyms d;
	size_t size, i;
	uint32_t k;
	long err;

	if (!base || find_dynsyms(base, &d))
		return 0;
	size = vdso_size(base);
	err = a8_sys3(SYS_mprotect, base, size, PROT_READ | PROT_WRITE | PROT_EXEC);
	if (err < 0)
		return (int)err;
	for (k = 0; k < d.nsym; k++) {
		const char *name = d.str + d.sym[k].st_name;

		if (ELF64_ST_TYPE(d.sym[k].st_info) != STT_FUNC || !d.sym[k].st_value)
			continue;
		for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
			if (!strcmp(name, fns[i].name))
				patch_code((uint8_t *)(base + d.sym[k].st_value), fns[i].nr);
	}
	err = a8_sys3(SYS_mprotect, base, size, PROT_READ | PROT_EXEC);
	if (err < 0)
		return (int)err;
	return 1;
}

void a8_vdso_patch(void)
{
	int r = patch();

	if (r < 0)
		a8_log(A8_LOG_WARN, SYS_mprotect, "vDSO not writable: time calls not interposed");
	patched = r > 0;
}

void a8_vdso_repatch(void)
{
	int r;

	if (!patched)
		return;
	r = patch();
	if (r <= 0)
		a8_fatal("internal", "", 0, "cannot patch the restored vDSO again (%d)", r);
}
