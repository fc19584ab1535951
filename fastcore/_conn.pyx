# One client connection: recv into the loop's buffer, parse with httptools,
# route the request and call its handler. _response.pyx serialises the
# answer into the connection's output and _output.pyx sends it.
#
# httptools calls one Python method per callback this class defines (it looks
# them up once, in the parser's constructor), so only the callbacks that are
# needed exist. Each callback either records what it was given, or raises
# ProtocolError(status) to stop the parser; feed() turns that into an answer
# and a close, since after a framing error the stream cannot be trusted.


cdef bytes CONTINUE_100 = b"HTTP/1.1 100 Continue\r\n\r\n"

# Fields that must never arrive as trailers (RFC 9110 section 6.5.1): they
# frame, route or authorise the request and belong in the header block.
cdef frozenset FORBIDDEN_TRAILERS = frozenset((
    b"host", b"content-length", b"transfer-encoding", b"content-type",
    b"content-encoding", b"content-range", b"connection", b"upgrade",
    b"expect", b"authorization", b"cookie", b"trailer", b"te"))


class StopParsing(Exception):
    """Raised in a callback to stop httptools after a request that ends the
    connection: the bytes after it are never parsed as a request."""


cdef inline bint is_head_method(bytes method):
    return PyBytes_GET_SIZE(method) == 4 and PyBytes_AS_STRING(method)[0] == b"H"


cdef inline bint name_is(const char* name, Py_ssize_t length,
                         const char* lower, Py_ssize_t lower_length):
    return length == lower_length and strncasecmp(name, lower, length) == 0


