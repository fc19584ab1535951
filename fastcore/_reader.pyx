# A connection's read side (see _reader.pxd): bytes in, requests out.
#
# httptools calls one Python method per callback this class defines (it looks
# them up once, in the parser's constructor), so only the callbacks that are
# needed exist. Each callback records what it was given, or raises
# ProtocolError(status) to stop the parser; feed() turns that into the one
# refusal that ends the stream, since after a framing error the rest of it
# cannot be trusted. No handler runs here: parse, then act. What llhttp does
# not report of a request line (a refused method or version, a line not yet
# ended) is its RequestLine's (_request_line.pyx), asked after a read or on
# those errors only, so the per-request path here stays short.


# The interim response a client asked for with Expect: 100-continue, as an
# item of Reader.ready, so that it leaves in order with the responses to the
# requests before it (RFC 9110 section 15.2: interim responses precede the
# final response of their own request, never an earlier one's).
cdef object CONTINUE = object()


class StopParsing(Exception):
    """Raised in a callback to stop httptools after the last request: the
    bytes after it are never parsed as a request."""


@cython.final
cdef class Reader:

    def __cinit__(self, Loop loop):
        self.parser = HttpRequestParser(self)
        # Bound once: calling a stored method skips an attribute lookup per
        # request.
        self.get_method = self.parser.get_method
        self.should_keep_alive = self.parser.should_keep_alive
        self.logger = loop.logger
        self.line = RequestLine.__new__(RequestLine)
        self.limits = &loop.limits
        self.phase = R_IDLE
        self.deadline = loop.now + loop.limits.keepalive_timeout
        self.ready = []
        self.version = 11
        self.reset_message()

    cdef void close(self):
        # The parser holds this object: break the cycle.
        self.parser = self.get_method = self.should_keep_alive = None
        self.headers = self.body = None
        self.line.done()
        self.discard()

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
        self.body_wire = 0
        self.framing = 0
        self.msg_flags = 0
        self.continue_pending = False
        self.line.new_request()

    # -- what the connection asks -------------------------------------------

    cdef object take(self):
        # The next parsed item (Request, CONTINUE or an int status), or None.
        cdef list ready = self.ready
        cdef object item
        if self.ready_head == len(ready):
            return None
        item = ready[self.ready_head]
        ready[self.ready_head] = None
        self.ready_head += 1
        if self.ready_head == len(ready):
            ready.clear()
            self.ready_head = 0
        return item

    cdef void discard(self):
        # Nothing more will be answered: drop what was parsed, parse no more.
        self.phase = R_DONE
        self.ready.clear()
        self.ready_head = 0

    cdef bint has_ready(self):
        return self.ready_head < len(self.ready)

    cdef int refuse(self, int status) except -1:
        # End the stream with `status`: nothing after it is parsed.
        if self.phase == R_DONE:
            return 0
        self.phase = R_DONE
        self.continue_pending = False
        self.line.done()
        self.ready.append(status)
        return 0

    cdef int on_eof(self) except -1:
        # The client shut down its sending side.
        if self.url is not None and self.phase != R_DONE:
            # It stopped in the middle of a request. (Before a request line
            # has begun, a few stray bytes are just a close: whether they
            # shared a read with the end of the previous request must not
            # change the answer.)
            self.refuse(400)
        self.phase = R_DONE
        return 0

    cdef bint on_timeout(self) except -1:
        # The read side's deadline passed. True when a request was under
        # way: it is refused with 408 (RFC 9110 section 15.5.9).
        cdef bint under_way = self.phase == R_HEAD or self.phase == R_BODY or self.phase == R_PROBE
        if under_way:
            self.refuse(408)
        self.phase = R_DONE
        return under_way

    cdef bint stop(self) except -1:
        # The server is stopping: parsing ends with the read that completes
        # the request in progress (or, on a connection that has sent none
        # yet, its first). True when nothing more will be parsed at all.
        self.last = True
        if self.phase == R_IDLE and self.completed:
            self.phase = R_DONE
        return self.phase == R_DONE

    # -- feeding ------------------------------------------------------------

    cdef bint feed(self, char* data, Py_ssize_t n, double now) except -1:
        # Parse n bytes. Returns True when input arrived, or may still be
        # arriving, that will never be parsed (after the last request, or a
        # refusal): the connection then lingers before it closes.
        cdef Py_ssize_t completed = self.completed
        cdef int phase = self.phase              # as the read began
        cdef Py_ssize_t url_start = -1 if self.url is None else PyBytes_GET_SIZE(self.url)
        cdef Py_ssize_t body_start = self.body_len
        cdef object error
        cdef bytes again = None
        if phase == R_DONE:
            return True
        self.now = now
        if phase == R_IDLE:
            self.began = now                     # a request's first bytes, for the access log
        if phase == R_PROBE:
            return self.line.probe_more(self, data, n)
        self.read_body = 0
        try:
            self.parser.feed_data(PyMemoryView_FromMemory(data, n, PyBUF_READ))
        except HttpParserCallbackError as exc:
            error = exc.__context__
            if isinstance(error, ProtocolError):
                self.refuse((<object>error).status)
            elif isinstance(error, StopParsing):
                return True
            elif isinstance(error, Exception):
                self.logger.error("internal error while parsing", exc_info=error)
                self.refuse(500)
            else:
                raise error                      # KeyboardInterrupt, SystemExit
            return True
        except HttpParserUpgrade:
            # llhttp pauses after an Upgrade or CONNECT request, which was
            # the last (see on_message_complete).
            self.phase = R_DONE
            return True
        except HttpParserInvalidMethodError:
            # 501 or 400, told from the whole line (RequestLine.method_refused).
            if self.phase == R_DONE:
                return True
            return self.line.method_refused(self, data, n)
        except HttpParserError as exc:
            # A malformed request, or a version llhttp does not take, which
            # may be parsed again as HTTP/1.1 (RequestLine.parse_error).
            if self.phase == R_DONE:
                return True
            again = self.line.parse_error(self, exc, data, n, phase, url_start, body_start,
                                          completed)
            if again is None:
                return True
        if again is not None:
            # Outside the except clause, which would otherwise become the
            # context of every error raised while parsing again.
            return self.feed(PyBytes_AS_STRING(again), PyBytes_GET_SIZE(again), now)
        if self.last and self.phase == R_IDLE and self.completed > completed:
            # Stopping: the requests of this read are the last answered
            # (the last of them with "Connection: close").
            self.phase = R_DONE
        if self.phase == R_DONE:
            return False
        if self.completed == completed:
            # No request ended in this read: all of it belongs to the one
            # in progress, so its bytes can be measured.
            if self.url is None:
                self.on_method_bytes(data, n)
            elif self.phase == R_HEAD:
                self.line.check_partial(self, data, n, phase == R_IDLE)
            elif self.phase == R_BODY:
                self.check_body_bytes(n)
        self.line.after_read(data, n, self.phase == R_IDLE and self.url is None)
        if self.continue_pending and self.phase != R_DONE:
            # RFC 9110 section 10.1.1: the client waits for this before
            # sending the body.
            self.continue_pending = False
            self.ready.append(CONTINUE)
        return self.phase == R_DONE

    cdef int probing(self) except -1:
        # A refused method's line is being collected (RequestLine.probe_more):
        # nothing is parsed meanwhile, and the header timeout runs from the
        # line's first bytes.
        if self.phase == R_IDLE:
            self.deadline = self.now + self.limits.header_timeout
        self.phase = R_PROBE
        return 0

    # -- parsing again (see RequestLine.parse_error) ---------------------------

    cdef int restart_parser(self, Py_ssize_t skip, int phase) except -1:
        # A new parser for the rest of the connection that takes any
        # version digits, which on_headers_complete then checks for every
        # request itself (so only HTTP/1.x is taken). The request in
        # progress starts over; the next `skip` requests it completes were
        # already queued, and are counted again as they complete.
        self.parser = HttpRequestParser(self)
        self.parser.set_dangerous_leniencies(lenient_version=True)
        self.get_method = self.parser.get_method
        self.should_keep_alive = self.parser.should_keep_alive
        self.any_version = True
        self.completed -= skip
        self.skip = skip
        self.reset_message()
        self.phase = phase
        return 0

    cdef int on_method_bytes(self, const char* data, Py_ssize_t n) except -1:
        # Bytes before any request line was parsed: empty lines, or the
        # first bytes of a method. The header timeout runs from the first
        # of those (slowloris), and on a connection's first request they
        # are kept to tell 501 from 400 if the method is refused later.
        cdef Py_ssize_t i = 0
        while i < n and (data[i] == b"\r" or data[i] == b"\n"):
            i += 1
        if i < n and self.phase == R_IDLE:
            self.phase = R_HEAD
            self.deadline = self.now + self.limits.header_timeout
        if self.completed == 0:
            self.line.keep_first(data, n)
        return 0

    cdef int check_body_bytes(self, Py_ssize_t n) except -1:
        # Chunk-size lines and trailers are not body bytes, and httptools
        # buffers an unfinished trailer line: bound what arrives besides
        # the body since the last body bytes (431, like a header block),
        # and the whole request (413, against one-byte chunks).
        cdef Py_ssize_t framing = n - self.read_body
        self.body_wire += n
        if self.read_body:
            self.framing = framing
        else:
            self.framing += framing
        if self.framing > self.limits.max_header_bytes:
            return self.refuse(431)
        if self.body_wire > 2 * self.limits.max_body + self.limits.max_header_bytes:
            return self.refuse(413)
        return 0

    # -- httptools callbacks ------------------------------------------------

    def on_url(self, bytes fragment):
        # The first callback of every request; the target arrives in
        # fragments when a read splits it.
        if self.url is None:
            if self.phase == R_DONE:
                raise StopParsing()
            self.url = fragment
            if self.phase != R_HEAD:
                # Not reset by later bytes: a client that trickles its head
                # is refused header_timeout after it began (slowloris).
                self.phase = R_HEAD
                self.deadline = self.now + self.limits.header_timeout
        else:
            self.url = self.url + fragment
        # The request line is method SP target SP HTTP/1.1; the method is
        # at least 3 bytes, so only a long target needs the exact sum.
        if PyBytes_GET_SIZE(self.url) + 13 > self.limits.max_request_line:
            if (PyBytes_GET_SIZE(self.url) + 10
                    + PyBytes_GET_SIZE(self.get_method())
                    > self.limits.max_request_line):
                raise ProtocolError(414)

    def on_header(self, bytes name, bytes value):
        cdef limits_t* limits = self.limits
        cdef Py_ssize_t nlen = PyBytes_GET_SIZE(name)
        cdef Py_ssize_t vlen = PyBytes_GET_SIZE(value)
        cdef const char* n = PyBytes_AS_STRING(name)
        cdef int fact
        self.head_count += 1
        self.head_bytes += nlen + vlen + 4          # name: value CRLF
        if (nlen + vlen + 2 > limits.max_header_field
                or self.head_bytes > limits.max_header_bytes
                or self.head_count > limits.max_header_count):
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
        fact = field_fact(n, nlen, value, limits.max_body)
        if fact:
            if fact & self.msg_flags & (F_HOST | F_CONTENT_TYPE):
                # Two Hosts (RFC 9112 section 3.2), or two Content-Types:
                # which one would apply?
                raise ProtocolError(400)
            self.msg_flags |= fact

    def on_headers_complete(self):
        cdef int flags
        self.msg_flags |= F_HEAD_DONE
        flags = self.msg_flags
        self.keep_alive = self.should_keep_alive()
        # llhttp keeps a request alive by default only for HTTP/1.1, so a
        # kept-alive request with no Connection field is 1.1; only the
        # others pay for get_http_version(), which formats a string (and
        # every request, once the parser takes any version).
        if self.keep_alive and not (flags & F_CONNECTION) and not self.any_version:
            self.version = 11
        else:
            self.version = http_version(self.parser.get_http_version())
        if self.version == 11:
            if not (flags & F_HOST):
                raise ProtocolError(400)            # RFC 9112 section 3.2
            if flags & F_EXPECT_OTHER:
                raise ProtocolError(417)            # RFC 9110 section 10.1.1
            # Answered with 100 only if the body has not already started to
            # arrive in this same read (see feed).
            self.continue_pending = (flags & F_EXPECT_CONTINUE) != 0
        elif flags & F_TRANSFER_ENCODING:
            # RFC 9112 section 6.1: HTTP/1.0 with Transfer-Encoding has
            # faulty framing; refusing it closes a smuggling route.
            raise ProtocolError(400)
        self.phase = R_BODY
        self.deadline = self.now + self.limits.body_timeout

    def on_body(self, bytes chunk):
        self.continue_pending = False
        self.read_body += PyBytes_GET_SIZE(chunk)
        self.body_len += PyBytes_GET_SIZE(chunk)
        if self.body_len > self.limits.max_body:
            raise ProtocolError(413)               # a chunked body grew too big
        if self.body is None:
            self.body = chunk
        elif type(self.body) is bytearray:
            (<bytearray>self.body).extend(chunk)
        else:
            self.body = bytearray(<bytes>self.body)
            (<bytearray>self.body).extend(chunk)
        self.deadline = self.now + self.limits.body_timeout

    def on_message_complete(self):
        cdef Request request
        cdef object body
        self.continue_pending = False
        self.completed += 1
        if self.skip:
            # Parsed again after a restart (see feed): queued already, and
            # kept alive, since parsing went on after it.
            self.skip -= 1
            self.reset_message()
            self.phase = R_IDLE
            self.deadline = self.now + self.limits.keepalive_timeout
            return
        if PyBytes_AS_STRING(self.url)[0] != b"/":
            # Asterisk, absolute and authority forms: refuse one the method
            # may not use (RFC 9112 section 3.2) before anything is routed.
            check_target_form(self.get_method(), self.url)
        if self.msg_flags & F_UPGRADE:
            # An Upgrade request is answered as plain HTTP (RFC 9110 section
            # 7.8 lets a server ignore Upgrade) and then the connection
            # closes, because llhttp does not parse past it.
            self.keep_alive = False
        body = self.body
        if body is None:
            body = b""
        elif type(body) is bytearray:
            body = PyBytes_FromStringAndSize(
                PyByteArray_AS_STRING(body), PyByteArray_GET_SIZE(body))
        request = Request.__new__(Request)
        request._method = self.get_method()
        request._target = self.url
        request._raw_headers = self.headers
        request.body = <bytes>body
        request.keep_alive = self.keep_alive
        request._version = self.version
        self.reset_message()
        if self.keep_alive:
            self.phase = R_IDLE
            self.deadline = self.now + self.limits.keepalive_timeout
        else:
            self.phase = R_DONE
        self.ready.append(request)
