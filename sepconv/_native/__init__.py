"""The engine room: the compiled kernels and what drives them.

The faces of sepconv (``functional``, ``layers``, ``transformer``, ...) reach
the kernels only through :mod:`sepconv.functional`; nothing here imports a
face.
"""
