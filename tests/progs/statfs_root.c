// statvfs of a writable (overlaid) root reports the files already there as used space, as the
// native overlay does (test_shutil's disk_usage), and free space within the total.
#include <sys/statvfs.h>
#include "probe.h"

int main(void) {
  struct statvfs s;
  show("statvfs /", statvfs("/", &s));
  printf("used > 0: %d\n", s.f_blocks > s.f_bfree);
  printf("available <= free <= total: %d\n", s.f_bavail <= s.f_bfree && s.f_bfree <= s.f_blocks);
  return 0;
}
