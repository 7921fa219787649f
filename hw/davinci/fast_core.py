"""The numba core of the fast timing engine: `engine.py`'s processes as resumable state machines.

Every rule and every ordering decision of the simpy engine is replayed here, one to one, so the
cycle counts are identical (differential tests: tests/hw/test_fast_engine.py). The event queue
is simpy's: entries ordered by (time, priority, sequence number), process start-up URGENT and
everything else NORMAL, a sequence number drawn whenever simpy would create a timeout or trigger
an event. A process that would ``yield`` stores where it stopped (its state) and returns; the
event that resumes it calls it again.

Processes: per unit, ``proc = unit * 7 + k`` with k = 0 the issue process and k = the pipe's
number (``isa.davinci.Pipe``: V=1 .. FIX=6) for the pipe processes, created in that order.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from hw.cache import _access
from hw.davinci.decode import Kind
from hw.davinci.engine import CROSS_PENDING_LIMIT

# instruction fields (columns of ``ins``)
KIND, PIPE, CYCLES, HEAD, LATENCY, GM_BYTES, GM_WRITE, FLAG, LINE_START, LINE_STOP, TARGET = \
    range(11)
FIELDS = 11

# decode.Kind, as plain ints for numba
WORK, SET_FLAG, WAIT_FLAG, BARRIER, BARRIER_ALL, SCALAR, CROSS_SET, CROSS_WAIT = (
    int(Kind.WORK), int(Kind.SET_FLAG), int(Kind.WAIT_FLAG), int(Kind.BARRIER),
    int(Kind.BARRIER_ALL), int(Kind.SCALAR), int(Kind.CROSS_SET), int(Kind.CROSS_WAIT))

NPROC = 7  # per unit: issue + 6 pipes (Pipe.V .. Pipe.FIX)
URGENT, NORMAL = 0, 1
EV_RESUME, EV_SET_FLAG = 0, 1

# issue-process states
I_TOP, I_BAR_TIMED, I_DRAIN, I_BAR_DONE, I_CROSS, I_QFULL, I_FINISHED = range(7)
# pipe-process states
P_TOP, P_POP, P_FLAG_RESUMED, P_CROSS, P_BEGIN, P_END, P_FINISHED = range(7)

# unit fields (columns of ``us``)
U_STATE, U_INDEX, U_T, U_ISSUE_AT, U_DONE, U_END, U_STALL_PIPE, U_STALL_INDEX, \
    U_DRAIN_WAITING, U_CROSS_START = range(10)
UFIELDS = 10
# pipe fields (last axis of ``ps``)
P_STATE, P_RUNNING, P_INFLIGHT, P_LAST_WORK_END, P_PIPE_WAITING, P_SPACE_WAITING, P_QHEAD, \
    P_QLEN, P_START, P_BEGIN_AT, P_COST, P_LATENCY, P_INDEX = range(13)
PFIELDS = 13
# statistics (last axis of ``stats``), per unit and pipe (S = 0)
S_BUSY, S_FLAG_WAIT, S_QUEUE_FULL, S_COUNT = range(4)
# hbm bytes per unit: read, written, and whether any GM read / write happened (the key exists)
H_READ, H_WRITTEN, H_ANY_READ, H_ANY_WRITE = range(4)
# errors
E_NONE, E_FLAG_TWICE, E_NO_TARGET, E_CROSS_OVERFLOW = range(4)


@numba.njit(cache=True)
def _push(heap, size, seq, time, priority, kind, a, b):
    """Schedule an event; returns the new size. ``seq`` is a one-element counter."""
    i = size
    heap[i, 0] = time
    heap[i, 1] = priority
    heap[i, 2] = seq[0]
    heap[i, 3] = kind
    heap[i, 4] = a
    heap[i, 5] = b
    seq[0] += 1
    while i > 0:
        parent = (i - 1) >> 1
        if _before(heap, i, parent):
            _swap(heap, i, parent)
            i = parent
        else:
            break
    return size + 1


@numba.njit(cache=True, inline="always")
def _before(heap, i, j):
    if heap[i, 0] != heap[j, 0]:
        return heap[i, 0] < heap[j, 0]
    if heap[i, 1] != heap[j, 1]:
        return heap[i, 1] < heap[j, 1]
    return heap[i, 2] < heap[j, 2]


@numba.njit(cache=True, inline="always")
def _swap(heap, i, j):
    for c in range(6):
        heap[i, c], heap[j, c] = heap[j, c], heap[i, c]


@numba.njit(cache=True)
def _pop(heap, size, out):
    """Remove the first event into ``out``; returns the new size."""
    for c in range(6):
        out[c] = heap[0, c]
    size -= 1
    if size > 0:
        for c in range(6):
            heap[0, c] = heap[size, c]
        i = 0
        while True:
            left = 2 * i + 1
            if left >= size:
                break
            child = left
            if left + 1 < size and _before(heap, left + 1, left):
                child = left + 1
            if _before(heap, child, i):
                _swap(heap, i, child)
                i = child
            else:
                break
    return size


@numba.njit(cache=True)
def simulate(ins, unit_start, unit_stop, lines, depth, issue_cycles, l2_bpc, hbm_bpc,
             line_bytes, tags, stamps, clock, n_flags, n_cross):
    """Run every unit to the end. Returns (us, stats, hbm, blocked, err).

    ``ins``: int64 [instructions, FIELDS] of all units, unit u at rows
    unit_start[u]:unit_stop[u]; FLAG is a dense flag id (cross-core flags: the flag number),
    TARGET the unit index a cross-core set targets (-1: none). ``lines``: the L2 lines of the
    GM transfers (rows LINE_START:LINE_STOP). ``tags/stamps/clock``: the L2 (`hw.cache`).
    """
    n_units = unit_start.shape[0]
    us = np.zeros((n_units, UFIELDS), dtype=np.int64)
    ps = np.zeros((n_units, NPROC, PFIELDS), dtype=np.int64)
    queue = np.zeros((n_units, NPROC, depth, 2), dtype=np.int64)
    flags = np.zeros((n_units, n_flags), dtype=np.int64)
    flag_waiter = np.full((n_units, n_flags), -1, dtype=np.int64)
    cross = np.zeros((n_units, n_cross), dtype=np.int64)
    cross_waiter = np.full((n_units, n_cross), -1, dtype=np.int64)
    stats = np.zeros((n_units, NPROC, 4), dtype=np.int64)
    hbm = np.zeros((n_units, 4), dtype=np.int64)
    blocked = np.full((n_units, NPROC), -1, dtype=np.int64)
    err = np.zeros(3, dtype=np.int64)
    free = np.zeros(2)  # l2_free, hbm_free
    for u in range(n_units):
        us[u, U_INDEX] = unit_start[u]
        us[u, U_STALL_PIPE] = -1
        for k in range(NPROC):
            ps[u, k, P_LAST_WORK_END] = -1
    set_flags = 0
    for i in range(ins.shape[0]):
        if ins[i, KIND] == SET_FLAG:
            set_flags += 1
    heap = np.zeros((n_units * NPROC * 2 + set_flags + 16, 6), dtype=np.int64)
    seq = np.zeros(1, dtype=np.int64)
    event = np.zeros(6, dtype=np.int64)
    size = 0
    for u in range(n_units):
        for k in range(NPROC):
            size = _push(heap, size, seq, 0, URGENT, EV_RESUME, u * NPROC + k, 0)
    while size > 0:
        size = _pop(heap, size, event)
        now = event[0]
        if event[3] == EV_SET_FLAG:
            size = _set_flag(event[4], event[5], now, ins, flags, flag_waiter, heap, size,
                             seq, err)
        elif event[4] % NPROC == 0:
            size = _issue(event[4] // NPROC, now, ins, unit_start, unit_stop, us, ps, queue,
                          stats, cross, cross_waiter, blocked, depth, issue_cycles, heap, size,
                          seq)
        else:
            size = _pipe(event[4] // NPROC, event[4] % NPROC, now, ins, lines, us, ps, queue,
                         flags, flag_waiter, cross, cross_waiter, stats, hbm, blocked, free,
                         l2_bpc, hbm_bpc, line_bytes, tags, stamps, clock, heap, size, seq,
                         err)
        if err[0] != E_NONE:
            break
    return us, stats, hbm, blocked, err


@numba.njit(cache=True)
def _issue(u, now, ins, unit_start, unit_stop, us, ps, queue, stats, cross, cross_waiter,
           blocked, depth, issue_cycles, heap, size, seq):
    proc = u * NPROC
    while True:
        state = us[u, U_STATE]
        i = us[u, U_INDEX]
        if state == I_TOP:
            if i == unit_stop[u]:
                us[u, U_DONE] = 1
                last = us[u, U_T] - issue_cycles if unit_stop[u] > unit_start[u] else 0
                us[u, U_END] = max(us[u, U_END], last)
                for k in range(1, NPROC):
                    if ps[u, k, P_PIPE_WAITING] == 1:
                        ps[u, k, P_PIPE_WAITING] = 0
                        size = _push(heap, size, seq, now, NORMAL, EV_RESUME, proc + k, 0)
                us[u, U_STATE] = I_FINISHED
                return size
            issue_at = us[u, U_T]
            us[u, U_ISSUE_AT] = issue_at
            us[u, U_T] = issue_at + issue_cycles
            kind = ins[i, KIND]
            if kind == SCALAR:
                stats[u, 0, S_COUNT] += 1
                stats[u, 0, S_BUSY] += issue_cycles
                us[u, U_INDEX] = i + 1
                continue
            if kind == BARRIER_ALL or (kind == CROSS_WAIT and ins[i, PIPE] == 0):
                us[u, U_STATE] = I_BAR_TIMED
                if issue_at > now:
                    return _push(heap, size, seq, issue_at, NORMAL, EV_RESUME, proc, 0)
                continue
            pipe = ins[i, PIPE]
            if ps[u, pipe, P_QLEN] >= depth:
                us[u, U_STATE] = I_QFULL
                if issue_at > now:
                    return _push(heap, size, seq, issue_at, NORMAL, EV_RESUME, proc, 0)
                continue
            size = _enqueue(u, pipe, issue_at, i, ps, queue, depth, heap, size, seq, now)
            us[u, U_INDEX] = i + 1
        elif state == I_BAR_TIMED:
            if ins[i, KIND] == BARRIER_ALL:
                us[u, U_STATE] = I_DRAIN
            else:
                us[u, U_CROSS_START] = now
                us[u, U_STATE] = I_CROSS
        elif state == I_DRAIN:
            if not _drained(u, ps):
                us[u, U_DRAIN_WAITING] = 1
                return size
            landing = 0
            for k in range(1, NPROC):
                landing = max(landing, ps[u, k, P_INFLIGHT])
            us[u, U_STATE] = I_BAR_DONE
            if landing > now:
                return _push(heap, size, seq, landing, NORMAL, EV_RESUME, proc, 0)
        elif state == I_CROSS:
            flag = ins[i, FLAG]
            if cross[u, flag] == 0:
                blocked[u, 0] = i
                cross_waiter[u, flag] = proc
                return size
            blocked[u, 0] = -1
            cross[u, flag] -= 1
            stats[u, 0, S_FLAG_WAIT] += now - us[u, U_CROSS_START]
            us[u, U_STATE] = I_BAR_DONE
        elif state == I_BAR_DONE:
            stats[u, 0, S_COUNT] += 1
            stats[u, 0, S_BUSY] += issue_cycles
            us[u, U_T] = now + issue_cycles
            us[u, U_INDEX] = i + 1
            us[u, U_STATE] = I_TOP
        elif state == I_QFULL:
            pipe = ins[i, PIPE]
            if ps[u, pipe, P_QLEN] >= depth:
                us[u, U_STALL_PIPE] = pipe
                us[u, U_STALL_INDEX] = i
                ps[u, pipe, P_SPACE_WAITING] = 1
                return size
            us[u, U_STALL_PIPE] = -1
            issue_at = us[u, U_ISSUE_AT]
            if now > issue_at:
                stats[u, pipe, S_QUEUE_FULL] += now - issue_at
                issue_at = now
                us[u, U_T] = now + issue_cycles
            size = _enqueue(u, pipe, issue_at, i, ps, queue, depth, heap, size, seq, now)
            us[u, U_INDEX] = i + 1
            us[u, U_STATE] = I_TOP
        else:
            return size


@numba.njit(cache=True)
def _enqueue(u, pipe, issue_at, i, ps, queue, depth, heap, size, seq, now):
    slot = (ps[u, pipe, P_QHEAD] + ps[u, pipe, P_QLEN]) % depth
    queue[u, pipe, slot, 0] = issue_at
    queue[u, pipe, slot, 1] = i
    ps[u, pipe, P_QLEN] += 1
    if ps[u, pipe, P_PIPE_WAITING] == 1:
        ps[u, pipe, P_PIPE_WAITING] = 0
        size = _push(heap, size, seq, now, NORMAL, EV_RESUME, u * NPROC + pipe, 0)
    return size


@numba.njit(cache=True)
def _drained(u, ps):
    for k in range(1, NPROC):
        if ps[u, k, P_QLEN] > 0 or ps[u, k, P_RUNNING] == 1:
            return False
    return True


@numba.njit(cache=True)
def _pipe(u, pipe, now, ins, lines, us, ps, queue, flags, flag_waiter, cross, cross_waiter,
          stats, hbm, blocked, free, l2_bpc, hbm_bpc, line_bytes, tags, stamps, clock, heap,
          size, seq, err):
    proc = u * NPROC + pipe
    depth = queue.shape[2]
    while True:
        state = ps[u, pipe, P_STATE]
        if state == P_TOP:
            if ps[u, pipe, P_QLEN] == 0:
                if us[u, U_DONE] == 1:
                    ps[u, pipe, P_STATE] = P_FINISHED
                    return size
                ps[u, pipe, P_PIPE_WAITING] = 1
                return size
            head = ps[u, pipe, P_QHEAD]
            issue_at = queue[u, pipe, head, 0]
            ps[u, pipe, P_STATE] = P_POP
            if issue_at > now:
                return _push(heap, size, seq, issue_at, NORMAL, EV_RESUME, proc, 0)
        elif state == P_POP:
            head = ps[u, pipe, P_QHEAD]
            i = queue[u, pipe, head, 1]
            ps[u, pipe, P_QHEAD] = (head + 1) % depth
            ps[u, pipe, P_QLEN] -= 1
            ps[u, pipe, P_RUNNING] = 1
            ps[u, pipe, P_INDEX] = i
            if ps[u, pipe, P_SPACE_WAITING] == 1:
                ps[u, pipe, P_SPACE_WAITING] = 0
                size = _push(heap, size, seq, now, NORMAL, EV_RESUME, u * NPROC, 0)
            start = now
            ps[u, pipe, P_START] = start
            kind = ins[i, KIND]
            cost = ins[i, CYCLES]
            latency = 0
            ps[u, pipe, P_STATE] = P_BEGIN
            if kind == WORK:
                if ins[i, HEAD] != 0 and ps[u, pipe, P_LAST_WORK_END] < start:
                    cost += ins[i, HEAD]
                nbytes = ins[i, GM_BYTES]
                if nbytes != 0:
                    # ChipState.gm_transfer
                    misses = 0
                    if ins[i, LINE_STOP] > ins[i, LINE_START]:
                        misses = _access(lines[ins[i, LINE_START]:ins[i, LINE_STOP]], tags,
                                         stamps, clock)
                    write = ins[i, GM_WRITE] == 1
                    moved = nbytes if write else misses * line_bytes
                    begin = max(float(now), free[0])
                    done = begin + nbytes / l2_bpc
                    free[0] = done
                    if moved != 0:
                        begin = max(float(now), free[1])
                        free[1] = begin + moved / hbm_bpc
                        done = max(done, free[1])
                    cost = max(cost, np.int64(math.ceil(done - start)))
                    if write:
                        hbm[u, H_WRITTEN] += moved
                        hbm[u, H_ANY_WRITE] = 1
                    else:
                        hbm[u, H_READ] += moved
                        hbm[u, H_ANY_READ] = 1
                latency = ins[i, LATENCY]
            elif kind == SET_FLAG:
                pass
            elif (kind == BARRIER or kind == CROSS_SET) and ps[u, pipe, P_INFLIGHT] > start:
                ps[u, pipe, P_COST] = cost
                ps[u, pipe, P_LATENCY] = 0
                return _push(heap, size, seq, ps[u, pipe, P_INFLIGHT], NORMAL, EV_RESUME,
                             proc, 0)
            elif kind == WAIT_FLAG:
                ps[u, pipe, P_COST] = cost
                ps[u, pipe, P_LATENCY] = 0
                if flags[u, ins[i, FLAG]] == 0:
                    blocked[u, pipe] = i
                    flag_waiter[u, ins[i, FLAG]] = proc
                    ps[u, pipe, P_STATE] = P_FLAG_RESUMED
                    return size
                flags[u, ins[i, FLAG]] = 0
            elif kind == CROSS_WAIT:
                ps[u, pipe, P_COST] = cost
                ps[u, pipe, P_LATENCY] = 0
                ps[u, pipe, P_STATE] = P_CROSS
                continue
            elif kind == BARRIER:
                if ps[u, pipe, P_LAST_WORK_END] != start:
                    cost = 0
            ps[u, pipe, P_COST] = cost
            ps[u, pipe, P_LATENCY] = latency
        elif state == P_FLAG_RESUMED:
            i = ps[u, pipe, P_INDEX]
            blocked[u, pipe] = -1
            stats[u, pipe, S_FLAG_WAIT] += now - ps[u, pipe, P_START]
            flags[u, ins[i, FLAG]] = 0
            ps[u, pipe, P_STATE] = P_BEGIN
        elif state == P_CROSS:
            i = ps[u, pipe, P_INDEX]
            flag = ins[i, FLAG]
            if cross[u, flag] == 0:
                blocked[u, pipe] = i
                cross_waiter[u, flag] = proc
                return size
            blocked[u, pipe] = -1
            cross[u, flag] -= 1
            stats[u, pipe, S_FLAG_WAIT] += now - ps[u, pipe, P_START]
            ps[u, pipe, P_STATE] = P_BEGIN
        elif state == P_BEGIN:
            ps[u, pipe, P_BEGIN_AT] = now
            ps[u, pipe, P_STATE] = P_END
            if ps[u, pipe, P_COST] != 0:
                return _push(heap, size, seq, now + ps[u, pipe, P_COST], NORMAL, EV_RESUME,
                             proc, 0)
        elif state == P_END:
            i = ps[u, pipe, P_INDEX]
            kind = ins[i, KIND]
            end = now
            if kind == SET_FLAG:
                landing = ps[u, pipe, P_INFLIGHT]
                if landing > end:
                    size = _push(heap, size, seq, landing, NORMAL, EV_SET_FLAG, u, i)
                    us[u, U_END] = max(us[u, U_END], landing)
                else:
                    size = _set_flag(u, i, now, ins, flags, flag_waiter, heap, size, seq, err)
                    if err[0] != E_NONE:
                        return size
            elif kind == CROSS_SET:
                target = ins[i, TARGET]
                if target < 0:
                    err[0], err[1], err[2] = E_NO_TARGET, u, i
                    return size
                flag = ins[i, FLAG]
                cross[target, flag] += 1
                if cross[target, flag] > CROSS_PENDING_LIMIT:
                    err[0], err[1], err[2] = E_CROSS_OVERFLOW, u, i
                    return size
                if cross_waiter[target, flag] >= 0:
                    size = _push(heap, size, seq, now, NORMAL, EV_RESUME,
                                 cross_waiter[target, flag], 0)
                    cross_waiter[target, flag] = -1
            elif kind == WORK:
                ps[u, pipe, P_LAST_WORK_END] = end
                latency = ps[u, pipe, P_LATENCY]
                if latency != 0:
                    done = end + latency
                    ps[u, pipe, P_INFLIGHT] = max(ps[u, pipe, P_INFLIGHT], done)
                    us[u, U_END] = max(us[u, U_END], done)
            stats[u, pipe, S_BUSY] += end - ps[u, pipe, P_BEGIN_AT]
            stats[u, pipe, S_COUNT] += 1
            us[u, U_END] = max(us[u, U_END], end)
            ps[u, pipe, P_RUNNING] = 0
            if us[u, U_DRAIN_WAITING] == 1 and _drained(u, ps):
                us[u, U_DRAIN_WAITING] = 0
                size = _push(heap, size, seq, now, NORMAL, EV_RESUME, u * NPROC, 0)
            ps[u, pipe, P_STATE] = P_TOP
        else:
            return size


@numba.njit(cache=True)
def _set_flag(u, i, now, ins, flags, flag_waiter, heap, size, seq, err):
    flag = ins[i, FLAG]
    if flags[u, flag] == 1:
        err[0], err[1], err[2] = E_FLAG_TWICE, u, i
        return size
    flags[u, flag] = 1
    if flag_waiter[u, flag] >= 0:
        size = _push(heap, size, seq, now, NORMAL, EV_RESUME, flag_waiter[u, flag], 0)
        flag_waiter[u, flag] = -1
    return size
