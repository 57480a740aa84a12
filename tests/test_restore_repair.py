"""Repair: the masks training and the benchmark use, the API and the `repair` command, on a tiny
untrained network (filling quality is the benchmark's business; these test what users rely on)."""

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import typer
from PIL import Image
from safetensors.torch import save_file
from typer.testing import CliRunner

from aecodec.errors import AecodecError, ModelError, UnsupportedImage
from aecodec.image import save_picture
from aecodec.restore.repair import api
from aecodec.restore.repair.cli import register
from aecodec.restore.repair.masks import KINDS, SCRATCH_COVER, mixed
from aecodec.restore.repair.model import RepairConfig, RepairNet, push_pull, smooth_edges
from tests.conftest import smooth_image

TINY = RepairConfig(widths=[4, 8], dilations=[2])
RANGES = {
    "scratches": SCRATCH_COVER,
    "irregular 10-20%": (0.10, 0.20),
    "irregular 20-30%": (0.20, 0.30),
}


@pytest.fixture(scope="module")
def net() -> RepairNet:
    torch.manual_seed(0)
    return RepairNet(TINY).eval()


@pytest.fixture(scope="module")
def weights(tmp_path_factory, net) -> Path:
    """The tiny network saved as a repairer: weights plus card."""
    path = tmp_path_factory.mktemp("models") / "tiny-repair.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, path)
    card = {"family": "repairer", "config": TINY.as_dict()}
    path.with_suffix(".json").write_text(json.dumps(card))
    return path


def box_mask(h: int, w: int) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    mask[h // 4 : h // 2, w // 3 : w // 2] = True
    mask[h - 3, :] = True  # a scratch along a row, near the border
    return mask


# masks


@pytest.mark.parametrize("kind", list(RANGES))
@pytest.mark.parametrize("shape", [(128, 128), (512, 768)])
def test_each_irregular_mask_covers_a_fraction_within_its_range(kind, shape):
    rng = np.random.default_rng(1)
    low, high = RANGES[kind]
    for _ in range(5):
        cover = KINDS[kind](*shape, rng).mean()
        assert low <= cover <= high


def test_boxes_are_64_pixel_squares_one_per_256x256_pixels():
    mask = KINDS["boxes 64x64"](512, 768, np.random.default_rng(2))
    assert mask.sum() <= 6 * 64 * 64 and mask.sum() >= 64 * 64
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    assert rows.size >= 64 and cols.size >= 64


def test_one_seed_gives_the_same_masks():
    a = mixed(96, 128, np.random.default_rng([0, 5]))
    b = mixed(96, 128, np.random.default_rng([0, 5]))
    assert a.dtype == bool and a.shape == (96, 128) and (a == b).all()


# the API


@pytest.mark.parametrize("layout", ["RGB", "L", "RGBA", "LA"])
def test_repair_keeps_the_layout_size_and_every_known_pixel(net, layout):
    rgb = smooth_image(37, 53)  # sides that are not multiples of the network's stride
    image = Image.fromarray(rgb).convert(layout)
    mask = box_mask(37, 53)
    out = api.repair(image, mask, model=net)
    assert out.mode == layout and out.size == (53, 37)
    before, after = np.asarray(image), np.asarray(out)
    assert (after[~mask] == before[~mask]).all()


def test_holes_are_filled_from_their_surroundings_not_from_the_pixels_under_them(net):
    rgb, mask = smooth_image(40, 48), box_mask(40, 48)
    scribbled = rgb.copy()
    scribbled[mask] = np.random.default_rng(0).integers(0, 256, (mask.sum(), 3))
    assert (
        np.asarray(api.repair(rgb, mask, model=net)) == api.repair(scribbled, mask, model=net)
    ).all()


def test_without_a_mask_the_transparent_pixels_are_filled_and_the_result_is_opaque(net):
    rgb, holes = smooth_image(32, 40), box_mask(32, 40)
    alpha = np.where(holes, 0, 255).astype(np.uint8)
    out = api.repair(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), model=net)
    assert out.mode == "RGB"
    assert (np.asarray(out)[~holes] == rgb[~holes]).all()
    gray = api.repair(np.dstack([rgb[..., 0], alpha]), model=net)  # LA array
    assert gray.mode == "L"


