# The request a handler receives. Built once per request on the hot path, so
# it keeps what the parser produced (raw bytes) and decodes each part only
# when a handler asks for it.

# The methods' str objects, made once rather than decoded per request.
cdef dict _METHOD_NAMES = {m.encode(): m for m in STANDARD_METHODS}


@cython.final
@cython.freelist(64)
cdef class Request:
    """One HTTP request, as the handler sees it.

    Attributes are computed on first access: ``method``, ``path``
    (percent-decoded), ``query`` (raw string), ``target`` (the raw request
    target), ``headers`` (case-insensitive, multi-valued), ``body`` (bytes),
    ``params`` (path parameters), ``client`` (host, port), ``version``
    ("1.0" or "1.1") and ``keep_alive``.
    """

    def __init__(self):
        raise TypeError("Request objects are created by the server")

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
    def client(self):
        return self._conn.client

    @property
    def version(self):
        return "1.1" if self._version == 11 else "1.0"

    def json(self):
        """The body parsed as JSON."""
        return json_loads(self.body)

    def __repr__(self):
        return f"<Request {self.method} {self.target!r}>"
