"""The memory benchmark measures each command in its own process and reports it."""

import pytest
from PIL import Image

from aecodec.eval.memory import measure_memory, memory_markdown
from tests.conftest import smooth_image


@pytest.mark.slow
def test_memory_of_compress_and_decompress_is_measured_and_reported(tmp_path):
    Image.fromarray(smooth_image(60, 80)).save(tmp_path / "photo.png")
    result = measure_memory(tmp_path / "photo.png", megapixels=0.02)
    assert (result["width"], result["height"]) == (163, 122)
    assert list(result["steps"]) == ["compress", "decompress to PNG", "decompress to BMP"]
    for figures in result["steps"].values():
        assert 50 < figures["peak_mb"] < 3000 and figures["seconds"] > 0
    assert "| decompress to PNG |" in memory_markdown(result)
