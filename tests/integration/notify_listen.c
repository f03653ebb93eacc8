/*
 * notify_listen [-t] PATH SECONDS: a stand-in for systemd's notification socket. Binds
 * a unix datagram socket at PATH and prints every message it receives on one line (its
 * newlines shown as '|'), until SECONDS have passed or a message with STOPPING=1 came.
 * With -t, each line starts with the monotonic time it came, in seconds ("12.345 ").
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    char msg[4096];
    double end;
    int fd, times = argc > 1 && strcmp(argv[1], "-t") == 0;

    argc -= times;
    argv += times;
    if (argc != 3 || strlen(argv[1]) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "usage: notify_listen [-t] PATH SECONDS\n");
        return 64;
    }
    end = now() + atof(argv[2]);
    strcpy(addr.sun_path, argv[1]);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        perror("notify_listen");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (now() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left_ms = (int)((end - now()) * 1000) + 1;
        if (poll(&p, 1, left_ms) <= 0)
            continue;
        ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);
        if (n < 0)
            continue;
        msg[n] = '\0';
        for (ssize_t i = 0; i < n; i++)
            if (msg[i] == '\n')
                msg[i] = '|';
        if (times)
            printf("%.3f ", now());
        printf("%s\n", msg);
        if (strstr(msg, "STOPPING=1"))
            break;
    }
    close(fd);
    unlink(argv[1]);
    return 0;
}
