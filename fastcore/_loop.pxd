cdef class Loop:
    cdef:
        int epfd
        int wake_fd
        Acceptor acceptor             # the listening sockets
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
        bint take_backlog             # the drain accepts what waits in the backlog
        readonly Py_ssize_t requests  # requests read so far
        Py_ssize_t max_requests       # then the loop stops by itself (0: never)
        Py_buffer board_buffer        # a worker's view of its master's board
        board_slot* slots             # the board's slots (NULL: not a worker)
        long long* n_slots            # how many are in use (the board's header)
        board_slot* me                # this loop's slot, written at every tick
        object woken                  # deque of StreamBody and Job, from other threads
        bint wake_pending             # wake_fd has been written, not yet read

    cdef int tick(self) except -1
    cdef void close_descriptors(self)
    cdef int on_event(self, Conn conn, unsigned int events) except -1
    cdef Conn add_conn(self, int fd, sockaddr_storage* peer)
    cdef int count_request(self) except -1
    cdef int begin_stop(self, double timeout, bint backlog=*) except -1
    cdef int complete(self, object work) except -1
    cdef int run_woken(self) except -1
    cdef int begin_drain(self) except -1
    cdef int sweep(self) except -1
    cdef void forget(self, Conn conn)
