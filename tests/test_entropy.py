"""The entropy coder and the exact integer path: what makes decoding bit-exact."""

import numpy as np
import pytest
import torch
from torch import nn

from aecodec.codec import analyse, cached_model
from aecodec.entropy import coder
from aecodec.entropy.gaussian import GaussianConditional
from aecodec.entropy.integer import IntegerHyperSynthesis, table_indexes
from aecodec.entropy.numerics import FA, scale_table
from aecodec.entropy.tables import PRECISION, quantise_pmfs, table_bits
from aecodec.nn import subpel_up
from aecodec.zoo import DEFAULT_MODEL
from tests.conftest import smooth_image


def test_tables_sum_to_the_precision_and_never_give_zero_probability():
    tables = GaussianConditional.freeze()
    counts, lengths = tables.counts.numpy(), tables.lengths.numpy()
    for row, length in zip(counts, lengths, strict=True):
        assert row[: length + 1].sum() == 1 << PRECISION
        assert (row[: length + 1] >= 1).all() and (row[length + 1 :] == 0).all()


def test_coder_round_trips_symbols_including_escapes():
    rng = np.random.default_rng(0)
    tables = quantise_pmfs([np.array([0.2, 0.6, 0.2]), np.array([0.5, 0.5])], [-1, 0])
    rows = rng.integers(0, 2, 5000)
    symbols = np.rint(rng.normal(0, 2, 5000)).astype(np.int32)
    symbols[:3] = [10**6, -(10**6), 123]  # far outside both tables
    data = coder.encode(symbols, rows, tables)
    assert np.array_equal(coder.decode(data, rows, tables), symbols)


def test_coded_size_matches_the_ideal_code_length():
    rng = np.random.default_rng(1)
    tables = GaussianConditional.freeze()
    rows = rng.integers(0, 40, 200_000)
    scales = np.exp(np.linspace(np.log(0.11), np.log(256), 64))[rows]
    symbols = np.rint(rng.normal(0, scales)).astype(np.int32)
    ideal = table_bits(tables, symbols, rows)
    actual = len(coder.encode(symbols, rows, tables)) * 8
    assert ideal <= actual < ideal * 1.005 + 64


def test_a_stream_holds_several_calls_read_back_in_order():
    rng = np.random.default_rng(1)
    tables = GaussianConditional.freeze()
    calls = [(rng.integers(-300, 300, n), rng.integers(0, 40, n)) for n in (5, 400, 1)]
    encoder = coder.Encoder(tables)
    for symbols, rows in calls:
        encoder.encode(symbols, rows)
    decoder = coder.Decoder(encoder.finish(), tables)
    for symbols, rows in calls:
        np.testing.assert_array_equal(decoder.decode(rows), symbols)
    # one call is exactly the single-call format that earlier files use
    symbols, rows = calls[1]
    single = coder.Encoder(tables)
    single.encode(symbols, rows)
    assert single.finish() == coder.encode(symbols, rows, tables)


def test_integer_hyper_synthesis_ignores_thread_count():
    torch.manual_seed(0)
    layers = nn.Sequential(subpel_up(8, 12), nn.ReLU(), nn.Conv2d(12, 16, 1))
    exact = IntegerHyperSynthesis(layers)
    exact.freeze(layers)
    z = torch.randint(-20, 20, (1, 8, 9, 11)).float()
    threads = torch.get_num_threads()
    means, indexes = exact(z)
    try:
        torch.set_num_threads(1 if threads > 1 else 2)  # the suite runs on one: try another
        means_1, indexes_1 = exact(z)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(means, means_1) and torch.equal(indexes, indexes_1)
    # and it follows the float layers closely
    scales, float_means = layers(z).chunk(2, dim=1)
    assert (means - float_means).abs().max() < 0.05


def test_weights_too_large_for_exact_sums_are_refused():
    layers = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1))
    with torch.no_grad():
        layers[0].weight.fill_(1e6)
    with pytest.raises(ValueError, match="too large"):
        IntegerHyperSynthesis(layers).freeze(layers)


def test_format_2_codes_each_scale_with_the_nearest_table_format_1_with_the_next_wider():
    grid = torch.from_numpy(scale_table())
    scales = torch.cat([grid, grid * 1.05, grid / 1.05, grid[:-1] * 1.12])[None].clamp(max=256)
    fixed = torch.floor(scales * 2**FA)
    nearest, wider = table_indexes(fixed), table_indexes(fixed, nearest=False)
    distance = (grid[nearest].log() - scales.log()).abs()
    best = (grid[:, None].log() - scales.log()).abs().min(0).values
    assert torch.all(distance <= best + 1e-3)
    assert torch.all(grid[wider] >= scales * (1 - 1e-3))
    assert torch.all(wider >= nearest) and torch.any(wider > nearest)


@pytest.mark.slow
def test_nearest_tables_code_the_default_model_in_fewer_bits():
    net = cached_model(DEFAULT_MODEL).model
    y = analyse(net, smooth_image(256, 384)) * net.gains(50)[0]
    nearest, older = net.latent_codec.compress(y), net.latent_codec.compress(y, nearest=False)
    assert nearest.estimated_bits < older.estimated_bits
    assert sum(map(len, nearest.strings)) < sum(map(len, older.strings))
    y_hat = net.latent_codec.decompress(older.strings, (4, 6), nearest=False)
    assert torch.equal(y_hat, older.y_hat)
