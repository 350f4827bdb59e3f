// Linux names are bytes: bytes that are not UTF-8 in file names (on the Gofer's file system and
// on tmpfs), symlink targets, the working directory, argv, envp, /proc/self/cmdline and Unix
// socket paths come back exactly as given (test_os's Pep383Tests, test_subprocess's
// undecodable environment).
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "probe.h"

static void hex(const char *label, const char *s, size_t n) {
  printf("%s:", label);
  for (size_t i = 0; i < n; i++) printf(" %02x", (unsigned char)s[i]);
  printf("\n");
}

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_in(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) {
    printf("opendir: %s\n", strerror(errno));
    return;
  }
  char *names[16];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 16) {
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp);
  for (int i = 0; i < n; i++) hex("  entry", names[i], strlen(names[i]));
}

static void files(const char *base) {
  printf("in %s\n", base);
  char dir[64], file[96], link[96], moved[96], buf[256];
  snprintf(dir, sizeof dir, "%s/d\xff", base);
  show("mkdir", mkdir(dir, 0755));
  snprintf(file, sizeof file, "%s/f\xe9\x80", dir);
  int fd = open(file, O_CREAT | O_WRONLY, 0644);
  show("create", fd);
  close(fd);
  snprintf(link, sizeof link, "%s/l\xfe", dir);
  show("symlink", symlink("t\xfe\xff/\xc3\x28", link));
  names_in(dir);
  ssize_t n = readlink(link, buf, sizeof buf);
  if (n >= 0) hex("readlink", buf, n);
  struct stat st;
  show("stat by name", stat(file, &st));
  snprintf(moved, sizeof moved, "%s/m\xc0\xaf", dir);
  show("rename", rename(file, moved));
  names_in(dir);
  show("open renamed", fd = open(moved, O_RDONLY));
  close(fd);
  show("chdir", chdir(dir));
  if (getcwd(buf, sizeof buf)) hex("getcwd", buf, strlen(buf));
  chdir("/");
  unlink(moved);
  unlink(link);
  show("rmdir", rmdir(dir));
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    hex("argv[1]", argv[1], strlen(argv[1]));
    const char *x = getenv("X");
    if (x) hex("env X", x, strlen(x));
    char buf[256];
    int fd = open("/proc/self/cmdline", O_RDONLY);
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) hex("cmdline", buf, n);
    return 0;
  }
  files("/tmp");
  files("");

  pid_t c = fork();
  if (c == 0) {
    char *args[] = {argv[0], "\xff\xfe\x80", NULL};
    char *env[] = {"X=\xc3\x28\xa0", NULL};
    execve(argv[0], args, env);
    _exit(1);
  }
  waitpid(c, NULL, 0);

  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strcpy(a.sun_path, "/tmp/s\xff\xe9");
  show("bind", bind(s, (struct sockaddr *)&a, sizeof a));
  listen(s, 1);
  struct sockaddr_un got;
  socklen_t len = sizeof got;
  getsockname(s, (struct sockaddr *)&got, &len);
  hex("getsockname", got.sun_path, strlen(got.sun_path));
  int cl = socket(AF_UNIX, SOCK_STREAM, 0);
  show("connect", connect(cl, (struct sockaddr *)&a, sizeof a));
  int acc = accept(s, NULL, NULL);
  len = sizeof got;
  memset(&got, 0, sizeof got);
  getpeername(cl, (struct sockaddr *)&got, &len);
  hex("getpeername", got.sun_path, strlen(got.sun_path));
  close(acc);
  names_in("/tmp");
  return 0;
}
