"""Autoencoders against PCA on held-out MNIST digits; prints a table.

Only MNIST's 10,000 test digits are at hand: the models train on the first 9,000 and are scored
on the last 1,000. Reconstruction MSE is per pixel on 0..1 grey levels. The VAE's negative ELBO
is in nats per digit with a Bernoulli decoder, on the grey levels as targets ("continuous") and
on the digits binarised at 0.5 ("binarised"), one posterior sample per digit, 10 passes.

    python bench/family.py                       # ~30 minutes on one shared CPU core
    python bench/family.py --epochs 2 --dims 8   # a smoke run
"""

import argparse
from datetime import date

import numpy as np
import torch
from sklearn.decomposition import PCA

from aecodec.family import Autoencoder, load_data
from aecodec.family.data import MNIST_TRAIN
from aecodec.family.losses import negative_elbo, reconstruction_mse

MODELS = {
    "dense": dict(kind="dense", hidden=(512, 256), latent_activation="linear"),
    "conv": dict(kind="conv", widths=(32, 64)),
}
TRAINING = dict(batch_size=64, schedule="cosine", random_state=0)
VAE = dict(kind="vae", hidden=(256, 128))  # as the shipped mnist-vae, which has a 2-D code


def pca_mse(train: np.ndarray, test: np.ndarray, k: int) -> float:
    pca = PCA(n_components=k, random_state=0).fit(train.reshape(len(train), -1))
    z = pca.transform(test.reshape(len(test), -1))
    return float(np.mean((pca.inverse_transform(z) - test.reshape(len(test), -1)) ** 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist", help="folder of MNIST IDX files")
    parser.add_argument("--dims", default="2,8,32", help="code sizes to compare")
    parser.add_argument("--epochs", type=int, default=40, help="epochs of each autoencoder")
    parser.add_argument("--vae-epochs", type=int, default=40)
    parser.add_argument("--vae-dims", default="2,16", help="code sizes of the VAE")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train, test = load_data(args.data).split(MNIST_TRAIN)
    x_test = torch.from_numpy(test.x)
    print(f"# {date.today()}  MNIST test digits: train on {len(train)}, score on {len(test)}; "
          f"{args.epochs} epochs, batch 64, cosine schedule, {args.threads} thread(s)")  # fmt: skip
    print(f"{'dims':>4}  {'PCA':>8}  " + "  ".join(f"{m:>8}  {m + '/PCA':>9}" for m in MODELS))
    seconds = {m: [] for m in MODELS}
    for k in [int(d) for d in args.dims.split(",")]:
        pca = pca_mse(train.x, test.x, k)
        cells = []
        for name, params in MODELS.items():
            ae = Autoencoder(**params, **TRAINING, latent=k, epochs=args.epochs)
            ae.fit(train.x)
            seconds[name] += ae.history_.seconds
            mse = reconstruction_mse(ae.module_, x_test)
            cells.append(f"{mse:8.5f}  {mse / pca:9.2f}")
        print(f"{k:>4}  {pca:8.5f}  " + "  ".join(cells), flush=True)
    binary = (x_test > 0.5).float()
    for k in [int(d) for d in args.vae_dims.split(",")]:
        vae = Autoencoder(**VAE, **TRAINING, latent=k, epochs=args.vae_epochs).fit(train.x)
        seconds[f"vae-{k}"] = vae.history_.seconds
        for name, x in (("continuous", x_test), ("binarised", binary)):
            terms = negative_elbo(vae.module_, x, samples=10)
            print(f"VAE 784-256-128-{k}, {args.vae_epochs} epochs, -ELBO on {name} digits: "
                  f"{terms['nelbo']:.1f} nats = reconstruction {terms['recon']:.1f} "
                  f"+ KL {terms['kl']:.1f}")  # fmt: skip
    print("seconds per epoch on 9,000 digits: " + ", ".join(
        f"{m} {np.median(s):.2f}" for m, s in seconds.items()))  # fmt: skip


if __name__ == "__main__":
    main()
