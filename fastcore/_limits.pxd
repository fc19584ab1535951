# The limits one loop enforces, as C values: filled once from a
# fastcore.limits.Limits (read_limits, in _loop.pyx), where each is defined
# with its default, the status it triggers and what other servers use.

cdef struct limits_t:
    Py_ssize_t max_request_line
    Py_ssize_t max_header_field
    Py_ssize_t max_header_bytes
    Py_ssize_t max_header_count
    Py_ssize_t max_body
    Py_ssize_t write_high_water
    Py_ssize_t max_connections
    Py_ssize_t file_cache_size
    Py_ssize_t threads
    Py_ssize_t max_pending
    double header_timeout
    double body_timeout
    double keepalive_timeout
    double write_timeout
    double linger_timeout
