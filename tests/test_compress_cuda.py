"""A portable archive made on the GPU decodes on the CPU, and the reverse (run only with a GPU).

The portable path's integer frequencies do not depend on the device (seminfo.models.portable), so
an archive is the same bytes whichever device made it. Skipped where CUDA is absent.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def text():
    from seminfo.models.builtin import corpus_path
    return corpus_path("valid").read_bytes()[:2000] + b"\xff\x00 raw bytes"


@pytest.mark.parametrize("spec", ["builtin:gpt", "builtin:ngram"])
def test_gpu_archive_decodes_on_cpu_and_back(spec, text):
    from seminfo.coding import compress, decompress, read_header
    try:
        from seminfo.models.portable import portable_model
        gpu, cpu = portable_model(spec, device="cuda"), portable_model(spec, device="cpu")
    except Exception as exc:                   # noqa: BLE001 (no portable path installed here)
        pytest.skip(f"no portable path for {spec}: {exc}")
    on_gpu = compress(text, gpu, blocks=2)
    on_cpu = compress(text, cpu, blocks=2)
    assert read_header(on_gpu.archive).portable
    assert on_gpu.archive == on_cpu.archive            # the same bytes from either device
    assert decompress(on_gpu.archive, cpu) == text
    assert decompress(on_cpu.archive, gpu) == text
