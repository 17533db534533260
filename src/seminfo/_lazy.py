"""Load a package's public names on first use (PEP 562), so importing the package stays cheap."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Mapping


def lazy_names(package: str, table: Mapping[str, str], extra: list[str] | tuple = ()
               ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for `package`: each name of `table` is imported from the submodule
    ``package + "." + table[name]`` the first time it is used, then kept in the package's namespace.
    `extra` lists names the package defines itself (for ``dir()``). A name that maps to itself is a
    submodule made available as an attribute (``table["capacity"] == "capacity"``)."""
    names = sorted([*table, *extra])

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        imported = importlib.import_module(f".{module}", package)
        value = imported if module == name else getattr(imported, name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return names
    return __getattr__, __dir__
