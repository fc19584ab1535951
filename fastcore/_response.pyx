# Responses into a connection's Output: the status line and fields a
# handler's result was prepared with, then Server, Date, Content-Length and
# Connection, then the body (copied when small, queued when large) or a file
# range that sendfile(2) sends; and the engine's own answers (errors, 100).
#
# A result is checked and converted before anything is written, so a bad one
# becomes a 500 with nothing of it in the output.

cdef bytes OK_HEAD = OK_HTML_HEAD                # 200 and text/html
cdef bytes OK_LINE = status_line(200)
cdef bytes CONTINUE_100 = b"HTTP/1.1 100 Continue\r\n\r\n"
# status -> (head, body) of the engine's plain-text answer, for any status,
# built on first use (statuses are three digits: the dict stays small).
cdef dict ERROR_PARTS = {}
# Besides FileNotFoundError, NotADirectoryError and IsADirectoryError: what
# open(2) says of a path that names no file to send (a symlink loop, a name
# too long, a socket or a device without its driver).
cdef tuple NOT_A_FILE = (ELOOP, ENAMETOOLONG, ENXIO, ENODEV)


@cython.final
cdef class Prepared:
    # A complete response whose head a bridge (WSGI) has checked and
    # encoded: written as it is.
    cdef bytes head
    cdef int status
    cdef bytes body


cdef tuple error_parts(int status):
    cdef object parts = ERROR_PARTS.get(status)
    if parts is None:
        parts = ERROR_PARTS[status] = (error_head(status), error_body(status))
    return <tuple>parts


cdef object write_result(Output out, Loop loop, object result, Request request,
                         bint close):
    # Returns the StreamBody still to send for a streamed result, else None.
    # Raises TypeError (or UnicodeEncodeError) for a result that cannot be
    # sent, before writing anything.
    cdef object kind = type(result)
    cdef bint head_only = is_head_method(request._method)
    cdef object head, body
    if kind is bytes:
        write_response(out, OK_HEAD, <bytes>result, 200, head_only, close,
                       request._version)
        return None
    if kind is str:
        write_response(out, OK_HEAD, PyUnicode_AsUTF8String(result), 200,
                       head_only, close, request._version)
        return None
    if kind is Prepared:
        write_response(out, (<Prepared>result).head, (<Prepared>result).body,
                       (<Prepared>result).status, head_only, close, request._version)
        return None
    if isinstance(result, Response):
        head = (<object>result)._head
        body = (<object>result)._body
        if type(head) is not bytes or type(body) is not bytes:
            raise TypeError(f"a broken Response reached the server: {result!r}")
        write_response(out, <bytes>head, <bytes>body, (<object>result)._status,
                       head_only, close, request._version)
        return None
    if isinstance(result, FileResponse):
        write_file_response(out, loop, result, request, close)
        return None
    if kind is dict or kind is list:
        # Before the test for iterators (neither is one): JSON.
        write_response(out, OK_JSON_HEAD, json_body(result), 200, head_only, close,
                       request._version)
        return None
    if isinstance(result, Stream):
        return write_stream(out, loop, result, request, close)
    if isinstance(result, FileBody):
        write_file_body(out, result, request, close)
        return None
    if hasattr(kind, "__next__") and not isinstance(result, (bytes, str)):
        # An iterator or a generator of chunks.
        return write_stream(out, loop, Stream(result), request, close)
    if isinstance(result, str):
        # A str subclass, such as a template engine's Markup.
        write_response(out, OK_HEAD, PyUnicode_AsUTF8String(result), 200,
                       head_only, close, request._version)
        return None
    if isinstance(result, bytes):
        write_response(out, OK_HEAD, bytes(result), 200, head_only, close,
                       request._version)
        return None
    if isinstance(result, (dict, list)):
        write_response(out, OK_JSON_HEAD, json_body(result), 200, head_only, close,
                       request._version)
        return None
    raise TypeError(f"the handler returned {kind.__name__}; expected bytes, str, "
                    "dict, list, Response, FileResponse, Stream or an iterator")


