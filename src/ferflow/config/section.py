"""What every parameter section is built from: frozen models that refuse unknown keys, and ranges."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class Range(Section):
    """A closed interval [low, high]."""

    low: float
    high: float

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise ValueError(f"expected [low, high], got {len(value)} values")
            return {"low": value[0], "high": value[1]}
        return value

    @model_serializer
    def _to_pair(self) -> list[float]:
        return [self.low, self.high]

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")
        return self


class FrameRange(Range):
    low: Annotated[int, Field(ge=2)]
    high: Annotated[int, Field(ge=2)]


class IntensityRange(Range):
    low: Fraction
    high: Fraction
