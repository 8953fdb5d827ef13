"""The `headstart` command line. Each module in this folder that defines `COMMAND` adds a subcommand:
`COMMAND = (name, help, add_arguments, run)`. Adding a command touches one module."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
import warnings
from typing import Sequence

from .. import __version__, threads
from ..errors import ConfigError, HeadstartError

EXIT_USER_ERROR = 2
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a tool killed by SIGPIPE (`... | head`)


def _commands() -> list[tuple]:
    modules = [importlib.import_module(f"{__name__}.{m.name}") for m in pkgutil.iter_modules(__path__)]
    return sorted((mod.COMMAND for mod in modules if hasattr(mod, "COMMAND")), key=lambda c: c[0])


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="headstart",
        description="Transfer learning from pre-trained language models for small labelled data sets.",
        epilog="Run `headstart COMMAND --help` for a command's options. Errors exit with code 2.")
    parser.add_argument("--version", action="version", version=f"headstart {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text, add_arguments, run in _commands():
        p = sub.add_parser(name, help=help_text, description=help_text,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        add_arguments(p, list(argv))
        p.set_defaults(_run=run)
    return parser


def _quiet_libraries() -> None:
    # Library chatter (load reports, advisory warnings) buries our own output; errors still surface.
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    for name in ("transformers", "sentence_transformers", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    plan = threads.apply()  # already done at `import headstart`; a no-op unless called some other way
    _quiet_libraries()
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        if plan.error:  # an unusable HEADSTART_THREADS
            raise ConfigError(plan.error)
        code = int(args._run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit where it would print a traceback
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except HeadstartError as exc:
        print(f"headstart {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"headstart {args.command}: interrupted; nothing partial was kept.", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """The reader of our output went away (`| head`): stop writing, as Unix tools do, without a traceback.

    Python's docs ("Note on SIGPIPE"): point stdout at devnull so the flush at exit does not fail again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (tests capture it)
        pass


def run() -> None:  # console-script entry
    sys.exit(main())
