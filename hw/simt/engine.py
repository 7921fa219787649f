"""The GPU: SMs of sub-cores, the CTA scheduler, barriers and the memory system, on simpy.

CTAs are placed breadth-first over the simulated SMs up to the occupancy limit; when one
finishes its SM takes the next CTA of the queue. Warp ``i`` of a CTA goes to sub-core
``(warps launched on this SM so far + i) % subcores``, so resident warps spread evenly.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Generator, Mapping, Sequence

import numpy as np
import simpy

from hw.errors import SimulationError
from hw.simt.config import GpuConfig
from hw.simt.decode import UNITS, Op
from hw.simt.functional import ExecContext
from hw.simt.lanes import Lanes, ShadowLanes
from hw.simt.memory import MemorySystem
from hw.simt.occupancy import Occupancy
from hw.simt.subcore import Cta, Sm, SubCore, Warp
from hw.stats import TimelineEvent
from isa.simt import LANES, Kernel


class Gpu:
    """One simulation: ``sms`` SMs running the CTAs ``cta_ids`` of ``kernel``. A sample of the
    chip either owns ``share`` of L2 and DRAM, or (``shadow_ids``: CTA -> the CTAs it stands
    for) presents its shadows' traffic to the whole L2 and DRAM."""

    def __init__(self, cfg: GpuConfig, kernel: Kernel, ops: Sequence[Op], occ: Occupancy, *,
                 sms: int, share: float, cta_ids: Sequence[int], gmem: np.ndarray, data: bool,
                 trace: bool, max_events: int,
                 shadow_ids: Mapping[int, Sequence[int]] | None = None) -> None:
        self.env = simpy.Environment()
        self.cfg, self.kernel, self.ops, self.occ = cfg, kernel, tuple(ops), occ
        self.gmem, self.data, self.trace, self.max_events = gmem, data, trace, max_events
        shared = occ.shared_per_sm_bytes(cfg, kernel.program.shared_bytes)
        self.shadow_ids = shadow_ids or {}
        self.shadows = max((len(ids) for ids in self.shadow_ids.values()), default=0)
        self.memory = MemorySystem(cfg, sms, shared, share, shadow_l1s=sms * self.shadows)
        self.sms = [Sm(self, sm) for sm in range(sms)]
        self.subcores = [sm.subcores for sm in self.sms]
        self.queue = deque(cta_ids)
        self.simulated = tuple(cta_ids)
        self.total = len(cta_ids)
        self.finished = 0
        self.finish = 0
        self.instruction_counts: Counter[str] = Counter()
        self.events: list[TimelineEvent] = []
        self.events_dropped = 0
        self.warps_launched = [0] * sms
        self.resident_warps = [0] * sms
        self.last_change = [0] * sms
        self.warp_cycles = 0  # integral of resident warps over time, summed over SMs
        self.age = 0
        self.ctas: list[Cta] = []
        self.all_done = self.env.event()
        for _ in range(occ.ctas_per_sm):
            for sm in range(sms):
                if self.queue:
                    self.launch(sm, 0)

    # ---------------------------------------------------------------- CTAs and warps

    def _resident(self, sm: int, now: int, delta: int) -> None:
        now = max(now, self.last_change[sm])  # retire times may lie a little ahead
        self.warp_cycles += self.resident_warps[sm] * (now - self.last_change[sm])
        self.last_change[sm] = now
        self.resident_warps[sm] += delta

    def launch(self, sm: int, now: int) -> None:
        """Place the next queued CTA on ``sm`` with its warps ready at ``now``."""
        cta_id = self.queue.popleft()
        launch, program = self.kernel.launch, self.kernel.program
        gx, gy, _ = launch.grid
        ctaid = (cta_id % gx, (cta_id // gx) % gy, cta_id // (gx * gy))
        shared = np.zeros(max(16, -(-program.shared_bytes // 16) * 16), dtype=np.uint8)
        ctx = ExecContext(self.gmem, shared, launch.params, launch.block, launch.grid, ctaid,
                          self.data)
        cta = Cta(cta_id, sm, ctx, now)
        warps, threads = launch.warps_per_cta, launch.threads_per_cta
        regs = np.zeros((warps, program.regs, LANES), dtype=np.uint32)
        preds = np.zeros((warps, 8, LANES), dtype=bool)
        bx, by, _ = launch.block
        subcores = self.subcores[sm]
        for index in range(warps):
            t = np.arange(index * LANES, (index + 1) * LANES)
            tid = np.stack([t % bx, (t // bx) % by, t // (bx * by)]).astype(np.uint32)
            lanes = Lanes(regs[index], preds[index], t < threads, tid)
            sub = subcores[self.warps_launched[sm] % len(subcores)]
            self.warps_launched[sm] += 1
            warp = Warp(lanes, cta, index, self.age, sub, program.regs, now)
            self.age += 1
            cta.warps.append(warp)
            sub.add(warp)
        shadows = self.shadow_ids.get(cta_id, ())
        if shadows:
            cta.shadow_ctx = ExecContext(
                self.gmem, shared, launch.params, launch.block, launch.grid,
                tuple(np.array([(s // d) % n for s in shadows], dtype=np.uint32)[:, None]
                      for d, n in ((1, gx), (gx, gy), (gx * gy, 1 << 31))),  # type: ignore[arg-type]
                False)
            shadow_regs = np.zeros((warps, program.regs, len(shadows), LANES), dtype=np.uint32)
            shadow_preds = np.zeros((warps, 8, len(shadows), LANES), dtype=bool)
            for warp in cta.warps:
                warp.shadow = ShadowLanes(shadow_regs[warp.index], shadow_preds[warp.index],
                                          warp.lanes.tid, warp.lanes)
        cta.live = warps
        self.ctas.append(cta)
        self._resident(sm, now, warps)

    def warp_done(self, warp: Warp, now: int) -> None:
        cta = warp.cta
        cta.live -= 1
        self._resident(cta.sm, now, -1)
        self.barrier_check(cta, now)
        if cta.live == 0:
            self.finished += 1
            self.finish = max(self.finish, now)
            self.ctas.remove(cta)
            if self.queue:
                self.launch(cta.sm, now)
            elif self.finished == self.total and not self.all_done.triggered:
                self.all_done.succeed()

    def barrier_check(self, cta: Cta, now: int) -> None:
        """Release the CTA's barrier once every live warp has arrived."""
        if cta.arrived and len(cta.arrived) >= cta.live:
            for warp in cta.arrived:
                warp.at_barrier = False
                warp.next_issue = max(warp.next_issue, now + 1)
                warp.sub.refresh(warp)
                warp.sub.notify()
            cta.arrived = []

    def event(self, sub: SubCore, warp: Warp, op: Op, start: int, end: int) -> None:
        if len(self.events) >= self.max_events:
            self.events_dropped += 1
            return
        self.events.append(TimelineEvent(
            core=sub.sm, unit=f"sub{sub.index}", pipe=UNITS[op.unit].value,
            name=f"{op.name} c{warp.cta.cta_id}w{warp.index}", line=op.line, start=start,
            end=end,
        ))

    # ---------------------------------------------------------------- running

    def run(self, max_cycles: int) -> int:
        """Simulate to the end; the cycle the last CTA finished."""
        if self.total == 0:
            return 0

        def watchdog() -> Generator[simpy.Event, object, None]:
            yield self.env.timeout(max_cycles)
            if not self.all_done.triggered:
                self.all_done.succeed()

        self.env.process(watchdog())
        with np.errstate(all="ignore"):
            self.env.run(until=self.all_done)
        if self.finished < self.total:
            raise SimulationError(self._stuck(max_cycles))
        for sm in range(len(self.subcores)):
            self._resident(sm, self.finish, 0)
        return self.finish

    def _stuck(self, max_cycles: int) -> str:
        name = self.kernel.program.name
        for cta in self.ctas:
            waiting = [w for w in cta.warps if w.at_barrier]
            if waiting and len(waiting) < cta.live:
                others = [w for w in cta.warps if not w.at_barrier and not w.lanes.done]
                line = self.kernel.program.line(waiting[0].lanes.pc - 1)
                return (f"{name}: deadlock: CTA {cta.cta_id} warp {waiting[0].index} waits at "
                        f"bar.sync (line {line}) for warp {others[0].index}, which never "
                        f"arrives within {max_cycles} cycles")
        return f"{name}: did not finish within {max_cycles} cycles (SimOptions.max_cycles)"
