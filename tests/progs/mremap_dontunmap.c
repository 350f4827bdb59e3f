// mremap with MREMAP_DONTUNMAP moves a mapping's memory and leaves a mapping of the same kind
// at the old address: private anonymous memory reads as zeroes there, a private file mapping as
// the file holds it, shared memory (anonymous or a file's) maps the same pages as the moved one.
// The argument is the directory to work in.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "probe.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

static long pg;

static void check(const char *what, char *p) {
  memcpy(p + pg + 8, "moved", 5);
  // The raw call: glibc's wrapper reads a new address only for MREMAP_FIXED.
  char *q = (char *)syscall(SYS_mremap, p, 2 * pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0L);
  if (q == MAP_FAILED) {
    printf("%s: mremap: %s\n", what, strerror(errno));
    return;
  }
  printf("%s: moved %d\n", what, q != p);
  printf("%s: the new place: %.5s\n", what, q + pg + 8);
  char old[6] = {0};
  memcpy(old, p + pg + 8, 5);
  for (int i = 0; i < 5; i++) {
    if (old[i] == 0) old[i] = '.';
  }
  printf("%s: the old place: %.5s\n", what, old);
  memcpy(p + 8, "old", 3);
  printf("%s: a store at the old place seen at the new: %d\n", what, memcmp(q + 8, "old", 3) == 0);
  munmap(q, 2 * pg);
  munmap(p, 2 * pg);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pg = sysconf(_SC_PAGESIZE);
  char path[256];
  snprintf(path, sizeof path, "%s/mremap-dontunmap", argc > 1 ? argv[1] : "/tmp");
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  ftruncate(fd, 2 * pg);
  pwrite(fd, "file!", 5, pg + 8);

  int rw = PROT_READ | PROT_WRITE;
  check("private anonymous", mmap(NULL, 2 * pg, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  check("shared anonymous", mmap(NULL, 2 * pg, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  check("private file", mmap(NULL, 2 * pg, rw, MAP_PRIVATE, fd, 0));
  pwrite(fd, "file!", 5, pg + 8);
  check("shared file", mmap(NULL, 2 * pg, rw, MAP_SHARED, fd, 0));

  char *p = mmap(NULL, pg, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  show("DONTUNMAP without MAYMOVE", (long)mremap(p, pg, pg, MREMAP_DONTUNMAP) == -1 ? -1 : 0);
  close(fd);
  unlink(path);
  return 0;
}
