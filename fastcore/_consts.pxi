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
    # Listening sockets one loop serves (one per --bind).
    MAX_LISTENERS = 64
    # The shared board of a master and its workers: a header, then slots.
    BOARD_HEADER = 16
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
    # Room for what write_tail adds: Server, Date, Content-Length or
    # Transfer-Encoding, Connection and the blank line.
    TAIL_MAX = 160
    # Chunks a streamed body may produce per wake-up of its connection
    # before the loop serves the others (fairness; it goes on at once if the
    # socket is still writable).
    STREAM_BUDGET = 64
    # Pipelined requests of one connection that may be in the handler pool
    # at once (answered in order however they finish).
    MAX_CONN_JOBS = 16

# epoll data of the loop's own descriptors; a connection's is its address,
# never this small.
cdef enum:
    EV_WAKE = 1
    EV_LISTENER = 2     # + the listener's index, up to MAX_LISTENERS

# A connection's lifecycle (Conn.state). Where its read side is within a
# request is the Reader's phase; this is what the connection as a whole does.
cdef enum:
    C_OPEN = 0          # reading requests and answering them
    C_CLOSING = 1       # nothing more is read: answer what was parsed, then close
    C_LINGER_NEXT = 2   # as C_CLOSING, but input may still be arriving:
                        # shut down the write side and drain it before closing
    C_LINGERING = 3     # output sent, write side shut: reading and dropping input
    C_CLOSED = 4

# What a Reader is parsing (Reader.phase).
cdef enum:
    R_IDLE = 0          # between requests (the keep-alive timeout runs)
    R_HEAD = 1          # a request has begun; its header block is not complete
    R_BODY = 2          # the header block is complete; the body is not
    R_PROBE = 3         # collecting a refused method to tell 501 from 400
    R_DONE = 4          # parses nothing more (a closing request, or an error)

# What Output.send reports.
cdef enum:
    OUT_DONE = 0        # everything was sent
    OUT_BLOCKED = 1     # the socket is full; the rest waits for EPOLLOUT
    OUT_GONE = 2        # the client is gone (EPIPE, ECONNRESET, ...)
    OUT_SHRANK = 3      # a file shrank while being sent (Output.shrunk)

# What a Job answers with, once done (Job.kind).
cdef enum:
    JOB_HANDLER = 0     # a handler's result (or exception), run on the pool or inline
    JOB_FILE = 1        # a static target the loop resolved itself
    JOB_CONTINUE = 2    # a 100 Continue
    JOB_REFUSAL = 3     # the engine's own error status (Job.status), closing
    JOB_BUSY = 4        # 503: no handler thread free and the pending queue full

# How a streamed body is delimited (StreamBody.framing).
cdef enum:
    FRAME_CHUNKED = 0   # Transfer-Encoding: chunked (HTTP/1.1)
    FRAME_LENGTH = 1    # a Content-Length the handler declared
    FRAME_CLOSE = 2     # the connection's close (HTTP/1.0)

# What StreamBody.pump did.
cdef enum:
    PUMP_MORE = 0       # a chunk is in the output (or was empty): pump again
    PUMP_WAIT = 1       # an EventStream has nothing queued: wait to be woken
    PUMP_END = 2        # the body is complete
    PUMP_SHORT = 3      # it ended before its declared length
    PUMP_LONG = 4       # it went past its declared length (cut there)
    PUMP_BEHIND = 5     # an EventStream's client fell too far behind

# The errno policy of a non-blocking call that failed (io_outcome).
cdef enum:
    IO_RETRY = 0        # EINTR: try again now
    IO_AGAIN = 1        # EAGAIN: wait for readiness
    IO_FAILED = 2       # anything else

# Per-request facts gathered from the header block (Reader.msg_flags).
cdef enum:
    F_HOST = 1
    F_EXPECT_CONTINUE = 2
    F_CONNECTION = 4          # a Connection field was present
    F_CONTENT_TYPE = 8
    F_TRANSFER_ENCODING = 16
    F_UPGRADE = 32
    F_HEAD_DONE = 64          # header block complete: further fields are trailers
    F_EXPECT_OTHER = 128      # an Expect field other than 100-continue