cdef int write_response(Output out, bytes head, bytes body, int status,
                        bint head_only, bint close, int version) except -1:
    # One response: the prepared status line and fields, the fields every
    # response gets, then the body. A large body is queued as it is, never
    # copied.
    cdef Py_ssize_t body_len = PyBytes_GET_SIZE(body)
    cdef bint has_body = status >= 200 and status != 204 and status != 304
    cdef bint copy_body
    if not has_body:
        body_len = 0
    copy_body = not head_only and body_len <= COPY_BODY_MAX
    out.reserve(PyBytes_GET_SIZE(head) + TAIL_MAX + (body_len if copy_body else 0))
    out.put(head)
    write_tail(out, status, body_len if has_body else -1, close, version, False)
    if head_only or body_len == 0:
        return 0
    if copy_body:
        out.put_raw(PyBytes_AS_STRING(body), body_len)
        return 0
    return out.add_bytes(body)


cdef int write_tail(Output out, int status, Py_ssize_t content_length, bint close,
                    int version, bint chunked) except -1:
    # Server, Date, Content-Length (unless negative) or Transfer-Encoding:
    # chunked, Connection and the blank line; the caller has reserved
    # TAIL_MAX bytes.
    cdef char tail[TAIL_MAX]
    cdef char* p = tail
    memcpy(p, SERVER_LINE, SERVER_LINE_LEN)
    p += SERVER_LINE_LEN
    memcpy(p, DATE_LINE, DATE_LINE_LEN)
    p += DATE_LINE_LEN
    if content_length >= 0:
        memcpy(p, b"Content-Length: ", 16)
        p += 16
        p += format_size(content_length, p)
        p[0] = b"\r"
        p[1] = b"\n"
        p += 2
    elif chunked:
        memcpy(p, b"Transfer-Encoding: chunked\r\n", 28)
        p += 28
    if close:
        memcpy(p, b"Connection: close\r\n", 19)
        p += 19
    elif version == 10:
        memcpy(p, b"Connection: keep-alive\r\n", 24)
        p += 24
    p[0] = b"\r"
    p[1] = b"\n"
    out.put_raw(tail, p + 2 - tail)
    # Where this response's body begins, for the access log's byte count.
    out.status = status
    out.body_start = out.sent + <unsigned long long>out.pending()
    return 0


cdef int write_file(Output out, Loop loop, FileEntry entry, bytes type_line,
                    bytes extra, Request request, bint close) except -1:
    # A file response: status, fields, then a range that sendfile(2) sends
    # from the page cache.
    cdef bytes method = request._method
    cdef bint head_only = is_head_method(method)
    cdef int status = 200
    cdef Py_ssize_t start = 0
    cdef Py_ssize_t length
    cdef bytes range_line = b""
    cdef bytes line = OK_LINE
    cdef tuple parts
    if not entry_unchanged(entry):
        # Rewritten in place since it was described: describe it again
        # rather than send new bytes under the old length and ETag.
        loop.files.forget(entry)
        try:
            entry = loop.files.open(entry.path, loop.now)
        except OSError:
            return write_error(out, 404, close, head_only, request._version)
    length = entry.size
    if has_conditional_fields(request._raw_headers):
        status, start, length, range_line = evaluate(
            method, request._raw_headers, entry.size, entry.etag,
            entry.last_modified, entry.mtime)
        if status == 412 or status == 416:
            parts = error_parts(status)
            return write_response(out, <bytes>parts[0] + range_line, <bytes>parts[1],
                                  status, head_only, close, request._version)
        line = status_line(status)
    out.reserve(PyBytes_GET_SIZE(line) + PyBytes_GET_SIZE(type_line)
                + PyBytes_GET_SIZE(entry.validators) + PyBytes_GET_SIZE(extra)
                + PyBytes_GET_SIZE(range_line) + TAIL_MAX)
    out.put(line)
    out.put(type_line)
    out.put(entry.validators)
    out.put(extra)
    out.put(range_line)
    write_tail(out, status, -1 if status == 304 else length, close, request._version, False)
    if status == 304 or length == 0 or head_only:
        return 0
    return out.add_file(entry, start, length)


