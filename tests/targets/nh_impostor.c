/* nh_impostor: a shared library that calls itself libc.so.6 and defines
 * shutdown(), for tests/gdb/test_never_harm.py.  Built with
 * -shared -fPIC -Wl,-soname,libc.so.6 and installed under the file name
 * libc.so.6 in a directory of its own; nh_target --dlopen loads it.
 * Its 64 MiB of .bss keeps it from fitting in a gap above the real libc, so
 * it is mapped below it: the first libc.so.6 in /proc/PID/maps.
 * Its shutdown() does nothing to the socket: it says it was called (on
 * stderr, "IMPOSTOR shutdown(FD, HOW)") and returns 0.
 */
#include <stdio.h>
#include <unistd.h>

static char room[64 << 20];

int shutdown(int fd, int how)
{
    room[fd & 0xFFFF] = (char)how;
    char line[64];
    int n = snprintf(line, sizeof line, "IMPOSTOR shutdown(%d, %d)\n", fd, how);
    write(2, line, (size_t)n);
    return 0;
}

int *__errno_location(void)
{
    static int fake;
    return &fake;
}
