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
        Conn _conn               # None for a Request.build() one
        readonly bint keep_alive
        int _version             # 10 or 11
        object _args             # MultiDict of the query, on first use
        object _form             # (fields, files), on first use
        object _cookies          # dict, on first use
        # What a trusted proxy may say instead of the socket (set by the
        # engine before the handler runs); None: computed on first use.
        object _scheme           # "http" or "https"
        object _host             # the Host the client asked for
        object _client           # (host, port) instead of the socket's peer
        bint _proxied            # the forwarded headers have been looked at
        double _started          # taken to be answered (set while the access log is on)

    cdef _split_target(self)
    cdef tuple _form_data(self)
    cdef str _local_address(self)
    cdef int _read_forwarded(self) except -1
