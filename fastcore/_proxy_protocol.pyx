# The PROXY protocol header (see _proxy_protocol.pxd), parsed before the
# connection's first HTTP byte: the connection feeds its first reads here
# until the header is complete, then gives the rest of the read to its
# Reader. Each feed either needs more, fails (the connection closes), or
# says how many of its bytes the header took. The spec is HAProxy's
# doc/proxy-protocol.txt; section numbers below are its own.

cdef bytes PP_V1_SIG = b"PROXY "
cdef bytes PP_V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"      # section 2.2, 12 bytes

# The v2 TLV type the receiver acts on itself (section 2.2.7).
cdef enum:
    PP2_TYPE_CRC32C = 0x03


cdef inline uint32_t crc32c(const unsigned char* data, Py_ssize_t n) noexcept nogil:
    # CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit: it
    # runs once per connection, over a header of a few dozen bytes.
    cdef uint32_t crc = <uint32_t>0xFFFFFFFF
    cdef Py_ssize_t i
    cdef int bit
    for i in range(n):
        crc ^= data[i]
        for bit in range(8):
            crc = (crc >> 1) ^ (<uint32_t>0x82F63B78 & (<uint32_t>0 - (crc & 1)))
    return crc ^ <uint32_t>0xFFFFFFFF


cdef inline unsigned int be16(const char* data) noexcept nogil:
    return ((<const unsigned char*>data)[0] << 8) | (<const unsigned char*>data)[1]


cdef object ip_text(int family, const char* raw, unsigned int port):
    # (host, port) of a binary address, the host in inet_ntop's canonical form.
    cdef char text[INET6_ADDRSTRLEN + 1]
    inet_ntop(family, raw, text, sizeof(text))
    return (text.decode("ascii"), port)


cdef object v1_address(int family, bytes host, bytes port):
    # A v1 address and port, or None if either is not in its strict form:
    # an address inet_pton takes, a port of 1-5 digits without a leading
    # zero, at most 65535 (section 2.1).
    cdef unsigned char raw[16]
    cdef Py_ssize_t size = PyBytes_GET_SIZE(port)
    if inet_pton(family, PyBytes_AS_STRING(host), raw) != 1:
        return None
    if not 1 <= size <= 5 or not port.isdigit() or (size > 1 and port[0] == 48):
        return None
    if int(port) > 65535:
        return None
    return ip_text(family, <char*>raw, int(port))


cdef ProxyPreface expect_preface(Loop loop):
    # What a new connection of `loop` expects first: a PROXY header (due
    # within header_timeout of the accept), or None.
    if not loop.proxy_protocol:
        return None
    return ProxyPreface.__new__(ProxyPreface, loop.proxy_protocol,
                                loop.now + loop.limits.header_timeout)


