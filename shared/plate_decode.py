"""Template-constrained decoding of an OCR model's per-slot probabilities (pure, numpy).

The OCR model scores every alphabet character in each of its slots. Taking the top character
per slot (what fast-alpr does) loses the second choice exactly where it matters: an ``H`` at
0.88 where a state code needs an ``M`` at 0.11. Here each country format picks, slot by slot,
the most probable character the format allows (letter or digit, the format's letters, the pad
after the last slot), and the whole candidate is scored by its weakest slot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.plates import FORMATS, Format


@dataclass(frozen=True)
class Decoded:
    """A candidate plate from one format, with its weakest slot and how many slots differ
    from the unconstrained top choice."""

    text: str
    format: str
    score: float
    changed: int


def _allowed(alphabet: str, kind: str, letters: str | None) -> np.ndarray:
    if kind == "D":
        return np.array([c.isdigit() for c in alphabet])
    return np.array([c.isalpha() and (letters is None or c in letters) for c in alphabet])


def decode(probs: np.ndarray, alphabet: str, pad: str, country: str) -> list[Decoded]:
    """Best candidate per format of *country*, best first. ``probs`` is (slots, alphabet)."""
    slots = probs.shape[0]
    top = probs.argmax(axis=1)
    pad_i = alphabet.index(pad)
    out: list[Decoded] = []
    for fmt in FORMATS.get(country.upper(), ()):
        if len(fmt.template) > slots:
            continue
        d = _decode_format(probs, alphabet, pad_i, fmt, top)
        if d is not None:
            out.append(d)
    out.sort(key=lambda d: d.score, reverse=True)
    return out


def _decode_format(probs: np.ndarray, alphabet: str, pad_i: int, fmt: Format,
                   top: np.ndarray) -> Decoded | None:
    chars, scores, changed = [], [], 0
    for i, kind in enumerate(fmt.template):
        mask = _allowed(alphabet, kind, fmt.letters)
        p = np.where(mask, probs[i], -1.0)
        j = int(p.argmax())
        chars.append(alphabet[j])
        scores.append(float(probs[i, j]))
        changed += int(j != top[i])
    for i in range(len(fmt.template), probs.shape[0]):  # the rest must be padding
        scores.append(float(probs[i, pad_i]))
        changed += int(top[i] != pad_i)
    text = "".join(chars)
    if fmt.check is not None and not fmt.check.match(text):
        # Re-pick the first two letters jointly among valid prefixes (Indian state codes).
        text, s0 = _best_prefix(probs, alphabet, fmt, text)
        if not text:
            return None
        scores[0:2] = s0
        changed = sum(int(alphabet.index(c) != top[i]) for i, c in enumerate(text)) + sum(
            int(top[i] != pad_i) for i in range(len(fmt.template), probs.shape[0]))
    return Decoded(text, fmt.name, min(scores), changed)


def _best_prefix(probs: np.ndarray, alphabet: str, fmt: Format,
                 text: str) -> tuple[str, list[float]]:
    from shared.vrn import INDIA_STATES

    best, best_s = "", [0.0, 0.0]
    for code in INDIA_STATES:
        s = [float(probs[0, alphabet.index(code[0])]), float(probs[1, alphabet.index(code[1])])]
        if min(s) > min(best_s):
            best, best_s = code, s
    candidate = best + text[2:]
    if not best or (fmt.check is not None and not fmt.check.match(candidate)):
        return "", best_s
    return candidate, best_s
