"""Who answers for a segment, and on what evidence.

AB, CD, EF, FG and GH have a fixed party (the policy's ``parties``). BC and DE are "decided by
the network state at the time" (interpretation in the domain notes): a recorded incident on the
segment's link that overlaps the segment puts it on the network; a healthy network puts it on
the receiving side (the policy's party for the segment).
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import NamedTuple

from contracts.network import Link, NetworkIncidentPayload
from domain.policy import DEFAULT_PARTIES, Responsible, Segment
from domain.timeline._format import at

NETWORK_LINK: dict[Segment, Link] = {
    Segment.BC: Link.CUSTOMER_SERVICE_TO_REPAIR_CENTER,
    Segment.DE: Link.REPAIR_CENTER_TO_CREW,
}
"""The segments decided by the network state, and the link that carries each."""

FIXED_PARTY: dict[Segment, Responsible] = {
    segment: party for segment, party in DEFAULT_PARTIES.items() if segment not in NETWORK_LINK
}
"""The default policy's fixed parties."""

NETWORK_DECIDED: dict[Segment, tuple[Link, Responsible]] = {
    segment: (link, DEFAULT_PARTIES[segment]) for segment, link in NETWORK_LINK.items()
}
"""The link that carries the segment, and who answers under the default policy when that link
was healthy."""

_DASH = "\N{EN DASH}"  # ISO times are full of hyphens; an en dash keeps the span readable


class Finding(NamedTuple):  # a tuple: decided for every span of every judgement, cheaply
    responsible: Responsible
    network_evidence: str | None
    """For BC and DE: the incidents that overlapped, or that the network was healthy."""


def decide(
    segment: Segment,
    start: datetime,
    until: datetime,
    incidents: Iterable[NetworkIncidentPayload],
    repair_center_id: str | None,
    parties: Mapping[Segment, Responsible] = DEFAULT_PARTIES,
) -> Finding:
    """The party for ``segment``, which covered the interval from ``start`` to ``until``.

    An incident counts when it is on the segment's link, overlaps the interval for some positive
    time (an open incident has no end) and is not scoped to another repair center than the one
    the order travelled to (``repair_center_id``; unknown means any). ``parties`` is the
    policy's: the fixed party, or for BC and DE who answers when the network was healthy.
    """
    link = NETWORK_LINK.get(segment)
    receiver = parties[segment]
    if link is None:
        return Finding(receiver, None)
    # A clock running behind can make `until` precede `start`; the interval is the same span.
    low, high = min(start, until), max(start, until)
    hits = sorted(
        {
            incident.incident_id
            for incident in incidents
            if incident.link == link
            and _concerns(incident, repair_center_id)
            and incident.started_at < high
            and (incident.ended_at is None or incident.ended_at > low)
        }
        if incidents  # the usual case: none recorded
        else ()
    )
    span = f"{at(low)}{_DASH}{at(high)}"
    if hits:
        return Finding(
            Responsible.NETWORK, f"network incident {', '.join(hits)} on {link} overlapped {span}"
        )
    return Finding(receiver, f"network healthy on {link} during the segment ({span})")


def _concerns(incident: NetworkIncidentPayload, repair_center_id: str | None) -> bool:
    return (
        incident.repair_center_id is None
        or repair_center_id is None
        or incident.repair_center_id == repair_center_id
    )
