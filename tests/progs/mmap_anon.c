// Anonymous memory: mmap, munmap, mprotect and brk semantics, including their errors.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHECK(what, expr) printf("%s: %s\n", what, (expr) ? "ok" : "FAILED")

static const char *err(long r) { return r == -1 ? strerror(errno) : "success"; }

int main(void) {
  long page = sysconf(_SC_PAGESIZE);
  printf("page=%ld\n", page);

  char *p = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK("mmap anon", p != MAP_FAILED);
  CHECK("fresh memory is zero", p[0] == 0 && p[4 * page - 1] == 0);
  memset(p, 0x5a, 4 * page);
  CHECK("write and read back", p[page * 3 + 17] == 0x5a);

  // A hole in the middle, then the pieces on either side are still usable.
  CHECK("munmap middle page", munmap(p + page, page) == 0);
  CHECK("pieces survive", p[0] == 0x5a && p[2 * page] == 0x5a);

  // MAP_FIXED_NOREPLACE refuses to replace; MAP_FIXED replaces with zeroed memory.
  void *q = mmap(p, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  printf("fixed_noreplace over mapping: %s\n", q == MAP_FAILED ? strerror(errno) : "mapped");
  q = mmap(p + page, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  CHECK("fixed_noreplace into the hole", q == p + page);
  q = mmap(p, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  CHECK("map_fixed replaces with zeroes", q == p && p[0] == 0);

  // Protections are enforced on the kernel's copies too: write(2) from PROT_NONE is EFAULT.
  CHECK("mprotect none", mprotect(p + 2 * page, page, PROT_NONE) == 0);
  printf("write from PROT_NONE: %s\n", err(write(1, p + 2 * page, 1)));
  CHECK("mprotect back", mprotect(p + 2 * page, page, PROT_READ) == 0 && p[2 * page] == 0x5a);

  printf("mmap length 0: %s\n", err((long)mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)));
  printf("mmap no type: %s\n", err((long)mmap(NULL, page, PROT_READ, MAP_ANONYMOUS, -1, 0)));
  printf("mmap bad prot: %s\n", err((long)mmap(NULL, page, 0x100, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)));
  printf("munmap unaligned: %s\n", err(munmap(p + 1, page)));
  printf("munmap length 0: %s\n", err(munmap(p, 0)));
  printf("mprotect unaligned: %s\n", err(mprotect(p + 1, page, PROT_READ)));
  printf("mprotect unmapped: %s\n", err(mprotect((void *)(16 * page), page, PROT_READ)));
  CHECK("munmap all", munmap(p, 4 * page) == 0);
  CHECK("munmap again is fine", munmap(p, 4 * page) == 0);

  // brk grows and shrinks; the new memory is zeroed and usable.
  char *b0 = sbrk(0);
  CHECK("sbrk grow", sbrk(3 * page) == b0);
  char *b1 = sbrk(0);
  CHECK("break moved", b1 == b0 + 3 * page);
  CHECK("heap is zero", b0[0] == 0 && b1[-1] == 0);
  memset(b0, 1, 3 * page);
  CHECK("sbrk shrink", sbrk(-2 * page) == b1 && sbrk(0) == b0 + page);
  return 0;
}
