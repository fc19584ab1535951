/* The "wrk ceiling": the least a server can do per request on one core.
 *
 * One thread, level-triggered epoll, non-blocking sockets, keep-alive and
 * pipelining. It parses nothing but the end of each request head (GET only,
 * no body) and a "Connection: close" line, and answers every request with
 * the same bytes. No real server can be faster on the same core, so a
 * peer's req/s divided by this one's is the share of the ceiling it reaches.
 *
 * Built by benchmarks/peers.py with gcc into a temporary directory:
 *     c_epoll PORT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BODY "Hello, World!"
#define HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
static const char RESP[] = HEAD "\r\n" BODY;
static const char RESP_CLOSE[] = HEAD "Connection: close\r\n\r\n" BODY;

#define INBUF 16384

struct conn {
    int fd;
    int closing;                /* answered a Connection: close: close once flushed */
    size_t inlen;
    char *out;                  /* unsent output, only when the socket was full */
    size_t outlen, outcap, outoff;
    char in[INBUF];
};

static int has_close(const char *head, size_t len) {
    static const char field[] = "\r\nconnection: close";
    size_t n = sizeof field - 1;
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(head + i, field, n) == 0) return 1;
    return 0;
}

static void drop(int ep, struct conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->out);
    free(c);
}

static int append(struct conn *c, const char *data, size_t len) {
    if (c->outlen + len > c->outcap) {
        size_t cap = c->outcap ? c->outcap * 2 : 4096;
        while (cap < c->outlen + len) cap *= 2;
        char *p = realloc(c->out, cap);
        if (!p) return -1;
        c->out = p;
        c->outcap = cap;
    }
    memcpy(c->out + c->outlen, data, len);
    c->outlen += len;
    return 0;
}

/* Writes what is queued; returns -1 to drop the connection, 0 otherwise. */
static int flush(int ep, struct conn *c) {
    while (c->outoff < c->outlen) {
        ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                return 0;
            }
            return -1;
        }
        c->outoff += (size_t)n;
    }
    c->outlen = c->outoff = 0;
    if (c->closing) return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    return 0;
}

static int on_readable(int ep, struct conn *c) {
    ssize_t n = recv(c->fd, c->in + c->inlen, INBUF - c->inlen, 0);
    if (n <= 0) return (n < 0 && errno == EAGAIN) ? 0 : -1;
    c->inlen += (size_t)n;
    size_t pos = 0;
    for (;;) {
        char *end = memmem(c->in + pos, c->inlen - pos, "\r\n\r\n", 4);
        if (!end) break;
        size_t headlen = (size_t)(end - (c->in + pos)) + 4;
        if (has_close(c->in + pos, headlen)) {
            c->closing = 1;
            if (append(c, RESP_CLOSE, sizeof RESP_CLOSE - 1)) return -1;
            pos = c->inlen;     /* nothing after a close is answered */
            break;
        }
        if (append(c, RESP, sizeof RESP - 1)) return -1;
        pos += headlen;
    }
    memmove(c->in, c->in + pos, c->inlen - pos);
    c->inlen -= pos;
    if (c->inlen == INBUF) return -1;       /* a head larger than the buffer */
    /* Every response produced by one read leaves in one send. */
    return c->outlen ? flush(ep, c) : 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) || listen(ls, 1024)) {
        perror("bind/listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event events[256];
    for (;;) {
        int ready = epoll_wait(ep, events, 256, -1);
        if (ready < 0 && errno != EINTR) return 1;
        for (int i = 0; i < ready; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof *c);
                    if (!c) { close(fd); continue; }
                    c->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            int rc;
            if (events[i].events & EPOLLOUT) rc = flush(ep, c);
            else if (events[i].events & EPOLLIN) rc = on_readable(ep, c);
            else rc = -1;           /* EPOLLERR or EPOLLHUP alone */
            if (rc) drop(ep, c);
        }
    }
}
