/*
 * hl7_load: the load generator of bench/hl7. N MLLP connections to kpid's hl7 source,
 * each sending HL7 v2 messages made in memory (ADT^A01, ORU^R01 with OBX results, ADT^A03:
 * the three messages of one case, each case id new, each control id MSH-10 unique) and
 * reading the ACKs, which must be AA for the control id sent, in the order sent.
 *
 *   hl7_load --port PORT [--host ADDR] [--connections N] [--seconds S | --messages M]
 *            [--rate R] [--prefix P] [--obx K] [--drain S]
 *
 * Closed loop (no --rate): each connection sends its next message when the ACK of the
 * previous one came; the latency of a message is from its send to its ACK.
 * Open loop (--rate R): messages are due at R per second in total, the i-th at
 * start + i / R, on connection i mod N, whether or not that connection still waits for
 * ACKs (they are matched in order); the latency of a message is from when it was due,
 * so a sender that falls behind shows in the figures instead of hiding.
 *
 * Sending stops after S seconds (default 10) or M messages; then the ACKs still owed are
 * awaited for up to --drain seconds (default 30). Prints one line of key=value:
 *
 *   mode connections messages acked errors unacked events seconds rate p50_ms p90_ms
 *   p99_ms max_ms
 *
 * where events is what the acknowledged messages make under bench/hl7's mapping (an A01
 * one ADMISSION, an A03 one DISCHARGE, an ORU^R01 one LAB_RESULT per OBX) and seconds
 * runs from the first send to the last ACK. Exits 0 when every message was acknowledged
 * AA, 1 otherwise (the first few wrong ACKs are described on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_OBX 20
#define ID_MAX 40
#define MAX_ERRORS_SHOWN 5

/* One message sent, its ACK not yet read. */
typedef struct pending {
    char id[ID_MAX];
    int64_t t0_ns;   /* send (closed loop) or due (open loop) time */
    unsigned events; /* events it makes once acknowledged */
} pending;

typedef struct conn {
    int fd;
    unsigned idx;
    uint64_t seq; /* messages made on this connection */
    char *out;    /* bytes to send */
    size_t out_len, out_done, out_cap;
    char *in; /* bytes received, not yet a whole frame */
    size_t in_len, in_cap;
    pending *q; /* ring of messages awaiting their ACK */
    size_t q_head, q_n, q_cap;
    bool want_out; /* EPOLLOUT registered */
} conn;

