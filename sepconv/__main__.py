"""Command line: ``python -m sepconv COMMAND``.

Commands are registered in :data:`COMMANDS`; each module provides
``add_arguments(parser)`` and ``run(args)``.
"""

import argparse
import importlib
import sys

# command name -> (module holding add_arguments/run, one-line help)
COMMANDS = {
    "demo": ("sepconv._cli.demo", "digits: separable-conv features vs raw pixels, test accuracy"),
    "info": ("sepconv._cli.info", "show version, dtypes, OpenMP, threads and BLAS"),
    "features": (
        "sepconv._cli.features",
        "SeparableConvFeatures of a zarr or .npy array on a Dask cluster, to zarr",
    ),
}


def build_parser():
    """Return the argparse parser with one subcommand per entry of COMMANDS."""
    parser = argparse.ArgumentParser(
        prog="python -m sepconv",
        description="sepconv: depthwise separable 2-D convolution on the CPU.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv=None):
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
