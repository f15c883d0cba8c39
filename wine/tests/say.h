/* say(): one line on stdout, flushed at once: the test scripts read the programs' output
 * line by line while they run (wine/winelab.py's Copy). */
#ifndef VL_TESTS_SAY_H
#define VL_TESTS_SAY_H
#include <stdarg.h>
#include <stdio.h>

static void say(const char *format, ...) {
    va_list args;
    va_start(args, format);
    vprintf(format, args);
    va_end(args);
    printf("\n");
    fflush(stdout);
}
#endif