def test_a_mask_image_marks_its_white_pixels(net, tmp_path):
    rgb, holes = smooth_image(32, 40), box_mask(32, 40)
    Image.fromarray(np.where(holes, 255, 0).astype(np.uint8)).save(tmp_path / "mask.png")
    out = np.asarray(api.repair(rgb, tmp_path / "mask.png", model=net))
    assert (out[~holes] == rgb[~holes]).all() and (out[holes] != rgb[holes]).any()


def test_metadata_is_kept(net, tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "aecodec camera"  # Make
    Image.fromarray(smooth_image(32, 32)).save(tmp_path / "in.png", exif=exif)
    out = api.repair(tmp_path / "in.png", box_mask(32, 32), model=net)
    save_picture(out, tmp_path / "out.png")
    assert Image.open(tmp_path / "out.png").getexif()[0x010F] == "aecodec camera"


def test_large_images_in_tiles_match_the_whole_image_within_one_level(net, monkeypatch):
    rgb = smooth_image(150, 170)
    mask = box_mask(150, 170)
    whole = api.fill(net, rgb, mask)
    monkeypatch.setattr(api, "WHOLE_PIXELS", 1000)
    monkeypatch.setattr(api, "TILE", 64)
    monkeypatch.setattr(api, "MARGIN", 64)  # wider than the hole, as 256 is in use
    tiles = api.fill(net, rgb, mask)
    assert np.abs(whole.astype(int) - tiles).max() <= 1
    assert (tiles[~mask] == rgb[~mask]).all()


def test_a_saved_repairer_loads_by_path_and_gives_the_same_result(net, weights):
    rgb, mask = smooth_image(32, 40), box_mask(32, 40)
    by_path = api.repair(rgb, mask, weights=weights)
    assert (np.asarray(by_path) == np.asarray(api.repair(rgb, mask, model=net))).all()


def test_weights_of_another_family_are_refused(weights, tmp_path):
    other = tmp_path / "codec.safetensors"
    other.write_bytes(weights.read_bytes())
    other.with_suffix(".json").write_text(json.dumps({"family": "hyperprior", "config": {}}))
    with pytest.raises(ModelError, match="not a repair model"):
        api.repair(smooth_image(16, 16), box_mask(16, 16), weights=other)


def test_an_unknown_model_name_is_a_model_error():
    with pytest.raises(ModelError, match="not installed"):
        api.repair(smooth_image(16, 16), box_mask(16, 16), model="no-such-repairer")


@pytest.mark.parametrize(
    "mask, message",
    [
        (np.ones((10, 12), bool), "is 12x10 but the image is 40x32"),
        (np.zeros((32, 40), bool), "marks no pixel to fill"),
        (np.ones((32, 40), bool), "covers every pixel"),
    ],
)
def test_bad_masks_are_one_sentence(net, mask, message):
    with pytest.raises(UnsupportedImage, match=message):
        api.repair(smooth_image(32, 40), mask, model=net)


def test_no_mask_and_no_transparency_is_refused(net):
    with pytest.raises(UnsupportedImage, match="no transparent pixels"):
        api.repair(smooth_image(16, 16), model=net)


# the command


@pytest.fixture
def run():
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command, so typer keeps `repair` as a name
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["repair", *map(str, args)])


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    rgb, holes = smooth_image(32, 40), box_mask(32, 40)
    paths = {name: tmp_path / f"{name}.png" for name in ("photo", "mask", "small", "empty", "full")}
    Image.fromarray(rgb).save(paths["photo"])
    Image.fromarray(np.where(holes, 255, 0).astype(np.uint8)).save(paths["mask"])
    Image.new("L", (20, 16), 255).save(paths["small"])
    Image.new("L", (40, 32), 0).save(paths["empty"])
    Image.new("L", (40, 32), 255).save(paths["full"])
    paths["text"] = tmp_path / "notes.png"
    paths["text"].write_text("not an image")
    return paths


def test_the_command_writes_the_repaired_picture_beside_the_input(run, files, weights):
    done = run(files["photo"], "--mask", files["mask"], "--weights", weights)
    assert done.exit_code == 0, done.output
    target = files["photo"].with_name("photo-repaired.png")
    assert f"-> {target}  40x32 RGB" in done.stdout
    assert Image.open(target).size == (40, 32)


