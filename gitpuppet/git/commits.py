"""What the agent reads from a commit: its info and the trailers of its message."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """What the agent needs to know about one commit."""

    id: str
    short_id: str
    message: str
    author: str
    committer_time: int  # epoch seconds
    trailers: dict[str, str]

    @property
    def summary(self) -> str:
        """The first line of the message."""
        return self.message.split("\n", 1)[0]


def parse_trailers(message: str) -> dict[str, str]:
    """`Key: value` lines of the message's last paragraph (git's trailer block), later wins."""
    paragraphs = [p for p in re.split(r"\n\s*\n", message.strip()) if p.strip()]
    if len(paragraphs) < 2:
        return {}
    trailers: dict[str, str] = {}
    for line in paragraphs[-1].splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9-]*)\s*:\s*(.*?)\s*$", line)
        if match is None:
            if line.startswith((" ", "\t")):
                continue  # a continuation of the previous trailer's value
            return {}  # not a trailer block: git requires every line to be a trailer
        trailers[match[1]] = match[2]
    return trailers
