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


cdef const char* VERSION_SHAPE = "HTTP/0.0\r\n"   # "0" stands for any digit


cdef int request_line_status(const char* data, Py_ssize_t n) noexcept nogil:
    # The status for a request whose method llhttp refused, judged on the
    # whole request line first (RFC 9112 section 3: method SP
    # request-target SP HTTP-version CRLF): 400 for a malformed line, such
    # as one without a version ("HELLO THERE"); 501 for a well-formed line
    # whose method this server does not know (RFC 9110 section 9.1); 0
    # while what has arrived could still become either.
    cdef Py_ssize_t i = 0, start, k
    cdef unsigned char c, shape
    while i < n and (data[i] == b"\r" or data[i] == b"\n"):
        i += 1                      # empty lines before a request (RFC 9112 2.2)
    start = i
    while i < n and is_tchar(<unsigned char>data[i]):
        i += 1
    if i == n:
        return 0
    if i == start or data[i] != b" ":
        return 400
    i += 1
    start = i
    while i < n and 0x21 <= <unsigned char>data[i] <= 0x7e:
        i += 1
    if i == n:
        return 0
    if i == start or data[i] != b" ":
        return 400
    i += 1
    for k in range(10):
        if i + k == n:
            return 0
        c = <unsigned char>data[i + k]
        shape = <unsigned char>VERSION_SHAPE[k]
        if shape == b"0":
            if c < b"0" or c > b"9":
                return 400
        elif c != shape:
            return 400
    return 501


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


cdef object local_address(int fd):
    # The address a connection's client connected to (getsockname(2)).
    cdef sockaddr_storage addr
    cdef socklen_t addrlen = sizeof(addr)
    if getsockname(fd, <sockaddr*>&addr, &addrlen) == 0:
        return sockaddr_to_tuple(&addr)
    return None


cdef inline object host_of(object client):
    # The host of a (host, port) address; None for a Unix-socket peer.
    return None if client is None else client[0]


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


# RFC 3986 section 3.2.2: the characters of a reg-name other than
# pct-encoded, from the one definition in fastcore._syntax.
cdef bint REG_NAME[256]
memset(REG_NAME, 0, sizeof(REG_NAME))
for _c in REG_NAME_CHARS.encode("ascii"):
    REG_NAME[_c] = True


cdef inline bint is_hex(unsigned char c) noexcept nogil:
    return (b"0" <= c <= b"9") or (b"a" <= c <= b"f") or (b"A" <= c <= b"F")


cdef Py_ssize_t ip_literal_end(const char* v, Py_ssize_t n) noexcept nogil:
    # The offset after an IP-literal at the start of v ("[" IPv6address "]"
    # or "[" IPvFuture "]", RFC 3986 section 3.2.2), or -1 if there is none.
    cdef const char* close = <const char*>memchr(v, b"]", n)
    cdef Py_ssize_t length, i
    cdef char text[INET6_ADDRSTRLEN + 1]
    cdef unsigned char address[16]
    if close is NULL:
        return -1
    length = close - v - 1
    if length >= 1 and (v[1] == b"v" or v[1] == b"V"):
        # IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
        i = 2
        while i <= length and is_hex(<unsigned char>v[i]):
            i += 1
        if i == 2 or i > length or v[i] != b".":
            return -1
        i += 1
        if i > length:
            return -1
        while i <= length:
            if not (REG_NAME[<unsigned char>v[i]] or v[i] == b":"):
                return -1
            i += 1
        return length + 2
    if length < 2 or length > INET6_ADDRSTRLEN - 1:
        return -1
    memcpy(text, v + 1, length)
    text[length] = 0
    if inet_pton(AF_INET6, text, address) != 1:
        return -1
    return length + 2


cdef bint host_is_valid(const char* v, Py_ssize_t n) noexcept nogil:
    # RFC 9112 section 3.2: Host = uri-host [ ":" port ]. The uri-host is an
    # IP-literal in brackets or a reg-name (an IPv4 address is one too) of
    # unreserved, sub-delims and pct-encoded characters (RFC 3986 section
    # 3.2.2), whose dot-separated labels are not empty, as DNS labels are
    # not (RFC 1034 section 3.5; one trailing dot is the root, and a Host
    # with no name at all is allowed by section 3.2). The port is digits.
    # So a space, a tab, "/", "\\", "@" (userinfo) or ".." is refused.
    cdef Py_ssize_t i = 0, label = 0
    cdef unsigned char c
    if n and v[0] == b"[":
        i = ip_literal_end(v, n)
        if i < 0:
            return False
    else:
        while i < n:
            c = <unsigned char>v[i]
            if c == b":":
                break
            if c == b".":
                if label == 0:
                    return False            # a leading dot, or ".."
                label = 0
            elif c == b"%":
                if (i + 2 >= n or not is_hex(<unsigned char>v[i + 1])
                        or not is_hex(<unsigned char>v[i + 2])):
                    return False
                i += 2
                label += 1
            elif REG_NAME[c]:
                label += 1
            else:
                return False
            i += 1
    if i < n:
        if v[i] != b":":
            return False                    # "[::1]x"
        i += 1
        while i < n:
            if v[i] < b"0" or v[i] > b"9":
                return False
            i += 1
    return True


cdef int expect_fact(const char* v, Py_ssize_t n) noexcept nogil:
    # RFC 9110 section 10.1.1: Expect = #expectation, a list whose empty
    # members are ignored (section 5.6.1), so an empty field expects
    # nothing (nginx ignores it too). 100-continue is the one expectation
    # there is; any other member gets 417.
    cdef Py_ssize_t start = 0, end, i = 0
    cdef int fact = 0
    while i <= n:
        if i == n or v[i] == b",":
            end = i
            while start < end and (v[start] == b" " or v[start] == b"\t"):
                start += 1
            while end > start and (v[end - 1] == b" " or v[end - 1] == b"\t"):
                end -= 1
            if end > start:
                if name_is(v + start, end - start, "100-continue", 12):
                    fact |= F_EXPECT_CONTINUE
                else:
                    fact |= F_EXPECT_OTHER
            start = i + 1
        i += 1
    return fact


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
            # RFC 9112 section 3.2: a Host with an invalid value gets 400.
            if not host_is_valid(v, trimmed_length(v, vlen)):
                raise ProtocolError(400)
            return F_HOST
    elif nlen == 6:
        if name_is(n, nlen, "expect", 6):
            if name_is(v, trimmed_length(v, vlen), "100-continue", 12):
                return F_EXPECT_CONTINUE
            return expect_fact(v, vlen)
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
            if trimmed_length(v, vlen) != vlen:
                # Trailing OWS is not part of a value (RFC 9110 section
                # 5.5), but llhttp reads "chunked" and a tab as another
                # coding, which makes chunked not the final one: 400 (RFC
                # 9112 section 6.3, item 4). A framing field must not mean
                # one thing followed by a space and another followed by a
                # tab, so both are refused.
                raise ProtocolError(400)
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
