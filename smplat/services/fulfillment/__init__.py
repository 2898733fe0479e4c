"""Fulfilment, in rooms (see docs/architecture.md, "Fulfilment engine"):

- `engine`: claim tasks, route, write the intent, submit once, record the outcome,
  reconcile, retry with backoff, dead-letter (the `fulfillment` job: `run_fulfillment`);
- `status_sync`: poll provider orders and refills, move items and orders, apply the
  Partial policy (the `status_sync` job: `sync_statuses`);
- `operator_actions`: retry / cancel a dead letter, refill, replay, scheduled replays;
- `cancel`: cancel a running line at the provider (customer or operator);
- `read_models`: rows for the operator pages (dead letters, metrics);
- `common`: the job actors, open provider statuses and the clock the rooms share.

Callers import from the room; the main entry points are re-exported here.
"""

from smplat.services.fulfillment.engine import run_fulfillment
from smplat.services.fulfillment.operator_actions import (
    RefillRefused,
    TaskActionError,
    cancel_task,
    replay,
    request_refill,
    retry_task,
    schedule_replay,
)
from smplat.services.fulfillment.read_models import dead_letters, metrics
from smplat.services.fulfillment.status_sync import sync_statuses

__all__ = [
    "RefillRefused",
    "TaskActionError",
    "cancel_task",
    "dead_letters",
    "metrics",
    "replay",
    "request_refill",
    "retry_task",
    "run_fulfillment",
    "schedule_replay",
    "sync_statuses",
]
