# One client connection (see _conn.pxd): read, parse (Reader), answer what
# was parsed in order, send (Output), and the lifecycle around them: when to
# read, when to stop reading, lingering, timeouts, closing.
#
# Parse, then act: the Reader only queues complete requests (and at most one
# refusal); handlers run after it returns, from answer(), which is the one
# path from parsed bytes to a response.


@cython.final
cdef class Conn:

    def __cinit__(self, Loop loop, int fd):
        self.loop = loop
        self.fd = fd
        self.state = C_OPEN
        self.events = EPOLLIN
        self.reader = Reader.__new__(Reader, loop)
        self.output = Output.__new__(Output, fd)
        self.kernel_queued = -1
        self.preface = expect_preface(loop)

    def __dealloc__(self):
        if self.fd >= 0:
            close(self.fd)
            self.fd = -1

    @property
    def client(self):
        if self._client is None:
            self._client = sockaddr_to_tuple(&self.peer)
        return self._client

    @property
    def local(self):
        # One getsockname(2) per connection, when first asked.
        if self._local is None and self.fd >= 0:
            self._local = local_address(self.fd)
        return self._local

    # -- reading ------------------------------------------------------------

    cdef int on_readable(self) except -1:
        cdef Loop loop = self.loop
        cdef char* data = loop.rbuf
        cdef ssize_t n
        cdef int outcome
        if self.preface is not None:
            data += PP_ROOM                      # room to give back a signature's prefix
        while True:
            n = recv(self.fd, data, READ_BUFFER_SIZE - (data - loop.rbuf), 0)
            if n >= 0:
                break
            outcome = io_outcome(errno)
            if outcome == IO_AGAIN:
                return 0
            if outcome == IO_FAILED:
                self.abort()                     # ECONNRESET and the like
                return 0
        if self.state == C_LINGERING:
            if n == 0:
                self.close()
            return 0                             # dropped: only the close matters
        if self.preface is not None:
            n = self.read_preface(&data, n)
            if n <= 0:
                return 0                         # more to come, or closed
        if n == 0:
            if self.stream is not None:
                # Gone in the middle of a streamed response (a client does
                # not half-close to read one): stop producing it.
                self.abort()
                return 0
            self.reader.on_eof()
            self.state = C_CLOSING               # it sends nothing more: no lingering
        elif self.reader.feed(data, n, loop.now):
            self.state = C_LINGER_NEXT
        elif self.reader.phase == R_DONE and self.state == C_OPEN:
            self.state = C_CLOSING
        self.answer()
        return self.flush()

    cdef Py_ssize_t read_preface(self, char** data, Py_ssize_t n) except -2:
        # ProxyPreface.take: the HTTP bytes after the header; -1: closed.
        cdef ProxyPreface preface = self.preface
        n = preface.take(data, n, self.client, self.loop.proxy.proxy_allow_from)
        if n == PP_FAIL:
            self.close()
            return -1
        if preface.done:
            self.preface = None
            if preface.source is not None:
                self._client = preface.source
                self._local = preface.dest
        return n

    # -- answering ----------------------------------------------------------

    cdef int answer(self) except -1:
        # Answer what the reader parsed, in order, while the output is under
        # the high-water mark: a pipelining client that does not read its
        # responses cannot make the handlers pile up output. The rest waits
        # until the output drains (flush), and nothing more is read.
        cdef Reader reader = self.reader
        cdef Output output = self.output
        cdef Dispatcher dispatcher = self.loop.dispatcher
        cdef Py_ssize_t high_water = self.loop.limits.write_high_water
        cdef object item
        cdef Job job
        while self.fd >= 0 and self.stream is None and output.pending() <= high_water:
            if self.jobs:
                # With a handler pool: the oldest answer first, once done.
                job = <Job>self.jobs[0]
                if job.done:
                    del self.jobs[0]
                    if (not self.jobs and reader.last and not reader.has_ready()
                            and reader.stop()):
                        # Stopping, and this is the last answer: it says so.
                        job.close = True
                        self.state = C_CLOSING
                    dispatcher.finish_job(self, job)
                    continue
                if len(self.jobs) >= MAX_CONN_JOBS:
                    break
            item = reader.take()
            if item is None:
                break
            if type(item) is Request:
                # The last request this connection will read says so.
                if (<Request>item).keep_alive and reader.phase == R_DONE and not reader.has_ready():
                    (<Request>item).keep_alive = False
                (<Request>item)._conn = self
                self.loop.count_request()
                if dispatcher.pool is None:
                    dispatcher.answer(self, <Request>item, not (<Request>item).keep_alive)
                    continue
            elif dispatcher.pool is None:
                if item is CONTINUE:
                    if self.state == C_OPEN:
                        write_continue(output)
                else:
                    dispatcher.refuse(self, <int>item)
                continue
            if self.jobs is None:
                self.jobs = []
            self.jobs.append(dispatcher.make_job(self, item))
        return 0

    cdef bint has_answer(self):
        # Something parsed (with room on the pool for it), or finished on
        # the pool, waits to be answered: answer() would make progress.
        if not self.jobs:
            return self.reader.has_ready()
        return (<Job>self.jobs[0]).done or (
            len(self.jobs) < MAX_CONN_JOBS and self.reader.has_ready())

    # -- writing ------------------------------------------------------------

    cdef int flush(self) except -1:
        cdef Loop loop = self.loop
        cdef Output output = self.output
        cdef unsigned long long sent_before = output.sent
        cdef Py_ssize_t high_water = loop.limits.write_high_water
        cdef int budget = STREAM_BUDGET
        cdef int outcome
        while True:
            outcome = output.send()
            if outcome == OUT_GONE:
                self.abort()                     # EPIPE, ECONNRESET: the client left
                return 0
            if outcome == OUT_SHRANK:
                # The file shrank after its length was sent: the response
                # can't be completed, so end the connection (the client
                # sees a short body, never bytes of another response).
                loop.logger.warning("%s shrank while being sent; closing the "
                                    "connection", output.shrunk.path)
                loop.files.forget(output.shrunk)
                self.close()
                return 0
            if self.stream is not None:
                # Each chunk is sent as soon as it is pulled, and the next
                # is pulled only while little output waits (backpressure).
                if output.pending() > high_water or budget == 0:
                    break
                budget -= 1
                if not self.pump():
                    break
                continue
            if outcome == OUT_BLOCKED or not self.has_answer():
                break
            self.answer()                        # it took its output: answer more
        if output.sent != sent_before:
            self.wdeadline = loop.now + loop.limits.write_timeout
        return self.after_flush()

    cdef bint pump(self) except -1:
        # One chunk of the streamed body into the output; False when there
        # is nothing to send now (an EventStream waiting for its producer,
        # or the connection closed).
        cdef int result
        try:
            result = self.stream.pump(self.output)
        except BaseException as exc:
            # After the head has gone out a failure cannot become a 500: end
            # the response unfinished so that the client can tell.
            self.loop.logger.exception("a streamed body failed (%s); closing "
                                       "the connection", type(exc).__name__)
            self.end_stream(False)
            return True
        if result == PUMP_MORE:
            return True
        if result == PUMP_WAIT:
            return False
        if result == PUMP_END:
            self.end_stream(True)
        else:
            self.loop.logger.warning("a streamed body %s; closing the connection",
                                     pump_failure(result))
            self.end_stream(False)
        return True

    cdef int end_stream(self, bint complete) except -1:
        # The streamed body is over. After one delimited by the close, or
        # one left unfinished, nothing more is answered on this connection.
        cdef StreamBody body = self.stream
        self.stream = None
        body.close()
        if not complete or body.framing == FRAME_CLOSE:
            self.reader.discard()
            self.state = C_CLOSING
        elif self.reader.last and not self.has_answer() and self.reader.stop():
            self.state = C_CLOSING               # stopping: nothing more to answer
        return 0

    cdef int after_flush(self) except -1:
        cdef Loop loop = self.loop
        cdef Py_ssize_t left
        cdef unsigned int events
        if self.fd < 0:
            return 0
        left = self.output.pending()
        if self.stream is not None or self.jobs:
            # A response is under way: a stream (writable again means: pump
            # the next chunks, unless it waits for its producer or the pool,
            # which wake the loop) or handlers on the pool. Nothing more is
            # read meanwhile; a half-close by the client (EPOLLRDHUP) means
            # it has gone.
            events = EPOLLRDHUP
            if left or (self.stream is not None and not self.stream.waiting):
                events |= EPOLLOUT
                if not (self.events & EPOLLOUT):
                    self.wdeadline = loop.now + loop.limits.write_timeout
            if (self.state == C_OPEN and not self.reader.has_ready() and not self.jobs
                    and left <= loop.limits.write_high_water):
                events |= EPOLLIN
            return self.set_interest(events)
        if left == 0 and not self.reader.has_ready():
            if self.state == C_CLOSING:
                self.close()
                return 0
            if self.state == C_LINGER_NEXT:
                # Half-close and drain, so the client reads the final
                # response instead of a reset (RFC 9112 section 9.6).
                shutdown(self.fd, SHUT_WR)
                self.state = C_LINGERING
                self.linger_until = loop.now + loop.limits.linger_timeout
            return self.set_interest(EPOLLIN)
        # Output is waiting for the client. Read on only while little is
        # waiting and everything parsed is answered (backpressure), and
        # never once nothing more will be parsed.
        if not (self.events & EPOLLOUT):
            self.wdeadline = loop.now + loop.limits.write_timeout
        self.kernel_queued = -1                  # measured a sweep from now
        self.wbaseline_at = loop.now + loop.sweep_interval
        events = EPOLLOUT
        if (self.state == C_OPEN and not self.reader.has_ready()
                and left <= loop.limits.write_high_water):
            events |= EPOLLIN
        return self.set_interest(events)

    cdef int set_interest(self, unsigned int events) except -1:
        cdef epoll_event event
        if events == self.events:
            return 0
        event.events = events
        event.data.ptr = <void*>self
        if epoll_ctl(self.loop.epfd, EPOLL_CTL_MOD, self.fd, &event) < 0:
            raise OSError(errno, "epoll_ctl")
        self.events = events
        return 0

    # -- timeouts and stopping ----------------------------------------------

    cdef int on_tick(self, double now) except -1:
        # The loop's periodic sweep: whichever of this connection's
        # timeouts applies to what it is doing now.
        if self.events & EPOLLOUT:
            if now >= self.wdeadline:
                return self.check_write_progress()
            if self.kernel_queued < 0 and now >= self.wbaseline_at:
                # The baseline check_write_progress compares with: what the
                # kernel still holds a sweep after output stalled, once the
                # segments in flight then have been acknowledged.
                self.kernel_queued = kernel_queue(self.fd)
            return 0
        if self.state == C_LINGERING:
            if now >= self.linger_until:
                self.close()
            return 0
        if self.stream is not None or self.jobs:
            return 0                             # a response is under way
        if self.preface is not None and now >= self.preface.deadline:
            self.close()                         # no PROXY header in time
            return 0
        if self.events & EPOLLIN and now >= self.reader.deadline:
            if self.reader.on_timeout():
                # A slow or stalled request: say so, and close without
                # waiting for the client to read it.
                self.state = C_CLOSING
                self.answer()
                if self.output.send() == OUT_DONE:
                    self.close()
                else:
                    self.abort()
            else:
                self.close()                     # idle past the keep-alive timeout
        return 0

    cdef int check_write_progress(self) except -1:
        # The kernel takes megabytes into a socket's send buffer, so our own
        # sends can pause for long while a slow client reads steadily: ask
        # the kernel whether its queue shrank since output stalled, and
        # reset only a client that truly stopped reading.
        cdef Py_ssize_t queued = kernel_queue(self.fd)
        if self.kernel_queued >= 0 and 0 <= queued < self.kernel_queued:
            self.kernel_queued = queued
            self.wdeadline = self.loop.now + self.loop.limits.write_timeout
            return 0
        self.abort()
        return 0

    cdef int on_stop(self) except -1:
        # Called once when the server starts to stop. The next request to
        # complete is the last, answered with "Connection: close". A
        # connection between requests gets a last look for one that has
        # already arrived, then closes; one that has sent no request yet
        # keeps the keep-alive timeout to send it.
        if self.state != C_OPEN:
            return 0
        self.reader.last = True
        if self.stream is not None or self.jobs:
            # An EventStream ends (its clients reconnect elsewhere); any
            # other stream, and handlers running on the pool, are given the
            # stop's timeout to finish.
            if self.stream is not None and self.stream.events is not None:
                self.stream.events.close()
            return 0
        if self.reader.phase == R_IDLE and not self.reader.has_ready():
            self.on_readable()
            if self.fd < 0 or self.state != C_OPEN:
                return 0
        if self.reader.stop():
            self.state = C_CLOSING
            return self.flush()
        return 0

    # -- closing ------------------------------------------------------------

    cdef void close(self):
        cdef int fd = self.fd
        if fd < 0:
            return
        self.fd = -1
        self.state = C_CLOSED
        if self.stream is not None:
            self.stream.close()                  # the iterator's close() runs now
            self.stream = None
        if self.jobs:
            for job in self.jobs:
                drop_job(<Job>job)
            self.jobs = None
        self.reader.close()
        self.output.release()
        self.loop.forget(self)
        # A forked child (subprocess, multiprocessing) may hold a copy of
        # the socket; close() alone would then neither end the connection
        # nor take it out of the epoll set, which would keep reporting it
        # for this freed object. Shut it down and unregister it first.
        shutdown(fd, SHUT_RDWR)
        epoll_ctl(self.loop.epfd, EPOLL_CTL_DEL, fd, NULL)
        close(fd)

    cdef void abort(self):
        # Close with a reset: the kernel drops unsent data at once instead
        # of holding it for a client that is gone or not reading.
        cdef linger option
        if self.fd < 0:
            return
        option.l_onoff = 1
        option.l_linger = 0
        setsockopt(self.fd, SOL_SOCKET, SO_LINGER, &option, sizeof(option))
        self.close()


cdef Py_ssize_t kernel_queue(int fd):
    # Bytes sent but not yet acknowledged by the client (SIOCOUTQ).
    cdef int queued = 0
    if ioctl(fd, SIOCOUTQ, &queued) != 0:
        return -1
    return queued
