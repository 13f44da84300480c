"""What the model sees of the history: the context policy.

Images dominate cost. The original inputs stay at a modest resolution; the most recent
observations are sent at full resolution; older observations are replaced by a text stub
naming their id (the model can call `view` to see one again). Stubs are introduced in
chunks, not one per turn, so the start of the prompt stays identical across turns and the
provider's prompt cache keeps hitting.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from agent.transcript import Image, Message, ToolResult


@dataclass
class ContextPolicy:
    keep_recent: int = 2  # observation images always sent in full
    chunk: int = 2  # older observations are stubbed this many at a time
    original_detail: str = "low"  # how the user's own images are sent
    observation_detail: str = "high"
    enabled: bool = True

    def apply(self, messages: list[Message], describe=lambda image_id: image_id) -> list[Message]:
        """The messages to send. `describe(id)` gives the stub's label, e.g. 'img3 (1024x768 px)'.

        What is hidden is an occurrence, by its position in the history, not an image id: an
        image that `view` brings back is a new, recent occurrence and is shown, while its old
        occurrence stays a stub (so the prefix sent before stays the same)."""
        observed = [
            (m_index, p_index, k)
            for m_index, m in enumerate(messages)
            for p_index, p in enumerate(m.parts)
            if isinstance(p, ToolResult)
            for k in range(len(p.image_ids))
        ]
        hidden: set[tuple[int, int, int]] = set()
        if self.enabled:
            excess = max(0, len(observed) - self.keep_recent)
            hidden = set(observed[: (excess // self.chunk) * self.chunk])
        out = []
        for m_index, m in enumerate(messages):
            parts = []
            for p_index, p in enumerate(m.parts):
                if isinstance(p, Image) and m.role == "user":
                    parts.append(replace(p, detail=self.original_detail if self.enabled else "high"))
                elif isinstance(p, ToolResult) and any(
                    (m_index, p_index, k) in hidden for k in range(len(p.image_ids))
                ):
                    gone = [(m_index, p_index, k) in hidden for k in range(len(p.image_ids))]
                    kept = [i for i, g in zip(p.image_ids, gone) if not g]
                    stubs = [
                        f"[{describe(i)} is no longer shown, to save context; call view(image='{i}') to see it again]"
                        for i, g in zip(p.image_ids, gone)
                        if g
                    ]
                    parts.append(replace(p, image_ids=kept, text="\n".join([p.text, *stubs])))
                else:
                    parts.append(p)
            out.append(Message(m.role, parts, m.meta))
        return out