@cython.final
cdef class ProxyPreface:

    def __cinit__(self, int mode, double deadline):
        self.mode = mode
        self.allowed = -1
        self.deadline = deadline

    cdef Py_ssize_t take(self, char** data, Py_ssize_t n, object peer,
                         object allowed_from) except -4:
        # One read of the connection, at *data with PP_ROOM bytes free in
        # front: PP_FAIL (close the connection) at the end of input or for
        # a bad or refused header; else the count of HTTP bytes after the
        # header, *data moved to them, and `done` once the header is over.
        cdef Py_ssize_t used
        if n == 0:
            return PP_FAIL
        if self.allowed < 0:
            self.allowed = host_of(peer) in allowed_from
        used = self.feed(data[0], n)
        if used == PP_MORE or used == PP_FAIL:
            return 0 if used == PP_MORE else PP_FAIL
        self.done = True
        if used == PP_PASS:
            # No header from a peer that may not send one: plain HTTP,
            # with the signature's prefix held back so far in front.
            data[0] -= self.length
            memcpy(data[0], self.buf, self.length)
            return n + self.length
        data[0] += used
        return n - used

    cdef Py_ssize_t feed(self, const char* data, Py_ssize_t n) except -4:
        cdef Py_ssize_t before = self.length
        cdef Py_ssize_t take = min(n, PP_MAX - before)
        cdef Py_ssize_t total
        cdef int kind
        memcpy(self.buf + before, data, take)
        self.length += take
        kind = self.signature()
        if kind < 0:
            if self.allowed:
                return PP_FAIL                   # a trusted proxy must send one
            self.length = before                 # buf[:before] goes to the Reader first
            return PP_PASS
        if kind == 0:
            return PP_MORE
        if not self.allowed or not (self.mode & kind):
            return PP_FAIL
        total = self.parse_v1() if kind == PP_V1 else self.parse_v2()
        if total == PP_MORE and self.length == PP_MAX:
            return PP_FAIL
        if total < 0:
            return total
        return total - before

    cdef int signature(self):
        # PP_V1 or PP_V2 once the buffer starts with a whole signature, 0
        # while it is a prefix of one, -1 when it is neither.
        cdef Py_ssize_t k = min(self.length, 12)
        if memcmp(self.buf, PyBytes_AS_STRING(PP_V2_SIG), k) == 0:
            return PP_V2 if k == 12 else 0
        k = min(self.length, 6)
        if memcmp(self.buf, PyBytes_AS_STRING(PP_V1_SIG), k) == 0:
            return PP_V1 if k == 6 else 0
        return -1

    cdef Py_ssize_t parse_v1(self) except -3:
        # "PROXY TCP4 SRC DST SPORT DPORT\r\n", TCP6 alike, or "PROXY
        # UNKNOWN" and anything up to the CRLF, which is then ignored.
        cdef Py_ssize_t limit = min(self.length, PP_V1_MAX)
        cdef const char* lf = <const char*>memchr(self.buf, b"\n", limit)
        cdef Py_ssize_t end
        cdef list parts
        cdef int family
        if lf is NULL:
            return PP_FAIL if limit == PP_V1_MAX else PP_MORE
        end = lf - self.buf
        if self.buf[end - 1] != b"\r":
            return PP_FAIL
        parts = PyBytes_FromStringAndSize(self.buf + 6, end - 7).split(b" ")
        if parts[0] == b"UNKNOWN":
            return end + 1                       # the connection's own addresses stand
        if len(parts) != 5 or parts[0] not in (b"TCP4", b"TCP6"):
            return PP_FAIL
        family = AF_INET if parts[0] == b"TCP4" else AF_INET6
        self.source = v1_address(family, parts[1], parts[3])
        self.dest = v1_address(family, parts[2], parts[4])
        if self.source is None or self.dest is None:
            return PP_FAIL
        return end + 1

    cdef Py_ssize_t parse_v2(self) except -3:
        # Section 2.2: signature, version and command, family and
        # transport, the length of what follows, the addresses, then TLVs.
        cdef const unsigned char* b = <const unsigned char*>self.buf
        cdef Py_ssize_t total, addresses
        cdef int family
        if self.length < 16:
            return PP_MORE
        total = 16 + be16(self.buf + 14)
        if b[12] >> 4 != 2 or (b[12] & 0x0F) > 1 or b[13] >> 4 > 3 or (b[13] & 0x0F) > 2:
            return PP_FAIL                       # version 2; LOCAL or PROXY; known families
        if total > PP_MAX:
            return PP_FAIL
        if self.length < total:
            return PP_MORE
        if b[12] & 0x0F == 0:
            # LOCAL (a health check of the balancer's own): the real
            # endpoints stand, and what follows is skipped.
            return total
        family = b[13] >> 4
        addresses = (0, 12, 36, 216)[family]
        if total - 16 < addresses:
            return PP_FAIL
        if family == 1:
            self.source = ip_text(AF_INET, self.buf + 16, be16(self.buf + 24))
            self.dest = ip_text(AF_INET, self.buf + 20, be16(self.buf + 26))
        elif family == 2:
            self.source = ip_text(AF_INET6, self.buf + 16, be16(self.buf + 48))
            self.dest = ip_text(AF_INET6, self.buf + 32, be16(self.buf + 50))
        # UNSPEC and UNIX: no IP address to take; the real endpoints stand.
        if family != 0 and not self.read_tlvs(16 + addresses, total):
            return PP_FAIL
        return total

    cdef bint read_tlvs(self, Py_ssize_t start, Py_ssize_t end) except -1:
        # Type, 2-byte length, value, back to back up to the end exactly
        # (section 2.2). A CRC32C TLV is checked against the whole header
        # with its own value zeroed (2.2.7); the others (NOOP padding, ALPN,
        # authority, TLS facts) are skipped: nothing here uses them yet.
        cdef Py_ssize_t pos = start, size
        cdef int kind
        cdef char saved[4]
        cdef uint32_t expected, actual
        while pos < end:
            if end - pos < 3:
                return False
            kind = <unsigned char>self.buf[pos]
            size = be16(self.buf + pos + 1)
            if pos + 3 + size > end:
                return False
            if kind == PP2_TYPE_CRC32C:
                if size != 4:
                    return False
                memcpy(saved, self.buf + pos + 3, 4)
                memset(self.buf + pos + 3, 0, 4)
                actual = crc32c(<const unsigned char*>self.buf, end)
                memcpy(self.buf + pos + 3, saved, 4)
                expected = (be16(saved) << 16) | be16(saved + 2)
                if actual != expected:
                    return False
            pos += 3 + size
        return True
