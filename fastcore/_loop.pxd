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

        readonly dict routes          # raw path -> {raw method: handler}
        object fallback               # App.dispatch, for everything else
        object logger
        bytes ok_head                 # "200 OK" + text/html content type
        bytes ok_line                 # the "200 OK" status line
        dict status_lines
        dict error_heads
        dict error_bodies

        dict file_cache               # path -> FileEntry (open descriptors)
        dict static_targets           # raw target -> (FileEntry, extra fields)
        Py_ssize_t file_cache_size

        char date_line[40]
        time_t date_second
        double now
        double next_sweep
        double sweep_interval

        Py_ssize_t max_request_line
        Py_ssize_t max_header_field
        Py_ssize_t max_header_bytes
        Py_ssize_t max_header_count
        Py_ssize_t max_body
        Py_ssize_t high_water
        Py_ssize_t max_connections
        double header_timeout
        double body_timeout
        double keepalive_timeout
        double write_timeout
        double linger_timeout

        readonly bint running
        readonly bint draining
        readonly Py_ssize_t forced_closes   # connections reset when run() ended
        double stop_timeout
        double drain_deadline

    cdef int tick(self) except -1
    cdef void close_descriptors(self)
    cdef int on_event(self, Conn conn, unsigned int events) except -1
    cdef int accept_ready(self, bint everything=*) except -1
    cdef int pause_accepting(self, double retry_at) except -1
    cdef int resume_accepting(self) except -1
    cdef int close_listener(self) except -1
    cdef int begin_drain(self) except -1
    cdef int sweep(self) except -1
    cdef void forget(self, Conn conn)
    cdef FileEntry open_file(self, str path)
    cdef int remember_target(self, bytes target, FileEntry entry, bytes extra) except -1
    cdef void forget_file(self, FileEntry entry)
