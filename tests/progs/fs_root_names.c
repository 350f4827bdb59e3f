// Names on the root file system (run with the gofer-backed root written directly, without an
// overlay): a name looked up missing can be created, O_CREAT|O_EXCL sees a file made a moment
// ago, unlinked and renamed names are gone, an unlinked open file stays readable with no
// links, and opening a file again (for reading, then for writing) sees one file.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe.h"

static struct stat st;

static long rd(int fd) {
  char b[32] = {0};
  long n = pread(fd, b, sizeof b - 1, 0);
  if (n >= 0) printf("  read \"%s\"\n", b);
  return n;
}

int main(void) {
  show("mkdir /names", mkdir("/names", 0755));
  if (chdir("/names")) { perror("chdir"); return 1; }
  for (int round = 0; round < 2; round++) {
    printf("round %d\n", round);
    show("stat missing a", stat("a", &st));
    int fd = open("a", O_CREAT | O_EXCL | O_WRONLY, 0640);
    show("create a", fd >= 0 ? 0 : -1);
    show("create a again", open("a", O_CREAT | O_EXCL | O_WRONLY, 0640));
    show("write a", write(fd, "one", 3));
    show("close", close(fd));
    show("stat a size", stat("a", &st) == 0 ? st.st_size : -1);
    show("stat a mode", stat("a", &st) == 0 ? (long)(st.st_mode & 07777) : -1);
    int r1 = open("a", O_RDONLY);
    show("open a ro", r1 >= 0 ? 0 : -1);
    int r2 = open("a", O_RDONLY);
    show("open a ro again", r2 >= 0 ? 0 : -1);
    show("close first", close(r1));
    int w = open("a", O_WRONLY);
    show("write via a new wo open", pwrite(w, "TWO", 3, 0));
    show("read via the second ro open", rd(r2));
    show("unlink a", unlink("a"));
    show("stat unlinked a", stat("a", &st));
    show("fstat nlink of unlinked a", fstat(r2, &st) == 0 ? (long)st.st_nlink : -1);
    show("read unlinked a", rd(r2));
    close(r2);
    close(w);
    show("unlink a again", unlink("a"));
    fd = open("b", O_CREAT | O_EXCL | O_RDWR, 0600);
    show("create b", fd >= 0 ? 0 : -1);
    close(fd);
    show("rename b c", rename("b", "c"));
    show("stat b", stat("b", &st));
    show("stat c", stat("c", &st));
    show("link c d", link("c", "d"));
    show("stat c nlink", stat("c", &st) == 0 ? (long)st.st_nlink : -1);
    show("unlink c", unlink("c"));
    show("stat d nlink", stat("d", &st) == 0 ? (long)st.st_nlink : -1);
    show("create c excl", open("c", O_CREAT | O_EXCL | O_RDONLY, 0600) >= 0 ? 0 : -1);
    show("mkdir b", mkdir("b", 0700));
    show("stat b is dir", stat("b", &st) == 0 ? S_ISDIR(st.st_mode) : -1);
    show("rmdir b", rmdir("b"));
    show("symlink b", symlink("d", "b"));
    show("open via b", rd(open("b", O_RDONLY)) >= 0 ? 0 : -1);
    show("unlink b", unlink("b"));
    show("unlink c", unlink("c"));
    show("unlink d", unlink("d"));
    show("stat b after", stat("b", &st));
  }
  return 0;
}
