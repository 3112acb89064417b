"""TensorRT optimization profiles (min/opt/max per input) derived from the model contract.

Each engine's contract lists its inputs with symbolic dimensions ("batch", "time", ...) and a
``profile`` dict giving [min, opt, max] for each symbol. A profile here resolves every input
shape against those ranges; a symbol without a range is an error naming it.

The decoder_joint engine gets two profiles: profile 0 is the decoder step (every dimension 1; a
fixed shape, so the C++ engine can replay it as a CUDA graph) and profile 1 the contract's full
range (batch decode over many encoder frames).
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

Shape = Tuple[int, ...]
# input name -> (min, opt, max)
Profile = Dict[str, Tuple[Shape, Shape, Shape]]

TENSORRT_ENGINES = ("encoder", "encoder_streaming", "decoder_joint")


class ProfileError(ValueError):
    """The contract does not give a range for a symbolic dimension (or the range is inconsistent)."""


def _ranges(engine_name: str, engine: Dict[str, Any]) -> Dict[str, Tuple[int, int, int]]:
    ranges = {}
    for symbol, values in engine.get("profile", {}).items():
        lo, opt, hi = (int(v) for v in values)
        if not 1 <= lo <= hi:
            raise ProfileError(f"engines.{engine_name}.profile.{symbol}: expected 1 <= min <= max, got {values}")
        # The contract's opt is a typical size; it may exceed a small model's max (tiny: 1000 > max frames).
        ranges[symbol] = (lo, min(max(opt, lo), hi), hi)
    return ranges


def _resolve(engine_name: str, ranges: Dict[str, Tuple[int, int, int]], spec: Dict[str, Any]) -> Tuple[Shape, Shape, Shape]:
    out: List[List[int]] = [[], [], []]
    for axis, dim in enumerate(spec["shape"]):
        if isinstance(dim, int):
            values = (dim, dim, dim)
        elif dim in ranges:
            values = ranges[dim]
        else:
            raise ProfileError(f"engines.{engine_name}.inputs.{spec['name']}.shape[{axis}]: symbol {dim!r} has no "
                               f"range in engines.{engine_name}.profile (has {sorted(ranges)})")
        for i in range(3):
            out[i].append(int(values[i]))
    return tuple(out[0]), tuple(out[1]), tuple(out[2])


def engine_profiles(contract: Dict[str, Any], engine_name: str) -> List[Profile]:
    """The optimization profiles of one engine, in the order the runtime selects them."""
    engines = contract["engines"]
    if engine_name not in engines:
        raise ProfileError(f"engines.{engine_name}: not in the contract (has {sorted(engines)})")
    if engine_name not in TENSORRT_ENGINES:
        raise ProfileError(f"engines.{engine_name}: not an ONNX graph TensorRT can build (one of {TENSORRT_ENGINES})")
    engine = engines[engine_name]
    ranges = _ranges(engine_name, engine)
    full = {spec["name"]: _resolve(engine_name, ranges, spec) for spec in engine["inputs"]}
    if engine_name != "decoder_joint":
        return [full]
    step_ranges = {symbol: (r[0], r[0], r[0]) for symbol, r in ranges.items()}
    step = {spec["name"]: _resolve(engine_name, step_ranges, spec) for spec in engine["inputs"]}
    return [step, full]


def all_profiles(contract: Dict[str, Any]) -> Dict[str, List[Profile]]:
    """Profiles of every engine of the contract that TensorRT builds."""
    return {name: engine_profiles(contract, name) for name in TENSORRT_ENGINES if name in contract["engines"]}


def profiles_to_json(profiles: List[Profile]) -> List[Dict[str, Dict[str, List[int]]]]:
    return [{name: {"min": list(r[0]), "opt": list(r[1]), "max": list(r[2])} for name, r in sorted(p.items())}
            for p in profiles]