typedef struct load {
    const char *host, *port, *prefix;
    unsigned n_conns, obx;
    double seconds, rate, drain;
    uint64_t max_messages; /* 0: by time */
    int epfd, timerfd;
    conn *conns;
    bool sending;
    uint64_t sent, acked, errors, events, in_flight;
    int64_t start_ns, last_ack_ns;
    int64_t *lat; /* ns, one per acknowledged message */
    size_t n_lat, cap_lat;
    char *msg; /* scratch for one message */
    size_t msg_cap;
} load;

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("hl7_load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *xrealloc(void *p, size_t n)
{
    void *v = realloc(p, n);

    if (!v)
        die("out of memory");
    return v;
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* HL7 DTM of a Unix time: YYYYMMDDHHMMSS (UTC; the source reads it in its time zone). */
static void dtm(int64_t t, char out[16])
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

/* A growing text: appends a formatted piece to l->msg at *len. */
static void put(load *l, size_t *len, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(l->msg + *len, l->msg_cap - *len, fmt, ap);
        va_end(ap);
        if (n < 0)
            die("cannot format a message");
        if ((size_t)n < l->msg_cap - *len) {
            *len += (size_t)n;
            return;
        }
        l->msg_cap = 2 * l->msg_cap + (size_t)n;
        l->msg = xrealloc(l->msg, l->msg_cap);
    }
}

/* PV1 with set id, class, location, visit number (PV1-19), admit (44), discharge (45). */
static void put_pv1(load *l, size_t *len, const char *cls, const char *ward, const char *bed,
                    const char *visit, const char *admit, const char *discharge)
{
    put(l, len, "PV1|1|%s|%s^%s^1^HOSP||||1234^Adams^Ruth^^^Dr|||MED||||1|||1234^Adams^Ruth^^^Dr|",
        cls, ward, bed);
    /* that wrote PV1-1 .. PV1-17; now 18 (empty), 19 and the empty fields up to 43 */
    put(l, len, "|%s^^^HOSP^VN||||||||||||||||||||||||", visit);
    put(l, len, "|%s|%s\r", admit, discharge);
}

static const struct lab {
    const char *code, *name, *unit, *range;
    int lo, hi; /* value range, in tenths */
} LABS[MAX_OBX] = {
    {"2823-3", "Potassium", "mmol/L", "3.5-5.1", 30, 60},
    {"2951-2", "Sodium", "mmol/L", "136-145", 1300, 1500},
    {"2160-0", "Creatinine", "mg/dL", "0.7-1.3", 5, 30},
    {"718-7", "Hemoglobin", "g/dL", "12.0-17.5", 80, 180},
    {"6690-2", "Leukocytes", "10*3/uL", "4.5-11.0", 30, 200},
    {"777-3", "Platelets", "10*3/uL", "150-400", 1000, 5000},
    {"2345-7", "Glucose", "mg/dL", "70-99", 600, 2500},
    {"1988-5", "CRP", "mg/L", "0-10", 0, 2000},
    {"3094-0", "Urea nitrogen", "mg/dL", "7-20", 50, 400},
    {"2075-0", "Chloride", "mmol/L", "98-107", 900, 1150},
    {"2028-9", "CO2", "mmol/L", "22-29", 180, 320},
    {"17861-6", "Calcium", "mg/dL", "8.6-10.3", 70, 120},
    {"1920-8", "AST", "U/L", "10-40", 100, 1200},
    {"1742-6", "ALT", "U/L", "7-56", 70, 1500},
    {"6768-6", "Alkaline phosphatase", "U/L", "44-147", 300, 2500},
    {"1975-2", "Bilirubin", "mg/dL", "0.1-1.2", 1, 40},
    {"2532-0", "LDH", "U/L", "140-280", 1000, 5000},
    {"33762-6", "NT-proBNP", "pg/mL", "0-125", 100, 50000},
    {"10839-9", "Troponin I", "ng/mL", "0-0.04", 0, 50},
    {"2601-3", "Magnesium", "mg/dL", "1.7-2.2", 10, 35},
};

static const char *const WARDS[] = {"W1", "W2", "W3", "ICU", "CARD", "SURG", "ED", "NEURO"};

/*
 * Makes the seq-th message of connection c into l->msg, framed for MLLP: case seq / 3,
 * kind seq % 3 (A01, ORU^R01, A03). Returns its length; its control id and the events
 * it makes go to *p.
 */
static size_t make_message(load *l, conn *c, uint64_t seq, int64_t wall_s, pending *p)
{
    uint64_t cs = seq / 3;
    unsigned kind = (unsigned)(seq % 3);
    /* Every case on its own day and minute, from 2025-01-01, spread over connections. */
    int64_t admit_t = INT64_C(1735689600) + (int64_t)((cs * 7919 + c->idx * 104729) % 31536000);
    char now[16], admit[16], event[16], caseid[ID_MAX], mrn[ID_MAX];
    const char *ward = WARDS[(cs + c->idx) % (sizeof(WARDS) / sizeof(WARDS[0]))];
    char bed[8];
    size_t len = 0;

    dtm(wall_s, now);
    dtm(admit_t, admit);
    snprintf(p->id, sizeof(p->id), "%sc%un%" PRIu64, l->prefix, c->idx, seq);
    snprintf(caseid, sizeof(caseid), "%sc%uv%" PRIu64, l->prefix, c->idx, cs);
    snprintf(mrn, sizeof(mrn), "%sc%up%" PRIu64, l->prefix, c->idx, cs % 5000);
    snprintf(bed, sizeof(bed), "%u", (unsigned)(cs % 24) + 1);

    put(l, &len, "\v");
    static const char *const TYPES[] = {"ADT^A01^ADT_A01", "ORU^R01^ORU_R01", "ADT^A03^ADT_A03"};
    static const char *const APPS[] = {"ADT", "LAB", "ADT"};
    put(l, &len, "MSH|^~\\&|%s|HOSP|KPID|HOSP|%s||%s|%s|P|2.5.1\r", APPS[kind], now, TYPES[kind],
        p->id);
    if (kind != 1)
        put(l, &len, "EVN|%s|%s|||U0042^Nurse^Night|%s\r", kind == 0 ? "A01" : "A03", now,
            kind == 0 ? admit : now);
    put(l, &len,
        "PID|1||%s^^^HOSP^MR~%09" PRIu64 "^^^NATION^NI||Testperson^Alex^M^^^^L||19%02u%02u%02u|%c"
        "|||%u Example Street^^Almaty^^050000^KZ^H||+7727555%04u|||M||%s\r",
        mrn, (cs * 7 + c->idx) % 1000000000, (unsigned)(40 + cs % 60), (unsigned)(1 + cs % 12),
        (unsigned)(1 + cs % 28), cs % 2 ? 'F' : 'M', (unsigned)(1 + cs % 200),
        (unsigned)(cs % 10000), caseid);
    if (kind == 0) {
        put_pv1(l, &len, "I", ward, bed, caseid, admit, "");
        put(l, &len, "AL1|1|DA|^Penicillin|MO|Rash\r");
        p->events = 1;
    } else if (kind == 2) {
        dtm(admit_t + 3 * 86400 + (int64_t)(cs % 86400), event);
        put_pv1(l, &len, "I", ward, bed, caseid, admit, event);
        put(l, &len, "DG1|1||I10^Essential hypertension^I10||%s|F\r", admit);
        p->events = 1;
    } else {
        dtm(admit_t + 3600 * (int64_t)(1 + cs % 48), event);
        put_pv1(l, &len, "I", ward, bed, caseid, admit, "");
        put(l, &len, "ORC|RE|O%s|F%s||CM||||%s\r", p->id, p->id, event);
        put(l, &len,
            "OBR|1|O%s|F%s|24323-8^Metabolic panel^LN|||%s|||||||||1234^Adams^Ruth"
            "||||||%s||CH|F\r",
            p->id, p->id, event, event);
        for (unsigned i = 0; i < l->obx; i++) {
            const struct lab *b = &LABS[i];
            unsigned v = (unsigned)b->lo +
                         (unsigned)((cs * 31 + i * 17 + c->idx) % (uint64_t)(b->hi - b->lo + 1));
            put(l, &len, "OBX|%u|NM|%s^%s^LN||%u.%u|%s|%s|N|||F|||%s\r", i + 1, b->code, b->name,
                v / 10, v % 10, b->unit, b->range, event);
        }
        p->events = l->obx;
    }
    put(l, &len, "\x1c\r");
    return len;
}

static void update_out(load *l, conn *c, bool want)
{
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};

    if (want == c->want_out)
        return;
    c->want_out = want;
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
}

