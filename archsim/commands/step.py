"""`archsim step FILE --hw PRESET [--script "next 5; show L0C 0 16x16"]`."""

from __future__ import annotations

import sys

import click

from archsim.stepper import HELP, Stepper


@click.command()
@click.argument("program")
@click.option("--hw", default=None,
              help="Preset name or config file (TOML/YAML/JSON); default: the program's "
                   "'.note hw' line, else ascend910.")
@click.option("--script", default=None,
              help="Commands separated by ';' to run instead of reading the terminal.")
def step(program: str, hw: str | None, script: str | None) -> None:
    """Step through PROGRAM instruction by instruction (functional mode).

    Commands: next [N], run, queues, flags, show SPACE OFFSET RxC [DTYPE], time, help, quit.
    """
    stepper = Stepper(program, hw)
    if script is not None:
        for command in script.split(";"):
            if command.strip():
                click.echo(f"> {command.strip()}")
                click.echo(stepper.execute(command))
        return
    click.echo(f"{stepper.kernel.name} on {stepper.sim.cfg.name}. Commands:{HELP}\n")
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            click.echo("(archsim) ", nl=False)
        line = sys.stdin.readline()
        if not line or line.strip().lower() in ("quit", "exit", "q"):
            break
        click.echo(stepper.execute(line))
