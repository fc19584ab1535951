# The WSGI environ of a request (PEP 3333), built in C from the raw bytes
# the parser produced; fastcore.wsgi does the rest of the bridge in Python.

# Raw header name -> its environ key, or "" for a name that is dropped
# (one with "_": X_Forwarded_For must not pass for X-Forwarded-For once
# both become HTTP_X_FORWARDED_FOR). Names repeat from request to request.
cdef dict ENVIRON_KEYS = {}


cdef str environ_key(bytes name):
    cdef str key = ENVIRON_KEYS.get(name)
    cdef str text
    if key is not None:
        return key
    text = name.decode("latin-1").upper()
    if "_" in text or text == "TRANSFER-ENCODING":
        # Transfer-Encoding too: the body in wsgi.input is decoded, and
        # its CONTENT_LENGTH given (see wsgi_environ).
        key = ""
    elif text == "CONTENT-TYPE" or text == "CONTENT-LENGTH":
        key = text.replace("-", "_")
    else:
        key = "HTTP_" + text.replace("-", "_")
    if len(ENVIRON_KEYS) < 2048:
        ENVIRON_KEYS[name] = key
    return key


def wsgi_environ(Request request, dict base, str script_name):
    """The environ for `request`: a copy of `base` (the keys that are the
    same for every request) with the request's own. PATH_INFO is the
    percent-decoded path as bytes, carried in a latin-1 str, without
    `script_name` (itself in that form); repeated fields are joined with
    ", " (Cookie with "; "). A chunked body is given as it was decoded,
    with its CONTENT_LENGTH and without Transfer-Encoding, as waitress
    does: CGI and most applications (Django) read CONTENT_LENGTH bytes."""
    cdef dict environ = base.copy()
    cdef bytes target = request._target
    cdef bytes path, query, name, value
    cdef bytes body = request.body
    cdef list raw = request._raw_headers
    cdef Py_ssize_t i, n, cut
    cdef str key, text
    cdef object previous, client, local
    # A fragment is not sent to a server (RFC 9110 section 4.2.5); a
    # client that does gets it dropped, as Request.path does.
    cut = find_byte(target, b"#")
    if cut >= 0:
        target = target[:cut]
    if PyBytes_AS_STRING(target)[0] != b"/":
        target = origin_form(target)
    cut = find_byte(target, b"?")
    if cut < 0:
        path, query = target, b""
    else:
        path, query = target[:cut], target[cut + 1:]
    if find_byte(path, b"%") >= 0:
        path = unquote_to_bytes(path)
    text = path.decode("latin-1")
    environ["REQUEST_METHOD"] = request.method
    environ["SCRIPT_NAME"] = script_name
    environ["PATH_INFO"] = text[len(script_name):] if script_name else text
    environ["QUERY_STRING"] = query.decode("latin-1")
    environ["SERVER_PROTOCOL"] = "HTTP/1.1" if request._version == 11 else "HTTP/1.0"
    for i in range(0, len(raw), 2):
        name = <bytes>raw[i]
        key = environ_key(name)
        if not key:
            continue
        value = <bytes>raw[i + 1]
        n = trimmed_length(PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value))
        text = PyUnicode_DecodeLatin1(PyBytes_AS_STRING(value), n, NULL)
        previous = environ.get(key)
        if previous is None:
            environ[key] = text
        else:
            environ[key] = previous + ("; " if key == "HTTP_COOKIE" else ", ") + text
    if request._conn is not None and request._conn.loop.proxy_headers:
        # What a trusted proxy says (fastcore.proxy) stands for the socket.
        request._read_forwarded()
        if request._scheme is not None:
            environ["wsgi.url_scheme"] = request._scheme
        if request._host is not None:
            environ["HTTP_HOST"] = request._host
    client = request._client
    if client is None and request._conn is not None:
        client = request._conn.client
    if client is not None:
        environ["REMOTE_ADDR"] = client[0]
        environ["REMOTE_PORT"] = str(client[1])
    local = request._conn.local if request._conn is not None else None
    if local is not None:
        environ["SERVER_NAME"] = local[0]
        environ["SERVER_PORT"] = str(local[1])
    if PyBytes_GET_SIZE(body) and "CONTENT_LENGTH" not in environ:
        environ["CONTENT_LENGTH"] = str(PyBytes_GET_SIZE(body))     # it was chunked
    environ["wsgi.input"] = BytesIO(body)
    return environ


cdef inline Py_ssize_t find_byte(bytes data, char byte):
    cdef const char* start = PyBytes_AS_STRING(data)
    cdef const char* found = <const char*>memchr(start, byte, PyBytes_GET_SIZE(data))
    return -1 if found is NULL else found - start


cdef bytes origin_form(bytes target):
    # The path and query of an absolute-form target (RFC 9112 section
    # 3.2.2), its path "/" when empty (RFC 9110 section 4.2.3); "*" for
    # the asterisk form.
    cdef Py_ssize_t start = target.find(b"://")
    cdef Py_ssize_t cut, query
    if start < 0:
        return target
    cut = target.find(b"/", start + 3)
    query = target.find(b"?", start + 3)
    if query >= 0 and (cut < 0 or query < cut):
        return b"/" + target[query:]
    return target[cut:] if cut >= 0 else b"/"


# -- the response side -------------------------------------------------------

# What a WSGI status string becomes: its status line and code. Apps send a
# few distinct ones.
cdef dict STATUS_HEADS = {}
# A (name, value) pair an app sent -> its encoded line, b"" for a field the
# server writes itself (Date, Server), or an int for Content-Length (its
# value). Checked once per distinct pair; apps repeat theirs.
cdef dict FIELD_LINES = {}
cdef Py_ssize_t FIELD_LINES_MAX = 4096


