"""The result contract: what every public sleeppain result offers, and the shared helpers.

Every public result class

* has ``tidy()`` returning a DataFrame whose first columns are :data:`TIDY_COLUMNS`
  (``term, estimate, std_error, statistic, df, p_value, conf_low, conf_high``), followed by
  context columns such as ``direction``, ``effect``, ``group``, ``method`` or ``nsnp``;
* has ``glance()`` returning a DataFrame with one row per fitted model;
* has ``summary()`` returning text;
* has ``_repr_html_()`` built from the same intermediate :class:`Display` as ``summary()``,
  with every user string escaped;
* has ``plot()`` where a figure exists;
* hands out only copies or read-only objects: mutating what it returns never changes it.

Results describe themselves as a :class:`Display` (a title, key-value header lines,
tables and notes) in ``_display()``. Rendering that display to text, HTML or Markdown
lives in :mod:`sleeppain.report`; :class:`ResultMixin` imports it lazily, inside its
methods, so result modules never import the presentation layer at module level.

One vocabulary across the library: ``n_boot`` (bootstrap replicates), ``conf_level``
(e.g. 0.95), a keyword-only ``seed`` (see :func:`check_seed` for the policy), ``n_jobs``
and ``progress``.

Examples
--------
>>> import pandas as pd
>>> from sleeppain.results import Display, DisplayTable, ResultMixin, tidy_frame
>>> class Toy(ResultMixin):
...     def tidy(self):
...         return tidy_frame(pd.DataFrame({"term": ["x"], "estimate": [0.5]}))
...     def glance(self):
...         return pd.DataFrame({"nobs": [10]})
...     def _display(self):
...         return Display(title="Toy <fit>", header=(("Observations", "10"),),
...                        tables=(DisplayTable(self.tidy().set_index("term")[["estimate"]]),))
>>> print(Toy().summary())
Toy <fit>
Observations: 10
<BLANKLINE>
term  estimate
x        0.500
>>> "Toy &lt;fit&gt;" in Toy()._repr_html_()
True
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from sleeppain.errors import SpecificationError

__all__ = [
    "TIDY_COLUMNS",
    "Display",
    "DisplayTable",
    "Result",
    "ResultMixin",
    "check_conf_level",
    "check_n_boot",
    "check_seed",
    "readonly",
    "seed_sequence",
    "tidy_frame",
]

#: The house tidy schema: every ``tidy()`` starts with these columns, in this order.
TIDY_COLUMNS: tuple[str, ...] = (
    "term",
    "estimate",
    "std_error",
    "statistic",
    "df",
    "p_value",
    "conf_low",
    "conf_high",
)


@dataclass(frozen=True)
class DisplayTable:
    """One table of a result's display: a frame, an optional title and footnote.

    The frame is rendered as it is (index included), with numbers formatted by the one
    formatter in :mod:`sleeppain.report`. Columns named ``p_value``/``p_holm`` print as
    p-values (``<0.001``). ``header=False, left=True`` prints a key-value list (index:
    keys, one column of values).
    """

    frame: pd.DataFrame
    title: str = ""
    note: str = ""
    digits: int = 3
    #: Print the column header line (False for key-value lists).
    header: bool = True
    #: Left-align every column (text), as in a key-value list; numbers are right-aligned
    #: otherwise.
    left: bool = False


@dataclass(frozen=True)
class Display:
    """The intermediate description of a result, rendered to text, HTML or Markdown.

    Attributes
    ----------
    title : str
        First line of the summary.
    header : tuple of (label, value)
        Key-value lines under the title (data, model, fit statistics).
    tables : tuple of DisplayTable
    notes : tuple of str
        Closing notes and warnings, one paragraph each.
    """

    title: str
    header: tuple[tuple[str, str], ...] = ()
    tables: tuple[DisplayTable, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


@runtime_checkable
class Result(Protocol):
    """What every public result offers (checked by the contract test)."""

    def tidy(self) -> pd.DataFrame: ...

    def glance(self) -> pd.DataFrame: ...

    def summary(self) -> str: ...

    def _repr_html_(self) -> str: ...


class ResultMixin:
    """``summary()``, ``_repr_html_()``, ``to_markdown()`` and ``__str__`` from ``_display()``.

    A result class implements ``_display() -> Display`` (plus ``tidy()`` and ``glance()``);
    this mixin renders it through :mod:`sleeppain.report`, imported lazily.
    """

    def _display(self) -> Display:  # pragma: no cover - implemented by each result
        raise NotImplementedError

    def summary(self) -> str:
        """The result as plain text."""
        from sleeppain.report._display import render_display

        return render_display(self._display(), "text")

    def _repr_html_(self) -> str:
        from sleeppain.report._display import render_display

        return render_display(self._display(), "html")

    def to_markdown(self) -> str:
        """The result as Markdown (every user string escaped)."""
        from sleeppain.report._display import render_display

        return render_display(self._display(), "markdown")

    def __str__(self) -> str:
        return self.summary()


def tidy_frame(df: pd.DataFrame, context: Sequence[str] = ()) -> pd.DataFrame:
    """Put a frame into the house tidy schema.

    The :data:`TIDY_COLUMNS` come first (missing ones are added as NaN), then the
    ``context`` columns, then any others in their original order. The index is reset.

    Examples
    --------
    >>> tidy_frame(pd.DataFrame({"estimate": [1.0], "term": ["a"], "group": ["g"]}),
    ...            context=["group"]).columns.tolist()[:9]
    ['term', 'estimate', 'std_error', 'statistic', 'df', 'p_value', 'conf_low', 'conf_high', 'group']
    """
    out = df.reset_index(drop=True).copy()
    for col in TIDY_COLUMNS:
        if col not in out.columns:
            out[col] = np.nan
    if "term" in out.columns:
        out["term"] = out["term"].astype(object)
    first = [*TIDY_COLUMNS, *[c for c in context if c in out.columns and c not in TIDY_COLUMNS]]
    rest = [c for c in out.columns if c not in first]
    return out[first + rest]


def readonly(obj: Any) -> Any:
    """A copy of ``obj`` that cannot change the result it came from.

    DataFrames and Series are deep-copied; numpy arrays are copied and marked read-only;
    dicts become read-only mappings of read-only values; tuples keep their items, each made
    read-only. Scalars and strings are returned as they are.

    Examples
    --------
    >>> a = np.arange(3.0)
    >>> b = readonly(a)
    >>> b.flags.writeable, a.flags.writeable
    (False, True)
    >>> d = readonly({"phi": np.array([0.5])})
    >>> d["phi"].flags.writeable
    False
    """
    if isinstance(obj, pd.DataFrame | pd.Series | pd.Index):
        return obj.copy(deep=True)
    if isinstance(obj, np.ndarray):
        out = obj.copy()
        out.flags.writeable = False
        return out
    if isinstance(obj, Mapping):
        return MappingProxyType({k: readonly(v) for k, v in obj.items()})
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(readonly(v) for v in obj)
    if isinstance(obj, list):
        return tuple(readonly(v) for v in obj)
    return obj


def check_seed(seed: Any, *, name: str = "seed") -> int | np.random.SeedSequence | None:
    """Validate a ``seed`` argument (the library's one seed policy).

    Policy: every function that draws random numbers takes a keyword-only ``seed``. An
    int >= 0 or a :class:`numpy.random.SeedSequence` gives reproducible results (identical
    for any ``n_jobs``); ``None`` draws fresh entropy, and the result records the entropy
    it used so the run can be repeated. A :class:`numpy.random.Generator` is refused,
    because it cannot be split reproducibly across workers.

    Raises
    ------
    SpecificationError
        For anything else (floats, strings, negative ints, bools).

    Examples
    --------
    >>> check_seed(3)
    3
    >>> check_seed("abc")
    Traceback (most recent call last):
    ...
    sleeppain.errors.SpecificationError: seed='abc' is not a valid seed: pass a whole number >= 0 (e.g. seed=2024), a numpy SeedSequence, or None for fresh entropy.
    """
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise SpecificationError(
            f"{name}={seed!r} is not a valid seed: pass a whole number >= 0 (e.g. {name}=2024), "
            "a numpy SeedSequence, or None for fresh entropy."
        )
    return int(seed)


def seed_sequence(seed: Any, *, name: str = "seed") -> np.random.SeedSequence:
    """The root :class:`numpy.random.SeedSequence` of a run, from a validated ``seed``.

    An int gives ``SeedSequence(seed)``; None draws fresh entropy (record
    ``result.entropy`` to repeat the run); a SeedSequence is copied, because spawning
    children from the caller's object would advance it, and passing the same object twice
    would then give different results.

    Examples
    --------
    >>> seq = np.random.SeedSequence(7)
    >>> a = seed_sequence(seq).spawn(1)[0].generate_state(1)
    >>> b = seed_sequence(seq).spawn(1)[0].generate_state(1)
    >>> bool((a == b).all()), seed_sequence(7).entropy
    (True, 7)
    """
    seed = check_seed(seed, name=name)
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(
            seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size
        )
    return np.random.SeedSequence(seed)


def check_conf_level(conf_level: Any) -> float:
    """Validate ``conf_level`` (a coverage probability strictly between 0 and 1).

    Examples
    --------
    >>> check_conf_level(0.9)
    0.9
    >>> check_conf_level(95)
    Traceback (most recent call last):
    ...
    sleeppain.errors.SpecificationError: conf_level=95 must be a probability strictly between 0 and 1, e.g. conf_level=0.95 for 95 % intervals.
    """
    if (
        isinstance(conf_level, bool)
        or not isinstance(conf_level, numbers.Real)
        or not 0 < float(conf_level) < 1
    ):
        raise SpecificationError(
            f"conf_level={conf_level!r} must be a probability strictly between 0 and 1, "
            "e.g. conf_level=0.95 for 95 % intervals."
        )
    return float(conf_level)


def check_n_boot(n_boot: Any, *, minimum: int = 2, name: str = "n_boot") -> int:
    """Validate a number of bootstrap (or Monte Carlo) replicates.

    Examples
    --------
    >>> check_n_boot(0)
    Traceback (most recent call last):
    ...
    sleeppain.errors.SpecificationError: n_boot=0 is too small: standard errors need at least 2 replicates; pass e.g. n_boot=1000.
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < minimum:
        raise SpecificationError(
            f"{name}={n_boot!r} is too small: standard errors need at least {minimum} "
            f"replicates; pass e.g. {name}=1000."
        )
    return int(n_boot)
