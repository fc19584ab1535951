# Responses into a connection's output: the status line and fields a
# handler's result was prepared with, then Server, Date, Content-Length and
# Connection, then the body (copied when small, queued when large) or a
# file segment that sendfile(2) sends; and the engine's own error answers.
# Functions of a Conn rather than methods so that this part has a file of
# its own; the calls cost the same.


cdef int write_result(Conn self, object result, Request request) except -1:
    cdef Loop loop = self.loop
    cdef object kind = type(result)
    cdef bint head_only = is_head_method(request._method)
    cdef bint close = not request.keep_alive
    if kind is bytes:
        return write_response(self, loop.ok_head, <bytes>result, 200,
                              head_only, close, request._version)
    if kind is str:
        return write_response(self, loop.ok_head, PyUnicode_AsUTF8String(result),
                              200, head_only, close, request._version)
    if isinstance(result, Response):
        return write_response(self, (<object>result)._head, (<object>result).body,
                              (<object>result).status, head_only, close,
                              request._version)
    if isinstance(result, FileResponse):
        return write_file_response(self, result, request)
    loop.logger.error(
        "handler for %s %s returned %s; expected bytes, str, Response "
        "or FileResponse",
        request.method, request.target, kind.__name__)
    return write_error(self, 500, close)


cdef int write_response(Conn self, bytes head, bytes body, int status,
                        bint head_only, bint close, int version) except -1:
    # One response into wbuf: the prepared status line and fields, the
    # fields every response gets, then the body. A large body is queued
    # as it is, never copied.
    cdef Py_ssize_t body_len = PyBytes_GET_SIZE(body)
    cdef bint has_body = status >= 200 and status != 204 and status != 304
    cdef bint copy_body
    if not has_body:
        body_len = 0
    copy_body = not head_only and body_len <= COPY_BODY_MAX
    out_reserve(self, PyBytes_GET_SIZE(head) + TAIL_MAX + (body_len if copy_body else 0))
    out_put(self, head)
    write_tail(self, body_len if has_body else -1, close, version)
    if head_only or body_len == 0:
        return 0
    if copy_body:
        memcpy(self.wbuf + self.wlen, PyBytes_AS_STRING(body), body_len)
        self.wlen += body_len
    else:
        out_seal(self)
        self.queue.append(body)
        self.qbytes += body_len
    return 0


cdef int write_tail(Conn self, Py_ssize_t content_length, bint close,
                    int version) except -1:
    # Server, Date, Content-Length (unless negative), Connection and the
    # blank line; the caller has reserved TAIL_MAX bytes.
    cdef char* p = self.wbuf + self.wlen
    memcpy(p, SERVER_LINE, SERVER_LINE_LEN)
    p += SERVER_LINE_LEN
    memcpy(p, self.loop.date_line, DATE_LINE_LEN)
    p += DATE_LINE_LEN
    if content_length >= 0:
        memcpy(p, b"Content-Length: ", 16)
        p += 16
        p += format_size(content_length, p)
        p[0] = b"\r"
        p[1] = b"\n"
        p += 2
    if close:
        memcpy(p, b"Connection: close\r\n", 19)
        p += 19
    elif version == 10:
        memcpy(p, b"Connection: keep-alive\r\n", 24)
        p += 24
    p[0] = b"\r"
    p[1] = b"\n"
    self.wlen = (p + 2) - self.wbuf
    return 0


cdef int write_file(Conn self, FileEntry entry, bytes type_line, bytes extra,
                    Request request) except -1:
    # A file response: status, fields, then a segment that sendfile(2)
    # sends from the page cache.
    cdef Loop loop = self.loop
    cdef bytes method = request._method
    cdef int status = 200
    cdef Py_ssize_t start = 0
    cdef Py_ssize_t length
    cdef bytes range_line = b""
    cdef bytes status_line = loop.ok_line
    cdef bint close = not request.keep_alive
    if not entry_unchanged(entry):
        # Rewritten in place since it was described: describe it again
        # rather than send new bytes under the old length and ETag.
        loop.forget_file(entry)
        try:
            entry = loop.open_file(entry.path)
        except OSError:
            return write_error(self, 404, close)
    length = entry.size
    if has_conditional_fields(request._raw_headers):
        status, start, length, range_line = evaluate(
            method, request._raw_headers, entry.size, entry.etag,
            entry.last_modified, entry.mtime)
        if status == 412 or status == 416:
            return write_response(self, loop.error_heads[status] + range_line,
                                  loop.error_bodies[status], status, False, close,
                                  request._version)
        status_line = loop.status_lines[status]
    out_reserve(self, PyBytes_GET_SIZE(status_line) + PyBytes_GET_SIZE(type_line)
                + PyBytes_GET_SIZE(entry.validators) + PyBytes_GET_SIZE(extra)
                + PyBytes_GET_SIZE(range_line) + TAIL_MAX)
    out_put(self, status_line)
    out_put(self, type_line)
    out_put(self, entry.validators)
    out_put(self, extra)
    out_put(self, range_line)
    write_tail(self, -1 if status == 304 else length, close, request._version)
    if status == 304 or length == 0 or is_head_method(method):
        return 0
    if self.queue is None:
        # The common case: the file follows what is in wbuf, with
        # nothing queued. Kept in the tail slot: no queue, no copy.
        self.tail_entry = entry
        self.tail_offset = start
        self.tail_remaining = length
        return 0
    return out_queue_file(self, entry, start, length)


cdef int write_file_response(Conn self, object response, Request request) except -1:
    cdef Loop loop = self.loop
    cdef FileEntry entry
    cdef object type_line
    try:
        entry = loop.open_file(response.path)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return write_error(self, 404, not request.keep_alive)
    except PermissionError:
        return write_error(self, 403, not request.keep_alive)
    except OSError:
        loop.logger.exception("cannot open %r", response.path)
        return write_error(self, 500, not request.keep_alive)
    type_line = response._type_line
    write_file(self, entry, entry.type_line if type_line is None else type_line,
               response._head, request)
    if response._cache_target is not None:
        loop.remember_target(response._cache_target, entry, response._head)
    return 0


cdef int write_error(Conn self, int status, bint close) except -1:
    return write_response(self, self.loop.error_heads[status],
                          self.loop.error_bodies[status], status, False, close, 11)
