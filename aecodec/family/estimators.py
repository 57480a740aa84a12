"""One estimator for the whole family, with the faces users know from Keras and scikit-learn.

    ae = Autoencoder(kind="dense", hidden=(256,), latent=8, epochs=20)
    ae.fit(x, validation_split=0.1)          # Keras: x is (N, D) or images (N, [C,] H, W)
    z = ae.encode(x); x_hat = ae.decode(z)   # also ae.reconstruct(x)
    make_pipeline(StandardScaler(), Autoencoder(latent=8, output_activation="linear"))

For scikit-learn it is a transformer (`fit`, `transform`, `inverse_transform`, `fit_transform`):
drop it into a Pipeline where PCA would go. `kind` picks the architecture: dense, conv, vae
(dense VAE) or conv-vae; "sparse" and "denoising" are a dense one with `activity_l1` or `noise`.
"""

from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from aecodec.errors import ModelError, ShapeMismatch
from aecodec.family import zoo
from aecodec.family.data import as_images
from aecodec.family.fit import FitConfig, History, fit

KINDS = ("dense", "conv", "vae", "conv-vae")


class Autoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """An autoencoder of any kind; `random_state=None` draws a seed from NumPy's global RNG."""

    def __init__(
        self, kind: str = "dense", *, hidden: tuple[int, ...] = (256,),
        widths: tuple[int, ...] = (32, 64), latent: int = 32, activation: str = "relu",
        latent_activation: str = "linear", output_activation: str = "auto", dropout: float = 0.0,
        image_shape: tuple[int, int, int] | None = None, beta: float = 1.0, epochs: int = 20,
        batch_size: int = 128, learning_rate: float = 1e-3, optimizer: str = "adam",
        schedule: str = "constant",
        loss: str = "auto", validation_split: float = 0.0, shuffle: bool = True,
        patience: int | None = None, weight_l1: float = 0.0, weight_l2: float = 0.0,
        activity_l1: float = 0.0, noise: str | None = None, noise_level: float = 0.0,
        random_state: int | None = None, verbose: bool = False,
    ) -> None:  # fmt: skip
        self.kind = kind
        self.hidden = hidden
        self.widths = widths
        self.latent = latent
        self.activation = activation
        self.latent_activation = latent_activation
        self.output_activation = output_activation
        self.dropout = dropout
        self.image_shape = image_shape
        self.beta = beta
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.schedule = schedule
        self.loss = loss
        self.validation_split = validation_split
        self.shuffle = shuffle
        self.patience = patience
        self.weight_l1 = weight_l1
        self.weight_l2 = weight_l2
        self.activity_l1 = activity_l1
        self.noise = noise
        self.noise_level = noise_level
        self.random_state = random_state
        self.verbose = verbose

    # -- scikit-learn face -----------------------------------------------------------------

    def fit(
        self, X, y=None, *, epochs: int | None = None, batch_size: int | None = None,
        validation_split: float | None = None, shuffle: bool | None = None, checkpoint=None,
    ) -> "Autoencoder":  # fmt: skip
        """Train on X; the keyword arguments override the constructor's for this call (Keras)."""
        x = self._examples(X, reset=True)
        seed = (int(np.random.randint(2**31)) if self.random_state is None
                else int(self.random_state))  # fmt: skip
        output = self.output_activation
        if output == "auto":
            output = "sigmoid" if 0 <= x.min() and x.max() <= 1 else "linear"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.module_ = zoo.build(*self._architecture(self.example_shape_, output))
        overrides = {"epochs": epochs, "batch_size": batch_size, "shuffle": shuffle,
                     "validation_split": validation_split}  # fmt: skip
        self.fit_config_ = self._fit_config(seed, output, overrides)
        x_t = torch.from_numpy(x)
        self.history_: History = fit(self.module_, x_t, self.fit_config_, checkpoint)
        self._n_features_out = self.module_.config.latent
        return self

    def transform(self, X) -> np.ndarray:
        """The codes of X, (N, latent); the posterior mean for a VAE."""
        x = self._examples(X, reset=False)
        with torch.no_grad():
            z = torch.cat([self.module_.encode(b) for b in torch.from_numpy(x).split(1000)])
        return z.numpy().astype(self._dtype(X))

    def inverse_transform(self, X) -> np.ndarray:
        """Decoded codes, in the layout of the training data ((N, D) for 2-D training data)."""
        check_is_fitted(self)
        z = np.asarray(X, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self._n_features_out:
            raise ShapeMismatch(
                f"codes must be of shape (N, {self._n_features_out}), got {z.shape}"
            )
        with torch.no_grad():
            x = torch.cat([self.module_.decode(b) for b in torch.from_numpy(z).split(1000)])
        return x.numpy().reshape(len(z), *self.input_layout_).astype(self._dtype(X))

    # -- Keras face ------------------------------------------------------------------------

    def encode(self, X) -> np.ndarray:
        return self.transform(X)

    def decode(self, Z) -> np.ndarray:
        return self.inverse_transform(np.asarray(Z))

    def reconstruct(self, X) -> np.ndarray:
        return self.inverse_transform(self.transform(X))

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """n new examples decoded from the prior N(0, I) (VAEs only)."""
        check_is_fitted(self)
        if not hasattr(self.module_, "sample"):
            raise ModelError("only a variational autoencoder can generate samples")
        x = self.module_.sample(n, torch.Generator().manual_seed(seed))
        return x.numpy().reshape(n, *self.input_layout_)

    # -- weights ---------------------------------------------------------------------------

    def save(self, path: str | Path, card: dict | None = None) -> Path:
        """NAME.safetensors + NAME.json; the card records the training settings too."""
        check_is_fitted(self)
        card = {**(card or {}), "kind": self.kind, "training": self.fit_config_.to_dict(),
                "input_layout": list(self.input_layout_)}  # fmt: skip
        return zoo.save_model(self.module_, path, card)

    @classmethod
    def load(cls, name: str | None = None, *, weights: str | Path | None = None) -> "Autoencoder":
        """A fitted estimator: a shipped or installed autoencoder by name, or the one stored at
        `weights` (a .safetensors path)."""
        loaded = zoo.load_model(name, weights=weights)
        card, config = loaded.card, loaded.model.config
        kind = card.get("kind", card["family"])
        if kind == "vae" and getattr(config, "body", "dense") == "conv":
            kind = "conv-vae"
        fields = ("hidden", "widths", "activation", "latent_activation", "output_activation")
        est = cls(kind=kind, latent=config.latent,
                  **{f: getattr(config, f) for f in fields if hasattr(config, f)})  # fmt: skip
        est.module_, est.card_, est.name_ = loaded.model, card, loaded.name
        est.example_shape_ = tuple(config.input_shape)
        est.input_layout_ = tuple(card.get("input_layout", config.input_shape))
        est.n_features_in_ = int(np.prod(est.example_shape_))
        est._n_features_out = config.latent
        est.fit_config_ = FitConfig(**card["training"]) if "training" in card else FitConfig()
        return est

    # -- helpers ---------------------------------------------------------------------------

    def _fit_config(self, seed: int, output: str, overrides: dict) -> FitConfig:
        loss = self.loss
        if loss == "auto":
            loss = "bce" if self.kind.endswith("vae") and output == "sigmoid" else "mse"
        names = ("epochs", "batch_size", "learning_rate", "optimizer", "schedule",
                 "validation_split", "shuffle", "patience", "weight_l1", "weight_l2",
                 "activity_l1", "noise", "noise_level", "beta", "verbose")  # fmt: skip
        settings = {
            n: getattr(self, n) if overrides.get(n) is None else overrides[n] for n in names
        }
        return FitConfig(**settings, loss=loss, seed=seed)

    def _architecture(self, shape: tuple[int, ...], output: str) -> tuple[str, dict]:
        common = {"input_shape": list(shape), "latent": self.latent, "activation": self.activation,
                  "output_activation": output}  # fmt: skip
        if self.kind == "dense":
            return "dense", {**common, "hidden": list(self.hidden), "dropout": self.dropout,
                             "latent_activation": self.latent_activation}  # fmt: skip
        if self.kind == "conv":
            return "conv", {**common, "widths": list(self.widths)}
        if self.kind in ("vae", "conv-vae"):
            body = "conv" if self.kind == "conv-vae" else "dense"
            return "vae", {**common, "body": body, "hidden": list(self.hidden),
                           "widths": list(self.widths)}  # fmt: skip
        raise ModelError(f"unknown autoencoder kind '{self.kind}' (known: {', '.join(KINDS)})")

    def _examples(self, X, reset: bool) -> np.ndarray:
        """X as float32 examples of the model's shape, checked as scikit-learn expects."""
        if not reset:
            check_is_fitted(self)
        if isinstance(X, np.ndarray) and X.ndim > 2:  # images: (N, H, W) or (N, C, H, W)
            x = np.asarray(X, dtype=np.float32)
            x = x[:, None] if x.ndim == 3 else x
            layout = x.shape[1:]
            if not np.all(np.isfinite(x)):
                raise ValueError("Input contains NaN or infinity.")
            x2 = x.reshape(len(x), -1)
            if reset:
                self.n_features_in_ = x2.shape[1]
            elif x2.shape[1] != self.n_features_in_:
                raise ShapeMismatch(f"examples of shape {layout} do not fit this model's "
                                    f"{self.input_layout_}")  # fmt: skip
        else:
            x2 = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64])
            x2 = np.asarray(x2, dtype=np.float32)
            layout = (x2.shape[1],)
        if reset:
            self.input_layout_ = layout
            shape = layout if len(layout) == 3 else None
            if self.kind in ("conv", "conv-vae") and shape is None:
                shape = tuple(self.image_shape) if self.image_shape else as_images(x2).shape[1:]
                if np.prod(shape) != x2.shape[1]:
                    raise ShapeMismatch(f"{x2.shape[1]} features do not make images of {shape}")
            self.example_shape_ = shape or layout
        return np.ascontiguousarray(x2.reshape(len(x2), *self.example_shape_))

    @staticmethod
    def _dtype(X) -> type:
        return np.float64 if getattr(X, "dtype", None) == np.float64 else np.float32
