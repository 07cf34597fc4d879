"""Web landing files rewritten as a Segment / RudderStack S3 destination writes them: JSON lines
of spec messages (`page`, `track`), one message per contract row, the same values in the places
the spec puts them; and hand-made `identify` / `group` calls."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from include.scoring.core.config import load_config


def track_names() -> dict[tuple[str, str | None], str]:
    """(event_type, form_type) -> the track event name the default config maps to it."""
    return {(m.event_type, m.form_type): name for name, m in load_config().segment.track_events.items()}


def _rows(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        if "event_time" in frame and pd.api.types.is_datetime64_any_dtype(frame["event_time"]):
            frame["event_time"] = frame["event_time"].map(lambda t: t.isoformat().replace("+00:00", "Z"))
        return frame.astype(object).where(frame.notna(), None)
    if path.suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        return frame.astype(object).where(frame != "", None)
    frame = pd.read_json(path, lines=True, dtype=False)
    return frame.astype(object).where(frame.notna(), None)


def message(row: dict, names: dict) -> dict:
    kind = "page" if row["event_type"] == "page_view" else "track"
    context = {
        "ip": row["ip"],
        "userAgent": row["user_agent"],
        "page": {"url": row["url"], "referrer": row["referrer"]},
    }
    if row.get("email") is not None:
        context["traits"] = {"email": row["email"]}
    msg = {
        "type": kind,
        "messageId": row["event_id"],
        "anonymousId": row["anonymous_id"],
        "timestamp": str(row["event_time"]),
        "context": context,
        "properties": {"url": row["url"], "referrer": row["referrer"]},
        "integrations": {},
    }
    if kind == "track":
        msg["event"] = names[(row["event_type"], row.get("form_type"))]
    return msg


def segment_landing(source: Path, target: Path) -> Path:
    """A copy of a landing zone whose web files are Segment JSON lines (other sources as they are)."""
    shutil.copytree(source, target)
    names = track_names()
    for day in sorted((target / "web").iterdir()):
        for path in sorted(day.iterdir()):
            rows = _rows(path).to_dict("records")
            lines = [json.dumps(message(r, names), ensure_ascii=False) for r in rows]
            (day / f"{path.name}.jsonl").write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
            path.unlink()
    return target


def write_messages(folder: Path, name: str, messages: list[dict | str]) -> Path:
    """A Segment file of `messages` (a string is written as it is: a broken line)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = "\n".join(m if isinstance(m, str) else json.dumps(m) for m in messages) + "\n"
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name
