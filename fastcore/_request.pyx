# The request a handler receives. Built once per request on the hot path, so
# it keeps what the parser produced (raw bytes) and decodes each part only
# when a handler asks for it: a property that no handler reads costs
# nothing. The parsing behind the richer ones (query, forms, cookies) is in
# pure Python modules: fastcore.forms and fastcore.cookies.

# The methods' str objects, made once rather than decoded per request.
cdef dict _METHOD_NAMES = {m.encode(): m for m in STANDARD_METHODS}

# fastcore.forms and fastcore.cookies, imported when a handler first needs
# them: a server whose handlers read no form or cookie does not load them.
cdef object _forms = None
cdef object _cookies = None
cdef object _proxy = None


cdef object forms():
    global _forms
    if _forms is None:
        from fastcore import forms as module
        _forms = module
    return _forms


cdef object proxy():
    global _proxy
    if _proxy is None:
        from fastcore import proxy as module
        _proxy = module
    return _proxy


cdef object cookies():
    global _cookies
    if _cookies is None:
        from fastcore import cookies as module
        _cookies = module
    return _cookies


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
    def build(*args, **options):
        """A Request as the server would hand it to a handler, without a
        server: for unit tests of handlers. The same as
        ``fastcore.testing.make_request`` (see there)."""
        from fastcore.testing import make_request
        return make_request(*args, **options)

    @staticmethod
    def _assemble(bytes method, bytes target, list raw_headers, bytes body, int version,
                  client, scheme, params):
        # For make_request, which has checked and encoded every part.
        cdef Request request = Request.__new__(Request)
        request._method = method
        request._target = target
        request._raw_headers = raw_headers
        request.body = body
        request._version = version
        request.keep_alive = version == 11
        request._client = client
        request._scheme = scheme
        request._params = params
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
            self._args = forms().parse_query(self.query)
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
            self._cookies = cookies().parse_cookies(self.headers.get_all("cookie"))
        return self._cookies

    cdef tuple _form_data(self):
        cdef limits_t* limits
        if self._form is None:
            if self._conn is not None:
                limits = &self._conn.loop.limits
                self._form = forms().parse_form(
                    self.body, self.headers.get("content-type"),
                    limits.max_form_fields, limits.upload_spool_size)
            else:
                self._form = forms().parse_form(
                    self.body, self.headers.get("content-type"),
                    DEFAULT_MAX_FORM_FIELDS, DEFAULT_UPLOAD_SPOOL_SIZE)
        return <tuple>self._form

    @property
    def form(self):
        return self._form_data()[0]

    @property
    def files(self):
        return self._form_data()[1]

    cdef int _read_forwarded(self) except -1:
        # What a trusted proxy's X-Forwarded-* or Forwarded say, read once,
        # when client, scheme or host is first asked for (fastcore.proxy).
        cdef Conn conn = self._conn
        self._proxied = True
        if conn is None or not conn.loop.proxy_headers:
            return 0
        # The peer is the PROXY header's source, if there was one.
        if host_of(conn.client) not in conn.loop.proxy.forwarded_allow_ips:
            return 0
        client, scheme, host = proxy().forwarded(conn.loop.proxy, self._raw_headers)
        if client is not None and self._client is None:
            self._client = client
        if scheme is not None and self._scheme is None:
            self._scheme = scheme
        if host is not None and self._host is None:
            self._host = host
        return 0

    @property
    def client(self):
        if not self._proxied:
            self._read_forwarded()
        if self._client is not None:
            return self._client
        return self._conn.client if self._conn is not None else None

    @property
    def scheme(self):
        if not self._proxied:
            self._read_forwarded()
        if self._scheme is None:
            self._scheme = "http"                # fastcore speaks no TLS itself
        return self._scheme

    @property
    def host(self):
        if not self._proxied:
            self._read_forwarded()
        if self._host is None:
            self._host = (authority(self._target) or self.headers.get("host")
                          or self._local_address())
        return self._host

    cdef str _local_address(self):
        # An HTTP/1.0 request without Host: the address it was sent to.
        cdef object local = self._conn.local if self._conn is not None else None
        if local is None:
            return "localhost"
        return (f"[{local[0]}]:{local[1]}" if ":" in local[0]
                else f"{local[0]}:{local[1]}")

    @property
    def url(self):
        return f"{self.scheme}://{self.host}{origin(self._target)}"

    @property
    def version(self):
        return "1.1" if self._version == 11 else "1.0"

    def json(self):
        """The body parsed as JSON. A body that is not JSON, or does not say
        it is (Content-Type application/json, or a type ending in +json),
        raises HTTPError(400) with a short reason."""
        return forms().parse_json(self.body, self.headers.get("content-type"))

    def __repr__(self):
        return f"<Request {self.method} {self.target!r}>"