static void flush_out(load *l, conn *c)
{
    while (c->out_done < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_done, c->out_len - c->out_done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            die("connection %u: send: %s", c->idx, strerror(errno));
        }
        c->out_done += (size_t)n;
    }
    if (c->out_done == c->out_len)
        c->out_len = c->out_done = 0;
    update_out(l, c, c->out_len > 0);
}

/* Sends the next message on c; t0 is when it counts from (0: now). */
static void send_next(load *l, conn *c, int64_t t0)
{
    pending p;
    size_t len;

    if (c->q_n == c->q_cap) { /* grow the ring, unrolled to start at 0 */
        size_t cap = c->q_cap ? 2 * c->q_cap : 16;
        pending *v = xrealloc(NULL, cap * sizeof(*v));
        for (size_t i = 0; i < c->q_n; i++)
            v[i] = c->q[(c->q_head + i) % c->q_cap];
        free(c->q);
        c->q = v;
        c->q_cap = cap;
        c->q_head = 0;
    }
    len = make_message(l, c, c->seq++, (int64_t)time(NULL), &p);
    if (c->out_len + len > c->out_cap) {
        c->out_cap = 2 * (c->out_len + len);
        c->out = xrealloc(c->out, c->out_cap);
    }
    memcpy(c->out + c->out_len, l->msg, len);
    c->out_len += len;
    p.t0_ns = t0 ? t0 : now_ns();
    c->q[(c->q_head + c->q_n) % c->q_cap] = p;
    c->q_n++;
    l->sent++;
    l->in_flight++;
    if (l->max_messages && l->sent >= l->max_messages)
        l->sending = false;
    flush_out(l, c);
}

