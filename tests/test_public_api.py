"""The names `import aecodec` offers, loaded on first use."""

import aecodec


def test_every_public_name_resolves_to_a_function():
    for name in aecodec.__all__:
        assert callable(getattr(aecodec, name)), name
    assert set(aecodec.__all__) <= set(dir(aecodec))
