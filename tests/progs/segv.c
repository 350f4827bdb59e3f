// Dies of SIGSEGV by writing through a null pointer after printing (unbuffered) a line.
#include <stdio.h>

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  printf("about to fault\n");
  *(volatile int *)0 = 1;
  printf("not reached\n");
  return 0;
}