/* The value of field n (1-based, after the segment name) of segment seg in msg. */
static bool field(const char *msg, size_t len, const char *seg, unsigned n, const char **val,
                  size_t *vlen)
{
    char fs = len > 3 ? msg[3] : '|';
    size_t seglen = strlen(seg);

    for (size_t at = 0; at < len;) {
        const char *end = memchr(msg + at, '\r', len - at);
        size_t stop = end ? (size_t)(end - msg) : len;
        if (stop - at > seglen && memcmp(msg + at, seg, seglen) == 0 && msg[at + seglen] == fs) {
            size_t p = at + seglen;
            for (unsigned i = 0; i < n && p < stop; i++) {
                p++; /* past the separator */
                const char *f = memchr(msg + p, fs, stop - p);
                size_t fend = f ? (size_t)(f - msg) : stop;
                if (i + 1 == n) {
                    *val = msg + p;
                    *vlen = fend - p;
                    return true;
                }
                p = fend;
            }
            return false;
        }
        at = stop + 1;
    }
    return false;
}

static void wrong_ack(load *l, conn *c, const char *what, const char *msg, size_t len)
{
    if (l->errors++ < MAX_ERRORS_SHOWN) {
        fprintf(stderr, "hl7_load: connection %u: %s: ", c->idx, what);
        for (size_t i = 0; i < len && i < 300; i++)
            fputc(msg[i] == '\r' ? '\n' : msg[i], stderr);
        fputc('\n', stderr);
    }
}

/* One ACK read on c: matched with the oldest message it waits for. */
static void ack(load *l, conn *c, const char *msg, size_t len, int64_t t)
{
    const char *code = NULL, *id = NULL;
    size_t code_len = 0, id_len = 0;

    if (c->q_n == 0) {
        wrong_ack(l, c, "an ACK for no message sent", msg, len);
        return;
    }
    pending *p = &c->q[c->q_head];
    c->q_head = (c->q_head + 1) % c->q_cap;
    c->q_n--;
    l->in_flight--;
    if (!field(msg, len, "MSA", 1, &code, &code_len) || !field(msg, len, "MSA", 2, &id, &id_len)) {
        wrong_ack(l, c, "no MSA-1 and MSA-2", msg, len);
        return;
    }
    if (id_len != strlen(p->id) || memcmp(id, p->id, id_len) != 0) {
        wrong_ack(l, c, "MSA-2 is not the control id sent", msg, len);
        return;
    }
    if (code_len != 2 || memcmp(code, "AA", 2) != 0) {
        wrong_ack(l, c, "not AA", msg, len);
        return;
    }
    l->acked++;
    l->events += p->events;
    l->last_ack_ns = t;
    if (l->n_lat == l->cap_lat) {
        l->cap_lat = l->cap_lat ? 2 * l->cap_lat : 65536;
        l->lat = xrealloc(l->lat, l->cap_lat * sizeof(*l->lat));
    }
    l->lat[l->n_lat++] = t - p->t0_ns;
}

