"""The timeline service's settings: the common ones and the recorded clock's tick."""

from pydantic import Field

from services.common.settings import ServiceSettings


class TimelineSettings(ServiceSettings):
    tick_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="How often a ClockTicked goes into every partition of the work-orders "
        "topic; a live breach shows within about this much (plus consumer lag) of its limit.",
    )
    ticks: bool = Field(
        default=True, description="Whether this instance sends ticks (a second one may too)."
    )
