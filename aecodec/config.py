"""Model configs travel with their weights as JSON in the model card (STYLE habit 2)."""

from dataclasses import asdict
from typing import Self


class JsonConfig:
    """Mixin for config dataclasses: to and from the card's JSON, where tuples become lists."""

    def to_dict(self) -> dict:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: dict) -> Self:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
