// Writes over files of the container's root: copy-up of a changed file, whiteouts for removed
// names, merged directory listings, renames, a directory made where a file was removed.
// Run with a writable root under each --overlay2 mode; natively on a copy of the rootfs.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "probe.h"

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const char *path) {
  DIR *d = opendir(path);
  if (!d) { printf("%s: %s\n", path, strerror(errno)); return; }
  char *names[64];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 64) names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, n, sizeof *names, cmp);
  printf("%s:", path);
  for (int i = 0; i < n; i++) printf(" %s", names[i]);
  printf("\n");
}

static void cat(const char *path) {
  char buf[256] = {0};
  int fd = open(path, O_RDONLY);
  if (fd < 0) { printf("%s: %s\n", path, strerror(errno)); return; }
  int n = read(fd, buf, sizeof buf - 1);
  close(fd);
  printf("%s: %.*s", path, n, buf);
  if (n > 0 && buf[n - 1] != '\n') printf("\n");
}

int main(void) {
  list("/data");
  cat("/data/a.txt");
  int fd = open("/data/a.txt", O_WRONLY | O_APPEND);
  show("append to a lower file", write(fd, "appended\n", 9));
  close(fd);
  cat("/data/a.txt");
  struct stat st;
  stat("/data/a.txt", &st);
  printf("a.txt size %ld mode %o\n", (long)st.st_size, st.st_mode & 07777);
  show("chmod lower file", chmod("/data/sub/b.txt", 0600));
  stat("/data/sub/b.txt", &st);
  printf("b.txt mode %o\n", st.st_mode & 07777);
  cat("/data/sub/b.txt");
  show("unlink lower file", unlink("/data/c.txt"));
  show("stat removed", stat("/data/c.txt", &st));
  list("/data");
  show("mkdir where a file was", mkdir("/data/c.txt", 0755));
  list("/data/c.txt");
  show("rename lower file", rename("/data/sub/b.txt", "/data/b-moved.txt"));
  cat("/data/b-moved.txt");
  list("/data/sub");
  show("rmdir lower dir non-empty", rmdir("/data/sub"));
  show("unlink lower in sub", unlink("/data/sub/keep.txt"));
  show("rmdir lower dir now empty", rmdir("/data/sub"));
  list("/data");
  show("mkdir over removed dir", mkdir("/data/sub", 0700));
  list("/data/sub");
  fd = open("/data/new.txt", O_CREAT | O_WRONLY, 0644);
  write(fd, "new\n", 4);
  close(fd);
  show("link to lower file", link("/data/a.txt", "/data/a-link.txt"));
  stat("/data/a.txt", &st);
  printf("nlink after link: %ld\n", (long)st.st_nlink);
  show("truncate lower file", truncate("/data/d.txt", 2));
  cat("/data/d.txt");
  show("symlink", symlink("a.txt", "/data/sym"));
  cat("/data/sym");
  list("/data");
  return 0;
}