static void readable(load *l, conn *c)
{
    for (;;) {
        if (c->in_cap - c->in_len < 4096) {
            c->in_cap = c->in_cap ? 2 * c->in_cap : 16384;
            c->in = xrealloc(c->in, c->in_cap);
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            die("connection %u: recv: %s", c->idx, strerror(errno));
        }
        if (n == 0)
            die("connection %u closed by kpid with %zu ACKs owed", c->idx, c->q_n);
        c->in_len += (size_t)n;
        int64_t t = now_ns();
        size_t at = 0;
        for (;;) {
            const char *sb = memchr(c->in + at, '\v', c->in_len - at);
            if (!sb)
                break;
            size_t s = (size_t)(sb - c->in) + 1;
            const char *eb = memchr(c->in + s, '\x1c', c->in_len - s);
            if (!eb || (size_t)(eb - c->in) + 1 >= c->in_len)
                break; /* the rest comes with the next read */
            size_t e = (size_t)(eb - c->in);
            ack(l, c, c->in + s, e - s, t);
            at = e + 2; /* past 0x1C 0x0D */
            if (l->sending && !l->rate)
                send_next(l, c, 0);
        }
        memmove(c->in, c->in + at, c->in_len - at);
        c->in_len -= at;
        if ((size_t)n < 4096)
            break;
    }
}

static void connect_all(load *l)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int r = getaddrinfo(l->host, l->port, &hints, &ai);

    if (r != 0)
        die("%s port %s: %s", l->host, l->port, gai_strerror(r));
    l->conns = calloc(l->n_conns, sizeof(*l->conns));
    if (!l->conns)
        die("out of memory");
    for (unsigned i = 0; i < l->n_conns; i++) {
        conn *c = &l->conns[i];
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        int one = 1;

        c->idx = i;
        c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0)
            die("connect to %s port %s: %s", l->host, l->port, strerror(errno));
        /* A sender's small frames go out at once, as an MLLP client's should. */
        if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
            fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0 ||
            epoll_ctl(l->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
            die("connection %u: %s", i, strerror(errno));
    }
    freeaddrinfo(ai);
}

