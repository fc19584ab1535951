# The request a handler receives. Built once per request on the hot path, so
# it keeps what the parser produced (raw bytes) and decodes each part only
# when a handler asks for it: a property that no handler reads costs
# nothing. The parsing behind the richer ones (query, forms, cookies) is in
# pure Python modules: fastcore.forms and fastcore.cookies.

# The methods' str objects, made once rather than decoded per request.
cdef dict _METHOD_NAMES = {m.encode(): m for m in STANDARD_METHODS}


@cython.final
@cython.freelist(64)
cdef class Request:
    """One HTTP request, as the handler sees it.

    Attributes are computed on first access: ``method``, ``path``
    (percent-decoded), ``query`` (raw string), ``args`` (the query
    decoded), ``target`` (the raw request target), ``headers``
    (case-insensitive, multi-valued), ``body`` (bytes), ``form`` and
    ``files`` (a form body), ``cookies``, ``params`` (path parameters),
    ``client`` (host, port), ``scheme``, ``host``, ``url``, ``version``
    ("1.0" or "1.1") and ``keep_alive``; ``json()`` parses the body.
    ``Request.build(...)`` makes one without a server, for tests.
    """

    def __init__(self):
        raise TypeError("Request objects are created by the server; "
                        "use Request.build(...) to make one in a test")

    @staticmethod
    def build(method="GET", target="/", headers=None, body=b"", *, version="1.1",
              client=None, scheme=None, params=None):
        """A Request as the server would hand it to a handler, without a
        server: for unit tests of handlers. `headers` is a mapping or a
        list of (name, value) pairs; `body` bytes or str (UTF-8); `client`
        the peer's (host, port); `params` the path parameters a route
        would have matched. Nothing is checked against the limits."""
        cdef Request request = Request.__new__(Request)
        cdef list raw = []
        if not isinstance(method, str) or not TOKEN.fullmatch(method):
            raise ValueError(f"invalid method {method!r}")
        if not isinstance(target, str) or not target or " " in target:
            raise ValueError(f"invalid request target {target!r}")
        if version not in ("1.0", "1.1"):
            raise ValueError(f"version is '1.0' or '1.1', not {version!r}")
        for name, value in field_pairs(headers):
            raw.append(name.encode("latin-1"))
            raw.append(value.encode("latin-1"))
        request._method = method.encode("ascii")
        request._target = target.encode("latin-1")
        request._raw_headers = raw
        request.body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        request._version = 11 if version == "1.1" else 10
        request.keep_alive = version == "1.1"
        request._client = client
        request._scheme = scheme
        request._params = dict(params) if params is not None else None
        return request

    @property
    def method(self):
        name = _METHOD_NAMES.get(self._method)
        return name if name is not None else self._method.decode("ascii")

    @property
    def target(self):
        return self._target.decode("latin-1")

    cdef _split_target(self):
        self._path, self._query = split_target(self._target)

    @property
    def path(self):
        if self._path is None:
            self._split_target()
        return self._path

    @property
    def query(self):
        if self._query is None:
            self._split_target()
        return self._query

    @property
    def args(self):
        if self._args is None:
            self._args = parse_query(self.query)
        return self._args

    @property
    def headers(self):
        if self._headers is None:
            self._headers = Headers._from_raw(self._raw_headers)
        return self._headers

    @property
    def params(self):
        if self._params is None:
            self._params = {}
        return self._params

    @property
    def cookies(self):
        if self._cookies is None:
            self._cookies = parse_cookies(self.headers.get_all("cookie"))
        return self._cookies

    cdef tuple _form_data(self):
        cdef limits_t* limits
        if self._form is None:
            if self._conn is not None:
                limits = &self._conn.loop.limits
                self._form = parse_form(self.body, self.headers.get("content-type"),
                                        limits.max_form_fields, limits.upload_spool_size)
            else:
                self._form = parse_form(self.body, self.headers.get("content-type"),
                                        DEFAULT_MAX_FORM_FIELDS, DEFAULT_UPLOAD_SPOOL_SIZE)
        return <tuple>self._form

    @property
    def form(self):
        return self._form_data()[0]

    @property
    def files(self):
        return self._form_data()[1]

    @property
    def client(self):
        if self._client is not None:
            return self._client
        return self._conn.client if self._conn is not None else None

    @property
    def scheme(self):
        if self._scheme is None:
            self._scheme = "http"                # fastcore speaks no TLS itself
        return self._scheme

    @property
    def host(self):
        cdef bytes target
        cdef Py_ssize_t end
        if self._host is None:
            target = self._target
            if target[:1] != b"/" and b"://" in target:
                # Absolute form: its authority is the host, whatever Host
                # says (RFC 9112 section 3.2.2).
                target = target.split(b"://", 1)[1]
                end = min([i for i in (target.find(b"/"), target.find(b"?"))
                           if i >= 0] or [len(target)])
                self._host = target[:end].decode("latin-1")
            else:
                self._host = self.headers.get("host") or self._local_address()
        return self._host

    cdef str _local_address(self):
        # An HTTP/1.0 request without Host: the address it was sent to.
        cdef sockaddr_storage addr
        cdef socklen_t length = sizeof(addr)
        cdef object local
        if self._conn is None or self._conn.fd < 0 or getsockname(
                self._conn.fd, <sockaddr*>&addr, &length) != 0:
            return "localhost"
        local = sockaddr_to_tuple(&addr)
        if local is None:
            return "localhost"
        return (f"[{local[0]}]:{local[1]}" if ":" in local[0]
                else f"{local[0]}:{local[1]}")

    @property
    def url(self):
        cdef bytes target = self._target
        cdef Py_ssize_t start
        if target[:1] == b"/":
            origin = target.decode("latin-1")
        elif b"://" in target:
            rest = target.split(b"://", 1)[1]
            start = min([i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0]
                        or [len(rest)])
            origin = rest[start:].decode("latin-1")
            if not origin.startswith("/"):
                origin = "/" + origin
        else:
            origin = "/"                         # "*" (OPTIONS) or authority form
        return f"{self.scheme}://{self.host}{origin.split('#', 1)[0]}"

    @property
    def version(self):
        return "1.1" if self._version == 11 else "1.0"

    def json(self):
        """The body parsed as JSON. A body that is not JSON, or does not say
        it is (Content-Type application/json, or a type ending in +json),
        raises HTTPError(400) with a short reason."""
        kind = media_type(self.headers.get("content-type"))
        if kind != "application/json" and not kind.endswith("+json"):
            raise HTTPError(400, "expected a JSON body (Content-Type: application/json)\n")
        try:
            return json_loads(self.body)
        except ValueError as exc:                # JSONDecodeError, UnicodeDecodeError
            raise HTTPError(400, f"invalid JSON: {exc}\n") from None

    def __repr__(self):
        return f"<Request {self.method} {self.target!r}>"
