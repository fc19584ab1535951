# A connection's read side (see _reader.pxd): bytes in, requests out.
#
# httptools calls one Python method per callback this class defines (it looks
# them up once, in the parser's constructor), so only the callbacks that are
# needed exist. Each callback records what it was given, or raises
# ProtocolError(status) to stop the parser; feed() turns that into the one
# refusal that ends the stream, since after a framing error the rest of it
# cannot be trusted. No handler runs here: parse, then act.


# The interim response a client asked for with Expect: 100-continue, as an
# item of Reader.ready, so that it leaves in order with the responses to the
# requests before it (RFC 9110 section 15.2: interim responses precede the
# final response of their own request, never an earlier one's).
cdef object CONTINUE = object()


cdef inline void keep_tail(char* tail, const char* data, Py_ssize_t n) noexcept nogil:
    # The last 3 bytes of the stream so far, after a read of n bytes.
    if n >= 3:
        memcpy(tail, data + n - 3, 3)
    elif n == 2:
        tail[0] = tail[2]
        memcpy(tail + 1, data, 2)
    elif n == 1:
        tail[0] = tail[1]
        tail[1] = tail[2]
        tail[2] = data[0]


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
        self.limits = &loop.limits
        self.phase = R_IDLE
        self.deadline = loop.now + loop.limits.keepalive_timeout
        self.ready = []
        self.version = 11
        self.boundary = True
        self.reset_message()

    cdef void close(self):
        # The parser holds this object: break the cycle.
        self.parser = self.get_method = self.should_keep_alive = None
        self.headers = self.body = None
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
        self.partial_line = 0
        self.body_wire = 0
        self.framing = 0
        self.first_bytes = None
        self.msg_flags = 0
        self.continue_pending = False

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
        self.method_probe = None
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
        cdef object error
        cdef int status
        cdef Py_ssize_t body_start = self.body_len
        cdef Py_ssize_t offset = 0
        cdef bint again = False
        cdef bytes resumed = None
        if phase == R_DONE:
            return True
        self.now = now
        if phase == R_IDLE:
            self.began = now                     # a request's first bytes, for the access log
        if phase == R_PROBE:
            self.method_probe.extend(PyMemoryView_FromMemory(data, n, PyBUF_READ))
            self.probe_method()
            return self.phase == R_DONE
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
            if self.phase == R_DONE:
                return True
            if self.completed == 0:
                # Nothing has ended on this connection yet, so all it has
                # sent is known (first_bytes and this read) and the method
                # can be told: an unknown but well-formed one is 501 (RFC
                # 9110 section 9.1), anything else 400. llhttp stops at the
                # first byte it does not expect, so the rest of the token
                # may still be on its way. After a first request the cut
                # between two requests is not known: 400.
                self.method_probe = bytearray(self.first_bytes or b"")
                self.method_probe.extend(PyMemoryView_FromMemory(data, n, PyBUF_READ))
                self.probe_method()
            else:
                self.refuse(400)
            return self.phase == R_DONE
        except HttpParserError as exc:
            if self.phase == R_DONE:
                return True
            status = self.version_error_status(exc)
            if status == 0:
                # HTTP/1.x with x > 1, read as HTTP/1.1 (RFC 9110 section
                # 6.2: a recipient treats a higher minor version as the
                # highest it implements). llhttp has stopped at the minor
                # digit: parse again with a parser that takes any version,
                # from a place whose parser state is known.
                if self.boundary:
                    # This read began between requests, where a new parser
                    # begins too: all of it again, skipping the requests
                    # already queued from it.
                    self.restart_parser(self.completed - completed, R_IDLE)
                    self.completed = completed
                    again = True
                elif self.completed == completed:
                    # The line began in an earlier read: it again, with
                    # HTTP/1.1, then the rest of this read.
                    resumed = self.rest_of_line(data, n, url_start)
                    if resumed is not None:
                        self.restart_parser(0, R_HEAD)
                        again = True
                else:
                    # The read began inside a request that ended in it:
                    # again from where that one ended.
                    offset = self.first_request_end(data, n, phase, body_start, completed)
                    if offset >= 0:
                        self.restart_parser(self.completed - completed - 1, R_IDLE)
                        self.completed = completed + 1
                        again = True
                if not again:
                    status = 505        # where the line began is not known
            if not again:
                self.refuse(status)
                return True
        if again:
            # Outside the except clause, which would otherwise become the
            # context of every error raised while parsing again.
            if resumed is None:
                return self.feed(data + offset, n - offset, now)
            return self.feed(PyBytes_AS_STRING(resumed), PyBytes_GET_SIZE(resumed), now)
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
                self.check_partial_line(data, n, phase == R_IDLE)
            elif self.phase == R_BODY:
                self.check_body_bytes(n)
        elif self.phase == R_HEAD:
            self.partial_line = 0                # began at an unknown place
        # Whether the next read begins where a new parser would: nothing of
        # a next request read yet but empty lines. (After a body that ends
        # the read, the same bytes could begin a request: not known.) And
        # its last bytes, for a line split between the two (see feed).
        self.boundary = (self.phase == R_IDLE and self.url is None
                         and (data[n - 1] == b"\n" or data[n - 1] == b"\r"))
        keep_tail(self.tail, data, n)
        if self.continue_pending and self.phase != R_DONE:
            # RFC 9110 section 10.1.1: the client waits for this before
            # sending the body.
            self.continue_pending = False
            self.ready.append(CONTINUE)
        return self.phase == R_DONE

    cdef int probe_method(self) except -1:
        # Collect the request line of a refused method until it is known to
        # be malformed (400) or well-formed with a method this server does
        # not know (501); the parser has stopped, so nothing else is parsed.
        cdef bytearray data = self.method_probe
        cdef int status = request_line_status(PyByteArray_AS_STRING(data),
                                              PyByteArray_GET_SIZE(data))
        if status == 0:
            if PyByteArray_GET_SIZE(data) <= self.limits.max_request_line + MAX_METHOD_PROBE:
                if self.phase == R_IDLE:
                    self.deadline = self.now + self.limits.header_timeout
                self.phase = R_PROBE
                return 0
            status = 414                        # the line goes on past the limit
        self.method_probe = None
        return self.refuse(status)

    # -- a version llhttp refuses ---------------------------------------------

    cdef int version_error_status(self, object error) except -1:
        # The status for a request line whose version llhttp refused: 0 for
        # HTTP/1.x with x > 1 (answered as 1.1, see feed); 400 for a
        # malformed version ("HTTP/11", "HTTP/1.10", RFC 9112 section 2.3)
        # and for HTTP/0.x, which never had a version in its request line;
        # 505 for another major version (RFC 9110 section 15.6.6).
        cdef str version
        if str(error) != "Invalid HTTP version":    # llhttp's reason for x.y it does not take
            return 400
        version = self.parser.get_http_version()
        if version[0] == "1":
            return 0
        return 400 if version[0] == "0" else 505

    cdef int restart_parser(self, Py_ssize_t skip, int phase) except -1:
        # A new parser for the rest of the connection that takes any
        # version digits, which on_headers_complete then checks for every
        # request itself (so only HTTP/1.x is taken). The request in
        # progress starts over; the next `skip` requests it completes were
        # already queued.
        self.parser = HttpRequestParser(self)
        self.parser.set_dangerous_leniencies(lenient_version=True)
        self.get_method = self.parser.get_method
        self.should_keep_alive = self.parser.should_keep_alive
        self.any_version = True
        self.skip = skip
        self.reset_message()
        self.phase = phase
        return 0

    cdef bytes rest_of_line(self, const char* data, Py_ssize_t n, Py_ssize_t url_start):
        # A request line that began in an earlier read and that llhttp
        # refused at its minor digit in this one: the line with HTTP/1.1,
        # then what follows it here; None if what is here is not the rest of
        # the line (the rest of the method and its spaces if the target had
        # not begun, the rest of the target, spaces, then the rest of
        # "HTTP/1.x", which ends at the first x: "HTTP/1." has no digit
        # above 1).
        cdef bytes method = self.get_method()
        cdef bytes url = self.url
        cdef bytes read = PyBytes_FromStringAndSize(data, n)
        cdef bytes version = b"HTTP/1." + self.parser.get_http_version()[2].encode("ascii")
        cdef Py_ssize_t i = 0, end
        cdef bint spaces
        if url_start < 0:
            if not read.startswith(url + b" "):
                i = read.find(b" ")
                if i < 0:
                    return None
                while i < n and data[i] == b" ":
                    i += 1
            url_start = 0
        if not read.startswith(url[url_start:], i):
            return None
        i += PyBytes_GET_SIZE(url) - url_start
        end = i
        while end < n and data[end] == b" ":
            end += 1
        spaces = end > i
        if url_start < PyBytes_GET_SIZE(url) and not spaces:
            return None
        i = end
        end = read.find(version[7:], i) + 1
        if end == 0 or not version.endswith(read[i:end]) or (spaces and end - i != 8):
            return None
        return method + b" " + url + b" HTTP/1.1" + read[end:]

    cdef Py_ssize_t first_request_end(self, const char* data, Py_ssize_t n, int phase,
                                      Py_ssize_t body_start, Py_ssize_t completed) except -2:
        # Where, in this read, the request in progress as it began ended;
        # -1 if that is not known. Its head ends at the first CRLF CRLF
        # (none can come earlier in a head; the last bytes of the read
        # before count, for one split across the two), its body that many
        # bytes later. A chunked body's end is not known.
        cdef Request request = <Request>self.ready[
            len(self.ready) - (self.completed - completed)]
        cdef list fields = request._raw_headers
        cdef Py_ssize_t end
        for i in range(0, len(fields), 2):
            if (<bytes>fields[i]).lower() == b"transfer-encoding":
                return -1
        if phase == R_BODY:
            end = PyBytes_GET_SIZE(request.body) - body_start
        else:
            end = (PyBytes_FromStringAndSize(self.tail, 3)
                   + PyBytes_FromStringAndSize(data, n)).find(b"\r\n\r\n")
            if end < 0:
                return -1
            end += 4 - 3 + PyBytes_GET_SIZE(request.body)
        return end if 0 <= end < n else -1

    cdef int on_method_bytes(self, const char* data, Py_ssize_t n) except -1:
        # Bytes before any request line was parsed: empty lines, or the
        # first bytes of a method. The header timeout runs from the first
        # of those (slowloris), and on a connection's first request they
        # are kept to tell 501 from 400 if the method is refused later.
        cdef Py_ssize_t i = 0
        cdef Py_ssize_t kept
        while i < n and (data[i] == b"\r" or data[i] == b"\n"):
            i += 1
        if i < n and self.phase == R_IDLE:
            self.phase = R_HEAD
            self.deadline = self.now + self.limits.header_timeout
        if self.completed == 0:
            kept = PyBytes_GET_SIZE(self.first_bytes) if self.first_bytes is not None else 0
            if kept < MAX_METHOD_PROBE:
                self.first_bytes = (self.first_bytes or b"") + PyBytes_FromStringAndSize(
                    data, min(n, MAX_METHOD_PROBE - kept))
        return 0

    cdef int check_partial_line(self, const char* data, Py_ssize_t n,
                                bint began_here) except -1:
        # httptools keeps an unfinished head line to itself and reports it
        # only once it ends, so its length is measured here, from the
        # bytes: everything after the last LF read while this request's
        # head is incomplete (a CR that ends the read does not count: it
        # belongs to the line's end). Whether that line is the request
        # line (414) or a field line (431) is told by whether an LF has
        # been read since the request began.
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
            if length > self.limits.max_header_field:
                return self.refuse(431)
        elif length > self.limits.max_request_line:
            return self.refuse(414)
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
            version = self.parser.get_http_version()
            if version == "1.1":
                self.version = 11
            elif version == "1.0":
                self.version = 10
            elif version[0] == "1":
                self.version = 11               # HTTP/1.2 and up (see feed)
            elif version[0] == "0":
                # llhttp reads a request line without a version ("GET /")
                # as HTTP/0.9, which never wrote one: a malformed line (RFC
                # 9112 section 3).
                raise ProtocolError(400)
            else:
                raise ProtocolError(505)        # RFC 9110 section 15.6.6
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
