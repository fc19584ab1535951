# Sizes and states of the engine, as C constants.

cdef enum:
    # Bytes read per recv(2). One buffer serves the whole loop: httptools
    # copies every span it reports, so nothing points into it after a feed.
    READ_BUFFER_SIZE = 256 * 1024
    # epoll_wait(2) batch size.
    MAX_EVENTS = 512
    # Connections accepted per readiness event of the listening socket, so a
    # connection flood cannot starve the connections already open.
    ACCEPT_BATCH = 128
    # Response bodies up to this size are copied next to their headers and
    # leave in one send; larger ones are queued as they are and go out with
    # sendmsg(2) beside the headers, never copied.
    COPY_BODY_MAX = 16 * 1024
    # Bytes of a refused method collected to tell 501 from 400.
    MAX_METHOD_PROBE = 64
    # Most iovecs one sendmsg(2) takes (IOV_MAX on Linux).
    MAX_IOV = 1024
    # The Date header line is always this long: "Date: " + 29 + CRLF.
    DATE_LINE_LEN = 37
    # Room for what write_tail adds: Server, Date, Content-Length,
    # Connection and the blank line.
    TAIL_MAX = 128

# Connection states (Conn.state).
cdef enum:
    S_IDLE = 0      # between requests
    S_HEAD = 1      # a request has begun; its header block is not complete
    S_BODY = 2      # the header block is complete; the body is not
    S_LINGER = 3    # output sent and write side shut: draining input, then close
    S_CLOSED = 4

# Per-request facts gathered from the header block (Conn.msg_flags).
cdef enum:
    F_HOST = 1
    F_EXPECT_CONTINUE = 2
    F_CONNECTION = 4          # a Connection field was present
    F_CONTENT_TYPE = 8
    F_TRANSFER_ENCODING = 16
    F_UPGRADE = 32
    F_HEAD_DONE = 64          # header block complete: further fields are trailers
    F_EXPECT_OTHER = 128      # an Expect field other than 100-continue
    F_LINE_DONE = 256         # the request line has ended (an LF was read)
