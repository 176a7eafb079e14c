"""The commands of ``python -m sepconv``, one module each."""
