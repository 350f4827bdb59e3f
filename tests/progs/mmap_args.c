// Edge values of mmap, munmap, mprotect, madvise, msync, mremap and mincore: unaligned
// addresses, zero and huge lengths (lengths that round up past the top of the address range),
// offsets plus lengths that overflow, unknown flags. Each answer is Linux's, through the raw
// system call (glibc checks some values itself).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

static void res(const char *what, long r) {
  if (r == -1) printf("%s: %s\n", what, strerror(errno));
  else printf("%s: ok\n", what);
}

// Every argument a full 64-bit value (an int literal passed through syscall()'s varargs leaves
// the upper half of its register undefined).
static long sc(long n, long a, long b, long c, long d, long e, long f) {
  return syscall(n, a, b, c, d, e, f);
}
#define SC_(n, a, b, c, d, e, f, ...) \
  sc(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))
#define SC(n, ...) SC_(n, __VA_ARGS__, 0, 0, 0, 0, 0, 0)
#define MMAP(a, l, p, f, fd, o) SC(SYS_mmap, a, l, p, f, fd, o)

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  long pg = sysconf(_SC_PAGESIZE);
  const unsigned long huge = ~0UL;           // rounds up to 0
  const unsigned long top = 0x7ffffffff000UL; // the end of the user address range
  int anon = MAP_PRIVATE | MAP_ANONYMOUS;

  // mmap.
  res("mmap length 0", MMAP(0, 0, PROT_READ, anon, -1, 0));
  res("mmap length ~0", MMAP(0, huge, PROT_READ, anon, -1, 0));
  res("mmap length ~0 - page", MMAP(0, huge - pg, PROT_READ, anon, -1, 0));
  res("mmap length 1 << 47", MMAP(0, 1UL << 47, PROT_READ, anon, -1, 0));
  res("mmap unaligned offset", MMAP(0, pg, PROT_READ, anon, -1, 1));
  res("mmap no type", MMAP(0, pg, PROT_READ, MAP_ANONYMOUS, -1, 0));
  res("mmap anonymous MAP_SHARED_VALIDATE",
      MMAP(0, pg, PROT_READ, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0));
  res("mmap unknown prot bit", MMAP(0, pg, PROT_READ | 0x100, anon, -1, 0));
  res("mmap fixed unaligned", MMAP(0x10000001UL, pg, PROT_READ, anon | MAP_FIXED, -1, 0));
  res("mmap fixed past the top", MMAP(top - pg, 2 * pg, PROT_READ, anon | MAP_FIXED, -1, 0));
  res("mmap fixed in the kernel's half",
      MMAP(0xffff800000000000UL, pg, PROT_READ, anon | MAP_FIXED, -1, 0));
  res("mmap hint past the top", MMAP(0xffff800000000000UL, pg, PROT_READ, anon, -1, 0));
  int fd = open("/proc/self/exe", O_RDONLY);
  res("mmap file offset + length overflow",
      MMAP(0, 4 * pg, PROT_READ, MAP_PRIVATE, fd, 0xfffffffffffff000UL));
  res("mmap file length ~0", MMAP(0, huge, PROT_READ, MAP_PRIVATE, fd, 0));
  res("mmap file MAP_SHARED_VALIDATE", MMAP(0, pg, PROT_READ, MAP_SHARED_VALIDATE, fd, 0));
  res("mmap file MAP_SHARED_VALIDATE | MAP_SYNC",
      MMAP(0, pg, PROT_READ, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0));
  close(fd);

  char *p = (char *)MMAP(0, 4 * pg, PROT_READ | PROT_WRITE, anon, -1, 0);
  // The last two pages go: an unmapped hole after two mapped pages.
  munmap(p + 2 * pg, 2 * pg);

  // munmap.
  res("munmap unaligned", SC(SYS_munmap, p + 1, pg));
  res("munmap length 0", SC(SYS_munmap, p, 0));
  res("munmap length ~0", SC(SYS_munmap, p, huge));
  res("munmap in the kernel's half", SC(SYS_munmap, 0xffff800000000000UL, pg));
  res("munmap across the top", SC(SYS_munmap, top - pg, 2 * pg));
  res("munmap nothing mapped", SC(SYS_munmap, p + 2 * pg, pg));

  // mprotect.
  res("mprotect unaligned", SC(SYS_mprotect, p + 1, pg, PROT_READ));
  res("mprotect length 0", SC(SYS_mprotect, p, 0, PROT_READ));
  res("mprotect length ~0", SC(SYS_mprotect, p, huge, PROT_READ));
  res("mprotect unknown prot bit", SC(SYS_mprotect, p, pg, PROT_READ | 0x10));
  res("mprotect PROT_GROWSDOWN on plain memory",
      SC(SYS_mprotect, p, pg, PROT_READ | PROT_GROWSDOWN));
  res("mprotect PROT_SEM", SC(SYS_mprotect, p, pg, PROT_READ | PROT_WRITE | 0x8));
  volatile char on_stack = 0;
  res("mprotect PROT_GROWSDOWN on the stack",
      SC(SYS_mprotect, (uintptr_t)&on_stack & ~(pg - 1), pg,
         PROT_READ | PROT_WRITE | PROT_GROWSDOWN));
  res("mprotect PROT_GROWSUP on the stack",
      SC(SYS_mprotect, (uintptr_t)&on_stack & ~(pg - 1), pg, PROT_READ | PROT_GROWSUP));
  res("mprotect into a hole", SC(SYS_mprotect, p, 3 * pg, PROT_READ));
  res("mprotect across the top", SC(SYS_mprotect, top - pg, 2 * pg, PROT_READ));
  res("mprotect unaligned length", SC(SYS_mprotect, p, pg + 1, PROT_READ | PROT_WRITE));

  // madvise.
  res("madvise unaligned", SC(SYS_madvise, p + 1, pg, MADV_DONTNEED));
  res("madvise length 0", SC(SYS_madvise, p, 0, MADV_DONTNEED));
  res("madvise length ~0", SC(SYS_madvise, p, huge, MADV_DONTNEED));
  res("madvise length wrapping", SC(SYS_madvise, p, -(uintptr_t)p, MADV_NORMAL));
  res("madvise unknown advice", SC(SYS_madvise, p, pg, 1000));
  res("madvise into a hole", SC(SYS_madvise, p, 3 * pg, MADV_DONTNEED));
  res("madvise nothing mapped", SC(SYS_madvise, p + 2 * pg, pg, MADV_NORMAL));

  // msync.
  res("msync unaligned", SC(SYS_msync, p + 1, pg, MS_SYNC));
  res("msync length 0", SC(SYS_msync, p, 0, MS_SYNC));
  res("msync length ~0", SC(SYS_msync, p, huge, MS_SYNC));
  res("msync length wrapping", SC(SYS_msync, p, -(uintptr_t)p - 2 * pg, MS_SYNC));
  res("msync unknown flag", SC(SYS_msync, p, pg, 8));
  res("msync MS_ASYNC | MS_SYNC", SC(SYS_msync, p, pg, MS_ASYNC | MS_SYNC));
  res("msync into a hole", SC(SYS_msync, p, 3 * pg, MS_SYNC));

  // mincore.
  unsigned char vec[8];
  res("mincore unaligned", SC(SYS_mincore, p + 1, pg, vec));
  res("mincore length 0", SC(SYS_mincore, p, 0, vec));
  res("mincore length ~0", SC(SYS_mincore, p, huge, vec));
  res("mincore into a hole", SC(SYS_mincore, p, 3 * pg, vec));
  res("mincore bad vector", SC(SYS_mincore, p, pg, (void *)8));

  // mremap.
  res("mremap unaligned", SC(SYS_mremap, p + 1, pg, pg, 0));
  res("mremap new length 0", SC(SYS_mremap, p, pg, 0, 0));
  res("mremap new length ~0", SC(SYS_mremap, p, pg, huge, MREMAP_MAYMOVE));
  res("mremap new length 1 << 47", SC(SYS_mremap, p, pg, 1UL << 47, MREMAP_MAYMOVE));
  res("mremap old length ~0", SC(SYS_mremap, p, huge, pg, 0));
  res("mremap unknown flag", SC(SYS_mremap, p, pg, pg, 8));
  res("mremap MREMAP_FIXED alone", SC(SYS_mremap, p, pg, pg, MREMAP_FIXED, p + 8 * pg));
  res("mremap MREMAP_DONTUNMAP alone", SC(SYS_mremap, p, pg, pg, MREMAP_DONTUNMAP));
  res("mremap MREMAP_DONTUNMAP changing size",
      SC(SYS_mremap, p, pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_DONTUNMAP));
  res("mremap fixed to unaligned",
      SC(SYS_mremap, p, pg, pg, MREMAP_MAYMOVE | MREMAP_FIXED, p + 8 * pg + 1));
  res("mremap fixed onto itself",
      SC(SYS_mremap, p, pg, pg, MREMAP_MAYMOVE | MREMAP_FIXED, p));
  res("mremap fixed past the top",
      SC(SYS_mremap, p, pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, top - pg));
  res("mremap fixed in the kernel's half",
      SC(SYS_mremap, p, pg, pg, MREMAP_MAYMOVE | MREMAP_FIXED, 0xffff800000000000UL));
  res("mremap from a hole", SC(SYS_mremap, p + 2 * pg, pg, pg, MREMAP_MAYMOVE));
  res("mremap across a hole", SC(SYS_mremap, p, 3 * pg, 4 * pg, MREMAP_MAYMOVE));
  res("mremap grow in place into a hole", SC(SYS_mremap, p, 2 * pg, 3 * pg, 0));
  res("mremap shrink", SC(SYS_mremap, p, 2 * pg, pg, 0));
  return 0;
}
