"""Dispatch's own settings: the escalation ladder's delays and the capacity alert's window."""

from pydantic import Field

from domain.escalations import LadderPolicy
from services.common.runtime import Runtime
from services.common.settings import ServiceSettings


class DispatchSettings(ServiceSettings):
    escalation_not_received_after_s: float = Field(
        default=240.0, gt=0, description="Rule 1: issued (B) and not taken in (C) for this long."
    )
    escalation_not_taken_after_s: float = Field(
        default=240.0,
        gt=0,
        description="Rule 2: dispatched (D) and not taken (E, F) for this long.",
    )
    escalation_level2_after_s: float = Field(
        default=240.0, gt=0, description="Rule 2: level 2 this long after level 1 fell due."
    )
    escalation_poll_s: float = Field(
        default=1.0, gt=0, description="How often due escalations are looked for (a safety net)."
    )
    capacity_blocked_threshold: int = Field(
        default=3, gt=0, description="Rule 5: this many blocked orders of a group in the window."
    )
    capacity_window_s: float = Field(default=1800.0, gt=0, description="Rule 5's sliding window.")

    @property
    def ladder(self) -> LadderPolicy:
        return LadderPolicy(
            not_received_after_s=self.escalation_not_received_after_s,
            not_taken_after_s=self.escalation_not_taken_after_s,
            level2_after_s=self.escalation_level2_after_s,
        )


def dispatch_settings(runtime: Runtime) -> DispatchSettings:
    """The running dispatch service's own settings (its runtime holds them as the common kind)."""
    settings = runtime.settings
    if not isinstance(settings, DispatchSettings):
        raise TypeError(f"dispatch runs on DispatchSettings, not {type(settings).__name__}")
    return settings
