"""The sub-commands of the `archsim` CLI, one module each."""

from __future__ import annotations

import click

ALL: list[click.Command] = []

from archsim.commands.presets import presets  # noqa: E402

ALL.append(presets)

from archsim.commands.asm import asm  # noqa: E402
from archsim.commands.run import run  # noqa: E402
from archsim.commands.step import step  # noqa: E402

ALL += [asm, run, step]

from archsim.commands.sweep import sweep, sweep_results  # noqa: E402

ALL += [sweep, sweep_results]

from archsim.commands.compare import compare  # noqa: E402
from archsim.commands.report import report  # noqa: E402

ALL += [compare, report]

from archsim.commands.compile import compile_command  # noqa: E402

ALL.append(compile_command)