cdef int write_file_response(Output out, Loop loop, object response,
                             Request request, bint close) except -1:
    cdef FileEntry entry
    cdef object type_line
    cdef bint head_only = is_head_method(request._method)
    try:
        entry = loop.files.open(response._path, loop.now)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return write_error(out, 404, close, head_only, request._version)
    except PermissionError:
        return write_error(out, 403, close, head_only, request._version)
    except OSError as exc:
        if exc.errno in NOT_A_FILE:
            return write_error(out, 404, close, head_only, request._version)
        raise
    type_line = response._type_line
    write_file(out, loop, entry, entry.type_line if type_line is None else type_line,
               response._head, request, close)
    if response._cache_target is not None:
        loop.files.remember_target(response._cache_target, entry.path, response._head)
    return 0


cdef int write_error(Output out, int status, bint close, bint head_only=False,
                     int version=11) except -1:
    cdef tuple parts = error_parts(status)
    return write_response(out, <bytes>parts[0], <bytes>parts[1], status, head_only,
                          close, version)


cdef int write_continue(Output out) except -1:
    out.reserve(PyBytes_GET_SIZE(CONTINUE_100))
    out.put(CONTINUE_100)
    return 0


cdef object write_stream(Output out, Loop loop, object stream, Request request,
                         bint close):
    # The head of a streamed response, and the StreamBody that sends its
    # body; None when it has none to send (HEAD, 204, 304, a declared length
    # of 0), its iterable then closed unread. Without a declared length the
    # body is chunked on HTTP/1.1 and delimited by the close on HTTP/1.0
    # (RFC 9112 sections 6.1 and 6.3).
    cdef int status = stream._status
    cdef object length = stream.length
    cdef bytes head = stream._head
    cdef bint events = isinstance(stream, EventStream)
    cdef bint sends_body = (status >= 200 and status != 204 and status != 304
                            and not is_head_method(request._method) and length != 0)
    cdef int framing
    if length is not None:
        framing = FRAME_LENGTH
    elif request._version == 11:
        framing = FRAME_CHUNKED
    else:
        framing = FRAME_CLOSE
        close = close or sends_body
    out.reserve(PyBytes_GET_SIZE(head) + TAIL_MAX)
    out.put(head)
    if status < 200 or status == 204 or status == 304:
        write_tail(out, status, -1, close, request._version, False)
    else:
        write_tail(out, status, length if framing == FRAME_LENGTH else -1, close,
                   request._version, framing == FRAME_CHUNKED)
    if not sends_body:
        if events:
            stream._closed = True
        else:
            close_iterable(loop, stream.iterable)
        return None
    return stream_body(loop, stream.iterable, stream if events else None, framing,
                       length if framing == FRAME_LENGTH else 0)


cdef int write_file_body(Output out, object result, Request request, bint close) except -1:
    # A prepared head, then a range of an open file (WSGI's file_wrapper),
    # sent with sendfile(2). The descriptor is the engine's from here on.
    cdef FileEntry entry = FileEntry.__new__(FileEntry)
    cdef int status = result._status
    cdef bytes head = result._head
    cdef Py_ssize_t length = result.length
    cdef bint has_body = status >= 200 and status != 204 and status != 304
    entry.fd = result.fd
    result.fd = -1
    entry.path = "wsgi.file_wrapper"
    out.reserve(PyBytes_GET_SIZE(head) + TAIL_MAX)
    out.put(head)
    write_tail(out, status, length if has_body else -1, close, request._version, False)
    if has_body and length and not is_head_method(request._method):
        out.add_file(entry, result.offset, length)
    return 0
