# The event loop: one epoll set, the listening sockets, the connections, the
# clock, the file cache. Level-triggered, so each readiness event costs one
# recv. The GIL is released only around epoll_wait, where the thread waits:
# every other call is non-blocking and takes microseconds, and each release
# would hand a busy embedding thread a whole switch interval.


cdef limits_t read_limits(object limits) except *:
    # The one place the C side reads fastcore.limits.Limits.
    cdef limits_t values
    values.max_request_line = limits.max_request_line
    values.max_header_field = limits.max_header_field
    values.max_header_bytes = limits.max_header_bytes
    values.max_header_count = limits.max_header_count
    values.max_body = limits.max_body
    values.write_high_water = limits.write_high_water
    values.max_connections = limits.max_connections
    values.file_cache_size = limits.file_cache_size
    values.max_form_fields = limits.max_form_fields
    values.upload_spool_size = limits.upload_spool_size
    values.threads = limits.threads
    values.max_pending = limits.max_pending
    values.header_timeout = limits.header_timeout
    values.body_timeout = limits.body_timeout
    values.keepalive_timeout = limits.keepalive_timeout
    values.write_timeout = limits.write_timeout
    values.linger_timeout = limits.linger_timeout
    return values


@cython.final
cdef class Loop:
    """The engine behind a Server: call run() in the thread that serves, and
    request_stop() from any thread."""

    def __cinit__(self):
        self.epfd = -1
        self.wake_fd = -1

    def __init__(self, listen_fds, dict routes, object fallback, limits,
                 logger, double stop_timeout=10.0, inline=(), *, proxy=None,
                 bint shared=False, board=None, Py_ssize_t slot=-1,
                 Py_ssize_t max_requests=0):
        # listen_fds: a listening descriptor or a list of them (-1 or an
        # empty list: none, for the test client), owned by the loop from
        # here on. `shared`: other processes' loops accept from the same
        # sockets. `board`: the master's shared memory (see board_slot),
        # where slot number `slot` is this loop's: it keeps there the time
        # of its last tick (for the master to tell a stuck worker), its
        # connections, and whether it waits for connections (for the other
        # workers' Acceptors). `max_requests`: stop gracefully after that
        # many requests (0: never). `proxy`: a fastcore.proxy.ProxyConfig,
        # or None for no proxy at all.
        cdef epoll_event event
        self.proxy = proxy
        if proxy is not None:
            self.proxy_headers = proxy.proxy_headers
            self.proxy_protocol = {"off": 0, "v1": PP_V1, "v2": PP_V2,
                                   "auto": PP_AUTO}[proxy.proxy_protocol]
        if isinstance(listen_fds, int):
            listen_fds = [] if listen_fds < 0 else [listen_fds]
        self.acceptor = Acceptor.__new__(Acceptor, self, list(listen_fds), shared)
        self.max_requests = max_requests
        if board is not None:
            PyObject_GetBuffer(board, &self.board_buffer, PyBUF_WRITABLE)
            if not 0 <= slot < (self.board_buffer.len - BOARD_HEADER) // sizeof(board_slot):
                PyBuffer_Release(&self.board_buffer)
                raise ValueError(f"slot {slot} is not on the board")
            self.n_slots = <long long*>self.board_buffer.buf
            self.slots = <board_slot*>(<char*>self.board_buffer.buf + BOARD_HEADER)
            self.me = &self.slots[slot]
            self.me.pid = getpid()
        self.dispatcher = Dispatcher.__new__(Dispatcher, self, routes, fallback,
                                             frozenset(inline))
        self.logger = logger
        self.stop_timeout = stop_timeout
        self.conns = set()
        self.graveyard = []
        self.woken = deque()
        self.limits = read_limits(limits)
        self.files = FileCache.__new__(FileCache, self.limits.file_cache_size)
        # Timeouts are checked by a periodic sweep, fine enough for the
        # shortest of them.
        self.sweep_interval = min(1.0, max(0.01, min(
            self.limits.header_timeout, self.limits.body_timeout,
            self.limits.keepalive_timeout, self.limits.write_timeout,
            self.limits.linger_timeout) / 4))

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
        event.data.u64 = EV_WAKE
        if epoll_ctl(self.epfd, EPOLL_CTL_ADD, self.wake_fd, &event) < 0:
            raise OSError(errno, "epoll_ctl")
        self.tick()
        self.acceptor.resume()

    def __dealloc__(self):
        for conn in list(self.conns or ()):
            (<Conn>conn).close()
        self.close_descriptors()
        PyMem_Free(self.rbuf)
        if self.slots is not NULL:
            self.slots = self.me = NULL
            PyBuffer_Release(&self.board_buffer)

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

    def request_stop(self, timeout=None, backlog=True):
        """Begin a graceful stop; safe from any thread, from signal handlers
        and from a handler. run() returns once every connection is closed or
        `timeout` seconds (default: the loop's stop_timeout) have passed.
        With `backlog` false the connections waiting in the listen backlog
        are left there, for the other workers sharing the sockets."""
        self.begin_stop(self.stop_timeout if timeout is None else timeout, backlog)

    cdef int begin_stop(self, double timeout, bint backlog=True) except -1:
        cdef uint64_t one = 1
        self.drain_timeout = timeout
        self.take_backlog = backlog
        self.stop_requested = True
        if self.wake_fd >= 0:
            write(self.wake_fd, &one, 8)
        return 0

    cdef int complete(self, object work) except -1:
        # From any thread (holding the GIL): a Job the pool has finished, or
        # a StreamBody with something to send. One write to the eventfd per
        # batch of wake-ups, however many threads.
        cdef uint64_t one = 1
        self.woken.append(work)
        if not self.wake_pending and self.wake_fd >= 0:
            self.wake_pending = True
            write(self.wake_fd, &one, 8)
        return 0

    cdef int run_woken(self) except -1:
        cdef object work
        cdef StreamBody body
        cdef Job job
        cdef Conn conn
        while self.woken:
            work = self.woken.popleft()
            if type(work) is Job:
                job = <Job>work
                job.done = True
                conn = job.conn
                if conn is None:
                    drop_job(job)            # its client left meanwhile
                    continue
            else:
                body = <StreamBody>work
                body.pulling = False
                conn = body.conn
                if conn is None or conn.stream is not body:
                    if body.close_after_pull:
                        body.close_source()  # closed while a thread pulled it
                    continue
            if conn.fd < 0:
                continue
            try:
                conn.flush()
            except Exception:
                self.logger.exception("internal error on a connection")
                conn.abort()
        return 0

    def in_loop_thread(self):
        """Whether the calling thread is the one running this loop."""
        return self.running and PyThread_get_thread_ident() == self.thread_id

    def run(self):
        """Serve until request_stop() has been called and the drain is done.
        Raises RuntimeError if the loop is already running (in this or any
        other thread) or has run and stopped."""
        cdef epoll_event events[MAX_EVENTS]
        cdef int epfd = self.epfd
        cdef int n, i, timeout_ms
        cdef double wake_at
        cdef uint64_t counter
        cdef uint64_t data
        cdef Conn conn
        # Checked and set under the GIL, with nothing between that could
        # release it: two threads cannot both get past here.
        if self.running:
            raise RuntimeError("this loop is already running")
        if epfd < 0:
            raise RuntimeError("this loop has already run and stopped")
        self.running = True
        self.thread_id = PyThread_get_thread_ident()
        if self.limits.threads:
            self.dispatcher.pool = Pool.__new__(Pool, self, self.limits.threads)
        try:
            while True:
                wake_at = min(self.next_sweep, self.acceptor.resume_at)
                if self.draining:
                    wake_at = min(wake_at, self.drain_deadline)
                timeout_ms = <int>((wake_at - self.now) * 1000) + 1
                if timeout_ms < 0:
                    timeout_ms = 0
                if self.me is not NULL:
                    if self.acceptor.exclusive and not self.draining:
                        self.acceptor.rebalance()
                    self.me.conns = <int>self.n_conns
                    self.me.waiting = not self.draining
                with nogil:
                    n = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms)
                if self.me is not NULL:
                    self.me.waiting = 0
                    if self.me.kick:
                        self.me.kick = 0
                        self.acceptor.requeue_all()
                if n < 0:
                    if errno != EINTR:
                        raise OSError(errno, "epoll_wait")
                    n = 0
                # Runs Python signal handlers (Ctrl-C, SIGTERM) in the main
                # thread; a no-op elsewhere.
                PyErr_CheckSignals()
                self.tick()
                for i in range(n):
                    data = events[i].data.u64
                    if data == EV_WAKE:
                        read(self.wake_fd, &counter, 8)
                        # Cleared before the queue is read: a wake-up queued
                        # from now on writes the eventfd again.
                        self.wake_pending = False
                        if self.stop_requested and not self.draining:
                            self.begin_drain()
                        self.run_woken()
                    elif data < EV_LISTENER + MAX_LISTENERS:
                        self.acceptor.ready(<Py_ssize_t>(data - EV_LISTENER))
                    else:
                        self.on_event(<Conn>events[i].data.ptr, events[i].events)
                self.graveyard.clear()
                if self.now >= self.next_sweep:
                    self.sweep()
                if not self.acceptor.accepting and self.now >= self.acceptor.resume_at:
                    self.acceptor.resume()
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
            self.acceptor.close()
            self.files.clear()
            if self.dispatcher.pool is not None:
                # The drain has waited for running handlers; those still
                # running now cannot be interrupted and are left behind.
                self.dispatcher.pool.stop(1.0)
            self.woken.clear()
            self.close_descriptors()

    cdef int tick(self) except -1:
        cdef timespec ts
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        self.now = ts.tv_sec + ts.tv_nsec * 1e-9
        refresh_date()
        if self.me is not NULL:
            self.me.beat = self.now
            self.me.conns = <int>self.n_conns
        return 0

    cdef int on_event(self, Conn conn, unsigned int events) except -1:
        # A failure here is a bug in fastcore, not in a handler (handlers'
        # failures are answered with 500): log it and drop only this
        # connection.
        try:
            if events & EPOLLOUT:
                conn.flush()
            if conn.fd >= 0 and events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP):
                conn.on_readable()
        except Exception:
            self.logger.exception("internal error on a connection")
            conn.abort()
        return 0

    # -- connections ---------------------------------------------------------

    cdef Conn add_conn(self, int fd, sockaddr_storage* peer):
        # A connected, non-blocking socket becomes one of the loop's
        # connections; on failure the descriptor is closed.
        cdef epoll_event event
        cdef Conn conn = Conn.__new__(Conn, self, fd)
        conn.peer = peer[0]
        event.events = EPOLLIN
        event.data.ptr = <void*>conn
        if epoll_ctl(self.epfd, EPOLL_CTL_ADD, fd, &event) < 0:
            conn.fd = -1
            close(fd)
            raise OSError(errno, "epoll_ctl")
        self.conns.add(conn)
        self.n_conns += 1
        return conn

    def adopt(self, int fd, client=None):
        """Serve a socket that is already connected (one end of a
        socketpair, for the test client) as if it had been accepted: the
        loop owns the descriptor from here on and closes it. It must be a
        non-blocking stream socket. `client` stands for its peer's (host,
        port) in ``request.client``. Safe from any thread: it runs under
        the GIL without calling Python code, and the loop touches the
        state it changes only under the GIL."""
        cdef sockaddr_storage addr
        cdef socklen_t addrlen = sizeof(addr)
        cdef Conn conn
        if self.epfd < 0 or self.draining:
            raise RuntimeError("this loop has stopped serving")
        memset(&addr, 0, sizeof(addr))
        getpeername(fd, <sockaddr*>&addr, &addrlen)
        conn = self.add_conn(fd, &addr)
        if client is not None:
            conn._client = tuple(client)

    cdef int count_request(self) except -1:
        # A worker with --max-requests retires after that many: gracefully,
        # leaving the backlog to the other workers.
        self.requests += 1
        if self.requests == self.max_requests:
            self.logger.info("%d requests served: retiring", self.requests)
            self.begin_stop(self.stop_timeout, not self.acceptor.exclusive)
        return 0

    # -- stopping and timeouts ----------------------------------------------

    cdef int begin_drain(self) except -1:
        # Clients already in the listen backlog connected before the stop:
        # take them in, then close the listener, so that new connections
        # are refused only from here on.
        self.draining = True
        self.drain_deadline = self.now + self.drain_timeout
        if self.take_backlog:
            self.acceptor.ready_all()
        self.acceptor.close()
        for conn in list(self.conns):
            try:
                (<Conn>conn).on_stop()
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
                conn.on_tick(now)
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
        if not self.acceptor.accepting:
            # A descriptor and a connection slot just came free.
            self.acceptor.resume()

    @property
    def connections(self):
        """The number of open client connections."""
        return self.n_conns

    @property
    def routes(self):
        """The exact routes the engine answers by itself."""
        return self.dispatcher.routes

    @property
    def handler_threads(self):
        """The handler pool's threads that are alive (0 without a pool)."""
        pool = self.dispatcher.pool
        return 0 if pool is None else sum(t.is_alive() for t in pool.threads)
