"""``python -m sepconv info``: print the build and runtime configuration."""

import json


def add_arguments(parser):
    """Add the options of the ``info`` command to ``parser``."""
    parser.add_argument("--json", action="store_true", help="print the configuration as JSON")


def run(args):
    """Print the configuration; return the exit status."""
    from .. import config_info, show_config

    if args.json:
        print(json.dumps(config_info(), indent=2))
    else:
        show_config()
    return 0
