/* Forced into the third-party programs' main files by wine/thirdparty/build (-include):
 * msvcrt buffers a piped stdout fully, so the test would see a program's lines only at
 * its exit; unbuffered, each line arrives when it is printed. No source is changed. */
#include <stdio.h>
__attribute__((constructor)) static void virtuallan_unbuffered_stdout(void) { setvbuf(stdout, NULL, _IONBF, 0); }
