# The request line where llhttp leaves the Reader short (see
# _request_line.pxd). llhttp stops at the first byte it does not expect and
# keeps an unfinished line to itself, so three answers need the raw bytes:
# a refused method is 501 only if its line is well-formed (probe_more); a
# version llhttp refuses may be HTTP/1.x with x > 1, read as HTTP/1.1 after
# parsing again from a place whose parser state is known (parse_error); and
# a line too long is refused before it ends (check_partial). The Reader
# calls in here after a read or on one of those errors, never per callback.


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


cdef int refused_version_status(object error, object parser) except -1:
    # The status for a request line whose version llhttp refused: 0 for
    # HTTP/1.x with x > 1 (answered as 1.1, see parse_error); 400 for a
    # malformed version ("HTTP/11", "HTTP/1.10", RFC 9112 section 2.3) and
    # for HTTP/0.x, which never had a version in its request line; 505 for
    # another major version (RFC 9110 section 15.6.6).
    cdef str version
    if str(error) != "Invalid HTTP version":    # llhttp's reason for x.y it does not take
        return 400
    version = parser.get_http_version()
    if version[0] == "1":
        return 0
    return 400 if version[0] == "0" else 505


cdef int http_version(object version) except -1:
    # 11 or 10 for the version llhttp parsed ("1.1"), checked here since a
    # restarted parser takes any (see parse_error); or ProtocolError.
    if version == "1.1":
        return 11
    elif version == "1.0":
        return 10
    elif version[0] == "1":
        return 11                       # HTTP/1.2 and up (see parse_error)
    elif version[0] == "0":
        # llhttp reads a request line without a version ("GET /") as
        # HTTP/0.9, which never wrote one: a malformed line (RFC 9112
        # section 3).
        raise ProtocolError(400)
    else:
        raise ProtocolError(505)        # RFC 9110 section 15.6.6


