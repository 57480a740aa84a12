"""Denoising: what `aecodec.restore.denoise` promises its users, on a tiny network and small
images made here (and on the shipped model where it is installed)."""

import json

import numpy as np
import pytest
import torch
import typer
from PIL import Image, ImageCms
from typer.testing import CliRunner

from aecodec.errors import AecodecError, ModelError
from aecodec.restore.denoise import api
from aecodec.restore.denoise.cli import register
from aecodec.restore.denoise.model import Denoiser, DenoiserConfig, save
from aecodec.restore.denoise.noise import estimate_sigma
from aecodec.restore.zoo import DENOISERS


def clean_image(h: int, w: int, channels: int = 3) -> np.ndarray:
    """Noise-free gradients, a disc and a bar, uint8 (H, W, C)."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    planes = []
    for c in range(channels):
        plane = 0.3 + 0.4 * np.sin(3 * xx + c) * np.cos(2 * yy - c)
        plane += 0.25 * (((xx - 0.4) ** 2 + (yy - 0.5) ** 2) < 0.05)
        plane -= 0.2 * ((xx > 0.7) & (xx < 0.8))
        planes.append(plane)
    return (np.clip(np.stack(planes, -1), 0, 1) * 255).round().astype(np.uint8)


def noisy(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, image.shape)
    return np.clip(np.round(image + noise), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module", params=[3, 1], ids=["colour", "gray"])
def tiny(request, tmp_path_factory) -> str:
    """A tiny denoiser with random weights everywhere (a fresh one's last layer is zero, which
    would make it the identity and test nothing), saved with its card."""
    torch.manual_seed(0)
    model = Denoiser(DenoiserConfig(channels=request.param, width=8, depth=4))
    for block in model.blocks:
        torch.nn.init.normal_(block.conv2.weight, std=0.05)
    torch.nn.init.normal_(model.tail.weight, std=0.05)
    path = tmp_path_factory.mktemp("denoisers") / f"tiny{request.param}"
    save(model, path, {"description": "untrained test model"})
    return str(path) + ".safetensors"


@pytest.fixture
def cli():
    main = typer.Typer()
    register(main)

    @main.command()
    def other() -> None:  # a second command keeps `denoise` a subcommand, as in aecodec
        pass

    def invoke(*args: str):
        return CliRunner().invoke(main, [str(a) for a in args])

    return invoke


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_the_image_comes_back_in_its_mode_and_size_with_alpha_kept(tiny, mode):
    rgb = noisy(clean_image(37, 51, 3), 20)
    alpha = np.full((37, 51, 1), 7, np.uint8)
    array = {"L": rgb[..., 0], "LA": np.concatenate([rgb[..., :1], alpha], axis=2), "RGB": rgb,
             "RGBA": np.concatenate([rgb, alpha], axis=2)}[mode]  # fmt: skip
    out = api.denoise(Image.fromarray(array, mode), 20, weights=tiny)
    assert out.mode == mode and out.size == (51, 37)
    if mode.endswith("A"):
        assert np.array_equal(np.asarray(out)[..., -1], array[..., -1])


def test_arrays_and_paths_are_accepted_and_metadata_kept(tiny, tmp_path):
    path = tmp_path / "in.png"
    image = Image.fromarray(noisy(clean_image(32, 32), 10))
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image.save(path, icc_profile=profile)
    from_path = api.denoise(path, 10, weights=tiny)
    from_array = api.denoise(np.asarray(image), 10, weights=tiny)
    assert np.array_equal(np.asarray(from_path), np.asarray(from_array))
    assert from_path.info.get("icc_profile") == profile


def test_tiled_result_equals_the_whole_image_within_one_level(tiny):
    network = api.load_denoiser(weights=tiny)
    planes = noisy(clean_image(150, 203, 3), 25)
    planes = planes[..., :1] if network.config.channels == 1 else planes
    whole = api.run(network, planes, 25, tile=1024)
    tiles = api.run(network, planes, 25, tile=32)  # 5 x 7 tiles of 32 plus margins
    assert np.abs(whole.astype(int) - tiles.astype(int)).max() <= 1
    assert not np.array_equal(whole, planes)  # the network did change the image
    ensemble = [api.run(network, planes, 25, tile=t, passes=8) for t in (1024, 32)]
    assert np.abs(ensemble[0].astype(int) - ensemble[1].astype(int)).max() <= 1


@pytest.mark.parametrize("passes", [1, 2, 4, 8])
def test_each_pass_is_turned_back_before_the_mean(passes):
    x = torch.randint(0, 256, (1, 3, 6, 10)).float()  # sums exact; not square, so a
    # transposition left in shows
    assert torch.equal(api._ensemble(lambda t, level: t.clone(), x, None, passes), x)


def test_eight_passes_give_the_same_result_for_a_flipped_or_transposed_image(tiny):
    network = api.load_denoiser(weights=tiny)
    planes = noisy(clean_image(40, 62, 3), 25)  # not square: a transposition shows
    planes = planes[..., :1] if network.config.channels == 1 else planes
    one = api.run(network, planes, 25)
    eight = api.run(network, planes, 25, passes=8)
    assert not np.array_equal(one, eight)
    for turn in (lambda a: a[:, ::-1], lambda a: a[::-1], lambda a: a.transpose(1, 0, 2)):
        again = turn(api.run(network, np.ascontiguousarray(turn(planes)), 25, passes=8))
        assert np.abs(again.astype(int) - eight.astype(int)).max() <= 1
        assert np.abs(turn(api.run(network, turn(planes).copy(), 25)) - one.astype(int)).max() > 1


def test_the_command_and_the_api_default_to_the_same_passes():
    import inspect

    from aecodec.restore.denoise import cli

    default = inspect.signature(cli.denoise).parameters["passes"].default
    assert default == api.DEFAULT_PASSES == 2


@pytest.mark.parametrize("passes", [0, 3, 16, True, 2.0, "2", None])
def test_passes_other_than_1_2_4_8_are_refused(tiny, passes):
    with pytest.raises(AecodecError, match="passes must be one of 1, 2, 4, 8"):
        api.denoise(clean_image(16, 16), 25, weights=tiny, passes=passes)


@pytest.mark.parametrize("sigma", [5, 15, 25, 50])
@pytest.mark.parametrize("channels", [1, 3])
def test_noise_level_estimate_is_within_ten_percent(sigma, channels):
    image = clean_image(256, 320, channels)
    estimate = estimate_sigma(noisy(image, sigma, seed=sigma))
    assert abs(estimate - sigma) <= 0.1 * sigma


def test_a_clean_image_is_estimated_nearly_noise_free():
    assert estimate_sigma(clean_image(128, 128)) < 1.0


def test_a_given_sigma_drives_the_network_and_auto_estimates_it(tiny):
    image = noisy(clean_image(64, 64), 30)
    weak, strong = (np.asarray(api.denoise(image, s, weights=tiny)) for s in (0, 60))
    assert not np.array_equal(weak, strong)
    picture = api.read_picture(image)
    _, used = api.denoise_picture(picture, None, weights=tiny)
    assert abs(used - 30) < 3


@pytest.mark.parametrize("sigma", [-1, 76, float("nan"), "much"])
def test_sigma_outside_the_trained_levels_is_refused(tiny, sigma):
    with pytest.raises(AecodecError, match="sigma"):
        api.denoise(clean_image(16, 16), sigma, weights=tiny)


def test_weights_of_another_kind_of_model_are_refused(tiny, tmp_path):
    card = json.loads(open(tiny.replace(".safetensors", ".json")).read())
    other = tmp_path / "other.safetensors"
    other.write_bytes(open(tiny, "rb").read())
    other.with_suffix(".json").write_text(json.dumps({**card, "family": "repairer"}))
    with pytest.raises(ModelError, match="not a denoising model"):
        api.denoise(clean_image(16, 16), 10, weights=other)
    with pytest.raises(ModelError, match="does not exist"):
        api.denoise(clean_image(16, 16), 10, weights=tmp_path / "missing.safetensors")
    with pytest.raises(ModelError, match="not installed"):
        api.denoise(clean_image(16, 16), 10, model="no-such-denoiser")


def test_cli_writes_one_line_per_file_and_refuses_to_overwrite(cli, tiny, tmp_path):
    for name in ("a", "b"):
        Image.fromarray(noisy(clean_image(40, 30), 15)).save(tmp_path / f"{name}.png")
    result = cli("denoise", tmp_path / "a.png", tmp_path / "b.png", "--weights", tiny)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2 and "a-denoised.png" in lines[0] and "(estimated)" in lines[0]
    written = (tmp_path / "a-denoised.png").read_bytes()
    again = cli("denoise", tmp_path / "a.png", "--sigma", "40", "--weights", tiny)
    assert again.exit_code == 1 and "exists; use --force" in again.output
    assert (tmp_path / "a-denoised.png").read_bytes() == written
    forced = cli("denoise", tmp_path / "a.png", "--sigma", "40", "--force", "--weights", tiny)
    assert forced.exit_code == 0 and "sigma 40.0 (given)" in forced.output
    assert (tmp_path / "a-denoised.png").read_bytes() != written


def test_cli_writes_into_a_folder_and_to_a_named_file(cli, tiny, tmp_path):
    Image.fromarray(noisy(clean_image(40, 30), 15)).convert("L").save(tmp_path / "g.jpg")
    (tmp_path / "out").mkdir()
    result = cli("denoise", tmp_path / "g.jpg", "-o", tmp_path / "out", "--weights", tiny)
    assert result.exit_code == 0
    assert Image.open(tmp_path / "out" / "g-denoised.jpg").mode == "L"
    result = cli("denoise", tmp_path / "g.jpg", "-o", tmp_path / "x.webp", "--weights", tiny)
    assert result.exit_code == 0
    assert Image.open(tmp_path / "x.webp").size == (30, 40)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{bad}"], "{bad} is not an image"),
        (["{missing}"], "{missing}"),
        (["{good}", "--sigma", "loud"], "sigma must be a number"),
        (["{good}", "--sigma", "200"], "between 0 and 75"),
        (["{good}", "--passes", "3"], "passes must be one of 1, 2, 4, 8"),
        (["{good}", "--weights", "{missing}"], "does not exist"),
        (["{good}", "--model", "no-such"], "'no-such' is not installed"),
        (["{good}", "{good}", "-o", "{new}"], "several inputs need an output folder"),
    ],
    ids=[
        "not-an-image",
        "missing",
        "sigma-word",
        "sigma-high",
        "passes",
        "weights",
        "model",
        "many-to-one",
    ],  # fmt: skip
)
def test_cli_bad_input_is_one_error_line_and_exit_1(cli, tiny, tmp_path, args, message):
    paths = {"bad": tmp_path / "bad.png", "missing": tmp_path / "nope.png",
             "good": tmp_path / "good.png", "new": tmp_path / "new.png"}  # fmt: skip
    paths["bad"].write_bytes(b"this is not a png")
    Image.fromarray(clean_image(20, 20)).save(paths["good"])
    args = [a.format(**paths) for a in args]
    if "--weights" not in args and "--model" not in args:
        args += ["--weights", tiny]
    result = cli("denoise", *args)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == len(result.output.strip().splitlines()) == 1, result.output
    assert message.format(**paths) in errors[0]
    assert "Traceback" not in result.output
    assert not paths["new"].exists() and not (tmp_path / "good-denoised.png").exists()


def test_a_bad_file_does_not_stop_the_others(cli, tiny, tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG truncated")
    Image.fromarray(clean_image(20, 20)).save(tmp_path / "good.png")
    result = cli("denoise", tmp_path / "bad.png", tmp_path / "good.png", "--weights", tiny)
    assert result.exit_code == 1
    assert (tmp_path / "good-denoised.png").exists()
    assert "error: " + str(tmp_path / "bad.png") in result.output


@pytest.mark.skipif("denoise-rgb" not in DENOISERS.available(), reason="no shipped model")
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_the_shipped_model_removes_most_of_the_noise(mode):
    image = clean_image(96, 128, 3 if mode == "RGB" else 1)
    image = image[..., 0] if mode == "L" else image
    dirty = noisy(image, 25)
    cleaned = np.asarray(api.denoise(Image.fromarray(dirty, mode)))

    def psnr(a):
        return 10 * np.log10(255**2 / np.mean((a.astype(float) - image) ** 2))

    assert psnr(cleaned) > psnr(dirty) + 8  # 20.3 dB in, well over 28 dB out
    one, eight = (np.asarray(api.denoise(Image.fromarray(dirty, mode), passes=p)) for p in (1, 8))
    assert psnr(eight) > psnr(one)  # colour +0.30 dB, gray +0.30 dB
