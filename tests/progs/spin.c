// Spins forever; the test kills it.
int main(void) {
  for (;;) {
  }
}
