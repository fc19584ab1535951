cdef class Request:
    cdef:
        bytes _method
        bytes _target
        list _raw_headers        # flat: name, value, name, value ... (bytes)
        object _headers          # Headers, built on first use
        object _path             # str, decoded on first use
        object _query            # str, on first use
        readonly bytes body
        public object _params    # dict set by the router, or None
        Conn _conn
        readonly bint keep_alive
        int _version             # 10 or 11

    cdef _split_target(self)
