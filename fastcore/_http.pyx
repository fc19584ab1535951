# Small pieces of HTTP/1.1 wire format that the hot path needs in C: the
# Date line, decimal lengths, Content-Length values, method tokens and peer
# addresses.

cdef const char* SERVER_LINE = "Server: fastcore\r\n"
cdef enum:
    SERVER_LINE_LEN = 18

cdef const char* WEEKDAYS = "SunMonTueWedThuFriSat"
cdef const char* MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec"


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


cdef inline bint is_tchar(unsigned char c) noexcept nogil:
    # RFC 9110 section 5.6.2: token characters.
    if c >= b"a" and c <= b"z" or c >= b"A" and c <= b"Z" or c >= b"0" and c <= b"9":
        return True
    return memchr(b"!#$%&'*+-.^_`|~", c, 15) is not NULL and c != 0


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
