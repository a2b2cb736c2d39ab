"""VideoLISA's prompts, quirks included (docs/models.md#videolisa-prompts).

The answer "Sure, [SEG]." is part of the prompt (teacher forcing: one forward pass, no
generation). The queries keep the official scripts' wording exactly: the referring benchmarks'
(MeViS, Ref-YouTube-VOS, Ref-DAVIS) say "in this image" although they are videos, and ReasonVOS
long queries always get a "." appended (so "?" becomes "?.").
"""

from __future__ import annotations

from .tokenizer import IMAGE_PLACEHOLDER, SEG_TOKEN

SYSTEM = "You are a helpful AI assistant."
ANSWER = f"Sure, {SEG_TOKEN}."


def phi3_prompt(query: str, answer: str = ANSWER) -> str:
    """The ``phi3_instruct`` conversation with the video placeholder and the teacher-forced answer."""
    return (
        f"<|system|>\n{SYSTEM}<|end|>\n<|user|>\n{IMAGE_PLACEHOLDER}\n{query}<|end|>\n"
        f"<|assistant|>\n{answer}<|end|>"
    )


def query_for(style: str | None, text: str, kind: str | None = None) -> str:
    """The user query VideoLISA's official inference scripts build from an expression, by the
    benchmark's instruction style (``bench.spec.instruction_style``).

    "reasoning" (the ReasonVOS script): a sentence (``kind`` "long") or a phrase ("short").
    "referring" (the MeViS, Ref-YouTube-VOS and Ref-DAVIS scripts): one phrase template. None (no
    instructions, or no benchmark: the chat demo): the raw text.
    """
    if style == "reasoning":
        if kind == "long":
            return f"{text}. Please output the segmentation masks."
        if kind == "short":
            return f"Please segment the {text.lower()} in this scene."
        raise ValueError(f"reasoning samples (ReasonVOS) must be 'short' or 'long', got kind={kind!r}")
    if style == "referring":
        return f"Please segment the {text.lower()} in this image."
    if style is None:
        return text
    raise ValueError(f"unknown instruction style {style!r}; expected 'reasoning', 'referring' or None")
