"""How emulated test runs end: a deterministic verdict from the case's own text.

The rule (also in the README), so that a suite can hold cases meant to fail:
- `[emulator:fail]` in userPrompt or successCriteria: every attempt fails;
- `[emulator:pass-rate=R]` (0 <= R <= 1): attempt i of n passes when i <= round(R * n);
- `[emulator:pass-probability=P]` (0 <= P <= 1): each attempt passes with probability P, drawn
  from the emulator's seed, the case's text, the agent's batch number and the attempt number:
  the same runs give the same verdicts every time, and two runs of a case differ as real ones do;
- otherwise every attempt passes.

The agent's configuration can make it worse, as a change to a real agent does:
`[emulator:pass-rate-when=WORD:R]` in the agent's instructions (set through `POST
/_emulator/agents`) applies the pass-rate rule with R to every case whose text holds WORD, before
the case's own markers. The simulated agent repeats the case's mock data in its first reply (as a
real agent reads them back), so that reports are tested for leaking secret values.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

_FAIL = "[emulator:fail]"
_PASS_RATE = re.compile(r"\[emulator:pass-rate=([0-9]*\.?[0-9]+)\]")
_PASS_PROBABILITY = re.compile(r"\[emulator:pass-probability=([0-9]*\.?[0-9]+)\]")
_AGENT_PASS_RATE = re.compile(r"\[emulator:pass-rate-when=([^:\]]+):([0-9]*\.?[0-9]+)\]")


def attempt_passes(
    case: dict[str, Any], attempt_no: int, *, seed: int = 0, batch_no: int = 1, instructions: str = ""
) -> bool:
    """Verdict of attempt `attempt_no` (1-based) of `case` (the API's test case object) in the
    agent's `batch_no`-th batch run, the agent having these `instructions`."""
    text = f"{case.get('userPrompt', '')}\n{case.get('successCriteria', '')}"
    for word, rate in _AGENT_PASS_RATE.findall(instructions):
        if word in text:
            return _by_rate(float(rate), attempt_no, case)
    if _FAIL in text:
        return False
    match = _PASS_RATE.search(text)
    if match is not None:
        return _by_rate(float(match.group(1)), attempt_no, case)
    match = _PASS_PROBABILITY.search(text)
    if match is not None:
        return _roll(seed, text, batch_no, attempt_no) < min(max(float(match.group(1)), 0.0), 1.0)
    return True


def _by_rate(rate: float, attempt_no: int, case: dict[str, Any]) -> bool:
    """Attempt i of n passes when i <= round(R * n)."""
    return attempt_no <= round(min(max(rate, 0.0), 1.0) * int(case.get("attempt", 1)))


def _roll(seed: int, text: str, batch_no: int, attempt_no: int) -> float:
    """A uniform number in [0, 1): a function of its arguments only, never of thread timing."""
    key = f"{seed}\0{batch_no}\0{attempt_no}\0{text}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2**64


def remarks(case: dict[str, Any], passed: bool) -> str:
    criteria = _first_sentence(str(case.get("successCriteria", "")))
    if passed:
        return f"The agent met the success criteria: {criteria}"
    return f"The agent did not meet the success criteria: {criteria}"


def conversation(case: dict[str, Any], passed: bool) -> list[dict[str, str]]:
    opening = _first_sentence(str(case.get("userPrompt", "")))
    reply = (
        "I understand. Let me take care of that for you right away."
        if passed
        else "Sorry, I cannot help with that request."
    )
    details = ", ".join(f"{m['variableName']}: {m['value']}" for m in case.get("mockData") or [])
    if details:
        reply = f"I have your details here ({details}). {reply}"
    return [
        {"role": "user", "content": opening},
        {"role": "assistant", "content": reply},
        {"role": "user", "content": "Thank you." if passed else "That does not answer my question."},
    ]


def _first_sentence(text: str, limit: int = 160) -> str:
    sentence = re.split(r"(?<=[.!?])\s", " ".join(text.split()), maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 1] + "…"
