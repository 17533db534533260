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
