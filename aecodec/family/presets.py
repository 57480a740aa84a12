"""Named starting points for `aecodec fit --model NAME`: each is Autoencoder keyword arguments."""

from typing import TYPE_CHECKING

from aecodec.errors import ModelError

if TYPE_CHECKING:
    from aecodec.family.estimators import Autoencoder

PRESETS: dict[str, dict] = {
    # The classic: 784-256-784, a ReLU code, a sigmoid output (Chollet 2016).
    "dense": dict(kind="dense", hidden=(), latent=256, latent_activation="relu"),
    # Deep: 784-128-64-32 and its mirror, ReLU throughout.
    "deep": dict(kind="dense", hidden=(128, 64), latent=32, latent_activation="relu"),
    # Sparse: the classic with an L1 penalty on the code's activity.
    "sparse": dict(kind="dense", hidden=(), latent=256, latent_activation="relu",
                   activity_l1=1e-5),
    # Denoising: the deep one, fed digits with Gaussian noise, scored on the clean ones.
    "denoising": dict(kind="dense", hidden=(128, 64), latent=32, latent_activation="relu",
                      noise="gaussian", noise_level=0.3),
    "conv": dict(kind="conv", widths=(32, 64), latent=16),
    "vae": dict(kind="vae", hidden=(512, 256), latent=2),
    "conv-vae": dict(kind="conv-vae", widths=(32, 64), latent=2),
}  # fmt: skip


def from_preset(name: str, **overrides) -> "Autoencoder":
    """An unfitted Autoencoder of a preset, with some of its settings changed."""
    if name not in PRESETS:
        raise ModelError(f"unknown model '{name}' (known: {', '.join(PRESETS)})")
    from aecodec.family.estimators import Autoencoder  # scikit-learn, imported when used

    return Autoencoder(**{**PRESETS[name], **overrides})
