// /proc/self/smaps and maps: a 4 MiB anonymous mapping of which 1 MiB was touched shows
// Size 4096 kB and Rss 1024 kB; maps and smaps list the same mappings.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(void) {
  char *p = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  madvise(p, 4 << 20, MADV_NOHUGEPAGE);
  for (int i = 0; i < 256; i++) p[i * 4096] = 1;
  char want[32];
  snprintf(want, sizeof want, "%lx-", (unsigned long)p);
  FILE *f = fopen("/proc/self/smaps", "r");
  char line[512];
  int in = 0, vmas = 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmFlags:", 8) == 0) vmas++;
    if (strncmp(line, want, strlen(want)) == 0) in = 1;
    else if (in && (strncmp(line, "Size:", 5) == 0 || strncmp(line, "Rss:", 4) == 0)) {
      long kb = 0;
      sscanf(strchr(line, ':') + 1, "%ld", &kb);
      printf("%.*s %ld kB\n", (int)(strchr(line, ':') - line), line, kb);
    } else if (in && strncmp(line, "VmFlags:", 8) == 0) {
      in = 0;
    }
  }
  fclose(f);
  f = fopen("/proc/self/maps", "r");
  int maps = 0;
  while (fgets(line, sizeof line, f)) maps++;
  fclose(f);
  printf("smaps and maps agree: %d\n", vmas == maps);
  return 0;
}
