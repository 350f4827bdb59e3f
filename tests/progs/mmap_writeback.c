// Stores through a MAP_SHARED mapping reach the file where it lives: after msync, after munmap
// and when the process exits with the mapping still there. The argument is a directory the
// host watches; after each step the program makes a file named for it there and waits for the
// host's answer (a file named ack-<step>) before going on.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *dir;

static void step(const char *name) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  close(open(p, O_WRONLY | O_CREAT, 0600));
  snprintf(p, sizeof p, "%s/ack-%s", dir, name);
  struct stat st;
  for (int i = 0; i < 1000 && stat(p, &st) != 0; i++) usleep(10000);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  dir = argv[1];
  char path[512];
  snprintf(path, sizeof path, "%s/data", dir);
  int fd = open(path, O_RDWR);
  if (fd < 0) {
    perror("open");
    return 1;
  }
  char *p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  memcpy(p, "after msync", 11);
  if (msync(p, 4096, MS_SYNC) != 0) perror("msync");
  step("msync");
  memcpy(p + 4096, "after munmap", 12);
  munmap(p, 2 * 4096);
  step("munmap");
  p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  memcpy(p + 100, "after exit", 10);
  return 0;
}
