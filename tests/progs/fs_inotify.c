// inotify on changes made in the sandbox: create, open, modify, close, attrib, moves with a
// shared cookie, delete, directories, a watch on a file that is removed, IN_ONESHOT.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_setup.h"

static const char *names[] = {"ACCESS", "MODIFY", "ATTRIB", "CLOSE_WRITE", "CLOSE_NOWRITE",
                              "OPEN", "MOVED_FROM", "MOVED_TO", "CREATE", "DELETE",
                              "DELETE_SELF", "MOVE_SELF"};

static void drain(int fd, int dirwd) {
  char buf[4096] __attribute__((aligned(8)));
  int n = read(fd, buf, sizeof buf);
  if (n < 0) { printf("read: %s\n", strerror(errno)); return; }
  uint32_t cookie = 0;
  for (char *p = buf; p < buf + n;) {
    struct inotify_event *e = (struct inotify_event *)p;
    printf("  %s", e->wd == dirwd ? "dir" : "file");
    for (int i = 0; i < 12; i++) if (e->mask & (1u << i)) printf(" %s", names[i]);
    if (e->mask & IN_ISDIR) printf(" ISDIR");
    if (e->mask & IN_IGNORED) printf(" IGNORED");
    if (e->len) printf(" '%s'", e->name);
    if (e->cookie) {
      if (!cookie) cookie = e->cookie;
      printf(" cookie %s", e->cookie == cookie ? "same" : "other");
    }
    printf("\n");
    p += sizeof *e + e->len;
  }
}

int main(void) {
  fs_setup();
  char dir[] = "/tmp/fsinotify.XXXXXX";
  mkdtemp(dir);
  chdir(dir);
  mkdir("w", 0755);
  int in = inotify_init1(IN_NONBLOCK);
  int wd = inotify_add_watch(in, "w", IN_ALL_EVENTS);
  printf("watch: %d, same again: %d\n", wd, inotify_add_watch(in, "w", IN_ALL_EVENTS));
  printf("read with no events: %s\n", read(in, (char[64]){0}, 64) < 0 ? strerror(errno) : "data");
  int fd = open("w/a", O_CREAT | O_WRONLY, 0600);
  write(fd, "x", 1);
  close(fd);
  printf("create, write, close:\n");
  drain(in, wd);
  chmod("w/a", 0644);
  rename("w/a", "w/b");
  printf("chmod, rename:\n");
  drain(in, wd);
  int fw = inotify_add_watch(in, "w/b", IN_ALL_EVENTS);
  int r = open("w/b", O_RDONLY);
  char c;
  read(r, &c, 1);
  close(r);
  unlink("w/b");
  printf("read, unlink (watching the file too):\n");
  drain(in, wd);
  mkdir("w/sub", 0755);
  rmdir("w/sub");
  printf("mkdir, rmdir:\n");
  drain(in, wd);
  inotify_add_watch(in, "w", IN_CREATE | IN_ONESHOT);
  close(open("w/one", O_CREAT | O_WRONLY, 0600));
  close(open("w/two", O_CREAT | O_WRONLY, 0600));
  printf("oneshot:\n");
  drain(in, wd);
  printf("rm_watch gone: %s\n", inotify_rm_watch(in, wd) < 0 ? strerror(errno) : "ok");
  printf("add_watch missing: %s\n", inotify_add_watch(in, "nope", IN_ALL_EVENTS) < 0 ? strerror(errno) : "ok");
  printf("add_watch no events: %s\n", inotify_add_watch(in, "w", 0) < 0 ? strerror(errno) : "ok");
  (void)fw;
  return 0;
}