def test_the_command_never_overwrites_without_force(run, files, weights, tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")
    done = run(files["photo"], "--mask", files["mask"], "-o", target, "--weights", weights)
    assert done.exit_code == 1 and target.read_bytes() == b"precious"
    assert done.output.strip().count("\n") == 0 and "--force" in done.output
    done = run(
        files["photo"], "--mask", files["mask"], "-o", target, "--weights", weights, "--force"
    )
    assert done.exit_code == 0 and Image.open(target).size == (40, 32)


@pytest.mark.parametrize(
    "mask, message",
    [
        ("small", "is 20x16 but the image is 40x32"),
        ("empty", "marks no pixel to fill"),
        ("full", "covers every pixel"),
        ("text", "is not an image"),
    ],
)
def test_each_bad_mask_is_one_error_line_naming_the_file(
    run, files, weights, tmp_path, mask, message
):
    target = tmp_path / "out.png"
    done = run(files["photo"], "--mask", files[mask], "-o", target, "--weights", weights)
    assert done.exit_code == 1 and not target.exists()
    lines = done.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert str(files[mask]) in lines[0] and message in lines[0]


def test_a_picture_that_is_not_an_image_is_one_error_line(run, files, weights):
    done = run(files["text"], "--mask", files["mask"], "--weights", weights)
    assert done.exit_code == 1
    assert done.output.strip() == f"error: {files['text']} is not an image Pillow can read"


def test_the_command_module_imports_no_heavy_library_at_import_time():
    source = Path(__file__).parents[1] / "aecodec/restore/repair/cli.py"
    top = [
        n for n in ast.parse(source.read_text()).body if isinstance(n, ast.Import | ast.ImportFrom)
    ]
    modules = {
        alias.name if isinstance(n, ast.Import) else n.module for n in top for alias in n.names
    }
    assert modules <= {"pathlib", "typing", "typer", "aecodec.options"}


def test_errors_are_aecodec_errors():
    assert issubclass(UnsupportedImage, AecodecError) and issubclass(ModelError, AecodecError)


def test_push_pull_fills_a_flat_picture_with_its_colour_and_keeps_known_pixels():
    known = torch.ones(1, 1, 40, 52)
    known[..., 5:35, 10:50] = 0
    flat = torch.full((1, 3, 40, 52), 0.3)
    assert torch.allclose(push_pull(flat * known, known), flat, atol=1e-6)
    x = torch.rand(1, 3, 40, 52)
    assert torch.allclose(push_pull(x * known, known) * known, x * known)


def test_an_untrained_network_returns_the_push_pull_fill(net):
    fresh = RepairNet(TINY)
    x, mask = torch.rand(1, 3, 24, 32), torch.zeros(1, 1, 24, 32)
    mask[..., 4:12, 8:20] = 1
    known = 1 - mask
    smooth = push_pull(x * known, known, TINY.sweeps)
    smooth = smooth_edges(smooth, x * known, known, TINY.edge_sweeps)
    assert torch.allclose(fresh(x, mask), smooth)


def test_the_smooth_fill_restores_a_gradient_under_a_scratch_within_one_level():
    ramp = torch.linspace(0.2, 0.8, 64).expand(1, 3, 48, 64).clone()
    known = torch.ones(1, 1, 48, 64)
    known[..., :, 30:33] = 0  # a 3-pixel scratch across the gradient
    filled = push_pull(ramp * known, known, sweeps=8)
    assert (filled - ramp).abs().max() * 255 < 1


def test_biharmonic_sweeps_carry_the_curvature_of_a_profile_across_a_scratch():
    t = torch.linspace(-1, 1, 64)
    curve = (0.5 + 0.3 * t**2).expand(1, 3, 48, 64).clone()
    known = torch.ones(1, 1, 48, 64)
    known[..., :, 38:41] = 0
    harmonic = push_pull(curve * known, known, sweeps=8)
    refined = smooth_edges(harmonic, curve * known, known, sweeps=10)
    assert (refined - curve).abs().max() < 0.9 * (harmonic - curve).abs().max()
    assert torch.equal(refined * known, curve * known)
