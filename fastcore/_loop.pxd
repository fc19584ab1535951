cdef class Loop:
    cdef:
        int epfd
        int listen_fd
        int wake_fd
        bint accepting                # listen_fd is in the epoll set
        double accept_resume_at       # when to retry accept after EMFILE
        double accept_warned          # when that was last logged
        char* rbuf                    # one receive buffer for every connection
        set conns
        list graveyard                # closed during this batch of events
        readonly Py_ssize_t n_conns

        Dispatcher dispatcher         # who answers requests, and the handler pool
        object logger
        FileCache files
        limits_t limits
        double stop_timeout           # of a stop the loop begins itself
        readonly object proxy         # fastcore.proxy.ProxyConfig, or None
        bint proxy_headers            # believe X-Forwarded-* and Forwarded from trusted peers
        int proxy_protocol            # 0, or the PROXY versions expected (PP_V1 | PP_V2)

        double now
        double next_sweep
        double sweep_interval

        readonly bint running
        unsigned long thread_id       # of the thread in run()
        readonly bint draining
        readonly Py_ssize_t forced_closes   # connections reset when run() ended
        double drain_deadline
        double drain_timeout
        bint stop_requested           # by request_stop(), from any thread
        object woken                  # deque of StreamBody and Job, from other threads
        bint wake_pending             # wake_fd has been written, not yet read

    cdef int tick(self) except -1
    cdef void close_descriptors(self)
    cdef int on_event(self, Conn conn, unsigned int events) except -1
    cdef int accept_ready(self, bint everything=*) except -1
    cdef Conn add_conn(self, int fd, sockaddr_storage* peer)
    cdef int pause_accepting(self, double retry_at) except -1
    cdef int resume_accepting(self) except -1
    cdef int close_listener(self) except -1
    cdef int begin_stop(self, double timeout) except -1
    cdef int complete(self, object work) except -1
    cdef int run_woken(self) except -1
    cdef int begin_drain(self) except -1
    cdef int sweep(self) except -1
    cdef void forget(self, Conn conn)
