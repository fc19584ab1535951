# Extern declarations only: the Linux system calls and C functions the
# engine uses, and nothing else. All are declared nogil, which allows a
# release of the GIL; the engine releases it only around epoll_wait.

from libc.stdint cimport uint32_t, uint64_t
from posix.types cimport off_t


cdef extern from "<errno.h>" nogil:
    int errno
    enum:
        EAGAIN
        EINTR
        ECONNABORTED
        EPROTO


cdef extern from "<sys/uio.h>" nogil:
    struct iovec:
        void* iov_base
        size_t iov_len


cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    struct sockaddr:
        unsigned short sa_family
    struct sockaddr_storage:
        unsigned short ss_family
    struct msghdr:
        void* msg_name
        socklen_t msg_namelen
        iovec* msg_iov
        size_t msg_iovlen
        void* msg_control
        size_t msg_controllen
        int msg_flags
    enum:
        SOCK_NONBLOCK
        SOCK_CLOEXEC
        MSG_NOSIGNAL
        MSG_MORE
        SHUT_WR
        SHUT_RDWR
        SOL_SOCKET
        SO_LINGER
    struct linger:
        int l_onoff
        int l_linger
    int accept4(int fd, sockaddr* addr, socklen_t* addrlen, int flags)
    int getpeername(int fd, sockaddr* addr, socklen_t* addrlen)
    ssize_t recv(int fd, void* buf, size_t n, int flags)
    ssize_t send(int fd, const void* buf, size_t n, int flags)
    ssize_t sendmsg(int fd, const msghdr* msg, int flags)
    int shutdown(int fd, int how)
    int getsockname(int fd, sockaddr* addr, socklen_t* addrlen)
    int setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen)


cdef extern from "<netinet/in.h>" nogil:
    enum:
        AF_INET
        AF_INET6
    struct in_addr:
        uint32_t s_addr
    struct sockaddr_in:
        unsigned short sin_family
        unsigned short sin_port
        in_addr sin_addr
    struct in6_addr:
        unsigned char s6_addr[16]
    struct sockaddr_in6:
        unsigned short sin6_family
        unsigned short sin6_port
        in6_addr sin6_addr
    unsigned short ntohs(unsigned short)


cdef extern from "<sys/ioctl.h>" nogil:
    int ioctl(int fd, unsigned long request, ...)


cdef extern from "<linux/sockios.h>" nogil:
    enum:
        SIOCOUTQ          # bytes in a socket's send queue not yet acknowledged


cdef extern from "<arpa/inet.h>" nogil:
    const char* inet_ntop(int af, const void* src, char* dst, socklen_t size)
    int inet_pton(int af, const char* src, void* dst)
    enum:
        INET6_ADDRSTRLEN


cdef extern from "<sys/epoll.h>" nogil:
    # epoll_event is packed on x86-64: it must be declared here, from the
    # header, and never re-declared as a plain Cython struct.
    ctypedef union epoll_data_t:
        void* ptr
        int fd
        uint32_t u32
        uint64_t u64
    struct epoll_event:
        uint32_t events
        epoll_data_t data
    enum:
        EPOLLIN
        EPOLLOUT
        EPOLLERR
        EPOLLHUP
        EPOLLRDHUP
        EPOLLEXCLUSIVE
        EPOLL_CLOEXEC
        EPOLL_CTL_ADD
        EPOLL_CTL_MOD
        EPOLL_CTL_DEL
    int epoll_create1(int flags)
    int epoll_ctl(int epfd, int op, int fd, epoll_event* event)
    int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout)


cdef extern from "<sys/eventfd.h>" nogil:
    enum:
        EFD_NONBLOCK
        EFD_CLOEXEC
    int eventfd(unsigned int initval, int flags)


cdef extern from "<sys/sendfile.h>" nogil:
    ssize_t sendfile(int out_fd, int in_fd, off_t* offset, size_t count)


cdef extern from "<unistd.h>" nogil:
    int close(int fd)
    ssize_t read(int fd, void* buf, size_t n)
    ssize_t write(int fd, const void* buf, size_t n)
    int getpid()


cdef extern from "<signal.h>" nogil:
    enum:
        SIGURG
    int kill(int pid, int sig)


cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    struct timespec:
        time_t tv_sec
        long tv_nsec
    enum:
        CLOCK_MONOTONIC_COARSE
        CLOCK_MONOTONIC
        CLOCK_REALTIME
    int clock_gettime(int clk, timespec* ts)
    time_t time(time_t* t)


cdef extern from "<string.h>" nogil:
    void* memchr(const void* s, int c, size_t n)
    void* memrchr(const void* s, int c, size_t n)
    void* memcpy(void* dest, const void* src, size_t n)
    int memcmp(const void* a, const void* b, size_t n)
    int strncasecmp(const char* a, const char* b, size_t n)
