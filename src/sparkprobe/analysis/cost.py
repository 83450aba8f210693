"""Money: the core and memory ledgers x the user's prices, never invented (docs/figures.md, "Cost").

Prices come from the app (``spark.sparkprobe.price.coreHour`` / ``.gibHour``) or, where it sets
none, from the agent's or ``analyze``'s ``--price-core-hour`` / ``--price-gib-hour``. Without a
price there is no money figure at all: :func:`cost_figures` returns None and advice keeps its
saving in core-hours and GiB-hours only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from sparkprobe.model import Advice, CoreFigures, CostFigures, IdleCause, MemoryFigures, WasteCause

__all__ = ["GIB", "cost_figures", "price_advice"]

GIB = float(1 << 30)


def _money(value: float) -> float:
    # Rounded to a millionth of the currency unit: exact enough for any bill, stable in the JSON.
    return round(value, 6)


def cost_figures(
    cores: CoreFigures, memory: MemoryFigures, price_core_hour: float | None, price_gib_hour: float | None
) -> CostFigures | None:
    """Cost and wasted cost by cause; None without any price.

    ``cores`` = allocated core-seconds / 3600 x the core-hour price; ``memory`` = allocated
    byte-seconds / 2^30 / 3600 x the GiB-hour price. Wasted: each idle cause's core-seconds
    (idle executor-seconds x cores) and byte-seconds (container x idle time) at those prices, and
    ``unused_while_busy``: cores left free and memory left unused (container - peak footprint)
    while tasks ran. Only the priced resources count.
    """
    if price_core_hour is None and price_gib_hour is None:
        return None
    core_price = (price_core_hour or 0.0) / 3600  # per core-second
    byte_price = (price_gib_hour or 0.0) / 3600 / GIB  # per byte-second
    by_resource: dict[str, float] = {}
    if price_core_hour is not None:
        by_resource["cores"] = _money(cores.allocated_core_seconds * core_price)
    if price_gib_hour is not None:
        by_resource["memory"] = _money(memory.allocated_byte_seconds * byte_price)
    wasted: dict[WasteCause, float] = {}
    idle_causes_core_s = 0.0
    for cause in IdleCause:
        core_s = cores.idle_core_seconds_by_cause.get(cause, 0.0)
        idle_causes_core_s += core_s
        wasted[WasteCause(cause.value)] = _money(
            core_s * core_price + memory.idle_by_cause_byte_seconds.get(cause, 0.0) * byte_price
        )
    free_cores_s = max(0.0, cores.idle_core_seconds - idle_causes_core_s)
    wasted[WasteCause.UNUSED_WHILE_BUSY] = _money(
        free_cores_s * core_price + (memory.unused_busy_byte_seconds or 0.0) * byte_price
    )
    return CostFigures(
        price_core_hour=price_core_hour,
        price_gib_hour=price_gib_hour,
        by_resource=by_resource,
        total=_money(sum(by_resource.values())),
        wasted_by_cause=wasted,
        wasted=_money(sum(wasted.values())),
    )


def price_advice(
    advice: Iterable[Advice], price_core_hour: float | None, price_gib_hour: float | None
) -> tuple[Advice, ...]:
    """The advice with ``saving["cost"]`` added (its core-hours and GiB-hours x the prices), if priced."""
    out = tuple(advice)
    if price_core_hour is None and price_gib_hour is None:
        return out
    priced = []
    for a in out:
        saving = dict(a.saving) if a.saving else {"core_hours": a.saving_core_hours}
        money = saving.get("core_hours", 0.0) * (price_core_hour or 0.0)
        money += saving.get("gib_hours", 0.0) * (price_gib_hour or 0.0)
        saving["cost"] = _money(money)
        priced.append(replace(a, saving=saving))
    return tuple(priced)
