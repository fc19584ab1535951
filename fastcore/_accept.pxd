# A worker's slot of its master's shared board (fastcore/supervisor.py
# reads and clears it: keep the two layouts the same). The board starts
# with BOARD_HEADER bytes holding the number of slots in use (int64).
ctypedef struct board_slot:
    double beat                       # CLOCK_MONOTONIC at the loop's last tick
    int conns                         # its open connections
    int waiting                       # in epoll_wait, serving (not draining)
    int pid                           # the worker's
    int kick                          # set by another worker: look at the backlog


cdef class Acceptor:
    # The listening sockets of one loop and taking connections from them:
    # accept4 in batches, pausing when out of descriptors or connection
    # slots, closing them when the drain begins. A worker may listen on
    # several (one per --bind); with `exclusive` they are shared with other
    # workers' loops and registered with EPOLLEXCLUSIVE.
    cdef:
        Loop loop
        list fds                      # the listening descriptors, owned
        bint exclusive                # shared with other processes' loops
        readonly bint accepting       # fds are in the loop's epoll set
        bint standing_aside           # out of it: other workers are less busy
        double resume_at              # when to retry accept after EMFILE
        double warned                 # when that was last logged

    cdef int ready(self, Py_ssize_t index, bint everything=*) except -1
    cdef int rebalance(self) except -1
    cdef int requeue_all(self) except -1
    cdef int requeue(self, Py_ssize_t index) except -1
    cdef int ready_all(self) except -1
    cdef int pause(self, double retry_at) except -1
    cdef int resume(self) except -1
    cdef int close(self) except -1
