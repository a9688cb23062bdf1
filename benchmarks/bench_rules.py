"""Scoring speed: every platform rule on a 1,000,000-message log.

What is measured
----------------
A synthetic log of ``--messages`` messages (default 1,000,000) over 30 days in
Asia/Shanghai: conversations of 1-8 buyer messages, each usually followed by an
agent reply after a lognormal delay, some by a bot, some never answered.  For
each platform, the wall time of ``registry.score`` with its default rule (best
of ``--repeat`` runs), and for the whole set; then the time to read the same
log back from CSV in the import format (``peakdesk score``'s path).

Run: ``.venv/bin/python benchmarks/bench_rules.py [--messages N] [--repeat K]``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from peakdesk.rules import registry
from peakdesk.rules.csvlog import read_chat_log
from peakdesk.rules.messages import AGENT, BOT, BUYER, SENDER_NAMES, MessageLog


def synthetic_log(n_messages: int, seed: int = 1) -> MessageLog:
    """A realistic-looking log of about ``n_messages`` messages over 30 days."""
    rng = np.random.default_rng(seed)
    # 4.5 buyer messages and 4.05 replies per conversation on average.
    n_conv = int(n_messages / 8.55) + 1
    buyers = rng.integers(1, 9, n_conv)
    start = dt.datetime(2026, 10, 20, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    t0 = start + rng.uniform(0, 30 * 86400, n_conv)
    conv = np.repeat(np.arange(n_conv), buyers)
    nb = conv.size
    gaps = rng.lognormal(np.log(60), 1.0, nb)
    first = np.concatenate(([0], np.cumsum(buyers)[:-1]))
    gaps[first] = 0.0
    c = np.cumsum(gaps)
    t_buyer = t0[conv] + c - c[first][conv]
    kind = rng.random(nb)
    delay = rng.lognormal(np.log(40), 1.2, nb)
    replied = kind < 0.9
    sender_reply = np.where(kind < 0.8, AGENT, BOT)
    conv_all = np.concatenate((conv, conv[replied]))
    send_all = np.concatenate((np.full(nb, BUYER), sender_reply[replied]))
    t_all = np.concatenate((t_buyer, t_buyer[replied] + delay[replied]))
    return MessageLog.from_arrays(conv_all, send_all, t_all)


def best(fn: object, repeat: int) -> float:
    """Best wall time of ``repeat`` calls, seconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return min(times)


def write_csv(log: MessageLog, path: Path) -> None:
    """The log in the import format (ISO timestamps with offset)."""
    stamps = [
        dt.datetime.fromtimestamp(float(t), ZoneInfo("Asia/Shanghai")).isoformat()
        for t in log.time_s
    ]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["conversation_id", "sender", "timestamp", "agent_id"])
        for c, s, ts in zip(log.conversation.tolist(), log.sender.tolist(), stamps, strict=True):
            w.writerow([f"c{c}", SENDER_NAMES[s], ts, "a1" if s == AGENT else ""])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-csv", action="store_true", help="skip the CSV import row")
    args = ap.parse_args()
    log = synthetic_log(args.messages)
    print(f"log: {log.n_messages:,} messages, {log.n_conversations:,} conversations, 30 days")
    print(f"{'platform':10s} {'seconds':>8s} {'msg/s':>12s}  metrics")
    total = 0.0
    for platform in registry.PLATFORMS:
        names: list[str] = []

        def run(p: str = platform, out: list[str] = names) -> None:
            out[:] = sorted(registry.score(log, p))

        s = best(run, args.repeat)
        total += s
        print(f"{platform:10s} {s:8.3f} {log.n_messages / s:12,.0f}  {', '.join(names)}")
    print(f"{'all':10s} {total:8.3f} {log.n_messages / total:12,.0f}")
    if not args.no_csv:
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "log.csv"
            write_csv(log, p)
            s = best(lambda: read_chat_log(p), 1)
            size_mb = p.stat().st_size / 1e6
            print(f"{'csv import':10s} {s:8.3f} {log.n_messages / s:12,.0f}  ({size_mb:.0f} MB)")


if __name__ == "__main__":
    main()
