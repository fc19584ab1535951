# The event loop: one epoll set, the listening socket, the connections, the
# clock. Level-triggered, so each readiness event costs one recv; the GIL is
# released around epoll_wait, accept4, recv and send.


@cython.final
cdef class Loop:
    """The engine behind a Server: call run() in the thread that serves, and
    request_stop() from any thread."""

    def __cinit__(self):
        self.epfd = -1
        self.listen_fd = -1
        self.wake_fd = -1

    def __init__(self, int listen_fd, dict routes, object fallback, limits,
                 logger):
        cdef epoll_event event
        self.routes = routes
        self.fallback = fallback
        self.logger = logger
        self.conns = set()
        self.graveyard = []
        self.ok_head = OK_HTML_HEAD
        self.status_lines = dict(STATUS_LINES)
        self.ok_line = self.status_lines[200]
        self.file_cache = {}
        self.static_targets = {}
        self.file_cache_size = limits.file_cache_size
        self.error_heads = {}
        self.error_bodies = {}
        for status in ERROR_STATUSES:
            self.error_heads[status] = error_head(status)
            self.error_bodies[status] = error_body(status)

        self.max_request_line = limits.max_request_line
        self.max_header_field = limits.max_header_field
        self.max_header_bytes = limits.max_header_bytes
        self.max_header_count = limits.max_header_count
        self.max_body = limits.max_body
        self.high_water = limits.write_high_water
        self.max_connections = limits.max_connections
        self.header_timeout = limits.header_timeout
        self.body_timeout = limits.body_timeout
        self.keepalive_timeout = limits.keepalive_timeout
        self.write_timeout = limits.write_timeout
        self.linger_timeout = limits.linger_timeout
        # Timeouts are checked by a periodic sweep, fine enough for the
        # shortest of them.
        self.sweep_interval = min(1.0, max(0.01, min(
            self.header_timeout, self.body_timeout, self.keepalive_timeout,
            self.write_timeout, self.linger_timeout) / 4))

        self.rbuf = <char*>PyMem_Malloc(READ_BUFFER_SIZE)
        if self.rbuf is NULL:
            raise MemoryError()
        self.epfd = epoll_create1(EPOLL_CLOEXEC)
        if self.epfd < 0:
            raise OSError(errno, "epoll_create1")
        self.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
        if self.wake_fd < 0:
            raise OSError(errno, "eventfd")
        event.events = EPOLLIN
        event.data.u64 = 1
        if epoll_ctl(self.epfd, EPOLL_CTL_ADD, self.wake_fd, &event) < 0:
            raise OSError(errno, "epoll_ctl")
        self.listen_fd = listen_fd
        self.accept_resume_at = INFINITY
        self.accept_warned = -INFINITY
        self.resume_accepting()
        self.tick()

    def __dealloc__(self):
        for conn in list(self.conns or ()):
            (<Conn>conn).close()
        if self.listen_fd >= 0:
            close(self.listen_fd)
        self.close_descriptors()
        PyMem_Free(self.rbuf)

    cdef void close_descriptors(self):
        # The loop's own descriptors, once it has stopped. request_stop()
        # checks wake_fd under the GIL, so it never writes to a descriptor
        # number that has been reused.
        cdef int fd
        if self.wake_fd >= 0:
            fd = self.wake_fd
            self.wake_fd = -1
            close(fd)
        if self.epfd >= 0:
            fd = self.epfd
            self.epfd = -1
            close(fd)

    def request_stop(self, double timeout):
        """Begin a graceful stop; safe from any thread and from signal
        handlers. run() returns once every connection is closed or
        `timeout` seconds have passed."""
        cdef uint64_t one = 1
        self.stop_timeout = timeout
        if self.wake_fd >= 0:
            write(self.wake_fd, &one, 8)

    def run(self):
        """Serve until request_stop() has been called and the drain is done."""
        cdef epoll_event events[MAX_EVENTS]
        cdef int epfd = self.epfd
        cdef int n, i, timeout_ms
        cdef double wake_at
        cdef uint64_t counter
        cdef Conn conn
        if epfd < 0:
            raise RuntimeError("this loop has already run and stopped")
        self.running = True
        try:
            while True:
                wake_at = min(self.next_sweep, self.accept_resume_at)
                if self.draining:
                    wake_at = min(wake_at, self.drain_deadline)
                timeout_ms = <int>((wake_at - self.now) * 1000) + 1
                if timeout_ms < 0:
                    timeout_ms = 0
                with nogil:
                    n = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms)
                if n < 0:
                    if errno != EINTR:
                        raise OSError(errno, "epoll_wait")
                    n = 0
                # Runs Python signal handlers (Ctrl-C, SIGTERM) in the main
                # thread; a no-op elsewhere.
                PyErr_CheckSignals()
                self.tick()
                for i in range(n):
                    if events[i].data.u64 == 0:
                        self.accept_ready()
                    elif events[i].data.u64 == 1:
                        read(self.wake_fd, &counter, 8)
                        if not self.draining:
                            self.begin_drain()
                    else:
                        self.on_event(<Conn>events[i].data.ptr, events[i].events)
                self.graveyard.clear()
                if self.now >= self.next_sweep:
                    self.sweep()
                if not self.accepting and self.now >= self.accept_resume_at:
                    self.resume_accepting()
                if self.draining and (self.n_conns == 0
                                      or self.now >= self.drain_deadline):
                    break
        finally:
            self.running = False
            # Connections still open here ran out of time (or the loop
            # failed): they are reset, and the stop was not graceful.
            self.forced_closes = self.n_conns
            for conn in list(self.conns):
                conn.abort()
            self.graveyard.clear()
            self.close_listener()
            self.file_cache.clear()             # closes the cached descriptors
            self.static_targets.clear()
            self.close_descriptors()

    cdef int tick(self) except -1:
        cdef timespec ts
        cdef time_t second
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        self.now = ts.tv_sec + ts.tv_nsec * 1e-9
        second = time(NULL)
        if second != self.date_second:
            self.date_second = second
            format_date_line(second, self.date_line)
        return 0

    cdef int on_event(self, Conn conn, unsigned int events) except -1:
        # A failure here is a bug in fastcore, not in a handler (handlers'
        # exceptions are answered with 500): log it and drop only this
        # connection.
        try:
            if events & EPOLLOUT:
                conn.flush()
            if conn.fd >= 0 and events & (EPOLLIN | EPOLLERR | EPOLLHUP):
                conn.on_readable()
        except Exception:
            self.logger.exception("internal error on a connection")
            conn.abort()
        return 0

    # -- accepting ----------------------------------------------------------

    cdef int accept_ready(self, bint everything=False) except -1:
        # Accept up to ACCEPT_BATCH connections, or with `everything` the
        # whole backlog regardless of the cap (when stopping: those clients
        # connected before the listener closed).
        cdef sockaddr_storage addr
        cdef socklen_t addrlen
        cdef int listen_fd = self.listen_fd
        cdef int fd, err, accepted = 0
        cdef epoll_event event
        cdef Conn conn
        if listen_fd < 0:
            return 0                    # closed earlier in this batch of events
        while everything or accepted < ACCEPT_BATCH:
            if self.n_conns >= self.max_connections and not everything:
                # Leave the rest in the backlog until a connection closes.
                return self.pause_accepting(INFINITY)
            addrlen = sizeof(addr)
            with nogil:
                fd = accept4(listen_fd, <sockaddr*>&addr, &addrlen,
                             SOCK_NONBLOCK | SOCK_CLOEXEC)
            if fd < 0:
                err = errno
                if err == EAGAIN:
                    return 0
                if err == EINTR or err == ECONNABORTED or err == EPROTO:
                    continue
                # EMFILE, ENFILE, ENOBUFS, ENOMEM: out of descriptors or
                # memory. Stop listening instead of spinning on a socket
                # that stays readable; retry when a connection closes or
                # after a pause. Warn once a minute at most.
                if self.now - self.accept_warned >= 60.0:
                    self.accept_warned = self.now
                    self.logger.warning(
                        "accept4 failed (%s); pausing accepts until a "
                        "descriptor frees", os_strerror(err))
                return self.pause_accepting(self.now + 0.1)
            conn = Conn.__new__(Conn, self, fd)
            conn.peer = addr
            event.events = EPOLLIN
            event.data.ptr = <void*>conn
            if epoll_ctl(self.epfd, EPOLL_CTL_ADD, fd, &event) < 0:
                conn.fd = -1
                close(fd)
                raise OSError(errno, "epoll_ctl")
            self.conns.add(conn)
            self.n_conns += 1
            accepted += 1
        return 0

    cdef int pause_accepting(self, double retry_at) except -1:
        self.accept_resume_at = retry_at
        if self.accepting:
            epoll_ctl(self.epfd, EPOLL_CTL_DEL, self.listen_fd, NULL)
            self.accepting = False
        return 0

    cdef int resume_accepting(self) except -1:
        cdef epoll_event event
        self.accept_resume_at = INFINITY
        if self.accepting or self.listen_fd < 0 or self.draining:
            return 0
        event.events = EPOLLIN
        event.data.u64 = 0
        if epoll_ctl(self.epfd, EPOLL_CTL_ADD, self.listen_fd, &event) < 0:
            raise OSError(errno, "epoll_ctl")
        self.accepting = True
        return 0

    cdef int close_listener(self) except -1:
        if self.listen_fd >= 0:
            self.pause_accepting(INFINITY)
            close(self.listen_fd)
            self.listen_fd = -1
        return 0

    # -- stopping and timeouts ----------------------------------------------

    cdef int begin_drain(self) except -1:
        # Clients already in the listen backlog connected before the stop:
        # take them in, then close the listener, so that new connections
        # are refused only from here on.
        self.draining = True
        self.drain_deadline = self.now + self.stop_timeout
        self.accept_ready(True)
        self.close_listener()
        for conn in list(self.conns):
            try:
                (<Conn>conn).drain_on_stop()
            except Exception:
                self.logger.exception("internal error on a connection")
                (<Conn>conn).abort()
        return 0

    cdef int sweep(self) except -1:
        cdef double now = self.now
        cdef Conn conn
        self.next_sweep = now + self.sweep_interval
        for item in list(self.conns):
            conn = <Conn>item
            if conn.fd < 0:
                continue
            try:
                if conn.events & EPOLLOUT and now >= conn.wdeadline:
                    conn.on_write_timeout()
                elif (conn.events & EPOLLOUT and conn.kernel_queued < 0
                        and now >= conn.wbaseline_at):
                    conn.note_stall()
                elif conn.events & EPOLLIN and now >= conn.deadline:
                    conn.on_timeout()
            except Exception:
                self.logger.exception("internal error on a connection")
                conn.abort()
        self.graveyard.clear()
        return 0

    cdef void forget(self, Conn conn):
        # Closed connections stay referenced until the end of the current
        # batch of events, which may still point at them.
        self.conns.discard(conn)
        self.graveyard.append(conn)
        self.n_conns -= 1
        if not self.accepting:
            # A descriptor and a connection slot just came free.
            self.resume_accepting()

    # -- files --------------------------------------------------------------

    cdef FileEntry open_file(self, str path):
        # An open descriptor for path, from the cache while the file is
        # unchanged; raises OSError like open().
        cdef FileEntry entry = self.file_cache.get(path)
        if entry is not None:
            if self.now - entry.checked < FILE_RECHECK:
                return entry
            if entry_is_current(entry):
                # Moved to the end: the cache evicts the least recently
                # checked file, an LRU order kept at no cost per request.
                del self.file_cache[path]
                self.file_cache[path] = entry
                entry.checked = self.now
                return entry
            self.forget_file(entry)
        entry = open_file_entry(path, self.now)
        if self.file_cache_size:
            if len(self.file_cache) >= self.file_cache_size:
                # Evict the oldest; a segment still sending it keeps its
                # descriptor open until done.
                self.forget_file(self.file_cache[next(iter(self.file_cache))])
            self.file_cache[path] = entry
        return entry

    cdef int remember_target(self, bytes target, FileEntry entry, bytes extra) except -1:
        # Only a cached entry may be remembered, so that the static targets
        # never keep a descriptor the cache has let go.
        cdef object previous
        if self.file_cache.get(entry.path) is not entry:
            return 0
        previous = self.static_targets.pop(target, None)
        if previous is not None:
            (<FileEntry>previous[0]).targets.remove(target)
        elif len(self.static_targets) >= self.file_cache_size:
            oldest = next(iter(self.static_targets))
            (<FileEntry>self.static_targets.pop(oldest)[0]).targets.remove(oldest)
        self.static_targets[target] = (entry, extra)
        entry.targets.append(target)
        return 0

    cdef void forget_file(self, FileEntry entry):
        # Drop a file from the cache and every static target that leads to
        # it; its descriptor closes once no segment is sending it.
        if self.file_cache.get(entry.path) is entry:
            del self.file_cache[entry.path]
        for target in entry.targets:
            del self.static_targets[target]
        entry.targets.clear()

    @property
    def connections(self):
        """The number of open client connections."""
        return self.n_conns
