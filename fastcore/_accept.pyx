# Accepting: the listening descriptors of one loop. Their epoll data is
# EV_LISTENER + their index (a connection's is its address, never that
# small). Shared by several worker processes (the default with workers),
# each descriptor is registered with EPOLLEXCLUSIVE, so that a connection
# wakes one worker instead of all of them (epoll_ctl(2), Linux 4.5), and a
# worker takes one connection per wake-up, not the whole backlog, then
# registers the socket again: that moves its loop to the end of the
# socket's queue of exclusive waiters, which the kernel wakes from the
# front, so that the next connection goes to the next idle worker (without
# it, the first worker to register takes most of a burst). And before
# each epoll_wait a worker that holds clearly more connections than the
# least busy of the others (their slots of the master's board) takes its
# sockets out of its epoll set until that is no longer so: on a machine
# with fewer cores than workers, the worker that is running would
# otherwise take every connection before the others get a CPU. The least
# busy worker always stays registered. A worker stepping aside may have
# taken the kernel's wake-up for connections still in the backlog: it
# kicks the least busy worker (a flag in its slot and SIGURG, which
# interrupts its epoll_wait), which registers its sockets again, and the
# registration finds them readable.

BOARD_SLOT_SIZE = sizeof(board_slot)     # for fastcore.supervisor to check its layout

# Seconds: a worker that is neither waiting for connections nor has ticked
# this recently is busy (a long handler) and does not count as the least
# busy; nor does a slot not updated for STALE_SLOT (a worker stopped or
# killed, not reaped yet: an idle loop ticks at least once a second).
cdef double BUSY_AFTER = 0.05
cdef double STALE_SLOT = 2.5


@cython.final
cdef class Acceptor:

    def __cinit__(self, Loop loop, list fds, bint exclusive):
        if len(fds) > MAX_LISTENERS:
            raise ValueError(f"at most {MAX_LISTENERS} listening sockets")
        self.loop = loop
        self.fds = fds
        self.exclusive = exclusive
        self.resume_at = INFINITY
        self.warned = -INFINITY

    def __dealloc__(self):
        for fd in self.fds or ():
            close(<int>fd)

    cdef int ready(self, Py_ssize_t index, bint everything=False) except -1:
        # Accept up to ACCEPT_BATCH connections from one listener (one when
        # shared), or with
        # `everything` the whole backlog regardless of the cap (when
        # stopping: those clients connected before the listener closed).
        cdef Loop loop = self.loop
        cdef sockaddr_storage addr
        cdef socklen_t addrlen
        cdef int fd, err, outcome, accepted = 0
        cdef int listen_fd
        if index >= len(self.fds):
            return 0                    # closed earlier in this batch of events
        listen_fd = <int>self.fds[index]
        while everything or accepted < ACCEPT_BATCH:
            if loop.n_conns >= loop.limits.max_connections and not everything:
                # Leave the rest in the backlog until a connection closes.
                return self.pause(INFINITY)
            addrlen = sizeof(addr)
            fd = accept4(listen_fd, <sockaddr*>&addr, &addrlen,
                         SOCK_NONBLOCK | SOCK_CLOEXEC)
            if fd < 0:
                err = errno
                outcome = io_outcome(err)
                if outcome == IO_AGAIN:
                    return 0
                if outcome == IO_RETRY or err == ECONNABORTED or err == EPROTO:
                    continue
                # EMFILE, ENFILE, ENOBUFS, ENOMEM: out of descriptors or
                # memory. Stop listening instead of spinning on a socket
                # that stays readable; retry when a connection closes or
                # after a pause. Warn once a minute at most.
                if loop.now - self.warned >= 60.0:
                    self.warned = loop.now
                    loop.logger.warning(
                        "accept4 failed (%s); pausing accepts until a "
                        "descriptor frees", os_strerror(err))
                return self.pause(loop.now + 0.1)
            loop.add_conn(fd, &addr)
            accepted += 1
            if self.exclusive and not everything:
                return self.requeue(index)
        return 0

    cdef int rebalance(self) except -1:
        # Before epoll_wait, with shared sockets: stand aside while busier
        # than another worker by more than 1 + 1/8 of its connections.
        cdef Loop loop = self.loop
        cdef board_slot* slot
        cdef long long i, n = loop.n_slots[0]
        cdef int mine = <int>loop.n_conns
        cdef int least = mine
        cdef board_slot* idlest = NULL
        cdef double age
        for i in range(n):
            slot = &loop.slots[i]
            if slot == loop.me or slot.beat <= 0:
                continue
            age = loop.now - slot.beat
            if (slot.waiting and age < STALE_SLOT) or age < BUSY_AFTER:
                if slot.conns < least:
                    least = slot.conns
                    idlest = slot if slot.waiting else NULL
        if mine > least + 1 + least // 8:
            if self.accepting:
                self.pause(self.resume_at)
                self.standing_aside = True
                if idlest is not NULL and idlest.pid > 0:
                    idlest.kick = 1
                    kill(idlest.pid, SIGURG)
        elif self.standing_aside:
            self.standing_aside = False
            self.resume()
        return 0

    cdef int requeue_all(self) except -1:
        # Kicked by a worker that stepped aside: the least busy, it takes
        # its place.
        cdef Py_ssize_t index
        if self.standing_aside:
            self.standing_aside = False
            return self.resume()
        if self.accepting:
            for index in range(len(self.fds)):
                self.requeue(index)
        return 0

    cdef int requeue(self, Py_ssize_t index) except -1:
        # To the back of the queue of workers waiting on this socket.
        cdef epoll_event event
        cdef int fd = <int>self.fds[index]
        event.events = EPOLLIN | EPOLLEXCLUSIVE
        event.data.u64 = EV_LISTENER + index
        epoll_ctl(self.loop.epfd, EPOLL_CTL_DEL, fd, NULL)
        if epoll_ctl(self.loop.epfd, EPOLL_CTL_ADD, fd, &event) < 0:
            raise OSError(errno, "epoll_ctl")
        return 0

    cdef int ready_all(self) except -1:
        cdef Py_ssize_t index
        for index in range(len(self.fds)):
            self.ready(index, True)
        return 0

    cdef int pause(self, double retry_at) except -1:
        self.resume_at = retry_at
        if self.accepting:
            for fd in self.fds:
                epoll_ctl(self.loop.epfd, EPOLL_CTL_DEL, <int>fd, NULL)
            self.accepting = False
        return 0

    cdef int resume(self) except -1:
        cdef epoll_event event
        cdef Py_ssize_t index
        self.resume_at = INFINITY
        if self.accepting or self.standing_aside or not self.fds or self.loop.draining:
            return 0
        for index in range(len(self.fds)):
            # EPOLLEXCLUSIVE cannot be changed with EPOLL_CTL_MOD: a pause
            # deletes the registration and a resume adds it again.
            event.events = EPOLLIN | (EPOLLEXCLUSIVE if self.exclusive else 0)
            event.data.u64 = EV_LISTENER + index
            if epoll_ctl(self.loop.epfd, EPOLL_CTL_ADD, <int>self.fds[index], &event) < 0:
                raise OSError(errno, "epoll_ctl")
        self.accepting = True
        return 0

    cdef int close(self) except -1:
        # This process's descriptors only: other workers sharing the same
        # sockets go on accepting from them.
        self.pause(INFINITY)
        fds, self.fds = self.fds, []
        for fd in fds:
            close(<int>fd)
        return 0
