"""Sphinx configuration of the sleeppain documentation site.

Build: ``pip install -e ".[docs]" && sphinx-build -W -b html docs docs/_build/html``.
The notebooks in ``notebooks/`` are copied into ``docs/_gallery`` and executed by myst-nb at
build time.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import sleeppain

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

project = "sleeppain"
author = "The sleeppain developers"
copyright = "2026, the sleeppain developers"
release = sleeppain.__version__
version = release

extensions = [
    "myst_nb",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx_copybutton",
    "matplotlib.sphinxext.plot_directive",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute", "data"]
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

# notebooks: executed at build time; a failing cell fails the build (with -W)
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
# SLEEPPAIN_DOCS_GALLERY=off renders the gallery without executing it (quick local builds);
# CI builds with it on.
if os.environ.get("SLEEPPAIN_DOCS_GALLERY", "on") == "off":
    nb_execution_excludepatterns = ["_gallery/*"]

autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]

html_theme = "pydata_sphinx_theme"
html_title = f"sleeppain {release}"
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
}
suppress_warnings = ["myst.header"]


def _copy_notebooks(app) -> None:
    """Copy notebooks/ into docs/_gallery so myst-nb can execute them inside the source tree."""
    target = HERE / "_gallery"
    target.mkdir(exist_ok=True)
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        shutil.copy2(nb, target / nb.name)
    # notebooks that read ../data/sample (relative to notebooks/) find it at docs/data
    data = HERE / "data"
    if data.exists():
        shutil.rmtree(data)
    shutil.copytree(ROOT / "data", data)


#: Public submodules documented with their own members (besides ``sleeppain.__all__``).
API_MODULES = ("sleeppain.sleep", "sleeppain.simulate", "sleeppain.mr", "sleeppain.results")


def _write_api_index(app, config=None) -> None:
    """Write docs/api/index.rst: an autosummary entry for every public name.

    Generated from ``sleeppain.__all__`` (and :data:`API_MODULES`) at build time, so a name
    added to the package appears in the reference without editing this site.
    """
    import importlib
    import inspect

    names = sorted(n for n in sleeppain.__all__ if not n.startswith("_"))
    classes, functions, errors, modules = [], [], [], []
    for n in names:
        obj = getattr(sleeppain, n)
        if inspect.ismodule(obj):
            modules.append(obj.__name__)
        elif inspect.isclass(obj) and issubclass(obj, Warning | Exception):
            errors.append(n)
        elif inspect.isclass(obj):
            classes.append(n)
        else:
            functions.append(n)
    for m in API_MODULES:
        if m not in modules:
            try:
                importlib.import_module(m)
            except ImportError:
                continue
            modules.append(m)

    def block(title: str, items: list[str], prefix: str = "sleeppain.") -> str:
        if not items:
            return ""
        body = "\n".join(f"   {prefix}{i}" for i in items)
        return (
            f"{title}\n{'-' * len(title)}\n\n.. autosummary::\n   :toctree: generated\n"
            f"   :nosignatures:\n\n{body}\n\n"
        )

    text = (
        "API reference\n=============\n\nEvery public name of ``sleeppain`` (``import sleeppain as"
        " sp``).\n\n"
        + block("Functions", functions)
        + block("Results and containers", classes)
        + block("Errors and warnings", errors)
        + block("Modules", sorted(modules), prefix="")
    )
    out = HERE / "api" / "index.rst"
    out.parent.mkdir(exist_ok=True)
    if not out.exists() or out.read_text() != text:
        out.write_text(text)


def setup(app) -> None:
    app.connect("builder-inited", _copy_notebooks)
    # before Sphinx lists the source files, so the generated page is read on a clean build
    app.connect("config-inited", _write_api_index)
