// A shared mapping of a sparse tmpfs file costs the pages touched, not the file's size: on a
// 1 MiB tmpfs, 64 MiB of a 64 MiB file map, the pages touched are the only ones used, and a
// touch once the tmpfs is full raises SIGBUS. The argument is a directory to mount it on.
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include "probe.h"

static sigjmp_buf jb;
static volatile int got_sig;

static void on_fault(int sig) {
  got_sig = sig;
  siglongjmp(jb, 1);
}

static long used_kib(const char *dir) {
  struct statfs s;
  statfs(dir, &s);
  return (long)((s.f_blocks - s.f_bfree) * s.f_bsize / 1024);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 2) return 2;
  const char *dir = argv[1];
  long pg = sysconf(_SC_PAGESIZE);
  signal(SIGBUS, on_fault);
  mkdir(dir, 0700);
  show("mount a 1 MiB tmpfs", mount("tmpfs", dir, "tmpfs", 0, "size=1m"));
  char path[256];
  snprintf(path, sizeof path, "%s/sparse", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  long size = 64L << 20;
  show("ftruncate 64 MiB", ftruncate(fd, size));
  char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    show("mmap 64 MiB of it", -1);
    return 1;
  }
  printf("KiB used after mmap: %ld\n", used_kib(dir));
  // Ten pages far apart, one store each.
  for (long i = 0; i < 10; i++) p[i * (size / 10)] = 'x';
  printf("KiB used after touching 10 pages: %ld\n", used_kib(dir));
  struct stat st;
  fstat(fd, &st);
  printf("the file's blocks: %ld\n", (long)st.st_blocks);
  char buf[2] = {0};
  pread(fd, buf, 1, 3 * (size / 10));
  printf("read(2) sees a store: %s\n", buf);
  // Fill the tmpfs page by page from the middle: the touch that finds it full is SIGBUS.
  long touched = 0;
  if (sigsetjmp(jb, 1) == 0) {
    for (long off = size / 2 + pg; off < size; off += pg) {
      p[off] = 'y';
      touched++;
    }
  }
  printf("pages touched before %s: %s\n", got_sig ? strsignal(got_sig) : "the end",
         touched > 200 && touched < 300 ? "about 1 MiB" : "not 1 MiB");
  munmap(p, size);
  close(fd);
  unlink(path);
  show("umount", umount(dir));
  return 0;
}
