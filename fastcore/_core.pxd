# Declarations of the one compilation unit, _core.pyx: each part's fields
# and cdef signatures live in its own .pxd, included here in dependency order.

from posix.types cimport off_t

from fastcore.includes.syscalls cimport (
    epoll_event, sockaddr_storage, socklen_t, time_t, iovec)

include "_consts.pxi"
include "_limits.pxd"

cdef class Loop
cdef class Conn
cdef class Acceptor
cdef class Reader

include "_files.pxd"
include "_request.pxd"
include "_output.pxd"
include "_stream.pxd"
include "_access.pxd"
include "_health.pxd"
include "_pool.pxd"
include "_dispatch.pxd"
include "_request_line.pxd"
include "_reader.pxd"
include "_proxy_protocol.pxd"
include "_conn.pxd"
include "_accept.pxd"
include "_loop.pxd"
