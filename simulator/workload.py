"""A rate-limited OLTP workload on the CRM and BSS databases, for CDC demos, tests and benchmarks.

``python -m simulator.workload --rate 200 --duration 60``: new customers and accounts, orders
moving from pending payment to activated or cancelled, tickets moving through their stages,
plan changes, attribute edits and some deletes, at about ``--rate`` row changes per second.
Run it after the generator: it continues from the data already there.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg2

from core import pg_roles
from simulator.generator.catalogue import PRODUCTS, STATUS_CODES

OPS = {  # operation: weight
    "new_customer": 8,
    "new_order": 24,
    "advance_order": 24,
    "open_ticket": 8,
    "advance_ticket": 18,
    "change_plan": 8,
    "edit_customer": 5,
    "delete": 5,
}
TICKET_NEXT = {"open": "accepted", "checking": "answered", "answered": "resolved", "resolved": "closed"}


class WorkloadError(RuntimeError):
    pass


@dataclass
class Stats:
    changes: int = 0
    transactions: int = 0
    seconds: float = 0.0
    ops: Counter = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.changes / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        ops = ", ".join(f"{k} {v}" for k, v in sorted(self.ops.items()))
        return (
            f"workload: {self.changes} row changes in {self.transactions} transactions over "
            f"{self.seconds:.1f}s = {self.rate:.0f} changes/s ({ops})"
        )


class Workload:
    def __init__(self, seed: int = 1):
        self.rng = random.Random(seed)
        self.crm = psycopg2.connect(pg_roles.source_dsn("crm", "generator"))
        self.bss = psycopg2.connect(pg_roles.source_dsn("bss", "generator"))
        with self.crm.cursor() as c:
            c.execute(
                "select coalesce(max(customer_id), 0), (select coalesce(max(ticket_id), 0) from service_tickets) "
                "from customers"
            )
            self.next_customer, self.next_ticket = (v + 1 for v in c.fetchone())
            c.execute(
                "select ticket_id, category, status, customer_id from service_tickets where status not in ('closed') "
                "order by ticket_id desc limit 5000"
            )
            self.tickets = {r[0]: list(r[1:]) for r in c.fetchall()}
            c.execute("select customer_id from customers order by customer_id desc limit 5000")
            self.customer_ids = [r[0] for r in c.fetchall()]
        with self.bss.cursor() as c:
            c.execute("select coalesce(max(subscriber_id), 0) from subscribers")
            self.next_subscriber = c.fetchone()[0] + 1
            c.execute(
                "select subscriber_id, phone from subscribers where status = 'active' "
                "order by subscriber_id desc limit 5000"
            )
            rows = c.fetchall()
            self.subscriber_ids = [r[0] for r in rows]
            self.phones = [r[1] for r in rows]
            pending = [codes[0] for codes in STATUS_CODES.values()]
            c.execute(
                "select order_id, business_type from orders where status = any(%s) order by created_at desc limit 5000",
                (pending,),
            )
            self.pending_orders = dict(c.fetchall())
            c.execute(
                "select order_id from orders where status = any(%s) limit 5000",
                ([codes[2] for codes in STATUS_CODES.values()],),
            )
            self.cancelled_orders = [r[0] for r in c.fetchall()]
            today = datetime.now(UTC).strftime("%Y%m%d")
            c.execute(
                "select left(order_id, 3), max(right(order_id, 6)::int) from orders "
                "where substr(order_id, 4, 8) = %s group by 1",
                (today,),
            )
            self.serials = Counter(dict(c.fetchall()))
        if not self.phones or not self.customer_ids:
            raise WorkloadError(
                "the source databases are empty: run the generator first (python -m simulator.generator)"
            )

    def close(self):
        self.crm.close()
        self.bss.close()

    # Each operation runs on open cursors and returns the rows it changed.
    def new_customer(self, crm, bss) -> int:
        cid, sid = self.next_customer, self.next_subscriber
        self.next_customer += 1
        self.next_subscriber += 1
        phone = f"1{self.rng.choice([38, 39, 58, 86, 99])}{self.rng.randrange(10**8):08d}"
        gender = self.rng.choice(["M", "F"])
        crm.execute(
            "insert into customers values (%s, %s, %s, %s, %s, %s, %s, now(), now()) on conflict do nothing",
            (
                cid,
                phone,
                f"新用户{cid}",
                gender,
                f"{self.rng.randint(1950, 2006)}-0{self.rng.randint(1, 9)}-1{self.rng.randint(0, 9)}",
                "北京",
                self.rng.choice(["app", "store", "wechat"]),
            ),
        )
        bss.execute(
            "insert into subscribers (subscriber_id, phone, gender, plan_product_id, status, activated_at, updated_at) "
            "values (%s, %s, %s, %s, 'active', now(), now()) on conflict do nothing",
            (sid, phone, {"M": "1", "F": "2"}[gender], self.rng.choice([1, 2, 4, 5])),
        )
        self.customer_ids.append(cid)
        self.subscriber_ids.append(sid)
        self.phones.append(phone)
        return 2

    def new_order(self, crm, bss) -> int:
        pid = self.rng.randrange(len(PRODUCTS))
        code, _, _, btype, price, _ = PRODUCTS[pid]
        self.serials[btype] += 1
        oid = f"{btype}{datetime.now(UTC):%Y%m%d}{self.serials[btype]:06d}"
        bss.execute(
            "insert into orders values (%s, %s, %s, %s, %s, %s, %s, now(), null, null, now())",
            (
                oid,
                self.rng.choice(self.phones),
                pid + 1,
                btype,
                self.rng.choice(["app", "wechat", "mini_program", "store", "agent"]),
                price,
                STATUS_CODES[btype][0],
            ),
        )
        self.pending_orders[oid] = btype
        return 1

    def advance_order(self, crm, bss) -> int:
        if not self.pending_orders:
            return self.new_order(crm, bss)
        oid = self.rng.choice(list(self.pending_orders)[-200:])
        btype = self.pending_orders.pop(oid)
        if self.rng.random() < 0.85:
            bss.execute(
                "update orders set status = %s, paid_at = now(), activated_at = now(), updated_at = now() "
                "where order_id = %s",
                (STATUS_CODES[btype][1], oid),
            )
        else:
            bss.execute(
                "update orders set status = %s, updated_at = now() where order_id = %s", (STATUS_CODES[btype][2], oid)
            )
            self.cancelled_orders.append(oid)
        return bss.rowcount

    def open_ticket(self, crm, bss) -> int:
        tid = self.next_ticket
        self.next_ticket += 1
        cid = self.rng.choice(self.customer_ids)
        category = self.rng.choice(["network", "network", "billing", "service", "product"])
        crm.execute(
            "insert into service_tickets "
            "(ticket_id, customer_id, phone, category, channel, status, opened_at, updated_at) "
            "select %s, customer_id, phone, %s, 'hotline', 'open', now(), now() from customers where customer_id = %s",
            (tid, category, cid),
        )
        if crm.rowcount:
            self.tickets[tid] = [category, "open", cid]
        return crm.rowcount

    def advance_ticket(self, crm, bss) -> int:
        if not self.tickets:
            return self.open_ticket(crm, bss)
        tid = self.rng.choice(list(self.tickets)[-200:])
        category, status, _ = self.tickets[tid]
        nxt = (
            ("checking" if category == "network" else "answered")
            if status == "accepted"
            else TICKET_NEXT.get(status, "closed")
        )
        stamp = {
            "accepted": "accepted_at",
            "checking": "network_checked_at",
            "answered": "answered_at",
            "resolved": "resolved_at",
        }.get(nxt)
        sets = "status = %s, updated_at = now()" + (f", {stamp} = now()" if stamp else "")
        if nxt == "closed":
            sets += f", satisfaction_score = {self.rng.randint(1, 5)}"
        crm.execute(f"update service_tickets set {sets} where ticket_id = %s", (nxt, tid))
        if nxt == "closed":
            del self.tickets[tid]
        else:
            self.tickets[tid][1] = nxt
        return crm.rowcount

    def change_plan(self, crm, bss) -> int:
        bss.execute(
            "update subscribers set plan_product_id = %s, updated_at = now() where subscriber_id = %s",
            (self.rng.choice([1, 2, 3, 4, 5, 6, 7]), self.rng.choice(self.subscriber_ids)),
        )
        return bss.rowcount

    def edit_customer(self, crm, bss) -> int:
        crm.execute(
            "update customers set city = %s, updated_at = now() where customer_id = %s",
            (self.rng.choice(["北京", "上海", "广州", "深圳", "杭州", "成都"]), self.rng.choice(self.customer_ids)),
        )
        return crm.rowcount

    def delete(self, crm, bss) -> int:
        if self.cancelled_orders:
            bss.execute("delete from orders where order_id = %s", (self.cancelled_orders.pop(),))
            return bss.rowcount
        return 0

    def run(self, rate: float, duration_s: float | None = None, max_changes: int | None = None) -> Stats:
        """Commit small transactions so that row changes track ``rate`` per second."""
        stats = Stats()
        names, weights = zip(*OPS.items())
        per_tx = min(500, max(1, int(rate / 50)))  # ~50 commits a second, at most 500 changes each
        start = time.monotonic()
        while True:
            elapsed = time.monotonic() - start
            if (duration_s is not None and elapsed >= duration_s) or (
                max_changes is not None and stats.changes >= max_changes
            ):
                break
            ahead = stats.changes - rate * elapsed
            if ahead > 0:
                time.sleep(min(0.05, ahead / rate))
                continue
            with self.crm.cursor() as crm, self.bss.cursor() as bss:
                for op in self.rng.choices(names, weights, k=per_tx):
                    n = getattr(self, op)(crm, bss)
                    stats.changes += n
                    stats.ops[op] += n
            self.crm.commit()
            self.bss.commit()
            stats.transactions += 1
        stats.seconds = time.monotonic() - start
        return stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=100, help="row changes per second (default 100)")
    p.add_argument("--duration", type=float, default=60, help="seconds to run (default 60)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0:
        p.error("--rate and --duration must be positive")
    try:
        w = Workload(seed=args.seed)
    except (WorkloadError, psycopg2.OperationalError) as e:
        print(f"workload: {e}", file=sys.stderr)
        return 1
    try:
        stats = w.run(args.rate, duration_s=args.duration)
    finally:
        w.close()
    print(stats.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
