// A bind mount with shared file access: a file the host creates while the container runs
// is seen, and one the host removes goes away.
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
  struct stat st;
  printf("before: %s\n", stat("/mnt/shared/late", &st) == 0 ? "present" : "absent");
  printf("doomed: %s\n", stat("/mnt/shared/doomed", &st) == 0 ? "present" : "absent");
  fflush(stdout);
  // Tell the host to make its changes now.
  fclose(fopen("/mnt/shared/started", "w"));
  int seen = 0, gone = 0;
  for (int i = 0; i < 300 && !(seen && gone); i++) {
    if (stat("/mnt/shared/late", &st) == 0) seen = 1;
    if (stat("/mnt/shared/doomed", &st) != 0) gone = 1;
    usleep(10000);
  }
  printf("late file seen: %s\n", seen ? "yes" : "no");
  printf("removed file gone: %s\n", gone ? "yes" : "no");
  return 0;
}
