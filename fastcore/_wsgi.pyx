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
    if "_" in text:
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
    `script_name`; repeated fields are joined with ", " (Cookie with
    "; ")."""
    cdef dict environ = base.copy()
    cdef bytes target = request._target
    cdef bytes path, query, name, value
    cdef list raw = request._raw_headers
    cdef Py_ssize_t i, n, cut
    cdef str key, text
    cdef object previous, client, local
    if PyBytes_AS_STRING(target)[0] != b"/":
        target = origin_form(target)
    cut = target.find(b"?")
    if cut < 0:
        path, query = target, b""
    else:
        path, query = target[:cut], target[cut + 1:]
    cut = query.find(b"#")
    if cut >= 0:
        query = query[:cut]
    if b"%" in path:
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
    client = request._conn.client if request._conn is not None else None
    if client is not None:
        environ["REMOTE_ADDR"] = client[0]
        environ["REMOTE_PORT"] = str(client[1])
    local = request._conn.local if request._conn is not None else None
    if local is not None:
        environ["SERVER_NAME"] = local[0]
        environ["SERVER_PORT"] = str(local[1])
    environ["wsgi.input"] = BytesIO(request.body)
    return environ


cdef bytes origin_form(bytes target):
    # The path and query of an absolute-form target (RFC 9112 section
    # 3.2.2), "*" for the asterisk form.
    cdef Py_ssize_t start = target.find(b"://")
    cdef Py_ssize_t cut
    if start < 0:
        return target
    cut = target.find(b"/", start + 3)
    return target[cut:] if cut >= 0 else b"/"
