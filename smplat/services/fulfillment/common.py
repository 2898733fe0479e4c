"""What the rooms of the fulfilment package share: the job actors, the provider statuses
that are still open, the task kinds that submit an order, and the clock."""

from __future__ import annotations

from smplat.models.fulfillment import TaskKind
from smplat.models.providers import ProviderOrderStatus
from smplat.services.order_status import Actor

JOB_ACTOR = Actor.job("fulfillment")
SYNC_ACTOR = Actor.job("status_sync")
OPEN_PROVIDER_STATUSES = (ProviderOrderStatus.PENDING.value, ProviderOrderStatus.IN_PROGRESS.value,
                          ProviderOrderStatus.PROCESSING.value, ProviderOrderStatus.UNKNOWN.value)
SUBMITTING_KINDS = (TaskKind.SUBMIT.value, TaskKind.REPLAY.value)
