"""VideoLISA's prompts, quirks included (docs/models.md#videolisa-prompts).

The answer "Sure, [SEG]." is part of the prompt (teacher forcing: one forward pass, no
generation). The per-benchmark queries keep the original wording exactly: MeViS, Ref-YouTube-VOS
and Ref-DAVIS say "in this image" although they are videos, and ReasonVOS long queries always
get a "." appended (so "?" becomes "?.").
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


def query_for(benchmark: str | None, text: str, kind: str | None = None) -> str:
    """The user query the official inference script of ``benchmark`` builds from an expression.

    ``benchmark`` None (or a name without an official script, e.g. plain ``davis``) means the
    chat demo: the raw text.
    """
    if benchmark == "reasonvos":
        if kind == "long":
            return f"{text}. Please output the segmentation masks."
        if kind == "short":
            return f"Please segment the {text.lower()} in this scene."
        raise ValueError(f"ReasonVOS samples must be 'short' or 'long', got kind={kind!r}")
    if benchmark in ("mevis", "refytvos", "refdavis"):
        return f"Please segment the {text.lower()} in this image."
    return text
