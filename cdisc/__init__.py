"""cdisc: case-series records to CDISC SDTM and ADaM, driven by a mapping spec.

The Python API does what the commands do (README, "Python API")::

    import cdisc

    result = cdisc.convert(out="out")           # cdisc convert [--spec S --source D]
    findings = cdisc.validate("out").findings   # cdisc validate out
    adam = cdisc.adam("out/sdtm", out="adam")   # cdisc adam --sdtm out/sdtm --out adam
    dm = cdisc.inspect("out/sdtm/dm.xpt")       # cdisc inspect --json out/sdtm/dm.xpt

Nothing heavy is imported until a function is called, so ``import cdisc`` and
``cdisc --help`` stay fast. Every function raises :class:`cdisc.errors.CdiscError`
(its ``problems``) where the command exits 2.

``cdisc.validate`` and ``cdisc.adam`` are also the names of subpackages
(:mod:`cdisc.validate`, :mod:`cdisc.adam`). Importing a subpackage binds it as
an attribute of this package, which would replace the function; so the
functions are callables that also stand for their subpackage (``cdisc.validate.
validate_folder`` is the subpackage's), and this module keeps them bound.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module

# Only what the interpreter has loaded at start-up is imported here (an interrupt
# during start-up is one line: cdisc.__main__); annotations are never evaluated.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

# The results are cdisc.pipeline.ConversionResult / AdamResult and
# cdisc.validate.ValidationResult; they are not imported here, not even for type
# checking, as this package is the foundation every layer imports
# (tests/test_architecture.py).

__version__ = "0.1.0"

__all__ = ["__version__", "adam", "convert", "inspect", "validate"]


def _formats(options: dict[str, Any], key: str) -> None:
    """``format="xpt"|"json"|"ndjson"|"both"`` as the CLI spells it -> ``formats``."""
    choice = options.pop(key, None)
    if choice is not None:
        target = "formats" if key == "format" else "package_formats"
        options[target] = import_module("cdisc.output.writers").formats_for(choice)


def convert(spec: str | Path | None = None, source: str | Path | None = None,
            out: str | Path = "out", **options: Any) -> Any:
    """``cdisc convert``: the study of ``spec`` (default: the embedded example) into ``out``.

    Returns a :class:`cdisc.pipeline.ConversionResult`.

    ``options`` are :func:`cdisc.pipeline.convert`'s keywords (``limits``,
    ``allow_outside_sources``, ``ct_version``, ``package_dir``, ``formats``,
    ``package_formats``); ``format=`` and ``package_format=`` take the CLI's words
    (``"xpt"``, ``"json"``, ``"ndjson"``, ``"both"``). The result holds the SDTM
    datasets (``result.sdtm.datasets``, frames by name), the ADaM ones
    (``result.adam``), the findings (``result.validation.findings``) and the
    reconciliation of every source (``result.sdtm.reconciliation``). Findings do
    not raise: ``result.validation.has_errors`` is what makes the command exit 1.
    """
    _formats(options, "format")
    _formats(options, "package_format")
    pipeline = import_module("cdisc.pipeline")
    return pipeline.convert(spec, source_dir=source, out_dir=out, **options)


def _validate(path: str | Path, *, package: bool = False, **options: Any) -> Any:
    """``cdisc validate``: the datasets of the folder ``path`` (``package=True``: an eCTD package).

    Returns a :class:`cdisc.validate.ValidationResult`.

    ``options`` go to :func:`cdisc.validate.validate_folder` (``ct_version``) or
    :func:`cdisc.validate.validate_package`. The result's ``findings`` are the
    problems found; ``has_errors`` says whether the command would exit 1.
    """
    engine = import_module("cdisc.validate")
    run = engine.validate_package if package else engine.validate_folder
    return run(path, **options)


def _adam(sdtm_dir: str | Path, out: str | Path = "out", spec: str | Path | None = None,
          **options: Any) -> Any:
    """``cdisc adam``: ADaM, the summary and their validation from a folder of SDTM datasets.

    Returns a :class:`cdisc.pipeline.AdamResult`.

    ``options`` are :func:`cdisc.pipeline.convert_adam`'s (``limits``, ``formats``;
    ``format=`` as the CLI spells it). The result holds ``adam`` (datasets by
    name), ``files`` and ``validation``.
    """
    _formats(options, "format")
    pipeline = import_module("cdisc.pipeline")
    return pipeline.convert_adam(sdtm_dir, out_dir=out, spec_path=spec, **options)


def inspect(path: str | Path, rows: int = 5) -> dict[str, Any]:
    """``cdisc inspect --json``: what a dataset file or a folder of them holds, as a dict.

    See :mod:`cdisc.output.inspect` for the keys. Raises
    :class:`cdisc.errors.CdiscError` when the file cannot be read.
    """
    return import_module("cdisc.output.inspect").inspect_path(path, rows=rows)


class _Command:
    """An API function that also stands for the subpackage of the same name.

    Calling it runs the command; any other attribute is the subpackage's
    (imported on first use), so ``cdisc.validate.validate_folder`` and
    ``import cdisc.validate as v`` keep working.
    """

    def __init__(self, function: Any, module: str) -> None:
        object.__setattr__(self, "_function", function)
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "__doc__", function.__doc__)
        object.__setattr__(self, "__wrapped__", function)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._function(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(import_module(self._module), name)

    def __setattr__(self, name: str, value: Any) -> None:  # e.g. monkeypatch.setattr
        setattr(import_module(self._module), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(import_module(self._module), name)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(import_module(self._module))))

    def __repr__(self) -> str:
        return f"<cdisc API function {self._module} (and its subpackage)>"


validate = _Command(_validate, "cdisc.validate")
adam = _Command(_adam, "cdisc.adam")
_COMMANDS = {"validate": validate, "adam": adam}


class _Package(types.ModuleType):
    """This package: importing :mod:`cdisc.validate` or :mod:`cdisc.adam` keeps the API names."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _COMMANDS and isinstance(value, types.ModuleType):
            return  # the import system binding the subpackage: it stays in sys.modules
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
