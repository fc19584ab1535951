# Small pieces of HTTP/1.1 wire format that the hot path needs in C: the
# Date line, decimal lengths, Content-Length values, method tokens and peer
# addresses; and the errno policy of every non-blocking call.

cdef const char* SERVER_LINE = "Server: fastcore\r\n"
cdef enum:
    SERVER_LINE_LEN = 18

cdef const char* WEEKDAYS = "SunMonTueWedThuFriSat"
cdef const char* MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec"

# The Date line every response carries, formatted once a second. One for the
# process: every loop refreshes it under the GIL, which serialises them.
cdef char DATE_LINE[40]
cdef time_t DATE_SECOND = -1


cdef inline void refresh_date() noexcept:
    cdef time_t second = time(NULL)
    global DATE_SECOND
    if second != DATE_SECOND:
        DATE_SECOND = second
        format_date_line(second, DATE_LINE)


cdef inline int io_outcome(int err) noexcept nogil:
    # What a failed non-blocking recv/send/sendmsg/sendfile/accept4 means.
    if err == EINTR:
        return IO_RETRY
    if err == EAGAIN:       # EWOULDBLOCK is the same value on Linux
        return IO_AGAIN
    return IO_FAILED


cdef inline void put2(char* p, int value) noexcept nogil:
    p[0] = <char>(48 + value // 10)
    p[1] = <char>(48 + value % 10)


cdef void format_date_line(time_t now, char* out) noexcept nogil:
    # "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n", the IMF-fixdate of RFC 9110
    # section 5.6.7, always DATE_LINE_LEN bytes. Formatted by hand: strftime
    # would follow the process locale.
    cdef long days = now // 86400
    cdef long secs = now % 86400
    cdef long year, month, day, era, doe, yoe, doy, mp
    cdef int weekday = <int>((days + 4) % 7)     # 1970-01-01 was a Thursday
    # Civil date from days since the epoch (Howard Hinnant's algorithm).
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    year = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    if month <= 2:
        year += 1
    memcpy(out, b"Date: ", 6)
    memcpy(out + 6, WEEKDAYS + 3 * weekday, 3)
    memcpy(out + 9, b", ", 2)
    put2(out + 11, <int>day)
    out[13] = b" "
    memcpy(out + 14, MONTHS + 3 * (month - 1), 3)
    out[17] = b" "
    put2(out + 18, <int>(year // 100))
    put2(out + 20, <int>(year % 100))
    out[22] = b" "
    put2(out + 23, <int>(secs // 3600))
    out[25] = b":"
    put2(out + 26, <int>(secs // 60 % 60))
    out[28] = b":"
    put2(out + 29, <int>(secs % 60))
    memcpy(out + 31, b" GMT\r\n", 6)


cdef Py_ssize_t format_size(Py_ssize_t value, char* out) noexcept nogil:
    # Decimal digits of a non-negative size; returns how many.
    cdef char tmp[24]
    cdef Py_ssize_t n = 0, i
    if value == 0:
        out[0] = b"0"
        return 1
    while value:
        tmp[n] = <char>(48 + value % 10)
        value //= 10
        n += 1
    for i in range(n):
        out[i] = tmp[n - 1 - i]
    return n


cdef Py_ssize_t parse_length(bytes value):
    # A Content-Length value that llhttp has accepted (digits only);
    # saturates instead of overflowing.
    cdef const char* p = PyBytes_AS_STRING(value)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(value)
    cdef Py_ssize_t result = 0
    cdef Py_ssize_t i
    for i in range(n):
        if p[i] < b"0" or p[i] > b"9":
            continue
        if result > (PY_SSIZE_T_MAX - 9) // 10:
            return PY_SSIZE_T_MAX
        result = result * 10 + (p[i] - 48)
    return result


# RFC 9110 section 5.6.2, from the one definition in fastcore._syntax.
cdef bint TCHAR[256]
memset(TCHAR, 0, sizeof(TCHAR))
for _c in TCHARS.encode("ascii"):
    TCHAR[_c] = True


cdef inline bint is_tchar(unsigned char c) noexcept nogil:
    return TCHAR[c]


cdef int method_error_status(const char* data, Py_ssize_t n) noexcept nogil:
    # The status for a request whose method llhttp refused: 501 when it is
    # a well-formed token followed by a space (a method this server does not
    # know), 400 when it is not, 0 while all that has arrived is a token.
    cdef Py_ssize_t i = 0, start
    while i < n and (data[i] == b"\r" or data[i] == b"\n"):
        i += 1
    start = i
    while i < n and is_tchar(<unsigned char>data[i]):
        i += 1
    if i == n:
        return 0
    if i > start and data[i] == b" ":
        return 501
    return 400


cdef inline Py_ssize_t trimmed_length(const char* value, Py_ssize_t n) noexcept nogil:
    # A field value without trailing whitespace (RFC 9110 section 5.5:
    # OWS around a value is not part of it; llhttp strips only the leading).
    while n and (value[n - 1] == b" " or value[n - 1] == b"\t"):
        n -= 1
    return n


cdef object sockaddr_to_tuple(sockaddr_storage* addr):
    cdef char text[INET6_ADDRSTRLEN + 1]
    cdef sockaddr_in* v4
    cdef sockaddr_in6* v6
    if addr.ss_family == AF_INET:
        v4 = <sockaddr_in*>addr
        inet_ntop(AF_INET, &v4.sin_addr, text, sizeof(text))
        return (text.decode("ascii"), ntohs(v4.sin_port))
    if addr.ss_family == AF_INET6:
        v6 = <sockaddr_in6*>addr
        inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof(text))
        return (text.decode("ascii"), ntohs(v6.sin6_port))
    return None


cdef inline bint name_is(const char* name, Py_ssize_t length,
                         const char* lower, Py_ssize_t lower_length) noexcept nogil:
    # A field name (or value) equal to `lower`, ignoring ASCII case.
    return length == lower_length and strncasecmp(name, lower, length) == 0


cdef inline bint is_head_method(bytes method):
    return PyBytes_GET_SIZE(method) == 4 and PyBytes_AS_STRING(method)[0] == b"H"


# Fields that must never arrive as trailers (RFC 9110 section 6.5.1): they
# frame, route or authorise the request and belong in the header block.
cdef frozenset FORBIDDEN_TRAILERS = frozenset((
    b"host", b"content-length", b"transfer-encoding", b"content-type",
    b"content-encoding", b"content-range", b"connection", b"upgrade",
    b"expect", b"authorization", b"cookie", b"trailer", b"te"))


cdef int field_fact(const char* n, Py_ssize_t nlen, bytes value,
                    Py_ssize_t max_body) except -1:
    # What a field of the header block tells the server itself (an F_*
    # flag, 0 for most fields), told apart by the name's length first so
    # that most fields cost one comparison. Raises ProtocolError for a value
    # that is refused whatever else the request says.
    cdef const char* v = PyBytes_AS_STRING(value)
    cdef Py_ssize_t vlen = PyBytes_GET_SIZE(value)
    if nlen == 4:
        if name_is(n, nlen, "host", 4):
            return F_HOST
    elif nlen == 6:
        if name_is(n, nlen, "expect", 6):
            if name_is(v, trimmed_length(v, vlen), "100-continue", 12):
                return F_EXPECT_CONTINUE
            return F_EXPECT_OTHER
    elif nlen == 7:
        if name_is(n, nlen, "upgrade", 7):
            return F_UPGRADE
    elif nlen == 10:
        if name_is(n, nlen, "connection", 10):
            return F_CONNECTION
    elif nlen == 12:
        if name_is(n, nlen, "content-type", 12):
            return F_CONTENT_TYPE
    elif nlen == 14:
        # llhttp has already refused a malformed or repeated value, so this
        # is digits only; refuse an oversized body before reading it.
        if name_is(n, nlen, "content-length", 14):
            if parse_length(value) > max_body:
                raise ProtocolError(413)
    elif nlen == 17:
        if name_is(n, nlen, "transfer-encoding", 17):
            # chunked is the only coding fastcore decodes; passing a gzip'd
            # body on as if plain would be wrong (RFC 9112 section 6.1: a
            # coding not understood gets 501).
            if not name_is(v, trimmed_length(v, vlen), "chunked", 7):
                for coding in value.split(b","):
                    if coding.strip(b" \t").lower() != b"chunked":
                        raise ProtocolError(501)
            return F_TRANSFER_ENCODING
    return 0


cdef Py_ssize_t format_hex(Py_ssize_t value, char* out) noexcept nogil:
    # Lower-case hex digits of a positive size (a chunk-size); returns how
    # many.
    cdef char tmp[24]
    cdef Py_ssize_t n = 0, i
    while value:
        tmp[n] = b"0123456789abcdef"[value & 15]
        value >>= 4
        n += 1
    for i in range(n):
        out[i] = tmp[n - 1 - i]
    return n
