// File mappings, reads and writes at offsets near the top of the file offset range, where the
// offset plus the length no longer fits or the file could never reach: the answers are
// Linux's and the sandbox keeps running. The argument is the directory to work in.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char path[256];
  snprintf(path, sizeof path, "%s/mmap-offsets-probe", argc > 1 ? argv[1] : "/tmp");
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  ftruncate(fd, 4096);
  unsigned long offs[] = {
      0x7ffffffffffff000UL, 0x4000000000000000UL, 0xfffffffffffff000UL, 0x100000000000UL,
  };
  for (int i = 0; i < 4; i++) {
    for (int shared = 0; shared < 2; shared++) {
      // The raw system call: glibc checks some offsets itself.
      long r = syscall(SYS_mmap, 0, 8192, PROT_READ | PROT_WRITE,
                       shared ? MAP_SHARED : MAP_PRIVATE, fd, offs[i]);
      printf("%s at %lx: %s\n", shared ? "shared" : "private", offs[i],
             r == -1 ? strerror(errno) : "mapped");
      if (r != -1) {
        // Read and write only the file's pages inside the mapping: there are none past its
        // end, where Linux raises SIGBUS (the sandbox gives zeroes).
        msync((void *)r, 8192, MS_SYNC);
        munmap((void *)r, 8192);
      }
    }
  }
  // read(2) and write(2) at the same offsets: what the mappings' pages are filled from.
  char buf[8192];
  for (int i = 0; i < 4; i++) {
    errno = 0;
    long r = syscall(SYS_pread64, fd, buf, sizeof buf, offs[i]);
    printf("pread at %lx: %ld %s\n", offs[i], r, r < 0 ? strerror(errno) : "");
  }
  errno = 0;
  long w = syscall(SYS_pwrite64, fd, "x", 1, 0x7ffffffffffffffeUL);
  printf("pwrite 1 byte before the largest offset: %ld %s\n", w, w < 0 ? strerror(errno) : "");
  unlink(path);
  return 0;
}