@cython.final
cdef class RequestLine:

    def __cinit__(self):
        self.boundary = True            # a connection begins between requests

    cdef void new_request(self) noexcept:
        # Called by Reader.reset_message, for each request. A request that
        # ends inside a read leaves the next one's unfinished line counted
        # from 0: where in the read it began is not known.
        self.first_bytes = None
        self.partial = 0
        self.line_done = False

    cdef void done(self) noexcept:
        # Nothing more is parsed (a refusal, or the connection closed).
        self.first_bytes = None
        self.probe = None

    cdef int keep_first(self, const char* data, Py_ssize_t n) except -1:
        # Bytes before the connection's first request line (empty lines, or
        # the first bytes of a method), kept to tell 501 from 400 if the
        # method is refused later (method_refused).
        cdef Py_ssize_t kept = 0
        if self.first_bytes is not None:
            kept = PyBytes_GET_SIZE(self.first_bytes)
        if kept < MAX_METHOD_PROBE:
            self.first_bytes = (self.first_bytes or b"") + PyBytes_FromStringAndSize(
                data, min(n, MAX_METHOD_PROBE - kept))
        return 0

    cdef void after_read(self, const char* data, Py_ssize_t n, bint idle) noexcept:
        # After each read: whether the next one begins where a new parser
        # would, with nothing of a next request read yet but empty lines
        # (`idle`: no request line has begun; after a body that ends the
        # read, the same bytes could begin a request: not known). And its
        # last bytes, for a line split between the two (first_request_end).
        self.boundary = idle and (data[n - 1] == b"\n" or data[n - 1] == b"\r")
        keep_tail(self.tail, data, n)

    cdef int check_partial(self, Reader reader, const char* data, Py_ssize_t n,
                           bint began_here) except -1:
        # httptools keeps an unfinished head line to itself and reports it
        # only once it ends, so its length is measured here, from the
        # bytes of a read in which no request ended: everything after the
        # last LF read while this request's head is incomplete (a CR that
        # ends the read does not count: it belongs to the line's end).
        # Whether that line is the request line (414) or a field line (431)
        # is told by whether an LF has been read since the request began.
        cdef const char* lf = <const char*>memrchr(data, b"\n", n)
        cdef Py_ssize_t start = 0
        cdef Py_ssize_t length
        if lf is NULL:
            self.partial += n
        else:
            self.partial = n - 1 - (lf - data)
            if began_here:
                # Empty lines may come before a request (RFC 9112 2.2).
                while start < n and (data[start] == b"\r" or data[start] == b"\n"):
                    start += 1
                if lf - data > start:
                    self.line_done = True
            else:
                self.line_done = True
        length = self.partial - (1 if data[n - 1] == b"\r" else 0)
        if self.line_done:
            if length > reader.limits.max_header_field:
                return reader.refuse(431)
        elif length > reader.limits.max_request_line:
            return reader.refuse(414)
        return 0

    # -- a method llhttp refuses ----------------------------------------------

    cdef bint method_refused(self, Reader reader, char* data, Py_ssize_t n) except -1:
        # llhttp refused the method in this read. If nothing has ended on
        # this connection yet, all it has sent is known (first_bytes and
        # this read) and the method can be told: an unknown but well-formed
        # one is 501 (RFC 9110 section 9.1), anything else 400. llhttp stops
        # at the first byte it does not expect, so the rest of the token may
        # still be on its way. After a first request the cut between two
        # requests is not known: 400. True when nothing more is parsed.
        if reader.completed:
            reader.refuse(400)
            return True
        self.probe = bytearray(self.first_bytes or b"")
        return self.probe_more(reader, data, n)

    cdef bint probe_more(self, Reader reader, char* data, Py_ssize_t n) except -1:
        # Collect the request line of a refused method until it is known to
        # be malformed (400) or well-formed with a method this server does
        # not know (501); the parser has stopped, so nothing else is parsed
        # meanwhile (the Reader's R_PROBE). True once it is refused.
        cdef bytearray line = self.probe
        cdef int status
        line.extend(PyMemoryView_FromMemory(data, n, PyBUF_READ))
        status = request_line_status(PyByteArray_AS_STRING(line), PyByteArray_GET_SIZE(line))
        if status == 0:
            if PyByteArray_GET_SIZE(line) <= reader.limits.max_request_line + MAX_METHOD_PROBE:
                reader.probing()
                return False
            status = 414                        # the line goes on past the limit
        self.probe = None
        reader.refuse(status)
        return True

    # -- a version llhttp refuses ---------------------------------------------

    cdef bytes parse_error(self, Reader reader, object error, const char* data, Py_ssize_t n,
                           int phase, Py_ssize_t url_start, Py_ssize_t body_start,
                           Py_ssize_t completed):
        # llhttp refused this read, not at its method: the bytes to parse
        # again with the parser restarted, or None once the request is
        # refused. For HTTP/1.x with x > 1, read as HTTP/1.1 (RFC 9110
        # section 6.2: a recipient treats a higher minor version as the
        # highest it implements), llhttp has stopped at the minor digit:
        # parsing starts again with a parser that takes any version, from a
        # place whose parser state is known. `phase`, `url_start`,
        # `body_start` and `completed` are the Reader's as the read began.
        # (A copy of the read: this happens once a connection at most, since
        # the new parser takes every version.)
        cdef int status = refused_version_status(error, reader.parser)
        cdef bytes again = None
        cdef Py_ssize_t offset
        if status == 0:
            if self.boundary:
                # This read began between requests, where a new parser
                # begins too: all of it again, skipping the requests
                # already queued from it.
                reader.restart_parser(reader.completed - completed, R_IDLE)
                again = PyBytes_FromStringAndSize(data, n)
            elif reader.completed == completed:
                # The line began in an earlier read: it again, with
                # HTTP/1.1, then the rest of this read.
                again = self.rest_of_line(reader, data, n, url_start)
                if again is not None:
                    reader.restart_parser(0, R_HEAD)
            else:
                # The read began inside a request that ended in it: again
                # from where that one ended.
                offset = self.first_request_end(reader, data, n, phase, body_start, completed)
                if offset >= 0:
                    reader.restart_parser(reader.completed - completed - 1, R_IDLE)
                    again = PyBytes_FromStringAndSize(data + offset, n - offset)
            if again is None:
                status = 505            # where the line began is not known
        if again is None:
            reader.refuse(status)
        return again

    cdef bytes rest_of_line(self, Reader reader, const char* data, Py_ssize_t n,
                            Py_ssize_t url_start):
        # A request line that began in an earlier read and that llhttp
        # refused at its minor digit in this one: the line with HTTP/1.1,
        # then what follows it here; None if what is here is not the rest of
        # the line (the rest of the method and its spaces if the target had
        # not begun, the rest of the target, spaces, then the rest of
        # "HTTP/1.x", which ends at the first x: "HTTP/1." has no digit
        # above 1).
        cdef bytes method = reader.get_method()
        cdef bytes url = reader.url
        cdef bytes read = PyBytes_FromStringAndSize(data, n)
        cdef bytes version = b"HTTP/1." + reader.parser.get_http_version()[2].encode("ascii")
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

    cdef Py_ssize_t first_request_end(self, Reader reader, const char* data, Py_ssize_t n,
                                      int phase, Py_ssize_t body_start,
                                      Py_ssize_t completed) except -2:
        # Where, in this read, the request in progress as it began ended;
        # -1 if that is not known. Its head ends at the first CRLF CRLF
        # (none can come earlier in a head; the last bytes of the read
        # before count, for one split across the two), its body that many
        # bytes later. A chunked body's end is not known.
        cdef Request request = <Request>reader.ready[
            len(reader.ready) - (reader.completed - completed)]
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
