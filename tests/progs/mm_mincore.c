// mincore(2) reports the pages that are resident: never-touched pages of anonymous and shared
// memory, holes of a file and pages past its end are not; touched ones are. Every mapping is
// far smaller than a huge page, and no hole of a file is read (fault-around would fill its
// neighbours), so the answers do not depend on the host's settings.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096

static void show(const char *what, void *p, size_t pages) {
  unsigned char v[16];
  char s[17];
  if (mincore(p, pages * PG, v)) {
    perror(what);
    return;
  }
  for (size_t i = 0; i < pages; i++) s[i] = '0' + (v[i] & 1);
  s[pages] = 0;
  printf("%s: %s\n", what, s);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  show("anonymous, untouched", a, 4);
  a[PG] = 1;
  volatile char c = a[2 * PG];
  (void)c;
  show("anonymous, page 1 written, page 2 read", a, 4);

  pid_t pid = fork();
  if (pid == 0) {
    show("the same in a child after fork", a, 4);
    a[3 * PG] = 1;
    show("the child wrote page 3", a, 4);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  show("the parent after the child wrote", a, 4);
  madvise(a, 4 * PG, MADV_DONTNEED);
  show("anonymous after MADV_DONTNEED", a, 4);

  char *s = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  show("shared anonymous, untouched", s, 4);
  s[0] = 1;
  c = s[3 * PG];
  show("shared anonymous, page 0 written, page 3 read", s, 4);

  int fd = open("/tmp/mincore", O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ftruncate(fd, 4 * PG) || pwrite(fd, "x", 1, PG + 7) != 1) {
    perror("file");
    return 1;
  }
  char *f = mmap(NULL, 6 * PG, PROT_READ, MAP_SHARED, fd, 0);
  show("file of 4 pages, data in page 1, mapped over 6", f, 6);
  char *fp = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  fp[3 * PG] = 1;
  show("private file mapping, page 3 written", fp, 4);
  munmap(a + PG, PG);
  unsigned char v[4];
  printf("over a hole: %d\n", mincore(a, 4 * PG, v) == 0 ? 0 : -1);
  return 0;
}