/* Arms the timer at the absolute monotonic time t (ns). */
static void arm(load *l, int64_t t)
{
    struct itimerspec its = {.it_value = {.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000}};

    if (timerfd_settime(l->timerfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        die("timerfd_settime: %s", strerror(errno));
}

static void run(load *l)
{
    struct epoll_event evs[64], tev = {.events = EPOLLIN, .data.ptr = NULL};
    int64_t end_ns, drain_end_ns, period_ns = 0;
    uint64_t due = 0; /* open loop: the next message due */

    l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (l->timerfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->timerfd, &tev) < 0)
        die("timerfd: %s", strerror(errno));
    l->sending = true;
    l->start_ns = l->last_ack_ns = now_ns();
    end_ns = l->max_messages ? INT64_MAX : l->start_ns + (int64_t)(l->seconds * 1e9);
    drain_end_ns = end_ns;
    if (l->rate) {
        period_ns = (int64_t)(1e9 / l->rate);
        arm(l, l->start_ns);
    } else {
        for (unsigned i = 0; i < l->n_conns && l->sending; i++)
            send_next(l, &l->conns[i], 0);
        arm(l, end_ns == INT64_MAX ? l->start_ns + INT64_C(3600000000000) : end_ns);
    }
    for (;;) {
        int64_t t = now_ns();
        if (l->sending && t >= end_ns)
            l->sending = false;
        if (!l->sending && drain_end_ns == end_ns) {
            drain_end_ns = t + (int64_t)(l->drain * 1e9);
            arm(l, drain_end_ns);
        }
        if (!l->sending && (l->in_flight == 0 || t >= drain_end_ns))
            break;
        int n = epoll_wait(l->epfd, evs, 64, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (!c) {
                uint64_t expirations;
                if (read(l->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
                    die("timerfd read: %s", strerror(errno));
                continue;
            }
            if (evs[i].events & EPOLLOUT)
                flush_out(l, c);
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                readable(l, c);
        }
        if (l->rate && l->sending) { /* every message due by now, then wait for the next */
            int64_t now = now_ns();
            for (;;) {
                int64_t at = l->start_ns + (int64_t)due * period_ns;
                if (at >= end_ns) {
                    l->sending = false;
                    break;
                }
                if (at > now) {
                    arm(l, at);
                    break;
                }
                send_next(l, &l->conns[due % l->n_conns], at);
                due++;
                if (!l->sending)
                    break;
            }
        }
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* The q-quantile of the sorted latencies, in ms (nearest rank). */
static double quantile_ms(const load *l, double q)
{
    size_t i;

    if (!l->n_lat)
        return 0;
    i = (size_t)(q * (double)l->n_lat + 0.999999);
    i = i ? i - 1 : 0;
    if (i >= l->n_lat)
        i = l->n_lat - 1;
    return (double)l->lat[i] / 1e6;
}

static void usage(void)
{
    fputs("usage: hl7_load --port PORT [--host ADDR] [--connections N]\n"
          "                [--seconds S | --messages M] [--rate R] [--prefix P] [--obx K]\n"
          "                [--drain S]\n",
          stderr);
    exit(2);
}

static double number(const char *s, const char *what, double min, double max)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || v < min || v > max)
        die("%s: \"%s\" is not a number from %g to %g", what, s, min, max);
    return v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'h'},        {"port", required_argument, NULL, 'p'},
        {"connections", required_argument, NULL, 'c'}, {"seconds", required_argument, NULL, 's'},
        {"messages", required_argument, NULL, 'm'},    {"rate", required_argument, NULL, 'r'},
        {"prefix", required_argument, NULL, 'x'},      {"obx", required_argument, NULL, 'o'},
        {"drain", required_argument, NULL, 'd'},       {NULL, 0, NULL, 0},
    };
    load l = {
        .host = "127.0.0.1", .prefix = "B", .n_conns = 1, .obx = 4, .seconds = 10, .drain = 30};
    int opt;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'h': l.host = optarg; break;
        case 'p': l.port = optarg; break;
        case 'c': l.n_conns = (unsigned)number(optarg, "--connections", 1, 10000); break;
        case 's': l.seconds = number(optarg, "--seconds", 0.001, 86400); break;
        case 'm': l.max_messages = (uint64_t)number(optarg, "--messages", 1, 1e12); break;
        case 'r': l.rate = number(optarg, "--rate", 0.001, 1e7); break;
        case 'x': l.prefix = optarg; break;
        case 'o': l.obx = (unsigned)number(optarg, "--obx", 1, MAX_OBX); break;
        case 'd': l.drain = number(optarg, "--drain", 0, 3600); break;
        default: usage();
        }
    }
    if (!l.port || optind != argc)
        usage();
    if (strlen(l.prefix) > 12)
        die("--prefix: at most 12 characters");
    l.msg_cap = 4096;
    l.msg = xrealloc(NULL, l.msg_cap);
    if ((l.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1: %s", strerror(errno));
    connect_all(&l);
    run(&l);

    double secs = (double)(l.last_ack_ns - l.start_ns) / 1e9;
    uint64_t unacked = l.in_flight;
    qsort(l.lat, l.n_lat, sizeof(*l.lat), cmp_i64);
    printf("mode=%s connections=%u messages=%" PRIu64 " acked=%" PRIu64 " errors=%" PRIu64
           " unacked=%" PRIu64 " events=%" PRIu64 " seconds=%.3f rate=%.1f p50_ms=%.3f"
           " p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
           l.rate ? "open" : "closed", l.n_conns, l.sent, l.acked, l.errors, unacked, l.events,
           secs, secs > 0 ? (double)l.acked / secs : 0.0, quantile_ms(&l, 0.50),
           quantile_ms(&l, 0.90), quantile_ms(&l, 0.99),
           l.n_lat ? (double)l.lat[l.n_lat - 1] / 1e6 : 0.0);
    if (unacked)
        fprintf(stderr, "hl7_load: %" PRIu64 " messages without an ACK after %.0f s\n", unacked,
                l.drain);
    for (unsigned i = 0; i < l.n_conns; i++) {
        close(l.conns[i].fd);
        free(l.conns[i].out);
        free(l.conns[i].in);
        free(l.conns[i].q);
    }
    free(l.conns);
    free(l.lat);
    free(l.msg);
    close(l.timerfd);
    close(l.epfd);
    return l.errors || unacked || l.acked != l.sent ? 1 : 0;
}