cdef tuple status_head(object status):
    cdef object known = STATUS_HEADS.get(status)
    if known is not None:
        return <tuple>known
    known = check_wsgi_status(status)
    if len(STATUS_HEADS) < 256:
        STATUS_HEADS[status] = known
    return <tuple>known


cdef object field_line(object pair):
    cdef object line = None
    try:
        line = FIELD_LINES.get(pair)
    except TypeError:
        pass                            # unhashable: check_wsgi_field says why
    if line is not None:
        return line
    line = check_wsgi_field(pair)
    if len(FIELD_LINES) < FIELD_LINES_MAX:
        FIELD_LINES[pair] = line
    return line


@cython.final
@cython.freelist(16)
cdef class StartResponse:
    """The start_response of one WSGI request, and what it was given."""
    cdef public bytes head              # status line and fields, without Content-Length
    cdef public int code
    cdef public object length           # the declared Content-Length, or None
    cdef public bint sent               # the head has gone to the engine
    cdef public list written            # what write() was given, not yet sent

    def __call__(self, status, headers, exc_info=None):
        cdef list parts
        cdef tuple known
        cdef object line
        cdef object length = None
        if exc_info is not None:
            try:
                if self.sent:
                    # PEP 3333: too late to replace the response.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.head is not None:
            raise AssertionError("start_response was called twice without exc_info")
        if type(headers) is not list:
            raise TypeError(f"WSGI headers are a list, not {type(headers).__name__}")
        known = status_head(status)
        parts = [known[0]]
        for pair in <list>headers:
            line = field_line(pair)
            if type(line) is bytes:
                if PyBytes_GET_SIZE(<bytes>line):
                    parts.append(line)
            elif length is not None and line != length:
                raise ValueError("two different Content-Length fields")
            else:
                length = line
        self.head = b"".join(parts)
        self.code = known[1]
        self.length = length
        return self.write

    def write(self, data):
        if self.head is None:
            raise AssertionError("write() before start_response")
        if type(data) is not bytes:
            raise TypeError(f"write() takes bytes, not {type(data).__name__}")
        if data:
            # Body data: from here the head counts as sent (PEP 3333), so
            # exc_info can no longer replace it, even while it is buffered.
            self.sent = True
            if self.written is None:
                self.written = []
            self.written.append(data)


cdef void close_result(object result):
    closer = getattr(result, "close", None)
    if closer is not None:
        closer()


@cython.final
cdef class WSGIBridge:
    """Calls a WSGI application for each request and gives the engine its
    response: one complete response when the body is known whole once its
    first non-empty chunk is read, else a Stream (see fastcore.wsgi)."""
    cdef readonly object app
    cdef readonly dict base
    cdef readonly str script_name
    cdef object streamed_body           # fastcore.wsgi._Body
    cdef object file_wrapper            # fastcore.wsgi.FileWrapper
    cdef object send_file               # fastcore.wsgi._send_file

    def __init__(self, app, dict base, str script_name, streamed_body, file_wrapper,
                 send_file):
        self.app = app
        self.base = base
        self.script_name = script_name
        self.streamed_body = streamed_body
        self.file_wrapper = file_wrapper
        self.send_file = send_file

    def __call__(self, Request request):
        cdef StartResponse start = StartResponse.__new__(StartResponse)
        cdef object result = self.app(wsgi_environ(request, self.base, self.script_name),
                                      start)
        cdef object first = b""
        cdef object iterator
        cdef object sent
        try:
            if type(result) is list or type(result) is tuple:
                # The whole body at once (the commonest answer).
                if start.head is None:
                    raise RuntimeError("the WSGI application did not call start_response")
                start.sent = True
                if start.written is None and len(result) == 1 and type(result[0]) is bytes:
                    return self.complete(start, <bytes>result[0])
                return self.complete(start, b"".join(
                    (start.written or []) + [check_chunk(chunk) for chunk in result]))
            if type(result) is self.file_wrapper and start.head is not None:
                sent = self.send_file(result, start)
                if sent is not None:
                    return sent
            iterator = iter(result)
            # Up to the first non-empty chunk: start_response may come late,
            # from inside the iterable.
            while not first:
                try:
                    first = check_chunk(next(iterator))
                except StopIteration:
                    iterator = None
                    break
            if start.head is None:
                raise RuntimeError("the WSGI application did not call start_response")
            start.sent = True
            if iterator is None or (start.length is not None and start.written is None
                                    and len(first) == start.length):
                close_result(result)
                if start.written:
                    first = b"".join(start.written) + first
                    start.written = None
                return self.complete(start, <bytes>first)
        except BaseException:
            close_result(result)
            raise
        return Stream._prepared(self.streamed_body(start, first, iterator, result),
                                start.head, start.code, start.length)

    cdef object complete(self, StartResponse start, bytes body):
        # A body known whole. One that does not match its declared length
        # goes the streamed way, which ends the connection after it.
        cdef Prepared response
        if start.length is not None and PyBytes_GET_SIZE(body) != start.length:
            return Stream._prepared(iter((body,)), start.head, start.code, start.length)
        response = Prepared.__new__(Prepared)
        response.head = start.head
        response.status = start.code
        response.body = body
        return response


cdef inline object check_chunk(object chunk):
    if type(chunk) is not bytes:
        raise TypeError(f"a WSGI body yielded {type(chunk).__name__}, not bytes")
    return chunk
