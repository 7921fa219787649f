"""The sub-commands of the `archsim` CLI, one module each."""

from __future__ import annotations

import click

ALL: list[click.Command] = []

from archsim.commands.presets import presets  # noqa: E402

ALL.append(presets)
