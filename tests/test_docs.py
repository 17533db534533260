"""The `>>>` examples in the documentation run and print what the pages say they print."""

import doctest
import pathlib

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(p.name for p in DOCS.glob("*.md") if ">>> " in p.read_text(encoding="utf-8"))


def test_pages_with_examples_are_found():
    assert {"exact.md", "flow.md", "models.md", "ngram.md", "rate_distortion.md"} <= set(PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_documentation_page_examples(page):
    result = doctest.testfile(str(DOCS / page), module_relative=False, optionflags=doctest.ELLIPSIS,
                              raise_on_error=False, verbose=False)
    assert result.attempted > 0 and result.failed == 0, f"{page}: {result.failed} of {result.attempted} failed"


def _modules_with_examples():
    import importlib
    import pkgutil

    import seminfo
    names = []
    for info in pkgutil.walk_packages(seminfo.__path__, "seminfo."):
        path = pathlib.Path(importlib.util.find_spec(info.name).origin)
        if path.suffix == ".py" and ">>> " in path.read_text(encoding="utf-8"):
            names.append(info.name)
    return sorted(names)


MODULES = _modules_with_examples()


def test_modules_with_examples_are_found():
    assert {"seminfo.models.ngram", "seminfo.models.source_model"} <= set(MODULES)
    assert any(m.startswith("seminfo.rd.") for m in MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    """Every `>>>` example in every module's docstrings runs and prints what it says."""
    import importlib
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             raise_on_error=False, verbose=False, report=True)
    assert result.attempted > 0 and result.failed == 0, f"{name}: {result.failed} of {result.attempted} failed"


def test_readme_python_example_runs():
    """The README's Python block runs as written (it ends with an assert on the round trip)."""
    import re
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert len(blocks) == 1 and "seminfo.compress" in blocks[0]
    exec(compile(blocks[0], "README.md", "exec"), {})


def test_theory_references_point_at_sections_that_exist():
    """Code and docs cite docs/theory.md as "theory §n"; every cited section exists, and nothing cites
    a document that is not in the repository."""
    import re
    root = DOCS.parent
    sections = set(re.findall(r"^## §(\d+)", (DOCS / "theory.md").read_text(encoding="utf-8"), re.M))
    files = [*root.joinpath("src", "seminfo").rglob("*.py"), *DOCS.glob("*.md"), root / "README.md",
             *root.joinpath("tests").glob("*.py"), *root.joinpath("benchmarks").glob("*.py")]
    cited, stale = set(), []
    for f in files:
        text = f.read_text(encoding="utf-8")
        cited |= set(re.findall(r"theory §(\d+)", text))
        if re.search(r"SPEC ?[§(]", text) and f.name != "test_docs.py":
            stale.append(f.name)
    assert stale == []
    assert {"1", "5", "12"} <= cited and cited <= sections, cited - sections
