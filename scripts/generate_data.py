"""Write a realistic landing zone in the contract's layout, deterministically for a seed.

    python scripts/generate_data.py --out .bench/landing --days 10 --scale 1.0 [--seed 7]

Scale 1.0 is, per day: 1,000,000 app events, 100,000 CRM updates, 300,000 order updates and
50,000 ticket events. Each day holds updates of keys seen before, deletions (CRM), app and
ticket events that arrive up to `max_late_days` late, re-deliveries of earlier records, and
bad rows (unparseable timestamps, empty statuses, broken lines) at the given rates.
Also usable from Python: `generate(out, start, days, scale=..., seed=...)`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

PER_DAY_AT_SCALE_1 = {
    "app_events": 1_000_000,
    "crm_customer_updates": 100_000,
    "order_updates": 300_000,
    "ticket_events": 50_000,
}
EVENT_TYPES = ("view_product", "add_to_cart", "checkout", "search", "login")
TIERS = ("bronze", "silver", "gold", "platinum")
ORDER_STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled")
TICKET_STATUSES = ("opened", "pending", "resolved", "reopened", "closed")


@dataclass(frozen=True)
class Rates:
    update: float = 0.5  # share of CRM/order rows that update an existing key
    delete: float = 0.01  # share of CRM rows that delete the customer
    late: float = 0.05  # share of app events whose event date is before the ingest date
    late_tickets: float = 0.2  # tickets arrive late more often
    max_late_days: int = 3
    redelivery: float = 0.01  # share of rows that repeat a record already delivered
    bad: float = 0.001  # share of rows that break a rule


def _ts(day: date, rng: random.Random) -> str:
    moment = datetime(day.year, day.month, day.day) + timedelta(seconds=rng.randrange(86_400))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _event_day(day: date, rng: random.Random, late_share: float, max_late_days: int) -> date:
    """The ingest date, or for a late event (a `late_share` of them) up to N days before it."""
    late = rng.random() < late_share
    return day - timedelta(days=rng.randint(1, max_late_days) if late else 0)


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _folder(out: Path, source: str, day: date) -> Path:
    return out / source / f"ingest_date={day.isoformat()}"


def generate(
    out: Path,
    start: date,
    days: int,
    *,
    scale: float = 1.0,
    seed: int = 7,
    rates: Rates = Rates(),
) -> dict[str, int]:
    """Write `days` ingest dates from `start`; returns the rows written per source."""
    rng = random.Random(seed)
    counts = {name: max(1, int(n * scale)) for name, n in PER_DAY_AT_SCALE_1.items()}
    written = dict.fromkeys(counts, 0)
    customers = orders = 0
    next_event = next_ticket = 1
    previous_events: list[str] = []
    previous_tickets: list[str] = []
    for offset in range(days):
        day = start + timedelta(days=offset)

        lines = ["customer_id,full_name,email,tier,updated_at,is_deleted"]
        for _ in range(counts["crm_customer_updates"]):
            if customers and rng.random() < rates.update:
                cid = rng.randint(1, customers)
            else:
                customers += 1
                cid = customers
            deleted = "true" if rng.random() < rates.delete else "false"
            stamp = "not-a-date" if rng.random() < rates.bad else _ts(day, rng)
            tier = TIERS[cid % len(TIERS)] if rng.random() < 0.9 else rng.choice(TIERS)
            lines.append(f"{cid},Customer {cid},c{cid}@example.com,{tier},{stamp},{deleted}")
        _write(_folder(out, "crm_customer_updates", day) / "crm.csv", lines)

        lines = ["order_id,customer_id,order_total,status,updated_at"]
        for _ in range(counts["order_updates"]):
            if orders and rng.random() < rates.update:
                oid = rng.randint(max(1, orders - 5 * counts["order_updates"]), orders)
            else:
                orders += 1
                oid = orders
            total = f"{rng.randrange(100, 100_000) / 100:.2f}"
            if rng.random() < rates.bad:
                total = "-1.00"
            status = rng.choice(ORDER_STATUSES)
            lines.append(f"{oid},{oid % max(customers, 1) + 1},{total},{status},{_ts(day, rng)}")
        _write(_folder(out, "order_updates", day) / "orders.csv", lines)

        lines = []
        for _ in range(counts["app_events"]):
            if previous_events and rng.random() < rates.redelivery:
                lines.append(rng.choice(previous_events))
                continue
            event_day = _event_day(day, rng, rates.late, rates.max_late_days)
            event_type = "" if rng.random() < rates.bad else rng.choice(EVENT_TYPES)
            line = json.dumps(
                {
                    "event_id": next_event,
                    "customer_id": rng.randint(1, max(customers, 1)),
                    "event_type": event_type,
                    "event_ts": _ts(event_day, rng),
                }
            )
            next_event += 1
            lines.append(line)
            if rng.random() < 0.01:
                previous_events.append(line)
        if rates.bad:
            lines.append("{broken")
        _write(_folder(out, "app_events", day) / "events.jsonl", lines)

        lines = ["ticket_id,customer_id,status,event_ts,ingested_at"]
        for _ in range(counts["ticket_events"]):
            if previous_tickets and rng.random() < rates.redelivery:
                lines.append(rng.choice(previous_tickets))
                continue
            event_day = _event_day(day, rng, rates.late_tickets, rates.max_late_days)
            tid = rng.randint(1, next_ticket) if rng.random() < 0.5 else next_ticket
            next_ticket += tid == next_ticket
            status = "" if rng.random() < rates.bad else rng.choice(TICKET_STATUSES)
            line = f"{tid},{tid % max(customers, 1) + 1},{status},{_ts(event_day, rng)},{day} 23:00"
            lines.append(line)
            if rng.random() < 0.01:
                previous_tickets.append(line)
        _write(_folder(out, "ticket_events", day) / "tickets.csv", lines)
        for name, n in counts.items():
            written[name] += n
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 1, 1))
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.days < 1 or args.scale <= 0:
        print("generate_data.py: error: --days and --scale must be positive", file=sys.stderr)
        return 2
    written = generate(args.out, args.start, args.days, scale=args.scale, seed=args.seed)
    print(json.dumps(written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
