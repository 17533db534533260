"""Build the embedded corpus from Debian's python3.11-doc package (PSF licence).

Run from the repository root (needs `apt-get download`, which only Debian's registry serves):

    python scripts/build_corpus.py

It downloads python3.11-doc, takes the reStructuredText sources of the prose sections (tutorial,
FAQ, language reference, HOWTOs, using/extending/installing/distributing guides and What's New),
sorts the files by path and sends every 20th file to the validation split, the rest to training.
Each document is preceded by a line ``.. source: <path>``. Output: src/seminfo/data/corpus/.
"""

from __future__ import annotations

import hashlib
import pathlib
import subprocess
import tempfile

SECTIONS = ["tutorial", "faq", "reference", "howto", "using", "extending", "install", "installing",
            "distributing", "whatsnew"]
OUT = pathlib.Path(__file__).resolve().parents[1] / "src" / "seminfo" / "data" / "corpus"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", "python3.11-doc"], cwd=tmp, check=True)
        deb = next(pathlib.Path(tmp).glob("python3.11-doc_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), "x"], cwd=tmp, check=True)
        src = pathlib.Path(tmp) / "x/usr/share/doc/python3.11/html/_sources"
        files = sorted(p for s in SECTIONS for p in (src / s).rglob("*.rst.txt"))
        train, valid = [], []
        for i, path in enumerate(files):
            rel = path.relative_to(src).as_posix()
            doc = f".. source: {rel}\n\n" + path.read_text(encoding="utf-8")
            (valid if i % 20 == 10 else train).append(doc)
        OUT.mkdir(parents=True, exist_ok=True)
        for name, docs in (("train.txt", train), ("valid.txt", valid)):
            (OUT / name).write_text("\n".join(docs), encoding="utf-8")
        licence = (src / "license.rst.txt").read_text(encoding="utf-8")
        (OUT / "LICENSE-PSF.txt").write_text(licence, encoding="utf-8")
        h = {n: hashlib.sha256((OUT / n).read_bytes()).hexdigest() for n in ("train.txt", "valid.txt")}
        print(f"{len(train)} training and {len(valid)} validation documents; sha256 {h}")


if __name__ == "__main__":
    main()
