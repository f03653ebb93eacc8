/* Listening addresses ("127.0.0.1:2575", "[::1]:2575", "*:2575") and the allow-list. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "hl7_source.h"

/* The next item of a comma- or space-separated list: its text in item (NUL-terminated). */
static const char *next_item(const char *p, char *item, size_t size)
{
    size_t n = 0;

    while (*p == ',' || *p == ' ' || *p == '\t')
        p++;
    if (!*p)
        return NULL;
    while (*p && *p != ',' && *p != ' ' && *p != '\t') {
        if (n + 1 < size)
            item[n++] = *p;
        p++;
    }
    item[n] = '\0';
    return p;
}

/* Splits "host:port" / "[v6]:port" / "*:port" into host (NULL for any) and port. */
static int split_address(char *item, const char **ret_host, const char **ret_port)
{
    char *colon;

    if (item[0] == '[') {
        char *close = strchr(item, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        *close = '\0';
        *ret_host = item + 1;
        *ret_port = close + 2;
    } else {
        if (!(colon = strrchr(item, ':')) || strchr(item, ':') != colon)
            return -EINVAL;
        *colon = '\0';
        *ret_host = strcmp(item, "*") == 0 ? NULL : item;
        *ret_port = colon + 1;
    }
    return **ret_port ? 0 : -EINVAL;
}

static int open_one(hl7_source *s, const char *text)
{
    char item[300];
    const char *host, *port;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int fd = -1, one = 1, r;

    snprintf(item, sizeof(item), "%s", text);
    if (split_address(item, &host, &port) < 0) {
        s->host->log(s->src, KPID_LOG_ERR,
                     "listen address \"%.64s\" is not HOST:PORT, [IPV6]:PORT or *:PORT", text);
        return -EINVAL;
    }
    if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
        s->host->log(s->src, KPID_LOG_ERR, "listen address \"%.64s\": %s", text, gai_strerror(r));
        return -EINVAL;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        (res->ai_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 512) < 0) {
        r = -errno;
        s->host->log(s->src, KPID_LOG_ERR, "cannot listen on %.64s: %s", text, strerror(-r));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return r;
    }
    freeaddrinfo(res);
    hl7_listener *l = &s->listeners[s->n_listeners];
    if (!(l->name = strdup(text))) {
        close(fd);
        return -ENOMEM;
    }
    l->fd = fd;
    s->n_listeners++;
    s->host->log(s->src, KPID_LOG_INFO, "listening address=%s", text);
    return 0;
}

int hl7_listen_open(hl7_source *s)
{
    char item[300];
    size_t n = 0;
    int r;

    for (const char *p = s->cfg->listen; p && (p = next_item(p, item, sizeof(item)));)
        n++;
    if (n == 0) {
        s->host->log(s->src, KPID_LOG_ERR, "listen names no address (\"127.0.0.1:2575\")");
        return -EINVAL;
    }
    if (!(s->listeners = calloc(n, sizeof(*s->listeners))))
        return -ENOMEM;
    for (const char *p = s->cfg->listen; (p = next_item(p, item, sizeof(item)));)
        if ((r = open_one(s, item)) < 0)
            return r;
    return 0;
}

/*
 * Watches the listening sockets in the epoll set, or stops watching them (while the
 * process has no descriptor left for a connection: a pending one would wake the loop
 * at once on every turn, each accept failing).
 */
void hl7_listen_watch(hl7_source *s, bool on)
{
    for (size_t i = 0; i < s->n_listeners; i++) {
        struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.ptr = &s->listeners[i]};
        epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->listeners[i].fd, &ev);
    }
}

void hl7_listen_close(hl7_source *s)
{
    for (size_t i = 0; i < s->n_listeners; i++) {
        close(s->listeners[i].fd);
        free(s->listeners[i].name);
    }
    free(s->listeners);
    s->listeners = NULL;
    s->n_listeners = 0;
}

/* An address as 16 bytes, IPv4 as ::ffff:a.b.c.d. */
static void as_v6(const struct sockaddr_storage *ss, uint8_t out[16])
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &in->sin_addr, 4);
    } else
        memcpy(out, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
}

int hl7_allow_parse(hl7_source *s)
{
    char item[128];
    size_t n = 0;

    if (!s->cfg->allow)
        return 0;
    for (const char *p = s->cfg->allow; (p = next_item(p, item, sizeof(item)));)
        n++;
    if (!(s->allow = calloc(n ? n : 1, sizeof(*s->allow))))
        return -ENOMEM;
    for (const char *p = s->cfg->allow; (p = next_item(p, item, sizeof(item)));) {
        hl7_net *net = &s->allow[s->n_allow];
        char *slash = strchr(item, '/');
        struct in_addr v4;
        struct in6_addr v6;
        unsigned max, prefix;
        char *end = NULL;
        if (slash)
            *slash = '\0';
        if (inet_pton(AF_INET, item, &v4) == 1) {
            struct sockaddr_storage ss = {.ss_family = AF_INET};
            ((struct sockaddr_in *)&ss)->sin_addr = v4;
            as_v6(&ss, net->addr);
            max = 32;
        } else if (inet_pton(AF_INET6, item, &v6) == 1) {
            memcpy(net->addr, &v6, 16);
            max = 128;
        } else
            goto bad;
        prefix = max;
        if (slash) {
            unsigned long v = strtoul(slash + 1, &end, 10);
            if (!slash[1] || *end || v > max)
                goto bad;
            prefix = (unsigned)v;
        }
        net->prefix = max == 32 ? 96 + prefix : prefix;
        s->n_allow++;
        continue;
bad:
        s->host->log(s->src, KPID_LOG_ERR,
                     "allow entry \"%.64s\" is not an address or ADDRESS/PREFIX", item);
        return -EINVAL;
    }
    return 0;
}

bool hl7_allowed(const hl7_source *s, const struct sockaddr_storage *peer)
{
    uint8_t a[16];

    if (!s->cfg->allow)
        return true;
    as_v6(peer, a);
    for (size_t i = 0; i < s->n_allow; i++) {
        const hl7_net *net = &s->allow[i];
        unsigned full = net->prefix / 8, rest = net->prefix % 8;
        if (memcmp(a, net->addr, full) != 0)
            continue;
        if (rest && ((a[full] ^ net->addr[full]) & (uint8_t)(0xff << (8 - rest))))
            continue;
        return true;
    }
    return false;
}
