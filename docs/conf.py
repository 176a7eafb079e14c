"""Sphinx configuration: numpydoc API reference, the PyData theme, a gallery.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``
(``pip install ".[docs]"`` first).  The user guide is the Markdown files of
this folder, read by MyST; the API reference is generated from docstrings;
the gallery runs the scripts of the top-level ``examples/`` folder.
"""

import re
from pathlib import Path

import sepconv

_ROOT = Path(__file__).resolve().parent.parent

project = "sepconv"
copyright = "sepconv developers"
release = sepconv.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# benchmarks/ holds the shipped benchmark results (JSON, PNG), not pages.
exclude_patterns = ["_build", "benchmarks"]
templates_path = ["_templates"]

# API reference: one page per public name, from its numpydoc docstring.
autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# User guide: the Markdown files link to each other's headings.
myst_heading_anchors = 3

sphinx_gallery_conf = {
    "examples_dirs": str(_ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
}

html_theme = "pydata_sphinx_theme"
html_title = f"sepconv {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path = []


# scikit-learn's docstring style names fitted attributes in shapes, such as
# "ndarray of shape (n_samples, n_features_out_)"; in reST a word ending in
# "_" is a link to a target, so it is escaped outside literals and roles.
_LITERAL = re.compile(r"(`+[^`]*`+)")
_TRAILING_UNDERSCORE = re.compile(r"\b([A-Za-z]\w*)_(?=[\s,)\]]|$)")


def _escape_trailing_underscores(app, what, name, obj, options, lines):
    in_doctest = False  # a doctest block runs from a ">>>" line to a blank line
    for i, line in enumerate(lines):
        in_doctest = bool(line.strip()) and (in_doctest or line.lstrip().startswith(">>>"))
        if not in_doctest:
            parts = _LITERAL.split(line)
            parts[::2] = [_TRAILING_UNDERSCORE.sub(r"\1\\_", part) for part in parts[::2]]
            lines[i] = "".join(parts)


def setup(app):
    # After numpydoc (priority 500) has turned the sections into reST.
    app.connect("autodoc-process-docstring", _escape_trailing_underscores, priority=600)