@cython.final
cdef class Conn:

    def __cinit__(self, Loop loop, int fd):
        self.loop = loop
        self.fd = fd
        self.parser = HttpRequestParser(self)
        # Bound once: calling a stored method skips an attribute lookup per
        # request.
        self.get_method = self.parser.get_method
        self.should_keep_alive = self.parser.should_keep_alive
        self.state = S_IDLE
        self.events = EPOLLIN
        self.deadline = loop.now + loop.keepalive_timeout
        self.version = 11
        self.reset_message()

    def __dealloc__(self):
        if self.wbuf is not NULL:
            PyMem_Free(self.wbuf)
            self.wbuf = NULL
        if self.fd >= 0:
            close(self.fd)
            self.fd = -1

    @property
    def client(self):
        if self._client is None:
            self._client = sockaddr_to_tuple(&self.peer)
        return self._client

    cdef void reset_message(self):
        # Ready for the next request. Done after each request rather than
        # in an on_message_begin callback, which would cost a Python call
        # per request.
        self.url = None
        self.headers = []
        self.body = None
        self.body_len = 0
        self.head_bytes = 0
        self.head_count = 0
        self.partial_line = 0
        self.body_wire = 0
        self.framing = 0
        self.first_bytes = None
        self.msg_flags = 0
        self.continue_pending = False

    # -- httptools callbacks ------------------------------------------------

    def on_url(self, bytes fragment):
        # The first callback of every request; the target arrives in
        # fragments when a read splits it.
        cdef Loop loop = self.loop
        if self.url is None:
            if self.closing:
                raise StopParsing()
            self.url = fragment
            if self.state != S_HEAD:
                # Not reset by later bytes: a client that trickles its head
                # is closed header_timeout after it began (slowloris).
                self.state = S_HEAD
                self.deadline = loop.now + loop.header_timeout
        else:
            self.url = self.url + fragment
        # The request line is method SP target SP HTTP/1.1; the method is
        # at least 3 bytes, so only a long target needs the exact sum.
        if PyBytes_GET_SIZE(self.url) + 13 > loop.max_request_line:
            if (PyBytes_GET_SIZE(self.url) + 10
                    + PyBytes_GET_SIZE(self.get_method())
                    > loop.max_request_line):
                raise ProtocolError(414)

    def on_header(self, bytes name, bytes value):
        cdef Loop loop = self.loop
        cdef Py_ssize_t nlen = PyBytes_GET_SIZE(name)
        cdef Py_ssize_t vlen = PyBytes_GET_SIZE(value)
        cdef const char* n = PyBytes_AS_STRING(name)
        cdef const char* v
        self.head_count += 1
        self.head_bytes += nlen + vlen + 4          # name: value CRLF
        if (nlen + vlen + 2 > loop.max_header_field
                or self.head_bytes > loop.max_header_bytes
                or self.head_count > loop.max_header_count):
            raise ProtocolError(431)
        if self.msg_flags & F_HEAD_DONE:
            # A trailer after a chunked body. Handlers never see trailers
            # (RFC 9110 section 6.5.1 lets a recipient discard them), but
            # one that could reframe or reroute the request is refused.
            if name.lower() in FORBIDDEN_TRAILERS:
                raise ProtocolError(400)
            return
        self.headers.append(name)
        self.headers.append(value)
        # The few fields the server itself acts on, told apart by length
        # first so that most fields cost one comparison.
        if nlen == 4:
            if name_is(n, nlen, "host", 4):
                if self.msg_flags & F_HOST:
                    raise ProtocolError(400)        # RFC 9112 section 3.2
                self.msg_flags |= F_HOST
        elif nlen == 6:
            if name_is(n, nlen, "expect", 6):
                v = PyBytes_AS_STRING(value)
                if name_is(v, trimmed_length(v, vlen), "100-continue", 12):
                    self.msg_flags |= F_EXPECT_CONTINUE
                else:
                    self.msg_flags |= F_EXPECT_OTHER
        elif nlen == 7:
            if name_is(n, nlen, "upgrade", 7):
                self.msg_flags |= F_UPGRADE
        elif nlen == 10:
            if name_is(n, nlen, "connection", 10):
                self.msg_flags |= F_CONNECTION
        elif nlen == 12:
            if name_is(n, nlen, "content-type", 12):
                if self.msg_flags & F_CONTENT_TYPE:
                    raise ProtocolError(400)        # which one would apply?
                self.msg_flags |= F_CONTENT_TYPE
        elif nlen == 14:
            # llhttp has already refused a malformed or repeated value, so
            # this is digits only; refuse an oversized body before reading it.
            if name_is(n, nlen, "content-length", 14):
                if parse_length(value) > loop.max_body:
                    raise ProtocolError(413)
        elif nlen == 17:
            if name_is(n, nlen, "transfer-encoding", 17):
                self.msg_flags |= F_TRANSFER_ENCODING
                # chunked is the only coding fastcore decodes; passing a
                # gzip'd body on as if plain would be wrong (RFC 9112
                # section 6.1: a coding not understood gets 501).
                if not name_is(PyBytes_AS_STRING(value), trimmed_length(
                        PyBytes_AS_STRING(value), vlen), "chunked", 7):
                    for coding in value.split(b","):
                        if coding.strip(b" \t").lower() != b"chunked":
                            raise ProtocolError(501)

    def on_headers_complete(self):
        cdef Loop loop = self.loop
        cdef int flags
        self.msg_flags |= F_HEAD_DONE
        flags = self.msg_flags
        self.keep_alive = self.should_keep_alive()
        # llhttp keeps a request alive by default only for HTTP/1.1, so a
        # kept-alive request with no Connection field is 1.1; only the
        # others pay for get_http_version(), which formats a string.
        if self.keep_alive and not (flags & F_CONNECTION):
            self.version = 11
        else:
            version = self.parser.get_http_version()
            if version == "1.1":
                self.version = 11
            elif version == "1.0":
                self.version = 10
            else:
                raise ProtocolError(505)
        if self.version == 11:
            if not (flags & F_HOST):
                raise ProtocolError(400)            # RFC 9112 section 3.2
            if flags & F_EXPECT_OTHER:
                raise ProtocolError(417)            # RFC 9110 section 10.1.1
            # Answer 100 only if the body has not already started to arrive
            # in this same read (see feed).
            self.continue_pending = (flags & F_EXPECT_CONTINUE) != 0
        elif flags & F_TRANSFER_ENCODING:
            # RFC 9112 section 6.1: HTTP/1.0 with Transfer-Encoding has
            # faulty framing; refusing it closes a smuggling route.
            raise ProtocolError(400)
        self.state = S_BODY
        self.deadline = loop.now + loop.body_timeout

    def on_body(self, bytes chunk):
        cdef Loop loop = self.loop
        self.continue_pending = False
        self.read_body += PyBytes_GET_SIZE(chunk)
        self.body_len += PyBytes_GET_SIZE(chunk)
        if self.body_len > loop.max_body:
            raise ProtocolError(413)               # a chunked body grew too big
        if self.body is None:
            self.body = chunk
        elif type(self.body) is bytearray:
            (<bytearray>self.body).extend(chunk)
        else:
            self.body = bytearray(<bytes>self.body)
            (<bytearray>self.body).extend(chunk)
        self.deadline = loop.now + loop.body_timeout

    def on_message_complete(self):
        cdef Loop loop = self.loop
        cdef Request request
        self.continue_pending = False
        self.state = S_IDLE
        self.served += 1
        if PyBytes_AS_STRING(self.url)[0] != b"/":
            # Asterisk, absolute and authority forms: refuse one the method
            # may not use (RFC 9112 section 3.2) before anything is routed.
            check_target_form(self.get_method(), self.url)
        if self.msg_flags & F_UPGRADE:
            # An Upgrade request is answered as plain HTTP (RFC 9110 section
            # 7.8 lets a server ignore Upgrade) and then the connection
            # closes, because llhttp does not parse past it.
            self.keep_alive = False
        request = self.take_request()
        self.reset_message()
        if not self.keep_alive:
            self.closing = True
        if (self.deferred is not None or loop.draining
                or out_pending(self) > loop.high_water):
            # Keep the request and answer it after this read: while the
            # client is not reading its responses (so that a pipelined
            # burst cannot pile up output without bound), and while
            # stopping (so that the last request read can carry the close).
            self.defer(request)
        else:
            self.respond(request)
        self.deadline = loop.now + loop.keepalive_timeout

    # -- requests: kept, deferred, routed to a handler ----------------------

    cdef Request take_request(self):
        cdef Request request = Request.__new__(Request)
        cdef object body = self.body
        if body is None:
            body = b""
        elif type(body) is bytearray:
            body = PyBytes_FromStringAndSize(
                PyByteArray_AS_STRING(body), PyByteArray_GET_SIZE(body))
        request._method = self.get_method()
        request._target = self.url
        request._raw_headers = self.headers
        request.body = <bytes>body
        request._conn = self
        request.keep_alive = self.keep_alive
        request._version = self.version
        return request

    cdef int defer(self, object item) except -1:
        if self.deferred is None:
            self.deferred = []
            self.dhead = 0
        self.deferred.append(item)
        return 0

    cdef int answer_deferred(self) except -1:
        # Answer kept requests (and a kept refusal, an int status) in order
        # until the output is over the high-water mark again.
        cdef list deferred = self.deferred
        cdef object item
        while self.dhead < len(deferred) and out_pending(self) <= self.loop.high_water:
            item = deferred[self.dhead]
            deferred[self.dhead] = None
            self.dhead += 1
            if type(item) is int:
                write_error(self, <int>item, True)
            else:
                self.respond(<Request>item)
        if self.dhead == len(deferred):
            self.deferred = None
        return 0

    cdef int respond(self, Request request) except -1:
        cdef Loop loop = self.loop
        cdef bytes url = request._target
        cdef bytes method = request._method
        cdef const char* target = PyBytes_AS_STRING(url)
        cdef object methods
        cdef object hit
        cdef object handler = None

        # Hot path: an exact route, looked up by the raw path bytes.
        if (target[0] == b"/"
                and memchr(target, b"?", PyBytes_GET_SIZE(url)) is NULL
                and memchr(target, b"%", PyBytes_GET_SIZE(url)) is NULL):
            methods = loop.routes.get(url)
            if methods is not None:
                handler = (<dict>methods).get(method)
            elif loop.static_targets:
                # A file a static mount has already resolved for this very
                # target: no decoding, no path checks, no open().
                hit = loop.static_targets.get(url)
                if hit is not None and loop.now - (<FileEntry>hit[0]).checked < FILE_RECHECK:
                    if method == b"GET" or method == b"HEAD":
                        return write_file(self, <FileEntry>hit[0],
                                          (<FileEntry>hit[0]).type_line,
                                          <bytes>hit[1], request)

        try:
            if handler is not None:
                result = handler(request)
            else:
                result = loop.fallback(request)
        except HTTPError as exc:
            result = exc.to_response()
        except Exception:
            loop.logger.exception(
                "handler failed for %s %s", request.method, request.target)
            return write_error(self, 500, not request.keep_alive)
        return write_result(self, result, request)

    cdef int fail(self, int status) except -1:
        # Refuse the request being parsed: answer with status, then close,
        # because after a framing error the rest of the stream can't be
        # trusted. Input may still be arriving, so linger before closing.
        if self.closing:
            return 0                 # the bytes came after a closing request
        self.closing = True
        self.linger = True
        self.continue_pending = False
        if self.deferred is not None:
            return self.defer(status)
        return write_error(self, status, True)

    # -- reading ------------------------------------------------------------

    cdef int on_readable(self) except -1:
        cdef Loop loop = self.loop
        cdef int fd = self.fd
        cdef ssize_t n
        cdef int err
        with nogil:
            n = recv(fd, loop.rbuf, READ_BUFFER_SIZE, 0)
        if n < 0:
            err = errno
            if err == EAGAIN or err == EINTR:
                return 0
            self.abort()                     # ECONNRESET and the like
            return 0
        if self.state == S_LINGER:
            if n == 0:
                self.close()
            return 0
        if n == 0:
            self.eof = True
            self.linger = False
            if self.url is not None and not self.closing:
                # The client stopped sending in the middle of a request.
                # (Before a request line has begun, a few stray bytes are
                # just a close: whether they shared a read with the end of
                # the previous request must not change the answer.)
                self.fail(400)
                self.linger = False
            self.closing = True
        else:
            self.feed(n)
            if self.loop.draining and not self.closing and self.state == S_IDLE:
                self.close_after_deferred()
        return self.flush()

    cdef int close_after_deferred(self) except -1:
        # Stopping: every request read so far is answered, the last one
        # with "Connection: close", and nothing more is parsed.
        cdef object last
        self.closing = True
        if self.deferred is not None:
            last = self.deferred[len(self.deferred) - 1]
            if type(last) is Request:
                (<Request>last).keep_alive = False
        return 0

    cdef int probe_method(self, bytes data) except -1:
        # Collect a refused method until it is known to be a token (501) or
        # not (400); the parser has stopped, so nothing else is parsed.
        cdef int status = method_error_status(PyBytes_AS_STRING(data),
                                              PyBytes_GET_SIZE(data))
        if status == 0 and PyBytes_GET_SIZE(data) < MAX_METHOD_PROBE:
            self.method_probe = data
            self.state = S_HEAD
            return 0
        self.method_probe = None
        return self.fail(status if status else 400)

    cdef int feed(self, Py_ssize_t n) except -1:
        cdef Loop loop = self.loop
        cdef Py_ssize_t served = self.served
        cdef int state = self.state              # as the read began
        cdef object view
        if self.method_probe is not None:
            return self.probe_method(
                self.method_probe + PyBytes_FromStringAndSize(loop.rbuf, n))
        view = PyMemoryView_FromMemory(loop.rbuf, n, PyBUF_READ)
        self.read_body = 0
        try:
            self.parser.feed_data(view)
        except HttpParserCallbackError as exc:
            error = exc.__context__
            if isinstance(error, ProtocolError):
                self.fail((<object>error).status)
            elif isinstance(error, StopParsing):
                self.linger = True
            elif isinstance(error, Exception):
                loop.logger.error("internal error", exc_info=error)
                self.fail(500)
            else:
                raise error                      # KeyboardInterrupt, SystemExit
        except HttpParserUpgrade:
            # llhttp pauses after an Upgrade or CONNECT request; the request
            # was answered and the connection is closing.
            self.closing = True
            self.linger = True
        except HttpParserInvalidMethodError:
            if self.closing:
                self.linger = True
            elif self.served == 0:
                # Nothing has ended on this connection yet, so all it has
                # sent is known (first_bytes and this read) and the method
                # can be told: an unknown but well-formed one is 501 (RFC
                # 9110 section 9.1), anything else 400. llhttp stops at the
                # first byte it does not expect, so the rest of the token
                # may still be on its way. After a first request the cut
                # between two requests is not known: 400.
                self.probe_method((self.first_bytes or b"")
                                  + PyBytes_FromStringAndSize(loop.rbuf, n))
            else:
                self.fail(400)
        except HttpParserError:
            if self.closing:
                self.linger = True               # data after a closing request
            else:
                self.fail(400)
        if self.closing:
            return 0
        if self.served == served:
            # No request ended in this read: all of it belongs to the one
            # in progress, so its bytes can be measured.
            if self.url is None:
                self.on_method_bytes(n)
            elif self.state == S_HEAD:
                self.check_partial_line(n, state == S_IDLE)
            elif self.state == S_BODY:
                self.check_body_bytes(n)
        elif self.state == S_HEAD:
            self.partial_line = 0                # began at an unknown place
        if self.continue_pending and not self.closing:
            # RFC 9110 section 10.1.1: the client waits for this before
            # sending the body.
            self.continue_pending = False
            out_reserve(self, PyBytes_GET_SIZE(CONTINUE_100))
            out_put(self, CONTINUE_100)
        return 0

    cdef int on_method_bytes(self, Py_ssize_t n) except -1:
        # Bytes before any request line was parsed: empty lines, or the
        # first bytes of a method. The header timeout runs from the first
        # of those (slowloris), and on a connection's first request they
        # are kept to tell 501 from 400 if the method is refused later.
        cdef const char* data = self.loop.rbuf
        cdef Py_ssize_t i = 0
        cdef Py_ssize_t kept
        while i < n and (data[i] == b"\r" or data[i] == b"\n"):
            i += 1
        if i < n and self.state == S_IDLE:
            self.state = S_HEAD
            self.deadline = self.loop.now + self.loop.header_timeout
        if self.served == 0:
            kept = PyBytes_GET_SIZE(self.first_bytes) if self.first_bytes is not None else 0
            if kept < MAX_METHOD_PROBE:
                self.first_bytes = (self.first_bytes or b"") + PyBytes_FromStringAndSize(
                    data, min(n, MAX_METHOD_PROBE - kept))
        return 0

    cdef int check_partial_line(self, Py_ssize_t n, bint began_here) except -1:
        # httptools keeps an unfinished head line to itself and reports it
        # only once it ends, so its length is measured here, from the
        # bytes: everything after the last LF read while this request's
        # head is incomplete (a CR that ends the read does not count: it
        # belongs to the line's end). Whether that line is the request
        # line (414) or a field line (431) is told by whether an LF has
        # been read since the request began.
        cdef Loop loop = self.loop
        cdef const char* data = loop.rbuf
        cdef const char* lf = <const char*>memrchr(data, b"\n", n)
        cdef Py_ssize_t start = 0
        cdef Py_ssize_t length
        if lf is NULL:
            self.partial_line += n
        else:
            self.partial_line = n - 1 - (lf - data)
            if began_here:
                # Empty lines may come before a request (RFC 9112 2.2).
                while start < n and (data[start] == b"\r" or data[start] == b"\n"):
                    start += 1
                if lf - data > start:
                    self.msg_flags |= F_LINE_DONE
            else:
                self.msg_flags |= F_LINE_DONE
        length = self.partial_line - (1 if data[n - 1] == b"\r" else 0)
        if self.msg_flags & F_LINE_DONE:
            if length > loop.max_header_field:
                return self.fail(431)
        elif length > loop.max_request_line:
            return self.fail(414)
        return 0

    cdef int check_body_bytes(self, Py_ssize_t n) except -1:
        # Chunk-size lines and trailers are not body bytes, and httptools
        # buffers an unfinished trailer line: bound what arrives besides
        # the body since the last body bytes (431, like a header block),
        # and the whole request (413, against one-byte chunks).
        cdef Loop loop = self.loop
        cdef Py_ssize_t framing = n - self.read_body
        self.body_wire += n
        if self.read_body:
            self.framing = framing
        else:
            self.framing += framing
        if self.framing > loop.max_header_bytes:
            return self.fail(431)
        if self.body_wire > 2 * loop.max_body + loop.max_header_bytes:
            return self.fail(413)
        return 0

    cdef int on_write_timeout(self) except -1:
        # The kernel takes megabytes into a socket's send buffer, so our own
        # sends can pause for long while a slow client reads steadily: ask
        # the kernel whether its queue shrank since output stalled, and
        # reset only a client that truly stopped reading.
        cdef Py_ssize_t queued = self.kernel_queue()
        if self.kernel_queued >= 0 and 0 <= queued < self.kernel_queued:
            self.kernel_queued = queued
            self.wdeadline = self.loop.now + self.loop.write_timeout
            return 0
        self.abort()
        return 0

    cdef void note_stall(self):
        # The baseline on_write_timeout compares with: what the kernel
        # still holds a sweep after output stalled, once the segments in
        # flight at that moment have been acknowledged.
        self.kernel_queued = self.kernel_queue()

    cdef Py_ssize_t kernel_queue(self):
        # Bytes sent but not yet acknowledged by the client (SIOCOUTQ).
        cdef int queued = 0
        if ioctl(self.fd, SIOCOUTQ, &queued) != 0:
            return -1
        return queued

    cdef int on_timeout(self) except -1:
        if self.state == S_HEAD or self.state == S_BODY:
            # Slow or stalled request: say so (RFC 9110 section 15.5.9) and
            # close without waiting for the client to read it.
            if not self.closing:
                self.fail(408)
                self.linger = False
                self.flush()
            if self.fd >= 0 and out_pending(self):
                self.abort()
            else:
                self.close()
        else:
            self.close()
        return 0

    cdef int drain_on_stop(self) except -1:
        # Called once when the server starts to stop. A connection between
        # requests is closed, after a last look for a request that has
        # already arrived; one that has not yet sent its first request gets
        # the keep-alive timeout to send it.
        if (self.state != S_IDLE or self.closing or out_pending(self)
                or self.deferred is not None):
            return 0
        self.on_readable()
        if self.fd >= 0 and self.state == S_IDLE and not out_pending(self):
            if self.served:
                self.close()
        return 0

    # -- writing ------------------------------------------------------------

    cdef int flush(self) except -1:
        # Send what is queued with as few syscalls as possible: every
        # response produced by one read leaves in one send.
        cdef int fd = self.fd
        while fd == self.fd:
            if self.queue is not None:
                out_send_queue(self)
            else:
                out_send_wbuf(self)
            if self.deferred is None or out_pending(self) > self.loop.high_water:
                break
            # The client has taken its output: answer what was kept.
            self.answer_deferred()
        return self.after_flush()

    cdef int file_shrank(self, FileEntry entry) except -1:
        # The file shrank after its length was sent: the response can't be
        # completed, so end the connection (the client sees a short body,
        # never bytes of another response).
        self.loop.logger.warning(
            "%s shrank while being sent; closing the connection", entry.path)
        self.loop.forget_file(entry)
        self.close()
        return 0

    cdef int after_flush(self) except -1:
        cdef Loop loop = self.loop
        cdef Py_ssize_t left = out_pending(self)
        cdef unsigned int events
        if self.fd < 0:
            return 0
        if left == 0 and self.deferred is None:
            if self.closing:
                if self.linger and not self.eof:
                    # Half-close and drain, so the client reads the final
                    # response instead of a reset (RFC 9112 section 9.6).
                    shutdown(self.fd, SHUT_WR)
                    self.state = S_LINGER
                    self.deadline = loop.now + loop.linger_timeout
                    return self.set_interest(EPOLLIN)
                self.close()
                return 0
            if loop.draining and self.served and self.state == S_IDLE:
                self.close()                     # stopping: idle now
                return 0
            return self.set_interest(EPOLLIN)
        # Output is waiting for the client. Read on only while little is
        # waiting and nothing was kept back (backpressure), and never once
        # nothing more will be parsed.
        if not (self.events & EPOLLOUT):
            self.wdeadline = loop.now + loop.write_timeout
        self.kernel_queued = -1                  # measured a sweep from now
        self.wbaseline_at = loop.now + loop.sweep_interval
        events = EPOLLOUT
        if not (self.closing or self.eof or self.deferred is not None
                or left > loop.high_water):
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

    # -- closing ------------------------------------------------------------

    cdef void close(self):
        cdef int fd = self.fd
        if fd < 0:
            return
        self.fd = -1
        self.state = S_CLOSED
        self.parser = None                   # the parser holds self: break the cycle
        self.get_method = None
        self.should_keep_alive = None
        self.queue = None
        self.tail_entry = None
        self.deferred = None
        self.headers = None
        self.body = None
        if self.wbuf is not NULL:
            PyMem_Free(self.wbuf)
            self.wbuf = NULL
        self.wlen = self.wsent = self.wcap = 0
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
