// Bind mounts from the spec: a read-only and a read-write directory and a single file.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include <sys/stat.h>
static void cat(const char *p) { char b[128] = {0}; int fd = open(p, O_RDONLY); if (fd < 0) { printf("%s: %s\n", p, strerror(errno)); return; } read(fd, b, 127); printf("%s: %s", p, b); }
int main(void) {
  cat("/mnt/ro/hello.txt");
  cat("/mnt/rw/data.txt");
  cat("/etc/single.conf");
  int fd = open("/mnt/ro/new", O_CREAT | O_WRONLY, 0644);
  printf("create in ro: %s\n", fd < 0 ? strerror(errno) : "ok");
  fd = open("/mnt/rw/new", O_CREAT | O_WRONLY, 0644);
  printf("create in rw: %s\n", fd < 0 ? strerror(errno) : "ok");
  write(fd, "from sandbox\n", 13);
  close(fd);
  FILE *m = fopen("/proc/self/mounts", "r"); char line[256];
  while (fgets(line, sizeof line, m)) if (strstr(line, "/mnt/") || strstr(line, "single")) printf("mount: %s", line);
  return 0;
}
