"""Peak resident memory of this process, and resetting it (Linux).

Used by ``worker.py`` (the ``--memory`` figure of ``compare.py``) and by the
asv suite's ``track_`` memory benchmark, so both measure the same thing.
"""

import resource


def reset_peak():
    """Reset the peak-RSS mark to the current RSS; False where not allowed.

    Writing 5 to ``/proc/self/clear_refs`` (Linux 4.0+) resets the high-water
    mark that ``getrusage().ru_maxrss`` reports.
    """
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def peak_bytes():
    """``ru_maxrss`` of this process in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
